/*
 * pg_relation.c - turn a pgoutput Relation (or a table read from the
 * catalog for the snapshot) into a tb_table shape, and announce new or
 * changed shapes to the core.
 *
 * Names, type OIDs, typmods and key flags come from the wire. The catalog
 * adds what the wire lacks: the type's printed name (format_type), its
 * kind (enum, domain, array element), NOT NULL, and for REPLICA IDENTITY
 * FULL tables which columns form the primary key (pgoutput then flags every
 * column as key).
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "pg_source_int.h"
#include "pg_types.h"

pg_rel *tb_pgsrc_rel_find(tb_source *s, uint32_t relid)
{
    for (int i = 0; i < s->nrels; i++)
        if (s->rels[i].relid == relid) return &s->rels[i];
    return NULL;
}

static bool wanted(const tb_source *s, const char *nsp, const char *rel)
{
    char full[512];
    snprintf(full, sizeof full, "%s.%s", nsp, rel);
    for (int p = 0; p < s->cfg->source.ntables; p++)
        if (fnmatch(s->cfg->source.tables[p], full, 0) == 0) return true;
    return false;
}

/* Catalog facts about one relation's columns, by name. */
typedef struct colinfo {
    PGresult *res; /* attname, format_type, typtype, elem_or_base, notnull,
                      in_pk */
} colinfo;

static int load_colinfo(tb_source *s, uint32_t relid, colinfo *ci,
                        tb_error *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
             "t.typtype, CASE WHEN t.typtype = 'd' THEN t.typbasetype "
             "WHEN t.typlen = -1 AND t.typelem <> 0 THEN t.typelem "
             "ELSE 0 END, a.attnotnull, "
             "COALESCE(a.attnum = ANY (i.indkey), false) "
             "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
             "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND "
             "i.indisprimary WHERE a.attrelid = %u AND a.attnum > 0 AND "
             "NOT a.attisdropped",
             relid);
    ci->res = tb_pgconn_query(s->sql, sql, "reading column types",
                              TB_ERR_SOURCE, err);
    return ci->res ? 0 : -1;
}

static int colinfo_row(const colinfo *ci, const char *name)
{
    int n = PQntuples(ci->res);
    for (int i = 0; i < n; i++)
        if (strcmp(PQgetvalue(ci->res, i, 0), name) == 0) return i;
    return -1;
}

int tb_pgsrc_announce(tb_source *s, pg_rel *rel, const tb_emit *emit,
                      tb_error *err)
{
    (void)s;
    if (rel->announced || !rel->table) return 0;
    if (emit->table(emit->ctx, rel->table, err) < 0) return -1;
    rel->announced = true;
    return 0;
}

int tb_pgsrc_relation(tb_source *s, const tb_pgo_rel *wire, pg_rel **out,
                      tb_error *err)
{
    pg_rel *rel = tb_pgsrc_rel_find(s, wire->id);
    colinfo ci = {NULL};
    tb_table *t = NULL;
    *out = NULL;
    if (!rel) {
        if (s->nrels == s->caprels) {
            int cap = s->caprels ? s->caprels * 2 : 16;
            pg_rel *r = realloc(s->rels, (size_t)cap * sizeof *r);
            if (!r) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            s->rels = r;
            s->caprels = cap;
        }
        rel = &s->rels[s->nrels++];
        memset(rel, 0, sizeof *rel);
        rel->relid = wire->id;
    }
    rel->wanted = wanted(s, wire->nspname, wire->relname);
    if (!rel->wanted) {
        *out = rel;
        return 0;
    }
    if (load_colinfo(s, wire->id, &ci, err) < 0) goto fail;
    t = tb_table_new(s->dbname, wire->nspname, wire->relname, wire->ncols);
    if (!t) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    t->source_id = wire->id;
    for (int i = 0; i < wire->ncols; i++) {
        const tb_pgo_col *wc = &wire->cols[i];
        int row = colinfo_row(&ci, wc->name);
        const char *fmt = row >= 0 ? PQgetvalue(ci.res, row, 1) : NULL;
        char typtype = row >= 0 ? PQgetvalue(ci.res, row, 2)[0] : 'b';
        uint32_t eb =
            row >= 0 ? (uint32_t)strtoul(PQgetvalue(ci.res, row, 3), NULL, 10)
                     : 0;
        bool notnull = row >= 0 && PQgetvalue(ci.res, row, 4)[0] == 't';
        bool in_pk = row >= 0 && PQgetvalue(ci.res, row, 5)[0] == 't';
        /* Under REPLICA IDENTITY FULL pgoutput marks every column as key;
         * the table's identity for the target is its primary key (if any). */
        bool key = wire->replident == 'f' ? in_pk : wc->key;
        tb_column col;
        memset(&col, 0, sizeof col);
        char target[256];
        if (tb_pgtype_map(wc->type_oid, wc->type_mod, fmt, typtype, eb, &col,
                          target, sizeof target, err) < 0) {
            tb_error_prefix(err, "table %s.%s column %s", wire->nspname,
                            wire->relname, wc->name);
            goto fail;
        }
        if (tb_table_set_column(t, i, wc->name, fmt ? fmt : target, target,
                                col.kind, col.precision, col.scale,
                                !notnull && !key, key) < 0) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        t->cols[i].decimal_specials = col.decimal_specials;
        t->cols[i].type_id = col.type_id;
        t->cols[i].type_mod = col.type_mod;
    }
    PQclear(ci.res);
    ci.res = NULL;
    if (rel->table && tb_table_same_shape(rel->table, t)) {
        tb_table_free(t);
        *out = rel;
        return 0;
    }
    /* A new shape: the old one may still be referenced by changes the sink
     * holds, so it is retired rather than freed. */
    if (tb_shapes_keep(&s->retired, rel->table) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0) {
        rel->table = NULL;
        goto fail;
    }
    rel->table = t;
    rel->announced = false;
    t = NULL;
    *out = rel;
    return 0;
fail:
    PQclear(ci.res);
    tb_table_free(t);
    return -1;
}
