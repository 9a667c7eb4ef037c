/*
 * bench_my_decode.c - tributary's MySQL/MariaDB binlog reader alone: open
 * tb_mysql_source_ops at a given binlog position (snapshot "never"), take
 * the server's current position as the end, and poll until a commit or
 * progress position reaches it. Every change is decoded into tb_values and
 * counted, then discarded: no registry, no Avro, no sink. bench/my_bench.sh
 * times it against `mariadb-binlog --base64-output=decode-rows -v`.
 *
 * Usage: bench_my_decode URI TABLE_PATTERN START_POSITION
 *   e.g. bench_my_decode mysql://root@127.0.0.1:3306/w1 'w1.*' \
 *        'file=binlog.000001;pos=4'
 * Prints "changes N seconds S" on stdout; exit 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../connectors/mysql/my_source.h"
#include "tb_log.h"

/* What the counting emit saw. */
typedef struct counts {
    long long changes; /* row changes received */
    long long commits; /* source transactions committed */
    long long nonnull; /* SET values, so the decoded values are touched */
    tb_position last;  /* last commit or progress position */
    bool have_last;    /* last is set */
} counts;

static int on_table(void *ctx, tb_table *t, tb_error *err)
{
    (void)ctx;
    (void)t;
    (void)err;
    return 0;
}

static int on_begin(void *ctx, const tb_tx *tx, tb_error *err)
{
    (void)ctx;
    (void)tx;
    (void)err;
    return 0;
}

static int on_change(void *ctx, const tb_change *c, tb_error *err)
{
    counts *n = ctx;
    (void)err;
    n->changes++;
    const tb_value *v = c->after ? c->after : c->before;
    for (int i = 0; v && i < c->table->ncols; i++)
        n->nonnull += v[i].state == TB_VALUE_SET;
    return 0;
}

static int on_commit(void *ctx, const tb_tx *tx, tb_error *err)
{
    counts *n = ctx;
    (void)err;
    n->commits++;
    n->last = tx->end;
    n->have_last = true;
    return 0;
}

static int on_progress(void *ctx, const tb_position *pos, tb_error *err)
{
    counts *n = ctx;
    (void)err;
    n->last = *pos;
    n->have_last = true;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s URI TABLE_PATTERN START_POSITION\n",
                argv[0]);
        return 2;
    }
    tb_log_threshold = TB_LOG_WARN;
    char *tables[2] = {argv[2], NULL};
    tb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "bench";
    cfg.source.type = "mysql";
    cfg.source.dsn = argv[1];
    cfg.source.server_id = 777001;
    cfg.source.tables = tables;
    cfg.source.ntables = 1;
    cfg.source.snapshot = "never";
    cfg.source.zero_dates = "null";

    const tb_source_ops *ops = &tb_mysql_source_ops;
    tb_position start, end;
    tb_source *s = NULL;
    tb_error err;
    counts n;
    memset(&n, 0, sizeof n);
    tb_emit emit = {&n, on_table, on_begin, on_change, on_commit, on_progress};
    snprintf(start.text, sizeof start.text, "%s", argv[3]);
    double t0 = now();
    if (ops->open(&cfg, &start, &s, &err) < 0 ||
        ops->current(s, &end, &err) < 0)
        goto fail;
    while (!n.have_last || ops->compare(&n.last, &end) < 0)
        if (ops->poll(s, &emit, 500, &err) < 0) goto fail;
    double t1 = now();
    ops->close(s);
    printf("changes %lld commits %lld values %lld seconds %.3f\n", n.changes,
           n.commits, n.nonnull, t1 - t0);
    return 0;
fail:
    fprintf(stderr, "bench_my_decode: %s\n", err.msg);
    ops->close(s);
    return 1;
}
