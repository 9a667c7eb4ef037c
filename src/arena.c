/* arena.c - bump allocator, reset per batch. */
#include "tb_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tb_arena_chunk {
    tb_arena_chunk *next; /* older chunk */
    size_t size;          /* usable bytes in data */
    size_t used;          /* bytes handed out */
    _Alignas(16) unsigned char data[];
};

void tb_arena_init(tb_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->spare = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->used = 0;
}

static tb_arena_chunk *chunk_get(tb_arena *a, size_t n)
{
    /* Reuse a spare chunk when it is big enough; large requests get their
     * own chunk so one big value does not set the size of every chunk. */
    tb_arena_chunk **pp = &a->spare;
    while (*pp) {
        if ((*pp)->size >= n) {
            tb_arena_chunk *c = *pp;
            *pp = c->next;
            c->used = 0;
            return c;
        }
        pp = &(*pp)->next;
    }
    size_t size = n > a->chunk_size ? n : a->chunk_size;
    tb_arena_chunk *c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *tb_arena_alloc(tb_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0) n = 8;
    tb_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        c = chunk_get(a, n);
        if (!c) return NULL;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    return p;
}

char *tb_arena_strndup(tb_arena *a, const char *s, size_t n)
{
    char *p = tb_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void tb_arena_reset(tb_arena *a)
{
    while (a->head) {
        tb_arena_chunk *c = a->head;
        a->head = c->next;
        /* Keep at most a few spare chunks so one huge batch does not pin
         * its memory forever: large one-off chunks are released. */
        if (c->size > a->chunk_size * 4) {
            free(c);
            continue;
        }
        c->next = a->spare;
        a->spare = c;
    }
    a->used = 0;
}

void tb_arena_free(tb_arena *a)
{
    tb_arena_reset(a);
    while (a->spare) {
        tb_arena_chunk *c = a->spare;
        a->spare = c->next;
        free(c);
    }
}
