/*
 * snapshot.h - the core's runner of parallel initial copies (src/snapshot.c).
 */
#ifndef TB_SRC_SNAPSHOT_H
#define TB_SRC_SNAPSHOT_H

#include "tb_config.h"
#include "tb_error.h"
#include "tb_sink.h"
#include "tb_source.h"

/* What the runner needs from the pipeline session. */
typedef struct tb_snapshot_ctx {
    const tb_config *cfg;
    const tb_source_ops *sops; /* source connector */
    tb_source *src;            /* opened source */
    const tb_sink_ops *kops;   /* sink connector */
    tb_sink *sink;             /* the session's sink, no transaction open */
    /* Register a table's shape in the registry and prepare it in the
     * session's sink (the pipeline's emit.table). */
    int (*table)(void *ctx, tb_table *t, tb_error *err);
    void *table_ctx;
} tb_snapshot_ctx;

/*
 * Ask the source for its plan and copy what is left. Returns 0 when the
 * copy is complete (end gets the pipeline position now committed, "" when
 * there was nothing to copy), 1 when a stop was requested (what committed
 * stays; the next run copies the rest), -1 with err on failure.
 */
int tb_snapshot_run(const tb_snapshot_ctx *c, tb_position *end, tb_error *err);

#endif
