/*
 * tb_buf.h - growable byte buffer.
 *
 * Used for wire messages, Avro bodies and SQL text. The buffer owns its
 * memory; tb_buf_reset() keeps the capacity so a hot loop reuses it.
 */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb_buf {
    uint8_t *data; /* owned; NULL while cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} tb_buf;

#define TB_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

/* Make room for at least extra more bytes; -1 on OOM (buffer unchanged). */
int tb_buf_reserve(tb_buf *b, size_t extra);

/* Append n bytes; -1 on OOM. */
int tb_buf_append(tb_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string (without its NUL); -1 on OOM. */
int tb_buf_puts(tb_buf *b, const char *s);

/* Append printf-formatted text (no NUL counted in len, but one is kept after
 * the data so b->data can be used as a C string); -1 on OOM. */
int tb_buf_printf(tb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget the contents, keep the memory. */
static inline void tb_buf_reset(tb_buf *b)
{
    b->len = 0;
}

/* Release the memory; the buffer is empty and reusable afterwards. */
void tb_buf_free(tb_buf *b);

#endif
