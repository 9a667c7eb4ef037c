/*
 * avro_binary.h - Avro binary primitives shared by src/avro_*.c (internal).
 *
 * Zig-zag varints, little-endian IEEE floats and length-prefixed bytes, as
 * in the Avro 1.11 specification ("Binary Encoding"). Writers append to a
 * tb_buf whose room the caller reserved; readers never step past r->end and
 * report the byte offset of what they could not read.
 */
#ifndef TB_AVRO_BINARY_H
#define TB_AVRO_BINARY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tb_buf.h"
#include "tb_error.h"

/* Longest varint of a 64-bit value. */
#define AVRO_VARINT_MAX 10

/* A read cursor over one message. */
typedef struct avro_rd {
    const uint8_t *base; /* start of the message, for offsets in errors */
    const uint8_t *p;    /* next byte to read */
    const uint8_t *end;  /* one past the last byte */
    tb_error *err;       /* where failures are reported */
} avro_rd;

/* Make room for n more bytes in b (plus tb_buf's NUL); -1 on OOM. */
static inline int avro_room(tb_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return 0;
    return tb_buf_reserve(b, n);
}

/* Append the zig-zag varint of n; needs AVRO_VARINT_MAX bytes of room. */
static inline void avro_put_long(tb_buf *b, int64_t n)
{
    /* Shifts done on uint64_t: portable, no signed overflow. */
    uint64_t z = ((uint64_t)n << 1) ^ (0 - ((uint64_t)n >> 63));
    uint8_t *p = b->data + b->len;
    while (z > 0x7f) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    b->len = (size_t)(p - b->data);
}

/* Append raw bytes; needs n bytes of room. */
static inline void avro_put_raw(tb_buf *b, const void *s, size_t n)
{
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Append one byte; needs 1 byte of room. */
static inline void avro_put_byte(tb_buf *b, uint8_t c)
{
    b->data[b->len++] = c;
}

/* Append an IEEE double, little-endian; needs 8 bytes of room. */
static inline void avro_put_double(tb_buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        b->data[b->len + i] = (uint8_t)(u >> (8 * i));
    b->len += 8;
}

/* Append an IEEE float, little-endian; needs 4 bytes of room. */
static inline void avro_put_float(tb_buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        b->data[b->len + i] = (uint8_t)(u >> (8 * i));
    b->len += 4;
}

/* Report a read that ran past the end, at the current offset. */
int avro_rd_truncated(avro_rd *r, const char *what);

/* Report corrupt data at offset off (relative to r->base). */
int avro_rd_corrupt(avro_rd *r, const uint8_t *at, const char *what);

/* Always -1, visibly to the optimiser: an error path then provably leaves
 * outputs unwritten only where callers check the result. */
static inline int avro_failed(int rc)
{
    (void)rc;
    return -1;
}

/* Read a zig-zag varint long. */
static inline int avro_get_long(avro_rd *r, int64_t *out)
{
    const uint8_t *p = r->p;
    uint64_t v = 0;
    for (int i = 0; i < AVRO_VARINT_MAX; i++) {
        if (p >= r->end) return avro_failed(avro_rd_truncated(r, "varint"));
        uint8_t c = *p++;
        /* The 10th byte may only carry bit 63. */
        if (i == AVRO_VARINT_MAX - 1 && c > 1)
            return avro_failed(
                avro_rd_corrupt(r, r->p, "varint longer than 64 bits"));
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            r->p = p;
            *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
            return 0;
        }
    }
    return avro_failed(avro_rd_corrupt(r, r->p, "varint longer than 64 bits"));
}

/* Read a varint that must fit an Avro int (32 bits). */
static inline int avro_get_int(avro_rd *r, int32_t *out)
{
    const uint8_t *at = r->p;
    int64_t v;
    if (avro_get_long(r, &v) < 0) return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return avro_failed(avro_rd_corrupt(r, at, "int out of 32-bit range"));
    *out = (int32_t)v;
    return 0;
}

/* Read a length prefix; *s points at the n bytes after it (not copied). */
static inline int avro_get_bytes(avro_rd *r, const uint8_t **s, size_t *n)
{
    const uint8_t *at = r->p;
    int64_t len;
    if (avro_get_long(r, &len) < 0) return -1;
    if (len < 0) return avro_failed(avro_rd_corrupt(r, at, "negative length"));
    if ((uint64_t)len > (uint64_t)(r->end - r->p))
        return avro_failed(avro_rd_truncated(r, "bytes"));
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

/* Read a boolean byte (0 or 1). */
static inline int avro_get_bool(avro_rd *r, bool *out)
{
    if (r->p >= r->end) return avro_failed(avro_rd_truncated(r, "boolean"));
    if (*r->p > 1)
        return avro_failed(avro_rd_corrupt(r, r->p, "boolean not 0 or 1"));
    *out = *r->p++ == 1;
    return 0;
}

/* Read an IEEE double, little-endian. */
static inline int avro_get_double(avro_rd *r, double *out)
{
    if (r->end - r->p < 8) return avro_failed(avro_rd_truncated(r, "double"));
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    memcpy(out, &u, 8);
    r->p += 8;
    return 0;
}

/* Read an IEEE float, little-endian. */
static inline int avro_get_float(avro_rd *r, float *out)
{
    if (r->end - r->p < 4) return avro_failed(avro_rd_truncated(r, "float"));
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)r->p[i] << (8 * i);
    memcpy(out, &u, 4);
    r->p += 4;
    return 0;
}

/* Read a union branch index in [0, nbranches). */
static inline int avro_get_branch(avro_rd *r, int nbranches, int *out)
{
    const uint8_t *at = r->p;
    int64_t v;
    if (avro_get_long(r, &v) < 0) return -1;
    if (v < 0 || v >= nbranches)
        return avro_failed(avro_rd_corrupt(r, at, "union branch out of range"));
    *out = (int)v;
    return 0;
}

/* Avro names are [A-Za-z_][A-Za-z0-9_]*: every other byte becomes '_', a
 * leading digit gets a '_' prefix and an empty name becomes "_". The mapping
 * is byte for byte, so its length is known without building it. */
static inline bool avro_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Length of the sanitised form of name (NULL counts as empty). */
static inline size_t avro_name_len(const char *name, size_t n)
{
    if (!name || n == 0) return 1;
    return n + (name[0] >= '0' && name[0] <= '9');
}

/* Write the sanitised form of name[0..n) to dst (avro_name_len bytes, no
 * NUL). */
static inline void avro_name_write(char *dst, const char *name, size_t n)
{
    if (!name || n == 0) {
        dst[0] = '_';
        return;
    }
    if (name[0] >= '0' && name[0] <= '9') *dst++ = '_';
    for (size_t i = 0; i < n; i++)
        dst[i] = avro_name_char((unsigned char)name[i]) ? name[i] : '_';
}

/* Whether s[0..n) is the sanitised form of name. */
static inline bool avro_name_eq(const char *name, const uint8_t *s, size_t n)
{
    size_t len = name ? strlen(name) : 0;
    if (avro_name_len(name, len) != n) return false;
    if (len == 0) return s[0] == '_';
    if (n != len) { /* '_' prefix of a leading digit */
        if (s[0] != '_') return false;
        s++;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (s[i] != (avro_name_char(c) ? c : '_')) return false;
    }
    return true;
}

/* Forward declaration: tb_arena is only passed through. */
struct tb_arena;

/* Decimal bytes at `scale` to text with scale + pad fraction digits (pad
 * zeros appended: a reader with a larger scale). See
 * tb_avro_decimal_from_bytes. */
int avro_decimal_text(const uint8_t *b, size_t n, int scale, int pad,
                      struct tb_arena *arena, const char **text,
                      uint32_t *textlen, tb_error *err);

#endif
