/*
 * pg_snapshot_copy.c - a worker's part of the PostgreSQL initial copy:
 * binary COPY out of one ctid range (or a whole table) inside the
 * exported snapshot, decoded value by value, emitted as snapshot rows;
 * for a resumed table also the committed ranges' rows written since its
 * first snapshot (see pg_snapshot.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_binary.h"
#include "pg_snapshot_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "tb_log.h"

/* COPY (SELECT <columns> FROM <table> into q: the columns cols (all when
 * NULL), those binary COPY cannot give us as a tb_value read as text.
 * -1 on OOM. */
static int select_from(const pg_snap *sn, int table, const int *cols, int ncols,
                       tb_buf *q)
{
    const tb_table *t = sn->plan.tables[table];
    int bad = 0;
    tb_buf_reset(q);
    bad |= tb_buf_puts(q, "COPY (SELECT ");
    for (int j = 0; j < ncols; j++) {
        const tb_column *col = &t->cols[cols ? cols[j] : j];
        if (j) bad |= tb_buf_puts(q, ", ");
        bad |= tb_pgsql_ident(q, col->name);
        if (!tb_pgbin_decodable(col)) bad |= tb_buf_puts(q, "::text");
    }
    bad |= tb_buf_puts(q, sn->relkind[table] == 'r' ? " FROM ONLY " : " FROM ");
    bad |= tb_pgsql_ident(q, t->schema);
    bad |= tb_buf_puts(q, ".");
    bad |= tb_pgsql_ident(q, t->name);
    return bad ? -1 : 0;
}

static int copy_end(tb_buf *q)
{
    if (tb_buf_puts(q, ") TO STDOUT (FORMAT binary)") < 0) return -1;
    return tb_buf_reserve(q, 1) < 0 ? -1 : (q->data[q->len] = '\0', 0);
}

/* The COPY statement of a part. */
static int part_query(const pg_snap *sn, const pg_part *p, tb_buf *q)
{
    const tb_table *t = sn->plan.tables[p->table];
    if (select_from(sn, p->table, NULL, t->ncols, q) < 0) return -1;
    if (p->ranged) {
        if (tb_buf_printf(q, " WHERE ctid >= '(%u,0)'::tid", p->lo) < 0)
            return -1;
        if (p->hi && tb_buf_printf(q, " AND ctid < '(%u,0)'::tid", p->hi) < 0)
            return -1;
    }
    return copy_end(q);
}

/* The COPY of a resumed table's rows in its committed ranges that were
 * written at or after the first snapshot's xmin. A tuple's xmin is 32
 * bits: it is widened against next (the snapshot's next xid), which every
 * xmin the snapshot sees precedes; an old frozen xmin widened wrongly can
 * only be read again needlessly, never missed. */
static int recheck_query(const pg_snap *sn, const pg_part *p, uint64_t next,
                         tb_buf *q)
{
    const tb_table *t = sn->plan.tables[p->table];
    uint64_t since = sn->since[p->table];
    if (select_from(sn, p->table, NULL, t->ncols, q) < 0 ||
        tb_buf_printf(q, " WHERE %s", sn->recheck[p->table]) < 0)
        return -1;
    if (since <= next &&
        tb_buf_printf(q,
                      " AND ((%llu - xmin::text::bigint) & 4294967295) <= "
                      "%llu",
                      (unsigned long long)(next & 0xffffffffu),
                      (unsigned long long)(next - since)) < 0)
        return -1;
    return copy_end(q);
}

/* Decode the n fields of one binary COPY tuple into w->row.after: the
 * columns cols (all when NULL; the others are set NULL). */
static int decode_tuple(const tb_table *t, pg_worker *w, const int *cols,
                        int ncols, int n, const char *p, const char *end,
                        tb_error *err)
{
    if (n != ncols)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "snapshot of %s.%s: COPY sent %d fields, expected "
                            "%d",
                            t->schema, t->name, n, ncols);
    if (cols)
        for (int i = 0; i < t->ncols; i++)
            w->row.after[i].state = TB_VALUE_NULL;
    for (int j = 0; j < n; j++) {
        const char *f;
        int32_t len;
        if (tb_pgbin_next_field(&p, end, &f, &len, err) < 0) return -1;
        int i = cols ? cols[j] : j;
        tb_value *v = &w->row.after[i];
        const tb_column *col = &t->cols[i];
        if (len < 0) {
            v->state = TB_VALUE_NULL;
            continue;
        }
        int rc =
            tb_pgbin_decodable(col)
                ? tb_pgbin_decode(col, f, (uint32_t)len, &w->arena, v, err)
                : tb_pgtype_parse_text(col, f, (size_t)len, v, &w->arena, err);
        if (rc < 0)
            return tb_error_prefix(err, "snapshot of %s.%s column %s",
                                   t->schema, t->name, col->name);
    }
    return 0;
}

/* Run the COPY in w->q (columns cols, all when NULL) and emit each row
 * as c. */
static int copy_rows(pg_worker *w, const tb_table *t, const int *cols,
                     int ncols, tb_change *c, const tb_emit *emit,
                     long long *rows, tb_error *err)
{
    PGresult *r = PQexec(w->conn, (char *)w->q.data);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s", t->schema,
                     t->name, tb_pgconn_error(w->conn));
        /* lock_timeout behind a DDL: a later attempt may get through. */
        if (state && strcmp(state, "55P03") == 0) tb_error_retriable(err);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int rc = 0;
    bool first = true;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(w->conn, &buf, 0);
        if (n == -1) break;
        if (n < 0) {
            if (rc == 0)
                rc =
                    tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                                 t->schema, t->name, tb_pgconn_error(w->conn));
            break;
        }
        if (rc == 0) {
            const char *q = buf, *end = buf + n;
            if (first && tb_pgbin_skip_header(&q, end, err) < 0) rc = -1;
            first = false;
            /* The trailer (field count -1) ends the data. */
            int nf = rc == 0 ? tb_pgbin_tuple_start(&q, end, err) : -1;
            if (nf == -2) rc = -1;
            if (nf >= 0) {
                rc = decode_tuple(t, w, cols, ncols, nf, q, end, err);
                if (rc == 0) rc = emit->change(emit->ctx, c, err);
                (*rows)++;
            }
        }
        PQfreemem(buf);
        tb_arena_reset(&w->arena);
    }
    PGresult *fin;
    while ((fin = PQgetResult(w->conn))) {
        if (rc == 0 && PQresultStatus(fin) != PGRES_COMMAND_OK)
            rc = tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                              t->schema, t->name, tb_pgconn_error(w->conn));
        PQclear(fin);
    }
    return rc;
}

/* The snapshot's next xid (xid8), to widen tuple xmins against. */
static int snapshot_next(pg_worker *w, uint64_t *next, tb_error *err)
{
    PGresult *r = tb_pgconn_query(
        w->conn, "SELECT txid_snapshot_xmax(txid_current_snapshot())",
        "reading the snapshot", TB_ERR_SOURCE, err);
    if (!r) return -1;
    *next = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

/* Before a worker first reads a resumed table: lock it against rewrites
 * (VACUUM FULL, CLUSTER, TRUNCATE need a stronger lock) until the copy
 * ends, then check that it was not rewritten since the first copy, whose
 * ctid ranges the resumed one goes on with. */
static int check_kept(const pg_snap *sn, pg_worker *w, int table, tb_error *err)
{
    if (!sn->keep[table] || w->checked[table]) return 0;
    const tb_table *t = sn->plan.tables[table];
    tb_buf *q = &w->q;
    tb_buf_reset(q);
    if (tb_buf_puts(q, "LOCK TABLE ONLY ") < 0 ||
        tb_pgsql_ident(q, t->schema) < 0 || tb_buf_puts(q, ".") < 0 ||
        tb_pgsql_ident(q, t->name) < 0 ||
        tb_buf_printf(q,
                      " IN ACCESS SHARE MODE; SELECT pg_relation_filenode(%u)",
                      sn->rels[table]->relid) < 0 ||
        tb_buf_reserve(q, 1) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    q->data[q->len] = '\0';
    PGresult *r =
        tb_pgconn_query(w->conn, (const char *)q->data,
                        "locking a resumed table", TB_ERR_SOURCE, err);
    if (!r) return -1;
    uint32_t now = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (now != sn->filenode[table]) {
        /* Retried: the next attempt plans again and copies it whole. */
        tb_error_set(err, TB_ERR_SOURCE,
                     "table %s.%s was rewritten (VACUUM FULL, CLUSTER or "
                     "TRUNCATE) while its copy resumed: the next attempt "
                     "copies it again whole",
                     t->schema, t->name);
        return tb_error_retriable(err);
    }
    w->checked[table] = 1;
    return 0;
}

/* A resumed table's last steps, in its first remaining part: the committed
 * ranges' rows written since the first snapshot, then every key the table
 * has now (TB_OP_KEEP), so the target drops the rows of earlier copies
 * whose key is gone. The table then equals the source at this snapshot. */
static int finish_kept(pg_snap *sn, pg_worker *w, const pg_part *p,
                       tb_change *c, const tb_emit *emit, tb_error *err)
{
    const tb_table *t = sn->plan.tables[p->table];
    long long again = 0, keys = 0;
    uint64_t next = 0;
    int *kc = malloc((size_t)t->ncols * sizeof *kc), nk = 0, rc = -1;
    if (!kc) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].key) kc[nk++] = i;
    if (snapshot_next(w, &next, err) < 0) goto out;
    if (recheck_query(sn, p, next, &w->q) < 0) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (copy_rows(w, t, NULL, t->ncols, c, emit, &again, err) < 0) goto out;
    if (select_from(sn, p->table, kc, nk, &w->q) < 0 || copy_end(&w->q) < 0) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The sweep starts even if no key follows (the table is empty now). */
    c->op = TB_OP_KEEP;
    c->after = NULL;
    rc = emit->change(emit->ctx, c, err);
    c->after = w->row.after;
    if (rc == 0) rc = copy_rows(w, t, kc, nk, c, emit, &keys, err);
    c->op = TB_OP_READ;
    if (rc == 0)
        tb_log_debug("snapshot: %s.%s: %lld rows of committed ranges read "
                     "again (written since the first snapshot), %lld keys "
                     "kept",
                     t->schema, t->name, again, keys);
out:
    free(kc);
    return rc;
}

int tb_pgsrc_snapshot_copy(tb_source *s, int part, int worker,
                           const tb_emit *emit, tb_error *err)
{
    pg_snap *sn = s->snap;
    pg_worker *w = &sn->w[worker];
    const pg_part *p = &sn->parts[part];
    const tb_table *t = sn->plan.tables[p->table];
    if (!w->conn && !(w->conn = tb_pgsnap_import(
                          s, sn->name, "source (snapshot worker)", err)))
        return -1;
    if (tb_rowbuf_reserve(&w->row, t->ncols) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    if (check_kept(sn, w, p->table, err) < 0) return -1;
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = -1;
    tx.commit_us = sn->commit_us;
    snprintf(tx.end.text, sizeof tx.end.text, "%s", sn->lsn);
    tb_change c;
    tb_change_init_read(&c, t, w->row.after, "postgresql", s->cfg->name,
                        s->dbname, sn->lsn, sn->commit_us);
    /* A resumed table holds rows already: these merge into them. */
    c.source.replayed = sn->keep[p->table];
    long long rows = 0;
    if (part_query(sn, p, &w->q) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    if (emit->begin(emit->ctx, &tx, err) < 0 ||
        copy_rows(w, t, NULL, t->ncols, &c, emit, &rows, err) < 0)
        return -1;
    if (p->recheck && finish_kept(sn, w, p, &c, emit, err) < 0) return -1;
    tb_log_debug("snapshot: %s copied, %lld rows", sn->plan.parts[part].key,
                 rows);
    return emit->commit(emit->ctx, &tx, err);
}
