/*
 * pg_snapshot_int.h - what the planning (pg_snapshot.c) and the copying
 * (pg_snapshot_copy.c) halves of the PostgreSQL initial copy share.
 */
#ifndef TB_PG_SNAPSHOT_INT_H
#define TB_PG_SNAPSHOT_INT_H

#include "pg_source_int.h"

/* One part: a table, or a ctid range of one. */
typedef struct pg_part {
    int table;       /* index into snap->rels */
    uint32_t lo, hi; /* block range [lo, hi); hi 0 = to the end */
    bool ranged;     /* filter by ctid */
    bool recheck;    /* also read the table's recheck rows (resumed copy) */
} pg_part;

/* A worker's connection and scratch memory. */
typedef struct pg_worker {
    PGconn *conn;     /* imports the exported snapshot */
    tb_arena arena;   /* one row's decoded values */
    tb_rowbuf row;    /* one row's value arrays */
    tb_buf q;         /* scratch: the COPY statement */
    uint8_t *checked; /* per plan table: locked and checked (resumed) */
} pg_worker;

struct pg_snap {
    tb_snap_plan plan;
    pg_rel **rels;       /* plan tables' relations (plan.tables aligned) */
    char *relkind;       /* pg_class.relkind per plan table */
    bool *keep;          /* per plan table: its copy resumes (plan.keep) */
    char **recheck;      /* per plan table: WHERE of the committed ranges'
                            rows to read again ("" when none), then the
                            xmin they are read again from */
    uint64_t *since;     /* per plan table: that first snapshot's xmin */
    uint32_t *filenode;  /* per plan table: the first copy's relfilenode */
    pg_part *parts;      /* aligned with plan.parts */
    char *stale_keys;    /* storage of plan.stale */
    int cap_stale;       /* entries stale_keys holds */
    tb_marks books;      /* bookkeeping marks for plan.marks */
    char **markv;        /* plan.marks: pointers into books */
    char slot_mark[160]; /* value of "pg:slot" */
    char name[64];       /* exported snapshot to import */
    char lsn[32];        /* its LSN: the mark value of every part */
    PGconn *export_conn; /* temporary slot's connection (resume) */
    PGconn *probe;       /* imports the snapshot while planning */
    uint64_t xmin;       /* the snapshot's xmin (xid8) */
    pg_worker *w;        /* plan.workers workers */
    int64_t commit_us;   /* when the snapshot was taken */
};

/* A new connection inside exported snapshot name (REPEATABLE READ, read
 * only); NULL with err set on failure. */
PGconn *tb_pgsnap_import(tb_source *s, const char *name, const char *what,
                         tb_error *err);

#endif
