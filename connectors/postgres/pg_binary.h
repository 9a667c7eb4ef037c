/*
 * pg_binary.h - PostgreSQL binary format codec (send/recv representation).
 *
 * Converts one value between PostgreSQL's binary wire representation (what
 * the type's send function writes and its recv function reads: binary COPY,
 * binary result columns and parameters) and tb_value, and frames COPY
 * BINARY streams. The decoder gives exactly the tb_value that
 * tb_pgtype_parse_text (pg_types.h) gives for the text of the same value,
 * so a snapshot may switch between the two formats without a visible
 * difference. Nothing here touches a connection: it works on bytes only.
 *
 * All integers on the wire are big-endian. COPY BINARY layout: the 11-byte
 * signature "PGCOPY\n\377\r\n\0", int32 flags, int32 header-extension
 * length and that many bytes; then per tuple an int16 field count and per
 * field an int32 length (-1 for NULL) and the bytes; the trailer is the
 * int16 -1.
 */
#ifndef TB_PG_BINARY_H
#define TB_PG_BINARY_H

#include <stdbool.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_buf.h"
#include "tb_error.h"
#include "tb_event.h"

/*
 * True when a source column of this type can be read from binary COPY
 * straight into its tb_value: col->type_id is the PostgreSQL type OID,
 * col->kind its kind from tb_pgtype_map. Supported: bool, int2/4/8, oid,
 * xid, cid, xid8, float4/8, numeric (DECIMAL or unconstrained STRING),
 * text, varchar, bpchar, name, bytea, date, time, timestamp, timestamptz,
 * uuid, json, jsonb, bit, varbit. For any other column (arrays, enums,
 * interval, inet, ranges, domains, ...) the caller selects col::text
 * instead: the binary form of text is the text output itself, so that field
 * is then read with tb_pgtype_parse_text.
 */
bool tb_pgbin_decodable(const tb_column *col);

/*
 * Decode one non-NULL field of len bytes at p (the caller handles NULL,
 * length -1) into *v, which becomes TB_VALUE_SET. Strings, bytes and
 * decimal text are written into arena a, NUL-terminated as tb_event.h
 * promises (p itself is never modified and need not outlive the call).
 * Returns 0, or -1 with TB_ERR_SOURCE naming the column on malformed or
 * out-of-range input (or a column tb_pgbin_decodable refuses), TB_ERR_NOMEM
 * when the arena is exhausted.
 */
int tb_pgbin_decode(const tb_column *col, const char *p, uint32_t len,
                    tb_arena *a, tb_value *v, tb_error *err);

/*
 * True when a value of kind k can be written in binary for a target column
 * of type target_oid:
 *   BOOLEAN -> bool; INT, LONG -> int2, int4, int8, numeric;
 *   FLOAT -> float4, float8; DOUBLE -> float8; DECIMAL -> numeric (also
 *   MySQL's BIGINT UNSIGNED, a DECIMAL into numeric(20,0));
 *   STRING -> text, varchar, bpchar, name, json, jsonb, numeric (the text
 *   of PostgreSQL's unconstrained numeric); JSON -> json, jsonb, text;
 *   UUID -> uuid, text; BYTES -> bytea; DATE -> date; TIME_MICROS -> time;
 *   TIMESTAMP_MICROS -> timestamptz; LOCAL_TIMESTAMP_MICROS -> timestamp;
 *   DURATION_MICROS -> interval; BITS -> bit, varbit; SET -> text[].
 * COPY BINARY cannot mix formats: a loader uses it for a table only when
 * every column is encodable.
 */
bool tb_pgbin_encodable(tb_kind k, uint32_t target_oid);

/*
 * Append one COPY BINARY field for v (kind k) going into a column of type
 * target_oid: int32 length and the recv representation, or int32 -1 when
 * v is NULL. Values are checked (int2 range, decimal and uuid text, bit
 * digits); the server checks the rest (typmods, JSON syntax). Returns 0, or
 * -1 with TB_ERR_USAGE for an UNCHANGED value or a pair tb_pgbin_encodable
 * refuses, TB_ERR_TARGET for a value the target type cannot hold,
 * TB_ERR_NOMEM.
 */
int tb_pgbin_encode(tb_kind k, uint32_t target_oid, const tb_value *v,
                    tb_buf *out, tb_error *err);

/* Append the COPY BINARY header (signature, flags 0, no extension). -1 on
 * OOM (buffer unchanged). */
int tb_pgbin_put_header(tb_buf *out);

/* Append the int16 field count that starts a tuple. -1 on OOM. */
int tb_pgbin_put_tuple(tb_buf *out, int nfields);

/* Append the COPY BINARY trailer (int16 -1). -1 on OOM. */
int tb_pgbin_put_trailer(tb_buf *out);

/*
 * Check and skip the COPY BINARY header at *p (the start of the first chunk
 * PQgetCopyData returns), advancing *p past the header extension. Returns
 * 0, or -1 with TB_ERR_SOURCE for a bad signature, a truncated header, or
 * an unknown critical flag (e.g. OIDs included).
 */
int tb_pgbin_skip_header(const char **p, const char *end, tb_error *err);

/*
 * Read the int16 field count that starts a tuple at *p and advance past
 * it. Returns the count (>= 0), -1 for the trailer, or -2 with
 * TB_ERR_SOURCE for truncated or malformed data.
 */
int tb_pgbin_tuple_start(const char **p, const char *end, tb_error *err);

/*
 * Read one field at *p: sets *fp to its bytes and *flen to its length (-1
 * for NULL, *fp then NULL) and advances *p past it. Returns 0, or -1 with
 * TB_ERR_SOURCE when the field runs past end.
 */
int tb_pgbin_next_field(const char **p, const char *end, const char **fp,
                        int32_t *flen, tb_error *err);

#endif
