/* test_pgwire.c - replication CopyData framing, LSN text, epoch math. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../connectors/postgres/pgwire.h"

/* Append v big-endian in n bytes. */
static size_t put(uint8_t *p, size_t at, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[at + (size_t)i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return at + (size_t)n;
}

/* Parse a copy of exactly len bytes so ASan sees any over-read. */
static int parse_exact(const uint8_t *src, size_t len, tb_pgwire_msg *m,
                       tb_error *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, src, len);
    rc = tb_pgwire_parse(copy, len, m, err);
    free(copy);
    return rc;
}

static void test_xlogdata(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n = 0;
    tb_pgwire_msg m;
    tb_error err;
    b[n++] = 'w';
    n = put(b, n, UINT64_C(0x16B374D848), 8);
    n = put(b, n, UINT64_C(0x16B374D900), 8);
    n = put(b, n, (uint64_t)INT64_C(-5), 8);
    memcpy(b + n, "Bxyz", 4);
    n += 4;
    tb_error_clear(&err);
    assert_int_equal(tb_pgwire_parse(b, n, &m, &err), 0);
    assert_int_equal(m.kind, TB_PGWIRE_XLOGDATA);
    assert_true(m.u.xlog.wal_start == UINT64_C(0x16B374D848));
    assert_true(m.u.xlog.wal_end == UINT64_C(0x16B374D900));
    assert_true(m.u.xlog.send_time == -5);
    assert_int_equal(m.u.xlog.len, 4);
    assert_ptr_equal(m.u.xlog.data, b + 25);
    assert_memory_equal(m.u.xlog.data, "Bxyz", 4);

    /* Header alone: an empty payload is still a valid XLogData. */
    assert_int_equal(tb_pgwire_parse(b, 25, &m, &err), 0);
    assert_int_equal(m.u.xlog.len, 0);
    /* Every shorter prefix of the header fails cleanly. */
    for (size_t i = 0; i < 25; i++) {
        tb_error_clear(&err);
        assert_int_equal(parse_exact(b, i, &m, &err), -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
    }
    assert_non_null(strstr(err.msg, "XLogData"));
    assert_non_null(strstr(err.msg, "offset 17"));
}

static void test_keepalive(void **state)
{
    (void)state;
    uint8_t b[32];
    size_t n = 0;
    tb_pgwire_msg m;
    tb_error err;
    b[n++] = 'k';
    n = put(b, n, UINT64_C(0x100000010), 8);
    n = put(b, n, 774000000000ull, 8);
    b[n++] = 1;
    assert_int_equal(n, 18);
    assert_int_equal(tb_pgwire_parse(b, n, &m, &err), 0);
    assert_int_equal(m.kind, TB_PGWIRE_KEEPALIVE);
    assert_true(m.u.keepalive.wal_end == UINT64_C(0x100000010));
    assert_true(m.u.keepalive.send_time == 774000000000ll);
    assert_true(m.u.keepalive.reply_requested);
    b[17] = 0;
    assert_int_equal(tb_pgwire_parse(b, n, &m, &err), 0);
    assert_false(m.u.keepalive.reply_requested);
    for (size_t i = 0; i < n; i++) {
        tb_error_clear(&err);
        assert_int_equal(parse_exact(b, i, &m, &err), -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
    }
    /* Trailing garbage is refused. */
    b[n] = 0;
    assert_int_equal(tb_pgwire_parse(b, n + 1, &m, &err), -1);
    assert_non_null(strstr(err.msg, "trailing"));
    /* Unknown type. */
    b[0] = 'x';
    assert_int_equal(tb_pgwire_parse(b, n, &m, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_non_null(strstr(err.msg, "0x78"));
}

static void test_status(void **state)
{
    (void)state;
    uint8_t b[TB_PGWIRE_STATUS_LEN + 4];
    static const uint8_t want[TB_PGWIRE_STATUS_LEN] = {
        'r',  0,    0,    0,    0x16, 0xB3, 0x74, 0xD8, 0x48, /* written */
        0,    0,    0,    0x16, 0xB3, 0x74, 0xD8, 0x00,       /* flushed */
        0,    0,    0,    0x01, 0x02, 0x03, 0x04, 0x05,       /* applied */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,       /* clock -2 */
        1};
    tb_error err;
    memset(b, 0xAA, sizeof b);
    assert_int_equal(tb_pgwire_build_status(b, sizeof b, 0x16B374D848ull,
                                            0x16B374D800ull, 0x0102030405ull,
                                            -2, true, &err),
                     TB_PGWIRE_STATUS_LEN);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(b[TB_PGWIRE_STATUS_LEN], 0xAA); /* nothing past it */
    assert_int_equal(tb_pgwire_build_status(b, TB_PGWIRE_STATUS_LEN - 1, 1, 1,
                                            1, 0, false, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_INTERNAL);
}

static void test_lsn(void **state)
{
    (void)state;
    uint64_t v = 1;
    char t[TB_PGWIRE_LSN_BUFSZ];
    tb_error err;
    assert_int_equal(tb_pgwire_lsn_parse("16/B374D848", &v, &err), 0);
    assert_true(v == UINT64_C(0x16B374D848));
    assert_int_equal(tb_pgwire_lsn_parse("0/0", &v, &err), 0);
    assert_true(v == 0);
    assert_int_equal(tb_pgwire_lsn_parse("ffffffff/FFFFFFFF", &v, &err), 0);
    assert_true(v == UINT64_MAX);
    static const char *bad[] = {"",      "/",           "1/",          "/1",
                                "1/2/3", "123456789/0", "0/1x",        "g/0",
                                " 1/2",  "1/2 ",        "0/123456789", "1-2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_error_clear(&err);
        assert_int_equal(tb_pgwire_lsn_parse(bad[i], &v, &err), -1);
        assert_int_equal(err.code, TB_ERR_DECODE);
    }
    assert_int_equal(tb_pgwire_lsn_format(UINT64_C(0x16B374D848), t, sizeof t),
                     11);
    assert_string_equal(t, "16/B374D848");
    assert_int_equal(tb_pgwire_lsn_format(UINT64_MAX, t, sizeof t), 17);
    assert_string_equal(t, "FFFFFFFF/FFFFFFFF");
    assert_int_equal(tb_pgwire_lsn_format(0, t, sizeof t), 3);
    assert_string_equal(t, "0/0");
    assert_int_equal(tb_pgwire_lsn_format(UINT64_C(0x16B374D848), t, 11), -1);
    assert_string_equal(t, "");
    /* Round trip. */
    assert_int_equal(tb_pgwire_lsn_format(UINT64_C(0xABC00000DEF), t, sizeof t),
                     7);
    assert_string_equal(t, "ABC/DEF");
    assert_int_equal(tb_pgwire_lsn_parse(t, &v, &err), 0);
    assert_true(v == UINT64_C(0xABC00000DEF));
}

static void test_epoch(void **state)
{
    (void)state;
    /* 2000-01-01T00:00:00Z is Unix 946684800 s. */
    assert_true(tb_pgwire_pg_to_unix_us(0) == INT64_C(946684800000000));
    assert_true(tb_pgwire_unix_to_pg_us(INT64_C(946684800000000)) == 0);
    assert_true(tb_pgwire_unix_to_pg_us(0) == -INT64_C(946684800000000));
    /* 2024-02-29T12:00:00.000001Z */
    int64_t unix_us = INT64_C(1709208000000001);
    int64_t pg = tb_pgwire_unix_to_pg_us(unix_us);
    assert_true(pg == unix_us - INT64_C(946684800000000));
    assert_true(tb_pgwire_pg_to_unix_us(pg) == unix_us);
    /* Infinity is kept; near the edges it saturates instead of wrapping. */
    assert_true(tb_pgwire_pg_to_unix_us(INT64_MAX) == INT64_MAX);
    assert_true(tb_pgwire_pg_to_unix_us(INT64_MIN) == INT64_MIN);
    assert_true(tb_pgwire_unix_to_pg_us(INT64_MAX) == INT64_MAX);
    assert_true(tb_pgwire_unix_to_pg_us(INT64_MIN) == INT64_MIN);
    assert_true(tb_pgwire_pg_to_unix_us(INT64_MAX - 1) == INT64_MAX);
    assert_true(tb_pgwire_unix_to_pg_us(INT64_MIN + 1) == INT64_MIN);
}

static void test_reader(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x02, 0x03, 'a', 'b', 0, 'c'};
    tb_pgwire_reader r;
    tb_error err;
    uint16_t v16;
    uint8_t v8;
    const char *s;
    size_t n;
    tb_pgwire_reader_init(&r, b, sizeof b, "thing", &err);
    assert_int_equal(tb_pgwire_read_u16(&r, &v16), 0);
    assert_int_equal(v16, 0x0102);
    assert_int_equal(tb_pgwire_read_u8(&r, &v8), 0);
    assert_int_equal(v8, 3);
    assert_int_equal(tb_pgwire_read_cstr(&r, &s, &n), 0);
    assert_string_equal(s, "ab");
    assert_int_equal(n, 2);
    assert_int_equal(tb_pgwire_read_end(&r), -1);
    assert_int_equal(tb_pgwire_read_cstr(&r, &s, &n), -1);
    assert_string_equal(err.msg, "thing: unterminated string at offset 6");
    uint32_t v32;
    assert_int_equal(tb_pgwire_read_u32(&r, &v32), -1);
    assert_string_equal(err.msg, "thing: truncated at offset 6 (need 4 bytes, "
                                 "1 left)");
    assert_int_equal(r.off, 6); /* a failed read consumes nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlogdata), cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_status),   cmocka_unit_test(test_lsn),
        cmocka_unit_test(test_epoch),    cmocka_unit_test(test_reader),
    };
    return cmocka_run_group_tests_name("pgwire", tests, NULL, NULL);
}
