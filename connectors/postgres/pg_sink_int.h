/*
 * pg_sink_int.h - internals shared by the PostgreSQL sink's files:
 * pg_sink.c (ops, target tables, buffering and collapse, commit),
 * pg_sink_flush.c (COPY, staging tables and set-based merges) and
 * pg_sink_nokey.c (tables without a key: one matching row per change).
 */
#ifndef TB_PG_SINK_INT_H
#define TB_PG_SINK_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_sink.h"
#include "pg_sql.h"
#include "tb_arena.h"
#include "tb_buf.h"

/* Flush threshold bounds: batch.max_bytes / 4, clamped into this range. */
#define FLUSH_MIN (256u * 1024u)
#define FLUSH_MAX (16u * 1024u * 1024u)
/* Keys a lane remembers for its batch (2 MiB of hashes); beyond that the
 * next batch simply waits for it. */
#define LANE_KEYS_MAX (1u << 17)
/* COPY data is handed to libpq in pieces of about this size. */
#define COPY_CHUNK (256u * 1024u)
/* A table's key hash keeps at most this many slots across flushes. */
#define SLOTS_KEEP 65536u

/* Net operation of a buffered row. */
enum {
    ROW_INSERT = 'I',  /* table without key: COPY straight into the table */
    ROW_UPSERT = 'U',  /* full image replaces whatever the target has */
    ROW_PARTIAL = 'P', /* image with UNCHANGED columns: keep stored ones */
    ROW_DELETE = 'D',  /* remove the row with this key */
    ROW_NONE = 'N'     /* inserted and deleted in the batch: nothing to do */
};

#define TB_PGSINK_LANES 2
#define TB_PGSINK_BITS  (1u << 20) /* per-lane key bitmap: 128 KiB */

/* One buffered column value, already escaped for COPY text format. */
typedef struct field {
    const char *p; /* escaped text in the sink's arena; NULL unless SET */
    uint32_t len;  /* bytes at p */
    uint8_t state; /* tb_value_state */
} field;

/* One buffered row: the net effect of the batch's changes to one key. */
typedef struct row {
    struct row *next; /* next row in arrival order */
    field *f;         /* one field per column of the current shape */
    uint64_t hash;    /* tb_pgsink_key_hash of the key fields */
    char op;          /* ROW_* */
    bool fresh;       /* the key's first change in the batch was an insert,
                         so the target does not hold it (the mirror equals
                         the source at the batch's start): a full image is
                         COPYed straight in, without staging or merge */
} row;

/* A slot of a table's key hash: the hash next to the row, so a probe
 * touches one cache line, and a row only when the hashes match. */
typedef struct kslot {
    uint64_t hash;
    row *r;
} kslot;

/* One column of the target table as the target has it. */
typedef struct tcol {
    char *name;    /* column name */
    char *type;    /* format_type() of the column */
    uint32_t oid;  /* its type OID (a domain's own OID) */
    bool has_eq;   /* type has a default btree opclass, so = is defined */
    bool in_shape; /* the current source shape has this column */
} tcol;

/* What the sink knows about one target table. */
typedef struct stable {
    char *sname;         /* source schema (or db), part of the lookup key */
    char *tname;         /* source table name = target table name */
    const tb_table *src; /* the source's shape object last seen */
    tb_table *shape;     /* our copy of the current shape */
    int nkeys;           /* key columns; 0 = table without a key */
    int *keys;           /* shape indexes of the key columns */
    int *tmap;           /* shape column -> index into tcols */
    tcol *tcols;         /* the target's columns */
    int ntcols;          /* number of tcols */
    bool upsert_ok;      /* a unique index on exactly the key columns */
    bool binary;         /* every shape column can be sent in binary */
    bool reread;         /* the target's indexes changed under us (a
                            snapshot load): read them again before merging */
    tb_buf qname;        /* "schema"."table", NUL-terminated */
    char keep[40];       /* the sweep key table (TB_OP_KEEP) of the open
                            transaction, "" when none */
    char stage[40];      /* name of the staging temp table of the current
                            shape ("" until first needed) */
    char stage_had[TB_PGSINK_LANES][40]; /* per lane: the staging table
                                            that session has */
    bool stage_ready[TB_PGSINK_LANES];   /* per lane: the staging table (a
                                            temp table of that session) has
                                            the current shape */
    unsigned stmt_id[TB_PGSINK_LANES];   /* per lane: id of the prepared
                                            no-key statements, 0 none */
    uint32_t salt;      /* mixes the table into key hashes of lane bitmaps */
    int32_t ddl_ticket; /* ticket of the transaction that created or
                           altered the table, until known committed: other
                           lanes cannot see the table before */
    tb_arena *arena;    /* the sink's arena: buffered fields and rows */
    kslot *slots;       /* open-addressing hash over keys; r NULL = free */
    size_t nslots;      /* power of two, or 0 */
    size_t nused;       /* occupied slots */
    row *head, *tail;   /* buffered rows in arrival order */
} stable;

/*
 * One target connection. Commits are pipelined over two lanes: while the
 * server still merges one batch (its commit sent, results not read), the
 * next batch loads and merges on the other lane, provided the two touch
 * different keys (64-bit key hashes tell; otherwise, and before any
 * DDL, TRUNCATE or key-less statement, the new batch waits). The later
 * commit stores its position only if the earlier one committed: it waits
 * for the earlier transaction's advisory lock and updates the state row
 * only where it holds the earlier position, else fails (see op_commit).
 */
typedef struct lane {
    PGconn *conn;     /* NULL until first needed */
    bool pending;     /* a commit was sent and its results not read */
    tb_position pos;  /* position that commit stores ("" none) */
    const char *busy; /* a statement of the open transaction was sent and
                         its results not read: what it does, or NULL */
    int32_t ticket;   /* number of the lane's transaction: the second key
                         of the advisory lock it holds */
    uint64_t *keys;   /* 64-bit hashes of the keys the open or pending
                         batch wrote: open addressing, 0 = free */
    size_t nkeys;     /* used entries of keys */
    size_t capkeys;   /* allocated entries (a power of two) or 0 */
    bool allkeys;     /* too many keys to keep (a huge transaction): treat
                         every key as touched */
} lane;

/* Outcome of a commit read before the core asked for it (sync). */
typedef struct done_commit {
    tb_position pos; /* durable position */
} done_commit;

struct tb_sink {
    PGconn *conn; /* connection of the current lane */
    lane lanes[TB_PGSINK_LANES];
    int cur;         /* lane of the open (or last) transaction */
    int oldest;      /* lane whose pending commit was sent first */
    int32_t tickets; /* transactions begun, for lane tickets */
    char *conninfo;  /* to open the second lane; secret, wiped */
    done_commit done[TB_PGSINK_LANES]; /* FIFO of commits known durable */
    int ndone;                         /* entries in done */
    bool broken;            /* a pipelined commit failed: everything after
                               it fails too (err in broken_err) */
    tb_error broken_err;    /* why */
    char *dsn_masked;       /* DSN with the password masked, for messages */
    char *schema;           /* target schema */
    char *pipeline;         /* pipeline name, key of the state row */
    tb_buf state_name;      /* "schema"."_tributary_state" */
    tb_buf marks_name;      /* "schema"."_tributary_marks" */
    stable **tables;        /* known tables */
    int ntables;            /* used entries of tables */
    int captables;          /* allocated entries of tables */
    stable *last;           /* table of the previous change (fast path) */
    bool in_tx;             /* a target transaction is open */
    bool defer;             /* run_merge() appends to deferred, not executes */
    struct stable *copying; /* table whose snapshot COPY is open, or NULL */
    bool copy_keep;         /* ... a COPY of its sweep keys (TB_OP_KEEP) */
    unsigned keep_seq;      /* names sweep key tables */
    bool copy_binary;       /* the open COPY is FORMAT binary */
    const tb_buf *carry;    /* set by op_commit for the batch's last table: the
                               state update + COMMIT its final COPY carries in
                               the same message */
    tb_buf carry_sql;       /* statements sent after the COPY in progress
                               (merges, state, COMMIT), or empty */
    bool carried;           /* the commit went out behind a COPY */
    tb_buf tail;            /* scratch: the commit's state update + COMMIT */
    tb_buf deferred;        /* merge statements sent with the commit */
    tb_arena arena;      /* buffered rows of all tables; reset by flush_all */
    size_t flush_at;     /* flush everything when the arena passes this */
    unsigned seq;        /* source of unique staging / statement names */
    tb_buf sql;          /* scratch: statement text */
    tb_buf val;          /* scratch: one formatted value */
    tb_buf copy;         /* scratch: COPY data being sent */
    tb_buf params;       /* scratch: NUL-separated statement parameters */
    size_t *poffs;       /* scratch: parameter offsets into params */
    const char **pvals;  /* scratch: parameter pointers (NULL = SQL NULL) */
    int pcap;            /* allocated entries of poffs / pvals */
    const char *context; /* position being committed, for messages, or NULL */
};

/* tb_buf_* return -1 only on OOM; this keeps statement builders short. */
#define PUT(b, str)                                                            \
    do {                                                                       \
        if (tb_buf_puts((b), (str)) < 0) goto oom;                             \
    } while (0)
#define PRINTF(b, ...)                                                         \
    do {                                                                       \
        if (tb_buf_printf((b), __VA_ARGS__) < 0) goto oom;                     \
    } while (0)
#define IDENT(b, name)                                                         \
    do {                                                                       \
        if (tb_pgsql_ident((b), (name)) < 0) goto oom;                         \
    } while (0)

/* ---- shared helpers (see their definitions for details) ---- */

int tb_pgsink_apply_nokey(tb_sink *s, stable *st, const tb_change *c,
                          tb_error *err);
int tb_pgsink_copy_begin(tb_sink *s, tb_error *err);
int tb_pgsink_cstr(tb_buf *b);
int tb_pgsink_dropped_nulls(tb_buf *b, const stable *st, bool *first);
int tb_pgsink_end_copying(tb_sink *s, tb_error *err);
int tb_pgsink_flush_all(tb_sink *s, tb_error *err);
int tb_pgsink_flush_table(tb_sink *s, stable *st, tb_error *err);
int tb_pgsink_wait_other(tb_sink *s, tb_error *err);
/* ---- lanes (pg_sink_lane.c) ---- */
void tb_pgsink_lane_reset(lane *l);
int tb_pgsink_lane_wait(tb_sink *s, int i, tb_error *err);
int tb_pgsink_lane_wait_busy(tb_sink *s, tb_error *err);
int tb_pgsink_lane_connect(tb_sink *s, int i, tb_error *err);
int32_t tb_pgsink_lock_key(const tb_sink *s);
int tb_pgsink_sync(tb_sink *s, tb_position *done, tb_error *err);
/* ---- table cache (pg_sink.c) ---- */
void tb_pgsink_tables_forget(tb_sink *s);
int tb_pgsink_table_for(tb_sink *s, const tb_table *t, stable **out,
                        tb_error *err);
/* ---- snapshot support (pg_sink_snap.c): the tb_sink_ops of that name */
int tb_pgsink_load_begin(tb_sink *s, const tb_table *t, tb_error *err);
int tb_pgsink_load_end(tb_sink *s, const tb_table *t, tb_error *err);
/* TB_OP_KEEP: add c's key to st's sweep key table (made on first use in
 * the transaction). */
int tb_pgsink_keep(tb_sink *s, stable *st, const tb_change *c, tb_error *err);
/* Append to out the sweeps of the open transaction (delete the rows whose
 * key was not kept) and forget them. */
int tb_pgsink_sweeps(tb_sink *s, tb_buf *out);
int tb_pgsink_mark(tb_sink *s, const char *key, const char *value,
                   tb_error *err);
int tb_pgsink_marks(tb_sink *s, tb_marks *out, tb_error *err);
int tb_pgsink_run_here(tb_sink *s, const char *sql, const char *what,
                       tb_error *err);
int tb_pgsink_send_here(tb_sink *s, const char *sql, const char *what,
                        tb_error *err);
int tb_pgsink_lane_claim(tb_sink *s, stable *st, tb_error *err);
int tb_pgsink_table_refresh(tb_sink *s, stable *st, tb_error *err);
int tb_pgsink_load_row(tb_sink *s, stable *st, const tb_value *vals,
                       bool keys_only, tb_error *err);
int tb_pgsink_nomem(tb_error *err);
int tb_pgsink_pg_fail(tb_sink *s, const PGresult *res, const char *what,
                      tb_error *err);
PGresult *tb_pgsink_query(tb_sink *s, const char *sql, int n,
                          const char *const *vals, const char *what,
                          tb_error *err);
int tb_pgsink_run(tb_sink *s, const char *sql, const char *what, tb_error *err);
int tb_pgsink_shape_cols(tb_buf *b, const stable *st, const char *prefix);
void tb_pgsink_table_discard(tb_sink *s, stable *st);
int tb_pgsink_update_key_in_place(tb_sink *s, stable *st, const tb_change *c,
                                  tb_error *err);
bool tb_pgsink_verbatim_kind(tb_kind k);
int tb_pgsink_wait_pending(tb_sink *s, tb_error *err);

#endif
