/*
 * test_my_types.c - MySQL/MariaDB type mapping and charset conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../connectors/mysql/my_types.h"

typedef struct map_case {
    uint8_t type;
    uint16_t meta;
    bool is_unsigned;
    uint32_t charset;
    const char *column_type;
    tb_kind kind;
    int precision;
    int scale;
    const char *source;
    const char *target;
} map_case;

#define K(x) TB_KIND_##x
static const map_case cases[] = {
    /* integers, signed and unsigned */
    {1, 0, false, 0, NULL, K(INT), 0, 0, "tinyint", "smallint"},
    {1, 0, true, 0, NULL, K(INT), 0, 0, "tinyint unsigned", "smallint"},
    {1, 0, false, 0, "tinyint(1)", K(INT), 0, 0, "tinyint", "smallint"},
    {2, 0, false, 0, NULL, K(INT), 0, 0, "smallint", "smallint"},
    {2, 0, true, 0, NULL, K(INT), 0, 0, "smallint unsigned", "integer"},
    {9, 0, false, 0, NULL, K(INT), 0, 0, "mediumint", "integer"},
    {9, 0, true, 0, NULL, K(INT), 0, 0, "mediumint unsigned", "integer"},
    {3, 0, false, 0, NULL, K(INT), 0, 0, "int", "integer"},
    {3, 0, true, 0, NULL, K(LONG), 0, 0, "int unsigned", "bigint"},
    /* signedness from COLUMN_TYPE when the binlog has no SIGNEDNESS */
    {3, 0, false, 0, "int(10) unsigned", K(LONG), 0, 0, "int unsigned",
     "bigint"},
    {8, 0, false, 0, NULL, K(LONG), 0, 0, "bigint", "bigint"},
    {8, 0, true, 0, NULL, K(DECIMAL), 20, 0, "bigint unsigned",
     "numeric(20,0)"},
    {13, 0, false, 0, NULL, K(INT), 0, 0, "year", "smallint"},
    /* decimal: meta = precision << 8 | scale */
    {246, 10 << 8 | 2, false, 0, NULL, K(DECIMAL), 10, 2, "decimal(10,2)",
     "numeric(10,2)"},
    {246, 65 << 8 | 30, false, 0, NULL, K(DECIMAL), 65, 30, "decimal(65,30)",
     "numeric(65,30)"},
    {246, 1 << 8 | 0, true, 0, NULL, K(DECIMAL), 1, 0, "decimal(1,0) unsigned",
     "numeric(1,0)"},
    {4, 4, false, 0, NULL, K(FLOAT), 0, 0, "float", "real"},
    {5, 8, false, 0, NULL, K(DOUBLE), 0, 0, "double", "double precision"},
    /* bit: meta = bytes << 8 | bits */
    {16, 0 << 8 | 1, false, 0, NULL, K(BITS), 1, 0, "bit(1)", "bit(1)"},
    {16, 1 << 8 | 2, false, 0, NULL, K(BITS), 10, 0, "bit(10)", "bit(10)"},
    {16, 8 << 8 | 0, false, 0, NULL, K(BITS), 64, 0, "bit(64)", "bit(64)"},
    /* enum and set, as the real type or hidden in STRING's metadata */
    {247, 1, false, 45, NULL, K(STRING), 0, 0, "enum", "text"},
    {248, 1, false, 45, NULL, K(SET), 0, 0, "set", "text[]"},
    {254, 247 << 8 | 1, false, 45, NULL, K(STRING), 0, 0, "enum", "text"},
    {254, 248 << 8 | 8, false, 45, NULL, K(SET), 0, 0, "set", "text[]"},
    /* strings and binary strings */
    {254, 254 << 8 | 40, false, 45, NULL, K(STRING), 0, 0, "char", "text"},
    {254, (254 ^ 0x10) << 8 | 0xfc, false, 255, NULL, K(STRING), 0, 0, "char",
     "text"},
    {254, 254 << 8 | 16, false, 63, NULL, K(BYTES), 0, 0, "binary", "bytea"},
    {15, 160, false, 255, NULL, K(STRING), 0, 0, "varchar", "text"},
    {15, 160, false, 8, NULL, K(STRING), 0, 0, "varchar", "text"},
    {15, 255, false, 63, NULL, K(BYTES), 0, 0, "varbinary", "bytea"},
    {15, 255, false, 0, "varbinary(255)", K(BYTES), 0, 0, "varbinary", "bytea"},
    {253, 40, false, 33, NULL, K(STRING), 0, 0, "varchar", "text"},
    {252, 1, false, 63, NULL, K(BYTES), 0, 0, "tinyblob", "bytea"},
    {252, 2, false, 63, NULL, K(BYTES), 0, 0, "blob", "bytea"},
    {252, 3, false, 63, NULL, K(BYTES), 0, 0, "mediumblob", "bytea"},
    {252, 4, false, 63, NULL, K(BYTES), 0, 0, "longblob", "bytea"},
    {252, 1, false, 45, NULL, K(STRING), 0, 0, "tinytext", "text"},
    {252, 2, false, 8, NULL, K(STRING), 0, 0, "text", "text"},
    {252, 3, false, 224, NULL, K(STRING), 0, 0, "mediumtext", "text"},
    {252, 4, false, 0, "longtext", K(STRING), 0, 0, "longtext", "text"},
    {252, 2, false, 0, NULL, K(BYTES), 0, 0, "blob", "bytea"},
    {249, 0, false, 63, NULL, K(BYTES), 0, 0, "tinyblob", "bytea"},
    {250, 0, false, 63, NULL, K(BYTES), 0, 0, "mediumblob", "bytea"},
    {251, 0, false, 46, NULL, K(STRING), 0, 0, "longtext", "text"},
    /* temporal */
    {10, 0, false, 0, NULL, K(DATE), 0, 0, "date", "date"},
    {14, 0, false, 0, NULL, K(DATE), 0, 0, "date", "date"},
    {12, 0, false, 0, NULL, K(LOCAL_TIMESTAMP_MICROS), 0, 0, "datetime",
     "timestamp(0)"},
    {18, 0, false, 0, NULL, K(LOCAL_TIMESTAMP_MICROS), 0, 0, "datetime",
     "timestamp(0)"},
    {18, 6, false, 0, NULL, K(LOCAL_TIMESTAMP_MICROS), 0, 6, "datetime(6)",
     "timestamp(6)"},
    {7, 0, false, 0, NULL, K(TIMESTAMP_MICROS), 0, 0, "timestamp",
     "timestamptz(0)"},
    {17, 3, false, 0, NULL, K(TIMESTAMP_MICROS), 0, 3, "timestamp(3)",
     "timestamptz(3)"},
    {11, 0, false, 0, NULL, K(DURATION_MICROS), 0, 0, "time", "interval"},
    {19, 4, false, 0, NULL, K(DURATION_MICROS), 0, 4, "time(4)", "interval"},
    /* JSON and geometry */
    {245, 4, false, 0, NULL, K(JSON), 0, 0, "json", "jsonb"},
    {255, 4, false, 0, NULL, K(BYTES), 0, 0, "geometry", "bytea"},
};

static void test_map_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const map_case *c = &cases[i];
        tb_column col;
        tb_mytype_names names;
        tb_error err;

        memset(&col, 0xa5, sizeof col);
        col.name = NULL;
        col.source_type = NULL;
        col.target_type = NULL;
        if (tb_mytype_map(c->type, c->meta, c->is_unsigned, c->charset,
                          c->column_type, &col, &names, &err) != 0)
            fail_msg("case %zu (type %u): %s", i, c->type, err.msg);
        if (col.kind != c->kind || col.precision != c->precision ||
            col.scale != c->scale)
            fail_msg("case %zu (type %u): kind %s p %d s %d", i, c->type,
                     tb_kind_name(col.kind), col.precision, col.scale);
        assert_false(col.decimal_specials);
        assert_string_equal(names.source, c->source);
        assert_string_equal(names.target, c->target);
        assert_int_equal(col.type_mod, c->meta);
        /* names is optional */
        assert_int_equal(tb_mytype_map(c->type, c->meta, c->is_unsigned,
                                       c->charset, c->column_type, &col, NULL,
                                       &err),
                         0);
    }
}

static void test_map_refused(void **state)
{
    static const struct {
        uint8_t type;
        uint16_t meta;
        tb_errcode code;
    } bad[] = {
        {0, 0, TB_ERR_UNSUPPORTED},         /* pre-5.0 DECIMAL */
        {6, 0, TB_ERR_UNSUPPORTED},         /* NULL type */
        {20, 0, TB_ERR_UNSUPPORTED},        /* MySQL 8 typed array */
        {242, 0, TB_ERR_UNSUPPORTED},       /* MySQL 9 VECTOR */
        {246, 66 << 8 | 0, TB_ERR_DECODE},  /* precision > 65 */
        {246, 10 << 8 | 11, TB_ERR_DECODE}, /* scale > precision */
        {246, 0, TB_ERR_DECODE},            /* precision 0 */
        {16, 8 << 8 | 1, TB_ERR_DECODE},    /* bit(65) */
        {16, 0, TB_ERR_DECODE},             /* bit(0) */
        {252, 5, TB_ERR_DECODE},            /* blob pack length 5 */
        {18, 7, TB_ERR_DECODE},             /* fsp 7 */
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_column col;
        tb_error err;
        tb_error_clear(&err);
        memset(&col, 0, sizeof col);
        assert_int_equal(tb_mytype_map(bad[i].type, bad[i].meta, false, 0, NULL,
                                       &col, NULL, &err),
                         -1);
        if (err.code != bad[i].code)
            fail_msg("case %zu: code %d (%s)", i, err.code, err.msg);
    }
}

static void test_charset_names(void **state)
{
    static const struct {
        uint32_t id;
        const char *iconv;
        const char *mysql;
    } ids[] = {
        {1, "BIG5", "big5"},
        {8, "CP1252", "latin1"},
        {5, "CP1252", "latin1"},
        {47, "CP1252", "latin1"},
        {48, "CP1252", "latin1"},
        {94, "CP1252", "latin1"},
        {11, "ASCII", "ascii"},
        {65, "ASCII", "ascii"},
        {13, "SHIFT_JIS", "sjis"},
        {26, "CP1250", "cp1250"},
        {99, "CP1250", "cp1250"},
        {51, "CP1251", "cp1251"},
        {28, "GBK", "gbk"},
        {33, "UTF-8", "utf8mb3"},
        {83, "UTF-8", "utf8mb3"},
        {192, "UTF-8", "utf8mb3"},
        {35, "UCS-2BE", "ucs2"},
        {45, "UTF-8", "utf8mb4"},
        {46, "UTF-8", "utf8mb4"},
        {224, "UTF-8", "utf8mb4"},
        {246, "UTF-8", "utf8mb4"},
        {255, "UTF-8", "utf8mb4"},
        {309, "UTF-8", "utf8mb4"},
        {608, "UTF-8", "utf8mb4"},
        {54, "UTF-16BE", "utf16"},
        {56, "UTF-16LE", "utf16le"},
        {60, "UTF-32BE", "utf32"},
        {63, "BINARY", "binary"},
        {9, "ISO-8859-2", "latin2"},
        {248, "GB18030", "gb18030"},
        {95, "CP932", "cp932"},
        {19, "EUC-KR", "euckr"},
        {1033, "ISO-8859-2", "latin2"},
        {37, NULL, "keybcs2"},
        {0, NULL, NULL},
        {100, NULL, NULL},
        {9999, NULL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *n = tb_mytype_charset_name(ids[i].id);
        const char *m = tb_mytype_charset_mysql_name(ids[i].id);
        if (!ids[i].iconv)
            assert_null(n);
        else if (!n || strcmp(n, ids[i].iconv) != 0)
            fail_msg("collation %u: %s", ids[i].id, n ? n : "(null)");
        if (!ids[i].mysql)
            assert_null(m);
        else
            assert_string_equal(m, ids[i].mysql);
    }
}

static int setup(void **state)
{
    tb_arena *a = malloc(sizeof *a);
    if (!a) return -1;
    tb_arena_init(a, 0);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    tb_arena_free(*state);
    free(*state);
    return 0;
}

static void converts(tb_arena *a, uint32_t id, const char *in, size_t n,
                     const char *expect)
{
    const char *out = NULL;
    size_t len = 0;
    tb_error err;
    if (tb_mytype_to_utf8(in, n, id, a, &out, &len, &err) != 0)
        fail_msg("collation %u: %s", id, err.msg);
    assert_int_equal(len, strlen(expect));
    assert_string_equal(out, expect);
}

static void test_to_utf8(void **state)
{
    tb_arena *a = *state;
    const char *out;
    size_t len;
    tb_error err;

    /* latin1 (cp1252) accents, the euro sign and an unassigned byte */
    converts(a, 8, "caf\xe9 na\xefve \x80 \xff", 14,
             "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac \xc3\xbf");
    converts(a, 47, "\x81\x9f", 2, "\xc2\x81\xc5\xb8");
    /* utf8mb4 emoji and utf8mb3 pass through */
    converts(a, 45, "\xf0\x9f\x98\x80 ok", 7, "\xf0\x9f\x98\x80 ok");
    converts(a, 255, "h\xc3\xa9", 3, "h\xc3\xa9");
    converts(a, 33, "", 0, "");
    /* binary keeps NULs and every byte */
    assert_int_equal(tb_mytype_to_utf8("a\0\xff", 3, 63, a, &out, &len, &err),
                     0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a\0\xff", 3);
    /* through iconv */
    converts(a, 51, "\xcf\xf0\xe8\xe2\xe5\xf2", 6,
             "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    converts(a, 28, "\xc4\xe3\xba\xc3", 4, "\xe4\xbd\xa0\xe5\xa5\xbd");
    converts(a, 35,
             "\x00"
             "A\x00\xe9",
             4, "A\xc3\xa9");
    converts(a, 54, "\xd8\x3d\xde\x00", 4, "\xf0\x9f\x98\x80");
    converts(a, 56, "\x3d\xd8\x00\xde", 4, "\xf0\x9f\x98\x80");
    converts(a, 60, "\x00\x01\xf6\x00", 4, "\xf0\x9f\x98\x80");
    converts(a, 9, "\xb9", 1, "\xc5\xa1"); /* latin2 s caron */
    /* invalid input and unknown collations are errors */
    assert_int_equal(tb_mytype_to_utf8("\xd8", 1, 54, a, &out, &len, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_int_equal(tb_mytype_to_utf8("\x81\x20", 2, 28, a, &out, &len, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_int_equal(tb_mytype_to_utf8("x", 1, 9999, a, &out, &len, &err), -1);
    assert_int_equal(err.code, TB_ERR_UNSUPPORTED);
    assert_int_equal(tb_mytype_to_utf8("x", 1, 37, a, &out, &len, &err), -1);
    assert_int_equal(err.code, TB_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_types),
        cmocka_unit_test(test_map_refused),
        cmocka_unit_test(test_charset_names),
        cmocka_unit_test_setup_teardown(test_to_utf8, setup, teardown),
    };
    return cmocka_run_group_tests_name("my_types", tests, NULL, NULL);
}
