/* test_avro_schema.c - Avro schemas generated from table shapes: every
 * kind against hand-written JSON, names, the envelope, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_avro.h"

/* Compare a generated schema with expected JSON text. */
static void assert_json(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, 0, &jerr);
    if (!want) fail_msg("bad expected JSON: %s", jerr.text);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

/* One column per kind, NOT NULL, then the same kinds nullable. */
static tb_table *kinds_table(bool nullable)
{
    static const struct {
        const char *name, *st;
        tb_kind k;
        int p, s;
    } c[] = {
        {"b", "boolean", TB_KIND_BOOLEAN, 0, 0},
        {"i", "int", TB_KIND_INT, 0, 0},
        {"l", "bigint", TB_KIND_LONG, 0, 0},
        {"f", "float", TB_KIND_FLOAT, 0, 0},
        {"d", "double", TB_KIND_DOUBLE, 0, 0},
        {"dec", "decimal(65,30)", TB_KIND_DECIMAL, 65, 30},
        {"s", "varchar(40)", TB_KIND_STRING, 0, 0},
        {"by", "blob", TB_KIND_BYTES, 0, 0},
        {"dt", "date", TB_KIND_DATE, 0, 0},
        {"tm", "time", TB_KIND_TIME_MICROS, 0, 6},
        {"ts", "timestamp", TB_KIND_TIMESTAMP_MICROS, 0, 6},
        {"lts", "datetime(6)", TB_KIND_LOCAL_TIMESTAMP_MICROS, 0, 6},
        {"dur", "time(3)", TB_KIND_DURATION_MICROS, 0, 3},
        {"u", "uuid", TB_KIND_UUID, 0, 0},
        {"j", "json", TB_KIND_JSON, 0, 0},
        {"bits", "bit(12)", TB_KIND_BITS, 12, 0},
        {"set", "set('a','b')", TB_KIND_SET, 0, 0},
        {"sp", "numeric(8,3)", TB_KIND_DECIMAL, 8, 3},
    };
    int n = (int)(sizeof c / sizeof *c);
    tb_table *t = tb_table_new("shop", "public", "kinds", n);
    assert_non_null(t);
    for (int i = 0; i < n; i++)
        assert_int_equal(tb_table_set_column(t, i, c[i].name, c[i].st, "x",
                                             c[i].k, c[i].p, c[i].s, nullable,
                                             i == 2),
                         0);
    t->cols[n - 1].decimal_specials = true;
    return t;
}

static const char want_not_null[] =
    "{\"type\": \"record\", \"name\": \"Value\","
    " \"namespace\": \"pipe.public.kinds\", \"fields\": ["
    "{\"name\": \"b\", \"type\": \"boolean\","
    " \"tributary.source_type\": \"boolean\"},"
    "{\"name\": \"i\", \"type\": \"int\", \"tributary.source_type\": \"int\"},"
    "{\"name\": \"l\", \"type\": \"long\", \"tributary.source_type\": "
    "\"bigint\", \"tributary.key\": true},"
    "{\"name\": \"f\", \"type\": \"float\", \"tributary.source_type\": "
    "\"float\"},"
    "{\"name\": \"d\", \"type\": \"double\", \"tributary.source_type\": "
    "\"double\"},"
    "{\"name\": \"dec\", \"type\": {\"type\": \"bytes\", \"logicalType\": "
    "\"decimal\", \"precision\": 65, \"scale\": 30},"
    " \"tributary.source_type\": \"decimal(65,30)\"},"
    "{\"name\": \"s\", \"type\": \"string\", \"tributary.source_type\": "
    "\"varchar(40)\"},"
    "{\"name\": \"by\", \"type\": \"bytes\", \"tributary.source_type\": "
    "\"blob\"},"
    "{\"name\": \"dt\", \"type\": {\"type\": \"int\", \"logicalType\": "
    "\"date\"}, \"tributary.source_type\": \"date\"},"
    "{\"name\": \"tm\", \"type\": {\"type\": \"long\", \"logicalType\": "
    "\"time-micros\"}, \"tributary.source_type\": \"time\"},"
    "{\"name\": \"ts\", \"type\": {\"type\": \"long\", \"logicalType\": "
    "\"timestamp-micros\"}, \"tributary.source_type\": \"timestamp\"},"
    "{\"name\": \"lts\", \"type\": {\"type\": \"long\", \"logicalType\": "
    "\"local-timestamp-micros\"}, \"tributary.source_type\": "
    "\"datetime(6)\"},"
    "{\"name\": \"dur\", \"type\": {\"type\": \"long\", \"tributary.type\": "
    "\"duration-micros\"}, \"tributary.source_type\": \"time(3)\"},"
    "{\"name\": \"u\", \"type\": {\"type\": \"string\", \"logicalType\": "
    "\"uuid\"}, \"tributary.source_type\": \"uuid\"},"
    "{\"name\": \"j\", \"type\": {\"type\": \"string\", \"connect.name\": "
    "\"io.debezium.data.Json\"}, \"tributary.source_type\": \"json\"},"
    "{\"name\": \"bits\", \"type\": {\"type\": \"string\", \"tributary.type\": "
    "\"bits\", \"tributary.length\": 12}, \"tributary.source_type\": "
    "\"bit(12)\"},"
    "{\"name\": \"set\", \"type\": {\"type\": \"array\", \"items\": "
    "\"string\", \"tributary.type\": \"set\"}, \"tributary.source_type\": "
    "\"set('a','b')\"},"
    "{\"name\": \"sp\", \"type\": [{\"type\": \"bytes\", \"logicalType\": "
    "\"decimal\", \"precision\": 8, \"scale\": 3}, \"string\"],"
    " \"tributary.source_type\": \"numeric(8,3)\"}"
    "]}";

static void test_value_schema_every_kind(void **state)
{
    (void)state;
    tb_error err;
    tb_table *t = kinds_table(false);
    json_t *j = tb_avro_value_schema(t, "pipe", &err);
    if (!j) fail_msg("%s", err.msg);
    assert_json(j, want_not_null);
    json_decref(j);
    tb_table_free(t);
}

/* Nullable: every type becomes ["null", T] with default null; the special
 * decimal becomes ["null", decimal, "string"]. Built from the NOT NULL
 * expectation so both stay in step. */
static void test_value_schema_nullable(void **state)
{
    (void)state;
    tb_error err;
    json_error_t jerr;
    tb_table *t = kinds_table(true);
    json_t *want = json_loads(want_not_null, 0, &jerr);
    assert_non_null(want);
    json_t *fields = json_object_get(want, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        json_t *type = json_incref(json_object_get(f, "type"));
        json_t *u = json_array();
        json_array_append_new(u, json_string("null"));
        if (json_is_array(type))
            json_array_extend(u, type);
        else
            json_array_append(u, type);
        json_decref(type);
        json_object_set_new(f, "type", u);
        json_object_set_new(f, "default", json_null());
    }
    char *text = json_dumps(want, 0);
    json_t *j = tb_avro_value_schema(t, "pipe", &err);
    if (!j) fail_msg("%s", err.msg);
    assert_json(j, text);
    /* Spot-check the special decimal literally. */
    json_t *sp = json_array_get(json_object_get(j, "fields"), 17);
    json_t *ty = json_object_get(sp, "type");
    assert_int_equal(json_array_size(ty), 3);
    assert_string_equal(json_string_value(json_array_get(ty, 0)), "null");
    assert_string_equal(json_string_value(json_array_get(ty, 2)), "string");
    free(text);
    json_decref(want);
    json_decref(j);
    tb_table_free(t);
}

static void test_names(void **state)
{
    (void)state;
    tb_error err;
    static const char *const in[] = {"plain", "order items", "1st",  "a-b.c",
                                     "",      "caf\xc3\xa9", "_ok9", NULL};
    static const char *const out[] = {"plain", "order_items", "_1st", "a_b_c",
                                      "_",     "caf__",       "_ok9", "_"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        tb_buf b = TB_BUF_INIT;
        assert_int_equal(tb_avro_name_append(in[i], &b, &err), 0);
        assert_string_equal((char *)b.data, out[i]);
        tb_buf_free(&b);
    }
    tb_table *t = tb_table_new("db", "my schema", "9t", 1);
    assert_int_equal(tb_table_set_column(t, 0, "x-y", "int", "int", TB_KIND_INT,
                                         0, 0, false, false),
                     0);
    tb_buf b = TB_BUF_INIT;
    assert_int_equal(tb_avro_namespace_append(t, "my-pipe", &b, &err), 0);
    assert_string_equal((char *)b.data, "my_pipe.my_schema._9t");
    tb_buf_reset(&b);
    assert_int_equal(tb_avro_namespace_append(t, NULL, &b, &err), 0);
    assert_string_equal((char *)b.data, "tributary.my_schema._9t");
    /* No schema: MySQL-style tables fall back to the database. */
    free(t->schema);
    t->schema = NULL;
    tb_buf_reset(&b);
    assert_int_equal(tb_avro_namespace_append(t, "p", &b, &err), 0);
    assert_string_equal((char *)b.data, "p.db._9t");
    /* A renamed field remembers the column. */
    json_t *j = tb_avro_value_schema(t, "p", &err);
    assert_json(j, "{\"type\": \"record\", \"name\": \"Value\", \"namespace\":"
                   " \"p.db._9t\", \"fields\": [{\"name\": \"x_y\", \"type\":"
                   " \"int\", \"tributary.source_type\": \"int\","
                   " \"tributary.column\": \"x-y\"}]}");
    json_decref(j);
    tb_buf_free(&b);
    tb_table_free(t);
}

static void test_schema_errors(void **state)
{
    (void)state;
    tb_error err;
    tb_table *t = tb_table_new("db", "s", "t", 2);
    assert_int_equal(tb_table_set_column(t, 0, "a-b", "int", "int", TB_KIND_INT,
                                         0, 0, false, false),
                     0);
    assert_int_equal(tb_table_set_column(t, 1, "a_b", "int", "int", TB_KIND_INT,
                                         0, 0, false, false),
                     0);
    assert_null(tb_avro_value_schema(t, "p", &err));
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    assert_non_null(strstr(err.msg, "a_b"));
    assert_null(tb_avro_envelope_schema(t, "p", &err));
    assert_int_equal(err.code, TB_ERR_SCHEMA);
    static const int bad[][2] = {{0, 0}, {5, 6}, {10, -1}, {1001, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tb_table_set_column(t, 1, "n", "numeric", "numeric",
                                             TB_KIND_DECIMAL, bad[i][0],
                                             bad[i][1], true, false),
                         0);
        assert_null(tb_avro_value_schema(t, "p", &err));
        assert_int_equal(err.code, TB_ERR_SCHEMA);
        assert_non_null(strstr(err.msg, "decimal"));
    }
    tb_table_free(t);
}

/* A column type change (same kind) changes the schema. */
static void test_source_type_in_schema(void **state)
{
    (void)state;
    tb_error err;
    tb_table *a = kinds_table(false), *b = kinds_table(false);
    assert_int_equal(tb_table_set_column(b, 6, "s", "varchar(80)", "x",
                                         TB_KIND_STRING, 0, 0, false, false),
                     0);
    json_t *ja = tb_avro_value_schema(a, "p", &err);
    json_t *jb = tb_avro_value_schema(b, "p", &err);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_false(json_equal(ja, jb));
    json_decref(ja);
    json_decref(jb);
    tb_table_free(a);
    tb_table_free(b);
}

static void test_envelope(void **state)
{
    (void)state;
    tb_error err;
    tb_table *t = kinds_table(true);
    json_t *env = tb_avro_envelope_schema(t, "pipe", &err);
    if (!env) fail_msg("%s", err.msg);
    json_t *value = tb_avro_value_schema(t, "pipe", &err);
    char *vtext = json_dumps(value, 0);
    char want[16384];
    snprintf(
        want, sizeof want,
        "{\"type\": \"record\", \"name\": \"Envelope\", \"namespace\":"
        " \"pipe.public.kinds\", \"fields\": ["
        "{\"name\": \"before\", \"type\": [\"null\", %s], \"default\": null},"
        "{\"name\": \"after\", \"type\": [\"null\","
        " \"pipe.public.kinds.Value\"], \"default\": null},"
        "{\"name\": \"source\", \"type\": {\"type\": \"record\", \"name\":"
        " \"Source\", \"namespace\": \"io.tributary\", \"fields\": ["
        "{\"name\": \"connector\", \"type\": \"string\"},"
        "{\"name\": \"name\", \"type\": \"string\"},"
        "{\"name\": \"db\", \"type\": \"string\"},"
        "{\"name\": \"schema\", \"type\": \"string\"},"
        "{\"name\": \"table\", \"type\": \"string\"},"
        "{\"name\": \"position\", \"type\": \"string\"},"
        "{\"name\": \"txId\", \"type\": [\"null\", \"long\"], \"default\":"
        " null},"
        "{\"name\": \"ts_us\", \"type\": \"long\"},"
        "{\"name\": \"snapshot\", \"type\": \"boolean\", \"default\": false}"
        "]}},"
        "{\"name\": \"op\", \"type\": \"string\"},"
        "{\"name\": \"ts_ms\", \"type\": \"long\"},"
        "{\"name\": \"unchanged\", \"type\": {\"type\": \"array\", \"items\":"
        " \"string\"}, \"default\": []},"
        "{\"name\": \"before_unchanged\", \"type\": {\"type\": \"array\","
        " \"items\": \"string\"}, \"default\": []}"
        "]}",
        vtext);
    assert_json(env, want);
    /* avro-c accepts it (named-type reference included). */
    char *s = json_dumps(env, JSON_COMPACT);
    avro_schema_t sch = NULL;
    if (avro_schema_from_json_length(s, strlen(s), &sch))
        fail_msg("avro-c: %s", avro_strerror());
    assert_true(is_avro_record(sch));
    avro_schema_decref(sch);
    free(s);
    free(vtext);
    json_decref(value);
    json_decref(env);
    tb_table_free(t);
}

/* The checked-in generic envelope parses (run from the repository root;
 * skipped elsewhere). */
static void test_envelope_avsc_file(void **state)
{
    (void)state;
    json_error_t jerr;
    FILE *f = fopen("schemas/envelope.avsc", "r");
    if (!f) skip();
    json_t *j = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!j) fail_msg("envelope.avsc: %s", jerr.text);
    char *s = json_dumps(j, JSON_COMPACT);
    avro_schema_t sch = NULL;
    if (avro_schema_from_json_length(s, strlen(s), &sch))
        fail_msg("avro-c: %s", avro_strerror());
    assert_string_equal(avro_schema_name(sch), "Envelope");
    avro_schema_decref(sch);
    free(s);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_schema_every_kind),
        cmocka_unit_test(test_value_schema_nullable),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_source_type_in_schema),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_envelope_avsc_file),
    };
    return cmocka_run_group_tests_name("avro_schema", tests, NULL, NULL);
}
