/*
 * pg_types.c - PostgreSQL type mapping (OID -> tb_kind, warehouse type) and
 * the text-format value codec used by the pgoutput reader and the loader.
 *
 * The OID tables were taken from a PostgreSQL 15 catalog (pg_type.dat):
 * every built-in non-composite type and every built-in array of one.
 */
#include "pg_types.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a built-in type's typmod shows in its name and in the mapping. */
enum pg_mod {
    MOD_NONE = 0,
    MOD_BPCHAR,      /* character(n): typmod = n + 4 */
    MOD_VARCHAR,     /* character varying(n): typmod = n + 4 */
    MOD_NUMERIC,     /* numeric(p,s): ((p << 16) | (s & 0x7ff)) + 4 */
    MOD_BIT,         /* bit(n): typmod = n */
    MOD_VARBIT,      /* bit varying(n): typmod = n */
    MOD_TIME,        /* time(n) without time zone */
    MOD_TIMETZ,      /* time(n) with time zone */
    MOD_TIMESTAMP,   /* timestamp(n) without time zone */
    MOD_TIMESTAMPTZ, /* timestamp(n) with time zone */
    MOD_INTERVAL     /* interval [fields][(n)]: (range << 16) | precision */
};

/* Marker kind of pseudo-types: they can never be a column type. */
#define KIND_PSEUDO 0xff

/* One built-in, non-array type of PostgreSQL 15. */
typedef struct pg_builtin {
    uint32_t oid;     /* pg_type.oid */
    const char *name; /* format_type(oid, -1) */
    uint8_t kind;     /* tb_kind, or KIND_PSEUDO */
    uint8_t mod;      /* enum pg_mod */
} pg_builtin;

#define S TB_KIND_STRING
static const pg_builtin builtins[] = {
    {16, "boolean", TB_KIND_BOOLEAN, MOD_NONE},
    {17, "bytea", TB_KIND_BYTES, MOD_NONE},
    {18, "\"char\"", S, MOD_NONE},
    {19, "name", S, MOD_NONE},
    {20, "bigint", TB_KIND_LONG, MOD_NONE},
    {21, "smallint", TB_KIND_INT, MOD_NONE},
    {22, "int2vector", S, MOD_NONE},
    {23, "integer", TB_KIND_INT, MOD_NONE},
    {24, "regproc", S, MOD_NONE}, /* reg* types print names, not numbers */
    {25, "text", S, MOD_NONE},
    {26, "oid", TB_KIND_LONG, MOD_NONE},
    {27, "tid", S, MOD_NONE},
    {28, "xid", TB_KIND_LONG, MOD_NONE},
    {29, "cid", TB_KIND_LONG, MOD_NONE},
    {30, "oidvector", S, MOD_NONE},
    {32, "pg_ddl_command", KIND_PSEUDO, MOD_NONE},
    {114, "json", TB_KIND_JSON, MOD_NONE},
    {142, "xml", S, MOD_NONE},
    {194, "pg_node_tree", S, MOD_NONE},
    {269, "table_am_handler", KIND_PSEUDO, MOD_NONE},
    {325, "index_am_handler", KIND_PSEUDO, MOD_NONE},
    {600, "point", S, MOD_NONE},
    {601, "lseg", S, MOD_NONE},
    {602, "path", S, MOD_NONE},
    {603, "box", S, MOD_NONE},
    {604, "polygon", S, MOD_NONE},
    {628, "line", S, MOD_NONE},
    {650, "cidr", S, MOD_NONE},
    {700, "real", TB_KIND_FLOAT, MOD_NONE},
    {701, "double precision", TB_KIND_DOUBLE, MOD_NONE},
    {705, "unknown", KIND_PSEUDO, MOD_NONE},
    {718, "circle", S, MOD_NONE},
    {774, "macaddr8", S, MOD_NONE},
    {790, "money", S, MOD_NONE}, /* text depends on lc_monetary */
    {829, "macaddr", S, MOD_NONE},
    {869, "inet", S, MOD_NONE},
    {1033, "aclitem", S, MOD_NONE},
    {1042, "bpchar", S, MOD_BPCHAR},
    {1043, "character varying", S, MOD_VARCHAR},
    {1082, "date", TB_KIND_DATE, MOD_NONE},
    {1083, "time without time zone", TB_KIND_TIME_MICROS, MOD_TIME},
    {1114, "timestamp without time zone", TB_KIND_LOCAL_TIMESTAMP_MICROS,
     MOD_TIMESTAMP},
    {1184, "timestamp with time zone", TB_KIND_TIMESTAMP_MICROS,
     MOD_TIMESTAMPTZ},
    {1186, "interval", S, MOD_INTERVAL},
    {1266, "time with time zone", S, MOD_TIMETZ},
    {1560, "\"bit\"", TB_KIND_BITS, MOD_BIT},
    {1562, "bit varying", TB_KIND_BITS, MOD_VARBIT},
    {1700, "numeric", TB_KIND_DECIMAL, MOD_NUMERIC},
    {1790, "refcursor", S, MOD_NONE},
    {2202, "regprocedure", S, MOD_NONE},
    {2203, "regoper", S, MOD_NONE},
    {2204, "regoperator", S, MOD_NONE},
    {2205, "regclass", S, MOD_NONE},
    {2206, "regtype", S, MOD_NONE},
    {2249, "record", KIND_PSEUDO, MOD_NONE},
    {2275, "cstring", KIND_PSEUDO, MOD_NONE},
    {2276, "\"any\"", KIND_PSEUDO, MOD_NONE},
    {2277, "anyarray", KIND_PSEUDO, MOD_NONE},
    {2278, "void", KIND_PSEUDO, MOD_NONE},
    {2279, "trigger", KIND_PSEUDO, MOD_NONE},
    {2280, "language_handler", KIND_PSEUDO, MOD_NONE},
    {2281, "internal", KIND_PSEUDO, MOD_NONE},
    {2283, "anyelement", KIND_PSEUDO, MOD_NONE},
    {2287, "record[]", KIND_PSEUDO, MOD_NONE},
    {2776, "anynonarray", KIND_PSEUDO, MOD_NONE},
    {2950, "uuid", TB_KIND_UUID, MOD_NONE},
    {2970, "txid_snapshot", S, MOD_NONE},
    {3115, "fdw_handler", KIND_PSEUDO, MOD_NONE},
    {3220, "pg_lsn", S, MOD_NONE},
    {3310, "tsm_handler", KIND_PSEUDO, MOD_NONE},
    {3361, "pg_ndistinct", S, MOD_NONE},
    {3402, "pg_dependencies", S, MOD_NONE},
    {3500, "anyenum", KIND_PSEUDO, MOD_NONE},
    {3614, "tsvector", S, MOD_NONE},
    {3615, "tsquery", S, MOD_NONE},
    {3642, "gtsvector", S, MOD_NONE},
    {3734, "regconfig", S, MOD_NONE},
    {3769, "regdictionary", S, MOD_NONE},
    {3802, "jsonb", TB_KIND_JSON, MOD_NONE},
    {3831, "anyrange", KIND_PSEUDO, MOD_NONE},
    {3838, "event_trigger", KIND_PSEUDO, MOD_NONE},
    {3904, "int4range", S, MOD_NONE},
    {3906, "numrange", S, MOD_NONE},
    {3908, "tsrange", S, MOD_NONE},
    {3910, "tstzrange", S, MOD_NONE},
    {3912, "daterange", S, MOD_NONE},
    {3926, "int8range", S, MOD_NONE},
    {4072, "jsonpath", S, MOD_NONE},
    {4089, "regnamespace", S, MOD_NONE},
    {4096, "regrole", S, MOD_NONE},
    {4191, "regcollation", S, MOD_NONE},
    {4451, "int4multirange", S, MOD_NONE},
    {4532, "nummultirange", S, MOD_NONE},
    {4533, "tsmultirange", S, MOD_NONE},
    {4534, "tstzmultirange", S, MOD_NONE},
    {4535, "datemultirange", S, MOD_NONE},
    {4536, "int8multirange", S, MOD_NONE},
    {4537, "anymultirange", KIND_PSEUDO, MOD_NONE},
    {4538, "anycompatiblemultirange", KIND_PSEUDO, MOD_NONE},
    {4600, "pg_brin_bloom_summary", S, MOD_NONE},
    {4601, "pg_brin_minmax_multi_summary", S, MOD_NONE},
    {5017, "pg_mcv_list", S, MOD_NONE},
    {5038, "pg_snapshot", S, MOD_NONE},
    /* xid8 is unsigned 64-bit: like MySQL BIGINT UNSIGNED, decimal(20,0) */
    {5069, "xid8", TB_KIND_DECIMAL, MOD_NONE},
    {5077, "anycompatible", KIND_PSEUDO, MOD_NONE},
    {5078, "anycompatiblearray", KIND_PSEUDO, MOD_NONE},
    {5079, "anycompatiblenonarray", KIND_PSEUDO, MOD_NONE},
    {5080, "anycompatiblerange", KIND_PSEUDO, MOD_NONE},
};
#undef S

/* Built-in array types: {array OID, element OID}. */
static const uint32_t arrays[][2] = {
    {143, 142},   {199, 114},   {271, 5069},  {629, 628},   {651, 650},
    {719, 718},   {775, 774},   {791, 790},   {1000, 16},   {1001, 17},
    {1002, 18},   {1003, 19},   {1005, 21},   {1006, 22},   {1007, 23},
    {1008, 24},   {1009, 25},   {1010, 27},   {1011, 28},   {1012, 29},
    {1013, 30},   {1014, 1042}, {1015, 1043}, {1016, 20},   {1017, 600},
    {1018, 601},  {1019, 602},  {1020, 603},  {1021, 700},  {1022, 701},
    {1027, 604},  {1028, 26},   {1034, 1033}, {1040, 829},  {1041, 869},
    {1115, 1114}, {1182, 1082}, {1183, 1083}, {1185, 1184}, {1187, 1186},
    {1231, 1700}, {1270, 1266}, {1561, 1560}, {1563, 1562}, {2201, 1790},
    {2207, 2202}, {2208, 2203}, {2209, 2204}, {2210, 2205}, {2211, 2206},
    {2949, 2970}, {2951, 2950}, {3221, 3220}, {3643, 3614}, {3644, 3642},
    {3645, 3615}, {3735, 3734}, {3770, 3769}, {3807, 3802}, {3905, 3904},
    {3907, 3906}, {3909, 3908}, {3911, 3910}, {3913, 3912}, {3927, 3926},
    {4073, 4072}, {4090, 4089}, {4097, 4096}, {4192, 4191}, {5039, 5038},
    {6150, 4451}, {6151, 4532}, {6152, 4533}, {6153, 4534}, {6155, 4535},
    {6157, 4536},
};

static const pg_builtin *find_builtin(uint32_t oid)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (builtins[i].oid == oid) return &builtins[i];
    return NULL;
}

/* Element OID of a built-in array type, 0 if oid is none. */
static uint32_t find_array_elem(uint32_t oid)
{
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (arrays[i][0] == oid) return arrays[i][1];
    return 0;
}

/* numeric typmod -> declared precision and scale (PG 15 allows a scale
 * outside 0..precision, stored as an 11-bit two's complement field). */
static void numeric_typmod(int32_t typmod, int *p, int *s)
{
    int32_t t = typmod - 4;
    *p = (t >> 16) & 0xffff;
    *s = ((t & 0x7ff) ^ 1024) - 1024;
}

/* Interval typmod field masks (datetime.h: INTERVAL_MASK of each field). */
#define IM_MONTH  (1 << 1)
#define IM_YEAR   (1 << 2)
#define IM_DAY    (1 << 3)
#define IM_HOUR   (1 << 10)
#define IM_MINUTE (1 << 11)
#define IM_SECOND (1 << 12)

static const char *interval_fields(int range)
{
    switch (range) {
    case IM_YEAR:
        return " year";
    case IM_MONTH:
        return " month";
    case IM_DAY:
        return " day";
    case IM_HOUR:
        return " hour";
    case IM_MINUTE:
        return " minute";
    case IM_SECOND:
        return " second";
    case IM_YEAR | IM_MONTH:
        return " year to month";
    case IM_DAY | IM_HOUR:
        return " day to hour";
    case IM_DAY | IM_HOUR | IM_MINUTE:
        return " day to minute";
    case IM_DAY | IM_HOUR | IM_MINUTE | IM_SECOND:
        return " day to second";
    case IM_HOUR | IM_MINUTE:
        return " hour to minute";
    case IM_HOUR | IM_MINUTE | IM_SECOND:
        return " hour to second";
    case IM_MINUTE | IM_SECOND:
        return " minute to second";
    default:
        return ""; /* INTERVAL_FULL_RANGE */
    }
}

/* format_type of a built-in non-array type with typmod, into buf. */
static int builtin_name(const pg_builtin *b, int32_t typmod, char *buf,
                        size_t cap)
{
    int n;
    int p, s;
    const char *tz = NULL;

    switch (b->mod) {
    case MOD_BPCHAR:
        n = typmod >= 4 ? snprintf(buf, cap, "character(%d)", typmod - 4)
                        : snprintf(buf, cap, "bpchar");
        break;
    case MOD_VARCHAR:
        n = typmod >= 4
                ? snprintf(buf, cap, "character varying(%d)", typmod - 4)
                : snprintf(buf, cap, "character varying");
        break;
    case MOD_NUMERIC:
        if (typmod >= 4) {
            numeric_typmod(typmod, &p, &s);
            n = snprintf(buf, cap, "numeric(%d,%d)", p, s);
        } else {
            n = snprintf(buf, cap, "numeric");
        }
        break;
    case MOD_BIT:
        n = typmod >= 0 ? snprintf(buf, cap, "bit(%d)", typmod)
                        : snprintf(buf, cap, "\"bit\"");
        break;
    case MOD_VARBIT:
        n = typmod >= 0 ? snprintf(buf, cap, "bit varying(%d)", typmod)
                        : snprintf(buf, cap, "bit varying");
        break;
    case MOD_TIME:
    case MOD_TIMETZ:
    case MOD_TIMESTAMP:
    case MOD_TIMESTAMPTZ:
        tz = (b->mod == MOD_TIMETZ || b->mod == MOD_TIMESTAMPTZ)
                 ? "with time zone"
                 : "without time zone";
        if (typmod >= 0)
            n = snprintf(buf, cap, "%s(%d) %s",
                         b->mod <= MOD_TIMETZ ? "time" : "timestamp", typmod,
                         tz);
        else
            n = snprintf(buf, cap, "%s", b->name);
        break;
    case MOD_INTERVAL:
        if (typmod >= 0) {
            int prec = typmod & 0xffff;
            const char *f = interval_fields((typmod >> 16) & 0x7fff);
            n = prec != 0xffff ? snprintf(buf, cap, "interval%s(%d)", f, prec)
                               : snprintf(buf, cap, "interval%s", f);
        } else {
            n = snprintf(buf, cap, "interval");
        }
        break;
    default:
        n = snprintf(buf, cap, "%s", b->name);
        break;
    }
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int tb_pgtype_format_type(uint32_t oid, int32_t typmod, char *buf, size_t cap,
                          tb_error *err)
{
    const pg_builtin *b = find_builtin(oid);
    uint32_t elem = 0;

    if (!b) {
        elem = find_array_elem(oid);
        if (elem) b = find_builtin(elem);
    }
    if (!b) return tb_error_set(err, TB_ERR_NOT_FOUND, "oid %u", oid);
    if (builtin_name(b, typmod, buf, cap) < 0) goto fail;
    if (elem) {
        size_t n = strlen(buf);
        if (n + 3 > cap) goto fail;
        memcpy(buf + n, "[]", 3);
    }
    return 0;
fail:
    return tb_error_set(err, TB_ERR_USAGE, "type name of oid %u too long", oid);
}

static int put_target(char *target, size_t cap, const char *s, tb_error *err)
{
    size_t n = strlen(s);
    if (n >= cap)
        return tb_error_set(err, TB_ERR_USAGE, "type name too long: %s", s);
    memcpy(target, s, n + 1);
    return 0;
}

/* Fill kind/precision/scale of a built-in non-array, non-pseudo type. */
static void map_builtin(const pg_builtin *b, int32_t typmod, tb_column *out)
{
    int p, s;

    out->kind = (tb_kind)b->kind;
    out->precision = 0;
    out->scale = 0;
    out->decimal_specials = false;
    switch (b->mod) {
    case MOD_NUMERIC:
        if (typmod < 4) {
            /* No fixed scale: an Avro decimal needs one, so the exact text
             * travels as a string. */
            out->kind = TB_KIND_STRING;
            break;
        }
        numeric_typmod(typmod, &p, &s);
        /* Avro wants 0 <= scale <= precision; widen so every value of
         * numeric(p,s) fits: numeric(5,-2) holds 7-digit integers,
         * numeric(3,5) holds 0.00xyz. */
        if (s < 0) {
            p -= s;
            s = 0;
        } else if (s > p) {
            p = s;
        }
        out->precision = p;
        out->scale = s;
        out->decimal_specials = true; /* NaN (and Infinity when no typmod) */
        break;
    case MOD_BIT:
    case MOD_VARBIT:
        out->precision = typmod >= 0 ? typmod : 0;
        break;
    case MOD_TIME:
    case MOD_TIMESTAMP:
    case MOD_TIMESTAMPTZ:
        out->scale = typmod >= 0 ? typmod : 6;
        break;
    default:
        break;
    }
    if (b->oid == 5069) { /* xid8: 0 .. 2^64-1 */
        out->precision = 20;
        out->scale = 0;
    }
}

int tb_pgtype_map(uint32_t oid, int32_t typmod, const char *format_type,
                  char typtype, uint32_t elem_or_base, tb_column *out,
                  char *target, size_t target_cap, tb_error *err)
{
    const pg_builtin *b;
    uint32_t lookup = oid;
    bool is_domain = false;

    if (typtype == 'p')
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "pseudo-type %s (oid %u) cannot be replicated",
                            format_type ? format_type : "?", oid);
    if (typtype == 'd') {
        /* A domain replicates as its base type; the warehouse need not know
         * the domain, so its name is synthesized from the base. */
        lookup = elem_or_base;
        is_domain = true;
        format_type = NULL;
    }

    out->type_id = oid;
    out->type_mod = typmod;
    out->precision = 0;
    out->scale = 0;
    out->decimal_specials = false;
    out->kind = TB_KIND_STRING;

    b = find_builtin(lookup);
    if (b) {
        if (b->kind == KIND_PSEUDO)
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "pseudo-type %s (oid %u) cannot be replicated",
                                b->name, lookup);
        map_builtin(b, typmod, out);
    } else if (find_array_elem(lookup)) {
        /* Built-in array: PostgreSQL array text, any element type. */
    } else if (!is_domain && (typtype == 'b' || typtype == 0) &&
               elem_or_base != 0) {
        /* Array of a user type (enum, composite, extension type): the
         * warehouse gets the same text as text[]. */
        return put_target(target, target_cap, "text[]", err);
    } else {
        /* Enum, composite, user range, extension base type (citext,
         * hstore...), or a domain over one of them: text. */
        return put_target(target, target_cap, "text", err);
    }
    if (format_type) return put_target(target, target_cap, format_type, err);
    return tb_pgtype_format_type(lookup, typmod, target, target_cap, err);
}
