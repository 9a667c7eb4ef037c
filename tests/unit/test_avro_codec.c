/* test_avro_codec.c - Avro binary codec: decimals, round trips of every
 * kind, truncation and corruption, schema resolution, Confluent framing and
 * interoperability with avro-c in both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_avro.h"

/* ---- helpers -------------------------------------------------------- */

#define NKINDS 19 /* columns of the all-kinds table */

/* DECIMAL(65,30) extremes and a few canonical texts. */
#define DEC_MAX                                                                \
    "99999999999999999999999999999999999.999999999999999999999999999999"
#define DEC_MIN                                                                \
    "-99999999999999999999999999999999999.999999999999999999999999999999"
#define DEC_ZERO  "0.000000000000000000000000000000"
#define DEC_TINY  "-0.000000000000000000000000000001"
#define DEC_TYPIC "12345.678900000000000000000000000000"

static tb_value vi(int64_t i)
{
    tb_value v = {.state = TB_VALUE_SET};
    v.u.i = i;
    return v;
}

static tb_value vd(double d)
{
    tb_value v = {.state = TB_VALUE_SET};
    v.u.d = d;
    return v;
}

static tb_value vb(bool b)
{
    tb_value v = {.state = TB_VALUE_SET};
    v.u.b = b;
    return v;
}

static tb_value vsn(const char *s, size_t n)
{
    tb_value v = {.state = TB_VALUE_SET, .len = (uint32_t)n};
    v.u.s = s;
    return v;
}

static tb_value vs(const char *s)
{
    return vsn(s, strlen(s));
}

static const tb_value VNULL = {.state = TB_VALUE_NULL};
static const tb_value VUNCH = {.state = TB_VALUE_UNCHANGED};

/* One column of every kind, plus decimals with NaN/Infinity (non-nullable
 * and nullable specials); all nullable when `nullable`. */
static tb_table *all_kinds(bool nullable)
{
    static const struct {
        const char *name, *st;
        tb_kind k;
        int p, s;
    } c[NKINDS] = {
        {"b", "boolean", TB_KIND_BOOLEAN, 0, 0},
        {"i", "integer", TB_KIND_INT, 0, 0},
        {"l", "bigint", TB_KIND_LONG, 0, 0},
        {"f", "real", TB_KIND_FLOAT, 0, 0},
        {"d", "double precision", TB_KIND_DOUBLE, 0, 0},
        {"dec", "decimal(65,30)", TB_KIND_DECIMAL, 65, 30},
        {"s", "text", TB_KIND_STRING, 0, 0},
        {"by", "bytea", TB_KIND_BYTES, 0, 0},
        {"dt", "date", TB_KIND_DATE, 0, 0},
        {"tm", "time", TB_KIND_TIME_MICROS, 0, 6},
        {"ts", "timestamptz", TB_KIND_TIMESTAMP_MICROS, 0, 6},
        {"lts", "timestamp", TB_KIND_LOCAL_TIMESTAMP_MICROS, 0, 6},
        {"dur", "time(6)", TB_KIND_DURATION_MICROS, 0, 6},
        {"u", "uuid", TB_KIND_UUID, 0, 0},
        {"j", "jsonb", TB_KIND_JSON, 0, 0},
        {"bits", "bit(8)", TB_KIND_BITS, 8, 0},
        {"set", "set('a','b','c')", TB_KIND_SET, 0, 0},
        {"nsp", "numeric(10,2)", TB_KIND_DECIMAL, 10, 2},
        {"nsp2", "numeric(10,2)", TB_KIND_DECIMAL, 10, 2},
    };
    tb_table *t = tb_table_new("shop", "public", "all kinds", NKINDS);
    assert_non_null(t);
    for (int i = 0; i < NKINDS; i++)
        assert_int_equal(
            tb_table_set_column(t, i, c[i].name, c[i].st, "x", c[i].k, c[i].p,
                                c[i].s, nullable || i == NKINDS - 1, i == 1),
            0);
    t->cols[NKINDS - 2].decimal_specials = true;
    t->cols[NKINDS - 1].decimal_specials = true;
    return t;
}

static void init_change(tb_change *c, const tb_table *t, tb_op op,
                        const tb_value *before, const tb_value *after)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    c->table = t;
    c->before = before;
    c->after = after;
    c->source.connector = "postgresql";
    c->source.name = "pipe";
    c->source.db = "shop";
    c->source.position = "0/16B3748";
    c->source.txid = 7777;
    c->source.commit_us = 1732582923123456;
    c->source.snapshot = false;
    c->ts_ms = 1732582924000;
}

static void assert_value_equal(const tb_column *col, const tb_value *want,
                               const tb_value *got)
{
    if (want->state != got->state)
        fail_msg("column %s: state %d, want %d", col->name, got->state,
                 want->state);
    if (want->state != TB_VALUE_SET) return;
    switch (col->kind) {
    case TB_KIND_BOOLEAN:
        assert_int_equal(want->u.b, got->u.b);
        break;
    case TB_KIND_FLOAT: {
        float a = (float)want->u.d, b = (float)got->u.d;
        assert_memory_equal(&a, &b, sizeof a); /* bitwise: -0.0, NaN */
        break;
    }
    case TB_KIND_DOUBLE:
        if (isnan(want->u.d))
            assert_true(isnan(got->u.d));
        else
            assert_memory_equal(&want->u.d, &got->u.d, sizeof(double));
        break;
    case TB_KIND_DECIMAL:
    case TB_KIND_STRING:
    case TB_KIND_BYTES:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
    case TB_KIND_SET:
        if (want->len != got->len || memcmp(want->u.s, got->u.s, want->len))
            fail_msg("column %s: got \"%.*s\" want \"%.*s\"", col->name,
                     (int)got->len, got->u.s, (int)want->len, want->u.s);
        assert_int_equal(got->u.s[got->len], '\0'); /* NUL-terminated */
        break;
    default:
        assert_int_equal(want->u.i, got->u.i);
    }
}

static void assert_row_equal(const tb_table *t, const tb_value *want,
                             const tb_value *got)
{
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    for (int i = 0; i < t->ncols; i++)
        assert_value_equal(&t->cols[i], &want[i], &got[i]);
}

static void assert_src_equal(const char *want, const char *got)
{
    assert_non_null(got);
    assert_string_equal(want ? want : "", got);
}

/* Encode c, decode it back and compare everything. */
static void roundtrip(const tb_change *c)
{
    tb_buf buf = TB_BUF_INIT;
    tb_arena arena;
    tb_error err;
    tb_change got;
    tb_value before[64], after[64];
    tb_arena_init(&arena, 0);
    if (tb_avro_encode_change(c, &buf, &err) < 0) fail_msg("%s", err.msg);
    if (tb_avro_decode_change(c->table, buf.data, buf.len, &got, before, after,
                              &arena, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got.op, c->op);
    assert_ptr_equal(got.table, c->table);
    assert_row_equal(c->table, c->before, got.before);
    assert_row_equal(c->table, c->after, got.after);
    assert_src_equal(c->source.connector, got.source.connector);
    assert_src_equal(c->source.name, got.source.name);
    assert_src_equal(c->source.db, got.source.db);
    assert_src_equal(c->source.position, got.source.position);
    assert_int_equal(got.source.txid, c->source.txid < 0 ? -1 : c->source.txid);
    assert_int_equal(got.source.commit_us, c->source.commit_us);
    assert_int_equal(got.source.snapshot, c->source.snapshot);
    assert_int_equal(got.ts_ms, c->ts_ms);
    tb_arena_free(&arena);
    tb_buf_free(&buf);
}

/* Three rows of the all-kinds table: typical, low extremes, high
 * extremes. */
static const char emoji[] = "h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x8e\x89 "
                            "\xe6\x97\xa5\xe6\x9c\xac";
static const char with_nul[] = {'a', '\0', 'b', '\0'};

static void row_typical(tb_value *r)
{
    tb_value v[NKINDS] = {
        vb(true),
        vi(42),
        vi(1234567890123LL),
        vd(1.5),
        vd(3.14159),
        vs(DEC_TYPIC),
        vs("hello"),
        vsn(with_nul, 3),
        vi(19000),
        vi(3600000000LL),
        vi(1700000000000000LL),
        vi(1700000000000000LL),
        vi(-90061000000LL),
        vs("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        vs("{\"a\": [1, 2]}"),
        vs("10110011"),
        vs("a,b,c"),
        vs("-12.50"),
        vs("NaN"),
    };
    memcpy(r, v, sizeof v);
}

static void row_low(tb_value *r)
{
    tb_value v[NKINDS] = {
        vb(false),       vi(INT32_MIN),
        vi(INT64_MIN),   vd(-0.0),
        vd(-0.0),        vs(DEC_MIN),
        vs(""),          vsn("", 0),
        vi(INT32_MIN),   vi(0),
        vi(INT64_MIN),   vi(INT64_MIN),
        vi(INT64_MIN),   vs("00000000-0000-0000-0000-000000000000"),
        vs("null"),      vs(""),
        vs(""),          vs("Infinity"),
        vs("-Infinity"),
    };
    memcpy(r, v, sizeof v);
}

static void row_high(tb_value *r)
{
    static char all_bytes[256];
    for (int i = 0; i < 256; i++)
        all_bytes[i] = (char)i;
    tb_value v[NKINDS] = {
        vb(true),
        vi(INT32_MAX),
        vi(INT64_MAX),
        vd(INFINITY),
        vd(NAN),
        vs(DEC_MAX),
        vs(emoji),
        vsn(all_bytes, 256),
        vi(INT32_MAX),
        vi(86400000000LL),
        vi(INT64_MAX),
        vi(INT64_MAX),
        vi(INT64_MAX),
        vs("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        vs("\"\xf0\x9f\x8e\x89\""),
        vs("1"),
        vs("x"),
        vs("0.00"),
        vs("99999999.99"),
    };
    memcpy(r, v, sizeof v);
}

static void row_misc(tb_value *r)
{
    row_typical(r);
    r[3] = vd(-INFINITY);
    r[4] = vd(-INFINITY);
    r[5] = vs(DEC_ZERO);
    r[16] = vs("only,two");
    r[17] = vs("-99999999.99");
}

static void row_tiny(tb_value *r)
{
    row_typical(r);
    r[4] = vd(INFINITY);
    r[5] = vs(DEC_TINY);
    r[17] = vs("0.01");
    r[18] = VNULL; /* nullable specials column */
}

/* ---- decimal conversion --------------------------------------------- */

static void check_dec(const char *text, int prec, int scale, const char *hex,
                      const char *back)
{
    uint8_t b[TB_AVRO_DECIMAL_MAX_BYTES];
    size_t n = 0;
    tb_error err;
    char h[2 * TB_AVRO_DECIMAL_MAX_BYTES + 1];
    if (tb_avro_decimal_to_bytes(text, strlen(text), prec, scale, b, sizeof b,
                                 &n, &err) < 0)
        fail_msg("%s: %s", text, err.msg);
    for (size_t i = 0; i < n; i++)
        snprintf(h + 2 * i, 3, "%02x", b[i]);
    h[2 * n] = '\0';
    assert_string_equal(h, hex);
    tb_arena a;
    tb_arena_init(&a, 0);
    const char *t;
    uint32_t tl;
    assert_int_equal(tb_avro_decimal_from_bytes(b, n, scale, &a, &t, &tl, &err),
                     0);
    assert_string_equal(t, back);
    assert_int_equal(tl, strlen(back));
    tb_arena_free(&a);
}

static void test_decimal_vectors(void **state)
{
    (void)state;
    check_dec("0", 10, 0, "00", "0");
    check_dec("1", 10, 0, "01", "1");
    check_dec("-1", 10, 0, "ff", "-1");
    check_dec("127", 10, 0, "7f", "127");
    check_dec("128", 10, 0, "0080", "128");
    check_dec("-128", 10, 0, "80", "-128");
    check_dec("-129", 10, 0, "ff7f", "-129");
    check_dec("2.55", 10, 2, "00ff", "2.55");
    check_dec("+2.56", 10, 2, "0100", "2.56");
    check_dec("1.5", 10, 2, "0096", "1.50");   /* padded to the scale */
    check_dec("-0.00", 10, 2, "00", "0.00");   /* no negative zero */
    check_dec("007.", 10, 0, "07", "7");       /* leading zeros, bare point */
    check_dec(".5", 10, 1, "05", "0.5");       /* no integer digits */
    check_dec("1.2300", 10, 2, "7b", "1.23");  /* exact trailing zeros */
    check_dec("-0.05", 10, 3, "ce", "-0.050"); /* fraction-only negative */
    check_dec("9223372036854775808", 40, 0, "008000000000000000",
              "9223372036854775808");
    check_dec("-9223372036854775809", 40, 0, "ff7fffffffffffffff",
              "-9223372036854775809");
    check_dec("100000000000000000000000000000000000000", 39, 0,
              "4b3b4ca85a86c47a098a224000000000",
              "100000000000000000000000000000000000000");
    check_dec("-100000000000000000000000000000000000000", 39, 0,
              "b4c4b357a5793b85f675ddc000000000",
              "-100000000000000000000000000000000000000");
    check_dec("12345678901234567890.123", 30, 3, "029d42b64e76714244cb",
              "12345678901234567890.123");
    check_dec(DEC_MAX, 65, 30,
              "00f316271c7fc3908a8bef464e3945ef7a253609ffffffffffffffff",
              DEC_MAX);
    check_dec(DEC_MIN, 65, 30,
              "ff0ce9d8e3803c6f757410b9b1c6ba1085dac9f60000000000000001",
              DEC_MIN);
}

static void test_decimal_errors(void **state)
{
    (void)state;
    uint8_t b[TB_AVRO_DECIMAL_MAX_BYTES];
    size_t n;
    tb_error err;
    static const char *bad[] = {"",   "-",    ".",   "1e5", "1.2.3", " 1",
                                "1 ", "0x10", "NaN", "--1", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tb_avro_decimal_to_bytes(bad[i], strlen(bad[i]), 10, 2,
                                                  b, sizeof b, &n, &err),
                         -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
    }
    /* More fraction digits than the scale: refused, never rounded. */
    assert_int_equal(
        tb_avro_decimal_to_bytes("1.234", 5, 10, 2, b, sizeof b, &n, &err), -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_non_null(strstr(err.msg, "scale"));
    /* More digits than the precision. */
    assert_int_equal(
        tb_avro_decimal_to_bytes("1000.00", 7, 5, 2, b, sizeof b, &n, &err),
        -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_int_equal(
        tb_avro_decimal_to_bytes("999.99", 6, 5, 2, b, sizeof b, &n, &err), 0);
    /* Bytes side: empty and oversized. */
    tb_arena a;
    tb_arena_init(&a, 0);
    const char *t;
    uint32_t tl;
    assert_int_equal(tb_avro_decimal_from_bytes(b, 0, 2, &a, &t, &tl, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    tb_arena_free(&a);
}

/* 1000-digit values survive the big-number path both ways. */
static void test_decimal_huge(void **state)
{
    (void)state;
    char text[1003];
    uint8_t b[TB_AVRO_DECIMAL_MAX_BYTES];
    size_t n;
    tb_error err;
    tb_arena a;
    tb_arena_init(&a, 0);
    text[0] = '-';
    for (int i = 1; i <= 1000; i++)
        text[i] = (char)('0' + (i * 7) % 10 + (i == 1));
    text[1001] = '\0';
    if (tb_avro_decimal_to_bytes(text, 1001, 1000, 0, b, sizeof b, &n, &err))
        fail_msg("%s", err.msg);
    assert_true(n <= TB_AVRO_DECIMAL_MAX_BYTES);
    const char *t;
    uint32_t tl;
    assert_int_equal(tb_avro_decimal_from_bytes(b, n, 0, &a, &t, &tl, &err), 0);
    assert_string_equal(t, text);
    /* 1001 digits is over the limit. */
    text[1001] = '1';
    text[1002] = '\0';
    assert_int_equal(
        tb_avro_decimal_to_bytes(text, 1002, 0, 0, b, sizeof b, &n, &err), -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    tb_arena_free(&a);
}

/* ---- round trips ---------------------------------------------------- */

static void test_roundtrip_all_kinds(void **state)
{
    (void)state;
    void (*rows[])(tb_value *) = {row_typical, row_low, row_high, row_misc,
                                  row_tiny};
    for (int nullable = 0; nullable < 2; nullable++) {
        tb_table *t = all_kinds(nullable);
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
            tb_value a[NKINDS], b[NKINDS];
            tb_change c;
            rows[i](a);
            rows[(i + 1) % 5](b);
            init_change(&c, t, TB_OP_UPDATE, b, a);
            roundtrip(&c);
            init_change(&c, t, TB_OP_CREATE, NULL, a);
            c.source.txid = -1;
            c.source.snapshot = true;
            roundtrip(&c);
            init_change(&c, t, TB_OP_DELETE, a, NULL);
            c.source.connector = NULL; /* written as "" */
            roundtrip(&c);
        }
        tb_change c;
        init_change(&c, t, TB_OP_TRUNCATE, NULL, NULL);
        roundtrip(&c);
        tb_table_free(t);
    }
}

static void test_roundtrip_nulls(void **state)
{
    (void)state;
    tb_table *t = all_kinds(true);
    tb_value a[NKINDS], b[NKINDS];
    for (int i = 0; i < NKINDS; i++)
        a[i] = VNULL;
    row_typical(b);
    for (int i = 0; i < NKINDS; i += 2)
        b[i] = VNULL;
    tb_change c;
    init_change(&c, t, TB_OP_UPDATE, a, b);
    roundtrip(&c);
    tb_table_free(t);
}

/* UNCHANGED survives as UNCHANGED, distinct from NULL, in both rows and
 * both nullable and NOT NULL columns. */
static void test_roundtrip_unchanged(void **state)
{
    (void)state;
    for (int nullable = 0; nullable < 2; nullable++) {
        tb_table *t = all_kinds(nullable);
        tb_value a[NKINDS], b[NKINDS];
        row_typical(a);
        row_high(b);
        for (int i = 0; i < NKINDS; i += 3)
            a[i] = VUNCH;
        for (int i = 1; i < NKINDS; i += 4)
            b[i] = VUNCH;
        if (nullable) a[1] = VNULL;
        tb_change c;
        init_change(&c, t, TB_OP_UPDATE, b, a);
        roundtrip(&c);
        tb_table_free(t);
    }
}

/* Encoding errors: values that do not fit the column. */
static void test_encode_errors(void **state)
{
    (void)state;
    tb_table *t = all_kinds(false);
    tb_value a[NKINDS];
    tb_buf buf = TB_BUF_INIT;
    tb_error err;
    tb_change c;
    struct {
        int col;
        tb_value v;
        tb_errcode code;
    } cases[] = {
        {1, {.state = TB_VALUE_NULL}, TB_ERR_SCHEMA},
        {1, vi((int64_t)INT32_MAX + 1), TB_ERR_SCHEMA},
        {8, vi((int64_t)INT32_MIN - 1), TB_ERR_SCHEMA},
        {5, vs("NaN"), TB_ERR_SCHEMA}, /* no decimal_specials */
        {5, vs("1.0000000000000000000000000000001"), TB_ERR_SCHEMA},
        {17, vs("12.3.4"), TB_ERR_DECODE},
        {17, vs("123456789.00"), TB_ERR_SCHEMA},
        {6, {.state = 9}, TB_ERR_INTERNAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        row_typical(a);
        a[cases[i].col] = cases[i].v;
        init_change(&c, t, TB_OP_CREATE, NULL, a);
        assert_int_equal(tb_buf_append(&buf, "xy", 2), 0);
        assert_int_equal(tb_avro_encode_change(&c, &buf, &err), -1);
        assert_int_equal(err.code, cases[i].code);
        assert_non_null(strstr(err.msg, t->cols[cases[i].col].name));
        assert_int_equal(buf.len, 2); /* restored */
        tb_buf_reset(&buf);
    }
    row_typical(a);
    init_change(&c, t, (tb_op)'x', NULL, a);
    assert_int_equal(tb_avro_encode_change(&c, &buf, &err), -1);
    tb_buf_free(&buf);
    tb_table_free(t);
}

/* ---- corrupt input -------------------------------------------------- */

static void encode_sample(const tb_table *t, tb_buf *buf)
{
    static tb_value a[NKINDS], b[NKINDS];
    tb_change c;
    tb_error err;
    row_typical(a);
    row_high(b);
    a[2] = VUNCH;
    b[0] = VUNCH;
    init_change(&c, t, TB_OP_UPDATE, b, a);
    if (tb_avro_encode_change(&c, buf, &err) < 0) fail_msg("%s", err.msg);
}

/* Every proper prefix of a valid message fails cleanly (run under ASan /
 * valgrind to prove no byte past the prefix is read). */
static void test_truncated_every_prefix(void **state)
{
    (void)state;
    for (int nullable = 0; nullable < 2; nullable++) {
        tb_table *t = all_kinds(nullable);
        tb_buf buf = TB_BUF_INIT;
        tb_arena arena;
        tb_value bv[NKINDS], av[NKINDS];
        tb_change got;
        tb_error err;
        tb_arena_init(&arena, 0);
        encode_sample(t, &buf);
        for (size_t n = 0; n < buf.len; n++) {
            /* Copy into an exact-size heap block so ASan sees overreads. */
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, buf.data, n);
            assert_int_equal(
                tb_avro_decode_change(t, p, n, &got, bv, av, &arena, &err), -1);
            assert_int_equal(err.code, TB_ERR_DECODE);
            assert_non_null(strstr(err.msg, "offset"));
            free(p);
            tb_arena_reset(&arena);
        }
        /* The whole message decodes; one extra byte does not. */
        assert_int_equal(tb_avro_decode_change(t, buf.data, buf.len, &got, bv,
                                               av, &arena, &err),
                         0);
        assert_int_equal(tb_buf_append(&buf, "", 1), 0);
        assert_int_equal(tb_avro_decode_change(t, buf.data, buf.len, &got, bv,
                                               av, &arena, &err),
                         -1);
        assert_non_null(strstr(err.msg, "trailing"));
        tb_arena_free(&arena);
        tb_buf_free(&buf);
        tb_table_free(t);
    }
}

/* Flip every byte of a valid message to several values: decoding may
 * succeed or fail, but must never crash or read out of bounds. */
static void test_corrupt_bytes_fuzz(void **state)
{
    (void)state;
    tb_table *t = all_kinds(true);
    tb_buf buf = TB_BUF_INIT;
    tb_arena arena;
    tb_value bv[NKINDS], av[NKINDS];
    tb_change got;
    tb_error err;
    tb_arena_init(&arena, 0);
    encode_sample(t, &buf);
    static const uint8_t flips[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
    int failed = 0;
    for (size_t i = 0; i < buf.len; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t *p = malloc(buf.len);
            assert_non_null(p);
            memcpy(p, buf.data, buf.len);
            p[i] = flips[f];
            if (tb_avro_decode_change(t, p, buf.len, &got, bv, av, &arena,
                                      &err) < 0) {
                failed++;
                assert_true(err.code == TB_ERR_DECODE);
            }
            free(p);
            tb_arena_reset(&arena);
        }
    assert_true(failed > 0);
    tb_arena_free(&arena);
    tb_buf_free(&buf);
    tb_table_free(t);
}

static int decode_raw(const tb_table *t, const uint8_t *p, size_t n,
                      tb_error *err)
{
    tb_arena arena;
    tb_value bv[NKINDS], av[NKINDS];
    tb_change got;
    tb_arena_init(&arena, 0);
    int rc = tb_avro_decode_change(t, p, n, &got, bv, av, &arena, err);
    tb_arena_free(&arena);
    return rc;
}

static void test_corrupt_varints(void **state)
{
    (void)state;
    tb_table *t = tb_table_new("db", "s", "t", 1);
    assert_int_equal(tb_table_set_column(t, 0, "id", "bigint", "bigint",
                                         TB_KIND_LONG, 0, 0, false, true),
                     0);
    tb_error err;
    /* before branch as an 11-byte varint */
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(decode_raw(t, eleven, sizeof eleven, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_non_null(strstr(err.msg, "offset 0"));
    /* 10th byte carrying more than bit 63 */
    static const uint8_t big[] = {0x02, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(decode_raw(t, big, sizeof big, &err), -1);
    assert_non_null(strstr(err.msg, "offset 1"));
    /* union branch 2 of ["null", Value] */
    static const uint8_t branch[] = {0x04};
    assert_int_equal(decode_raw(t, branch, sizeof branch, &err), -1);
    assert_non_null(strstr(err.msg, "union"));
    /* negative string length: before null, after {id 1}, connector len -1 */
    static const uint8_t neglen[] = {0x00, 0x02, 0x02, 0x01};
    assert_int_equal(decode_raw(t, neglen, sizeof neglen, &err), -1);
    assert_non_null(strstr(err.msg, "negative length"));
    /* huge string length */
    static const uint8_t huge[] = {0x00, 0x02, 0x02, 0xfe, 0xff, 0xff, 0x7f};
    assert_int_equal(decode_raw(t, huge, sizeof huge, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    tb_table_free(t);
}

/* Bytes written by hand: negative block counts (count, byte size) in an
 * array must decode, as the Avro spec allows them. */
static void test_negative_array_blocks(void **state)
{
    (void)state;
    tb_table *t = tb_table_new("db", "s", "t", 1);
    assert_int_equal(tb_table_set_column(t, 0, "tags", "set", "text[]",
                                         TB_KIND_SET, 0, 0, false, false),
                     0);
    static const uint8_t msg[] = {
        0x00,                                    /* before null */
        0x02,                                    /* after */
        0x03, 0x0a, 0x02, 'a',  0x04, 'b',  'c', /* block -2, 5 bytes */
        0x02, 0x02, 'd',                         /* block 1 */
        0x00,                                    /* end */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,      /* source strings */
        0x00, 0x00, 0x00,              /* txId null, ts_us, snapshot */
        0x02, 'c',  0x00, 0x00, 0x00}; /* op, ts_ms, unchanged x2 */
    tb_arena arena;
    tb_value bv[1], av[1];
    tb_change got;
    tb_error err;
    tb_arena_init(&arena, 0);
    if (tb_avro_decode_change(t, msg, sizeof msg, &got, bv, av, &arena, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(got.after[0].u.s, "a,bc,d");
    assert_int_equal(got.after[0].len, 6);
    assert_int_equal(got.source.txid, -1);
    tb_arena_free(&arena);
    tb_table_free(t);
}

/* ---- schema resolution ---------------------------------------------- */

static tb_table *shape(int n, const char *const *names, const tb_kind *kinds,
                       const int *prec, const int *scale, const bool *nulls)
{
    tb_table *t = tb_table_new("db", "public", "items", n);
    assert_non_null(t);
    for (int i = 0; i < n; i++)
        assert_int_equal(tb_table_set_column(t, i, names[i], "x", "x", kinds[i],
                                             prec[i], scale[i], nulls[i],
                                             i == 0),
                         0);
    return t;
}

static void test_resolution(void **state)
{
    (void)state;
    static const char *const wn[] = {"id",   "qty",   "price", "gone",
                                     "name", "ratio", "note",  "born"};
    static const tb_kind wk[] = {
        TB_KIND_INT,    TB_KIND_INT,   TB_KIND_DECIMAL, TB_KIND_LONG,
        TB_KIND_STRING, TB_KIND_FLOAT, TB_KIND_STRING,  TB_KIND_DATE};
    static const int wp[] = {0, 0, 10, 0, 0, 0, 0, 0};
    static const int ws[] = {0, 0, 2, 0, 0, 0, 0, 0};
    static const bool wnul[] = {false, false, false, false,
                                true,  false, true,  false};
    /* Reader: reordered, "gone" dropped, "added" new, promotions. */
    static const char *const rn[] = {"name",  "id",    "added", "qty",
                                     "price", "ratio", "note",  "born"};
    static const tb_kind rk[] = {
        TB_KIND_BYTES,   TB_KIND_LONG,   TB_KIND_STRING, TB_KIND_DOUBLE,
        TB_KIND_DECIMAL, TB_KIND_DOUBLE, TB_KIND_STRING, TB_KIND_INT};
    static const int rp[] = {0, 0, 0, 0, 14, 0, 0, 0};
    static const int rs[] = {0, 0, 0, 0, 4, 0, 0, 0};
    static const bool rnul[] = {true,  false, true,  false,
                                false, false, false, false};
    tb_table *w = shape(8, wn, wk, wp, ws, wnul);
    tb_table *r = shape(8, rn, rk, rp, rs, rnul);
    tb_value row[8] = {vi(7),        vi(-3),   vs("-12.5"), vi(99),
                       vs("widget"), vd(0.25), vs("n"),     vi(19000)};
    tb_value row2[8] = {vi(8), vi(2), vs("1"), vi(1),
                        VNULL, vd(1), VUNCH,   vi(-1)};
    tb_change c;
    tb_buf buf = TB_BUF_INIT;
    tb_error err;
    tb_avro_resolver *res = NULL;
    tb_arena arena;
    tb_value bv[8], av[8];
    tb_change got;
    tb_arena_init(&arena, 0);
    init_change(&c, w, TB_OP_UPDATE, row2, row);
    assert_int_equal(tb_avro_encode_change(&c, &buf, &err), 0);
    if (tb_avro_resolver_new(w, r, &res, &err) < 0) fail_msg("%s", err.msg);
    if (tb_avro_decode_change_resolved(res, buf.data, buf.len, &got, bv, av,
                                       &arena, &err) < 0)
        fail_msg("%s", err.msg);
    assert_ptr_equal(got.table, r);
    assert_string_equal(got.after[0].u.s, "widget");
    assert_int_equal(got.after[1].u.i, 7);
    assert_int_equal(got.after[2].state, TB_VALUE_NULL); /* added */
    assert_true(got.after[3].u.d == -3.0);               /* int -> double */
    assert_string_equal(got.after[4].u.s, "-12.5000");   /* scale 2 -> 4 */
    assert_true(got.after[5].u.d == 0.25);               /* float -> double */
    assert_string_equal(got.after[6].u.s, "n");
    assert_int_equal(got.after[7].u.i, 19000); /* date -> int */
    assert_int_equal(got.before[0].state, TB_VALUE_NULL);
    assert_int_equal(got.before[6].state, TB_VALUE_UNCHANGED);
    assert_int_equal(got.before[1].u.i, 8);
    assert_string_equal(got.source.position, "0/16B3748");
    /* A NULL written for a column the reader says is NOT NULL. */
    row[6] = VNULL;
    tb_buf_reset(&buf);
    assert_int_equal(tb_avro_encode_change(&c, &buf, &err), 0);
    assert_int_equal(tb_avro_decode_change_resolved(res, buf.data, buf.len,
                                                    &got, bv, av, &arena, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_non_null(strstr(err.msg, "note"));
    /* Truncation through the plan is still clean. */
    for (size_t n = 0; n < buf.len; n++)
        assert_int_equal(tb_avro_decode_change_resolved(res, buf.data, n, &got,
                                                        bv, av, &arena, &err),
                         -1);
    tb_avro_resolver_free(res);
    tb_arena_free(&arena);
    tb_buf_free(&buf);
    tb_table_free(w);
    tb_table_free(r);
}

static void test_resolution_refused(void **state)
{
    (void)state;
    static const char *const n1[] = {"id", "v"};
    static const int z[] = {0, 0}, p10[] = {0, 10}, s2[] = {0, 2},
                     s1[] = {0, 1}, p5[] = {0, 5};
    static const bool nn[] = {false, false}, nl[] = {false, true};
    struct {
        tb_kind wk, rk;
        const int *wp, *ws, *rp, *rs;
        const bool *rnul;
        const char *const *rnames;
    } cases[] = {
        {TB_KIND_STRING, TB_KIND_INT, z, z, z, z, nn, n1},
        {TB_KIND_LONG, TB_KIND_INT, z, z, z, z, nn, n1}, /* narrowing */
        {TB_KIND_DOUBLE, TB_KIND_FLOAT, z, z, z, z, nn, n1},
        {TB_KIND_DECIMAL, TB_KIND_DECIMAL, p10, s2, p10, s1, nn, n1},
        {TB_KIND_DECIMAL, TB_KIND_DECIMAL, p10, s2, p5, s2, nn, n1},
        {TB_KIND_TIMESTAMP_MICROS, TB_KIND_DATE, z, z, z, z, nn, n1},
        {TB_KIND_SET, TB_KIND_STRING, z, z, z, z, nn, n1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tb_kind wk[2] = {TB_KIND_LONG, cases[i].wk};
        tb_kind rk[2] = {TB_KIND_LONG, cases[i].rk};
        tb_table *w = shape(2, n1, wk, cases[i].wp, cases[i].ws, nn);
        tb_table *r = shape(2, cases[i].rnames, rk, cases[i].rp, cases[i].rs,
                            cases[i].rnul);
        tb_avro_resolver *res = NULL;
        tb_error err;
        assert_int_equal(tb_avro_resolver_new(w, r, &res, &err), -1);
        assert_int_equal(err.code, TB_ERR_SCHEMA);
        assert_null(res);
        tb_table_free(w);
        tb_table_free(r);
    }
    /* An added NOT NULL column has no default. */
    static const char *const n2[] = {"id", "added"};
    tb_kind k[2] = {TB_KIND_LONG, TB_KIND_LONG};
    tb_table *w = shape(1, n1, k, z, z, nn);
    tb_table *r = shape(2, n2, k, z, z, nn);
    tb_avro_resolver *res = NULL;
    tb_error err;
    assert_int_equal(tb_avro_resolver_new(w, r, &res, &err), -1);
    assert_non_null(strstr(err.msg, "added"));
    tb_table_free(r);
    r = shape(2, n2, k, z, z, nl); /* nullable: fine */
    assert_int_equal(tb_avro_resolver_new(w, r, &res, &err), 0);
    tb_avro_resolver_free(res);
    tb_table_free(w);
    tb_table_free(r);
}

/* ---- framing -------------------------------------------------------- */

static void test_frame(void **state)
{
    (void)state;
    tb_buf buf = TB_BUF_INIT;
    tb_error err;
    int32_t id;
    const uint8_t *body;
    size_t blen;
    assert_int_equal(
        tb_avro_frame(0x01020304, (const uint8_t *)"abc", 3, &buf, &err), 0);
    static const uint8_t want[] = {0, 1, 2, 3, 4, 'a', 'b', 'c'};
    assert_int_equal(buf.len, sizeof want);
    assert_memory_equal(buf.data, want, sizeof want);
    assert_int_equal(
        tb_avro_unframe(buf.data, buf.len, &id, &body, &blen, &err), 0);
    assert_int_equal(id, 0x01020304);
    assert_int_equal(blen, 3);
    assert_memory_equal(body, "abc", 3);
    /* Header only, then an empty body. */
    assert_int_equal(tb_avro_unframe(buf.data, 5, &id, &body, &blen, &err), 0);
    assert_int_equal(blen, 0);
    for (size_t n = 0; n < 5; n++) {
        assert_int_equal(tb_avro_unframe(buf.data, n, &id, &body, &blen, &err),
                         -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
        assert_non_null(strstr(err.msg, "too short"));
    }
    buf.data[0] = 0x01;
    assert_int_equal(
        tb_avro_unframe(buf.data, buf.len, &id, &body, &blen, &err), -1);
    assert_non_null(strstr(err.msg, "magic"));
    buf.data[0] = 0;
    buf.data[1] = 0x80;
    assert_int_equal(
        tb_avro_unframe(buf.data, buf.len, &id, &body, &blen, &err), -1);
    assert_int_equal(tb_avro_frame(-1, NULL, 0, &buf, &err), -1);
    tb_buf_free(&buf);
}

/* ---- avro-c interoperability ---------------------------------------- */

/* A representative table: key, nullable text, decimal, flag, double,
 * timestamp, set, nullable special decimal. */
static tb_table *interop_table(void)
{
    tb_table *t = tb_table_new("shop", "public", "orders", 8);
    assert_non_null(t);
    assert_int_equal(tb_table_set_column(t, 0, "id", "bigint", "bigint",
                                         TB_KIND_LONG, 0, 0, false, true),
                     0);
    assert_int_equal(tb_table_set_column(t, 1, "name", "text", "text",
                                         TB_KIND_STRING, 0, 0, true, false),
                     0);
    assert_int_equal(tb_table_set_column(t, 2, "price", "numeric(10,2)",
                                         "numeric(10,2)", TB_KIND_DECIMAL, 10,
                                         2, false, false),
                     0);
    assert_int_equal(tb_table_set_column(t, 3, "ok", "boolean", "boolean",
                                         TB_KIND_BOOLEAN, 0, 0, false, false),
                     0);
    assert_int_equal(tb_table_set_column(t, 4, "score", "float8", "float8",
                                         TB_KIND_DOUBLE, 0, 0, false, false),
                     0);
    assert_int_equal(
        tb_table_set_column(t, 5, "at", "timestamptz", "timestamptz",
                            TB_KIND_TIMESTAMP_MICROS, 0, 6, false, false),
        0);
    assert_int_equal(tb_table_set_column(t, 6, "tags", "set('x','y')", "text",
                                         TB_KIND_SET, 0, 0, false, false),
                     0);
    assert_int_equal(tb_table_set_column(t, 7, "rate", "numeric(6,3)",
                                         "numeric", TB_KIND_DECIMAL, 6, 3, true,
                                         false),
                     0);
    t->cols[7].decimal_specials = true;
    return t;
}

static avro_schema_t parse_envelope(const tb_table *t)
{
    tb_error err;
    json_t *j = tb_avro_envelope_schema(t, "pipe", &err);
    if (!j) fail_msg("%s", err.msg);
    char *s = json_dumps(j, JSON_COMPACT);
    avro_schema_t sch = NULL;
    if (avro_schema_from_json_length(s, strlen(s), &sch))
        fail_msg("avro-c: %s", avro_strerror());
    free(s);
    json_decref(j);
    return sch;
}

static void get_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    if (avro_value_get_by_name(rec, name, out, NULL))
        fail_msg("no field %s: %s", name, avro_strerror());
}

/* Our bytes, read by avro-c's generic reader. */
static void test_interop_ours_to_avroc(void **state)
{
    (void)state;
    tb_table *t = interop_table();
    avro_schema_t sch = parse_envelope(t);
    tb_value a[8] = {
        vi(-5000000000LL), vs("caf\xc3\xa9"),      vs("-1234.50"), vb(true),
        vd(-2.5),          vi(1732582923123456LL), vs("x,y"),      vs("NaN")};
    tb_value b[8] = {vi(-5000000000LL),
                     VNULL,
                     vs("7"),
                     vb(false),
                     vd(0),
                     vi(0),
                     vs(""),
                     VNULL};
    tb_change c;
    tb_buf buf = TB_BUF_INIT;
    tb_error err;
    init_change(&c, t, TB_OP_UPDATE, b, a);
    a[1] = VUNCH;
    assert_int_equal(tb_avro_encode_change(&c, &buf, &err), 0);
    a[1] = vs("caf\xc3\xa9");

    avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
    avro_value_t env, f, br, g;
    assert_int_equal(avro_generic_value_new(iface, &env), 0);
    avro_reader_t rd =
        avro_reader_memory((const char *)buf.data, (int64_t)buf.len);
    if (avro_value_read(rd, &env)) fail_msg("avro-c: %s", avro_strerror());

    int disc;
    int64_t l;
    int32_t b32;
    double d;
    const char *s;
    size_t sz;
    const void *bytes;
    get_field(&env, "after", &f);
    assert_int_equal(avro_value_get_discriminant(&f, &disc), 0);
    assert_int_equal(disc, 1);
    assert_int_equal(avro_value_get_current_branch(&f, &br), 0);
    get_field(&br, "id", &g);
    assert_int_equal(avro_value_get_long(&g, &l), 0);
    assert_int_equal(l, -5000000000LL);
    get_field(&br, "name", &g); /* unchanged, nullable: written as null */
    assert_int_equal(avro_value_get_discriminant(&g, &disc), 0);
    assert_int_equal(disc, 0);
    get_field(&br, "price", &g);
    assert_int_equal(avro_value_get_bytes(&g, &bytes, &sz), 0);
    /* -123450 = 0xfe1dc6 */
    assert_int_equal(sz, 3);
    assert_memory_equal(bytes, "\xfe\x1d\xc6", 3);
    get_field(&br, "ok", &g);
    assert_int_equal(avro_value_get_boolean(&g, &b32), 0);
    assert_int_equal(b32, 1);
    get_field(&br, "score", &g);
    assert_int_equal(avro_value_get_double(&g, &d), 0);
    assert_true(d == -2.5);
    get_field(&br, "tags", &g);
    assert_int_equal(avro_value_get_size(&g, &sz), 0);
    assert_int_equal(sz, 2);
    avro_value_t item;
    assert_int_equal(avro_value_get_by_index(&g, 1, &item, NULL), 0);
    assert_int_equal(avro_value_get_string(&item, &s, &sz), 0);
    assert_string_equal(s, "y");
    get_field(&br, "rate", &g);
    assert_int_equal(avro_value_get_discriminant(&g, &disc), 0);
    assert_int_equal(disc, 2);
    avro_value_t sb;
    assert_int_equal(avro_value_get_current_branch(&g, &sb), 0);
    assert_int_equal(avro_value_get_string(&sb, &s, &sz), 0);
    assert_string_equal(s, "NaN");

    get_field(&env, "source", &f);
    get_field(&f, "position", &g);
    assert_int_equal(avro_value_get_string(&g, &s, &sz), 0);
    assert_string_equal(s, "0/16B3748");
    get_field(&f, "table", &g);
    assert_int_equal(avro_value_get_string(&g, &s, &sz), 0);
    assert_string_equal(s, "orders");
    get_field(&f, "txId", &g);
    assert_int_equal(avro_value_get_current_branch(&g, &sb), 0);
    assert_int_equal(avro_value_get_long(&sb, &l), 0);
    assert_int_equal(l, 7777);
    get_field(&env, "op", &f);
    assert_int_equal(avro_value_get_string(&f, &s, &sz), 0);
    assert_string_equal(s, "u");
    get_field(&env, "unchanged", &f);
    assert_int_equal(avro_value_get_size(&f, &sz), 0);
    assert_int_equal(sz, 1);
    assert_int_equal(avro_value_get_by_index(&f, 0, &item, NULL), 0);
    assert_int_equal(avro_value_get_string(&item, &s, &sz), 0);
    assert_string_equal(s, "name");
    get_field(&env, "before", &f);
    assert_int_equal(avro_value_get_current_branch(&f, &br), 0);
    get_field(&br, "price", &g);
    assert_int_equal(avro_value_get_bytes(&g, &bytes, &sz), 0);
    assert_int_equal(sz, 2);
    assert_memory_equal(bytes, "\x02\xbc", 2); /* 700 */

    avro_reader_free(rd);
    avro_value_decref(&env);
    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
    tb_buf_free(&buf);
    tb_table_free(t);
}

static void set_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    get_field(rec, name, &f);
    /* avro-c's size includes the trailing NUL */
    assert_int_equal(avro_value_set_string_len(&f, s, strlen(s) + 1), 0);
}

/* avro-c's bytes, read by our decoder. */
static void test_interop_avroc_to_ours(void **state)
{
    (void)state;
    tb_table *t = interop_table();
    avro_schema_t sch = parse_envelope(t);
    avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
    avro_value_t env, f, row, g, br, item;
    assert_int_equal(avro_generic_value_new(iface, &env), 0);

    get_field(&env, "before", &f);
    assert_int_equal(avro_value_set_branch(&f, 0, &br), 0);
    assert_int_equal(avro_value_set_null(&br), 0);
    get_field(&env, "after", &f);
    assert_int_equal(avro_value_set_branch(&f, 1, &row), 0);
    get_field(&row, "id", &g);
    assert_int_equal(avro_value_set_long(&g, INT64_MIN), 0);
    get_field(&row, "name", &g);
    assert_int_equal(avro_value_set_branch(&g, 1, &br), 0);
    assert_int_equal(avro_value_set_string_len(&br, emoji, sizeof emoji), 0);
    get_field(&row, "price", &g);
    assert_int_equal(avro_value_set_bytes(&g, (void *)"\x80", 1), 0);
    get_field(&row, "ok", &g);
    assert_int_equal(avro_value_set_boolean(&g, 0), 0);
    get_field(&row, "score", &g);
    assert_int_equal(avro_value_set_double(&g, 1e300), 0);
    get_field(&row, "at", &g);
    assert_int_equal(avro_value_set_long(&g, INT64_MAX), 0);
    get_field(&row, "tags", &g);
    assert_int_equal(avro_value_append(&g, &item, NULL), 0);
    assert_int_equal(avro_value_set_string_len(&item, "y", 2), 0);
    assert_int_equal(avro_value_append(&g, &item, NULL), 0);
    assert_int_equal(avro_value_set_string_len(&item, "x", 2), 0);
    get_field(&row, "rate", &g);
    assert_int_equal(avro_value_set_branch(&g, 1, &br), 0);
    assert_int_equal(avro_value_set_bytes(&br, (void *)"\x30\x39", 2), 0);

    get_field(&env, "source", &f);
    set_str(&f, "connector", "mysql");
    set_str(&f, "name", "pipe");
    set_str(&f, "db", "shop");
    set_str(&f, "schema", "public");
    set_str(&f, "table", "orders");
    set_str(&f, "position", "binlog.000003:4");
    get_field(&f, "txId", &g);
    assert_int_equal(avro_value_set_branch(&g, 0, &br), 0);
    assert_int_equal(avro_value_set_null(&br), 0);
    get_field(&f, "ts_us", &g);
    assert_int_equal(avro_value_set_long(&g, 123), 0);
    get_field(&f, "snapshot", &g);
    assert_int_equal(avro_value_set_boolean(&g, 1), 0);
    set_str(&env, "op", "r");
    get_field(&env, "ts_ms", &g);
    assert_int_equal(avro_value_set_long(&g, 456), 0);

    char mem[4096];
    avro_writer_t w = avro_writer_memory(mem, sizeof mem);
    if (avro_value_write(w, &env)) fail_msg("avro-c: %s", avro_strerror());
    size_t n = (size_t)avro_writer_tell(w);

    tb_arena arena;
    tb_value bv[8], av[8];
    tb_change got;
    tb_error err;
    tb_arena_init(&arena, 0);
    if (tb_avro_decode_change(t, (uint8_t *)mem, n, &got, bv, av, &arena,
                              &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got.op, TB_OP_READ);
    assert_null(got.before);
    assert_int_equal(got.after[0].u.i, INT64_MIN);
    assert_string_equal(got.after[1].u.s, emoji);
    assert_string_equal(got.after[2].u.s, "-1.28");
    assert_false(got.after[3].u.b);
    assert_true(got.after[4].u.d == 1e300);
    assert_int_equal(got.after[5].u.i, INT64_MAX);
    assert_string_equal(got.after[6].u.s, "y,x");
    assert_string_equal(got.after[7].u.s, "12.345");
    assert_string_equal(got.source.connector, "mysql");
    assert_string_equal(got.source.position, "binlog.000003:4");
    assert_int_equal(got.source.txid, -1);
    assert_int_equal(got.source.commit_us, 123);
    assert_true(got.source.snapshot);
    assert_int_equal(got.ts_ms, 456);

    tb_arena_free(&arena);
    avro_writer_free(w);
    avro_value_decref(&env);
    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
    tb_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_vectors),
        cmocka_unit_test(test_decimal_errors),
        cmocka_unit_test(test_decimal_huge),
        cmocka_unit_test(test_roundtrip_all_kinds),
        cmocka_unit_test(test_roundtrip_nulls),
        cmocka_unit_test(test_roundtrip_unchanged),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_corrupt_bytes_fuzz),
        cmocka_unit_test(test_corrupt_varints),
        cmocka_unit_test(test_negative_array_blocks),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_resolution_refused),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_interop_ours_to_avroc),
        cmocka_unit_test(test_interop_avroc_to_ours),
    };
    return cmocka_run_group_tests_name("avro_codec", tests, NULL, NULL);
}
