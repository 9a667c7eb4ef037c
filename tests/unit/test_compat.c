/*
 * test_compat.c - compatibility decisions, checked in every mode.
 *
 * Each case is an (old, new) pair with two verdicts: "back" (the new schema
 * reads data written with the old one) and "fwd" (the old schema reads data
 * written with the new one), and the problem text expected in each failing
 * direction. Every case is run through tb_compat_check_mode in all seven
 * modes; the expected verdict of a mode follows from the two directions
 * (NONE: always; BACKWARD[_TRANSITIVE]: back; FORWARD[_TRANSITIVE]: fwd;
 * FULL[_TRANSITIVE]: both), and a refusal must name the version and carry
 * the expected field text. Schemas are written with ' for " for legibility.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tb_compat.h"

/* A record "orders" with the given fields (in ' quotes). */
#define REC(fields)   "{'type':'record','name':'orders','fields':[" fields "]}"
#define F(name, type) "{'name':'" name "','type':" type "}"
#define FD(name, type, def)                                                    \
    "{'name':'" name "','type':" type ",'default':" def "}"
#define ENUM(syms) "{'type':'enum','name':'Status','symbols':[" syms "]}"
#define ENUMD(syms, def)                                                       \
    "{'type':'enum','name':'Status','symbols':[" syms "],'default':'" def "'}"
#define DEC(p, s)                                                              \
    "{'type':'bytes','logicalType':'decimal','precision':" #p ",'scale':" #s "}"

typedef struct ccase {
    const char *name;     /* what the case is about */
    const char *old;      /* schema of version 1 */
    const char *new;      /* the schema being registered */
    bool back;            /* new reads old data */
    bool fwd;             /* old reads new data */
    const char *back_msg; /* expected text when !back */
    const char *fwd_msg;  /* expected text when !fwd */
} ccase;

static const ccase cases[] = {
    {"identical", REC(F("id", "'int'")), REC(F("id", "'int'")), true, true},
    {"decimal with special-value string branch, unchanged",
     REC(F("c", "['null'," DEC(8, 2) ",'string']")),
     REC(F("c", "['null'," DEC(8, 2) ",'string']")), true, true},
    {"field added with default", REC(F("id", "'int'")),
     REC(F("id", "'int'") "," FD("note", "'string'", "''")), true, true},
    {"field added without default", REC(F("id", "'int'")),
     REC(F("id", "'int'") "," F("note", "'string'")), false, true,
     "field note: added without a default"},
    {"field removed with default",
     REC(F("id", "'int'") "," FD("note", "'string'", "''")),
     REC(F("id", "'int'")), true, true},
    {"field removed without default",
     REC(F("id", "'int'") "," F("note", "'string'")), REC(F("id", "'int'")),
     true, false, NULL,
     "field note: removed, but the old schema has no default for it"},
    {"int -> long", REC(F("n", "'int'")), REC(F("n", "'long'")), true, false,
     NULL, "field n: long -> int is not a promotion"},
    {"long -> float", REC(F("n", "'long'")), REC(F("n", "'float'")), true,
     false, NULL, "field n: float -> long is not a promotion"},
    {"float -> double", REC(F("n", "'float'")), REC(F("n", "'double'")), true,
     false, NULL, "field n: double -> float is not a promotion"},
    {"int -> double", REC(F("n", "'int'")), REC(F("n", "'double'")), true,
     false, NULL, "field n: double -> int is not a promotion"},
    {"long -> int (narrowing)", REC(F("n", "'long'")), REC(F("n", "'int'")),
     false, true, "field n: long -> int is not a promotion"},
    {"double -> float (narrowing)", REC(F("n", "'double'")),
     REC(F("n", "'float'")), false, true,
     "field n: double -> float is not a promotion"},
    {"string -> bytes", REC(F("s", "'string'")), REC(F("s", "'bytes'")), true,
     true},
    {"bytes -> string", REC(F("s", "'bytes'")), REC(F("s", "'string'")), true,
     true},
    {"long -> string", REC(F("amount", "'long'")), REC(F("amount", "'string'")),
     false, false, "field amount: long -> string is not a promotion",
     "field amount: string -> long is not a promotion"},
    {"union widened", REC(F("u", "['null','int']")),
     REC(F("u", "['null','int','string']")), true, false, NULL,
     "field u: string -> [null, int] is not possible: no branch of the "
     "union matches"},
    {"union narrowed", REC(F("u", "['null','int','string']")),
     REC(F("u", "['null','int']")), false, true,
     "field u: string -> [null, int] is not possible"},
    {"nullable -> non-nullable", REC(FD("v", "['null','long']", "null")),
     REC(F("v", "'long'")), false, true,
     "field v: null -> long is not possible: a union branch of the writer "
     "cannot be read"},
    {"non-nullable -> nullable", REC(F("v", "'long'")),
     REC(FD("v", "['null','long']", "null")), true, false, NULL,
     "field v: null -> long is not possible"},
    {"enum symbol added, no enum default", REC(F("st", ENUM("'A','B'"))),
     REC(F("st", ENUM("'A','B','C'"))), true, false, NULL,
     "field st: enum Status: symbol C of the writer missing in the reader, "
     "which has no enum default"},
    {"enum symbol added, enum default", REC(F("st", ENUMD("'A','B'", "A"))),
     REC(F("st", ENUMD("'A','B','C'", "A"))), true, true},
    {"enum symbols removed, no enum default",
     REC(F("st", ENUM("'A','B','C','D'"))), REC(F("st", ENUM("'A','B'"))),
     false, true, "field st: enum Status: symbols C, D of the writer missing"},
    {"enum symbol removed, enum default", REC(F("st", ENUM("'A','B','C'"))),
     REC(F("st", ENUMD("'A','B'", "A"))), true, true},
    {"decimal scale changed", REC(F("amount", DEC(12, 2))),
     REC(F("amount", DEC(12, 3))), false, false,
     "field amount: decimal(12,2) -> decimal(12,3) changes precision or "
     "scale",
     "field amount: decimal(12,3) -> decimal(12,2) changes precision or "
     "scale"},
    {"decimal precision changed", REC(F("amount", DEC(12, 2))),
     REC(F("amount", DEC(14, 2))), false, false,
     "decimal(12,2) -> decimal(14,2) changes precision or scale",
     "decimal(14,2) -> decimal(12,2) changes precision or scale"},
    {"timestamp-millis -> timestamp-micros",
     REC(F("ts", "{'type':'long','logicalType':'timestamp-millis'}")),
     REC(F("ts", "{'type':'long','logicalType':'timestamp-micros'}")), false,
     false,
     "field ts: long(timestamp-millis) -> long(timestamp-micros) changes the "
     "logical type",
     "field ts: long(timestamp-micros) -> long(timestamp-millis) changes the "
     "logical type"},
    {"field renamed with alias", REC(F("amount", "'long'")),
     REC("{'name':'total','type':'long','aliases':['amount']}"), true, false,
     NULL, "field amount: removed, but the old schema has no default"},
    {"field renamed without alias", REC(F("amount", "'long'")),
     REC(F("total", "'long'")), false, false,
     "field total: added without a default",
     "field amount: removed, but the old schema has no default"},
    {"nested record field type changed",
     REC(F("customer",
           "{'type':'record','name':'C','fields':[" F("zip", "'int'") "]}")),
     REC(F("customer",
           "{'type':'record','name':'C','fields':[" F("zip", "'string'") "]}")),
     false, false, "field customer.zip: int -> string is not a promotion",
     "field customer.zip: string -> int is not a promotion"},
    {"nested record field added without default",
     REC(F("customer",
           "{'type':'record','name':'C','fields':[" F("zip", "'int'") "]}")),
     REC(F("customer", "{'type':'record','name':'C','fields':[" F(
                           "zip", "'int'") "," F("city", "'string'") "]}")),
     false, true, "field customer.city: added without a default"},
    {"array items int -> long",
     REC(F("tags", "{'type':'array','items':'int'}")),
     REC(F("tags", "{'type':'array','items':'long'}")), true, false, NULL,
     "field tags[]: long -> int is not a promotion"},
    {"map values string -> bytes",
     REC(F("attrs", "{'type':'map','values':'string'}")),
     REC(F("attrs", "{'type':'map','values':'bytes'}")), true, true},
    {"fixed size changed",
     REC(F("h", "{'type':'fixed','name':'md5','size':16}")),
     REC(F("h", "{'type':'fixed','name':'md5','size':20}")), false, false,
     "field h: fixed md5(16) -> fixed md5(20) changes the size",
     "field h: fixed md5(20) -> fixed md5(16) changes the size"},
    {"record renamed with alias", REC(F("id", "'int'")),
     "{'type':'record','name':'orders2','aliases':['orders'],'fields':[" F(
         "id", "'int'") "]}",
     true, false, NULL,
     "schema: record orders2 -> record orders changes the name"},
    {"two offending fields", REC(F("id", "'int'") "," F("amount", "'long'")),
     REC(F("id", "'int'") "," F("amount", "'string'") "," F("note",
                                                            "'string'")),
     false, false,
     "field amount: long -> string is not a promotion; field note: added "
     "without a default",
     "field amount: string -> long is not a promotion"},
};

/* Replace ' by " in a copy. */
static char *dq(const char *s)
{
    char *c = strdup(s);
    assert_non_null(c);
    for (char *p = c; *p; p++)
        if (*p == '\'') *p = '"';
    return c;
}

static json_t *load(const char *s)
{
    char *t = dq(s);
    json_error_t je;
    json_t *j = json_loads(t, JSON_DECODE_ANY, &je);
    if (!j) fail_msg("bad test JSON %s: %s", t, je.text);
    free(t);
    return j;
}

static bool mode_back(tb_compat_mode m)
{
    return m == TB_COMPAT_BACKWARD || m == TB_COMPAT_FULL ||
           m == TB_COMPAT_BACKWARD_TRANSITIVE || m == TB_COMPAT_FULL_TRANSITIVE;
}

static bool mode_fwd(tb_compat_mode m)
{
    return m == TB_COMPAT_FORWARD || m == TB_COMPAT_FULL ||
           m == TB_COMPAT_FORWARD_TRANSITIVE || m == TB_COMPAT_FULL_TRANSITIVE;
}

static void test_table_every_mode(void **state)
{
    (void)state;
    assert_true(sizeof cases / sizeof cases[0] >= 20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ccase *c = &cases[i];
        json_t *old = load(c->old), *new = load(c->new);
        const json_t *olds[1] = {old};
        int vers[1] = {1};
        for (int m = 0; m < TB_COMPAT__COUNT; m++) {
            tb_error err;
            bool need_back = mode_back((tb_compat_mode)m);
            bool need_fwd = mode_fwd((tb_compat_mode)m);
            bool want_ok = (!need_back || c->back) && (!need_fwd || c->fwd);
            char head[128];
            tb_error_clear(&err);
            int rc = tb_compat_check_mode((tb_compat_mode)m, "s.public.t-value",
                                          new, 2, olds, vers, 1, &err);
            if ((rc == 0) != want_ok)
                fail_msg("case \"%s\" mode %s: got %s (%s), want %s", c->name,
                         tb_compat_mode_name((tb_compat_mode)m),
                         rc == 0 ? "compatible" : "refused", err.msg,
                         want_ok ? "compatible" : "refused");
            if (want_ok) continue;
            assert_int_equal(err.code, TB_ERR_SCHEMA);
            snprintf(head, sizeof head,
                     "schema for subject s.public.t-value is not %s "
                     "compatible with version 1 (new schema would be "
                     "version 2): ",
                     tb_compat_mode_name((tb_compat_mode)m));
            if (strncmp(err.msg, head, strlen(head)) != 0)
                fail_msg("case \"%s\" mode %s: message \"%s\"", c->name,
                         tb_compat_mode_name((tb_compat_mode)m), err.msg);
            if (need_back && !c->back && !strstr(err.msg, c->back_msg))
                fail_msg("case \"%s\" mode %s: \"%s\" lacks \"%s\"", c->name,
                         tb_compat_mode_name((tb_compat_mode)m), err.msg,
                         c->back_msg);
            if (need_fwd && !c->fwd && !strstr(err.msg, c->fwd_msg))
                fail_msg("case \"%s\" mode %s: \"%s\" lacks \"%s\"", c->name,
                         tb_compat_mode_name((tb_compat_mode)m), err.msg,
                         c->fwd_msg);
        }
        json_decref(old);
        json_decref(new);
    }
}

/* The example of the spec of this module, word for word. */
static void test_example_message(void **state)
{
    (void)state;
    json_t *old = load(REC(F("id", "'int'") "," F("amount", "'long'")));
    json_t *new = load(REC(F("id", "'int'") "," F("amount", "'string'") "," F(
        "note", "'string'")));
    const json_t *olds[2] = {old, old};
    int vers[2] = {1, 2};
    tb_error err;
    assert_int_equal(tb_compat_check_mode(TB_COMPAT_BACKWARD,
                                          "shop.public.orders-value", new, 3,
                                          olds, vers, 2, &err),
                     -1);
    assert_string_equal(
        err.msg, "schema for subject shop.public.orders-value is not BACKWARD "
                 "compatible with version 2 (new schema would be version 3): "
                 "field amount: long -> string is not a promotion; field "
                 "note: added without a default");
    json_decref(old);
    json_decref(new);
}

/* Three versions where only the oldest conflicts: the plain modes accept,
 * the transitive ones refuse and name version 1 only. */
static void test_transitive(void **state)
{
    (void)state;
    static const struct {
        const char *v1, *v2, *v3;
        tb_compat_mode plain, trans;
        const char *msg;
    } t[] = {
        {REC(F("id", "'int'")),
         REC(F("id", "'int'") "," FD("note", "'string'", "''")),
         REC(F("id", "'int'") "," F("note", "'string'")), TB_COMPAT_BACKWARD,
         TB_COMPAT_BACKWARD_TRANSITIVE, "field note: added without a default"},
        {REC(F("id", "'int'") "," F("note", "'string'")),
         REC(F("id", "'int'") "," FD("note", "'string'", "''")),
         REC(F("id", "'int'")), TB_COMPAT_FORWARD, TB_COMPAT_FORWARD_TRANSITIVE,
         "field note: removed, but the old schema has no default"},
        {REC(F("id", "'int'")),
         REC(F("id", "'int'") "," FD("note", "'string'", "''")),
         REC(F("id", "'int'") "," F("note", "'string'")), TB_COMPAT_FULL,
         TB_COMPAT_FULL_TRANSITIVE, "field note: added without a default"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *v1 = load(t[i].v1), *v2 = load(t[i].v2), *v3 = load(t[i].v3);
        const json_t *olds[2] = {v1, v2};
        int vers[2] = {1, 2};
        tb_error err;
        /* v2 itself was acceptable after v1 in the transitive mode. */
        assert_int_equal(tb_compat_check_mode(t[i].trans, "a.b.c-value", v2, 2,
                                              olds, vers, 1, &err),
                         0);
        assert_int_equal(tb_compat_check_mode(t[i].plain, "a.b.c-value", v3, 3,
                                              olds, vers, 2, &err),
                         0);
        assert_int_equal(tb_compat_check_mode(t[i].trans, "a.b.c-value", v3, 3,
                                              olds, vers, 2, &err),
                         -1);
        assert_non_null(strstr(err.msg, "compatible with version 1 "));
        assert_null(strstr(err.msg, "version 2:"));
        assert_non_null(strstr(err.msg, t[i].msg));
        assert_non_null(strstr(err.msg, tb_compat_mode_name(t[i].trans)));
        json_decref(v1);
        json_decref(v2);
        json_decref(v3);
    }
}

static void test_mode_parse(void **state)
{
    (void)state;
    tb_compat_mode m;
    tb_error err;
    assert_int_equal(tb_compat_mode_parse("backward", &m, &err), 0);
    assert_int_equal(m, TB_COMPAT_BACKWARD);
    assert_int_equal(tb_compat_mode_parse("FULL_TRANSITIVE", &m, &err), 0);
    assert_int_equal(m, TB_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(tb_compat_mode_parse("forward-transitive", &m, &err), 0);
    assert_int_equal(m, TB_COMPAT_FORWARD_TRANSITIVE);
    assert_int_equal(tb_compat_mode_parse("None", &m, &err), 0);
    assert_int_equal(m, TB_COMPAT_NONE);
    for (int i = 0; i < TB_COMPAT__COUNT; i++) {
        assert_int_equal(tb_compat_mode_parse(
                             tb_compat_mode_name((tb_compat_mode)i), &m, &err),
                         0);
        assert_int_equal(m, i);
    }
    assert_int_equal(tb_compat_mode_parse("sideways", &m, &err), -1);
    assert_int_equal(err.code, TB_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "\"sideways\""));
    assert_non_null(strstr(err.msg, "NONE, BACKWARD, FORWARD, FULL, "
                                    "BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE, "
                                    "FULL_TRANSITIVE"));
    assert_int_equal(tb_compat_mode_parse("", &m, &err), -1);
}

/* Recursive records terminate; a change deep inside is still found. */
static void test_recursive(void **state)
{
    (void)state;
    json_t *a = load("{'type':'record','name':'L','fields':[" F(
        "v", "'int'") "," F("next", "['null','L']") "]}");
    json_t *b = load("{'type':'record','name':'L','fields':[" F(
        "v", "'string'") "," F("next", "['null','L']") "]}");
    tb_buf issues = TB_BUF_INIT;
    int n = -1;
    tb_error err;
    assert_int_equal(tb_compat_check(a, a, true, &issues, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tb_compat_check(a, b, true, &issues, &n, &err), 0);
    assert_true(n >= 1);
    assert_non_null(strstr((char *)issues.data,
                           "field v: int -> string is not a promotion"));
    tb_buf_free(&issues);
    json_decref(a);
    json_decref(b);
}

/* Many problems: the message is cut to fit and says so. */
static void test_long_message_is_cut_visibly(void **state)
{
    (void)state;
    tb_buf s = TB_BUF_INIT;
    tb_buf_puts(&s, "{\"type\":\"record\",\"name\":\"orders\",\"fields\":[");
    for (int i = 0; i < 80; i++)
        tb_buf_printf(&s,
                      "%s{\"name\":\"a_rather_long_field_name_%d\","
                      "\"type\":\"int\"}",
                      i ? "," : "", i);
    tb_buf_puts(&s, "]}");
    json_t *old = load(REC(F("x", "'int'")));
    json_t *new = json_loads((char *)s.data, 0, NULL);
    const json_t *olds[1] = {old};
    int vers[1] = {1};
    tb_error err;
    assert_non_null(new);
    assert_int_equal(tb_compat_check_mode(TB_COMPAT_BACKWARD, "a.b.c-value",
                                          new, 2, olds, vers, 1, &err),
                     -1);
    assert_true(strlen(err.msg) < TB_ERROR_MSG_MAX);
    if (!strstr(err.msg, "(cut: 80 problems in all)")) fail_msg("%s", err.msg);
    tb_buf_free(&s);
    json_decref(old);
    json_decref(new);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_every_mode),
        cmocka_unit_test(test_example_message),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_mode_parse),
        cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_long_message_is_cut_visibly),
    };
    return cmocka_run_group_tests_name("compat", tests, NULL, NULL);
}
