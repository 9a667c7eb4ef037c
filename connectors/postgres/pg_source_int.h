/*
 * pg_source_int.h - internals of the PostgreSQL source, shared by its files:
 * pg_source.c (open, pre-flight, publication, slot, ops), pg_stream.c
 * (START_REPLICATION, pgoutput -> tb_change, keepalives, streamed
 * transactions) and pg_snapshot.c (the initial copy).
 */
#ifndef TB_PG_SOURCE_INT_H
#define TB_PG_SOURCE_INT_H

#include <libpq-fe.h>
#include <stdio.h>

#include "pg_conn.h"
#include "pgoutput.h"
#include "tb_arena.h"
#include "tb_source.h"

/* A configured table as resolved from the patterns at start. */
typedef struct pg_table_ref {
    uint32_t oid;   /* pg_class oid */
    char *schema;   /* namespace */
    char *name;     /* relation name */
    bool has_pk;    /* has a primary key */
    char replident; /* relreplident */
} pg_table_ref;

/* A relation seen on the wire, with its current shape. */
typedef struct pg_rel {
    uint32_t relid;  /* relation OID */
    tb_table *table; /* current shape (owned); NULL if not replicated */
    bool wanted;     /* matches the configured tables */
    bool announced;  /* table passed to emit->table since its last change */
} pg_rel;

/* A table whose copy already holds its transactions committing before
 * lsn (copied from a later snapshot than where the stream starts). */
typedef struct pg_skip {
    uint32_t relid; /* relation OID */
    uint64_t lsn;   /* skip its changes in transactions committing before */
} pg_skip;

typedef struct pg_snap pg_snap; /* a snapshot in progress (pg_snapshot.c) */

/* A streamed (protocol 2) transaction spilled to local disk. */
typedef struct pg_stream_tx {
    uint32_t xid;      /* top-level xid */
    FILE *f;           /* spill file, records: u32 subxid, u32 len, bytes */
    char *path;        /* its path, removed when done */
    uint32_t *aborted; /* aborted subtransaction xids */
    int naborted, capaborted;
} pg_stream_tx;

struct tb_source {
    const tb_config *cfg;
    PGconn *sql;  /* normal connection: catalog, snapshot */
    PGconn *repl; /* replication connection */
    char *dbname; /* source database name */
    int server_version;
    tb_pgo *dec;    /* pgoutput decoder and relation cache */
    int proto;      /* pgoutput protocol version in use */
    tb_arena arena; /* per poll(): decoded values */
    tb_rowbuf row;  /* value arrays for one change */
    pg_rel *rels;   /* wire relations */
    int nrels, caprels;
    tb_shapes retired;    /* replaced shapes, freed at close */
    pg_table_ref *tables; /* configured tables */
    int ntables;
    /* replication state */
    bool streaming;         /* START_REPLICATION is running */
    uint64_t start_lsn;     /* where streaming starts */
    uint64_t resume_lsn;    /* skip transactions committed before this */
    uint64_t acked_lsn;     /* what the target committed (flush position) */
    uint64_t received_lsn;  /* last WAL position seen */
    int64_t last_status_us; /* when we last sent a status update */
    int64_t last_recv_us;   /* when a message last arrived */
    int64_t last_ping_us;   /* when we last asked for a keepalive */
    /* transaction being decoded */
    bool in_tx;   /* between Begin and Commit */
    bool skip_tx; /* committed before resume_lsn: already applied */
    uint32_t xid;
    uint64_t final_lsn; /* commit LSN from Begin */
    int64_t commit_us;  /* commit time, Unix micros */
    char pos_text[32];  /* final_lsn as text, for change positions */
    /* streamed transactions */
    pg_stream_tx *streams;
    int nstreams, capstreams;
    pg_stream_tx *cur_stream; /* between Stream Start and Stream Stop */
    uint32_t spec_xid;        /* streamed transaction applied tentatively
                                 while it arrives (0: none) */
    /* snapshot */
    bool need_snapshot;      /* copy tables before streaming */
    bool slot_exists;        /* the slot existed at open (no position) */
    uint64_t slot_flush;     /* its confirmed_flush_lsn then */
    char snapshot_name[64];  /* exported snapshot */
    uint64_t consistent_lsn; /* slot's consistent point */
    pg_snap *snap;           /* the copy in progress, or NULL */
    pg_skip *skips;          /* per-table skip LSNs for the stream */
    int nskips, capskips;
};

/* Format an LSN as PostgreSQL prints it. buf needs 18 bytes. */
void tb_pgsrc_lsn_text(uint64_t lsn, char *buf, size_t cap);

/* Shape of the relation the decoder just cached (or a snapshot table):
 * builds a tb_table from the wire relation using the catalog for types,
 * nullability and keys. *out NULL when the relation is not replicated. */
int tb_pgsrc_relation(tb_source *s, const tb_pgo_rel *wire, pg_rel **out,
                      tb_error *err);

/* Announce rel's current shape to the core if not done yet. Shapes are
 * announced when the first row needs them, not when the Relation message
 * arrives: pgoutput also describes leaf partitions and relations of
 * transactions that may still abort, which must not become target tables. */
int tb_pgsrc_announce(tb_source *s, pg_rel *rel, const tb_emit *emit,
                      tb_error *err);

/* Find a wire relation by id, NULL if unknown. */
pg_rel *tb_pgsrc_rel_find(tb_source *s, uint32_t relid);

/* Start START_REPLICATION at s->start_lsn. */
int tb_pgsrc_stream_start(tb_source *s, tb_error *err);

/* Receive and emit what is available within timeout_ms. */
int tb_pgsrc_stream_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                         tb_error *err);

/* Send a standby status update (flush = acked_lsn). */
int tb_pgsrc_send_status(tb_source *s, bool reply, tb_error *err);

/* tb_source_ops.snapshot_plan / snapshot_copy / snapshot_end. */
int tb_pgsrc_snapshot_plan(tb_source *s, const tb_marks *done, int workers,
                           tb_snap_plan *plan, tb_error *err);
int tb_pgsrc_snapshot_copy(tb_source *s, int part, int worker,
                           const tb_emit *emit, tb_error *err);
void tb_pgsrc_snapshot_end(tb_source *s, bool ok);

/* LSN before which relid's transactions are skipped (its copy holds
 * them); 0 when none. */
uint64_t tb_pgsrc_skip_lsn(const tb_source *s, uint32_t relid);

/* Create the slot on the replication connection (export: keep its
 * snapshot for the copy); drop it. */
int tb_pgsrc_create_slot(tb_source *s, bool export, tb_error *err);
int tb_pgsrc_drop_slot(tb_source *s, tb_error *err);

/* Drop spill files of streamed transactions. */
void tb_pgsrc_streams_free(tb_source *s);

#endif
