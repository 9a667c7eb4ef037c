/*
 * pg_snapshot.c - the initial copy: every configured table is read with
 * COPY inside the snapshot the slot exported, so the copy and the stream
 * that starts at the slot's consistent point neither miss nor double a
 * change.
 *
 * The whole copy is one source transaction ending at the consistent point:
 * the target stores that position only once every table is in, so a crash
 * mid-copy leaves no position, and the next start recreates the slot and
 * copies again (nothing was acknowledged in between).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_source_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "tb_log.h"

/* Build the wire-like relation of a table from the catalog (the columns
 * pgoutput would send: not dropped, not generated). */
static int catalog_relation(tb_source *s, const pg_table_ref *ref,
                            tb_pgo_rel *rel, PGresult **res, tb_error *err)
{
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT a.attname, a.atttypid, a.atttypmod, "
             "COALESCE(a.attnum = ANY (i.indkey), false) "
             "FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = "
             "a.attrelid AND i.indisprimary WHERE a.attrelid = %u AND "
             "a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
             "ORDER BY a.attnum",
             ref->oid);
    *res = tb_pgconn_query(s->sql, sql, "reading table columns", TB_ERR_SOURCE,
                           err);
    if (!*res) return -1;
    int n = PQntuples(*res);
    memset(rel, 0, sizeof *rel);
    rel->id = ref->oid;
    rel->nspname = ref->schema;
    rel->relname = ref->name;
    rel->replident = ref->replident;
    rel->ncols = n;
    rel->cols = calloc((size_t)(n ? n : 1), sizeof *rel->cols);
    if (!rel->cols) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        rel->cols[i].name = PQgetvalue(*res, i, 0);
        rel->cols[i].type_oid =
            (uint32_t)strtoul(PQgetvalue(*res, i, 1), NULL, 10);
        rel->cols[i].type_mod = atoi(PQgetvalue(*res, i, 2));
        rel->cols[i].key =
            ref->replident == 'f' ? true : PQgetvalue(*res, i, 3)[0] == 't';
        rel->cols[i].flags = rel->cols[i].key;
    }
    return 0;
}

/* Undo COPY text escaping of field [p, e) into the arena. */
static char *unescape(tb_arena *a, const char *p, const char *e, size_t *len)
{
    char *out = tb_arena_alloc(a, (size_t)(e - p) + 1);
    if (!out) return NULL;
    size_t n = 0;
    while (p < e) {
        if (*p != '\\' || p + 1 >= e) {
            out[n++] = *p++;
            continue;
        }
        p++;
        switch (*p) {
        case 'b':
            out[n++] = '\b';
            p++;
            break;
        case 'f':
            out[n++] = '\f';
            p++;
            break;
        case 'n':
            out[n++] = '\n';
            p++;
            break;
        case 'r':
            out[n++] = '\r';
            p++;
            break;
        case 't':
            out[n++] = '\t';
            p++;
            break;
        case 'v':
            out[n++] = '\v';
            p++;
            break;
        case 'x': {
            int v = 0, k = 0;
            p++;
            while (k < 2 && p < e &&
                   ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                    (*p >= 'A' && *p <= 'F'))) {
                v = v * 16 + (*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10);
                p++;
                k++;
            }
            out[n++] = (char)v;
            break;
        }
        default:
            if (*p >= '0' && *p <= '7') {
                int v = 0, k = 0;
                while (k < 3 && p < e && *p >= '0' && *p <= '7') {
                    v = v * 8 + (*p - '0');
                    p++;
                    k++;
                }
                out[n++] = (char)v;
            } else {
                out[n++] = *p++;
            }
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Progress of one table's copy: a bar on a terminal, a log line every
 * few seconds otherwise. The row estimate comes from pg_class.reltuples. */
typedef struct progress {
    const tb_table *t;
    double estimate;  /* expected rows, <= 0 when unknown */
    bool tty;         /* stderr is a terminal */
    int64_t next_us;  /* when to report next */
    int64_t start_us; /* when the copy began */
} progress;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void progress_report(progress *p, long long rows, bool done)
{
    int64_t now = mono_us();
    if (!done && now < p->next_us) return;
    p->next_us = now + (p->tty ? 200000 : 5000000);
    double secs = (double)(now - p->start_us) / 1e6;
    double frac = p->estimate > 0 ? (double)rows / p->estimate : 0;
    if (frac > 1 || done) frac = 1;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\rsnapshot %s.%s [%s] %3d%% %lld rows %.1fs%s",
                p->t->schema, p->t->name, bar, (int)(frac * 100), rows, secs,
                done ? "\n" : "");
        fflush(stderr);
    } else if (!done) {
        tb_log_info("snapshot: %s.%s %lld rows so far (%d%% of about %.0f), "
                    "%.0fs",
                    p->t->schema, p->t->name, rows, (int)(frac * 100),
                    p->estimate, secs);
    }
}

static double row_estimate(tb_source *s, uint32_t relid)
{
    char sql[256];
    tb_error e;
    snprintf(sql, sizeof sql,
             "SELECT sum(c.reltuples) FROM pg_class c WHERE c.oid = %u OR "
             "c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = "
             "%u)",
             relid, relid);
    PGresult *r =
        tb_pgconn_query(s->sql, sql, "estimating rows", TB_ERR_SOURCE, &e);
    double n = r && !PQgetisnull(r, 0, 0) ? atof(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static int copy_table(tb_source *s, const tb_emit *emit, pg_rel *rel,
                      tb_error *err)
{
    const tb_table *t = rel->table;
    /* Asked before the COPY: the connection is busy while it runs. */
    double estimate = row_estimate(s, rel->relid);
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "COPY (SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        if (i) tb_buf_puts(&q, ", ");
        tb_pgsql_ident(&q, t->cols[i].name);
    }
    tb_buf_puts(&q, " FROM ");
    tb_pgsql_ident(&q, t->schema);
    tb_buf_puts(&q, ".");
    tb_pgsql_ident(&q, t->name);
    tb_buf_puts(&q, ") TO STDOUT");
    PGresult *r = PQexec(s->sql, (char *)q.data);
    tb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s", t->schema,
                     t->name, tb_pgconn_error(s->sql));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (tb_rowbuf_reserve(&s->row, t->ncols) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0)
        return -1;
    tb_change c;
    memset(&c, 0, sizeof c);
    c.op = TB_OP_READ;
    c.table = t;
    c.after = s->row.after;
    c.source.connector = "postgresql";
    c.source.name = s->cfg->name;
    c.source.db = s->dbname;
    c.source.position = s->pos_text;
    c.source.txid = -1;
    c.source.commit_us = s->commit_us;
    c.source.snapshot = true;
    c.ts_ms = s->commit_us / 1000;
    long long rows = 0;
    int rc = 0;
    progress prog = {t, estimate, isatty(2) != 0, 0, mono_us()};
    prog.next_us = prog.start_us + (prog.tty ? 200000 : 5000000);
    for (;;) {
        char *line = NULL;
        int n = PQgetCopyData(s->sql, &line, 0);
        if (n == -1) break;
        if (n < 0) {
            tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                         t->schema, t->name, tb_pgconn_error(s->sql));
            return -1;
        }
        if (rc == 0) {
            const char *p = line, *end = line + n;
            if (end > p && end[-1] == '\n') end--;
            for (int i = 0; i < t->ncols && rc == 0; i++) {
                const char *f = p;
                while (p < end && *p != '\t')
                    p++;
                if (p - f == 2 && f[0] == '\\' && f[1] == 'N') {
                    s->row.after[i].state = TB_VALUE_NULL;
                } else {
                    /* Most fields have no escapes: parse them in place
                     * (the parser copies what it keeps) instead of
                     * copying them twice. */
                    size_t len = (size_t)(p - f);
                    const char *v = memchr(f, '\\', len)
                                        ? unescape(&s->arena, f, p, &len)
                                        : f;
                    if (!v)
                        rc = tb_error_set(err, TB_ERR_NOMEM, "out of memory");
                    else if (tb_pgtype_parse_text(&t->cols[i], v, len,
                                                  &s->row.after[i], &s->arena,
                                                  err) < 0)
                        rc = tb_error_prefix(err, "snapshot of %s.%s column %s",
                                             t->schema, t->name,
                                             t->cols[i].name);
                }
                if (p < end) p++;
            }
            if (rc == 0) rc = emit->change(emit->ctx, &c, err);
            rows++;
            if ((rows & 1023) == 0) progress_report(&prog, rows, false);
        }
        PQfreemem(line);
        tb_arena_reset(&s->arena);
    }
    PGresult *fin;
    while ((fin = PQgetResult(s->sql))) {
        if (rc == 0 && PQresultStatus(fin) != PGRES_COMMAND_OK)
            rc = tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                              t->schema, t->name, tb_pgconn_error(s->sql));
        PQclear(fin);
    }
    if (rc == 0 && prog.tty) progress_report(&prog, rows, true);
    if (rc == 0)
        tb_log_info("snapshot: %s.%s copied, %lld rows in %.1fs", t->schema,
                    t->name, rows, (double)(mono_us() - prog.start_us) / 1e6);
    return rc;
}

int tb_pgsrc_snapshot(tb_source *s, const tb_emit *emit, tb_error *err)
{
    char sql[256];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->commit_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    tb_pgsrc_lsn_text(s->consistent_lsn, s->pos_text, sizeof s->pos_text);
    if (tb_pgconn_exec(s->sql,
                       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting the snapshot", TB_ERR_SOURCE, err) < 0)
        return -1;
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'",
             s->snapshot_name);
    if (tb_pgconn_exec(s->sql, sql, "importing the slot's snapshot",
                       TB_ERR_SOURCE, err) < 0)
        goto fail;
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = -1;
    tx.commit_us = s->commit_us;
    snprintf(tx.end.text, sizeof tx.end.text, "%s", s->pos_text);
    if (emit->begin(emit->ctx, &tx, err) < 0) goto fail;
    for (int i = 0; i < s->ntables; i++) {
        tb_pgo_rel wire;
        PGresult *res = NULL;
        pg_rel *rel = NULL;
        int rc = catalog_relation(s, &s->tables[i], &wire, &res, err);
        if (rc == 0) rc = tb_pgsrc_relation(s, &wire, &rel, err);
        if (rc == 0) rc = tb_pgsrc_announce(s, rel, emit, err);
        free(wire.cols);
        PQclear(res);
        if (rc < 0) goto fail;
        if (copy_table(s, emit, rel, err) < 0) goto fail;
    }
    if (tb_pgconn_exec(s->sql, "COMMIT", "ending the snapshot", TB_ERR_SOURCE,
                       err) < 0)
        return -1;
    return emit->commit(emit->ctx, &tx, err);
fail:
    PQexec(s->sql, "ROLLBACK");
    return -1;
}
