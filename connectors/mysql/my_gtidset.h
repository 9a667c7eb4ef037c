/*
 * my_gtidset.h - an Oracle MySQL GTID set (gtid_executed) as a value.
 *
 * A set maps source UUIDs (SIDs) to sorted, disjoint, non-adjacent
 * intervals of transaction numbers (GNOs, 1 .. 2^63-2). It is read from and
 * written to the text form MySQL prints ("uuid:1-5:7,uuid2:1-100"), grown
 * one transaction at a time as the binlog stream reads GTID events, and
 * encoded into the binary form COM_BINLOG_DUMP_GTID carries.
 *
 * Ownership: a set owns its arrays (heap); init it zeroed or with
 * tb_mygtidset_init(), release it with tb_mygtidset_free(). Functions that
 * fail leave the set valid (possibly partly changed on parse).
 *
 * MySQL 8.4's tagged GTIDs ("uuid:tag:1-5") are refused as unsupported.
 */
#ifndef TB_MY_GTIDSET_H
#define TB_MY_GTIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_error.h"

/* Largest transaction number MySQL hands out (GNO_END - 1). */
#define TB_MYGTID_GNO_MAX INT64_C(0x7ffffffffffffffe)

/* A half-open interval [start, end) of transaction numbers, as in MySQL's
 * binary encoding (the text form prints start-(end-1)). */
typedef struct tb_mygtid_iv {
    int64_t start; /* first GNO in the interval, >= 1 */
    int64_t end;   /* one past the last GNO */
} tb_mygtid_iv;

/* The transactions of one source server. */
typedef struct tb_mygtid_sid {
    uint8_t uuid[16];  /* server UUID, bytes in text order */
    tb_mygtid_iv *ivs; /* sorted, disjoint, never touching; owned */
    int nivs;          /* intervals used */
    int capivs;        /* intervals allocated */
} tb_mygtid_sid;

/* A GTID set. Zero-initialized is the empty set. */
typedef struct tb_mygtidset {
    tb_mygtid_sid *sids; /* sorted by uuid (memcmp), none empty; owned */
    int nsids;           /* SIDs used */
    int capsids;         /* SIDs allocated */
} tb_mygtidset;

/* Make s the empty set (no allocation). */
void tb_mygtidset_init(tb_mygtidset *s);

/* Release what s owns; s is the empty set afterwards. */
void tb_mygtidset_free(tb_mygtidset *s);

/*
 * Replace s by the set text names: comma-separated "uuid:iv[:iv...]" where
 * iv is "N" or "N-M" (N <= M, 1 <= N, M <= TB_MYGTID_GNO_MAX); uuids in
 * either case, with or without dashes; whitespace (newlines included)
 * around any token and empty entries between commas are ignored, a SID
 * named twice is merged. "" is the empty set. 0 / -1 (TB_ERR_CONFIG naming
 * the offending text, TB_ERR_UNSUPPORTED for tagged GTIDs, TB_ERR_NOMEM);
 * on failure s is the empty set.
 */
int tb_mygtidset_parse(tb_mygtidset *s, const char *text, tb_error *err);

/* Add transaction sid:gno to s, merging intervals. 0 / -1 (TB_ERR_DECODE
 * for a gno outside 1..TB_MYGTID_GNO_MAX, TB_ERR_NOMEM). */
int tb_mygtidset_add(tb_mygtidset *s, const uint8_t sid[16], int64_t gno,
                     tb_error *err);

/* Is sid:gno in s? */
bool tb_mygtidset_contains(const tb_mygtidset *s, const uint8_t sid[16],
                           int64_t gno);

/* Is every transaction of a also in b? */
bool tb_mygtidset_subset(const tb_mygtidset *a, const tb_mygtidset *b);

/* Do a and b hold the same transactions? */
bool tb_mygtidset_equal(const tb_mygtidset *a, const tb_mygtidset *b);

/*
 * Write the canonical text of s into out (cap bytes, NUL-terminated when
 * cap > 0): SIDs in uuid order, lower-case dashed uuids, intervals in
 * order, "N" for a single transaction, "," between SIDs (no spaces).
 * Returns the length the whole text needs (snprintf-style): the text was
 * cut when the result is >= cap.
 */
size_t tb_mygtidset_format(const tb_mygtidset *s, char *out, size_t cap);

/*
 * Append the binary encoding of s to out, as COM_BINLOG_DUMP_GTID carries
 * it: u64 n_sids, then per SID the 16-byte uuid, u64 n_intervals and per
 * interval u64 start, u64 end (exclusive); all little-endian. 0 / -1 (out
 * of memory).
 */
int tb_mygtidset_encode(const tb_mygtidset *s, tb_buf *out);

#endif
