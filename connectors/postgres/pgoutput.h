/*
 * pgoutput.h - decoder for PostgreSQL's logical replication messages
 * (the "pgoutput" plugin, protocol versions 1-4, as PostgreSQL 15 sends
 * versions 1-3; version 4's parallel-streaming abort fields are decoded
 * when the decoder is told streaming = parallel).
 *
 * Works on byte buffers only: feed it the data of each XLogData message (or
 * each row of pg_logical_slot_*_binary_changes) in order. The decoder keeps
 * the state the protocol needs between messages:
 *   - a relation cache (relation id -> namespace, name, replica identity,
 *     columns); a Relation message replaces the cached entry for its id;
 *   - whether a stream (Stream Start .. Stream Stop) is open, because inside
 *     one every Relation/Type/Insert/Update/Delete/Truncate/Message carries a
 *     leading xid.
 * A message that fails to decode leaves that state untouched, so a caller
 * may retry with more bytes.
 *
 * Ownership of decoded output (tb_pgo_msg):
 *   - strings (namespace, names, prefix, gid) and tuple values point INTO the
 *     input buffer: valid while the caller keeps the buffer. Strings are
 *     NUL-terminated there; tuple values are not (use their length).
 *   - arrays (tuple columns, truncate relation lists) live in the caller's
 *     arena.
 *   - tb_pgo_rel pointers belong to the decoder. A replaced relation is kept
 *     (retired) until tb_pgo_gc() or tb_pgo_free(), so pointers handed out
 *     for earlier messages of a batch stay valid until the batch is done.
 */
#ifndef TB_PGOUTPUT_H
#define TB_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_buf.h"
#include "tb_error.h"

/* Message types; the value is the type byte on the wire. */
typedef enum tb_pgo_type {
    TB_PGO_BEGIN = 'B',
    TB_PGO_MESSAGE = 'M',
    TB_PGO_COMMIT = 'C',
    TB_PGO_ORIGIN = 'O',
    TB_PGO_RELATION = 'R',
    TB_PGO_TYPE = 'Y',
    TB_PGO_INSERT = 'I',
    TB_PGO_UPDATE = 'U',
    TB_PGO_DELETE = 'D',
    TB_PGO_TRUNCATE = 'T',
    TB_PGO_STREAM_START = 'S',      /* protocol >= 2 */
    TB_PGO_STREAM_STOP = 'E',       /* protocol >= 2 */
    TB_PGO_STREAM_COMMIT = 'c',     /* protocol >= 2 */
    TB_PGO_STREAM_ABORT = 'A',      /* protocol >= 2 */
    TB_PGO_BEGIN_PREPARE = 'b',     /* protocol >= 3 */
    TB_PGO_PREPARE = 'P',           /* protocol >= 3 */
    TB_PGO_COMMIT_PREPARED = 'K',   /* protocol >= 3 */
    TB_PGO_ROLLBACK_PREPARED = 'r', /* protocol >= 3 */
    TB_PGO_STREAM_PREPARE = 'p'     /* protocol >= 3 */
} tb_pgo_type;

/* Truncate option bits. */
#define TB_PGO_TRUNCATE_CASCADE          1
#define TB_PGO_TRUNCATE_RESTART_IDENTITY 2

/* Column flag bit of a Relation message: part of the replica identity. */
#define TB_PGO_COLFLAG_KEY 1

/* One column of a cached relation. */
typedef struct tb_pgo_col {
    char *name;        /* column name, owned by the relation */
    uint32_t type_oid; /* pg_type OID */
    int32_t type_mod;  /* atttypmod, -1 when none */
    uint8_t flags;     /* raw flags byte from the wire */
    bool key;          /* flags & TB_PGO_COLFLAG_KEY */
} tb_pgo_col;

/* A relation as the last Relation message for its id described it. */
typedef struct tb_pgo_rel {
    uint32_t id;      /* relation OID */
    char *nspname;    /* namespace; "" for pg_catalog */
    char *relname;    /* relation name */
    char replident;   /* relreplident: 'd' default, 'n' nothing, 'f' full,
                         'i' index */
    int ncols;        /* number of columns sent (generated ones excluded) */
    tb_pgo_col *cols; /* ncols columns in wire order */
} tb_pgo_rel;

/* One column value of a TupleData part. */
typedef struct tb_pgo_datum {
    char kind;           /* 'n' null, 'u' unchanged TOAST, 't' text,
                            'b' binary (type's send format) */
    uint32_t len;        /* bytes at data for 't' and 'b', else 0 */
    const uint8_t *data; /* into the input buffer; NULL for 'n' and 'u' */
} tb_pgo_datum;

/* A TupleData part: as many values as the relation has columns. */
typedef struct tb_pgo_tuple {
    int ncols;          /* number of values, 0 when the part is absent */
    tb_pgo_datum *cols; /* ncols values in the arena; NULL when absent */
} tb_pgo_tuple;

/* One decoded message; type says which member of u is valid. */
typedef struct tb_pgo_msg {
    tb_pgo_type type; /* message type */
    bool has_xid;     /* a leading xid was present (inside a stream) */
    uint32_t xid;     /* that xid (may be a subtransaction's), else 0 */
    union {
        struct {
            uint64_t final_lsn;  /* LSN of the commit record */
            int64_t commit_time; /* PostgreSQL epoch micros */
            uint32_t xid;        /* transaction id */
        } begin;
        struct {
            uint8_t flags;       /* unused, 0 */
            uint64_t commit_lsn; /* LSN of the commit record */
            uint64_t end_lsn;    /* end LSN of the transaction */
            int64_t commit_time; /* PostgreSQL epoch micros */
        } commit;                /* Commit and Stream Commit */
        struct {
            uint64_t lsn;     /* commit LSN on the origin server */
            const char *name; /* origin name, into the input */
        } origin;
        struct {
            const tb_pgo_rel *rel; /* the new cached relation */
        } relation;
        struct {
            uint32_t oid;        /* type OID */
            const char *nspname; /* namespace, into the input */
            const char *name;    /* type name, into the input */
        } type;
        struct {
            const tb_pgo_rel *rel; /* cached relation of the change */
            char old_kind;         /* 'K' key, 'O' old full row, 0 when none */
            tb_pgo_tuple old;      /* old key / row (update, delete) */
            tb_pgo_tuple new;      /* new row (insert, update) */
        } change;                  /* Insert, Update, Delete */
        struct {
            uint8_t options;         /* TB_PGO_TRUNCATE_* bits */
            int nrels;               /* number of relations */
            const tb_pgo_rel **rels; /* nrels cached relations (arena) */
        } truncate;
        struct {
            uint8_t flags;          /* raw flags byte */
            bool transactional;     /* flags & 1 */
            uint64_t lsn;           /* LSN of the message */
            const char *prefix;     /* into the input */
            uint32_t len;           /* content length */
            const uint8_t *content; /* into the input */
        } message;
        struct {
            uint32_t xid; /* streamed transaction */
            bool first;   /* first segment of this xid */
        } stream_start;
        struct {
            uint32_t xid;        /* top-level transaction */
            uint32_t subxid;     /* aborted (sub)transaction */
            bool has_abort_info; /* protocol 4 parallel streaming fields */
            uint64_t abort_lsn;  /* LSN of the abort, else 0 */
            int64_t abort_time;  /* PostgreSQL epoch micros, else 0 */
        } stream_abort;
        struct {
            uint32_t xid;          /* transaction */
            uint8_t flags;         /* unused, 0 (absent for Begin Prepare) */
            uint64_t lsn;          /* prepare LSN / commit LSN (Commit
                                      Prepared) / prepare end LSN (Rollback
                                      Prepared) */
            uint64_t end_lsn;      /* end LSN of the prepare / commit /
                                      rollback */
            int64_t time;          /* prepare / commit time (rollback: the
                                      prepare time) */
            int64_t rollback_time; /* Rollback Prepared only, else 0 */
            const char *gid;       /* user GID, into the input */
        } prepare; /* Begin Prepare, Prepare, Commit Prepared, Rollback
                      Prepared, Stream Prepare */
    } u;
} tb_pgo_msg;

typedef struct tb_pgo tb_pgo;

/* Decoder options: must match what START_REPLICATION asked for. */
typedef struct tb_pgo_opts {
    int proto_version;       /* 1..4 */
    bool streaming_parallel; /* streaming = parallel (protocol 4): Stream
                                Abort then carries abort LSN and time */
} tb_pgo_opts;

/*
 * Create a decoder. Returns 0 and *out (free with tb_pgo_free), or -1 with
 * TB_ERR_CONFIG for a protocol version outside 1..4 / parallel streaming
 * below 4, TB_ERR_NOMEM on OOM.
 */
int tb_pgo_new(const tb_pgo_opts *opts, tb_pgo **out, tb_error *err);

/* Free the decoder, its relation cache and retired relations. NULL is ok. */
void tb_pgo_free(tb_pgo *d);

/*
 * Decode one message msg[0..len). Fills *out; arrays go to arena, strings
 * and values point into msg (see the ownership note above). Updates the
 * relation cache and stream state only on success. Returns -1 with
 * TB_ERR_DECODE naming the message type and byte offset for unknown types,
 * types not in the configured protocol version, truncated or over-long
 * messages, unknown relation ids, tuples whose column count differs from the
 * relation, stream messages out of order; TB_ERR_NOMEM on OOM.
 */
int tb_pgo_decode(tb_pgo *d, const uint8_t *msg, size_t len, tb_pgo_msg *out,
                  tb_arena *arena, tb_error *err);

/* The cached relation for id, or NULL. Owned by the decoder. */
const tb_pgo_rel *tb_pgo_relation(const tb_pgo *d, uint32_t id);

/* True between a Stream Start and its Stream Stop. */
bool tb_pgo_in_stream(const tb_pgo *d);

/* Free relations replaced since the last call: call once nothing decoded
 * before now is referenced any more (e.g. after a batch committed). */
void tb_pgo_gc(tb_pgo *d);

/* Name of a message type, e.g. "Stream Commit"; "unknown" otherwise. */
const char *tb_pgo_type_name(int type);

/*
 * Append a one-line, deterministic text rendering of m (no trailing newline)
 * to out: used for golden-file tests and trace logs. Text values are shown
 * quoted with C escapes, binary values as hex. Returns -1 on OOM.
 */
int tb_pgo_render(const tb_pgo_msg *m, tb_buf *out);

#endif
