/*
 * test_my_rows.c - MySQL/MariaDB values -> tb_value (connectors/mysql/
 * my_rows.c): binlog-decoded values and text-protocol values of every kind
 * at their extremes, zero dates under both policies, character sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../connectors/mysql/my_source_int.h"

/* One column of the test table: name, kind and the MySQL type. */
typedef struct colspec {
    const char *name;
    tb_kind kind;
    int precision;
    uint8_t type;
} colspec;

static const colspec cols[] = {
    {"i", TB_KIND_INT, 0, TB_MYSQL_TYPE_LONG},
    {"l", TB_KIND_LONG, 0, TB_MYSQL_TYPE_LONGLONG},
    {"ub", TB_KIND_DECIMAL, 20, TB_MYSQL_TYPE_LONGLONG},
    {"dec", TB_KIND_DECIMAL, 65, TB_MYSQL_TYPE_NEWDECIMAL},
    {"f", TB_KIND_FLOAT, 0, TB_MYSQL_TYPE_FLOAT},
    {"d", TB_KIND_DOUBLE, 0, TB_MYSQL_TYPE_DOUBLE},
    {"bits", TB_KIND_BITS, 10, TB_MYSQL_TYPE_BIT},
    {"e", TB_KIND_STRING, 0, TB_MYSQL_TYPE_ENUM},
    {"st", TB_KIND_SET, 0, TB_MYSQL_TYPE_SET},
    {"s", TB_KIND_STRING, 0, TB_MYSQL_TYPE_VARCHAR},
    {"b", TB_KIND_BYTES, 0, TB_MYSQL_TYPE_BLOB},
    {"g", TB_KIND_BYTES, 0, TB_MYSQL_TYPE_GEOMETRY},
    {"dt", TB_KIND_DATE, 0, TB_MYSQL_TYPE_DATE},
    {"dtm", TB_KIND_LOCAL_TIMESTAMP_MICROS, 0, TB_MYSQL_TYPE_DATETIME2},
    {"ts", TB_KIND_TIMESTAMP_MICROS, 0, TB_MYSQL_TYPE_TIMESTAMP2},
    {"tm", TB_KIND_DURATION_MICROS, 0, TB_MYSQL_TYPE_TIME2},
    {"y", TB_KIND_INT, 0, TB_MYSQL_TYPE_YEAR},
    {"j", TB_KIND_JSON, 0, TB_MYSQL_TYPE_JSON},
};
enum {
    C_I,
    C_L,
    C_UB,
    C_DEC,
    C_F,
    C_D,
    C_BITS,
    C_E,
    C_ST,
    C_S,
    C_B,
    C_G,
    C_DT,
    C_DTM,
    C_TS,
    C_TM,
    C_Y,
    C_J,
    NCOLS
};

typedef struct fixture {
    tb_table *t;
    tb_arena arena;
    tb_myrow_ctx cx;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->t = tb_table_new("shop", "shop", "items", NCOLS);
    assert_non_null(f->t);
    for (int i = 0; i < NCOLS; i++) {
        assert_int_equal(tb_table_set_column(f->t, i, cols[i].name, "x", "x",
                                             cols[i].kind, cols[i].precision, 0,
                                             true, i == 0),
                         0);
        f->t->cols[i].type_id = cols[i].type;
    }
    tb_arena_init(&f->arena, 0);
    f->cx.arena = &f->arena;
    f->cx.position = "gtid=0-1-5;file=binlog.000001;pos=900";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_table_free(f->t);
    tb_arena_free(&f->arena);
    tb_myrow_ctx_free(&f->cx);
    free(f);
    return 0;
}

static tb_value bin(fixture *f, int col, uint32_t cs, tb_binlog_value v)
{
    tb_value out;
    tb_error err;
    tb_error_clear(&err);
    v.type = cols[col].type;
    int rc = tb_myrow_from_binlog(&f->cx, f->t, col, cs, &v, &out, &err);
    if (rc != 0) fail_msg("column %s: %s", cols[col].name, err.msg);
    return out;
}

static tb_value txt(fixture *f, int col, const char *s, size_t n)
{
    tb_value out;
    tb_error err;
    tb_error_clear(&err);
    int rc = tb_myrow_from_text(&f->cx, f->t, col, s, n, &out, &err);
    if (rc != 0) fail_msg("column %s: %s", cols[col].name, err.msg);
    return out;
}
#define TXT(f, col, lit) txt(f, col, lit, sizeof lit - 1)

static void assert_str(tb_value v, const char *want, size_t n)
{
    assert_int_equal(v.state, TB_VALUE_SET);
    assert_int_equal(v.len, n);
    assert_memory_equal(v.u.s, want, n);
}

static void test_days(void **state)
{
    (void)state;
    assert_int_equal(tb_myrow_days(1970, 1, 1), 0);
    assert_int_equal(tb_myrow_days(2000, 3, 1), 11017);
    assert_int_equal(tb_myrow_days(1969, 12, 31), -1);
    assert_int_equal(tb_myrow_days(1000, 1, 1), -354285);
    assert_int_equal(tb_myrow_days(9999, 12, 31), 2932896);
    assert_int_equal(tb_myrow_days(2024, 2, 29), 19782);
}

static void test_binlog_numbers(void **state)
{
    fixture *f = *state;
    tb_binlog_value v = {0};
    v.kind = TB_BINLOG_V_INT;
    v.i = INT32_MIN;
    assert_int_equal(bin(f, C_I, 0, v).u.i, INT32_MIN);
    v.i = INT32_MAX;
    assert_int_equal(bin(f, C_I, 0, v).u.i, INT32_MAX);
    v.i = INT64_MIN;
    assert_true(bin(f, C_L, 0, v).u.i == INT64_MIN);
    v.i = INT64_MAX;
    assert_true(bin(f, C_L, 0, v).u.i == INT64_MAX);
    /* BIGINT UNSIGNED max only fits a decimal */
    v.kind = TB_BINLOG_V_UINT;
    v.u = UINT64_MAX;
    assert_str(bin(f, C_UB, 0, v), "18446744073709551615", 20);
    v.u = 0;
    assert_str(bin(f, C_UB, 0, v), "0", 1);
    /* INT UNSIGNED max in a LONG */
    v.u = UINT32_MAX;
    assert_int_equal(bin(f, C_L, 0, v).u.i, 4294967295LL);
    v.kind = TB_BINLOG_V_DECIMAL;
    v.s = "-99999999999999999999999999999999999.999999999999999999999999999999";
    v.len = strlen(v.s);
    assert_str(bin(f, C_DEC, 0, v), v.s, v.len);
    v.kind = TB_BINLOG_V_DOUBLE;
    v.d = -3.4028234663852886e38;
    assert_true(bin(f, C_F, 0, v).u.d == -3.4028234663852886e38);
    v.d = 1.7976931348623157e308;
    assert_true(bin(f, C_D, 0, v).u.d == 1.7976931348623157e308);
    v.kind = TB_BINLOG_V_BITS;
    v.s = "1000000001";
    v.len = 10;
    assert_str(bin(f, C_BITS, 0, v), "1000000001", 10);
    v.kind = TB_BINLOG_V_YEAR;
    v.i = 2155;
    assert_int_equal(bin(f, C_Y, 0, v).u.i, 2155);
    v.i = 0;
    assert_int_equal(bin(f, C_Y, 0, v).u.i, 0);
}

static void test_binlog_strings(void **state)
{
    fixture *f = *state;
    tb_binlog_value v = {0};
    /* latin1 (collation 8) "Crème brûlée €" -> UTF-8 */
    v.kind = TB_BINLOG_V_BYTES;
    v.s = "Cr\xe8me br\xfbl\xe9\x65 \x80";
    v.len = strlen(v.s);
    tb_value o = bin(f, C_S, 8, v);
    assert_string_equal(o.u.s, "Crème brûlée €");
    /* utf8mb4 (45) emoji pass through */
    v.s = "\xf0\x9f\x98\x80 ok";
    v.len = strlen(v.s);
    assert_str(bin(f, C_S, 45, v), "\xf0\x9f\x98\x80 ok", 7);
    /* blob keeps zero bytes */
    v.s = "a\0b\0";
    v.len = 4;
    assert_str(bin(f, C_B, 63, v), "a\0b\0", 4);
    /* geometry: SRID prefix dropped, WKB kept */
    v.s = "\x00\x00\x00\x00\x01\x01\x00\x00\x00";
    v.len = 9;
    assert_str(bin(f, C_G, 63, v), "\x01\x01\x00\x00\x00", 5);
    /* enum and set in latin1 */
    v.kind = TB_BINLOG_V_ENUM;
    v.s = "caf\xe9";
    v.len = 4;
    assert_str(bin(f, C_E, 8, v), "café", 5);
    v.kind = TB_BINLOG_V_SET;
    v.s = "a,b";
    v.len = 3;
    assert_str(bin(f, C_ST, 45, v), "a,b", 3);
    v.s = "";
    v.len = 0;
    assert_str(bin(f, C_ST, 45, v), "", 0);
    v.kind = TB_BINLOG_V_JSON;
    v.s = "{\"a\": [1, null]}";
    v.len = strlen(v.s);
    assert_str(bin(f, C_J, 0, v), v.s, v.len);
    /* enum without member names: clear error naming the setting */
    tb_value out;
    tb_error err;
    v.kind = TB_BINLOG_V_ENUM;
    v.s = NULL;
    v.u = 2;
    assert_int_equal(tb_myrow_from_binlog(&f->cx, f->t, C_E, 8, &v, &out, &err),
                     -1);
    assert_non_null(strstr(err.msg, "binlog_row_metadata=FULL"));
    /* a value of the wrong kind for the shape */
    v.kind = TB_BINLOG_V_DOUBLE;
    assert_int_equal(tb_myrow_from_binlog(&f->cx, f->t, C_S, 8, &v, &out, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
}

static void test_binlog_temporal(void **state)
{
    fixture *f = *state;
    tb_binlog_value v = {0};
    v.kind = TB_BINLOG_V_DATE;
    v.t.year = 1000;
    v.t.month = 1;
    v.t.day = 1;
    assert_int_equal(bin(f, C_DT, 0, v).u.i, -354285);
    v.t.year = 9999;
    v.t.month = 12;
    v.t.day = 31;
    assert_int_equal(bin(f, C_DT, 0, v).u.i, 2932896);
    /* DATETIME: wall clock, never shifted */
    v.kind = TB_BINLOG_V_DATETIME;
    v.t.hour = 23;
    v.t.minute = 59;
    v.t.second = 59;
    v.t.micros = 999999;
    assert_true(bin(f, C_DTM, 0, v).u.i == 253402300799999999LL);
    memset(&v.t, 0, sizeof v.t);
    v.t.year = 1970;
    v.t.month = 1;
    v.t.day = 1;
    v.t.micros = 1;
    assert_int_equal(bin(f, C_DTM, 0, v).u.i, 1);
    /* TIMESTAMP: the UTC instant */
    v.kind = TB_BINLOG_V_TIMESTAMP;
    v.i = 2147483647;
    v.t.micros = 999999;
    assert_true(bin(f, C_TS, 0, v).u.i == 2147483647999999LL);
    v.i = 1;
    v.t.micros = 0;
    assert_int_equal(bin(f, C_TS, 0, v).u.i, 1000000);
    /* TIME: negative, beyond 24 h */
    v.kind = TB_BINLOG_V_TIME;
    memset(&v.t, 0, sizeof v.t);
    v.t.hour = 838;
    v.t.minute = 59;
    v.t.second = 59;
    v.t.negative = true;
    assert_true(bin(f, C_TM, 0, v).u.i == -3020399000000LL);
    v.t.negative = false;
    v.t.micros = 500000;
    assert_true(bin(f, C_TM, 0, v).u.i == 3020399500000LL);
}

static void test_null_absent(void **state)
{
    fixture *f = *state;
    tb_binlog_value v = {0};
    for (int c = 0; c < NCOLS; c++) {
        v.kind = TB_BINLOG_V_NULL;
        assert_int_equal(bin(f, c, 0, v).state, TB_VALUE_NULL);
        v.kind = TB_BINLOG_V_ABSENT;
        assert_int_equal(bin(f, c, 0, v).state, TB_VALUE_UNCHANGED);
        assert_int_equal(txt(f, c, NULL, 0).state, TB_VALUE_NULL);
    }
}

static void test_zero_dates_null(void **state)
{
    fixture *f = *state;
    tb_binlog_value v = {0};
    v.kind = TB_BINLOG_V_DATE;
    v.zero_date = true;
    assert_int_equal(bin(f, C_DT, 0, v).state, TB_VALUE_NULL);
    v.zero_date = false;
    v.zero_in_date = true;
    v.t.year = 2024;
    v.t.day = 10;
    assert_int_equal(bin(f, C_DT, 0, v).state, TB_VALUE_NULL);
    v.kind = TB_BINLOG_V_DATETIME;
    assert_int_equal(bin(f, C_DTM, 0, v).state, TB_VALUE_NULL);
    v.kind = TB_BINLOG_V_TIMESTAMP;
    v.zero_date = true;
    assert_int_equal(bin(f, C_TS, 0, v).state, TB_VALUE_NULL);
    assert_int_equal(TXT(f, C_DT, "0000-00-00").state, TB_VALUE_NULL);
    assert_int_equal(TXT(f, C_DT, "2024-00-10").state, TB_VALUE_NULL);
    assert_int_equal(TXT(f, C_DTM, "0000-00-00 00:00:00").state, TB_VALUE_NULL);
    assert_int_equal(f->cx.zero_count, 7);
    /* warned once per column: dt, dtm, ts */
    assert_int_equal(f->cx.nwarned, 3);
}

static void test_zero_dates_error(void **state)
{
    fixture *f = *state;
    f->cx.zero_error = true;
    tb_binlog_value v = {0};
    tb_value out;
    tb_error err;
    v.kind = TB_BINLOG_V_DATE;
    v.zero_in_date = true;
    v.t.year = 2024;
    v.t.day = 10;
    assert_int_equal(
        tb_myrow_from_binlog(&f->cx, f->t, C_DT, 0, &v, &out, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_non_null(strstr(err.msg, "2024-00-10"));
    assert_non_null(strstr(err.msg, "shop.items"));
    assert_non_null(strstr(err.msg, "column dt"));
    assert_non_null(strstr(err.msg, "pos=900"));
    assert_non_null(strstr(err.msg, "source.zero_dates"));
    assert_int_equal(tb_myrow_from_text(&f->cx, f->t, C_DTM,
                                        "0000-00-00 00:00:00", 19, &out, &err),
                     -1);
    assert_non_null(strstr(err.msg, "column dtm"));
    assert_int_equal(f->cx.zero_count, 0);
}

static void test_text_values(void **state)
{
    fixture *f = *state;
    assert_int_equal(TXT(f, C_I, "-2147483648").u.i, INT32_MIN);
    assert_true(TXT(f, C_L, "-9223372036854775808").u.i == INT64_MIN);
    assert_true(TXT(f, C_L, "9223372036854775807").u.i == INT64_MAX);
    assert_str(TXT(f, C_UB, "18446744073709551615"), "18446744073709551615",
               20);
    assert_str(TXT(f, C_DEC, "-1.000000000000000000000000000001"),
               "-1.000000000000000000000000000001", 33);
    assert_true(TXT(f, C_D, "-1.7976931348623157e308").u.d ==
                -1.7976931348623157e308);
    assert_true(TXT(f, C_F, "3.40282e38").u.d == (double)3.40282e38f);
    /* BIT(10) arrives as 2 raw big-endian bytes */
    assert_str(txt(f, C_BITS, "\x02\x01", 2), "1000000001", 10);
    assert_str(txt(f, C_BITS, "\x00\x00", 2), "0000000000", 10);
    assert_str(TXT(f, C_ST, "a,b"), "a,b", 3);
    assert_str(TXT(f, C_S, "\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80", 4);
    assert_str(txt(f, C_B, "\0\xff\0", 3), "\0\xff\0", 3);
    assert_str(txt(f, C_G, "\x00\x00\x00\x00\x01\x02", 6), "\x01\x02", 2);
    assert_int_equal(TXT(f, C_DT, "1000-01-01").u.i, -354285);
    assert_int_equal(TXT(f, C_DT, "9999-12-31").u.i, 2932896);
    assert_true(TXT(f, C_DTM, "9999-12-31 23:59:59.999999").u.i ==
                253402300799999999LL);
    assert_int_equal(TXT(f, C_DTM, "1970-01-01 00:00:00.5").u.i, 500000);
    assert_int_equal(TXT(f, C_DTM, "1970-01-01 00:00:01").u.i, 1000000);
    assert_true(TXT(f, C_TS, "2038-01-19 03:14:07.999999").u.i ==
                2147483647999999LL);
    assert_true(TXT(f, C_TM, "-838:59:59.000000").u.i == -3020399000000LL);
    assert_true(TXT(f, C_TM, "838:59:59").u.i == 3020399000000LL);
    assert_int_equal(TXT(f, C_TM, "-00:00:00.000001").u.i, -1);
    assert_int_equal(TXT(f, C_Y, "0000").u.i, 0);
    assert_int_equal(TXT(f, C_Y, "1901").u.i, 1901);
    assert_str(TXT(f, C_J, "[]"), "[]", 2);
    /* garbage is refused, with the column named */
    tb_value out;
    tb_error err;
    assert_int_equal(
        tb_myrow_from_text(&f->cx, f->t, C_I, "12x", 3, &out, &err), -1);
    assert_non_null(strstr(err.msg, "column i"));
    assert_int_equal(
        tb_myrow_from_text(&f->cx, f->t, C_DT, "2024-1-1", 8, &out, &err), -1);
    assert_int_equal(
        tb_myrow_from_text(&f->cx, f->t, C_TM, "12:3", 4, &out, &err), -1);
}

static void test_positions(void **state)
{
    (void)state;
    my_pos a, b;
    tb_error err;
    tb_position t;
    assert_int_equal(
        tb_mysrc_pos_parse("gtid=0-1-42,2-5-7;file=binlog.000003;pos=1234", &a,
                           &err),
        0);
    assert_int_equal(a.ngtids, 2);
    assert_int_equal(a.gtids[1].domain, 2);
    assert_int_equal(a.gtids[1].seq, 7);
    assert_string_equal(a.file, "binlog.000003");
    assert_int_equal(a.pos, 1234);
    tb_mysrc_pos_format(&a, &t);
    assert_string_equal(t.text,
                        "gtid=0-1-42,2-5-7;file=binlog.000003;pos=1234");
    /* the same GTIDs: the file position decides */
    assert_int_equal(
        tb_mysrc_pos_parse("gtid=0-1-42,2-5-7;file=binlog.000003;pos=2000", &b,
                           &err),
        0);
    assert_true(tb_mysrc_pos_compare(&a, &b) < 0);
    assert_true(tb_mysrc_pos_compare(&b, &a) > 0);
    assert_int_equal(tb_mysrc_pos_compare(&a, &a), 0);
    /* a later GTID wins over the file position */
    assert_int_equal(
        tb_mysrc_pos_parse("gtid=0-1-43,2-5-7;file=binlog.000003;pos=10", &b,
                           &err),
        0);
    assert_true(tb_mysrc_pos_compare(&a, &b) < 0);
    /* binlog.000010 comes after binlog.000009 */
    assert_int_equal(tb_mysrc_pos_parse("file=binlog.000009;pos=900", &a, &err),
                     0);
    assert_int_equal(tb_mysrc_pos_parse("file=binlog.000010;pos=4", &b, &err),
                     0);
    assert_true(tb_mysrc_pos_compare(&a, &b) < 0);
    /* empty sorts first */
    assert_int_equal(tb_mysrc_pos_parse("", &a, &err), 0);
    assert_true(tb_mysrc_pos_compare(&a, &b) < 0);
    /* Oracle MySQL GTID sets are kept as text */
    assert_int_equal(
        tb_mysrc_pos_parse("gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5;"
                           "file=mysql-bin.000001;pos=4",
                           &a, &err),
        0);
    tb_mysrc_pos_format(&a, &t);
    assert_string_equal(t.text, "gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5;"
                                "file=mysql-bin.000001;pos=4");
    assert_int_equal(tb_mysrc_pos_parse("file=x;pos=abc", &a, &err), -1);
    assert_int_equal(tb_mysrc_pos_parse("lsn=0/1", &a, &err), -1);
    assert_int_equal(tb_mysrc_pos_parse("gtid=0-1", &a, &err), -1);
}

/* MariaDB's JSON check clause, as information_schema prints it, and what
 * must not be taken for one. */
static void test_json_check_clause(void **state)
{
    (void)state;
    char col[16];
    assert_true(tb_mysrc_json_check_column("json_valid(`j`)", col, sizeof col));
    assert_string_equal(col, "j");
    assert_true(
        tb_mysrc_json_check_column("json_valid(`my col`)", col, sizeof col));
    assert_string_equal(col, "my col");
    assert_true(
        tb_mysrc_json_check_column(" JSON_VALID ( `a``b` ) ", col, sizeof col));
    assert_string_equal(col, "a`b");
    /* other checks, or json_valid of an expression */
    assert_false(tb_mysrc_json_check_column("`t` <> ''", col, sizeof col));
    assert_false(tb_mysrc_json_check_column("json_valid(`a`) and `a` <> ''",
                                            col, sizeof col));
    assert_false(
        tb_mysrc_json_check_column("json_valid(concat(`a`))", col, sizeof col));
    assert_false(tb_mysrc_json_check_column("json_valid(``)", col, sizeof col));
    assert_false(tb_mysrc_json_check_column("json_valid(`a`", col, sizeof col));
    assert_false(tb_mysrc_json_check_column("json_valid(`a)", col, sizeof col));
    assert_false(tb_mysrc_json_check_column("json_validx(`a`)", col, 16));
    /* a name longer than the buffer is refused, not truncated */
    assert_false(tb_mysrc_json_check_column("json_valid(`0123456789abcdef`)",
                                            col, sizeof col));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days),
        cmocka_unit_test_setup_teardown(test_binlog_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binlog_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binlog_temporal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_dates_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_dates_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_values, setup, teardown),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_json_check_clause),
    };
    return cmocka_run_group_tests_name("my_rows", tests, NULL, NULL);
}
