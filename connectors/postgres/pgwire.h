/*
 * pgwire.h - PostgreSQL streaming-replication framing on byte buffers.
 *
 * After START_REPLICATION the server sends CopyData messages whose payload
 * starts with 'w' (XLogData) or 'k' (primary keepalive); the client answers
 * with 'r' (standby status update). This module parses and builds those
 * payloads, converts LSNs between text ("16/B374D848") and uint64, and
 * converts PostgreSQL timestamps (microseconds since 2000-01-01) to and from
 * Unix microseconds. It never talks to libpq, so it is testable on bytes.
 *
 * It also provides the bounds-checked big-endian reader that pgoutput.c
 * builds on: every read either succeeds or fills a TB_ERR_DECODE error that
 * names the message and the offset, and never touches a byte past the end.
 */
#ifndef TB_PGWIRE_H
#define TB_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

/* Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
#define TB_PGWIRE_EPOCH_OFFSET_US INT64_C(946684800000000)

/* Bytes of a standby status update payload: 'r' + 4 x Int64 + Byte1. */
#define TB_PGWIRE_STATUS_LEN 34

/* Room for the longest LSN text "FFFFFFFF/FFFFFFFF" plus its NUL. */
#define TB_PGWIRE_LSN_BUFSZ 18

/*
 * Bounds-checked big-endian reader over one message. Set it up with
 * tb_pgwire_reader_init(); on failure the read functions fill err with
 * "<what>: truncated at offset N (need K bytes, M left)".
 */
typedef struct tb_pgwire_reader {
    const uint8_t *p; /* message bytes; not owned */
    size_t len;       /* total bytes of the message */
    size_t off;       /* next byte to read */
    const char *what; /* message name for error text, e.g. "pgoutput Begin" */
    tb_error *err;    /* where failures are reported; may be NULL */
} tb_pgwire_reader;

/* Start reading p[0..len) at offset 0; what names the message in errors. */
void tb_pgwire_reader_init(tb_pgwire_reader *r, const uint8_t *p, size_t len,
                           const char *what, tb_error *err);

/* Read one big-endian integer of 1, 2, 4 or 8 bytes; -1 when truncated. */
int tb_pgwire_read_u8(tb_pgwire_reader *r, uint8_t *v);
int tb_pgwire_read_u16(tb_pgwire_reader *r, uint16_t *v);
int tb_pgwire_read_u32(tb_pgwire_reader *r, uint32_t *v);
int tb_pgwire_read_u64(tb_pgwire_reader *r, uint64_t *v);
int tb_pgwire_read_i64(tb_pgwire_reader *r, int64_t *v);

/* Point *v at the next n bytes (inside the message, not copied); -1 when
 * fewer than n bytes remain. */
int tb_pgwire_read_bytes(tb_pgwire_reader *r, size_t n, const uint8_t **v);

/* Read a NUL-terminated string: *s points into the message (so it is a valid
 * C string as long as the message is), *n is its length without the NUL.
 * -1 when no NUL occurs before the end. */
int tb_pgwire_read_cstr(tb_pgwire_reader *r, const char **s, size_t *n);

/* Fail with TB_ERR_DECODE unless every byte was consumed. */
int tb_pgwire_read_end(tb_pgwire_reader *r);

/* Kind of a server CopyData payload in the replication stream. */
typedef enum tb_pgwire_kind {
    TB_PGWIRE_XLOGDATA = 'w', /* WAL data (for pgoutput: one message) */
    TB_PGWIRE_KEEPALIVE = 'k' /* primary keepalive */
} tb_pgwire_kind;

/* One parsed server CopyData payload. */
typedef struct tb_pgwire_msg {
    tb_pgwire_kind kind; /* which member of u is valid */
    union {
        struct {
            uint64_t wal_start;  /* LSN of the first byte of data */
            uint64_t wal_end;    /* current end of WAL on the server */
            int64_t send_time;   /* server clock, PostgreSQL epoch micros */
            const uint8_t *data; /* payload, points into the input buffer */
            size_t len;          /* bytes of data */
        } xlog;
        struct {
            uint64_t wal_end;     /* current end of WAL on the server */
            int64_t send_time;    /* server clock, PostgreSQL epoch micros */
            bool reply_requested; /* answer now or be disconnected */
        } keepalive;
    } u;
} tb_pgwire_msg;

/*
 * Parse one CopyData payload (without the CopyData 'd' frame libpq strips).
 * Returns 0 and fills *out; xlog.data points into buf, so buf must outlive
 * out. Returns -1 with TB_ERR_DECODE for an unknown kind, a truncated
 * message or trailing bytes after a keepalive.
 */
int tb_pgwire_parse(const uint8_t *buf, size_t len, tb_pgwire_msg *out,
                    tb_error *err);

/*
 * Build a standby status update into buf (cap >= TB_PGWIRE_STATUS_LEN).
 * written / flushed / applied are sent as given: the protocol wants "last
 * byte + 1", i.e. the end LSN of what was processed, which is what a caller
 * tracking XLogData wal_end or a Commit end_lsn already holds. clock_pg is
 * the client clock in PostgreSQL epoch micros. Returns the length (34) or -1
 * with TB_ERR_INTERNAL when cap is too small.
 */
int tb_pgwire_build_status(uint8_t *buf, size_t cap, uint64_t written,
                           uint64_t flushed, uint64_t applied, int64_t clock_pg,
                           bool reply_requested, tb_error *err);

/* Parse "X/Y" (each 1-8 hex digits, either case) into *lsn. -1 with
 * TB_ERR_DECODE on any other text. */
int tb_pgwire_lsn_parse(const char *s, uint64_t *lsn, tb_error *err);

/* Format lsn as "X/Y" in upper-case hex like PostgreSQL does into buf
 * (cap >= TB_PGWIRE_LSN_BUFSZ is always enough). Returns the text length,
 * or -1 when cap is too small (buf then holds an empty string if cap > 0). */
int tb_pgwire_lsn_format(uint64_t lsn, char *buf, size_t cap);

/* PostgreSQL epoch micros -> Unix epoch micros. Saturates at the int64
 * limits, which PostgreSQL uses for +/-infinity (DT_NOBEGIN / DT_NOEND). */
int64_t tb_pgwire_pg_to_unix_us(int64_t pg_us);

/* Unix epoch micros -> PostgreSQL epoch micros, saturating likewise. */
int64_t tb_pgwire_unix_to_pg_us(int64_t unix_us);

#endif
