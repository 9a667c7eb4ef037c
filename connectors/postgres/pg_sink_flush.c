/*
 * pg_sink_flush.c - how buffered rows reach the target: COPY straight into
 * the table (no-key tables, fresh inserts, snapshot loads) or COPY into a
 * staging table followed by set-based merges.
 */
#include "pg_sink_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_binary.h"
#include "pg_conn.h"
#include "pg_types.h"
#include "tb_log.h"

/* ---------------------------------------------------------------------- */
/* Flushing                                                               */

static int copy_send(tb_sink *s, tb_error *err)
{
    if (s->copy.len == 0) return 0;
    if (PQputCopyData(s->conn, (const char *)s->copy.data, (int)s->copy.len) !=
        1)
        return tb_pgsink_pg_fail(s, NULL, "sending COPY data", err);
    tb_buf_reset(&s->copy);
    return 0;
}

/* Start COPY with the statement in s->sql. */
int tb_pgsink_copy_begin(tb_sink *s, tb_error *err)
{
    if (tb_pgsink_cstr(&s->sql) < 0) return tb_pgsink_nomem(err);
    if (tb_pgsink_end_copying(s, err) < 0 || tb_pgsink_wait_pending(s, err) < 0)
        return -1;
    PGresult *res;
    if (s->carry_sql.len) {
        /* The COPY and what follows it (up to COMMIT) in one message: once
         * the data is sent the agent goes on; the server loads, merges
         * and commits on its own (results read by sync). */
        if (tb_buf_puts(&s->sql, ";\n") < 0 ||
            tb_buf_append(&s->sql, s->carry_sql.data, s->carry_sql.len) < 0 ||
            tb_pgsink_cstr(&s->sql) < 0)
            return tb_pgsink_nomem(err);
        if (!PQsendQuery(s->conn, (const char *)s->sql.data))
            return tb_pgsink_pg_fail(s, NULL, "starting COPY", err);
        res = PQgetResult(s->conn);
    } else {
        res = PQexec(s->conn, (const char *)s->sql.data);
    }
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        tb_pgsink_pg_fail(s, res, "starting COPY", err);
        PQclear(res);
        if (s->carry_sql.len) /* the rest of the message was skipped */
            while ((res = PQgetResult(s->conn)))
                PQclear(res);
        tb_buf_reset(&s->carry_sql);
        return -1;
    }
    PQclear(res);
    tb_buf_reset(&s->copy);
    s->copy_binary = false;
    return 0;
}

static int copy_end(tb_sink *s, tb_error *err)
{
    int rc = 0;
    if (s->copy_binary && tb_pgbin_put_trailer(&s->copy) < 0)
        rc = tb_pgsink_nomem(err);
    s->copy_binary = false;
    if (rc == 0 && copy_send(s, err) < 0) rc = -1;
    if (PQputCopyEnd(s->conn, rc < 0 ? "aborted" : NULL) != 1 && rc == 0)
        rc = tb_pgsink_pg_fail(s, NULL, "ending COPY", err);
    if (s->carry_sql.len && rc == 0) {
        /* The commit follows in the same message: its results are read
         * with the commit's (op_commit marks the lane pending). */
        tb_buf_reset(&s->carry_sql);
        s->carried = true;
        return 0;
    }
    tb_buf_reset(&s->carry_sql);
    PGresult *res;
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
            rc = tb_pgsink_pg_fail(s, res, "loading rows with COPY", err);
        PQclear(res);
    }
    return rc;
}

/* Append one buffered field: COPY text, or (bin) a binary COPY field, in
 * which form the table buffers its fields (see put_field). */
static int copy_field(tb_buf *b, const field *f, bool bin)
{
    if (f->state != TB_VALUE_SET)
        return bin ? tb_buf_append(b, "\xff\xff\xff\xff", 4)
                   : tb_buf_append(b, "\\N", 2);
    return tb_buf_append(b, f->p, f->len);
}

/* Start a COPY (statement in s->sql) in st's buffered format. */
static int copy_begin_as(tb_sink *s, const stable *st, tb_error *err)
{
    if (tb_pgsink_copy_begin(s, err) < 0) return -1;
    if (!st->binary) return 0;
    s->copy_binary = true;
    return tb_pgbin_put_header(&s->copy) < 0 ? tb_pgsink_nomem(err) : 0;
}

/* Column list "a", "b" of the shape, with a prefix per name. */
/* Finish the snapshot COPY that is open, if any: anything else that uses
 * the connection comes after it. */
int tb_pgsink_end_copying(tb_sink *s, tb_error *err)
{
    if (!s->copying) return 0;
    stable *st = s->copying;
    s->copying = NULL;
    s->copy_keep = false;
    if (copy_end(s, err) < 0)
        return tb_error_prefix(err, "table %s", (const char *)st->qname.data);
    return 0;
}

/* One snapshot row (keys_only: its key columns) straight into the open
 * COPY: no buffering, no arena. */
int tb_pgsink_load_row(tb_sink *s, stable *st, const tb_value *vals,
                       bool keys_only, tb_error *err)
{
    const tb_table *t = st->shape;
    tb_buf *c = &s->copy;
    int n = keys_only ? st->nkeys : t->ncols;
    if (s->copy_binary) {
        if (tb_pgbin_put_tuple(c, n) < 0) return tb_pgsink_nomem(err);
        for (int j = 0; j < n; j++) {
            int i = keys_only ? st->keys[j] : j;
            if (tb_pgbin_encode(t->cols[i].kind, st->tcols[st->tmap[i]].oid,
                                &vals[i], c, err) < 0)
                return tb_error_prefix(err, "column %s", t->cols[i].name);
        }
        return c->len >= COPY_CHUNK ? copy_send(s, err) : 0;
    }
    for (int j = 0; j < n; j++) {
        int i = keys_only ? st->keys[j] : j;
        const tb_column *col = &t->cols[i];
        const tb_value *v = &vals[i];
        const char *text = "\\N";
        size_t len = 2;
        bool escape = false;
        if (v->state == TB_VALUE_SET && tb_pgsink_verbatim_kind(col->kind)) {
            text = v->u.s ? v->u.s : "";
            len = v->u.s ? v->len : 0;
            escape = true;
        } else if (v->state == TB_VALUE_SET) {
            tb_buf_reset(&s->val);
            if (tb_pgtype_format_text(col, v, &s->val, err) < 0)
                return tb_error_prefix(err, "column %s", col->name);
            text = (const char *)s->val.data;
            len = s->val.len;
            escape = true;
        }
        /* Room for the worst case (every byte escaped, a separator and the
         * row's newline), then one pass. */
        if (tb_buf_reserve(c, 2 * len + 2) < 0) return tb_pgsink_nomem(err);
        char *p = (char *)c->data + c->len;
        if (j) *p++ = '\t';
        if (escape) {
            p = tb_pgsql_copy_escape(p, text, len);
        } else {
            memcpy(p, text, len);
            p += len;
        }
        c->len = (size_t)(p - (char *)c->data);
    }
    if (tb_buf_append(c, "\n", 1) < 0) return tb_pgsink_nomem(err);
    return c->len >= COPY_CHUNK ? copy_send(s, err) : 0;
}

int tb_pgsink_shape_cols(tb_buf *b, const stable *st, const char *prefix)
{
    for (int i = 0; i < st->shape->ncols; i++) {
        if (tb_buf_puts(b, i ? ", " : "") < 0 || tb_buf_puts(b, prefix) < 0 ||
            tb_pgsql_ident(b, st->shape->cols[i].name) < 0)
            return -1;
    }
    return 0;
}

/* Table without key: its buffered inserts go straight into the table. */
/* COPY rows straight into the target table: every row (no-key tables,
 * snapshot loads) or, with only_direct, the fresh inserts of a keyed
 * table. */
/* The statements a carrying COPY is followed by: the merges deferred so
 * far, then (extra) this table's merge, then the state update + COMMIT. */
static int carry_set(tb_sink *s, const tb_buf *extra)
{
    tb_buf_reset(&s->carry_sql);
    if (tb_buf_append(&s->carry_sql, s->deferred.data, s->deferred.len) < 0 ||
        (extra && tb_buf_append(&s->carry_sql, extra->data, extra->len) < 0) ||
        tb_buf_append(&s->carry_sql, s->carry->data, s->carry->len) < 0)
        return -1;
    tb_buf_reset(&s->deferred);
    return 0;
}

static int flush_inserts(tb_sink *s, stable *st, bool only_direct, bool last,
                         tb_error *err)
{
    tb_buf *b = &s->sql;
    if (last && s->carry && carry_set(s, NULL) < 0) goto oom;
    tb_buf_reset(b);
    PRINTF(b, "COPY %s (", (const char *)st->qname.data);
    if (tb_pgsink_shape_cols(b, st, "") < 0) goto oom;
    PUT(b, st->binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN");
    if (copy_begin_as(s, st, err) < 0) return -1;
    bool bin = st->binary;
    for (row *r = st->head; r; r = r->next) {
        if (only_direct && !(r->fresh && r->op == ROW_UPSERT)) continue;
        if (bin && tb_pgbin_put_tuple(&s->copy, st->shape->ncols) < 0)
            goto oom_copy;
        for (int i = 0; i < st->shape->ncols; i++) {
            if ((i && !bin && tb_buf_append(&s->copy, "\t", 1) < 0) ||
                copy_field(&s->copy, &r->f[i], bin) < 0)
                goto oom_copy;
        }
        if (!bin && tb_buf_append(&s->copy, "\n", 1) < 0) goto oom_copy;
        if (s->copy.len >= COPY_CHUNK && copy_send(s, err) < 0) {
            copy_end(s, err);
            return -1;
        }
    }
    return copy_end(s, err);
oom_copy:
    tb_pgsink_nomem(err);
    copy_end(s, err);
    return -1;
oom:
    return tb_pgsink_nomem(err);
}

/* Create the session's staging table for st's shape: op, u (the mask of
 * UNCHANGED columns of a partial image) and c1..cN typed like the target's
 * columns, so COPY parses values once and key joins can use the index. */
static int stage_create(tb_sink *s, stable *st, tb_error *err)
{
    tb_buf *b = &s->sql;
    tb_buf_reset(b);
    /* One name per shape, the same in every lane's session; the table of
     * this lane's previous shape, if any, is no longer needed. */
    if (!st->stage[0])
        snprintf(st->stage, sizeof st->stage, "_tb_stage_%u", ++s->seq);
    char *had = st->stage_had[s->cur];
    if (had[0] && strcmp(had, st->stage) != 0)
        PRINTF(b, "DROP TABLE IF EXISTS pg_temp.%s; ", had);
    PRINTF(b, "CREATE TEMP TABLE %s (op \"char\", u text", st->stage);
    for (int i = 0; i < st->shape->ncols; i++)
        PRINTF(b, ", c%d %s", i + 1, st->tcols[st->tmap[i]].type);
    PUT(b, ")");
    if (tb_pgsink_run_here(s, (const char *)b->data,
                           "creating the staging table", err) < 0)
        return -1;
    st->stage_ready[s->cur] = true;
    snprintf(had, sizeof st->stage_had[s->cur], "%s", st->stage);
    return 0;
oom:
    return tb_pgsink_nomem(err);
}

/* "t."k" = s.cN AND ..." */
static int key_match(tb_buf *b, const stable *st)
{
    for (int k = 0; k < st->nkeys; k++) {
        int i = st->keys[k];
        if (tb_buf_puts(b, k ? " AND t." : "t.") < 0 ||
            tb_pgsql_ident(b, st->shape->cols[i].name) < 0 ||
            tb_buf_printf(b, " = s.c%d", i + 1) < 0)
            return -1;
    }
    return 0;
}

/* Target columns the shape no longer has: written as NULL from now on. */
int tb_pgsink_dropped_nulls(tb_buf *b, const stable *st, bool *first)
{
    for (int j = 0; j < st->ntcols; j++) {
        if (st->tcols[j].in_shape) continue;
        if (tb_buf_puts(b, *first ? "" : ", ") < 0 ||
            tb_pgsql_ident(b, st->tcols[j].name) < 0 ||
            tb_buf_puts(b, " = NULL") < 0)
            return -1;
        *first = false;
    }
    return 0;
}

/* INSERT INTO T (cols) SELECT c1.. FROM stage s WHERE s.op = 'X' */
static int insert_select(tb_buf *b, const stable *st, char op)
{
    if (tb_buf_printf(b, "INSERT INTO %s (", (const char *)st->qname.data) <
            0 ||
        tb_pgsink_shape_cols(b, st, "") < 0 || tb_buf_puts(b, ") SELECT ") < 0)
        return -1;
    for (int i = 0; i < st->shape->ncols; i++)
        if (tb_buf_printf(b, "%ss.c%d", i ? ", " : "", i + 1) < 0) return -1;
    return tb_buf_printf(b, " FROM %s s WHERE s.op = '%c'", st->stage, op);
}

/* Build the merge of the staged rows into the target (one round trip). */
static int merge_sql(tb_buf *b, const stable *st, size_t nd, size_t nu,
                     size_t np)
{
    const char *T = (const char *)st->qname.data;
    const tb_table *sh = st->shape;
    tb_buf_reset(b);
    /* Deletes, and without a usable unique index the rows to be replaced. */
    if (nd || (nu && !st->upsert_ok)) {
        PRINTF(b, "DELETE FROM %s t USING %s s WHERE s.op %s AND ", T,
               st->stage,
               st->upsert_ok || !nu ? "= 'D'"
               : nd                 ? "IN ('D', 'U')"
                                    : "= 'U'");
        if (key_match(b, st) < 0) goto oom;
        PUT(b, ";\n");
    }
    if (nu) {
        if (insert_select(b, st, ROW_UPSERT) < 0) goto oom;
        if (st->upsert_ok) {
            PUT(b, " ON CONFLICT (");
            for (int k = 0; k < st->nkeys; k++) {
                if (k) PUT(b, ", ");
                IDENT(b, sh->cols[st->keys[k]].name);
            }
            PUT(b, ") DO ");
            size_t mark = b->len;
            PUT(b, "UPDATE SET ");
            bool first = true;
            for (int i = 0; i < sh->ncols; i++) {
                if (sh->cols[i].key) continue;
                PUT(b, first ? "" : ", ");
                IDENT(b, sh->cols[i].name);
                PUT(b, " = EXCLUDED.");
                IDENT(b, sh->cols[i].name);
                first = false;
            }
            if (tb_pgsink_dropped_nulls(b, st, &first) < 0) goto oom;
            if (first) {
                b->len = mark;
                PUT(b, "NOTHING");
            }
        }
        PUT(b, ";\n");
    }
    if (np) {
        /* Partial images: keep the stored value where the mask says the
         * source did not send one. A row the target lacks gets NULL there:
         * nothing better exists. */
        size_t mark = b->len;
        PRINTF(b, "UPDATE %s t SET ", T);
        bool first = true;
        for (int i = 0; i < sh->ncols; i++) {
            if (sh->cols[i].key) continue;
            PUT(b, first ? "" : ", ");
            IDENT(b, sh->cols[i].name);
            PRINTF(b, " = CASE WHEN substr(s.u, %d, 1) = '1' THEN t.", i + 1);
            IDENT(b, sh->cols[i].name);
            PRINTF(b, " ELSE s.c%d END", i + 1);
            first = false;
        }
        if (tb_pgsink_dropped_nulls(b, st, &first) < 0) goto oom;
        if (first) {
            b->len = mark;
        } else {
            PRINTF(b, " FROM %s s WHERE s.op = 'P' AND ", st->stage);
            if (key_match(b, st) < 0) goto oom;
            PUT(b, ";\n");
        }
        if (insert_select(b, st, ROW_PARTIAL) < 0) goto oom;
        PRINTF(b, " AND NOT EXISTS (SELECT 1 FROM %s t WHERE ", T);
        if (key_match(b, st) < 0) goto oom;
        PUT(b, ");\n");
    }
    PRINTF(b, "TRUNCATE %s", st->stage);
    return 0;
oom:
    return -1;
}

/* Keyed table: COPY the net rows into the staging table, then merge. */
static bool direct(const row *r)
{
    return r->fresh && r->op == ROW_UPSERT;
}

static int flush_keyed(tb_sink *s, stable *st, tb_error *err)
{
    size_t nd = 0, nu = 0, np = 0, ndirect = 0, nmerge = 0;
    size_t cd = 0, cu = 0, cp = 0;
    const tb_table *sh = st->shape;
    for (row *r = st->head; r; r = r->next) {
        ndirect += direct(r);
        nmerge += !direct(r) && r->op != ROW_NONE;
        if (direct(r) || r->op == ROW_NONE) continue;
        cd += r->op == ROW_DELETE;
        cu += r->op == ROW_UPSERT;
        cp += r->op == ROW_PARTIAL;
    }
    if (ndirect && flush_inserts(s, st, true, !nmerge, err) < 0) return -1;
    if (!nmerge) return 0;
    if (st->reread && tb_pgsink_table_refresh(s, st, err) < 0) return -1;
    if (!st->stage_ready[s->cur] && stage_create(s, st, err) < 0) return -1;
    if (s->carry) {
        /* This COPY carries the commit: the merge goes in the message. */
        tb_buf m = TB_BUF_INIT;
        int bad = merge_sql(&m, st, cd, cu, cp) < 0 ||
                  tb_buf_puts(&m, ";\n") < 0 || carry_set(s, &m) < 0;
        tb_buf_free(&m);
        if (bad) goto oom;
    }
    tb_buf_reset(&s->sql);
    PRINTF(&s->sql,
           st->binary ? "COPY %s FROM STDIN (FORMAT binary)"
                      : "COPY %s FROM STDIN",
           st->stage);
    if (copy_begin_as(s, st, err) < 0) return -1;
    bool bin = st->binary;
    tb_buf *c = &s->copy;
    for (row *r = st->head; r; r = r->next) {
        if (direct(r) || r->op == ROW_NONE) continue;
        nd += r->op == ROW_DELETE;
        nu += r->op == ROW_UPSERT;
        np += r->op == ROW_PARTIAL;
        if (bin) {
            /* op ("char": one byte), u (text or NULL), c1..cN */
            static const char op_len[4] = {0, 0, 0, 1};
            static const char u_len[4] = {0, 0, 0, 0};
            if (tb_pgbin_put_tuple(c, 2 + sh->ncols) < 0 ||
                tb_buf_append(c, op_len, 4) < 0 ||
                tb_buf_append(c, &r->op, 1) < 0)
                goto oom_copy;
            if (r->op == ROW_PARTIAL) {
                char len[4];
                uint32_t n = (uint32_t)sh->ncols;
                len[0] = (char)(n >> 24);
                len[1] = (char)(n >> 16);
                len[2] = (char)(n >> 8);
                len[3] = (char)n;
                if (tb_buf_append(c, n ? len : u_len, 4) < 0) goto oom_copy;
            } else if (tb_buf_append(c, "\xff\xff\xff\xff", 4) < 0) {
                goto oom_copy;
            }
        } else if (tb_buf_append(c, &r->op, 1) < 0) {
            goto oom_copy;
        }
        if (r->op == ROW_PARTIAL) {
            if (!bin && tb_buf_append(c, "\t", 1) < 0) goto oom_copy;
            for (int i = 0; i < sh->ncols; i++)
                if (tb_buf_append(
                        c, r->f[i].state == TB_VALUE_UNCHANGED ? "1" : "0", 1) <
                    0)
                    goto oom_copy;
        } else if (!bin && tb_buf_append(c, "\t\\N", 3) < 0) {
            goto oom_copy;
        }
        for (int i = 0; i < sh->ncols; i++) {
            /* A delete needs its key only. */
            static const field none = {NULL, 0, TB_VALUE_NULL};
            const field *f =
                r->op == ROW_DELETE && !sh->cols[i].key ? &none : &r->f[i];
            if ((!bin && tb_buf_append(c, "\t", 1) < 0) ||
                copy_field(c, f, bin) < 0)
                goto oom_copy;
        }
        if (!bin && tb_buf_append(c, "\n", 1) < 0) goto oom_copy;
        if (c->len >= COPY_CHUNK && copy_send(s, err) < 0) {
            copy_end(s, err);
            return -1;
        }
    }
    if (copy_end(s, err) < 0) return -1;
    if (s->carried) return 0; /* merge, state and COMMIT went with it */
    if (merge_sql(&s->sql, st, nd, nu, np) < 0 || tb_pgsink_cstr(&s->sql) < 0)
        return tb_pgsink_nomem(err);
    tb_log_debug("target: merging into %s deletes=%zu upserts=%zu "
                 "partial=%zu",
                 (const char *)st->qname.data, nd, nu, np);
    if (s->defer) {
        /* Sent with the commit (see op_commit). */
        if (tb_buf_append(&s->deferred, s->sql.data, s->sql.len) < 0 ||
            tb_buf_puts(&s->deferred, ";\n") < 0)
            return tb_pgsink_nomem(err);
        return 0;
    }
    /* Mid-batch: the server merges while the agent reads on. */
    return tb_pgsink_send_here(s, (const char *)s->sql.data,
                               "merging staged rows", err);
oom_copy:
    tb_pgsink_nomem(err);
    copy_end(s, err);
    return -1;
oom:
    return tb_pgsink_nomem(err);
}

int tb_pgsink_flush_table(tb_sink *s, stable *st, tb_error *err)
{
    if (!st->head) return 0;
    /* A commit claims all its tables up front (op_commit), before its
     * statements are written; other flushes claim here. */
    if (!s->defer && tb_pgsink_lane_claim(s, st, err) < 0) return -1;
    int rc = st->nkeys ? flush_keyed(s, st, err)
                       : flush_inserts(s, st, false, true, err);
    tb_pgsink_table_discard(s, st);
    if (rc < 0)
        return tb_error_prefix(err, "table %s", (const char *)st->qname.data);
    return 0;
}

int tb_pgsink_flush_all(tb_sink *s, tb_error *err)
{
    for (int i = 0; i < s->ntables; i++)
        if (tb_pgsink_flush_table(s, s->tables[i], err) < 0) return -1;
    /* Nothing is buffered any more: the memory is reused, not freed. */
    tb_arena_reset(&s->arena);
    return 0;
}
