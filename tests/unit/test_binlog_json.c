/*
 * test_binlog_json.c - MySQL binary JSON (json_binary.h layout) to text:
 * scalars, small and large containers, inlined values, variable-length
 * string sizes, opaque DECIMAL / DATE / TIME / DATETIME and other types,
 * corrupt input and every truncated prefix refused.
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

/* Render doc and compare; then check that every non-empty strict prefix
 * is refused (copies exactly sized so ASan sees any overread). */
static void check(const uint8_t *doc, size_t n, const char *want)
{
    tb_buf out = TB_BUF_INIT;
    tb_error err;
    if (tb_binlog_json_to_text(doc, n, &out, &err) != 0)
        fail_msg("json: %s", err.msg);
    assert_string_equal((const char *)out.data, want);
    for (size_t k = 1; k < n; k++) {
        uint8_t *cp = malloc(k);
        assert_non_null(cp);
        memcpy(cp, doc, k);
        tb_buf_reset(&out);
        assert_int_equal(tb_binlog_json_to_text(cp, k, &out, &err), -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
        free(cp);
    }
    tb_buf_free(&out);
}

#define CHECK(lit, want) check((const uint8_t *)(lit), sizeof(lit) - 1, want)

static void test_scalars(void **state)
{
    (void)state;
    CHECK("\x04\x00", "null");
    CHECK("\x04\x01", "true");
    CHECK("\x04\x02", "false");
    CHECK("\x05\x00\x80", "-32768");
    CHECK("\x06\xff\xff", "65535");
    CHECK("\x07\x00\x00\x00\x80", "-2147483648");
    CHECK("\x08\xff\xff\xff\xff", "4294967295");
    CHECK("\x09\x00\x00\x00\x00\x00\x00\x00\x80", "-9223372036854775808");
    CHECK("\x0a\xff\xff\xff\xff\xff\xff\xff\xff", "18446744073709551615");
    CHECK("\x0b\x00\x00\x00\x00\x00\x00\x08\x40", "3.0");
    CHECK("\x0b\x9a\x99\x99\x99\x99\x99\xb9\x3f", "0.1");
    CHECK("\x0b\x7d\xc3\x94\x25\xad\x49\xb2\x54", "1e100");
    CHECK("\x0c\x05h\"\\\n\x01", "\"h\\\"\\\\\\n\\u0001\"");
    CHECK("\x0c\x04\xf0\x9f\x8e\x89", "\"\xf0\x9f\x8e\x89\"");
    CHECK("\x0c\x00", "\"\"");
    /* an empty document is null */
    tb_buf out = TB_BUF_INIT;
    tb_error err;
    assert_int_equal(tb_binlog_json_to_text(NULL, 0, &out, &err), 0);
    assert_string_equal((const char *)out.data, "null");
    tb_buf_free(&out);
}

static void test_long_string(void **state)
{
    (void)state;
    /* 200 bytes: size 200 = 0x48 | 0x80, 0x01 */
    uint8_t doc[3 + 200];
    char want[203];
    doc[0] = 0x0c;
    doc[1] = 0xc8;
    doc[2] = 0x01;
    memset(doc + 3, 'z', 200);
    want[0] = '"';
    memset(want + 1, 'z', 200);
    want[201] = '"';
    want[202] = 0;
    check(doc, sizeof doc, want);
}

static void test_containers(void **state)
{
    (void)state;
    /* {"a": 1, "b": [true, "x"]} as a small object */
    static const uint8_t obj[] = {
        0x00,                   /* small object */
        0x02, 0x00, 0x20, 0x00, /* count 2, size 32 */
        0x12, 0x00, 0x01, 0x00, /* key "a" at 18 */
        0x13, 0x00, 0x01, 0x00, /* key "b" at 19 */
        0x05, 0x01, 0x00,       /* int16 1 inline */
        0x02, 0x14, 0x00,       /* small array at 20 */
        'a', 'b',
        /* array: count 2, size 12, true inline, string at 10 */
        0x02, 0x00, 0x0c, 0x00, 0x04, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x01, 'x'};
    check(obj, sizeof obj, "{\"a\": 1, \"b\": [true, \"x\"]}");
    /* large array: one inlined int32, one uint32, one offset double */
    static const uint8_t arr[] = {
        0x03,                                         /* large array */
        0x03, 0,    0,    0,    0x1f, 0, 0,    0,     /* count 3, size 31 */
        0x07, 0xff, 0xff, 0xff, 0xff,                 /* int32 -1 inline */
        0x08, 0x00, 0x00, 0x00, 0x80,                 /* uint32 2^31 inline */
        0x0b, 0x17, 0,    0,    0,                    /* double at 23 */
        0,    0,    0,    0,    0,    0, 0xf8, 0x3f}; /* 1.5 */
    check(arr, sizeof arr, "[-1, 2147483648, 1.5]");
    CHECK("\x02\x00\x00\x04\x00", "[]");
    CHECK("\x00\x00\x00\x04\x00", "{}");
}

static void test_opaque(void **state)
{
    (void)state;
    /* DECIMAL(5,2) -12.50: precision, scale, binary decimal */
    CHECK("\x0f\xf6\x05\x05\x02\x7f\xf3\xcd", "-12.50");
    /* DATETIME 2024-02-29 12:34:56.5 */
    uint64_t ymd = ((2024ull * 13 + 2) << 5) | 29;
    uint64_t hms = 12u << 12 | 34u << 6 | 56u;
    uint64_t packed = ((ymd << 17 | hms) << 24) | 500000;
    uint8_t d[11] = {0x0f, 12, 8};
    for (int i = 0; i < 8; i++)
        d[3 + i] = (uint8_t)(packed >> (8 * i));
    check(d, sizeof d, "\"2024-02-29 12:34:56.500000\"");
    d[1] = 10; /* DATE */
    packed = (ymd << 17) << 24;
    for (int i = 0; i < 8; i++)
        d[3 + i] = (uint8_t)(packed >> (8 * i));
    check(d, sizeof d, "\"2024-02-29\"");
    d[1] = 11; /* TIME -01:02:03.000004 */
    int64_t t = -(int64_t)((((uint64_t)(1u << 12 | 2u << 6 | 3u)) << 24) | 4);
    for (int i = 0; i < 8; i++)
        d[3 + i] = (uint8_t)((uint64_t)t >> (8 * i));
    check(d, sizeof d, "\"-01:02:03.000004\"");
    /* other field types: base64 */
    CHECK("\x0f\xfc\x02\x00\x01", "\"base64:type252:AAE=\"");
}

static void test_corrupt(void **state)
{
    (void)state;
    tb_buf out = TB_BUF_INIT;
    tb_error err;
    /* unknown type */
    assert_int_equal(
        tb_binlog_json_to_text((const uint8_t *)"\x0d\x00", 2, &out, &err), -1);
    /* unknown literal */
    assert_int_equal(
        tb_binlog_json_to_text((const uint8_t *)"\x04\x07", 2, &out, &err), -1);
    /* value offset beyond the container */
    static const uint8_t bad[] = {0x02, 0x01, 0x00, 0x07,
                                  0x00, 0x0c, 0x40, 0x00};
    assert_int_equal(tb_binlog_json_to_text(bad, sizeof bad, &out, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    /* element count that cannot fit */
    static const uint8_t many[] = {0x02, 0xff, 0x00, 0x04, 0x00};
    assert_int_equal(tb_binlog_json_to_text(many, sizeof many, &out, &err), -1);
    /* nesting deeper than MySQL allows: [[[[...]]]] via offsets */
    enum { DEPTH = 120 };
    uint8_t deep[1 + DEPTH * 7 + 4];
    size_t n = 0;
    deep[n++] = 0x02;
    for (int i = 0; i < DEPTH; i++) {
        size_t rest = (size_t)(DEPTH - i) * 7 + 4 - 7 + 7;
        deep[n++] = 0x01;
        deep[n++] = 0x00;
        deep[n++] = (uint8_t)rest;
        deep[n++] = (uint8_t)(rest >> 8);
        deep[n++] = 0x02; /* small array at offset 7 */
        deep[n++] = 0x07;
        deep[n++] = 0x00;
    }
    deep[n++] = 0x00;
    deep[n++] = 0x00;
    deep[n++] = 0x04;
    deep[n++] = 0x00;
    assert_int_equal(tb_binlog_json_to_text(deep, n, &out, &err), -1);
    assert_non_null(strstr(err.msg, "nested"));
    tb_buf_free(&out);
}

static void test_json_column(void **state)
{
    (void)state;
    /* a MySQL JSON column: 4-byte length prefix, then the binary doc */
    tb_arena a;
    tb_error err;
    tb_binlog_column col;
    tb_binlog_value v;
    size_t used;
    memset(&col, 0, sizeof col);
    col.type = col.real_type = TB_MYSQL_JSON;
    col.scale = 4;
    tb_arena_init(&a, 0);
    static const uint8_t b[] = {0x05, 0, 0, 0, 0x0c, 0x03, 'a', 'b', 'c'};
    assert_int_equal(
        tb_binlog_value_decode(&col, b, sizeof b, &a, &v, &used, &err), 0);
    assert_int_equal(used, sizeof b);
    assert_int_equal(v.kind, TB_BINLOG_V_JSON);
    assert_string_equal(v.s, "\"abc\"");
    assert_int_equal(v.len, 5);
    static const uint8_t e[] = {0, 0, 0, 0};
    assert_int_equal(
        tb_binlog_value_decode(&col, e, sizeof e, &a, &v, &used, &err), 0);
    assert_string_equal(v.s, "null");
    tb_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),    cmocka_unit_test(test_long_string),
        cmocka_unit_test(test_containers), cmocka_unit_test(test_opaque),
        cmocka_unit_test(test_corrupt),    cmocka_unit_test(test_json_column),
    };
    return cmocka_run_group_tests_name("binlog_json", tests, NULL, NULL);
}
