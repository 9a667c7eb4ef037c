/*
 * registry.c - the local schema registry: subjects, versions, global ids,
 * compatibility modes, and their index (index.json) on disk.
 *
 * The whole index and every schema are loaded at open and checked (each
 * .avsc against the fingerprint in the index), so a corrupt registry is
 * refused before anything is written over it. The one writer keeps the
 * in-memory state authoritative and rewrites index.json atomically after
 * each change; the new .avsc is always durable before the index names it.
 */
#include "tb_registry.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_buf.h"

#define INDEX_FILE   "index.json"
#define INDEX_FORMAT 1

/* One version of a subject. */
typedef struct version {
    int version;    /* 1, 2, 3, ... */
    int id;         /* global schema id */
    uint64_t fp;    /* fingerprint of canon */
    char *text;     /* pretty-printed schema JSON, as in the .avsc (owned) */
    json_t *schema; /* parsed schema (owned reference) */
    char *canon;    /* extended canonical form (owned) */
} version;

/* One subject. */
typedef struct subject {
    char *name;          /* subject name (owned) */
    version *v;          /* versions, ascending, v[i].version == i + 1 */
    size_t n;            /* versions in use */
    size_t cap;          /* versions allocated */
    tb_compat_mode mode; /* own compatibility, TB_COMPAT_UNSET = default */
} subject;

struct tb_registry {
    char *path;                /* registry directory (owned) */
    tb_registry_access access; /* read or write */
    int lock_fd;               /* writer lock, -1 for readers */
    tb_compat_mode def_mode;   /* registry-wide default in effect */
    tb_compat_mode saved_def;  /* the default stored in index.json */
    int next_id;               /* next global id to hand out */
    subject *subj;             /* subjects sorted by name */
    size_t n_subj;             /* subjects in use */
    size_t cap_subj;           /* subjects allocated */
};

static int nomem(tb_error *err)
{
    return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
}

int tb_registry_subject_check(const char *subject, tb_error *err)
{
    size_t n = subject ? strlen(subject) : 0, base;
    int dots = 0;
    const char *why = NULL;

    if (n == 0)
        why = "it is empty";
    else if (n > 200)
        why = "it is longer than 200 bytes";
    else if (n > 6 && strcmp(subject + n - 6, "-value") == 0)
        base = n - 6;
    else if (n > 4 && strcmp(subject + n - 4, "-key") == 0)
        base = n - 4;
    else
        why = "it does not end in -value or -key";
    for (size_t i = 0; !why && i < base; i++) {
        unsigned char c = (unsigned char)subject[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            why = "it contains '/', '\\' or a control character";
        else if (c == '.' && (i == 0 || subject[i - 1] == '.' || i + 1 == base))
            why = "it has an empty part between dots";
        else if (c == '.')
            dots++;
    }
    if (!why && dots < 2) why = "it has fewer than three dot-separated parts";
    if (!why) return 0;
    return tb_error_set(err, TB_ERR_CONFIG,
                        "invalid subject name \"%s\": %s (expected "
                        "<name>.<schema>.<table>-value)",
                        subject ? subject : "", why);
}

static void version_free(version *v)
{
    free(v->text);
    free(v->canon);
    json_decref(v->schema);
}

static void subject_free(subject *s)
{
    for (size_t i = 0; i < s->n; i++)
        version_free(&s->v[i]);
    free(s->v);
    free(s->name);
}

void tb_registry_close(tb_registry *reg)
{
    if (!reg) return;
    for (size_t i = 0; i < reg->n_subj; i++)
        subject_free(&reg->subj[i]);
    free(reg->subj);
    tb_store_unlock(reg->lock_fd);
    free(reg->path);
    free(reg);
}

static subject *find_subject(const tb_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_subj; i++)
        if (strcmp(reg->subj[i].name, name) == 0) return &reg->subj[i];
    return NULL;
}

/* Insert a new, empty subject keeping the array sorted; NULL on OOM. */
static subject *add_subject(tb_registry *reg, const char *name)
{
    size_t at = 0;
    if (reg->n_subj == reg->cap_subj) {
        size_t cap = reg->cap_subj ? 2 * reg->cap_subj : 8;
        subject *s = realloc(reg->subj, cap * sizeof *s);
        if (!s) return NULL;
        reg->subj = s;
        reg->cap_subj = cap;
    }
    char *copy = strdup(name);
    if (!copy) return NULL;
    while (at < reg->n_subj && strcmp(reg->subj[at].name, name) < 0)
        at++;
    memmove(&reg->subj[at + 1], &reg->subj[at],
            (reg->n_subj - at) * sizeof *reg->subj);
    reg->n_subj++;
    reg->subj[at] = (subject){.name = copy, .mode = TB_COMPAT_UNSET};
    return &reg->subj[at];
}

static void remove_subject(tb_registry *reg, subject *s)
{
    size_t at = (size_t)(s - reg->subj);
    subject_free(s);
    memmove(&reg->subj[at], &reg->subj[at + 1],
            (reg->n_subj - at - 1) * sizeof *reg->subj);
    reg->n_subj--;
}

static version *add_version(subject *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        version *v = realloc(s->v, cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    memset(&s->v[s->n], 0, sizeof s->v[s->n]);
    return &s->v[s->n++];
}

/* Extended canonical form and fingerprint of a parsed schema. */
static int canonicalize(const json_t *schema, char **canon, uint64_t *fp,
                        tb_error *err)
{
    tb_buf b = TB_BUF_INIT;
    if (tb_canon_form(schema, TB_CANON_TB, &b, err) < 0) {
        tb_buf_free(&b);
        return -1;
    }
    *fp = tb_canon_fingerprint(b.data, b.len);
    *canon = (char *)b.data; /* NUL-terminated by tb_buf */
    return 0;
}

/* ---- index.json ---- */

static int index_write(tb_registry *reg, tb_error *err)
{
    json_t *root = NULL, *subjects = NULL;
    char *text = NULL;
    int rc = -1;

    root = json_object();
    subjects = json_object();
    if (!root || !subjects) goto oom;
    if (json_object_set_new(root, "format", json_integer(INDEX_FORMAT)) < 0 ||
        json_object_set_new(root, "next_id", json_integer(reg->next_id)) < 0 ||
        json_object_set_new(root, "compatibility",
                            json_string(tb_compat_mode_name(reg->def_mode))) <
            0)
        goto oom;
    for (size_t i = 0; i < reg->n_subj; i++) {
        subject *s = &reg->subj[i];
        json_t *js = json_object(), *vs = json_array();
        if (!js || !vs || json_object_set_new(js, "versions", vs) < 0 ||
            json_object_set_new(subjects, s->name, js) < 0) {
            json_decref(js);
            json_decref(vs);
            goto oom;
        }
        if (s->mode != TB_COMPAT_UNSET &&
            json_object_set_new(js, "compatibility",
                                json_string(tb_compat_mode_name(s->mode))) < 0)
            goto oom;
        for (size_t j = 0; j < s->n; j++) {
            char fp[17];
            snprintf(fp, sizeof fp, "%016" PRIx64, s->v[j].fp);
            if (json_array_append_new(
                    vs, json_pack("{s:i,s:i,s:s}", "version", s->v[j].version,
                                  "id", s->v[j].id, "fingerprint", fp)) < 0)
                goto oom;
        }
    }
    if (json_object_set(root, "subjects", subjects) < 0) goto oom;
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) goto oom;
    tb_store_crash_point("before_index");
    if (tb_store_write_atomic(reg->path, INDEX_FILE, text, strlen(text), err) <
        0)
        goto fail;
    reg->saved_def = reg->def_mode;
    rc = 0;
    goto fail;
oom:
    nomem(err);
fail:
    free(text);
    json_decref(subjects);
    json_decref(root);
    return rc;
}

/* Report a corrupt index: fmt describes what is wrong. */
static int corrupt(tb_error *err, const tb_registry *reg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int corrupt(tb_error *err, const tb_registry *reg, const char *fmt, ...)
{
    char what[TB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tb_error_set(err, TB_ERR_SCHEMA,
                        "schema registry index %s/%s is corrupt: %s; refusing "
                        "to use or overwrite it (restore it from a backup)",
                        reg->path, INDEX_FILE, what);
}

/* Load one .avsc named by the index and check it against the index. */
static int load_avsc(tb_registry *reg, subject *s, version *v, const char *fp,
                     tb_error *err)
{
    char *path = NULL, *data = NULL, want[17];
    size_t len;
    json_error_t je;
    int rc = -1;

    if (asprintf(&path, "%s/subjects/%s/v%d.avsc", reg->path, s->name,
                 v->version) < 0) {
        path = NULL;
        nomem(err);
        goto fail;
    }
    if (tb_store_read_file(path, &data, &len, err) < 0) {
        if (err && err->code == TB_ERR_NOT_FOUND)
            tb_error_set(err, TB_ERR_SCHEMA,
                         "schema file %s is missing but %s/%s lists it", path,
                         reg->path, INDEX_FILE);
        goto fail;
    }
    v->schema = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!v->schema) {
        tb_error_set(err, TB_ERR_SCHEMA,
                     "schema file %s is corrupt: not valid JSON: %s (line %d, "
                     "column %d); the registry will not write over it",
                     path, je.text, je.line, je.column);
        goto fail;
    }
    if (canonicalize(v->schema, &v->canon, &v->fp, err) < 0) {
        tb_error_prefix(
            err, "schema file %s is corrupt (not a valid Avro schema)", path);
        goto fail;
    }
    snprintf(want, sizeof want, "%016" PRIx64, v->fp);
    if (strcasecmp(want, fp) != 0) {
        tb_error_set(err, TB_ERR_SCHEMA,
                     "schema file %s is corrupt: its fingerprint %s differs "
                     "from %s in %s/%s; the registry will not write over it",
                     path, want, fp, reg->path, INDEX_FILE);
        goto fail;
    }
    v->text = data;
    data = NULL;
    rc = 0;
fail:
    free(data);
    free(path);
    return rc;
}

static int load_subject(tb_registry *reg, const char *name, const json_t *js,
                        tb_error *err)
{
    const json_t *vs = json_object_get(js, "versions");
    const json_t *mode = json_object_get(js, "compatibility");
    char msg[300];
    size_t i;
    const json_t *jv;
    subject *s;
    tb_error sub;

    if (tb_registry_subject_check(name, &sub) < 0)
        return corrupt(err, reg, "%s", sub.msg);
    if (!json_is_object(js) || !json_is_array(vs))
        return corrupt(err, reg, "subject %s has no \"versions\" array", name);
    if (!(s = add_subject(reg, name))) return nomem(err);
    if (mode &&
        (!json_is_string(mode) ||
         tb_compat_mode_parse(json_string_value(mode), &s->mode, &sub) < 0))
        return corrupt(err, reg, "subject %s has a bad compatibility", name);
    json_array_foreach(vs, i, jv)
    {
        json_int_t ver = json_integer_value(json_object_get(jv, "version"));
        json_int_t id = json_integer_value(json_object_get(jv, "id"));
        const char *fp = json_string_value(json_object_get(jv, "fingerprint"));
        version *v;
        if (ver != (json_int_t)i + 1 || id < 1 || id >= reg->next_id || !fp ||
            strlen(fp) != 16) {
            snprintf(msg, sizeof msg,
                     "subject %s: entry %zu needs version %zu, an id from 1 "
                     "to next_id - 1 and a 16-digit hex fingerprint",
                     name, i + 1, i + 1);
            return corrupt(err, reg, "%s", msg);
        }
        if (!(v = add_version(s))) return nomem(err);
        v->version = (int)ver;
        v->id = (int)id;
        if (load_avsc(reg, s, v, fp, err) < 0) return -1;
    }
    return 0;
}

/* Every id must stand for exactly one canonical form. */
static int check_ids(tb_registry *reg, tb_error *err)
{
    char msg[200];
    for (size_t a = 0; a < reg->n_subj; a++) {
        for (size_t i = 0; i < reg->subj[a].n; i++) {
            const version *x = &reg->subj[a].v[i];
            for (size_t b = a; b < reg->n_subj; b++) {
                for (size_t j = b == a ? i + 1 : 0; j < reg->subj[b].n; j++) {
                    const version *y = &reg->subj[b].v[j];
                    bool same =
                        x->fp == y->fp && strcmp(x->canon, y->canon) == 0;
                    if ((x->id == y->id) != same) {
                        snprintf(msg, sizeof msg,
                                 "ids %d (%s v%d) and %d (%s v%d) do not match "
                                 "their schemas",
                                 x->id, reg->subj[a].name, x->version, y->id,
                                 reg->subj[b].name, y->version);
                        return corrupt(err, reg, "%s", msg);
                    }
                }
            }
        }
    }
    return 0;
}

static int index_load(tb_registry *reg, tb_error *err)
{
    char *path = NULL, *data = NULL;
    size_t len;
    json_t *root = NULL;
    json_error_t je;
    const json_t *subjects, *def;
    const char *name;
    json_t *js;
    char detail[300];
    tb_error sub;
    int rc = -1;

    if (asprintf(&path, "%s/%s", reg->path, INDEX_FILE) < 0) {
        path = NULL;
        nomem(err);
        goto fail;
    }
    if (tb_store_read_file(path, &data, &len, &sub) < 0) {
        if (sub.code == TB_ERR_NOT_FOUND)
            rc = 0; /* a new registry */
        else if (err)
            *err = sub;
        goto fail;
    }
    if (!(root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je))) {
        snprintf(detail, sizeof detail,
                 "not valid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        corrupt(err, reg, "%s", detail);
        goto fail;
    }
    if (json_integer_value(json_object_get(root, "format")) != INDEX_FORMAT) {
        corrupt(err, reg, "%s", "\"format\" is missing or not 1");
        goto fail;
    }
    reg->next_id = (int)json_integer_value(json_object_get(root, "next_id"));
    if (reg->next_id < 1) {
        corrupt(err, reg, "%s", "\"next_id\" is missing or below 1");
        goto fail;
    }
    def = json_object_get(root, "compatibility");
    if (!json_is_string(def) ||
        tb_compat_mode_parse(json_string_value(def), &reg->saved_def, &sub) <
            0) {
        corrupt(err, reg, "%s", "\"compatibility\" is not a mode name");
        goto fail;
    }
    subjects = json_object_get(root, "subjects");
    if (!json_is_object(subjects)) {
        corrupt(err, reg, "%s", "\"subjects\" is not an object");
        goto fail;
    }
    json_object_foreach((json_t *)subjects, name, js)
    {
        if (load_subject(reg, name, js, err) < 0) goto fail;
    }
    if (check_ids(reg, err) < 0) goto fail;
    rc = 0;
fail:
    json_decref(root);
    free(data);
    free(path);
    return rc;
}

int tb_registry_open(const char *path, tb_compat_mode default_mode,
                     tb_registry_access acc, tb_registry **out, tb_error *err)
{
    tb_registry *reg = NULL;
    struct stat st;

    if (!path || !*path)
        return tb_error_set(err, TB_ERR_CONFIG,
                            "the schema registry directory is not set");
    if (default_mode < TB_COMPAT_UNSET || default_mode >= TB_COMPAT__COUNT)
        return tb_error_set(err, TB_ERR_INTERNAL, "bad compatibility mode %d",
                            (int)default_mode);
    reg = calloc(1, sizeof *reg);
    if (!reg || !(reg->path = strdup(path))) {
        free(reg);
        return nomem(err);
    }
    reg->access = acc;
    reg->lock_fd = -1;
    reg->next_id = 1;
    reg->saved_def = TB_COMPAT_BACKWARD;
    if (acc == TB_REGISTRY_WRITE) {
        if (tb_store_mkdirs(path, err) < 0) goto fail;
        if (access(path, W_OK | X_OK) < 0) {
            tb_error_set(err, TB_ERR_IO,
                         "schema registry directory %s is not writable (%s): "
                         "tributary needs write permission on it",
                         path, strerror(errno));
            goto fail;
        }
        if (tb_store_lock(path, &reg->lock_fd, err) < 0) goto fail;
    } else if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        tb_error_set(err, TB_ERR_NOT_FOUND,
                     "schema registry directory %s does not exist", path);
        goto fail;
    }
    if (index_load(reg, err) < 0) goto fail;
    reg->def_mode =
        default_mode == TB_COMPAT_UNSET ? reg->saved_def : default_mode;
    if (acc == TB_REGISTRY_WRITE) {
        char *dir = NULL;
        tb_store_clean_temps(path);
        for (size_t i = 0; i < reg->n_subj; i++) {
            if (asprintf(&dir, "%s/subjects/%s", path, reg->subj[i].name) < 0)
                continue; /* cleaning is best effort */
            tb_store_clean_temps(dir);
            free(dir);
        }
        /* Save the default when it changed, or when the registry is new so
         * readers find an index. */
        char *ipath = NULL;
        bool exists = asprintf(&ipath, "%s/%s", path, INDEX_FILE) >= 0 &&
                      access(ipath, F_OK) == 0;
        free(ipath);
        if ((!exists || reg->def_mode != reg->saved_def) &&
            index_write(reg, err) < 0)
            goto fail;
    }
    *out = reg;
    return 0;
fail:
    tb_registry_close(reg);
    return -1;
}

/* ---- registration ---- */

static const version *find_canon(const tb_registry *reg, const char *canon)
{
    for (size_t i = 0; i < reg->n_subj; i++)
        for (size_t j = 0; j < reg->subj[i].n; j++)
            if (strcmp(reg->subj[i].v[j].canon, canon) == 0)
                return &reg->subj[i].v[j];
    return NULL;
}

/* Store a new version: its .avsc first, then the index. The version is
 * already appended to s in memory; the caller undoes that on failure. */
static int persist_version(tb_registry *reg, subject *s, const version *v,
                           tb_error *err)
{
    char *dir = NULL, name[32];
    int rc = -1;
    if (asprintf(&dir, "%s/subjects/%s", reg->path, s->name) < 0) {
        dir = NULL;
        nomem(err);
        goto fail;
    }
    if (tb_store_mkdirs(dir, err) < 0) goto fail;
    snprintf(name, sizeof name, "v%d.avsc", v->version);
    if (tb_store_write_atomic(dir, name, v->text, strlen(v->text), err) < 0)
        goto fail;
    if (index_write(reg, err) < 0) goto fail;
    rc = 0;
fail:
    free(dir);
    return rc;
}

static int check_compat(tb_registry *reg, const subject *s,
                        const json_t *schema, tb_error *err)
{
    const json_t **old = calloc(s->n + 1, sizeof *old);
    int *vers = calloc(s->n + 1, sizeof *vers);
    int rc = -1;
    if (!old || !vers) {
        nomem(err);
        goto fail;
    }
    for (size_t i = 0; i < s->n; i++) {
        old[i] = s->v[i].schema;
        vers[i] = s->v[i].version;
    }
    rc = tb_compat_check_mode(tb_registry_get_compat(reg, s->name), s->name,
                              schema, (int)s->n + 1, old, vers, s->n, err);
fail:
    free(old);
    free(vers);
    return rc;
}

int tb_registry_register(tb_registry *reg, const char *subject_name,
                         const char *schema_json, int *id, int *version_out,
                         tb_error *err)
{
    json_t *schema = NULL;
    json_error_t je;
    char *canon = NULL, *text = NULL, *pretty = NULL;
    uint64_t fp;
    subject *s;
    const version *same;
    version *v;
    bool created = false;
    int rc = -1;

    if (reg->access != TB_REGISTRY_WRITE)
        return tb_error_set(err, TB_ERR_USAGE,
                            "schema registry %s is open read-only", reg->path);
    if (tb_registry_subject_check(subject_name, err) < 0) return -1;
    if (!schema_json ||
        !(schema = json_loads(schema_json, JSON_REJECT_DUPLICATES, &je))) {
        return tb_error_set(err, TB_ERR_SCHEMA,
                            "schema for subject %s is not valid JSON: %s "
                            "(line %d, column %d)",
                            subject_name, schema_json ? je.text : "no text",
                            schema_json ? je.line : 0,
                            schema_json ? je.column : 0);
    }
    if (canonicalize(schema, &canon, &fp, err) < 0) {
        tb_error_prefix(err, "schema for subject %s is not a valid Avro schema",
                        subject_name);
        goto fail;
    }
    s = find_subject(reg, subject_name);
    for (size_t i = 0; s && i < s->n; i++) {
        if (strcmp(s->v[i].canon, canon) == 0) { /* already there */
            if (id) *id = s->v[i].id;
            if (version_out) *version_out = s->v[i].version;
            rc = 0;
            goto fail;
        }
    }
    if (s && check_compat(reg, s, schema, err) < 0) goto fail;
    pretty = json_dumps(schema, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!pretty || asprintf(&text, "%s\n", pretty) < 0) {
        text = NULL;
        nomem(err);
        goto fail;
    }
    if (!s) {
        if (!(s = add_subject(reg, subject_name))) {
            nomem(err);
            goto fail;
        }
        created = true;
    }
    same = find_canon(reg, canon);
    if (!(v = add_version(s))) {
        nomem(err);
        goto fail;
    }
    *v = (version){.version = (int)s->n,
                   .id = same ? same->id : reg->next_id,
                   .fp = fp,
                   .text = text,
                   .schema = schema,
                   .canon = canon};
    if (!same) reg->next_id++;
    if (persist_version(reg, s, v, err) < 0) {
        /* Forget it again: memory must match the index on disk. The
         * strings stay owned by this function and are freed below. */
        if (!same) reg->next_id--;
        s->n--;
        goto fail;
    }
    if (id) *id = v->id;
    if (version_out) *version_out = v->version;
    text = canon = NULL; /* now owned by the registry */
    schema = NULL;
    rc = 0;
fail:
    if (rc < 0 && created) remove_subject(reg, s);
    free(pretty);
    free(text);
    free(canon);
    json_decref(schema);
    return rc;
}

/* ---- lookups ---- */

int tb_registry_lookup(tb_registry *reg, const char *subject_name, int ver,
                       const char **schema_json, int *id, int *version_out,
                       tb_error *err)
{
    const subject *s = subject_name ? find_subject(reg, subject_name) : NULL;
    const version *v;
    if (!s || s->n == 0)
        return tb_error_set(err, TB_ERR_NOT_FOUND,
                            "unknown subject %s in schema registry %s",
                            subject_name ? subject_name : "(null)", reg->path);
    if (ver <= 0) {
        v = &s->v[s->n - 1];
    } else if ((size_t)ver > s->n) {
        char list[200];
        size_t n = 0;
        for (size_t i = 0; i < s->n && n + 16 < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%zu",
                                  i ? ", " : "", i + 1);
        if (n + 16 >= sizeof list)
            snprintf(list + n, sizeof list - n, " ... %zu", s->n);
        return tb_error_set(err, TB_ERR_NOT_FOUND,
                            "subject %s has no version %d; existing versions: "
                            "%s",
                            subject_name, ver, list);
    } else {
        v = &s->v[ver - 1];
    }
    *schema_json = v->text;
    if (id) *id = v->id;
    if (version_out) *version_out = v->version;
    return 0;
}

int tb_registry_get_by_id(tb_registry *reg, int id, const char **schema_json,
                          tb_error *err)
{
    for (size_t i = 0; i < reg->n_subj; i++) {
        for (size_t j = 0; j < reg->subj[i].n; j++) {
            if (reg->subj[i].v[j].id == id) {
                *schema_json = reg->subj[i].v[j].text;
                return 0;
            }
        }
    }
    return tb_error_set(err, TB_ERR_NOT_FOUND,
                        "no schema with id %d in schema registry %s (ids go "
                        "up to %d)",
                        id, reg->path, reg->next_id - 1);
}

int tb_registry_list(tb_registry *reg, tb_registry_visit_fn fn, void *ctx,
                     tb_error *err)
{
    for (size_t i = 0; i < reg->n_subj; i++) {
        const subject *s = &reg->subj[i];
        for (size_t j = 0; j < s->n; j++) {
            tb_registry_entry e = {
                .subject = s->name,
                .version = s->v[j].version,
                .id = s->v[j].id,
                .fingerprint = s->v[j].fp,
                .schema = s->v[j].text,
            };
            if (fn(ctx, &e, err) < 0) return -1;
        }
    }
    return 0;
}

/* ---- compatibility settings ---- */

int tb_registry_set_compat(tb_registry *reg, const char *subject_name,
                           tb_compat_mode mode, tb_error *err)
{
    subject *s = NULL;
    tb_compat_mode old;
    bool created = false;

    if (reg->access != TB_REGISTRY_WRITE)
        return tb_error_set(err, TB_ERR_USAGE,
                            "schema registry %s is open read-only", reg->path);
    if (mode < TB_COMPAT_UNSET || mode >= TB_COMPAT__COUNT ||
        (!subject_name && mode == TB_COMPAT_UNSET))
        return tb_error_set(err, TB_ERR_USAGE,
                            "compatibility mode %d is not valid here",
                            (int)mode);
    if (!subject_name) {
        old = reg->def_mode;
        reg->def_mode = mode;
        if (index_write(reg, err) < 0) {
            reg->def_mode = old;
            return -1;
        }
        return 0;
    }
    if (tb_registry_subject_check(subject_name, err) < 0) return -1;
    if (!(s = find_subject(reg, subject_name))) {
        if (mode == TB_COMPAT_UNSET) return 0;
        if (!(s = add_subject(reg, subject_name))) return nomem(err);
        created = true;
    }
    old = s->mode;
    s->mode = mode;
    if (index_write(reg, err) < 0) {
        if (created)
            remove_subject(reg, s);
        else
            s->mode = old;
        return -1;
    }
    return 0;
}

tb_compat_mode tb_registry_get_compat(const tb_registry *reg,
                                      const char *subject_name)
{
    const subject *s = subject_name ? find_subject(reg, subject_name) : NULL;
    if (s && s->mode != TB_COMPAT_UNSET) return s->mode;
    return reg->def_mode;
}
