/*
 * tb_source.h - the interface a source connector implements.
 *
 * A source reads its database's change log and hands row changes to the core
 * through a tb_emit. The core alone decides when a position is acknowledged:
 * ack() is called only after the sink committed that position.
 */
#ifndef TB_SOURCE_H
#define TB_SOURCE_H

#include <jansson.h>

#include "tb_config.h"
#include "tb_error.h"
#include "tb_event.h"
#include "tb_position.h"
#include "tb_snapshot.h"

#define TB_SOURCE_ABI 1

typedef struct tb_source tb_source; /* connector-private state */

/* One source transaction as the source reports it. */
typedef struct tb_tx {
    tb_position end;   /* position to store once the tx is applied */
    int64_t txid;      /* source transaction id, -1 when unknown */
    int64_t commit_us; /* commit time, microseconds since the epoch */
    bool tentative;    /* begin only: applied before the source knows it
                          commits (a large transaction streamed while in
                          progress); emit->abort may void it instead of a
                          commit */
} tb_tx;

/* Callbacks the core passes to poll(). Each returns 0 or -1 with err set;
 * a -1 makes poll() stop and return -1 with the same error. */
typedef struct tb_emit {
    void *ctx; /* core state, passed back as the first argument */
    /* A new or changed table shape, before any change that uses it. The
     * core registers it in the schema registry (refusing incompatible
     * changes) and prepares the sink's table. The table stays owned by the
     * source. */
    int (*table)(void *ctx, tb_table *t, tb_error *err);
    int (*begin)(void *ctx, const tb_tx *tx, tb_error *err);
    int (*change)(void *ctx, const tb_change *c, tb_error *err);
    int (*commit)(void *ctx, const tb_tx *tx, tb_error *err);
    /* Progress without data (idle source, filtered tables): the core may
     * store and acknowledge pos once everything before it is committed. */
    int (*progress)(void *ctx, const tb_position *pos, tb_error *err);
    /* Optional (NULL: never begin tentatively): the transaction begun
     * tentatively is void, nothing of it is applied; the source sends it
     * again from its own copy if it commits. */
    int (*abort)(void *ctx, tb_error *err);
} tb_emit;

typedef struct tb_source_ops {
    int abi;          /* TB_SOURCE_ABI */
    const char *type; /* config source.type, e.g. "postgres" */
    /* Connect, run pre-flight checks, and prepare to stream from resume (the
     * position the target committed; empty: start fresh, snapshot per the
     * config). */
    int (*open)(const tb_config *cfg, const tb_position *resume,
                tb_source **out, tb_error *err);
    /* The source position current now (for run --once). */
    int (*current)(tb_source *s, tb_position *out, tb_error *err);
    /* Deliver what is available within timeout_ms; returns 0 when it
     * returned normally (possibly with nothing), -1 on error. */
    int (*poll)(tb_source *s, const tb_emit *emit, int timeout_ms,
                tb_error *err);
    /* Compare positions: <0, 0, >0 like strcmp. */
    int (*compare)(const tb_position *a, const tb_position *b);
    /* Everything up to pos is durable in the target. */
    int (*ack)(tb_source *s, const tb_position *pos, tb_error *err);
    /* Release everything; s may be NULL. */
    void (*close)(tb_source *s);
    /* Read-only state for `tributary status`: connect without creating
     * anything and add fields to the JSON object out (e.g. current
     * position, slot state, retained log, lag behind committed). */
    int (*status)(const tb_config *cfg, const tb_position *committed,
                  json_t *out, tb_error *err);
    /* Optional: the parallel, resumable initial copy (tb_snapshot.h); NULL
     * when the source copies nothing or copies inside poll(). Called once
     * per session after open() with the marks the target holds and the
     * number of workers configured; fills *plan (nparts 0: nothing to
     * copy; the arrays stay owned by the source until snapshot_end). The
     * source also learns from done what its stream must skip. */
    int (*snapshot_plan)(tb_source *s, const tb_marks *done, int workers,
                         tb_snap_plan *plan, tb_error *err);
    /* Copy plan part `part` as worker `worker` (< plan->workers). Called
     * from worker threads, concurrently for different workers. Emits
     * begin, rows (op 'r') and commit, whose tx.end.text is the part's mark
     * value; never emit.table or emit.progress. */
    int (*snapshot_copy)(tb_source *s, int part, int worker,
                         const tb_emit *emit, tb_error *err);
    /* The copy is over (ok: every part committed and plan->end stored):
     * release the snapshot and the workers' connections. */
    void (*snapshot_end)(tb_source *s, bool ok);
} tb_source_ops;

#endif
