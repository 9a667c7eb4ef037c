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
 * acknowledged), so the stream can still start there. Tables whose parts
 * are all marked stay; the rest is copied from a new exported snapshot (a
 * temporary slot's, at LSN S > C):
 *
 *  - A table cut off mid-copy goes on range by range: only its missing
 *    ranges are copied, at S, and merged (upsert) into what is there.
 *    Ranges from two snapshots do not fit together by themselves (a row
 *    updated in between moves to another ctid, a deleted one leaves its
 *    old copy behind), so the first remaining part also reads again every
 *    row of the committed ranges written since the first snapshot (xmin at
 *    or past its xmin: a row that moved arrives whole, with values an
 *    update left out), and names every key the table has at S
 *    (TB_OP_KEEP), so the target drops rows whose key is gone. The table
 *    then equals the source at S, like a whole copy: the stream skips its
 *    transactions that commit before S. This needs the ctids and shape of
 *    the first snapshot: the "pg:<oid>:split" mark stores its split,
 *    relfilenode, shape hash and snapshot xmin, each worker locks the
 *    table and checks its relfilenode before reading it, and a table
 *    rewritten (VACUUM FULL, CLUSTER, TRUNCATE) or changed in shape since
 *    is copied again whole. So is a table without a key (REPLICA IDENTITY
 *    FULL), whose rows cannot be merged.
 *  - Any other unfinished table is emptied and copied again whole at S,
 *    and the stream skips its transactions that commit before S (the new
 *    copy holds them), the rule PostgreSQL's own table synchronisation
 *    uses. A table's stream rule is learned back from its part marks: the
 *    latest LSN among them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_snapshot_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "pgwire.h"
#include "tb_log.h"

/* A table's split as its first (whole) copy stored it: "pg:<oid>:split" =
 * "<pages> <n> <relfilenode> <shape hash> <snapshot xmin>". */
typedef struct pg_split {
    int64_t pages;     /* table size in blocks when it was split */
    int n;             /* parts */
    uint32_t filenode; /* pg_class.relfilenode in that snapshot */
    uint64_t shape;    /* hash of the columns (names, types, key) */
    uint64_t xmin;     /* that snapshot's xmin (xid8) */
} pg_split;

/* What the marks say about one table's parts. */
typedef struct pg_marked {
    int n;              /* parts in the split, 0 when none is marked */
    int have;           /* parts marked */
    bool stale;         /* marks of two splits, or unreadable */
    uint64_t max;       /* highest LSN among them */
    uint8_t done[1024]; /* part i committed */
} pg_marked;

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
    memset(rel, 0, sizeof *rel);
    *res = tb_pgconn_query(s->sql, sql, "reading table columns", TB_ERR_SOURCE,
                           err);
    if (!*res) return -1;
    int n = PQntuples(*res);
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

/* Collect the part marks of table oid. */
static void marked_parts(const tb_marks *done, uint32_t oid, pg_marked *m)
{
    memset(m, 0, sizeof *m);
    for (int k = 0; k < done->n; k++) {
        uint32_t o;
        int i, n;
        uint64_t l;
        tb_error e;
        if (!part_key(done->v[k].key, &o, &i, &n) || o != oid) continue;
        if (m->n && n != m->n) m->stale = true; /* two different splits */
        m->n = n;
        if (n < 1 || n > (int)sizeof m->done || i < 0 || i >= n ||
            tb_pgwire_lsn_parse(done->v[k].value, &l, &e) < 0) {
            m->stale = true;
            continue;
        }
        if (m->done[i]) continue;
        m->done[i] = 1;
        m->have++;
        if (l > m->max) m->max = l;
    }
}

/* Every part of the table is in. */
static bool marked_all(const pg_marked *m)
{
    return m->n > 0 && !m->stale && m->have == m->n;
}

/* A table whose parts are all in equals its source at the latest of
 * their snapshots (a resumed copy ends equal to its last one): the stream
 * skips its transactions committing before that. */
static int stream_rule(tb_source *s, uint32_t oid, const pg_marked *m,
                       uint64_t start, tb_error *err)
{
    if (m->max <= start) return 0;
    return add_skip(s, oid, m->max, err);
}

static int split_key(char *key, size_t n, uint32_t oid)
{
    return snprintf(key, n, "pg:%u:split", oid);
}

static bool split_get(const tb_marks *done, uint32_t oid, pg_split *sp)
{
    char key[64];
    split_key(key, sizeof key, oid);
    const char *v = tb_marks_get(done, key);
    long long pages;
    unsigned long long shape, xmin;
    unsigned filenode;
    int n;
    if (!v || sscanf(v, "%lld %d %u %llu %llu", &pages, &n, &filenode, &shape,
                     &xmin) != 5)
        return false;
    sp->pages = pages;
    sp->n = n;
    sp->filenode = filenode;
    sp->shape = shape;
    sp->xmin = xmin;
    return n > 1 && pages > 0;
}

/* A stale mark to delete in the emptying transaction. */
static int add_stale(pg_snap *sn, const char *key, tb_error *err)
{
    if (sn->plan.nstale == sn->cap_stale) {
        int cap = sn->cap_stale ? sn->cap_stale * 2 : 16;
        char *k = realloc(sn->stale_keys, (size_t)cap * TB_MARK_KEY_MAX);
        char **v = realloc(sn->plan.stale, (size_t)cap * sizeof *v);
        if (k) sn->stale_keys = k;
        if (v) sn->plan.stale = v;
        if (!k || !v) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        sn->cap_stale = cap;
    }
    snprintf(sn->stale_keys + TB_MARK_KEY_MAX * sn->plan.nstale,
             TB_MARK_KEY_MAX, "%s", key);
    sn->plan.nstale++;
    return 0;
}

/* FNV-1a over the columns a copy depends on. */
static uint64_t shape_hash(const tb_pgo_rel *rel)
{
    uint64_t h = 1469598103934665603ull;
    char buf[64];
    for (int i = 0; i < rel->ncols; i++) {
        const char *parts[2] = {rel->cols[i].name, buf};
        snprintf(buf, sizeof buf, "|%u|%d|%d|", rel->cols[i].type_oid,
                 rel->cols[i].type_mod, rel->cols[i].key ? 1 : 0);
        for (int k = 0; k < 2; k++)
            for (const char *p = parts[k]; *p; p++) {
                h ^= (unsigned char)*p;
                h *= 1099511628211ull;
            }
    }
    return h;
}

/* Catalog facts about a table, read in the copy's snapshot. */
typedef struct pg_facts {
    char kind;         /* relkind */
    int64_t pages;     /* size in blocks now */
    double rows;       /* estimate */
    uint32_t filenode; /* relfilenode in the snapshot */
    uint64_t shape;    /* shape_hash */
} pg_facts;

/* Append a part of table t covering [lo, hi) of n ranges (index i). */
static int add_part(pg_snap *sn, const pg_table_ref *ref, int t, int64_t i,
                    int64_t n, int64_t pages, double rows, tb_error *err)
{
    tb_snap_part *np =
        realloc(sn->plan.parts, (size_t)(sn->plan.nparts + 1) * sizeof *np);
    if (!np) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    sn->plan.parts = np;
    pg_part *pp =
        realloc(sn->parts, (size_t)(sn->plan.nparts + 1) * sizeof *pp);
    if (!pp) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    sn->parts = pp;
    tb_snap_part *p = &sn->plan.parts[sn->plan.nparts];
    pg_part *q = &sn->parts[sn->plan.nparts];
    memset(p, 0, sizeof *p);
    memset(q, 0, sizeof *q);
    q->table = t;
    q->ranged = n > 1;
    q->lo = (uint32_t)(pages * i / n);
    q->hi = i == n - 1 ? 0 : (uint32_t)(pages * (i + 1) / n);
    p->table = sn->plan.tables[t];
    p->est_rows = (int64_t)(rows / (double)n);
    /* The name is only for people reading the marks: cut to fit. */
    int k = snprintf(p->key, sizeof p->key, "pg:%u:%lld/%lld:", ref->oid,
                     (long long)i, (long long)n);
    int room = (int)sizeof p->key - k - 1;
    snprintf(p->key + k, (size_t)room + 1, "%.*s.%.*s", room / 2, ref->schema,
             room - room / 2 - 1, ref->name);
    sn->plan.nparts++;
    return 0;
}

/* The committed ranges of a resumed table, as a WHERE clause; -1 on OOM. */
static int recheck_ranges(tb_buf *b, const pg_split *sp, const pg_marked *m)
{
    bool first = true;
    for (int i = 0; i < sp->n; i++) {
        if (!m->done[i] || (i > 0 && m->done[i - 1])) continue;
        int j = i;
        while (j + 1 < sp->n && m->done[j + 1])
            j++;
        uint32_t lo = (uint32_t)(sp->pages * i / sp->n);
        if (tb_buf_printf(b, "%s(ctid >= '(%u,0)'::tid", first ? "(" : " OR ",
                          lo) < 0 ||
            (j < sp->n - 1 &&
             tb_buf_printf(b, " AND ctid < '(%u,0)'::tid",
                           (uint32_t)(sp->pages * (j + 1) / sp->n)) < 0) ||
            tb_buf_puts(b, ")") < 0)
            return -1;
        first = false;
    }
    return tb_buf_puts(b, first ? "false" : ")");
}

/* Read shape and catalog facts of a configured table and add it to the
 * plan (its parts come separately). */
static int plan_add_table(tb_source *s, pg_snap *sn, const pg_table_ref *ref,
                          pg_facts *f, tb_error *err)
{
    tb_pgo_rel wire;
    PGresult *res = NULL, *sz = NULL;
    pg_rel *rel = NULL;
    char sql[512];
    int rc = catalog_relation(s, ref, &wire, &res, err);
    if (rc == 0) {
        f->shape = shape_hash(&wire);
        rc = tb_pgsrc_relation(s, &wire, &rel, err);
    }
    free(wire.cols);
    PQclear(res);
    if (rc < 0) return -1;
    if (!rel || !rel->table)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "table %s.%s has no replicable shape", ref->schema,
                            ref->name);
    /* The core registers plan tables; the stream need not announce them. */
    rel->announced = true;
    /* In the copy's snapshot: the relfilenode its ctids belong to. */
    snprintf(sql, sizeof sql,
             "SELECT c.relkind, pg_relation_size(c.oid) / "
             "current_setting('block_size')::bigint, greatest(c.reltuples, "
             "0) + coalesce((SELECT sum(greatest(l.reltuples, 0)) FROM "
             "pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid "
             "WHERE t.relid <> c.oid), 0), c.relfilenode FROM pg_class c "
             "WHERE c.oid = %u",
             ref->oid);
    sz = tb_pgconn_query(sn->probe, sql, "sizing a table", TB_ERR_SOURCE, err);
    if (!sz) return -1;
    if (PQntuples(sz) != 1) {
        PQclear(sz);
        return tb_error_set(err, TB_ERR_SOURCE, "table %s.%s disappeared",
                            ref->schema, ref->name);
    }
    f->kind = PQgetvalue(sz, 0, 0)[0];
    f->pages = atoll(PQgetvalue(sz, 0, 1));
    f->rows = atof(PQgetvalue(sz, 0, 2));
    f->filenode = (uint32_t)strtoul(PQgetvalue(sz, 0, 3), NULL, 10);
    PQclear(sz);
    int t = sn->plan.ntables++;
    sn->plan.tables[t] = rel->table;
    sn->rels[t] = rel;
    sn->relkind[t] = f->kind;
    return t;
}

/* Plan a whole copy of a table: ranges for a plain table larger than a
 * chunk, at least one per worker then, so one big table keeps every
 * worker busy. A split table stores how it was split. */
static int plan_whole(tb_source *s, pg_snap *sn, const pg_table_ref *ref,
                      int64_t chunk_pages, int workers, tb_error *err)
{
    pg_facts f;
    int t = plan_add_table(s, sn, ref, &f, err);
    if (t < 0) return -1;
    int64_t n = 1;
    if (f.kind == 'r' && f.pages > chunk_pages) {
        n = (f.pages + chunk_pages - 1) / chunk_pages;
        if (n < workers) n = workers;
        if (n > 1024) n = 1024;
    }
    char key[64], value[160];
    split_key(key, sizeof key, ref->oid);
    if (n > 1) {
        snprintf(value, sizeof value, "%lld %d %u %llu %llu",
                 (long long)f.pages, (int)n, f.filenode,
                 (unsigned long long)f.shape, (unsigned long long)sn->xmin);
        if (tb_marks_add(&sn->books, key, value) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        if (add_part(sn, ref, t, i, n, f.pages, f.rows, err) < 0) return -1;
    return 0;
}

/* Plan the rest of a table cut off mid-copy: its missing ranges, and the
 * committed ranges' rows written since the first snapshot. 0 when it
 * cannot resume by range (then nothing was added). */
static int plan_resumed(tb_source *s, pg_snap *sn, const pg_table_ref *ref,
                        const pg_marked *m, const pg_split *sp, tb_error *err)
{
    pg_facts f;
    if (ref->replident != 'd' && ref->replident != 'i') return 0;
    int t = plan_add_table(s, sn, ref, &f, err);
    if (t < 0) return -1;
    const tb_table *tt = sn->plan.tables[t];
    bool key = false;
    for (int i = 0; i < tt->ncols; i++)
        key |= tt->cols[i].key;
    const char *why = f.kind != 'r'                ? "it is not a plain table"
                      : !key                       ? "it has no key"
                      : f.filenode != sp->filenode ? "it was rewritten since "
                                                     "(VACUUM FULL, CLUSTER, "
                                                     "TRUNCATE)"
                      : f.shape != sp->shape       ? "its columns changed"
                                                   : NULL;
    if (why) {
        tb_log_info("snapshot: %s.%s copied again whole: %s", ref->schema,
                    ref->name, why);
        sn->plan.ntables--; /* the relation stays known to the stream */
        return 0;
    }
    sn->keep[t] = true;
    sn->since[t] = sp->xmin;
    sn->filenode[t] = sp->filenode;
    tb_buf w = TB_BUF_INIT;
    if (recheck_ranges(&w, sp, m) < 0 || tb_buf_reserve(&w, 1) < 0) {
        tb_buf_free(&w);
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    w.data[w.len] = '\0';
    sn->recheck[t] = (char *)w.data;
    int first = sn->plan.nparts;
    for (int i = 0; i < sp->n; i++)
        if (!m->done[i] &&
            add_part(sn, ref, t, i, sp->n, sp->pages, f.rows, err) < 0)
            return -1;
    if (sn->plan.nparts > first) sn->parts[first].recheck = true;
    tb_log_info("snapshot: resuming %s.%s: %d of %d ranges already copied",
                ref->schema, ref->name, m->have, sp->n);
    return 1;
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

PGconn *tb_pgsnap_import(tb_source *s, const char *name, const char *what,
                         tb_error *err)
{
    char q[128];
    PGconn *c = tb_pgconn_open(s->cfg->source.dsn, s->cfg->source.password,
                               false, what, err);
    if (!c) return NULL;
    /* Parts hold their tables' ACCESS SHARE locks to the end of the copy;
     * one queued behind a DDL or VACUUM FULL that waits for another
     * worker's lock would wait for ever: give up instead (the next run
     * plans again). */
    if (tb_pgconn_exec(c, "SET lock_timeout = '60s'", "setting lock_timeout",
                       TB_ERR_SOURCE, err) < 0) {
        PQfinish(c);
        return NULL;
    }
    snprintf(q, sizeof q, "SET TRANSACTION SNAPSHOT '%s'", name);
    if (tb_pgconn_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting the snapshot", TB_ERR_SOURCE, err) < 0 ||
        tb_pgconn_exec(c, q, "importing the exported snapshot", TB_ERR_SOURCE,
                       err) < 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* The probe: plans in the copy's snapshot; learns its xmin. */
static int probe_open(tb_source *s, pg_snap *sn, tb_error *err)
{
    sn->probe = tb_pgsnap_import(s, sn->name, "source (snapshot plan)", err);
    if (!sn->probe) return -1;
    PGresult *r = tb_pgconn_query(
        sn->probe, "SELECT txid_snapshot_xmin(txid_current_snapshot())",
        "reading the snapshot", TB_ERR_SOURCE, err);
    if (!r) return -1;
    sn->xmin = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
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
        free(w->checked);
    }
    free(sn->w);
    if (sn->probe) PQfinish(sn->probe);
    if (sn->export_conn) PQfinish(sn->export_conn); /* drops the temp slot */
    for (int i = 0; sn->recheck && i < sn->plan.ntables; i++)
        free(sn->recheck[i]);
    free(sn->recheck);
    free(sn->since);
    free(sn->filenode);
    free(sn->keep);
    free(sn->plan.tables);
    free(sn->plan.parts);
    free(sn->plan.stale);
    free(sn->stale_keys);
    free(sn->markv);
    tb_marks_free(&sn->books);
    free(sn->rels);
    free(sn->relkind);
    free(sn->parts);
    free(sn);
}

/* Streaming: learn from the marks which tables' early transactions an
 * earlier run's copy already holds. */
static int learn_rules(tb_source *s, const tb_marks *done, tb_error *err)
{
    for (int i = 0; i < s->ntables; i++) {
        pg_marked m;
        marked_parts(done, s->tables[i].oid, &m);
        if (marked_all(&m) &&
            stream_rule(s, s->tables[i].oid, &m, s->resume_lsn, err) < 0)
            return -1;
    }
    return 0;
}

int tb_pgsrc_snapshot_plan(tb_source *s, const tb_marks *done, int workers,
                           tb_snap_plan *plan, tb_error *err)
{
    memset(plan, 0, sizeof *plan);
    s->nskips = 0;
    if (!s->need_snapshot) {
        if (learn_rules(s, done, err) < 0) return -1;
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
    sn->keep = calloc((size_t)nt, sizeof *sn->keep);
    sn->recheck = calloc((size_t)nt, sizeof *sn->recheck);
    sn->since = calloc((size_t)nt, sizeof *sn->since);
    sn->filenode = calloc((size_t)nt, sizeof *sn->filenode);
    if (!sn->plan.tables || !sn->rels || !sn->relkind || !sn->keep ||
        !sn->recheck || !sn->since || !sn->filenode)
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
            pg_marked m;
            marked_parts(done, s->tables[i].oid, &m);
            left += !marked_all(&m);
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
        if (left && (export_snapshot(s, sn, &copy_lsn, err) < 0 ||
                     probe_open(s, sn, err) < 0))
            return -1;
        for (int i = 0; i < s->ntables; i++) {
            const pg_table_ref *ref = &s->tables[i];
            pg_marked m;
            pg_split sp;
            marked_parts(done, ref->oid, &m);
            if (marked_all(&m)) {
                if (stream_rule(s, ref->oid, &m, start, err) < 0) return -1;
                continue;
            }
            int rc = 0;
            if (m.have && !m.stale && split_get(done, ref->oid, &sp) &&
                sp.n == m.n)
                rc = plan_resumed(s, sn, ref, &m, &sp, err);
            if (rc < 0) return -1;
            if (rc > 0) {
                /* The resumed copy ends equal to the source at copy_lsn. */
                if (copy_lsn > start &&
                    add_skip(s, ref->oid, copy_lsn, err) < 0)
                    return -1;
                continue;
            }
            /* Copied again whole: marks of the earlier split are stale. */
            for (int k = 0; k < done->n; k++) {
                uint32_t o;
                int a, b;
                char key[64];
                split_key(key, sizeof key, ref->oid);
                if (((part_key(done->v[k].key, &o, &a, &b) && o == ref->oid) ||
                     strcmp(done->v[k].key, key) == 0) &&
                    add_stale(sn, done->v[k].key, err) < 0)
                    return -1;
            }
            if (copy_lsn > start && add_skip(s, ref->oid, copy_lsn, err) < 0)
                return -1;
            if (plan_whole(s, sn, ref, chunk_pages, workers, err) < 0)
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
        if (probe_open(s, sn, err) < 0) return -1;
        sn->plan.reset = true;
        char lsn[32];
        tb_pgsrc_lsn_text(start, lsn, sizeof lsn);
        snprintf(sn->slot_mark, sizeof sn->slot_mark, "%s@%s", slot, lsn);
        if (tb_marks_add(&sn->books, "pg:slot", sn->slot_mark) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        for (int i = 0; i < s->ntables; i++)
            if (plan_whole(s, sn, &s->tables[i], chunk_pages, workers, err) < 0)
                return -1;
    }
    /* The planning connection is done; workers import on their own. */
    if (sn->probe) {
        PQfinish(sn->probe);
        sn->probe = NULL;
    }
    for (int i = 0; i < sn->plan.nstale; i++)
        sn->plan.stale[i] = sn->stale_keys + TB_MARK_KEY_MAX * i;
    if (sn->books.n) {
        sn->markv = calloc((size_t)sn->books.n * 2, sizeof *sn->markv);
        if (!sn->markv) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        for (int i = 0; i < sn->books.n; i++) {
            sn->markv[2 * i] = sn->books.v[i].key;
            sn->markv[2 * i + 1] = sn->books.v[i].value;
        }
        sn->plan.marks = sn->markv;
        sn->plan.nmarks = sn->books.n;
    }
    sn->plan.keep = sn->keep;
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
    for (int i = 0; i < sn->plan.workers; i++) {
        tb_arena_init(&sn->w[i].arena, 64 * 1024);
        sn->w[i].checked = calloc((size_t)nt, 1);
        if (!sn->w[i].checked)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    *plan = sn->plan;
    return 0;
}

void tb_pgsrc_snapshot_end(tb_source *s, bool ok)
{
    if (!s->snap) return;
    snap_free(s->snap);
    s->snap = NULL;
    if (ok) s->need_snapshot = false;
}
