/*
 * pg_source.c - the PostgreSQL source: pre-flight checks, table resolution,
 * publication and slot management, and the tb_source_ops table.
 *
 * Streaming lives in pg_stream.c, the initial copy in pg_snapshot.c.
 */
#include "pg_source.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_source_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "pgwire.h"
#include "tb_log.h"

void tb_pgsrc_lsn_text(uint64_t lsn, char *buf, size_t cap)
{
    snprintf(buf, cap, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* ---- pre-flight ------------------------------------------------------- */

static int check_server(tb_source *s, tb_error *err)
{
    PGresult *r = tb_pgconn_query(
        s->sql,
        "SELECT current_setting('wal_level'), "
        "current_setting('server_version_num')::int, current_database(), "
        "current_user, r.rolreplication OR r.rolsuper, "
        "current_setting('max_replication_slots')::int "
        "FROM pg_roles r WHERE r.rolname = current_user",
        "reading server settings", TB_ERR_SOURCE, err);
    if (!r) return -1;
    int rc = -1;
    if (PQntuples(r) != 1) {
        tb_error_set(err, TB_ERR_SOURCE, "cannot read the source's settings");
        goto out;
    }
    const char *wal_level = PQgetvalue(r, 0, 0);
    s->server_version = atoi(PQgetvalue(r, 0, 1));
    s->dbname = strdup(PQgetvalue(r, 0, 2));
    const char *user = PQgetvalue(r, 0, 3);
    if (strcmp(wal_level, "logical") != 0) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "source has wal_level=%s, but logical decoding needs "
                     "wal_level=logical: run ALTER SYSTEM SET wal_level = "
                     "logical; and restart PostgreSQL",
                     wal_level);
        tb_error_fatal(err);
        goto out;
    }
    if (s->server_version < 100000) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "source runs PostgreSQL %d; pgoutput needs 10 or newer",
                     s->server_version / 10000);
        tb_error_fatal(err);
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 4), "t") != 0) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "role %s lacks the REPLICATION attribute needed for a "
                     "replication slot: run ALTER ROLE %s REPLICATION; as a "
                     "superuser",
                     user, user);
        tb_error_fatal(err);
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    return rc;
}

/* Resolve the configured patterns to tables; each must match one. */
static int resolve_tables(tb_source *s, tb_error *err)
{
    PGresult *r = tb_pgconn_query(
        s->sql,
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, "
        "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
        "i.indisprimary), has_table_privilege(c.oid, 'SELECT') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' "
        "ORDER BY n.nspname, c.relname",
        "listing tables", TB_ERR_SOURCE, err);
    if (!r) return -1;
    int rc = -1, n = PQntuples(r);
    s->tables = calloc((size_t)(n ? n : 1), sizeof *s->tables);
    if (!s->tables) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out;
    }
    bool *hit = calloc((size_t)s->cfg->source.ntables, sizeof *hit);
    if (!hit) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2));
        bool want = false;
        for (int p = 0; p < s->cfg->source.ntables; p++) {
            if (fnmatch(s->cfg->source.tables[p], full, 0) == 0) {
                hit[p] = true;
                want = true;
            }
        }
        if (!want) continue;
        pg_table_ref *t = &s->tables[s->ntables++];
        t->oid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        t->schema = strdup(PQgetvalue(r, i, 1));
        t->name = strdup(PQgetvalue(r, i, 2));
        t->replident = PQgetvalue(r, i, 3)[0];
        t->has_pk = PQgetvalue(r, i, 4)[0] == 't';
        if (!t->schema || !t->name) {
            free(hit);
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (PQgetvalue(r, i, 5)[0] != 't') {
            tb_error_set(err, TB_ERR_SOURCE,
                         "the source role cannot read table %s: run GRANT "
                         "SELECT ON %s TO <role>;",
                         full, full);
            tb_error_fatal(err);
            free(hit);
            goto out;
        }
        if (t->replident == 'n' || (t->replident == 'd' && !t->has_pk)) {
            tb_error_set(err, TB_ERR_SOURCE,
                         "table %s has no primary key and no REPLICA "
                         "IDENTITY FULL, so its updates and deletes cannot "
                         "be replicated: add a primary key, or run ALTER "
                         "TABLE %s REPLICA IDENTITY FULL;",
                         full, full);
            tb_error_fatal(err);
            free(hit);
            goto out;
        }
    }
    for (int p = 0; p < s->cfg->source.ntables; p++) {
        if (!hit[p]) {
            tb_error_set(err, TB_ERR_SOURCE,
                         "source.tables pattern \"%s\" matches no table in "
                         "database %s (patterns are schema.table, * is a "
                         "wildcard; partitions replicate through their "
                         "parent table)",
                         s->cfg->source.tables[p], s->dbname);
            tb_error_fatal(err);
            free(hit);
            goto out;
        }
    }
    free(hit);
    rc = 0;
out:
    PQclear(r);
    return rc;
}

/* Is every pattern a whole schema ("sales.*")? Then the publication is FOR
 * TABLES IN SCHEMA and picks up tables created later. */
static bool whole_schemas(const tb_config *cfg)
{
    for (int p = 0; p < cfg->source.ntables; p++) {
        const char *pat = cfg->source.tables[p];
        const char *dot = strchr(pat, '.');
        if (!dot || strcmp(dot, ".*") != 0) return false;
        if (strpbrk(pat, "*?[") != dot + 1) return false;
    }
    return true;
}

static int ensure_publication(tb_source *s, bool resuming, tb_error *err)
{
    const char *pub = s->cfg->source.publication;
    tb_buf q = TB_BUF_INIT;
    int rc = -1;
    PGresult *r = NULL;

    tb_buf_puts(&q, "SELECT 1 FROM pg_publication WHERE pubname = ");
    tb_pgsql_literal(&q, pub);
    r = tb_pgconn_query(s->sql, (char *)q.data, "looking up the publication",
                        TB_ERR_SOURCE, err);
    if (!r) goto out;
    bool exists = PQntuples(r) > 0;
    PQclear(r);
    r = NULL;
    tb_buf_reset(&q);
    if (!exists) {
        tb_buf_puts(&q, "CREATE PUBLICATION ");
        tb_pgsql_ident(&q, pub);
        if (whole_schemas(s->cfg) && s->server_version >= 150000) {
            tb_buf_puts(&q, " FOR TABLES IN SCHEMA ");
            for (int p = 0; p < s->cfg->source.ntables; p++) {
                const char *pat = s->cfg->source.tables[p];
                char schema[256];
                snprintf(schema, sizeof schema, "%.*s",
                         (int)(strchr(pat, '.') - pat), pat);
                if (p) tb_buf_puts(&q, ", ");
                tb_pgsql_ident(&q, schema);
            }
        } else {
            tb_buf_puts(&q, " FOR TABLE ");
            for (int i = 0; i < s->ntables; i++) {
                if (i) tb_buf_puts(&q, ", ");
                tb_pgsql_ident(&q, s->tables[i].schema);
                tb_buf_puts(&q, ".");
                tb_pgsql_ident(&q, s->tables[i].name);
            }
        }
        if (s->server_version >= 130000)
            tb_buf_puts(&q, " WITH (publish_via_partition_root = true)");
        if (tb_pgconn_exec(s->sql, (char *)q.data, "creating the publication",
                           TB_ERR_SOURCE, err) < 0) {
            tb_error_prefix(err,
                            "publication %s (the source role needs "
                            "CREATE on the database, or create it "
                            "yourself)",
                            pub);
            goto out;
        }
        tb_log_info("created publication %s", pub);
        rc = 0;
        goto out;
    }
    /* An existing publication must cover every configured table. */
    for (int i = 0; i < s->ntables; i++) {
        tb_buf_reset(&q);
        tb_buf_puts(&q, "SELECT 1 FROM pg_publication_tables WHERE pubname = ");
        tb_pgsql_literal(&q, pub);
        tb_buf_puts(&q, " AND schemaname = ");
        tb_pgsql_literal(&q, s->tables[i].schema);
        tb_buf_puts(&q, " AND tablename = ");
        tb_pgsql_literal(&q, s->tables[i].name);
        r = tb_pgconn_query(s->sql, (char *)q.data, "checking the publication",
                            TB_ERR_SOURCE, err);
        if (!r) goto out;
        bool covered = PQntuples(r) > 0;
        PQclear(r);
        r = NULL;
        if (covered) continue;
        tb_buf_reset(&q);
        tb_buf_puts(&q, "ALTER PUBLICATION ");
        tb_pgsql_ident(&q, pub);
        tb_buf_puts(&q, " ADD TABLE ");
        tb_pgsql_ident(&q, s->tables[i].schema);
        tb_buf_puts(&q, ".");
        tb_pgsql_ident(&q, s->tables[i].name);
        if (tb_pgconn_exec(s->sql, (char *)q.data,
                           "adding a table to the publication", TB_ERR_SOURCE,
                           err) < 0)
            goto out;
        tb_log_info("added %s.%s to publication %s", s->tables[i].schema,
                    s->tables[i].name, pub);
        /* Its existing rows are copied by snapshot_plan (a table without
         * snapshot marks joins with a copy of its own). */
        (void)resuming;
    }
    rc = 0;
out:
    PQclear(r);
    tb_buf_free(&q);
    return rc;
}

/* Create the slot on the replication connection; with export, keep the
 * snapshot for the initial copy. */
int tb_pgsrc_create_slot(tb_source *s, bool export, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "CREATE_REPLICATION_SLOT ");
    tb_pgsql_ident(&q, s->cfg->source.slot);
    tb_buf_puts(&q, export ? " LOGICAL pgoutput EXPORT_SNAPSHOT"
                           : " LOGICAL pgoutput NOEXPORT_SNAPSHOT");
    PGresult *r = PQexec(s->repl, (char *)q.data);
    tb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "creating replication slot %s failed: %s (check "
                     "max_replication_slots and that no other slot uses the "
                     "name)",
                     s->cfg->source.slot, tb_pgconn_error(s->repl));
        PQclear(r);
        return -1;
    }
    if (tb_pgwire_lsn_parse(PQgetvalue(r, 0, 1), &s->consistent_lsn, err) < 0) {
        PQclear(r);
        return -1;
    }
    if (export && !PQgetisnull(r, 0, 2))
        snprintf(s->snapshot_name, sizeof s->snapshot_name, "%s",
                 PQgetvalue(r, 0, 2));
    PQclear(r);
    char lsn[32];
    tb_pgsrc_lsn_text(s->consistent_lsn, lsn, sizeof lsn);
    tb_log_info("created replication slot %s at %s%s%s", s->cfg->source.slot,
                lsn, export ? ", snapshot " : "",
                export ? s->snapshot_name : "");
    return 0;
}

int tb_pgsrc_drop_slot(tb_source *s, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "SELECT pg_drop_replication_slot(");
    tb_pgsql_literal(&q, s->cfg->source.slot);
    tb_buf_puts(&q, ")");
    int rc = tb_pgconn_exec(s->sql, (char *)q.data, "dropping the slot",
                            TB_ERR_SOURCE, err);
    tb_buf_free(&q);
    return rc;
}

/* Decide where to start: resume from the target's position, or create the
 * slot (with a snapshot for the initial copy). */
static int prepare_slot(tb_source *s, const tb_position *resume, tb_error *err)
{
    const char *slot = s->cfg->source.slot;
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "SELECT active_pid, plugin, database, "
                    "confirmed_flush_lsn FROM pg_replication_slots "
                    "WHERE slot_name = ");
    tb_pgsql_literal(&q, slot);
    PGresult *r =
        tb_pgconn_query(s->sql, (char *)q.data,
                        "looking up the replication slot", TB_ERR_SOURCE, err);
    tb_buf_free(&q);
    if (!r) return -1;
    bool exists = PQntuples(r) == 1;
    if (exists && !PQgetisnull(r, 0, 0)) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "replication slot %s is active in process %s (another "
                     "tributary running the same pipeline?); stop it first, "
                     "or use another source.slot",
                     slot, PQgetvalue(r, 0, 0));
        /* Retriable: after a dropped connection the server may not have
         * noticed yet that our own previous walsender is gone. */
        tb_error_retriable(err);
        PQclear(r);
        return -1;
    }
    char flush[32] = "";
    if (exists && !PQgetisnull(r, 0, 3))
        snprintf(flush, sizeof flush, "%s", PQgetvalue(r, 0, 3));
    if (exists && (strcmp(PQgetvalue(r, 0, 1), "pgoutput") != 0 ||
                   strcmp(PQgetvalue(r, 0, 2), s->dbname) != 0)) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "replication slot %s exists but belongs to plugin %s "
                     "on database %s; pick another source.slot",
                     slot, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
        PQclear(r);
        return -1;
    }
    PQclear(r);

    bool snapshot = strcmp(s->cfg->source.snapshot, "initial") == 0;
    if (resume->text[0]) {
        if (!exists) {
            tb_error_set(
                err, TB_ERR_SOURCE,
                "the target has position %s but replication slot %s does not "
                "exist any more, so changes after that position are lost to "
                "tributary. To start over: drop the replicated tables and "
                "the pipeline's rows in the target's _tributary_state and "
                "_tributary_marks tables, then run again (a new snapshot is "
                "taken)",
                resume->text, slot);
            tb_error_fatal(err);
            return -1;
        }
        if (tb_pgwire_lsn_parse(resume->text, &s->resume_lsn, err) < 0)
            return tb_error_prefix(err, "stored position");
        s->start_lsn = s->resume_lsn;
        return 0;
    }
    if (!snapshot) {
        if (exists) {
            /* No snapshot wanted: stream from wherever the slot stands
             * (e.g. a slot made with pg_copy_logical_replication_slot). */
            tb_log_info("using existing replication slot %s (snapshot: never)",
                        slot);
            s->start_lsn = 0; /* the server starts at the slot's position */
            s->resume_lsn = 0;
            return 0;
        }
        if (tb_pgsrc_create_slot(s, false, err) < 0) return -1;
        s->start_lsn = s->resume_lsn = s->consistent_lsn;
        return 0;
    }
    /* A copy is needed: fresh, or resuming one an earlier run left. Which
     * one is decided in snapshot_plan, once the target's marks are known
     * (the slot is kept or recreated there). */
    s->need_snapshot = true;
    s->slot_exists = exists;
    if (exists && tb_pgwire_lsn_parse(flush, &s->slot_flush, err) < 0)
        return tb_error_prefix(err, "slot %s confirmed_flush_lsn", slot);
    return 0;
}

/* ---- ops ---------------------------------------------------------------- */

static void pg_close(tb_source *s);

static int pg_open(const tb_config *cfg, const tb_position *resume,
                   tb_source **out, tb_error *err)
{
    tb_source *s = calloc(1, sizeof *s);
    if (!s) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    tb_arena_init(&s->arena, 256 * 1024);
    *out = NULL;
    s->sql = tb_pgconn_open(cfg->source.dsn, cfg->source.password, false,
                            "source", err);
    if (!s->sql) goto fail;
    if (check_server(s, err) < 0 || resolve_tables(s, err) < 0 ||
        ensure_publication(s, resume->text[0] != '\0', err) < 0)
        goto fail;
    s->repl = tb_pgconn_open(cfg->source.dsn, cfg->source.password, true,
                             "source (replication)", err);
    if (!s->repl) goto fail;
    /* Protocol 2 streams large in-progress transactions (PostgreSQL 14+). */
    s->proto = s->server_version >= 140000 ? 2 : 1;
    tb_pgo_opts o = {s->proto, false};
    if (tb_pgo_new(&o, &s->dec, err) < 0) goto fail;
    if (prepare_slot(s, resume, err) < 0) goto fail;
    s->acked_lsn = s->resume_lsn;
    *out = s;
    return 0;
fail:
    pg_close(s);
    return -1;
}

static int pg_current(tb_source *s, tb_position *out, tb_error *err)
{
    PGresult *r =
        /* The insert position, not pg_current_wal_lsn() (the write
         * position): with synchronous_commit=off a transaction that has
         * returned to its client may not be written yet, and --once must
         * still wait for it. */
        tb_pgconn_query(s->sql, "SELECT pg_current_wal_insert_lsn()",
                        "reading the current WAL position", TB_ERR_SOURCE, err);
    if (!r) return -1;
    snprintf(out->text, sizeof out->text, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

static int pg_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                   tb_error *err)
{
    tb_arena_reset(&s->arena);
    if (s->need_snapshot)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "postgres source: streaming before the snapshot");
    if (!s->streaming && tb_pgsrc_stream_start(s, err) < 0) return -1;
    return tb_pgsrc_stream_poll(s, emit, timeout_ms, err);
}

static int lsn_of(const tb_position *p, uint64_t *lsn)
{
    tb_error e;
    if (!p->text[0]) {
        *lsn = 0;
        return 0;
    }
    return tb_pgwire_lsn_parse(p->text, lsn, &e);
}

static int pg_compare(const tb_position *a, const tb_position *b)
{
    uint64_t x = 0, y = 0;
    lsn_of(a, &x);
    lsn_of(b, &y);
    return x < y ? -1 : x > y;
}

static int pg_ack(tb_source *s, const tb_position *pos, tb_error *err)
{
    uint64_t lsn;
    if (lsn_of(pos, &lsn) < 0)
        return tb_error_set(err, TB_ERR_INTERNAL, "bad position \"%s\"",
                            pos->text);
    if (lsn <= s->acked_lsn) return 0;
    s->acked_lsn = lsn;
    /* Relations replaced before this point are no longer referenced. */
    tb_pgo_gc(s->dec);
    if (!s->streaming) return 0;
    return tb_pgsrc_send_status(s, false, err);
}

static void pg_close(tb_source *s)
{
    if (!s) return;
    if (s->repl && s->streaming) {
        /* Tell the server what is durable before leaving. */
        tb_error e;
        tb_pgsrc_send_status(s, false, &e);
        PQputCopyEnd(s->repl, NULL);
    }
    tb_pgsrc_snapshot_end(s, false);
    free(s->skips);
    PQfinish(s->repl);
    PQfinish(s->sql);
    tb_pgsrc_streams_free(s);
    tb_pgo_free(s->dec);
    for (int i = 0; i < s->nrels; i++)
        tb_table_free(s->rels[i].table);
    free(s->rels);
    tb_shapes_free(&s->retired);
    for (int i = 0; i < s->ntables; i++) {
        free(s->tables[i].schema);
        free(s->tables[i].name);
    }
    free(s->tables);
    tb_rowbuf_free(&s->row);
    free(s->dbname);
    tb_arena_free(&s->arena);
    free(s);
}

/* `tributary status`: slot state, WAL positions and lag, read-only. */
static int pg_status(const tb_config *cfg, const tb_position *committed,
                     json_t *out, tb_error *err)
{
    PGconn *c = tb_pgconn_open(cfg->source.dsn, cfg->source.password, false,
                               "source", err);
    if (!c) return -1;
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "SELECT pg_current_wal_lsn(), s.slot_name IS NOT NULL, "
                    "s.active, s.active_pid, s.confirmed_flush_lsn, "
                    "s.restart_lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), "
                    "s.restart_lsn)::bigint, s.wal_status FROM (SELECT 1) one "
                    "LEFT JOIN pg_replication_slots s ON s.slot_name = ");
    tb_pgsql_literal(&q, cfg->source.slot);
    PGresult *r = tb_pgconn_query(c, (char *)q.data, "reading slot state",
                                  TB_ERR_SOURCE, err);
    tb_buf_free(&q);
    if (!r) {
        PQfinish(c);
        return -1;
    }
    const char *cur = PQgetvalue(r, 0, 0);
    json_object_set_new(out, "source_wal_lsn", json_string(cur));
    json_object_set_new(out, "slot", json_string(cfg->source.slot));
    bool exists = PQgetvalue(r, 0, 1)[0] == 't';
    json_object_set_new(out, "slot_exists", json_boolean(exists));
    if (exists) {
        json_object_set_new(out, "slot_active",
                            json_boolean(PQgetvalue(r, 0, 2)[0] == 't'));
        if (!PQgetisnull(r, 0, 3))
            json_object_set_new(out, "slot_active_pid",
                                json_integer(atoi(PQgetvalue(r, 0, 3))));
        json_object_set_new(out, "slot_confirmed_flush_lsn",
                            json_string(PQgetvalue(r, 0, 4)));
        json_object_set_new(out, "slot_restart_lsn",
                            json_string(PQgetvalue(r, 0, 5)));
        json_object_set_new(out, "retained_wal_bytes",
                            json_integer(atoll(PQgetvalue(r, 0, 6))));
        json_object_set_new(out, "slot_wal_status",
                            json_string(PQgetvalue(r, 0, 7)));
    }
    /* Lag is measured from what the target holds: the committed position,
     * or the slot's confirmed position when an idle agent has moved it on
     * past WAL that carried nothing for this pipeline. */
    uint64_t now_lsn = 0, done = 0, confirmed = 0;
    tb_error e;
    if (exists && !PQgetisnull(r, 0, 4))
        tb_pgwire_lsn_parse(PQgetvalue(r, 0, 4), &confirmed, &e);
    if (tb_pgwire_lsn_parse(cur, &now_lsn, &e) == 0 && committed->text[0] &&
        tb_pgwire_lsn_parse(committed->text, &done, &e) == 0) {
        if (confirmed > done) done = confirmed;
        json_object_set_new(
            out, "lag_bytes",
            json_integer(now_lsn > done ? (json_int_t)(now_lsn - done) : 0));
    }
    PQclear(r);
    PQfinish(c);
    return 0;
}

const tb_source_ops tb_pg_source_ops = {
    .abi = TB_SOURCE_ABI,
    .type = "postgres",
    .open = pg_open,
    .current = pg_current,
    .poll = pg_poll,
    .compare = pg_compare,
    .ack = pg_ack,
    .close = pg_close,
    .status = pg_status,
    .snapshot_plan = tb_pgsrc_snapshot_plan,
    .snapshot_copy = tb_pgsrc_snapshot_copy,
    .snapshot_end = tb_pgsrc_snapshot_end,
};
