/*
 * test_canonical.c - Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * The vectors are the Avro project's share/test/data/schema-tests.txt cases
 * (input, canonical form, signed 64-bit fingerprint as Java prints it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tb_compat.h"

typedef struct vec {
    const char *input;     /* schema JSON */
    const char *canonical; /* expected PCF */
    int64_t fingerprint;   /* expected; 0 = not given in the spec tests */
} vec;

static const vec vectors[] = {
    {"\"null\"", "\"null\"", 7195948357588979594LL},
    {"{\"type\":\"null\"}", "\"null\"", 0},
    {"\"boolean\"", "\"boolean\"", -6970731678124411036LL},
    {"\"int\"", "\"int\"", 8247732601305521295LL},
    {"{\"type\":\"int\"}", "\"int\"", 0},
    {"\"long\"", "\"long\"", -3434872931120570953LL},
    {"\"float\"", "\"float\"", 5583340709985441680LL},
    {"\"double\"", "\"double\"", -8181574048448539266LL},
    {"\"bytes\"", "\"bytes\"", 5746618253357095269LL},
    {"\"string\"", "\"string\"", -8142146995180207161LL},
    {"[  ]", "[]", -1241056759729112623LL},
    {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493LL},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]",
     5392556393470105090LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
     -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
     "\"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}",
     5916914534497305771LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", "
     "\"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}",
     -4616218487480524110LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful "
     "info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
     -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
     -4824392279771201922LL},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], "
     "\"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
     "\"type\":\"boolean\"}]}",
     7843277075252814651LL},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"}, {\"order\":\"descending\",\"name\":\"f2\","
     "\"doc\":\"Hello\",\"type\":\"int\"}], \"type\":\"record\", "
     "\"name\":\"foo\" }",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\","
     "\"type\":\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}",
     -4860222112080293046LL},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
     -6342190197741309591LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", "
     "\"doc\":\"foo bar\", \"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245LL},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     1756455273707447556LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", "
     "\"doc\":\"foo bar\", \"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}",
     -3064184465700546786LL},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059LL},
    {"{ \"values\":\"string\", \"type\":\"map\"}",
     "{\"type\":\"map\",\"values\":\"string\"}", -8732877298790414990LL},
    {"{\"name\":\"PigValue\",\"type\":\"record\", \"fields\":[{\"name\":"
     "\"value\", \"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":"
     "\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     -1759257747318642341LL},
};

static char *canon_text(const char *json, tb_canon_kind kind, tb_buf *b,
                        tb_error *err)
{
    json_error_t je;
    json_t *s = json_loads(json, JSON_DECODE_ANY, &je);
    assert_non_null(s);
    tb_buf_reset(b);
    int rc = tb_canon_form(s, kind, b, err);
    json_decref(s);
    return rc == 0 ? (char *)b->data : NULL;
}

static void test_spec_vectors(void **state)
{
    (void)state;
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vec *v = &vectors[i];
        char *got = canon_text(v->input, TB_CANON_PCF, &b, &err);
        if (!got) fail_msg("vector %zu: %s", i, err.msg);
        assert_string_equal(got, v->canonical);
        if (v->fingerprint) {
            uint64_t fp = tb_canon_fingerprint(b.data, b.len);
            if ((int64_t)fp != v->fingerprint)
                fail_msg("vector %zu: fingerprint %lld, want %lld", i,
                         (long long)(int64_t)fp, (long long)v->fingerprint);
        }
    }
    tb_buf_free(&b);
}

static void test_fingerprint_empty(void **state)
{
    (void)state;
    /* The fingerprint of no bytes is the spec's EMPTY constant. */
    assert_int_equal(tb_canon_fingerprint("", 0), 0xc15d213aa4d7a795ULL);
}

static void test_extended_keeps_logical_and_defaults(void **state)
{
    (void)state;
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    const char *d2 =
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":"
        "\"a\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
        "\"decimal\",\"precision\":12,\"scale\":2},\"doc\":\"x\"},"
        "{\"name\":\"n\",\"type\":[\"null\",\"string\"],"
        "\"default\":null}]}";
    const char *d3 =
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":"
        "\"a\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
        "\"decimal\",\"precision\":12,\"scale\":3}},"
        "{\"name\":\"n\",\"type\":[\"null\",\"string\"],"
        "\"default\":null}]}";
    char *got = canon_text(d2, TB_CANON_TB, &b, &err);
    assert_non_null(got);
    assert_string_equal(
        got, "{\"name\":\"r\",\"type\":\"record\",\"fields\":[{\"name\":\"a\","
             "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
             "\"precision\":12,\"scale\":2}},{\"name\":\"n\",\"type\":["
             "\"null\",\"string\"],\"default\":null}]}");
    uint64_t fp2 = tb_canon_fingerprint(b.data, b.len);
    got = canon_text(d3, TB_CANON_TB, &b, &err);
    assert_non_null(got);
    uint64_t fp3 = tb_canon_fingerprint(b.data, b.len);
    assert_true(fp2 != fp3);

    /* Plain PCF cannot tell them apart: that is why we extend it. */
    char *p2 = strdup(canon_text(d2, TB_CANON_PCF, &b, &err));
    assert_string_equal(p2, canon_text(d3, TB_CANON_PCF, &b, &err));
    free(p2);

    /* An omitted decimal scale is 0. */
    got = canon_text("{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                     "\"precision\":5}",
                     TB_CANON_TB, &b, &err);
    assert_string_equal(got, "{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                             "\"precision\":5,\"scale\":0}");
    /* timestamp-millis and timestamp-micros differ. */
    got = canon_text("{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}",
                     TB_CANON_TB, &b, &err);
    assert_string_equal(
        got, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}");
    /* Enum defaults are kept; whitespace and attribute order are not. */
    got = canon_text("{ \"symbols\": [\"A\", \"B\"], \"default\" : \"A\", "
                     "\"name\": \"e\", \"type\": \"enum\" }",
                     TB_CANON_TB, &b, &err);
    assert_string_equal(got, "{\"name\":\"e\",\"type\":\"enum\",\"symbols\":["
                             "\"A\",\"B\"],\"default\":\"A\"}");
    tb_buf_free(&b);
}

static void test_strings_and_names(void **state)
{
    (void)state;
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    /* [STRINGS]: \u escapes become UTF-8. */
    char *got = canon_text("{\"type\":\"enum\",\"name\":\"\\u0066oo\","
                           "\"symbols\":[\"A\"]}",
                           TB_CANON_PCF, &b, &err);
    assert_string_equal(got, "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":["
                             "\"A\"]}");
    /* A nested named type inherits the namespace; references use fullnames.
     */
    got = canon_text(
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
        "{\"name\":\"a\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
        "\"size\":2}},{\"name\":\"b\",\"type\":\"F\"}]}",
        TB_CANON_PCF, &b, &err);
    assert_string_equal(got, "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":"
                             "[{\"name\":\"a\",\"type\":{\"name\":\"n.F\","
                             "\"type\":\"fixed\",\"size\":2}},{\"name\":\"b\","
                             "\"type\":\"n.F\"}]}");
    tb_buf_free(&b);
}

static void test_invalid_schemas(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *msg;
    } bad[] = {
        {"\"Nope\"", "unknown type \"Nope\""},
        {"{\"type\":\"record\",\"fields\":[]}", "needs a string \"name\""},
        {"{\"type\":\"record\",\"name\":\"r\"}", "needs a \"fields\" array"},
        {"{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\","
         "\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
         "schema.a: field defined twice"},
        {"{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"1a\","
         "\"type\":\"int\"}]}",
         "invalid field name"},
        {"{\"type\":\"fixed\",\"name\":\"f\"}", "needs a non-negative integer"},
        {"{\"type\":\"array\"}", "array needs \"items\""},
        {"[\"int\",[\"long\"]]", "a union may not contain a union"},
        {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":2,"
         "\"scale\":3}",
         "decimal scale must be"},
        {"42", "must be a string, an object or an array"},
    };
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_error_clear(&err);
        if (canon_text(bad[i].json, TB_CANON_TB, &b, &err))
            fail_msg("case %zu accepted: %s", i, bad[i].json);
        assert_int_equal(err.code, TB_ERR_SCHEMA);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg,
                     bad[i].msg);
    }
    tb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors),
        cmocka_unit_test(test_fingerprint_empty),
        cmocka_unit_test(test_extended_keeps_logical_and_defaults),
        cmocka_unit_test(test_strings_and_names),
        cmocka_unit_test(test_invalid_schemas),
    };
    return cmocka_run_group_tests_name("canonical", tests, NULL, NULL);
}
