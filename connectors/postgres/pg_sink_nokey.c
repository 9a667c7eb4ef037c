/*
 * pg_sink_nokey.c - changes that cannot be collapsed by key: tables without
 * a primary key (each update or delete touches exactly one matching row)
 * and primary-key changes whose new image lacks unsent values.
 */
#include "pg_sink_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_conn.h"
#include "pg_types.h"
#include "tb_log.h"

/* ---------------------------------------------------------------------- */
/* Statements with parameters (tables without key, rare key changes)      */

/* Start a new parameter list. */
static void params_reset(tb_sink *s)
{
    tb_buf_reset(&s->params);
}

/* Add a parameter: the value's PostgreSQL text, NULL for NULL, or str
 * when str is not NULL. Returns its 1-based number, or -1 on failure. */
static int param_add(tb_sink *s, int n, const tb_column *col, const tb_value *v,
                     const char *str, tb_error *err)
{
    if (n >= s->pcap) {
        int cap = s->pcap ? s->pcap * 2 : 64;
        while (cap <= n)
            cap *= 2;
        size_t *o = realloc(s->poffs, (size_t)cap * sizeof *o);
        if (!o) return tb_pgsink_nomem(err);
        s->poffs = o;
        const char **p = realloc(s->pvals, (size_t)cap * sizeof *p);
        if (!p) return tb_pgsink_nomem(err);
        s->pvals = p;
        s->pcap = cap;
    }
    if (!str && (!v || v->state != TB_VALUE_SET)) {
        s->poffs[n] = SIZE_MAX;
        return n + 1;
    }
    s->poffs[n] = s->params.len;
    if (str) {
        if (tb_buf_puts(&s->params, str) < 0) return tb_pgsink_nomem(err);
    } else if (tb_pgtype_format_text(col, v, &s->params, err) < 0) {
        return tb_error_prefix(err, "column %s", col->name);
    }
    if (tb_buf_append(&s->params, "", 1) < 0) return tb_pgsink_nomem(err);
    return n + 1;
}

/* Resolve offsets to pointers once the buffer stopped moving. */
static const char *const *params_ptrs(tb_sink *s, int n)
{
    for (int i = 0; i < n; i++)
        s->pvals[i] = s->poffs[i] == SIZE_MAX
                          ? NULL
                          : (const char *)s->params.data + s->poffs[i];
    return s->pvals;
}

/* Mask of '0'/'1' per shape column: 1 where vals[i] is UNCHANGED. */
static int mask_param(tb_sink *s, stable *st, const tb_value *vals, int n,
                      tb_error *err)
{
    char *m = malloc((size_t)st->shape->ncols + 1);
    if (!m) return tb_pgsink_nomem(err);
    for (int i = 0; i < st->shape->ncols; i++)
        m[i] = vals && vals[i].state == TB_VALUE_UNCHANGED ? '1' : '0';
    m[st->shape->ncols] = '\0';
    int rc = param_add(s, n, NULL, NULL, m, err);
    free(m);
    return rc;
}

/* "WHERE ctid = (SELECT ctid FROM T t WHERE <every column matches> LIMIT 1)"
 * with the before mask in $mask and values from $first on. NULL matches
 * NULL; types without equality compare their text. */
static int match_one(tb_buf *b, const stable *st, int mask, int first)
{
    const char *T = (const char *)st->qname.data;
    if (tb_buf_printf(b, " WHERE ctid = (SELECT ctid FROM %s t WHERE true", T) <
        0)
        return -1;
    for (int i = 0; i < st->shape->ncols; i++) {
        const tcol *tc = &st->tcols[st->tmap[i]];
        if (tb_buf_printf(b, " AND (substr($%d, %d, 1) = '1' OR t.", mask,
                          i + 1) < 0 ||
            tb_pgsql_ident(b, tc->name) < 0)
            return -1;
        if (tc->has_eq) {
            if (tb_buf_printf(b, " IS NOT DISTINCT FROM $%d::%s)", first + i,
                              tc->type) < 0)
                return -1;
        } else if (tb_buf_printf(b,
                                 "::text IS NOT DISTINCT FROM $%d::%s::text)",
                                 first + i, tc->type) < 0) {
            return -1;
        }
    }
    return tb_buf_puts(b, " LIMIT 1)");
}

/* Prepare the delete / update statements of a table without a key. */
static int prepare_nokey(tb_sink *s, stable *st, tb_error *err)
{
    if (st->stmt_id[s->cur]) return 0;
    const tb_table *sh = st->shape;
    int n = sh->ncols;
    unsigned id = ++s->seq;
    char name[32];
    tb_buf *b = &s->sql;

    /* DELETE: $1 before mask, $2.. before values. */
    tb_buf_reset(b);
    PRINTF(b, "DELETE FROM %s", (const char *)st->qname.data);
    if (match_one(b, st, 1, 2) < 0 || tb_pgsink_cstr(b) < 0) goto oom;
    snprintf(name, sizeof name, "tb_del_%u", id);
    PGresult *res = PQprepare(s->conn, name, (const char *)b->data, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        tb_pgsink_pg_fail(s, res, "preparing the delete statement", err);
        PQclear(res);
        return -1;
    }
    PQclear(res);

    /* UPDATE: $1 before mask, $2 after mask, $3.. before values, then the
     * after values; an UNCHANGED after value keeps the stored one. */
    tb_buf_reset(b);
    PRINTF(b, "UPDATE %s SET ", (const char *)st->qname.data);
    bool first = true;
    for (int i = 0; i < n; i++) {
        const tcol *tc = &st->tcols[st->tmap[i]];
        PUT(b, first ? "" : ", ");
        IDENT(b, tc->name);
        PRINTF(b, " = CASE WHEN substr($2, %d, 1) = '1' THEN ", i + 1);
        IDENT(b, tc->name);
        PRINTF(b, " ELSE $%d::%s END", 3 + n + i, tc->type);
        first = false;
    }
    if (tb_pgsink_dropped_nulls(b, st, &first) < 0) goto oom;
    if (match_one(b, st, 1, 3) < 0 || tb_pgsink_cstr(b) < 0) goto oom;
    snprintf(name, sizeof name, "tb_upd_%u", id);
    res = PQprepare(s->conn, name, (const char *)b->data, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        tb_pgsink_pg_fail(s, res, "preparing the update statement", err);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    st->stmt_id[s->cur] = id;
    return 0;
oom:
    return tb_pgsink_nomem(err);
}

/* Delete or update exactly one row of a table without a key. */
int tb_pgsink_apply_nokey(tb_sink *s, stable *st, const tb_change *c,
                          tb_error *err)
{
    const tb_table *sh = st->shape;
    if (!c->before)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "%s of a row without its old image (a table "
                            "without a key needs REPLICA IDENTITY FULL)",
                            c->op == TB_OP_DELETE ? "delete" : "update");
    /* Rows without a key are matched by value: never alongside the other
     * lane's commit. */
    if (tb_pgsink_flush_table(s, st, err) < 0 ||
        tb_pgsink_wait_other(s, err) < 0 || prepare_nokey(s, st, err) < 0)
        return -1;
    bool upd = c->op == TB_OP_UPDATE;
    int n = 0;
    params_reset(s);
    if ((n = mask_param(s, st, c->before, n, err)) < 0) return -1;
    if (upd && (n = mask_param(s, st, c->after, n, err)) < 0) return -1;
    for (int i = 0; i < sh->ncols; i++)
        if ((n = param_add(s, n, &sh->cols[i], &c->before[i], NULL, err)) < 0)
            return -1;
    for (int i = 0; upd && i < sh->ncols; i++)
        if ((n = param_add(s, n, &sh->cols[i], &c->after[i], NULL, err)) < 0)
            return -1;
    char name[32];
    snprintf(name, sizeof name, "tb_%s_%u", upd ? "upd" : "del",
             st->stmt_id[s->cur]);
    PGresult *res =
        PQexecPrepared(s->conn, name, n, params_ptrs(s, n), NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        tb_pgsink_pg_fail(s, res, upd ? "updating a row" : "deleting a row",
                          err);
        PQclear(res);
        return -1;
    }
    if (strcmp(PQcmdTuples(res), "1") != 0)
        tb_log_warn("target: %s of a row of %s at %s matched no row",
                    upd ? "update" : "delete", (const char *)st->qname.data,
                    c->source.position ? c->source.position : "?");
    PQclear(res);
    return 0;
}

/* A key change whose new image misses values the batch does not hold:
 * flush, then UPDATE the stored row in place so the target supplies them. */
int tb_pgsink_update_key_in_place(tb_sink *s, stable *st, const tb_change *c,
                                  tb_error *err)
{
    const tb_table *sh = st->shape;
    tb_buf *b = &s->sql;
    int n = 0;
    if (tb_pgsink_flush_table(s, st, err) < 0) return -1;
    params_reset(s);
    tb_buf_reset(b);
    PRINTF(b, "UPDATE %s t SET ", (const char *)st->qname.data);
    bool first = true;
    for (int i = 0; i < sh->ncols; i++) {
        if (c->after[i].state == TB_VALUE_UNCHANGED) continue;
        const tcol *tc = &st->tcols[st->tmap[i]];
        if ((n = param_add(s, n, &sh->cols[i], &c->after[i], NULL, err)) < 0)
            return -1;
        PUT(b, first ? "" : ", ");
        IDENT(b, tc->name);
        PRINTF(b, " = $%d::%s", n, tc->type);
        first = false;
    }
    if (tb_pgsink_dropped_nulls(b, st, &first) < 0) goto oom;
    PUT(b, " WHERE true");
    for (int k = 0; k < st->nkeys; k++) {
        int i = st->keys[k];
        const tcol *tc = &st->tcols[st->tmap[i]];
        if ((n = param_add(s, n, &sh->cols[i], &c->before[i], NULL, err)) < 0)
            return -1;
        PUT(b, " AND t.");
        IDENT(b, tc->name);
        PRINTF(b, " = $%d::%s", n, tc->type);
    }
    if (tb_pgsink_cstr(b) < 0) goto oom;
    PGresult *res =
        tb_pgsink_query(s, (const char *)b->data, n, params_ptrs(s, n),
                        "changing a primary key", err);
    if (!res) return -1;
    PQclear(res);
    return 0;
oom:
    return tb_pgsink_nomem(err);
}
