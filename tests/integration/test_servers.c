/*
 * test_servers.c - the throwaway test servers of scripts/servers.sh are fit
 * for change data capture, and two sets of them can run side by side.
 *
 * Needs the environment of one `scripts/servers.sh start` (tests/run.sh
 * provides it; by hand: `scripts/servers.sh run -- build/tests/integration/
 * test_servers`) and must run from the repository root, because one test
 * starts a second set of servers with scripts/servers.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <mysql.h>

extern char **environ;

#define SERVERS_SH "scripts/servers.sh"
#define MAX_DIRS   2

/* What one test opened; the teardown closes whatever is still open, so a
 * failed assertion leaves neither connections nor servers behind. */
typedef struct fixture {
    PGconn *pg;               /* PostgreSQL connection, or NULL */
    MYSQL *my;                /* MariaDB connection, or NULL */
    char dirs[MAX_DIRS][128]; /* server directories we started, "" if none */
} fixture;

/* Environment variable that the runner must provide; fails the test with a
 * message saying how to get it when it is missing. */
static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        fail_msg("%s is not set: run under the test servers, e.g. "
                 "`scripts/servers.sh run -- %s` from the repository root",
                 name, "build/tests/integration/test_servers");
    return v;
}

static int env_port(const char *name)
{
    const char *v = need_env(name);
    char *end;
    long p = strtol(v, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535)
        fail_msg("%s=%s is not a port number", name, v);
    return (int)p;
}

static PGconn *pg_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("PostgreSQL '%s': %s\n", dsn, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Run a one-value query; returns a malloc'ed copy of the value (caller
 * frees) or fails the test. */
static char *pg_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        PQnfields(r) >= 1)
        v = strdup(PQgetvalue(r, 0, 0));
    else
        print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    assert_non_null(v);
    return v;
}

static MYSQL *my_connect(const char *host, int port)
{
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    unsigned int timeout = 10;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (mysql_real_connect(m, host, "root", "", NULL, (unsigned int)port, NULL,
                           0) == NULL) {
        print_error("MariaDB %s:%d: %s\n", host, port, mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* One-row query; copies up to n columns into out[] (caller frees each). */
static void my_row(MYSQL *m, const char *sql, char **out, unsigned n)
{
    if (mysql_query(m, sql) != 0) fail_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    assert_non_null(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    bool ok = row != NULL && mysql_num_fields(res) >= n;
    for (unsigned i = 0; ok && i < n; i++)
        out[i] = row[i] ? strdup(row[i]) : NULL;
    mysql_free_result(res);
    if (!ok) fail_msg("%s: no row with %u columns", sql, n);
}

/* Run argv with stdout and stderr into log; returns the child's pid. */
static pid_t spawn_logged(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    return pid;
}

static void dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (f == NULL) return;
    while (fgets(line, sizeof line, f) != NULL)
        print_error("  | %s", line);
    fclose(f);
}

/* Wait for pid; 0 when it exited with status 0, else prints log. */
static int wait_ok(pid_t pid, const char *log)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    if (r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    print_error("%s failed (status 0x%x); its output:\n", SERVERS_SH, st);
    dump_file(log);
    return -1;
}

/* Value of KEY="value" in DIR/env, copied into out (size n). */
static void env_file_value(const char *dir, const char *key, char *out,
                           size_t n)
{
    char path[256], line[512];
    size_t klen = strlen(key);
    snprintf(path, sizeof path, "%s/env", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) fail_msg("%s: %s", path, strerror(errno));
    out[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != '=' ||
            line[klen + 1] != '"')
            continue;
        char *v = line + klen + 2, *q = strchr(v, '"');
        if (q != NULL) *q = '\0';
        snprintf(out, n, "%s", v);
    }
    fclose(f);
    if (out[0] == '\0') fail_msg("%s has no %s", path, key);
}

static int env_file_port(const char *dir, const char *key)
{
    char v[16];
    env_file_value(dir, key, v, sizeof v);
    int p = atoi(v);
    if (p <= 0 || p > 65535) fail_msg("%s/env: %s=%s", dir, key, v);
    return p;
}

/* true when nothing listens on 127.0.0.1:port and we could listen there. */
static bool port_free(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    bool refused = connect(s, (struct sockaddr *)&a, sizeof a) < 0 &&
                   errno == ECONNREFUSED;
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    /* SO_REUSEADDR: TIME_WAIT leftovers of the old server's connections do
     * not make the port busy; a live listener still does. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool bound =
        bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0;
    close(s);
    return refused && bound;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL) return -1;
    *state = fx;
    return 0;
}

static void stop_dir(const char *dir)
{
    char log[200];
    snprintf(log, sizeof log, "%s.stop.log", dir);
    char *argv[] = {SERVERS_SH, "stop", (char *)dir, NULL};
    if (wait_ok(spawn_logged(argv, log), log) != 0)
        print_error("could not stop the servers in %s\n", dir);
    unlink(log);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx->pg) PQfinish(fx->pg);
    if (fx->my) mysql_close(fx->my);
    for (int i = 0; i < MAX_DIRS; i++) {
        struct stat st;
        if (fx->dirs[i][0] != '\0' && stat(fx->dirs[i], &st) == 0)
            stop_dir(fx->dirs[i]);
    }
    free(fx);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_pg_settings(void **state)
{
    fixture *fx = *state;
    fx->pg = pg_connect(need_env("TB_PG_DSN"));
    assert_non_null(fx->pg);

    char *v = pg_value(fx->pg, "SHOW wal_level");
    assert_string_equal(v, "logical");
    free(v);
    v = pg_value(fx->pg, "SHOW max_replication_slots");
    assert_true(atoi(v) >= 10);
    free(v);
    v = pg_value(fx->pg, "SHOW max_wal_senders");
    assert_true(atoi(v) >= 10);
    free(v);
    v = pg_value(fx->pg, "SHOW server_version_num");
    assert_true(atoi(v) >= 150000);
    free(v);
    /* The env's port is the one we are talking to. */
    v = pg_value(fx->pg, "SHOW port");
    assert_int_equal(atoi(v), env_port("TB_PG_PORT"));
    free(v);
}

/* A pgoutput slot through the replication protocol, as the pgoutput reader
 * will create it: this also proves the walsender accepts us. */
static void test_pg_slot(void **state)
{
    fixture *fx = *state;
    char dsn[512], sql[160], name[64];
    snprintf(dsn, sizeof dsn, "%s replication=database", need_env("TB_PG_DSN"));
    snprintf(name, sizeof name, "tb_test_servers_%ld", (long)getpid());
    fx->pg = pg_connect(dsn);
    assert_non_null(fx->pg);

    snprintf(sql, sizeof sql,
             "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput "
             "(SNAPSHOT 'nothing')",
             name);
    PGresult *r = PQexec(fx->pg, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              PQnfields(r) == 4;
    if (!ok) print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    char slot[64] = "", plugin[32] = "", lsn[32] = "";
    if (ok) {
        snprintf(slot, sizeof slot, "%s", PQgetvalue(r, 0, 0));
        snprintf(lsn, sizeof lsn, "%s", PQgetvalue(r, 0, 1));
        snprintf(plugin, sizeof plugin, "%s", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    assert_true(ok);
    assert_string_equal(slot, name);
    assert_string_equal(plugin, "pgoutput");
    assert_non_null(strchr(lsn, '/')); /* an LSN such as 0/1A2B3C8 */

    /* The slot is visible to SQL, then gone after the drop. */
    PQfinish(fx->pg);
    fx->pg = pg_connect(need_env("TB_PG_DSN"));
    assert_non_null(fx->pg);
    snprintf(sql, sizeof sql,
             "SELECT plugin || ':' || slot_type FROM pg_replication_slots "
             "WHERE slot_name = '%s'",
             name);
    char *v = pg_value(fx->pg, sql);
    assert_string_equal(v, "pgoutput:logical");
    free(v);

    char drop[128];
    snprintf(drop, sizeof drop, "SELECT pg_drop_replication_slot('%s')", name);
    v = pg_value(fx->pg, drop);
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_replication_slots "
             "WHERE slot_name = '%s'",
             name);
    v = pg_value(fx->pg, sql);
    assert_string_equal(v, "0");
    free(v);
}

static void test_mariadb_settings(void **state)
{
    fixture *fx = *state;
    const char *host = need_env("TB_MY_HOST");
    int port = env_port("TB_MY_PORT");
    fx->my = my_connect(host, port);
    assert_non_null(fx->my);

    char *v[7] = {0};
    my_row(fx->my,
           "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
           "@@binlog_row_metadata, @@server_id, @@port, "
           "(SELECT count(*) FROM information_schema.SCHEMATA "
           " WHERE SCHEMA_NAME = 'tributary_test')",
           v, 7);
    char copy[7][32];
    for (int i = 0; i < 7; i++) {
        snprintf(copy[i], sizeof copy[i], "%s", v[i] ? v[i] : "(null)");
        free(v[i]);
    }
    assert_string_equal(copy[0], "1");
    assert_string_equal(copy[1], "ROW");
    assert_string_equal(copy[2], "FULL");
    assert_string_equal(copy[3], "FULL");
    assert_true(atoi(copy[4]) >= 1); /* a replica needs a non-zero id */
    assert_int_equal(atoi(copy[5]), port);
    assert_string_equal(copy[6], "1");
}

/* Start a second set of servers (into `dir`) while the runner's set runs;
 * check both sets are up on distinct ports, stop the second, check that its
 * directory and ports are gone. */
static void run_second_instance(fixture *fx, int slot)
{
    char tmpl[] = "/tmp/tributary-servers-test.XXXXXX";
    char log[200];
    /* The runner's set first: without it there is nothing to compare to. */
    int pg1 = env_port("TB_PG_PORT"), my1 = env_port("TB_MY_PORT");
    assert_non_null(mkdtemp(tmpl));
    snprintf(fx->dirs[slot], sizeof fx->dirs[slot], "%s", tmpl);
    const char *dir = fx->dirs[slot];
    snprintf(log, sizeof log, "%s.start.log", dir);
    char *argv[] = {SERVERS_SH, "start", "--dir", (char *)dir, NULL};
    int rc = wait_ok(spawn_logged(argv, log), log);
    unlink(log);
    assert_int_equal(rc, 0);

    int pg2 = env_file_port(dir, "TB_PG_PORT");
    int my2 = env_file_port(dir, "TB_MY_PORT");
    assert_int_not_equal(pg2, my2);
    assert_int_not_equal(pg2, pg1);
    assert_int_not_equal(pg2, my1);
    assert_int_not_equal(my2, pg1);
    assert_int_not_equal(my2, my1);

    /* Both sets accept connections at the same time. */
    char dsn[256];
    env_file_value(dir, "TB_PG_DSN", dsn, sizeof dsn);
    PGconn *a = pg_connect(dsn);
    PGconn *b = pg_connect(need_env("TB_PG_DSN"));
    bool pg_ok = a != NULL && b != NULL;
    PQfinish(a);
    PQfinish(b);
    assert_true(pg_ok);
    MYSQL *ma = my_connect("127.0.0.1", my2);
    MYSQL *mb = my_connect(need_env("TB_MY_HOST"), my1);
    bool my_ok = ma != NULL && mb != NULL;
    if (ma) mysql_close(ma);
    if (mb) mysql_close(mb);
    assert_true(my_ok);

    stop_dir(dir);
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(errno, ENOENT);
    fx->dirs[slot][0] = '\0';
    assert_true(port_free(pg2));
    assert_true(port_free(my2));
}

static void test_second_instance(void **state)
{
    if (access(SERVERS_SH, X_OK) != 0)
        fail_msg("%s not found: run the test from the repository root",
                 SERVERS_SH);
    run_second_instance(*state, 0);
}

/* Two starts launched at the same moment into a narrow port range (8 ports
 * for 4 servers), so they do collide on ports and must retry: both must come
 * up, on four distinct ports. */
static void test_simultaneous_starts(void **state)
{
    fixture *fx = *state;
    if (access(SERVERS_SH, X_OK) != 0)
        fail_msg("%s not found: run the test from the repository root",
                 SERVERS_SH);
    char base[16], logs[MAX_DIRS][200];
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(base, sizeof base, "%d", 20000 + rand() % 10000);
    setenv("TB_SERVERS_PORT_MIN", base, 1);
    setenv("TB_SERVERS_PORT_SPAN", "8", 1);
    pid_t pids[MAX_DIRS];
    for (int i = 0; i < MAX_DIRS; i++) {
        char tmpl[] = "/tmp/tributary-servers-test.XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        snprintf(fx->dirs[i], sizeof fx->dirs[i], "%s", tmpl);
        snprintf(logs[i], sizeof logs[i], "%s.start.log", tmpl);
    }
    for (int i = 0; i < MAX_DIRS; i++) {
        char *argv[] = {SERVERS_SH, "start", "--dir", fx->dirs[i], NULL};
        pids[i] = spawn_logged(argv, logs[i]);
    }
    unsetenv("TB_SERVERS_PORT_MIN");
    unsetenv("TB_SERVERS_PORT_SPAN");
    int failed = 0;
    for (int i = 0; i < MAX_DIRS; i++) {
        if (wait_ok(pids[i], logs[i]) != 0) failed++;
        unlink(logs[i]);
    }
    assert_int_equal(failed, 0);

    int ports[2 * MAX_DIRS];
    for (int i = 0; i < MAX_DIRS; i++) {
        ports[2 * i] = env_file_port(fx->dirs[i], "TB_PG_PORT");
        ports[2 * i + 1] = env_file_port(fx->dirs[i], "TB_MY_PORT");
    }
    for (int i = 0; i < 2 * MAX_DIRS; i++) {
        assert_in_range(ports[i], atoi(base), atoi(base) + 7);
        for (int j = i + 1; j < 2 * MAX_DIRS; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    for (int i = 0; i < MAX_DIRS; i++) {
        char dsn[256];
        env_file_value(fx->dirs[i], "TB_PG_DSN", dsn, sizeof dsn);
        PGconn *c = pg_connect(dsn);
        bool ok = c != NULL;
        PQfinish(c);
        assert_true(ok);
        MYSQL *m = my_connect("127.0.0.1", ports[2 * i + 1]);
        ok = m != NULL;
        if (m) mysql_close(m);
        assert_true(ok);
    }
    /* teardown stops both directories */
}

static int group_teardown(void **state)
{
    (void)state;
    mysql_library_end();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mariadb_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_starts, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("servers", tests, NULL, group_teardown);
}
