/*
 * pg_snapshot.c - the initial copy, in parallel parts (tb_snapshot.h).
 *
 * Every configured table is read with COPY inside one exported snapshot,
 * so the copy and the stream that starts at that snapshot's LSN neither
 * miss nor double a change. Large tables are split into ctid ranges
 * (TID range scans, PostgreSQL 14+) so several workers, each on its own
 * connection importing the same snapshot, copy one table at once.
 *
 * Resuming: each committed part leaves a mark "pg:<oid>:<i>/<n>:<name>"
 * whose value is the LSN of the snapshot it was read in, and the emptying
 * transaction of a fresh copy stores "pg:slot" = "<slot>@<consistent LSN>".
 * After a crash the slot still stands at that LSN (nothing was
 * acknowledged), so the stream can still start there: tables whose parts
 * are all marked stay, the others are copied again from a new exported
 * snapshot (a temporary slot's, at LSN S > C), and the stream skips those
 * tables' transactions that commit before S (the new copy holds them), the
 * same rule PostgreSQL's own table synchronisation uses. A table is the
 * unit of resumption: ranges of one table must come from one snapshot
 * (a row updated between two snapshots can move to another ctid range).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_binary.h"
#include "pg_source_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "pgwire.h"
#include "tb_log.h"

/* One part: a table, or a ctid range of one. */
typedef struct pg_part {
    int table;       /* index into snap->rels */
    uint32_t lo, hi; /* block range [lo, hi); hi 0 = to the end */
    bool ranged;     /* filter by ctid */
} pg_part;

/* A worker's connection and scratch memory. */
typedef struct pg_worker {
    PGconn *conn;   /* imports the exported snapshot */
    tb_arena arena; /* one row's decoded values */
    tb_rowbuf row;  /* one row's value arrays */
    tb_buf q;       /* scratch: the COPY statement */
} pg_worker;

struct pg_snap {
    tb_snap_plan plan;
    pg_rel **rels;       /* plan tables' relations (plan.tables aligned) */
    char *relkind;       /* pg_class.relkind per plan table */
    pg_part *parts;      /* aligned with plan.parts */
    char *stale_keys;    /* NUL-separated storage of plan.stale */
    char *marks[2];      /* "pg:slot", its value */
    char slot_mark[160]; /* value of marks[1] */
    char name[64];       /* exported snapshot to import */
    char lsn[32];        /* its LSN: the mark value of every part */
    PGconn *export_conn; /* temporary slot's connection (resume) */
    pg_worker *w;        /* plan.workers workers */
    int64_t commit_us;   /* when the snapshot was taken */
};

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

/* Remember that the stream must skip relid's transactions committing
 * before lsn (its copy holds them). */
static int add_skip(tb_source *s, uint32_t relid, uint64_t lsn, tb_error *err)
{
    for (int i = 0; i < s->nskips; i++)
        if (s->skips[i].relid == relid) {
            if (lsn > s->skips[i].lsn) s->skips[i].lsn = lsn;
            return 0;
        }
    if (s->nskips == s->capskips) {
        int cap = s->capskips ? s->capskips * 2 : 8;
        pg_skip *v = realloc(s->skips, (size_t)cap * sizeof *v);
        if (!v) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        s->skips = v;
        s->capskips = cap;
    }
    s->skips[s->nskips].relid = relid;
    s->skips[s->nskips].lsn = lsn;
    s->nskips++;
    return 0;
}

uint64_t tb_pgsrc_skip_lsn(const tb_source *s, uint32_t relid)
{
    for (int i = 0; i < s->nskips; i++)
        if (s->skips[i].relid == relid) return s->skips[i].lsn;
    return 0;
}

/* Parse a part mark key "pg:<oid>:<i>/<n>:..."; false if not one. */
static bool part_key(const char *key, uint32_t *oid, int *i, int *n)
{
    unsigned o;
    int a, b, used = 0;
    if (sscanf(key, "pg:%u:%d/%d:%n", &o, &a, &b, &used) != 3 || !used)
        return false;
    *oid = o;
    *i = a;
    *n = b;
    return true;
}

/* Is every part of table oid marked in done? *lsn gets their LSN. */
static bool table_done(const tb_marks *done, uint32_t oid, uint64_t *lsn)
{
    int want = -1, have = 0;
    *lsn = 0;
    for (int k = 0; k < done->n; k++) {
        uint32_t o;
        int i, n;
        if (!part_key(done->v[k].key, &o, &i, &n) || o != oid) continue;
        if (want < 0) want = n;
        if (n != want) return false; /* marks of two different splits */
        have++;
        uint64_t l;
        tb_error e;
        if (tb_pgwire_lsn_parse(done->v[k].value, &l, &e) < 0) return false;
        if (l > *lsn) *lsn = l;
    }
    return want > 0 && have == want;
}

/* Shape, kind and size of configured table i; adds it to the plan. */
static int plan_table(tb_source *s, pg_snap *sn, const pg_table_ref *ref,
                      int64_t chunk_pages, int workers, tb_error *err)
{
    tb_pgo_rel wire;
    PGresult *res = NULL, *sz = NULL;
    pg_rel *rel = NULL;
    char sql[512];
    int rc = catalog_relation(s, ref, &wire, &res, err);
    if (rc == 0) rc = tb_pgsrc_relation(s, &wire, &rel, err);
    free(wire.cols);
    PQclear(res);
    if (rc < 0) return -1;
    if (!rel || !rel->table)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "table %s.%s has no replicable shape", ref->schema,
                            ref->name);
    /* The core registers plan tables; the stream need not announce them. */
    rel->announced = true;
    snprintf(sql, sizeof sql,
             "SELECT c.relkind, pg_relation_size(c.oid) / "
             "current_setting('block_size')::bigint, greatest(c.reltuples, "
             "0) + coalesce((SELECT sum(greatest(l.reltuples, 0)) FROM "
             "pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid "
             "WHERE t.relid <> c.oid), 0) FROM pg_class c WHERE c.oid = %u",
             ref->oid);
    sz = tb_pgconn_query(s->sql, sql, "sizing a table", TB_ERR_SOURCE, err);
    if (!sz) return -1;
    if (PQntuples(sz) != 1) {
        PQclear(sz);
        return tb_error_set(err, TB_ERR_SOURCE, "table %s.%s disappeared",
                            ref->schema, ref->name);
    }
    char kind = PQgetvalue(sz, 0, 0)[0];
    int64_t pages = atoll(PQgetvalue(sz, 0, 1));
    double rows = atof(PQgetvalue(sz, 0, 2));
    PQclear(sz);

    int t = sn->plan.ntables;
    sn->plan.tables[t] = rel->table;
    sn->rels[t] = rel;
    sn->relkind[t] = kind;
    sn->plan.ntables++;
    /* Ranges for a plain table larger than a chunk; at least one range per
     * worker then, so one big table keeps every worker busy. */
    int64_t n = 1;
    if (kind == 'r' && pages > chunk_pages) {
        n = (pages + chunk_pages - 1) / chunk_pages;
        if (n < workers) n = workers;
        if (n > 1024) n = 1024;
    }
    tb_snap_part *np =
        realloc(sn->plan.parts, (size_t)(sn->plan.nparts + n) * sizeof *np);
    if (!np) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    sn->plan.parts = np;
    pg_part *pp =
        realloc(sn->parts, (size_t)(sn->plan.nparts + n) * sizeof *pp);
    if (!pp) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    sn->parts = pp;
    for (int64_t i = 0; i < n; i++) {
        tb_snap_part *p = &sn->plan.parts[sn->plan.nparts];
        pg_part *q = &sn->parts[sn->plan.nparts];
        memset(p, 0, sizeof *p);
        q->table = t;
        q->ranged = n > 1;
        q->lo = (uint32_t)(pages * i / n);
        q->hi = i == n - 1 ? 0 : (uint32_t)(pages * (i + 1) / n);
        p->table = rel->table;
        p->est_rows = (int64_t)(rows / (double)n);
        /* The name is only for people reading the marks: cut to fit. */
        int k = snprintf(p->key, sizeof p->key, "pg:%u:%lld/%lld:", ref->oid,
                         (long long)i, (long long)n);
        int room = (int)sizeof p->key - k - 1;
        snprintf(p->key + k, (size_t)room + 1, "%.*s.%.*s", room / 2,
                 ref->schema, room - room / 2 - 1, ref->name);
        sn->plan.nparts++;
    }
    return 0;
}

/* Create a temporary slot on a new replication connection, only for its
 * exported snapshot (resuming an interrupted copy). */
static int export_snapshot(tb_source *s, pg_snap *sn, uint64_t *lsn,
                           tb_error *err)
{
    char q[160];
    sn->export_conn =
        tb_pgconn_open(s->cfg->source.dsn, s->cfg->source.password, true,
                       "source (snapshot export)", err);
    if (!sn->export_conn) return -1;
    snprintf(q, sizeof q,
             "CREATE_REPLICATION_SLOT tributary_tmp_%d_%u TEMPORARY LOGICAL "
             "pgoutput EXPORT_SNAPSHOT",
             (int)getpid(), (unsigned)time(NULL));
    PGresult *r = PQexec(sn->export_conn, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
        PQgetisnull(r, 0, 2)) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "creating a temporary slot to resume the snapshot "
                     "failed: %s (check max_replication_slots)",
                     tb_pgconn_error(sn->export_conn));
        PQclear(r);
        return -1;
    }
    int rc = tb_pgwire_lsn_parse(PQgetvalue(r, 0, 1), lsn, err);
    snprintf(sn->name, sizeof sn->name, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return rc;
}

static void snap_free(pg_snap *sn)
{
    if (!sn) return;
    for (int i = 0; sn->w && i < sn->plan.workers; i++) {
        pg_worker *w = &sn->w[i];
        if (w->conn) {
            PGresult *r = PQexec(w->conn, "COMMIT");
            PQclear(r);
            PQfinish(w->conn);
        }
        tb_arena_free(&w->arena);
        tb_rowbuf_free(&w->row);
        tb_buf_free(&w->q);
    }
    free(sn->w);
    if (sn->export_conn) PQfinish(sn->export_conn); /* drops the temp slot */
    free(sn->plan.tables);
    free(sn->plan.parts);
    free(sn->plan.stale);
    free(sn->stale_keys);
    free(sn->rels);
    free(sn->relkind);
    free(sn->parts);
    free(sn);
}

int tb_pgsrc_snapshot_plan(tb_source *s, const tb_marks *done, int workers,
                           tb_snap_plan *plan, tb_error *err)
{
    memset(plan, 0, sizeof *plan);
    s->nskips = 0;
    if (!s->need_snapshot) {
        /* Streaming: learn which tables' early transactions the copy of an
         * earlier run already holds. */
        for (int k = 0; k < done->n; k++) {
            uint32_t oid;
            int i, n;
            uint64_t lsn;
            tb_error e;
            if (!part_key(done->v[k].key, &oid, &i, &n) ||
                tb_pgwire_lsn_parse(done->v[k].value, &lsn, &e) < 0)
                continue;
            if (lsn > s->resume_lsn && add_skip(s, oid, lsn, err) < 0)
                return -1;
        }
        /* A table that joined the pipeline after its snapshot (no marks of
         * its own) gets a copy now, from a new snapshot; the stream goes on
         * from the stored position and skips what that copy holds. Only
         * for pipelines whose snapshot left marks (pg:slot). */
        if (strcmp(s->cfg->source.snapshot, "initial") != 0 ||
            !tb_marks_get(done, "pg:slot"))
            return 0;
    }
    pg_snap *sn = calloc(1, sizeof *sn);
    if (!sn) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    s->snap = sn;
    int nt = s->ntables ? s->ntables : 1;
    sn->plan.tables = calloc((size_t)nt, sizeof *sn->plan.tables);
    sn->rels = calloc((size_t)nt, sizeof *sn->rels);
    sn->relkind = calloc((size_t)nt, 1);
    sn->plan.stale = calloc((size_t)(done->n ? done->n : 1), sizeof(char *));
    sn->stale_keys = calloc((size_t)(done->n ? done->n : 1), TB_MARK_KEY_MAX);
    if (!sn->plan.tables || !sn->rels || !sn->relkind || !sn->plan.stale ||
        !sn->stale_keys)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    if (workers < 1) workers = 1;
    int64_t chunk_pages = s->cfg->source.snapshot_chunk_mb * 128; /* 8 kB */
    if (chunk_pages < 1) chunk_pages = 1;

    const char *slot = s->cfg->source.slot;
    char want[160];
    snprintf(want, sizeof want, "%s@", slot);
    const char *have = tb_marks_get(done, "pg:slot");
    char flush[32];
    tb_pgsrc_lsn_text(s->slot_flush, flush, sizeof flush);
    bool joined = !s->need_snapshot;
    bool resume = joined || (s->slot_exists && have &&
                             strncmp(have, want, strlen(want)) == 0 &&
                             strcmp(have + strlen(want), flush) == 0);
    uint64_t start, copy_lsn;
    if (resume) {
        /* The interrupted copy's slot still stands where it began; a
         * streaming pipeline goes on from its stored position. */
        start = joined ? s->resume_lsn : s->slot_flush;
        int left = 0;
        for (int i = 0; i < s->ntables; i++) {
            uint64_t lsn;
            if (!table_done(done, s->tables[i].oid, &lsn)) left++;
        }
        if (joined && left == 0) {
            snap_free(sn);
            s->snap = NULL;
            return 0;
        }
        if (joined)
            tb_log_info("%d table(s) joined the pipeline: copying their rows",
                        left);
        else
            tb_log_info("resuming the snapshot: %d of %d tables already "
                        "copied",
                        s->ntables - left, s->ntables);
        copy_lsn = start;
        if (left && export_snapshot(s, sn, &copy_lsn, err) < 0) return -1;
        for (int i = 0; i < s->ntables; i++) {
            const pg_table_ref *ref = &s->tables[i];
            uint64_t lsn;
            if (table_done(done, ref->oid, &lsn)) {
                if (lsn > start && add_skip(s, ref->oid, lsn, err) < 0)
                    return -1;
                continue;
            }
            /* Marks of a partly copied table are stale. */
            for (int k = 0; k < done->n; k++) {
                uint32_t o;
                int a, b;
                if (!part_key(done->v[k].key, &o, &a, &b) || o != ref->oid)
                    continue;
                char *dst = sn->stale_keys + TB_MARK_KEY_MAX * sn->plan.nstale;
                snprintf(dst, TB_MARK_KEY_MAX, "%s", done->v[k].key);
                sn->plan.stale[sn->plan.nstale++] = dst;
            }
            if (copy_lsn > start && add_skip(s, ref->oid, copy_lsn, err) < 0)
                return -1;
            if (plan_table(s, sn, ref, chunk_pages, workers, err) < 0)
                return -1;
        }
    } else {
        /* An interrupted copy whose slot is gone (or was made anew) cannot
         * go on: the rows it committed match a point the stream can no
         * longer start from. Starting over is a decision for a person. */
        if (have) {
            tb_error_set(
                err, TB_ERR_SOURCE,
                "the interrupted snapshot of pipeline %s cannot "
                "resume: it belongs to replication slot %s, which "
                "%s. To start over (every table is copied again), "
                "on the target run: DELETE FROM %s._tributary_marks "
                "WHERE pipeline = '%s'; then run again",
                s->cfg->name, have,
                s->slot_exists ? "was recreated since" : "no longer exists",
                s->cfg->target.schema ? s->cfg->target.schema : "public",
                s->cfg->name);
            tb_error_fatal(err);
            return -1;
        }
        if (s->slot_exists) {
            tb_log_warn("replication slot %s exists but the target has no "
                        "committed position and no snapshot progress for "
                        "it: recreating it for a fresh snapshot",
                        slot);
            if (tb_pgsrc_drop_slot(s, err) < 0) return -1;
        }
        if (tb_pgsrc_create_slot(s, true, err) < 0) return -1;
        start = copy_lsn = s->consistent_lsn;
        snprintf(sn->name, sizeof sn->name, "%s", s->snapshot_name);
        sn->plan.reset = true;
        char lsn[32];
        tb_pgsrc_lsn_text(start, lsn, sizeof lsn);
        snprintf(sn->slot_mark, sizeof sn->slot_mark, "%s@%s", slot, lsn);
        sn->marks[0] = "pg:slot";
        sn->marks[1] = sn->slot_mark;
        sn->plan.marks = sn->marks;
        sn->plan.nmarks = 1;
        for (int i = 0; i < s->ntables; i++)
            if (plan_table(s, sn, &s->tables[i], chunk_pages, workers, err) < 0)
                return -1;
    }
    tb_pgsrc_lsn_text(copy_lsn, sn->lsn, sizeof sn->lsn);
    if (!joined) {
        s->start_lsn = s->resume_lsn = s->acked_lsn = start;
        tb_pgsrc_lsn_text(start, sn->plan.end.text, sizeof sn->plan.end.text);
    } /* else: the stored position stays; plan.end "" */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sn->commit_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    sn->plan.end.commit_us = sn->commit_us;
    sn->plan.workers = workers < sn->plan.nparts ? workers : sn->plan.nparts;
    if (sn->plan.workers < 1) sn->plan.workers = 1;
    sn->w = calloc((size_t)sn->plan.workers, sizeof *sn->w);
    if (!sn->w) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sn->plan.workers; i++)
        tb_arena_init(&sn->w[i].arena, 64 * 1024);
    *plan = sn->plan;
    return 0;
}

/* Connect worker i and import the exported snapshot. */
static int worker_connect(tb_source *s, pg_worker *w, tb_error *err)
{
    char q[128];
    w->conn = tb_pgconn_open(s->cfg->source.dsn, s->cfg->source.password, false,
                             "source (snapshot worker)", err);
    if (!w->conn) return -1;
    snprintf(q, sizeof q, "SET TRANSACTION SNAPSHOT '%s'", s->snap->name);
    if (tb_pgconn_exec(w->conn,
                       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting the snapshot", TB_ERR_SOURCE, err) < 0 ||
        tb_pgconn_exec(w->conn, q, "importing the exported snapshot",
                       TB_ERR_SOURCE, err) < 0)
        return -1;
    return 0;
}

/* The COPY statement of a part: binary, with the columns binary COPY
 * cannot give us as a tb_value read as text. */
static int part_query(const pg_snap *sn, const pg_part *p, tb_buf *q)
{
    const tb_table *t = sn->plan.tables[p->table];
    tb_buf_reset(q);
    tb_buf_puts(q, "COPY (SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        if (i) tb_buf_puts(q, ", ");
        tb_pgsql_ident(q, t->cols[i].name);
        if (!tb_pgbin_decodable(&t->cols[i])) tb_buf_puts(q, "::text");
    }
    tb_buf_puts(q, sn->relkind[p->table] == 'r' ? " FROM ONLY " : " FROM ");
    tb_pgsql_ident(q, t->schema);
    tb_buf_puts(q, ".");
    tb_pgsql_ident(q, t->name);
    if (p->ranged) {
        tb_buf_printf(q, " WHERE ctid >= '(%u,0)'::tid", p->lo);
        if (p->hi) tb_buf_printf(q, " AND ctid < '(%u,0)'::tid", p->hi);
    }
    if (tb_buf_puts(q, ") TO STDOUT (FORMAT binary)") < 0) return -1;
    return tb_buf_reserve(q, 1) < 0 ? -1 : (q->data[q->len] = '\0', 0);
}

/* Decode the n fields of one binary COPY tuple into w->row.after. */
static int decode_tuple(const tb_table *t, pg_worker *w, int n, const char *p,
                        const char *end, tb_error *err)
{
    if (n != t->ncols)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "snapshot of %s.%s: COPY sent %d fields, expected "
                            "%d",
                            t->schema, t->name, n, t->ncols);
    for (int i = 0; i < n; i++) {
        const char *f;
        int32_t len;
        if (tb_pgbin_next_field(&p, end, &f, &len, err) < 0) return -1;
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

int tb_pgsrc_snapshot_copy(tb_source *s, int part, int worker,
                           const tb_emit *emit, tb_error *err)
{
    pg_snap *sn = s->snap;
    pg_worker *w = &sn->w[worker];
    const pg_part *p = &sn->parts[part];
    const tb_table *t = sn->plan.tables[p->table];
    if (!w->conn && worker_connect(s, w, err) < 0) return -1;
    if (part_query(sn, p, &w->q) < 0 ||
        tb_rowbuf_reserve(&w->row, t->ncols) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    PGresult *r = PQexec(w->conn, (char *)w->q.data);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s", t->schema,
                     t->name, tb_pgconn_error(w->conn));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = -1;
    tx.commit_us = sn->commit_us;
    snprintf(tx.end.text, sizeof tx.end.text, "%s", sn->lsn);
    tb_change c;
    memset(&c, 0, sizeof c);
    c.op = TB_OP_READ;
    c.table = t;
    c.after = w->row.after;
    c.source.connector = "postgresql";
    c.source.name = s->cfg->name;
    c.source.db = s->dbname;
    c.source.position = sn->lsn;
    c.source.txid = -1;
    c.source.commit_us = sn->commit_us;
    c.source.snapshot = true;
    c.ts_ms = sn->commit_us / 1000;
    int rc = emit->begin(emit->ctx, &tx, err);
    bool first = true;
    long long rows = 0;
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
                rc = decode_tuple(t, w, nf, q, end, err);
                if (rc == 0) rc = emit->change(emit->ctx, &c, err);
                rows++;
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
    if (rc < 0) return -1;
    tb_log_debug("snapshot: %s copied, %lld rows", sn->plan.parts[part].key,
                 rows);
    return emit->commit(emit->ctx, &tx, err);
}

void tb_pgsrc_snapshot_end(tb_source *s, bool ok)
{
    if (!s->snap) return;
    snap_free(s->snap);
    s->snap = NULL;
    if (ok) s->need_snapshot = false;
}
