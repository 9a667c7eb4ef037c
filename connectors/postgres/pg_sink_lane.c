/*
 * pg_sink_lane.c - the sink's target connections ("lanes", pg_sink_int.h):
 * statements run now or sent ahead, the commit in flight on each lane and
 * the order sync() reports them in, and which keys each lane's batch
 * touched, so a batch on other keys may load while the previous commit is
 * still in flight.
 */
#include "pg_sink_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Forget the keys a lane's batch wrote (its commit is over). */
void tb_pgsink_lane_reset(lane *l)
{
    if (l->nkeys) memset(l->keys, 0, l->capkeys * sizeof *l->keys);
    l->nkeys = 0;
    l->allkeys = false;
}

/*
 * Read the results of the commit lane i sent (op_commit). The merges, the
 * state row and COMMIT went out as one message so the server works on them
 * while the agent already reads and buffers the next batch. Only the tag
 * "COMMIT" means durable (a failed transaction answers COMMIT with
 * ROLLBACK). A durable position joins the FIFO sync() reports from; a
 * failure breaks the sink: every later commit fails too.
 */
int tb_pgsink_lane_wait(tb_sink *s, int i, tb_error *err)
{
    lane *l = &s->lanes[i];
    if (!l->pending) return 0;
    l->pending = false;
    PGconn *keep = s->conn;
    s->conn = l->conn;
    PGresult *res, *bad = NULL;
    bool committed = false;
    while ((res = PQgetResult(l->conn))) {
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            if (!bad)
                bad = res;
            else
                PQclear(res);
            continue;
        }
        committed = strcmp(PQcmdStatus(res), "COMMIT") == 0;
        PQclear(res);
    }
    tb_pgsink_lane_reset(l);
    if ((bad || !committed) && PQtransactionStatus(l->conn) != PQTRANS_IDLE) {
        /* An error before COMMIT skips the rest of the message, COMMIT
         * included: end the failed transaction so the lane is usable. */
        PGresult *rb = PQexec(l->conn, "ROLLBACK");
        PQclear(rb);
    }
    if (bad || !committed) {
        s->context = l->pos.text;
        if (bad)
            tb_pgsink_pg_fail(s, bad, "committing", err);
        else
            tb_error_set(err, TB_ERR_TARGET,
                         "postgres target %s: the transaction was rolled "
                         "back at %s",
                         s->dsn_masked, l->pos.text);
        PQclear(bad);
        s->context = NULL;
        s->conn = keep;
        /* The batch's DDL and staging tables are gone with it. */
        tb_pgsink_tables_forget(s);
        if (!s->broken) {
            s->broken = true;
            s->broken_err = *err;
        }
        return -1;
    }
    s->conn = keep;
    if (l->pos.text[0] && s->ndone < TB_PGSINK_LANES)
        s->done[s->ndone++].pos = l->pos;
    return 0;
}

/* Read the results of the statement the current lane sent without waiting
 * (tb_pgsink_send_here). */
int tb_pgsink_lane_wait_busy(tb_sink *s, tb_error *err)
{
    lane *l = &s->lanes[s->cur];
    if (!l->busy) return 0;
    const char *what = l->busy;
    l->busy = NULL;
    PGresult *res, *bad = NULL;
    while ((res = PQgetResult(l->conn))) {
        ExecStatusType st = PQresultStatus(res);
        if ((st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) && !bad)
            bad = res;
        else
            PQclear(res);
    }
    if (!bad) return 0;
    tb_pgsink_pg_fail(s, bad, what, err);
    PQclear(bad);
    return -1;
}

/* The current lane: a statement sent ahead, or its commit (there is none
 * while a transaction is open). */
int tb_pgsink_wait_pending(tb_sink *s, tb_error *err)
{
    if (s->broken) {
        *err = s->broken_err;
        return -1;
    }
    if (tb_pgsink_lane_wait_busy(s, err) < 0) return -1;
    return tb_pgsink_lane_wait(s, s->cur, err);
}

/* Send statements on the current lane and go on: the server works on them
 * while the agent reads the source; whatever uses the lane next reads
 * their results first (and fails if they did). */
int tb_pgsink_send_here(tb_sink *s, const char *sql, const char *what,
                        tb_error *err)
{
    if (tb_pgsink_end_copying(s, err) < 0 || tb_pgsink_wait_pending(s, err) < 0)
        return -1;
    if (!PQsendQuery(s->conn, sql))
        return tb_pgsink_pg_fail(s, NULL, what, err);
    s->lanes[s->cur].busy = what;
    return 0;
}

/* The other lane's commit: before anything that must not overlap it. */
int tb_pgsink_wait_other(tb_sink *s, tb_error *err)
{
    if (tb_pgsink_wait_pending(s, err) < 0) return -1;
    for (int i = 0; i < TB_PGSINK_LANES; i++)
        if (i != s->cur && tb_pgsink_lane_wait(s, i, err) < 0) return -1;
    return 0;
}

/* Run statements on the current lane without waiting for the other one
 * (the caller made sure they cannot meet: lane_claim, or temp tables). */
int tb_pgsink_run_here(tb_sink *s, const char *sql, const char *what,
                       tb_error *err)
{
    if (tb_pgsink_end_copying(s, err) < 0 || tb_pgsink_wait_pending(s, err) < 0)
        return -1;
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tb_pgsink_pg_fail(s, res, what, err);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* Run one or more statements whose result carries no rows we need, after
 * any commit in flight on the other lane (DDL, TRUNCATE, key-less rows). */
int tb_pgsink_run(tb_sink *s, const char *sql, const char *what, tb_error *err)
{
    if (tb_pgsink_end_copying(s, err) < 0 || tb_pgsink_wait_other(s, err) < 0)
        return -1;
    return tb_pgsink_run_here(s, sql, what, err);
}

/* Run a tb_pgsink_query with text parameters and return its result (caller
 * clears); NULL with err filled when it failed. */
PGresult *tb_pgsink_query(tb_sink *s, const char *sql, int n,
                          const char *const *vals, const char *what,
                          tb_error *err)
{
    if (tb_pgsink_end_copying(s, err) < 0 || tb_pgsink_wait_other(s, err) < 0)
        return NULL;
    PGresult *res = PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tb_pgsink_pg_fail(s, res, what, err);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Why a connection attempt failed decides whether retrying can help: a
 * refused password or a missing database will not fix itself. */
static bool connect_is_permanent(const char *msg)
{
    static const char *const permanent[] = {
        "authentication failed", "no password supplied", "does not exist",
        "permission denied",     "no pg_hba.conf entry", "password is required",
    };
    for (size_t i = 0; i < sizeof permanent / sizeof *permanent; i++)
        if (strstr(msg, permanent[i])) return true;
    return false;
}

/* Open lane i's connection (the first at open, the second when commits
 * start to overlap) with the session settings every lane uses. */
int tb_pgsink_lane_connect(tb_sink *s, int i, tb_error *err)
{
    lane *l = &s->lanes[i];
    l->conn = PQconnectdb(s->conninfo);
    if (!l->conn) return tb_pgsink_nomem(err);
    PGconn *keep = s->conn;
    s->conn = l->conn;
    int rc = 0;
    if (PQstatus(l->conn) != CONNECTION_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(l->conn));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        bool permanent = connect_is_permanent(msg);
        tb_error_set(err, permanent ? TB_ERR_TARGET : TB_ERR_CONNECT,
                     "postgres target %s: cannot connect: %s", s->dsn_masked,
                     msg);
        if (!permanent) tb_error_retriable(err);
        rc = -1;
    } else {
        /* Fixed session settings: values are written in ISO / UTC text and
         * the ::text comparisons of keyless tables need exact float
         * output. */
        PGresult *res = PQexec(
            l->conn,
            "SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; "
            "SET extra_float_digits = 3; SET client_encoding = 'UTF8'; "
            "SET timezone = 'UTC'; SET application_name = 'tributary'; "
            "SET client_min_messages = warning");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = tb_pgsink_pg_fail(s, res, "setting up the session", err);
        PQclear(res);
    }
    s->conn = keep;
    if (rc < 0) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
    return rc;
}

/* Advisory lock key of the pipeline (first half; the lane is the second). */
int32_t tb_pgsink_lock_key(const tb_sink *s)
{
    uint32_t h = 2166136261u;
    for (const char *p = s->pipeline; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return (int32_t)(h & 0x7fffffff);
}

/* The sink's sync op: see tb_sink_ops.sync and pg_sink_int.h. */
int tb_pgsink_sync(tb_sink *s, tb_position *done, tb_error *err)
{
    done->text[0] = '\0';
    /* Commits are reported in the order they were sent: the oldest one in
     * flight first (a result read early waits in the FIFO). */
    if (s->ndone == 0) {
        int i = s->oldest;
        if (!s->lanes[i].pending)
            for (i = 0; i < TB_PGSINK_LANES && !s->lanes[i].pending; i++)
                ;
        if (i < TB_PGSINK_LANES) {
            tb_error ignore;
            tb_pgsink_lane_wait(s, i, &ignore); /* a failure sets s->broken */
        }
    }
    if (s->ndone > 0) {
        *done = s->done[0].pos;
        for (int i = 1; i < s->ndone; i++)
            s->done[i - 1] = s->done[i];
        s->ndone--;
        return 0;
    }
    if (s->broken) {
        *err = s->broken_err;
        /* Reported: once no later commit can depend on the failed one,
         * the sink takes new batches again. */
        bool any = false;
        for (int i = 0; i < TB_PGSINK_LANES; i++)
            any = any || s->lanes[i].pending;
        if (!any) s->broken = false;
        return -1;
    }
    return 0;
}

/* A row's key hash, mixed with the table (0 marks a free slot). */
static uint64_t key_hash64(const stable *st, const row *r)
{
    uint64_t h = r->hash ^ ((uint64_t)st->salt * 0x9e3779b97f4a7c15ull);
    return h ? h : 1;
}

static bool keys_has(const lane *l, uint64_t h)
{
    if (!l->capkeys) return false;
    for (size_t i = h & (l->capkeys - 1);; i = (i + 1) & (l->capkeys - 1)) {
        if (l->keys[i] == h) return true;
        if (!l->keys[i]) return false;
    }
}

static int keys_add(lane *l, uint64_t h)
{
    if (2 * (l->nkeys + 1) > l->capkeys) {
        size_t cap = l->capkeys ? 2 * l->capkeys : 4096;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v) return -1;
        for (size_t j = 0; j < l->capkeys; j++) {
            uint64_t x = l->keys[j];
            if (!x) continue;
            size_t i = x & (cap - 1);
            while (v[i])
                i = (i + 1) & (cap - 1);
            v[i] = x;
        }
        free(l->keys);
        l->keys = v;
        l->capkeys = cap;
    }
    size_t i = h & (l->capkeys - 1);
    while (l->keys[i] && l->keys[i] != h)
        i = (i + 1) & (l->capkeys - 1);
    if (!l->keys[i]) {
        l->keys[i] = h;
        l->nkeys++;
    }
    return 0;
}

/*
 * Before st's buffered rows are written on the current lane: if the other
 * lane's commit is still in flight and may touch the same rows (a shared
 * key, or a table without key), wait for it; then note these keys so the
 * next batch can tell. Two batches on different keys merge at once.
 */
int tb_pgsink_lane_claim(tb_sink *s, stable *st, tb_error *err)
{
    lane *me = &s->lanes[s->cur];
    const lane *other = NULL;
    for (int i = 0; i < TB_PGSINK_LANES; i++)
        if (i != s->cur && s->lanes[i].pending) other = &s->lanes[i];
    if (!st->nkeys) return other ? tb_pgsink_wait_other(s, err) : 0;
    if (other && st->ddl_ticket && st->ddl_ticket == other->ticket)
        return tb_pgsink_wait_other(s, err);
    if (other && other->allkeys) return tb_pgsink_wait_other(s, err);
    if (other && other->nkeys) {
        for (row *r = st->head; r; r = r->next)
            if (keys_has(other, key_hash64(st, r))) {
                if (tb_pgsink_wait_other(s, err) < 0) return -1;
                break;
            }
    }
    for (row *r = st->head; r && !me->allkeys; r = r->next) {
        if (me->nkeys >= LANE_KEYS_MAX) {
            /* A huge batch: stop remembering (memory stays bounded). */
            me->allkeys = true;
            break;
        }
        if (keys_add(me, key_hash64(st, r)) < 0) return tb_pgsink_nomem(err);
    }
    return 0;
}
