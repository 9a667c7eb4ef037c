/*
 * tb_arena.h - bump allocator for per-transaction / per-batch memory.
 *
 * Values decoded from a wire message (strings, bytes, decimal digits) live in
 * an arena owned by whoever decodes the batch; tb_arena_reset() frees them all
 * at once when the batch is committed, so the hot path never calls free() per
 * field. Chunks are kept across resets to avoid churn.
 */
#ifndef TB_ARENA_H
#define TB_ARENA_H

#include <stddef.h>

typedef struct tb_arena_chunk tb_arena_chunk;

typedef struct tb_arena {
    tb_arena_chunk *head;  /* chunk being filled */
    tb_arena_chunk *spare; /* chunks kept by reset for reuse */
    size_t chunk_size;     /* default size of a new chunk */
    size_t used;           /* bytes handed out since the last reset */
} tb_arena;

/* Initialise an empty arena; chunk_size 0 picks 64 KiB. Cannot fail. */
void tb_arena_init(tb_arena *a, size_t chunk_size);

/* Return n bytes aligned to 8, or NULL when out of memory. Owned by the arena.
 */
void *tb_arena_alloc(tb_arena *a, size_t n);

/* Copy n bytes into the arena and NUL-terminate the copy; NULL on OOM. */
char *tb_arena_strndup(tb_arena *a, const char *s, size_t n);

/* Forget every allocation but keep the memory for reuse. */
void tb_arena_reset(tb_arena *a);

/* Release all memory. The arena may be re-initialised afterwards. */
void tb_arena_free(tb_arena *a);

#endif
