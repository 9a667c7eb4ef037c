/*
 * avro_encode.c - Avro binary encoding of a tb_change envelope.
 *
 * Walks the tb_table directly (no avro-c, no per-field allocation): each
 * field reserves its worst-case room once, then writes through the inline
 * primitives of avro_binary.h. Layout: docs/avro.md and avro_schema.c.
 */
#include "tb_avro.h"

#include <string.h>

#include "avro_binary.h"

/* What every error message says about where the value came from. */
#define WHERE_FMT "avro encode %s.%s (position %s): "
#define WHERE(c)  (c)->table->name, col->name, pos_of(c)
#define NOMEM_MSG "avro encode: out of memory"

static const char *pos_of(const tb_change *c)
{
    return c->source.position ? c->source.position : "?";
}

/* A length-prefixed string or byte string. */
static int put_str(tb_buf *out, const char *s, size_t n)
{
    if (avro_room(out, AVRO_VARINT_MAX + n) < 0) return -1;
    avro_put_long(out, (int64_t)n);
    avro_put_raw(out, s, n);
    return 0;
}

static bool is_special(const char *s, uint32_t n)
{
    return (n == 3 && memcmp(s, "NaN", 3) == 0) ||
           (n == 8 && memcmp(s, "Infinity", 8) == 0) ||
           (n == 9 && memcmp(s, "-Infinity", 9) == 0);
}

/* MySQL SET "a,b,c" as an array of strings, one block. */
static int put_set(tb_buf *out, const char *s, uint32_t n)
{
    int64_t count = 0;
    if (n) {
        count = 1;
        for (uint32_t i = 0; i < n; i++)
            count += s[i] == ',';
    }
    if (avro_room(out, 2 * AVRO_VARINT_MAX + n +
                           (size_t)count * AVRO_VARINT_MAX) < 0)
        return -1;
    if (count) {
        avro_put_long(out, count);
        uint32_t start = 0;
        for (uint32_t i = 0; i <= n; i++) {
            if (i < n && s[i] != ',') continue;
            avro_put_long(out, (int64_t)(i - start));
            avro_put_raw(out, s + start, i - start);
            start = i + 1;
        }
    }
    avro_put_byte(out, 0); /* end of blocks */
    return 0;
}

/* Kinds whose value lives in u.s / len. */
static bool uses_text(tb_kind k)
{
    switch (k) {
    case TB_KIND_DECIMAL:
    case TB_KIND_STRING:
    case TB_KIND_BYTES:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
    case TB_KIND_SET:
        return true;
    default:
        return false;
    }
}

/* The zero value of col's base type: written for an UNCHANGED value of a
 * NOT NULL column (the `unchanged` list says it was not sent). */
static int put_zero(tb_buf *out, const tb_column *col)
{
    if (avro_room(out, 2 + 8) < 0) return -1;
    if (col->decimal_specials) avro_put_byte(out, 0); /* decimal branch */
    switch (col->kind) {
    case TB_KIND_FLOAT:
        avro_put_float(out, 0.0f);
        break;
    case TB_KIND_DOUBLE:
        avro_put_double(out, 0.0);
        break;
    case TB_KIND_DECIMAL: /* one byte 0x00: unscaled zero */
        avro_put_byte(out, 2);
        avro_put_byte(out, 0);
        break;
    default:
        avro_put_byte(out, 0); /* false, 0, "", empty array */
    }
    return 0;
}

static int put_value(const tb_change *c, const tb_column *col,
                     const tb_value *v, tb_buf *out, tb_error *err)
{
    if (v->state == TB_VALUE_NULL || v->state == TB_VALUE_UNCHANGED) {
        if (col->nullable) {
            /* Null branch; an UNCHANGED value is also listed in the
             * envelope's unchanged array. */
            if (avro_room(out, 1) < 0) goto nomem;
            avro_put_byte(out, 0);
            return 0;
        }
        if (v->state == TB_VALUE_NULL)
            return tb_error_set(err, TB_ERR_SCHEMA,
                                WHERE_FMT "NULL in a NOT NULL column",
                                WHERE(c));
        if (put_zero(out, col) < 0) goto nomem;
        return 0;
    }
    if (v->state != TB_VALUE_SET)
        return tb_error_set(err, TB_ERR_INTERNAL, WHERE_FMT "bad state %d",
                            WHERE(c), v->state);
    if (v->len && !v->u.s && uses_text(col->kind))
        return tb_error_set(err, TB_ERR_INTERNAL,
                            WHERE_FMT "NULL pointer with length %u", WHERE(c),
                            v->len);
    /* Union branch of the value: ["null", T] -> 1; specials add "string". */
    int branch = col->nullable ? 1 : 0;
    bool unioned = col->nullable || col->decimal_specials;
    if (avro_room(out, 1 + AVRO_VARINT_MAX + 8) < 0) goto nomem;
    switch (col->kind) {
    case TB_KIND_BOOLEAN:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        avro_put_byte(out, v->u.b ? 1 : 0);
        return 0;
    case TB_KIND_INT:
    case TB_KIND_DATE:
        if (v->u.i < INT32_MIN || v->u.i > INT32_MAX)
            return tb_error_set(err, TB_ERR_SCHEMA,
                                WHERE_FMT "%lld does not fit an Avro int",
                                WHERE(c), (long long)v->u.i);
        /* fall through */
    case TB_KIND_LONG:
    case TB_KIND_TIME_MICROS:
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
    case TB_KIND_DURATION_MICROS:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        avro_put_long(out, v->u.i);
        return 0;
    case TB_KIND_FLOAT:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        avro_put_float(out, (float)v->u.d);
        return 0;
    case TB_KIND_DOUBLE:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        avro_put_double(out, v->u.d);
        return 0;
    case TB_KIND_DECIMAL: {
        if (is_special(v->u.s, v->len)) {
            if (!col->decimal_specials)
                return tb_error_set(err, TB_ERR_SCHEMA,
                                    WHERE_FMT "%s in a decimal column "
                                              "without NaN/Infinity",
                                    WHERE(c), v->u.s);
            avro_put_byte(out, (uint8_t)((branch + 1) << 1));
            if (put_str(out, v->u.s, v->len) < 0) goto nomem;
            return 0;
        }
        uint8_t dec[TB_AVRO_DECIMAL_MAX_BYTES];
        size_t n;
        if (tb_avro_decimal_to_bytes(v->u.s, v->len, col->precision, col->scale,
                                     dec, sizeof dec, &n, err) < 0)
            return tb_error_prefix(err, WHERE_FMT, WHERE(c));
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        if (put_str(out, (const char *)dec, n) < 0) goto nomem;
        return 0;
    }
    case TB_KIND_STRING:
    case TB_KIND_BYTES:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        if (put_str(out, v->u.s, v->len) < 0) goto nomem;
        return 0;
    case TB_KIND_SET:
        if (unioned) avro_put_byte(out, (uint8_t)(branch << 1));
        if (put_set(out, v->u.s, v->len) < 0) goto nomem;
        return 0;
    default:
        break;
    }
    return tb_error_set(err, TB_ERR_INTERNAL, WHERE_FMT "unknown kind %d",
                        WHERE(c), (int)col->kind);
nomem:
    return tb_error_set(err, TB_ERR_NOMEM, NOMEM_MSG);
}

/* ["null", Value]: the record, or the null branch when vals is NULL. */
static int put_record(const tb_change *c, const tb_value *vals, tb_buf *out,
                      tb_error *err)
{
    if (avro_room(out, 1) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, NOMEM_MSG);
    avro_put_byte(out, vals ? 2 : 0);
    if (!vals) return 0;
    const tb_table *t = c->table;
    for (int i = 0; i < t->ncols; i++)
        if (put_value(c, &t->cols[i], &vals[i], out, err) < 0) return -1;
    return 0;
}

/* Array of the sanitised names of the UNCHANGED values of vals. */
static int put_unchanged(const tb_table *t, const tb_value *vals, tb_buf *out)
{
    int64_t n = 0;
    if (vals)
        for (int i = 0; i < t->ncols; i++)
            n += vals[i].state == TB_VALUE_UNCHANGED;
    if (avro_room(out, 2 * AVRO_VARINT_MAX) < 0) return -1;
    if (n) {
        avro_put_long(out, n);
        for (int i = 0; i < t->ncols; i++) {
            if (vals[i].state != TB_VALUE_UNCHANGED) continue;
            const char *name = t->cols[i].name;
            size_t len = name ? strlen(name) : 0;
            size_t m = avro_name_len(name, len);
            if (avro_room(out, AVRO_VARINT_MAX + m + 1) < 0) return -1;
            avro_put_long(out, (int64_t)m);
            avro_name_write((char *)out->data + out->len, name, len);
            out->len += m;
        }
    }
    avro_put_byte(out, 0);
    return 0;
}

static int put_cstr(tb_buf *out, const char *s)
{
    return put_str(out, s ? s : "", s ? strlen(s) : 0);
}

int tb_avro_encode_change(const tb_change *c, tb_buf *out, tb_error *err)
{
    const tb_table *t = c->table;
    const tb_source_info *s = &c->source;
    size_t start = out->len;
    char op = (char)c->op;
    if (!strchr("cudrt", op) || op == '\0') {
        tb_error_set(err, TB_ERR_INTERNAL, "avro encode %s: bad op %d", t->name,
                     (int)c->op);
        goto fail;
    }
    if (put_record(c, c->before, out, err) < 0 ||
        put_record(c, c->after, out, err) < 0)
        goto fail;
    if (put_cstr(out, s->connector) < 0 || put_cstr(out, s->name) < 0 ||
        put_cstr(out, s->db ? s->db : t->db) < 0 ||
        put_cstr(out, t->schema) < 0 || put_cstr(out, t->name) < 0 ||
        put_cstr(out, s->position) < 0 ||
        avro_room(out, 4 * AVRO_VARINT_MAX + 4) < 0)
        goto nomem;
    if (s->txid < 0) {
        avro_put_byte(out, 0);
    } else {
        avro_put_byte(out, 2);
        avro_put_long(out, s->txid);
    }
    avro_put_long(out, s->commit_us);
    avro_put_byte(out, s->snapshot ? 1 : 0);
    avro_put_byte(out, 2); /* op: a one-character string */
    avro_put_byte(out, (uint8_t)op);
    avro_put_long(out, c->ts_ms);
    if (put_unchanged(t, c->after, out) < 0 ||
        put_unchanged(t, c->before, out) < 0)
        goto nomem;
    out->data[out->len] = '\0';
    return 0;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, NOMEM_MSG);
fail:
    out->len = start;
    if (out->data) out->data[start] = '\0';
    return -1;
}
