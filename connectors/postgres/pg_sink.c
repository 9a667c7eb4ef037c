/*
 * pg_sink.c - the PostgreSQL sink in mirror mode.
 *
 * One batch is one target transaction. apply() never talks to the server
 * for tables with a primary key: it formats the row into COPY text once,
 * into the sink's arena, and collapses it with whatever the batch already
 * holds for the same key (a hash table over the key fields). A flush loads
 * each table's net rows with one COPY into a temporary staging table and
 * merges them with a few set-based statements sent in one round trip.
 * Flushes happen at commit, before DDL on the table, and whenever the
 * buffered bytes pass a threshold, always inside the open transaction, so
 * memory stays bounded while the batch still becomes visible atomically.
 *
 * Tables without a key cannot be collapsed: their inserts are buffered and
 * COPied straight into the table (in order); an update or delete first
 * flushes those inserts, then changes exactly one matching row through a
 * prepared statement.
 */
#include "pg_sink_int.h"

#include "pg_binary.h"

#include "pg_binary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_conn.h"
#include "pg_types.h"
#include "tb_log.h"

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */

int tb_pgsink_nomem(tb_error *err)
{
    return tb_error_set(err, TB_ERR_NOMEM, "postgres target: out of memory");
}

/* Fill err from a failed result (or connection). Connection loss and the
 * SQLSTATE classes that mean "try again" (08 connection, 40 serialization /
 * deadlock, 53 resources, 57P0x shutdown) are retriable. */
int tb_pgsink_pg_fail(tb_sink *s, const PGresult *res, const char *what,
                      tb_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg) msg = PQerrorMessage(s->conn);
    char clean[600];
    snprintf(clean, sizeof clean, "%s", msg ? msg : "unknown error");
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = '\0';
    bool lost = PQstatus(s->conn) != CONNECTION_OK;
    bool retry = lost || (state && (strncmp(state, "08", 2) == 0 ||
                                    strncmp(state, "40", 2) == 0 ||
                                    strncmp(state, "53", 2) == 0 ||
                                    strncmp(state, "57P0", 4) == 0));
    tb_error_set(err, lost ? TB_ERR_CONNECT : TB_ERR_TARGET,
                 "postgres target %s: %s%s%s: %s%s%s%s", s->dsn_masked, what,
                 s->context ? " at " : "", s->context ? s->context : "", clean,
                 state ? " (SQLSTATE " : "", state ? state : "",
                 state ? ")" : "");
    if (retry) tb_error_retriable(err);
    return -1;
}

/* Make sure b->data is a NUL-terminated string (also when empty). */
int tb_pgsink_cstr(tb_buf *b)
{
    if (tb_buf_reserve(b, 1) < 0) return -1;
    b->data[b->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Table cache                                                            */

void tb_pgsink_table_discard(tb_sink *s, stable *st)
{
    /* The rows' memory lives in the sink's arena, which tb_pgsink_flush_all()
     * resets; a big hash array is not kept around for a quiet table. */
    (void)s;
    if (st->nslots > SLOTS_KEEP) {
        free(st->slots);
        st->slots = NULL;
        st->nslots = 0;
    } else if (st->slots) {
        memset(st->slots, 0, st->nslots * sizeof *st->slots);
    }
    st->nused = 0;
    st->head = st->tail = NULL;
}

static void tcols_free(stable *st)
{
    for (int i = 0; i < st->ntcols; i++) {
        free(st->tcols[i].name);
        free(st->tcols[i].type);
    }
    free(st->tcols);
    st->tcols = NULL;
    st->ntcols = 0;
}

static void table_free(stable *st)
{
    if (!st) return;
    free(st->sname);
    free(st->tname);
    tb_table_free(st->shape);
    free(st->keys);
    free(st->tmap);
    tcols_free(st);
    tb_buf_free(&st->qname);
    free(st->slots);
    free(st);
}

/* Forget every table (after a rollback the target's DDL of the batch is
 * gone, so what we learnt about the tables may be stale). */
void tb_pgsink_tables_forget(tb_sink *s)
{
    for (int i = 0; i < s->ntables; i++)
        table_free(s->tables[i]);
    s->ntables = 0;
    s->last = NULL;
    tb_arena_reset(&s->arena);
}

static const char *src_schema(const tb_table *t)
{
    return t->schema ? t->schema : t->db ? t->db : "";
}

static stable *table_find(tb_sink *s, const tb_table *t)
{
    for (int i = 0; i < s->ntables; i++) {
        stable *st = s->tables[i];
        if (strcmp(st->tname, t->name) == 0 &&
            strcmp(st->sname, src_schema(t)) == 0)
            return st;
    }
    return NULL;
}

static stable *table_add(tb_sink *s, const tb_table *t)
{
    if (s->ntables == s->captables) {
        int cap = s->captables ? 2 * s->captables : 8;
        stable **n = realloc(s->tables, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        s->tables = n;
        s->captables = cap;
    }
    stable *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->arena = &s->arena;
    st->sname = strdup(src_schema(t));
    st->tname = strdup(t->name);
    if (!st->sname || !st->tname ||
        tb_pgsql_qualified(&st->qname, s->schema, t->name) < 0 ||
        tb_pgsink_cstr(&st->qname) < 0) {
        table_free(st);
        return NULL;
    }
    uint32_t h = 2166136261u;
    for (const char *p = (const char *)st->qname.data; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    st->salt = h;
    s->tables[s->ntables++] = st;
    return st;
}

/* Read the target table's columns and whether a unique index covers exactly
 * the key columns. *exists is false when the table is missing. */
static int read_target(tb_sink *s, stable *st, bool *exists, tb_error *err)
{
    /* has_eq: a default btree opclass for the type, for arrays for the
     * element type (array equality needs element equality), for domains
     * the base type. json, xml, point, ... have none. */
    static const char cols_sql[] =
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
        " EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am m ON m.oid = "
        "  o.opcmethod WHERE m.amname = 'btree' AND o.opcdefault AND "
        "  o.opcintype = (SELECT CASE WHEN t.typcategory = 'A' THEN "
        "   t.typelem WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "   FROM pg_type t WHERE t.oid = a.atttypid)), "
        " a.attnum, a.atttypid "
        "FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum";
    static const char idx_sql[] =
        "SELECT i.indkey::text FROM pg_index i WHERE i.indrelid = "
        "$1::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate "
        "AND i.indpred IS NULL AND i.indexprs IS NULL";
    const char *name = (const char *)st->qname.data;
    PGresult *res = NULL;
    int *attnums = NULL;
    int rc = -1;

    tcols_free(st);
    st->upsert_ok = false;
    res = tb_pgsink_query(s, "SELECT to_regclass($1) IS NOT NULL", 1, &name,
                          "looking up the target table", err);
    if (!res) goto fail;
    *exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = NULL;
    if (!*exists) return 0;

    res = tb_pgsink_query(s, cols_sql, 1, &name, "reading the target columns",
                          err);
    if (!res) goto fail;
    int n = PQntuples(res);
    st->tcols = calloc(n > 0 ? (size_t)n : 1, sizeof *st->tcols);
    attnums = calloc(n > 0 ? (size_t)n : 1, sizeof *attnums);
    if (!st->tcols || !attnums) goto oom;
    for (int i = 0; i < n; i++) {
        tcol *c = &st->tcols[i];
        c->name = strdup(PQgetvalue(res, i, 0));
        c->type = strdup(PQgetvalue(res, i, 1));
        c->has_eq = PQgetvalue(res, i, 2)[0] == 't';
        attnums[i] = atoi(PQgetvalue(res, i, 3));
        c->oid = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10);
        st->ntcols = i + 1;
        if (!c->name || !c->type) goto oom;
    }
    PQclear(res);
    res = NULL;

    if (st->nkeys > 0) {
        res = tb_pgsink_query(s, idx_sql, 1, &name,
                              "reading the target indexes", err);
        if (!res) goto fail;
        /* indkey is "3 1": attnums separated by spaces. The index fits
         * ON CONFLICT when it has exactly the key columns, in any order. */
        for (int r = 0; r < PQntuples(res) && !st->upsert_ok; r++) {
            const char *p = PQgetvalue(res, r, 0);
            int count = 0;
            bool all_keys = true;
            while (*p) {
                char *end;
                long att = strtol(p, &end, 10);
                if (end == p) break;
                p = end;
                while (*p == ' ')
                    p++;
                count++;
                bool is_key = false;
                for (int i = 0; i < st->ntcols; i++) {
                    if (attnums[i] != att) continue;
                    for (int k = 0; k < st->nkeys; k++)
                        if (strcmp(st->tcols[i].name,
                                   st->shape->cols[st->keys[k]].name) == 0)
                            is_key = true;
                }
                all_keys = all_keys && is_key;
            }
            st->upsert_ok = all_keys && count == st->nkeys;
        }
    }
    rc = 0;
    goto done;
oom:
    tb_pgsink_nomem(err);
fail:
done:
    PQclear(res);
    free(attnums);
    return rc;
}

/* CREATE TABLE for the shape: the source's column types and primary key. */
static int create_table(tb_sink *s, stable *st, tb_error *err)
{
    const tb_table *t = st->shape;
    tb_buf *b = &s->sql;
    tb_buf_reset(b);
    PRINTF(b, "CREATE TABLE %s (", (const char *)st->qname.data);
    for (int i = 0; i < t->ncols; i++) {
        if (i) PUT(b, ", ");
        IDENT(b, t->cols[i].name);
        PRINTF(b, " %s",
               t->cols[i].target_type ? t->cols[i].target_type : "text");
    }
    if (st->nkeys > 0) {
        PUT(b, ", PRIMARY KEY (");
        for (int k = 0; k < st->nkeys; k++) {
            if (k) PUT(b, ", ");
            IDENT(b, t->cols[st->keys[k]].name);
        }
        PUT(b, ")");
    }
    PUT(b, ")");
    tb_log_info("target: creating table %s (%d columns, %d key columns)",
                (const char *)st->qname.data, t->ncols, st->nkeys);
    return tb_pgsink_run(s, (const char *)b->data, "creating the target table",
                         err);
oom:
    return tb_pgsink_nomem(err);
}

/* ALTER TABLE ADD COLUMN for shape columns the target lacks. */
static int add_columns(tb_sink *s, stable *st, bool *added, tb_error *err)
{
    const tb_table *t = st->shape;
    tb_buf *b = &s->sql;
    tb_buf_reset(b);
    *added = false;
    for (int i = 0; i < t->ncols; i++) {
        bool have = false;
        for (int j = 0; j < st->ntcols && !have; j++)
            have = strcmp(st->tcols[j].name, t->cols[i].name) == 0;
        if (have) continue;
        PRINTF(b, "%s", *added ? ", " : "");
        if (!*added) PRINTF(b, "ALTER TABLE %s ", (const char *)st->qname.data);
        PUT(b, "ADD COLUMN ");
        IDENT(b, t->cols[i].name);
        PRINTF(b, " %s",
               t->cols[i].target_type ? t->cols[i].target_type : "text");
        tb_log_info("target: table %s gets new column %s %s",
                    (const char *)st->qname.data, t->cols[i].name,
                    t->cols[i].target_type ? t->cols[i].target_type : "text");
        *added = true;
    }
    if (!*added) return 0;
    return tb_pgsink_run(s, (const char *)b->data, "adding target columns",
                         err);
oom:
    return tb_pgsink_nomem(err);
}

/* Map the shape's columns onto the target's. */
static int map_columns(stable *st, tb_error *err)
{
    const tb_table *t = st->shape;
    free(st->tmap);
    st->tmap = malloc((t->ncols > 0 ? (size_t)t->ncols : 1) * sizeof(int));
    if (!st->tmap) return tb_pgsink_nomem(err);
    for (int j = 0; j < st->ntcols; j++)
        st->tcols[j].in_shape = false;
    for (int i = 0; i < t->ncols; i++) {
        st->tmap[i] = -1;
        for (int j = 0; j < st->ntcols; j++) {
            if (strcmp(st->tcols[j].name, t->cols[i].name) == 0) {
                st->tmap[i] = j;
                st->tcols[j].in_shape = true;
                break;
            }
        }
        if (st->tmap[i] < 0)
            return tb_error_set(err, TB_ERR_INTERNAL,
                                "postgres target: column %s missing in %s "
                                "after ALTER TABLE",
                                t->cols[i].name, (const char *)st->qname.data);
    }
    /* Binary COPY saves the target parsing text, when every value can be
     * written in the target column's own binary format. */
    st->binary = true;
    for (int i = 0; i < t->ncols && st->binary; i++)
        st->binary =
            tb_pgbin_encodable(t->cols[i].kind, st->tcols[st->tmap[i]].oid);
    return 0;
}

/* Read the target table's columns and indexes again (after a snapshot
 * load dropped and rebuilt its primary key). */
int tb_pgsink_table_refresh(tb_sink *s, stable *st, tb_error *err)
{
    bool exists;
    st->reread = false;
    if (read_target(s, st, &exists, err) < 0) return -1;
    if (!exists)
        return tb_error_set(err, TB_ERR_TARGET,
                            "postgres target: table %s disappeared",
                            (const char *)st->qname.data);
    return map_columns(st, err);
}

/* The prepare op: create or evolve the target table for shape t. */
static int sink_prepare(tb_sink *s, const tb_table *t, tb_error *err)
{
    bool exists = false, added = false;
    stable *st = table_find(s, t);
    if (st && st->shape && tb_table_same_shape(st->shape, t)) goto known;
    /* The target keeps the source table's name: two source tables of the
     * same name (other schema or database) would mix their rows. */
    for (int i = 0; !st && i < s->ntables; i++)
        if (strcmp(s->tables[i]->tname, t->name) == 0) {
            tb_error_set(err, TB_ERR_CONFIG,
                         "source tables %s.%s and %s.%s would both be "
                         "written to %s.%s (target tables keep the source "
                         "table's name): replicate them with separate "
                         "pipelines, each with its own target.schema, or "
                         "narrow source.tables",
                         s->tables[i]->sname, t->name, src_schema(t), t->name,
                         s->schema, t->name);
            return tb_error_fatal(err);
        }
    if (!st && !(st = table_add(s, t))) return tb_pgsink_nomem(err);
    /* Buffered rows follow the old shape: write them out first. */
    if (st->head && tb_pgsink_flush_table(s, st, err) < 0) return -1;

    tb_table *copy = tb_table_clone(t);
    if (!copy) return tb_pgsink_nomem(err);
    tb_table_free(st->shape);
    st->shape = copy;
    st->nkeys = tb_table_nkeys(t);
    free(st->keys);
    st->keys = malloc((st->nkeys > 0 ? (size_t)st->nkeys : 1) * sizeof(int));
    if (!st->keys) return tb_pgsink_nomem(err);
    for (int i = 0, k = 0; i < t->ncols; i++)
        if (t->cols[i].key) st->keys[k++] = i;

    if (read_target(s, st, &exists, err) < 0) goto fail;
    bool created = !exists;
    if (!exists &&
        (create_table(s, st, err) < 0 || read_target(s, st, &exists, err) < 0))
        goto fail;
    if (add_columns(s, st, &added, err) < 0) goto fail;
    /* DDL inside the open transaction: the other lane must not use the
     * table before this transaction commits (it cannot see the change). */
    if ((created || added) && s->in_tx)
        st->ddl_ticket = s->lanes[s->cur].ticket;
    if (added && read_target(s, st, &exists, err) < 0) goto fail;
    if (map_columns(st, err) < 0) goto fail;
    memset(st->stage_ready, 0, sizeof st->stage_ready);
    st->stage[0] = '\0'; /* a new staging table for the new shape */
    memset(st->stmt_id, 0, sizeof st->stmt_id);
known:
    /* A freed shape's address may be reused by another table's shape. */
    for (int i = 0; i < s->ntables; i++)
        if (s->tables[i]->src == t) s->tables[i]->src = NULL;
    st->src = t;
    return 0;
fail:
    /* Half-known table: make the next use prepare it again. */
    tb_table_free(st->shape);
    st->shape = NULL;
    return tb_error_prefix(err, "table %s", (const char *)st->qname.data);
}

static int op_prepare(tb_sink *s, const tb_table *t, tb_error *err)
{
    s->context = NULL;
    return sink_prepare(s, t, err);
}

/* The table of a change, preparing it when the shape is new to us. */
int tb_pgsink_table_for(tb_sink *s, const tb_table *t, stable **out,
                        tb_error *err)
{
    stable *st = s->last;
    if (st && st->src == t && st->shape && strcmp(st->tname, t->name) == 0) {
        *out = st;
        return 0;
    }
    st = table_find(s, t);
    if (!st || !st->shape || st->src != t) {
        if (sink_prepare(s, t, err) < 0) return -1;
        st = table_find(s, t);
    }
    s->last = st;
    *out = st;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Buffering                                                              */

/* Kinds whose PostgreSQL text is the value's own bytes. */
bool tb_pgsink_verbatim_kind(tb_kind k)
{
    return k == TB_KIND_STRING || k == TB_KIND_DECIMAL || k == TB_KIND_UUID ||
           k == TB_KIND_JSON || k == TB_KIND_BITS;
}

/* Format v as COPY text into the arena. */
static int put_field(tb_sink *s, stable *st, const tb_column *col,
                     const tb_value *v, field *f, tb_error *err)
{
    f->p = NULL;
    f->len = 0;
    f->state = v->state == TB_VALUE_SET         ? TB_VALUE_SET
               : v->state == TB_VALUE_UNCHANGED ? TB_VALUE_UNCHANGED
                                                : TB_VALUE_NULL;
    if (f->state != TB_VALUE_SET) return 0;
    if (st->binary) {
        /* Kept as a binary COPY field (length included): the target reads
         * it without parsing text. */
        const tcol *tc = &st->tcols[st->tmap[col - st->shape->cols]];
        tb_buf_reset(&s->val);
        if (tb_pgbin_encode(col->kind, tc->oid, v, &s->val, err) < 0)
            return tb_error_prefix(err, "column %s", col->name);
        char *dst = tb_arena_alloc(st->arena, s->val.len);
        if (!dst) return tb_pgsink_nomem(err);
        memcpy(dst, s->val.data, s->val.len);
        f->p = dst;
        f->len = (uint32_t)s->val.len;
        return 0;
    }
    const char *text;
    size_t len;
    if (tb_pgsink_verbatim_kind(col->kind)) {
        text = v->u.s ? v->u.s : "";
        len = v->u.s ? v->len : 0;
    } else {
        tb_buf_reset(&s->val);
        if (tb_pgtype_format_text(col, v, &s->val, err) < 0)
            return tb_error_prefix(err, "column %s", col->name);
        text = (const char *)s->val.data;
        len = s->val.len;
    }
    size_t n = tb_pgsql_copy_len(text, len);
    char *dst = tb_arena_alloc(st->arena, n ? n : 1);
    if (!dst) return tb_pgsink_nomem(err);
    tb_pgsql_copy_escape(dst, text, len);
    f->p = dst;
    f->len = (uint32_t)n;
    return 0;
}

/* Format a whole image (only the key columns when keys_only). */
static field *put_image(tb_sink *s, stable *st, const tb_value *vals,
                        bool keys_only, tb_error *err)
{
    const tb_table *t = st->shape;
    field *f = tb_arena_alloc(st->arena,
                              (t->ncols ? (size_t)t->ncols : 1) * sizeof *f);
    if (!f) {
        tb_pgsink_nomem(err);
        return NULL;
    }
    for (int i = 0; i < t->ncols; i++) {
        if (keys_only && !t->cols[i].key) {
            f[i] = (field){NULL, 0, TB_VALUE_NULL};
            continue;
        }
        if (put_field(s, st, &t->cols[i], &vals[i], &f[i], err) < 0)
            return NULL;
    }
    return f;
}

/* FNV-1a over the key fields. */
/* Mix a word into a hash (multiply-rotate, as in MurmurHash3's body). */
static inline uint64_t mix_word(uint64_t h, uint64_t v)
{
    v *= 0x87c37b91114253d5ull;
    v = v << 31 | v >> 33;
    h ^= v * 0x4cf5ad432745937full;
    return (h << 27 | h >> 37) * 5 + 0x52dce729;
}

/* 64-bit hash of the key fields (eight bytes at a time, then MurmurHash3's
 * finalizer, so the low bits the tables index by are well mixed). */
static uint64_t key_hash(const stable *st, const field *f)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < st->nkeys; k++) {
        const field *x = &f[st->keys[k]];
        const char *p = x->p;
        uint32_t n = x->len;
        for (; n >= 8; n -= 8, p += 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            h = mix_word(h, v);
        }
        uint64_t tail = (uint64_t)x->state << 56 | (uint64_t)x->len << 32;
        for (uint32_t i = 0; i < n; i++)
            tail |= (uint64_t)(uint8_t)p[i] << (8 * i);
        h = mix_word(h, tail);
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static bool keys_equal(const stable *st, const field *a, const field *b)
{
    for (int k = 0; k < st->nkeys; k++) {
        const field *x = &a[st->keys[k]], *y = &b[st->keys[k]];
        if (x->state != y->state || x->len != y->len ||
            (x->len && memcmp(x->p, y->p, x->len) != 0))
            return false;
    }
    return true;
}

/* The slot holding f's key, or the free slot where it goes. */
static kslot *find_slot(stable *st, const field *f, uint64_t h)
{
    size_t mask = st->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        kslot *k = &st->slots[i];
        if (!k->r || (k->hash == h && keys_equal(st, k->r->f, f))) return k;
    }
}

/* Keep the load factor under 1/2. */
static int grow_slots(stable *st, tb_error *err)
{
    if (st->nslots && (st->nused + 1) * 2 <= st->nslots) return 0;
    size_t n = st->nslots ? st->nslots * 2 : 1024;
    kslot *old = st->slots;
    size_t oldn = st->nslots;
    st->slots = calloc(n, sizeof *st->slots);
    if (!st->slots) {
        st->slots = old;
        return tb_pgsink_nomem(err);
    }
    st->nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].r) {
            /* Keys are distinct: the first free slot is the place. */
            size_t j = old[i].hash & (n - 1);
            while (st->slots[j].r)
                j = (j + 1) & (n - 1);
            st->slots[j] = old[i];
        }
    free(old);
    return 0;
}

static int append_row(stable *st, field *f, uint64_t h, char op, row **out,
                      tb_error *err)
{
    row *r = tb_arena_alloc(st->arena, sizeof *r);
    if (!r) return tb_pgsink_nomem(err);
    r->next = NULL;
    r->f = f;
    r->hash = h;
    r->op = op;
    r->fresh = false;
    if (st->tail)
        st->tail->next = r;
    else
        st->head = r;
    st->tail = r;
    *out = r;
    return 0;
}

static bool has_unchanged(const stable *st, const field *f)
{
    for (int i = 0; i < st->shape->ncols; i++)
        if (f[i].state == TB_VALUE_UNCHANGED) return true;
    return false;
}

/* Fill f's UNCHANGED values from an earlier image of the same row. */
static void inherit(const stable *st, field *f, const field *earlier)
{
    for (int i = 0; i < st->shape->ncols; i++)
        if (f[i].state == TB_VALUE_UNCHANGED) f[i] = earlier[i];
}

/* Record the net effect of "the row with f's key is now f" (op UPSERT) or
 * "is gone" (op DELETE) on top of what the batch holds for that key. */
static int put_keyed(stable *st, field *f, char op, bool insert, tb_error *err)
{
    if (grow_slots(st, err) < 0) return -1;
    uint64_t h = key_hash(st, f);
    kslot *slot = find_slot(st, f, h);
    row *r = slot->r;
    if (!r) {
        if (op != ROW_DELETE && has_unchanged(st, f)) op = ROW_PARTIAL;
        if (append_row(st, f, h, op, &r, err) < 0) return -1;
        r->fresh = insert && op == ROW_UPSERT;
        slot->hash = h;
        slot->r = r;
        st->nused++;
        return 0;
    }
    if (op == ROW_DELETE) {
        /* A key the batch inserted is simply not written. */
        r->op = r->fresh ? ROW_NONE : ROW_DELETE;
        r->f = f;
        return 0;
    }
    /* An earlier full or partial image supplies the values this one did
     * not send; after a delete nothing is stored to keep. */
    if (r->op != ROW_DELETE && r->op != ROW_NONE) inherit(st, f, r->f);
    r->op = has_unchanged(st, f) ? ROW_PARTIAL : ROW_UPSERT;
    r->f = f;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Applying changes to keyed tables                                       */

static bool key_set(const stable *st, const field *f)
{
    for (int k = 0; k < st->nkeys; k++)
        if (f[st->keys[k]].state != TB_VALUE_SET) return false;
    return true;
}

static int apply_keyed(tb_sink *s, stable *st, const tb_change *c,
                       tb_error *err)
{
    field *a = NULL, *b = NULL;
    if (c->op == TB_OP_DELETE) {
        if (!c->before)
            return tb_error_set(err, TB_ERR_SOURCE, "delete without key");
        if (!(b = put_image(s, st, c->before, true, err))) return -1;
        if (!key_set(st, b))
            return tb_error_set(err, TB_ERR_SOURCE, "delete without key");
        return put_keyed(st, b, ROW_DELETE, false, err);
    }
    if (!c->after)
        return tb_error_set(err, TB_ERR_SOURCE, "change without new image");
    if (!(a = put_image(s, st, c->after, false, err))) return -1;
    if (c->op == TB_OP_UPDATE && c->before) {
        if (!(b = put_image(s, st, c->before, true, err))) return -1;
        if (!key_set(st, b)) b = NULL;
    }
    /* A key value the source left out is the old key's value. */
    for (int k = 0; k < st->nkeys && b; k++)
        if (a[st->keys[k]].state == TB_VALUE_UNCHANGED)
            a[st->keys[k]] = b[st->keys[k]];
    if (!key_set(st, a))
        return tb_error_set(err, TB_ERR_SOURCE,
                            "row without a complete primary key");
    if (b && !keys_equal(st, a, b)) {
        /* Key change: the old key is gone, the new one holds the row. The
         * batch's image of the old key fills what the source left out. */
        if (grow_slots(st, err) < 0) return -1;
        row *old = find_slot(st, b, key_hash(st, b))->r;
        if (old && old->op != ROW_DELETE && old->op != ROW_NONE)
            inherit(st, a, old->f);
        if (has_unchanged(st, a))
            return tb_pgsink_update_key_in_place(s, st, c, err);
        if (put_keyed(st, b, ROW_DELETE, false, err) < 0) return -1;
    }
    return put_keyed(st, a, ROW_UPSERT, c->op == TB_OP_CREATE, err);
}

/* ---------------------------------------------------------------------- */
/* Ops                                                                    */

static int op_apply(tb_sink *s, const tb_change *c, tb_error *err)
{
    stable *st;
    int rc;
    if (tb_pgsink_table_for(s, c->table, &st, err) < 0) goto fail;
    switch (c->op) {
    case TB_OP_TRUNCATE:
        /* Whatever the batch holds for the table is erased by the TRUNCATE
         * anyway, so it is dropped rather than written first. */
        tb_pgsink_table_discard(s, st);
        tb_buf_reset(&s->sql);
        if (tb_buf_printf(&s->sql, "TRUNCATE %s",
                          (const char *)st->qname.data) < 0) {
            tb_pgsink_nomem(err);
            goto fail;
        }
        rc = tb_pgsink_run(s, (const char *)s->sql.data, "truncating", err);
        break;
    case TB_OP_READ:
        /* Snapshot rows go into a table the core emptied before the copy
         * began (parts of one table load concurrently, so no part may
         * empty it): COPY them in directly, the fastest way PostgreSQL
         * loads a table. */
        if (!c->after) {
            rc = tb_error_set(err, TB_ERR_SOURCE, "snapshot row without row");
            break;
        }
        if (c->source.replayed) {
            /* A resumed copy: the table holds rows already, merge. */
            if (!st->nkeys) {
                rc = tb_error_set(err, TB_ERR_INTERNAL,
                                  "a resumed copy of a table without key");
                break;
            }
            if (tb_pgsink_end_copying(s, err) < 0) goto fail;
            rc = apply_keyed(s, st, c, err);
            break;
        }
        if (s->copying != st || s->copy_keep) {
            if (tb_pgsink_end_copying(s, err) < 0 ||
                tb_pgsink_flush_table(s, st, err) < 0)
                goto fail;
            tb_buf_reset(&s->sql);
            if (tb_buf_printf(&s->sql, "COPY %s (",
                              (const char *)st->qname.data) < 0 ||
                tb_pgsink_shape_cols(&s->sql, st, "") < 0 ||
                tb_buf_puts(&s->sql, st->binary ? ") FROM STDIN (FORMAT binary)"
                                                : ") FROM STDIN") < 0) {
                tb_pgsink_nomem(err);
                goto fail;
            }
            if (tb_pgsink_copy_begin(s, err) < 0) goto fail;
            s->copying = st;
            s->copy_binary = st->binary;
            if (st->binary && tb_pgbin_put_header(&s->copy) < 0) {
                tb_pgsink_nomem(err);
                goto fail;
            }
        }
        rc = tb_pgsink_load_row(s, st, c->after, false, err);
        break;
    case TB_OP_KEEP:
        rc = tb_pgsink_keep(s, st, c, err);
        break;
    case TB_OP_CREATE:
        if (tb_pgsink_end_copying(s, err) < 0) goto fail;
        if (st->nkeys) {
            rc = apply_keyed(s, st, c, err);
        } else if (!c->after) {
            rc = tb_error_set(err, TB_ERR_SOURCE, "insert without row");
        } else {
            field *f = put_image(s, st, c->after, false, err);
            row *r;
            rc = f ? append_row(st, f, 0, ROW_INSERT, &r, err) : -1;
        }
        break;
    case TB_OP_UPDATE:
    case TB_OP_DELETE:
        if (tb_pgsink_end_copying(s, err) < 0) goto fail;
        rc = st->nkeys ? apply_keyed(s, st, c, err)
                       : tb_pgsink_apply_nokey(s, st, c, err);
        break;
    default:
        rc = tb_error_set(err, TB_ERR_UNSUPPORTED, "operation '%c'",
                          (char)c->op);
    }
    if (rc < 0) goto fail;
    /* Bound memory: write out inside the still-open transaction. */
    if (s->arena.used >= s->flush_at && tb_pgsink_flush_all(s, err) < 0)
        goto fail;
    return 0;
fail:
    return tb_error_prefix(err, "%s.%s at %s", src_schema(c->table),
                           c->table->name,
                           c->source.position ? c->source.position : "?");
}

static int op_begin(tb_sink *s, tb_error *err)
{
    if (s->in_tx)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "postgres target: begin inside a transaction");
    if (s->broken) {
        *err = s->broken_err;
        return -1;
    }
    /* The current lane still commits: load this batch on the other one.
     * The core never has more commits in flight than there are lanes. */
    if (s->lanes[s->cur].pending) {
        int next = (s->cur + 1) % TB_PGSINK_LANES;
        if (s->lanes[next].pending && tb_pgsink_lane_wait(s, next, err) < 0)
            return -1;
        if (!s->lanes[next].conn && tb_pgsink_lane_connect(s, next, err) < 0)
            return -1;
        s->cur = next;
        s->conn = s->lanes[next].conn;
    }
    tb_pgsink_lane_reset(&s->lanes[s->cur]);
    /* The transaction's advisory lock, held to its end, lets the next
     * commit (on the other lane) wait for this one (op_commit). Keyed by a
     * ticket, not the lane: the lane is reused while that next commit may
     * still have to wait. */
    lane *l = &s->lanes[s->cur];
    l->ticket = s->tickets = (s->tickets + 1) & 0x7fffffff;
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%d, %d)",
             (int)tb_pgsink_lock_key(s), (int)l->ticket);
    if (tb_pgsink_run_here(s, sql, "starting a transaction", err) < 0)
        return -1;
    s->in_tx = true;
    return 0;
}

static void rollback(tb_sink *s)
{
    tb_error ignore;
    if (s->copying) {
        /* Abandon the open COPY; the ROLLBACK below discards its rows. */
        s->copying = NULL;
        s->copy_keep = false;
        tb_buf_reset(&s->copy);
        PQputCopyEnd(s->conn, "aborted");
        PGresult *res;
        while ((res = PQgetResult(s->conn)))
            PQclear(res);
    }
    /* A statement sent ahead is read (and forgotten); a commit in flight
     * is not ours to cancel: let it finish. */
    tb_pgsink_lane_wait_busy(s, &ignore);
    tb_pgsink_lane_wait(s, s->cur, &ignore);
    if (s->in_tx) {
        PGresult *res = PQexec(s->conn, "ROLLBACK");
        PQclear(res);
        s->in_tx = false;
    }
    tb_pgsink_lane_reset(&s->lanes[s->cur]);
    /* The batch's DDL and staging tables are gone with it. */
    tb_pgsink_tables_forget(s);
}

/*
 * Commit the batch with its position. The staged rows are loaded at once;
 * the merges, the state row and COMMIT are sent as one message and their
 * results read later (tb_pgsink_wait_pending, or sync() from the core), so the
 * server merges while the agent reads on. Durable only once sync() says so.
 */
static int op_commit(tb_sink *s, const tb_position *pos, tb_error *err)
{
    static const char upsert_fmt[] =
        "INSERT INTO %s (pipeline, position, updated_at, commits, "
        "source_commit_at) VALUES (%s, %s, clock_timestamp(), 1, %s) "
        "ON CONFLICT (pipeline) DO UPDATE SET "
        "position = EXCLUDED.position, updated_at = EXCLUDED.updated_at, "
        "commits = %s.commits + 1, source_commit_at = "
        "coalesce(EXCLUDED.source_commit_at, %s.source_commit_at);\nCOMMIT";
    tb_buf pipe = TB_BUF_INIT, at = TB_BUF_INIT, at_ts = TB_BUF_INIT;
    s->context = pos ? pos->text : "snapshot part";
    if (!s->in_tx) {
        tb_error_set(err, TB_ERR_INTERNAL,
                     "postgres target: commit without a transaction");
        goto fail;
    }
    if (tb_pgsink_end_copying(s, err) < 0) goto fail;
    tb_buf_reset(&s->deferred);
    int rc;
    lane *l = &s->lanes[s->cur];
    if (!pos) {
        /* A snapshot part: its progress is in the marks written in this
         * transaction; the pipeline position stays. Durable on return,
         * so nothing runs alongside another commit. */
        if (tb_pgsink_wait_other(s, err) < 0) goto fail;
        s->defer = true;
        rc = tb_pgsink_flush_all(s, err);
        s->defer = false;
        if (rc < 0) goto fail;
        if (tb_pgsink_sweeps(s, &s->deferred) < 0 ||
            tb_buf_puts(&s->deferred, "COMMIT") < 0) {
            tb_pgsink_nomem(err);
            goto fail;
        }
        if (!PQsendQuery(s->conn, (const char *)s->deferred.data)) {
            tb_pgsink_pg_fail(s, NULL, "sending the commit", err);
            goto fail;
        }
        l->pending = true;
        l->pos.text[0] = '\0';
        s->in_tx = false;
        rc = tb_pgsink_lane_wait(s, s->cur, err);
        s->context = NULL;
        return rc;
    }
    /* Whether this batch may run alongside the commit in flight is decided
     * before the commit's own statements are written (they differ). */
    int last = -1;
    for (int i = 0; i < s->ntables; i++) {
        if (!s->tables[i]->head) continue;
        if (tb_pgsink_lane_claim(s, s->tables[i], err) < 0) goto fail;
        last = i;
    }
    /* The earlier commit still in flight on another lane, if any. */
    const lane *prev = NULL;
    int prev_i = -1;
    for (int i = 0; i < TB_PGSINK_LANES; i++)
        if (i != s->cur && s->lanes[i].pending) {
            prev = &s->lanes[i];
            prev_i = i;
        }
    if (tb_pgsql_literal(&pipe, s->pipeline) < 0 ||
        tb_pgsql_literal(&at, pos->text) < 0 ||
        tb_buf_printf(&at_ts,
                      pos->commit_us > 0 ? "to_timestamp(%lld.%06lld)" : "NULL",
                      pos->commit_us / 1000000, pos->commit_us % 1000000) < 0) {
        tb_pgsink_nomem(err);
        goto fail;
    }
    tb_buf_reset(&s->tail);
    if (!prev) {
        if (tb_buf_printf(
                &s->tail, upsert_fmt, (const char *)s->state_name.data,
                (const char *)pipe.data, (const char *)at.data,
                (const char *)at_ts.data, (const char *)s->state_name.data,
                (const char *)s->state_name.data) < 0) {
            tb_pgsink_nomem(err);
            goto fail;
        }
    } else {
        /* Stored only after the earlier commit, and only if it committed:
         * wait for its transaction to end (its advisory lock), then move
         * the state row on from exactly its position; if it rolled back,
         * no row matches and the division fails this transaction too. */
        tb_buf before = TB_BUF_INIT;
        int key = (int)tb_pgsink_lock_key(s);
        int bad = tb_pgsql_literal(&before, prev->pos.text) < 0 ||
                  tb_buf_printf(
                      &s->tail,
                      "SELECT pg_advisory_lock_shared(%d, %d);\n"
                      "SELECT pg_advisory_unlock_shared(%d, %d);\n"
                      "WITH u AS (UPDATE %s SET position = %s, updated_at = "
                      "clock_timestamp(), commits = commits + 1, "
                      "source_commit_at = coalesce(%s, source_commit_at) "
                      "WHERE pipeline = %s AND position = %s RETURNING 1) "
                      "SELECT 1 / (SELECT count(*)::int FROM u);\nCOMMIT",
                      key, (int)prev->ticket, key, (int)prev->ticket,
                      (const char *)s->state_name.data, (const char *)at.data,
                      (const char *)at_ts.data, (const char *)pipe.data,
                      (const char *)before.data) < 0;
        tb_buf_free(&before);
        if (bad) {
            tb_pgsink_nomem(err);
            goto fail;
        }
    }
    /* Every table's rows: merges deferred into this message, and the last
     * table's final COPY carries the whole rest (merges, state, COMMIT),
     * so the agent never waits for that COPY to be loaded. */
    s->defer = true;
    s->carried = false;
    rc = 0;
    for (int i = 0; i < s->ntables && rc == 0; i++) {
        s->carry = i == last ? &s->tail : NULL;
        rc = tb_pgsink_flush_table(s, s->tables[i], err);
    }
    s->carry = NULL;
    s->defer = false;
    tb_arena_reset(&s->arena);
    if (rc < 0) goto fail;
    if (!s->carried) {
        if (tb_buf_append(&s->deferred, s->tail.data, s->tail.len) < 0 ||
            tb_pgsink_cstr(&s->deferred) < 0) {
            tb_pgsink_nomem(err);
            goto fail;
        }
        if (tb_pgsink_wait_pending(s, err) < 0) goto fail;
        if (!PQsendQuery(s->conn, (const char *)s->deferred.data)) {
            tb_pgsink_pg_fail(s, NULL, "sending the commit", err);
            goto fail;
        }
    }
    s->carried = false;
    l->pending = true;
    l->pos = *pos;
    s->oldest = prev ? prev_i : s->cur;
    s->in_tx = false;
    tb_buf_free(&pipe);
    tb_buf_free(&at);
    tb_buf_free(&at_ts);
    s->context = NULL;
    return 0;
fail:
    tb_buf_free(&pipe);
    tb_buf_free(&at);
    tb_buf_free(&at_ts);
    rollback(s);
    s->context = NULL;
    return -1;
}

/* Wait for the commit in flight; *done gets the position now durable ("" if
 * none became durable since the last call). */
static int op_sync(tb_sink *s, tb_position *done, tb_error *err)
{
    return tb_pgsink_sync(s, done, err);
}

static void op_abort(tb_sink *s)
{
    rollback(s);
}

static void op_close(tb_sink *s)
{
    if (!s) return;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) rollback(s);
    tb_pgsink_tables_forget(s);
    free(s->tables);
    for (int i = 0; i < TB_PGSINK_LANES; i++) {
        tb_error ignore;
        lane *l = &s->lanes[i];
        /* Learn how a commit in flight ended before hanging up. */
        if (l->conn && PQstatus(l->conn) == CONNECTION_OK)
            tb_pgsink_lane_wait(s, i, &ignore);
        if (l->conn) PQfinish(l->conn);
        free(l->keys);
    }
    if (s->conninfo) {
        explicit_bzero(s->conninfo, strlen(s->conninfo));
        free(s->conninfo);
    }
    free(s->dsn_masked);
    free(s->schema);
    free(s->pipeline);
    tb_arena_free(&s->arena);
    tb_buf_free(&s->state_name);
    tb_buf_free(&s->marks_name);
    tb_buf_free(&s->sql);
    tb_buf_free(&s->val);
    tb_buf_free(&s->copy);
    tb_buf_free(&s->params);
    tb_buf_free(&s->deferred);
    tb_buf_free(&s->carry_sql);
    tb_buf_free(&s->tail);
    free(s->poffs);
    free(s->pvals);
    free(s);
}

/* Create the schema and state table when missing. Existence is checked
 * first: CREATE ... IF NOT EXISTS checks the privilege before existence, so
 * a role that may only write would fail needlessly. */
static int ensure_state(tb_sink *s, tb_error *err)
{
    const char *schema = s->schema;
    const char *state = (const char *)s->state_name.data;
    PGresult *res =
        tb_pgsink_query(s, "SELECT to_regnamespace($1) IS NOT NULL", 1, &schema,
                        "looking up the target schema", err);
    if (!res) return -1;
    bool have = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    tb_buf *b = &s->sql;
    if (!have) {
        tb_buf_reset(b);
        PUT(b, "CREATE SCHEMA IF NOT EXISTS ");
        IDENT(b, s->schema);
        if (tb_pgsink_run(s, (const char *)b->data,
                          "creating the target schema", err) < 0)
            return -1;
    }
    res = tb_pgsink_query(s, "SELECT to_regclass($1) IS NOT NULL", 1, &state,
                          "looking up the state table", err);
    if (!res) return -1;
    have = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    tb_buf_reset(b);
    if (have) {
        /* State tables of earlier versions lack this column. */
        PRINTF(b,
               "ALTER TABLE %s ADD COLUMN IF NOT EXISTS source_commit_at "
               "timestamptz",
               state);
        if (tb_pgsink_run(s, (const char *)b->data, "upgrading the state table",
                          err) < 0)
            return -1;
    } else {
        PRINTF(b,
               "CREATE TABLE IF NOT EXISTS %s (pipeline text PRIMARY KEY, "
               "position text NOT NULL, updated_at timestamptz NOT NULL "
               "DEFAULT now(), commits bigint NOT NULL DEFAULT 0, "
               "source_commit_at timestamptz)",
               state);
        if (tb_pgsink_run(s, (const char *)b->data, "creating the state table",
                          err) < 0)
            return -1;
    }
    /* Snapshot progress: one row per finished part (tb_snapshot.h). */
    const char *marks = (const char *)s->marks_name.data;
    res = tb_pgsink_query(s, "SELECT to_regclass($1) IS NOT NULL", 1, &marks,
                          "looking up the marks table", err);
    if (!res) return -1;
    have = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (have) return 0;
    tb_buf_reset(b);
    PRINTF(b,
           "CREATE TABLE IF NOT EXISTS %s (pipeline text NOT NULL, key text "
           "NOT NULL, value text NOT NULL, updated_at timestamptz NOT NULL "
           "DEFAULT clock_timestamp(), PRIMARY KEY (pipeline, key))",
           marks);
    return tb_pgsink_run(s, (const char *)b->data, "creating the marks table",
                         err);
oom:
    return tb_pgsink_nomem(err);
}

static int op_open(const tb_config *cfg, tb_position *committed, tb_sink **out,
                   tb_error *err)
{
    PGresult *res = NULL;
    tb_sink *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) return tb_pgsink_nomem(err);
    tb_arena_init(&s->arena, 0);
    committed->text[0] = '\0';
    s->dsn_masked = tb_dsn_mask(cfg->target.dsn ? cfg->target.dsn : "");
    s->schema = strdup(cfg->target.schema ? cfg->target.schema : "public");
    s->pipeline = strdup(cfg->name ? cfg->name : "");
    if (!s->dsn_masked || !s->schema || !s->pipeline ||
        tb_pgsql_qualified(&s->state_name, s->schema, "_tributary_state") < 0 ||
        tb_pgsink_cstr(&s->state_name) < 0 ||
        tb_pgsql_qualified(&s->marks_name, s->schema, "_tributary_marks") < 0 ||
        tb_pgsink_cstr(&s->marks_name) < 0) {
        tb_pgsink_nomem(err);
        goto fail;
    }
    int64_t fb = cfg->batch.max_bytes / 4;
    s->flush_at = fb < (int64_t)FLUSH_MIN   ? FLUSH_MIN
                  : fb > (int64_t)FLUSH_MAX ? FLUSH_MAX
                                            : (size_t)fb;

    /* Kept to open the second lane when commits start to overlap. */
    s->conninfo = tb_pg_conninfo(cfg->target.dsn ? cfg->target.dsn : "",
                                 cfg->target.password, err);
    if (!s->conninfo || tb_pgsink_lane_connect(s, 0, err) < 0) goto fail;
    s->conn = s->lanes[0].conn;
    if (ensure_state(s, err) < 0) goto fail;
    tb_buf_reset(&s->sql);
    if (tb_buf_printf(&s->sql, "SELECT position FROM %s WHERE pipeline = $1",
                      (const char *)s->state_name.data) < 0) {
        tb_pgsink_nomem(err);
        goto fail;
    }
    const char *name = s->pipeline;
    res = tb_pgsink_query(s, (const char *)s->sql.data, 1, &name,
                          "reading the committed position", err);
    if (!res) goto fail;
    if (PQntuples(res) == 1) {
        const char *p = PQgetvalue(res, 0, 0);
        if (strlen(p) >= sizeof committed->text) {
            tb_error_set(err, TB_ERR_TARGET,
                         "postgres target %s: stored position too long",
                         s->dsn_masked);
            goto fail;
        }
        snprintf(committed->text, sizeof committed->text, "%s", p);
    }
    PQclear(res);
    tb_log_info("target %s: connected, schema %s, committed position %s",
                s->dsn_masked, s->schema,
                committed->text[0] ? committed->text : "(none)");
    *out = s;
    return 0;
fail:
    PQclear(res);
    op_close(s);
    return -1;
}

/* `tributary status`: the committed position, read-only (creates nothing). */
static int op_committed(const tb_config *cfg, tb_position *pos, json_t *info,
                        tb_error *err)
{
    pos->text[0] = '\0';
    PGconn *c = tb_pgconn_open(cfg->target.dsn, cfg->target.password, false,
                               "target", err);
    if (!c) return -1;
    tb_buf q = TB_BUF_INIT;
    int rc = -1;
    if (tb_buf_puts(&q, "SELECT to_regclass(") < 0) goto oom;
    tb_buf state = TB_BUF_INIT;
    if (tb_pgsql_qualified(&state, cfg->target.schema, "_tributary_state") <
            0 ||
        tb_pgsql_literal(&q, (const char *)state.data) < 0 ||
        tb_buf_puts(&q, ") IS NOT NULL") < 0) {
        tb_buf_free(&state);
        goto oom;
    }
    PGresult *r =
        tb_pgconn_query(c, (const char *)q.data, "looking up the state table",
                        TB_ERR_TARGET, err);
    if (!r) {
        tb_buf_free(&state);
        goto out;
    }
    bool have = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!have) {
        tb_buf_free(&state);
        rc = 0;
        goto out;
    }
    tb_buf_reset(&q);
    if (tb_buf_printf(&q,
                      "SELECT position, updated_at, commits, "
                      "extract(epoch FROM now() - updated_at), "
                      "extract(epoch FROM now() - source_commit_at) FROM %s "
                      "WHERE pipeline = ",
                      (const char *)state.data) < 0 ||
        tb_pgsql_literal(&q, cfg->name) < 0) {
        tb_buf_free(&state);
        goto oom;
    }
    tb_buf_free(&state);
    r = tb_pgconn_query(c, (const char *)q.data,
                        "reading the committed position", TB_ERR_TARGET, err);
    if (!r) goto out;
    if (PQntuples(r) == 1) {
        snprintf(pos->text, sizeof pos->text, "%s", PQgetvalue(r, 0, 0));
        json_object_set_new(info, "committed_at",
                            json_string(PQgetvalue(r, 0, 1)));
        json_object_set_new(info, "target_commits",
                            json_integer(atoll(PQgetvalue(r, 0, 2))));
        json_object_set_new(info, "seconds_since_commit",
                            json_real(atof(PQgetvalue(r, 0, 3))));
        /* Age of the newest applied change: the lag in seconds while the
         * target is behind (the caller zeroes it when caught up). */
        if (!PQgetisnull(r, 0, 4))
            json_object_set_new(info, "lag_seconds",
                                json_real(atof(PQgetvalue(r, 0, 4))));
    }
    PQclear(r);
    rc = 0;
    goto out;
oom:
    tb_error_set(err, TB_ERR_NOMEM, "out of memory");
out:
    tb_buf_free(&q);
    PQfinish(c);
    return rc;
}

const tb_sink_ops tb_pg_sink_ops = {
    .abi = TB_SINK_ABI,
    .type = "postgres",
    .open = op_open,
    .prepare = op_prepare,
    .begin = op_begin,
    .apply = op_apply,
    .commit = op_commit,
    .abort = op_abort,
    .close = op_close,
    .committed = op_committed,
    .sync = op_sync,
    .inflight_max = TB_PGSINK_LANES,
    .mark = tb_pgsink_mark,
    .marks = tb_pgsink_marks,
    .load_begin = tb_pgsink_load_begin,
    .load_end = tb_pgsink_load_end,
};
