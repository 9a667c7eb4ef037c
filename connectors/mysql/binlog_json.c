/*
 * binlog_json.c - MySQL 8 binary JSON (json_binary.h) to JSON text.
 *
 *   doc     ::= type value
 *   type    ::= 0x00 small object | 0x01 large object | 0x02 small array |
 *               0x03 large array | 0x04 literal | 0x05 int16 | 0x06 uint16 |
 *               0x07 int32 | 0x08 uint32 | 0x09 int64 | 0x0a uint64 |
 *               0x0b double | 0x0c string | 0x0f opaque (custom data)
 *   object  ::= count size key-entry* value-entry* key* value*
 *   array   ::= count size value-entry* value*
 *   count, size, offsets: uint16 (small) or uint32 (large), little-endian;
 *   key-entry ::= key-offset key-length(uint16)
 *   value-entry ::= type offset-or-inlined-value (literals and 16-bit ints
 *   inline in small containers, also 32-bit ints in large ones)
 *   string  ::= length(varlen: 7 bits a byte, low first, 0x80 = more) data
 *   opaque  ::= field-type(1) length(varlen) data
 * Offsets count from the start of the container's count field.
 *
 * The text is MySQL's own spelling: ", " and ": " separators, doubles with
 * ".0" when integral, temporal opaques as quoted strings, DECIMAL as a
 * bare number, other opaques as "base64:typeNN:...".
 */
#include "binlog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100 /* MySQL's own JSON nesting limit */

enum {
    J_SOBJ = 0x00,
    J_LOBJ = 0x01,
    J_SARR = 0x02,
    J_LARR = 0x03,
    J_LIT = 0x04,
    J_I16 = 0x05,
    J_U16 = 0x06,
    J_I32 = 0x07,
    J_U32 = 0x08,
    J_I64 = 0x09,
    J_U64 = 0x0a,
    J_DBL = 0x0b,
    J_STR = 0x0c,
    J_OPAQUE = 0x0f
};

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int nomem(tb_error *err)
{
    return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
}

static int bad(tb_error *err, const char *what)
{
    return tb_error_set(err, TB_ERR_DECODE, "corrupt binary JSON: %s", what);
}

static int put(tb_buf *o, const char *s, tb_error *err)
{
    return tb_buf_puts(o, s) < 0 ? nomem(err) : 0;
}

/* Variable-length size: up to 5 bytes of 7 bits. */
static int varlen(const uint8_t *p, size_t len, size_t *pos, uint32_t *out,
                  tb_error *err)
{
    uint64_t v = 0;
    for (int i = 0; i < 5; i++) {
        if (*pos >= len) return bad(err, "truncated length");
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) return bad(err, "length too large");
            *out = (uint32_t)v;
            return 0;
        }
    }
    return bad(err, "length too long");
}

static int quoted(tb_buf *o, const uint8_t *s, size_t n, tb_error *err)
{
    if (tb_buf_reserve(o, n + 2) < 0) return nomem(err);
    if (tb_buf_append(o, "\"", 1) < 0) return nomem(err);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        char esc[8];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                e = esc;
            }
        }
        if (e ? tb_buf_puts(o, e) < 0 : tb_buf_append(o, &c, 1) < 0)
            return nomem(err);
    }
    return tb_buf_append(o, "\"", 1) < 0 ? nomem(err) : 0;
}

static int dbl(tb_buf *o, double d, tb_error *err)
{
    char b[40];
    if (!isfinite(d)) return bad(err, "non-finite double");
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, d);
        if (strtod(b, NULL) == d) break;
    }
    /* %g writes "1e+100"; MySQL writes "1e100" and "1e-07" as "1e-7". */
    char *e = strchr(b, 'e');
    if (e) {
        char *q = e + 1, *w = e + 1;
        if (*q == '+') q++;
        if (*q == '-') *w++ = *q++;
        while (*q == '0' && q[1])
            q++;
        memmove(w, q, strlen(q) + 1);
    } else if (!strchr(b, '.'))
        strcat(b, ".0");
    return put(o, b, err);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int opaque_b64(tb_buf *o, uint8_t ft, const uint8_t *p, size_t n,
                      tb_error *err)
{
    if (tb_buf_printf(o, "\"base64:type%u:", ft) < 0) return nomem(err);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63],
                     i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        if (tb_buf_append(o, q, 4) < 0) return nomem(err);
    }
    return put(o, "\"", err);
}

/* DATE / TIME / DATETIME / TIMESTAMP opaques hold MySQL's in-memory packed
 * longlong (8 bytes LE): (integer part << 24) | microseconds, where the
 * integer part is year*13+month, day, h, m, s bit fields for dates and
 * h, m, s for TIME (my_time.cc TIME_to_longlong_*_packed). */
static int opaque_temporal(tb_buf *o, uint8_t ft, const uint8_t *p, size_t n,
                           tb_error *err)
{
    if (n < 8) return bad(err, "short temporal opaque");
    int64_t packed = (int64_t)le(p, 8);
    bool neg = packed < 0;
    if (neg) packed = -packed;
    int64_t us = packed % (1 << 24), ip = packed >> 24;
    int rc;
    if (ft == TB_MYSQL_TIME) {
        rc = tb_buf_printf(o, "\"%s%02lld:%02lld:%02lld.%06lld\"",
                           neg ? "-" : "", (long long)((ip >> 12) % (1 << 10)),
                           (long long)((ip >> 6) % 64), (long long)(ip % 64),
                           (long long)us);
    } else {
        int64_t ymd = ip >> 17, ym = ymd >> 5, hms = ip % (1 << 17);
        if (ft == TB_MYSQL_DATE)
            rc = tb_buf_printf(o, "\"%04lld-%02lld-%02lld\"",
                               (long long)(ym / 13), (long long)(ym % 13),
                               (long long)(ymd % 32));
        else
            rc = tb_buf_printf(
                o, "\"%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld\"",
                (long long)(ym / 13), (long long)(ym % 13),
                (long long)(ymd % 32), (long long)(hms >> 12),
                (long long)((hms >> 6) % 64), (long long)(hms % 64),
                (long long)us);
    }
    return rc < 0 ? nomem(err) : 0;
}

static int opaque(tb_buf *o, const uint8_t *p, size_t len, tb_error *err)
{
    size_t pos = 1;
    uint32_t n;
    if (len < 1) return bad(err, "truncated opaque");
    uint8_t ft = p[0];
    if (varlen(p, len, &pos, &n, err) < 0) return -1;
    if (n > len - pos) return bad(err, "truncated opaque data");
    const uint8_t *d = p + pos;
    switch (ft) {
    case TB_MYSQL_NEWDECIMAL: {
        char buf[72];
        size_t used;
        if (n < 2) return bad(err, "short decimal opaque");
        if (tb_binlog_decimal_text(d + 2, n - 2, d[0], d[1], buf, &used, err) <
            0)
            return -1;
        return put(o, buf, err);
    }
    case TB_MYSQL_DATE:
    case TB_MYSQL_TIME:
    case TB_MYSQL_DATETIME:
    case TB_MYSQL_TIMESTAMP:
        return opaque_temporal(o, ft, d, n, err);
    default:
        return opaque_b64(o, ft, d, n, err);
    }
}

static int value(tb_buf *o, uint8_t type, const uint8_t *p, size_t len,
                 int depth, tb_error *err);

/* An inlined scalar or a value at an offset inside container c[0..clen). */
static int entry(tb_buf *o, const uint8_t *c, size_t clen, const uint8_t *e,
                 bool large, int depth, tb_error *err)
{
    uint8_t t = e[0];
    int osz = large ? 4 : 2;
    uint64_t v = le(e + 1, osz);
    switch (t) {
    case J_LIT:
        return value(o, t, e + 1, (size_t)osz, depth, err);
    case J_I16:
    case J_U16:
        return value(o, t, e + 1, (size_t)osz, depth, err);
    case J_I32:
    case J_U32:
        if (large) return value(o, t, e + 1, 4, depth, err);
        break;
    default:
        break;
    }
    if (v >= clen) return bad(err, "value offset out of range");
    return value(o, t, c + v, clen - (size_t)v, depth, err);
}

static int container(tb_buf *o, bool obj, bool large, const uint8_t *p,
                     size_t len, int depth, tb_error *err)
{
    int w = large ? 4 : 2;
    if (depth > MAX_DEPTH) return bad(err, "nested too deeply");
    if (len < (size_t)(2 * w)) return bad(err, "truncated container");
    uint64_t count = le(p, w), size = le(p + w, w);
    if (size > len || size < (uint64_t)(2 * w))
        return bad(err, "container size out of range");
    size_t clen = (size_t)size;
    size_t kes = (size_t)w + 2, ves = 1 + (size_t)w;
    size_t hdr = 2 * (size_t)w;
    if (count > clen || hdr + (size_t)count * ((obj ? kes : 0) + ves) > clen)
        return bad(err, "element count out of range");
    if (put(o, obj ? "{" : "[", err) < 0) return -1;
    for (size_t i = 0; i < count; i++) {
        if (i && put(o, ", ", err) < 0) return -1;
        if (obj) {
            const uint8_t *ke = p + hdr + i * kes;
            uint64_t ko = le(ke, w), kl = le(ke + w, 2);
            if (ko > clen || kl > clen - ko)
                return bad(err, "key out of range");
            if (quoted(o, p + ko, (size_t)kl, err) < 0) return -1;
            if (put(o, ": ", err) < 0) return -1;
        }
        const uint8_t *ve = p + hdr + (obj ? (size_t)count * kes : 0) + i * ves;
        if (entry(o, p, clen, ve, large, depth + 1, err) < 0) return -1;
    }
    return put(o, obj ? "}" : "]", err);
}

static int value(tb_buf *o, uint8_t type, const uint8_t *p, size_t len,
                 int depth, tb_error *err)
{
    static const int width[] = {
        [J_I16] = 2, [J_U16] = 2, [J_I32] = 4, [J_U32] = 4,
        [J_I64] = 8, [J_U64] = 8, [J_DBL] = 8};
    int rc;
    switch (type) {
    case J_SOBJ:
    case J_LOBJ:
    case J_SARR:
    case J_LARR:
        return container(o, type <= J_LOBJ, type == J_LOBJ || type == J_LARR, p,
                         len, depth, err);
    case J_LIT:
        if (len < 1) return bad(err, "truncated literal");
        if (p[0] > 2) return bad(err, "unknown literal");
        return put(o, p[0] == 0 ? "null" : p[0] == 1 ? "true" : "false", err);
    case J_I16:
    case J_U16:
    case J_I32:
    case J_U32:
    case J_I64:
    case J_U64:
    case J_DBL: {
        int n = width[type];
        if (len < (size_t)n) return bad(err, "truncated number");
        uint64_t v = le(p, n);
        if (type == J_DBL) {
            double d;
            memcpy(&d, &v, 8);
            return dbl(o, d, err);
        }
        if (type == J_U16 || type == J_U32 || type == J_U64)
            rc = tb_buf_printf(o, "%llu", (unsigned long long)v);
        else {
            int64_t s = (int64_t)v;
            if (n == 2) s = (int16_t)v;
            if (n == 4) s = (int32_t)v;
            rc = tb_buf_printf(o, "%lld", (long long)s);
        }
        return rc < 0 ? nomem(err) : 0;
    }
    case J_STR: {
        size_t pos = 0;
        uint32_t n;
        if (varlen(p, len, &pos, &n, err) < 0) return -1;
        if (n > len - pos) return bad(err, "truncated string");
        return quoted(o, p + pos, n, err);
    }
    case J_OPAQUE:
        return opaque(o, p, len, err);
    default:
        return tb_error_set(err, TB_ERR_DECODE,
                            "corrupt binary JSON: type 0x%02x", type);
    }
}

int tb_binlog_json_to_text(const uint8_t *p, size_t len, tb_buf *out,
                           tb_error *err)
{
    /* An empty value is what the server logs for a JSON NULL-ish empty
     * document (e.g. a column added without default): MySQL prints null. */
    if (len == 0) return put(out, "null", err);
    return value(out, p[0], p + 1, len - 1, 0, err);
}
