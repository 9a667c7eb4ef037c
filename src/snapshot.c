/*
 * snapshot.c - runs a source's parallel, resumable initial copy
 * (tb_snapshot.h) on worker threads.
 *
 * Each worker has its own sink session and takes the next part from a
 * shared counter; a part is one target transaction that also stores the
 * part's mark, so whatever committed before a crash is never copied again.
 * Rows still pass through the Avro encoding (which checks every value
 * against the registered shape) exactly as streamed changes do. The
 * pipeline position is written only when every part is in.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "tb_avro.h"
#include "tb_buf.h"
#include "tb_crash.h"
#include "tb_log.h"
#include "tb_signals.h"

typedef struct run run;

/* One worker thread. */
typedef struct worker {
    run *r;           /* shared state */
    int id;           /* 0 .. nworkers-1 */
    pthread_t thread; /* the thread */
    tb_sink *sink;    /* its own target session */
    tb_buf avro;      /* scratch: the current row's Avro body */
    int part;         /* part being copied, -1 none */
    bool in_tx;       /* a target transaction is open */
} worker;

struct run {
    const tb_snapshot_ctx *c;
    tb_snap_plan *plan;
    atomic_int next;       /* next part to hand out */
    atomic_int parts_done; /* parts committed */
    atomic_llong rows;     /* rows copied so far */
    atomic_bool stop;      /* a worker failed or a stop was requested */
    atomic_int running;    /* workers still running */
    int *ptable;           /* plan table index of each part, -1 none */
    atomic_int *left;      /* parts of each plan table not committed */
    pthread_mutex_t lock;  /* guards err */
    tb_error err;          /* first failure */
    bool failed;           /* err holds a failure */
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Keep the first failure and tell every worker to stop. */
static void fail(run *r, const tb_error *err)
{
    pthread_mutex_lock(&r->lock);
    if (!r->failed) {
        r->err = *err;
        r->failed = true;
    }
    pthread_mutex_unlock(&r->lock);
    atomic_store(&r->stop, true);
}

static int stopped(run *r, tb_error *err)
{
    if (tb_signals_stop) atomic_store(&r->stop, true);
    if (!atomic_load(&r->stop)) return 0;
    return tb_error_set(err, TB_ERR_INTERNAL, "snapshot stopped");
}

static int w_begin(void *ctx, const tb_tx *tx, tb_error *err)
{
    worker *w = ctx;
    (void)tx;
    if (stopped(w->r, err) < 0) return -1;
    if (w->r->c->kops->begin(w->sink, err) < 0) return -1;
    w->in_tx = true;
    return 0;
}

static int w_change(void *ctx, const tb_change *c, tb_error *err)
{
    worker *w = ctx;
    if ((atomic_load(&w->r->rows) & 255) == 0 && stopped(w->r, err) < 0)
        return -1;
    if (!w->in_tx)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "snapshot row outside a transaction");
    /* A sweep key is bookkeeping, not an event. */
    tb_buf_reset(&w->avro);
    if (c->op != TB_OP_KEEP && tb_avro_encode_change(c, &w->avro, err) < 0)
        return tb_error_prefix(err, "snapshot of %s.%s", c->table->schema,
                               c->table->name);
    if (w->r->c->kops->apply(w->sink, c, err) < 0) return -1;
    tb_crash_point("mid_batch");
    if (c->op != TB_OP_KEEP) atomic_fetch_add(&w->r->rows, 1);
    return 0;
}

static int w_commit(void *ctx, const tb_tx *tx, tb_error *err)
{
    worker *w = ctx;
    const tb_sink_ops *k = w->r->c->kops;
    const tb_snap_part *p = &w->r->plan->parts[w->part];
    if (stopped(w->r, err) < 0) return -1;
    /* The table's last part: every other one committed, so the sink can
     * finish the table (e.g. build its key) with this part's commit. */
    int t = w->r->ptable[w->part];
    if (t >= 0 && k->load_end && atomic_fetch_sub(&w->r->left[t], 1) == 1 &&
        k->load_end(w->sink, w->r->plan->tables[t], err) < 0)
        return -1;
    if (k->mark(w->sink, p->key, tx->end.text, err) < 0) return -1;
    tb_crash_point("before_commit");
    w->in_tx = false;
    if (k->commit(w->sink, NULL, err) < 0) return -1;
    tb_crash_point("after_commit");
    atomic_fetch_add(&w->r->parts_done, 1);
    return 0;
}

static int w_table(void *ctx, tb_table *t, tb_error *err)
{
    (void)ctx;
    return tb_error_set(err, TB_ERR_INTERNAL,
                        "snapshot part announced table %s.%s (a source must "
                        "list every table in its plan)",
                        t->schema, t->name);
}

static int w_progress(void *ctx, const tb_position *pos, tb_error *err)
{
    (void)ctx;
    (void)pos;
    (void)err;
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    const tb_snapshot_ctx *c = r->c;
    tb_error err;
    tb_position ignore;
    tb_error_clear(&err);
    const tb_emit emit = {w, w_table, w_begin, w_change, w_commit, w_progress};
    if (c->kops->open(c->cfg, &ignore, &w->sink, &err) < 0) goto fail;
    for (int i = 0; i < r->plan->ntables; i++)
        if (c->kops->prepare(w->sink, r->plan->tables[i], &err) < 0) goto fail;
    for (;;) {
        if (stopped(r, &err) < 0) goto out;
        int i = atomic_fetch_add(&r->next, 1);
        if (i >= r->plan->nparts) break;
        w->part = i;
        tb_log_debug("snapshot worker %d: part %s", w->id,
                     r->plan->parts[i].key);
        if (c->sops->snapshot_copy(c->src, i, w->id, &emit, &err) < 0) {
            if (atomic_load(&r->stop)) goto out; /* another failure first */
            tb_error_prefix(&err, "snapshot part %s", r->plan->parts[i].key);
            goto fail;
        }
        if (w->in_tx) {
            tb_error_set(&err, TB_ERR_INTERNAL,
                         "snapshot part %s did not commit",
                         r->plan->parts[i].key);
            goto fail;
        }
    }
    goto out;
fail:
    fail(r, &err);
out:
    if (w->sink) {
        if (w->in_tx) c->kops->abort(w->sink);
        c->kops->close(w->sink);
        w->sink = NULL;
    }
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* Progress: a bar on a terminal, a log line every 10 s otherwise. */
static void report(run *r, int64_t start_us, int64_t *next_us, bool tty,
                   bool last)
{
    int64_t now = mono_us();
    if (!last && now < *next_us) return;
    *next_us = now + (tty ? 250000 : 10000000);
    int64_t est = 0;
    for (int i = 0; i < r->plan->nparts; i++)
        est += r->plan->parts[i].est_rows;
    long long rows = (long long)atomic_load(&r->rows);
    int done = atomic_load(&r->parts_done);
    double secs = (double)(now - start_us) / 1e6;
    double rate = secs > 0 ? (double)rows / secs : 0;
    double pct = est > 0 ? 100.0 * (double)rows / (double)est : 0;
    if (pct > 100) pct = 100;
    if (tty) {
        char bar[31];
        int fill = (int)(pct * 30 / 100);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\rsnapshot [%s] %5.1f%%  %lld rows  %d/%d parts  "
                "%.0f rows/s ",
                bar, pct, rows, done, r->plan->nparts, rate);
        if (last) fputc('\n', stderr);
        fflush(stderr);
    } else if (!last) {
        tb_log_info("snapshot: %lld of ~%lld rows (%.0f%%), %d of %d parts, "
                    "%.0f rows/s",
                    rows, (long long)est, pct, done, r->plan->nparts, rate);
    }
}

/* The emptying transaction: TRUNCATE every table copied (again) and drop
 * stale marks, so parts load into empty tables. */
static int empty_tables(const tb_snapshot_ctx *c, tb_snap_plan *plan,
                        tb_error *err)
{
    const tb_sink_ops *k = c->kops;
    if (k->begin(c->sink, err) < 0) return -1;
    if (plan->reset && k->mark(c->sink, NULL, NULL, err) < 0) goto fail;
    for (int i = 0; i < plan->nstale; i++)
        if (k->mark(c->sink, plan->stale[i], NULL, err) < 0) goto fail;
    for (int i = 0; i + 1 < 2 * plan->nmarks; i += 2)
        if (k->mark(c->sink, plan->marks[i], plan->marks[i + 1], err) < 0)
            goto fail;
    for (int i = 0; i < plan->ntables; i++) {
        if (plan->keep && plan->keep[i]) {
            /* The copy goes on: what is there stays, the rest merges in. */
            if (k->load_end && k->load_end(c->sink, plan->tables[i], err) < 0)
                goto fail;
            continue;
        }
        tb_change t;
        memset(&t, 0, sizeof t);
        t.op = TB_OP_TRUNCATE;
        t.table = plan->tables[i];
        t.source.connector = c->sops->type;
        t.source.name = c->cfg->name;
        t.source.position = plan->end.text;
        t.source.txid = -1;
        t.source.snapshot = true;
        if (k->apply(c->sink, &t, err) < 0) goto fail;
        if (k->load_begin && k->load_begin(c->sink, t.table, err) < 0)
            goto fail;
    }
    return k->commit(c->sink, NULL, err);
fail:
    k->abort(c->sink);
    return -1;
}

/* Store the plan's end as the pipeline position, durably. */
static int commit_end(const tb_snapshot_ctx *c, const tb_snap_plan *plan,
                      tb_position *end, tb_error *err)
{
    if (c->kops->begin(c->sink, err) < 0) return -1;
    if (c->kops->commit(c->sink, &plan->end, err) < 0) return -1;
    if (c->kops->sync) {
        tb_position durable;
        if (c->kops->sync(c->sink, &durable, err) < 0) return -1;
    }
    *end = plan->end;
    return 0;
}

int tb_snapshot_run(const tb_snapshot_ctx *c, tb_position *end, tb_error *err)
{
    tb_marks done = {0};
    tb_snap_plan plan;
    run r;
    worker *ws = NULL;
    int nw = 0, rc = -1;
    bool planned = false;
    memset(&plan, 0, sizeof plan);
    memset(&r, 0, sizeof r);
    end->text[0] = '\0';
    if (!c->sops->snapshot_plan) return 0;
    if (!c->kops->mark || !c->kops->marks)
        return tb_error_set(err, TB_ERR_CONFIG,
                            "target %s cannot store snapshot progress; use "
                            "source.snapshot = never with it",
                            c->kops->type);
    if (c->kops->marks(c->sink, &done, err) < 0) goto out;
    int workers = (int)c->cfg->source.snapshot_workers;
    if (workers <= 0) {
        /* One per CPU: a copy is CPU-bound on source, agent and target
         * alike, so more workers than CPUs only contend. */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n < 1 ? 1 : n > 4 ? 4 : (int)n;
    }
    if (c->sops->snapshot_plan(c->src, &done, workers, &plan, err) < 0)
        goto out;
    planned = true;
    if (plan.nparts == 0 && plan.ntables == 0) {
        /* Nothing (left) to copy; an interrupted copy whose parts all made
         * it still needs its position stored. */
        rc = plan.end.text[0] ? commit_end(c, &plan, end, err) : 0;
        goto out;
    }
    for (int i = 0; i < plan.ntables; i++)
        if (c->table(c->table_ctx, plan.tables[i], err) < 0) goto out;
    if (empty_tables(c, &plan, err) < 0) goto out;

    nw = plan.workers < 1 ? 1 : plan.workers;
    if (nw > plan.nparts) nw = plan.nparts;
    tb_log_info("snapshot: %d tables, %d parts, %d workers", plan.ntables,
                plan.nparts, nw);
    r.c = c;
    r.plan = &plan;
    r.ptable = calloc((size_t)plan.nparts, sizeof *r.ptable);
    r.left = calloc((size_t)(plan.ntables ? plan.ntables : 1), sizeof *r.left);
    pthread_mutex_init(&r.lock, NULL);
    if (!r.ptable || !r.left) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out_lock;
    }
    for (int i = 0; i < plan.nparts; i++) {
        r.ptable[i] = -1;
        for (int t = 0; t < plan.ntables; t++)
            if (plan.parts[i].table == plan.tables[t]) {
                r.ptable[i] = t;
                atomic_fetch_add(&r.left[t], 1);
                break;
            }
    }
    tb_crash_point("snapshot_start"); /* reads TB_CRASH_AT before threads */
    ws = calloc((size_t)(nw ? nw : 1), sizeof *ws);
    if (!ws) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out_lock;
    }
    int started = 0;
    atomic_store(&r.running, nw);
    for (int i = 0; i < nw; i++) {
        ws[i].r = &r;
        ws[i].id = i;
        ws[i].part = -1;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            tb_error e;
            tb_error_set(&e, TB_ERR_INTERNAL, "cannot start a snapshot worker");
            fail(&r, &e);
            atomic_fetch_sub(&r.running, nw - i);
            break;
        }
        started++;
    }
    int64_t start = mono_us(), next = start + 1000000;
    bool tty = isatty(2) != 0;
    while (atomic_load(&r.running) > 0) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        if (tb_signals_stop) atomic_store(&r.stop, true);
        report(&r, start, &next, tty, false);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        tb_buf_free(&ws[i].avro);
    }
    if (r.failed) {
        *err = r.err;
        goto out_lock;
    }
    if (atomic_load(&r.parts_done) < plan.nparts) {
        /* Stopped on request: what committed stays; the rest next run. */
        tb_log_info("snapshot interrupted: %d of %d parts committed; the "
                    "next run copies the rest",
                    atomic_load(&r.parts_done), plan.nparts);
        rc = 1;
        goto out_lock;
    }
    report(&r, start, &next, tty, true);
    tb_log_info("snapshot: %lld rows in %d parts, %.1f s",
                (long long)atomic_load(&r.rows), plan.nparts,
                (double)(mono_us() - start) / 1e6);
    /* Every part is in: the pipeline position moves to where the stream
     * starts (tables joining a streaming pipeline leave it where it is). */
    rc = plan.end.text[0] ? commit_end(c, &plan, end, err) : 0;
out_lock:
    pthread_mutex_destroy(&r.lock);
    free(r.ptable);
    free((void *)r.left);
out:
    if (planned) c->sops->snapshot_end(c->src, rc == 0);
    free(ws);
    tb_marks_free(&done);
    return rc;
}
