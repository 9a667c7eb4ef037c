/*
 * pg_sink_snap.c - what the sink does for snapshots: marks (progress of
 * the parallel initial copy, stored with the data in _tributary_marks),
 * and loading a table without its primary key index, rebuilt once at the
 * end of the load.
 */
#include "pg_sink_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_binary.h"
#include "tb_log.h"

/*
 * A snapshot is about to load st into an emptied table: loading without
 * the primary key's index and building it once at the end is cheaper than
 * keeping it up to date row by row. Only a primary key on exactly the key
 * columns, that no foreign key references, on a table without a comment
 * of its own: the comment records that the key is to be rebuilt, so a
 * crash mid-load leaves a trace (and such a table is copied again before
 * anything streams into it, which rebuilds the key).
 */
static const char pk_marker[] = "tributary: primary key rebuilt after the "
                                "snapshot load: ";

int tb_pgsink_load_begin(tb_sink *s, const tb_table *t, tb_error *err)
{
    static const char q[] =
        "SELECT c.conname, obj_description($1::regclass, 'pg_class'), "
        "array_length(c.conkey, 1), NOT EXISTS (SELECT 1 FROM pg_constraint "
        "f WHERE f.confrelid = $1::regclass) FROM pg_constraint c WHERE "
        "c.conrelid = $1::regclass AND c.contype = 'p'";
    stable *st;
    if (tb_pgsink_table_for(s, t, &st, err) < 0) return -1;
    if (!st->nkeys || !st->upsert_ok) return 0;
    const char *name = (const char *)st->qname.data;
    PGresult *res =
        tb_pgsink_query(s, q, 1, &name, "reading the primary key", err);
    if (!res) return -1;
    bool drop = PQntuples(res) == 1 && PQgetisnull(res, 0, 1) &&
                atoi(PQgetvalue(res, 0, 2)) == st->nkeys &&
                PQgetvalue(res, 0, 3)[0] == 't';
    tb_buf *b = &s->sql;
    tb_buf_reset(b);
    if (drop) {
        PRINTF(b, "ALTER TABLE %s DROP CONSTRAINT ", name);
        IDENT(b, PQgetvalue(res, 0, 0));
        PRINTF(b, "; COMMENT ON TABLE %s IS ", name);
        tb_buf mark = TB_BUF_INIT;
        if (tb_buf_puts(&mark, pk_marker) < 0 ||
            tb_buf_puts(&mark, PQgetvalue(res, 0, 0)) < 0 ||
            tb_pgsink_cstr(&mark) < 0 ||
            tb_pgsql_literal(b, (const char *)mark.data) < 0) {
            tb_buf_free(&mark);
            goto oom;
        }
        tb_buf_free(&mark);
    }
    PQclear(res);
    res = NULL;
    if (!drop) return 0;
    tb_log_debug("target: %s loads without its primary key index", name);
    /* The main session keeps believing in the key: it is back before
     * anything streams into the table. */
    st->reread = true;
    return tb_pgsink_run(s, (const char *)b->data,
                         "dropping the primary key for the load", err);
oom:
    PQclear(res);
    return tb_pgsink_nomem(err);
}

/* Every other part of t is committed; this is the last part's transaction:
 * rebuild the primary key load_begin dropped. */
int tb_pgsink_load_end(tb_sink *s, const tb_table *t, tb_error *err)
{
    stable *st;
    if (tb_pgsink_table_for(s, t, &st, err) < 0) return -1;
    if (!st->nkeys) return 0;
    const char *name = (const char *)st->qname.data;
    PGresult *res =
        tb_pgsink_query(s, "SELECT obj_description($1::regclass, 'pg_class')",
                        1, &name, "reading the table comment", err);
    if (!res) return -1;
    const char *c = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
    size_t ml = sizeof pk_marker - 1;
    if (strncmp(c, pk_marker, ml) != 0) {
        PQclear(res);
        return 0;
    }
    tb_buf *b = &s->sql;
    tb_buf_reset(b);
    PRINTF(b, "ALTER TABLE %s ADD CONSTRAINT ", name);
    IDENT(b, c + ml);
    PUT(b, " PRIMARY KEY (");
    for (int k = 0; k < st->nkeys; k++) {
        if (k) PUT(b, ", ");
        IDENT(b, st->shape->cols[st->keys[k]].name);
    }
    PRINTF(b, "); COMMENT ON TABLE %s IS NULL", name);
    PQclear(res);
    res = NULL;
    tb_log_debug("target: %s loaded, building its primary key", name);
    st->reread = true;
    return tb_pgsink_run(s, (const char *)b->data,
                         "building the primary key after the load", err);
oom:
    PQclear(res);
    return tb_pgsink_nomem(err);
}

/* Set or delete a mark in the open transaction (see tb_sink_ops.mark). */
int tb_pgsink_mark(tb_sink *s, const char *key, const char *value,
                   tb_error *err)
{
    const char *params[3] = {s->pipeline, key, value};
    const char *name = (const char *)s->marks_name.data;
    PGresult *res;
    if (!s->in_tx)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "postgres target: mark without a transaction");
    tb_buf_reset(&s->sql);
    if (!key) {
        PRINTF(&s->sql, "DELETE FROM %s WHERE pipeline = $1", name);
    } else if (!value) {
        PRINTF(&s->sql, "DELETE FROM %s WHERE pipeline = $1 AND key = $2",
               name);
    } else {
        PRINTF(&s->sql,
               "INSERT INTO %s (pipeline, key, value) VALUES ($1, $2, $3) "
               "ON CONFLICT (pipeline, key) DO UPDATE SET value = "
               "EXCLUDED.value, updated_at = clock_timestamp()",
               name);
    }
    res = tb_pgsink_query(s, (const char *)s->sql.data,
                          !key     ? 1
                          : !value ? 2
                                   : 3,
                          params, "writing snapshot progress", err);
    if (!res) return -1;
    PQclear(res);
    return 0;
oom:
    return tb_pgsink_nomem(err);
}

/* Read every committed mark of the pipeline (see tb_sink_ops.marks). */
int tb_pgsink_marks(tb_sink *s, tb_marks *out, tb_error *err)
{
    const char *name = s->pipeline;
    tb_buf_reset(&s->sql);
    PRINTF(&s->sql,
           "SELECT key, value FROM %s WHERE pipeline = $1 ORDER BY key",
           (const char *)s->marks_name.data);
    PGresult *res = tb_pgsink_query(s, (const char *)s->sql.data, 1, &name,
                                    "reading snapshot progress", err);
    if (!res) return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        if (tb_marks_add(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) <
            0) {
            PQclear(res);
            return tb_error_set(err, TB_ERR_TARGET,
                                "postgres target %s: snapshot mark %s too "
                                "long or out of memory",
                                s->dsn_masked, PQgetvalue(res, i, 0));
        }
    }
    PQclear(res);
    return 0;
oom:
    return tb_pgsink_nomem(err);
}

/* Key column list "a", "b" (with prefix p. when p is not NULL). */
static int key_cols(tb_buf *b, const stable *st, const char *p)
{
    for (int k = 0; k < st->nkeys; k++) {
        if (k) PUT(b, ", ");
        if (p) PRINTF(b, "%s.", p);
        IDENT(b, st->shape->cols[st->keys[k]].name);
    }
    return 0;
oom:
    return -1;
}

/*
 * A resumed copy names every key its table has at the copy's snapshot
 * (TB_OP_KEEP); the rows of earlier copies whose key is gone since are
 * deleted before the part commits (tb_pgsink_sweeps). The keys go into a
 * temporary table of the transaction, COPYed in like snapshot rows.
 */
int tb_pgsink_keep(tb_sink *s, stable *st, const tb_change *c, tb_error *err)
{
    if (!st->nkeys || !c->source.snapshot)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "snapshot sweep of a table without key, or "
                            "outside a snapshot part");
    if (s->copying != st || !s->copy_keep) {
        if (tb_pgsink_end_copying(s, err) < 0) return -1;
        tb_buf *b = &s->sql;
        if (!st->keep[0]) {
            snprintf(st->keep, sizeof st->keep, "_tb_keep_%u", ++s->keep_seq);
            tb_buf_reset(b);
            PRINTF(b, "CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT ",
                   st->keep);
            if (key_cols(b, st, NULL) < 0) goto oom;
            PRINTF(b, " FROM %s WITH NO DATA", (const char *)st->qname.data);
            if (tb_pgsink_run(s, (const char *)b->data,
                              "making the snapshot sweep's key table",
                              err) < 0) {
                st->keep[0] = '\0';
                return -1;
            }
        }
        tb_buf_reset(b);
        PRINTF(b, "COPY %s (", st->keep);
        if (key_cols(b, st, NULL) < 0) goto oom;
        PUT(b, st->binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN");
        if (tb_pgsink_copy_begin(s, err) < 0) return -1;
        s->copying = st;
        s->copy_keep = true;
        s->copy_binary = st->binary;
        if (st->binary && tb_pgbin_put_header(&s->copy) < 0) goto oom;
    }
    /* No row: the sweep starts (the table may have no key left at all). */
    return c->after ? tb_pgsink_load_row(s, st, c->after, true, err) : 0;
oom:
    return tb_pgsink_nomem(err);
}

int tb_pgsink_sweeps(tb_sink *s, tb_buf *b)
{
    for (int i = 0; i < s->ntables; i++) {
        stable *st = s->tables[i];
        if (!st->keep[0]) continue;
        tb_log_debug("target: %s: deleting rows whose key is gone",
                     (const char *)st->qname.data);
        PRINTF(b,
               "ANALYZE %s;\nDELETE FROM %s t WHERE NOT EXISTS (SELECT 1 "
               "FROM %s k WHERE ",
               st->keep, (const char *)st->qname.data, st->keep);
        for (int k = 0; k < st->nkeys; k++) {
            const char *name = st->shape->cols[st->keys[k]].name;
            PUT(b, k ? " AND k." : "k.");
            IDENT(b, name);
            PUT(b, " = t.");
            IDENT(b, name);
        }
        PUT(b, ");\n");
        st->keep[0] = '\0';
    }
    return 0;
oom:
    return -1;
}
