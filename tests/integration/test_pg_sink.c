/*
 * test_pg_sink.c - the PostgreSQL sink against a real server.
 *
 * Needs TB_PG_DSN from scripts/servers.sh (tests/run.sh provides it; by
 * hand: `scripts/servers.sh run --pg -- build/tests/integration/
 * test_pg_sink`). The group creates a fresh database tb_sink_test_<pid>,
 * drives the sink's ops with hand-built shapes and changes, checks the
 * target with SQL, and drops the database at the end.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "../../connectors/postgres/pg_sink.h"
#include "tb_config.h"
#include "tb_event.h"

#define SCHEMA "mirror"

static const tb_sink_ops *ops = &tb_pg_sink_ops;
static char g_admin[512]; /* TB_PG_DSN: the server's postgres database */
static char g_dsn[600];   /* the test database */
static char g_dbname[64]; /* tb_sink_test_<pid> */
static PGconn *g_db;      /* checking connection to the test database */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

#define VI(x) ((tb_value){.state = TB_VALUE_SET, .u.i = (x)})
#define VD(x) ((tb_value){.state = TB_VALUE_SET, .u.d = (x)})
#define VB(x) ((tb_value){.state = TB_VALUE_SET, .u.b = (x)})
#define VS(x)                                                                  \
    ((tb_value){.state = TB_VALUE_SET, .len = (uint32_t)strlen(x), .u.s = (x)})
#define VBYTES(x, n) ((tb_value){.state = TB_VALUE_SET, .len = (n), .u.s = (x)})
#define VNULL        ((tb_value){.state = TB_VALUE_NULL})
#define VUNCH        ((tb_value){.state = TB_VALUE_UNCHANGED})

/* One column of a hand-built shape. */
typedef struct colspec {
    const char *name; /* column name */
    const char *type; /* target (PostgreSQL) type */
    tb_kind kind;     /* value kind */
    bool key;         /* primary key column */
} colspec;

static tb_table *mk_table(const char *name, int n, const colspec *c)
{
    tb_table *t = tb_table_new("src", "public", name, n);
    assert_non_null(t);
    for (int i = 0; i < n; i++) {
        assert_int_equal(tb_table_set_column(t, i, c[i].name, c[i].type,
                                             c[i].type, c[i].kind, 0, 0,
                                             !c[i].key, c[i].key),
                         0);
        t->cols[i].decimal_specials = c[i].kind == TB_KIND_DECIMAL;
    }
    return t;
}

static tb_config mk_config(const char *pipeline)
{
    tb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = (char *)pipeline;
    cfg.target.type = (char *)"postgres";
    cfg.target.dsn = g_dsn;
    cfg.target.schema = (char *)SCHEMA;
    cfg.target.mode = (char *)"mirror";
    cfg.batch.max_rows = 50000;
    cfg.batch.max_bytes = 64 * 1024 * 1024;
    cfg.batch.max_ms = 200;
    return cfg;
}

static tb_sink *open_sink(const char *pipeline, tb_position *committed)
{
    tb_config cfg = mk_config(pipeline);
    tb_error err;
    tb_sink *s = NULL;
    tb_error_clear(&err);
    if (ops->open(&cfg, committed, &s, &err) < 0) fail_msg("open: %s", err.msg);
    assert_non_null(s);
    return s;
}

static void must(int rc, const tb_error *err, const char *what)
{
    if (rc < 0) fail_msg("%s: %s", what, err->msg);
}

static void prepare(tb_sink *s, const tb_table *t)
{
    tb_error err;
    tb_error_clear(&err);
    must(ops->prepare(s, t, &err), &err, "prepare");
}

static void begin(tb_sink *s)
{
    tb_error err;
    tb_error_clear(&err);
    must(ops->begin(s, &err), &err, "begin");
}

static void commit(tb_sink *s, const char *pos)
{
    tb_error err;
    tb_position p;
    tb_error_clear(&err);
    snprintf(p.text, sizeof p.text, "%s", pos);
    must(ops->commit(s, &p, &err), &err, "commit");
    /* The commit may be in flight: wait until it is durable. */
    tb_position done;
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, pos);
}

static void change(tb_sink *s, tb_op op, const tb_table *t,
                   const tb_value *before, const tb_value *after)
{
    tb_error err;
    tb_change c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.table = t;
    c.before = before;
    c.after = after;
    c.source.connector = "postgresql";
    c.source.position = "0/TEST";
    tb_error_clear(&err);
    must(ops->apply(s, &c, &err), &err, "apply");
}

#define INS(s, t, ...)                                                         \
    change((s), TB_OP_CREATE, (t), NULL, (const tb_value[]){__VA_ARGS__})
#define DEL(s, t, ...)                                                         \
    change((s), TB_OP_DELETE, (t), (const tb_value[]){__VA_ARGS__}, NULL)

/* Update: the before image (key or full) as a compound literal. */
static void upd(tb_sink *s, const tb_table *t, const tb_value *before,
                const tb_value *after)
{
    change(s, TB_OP_UPDATE, t, before, after);
}

/* Run SQL on the checking connection; fail on error. */
static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(g_db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* One-value query; returns a malloc'ed copy, "<null>" for NULL, "<none>"
 * when there is no row. */
static char *value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *value(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(g_db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQntuples(r) == 0      ? "<none>"
                     : PQgetisnull(r, 0, 0) ? "<null>"
                                            : PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_non_null(v);
    return v;
}

/* Assert that a query's single value equals want. */
#define CHECK(want, ...)                                                       \
    do {                                                                       \
        char *got_ = value(__VA_ARGS__);                                       \
        if (strcmp(got_, (want)) != 0) {                                       \
            print_error("query: ");                                            \
            print_error(__VA_ARGS__);                                          \
            print_error("\n");                                                 \
        }                                                                      \
        assert_string_equal(got_, (want));                                     \
        free(got_);                                                            \
    } while (0)

/* The rows of a table as one string, ordered by the given columns. */
#define ROWS(table, order)                                                     \
    "SELECT coalesce(string_agg(x::text, ' ' ORDER BY " order                  \
    "), '') FROM " SCHEMA "." table " x"

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---------------------------------------------------------------------- */
/* Group setup: a fresh database                                          */

static int group_setup(void **state)
{
    (void)state;
    const char *dsn = getenv("TB_PG_DSN");
    if (!dsn || !dsn[0]) {
        print_error("TB_PG_DSN is not set: run under the test servers, e.g. "
                    "`scripts/servers.sh run --pg -- "
                    "build/tests/integration/test_pg_sink`\n");
        return -1;
    }
    snprintf(g_admin, sizeof g_admin, "%s", dsn);
    snprintf(g_dbname, sizeof g_dbname, "tb_sink_test_%ld", (long)getpid());
    PGconn *c = PQconnectdb(g_admin);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("cannot connect to TB_PG_DSN: %s\n", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s; ", g_dbname);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", g_dbname);
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    if (!ok) return -1;
    snprintf(g_dsn, sizeof g_dsn, "%s dbname=%s", g_admin, g_dbname);
    g_db = PQconnectdb(g_dsn);
    if (PQstatus(g_db) != CONNECTION_OK) {
        print_error("cannot connect to %s: %s\n", g_dbname,
                    PQerrorMessage(g_db));
        return -1;
    }
    PQclear(PQexec(g_db, "SET extra_float_digits = 3; SET timezone = 'UTC'"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_db) PQfinish(g_db);
    g_db = NULL;
    if (!g_dbname[0]) return 0;
    PGconn *c = PQconnectdb(g_admin);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             g_dbname);
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc) print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

static const colspec acct_cols[] = {
    {"id", "integer", TB_KIND_INT, true},
    {"name", "text", TB_KIND_STRING, false},
    {"amount", "numeric(12,2)", TB_KIND_DECIMAL, false},
};

static void test_open_creates_state(void **state)
{
    (void)state;
    tb_position pos;
    strcpy(pos.text, "junk");
    tb_sink *s = open_sink("p_open", &pos);
    assert_string_equal(pos.text, "");
    CHECK("1", "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'",
          SCHEMA);
    CHECK("pipeline text,position text,updated_at timestamp with time "
          "zone,commits bigint,source_commit_at timestamp with time zone",
          "SELECT string_agg(attname || ' ' || format_type(atttypid, "
          "atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid "
          "= '%s._tributary_state'::regclass AND attnum > 0",
          SCHEMA);
    ops->close(s);
}

static void test_connect_errors(void **state)
{
    (void)state;
    tb_config cfg = mk_config("p_err");
    tb_position pos;
    tb_error err;
    tb_sink *s = NULL;

    /* Nobody listens on port 1: retriable connect error, password masked. */
    cfg.target.dsn = (char *)"host=127.0.0.1 port=1 user=postgres "
                             "password=sekrit dbname=x connect_timeout=5";
    tb_error_clear(&err);
    assert_int_equal(ops->open(&cfg, &pos, &s, &err), -1);
    assert_null(s);
    assert_int_equal(err.code, TB_ERR_CONNECT);
    assert_true(err.retriable);
    assert_null(strstr(err.msg, "sekrit"));
    assert_non_null(strstr(err.msg, "****"));

    /* A database that does not exist will not appear by retrying. */
    char dsn[700];
    snprintf(dsn, sizeof dsn, "%s dbname=tb_no_such_db password=sekrit",
             g_admin);
    cfg.target.dsn = dsn;
    tb_error_clear(&err);
    assert_int_equal(ops->open(&cfg, &pos, &s, &err), -1);
    assert_int_equal(err.code, TB_ERR_TARGET);
    assert_false(err.retriable);
    assert_null(strstr(err.msg, "sekrit"));
    assert_non_null(strstr(err.msg, "tb_no_such_db"));

    /* A role without CREATE on the database cannot make the schema. */
    char role[64], sql[256];
    snprintf(role, sizeof role, "tb_weak_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN",
             role, role);
    exec_ok(sql);
    snprintf(dsn, sizeof dsn, "%s user=%s", g_dsn, role);
    cfg.target.dsn = dsn;
    cfg.target.schema = (char *)"weak_schema";
    tb_error_clear(&err);
    int rc = ops->open(&cfg, &pos, &s, &err);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    exec_ok(sql);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, TB_ERR_TARGET);
    assert_false(err.retriable);
    assert_non_null(strstr(err.msg, "permission denied"));
    assert_non_null(strstr(err.msg, "creating the target schema"));
}

static void test_insert_update_delete(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_iud", &pos);
    tb_table *t = mk_table("acct", 3, acct_cols);
    prepare(s, t);
    CHECK("id integer,name text,amount numeric(12,2)",
          "SELECT string_agg(attname || ' ' || format_type(atttypid, "
          "atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid "
          "= '" SCHEMA ".acct'::regclass AND attnum > 0");
    CHECK("id", "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN "
                "pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
                "ANY(i.indkey) WHERE i.indrelid = '" SCHEMA
                ".acct'::regclass AND i.indisprimary");

    begin(s);
    INS(s, t, VI(1), VS("ann"), VS("10.50"));
    INS(s, t, VI(2), VS("bob"), VS("-3.00"));
    INS(s, t, VI(3), VS("tab\there\nnew\\line"), VNULL);
    commit(s, "0/10");
    CHECK("(1,ann,10.50) (2,bob,-3.00) (3,\"tab\there\nnew\\\\line\",)",
          ROWS("acct", "id"));

    begin(s);
    upd(s, t, NULL, (tb_value[]){VI(2), VS("bobby"), VS("4.25")});
    DEL(s, t, VI(3), VNULL, VNULL);
    commit(s, "0/20");
    CHECK("(1,ann,10.50) (2,bobby,4.25)", ROWS("acct", "id"));
    CHECK("0/20", "SELECT position FROM " SCHEMA
                  "._tributary_state WHERE pipeline = 'p_iud'");
    CHECK("2", "SELECT commits FROM " SCHEMA
               "._tributary_state WHERE pipeline = 'p_iud'");
    ops->close(s);
    tb_table_free(t);
}

static void test_collapse(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_collapse", &pos);
    tb_table *t = mk_table("coll", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(10), VS("old"), VS("1.00"));
    commit(s, "0/1");

    begin(s);
    /* insert + update + delete of one key: nothing */
    INS(s, t, VI(1), VS("a"), VS("1.00"));
    upd(s, t, NULL, (tb_value[]){VI(1), VS("b"), VS("2.00")});
    DEL(s, t, VI(1), VNULL, VNULL);
    /* insert + updates: the final image */
    INS(s, t, VI(2), VS("a"), VS("1.00"));
    upd(s, t, NULL, (tb_value[]){VI(2), VS("b"), VS("2.00")});
    upd(s, t, NULL, (tb_value[]){VI(2), VS("c"), VS("3.00")});
    /* update chain of a stored row */
    upd(s, t, NULL, (tb_value[]){VI(10), VS("x"), VS("5.00")});
    upd(s, t, NULL, (tb_value[]){VI(10), VS("y"), VNULL});
    /* delete then insert again of one key */
    INS(s, t, VI(3), VS("first"), VNULL);
    DEL(s, t, VI(3), VNULL, VNULL);
    INS(s, t, VI(3), VS("second"), VNULL);
    commit(s, "0/2");
    CHECK("(2,c,3.00) (3,second,) (10,y,)", ROWS("coll", "id"));

    /* delete of a stored row, then re-insert within the batch */
    begin(s);
    DEL(s, t, VI(10), VNULL, VNULL);
    INS(s, t, VI(10), VS("again"), VS("0.01"));
    DEL(s, t, VI(2), VNULL, VNULL);
    commit(s, "0/3");
    CHECK("(3,second,) (10,again,0.01)", ROWS("coll", "id"));
    ops->close(s);
    tb_table_free(t);
}

static void test_key_change(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_key", &pos);
    tb_table *t = mk_table("keyc", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("one"), VS("1.00"));
    INS(s, t, VI(2), VS("two"), VS("2.00"));
    commit(s, "0/1");

    begin(s);
    /* stored row 1 becomes 5 */
    upd(s, t, (tb_value[]){VI(1), VNULL, VNULL},
        (tb_value[]){VI(5), VS("five"), VS("5.00")});
    /* a row inserted in the batch changes its key twice */
    INS(s, t, VI(7), VS("seven"), VNULL);
    upd(s, t, (tb_value[]){VI(7), VNULL, VNULL},
        (tb_value[]){VI(8), VS("eight"), VNULL});
    upd(s, t, (tb_value[]){VI(8), VNULL, VNULL},
        (tb_value[]){VI(9), VS("nine"), VNULL});
    /* swap keys through a free one: 2 -> 100, 5 -> 2 */
    upd(s, t, (tb_value[]){VI(2), VNULL, VNULL},
        (tb_value[]){VI(100), VS("two"), VS("2.00")});
    upd(s, t, (tb_value[]){VI(5), VNULL, VNULL},
        (tb_value[]){VI(2), VS("five"), VS("5.00")});
    /* a key change whose missing value the batch holds */
    INS(s, t, VI(20), VS("twenty"), VS("20.00"));
    upd(s, t, (tb_value[]){VI(20), VNULL, VNULL},
        (tb_value[]){VI(21), VUNCH, VS("21.00")});
    commit(s, "0/2");
    CHECK("(2,five,5.00) (9,nine,) (21,twenty,21.00) (100,two,2.00)",
          ROWS("keyc", "id"));

    /* a key change whose new image lacks a value (unchanged TOAST) keeps
     * the stored one */
    begin(s);
    upd(s, t, (tb_value[]){VI(100), VNULL, VNULL},
        (tb_value[]){VI(101), VUNCH, VS("7.77")});
    commit(s, "0/3");
    CHECK("(2,five,5.00) (9,nine,) (21,twenty,21.00) (101,two,7.77)",
          ROWS("keyc", "id"));
    ops->close(s);
    tb_table_free(t);
}

static void test_unchanged_toast(void **state)
{
    (void)state;
    static const colspec cols[] = {
        {"id", "bigint", TB_KIND_LONG, true},
        {"doc", "text", TB_KIND_STRING, false},
        {"n", "integer", TB_KIND_INT, false},
        {"blob", "bytea", TB_KIND_BYTES, false},
    };
    size_t big = 200 * 1024;
    char *text = malloc(big + 1);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)('a' + i % 26);
    text[big] = '\0';
    char bytes[] = {'x', 0, 'y', 0};
    tb_position pos;
    tb_sink *s = open_sink("p_toast", &pos);
    tb_table *t = mk_table("toast", 4, cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS(text), VI(0), VBYTES(bytes, 4));
    INS(s, t, VI(2), VS(text), VI(0), VBYTES(bytes, 4));
    commit(s, "0/1");

    /* stored rows: UNCHANGED keeps the stored 200 KB text and bytes */
    begin(s);
    upd(s, t, NULL, (tb_value[]){VI(1), VUNCH, VI(1), VUNCH});
    upd(s, t, NULL, (tb_value[]){VI(1), VUNCH, VI(2), VUNCH});
    /* an UNCHANGED after a full image in the batch takes that image */
    INS(s, t, VI(3), VS("short"), VI(0), VNULL);
    upd(s, t, NULL, (tb_value[]){VI(3), VUNCH, VI(3), VUNCH});
    upd(s, t, NULL, (tb_value[]){VI(2), VS("replaced"), VI(1), VUNCH});
    upd(s, t, NULL, (tb_value[]){VI(2), VUNCH, VI(2), VUNCH});
    commit(s, "0/2");
    CHECK("204800 2 \\x78007900",
          "SELECT length(doc) || ' ' || n || ' ' || blob::text FROM " SCHEMA
          ".toast WHERE id = 1");
    CHECK("t", "SELECT left(doc, 30) = 'abcdefghijklmnopqrstuvwxyzabcd' AND "
               "md5(doc) = md5(left(repeat('abcdefghijklmnopqrstuvwxyz', "
               "7900), 204800)) FROM " SCHEMA ".toast WHERE id = 1");
    CHECK("(2,replaced,2,\"\\\\x78007900\") (3,short,3,)",
          "SELECT string_agg(x::text, ' ' ORDER BY id) FROM " SCHEMA
          ".toast x WHERE id > 1");
    ops->close(s);
    tb_table_free(t);
    free(text);
}

static void test_truncate_mid_batch(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_trunc", &pos);
    tb_table *t = mk_table("trunc", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("a"), VNULL);
    INS(s, t, VI(2), VS("b"), VNULL);
    commit(s, "0/1");
    begin(s);
    INS(s, t, VI(3), VS("c"), VNULL);
    upd(s, t, NULL, (tb_value[]){VI(1), VS("a2"), VNULL});
    change(s, TB_OP_TRUNCATE, t, NULL, NULL);
    INS(s, t, VI(4), VS("d"), VNULL);
    commit(s, "0/2");
    CHECK("(4,d,)", ROWS("trunc", "id"));
    ops->close(s);
    tb_table_free(t);
}

static void test_nokey_table(void **state)
{
    (void)state;
    static const colspec cols[] = {
        {"a", "integer", TB_KIND_INT, false},
        {"b", "text", TB_KIND_STRING, false},
        {"j", "json", TB_KIND_JSON, false},
        {"p", "point", TB_KIND_STRING, false},
    };
    tb_position pos;
    tb_sink *s = open_sink("p_nokey", &pos);
    tb_table *t = mk_table("nokey", 4, cols);
    prepare(s, t);
    CHECK("0", "SELECT count(*) FROM pg_index WHERE indrelid = '" SCHEMA
               ".nokey'::regclass");
    begin(s);
    for (int i = 0; i < 3; i++)
        INS(s, t, VI(1), VS("x"), VS("{\"k\": [1, 2]}"), VS("(1,2)"));
    INS(s, t, VNULL, VS("y"), VNULL, VNULL);
    INS(s, t, VNULL, VS("y"), VNULL, VNULL);
    commit(s, "0/1");
    CHECK("5", "SELECT count(*) FROM " SCHEMA ".nokey");

    begin(s);
    /* a delete removes exactly one of three duplicates (json, point) */
    DEL(s, t, VI(1), VS("x"), VS("{\"k\": [1, 2]}"), VS("(1,2)"));
    /* NULL matches NULL; one of two duplicates changes */
    upd(s, t, (tb_value[]){VNULL, VS("y"), VNULL, VNULL},
        (tb_value[]){VI(9), VS("z"), VS("[]"), VNULL});
    /* an insert buffered before an update is applied first */
    INS(s, t, VI(2), VS("w"), VNULL, VNULL);
    upd(s, t, (tb_value[]){VI(2), VS("w"), VNULL, VNULL},
        (tb_value[]){VI(2), VS("w2"), VNULL, VNULL});
    /* UNCHANGED keeps the stored value */
    upd(s, t, (tb_value[]){VI(1), VS("x"), VS("{\"k\": [1, 2]}"), VS("(1,2)")},
        (tb_value[]){VI(1), VS("x2"), VUNCH, VUNCH});
    commit(s, "0/2");
    CHECK("(,y,,) (1,x,\"{\"\"k\"\": [1, 2]}\",\"(1,2)\") "
          "(1,x2,\"{\"\"k\"\": [1, 2]}\",\"(1,2)\") (2,w2,,) (9,z,[],)",
          ROWS("nokey", "a NULLS FIRST, b"));
    ops->close(s);
    tb_table_free(t);
}

static void test_abort(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_abort", &pos);
    tb_table *t = mk_table("abrt", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("kept"), VNULL);
    commit(s, "0/1");

    begin(s);
    INS(s, t, VI(2), VS("gone"), VNULL);
    upd(s, t, NULL, (tb_value[]){VI(1), VS("changed"), VNULL});
    /* a table created inside the aborted batch disappears with it */
    tb_table *t2 = mk_table("abrt_new", 3, acct_cols);
    prepare(s, t2);
    INS(s, t2, VI(1), VS("x"), VNULL);
    ops->abort(s);
    CHECK("(1,kept,)", ROWS("abrt", "id"));
    CHECK("<null>", "SELECT to_regclass('" SCHEMA ".abrt_new')");
    CHECK("0/1", "SELECT position FROM " SCHEMA
                 "._tributary_state WHERE pipeline = 'p_abort'");

    /* the sink goes on after an abort, re-creating what was lost */
    begin(s);
    INS(s, t2, VI(1), VS("y"), VNULL);
    INS(s, t, VI(3), VS("three"), VNULL);
    commit(s, "0/3");
    CHECK("(1,y,)", ROWS("abrt_new", "id"));
    CHECK("(1,kept,) (3,three,)", ROWS("abrt", "id"));
    ops->close(s);
    tb_table_free(t);
    tb_table_free(t2);
}

static void test_position_read_back(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_pos", &pos);
    assert_string_equal(pos.text, "");
    tb_table *t = mk_table("pos", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("a"), VNULL);
    commit(s, "16/B374D848");
    ops->close(s);

    s = open_sink("p_pos", &pos);
    assert_string_equal(pos.text, "16/B374D848");
    /* a value the agent refuses never reaches the target */
    begin(s);
    {
        tb_value bad[3] = {VI(3), VS("c"), VS("not a number")};
        tb_change c = {.op = TB_OP_CREATE, .table = t, .after = bad};
        tb_error e;
        tb_error_clear(&e);
        assert_int_equal(ops->apply(s, &c, &e), -1);
        assert_non_null(strstr(e.msg, "amount"));
    }
    ops->abort(s);
    /* a failing batch leaves the stored position alone: the target refuses
     * a value its CHECK constraint does not allow */
    exec_ok("ALTER TABLE mirror.pos ADD CONSTRAINT small CHECK (amount < 100)");
    begin(s);
    INS(s, t, VI(2), VS("b"), VS("500.00"));
    tb_error err;
    tb_position p;
    strcpy(p.text, "17/0");
    tb_error_clear(&err);
    /* The commit may go out asynchronously: its failure shows at sync. */
    tb_position done;
    int rc = ops->commit(s, &p, &err);
    if (rc == 0) rc = ops->sync(s, &done, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, TB_ERR_TARGET);
    assert_non_null(strstr(err.msg, "violates check constraint"));
    ops->close(s);
    /* another pipeline has its own row */
    s = open_sink("p_pos_other", &pos);
    assert_string_equal(pos.text, "");
    ops->close(s);
    s = open_sink("p_pos", &pos);
    assert_string_equal(pos.text, "16/B374D848");
    ops->close(s);
    CHECK("(1,a,)", ROWS("pos", "id"));
    tb_table_free(t);
}

static void test_add_and_drop_columns(void **state)
{
    (void)state;
    static const colspec v1[] = {
        {"id", "integer", TB_KIND_INT, true},
        {"a", "text", TB_KIND_STRING, false},
        {"b", "text", TB_KIND_STRING, false},
    };
    static const colspec v2[] = {
        {"id", "integer", TB_KIND_INT, true},
        {"a", "text", TB_KIND_STRING, false},
        {"b", "text", TB_KIND_STRING, false},
        {"c", "timestamp(3) with time zone", TB_KIND_TIMESTAMP_MICROS, false},
    };
    static const colspec v3[] = {
        {"id", "integer", TB_KIND_INT, true},
        {"a", "text", TB_KIND_STRING, false},
        {"c", "timestamp(3) with time zone", TB_KIND_TIMESTAMP_MICROS, false},
    };
    tb_position pos;
    tb_sink *s = open_sink("p_ddl", &pos);
    tb_table *t1 = mk_table("ddl", 3, v1);
    tb_table *t2 = mk_table("ddl", 4, v2);
    tb_table *t3 = mk_table("ddl", 3, v3);
    prepare(s, t1);
    begin(s);
    INS(s, t1, VI(1), VS("a1"), VS("b1"));
    INS(s, t1, VI(2), VS("a2"), VS("b2"));
    /* the wider shape arrives inside the batch, rows of both commit */
    prepare(s, t2);
    INS(s, t2, VI(3), VS("a3"), VS("b3"), VI(1000));
    commit(s, "0/1");
    CHECK("id integer,a text,b text,c timestamp(3) with time zone",
          "SELECT string_agg(attname || ' ' || format_type(atttypid, "
          "atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid "
          "= '" SCHEMA ".ddl'::regclass AND attnum > 0");
    CHECK("(1,a1,b1,) (2,a2,b2,) (3,a3,b3,\"1970-01-01 00:00:00.001+00\")",
          ROWS("ddl", "id"));

    /* b dropped at the source: stays in the target, NULL from now on */
    prepare(s, t3);
    begin(s);
    INS(s, t3, VI(4), VS("a4"), VNULL);
    upd(s, t3, NULL, (tb_value[]){VI(1), VS("a1x"), VNULL});
    commit(s, "0/2");
    CHECK("(1,a1x,,) (2,a2,b2,) (3,a3,b3,\"1970-01-01 00:00:00.001+00\") "
          "(4,a4,,)",
          ROWS("ddl", "id"));
    ops->close(s);
    tb_table_free(t1);
    tb_table_free(t2);
    tb_table_free(t3);
}

static void test_types(void **state)
{
    (void)state;
    static const colspec cols[] = {
        {"id", "integer", TB_KIND_INT, true},
        {"i2", "smallint", TB_KIND_INT, false},
        {"i8", "bigint", TB_KIND_LONG, false},
        {"num", "numeric", TB_KIND_DECIMAL, false},
        {"num2", "numeric(12,2)", TB_KIND_DECIMAL, false},
        {"f4", "real", TB_KIND_FLOAT, false},
        {"f8", "double precision", TB_KIND_DOUBLE, false},
        {"txt", "text", TB_KIND_STRING, false},
        {"by", "bytea", TB_KIND_BYTES, false},
        {"bo", "boolean", TB_KIND_BOOLEAN, false},
        {"d", "date", TB_KIND_DATE, false},
        {"tm", "time without time zone", TB_KIND_TIME_MICROS, false},
        {"ts", "timestamp with time zone", TB_KIND_TIMESTAMP_MICROS, false},
        {"lts", "timestamp without time zone", TB_KIND_LOCAL_TIMESTAMP_MICROS,
         false},
        {"u", "uuid", TB_KIND_UUID, false},
        {"jb", "jsonb", TB_KIND_JSON, false},
        {"arr", "integer[]", TB_KIND_STRING, false},
        {"tarr", "text[]", TB_KIND_STRING, false},
    };
    const int n = (int)(sizeof cols / sizeof *cols);
    tb_position pos;
    tb_sink *s = open_sink("p_types", &pos);
    tb_table *t = mk_table("types", n, cols);
    prepare(s, t);
    char zeros[] = {0, 1, 0, '\\', '\t'};
    begin(s);
    INS(s, t, VI(1), VI(-32768), VI(INT64_MIN), VS("NaN"), VS("-12.50"),
        VD(1.5), VD(-INFINITY), VS("emoji \xF0\x9F\x98\x80 \\ back"),
        VBYTES(zeros, 5), VB(true), VI(INT32_MAX), VI(86400000000LL),
        VI(INT64_MAX), VI(-1), VS("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        VS("{\"b\": [1, \"x\"], \"a\": null}"), VS("{1,2,NULL}"),
        VS("{\"a b\",\"c\\\"d\"}"));
    INS(s, t, VI(2), VI(7), VI(INT64_MAX), VS("123456789012345678901.5"),
        VS("0.01"), VD(NAN), VD(INFINITY), VS(""), VBYTES(zeros, 0), VB(false),
        VI(INT32_MIN), VI(0), VI(INT64_MIN), VI(1234567), VNULL, VS("[]"),
        VS("{}"), VNULL);
    INS(s, t, VI(3), VNULL, VNULL, VS("-Infinity"), VNULL, VD(0.1),
        VD(2.2250738585072014e-308), VNULL, VNULL, VNULL, VI(-719528),
        VI(45296789012LL), VI(1700000000123456LL), VNULL, VNULL, VNULL, VNULL,
        VNULL);
    commit(s, "0/1");
    CHECK("(1,-32768,-9223372036854775808,NaN,-12.50,1.5,-Infinity,\"emoji "
          "\xF0\x9F\x98\x80 \\\\ back\",\"\\\\x0001005c09\",t,infinity,"
          "24:00:00,infinity,\"1969-12-31 23:59:59.999999\","
          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,\"{\"\"a\"\": null, \"\"b\"\": "
          "[1, \"\"x\"\"]}\",\"{1,2,NULL}\",\"{\"\"a b\"\",\"\"c\\\\\"\"d\"\"}"
          "\")",
          ROWS("types", "id") " WHERE id = 1");
    CHECK("(2,7,9223372036854775807,123456789012345678901.5,0.01,NaN,"
          "Infinity,\"\",\"\\\\x\",f,-infinity,00:00:00,-infinity,"
          "\"1970-01-01 00:00:01.234567\",,[],{},)",
          ROWS("types", "id") " WHERE id = 2");
    CHECK("(3,,,-Infinity,,0.1,2.2250738585072014e-308,,,,\"0001-01-01 BC\","
          "12:34:56.789012,\"2023-11-14 22:13:20.123456+00\",,,,,)",
          ROWS("types", "id") " WHERE id = 3");
    ops->close(s);
    tb_table_free(t);
}

static void test_big_batch_bounded_memory(void **state)
{
    (void)state;
    static const colspec cols[] = {
        {"id", "bigint", TB_KIND_LONG, true},
        {"name", "text", TB_KIND_STRING, false},
        {"qty", "integer", TB_KIND_INT, false},
        {"price", "numeric(12,2)", TB_KIND_DECIMAL, false},
    };
    /* ~400 bytes a row: 200,000 rows are 80 MB of COPY text, so the batch
     * fits under the limit only when the sink flushes inside it. */
    char pad[401];
    for (int i = 0; i < 400; i++)
        pad[i] = (char)('A' + i % 26);
    pad[400] = '\0';
    const int64_t rows = 200000;
    tb_position pos;
    tb_sink *s = open_sink("p_big", &pos);
    tb_table *t = mk_table("big", 4, cols);
    prepare(s, t);
    begin(s);
    for (int64_t i = 0; i < rows; i++)
        INS(s, t, VI(i), VS(pad), VI(i % 1000), VS("19.99"));
    /* ... and updates of half of them in the same source transaction */
    for (int64_t i = 0; i < rows; i += 2)
        upd(s, t, NULL, (tb_value[]){VI(i), VUNCH, VI(-1), VS("0.50")});
    commit(s, "0/BIG");
    ops->close(s);
    tb_table_free(t);
    long hwm = vm_hwm_kb();
    /* Peak RSS of this whole process. Sanitizers and valgrind add their
     * own memory; their limits still fail a sink that holds the batch (the
     * sink alone would then need over 100 MB). */
#if defined(__SANITIZE_ADDRESS__)
    long limit = 96 * 1024;
#else
    long limit = 64 * 1024;
#endif
    if (RUNNING_ON_VALGRIND) limit = 150 * 1024;
    print_message("VmHWM after %lld rows: %ld kB (limit %ld kB)\n",
                  (long long)rows, hwm, limit);
    assert_true(hwm > 0);
    assert_true(hwm < limit);
    CHECK("200000 100000 200000",
          "SELECT count(*) || ' ' || count(*) FILTER (WHERE qty = -1) || ' ' "
          "|| count(*) FILTER (WHERE length(name) = 400) FROM " SCHEMA ".big");
}

static void test_existing_table_without_index(void **state)
{
    (void)state;
    /* A target table made by hand: no primary key (so no ON CONFLICT), a
     * column the shape does not have, and the key columns in another
     * order. */
    exec_ok("CREATE SCHEMA IF NOT EXISTS " SCHEMA "; CREATE TABLE " SCHEMA
            ".legacy (note text, amount numeric(12,2), name text, id "
            "integer); INSERT INTO " SCHEMA
            ".legacy VALUES ('n1', 1, 'one', 1), ('n2', 2, 'two', 2)");
    tb_position pos;
    tb_sink *s = open_sink("p_legacy", &pos);
    tb_table *t = mk_table("legacy", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(3), VS("three"), VS("3.00"));
    upd(s, t, NULL, (tb_value[]){VI(1), VS("uno"), VUNCH});
    upd(s, t, NULL, (tb_value[]){VI(2), VS("dos"), VS("2.50")});
    DEL(s, t, VI(3), VNULL, VNULL);
    INS(s, t, VI(4), VS("four"), VNULL);
    commit(s, "0/1");
    CHECK("(,1.00,uno,1) (,2.50,dos,2) (,,four,4)", ROWS("legacy", "id"));
    ops->close(s);
    tb_table_free(t);
}

static void test_commit_failure(void **state)
{
    (void)state;
    tb_position pos;
    tb_sink *s = open_sink("p_cfail", &pos);
    tb_table *t = mk_table("cfail", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("a"), VNULL);
    commit(s, "0/1");
    /* checked only at COMMIT: the failure surfaces there */
    exec_ok("ALTER TABLE " SCHEMA ".cfail ADD CONSTRAINT cfail_name UNIQUE "
            "(name) DEFERRABLE INITIALLY DEFERRED");
    begin(s);
    INS(s, t, VI(2), VS("b"), VNULL);
    INS(s, t, VI(3), VS("b"), VNULL);
    tb_error err;
    tb_position p;
    strcpy(p.text, "0/2");
    tb_error_clear(&err);
    /* The commit goes out asynchronously: its failure shows at sync. */
    tb_position done;
    int rc = ops->commit(s, &p, &err);
    if (rc == 0) rc = ops->sync(s, &done, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, TB_ERR_TARGET);
    assert_non_null(strstr(err.msg, "23505"));
    CHECK("(1,a,)", ROWS("cfail", "id"));
    CHECK("0/1", "SELECT position FROM " SCHEMA
                 "._tributary_state WHERE pipeline = 'p_cfail'");
    /* the sink is usable for the next batch */
    begin(s);
    INS(s, t, VI(2), VS("b"), VNULL);
    commit(s, "0/3");
    CHECK("(1,a,) (2,b,)", ROWS("cfail", "id"));
    ops->close(s);
    tb_table_free(t);
}

/* Commit without waiting: the commit stays in flight. */
static void commit_async(tb_sink *s, const char *pos)
{
    tb_error err;
    tb_position p;
    tb_error_clear(&err);
    snprintf(p.text, sizeof p.text, "%s", pos);
    must(ops->commit(s, &p, &err), &err, "commit");
}

/* Two commits in flight at once (two target connections): reported in
 * order; a batch on the same keys waits for the earlier one; a commit
 * after a failed one fails too, and nothing of either is applied. */
static void test_pipelined_commits(void **state)
{
    (void)state;
    tb_position pos, done;
    tb_error err;
    assert_true(ops->inflight_max >= 2);
    tb_sink *s = open_sink("p_pipe", &pos);
    tb_table *t = mk_table("pipe", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("a"), VNULL);
    commit_async(s, "0/10");
    begin(s); /* on the second connection */
    INS(s, t, VI(2), VS("b"), VNULL);
    commit_async(s, "0/11");
    tb_error_clear(&err);
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/10");
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/11");
    CHECK("(1,a,) (2,b,)", ROWS("pipe", "id"));
    /* the same key in both batches: the later one wins */
    begin(s);
    INS(s, t, VI(3), VS("c"), VNULL);
    upd(s, t, NULL, (const tb_value[]){VI(1), VS("x"), VNULL});
    commit_async(s, "0/12");
    begin(s);
    upd(s, t, NULL, (const tb_value[]){VI(1), VS("y"), VS("1.00")});
    DEL(s, t, VI(3), VNULL, VNULL);
    commit_async(s, "0/13");
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/12");
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/13");
    CHECK("(1,y,1.00) (2,b,)", ROWS("pipe", "id"));
    CHECK("0/13", "SELECT position FROM " SCHEMA
                  "._tributary_state WHERE pipeline = 'p_pipe'");
    /* the first of two in-flight commits fails at COMMIT: the second one,
     * on other keys, must not commit without it */
    exec_ok("ALTER TABLE " SCHEMA ".pipe ADD CONSTRAINT pipe_name UNIQUE "
            "(name) DEFERRABLE INITIALLY DEFERRED");
    begin(s);
    INS(s, t, VI(5), VS("dup"), VNULL);
    INS(s, t, VI(6), VS("dup"), VNULL);
    commit_async(s, "0/14");
    begin(s);
    INS(s, t, VI(7), VS("z"), VNULL);
    commit_async(s, "0/15");
    tb_error_clear(&err);
    assert_int_equal(ops->sync(s, &done, &err), -1);
    assert_non_null(strstr(err.msg, "23505"));
    tb_error_clear(&err);
    assert_int_equal(ops->sync(s, &done, &err), -1);
    CHECK("(1,y,1.00) (2,b,)", ROWS("pipe", "id"));
    CHECK("0/13", "SELECT position FROM " SCHEMA
                  "._tributary_state WHERE pipeline = 'p_pipe'");
    /* and the sink takes the next batch */
    begin(s);
    INS(s, t, VI(8), VS("h"), VNULL);
    commit(s, "0/16");
    CHECK("(1,y,1.00) (2,b,) (8,h,)", ROWS("pipe", "id"));
    ops->close(s);
    tb_table_free(t);
}

/* Ends the transaction of a connection after a pause (another thread). */
static void *release_later(void *arg)
{
    usleep(500 * 1000);
    PQclear(PQexec((PGconn *)arg, "COMMIT"));
    return NULL;
}

/* A table created inside a batch whose commit is still in flight: the next
 * batch (other connection) must wait for that commit before loading into
 * it, since it cannot see the table before. The first commit is held open
 * by a lock on the state row that another thread releases. */
static void test_pipelined_ddl(void **state)
{
    (void)state;
    tb_position pos, done;
    tb_error err;
    tb_sink *s = open_sink("p_pddl", &pos);
    tb_table *t = mk_table("pddl_a", 3, acct_cols);
    prepare(s, t);
    begin(s);
    INS(s, t, VI(1), VS("a"), VNULL);
    commit(s, "0/30");
    PGconn *locker = PQconnectdb(g_dsn);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *r = PQexec(locker, "SELECT 1 FROM " SCHEMA "._tributary_state "
                                 "WHERE pipeline = 'p_pddl' FOR UPDATE");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    tb_table *t2 = mk_table("pddl_b", 3, acct_cols);
    begin(s);
    prepare(s, t2); /* CREATE TABLE inside this transaction */
    INS(s, t2, VI(1), VS("x"), VNULL);
    commit_async(s, "0/31"); /* waits on the locked state row */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, locker), 0);
    begin(s); /* the other connection */
    INS(s, t2, VI(2), VS("y"), VNULL);
    commit_async(s, "0/32");
    tb_error_clear(&err);
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/31");
    must(ops->sync(s, &done, &err), &err, "sync");
    assert_string_equal(done.text, "0/32");
    pthread_join(th, NULL);
    PQfinish(locker);
    CHECK("(1,x,) (2,y,)", ROWS("pddl_b", "id"));
    ops->close(s);
    tb_table_free(t);
    tb_table_free(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_state),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_insert_update_delete),
        cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_key_change),
        cmocka_unit_test(test_unchanged_toast),
        cmocka_unit_test(test_truncate_mid_batch),
        cmocka_unit_test(test_nokey_table),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_position_read_back),
        cmocka_unit_test(test_add_and_drop_columns),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_existing_table_without_index),
        cmocka_unit_test(test_commit_failure),
        cmocka_unit_test(test_pipelined_commits),
        cmocka_unit_test(test_pipelined_ddl),
        cmocka_unit_test(test_big_batch_bounded_memory),
    };
    return cmocka_run_group_tests_name("pg_sink", tests, group_setup,
                                       group_teardown);
}
