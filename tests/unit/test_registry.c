/*
 * test_registry.c - the local schema registry: registration, ids, versions,
 * persistence, locking, crash safety and every error the user can meet.
 *
 * Each test gets a fresh directory under /tmp. Crash tests fork a child that
 * kills itself at a named point (TB_REGISTRY_CRASH_AT); the permission test
 * forks a child that drops to the uid of "nobody", so it really runs when
 * the suite runs as root (where permission bits do not stop writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb_registry.h"

#define SUBJ  "shop.public.orders-value"
#define SUBJ2 "shop.public.items-value"

/* Schemas of the orders table: v1, a compatible v2, an incompatible one. */
static const char *const V1 =
    "{\"type\":\"record\",\"name\":\"orders\",\"namespace\":\"shop.public\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"amount\","
    "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
    "12,\"scale\":2}}]}";
/* Same as V1 but reformatted and with a doc: the same schema. */
static const char *const V1_REFORMATTED =
    "{ \"name\": \"orders\", \"type\": \"record\", \"namespace\": "
    "\"shop.public\", \"doc\": \"orders table\",\n \"fields\": [ {\"type\": "
    "\"long\", \"name\": \"id\"}, {\"name\": \"amount\", \"type\": "
    "{\"logicalType\": \"decimal\", \"type\": \"bytes\", \"scale\": 2, "
    "\"precision\": 12}} ] }";
static const char *const V2 =
    "{\"type\":\"record\",\"name\":\"orders\",\"namespace\":\"shop.public\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"amount\","
    "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
    "12,\"scale\":2}},{\"name\":\"note\",\"type\":[\"null\",\"string\"],"
    "\"default\":null}]}";
static const char *const V2_OTHER =
    "{\"type\":\"record\",\"name\":\"orders\",\"namespace\":\"shop.public\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"amount\","
    "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
    "12,\"scale\":2}},{\"name\":\"tag\",\"type\":\"string\",\"default\":\"\"}"
    "]}";
static const char *const BAD =
    "{\"type\":\"record\",\"name\":\"orders\",\"namespace\":\"shop.public\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"amount\","
    "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
    "12,\"scale\":3}},{\"name\":\"note\",\"type\":\"string\"}]}";

/* Per-test state: the registry directory. */
typedef struct fixture {
    char dir[64]; /* mkdtemp result */
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    strcpy(f->dir, "/tmp/tb_registry_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    chmod(f->dir, 0755); /* the permission test's child must get in */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static tb_registry *open_w(fixture *f)
{
    tb_registry *r = NULL;
    tb_error err;
    if (tb_registry_open(f->dir, TB_COMPAT_UNSET, TB_REGISTRY_WRITE, &r, &err) <
        0)
        fail_msg("open for write: %s", err.msg);
    return r;
}

static tb_registry *open_r(fixture *f)
{
    tb_registry *r = NULL;
    tb_error err;
    if (tb_registry_open(f->dir, TB_COMPAT_UNSET, TB_REGISTRY_READ, &r, &err) <
        0)
        fail_msg("open for read: %s", err.msg);
    return r;
}

static void reg_ok(tb_registry *r, const char *subj, const char *schema,
                   int want_id, int want_version)
{
    tb_error err;
    int id = -1, ver = -1;
    if (tb_registry_register(r, subj, schema, &id, &ver, &err) < 0)
        fail_msg("register %s: %s", subj, err.msg);
    assert_int_equal(id, want_id);
    assert_int_equal(ver, want_version);
}

static bool file_exists(const char *dir, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_register_lookup_idempotent(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    const char *text, *text2;
    int id, ver;
    tb_error err;

    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ, V1_REFORMATTED, 1, 1); /* same canonical form */
    reg_ok(r, SUBJ, V2, 2, 2);
    reg_ok(r, SUBJ, V1, 1, 1); /* an older version is found too */
    assert_true(file_exists(f->dir, "subjects/" SUBJ "/v1.avsc"));
    assert_true(file_exists(f->dir, "subjects/" SUBJ "/v2.avsc"));
    assert_false(file_exists(f->dir, "subjects/" SUBJ "/v3.avsc"));

    assert_int_equal(tb_registry_lookup(r, SUBJ, 0, &text, &id, &ver, &err), 0);
    assert_int_equal(id, 2);
    assert_int_equal(ver, 2);
    assert_non_null(strstr(text, "\"note\""));
    assert_int_equal(tb_registry_lookup(r, SUBJ, 1, &text, &id, &ver, &err), 0);
    assert_int_equal(id, 1);
    assert_int_equal(ver, 1);
    assert_null(strstr(text, "\"note\""));
    /* Pretty-printed original JSON, logical type attributes kept. */
    assert_non_null(strstr(text, "\n  \"type\": \"record\""));
    assert_non_null(strstr(text, "\"scale\": 2"));
    assert_int_equal(tb_registry_get_by_id(r, 1, &text2, &err), 0);
    assert_ptr_equal(text, text2);
    tb_registry_close(r);
}

static void test_ids_shared_never_reused(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ2, V1, 1, 1); /* same schema, other subject: same id */
    reg_ok(r, SUBJ2, V2, 2, 2);
    reg_ok(r, SUBJ, V2, 2, 2);
    tb_registry_close(r);

    r = open_w(f);
    reg_ok(r, SUBJ, V2_OTHER, 3, 3); /* a new schema gets a new id */
    reg_ok(r, "other.db.t-value", V1, 1, 1);
    tb_registry_close(r);
}

/* Collects "subject vN id" lines. */
static int collect(void *ctx, const tb_registry_entry *e, tb_error *err)
{
    (void)err;
    tb_buf *b = ctx;
    tb_buf_printf(b, "%s v%d id%d %016llx|", e->subject, e->version, e->id,
                  (unsigned long long)e->fingerprint);
    return 0;
}

static int stop_at_second(void *ctx, const tb_registry_entry *e, tb_error *err)
{
    int *n = ctx;
    if (++*n == 2)
        return tb_error_set(err, TB_ERR_INTERNAL, "stop at %s", e->subject);
    return 0;
}

static void test_reopen_same_answers(void **state)
{
    fixture *f = *state;
    tb_buf before = TB_BUF_INIT, after = TB_BUF_INIT;
    tb_registry *r = open_w(f);
    const char *t1, *t2;
    tb_error err;
    int id, ver, n = 0;

    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ, V2, 2, 2);
    reg_ok(r, SUBJ2, V2_OTHER, 3, 1);
    assert_int_equal(tb_registry_set_compat(r, SUBJ2, TB_COMPAT_FULL, &err), 0);
    assert_int_equal(tb_registry_list(r, collect, &before, &err), 0);
    assert_int_equal(tb_registry_list(r, stop_at_second, &n, &err), -1);
    assert_string_equal(err.msg, "stop at " SUBJ);
    assert_int_equal(tb_registry_lookup(r, SUBJ, 1, &t1, NULL, NULL, &err), 0);
    char *copy = strdup(t1);
    tb_registry_close(r);

    r = open_r(f);
    assert_int_equal(tb_registry_list(r, collect, &after, &err), 0);
    assert_string_equal((char *)before.data, (char *)after.data);
    /* Subjects sorted by name, versions ascending. */
    assert_true(strstr((char *)after.data, SUBJ2 " v1 id3") <
                strstr((char *)after.data, SUBJ " v1 id1"));
    assert_int_equal(tb_registry_lookup(r, SUBJ, 1, &t2, &id, &ver, &err), 0);
    assert_string_equal(copy, t2);
    assert_int_equal(tb_registry_get_compat(r, SUBJ2), TB_COMPAT_FULL);
    assert_int_equal(tb_registry_get_compat(r, SUBJ), TB_COMPAT_BACKWARD);
    tb_registry_close(r);
    free(copy);
    tb_buf_free(&before);
    tb_buf_free(&after);
}

static void test_incompatible_refused(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    const char *text;
    tb_error err;
    int id, ver;

    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ, V2, 2, 2);
    assert_int_equal(tb_registry_register(r, SUBJ, BAD, &id, &ver, &err), -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_string_equal(
        err.msg,
        "schema for subject " SUBJ " is not BACKWARD compatible with version "
        "2 (new schema would be version 3): field amount: decimal(12,2) -> "
        "decimal(12,3) changes precision or scale; field note: null -> "
        "string is not possible: a union branch of the writer "
        "cannot be read");
    /* Nothing was added. */
    assert_int_equal(tb_registry_lookup(r, SUBJ, 0, &text, &id, &ver, &err), 0);
    assert_int_equal(ver, 2);
    assert_false(file_exists(f->dir, "subjects/" SUBJ "/v3.avsc"));
    /* With NONE it goes in, with the next id. */
    assert_int_equal(tb_registry_set_compat(r, SUBJ, TB_COMPAT_NONE, &err), 0);
    reg_ok(r, SUBJ, BAD, 3, 3);
    tb_registry_close(r);
}

static void test_transitive_in_registry(void **state)
{
    fixture *f = *state;
    const char *a = "{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":"
                    "\"id\",\"type\":\"int\"}]}";
    const char *b = "{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":"
                    "\"id\",\"type\":\"int\"},{\"name\":\"n\",\"type\":"
                    "\"string\",\"default\":\"\"}]}";
    const char *c = "{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":"
                    "\"id\",\"type\":\"int\"},{\"name\":\"n\",\"type\":"
                    "\"string\"}]}";
    tb_registry *r = open_w(f);
    tb_error err;
    assert_int_equal(tb_registry_set_compat(
                         r, "x.y.t-value", TB_COMPAT_BACKWARD_TRANSITIVE, &err),
                     0);
    assert_int_equal(
        tb_registry_set_compat(r, "x.y.u-value", TB_COMPAT_BACKWARD, &err), 0);
    reg_ok(r, "x.y.t-value", a, 1, 1);
    reg_ok(r, "x.y.t-value", b, 2, 2);
    assert_int_equal(
        tb_registry_register(r, "x.y.t-value", c, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "is not BACKWARD_TRANSITIVE compatible "
                                    "with version 1 (new schema would be "
                                    "version 3): field n: added without a "
                                    "default"));
    reg_ok(r, "x.y.u-value", a, 1, 1);
    reg_ok(r, "x.y.u-value", b, 2, 2);
    reg_ok(r, "x.y.u-value", c, 3, 3); /* plain BACKWARD: only v2 matters */
    tb_registry_close(r);
}

static void test_compat_settings(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    tb_error err;
    assert_int_equal(tb_registry_get_compat(r, NULL), TB_COMPAT_BACKWARD);
    assert_int_equal(tb_registry_set_compat(r, NULL, TB_COMPAT_FULL, &err), 0);
    assert_int_equal(tb_registry_set_compat(r, SUBJ, TB_COMPAT_NONE, &err), 0);
    assert_int_equal(tb_registry_get_compat(r, SUBJ), TB_COMPAT_NONE);
    assert_int_equal(tb_registry_get_compat(r, SUBJ2), TB_COMPAT_FULL);
    assert_int_equal(tb_registry_set_compat(r, SUBJ, TB_COMPAT_UNSET, &err), 0);
    assert_int_equal(tb_registry_get_compat(r, SUBJ), TB_COMPAT_FULL);
    assert_int_equal(tb_registry_set_compat(r, SUBJ2, TB_COMPAT_FORWARD, &err),
                     0);
    assert_int_equal(tb_registry_set_compat(r, "bad", TB_COMPAT_FORWARD, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_CONFIG);
    tb_registry_close(r);

    r = open_r(f);
    assert_int_equal(tb_registry_get_compat(r, NULL), TB_COMPAT_FULL);
    assert_int_equal(tb_registry_get_compat(r, SUBJ2), TB_COMPAT_FORWARD);
    /* A subject without versions is not listed and not found. */
    assert_int_equal(tb_registry_lookup(r, SUBJ2, 0, &(const char *){NULL},
                                        NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
    tb_registry_close(r);

    /* The default given at open (the configuration) wins and is saved. */
    assert_int_equal(tb_registry_open(f->dir, TB_COMPAT_FORWARD_TRANSITIVE,
                                      TB_REGISTRY_WRITE, &r, &err),
                     0);
    assert_int_equal(tb_registry_get_compat(r, SUBJ),
                     TB_COMPAT_FORWARD_TRANSITIVE);
    tb_registry_close(r);
    r = open_r(f);
    assert_int_equal(tb_registry_get_compat(r, NULL),
                     TB_COMPAT_FORWARD_TRANSITIVE);
    tb_registry_close(r);
}

static void test_second_writer_locked(void **state)
{
    fixture *f = *state;
    tb_registry *w = open_w(f), *w2 = NULL, *rd;
    tb_error err;
    char pid[32];
    reg_ok(w, SUBJ, V1, 1, 1);
    assert_int_equal(
        tb_registry_open(f->dir, TB_COMPAT_UNSET, TB_REGISTRY_WRITE, &w2, &err),
        -1);
    assert_null(w2);
    assert_int_equal(err.code, TB_ERR_LOCKED);
    snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
    assert_non_null(strstr(err.msg, pid));
    assert_non_null(strstr(err.msg, "another tributary process"));
    assert_non_null(strstr(err.msg, f->dir));
    /* Readers need no lock. */
    rd = open_r(f);
    assert_int_equal(tb_registry_register(rd, SUBJ, V2, NULL, NULL, &err), -1);
    assert_int_equal(err.code, TB_ERR_USAGE);
    tb_registry_close(rd);
    tb_registry_close(w);
    /* Released at close. */
    w = open_w(f);
    tb_registry_close(w);
}

static void test_not_found_errors(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    const char *t;
    tb_error err;
    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ, V2, 2, 2);
    assert_int_equal(
        tb_registry_lookup(r, "no.such.t-value", 0, &t, NULL, NULL, &err), -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "unknown subject no.such.t-value"));
    assert_int_equal(tb_registry_lookup(r, SUBJ, 7, &t, NULL, NULL, &err), -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
    assert_non_null(
        strstr(err.msg, "has no version 7; existing versions: 1, 2"));
    assert_int_equal(tb_registry_get_by_id(r, 9, &t, &err), -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no schema with id 9"));
    tb_registry_close(r);

    /* A reader on a directory that does not exist. */
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", f->dir);
    r = NULL;
    assert_int_equal(
        tb_registry_open(missing, TB_COMPAT_UNSET, TB_REGISTRY_READ, &r, &err),
        -1);
    assert_int_equal(err.code, TB_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, missing));
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    tb_error err;
    static const char *const bad_subjects[] = {
        "orders-value",
        "shop.public.orders",
        "shop/x.public.orders-value",
        ".shop.public.orders-value",
        "shop..orders-value",
        "",
    };
    for (size_t i = 0; i < sizeof bad_subjects / sizeof bad_subjects[0]; i++) {
        assert_int_equal(
            tb_registry_register(r, bad_subjects[i], V1, NULL, NULL, &err), -1);
        assert_int_equal(err.code, TB_ERR_CONFIG);
        assert_non_null(strstr(err.msg, "invalid subject name"));
    }
    assert_int_equal(tb_registry_register(r, SUBJ, "{\"type\": \"record\",\n",
                                          NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_non_null(
        strstr(err.msg, "schema for subject " SUBJ " is not valid JSON"));
    assert_non_null(strstr(err.msg, "line "));
    assert_int_equal(tb_registry_register(r, SUBJ, "{\"type\":\"recrod\"}",
                                          NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_non_null(strstr(err.msg, "is not a valid Avro schema"));
    assert_non_null(strstr(err.msg, "unknown type \"recrod\""));
    /* Nothing was created by the failures. */
    assert_false(file_exists(f->dir, "subjects/" SUBJ));
    tb_registry_close(r);
}

/* Open must fail with TB_ERR_SCHEMA mentioning all of the words. */
static void expect_corrupt(fixture *f, const char *w1, const char *w2)
{
    tb_registry *r = NULL;
    tb_error err;
    for (int acc = 0; acc < 2; acc++) {
        assert_int_equal(tb_registry_open(f->dir, TB_COMPAT_UNSET,
                                          (tb_registry_access)acc, &r, &err),
                         -1);
        assert_int_equal(err.code, TB_ERR_SCHEMA);
        if (!strstr(err.msg, w1) || !strstr(err.msg, w2))
            fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, w1, w2);
    }
}

static void test_corrupt_files(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    char idx[8192];
    reg_ok(r, SUBJ, V1, 1, 1);
    reg_ok(r, SUBJ, V2, 2, 2);
    tb_registry_close(r);

    /* A truncated .avsc. */
    write_file(f->dir, "subjects/" SUBJ "/v2.avsc", "{\"type\": \"rec");
    expect_corrupt(f, "subjects/" SUBJ "/v2.avsc", "not valid JSON");
    /* Refused, not repaired: the broken file is still there as it was. */
    {
        char *data;
        size_t len;
        tb_error err;
        char p[256];
        snprintf(p, sizeof p, "%s/subjects/" SUBJ "/v2.avsc", f->dir);
        assert_int_equal(tb_store_read_file(p, &data, &len, &err), 0);
        assert_string_equal(data, "{\"type\": \"rec");
        free(data);
    }
    /* Valid JSON, but another schema than the index says. */
    write_file(f->dir, "subjects/" SUBJ "/v2.avsc", V2_OTHER);
    expect_corrupt(f, "v2.avsc is corrupt: its fingerprint", "index.json");
    /* A missing .avsc. */
    char p[256];
    snprintf(p, sizeof p, "%s/subjects/" SUBJ "/v2.avsc", f->dir);
    unlink(p);
    expect_corrupt(f, "v2.avsc is missing", "index.json");
    write_file(f->dir, "subjects/" SUBJ "/v2.avsc", V2);
    /* Restored with equal content (other formatting): fine again. */
    r = open_r(f);
    tb_registry_close(r);

    /* A corrupt index. */
    FILE *fp;
    snprintf(p, sizeof p, "%s/index.json", f->dir);
    fp = fopen(p, "r");
    assert_non_null(fp);
    size_t n = fread(idx, 1, sizeof idx - 1, fp);
    idx[n] = '\0';
    fclose(fp);
    write_file(f->dir, "index.json", "{\"format\": 1, \"next_id\": ");
    expect_corrupt(f, "index.json is corrupt: not valid JSON", "line 1");
    write_file(f->dir, "index.json",
               "{\"format\": 1, \"next_id\": 3, "
               "\"compatibility\": \"SIDEWAYS\", "
               "\"subjects\": {}}");
    expect_corrupt(f, "index.json is corrupt", "compatibility");
    write_file(f->dir, "index.json",
               "{\"format\": 1, \"next_id\": 2, \"compatibility\": "
               "\"BACKWARD\", \"subjects\": {\"" SUBJ "\": {\"versions\": "
               "[{\"version\": 1, \"id\": 5, \"fingerprint\": "
               "\"0000000000000000\"}]}}}");
    expect_corrupt(f, "index.json is corrupt", "subject " SUBJ);
    write_file(f->dir, "index.json", idx);
    r = open_w(f);
    reg_ok(r, SUBJ, V2_OTHER, 3, 3);
    tb_registry_close(r);
}

/* Runs as "nobody" in a child: a registry directory owned by root with mode
 * 0755 must be refused for writing with a clear message, and read fine. */
static int child_no_permission(const char *dir)
{
    struct passwd *pw = getpwnam("nobody");
    uid_t uid = pw ? pw->pw_uid : 65534;
    gid_t gid = pw ? pw->pw_gid : 65534;
    tb_registry *r = NULL;
    tb_error err;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) return 10;
    if (tb_registry_open(dir, TB_COMPAT_UNSET, TB_REGISTRY_WRITE, &r, &err) ==
        0)
        return 11;
    if (err.code != TB_ERR_IO) return 12;
    if (!strstr(err.msg, dir) || !strstr(err.msg, "write permission"))
        return 13;
    if (tb_registry_open(dir, TB_COMPAT_UNSET, TB_REGISTRY_READ, &r, &err) < 0)
        return 14;
    tb_registry_close(r);
    return 0;
}

static void test_no_write_permission(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    int status;
    reg_ok(r, SUBJ, V1, 1, 1);
    tb_registry_close(r);
    if (geteuid() != 0) {
        /* Not root: permission bits apply to us directly. */
        tb_error err;
        assert_int_equal(chmod(f->dir, 0555), 0);
        assert_int_equal(tb_registry_open(f->dir, TB_COMPAT_UNSET,
                                          TB_REGISTRY_WRITE, &r, &err),
                         -1);
        chmod(f->dir, 0755);
        assert_int_equal(err.code, TB_ERR_IO);
        assert_non_null(strstr(err.msg, "write permission"));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(child_no_permission(f->dir));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child as nobody failed check %d", WEXITSTATUS(status));
}

/* Fork a child that opens the registry and registers schema with
 * TB_REGISTRY_CRASH_AT=point; it must die of SIGKILL. */
static void crash_registering(fixture *f, const char *point, const char *schema)
{
    int status;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tb_registry *r = NULL;
        tb_error err;
        setenv("TB_REGISTRY_CRASH_AT", point, 1);
        if (tb_registry_open(f->dir, TB_COMPAT_UNSET, TB_REGISTRY_WRITE, &r,
                             &err) < 0)
            _exit(2);
        tb_registry_register(r, SUBJ, schema, NULL, NULL, &err);
        _exit(3); /* not reached when the hook fires */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_crash_before_rename(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    const char *t;
    int id, ver;
    tb_error err;
    reg_ok(r, SUBJ, V1, 1, 1);
    tb_registry_close(r);

    crash_registering(f, "before_rename", V2);
    /* The child died with its temp file written but not renamed. */
    assert_true(file_exists(f->dir, "subjects/" SUBJ "/.v2.avsc.tmp"));
    assert_false(file_exists(f->dir, "subjects/" SUBJ "/v2.avsc"));

    /* A reader sees the previous state, consistent. */
    r = open_r(f);
    assert_int_equal(tb_registry_lookup(r, SUBJ, 0, &t, &id, &ver, &err), 0);
    assert_int_equal(ver, 1);
    assert_int_equal(id, 1);
    tb_registry_close(r);

    /* The next writer cleans up and registers. */
    r = open_w(f);
    assert_false(file_exists(f->dir, "subjects/" SUBJ "/.v2.avsc.tmp"));
    reg_ok(r, SUBJ, V2, 2, 2);
    tb_registry_close(r);
    r = open_r(f);
    assert_int_equal(tb_registry_lookup(r, SUBJ, 0, &t, &id, &ver, &err), 0);
    assert_int_equal(ver, 2);
    assert_non_null(strstr(t, "\"note\""));
    tb_registry_close(r);
}

static void test_crash_before_index(void **state)
{
    fixture *f = *state;
    tb_registry *r = open_w(f);
    const char *t;
    int id, ver;
    tb_error err;
    reg_ok(r, SUBJ, V1, 1, 1);
    tb_registry_close(r);

    /* The .avsc is durable, the index was not yet rewritten. */
    crash_registering(f, "before_index", V2);
    assert_true(file_exists(f->dir, "subjects/" SUBJ "/v2.avsc"));
    r = open_r(f);
    assert_int_equal(tb_registry_lookup(r, SUBJ, 0, &t, &id, &ver, &err), 0);
    assert_int_equal(ver, 1);
    tb_registry_close(r);

    /* Another schema takes version 2 (and id 2): the orphan is replaced. */
    r = open_w(f);
    reg_ok(r, SUBJ, V2_OTHER, 2, 2);
    tb_registry_close(r);
    r = open_r(f);
    assert_int_equal(tb_registry_lookup(r, SUBJ, 2, &t, &id, &ver, &err), 0);
    assert_non_null(strstr(t, "\"tag\""));
    assert_null(strstr(t, "\"note\""));
    tb_registry_close(r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_register_lookup_idempotent),
        T(test_ids_shared_never_reused),
        T(test_reopen_same_answers),
        T(test_incompatible_refused),
        T(test_transitive_in_registry),
        T(test_compat_settings),
        T(test_second_writer_locked),
        T(test_not_found_errors),
        T(test_bad_input),
        T(test_corrupt_files),
        T(test_no_write_permission),
        T(test_crash_before_rename),
        T(test_crash_before_index),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
