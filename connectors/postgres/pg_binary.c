/*
 * pg_binary.c - PostgreSQL binary (send/recv) value codec and COPY BINARY
 * framing. See pg_binary.h.
 *
 * The formats are those of PostgreSQL 15's send/recv functions: integers
 * and floats big-endian; bool one byte; date int32 days and timestamps
 * int64 microseconds since 2000-01-01 with INT32/INT64 MIN/MAX as
 * -/+infinity; time int64 microseconds; interval int64 microseconds, int32
 * days, int32 months; numeric int16 ndigits, weight, sign, dscale and
 * ndigits base-10000 digits; uuid 16 bytes; bit/varbit int32 bit length and
 * the bits, most significant first; jsonb a version byte 1 and the text;
 * text types their bytes. Nothing passes through floating point except the
 * float types themselves, and no value is formatted with printf.
 */
#include "pg_binary.h"

#include <inttypes.h>
#include <string.h>

#include "pg_types.h"

/* PostgreSQL epoch (2000-01-01) in days and microseconds since 1970. */
#define PG_EPOCH_DAYS  INT64_C(10957)
#define USECS_PER_DAY  INT64_C(86400000000)
#define PG_EPOCH_USECS (PG_EPOCH_DAYS * USECS_PER_DAY)
/* PostgreSQL's date range in days since 1970: 4714-11-24 BC (Julian day 0)
 * through 5874897-12-31, the same bounds tb_pgtype_parse_text enforces. */
#define DATE_MIN_UNIX INT64_C(-2440588)
#define DATE_MAX_UNIX INT64_C(2145042905)
#define TS_MIN_UNIX   (DATE_MIN_UNIX * USECS_PER_DAY)

/* numeric sign words (utils/numeric.c). */
#define NUMERIC_POS        0x0000
#define NUMERIC_NEG        0x4000
#define NUMERIC_NAN        0xC000
#define NUMERIC_PINF       0xD000
#define NUMERIC_NINF       0xF000
#define NUMERIC_DSCALE_MAX 0x3FFF
#define NUMERIC_WEIGHT_MAX 0x7FFF
#define NBASE              10000

/* Element OID and array OID of text[] (array_send names its element). */
#define PGOID_TEXT_ARRAY 1009
#define PGOID_NAME       19
#define PGOID_XID        28
#define PGOID_CID        29
#define PGOID_XID8       5069

static const char COPY_SIGNATURE[11] = "PGCOPY\n\377\r\n";

/* ---- big-endian access ---- */

static inline uint16_t rd16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint16_t)(u[0] << 8 | u[1]);
}

static inline uint32_t rd32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 |
           u[3];
}

static inline uint64_t rd64(const char *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* ---- decoding ---- */

bool tb_pgbin_decodable(const tb_column *col)
{
    switch (col->type_id) {
    case TB_PGOID_BOOL:
        return col->kind == TB_KIND_BOOLEAN;
    case TB_PGOID_INT2:
    case TB_PGOID_INT4:
        return col->kind == TB_KIND_INT;
    case TB_PGOID_INT8:
    case TB_PGOID_OID:
    case PGOID_XID:
    case PGOID_CID:
        return col->kind == TB_KIND_LONG;
    case PGOID_XID8:
        return col->kind == TB_KIND_DECIMAL;
    case TB_PGOID_FLOAT4:
        return col->kind == TB_KIND_FLOAT;
    case TB_PGOID_FLOAT8:
        return col->kind == TB_KIND_DOUBLE;
    case TB_PGOID_NUMERIC:
        /* numeric without typmod maps to STRING: the same text */
        return col->kind == TB_KIND_DECIMAL || col->kind == TB_KIND_STRING;
    case TB_PGOID_TEXT:
    case TB_PGOID_VARCHAR:
    case TB_PGOID_BPCHAR:
    case PGOID_NAME:
        return col->kind == TB_KIND_STRING;
    case TB_PGOID_BYTEA:
        return col->kind == TB_KIND_BYTES;
    case TB_PGOID_DATE:
        return col->kind == TB_KIND_DATE;
    case TB_PGOID_TIME:
        return col->kind == TB_KIND_TIME_MICROS;
    case TB_PGOID_TIMESTAMP:
        return col->kind == TB_KIND_LOCAL_TIMESTAMP_MICROS;
    case TB_PGOID_TIMESTAMPTZ:
        return col->kind == TB_KIND_TIMESTAMP_MICROS;
    case TB_PGOID_UUID:
        return col->kind == TB_KIND_UUID;
    case TB_PGOID_JSON:
    case TB_PGOID_JSONB:
        return col->kind == TB_KIND_JSON;
    case TB_PGOID_BIT:
    case TB_PGOID_VARBIT:
        return col->kind == TB_KIND_BITS;
    default:
        return false;
    }
}

static int bad(const tb_column *col, const char *what, uint32_t len,
               tb_error *err)
{
    return tb_error_set(err, TB_ERR_SOURCE,
                        "column %s: malformed binary %s value (%" PRIu32
                        " bytes)",
                        col->name ? col->name : "?", what, len);
}

static int nomem(const tb_column *col, tb_error *err)
{
    return tb_error_set(err, TB_ERR_NOMEM, "column %s: decoding a value",
                        col->name ? col->name : "?");
}

/* Copy n bytes into the arena as a NUL-terminated string value. */
static int set_copy(const tb_column *col, const char *p, uint32_t n,
                    tb_arena *a, tb_value *v, tb_error *err)
{
    char *s = tb_arena_strndup(a, p, n);
    if (!s) return nomem(col, err);
    v->u.s = s;
    v->len = n;
    return 0;
}

static int set_lit(const tb_column *col, const char *lit, tb_arena *a,
                   tb_value *v, tb_error *err)
{
    return set_copy(col, lit, (uint32_t)strlen(lit), a, v, err);
}

/* Decimal digits of v (< 10^20) into the end of buf; returns the start. */
static char *utoa_end(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/*
 * numeric -> the text numeric_out prints: integer part without leading
 * zeros ("0" when below one), then exactly dscale fraction digits (digits
 * beyond dscale are dropped, as numeric_recv truncates them); "-" only
 * when a printed digit is not zero.
 */
static int decode_numeric(const tb_column *col, const char *p, uint32_t len,
                          tb_arena *a, tb_value *v, tb_error *err)
{
    if (len < 8) return bad(col, "numeric", len, err);
    int nd = rd16(p);
    int weight = (int16_t)rd16(p + 2);
    uint16_t sign = rd16(p + 4);
    int dscale = rd16(p + 6);
    const char *dg = p + 8;

    if (len != 8 + 2 * (uint32_t)nd) return bad(col, "numeric", len, err);
    if (sign == NUMERIC_NAN || sign == NUMERIC_PINF || sign == NUMERIC_NINF) {
        /* xid8-like DECIMALs without specials refuse them, as the text
         * parser does */
        if (col->kind == TB_KIND_DECIMAL && !col->decimal_specials)
            return bad(col, "numeric special", len, err);
        return set_lit(col,
                       sign == NUMERIC_NAN    ? "NaN"
                       : sign == NUMERIC_PINF ? "Infinity"
                                              : "-Infinity",
                       a, v, err);
    }
    if ((sign != NUMERIC_POS && sign != NUMERIC_NEG) ||
        dscale > NUMERIC_DSCALE_MAX)
        return bad(col, "numeric", len, err);
    for (int i = 0; i < nd; i++)
        if (rd16(dg + 2 * i) >= NBASE) return bad(col, "numeric", len, err);

    size_t intd = weight >= 0 ? 4 * ((size_t)weight + 1) : 1;
    size_t cap = 1 + intd + 1 + (size_t)dscale + 1;
    char *out = tb_arena_alloc(a, cap);
    if (!out) return nomem(col, err);
    char *q = out + 1; /* out[0]: room for '-' */
    bool nonzero = false;

    if (weight < 0) {
        *q++ = '0';
    } else {
        for (int g = 0; g <= weight; g++) {
            unsigned d = g < nd ? rd16(dg + 2 * g) : 0;
            q[0] = (char)('0' + d / 1000);
            q[1] = (char)('0' + d / 100 % 10);
            q[2] = (char)('0' + d / 10 % 10);
            q[3] = (char)('0' + d % 10);
            q += 4;
            nonzero |= d != 0;
        }
    }
    char *istart = out + 1;
    while (istart < q - 1 && *istart == '0') /* keep at least one digit */
        istart++;
    if (dscale > 0) {
        *q++ = '.';
        /* fraction group m has weight -(m + 1): digit index weight+1+m */
        for (int m = 0, left = dscale; left > 0; m++) {
            int i = weight + 1 + m;
            unsigned d = (i >= 0 && i < nd) ? rd16(dg + 2 * i) : 0;
            char g4[4] = {(char)('0' + d / 1000), (char)('0' + d / 100 % 10),
                          (char)('0' + d / 10 % 10), (char)('0' + d % 10)};
            int take = left < 4 ? left : 4;
            for (int k = 0; k < take; k++) {
                nonzero |= g4[k] != '0';
                *q++ = g4[k];
            }
            left -= take;
        }
    }
    *q = '\0';
    if (sign == NUMERIC_NEG && nonzero) *--istart = '-';
    v->u.s = istart;
    v->len = (uint32_t)(q - istart);
    return 0;
}

static int decode_uuid(const tb_column *col, const char *p, uint32_t len,
                       tb_arena *a, tb_value *v, tb_error *err)
{
    static const char hex[] = "0123456789abcdef";
    if (len != 16) return bad(col, "uuid", len, err);
    char *out = tb_arena_alloc(a, 37);
    if (!out) return nomem(col, err);
    char *q = out;
    for (int i = 0; i < 16; i++) {
        unsigned char b = (unsigned char)p[i];
        if (i == 4 || i == 6 || i == 8 || i == 10) *q++ = '-';
        *q++ = hex[b >> 4];
        *q++ = hex[b & 15];
    }
    *q = '\0';
    v->u.s = out;
    v->len = 36;
    return 0;
}

static int decode_bits(const tb_column *col, const char *p, uint32_t len,
                       tb_arena *a, tb_value *v, tb_error *err)
{
    if (len < 4) return bad(col, "bit", len, err);
    uint32_t nbits = rd32(p);
    if (nbits > INT32_MAX || len - 4 != (nbits + 7) / 8)
        return bad(col, "bit", len, err);
    char *out = tb_arena_alloc(a, (size_t)nbits + 1);
    if (!out) return nomem(col, err);
    const unsigned char *b = (const unsigned char *)p + 4;
    for (uint32_t i = 0; i < nbits; i++)
        out[i] = (char)('0' + ((b[i >> 3] >> (7 - (i & 7))) & 1));
    out[nbits] = '\0';
    v->u.s = out;
    v->len = nbits;
    return 0;
}

/* int64 microseconds since 2000 -> since 1970, infinities kept; refuses
 * what tb_pgtype_parse_text refuses (beyond int64 since 1970). */
static int decode_timestamp(const tb_column *col, const char *p, uint32_t len,
                            tb_value *v, tb_error *err)
{
    if (len != 8) return bad(col, "timestamp", len, err);
    int64_t t = (int64_t)rd64(p);
    if (t == INT64_MAX || t == INT64_MIN) {
        v->u.i = t;
        return 0;
    }
    if (__builtin_add_overflow(t, PG_EPOCH_USECS, &v->u.i) ||
        v->u.i == INT64_MAX || v->u.i < TS_MIN_UNIX)
        return bad(col, "timestamp (out of range)", len, err);
    return 0;
}

int tb_pgbin_decode(const tb_column *col, const char *p, uint32_t len,
                    tb_arena *a, tb_value *v, tb_error *err)
{
    v->state = TB_VALUE_SET;
    v->len = 0;
    switch (col->type_id) {
    case TB_PGOID_BOOL:
        if (len != 1 || col->kind != TB_KIND_BOOLEAN) goto bad;
        v->u.b = p[0] != 0;
        return 0;
    case TB_PGOID_INT2:
        if (len != 2 || col->kind != TB_KIND_INT) goto bad;
        v->u.i = (int16_t)rd16(p);
        return 0;
    case TB_PGOID_INT4:
        if (len != 4 || col->kind != TB_KIND_INT) goto bad;
        v->u.i = (int32_t)rd32(p);
        return 0;
    case TB_PGOID_INT8:
        if (len != 8 || col->kind != TB_KIND_LONG) goto bad;
        v->u.i = (int64_t)rd64(p);
        return 0;
    case TB_PGOID_OID:
    case PGOID_XID:
    case PGOID_CID:
        if (len != 4 || col->kind != TB_KIND_LONG) goto bad;
        v->u.i = rd32(p);
        return 0;
    case PGOID_XID8: {
        char buf[24];
        if (len != 8 || col->kind != TB_KIND_DECIMAL) goto bad;
        char *s = utoa_end(rd64(p), buf + sizeof buf);
        return set_copy(col, s, (uint32_t)(buf + sizeof buf - s), a, v, err);
    }
    case TB_PGOID_FLOAT4: {
        uint32_t bits;
        float f;
        if (len != 4 || col->kind != TB_KIND_FLOAT) goto bad;
        bits = rd32(p);
        memcpy(&f, &bits, 4);
        v->u.d = f;
        return 0;
    }
    case TB_PGOID_FLOAT8: {
        uint64_t bits;
        if (len != 8 || col->kind != TB_KIND_DOUBLE) goto bad;
        bits = rd64(p);
        memcpy(&v->u.d, &bits, 8);
        return 0;
    }
    case TB_PGOID_NUMERIC:
        if (col->kind != TB_KIND_DECIMAL && col->kind != TB_KIND_STRING)
            goto bad;
        return decode_numeric(col, p, len, a, v, err);
    case TB_PGOID_TEXT:
    case TB_PGOID_VARCHAR:
    case TB_PGOID_BPCHAR:
    case PGOID_NAME:
        if (col->kind != TB_KIND_STRING) goto bad;
        return set_copy(col, p, len, a, v, err);
    case TB_PGOID_BYTEA:
        if (col->kind != TB_KIND_BYTES) goto bad;
        return set_copy(col, p, len, a, v, err);
    case TB_PGOID_JSON:
        if (col->kind != TB_KIND_JSON) goto bad;
        return set_copy(col, p, len, a, v, err);
    case TB_PGOID_JSONB:
        if (len < 1 || p[0] != 1 || col->kind != TB_KIND_JSON) goto bad;
        return set_copy(col, p + 1, len - 1, a, v, err);
    case TB_PGOID_UUID:
        if (col->kind != TB_KIND_UUID) goto bad;
        return decode_uuid(col, p, len, a, v, err);
    case TB_PGOID_BIT:
    case TB_PGOID_VARBIT:
        if (col->kind != TB_KIND_BITS) goto bad;
        return decode_bits(col, p, len, a, v, err);
    case TB_PGOID_DATE: {
        if (len != 4 || col->kind != TB_KIND_DATE) goto bad;
        int32_t d = (int32_t)rd32(p);
        if (d == INT32_MAX || d == INT32_MIN) {
            v->u.i = d;
            return 0;
        }
        v->u.i = (int64_t)d + PG_EPOCH_DAYS;
        if (v->u.i < DATE_MIN_UNIX || v->u.i > DATE_MAX_UNIX) goto bad;
        return 0;
    }
    case TB_PGOID_TIME:
        if (len != 8 || col->kind != TB_KIND_TIME_MICROS) goto bad;
        v->u.i = (int64_t)rd64(p);
        if (v->u.i < 0 || v->u.i > USECS_PER_DAY) goto bad;
        return 0;
    case TB_PGOID_TIMESTAMP:
        if (col->kind != TB_KIND_LOCAL_TIMESTAMP_MICROS) goto bad;
        return decode_timestamp(col, p, len, v, err);
    case TB_PGOID_TIMESTAMPTZ:
        if (col->kind != TB_KIND_TIMESTAMP_MICROS) goto bad;
        return decode_timestamp(col, p, len, v, err);
    default:
        break;
    }
bad:
    if (!tb_pgbin_decodable(col))
        return tb_error_set(
            err, TB_ERR_SOURCE,
            "column %s: type oid %" PRIu32 " (%s) has no binary decoder",
            col->name ? col->name : "?", col->type_id, tb_kind_name(col->kind));
    return bad(col, tb_kind_name(col->kind), len, err);
}

/* ---- encoding ---- */

bool tb_pgbin_encodable(tb_kind k, uint32_t oid)
{
    switch (k) {
    case TB_KIND_BOOLEAN:
        return oid == TB_PGOID_BOOL;
    case TB_KIND_INT:
    case TB_KIND_LONG:
        return oid == TB_PGOID_INT2 || oid == TB_PGOID_INT4 ||
               oid == TB_PGOID_INT8 || oid == TB_PGOID_NUMERIC;
    case TB_KIND_FLOAT:
        /* not float8: the text path sends the float's shortest text, which
         * float8 reads as a different double than (double)f */
        return oid == TB_PGOID_FLOAT4;
    case TB_KIND_DOUBLE:
        return oid == TB_PGOID_FLOAT8;
    case TB_KIND_DECIMAL:
        return oid == TB_PGOID_NUMERIC;
    case TB_KIND_STRING:
        /* numeric: PostgreSQL's unconstrained numeric travels as STRING */
        return oid == TB_PGOID_TEXT || oid == TB_PGOID_VARCHAR ||
               oid == TB_PGOID_BPCHAR || oid == PGOID_NAME ||
               oid == TB_PGOID_JSON || oid == TB_PGOID_JSONB ||
               oid == TB_PGOID_NUMERIC;
    case TB_KIND_JSON:
        return oid == TB_PGOID_JSON || oid == TB_PGOID_JSONB ||
               oid == TB_PGOID_TEXT;
    case TB_KIND_UUID:
        return oid == TB_PGOID_UUID || oid == TB_PGOID_TEXT;
    case TB_KIND_BYTES:
        return oid == TB_PGOID_BYTEA;
    case TB_KIND_DATE:
        return oid == TB_PGOID_DATE;
    case TB_KIND_TIME_MICROS:
        return oid == TB_PGOID_TIME;
    case TB_KIND_TIMESTAMP_MICROS:
        return oid == TB_PGOID_TIMESTAMPTZ;
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
        return oid == TB_PGOID_TIMESTAMP;
    case TB_KIND_DURATION_MICROS:
        return oid == TB_PGOID_INTERVAL;
    case TB_KIND_BITS:
        return oid == TB_PGOID_BIT || oid == TB_PGOID_VARBIT;
    case TB_KIND_SET:
        return oid == PGOID_TEXT_ARRAY;
    default:
        return false;
    }
}

/* Reserve room for a field of n payload bytes and write its length; returns
 * where the payload goes, NULL on OOM. The caller adds n to out->len. */
static uint8_t *field(tb_buf *out, size_t n)
{
    if (tb_buf_reserve(out, 4 + n) < 0) return NULL;
    uint8_t *q = out->data + out->len;
    wr32(q, (uint32_t)n);
    out->len += 4;
    return q + 4;
}

static int put_bytes(tb_buf *out, const char *s, size_t n, tb_error *err)
{
    uint8_t *q = field(out, n);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    if (n) memcpy(q, s, n);
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

static int put_u16(tb_buf *out, uint16_t x, tb_error *err)
{
    uint8_t *q = field(out, 2);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    wr16(q, x);
    out->len += 2;
    out->data[out->len] = '\0';
    return 0;
}

static int put_u32(tb_buf *out, uint32_t x, tb_error *err)
{
    uint8_t *q = field(out, 4);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    wr32(q, x);
    out->len += 4;
    out->data[out->len] = '\0';
    return 0;
}

static int put_u64(tb_buf *out, uint64_t x, tb_error *err)
{
    uint8_t *q = field(out, 8);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    wr64(q, x);
    out->len += 8;
    out->data[out->len] = '\0';
    return 0;
}

/* numeric header + ndigits base-10000 digits already in place at q. */
static void numeric_head(uint8_t *q, int nd, int weight, uint16_t sign,
                         int dscale)
{
    wr16(q, (uint16_t)nd);
    wr16(q + 2, (uint16_t)(int16_t)weight);
    wr16(q + 4, sign);
    wr16(q + 6, (uint16_t)dscale);
}

static int put_numeric_special(tb_buf *out, uint16_t sign, tb_error *err)
{
    uint8_t *q = field(out, 8);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    numeric_head(q, 0, 0, sign, 0);
    out->len += 8;
    out->data[out->len] = '\0';
    return 0;
}

/* int64 -> numeric with dscale 0. */
static int put_numeric_int(tb_buf *out, int64_t x, tb_error *err)
{
    uint16_t g[5]; /* 2^63 < 10^20: five base-10000 digits */
    int n = 0, weight;
    uint64_t m = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;

    while (m) {
        g[n++] = (uint16_t)(m % NBASE);
        m /= NBASE;
    }
    /* g[0] is the least significant; trailing zero digits are dropped */
    weight = n - 1;
    int lo = 0;
    while (lo < n && g[lo] == 0)
        lo++;
    int nd = n - lo;
    uint8_t *q = field(out, 8 + 2 * (size_t)nd);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    numeric_head(q, nd, nd ? weight : 0, x < 0 ? NUMERIC_NEG : NUMERIC_POS, 0);
    for (int i = 0; i < nd; i++)
        wr16(q + 8 + 2 * i, g[n - 1 - i]);
    out->len += 8 + 2 * (size_t)nd;
    out->data[out->len] = '\0';
    return 0;
}

static bool ci_eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return false;
    }
    return true;
}

/* Decimal text "[+-]digits[.digits]" (or a special) -> numeric. */
static int put_numeric_text(tb_buf *out, const char *s, size_t n, tb_error *err)
{
    size_t i = 0;
    bool neg = false;

    if (ci_eq(s, n, "nan")) return put_numeric_special(out, NUMERIC_NAN, err);
    if (ci_eq(s, n, "infinity") || ci_eq(s, n, "+infinity") ||
        ci_eq(s, n, "inf") || ci_eq(s, n, "+inf"))
        return put_numeric_special(out, NUMERIC_PINF, err);
    if (ci_eq(s, n, "-infinity") || ci_eq(s, n, "-inf"))
        return put_numeric_special(out, NUMERIC_NINF, err);
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    while (i < n && s[i] == '0') /* leading zeros carry nothing */
        i++;
    const char *ip = s + i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t ni = (size_t)(s + i - ip);
    bool any = ni > 0 || (i > 0 && s[i - 1] == '0');
    const char *fp = s + i;
    size_t nf = 0;
    if (i < n && s[i] == '.') {
        fp = s + ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        nf = (size_t)(s + i - fp);
        any |= nf > 0;
    }
    if (i != n || !any || nf > NUMERIC_DSCALE_MAX)
        return tb_error_set(err, TB_ERR_TARGET, "bad numeric text '%.*s'",
                            n > 64 ? 64 : (int)n, s);
    size_t lead = (4 - ni % 4) % 4; /* zeros padding the first group */
    size_t gi = (ni + lead) / 4, gf = (nf + 3) / 4;
    if (gi > NUMERIC_WEIGHT_MAX + 1)
        return tb_error_set(err, TB_ERR_TARGET, "numeric text too long");

    uint8_t *q = field(out, 8 + 2 * (gi + gf));
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    uint8_t *d = q + 8;
    int nd = 0, weight = (int)gi - 1;
    bool started = false;
    for (size_t g = 0; g < gi + gf; g++) {
        unsigned x = 0;
        for (size_t k = 0; k < 4; k++) {
            size_t pos = g * 4 + k;
            int c = 0;
            if (g < gi) {
                if (pos >= lead) c = ip[pos - lead] - '0';
            } else {
                pos -= gi * 4;
                if (pos < nf) c = fp[pos] - '0';
            }
            x = x * 10 + (unsigned)c;
        }
        if (!started && x == 0) {
            weight--; /* a leading zero group moves the weight down */
            continue;
        }
        started = true;
        wr16(d + 2 * nd++, (uint16_t)x);
    }
    while (nd > 0 && d[2 * nd - 2] == 0 && d[2 * nd - 1] == 0)
        nd--;
    if (nd == 0) {
        weight = 0;
        neg = false;
    }
    numeric_head(q, nd, weight, neg ? NUMERIC_NEG : NUMERIC_POS, (int)nf);
    wr32(q - 4, 8 + 2 * (uint32_t)nd); /* zero groups were dropped */
    out->len += 8 + 2 * (size_t)nd;
    out->data[out->len] = '\0';
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* uuid text: 32 hex digits, optionally in braces, a '-' allowed after any
 * even number of digits (a superset of what uuid_in accepts). */
static int put_uuid(tb_buf *out, const char *s, size_t n, tb_error *err)
{
    uint8_t b[16];
    size_t i = 0, nd = 0;
    bool brace = n > 0 && s[0] == '{';

    if (brace) i++;
    while (i < n && nd < 32) {
        if (s[i] == '-' && nd > 0 && nd % 2 == 0 && i + 1 < n &&
            s[i + 1] != '-') {
            i++;
            continue;
        }
        int h = hexval((unsigned char)s[i]);
        if (h < 0) break;
        if (nd % 2 == 0)
            b[nd / 2] = (uint8_t)(h << 4);
        else
            b[nd / 2] |= (uint8_t)h;
        nd++;
        i++;
    }
    if (brace && i < n && s[i] == '}')
        i++;
    else if (brace)
        nd = 0;
    if (nd != 32 || i != n)
        return tb_error_set(err, TB_ERR_TARGET, "bad uuid text '%.*s'",
                            n > 64 ? 64 : (int)n, s);
    return put_bytes(out, (const char *)b, 16, err);
}

static int put_bits(tb_buf *out, const char *s, size_t n, tb_error *err)
{
    if (n > INT32_MAX)
        return tb_error_set(err, TB_ERR_TARGET, "bit string too long");
    size_t nb = (n + 7) / 8;
    uint8_t *q = field(out, 4 + nb);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    wr32(q, (uint32_t)n);
    memset(q + 4, 0, nb);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '1')
            q[4 + i / 8] |= (uint8_t)(0x80 >> (i % 8));
        else if (s[i] != '0') {
            out->len -= 4; /* drop the length written by field() */
            return tb_error_set(err, TB_ERR_TARGET, "bad bit text '%.*s'",
                                n > 64 ? 64 : (int)n, s);
        }
    }
    out->len += 4 + nb;
    out->data[out->len] = '\0';
    return 0;
}

/*
 * MySQL SET "a,b" -> one-dimensional text[] in array_send layout: int32
 * ndim, int32 has-nulls, element OID, then per dimension int32 size and
 * lower bound 1, then each element as int32 length + bytes. Members split
 * exactly as tb_pgtype_format_text's text[] literal does; "" is {}.
 */
static int put_set(tb_buf *out, const char *s, size_t n, tb_error *err)
{
    size_t count = 0, total;
    if (n > 0) {
        count = 1;
        for (size_t i = 0; i < n; i++)
            count += s[i] == ',';
    }
    total = 12 + (count ? 8 : 0) + 4 * count + (n - (count ? count - 1 : 0));
    uint8_t *q = field(out, total);
    if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
    wr32(q, count ? 1 : 0);
    wr32(q + 4, 0);
    wr32(q + 8, TB_PGOID_TEXT);
    q += 12;
    if (count) {
        wr32(q, (uint32_t)count);
        wr32(q + 4, 1);
        q += 8;
        size_t i = 0;
        while (i <= n) {
            size_t j = i;
            while (j < n && s[j] != ',')
                j++;
            wr32(q, (uint32_t)(j - i));
            memcpy(q + 4, s + i, j - i);
            q += 4 + (j - i);
            i = j + 1;
        }
    }
    out->len += total;
    out->data[out->len] = '\0';
    return 0;
}

int tb_pgbin_encode(tb_kind k, uint32_t oid, const tb_value *v, tb_buf *out,
                    tb_error *err)
{
    static const uint8_t null_field[4] = {0xff, 0xff, 0xff, 0xff};

    if (v->state == TB_VALUE_NULL) {
        if (tb_buf_append(out, null_field, 4) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "binary field");
        return 0;
    }
    if (v->state != TB_VALUE_SET)
        return tb_error_set(err, TB_ERR_USAGE,
                            "an unchanged value cannot be written");
    if (!tb_pgbin_encodable(k, oid))
        return tb_error_set(err, TB_ERR_USAGE,
                            "no binary encoding of %s for type oid %" PRIu32,
                            tb_kind_name(k), oid);
    switch (k) {
    case TB_KIND_BOOLEAN: {
        char b = v->u.b ? 1 : 0;
        return put_bytes(out, &b, 1, err);
    }
    case TB_KIND_INT:
    case TB_KIND_LONG:
        switch (oid) {
        case TB_PGOID_INT2:
            if (v->u.i < INT16_MIN || v->u.i > INT16_MAX) goto range;
            return put_u16(out, (uint16_t)(int16_t)v->u.i, err);
        case TB_PGOID_INT4:
            if (v->u.i < INT32_MIN || v->u.i > INT32_MAX) goto range;
            return put_u32(out, (uint32_t)(int32_t)v->u.i, err);
        case TB_PGOID_INT8:
            return put_u64(out, (uint64_t)v->u.i, err);
        default:
            return put_numeric_int(out, v->u.i, err);
        }
    case TB_KIND_FLOAT: {
        float f = (float)v->u.d;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        return put_u32(out, bits, err);
    }
    case TB_KIND_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        return put_u64(out, bits, err);
    }
    case TB_KIND_DECIMAL:
        return put_numeric_text(out, v->u.s, v->len, err);
    case TB_KIND_STRING:
    case TB_KIND_JSON:
        if (oid == TB_PGOID_NUMERIC)
            return put_numeric_text(out, v->u.s, v->len, err);
        if (oid == TB_PGOID_JSONB) {
            /* jsonb_recv: version byte 1, then the text */
            uint8_t *q = field(out, (size_t)v->len + 1);
            if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
            q[0] = 1;
            if (v->len) memcpy(q + 1, v->u.s, v->len);
            out->len += (size_t)v->len + 1;
            out->data[out->len] = '\0';
            return 0;
        }
        return put_bytes(out, v->u.s, v->len, err);
    case TB_KIND_UUID:
        if (oid == TB_PGOID_TEXT) return put_bytes(out, v->u.s, v->len, err);
        return put_uuid(out, v->u.s, v->len, err);
    case TB_KIND_BYTES:
        return put_bytes(out, v->u.s, v->len, err);
    case TB_KIND_DATE: {
        int64_t d = v->u.i;
        if (d >= INT32_MAX) return put_u32(out, (uint32_t)INT32_MAX, err);
        if (d <= INT32_MIN) return put_u32(out, (uint32_t)INT32_MIN, err);
        d -= PG_EPOCH_DAYS;
        if (d <= INT32_MIN) goto range;
        return put_u32(out, (uint32_t)(int32_t)d, err);
    }
    case TB_KIND_TIME_MICROS:
        if (v->u.i < 0 || v->u.i > USECS_PER_DAY) goto range;
        return put_u64(out, (uint64_t)v->u.i, err);
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS: {
        int64_t t = v->u.i;
        if (t != INT64_MAX && t != INT64_MIN &&
            __builtin_sub_overflow(t, PG_EPOCH_USECS, &t))
            goto range;
        return put_u64(out, (uint64_t)t, err);
    }
    case TB_KIND_DURATION_MICROS: {
        if (v->u.i == INT64_MIN) goto range;
        uint8_t *q = field(out, 16);
        if (!q) return tb_error_set(err, TB_ERR_NOMEM, "binary field");
        wr64(q, (uint64_t)v->u.i); /* time; days and months stay 0 */
        wr32(q + 8, 0);
        wr32(q + 12, 0);
        out->len += 16;
        out->data[out->len] = '\0';
        return 0;
    }
    case TB_KIND_BITS:
        return put_bits(out, v->u.s, v->len, err);
    case TB_KIND_SET:
        return put_set(out, v->u.s, v->len, err);
    default:
        break;
    }
    return tb_error_set(err, TB_ERR_USAGE, "no binary encoding of kind %d",
                        (int)k);
range:
    return tb_error_set(err, TB_ERR_TARGET,
                        "%s value %" PRId64
                        " out of range for type oid %" PRIu32,
                        tb_kind_name(k), v->u.i, oid);
}

/* ---- COPY BINARY framing ---- */

int tb_pgbin_put_header(tb_buf *out)
{
    uint8_t h[19];
    memcpy(h, COPY_SIGNATURE, 11);
    wr32(h + 11, 0); /* flags: no OIDs */
    wr32(h + 15, 0); /* no header extension */
    return tb_buf_append(out, h, sizeof h);
}

int tb_pgbin_put_tuple(tb_buf *out, int nfields)
{
    uint8_t h[2];
    wr16(h, (uint16_t)nfields);
    return tb_buf_append(out, h, 2);
}

int tb_pgbin_put_trailer(tb_buf *out)
{
    static const uint8_t t[2] = {0xff, 0xff};
    return tb_buf_append(out, t, 2);
}

int tb_pgbin_skip_header(const char **p, const char *end, tb_error *err)
{
    const char *s = *p;
    if (end - s < 19 || memcmp(s, COPY_SIGNATURE, 11) != 0)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "COPY BINARY: missing or bad signature");
    uint32_t flags = rd32(s + 11);
    uint32_t ext = rd32(s + 15);
    /* bit 16: OIDs included; bits 17-31 are critical and unknown to us;
     * bits 0-15 may be ignored */
    if (flags & 0xffff0000u)
        return tb_error_set(
            err, TB_ERR_SOURCE,
            "COPY BINARY: unsupported header flags 0x%08" PRIx32, flags);
    if (ext > (uint64_t)(end - s - 19))
        return tb_error_set(err, TB_ERR_SOURCE,
                            "COPY BINARY: truncated header extension");
    *p = s + 19 + ext;
    return 0;
}

int tb_pgbin_tuple_start(const char **p, const char *end, tb_error *err)
{
    if (end - *p < 2) {
        tb_error_set(err, TB_ERR_SOURCE, "COPY BINARY: truncated tuple");
        return -2;
    }
    int16_t n = (int16_t)rd16(*p);
    if (n < -1) {
        tb_error_set(err, TB_ERR_SOURCE, "COPY BINARY: field count %d", n);
        return -2;
    }
    *p += 2;
    return n;
}

int tb_pgbin_next_field(const char **p, const char *end, const char **fp,
                        int32_t *flen, tb_error *err)
{
    if (end - *p < 4)
        return tb_error_set(err, TB_ERR_SOURCE, "COPY BINARY: truncated field");
    int32_t n = (int32_t)rd32(*p);
    if (n == -1) {
        *fp = NULL;
        *flen = -1;
        *p += 4;
        return 0;
    }
    if (n < 0 || n > end - *p - 4)
        return tb_error_set(
            err, TB_ERR_SOURCE,
            "COPY BINARY: field length %" PRId32 " beyond the data", n);
    *fp = *p + 4;
    *flen = n;
    *p += 4 + n;
    return 0;
}
