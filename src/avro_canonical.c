/*
 * avro_canonical.c - Parsing Canonical Form of an Avro schema and its 64-bit
 * Rabin fingerprint, straight from the schema JSON.
 *
 * The spec's transformations: PRIMITIVES (simple form), FULLNAMES (qualify,
 * drop namespace), STRIP (keep type, name, fields, symbols, items, values,
 * size), ORDER (name, type, fields, symbols, items, values, size), STRINGS
 * (no escapes beyond what JSON requires), INTEGERS, WHITESPACE. A named type
 * is written in full where it is defined and as its fullname afterwards.
 *
 * TB_CANON_TB also keeps logicalType, precision, scale and default, because
 * for us decimal(12,2) and decimal(12,3) are different schemas even though
 * their bytes are parsed alike.
 */
#include "tb_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Walk state. */
typedef struct canon {
    tb_buf *out;        /* where the form goes */
    tb_canon_kind kind; /* plain PCF or tributary's extended form */
    tb_error *err;      /* caller's error */
    char **defined;     /* fullnames defined so far (owned) */
    size_t n_defined;   /* entries in defined */
    size_t cap_defined; /* allocated entries */
} canon;

static const char *const primitives[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static bool is_primitive(const char *s)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (strcmp(s, primitives[i]) == 0) return true;
    return false;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

/* A fullname: dot-separated valid names. */
static bool valid_fullname(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_name(p, n)) return false;
        if (!dot) return true;
        p = dot + 1;
    }
}

static int nomem(canon *c)
{
    return tb_error_set(c->err, TB_ERR_NOMEM, "out of memory");
}

/* Write s as a JSON string: escape only '"', '\\' and control characters,
 * keep UTF-8 as is ([STRINGS]). */
static int put_str(canon *c, const char *s)
{
    if (tb_buf_puts(c->out, "\"") < 0) return nomem(c);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\')
            rc = tb_buf_printf(c->out, "\\%c", *p);
        else if (*p < 0x20)
            rc = tb_buf_printf(c->out, "\\u%04x", *p);
        else
            rc = tb_buf_append(c->out, p, 1);
        if (rc < 0) return nomem(c);
    }
    if (tb_buf_puts(c->out, "\"") < 0) return nomem(c);
    return 0;
}

static int put(canon *c, const char *s)
{
    return tb_buf_puts(c->out, s) < 0 ? nomem(c) : 0;
}

/* Fullname of name in enclosing namespace ns (NULL or "" = null namespace);
 * newly allocated, NULL on OOM. */
static char *qualify(const char *name, const char *ns)
{
    char *s;
    if (strchr(name, '.') || !ns || !*ns) return strdup(name);
    if (asprintf(&s, "%s.%s", ns, name) < 0) return NULL;
    return s;
}

static bool is_defined(const canon *c, const char *fullname)
{
    for (size_t i = 0; i < c->n_defined; i++)
        if (strcmp(c->defined[i], fullname) == 0) return true;
    return false;
}

/* Take ownership of fullname and record it as defined. */
static int define(canon *c, char *fullname, const char *path)
{
    if (is_defined(c, fullname)) {
        tb_error_set(c->err, TB_ERR_SCHEMA, "%s: type %s is defined twice",
                     path, fullname);
        free(fullname);
        return -1;
    }
    if (c->n_defined == c->cap_defined) {
        size_t cap = c->cap_defined ? 2 * c->cap_defined : 8;
        char **v = realloc(c->defined, cap * sizeof *v);
        if (!v) {
            free(fullname);
            return nomem(c);
        }
        c->defined = v;
        c->cap_defined = cap;
    }
    c->defined[c->n_defined++] = fullname;
    return 0;
}

static int emit(canon *c, const json_t *s, const char *ns, const char *path);

/* A reference to a named type, or a primitive name. */
static int emit_name_ref(canon *c, const char *name, const char *ns,
                         const char *path)
{
    int rc;
    if (is_primitive(name)) return put_str(c, name);
    char *full = qualify(name, ns);
    if (!full) return nomem(c);
    if (!is_defined(c, full)) {
        tb_error_set(c->err, TB_ERR_SCHEMA,
                     "%s: unknown type \"%s\" (not a primitive type and not "
                     "defined before this point)",
                     path, name);
        free(full);
        return -1;
    }
    rc = put_str(c, full);
    free(full);
    return rc;
}

/* Extended form only: `,"default":<compact JSON, keys sorted>` */
static int emit_default(canon *c, const json_t *def)
{
    if (c->kind != TB_CANON_TB || !def) return 0;
    char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS |
                                     JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (!text) return nomem(c);
    int rc = put(c, ",\"default\":");
    if (rc == 0) rc = put(c, text);
    free(text);
    return rc;
}

/* Extended form only: logicalType and its parameters. */
static int emit_logical(canon *c, const json_t *s, const char *path)
{
    const json_t *lt = json_object_get(s, "logicalType");
    if (c->kind != TB_CANON_TB || !lt) return 0;
    if (!json_is_string(lt))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: logicalType must be a string", path);
    if (put(c, ",\"logicalType\":") < 0 ||
        put_str(c, json_string_value(lt)) < 0)
        return -1;
    if (strcmp(json_string_value(lt), "decimal") != 0) return 0;
    const json_t *p = json_object_get(s, "precision");
    const json_t *sc = json_object_get(s, "scale");
    if (!json_is_integer(p) || json_integer_value(p) <= 0)
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: decimal needs a positive integer precision",
                            path);
    if (sc && (!json_is_integer(sc) || json_integer_value(sc) < 0 ||
               json_integer_value(sc) > json_integer_value(p)))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: decimal scale must be an integer from 0 to "
                            "the precision",
                            path);
    /* An omitted scale is 0 (spec), so write it out: decimal(12) and
     * decimal(12,0) are the same schema. */
    if (tb_buf_printf(c->out, ",\"precision\":%lld,\"scale\":%lld",
                      (long long)json_integer_value(p),
                      sc ? (long long)json_integer_value(sc) : 0LL) < 0)
        return nomem(c);
    return 0;
}

/* name attribute of a named type -> fullname (owned) and its namespace. */
static int named(canon *c, const json_t *s, const char *ns, const char *path,
                 char **full_out)
{
    const json_t *name = json_object_get(s, "name");
    const json_t *nsj = json_object_get(s, "namespace");
    const char *n;
    if (!json_is_string(name))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: a named type needs a string \"name\"", path);
    n = json_string_value(name);
    if (nsj && !json_is_string(nsj))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: \"namespace\" must be a string", path);
    if (!strchr(n, '.') && nsj) ns = json_string_value(nsj);
    char *full = qualify(n, ns);
    if (!full) return nomem(c);
    if (!valid_fullname(full) || is_primitive(full)) {
        tb_error_set(c->err, TB_ERR_SCHEMA, "%s: invalid type name \"%s\"",
                     path, full);
        free(full);
        return -1;
    }
    *full_out = full;
    return 0;
}

/* Namespace part of a fullname, written into buf. */
static const char *ns_of(const char *full, char *buf, size_t size)
{
    const char *dot = strrchr(full, '.');
    size_t n = dot ? (size_t)(dot - full) : 0;
    if (n >= size) n = size - 1;
    memcpy(buf, full, n);
    buf[n] = '\0';
    return buf;
}

static int emit_record(canon *c, const json_t *s, const char *ns,
                       const char *path)
{
    char *full = NULL;
    char nsbuf[512];
    char sub[1024];
    const json_t *fields = json_object_get(s, "fields");
    size_t i;
    const json_t *f;

    if (named(c, s, ns, path, &full) < 0) return -1;
    if (!json_is_array(fields)) {
        tb_error_set(c->err, TB_ERR_SCHEMA,
                     "%s: record %s needs a \"fields\" array", path, full);
        free(full);
        return -1;
    }
    if (put(c, "{\"name\":") < 0 || put_str(c, full) < 0 ||
        put(c, ",\"type\":\"record\",\"fields\":[") < 0) {
        free(full);
        return -1;
    }
    ns = ns_of(full, nsbuf, sizeof nsbuf);
    /* Define before the fields so a record may refer to itself. */
    if (define(c, full, path) < 0) return -1;
    json_array_foreach(fields, i, f)
    {
        const json_t *fname = json_object_get(f, "name");
        const json_t *ftype = json_object_get(f, "type");
        const char *fn;
        if (!json_is_string(fname)) {
            return tb_error_set(c->err, TB_ERR_SCHEMA,
                                "%s.fields[%zu]: a field needs a string "
                                "\"name\"",
                                path, i);
        }
        fn = json_string_value(fname);
        snprintf(sub, sizeof sub, "%s.%s", path, fn);
        if (!valid_name(fn, strlen(fn)))
            return tb_error_set(c->err, TB_ERR_SCHEMA, "%s: invalid field name",
                                sub);
        for (size_t j = 0; j < i; j++) {
            const json_t *o =
                json_object_get(json_array_get(fields, j), "name");
            if (strcmp(json_string_value(o), fn) == 0)
                return tb_error_set(c->err, TB_ERR_SCHEMA,
                                    "%s: field defined twice", sub);
        }
        if (!ftype)
            return tb_error_set(c->err, TB_ERR_SCHEMA,
                                "%s: field has no \"type\"", sub);
        if (put(c, i ? ",{\"name\":" : "{\"name\":") < 0 ||
            put_str(c, fn) < 0 || put(c, ",\"type\":") < 0 ||
            emit(c, ftype, ns, sub) < 0 ||
            emit_default(c, json_object_get(f, "default")) < 0 ||
            put(c, "}") < 0)
            return -1;
    }
    return put(c, "]}");
}

static int emit_enum(canon *c, const json_t *s, const char *ns,
                     const char *path)
{
    char *full = NULL;
    const json_t *syms = json_object_get(s, "symbols");
    const json_t *def = json_object_get(s, "default");
    size_t i;
    const json_t *sym;

    if (named(c, s, ns, path, &full) < 0) return -1;
    if (!json_is_array(syms)) {
        tb_error_set(c->err, TB_ERR_SCHEMA,
                     "%s: enum %s needs a \"symbols\" array", path, full);
        free(full);
        return -1;
    }
    if (put(c, "{\"name\":") < 0 || put_str(c, full) < 0 ||
        put(c, ",\"type\":\"enum\",\"symbols\":[") < 0) {
        free(full);
        return -1;
    }
    if (define(c, full, path) < 0) return -1;
    json_array_foreach(syms, i, sym)
    {
        const char *v = json_string_value(sym);
        if (!v || !valid_name(v, strlen(v)))
            return tb_error_set(c->err, TB_ERR_SCHEMA,
                                "%s: enum symbol %zu is not a valid name", path,
                                i);
        if ((i && put(c, ",") < 0) || put_str(c, v) < 0) return -1;
    }
    if (put(c, "]") < 0) return -1;
    if (def && !json_is_string(def))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: enum default must be a symbol", path);
    if (emit_default(c, def) < 0) return -1;
    return put(c, "}");
}

static int emit_fixed(canon *c, const json_t *s, const char *ns,
                      const char *path)
{
    char *full = NULL;
    const json_t *size = json_object_get(s, "size");

    if (named(c, s, ns, path, &full) < 0) return -1;
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
        tb_error_set(c->err, TB_ERR_SCHEMA,
                     "%s: fixed %s needs a non-negative integer \"size\"", path,
                     full);
        free(full);
        return -1;
    }
    if (put(c, "{\"name\":") < 0 || put_str(c, full) < 0 ||
        tb_buf_printf(c->out, ",\"type\":\"fixed\",\"size\":%lld",
                      (long long)json_integer_value(size)) < 0) {
        free(full);
        return -1;
    }
    if (define(c, full, path) < 0) return -1;
    if (emit_logical(c, s, path) < 0) return -1;
    return put(c, "}");
}

static int emit_object(canon *c, const json_t *s, const char *ns,
                       const char *path)
{
    const json_t *t = json_object_get(s, "type");
    const char *type;
    char sub[1024];

    if (!json_is_string(t))
        return tb_error_set(c->err, TB_ERR_SCHEMA,
                            "%s: \"type\" must be a type name string", path);
    type = json_string_value(t);
    if (is_primitive(type)) {
        if (c->kind != TB_CANON_TB || !json_object_get(s, "logicalType"))
            return put_str(c, type);
        if (put(c, "{\"type\":") < 0 || put_str(c, type) < 0 ||
            emit_logical(c, s, path) < 0)
            return -1;
        return put(c, "}");
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
        return emit_record(c, s, ns, path);
    if (strcmp(type, "enum") == 0) return emit_enum(c, s, ns, path);
    if (strcmp(type, "fixed") == 0) return emit_fixed(c, s, ns, path);
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        bool arr = type[0] == 'a';
        const char *key = arr ? "items" : "values";
        const json_t *inner = json_object_get(s, key);
        if (!inner)
            return tb_error_set(c->err, TB_ERR_SCHEMA, "%s: %s needs \"%s\"",
                                path, type, key);
        snprintf(sub, sizeof sub, "%s%s", path, arr ? "[]" : "{}");
        if (tb_buf_printf(c->out, "{\"type\":\"%s\",\"%s\":", type, key) < 0)
            return nomem(c);
        if (emit(c, inner, ns, sub) < 0) return -1;
        return put(c, "}");
    }
    /* {"type": "SomeName"}: a reference written as an object. */
    return emit_name_ref(c, type, ns, path);
}

static int emit(canon *c, const json_t *s, const char *ns, const char *path)
{
    if (json_is_string(s))
        return emit_name_ref(c, json_string_value(s), ns, path);
    if (json_is_object(s)) return emit_object(c, s, ns, path);
    if (json_is_array(s)) {
        size_t i;
        const json_t *b;
        if (put(c, "[") < 0) return -1;
        json_array_foreach(s, i, b)
        {
            if (json_is_array(b))
                return tb_error_set(c->err, TB_ERR_SCHEMA,
                                    "%s: a union may not contain a union",
                                    path);
            if ((i && put(c, ",") < 0) || emit(c, b, ns, path) < 0) return -1;
        }
        return put(c, "]");
    }
    return tb_error_set(c->err, TB_ERR_SCHEMA,
                        "%s: a schema must be a string, an object or an array",
                        path);
}

int tb_canon_form(const json_t *schema, tb_canon_kind kind, tb_buf *out,
                  tb_error *err)
{
    canon c = {.out = out, .kind = kind, .err = err};
    int rc = emit(&c, schema, "", "schema");
    for (size_t i = 0; i < c.n_defined; i++)
        free(c.defined[i]);
    free(c.defined);
    return rc;
}

/* CRC-64-AVRO: the spec's table-driven Rabin fingerprint. */
#define FP_EMPTY 0xc15d213aa4d7a795ULL

uint64_t tb_canon_fingerprint(const void *data, size_t len)
{
    /* Bit by bit rather than the spec's 256-entry table: schemas are small
     * and this needs no shared state. Same result as the table form. */
    const unsigned char *p = data;
    uint64_t fp = FP_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (FP_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}
