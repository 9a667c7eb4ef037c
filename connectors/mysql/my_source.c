/*
 * my_source.c - the MySQL/MariaDB source: connections, positions, table
 * shapes, pre-flight checks and the tb_source_ops table.
 *
 * Streaming lives in my_stream.c, the initial copy in my_snapshot.c and
 * value conversion in my_rows.c.
 */
#include "my_source.h"

#include <ctype.h>
#include <errmsg.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "my_source_int.h"
#include "tb_log.h"

/* ---- connections -------------------------------------------------------- */

MYSQL *tb_mysrc_connect(const tb_myuri *u, const char *password,
                        const char *what, tb_error *err)
{
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    unsigned timeout = 10;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *pw = password ? password : u->password;
    if (!mysql_real_connect(m, u->host, u->user, pw, u->db, u->port, u->socket,
                            0)) {
        tb_error_set(err, TB_ERR_CONNECT,
                     "cannot connect to the %s MySQL/MariaDB at %s%s%s: %s",
                     what, u->socket ? u->socket : (u->host ? u->host : ""),
                     u->socket ? "" : ":",
                     u->socket ? "" : (u->port ? "" : "3306"), mysql_error(m));
        if (!u->socket && u->port) {
            char port[16];
            snprintf(port, sizeof port, "%u", u->port);
            tb_error_set(err, TB_ERR_CONNECT,
                         "cannot connect to the %s MySQL/MariaDB at %s:%s: %s",
                         what, u->host ? u->host : "localhost", port,
                         mysql_error(m));
        }
        tb_error_retriable(err);
        mysql_close(m);
        return NULL;
    }
    /* TIMESTAMP text in UTC, so the snapshot reads instants, not wall
     * clocks of the server's zone. */
    if (tb_mysrc_exec(m, "SET SESSION time_zone = '+00:00'",
                      "setting the session time zone", err) < 0) {
        mysql_close(m);
        return NULL;
    }
    return m;
}

static int sql_error(MYSQL *m, const char *what, tb_error *err)
{
    unsigned e = mysql_errno(m);
    tb_error_set(err, TB_ERR_SOURCE, "%s failed: %s (error %u)", what,
                 mysql_error(m), e);
    if (e == CR_SERVER_LOST || e == CR_SERVER_GONE_ERROR ||
        e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR)
        tb_error_retriable(err);
    return -1;
}

int tb_mysrc_exec(MYSQL *m, const char *sql, const char *what, tb_error *err)
{
    if (mysql_query(m, sql) != 0) return sql_error(m, what, err);
    /* Drain results so the connection is ready for the next statement. */
    do {
        MYSQL_RES *r = mysql_store_result(m);
        mysql_free_result(r);
    } while (mysql_next_result(m) == 0);
    return 0;
}

MYSQL_RES *tb_mysrc_query(MYSQL *m, const char *sql, const char *what,
                          tb_error *err)
{
    if (mysql_query(m, sql) != 0) {
        sql_error(m, what, err);
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(m);
    if (!r) sql_error(m, what, err);
    return r;
}

int tb_mysrc_quote_ident(tb_buf *b, const char *s)
{
    if (tb_buf_append(b, "`", 1) < 0) return -1;
    for (; *s; s++) {
        if (*s == '`' && tb_buf_append(b, "`", 1) < 0) return -1;
        if (tb_buf_append(b, s, 1) < 0) return -1;
    }
    return tb_buf_append(b, "`", 1);
}

int tb_mysrc_quote_literal(MYSQL *m, tb_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (tb_buf_reserve(b, 2 * n + 3) < 0) return -1;
    b->data[b->len++] = '\'';
    b->len += mysql_real_escape_string(m, (char *)b->data + b->len, s,
                                       (unsigned long)n);
    b->data[b->len++] = '\'';
    b->data[b->len] = '\0';
    return 0;
}

/* ---- positions ---------------------------------------------------------- */

static int cmp_gtid(const void *a, const void *b)
{
    const my_gtid *x = a, *y = b;
    return x->domain < y->domain ? -1 : x->domain > y->domain;
}

void tb_mysrc_pos_set_gtid(my_pos *p, const my_gtid *g)
{
    for (int i = 0; i < p->ngtids; i++)
        if (p->gtids[i].domain == g->domain) {
            p->gtids[i] = *g;
            return;
        }
    if (p->ngtids == MY_MAX_DOMAINS) return; /* refused at parse time */
    p->gtids[p->ngtids++] = *g;
    qsort(p->gtids, (size_t)p->ngtids, sizeof *p->gtids, cmp_gtid);
}

int tb_mysrc_gtid_list_parse(const char *s, my_pos *p, tb_error *err)
{
    p->ngtids = 0;
    while (*s) {
        unsigned long long d, sv, n;
        int used = 0;
        while (*s == ' ' || *s == ',' || *s == '\n')
            s++;
        if (!*s) break;
        if (sscanf(s, "%llu-%llu-%llu%n", &d, &sv, &n, &used) != 3 ||
            d > UINT32_MAX || sv > UINT32_MAX)
            return tb_error_set(err, TB_ERR_CONFIG,
                                "bad MariaDB GTID list \"%s\"", s);
        if (p->ngtids == MY_MAX_DOMAINS)
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "more than %d replication domains",
                                MY_MAX_DOMAINS);
        my_gtid g = {(uint32_t)d, (uint32_t)sv, n};
        tb_mysrc_pos_set_gtid(p, &g);
        s += used;
    }
    return 0;
}

int tb_mysrc_pos_parse(const char *text, my_pos *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[TB_POSITION_MAX];
        if (n >= sizeof item) goto bad;
        memcpy(item, p, n);
        item[n] = '\0';
        if (strncmp(item, "gtid=", 5) == 0) {
            const char *v = item + 5;
            if (strchr(v, ':')) { /* Oracle MySQL: uuid:1-5,... */
                size_t vl = strlen(v);
                if (vl >= sizeof out->mysql_gtids) goto bad;
                memcpy(out->mysql_gtids, v, vl + 1);
            } else if (tb_mysrc_gtid_list_parse(v, out, err) < 0) {
                return tb_error_prefix(err, "position \"%s\"", text);
            }
        } else if (strncmp(item, "file=", 5) == 0) {
            size_t fl = strlen(item + 5);
            if (fl >= sizeof out->file) goto bad;
            memcpy(out->file, item + 5, fl + 1);
        } else if (strncmp(item, "pos=", 4) == 0) {
            char *e;
            out->pos = strtoull(item + 4, &e, 10);
            if (*e || e == item + 4) goto bad;
        } else if (n) {
            goto bad;
        }
        p += n;
        if (*p == ';') p++;
    }
    return 0;
bad:
    return tb_error_set(err, TB_ERR_CONFIG,
                        "bad MySQL position \"%s\" (expected "
                        "gtid=D-S-N,...;file=NAME;pos=N)",
                        text);
}

/* Sequence number of a binlog file name: the digits after its last '.'
 * ("mysql-bin.000042" -> 42). */
static unsigned long long binlog_seq(const char *file)
{
    const char *dot = strrchr(file, '.');
    return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

int tb_mysrc_pos_binlog_cmp(const my_pos *a, const my_pos *b)
{
    if (!a->file[0] || !b->file[0]) return !!a->file[0] - !!b->file[0];
    unsigned long long x = binlog_seq(a->file), y = binlog_seq(b->file);
    if (x != y) return x < y ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

void tb_mysrc_pos_format(const my_pos *p, tb_position *out)
{
    char tmp[64];
    size_t o = 0;
    out->text[0] = '\0';
    if (p->ngtids || p->mysql_gtids[0]) {
        o += (size_t)snprintf(out->text + o, sizeof out->text - o, "gtid=");
        if (p->mysql_gtids[0])
            o += (size_t)snprintf(out->text + o, sizeof out->text - o, "%s",
                                  p->mysql_gtids);
        for (int i = 0; i < p->ngtids && o < sizeof out->text; i++) {
            snprintf(tmp, sizeof tmp, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64,
                     i ? "," : "", p->gtids[i].domain, p->gtids[i].server,
                     p->gtids[i].seq);
            o += (size_t)snprintf(out->text + o, sizeof out->text - o, "%s",
                                  tmp);
        }
    }
    if (p->file[0] && o < sizeof out->text)
        snprintf(out->text + o, sizeof out->text - o, "%sfile=%s;pos=%" PRIu64,
                 o ? ";" : "", p->file, p->pos);
}

/* Compare binlog file names by their numeric extension ("binlog.000012"),
 * falling back to strcmp. */
static int cmp_file(const char *a, const char *b)
{
    const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
    if (da && db && (size_t)(da - a) == (size_t)(db - b) &&
        strncmp(a, b, (size_t)(da - a)) == 0) {
        unsigned long long x = strtoull(da + 1, NULL, 10);
        unsigned long long y = strtoull(db + 1, NULL, 10);
        if (x != y) return x < y ? -1 : 1;
        return 0;
    }
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

int tb_mysrc_pos_compare(const my_pos *a, const my_pos *b)
{
    bool ea = !a->ngtids && !a->file[0] && !a->mysql_gtids[0];
    bool eb = !b->ngtids && !b->file[0] && !b->mysql_gtids[0];
    if (ea || eb) return ea && eb ? 0 : ea ? -1 : 1;
    if (a->ngtids || b->ngtids) {
        /* Per domain: a missing domain counts as sequence 0. */
        bool less = false, more = false;
        int i = 0, j = 0;
        while (i < a->ngtids || j < b->ngtids) {
            uint64_t x = 0, y = 0;
            if (j >= b->ngtids ||
                (i < a->ngtids && a->gtids[i].domain < b->gtids[j].domain)) {
                x = a->gtids[i++].seq;
            } else if (i >= a->ngtids ||
                       b->gtids[j].domain < a->gtids[i].domain) {
                y = b->gtids[j++].seq;
            } else {
                x = a->gtids[i++].seq;
                y = b->gtids[j++].seq;
            }
            less |= x < y;
            more |= x > y;
        }
        if (less && !more) return -1;
        if (more && !less) return 1;
        /* equal or incomparable: the file position decides */
    }
    if (a->file[0] && b->file[0]) {
        int c = cmp_file(a->file, b->file);
        if (c) return c;
        return a->pos < b->pos ? -1 : a->pos > b->pos;
    }
    return 0;
}

/* ---- tables and shapes ----------------------------------------------------
 */

bool tb_mysrc_wanted(const tb_source *s, const char *db, const char *name)
{
    char full[512];
    snprintf(full, sizeof full, "%s.%s", db, name);
    for (int p = 0; p < s->cfg->source.ntables; p++)
        if (fnmatch(s->cfg->source.tables[p], full, 0) == 0) return true;
    return false;
}

my_table *tb_mysrc_table(tb_source *s, const char *db, const char *name,
                         tb_error *err)
{
    for (int i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i]->db, db) == 0 &&
            strcmp(s->tables[i]->name, name) == 0)
            return s->tables[i];
    if (s->ntables == s->captables) {
        int cap = s->captables ? s->captables * 2 : 16;
        my_table **t = realloc(s->tables, (size_t)cap * sizeof *t);
        if (!t) goto nomem;
        s->tables = t;
        s->captables = cap;
    }
    my_table *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->db = strdup(db);
    t->name = strdup(name);
    if (!t->db || !t->name) {
        free(t->db);
        free(t->name);
        free(t);
        goto nomem;
    }
    s->tables[s->ntables++] = t;
    return t;
nomem:
    tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    return NULL;
}

/* ---- MariaDB JSON columns ------------------------------------------------
 */

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

bool tb_mysrc_json_check_column(const char *clause, char *out, size_t cap)
{
    const char *p = skip_spaces(clause);
    size_t k = 0;
    if (!cap || strncasecmp(p, "json_valid", 10) != 0) return false;
    p = skip_spaces(p + 10);
    if (*p++ != '(') return false;
    p = skip_spaces(p);
    if (*p++ != '`') return false;
    for (;;) {
        if (!*p) return false;
        if (*p == '`') {
            if (p[1] != '`') break;
            p++; /* `` stands for one backquote */
        }
        if (k + 1 >= cap) return false;
        out[k++] = *p++;
    }
    p = skip_spaces(p + 1);
    if (*p++ != ')' || *skip_spaces(p) || k == 0) return false;
    out[k] = '\0';
    return true;
}

static void json_forget(my_table *tab)
{
    for (int i = 0; i < tab->njson; i++)
        free(tab->json[i]);
    free(tab->json);
    tab->json = NULL;
    tab->njson = 0;
    tab->json_known = false;
}

int tb_mysrc_json_load(tb_source *s, my_table *tab, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    MYSQL_RES *r = NULL;
    int rc = -1;
    json_forget(tab);
    if (tb_buf_puts(&q, "SELECT CHECK_CLAUSE FROM "
                        "information_schema.CHECK_CONSTRAINTS WHERE "
                        "CONSTRAINT_SCHEMA = ") < 0 ||
        tb_mysrc_quote_literal(s->sql, &q, tab->db) < 0 ||
        tb_buf_puts(&q, " AND TABLE_NAME = ") < 0 ||
        tb_mysrc_quote_literal(s->sql, &q, tab->name) < 0) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (mysql_query(s->sql, (const char *)q.data) != 0) {
        unsigned e = mysql_errno(s->sql);
        /* ER_UNKNOWN_TABLE (1109): a server without CHECK constraints has
         * no MariaDB JSON columns either. */
        if (e == 1109) {
            tab->json_known = true;
            rc = 0;
            goto fail;
        }
        sql_error(s->sql, "reading JSON check constraints", err);
        goto fail;
    }
    r = mysql_store_result(s->sql);
    if (!r) {
        sql_error(s->sql, "reading JSON check constraints", err);
        goto fail;
    }
    MYSQL_ROW row;
    char col[256];
    while ((row = mysql_fetch_row(r))) {
        if (!row[0] || !tb_mysrc_json_check_column(row[0], col, sizeof col))
            continue;
        char **n = realloc(tab->json, (size_t)(tab->njson + 1) * sizeof *n);
        if (!n) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        tab->json = n;
        if (!(tab->json[tab->njson] = strdup(col))) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        tab->njson++;
    }
    tab->json_known = true;
    rc = 0;
fail:
    mysql_free_result(r);
    tb_buf_free(&q);
    return rc;
}

bool tb_mysrc_is_json(const my_table *tab, const char *col)
{
    for (int i = 0; i < tab->njson; i++)
        if (strcmp(tab->json[i], col) == 0) return true;
    return false;
}

/* A MariaDB JSON column is a non-binary LONGTEXT with the json_valid check:
 * map it as the JSON type (kind JSON, "json", jsonb). Both shape builders
 * go through here so the snapshot's and the binlog's shapes stay equal. */
static int map_json(const my_table *tab, const char *cname, uint32_t charset,
                    tb_column *col, tb_mytype_names *names, tb_error *err)
{
    if (col->kind != TB_KIND_STRING || col->type_id != TB_MYSQL_TYPE_BLOB ||
        charset == TB_MYSQL_COLLATION_BINARY || !tb_mysrc_is_json(tab, cname))
        return 0;
    memset(col, 0, sizeof *col);
    return tb_mytype_map(TB_MYSQL_TYPE_JSON, 4, false, charset, NULL, col,
                         names, err);
}

/* One column as information_schema describes it, turned into the type byte
 * and metadata the binlog would carry, so both paths map alike. */
static int catalog_type(const char *data_type, const char *column_type,
                        long long prec, long long scale, long long dtprec,
                        uint32_t *charset, uint8_t *type, uint16_t *meta)
{
    static const struct {
        const char *name;
        uint8_t type;
        uint16_t meta;
        bool binary;
    } simple[] = {
        {"tinyint", TB_MYSQL_TYPE_TINY, 0, false},
        {"smallint", TB_MYSQL_TYPE_SHORT, 0, false},
        {"mediumint", TB_MYSQL_TYPE_INT24, 0, false},
        {"int", TB_MYSQL_TYPE_LONG, 0, false},
        {"bigint", TB_MYSQL_TYPE_LONGLONG, 0, false},
        {"float", TB_MYSQL_TYPE_FLOAT, 4, false},
        {"double", TB_MYSQL_TYPE_DOUBLE, 8, false},
        {"year", TB_MYSQL_TYPE_YEAR, 0, false},
        {"date", TB_MYSQL_TYPE_DATE, 0, false},
        {"enum", TB_MYSQL_TYPE_ENUM, 0, false},
        {"set", TB_MYSQL_TYPE_SET, 0, false},
        {"json", TB_MYSQL_TYPE_JSON, 4, false},
        {"tinytext", TB_MYSQL_TYPE_BLOB, 1, false},
        {"text", TB_MYSQL_TYPE_BLOB, 2, false},
        {"mediumtext", TB_MYSQL_TYPE_BLOB, 3, false},
        {"longtext", TB_MYSQL_TYPE_BLOB, 4, false},
        {"tinyblob", TB_MYSQL_TYPE_BLOB, 1, true},
        {"blob", TB_MYSQL_TYPE_BLOB, 2, true},
        {"mediumblob", TB_MYSQL_TYPE_BLOB, 3, true},
        {"longblob", TB_MYSQL_TYPE_BLOB, 4, true},
        {"char", TB_MYSQL_TYPE_STRING, 0xfe00, false},
        {"binary", TB_MYSQL_TYPE_STRING, 0xfe00, true},
        {"varchar", TB_MYSQL_TYPE_VARCHAR, 0, false},
        {"varbinary", TB_MYSQL_TYPE_VARCHAR, 0, true},
        {"geometry", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"point", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"linestring", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"polygon", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"multipoint", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"multilinestring", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"multipolygon", TB_MYSQL_TYPE_GEOMETRY, 4, true},
        {"geometrycollection", TB_MYSQL_TYPE_GEOMETRY, 4, true},
    };
    (void)column_type;
    for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        if (strcasecmp(simple[k].name, data_type) != 0) continue;
        *type = simple[k].type;
        *meta = simple[k].meta;
        if (simple[k].binary) *charset = TB_MYSQL_COLLATION_BINARY;
        return 0;
    }
    if (strcasecmp(data_type, "decimal") == 0) {
        *type = TB_MYSQL_TYPE_NEWDECIMAL;
        *meta = (uint16_t)(prec << 8 | scale);
        return 0;
    }
    if (strcasecmp(data_type, "bit") == 0) {
        *type = TB_MYSQL_TYPE_BIT;
        *meta = (uint16_t)((prec / 8) << 8 | (prec % 8));
        return 0;
    }
    if (strcasecmp(data_type, "datetime") == 0 ||
        strcasecmp(data_type, "timestamp") == 0 ||
        strcasecmp(data_type, "time") == 0) {
        *type = data_type[1] == 'a'   ? TB_MYSQL_TYPE_DATETIME2
                : data_type[4] == 's' ? TB_MYSQL_TYPE_TIMESTAMP2
                                      : TB_MYSQL_TYPE_TIME2;
        *meta = (uint16_t)(dtprec > 0 ? dtprec : 0);
        return 0;
    }
    return -1;
}

int tb_mysrc_shape_from_catalog(tb_source *s, const char *db, const char *name,
                                tb_table **out, uint32_t **charsets,
                                tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    MYSQL_RES *r = NULL;
    tb_table *t = NULL;
    uint32_t *cs = NULL;
    my_table *tab = tb_mysrc_table(s, db, name, err);
    *out = NULL;
    *charsets = NULL;
    if (!tab || tb_mysrc_json_load(s, tab, err) < 0) goto fail;
    tb_buf_puts(&q, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, "
                    "c.IS_NULLABLE, c.COLUMN_KEY, "
                    "COALESCE(c.NUMERIC_PRECISION, 0), "
                    "COALESCE(c.NUMERIC_SCALE, 0), "
                    "COALESCE(c.DATETIME_PRECISION, 0), COALESCE(co.ID, 0) "
                    "FROM information_schema.COLUMNS c "
                    "LEFT JOIN information_schema.COLLATIONS co "
                    "ON co.COLLATION_NAME = c.COLLATION_NAME "
                    "WHERE c.TABLE_SCHEMA = ");
    tb_mysrc_quote_literal(s->sql, &q, db);
    tb_buf_puts(&q, " AND c.TABLE_NAME = ");
    tb_mysrc_quote_literal(s->sql, &q, name);
    tb_buf_puts(&q, " ORDER BY c.ORDINAL_POSITION");
    r = tb_mysrc_query(s->sql, (const char *)q.data, "reading table columns",
                       err);
    if (!r) goto fail;
    int n = (int)mysql_num_rows(r);
    if (n == 0) {
        tb_error_set(err, TB_ERR_NOT_FOUND, "table %s.%s does not exist", db,
                     name);
        goto fail;
    }
    bool has_pk = false;
    t = tb_table_new(db, db, name, n);
    cs = calloc((size_t)n, sizeof *cs);
    if (!t || !cs) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        MYSQL_ROW row = mysql_fetch_row(r);
        const char *cname = row[0], *dtype = row[1], *ctype = row[2];
        bool key = strcmp(row[4], "PRI") == 0;
        has_pk |= key;
        bool nullable = strcmp(row[3], "YES") == 0 && !key;
        uint32_t charset = (uint32_t)strtoul(row[8], NULL, 10);
        uint8_t type;
        uint16_t meta;
        if (catalog_type(dtype, ctype, atoll(row[5]), atoll(row[6]),
                         atoll(row[7]), &charset, &type, &meta) < 0) {
            tb_error_set(err, TB_ERR_UNSUPPORTED,
                         "%s.%s column %s has type %s, which tributary does "
                         "not replicate",
                         db, name, cname, ctype);
            goto fail;
        }
        tb_column col;
        tb_mytype_names names;
        memset(&col, 0, sizeof col);
        if (tb_mytype_map(type, meta, false, charset, ctype, &col, &names,
                          err) < 0 ||
            map_json(tab, cname, charset, &col, &names, err) < 0) {
            tb_error_prefix(err, "%s.%s column %s", db, name, cname);
            goto fail;
        }
        if (tb_table_set_column(t, i, cname, names.source, names.target,
                                col.kind, col.precision, col.scale, nullable,
                                key) < 0) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        t->cols[i].type_id = col.type_id;
        t->cols[i].type_mod = col.type_mod;
        cs[i] = charset;
    }
    (void)has_pk;
    mysql_free_result(r);
    tb_buf_free(&q);
    *out = t;
    *charsets = cs;
    return 0;
fail:
    mysql_free_result(r);
    tb_buf_free(&q);
    tb_table_free(t);
    free(cs);
    return -1;
}

int tb_mysrc_shape_from_map(tb_source *s, const tb_binlog_table_map *tm,
                            tb_table **out, uint32_t **charsets, tb_error *err)
{
    tb_table *t = NULL;
    uint32_t *cs = NULL;
    *out = NULL;
    *charsets = NULL;
    /* The JSON columns are read at open and again after DDL, not per map:
     * a map is re-sent for every table id, and the catalog shows today's
     * columns, not those of the event being read. */
    my_table *tab = tb_mysrc_table(s, tm->db, tm->table, err);
    if (!tab) goto fail;
    if ((!tab->json_known || tab->stale) && tb_mysrc_json_load(s, tab, err) < 0)
        goto fail;
    t = tb_table_new(tm->db, tm->db, tm->table, (int)tm->ncols);
    cs = calloc(tm->ncols ? tm->ncols : 1, sizeof *cs);
    if (!t || !cs) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const tb_binlog_column *bc = &tm->cols[i];
        uint8_t type = bc->real_type;
        uint16_t meta = bc->meta;
        /* binlog.h keeps the two metadata bytes as read (little-endian);
         * my_types wants DECIMAL as precision << 8 | scale and CHAR as
         * real_type << 8 | length. */
        if (type == TB_MYSQL_NEWDECIMAL)
            meta = (uint16_t)(bc->precision << 8 | bc->scale);
        else if (type == TB_MYSQL_STRING)
            meta = (uint16_t)(TB_MYSQL_STRING << 8 | (bc->max_len & 0xff));
        bool key = tm->has_pk && bc->pk;
        tb_column col;
        tb_mytype_names names;
        memset(&col, 0, sizeof col);
        if (tb_mytype_map(type, meta, bc->is_unsigned, bc->charset, NULL, &col,
                          &names, err) < 0 ||
            (bc->name &&
             map_json(tab, bc->name, bc->charset, &col, &names, err) < 0)) {
            tb_error_prefix(err, "%s.%s column %s", tm->db, tm->table,
                            bc->name ? bc->name : "?");
            goto fail;
        }
        char fallback[32];
        snprintf(fallback, sizeof fallback, "col%u", i + 1);
        if (tb_table_set_column(t, (int)i, bc->name ? bc->name : fallback,
                                names.source, names.target, col.kind,
                                col.precision, col.scale, bc->nullable && !key,
                                key) < 0) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        t->cols[i].type_id = col.type_id;
        t->cols[i].type_mod = col.type_mod;
        cs[i] = bc->charset;
    }
    *out = t;
    *charsets = cs;
    return 0;
fail:
    tb_table_free(t);
    free(cs);
    return -1;
}

int tb_mysrc_install(tb_source *s, my_table *tab, tb_table *t,
                     uint32_t *charsets, const tb_emit *emit, tb_error *err)
{
    free(tab->charsets);
    tab->charsets = charsets;
    tab->stale = false;
    if (tab->t && tab->announced && tb_table_same_shape(tab->t, t)) {
        tb_table_free(t);
        return 0;
    }
    /* A new shape: changes the sink still holds may point at the old one,
     * so it is kept until close. */
    if (tb_shapes_keep(&s->retired, tab->t) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0) {
        tab->t = NULL;
        tb_table_free(t);
        return -1;
    }
    tab->t = t;
    tab->announced = false;
    if (tb_mysrc_begin(s, emit, err) < 0) return -1;
    tab->announced = true;
    return emit->table(emit->ctx, t, err);
}

/* ---- pre-flight ------------------------------------------------------- */

static int check_server(tb_source *s, tb_error *err)
{
    MYSQL_RES *r =
        tb_mysrc_query(s->sql,
                       "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
                       "@@server_id, VERSION()",
                       "reading server settings", err);
    if (!r) return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    int rc = -1;
    if (!row) {
        tb_error_set(err, TB_ERR_SOURCE, "cannot read the server settings");
        goto out;
    }
    snprintf(s->server_version, sizeof s->server_version, "%s",
             row[4] ? row[4] : "");
    s->mariadb = strstr(s->server_version, "MariaDB") != NULL;
    if (!row[0] || strcmp(row[0], "1") != 0) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "the source server has no binary log (log_bin is OFF): "
                     "start it with log_bin=ON (MariaDB: log-bin=<name>), "
                     "binlog_format=ROW, binlog_row_image=FULL and "
                     "binlog_row_metadata=FULL");
        tb_error_fatal(err);
        goto out;
    }
    if (!row[1] || strcasecmp(row[1], "ROW") != 0) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "the source server has binlog_format=%s; tributary "
                     "needs ROW: run SET GLOBAL binlog_format='ROW' and set "
                     "binlog_format=ROW in the server configuration",
                     row[1] ? row[1] : "?");
        tb_error_fatal(err);
        goto out;
    }
    if (row[2] && strcasecmp(row[2], "FULL") != 0)
        tb_log_warn("source has binlog_row_image=%s: columns missing from an "
                    "update are replicated as unchanged; FULL is "
                    "recommended (SET GLOBAL binlog_row_image='FULL')",
                    row[2]);
    unsigned long long sid = row[3] ? strtoull(row[3], NULL, 10) : 0;
    if ((long long)sid == s->cfg->source.server_id) {
        tb_error_set(err, TB_ERR_CONFIG,
                     "source.server_id %lld is the source server's own "
                     "@@server_id; pick a server id no server or replica of "
                     "this topology uses",
                     (long long)s->cfg->source.server_id);
        tb_error_fatal(err);
        goto out;
    }
    rc = 0;
out:
    mysql_free_result(r);
    if (rc < 0) return -1;
    /* binlog_row_metadata exists from MariaDB 10.5 / MySQL 8.0.1. */
    s->full_metadata = false;
    if (mysql_query(s->sql, "SELECT @@binlog_row_metadata") == 0) {
        r = mysql_store_result(s->sql);
        row = r ? mysql_fetch_row(r) : NULL;
        s->full_metadata = row && row[0] && strcasecmp(row[0], "FULL") == 0;
        mysql_free_result(r);
    }
    if (!s->full_metadata)
        tb_log_warn("source has no binlog_row_metadata=FULL: table shapes "
                    "are read from information_schema when first seen or "
                    "after DDL, which can race with later DDL; set "
                    "binlog_row_metadata=FULL");
    return 0;
}

static int check_grants(tb_source *s, tb_error *err)
{
    MYSQL_RES *r = tb_mysrc_query(s->sql, "SHOW GRANTS", "reading grants", err);
    if (!r) return -1;
    bool all = false, slave = false, client = false, select = false;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        if (!row[0]) continue;
        char up[2048];
        size_t k = 0;
        for (; row[0][k] && k + 1 < sizeof up; k++)
            up[k] = (char)toupper((unsigned char)row[0][k]);
        up[k] = '\0';
        char *on = strstr(up, " ON ");
        if (on) *on = '\0'; /* privileges only, not object names */
        bool global = on && strncmp(on + 4, "*.*", 3) == 0;
        if (strstr(up, "ALL PRIVILEGES")) {
            if (global) all = true;
            select = true;
        }
        if (global && strstr(up, "REPLICATION SLAVE")) slave = true;
        if (global && (strstr(up, "REPLICATION CLIENT") ||
                       strstr(up, "BINLOG MONITOR") || strstr(up, "SUPER")))
            client = true;
        if (strstr(up, "SELECT")) select = true;
    }
    mysql_free_result(r);
    if (all) return 0;
    if (!slave || !client) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "the source user lacks %s: run GRANT REPLICATION SLAVE, "
                     "%s ON *.* TO <user>",
                     !slave ? "REPLICATION SLAVE" : "the binlog monitor right",
                     s->mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT");
        tb_error_fatal(err);
        return -1;
    }
    if (!select) {
        tb_error_set(err, TB_ERR_SOURCE,
                     "the source user has no SELECT privilege: run GRANT "
                     "SELECT ON <db>.* TO <user> for the replicated tables");
        tb_error_fatal(err);
        return -1;
    }
    return 0;
}

/* Another replica connected with our server id would be kicked off by us
 * (and kick us off in turn). A dump thread of our own previous run may
 * linger a moment, so look twice before refusing. */
static int check_server_id(tb_source *s, tb_error *err)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        if (mysql_query(s->sql, "SHOW SLAVE HOSTS") != 0) return 0;
        MYSQL_RES *r = mysql_store_result(s->sql);
        if (!r) return 0;
        bool clash = false;
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(r)))
            if (row[0] && strtoll(row[0], NULL, 10) == s->cfg->source.server_id)
                clash = true;
        mysql_free_result(r);
        if (!clash) return 0;
        usleep(200 * 1000);
    }
    tb_error_set(err, TB_ERR_CONFIG,
                 "a replica with server_id %lld is connected to the source "
                 "(SHOW SLAVE HOSTS); give this pipeline its own "
                 "source.server_id",
                 (long long)s->cfg->source.server_id);
    tb_error_fatal(err);
    return -1;
}

static int resolve_tables(tb_source *s, tb_error *err)
{
    MYSQL_RES *r = tb_mysrc_query(
        s->sql,
        "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, EXISTS (SELECT 1 FROM "
        "information_schema.TABLE_CONSTRAINTS k WHERE k.TABLE_SCHEMA = "
        "t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME AND "
        "k.CONSTRAINT_TYPE = 'PRIMARY KEY') FROM information_schema.TABLES t "
        "WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN "
        "('mysql', 'information_schema', 'performance_schema', 'sys') "
        "ORDER BY 1, 2",
        "listing tables", err);
    if (!r) return -1;
    int np = s->cfg->source.ntables;
    bool *hit = calloc((size_t)(np ? np : 1), sizeof *hit);
    if (!hit) {
        mysql_free_result(r);
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    }
    MYSQL_ROW row;
    int rc = 0;
    while (rc == 0 && (row = mysql_fetch_row(r))) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", row[0], row[1]);
        bool want = false;
        for (int p = 0; p < np; p++)
            if (fnmatch(s->cfg->source.tables[p], full, 0) == 0) {
                hit[p] = true;
                want = true;
            }
        if (!want) continue;
        if (!tb_mysrc_table(s, row[0], row[1], err)) rc = -1;
        if (row[2] && row[2][0] == '0')
            tb_log_warn("table %s has no primary key: it is replicated with "
                        "no key columns (updates and deletes carry the whole "
                        "row)",
                        full);
    }
    mysql_free_result(r);
    /* JSON columns once the listing is read (one statement at a time). */
    for (int i = 0; rc == 0 && i < s->ntables; i++)
        rc = tb_mysrc_json_load(s, s->tables[i], err);
    for (int p = 0; rc == 0 && p < np; p++)
        if (!hit[p]) {
            rc = tb_error_set(err, TB_ERR_CONFIG,
                              "source.tables pattern \"%s\" matches no table "
                              "on the source (patterns are database.table, "
                              "with * wildcards)",
                              s->cfg->source.tables[p]);
            tb_error_fatal(err);
        }
    free(hit);
    return rc;
}

/* Set p->mysql_gtids to the canonical text of the Oracle MySQL GTID set
 * text (as gtid_executed prints it, newlines and all). A set that does not
 * parse or does not fit is left out with a warning: the position then
 * resumes by file and offset, which a GTID set would only make sturdier. */
static void mysql_gtids_text(const char *text, my_pos *p)
{
    tb_mygtidset set;
    tb_error e;
    tb_mygtidset_init(&set);
    p->mysql_gtids[0] = '\0';
    if (tb_mygtidset_parse(&set, text, &e) < 0)
        tb_log_warn("ignoring the source's GTID set: %s", e.msg);
    else if (tb_mygtidset_format(&set, p->mysql_gtids, sizeof p->mysql_gtids) >=
             sizeof p->mysql_gtids) {
        tb_log_warn("the source's GTID set is longer than %zu bytes: "
                    "positions carry the binlog file and offset only",
                    sizeof p->mysql_gtids - 1);
        p->mysql_gtids[0] = '\0';
    }
    tb_mygtidset_free(&set);
}

/* The server's position now: SHOW MASTER STATUS plus @@gtid_binlog_pos. */
int tb_mysrc_server_position(MYSQL *m, bool mariadb, my_pos *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    MYSQL_RES *r = tb_mysrc_query(m, "SHOW MASTER STATUS",
                                  "reading the binlog position", err);
    if (!r) return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row && row[0] && row[1]) {
        snprintf(out->file, sizeof out->file, "%s", row[0]);
        out->pos = strtoull(row[1], NULL, 10);
        /* Oracle MySQL: Executed_Gtid_Set, read with the file and offset
         * under one lock, so the three agree. Kept only when it fits. */
        if (!mariadb && mysql_num_fields(r) >= 5 && row[4])
            mysql_gtids_text(row[4], out);
    }
    mysql_free_result(r);
    if (!out->file[0])
        return tb_error_set(err, TB_ERR_SOURCE,
                            "SHOW MASTER STATUS is empty: binary logging is "
                            "off or the user lacks %s",
                            mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT");
    if (!mariadb) return 0;
    r = tb_mysrc_query(m, "SELECT @@gtid_binlog_pos", "reading the GTID state",
                       err);
    if (!r) return -1;
    row = mysql_fetch_row(r);
    int rc = 0;
    if (row && row[0]) rc = tb_mysrc_gtid_list_parse(row[0], out, err);
    mysql_free_result(r);
    return rc;
}

/* Is binlog file still on the server? Also reports the oldest one. */
int tb_mysrc_binlog_present(MYSQL *m, const char *file, bool *present,
                            char *oldest, size_t cap, tb_error *err)
{
    MYSQL_RES *r =
        tb_mysrc_query(m, "SHOW BINARY LOGS", "listing binary logs", err);
    if (!r) return -1;
    MYSQL_ROW row;
    *present = false;
    if (oldest && cap) oldest[0] = '\0';
    bool first = true;
    while ((row = mysql_fetch_row(r))) {
        if (first && oldest) snprintf(oldest, cap, "%s", row[0]);
        first = false;
        if (file && strcmp(row[0], file) == 0) *present = true;
    }
    mysql_free_result(r);
    return 0;
}

static int purged_error(const char *pos, tb_error *err)
{
    tb_error_set(err, TB_ERR_SOURCE,
                 "the source no longer has the binary log of the stored "
                 "position %s (purged by expire_logs_days / "
                 "binlog_expire_logs_seconds or PURGE BINARY LOGS), so "
                 "changes after it are lost to tributary. To start over: "
                 "drop the replicated tables and the pipeline's row in the "
                 "target's _tributary_state table, then run again (a new "
                 "snapshot is taken); keep binlogs longer afterwards",
                 pos);
    return tb_error_fatal(err);
}

/* ---- ops ---------------------------------------------------------------- */

static void my_close(tb_source *s);

int tb_mysrc_begin(tb_source *s, const tb_emit *emit, tb_error *err)
{
    if (!s->in_group || s->began || s->skip_group) return 0;
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = s->group_txid;
    tx.commit_us = s->group_us;
    s->began = true;
    return emit->begin(emit->ctx, &tx, err);
}

static int my_open(const tb_config *cfg, const tb_position *resume,
                   tb_source **out, tb_error *err)
{
    *out = NULL;
    tb_source *s = calloc(1, sizeof *s);
    if (!s) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    tb_arena_init(&s->arena, 256 * 1024);
    s->rows.arena = &s->arena;
    s->rows.zero_error =
        cfg->source.zero_dates && strcmp(cfg->source.zero_dates, "error") == 0;
    if (cfg->source.server_id <= 0 || cfg->source.server_id > UINT32_MAX) {
        tb_error_set(err, TB_ERR_CONFIG,
                     "source.server_id must be set to 1..4294967295 (a "
                     "server id unique in the replication topology)");
        goto fail;
    }
    if (tb_myuri_parse(cfg->source.dsn, &s->uri, err) < 0) goto fail;
    s->sql = tb_mysrc_connect(&s->uri, cfg->source.password, "source", err);
    if (!s->sql) goto fail;
    if (check_server(s, err) < 0 || check_grants(s, err) < 0 ||
        check_server_id(s, err) < 0 || resolve_tables(s, err) < 0)
        goto fail;
    if (resume->text[0]) {
        if (tb_mysrc_pos_parse(resume->text, &s->resume, err) < 0) {
            tb_error_prefix(err, "stored position");
            goto fail;
        }
        s->have_resume = true;
        if (!s->mariadb && tb_mygtidset_parse(&s->resume_gtids,
                                              s->resume.mysql_gtids, err) < 0) {
            tb_error_prefix(err, "stored position");
            goto fail;
        }
        s->start = s->resume;
        bool present = true;
        if (s->start.file[0] &&
            tb_mysrc_binlog_present(s->sql, s->start.file, &present, NULL, 0,
                                    err) < 0)
            goto fail;
        /* By GTID the server finds the file itself; by file:pos it must
         * still be there. */
        if (!present && !(s->mariadb && s->start.ngtids) &&
            !(!s->mariadb && s->resume_gtids.nsids)) {
            purged_error(resume->text, err);
            goto fail;
        }
    } else if (tb_mysrc_server_position(s->sql, s->mariadb, &s->start, err) <
               0) {
        /* Streaming starts here unless snapshot_plan() finds a copy to
         * make or a partial one to finish. */
        goto fail;
    }
    s->boundary = s->start;
    s->acked = s->start;
    s->cur = s->start;
    *out = s;
    return 0;
fail:
    my_close(s);
    return -1;
}

static int my_current(tb_source *s, tb_position *out, tb_error *err)
{
    my_pos p;
    if (tb_mysrc_server_position(s->sql, s->mariadb, &p, err) < 0) return -1;
    tb_mysrc_pos_format(&p, out);
    return 0;
}

static int my_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                   tb_error *err)
{
    tb_arena_reset(&s->arena);
    if (!s->streaming && tb_mysrc_stream_start(s, err) < 0) return -1;
    return tb_mysrc_stream_poll(s, emit, timeout_ms, err);
}

static int my_compare(const tb_position *a, const tb_position *b)
{
    my_pos x, y;
    tb_error e;
    if (tb_mysrc_pos_parse(a->text, &x, &e) < 0) memset(&x, 0, sizeof x);
    if (tb_mysrc_pos_parse(b->text, &y, &e) < 0) memset(&y, 0, sizeof y);
    return tb_mysrc_pos_compare(&x, &y);
}

static int my_ack(tb_source *s, const tb_position *pos, tb_error *err)
{
    my_pos p;
    if (tb_mysrc_pos_parse(pos->text, &p, err) < 0) return -1;
    /* A MySQL replica sends no acknowledgement: the server keeps binlogs
     * by time, not by replica. We remember it for reconnects. */
    if (tb_mysrc_pos_compare(&p, &s->acked) > 0) s->acked = p;
    return 0;
}

static void my_close(tb_source *s)
{
    if (!s) return;
    tb_mysrc_snapshot_end(s, false);
    tb_mysrc_stream_stop(s);
    if (s->sql) mysql_close(s->sql);
    for (int i = 0; i < s->ntables; i++) {
        tb_table_free(s->tables[i]->t);
        free(s->tables[i]->charsets);
        json_forget(s->tables[i]);
        free(s->tables[i]->db);
        free(s->tables[i]->name);
        free(s->tables[i]);
    }
    free(s->tables);
    tb_shapes_free(&s->retired);
    for (int i = 0; i < s->nmaps; i++) {
        tb_arena_free(&s->maps[i].arena);
        free(s->maps[i].raw);
    }
    free(s->maps);
    if (s->rows.zero_count)
        tb_log_info("%llu zero dates were replicated as NULL",
                    (unsigned long long)s->rows.zero_count);
    tb_myrow_ctx_free(&s->rows);
    tb_mygtidset_free(&s->resume_gtids);
    tb_mygtidset_free(&s->gtids);
    tb_rowbuf_free(&s->row);
    tb_arena_free(&s->arena);
    tb_myuri_free(&s->uri);
    free(s);
}

static int my_status(const tb_config *cfg, const tb_position *committed,
                     json_t *out, tb_error *err)
{
    tb_myuri u;
    if (tb_myuri_parse(cfg->source.dsn, &u, err) < 0) return -1;
    MYSQL *m = tb_mysrc_connect(&u, cfg->source.password, "source", err);
    tb_myuri_free(&u);
    if (!m) return -1;
    int rc = -1;
    MYSQL_RES *r =
        tb_mysrc_query(m, "SELECT VERSION()", "reading version", err);
    if (!r) goto out;
    MYSQL_ROW row = mysql_fetch_row(r);
    bool mariadb = row && row[0] && strstr(row[0], "MariaDB");
    if (row && row[0])
        json_object_set_new(out, "source_version", json_string(row[0]));
    mysql_free_result(r);
    my_pos now;
    if (tb_mysrc_server_position(m, mariadb, &now, err) < 0) goto out;
    tb_position text;
    tb_mysrc_pos_format(&now, &text);
    json_object_set_new(out, "source_position", json_string(text.text));
    json_object_set_new(out, "source_binlog_file", json_string(now.file));
    json_object_set_new(out, "source_binlog_pos",
                        json_integer((json_int_t)now.pos));
    char oldest[128];
    bool present = false;
    my_pos done;
    bool have_done = committed->text[0] &&
                     tb_mysrc_pos_parse(committed->text, &done, err) == 0;
    if (tb_mysrc_binlog_present(m, have_done ? done.file : NULL, &present,
                                oldest, sizeof oldest, err) < 0)
        goto out;
    json_object_set_new(out, "oldest_binlog_file", json_string(oldest));
    if (have_done) {
        json_object_set_new(out, "committed_position_available",
                            json_boolean(present));
        if (present && strcmp(done.file, now.file) == 0)
            json_object_set_new(
                out, "lag_bytes",
                json_integer(
                    now.pos > done.pos ? (json_int_t)(now.pos - done.pos) : 0));
    }
    rc = 0;
out:
    mysql_close(m);
    return rc;
}

const tb_source_ops tb_mysql_source_ops = {
    .abi = TB_SOURCE_ABI,
    .type = "mysql",
    .open = my_open,
    .current = my_current,
    .poll = my_poll,
    .compare = my_compare,
    .ack = my_ack,
    .close = my_close,
    .status = my_status,
    .snapshot_plan = tb_mysrc_snapshot_plan,
    .snapshot_copy = tb_mysrc_snapshot_copy,
    .snapshot_end = tb_mysrc_snapshot_end,
};
