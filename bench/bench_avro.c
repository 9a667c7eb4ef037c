/*
 * bench_avro.c - encode + decode of a 10-column change envelope (before and
 * after rows, source block) on one core: tributary's table-driven codec
 * versus a naive avro-c generic-value round trip (a new value per event,
 * avro_value_write / avro_value_read). Median of 5 runs each.
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tb_avro.h"

#define RUNS  5
#define NCOLS 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static tb_table *bench_table(void)
{
    tb_table *t = tb_table_new("shop", "public", "orders", NCOLS);
    if (!t) return NULL;
    int rc = 0;
    rc |= tb_table_set_column(t, 0, "id", "bigint", "bigint", TB_KIND_LONG, 0,
                              0, false, true);
    rc |= tb_table_set_column(t, 1, "customer", "text", "text", TB_KIND_STRING,
                              0, 0, false, false);
    rc |= tb_table_set_column(t, 2, "price", "numeric(12,2)", "numeric(12,2)",
                              TB_KIND_DECIMAL, 12, 2, false, false);
    rc |= tb_table_set_column(t, 3, "qty", "integer", "integer", TB_KIND_INT, 0,
                              0, false, false);
    rc |= tb_table_set_column(t, 4, "paid", "boolean", "boolean",
                              TB_KIND_BOOLEAN, 0, 0, false, false);
    rc |= tb_table_set_column(t, 5, "score", "float8", "float8", TB_KIND_DOUBLE,
                              0, 0, false, false);
    rc |= tb_table_set_column(t, 6, "created", "timestamptz", "timestamptz",
                              TB_KIND_TIMESTAMP_MICROS, 0, 6, false, false);
    rc |= tb_table_set_column(t, 7, "note", "text", "text", TB_KIND_STRING, 0,
                              0, true, false);
    rc |= tb_table_set_column(t, 8, "ref", "uuid", "uuid", TB_KIND_UUID, 0, 0,
                              false, false);
    rc |= tb_table_set_column(t, 9, "day", "date", "date", TB_KIND_DATE, 0, 0,
                              true, false);
    if (rc) {
        tb_table_free(t);
        return NULL;
    }
    return t;
}

static void fill_row(tb_value *v, int64_t id, const char *price,
                     const char *note)
{
    memset(v, 0, sizeof(tb_value) * NCOLS);
    for (int i = 0; i < NCOLS; i++)
        v[i].state = TB_VALUE_SET;
    v[0].u.i = id;
    v[1].u.s = "Ada Lovelace";
    v[1].len = 12;
    v[2].u.s = price;
    v[2].len = (uint32_t)strlen(price);
    v[3].u.i = 3;
    v[4].u.b = true;
    v[5].u.d = 4.25;
    v[6].u.i = 1732582923123456;
    if (note) {
        v[7].u.s = note;
        v[7].len = (uint32_t)strlen(note);
    } else {
        v[7].state = TB_VALUE_NULL;
    }
    v[8].u.s = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    v[8].len = 36;
    v[9].u.i = 20053;
}

/* One run of ours: n events; returns events/s, -1 on failure. */
static double run_ours(const tb_change *c, int n)
{
    tb_buf buf = TB_BUF_INIT;
    tb_arena arena;
    tb_value bv[NCOLS], av[NCOLS];
    tb_change got;
    tb_error err;
    int64_t check = 0;
    tb_arena_init(&arena, 0);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        tb_buf_reset(&buf);
        if (tb_avro_encode_change(c, &buf, &err) < 0 ||
            tb_avro_decode_change(c->table, buf.data, buf.len, &got, bv, av,
                                  &arena, &err) < 0) {
            fprintf(stderr, "bench_avro: %s\n", err.msg);
            n = -1;
            break;
        }
        check += got.after[0].u.i;
        if ((i & 255) == 255) tb_arena_reset(&arena); /* per "batch" */
    }
    double dt = now() - t0;
    tb_arena_free(&arena);
    tb_buf_free(&buf);
    if (n < 0 || check != (int64_t)n * c->after[0].u.i) return -1;
    return n / dt;
}

/* avro-c helpers: set field `name` of rec. Failures are counted. */
static int fail_count;

static avro_value_t field(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    if (avro_value_get_by_name(rec, name, &f, NULL)) fail_count++;
    return f;
}

static void set_s(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f = field(rec, name);
    fail_count += avro_value_set_string_len(&f, s, strlen(s) + 1) != 0;
}

static void set_row(avro_value_t *u, const tb_value *v)
{
    static const char *const names[NCOLS] = {
        "id",    "customer", "price", "qty", "paid",
        "score", "created",  "note",  "ref", "day"};
    avro_value_t rec, f, br;
    fail_count += avro_value_set_branch(u, 1, &rec) != 0;
    f = field(&rec, names[0]);
    fail_count += avro_value_set_long(&f, v[0].u.i) != 0;
    set_s(&rec, names[1], v[1].u.s);
    /* The naive path still needs decimal bytes: use our converter. */
    uint8_t dec[TB_AVRO_DECIMAL_MAX_BYTES];
    size_t dn;
    tb_error err;
    fail_count += tb_avro_decimal_to_bytes(v[2].u.s, v[2].len, 12, 2, dec,
                                           sizeof dec, &dn, &err) != 0;
    f = field(&rec, names[2]);
    fail_count += avro_value_set_bytes(&f, dec, dn) != 0;
    f = field(&rec, names[3]);
    fail_count += avro_value_set_int(&f, (int32_t)v[3].u.i) != 0;
    f = field(&rec, names[4]);
    fail_count += avro_value_set_boolean(&f, v[4].u.b) != 0;
    f = field(&rec, names[5]);
    fail_count += avro_value_set_double(&f, v[5].u.d) != 0;
    f = field(&rec, names[6]);
    fail_count += avro_value_set_long(&f, v[6].u.i) != 0;
    f = field(&rec, names[7]);
    if (v[7].state == TB_VALUE_NULL) {
        fail_count += avro_value_set_branch(&f, 0, &br) != 0;
        fail_count += avro_value_set_null(&br) != 0;
    } else {
        fail_count += avro_value_set_branch(&f, 1, &br) != 0;
        fail_count +=
            avro_value_set_string_len(&br, v[7].u.s, v[7].len + 1) != 0;
    }
    set_s(&rec, names[8], v[8].u.s);
    f = field(&rec, names[9]);
    fail_count += avro_value_set_branch(&f, 1, &br) != 0;
    fail_count += avro_value_set_int(&br, (int32_t)v[9].u.i) != 0;
}

/* One run of the naive avro-c round trip; events/s or -1. */
static double run_avroc(avro_value_iface_t *iface, const tb_change *c, int n)
{
    static char mem[8192];
    avro_writer_t w = avro_writer_memory(mem, sizeof mem);
    avro_reader_t r = avro_reader_memory(mem, sizeof mem);
    int64_t check = 0;
    fail_count = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        avro_value_t env, f, br, in;
        fail_count += avro_generic_value_new(iface, &env) != 0;
        f = field(&env, "before");
        set_row(&f, c->before);
        f = field(&env, "after");
        set_row(&f, c->after);
        avro_value_t src = field(&env, "source");
        set_s(&src, "connector", c->source.connector);
        set_s(&src, "name", c->source.name);
        set_s(&src, "db", c->source.db);
        set_s(&src, "schema", c->table->schema);
        set_s(&src, "table", c->table->name);
        set_s(&src, "position", c->source.position);
        f = field(&src, "txId");
        fail_count += avro_value_set_branch(&f, 1, &br) != 0;
        fail_count += avro_value_set_long(&br, c->source.txid) != 0;
        f = field(&src, "ts_us");
        fail_count += avro_value_set_long(&f, c->source.commit_us) != 0;
        f = field(&src, "snapshot");
        fail_count += avro_value_set_boolean(&f, 0) != 0;
        set_s(&env, "op", "u");
        f = field(&env, "ts_ms");
        fail_count += avro_value_set_long(&f, c->ts_ms) != 0;
        avro_writer_memory_set_dest(w, mem, sizeof mem);
        fail_count += avro_value_write(w, &env) != 0;
        int64_t len = avro_writer_tell(w);
        avro_value_decref(&env);

        fail_count += avro_generic_value_new(iface, &in) != 0;
        avro_reader_memory_set_source(r, mem, len);
        fail_count += avro_value_read(r, &in) != 0;
        int64_t id = 0;
        f = field(&in, "after");
        fail_count += avro_value_get_current_branch(&f, &br) != 0;
        avro_value_t idf = field(&br, "id");
        fail_count += avro_value_get_long(&idf, &id) != 0;
        check += id;
        avro_value_decref(&in);
    }
    double dt = now() - t0;
    avro_writer_free(w);
    avro_reader_free(r);
    if (fail_count || check != (int64_t)n * c->after[0].u.i) {
        fprintf(stderr, "bench_avro: avro-c path failed: %s\n",
                avro_strerror());
        return -1;
    }
    return n / dt;
}

static void print_rate(const char *what, double r)
{
    printf("%s: %.2fM events/s (median of %d)\n", what, r / 1e6, RUNS);
}

int main(int argc, char **argv)
{
    /* Event counts per run; an argument scales them (e.g. 0.1 for CI). */
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    int n_ours = (int)(500000 * (scale > 0 ? scale : 1.0));
    int n_avroc = (int)(50000 * (scale > 0 ? scale : 1.0));
    if (n_ours < 1) n_ours = 1;
    if (n_avroc < 1) n_avroc = 1;
    tb_error err;
    tb_table *t = bench_table();
    if (!t) return 1;
    tb_value before[NCOLS], after[NCOLS];
    fill_row(before, 1234567, "1999.95", NULL);
    fill_row(after, 1234567, "-12.50", "left at the door");
    tb_change c = {
        .op = TB_OP_UPDATE, .table = t, .before = before, .after = after};
    c.source.connector = "postgresql";
    c.source.name = "bench";
    c.source.db = "shop";
    c.source.position = "0/16B3748";
    c.source.txid = 7777;
    c.source.commit_us = 1732582923123456;
    c.ts_ms = 1732582924000;

    json_t *j = tb_avro_envelope_schema(t, "bench", &err);
    if (!j) {
        fprintf(stderr, "bench_avro: %s\n", err.msg);
        return 1;
    }
    char *js = json_dumps(j, JSON_COMPACT);
    avro_schema_t sch = NULL;
    if (!js || avro_schema_from_json_length(js, strlen(js), &sch)) {
        fprintf(stderr, "bench_avro: avro-c schema: %s\n", avro_strerror());
        return 1;
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(sch);

    double ours[RUNS], theirs[RUNS];
    for (int i = 0; i < RUNS; i++) {
        ours[i] = run_ours(&c, n_ours);
        theirs[i] = run_avroc(iface, &c, n_avroc);
        if (ours[i] < 0 || theirs[i] < 0) return 1;
    }
    qsort(ours, RUNS, sizeof *ours, cmp_double);
    qsort(theirs, RUNS, sizeof *theirs, cmp_double);
    double mo = ours[RUNS / 2], mt = theirs[RUNS / 2];
    print_rate("tributary encode+decode", mo);
    print_rate("avro-c generic encode+decode", mt);
    printf("ratio: %.1fx\n", mo / mt);
    printf("goal >= 1.00M events/s: %s\n", mo >= 1e6 ? "met" : "NOT met");

    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
    free(js);
    json_decref(j);
    tb_table_free(t);
    return 0;
}
