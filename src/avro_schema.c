/*
 * avro_schema.c - Avro schemas (jansson JSON) of a table shape.
 *
 * The layout written here must match src/avro_codec.c field for field; the
 * whole format is described in docs/avro.md.
 */
#include "tb_avro.h"

#include <string.h>

#include "avro_binary.h"

int tb_avro_name_append(const char *name, tb_buf *out, tb_error *err)
{
    size_t n = name ? strlen(name) : 0;
    size_t m = avro_name_len(name, n);
    if (tb_buf_reserve(out, m) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
    avro_name_write((char *)out->data + out->len, name, n);
    out->len += m;
    out->data[out->len] = '\0';
    return 0;
}

int tb_avro_namespace_append(const tb_table *t, const char *pipeline,
                             tb_buf *out, tb_error *err)
{
    const char *schema = t->schema ? t->schema : t->db;
    if (tb_avro_name_append(pipeline ? pipeline : "tributary", out, err) < 0)
        return -1;
    if (schema && (tb_buf_puts(out, ".") < 0 ||
                   tb_avro_name_append(schema, out, err) < 0))
        return tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
    if (tb_buf_puts(out, ".") < 0 || tb_avro_name_append(t->name, out, err) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
    return 0;
}

/* Set o[key] = v, stealing v; -1 when v is NULL or the set fails. */
static int put(json_t *o, const char *key, json_t *v)
{
    if (!o || !v) {
        json_decref(v);
        return -1;
    }
    return json_object_set_new(o, key, v);
}

/* {"type": base, "logicalType": logical} */
static json_t *logical(const char *base, const char *lt)
{
    return json_pack("{s:s, s:s}", "type", base, "logicalType", lt);
}

/* The Avro type of one non-null value of column c. */
static json_t *base_type(const tb_column *c, tb_error *err)
{
    switch (c->kind) {
    case TB_KIND_BOOLEAN:
        return json_string("boolean");
    case TB_KIND_INT:
        return json_string("int");
    case TB_KIND_LONG:
        return json_string("long");
    case TB_KIND_FLOAT:
        return json_string("float");
    case TB_KIND_DOUBLE:
        return json_string("double");
    case TB_KIND_STRING:
        return json_string("string");
    case TB_KIND_BYTES:
        return json_string("bytes");
    case TB_KIND_DECIMAL:
        /* Avro requires 0 < precision and 0 <= scale <= precision. */
        if (c->precision <= 0 || c->scale < 0 || c->scale > c->precision ||
            c->precision > TB_AVRO_DECIMAL_MAX_DIGITS) {
            tb_error_set(err, TB_ERR_SCHEMA,
                         "avro schema: column %s: decimal(%d,%d) cannot be "
                         "an Avro decimal (need 0 < precision <= %d, 0 <= "
                         "scale <= precision)",
                         c->name, c->precision, c->scale,
                         TB_AVRO_DECIMAL_MAX_DIGITS);
            return NULL;
        }
        return json_pack("{s:s, s:s, s:i, s:i}", "type", "bytes", "logicalType",
                         "decimal", "precision", c->precision, "scale",
                         c->scale);
    case TB_KIND_DATE:
        return logical("int", "date");
    case TB_KIND_TIME_MICROS:
        return logical("long", "time-micros");
    case TB_KIND_TIMESTAMP_MICROS:
        return logical("long", "timestamp-micros");
    case TB_KIND_LOCAL_TIMESTAMP_MICROS:
        return logical("long", "local-timestamp-micros");
    case TB_KIND_DURATION_MICROS:
        /* Not an Avro logical type: signed microseconds, documented. */
        return json_pack("{s:s, s:s}", "type", "long", "tributary.type",
                         "duration-micros");
    case TB_KIND_UUID:
        return logical("string", "uuid");
    case TB_KIND_JSON:
        return json_pack("{s:s, s:s}", "type", "string", "connect.name",
                         "io.debezium.data.Json");
    case TB_KIND_BITS:
        if (c->precision > 0)
            return json_pack("{s:s, s:s, s:i}", "type", "string",
                             "tributary.type", "bits", "tributary.length",
                             c->precision);
        return json_pack("{s:s, s:s}", "type", "string", "tributary.type",
                         "bits");
    case TB_KIND_SET:
        return json_pack("{s:s, s:s, s:s}", "type", "array", "items", "string",
                         "tributary.type", "set");
    default:
        break;
    }
    tb_error_set(err, TB_ERR_SCHEMA, "avro schema: column %s: unknown kind %d",
                 c->name, (int)c->kind);
    return NULL;
}

/* One record field for column c; name is its sanitised name. */
static json_t *column_field(const tb_column *c, const char *name, tb_error *err)
{
    json_t *f = json_object(), *t = base_type(c, err);
    if (!t) goto fail;
    if (c->kind == TB_KIND_DECIMAL && c->decimal_specials) {
        /* The string branch carries only NaN / Infinity / -Infinity. */
        json_t *u = c->nullable ? json_pack("[s, o, s]", "null", t, "string")
                                : json_pack("[o, s]", t, "string");
        t = u;
    } else if (c->nullable) {
        t = json_pack("[s, o]", "null", t);
    }
    if (put(f, "name", json_string(name)) < 0 || put(f, "type", t) < 0)
        goto nomem;
    t = NULL;
    if (c->nullable && put(f, "default", json_null()) < 0) goto nomem;
    if (c->source_type &&
        put(f, "tributary.source_type", json_string(c->source_type)) < 0)
        goto nomem;
    if (c->name && strcmp(c->name, name) != 0 &&
        put(f, "tributary.column", json_string(c->name)) < 0)
        goto nomem;
    if (c->key && put(f, "tributary.key", json_true()) < 0) goto nomem;
    return f;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
fail:
    json_decref(f);
    return NULL;
}

json_t *tb_avro_value_schema(const tb_table *t, const char *pipeline,
                             tb_error *err)
{
    tb_buf ns = TB_BUF_INIT, name = TB_BUF_INIT;
    json_t *rec = NULL, *fields = json_array();
    if (!fields) goto nomem;
    if (tb_avro_namespace_append(t, pipeline, &ns, err) < 0) goto fail;
    for (int i = 0; i < t->ncols; i++) {
        tb_buf_reset(&name);
        if (tb_avro_name_append(t->cols[i].name, &name, err) < 0) goto fail;
        /* Field names must be unique after sanitising ("a-b" vs "a_b"). */
        for (size_t j = 0; j < json_array_size(fields); j++) {
            json_t *o = json_object_get(json_array_get(fields, j), "name");
            if (strcmp(json_string_value(o), (char *)name.data) == 0) {
                tb_error_set(err, TB_ERR_SCHEMA,
                             "avro schema: table %s: columns %s and %s both "
                             "map to the Avro field name %s",
                             t->name, t->cols[j].name, t->cols[i].name,
                             (char *)name.data);
                goto fail;
            }
        }
        json_t *f = column_field(&t->cols[i], (char *)name.data, err);
        if (!f) goto fail;
        if (json_array_append_new(fields, f) < 0) goto nomem;
    }
    rec = json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Value",
                    "namespace", (char *)ns.data, "fields", fields);
    fields = NULL;
    if (!rec) goto nomem;
    tb_buf_free(&ns);
    tb_buf_free(&name);
    return rec;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
fail:
    json_decref(fields);
    tb_buf_free(&ns);
    tb_buf_free(&name);
    return NULL;
}

/* The generic source block record io.tributary.Source. */
static json_t *source_schema(void)
{
    return json_pack(
        "{s:s, s:s, s:s, s:["
        "{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
        "{s:s, s:s}, {s:s, s:[s, s], s:n}, {s:s, s:s}, {s:s, s:s, s:b}]}",
        "type", "record", "name", "Source", "namespace", "io.tributary",
        "fields", "name", "connector", "type", "string", "name", "name", "type",
        "string", "name", "db", "type", "string", "name", "schema", "type",
        "string", "name", "table", "type", "string", "name", "position", "type",
        "string", "name", "txId", "type", "null", "long", "default", "name",
        "ts_us", "type", "long", "name", "snapshot", "type", "boolean",
        "default", 0);
}

json_t *tb_avro_envelope_schema(const tb_table *t, const char *pipeline,
                                tb_error *err)
{
    tb_buf ref = TB_BUF_INIT;
    json_t *env = NULL, *value = tb_avro_value_schema(t, pipeline, err);
    if (!value) goto fail;
    /* The Value record is defined in `before` and referenced by its full
     * name in `after`: a named type may be defined only once. */
    if (tb_avro_namespace_append(t, pipeline, &ref, err) < 0) goto fail;
    if (tb_buf_puts(&ref, ".Value") < 0) goto nomem;
    env = json_pack(
        "{s:s, s:s, s:s, s:["
        "{s:s, s:[s, o], s:n}, {s:s, s:[s, s], s:n}, {s:s, s:o},"
        "{s:s, s:s}, {s:s, s:s}, {s:s, s:{s:s, s:s}, s:[]},"
        "{s:s, s:{s:s, s:s}, s:[]}]}",
        "type", "record", "name", "Envelope", "namespace",
        json_string_value(json_object_get(value, "namespace")), "fields",
        "name", "before", "type", "null", value, "default", "name", "after",
        "type", "null", (char *)ref.data, "default", "name", "source", "type",
        source_schema(), "name", "op", "type", "string", "name", "ts_ms",
        "type", "long", "name", "unchanged", "type", "type", "array", "items",
        "string", "default", "name", "before_unchanged", "type", "type",
        "array", "items", "string", "default");
    value = NULL; /* "o" stole it, even on failure */
    if (!env) goto nomem;
    tb_buf_free(&ref);
    return env;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, "avro schema: out of memory");
fail:
    json_decref(value);
    tb_buf_free(&ref);
    return NULL;
}
