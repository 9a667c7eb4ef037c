/*
 * test_pg_binary.c - PostgreSQL binary value codec and COPY BINARY framing,
 * on hand-built bytes.
 *
 * The decoder's oracle is the text parser: for every value the binary
 * bytes must decode to exactly the tb_value tb_pgtype_parse_text gives for
 * the text PostgreSQL prints for the same value. Every field is decoded
 * from a heap copy of exactly its length (so ASan sees any over-read), and
 * every truncation of it is tried too. tests/integration/test_pg_binary.c
 * checks the same formats against a real server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/postgres/pg_binary.h"
#include "../../connectors/postgres/pg_types.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static tb_arena g_arena;

static int setup(void **state)
{
    (void)state;
    tb_arena_init(&g_arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tb_arena_free(&g_arena);
    return 0;
}

static tb_column mkcol(uint32_t oid, tb_kind k)
{
    tb_column c;
    memset(&c, 0, sizeof c);
    c.name = (char *)"col";
    c.type_id = oid;
    c.kind = k;
    c.type_mod = -1;
    c.decimal_specials = k == TB_KIND_DECIMAL && oid == TB_PGOID_NUMERIC;
    return c;
}

/* Byte builder for hand-made fields. */
typedef struct bytes {
    uint8_t b[256];
    size_t n;
} bytes;

static void p8(bytes *x, unsigned v)
{
    x->b[x->n++] = (uint8_t)v;
}
static void p16(bytes *x, unsigned v)
{
    p8(x, (v >> 8) & 0xff);
    p8(x, v & 0xff);
}
static void p32(bytes *x, uint32_t v)
{
    p16(x, v >> 16);
    p16(x, v & 0xffff);
}
static void p64(bytes *x, uint64_t v)
{
    p32(x, (uint32_t)(v >> 32));
    p32(x, (uint32_t)v);
}
static void praw(bytes *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

/* numeric field: ndigits digits given, weight, sign, dscale. */
static bytes numeric(int weight, unsigned sign, unsigned dscale, int nd, ...)
{
    bytes x = {{0}, 0};
    va_list ap;
    p16(&x, (unsigned)nd);
    p16(&x, (unsigned)(uint16_t)(int16_t)weight);
    p16(&x, sign);
    p16(&x, dscale);
    va_start(ap, nd);
    for (int i = 0; i < nd; i++)
        p16(&x, va_arg(ap, unsigned));
    va_end(ap);
    return x;
}

/* Decode from an exact-size heap copy; returns the decoder's result. */
static int dec(const tb_column *c, const void *p, size_t n, tb_value *v,
               tb_error *err)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    memset(v, 0xa5, sizeof *v);
    int rc = tb_pgbin_decode(c, copy, (uint32_t)n, &g_arena, v, err);
    /* the value must not point into the input (tb_event.h: NUL-terminated
     * strings owned by the decoder's arena) */
    if (rc == 0 && v->state == TB_VALUE_SET && c->kind >= TB_KIND_DECIMAL &&
        c->kind != TB_KIND_DATE && c->kind != TB_KIND_TIME_MICROS &&
        c->kind != TB_KIND_TIMESTAMP_MICROS &&
        c->kind != TB_KIND_LOCAL_TIMESTAMP_MICROS &&
        c->kind != TB_KIND_DURATION_MICROS) {
        assert_true(v->u.s < copy || v->u.s >= copy + n);
        assert_int_equal(v->u.s[v->len], '\0');
    }
    free(copy);
    return rc;
}

static void assert_same_value(tb_kind k, const tb_value *a, const tb_value *b)
{
    assert_int_equal(a->state, b->state);
    switch (k) {
    case TB_KIND_BOOLEAN:
        assert_int_equal(a->u.b, b->u.b);
        break;
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE:
        if (isnan(a->u.d)) {
            assert_true(isnan(b->u.d));
        } else {
            assert_memory_equal(&a->u.d, &b->u.d, sizeof(double));
        }
        break;
    case TB_KIND_INT:
    case TB_KIND_LONG:
    case TB_KIND_DATE:
    case TB_KIND_TIME_MICROS:
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
    case TB_KIND_DURATION_MICROS:
        assert_int_equal(a->u.i, b->u.i);
        break;
    default:
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->u.s, b->u.s, a->len);
        break;
    }
}

/* Binary field p/n must decode like the text PostgreSQL prints for it; and
 * no truncation of a fixed-size field may decode. */
static void same_as_text(const tb_column *c, const void *p, size_t n,
                         const char *text)
{
    tb_error err;
    tb_value vb, vt;
    tb_error_clear(&err);
    if (dec(c, p, n, &vb, &err) != 0)
        fail_msg("decoding %s: %s", text, err.msg);
    if (tb_pgtype_parse_text(c, text, strlen(text), &vt, &g_arena, &err) != 0)
        fail_msg("parsing %s: %s", text, err.msg);
    assert_same_value(c->kind, &vb, &vt);
    for (size_t k = 0; k < n; k++) {
        tb_value vx;
        int rc = dec(c, p, k, &vx, &err);
        bool varlen = c->kind == TB_KIND_STRING || c->kind == TB_KIND_BYTES ||
                      c->type_id == TB_PGOID_JSON ||
                      (c->type_id == TB_PGOID_JSONB && k > 0);
        if (!varlen) {
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, TB_ERR_SOURCE);
        }
    }
    tb_arena_reset(&g_arena);
}

static void decode_fails(const tb_column *c, const void *p, size_t n)
{
    tb_error err;
    tb_value v;
    tb_error_clear(&err);
    assert_int_equal(dec(c, p, n, &v, &err), -1);
    assert_int_equal(err.code, TB_ERR_SOURCE);
    assert_non_null(strstr(err.msg, "col"));
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                               */

static void test_decodable(void **state)
{
    (void)state;
    tb_column c = mkcol(TB_PGOID_INT4, TB_KIND_INT);
    assert_true(tb_pgbin_decodable(&c));
    c = mkcol(TB_PGOID_INT4, TB_KIND_LONG); /* kind does not match */
    assert_false(tb_pgbin_decodable(&c));
    c = mkcol(TB_PGOID_NUMERIC, TB_KIND_STRING); /* unconstrained numeric */
    assert_true(tb_pgbin_decodable(&c));
    c = mkcol(TB_PGOID_INTERVAL, TB_KIND_STRING);
    assert_false(tb_pgbin_decodable(&c));
    c = mkcol(1007, TB_KIND_STRING); /* int4[] */
    assert_false(tb_pgbin_decodable(&c));
    c = mkcol(869, TB_KIND_STRING); /* inet */
    assert_false(tb_pgbin_decodable(&c));
    c = mkcol(16385, TB_KIND_STRING); /* an enum or a domain */
    assert_false(tb_pgbin_decodable(&c));
    decode_fails(&c, "abc", 3);
}

static void test_bool_ints(void **state)
{
    (void)state;
    tb_column c = mkcol(TB_PGOID_BOOL, TB_KIND_BOOLEAN);
    same_as_text(&c, "\1", 1, "t");
    same_as_text(&c, "\0", 1, "f");
    decode_fails(&c, "\1\0", 2);

    bytes x = {{0}, 0};
    c = mkcol(TB_PGOID_INT2, TB_KIND_INT);
    p16(&x, 0x8000);
    same_as_text(&c, x.b, x.n, "-32768");
    x.n = 0;
    p16(&x, 0x7fff);
    same_as_text(&c, x.b, x.n, "32767");
    decode_fails(&c, "\0\0\0\0", 4);

    c = mkcol(TB_PGOID_INT4, TB_KIND_INT);
    x.n = 0;
    p32(&x, 0x80000000u);
    same_as_text(&c, x.b, x.n, "-2147483648");
    x.n = 0;
    p32(&x, 0xffffffffu);
    same_as_text(&c, x.b, x.n, "-1");
    decode_fails(&c, "\0\0\0", 3);
    decode_fails(&c, "\0\0\0\0\0", 5);

    c = mkcol(TB_PGOID_INT8, TB_KIND_LONG);
    x.n = 0;
    p64(&x, UINT64_C(0x8000000000000000));
    same_as_text(&c, x.b, x.n, "-9223372036854775808");
    x.n = 0;
    p64(&x, UINT64_C(0x7fffffffffffffff));
    same_as_text(&c, x.b, x.n, "9223372036854775807");

    c = mkcol(TB_PGOID_OID, TB_KIND_LONG); /* unsigned 32-bit */
    x.n = 0;
    p32(&x, 0xffffffffu);
    same_as_text(&c, x.b, x.n, "4294967295");

    c = mkcol(5069, TB_KIND_DECIMAL); /* xid8: unsigned 64-bit */
    c.precision = 20;
    x.n = 0;
    p64(&x, UINT64_MAX);
    same_as_text(&c, x.b, x.n, "18446744073709551615");
    x.n = 0;
    p64(&x, 0);
    same_as_text(&c, x.b, x.n, "0");
}

static void test_floats(void **state)
{
    (void)state;
    bytes x = {{0}, 0};
    tb_column c = mkcol(TB_PGOID_FLOAT4, TB_KIND_FLOAT);
    p32(&x, 0x7fc00000u);
    same_as_text(&c, x.b, x.n, "NaN");
    x.n = 0;
    p32(&x, 0x7f800000u);
    same_as_text(&c, x.b, x.n, "Infinity");
    x.n = 0;
    p32(&x, 0xff800000u);
    same_as_text(&c, x.b, x.n, "-Infinity");
    x.n = 0;
    p32(&x, 0x80000000u);
    same_as_text(&c, x.b, x.n, "-0");
    x.n = 0;
    p32(&x, 0x3dcccccdu); /* 0.1f */
    same_as_text(&c, x.b, x.n, "0.1");
    x.n = 0;
    p32(&x, 0x00000001u); /* smallest denormal */
    same_as_text(&c, x.b, x.n, "1e-45");

    c = mkcol(TB_PGOID_FLOAT8, TB_KIND_DOUBLE);
    x.n = 0;
    p64(&x, UINT64_C(0x3fb999999999999a)); /* 0.1 */
    same_as_text(&c, x.b, x.n, "0.1");
    x.n = 0;
    p64(&x, UINT64_C(0x8000000000000000));
    same_as_text(&c, x.b, x.n, "-0");
    x.n = 0;
    p64(&x, UINT64_C(0xfff0000000000000));
    same_as_text(&c, x.b, x.n, "-Infinity");
    x.n = 0;
    p64(&x, UINT64_C(0x7fefffffffffffff));
    same_as_text(&c, x.b, x.n, "1.7976931348623157e+308");
}

static void test_numeric(void **state)
{
    (void)state;
    tb_column c = mkcol(TB_PGOID_NUMERIC, TB_KIND_DECIMAL);
    bytes x;

    x = numeric(0, 0x0000, 0, 0);
    same_as_text(&c, x.b, x.n, "0");
    x = numeric(0, 0x0000, 2, 0);
    same_as_text(&c, x.b, x.n, "0.00");
    x = numeric(0, 0x4000, 2, 0); /* negative zero prints as zero */
    same_as_text(&c, x.b, x.n, "0.00");
    x = numeric(0, 0x0000, 2, 1, 5); /* numeric(12,2) 5 */
    same_as_text(&c, x.b, x.n, "5.00");
    x = numeric(0, 0x4000, 2, 2, 12, 5000);
    same_as_text(&c, x.b, x.n, "-12.50");
    x = numeric(-1, 0x4000, 3, 1, 10);
    same_as_text(&c, x.b, x.n, "-0.001");
    x = numeric(-8, 0x0000, 30, 1, 100); /* 1e-30 at scale 30 */
    same_as_text(&c, x.b, x.n, "0.000000000000000000000000000001");
    x = numeric(1, 0x0000, 0, 1, 1);
    same_as_text(&c, x.b, x.n, "10000");
    x = numeric(7, 0x0000, 0, 1, 1); /* 1e28: zero groups after the digits */
    same_as_text(&c, x.b, x.n, "10000000000000000000000000000");
    x = numeric(2, 0x0000, 6, 4, 12, 3456, 7890, 1200);
    same_as_text(&c, x.b, x.n, "1234567890.120000");
    /* 65 digits: 9 integer groups (1 + 32 digits) + 8 fraction groups */
    x = numeric(8, 0x4000, 32, 17, 1, 2345, 6789, 123, 4567, 8901, 2345, 6789,
                123, 4567, 8901, 2345, 6789, 123, 4567, 8901, 2345);
    same_as_text(&c, x.b, x.n,
                 "-123456789012345678901234567890123."
                 "45678901234567890123456789012345");
    /* digits beyond dscale are dropped (numeric_recv truncates them) */
    x = numeric(0, 0x0000, 1, 2, 3, 1415);
    same_as_text(&c, x.b, x.n, "3.1");
    x = numeric(-1, 0x4000, 1, 1, 10); /* -0.001 shown at scale 1 */
    same_as_text(&c, x.b, x.n, "0.0");
    x = numeric(0, 0xC000, 0, 0);
    same_as_text(&c, x.b, x.n, "NaN");
    x = numeric(0, 0xD000, 0, 0);
    same_as_text(&c, x.b, x.n, "Infinity");
    x = numeric(0, 0xF000, 0, 0);
    same_as_text(&c, x.b, x.n, "-Infinity");

    /* unconstrained numeric maps to STRING: the same text */
    tb_column s = mkcol(TB_PGOID_NUMERIC, TB_KIND_STRING);
    x = numeric(0, 0x0000, 3, 2, 42, 1230);
    same_as_text(&s, x.b, x.n, "42.123");
    x = numeric(0, 0xD000, 0, 0);
    same_as_text(&s, x.b, x.n, "Infinity");

    /* malformed */
    x = numeric(0, 0x0000, 0, 1, 10000); /* digit out of base */
    decode_fails(&c, x.b, x.n);
    x = numeric(0, 0x8000, 0, 0); /* unknown sign word */
    decode_fails(&c, x.b, x.n);
    x = numeric(0, 0x0000, 0x4000, 0); /* dscale beyond 0x3FFF */
    decode_fails(&c, x.b, x.n);
    x = numeric(0, 0x0000, 0, 2, 1, 2);
    decode_fails(&c, x.b, x.n - 1); /* ndigits says more than there is */
    decode_fails(&c, x.b, 7);
    x.b[x.n] = 0;
    x.b[x.n + 1] = 0;
    decode_fails(&c, x.b, x.n + 2); /* trailing garbage */
    /* a DECIMAL without specials (xid8-like) refuses NaN */
    tb_column ns = c;
    ns.decimal_specials = false;
    x = numeric(0, 0xC000, 0, 0);
    decode_fails(&ns, x.b, x.n);
}

static void test_dates_times(void **state)
{
    (void)state;
    bytes x = {{0}, 0};
    tb_column c = mkcol(TB_PGOID_DATE, TB_KIND_DATE);
    p32(&x, 0);
    same_as_text(&c, x.b, x.n, "2000-01-01");
    x.n = 0;
    p32(&x, (uint32_t)-10957);
    same_as_text(&c, x.b, x.n, "1970-01-01");
    x.n = 0;
    p32(&x, (uint32_t)-10958);
    same_as_text(&c, x.b, x.n, "1969-12-31");
    x.n = 0;
    p32(&x, (uint32_t)-1);
    same_as_text(&c, x.b, x.n, "1999-12-31");
    x.n = 0;
    p32(&x, (uint32_t)-2451545); /* Julian day 0 */
    same_as_text(&c, x.b, x.n, "4714-11-24 BC");
    x.n = 0;
    p32(&x, 2147483493u - 2451545u); /* last date */
    same_as_text(&c, x.b, x.n, "5874897-12-31");
    x.n = 0;
    p32(&x, 0x7fffffffu);
    same_as_text(&c, x.b, x.n, "infinity");
    x.n = 0;
    p32(&x, 0x80000000u);
    same_as_text(&c, x.b, x.n, "-infinity");
    x.n = 0;
    p32(&x, (uint32_t)-2451546); /* before Julian day 0 */
    decode_fails(&c, x.b, x.n);

    c = mkcol(TB_PGOID_TIMESTAMP, TB_KIND_LOCAL_TIMESTAMP_MICROS);
    tb_column tz = mkcol(TB_PGOID_TIMESTAMPTZ, TB_KIND_TIMESTAMP_MICROS);
    x.n = 0;
    p64(&x, 0);
    same_as_text(&c, x.b, x.n, "2000-01-01 00:00:00");
    same_as_text(&tz, x.b, x.n, "2000-01-01 00:00:00+00");
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(-946684800000001));
    same_as_text(&c, x.b, x.n, "1969-12-31 23:59:59.999999");
    same_as_text(&tz, x.b, x.n, "1969-12-31 23:59:59.999999+00");
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(-1));
    same_as_text(&c, x.b, x.n, "1999-12-31 23:59:59.999999");
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(-211813488000000000)); /* 4714-11-24 BC */
    same_as_text(&c, x.b, x.n, "4714-11-24 00:00:00 BC");
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(-211813488000000001)); /* one us earlier */
    decode_fails(&c, x.b, x.n);
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(1234567890123456));
    same_as_text(&tz, x.b, x.n, "2039-02-13 23:31:30.123456+00");
    x.n = 0;
    p64(&x, (uint64_t)INT64_MAX);
    same_as_text(&c, x.b, x.n, "infinity");
    same_as_text(&tz, x.b, x.n, "infinity");
    x.n = 0;
    p64(&x, (uint64_t)INT64_MIN);
    same_as_text(&tz, x.b, x.n, "-infinity");
    /* PostgreSQL's 294276 AD does not fit int64 microseconds since 1970 */
    x.n = 0;
    p64(&x, (uint64_t)INT64_C(9223371331200000000));
    decode_fails(&tz, x.b, x.n);

    c = mkcol(TB_PGOID_TIME, TB_KIND_TIME_MICROS);
    x.n = 0;
    p64(&x, 0);
    same_as_text(&c, x.b, x.n, "00:00:00");
    x.n = 0;
    p64(&x, UINT64_C(86400000000));
    same_as_text(&c, x.b, x.n, "24:00:00");
    x.n = 0;
    p64(&x, UINT64_C(45296789012));
    same_as_text(&c, x.b, x.n, "12:34:56.789012");
    x.n = 0;
    p64(&x, UINT64_C(86400000001));
    decode_fails(&c, x.b, x.n);
    x.n = 0;
    p64(&x, (uint64_t)-1);
    decode_fails(&c, x.b, x.n);
}

static void test_strings(void **state)
{
    (void)state;
    tb_column c = mkcol(TB_PGOID_TEXT, TB_KIND_STRING);
    same_as_text(&c, "", 0, "");
    same_as_text(&c, "h\xc3\xa9llo", 6, "h\xc3\xa9llo");
    c = mkcol(TB_PGOID_BPCHAR, TB_KIND_STRING);
    same_as_text(&c, "ab  ", 4, "ab  ");
    c = mkcol(TB_PGOID_VARCHAR, TB_KIND_STRING);
    same_as_text(&c, "x", 1, "x");

    c = mkcol(TB_PGOID_BYTEA, TB_KIND_BYTES);
    same_as_text(&c, "\0a\0\xff", 4, "\\x006100ff");
    same_as_text(&c, "", 0, "\\x");

    c = mkcol(TB_PGOID_JSON, TB_KIND_JSON);
    same_as_text(&c, "{\"a\": 1}", 8, "{\"a\": 1}");
    c = mkcol(TB_PGOID_JSONB, TB_KIND_JSON);
    same_as_text(&c, "\1{\"a\": 1}", 9, "{\"a\": 1}");
    decode_fails(&c, "\2{}", 3); /* unknown jsonb version */
    decode_fails(&c, "", 0);

    c = mkcol(TB_PGOID_UUID, TB_KIND_UUID);
    same_as_text(&c,
                 "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a"
                 "\x11",
                 16, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    decode_fails(&c, "0123456789abcdef0", 17);

    c = mkcol(TB_PGOID_VARBIT, TB_KIND_BITS);
    same_as_text(&c, "\0\0\0\0", 4, "");
    same_as_text(&c, "\0\0\0\x09\xa5\x80", 6, "101001011");
    decode_fails(&c, "\0\0\0\x09\xa5", 5);       /* too few bytes */
    decode_fails(&c, "\0\0\0\x08\xa5\x80", 6);   /* too many */
    decode_fails(&c, "\xff\xff\xff\xff\xa5", 5); /* negative length */
    c = mkcol(TB_PGOID_BIT, TB_KIND_BITS);
    same_as_text(&c, "\0\0\0\x03\x60", 5, "011");
}

/* Any 64 garbage bytes under every decodable type: an error or a value,
 * never a crash or an over-read. */
static void test_garbage(void **state)
{
    (void)state;
    static const uint32_t oids[] = {
        16,   17,   19,   20,   21,   23,   25,   26,   114,  700,  701, 1042,
        1043, 1082, 1083, 1114, 1184, 1560, 1562, 1700, 2950, 3802, 5069};
    static const tb_kind kinds[] = {TB_KIND_BOOLEAN,
                                    TB_KIND_BYTES,
                                    TB_KIND_STRING,
                                    TB_KIND_LONG,
                                    TB_KIND_INT,
                                    TB_KIND_INT,
                                    TB_KIND_STRING,
                                    TB_KIND_LONG,
                                    TB_KIND_JSON,
                                    TB_KIND_FLOAT,
                                    TB_KIND_DOUBLE,
                                    TB_KIND_STRING,
                                    TB_KIND_STRING,
                                    TB_KIND_DATE,
                                    TB_KIND_TIME_MICROS,
                                    TB_KIND_LOCAL_TIMESTAMP_MICROS,
                                    TB_KIND_TIMESTAMP_MICROS,
                                    TB_KIND_BITS,
                                    TB_KIND_BITS,
                                    TB_KIND_DECIMAL,
                                    TB_KIND_UUID,
                                    TB_KIND_JSON,
                                    TB_KIND_DECIMAL};
    uint8_t buf[64];
    uint32_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        if (round % 3 == 0) { /* plausible numeric headers */
            buf[0] = 0;
            buf[1] = (uint8_t)(buf[1] % 30);
        }
        for (size_t t = 0; t < sizeof oids / sizeof oids[0]; t++) {
            tb_column c = mkcol(oids[t], kinds[t]);
            assert_true(tb_pgbin_decodable(&c));
            for (size_t n = 0; n <= sizeof buf; n += 1 + n / 8) {
                tb_value v;
                tb_error err;
                tb_error_clear(&err);
                int rc = dec(&c, buf, n, &v, &err);
                assert_true(rc == 0 || rc == -1);
                if (rc == 0) {
                    assert_int_equal(v.state, TB_VALUE_SET);
                } else {
                    assert_int_equal(err.code, TB_ERR_SOURCE);
                }
            }
        }
        tb_arena_reset(&g_arena);
    }
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                               */

#define VI(x) ((tb_value){.state = TB_VALUE_SET, .u.i = (x)})
#define VD(x) ((tb_value){.state = TB_VALUE_SET, .u.d = (x)})
#define VB(x) ((tb_value){.state = TB_VALUE_SET, .u.b = (x)})
#define VS(x)                                                                  \
    ((tb_value){.state = TB_VALUE_SET, .len = (uint32_t)strlen(x), .u.s = (x)})

/* Encode v and compare the whole field (length word included) with want. */
static void enc_is(tb_kind k, uint32_t oid, tb_value v, const void *want,
                   size_t n)
{
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    tb_error_clear(&err);
    if (tb_pgbin_encode(k, oid, &v, &b, &err) != 0)
        fail_msg("encode: %s", err.msg);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    tb_buf_free(&b);
}

static void enc_fails(tb_kind k, uint32_t oid, tb_value v, tb_errcode code)
{
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    tb_error_clear(&err);
    assert_int_equal(tb_pgbin_encode(k, oid, &v, &b, &err), -1);
    assert_int_equal(err.code, code);
    tb_buf_free(&b);
}

/* Encode v for oid, then decode the payload as a column (oid, col kind)
 * and compare with want (a tb_value of kind ck). */
static void enc_roundtrip(tb_kind k, uint32_t oid, tb_value v, tb_kind ck,
                          tb_value want)
{
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    tb_value got;
    tb_column c = mkcol(oid, ck);
    tb_error_clear(&err);
    if (tb_pgbin_encode(k, oid, &v, &b, &err) != 0)
        fail_msg("encode: %s", err.msg);
    assert_true(b.len >= 4);
    uint32_t n = (uint32_t)b.data[0] << 24 | (uint32_t)b.data[1] << 16 |
                 (uint32_t)b.data[2] << 8 | b.data[3];
    assert_int_equal(n, b.len - 4);
    if (dec(&c, b.data + 4, n, &got, &err) != 0)
        fail_msg("decode: %s", err.msg);
    assert_same_value(ck, &got, &want);
    tb_buf_free(&b);
    tb_arena_reset(&g_arena);
}

static void test_encode_scalars(void **state)
{
    (void)state;
    tb_value null = {.state = TB_VALUE_NULL};
    enc_is(TB_KIND_LONG, TB_PGOID_INT8, null, "\xff\xff\xff\xff", 4);
    enc_is(TB_KIND_BOOLEAN, TB_PGOID_BOOL, VB(true), "\0\0\0\1\1", 5);
    enc_is(TB_KIND_INT, TB_PGOID_INT2, VI(-2), "\0\0\0\2\xff\xfe", 6);
    enc_is(TB_KIND_LONG, TB_PGOID_INT4, VI(INT32_MIN), "\0\0\0\4\x80\0\0\0", 8);
    enc_is(TB_KIND_INT, TB_PGOID_INT8, VI(1), "\0\0\0\x08\0\0\0\0\0\0\0\1", 12);
    enc_fails(TB_KIND_LONG, TB_PGOID_INT2, VI(32768), TB_ERR_TARGET);
    enc_fails(TB_KIND_LONG, TB_PGOID_INT4, VI(INT64_C(1) << 31), TB_ERR_TARGET);
    enc_is(TB_KIND_FLOAT, TB_PGOID_FLOAT4, VD(-0.0), "\0\0\0\4\x80\0\0\0", 8);
    enc_is(TB_KIND_DOUBLE, TB_PGOID_FLOAT8, VD(INFINITY),
           "\0\0\0\x08\x7f\xf0\0\0\0\0\0\0", 12);
    enc_is(TB_KIND_DATE, TB_PGOID_DATE, VI(10957), "\0\0\0\4\0\0\0\0", 8);
    enc_is(TB_KIND_DATE, TB_PGOID_DATE, VI(INT32_MAX),
           "\0\0\0\4\x7f\xff\xff\xff", 8);
    enc_is(TB_KIND_DATE, TB_PGOID_DATE, VI(INT32_MIN), "\0\0\0\4\x80\0\0\0", 8);
    enc_is(TB_KIND_TIMESTAMP_MICROS, TB_PGOID_TIMESTAMPTZ,
           VI(INT64_C(946684800000001)), "\0\0\0\x08\0\0\0\0\0\0\0\1", 12);
    enc_is(TB_KIND_LOCAL_TIMESTAMP_MICROS, TB_PGOID_TIMESTAMP, VI(INT64_MIN),
           "\0\0\0\x08\x80\0\0\0\0\0\0\0", 12);
    enc_fails(TB_KIND_LOCAL_TIMESTAMP_MICROS, TB_PGOID_TIMESTAMP,
              VI(INT64_MIN + 5), TB_ERR_TARGET);
    enc_is(TB_KIND_TIME_MICROS, TB_PGOID_TIME, VI(1),
           "\0\0\0\x08\0\0\0\0\0\0\0\1", 12);
    enc_fails(TB_KIND_TIME_MICROS, TB_PGOID_TIME, VI(-1), TB_ERR_TARGET);
    enc_is(TB_KIND_DURATION_MICROS, TB_PGOID_INTERVAL, VI(-1),
           "\0\0\0\x10\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0", 20);
    enc_fails(TB_KIND_DURATION_MICROS, TB_PGOID_INTERVAL, VI(INT64_MIN),
              TB_ERR_TARGET);
    enc_is(TB_KIND_STRING, TB_PGOID_TEXT, VS(""), "\0\0\0\0", 4);
    enc_is(TB_KIND_JSON, TB_PGOID_JSONB, VS("{}"), "\0\0\0\3\1{}", 7);
    enc_is(TB_KIND_STRING, TB_PGOID_JSON, VS("[]"), "\0\0\0\2[]", 6);
    tb_value bytes = {.state = TB_VALUE_SET, .len = 3, .u.s = "\0\1\0"};
    enc_is(TB_KIND_BYTES, TB_PGOID_BYTEA, bytes, "\0\0\0\3\0\1\0", 7);
    enc_is(TB_KIND_BITS, TB_PGOID_VARBIT, VS("101001011"),
           "\0\0\0\x06\0\0\0\x09\xa5\x80", 10);
    enc_is(TB_KIND_BITS, TB_PGOID_BIT, VS(""), "\0\0\0\x04\0\0\0\0", 8);
    enc_fails(TB_KIND_BITS, TB_PGOID_BIT, VS("0120"), TB_ERR_TARGET);
    enc_is(TB_KIND_UUID, TB_PGOID_UUID,
           VS("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
           "\0\0\0\x10\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38"
           "\x0a\x11",
           20);
    enc_is(TB_KIND_UUID, TB_PGOID_UUID,
           VS("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
           "\0\0\0\x10\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38"
           "\x0a\x11",
           20);
    enc_fails(TB_KIND_UUID, TB_PGOID_UUID,
              VS("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), TB_ERR_TARGET);
    enc_fails(TB_KIND_UUID, TB_PGOID_UUID,
              VS("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-"), TB_ERR_TARGET);
    enc_fails(TB_KIND_UUID, TB_PGOID_UUID,
              VS("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), TB_ERR_TARGET);

    tb_value unch = {.state = TB_VALUE_UNCHANGED};
    enc_fails(TB_KIND_LONG, TB_PGOID_INT8, unch, TB_ERR_USAGE);
    enc_fails(TB_KIND_STRING, TB_PGOID_INT8, VS("1"), TB_ERR_USAGE);
    assert_false(tb_pgbin_encodable(TB_KIND_FLOAT, TB_PGOID_FLOAT8));
    assert_false(tb_pgbin_encodable(TB_KIND_STRING, TB_PGOID_INTERVAL));
    assert_true(tb_pgbin_encodable(TB_KIND_DECIMAL, TB_PGOID_NUMERIC));
    assert_true(tb_pgbin_encodable(TB_KIND_SET, 1009));

    /* round trips through the decoder */
    enc_roundtrip(TB_KIND_DATE, TB_PGOID_DATE, VI(-800000), TB_KIND_DATE,
                  VI(-800000));
    enc_roundtrip(TB_KIND_TIMESTAMP_MICROS, TB_PGOID_TIMESTAMPTZ,
                  VI(-123456789012345), TB_KIND_TIMESTAMP_MICROS,
                  VI(-123456789012345));
    enc_roundtrip(TB_KIND_FLOAT, TB_PGOID_FLOAT4, VD(0.1f), TB_KIND_FLOAT,
                  VD(0.1f));
    enc_roundtrip(TB_KIND_JSON, TB_PGOID_JSONB, VS("{\"k\": [1, 2]}"),
                  TB_KIND_JSON, VS("{\"k\": [1, 2]}"));
    enc_roundtrip(TB_KIND_UUID, TB_PGOID_UUID,
                  VS("0000ffff-0000-ffff-0000-ffff0000ffff"), TB_KIND_UUID,
                  VS("0000ffff-0000-ffff-0000-ffff0000ffff"));
    enc_roundtrip(TB_KIND_BITS, TB_PGOID_VARBIT, VS("1111111100000001"),
                  TB_KIND_BITS, VS("1111111100000001"));
}

static void test_encode_numeric(void **state)
{
    (void)state;
    /* exact bytes for a few */
    bytes x = numeric(0, 0x4000, 2, 2, 12, 5000);
    bytes f = {{0}, 0};
    p32(&f, (uint32_t)x.n);
    praw(&f, x.b, x.n);
    enc_is(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("-12.50"), f.b, f.n);
    x = numeric(0, 0x0000, 0, 0);
    f.n = 0;
    p32(&f, (uint32_t)x.n);
    praw(&f, x.b, x.n);
    enc_is(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("-0"), f.b, f.n);
    enc_is(TB_KIND_LONG, TB_PGOID_NUMERIC, VI(0), f.b, f.n);
    x = numeric(1, 0x0000, 0, 1, 1); /* 10000: the zero group is dropped */
    f.n = 0;
    p32(&f, (uint32_t)x.n);
    praw(&f, x.b, x.n);
    enc_is(TB_KIND_LONG, TB_PGOID_NUMERIC, VI(10000), f.b, f.n);
    enc_is(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("0010000"), f.b, f.n);
    x = numeric(0, 0xC000, 0, 0);
    f.n = 0;
    p32(&f, (uint32_t)x.n);
    praw(&f, x.b, x.n);
    enc_is(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("NaN"), f.b, f.n);
    x = numeric(0, 0xF000, 0, 0);
    f.n = 0;
    p32(&f, (uint32_t)x.n);
    praw(&f, x.b, x.n);
    enc_is(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("-Infinity"), f.b, f.n);

    /* canonical decimal texts survive encode + decode unchanged */
    static const char *const texts[] = {
        "0",
        "0.00",
        "5.00",
        "-12.50",
        "-0.001",
        "0.000000000000000000000000000001",
        "10000",
        "99999999",
        "100000000",
        "1234567890.120000",
        "18446744073709551615",
        "-123456789012345678901234567890123."
        "45678901234567890123456789012345",
        "0.5",
        "0.00010",
        "NaN",
        "Infinity",
        "-Infinity",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        enc_roundtrip(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS(texts[i]),
                      TB_KIND_DECIMAL, VS(texts[i]));
    /* integers */
    static const int64_t ints[] = {0,         1,        -1,        9999,
                                   10000,     -10001,   INT64_MAX, INT64_MIN,
                                   100000000, 123456789};
    static const char *const itexts[] = {"0",
                                         "1",
                                         "-1",
                                         "9999",
                                         "10000",
                                         "-10001",
                                         "9223372036854775807",
                                         "-9223372036854775808",
                                         "100000000",
                                         "123456789"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        enc_roundtrip(TB_KIND_LONG, TB_PGOID_NUMERIC, VI(ints[i]),
                      TB_KIND_DECIMAL, VS(itexts[i]));
    /* pseudo-random decimals: text -> binary -> text is the identity */
    uint64_t seed = 42;
    char buf[80];
    for (int r = 0; r < 2000; r++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int ni = (int)(seed >> 59) % 25, nf = (int)(seed >> 54) % 20;
        size_t n = 0;
        if (seed & 1) buf[n++] = '-';
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint64_t s2 = seed;
        for (int k = 0; k < ni; k++) {
            int d = (int)((s2 >> (k % 60)) % 10);
            if (k == 0 && d == 0) d = 7;
            buf[n++] = (char)('0' + d);
        }
        if (ni == 0) buf[n++] = '0';
        if (nf) {
            buf[n++] = '.';
            for (int k = 0; k < nf; k++)
                buf[n++] = (char)('0' + (int)((s2 >> ((k * 7) % 60)) % 10));
        }
        buf[n] = '\0';
        /* "-0.000" prints without its sign */
        const char *want = buf;
        bool allzero = true;
        for (size_t k = 0; k < n; k++)
            allzero &= buf[k] < '1' || buf[k] > '9';
        if (allzero && buf[0] == '-') want = buf + 1;
        enc_roundtrip(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS(buf),
                      TB_KIND_DECIMAL, VS(want));
    }

    /* unconstrained numeric arrives as STRING and goes back to numeric */
    enc_roundtrip(TB_KIND_STRING, TB_PGOID_NUMERIC,
                  VS("1000000000000000000000000000000.5"), TB_KIND_STRING,
                  VS("1000000000000000000000000000000.5"));
    enc_fails(TB_KIND_STRING, TB_PGOID_NUMERIC, VS("abc"), TB_ERR_TARGET);
    enc_fails(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS(""), TB_ERR_TARGET);
    enc_fails(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("-"), TB_ERR_TARGET);
    enc_fails(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("1.2.3"), TB_ERR_TARGET);
    enc_fails(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("1e5"), TB_ERR_TARGET);
    enc_fails(TB_KIND_DECIMAL, TB_PGOID_NUMERIC, VS("12a"), TB_ERR_TARGET);
}

static void test_encode_set(void **state)
{
    (void)state;
    bytes want = {{0}, 0};
    /* "a,,bc": ndim 1, no nulls, text, 3 elements from 1, then each */
    p32(&want, 12 + 8 + 4 + 1 + 4 + 0 + 4 + 2);
    p32(&want, 1);
    p32(&want, 0);
    p32(&want, 25);
    p32(&want, 3);
    p32(&want, 1);
    p32(&want, 1);
    praw(&want, "a", 1);
    p32(&want, 0);
    p32(&want, 2);
    praw(&want, "bc", 2);
    enc_is(TB_KIND_SET, 1009, VS("a,,bc"), want.b, want.n);
    /* "": the empty array */
    want.n = 0;
    p32(&want, 12);
    p32(&want, 0);
    p32(&want, 0);
    p32(&want, 25);
    enc_is(TB_KIND_SET, 1009, VS(""), want.b, want.n);
}

/* ---------------------------------------------------------------------- */
/* COPY BINARY framing                                                    */

/* Build a stream of 3 tuples x 3 columns (int8, text, numeric) with NULLs,
 * then parse it. */
static void build_stream(tb_buf *b)
{
    tb_error err;
    tb_error_clear(&err);
    assert_int_equal(tb_pgbin_put_header(b), 0);
    for (int r = 0; r < 3; r++) {
        tb_value id = VI(r - 1);
        tb_value txt = r == 1 ? (tb_value){.state = TB_VALUE_NULL}
                              : VS(r ? "row two" : "");
        tb_value num = VS(r == 2 ? "-1.25" : "100000");
        assert_int_equal(tb_pgbin_put_tuple(b, 3), 0);
        assert_int_equal(tb_pgbin_encode(TB_KIND_LONG, 20, &id, b, &err), 0);
        assert_int_equal(tb_pgbin_encode(TB_KIND_STRING, 25, &txt, b, &err), 0);
        assert_int_equal(tb_pgbin_encode(TB_KIND_DECIMAL, 1700, &num, b, &err),
                         0);
    }
    assert_int_equal(tb_pgbin_put_trailer(b), 0);
}

/* Parse a whole stream; returns rows read, -1 on an error. */
static int parse_stream(const char *p, const char *end, char out[][3][16])
{
    tb_column cols[3] = {mkcol(20, TB_KIND_LONG), mkcol(25, TB_KIND_STRING),
                         mkcol(1700, TB_KIND_DECIMAL)};
    tb_error err;
    int rows = 0;
    tb_error_clear(&err);
    if (tb_pgbin_skip_header(&p, end, &err) < 0) return -1;
    for (;;) {
        int n = tb_pgbin_tuple_start(&p, end, &err);
        if (n == -2) return -1;
        if (n == -1) break;
        if (n != 3) return -1;
        for (int i = 0; i < n; i++) {
            const char *fp;
            int32_t fl;
            tb_value v;
            if (tb_pgbin_next_field(&p, end, &fp, &fl, &err) < 0) return -1;
            if (fl < 0) {
                snprintf(out[rows][i], 16, "NULL");
                continue;
            }
            if (tb_pgbin_decode(&cols[i], fp, (uint32_t)fl, &g_arena, &v,
                                &err) < 0)
                return -1;
            if (i == 0)
                snprintf(out[rows][i], 16, "%lld", (long long)v.u.i);
            else
                snprintf(out[rows][i], 16, "%s", v.u.s);
        }
        rows++;
    }
    return p == end ? rows : -1;
}

static void test_copy_framing(void **state)
{
    (void)state;
    tb_buf b = TB_BUF_INIT;
    char out[3][3][16];
    build_stream(&b);
    assert_memory_equal(b.data, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    assert_memory_equal(b.data + b.len - 2, "\xff\xff", 2);
    assert_int_equal(
        parse_stream((const char *)b.data, (const char *)b.data + b.len, out),
        3);
    assert_string_equal(out[0][0], "-1");
    assert_string_equal(out[0][1], "");
    assert_string_equal(out[0][2], "100000");
    assert_string_equal(out[1][1], "NULL");
    assert_string_equal(out[2][0], "1");
    assert_string_equal(out[2][1], "row two");
    assert_string_equal(out[2][2], "-1.25");

    /* every proper prefix fails cleanly (exact-size copies for ASan) */
    for (size_t n = 0; n < b.len; n++) {
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, b.data, n);
        assert_int_equal(parse_stream(copy, copy + n, out), -1);
        free(copy);
    }
    tb_arena_reset(&g_arena);

    /* a header extension is skipped; OIDs or unknown critical flags are
     * refused; low flag bits are ignored */
    tb_error err;
    const char *p;
    static const char ext[] = "PGCOPY\n\377\r\n\0\0\0\0\1\0\0\0\3xyz\xff\xff";
    p = ext;
    assert_int_equal(tb_pgbin_skip_header(&p, ext + sizeof ext - 1, &err), 0);
    assert_ptr_equal(p, ext + 22);
    assert_int_equal(tb_pgbin_tuple_start(&p, ext + sizeof ext - 1, &err), -1);
    static const char oids[] = "PGCOPY\n\377\r\n\0\0\1\0\0\0\0\0\0";
    p = oids;
    assert_int_equal(tb_pgbin_skip_header(&p, oids + 19, &err), -1);
    assert_int_equal(err.code, TB_ERR_SOURCE);
    static const char sig[] = "PGCOPY\n\377\r\r\0\0\0\0\0\0\0\0\0";
    p = sig;
    assert_int_equal(tb_pgbin_skip_header(&p, sig + 19, &err), -1);
    static const char longext[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\x09xyz";
    p = longext;
    assert_int_equal(tb_pgbin_skip_header(&p, longext + 22, &err), -1);
    /* a field count below -1 and a negative field length are malformed */
    static const char badcount[] = "\xff\xfe";
    p = badcount;
    assert_int_equal(tb_pgbin_tuple_start(&p, badcount + 2, &err), -2);
    static const char badlen[] = "\xff\xff\xff\xfe";
    const char *fp;
    int32_t fl;
    p = badlen;
    assert_int_equal(tb_pgbin_next_field(&p, badlen + 4, &fp, &fl, &err), -1);
    tb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodable),
        cmocka_unit_test(test_bool_ints),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_dates_times),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_encode_scalars),
        cmocka_unit_test(test_encode_numeric),
        cmocka_unit_test(test_encode_set),
        cmocka_unit_test(test_copy_framing),
    };
    return cmocka_run_group_tests_name("pg_binary", tests, setup, teardown);
}
