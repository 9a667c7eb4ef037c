/* event.c - table shapes: construction, copy, comparison. */
#include "tb_event.h"

#include <stdlib.h>
#include <string.h>

const char *tb_kind_name(tb_kind k)
{
    static const char *const names[TB_KIND__COUNT] = {
        [TB_KIND_BOOLEAN] = "boolean",
        [TB_KIND_INT] = "int",
        [TB_KIND_LONG] = "long",
        [TB_KIND_FLOAT] = "float",
        [TB_KIND_DOUBLE] = "double",
        [TB_KIND_DECIMAL] = "decimal",
        [TB_KIND_STRING] = "string",
        [TB_KIND_BYTES] = "bytes",
        [TB_KIND_DATE] = "date",
        [TB_KIND_TIME_MICROS] = "time-micros",
        [TB_KIND_TIMESTAMP_MICROS] = "timestamp-micros",
        [TB_KIND_LOCAL_TIMESTAMP_MICROS] = "local-timestamp-micros",
        [TB_KIND_DURATION_MICROS] = "duration-micros",
        [TB_KIND_UUID] = "uuid",
        [TB_KIND_JSON] = "json",
        [TB_KIND_BITS] = "bits",
        [TB_KIND_SET] = "set",
    };
    if ((unsigned)k >= TB_KIND__COUNT) return "unknown";
    return names[k];
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

tb_table *tb_table_new(const char *db, const char *schema, const char *name,
                       int ncols)
{
    tb_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->db = dup_or_null(db);
    t->schema = dup_or_null(schema);
    t->name = dup_or_null(name);
    t->ncols = ncols;
    t->cols = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof *t->cols);
    t->schema_id = -1;
    t->version = -1;
    if ((db && !t->db) || (schema && !t->schema) || (name && !t->name) ||
        !t->cols) {
        tb_table_free(t);
        return NULL;
    }
    return t;
}

int tb_table_set_column(tb_table *t, int i, const char *name,
                        const char *source_type, const char *target_type,
                        tb_kind kind, int precision, int scale, bool nullable,
                        bool key)
{
    tb_column *c = &t->cols[i];
    free(c->name);
    free(c->source_type);
    free(c->target_type);
    c->name = dup_or_null(name);
    c->source_type = dup_or_null(source_type);
    c->target_type = dup_or_null(target_type);
    c->kind = kind;
    c->precision = precision;
    c->scale = scale;
    c->nullable = nullable;
    c->key = key;
    if ((name && !c->name) || (source_type && !c->source_type) ||
        (target_type && !c->target_type))
        return -1;
    return 0;
}

tb_table *tb_table_clone(const tb_table *src)
{
    tb_table *t = tb_table_new(src->db, src->schema, src->name, src->ncols);
    if (!t) return NULL;
    for (int i = 0; i < src->ncols; i++) {
        const tb_column *c = &src->cols[i];
        if (tb_table_set_column(t, i, c->name, c->source_type, c->target_type,
                                c->kind, c->precision, c->scale, c->nullable,
                                c->key) < 0) {
            tb_table_free(t);
            return NULL;
        }
        t->cols[i].decimal_specials = c->decimal_specials;
        t->cols[i].type_id = c->type_id;
        t->cols[i].type_mod = c->type_mod;
    }
    t->source_id = src->source_id;
    t->schema_id = src->schema_id;
    t->version = src->version;
    return t;
}

void tb_table_free(tb_table *t)
{
    if (!t) return;
    for (int i = 0; i < t->ncols && t->cols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].source_type);
        free(t->cols[i].target_type);
    }
    free(t->cols);
    free(t->db);
    free(t->schema);
    free(t->name);
    free(t);
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

bool tb_table_same_shape(const tb_table *a, const tb_table *b)
{
    if (a->ncols != b->ncols) return false;
    for (int i = 0; i < a->ncols; i++) {
        const tb_column *x = &a->cols[i], *y = &b->cols[i];
        if (!str_eq(x->name, y->name) ||
            !str_eq(x->source_type, y->source_type) || x->kind != y->kind ||
            x->precision != y->precision || x->scale != y->scale ||
            x->nullable != y->nullable || x->key != y->key ||
            x->decimal_specials != y->decimal_specials)
            return false;
    }
    return true;
}

int tb_table_nkeys(const tb_table *t)
{
    int n = 0;
    for (int i = 0; i < t->ncols; i++)
        n += t->cols[i].key;
    return n;
}

void tb_change_init_read(tb_change *c, const tb_table *t, const tb_value *after,
                         const char *connector, const char *name,
                         const char *db, const char *position,
                         int64_t commit_us)
{
    memset(c, 0, sizeof *c);
    c->op = TB_OP_READ;
    c->table = t;
    c->after = after;
    c->source.connector = connector;
    c->source.name = name;
    c->source.db = db;
    c->source.position = position;
    c->source.txid = -1;
    c->source.commit_us = commit_us;
    c->source.snapshot = true;
    c->ts_ms = commit_us / 1000;
}

int tb_rowbuf_reserve(tb_rowbuf *b, int n)
{
    if (n <= b->cap) return 0;
    tb_value *before = realloc(b->before, (size_t)n * sizeof *before);
    if (!before) return -1;
    b->before = before;
    tb_value *after = realloc(b->after, (size_t)n * sizeof *after);
    if (!after) return -1;
    b->after = after;
    b->cap = n;
    return 0;
}

void tb_rowbuf_free(tb_rowbuf *b)
{
    free(b->before);
    free(b->after);
    b->before = b->after = NULL;
    b->cap = 0;
}

int tb_shapes_keep(tb_shapes *s, tb_table *t)
{
    if (!t) return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        tb_table **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            tb_table_free(t);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = t;
    return 0;
}

void tb_shapes_free(tb_shapes *s)
{
    for (int i = 0; i < s->n; i++)
        tb_table_free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}
