/*
 * compat.c - Avro schema resolution rules as a compatibility check, and the
 * Confluent-style modes (BACKWARD, FORWARD, FULL and their _TRANSITIVE forms).
 *
 * Both schemas are first parsed from JSON into a small tree (nodes live in an
 * arena freed after the check), with named-type references resolved, so the
 * checker can follow recursive records. The checker never stops at the first
 * problem: it walks the whole schema and reports every offending field.
 *
 * On top of the spec, logical types must agree exactly (decimal precision
 * and scale, timestamp-millis vs timestamp-micros), because a reader that
 * decodes the same bytes under another logical type reads wrong values.
 */
#include "tb_compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tb_arena.h"

typedef enum kind {
    K_NULL,
    K_BOOLEAN,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_DOUBLE,
    K_BYTES,
    K_STRING,
    K_RECORD,
    K_ENUM,
    K_ARRAY,
    K_MAP,
    K_UNION,
    K_FIXED
} kind;

static const char *const kind_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

typedef struct node node;

/* One record field. */
typedef struct field {
    const char *name;      /* field name (borrowed from the JSON) */
    node *type;            /* its schema */
    const json_t *aliases; /* "aliases" array or NULL (borrowed) */
    bool has_default;      /* a "default" attribute is present */
} field;

/* One schema node. */
struct node {
    kind k;                   /* what it is */
    const char *full;         /* named types: fullname (arena) */
    const char *shortname;    /* named types: last part of full */
    const json_t *aliases;    /* named types: "aliases" or NULL (borrowed) */
    const char *logical;      /* logicalType or NULL (borrowed) */
    long long precision;      /* decimal precision */
    long long scale;          /* decimal scale (0 when omitted) */
    node **sub;               /* union branches; items/values in sub[0] */
    size_t n_sub;             /* entries in sub */
    field *fields;            /* record fields */
    size_t n_fields;          /* entries in fields */
    const json_t *symbols;    /* enum symbols (borrowed) */
    const char *enum_default; /* enum default symbol or NULL */
    long long size;           /* fixed size */
};

/* A defined named type, for resolving references. */
typedef struct named {
    const char *full;   /* fullname */
    node *n;            /* definition */
    struct named *next; /* next in the list */
} named;

/* Parser state. */
typedef struct parser {
    tb_arena *arena; /* owns every node */
    named *names;    /* named types defined so far */
    tb_error *err;   /* caller's error */
} parser;

static const char *arena_str(tb_arena *a, const char *s)
{
    return tb_arena_strndup(a, s, strlen(s));
}

static node *new_node(parser *p, kind k)
{
    node *n = tb_arena_alloc(p->arena, sizeof *n);
    if (!n) {
        tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->k = k;
    return n;
}

static int primitive_kind(const char *s)
{
    for (int k = K_NULL; k <= K_STRING; k++)
        if (strcmp(s, kind_names[k]) == 0) return k;
    return -1;
}

/* Fullname of name in namespace ns, in the arena. */
static const char *qualify(parser *p, const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns) return arena_str(p->arena, name);
    size_t a = strlen(ns), b = strlen(name);
    char *s = tb_arena_alloc(p->arena, a + b + 2);
    if (!s) return NULL;
    memcpy(s, ns, a);
    s[a] = '.';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static node *lookup(parser *p, const char *full)
{
    for (named *n = p->names; n; n = n->next)
        if (strcmp(n->full, full) == 0) return n->n;
    return NULL;
}

static node *parse(parser *p, const json_t *s, const char *ns);

static node *parse_ref(parser *p, const char *name, const char *ns)
{
    int k = primitive_kind(name);
    if (k >= 0) return new_node(p, (kind)k);
    const char *full = qualify(p, name, ns);
    node *n = full ? lookup(p, full) : NULL;
    if (!full)
        tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
    else if (!n)
        tb_error_set(p->err, TB_ERR_SCHEMA, "unknown type \"%s\"", name);
    return n;
}

/* Name, namespace and registration of a named type. */
static int parse_named(parser *p, node *n, const json_t *s, const char **ns)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *nsattr = json_string_value(json_object_get(s, "namespace"));
    named *d;
    if (!name)
        return tb_error_set(p->err, TB_ERR_SCHEMA,
                            "a %s needs a string \"name\"", kind_names[n->k]);
    if (!strchr(name, '.') && nsattr) *ns = nsattr;
    n->full = qualify(p, name, *ns);
    if (!n->full) return tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
    const char *dot = strrchr(n->full, '.');
    n->shortname = dot ? dot + 1 : n->full;
    /* The namespace for what is nested inside is this type's namespace. */
    *ns =
        dot ? tb_arena_strndup(p->arena, n->full, (size_t)(dot - n->full)) : "";
    if (!*ns) return tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
    n->aliases = json_object_get(s, "aliases");
    d = tb_arena_alloc(p->arena, sizeof *d);
    if (!d) return tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
    d->full = n->full;
    d->n = n;
    d->next = p->names;
    p->names = d;
    return 0;
}

static node *parse_object(parser *p, const json_t *s, const char *ns)
{
    const char *type = json_string_value(json_object_get(s, "type"));
    node *n;
    int k;

    if (!type) {
        tb_error_set(p->err, TB_ERR_SCHEMA, "\"type\" must be a string");
        return NULL;
    }
    if ((k = primitive_kind(type)) >= 0) {
        const json_t *sc = json_object_get(s, "scale");
        if (!(n = new_node(p, (kind)k))) return NULL;
        n->logical = json_string_value(json_object_get(s, "logicalType"));
        n->precision = json_integer_value(json_object_get(s, "precision"));
        n->scale = sc ? json_integer_value(sc) : 0;
        return n;
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        const json_t *fields = json_object_get(s, "fields");
        size_t i;
        const json_t *f;
        if (!(n = new_node(p, K_RECORD))) return NULL;
        if (parse_named(p, n, s, &ns) < 0) return NULL;
        if (!json_is_array(fields)) {
            tb_error_set(p->err, TB_ERR_SCHEMA,
                         "record %s needs a \"fields\" array", n->full);
            return NULL;
        }
        n->n_fields = json_array_size(fields);
        n->fields = tb_arena_alloc(p->arena, (n->n_fields + 1) * sizeof(field));
        if (!n->fields) {
            tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        json_array_foreach(fields, i, f)
        {
            field *fd = &n->fields[i];
            fd->name = json_string_value(json_object_get(f, "name"));
            if (!fd->name) {
                tb_error_set(p->err, TB_ERR_SCHEMA,
                             "record %s: field %zu has no name", n->full, i);
                return NULL;
            }
            fd->aliases = json_object_get(f, "aliases");
            fd->has_default = json_object_get(f, "default") != NULL;
            fd->type = parse(p, json_object_get(f, "type"), ns);
            if (!fd->type) return NULL;
        }
        return n;
    }
    if (strcmp(type, "enum") == 0) {
        if (!(n = new_node(p, K_ENUM))) return NULL;
        if (parse_named(p, n, s, &ns) < 0) return NULL;
        n->symbols = json_object_get(s, "symbols");
        n->enum_default = json_string_value(json_object_get(s, "default"));
        if (!json_is_array(n->symbols)) {
            tb_error_set(p->err, TB_ERR_SCHEMA,
                         "enum %s needs a \"symbols\" array", n->full);
            return NULL;
        }
        return n;
    }
    if (strcmp(type, "fixed") == 0) {
        const json_t *sc = json_object_get(s, "scale");
        if (!(n = new_node(p, K_FIXED))) return NULL;
        if (parse_named(p, n, s, &ns) < 0) return NULL;
        n->size = json_integer_value(json_object_get(s, "size"));
        n->logical = json_string_value(json_object_get(s, "logicalType"));
        n->precision = json_integer_value(json_object_get(s, "precision"));
        n->scale = sc ? json_integer_value(sc) : 0;
        return n;
    }
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        bool arr = type[0] == 'a';
        if (!(n = new_node(p, arr ? K_ARRAY : K_MAP))) return NULL;
        n->sub = tb_arena_alloc(p->arena, sizeof(node *));
        if (!n->sub) {
            tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        n->n_sub = 1;
        n->sub[0] = parse(p, json_object_get(s, arr ? "items" : "values"), ns);
        return n->sub[0] ? n : NULL;
    }
    return parse_ref(p, type, ns);
}

static node *parse(parser *p, const json_t *s, const char *ns)
{
    if (json_is_string(s)) return parse_ref(p, json_string_value(s), ns);
    if (json_is_object(s)) return parse_object(p, s, ns);
    if (json_is_array(s)) {
        node *n = new_node(p, K_UNION);
        size_t i;
        const json_t *b;
        if (!n) return NULL;
        n->n_sub = json_array_size(s);
        n->sub = tb_arena_alloc(p->arena, (n->n_sub + 1) * sizeof(node *));
        if (!n->sub) {
            tb_error_set(p->err, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        json_array_foreach(s, i, b)
        {
            if (!(n->sub[i] = parse(p, b, ns))) return NULL;
        }
        return n;
    }
    tb_error_set(p->err, TB_ERR_SCHEMA,
                 "a schema must be a string, an object or an array");
    return NULL;
}

/* ---- the check ---- */

/* A (writer, reader) pair of records being resolved: the recursion guard. */
typedef struct pair {
    const node *w, *r;
} pair;

/* Checker state. */
typedef struct checker {
    tb_buf *issues;     /* "; "-separated problems */
    int n_issues;       /* how many */
    bool reader_is_new; /* wording of missing-field messages */
    pair stack[128];    /* records being resolved */
    size_t depth;       /* entries in stack */
    bool nomem;         /* an append failed */
} checker;

/* Short description of a schema for messages: "long", "decimal(12,2)",
 * "long(timestamp-micros)", "record Foo", "[null, long]". */
static void describe(tb_buf *b, const node *n)
{
    if (n->logical && strcmp(n->logical, "decimal") == 0) {
        tb_buf_printf(b, "decimal(%lld,%lld)", n->precision, n->scale);
        return;
    }
    switch (n->k) {
    case K_RECORD:
    case K_ENUM:
        tb_buf_printf(b, "%s %s", kind_names[n->k], n->shortname);
        break;
    case K_FIXED:
        tb_buf_printf(b, "fixed %s(%lld)", n->shortname, n->size);
        break;
    case K_ARRAY:
    case K_MAP:
        tb_buf_printf(b, "%s<", kind_names[n->k]);
        describe(b, n->sub[0]);
        tb_buf_puts(b, ">");
        break;
    case K_UNION:
        tb_buf_puts(b, "[");
        for (size_t i = 0; i < n->n_sub; i++) {
            if (i) tb_buf_puts(b, ", ");
            describe(b, n->sub[i]);
        }
        tb_buf_puts(b, "]");
        break;
    default:
        tb_buf_puts(b, kind_names[n->k]);
        if (n->logical) tb_buf_printf(b, "(%s)", n->logical);
    }
}

/* Append one problem: "field <path>: <what>" ("schema: <what>" at the top). */
static void issue(checker *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void issue(checker *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (tb_buf_printf(c->issues, "%s%s%s: %s", c->n_issues ? "; " : "",
                      *path ? "field " : "", *path ? path : "schema", msg) < 0)
        c->nomem = true;
    c->n_issues++;
}

static bool name_matches(const node *w, const node *r)
{
    size_t i;
    const json_t *a;
    /* Spec 1.11: unqualified names match; reader aliases rename. */
    if (strcmp(w->shortname, r->shortname) == 0) return true;
    json_array_foreach(r->aliases, i, a)
    {
        const char *s = json_string_value(a);
        const char *dot = s ? strrchr(s, '.') : NULL;
        if (!s) continue;
        if (strcmp(s, w->full) == 0 ||
            strcmp(dot ? dot + 1 : s, w->shortname) == 0)
            return true;
    }
    return false;
}

static bool promotable(kind w, kind r)
{
    switch (w) {
    case K_INT:
        return r == K_LONG || r == K_FLOAT || r == K_DOUBLE;
    case K_LONG:
        return r == K_FLOAT || r == K_DOUBLE;
    case K_FLOAT:
        return r == K_DOUBLE;
    case K_STRING:
        return r == K_BYTES;
    case K_BYTES:
        return r == K_STRING;
    default:
        return false;
    }
}

/* The spec's "match" for two non-union schemas. */
static bool matches(const node *w, const node *r)
{
    if (w->k == K_UNION || r->k == K_UNION) return true;
    if (w->k != r->k) return w->k <= K_STRING && promotable(w->k, r->k);
    switch (w->k) {
    case K_RECORD:
    case K_ENUM:
        return name_matches(w, r);
    case K_FIXED:
        return w->size == r->size && name_matches(w, r);
    default:
        return true;
    }
}

static bool same_logical(const node *w, const node *r)
{
    if (!w->logical || !r->logical) return !w->logical && !r->logical;
    if (strcmp(w->logical, r->logical) != 0) return false;
    if (strcmp(w->logical, "decimal") == 0)
        return w->precision == r->precision && w->scale == r->scale;
    return true;
}

static bool has_symbol(const node *e, const char *sym)
{
    size_t i;
    const json_t *s;
    json_array_foreach(e->symbols, i, s)
    {
        if (json_string_value(s) && strcmp(json_string_value(s), sym) == 0)
            return true;
    }
    return false;
}

static const field *writer_field(const node *w, const field *rf)
{
    size_t i;
    const json_t *a;
    for (size_t j = 0; j < w->n_fields; j++)
        if (strcmp(w->fields[j].name, rf->name) == 0) return &w->fields[j];
    json_array_foreach(rf->aliases, i, a)
    {
        const char *s = json_string_value(a);
        for (size_t j = 0; s && j < w->n_fields; j++)
            if (strcmp(w->fields[j].name, s) == 0) return &w->fields[j];
    }
    return NULL;
}

static void resolve(checker *c, const node *w, const node *r, const char *path);

static void join(char *out, size_t size, const char *path, const char *name)
{
    snprintf(out, size, "%s%s%s", path, *path ? "." : "", name);
}

static void resolve_record(checker *c, const node *w, const node *r,
                           const char *path)
{
    char sub[512];
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].w == w && c->stack[i].r == r) return; /* recursion */
    if (c->depth == sizeof c->stack / sizeof c->stack[0]) {
        issue(c, path, "records nested too deeply to check");
        return;
    }
    c->stack[c->depth++] = (pair){w, r};
    for (size_t i = 0; i < r->n_fields; i++) {
        const field *rf = &r->fields[i];
        const field *wf = writer_field(w, rf);
        join(sub, sizeof sub, path, rf->name);
        if (wf)
            resolve(c, wf->type, rf->type, sub);
        else if (!rf->has_default)
            issue(c, sub,
                  c->reader_is_new
                      ? "added without a default"
                      : "removed, but the old schema has no default for it");
    }
    c->depth--;
}

static void resolve_enum(checker *c, const node *w, const node *r,
                         const char *path)
{
    tb_buf missing = TB_BUF_INIT;
    size_t i;
    const json_t *s;
    int n = 0;
    json_array_foreach(w->symbols, i, s)
    {
        const char *sym = json_string_value(s);
        if (sym && !has_symbol(r, sym)) {
            if (tb_buf_printf(&missing, "%s%s", n ? ", " : "", sym) < 0)
                c->nomem = true;
            n++;
        }
    }
    if (n && !r->enum_default)
        issue(c, path,
              "enum %s: symbol%s %s of the writer missing in the reader, "
              "which has no enum default",
              r->shortname, n > 1 ? "s" : "", (char *)missing.data);
    tb_buf_free(&missing);
}

/* Both non-union and matching: check logical types and recurse. */
static void resolve_matched(checker *c, const node *w, const node *r,
                            const char *path)
{
    char sub[512];
    if (!same_logical(w, r)) {
        tb_buf a = TB_BUF_INIT, b = TB_BUF_INIT;
        describe(&a, w);
        describe(&b, r);
        bool dec = w->logical && r->logical &&
                   strcmp(w->logical, "decimal") == 0 &&
                   strcmp(r->logical, "decimal") == 0;
        if (a.data && b.data)
            issue(c, path, "%s -> %s %s", (char *)a.data, (char *)b.data,
                  dec ? "changes precision or scale"
                      : "changes the logical type");
        else
            c->nomem = true;
        tb_buf_free(&a);
        tb_buf_free(&b);
        return;
    }
    switch (w->k) {
    case K_RECORD:
        resolve_record(c, w, r, path);
        break;
    case K_ENUM:
        resolve_enum(c, w, r, path);
        break;
    case K_ARRAY:
    case K_MAP:
        snprintf(sub, sizeof sub, "%s%s", path, w->k == K_ARRAY ? "[]" : "{}");
        resolve(c, w->sub[0], r->sub[0], sub);
        break;
    default:
        break;
    }
}

static void mismatch(checker *c, const node *w, const node *r, const char *path,
                     const char *what)
{
    tb_buf a = TB_BUF_INIT, b = TB_BUF_INIT;
    describe(&a, w);
    describe(&b, r);
    if (!a.data || !b.data)
        c->nomem = true;
    else
        issue(c, path, "%s -> %s %s", (char *)a.data, (char *)b.data, what);
    tb_buf_free(&a);
    tb_buf_free(&b);
}

static void resolve(checker *c, const node *w, const node *r, const char *path)
{
    if (w->k == K_UNION) {
        /* Every branch the writer may have written must be readable. */
        for (size_t i = 0; i < w->n_sub; i++) {
            const node *b = w->sub[i];
            if (r->k != K_UNION && !matches(b, r))
                mismatch(c, b, r, path,
                         "is not possible: a union branch of the writer "
                         "cannot be read");
            else
                resolve(c, b, r, path);
        }
        return;
    }
    if (r->k == K_UNION) {
        /* Like Avro's Java resolver, prefer a branch of the same type (and
         * logical type) before one reached by promotion: in [decimal,
         * "string"] a written string reads as the string, not the bytes. */
        for (int pass = 0; pass < 3; pass++) {
            for (size_t i = 0; i < r->n_sub; i++) {
                const node *b = r->sub[i];
                if (b->k == K_UNION || !matches(w, b)) continue;
                if (pass == 0 && (b->k != w->k || !same_logical(w, b)))
                    continue;
                if (pass == 1 && b->k != w->k) continue;
                resolve(c, w, b, path);
                return;
            }
        }
        mismatch(c, w, r, path,
                 "is not possible: no branch of the union "
                 "matches");
        return;
    }
    if (!matches(w, r)) {
        const char *what = "changes the type";
        if (w->k <= K_STRING && r->k <= K_STRING)
            what = "is not a promotion";
        else if (w->k == r->k && w->k == K_FIXED && w->size != r->size)
            what = "changes the size";
        else if (w->k == r->k)
            what = "changes the name (add an alias to the reader)";
        mismatch(c, w, r, path, what);
        return;
    }
    resolve_matched(c, w, r, path);
}

int tb_compat_check(const json_t *writer, const json_t *reader,
                    bool reader_is_new, tb_buf *issues, int *n_issues,
                    tb_error *err)
{
    tb_arena arena;
    parser pw = {.arena = &arena, .err = err};
    parser pr = {.arena = &arena, .err = err};
    checker c = {.issues = issues, .reader_is_new = reader_is_new};
    const node *w, *r;
    int rc = -1;

    tb_arena_init(&arena, 0);
    if (!(w = parse(&pw, writer, ""))) {
        tb_error_prefix(err, "writer schema");
        goto fail;
    }
    if (!(r = parse(&pr, reader, ""))) {
        tb_error_prefix(err, "reader schema");
        goto fail;
    }
    resolve(&c, w, r, "");
    if (c.nomem) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *n_issues = c.n_issues;
    rc = 0;
fail:
    tb_arena_free(&arena);
    return rc;
}

/* ---- modes ---- */

static const char *const mode_names[] = {
    [TB_COMPAT_NONE] = "NONE",
    [TB_COMPAT_BACKWARD] = "BACKWARD",
    [TB_COMPAT_FORWARD] = "FORWARD",
    [TB_COMPAT_FULL] = "FULL",
    [TB_COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [TB_COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [TB_COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

const char *tb_compat_mode_name(tb_compat_mode mode)
{
    if (mode == TB_COMPAT_UNSET) return "UNSET";
    if ((unsigned)mode >= TB_COMPAT__COUNT) return "UNKNOWN";
    return mode_names[mode];
}

int tb_compat_mode_parse(const char *name, tb_compat_mode *mode, tb_error *err)
{
    char buf[32];
    size_t n = name ? strlen(name) : 0;
    if (n > 0 && n < sizeof buf) {
        for (size_t i = 0; i <= n; i++)
            buf[i] = name[i] == '-' ? '_' : name[i];
        for (int m = 0; m < TB_COMPAT__COUNT; m++) {
            if (strcasecmp(buf, mode_names[m]) == 0) {
                *mode = (tb_compat_mode)m;
                return 0;
            }
        }
    }
    return tb_error_set(err, TB_ERR_CONFIG,
                        "unknown compatibility mode \"%s\"; valid modes are "
                        "NONE, BACKWARD, FORWARD, FULL, BACKWARD_TRANSITIVE, "
                        "FORWARD_TRANSITIVE, FULL_TRANSITIVE (any case)",
                        name ? name : "");
}

/* Check one old version in the directions the mode asks for; append the
 * problems (if any) to msg. Returns 0 (check ran), -1 on error. */
static int check_one(bool back, bool fwd, const json_t *new_schema,
                     const json_t *old, int old_version, tb_buf *msg,
                     int *n_issues, tb_error *err)
{
    tb_buf b = TB_BUF_INIT, f = TB_BUF_INIT;
    int nb = 0, nf = 0, rc = -1;
    if (back && tb_compat_check(old, new_schema, true, &b, &nb, err) < 0)
        goto fail;
    if (fwd && tb_compat_check(new_schema, old, false, &f, &nf, err) < 0)
        goto fail;
    if (nb && nf) {
        /* FULL: say which direction each group of problems is about. */
        if (tb_buf_printf(msg,
                          "reading version %d data with the new schema: %s; "
                          "reading new data with version %d: %s",
                          old_version, (char *)b.data, old_version,
                          (char *)f.data) < 0)
            goto nomem;
    } else if (nb || nf) {
        if (tb_buf_puts(msg, (char *)(nb ? b.data : f.data)) < 0) goto nomem;
    }
    *n_issues = nb + nf;
    rc = 0;
    goto fail;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, "out of memory");
fail:
    tb_buf_free(&b);
    tb_buf_free(&f);
    return rc;
}

int tb_compat_check_mode(tb_compat_mode mode, const char *subject,
                         const json_t *new_schema, int new_version,
                         const json_t *const *old, const int *old_versions,
                         size_t n_old, tb_error *err)
{
    tb_buf msg = TB_BUF_INIT;
    bool back, fwd, trans;
    int failed = 0, total = 0, rc = -1;
    size_t first;

    if (mode == TB_COMPAT_NONE || n_old == 0) return 0;
    if ((unsigned)mode >= TB_COMPAT__COUNT)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "compatibility mode %d is not valid", (int)mode);
    back = mode == TB_COMPAT_BACKWARD || mode == TB_COMPAT_FULL ||
           mode == TB_COMPAT_BACKWARD_TRANSITIVE ||
           mode == TB_COMPAT_FULL_TRANSITIVE;
    fwd = mode == TB_COMPAT_FORWARD || mode == TB_COMPAT_FULL ||
          mode == TB_COMPAT_FORWARD_TRANSITIVE ||
          mode == TB_COMPAT_FULL_TRANSITIVE;
    trans = mode >= TB_COMPAT_BACKWARD_TRANSITIVE;
    first = trans ? 0 : n_old - 1;
    for (size_t i = first; i < n_old; i++) {
        tb_buf one = TB_BUF_INIT;
        int n = 0;
        if (check_one(back, fwd, new_schema, old[i], old_versions[i], &one, &n,
                      err) < 0) {
            tb_buf_free(&one);
            tb_error_prefix(err, "subject %s, version %d", subject,
                            old_versions[i]);
            goto fail;
        }
        if (n) {
            int w =
                failed == 0
                    ? tb_buf_printf(&msg,
                                    "schema for subject %s is not %s "
                                    "compatible with version %d (new "
                                    "schema would be version %d): %s",
                                    subject, mode_names[mode], old_versions[i],
                                    new_version, (char *)one.data)
                    : tb_buf_printf(&msg, "; with version %d: %s",
                                    old_versions[i], (char *)one.data);
            failed++;
            total += n;
            if (w < 0) {
                tb_buf_free(&one);
                tb_error_set(err, TB_ERR_NOMEM, "out of memory");
                goto fail;
            }
        }
        tb_buf_free(&one);
    }
    if (!failed) {
        rc = 0;
        goto fail;
    }
    if (msg.len < TB_ERROR_MSG_MAX) {
        tb_error_set(err, TB_ERR_SCHEMA, "%s", (char *)msg.data);
    } else {
        /* Too long for tb_error: keep what fits and say how much is cut, so
         * the reader knows there is more (docs/registry.md: how to see it). */
        char tail[96];
        int t = snprintf(tail, sizeof tail, " ... (cut: %d problems in all)",
                         total);
        size_t keep = TB_ERROR_MSG_MAX - 1 - (size_t)t;
        tb_error_set(err, TB_ERR_SCHEMA, "%.*s%s", (int)keep, (char *)msg.data,
                     tail);
    }
fail:
    tb_buf_free(&msg);
    return rc;
}
