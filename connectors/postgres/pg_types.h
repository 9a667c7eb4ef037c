/*
 * pg_types.h - PostgreSQL type mapping and text value codec.
 *
 * Maps a PostgreSQL column type (OID, typmod, format_type text, pg_type
 * typtype) onto a tb_kind and the PostgreSQL warehouse type, and converts
 * values between PostgreSQL's text output format (what pgoutput sends and
 * what the input functions accept) and tb_value. docs/types.md is the
 * reference for every mapping decided here.
 *
 * All conversions are exact: temporal and decimal values never pass through
 * floating point, and doubles are printed with the shortest text that reads
 * back to the same bits.
 */
#ifndef TB_PG_TYPES_H
#define TB_PG_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_buf.h"
#include "tb_error.h"
#include "tb_event.h"

/* Room for a warehouse type name: format_type of a built-in type with its
 * typmod, or of a schema-qualified, quoted identifier with "[]". */
#define TB_PGTYPE_NAME_MAX 256

/* A few OIDs other modules name (values from PostgreSQL 15 pg_type.dat). */
#define TB_PGOID_BOOL        16
#define TB_PGOID_BYTEA       17
#define TB_PGOID_INT8        20
#define TB_PGOID_INT2        21
#define TB_PGOID_INT4        23
#define TB_PGOID_TEXT        25
#define TB_PGOID_OID         26
#define TB_PGOID_JSON        114
#define TB_PGOID_FLOAT4      700
#define TB_PGOID_FLOAT8      701
#define TB_PGOID_BPCHAR      1042
#define TB_PGOID_VARCHAR     1043
#define TB_PGOID_DATE        1082
#define TB_PGOID_TIME        1083
#define TB_PGOID_TIMESTAMP   1114
#define TB_PGOID_TIMESTAMPTZ 1184
#define TB_PGOID_INTERVAL    1186
#define TB_PGOID_TIMETZ      1266
#define TB_PGOID_BIT         1560
#define TB_PGOID_VARBIT      1562
#define TB_PGOID_NUMERIC     1700
#define TB_PGOID_UUID        2950
#define TB_PGOID_JSONB       3802

/*
 * Map one PostgreSQL column type.
 *
 *   oid          pg_attribute.atttypid (pgoutput Relation message type OID)
 *   typmod       atttypmod; for a domain pass the domain's typtypmod (a
 *                domain column's own atttypmod is -1)
 *   format_type  format_type(atttypid, atttypmod) as the server prints it,
 *                or NULL; used verbatim as the warehouse type of built-in
 *                types and their arrays, synthesized when NULL
 *   typtype      pg_type.typtype: 'b' base, 'd' domain, 'e' enum, 'c'
 *                composite, 'r' range, 'm' multirange, 'p' pseudo
 *   elem_or_base pg_type.typelem for an array type, the (fully resolved)
 *                typbasetype for a domain, else 0
 *
 * Fills out->kind, precision, scale, decimal_specials, type_id (= oid) and
 * type_mod (= typmod); leaves the other fields alone. Writes the PostgreSQL
 * warehouse type (NUL-terminated) into target[0..target_cap). Types the
 * warehouse would not know (enums, composites, user ranges, extension base
 * types) get "text", arrays of them "text[]", domains their base type.
 * Returns 0, or -1 with TB_ERR_UNSUPPORTED for pseudo-types and TB_ERR_USAGE
 * when target_cap is too small.
 */
int tb_pgtype_map(uint32_t oid, int32_t typmod, const char *format_type,
                  char typtype, uint32_t elem_or_base, tb_column *out,
                  char *target, size_t target_cap, tb_error *err);

/*
 * Canonical type name of a built-in OID as format_type(oid, typmod) prints
 * it, e.g. (1700, 786438) -> "numeric(12,2)", (1007, -1) -> "integer[]".
 * Writes into buf; returns 0, or -1 (TB_ERR_NOT_FOUND) for a non-built-in
 * OID, TB_ERR_USAGE when cap is too small.
 */
int tb_pgtype_format_type(uint32_t oid, int32_t typmod, char *buf, size_t cap,
                          tb_error *err);

/*
 * Parse one value in PostgreSQL text output format (DateStyle=ISO,
 * TimeZone=UTC, IntervalStyle=postgres, bytea_output=hex or escape,
 * extra_float_digits >= 1) into out according to col->kind:
 *   BOOLEAN 't'/'f'; INT/LONG decimal integers (range-checked); FLOAT/DOUBLE
 *   incl. NaN/Infinity/-Infinity (float4 parsed as float, not via double);
 *   DECIMAL text validated and kept (NaN/+-Infinity only with
 *   decimal_specials); BYTES from "\x<hex>" or escape format; DATE to days
 *   since 1970-01-01 (BC and +-infinity as INT32_MAX/MIN); TIME_MICROS up to
 *   24:00:00; TIMESTAMP/LOCAL_TIMESTAMP to microseconds since 1970 (BC,
 *   offsets, +-infinity as INT64_MAX/MIN); DURATION_MICROS "[-]H:MM:SS[.f]";
 *   BITS validated '0'/'1'; everything else copied as text.
 * text need not be NUL-terminated. Strings and bytes are copied into arena
 * (NUL-terminated, len set). out->state becomes TB_VALUE_SET. Returns 0, or
 * -1 with TB_ERR_DECODE on malformed or out-of-range text, TB_ERR_NOMEM.
 */
int tb_pgtype_parse_text(const tb_column *col, const char *text, size_t len,
                         tb_value *out, tb_arena *arena, tb_error *err);

/*
 * Append the PostgreSQL input-function text of v (kind col->kind) to out:
 * the inverse of tb_pgtype_parse_text, plus the kinds only MySQL produces
 * (DURATION_MICROS as "[-]HHH:MM:SS.ffffff" for interval, SET as a text[]
 * literal). No COPY or SQL quoting is applied: that is the loader's job.
 * v must be TB_VALUE_SET. Returns 0, or -1 with TB_ERR_NOMEM, or
 * TB_ERR_USAGE for an unset value or unknown kind.
 */
int tb_pgtype_format_text(const tb_column *col, const tb_value *v, tb_buf *out,
                          tb_error *err);

#endif
