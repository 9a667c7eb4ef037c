/*
 * my_types.h - MySQL/MariaDB column type mapping and character sets.
 *
 * Maps a column as the binlog TABLE_MAP event describes it (type byte,
 * metadata, signedness, collation) onto a tb_kind and the PostgreSQL
 * warehouse type, and converts column text from its MySQL character set to
 * UTF-8. docs/types.md is the reference for every mapping decided here.
 */
#ifndef TB_MY_TYPES_H
#define TB_MY_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_error.h"
#include "tb_event.h"

/* Column type bytes of the binlog (enum_field_types of MySQL/MariaDB). Our
 * own names so this header does not need mysql.h. */
enum {
    TB_MYSQL_TYPE_DECIMAL = 0, /* pre-5.0 decimal: not supported */
    TB_MYSQL_TYPE_TINY = 1,
    TB_MYSQL_TYPE_SHORT = 2,
    TB_MYSQL_TYPE_LONG = 3,
    TB_MYSQL_TYPE_FLOAT = 4,
    TB_MYSQL_TYPE_DOUBLE = 5,
    TB_MYSQL_TYPE_NULL = 6,
    TB_MYSQL_TYPE_TIMESTAMP = 7,
    TB_MYSQL_TYPE_LONGLONG = 8,
    TB_MYSQL_TYPE_INT24 = 9,
    TB_MYSQL_TYPE_DATE = 10,
    TB_MYSQL_TYPE_TIME = 11,
    TB_MYSQL_TYPE_DATETIME = 12,
    TB_MYSQL_TYPE_YEAR = 13,
    TB_MYSQL_TYPE_NEWDATE = 14,
    TB_MYSQL_TYPE_VARCHAR = 15,
    TB_MYSQL_TYPE_BIT = 16,
    TB_MYSQL_TYPE_TIMESTAMP2 = 17,
    TB_MYSQL_TYPE_DATETIME2 = 18,
    TB_MYSQL_TYPE_TIME2 = 19,
    TB_MYSQL_TYPE_JSON = 245,
    TB_MYSQL_TYPE_NEWDECIMAL = 246,
    TB_MYSQL_TYPE_ENUM = 247,
    TB_MYSQL_TYPE_SET = 248,
    TB_MYSQL_TYPE_TINY_BLOB = 249,
    TB_MYSQL_TYPE_MEDIUM_BLOB = 250,
    TB_MYSQL_TYPE_LONG_BLOB = 251,
    TB_MYSQL_TYPE_BLOB = 252,
    TB_MYSQL_TYPE_VAR_STRING = 253,
    TB_MYSQL_TYPE_STRING = 254,
    TB_MYSQL_TYPE_GEOMETRY = 255
};

/* The collation id of binary strings (BINARY, VARBINARY, BLOB). */
#define TB_MYSQL_COLLATION_BINARY 63

/* Room for a synthesized source or warehouse type name. */
#define TB_MYTYPE_NAME_MAX 64

/* Type names produced by tb_mytype_map. */
typedef struct tb_mytype_names {
    char source[TB_MYTYPE_NAME_MAX]; /* synthesized MySQL spelling, e.g.
                                        "bigint unsigned", "decimal(10,2)",
                                        "datetime(3)"; prefer COLUMN_TYPE
                                        from information_schema when known */
    char target[TB_MYTYPE_NAME_MAX]; /* PostgreSQL warehouse type */
} tb_mytype_names;

/*
 * Map one MySQL/MariaDB column.
 *
 *   mysql_type   TABLE_MAP type byte; for MYSQL_TYPE_STRING pass the real
 *                type (ENUM, SET or STRING) or leave it STRING with the
 *                metadata untouched: the real type is then read from meta
 *   meta         TABLE_MAP metadata as a 16-bit number: 1-byte metadata as
 *                is; NEWDECIMAL (precision << 8) | scale; STRING/ENUM/SET
 *                (real_type << 8) | length byte, as the server writes the two
 *                bytes; VARCHAR/VAR_STRING the little-endian max byte length;
 *                BIT (bytes << 8) | bits, i.e. little-endian as written
 *   is_unsigned  from the optional SIGNEDNESS metadata; also true when
 *                column_type says "unsigned"
 *   charset      column collation id (optional metadata or
 *                information_schema), 0 when unknown
 *   column_type  information_schema COLUMN_TYPE ("int(10) unsigned",
 *                "longtext") when known, else NULL; breaks ties charset
 *                cannot (TEXT vs BLOB with unknown collation)
 *
 * Fills out->kind, precision, scale, decimal_specials (false), type_id (the
 * type byte used) and type_mod (meta); leaves the other fields alone.
 * Fills names (may be NULL). Returns 0, or -1 with TB_ERR_UNSUPPORTED for
 * the NULL type, pre-5.0 DECIMAL and unknown type bytes, TB_ERR_DECODE for
 * metadata out of range (decimal precision > 65, bit length > 64).
 */
int tb_mytype_map(uint8_t mysql_type, uint16_t meta, bool is_unsigned,
                  uint32_t charset, const char *column_type, tb_column *out,
                  tb_mytype_names *names, tb_error *err);

/*
 * iconv name of the character set of a MySQL/MariaDB collation id, e.g.
 * 8 (latin1_swedish_ci) -> "CP1252" (MySQL's latin1 is Windows-1252), 45
 * and 255 -> "UTF-8", 63 (binary) -> "BINARY". NULL for an unknown id or a
 * character set iconv lacks (keybcs2). Static string.
 */
const char *tb_mytype_charset_name(uint32_t collation_id);

/* MySQL's own name of that character set ("latin1", "utf8mb4"), or NULL. */
const char *tb_mytype_charset_mysql_name(uint32_t collation_id);

/*
 * Convert n bytes of column text in the character set of collation_id to
 * UTF-8, NUL-terminated, allocated in arena; *out / *outlen receive it.
 * UTF-8, ASCII and binary are copied through unchanged; latin1 is decoded
 * by table (MySQL's cp1252 variant, whose 5 unassigned bytes map to C1
 * controls as MySQL does); every other set goes through iconv (opened per
 * call: fine for the rare non-Unicode column, not for a hot path).
 * Returns 0, or -1 with TB_ERR_UNSUPPORTED (unknown collation), TB_ERR_DECODE
 * (invalid byte sequence), TB_ERR_NOMEM.
 */
int tb_mytype_to_utf8(const char *in, size_t n, uint32_t collation_id,
                      tb_arena *arena, const char **out, size_t *outlen,
                      tb_error *err);

#endif
