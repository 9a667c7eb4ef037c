/*
 * my_rows.c - MySQL/MariaDB values -> tb_value, for the kind my_types chose.
 *
 * Two inputs: values decoded from binlog row images (binlog.h) while
 * streaming, and text-protocol values of the snapshot's SELECT (read on a
 * utf8mb4 connection with time_zone '+00:00'). Both end in the same
 * representation, so a row copied by the snapshot and the same row seen in
 * the binlog produce equal events.
 *
 * Zero dates ('0000-00-00', '2024-00-10') have no Avro representation:
 * under source.zero_dates = "null" they become NULL and are counted (and
 * logged once per column); under "error" the source stops with a message
 * naming the table, column, position and setting. Never 1970-01-01.
 *
 * GEOMETRY: MySQL stores a 4-byte little-endian SRID before the WKB; we
 * emit the WKB alone (standard, readable by PostGIS ST_GeomFromWKB) and
 * drop the SRID, which MariaDB does not enforce anyway (docs/mysql.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_source_int.h"
#include "tb_log.h"

#define US_PER_SEC  1000000LL
#define SRID_PREFIX 4

int64_t tb_myrow_days(int64_t y, unsigned m, unsigned d)
{
    /* Days from civil (proleptic Gregorian), era-based so no table and no
     * time zone is involved. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tb_myrow_ctx_free(tb_myrow_ctx *cx)
{
    for (int i = 0; i < cx->nwarned; i++)
        free(cx->warned[i]);
    free(cx->warned);
    cx->warned = NULL;
    cx->nwarned = cx->capwarned = 0;
}

/* A zero date in column i: NULL (counted, warned once) or an error. */
static int zero_date(tb_myrow_ctx *cx, const tb_table *t, int i,
                     const char *shown, tb_value *out, tb_error *err)
{
    const char *col = t->cols[i].name;
    if (cx->zero_error)
        return tb_error_set(err, TB_ERR_DECODE,
                            "zero date '%s' in %s.%s column %s at %s: "
                            "source.zero_dates is \"error\" (set it to "
                            "\"null\" to replicate zero dates as NULL, or fix "
                            "the row)",
                            shown, t->db, t->name, col,
                            cx->position ? cx->position : "(snapshot)");
    out->state = TB_VALUE_NULL;
    out->len = 0;
    out->u.i = 0;
    cx->zero_count++;
    char key[512];
    snprintf(key, sizeof key, "%s.%s.%s", t->db, t->name, col);
    for (int k = 0; k < cx->nwarned; k++)
        if (strcmp(cx->warned[k], key) == 0) return 0;
    if (cx->nwarned == cx->capwarned) {
        int cap = cx->capwarned ? cx->capwarned * 2 : 8;
        char **w = realloc(cx->warned, (size_t)cap * sizeof *w);
        if (!w) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        cx->warned = w;
        cx->capwarned = cap;
    }
    if (!(cx->warned[cx->nwarned] = strdup(key)))
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    cx->nwarned++;
    tb_log_warn("zero date '%s' in %s.%s column %s at %s replicated as NULL "
                "(source.zero_dates=null; further ones in this column are "
                "only counted)",
                shown, t->db, t->name, col,
                cx->position ? cx->position : "(snapshot)");
    return 0;
}

static int mismatch(const tb_table *t, int i, const char *what, tb_error *err)
{
    return tb_error_set(err, TB_ERR_DECODE,
                        "%s.%s column %s (%s, kind %s): unexpected %s value",
                        t->db, t->name, t->cols[i].name, t->cols[i].source_type,
                        tb_kind_name(t->cols[i].kind), what);
}

static int set_text(tb_myrow_ctx *cx, const char *s, size_t n, tb_value *out,
                    tb_error *err)
{
    char *c = tb_arena_strndup(cx->arena, s ? s : "", n);
    if (!c) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    out->u.s = c;
    out->len = (uint32_t)n;
    return 0;
}

static int set_utf8(tb_myrow_ctx *cx, const tb_table *t, int i,
                    uint32_t charset, const char *s, size_t n, tb_value *out,
                    tb_error *err)
{
    if (charset == 0) return set_text(cx, s, n, out, err);
    const char *o;
    size_t ol;
    if (tb_mytype_to_utf8(s ? s : "", n, charset, cx->arena, &o, &ol, err) < 0)
        return tb_error_prefix(err, "%s.%s column %s", t->db, t->name,
                               t->cols[i].name);
    out->u.s = o;
    out->len = (uint32_t)ol;
    return 0;
}

static int set_bytes(tb_myrow_ctx *cx, const tb_column *c, const char *s,
                     size_t n, tb_value *out, tb_error *err)
{
    if (c->type_id == TB_MYSQL_TYPE_GEOMETRY && n >= SRID_PREFIX) {
        s += SRID_PREFIX;
        n -= SRID_PREFIX;
    }
    return set_text(cx, s, n, out, err);
}

static int64_t day_micros(uint32_t h, unsigned mi, unsigned se, uint32_t us)
{
    return (((int64_t)h * 60 + mi) * 60 + se) * US_PER_SEC + us;
}

int tb_myrow_from_binlog(tb_myrow_ctx *cx, const tb_table *t, int i,
                         uint32_t charset, const tb_binlog_value *v,
                         tb_value *out, tb_error *err)
{
    const tb_column *c = &t->cols[i];
    char buf[32];
    memset(out, 0, sizeof *out);
    if (v->kind == TB_BINLOG_V_ABSENT) {
        out->state = TB_VALUE_UNCHANGED;
        return 0;
    }
    if (v->kind == TB_BINLOG_V_NULL) {
        out->state = TB_VALUE_NULL;
        return 0;
    }
    out->state = TB_VALUE_SET;
    const tb_binlog_temporal *tm = &v->t;
    switch (v->kind) {
    case TB_BINLOG_V_INT:
    case TB_BINLOG_V_YEAR:
        if (c->kind == TB_KIND_INT || c->kind == TB_KIND_LONG) {
            out->u.i = v->i;
            return 0;
        }
        if (c->kind == TB_KIND_DECIMAL) {
            int n = snprintf(buf, sizeof buf, "%" PRId64, v->i);
            return set_text(cx, buf, (size_t)n, out, err);
        }
        return mismatch(t, i, "integer", err);
    case TB_BINLOG_V_UINT:
        if (c->kind == TB_KIND_DECIMAL) {
            int n = snprintf(buf, sizeof buf, "%" PRIu64, v->u);
            return set_text(cx, buf, (size_t)n, out, err);
        }
        if (c->kind == TB_KIND_INT || c->kind == TB_KIND_LONG) {
            if (v->u > INT64_MAX) return mismatch(t, i, "huge unsigned", err);
            out->u.i = (int64_t)v->u;
            return 0;
        }
        return mismatch(t, i, "unsigned integer", err);
    case TB_BINLOG_V_DOUBLE:
        if (c->kind != TB_KIND_FLOAT && c->kind != TB_KIND_DOUBLE)
            return mismatch(t, i, "floating point", err);
        out->u.d = v->d;
        return 0;
    case TB_BINLOG_V_DECIMAL:
        if (c->kind != TB_KIND_DECIMAL) return mismatch(t, i, "decimal", err);
        return set_text(cx, v->s, v->len, out, err);
    case TB_BINLOG_V_BYTES:
        if (c->kind == TB_KIND_BYTES)
            return set_bytes(cx, c, v->s, v->len, out, err);
        if (c->kind == TB_KIND_STRING || c->kind == TB_KIND_JSON)
            return set_utf8(cx, t, i, charset, v->s, v->len, out, err);
        return mismatch(t, i, "string", err);
    case TB_BINLOG_V_BITS:
        if (c->kind != TB_KIND_BITS) return mismatch(t, i, "bit", err);
        return set_text(cx, v->s, v->len, out, err);
    case TB_BINLOG_V_ENUM:
    case TB_BINLOG_V_SET:
        if (c->kind != TB_KIND_STRING && c->kind != TB_KIND_SET)
            return mismatch(t, i, "enum/set", err);
        if (!v->s)
            return tb_error_set(
                err, TB_ERR_UNSUPPORTED,
                "%s.%s column %s: the binlog sent the %s as a number without "
                "its member names; set binlog_row_metadata=FULL on the server",
                t->db, t->name, c->name,
                v->kind == TB_BINLOG_V_ENUM ? "ENUM" : "SET");
        return set_utf8(cx, t, i, charset, v->s, v->len, out, err);
    case TB_BINLOG_V_JSON:
        if (c->kind != TB_KIND_JSON && c->kind != TB_KIND_STRING)
            return mismatch(t, i, "json", err);
        return set_text(cx, v->s, v->len, out, err);
    case TB_BINLOG_V_DATE:
        if (c->kind != TB_KIND_DATE) return mismatch(t, i, "date", err);
        if (v->zero_date || v->zero_in_date) {
            snprintf(buf, sizeof buf, "%04d-%02u-%02u", (int)tm->year,
                     tm->month, tm->day);
            return zero_date(cx, t, i, buf, out, err);
        }
        out->u.i = tb_myrow_days(tm->year, tm->month, tm->day);
        return 0;
    case TB_BINLOG_V_DATETIME:
        if (c->kind != TB_KIND_LOCAL_TIMESTAMP_MICROS)
            return mismatch(t, i, "datetime", err);
        if (v->zero_date || v->zero_in_date) {
            snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u:%02u",
                     (int)tm->year, tm->month, tm->day, tm->hour % 100,
                     tm->minute, tm->second);
            return zero_date(cx, t, i, buf, out, err);
        }
        out->u.i =
            tb_myrow_days(tm->year, tm->month, tm->day) * 86400 * US_PER_SEC +
            day_micros(tm->hour, tm->minute, tm->second, tm->micros);
        return 0;
    case TB_BINLOG_V_TIMESTAMP:
        if (c->kind != TB_KIND_TIMESTAMP_MICROS)
            return mismatch(t, i, "timestamp", err);
        if (v->zero_date)
            return zero_date(cx, t, i, "0000-00-00 00:00:00", out, err);
        out->u.i = v->i * US_PER_SEC + tm->micros;
        return 0;
    case TB_BINLOG_V_TIME: {
        if (c->kind != TB_KIND_DURATION_MICROS)
            return mismatch(t, i, "time", err);
        int64_t us = day_micros(tm->hour, tm->minute, tm->second, tm->micros);
        out->u.i = tm->negative ? -us : us;
        return 0;
    }
    default:
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "%s.%s column %s: binlog value kind %u", t->db,
                            t->name, c->name, v->kind);
    }
}

/* ---- text protocol ---- */

/* Parse exactly n digits at *p into *out; moves *p. */
static bool digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < n; k++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9') return false;
        v = v * 10 + (unsigned)(**p - '0');
    }
    *out = v;
    return true;
}

/* Optional ".ffffff" (1..6 digits) -> micros. */
static bool fraction(const char **p, const char *end, uint32_t *us)
{
    *us = 0;
    if (*p >= end || **p != '.') return true;
    (*p)++;
    int k = 0;
    uint32_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9' && k < 6) {
        v = v * 10 + (uint32_t)(**p - '0');
        (*p)++;
        k++;
    }
    if (k == 0) return false;
    for (; k < 6; k++)
        v *= 10;
    *us = v;
    return true;
}

/* "YYYY-MM-DD" at *p. */
static bool parse_date(const char **p, const char *end, unsigned *y,
                       unsigned *m, unsigned *d)
{
    if (!digits(p, end, 4, y) || *p >= end || *(*p)++ != '-' ||
        !digits(p, end, 2, m) || *p >= end || *(*p)++ != '-' ||
        !digits(p, end, 2, d))
        return false;
    return true;
}

static int bad_text(const tb_table *t, int i, const char *s, size_t len,
                    tb_error *err)
{
    return tb_error_set(err, TB_ERR_DECODE,
                        "%s.%s column %s (%s): cannot read value '%.*s'", t->db,
                        t->name, t->cols[i].name, t->cols[i].source_type,
                        (int)(len > 64 ? 64 : len), s);
}

int tb_myrow_from_text(tb_myrow_ctx *cx, const tb_table *t, int i,
                       const char *s, size_t len, tb_value *out, tb_error *err)
{
    const tb_column *c = &t->cols[i];
    const char *p = s, *end = s + len;
    char tmp[96];
    memset(out, 0, sizeof *out);
    if (!s) {
        out->state = TB_VALUE_NULL;
        return 0;
    }
    out->state = TB_VALUE_SET;
    switch (c->kind) {
    case TB_KIND_BOOLEAN:
        out->u.b = len > 0 && s[0] != '0';
        return 0;
    case TB_KIND_INT:
    case TB_KIND_LONG: {
        if (len == 0 || len >= sizeof tmp) return bad_text(t, i, s, len, err);
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        char *e;
        errno = 0;
        long long v = strtoll(tmp, &e, 10);
        if (*e || errno) return bad_text(t, i, s, len, err);
        out->u.i = v;
        return 0;
    }
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE: {
        if (len == 0 || len >= sizeof tmp) return bad_text(t, i, s, len, err);
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        char *e;
        out->u.d = strtod(tmp, &e);
        if (*e) return bad_text(t, i, s, len, err);
        /* The server prints FLOAT with 6 digits; the binlog has the exact
         * float. Rounding to float makes both paths give the same value. */
        if (c->kind == TB_KIND_FLOAT) out->u.d = (double)(float)out->u.d;
        return 0;
    }
    case TB_KIND_DECIMAL:
    case TB_KIND_STRING:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_SET:
        return set_text(cx, s, len, out, err);
    case TB_KIND_BYTES:
        return set_bytes(cx, c, s, len, out, err);
    case TB_KIND_BITS: {
        /* Raw big-endian bytes, as many as the column needs. */
        int nbits = c->precision;
        if (nbits < 1 || nbits > 64 || len > 8)
            return bad_text(t, i, s, len, err);
        uint64_t v = 0;
        for (size_t k = 0; k < len; k++)
            v = v << 8 | (uint8_t)s[k];
        for (int k = 0; k < nbits; k++)
            tmp[k] = (v >> (nbits - 1 - k)) & 1 ? '1' : '0';
        return set_text(cx, tmp, (size_t)nbits, out, err);
    }
    case TB_KIND_DATE: {
        unsigned y, m, d;
        if (!parse_date(&p, end, &y, &m, &d) || p != end)
            return bad_text(t, i, s, len, err);
        if (m == 0 || d == 0) {
            snprintf(tmp, sizeof tmp, "%.*s", (int)len, s);
            return zero_date(cx, t, i, tmp, out, err);
        }
        out->u.i = tb_myrow_days(y, m, d);
        return 0;
    }
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
    case TB_KIND_TIMESTAMP_MICROS: {
        unsigned y, m, d, hh, mi, se;
        uint32_t us;
        if (!parse_date(&p, end, &y, &m, &d) || p >= end || *p++ != ' ' ||
            !digits(&p, end, 2, &hh) || p >= end || *p++ != ':' ||
            !digits(&p, end, 2, &mi) || p >= end || *p++ != ':' ||
            !digits(&p, end, 2, &se) || !fraction(&p, end, &us) || p != end)
            return bad_text(t, i, s, len, err);
        if (m == 0 || d == 0) {
            snprintf(tmp, sizeof tmp, "%.*s", (int)len, s);
            return zero_date(cx, t, i, tmp, out, err);
        }
        out->u.i = tb_myrow_days(y, m, d) * 86400 * US_PER_SEC +
                   day_micros(hh, mi, se, us);
        return 0;
    }
    case TB_KIND_DURATION_MICROS:
    case TB_KIND_TIME_MICROS: {
        bool neg = p < end && *p == '-';
        if (neg) p++;
        unsigned h = 0, mi, se;
        uint32_t us;
        int nd = 0;
        while (p < end && *p >= '0' && *p <= '9' && nd < 4) {
            h = h * 10 + (unsigned)(*p++ - '0');
            nd++;
        }
        if (nd == 0 || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi) ||
            p >= end || *p++ != ':' || !digits(&p, end, 2, &se) ||
            !fraction(&p, end, &us) || p != end)
            return bad_text(t, i, s, len, err);
        int64_t v = day_micros(h, mi, se, us);
        out->u.i = neg ? -v : v;
        return 0;
    }
    default:
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "%s.%s column %s: kind %s from text", t->db,
                            t->name, c->name, tb_kind_name(c->kind));
    }
}
