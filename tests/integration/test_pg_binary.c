/*
 * test_pg_binary.c - the binary value codec against a real PostgreSQL.
 *
 * Needs TB_PG_DSN from scripts/servers.sh (by hand: `scripts/servers.sh run
 * --pg -- build/tests/integration/test_pg_binary`). Proves the formats:
 *   - every value of a table per type, selected once in binary and once in
 *     text, decodes (tb_pgbin_decode) to the tb_value the text parser
 *     (tb_pgtype_parse_text) gives;
 *   - tb_values encoded with tb_pgbin_encode and sent as binary parameters
 *     are read by the server as the intended value (checked on its text);
 *   - a real COPY ... TO STDOUT (FORMAT binary) of a multi-row table parses
 *     with the framing helpers, and a COPY ... FROM STDIN (FORMAT binary)
 *     written with them loads the intended rows.
 * Everything runs in temporary tables of one session.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "../../connectors/postgres/pg_binary.h"
#include "../../connectors/postgres/pg_types.h"

#define TB_XSTR(x) #x
#define TB_STR(x)  TB_XSTR(x)

static PGconn *g_db;
static tb_arena g_arena;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(g_db, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    PQclear(r);
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
        if (a->len != b->len || memcmp(a->u.s, b->u.s, a->len) != 0)
            fail_msg("'%.*s' != '%.*s'", (int)a->len, a->u.s, (int)b->len,
                     b->u.s);
        break;
    }
}

/* Column shape of result column j, as the snapshot would map it. */
static tb_column result_col(const PGresult *r, int j)
{
    tb_column c;
    char target[TB_PGTYPE_NAME_MAX];
    tb_error err;
    memset(&c, 0, sizeof c);
    c.name = (char *)"v";
    if (tb_pgtype_map(PQftype(r, j), PQfmod(r, j), NULL, 'b', 0, &c, target,
                      sizeof target, &err) != 0)
        fail_msg("map oid %u: %s", PQftype(r, j), err.msg);
    return c;
}

/* Run sql in binary and in text; every field of every row must decode
 * equal. Returns the number of rows compared. */
static int compare_formats(const char *sql)
{
    PGresult *rb = PQexecParams(g_db, sql, 0, NULL, NULL, NULL, NULL, 1);
    PGresult *rt = PQexecParams(g_db, sql, 0, NULL, NULL, NULL, NULL, 0);
    tb_error err;
    int rows;

    if (PQresultStatus(rb) != PGRES_TUPLES_OK ||
        PQresultStatus(rt) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(rb));
    rows = PQntuples(rb);
    assert_int_equal(rows, PQntuples(rt));
    for (int j = 0; j < PQnfields(rb); j++) {
        tb_column c = result_col(rb, j);
        if (!tb_pgbin_decodable(&c))
            fail_msg("%s: oid %u (%s) not decodable", sql, c.type_id,
                     tb_kind_name(c.kind));
        for (int i = 0; i < rows; i++) {
            tb_value vb, vt;
            assert_int_equal(PQgetisnull(rb, i, j), PQgetisnull(rt, i, j));
            if (PQgetisnull(rb, i, j)) continue;
            const char *text = PQgetvalue(rt, i, j);
            if (tb_pgbin_decode(&c, PQgetvalue(rb, i, j),
                                (uint32_t)PQgetlength(rb, i, j), &g_arena, &vb,
                                &err) != 0)
                fail_msg("decode %s: %s", text, err.msg);
            if (tb_pgtype_parse_text(&c, text, strlen(text), &vt, &g_arena,
                                     &err) != 0)
                fail_msg("parse %s: %s", text, err.msg);
            assert_same_value(c.kind, &vb, &vt);
        }
    }
    PQclear(rb);
    PQclear(rt);
    tb_arena_reset(&g_arena);
    return rows;
}

/* SELECT each literal cast to type; compare both formats. */
static void check_type(const char *type, const char *const *lits)
{
    char sql[32768];
    size_t n = (size_t)snprintf(sql, sizeof sql,
                                "SELECT v::%s FROM (VALUES (NULL::text)", type);
    int count = 0;
    for (; lits[count]; count++) {
        char *q = PQescapeLiteral(g_db, lits[count], strlen(lits[count]));
        assert_non_null(q);
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", (%s)", q);
        PQfreemem(q);
        assert_true(n < sizeof sql);
    }
    snprintf(sql + n, sizeof sql - n, ") t(v)");
    assert_int_equal(compare_formats(sql), count + 1);
}

/* ---------------------------------------------------------------------- */
/* Decoding: binary result == text result                                 */

static void test_decode_numbers(void **state)
{
    (void)state;
    check_type("boolean", (const char *const[]){"t", "f", NULL});
    check_type("smallint", (const char *const[]){"-32768", "32767", "0", NULL});
    check_type("integer",
               (const char *const[]){"-2147483648", "2147483647", "7", NULL});
    check_type("bigint", (const char *const[]){"-9223372036854775808",
                                               "9223372036854775807", NULL});
    check_type("oid", (const char *const[]){"0", "4294967295", NULL});
    check_type("xid8",
               (const char *const[]){"0", "18446744073709551615", NULL});
    check_type("real",
               (const char *const[]){"NaN", "Infinity", "-Infinity", "-0",
                                     "0.1", "1e-45", "3.4028235e38",
                                     "-1.17549435e-38", "123456.79", NULL});
    check_type("double precision",
               (const char *const[]){"NaN", "Infinity", "-Infinity", "-0",
                                     "0.1", "5e-324", "1.7976931348623157e308",
                                     "-2.2250738585072014e-308",
                                     "3.141592653589793", NULL});
}

static void test_decode_numeric(void **state)
{
    (void)state;
    check_type("numeric(12,2)",
               (const char *const[]){"5", "-12.5", "0", "-0", "NaN",
                                     "9999999999.99", "-0.004", "0.005",
                                     "10000", "100000000", NULL});
    check_type("numeric(65,30)",
               (const char *const[]){"12345678901234567890123456789012345."
                                     "123456789012345678901234567890",
                                     "-99999999999999999999999999999999999."
                                     "999999999999999999999999999999",
                                     "1e-30", "-0.001", "0", NULL});
    check_type("numeric(40,35)",
               (const char *const[]){"1e-30", "-1e-35", "0.1", NULL});
    check_type("numeric(5,-2)", (const char *const[]){"12345", "-50", NULL});
    check_type("numeric(3,5)",
               (const char *const[]){"0.00123", "-0.001", NULL});
    check_type("numeric(20,0)",
               (const char *const[]){"18446744073709551615", "0", NULL});
    /* unconstrained: STRING kind, the server's own text */
    check_type("numeric", (const char *const[]){"1e30", "1e-30", "Infinity",
                                                "-Infinity", "NaN", "0.000",
                                                "-0.001", "123456789.123456789",
                                                "1e1000", "-1e-1000", NULL});
}

static void test_decode_strings(void **state)
{
    (void)state;
    static char big[20001];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + i % 26);
    check_type("text", (const char *const[]){"", "h\xc3\xa9llo", "a\tb\\c\nd",
                                             big, NULL});
    check_type("varchar(10)", (const char *const[]){"", "ab", NULL});
    check_type("character(5)", (const char *const[]){"", "ab", NULL});
    check_type("name", (const char *const[]){"pg_class", NULL});
    check_type("bytea",
               (const char *const[]){"\\x00ff00", "", "\\x", "abc", NULL});
    check_type("uuid", (const char *const[]){
                           "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                           "00000000-0000-0000-0000-000000000000", NULL});
    check_type("json", (const char *const[]){"{\"a\":  [1,2]}", "null",
                                             "\"\\u00e9\"", NULL});
    check_type("jsonb",
               (const char *const[]){"{\"b\": 1, \"a\": [true, null, \"x\"]}",
                                     "[]", "1.50", "\"\\u00e9\"", NULL});
    check_type("bit(5)", (const char *const[]){"10101", "00000", NULL});
    check_type("bit varying",
               (const char *const[]){"", "1", "101010101",
                                     "1111111100000000111", NULL});
}

static void test_decode_temporal(void **state)
{
    (void)state;
    check_type("date",
               (const char *const[]){
                   "infinity", "-infinity", "1970-01-01", "1969-12-31",
                   "1999-12-31", "2000-01-01", "2000-02-29", "0001-01-01",
                   "0001-12-31 BC", "4714-11-24 BC", "5874897-12-31", NULL});
    check_type("time",
               (const char *const[]){"00:00", "24:00:00", "12:34:56.789012",
                                     "23:59:59.999999", NULL});
    check_type("time(3)", (const char *const[]){"12:34:56.7895", NULL});
    check_type("timestamp",
               (const char *const[]){
                   "infinity", "-infinity", "1969-12-31 23:59:59.999999",
                   "1999-12-31 23:59:59.999999", "2000-01-01 00:00:00",
                   "4714-11-24 00:00:00 BC", "0001-01-01 00:00:00 BC",
                   "294246-12-31 23:59:59.999999", "2024-02-29 12:00:00.5",
                   NULL});
    check_type("timestamp with time zone",
               (const char *const[]){
                   "infinity", "-infinity", "2020-06-01 12:00+05:30",
                   "1969-12-31 23:59:59.999999+00", "1900-01-01 00:00:00-08",
                   "4714-11-24 00:00:00+00 BC", NULL});
    check_type("timestamp(0)",
               (const char *const[]){"2001-02-03 04:05:06.7", NULL});

    /* PostgreSQL's last timestamps lie beyond int64 microseconds since
     * 1970: both paths refuse them the same way */
    PGresult *rb = PQexecParams(g_db, "SELECT '294270-01-01'::timestamp", 0,
                                NULL, NULL, NULL, NULL, 1);
    PGresult *rt = PQexecParams(g_db, "SELECT '294270-01-01'::timestamp", 0,
                                NULL, NULL, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(rb), PGRES_TUPLES_OK);
    tb_column c = result_col(rb, 0);
    tb_value v;
    tb_error err;
    assert_int_equal(tb_pgbin_decode(&c, PQgetvalue(rb, 0, 0),
                                     (uint32_t)PQgetlength(rb, 0, 0), &g_arena,
                                     &v, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_SOURCE);
    assert_int_equal(tb_pgtype_parse_text(&c, PQgetvalue(rt, 0, 0),
                                          (size_t)PQgetlength(rt, 0, 0), &v,
                                          &g_arena, &err),
                     -1);
    PQclear(rb);
    PQclear(rt);
    tb_arena_reset(&g_arena);
}

/* Types without a binary decoder are selected as ::text: their binary
 * text is the text output, which the text parser reads. */
static void test_not_decodable(void **state)
{
    (void)state;
    static const char *const sql =
        "SELECT '1 day 02:03:04'::interval::text, '{1,2}'::int[]::text, "
        "'10.0.0.1/8'::inet::text";
    static const uint32_t oids[] = {TB_PGOID_INTERVAL, 1007, 869};
    PGresult *rb = PQexecParams(g_db, sql, 0, NULL, NULL, NULL, NULL, 1);
    PGresult *rt = PQexecParams(g_db, sql, 0, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(rb), PGRES_TUPLES_OK);
    for (int j = 0; j < 3; j++) {
        tb_column c;
        memset(&c, 0, sizeof c);
        c.name = (char *)"v";
        c.type_id = oids[j];
        c.kind = TB_KIND_STRING;
        assert_false(tb_pgbin_decodable(&c));
        assert_int_equal(PQgetlength(rb, 0, j), PQgetlength(rt, 0, j));
        assert_memory_equal(PQgetvalue(rb, 0, j), PQgetvalue(rt, 0, j),
                            (size_t)PQgetlength(rt, 0, j));
    }
    PQclear(rb);
    PQclear(rt);
}

/* ---------------------------------------------------------------------- */
/* Encoding: binary parameters read back by the server                    */

#define VI(x) ((tb_value){.state = TB_VALUE_SET, .u.i = (x)})
#define VD(x) ((tb_value){.state = TB_VALUE_SET, .u.d = (x)})
#define VB(x) ((tb_value){.state = TB_VALUE_SET, .u.b = (x)})
#define VS(x)                                                                  \
    ((tb_value){.state = TB_VALUE_SET, .len = (uint32_t)strlen(x), .u.s = (x)})

typedef struct enc_case {
    tb_kind kind;     /* value kind */
    uint32_t oid;     /* parameter type */
    const char *type; /* SQL type the parameter is cast to */
    tb_value v;       /* value to send */
    const char *want; /* what the server prints for it */
} enc_case;

/* Send v as binary parameter $1 of type oid and check the server's text of
 * $1::type. */
static void check_encode(const enc_case *c)
{
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    char sql[256];
    assert_true(tb_pgbin_encodable(c->kind, c->oid));
    if (tb_pgbin_encode(c->kind, c->oid, &c->v, &b, &err) != 0)
        fail_msg("encode for %s: %s", c->type, err.msg);
    assert_true(b.len >= 4);
    const char *val = (const char *)b.data + 4;
    int len = (int)(b.len - 4);
    int fmt = 1;
    Oid oid = c->oid;
    snprintf(sql, sizeof sql, "SELECT ($1::%s)::text", c->type);
    PGresult *r = PQexecParams(g_db, sql, 1, &oid, &val, &len, &fmt, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s (want %s): %s", sql, c->want, PQresultErrorMessage(r));
    if (strcmp(PQgetvalue(r, 0, 0), c->want) != 0)
        fail_msg("%s: server read '%s', want '%s'", c->type,
                 PQgetvalue(r, 0, 0), c->want);
    PQclear(r);
    tb_buf_free(&b);
}

static void test_encode_params(void **state)
{
    (void)state;
    static const char bytes3[] = {0, (char)0xff, 0};
    const enc_case cases[] = {
        {TB_KIND_BOOLEAN, 16, "boolean", VB(true), "true"},
        {TB_KIND_BOOLEAN, 16, "boolean", VB(false), "false"},
        {TB_KIND_INT, 21, "smallint", VI(-32768), "-32768"},
        {TB_KIND_INT, 23, "integer", VI(INT32_MIN), "-2147483648"},
        {TB_KIND_INT, 20, "bigint", VI(-5), "-5"},
        {TB_KIND_LONG, 20, "bigint", VI(INT64_MIN), "-9223372036854775808"},
        {TB_KIND_LONG, 23, "integer", VI(2147483647), "2147483647"},
        {TB_KIND_LONG, 1700, "numeric", VI(INT64_MIN), "-9223372036854775808"},
        {TB_KIND_LONG, 1700, "numeric", VI(INT64_MAX), "9223372036854775807"},
        {TB_KIND_INT, 1700, "numeric(10,2)", VI(10000), "10000.00"},
        {TB_KIND_LONG, 1700, "numeric", VI(0), "0"},
        {TB_KIND_FLOAT, 700, "real", VD(0.1f), "0.1"},
        {TB_KIND_FLOAT, 700, "real", VD(NAN), "NaN"},
        {TB_KIND_FLOAT, 700, "real", VD(-INFINITY), "-Infinity"},
        {TB_KIND_FLOAT, 700, "real", VD(-0.0), "-0"},
        {TB_KIND_DOUBLE, 701, "double precision", VD(0.1), "0.1"},
        {TB_KIND_DOUBLE, 701, "double precision", VD(5e-324), "5e-324"},
        {TB_KIND_DOUBLE, 701, "double precision", VD(1.7976931348623157e308),
         "1.7976931348623157e+308"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("-12.50"), "-12.50"},
        {TB_KIND_DECIMAL, 1700, "numeric(20,0)", VS("18446744073709551615"),
         "18446744073709551615"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("NaN"), "NaN"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("Infinity"), "Infinity"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("-Infinity"), "-Infinity"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("-0"), "0"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("0.00"), "0.00"},
        {TB_KIND_DECIMAL, 1700, "numeric",
         VS("0.000000000000000000000000000001"),
         "0.000000000000000000000000000001"},
        {TB_KIND_DECIMAL, 1700, "numeric",
         VS("-12345678901234567890123456789012345."
            "123456789012345678901234567890"),
         "-12345678901234567890123456789012345."
         "123456789012345678901234567890"},
        {TB_KIND_DECIMAL, 1700, "numeric", VS("100000000.00010000"),
         "100000000.00010000"},
        {TB_KIND_DECIMAL, 1700, "numeric(12,2)", VS("5"), "5.00"},
        {TB_KIND_STRING, 25, "text", VS("h\xc3\xa9llo"), "h\xc3\xa9llo"},
        {TB_KIND_STRING, 25, "text", VS(""), ""},
        {TB_KIND_STRING, 1043, "varchar(10)", VS("ab"), "ab"},
        {TB_KIND_STRING, 19, "name", VS("pg_class"), "pg_class"},
        {TB_KIND_STRING, 1700, "numeric",
         VS("-1000000000000000000000000000000.000"),
         "-1000000000000000000000000000000.000"},
        {TB_KIND_STRING, 1700, "numeric", VS("Infinity"), "Infinity"},
        /* bpchar::text drops the padding */
        {TB_KIND_STRING, 1042, "character(4)", VS("ab"), "ab"},
        {TB_KIND_STRING, 3802, "jsonb", VS("{\"a\":1}"), "{\"a\": 1}"},
        {TB_KIND_JSON, 114, "json", VS("{\"a\":  1}"), "{\"a\":  1}"},
        {TB_KIND_JSON, 3802, "jsonb", VS("{\"b\":[1,2],\"a\":null}"),
         "{\"a\": null, \"b\": [1, 2]}"},
        {TB_KIND_UUID, 2950, "uuid", VS("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {TB_KIND_BYTES, 17, "bytea",
         (tb_value){.state = TB_VALUE_SET, .len = 3, .u.s = bytes3},
         "\\x00ff00"},
        {TB_KIND_BYTES, 17, "bytea", VS(""), "\\x"},
        {TB_KIND_DATE, 1082, "date", VI(0), "1970-01-01"},
        {TB_KIND_DATE, 1082, "date", VI(-1), "1969-12-31"},
        {TB_KIND_DATE, 1082, "date", VI(10956), "1999-12-31"},
        {TB_KIND_DATE, 1082, "date", VI(-2440588), "4714-11-24 BC"},
        {TB_KIND_DATE, 1082, "date", VI(2145042905), "5874897-12-31"},
        {TB_KIND_DATE, 1082, "date", VI(INT32_MAX), "infinity"},
        {TB_KIND_DATE, 1082, "date", VI(INT32_MIN), "-infinity"},
        {TB_KIND_TIME_MICROS, 1083, "time", VI(0), "00:00:00"},
        {TB_KIND_TIME_MICROS, 1083, "time", VI(INT64_C(86400000000)),
         "24:00:00"},
        {TB_KIND_TIME_MICROS, 1083, "time", VI(INT64_C(45296789012)),
         "12:34:56.789012"},
        {TB_KIND_TIMESTAMP_MICROS, 1184, "timestamptz", VI(0),
         "1970-01-01 00:00:00+00"},
        {TB_KIND_TIMESTAMP_MICROS, 1184, "timestamptz", VI(-1),
         "1969-12-31 23:59:59.999999+00"},
        {TB_KIND_TIMESTAMP_MICROS, 1184, "timestamptz", VI(INT64_MAX),
         "infinity"},
        {TB_KIND_TIMESTAMP_MICROS, 1184, "timestamptz", VI(INT64_MIN),
         "-infinity"},
        {TB_KIND_LOCAL_TIMESTAMP_MICROS, 1114, "timestamp",
         VI(INT64_C(-210866803200000000)), "4714-11-24 00:00:00 BC"},
        {TB_KIND_LOCAL_TIMESTAMP_MICROS, 1114, "timestamp",
         VI(INT64_C(-62135596800000000)), "0001-01-01 00:00:00"},
        {TB_KIND_LOCAL_TIMESTAMP_MICROS, 1114, "timestamp",
         VI(INT64_C(946684799999999)), "1999-12-31 23:59:59.999999"},
        {TB_KIND_DURATION_MICROS, 1186, "interval", VI(INT64_C(3723000001)),
         "01:02:03.000001"},
        {TB_KIND_DURATION_MICROS, 1186, "interval", VI(INT64_C(-3723000001)),
         "-01:02:03.000001"},
        {TB_KIND_DURATION_MICROS, 1186, "interval", VI(INT64_C(360000000000)),
         "100:00:00"},
        {TB_KIND_BITS, 1560, "bit(5)", VS("10101"), "10101"},
        {TB_KIND_BITS, 1562, "varbit", VS(""), ""},
        {TB_KIND_BITS, 1562, "varbit", VS("101010101"), "101010101"},
        {TB_KIND_SET, 1009, "text[]", VS("a,,b c"), "{a,\"\",\"b c\"}"},
        {TB_KIND_SET, 1009, "text[]", VS("x"), "{x}"},
        {TB_KIND_SET, 1009, "text[]", VS(""), "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_encode(&cases[i]);

    /* the server refuses what its recv functions refuse: bad JSON into
     * jsonb, invalid UTF-8 into text */
    static const char *const bad[][2] = {{"{\"a\":", "jsonb"},
                                         {"\xc3(", "text"}};
    for (int i = 0; i < 2; i++) {
        tb_buf b = TB_BUF_INIT;
        tb_error err;
        tb_value v = VS(bad[i][0]);
        Oid oid = i == 0 ? TB_PGOID_JSONB : TB_PGOID_TEXT;
        char sql[64];
        assert_int_equal(tb_pgbin_encode(TB_KIND_STRING, oid, &v, &b, &err), 0);
        const char *val = (const char *)b.data + 4;
        int len = (int)(b.len - 4), fmt = 1;
        snprintf(sql, sizeof sql, "SELECT $1::%s", bad[i][1]);
        PGresult *r = PQexecParams(g_db, sql, 1, &oid, &val, &len, &fmt, 0);
        bool refused = PQresultStatus(r) == PGRES_FATAL_ERROR;
        PQclear(r);
        tb_buf_free(&b);
        assert_true(refused);
    }
}

/* ---------------------------------------------------------------------- */
/* COPY BINARY                                                            */

#define COPY_ROWS 2000

static void test_copy_out(void **state)
{
    (void)state;
    static const char *const select =
        "SELECT id, n, t, d, ts, b, j, u, f FROM tb_bin_out ORDER BY id";
    exec_ok("CREATE TEMP TABLE tb_bin_out (id int8 PRIMARY KEY, "
            "n numeric(14,3), t text, d date, ts timestamptz, b bytea, "
            "j jsonb, u uuid, f float8)");
    exec_ok("INSERT INTO tb_bin_out SELECT g, (g * 1.125 - 900)::numeric, "
            "'row ' || g, date '1960-01-01' + g * 17, "
            "timestamptz '1990-05-06 07:08:09.123456+00' + g * interval "
            "'1 day 1.000001 second', decode(lpad(to_hex(g), 8, '0'), 'hex'), "
            "jsonb_build_object('g', g, 'even', g % 2 = 0), "
            "md5(g::text)::uuid, g / 7.0 "
            "FROM generate_series(1, " TB_STR(COPY_ROWS) ") g");
    exec_ok("INSERT INTO tb_bin_out VALUES (0, NULL, NULL, NULL, NULL, NULL, "
            "NULL, NULL, NULL), (-1, 'NaN', '', 'infinity', '-infinity', "
            "'\\x', '[]', '00000000-0000-0000-0000-000000000000', "
            "'-Infinity')");

    PGresult *rt = PQexec(g_db, select);
    assert_int_equal(PQresultStatus(rt), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(rt), COPY_ROWS + 2);
    const int ncols = PQnfields(rt);
    tb_column cols[9];
    assert_int_equal(ncols, 9);
    for (int j = 0; j < ncols; j++) {
        cols[j] = result_col(rt, j);
        assert_true(tb_pgbin_decodable(&cols[j]));
    }

    char sql[256];
    snprintf(sql, sizeof sql, "COPY (%s) TO STDOUT (FORMAT binary)", select);
    PGresult *r = PQexec(g_db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
    PQclear(r);
    int row = 0, chunks = 0;
    bool trailer = false;
    tb_error err;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(g_db, &buf, 0);
        if (n == -1) break;
        if (n < 0) fail_msg("copy: %s", PQerrorMessage(g_db));
        const char *p = buf, *end = buf + n;
        if (chunks++ == 0)
            assert_int_equal(tb_pgbin_skip_header(&p, end, &err), 0);
        assert_false(trailer);
        int nf = tb_pgbin_tuple_start(&p, end, &err);
        assert_true(nf >= -1);
        if (nf == -1) {
            trailer = true;
        } else {
            assert_int_equal(nf, ncols);
            assert_true(row < PQntuples(rt));
            for (int j = 0; j < nf; j++) {
                const char *fp;
                int32_t fl;
                tb_value vb, vt;
                assert_int_equal(tb_pgbin_next_field(&p, end, &fp, &fl, &err),
                                 0);
                assert_int_equal(fl < 0, PQgetisnull(rt, row, j));
                if (fl < 0) continue;
                const char *text = PQgetvalue(rt, row, j);
                if (tb_pgbin_decode(&cols[j], fp, (uint32_t)fl, &g_arena, &vb,
                                    &err) != 0)
                    fail_msg("row %d col %d: %s", row, j, err.msg);
                assert_int_equal(tb_pgtype_parse_text(&cols[j], text,
                                                      strlen(text), &vt,
                                                      &g_arena, &err),
                                 0);
                assert_same_value(cols[j].kind, &vb, &vt);
            }
            row++;
        }
        assert_ptr_equal(p, end); /* one tuple per chunk, nothing left */
        PQfreemem(buf);
        tb_arena_reset(&g_arena);
    }
    r = PQgetResult(g_db);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_true(trailer);
    assert_int_equal(row, COPY_ROWS + 2);
    PQclear(rt);
}

static void test_copy_in(void **state)
{
    (void)state;
    /* one column per encodable pair, the shape a loader writes */
    static const struct {
        const char *name, *type;
        tb_kind kind;
        uint32_t oid;
        tb_kind text_kind; /* kind for reading the stored text back */
    } cols[] = {
        {"id", "bigint", TB_KIND_LONG, 20, TB_KIND_LONG},
        {"i", "integer", TB_KIND_INT, 23, TB_KIND_INT},
        {"u64", "numeric(20,0)", TB_KIND_DECIMAL, 1700, TB_KIND_DECIMAL},
        {"dec", "numeric(12,2)", TB_KIND_DECIMAL, 1700, TB_KIND_DECIMAL},
        {"f", "real", TB_KIND_FLOAT, 700, TB_KIND_FLOAT},
        {"s", "text", TB_KIND_STRING, 25, TB_KIND_STRING},
        {"j", "jsonb", TB_KIND_JSON, 3802, TB_KIND_JSON},
        {"b", "bytea", TB_KIND_BYTES, 17, TB_KIND_BYTES},
        {"d", "date", TB_KIND_DATE, 1082, TB_KIND_DATE},
        {"ts", "timestamptz", TB_KIND_TIMESTAMP_MICROS, 1184,
         TB_KIND_TIMESTAMP_MICROS},
        {"lts", "timestamp", TB_KIND_LOCAL_TIMESTAMP_MICROS, 1114,
         TB_KIND_LOCAL_TIMESTAMP_MICROS},
        {"tm", "time", TB_KIND_TIME_MICROS, 1083, TB_KIND_TIME_MICROS},
        {"dur", "interval", TB_KIND_DURATION_MICROS, 1186, TB_KIND_STRING},
        {"bits", "bit varying", TB_KIND_BITS, 1562, TB_KIND_BITS},
        {"uu", "uuid", TB_KIND_UUID, 2950, TB_KIND_UUID},
        {"st", "text[]", TB_KIND_SET, 1009, TB_KIND_STRING},
    };
    enum { NC = sizeof cols / sizeof cols[0], NR = 500 };
    char sql[2048];
    size_t n =
        (size_t)snprintf(sql, sizeof sql, "CREATE TEMP TABLE tb_bin_in (");
    for (int j = 0; j < NC; j++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s %s", j ? ", " : "",
                              cols[j].name, cols[j].type);
    snprintf(sql + n, sizeof sql - n, ")");
    exec_ok(sql);

    /* rows: row r has id r, NULLs in every column on row 3 */
    static char strs[NR][6][48];
    static tb_value vals[NR][NC];
    static char bin[NR][4]; /* bytea values with zero bytes */
    for (int r = 0; r < NR; r++) {
        tb_value *v = vals[r];
        char(*s)[48] = strs[r];
        int64_t x = (int64_t)r * 7919 - 1000000;
        snprintf(s[0], 48, "%llu",
                 (unsigned long long)(UINT64_MAX - (uint64_t)r * 1234567));
        snprintf(s[1], 48, "%s%d.%02d", x < 0 ? "-" : "", abs((int)(x / 100)),
                 abs((int)(x % 100)));
        snprintf(s[2], 48, "row %d \xc3\xa9", r);
        snprintf(s[3], 48, "{\"r\": %d, \"odd\": %s}", r,
                 r % 2 ? "true" : "false");
        for (int k = 0; k < r % 13; k++) /* 0..12 bits */
            s[4][k] = (char)('0' + ((r >> k) & 1));
        s[4][r % 13] = '\0';
        bin[r][0] = 0;
        bin[r][1] = (char)r;
        bin[r][2] = 0;
        bin[r][3] = (char)(r >> 8);
        snprintf(s[5], 48, "a%d,b,,c", r);
        v[0] = VI(r);
        v[1] = VI((int32_t)(x * 1000));
        v[2] = VS(s[0]);
        v[3] = VS(s[1]);
        v[4] = VD((float)x / 3.0f);
        v[5] = VS(s[2]);
        v[6] = VS(s[3]);
        v[7] = (tb_value){.state = TB_VALUE_SET, .len = 4, .u.s = bin[r]};
        v[8] = VI(x / 10);
        v[9] = VI(x * INT64_C(123456789));
        v[10] = VI(-x * INT64_C(987654321));
        v[11] = VI((r * INT64_C(172799999)) % INT64_C(86400000001));
        v[12] = VI(x * 1000003);
        v[13] = VS(s[4]);
        v[14] = VS("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        v[15] = VS(s[5]);
        if (r == 3)
            for (int j = 1; j < NC; j++)
                v[j] = (tb_value){.state = TB_VALUE_NULL};
        if (r == 4) { /* specials */
            v[3] = VS("NaN");
            v[4] = VD(-INFINITY);
            v[8] = VI(INT32_MAX);
            v[9] = VI(INT64_MIN);
            v[10] = VI(INT64_MAX);
            v[13] = VS("");
            v[15] = VS("");
        }
    }

    tb_buf b = TB_BUF_INIT;
    tb_error err;
    assert_int_equal(tb_pgbin_put_header(&b), 0);
    for (int r = 0; r < NR; r++) {
        assert_int_equal(tb_pgbin_put_tuple(&b, NC), 0);
        for (int j = 0; j < NC; j++)
            if (tb_pgbin_encode(cols[j].kind, cols[j].oid, &vals[r][j], &b,
                                &err) != 0)
                fail_msg("row %d col %s: %s", r, cols[j].name, err.msg);
    }
    assert_int_equal(tb_pgbin_put_trailer(&b), 0);

    PGresult *res = PQexec(g_db, "COPY tb_bin_in FROM STDIN (FORMAT binary)");
    assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
    PQclear(res);
    /* in uneven pieces: COPY does not care where the chunks split */
    for (size_t off = 0; off < b.len;) {
        size_t piece = b.len - off < 7777 ? b.len - off : 7777;
        assert_int_equal(
            PQputCopyData(g_db, (const char *)b.data + off, (int)piece), 1);
        off += piece;
    }
    assert_int_equal(PQputCopyEnd(g_db, NULL), 1);
    res = PQgetResult(g_db);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("COPY FROM: %s", PQresultErrorMessage(res));
    assert_string_equal(PQcmdTuples(res), "500");
    PQclear(res);
    tb_buf_free(&b);

    /* read back in text; every value must parse to what was sent, the SET
     * and the interval compare with the loader's text of them */
    res = PQexec(g_db, "SELECT * FROM tb_bin_in ORDER BY id");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), NR);
    tb_buf want = TB_BUF_INIT;
    for (int r = 0; r < NR; r++) {
        for (int j = 0; j < NC; j++) {
            const tb_value *v = &vals[r][j];
            assert_int_equal(PQgetisnull(res, r, j), v->state == TB_VALUE_NULL);
            if (v->state == TB_VALUE_NULL) continue;
            const char *text = PQgetvalue(res, r, j);
            tb_column c;
            memset(&c, 0, sizeof c);
            c.name = (char *)cols[j].name;
            c.kind = cols[j].text_kind;
            c.decimal_specials = true;
            tb_value got;
            if (tb_pgtype_parse_text(&c, text, strlen(text), &got, &g_arena,
                                     &err) != 0)
                fail_msg("row %d %s: %s", r, cols[j].name, err.msg);
            if (cols[j].kind == TB_KIND_SET) {
                tb_buf_reset(&want);
                c.kind = TB_KIND_SET;
                assert_int_equal(tb_pgtype_format_text(&c, v, &want, &err), 0);
                /* the server prints {a1,b,"",c} where the loader quotes all */
                PGresult *q;
                const char *pv[1] = {(const char *)want.data};
                q = PQexecParams(g_db, "SELECT $1::text[]::text", 1, NULL, pv,
                                 NULL, NULL, 0);
                assert_string_equal(PQgetvalue(q, 0, 0), text);
                PQclear(q);
            } else if (cols[j].kind == TB_KIND_DURATION_MICROS) {
                tb_buf_reset(&want);
                c.kind = TB_KIND_DURATION_MICROS;
                assert_int_equal(tb_pgtype_format_text(&c, v, &want, &err), 0);
                const char *pv[1] = {(const char *)want.data};
                PGresult *q = PQexecParams(g_db, "SELECT $1::interval::text", 1,
                                           NULL, pv, NULL, NULL, 0);
                assert_string_equal(PQgetvalue(q, 0, 0), text);
                PQclear(q);
            } else {
                assert_same_value(cols[j].kind, &got, v);
            }
        }
        tb_arena_reset(&g_arena);
    }
    tb_buf_free(&want);
    PQclear(res);
}

/* ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    const char *dsn = getenv("TB_PG_DSN");
    if (!dsn || !dsn[0]) {
        print_error("TB_PG_DSN is not set: run under the test servers, e.g. "
                    "`scripts/servers.sh run --pg -- "
                    "build/tests/integration/test_pg_binary`\n");
        return -1;
    }
    g_db = PQconnectdb(dsn);
    if (PQstatus(g_db) != CONNECTION_OK) {
        print_error("cannot connect to TB_PG_DSN: %s\n", PQerrorMessage(g_db));
        return -1;
    }
    /* the session settings the text parser expects */
    PGresult *r = PQexec(g_db, "SET extra_float_digits = 3; SET timezone = "
                               "'UTC'; SET datestyle = 'ISO, YMD'; SET "
                               "intervalstyle = 'postgres'; SET bytea_output "
                               "= 'hex'; SET client_encoding = 'UTF8'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    tb_arena_init(&g_arena, 0);
    return ok ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_db) PQfinish(g_db);
    tb_arena_free(&g_arena);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_numbers),
        cmocka_unit_test(test_decode_numeric),
        cmocka_unit_test(test_decode_strings),
        cmocka_unit_test(test_decode_temporal),
        cmocka_unit_test(test_not_decodable),
        cmocka_unit_test(test_encode_params),
        cmocka_unit_test(test_copy_out),
        cmocka_unit_test(test_copy_in),
    };
    return cmocka_run_group_tests_name("pg_binary", tests, group_setup,
                                       group_teardown);
}
