/*
 * my_snapshot.c - the parallel, resumable initial copy (tb_snapshot.h).
 *
 * snapshot_plan() opens one connection per worker and starts a consistent
 * snapshot on each. MariaDB needs no global lock for that: START
 * TRANSACTION WITH CONSISTENT SNAPSHOT makes the binlog position consistent
 * with the InnoDB read view, and the status variables binlog_snapshot_file
 * / binlog_snapshot_position report it (BINLOG_GTID_POS() turns it into the
 * GTID state). Oracle MySQL has no such variables: there a short FLUSH
 * TABLES WITH READ LOCK is held while every worker starts its snapshot and
 * SHOW MASTER STATUS is read, then released (untested here).
 *
 * Why equal positions mean equal snapshots: MariaDB commits transactions
 * to the binlog and to InnoDB in the same order (group commit), and the
 * snapshot start takes the commit-ordering lock, so a snapshot at binlog
 * position P contains exactly the transactions that end at or before P and
 * none that begin at or after it. Two snapshots reporting the same
 * position therefore contain the same transactions: the same data. The
 * workers' snapshots are started back to back and retried a few times
 * until their positions agree; then a large table with a single-column
 * integer primary key is split into key ranges that different workers
 * copy. If the positions still differ (a busy server), every table is one
 * part, copied wholly inside one snapshot, and its position is that of the
 * worker that copied it.
 *
 * Every part commits in the target with a mark "db.table#i/n" whose value
 * is its snapshot's position. A table whose n marks are all committed is
 * done and never copied again; any other table is copied again whole. The
 * stream starts at the earliest position any table needs, and skips each
 * table's changes in transactions that begin before the position of its
 * copy (my_stream.c), so nothing is missed or doubled.
 *
 * Threads: snapshot_copy() runs concurrently for different workers. Each
 * worker has its own connection, arena, value converter and row buffer;
 * the table shapes are read-only once planned. MariaDB Connector/C 3.x
 * needs no mysql_thread_init(): it is a deprecated no-op there, and a
 * connection is only ever used by one thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "my_source_int.h"
#include "tb_log.h"

#define START_TRIES 5 /* attempts at snapshots with one position */
#define COPY_NOW    3 /* planning: a table copied in this session */

/* One worker: its own connection inside its own consistent snapshot. */
typedef struct my_worker {
    MYSQL *sql;        /* connection holding the snapshot transaction */
    my_pos pos;        /* binlog position of the snapshot */
    tb_position text;  /* pos as text: the mark value of its parts */
    tb_arena arena;    /* converted values of the current row */
    tb_myrow_ctx rows; /* value converter state of this worker */
    tb_rowbuf row;     /* values of the current row */
} my_worker;

/* One part: a whole table or a range of its integer key. */
typedef struct my_part {
    my_table *tab;       /* table copied */
    int key;             /* key column index (ranges), -1 for whole */
    bool has_lo, has_hi; /* bounds present (the end ranges are open) */
    long long lo, hi;    /* lo <= key < hi */
    int worker;          /* worker that copied it, -1 before */
} my_part;

struct my_snap {
    my_worker *w;         /* nw workers */
    int nw;               /* workers opened */
    bool same;            /* every worker snapshot at one position */
    my_part *parts;       /* nparts, parallel to sparts */
    tb_snap_part *sparts; /* plan->parts */
    int nparts, capparts; /* used and allocated */
    tb_table **tables;    /* plan->tables */
    int ntables;          /* used */
    char **stale;         /* plan->stale (owned strings) */
    int nstale, capstale; /* used and allocated */
};

/* ---- marks ---------------------------------------------------------------
 */

static int mark_prefix(const char *db, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.%s#", db, name);
    /* room for "#iii/nnn" */
    return n < 0 || (size_t)n + 16 > cap ? -1 : n;
}

/* Parse "i/n" exactly; 0 / -1. */
static int part_numbers(const char *s, int *i, int *n)
{
    int used = 0;
    if (sscanf(s, "%d/%d%n", i, n, &used) != 2 || s[used] || *i < 1 || *n < 1 ||
        *i > *n)
        return -1;
    return 0;
}

int tb_mysrc_copy_state(const tb_marks *done, const char *db, const char *name,
                        my_pos *at, tb_error *err)
{
    char prefix[TB_MARK_KEY_MAX], key[TB_MARK_KEY_MAX + 32];
    int pl = mark_prefix(db, name, prefix, sizeof prefix);
    bool any = false;
    memset(at, 0, sizeof *at);
    if (pl < 0) return MY_COPY_NONE; /* too long to have marks */
    for (int k = 0; k < done->n; k++) {
        const char *mk = done->v[k].key;
        int i, n;
        if (strncmp(mk, prefix, (size_t)pl) != 0) continue;
        any = true;
        if (part_numbers(mk + pl, &i, &n) < 0) continue;
        /* Complete when parts 1..n of this plan are all present. */
        my_pos latest;
        bool complete = true;
        memset(&latest, 0, sizeof latest);
        for (int j = 1; j <= n && complete; j++) {
            snprintf(key, sizeof key, "%s%d/%d", prefix, j, n);
            const char *v = tb_marks_get(done, key);
            my_pos p;
            if (!v) {
                complete = false;
                break;
            }
            if (tb_mysrc_pos_parse(v, &p, err) < 0)
                return tb_error_prefix(err, "snapshot mark %s", key);
            if (j == 1 || tb_mysrc_pos_binlog_cmp(&p, &latest) > 0) latest = p;
        }
        if (complete) {
            *at = latest;
            return MY_COPY_DONE;
        }
    }
    return any ? MY_COPY_PARTIAL : MY_COPY_NONE;
}

/* Add every mark key of tab to the stale list. */
static int add_stale(my_snap *sn, const tb_marks *done, const my_table *tab,
                     tb_error *err)
{
    char prefix[TB_MARK_KEY_MAX];
    int pl = mark_prefix(tab->db, tab->name, prefix, sizeof prefix);
    if (pl < 0) return 0;
    for (int k = 0; k < done->n; k++) {
        if (strncmp(done->v[k].key, prefix, (size_t)pl) != 0) continue;
        if (sn->nstale == sn->capstale) {
            int cap = sn->capstale ? sn->capstale * 2 : 16;
            char **v = realloc(sn->stale, (size_t)cap * sizeof *v);
            if (!v) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            sn->stale = v;
            sn->capstale = cap;
        }
        if (!(sn->stale[sn->nstale] = strdup(done->v[k].key)))
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        sn->nstale++;
    }
    return 0;
}

/* ---- worker snapshots ----------------------------------------------------
 */

/* Binlog file and offset of the snapshot open on m (MariaDB). */
static int snapshot_coords(MYSQL *m, my_pos *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    MYSQL_RES *r = tb_mysrc_query(m, "SHOW STATUS LIKE 'binlog_snapshot_%'",
                                  "reading the snapshot position", err);
    if (!r) return -1;
    MYSQL_ROW row;
    bool have_pos = false;
    while ((row = mysql_fetch_row(r))) {
        if (strcmp(row[0], "Binlog_snapshot_file") == 0 && row[1])
            snprintf(out->file, sizeof out->file, "%s", row[1]);
        else if (strcmp(row[0], "Binlog_snapshot_position") == 0 && row[1]) {
            out->pos = strtoull(row[1], NULL, 10);
            have_pos = true;
        }
    }
    mysql_free_result(r);
    if (!out->file[0] || !have_pos)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "the server reports no binlog_snapshot_file / "
                            "binlog_snapshot_position (is the binary log "
                            "on?)");
    return 0;
}

/* The GTID state at a binlog position (MariaDB BINLOG_GTID_POS). */
static int snapshot_gtids(MYSQL *m, my_pos *p, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)p->pos);
    tb_buf_puts(&q, "SELECT BINLOG_GTID_POS(");
    tb_mysrc_quote_literal(m, &q, p->file);
    tb_buf_puts(&q, ", ");
    tb_buf_puts(&q, num);
    tb_buf_puts(&q, ")");
    MYSQL_RES *r = tb_mysrc_query(m, (const char *)q.data,
                                  "reading the snapshot's GTID state", err);
    tb_buf_free(&q);
    if (!r) return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    int rc = 0;
    if (row && row[0]) rc = tb_mysrc_gtid_list_parse(row[0], p, err);
    mysql_free_result(r);
    return rc;
}

static int begin_snapshot(my_worker *w, tb_error *err)
{
    return tb_mysrc_exec(w->sql, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
                         "starting the snapshot", err);
}

/* START TRANSACTION WITH CONSISTENT SNAPSHOT on every worker at once: the
 * statements are all sent before any reply is read, so the snapshots start
 * within a fraction of a round trip of each other and a commit rarely
 * slips in between. */
static int begin_snapshots(my_snap *sn, tb_error *err)
{
    static const char q[] = "START TRANSACTION WITH CONSISTENT SNAPSHOT";
    int sent = 0, rc = 0;
    for (; sent < sn->nw; sent++)
        if (mysql_send_query(sn->w[sent].sql, q, sizeof q - 1) != 0) break;
    for (int i = 0; i < sent; i++)
        if (mysql_read_query_result(sn->w[i].sql) != 0 && rc == 0)
            rc = tb_error_set(err, TB_ERR_SOURCE,
                              "starting the snapshot failed: %s",
                              mysql_error(sn->w[i].sql));
    if (rc == 0 && sent < sn->nw)
        rc =
            tb_error_set(err, TB_ERR_SOURCE, "starting the snapshot failed: %s",
                         mysql_error(sn->w[sent].sql));
    return rc;
}

/* Oracle MySQL: every snapshot starts under one brief global read lock, so
 * all share the position SHOW MASTER STATUS reports meanwhile. */
static int start_mysql(tb_source *s, my_snap *sn, tb_error *err)
{
    my_pos pos;
    int rc = tb_mysrc_exec(s->sql, "FLUSH TABLES WITH READ LOCK",
                           "locking for the snapshot position", err);
    if (rc < 0) return -1;
    for (int i = 0; i < sn->nw && rc == 0; i++)
        rc = begin_snapshot(&sn->w[i], err);
    /* With the GTID set too (SHOW MASTER STATUS's Executed_Gtid_Set) while
     * nothing can commit; a server without GTIDs has an empty one. */
    if (rc == 0) rc = tb_mysrc_server_position(s->sql, false, &pos, err);
    tb_error e;
    tb_mysrc_exec(s->sql, "UNLOCK TABLES", "unlocking", &e);
    if (rc < 0) return -1;
    for (int i = 0; i < sn->nw; i++)
        sn->w[i].pos = pos;
    sn->same = true;
    return 0;
}

/* Start every worker's snapshot, back to back, until they agree on one
 * position (or START_TRIES attempts). */
static int start_snapshots(tb_source *s, my_snap *sn, tb_error *err)
{
    if (!s->mariadb) {
        if (start_mysql(s, sn, err) < 0) return -1;
    } else {
        int attempt = 1;
        for (;; attempt++) {
            if (s->snap_between) {
                for (int i = 0; i < sn->nw; i++) {
                    if (i) s->snap_between(s->snap_between_ctx);
                    if (begin_snapshot(&sn->w[i], err) < 0) return -1;
                }
            } else if (begin_snapshots(sn, err) < 0) {
                return -1;
            }
            for (int i = 0; i < sn->nw; i++)
                if (snapshot_coords(sn->w[i].sql, &sn->w[i].pos, err) < 0)
                    return -1;
            sn->same = true;
            for (int i = 1; i < sn->nw; i++)
                if (tb_mysrc_pos_binlog_cmp(&sn->w[i].pos, &sn->w[0].pos))
                    sn->same = false;
            if (sn->same || attempt == START_TRIES) break;
            tb_log_debug("snapshot: worker positions differ (a commit "
                         "between the starts); attempt %d",
                         attempt + 1);
            for (int i = 0; i < sn->nw; i++)
                if (tb_mysrc_exec(sn->w[i].sql, "ROLLBACK",
                                  "restarting the snapshot", err) < 0)
                    return -1;
        }
        for (int i = 0; i < sn->nw; i++)
            if ((i == 0 || !sn->same) &&
                snapshot_gtids(sn->w[i].sql, &sn->w[i].pos, err) < 0)
                return -1;
        for (int i = 1; sn->same && i < sn->nw; i++)
            sn->w[i].pos = sn->w[0].pos;
        tb_log_info("snapshot: %d worker snapshots %s after %d attempt%s",
                    sn->nw,
                    sn->same ? "at one position"
                             : "at different "
                               "positions",
                    attempt, attempt == 1 ? "" : "s");
    }
    for (int i = 0; i < sn->nw; i++)
        tb_mysrc_pos_format(&sn->w[i].pos, &sn->w[i].text);
    return 0;
}

static int open_workers(tb_source *s, my_snap *sn, int n, tb_error *err)
{
    sn->w = calloc((size_t)n, sizeof *sn->w);
    if (!sn->w) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        my_worker *w = &sn->w[i];
        tb_arena_init(&w->arena, 256 * 1024);
        w->rows.arena = &w->arena;
        w->rows.zero_error = s->rows.zero_error;
        sn->nw = i + 1;
        w->sql = tb_mysrc_connect(&s->uri, s->cfg->source.password,
                                  "source (snapshot)", err);
        if (!w->sql) return -1;
        /* Rows are streamed (mysql_use_result) at the pace of the target:
         * give the server time to wait for us. */
        if (tb_mysrc_exec(w->sql,
                          "SET SESSION TRANSACTION ISOLATION LEVEL "
                          "REPEATABLE READ",
                          "setting the snapshot isolation", err) < 0 ||
            tb_mysrc_exec(w->sql, "SET SESSION net_write_timeout = 3600",
                          "setting the write timeout", err) < 0)
            return -1;
    }
    return 0;
}

/* ---- planning -------------------------------------------------------------
 */

/* Read tab's shape from the catalog and make it the current one. The core
 * registers the plan's tables itself, so it counts as announced. */
static int plan_shape(tb_source *s, my_table *tab, tb_error *err)
{
    tb_table *t;
    uint32_t *cs;
    if (tb_mysrc_shape_from_catalog(s, tab->db, tab->name, &t, &cs, err) < 0)
        return -1;
    if (tab->t && tb_shapes_keep(&s->retired, tab->t) < 0) {
        tb_table_free(t);
        free(cs);
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    free(tab->charsets);
    tab->t = t;
    tab->charsets = cs;
    tab->stale = false;
    tab->announced = true;
    return 0;
}

/* The table's size estimate from information_schema (InnoDB statistics). */
static int table_size(tb_source *s, const my_table *tab, long long *rows,
                      long long *bytes, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    *rows = *bytes = 0;
    tb_buf_puts(&q, "SELECT COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0) "
                    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
    tb_mysrc_quote_literal(s->sql, &q, tab->db);
    tb_buf_puts(&q, " AND TABLE_NAME = ");
    tb_mysrc_quote_literal(s->sql, &q, tab->name);
    MYSQL_RES *r = tb_mysrc_query(s->sql, (const char *)q.data,
                                  "reading table sizes", err);
    tb_buf_free(&q);
    if (!r) return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row) {
        *rows = strtoll(row[0], NULL, 10);
        *bytes = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(r);
    return 0;
}

/* The single integer key column of t, or -1. */
static int int_key(const tb_table *t)
{
    int key = -1;
    for (int i = 0; i < t->ncols; i++) {
        if (!t->cols[i].key) continue;
        if (key >= 0) return -1; /* composite */
        key = i;
    }
    if (key < 0) return -1;
    tb_kind k = t->cols[key].kind;
    return k == TB_KIND_INT || k == TB_KIND_LONG ? key : -1;
}

/* How many ranges a table of this size may be split into. */
static int wanted_ranges(const tb_source *s, const my_table *tab,
                         long long bytes, int workers)
{
    long long chunk = (long long)(s->cfg->source.snapshot_chunk_mb > 0
                                      ? s->cfg->source.snapshot_chunk_mb
                                      : 64)
                      << 20;
    if (int_key(tab->t) < 0 || bytes <= chunk) return 1;
    long long n = (bytes + chunk - 1) / chunk;
    return n > 2LL * workers ? 2 * workers : (int)n;
}

static tb_snap_part *new_part(my_snap *sn, my_table *tab, tb_error *err)
{
    if (sn->nparts == sn->capparts) {
        int cap = sn->capparts ? sn->capparts * 2 : 16;
        my_part *p = realloc(sn->parts, (size_t)cap * sizeof *p);
        if (p) sn->parts = p;
        tb_snap_part *q = realloc(sn->sparts, (size_t)cap * sizeof *q);
        if (q) sn->sparts = q;
        if (!p || !q) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        sn->capparts = cap;
    }
    my_part *p = &sn->parts[sn->nparts];
    tb_snap_part *q = &sn->sparts[sn->nparts++];
    memset(p, 0, sizeof *p);
    memset(q, 0, sizeof *q);
    p->tab = tab;
    p->key = -1;
    p->worker = -1;
    q->table = tab->t;
    return q;
}

/* Split tab into up to n ranges of its integer key, as worker 0's
 * snapshot sees it (the same data every worker sees). */
static int plan_ranges(my_snap *sn, my_table *tab, int n, long long est,
                       tb_error *err)
{
    int key = int_key(tab->t);
    long long lo = 0, hi = 0;
    bool ok = false;
    if (key >= 0 && n > 1) {
        tb_buf q = TB_BUF_INIT;
        tb_buf_puts(&q, "SELECT MIN(");
        tb_mysrc_quote_ident(&q, tab->t->cols[key].name);
        tb_buf_puts(&q, "), MAX(");
        tb_mysrc_quote_ident(&q, tab->t->cols[key].name);
        tb_buf_puts(&q, ") FROM ");
        tb_mysrc_quote_ident(&q, tab->db);
        tb_buf_puts(&q, ".");
        tb_mysrc_quote_ident(&q, tab->name);
        MYSQL_RES *r = tb_mysrc_query(sn->w[0].sql, (const char *)q.data,
                                      "reading key bounds", err);
        tb_buf_free(&q);
        if (!r) return -1;
        MYSQL_ROW row = mysql_fetch_row(r);
        ok = row && row[0] && row[1];
        if (ok) {
            errno = 0;
            lo = strtoll(row[0], NULL, 10);
            hi = strtoll(row[1], NULL, 10);
            ok = errno == 0 && hi >= lo;
        }
        mysql_free_result(r);
    }
    unsigned long long span =
        ok ? (unsigned long long)hi - (unsigned long long)lo : 0;
    if (span < (unsigned long long)n) n = span > 1 ? (int)span : 1;
    unsigned long long step = n > 1 ? span / (unsigned long long)n : 0;
    char prefix[TB_MARK_KEY_MAX];
    mark_prefix(tab->db, tab->name, prefix, sizeof prefix);
    for (int i = 0; i < n; i++) {
        tb_snap_part *sp = new_part(sn, tab, err);
        if (!sp) return -1;
        my_part *p = &sn->parts[sn->nparts - 1];
        char k[TB_MARK_KEY_MAX + 32]; /* fits: mark_prefix left room */
        snprintf(k, sizeof k, "%s%d/%d", prefix, i + 1, n);
        memcpy(sp->key, k, sizeof sp->key - 1);
        sp->est_rows = est / n;
        if (n == 1) break;
        p->key = key;
        /* The first and last ranges are open-ended. */
        p->has_lo = i > 0;
        p->lo = (long long)((unsigned long long)lo + step * (unsigned)i);
        p->has_hi = i < n - 1;
        p->hi = (long long)((unsigned long long)lo + step * (unsigned)(i + 1));
    }
    if (n > 1)
        tb_log_info("snapshot: %s.%s split into %d key ranges of %s", tab->db,
                    tab->name, n, tab->t->cols[key].name);
    return 0;
}

/* The binlog from pos on must still exist for the stream to start there. */
static int check_not_purged(tb_source *s, const my_pos *pos, tb_error *err)
{
    bool present = true;
    char oldest[128];
    if (!pos->file[0]) return 0;
    if (tb_mysrc_binlog_present(s->sql, pos->file, &present, oldest,
                                sizeof oldest, err) < 0)
        return -1;
    if (present) return 0;
    const char *schema =
        s->cfg->target.schema ? s->cfg->target.schema : "public";
    tb_error_set(err, TB_ERR_SOURCE,
                 "an interrupted snapshot cannot be resumed: tables it "
                 "finished need the binary log from %s:%llu, but the oldest "
                 "on the source is %s (purged). To start over, delete its "
                 "progress in the target and run again (every table is "
                 "copied anew): DELETE FROM %s._tributary_marks WHERE "
                 "pipeline = '%s'; DELETE FROM %s._tributary_state WHERE "
                 "pipeline = '%s';",
                 pos->file, (unsigned long long)pos->pos, oldest, schema,
                 s->cfg->name, schema, s->cfg->name);
    return tb_error_fatal(err);
}

int tb_mysrc_snapshot_plan(tb_source *s, const tb_marks *done, int workers,
                           tb_snap_plan *plan, tb_error *err)
{
    my_pos *at = NULL;
    int *state = NULL;
    long long *rows = NULL, *bytes = NULL;
    memset(plan, 0, sizeof *plan);
    plan->workers = 1;
    tb_mysrc_snapshot_end(s, false);
    my_snap *sn = calloc(1, sizeof *sn);
    int n = s->ntables ? s->ntables : 1;
    s->snap = sn;
    at = calloc((size_t)n, sizeof *at);
    state = calloc((size_t)n, sizeof *state);
    rows = calloc((size_t)n, sizeof *rows);
    bytes = calloc((size_t)n, sizeof *bytes);
    if (sn) sn->tables = calloc((size_t)n, sizeof *sn->tables);
    if (!sn || !at || !state || !rows || !bytes || !sn->tables) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (workers < 1) workers = 1;
    bool never = s->cfg->source.snapshot &&
                 strcmp(s->cfg->source.snapshot, "never") == 0;
    int nany = 0, ndone = 0, ncopy = 0;
    my_pos min_done;
    memset(&min_done, 0, sizeof min_done);
    for (int i = 0; i < s->ntables; i++) {
        my_table *tab = s->tables[i];
        tab->copied = false;
        state[i] = tb_mysrc_copy_state(done, tab->db, tab->name, &at[i], err);
        if (state[i] < 0) goto fail;
        if (state[i] != MY_COPY_NONE) nany++;
        if (state[i] != MY_COPY_DONE) continue;
        if (!ndone++ || tb_mysrc_pos_binlog_cmp(&at[i], &min_done) < 0)
            min_done = at[i];
        /* Its changes up to the copy are in the target already; at or
         * before the resume position the stream skips them anyway. */
        if (!s->have_resume ||
            tb_mysrc_pos_binlog_cmp(&at[i], &s->resume) > 0) {
            tab->copied = true;
            tab->copied_at = at[i];
        }
    }
    /* A pipeline that streams but has no marks at all was set up without
     * a copy (snapshot = never, or an older tributary): copy nothing. */
    bool legacy = s->have_resume && nany == 0;
    plan->reset = !s->have_resume && nany == 0;
    for (int i = 0; i < s->ntables; i++) {
        my_table *tab = s->tables[i];
        if (state[i] == MY_COPY_DONE) continue;
        if (state[i] == MY_COPY_PARTIAL && add_stale(sn, done, tab, err) < 0)
            goto fail;
        if (never || legacy) continue;
        if (s->have_resume)
            tb_log_info("snapshot: %s.%s joins the pipeline: copying it",
                        tab->db, tab->name);
        if (plan_shape(s, tab, err) < 0 ||
            table_size(s, tab, &rows[i], &bytes[i], err) < 0)
            goto fail;
        sn->tables[sn->ntables++] = tab->t;
        state[i] = COPY_NOW;
        ncopy++;
    }
    if (ndone && ncopy)
        tb_log_info("snapshot: resuming: %d tables already copied, %d to "
                    "copy",
                    ndone, ncopy);
    /* Where the stream starts: the resume position, else the earliest
     * position a table's copy is consistent with. */
    my_pos end = s->have_resume ? s->resume : ndone ? min_done : s->start;
    if (ncopy) {
        int maxparts = 0;
        for (int i = 0; i < s->ntables; i++)
            if (state[i] == COPY_NOW)
                maxparts += wanted_ranges(s, s->tables[i], bytes[i], workers);
        if (open_workers(s, sn, maxparts < workers ? maxparts : workers, err) <
                0 ||
            start_snapshots(s, sn, err) < 0)
            goto fail;
        tb_log_info("snapshot: %d workers, %s positions%s%s", sn->nw,
                    sn->same ? "equal" : "different", sn->same ? " at " : "",
                    sn->same ? sn->w[0].text.text : "");
        for (int i = 0; i < s->ntables; i++) {
            if (state[i] != COPY_NOW) continue;
            int nr = sn->same
                         ? wanted_ranges(s, s->tables[i], bytes[i], workers)
                         : 1;
            if (plan_ranges(sn, s->tables[i], nr, rows[i], err) < 0) goto fail;
        }
        for (int i = 0; !s->have_resume && i < sn->nw; i++)
            if ((!ndone && i == 0) ||
                tb_mysrc_pos_binlog_cmp(&sn->w[i].pos, &end) < 0)
                end = sn->w[i].pos;
    }
    if (ndone && !s->have_resume && check_not_purged(s, &min_done, err) < 0)
        goto fail;
    if (!s->have_resume) {
        s->start = end;
        s->boundary = end;
        s->cur = end;
        s->acked = end;
    }
    tb_mysrc_pos_format(&end, &plan->end);
    plan->tables = sn->tables;
    plan->ntables = sn->ntables;
    plan->parts = sn->sparts;
    plan->nparts = sn->nparts;
    plan->stale = sn->stale;
    plan->nstale = sn->nstale;
    plan->workers = sn->nw > 0 ? sn->nw : 1;
    free(at);
    free(state);
    free(rows);
    free(bytes);
    return 0;
fail:
    free(at);
    free(state);
    free(rows);
    free(bytes);
    tb_mysrc_snapshot_end(s, false);
    memset(plan, 0, sizeof *plan);
    return -1;
}

/* ---- copying --------------------------------------------------------------
 */

static int part_query(const my_part *p, tb_buf *q)
{
    const tb_table *t = p->tab->t;
    char num[32];
    tb_buf_puts(q, "SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        if (i) tb_buf_puts(q, ", ");
        tb_mysrc_quote_ident(q, t->cols[i].name);
    }
    tb_buf_puts(q, " FROM ");
    tb_mysrc_quote_ident(q, p->tab->db);
    tb_buf_puts(q, ".");
    tb_mysrc_quote_ident(q, p->tab->name);
    if (p->has_lo || p->has_hi) tb_buf_puts(q, " WHERE ");
    if (p->has_lo) {
        tb_mysrc_quote_ident(q, t->cols[p->key].name);
        snprintf(num, sizeof num, " >= %lld", p->lo);
        tb_buf_puts(q, num);
    }
    if (p->has_lo && p->has_hi) tb_buf_puts(q, " AND ");
    if (p->has_hi) {
        tb_mysrc_quote_ident(q, t->cols[p->key].name);
        snprintf(num, sizeof num, " < %lld", p->hi);
        tb_buf_puts(q, num);
    }
    return q->data ? 0 : -1;
}

int tb_mysrc_snapshot_copy(tb_source *s, int part, int worker,
                           const tb_emit *emit, tb_error *err)
{
    my_snap *sn = s->snap;
    if (!sn || part < 0 || part >= sn->nparts || worker < 0 || worker >= sn->nw)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "snapshot part %d / worker %d out of the plan",
                            part, worker);
    my_worker *w = &sn->w[worker];
    my_part *p = &sn->parts[part];
    const char *key = sn->sparts[part].key;
    const tb_table *t = p->tab->t;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = -1;
    tx.commit_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    tx.end = w->text;
    if (tb_rowbuf_reserve(&w->row, t->ncols) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    tb_buf q = TB_BUF_INIT;
    if (part_query(p, &q) < 0) {
        tb_buf_free(&q);
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    int qrc = mysql_query(w->sql, (const char *)q.data);
    tb_buf_free(&q);
    /* Rows stream from the server as they are applied: memory stays
     * bounded whatever the table size. */
    MYSQL_RES *r = qrc == 0 ? mysql_use_result(w->sql) : NULL;
    if (!r)
        return tb_error_set(err, TB_ERR_SOURCE, "copying %s failed: %s", key,
                            mysql_error(w->sql));
    tb_change c;
    tb_change_init_read(&c, t, w->row.after, "mysql", s->cfg->name, p->tab->db,
                        w->text.text, tx.commit_us);
    long long n = 0;
    int rc = emit->begin(emit->ctx, &tx, err);
    MYSQL_ROW row;
    while (rc == 0 && (row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        for (int i = 0; i < t->ncols && rc == 0; i++)
            rc =
                tb_myrow_from_text(&w->rows, t, i, row[i], row[i] ? lens[i] : 0,
                                   &w->row.after[i], err);
        if (rc == 0) rc = emit->change(emit->ctx, &c, err);
        tb_arena_reset(&w->arena);
        n += rc == 0;
    }
    if (rc == 0 && mysql_errno(w->sql))
        rc = tb_error_set(err, TB_ERR_SOURCE, "copying %s failed: %s", key,
                          mysql_error(w->sql));
    /* After an error this also reads what is left of the result, so the
     * connection stays usable. */
    mysql_free_result(r);
    if (rc == 0) rc = emit->commit(emit->ctx, &tx, err);
    if (rc < 0) return -1;
    p->worker = worker;
    tb_log_info("snapshot: %s copied by worker %d, %lld rows at %s", key,
                worker, n, w->text.text);
    return 0;
}

void tb_mysrc_snapshot_end(tb_source *s, bool ok)
{
    my_snap *sn = s->snap;
    if (!sn) return;
    /* The stream learns where each copied table's copy stands. */
    for (int i = 0; ok && i < sn->nparts; i++) {
        my_part *p = &sn->parts[i];
        if (p->worker < 0) continue;
        const my_pos *at = &sn->w[p->worker].pos;
        if (!p->tab->copied ||
            tb_mysrc_pos_binlog_cmp(at, &p->tab->copied_at) > 0) {
            p->tab->copied = true;
            p->tab->copied_at = *at;
        }
    }
    for (int i = 0; i < sn->nw; i++) {
        my_worker *w = &sn->w[i];
        if (w->sql) {
            tb_error e;
            tb_mysrc_exec(w->sql, ok ? "COMMIT" : "ROLLBACK",
                          "ending the snapshot", &e);
            mysql_close(w->sql);
        }
        s->rows.zero_count += w->rows.zero_count;
        tb_myrow_ctx_free(&w->rows);
        tb_rowbuf_free(&w->row);
        tb_arena_free(&w->arena);
    }
    for (int i = 0; i < sn->nstale; i++)
        free(sn->stale[i]);
    free(sn->stale);
    free(sn->w);
    free(sn->parts);
    free(sn->sparts);
    free(sn->tables);
    free(sn);
    s->snap = NULL;
}
