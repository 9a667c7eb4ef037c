/*
 * test_my_dump.c - the raw binlog dump loop (connectors/mysql/my_dump.c)
 * against the real MariaDB: MariaDB -> PostgreSQL through the tributary
 * binary with TB_MYSQL_RAW_DUMP=1, so the stream sends COM_BINLOG_DUMP
 * itself and reads the packets with mysql_net_read_packet instead of going
 * through mariadb_rpl. That is the path Oracle MySQL takes; only the
 * COM_BINLOG_DUMP_GTID command bytes differ (tested on built bytes in
 * tests/unit/test_my_gtidset.c), no Oracle MySQL server being here.
 *
 * Inserts, updates (key changes too), deletes, a rolled back transaction
 * and a key-less table, streamed by GTID start, then by file and offset
 * (the stored position stripped of its GTID), then with the dump
 * connection KILLed mid-transaction and while idle: the target always ends
 * equal to the source. Servers from scripts/servers.sh (TB_MY_*, TB_PG_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <mysql.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/dbutil.h"
#include "util/testutil.h"

static char *dir;
static char mydb[64], pgdb[64];
static const char *pghost, *pgport, *myhost, *myport;
static char *config_path;

/* ---- MariaDB (as in test_my_e2e.c) ------------------------------------ */

/* Rows of a query as one text: fields joined by '|', rows by '\n'. */

/* ---- PostgreSQL --------------------------------------------------------- */

/* ---- pipeline ----------------------------------------------------------- */

static void write_config(const char *name, const char *tables)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"%s_%d\",\n"
             " \"source\": {\"type\": \"mysql\", \"dsn\": "
             "\"mysql://root@%s:%s/\", \"server_id\": %d, \"tables\": "
             "[%s]},\n"
             " \"target\": {\"type\": \"postgres\", \"dsn\": \"host=%s port=%s "
             "user=postgres dbname=%s\", \"schema\": \"m\"},\n"
             " \"registry\": {\"path\": \"registry-%s\"},\n"
             " \"batch\": {\"max_rows\": 5000}\n}\n",
             name, (int)getpid(), myhost, myport, 2000 + (int)(getpid() % 1000),
             tables, pghost, pgport, pgdb, name);
    free(config_path);
    config_path = tu_write_file(dir, "my.json", text);
}

/* Run once; the agent's log (stderr) must contain want. */
static void run_ok(const char *want)
{
    tu_run r = tu_run_once(config_path, NULL);
    bool found = !want || strstr(r.err, want);
    if (r.status != 0 || !found || getenv("TB_TEST_VERBOSE"))
        print_error("tributary exit %d (looking for \"%s\"):\n%s\n", r.status,
                    want ? want : "", r.err);
    assert_int_equal(r.status, 0);
    assert_true(found);
    tu_run_free(&r);
}

/* Keyed table t: same rows on both sides. */
static void assert_keyed_equal(const char *t)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT id, v, n FROM %s.%s ORDER BY id", mydb, t);
    char *a = tu_my_rows(q);
    snprintf(q, sizeof q, "SELECT id, v, n FROM m.%s ORDER BY id", t);
    char *b = tu_pg_rows(pgdb, q);
    if (strcmp(a, b) != 0)
        print_error("%s differs:\nsource %zu bytes, target %zu bytes\n", t,
                    strlen(a), strlen(b));
    assert_string_equal(a, b);
    assert_true(strlen(a) > 0);
    free(a);
    free(b);
}

/* Key-less table t: every row as often on both sides (a change applied
 * twice or lost shows in the counts). */
static void assert_log_equal(const char *t)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT n, v, COUNT(*) FROM %s.%s GROUP BY n, v ORDER BY n, v",
             mydb, t);
    char *a = tu_my_rows(q);
    snprintf(q, sizeof q,
             "SELECT n, v, count(*) FROM m.%s GROUP BY n, v ORDER BY n, v", t);
    char *b = tu_pg_rows(pgdb, q);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static int setup(void **state)
{
    (void)state;
    pghost = getenv("TB_PG_HOST");
    pgport = getenv("TB_PG_PORT");
    myhost = getenv("TB_MY_HOST");
    myport = getenv("TB_MY_PORT");
    /* The test hook: the agents started below stream through my_dump.c. */
    setenv("TB_MYSQL_RAW_DUMP", "1", 1);
    dir = tu_tempdir();
    return tu_dbpair_create("my_dump", mydb, sizeof mydb, pgdb, sizeof pgdb);
}

static int teardown(void **state)
{
    (void)state;
    tu_dbpair_drop(mydb, pgdb);
    tu_rmtree(dir);
    free(dir);
    free(config_path);
    unsetenv("TB_MYSQL_RAW_DUMP");
    return 0;
}

/* One round of changes to d (keyed) and dlog (key-less), tagged k. */
static void changes(int k)
{
    int base = k * 10000;
    tu_my("INSERT INTO %s.d SELECT seq + %d, CONCAT('r', seq), seq %% 50 FROM "
          "%s.seq_1_to_500",
          mydb, base, mydb);
    tu_my("UPDATE %s.d SET v = CONCAT(v, '-u%d'), n = n + 1 WHERE id %% 7 = %d",
          mydb, k, k % 7);
    tu_my("DELETE FROM %s.d WHERE id %% 11 = %d", mydb, k % 11);
    /* key change: one update with the old key in the before image */
    tu_my("UPDATE %s.d SET id = id + 500000 WHERE id BETWEEN %d AND %d", mydb,
          base + 1, base + 5);
    MYSQL *m = tu_my_connect();
    char q[512];
    /* a transaction over both tables, and one rolled back */
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q, sizeof q, "INSERT INTO %s.dlog VALUES (%d, 'tx'), (%d, 'tx')",
             mydb, k, k);
    assert_int_equal(mysql_query(m, q), 0);
    snprintf(q, sizeof q, "UPDATE %s.d SET v = 'tx' WHERE id = %d", mydb,
             base + 6);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q, sizeof q, "DELETE FROM %s.d", mydb);
    assert_int_equal(mysql_query(m, q), 0);
    snprintf(q, sizeof q, "INSERT INTO %s.dlog VALUES (-1, 'rolled back')",
             mydb);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "ROLLBACK"), 0);
    mysql_close(m);
    tu_my("DELETE FROM %s.dlog WHERE n = %d LIMIT 1", mydb, k);
}

static void test_raw_stream_gtid_and_file(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.d (id INT PRIMARY KEY, v VARCHAR(60), n INT)", mydb);
    tu_my("CREATE TABLE %s.dlog (n INT, v VARCHAR(20))", mydb);
    tu_my("INSERT INTO %s.d SELECT seq, 'snap', 0 FROM %s.seq_1_to_300", mydb,
          mydb);
    tu_my("INSERT INTO %s.dlog VALUES (0, 'snap')", mydb);
    write_config("rawdump", "\"my_dump_*.d\", \"my_dump_*.dlog\"");
    run_ok(NULL); /* the initial copy */
    changes(1);
    changes(2);
    /* MariaDB: @slave_connect_state + COM_BINLOG_DUMP, sent by hand */
    run_ok("(by GTID, raw dump)");
    assert_keyed_equal("d");
    assert_log_equal("dlog");

    /* The stored position without its GTID: COM_BINLOG_DUMP with the
     * binlog file name and offset. */
    tu_pg(pgdb, "UPDATE m._tributary_state SET position = "
                "regexp_replace(position, '^gtid=[^;]*;', '')");
    char *pos = tu_pg_rows(pgdb, "SELECT position FROM m._tributary_state");
    assert_non_null(strstr(pos, "file="));
    assert_null(strstr(pos, "gtid="));
    free(pos);
    changes(3);
    run_ok("(by file and offset, raw dump)");
    assert_keyed_equal("d");
    assert_log_equal("dlog");
    /* and it stored a GTID again */
    pos = tu_pg_rows(pgdb, "SELECT position FROM m._tributary_state");
    assert_non_null(strstr(pos, "gtid=0-"));
    free(pos);
    /* a binlog rotation in between (the ROTATE arrives through the raw
     * loop too) */
    tu_my("FLUSH BINARY LOGS");
    changes(4);
    run_ok("raw dump");
    assert_keyed_equal("d");
    assert_log_equal("dlog");
}

/* ---- reconnect (as test_my_e2e.c's, through the raw loop) --------------- */

static const char *agent_log;

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

static void show_agent_log(void)
{
    char *cmd = NULL;
    if (agent_log && asprintf(&cmd, "cat %s >&2", agent_log) > 0 &&
        system(cmd) < 0)
        fprintf(stderr, "cannot show %s\n", agent_log);
    free(cmd);
}

static long wait_dump_thread(long other)
{
    for (int i = 0; i < 400; i++) {
        long id = dump_thread(other);
        if (id) return id;
        usleep(25 * 1000);
    }
    show_agent_log();
    fail_msg("no binlog dump thread (other than %ld) appeared", other);
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

/* How many lines of file contain text. */
static int count_lines(const char *file, const char *text)
{
    char *cmd = NULL;
    int n = -1;
    assert_true(asprintf(&cmd, "grep -c '%s' %s", text, file) > 0);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    if (fscanf(f, "%d", &n) != 1) n = -1;
    pclose(f);
    free(cmd);
    return n;
}

static void test_raw_reconnect_after_kill(void **state)
{
    (void)state;
    tu_my("CREATE TABLE %s.rc (id INT PRIMARY KEY, v VARCHAR(40), n INT)",
          mydb);
    tu_my("CREATE TABLE %s.rclog (n INT, v VARCHAR(20))", mydb);
    write_config("rawrecon", "\"my_dump_*.rc\", \"my_dump_*.rclog\"");
    run_ok(NULL);
    char *log = NULL;
    assert_true(asprintf(&log, "%s/rawrecon.log", dir) > 0);
    int pid = tu_spawn(
        (char *const[]){(char *)tu_bin(), "run", "-c", config_path, NULL}, log);
    agent_log = log;
    long id = wait_dump_thread(0);
    /* round 1: one 200,000-row transaction, killed while it streams */
    MYSQL *m = tu_my_connect();
    char q[256];
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    snprintf(q, sizeof q,
             "INSERT INTO %s.rc SELECT seq, MD5(seq), seq %% 3 FROM "
             "%s.seq_1_to_100000",
             mydb, mydb);
    assert_int_equal(mysql_query(m, q), 0);
    snprintf(q, sizeof q,
             "INSERT INTO %s.rclog SELECT seq %% 10, 'big' FROM "
             "%s.seq_1_to_100000",
             mydb, mydb);
    assert_int_equal(mysql_query(m, q), 0);
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    usleep(150 * 1000);
    snprintf(q, sizeof q, "KILL %ld", id);
    assert_int_equal(mysql_query(m, q), 0);
    bool ok = wait_target_count("rc", "100000");
    /* round 2: killed while idle; updates and deletes made meanwhile */
    long id2 = wait_dump_thread(id);
    snprintf(q, sizeof q, "KILL %ld", id2);
    assert_int_equal(mysql_query(m, q), 0);
    mysql_close(m);
    tu_my("UPDATE %s.rc SET v = 'after', n = n + 10 WHERE id %% 100 = 0", mydb);
    tu_my("DELETE FROM %s.rc WHERE id %% 100 = 1", mydb);
    tu_my("INSERT INTO %s.rclog VALUES (77, 'after'), (77, 'after')", mydb);
    ok = ok && wait_target_count("rc", "99000");
    ok = ok && wait_target_count("rclog", "100002");
    kill(pid, SIGTERM);
    int status = tu_wait(pid);
    int reconnects = count_lines(log, "binlog dump reconnected");
    int raw = count_lines(log, "raw dump");
    if (!ok || status != 0 || reconnects < 2 || raw < 3) show_agent_log();
    assert_true(ok);
    assert_int_equal(status, 0);
    assert_true(reconnects >= 2);
    assert_true(raw >= 3); /* the first start and both reconnects */
    agent_log = NULL;
    free(log);
    /* changes apply in order: with the last ones counted, all are in */
    assert_keyed_equal("rc");
    assert_log_equal("rclog");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_stream_gtid_and_file),
        cmocka_unit_test(test_raw_reconnect_after_kill),
    };
    return cmocka_run_group_tests_name("my_dump", tests, setup, teardown);
}
