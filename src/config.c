/*
 * config.c - load, validate and print the pipeline configuration.
 *
 * One table of properties drives everything: which keys exist, their types,
 * defaults, bounds, and the docs. Loading is pure: it reads the config file
 * (and password files) and the environment, nothing else.
 */
#include "tb_config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_buf.h"

typedef enum prop_type {
    PT_SECTION, /* a JSON object holding further keys */
    PT_STRING,  /* free text */
    PT_CHOICE,  /* one of choices, separated by '|' */
    PT_INT,     /* integer within [min, max] */
    PT_LIST,    /* non-empty array of strings */
    PT_PATH,    /* file or folder, relative to the config file's folder */
    PT_DSN      /* connection string; secret parts masked when printed */
} prop_type;

typedef struct prop {
    const char *path;    /* JSON path, e.g. "source.dsn" */
    prop_type type;      /* value type */
    size_t off;          /* offset of the field in tb_config */
    const char *def;     /* default as text; NULL: none (or computed) */
    bool required;       /* must be present */
    const char *only;    /* applies only when source.type is this */
    const char *choices; /* PT_CHOICE: "a|b|c" */
    int64_t min, max;    /* PT_INT bounds */
    const char *doc;     /* one-line description for docs and --help */
} prop;

#define F(field) offsetof(tb_config, field)

/* The property table. Order is the order of docs and check-config output. */
static const prop props[] = {
    {"name", PT_STRING, F(name), NULL, true, NULL, NULL, 0, 0,
     "Pipeline name: letters, digits and underscore. Names the slot, "
     "publication, registry subjects and state rows."},
    {"source", PT_SECTION, 0, NULL, true, NULL, NULL, 0, 0,
     "The database whose changes are captured."},
    {"source.type", PT_CHOICE, F(source.type), NULL, true, NULL,
     "postgres|mysql", 0, 0, "Source database kind."},
    {"source.dsn", PT_DSN, F(source.dsn), NULL, true, NULL, NULL, 0, 0,
     "postgres: a libpq connection string (`host=... dbname=... user=...` or "
     "a `postgresql://` URI); mysql: `mysql://user:password@host:port/` (a "
     "unix socket with `?socket=PATH`). Use `${VAR}` or password_file to keep "
     "the password out of the file."},
    {"source.password_file", PT_PATH, F(source.password_file), NULL, false,
     NULL, NULL, 0, 0,
     "File holding the source password (trailing newline ignored); "
     "overrides a password in the dsn."},
    {"source.tables", PT_LIST, F(source.tables), NULL, true, NULL, NULL, 0, 0,
     "Tables to capture: `schema.table` (postgres) or `database.table` "
     "(mysql); `*` matches any run of characters. A pattern that matches no "
     "table stops the pipeline at start."},
    {"source.slot", PT_STRING, F(source.slot), NULL, false, "postgres", NULL, 0,
     0, "Logical replication slot. Default `tributary_<name>` (lower case)."},
    {"source.publication", PT_STRING, F(source.publication), NULL, false,
     "postgres", NULL, 0, 0, "Publication. Default `tributary_<name>`."},
    {"source.server_id", PT_INT, F(source.server_id), NULL, false, "mysql",
     NULL, 1, 4294967295LL,
     "Replica server id the agent presents to MySQL/MariaDB; must differ "
     "from every server and replica. Required for mysql."},
    {"source.snapshot", PT_CHOICE, F(source.snapshot), "initial", false, NULL,
     "initial|never", 0, 0,
     "`initial`: copy existing rows before streaming; `never`: stream "
     "changes only."},
    {"source.snapshot_workers", PT_INT, F(source.snapshot_workers), "0", false,
     NULL, NULL, 0, 64,
     "Tables (and ranges of large tables) copied at once by the initial "
     "snapshot, each over its own source and target connection. `0`: one "
     "per CPU of this machine, at most 4."},
    {"source.snapshot_chunk_mb", PT_INT, F(source.snapshot_chunk_mb), "64",
     false, NULL, NULL, 1, 1048576,
     "A table larger than this is copied in ranges of about this size "
     "(PostgreSQL: ctid ranges; MySQL: primary-key ranges), so one large "
     "table also uses several workers."},
    {"source.zero_dates", PT_CHOICE, F(source.zero_dates), "null", false,
     "mysql", "null|error", 0, 0,
     "MySQL zero dates such as `0000-00-00`: `null` stores NULL and counts a "
     "warning; `error` stops the pipeline."},
    {"target", PT_SECTION, 0, NULL, true, NULL, NULL, 0, 0,
     "Where the changes are applied."},
    {"target.type", PT_CHOICE, F(target.type), NULL, true, NULL,
     "postgres|sqlite|kafka|avro-files", 0, 0,
     "Target kind. `postgres` now; `sqlite`, `kafka` and `avro-files` are "
     "planned."},
    {"target.dsn", PT_DSN, F(target.dsn), NULL, true, NULL, NULL, 0, 0,
     "Target connection string (libpq syntax for postgres)."},
    {"target.password_file", PT_PATH, F(target.password_file), NULL, false,
     NULL, NULL, 0, 0, "File holding the target password."},
    {"target.schema", PT_STRING, F(target.schema), "public", false, NULL, NULL,
     0, 0,
     "Target schema for tables and the `_tributary_state` position table."},
    {"target.mode", PT_CHOICE, F(target.mode), "mirror", false, NULL,
     "mirror|audit", 0, 0,
     "`mirror`: target rows equal source rows; `audit`: append-only history "
     "(planned)."},
    {"registry", PT_SECTION, 0, NULL, false, NULL, NULL, 0, 0,
     "The local Avro schema registry."},
    {"registry.path", PT_PATH, F(registry.path), "registry", false, NULL, NULL,
     0, 0, "Registry folder, relative to the config file's folder."},
    {"registry.compatibility", PT_CHOICE, F(registry.compatibility), "backward",
     false, NULL,
     "none|backward|forward|full|backward_transitive|forward_transitive|"
     "full_transitive",
     0, 0, "Compatibility rule for new schema versions."},
    {"metrics", PT_SECTION, 0, NULL, false, NULL, NULL, 0, 0,
     "Prometheus metrics endpoint (planned)."},
    {"metrics.listen", PT_STRING, F(metrics.listen), NULL, false, NULL, NULL, 0,
     0, "`host:port` to serve metrics on; unset: no endpoint."},
    {"batch", PT_SECTION, 0, NULL, false, NULL, NULL, 0, 0,
     "How source transactions are grouped into target transactions."},
    {"batch.max_rows", PT_INT, F(batch.max_rows), "50000", false, NULL, NULL, 1,
     100000000, "Rows per target transaction."},
    {"batch.max_bytes", PT_INT, F(batch.max_bytes), "67108864", false, NULL,
     NULL, 4096, 68719476736LL, "Bytes per target transaction before a flush."},
    {"batch.max_ms", PT_INT, F(batch.max_ms), "200", false, NULL, NULL, 1,
     3600000, "Milliseconds a batch stays open before it is committed."},
    {"batch.spill_dir", PT_PATH, F(batch.spill_dir), "spill", false, NULL, NULL,
     0, 0, "Folder where transactions too large for memory spill to disk."},
    {"log", PT_SECTION, 0, NULL, false, NULL, NULL, 0, 0, "Logging."},
    {"log.level", PT_CHOICE, F(log.level), "info", false, NULL,
     "error|warn|info|debug|trace", 0, 0, "Log threshold."},
};
#define NPROPS (sizeof props / sizeof props[0])

static const prop *prop_find(const char *path)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (strcmp(props[i].path, path) == 0) return &props[i];
    return NULL;
}

static const char *type_text(const prop *p)
{
    switch (p->type) {
    case PT_SECTION:
        return "an object";
    case PT_STRING:
        return "a string";
    case PT_CHOICE:
        return "a string";
    case PT_INT:
        return "an integer";
    case PT_LIST:
        return "an array of strings";
    case PT_PATH:
        return "a string (a path)";
    case PT_DSN:
        return "a string (a connection string)";
    }
    return "?";
}

static const char *json_type_text(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* Levenshtein distance, for "did you mean". Short strings only. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

/* The valid key nearest to path among keys of the same parent section. */
static const char *nearest_key(const char *path)
{
    const char *dot = strrchr(path, '.');
    size_t plen = dot ? (size_t)(dot - path) + 1 : 0;
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < NPROPS; i++) {
        const char *q = props[i].path;
        const char *qdot = strrchr(q, '.');
        size_t qlen = qdot ? (size_t)(qdot - q) + 1 : 0;
        if (qlen != plen || strncmp(q, path, plen) != 0) continue;
        size_t d = edit_distance(path + plen, q + qlen);
        if (d < bestd) {
            bestd = d;
            best = q;
        }
    }
    return best;
}

/*
 * Line of a key in the raw text, found by walking the path's segments in
 * order (each segment searched after the previous one). jansson does not
 * keep positions of keys, and this is right for every config a person
 * writes; 0 when not found.
 */
static int key_line(const char *text, const char *path)
{
    const char *pos = text;
    char seg[128];
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n + 3 > sizeof seg) return 0;
        seg[0] = '"';
        memcpy(seg + 1, path, n);
        seg[n + 1] = '"';
        seg[n + 2] = '\0';
        const char *hit = NULL;
        for (const char *p = strstr(pos, seg); p; p = strstr(p + 1, seg)) {
            const char *q = p + n + 2;
            while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
                q++;
            if (*q == ':') {
                hit = p;
                break;
            }
        }
        if (!hit) return 0;
        pos = hit + n + 2;
        path += n;
        if (*path == '.') path++;
    }
    int line = 1;
    for (const char *p = text; p < pos; p++)
        line += *p == '\n';
    return line;
}

typedef struct loader {
    const char *file; /* path for messages */
    const char *text; /* raw text, for line numbers */
    tb_error *err;
} loader;

/* "file:line: " or "file: " prefix for a key's message. */
static void where(const loader *L, const char *path, char *out, size_t n)
{
    int line = path ? key_line(L->text, path) : 0;
    if (line > 0)
        snprintf(out, n, "%s:%d", L->file, line);
    else
        snprintf(out, n, "%s", L->file);
}

#define CFG_FAIL(L, path, ...)                                                 \
    do {                                                                       \
        char w_[PATH_MAX + 32];                                                \
        char m_[768];                                                          \
        where((L), (path), w_, sizeof w_);                                     \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                  \
        return tb_error_set((L)->err, TB_ERR_CONFIG, "%s: %s", w_, m_);        \
    } while (0)

/* Reject keys the table does not know, recursively. */
static int check_keys(loader *L, json_t *obj, const char *prefix)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const prop *p = prop_find(path);
        if (!p) {
            const char *near = nearest_key(path);
            if (near)
                CFG_FAIL(L, path, "unknown key %s; did you mean %s?", path,
                         near);
            CFG_FAIL(L, path, "unknown key %s", path);
        }
        if (p->type == PT_SECTION) {
            if (!json_is_object(val))
                CFG_FAIL(L, path, "%s: expected an object, got %s", path,
                         json_type_text(val));
            if (check_keys(L, val, path) < 0) return -1;
        }
    }
    return 0;
}

static json_t *get_path(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = root;
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg;
         seg = strtok_r(NULL, ".", &save)) {
        if (!json_is_object(cur)) return NULL;
        cur = json_object_get(cur, seg);
        if (!cur) return NULL;
    }
    return cur;
}

/* Expand ${VAR} from the environment; "$${" stands for a literal "${". */
static int expand_env(loader *L, const char *path, const char *in, char **out)
{
    tb_buf b = TB_BUF_INIT;
    const char *p = in;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            if (tb_buf_append(&b, "${", 2) < 0) goto oom;
            p += 3;
            continue;
        }
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                tb_buf_free(&b);
                CFG_FAIL(L, path, "%s: unterminated ${ (write ${NAME})", path);
            }
            char name[128];
            size_t n = (size_t)(end - p - 2);
            if (n == 0 || n >= sizeof name) {
                tb_buf_free(&b);
                CFG_FAIL(L, path, "%s: bad variable reference ${%.*s}", path,
                         (int)n, p + 2);
            }
            memcpy(name, p + 2, n);
            name[n] = '\0';
            const char *v = getenv(name);
            if (!v) {
                tb_buf_free(&b);
                CFG_FAIL(L, path,
                         "%s: environment variable %s is not set (referenced "
                         "as ${%s}); export it or remove the reference",
                         path, name, name);
            }
            if (tb_buf_puts(&b, v) < 0) goto oom;
            p = end + 1;
            continue;
        }
        if (tb_buf_append(&b, p, 1) < 0) goto oom;
        p++;
    }
    if (tb_buf_append(&b, "", 0) < 0) goto oom;
    *out = (char *)b.data;
    return 0;
oom:
    tb_buf_free(&b);
    return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
}

static char **field_str(tb_config *cfg, const prop *p)
{
    return (char **)((char *)cfg + p->off);
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0) return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

static char *choice_list(const char *choices)
{
    tb_buf b = TB_BUF_INIT;
    for (const char *c = choices; *c; c++) {
        if (*c == '|')
            tb_buf_puts(&b, ", ");
        else
            tb_buf_append(&b, c, 1);
    }
    return (char *)b.data;
}

static char *resolve_path(const char *dir, const char *p)
{
    if (p[0] == '/') return strdup(p);
    char *out = NULL;
    if (asprintf(&out, "%s/%s", dir, p) < 0) return NULL;
    return out;
}

/* Set one property from JSON (or its default). */
static int load_prop(loader *L, tb_config *cfg, json_t *root, const prop *p)
{
    json_t *v = get_path(root, p->path);
    const char *stype = cfg->source.type;

    if (p->only && v && stype && strcmp(stype, p->only) != 0)
        CFG_FAIL(L, p->path, "%s applies only to source.type \"%s\"", p->path,
                 p->only);
    if (!v || json_is_null(v)) {
        if (p->required)
            CFG_FAIL(L, NULL, "missing required key %s (%s: %s)", p->path,
                     type_text(p), p->doc);
        if (!p->def) return 0;
        if (p->type == PT_INT) {
            *(int64_t *)((char *)cfg + p->off) = strtoll(p->def, NULL, 10);
            return 0;
        }
        if (p->type == PT_PATH) {
            char *r = resolve_path(cfg->dir, p->def);
            if (!r) return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
            *field_str(cfg, p) = r;
            return 0;
        }
        *field_str(cfg, p) = strdup(p->def);
        if (!*field_str(cfg, p))
            return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
        return 0;
    }

    switch (p->type) {
    case PT_SECTION:
        return 0;
    case PT_INT: {
        if (!json_is_integer(v))
            CFG_FAIL(L, p->path, "%s: expected an integer, got %s", p->path,
                     json_type_text(v));
        json_int_t n = json_integer_value(v);
        if (n < p->min || n > p->max)
            CFG_FAIL(
                L, p->path, "%s: %lld is out of range (expected %lld to %lld)",
                p->path, (long long)n, (long long)p->min, (long long)p->max);
        *(int64_t *)((char *)cfg + p->off) = n;
        return 0;
    }
    case PT_LIST: {
        if (!json_is_array(v))
            CFG_FAIL(L, p->path, "%s: expected an array of strings, got %s",
                     p->path, json_type_text(v));
        size_t n = json_array_size(v);
        if (n == 0)
            CFG_FAIL(L, p->path,
                     "%s: expected an array of strings, got an empty array",
                     p->path);
        char **list = calloc(n + 1, sizeof *list);
        if (!list) return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
        *(char ***)((char *)cfg + p->off) = list;
        cfg->source.ntables = (int)n; /* the only list property */
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            char epath[256];
            snprintf(epath, sizeof epath, "%s[%zu]", p->path, i);
            if (!json_is_string(e))
                CFG_FAIL(L, p->path, "%s: expected a string, got %s", epath,
                         json_type_text(e));
            if (expand_env(L, epath, json_string_value(e), &list[i]) < 0)
                return -1;
        }
        return 0;
    }
    default:
        break;
    }

    if (!json_is_string(v))
        CFG_FAIL(L, p->path, "%s: expected %s, got %s", p->path, type_text(p),
                 json_type_text(v));
    char *s = NULL;
    if (expand_env(L, p->path, json_string_value(v), &s) < 0) return -1;
    if (p->type == PT_CHOICE && !choice_ok(p->choices, s)) {
        char *list = choice_list(p->choices);
        char w[PATH_MAX + 32];
        where(L, p->path, w, sizeof w);
        tb_error_set(L->err, TB_ERR_CONFIG,
                     "%s: %s: \"%s\" is not valid (expected one of: %s)", w,
                     p->path, s, list ? list : p->choices);
        free(list);
        free(s);
        return -1;
    }
    if (p->type == PT_PATH) {
        char *r = resolve_path(cfg->dir, s);
        free(s);
        if (!r) return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
        s = r;
    }
    *field_str(cfg, p) = s;
    return 0;
}

static bool is_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return false;
    return true;
}

static bool is_slot_name(const char *s)
{
    if (!*s || strlen(s) > 63) return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
            *s != '_')
            return false;
    return true;
}

static int read_password_file(loader *L, const char *key, const char *path,
                              char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        CFG_FAIL(L, key, "%s: cannot read %s: %s", key, path, strerror(errno));
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0) CFG_FAIL(L, key, "%s: %s is empty", key, path);
    *out = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    if (!*out) return tb_error_set(L->err, TB_ERR_NOMEM, "out of memory");
    return 0;
}

/* A table pattern: two dot-separated parts, each an identifier or a glob. */
static bool table_pattern_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1] || strchr(dot + 1, '.')) return false;
    return true;
}

/* Checks across keys, after each key was valid on its own. */
static int validate(loader *L, tb_config *cfg)
{
    tb_error *err = L->err;
    if (!is_name(cfg->name))
        CFG_FAIL(L, "name",
                 "name: \"%s\" is not valid (use letters, digits and "
                 "underscore only)",
                 cfg->name);
    for (int i = 0; i < cfg->source.ntables; i++) {
        if (!table_pattern_ok(cfg->source.tables[i]))
            CFG_FAIL(L, "source.tables",
                     "source.tables[%d]: \"%s\" is not a table pattern "
                     "(expected %s.table, e.g. %s; * is a wildcard)",
                     i, cfg->source.tables[i],
                     strcmp(cfg->source.type, "mysql") == 0 ? "database"
                                                            : "schema",
                     strcmp(cfg->source.type, "mysql") == 0 ? "shop.orders"
                                                            : "public.orders");
    }
    if (strcmp(cfg->source.type, "postgres") == 0) {
        char lower[128];
        size_t n = 0;
        for (const char *p = cfg->name; *p && n < sizeof lower - 1; p++)
            lower[n++] = (char)tolower((unsigned char)*p);
        lower[n] = '\0';
        if (!cfg->source.slot &&
            asprintf(&cfg->source.slot, "tributary_%s", lower) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        if (!cfg->source.publication &&
            asprintf(&cfg->source.publication, "tributary_%s", lower) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        if (!is_slot_name(cfg->source.slot))
            CFG_FAIL(L, "source.slot",
                     "source.slot: \"%s\" is not a valid replication slot "
                     "name (lower-case letters, digits and underscore, at "
                     "most 63)",
                     cfg->source.slot);
        char *ci = tb_pg_conninfo(cfg->source.dsn, NULL, err);
        if (!ci) return tb_error_prefix(err, "%s", L->file);
        free(ci);
    } else {
        if (cfg->source.server_id == 0)
            CFG_FAIL(L, NULL,
                     "missing required key source.server_id (an integer: "
                     "the replica id tributary presents, unique among the "
                     "source's servers and replicas)");
        tb_myuri u;
        if (tb_myuri_parse(cfg->source.dsn, &u, err) < 0)
            return tb_error_prefix(err, "%s: source.dsn", L->file);
        tb_myuri_free(&u);
    }
    if (strcmp(cfg->target.type, "postgres") == 0) {
        char *ci = tb_pg_conninfo(cfg->target.dsn, NULL, err);
        if (!ci) return tb_error_prefix(err, "%s", L->file);
        free(ci);
        if (!is_name(cfg->target.schema))
            CFG_FAIL(L, "target.schema",
                     "target.schema: \"%s\" is not valid (letters, digits, "
                     "underscore)",
                     cfg->target.schema);
    }
    if (cfg->metrics.listen) {
        const char *colon = strrchr(cfg->metrics.listen, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == cfg->metrics.listen || !end || *end ||
            port < 1 || port > 65535)
            CFG_FAIL(L, "metrics.listen",
                     "metrics.listen: \"%s\" is not host:port (e.g. "
                     "127.0.0.1:9187)",
                     cfg->metrics.listen);
    }
    if (cfg->source.password_file &&
        read_password_file(L, "source.password_file", cfg->source.password_file,
                           &cfg->source.password) < 0)
        return -1;
    if (cfg->target.password_file &&
        read_password_file(L, "target.password_file", cfg->target.password_file,
                           &cfg->target.password) < 0)
        return -1;
    return 0;
}

int tb_config_load_string(const char *path, const char *text, tb_config **out,
                          tb_error *err)
{
    loader L = {path, text, err};
    json_error_t jerr;
    tb_config *cfg = NULL;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (!root)
        return tb_error_set(err, TB_ERR_CONFIG, "%s:%d:%d: invalid JSON: %s",
                            path, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        tb_error_set(err, TB_ERR_CONFIG,
                     "%s: expected a JSON object at the top, got %s", path,
                     json_type_text(root));
        goto fail;
    }
    if (check_keys(&L, root, "") < 0) goto fail;

    cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    cfg->path = strdup(path);
    char *copy = strdup(path);
    char abs[PATH_MAX];
    if (copy && realpath(dirname(copy), abs))
        cfg->dir = strdup(abs);
    else if (copy)
        cfg->dir = strdup(".");
    free(copy);
    if (!cfg->path || !cfg->dir) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < NPROPS; i++)
        if (load_prop(&L, cfg, root, &props[i]) < 0) goto fail;
    if (validate(&L, cfg) < 0) goto fail;
    json_decref(root);
    *out = cfg;
    return 0;
fail:
    json_decref(root);
    tb_config_free(cfg);
    return -1;
}

int tb_config_load(const char *path, tb_config **out, tb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tb_error_set(err, TB_ERR_CONFIG, "%s: cannot open config: %s",
                            path, strerror(errno));
    tb_buf b = TB_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (tb_buf_append(&b, chunk, n) < 0) {
            fclose(f);
            tb_buf_free(&b);
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        }
    }
    fclose(f);
    if (tb_buf_append(&b, "", 0) < 0) {
        tb_buf_free(&b);
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    int rc = tb_config_load_string(path, (const char *)b.data, out, err);
    tb_buf_free(&b);
    return rc;
}

static void free_secret(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void tb_config_free(tb_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < NPROPS; i++) {
        const prop *p = &props[i];
        if (p->type == PT_SECTION || p->type == PT_INT) continue;
        if (p->type == PT_LIST) {
            char **list = *(char ***)((char *)cfg + p->off);
            for (char **q = list; q && *q; q++)
                free(*q);
            free(list);
            continue;
        }
        if (p->type == PT_DSN)
            free_secret(*field_str(cfg, p));
        else
            free(*field_str(cfg, p));
    }
    free_secret(cfg->source.password);
    free_secret(cfg->target.password);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

int tb_config_print(const tb_config *cfg, FILE *f, tb_error *err)
{
    json_t *root = json_object();
    if (!root) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < NPROPS; i++) {
        const prop *p = &props[i];
        if (p->only && strcmp(p->only, cfg->source.type) != 0) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", p->path);
        char *dot = strchr(buf, '.');
        json_t *parent = root;
        const char *leaf = buf;
        if (dot) {
            *dot = '\0';
            parent = json_object_get(root, buf);
            if (!parent) {
                parent = json_object();
                json_object_set_new(root, buf, parent);
            }
            leaf = dot + 1;
        }
        json_t *v = NULL;
        if (p->type == PT_SECTION) {
            if (!json_object_get(root, p->path))
                json_object_set_new(root, p->path, json_object());
            continue;
        } else if (p->type == PT_INT) {
            v = json_integer(*(int64_t *)((const char *)cfg + p->off));
        } else if (p->type == PT_LIST) {
            v = json_array();
            for (char **q = *(char ***)((const char *)cfg + p->off); q && *q;
                 q++)
                json_array_append_new(v, json_string(*q));
        } else {
            const char *s = *(const char **)((const char *)cfg + p->off);
            if (!s) {
                v = json_null();
            } else if (p->type == PT_DSN) {
                char *m = tb_dsn_mask(s);
                v = json_string(m ? m : "****");
                free(m);
            } else {
                v = json_string(s);
            }
        }
        json_object_set_new(parent, leaf, v);
    }
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(root);
    if (rc < 0) return tb_error_set(err, TB_ERR_IO, "cannot write config");
    return 0;
}

void tb_config_write_docs(FILE *f)
{
    fputs("# Configuration\n\n"
          "<!-- Generated by `tributary check-config --docs` from the "
          "property table in src/config.c; edit that table, then run "
          "`make docs`. -->\n\n"
          "tributary reads one JSON file (`-c FILE`). Unknown keys, wrong "
          "types and missing required keys are errors (exit code 2) that name "
          "the file, the line and the key; nothing is connected or written "
          "before the whole file is valid. Check a file with `tributary "
          "check-config -c FILE`, which prints the effective configuration "
          "with passwords masked.\n\n"
          "- `${VAR}` inside any string is replaced by the environment "
          "variable VAR; an unset variable is an error naming it. Write "
          "`$${` for a literal `${`.\n"
          "- Relative paths resolve against the config file's folder.\n"
          "- Passwords can come from `${VAR}` or from `password_file`; they "
          "never appear in logs, errors or `check-config` output.\n\n"
          "| key | type | default | description |\n"
          "|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < NPROPS; i++) {
        const prop *p = &props[i];
        const char *type = p->type == PT_SECTION ? "object"
                           : p->type == PT_INT   ? "integer"
                           : p->type == PT_LIST  ? "array of strings"
                           : p->type == PT_PATH  ? "path"
                           : p->type == PT_DSN   ? "connection string"
                                                 : "string";
        fprintf(f, "| `%s` | %s", p->path, type);
        if (p->type == PT_CHOICE) {
            fputs(": ", f);
            for (const char *c = p->choices; *c; c++) {
                if (*c == '|')
                    fputs(", ", f);
                else
                    fputc(*c, f);
            }
        }
        if (p->type == PT_INT && p->max)
            fprintf(f, " (%lld to %lld)", (long long)p->min, (long long)p->max);
        fprintf(f, " | %s | ",
                p->required ? "required"
                : p->def    ? p->def
                            : "-");
        if (p->only) fprintf(f, "Only for source.type `%s`. ", p->only);
        fprintf(f, "%s |\n", p->doc);
    }
    fputs("\n## Example\n\n```json\n"
          "{\n"
          "  \"name\": \"shop\",\n"
          "  \"source\": {\"type\": \"postgres\",\n"
          "             \"dsn\": \"host=127.0.0.1 port=5432 dbname=shop "
          "user=repl password=${SHOP_PASSWORD}\",\n"
          "             \"tables\": [\"public.orders\", "
          "\"public.customer_*\"]},\n"
          "  \"target\": {\"type\": \"postgres\", \"dsn\": \"host=127.0.0.1 "
          "port=5433 dbname=dw user=loader\",\n"
          "             \"password_file\": \"secrets/dw.pass\", \"schema\": "
          "\"shop\"}\n"
          "}\n```\n",
          f);
}
