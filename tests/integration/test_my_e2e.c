/*
 * test_my_e2e.c - MariaDB -> PostgreSQL through the tributary binary, against
 * real servers (scripts/servers.sh provides TB_MY_* and TB_PG_*).
 *
 * Every scenario ends with the target equal to the source, compared value
 * by value in a canonical text form built by the same-looking expression on
 * each side (e.g. DATE_FORMAT(..., '%f') vs to_char(..., 'US')), so a value
 * changed by the type mapping, lost, or applied twice shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/dbutil.h"
#include "util/testutil.h"

static char *dir;
static char mydb[64], pgdb[64];
static const char *pghost, *pgport, *myhost, *myport;
static char *config_path;

/* ---- MariaDB ---------------------------------------------------------- */

/* Rows of a query as one text: fields joined by '|', rows by '\n'. */

/* ---- PostgreSQL --------------------------------------------------------- */

/* ---- the table with every type ----------------------------------------- */

/* One column: its MariaDB declaration, and the expressions that print its
 * value canonically on each side (%s is the column name). */
typedef struct colspec {
    const char *name;
    const char *decl;
    const char *my_expr;
    const char *pg_expr;
} colspec;

static const colspec cols[] = {
    {"ti", "TINYINT", "%s", "%s"},
    {"tu", "TINYINT UNSIGNED", "%s", "%s"},
    {"si", "SMALLINT", "%s", "%s"},
    {"su", "SMALLINT UNSIGNED", "%s", "%s"},
    {"mi", "MEDIUMINT", "%s", "%s"},
    {"mu", "MEDIUMINT UNSIGNED", "%s", "%s"},
    {"i", "INT", "%s", "%s"},
    {"iu", "INT UNSIGNED", "%s", "%s"},
    {"bi", "BIGINT", "%s", "%s"},
    {"bu", "BIGINT UNSIGNED", "%s", "%s"},
    {"d65", "DECIMAL(65,30)", "%s", "%s"},
    {"d2", "DECIMAL(10,2)", "%s", "%s"},
    {"f", "FLOAT", "%s", "%s"},
    {"dbl", "DOUBLE", "%s", "replace(%s::text, 'e+', 'e')"},
    {"b1", "BIT(1)", "BIN(%s)", "%s::text"},
    {"b64", "BIT(64)", "LPAD(BIN(%s), 64, '0')", "%s::text"},
    {"e", "ENUM('small','medium','large')", "%s", "%s"},
    {"st", "SET('x','y','z')", "%s", "array_to_string(%s, ',')"},
    {"vc", "VARCHAR(100) CHARACTER SET utf8mb4", "%s", "%s"},
    {"lat", "VARCHAR(50) CHARACTER SET latin1", "%s", "%s"},
    {"tx", "TEXT", "%s", "%s"},
    {"vb", "VARBINARY(16)", "HEX(%s)", "upper(encode(%s, 'hex'))"},
    {"bl", "BLOB", "HEX(%s)", "upper(encode(%s, 'hex'))"},
    {"dt", "DATE", "%s", "%s::text"},
    {"dtm", "DATETIME(6)", "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')",
     "to_char(%s, 'YYYY-MM-DD HH24:MI:SS.US')"},
    {"dt0", "DATETIME", "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s')",
     "to_char(%s, 'YYYY-MM-DD HH24:MI:SS')"},
    {"ts3", "TIMESTAMP(3) NULL",
     "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')",
     "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"},
    {"tm", "TIME(6)", "CAST(TIME_TO_SEC(%s) * 1000000 AS SIGNED)",
     "(extract(epoch FROM %s) * 1000000)::bigint"},
    {"yr", "YEAR", "%s", "%s"},
    {"js", "JSON", "JSON_EXTRACT(%s, '$.k')", "(%s::jsonb -> 'k')::text"},
};
#define NCOLS (sizeof cols / sizeof cols[0])

static const char *const rows[] = {
    /* minimums */
    "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, "
    "-9223372036854775808, 0, "
    "'-99999999999999999999999999999999999.999999999999999999999999999999', "
    "-99999999.99, -1.5, -1.7976931348623157e308, b'0', b'0', 'small', '', "
    "'', '', '', '', '', '1000-01-01', '1000-01-01 00:00:00.000000', "
    "'1000-01-01 00:00:00', '1970-01-01 00:00:01.000', '-838:59:59.000000', "
    "1901, '{\"k\": -1}')",
    /* maximums */
    "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, "
    "9223372036854775807, 18446744073709551615, "
    "'99999999999999999999999999999999999.999999999999999999999999999999', "
    "99999999.99, 3.25, 1.7976931348623157e308, b'1', "
    "b'1111111111111111111111111111111111111111111111111111111111111111', "
    "'large', 'x,y,z', 'emoji 😀 and ünïcødé', 'accents: àéîõü ç', "
    "REPEAT('long text ', 500), X'00FF00FF00', X'000102FEFF00', "
    "'9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', "
    "'2038-01-19 03:14:07.999', '838:59:59.000000', 2155, "
    "'{\"k\": [1, \"two\", null]}')",
    /* fractional seconds and ordinary values */
    "(3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, '0.000000000000000000000000000001', "
    "0.01, 0, 0, b'0', b'101', 'medium', 'y', 'tab\there', 'x', 'x', "
    "X'', X'00', '2024-02-29', '2024-02-29 12:34:56.5', '2024-02-29 12:34:56', "
    "'2024-02-29 12:34:56.123', '-00:00:00.000001', 2000, '{\"k\": \"v\"}')",
};

static char *expr_list(bool mysql)
{
    size_t cap = 8192, len = 0;
    char *out = calloc(1, cap);
    len += (size_t)snprintf(out, cap, "id");
    for (size_t i = 0; i < NCOLS; i++) {
        char one[256];
        snprintf(one, sizeof one, mysql ? cols[i].my_expr : cols[i].pg_expr,
                 cols[i].name);
        len += (size_t)snprintf(out + len, cap - len, ", %s", one);
    }
    return out;
}

/* Print each differing value: row id, column, both sides. */
static void show_differences(const char *a, const char *b)
{
    char *x = strdup(a), *y = strdup(b);
    char *sx = NULL, *sy = NULL;
    char *lx = strtok_r(x, "\n", &sx), *ly = strtok_r(y, "\n", &sy);
    while (lx || ly) {
        if (!lx || !ly) {
            print_error("row count differs at %s\n", lx ? lx : ly);
            break;
        }
        char *fx = NULL, *fy = NULL;
        char *vx = strtok_r(lx, "|", &fx), *vy = strtok_r(ly, "|", &fy);
        const char *id = vx;
        for (size_t c = 0; vx && vy; c++) {
            if (strcmp(vx, vy) != 0)
                print_error("id %s column %s: MariaDB [%.60s] PostgreSQL "
                            "[%.60s]\n",
                            id, c == 0 ? "id" : cols[c - 1].name, vx, vy);
            vx = strtok_r(NULL, "|", &fx);
            vy = strtok_r(NULL, "|", &fy);
        }
        lx = strtok_r(NULL, "\n", &sx);
        ly = strtok_r(NULL, "\n", &sy);
    }
    free(x);
    free(y);
}

static void assert_alltypes_equal(void)
{
    char *me = expr_list(true), *pe = expr_list(false);
    char q[8192];
    snprintf(q, sizeof q, "SELECT %s FROM %s.alltypes ORDER BY id", me, mydb);
    char *a = tu_my_rows(q);
    snprintf(q, sizeof q, "SELECT %s FROM m.alltypes ORDER BY id", pe);
    char *b = tu_pg_rows(pgdb, q);
    if (strcmp(a, b) != 0) show_differences(a, b);
    assert_true(strcmp(a, b) == 0);
    free(a);
    free(b);
    free(me);
    free(pe);
}

/* A simple table compared as id|v rows. */
static void assert_simple_equal(const char *table)
{
    char q[512];
    snprintf(q, sizeof q, "SELECT id, v FROM %s.%s ORDER BY id", mydb, table);
    char *a = tu_my_rows(q);
    snprintf(q, sizeof q, "SELECT id, v FROM m.%s ORDER BY id", table);
    char *b = tu_pg_rows(pgdb, q);
    if (strcmp(a, b) != 0)
        print_error("%s differs\nMariaDB: %.300s\nPostgreSQL: %.300s\n", table,
                    a, b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* A config for tables (a JSON list body); extra is appended to the source
 * object (e.g. ", \"snapshot_workers\": 4"). */
static void write_config_ex(const char *name, const char *tables,
                            const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"%s_%d\",\n"
             " \"source\": {\"type\": \"mysql\", \"dsn\": "
             "\"mysql://root@%s:%s/\", \"server_id\": %d, \"tables\": "
             "[%s]%s},\n"
             " \"target\": {\"type\": \"postgres\", \"dsn\": \"host=%s port=%s "
             "user=postgres dbname=%s\", \"schema\": \"m\"},\n"
             " \"registry\": {\"path\": \"registry-%s\"},\n"
             " \"batch\": {\"max_rows\": 5000}\n}\n",
             name, (int)getpid(), myhost, myport, 1000 + (int)(getpid() % 1000),
             tables, extra, pghost, pgport, pgdb, name);
    free(config_path);
    config_path = tu_write_file(dir, "my.json", text);
}

static void write_config(const char *name, const char *tables)
{
    write_config_ex(name, tables, "");
}

static void run_ok(void)
{
    tu_run r = tu_run_once(config_path, NULL);
    if (r.status != 0 || getenv("TB_TEST_VERBOSE"))
        print_error("tributary exit %d:\n%s\n", r.status, r.err);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

static int setup(void **state)
{
    (void)state;
    pghost = getenv("TB_PG_HOST");
    pgport = getenv("TB_PG_PORT");
    myhost = getenv("TB_MY_HOST");
    myport = getenv("TB_MY_PORT");
    dir = tu_tempdir();
    return tu_dbpair_create("my_src", mydb, sizeof mydb, pgdb, sizeof pgdb);
}

static int teardown(void **state)
{
    (void)state;
    tu_dbpair_drop(mydb, pgdb);
    tu_rmtree(dir);
    free(dir);
    free(config_path);
    return 0;
}

static void test_every_type_snapshot_and_stream(void **state)
{
    (void)state;
    char ddl[4096];
    size_t n = (size_t)snprintf(
        ddl, sizeof ddl, "CREATE TABLE %s.alltypes (id INT PRIMARY KEY", mydb);
    for (size_t i = 0; i < NCOLS; i++)
        n += (size_t)snprintf(ddl + n, sizeof ddl - n, ", %s %s", cols[i].name,
                              cols[i].decl);
    snprintf(ddl + n, sizeof ddl - n, ")");
    tu_my("%s", ddl);
    tu_my("INSERT INTO %s.alltypes VALUES %s, %s", mydb, rows[0], rows[1]);
    /* A row with NULL in every column. */
    tu_my("INSERT INTO %s.alltypes (id) VALUES (4)", mydb);
    write_config("types", "\"my_src_*.alltypes\"");
    run_ok();
    assert_alltypes_equal();
    /* The same values again through the binlog. */
    tu_my("INSERT INTO %s.alltypes VALUES %s", mydb, rows[2]);
    tu_my(
        "INSERT INTO %s.alltypes SELECT id + 10, ti, tu, si, su, mi, mu, i, "
        "iu, bi, bu, d65, d2, f, dbl, b1, b64, e, st, vc, lat, tx, vb, bl, dt, "
        "dtm, dt0, ts3, tm, yr, js FROM %s.alltypes WHERE id <= 4",
        mydb, mydb);
    tu_my("UPDATE %s.alltypes SET vc = CONCAT(vc, '!'), d2 = -d2, tm = "
          "'-12:00:00.5' WHERE id IN (1, 12)",
          mydb);
    tu_my("DELETE FROM %s.alltypes WHERE id = 13", mydb);
    run_ok();
    assert_alltypes_equal();
}

static void test_changes_rollback_multitable(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.acct (id INT PRIMARY KEY, v VARCHAR(40))", mydb);
    tu_my("CREATE TABLE %s.audit (id INT PRIMARY KEY, v VARCHAR(40))", mydb);
    write_config("chg", "\"my_src_*.acct\", \"my_src_*.audit\"");
    run_ok();
    tu_my("INSERT INTO %s.acct VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d')", mydb);
    tu_my("UPDATE %s.acct SET id = 40 WHERE id = 4", mydb);
    tu_my("UPDATE %s.acct SET v = 'bb' WHERE id = 2", mydb);
    tu_my("DELETE FROM %s.acct WHERE id = 3", mydb);
    /* A rolled-back transaction leaves no trace. */
    MYSQL *m = tu_my_connect();
    char q[256];
    snprintf(q, sizeof q, "INSERT INTO %s.acct VALUES (99, 'ghost')", mydb);
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "ROLLBACK"), 0);
    /* A two-table transaction. */
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q, sizeof q, "INSERT INTO %s.acct VALUES (5, 'both')", mydb);
    assert_int_equal(mysql_query(m, q), 0);
    snprintf(q, sizeof q, "INSERT INTO %s.audit VALUES (5, 'both')", mydb);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    mysql_close(m);
    run_ok();
    assert_simple_equal("acct");
    assert_simple_equal("audit");
    char *ghost = tu_pg_rows(pgdb, "SELECT count(*) FROM m.acct WHERE id = 99");
    assert_string_equal(ghost, "0\n");
    free(ghost);
}

static void test_add_drop_column(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.evolve (id INT PRIMARY KEY, v VARCHAR(20), old INT)",
          mydb);
    write_config("evo", "\"my_src_*.evolve\"");
    run_ok();
    tu_my("INSERT INTO %s.evolve VALUES (1, 'one', 1)", mydb);
    tu_my("ALTER TABLE %s.evolve ADD COLUMN extra DECIMAL(8,2)", mydb);
    tu_my("INSERT INTO %s.evolve VALUES (2, 'two', 2, 2.5)", mydb);
    tu_my("ALTER TABLE %s.evolve DROP COLUMN old", mydb);
    tu_my("INSERT INTO %s.evolve VALUES (3, 'three', 3.5)", mydb);
    run_ok();
    assert_simple_equal("evolve");
    char *x = tu_pg_rows(
        pgdb, "SELECT id, coalesce(old::text, 'NULL'), "
              "coalesce(extra::text, 'NULL') FROM m.evolve ORDER BY id");
    assert_string_equal(x, "1|1|NULL\n2|2|2.50\n3|NULL|3.50\n");
    free(x);
}

static void test_big_tx_crash_and_memory(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.big (id INT PRIMARY KEY, v VARCHAR(64))", mydb);
    write_config("big", "\"my_src_*.big\"");
    run_ok();
    tu_my("INSERT INTO %s.big SELECT seq, MD5(seq) FROM %s.seq_1_to_200000",
          mydb, mydb);
    struct rusage before;
    getrusage(RUSAGE_CHILDREN, &before);
    run_ok();
    struct rusage after;
    getrusage(RUSAGE_CHILDREN, &after);
    fprintf(stderr, "peak RSS through a 200,000-row transaction: %ld KiB\n",
            after.ru_maxrss);
    /* Under ASan (quarantine, shadow memory) RSS says nothing about us. */
    if (!getenv("TB_SANITIZED")) assert_true(after.ru_maxrss < 64 * 1024);
    assert_simple_equal("big");
    static const char *const points[] = {"mid_batch:3000", "before_commit:2",
                                         "after_commit:2"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        for (int t = 0; t < 10; t++)
            tu_my("INSERT INTO %s.big SELECT 1000000 * %zu + 1000 * %d + seq, "
                  "'r' FROM %s.seq_1_to_600",
                  mydb, i + 1, t, mydb);
        tu_my("UPDATE %s.big SET v = 'round %zu' WHERE id %% 97 = 0", mydb, i);
        tu_run r = tu_run_once(config_path, points[i]);
        assert_int_equal(r.status, 128 + SIGKILL);
        tu_run_free(&r);
        run_ok();
        assert_simple_equal("big");
    }
}

/* MariaDB JSON (LONGTEXT + CHECK (json_valid)) lands as jsonb: the target
 * column's type is jsonb, and every row equals the MariaDB text cast to
 * jsonb on the PostgreSQL side, after the snapshot and after streaming. */
static void assert_json_equal(void)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT id, COALESCE(j, 'NULL') FROM %s.jdoc ORDER BY id", mydb);
    char *rows = tu_my_rows(q);
    /* (id, '<text>'::jsonb) pairs, dollar-quoted: the documents hold
     * quotes but no $ */
    char *vals = malloc(strlen(rows) * 2 + 64), *o = vals;
    int nrows = 0;
    for (char *line = strtok(rows, "\n"); line; line = strtok(NULL, "\n")) {
        char *bar = strchr(line, '|');
        assert_non_null(bar);
        *bar = '\0';
        if (strcmp(bar + 1, "NULL") == 0)
            o += sprintf(o, "%s(%s, NULL::jsonb)", nrows ? ", " : "", line);
        else
            o += sprintf(o, "%s(%s, $j$%s$j$::jsonb)", nrows ? ", " : "", line,
                         bar + 1);
        nrows++;
    }
    char *pq = malloc(strlen(vals) + 512);
    sprintf(pq,
            "SELECT count(*) FILTER (WHERE t.j IS NOT DISTINCT FROM v.j), "
            "count(t.id), (SELECT count(*) FROM m.jdoc) FROM (VALUES %s) "
            "v(id, j) LEFT JOIN m.jdoc t USING (id)",
            vals);
    char *got = tu_pg_rows(pgdb, pq);
    char want[64];
    snprintf(want, sizeof want, "%d|%d|%d\n", nrows, nrows, nrows);
    if (strcmp(got, want) != 0) print_error("jdoc: %s", vals);
    assert_string_equal(got, want);
    free(got);
    free(pq);
    free(vals);
    free(rows);
    char *type =
        tu_pg_rows(pgdb, "SELECT data_type FROM information_schema.columns "
                         "WHERE table_schema = 'm' AND table_name = 'jdoc' "
                         "AND column_name = 'j'");
    assert_string_equal(type, "jsonb\n");
    free(type);
}

static void test_json_as_jsonb(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.jdoc (id INT PRIMARY KEY, j JSON)", mydb);
    tu_my("INSERT INTO %s.jdoc VALUES (1, '{\"b\": [1, 2.50, null], \"a\": "
          "{\"deep\": true}}'), (2, '\"caf\xc3\xa9 \\\\u00e9\"'), (3, '[]'), "
          "(4, NULL), (5, '12345678901234567890.5'), (6, '  {\"sp\" :  1 }  ')",
          mydb);
    write_config("json", "\"my_src_*.jdoc\"");
    run_ok();
    assert_json_equal();
    tu_my("INSERT INTO %s.jdoc VALUES (7, '{\"k\": \"it''s\"}'), (8, 'false')",
          mydb);
    tu_my("UPDATE %s.jdoc SET j = JSON_SET(j, '$.new', 1) WHERE id = 1", mydb);
    tu_my("UPDATE %s.jdoc SET j = '[1]' WHERE id = 4", mydb);
    tu_my("DELETE FROM %s.jdoc WHERE id = 3", mydb);
    run_ok();
    assert_json_equal();
}

/* ---- the parallel snapshot ------------------------------------------ */

/* A background writer: one transaction after another in the given tables
 * (inserts, updates, deletes, and transactions spanning two tables) until
 * told to stop. */
typedef struct writer {
    pthread_t thread;
    atomic_int stop; /* set by the test */
    atomic_long txs; /* transactions committed */
    const char *big; /* the large table */
    const char *log; /* a key-less table: a change applied twice or lost
                        shows as a wrong count */
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    MYSQL *m = tu_my_connect();
    char q[512];
    for (long n = 1; !w->stop; n++) {
        int t = (int)(n % 3) + 1;
        const char *stmts[4];
        char a[160], b[160], c[160], d[160];
        snprintf(a, sizeof a, "INSERT INTO %s.ws%d VALUES (%ld, 'w%ld')", mydb,
                 t, 100000 + n, n);
        snprintf(b, sizeof b, "UPDATE %s.%s SET v = 'u%ld' WHERE id = %ld",
                 mydb, w->big, n, (n * 7919) % 300000 + 1);
        snprintf(c, sizeof c, "DELETE FROM %s.ws%d WHERE id = %ld", mydb, t,
                 (n * 13) % 2000 + 1);
        snprintf(d, sizeof d, "INSERT INTO %s.%s VALUES (%ld, 'n%ld')", mydb,
                 w->big, 1000000 + n, n);
        stmts[0] = a;
        stmts[1] = b;
        stmts[2] = c;
        stmts[3] = d;
        bool ok = mysql_query(m, "START TRANSACTION") == 0;
        /* one to four statements per transaction */
        for (int k = 0; ok && k <= (int)(n % 4); k++)
            ok = mysql_query(m, stmts[(k + n) % 4]) == 0;
        snprintf(q, sizeof q, "INSERT INTO %s.%s VALUES (%ld, 'x')", mydb,
                 w->log, n % 50);
        if (ok && n % 2) ok = mysql_query(m, q) == 0;
        snprintf(q, sizeof q, "%s", ok ? "COMMIT" : "ROLLBACK");
        if (mysql_query(m, q) != 0 || !ok) {
            print_error("writer: %s\n", mysql_error(m));
            break;
        }
        w->txs++;
    }
    mysql_close(m);
    return NULL;
}

/* Run once and return stderr (the log); asserts exit status want. */
static char *run_log(const char *crash_at, int want)
{
    tu_run r = tu_run_once(config_path, crash_at);
    if (r.status != want || getenv("TB_TEST_VERBOSE"))
        print_error("tributary exit %d:\n%s\n", r.status, r.err);
    assert_int_equal(r.status, want);
    char *log = r.err;
    r.err = NULL;
    tu_run_free(&r);
    return log;
}

/* A key-less table compared as counts of equal rows. */
static void assert_log_equal(const char *table)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT n, v, COUNT(*) FROM %s.%s GROUP BY n, v ORDER BY n, v",
             mydb, table);
    char *a = tu_my_rows(q);
    snprintf(q, sizeof q,
             "SELECT n, v, count(*) FROM m.%s GROUP BY n, v ORDER BY n, v",
             table);
    char *b = tu_pg_rows(pgdb, q);
    if (strcmp(a, b) != 0)
        print_error("%s differs\nMariaDB: %.400s\nPostgreSQL: %.400s\n", table,
                    a, b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void make_log_table(const char *table)
{
    tu_my("CREATE TABLE %s.%s (n INT, v VARCHAR(20))", mydb, table);
    tu_my("INSERT INTO %s.%s SELECT seq %% 50, 'x' FROM %s.seq_1_to_3000", mydb,
          table, mydb);
}

/* Small tables <small>1..3 and a large one. */
static void make_ws_tables(const char *small, const char *big, int big_rows)
{
    for (int t = 1; t <= 3; t++) {
        tu_my("CREATE TABLE %s.%s%d (id INT PRIMARY KEY, v VARCHAR(40))", mydb,
              small, t);
        tu_my("INSERT INTO %s.%s%d SELECT seq, CONCAT('s', seq) FROM "
              "%s.seq_1_to_2000",
              mydb, small, t, mydb);
    }
    tu_my("CREATE TABLE %s.%s (id INT PRIMARY KEY, v VARCHAR(64))", mydb, big);
    tu_my("INSERT INTO %s.%s SELECT seq, MD5(seq) FROM %s.seq_1_to_%d", mydb,
          big, mydb, big_rows);
    /* fresh statistics: the plan sizes ranges from them */
    tu_my("ANALYZE TABLE %s.%s", mydb, big);
}

static void assert_ws_equal(const char *small, const char *big)
{
    char t[32];
    for (int i = 1; i <= 3; i++) {
        snprintf(t, sizeof t, "%s%d", small, i);
        assert_simple_equal(t);
    }
    assert_simple_equal(big);
}

/* Three small tables and a 300,000-row one, copied by four workers (the
 * large one in key ranges) while a writer keeps changing all four; then
 * streaming. The target equals the source value by value: nothing the
 * writer did is lost or applied twice. */
static void test_parallel_snapshot_concurrent_writes(void **state)
{
    (void)state;
    make_ws_tables("ws", "wbig", 300000);
    make_log_table("wlog");
    write_config_ex("par",
                    "\"my_src_*.ws1\", \"my_src_*.ws2\", \"my_src_*.ws3\", "
                    "\"my_src_*.wbig\", \"my_src_*.wlog\"",
                    ", \"snapshot_workers\": 4, \"snapshot_chunk_mb\": 1");
    writer w = {.big = "wbig", .log = "wlog"};
    assert_int_equal(pthread_create(&w.thread, NULL, writer_main, &w), 0);
    while (w.txs < 20) /* the writer is up before the copy starts */
        usleep(10 * 1000);
    long before = w.txs;
    char *log = run_log(NULL, 0);
    long during = w.txs - before;
    w.stop = 1;
    pthread_join(w.thread, NULL);
    fprintf(stderr, "writer: %ld transactions during the first run\n", during);
    assert_true(during > 0);
    /* Four workers. Their snapshots agree on one position unless the
     * writer's commits kept slipping between their starts (then every
     * table is one part, parallel across tables only): wbig in key ranges
     * copied by more than one worker, else parts by several workers. */
    bool same = strstr(log, "snapshot: 4 workers, equal positions") != NULL;
    if (!same) assert_non_null(strstr(log, "snapshot: 4 workers, different"));
    if (same)
        assert_non_null(strstr(log, "wbig split into 8 key ranges of id"));
    int used[4] = {0}, nused = 0;
    const char *key = same ? "wbig#" : "#1/1";
    for (const char *p = strstr(log, key); p; p = strstr(p + 1, key)) {
        int wk;
        const char *c = strstr(p, " copied by worker ");
        if (c && c - p < 20 && sscanf(c, " copied by worker %d", &wk) == 1 &&
            wk >= 0 && wk < 4 && !used[wk]++)
            nused++;
    }
    if (nused < 2) print_error("%s\n", log);
    assert_true(nused > 1);
    const char *att = strstr(log, "worker snapshots at");
    if (att) fprintf(stderr, "%.*s\n", (int)strcspn(att, "\n"), att);
    free(log);
    run_ok(); /* whatever the writer did after the first run's end */
    assert_ws_equal("ws", "wbig");
    assert_log_equal("wlog");
    /* and streaming on */
    tu_my("UPDATE %s.wbig SET v = 'last' WHERE id %% 1000 = 0", mydb);
    tu_my("DELETE FROM %s.ws2 WHERE id %% 2 = 0", mydb);
    tu_my("INSERT INTO %s.wlog VALUES (1, 'x'), (1, 'y')", mydb);
    run_ok();
    assert_ws_equal("ws", "wbig");
    assert_log_equal("wlog");
}

/* SIGKILL after some parts committed, writes while the agent is down,
 * restart: finished tables are not copied again (their marks stay, the
 * log says so), the rest is copied from new snapshots, and the stream
 * skips what those copies hold. */
static void test_snapshot_crash_resume(void **state)
{
    (void)state;
    make_ws_tables("cs", "zbig", 150000);
    make_log_table("zlog");
    write_config_ex("crs",
                    "\"my_src_*.cs1\", \"my_src_*.cs2\", \"my_src_*.cs3\", "
                    "\"my_src_*.zbig\", \"my_src_*.zlog\"",
                    ", \"snapshot_workers\": 2, \"snapshot_chunk_mb\": 1");
    /* cs1..cs3 come first (by name); the 4th part is a range of zbig. */
    char *log = run_log("after_commit:4", 128 + SIGKILL);
    free(log);
    char q[512];
    snprintf(q, sizeof q,
             "SELECT count(*) FILTER (WHERE key LIKE '%%.cs_#1/1'), "
             "count(*) FILTER (WHERE key LIKE '%%.zbig#%%') FROM "
             "m._tributary_marks WHERE pipeline = 'crs_%d'",
             (int)getpid());
    char *marks = tu_pg_rows(pgdb, q);
    fprintf(stderr, "marks after the crash (ws, zbig): %s", marks);
    int ws = -1, zb = -1;
    assert_int_equal(sscanf(marks, "%d|%d", &ws, &zb), 2);
    free(marks);
    /* the 4th commit kills the agent; the other worker may just have
     * committed one more */
    if (ws + zb < 4 || ws + zb > 5 || ws < 2)
        print_error("unexpected marks after the crash: %d small, %d zbig\n", ws,
                    zb);
    assert_true(ws + zb >= 4 && ws + zb <= 5);
    assert_true(ws >= 2);
    /* changes while down, in copied and not yet copied tables */
    tu_my("INSERT INTO %s.cs1 VALUES (5001, 'down')", mydb);
    tu_my("DELETE FROM %s.cs1 WHERE id <= 10", mydb);
    tu_my("UPDATE %s.cs2 SET v = 'down' WHERE id %% 10 = 0", mydb);
    tu_my("UPDATE %s.zbig SET v = 'down' WHERE id %% 1000 = 1", mydb);
    tu_my("DELETE FROM %s.zbig WHERE id %% 1000 = 2", mydb);
    tu_my("INSERT INTO %s.zbig VALUES (900001, 'down')", mydb);
    /* zlog (last by name) is copied after the restart: these rows are in
     * its copy and must not come again from the stream */
    tu_my("INSERT INTO %s.zlog VALUES (7, 'x'), (7, 'down')", mydb);
    MYSQL *m = tu_my_connect();
    char q2[256];
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q2, sizeof q2, "INSERT INTO %s.cs3 VALUES (6001, 'tx')", mydb);
    assert_int_equal(mysql_query(m, q2), 0);
    snprintf(q2, sizeof q2, "INSERT INTO %s.zlog VALUES (8, 'tx')", mydb);
    assert_int_equal(mysql_query(m, q2), 0);
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    mysql_close(m);
    log = run_log(NULL, 0);
    char want[64];
    snprintf(want, sizeof want, "resuming: %d tables already copied", ws);
    if (!strstr(log, want)) print_error("%s\n", log);
    assert_non_null(strstr(log, want));
    /* a finished table is not copied again */
    int copied_ws = 0;
    for (const char *p = strstr(log, ".cs"); p; p = strstr(p + 1, ".cs"))
        copied_ws += strncmp(p + 4, "#1/1 copied", 11) == 0;
    assert_int_equal(copied_ws, 3 - ws);
    assert_non_null(strstr(log, "zbig split into"));
    free(log);
    assert_ws_equal("cs", "zbig");
    assert_log_equal("zlog");
    /* streaming on, with the skip list learned from the marks */
    tu_my("INSERT INTO %s.zbig VALUES (900002, 'after')", mydb);
    tu_my("DELETE FROM %s.cs3 WHERE id = 7", mydb);
    tu_my("INSERT INTO %s.zlog VALUES (7, 'x')", mydb);
    run_ok();
    assert_ws_equal("cs", "zbig");
    assert_log_equal("zlog");
}

/* ---- reconnect --------------------------------------------------------- */

static const char *agent_log; /* log of the agent running in background */

/* Id of the newest binlog dump thread other than `other`, 0 when none. */
static long dump_thread(long other)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT COALESCE(MAX(ID), 0) FROM information_schema.PROCESSLIST "
             "WHERE COMMAND LIKE 'Binlog Dump%%' AND ID <> %ld",
             other);
    char *v = tu_my_rows(q);
    long id = atol(v);
    free(v);
    return id;
}

static long wait_dump_thread(long other)
{
    for (int i = 0; i < 400; i++) {
        long id = dump_thread(other);
        if (id) return id;
        usleep(25 * 1000);
    }
    char *all = tu_my_rows("SELECT ID, COMMAND, STATE FROM "
                           "information_schema.PROCESSLIST");
    char *cmd = NULL;
    if (agent_log && asprintf(&cmd, "cat %s >&2", agent_log) > 0 &&
        system(cmd) < 0)
        fprintf(stderr, "cannot show %s\n", agent_log);
    free(cmd);
    fail_msg("no binlog dump thread (other than %ld) appeared:\n%s", other,
             all);
    return 0;
}

static bool wait_target_count(const char *table, const char *want)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM m.%s", table);
    for (int i = 0; i < 600; i++) {
        char *n = tu_pg_rows(pgdb, q);
        bool ok =
            strncmp(n, want, strlen(want)) == 0 && n[strlen(want)] == '\n';
        free(n);
        if (ok) return true;
        usleep(50 * 1000);
    }
    return false;
}

/* The replication connection is killed (KILL from another session) while
 * the agent reads a large transaction, and again while it is idle: it
 * reconnects each time and the target ends equal to the source, with the
 * large transaction neither cut nor doubled (a key-less table counts). */
static void test_reconnect_after_kill(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.rc (id INT PRIMARY KEY, v VARCHAR(40))", mydb);
    tu_my("CREATE TABLE %s.rclog (n INT)", mydb);
    write_config("recon", "\"my_src_*.rc\", \"my_src_*.rclog\"");
    run_ok();
    char *log = NULL;
    assert_true(asprintf(&log, "%s/recon.log", dir) > 0);
    int pid = tu_spawn(
        (char *const[]){(char *)tu_bin(), "run", "-c", config_path, NULL}, log);
    agent_log = log;
    long id = wait_dump_thread(0);
    /* round 1: one 200,000-row transaction, killed while it streams */
    MYSQL *m = tu_my_connect();
    char q[256];
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q, sizeof q,
             "INSERT INTO %s.rc SELECT seq, MD5(seq) FROM %s.seq_1_to_100000",
             mydb, mydb);
    assert_int_equal(mysql_query(m, q), 0);
    snprintf(q, sizeof q,
             "INSERT INTO %s.rclog SELECT seq %% 10 FROM %s.seq_1_to_100000",
             mydb, mydb);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    usleep(150 * 1000);
    snprintf(q, sizeof q, "KILL %ld", id);
    assert_int_equal(mysql_query(m, q), 0);
    bool ok = wait_target_count("rc", "100000");
    /* round 2: killed while idle; changes made meanwhile arrive too */
    long id2 = wait_dump_thread(id);
    snprintf(q, sizeof q, "KILL %ld", id2);
    assert_int_equal(mysql_query(m, q), 0);
    mysql_close(m);
    tu_my("INSERT INTO %s.rc SELECT seq + 200000, 'after' FROM %s.seq_1_to_100",
          mydb, mydb);
    tu_my("INSERT INTO %s.rclog VALUES (77), (77)", mydb);
    ok = ok && wait_target_count("rc", "100100");
    ok = ok && wait_target_count("rclog", "100002");
    kill(pid, SIGTERM);
    int status = tu_wait(pid);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "grep -c 'binlog dump reconnected' %s", log) >
                0);
    FILE *f = popen(cmd, "r");
    int reconnects = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &reconnects), 1);
    pclose(f);
    free(cmd);
    if (!ok || status != 0 || reconnects < 2) {
        if (asprintf(&cmd, "cat %s >&2", log) > 0 && system(cmd) < 0)
            fprintf(stderr, "cannot show %s\n", log);
        free(cmd);
    }
    assert_true(ok);
    assert_int_equal(status, 0);
    assert_true(reconnects >= 2);
    free(log);
    assert_simple_equal("rc");
    snprintf(q, sizeof q,
             "SELECT n, COUNT(*) FROM %s.rclog GROUP BY n ORDER BY n", mydb);
    char *a = tu_my_rows(q);
    char *b = tu_pg_rows(
        pgdb, "SELECT n, count(*) FROM m.rclog GROUP BY n ORDER BY n");
    assert_string_equal(a, b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_snapshot_and_stream),
        cmocka_unit_test(test_changes_rollback_multitable),
        cmocka_unit_test(test_add_drop_column),
        cmocka_unit_test(test_big_tx_crash_and_memory),
        cmocka_unit_test(test_json_as_jsonb),
        cmocka_unit_test(test_parallel_snapshot_concurrent_writes),
        cmocka_unit_test(test_snapshot_crash_resume),
        cmocka_unit_test(test_reconnect_after_kill),
    };
    return cmocka_run_group_tests_name("my_e2e", tests, setup, teardown);
}
