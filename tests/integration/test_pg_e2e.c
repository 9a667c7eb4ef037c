/*
 * test_pg_e2e.c - PostgreSQL -> PostgreSQL through the tributary binary,
 * against a real server (scripts/servers.sh provides TB_PG_HOST/PORT).
 *
 * Every scenario ends with each target table equal to its source table:
 * md5 over all rows in a canonical text form, so a change lost or applied
 * twice (a duplicate row in a table without primary key) shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/testutil.h"

static char *dir;      /* temp dir: configs, registry, spill */
static char srcdb[64]; /* source database of this run */
static char dwdb[64];  /* target database */
static const char *host, *port;

static PGconn *connect_db(const char *db)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s port=%s user=postgres dbname=%s", host,
             port, db);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("connect %s: %s\n", db, PQerrorMessage(c));
        fail();
    }
    return c;
}

static void sql(const char *db, const char *fmt, ...)
{
    char q[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGconn *c = connect_db(db);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        print_error("SQL failed on %s: %s\n%s\n", db, PQerrorMessage(c), q);
        PQclear(r);
        PQfinish(c);
        fail();
    }
    PQclear(r);
    PQfinish(c);
}

/* First column of the first row, malloc'd ("" when no row, NULL -> "NULL"). */
static char *value(const char *db, const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGconn *c = connect_db(db);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("query failed on %s: %s\n%s\n", db, PQerrorMessage(c), q);
        fail();
    }
    char *v = strdup(PQntuples(r) == 0      ? ""
                     : PQgetisnull(r, 0, 0) ? "NULL"
                                            : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Canonical digest of a table: md5 of the sorted text forms of its rows. */
static char *digest(const char *db, const char *table)
{
    return value(db,
                 "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, "
                 "E'\\n' ORDER BY x::text)), '-') FROM %s x",
                 table);
}

static void assert_same(const char *src_table, const char *dst_table)
{
    char *a = digest(srcdb, src_table);
    char *b = digest(dwdb, dst_table);
    if (strcmp(a, b) != 0)
        print_error("%s: source %s, target %s\n", src_table, a, b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static char *config_path;

/* Each scenario is its own pipeline (own slot, state row and registry), so
 * every scenario starts with a snapshot of its tables. */
static const char *log_level = "info"; /* of the configs written next */

static void write_config_ex(const char *name, const char *tables,
                            const char *source_extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"%s_%d\",\n"
             " \"source\": {\"type\": \"postgres\", \"dsn\": \"host=%s "
             "port=%s user=postgres dbname=%s\", \"tables\": [%s]%s},\n"
             " \"target\": {\"type\": \"postgres\", \"dsn\": \"host=%s "
             "port=%s user=postgres dbname=%s\", \"schema\": \"mirror\"},\n"
             " \"registry\": {\"path\": \"registry-%s\"},\n"
             " \"log\": {\"level\": \"%s\"},\n"
             " \"batch\": {\"max_rows\": 5000}\n}\n",
             name, (int)getpid(), host, port, srcdb, tables, source_extra, host,
             port, dwdb, name, log_level);
    free(config_path);
    config_path = tu_write_file(dir, "e2e.json", text);
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

/* A run that must succeed and log needle (if not NULL). */
static void run_logs(const char *needle)
{
    tu_run r = tu_run_once(config_path, NULL);
    bool found = !needle || strstr(r.err, needle);
    if (r.status != 0 || !found || getenv("TB_TEST_VERBOSE"))
        print_error("tributary exit %d:\n%s\n", r.status, r.err);
    assert_int_equal(r.status, 0);
    assert_true(found);
    tu_run_free(&r);
}

/* A run that the crash point (TB_CRASH_AT form) kills. */
static void run_killed(const char *point)
{
    tu_run r = tu_run_once(config_path, point);
    if (r.status != 128 + SIGKILL) print_error("%s\n", r.err);
    assert_int_equal(r.status, 128 + SIGKILL);
    tu_run_free(&r);
}

static int setup(void **state)
{
    (void)state;
    host = getenv("TB_PG_HOST");
    port = getenv("TB_PG_PORT");
    if (!host || !port) {
        fprintf(stderr, "TB_PG_HOST / TB_PG_PORT are not set: run the "
                        "tests through scripts/servers.sh run\n");
        return -1;
    }
    dir = tu_tempdir();
    snprintf(srcdb, sizeof srcdb, "e2e_src_%d", (int)getpid());
    snprintf(dwdb, sizeof dwdb, "e2e_dw_%d", (int)getpid());
    sql("postgres", "CREATE DATABASE %s", srcdb);
    sql("postgres", "CREATE DATABASE %s", dwdb);
    sql(srcdb, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* The slot pins the source database: drop it first. */
    sql("postgres",
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
        "WHERE database = '%s' AND active_pid IS NOT NULL",
        srcdb);
    usleep(200 * 1000);
    sql("postgres",
        "SELECT pg_drop_replication_slot(slot_name) FROM "
        "pg_replication_slots WHERE database = '%s' AND NOT active",
        srcdb);
    sql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)", srcdb);
    sql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)", dwdb);
    tu_rmtree(dir);
    free(dir);
    free(config_path);
    return 0;
}

/* Snapshot then streaming of every common type. */
static void test_types_snapshot_and_stream(void **state)
{
    (void)state;
    sql(srcdb,
        "CREATE TABLE public.types (id bigint PRIMARY KEY, i2 smallint, "
        "i4 int, i8 bigint, num numeric(20,5), num_free numeric, r4 real, "
        "r8 double precision, t text, vc varchar(20), ch char(3), "
        "b bytea, flag bool, d date, tm time, ts timestamp(6), "
        "tstz timestamptz, iv interval, u uuid, js json, jb jsonb, "
        "arr int[], tarr text[], m mood)");
    const char *rows =
        "INSERT INTO public.types VALUES "
        "(1, -32768, -2147483648, -9223372036854775808, 123456789012345.12345,"
        " 'NaN', 'Infinity', '-Infinity', 'emoji 😀 ünïcødé', 'x', 'ab',"
        " '\\x00ff00'::bytea, true, '4713-01-01 BC', '24:00:00',"
        " '2024-02-29 23:59:59.999999', 'infinity', '1 year 2 mons 3 days "
        "04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, "
        "2]}', '{\"b\": {\"c\": null}}', '{1,NULL,3}', '{\"x y\",\"\\\\\"}', "
        "'happy'),"
        "(2, 32767, 2147483647, 9223372036854775807, -0.00001, 12345678901234"
        "567890.123456789, 1.5e-45, 1e308, '', 'tab\tnewline\n', NULL,"
        " '', false, '5874897-12-31', '00:00:00', '-infinity',"
        " '1999-12-31 23:59:59.5+05:30', '-1 days', NULL, 'null', '[]', '{}', "
        "'{}', 'sad'),"
        "(3, NULL, NULL, NULL, NULL, NULL, 'NaN', '-0', NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL)";
    sql(srcdb, "%s", rows);
    write_config("types", "\"public.types\"");
    run_ok();
    assert_same("public.types", "mirror.types");
    /* Column types are exactly the source's. */
    char *a = value(
        srcdb, "SELECT string_agg(attname || ' ' || "
               "format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
               "FROM pg_attribute WHERE attrelid = 'public.types'::regclass "
               "AND attnum > 0 AND NOT attisdropped");
    char *b = value(
        dwdb, "SELECT string_agg(attname || ' ' || "
              "format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
              "FROM pg_attribute WHERE attrelid = 'mirror.types'::regclass "
              "AND attnum > 0 AND NOT attisdropped");
    /* Enum columns land as text: the target has no such type. */
    char *want = strdup(a);
    char *p = strstr(want, "m mood");
    assert_non_null(p);
    strcpy(p, "m text");
    assert_string_equal(want, b);
    free(want);
    free(a);
    free(b);
    /* Streaming: the same rows again under other keys, then changes. */
    sql(srcdb, "INSERT INTO public.types SELECT id + 10, i2, i4, i8, num, "
               "num_free, r4, r8, t, vc, ch, b, flag, d, tm, ts, tstz, iv, u, "
               "js, jb, arr, tarr, m FROM public.types");
    sql(srcdb, "UPDATE public.types SET t = t || '!', num = num * 2 WHERE id "
               "IN (1, 11)");
    sql(srcdb, "DELETE FROM public.types WHERE id = 12");
    run_ok();
    assert_same("public.types", "mirror.types");
}

/* An UPDATE that leaves a TOASTed column alone keeps its target value. */
static void test_toast_unchanged(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.docs (id int PRIMARY KEY, n int, "
               "body text)");
    sql(srcdb, "ALTER TABLE public.docs ALTER COLUMN body SET STORAGE "
               "EXTERNAL");
    write_config("docs", "\"public.docs\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.docs SELECT g, 0, (SELECT "
               "string_agg(md5(g::text || i::text), '') FROM "
               "generate_series(1, 6400) i) FROM generate_series(1, 3) g");
    run_ok();
    sql(srcdb, "UPDATE public.docs SET n = n + 1");
    run_ok();
    assert_same("public.docs", "mirror.docs");
    char *len = value(dwdb, "SELECT min(length(body)) FROM mirror.docs");
    assert_string_equal(len, "204800");
    free(len);
}

/* Primary-key change, delete, truncate, rollback. */
static void test_pk_update_delete_truncate_rollback(void **state)
{
    (void)state;
    /* NOT NULL columns: a key-only old tuple must not read as NULLs. */
    sql(srcdb, "CREATE TABLE public.acct (id int PRIMARY KEY, v text NOT "
               "NULL, n numeric(8,2) NOT NULL DEFAULT 1)");
    sql(srcdb, "CREATE TABLE public.log (id int PRIMARY KEY, v text)");
    write_config("acct", "\"public.acct\", \"public.log\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.acct SELECT g, 'v' || g FROM "
               "generate_series(1, 100) g");
    sql(srcdb, "INSERT INTO public.log SELECT g, 'l' || g FROM "
               "generate_series(1, 50) g");
    sql(srcdb, "UPDATE public.acct SET id = id + 1000 WHERE id <= 10");
    sql(srcdb, "DELETE FROM public.acct WHERE id BETWEEN 50 AND 59");
    sql(srcdb, "BEGIN; INSERT INTO public.acct VALUES (5000, 'ghost'); "
               "UPDATE public.acct SET v = 'ghost' WHERE id = 20; ROLLBACK");
    sql(srcdb, "TRUNCATE public.log");
    sql(srcdb, "INSERT INTO public.log VALUES (1, 'after truncate')");
    run_ok();
    assert_same("public.acct", "mirror.acct");
    assert_same("public.log", "mirror.log");
    char *ghost = value(dwdb, "SELECT count(*) FROM mirror.acct WHERE v = "
                              "'ghost' OR id = 5000");
    assert_string_equal(ghost, "0");
    free(ghost);
}

/* No primary key, REPLICA IDENTITY FULL, duplicate rows. */
static void test_no_pk_duplicates(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.dup (a int, b text, j json, p point)");
    sql(srcdb, "ALTER TABLE public.dup REPLICA IDENTITY FULL");
    write_config("dup", "\"public.dup\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.dup VALUES (1, 'x', '{\"k\":1}', "
               "'(1,2)'), (1, 'x', '{\"k\":1}', '(1,2)'), (1, 'x', "
               "'{\"k\":1}', '(1,2)'), (2, NULL, NULL, NULL), (2, NULL, NULL, "
               "NULL)");
    run_ok();
    assert_same("public.dup", "mirror.dup");
    sql(srcdb, "DELETE FROM public.dup WHERE ctid = (SELECT ctid FROM "
               "public.dup WHERE a = 1 LIMIT 1)");
    sql(srcdb, "UPDATE public.dup SET b = 'y' WHERE ctid = (SELECT ctid FROM "
               "public.dup WHERE a = 2 LIMIT 1)");
    run_ok();
    assert_same("public.dup", "mirror.dup");
    char *n = value(dwdb, "SELECT count(*) FROM mirror.dup WHERE a = 1");
    assert_string_equal(n, "2");
    free(n);
}

/* A partitioned table replicates through its root only. */
static void test_partitioned(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.events (id int, region text, PRIMARY KEY "
               "(id, region)) PARTITION BY LIST (region)");
    sql(srcdb, "CREATE TABLE public.events_eu PARTITION OF public.events FOR "
               "VALUES IN ('eu')");
    sql(srcdb, "CREATE TABLE public.events_us PARTITION OF public.events FOR "
               "VALUES IN ('us')");
    sql(srcdb, "INSERT INTO public.events SELECT g, CASE WHEN g %% 2 = 0 THEN "
               "'eu' ELSE 'us' END FROM generate_series(1, 20) g");
    write_config("events", "\"public.events*\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.events SELECT g, 'eu' FROM "
               "generate_series(100, 110) g");
    sql(srcdb, "UPDATE public.events SET region = 'us' WHERE id = 2");
    run_ok();
    assert_same("public.events", "mirror.events");
    char *leaf = value(dwdb, "SELECT count(*) FROM pg_tables WHERE "
                             "schemaname = 'mirror' AND tablename LIKE "
                             "'events\\_%%'");
    assert_string_equal(leaf, "0");
    free(leaf);
}

/* ADD COLUMN mid-stream; a dropped column stays in the target. */
static void test_add_drop_column(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.evolve (id int PRIMARY KEY, a text)");
    write_config("evolve", "\"public.evolve\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.evolve VALUES (1, 'one')");
    sql(srcdb, "ALTER TABLE public.evolve ADD COLUMN c numeric(8,2)");
    sql(srcdb, "INSERT INTO public.evolve VALUES (2, 'two', 2.5)");
    run_ok();
    assert_same("public.evolve", "mirror.evolve");
    sql(srcdb, "ALTER TABLE public.evolve DROP COLUMN a");
    sql(srcdb, "INSERT INTO public.evolve VALUES (3, 3.5)");
    run_ok();
    char *v = value(dwdb, "SELECT coalesce(a, 'NULL') || ',' || c FROM "
                          "mirror.evolve WHERE id = 3");
    assert_string_equal(v, "NULL,3.50");
    free(v);
    v = value(dwdb, "SELECT a FROM mirror.evolve WHERE id = 1");
    assert_string_equal(v, "one");
    free(v);
}

/* A 200,000-row transaction, then a crash at several points and a restart:
 * nothing lost, nothing applied twice (the table has no primary key, so a
 * double apply would show as duplicates). */
static void test_big_tx_and_crashes(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.big (id int PRIMARY KEY, v text)");
    sql(srcdb, "CREATE TABLE public.ledger (n int, note text)");
    sql(srcdb, "ALTER TABLE public.ledger REPLICA IDENTITY FULL");
    write_config("big", "\"public.big\", \"public.ledger\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.big SELECT g, md5(g::text) FROM "
               "generate_series(1, 200000) g");
    run_ok();
    assert_same("public.big", "mirror.big");

    static const char *const points[] = {"mid_batch:3000", "before_commit:2",
                                         "after_commit:2", "after_commit:1"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        for (int t = 0; t < 20; t++)
            sql(srcdb,
                "INSERT INTO public.ledger SELECT g, 'p%zu t%d' FROM "
                "generate_series(1, 500) g",
                i, t);
        sql(srcdb, "UPDATE public.big SET v = 'round %zu' WHERE id %% 97 = 0",
            i);
        tu_run r = tu_run_once(config_path, points[i]);
        assert_int_equal(r.status, 128 + SIGKILL);
        tu_run_free(&r);
        run_ok();
        assert_same("public.ledger", "mirror.ledger");
        assert_same("public.big", "mirror.big");
    }
}

/* Peak memory of the agent through a 1,000,000-row transaction. */
static void test_memory_big_transaction(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.mem (id int PRIMARY KEY, v text, n "
               "numeric(12,2))");
    write_config("mem", "\"public.mem\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.mem SELECT g, md5(g::text), g / 3.0 FROM "
               "generate_series(1, 1000000) g");
    struct rusage before;
    getrusage(RUSAGE_CHILDREN, &before);
    run_ok();
    struct rusage after;
    getrusage(RUSAGE_CHILDREN, &after);
    /* ru_maxrss of children is the largest child so far, in KiB. */
    long kib = after.ru_maxrss;
    fprintf(stderr, "peak RSS through a 1,000,000-row transaction: %ld KiB\n",
            kib);
    /* Under ASan (quarantine, shadow memory) RSS says nothing about us. */
    if (!getenv("TB_SANITIZED")) assert_true(kib < 64 * 1024);
    assert_same("public.mem", "mirror.mem");
}

/* SIGTERM stops a streaming agent gracefully: exit 0, position stored. */
static void test_sigterm_graceful(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.live (id int PRIMARY KEY, v text)");
    write_config("live", "\"public.live\"");
    run_ok();
    char *log = NULL;
    assert_true(asprintf(&log, "%s/live.log", dir) > 0);
    int pid = tu_spawn(
        (char *const[]){(char *)tu_bin(), "run", "-c", config_path, NULL}, log);
    sql(srcdb, "INSERT INTO public.live SELECT g, 'x' FROM "
               "generate_series(1, 1000) g");
    char *n = NULL;
    for (int i = 0; i < 200; i++) {
        free(n);
        n = value(dwdb, "SELECT count(*) FROM mirror.live");
        if (strcmp(n, "1000") == 0) break;
        usleep(50 * 1000);
    }
    /* Stop it before asserting, so a failure leaves no agent behind. */
    kill(pid, SIGTERM);
    int status = tu_wait(pid);
    if (strcmp(n, "1000") != 0 || status != 0) {
        char *cmd = NULL;
        if (asprintf(&cmd, "cat %s >&2", log) > 0 && system(cmd) < 0)
            fprintf(stderr, "cannot show %s\n", log);
        free(cmd);
    }
    assert_string_equal(n, "1000");
    free(n);
    assert_int_equal(status, 0);
    char *pos = value(dwdb,
                      "SELECT position FROM mirror._tributary_state "
                      "WHERE pipeline = 'live_%d'",
                      (int)getpid());
    char *cur =
        value(srcdb, "SELECT pg_current_wal_lsn() >= '%s'::pg_lsn", pos);
    assert_string_equal(cur, "t");
    free(cur);
    free(pos);
    free(log);
    /* Nothing is left to apply after the restart. */
    run_ok();
    assert_same("public.live", "mirror.live");
}

/* A crash in the middle of the initial snapshot: the next run starts the
 * snapshot over and ends equal, with nothing doubled. */
static void test_crash_mid_snapshot(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.snap (n int, v text)");
    sql(srcdb, "ALTER TABLE public.snap REPLICA IDENTITY FULL");
    sql(srcdb, "INSERT INTO public.snap SELECT g %% 1000, md5(g::text) FROM "
               "generate_series(1, 50000) g");
    write_config("snap", "\"public.snap\"");
    run_killed("mid_batch:20000");
    run_killed("before_commit:1");
    sql(srcdb, "INSERT INTO public.snap VALUES (-1, 'after the crashes')");
    run_ok();
    assert_same("public.snap", "mirror.snap");
}

/*
 * The parallel copy: small tables whole, a large one in ctid ranges, three
 * workers. SIGKILL after a few parts committed, writes while the agent is
 * down, restart: tables whose parts all committed are not copied again,
 * the rest are copied from a new snapshot, and the stream skips what that
 * copy already holds. The large table has no key and duplicate rows, so
 * a change applied twice (or lost) changes its digest.
 */
static void test_snapshot_parallel_resume(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.ps1 (id int PRIMARY KEY, v text)");
    sql(srcdb, "CREATE TABLE public.ps2 (n int, v text)");
    sql(srcdb, "ALTER TABLE public.ps2 REPLICA IDENTITY FULL");
    sql(srcdb, "CREATE TABLE public.ps3 (id int PRIMARY KEY, d date)");
    sql(srcdb, "CREATE TABLE public.pzbig (n int, v text, x numeric(12,2))");
    sql(srcdb, "ALTER TABLE public.pzbig REPLICA IDENTITY FULL");
    sql(srcdb, "INSERT INTO public.ps1 SELECT g, md5(g::text) FROM "
               "generate_series(1, 2000) g");
    sql(srcdb, "INSERT INTO public.ps2 SELECT g %% 100, 'dup' FROM "
               "generate_series(1, 3000) g");
    sql(srcdb, "INSERT INTO public.ps3 SELECT g, date '2024-01-01' + g FROM "
               "generate_series(1, 1000) g");
    sql(srcdb, "INSERT INTO public.pzbig SELECT g %% 5000, md5((g %% 5000)::"
               "text), (g %% 977) / 7.0 FROM generate_series(1, 200000) g");
    /* Keyed and large: loads without its key index, which is rebuilt with
     * the table's last part (the crash below leaves it without). */
    sql(srcdb, "CREATE TABLE public.pzkey (id bigint PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.pzkey SELECT g, md5(g::text) FROM "
               "generate_series(1, 100000) g");
    write_config_ex("psnap",
                    "\"public.ps1\", \"public.ps2\", \"public.ps3\", "
                    "\"public.pzbig\", \"public.pzkey\"",
                    ", \"snapshot_workers\": 3, \"snapshot_chunk_mb\": 1");
    /* Three small tables (one part each, first by name) go first; the large
     * one has a dozen or more ranges. */
    tu_run r = tu_run_once(config_path, "after_commit:6");
    assert_int_equal(r.status, 128 + SIGKILL);
    int tables = 0, parts = 0, workers = 0;
    const char *p = strstr(r.err, "snapshot: ");
    while (p && sscanf(p, "snapshot: %d tables, %d parts, %d workers", &tables,
                       &parts, &workers) != 3)
        p = strstr(p + 1, "snapshot: ");
    assert_int_equal(tables, 5);
    assert_true(parts >= 3 + 6); /* pzbig split into ranges */
    assert_int_equal(workers, 3);
    tu_run_free(&r);
    /* Changes while the agent is down, in copied and uncopied tables. */
    sql(srcdb, "INSERT INTO public.ps1 VALUES (5001, 'down')");
    sql(srcdb, "DELETE FROM public.ps1 WHERE id <= 10");
    sql(srcdb, "INSERT INTO public.ps2 VALUES (7, 'dup'), (7, 'dup')");
    sql(srcdb, "UPDATE public.ps3 SET d = d + 1 WHERE id %% 10 = 0");
    sql(srcdb, "INSERT INTO public.pzbig VALUES (1, md5('1'), 0.14), "
               "(1, md5('1'), 0.14)");
    sql(srcdb, "DELETE FROM public.pzbig WHERE n = 2");
    sql(srcdb, "UPDATE public.pzkey SET v = 'down' WHERE id %% 1000 = 0");
    sql(srcdb, "DELETE FROM public.pzkey WHERE id %% 1000 = 1");
    sql(srcdb, "UPDATE public.pzbig SET x = -1 WHERE n = 3");
    r = tu_run_once(config_path, NULL);
    if (r.status != 0) print_error("%s\n", r.err);
    assert_int_equal(r.status, 0);
    int done = -1, total = -1;
    p = strstr(r.err, "resuming the snapshot: ");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "resuming the snapshot: %d of %d", &done, &total), 2);
    assert_int_equal(total, 5);
    if (!(done >= 1 && done < 4)) print_error("%s\n", r.err);
    assert_true(done >= 1 && done < 4);
    /* Only what was missing is copied again. */
    p = strstr(r.err, "snapshot: ");
    tables = -1;
    while (p &&
           sscanf(p, "snapshot: %d tables, %d parts", &tables, &parts) != 2)
        p = strstr(p + 1, "snapshot: ");
    assert_int_equal(tables, 5 - done);
    tu_run_free(&r);
    /* Every keyed table has its primary key back, and no trace of the
     * rebuild is left. */
    char *pk = value(dwdb, "SELECT count(*) FROM pg_constraint WHERE contype "
                           "= 'p' AND conrelid IN ('mirror.ps1'::regclass, "
                           "'mirror.ps3'::regclass, 'mirror.pzkey'::regclass)");
    assert_string_equal(pk, "3");
    free(pk);
    pk = value(dwdb, "SELECT count(obj_description(c.oid, 'pg_class')) FROM "
                     "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = 'mirror'");
    assert_string_equal(pk, "0");
    free(pk);
    assert_same("public.pzkey", "mirror.pzkey");
    assert_same("public.ps1", "mirror.ps1");
    assert_same("public.ps2", "mirror.ps2");
    assert_same("public.ps3", "mirror.ps3");
    assert_same("public.pzbig", "mirror.pzbig");
    /* Streaming on from there, with the skip list learned from the marks. */
    sql(srcdb, "INSERT INTO public.pzbig VALUES (1, md5('1'), 0.14)");
    sql(srcdb, "DELETE FROM public.ps2 WHERE n = 8");
    sql(srcdb, "UPDATE public.pzkey SET v = 'later' WHERE id %% 1000 = 2");
    run_ok();
    assert_same("public.pzkey", "mirror.pzkey");
    assert_same("public.pzbig", "mirror.pzbig");
    assert_same("public.ps2", "mirror.ps2");
}

/* Value of every part mark of the pipeline, "key=value" lines. */
static char *part_marks(const char *pipeline)
{
    return value(dwdb,
                 "SELECT coalesce(string_agg(key || '=' || value, ',' ORDER BY "
                 "key), '') FROM mirror._tributary_marks WHERE pipeline = "
                 "'%s_%d' AND key ~ '^pg:[0-9]+:[0-9]+/'",
                 pipeline, (int)getpid());
}

/* A copy cut off mid-table goes on range by range: the committed ranges
 * are not copied again (their marks keep the first snapshot's LSN), rows
 * that moved between ranges while the agent was down arrive whole (with
 * TOASTed values their update left out), and the table ends equal to the
 * source. A table rewritten meanwhile is copied again whole. */
static void test_snapshot_range_resume(void **state)
{
    (void)state;
    /* Full pages: an update must put the new row version elsewhere. */
    sql(srcdb, "CREATE TABLE public.rr (id bigint PRIMARY KEY, k int, pad "
               "text, big text) WITH (fillfactor = 100)");
    sql(srcdb, "ALTER TABLE public.rr ALTER big SET STORAGE EXTERNAL");
    sql(srcdb, "INSERT INTO public.rr SELECT g, g %% 7, repeat(md5(g::text), "
               "6), CASE WHEN g %% 400 = 0 THEN repeat(md5(g::text), 100) "
               "END FROM generate_series(1, 40000) g");
    write_config_ex("rres", "\"public.rr\"",
                    ", \"snapshot_workers\": 2, \"snapshot_chunk_mb\": 1");
    run_killed("after_commit:3");
    char *before = part_marks("rres");
    assert_true(strlen(before) > 0);

    /* While the agent is down. Room in the first pages (committed), ... */
    sql(srcdb, "DELETE FROM public.rr WHERE id <= 3000 AND id %% 3 <> 0");
    sql(srcdb, "VACUUM public.rr");
    /* ... so updates of rows near the end (not copied yet) move there,
     * TOASTed values unchanged; a key change too. */
    sql(srcdb, "UPDATE public.rr SET k = k + 100 WHERE id > 36000 AND id %% "
               "400 IN (0, 1)");
    sql(srcdb, "UPDATE public.rr SET id = id + 1000000 WHERE id > 38000 AND "
               "id %% 800 = 0");
    sql(srcdb, "INSERT INTO public.rr SELECT g, 1, 'new', NULL FROM "
               "generate_series(50001, 50300) g");
    sql(srcdb, "UPDATE public.rr SET pad = 'early' WHERE id BETWEEN 3000 AND "
               "3300");
    sql(srcdb, "DELETE FROM public.rr WHERE id BETWEEN 20000 AND 20100");
    /* Tuples keep their xmin when frozen. */
    sql(srcdb, "VACUUM FREEZE public.rr");

    /* Resume, and die before the stream's first commit: the next run
     * learns from the marks what the resumed copy holds (the stream skips
     * the table's changes before its snapshot). */
    int marked = 0, n = -1;
    for (const char *q = strstr(before, "pg:"); q; q = strstr(q + 1, "pg:")) {
        marked++;
        assert_int_equal(sscanf(strchr(q + 3, ':') + 1, "%*d/%d", &n), 1);
    }
    char at[64];
    snprintf(at, sizeof at, "before_commit:%d", n - marked + 1);
    tu_run r = tu_run_once(config_path, at);
    if (r.status != 128 + SIGKILL) print_error("%s\n", r.err);
    assert_int_equal(r.status, 128 + SIGKILL);
    int have = -1;
    const char *p = strstr(r.err, "snapshot: resuming public.rr: ");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "snapshot: resuming public.rr: %d of %d", &have, &n), 2);
    assert_int_equal(have, marked);
    tu_run_free(&r);
    run_ok();
    /* The ranges committed before the crash kept their marks: they were
     * not copied again. */
    char *after = part_marks("rres");
    for (char *save = NULL, *m = strtok_r(before, ",", &save); m;
         m = strtok_r(NULL, ",", &save)) {
        if (!strstr(after, m)) print_error("%s missing in %s\n", m, after);
        assert_non_null(strstr(after, m));
    }
    free(before);
    free(after);
    assert_same("public.rr", "mirror.rr");
    char *pk = value(dwdb, "SELECT count(*) FROM pg_constraint WHERE contype "
                           "= 'p' AND conrelid = 'mirror.rr'::regclass");
    assert_string_equal(pk, "1");
    free(pk);
    /* Streaming goes on from there, past the replayed changes. */
    sql(srcdb, "UPDATE public.rr SET k = -1 WHERE id %% 1000 = 5");
    sql(srcdb, "INSERT INTO public.rr VALUES (60000, 0, 'later', NULL)");
    run_ok();
    assert_same("public.rr", "mirror.rr");

    /* Rewritten while the agent was down: its ctids are not the first
     * snapshot's any more, so it is copied again whole. */
    sql(srcdb, "CREATE TABLE public.rw (id bigint PRIMARY KEY, pad text)");
    sql(srcdb, "INSERT INTO public.rw SELECT g, repeat(md5(g::text), 6) FROM "
               "generate_series(1, 30000) g");
    write_config_ex("rrew", "\"public.rw\"",
                    ", \"snapshot_workers\": 2, \"snapshot_chunk_mb\": 1");
    run_killed("after_commit:2");
    sql(srcdb, "DELETE FROM public.rw WHERE id %% 2 = 0");
    sql(srcdb, "VACUUM FULL public.rw");
    run_logs("public.rw copied again whole: it was rewritten");
    assert_same("public.rw", "mirror.rw");
}

/* A key deleted and taken again by a key change (TOAST value left out)
 * while the agent is down, in two transactions bigger than a batch: the
 * resumed table still ends equal to the source (found by review: a replay
 * of the stream over the resumed copy lost the TOAST value). */
static void test_range_resume_key_reuse(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.rb (id bigint PRIMARY KEY, pad text, big "
               "text) WITH (fillfactor = 100)");
    sql(srcdb, "ALTER TABLE public.rb ALTER big SET STORAGE EXTERNAL");
    sql(srcdb, "INSERT INTO public.rb SELECT g, repeat(md5(g::text), 6), CASE "
               "WHEN g IN (1, 2) THEN repeat(md5(g::text), 100) END FROM "
               "generate_series(1, 40000) g");
    write_config_ex("rbug", "\"public.rb\"",
                    ", \"snapshot_workers\": 1, \"snapshot_chunk_mb\": 1");
    run_killed("after_commit:1");
    sql(srcdb, "DELETE FROM public.rb WHERE id = 1 OR id BETWEEN 30000 AND "
               "36000");
    sql(srcdb, "UPDATE public.rb SET id = 1 WHERE id = 2");
    run_logs("snapshot: resuming public.rb");
    assert_same("public.rb", "mirror.rb");
}

/* Every row deleted while the agent is down (no TRUNCATE, so the table
 * still resumes): the resumed copy finds no key at all and still removes
 * the rows of the first copy (found by review). */
static void test_range_resume_emptied(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.re0 (id bigint PRIMARY KEY, pad text)");
    sql(srcdb, "INSERT INTO public.re0 SELECT g, repeat(md5(g::text), 6) FROM "
               "generate_series(1, 40000) g");
    write_config_ex("rempty", "\"public.re0\"",
                    ", \"snapshot_workers\": 1, \"snapshot_chunk_mb\": 1");
    run_killed("after_commit:1");
    sql(srcdb, "DELETE FROM public.re0");
    run_logs("snapshot: resuming public.re0");
    assert_same("public.re0", "mirror.re0");
}

/* A table that joined a streaming pipeline, cut off mid-copy, leaves the
 * config while its rows change and the pipeline streams on, then comes
 * back: its copy resumes and ends equal (found by review: rows deleted
 * meanwhile stayed). */
static void test_range_resume_joined_gap(void **state)
{
    (void)state;
    static const char opts[] =
        ", \"snapshot_workers\": 1, \"snapshot_chunk_mb\": 1";
    sql(srcdb, "CREATE TABLE public.jg1 (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.jg1 SELECT g, 'a' FROM generate_series(1, "
               "100) g");
    write_config_ex("jgap", "\"public.jg1\"", opts);
    run_ok();
    sql(srcdb, "CREATE TABLE public.jg2 (id bigint PRIMARY KEY, pad text)");
    sql(srcdb, "INSERT INTO public.jg2 SELECT g, repeat(md5(g::text), 6) FROM "
               "generate_series(1, 40000) g");
    write_config_ex("jgap", "\"public.jg1\", \"public.jg2\"", opts);
    run_killed("after_commit:1");
    write_config_ex("jgap", "\"public.jg1\"", opts);
    sql(srcdb, "DELETE FROM public.jg2 WHERE id <= 100");
    sql(srcdb, "UPDATE public.jg1 SET v = 'b'");
    run_ok();
    write_config_ex("jgap", "\"public.jg1\", \"public.jg2\"", opts);
    run_logs("snapshot: resuming public.jg2");
    assert_same("public.jg1", "mirror.jg1");
    assert_same("public.jg2", "mirror.jg2");
}

/* A resumed table rewritten after its copy was planned, before a worker
 * reads it (its ctids are not the first copy's any more): the worker's
 * check stops that attempt, and the next one copies the table whole. */
static void test_range_resume_rewritten_late(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.rl (id bigint PRIMARY KEY, pad text)");
    sql(srcdb, "INSERT INTO public.rl SELECT g, repeat(md5(g::text), 6) FROM "
               "generate_series(1, 40000) g");
    write_config_ex("rlate", "\"public.rl\"",
                    ", \"snapshot_workers\": 1, \"snapshot_chunk_mb\": 1");
    run_killed("after_commit:1");
    sql(srcdb, "DELETE FROM public.rl WHERE id %% 2 = 0");
    /* The next run pauses once its copy is planned and the target made
     * ready; the table is rewritten meanwhile. */
    char *log = NULL;
    assert_true(asprintf(&log, "%s/rlate.log", dir) > 0);
    setenv("TB_PAUSE_AT", "snapshot_start:3000", 1);
    int pid = tu_spawn((char *const[]){(char *)tu_bin(), "run", "--once", "-c",
                                       config_path, NULL},
                       log);
    unsetenv("TB_PAUSE_AT");
    char *text = NULL;
    for (int i = 0; i < 200 && !(text && strstr(text, "pausing")); i++) {
        usleep(50 * 1000);
        free(text);
        text = tu_read_file(log);
    }
    sql(srcdb, "VACUUM FULL public.rl");
    int status = tu_wait(pid);
    free(text);
    text = tu_read_file(log);
    bool said = text && strstr(text, "table public.rl was rewritten") &&
                strstr(text, "public.rl copied again whole: it was rewritten");
    if (status != 0 || !said) print_error("%s\n", text ? text : "(no log)");
    assert_int_equal(status, 0);
    assert_true(said);
    free(text);
    free(log);
    assert_same("public.rl", "mirror.rl");
}

/* Streamed transactions (over logical_decoding_work_mem) are applied while
 * they arrive, and committed at their Stream Commit; one that a plain
 * transaction commits inside, one with a rolled-back savepoint and one
 * rolled back fall back to the spill file. All end equal, and a SIGKILL in
 * the middle of a tentative apply loses nothing. */
static void test_streamed_tentative(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.st1 (id int PRIMARY KEY, v text)");
    sql(srcdb, "CREATE TABLE public.st2 (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.st1 SELECT g, 'a' FROM generate_series(1, "
               "100) g");
    log_level = "debug";
    write_config("stent", "\"public.st1\", \"public.st2\"");
    log_level = "info";
    run_ok();
    sql("postgres", "ALTER DATABASE %s SET logical_decoding_work_mem = '64kB'",
        srcdb);
    /* Streamed, alone: applied while it arrives. */
    sql(srcdb, "INSERT INTO public.st2 SELECT g, repeat('x', 100) FROM "
               "generate_series(1, 20000) g");
    /* A plain transaction commits while a streamed one is in progress. */
    PGconn *a = connect_db(srcdb);
    PGresult *r = PQexec(a, "BEGIN; INSERT INTO public.st2 SELECT g, 'y' FROM "
                            "generate_series(20001, 40000) g");
    PQclear(r);
    sql(srcdb, "UPDATE public.st1 SET v = 'b' WHERE id <= 10");
    r = PQexec(a, "INSERT INTO public.st2 SELECT g, 'y' FROM "
                  "generate_series(40001, 50000) g; COMMIT");
    PQclear(r);
    /* A savepoint rolled back inside a streamed transaction. */
    r = PQexec(a, "BEGIN; INSERT INTO public.st2 SELECT g, 'z' FROM "
                  "generate_series(50001, 60000) g; SAVEPOINT s; "
                  "INSERT INTO public.st2 SELECT g, 'gone' FROM "
                  "generate_series(60001, 70000) g; ROLLBACK TO s; "
                  "UPDATE public.st2 SET v = 'z2' WHERE id <= 20000; COMMIT");
    PQclear(r);
    /* A streamed transaction rolled back. */
    r = PQexec(a, "BEGIN; DELETE FROM public.st1; INSERT INTO public.st2 "
                  "SELECT g, 'gone' FROM generate_series(70001, 90000) g; "
                  "ROLLBACK");
    PQclear(r);
    PQfinish(a);
    /* Die in the middle of the next tentative apply, then catch up. */
    sql(srcdb, "DELETE FROM public.st2 WHERE id %% 3 = 0");
    run_killed("mid_batch:3000");
    tu_run rr = tu_run_once(config_path, NULL);
    bool applied = tu_contains(rr.err, "applying it while it arrives");
    bool voided = tu_contains(rr.err, "tentative apply voided");
    if (rr.status != 0 || !applied || !voided) print_error("%s\n", rr.err);
    assert_int_equal(rr.status, 0);
    assert_true(applied);
    assert_true(voided);
    tu_run_free(&rr);
    char *n = value(srcdb,
                    "SELECT stream_txns > 0 FROM "
                    "pg_stat_replication_slots WHERE slot_name = "
                    "'tributary_stent_%d'",
                    (int)getpid());
    assert_string_equal(n, "t");
    free(n);
    sql("postgres", "ALTER DATABASE %s RESET logical_decoding_work_mem", srcdb);
    assert_same("public.st1", "mirror.st1");
    assert_same("public.st2", "mirror.st2");
}

/* A live agent meets a streamed transaction that adds a column and then
 * rolls back: the shape it saw must not reach the registry, so a later
 * column of the same name but another type is accepted (found by review:
 * the tentative apply registered the rolled-back shape, and the agent
 * stopped for good). */
static void test_streamed_ddl_rolled_back(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.sd (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.sd SELECT g, 'a' FROM generate_series(1, "
               "10) g");
    write_config("sddl", "\"public.sd\"");
    run_ok();
    sql("postgres", "ALTER DATABASE %s SET logical_decoding_work_mem = '64kB'",
        srcdb);
    char *log = NULL;
    assert_true(asprintf(&log, "%s/sddl.log", dir) > 0);
    int pid = tu_spawn(
        (char *const[]){(char *)tu_bin(), "run", "-c", config_path, NULL}, log);
    PGconn *a = connect_db(srcdb);
    PGresult *r = PQexec(a, "BEGIN; INSERT INTO public.sd SELECT g, "
                            "repeat('x', 100) FROM generate_series(100, "
                            "20000) g");
    PQclear(r);
    usleep(500 * 1000);
    r = PQexec(a, "ALTER TABLE public.sd ADD COLUMN c int; INSERT INTO "
                  "public.sd SELECT g, repeat('x', 100), g FROM "
                  "generate_series(30000, 50000) g");
    PQclear(r);
    usleep(500 * 1000);
    r = PQexec(a, "ROLLBACK");
    PQclear(r);
    PQfinish(a);
    sql(srcdb, "ALTER TABLE public.sd ADD COLUMN c text");
    sql(srcdb, "INSERT INTO public.sd VALUES (5000, 'p', 'q')");
    char *n = NULL;
    for (int i = 0; i < 100; i++) {
        free(n);
        n = value(dwdb, "SELECT count(*) FROM mirror.sd");
        if (strcmp(n, "11") == 0) break;
        usleep(100 * 1000);
    }
    kill(pid, SIGTERM);
    int status = tu_wait(pid);
    sql("postgres", "ALTER DATABASE %s RESET logical_decoding_work_mem", srcdb);
    char *text = tu_read_file(log);
    if (status != 0 || strcmp(n, "11") != 0)
        print_error("%s\n", text ? text : "(no log)");
    free(text);
    free(log);
    assert_int_equal(status, 0);
    assert_string_equal(n, "11");
    free(n);
    assert_same("public.sd", "mirror.sd");
}

/* Two source tables of one name in two schemas would mix in one target
 * table: refused, naming both, before any row is written. */
static void test_same_name_refused(void **state)
{
    (void)state;
    sql(srcdb, "CREATE SCHEMA sa");
    sql(srcdb, "CREATE SCHEMA sb");
    sql(srcdb, "CREATE TABLE sa.twin (id int PRIMARY KEY, v text)");
    sql(srcdb, "CREATE TABLE sb.twin (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO sa.twin VALUES (1, 'a')");
    sql(srcdb, "INSERT INTO sb.twin VALUES (1, 'b')");
    write_config("twinname", "\"sa.twin\", \"sb.twin\"");
    tu_run r = tu_run_once(config_path, NULL);
    assert_int_not_equal(r.status, 0);
    if (!strstr(r.err, "source tables sa.twin and sb.twin would both be "
                       "written to mirror.twin"))
        print_error("%s\n", r.err);
    assert_non_null(strstr(r.err, "source tables sa.twin and sb.twin would "
                                  "both be written to mirror.twin"));
    tu_run_free(&r);
    char *n = value(dwdb, "SELECT CASE WHEN to_regclass('mirror.twin') IS NULL "
                          "THEN 0 ELSE (SELECT count(*) FROM mirror.twin) END");
    assert_string_equal(n, "0");
    free(n);
}

/* An interrupted copy whose slot was dropped cannot resume: the agent says
 * so and how to start over; doing that works. */
static void test_snapshot_slot_gone(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.g1 (id int PRIMARY KEY, v text)");
    sql(srcdb, "CREATE TABLE public.g2 (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.g1 SELECT g, 'a' FROM generate_series(1, "
               "500) g");
    sql(srcdb, "INSERT INTO public.g2 SELECT g, 'b' FROM generate_series(1, "
               "500) g");
    write_config_ex("gone", "\"public.g1\", \"public.g2\"",
                    ", \"snapshot_workers\": 1, \"slot\": \"gone_slot\"");
    run_killed("after_commit:1");
    sql(srcdb, "SELECT pg_drop_replication_slot('gone_slot')");
    tu_run r = tu_run_once(config_path, NULL);
    assert_int_not_equal(r.status, 0);
    if (!tu_contains(r.err, "cannot resume")) print_error("%s\n", r.err);
    assert_true(tu_contains(r.err, "cannot resume"));
    assert_true(tu_contains(r.err, "no longer exists"));
    const char *del = strstr(r.err, "DELETE FROM ");
    assert_non_null(del);
    char stmt[256];
    size_t n = strcspn(del, ";");
    assert_true(n < sizeof stmt);
    memcpy(stmt, del, n);
    stmt[n] = '\0';
    tu_run_free(&r);
    sql(dwdb, "%s", stmt);
    sql(srcdb, "INSERT INTO public.g2 VALUES (1000, 'late')");
    run_ok();
    assert_same("public.g1", "mirror.g1");
    assert_same("public.g2", "mirror.g2");
}

/* A table added to the config of a streaming pipeline: its existing rows
 * are copied from a new snapshot, its later changes stream, nothing of it
 * is doubled (no key, duplicate rows). */
static void test_table_joins_later(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.j1 (id int PRIMARY KEY, v text)");
    sql(srcdb, "INSERT INTO public.j1 SELECT g, 'a' FROM generate_series(1, "
               "100) g");
    write_config("join", "\"public.j1\"");
    run_ok();
    assert_same("public.j1", "mirror.j1");
    sql(srcdb, "CREATE TABLE public.j2 (n int, v text)");
    sql(srcdb, "ALTER TABLE public.j2 REPLICA IDENTITY FULL");
    sql(srcdb, "INSERT INTO public.j2 SELECT g %% 7, 'x' FROM "
               "generate_series(1, 5000) g");
    sql(srcdb, "UPDATE public.j1 SET v = 'b' WHERE id <= 10");
    write_config("join", "\"public.j1\", \"public.j2\"");
    tu_run r = tu_run_once(config_path, NULL);
    if (r.status != 0) print_error("%s\n", r.err);
    assert_int_equal(r.status, 0);
    assert_true(tu_contains(r.err, "1 table(s) joined the pipeline"));
    tu_run_free(&r);
    assert_same("public.j1", "mirror.j1");
    assert_same("public.j2", "mirror.j2");
    sql(srcdb, "INSERT INTO public.j2 VALUES (3, 'x'), (3, 'x')");
    sql(srcdb, "DELETE FROM public.j2 WHERE n = 4");
    r = tu_run_once(config_path, NULL);
    assert_int_equal(r.status, 0);
    /* Copied once: the next run only streams. */
    assert_false(tu_contains(r.err, "joined the pipeline"));
    tu_run_free(&r);
    assert_same("public.j2", "mirror.j2");
}

/* `tributary status --json`: positions, slot state, retained WAL, lag. */
static void test_status(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.stat (id int PRIMARY KEY)");
    write_config("stat", "\"public.stat\"");
    run_ok();
    sql(srcdb, "INSERT INTO public.stat SELECT generate_series(1, 10)");
    run_ok();
    tu_run r = tu_exec((char *const[]){(char *)tu_bin(), "status", "--json",
                                       "-c", config_path, NULL});
    if (r.status != 0) print_error("status failed: %s\n", r.err);
    assert_int_equal(r.status, 0);
    json_error_t jerr;
    json_t *o = json_loads(r.out, 0, &jerr);
    assert_non_null(o);
    char *pos = value(dwdb,
                      "SELECT position FROM mirror._tributary_state "
                      "WHERE pipeline = 'stat_%d'",
                      (int)getpid());
    assert_string_equal(
        json_string_value(json_object_get(o, "committed_position")), pos);
    static const char *const keys[] = {
        "source_wal_lsn",   "slot_confirmed_flush_lsn",
        "slot_restart_lsn", "retained_wal_bytes",
        "lag_bytes",        "lag_seconds",
        "committed_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!json_object_get(o, keys[i])) print_error("missing %s\n", keys[i]);
        assert_non_null(json_object_get(o, keys[i]));
    }
    assert_true(json_is_true(json_object_get(o, "slot_exists")));
    free(pos);
    json_decref(o);
    tu_run_free(&r);
    r = tu_exec(
        (char *const[]){(char *)tu_bin(), "status", "-c", config_path, NULL});
    assert_int_equal(r.status, 0);
    assert_true(tu_contains(r.out, "lag_bytes"));
    tu_run_free(&r);
}

/* The replication connection is cut while the agent streams: it reconnects
 * from the committed position and the target ends equal. */
static void test_reconnect(void **state)
{
    (void)state;
    sql(srcdb, "CREATE TABLE public.recon (id int PRIMARY KEY, v text)");
    write_config("recon", "\"public.recon\"");
    run_ok();
    char *log = NULL;
    assert_true(asprintf(&log, "%s/recon.log", dir) > 0);
    int pid = tu_spawn(
        (char *const[]){(char *)tu_bin(), "run", "-c", config_path, NULL}, log);
    char slot[64];
    snprintf(slot, sizeof slot, "tributary_recon_%d", (int)getpid());
    char *n = NULL;
    bool ok = true;
    for (int round = 1; round <= 2 && ok; round++) {
        sql(srcdb,
            "INSERT INTO public.recon SELECT g, 'r%d' FROM "
            "generate_series(%d, %d) g",
            round, round * 1000, round * 1000 + 499);
        /* Wait for the rows, then cut the walsender. */
        for (int i = 0; i < 300; i++) {
            free(n);
            n = value(dwdb, "SELECT count(*) FROM mirror.recon");
            if (atoi(n) == round * 500) break;
            usleep(50 * 1000);
        }
        ok = atoi(n) == round * 500;
        if (ok)
            sql("postgres",
                "SELECT pg_terminate_backend(active_pid) FROM "
                "pg_replication_slots WHERE slot_name = '%s' AND active_pid "
                "IS NOT NULL",
                slot);
    }
    /* Changes made while it reconnects arrive too. */
    sql(srcdb, "INSERT INTO public.recon SELECT g, 'after' FROM "
               "generate_series(5000, 5099) g");
    for (int i = 0; ok && i < 400; i++) {
        free(n);
        n = value(dwdb, "SELECT count(*) FROM mirror.recon");
        if (strcmp(n, "1100") == 0) break;
        usleep(50 * 1000);
    }
    kill(pid, SIGTERM);
    int status = tu_wait(pid);
    if (!ok || strcmp(n, "1100") != 0 || status != 0) {
        char *cmd = NULL;
        if (asprintf(&cmd, "cat %s >&2", log) > 0 && system(cmd) < 0)
            fprintf(stderr, "cannot show %s\n", log);
        free(cmd);
    }
    assert_string_equal(n, "1100");
    assert_int_equal(status, 0);
    free(n);
    free(log);
    assert_same("public.recon", "mirror.recon");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_snapshot_and_stream),
        cmocka_unit_test(test_toast_unchanged),
        cmocka_unit_test(test_pk_update_delete_truncate_rollback),
        cmocka_unit_test(test_no_pk_duplicates),
        cmocka_unit_test(test_partitioned),
        cmocka_unit_test(test_add_drop_column),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_sigterm_graceful),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_crash_mid_snapshot),
        cmocka_unit_test(test_snapshot_parallel_resume),
        cmocka_unit_test(test_snapshot_range_resume),
        cmocka_unit_test(test_range_resume_key_reuse),
        cmocka_unit_test(test_range_resume_joined_gap),
        cmocka_unit_test(test_range_resume_emptied),
        cmocka_unit_test(test_range_resume_rewritten_late),
        cmocka_unit_test(test_streamed_tentative),
        cmocka_unit_test(test_streamed_ddl_rolled_back),
        cmocka_unit_test(test_same_name_refused),
        cmocka_unit_test(test_table_joins_later),
        cmocka_unit_test(test_snapshot_slot_gone),
        cmocka_unit_test(test_big_tx_and_crashes),
        cmocka_unit_test(test_memory_big_transaction),
    };
    if (getenv("TB_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TB_TEST_FILTER"));
    return cmocka_run_group_tests_name("pg_e2e", tests, setup, teardown);
}
