/*
 * tb_sink.h - the interface a sink (loader) implements.
 *
 * A sink stores the source position in the same transaction as the data:
 * commit(pos) makes both durable at once, and open() returns the last
 * committed position, so a restart resumes exactly once.
 */
#ifndef TB_SINK_H
#define TB_SINK_H

#include <jansson.h>

#include "tb_config.h"
#include "tb_error.h"
#include "tb_event.h"
#include "tb_position.h"
#include "tb_snapshot.h"

#define TB_SINK_ABI 1

typedef struct tb_sink tb_sink; /* connector-private state */

typedef struct tb_sink_ops {
    int abi;          /* TB_SINK_ABI */
    const char *type; /* config target.type, e.g. "postgres" */
    /* Connect and read the committed position into *committed ("" when the
     * target has never committed anything). */
    int (*open)(const tb_config *cfg, tb_position *committed, tb_sink **out,
                tb_error *err);
    /* Create or evolve the target table for this shape (ADD COLUMN for new
     * columns; dropped columns stay). May be called inside an open
     * transaction (a source sends a new shape just before the first row
     * that uses it); a transactional target does the DDL in that same
     * transaction so shape and rows commit together. */
    int (*prepare)(tb_sink *s, const tb_table *t, tb_error *err);
    int (*begin)(tb_sink *s, tb_error *err);
    /* Add one change to the open transaction. A change whose
     * source.replayed is set (a resumed copy's snapshot row) may already
     * be in the target, or an older state of its row may be: merge it (an
     * upsert). Snapshot parts may also send TB_OP_KEEP
     * (see tb_event.h); a sink that resumes copies must support it. */
    int (*apply)(tb_sink *s, const tb_change *c, tb_error *err);
    /* Write pos with the data and commit. Without a sync op, both are
     * durable on success; with one, the commit may still be in flight and
     * is durable once sync() reports its position. pos NULL: commit
     * without touching the stored position, durable on return (snapshot
     * parts, whose progress lives in marks). */
    int (*commit)(tb_sink *s, const tb_position *pos, tb_error *err);
    /* Roll back the open transaction; nothing of it stays. */
    void (*abort)(tb_sink *s);
    void (*close)(tb_sink *s);
    /* Read-only: the committed position, without creating anything ("" when
     * none); may add fields (e.g. when it was committed) to info. */
    int (*committed)(const tb_config *cfg, tb_position *pos, json_t *info,
                     tb_error *err);
    /* Optional: wait for a commit in flight. *done gets the position that
     * became durable ("" if none since the last call); -1 if that commit
     * failed (then nothing of its batch is in the target). Lets the target
     * work on one batch while the core reads the next. */
    int (*sync)(tb_sink *s, tb_position *done, tb_error *err);
    /* With sync: how many commits may be in flight at once (0 means 1).
     * sync() reports them one per call, in the order they were sent, and
     * a commit whose predecessor failed fails too. */
    int inflight_max;
    /* Optional (parallel snapshots): in the open transaction, set mark key
     * to value; value NULL deletes the key, key NULL deletes every mark of
     * the pipeline. */
    int (*mark)(tb_sink *s, const char *key, const char *value, tb_error *err);
    /* Optional: append every committed mark of the pipeline to out. */
    int (*marks)(tb_sink *s, tb_marks *out, tb_error *err);
    /* Optional: t was just emptied, in the open transaction, for a
     * snapshot load; the sink may drop what makes loading slow (e.g. an
     * index) if load_end restores it. */
    int (*load_begin)(tb_sink *s, const tb_table *t, tb_error *err);
    /* Optional: in the open transaction of t's last snapshot part, after
     * every other part of t committed: restore what load_begin dropped
     * (so a table whose parts all committed is complete). Also called in
     * the emptying transaction for a table whose copy resumes (plan.keep),
     * whose remaining parts merge (source.replayed) into what is there;
     * a no-op when nothing was dropped. */
    int (*load_end)(tb_sink *s, const tb_table *t, tb_error *err);
} tb_sink_ops;

#endif
