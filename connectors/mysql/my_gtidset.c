/*
 * my_gtidset.c - Oracle MySQL GTID sets: text, binary encoding, growth.
 *
 * Text grammar as MySQL's Gtid_set::add_gtid_text reads it (comma-separated
 * SID blocks, whitespace anywhere between tokens, empty blocks skipped);
 * binary layout as Gtid_set::encode writes it (untagged format). Intervals
 * are kept half-open like MySQL's, so encoding copies them as they are.
 */
#include "my_gtidset.h"

#include <stdlib.h>
#include <string.h>

void tb_mygtidset_init(tb_mygtidset *s)
{
    memset(s, 0, sizeof *s);
}

void tb_mygtidset_free(tb_mygtidset *s)
{
    for (int i = 0; i < s->nsids; i++)
        free(s->sids[i].ivs);
    free(s->sids);
    memset(s, 0, sizeof *s);
}

/* The SID block of uuid in s: its index, or -(insertion point) - 1. */
static int sid_find(const tb_mygtidset *s, const uint8_t uuid[16])
{
    int lo = 0, hi = s->nsids;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = memcmp(s->sids[mid].uuid, uuid, 16);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -lo - 1;
}

/* The SID block of uuid, created empty (at its sorted place) if missing. */
static tb_mygtid_sid *sid_slot(tb_mygtidset *s, const uint8_t uuid[16])
{
    int i = sid_find(s, uuid);
    if (i >= 0) return &s->sids[i];
    i = -i - 1;
    if (s->nsids == s->capsids) {
        int cap = s->capsids ? s->capsids * 2 : 4;
        tb_mygtid_sid *n = realloc(s->sids, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        s->sids = n;
        s->capsids = cap;
    }
    memmove(&s->sids[i + 1], &s->sids[i],
            (size_t)(s->nsids - i) * sizeof *s->sids);
    s->nsids++;
    tb_mygtid_sid *d = &s->sids[i];
    memset(d, 0, sizeof *d);
    memcpy(d->uuid, uuid, 16);
    return d;
}

/* Add [start, end) to d, merging every interval it overlaps or touches.
 * 0 / -1 (out of memory). */
static int add_range(tb_mygtid_sid *d, int64_t start, int64_t end)
{
    int i = 0;
    while (i < d->nivs && d->ivs[i].end < start)
        i++;
    int j = i;
    while (j < d->nivs && d->ivs[j].start <= end)
        j++;
    if (i < j) { /* [i, j) overlap or touch: fold them into i */
        if (d->ivs[i].start < start) start = d->ivs[i].start;
        if (d->ivs[j - 1].end > end) end = d->ivs[j - 1].end;
        d->ivs[i].start = start;
        d->ivs[i].end = end;
        memmove(&d->ivs[i + 1], &d->ivs[j],
                (size_t)(d->nivs - j) * sizeof *d->ivs);
        d->nivs -= j - i - 1;
        return 0;
    }
    if (d->nivs == d->capivs) {
        int cap = d->capivs ? d->capivs * 2 : 2;
        tb_mygtid_iv *n = realloc(d->ivs, (size_t)cap * sizeof *n);
        if (!n) return -1;
        d->ivs = n;
        d->capivs = cap;
    }
    memmove(&d->ivs[i + 1], &d->ivs[i], (size_t)(d->nivs - i) * sizeof *d->ivs);
    d->ivs[i].start = start;
    d->ivs[i].end = end;
    d->nivs++;
    return 0;
}

int tb_mygtidset_add(tb_mygtidset *s, const uint8_t sid[16], int64_t gno,
                     tb_error *err)
{
    if (gno < 1 || gno > TB_MYGTID_GNO_MAX)
        return tb_error_set(err, TB_ERR_DECODE,
                            "GTID transaction number %lld out of range",
                            (long long)gno);
    tb_mygtid_sid *d = sid_slot(s, sid);
    if (!d || add_range(d, gno, gno + 1) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    return 0;
}

bool tb_mygtidset_contains(const tb_mygtidset *s, const uint8_t sid[16],
                           int64_t gno)
{
    int i = sid_find(s, sid);
    if (i < 0) return false;
    const tb_mygtid_sid *d = &s->sids[i];
    int lo = 0, hi = d->nivs;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (gno < d->ivs[mid].start)
            hi = mid;
        else if (gno >= d->ivs[mid].end)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool tb_mygtidset_subset(const tb_mygtidset *a, const tb_mygtidset *b)
{
    for (int i = 0; i < a->nsids; i++) {
        const tb_mygtid_sid *x = &a->sids[i];
        if (x->nivs == 0) continue;
        int k = sid_find(b, x->uuid);
        if (k < 0) return false;
        const tb_mygtid_sid *y = &b->sids[k];
        /* b's intervals never touch, so a range inside their union lies
         * inside one of them. */
        int j = 0;
        for (int v = 0; v < x->nivs; v++) {
            while (j < y->nivs && y->ivs[j].end < x->ivs[v].end)
                j++;
            if (j == y->nivs || y->ivs[j].start > x->ivs[v].start) return false;
        }
    }
    return true;
}

bool tb_mygtidset_equal(const tb_mygtidset *a, const tb_mygtidset *b)
{
    return tb_mygtidset_subset(a, b) && tb_mygtidset_subset(b, a);
}

/* ---- text -------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Read a uuid at *p: 8-4-4-4-12 hex digits with dashes, or 32 without.
 * Moves *p past it. */
static bool parse_uuid(const char **p, uint8_t out[16])
{
    const char *q = *p;
    size_t n = 0;
    while (hexval(q[n]) >= 0 || q[n] == '-') /* stops at the NUL */
        n++;
    if (n != 32 && n != 36) return false;
    int nib = 0;
    for (size_t k = 0; k < n; k++) {
        bool dash_here = n == 36 && (k == 8 || k == 13 || k == 18 || k == 23);
        if (dash_here != (q[k] == '-')) return false;
        if (dash_here) continue;
        int v = hexval(q[k]);
        if (nib % 2 == 0)
            out[nib / 2] = (uint8_t)(v << 4);
        else
            out[nib / 2] |= (uint8_t)v;
        nib++;
    }
    *p = q + n;
    return true;
}

/* Read a decimal GNO at *p (1 .. TB_MYGTID_GNO_MAX). */
static bool parse_gno(const char **p, int64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    if (*q < '0' || *q > '9') return false;
    while (*q >= '0' && *q <= '9') {
        v = v * 10 + (uint64_t)(*q - '0');
        if (v > (uint64_t)TB_MYGTID_GNO_MAX) return false;
        q++;
    }
    if (v < 1) return false;
    *out = (int64_t)v;
    *p = q;
    return true;
}

int tb_mygtidset_parse(tb_mygtidset *s, const char *text, tb_error *err)
{
    const char *p = text, *what = NULL;
    tb_mygtidset_free(s);
    for (;;) {
        p = skip_space(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (!*p) return 0;
        uint8_t uuid[16];
        what = "a server UUID";
        if (!parse_uuid(&p, uuid)) goto bad;
        p = skip_space(p);
        what = "':' after the UUID";
        if (*p != ':') goto bad;
        tb_mygtid_sid *d = sid_slot(s, uuid);
        if (!d) goto nomem;
        while (*p == ':') {
            p = skip_space(p + 1);
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                *p == '_') {
                tb_mygtidset_free(s);
                return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                    "tagged GTIDs are not supported (GTID "
                                    "set \"%.200s\")",
                                    text);
            }
            int64_t a, b;
            what = "a transaction number (1 .. 2^63-2)";
            if (!parse_gno(&p, &a)) goto bad;
            b = a;
            p = skip_space(p);
            if (*p == '-') {
                p = skip_space(p + 1);
                if (!parse_gno(&p, &b)) goto bad;
                what = "an interval N-M with N <= M";
                if (b < a) goto bad;
                p = skip_space(p);
            }
            if (add_range(d, a, b + 1) < 0) goto nomem;
        }
        what = "',' or the end";
        if (*p && *p != ',') goto bad;
    }
bad:
    tb_mygtidset_free(s);
    return tb_error_set(err, TB_ERR_CONFIG,
                        "bad MySQL GTID set \"%.200s\": expected %s at offset "
                        "%zu",
                        text, what, (size_t)(p - text));
nomem:
    tb_mygtidset_free(s);
    return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
}

/* Append n bytes of src to out[*len..cap), counting all of them. */
static void put(char *out, size_t cap, size_t *len, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++, (*len)++)
        if (*len + 1 < cap) out[*len] = src[i];
}

static void put_num(char *out, size_t cap, size_t *len, uint64_t v)
{
    char tmp[24];
    int k = (int)sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(out, cap, len, tmp + k, sizeof tmp - (size_t)k);
}

size_t tb_mygtidset_format(const tb_mygtidset *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = 0;
    bool first = true;
    for (int i = 0; i < s->nsids; i++) {
        const tb_mygtid_sid *d = &s->sids[i];
        if (d->nivs == 0) continue;
        if (!first) put(out, cap, &len, ",", 1);
        first = false;
        char u[36];
        int k = 0;
        for (int b = 0; b < 16; b++) {
            if (b == 4 || b == 6 || b == 8 || b == 10) u[k++] = '-';
            u[k++] = hex[d->uuid[b] >> 4];
            u[k++] = hex[d->uuid[b] & 15];
        }
        put(out, cap, &len, u, sizeof u);
        for (int v = 0; v < d->nivs; v++) {
            put(out, cap, &len, ":", 1);
            put_num(out, cap, &len, (uint64_t)d->ivs[v].start);
            if (d->ivs[v].end - 1 > d->ivs[v].start) {
                put(out, cap, &len, "-", 1);
                put_num(out, cap, &len, (uint64_t)(d->ivs[v].end - 1));
            }
        }
    }
    if (cap) out[len < cap ? len : cap - 1] = '\0';
    return len;
}

/* ---- binary ------------------------------------------------------------ */

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int tb_mygtidset_encode(const tb_mygtidset *s, tb_buf *out)
{
    uint64_t nsids = 0;
    size_t need = 8;
    for (int i = 0; i < s->nsids; i++)
        if (s->sids[i].nivs) {
            nsids++;
            need += 16 + 8 + 16 * (size_t)s->sids[i].nivs;
        }
    if (tb_buf_reserve(out, need) < 0) return -1;
    uint8_t *p = out->data + out->len;
    le64(p, nsids);
    p += 8;
    for (int i = 0; i < s->nsids; i++) {
        const tb_mygtid_sid *d = &s->sids[i];
        if (d->nivs == 0) continue;
        memcpy(p, d->uuid, 16);
        le64(p + 16, (uint64_t)d->nivs);
        p += 24;
        for (int v = 0; v < d->nivs; v++, p += 16) {
            le64(p, (uint64_t)d->ivs[v].start);
            le64(p + 8, (uint64_t)d->ivs[v].end);
        }
    }
    out->len += need;
    return 0;
}
