/* test_config.c - the config contract: every error message, defaults,
 * ${VAR} expansion, password files and masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_config.h"
#include "util/testutil.h"

static char *dir; /* temp dir holding the config files of this test */

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

#define PG_OK                                                                  \
    "{\n"                                                                      \
    "  \"name\": \"shop\",\n"                                                  \
    "  \"source\": {\"type\": \"postgres\",\n"                                 \
    "             \"dsn\": \"host=127.0.0.1 port=5432 dbname=shop user=repl "  \
    "password=s3cret\",\n"                                                     \
    "             \"tables\": [\"public.orders\", \"public.customer_*\"]},\n"  \
    "  \"target\": {\"type\": \"postgres\",\n"                                 \
    "             \"dsn\": "                                                   \
    "\"postgresql://loader:hunter2@127.0.0.1:5433/dw\",\n"                     \
    "             \"schema\": \"shop\"}\n"                                     \
    "}\n"

/* Load text from a file in the temp dir; returns rc, fills cfg/err. */
static int load(const char *text, tb_config **cfg, tb_error *err)
{
    char *path = tu_write_file(dir, "config.json", text);
    tb_error_clear(err);
    int rc = tb_config_load(path, cfg, err);
    free(path);
    return rc;
}

/* Expect a config error whose message contains each of the given parts. */
static void expect_error(const char *text, const char *part1, const char *part2)
{
    tb_config *cfg = NULL;
    tb_error err;
    int rc = load(text, &cfg, &err);
    if (rc == 0 || !tu_contains(err.msg, part1) ||
        (part2 && !tu_contains(err.msg, part2)))
        print_error("unexpected result rc=%d msg=[%s] wanted [%s] [%s]\n", rc,
                    err.msg, part1, part2 ? part2 : "");
    assert_int_equal(rc, -1);
    assert_null(cfg);
    assert_int_equal(err.code, TB_ERR_CONFIG);
    assert_true(tu_contains(err.msg, part1));
    if (part2) assert_true(tu_contains(err.msg, part2));
}

static void test_valid_and_defaults(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    assert_int_equal(load(PG_OK, &cfg, &err), 0);
    assert_string_equal(cfg->name, "shop");
    assert_string_equal(cfg->source.type, "postgres");
    assert_int_equal(cfg->source.ntables, 2);
    assert_string_equal(cfg->source.tables[1], "public.customer_*");
    assert_null(cfg->source.tables[2]);
    assert_string_equal(cfg->source.slot, "tributary_shop");
    assert_string_equal(cfg->source.publication, "tributary_shop");
    assert_string_equal(cfg->target.schema, "shop");
    assert_string_equal(cfg->target.mode, "mirror");
    assert_string_equal(cfg->registry.compatibility, "backward");
    assert_string_equal(cfg->source.snapshot, "initial");
    assert_int_equal(cfg->batch.max_rows, 50000);
    assert_int_equal(cfg->batch.max_ms, 200);
    /* Relative paths resolve against the config file's folder. */
    char *want = NULL;
    char real[4096];
    assert_non_null(realpath(dir, real));
    assert_true(asprintf(&want, "%s/registry", real) > 0);
    assert_string_equal(cfg->registry.path, want);
    free(want);
    assert_null(cfg->metrics.listen);
    tb_config_free(cfg);
}

static void test_default_target_schema(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    assert_int_equal(
        load("{\"name\":\"Shop_2\",\"source\":{\"type\":\"postgres\","
             "\"dsn\":\"dbname=a\",\"tables\":[\"public.*\"]},"
             "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=b\"}}",
             &cfg, &err),
        0);
    assert_string_equal(cfg->target.schema, "public");
    /* Slot names must be lower case: the default is lowered. */
    assert_string_equal(cfg->source.slot, "tributary_shop_2");
    tb_config_free(cfg);
}

static void test_invalid_json_line_column(void **state)
{
    (void)state;
    /* Missing comma at the end of line 2. */
    expect_error("{\n  \"name\": \"shop\"\n  \"source\": {}\n}\n",
                 "config.json:3:", "invalid JSON");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_error("{\"name\":\"a\",\"name\":\"b\"}", "invalid JSON",
                 "duplicate");
}

static void test_unknown_key_nearest(void **state)
{
    (void)state;
    expect_error("{\n\"name\":\"shop\",\n\"source\":{\"type\":\"postgres\","
                 "\n\"dsn\":\"dbname=x\",\n\"tabels\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "config.json:5: unknown key source.tabels",
                 "did you mean source.tables?");
    expect_error("{\"nmae\":\"x\"}", "unknown key nmae", "did you mean name?");
    expect_error("{\"name\":\"x\",\"registry\":{\"compatability\":\"none\"}}",
                 "unknown key registry.compatability",
                 "did you mean registry.compatibility?");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":\"public.a\"},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "source.tables: expected an array of strings, got a string",
                 NULL);
    expect_error("{\"name\":42}", "name: expected a string, got an integer",
                 NULL);
    expect_error("{\"name\":\"a\",\"source\":[]}",
                 "source: expected an object, got an array", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"},"
                 "\"batch\":{\"max_rows\":\"many\"}}",
                 "batch.max_rows: expected an integer, got a string", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"},"
                 "\"batch\":{\"max_rows\":0}}",
                 "batch.max_rows: 0 is out of range", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"oracle\","
                 "\"dsn\":\"x\",\"tables\":[\"a.b\"]}}",
                 "source.type: \"oracle\" is not valid",
                 "expected one of: postgres, mysql");
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_error("{}", "missing required key name", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "missing required key source.dsn", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"]}}",
                 "missing required key target", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"mysql\","
                 "\"dsn\":\"mysql://root@127.0.0.1:3306/\","
                 "\"tables\":[\"shop.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "missing required key source.server_id", NULL);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("{\"name\":\"my-shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "name: \"my-shop\" is not valid", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"orders\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "source.tables[0]: \"orders\" is not a table pattern", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"],"
                 "\"server_id\":5},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "source.server_id applies only to source.type \"mysql\"",
                 NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"],"
                 "\"slot\":\"Bad-Slot\"},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "not a valid replication slot name", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"},"
                 "\"metrics\":{\"listen\":\"nowhere\"}}",
                 "metrics.listen: \"nowhere\" is not host:port", NULL);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"mysql\","
                 "\"dsn\":\"postgres://x@y/\",\"server_id\":9,"
                 "\"tables\":[\"shop.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "source.dsn", "not a mysql:// URI");
}

static void test_bad_pg_dsn_masks_password(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    int rc = load("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                  "\"dsn\":\"dbname=x password=topsecret bogus\","
                  "\"tables\":[\"public.a\"]},"
                  "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                  &cfg, &err);
    assert_int_equal(rc, -1);
    assert_true(tu_contains(err.msg, "not a valid libpq connection string"));
    assert_false(tu_contains(err.msg, "topsecret"));
    rc = load("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
              "\"dsn\":\"dbname=x password=top secret\","
              "\"tables\":[\"public.a\"]},"
              "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
              &cfg, &err);
    assert_int_equal(rc, -1);
    assert_false(tu_contains(err.msg, "secret"));
}

static void test_env_expansion(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    setenv("TB_TEST_PASS", "pa$$word", 1);
    setenv("TB_TEST_SCHEMA", "public", 1);
    assert_int_equal(
        load("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
             "\"dsn\":\"dbname=x user=u password=${TB_TEST_PASS}\","
             "\"tables\":[\"${TB_TEST_SCHEMA}.orders\"]},"
             "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\","
             "\"schema\":\"lit$${x}\"}}",
             &cfg, &err),
        -1); /* "lit${x}" is not a valid schema name, but was expanded */
    assert_true(tu_contains(err.msg, "target.schema: \"lit${x}\""));
    assert_int_equal(
        load("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
             "\"dsn\":\"dbname=x user=u password=${TB_TEST_PASS}\","
             "\"tables\":[\"${TB_TEST_SCHEMA}.orders\"]},"
             "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
             &cfg, &err),
        0);
    assert_string_equal(cfg->source.dsn, "dbname=x user=u password=pa$$word");
    assert_string_equal(cfg->source.tables[0], "public.orders");
    tb_config_free(cfg);
    unsetenv("TB_TEST_MISSING");
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x password=${TB_TEST_MISSING}\","
                 "\"tables\":[\"public.a\"]}}",
                 "source.dsn: environment variable TB_TEST_MISSING is not set",
                 NULL);
    expect_error("{\"name\":\"${TB_TEST_PASS\"}", "unterminated ${", NULL);
}

static void test_password_file(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    char *pw = tu_write_file(dir, "pg.pass", "it's\\secret\n");
    free(pw);
    assert_int_equal(
        load("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
             "\"dsn\":\"host=127.0.0.1 dbname=x user=u\","
             "\"password_file\":\"pg.pass\",\"tables\":[\"public.a\"]},"
             "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
             &cfg, &err),
        0);
    assert_string_equal(cfg->source.password, "it's\\secret");
    char *ci = tb_pg_conninfo(cfg->source.dsn, cfg->source.password, &err);
    assert_non_null(ci);
    assert_true(tu_contains(ci, "password='it\\'s\\\\secret'"));
    assert_true(tu_contains(ci, "dbname='x'"));
    free(ci);
    /* check-config output never shows the password */
    char *outpath = NULL;
    assert_true(asprintf(&outpath, "%s/out.json", dir) > 0);
    FILE *f = fopen(outpath, "w+");
    assert_non_null(f);
    assert_int_equal(tb_config_print(cfg, f, &err), 0);
    rewind(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    free(outpath);
    assert_false(tu_contains(buf, "secret"));
    assert_true(tu_contains(buf, "pg.pass"));
    tb_config_free(cfg);
    expect_error("{\"name\":\"shop\",\"source\":{\"type\":\"postgres\","
                 "\"dsn\":\"dbname=x\",\"password_file\":\"nope.pass\","
                 "\"tables\":[\"public.a\"]},"
                 "\"target\":{\"type\":\"postgres\",\"dsn\":\"dbname=y\"}}",
                 "source.password_file: cannot read", "nope.pass");
}

static void test_mask(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"host=a password=s3cret user=u", "host=a password=**** user=u"},
        {"host=a password = 's3 cr\\'et' user=u",
         "host=a password = **** user=u"},
        {"postgresql://u:s3cret@h:5432/db", "postgresql://u:****@h:5432/db"},
        {"postgres://u@h/db?password=s3cret&sslmode=off",
         "postgres://u@h/db?password=****&sslmode=off"},
        {"mysql://root:p%40ss@127.0.0.1:3306/",
         "mysql://root:****@127.0.0.1:3306/"},
        {"mysql://root@127.0.0.1:3306/", "mysql://root@127.0.0.1:3306/"},
        {"dbname=x", "dbname=x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = tb_dsn_mask(cases[i][0]);
        assert_non_null(m);
        assert_string_equal(m, cases[i][1]);
        free(m);
    }
}

static void test_print_masks(void **state)
{
    (void)state;
    tb_config *cfg = NULL;
    tb_error err;
    assert_int_equal(load(PG_OK, &cfg, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tb_config_print(cfg, f, &err), 0);
    fclose(f);
    assert_false(tu_contains(buf, "s3cret"));
    assert_false(tu_contains(buf, "hunter2"));
    assert_true(tu_contains(buf, "password=****"));
    assert_true(tu_contains(buf, "loader:****@"));
    assert_true(tu_contains(buf, "\"slot\": \"tributary_shop\""));
    assert_false(tu_contains(buf, "server_id")); /* mysql-only key */
    free(buf);
    tb_config_free(cfg);
}

static void test_myuri(void **state)
{
    (void)state;
    tb_myuri u;
    tb_error err;
    assert_int_equal(
        tb_myuri_parse("mysql://rep%40l:p%3Ass@db.local:3307/shop", &u, &err),
        0);
    assert_string_equal(u.user, "rep@l");
    assert_string_equal(u.password, "p:ss");
    assert_string_equal(u.host, "db.local");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.db, "shop");
    tb_myuri_free(&u);
    assert_int_equal(
        tb_myuri_parse("mysql://root@localhost/?socket=/tmp/my.sock", &u, &err),
        0);
    assert_string_equal(u.socket, "/tmp/my.sock");
    assert_int_equal(u.port, 0);
    tb_myuri_free(&u);
    assert_int_equal(tb_myuri_parse("mysql://[::1]:3306/", &u, &err), 0);
    assert_string_equal(u.host, "::1");
    tb_myuri_free(&u);
    assert_int_equal(tb_myuri_parse("mysql://h:99999/", &u, &err), -1);
    assert_true(tu_contains(err.msg, "port"));
    assert_int_equal(tb_myuri_parse("mysql://h/?sock=x", &u, &err), -1);
    assert_true(tu_contains(err.msg, "unknown parameter \"sock\""));
}

static void test_docs_cover_every_key(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tb_config_write_docs(f);
    fclose(f);
    static const char *const keys[] = {
        "`name`",
        "`source.type`",
        "`source.dsn`",
        "`source.tables`",
        "`source.slot`",
        "`source.publication`",
        "`source.server_id`",
        "`source.password_file`",
        "`target.type`",
        "`target.dsn`",
        "`target.schema`",
        "`target.mode`",
        "`registry.path`",
        "`registry.compatibility`",
        "`metrics.listen`",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(tu_contains(buf, keys[i]));
    /* The committed docs match what the table generates. */
    FILE *d = fopen("docs/configuration.md", "r");
    assert_non_null(d);
    char *disk = calloc(1, len + 2);
    size_t n = fread(disk, 1, len + 1, d);
    fclose(d);
    assert_int_equal(n, len);
    assert_memory_equal(disk, buf, len);
    free(disk);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_defaults),
        cmocka_unit_test(test_default_target_schema),
        cmocka_unit_test(test_invalid_json_line_column),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_unknown_key_nearest),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_pg_dsn_masks_password),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_print_masks),
        cmocka_unit_test(test_myuri),
        cmocka_unit_test(test_docs_cover_every_key),
    };
    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
