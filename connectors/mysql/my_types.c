/*
 * my_types.c - MySQL/MariaDB column type mapping and charset conversion.
 *
 * The collation table was generated from libmariadb 3's compiled charset
 * list (MariaDB 10.x/11.x and MySQL 8.0 utf8mb4_0900 collation ids).
 */
#include "my_types.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

/* ---- character sets ---- */

/* MySQL character sets, indexes into charsets[]. */
enum {
    CS_ARMSCII8,
    CS_ASCII,
    CS_BIG5,
    CS_BINARY,
    CS_CP1250,
    CS_CP1251,
    CS_CP1256,
    CS_CP1257,
    CS_CP850,
    CS_CP852,
    CS_CP866,
    CS_CP932,
    CS_DEC8,
    CS_EUCJPMS,
    CS_EUCKR,
    CS_GB18030,
    CS_GB2312,
    CS_GBK,
    CS_GEOSTD8,
    CS_GREEK,
    CS_HEBREW,
    CS_HP8,
    CS_KEYBCS2,
    CS_KOI8R,
    CS_KOI8U,
    CS_LATIN1,
    CS_LATIN2,
    CS_LATIN5,
    CS_LATIN7,
    CS_MACCE,
    CS_MACROMAN,
    CS_SJIS,
    CS_SWE7,
    CS_TIS620,
    CS_UCS2,
    CS_UJIS,
    CS_UTF16,
    CS_UTF16LE,
    CS_UTF32,
    CS_UTF8MB3,
    CS_UTF8MB4,
    CS__COUNT
};

/* One MySQL character set. */
typedef struct charset {
    const char *mysql; /* MySQL's name */
    const char *iconv; /* glibc iconv name, NULL when iconv has none */
} charset;

static const charset charsets[CS__COUNT] = {
    [CS_ARMSCII8] = {"armscii8", "ARMSCII-8"},
    [CS_ASCII] = {"ascii", "ASCII"},
    [CS_BIG5] = {"big5", "BIG5"},
    [CS_BINARY] = {"binary", NULL},
    [CS_CP1250] = {"cp1250", "CP1250"},
    [CS_CP1251] = {"cp1251", "CP1251"},
    [CS_CP1256] = {"cp1256", "CP1256"},
    [CS_CP1257] = {"cp1257", "CP1257"},
    [CS_CP850] = {"cp850", "CP850"},
    [CS_CP852] = {"cp852", "CP852"},
    [CS_CP866] = {"cp866", "CP866"},
    [CS_CP932] = {"cp932", "CP932"},
    [CS_DEC8] = {"dec8", "DEC-MCS"},
    [CS_EUCJPMS] = {"eucjpms", "EUC-JP-MS"},
    [CS_EUCKR] = {"euckr", "EUC-KR"},
    [CS_GB18030] = {"gb18030", "GB18030"},
    [CS_GB2312] = {"gb2312", "GB2312"},
    [CS_GBK] = {"gbk", "GBK"},
    [CS_GEOSTD8] = {"geostd8", "GEORGIAN-PS"},
    [CS_GREEK] = {"greek", "ISO-8859-7"},
    [CS_HEBREW] = {"hebrew", "ISO-8859-8"},
    [CS_HP8] = {"hp8", "HP-ROMAN8"},
    [CS_KEYBCS2] = {"keybcs2", NULL},
    [CS_KOI8R] = {"koi8r", "KOI8-R"},
    [CS_KOI8U] = {"koi8u", "KOI8-U"},
    [CS_LATIN1] = {"latin1", "CP1252"},
    [CS_LATIN2] = {"latin2", "ISO-8859-2"},
    [CS_LATIN5] = {"latin5", "ISO-8859-9"},
    [CS_LATIN7] = {"latin7", "ISO-8859-13"},
    [CS_MACCE] = {"macce", "MAC-CENTRALEUROPE"},
    [CS_MACROMAN] = {"macroman", "MACINTOSH"},
    [CS_SJIS] = {"sjis", "SHIFT_JIS"},
    [CS_SWE7] = {"swe7", "ISO646-SE"},
    [CS_TIS620] = {"tis620", "TIS-620"},
    [CS_UCS2] = {"ucs2", "UCS-2BE"},
    [CS_UJIS] = {"ujis", "EUC-JP"},
    [CS_UTF16] = {"utf16", "UTF-16BE"},
    [CS_UTF16LE] = {"utf16le", "UTF-16LE"},
    [CS_UTF32] = {"utf32", "UTF-32BE"},
    [CS_UTF8MB3] = {"utf8mb3", "UTF-8"},
    [CS_UTF8MB4] = {"utf8mb4", "UTF-8"},
};

/* Collation ids lo..hi all belong to one character set. */
typedef struct collation_range {
    uint16_t lo, hi; /* inclusive */
    uint8_t cs;      /* index into charsets[] */
} collation_range;

static const collation_range collations[] = {
    {1, 1, CS_BIG5},           {2, 2, CS_LATIN2},
    {3, 3, CS_DEC8},           {4, 4, CS_CP850},
    {5, 5, CS_LATIN1},         {6, 6, CS_HP8},
    {7, 7, CS_KOI8R},          {8, 8, CS_LATIN1},
    {9, 9, CS_LATIN2},         {10, 10, CS_SWE7},
    {11, 11, CS_ASCII},        {12, 12, CS_UJIS},
    {13, 13, CS_SJIS},         {14, 14, CS_CP1251},
    {15, 15, CS_LATIN1},       {16, 16, CS_HEBREW},
    {18, 18, CS_TIS620},       {19, 19, CS_EUCKR},
    {20, 20, CS_LATIN7},       {21, 21, CS_LATIN2},
    {22, 22, CS_KOI8U},        {23, 23, CS_CP1251},
    {24, 24, CS_GB2312},       {25, 25, CS_GREEK},
    {26, 26, CS_CP1250},       {27, 27, CS_LATIN2},
    {28, 28, CS_GBK},          {29, 29, CS_CP1257},
    {30, 30, CS_LATIN5},       {31, 31, CS_LATIN1},
    {32, 32, CS_ARMSCII8},     {33, 33, CS_UTF8MB3},
    {34, 34, CS_CP1250},       {35, 35, CS_UCS2},
    {36, 36, CS_CP866},        {37, 37, CS_KEYBCS2},
    {38, 38, CS_MACCE},        {39, 39, CS_MACROMAN},
    {40, 40, CS_CP852},        {41, 42, CS_LATIN7},
    {43, 43, CS_MACCE},        {44, 44, CS_CP1250},
    {45, 46, CS_UTF8MB4},      {47, 49, CS_LATIN1},
    {50, 52, CS_CP1251},       {53, 53, CS_MACROMAN},
    {54, 55, CS_UTF16},        {56, 56, CS_UTF16LE},
    {57, 57, CS_CP1256},       {58, 59, CS_CP1257},
    {60, 61, CS_UTF32},        {62, 62, CS_UTF16LE},
    {63, 63, CS_BINARY},       {64, 64, CS_ARMSCII8},
    {65, 65, CS_ASCII},        {66, 66, CS_CP1250},
    {67, 67, CS_CP1256},       {68, 68, CS_CP866},
    {69, 69, CS_DEC8},         {70, 70, CS_GREEK},
    {71, 71, CS_HEBREW},       {72, 72, CS_HP8},
    {73, 73, CS_KEYBCS2},      {74, 74, CS_KOI8R},
    {75, 75, CS_KOI8U},        {76, 76, CS_UTF8MB3},
    {77, 77, CS_LATIN2},       {78, 78, CS_LATIN5},
    {79, 79, CS_LATIN7},       {80, 80, CS_CP850},
    {81, 81, CS_CP852},        {82, 82, CS_SWE7},
    {83, 83, CS_UTF8MB3},      {84, 84, CS_BIG5},
    {85, 85, CS_EUCKR},        {86, 86, CS_GB2312},
    {87, 87, CS_GBK},          {88, 88, CS_SJIS},
    {89, 89, CS_TIS620},       {90, 90, CS_UCS2},
    {91, 91, CS_UJIS},         {92, 93, CS_GEOSTD8},
    {94, 94, CS_LATIN1},       {95, 96, CS_CP932},
    {97, 98, CS_EUCJPMS},      {99, 99, CS_CP1250},
    {101, 118, CS_UTF16},      {119, 119, CS_UTF8MB3},
    {120, 124, CS_UTF16},      {128, 151, CS_UCS2},
    {159, 159, CS_UCS2},       {160, 183, CS_UTF32},
    {192, 215, CS_UTF8MB3},    {223, 223, CS_UTF8MB3},
    {224, 247, CS_UTF8MB4},    {248, 250, CS_GB18030},
    {254, 254, CS_UTF8MB3},    {255, 271, CS_UTF8MB4},
    {273, 275, CS_UTF8MB4},    {277, 294, CS_UTF8MB4},
    {296, 298, CS_UTF8MB4},    {300, 300, CS_UTF8MB4},
    {303, 307, CS_UTF8MB4},    {576, 578, CS_UTF8MB3},
    {608, 610, CS_UTF8MB4},    {640, 642, CS_UCS2},
    {672, 674, CS_UTF16},      {736, 738, CS_UTF32},
    {1025, 1025, CS_BIG5},     {1027, 1027, CS_DEC8},
    {1028, 1028, CS_CP850},    {1030, 1030, CS_HP8},
    {1031, 1031, CS_KOI8R},    {1032, 1032, CS_LATIN1},
    {1033, 1033, CS_LATIN2},   {1034, 1034, CS_SWE7},
    {1035, 1035, CS_ASCII},    {1036, 1036, CS_UJIS},
    {1037, 1037, CS_SJIS},     {1040, 1040, CS_HEBREW},
    {1042, 1042, CS_TIS620},   {1043, 1043, CS_EUCKR},
    {1046, 1046, CS_KOI8U},    {1048, 1048, CS_GB2312},
    {1049, 1049, CS_GREEK},    {1050, 1050, CS_CP1250},
    {1052, 1052, CS_GBK},      {1054, 1054, CS_LATIN5},
    {1056, 1056, CS_ARMSCII8}, {1057, 1057, CS_UTF8MB3},
    {1059, 1059, CS_UCS2},     {1060, 1060, CS_CP866},
    {1061, 1061, CS_KEYBCS2},  {1062, 1062, CS_MACCE},
    {1063, 1063, CS_MACROMAN}, {1064, 1064, CS_CP852},
    {1065, 1065, CS_LATIN7},   {1067, 1067, CS_MACCE},
    {1069, 1070, CS_UTF8MB4},  {1071, 1071, CS_LATIN1},
    {1074, 1075, CS_CP1251},   {1077, 1077, CS_MACROMAN},
    {1078, 1079, CS_UTF16},    {1080, 1080, CS_UTF16LE},
    {1081, 1081, CS_CP1256},   {1082, 1083, CS_CP1257},
    {1084, 1085, CS_UTF32},    {1086, 1086, CS_UTF16LE},
    {1088, 1088, CS_ARMSCII8}, {1089, 1089, CS_ASCII},
    {1090, 1090, CS_CP1250},   {1091, 1091, CS_CP1256},
    {1092, 1092, CS_CP866},    {1093, 1093, CS_DEC8},
    {1094, 1094, CS_GREEK},    {1095, 1095, CS_HEBREW},
    {1096, 1096, CS_HP8},      {1097, 1097, CS_KEYBCS2},
    {1098, 1098, CS_KOI8R},    {1099, 1099, CS_KOI8U},
    {1101, 1101, CS_LATIN2},   {1102, 1102, CS_LATIN5},
    {1103, 1103, CS_LATIN7},   {1104, 1104, CS_CP850},
    {1105, 1105, CS_CP852},    {1106, 1106, CS_SWE7},
    {1107, 1107, CS_UTF8MB3},  {1108, 1108, CS_BIG5},
    {1109, 1109, CS_EUCKR},    {1110, 1110, CS_GB2312},
    {1111, 1111, CS_GBK},      {1112, 1112, CS_SJIS},
    {1113, 1113, CS_TIS620},   {1114, 1114, CS_UCS2},
    {1115, 1115, CS_UJIS},     {1116, 1117, CS_GEOSTD8},
    {1119, 1120, CS_CP932},    {1121, 1122, CS_EUCJPMS},
    {1125, 1125, CS_UTF16},    {1147, 1147, CS_UTF16},
    {1152, 1152, CS_UCS2},     {1174, 1174, CS_UCS2},
    {1184, 1184, CS_UTF32},    {1206, 1206, CS_UTF32},
    {1216, 1216, CS_UTF8MB3},  {1238, 1238, CS_UTF8MB3},
    {1248, 1248, CS_UTF8MB4},  {1270, 1270, CS_UTF8MB4},
};

static int charset_of(uint32_t id)
{
    size_t lo = 0, hi = sizeof collations / sizeof collations[0];
    while (lo < hi) { /* binary search over the sorted ranges */
        size_t mid = (lo + hi) / 2;
        if (id < collations[mid].lo)
            hi = mid;
        else if (id > collations[mid].hi)
            lo = mid + 1;
        else
            return collations[mid].cs;
    }
    /* MySQL 8.0 ids past libmariadb's list (up to 323) are all
     * utf8mb4_*_0900_* collations. */
    if (id >= 255 && id <= 323) return CS_UTF8MB4;
    return -1;
}

const char *tb_mytype_charset_name(uint32_t collation_id)
{
    int cs = charset_of(collation_id);
    if (cs < 0) return NULL;
    if (cs == CS_BINARY) return "BINARY";
    return charsets[cs].iconv;
}

const char *tb_mytype_charset_mysql_name(uint32_t collation_id)
{
    int cs = charset_of(collation_id);
    return cs < 0 ? NULL : charsets[cs].mysql;
}

/* MySQL's latin1 is Windows-1252 with its 5 holes (0x81, 0x8D, 0x8F, 0x90,
 * 0x9D) mapped to the C1 controls of the same value. */
static const uint16_t latin1_80_9f[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static size_t latin1_to_utf8(const unsigned char *in, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = in[i];
        if (c >= 0x80 && c < 0xa0) c = latin1_80_9f[c - 0x80];
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xc0 | c >> 6);
            o[k++] = (char)(0x80 | (c & 0x3f));
        } else {
            o[k++] = (char)(0xe0 | c >> 12);
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
            o[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    return k;
}

int tb_mytype_to_utf8(const char *in, size_t n, uint32_t collation_id,
                      tb_arena *arena, const char **out, size_t *outlen,
                      tb_error *err)
{
    int cs = charset_of(collation_id);
    iconv_t cd = (iconv_t)-1;
    char *buf;
    size_t cap;

    if (cs < 0 || (cs != CS_BINARY && !charsets[cs].iconv))
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "character set of collation %u", collation_id);
    if (cs == CS_UTF8MB4 || cs == CS_UTF8MB3 || cs == CS_ASCII ||
        cs == CS_BINARY) {
        buf = tb_arena_strndup(arena, in, n);
        if (!buf) goto nomem;
        *out = buf;
        *outlen = n;
        return 0;
    }
    /* No input byte becomes more than 3 UTF-8 bytes (a 4-byte UTF-8
     * character needs at least 2 input bytes in every set), so 4n is
     * always enough and no retry loop is needed. */
    if (n > (SIZE_MAX - 1) / 4) goto nomem;
    cap = 4 * n + 1;
    buf = tb_arena_alloc(arena, cap);
    if (!buf) goto nomem;
    if (cs == CS_LATIN1) {
        *outlen = latin1_to_utf8((const unsigned char *)in, n, buf);
        buf[*outlen] = '\0';
        *out = buf;
        return 0;
    }
    cd = iconv_open("UTF-8", charsets[cs].iconv);
    if (cd == (iconv_t)-1)
        return tb_error_set(err, TB_ERR_UNSUPPORTED, "iconv cannot read %s",
                            charsets[cs].iconv);
    char *ip = (char *)in, *op = buf;
    size_t il = n, ol = cap - 1;
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1) {
        int e = errno;
        iconv_close(cd);
        return tb_error_set(err, TB_ERR_DECODE,
                            "invalid %s text at byte %zu: %s",
                            charsets[cs].mysql, (size_t)(ip - in), strerror(e));
    }
    iconv_close(cd);
    *op = '\0';
    *out = buf;
    *outlen = (size_t)(op - buf);
    return 0;
nomem:
    return tb_error_set(err, TB_ERR_NOMEM, "converting %zu bytes to UTF-8", n);
}

/* ---- type mapping ---- */

static bool has_word(const char *s, const char *w)
{
    return s && strstr(s, w) != NULL;
}

/* Is a string column binary? From the collation, else COLUMN_TYPE. */
static bool is_binary(uint32_t charset, const char *column_type, bool dflt)
{
    if (charset == TB_MYSQL_COLLATION_BINARY) return true;
    if (charset != 0) return false;
    if (column_type) {
        return has_word(column_type, "blob") || has_word(column_type, "binary");
    }
    return dflt;
}

static void set_names(tb_mytype_names *names, const char *src, const char *tgt)
{
    if (!names) return;
    snprintf(names->source, sizeof names->source, "%s", src);
    snprintf(names->target, sizeof names->target, "%s", tgt);
}

int tb_mytype_map(uint8_t mysql_type, uint16_t meta, bool is_unsigned,
                  uint32_t charset, const char *column_type, tb_column *out,
                  tb_mytype_names *names, tb_error *err)
{
    char src[TB_MYTYPE_NAME_MAX], tgt[TB_MYTYPE_NAME_MAX];
    const char *u;
    int n;

    if (has_word(column_type, "unsigned")) is_unsigned = true;
    u = is_unsigned ? " unsigned" : "";
    if (mysql_type == TB_MYSQL_TYPE_STRING) {
        /* The real type hides in the first metadata byte; when its 0x30
         * bits are not both set they carry length bits and the type is
         * a plain CHAR/BINARY. */
        uint8_t real = (uint8_t)(meta >> 8);
        if ((real | 0x30) == TB_MYSQL_TYPE_ENUM ||
            (real | 0x30) == TB_MYSQL_TYPE_SET)
            mysql_type = (uint8_t)(real | 0x30);
    }

    out->type_id = mysql_type;
    out->type_mod = meta;
    out->precision = 0;
    out->scale = 0;
    out->decimal_specials = false;
    switch (mysql_type) {
    case TB_MYSQL_TYPE_TINY:
        out->kind = TB_KIND_INT;
        snprintf(src, sizeof src, "tinyint%s", u);
        snprintf(tgt, sizeof tgt, "smallint");
        break;
    case TB_MYSQL_TYPE_SHORT:
        out->kind = TB_KIND_INT;
        snprintf(src, sizeof src, "smallint%s", u);
        snprintf(tgt, sizeof tgt, is_unsigned ? "integer" : "smallint");
        break;
    case TB_MYSQL_TYPE_INT24:
        out->kind = TB_KIND_INT;
        snprintf(src, sizeof src, "mediumint%s", u);
        snprintf(tgt, sizeof tgt, "integer");
        break;
    case TB_MYSQL_TYPE_LONG:
        out->kind = is_unsigned ? TB_KIND_LONG : TB_KIND_INT;
        snprintf(src, sizeof src, "int%s", u);
        snprintf(tgt, sizeof tgt, is_unsigned ? "bigint" : "integer");
        break;
    case TB_MYSQL_TYPE_LONGLONG:
        snprintf(src, sizeof src, "bigint%s", u);
        if (is_unsigned) { /* 0 .. 2^64-1 does not fit a long */
            out->kind = TB_KIND_DECIMAL;
            out->precision = 20;
            snprintf(tgt, sizeof tgt, "numeric(20,0)");
        } else {
            out->kind = TB_KIND_LONG;
            snprintf(tgt, sizeof tgt, "bigint");
        }
        break;
    case TB_MYSQL_TYPE_NEWDECIMAL: {
        int p = meta >> 8, s = meta & 0xff;
        if (p < 1 || p > 65 || s > 30 || s > p)
            return tb_error_set(err, TB_ERR_DECODE,
                                "decimal metadata precision %d scale %d", p, s);
        out->kind = TB_KIND_DECIMAL;
        out->precision = p;
        out->scale = s;
        /* UNSIGNED only forbids negatives; the digits are the same */
        snprintf(src, sizeof src, "decimal(%d,%d)%s", p, s, u);
        snprintf(tgt, sizeof tgt, "numeric(%d,%d)", p, s);
        break;
    }
    case TB_MYSQL_TYPE_FLOAT:
        out->kind = TB_KIND_FLOAT;
        snprintf(src, sizeof src, "float%s", u);
        snprintf(tgt, sizeof tgt, "real");
        break;
    case TB_MYSQL_TYPE_DOUBLE:
        out->kind = TB_KIND_DOUBLE;
        snprintf(src, sizeof src, "double%s", u);
        snprintf(tgt, sizeof tgt, "double precision");
        break;
    case TB_MYSQL_TYPE_BIT:
        n = (meta >> 8) * 8 + (meta & 0xff);
        if (n < 1 || n > 64)
            return tb_error_set(err, TB_ERR_DECODE, "bit metadata %u", meta);
        out->kind = TB_KIND_BITS;
        out->precision = n;
        snprintf(src, sizeof src, "bit(%d)", n);
        snprintf(tgt, sizeof tgt, "bit(%d)", n);
        break;
    case TB_MYSQL_TYPE_ENUM:
        out->kind = TB_KIND_STRING;
        snprintf(src, sizeof src, "enum");
        snprintf(tgt, sizeof tgt, "text");
        break;
    case TB_MYSQL_TYPE_SET:
        out->kind = TB_KIND_SET;
        snprintf(src, sizeof src, "set");
        snprintf(tgt, sizeof tgt, "text[]");
        break;
    case TB_MYSQL_TYPE_STRING:
    case TB_MYSQL_TYPE_VARCHAR:
    case TB_MYSQL_TYPE_VAR_STRING: {
        bool fixed = mysql_type == TB_MYSQL_TYPE_STRING;
        if (is_binary(charset, column_type, false)) {
            out->kind = TB_KIND_BYTES;
            snprintf(src, sizeof src, fixed ? "binary" : "varbinary");
            snprintf(tgt, sizeof tgt, "bytea");
        } else {
            out->kind = TB_KIND_STRING;
            snprintf(src, sizeof src, fixed ? "char" : "varchar");
            snprintf(tgt, sizeof tgt, "text");
        }
        break;
    }
    case TB_MYSQL_TYPE_TINY_BLOB:
    case TB_MYSQL_TYPE_MEDIUM_BLOB:
    case TB_MYSQL_TYPE_LONG_BLOB:
    case TB_MYSQL_TYPE_BLOB: {
        /* The binlog writes every BLOB/TEXT as type BLOB with the length
         * prefix size (1..4) as metadata; MariaDB's JSON is a LONGTEXT. */
        static const char *const size[] = {"tiny", "", "medium", "long"};
        int pack = mysql_type == TB_MYSQL_TYPE_BLOB ? meta : 0;
        if (mysql_type == TB_MYSQL_TYPE_TINY_BLOB) pack = 1;
        if (mysql_type == TB_MYSQL_TYPE_MEDIUM_BLOB) pack = 3;
        if (mysql_type == TB_MYSQL_TYPE_LONG_BLOB) pack = 4;
        if (pack < 1 || pack > 4)
            return tb_error_set(err, TB_ERR_DECODE, "blob metadata %u", meta);
        if (is_binary(charset, column_type, true)) {
            out->kind = TB_KIND_BYTES;
            snprintf(src, sizeof src, "%sblob", size[pack - 1]);
            snprintf(tgt, sizeof tgt, "bytea");
        } else {
            out->kind = TB_KIND_STRING;
            snprintf(src, sizeof src, "%stext", size[pack - 1]);
            snprintf(tgt, sizeof tgt, "text");
        }
        break;
    }
    case TB_MYSQL_TYPE_DATE:
    case TB_MYSQL_TYPE_NEWDATE:
        out->kind = TB_KIND_DATE;
        snprintf(src, sizeof src, "date");
        snprintf(tgt, sizeof tgt, "date");
        break;
    case TB_MYSQL_TYPE_DATETIME:
    case TB_MYSQL_TYPE_DATETIME2:
    case TB_MYSQL_TYPE_TIMESTAMP:
    case TB_MYSQL_TYPE_TIMESTAMP2:
    case TB_MYSQL_TYPE_TIME:
    case TB_MYSQL_TYPE_TIME2: {
        /* Only the v2 encodings (5.6+) carry fractional digits in meta. */
        bool v2 = mysql_type == TB_MYSQL_TYPE_DATETIME2 ||
                  mysql_type == TB_MYSQL_TYPE_TIMESTAMP2 ||
                  mysql_type == TB_MYSQL_TYPE_TIME2;
        int fsp = v2 ? meta : 0;
        const char *name;
        if (fsp > 6)
            return tb_error_set(err, TB_ERR_DECODE, "temporal fsp %d", fsp);
        out->scale = fsp;
        if (mysql_type == TB_MYSQL_TYPE_DATETIME ||
            mysql_type == TB_MYSQL_TYPE_DATETIME2) {
            out->kind = TB_KIND_LOCAL_TIMESTAMP_MICROS; /* wall clock */
            name = "datetime";
            snprintf(tgt, sizeof tgt, "timestamp(%d)", fsp);
        } else if (mysql_type == TB_MYSQL_TYPE_TIMESTAMP ||
                   mysql_type == TB_MYSQL_TYPE_TIMESTAMP2) {
            out->kind = TB_KIND_TIMESTAMP_MICROS; /* UTC instant */
            name = "timestamp";
            snprintf(tgt, sizeof tgt, "timestamptz(%d)", fsp);
        } else {
            /* TIME is a signed duration up to +-838:59:59, not a time of
             * day, so PostgreSQL's time cannot hold it. */
            out->kind = TB_KIND_DURATION_MICROS;
            name = "time";
            snprintf(tgt, sizeof tgt, "interval");
        }
        if (fsp)
            snprintf(src, sizeof src, "%s(%d)", name, fsp);
        else
            snprintf(src, sizeof src, "%s", name);
        break;
    }
    case TB_MYSQL_TYPE_YEAR:
        out->kind = TB_KIND_INT;
        snprintf(src, sizeof src, "year");
        snprintf(tgt, sizeof tgt, "smallint");
        break;
    case TB_MYSQL_TYPE_JSON:
        out->kind = TB_KIND_JSON;
        snprintf(src, sizeof src, "json");
        snprintf(tgt, sizeof tgt, "jsonb");
        break;
    case TB_MYSQL_TYPE_GEOMETRY:
        out->kind = TB_KIND_BYTES; /* the binlog carries SRID + WKB */
        snprintf(src, sizeof src, "geometry");
        snprintf(tgt, sizeof tgt, "bytea");
        break;
    default:
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "MySQL column type %u (metadata %u)", mysql_type,
                            meta);
    }
    set_names(names, src, tgt);
    return 0;
}
