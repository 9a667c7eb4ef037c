/*
 * dsn.c - connection strings: masking secrets, parsing mysql:// URIs and
 * building libpq conninfo strings with a password from a file.
 *
 * Passwords never leave this file in clear text except inside the conninfo
 * handed to the driver.
 */
#include "tb_config.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "tb_buf.h"

#define MASK "****"

static bool is_uri(const char *s, const char **rest)
{
    static const char *const schemes[] = {"postgresql://", "postgres://",
                                          "mysql://", "mariadb://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(s, schemes[i], n) == 0) {
            if (rest) *rest = s + n;
            return true;
        }
    }
    return false;
}

/* Mask user:PASSWORD@ and ?password=VALUE in a URI. */
static int mask_uri(tb_buf *b, const char *dsn, const char *auth)
{
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@') at = p; /* last '@' ends the user info */
    if (tb_buf_append(b, dsn, (size_t)(auth - dsn)) < 0) return -1;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            if (tb_buf_append(b, auth, (size_t)(colon - auth) + 1) < 0 ||
                tb_buf_puts(b, MASK) < 0)
                return -1;
            auth = at;
        }
    }
    /* Copy the rest, masking password=... query parameters. */
    const char *p = auth;
    while (*p) {
        if ((p[-1] == '?' || p[-1] == '&') &&
            strncasecmp(p, "password=", 9) == 0) {
            if (tb_buf_append(b, p, 9) < 0 || tb_buf_puts(b, MASK) < 0)
                return -1;
            p += 9;
            while (*p && *p != '&' && *p != '#')
                p++;
            continue;
        }
        if (tb_buf_append(b, p, 1) < 0) return -1;
        p++;
    }
    return 0;
}

/* Mask password=VALUE in a libpq keyword/value string; VALUE may be quoted. */
static int mask_kv(tb_buf *b, const char *p)
{
    while (*p) {
        const char *start = p;
        while (isspace((unsigned char)*p))
            p++;
        const char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') { /* malformed: copy as is, libpq will complain */
            return tb_buf_puts(b, start);
        }
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *val = p;
        if (*p == '\'') {
            p++;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1]) p++;
                p++;
            }
            if (*p) p++;
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1]) p++;
                p++;
            }
        }
        bool secret = klen == 8 && strncasecmp(key, "password", 8) == 0;
        if (tb_buf_append(b, start, (size_t)(val - start)) < 0) return -1;
        if (secret ? tb_buf_puts(b, MASK) < 0
                   : tb_buf_append(b, val, (size_t)(p - val)) < 0)
            return -1;
    }
    return 0;
}

char *tb_dsn_mask(const char *dsn)
{
    tb_buf b = TB_BUF_INIT;
    const char *auth;
    int rc = is_uri(dsn, &auth) ? mask_uri(&b, dsn, auth) : mask_kv(&b, dsn);
    if (rc < 0 || tb_buf_append(&b, "", 0) < 0) {
        tb_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/*
 * libpq's parse errors quote fragments of the string, and a fragment may be
 * part of a password (e.g. an unquoted password with a space in it). When
 * the string mentions a password at all, every quoted fragment is replaced.
 */
static void scrub_message(const char *msg, bool has_secret, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < n;) {
        const char *q = *p == '"' && has_secret ? strchr(p + 1, '"') : NULL;
        if (q) {
            static const char hidden[] = "\"" MASK "\"";
            if (o + sizeof hidden >= n) break;
            memcpy(out + o, hidden, sizeof hidden - 1);
            o += sizeof hidden - 1;
            p = q + 1;
            continue;
        }
        out[o++] = *p++;
    }
    while (o && (out[o - 1] == '\n' || out[o - 1] == ' '))
        o--;
    out[o] = '\0';
}

static int append_quoted(tb_buf *b, const char *v)
{
    if (tb_buf_append(b, "'", 1) < 0) return -1;
    for (; *v; v++) {
        if ((*v == '\'' || *v == '\\') && tb_buf_append(b, "\\", 1) < 0)
            return -1;
        if (tb_buf_append(b, v, 1) < 0) return -1;
    }
    return tb_buf_append(b, "'", 1);
}

char *tb_pg_conninfo(const char *dsn, const char *password, tb_error *err)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
    if (!opts) {
        char clean[512];
        scrub_message(errmsg ? errmsg : "out of memory",
                      strcasestr(dsn, "password") != NULL, clean, sizeof clean);
        tb_error_set(err, TB_ERR_CONFIG,
                     "dsn is not a valid libpq connection string: %s", clean);
        PQfreemem(errmsg);
        return NULL;
    }
    tb_buf b = TB_BUF_INIT;
    bool ok = true;
    for (PQconninfoOption *o = opts; o->keyword && ok; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "password") == 0 && password) v = password;
        if (!v) continue;
        ok = (b.len == 0 || tb_buf_append(&b, " ", 1) == 0) &&
             tb_buf_puts(&b, o->keyword) == 0 &&
             tb_buf_append(&b, "=", 1) == 0 && append_quoted(&b, v) == 0;
    }
    if (ok && password &&
        !strstr((char *)(b.data ? b.data : (uint8_t *)""), "password=")) {
        ok = (b.len == 0 || tb_buf_append(&b, " ", 1) == 0) &&
             tb_buf_puts(&b, "password=") == 0 &&
             append_quoted(&b, password) == 0;
    }
    if (ok) ok = tb_buf_append(&b, "", 0) == 0;
    PQconninfoFree(opts);
    if (!ok) {
        tb_buf_free(&b);
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return (char *)b.data;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copy [s, e) percent-decoded; NULL when empty. Sets *bad on bad escapes. */
static char *pct_dup(const char *s, const char *e, bool *bad)
{
    if (s >= e) return NULL;
    char *out = malloc((size_t)(e - s) + 1);
    if (!out) {
        *bad = true;
        return NULL;
    }
    size_t n = 0;
    while (s < e) {
        if (*s == '%') {
            if (e - s < 3 || hexval(s[1]) < 0 || hexval(s[2]) < 0) {
                *bad = true;
                free(out);
                return NULL;
            }
            out[n++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

int tb_myuri_parse(const char *uri, tb_myuri *u, tb_error *err)
{
    const char *p;
    bool bad = false;
    memset(u, 0, sizeof *u);
    if (strncasecmp(uri, "mysql://", 8) == 0)
        p = uri + 8;
    else if (strncasecmp(uri, "mariadb://", 10) == 0)
        p = uri + 10;
    else
        return tb_error_set(
            err, TB_ERR_CONFIG,
            "not a mysql:// URI (expected mysql://user:password@host:port/ "
            "or mysql://user@localhost/?socket=/path/to/mysqld.sock)");
    const char *auth_end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        u->user = pct_dup(p, colon ? colon : at, &bad);
        if (colon) u->password = pct_dup(colon + 1, at, &bad);
        p = at + 1;
    }
    const char *host_end = auth_end;
    if (*p == '[') { /* [ipv6]:port */
        const char *rb = memchr(p, ']', (size_t)(auth_end - p));
        if (!rb) goto syntax;
        u->host = pct_dup(p + 1, rb, &bad);
        p = rb + 1;
        host_end = p;
    } else {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        host_end = colon ? colon : auth_end;
        u->host = pct_dup(p, host_end, &bad);
        p = host_end;
    }
    if (p < auth_end && *p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end != auth_end || port < 1 || port > 65535) {
            tb_myuri_free(u);
            return tb_error_set(err, TB_ERR_CONFIG,
                                "port in mysql:// URI must be 1-65535");
        }
        u->port = (unsigned)port;
    } else if (p != auth_end) {
        goto syntax;
    }
    p = auth_end;
    if (*p == '/') {
        const char *db_end = p + 1 + strcspn(p + 1, "?#");
        u->db = pct_dup(p + 1, db_end, &bad);
        p = db_end;
    }
    if (*p == '?') {
        p++;
        while (*p && *p != '#') {
            const char *amp = p + strcspn(p, "&#");
            if (strncmp(p, "socket=", 7) == 0) {
                free(u->socket);
                u->socket = pct_dup(p + 7, amp, &bad);
            } else {
                const char *eq = memchr(p, '=', (size_t)(amp - p));
                int klen = (int)((eq ? eq : amp) - p);
                tb_myuri_free(u);
                return tb_error_set(err, TB_ERR_CONFIG,
                                    "unknown parameter \"%.*s\" in mysql:// "
                                    "URI (known: socket)",
                                    klen, p);
            }
            p = *amp == '&' ? amp + 1 : amp;
        }
    }
    if (bad) {
        tb_myuri_free(u);
        return tb_error_set(err, TB_ERR_CONFIG,
                            "bad %%-escape in mysql:// URI (write %%40 for @, "
                            "%%3A for :)");
    }
    if (!u->host && !u->socket) {
        tb_myuri_free(u);
        return tb_error_set(err, TB_ERR_CONFIG,
                            "mysql:// URI names no host and no ?socket=");
    }
    return 0;
syntax:
    tb_myuri_free(u);
    return tb_error_set(err, TB_ERR_CONFIG,
                        "malformed mysql:// URI (expected "
                        "mysql://user:password@host:port/)");
}

void tb_myuri_free(tb_myuri *u)
{
    free(u->user);
    if (u->password) {
        explicit_bzero(u->password, strlen(u->password));
        free(u->password);
    }
    free(u->host);
    free(u->db);
    free(u->socket);
    memset(u, 0, sizeof *u);
}
