/*
 * my_source_int.h - internals of the MySQL/MariaDB source, shared by its
 * files: my_source.c (open, pre-flight, positions, shapes, ops), my_stream.c
 * (binlog streaming through mariadb_rpl or, for Oracle MySQL, my_dump.c),
 * my_snapshot.c (the initial copy) and my_rows.c (binlog and text-protocol
 * values -> tb_value). Oracle MySQL GTID sets are my_gtidset.h.
 */
#ifndef TB_MY_SOURCE_INT_H
#define TB_MY_SOURCE_INT_H

#include <mysql.h>
#include <mariadb_rpl.h>
#include <stdbool.h>
#include <stdint.h>

#include "binlog.h"
#include "my_gtidset.h"
#include "my_types.h"
#include "tb_arena.h"
#include "tb_source.h"

/* Replication domains we track in one position (MariaDB GTID set). */
#define MY_MAX_DOMAINS 16

/* ---- positions (my_source.c) ---- */

/* One MariaDB GTID: domain-server-seq. */
typedef struct my_gtid {
    uint32_t domain; /* replication domain id */
    uint32_t server; /* server id that wrote the transaction */
    uint64_t seq;    /* sequence number within the domain */
} my_gtid;

/* A parsed position: "gtid=D-S-N[,D-S-N...];file=NAME;pos=N". */
typedef struct my_pos {
    my_gtid gtids[MY_MAX_DOMAINS]; /* MariaDB GTID set, sorted by domain */
    int ngtids;                    /* entries used in gtids */
    char mysql_gtids[320];         /* Oracle MySQL GTID set text, or "" */
    char file[128];                /* binlog file name, "" when unknown */
    uint64_t pos;                  /* offset in file (next event) */
} my_pos;

/* Parse position text; "" gives an empty position. 0 / -1 (TB_ERR_CONFIG
 * naming the text). */
int tb_mysrc_pos_parse(const char *text, my_pos *out, tb_error *err);

/* Format a position as text into out. */
void tb_mysrc_pos_format(const my_pos *p, tb_position *out);

/* Order two positions of the same server: GTID set per domain first, then
 * file name and offset. <0, 0, >0. */
int tb_mysrc_pos_compare(const my_pos *a, const my_pos *b);

/* Set domain g->domain of the set in p to g (insert or replace). */
void tb_mysrc_pos_set_gtid(my_pos *p, const my_gtid *g);

/* Parse a "D-S-N,D-S-N" list (as @@gtid_binlog_pos prints it) into p. */
int tb_mysrc_gtid_list_parse(const char *s, my_pos *p, tb_error *err);

/* Order two positions by binlog coordinates only: the file's sequence
 * number (the digits after its last '.'), then the offset. Positions
 * without a file sort first. <0, 0, >0. */
int tb_mysrc_pos_binlog_cmp(const my_pos *a, const my_pos *b);

/* ---- values (my_rows.c) ---- */

/* Per-source state of the value converter: zero-date policy and counters. */
typedef struct tb_myrow_ctx {
    bool zero_error;     /* source.zero_dates = "error" */
    uint64_t zero_count; /* zero dates replaced by NULL so far */
    char **warned;       /* "db.table.column" already warned about */
    int nwarned, capwarned;
    const char *position; /* position text for messages, may be NULL */
    tb_arena *arena;      /* where converted text lives */
} tb_myrow_ctx;

/* Release what the context owns (the warned list). */
void tb_myrow_ctx_free(tb_myrow_ctx *cx);

/*
 * Convert decoded binlog value v of column i of table t to out. charset is
 * the column's collation id (0 = unknown: text is passed through as UTF-8).
 * TB_BINLOG_V_ABSENT -> TB_VALUE_UNCHANGED. Zero dates follow the policy in
 * cx: NULL plus a count (a warning the first time per column), or -1 with
 * TB_ERR_DECODE naming table, column, position and source.zero_dates.
 * Strings in out live in cx->arena or in v's buffer. Returns 0 / -1.
 */
int tb_myrow_from_binlog(tb_myrow_ctx *cx, const tb_table *t, int i,
                         uint32_t charset, const tb_binlog_value *v,
                         tb_value *out, tb_error *err);

/*
 * Convert a text-protocol value (as SELECT returns it on a utf8mb4
 * connection with time_zone '+00:00') of column i of t to out; s is NULL
 * for SQL NULL. BIT arrives as raw big-endian bytes, binary strings as raw
 * bytes. Same zero-date policy. Returns 0 / -1.
 */
int tb_myrow_from_text(tb_myrow_ctx *cx, const tb_table *t, int i,
                       const char *s, size_t len, tb_value *out, tb_error *err);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t tb_myrow_days(int64_t y, unsigned m, unsigned d);

/* ---- source state ---- */

/* A replicated table: its current shape and per-column facts. */
typedef struct my_table {
    char *db;           /* database */
    char *name;         /* table name */
    tb_table *t;        /* current shape (owned), NULL until known */
    uint32_t *charsets; /* t->ncols collation ids (0 = unknown) */
    bool announced;     /* t was passed to emit->table */
    bool stale;         /* DDL seen: shape must be re-read */
    char **json;        /* MariaDB JSON columns (LONGTEXT with CHECK
                           (json_valid(`col`))), owned; NULL when none */
    int njson;          /* entries in json */
    bool json_known;    /* json was read from the catalog */
    bool copied;        /* the initial copy of this table was read at
                           copied_at, after where the stream starts */
    my_pos copied_at;   /* binlog position of that copy: row changes of
                           transactions beginning before it are in the
                           copy and skipped by the stream */
} my_table;

/* A cached TABLE_MAP by table id. */
typedef struct my_tmap {
    uint64_t table_id;      /* binlog table id */
    tb_arena arena;         /* holds tm's decoded contents */
    tb_binlog_table_map tm; /* decoded map */
    uint8_t *raw;           /* event body, to spot an identical re-send */
    size_t rawlen;          /* bytes in raw */
    my_table *tab;          /* replicated table, NULL when not wanted */
} my_tmap;

/* The parallel snapshot of this session (my_snapshot.c). */
typedef struct my_snap my_snap;

struct tb_source {
    const tb_config *cfg;
    tb_myuri uri;          /* parsed source.dsn */
    MYSQL *sql;            /* normal connection: catalog, snapshot, current() */
    MYSQL *repl;           /* replication connection */
    MARIADB_RPL *rpl;      /* dump handle on repl */
    MARIADB_RPL_EVENT *ev; /* reused event buffer */
    bool raw_dump;         /* the dump runs through my_dump.c (Oracle
                              MySQL, or TB_MYSQL_RAW_DUMP=1), not rpl */
    bool streaming;        /* the dump is open */
    bool mariadb;          /* server is MariaDB */
    bool full_metadata;    /* binlog_row_metadata=FULL */
    char server_version[64]; /* SELECT VERSION() */
    tb_binlog_format fmt;    /* from the last FORMAT_DESCRIPTION */
    tb_arena arena;          /* per ROWS event: decoded values */
    tb_myrow_ctx rows;       /* value converter state */
    tb_rowbuf row;           /* value arrays for one change */
    my_table **tables;       /* replicated tables seen so far */
    int ntables, captables;
    tb_shapes retired; /* replaced shapes, freed at close */
    my_tmap *maps;     /* cached TABLE_MAPs */
    int nmaps, capmaps;
    /* positions */
    my_pos start;     /* where the dump starts */
    my_pos cur;       /* state after the last event seen */
    my_pos boundary;  /* last transaction boundary seen (reconnects) */
    my_pos acked;     /* what the target committed */
    my_pos resume;    /* stored position: skip groups at or before it */
    bool have_resume; /* resume is set */
    tb_mygtidset resume_gtids; /* Oracle MySQL: resume.mysql_gtids parsed */
    tb_mygtidset gtids;        /* Oracle MySQL: executed set at cur; its
                                  text is cur.mysql_gtids */
    bool gtids_dropped;        /* the set outgrew cur.mysql_gtids: positions
                                  go on without it (resume by file) */
    /* event group being read */
    bool in_group;             /* between GTID/BEGIN and XID/COMMIT */
    bool standalone;           /* the group has no BEGIN/COMMIT (DDL) */
    bool skip_group;           /* at or before the resume position */
    bool began;                /* emit->begin was called for this group */
    my_gtid group_gtid;        /* GTID of the group */
    my_pos group_begin;        /* binlog file and offset where the group's
                                  first event starts */
    bool group_has_gtid;       /* the group started with a GTID event */
    bool group_has_mysql_gtid; /* ... with an Oracle MySQL GTID event */
    uint8_t group_sid[16];     /* its source UUID */
    int64_t group_gno;         /* its transaction number */
    int64_t group_txid;        /* txid of the group: MariaDB sequence
                                  number, MySQL GNO, or -1 */
    int64_t group_us;          /* commit time of the group (event timestamp) */
    uint64_t group_changes;    /* changes emitted in this group */
    uint64_t replay_skip;      /* after a reconnect: changes already emitted */
    char change_pos[TB_POSITION_MAX]; /* position text of changes */
    /* snapshot */
    my_snap *snap; /* this session's snapshot plan, or NULL */
    /* Tests only (fault injection, like tb_crash_point): when set, worker
     * snapshots start one by one with a call in between, so a test can
     * commit there and force their positions apart. */
    void (*snap_between)(void *ctx);
    void *snap_between_ctx;   /* passed to snap_between */
    int64_t last_progress_us; /* when progress was last sent */
};

/* Connect the normal connection (utf8mb4, UTC). NULL with err set. */
MYSQL *tb_mysrc_connect(const tb_myuri *u, const char *password,
                        const char *what, tb_error *err);

/* Run a statement, discarding any result. 0 / -1 (TB_ERR_SOURCE). */
int tb_mysrc_exec(MYSQL *m, const char *sql, const char *what, tb_error *err);

/* Run a query and store its result; NULL with err set. */
MYSQL_RES *tb_mysrc_query(MYSQL *m, const char *sql, const char *what,
                          tb_error *err);

/* Append a backquoted identifier / a quoted string literal to b. */
int tb_mysrc_quote_ident(tb_buf *b, const char *s);
int tb_mysrc_quote_literal(MYSQL *m, tb_buf *b, const char *s);

/* Is db.name one of the configured tables? */
bool tb_mysrc_wanted(const tb_source *s, const char *db, const char *name);

/* The my_table of db.name, created empty when missing; NULL on OOM. */
my_table *tb_mysrc_table(tb_source *s, const char *db, const char *name,
                         tb_error *err);

/* Read db.name's shape from information_schema into *out (and the column
 * collations into *charsets, malloc'd). Returns 0 / -1; TB_ERR_NOT_FOUND
 * when the table does not exist. */
int tb_mysrc_shape_from_catalog(tb_source *s, const char *db, const char *name,
                                tb_table **out, uint32_t **charsets,
                                tb_error *err);

/* If clause is exactly a MariaDB JSON check, "json_valid(`col`)" (as
 * information_schema.CHECK_CONSTRAINTS.CHECK_CLAUSE prints it; spaces and
 * letter case of the function name tolerated, `` inside the name
 * unescaped), copy col into out (cap bytes) and return true. */
bool tb_mysrc_json_check_column(const char *clause, char *out, size_t cap);

/* (Re)read tab's JSON columns from information_schema.CHECK_CONSTRAINTS:
 * MariaDB's JSON is a LONGTEXT the binlog and COLUMNS cannot tell from any
 * other; its automatic CHECK (json_valid(`col`)) can. A server without that
 * table (MySQL < 8.0.16) simply has none. 0 / -1. */
int tb_mysrc_json_load(tb_source *s, my_table *tab, tb_error *err);

/* Is column col of tab one of its JSON columns? */
bool tb_mysrc_is_json(const my_table *tab, const char *col);

/* Build a shape from a TABLE_MAP with full metadata. */
int tb_mysrc_shape_from_map(tb_source *s, const tb_binlog_table_map *tm,
                            tb_table **out, uint32_t **charsets, tb_error *err);

/* Install shape t (with charsets) as tab's current one; when it differs
 * from the old shape, retire the old one and announce t via emit->table.
 * Takes ownership of t and charsets in every case. 0 / -1. */
int tb_mysrc_install(tb_source *s, my_table *tab, tb_table *t,
                     uint32_t *charsets, const tb_emit *emit, tb_error *err);

/* Ensure before/after hold n values. */

/* Open the binlog dump at s->start. */
int tb_mysrc_stream_start(tb_source *s, tb_error *err);

/* Close the dump (and its connection). */
void tb_mysrc_stream_stop(tb_source *s);

/* Handle one whole binlog event raw[0..len) as the dump delivered it:
 * groups, shapes, changes and positions (s->cur, s->gtids) move on, emit
 * gets what follows from it. The dump loops call it per event; tests feed
 * it built events. 0 / -1. */
int tb_mysrc_stream_event(tb_source *s, const uint8_t *raw, size_t len,
                          const tb_emit *emit, tb_error *err);

/* Receive and emit what arrives within timeout_ms. */
int tb_mysrc_stream_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                         tb_error *err);

/* The server's binlog position now: SHOW MASTER STATUS plus (MariaDB)
 * @@gtid_binlog_pos. 0 / -1. */
int tb_mysrc_server_position(MYSQL *m, bool mariadb, my_pos *out,
                             tb_error *err);

/* Is binlog file still on the server (SHOW BINARY LOGS)? Also copies the
 * oldest file's name into oldest (cap bytes) when oldest is not NULL. */
int tb_mysrc_binlog_present(MYSQL *m, const char *file, bool *present,
                            char *oldest, size_t cap, tb_error *err);

/* ---- the parallel, resumable snapshot (my_snapshot.c) ---- */

/* State of db.name's copy according to the committed marks. */
typedef enum my_copy_state {
    MY_COPY_NONE,    /* no mark of the table */
    MY_COPY_PARTIAL, /* some parts committed, not all */
    MY_COPY_DONE     /* every part committed */
} my_copy_state;

/* What done says about db.name's copy. Part marks are keyed
 * "db.name#i/n" (part i of n); the copy is done when all n are present,
 * and *at gets the latest position among them. Returns the state, or -1
 * with err naming the mark when its value is not a position. */
int tb_mysrc_copy_state(const tb_marks *done, const char *db, const char *name,
                        my_pos *at, tb_error *err);

/* tb_source_ops.snapshot_plan / snapshot_copy / snapshot_end. */
int tb_mysrc_snapshot_plan(tb_source *s, const tb_marks *done, int workers,
                           tb_snap_plan *plan, tb_error *err);
int tb_mysrc_snapshot_copy(tb_source *s, int part, int worker,
                           const tb_emit *emit, tb_error *err);
void tb_mysrc_snapshot_end(tb_source *s, bool ok);

/* Called by the stream before the first table()/change() of a group. */
int tb_mysrc_begin(tb_source *s, const tb_emit *emit, tb_error *err);

#endif
