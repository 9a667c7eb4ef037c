/*
 * test_my_source.c - the MySQL/MariaDB source against a real MariaDB
 * (scripts/servers.sh: TB_MY_HOST, TB_MY_PORT, TB_MY_URI, TB_MY_DATABASE).
 *
 * tb_mysql_source_ops is driven directly with a recording tb_emit (the
 * core's side of the interface, not a database mock): every table / begin /
 * change / commit / progress callback is rendered into a line of text.
 * Skipped when TB_MY_URI is not set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/mysql/my_source.h"
#include "../../connectors/mysql/my_source_int.h"
#include "tb_buf.h"

#define DB "tributary_test"

/* Everything the source emitted, one line per callback. */
typedef struct rec {
    char **lines;
    int n, cap;
    bool keep_changes;       /* store change lines (off for huge tests) */
    long changes;            /* changes seen */
    int begins, commits;     /* transactions seen */
    bool in_tx;              /* between begin and commit */
    tb_position last;        /* last commit or progress position */
    tb_position last_commit; /* last commit position */
} rec;

static MYSQL *admin;
static char *uri;

static void add(rec *r, const char *line)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->lines = realloc(r->lines, (size_t)r->cap * sizeof *r->lines);
        assert_non_null(r->lines);
    }
    r->lines[r->n++] = strdup(line);
}

static void rec_free(rec *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->lines[i]);
    free(r->lines);
    memset(r, 0, sizeof *r);
}

static int on_table(void *ctx, tb_table *t, tb_error *err)
{
    (void)err;
    tb_buf b = TB_BUF_INIT;
    tb_buf_printf(&b, "table %s.%s", t->db, t->name);
    for (int i = 0; i < t->ncols; i++)
        tb_buf_printf(&b, " %s:%s%s%s", t->cols[i].name, t->cols[i].source_type,
                      t->cols[i].key ? ":key" : "",
                      t->cols[i].nullable ? ":null" : "");
    add(ctx, (char *)b.data);
    tb_buf_free(&b);
    return 0;
}

static int on_begin(void *ctx, const tb_tx *tx, tb_error *err)
{
    rec *r = ctx;
    (void)tx;
    (void)err;
    assert_false(r->in_tx);
    r->in_tx = true;
    r->begins++;
    add(r, "begin");
    return 0;
}

static void value(tb_buf *b, const tb_column *c, const tb_value *v)
{
    if (v->state == TB_VALUE_NULL) {
        tb_buf_puts(b, "NULL");
        return;
    }
    if (v->state == TB_VALUE_UNCHANGED) {
        tb_buf_puts(b, "-");
        return;
    }
    switch (c->kind) {
    case TB_KIND_INT:
    case TB_KIND_LONG:
    case TB_KIND_DATE:
    case TB_KIND_TIME_MICROS:
    case TB_KIND_TIMESTAMP_MICROS:
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
    case TB_KIND_DURATION_MICROS:
        tb_buf_printf(b, "%" PRId64, v->u.i);
        break;
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE:
        tb_buf_printf(b, "%.17g", v->u.d);
        break;
    case TB_KIND_BOOLEAN:
        tb_buf_puts(b, v->u.b ? "true" : "false");
        break;
    case TB_KIND_BYTES:
        tb_buf_puts(b, "x");
        for (uint32_t k = 0; k < v->len; k++)
            tb_buf_printf(b, "%02x", (unsigned char)v->u.s[k]);
        break;
    default:
        tb_buf_printf(b, "'%.*s'", (int)v->len, v->u.s);
    }
}

static int on_change(void *ctx, const tb_change *c, tb_error *err)
{
    rec *r = ctx;
    (void)err;
    assert_true(r->in_tx);
    assert_true(c->source.position && c->source.position[0]);
    r->changes++;
    if (!r->keep_changes) return 0;
    tb_buf b = TB_BUF_INIT;
    tb_buf_printf(&b, "%c %s", (char)c->op, c->table->name);
    for (int k = 0; k < 2; k++) {
        const tb_value *vals = k == 0 ? c->before : c->after;
        if (!vals) continue;
        tb_buf_puts(&b, k == 0 ? " before" : " after");
        for (int i = 0; i < c->table->ncols; i++) {
            tb_buf_printf(&b, " %s=", c->table->cols[i].name);
            value(&b, &c->table->cols[i], &vals[i]);
        }
    }
    add(r, (char *)b.data);
    tb_buf_free(&b);
    return 0;
}

static int on_commit(void *ctx, const tb_tx *tx, tb_error *err)
{
    rec *r = ctx;
    (void)err;
    assert_true(r->in_tx);
    assert_true(tx->end.text[0] != '\0');
    r->in_tx = false;
    r->commits++;
    r->last = tx->end;
    r->last_commit = tx->end;
    add(r, "commit");
    return 0;
}

static int on_progress(void *ctx, const tb_position *pos, tb_error *err)
{
    rec *r = ctx;
    (void)err;
    assert_false(r->in_tx);
    r->last = *pos;
    return 0;
}

static const tb_emit *emit_of(rec *r)
{
    static tb_emit e;
    e = (tb_emit){r, on_table, on_begin, on_change, on_commit, on_progress};
    return &e;
}

static void sql(const char *q)
{
    if (mysql_query(admin, q) != 0) fail_msg("%s: %s", q, mysql_error(admin));
    do {
        MYSQL_RES *res = mysql_store_result(admin);
        mysql_free_result(res);
    } while (mysql_next_result(admin) == 0);
}

/* A config on the stack for tables matching pattern. */
typedef struct cfgbox {
    tb_config cfg;
    char *tables[3];
} cfgbox;

static void cfg_init(cfgbox *b, const char *pattern, const char *snapshot,
                     const char *zero)
{
    memset(b, 0, sizeof *b);
    b->cfg.name = "mytest";
    b->cfg.source.type = "mysql";
    b->cfg.source.dsn = uri;
    b->cfg.source.server_id = 4242;
    b->tables[0] = (char *)pattern;
    b->cfg.source.tables = b->tables;
    b->cfg.source.ntables = 1;
    b->cfg.source.snapshot = (char *)snapshot;
    b->cfg.source.zero_dates = (char *)zero;
}

/* Poll until the source reached the server's current position. */
static void drain(tb_source *s, rec *r)
{
    const tb_source_ops *ops = &tb_mysql_source_ops;
    tb_position end;
    tb_error err;
    assert_int_equal(ops->current(s, &end, &err), 0);
    for (int i = 0; i < 60; i++) {
        if (ops->poll(s, emit_of(r), 300, &err) != 0) fail_msg("%s", err.msg);
        if (!r->in_tx && r->last.text[0] && ops->compare(&r->last, &end) >= 0)
            return;
    }
    fail_msg("never reached %s (last %s)", end.text, r->last.text);
}

static int find(const rec *r, const char *prefix, int from)
{
    for (int i = from; i < r->n; i++)
        if (strncmp(r->lines[i], prefix, strlen(prefix)) == 0) return i;
    return -1;
}

static void expect_line(const rec *r, const char *prefix)
{
    if (find(r, prefix, 0) < 0) {
        for (int i = 0; i < r->n; i++)
            fprintf(stderr, "  %s\n", r->lines[i]);
        fail_msg("no line starting with: %s", prefix);
    }
}

static int count(const rec *r, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        n += strncmp(r->lines[i], prefix, strlen(prefix)) == 0;
    return n;
}

static tb_source *open_src(cfgbox *b, const char *resume)
{
    tb_position pos = {{0}};
    tb_source *s = NULL;
    tb_error err;
    snprintf(pos.text, sizeof pos.text, "%s", resume ? resume : "");
    if (tb_mysql_source_ops.open(&b->cfg, &pos, &s, &err) != 0)
        fail_msg("open: %s", err.msg);
    return s;
}

/* Mark keys and values of the parts a snapshot committed. */
typedef struct markrec {
    tb_marks *marks;   /* where commits store (part key, tx.end) */
    const char *key;   /* key of the part being copied */
    const tb_emit *in; /* recording callbacks */
} markrec;

static int mk_begin(void *ctx, const tb_tx *tx, tb_error *err)
{
    markrec *m = ctx;
    return m->in->begin(m->in->ctx, tx, err);
}

static int mk_change(void *ctx, const tb_change *c, tb_error *err)
{
    markrec *m = ctx;
    assert_int_equal(c->op, TB_OP_READ);
    assert_true(c->source.snapshot);
    return m->in->change(m->in->ctx, c, err);
}

static int mk_commit(void *ctx, const tb_tx *tx, tb_error *err)
{
    markrec *m = ctx;
    if (m->marks)
        assert_int_equal(tb_marks_add(m->marks, m->key, tx->end.text), 0);
    return m->in->commit(m->in->ctx, tx, err);
}

static int mk_table(void *ctx, tb_table *t, tb_error *err)
{
    (void)ctx;
    (void)t;
    return tb_error_set(err, TB_ERR_INTERNAL, "table() from a snapshot part");
}

/* The core's side of a snapshot, serially: plan with the marks in done,
 * announce the plan's tables, copy parts (only the first `only` of them
 * when only >= 0), storing each part's mark in done, end. Returns 0 or -1
 * with err (the plan is then ended as failed). */
static int snap_run(tb_source *s, rec *r, tb_marks *done, int workers, int only,
                    tb_snap_plan *out, tb_error *err)
{
    const tb_source_ops *ops = &tb_mysql_source_ops;
    tb_snap_plan plan;
    tb_marks none = {0};
    if (ops->snapshot_plan(s, done ? done : &none, workers, &plan, err) < 0)
        return -1;
    if (out) *out = plan;
    for (int i = 0; i < plan.ntables; i++)
        emit_of(r)->table(r, plan.tables[i], err);
    int rc = 0;
    for (int i = 0; rc == 0 && i < plan.nparts && (only < 0 || i < only); i++) {
        markrec m = {done, plan.parts[i].key, emit_of(r)};
        tb_emit e = {&m, mk_table, mk_begin, mk_change, mk_commit, NULL};
        rc = ops->snapshot_copy(s, i, i % plan.workers, &e, err);
    }
    ops->snapshot_end(s, rc == 0 && only < 0);
    return rc;
}

static void snap_ok(tb_source *s, rec *r)
{
    tb_error err;
    if (snap_run(s, r, NULL, 2, -1, NULL, &err) != 0) fail_msg("%s", err.msg);
}

static void test_snapshot_and_stream(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".types, " DB ".other");
    sql("CREATE TABLE " DB ".types (id INT PRIMARY KEY, ti TINYINT, "
        "tu TINYINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, "
        "d DECIMAL(65,30), f FLOAT, dbl DOUBLE, b BIT(10), "
        "e ENUM('a','b'), st SET('x','y','z'), "
        "u8 VARCHAR(20) CHARACTER SET utf8mb4, "
        "l1 VARCHAR(20) CHARACTER SET latin1, bl BLOB, vb VARBINARY(8), "
        "dt DATE, dt0 DATETIME, dt6 DATETIME(6), ts3 TIMESTAMP(3) NULL, "
        "tm TIME(6), y YEAR, j JSON, c CHAR(3)) ENGINE=InnoDB");
    sql("CREATE TABLE " DB ".other (k VARCHAR(10) PRIMARY KEY, v INT)");
    sql("SET time_zone = '+00:00'");
    sql("INSERT INTO " DB ".types VALUES (1, -128, 255, "
        "-9223372036854775808, 18446744073709551615, "
        "-99999999999999999999999999999999999.999999999999999999999999999999, "
        "-3.4e38, 1.7976931348623157e308, b'1000000001', 'b', 'x,z', "
        "'\xf0\x9f\x98\x80', 'cr\xc3\xa8me', x'00ff00', x'0001', "
        "'1000-01-01', '9999-12-31 23:59:59', '2024-02-29 12:34:56.123456', "
        "'2038-01-19 03:14:07.999', '-838:59:59.000000', 2155, "
        "'{\"a\": 1}', 'abc')");
    sql("INSERT INTO " DB ".types (id) VALUES (2)");

    cfgbox b;
    cfg_init(&b, DB ".*", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    rec r = {0};
    r.keep_changes = true;
    snap_ok(s, &r);
    int parts = r.commits;
    assert_true(parts >= 2); /* types, other: one part each */
    drain(s, &r);
    assert_int_equal(r.commits, parts);
    expect_line(&r, "table " DB ".types id:int:key ti:tinyint:null "
                    "tu:tinyint unsigned:null");
    expect_line(&r, "r types after id=1 ti=-128 tu=255 "
                    "bi=-9223372036854775808 bu='18446744073709551615' "
                    "d='-99999999999999999999999999999999999."
                    "999999999999999999999999999999' ");
    const char *row1 = r.lines[find(&r, "r types after id=1", 0)];
    assert_non_null(strstr(row1, " b='1000000001' e='b' st='x,z' "
                                 "u8='\xf0\x9f\x98\x80' l1='cr\xc3\xa8me' "
                                 "bl=x00ff00 vb=x0001 dt=-354285 "
                                 "dt0=253402300799000000 "
                                 "dt6=1709210096123456 "
                                 "ts3=2147483647999000 tm=-3020399000000 "
                                 "y=2155 j='{\"a\": 1}' c='abc'"));
    expect_line(&r, "r types after id=2 ti=NULL tu=NULL bi=NULL bu=NULL d=NULL "
                    "f=NULL dbl=NULL b=NULL e=NULL st=NULL u8=NULL l1=NULL "
                    "bl=NULL vb=NULL dt=NULL dt0=NULL dt6=NULL ts3=NULL "
                    "tm=NULL y=NULL j=NULL c=NULL");
    /* MariaDB JSON is json (kind JSON, target jsonb), not longtext */
    assert_non_null(strstr(r.lines[find(&r, "table " DB ".types", 0)],
                           " j:json:null c:char:null"));
    int tables_after_snapshot = count(&r, "table ");

    /* The same row through the binlog must read the same. */
    sql("INSERT INTO " DB ".types SELECT 3, ti, tu, bi, bu, d, f, dbl, b, e, "
        "st, u8, l1, bl, vb, dt, dt0, dt6, ts3, tm, y, j, c FROM " DB
        ".types WHERE id = 1");
    sql("UPDATE " DB ".types SET ti = 127 WHERE id = 2");
    sql("UPDATE " DB ".types SET id = 20 WHERE id = 2");
    sql("DELETE FROM " DB ".types WHERE id = 3");
    sql("BEGIN");
    sql("INSERT INTO " DB ".types (id) VALUES (99)");
    sql("ROLLBACK");
    sql("BEGIN");
    sql("INSERT INTO " DB ".other VALUES ('a', 1)");
    sql("INSERT INTO " DB ".types (id) VALUES (5)");
    sql("COMMIT");
    drain(s, &r);
    /* no new shape for unchanged tables: snapshot and binlog agree */
    assert_int_equal(count(&r, "table " DB ".types"), 1);
    assert_int_equal(count(&r, "table "), tables_after_snapshot);
    int c3 = find(&r, "c types after id=3 ", 0);
    assert_true(c3 > 0);
    assert_string_equal(r.lines[c3] + strlen("c types after id=3"),
                        row1 + strlen("r types after id=1"));
    expect_line(&r, "u types before id=2 ti=NULL");
    expect_line(&r, "u types before id=2 ti=127");
    int pk = find(&r, "u types before id=2 ti=127", 0);
    assert_non_null(strstr(r.lines[pk], "after id=20 ti=127"));
    expect_line(&r, "d types before id=3 ");
    assert_int_equal(find(&r, "c types after id=99", 0), -1);
    /* the multi-table transaction is one begin/commit pair */
    int a = find(&r, "c other after k='a' v=1", 0);
    assert_true(a > 0);
    assert_string_equal(r.lines[a - 1], "begin");
    assert_true(strncmp(r.lines[a + 1], "c types after id=5", 18) == 0);
    assert_string_equal(r.lines[a + 2], "commit");
    /* 5 source transactions after the snapshot */
    assert_int_equal(r.commits, parts + 5);
    tb_mysql_source_ops.close(s);
    rec_free(&r);
}

static void test_ddl_truncate_resume(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".ddl");
    sql("CREATE TABLE " DB ".ddl (id INT PRIMARY KEY, a INT)");
    sql("INSERT INTO " DB ".ddl VALUES (1, 1)");
    cfgbox b;
    cfg_init(&b, DB ".ddl", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    rec r = {0};
    r.keep_changes = true;
    snap_ok(s, &r);
    drain(s, &r);
    sql("ALTER TABLE " DB ".ddl ADD COLUMN c VARCHAR(5) DEFAULT 'z'");
    sql("INSERT INTO " DB ".ddl VALUES (2, 2, 'q')");
    sql("ALTER TABLE " DB ".ddl DROP COLUMN a");
    sql("INSERT INTO " DB ".ddl VALUES (3, 'r')");
    drain(s, &r);
    int t2 =
        find(&r, "table " DB ".ddl id:int:key a:int:null c:varchar:null", 0);
    int c2 = find(&r, "c ddl after id=2 a=2 c='q'", 0);
    int t3 = find(&r, "table " DB ".ddl id:int:key c:varchar:null", 0);
    int c3 = find(&r, "c ddl after id=3 c='r'", 0);
    assert_true(t2 > 0 && c2 > t2 && t3 > c2 && c3 > t3);
    sql("TRUNCATE TABLE " DB ".ddl");
    drain(s, &r);
    expect_line(&r, "t ddl");
    tb_position stored = r.last_commit;
    tb_mysql_source_ops.close(s);

    /* Resume: nothing up to the stored position comes again. */
    sql("INSERT INTO " DB ".ddl VALUES (4, 's')");
    rec r2 = {0};
    r2.keep_changes = true;
    s = open_src(&b, stored.text);
    drain(s, &r2);
    assert_int_equal(count(&r2, "c ddl"), 1);
    expect_line(&r2, "c ddl after id=4 c='s'");
    assert_int_equal(count(&r2, "t ddl"), 0);
    tb_mysql_source_ops.close(s);
    /* By file and offset alone, too. */
    const char *f = strstr(stored.text, "file=");
    assert_non_null(f);
    rec r3 = {0};
    r3.keep_changes = true;
    s = open_src(&b, f);
    drain(s, &r3);
    assert_int_equal(count(&r3, "c ddl"), 1);
    assert_int_equal(count(&r3, "t ddl"), 0);
    tb_mysql_source_ops.close(s);
    rec_free(&r);
    rec_free(&r2);
    rec_free(&r3);
}

static void test_zero_dates(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".zd");
    sql("SET SESSION sql_mode = ''");
    sql("CREATE TABLE " DB ".zd (id INT PRIMARY KEY, d DATE, t DATETIME)");
    sql("INSERT INTO " DB ".zd VALUES (1, '0000-00-00', '2024-00-10 "
        "00:00:00')");
    cfgbox b;
    cfg_init(&b, DB ".zd", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    rec r = {0};
    r.keep_changes = true;
    snap_ok(s, &r);
    drain(s, &r);
    expect_line(&r, "r zd after id=1 d=NULL t=NULL");
    sql("INSERT INTO " DB ".zd VALUES (2, '2024-00-10', '0000-00-00 "
        "00:00:00')");
    drain(s, &r);
    expect_line(&r, "c zd after id=2 d=NULL t=NULL");
    tb_position stored = r.last_commit;
    tb_mysql_source_ops.close(s);
    rec_free(&r);

    /* error policy: the snapshot stops, naming column and setting */
    cfg_init(&b, DB ".zd", "initial", "error");
    s = open_src(&b, NULL);
    rec r2 = {0};
    tb_error err;
    assert_int_equal(snap_run(s, &r2, NULL, 1, -1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "zd column d"));
    assert_non_null(strstr(err.msg, "source.zero_dates"));
    tb_mysql_source_ops.close(s);
    rec_free(&r2);
    /* and so does the stream */
    sql("INSERT INTO " DB ".zd VALUES (3, '0000-00-00', NULL)");
    s = open_src(&b, stored.text);
    rec r3 = {0};
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = tb_mysql_source_ops.poll(s, emit_of(&r3), 200, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "zd column d"));
    assert_non_null(strstr(err.msg, "pos="));
    tb_mysql_source_ops.close(s);
    rec_free(&r3);
    sql("SET SESSION sql_mode = DEFAULT");
}

static void test_preflight(void **state)
{
    (void)state;
    cfgbox b;
    tb_position none = {{0}};
    tb_source *s = NULL;
    tb_error err;
    /* The checks below need one table to match DB.*, whatever ran before. */
    sql("CREATE TABLE IF NOT EXISTS " DB ".pf (id INT PRIMARY KEY)");
    cfg_init(&b, DB ".no_such_table_*", "initial", "null");
    assert_int_equal(tb_mysql_source_ops.open(&b.cfg, &none, &s, &err), -1);
    assert_non_null(strstr(err.msg, "matches no table"));
    sql("SET GLOBAL binlog_format = 'STATEMENT'");
    cfg_init(&b, DB ".*", "initial", "null");
    int rc = tb_mysql_source_ops.open(&b.cfg, &none, &s, &err);
    sql("SET GLOBAL binlog_format = 'ROW'");
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "binlog_format=STATEMENT"));
    b.cfg.source.server_id = 1; /* the server's own id */
    assert_int_equal(tb_mysql_source_ops.open(&b.cfg, &none, &s, &err), -1);
    assert_non_null(strstr(err.msg, "server_id"));
    /* a purged / unknown binlog file */
    cfg_init(&b, DB ".*", "initial", "null");
    snprintf(none.text, sizeof none.text, "file=binlog.999999;pos=4");
    assert_int_equal(tb_mysql_source_ops.open(&b.cfg, &none, &s, &err), -1);
    if (!strstr(err.msg, "_tributary_state"))
        print_error("unexpected error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "_tributary_state"));
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static void test_big_transaction(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".big");
    sql("CREATE TABLE " DB ".big (id INT PRIMARY KEY, pad VARCHAR(100))");
    cfgbox b;
    cfg_init(&b, DB ".big", "never", "null");
    tb_source *s = open_src(&b, NULL);
    rec r = {0};
    fprintf(stderr, "VmHWM before: %ld kB\n", vm_hwm_kb());
    sql("SET SESSION max_recursive_iterations = 300000");
    sql("INSERT INTO " DB ".big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
        "SELECT i + 1 FROM n WHERE i < 200000) SELECT i, REPEAT('x', 100) "
        "FROM n");
    drain(s, &r);
    assert_int_equal(r.changes, 200000);
    assert_int_equal(r.commits, 1);
    long hwm = vm_hwm_kb();
    fprintf(stderr, "VmHWM after 200000-row transaction: %ld kB\n", hwm);
#ifndef __SANITIZE_ADDRESS__
    /* ASan's shadow memory and quarantine make the number meaningless. */
    assert_true(hwm > 0 && hwm < 64 * 1024);
#endif
    tb_mysql_source_ops.close(s);
    rec_free(&r);
    sql("DROP TABLE " DB ".big"); /* keeps later DB.* snapshots small */
}

/* MariaDB JSON (a LONGTEXT with CHECK (json_valid(`col`))) is JSON with
 * target jsonb in the snapshot's shape and the binlog's alike, also for a
 * JSON column added by DDL; a plain LONGTEXT stays text. */
static void test_json_columns(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".js");
    sql("CREATE TABLE " DB ".js (id INT PRIMARY KEY, j JSON, "
        "`odd ``col` JSON NOT NULL, t LONGTEXT, "
        "c LONGTEXT CHECK (c <> ''))");
    sql("INSERT INTO " DB ".js VALUES (1, '{\"a\": [1, 2.5, null]}', "
        "'\"x\"', '{}', 'c')");
    cfgbox b;
    cfg_init(&b, DB ".js", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    rec r = {0};
    r.keep_changes = true;
    snap_ok(s, &r);
    drain(s, &r);
    expect_line(&r, "table " DB ".js id:int:key j:json:null odd `col:json "
                    "t:longtext:null c:longtext:null");
    expect_line(&r, "r js after id=1 j='{\"a\": [1, 2.5, null]}' "
                    "odd `col='\"x\"' t='{}' c='c'");
    sql("INSERT INTO " DB ".js VALUES (2, '[true]', '1', 'x', 'y')");
    drain(s, &r);
    /* same shape through the binlog: no second announcement */
    assert_int_equal(count(&r, "table " DB ".js"), 1);
    expect_line(&r, "c js after id=2 j='[true]' odd `col='1' t='x' c='y'");
    sql("ALTER TABLE " DB ".js ADD COLUMN k JSON");
    sql("INSERT INTO " DB ".js (id, `odd ``col`, k) VALUES (3, '2', "
        "'{\"k\": 1}')");
    drain(s, &r);
    expect_line(&r, "table " DB ".js id:int:key j:json:null odd `col:json "
                    "t:longtext:null c:longtext:null k:json:null");
    expect_line(&r, "c js after id=3 j=NULL odd `col='2' t=NULL c=NULL "
                    "k='{\"k\": 1}'");
    tb_mysql_source_ops.close(s);
    rec_free(&r);
}

/* Marks decide what is done: all n parts of one plan, at the latest of
 * their positions; anything less is partial. */
static void test_copy_state(void **state)
{
    (void)state;
    tb_marks m = {0};
    tb_error err;
    my_pos at;
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "t", &at, &err),
                     MY_COPY_NONE);
    assert_int_equal(tb_marks_add(&m, "d.t#1/3", "file=b.000002;pos=900"), 0);
    assert_int_equal(tb_marks_add(&m, "d.t#3/3", "file=b.000010;pos=4"), 0);
    assert_int_equal(tb_marks_add(&m, "d.tt#1/1", "file=b.000001;pos=4"), 0);
    assert_int_equal(tb_marks_add(&m, "d.u#1/1", "file=b.000003;pos=120"), 0);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "t", &at, &err),
                     MY_COPY_PARTIAL);
    assert_int_equal(tb_marks_add(&m, "d.t#2/3", "file=b.000009;pos=77"), 0);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "t", &at, &err),
                     MY_COPY_DONE);
    /* by file sequence number, then offset: b.000010:4 is the latest */
    assert_string_equal(at.file, "b.000010");
    assert_int_equal(at.pos, 4);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "u", &at, &err),
                     MY_COPY_DONE);
    assert_int_equal(at.pos, 120);
    /* "d.t#" must not match d.tt's marks, nor d.t's match d.tt */
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "tt", &at, &err),
                     MY_COPY_DONE);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "v", &at, &err),
                     MY_COPY_NONE);
    /* a foreign key shape under the prefix is partial, not done */
    assert_int_equal(tb_marks_add(&m, "d.w#x", "file=b.000001;pos=4"), 0);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "w", &at, &err),
                     MY_COPY_PARTIAL);
    assert_int_equal(tb_marks_add(&m, "d.bad#1/1", "nonsense"), 0);
    assert_int_equal(tb_mysrc_copy_state(&m, "d", "bad", &at, &err), -1);
    assert_non_null(strstr(err.msg, "d.bad#1/1"));
    /* binlog order across a rotate */
    my_pos a = {0}, b = {0};
    snprintf(a.file, sizeof a.file, "mysql-bin.000009");
    a.pos = 999999;
    snprintf(b.file, sizeof b.file, "mysql-bin.000010");
    b.pos = 4;
    assert_true(tb_mysrc_pos_binlog_cmp(&a, &b) < 0);
    assert_true(tb_mysrc_pos_binlog_cmp(&b, &a) > 0);
    b = a;
    assert_int_equal(tb_mysrc_pos_binlog_cmp(&a, &b), 0);
    tb_marks_free(&m);
}

/* Workers copying parts concurrently, as the core's threads do. */
typedef struct copier {
    tb_source *s;
    int worker, workers, nparts;
    rec r;     /* this worker's own recording */
    int fails; /* snapshot_copy failures */
} copier;

static void *copier_main(void *arg)
{
    copier *c = arg;
    tb_error err;
    for (int i = c->worker; i < c->nparts; i += c->workers) {
        const tb_emit own = {&c->r,     on_table,  on_begin,
                             on_change, on_commit, on_progress};
        markrec m = {NULL, "", &own};
        tb_emit e = {&m, mk_table, mk_begin, mk_change, mk_commit, NULL};
        if (tb_mysql_source_ops.snapshot_copy(c->s, i, c->worker, &e, &err) <
            0) {
            fprintf(stderr, "copy: %s\n", err.msg);
            c->fails++;
        }
    }
    return NULL;
}

/* A large table is split into key ranges (all worker snapshots at one
 * position), copied by threads at once: every row exactly once. */
static void test_parallel_ranges(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".par");
    sql("CREATE TABLE " DB ".par (id BIGINT PRIMARY KEY, pad VARCHAR(200))");
    sql("SET SESSION max_recursive_iterations = 100000");
    sql("INSERT INTO " DB ".par WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
        "SELECT i + 1 FROM n WHERE i < 40000) SELECT i * 3 - 50000, "
        "REPEAT('p', 200) FROM n");
    sql("ANALYZE TABLE " DB ".par");
    cfgbox b;
    cfg_init(&b, DB ".par", "initial", "null");
    b.cfg.source.snapshot_chunk_mb = 1;
    tb_source *s = open_src(&b, NULL);
    tb_snap_plan plan;
    tb_marks none = {0};
    tb_error err;
    if (tb_mysql_source_ops.snapshot_plan(s, &none, 3, &plan, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(plan.reset);
    assert_int_equal(plan.ntables, 1);
    assert_int_equal(plan.workers, 3);
    assert_true(plan.nparts > 1 && plan.nparts <= 6);
    char want[64];
    snprintf(want, sizeof want, DB ".par#1/%d", plan.nparts);
    assert_string_equal(plan.parts[0].key, want);
    assert_true(plan.end.text[0] != '\0');
    copier c[3];
    pthread_t th[3];
    for (int w = 0; w < 3; w++) {
        memset(&c[w], 0, sizeof c[w]);
        c[w].s = s;
        c[w].worker = w;
        c[w].workers = 3;
        c[w].nparts = plan.nparts;
        c[w].r.keep_changes = false;
        assert_int_equal(pthread_create(&th[w], NULL, copier_main, &c[w]), 0);
    }
    long rows = 0;
    int commits = 0;
    for (int w = 0; w < 3; w++) {
        pthread_join(th[w], NULL);
        assert_int_equal(c[w].fails, 0);
        rows += c[w].r.changes;
        commits += c[w].r.commits;
        /* every part's transaction ends at the plan's position */
        if (c[w].r.commits)
            assert_string_equal(c[w].r.last_commit.text, plan.end.text);
        rec_free(&c[w].r);
    }
    assert_int_equal(commits, plan.nparts);
    assert_int_equal(rows, 40000);
    tb_mysql_source_ops.snapshot_end(s, true);
    tb_mysql_source_ops.close(s);
    sql("DROP TABLE " DB ".par"); /* keeps later DB.* snapshots small */
}

/* An interrupted snapshot resumes: the finished table is not copied again;
 * the stream starts at its copy's position, and skips the recopied table's
 * changes up to that table's own copy, exactly at the boundary and across
 * a binlog rotation. */
static void test_resume_skip(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS " DB ".ska, " DB ".skb");
    sql("CREATE TABLE " DB ".ska (id INT PRIMARY KEY, v INT)");
    sql("CREATE TABLE " DB ".skb (id INT PRIMARY KEY, v INT)");
    sql("INSERT INTO " DB ".ska VALUES (1, 1), (2, 2)");
    sql("INSERT INTO " DB ".skb VALUES (1, 1), (2, 2)");
    cfgbox b;
    cfg_init(&b, DB ".sk*", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    tb_marks done = {0};
    tb_error err;
    tb_snap_plan plan;
    rec r1 = {0};
    r1.keep_changes = true;
    /* session 1: only the first part (ska, tables come sorted) commits */
    assert_int_equal(snap_run(s, &r1, &done, 2, 1, &plan, &err), 0);
    assert_int_equal(plan.nparts, 2);
    assert_int_equal(done.n, 1);
    assert_string_equal(done.v[0].key, DB ".ska#1/1");
    assert_int_equal(count(&r1, "r ska"), 2);
    tb_mysql_source_ops.close(s);

    /* writes while the pipeline is down */
    sql("INSERT INTO " DB ".ska VALUES (100, 100)");
    sql("FLUSH BINARY LOGS");
    sql("INSERT INTO " DB ".skb VALUES (100, 100)");
    /* DDL on the table copied again: its old shape must not come back
     * from the skipped part of the stream */
    sql("ALTER TABLE " DB ".skb ADD COLUMN w INT");
    sql("BEGIN");
    sql("INSERT INTO " DB ".ska VALUES (101, 101)");
    sql("INSERT INTO " DB ".skb VALUES (101, 101, 1)");
    sql("COMMIT");

    /* session 2: skb is copied again (with 100, 101), ska is not */
    s = open_src(&b, NULL);
    rec r2 = {0};
    r2.keep_changes = true;
    assert_int_equal(snap_run(s, &r2, &done, 2, -1, &plan, &err), 0);
    assert_false(plan.reset);
    assert_int_equal(plan.ntables, 1);
    assert_int_equal(plan.nparts, 1);
    assert_int_equal(count(&r2, "r ska"), 0);
    assert_int_equal(count(&r2, "r skb"), 4);
    /* the stream starts where ska's copy stands */
    assert_string_equal(plan.end.text, done.v[0].value);
    sql("INSERT INTO " DB ".skb VALUES (200, 200, 2)");
    sql("UPDATE " DB ".ska SET v = -1 WHERE id = 1");
    drain(s, &r2);
    /* skb's shape: announced once, by the plan, with the new column */
    assert_int_equal(count(&r2, "table " DB ".skb"), 1);
    expect_line(&r2, "table " DB ".skb id:int:key v:int:null w:int:null");
    /* ska: everything after its copy; skb: only what came after its own */
    assert_int_equal(count(&r2, "c ska after id=100 "), 1);
    assert_int_equal(count(&r2, "c ska after id=101 "), 1);
    assert_int_equal(count(&r2, "u ska before id=1 "), 1);
    assert_int_equal(count(&r2, "c skb"), 1);
    expect_line(&r2, "c skb after id=200 ");
    tb_mysql_source_ops.close(s);

    /* session 3, resuming from a stored position between the two copies:
     * the skip list comes from the marks again */
    s = open_src(&b, done.v[0].value);
    rec r3 = {0};
    r3.keep_changes = true;
    assert_int_equal(snap_run(s, &r3, &done, 2, -1, &plan, &err), 0);
    assert_int_equal(plan.nparts, 0);
    drain(s, &r3);
    assert_int_equal(count(&r3, "c ska after id=100 "), 1);
    assert_int_equal(count(&r3, "c skb"), 1);
    expect_line(&r3, "c skb after id=200 ");
    tb_mysql_source_ops.close(s);
    tb_marks_free(&done);
    rec_free(&r1);
    rec_free(&r2);
    rec_free(&r3);
}

/* Snapshot positions forced apart: a commit between worker starts. */
static int dp_next = 1000; /* next id the hook inserts */

static void dp_between(void *ctx)
{
    (void)ctx;
    char q[256];
    for (int t = 1; t <= 3; t++) {
        snprintf(q, sizeof q, "INSERT INTO " DB ".dp%d VALUES (%d, 0)", t,
                 dp_next);
        sql(q);
    }
    dp_next++;
}

/* Count, per table dpK and id, the rows a recording holds ("r" from a
 * copy, "c" from the stream). */
static void dp_count(const rec *r, int counts[4][2000])
{
    for (int i = 0; i < r->n; i++) {
        int t, id;
        char op;
        if (sscanf(r->lines[i], "%c dp%d after id=%d", &op, &t, &id) == 3 &&
            (op == 'r' || op == 'c') && t >= 1 && t <= 3 && id >= 0 &&
            id < 2000)
            counts[t][id]++;
    }
}

/* When the workers' snapshots cannot agree on a position, every table is
 * one part copied at the position of the worker that took it; the stream
 * starts at the earliest and skips, per table, what its copy holds: every
 * row arrives exactly once. */
static void test_different_positions(void **state)
{
    (void)state;
    for (int t = 1; t <= 3; t++) {
        char q[256];
        snprintf(q, sizeof q, "DROP TABLE IF EXISTS " DB ".dp%d", t);
        sql(q);
        snprintf(q, sizeof q,
                 "CREATE TABLE " DB ".dp%d (id INT PRIMARY KEY, v INT)", t);
        sql(q);
        snprintf(q, sizeof q,
                 "INSERT INTO " DB ".dp%d VALUES (1, 1), (2, 2), (3, 3)", t);
        sql(q);
    }
    cfgbox b;
    cfg_init(&b, DB ".dp*", "initial", "null");
    tb_source *s = open_src(&b, NULL);
    s->snap_between = dp_between;
    tb_snap_plan plan;
    tb_marks none = {0};
    tb_error err;
    if (tb_mysql_source_ops.snapshot_plan(s, &none, 3, &plan, &err) != 0)
        fail_msg("%s", err.msg);
    s->snap_between = NULL;
    assert_int_equal(plan.workers, 3);
    assert_int_equal(plan.nparts, 3);
    copier c[3];
    pthread_t th[3];
    for (int w = 0; w < 3; w++) {
        memset(&c[w], 0, sizeof c[w]);
        c[w].s = s;
        c[w].worker = w;
        c[w].workers = 3;
        c[w].nparts = plan.nparts;
        c[w].r.keep_changes = true;
        assert_int_equal(pthread_create(&th[w], NULL, copier_main, &c[w]), 0);
    }
    for (int w = 0; w < 3; w++)
        pthread_join(th[w], NULL);
    /* three parts at three different positions; the stream starts at the
     * first */
    for (int w = 0; w < 3; w++) {
        assert_int_equal(c[w].fails, 0);
        assert_int_equal(c[w].r.commits, 1);
    }
    assert_string_not_equal(c[0].r.last_commit.text, c[1].r.last_commit.text);
    assert_string_not_equal(c[1].r.last_commit.text, c[2].r.last_commit.text);
    assert_string_equal(plan.end.text, c[0].r.last_commit.text);
    tb_mysql_source_ops.snapshot_end(s, true);
    sql("INSERT INTO " DB ".dp1 VALUES (1999, 9)");
    sql("INSERT INTO " DB ".dp3 VALUES (1998, 9)");
    rec r = {0};
    r.keep_changes = true;
    drain(s, &r);
    static int counts[4][2000];
    memset(counts, 0, sizeof counts);
    for (int w = 0; w < 3; w++)
        dp_count(&c[w].r, counts);
    dp_count(&r, counts);
    for (int t = 1; t <= 3; t++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT id FROM " DB ".dp%d", t);
        if (mysql_query(admin, q) != 0) fail_msg("%s", mysql_error(admin));
        MYSQL_RES *res = mysql_store_result(admin);
        MYSQL_ROW row;
        int rows = 0;
        while ((row = mysql_fetch_row(res))) {
            int id = atoi(row[0]);
            if (counts[t][id] != 1)
                fail_msg("dp%d id %d arrived %d times", t, id, counts[t][id]);
            counts[t][id] = 0;
            rows++;
        }
        mysql_free_result(res);
        for (int id = 0; id < 2000; id++)
            if (counts[t][id])
                fail_msg("dp%d id %d is not in the source", t, id);
        assert_true(rows > 4);
    }
    for (int w = 0; w < 3; w++)
        rec_free(&c[w].r);
    rec_free(&r);
    tb_mysql_source_ops.close(s);
}

static int group_setup(void **state)
{
    (void)state;
    const char *host = getenv("TB_MY_HOST"), *port = getenv("TB_MY_PORT");
    if (!host || !port || !getenv("TB_MY_URI")) return 0;
    admin = mysql_init(NULL);
    if (!mysql_real_connect(admin, host, "root", NULL, NULL,
                            (unsigned)atoi(port), NULL,
                            CLIENT_MULTI_STATEMENTS))
        return -1;
    mysql_set_character_set(admin, "utf8mb4");
    static char buf[512];
    snprintf(buf, sizeof buf, "%s%s", getenv("TB_MY_URI"), DB);
    uri = buf;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (admin) mysql_close(admin);
    mysql_library_end();
    return 0;
}

static void test_no_server(void **state)
{
    (void)state;
    skip(); /* TB_MY_URI not set: run under scripts/servers.sh */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_snapshot_and_stream),
        cmocka_unit_test(test_ddl_truncate_resume),
        cmocka_unit_test(test_zero_dates),
        cmocka_unit_test(test_big_transaction),
        cmocka_unit_test(test_json_columns),
        cmocka_unit_test(test_copy_state),
        cmocka_unit_test(test_parallel_ranges),
        cmocka_unit_test(test_resume_skip),
        cmocka_unit_test(test_different_positions),
    };
    const struct CMUnitTest none[] = {cmocka_unit_test(test_no_server)};
    if (!getenv("TB_MY_URI"))
        return cmocka_run_group_tests_name("my_source", none, NULL, NULL);
    return cmocka_run_group_tests_name("my_source", tests, group_setup,
                                       group_teardown);
}
