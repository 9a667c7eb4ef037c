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

/* ---- calendar arithmetic (proleptic Gregorian, astronomical years) ---- */

#define USECS_PER_DAY INT64_C(86400000000)
#define USECS_PER_SEC INT64_C(1000000)

/* Days from 1970-01-01 to y-m-d; y = 0 is 1 BC, -1 is 2 BC. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  /* 0..399 */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* PostgreSQL's limits: dates from 4714-11-24 BC (Julian day 0) through
 * 5874897-12-31; timestamps from 4714-11-24 BC. PostgreSQL's last timestamp,
 * 294276-12-31, lies beyond what int64 microseconds since 1970 can hold
 * (294247-01-10 04:00:54.775807 UTC): later values are refused, and
 * INT64_MAX itself is kept for +infinity. */
static int64_t date_min(void)
{
    return days_from_civil(-4713, 11, 24);
}
static int64_t date_max(void)
{
    return days_from_civil(5874897, 12, 31);
}
static int64_t ts_min(void)
{
    return date_min() * USECS_PER_DAY;
}

/* floor division, for negative microsecond counts */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* ---- text scanning ---- */

typedef struct cursor {
    const char *p; /* next byte */
    const char *e; /* end of text */
} cursor;

static bool cur_lit(cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->e - c->p) < n || memcmp(c->p, lit, n) != 0) return false;
    c->p += n;
    return true;
}

/* Read between min and max decimal digits into *v. */
static bool cur_digits(cursor *c, int min, int max, int64_t *v)
{
    int n = 0;
    int64_t x = 0;
    while (c->p < c->e && n < max && *c->p >= '0' && *c->p <= '9') {
        x = x * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    *v = x;
    return n >= min;
}

/* Optional ".f{1,6}" -> microseconds. */
static bool cur_fraction(cursor *c, int64_t *us)
{
    *us = 0;
    if (c->p >= c->e || *c->p != '.') return true;
    c->p++;
    int n = 0;
    while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
        if (n == 6) return false; /* PostgreSQL prints at most 6 digits */
        *us = *us * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0) return false;
    while (n++ < 6)
        *us *= 10;
    return true;
}

/* "YYYY-MM-DD" (year 4..7 digits) -> year, month, day (unchecked BC). */
static bool cur_ymd(cursor *c, int64_t *y, int *m, int *d)
{
    int64_t v;
    if (!cur_digits(c, 4, 7, y) || !cur_lit(c, "-")) return false;
    if (!cur_digits(c, 2, 2, &v) || !cur_lit(c, "-")) return false;
    *m = (int)v;
    if (!cur_digits(c, 2, 2, &v)) return false;
    *d = (int)v;
    return true;
}

/* "HH:MM:SS[.ffffff]" -> microseconds since midnight, 24:00:00 allowed. */
static bool cur_hms(cursor *c, int64_t *us)
{
    int64_t h, mi, s, f;
    if (!cur_digits(c, 2, 2, &h) || !cur_lit(c, ":") ||
        !cur_digits(c, 2, 2, &mi) || !cur_lit(c, ":") ||
        !cur_digits(c, 2, 2, &s) || !cur_fraction(c, &f))
        return false;
    if (mi > 59 || s > 59 || h > 24) return false;
    *us = ((h * 60 + mi) * 60 + s) * USECS_PER_SEC + f;
    return *us <= USECS_PER_DAY;
}

/* Year/month/day (year as printed, bc flag) -> days since 1970. */
static bool ymd_days(int64_t y, int m, int d, bool bc, int64_t *days)
{
    if (y < 1 || m < 1 || m > 12) return false;
    if (bc) y = 1 - y;
    if (d < 1 || d > month_days(y, m)) return false;
    *days = days_from_civil(y, m, d);
    return *days >= date_min() && *days <= date_max();
}

static int parse_date(const char *s, size_t len, int64_t *out)
{
    cursor c = {s, s + len};
    int64_t y, days;
    int m, d;
    bool bc;

    if (len == 8 && memcmp(s, "infinity", 8) == 0) {
        *out = INT32_MAX;
        return 0;
    }
    if (len == 9 && memcmp(s, "-infinity", 9) == 0) {
        *out = INT32_MIN;
        return 0;
    }
    if (!cur_ymd(&c, &y, &m, &d)) return -1;
    bc = cur_lit(&c, " BC");
    if (c.p != c.e || !ymd_days(y, m, d, bc, &days)) return -1;
    *out = days;
    return 0;
}

/* "[+-]HH[:MM[:SS]]" -> seconds east of UTC. */
static bool cur_offset(cursor *c, int64_t *secs)
{
    int64_t h, mi = 0, s = 0;
    int sign;
    if (c->p >= c->e || (*c->p != '+' && *c->p != '-')) return false;
    sign = *c->p == '-' ? -1 : 1;
    c->p++;
    if (!cur_digits(c, 2, 2, &h)) return false;
    if (cur_lit(c, ":")) {
        if (!cur_digits(c, 2, 2, &mi)) return false;
        if (cur_lit(c, ":") && !cur_digits(c, 2, 2, &s)) return false;
    }
    if (mi > 59 || s > 59) return false;
    *secs = sign * ((h * 60 + mi) * 60 + s);
    return true;
}

static int parse_timestamp(const char *s, size_t len, bool with_tz,
                           int64_t *out)
{
    cursor c = {s, s + len};
    int64_t y, days, us, off = 0;
    int m, d;
    bool bc;

    if (len == 8 && memcmp(s, "infinity", 8) == 0) {
        *out = INT64_MAX;
        return 0;
    }
    if (len == 9 && memcmp(s, "-infinity", 9) == 0) {
        *out = INT64_MIN;
        return 0;
    }
    if (!cur_ymd(&c, &y, &m, &d) || !cur_lit(&c, " ") || !cur_hms(&c, &us))
        return -1;
    if (c.p < c.e && (*c.p == '+' || *c.p == '-')) {
        /* A wall-clock timestamp never carries an offset. */
        if (!with_tz || !cur_offset(&c, &off)) return -1;
    } else if (with_tz) {
        return -1;
    }
    bc = cur_lit(&c, " BC");
    if (c.p != c.e) return -1;
    /* The offset may move the instant across the range ends: check again. */
    if (!ymd_days(y, m, d, bc, &days)) return -1;
    if (__builtin_mul_overflow(days, USECS_PER_DAY, out) ||
        __builtin_add_overflow(*out, us - off * USECS_PER_SEC, out))
        return -1;
    if (*out < ts_min() || *out == INT64_MAX) return -1;
    return 0;
}

/* "[-]H+:MM:SS[.ffffff]" (MySQL TIME) -> signed microseconds. */
static int parse_duration(const char *s, size_t len, int64_t *out)
{
    cursor c = {s, s + len};
    int64_t h, mi, sec, f;
    bool neg = cur_lit(&c, "-");
    if (!cur_digits(&c, 1, 9, &h) || !cur_lit(&c, ":") ||
        !cur_digits(&c, 2, 2, &mi) || !cur_lit(&c, ":") ||
        !cur_digits(&c, 2, 2, &sec) || !cur_fraction(&c, &f) || c.p != c.e ||
        mi > 59 || sec > 59)
        return -1;
    *out = ((h * 60 + mi) * 60 + sec) * USECS_PER_SEC + f;
    if (neg) *out = -*out;
    return 0;
}

static int parse_int(const char *s, size_t len, int64_t lo, int64_t hi,
                     int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, lim;

    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len) return -1;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (lim - dgt) / 10) return -1;
        v = v * 10 + dgt;
    }
    /* Negate in unsigned arithmetic: -(2^63) has no positive int64. */
    int64_t x = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

static int parse_float(const char *s, size_t len, bool single, double *out)
{
    char buf[64];
    char *end;

    /* strtod wants a NUL; PostgreSQL's longest float8 text is ~24 bytes. */
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Accept only PostgreSQL's spellings, not strtod's hex or "inf". */
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(buf, "Infinity") == 0 || strcmp(buf, "-Infinity") == 0) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789+-.eE", buf[i])) return -1;
    /* float4 is parsed as float: rounding through double first could land
     * on a different float. Overflow to +-HUGE_VAL is refused, underflow to
     * a denormal or zero is what PostgreSQL does too. */
    if (single) {
        float f = strtof(buf, &end);
        if (*end || isinf(f)) return -1;
        *out = f;
    } else {
        double d = strtod(buf, &end);
        if (*end || isinf(d)) return -1;
        *out = d;
    }
    return 0;
}

/* Plain decimal text: [-]digits[.digits], or a special when allowed. */
static bool valid_decimal(const char *s, size_t len, bool specials)
{
    size_t i = 0, nd = 0;

    if (specials && ((len == 3 && memcmp(s, "NaN", 3) == 0) ||
                     (len == 8 && memcmp(s, "Infinity", 8) == 0) ||
                     (len == 9 && memcmp(s, "-Infinity", 9) == 0)))
        return true;
    if (i < len && s[i] == '-') i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        nd++;
    }
    if (nd == 0) return false;
    if (i < len && s[i] == '.') {
        i++;
        nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            nd++;
        }
        if (nd == 0) return false;
    }
    return i == len;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* bytea text (hex "\x..." or the old escape format) into arena bytes. */
static int parse_bytea(const char *s, size_t len, tb_value *out,
                       tb_arena *arena, tb_error *err)
{
    uint8_t *b;
    size_t n = 0;

    b = tb_arena_alloc(arena, len + 1); /* decoded is never longer */
    if (!b) return tb_error_set(err, TB_ERR_NOMEM, "bytea value");
    if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
        if ((len - 2) % 2 != 0) goto bad;
        for (size_t i = 2; i < len; i += 2) {
            int hi = hexval((unsigned char)s[i]);
            int lo = hexval((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0) goto bad;
            b[n++] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            if (s[i] != '\\') {
                b[n++] = (uint8_t)s[i];
            } else if (i + 1 < len && s[i + 1] == '\\') {
                b[n++] = '\\';
                i++;
            } else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                       s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
                       s[i + 3] <= '7') {
                b[n++] = (uint8_t)((s[i + 1] - '0') << 6 |
                                   (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
                i += 3;
            } else {
                goto bad;
            }
        }
    }
    b[n] = '\0';
    out->u.s = (const char *)b;
    out->len = (uint32_t)n;
    return 0;
bad:
    return tb_error_set(err, TB_ERR_DECODE, "malformed bytea text");
}

int tb_pgtype_parse_text(const tb_column *col, const char *text, size_t len,
                         tb_value *out, tb_arena *arena, tb_error *err)
{
    int64_t i;
    const char *what = tb_kind_name(col->kind);

    if (len > UINT32_MAX) {
        what = "oversized";
        goto fail;
    }
    out->state = TB_VALUE_SET;
    out->len = 0;
    switch (col->kind) {
    case TB_KIND_BOOLEAN:
        if ((len == 1 && text[0] == 't') ||
            (len == 4 && !memcmp(text, "true", 4)))
            out->u.b = true;
        else if ((len == 1 && text[0] == 'f') ||
                 (len == 5 && !memcmp(text, "false", 5)))
            out->u.b = false;
        else
            goto fail;
        return 0;
    case TB_KIND_INT:
        if (parse_int(text, len, INT32_MIN, INT32_MAX, &i) < 0) goto fail;
        out->u.i = i;
        return 0;
    case TB_KIND_LONG:
        if (parse_int(text, len, INT64_MIN, INT64_MAX, &i) < 0) goto fail;
        out->u.i = i;
        return 0;
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE:
        if (parse_float(text, len, col->kind == TB_KIND_FLOAT, &out->u.d) < 0)
            goto fail;
        return 0;
    case TB_KIND_DATE:
        if (parse_date(text, len, &out->u.i) < 0) goto fail;
        return 0;
    case TB_KIND_TIME_MICROS: {
        cursor c = {text, text + len};
        if (!cur_hms(&c, &out->u.i) || c.p != c.e) goto fail;
        return 0;
    }
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
        if (parse_timestamp(text, len, col->kind == TB_KIND_TIMESTAMP_MICROS,
                            &out->u.i) < 0)
            goto fail;
        return 0;
    case TB_KIND_DURATION_MICROS:
        if (parse_duration(text, len, &out->u.i) < 0) goto fail;
        return 0;
    case TB_KIND_BYTES:
        return parse_bytea(text, len, out, arena, err);
    case TB_KIND_DECIMAL:
        if (!valid_decimal(text, len, col->decimal_specials)) goto fail;
        break;
    case TB_KIND_BITS:
        for (size_t k = 0; k < len; k++)
            if (text[k] != '0' && text[k] != '1') goto fail;
        break;
    case TB_KIND_STRING:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_SET:
        break;
    default:
        goto fail;
    }
    out->u.s = tb_arena_strndup(arena, text, len);
    if (!out->u.s) return tb_error_set(err, TB_ERR_NOMEM, "text value");
    out->len = (uint32_t)len;
    return 0;
fail:
    return tb_error_set(err, TB_ERR_DECODE, "bad %s text '%.*s'", what,
                        len > 64 ? 64 : (int)len, text);
}

/* ---- formatting ---- */

/* Shortest "%.Ng" that reads back to the same value (float or double). */
static int put_float(tb_buf *out, double d, bool single)
{
    char buf[40];

    if (isnan(d)) return tb_buf_puts(out, "NaN");
    if (isinf(d)) return tb_buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (single ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            break;
    }
    return tb_buf_puts(out, buf);
}

/* Append v in decimal, zero-padded to at least width digits. The loader
 * formats every value of every row: printf would be most of its time. */
static int put_uint(tb_buf *out, uint64_t v, int width)
{
    char buf[24];
    int n = 0;
    do {
        buf[sizeof buf - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width && n < (int)sizeof buf)
        buf[sizeof buf - 1 - n++] = '0';
    return tb_buf_append(out, buf + sizeof buf - n, (size_t)n);
}

static int put_int(tb_buf *out, int64_t v)
{
    if (v < 0) {
        if (tb_buf_append(out, "-", 1) < 0) return -1;
        return put_uint(out, (uint64_t)0 - (uint64_t)v, 1);
    }
    return put_uint(out, (uint64_t)v, 1);
}

/* "YYYY-MM-DD" with PostgreSQL's BC convention; bc set when year <= 0. */
static int put_date(tb_buf *out, int64_t days, bool *bc)
{
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    *bc = y <= 0;
    if (*bc) y = 1 - y;
    if (put_uint(out, (uint64_t)y, 4) < 0 || tb_buf_append(out, "-", 1) < 0 ||
        put_uint(out, (uint64_t)m, 2) < 0 || tb_buf_append(out, "-", 1) < 0)
        return -1;
    return put_uint(out, (uint64_t)d, 2);
}

/* "HH:MM:SS[.f]" with trailing fractional zeros dropped; hours unbounded. */
static int put_hms(tb_buf *out, int64_t us)
{
    int64_t secs = us / USECS_PER_SEC;
    int64_t frac = us % USECS_PER_SEC;
    int digits = 6;

    if (put_uint(out, (uint64_t)(secs / 3600), 2) < 0 ||
        tb_buf_append(out, ":", 1) < 0 ||
        put_uint(out, (uint64_t)(secs / 60 % 60), 2) < 0 ||
        tb_buf_append(out, ":", 1) < 0 ||
        put_uint(out, (uint64_t)(secs % 60), 2) < 0)
        return -1;
    if (frac == 0) return 0;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (tb_buf_append(out, ".", 1) < 0) return -1;
    return put_uint(out, (uint64_t)frac, digits);
}

static int put_timestamp(tb_buf *out, int64_t us, bool with_tz)
{
    bool bc;
    if (us == INT64_MAX) return tb_buf_puts(out, "infinity");
    if (us == INT64_MIN) return tb_buf_puts(out, "-infinity");
    int64_t days = floor_div(us, USECS_PER_DAY);
    if (put_date(out, days, &bc) < 0 || tb_buf_puts(out, " ") < 0 ||
        put_hms(out, us - days * USECS_PER_DAY) < 0)
        return -1;
    if (with_tz && tb_buf_puts(out, "+00") < 0) return -1;
    return bc ? tb_buf_puts(out, " BC") : 0;
}

/* MySQL SET "a,b" -> PostgreSQL text[] literal {"a","b"}. */
static int put_set(tb_buf *out, const char *s, size_t len)
{
    if (tb_buf_puts(out, "{") < 0) return -1;
    size_t i = 0;
    while (len > 0 && i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        if (tb_buf_puts(out, i ? ",\"" : "\"") < 0) return -1;
        for (size_t k = i; k < j; k++) {
            if ((s[k] == '"' || s[k] == '\\') && tb_buf_puts(out, "\\") < 0)
                return -1;
            if (tb_buf_append(out, &s[k], 1) < 0) return -1;
        }
        if (tb_buf_puts(out, "\"") < 0) return -1;
        i = j + 1;
    }
    return tb_buf_puts(out, "}");
}

int tb_pgtype_format_text(const tb_column *col, const tb_value *v, tb_buf *out,
                          tb_error *err)
{
    static const char hex[] = "0123456789abcdef";
    int rc = 0;
    bool bc;

    if (v->state != TB_VALUE_SET)
        return tb_error_set(err, TB_ERR_USAGE, "formatting an unset value");
    switch (col->kind) {
    case TB_KIND_BOOLEAN:
        rc = tb_buf_puts(out, v->u.b ? "t" : "f");
        break;
    case TB_KIND_INT:
    case TB_KIND_LONG:
        rc = put_int(out, v->u.i);
        break;
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE:
        rc = put_float(out, v->u.d, col->kind == TB_KIND_FLOAT);
        break;
    case TB_KIND_DATE:
        if (v->u.i >= INT32_MAX) {
            rc = tb_buf_puts(out, "infinity");
        } else if (v->u.i <= INT32_MIN) {
            rc = tb_buf_puts(out, "-infinity");
        } else {
            rc = put_date(out, v->u.i, &bc);
            if (rc == 0 && bc) rc = tb_buf_puts(out, " BC");
        }
        break;
    case TB_KIND_TIME_MICROS:
        if (v->u.i < 0 || v->u.i > USECS_PER_DAY)
            return tb_error_set(err, TB_ERR_USAGE, "time %" PRId64 " us",
                                v->u.i);
        rc = put_hms(out, v->u.i);
        break;
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
        rc = put_timestamp(out, v->u.i, col->kind == TB_KIND_TIMESTAMP_MICROS);
        break;
    case TB_KIND_DURATION_MICROS:
        if (v->u.i == INT64_MIN)
            return tb_error_set(err, TB_ERR_USAGE, "duration out of range");
        if (v->u.i < 0) rc = tb_buf_puts(out, "-");
        if (rc == 0) rc = put_hms(out, v->u.i < 0 ? -v->u.i : v->u.i);
        break;
    case TB_KIND_BYTES:
        if (tb_buf_reserve(out, 2 + 2 * (size_t)v->len + 1) < 0) {
            rc = -1;
            break;
        }
        out->data[out->len++] = '\\';
        out->data[out->len++] = 'x';
        for (uint32_t k = 0; k < v->len; k++) {
            uint8_t b = (uint8_t)v->u.s[k];
            out->data[out->len++] = (uint8_t)hex[b >> 4];
            out->data[out->len++] = (uint8_t)hex[b & 15];
        }
        out->data[out->len] = '\0';
        break;
    case TB_KIND_SET:
        rc = put_set(out, v->u.s, v->len);
        break;
    case TB_KIND_DECIMAL:
    case TB_KIND_STRING:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
        rc = tb_buf_append(out, v->u.s, v->len);
        break;
    default:
        return tb_error_set(err, TB_ERR_USAGE, "cannot format kind %d",
                            (int)col->kind);
    }
    if (rc < 0) return tb_error_set(err, TB_ERR_NOMEM, "formatting a value");
    return 0;
}
