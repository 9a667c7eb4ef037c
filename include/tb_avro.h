/*
 * tb_avro.h - Avro schemas and the binary codec for change events.
 *
 * A tb_table shape gives two Avro schemas (docs/avro.md): the row record
 * "<ns>.Value" and the Debezium-style envelope "<ns>.Envelope" with
 * ns = "<pipeline>.<schema>.<table>". Changes are encoded and decoded by a
 * hand-written binary codec driven directly by the tb_table (no avro-c on the
 * hot path), optionally resolving bytes written under an older shape into a
 * newer one (tb_avro_resolver), and framed in the Confluent wire format.
 *
 * Ownership: schema functions return a new jansson reference the caller
 * json_decref()s. Encoders append to a caller-owned tb_buf. Decoders copy
 * every string, byte string and decimal text into a caller-owned tb_arena
 * (NUL-terminated, as tb_value promises); nothing points into the input.
 */
#ifndef TB_AVRO_H
#define TB_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tb_arena.h"
#include "tb_buf.h"
#include "tb_error.h"
#include "tb_event.h"

/* Largest decimal we convert, in digits; PostgreSQL's numeric(1000) fits. */
#define TB_AVRO_DECIMAL_MAX_DIGITS 1000
/* Bytes of the two's complement form of a TB_AVRO_DECIMAL_MAX_DIGITS value
 * (ceil(1000 * log2(10) / 8) + 1 sign byte, rounded up). */
#define TB_AVRO_DECIMAL_MAX_BYTES 420

/* Confluent wire format: magic byte 0, 4-byte big-endian schema id. */
#define TB_AVRO_FRAME_MAGIC  0x00
#define TB_AVRO_FRAME_HEADER 5

/* ---- names ---------------------------------------------------------- */

/* Append the Avro-safe form of name to out: every byte outside
 * [A-Za-z0-9_] becomes '_', a leading digit gets a '_' prefix, an empty or
 * NULL name becomes "_". Returns 0, or -1 (TB_ERR_NOMEM). */
int tb_avro_name_append(const char *name, tb_buf *out, tb_error *err);

/* Append the namespace "<pipeline>.<schema>.<table>" of t to out, each part
 * sanitised; pipeline NULL means "tributary", schema NULL falls back to
 * t->db and is left out when both are NULL. Returns 0 or -1. */
int tb_avro_namespace_append(const tb_table *t, const char *pipeline,
                             tb_buf *out, tb_error *err);

/* ---- schemas -------------------------------------------------------- */

/* Build the row record "<ns>.Value" of t: one field per column, logical
 * types per tb_kind, nullable columns as ["null", T] with default null.
 * Returns a new reference (caller json_decref()s) or NULL with err set
 * (TB_ERR_SCHEMA for a shape Avro cannot express, e.g. two columns with the
 * same sanitised name, a decimal without precision; TB_ERR_NOMEM). */
json_t *tb_avro_value_schema(const tb_table *t, const char *pipeline,
                             tb_error *err);

/* Build the envelope record "<ns>.Envelope" of t (before, after, source, op,
 * ts_ms, unchanged, before_unchanged). Same ownership and errors as
 * tb_avro_value_schema. */
json_t *tb_avro_envelope_schema(const tb_table *t, const char *pipeline,
                                tb_error *err);

/* ---- codec ---------------------------------------------------------- */

/* Append the Avro binary encoding of c (under tb_avro_envelope_schema of
 * c->table) to out. Returns 0, or -1 with err set: TB_ERR_SCHEMA when a
 * value does not fit its column (NULL in a NOT NULL column, INT out of
 * range, a decimal with more digits than the column allows, a special
 * decimal in a column without decimal_specials), TB_ERR_DECODE for malformed
 * decimal text, TB_ERR_NOMEM. On failure out->len is restored. */
int tb_avro_encode_change(const tb_change *c, tb_buf *out, tb_error *err);

/* Decode data[0..len) written by tb_avro_encode_change for table t into
 * out. before_storage and after_storage must each hold t->ncols values;
 * out->before / out->after point into them (or are NULL). Strings, bytes,
 * decimal text and source strings are copied into arena and stay valid until
 * it is reset. Returns 0, or -1 with err set: TB_ERR_DECODE (with the byte
 * offset) for truncated, trailing or corrupt input, TB_ERR_NOMEM. Never reads
 * outside data[0..len). */
int tb_avro_decode_change(const tb_table *t, const uint8_t *data, size_t len,
                          tb_change *out, tb_value *before_storage,
                          tb_value *after_storage, tb_arena *arena,
                          tb_error *err);

/* A compiled plan to read changes written under shape `writer` as shape
 * `reader` (Avro schema resolution, fields matched by column name). */
typedef struct tb_avro_resolver tb_avro_resolver;

/* Compile the plan. Columns only in reader must be nullable (they decode as
 * NULL); columns only in writer are skipped; a kind may change only along
 * Avro's promotions (int->long->float->double, string<->bytes, a logical
 * type to its plain base type, decimal to a larger scale/precision). Both
 * tables must outlive the resolver. Returns 0 and *out (free with
 * tb_avro_resolver_free), or -1: TB_ERR_SCHEMA naming the column, or
 * TB_ERR_NOMEM. */
int tb_avro_resolver_new(const tb_table *writer, const tb_table *reader,
                         tb_avro_resolver **out, tb_error *err);

/* Free a resolver; NULL is fine. */
void tb_avro_resolver_free(tb_avro_resolver *r);

/* Like tb_avro_decode_change, but data was written under r's writer shape
 * and out is in r's reader shape (out->table is the reader table; the
 * storages hold reader->ncols values). Adds TB_ERR_SCHEMA when a value
 * cannot be represented in the reader (NULL for a reader NOT NULL column, a
 * NaN decimal for a reader column without decimal_specials). */
int tb_avro_decode_change_resolved(const tb_avro_resolver *r,
                                   const uint8_t *data, size_t len,
                                   tb_change *out, tb_value *before_storage,
                                   tb_value *after_storage, tb_arena *arena,
                                   tb_error *err);

/* ---- decimals ------------------------------------------------------- */

/* Convert decimal text ("-12.5", "0", "42.") to the big-endian two's
 * complement bytes of its unscaled value at `scale` (fraction padded with
 * zeros). A nonzero fraction digit beyond the scale (it would need
 * rounding), more digits than precision (when precision > 0) or more than
 * TB_AVRO_DECIMAL_MAX_DIGITS are TB_ERR_SCHEMA; zeros beyond the scale are
 * exact and accepted; anything but [+-]digits[.digits] is TB_ERR_DECODE. Writes
 * the minimal form (at least one byte) to out[0..cap) and its size to
 * *outlen. Exact integer arithmetic, no floating point. */
int tb_avro_decimal_to_bytes(const char *text, size_t len, int precision,
                             int scale, uint8_t *out, size_t cap,
                             size_t *outlen, tb_error *err);

/* Convert big-endian two's complement bytes (1..TB_AVRO_DECIMAL_MAX_BYTES)
 * at `scale` back to text with exactly `scale` fraction digits ("-0.50",
 * "12"). The text is NUL-terminated in arena; *text and *textlen receive
 * it. Returns 0, or -1: TB_ERR_DECODE (empty or too long), TB_ERR_NOMEM. */
int tb_avro_decimal_from_bytes(const uint8_t *b, size_t n, int scale,
                               tb_arena *arena, const char **text,
                               uint32_t *textlen, tb_error *err);

/* ---- Confluent framing ---------------------------------------------- */

/* Append 0x00, schema_id as 4 bytes big-endian, then body[0..len) to out.
 * Returns 0, or -1: TB_ERR_INTERNAL for a negative id, TB_ERR_NOMEM. Pass
 * body NULL / len 0 to write only the header and encode the body after it. */
int tb_avro_frame(int32_t schema_id, const uint8_t *body, size_t len,
                  tb_buf *out, tb_error *err);

/* Parse a framed message: *schema_id, and *body / *body_len pointing into
 * msg. Returns 0, or -1 with TB_ERR_DECODE for a message shorter than 5
 * bytes, a magic byte other than 0 or a negative schema id. */
int tb_avro_unframe(const uint8_t *msg, size_t len, int32_t *schema_id,
                    const uint8_t **body, size_t *body_len, tb_error *err);

#endif
