/*
 * avro_decode.c - Avro binary decoding of a tb_change envelope.
 *
 * Reads what avro_encode.c writes, column by column of the writer's table,
 * optionally through a resolution plan (avro_resolve.h) into a newer reader
 * shape. Every read is bounds-checked by avro_binary.h; errors carry the
 * byte offset. Strings are copied into the caller's arena (NUL-terminated).
 */
#include "tb_avro.h"

#include <string.h>

#include "avro_binary.h"
#include "avro_resolve.h"

#define NOMEM_MSG "avro decode: out of memory"

/* Copy s[0..n) into the arena as a NUL-terminated string. */
static int copy_str(avro_rd *r, tb_arena *a, const uint8_t *s, size_t n,
                    tb_value *v)
{
    if (n > UINT32_MAX)
        return avro_failed(avro_rd_corrupt(r, s, "string over 4 GiB"));
    char *p = tb_arena_strndup(a, (const char *)s, n);
    if (!p) return avro_failed(tb_error_set(r->err, TB_ERR_NOMEM, NOMEM_MSG));
    v->u.s = p;
    v->len = (uint32_t)n;
    return 0;
}

/* Read an array-of-strings header: next block count (abs), handling the
 * negative-count form that is followed by a byte size. */
static int get_block(avro_rd *r, int64_t *count)
{
    const uint8_t *at = r->p;
    int64_t n, size;
    if (avro_get_long(r, &n) < 0) return -1;
    if (n < 0) {
        if (n == INT64_MIN)
            return avro_failed(avro_rd_corrupt(r, at, "block count"));
        n = -n;
        if (avro_get_long(r, &size) < 0) return -1;
        if (size < 0)
            return avro_failed(avro_rd_corrupt(r, at, "negative block size"));
    }
    /* Every item takes at least one byte: cheap bound against huge counts. */
    if ((uint64_t)n > (uint64_t)(r->end - r->p))
        return avro_failed(avro_rd_truncated(r, "array block"));
    *count = n;
    return 0;
}

/* A SET: array of strings, joined with ',' into the arena (arena NULL:
 * skip). Two passes: measure, then copy. */
static int get_set(avro_rd *r, tb_arena *a, tb_value *v)
{
    const uint8_t *start = r->p, *s;
    size_t total = 0, n;
    int64_t items = 0, count;
    for (;;) {
        if (get_block(r, &count) < 0) return -1;
        if (count == 0) break;
        for (int64_t k = 0; k < count; k++) {
            if (avro_get_bytes(r, &s, &n) < 0) return -1;
            total += n;
        }
        items += count;
    }
    if (!a) return 0;
    if (items > 1) total += (size_t)(items - 1); /* separators */
    if (total > UINT32_MAX)
        return avro_failed(avro_rd_corrupt(r, start, "set too long"));
    char *o = tb_arena_alloc(a, total + 1), *p = o;
    if (!o) return tb_error_set(r->err, TB_ERR_NOMEM, NOMEM_MSG);
    const uint8_t *end = r->p;
    r->p = start;
    for (int64_t k = 0;;) {
        /* Already validated by the first pass: cannot fail. */
        if (get_block(r, &count) < 0) return -1;
        if (count == 0) break;
        for (int64_t j = 0; j < count; j++, k++) {
            if (avro_get_bytes(r, &s, &n) < 0) return -1;
            if (k) *p++ = ',';
            memcpy(p, s, n);
            p += n;
        }
    }
    r->p = end;
    *p = '\0';
    v->u.s = o;
    v->len = (uint32_t)total;
    return 0;
}

static bool is_special(const char *s, size_t n)
{
    return (n == 3 && memcmp(s, "NaN", 3) == 0) ||
           (n == 8 && memcmp(s, "Infinity", 8) == 0) ||
           (n == 9 && memcmp(s, "-Infinity", 9) == 0);
}

/* Read one value of writer column col into v. arena NULL: skip it (the
 * reader does not have the column). pad: decimal scale increase. */
static int get_value(avro_rd *r, const tb_column *col, tb_value *v, tb_arena *a,
                     int pad)
{
    const uint8_t *at = r->p, *s;
    size_t n;
    int branch = 0;
    v->state = TB_VALUE_SET;
    v->len = 0;
    v->u.i = 0;
    if (col->nullable || col->decimal_specials) {
        int nb = 1 + col->nullable + col->decimal_specials;
        if (avro_get_branch(r, nb, &branch) < 0) return -1;
        if (col->nullable) {
            if (branch == 0) {
                v->state = TB_VALUE_NULL;
                return 0;
            }
            branch--;
        }
    }
    switch (col->kind) {
    case TB_KIND_BOOLEAN:
        return avro_get_bool(r, &v->u.b);
    case TB_KIND_INT:
    case TB_KIND_DATE: {
        int32_t x;
        if (avro_get_int(r, &x) < 0) return -1;
        v->u.i = x;
        return 0;
    }
    case TB_KIND_LONG:
    case TB_KIND_TIME_MICROS:
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
    case TB_KIND_DURATION_MICROS:
        return avro_get_long(r, &v->u.i);
    case TB_KIND_FLOAT: {
        float f;
        if (avro_get_float(r, &f) < 0) return -1;
        v->u.d = f;
        return 0;
    }
    case TB_KIND_DOUBLE:
        return avro_get_double(r, &v->u.d);
    case TB_KIND_DECIMAL:
        if (avro_get_bytes(r, &s, &n) < 0) return -1;
        if (branch == 1) { /* NaN / Infinity / -Infinity */
            if (!is_special((const char *)s, n))
                return avro_failed(
                    avro_rd_corrupt(r, at, "bad special decimal"));
            return a ? copy_str(r, a, s, n, v) : 0;
        }
        if (!a) return 0;
        if (avro_decimal_text(s, n, col->scale, pad, a, &v->u.s, &v->len,
                              r->err) < 0)
            return tb_error_prefix(r->err,
                                   "avro decode: column %s at byte offset %zu",
                                   col->name, (size_t)(at - r->base));
        return 0;
    case TB_KIND_STRING:
    case TB_KIND_BYTES:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
        if (avro_get_bytes(r, &s, &n) < 0) return -1;
        return a ? copy_str(r, a, s, n, v) : 0;
    case TB_KIND_SET:
        return get_set(r, a, v);
    default:
        break;
    }
    return tb_error_set(r->err, TB_ERR_INTERNAL,
                        "avro decode: column %s: unknown kind %d", col->name,
                        (int)col->kind);
}

/* Turn a decoded writer value into the reader's representation. */
static int convert(avro_rd *r, const avro_colplan *p, const tb_column *rc,
                   tb_value *v)
{
    if (v->state != TB_VALUE_SET) return 0;
    if (p->conv == AVRO_CONV_INT_TO_REAL) v->u.d = (double)v->u.i;
    /* A long read as float keeps float precision, as Avro readers do. */
    if (rc->kind == TB_KIND_FLOAT) v->u.d = (float)v->u.d;
    if (rc->kind == TB_KIND_DECIMAL && !rc->decimal_specials &&
        is_special(v->u.s, v->len))
        return tb_error_set(r->err, TB_ERR_SCHEMA,
                            "avro decode: column %s: %s cannot be read into "
                            "a decimal without NaN/Infinity",
                            rc->name, v->u.s);
    return 0;
}

/* The Value record: writer columns in order, through plan p (NULL: same
 * shape, vals indexed like the writer). */
static int get_record(avro_rd *r, const tb_table *w, const tb_avro_resolver *p,
                      tb_value *vals, tb_arena *a)
{
    if (!p) {
        for (int i = 0; i < w->ncols; i++)
            if (get_value(r, &w->cols[i], &vals[i], a, 0) < 0) return -1;
        return 0;
    }
    for (int i = 0; i < p->reader->ncols; i++) {
        vals[i].state = TB_VALUE_NULL; /* columns the writer lacks */
        vals[i].len = 0;
        vals[i].u.i = 0;
    }
    for (int i = 0; i < w->ncols; i++) {
        const avro_colplan *cp = &p->cols[i];
        tb_value skip;
        if (cp->reader < 0) {
            if (get_value(r, &w->cols[i], &skip, NULL, 0) < 0) return -1;
            continue;
        }
        tb_value *v = &vals[cp->reader];
        if (get_value(r, &w->cols[i], v, a, cp->pad) < 0 ||
            convert(r, cp, &p->reader->cols[cp->reader], v) < 0)
            return -1;
    }
    return 0;
}

/* ["null", Value] into storage; *out is storage or NULL. */
static int get_row(avro_rd *r, const tb_table *w, const tb_avro_resolver *p,
                   tb_value *storage, const tb_value **out, tb_arena *a)
{
    int b;
    if (avro_get_branch(r, 2, &b) < 0) return -1;
    *out = NULL;
    if (b == 0) return 0;
    if (get_record(r, w, p, storage, a) < 0) return -1;
    *out = storage;
    return 0;
}

/* A source-block string, copied (NULL arena never happens here). */
static int get_cstr(avro_rd *r, tb_arena *a, const char **out)
{
    const uint8_t *s;
    size_t n;
    tb_value v;
    if (avro_get_bytes(r, &s, &n) < 0 || copy_str(r, a, s, n, &v) < 0)
        return -1;
    *out = v.u.s;
    return 0;
}

/* The unchanged list of one row: mark those values TB_VALUE_UNCHANGED. */
static int get_unchanged(avro_rd *r, const tb_table *w,
                         const tb_avro_resolver *p, tb_value *vals,
                         const tb_value *row)
{
    int64_t count;
    for (;;) {
        if (get_block(r, &count) < 0) return -1;
        if (count == 0) return 0;
        for (int64_t k = 0; k < count; k++) {
            const uint8_t *at = r->p, *s;
            size_t n;
            int i = 0;
            if (avro_get_bytes(r, &s, &n) < 0) return -1;
            if (!row)
                return avro_failed(
                    avro_rd_corrupt(r, at, "unchanged without row"));
            while (i < w->ncols && !avro_name_eq(w->cols[i].name, s, n))
                i++;
            if (i == w->ncols)
                return avro_failed(
                    avro_rd_corrupt(r, at, "unchanged names no column"));
            int ri = p ? p->cols[i].reader : i;
            if (ri < 0) continue; /* the reader dropped the column */
            vals[ri].state = TB_VALUE_UNCHANGED;
            vals[ri].len = 0;
            vals[ri].u.i = 0;
        }
    }
}

/* A reader NOT NULL column may not end up NULL (only possible through a
 * plan: nullable writer column, or a column the writer lacks). */
static int check_nulls(avro_rd *r, const tb_table *t, const tb_value *row)
{
    if (!row) return 0;
    for (int i = 0; i < t->ncols; i++)
        if (!t->cols[i].nullable && row[i].state == TB_VALUE_NULL)
            return tb_error_set(r->err, TB_ERR_SCHEMA,
                                "avro decode: NULL for NOT NULL column %s.%s",
                                t->name, t->cols[i].name);
    return 0;
}

static int decode(const tb_table *w, const tb_avro_resolver *p,
                  const uint8_t *data, size_t len, tb_change *out,
                  tb_value *before_storage, tb_value *after_storage,
                  tb_arena *a, tb_error *err)
{
    avro_rd r = {data, data, data + len, err};
    tb_source_info *s = &out->source;
    const uint8_t *at;
    int b;
    memset(out, 0, sizeof *out);
    out->table = p ? p->reader : w;
    if (get_row(&r, w, p, before_storage, &out->before, a) < 0 ||
        get_row(&r, w, p, after_storage, &out->after, a) < 0)
        return -1;
    if (get_cstr(&r, a, &s->connector) < 0 || get_cstr(&r, a, &s->name) < 0 ||
        get_cstr(&r, a, &s->db) < 0)
        return -1;
    /* schema and table repeat the table shape: validated as strings only */
    const uint8_t *ss;
    size_t sn;
    if (avro_get_bytes(&r, &ss, &sn) < 0 || avro_get_bytes(&r, &ss, &sn) < 0)
        return -1;
    if (get_cstr(&r, a, &s->position) < 0 || avro_get_branch(&r, 2, &b) < 0)
        return -1;
    s->txid = -1;
    if (b == 1 && avro_get_long(&r, &s->txid) < 0) return -1;
    if (avro_get_long(&r, &s->commit_us) < 0 ||
        avro_get_bool(&r, &s->snapshot) < 0)
        return -1;
    at = r.p;
    if (avro_get_bytes(&r, &ss, &sn) < 0) return -1;
    if (sn != 1 || !memchr("cudrt", ss[0], 5))
        return avro_failed(avro_rd_corrupt(&r, at, "bad op"));
    out->op = (tb_op)ss[0];
    if (avro_get_long(&r, &out->ts_ms) < 0 ||
        get_unchanged(&r, w, p, after_storage, out->after) < 0 ||
        get_unchanged(&r, w, p, before_storage, out->before) < 0)
        return -1;
    if (r.p != r.end)
        return avro_failed(avro_rd_corrupt(&r, r.p, "trailing bytes"));
    if (p && (check_nulls(&r, p->reader, out->before) < 0 ||
              check_nulls(&r, p->reader, out->after) < 0))
        return -1;
    return 0;
}

int tb_avro_decode_change(const tb_table *t, const uint8_t *data, size_t len,
                          tb_change *out, tb_value *before_storage,
                          tb_value *after_storage, tb_arena *arena,
                          tb_error *err)
{
    return decode(t, NULL, data, len, out, before_storage, after_storage, arena,
                  err);
}

int tb_avro_decode_change_resolved(const tb_avro_resolver *r,
                                   const uint8_t *data, size_t len,
                                   tb_change *out, tb_value *before_storage,
                                   tb_value *after_storage, tb_arena *arena,
                                   tb_error *err)
{
    return decode(r->writer, r, data, len, out, before_storage, after_storage,
                  arena, err);
}
