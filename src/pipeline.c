/*
 * pipeline.c - the core loop: source -> Avro event checked against the
 * registry -> sink, with the position acknowledged to the source only after
 * the sink committed it together with the data.
 *
 * Batching: many source transactions go into one target transaction,
 * bounded by batch.max_rows, batch.max_bytes and batch.max_ms. A batch is
 * committed only at a source transaction boundary, so the stored position
 * always names a whole source transaction.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "snapshot.h"
#include "tb_avro.h"
#include "tb_buf.h"
#include "tb_connectors.h"
#include "tb_crash.h"
#include "tb_log.h"
#include "tb_registry.h"
#include "tb_signals.h"

typedef struct pipeline {
    const tb_config *cfg;
    const tb_source_ops *sops; /* source connector */
    tb_source *src;
    const tb_sink_ops *kops; /* sink connector */
    tb_sink *sink;
    tb_registry *reg;       /* schema registry, opened for writing */
    tb_buf avro;            /* scratch: the current event's Avro body */
    tb_buf subject;         /* scratch: subject names */
    bool in_batch;          /* a target transaction is open */
    bool in_tx;             /* inside a source transaction */
    int64_t batch_rows;     /* changes in the open batch */
    int64_t batch_bytes;    /* Avro bytes in the open batch */
    int64_t batch_start_ms; /* when the open batch began */
    tb_position pending;    /* end of the last whole tx in the batch */
    bool pending_set;       /* pending holds something to commit */
    tb_position committed;  /* last position the target committed */
    uint64_t changes;       /* changes applied since start */
    uint64_t batches;       /* target transactions committed */
    bool connected;         /* a session got both connectors open */
    int inflight;           /* commits sent, not yet known durable */
    bool tentative;         /* the open batch is a tentative transaction */
} pipeline;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Learn the outcome of the oldest commit in flight, then acknowledge the
 * source up to its position. */
static int settle_one(pipeline *p, tb_error *err)
{
    if (p->inflight == 0) return 0;
    tb_position done;
    p->inflight--;
    if (p->kops->sync(p->sink, &done, err) < 0)
        return tb_error_prefix(err, "target commit failed (nothing of that "
                                    "batch was applied)");
    if (!done.text[0]) return 0;
    p->committed = done;
    tb_crash_point("after_commit");
    return p->sops->ack(p->src, &p->committed, err);
}

/* Learn the outcome of every commit in flight. */
static int settle(pipeline *p, tb_error *err)
{
    while (p->inflight > 0)
        if (settle_one(p, err) < 0) return -1;
    return 0;
}

/* Room for one more commit in flight (the sink pipelines up to
 * inflight_max; each batch needs a free one from its begin on). */
static int make_room(pipeline *p, tb_error *err)
{
    int max = p->kops->inflight_max > 1 ? p->kops->inflight_max : 1;
    while (p->inflight >= max)
        if (settle_one(p, err) < 0) return -1;
    return 0;
}

/* Commit the open batch with its position, then acknowledge the source
 * (at once, or via settle() when the sink commits asynchronously). */
static int flush(pipeline *p, tb_error *err)
{
    if (!p->in_batch) return 0;
    if (p->kops->sync && make_room(p, err) < 0) return -1;
    tb_crash_point("before_commit");
    if (p->kops->commit(p->sink, &p->pending, err) < 0) {
        p->in_batch = false;
        return tb_error_prefix(err, "target commit failed (nothing of this "
                                    "batch was applied)");
    }
    p->in_batch = false;
    p->pending_set = false;
    p->batches++;
    tb_log_debug("batch committed rows=%lld bytes=%lld position=%s",
                 (long long)p->batch_rows, (long long)p->batch_bytes,
                 p->pending.text);
    p->batch_rows = p->batch_bytes = 0;
    if (p->kops->sync) {
        p->inflight++;
        return 0;
    }
    p->committed = p->pending;
    tb_crash_point("after_commit");
    /* Only now, with the position durable in the target, may the source
     * release what came before it. */
    return p->sops->ack(p->src, &p->committed, err);
}

static int open_batch(pipeline *p, tb_error *err)
{
    if (p->in_batch) return 0;
    if (p->kops->sync && p->kops->inflight_max > 1 && make_room(p, err) < 0)
        return -1;
    if (p->kops->begin(p->sink, err) < 0) return -1;
    p->in_batch = true;
    p->batch_start_ms = now_ms();
    return 0;
}

static int on_table(void *ctx, tb_table *t, tb_error *err)
{
    pipeline *p = ctx;
    int rc = -1;
    char *text = NULL;
    json_t *schema = tb_avro_envelope_schema(t, p->cfg->name, err);
    if (!schema) goto out;
    text = json_dumps(schema, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out;
    }
    tb_buf_reset(&p->subject);
    if (tb_avro_namespace_append(t, p->cfg->name, &p->subject, err) < 0 ||
        tb_buf_puts(&p->subject, "-value") < 0)
        goto out;
    int id = 0, version = 0;
    if (tb_registry_register(p->reg, (const char *)p->subject.data, text, &id,
                             &version, err) < 0)
        goto out;
    t->schema_id = id;
    t->version = version;
    tb_log_info("table %s.%s: schema id %d, subject %s version %d",
                t->schema ? t->schema : t->db, t->name, id,
                (const char *)p->subject.data, version);
    /* A new shape may arrive inside a source transaction; the sink evolves
     * the table in the open target transaction so both commit together. */
    rc = p->kops->prepare(p->sink, t, err);
out:
    free(text);
    json_decref(schema);
    return rc;
}

static int on_begin(void *ctx, const tb_tx *tx, tb_error *err)
{
    pipeline *p = ctx;
    /* A tentative transaction gets a target transaction of its own, so
     * voiding it voids nothing else. */
    if (tx->tentative && p->in_batch && p->pending_set && flush(p, err) < 0)
        return -1;
    if (open_batch(p, err) < 0) return -1;
    p->tentative = tx->tentative;
    p->in_tx = true;
    return 0;
}

static int on_change(void *ctx, const tb_change *c, tb_error *err)
{
    pipeline *p = ctx;
    if (!p->in_batch && open_batch(p, err) < 0) return -1;
    /* The Avro encoding checks every value against the registered shape:
     * a value that does not fit stops here, before the target sees it. */
    tb_buf_reset(&p->avro);
    if (tb_avro_encode_change(c, &p->avro, err) < 0)
        return tb_error_prefix(err, "%s.%s at %s", c->table->schema,
                               c->table->name,
                               c->source.position ? c->source.position : "?");
    if (p->kops->apply(p->sink, c, err) < 0) return -1;
    tb_crash_point("mid_batch");
    p->batch_rows++;
    p->batch_bytes += (int64_t)p->avro.len;
    p->changes++;
    return 0;
}

static int on_commit(void *ctx, const tb_tx *tx, tb_error *err)
{
    pipeline *p = ctx;
    p->in_tx = false;
    p->tentative = false;
    p->pending = tx->end;
    p->pending.commit_us = tx->commit_us;
    p->pending_set = true;
    if (p->batch_rows >= p->cfg->batch.max_rows ||
        p->batch_bytes >= p->cfg->batch.max_bytes)
        return flush(p, err);
    return 0;
}

/* The tentative transaction (alone in its batch) is void. */
static int on_abort(void *ctx, tb_error *err)
{
    pipeline *p = ctx;
    (void)err;
    if (p->in_batch) p->kops->abort(p->sink);
    p->in_batch = p->in_tx = p->pending_set = p->tentative = false;
    p->batch_rows = p->batch_bytes = 0;
    return 0;
}

static int on_progress(void *ctx, const tb_position *pos, tb_error *err)
{
    pipeline *p = ctx;
    if (p->in_batch || p->in_tx) {
        /* Rides along with the open batch. */
        if (!p->in_tx) {
            long long at = p->pending.commit_us;
            p->pending = *pos;
            p->pending.commit_us = at; /* still the last data's commit */
            p->pending_set = true;
        }
        return 0;
    }
    /* Nothing open: once the last commit is durable, everything before pos
     * is either committed or not ours, so the source may release it. The
     * stored position stays where the last data commit put it. */
    if (settle(p, err) < 0) return -1;
    if (p->sops->compare(pos, &p->committed) <= 0) return 0;
    p->committed = *pos;
    return p->sops->ack(p->src, pos, err);
}

static void report_failure(const pipeline *p, const tb_error *err)
{
    tb_log_error("%s", err->msg);
    tb_log_error("stopped; last committed position %s (a restart resumes "
                 "after it)",
                 p->committed.text[0] ? p->committed.text : "(none)");
}

/* Close the connectors of a session (after a failure or at the end). */
static void end_session(pipeline *p)
{
    if (p->in_batch && p->sink) p->kops->abort(p->sink);
    p->in_batch = p->in_tx = p->pending_set = p->tentative = false;
    p->inflight = 0;
    p->batch_rows = p->batch_bytes = 0;
    if (p->src) p->sops->close(p->src);
    if (p->sink) p->kops->close(p->sink);
    p->src = NULL;
    p->sink = NULL;
}

/*
 * One connected session: open sink and source at the committed position and
 * stream until stopped, caught up (--once) or failed. Returns 0 or -1.
 */
static int session(pipeline *p, bool once, tb_position *end, bool *have_end,
                   tb_error *err)
{
    const tb_config *cfg = p->cfg;
    if (p->kops->open(cfg, &p->committed, &p->sink, err) < 0) return -1;
    tb_log_info("pipeline %s: target committed position %s", cfg->name,
                p->committed.text[0] ? p->committed.text : "(none: first run)");
    if (p->sops->open(cfg, &p->committed, &p->src, err) < 0) return -1;
    p->connected = true;
    /* --once: what the source had committed when the command started (a
     * snapshot taken now holds all of it). */
    if (once && !*have_end) {
        if (p->sops->current(p->src, end, err) < 0) return -1;
        *have_end = true;
        tb_log_info("--once: catching up to %s", end->text);
    }
    /* The initial copy (or what an interrupted one left), in parallel,
     * before anything streams. */
    const tb_snapshot_ctx snap = {cfg,     p->sops,  p->src, p->kops,
                                  p->sink, on_table, p};
    tb_position copied;
    int sr = tb_snapshot_run(&snap, &copied, err);
    if (sr < 0) return -1;
    if (sr > 0) return 0; /* stop requested mid-copy */
    if (copied.text[0]) {
        p->committed = copied;
        p->batches++;
        if (p->sops->ack(p->src, &p->committed, err) < 0) return -1;
    }
    const tb_emit emit = {p,         on_table,    on_begin, on_change,
                          on_commit, on_progress, on_abort};
    for (;;) {
        if (tb_signals_stop) {
            tb_log_info("stop requested");
            break;
        }
        /* Between batches, learn what became durable (and acknowledge it);
         * while a batch is open, the target keeps working on the last one.
         * A tentative transaction may stay open for long: not a batch to
         * wait for (--once ends without it; its commit is after the end). */
        bool between = !p->in_batch || p->tentative;
        if (between && settle(p, err) < 0) return -1;
        if (once && between && p->committed.text[0] &&
            p->sops->compare(&p->committed, end) >= 0)
            break;
        int timeout = (int)cfg->batch.max_ms;
        /* The batch deadline matters only when the batch could be
         * committed, i.e. between source transactions. */
        if (p->in_batch && !p->in_tx) {
            int64_t left = p->batch_start_ms + cfg->batch.max_ms - now_ms();
            timeout = left < 0 ? 0 : (int)left;
        }
        if (p->sops->poll(p->src, &emit, timeout, err) < 0) return -1;
        if (p->in_batch && !p->in_tx && p->pending_set &&
            now_ms() - p->batch_start_ms >= cfg->batch.max_ms &&
            flush(p, err) < 0)
            return -1;
    }
    /* Graceful stop: a batch ending on a transaction boundary is committed;
     * one in the middle of a source transaction is rolled back (the source
     * sends that transaction again after a restart). */
    if (p->in_batch) {
        if (p->in_tx || !p->pending_set) {
            p->kops->abort(p->sink);
            p->in_batch = false;
        } else if (flush(p, err) < 0) {
            return -1;
        }
    }
    return settle(p, err);
}

/* Sleep up to ms, waking early when a stop is requested. */
static void backoff_sleep(int64_t ms)
{
    int64_t until = now_ms() + ms;
    while (!tb_signals_stop && now_ms() < until) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int tb_cli_run(const tb_config *cfg, bool once)
{
    pipeline p;
    tb_error err;
    tb_position end = {{0}};
    bool have_end = false;
    tb_compat_mode mode;
    int rc = TB_EXIT_FAILURE;

    memset(&p, 0, sizeof p);
    tb_error_clear(&err);
    p.cfg = cfg;
    p.sops = tb_connectors_source(cfg->source.type);
    p.kops = tb_connectors_sink(cfg->target.type);
    if (!p.sops || !p.kops) {
        tb_log_error("connector for %s -> %s is not built", cfg->source.type,
                     cfg->target.type);
        return TB_EXIT_FAILURE;
    }
    if (tb_compat_mode_parse(cfg->registry.compatibility, &mode, &err) < 0 ||
        tb_registry_open(cfg->registry.path, mode, TB_REGISTRY_WRITE, &p.reg,
                         &err) < 0) {
        report_failure(&p, &err);
        goto out;
    }
    /* Retriable failures (a dropped connection, a restarting server) end
     * the session and start a new one from the committed position, with
     * exponential backoff; anything else stops the agent. */
    int64_t delay = 1000;
    for (;;) {
        tb_error_clear(&err);
        uint64_t before = p.batches;
        int r = session(&p, once, &end, &have_end, &err);
        if (r < 0 && p.inflight) {
            /* Learn whether the commit in flight made it, so the position
             * reported (and resumed from) is the real one. */
            tb_error ignore;
            p.in_batch = false;
            if (p.sink) p.kops->abort(p.sink);
            while (p.inflight > 0)
                if (settle_one(&p, &ignore) < 0) break;
        }
        end_session(&p);
        if (r == 0) break;
        /* A first start that cannot connect is a setup problem: say so
         * at once instead of retrying forever. */
        if (!err.retriable || err.fatal || !p.connected || tb_signals_stop) {
            report_failure(&p, &err);
            goto out;
        }
        if (p.batches > before) delay = 1000; /* made progress: reset */
        tb_log_warn("%s; reconnecting in %lld s from position %s", err.msg,
                    (long long)(delay / 1000),
                    p.committed.text[0] ? p.committed.text : "(none)");
        backoff_sleep(delay);
        if (tb_signals_stop) break;
        delay = delay * 2 > 30000 ? 30000 : delay * 2;
    }
    tb_log_info("pipeline %s stopped: %llu changes in %llu target "
                "transactions; committed position %s",
                cfg->name, (unsigned long long)p.changes,
                (unsigned long long)p.batches,
                p.committed.text[0] ? p.committed.text : "(none)");
    rc = TB_EXIT_OK;
out:
    end_session(&p);
    tb_registry_close(p.reg);
    tb_buf_free(&p.avro);
    tb_buf_free(&p.subject);
    return rc;
}
