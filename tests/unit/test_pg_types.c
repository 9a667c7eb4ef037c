/*
 * test_pg_types.c - PostgreSQL type mapping and text value codec.
 *
 * The builtin table below was generated from a PostgreSQL 15 catalog:
 * format_type(oid, -1) for every built-in non-composite type and array, so
 * the synthesized warehouse names are checked against the server's own.
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

#include "../../connectors/postgres/pg_types.h"

#define PSEUDO ((tb_kind)-1)

typedef struct map_case {
    uint32_t oid;
    int32_t typmod;
    char typtype;
    uint32_t elem;
    tb_kind kind; /* PSEUDO: must be refused */
    int precision;
    int scale;
    bool specials;
    const char *target;
} map_case;

static const map_case builtin_cases[] = {
    {16, -1, 'b', 0, TB_KIND_BOOLEAN, 0, 0, false, "boolean"},
    {17, -1, 'b', 0, TB_KIND_BYTES, 0, 0, false, "bytea"},
    {18, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "\"char\""},
    {19, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "name"},
    {20, -1, 'b', 0, TB_KIND_LONG, 0, 0, false, "bigint"},
    {21, -1, 'b', 0, TB_KIND_INT, 0, 0, false, "smallint"},
    {23, -1, 'b', 0, TB_KIND_INT, 0, 0, false, "integer"},
    {24, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regproc"},
    {25, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "text"},
    {26, -1, 'b', 0, TB_KIND_LONG, 0, 0, false, "oid"},
    {27, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "tid"},
    {28, -1, 'b', 0, TB_KIND_LONG, 0, 0, false, "xid"},
    {29, -1, 'b', 0, TB_KIND_LONG, 0, 0, false, "cid"},
    {32, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {114, -1, 'b', 0, TB_KIND_JSON, 0, 0, false, "json"},
    {142, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "xml"},
    {194, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_node_tree"},
    {269, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {325, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {600, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "point"},
    {601, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "lseg"},
    {602, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "path"},
    {603, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "box"},
    {604, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "polygon"},
    {628, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "line"},
    {650, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "cidr"},
    {700, -1, 'b', 0, TB_KIND_FLOAT, 0, 0, false, "real"},
    {701, -1, 'b', 0, TB_KIND_DOUBLE, 0, 0, false, "double precision"},
    {705, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {718, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "circle"},
    {774, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "macaddr8"},
    {790, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "money"},
    {829, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "macaddr"},
    {869, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "inet"},
    {1033, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "aclitem"},
    {1042, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "bpchar"},
    {1043, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "character varying"},
    {1082, -1, 'b', 0, TB_KIND_DATE, 0, 0, false, "date"},
    {1083, -1, 'b', 0, TB_KIND_TIME_MICROS, 0, 6, false,
     "time without time zone"},
    {1114, -1, 'b', 0, TB_KIND_LOCAL_TIMESTAMP_MICROS, 0, 6, false,
     "timestamp without time zone"},
    {1184, -1, 'b', 0, TB_KIND_TIMESTAMP_MICROS, 0, 6, false,
     "timestamp with time zone"},
    {1186, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "interval"},
    {1266, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "time with time zone"},
    {1560, -1, 'b', 0, TB_KIND_BITS, 0, 0, false, "\"bit\""},
    {1562, -1, 'b', 0, TB_KIND_BITS, 0, 0, false, "bit varying"},
    {1700, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "numeric"},
    {1790, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "refcursor"},
    {2202, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regprocedure"},
    {2203, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regoper"},
    {2204, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regoperator"},
    {2205, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regclass"},
    {2206, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regtype"},
    {2249, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2275, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2276, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2277, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2278, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2279, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2280, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2281, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2283, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2287, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2776, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {2950, -1, 'b', 0, TB_KIND_UUID, 0, 0, false, "uuid"},
    {2970, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "txid_snapshot"},
    {3115, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {3220, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_lsn"},
    {3310, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {3361, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_ndistinct"},
    {3402, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_dependencies"},
    {3500, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {3614, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "tsvector"},
    {3615, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "tsquery"},
    {3642, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "gtsvector"},
    {3734, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regconfig"},
    {3769, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regdictionary"},
    {3802, -1, 'b', 0, TB_KIND_JSON, 0, 0, false, "jsonb"},
    {3831, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {3838, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {3904, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "int4range"},
    {3906, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "numrange"},
    {3908, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "tsrange"},
    {3910, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "tstzrange"},
    {3912, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "daterange"},
    {3926, -1, 'r', 0, TB_KIND_STRING, 0, 0, false, "int8range"},
    {4072, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "jsonpath"},
    {4089, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regnamespace"},
    {4096, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regrole"},
    {4191, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "regcollation"},
    {4451, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "int4multirange"},
    {4532, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "nummultirange"},
    {4533, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "tsmultirange"},
    {4534, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "tstzmultirange"},
    {4535, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "datemultirange"},
    {4536, -1, 'm', 0, TB_KIND_STRING, 0, 0, false, "int8multirange"},
    {4537, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {4538, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {4600, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_brin_bloom_summary"},
    {4601, -1, 'b', 0, TB_KIND_STRING, 0, 0, false,
     "pg_brin_minmax_multi_summary"},
    {5017, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_mcv_list"},
    {5038, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "pg_snapshot"},
    {5069, -1, 'b', 0, TB_KIND_DECIMAL, 20, 0, false, "xid8"},
    {5077, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {5078, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {5079, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {5080, -1, 'p', 0, PSEUDO, 0, 0, false, NULL},
    {22, -1, 'b', 21, TB_KIND_STRING, 0, 0, false, "int2vector"},
    {30, -1, 'b', 26, TB_KIND_STRING, 0, 0, false, "oidvector"},
    {143, -1, 'b', 142, TB_KIND_STRING, 0, 0, false, "xml[]"},
    {199, -1, 'b', 114, TB_KIND_STRING, 0, 0, false, "json[]"},
    {271, -1, 'b', 5069, TB_KIND_STRING, 0, 0, false, "xid8[]"},
    {629, -1, 'b', 628, TB_KIND_STRING, 0, 0, false, "line[]"},
    {651, -1, 'b', 650, TB_KIND_STRING, 0, 0, false, "cidr[]"},
    {719, -1, 'b', 718, TB_KIND_STRING, 0, 0, false, "circle[]"},
    {775, -1, 'b', 774, TB_KIND_STRING, 0, 0, false, "macaddr8[]"},
    {791, -1, 'b', 790, TB_KIND_STRING, 0, 0, false, "money[]"},
    {1000, -1, 'b', 16, TB_KIND_STRING, 0, 0, false, "boolean[]"},
    {1001, -1, 'b', 17, TB_KIND_STRING, 0, 0, false, "bytea[]"},
    {1002, -1, 'b', 18, TB_KIND_STRING, 0, 0, false, "\"char\"[]"},
    {1003, -1, 'b', 19, TB_KIND_STRING, 0, 0, false, "name[]"},
    {1005, -1, 'b', 21, TB_KIND_STRING, 0, 0, false, "smallint[]"},
    {1006, -1, 'b', 22, TB_KIND_STRING, 0, 0, false, "int2vector[]"},
    {1007, -1, 'b', 23, TB_KIND_STRING, 0, 0, false, "integer[]"},
    {1008, -1, 'b', 24, TB_KIND_STRING, 0, 0, false, "regproc[]"},
    {1009, -1, 'b', 25, TB_KIND_STRING, 0, 0, false, "text[]"},
    {1010, -1, 'b', 27, TB_KIND_STRING, 0, 0, false, "tid[]"},
    {1011, -1, 'b', 28, TB_KIND_STRING, 0, 0, false, "xid[]"},
    {1012, -1, 'b', 29, TB_KIND_STRING, 0, 0, false, "cid[]"},
    {1013, -1, 'b', 30, TB_KIND_STRING, 0, 0, false, "oidvector[]"},
    {1014, -1, 'b', 1042, TB_KIND_STRING, 0, 0, false, "bpchar[]"},
    {1015, -1, 'b', 1043, TB_KIND_STRING, 0, 0, false, "character varying[]"},
    {1016, -1, 'b', 20, TB_KIND_STRING, 0, 0, false, "bigint[]"},
    {1017, -1, 'b', 600, TB_KIND_STRING, 0, 0, false, "point[]"},
    {1018, -1, 'b', 601, TB_KIND_STRING, 0, 0, false, "lseg[]"},
    {1019, -1, 'b', 602, TB_KIND_STRING, 0, 0, false, "path[]"},
    {1020, -1, 'b', 603, TB_KIND_STRING, 0, 0, false, "box[]"},
    {1021, -1, 'b', 700, TB_KIND_STRING, 0, 0, false, "real[]"},
    {1022, -1, 'b', 701, TB_KIND_STRING, 0, 0, false, "double precision[]"},
    {1027, -1, 'b', 604, TB_KIND_STRING, 0, 0, false, "polygon[]"},
    {1028, -1, 'b', 26, TB_KIND_STRING, 0, 0, false, "oid[]"},
    {1034, -1, 'b', 1033, TB_KIND_STRING, 0, 0, false, "aclitem[]"},
    {1040, -1, 'b', 829, TB_KIND_STRING, 0, 0, false, "macaddr[]"},
    {1041, -1, 'b', 869, TB_KIND_STRING, 0, 0, false, "inet[]"},
    {1115, -1, 'b', 1114, TB_KIND_STRING, 0, 0, false,
     "timestamp without time zone[]"},
    {1182, -1, 'b', 1082, TB_KIND_STRING, 0, 0, false, "date[]"},
    {1183, -1, 'b', 1083, TB_KIND_STRING, 0, 0, false,
     "time without time zone[]"},
    {1185, -1, 'b', 1184, TB_KIND_STRING, 0, 0, false,
     "timestamp with time zone[]"},
    {1187, -1, 'b', 1186, TB_KIND_STRING, 0, 0, false, "interval[]"},
    {1231, -1, 'b', 1700, TB_KIND_STRING, 0, 0, false, "numeric[]"},
    {1270, -1, 'b', 1266, TB_KIND_STRING, 0, 0, false, "time with time zone[]"},
    {1561, -1, 'b', 1560, TB_KIND_STRING, 0, 0, false, "\"bit\"[]"},
    {1563, -1, 'b', 1562, TB_KIND_STRING, 0, 0, false, "bit varying[]"},
    {2201, -1, 'b', 1790, TB_KIND_STRING, 0, 0, false, "refcursor[]"},
    {2207, -1, 'b', 2202, TB_KIND_STRING, 0, 0, false, "regprocedure[]"},
    {2208, -1, 'b', 2203, TB_KIND_STRING, 0, 0, false, "regoper[]"},
    {2209, -1, 'b', 2204, TB_KIND_STRING, 0, 0, false, "regoperator[]"},
    {2210, -1, 'b', 2205, TB_KIND_STRING, 0, 0, false, "regclass[]"},
    {2211, -1, 'b', 2206, TB_KIND_STRING, 0, 0, false, "regtype[]"},
    {2949, -1, 'b', 2970, TB_KIND_STRING, 0, 0, false, "txid_snapshot[]"},
    {2951, -1, 'b', 2950, TB_KIND_STRING, 0, 0, false, "uuid[]"},
    {3221, -1, 'b', 3220, TB_KIND_STRING, 0, 0, false, "pg_lsn[]"},
    {3643, -1, 'b', 3614, TB_KIND_STRING, 0, 0, false, "tsvector[]"},
    {3644, -1, 'b', 3642, TB_KIND_STRING, 0, 0, false, "gtsvector[]"},
    {3645, -1, 'b', 3615, TB_KIND_STRING, 0, 0, false, "tsquery[]"},
    {3735, -1, 'b', 3734, TB_KIND_STRING, 0, 0, false, "regconfig[]"},
    {3770, -1, 'b', 3769, TB_KIND_STRING, 0, 0, false, "regdictionary[]"},
    {3807, -1, 'b', 3802, TB_KIND_STRING, 0, 0, false, "jsonb[]"},
    {3905, -1, 'b', 3904, TB_KIND_STRING, 0, 0, false, "int4range[]"},
    {3907, -1, 'b', 3906, TB_KIND_STRING, 0, 0, false, "numrange[]"},
    {3909, -1, 'b', 3908, TB_KIND_STRING, 0, 0, false, "tsrange[]"},
    {3911, -1, 'b', 3910, TB_KIND_STRING, 0, 0, false, "tstzrange[]"},
    {3913, -1, 'b', 3912, TB_KIND_STRING, 0, 0, false, "daterange[]"},
    {3927, -1, 'b', 3926, TB_KIND_STRING, 0, 0, false, "int8range[]"},
    {4073, -1, 'b', 4072, TB_KIND_STRING, 0, 0, false, "jsonpath[]"},
    {4090, -1, 'b', 4089, TB_KIND_STRING, 0, 0, false, "regnamespace[]"},
    {4097, -1, 'b', 4096, TB_KIND_STRING, 0, 0, false, "regrole[]"},
    {4192, -1, 'b', 4191, TB_KIND_STRING, 0, 0, false, "regcollation[]"},
    {5039, -1, 'b', 5038, TB_KIND_STRING, 0, 0, false, "pg_snapshot[]"},
    {6150, -1, 'b', 4451, TB_KIND_STRING, 0, 0, false, "int4multirange[]"},
    {6151, -1, 'b', 4532, TB_KIND_STRING, 0, 0, false, "nummultirange[]"},
    {6152, -1, 'b', 4533, TB_KIND_STRING, 0, 0, false, "tsmultirange[]"},
    {6153, -1, 'b', 4534, TB_KIND_STRING, 0, 0, false, "tstzmultirange[]"},
    {6155, -1, 'b', 4535, TB_KIND_STRING, 0, 0, false, "datemultirange[]"},
    {6157, -1, 'b', 4536, TB_KIND_STRING, 0, 0, false, "int8multirange[]"},
};

/* typmods, as the server printed format_type(atttypid, atttypmod) */
static const map_case typmod_cases[] = {
    {1042, 5, 'b', 0, TB_KIND_STRING, 0, 0, false, "character(1)"},
    {1042, 9, 'b', 0, TB_KIND_STRING, 0, 0, false, "character(5)"},
    {1043, 44, 'b', 0, TB_KIND_STRING, 0, 0, false, "character varying(40)"},
    {1700, -1, 'b', 0, TB_KIND_STRING, 0, 0, false, "numeric"},
    {1700, 786438, 'b', 0, TB_KIND_DECIMAL, 12, 2, true, "numeric(12,2)"},
    {1700, 329730, 'b', 0, TB_KIND_DECIMAL, 7, 0, true, "numeric(5,-2)"},
    {1700, 196617, 'b', 0, TB_KIND_DECIMAL, 5, 5, true, "numeric(3,5)"},
    {1700, 65536004, 'b', 0, TB_KIND_DECIMAL, 1000, 0, true, "numeric(1000,0)"},
    {1560, 1, 'b', 0, TB_KIND_BITS, 1, 0, false, "bit(1)"},
    {1560, 5, 'b', 0, TB_KIND_BITS, 5, 0, false, "bit(5)"},
    {1562, 7, 'b', 0, TB_KIND_BITS, 7, 0, false, "bit varying(7)"},
    {1083, 0, 'b', 0, TB_KIND_TIME_MICROS, 0, 0, false,
     "time(0) without time zone"},
    {1266, 3, 'b', 0, TB_KIND_STRING, 0, 0, false, "time(3) with time zone"},
    {1114, 3, 'b', 0, TB_KIND_LOCAL_TIMESTAMP_MICROS, 0, 3, false,
     "timestamp(3) without time zone"},
    {1184, 0, 'b', 0, TB_KIND_TIMESTAMP_MICROS, 0, 0, false,
     "timestamp(0) with time zone"},
    {1186, 2147418114, 'b', 0, TB_KIND_STRING, 0, 0, false, "interval(2)"},
    {1186, 458751, 'b', 0, TB_KIND_STRING, 0, 0, false,
     "interval year to month"},
    {1186, 470286340, 'b', 0, TB_KIND_STRING, 0, 0, false,
     "interval day to second(4)"},
    {1186, 134283263, 'b', 0, TB_KIND_STRING, 0, 0, false, "interval minute"},
    {1186, 469762048, 'b', 0, TB_KIND_STRING, 0, 0, false,
     "interval hour to second(0)"},
    {1186, 327679, 'b', 0, TB_KIND_STRING, 0, 0, false, "interval year"},
    {1186, 201392127, 'b', 0, TB_KIND_STRING, 0, 0, false,
     "interval hour to minute"},
    {1563, 7, 'b', 1562, TB_KIND_STRING, 0, 0, false, "bit varying(7)[]"},
    {1115, 0, 'b', 1114, TB_KIND_STRING, 0, 0, false,
     "timestamp(0) without time zone[]"},
    {1231, 786438, 'b', 1700, TB_KIND_STRING, 0, 0, false, "numeric(12,2)[]"},
    {1014, 7, 'b', 1042, TB_KIND_STRING, 0, 0, false, "character(3)[]"},
};

static void check_case(const map_case *c, const char *format_type)
{
    tb_column col;
    tb_error err;
    char target[TB_PGTYPE_NAME_MAX];
    int rc;

    memset(&col, 0, sizeof col);
    tb_error_clear(&err);
    rc = tb_pgtype_map(c->oid, c->typmod, format_type, c->typtype, c->elem,
                       &col, target, sizeof target, &err);
    if (c->kind == PSEUDO) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.code, TB_ERR_UNSUPPORTED);
        return;
    }
    if (rc != 0) fail_msg("oid %u: %s", c->oid, err.msg);
    if (col.kind != c->kind || col.precision != c->precision ||
        col.scale != c->scale || col.decimal_specials != c->specials)
        fail_msg("oid %u typmod %d: kind %s p %d s %d sp %d", c->oid, c->typmod,
                 tb_kind_name(col.kind), col.precision, col.scale,
                 col.decimal_specials);
    assert_string_equal(target, c->target);
    assert_int_equal(col.type_id, c->oid);
    assert_int_equal(col.type_mod, c->typmod);
}

static void test_map_builtins(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0];
         i++) {
        check_case(&builtin_cases[i], NULL); /* synthesized name */
        check_case(&builtin_cases[i], builtin_cases[i].target);
    }
}

static void test_map_typmods(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof typmod_cases / sizeof typmod_cases[0]; i++) {
        check_case(&typmod_cases[i], NULL);
        check_case(&typmod_cases[i], typmod_cases[i].target);
    }
}

static void test_map_user_types(void **state)
{
    tb_column col;
    tb_error err;
    char t[TB_PGTYPE_NAME_MAX];
    (void)state;

    /* domain over numeric(12,2): the base type, the domain's OID kept */
    memset(&col, 0, sizeof col);
    assert_int_equal(tb_pgtype_map(16390, 786438, "money_amount", 'd', 1700,
                                   &col, t, sizeof t, &err),
                     0);
    assert_int_equal(col.kind, TB_KIND_DECIMAL);
    assert_int_equal(col.precision, 12);
    assert_int_equal(col.scale, 2);
    assert_int_equal(col.type_id, 16390);
    assert_string_equal(t, "numeric(12,2)");
    /* domain over an array of text */
    assert_int_equal(
        tb_pgtype_map(16391, -1, "tags", 'd', 1009, &col, t, sizeof t, &err),
        0);
    assert_int_equal(col.kind, TB_KIND_STRING);
    assert_string_equal(t, "text[]");
    /* domain over an enum: text */
    assert_int_equal(
        tb_pgtype_map(16392, -1, "d_mood", 'd', 16380, &col, t, sizeof t, &err),
        0);
    assert_string_equal(t, "text");
    /* enum, composite, range and array of enum */
    assert_int_equal(
        tb_pgtype_map(16380, -1, "mood", 'e', 0, &col, t, sizeof t, &err), 0);
    assert_int_equal(col.kind, TB_KIND_STRING);
    assert_string_equal(t, "text");
    assert_int_equal(
        tb_pgtype_map(16400, -1, "pair", 'c', 0, &col, t, sizeof t, &err), 0);
    assert_string_equal(t, "text");
    assert_int_equal(
        tb_pgtype_map(16401, -1, "floatrange", 'r', 0, &col, t, sizeof t, &err),
        0);
    assert_string_equal(t, "text");
    assert_int_equal(
        tb_pgtype_map(16379, -1, "mood[]", 'b', 16380, &col, t, sizeof t, &err),
        0);
    assert_int_equal(col.kind, TB_KIND_STRING);
    assert_string_equal(t, "text[]");
    /* extension base type such as citext */
    assert_int_equal(
        tb_pgtype_map(16500, -1, "citext", 'b', 0, &col, t, sizeof t, &err), 0);
    assert_int_equal(col.kind, TB_KIND_STRING);
    assert_string_equal(t, "text");
    /* too small a target buffer is refused, not truncated */
    assert_int_equal(tb_pgtype_map(1184, -1, NULL, 'b', 0, &col, t, 8, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_USAGE);
    /* format_type of a non-built-in OID */
    assert_int_equal(tb_pgtype_format_type(16500, -1, t, sizeof t, &err), -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
}

/* ---- values ---- */

typedef struct fixture {
    tb_arena arena;
    tb_buf buf;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    tb_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_arena_free(&f->arena);
    tb_buf_free(&f->buf);
    free(f);
    return 0;
}

static tb_column column(tb_kind kind)
{
    tb_column c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.decimal_specials = true;
    return c;
}

/* Parse text, check it formats back to expect (text itself when NULL). */
static tb_value roundtrip(fixture *f, tb_kind kind, const char *text,
                          const char *expect)
{
    tb_column c = column(kind);
    tb_value v;
    tb_error err;

    memset(&v, 0, sizeof v);
    if (tb_pgtype_parse_text(&c, text, strlen(text), &v, &f->arena, &err) != 0)
        fail_msg("parse %s '%s': %s", tb_kind_name(kind), text, err.msg);
    assert_int_equal(v.state, TB_VALUE_SET);
    tb_buf_reset(&f->buf);
    if (tb_pgtype_format_text(&c, &v, &f->buf, &err) != 0)
        fail_msg("format '%s': %s", text, err.msg);
    assert_true(tb_buf_append(&f->buf, "", 1) == 0);
    assert_string_equal((const char *)f->buf.data, expect ? expect : text);
    return v;
}

static void refused(fixture *f, tb_column c, const char *text)
{
    tb_value v;
    tb_error err;
    tb_error_clear(&err);
    if (tb_pgtype_parse_text(&c, text, strlen(text), &v, &f->arena, &err) == 0)
        fail_msg("accepted bad %s '%s'", tb_kind_name(c.kind), text);
    assert_int_equal(err.code, TB_ERR_DECODE);
}

static void test_integers(void **state)
{
    fixture *f = *state;
    assert_true(roundtrip(f, TB_KIND_LONG, "-9223372036854775808", NULL).u.i ==
                INT64_MIN);
    assert_true(roundtrip(f, TB_KIND_LONG, "9223372036854775807", NULL).u.i ==
                INT64_MAX);
    assert_int_equal(roundtrip(f, TB_KIND_INT, "-2147483648", NULL).u.i,
                     INT32_MIN);
    assert_int_equal(roundtrip(f, TB_KIND_INT, "0", NULL).u.i, 0);
    assert_int_equal(roundtrip(f, TB_KIND_LONG, "4294967295", NULL).u.i,
                     4294967295LL);
    refused(f, column(TB_KIND_LONG), "9223372036854775808");
    refused(f, column(TB_KIND_LONG), "-9223372036854775809");
    refused(f, column(TB_KIND_INT), "2147483648");
    refused(f, column(TB_KIND_INT), "");
    refused(f, column(TB_KIND_INT), "-");
    refused(f, column(TB_KIND_INT), "12a");
    assert_true(roundtrip(f, TB_KIND_BOOLEAN, "t", NULL).u.b);
    assert_false(roundtrip(f, TB_KIND_BOOLEAN, "f", NULL).u.b);
    refused(f, column(TB_KIND_BOOLEAN), "x");
}

static void test_numeric(void **state)
{
    fixture *f = *state;
    char big[1003];
    tb_column strict = column(TB_KIND_DECIMAL);

    big[0] = '-';
    for (int i = 1; i <= 1000; i++)
        big[i] = (char)('0' + i % 10);
    big[1] = '9';
    big[1001] = '\0';
    tb_value v = roundtrip(f, TB_KIND_DECIMAL, big, NULL);
    assert_int_equal(v.len, 1001);
    roundtrip(f, TB_KIND_DECIMAL, "12.50", NULL);
    roundtrip(f, TB_KIND_DECIMAL, "-0.000001", NULL);
    roundtrip(f, TB_KIND_DECIMAL, "NaN", NULL);
    roundtrip(f, TB_KIND_DECIMAL, "Infinity", NULL);
    roundtrip(f, TB_KIND_DECIMAL, "-Infinity", NULL);
    /* unconstrained numeric is a STRING: exact text, specials included */
    roundtrip(f, TB_KIND_STRING, "3.141592653589793238462643383279", NULL);
    strict.decimal_specials = false;
    refused(f, strict, "NaN");
    refused(f, column(TB_KIND_DECIMAL), "1e5");
    refused(f, column(TB_KIND_DECIMAL), "1.");
    refused(f, column(TB_KIND_DECIMAL), ".5");
    refused(f, column(TB_KIND_DECIMAL), "nan");
}

static void test_floats(void **state)
{
    fixture *f = *state;
    tb_value v;

    v = roundtrip(f, TB_KIND_DOUBLE, "-0", NULL);
    assert_true(v.u.d == 0 && signbit(v.u.d));
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "1e+308", NULL).u.d == 1e308);
    assert_true(
        roundtrip(f, TB_KIND_DOUBLE, "1.7976931348623157e+308", NULL).u.d ==
        1.7976931348623157e308);
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "5e-324", NULL).u.d ==
                4.9406564584124654e-324);
    assert_true(
        roundtrip(f, TB_KIND_DOUBLE, "2.225073858507201e-308", NULL).u.d ==
        2.225073858507201e-308); /* largest denormal */
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "0.1", NULL).u.d == 0.1);
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "0.30000000000000004", NULL).u.d ==
                0.1 + 0.2);
    assert_true(isnan(roundtrip(f, TB_KIND_DOUBLE, "NaN", NULL).u.d));
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "Infinity", NULL).u.d == INFINITY);
    assert_true(roundtrip(f, TB_KIND_DOUBLE, "-Infinity", NULL).u.d ==
                -INFINITY);
    /* float4: parsed as float, printed with the fewest digits */
    assert_true(roundtrip(f, TB_KIND_FLOAT, "0.1", NULL).u.d == (double)0.1f);
    assert_true(roundtrip(f, TB_KIND_FLOAT, "1e-45", NULL).u.d ==
                (double)1e-45f);
    assert_true(roundtrip(f, TB_KIND_FLOAT, "3.4028235e+38", NULL).u.d ==
                (double)3.4028235e38f);
    v = roundtrip(f, TB_KIND_FLOAT, "-0", NULL);
    assert_true(signbit(v.u.d));
    refused(f, column(TB_KIND_DOUBLE), "1e309");
    refused(f, column(TB_KIND_FLOAT), "1e39");
    refused(f, column(TB_KIND_DOUBLE), "inf");
    refused(f, column(TB_KIND_DOUBLE), "0x10");
    refused(f, column(TB_KIND_DOUBLE), "");
}

static void test_bytea(void **state)
{
    fixture *f = *state;
    char hex[2 + 512 + 1] = "\\x";
    tb_column c = column(TB_KIND_BYTES);
    tb_value v;
    tb_error err;

    for (int i = 0; i < 256; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", i);
    v = roundtrip(f, TB_KIND_BYTES, hex, NULL);
    assert_int_equal(v.len, 256);
    for (int i = 0; i < 256; i++)
        assert_int_equal((uint8_t)v.u.s[i], i);
    v = roundtrip(f, TB_KIND_BYTES, "\\x", NULL);
    assert_int_equal(v.len, 0);
    /* upper-case hex and the escape format are read too */
    v = roundtrip(f, TB_KIND_BYTES, "\\x00FF", "\\x00ff");
    assert_int_equal(v.len, 2);
    assert_int_equal(
        tb_pgtype_parse_text(&c, "a\\000b\\\\\\377", 12, &v, &f->arena, &err),
        0);
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.u.s, "a\0b\\\xff", 5);
    refused(f, c, "\\x0");
    refused(f, c, "\\xzz");
    refused(f, c, "a\\9");
}

static void test_dates(void **state)
{
    fixture *f = *state;
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "1970-01-01", NULL).u.i, 0);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "2000-01-01", NULL).u.i, 10957);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "1969-12-31", NULL).u.i, -1);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "2024-02-29", NULL).u.i, 19782);
    /* Julian day 0 and PostgreSQL's last date: 2440588 days before the
     * epoch and 2145042905 after, so both fit the Avro int. */
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "4714-11-24 BC", NULL).u.i,
                     -2440588);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "5874897-12-31", NULL).u.i,
                     2145042905);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "4713-01-01 BC", NULL).u.i,
                     -2440550);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "0001-01-01 BC", NULL).u.i,
                     -719528);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "0001-12-31 BC", NULL).u.i,
                     -719163);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "0001-01-01", NULL).u.i,
                     -719162);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "infinity", NULL).u.i,
                     INT32_MAX);
    assert_int_equal(roundtrip(f, TB_KIND_DATE, "-infinity", NULL).u.i,
                     INT32_MIN);
    refused(f, column(TB_KIND_DATE), "2023-02-29");
    refused(f, column(TB_KIND_DATE), "1900-02-29");
    refused(f, column(TB_KIND_DATE), "4714-11-23 BC");
    refused(f, column(TB_KIND_DATE), "5874898-01-01");
    refused(f, column(TB_KIND_DATE), "0000-01-01");
    refused(f, column(TB_KIND_DATE), "2024-13-01");
    refused(f, column(TB_KIND_DATE), "2024-1-01");
    refused(f, column(TB_KIND_DATE), "2024-01-01 AD");
}

static void test_times(void **state)
{
    fixture *f = *state;
    assert_true(roundtrip(f, TB_KIND_TIME_MICROS, "24:00:00", NULL).u.i ==
                INT64_C(86400000000));
    assert_int_equal(roundtrip(f, TB_KIND_TIME_MICROS, "00:00:00", NULL).u.i,
                     0);
    assert_true(
        roundtrip(f, TB_KIND_TIME_MICROS, "23:59:59.999999", NULL).u.i ==
        INT64_C(86399999999));
    assert_true(roundtrip(f, TB_KIND_TIME_MICROS, "12:34:56.5", NULL).u.i ==
                INT64_C(45296500000));
    refused(f, column(TB_KIND_TIME_MICROS), "24:00:00.000001");
    refused(f, column(TB_KIND_TIME_MICROS), "12:60:00");
    refused(f, column(TB_KIND_TIME_MICROS), "12:00:00.1234567");
    refused(f, column(TB_KIND_TIME_MICROS), "12:00");
    /* MySQL TIME as interval text */
    assert_true(roundtrip(f, TB_KIND_DURATION_MICROS, "-838:59:59", NULL).u.i ==
                -INT64_C(3020399000000));
    assert_true(
        roundtrip(f, TB_KIND_DURATION_MICROS, "00:00:00.000001", NULL).u.i ==
        1);
    roundtrip(f, TB_KIND_DURATION_MICROS, "-00:00:01.5", NULL);
}

static void test_timestamps(void **state)
{
    fixture *f = *state;
    static const char *const frac[] = {
        "2024-01-02 03:04:05",        "2024-01-02 03:04:05.1",
        "2024-01-02 03:04:05.12",     "2024-01-02 03:04:05.123",
        "2024-01-02 03:04:05.1234",   "2024-01-02 03:04:05.12345",
        "2024-01-02 03:04:05.123456",
    };
    char buf[64];
    tb_value v;

    v = roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "2024-01-02 03:04:05.123456+00",
                  NULL);
    assert_true(v.u.i == INT64_C(1704164645123456));
    for (int i = 0; i <= 6; i++) {
        v = roundtrip(f, TB_KIND_LOCAL_TIMESTAMP_MICROS, frac[i], NULL);
        assert_true(v.u.i / 1000000 == INT64_C(1704164645));
        snprintf(buf, sizeof buf, "%s+00", frac[i]);
        roundtrip(f, TB_KIND_TIMESTAMP_MICROS, buf, NULL);
    }
    /* before the epoch: floor, not truncation */
    v = roundtrip(f, TB_KIND_LOCAL_TIMESTAMP_MICROS,
                  "1969-12-31 23:59:59.999999", NULL);
    assert_int_equal(v.u.i, -1);
    v = roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "4713-01-01 00:00:00.5+00 BC",
                  NULL);
    assert_true(v.u.i == INT64_C(-2440550) * 86400000000 + 500000);
    v = roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "4714-11-24 00:00:00+00 BC",
                  NULL);
    assert_true(v.u.i == INT64_C(-2440588) * 86400000000);
    /* the last instant int64 microseconds since 1970 can hold; INT64_MAX
     * itself means infinity, PostgreSQL's own end (294276) is beyond */
    v = roundtrip(f, TB_KIND_LOCAL_TIMESTAMP_MICROS,
                  "294247-01-10 04:00:54.775806", NULL);
    assert_true(v.u.i == INT64_MAX - 1);
    refused(f, column(TB_KIND_LOCAL_TIMESTAMP_MICROS),
            "294247-01-10 04:00:54.775807");
    refused(f, column(TB_KIND_LOCAL_TIMESTAMP_MICROS),
            "294276-12-31 23:59:59.999999");
    /* other offsets are normalised to UTC */
    v = roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "2024-01-02 08:34:05+05:30",
                  "2024-01-02 03:04:05+00");
    roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "2024-01-01 23:00:00-01:02:03",
              "2024-01-02 00:02:03+00");
    assert_true(roundtrip(f, TB_KIND_TIMESTAMP_MICROS, "infinity", NULL).u.i ==
                INT64_MAX);
    assert_true(
        roundtrip(f, TB_KIND_LOCAL_TIMESTAMP_MICROS, "-infinity", NULL).u.i ==
        INT64_MIN);
    refused(f, column(TB_KIND_TIMESTAMP_MICROS), "2024-01-02 03:04:05");
    refused(f, column(TB_KIND_LOCAL_TIMESTAMP_MICROS),
            "2024-01-02 03:04:05+00");
    refused(f, column(TB_KIND_LOCAL_TIMESTAMP_MICROS), "294277-01-01 00:00:00");
    refused(f, column(TB_KIND_TIMESTAMP_MICROS), "2024-01-02T03:04:05+00");
}

static void test_text_kinds(void **state)
{
    fixture *f = *state;
    tb_value v;
    tb_column c = column(TB_KIND_SET);
    tb_error err;

    v = roundtrip(f, TB_KIND_STRING, "h\xc3\xa9llo \xf0\x9f\x98\x80", NULL);
    assert_int_equal(v.len, 11);
    roundtrip(f, TB_KIND_STRING, "", NULL);
    roundtrip(f, TB_KIND_JSON, "{\"a\": [1, 2.5, null]}", NULL);
    roundtrip(f, TB_KIND_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", NULL);
    roundtrip(f, TB_KIND_BITS, "0101", NULL);
    refused(f, column(TB_KIND_BITS), "0121");
    /* text need not be NUL-terminated: only len bytes are read */
    assert_int_equal(tb_pgtype_parse_text(&c, "a,bXYZ", 3, &v, &f->arena, &err),
                     0);
    assert_string_equal(v.u.s, "a,b");
    /* SET members become a text[] literal */
    roundtrip(f, TB_KIND_SET, "a,b", "{\"a\",\"b\"}");
    roundtrip(f, TB_KIND_SET, "", "{}");
    roundtrip(f, TB_KIND_SET, "x y", "{\"x y\"}");
}

static void test_format_errors(void **state)
{
    fixture *f = *state;
    tb_column c = column(TB_KIND_TIME_MICROS);
    tb_value v;
    tb_error err;

    memset(&v, 0, sizeof v);
    v.state = TB_VALUE_NULL;
    assert_int_equal(tb_pgtype_format_text(&c, &v, &f->buf, &err), -1);
    assert_int_equal(err.code, TB_ERR_USAGE);
    v.state = TB_VALUE_SET;
    v.u.i = 86400000001LL;
    assert_int_equal(tb_pgtype_format_text(&c, &v, &f->buf, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_builtins),
        cmocka_unit_test(test_map_typmods),
        cmocka_unit_test(test_map_user_types),
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytea, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_errors, setup, teardown),
    };
    return cmocka_run_group_tests_name("pg_types", tests, NULL, NULL);
}
