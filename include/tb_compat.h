/*
 * tb_compat.h - Avro schema identity and compatibility.
 *
 * Two concepts the schema registry is built on, both working on the original
 * schema JSON (jansson json_t), never on avro-c's parsed schemas (avro-c
 * drops logicalType, precision, scale and defaults, so it cannot tell a
 * decimal(12,2) from a decimal(12,3)):
 *
 *   - canonical form and fingerprint (src/avro_canonical.c): the Avro spec's
 *     Parsing Canonical Form, optionally extended with the attributes that
 *     matter to tributary, and its 64-bit Rabin fingerprint (CRC-64-AVRO);
 *   - compatibility (src/compat.c): the Avro spec's schema resolution rules,
 *     checked between a writer and a reader schema, and the seven
 *     Confluent-style compatibility modes built on top of them.
 */
#ifndef TB_COMPAT_H
#define TB_COMPAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_error.h"

/* ---- canonical form (src/avro_canonical.c) ---- */

/* Which canonical form to produce. */
typedef enum tb_canon_kind {
    TB_CANON_PCF = 0, /* exactly the spec's Parsing Canonical Form */
    TB_CANON_TB = 1   /* PCF plus logicalType, precision, scale (decimal scale
                         0 written out when omitted), field "default" and
                         enum "default", appended in that order after the
                         spec's attributes; tributary's schema identity */
} tb_canon_kind;

/*
 * Append the canonical form of schema to out (no NUL counted in out->len, but
 * out->data stays NUL-terminated). Validates the schema on the way: names,
 * required attributes, references to undefined or duplicate named types.
 * Returns 0, or -1 with TB_ERR_SCHEMA (message names the JSON path) or
 * TB_ERR_NOMEM. The caller owns out.
 */
int tb_canon_form(const json_t *schema, tb_canon_kind kind, tb_buf *out,
                  tb_error *err);

/* The 64-bit Rabin fingerprint (CRC-64-AVRO) of len bytes, as in the spec. */
uint64_t tb_canon_fingerprint(const void *data, size_t len);

/* ---- compatibility (src/compat.c) ---- */

/* Compatibility modes, as in Confluent Schema Registry. */
typedef enum tb_compat_mode {
    TB_COMPAT_UNSET = -1, /* "not configured": use the next default up */
    TB_COMPAT_NONE = 0,   /* no check */
    TB_COMPAT_BACKWARD,   /* new schema reads data written with the latest */
    TB_COMPAT_FORWARD,    /* latest schema reads data written with the new */
    TB_COMPAT_FULL,       /* both, against the latest */
    TB_COMPAT_BACKWARD_TRANSITIVE, /* BACKWARD against every version */
    TB_COMPAT_FORWARD_TRANSITIVE,  /* FORWARD against every version */
    TB_COMPAT_FULL_TRANSITIVE,     /* FULL against every version */
    TB_COMPAT__COUNT
} tb_compat_mode;

/* Upper-case name of a mode, e.g. "BACKWARD_TRANSITIVE"; "UNSET" for
 * TB_COMPAT_UNSET. Static string. */
const char *tb_compat_mode_name(tb_compat_mode mode);

/*
 * Parse a mode name, case-insensitive ("backward", "FULL_TRANSITIVE"; '-' is
 * accepted for '_'). Returns 0, or -1 with TB_ERR_CONFIG and a message that
 * lists the valid names.
 */
int tb_compat_mode_parse(const char *name, tb_compat_mode *mode, tb_error *err);

/*
 * Check the Avro schema resolution rules: can data written with writer be
 * read with reader? Every problem found is appended to issues as
 * "field <path>: <reason>" and separated by "; "; *n_issues gets their count
 * (0 = compatible). reader_is_new only picks the wording of messages about
 * missing fields ("added without a default" vs "removed ..."); type problems
 * are worded writer -> reader. Returns 0 when the check ran (whatever the
 * verdict), -1 when a schema is invalid (TB_ERR_SCHEMA) or on TB_ERR_NOMEM.
 * Both schemas are borrowed.
 */
int tb_compat_check(const json_t *writer, const json_t *reader,
                    bool reader_is_new, tb_buf *issues, int *n_issues,
                    tb_error *err);

/*
 * Check new_schema against the existing versions of subject under mode.
 * old[i] is the schema of version old_versions[i], in ascending version
 * order (the last one is the latest); new_version is the version the new
 * schema would get (only used in the message). Returns 0 when compatible,
 * or -1 with TB_ERR_SCHEMA and a message naming the subject, the versions
 * and every offending field, e.g. "schema for subject s is not BACKWARD
 * compatible with version 2 (new schema would be version 3): field amount:
 * long -> string is not a promotion; field note: added without a default".
 * All arguments are borrowed.
 */
int tb_compat_check_mode(tb_compat_mode mode, const char *subject,
                         const json_t *new_schema, int new_version,
                         const json_t *const *old, const int *old_versions,
                         size_t n_old, tb_error *err);

#endif
