/*
 * test_binlog_rows.c - row image decoding: every column type at its
 * extremes from hand-built bytes, and the golden MariaDB capture
 * (tests/data/binlog/mariadb-rows.bin, rendered to mariadb-rows.expected;
 * regenerate with tests/data/binlog/capture.sh, then run this test with
 * TB_BINLOG_GOLDEN_WRITE=1 and review the diff).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/mysql/binlog.h"

/* ---- value decoding on hand-built bytes ---- */

typedef struct vctx {
    tb_arena a;
    tb_error err;
} vctx;

static int setup(void **state)
{
    vctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    tb_arena_init(&c->a, 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    vctx *c = *state;
    tb_arena_free(&c->a);
    free(c);
    return 0;
}

static tb_binlog_column col_of(uint8_t type)
{
    tb_binlog_column c;
    memset(&c, 0, sizeof c);
    c.type = c.real_type = type;
    return c;
}

/* Decode p[0..n) and check that exactly n bytes are used and that every
 * shorter prefix is refused. */
static tb_binlog_value dec(vctx *c, const tb_binlog_column *col,
                           const uint8_t *p, size_t n)
{
    tb_binlog_value v;
    size_t used = 0;
    int rc = tb_binlog_value_decode(col, p, n, &c->a, &v, &used, &c->err);
    if (rc != 0) fail_msg("decode failed: %s", c->err.msg);
    assert_int_equal(used, n);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cp = malloc(k ? k : 1);
        tb_binlog_value w;
        assert_non_null(cp);
        memcpy(cp, p, k);
        assert_int_equal(
            tb_binlog_value_decode(col, cp, k, &c->a, &w, &used, &c->err), -1);
        assert_int_equal(c->err.code, TB_ERR_DECODE);
        free(cp);
    }
    return v;
}

static void test_integers(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_TINY);
    tb_binlog_value v = dec(c, &col, (const uint8_t *)"\x80", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_INT);
    assert_int_equal(v.i, -128);
    col.is_unsigned = true;
    v = dec(c, &col, (const uint8_t *)"\xff", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_UINT);
    assert_int_equal(v.u, 255);

    col = col_of(TB_MYSQL_SHORT);
    v = dec(c, &col, (const uint8_t *)"\x00\x80", 2);
    assert_int_equal(v.i, -32768);
    col = col_of(TB_MYSQL_INT24);
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x80", 3);
    assert_int_equal(v.i, -8388608);
    v = dec(c, &col, (const uint8_t *)"\xff\xff\x7f", 3);
    assert_int_equal(v.i, 8388607);
    col.is_unsigned = true;
    v = dec(c, &col, (const uint8_t *)"\xff\xff\xff", 3);
    assert_int_equal(v.u, 16777215);
    col = col_of(TB_MYSQL_LONG);
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00\x80", 4);
    assert_int_equal(v.i, INT32_MIN);
    col = col_of(TB_MYSQL_LONGLONG);
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\x80", 8);
    assert_true(v.i == INT64_MIN);
    v = dec(c, &col, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
    assert_true(v.i == INT64_MAX);
    col.is_unsigned = true;
    v = dec(c, &col, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    assert_true(v.u == UINT64_MAX);

    col = col_of(TB_MYSQL_YEAR);
    v = dec(c, &col, (const uint8_t *)"\x00", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_YEAR);
    assert_int_equal(v.i, 0);
    v = dec(c, &col, (const uint8_t *)"\xff", 1);
    assert_int_equal(v.i, 2155);
}

static void test_float_double(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_FLOAT);
    col.scale = 4;
    /* 1.5f = 0x3fc00000 */
    tb_binlog_value v = dec(c, &col, (const uint8_t *)"\x00\x00\xc0\x3f", 4);
    assert_int_equal(v.kind, TB_BINLOG_V_DOUBLE);
    assert_true(v.d == 1.5);
    col = col_of(TB_MYSQL_DOUBLE);
    /* -2.0 = 0xc000000000000000 */
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\xc0", 8);
    assert_true(v.d == -2.0);
}

/* Encode a decimal string the way the server does (decimal2bin), to build
 * test inputs independently of the decoder's grouping logic. */
static size_t enc_decimal(const char *txt, int prec, int scale, uint8_t *out)
{
    static const int d2b[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    bool neg = txt[0] == '-';
    if (neg) txt++;
    const char *dot = strchr(txt, '.');
    size_t il = dot ? (size_t)(dot - txt) : strlen(txt);
    while (il > 0 && txt[0] == '0') { /* "0.5" has no integer digits */
        txt++;
        il--;
    }
    char ip[80], fp[40];
    int intg = prec - scale;
    /* left-pad integer digits to intg, right-pad fraction to scale */
    memset(ip, '0', (size_t)intg);
    memcpy(ip + intg - (int)il, txt, il);
    memset(fp, '0', (size_t)scale);
    if (dot) memcpy(fp, dot + 1, strlen(dot + 1));
    size_t o = 0;
    int lead = intg % 9, pos = 0;
    if (lead) {
        uint32_t v = 0;
        for (int i = 0; i < lead; i++)
            v = v * 10 + (uint32_t)(ip[pos++] - '0');
        for (int b = d2b[lead] - 1; b >= 0; b--)
            out[o++] = (uint8_t)(v >> (8 * b));
    }
    while (pos < intg) {
        uint32_t v = 0;
        for (int i = 0; i < 9; i++)
            v = v * 10 + (uint32_t)(ip[pos++] - '0');
        for (int b = 3; b >= 0; b--)
            out[o++] = (uint8_t)(v >> (8 * b));
    }
    pos = 0;
    while (scale - pos >= 9) {
        uint32_t v = 0;
        for (int i = 0; i < 9; i++)
            v = v * 10 + (uint32_t)(fp[pos++] - '0');
        for (int b = 3; b >= 0; b--)
            out[o++] = (uint8_t)(v >> (8 * b));
    }
    if (scale - pos) {
        int n = scale - pos;
        uint32_t v = 0;
        for (int i = 0; i < n; i++)
            v = v * 10 + (uint32_t)(fp[pos++] - '0');
        for (int b = d2b[n] - 1; b >= 0; b--)
            out[o++] = (uint8_t)(v >> (8 * b));
    }
    out[0] ^= 0x80;
    if (neg)
        for (size_t i = 0; i < o; i++)
            out[i] ^= 0xff;
    return o;
}

static void check_decimal(vctx *c, const char *txt, int prec, int scale,
                          const char *want)
{
    uint8_t b[40];
    size_t n = enc_decimal(txt, prec, scale, b);
    tb_binlog_column col = col_of(TB_MYSQL_NEWDECIMAL);
    col.precision = (uint8_t)prec;
    col.scale = (uint8_t)scale;
    tb_binlog_value v = dec(c, &col, b, n);
    assert_int_equal(v.kind, TB_BINLOG_V_DECIMAL);
    assert_string_equal(v.s, want ? want : txt);
    assert_int_equal(v.len, strlen(v.s));
}

static void test_decimal(void **state)
{
    vctx *c = *state;
    const char *max65 =
        "99999999999999999999999999999999999.999999999999999999999999999999";
    check_decimal(c, max65, 65, 30, NULL);
    check_decimal(
        c,
        "-99999999999999999999999999999999999.999999999999999999999999999999",
        65, 30, NULL);
    check_decimal(c,
                  "99999999999999999999999999999999999999999999999999999999"
                  "999999999",
                  65, 0, NULL);
    check_decimal(c, "-1.5", 65, 30, "-1.500000000000000000000000000000");
    check_decimal(c, "0", 10, 2, "0.00");
    check_decimal(c, "-0.01", 10, 2, NULL);
    check_decimal(c, "12345678.90", 10, 2, NULL);
    check_decimal(c, "-999999999.999999999", 18, 9, NULL);
    check_decimal(c, "0.000000001", 18, 9, NULL);
    check_decimal(c, "1", 1, 0, NULL);
    check_decimal(c, "-9", 1, 0, NULL);
    check_decimal(c, "0.5", 1, 1, NULL);
    /* byte layout of the documented example: 1234567890.1234 as
     * DECIMAL(14,4) = 81 0D FB 38 D2 04 D2 */
    uint8_t doc[] = {0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2};
    tb_binlog_column col = col_of(TB_MYSQL_NEWDECIMAL);
    col.precision = 14;
    col.scale = 4;
    tb_binlog_value v = dec(c, &col, doc, sizeof doc);
    assert_string_equal(v.s, "1234567890.1234");
    /* negative: every byte inverted */
    for (size_t i = 0; i < sizeof doc; i++)
        doc[i] ^= 0xff;
    v = dec(c, &col, doc, sizeof doc);
    assert_string_equal(v.s, "-1234567890.1234");
    /* a group above 999999999 is corrupt */
    uint8_t bad[] = {0x80 ^ 0x3b, 0x9a, 0xca, 0x00}; /* 1000000000 */
    col.precision = 9;
    col.scale = 0;
    size_t used;
    assert_int_equal(
        tb_binlog_value_decode(&col, bad, 4, &c->a, &v, &used, &c->err), -1);
    assert_int_equal(c->err.code, TB_ERR_DECODE);
}

/* Every DECIMAL(p,s) shape with random digits (leading zero runs, zero
 * groups, both signs): the decoder's text is the canonical spelling built
 * here digit by digit. */
static void test_decimal_random(void **state)
{
    vctx *c = *state;
    uint32_t seed = 12345;
    for (int prec = 1; prec <= 65; prec++)
        for (int scale = 0; scale <= prec && scale <= 30; scale++)
            for (int r = 0; r < 4; r++) {
                char in[80], want[80];
                size_t o = 0, w = 0;
                int intg = prec - scale;
                bool neg = false, nonzero = false;
                seed = seed * 1103515245u + 12345u;
                neg = (seed >> 16) & 1;
                /* r 0: every digit random; 1: mostly zeros; 2: all zero;
                 * 3: all nines */
                for (int i = 0; i < prec; i++) {
                    seed = seed * 1103515245u + 12345u;
                    int d = (int)((seed >> 16) % 10);
                    if (r == 1 && (seed >> 28) % 4) d = 0;
                    if (r == 2) d = 0;
                    if (r == 3) d = 9;
                    if (i == intg) in[o++] = '.';
                    in[o++] = (char)('0' + d);
                    nonzero |= d != 0;
                }
                if (intg == 0) { /* "0.xxx": the loop wrote ".xxx" */
                    memmove(in + 1, in, o);
                    in[0] = '0';
                    o++;
                }
                in[o] = '\0';
                if (neg && nonzero) want[w++] = '-';
                size_t z = 0;
                while (z + 1 < o && in[z] == '0' && in[z + 1] != '.')
                    z++;
                memcpy(want + w, in + z, o - z + 1);
                char txt[82];
                snprintf(txt, sizeof txt, "%s%s", neg ? "-" : "", in);
                check_decimal(c, txt, prec, scale, want);
            }
    /* the exported text entry point: NUL-terminated, *used bytes */
    uint8_t b[40];
    char dst[72];
    size_t used = 0;
    size_t n = enc_decimal("-0.00", 10, 2, b);
    assert_int_equal(tb_binlog_decimal_text(b, n, 10, 2, dst, &used, &c->err),
                     0);
    assert_string_equal(dst, "0.00");
    assert_int_equal(used, n);
    n = enc_decimal("-1000000000.5", 12, 1, b);
    assert_int_equal(tb_binlog_decimal_text(b, n, 12, 1, dst, &used, &c->err),
                     0);
    assert_string_equal(dst, "-1000000000.5");
}

static void test_bits_enum_set(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_BIT);
    col.precision = 1;
    tb_binlog_value v = dec(c, &col, (const uint8_t *)"\x01", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_BITS);
    assert_string_equal(v.s, "1");
    col.precision = 10;
    v = dec(c, &col, (const uint8_t *)"\x02\x01", 2);
    assert_string_equal(v.s, "1000000001");
    col.precision = 64;
    v = dec(c, &col, (const uint8_t *)"\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    assert_string_equal(
        v.s,
        "1000000000000000000000000000000000000000000000000000000000000001");
    assert_true(v.u == 0x8000000000000001ull);

    const char *members[] = {"a", "bb", "ccc"};
    uint32_t lens[] = {1, 2, 3};
    col = col_of(TB_MYSQL_STRING);
    col.real_type = TB_MYSQL_ENUM;
    col.max_len = 1;
    col.nvalues = 3;
    col.values = members;
    col.value_lens = lens;
    v = dec(c, &col, (const uint8_t *)"\x02", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_ENUM);
    assert_int_equal(v.u, 2);
    assert_string_equal(v.s, "bb");
    v = dec(c, &col, (const uint8_t *)"\x00", 1);
    assert_string_equal(v.s, "");
    col.max_len = 2;
    v = dec(c, &col, (const uint8_t *)"\x03\x00", 2);
    assert_string_equal(v.s, "ccc");
    size_t used;
    assert_int_equal(tb_binlog_value_decode(&col, (const uint8_t *)"\x04\x00",
                                            2, &c->a, &v, &used, &c->err),
                     -1);

    col.real_type = TB_MYSQL_SET;
    col.max_len = 1;
    v = dec(c, &col, (const uint8_t *)"\x05", 1);
    assert_int_equal(v.kind, TB_BINLOG_V_SET);
    assert_string_equal(v.s, "a,ccc");
    v = dec(c, &col, (const uint8_t *)"\x00", 1);
    assert_string_equal(v.s, "");
    assert_int_equal(tb_binlog_value_decode(&col, (const uint8_t *)"\x08", 1,
                                            &c->a, &v, &used, &c->err),
                     -1);
    col.values = NULL; /* no SET_STR_VALUE metadata: mask only */
    v = dec(c, &col, (const uint8_t *)"\x07", 1);
    assert_null(v.s);
    assert_int_equal(v.u, 7);
}

static void test_strings(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_VARCHAR);
    col.max_len = 80;
    tb_binlog_value v =
        dec(c, &col, (const uint8_t *)"\x04\xf0\x9f\x8e\x89", 5);
    assert_int_equal(v.kind, TB_BINLOG_V_BYTES);
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.s, "\xf0\x9f\x8e\x89", 4);
    col.max_len = 1200; /* two length bytes */
    v = dec(c, &col, (const uint8_t *)"\x02\x00hi", 4);
    assert_int_equal(v.len, 2);
    /* CHAR(100) utf8mb4: 400 bytes, the >255 trick (meta fe->ee 0x90) */
    col = col_of(TB_MYSQL_STRING);
    col.max_len = 400;
    v = dec(c, &col, (const uint8_t *)"\x01\x00x", 3);
    assert_int_equal(v.len, 1);
    col = col_of(TB_MYSQL_BLOB);
    for (int lb = 1; lb <= 4; lb++) {
        uint8_t b[8] = {3, 0, 0, 0};
        col.scale = (uint8_t)lb;
        memcpy(b + lb, "\x00\xff\x00", 3);
        v = dec(c, &col, b, (size_t)lb + 3);
        assert_int_equal(v.len, 3);
        assert_memory_equal(v.s, "\x00\xff\x00", 3);
    }
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00\x00", 4);
    assert_int_equal(v.len, 0);
}

static void test_temporal(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_DATE);
    /* 2024-02-29: 2024*512 + 2*32 + 29 = 0x0FD05D */
    tb_binlog_value v = dec(c, &col, (const uint8_t *)"\x5d\xd0\x0f", 3);
    assert_int_equal(v.kind, TB_BINLOG_V_DATE);
    assert_int_equal(v.t.year, 2024);
    assert_int_equal(v.t.month, 2);
    assert_int_equal(v.t.day, 29);
    assert_false(v.zero_date);
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00", 3);
    assert_true(v.zero_date);
    v = dec(c, &col, (const uint8_t *)"\x0f\xd0\x0f", 3); /* 2024-00-15 */
    assert_false(v.zero_date);
    assert_true(v.zero_in_date);

    /* TIME2(0) 838:59:59 = 0x800000 + (838<<12 | 59<<6 | 59) */
    col = col_of(TB_MYSQL_TIME2);
    v = dec(c, &col, (const uint8_t *)"\x80\x00\x00", 3);
    assert_int_equal(v.kind, TB_BINLOG_V_TIME);
    assert_int_equal(v.t.hour, 0);
    assert_false(v.t.negative);
    uint32_t hms = 838u << 12 | 59u << 6 | 59u;
    uint32_t x = 0x800000u + hms;
    uint8_t b[8] = {(uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
    v = dec(c, &col, b, 3);
    assert_int_equal(v.t.hour, 838);
    assert_int_equal(v.t.minute, 59);
    assert_int_equal(v.t.second, 59);
    x = 0x800000u - hms; /* -838:59:59 */
    b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
    v = dec(c, &col, b, 3);
    assert_true(v.t.negative);
    assert_int_equal(v.t.hour, 838);
    /* TIME2(6) -00:00:00.000001: 48-bit packed value 0x800000000000 - 1 */
    col.scale = 6;
    v = dec(c, &col, (const uint8_t *)"\x7f\xff\xff\xff\xff\xff", 6);
    assert_true(v.t.negative);
    assert_int_equal(v.t.micros, 1);
    assert_int_equal(v.t.second, 0);
    /* TIME2(1) -00:00:00.5: intpart -1 (0x7fffff), frac 0x100-50 */
    col.scale = 1;
    v = dec(c, &col, (const uint8_t *)"\x7f\xff\xff\xce", 4);
    assert_true(v.t.negative);
    assert_int_equal(v.t.second, 0);
    assert_int_equal(v.t.micros, 500000);
    /* TIME2(3) 25:00:00.100 */
    col.scale = 3;
    x = 0x800000u + (25u << 12);
    uint8_t t3[5] = {(uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x, 0x03,
                     0xe8};
    v = dec(c, &col, t3, 5);
    assert_int_equal(v.t.hour, 25);
    assert_int_equal(v.t.micros, 100000);

    /* DATETIME2(fsp) for fsp 0..6: 9999-12-31 23:59:59 + fraction */
    for (int fsp = 0; fsp <= 6; fsp++) {
        uint64_t ym = 9999ull * 13 + 12;
        uint64_t ip = ((ym << 5 | 31) << 17) | (23u << 12 | 59u << 6 | 59u);
        uint64_t w = ip + 0x8000000000ull;
        uint8_t d[8];
        for (int i = 0; i < 5; i++)
            d[i] = (uint8_t)(w >> (8 * (4 - i)));
        int fb = (fsp + 1) / 2;
        uint32_t frac = fb == 1 ? 99 : fb == 2 ? 9999 : 999999;
        for (int i = 0; i < fb; i++)
            d[5 + i] = (uint8_t)(frac >> (8 * (fb - 1 - i)));
        col = col_of(TB_MYSQL_DATETIME2);
        col.scale = (uint8_t)fsp;
        v = dec(c, &col, d, 5 + (size_t)fb);
        assert_int_equal(v.kind, TB_BINLOG_V_DATETIME);
        assert_int_equal(v.t.year, 9999);
        assert_int_equal(v.t.month, 12);
        assert_int_equal(v.t.day, 31);
        assert_int_equal(v.t.hour, 23);
        assert_int_equal(v.t.second, 59);
        assert_int_equal(v.t.micros, fb == 0   ? 0
                                     : fb == 1 ? 990000
                                     : fb == 2 ? 999900
                                               : 999999);
    }
    col = col_of(TB_MYSQL_DATETIME2);
    v = dec(c, &col, (const uint8_t *)"\x80\x00\x00\x00\x00", 5);
    assert_true(v.zero_date);

    /* TIMESTAMP2(6) 2147483647.999999 and the zero timestamp */
    col = col_of(TB_MYSQL_TIMESTAMP2);
    col.scale = 6;
    v = dec(c, &col, (const uint8_t *)"\x7f\xff\xff\xff\x0f\x42\x3f", 7);
    assert_int_equal(v.kind, TB_BINLOG_V_TIMESTAMP);
    assert_int_equal(v.i, 2147483647);
    assert_int_equal(v.t.year, 2038);
    assert_int_equal(v.t.month, 1);
    assert_int_equal(v.t.day, 19);
    assert_int_equal(v.t.hour, 3);
    assert_int_equal(v.t.minute, 14);
    assert_int_equal(v.t.second, 7);
    assert_int_equal(v.t.micros, 999999);
    col.scale = 0;
    v = dec(c, &col, (const uint8_t *)"\x00\x00\x00\x00", 4);
    assert_true(v.zero_date);

    /* old formats */
    col = col_of(TB_MYSQL_TIMESTAMP);
    v = dec(c, &col, (const uint8_t *)"\x01\x00\x00\x00", 4);
    assert_int_equal(v.t.year, 1970);
    assert_int_equal(v.t.second, 1);
    col = col_of(TB_MYSQL_DATETIME);
    uint64_t dt = 20240229235959ull;
    uint8_t d8[8];
    for (int i = 0; i < 8; i++)
        d8[i] = (uint8_t)(dt >> (8 * i));
    v = dec(c, &col, d8, 8);
    assert_int_equal(v.t.year, 2024);
    assert_int_equal(v.t.day, 29);
    assert_int_equal(v.t.minute, 59);
    col = col_of(TB_MYSQL_TIME);
    int32_t t = -8385959; /* -838:59:59 */
    uint8_t t3b[3] = {(uint8_t)t, (uint8_t)(t >> 8), (uint8_t)(t >> 16)};
    v = dec(c, &col, t3b, 3);
    assert_true(v.t.negative);
    assert_int_equal(v.t.hour, 838);
    assert_int_equal(v.t.minute, 59);
}

static void test_unsupported_type(void **state)
{
    vctx *c = *state;
    tb_binlog_column col = col_of(TB_MYSQL_DECIMAL);
    tb_binlog_value v;
    size_t used;
    assert_int_equal(tb_binlog_value_decode(&col, (const uint8_t *)"\0\0", 2,
                                            &c->a, &v, &used, &c->err),
                     -1);
    assert_int_equal(c->err.code, TB_ERR_UNSUPPORTED);
}

/* ---- golden capture ---- */

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)sz + 1);
    if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[sz] = 0;
        *n = (size_t)sz;
    }
    return p;
}

/* utf8mb3 / utf8mb4 collation ids (MySQL and MariaDB numbering). */
static bool utf8_charset(uint32_t cs)
{
    return cs == 33 || cs == 45 || cs == 46 || cs == 83 ||
           (cs >= 192 && cs <= 247) || cs >= 255;
}

static void put_text(tb_buf *o, const char *s, size_t n, bool binary, bool utf8)
{
    if (binary) {
        tb_buf_puts(o, "x'");
        for (size_t i = 0; i < n; i++)
            tb_buf_printf(o, "%02x", (uint8_t)s[i]);
        tb_buf_puts(o, "'");
        return;
    }
    tb_buf_puts(o, "'");
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = (uint8_t)s[i];
        if (ch < 0x20 || ch == '\'' || ch == '\\' || ch == 0x7f ||
            (ch >= 0x80 && !utf8))
            tb_buf_printf(o, "\\x%02x", ch);
        else
            tb_buf_append(o, &ch, 1);
    }
    tb_buf_puts(o, "'");
}

static void render_value(tb_buf *o, const tb_binlog_column *col,
                         const tb_binlog_value *v)
{
    const tb_binlog_temporal *t = &v->t;
    switch (v->kind) {
    case TB_BINLOG_V_ABSENT:
        tb_buf_puts(o, "-");
        break;
    case TB_BINLOG_V_NULL:
        tb_buf_puts(o, "NULL");
        break;
    case TB_BINLOG_V_INT:
    case TB_BINLOG_V_YEAR:
        tb_buf_printf(o, "%lld", (long long)v->i);
        break;
    case TB_BINLOG_V_UINT:
        tb_buf_printf(o, "%lluu", (unsigned long long)v->u);
        break;
    case TB_BINLOG_V_DOUBLE:
        tb_buf_printf(o, "%.17g", v->d);
        break;
    case TB_BINLOG_V_DECIMAL:
    case TB_BINLOG_V_JSON:
        tb_buf_append(o, v->s, v->len);
        break;
    case TB_BINLOG_V_BYTES:
        put_text(o, v->s, v->len, col->charset == 63 || col->charset == 0,
                 utf8_charset(col->charset));
        break;
    case TB_BINLOG_V_BITS:
        tb_buf_printf(o, "b'%s'", v->s);
        break;
    case TB_BINLOG_V_ENUM:
    case TB_BINLOG_V_SET:
        tb_buf_printf(o, "%s#%llu", v->kind == TB_BINLOG_V_ENUM ? "e" : "s",
                      (unsigned long long)v->u);
        if (v->s) put_text(o, v->s, v->len, false, true);
        break;
    case TB_BINLOG_V_DATE:
        tb_buf_printf(o, "%04d-%02u-%02u", t->year, t->month, t->day);
        break;
    case TB_BINLOG_V_TIME:
        tb_buf_printf(o, "%s%02u:%02u:%02u.%06u", t->negative ? "-" : "",
                      t->hour, t->minute, t->second, t->micros);
        break;
    case TB_BINLOG_V_DATETIME:
        tb_buf_printf(o, "%04d-%02u-%02u %02u:%02u:%02u.%06u", t->year,
                      t->month, t->day, t->hour, t->minute, t->second,
                      t->micros);
        break;
    case TB_BINLOG_V_TIMESTAMP:
        tb_buf_printf(o, "@%lld.%06u=%04d-%02u-%02uT%02u:%02u:%02uZ",
                      (long long)v->i, t->micros, t->year, t->month, t->day,
                      t->hour, t->minute, t->second);
        break;
    default:
        tb_buf_printf(o, "?kind%u", v->kind);
    }
    if (v->zero_date) tb_buf_puts(o, "(zero)");
    if (v->zero_in_date) tb_buf_puts(o, "(zero-in-date)");
}

static void render_row(tb_buf *o, const char *tag,
                       const tb_binlog_table_map *tm, const tb_binlog_row *r)
{
    tb_buf_printf(o, "  %s:", tag);
    for (uint32_t i = 0; i < r->ncols; i++) {
        const tb_binlog_column *col = &tm->cols[i];
        tb_buf_printf(o, " %s=", col->name ? col->name : "?");
        render_value(o, col, &r->vals[i]);
    }
    tb_buf_puts(o, "\n");
}

static void render_map(tb_buf *o, const tb_binlog_table_map *tm)
{
    tb_buf_printf(o, "TABLE_MAP id=%llu %s.%s ncols=%u\n",
                  (unsigned long long)tm->table_id, tm->db, tm->table,
                  tm->ncols);
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const tb_binlog_column *c = &tm->cols[i];
        tb_buf_printf(
            o,
            "  col %u %s type=%u real=%u meta=%u len=%u p=%u s=%u%s%s"
            "%s cs=%u",
            i + 1, c->name ? c->name : "?", c->type, c->real_type, c->meta,
            c->max_len, c->precision, c->scale, c->nullable ? " null" : "",
            c->is_unsigned ? " unsigned" : "", c->pk ? " pk" : "", c->charset);
        if (c->real_type == TB_MYSQL_GEOMETRY)
            tb_buf_printf(o, " geom=%u", c->geometry_type);
        if (c->values) {
            tb_buf_printf(o, " values=%u:", c->nvalues);
            for (uint32_t k = 0; k < c->nvalues && k < 4; k++)
                tb_buf_printf(o, "%s%s", k ? "," : "", c->values[k]);
            if (c->nvalues > 4)
                tb_buf_printf(o, ",..%s", c->values[c->nvalues - 1]);
        }
        tb_buf_puts(o, "\n");
    }
}

#define MAX_MAPS 32

typedef struct walk {
    tb_binlog_format fmt;
    tb_arena maps; /* table maps, live for the whole file */
    tb_arena rows; /* reset after every event */
    tb_binlog_table_map map[MAX_MAPS];
    int nmap;
} walk;

static const tb_binlog_table_map *find_map(walk *w, uint64_t id)
{
    for (int i = w->nmap - 1; i >= 0; i--)
        if (w->map[i].table_id == id) return &w->map[i];
    return NULL;
}

/* Decode one event and append its rendering; 0 / -1 with err. */
static int render_event(walk *w, const uint8_t *ev, size_t len, tb_buf *o,
                        tb_error *err)
{
    tb_binlog_event e;
    if (tb_binlog_event_decode(&w->fmt, ev, len, &w->maps, &e, err) < 0)
        return -1;
    const tb_binlog_header *h = &e.h;
    tb_buf_printf(o, "# type=%u server_id=%u log_pos=%u flags=0x%x\n", h->type,
                  h->server_id, h->log_pos, h->flags);
    switch (h->type) {
    case TB_BINLOG_FORMAT_DESCRIPTION:
        tb_buf_printf(o, "FORMAT_DESCRIPTION v%u %s checksum=%u nposts=%u\n",
                      e.u.fde.binlog_version, e.u.fde.server_version,
                      e.u.fde.checksum_alg, w->fmt.n_post_header);
        break;
    case TB_BINLOG_GTID_LIST:
        tb_buf_printf(o, "GTID_LIST count=%u", e.u.gtid_list.count);
        for (uint32_t i = 0; i < e.u.gtid_list.count; i++)
            tb_buf_printf(o, " %u-%u-%llu", e.u.gtid_list.gtids[i].domain_id,
                          e.u.gtid_list.gtids[i].server_id,
                          (unsigned long long)e.u.gtid_list.gtids[i].seq_no);
        tb_buf_puts(o, "\n");
        break;
    case TB_BINLOG_MARIADB_GTID:
        tb_buf_printf(o, "GTID %u-%u-%llu flags=0x%02x%s commit_id=%llu\n",
                      e.u.mgtid.domain_id, e.u.mgtid.server_id,
                      (unsigned long long)e.u.mgtid.seq_no, e.u.mgtid.flags,
                      e.u.mgtid.standalone ? " standalone" : "",
                      (unsigned long long)e.u.mgtid.commit_id);
        break;
    case TB_BINLOG_QUERY:
        tb_buf_printf(o, "QUERY db='%.*s' error=%u sql=", (int)e.u.query.db_len,
                      e.u.query.db, e.u.query.error_code);
        put_text(o, e.u.query.sql, e.u.query.sql_len, false, true);
        tb_buf_puts(o, "\n");
        break;
    case TB_BINLOG_ANNOTATE_ROWS:
        tb_buf_puts(o, "ANNOTATE_ROWS ");
        put_text(o, e.u.annotate.text,
                 e.u.annotate.len > 60 ? 60 : e.u.annotate.len, false, false);
        tb_buf_puts(o, "\n");
        break;
    case TB_BINLOG_XID:
        tb_buf_printf(o, "XID %llu\n", (unsigned long long)e.u.xid);
        break;
    case TB_BINLOG_ROTATE:
        tb_buf_printf(o, "ROTATE %.*s:%llu\n", (int)e.u.rotate.file_len,
                      e.u.rotate.file, (unsigned long long)e.u.rotate.position);
        break;
    case TB_BINLOG_TABLE_MAP:
        if (w->nmap == MAX_MAPS)
            return tb_error_set(err, TB_ERR_INTERNAL, "maps");
        w->map[w->nmap++] = e.u.table_map;
        render_map(o, &e.u.table_map);
        break;
    case TB_BINLOG_WRITE_ROWS_V1:
    case TB_BINLOG_UPDATE_ROWS_V1:
    case TB_BINLOG_DELETE_ROWS_V1:
    case TB_BINLOG_WRITE_ROWS_V2:
    case TB_BINLOG_UPDATE_ROWS_V2:
    case TB_BINLOG_DELETE_ROWS_V2: {
        const tb_binlog_rows *r = &e.u.rows;
        const tb_binlog_table_map *tm = find_map(w, r->table_id);
        if (!tm) return tb_error_set(err, TB_ERR_DECODE, "no map");
        tb_buf_printf(o, "ROWS %c v%u table=%llu flags=0x%x ncols=%u\n", r->op,
                      r->version, (unsigned long long)r->table_id, r->flags,
                      r->ncols);
        size_t pos = 0;
        while (pos < r->data_len) {
            tb_binlog_row before, after;
            if (tb_binlog_rows_next(r, tm, &pos, &w->rows, &before, &after,
                                    err) < 0)
                return -1;
            if (before.ncols) render_row(o, "before", tm, &before);
            if (after.ncols) render_row(o, "after", tm, &after);
        }
        break;
    }
    default:
        tb_buf_printf(o, "%s type %u, %zu body bytes\n",
                      e.skipped ? "skipped" : "decoded", h->type, e.body_len);
    }
    tb_arena_reset(&w->rows);
    return 0;
}

static void test_golden_mariadb(void **state)
{
    (void)state;
    const char *dir = getenv("TB_BINLOG_GOLDEN_DIR");
    char path[512];
    size_t n = 0, explen = 0;
    tb_error err;
    tb_buf out = TB_BUF_INIT, scratch = TB_BUF_INIT;
    walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    if (!dir) dir = "tests/data/binlog";
    snprintf(path, sizeof path, "%s/mariadb-rows.bin", dir);
    uint8_t *file = slurp(path, &n);
    if (!file) fail_msg("cannot read %s (run from the repository root)", path);
    assert_true(n > 4);
    assert_memory_equal(file, TB_BINLOG_MAGIC, 4);

    tb_binlog_format_init(&w->fmt);
    tb_arena_init(&w->maps, 0);
    tb_arena_init(&w->rows, 0);
    size_t off = 4;
    int nev = 0, nrows_events = 0;
    while (off < n) {
        tb_binlog_header h;
        assert_int_equal(tb_binlog_header_decode(file + off, n - off, &h, &err),
                         0);
        assert_true(h.event_size <= n - off);
        /* Each event copied into a buffer of exactly its size, so ASan
         * catches any read past its end. */
        uint8_t *ev = malloc(h.event_size);
        assert_non_null(ev);
        memcpy(ev, file + off, h.event_size);

        /* every strict prefix is refused cleanly */
        for (size_t k = 0; k < h.event_size; k++) {
            tb_binlog_format f2 = w->fmt;
            tb_binlog_event e;
            uint8_t *cp = malloc(k ? k : 1);
            assert_non_null(cp);
            memcpy(cp, ev, k);
            assert_int_equal(
                tb_binlog_event_decode(&f2, cp, k, &w->rows, &e, &err), -1);
            free(cp);
        }
        tb_arena_reset(&w->rows);

        /* a flipped byte in the body fails the CRC */
        if (w->fmt.checksum_alg == TB_BINLOG_CHECKSUM_CRC32) {
            tb_binlog_format f2 = w->fmt;
            tb_binlog_event e;
            ev[h.event_size - 5] ^= 0x01;
            assert_int_equal(tb_binlog_event_decode(&f2, ev, h.event_size,
                                                    &w->rows, &e, &err),
                             -1);
            assert_non_null(strstr(err.msg, "CRC32"));
            ev[h.event_size - 5] ^= 0x01;
        }

        if (render_event(w, ev, h.event_size, &out, &err) < 0)
            fail_msg("event %d at %zu: %s", nev, off, err.msg);
        if (h.type == TB_BINLOG_WRITE_ROWS_V1 ||
            h.type == TB_BINLOG_UPDATE_ROWS_V1 ||
            h.type == TB_BINLOG_DELETE_ROWS_V1)
            nrows_events++;
        free(ev);
        off += h.event_size;
        nev++;
    }
    assert_int_equal(off, n);
    assert_true(nrows_events >= 8);
    (void)scratch;

    snprintf(path, sizeof path, "%s/mariadb-rows.expected", dir);
    if (getenv("TB_BINLOG_GOLDEN_WRITE")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(out.data, 1, out.len, f), out.len);
        fclose(f);
    }
    char *expected = (char *)slurp(path, &explen);
    if (!expected) fail_msg("cannot read %s", path);
    if (explen != out.len || memcmp(expected, out.data, out.len) != 0) {
        /* show the first differing line */
        size_t i = 0, ls = 0;
        while (i < explen && i < out.len && expected[i] == (char)out.data[i]) {
            if (expected[i] == '\n') ls = i + 1;
            i++;
        }
        fail_msg("golden mismatch at byte %zu:\n got: %.200s\nwant: %.200s", i,
                 (const char *)out.data + ls, expected + ls);
    }
    free(expected);
    free(file);
    tb_buf_free(&out);
    tb_arena_free(&w->maps);
    tb_arena_free(&w->rows);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decimal_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bits_enum_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temporal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_type, setup, teardown),
        cmocka_unit_test(test_golden_mariadb),
    };
    return cmocka_run_group_tests_name("binlog_rows", tests, NULL, NULL);
}
