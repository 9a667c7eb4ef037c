/*
 * pgoutput.c - decoder for pgoutput logical replication messages.
 *
 * Layouts follow PostgreSQL's "Logical Replication Message Formats"
 * (protocol-logicalrep-message-formats). Every read goes through the
 * bounds-checked reader of pgwire.c; decoder state (relation cache, stream
 * flag) changes only after a message decoded completely.
 */
#include "pgoutput.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgwire.h"

struct tb_pgo {
    tb_pgo_opts opts;     /* protocol version and streaming mode */
    tb_pgo_rel **slots;   /* open-addressing hash by relation id */
    size_t cap;           /* number of slots, a power of two or 0 */
    size_t count;         /* used slots */
    tb_pgo_rel **retired; /* replaced relations awaiting tb_pgo_gc */
    size_t nretired;      /* entries in retired */
    size_t retired_cap;   /* capacity of retired */
    bool in_stream;       /* between Stream Start and Stream Stop */
    uint32_t stream_xid;  /* xid of the open stream */
};

const char *tb_pgo_type_name(int type)
{
    switch (type) {
    case TB_PGO_BEGIN:
        return "Begin";
    case TB_PGO_MESSAGE:
        return "Message";
    case TB_PGO_COMMIT:
        return "Commit";
    case TB_PGO_ORIGIN:
        return "Origin";
    case TB_PGO_RELATION:
        return "Relation";
    case TB_PGO_TYPE:
        return "Type";
    case TB_PGO_INSERT:
        return "Insert";
    case TB_PGO_UPDATE:
        return "Update";
    case TB_PGO_DELETE:
        return "Delete";
    case TB_PGO_TRUNCATE:
        return "Truncate";
    case TB_PGO_STREAM_START:
        return "Stream Start";
    case TB_PGO_STREAM_STOP:
        return "Stream Stop";
    case TB_PGO_STREAM_COMMIT:
        return "Stream Commit";
    case TB_PGO_STREAM_ABORT:
        return "Stream Abort";
    case TB_PGO_BEGIN_PREPARE:
        return "Begin Prepare";
    case TB_PGO_PREPARE:
        return "Prepare";
    case TB_PGO_COMMIT_PREPARED:
        return "Commit Prepared";
    case TB_PGO_ROLLBACK_PREPARED:
        return "Rollback Prepared";
    case TB_PGO_STREAM_PREPARE:
        return "Stream Prepare";
    default:
        return "unknown";
    }
}

/* ---- relation cache -------------------------------------------------- */

static void rel_free(tb_pgo_rel *r)
{
    if (!r) return;
    for (int i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
    free(r->nspname);
    free(r->relname);
    free(r);
}

/* Multiplicative hash: OIDs are often sequential, so spread them. */
static size_t slot_of(const tb_pgo *d, uint32_t id)
{
    return (size_t)((id * UINT32_C(2654435761)) & (uint32_t)(d->cap - 1));
}

static tb_pgo_rel **find_slot(const tb_pgo *d, uint32_t id)
{
    size_t i = slot_of(d, id);
    while (d->slots[i] && d->slots[i]->id != id)
        i = (i + 1) & (d->cap - 1);
    return &d->slots[i];
}

const tb_pgo_rel *tb_pgo_relation(const tb_pgo *d, uint32_t id)
{
    if (!d || d->cap == 0) return NULL;
    return *find_slot(d, id);
}

static int grow(tb_pgo *d)
{
    size_t ncap = d->cap ? d->cap * 2 : 16;
    tb_pgo_rel **old = d->slots;
    size_t ocap = d->cap;
    tb_pgo_rel **ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    d->slots = ns;
    d->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i]) *find_slot(d, old[i]->id) = old[i];
    free(old);
    return 0;
}

/* Install r, retiring the entry it replaces. Takes ownership of r only on
 * success. */
static int cache_put(tb_pgo *d, tb_pgo_rel *r)
{
    tb_pgo_rel **slot;
    /* Reserve room first so that nothing can fail after the swap. */
    if (d->nretired == d->retired_cap) {
        size_t ncap = d->retired_cap ? d->retired_cap * 2 : 8;
        tb_pgo_rel **nr = realloc(d->retired, ncap * sizeof *nr);
        if (!nr) return -1;
        d->retired = nr;
        d->retired_cap = ncap;
    }
    if ((d->count + 1) * 2 > d->cap && grow(d) < 0) return -1;
    slot = find_slot(d, r->id);
    if (*slot)
        d->retired[d->nretired++] = *slot;
    else
        d->count++;
    *slot = r;
    return 0;
}

void tb_pgo_gc(tb_pgo *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nretired; i++)
        rel_free(d->retired[i]);
    d->nretired = 0;
}

int tb_pgo_new(const tb_pgo_opts *opts, tb_pgo **out, tb_error *err)
{
    tb_pgo *d;
    if (!opts || opts->proto_version < 1 || opts->proto_version > 4)
        return tb_error_set(err, TB_ERR_CONFIG,
                            "pgoutput: protocol version %d not supported "
                            "(1..4)",
                            opts ? opts->proto_version : 0);
    if (opts->streaming_parallel && opts->proto_version < 4)
        return tb_error_set(err, TB_ERR_CONFIG,
                            "pgoutput: parallel streaming needs protocol "
                            "version 4, got %d",
                            opts->proto_version);
    d = calloc(1, sizeof *d);
    if (!d) return tb_error_set(err, TB_ERR_NOMEM, "pgoutput: out of memory");
    d->opts = *opts;
    *out = d;
    return 0;
}

void tb_pgo_free(tb_pgo *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->cap; i++)
        rel_free(d->slots[i]);
    free(d->slots);
    tb_pgo_gc(d);
    free(d->retired);
    free(d);
}

bool tb_pgo_in_stream(const tb_pgo *d)
{
    return d && d->in_stream;
}

/* ---- message parts --------------------------------------------------- */

/* Report a malformed message: "<what>: <detail> at offset N". */
static int decode_error(tb_pgwire_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int decode_error(tb_pgwire_reader *r, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tb_error_set(r->err, TB_ERR_DECODE, "%s: %s at offset %zu", r->what,
                        detail, r->off);
}

static const tb_pgo_rel *need_rel(const tb_pgo *d, tb_pgwire_reader *r,
                                  uint32_t id)
{
    const tb_pgo_rel *rel = tb_pgo_relation(d, id);
    if (!rel) {
        /* Report the offset of the id itself, not the byte after it. */
        r->off -= 4;
        decode_error(r, "unknown relation id %u", id);
        r->off += 4;
    }
    return rel;
}

/* TupleData: Int16 count, then per column a kind byte and maybe a value. */
static int read_tuple(tb_pgwire_reader *r, const tb_pgo_rel *rel,
                      tb_pgo_tuple *t, tb_arena *arena)
{
    uint16_t n;
    size_t at = r->off;
    if (tb_pgwire_read_u16(r, &n) < 0) goto fail;
    if (n != rel->ncols) {
        r->off = at;
        decode_error(r, "tuple has %u columns but relation %s.%s has %d", n,
                     rel->nspname, rel->relname, rel->ncols);
        goto fail;
    }
    /* Each column takes at least its kind byte: refuse absurd counts
     * before allocating. */
    if (n > r->len - r->off) {
        tb_error_set(r->err, TB_ERR_DECODE,
                     "%s: truncated at offset %zu (tuple of %u columns, %zu "
                     "bytes left)",
                     r->what, r->off, n, r->len - r->off);
        goto fail;
    }
    t->ncols = n;
    t->cols = NULL;
    if (n > 0) {
        t->cols = tb_arena_alloc(arena, (size_t)n * sizeof *t->cols);
        if (!t->cols) {
            tb_error_set(r->err, TB_ERR_NOMEM, "%s: out of memory", r->what);
            goto fail;
        }
    }
    for (uint16_t i = 0; i < n; i++) {
        tb_pgo_datum *c = &t->cols[i];
        uint8_t kind;
        uint32_t len;
        if (tb_pgwire_read_u8(r, &kind) < 0) goto fail;
        c->kind = (char)kind;
        c->len = 0;
        c->data = NULL;
        switch (kind) {
        case 'n':
        case 'u':
            break;
        case 't':
        case 'b':
            if (tb_pgwire_read_u32(r, &len) < 0) goto fail;
            if (len > INT32_MAX) {
                r->off -= 4;
                decode_error(r, "negative value length %u", len);
                goto fail;
            }
            if (tb_pgwire_read_bytes(r, len, &c->data) < 0) goto fail;
            c->len = len;
            break;
        default:
            r->off--;
            decode_error(r, "unknown tuple column kind 0x%02x", kind);
            goto fail;
        }
    }
    return 0;
fail:
    return -1;
}

/* Relation: builds a malloc'd tb_pgo_rel (installed by the caller). */
static int read_relation(tb_pgwire_reader *r, tb_pgo_rel **out)
{
    tb_pgo_rel *rel = calloc(1, sizeof *rel);
    const char *s;
    size_t n;
    uint8_t ident;
    uint16_t ncols;

    if (!rel) goto nomem;
    if (tb_pgwire_read_u32(r, &rel->id) < 0) goto fail;
    if (tb_pgwire_read_cstr(r, &s, &n) < 0) goto fail;
    if (!(rel->nspname = strndup(s, n))) goto nomem;
    if (tb_pgwire_read_cstr(r, &s, &n) < 0) goto fail;
    if (!(rel->relname = strndup(s, n))) goto nomem;
    if (tb_pgwire_read_u8(r, &ident) < 0) goto fail;
    rel->replident = (char)ident;
    if (tb_pgwire_read_u16(r, &ncols) < 0) goto fail;
    /* A column takes at least 10 bytes (flags, "", oid, typmod). */
    if ((size_t)ncols * 10 > r->len - r->off) {
        tb_error_set(r->err, TB_ERR_DECODE,
                     "%s: truncated at offset %zu (%u columns, %zu bytes "
                     "left)",
                     r->what, r->off, ncols, r->len - r->off);
        goto fail;
    }
    if (ncols > 0 && !(rel->cols = calloc(ncols, sizeof *rel->cols)))
        goto nomem;
    for (uint16_t i = 0; i < ncols; i++) {
        tb_pgo_col *c = &rel->cols[i];
        uint32_t mod;
        if (tb_pgwire_read_u8(r, &c->flags) < 0) goto fail;
        c->key = (c->flags & TB_PGO_COLFLAG_KEY) != 0;
        if (tb_pgwire_read_cstr(r, &s, &n) < 0) goto fail;
        if (!(c->name = strndup(s, n))) goto nomem;
        rel->ncols = i + 1; /* so rel_free frees the name on failure */
        if (tb_pgwire_read_u32(r, &c->type_oid) < 0) goto fail;
        if (tb_pgwire_read_u32(r, &mod) < 0) goto fail;
        c->type_mod = (int32_t)mod;
    }
    rel->ncols = ncols;
    *out = rel;
    return 0;
nomem:
    tb_error_set(r->err, TB_ERR_NOMEM, "%s: out of memory", r->what);
fail:
    rel_free(rel);
    return -1;
}

/* The GID-carrying two-phase messages share one tail: Int32 xid, String. */
static int read_xid_gid(tb_pgwire_reader *r, tb_pgo_msg *m)
{
    size_t n;
    if (tb_pgwire_read_u32(r, &m->u.prepare.xid) < 0) return -1;
    return tb_pgwire_read_cstr(r, &m->u.prepare.gid, &n);
}

/* ---- dispatcher ------------------------------------------------------ */

int tb_pgo_decode(tb_pgo *d, const uint8_t *msg, size_t len, tb_pgo_msg *out,
                  tb_arena *arena, tb_error *err)
{
    tb_pgwire_reader r;
    char what[64];
    tb_pgo_rel *newrel = NULL;
    const tb_pgo_rel *rel;
    uint32_t id;
    uint8_t type, b;
    size_t n;
    int minver = 1;
    bool streamed = false; /* type carries a leading xid inside a stream */

    if (len == 0)
        return tb_error_set(err, TB_ERR_DECODE, "pgoutput: empty message");
    type = msg[0];
    snprintf(what, sizeof what, "pgoutput %s message", tb_pgo_type_name(type));
    tb_pgwire_reader_init(&r, msg, len, what, err);
    r.off = 1;
    memset(out, 0, sizeof *out);
    out->type = (tb_pgo_type)type;

    switch (type) {
    case 'B':
    case 'C':
    case 'O':
        break;
    case 'R':
    case 'Y':
    case 'I':
    case 'U':
    case 'D':
    case 'T':
    case 'M':
        streamed = true;
        break;
    case 'S':
    case 'E':
    case 'c':
    case 'A':
        minver = 2;
        break;
    case 'b':
    case 'P':
    case 'K':
    case 'r':
    case 'p':
        minver = 3;
        break;
    default:
        return tb_error_set(err, TB_ERR_DECODE,
                            "pgoutput: unknown message type 0x%02x at offset "
                            "0",
                            type);
    }
    if (d->opts.proto_version < minver)
        return tb_error_set(err, TB_ERR_DECODE,
                            "%s: type '%c' needs protocol version %d, decoder "
                            "runs version %d (offset 0)",
                            what, type, minver, d->opts.proto_version);
    /* Transaction boundaries never occur inside a stream; Stream Stop only
     * inside one. Origin may (pgoutput sends it after Stream Start). */
    if (d->in_stream && !streamed && type != 'O' && type != 'E')
        return tb_error_set(err, TB_ERR_DECODE,
                            "%s: not allowed inside the stream of xid %u "
                            "(offset 0)",
                            what, d->stream_xid);
    if (streamed && d->in_stream) {
        if (tb_pgwire_read_u32(&r, &out->xid) < 0) goto fail;
        out->has_xid = true;
    }

    switch (type) {
    case 'B':
        if (tb_pgwire_read_u64(&r, &out->u.begin.final_lsn) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.begin.commit_time) < 0 ||
            tb_pgwire_read_u32(&r, &out->u.begin.xid) < 0)
            goto fail;
        break;
    case 'C':
    case 'c':
        if (type == 'c' && tb_pgwire_read_u32(&r, &out->xid) < 0) goto fail;
        out->has_xid = type == 'c';
        if (tb_pgwire_read_u8(&r, &out->u.commit.flags) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.commit.commit_lsn) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.commit.end_lsn) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.commit.commit_time) < 0)
            goto fail;
        break;
    case 'O':
        if (tb_pgwire_read_u64(&r, &out->u.origin.lsn) < 0 ||
            tb_pgwire_read_cstr(&r, &out->u.origin.name, &n) < 0)
            goto fail;
        break;
    case 'R':
        if (read_relation(&r, &newrel) < 0) goto fail;
        break;
    case 'Y':
        if (tb_pgwire_read_u32(&r, &out->u.type.oid) < 0 ||
            tb_pgwire_read_cstr(&r, &out->u.type.nspname, &n) < 0 ||
            tb_pgwire_read_cstr(&r, &out->u.type.name, &n) < 0)
            goto fail;
        break;
    case 'I':
    case 'U':
    case 'D':
        if (tb_pgwire_read_u32(&r, &id) < 0) goto fail;
        if (!(rel = need_rel(d, &r, id))) goto fail;
        out->u.change.rel = rel;
        if (tb_pgwire_read_u8(&r, &b) < 0) goto fail;
        if (type != 'I' && (b == 'K' || b == 'O')) {
            out->u.change.old_kind = (char)b;
            if (read_tuple(&r, rel, &out->u.change.old, arena) < 0) goto fail;
            if (type == 'D') break;
            if (tb_pgwire_read_u8(&r, &b) < 0) goto fail;
        }
        if (type == 'D' || b != 'N') {
            r.off--;
            decode_error(&r, "unexpected tuple marker 0x%02x", b);
            goto fail;
        }
        if (read_tuple(&r, rel, &out->u.change.new, arena) < 0) goto fail;
        break;
    case 'T': {
        uint32_t nrels;
        if (tb_pgwire_read_u32(&r, &nrels) < 0 ||
            tb_pgwire_read_u8(&r, &out->u.truncate.options) < 0)
            goto fail;
        if (nrels > (r.len - r.off) / 4) {
            tb_error_set(err, TB_ERR_DECODE,
                         "%s: truncated at offset %zu (%u relations, %zu "
                         "bytes left)",
                         what, r.off, nrels, r.len - r.off);
            goto fail;
        }
        out->u.truncate.nrels = (int)nrels;
        if (nrels > 0) {
            out->u.truncate.rels =
                tb_arena_alloc(arena, nrels * sizeof *out->u.truncate.rels);
            if (!out->u.truncate.rels) {
                tb_error_set(err, TB_ERR_NOMEM, "%s: out of memory", what);
                goto fail;
            }
        }
        for (uint32_t i = 0; i < nrels; i++) {
            if (tb_pgwire_read_u32(&r, &id) < 0) goto fail;
            if (!(out->u.truncate.rels[i] = need_rel(d, &r, id))) goto fail;
        }
        break;
    }
    case 'M':
        if (tb_pgwire_read_u8(&r, &out->u.message.flags) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.message.lsn) < 0 ||
            tb_pgwire_read_cstr(&r, &out->u.message.prefix, &n) < 0 ||
            tb_pgwire_read_u32(&r, &out->u.message.len) < 0 ||
            tb_pgwire_read_bytes(&r, out->u.message.len,
                                 &out->u.message.content) < 0)
            goto fail;
        out->u.message.transactional = (out->u.message.flags & 1) != 0;
        break;
    case 'S':
        if (tb_pgwire_read_u32(&r, &out->u.stream_start.xid) < 0 ||
            tb_pgwire_read_u8(&r, &b) < 0)
            goto fail;
        out->u.stream_start.first = b == 1;
        break;
    case 'E':
        if (!d->in_stream) {
            r.off = 0;
            decode_error(&r, "no stream is open");
            goto fail;
        }
        break;
    case 'A':
        if (tb_pgwire_read_u32(&r, &out->u.stream_abort.xid) < 0 ||
            tb_pgwire_read_u32(&r, &out->u.stream_abort.subxid) < 0)
            goto fail;
        out->xid = out->u.stream_abort.xid;
        out->has_xid = true;
        if (d->opts.streaming_parallel) {
            if (tb_pgwire_read_u64(&r, &out->u.stream_abort.abort_lsn) < 0 ||
                tb_pgwire_read_i64(&r, &out->u.stream_abort.abort_time) < 0)
                goto fail;
            out->u.stream_abort.has_abort_info = true;
        }
        break;
    case 'b':
        if (tb_pgwire_read_u64(&r, &out->u.prepare.lsn) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.prepare.end_lsn) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.prepare.time) < 0 ||
            read_xid_gid(&r, out) < 0)
            goto fail;
        break;
    case 'P':
    case 'K':
    case 'p':
        if (tb_pgwire_read_u8(&r, &out->u.prepare.flags) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.prepare.lsn) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.prepare.end_lsn) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.prepare.time) < 0 ||
            read_xid_gid(&r, out) < 0)
            goto fail;
        break;
    case 'r':
        if (tb_pgwire_read_u8(&r, &out->u.prepare.flags) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.prepare.lsn) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.prepare.end_lsn) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.prepare.time) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.prepare.rollback_time) < 0 ||
            read_xid_gid(&r, out) < 0)
            goto fail;
        break;
    }
    if (tb_pgwire_read_end(&r) < 0) goto fail;

    /* Commit the state changes only now that the message is whole. */
    if (newrel) {
        if (cache_put(d, newrel) < 0) {
            tb_error_set(err, TB_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
        out->u.relation.rel = newrel;
        newrel = NULL;
    }
    if (type == 'S') {
        d->in_stream = true;
        d->stream_xid = out->u.stream_start.xid;
    } else if (type == 'E') {
        d->in_stream = false;
        d->stream_xid = 0;
    }
    return 0;
fail:
    rel_free(newrel);
    return -1;
}

/* ---- text rendering -------------------------------------------------- */

static int put_lsn(tb_buf *o, const char *key, uint64_t lsn)
{
    char t[TB_PGWIRE_LSN_BUFSZ];
    tb_pgwire_lsn_format(lsn, t, sizeof t);
    return tb_buf_printf(o, " %s=%s", key, t);
}

static int put_time(tb_buf *o, const char *key, int64_t pg_us)
{
    int64_t us = tb_pgwire_pg_to_unix_us(pg_us);
    int64_t secs = us / 1000000, frac = us % 1000000;
    struct tm tm;
    time_t t;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    t = (time_t)secs;
    if (pg_us == INT64_MAX || pg_us == INT64_MIN || !gmtime_r(&t, &tm))
        return tb_buf_printf(o, " %s=%lld", key, (long long)pg_us);
    return tb_buf_printf(o, " %s=%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", key,
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

static int put_quoted(tb_buf *o, const uint8_t *p, size_t n)
{
    if (tb_buf_puts(o, "\"") < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        int rc;
        if (c == '"' || c == '\\')
            rc = tb_buf_printf(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            rc = tb_buf_printf(o, "\\x%02x", c);
        else
            rc = tb_buf_append(o, &c, 1);
        if (rc < 0) return -1;
    }
    return tb_buf_puts(o, "\"");
}

/* Long values are shown as a head plus length and FNV-1a hash, so golden
 * lines stay readable but still pin the full content. */
static int put_datum(tb_buf *o, const tb_pgo_datum *c)
{
    enum { HEAD = 48 };
    size_t shown = c->len > 2 * HEAD ? HEAD : c->len;
    switch (c->kind) {
    case 'n':
        return tb_buf_puts(o, "null");
    case 'u':
        return tb_buf_puts(o, "unchanged-toast");
    case 't':
        if (put_quoted(o, c->data, shown) < 0) return -1;
        break;
    case 'b':
        if (tb_buf_puts(o, "b'") < 0) return -1;
        for (size_t i = 0; i < shown; i++)
            if (tb_buf_printf(o, "%02x", c->data[i]) < 0) return -1;
        if (tb_buf_puts(o, "'") < 0) return -1;
        break;
    default:
        return tb_buf_printf(o, "?%02x", (unsigned)(uint8_t)c->kind);
    }
    if (shown < c->len) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < c->len; i++)
            h = (h ^ c->data[i]) * 16777619u;
        return tb_buf_printf(o, "...(%u bytes, fnv1a %08x)", c->len, h);
    }
    return 0;
}

static int put_tuple(tb_buf *o, const char *label, const tb_pgo_rel *rel,
                     const tb_pgo_tuple *t)
{
    if (tb_buf_printf(o, " %s[", label) < 0) return -1;
    for (int i = 0; i < t->ncols; i++) {
        const char *name = rel && i < rel->ncols ? rel->cols[i].name : "?";
        if (tb_buf_printf(o, "%s%s=", i ? " " : "", name) < 0 ||
            put_datum(o, &t->cols[i]) < 0)
            return -1;
    }
    return tb_buf_puts(o, "]");
}

int tb_pgo_render(const tb_pgo_msg *m, tb_buf *o)
{
    const tb_pgo_rel *rel;
    if (tb_buf_puts(o, tb_pgo_type_name(m->type)) < 0) return -1;
    if (m->has_xid && tb_buf_printf(o, " xid=%u", m->xid) < 0) return -1;
    switch (m->type) {
    case TB_PGO_BEGIN:
        if (put_lsn(o, "final_lsn", m->u.begin.final_lsn) < 0 ||
            put_time(o, "commit_time", m->u.begin.commit_time) < 0 ||
            tb_buf_printf(o, " txid=%u", m->u.begin.xid) < 0)
            return -1;
        break;
    case TB_PGO_COMMIT:
    case TB_PGO_STREAM_COMMIT:
        if (tb_buf_printf(o, " flags=%u", m->u.commit.flags) < 0 ||
            put_lsn(o, "commit_lsn", m->u.commit.commit_lsn) < 0 ||
            put_lsn(o, "end_lsn", m->u.commit.end_lsn) < 0 ||
            put_time(o, "commit_time", m->u.commit.commit_time) < 0)
            return -1;
        break;
    case TB_PGO_ORIGIN:
        if (put_lsn(o, "lsn", m->u.origin.lsn) < 0 ||
            tb_buf_printf(o, " name=%s", m->u.origin.name) < 0)
            return -1;
        break;
    case TB_PGO_RELATION:
        rel = m->u.relation.rel;
        if (tb_buf_printf(o, " id=%u %s.%s replident=%c cols=[", rel->id,
                          rel->nspname, rel->relname, rel->replident) < 0)
            return -1;
        for (int i = 0; i < rel->ncols; i++) {
            const tb_pgo_col *c = &rel->cols[i];
            if (tb_buf_printf(o, "%s%s:%u:%d%s", i ? " " : "", c->name,
                              c->type_oid, c->type_mod,
                              c->key ? ":key" : "") < 0)
                return -1;
        }
        if (tb_buf_puts(o, "]") < 0) return -1;
        break;
    case TB_PGO_TYPE:
        if (tb_buf_printf(o, " oid=%u %s.%s", m->u.type.oid, m->u.type.nspname,
                          m->u.type.name) < 0)
            return -1;
        break;
    case TB_PGO_INSERT:
    case TB_PGO_UPDATE:
    case TB_PGO_DELETE:
        rel = m->u.change.rel;
        if (tb_buf_printf(o, " %s.%s", rel->nspname, rel->relname) < 0)
            return -1;
        if (m->u.change.old_kind &&
            put_tuple(o, m->u.change.old_kind == 'K' ? "key" : "old", rel,
                      &m->u.change.old) < 0)
            return -1;
        if (m->type != TB_PGO_DELETE &&
            put_tuple(o, "new", rel, &m->u.change.new) < 0)
            return -1;
        break;
    case TB_PGO_TRUNCATE:
        if (tb_buf_printf(o, " options=%u", m->u.truncate.options) < 0)
            return -1;
        for (int i = 0; i < m->u.truncate.nrels; i++)
            if (tb_buf_printf(o, " %s.%s", m->u.truncate.rels[i]->nspname,
                              m->u.truncate.rels[i]->relname) < 0)
                return -1;
        break;
    case TB_PGO_MESSAGE:
        if (tb_buf_printf(o, " transactional=%d", m->u.message.transactional) <
                0 ||
            put_lsn(o, "lsn", m->u.message.lsn) < 0 ||
            tb_buf_printf(o, " prefix=%s content=", m->u.message.prefix) < 0 ||
            put_quoted(o, m->u.message.content, m->u.message.len) < 0)
            return -1;
        break;
    case TB_PGO_STREAM_START:
        if (tb_buf_printf(o, " stream_xid=%u first=%d", m->u.stream_start.xid,
                          m->u.stream_start.first) < 0)
            return -1;
        break;
    case TB_PGO_STREAM_STOP:
        break;
    case TB_PGO_STREAM_ABORT:
        if (tb_buf_printf(o, " subxid=%u", m->u.stream_abort.subxid) < 0)
            return -1;
        if (m->u.stream_abort.has_abort_info &&
            (put_lsn(o, "abort_lsn", m->u.stream_abort.abort_lsn) < 0 ||
             put_time(o, "abort_time", m->u.stream_abort.abort_time) < 0))
            return -1;
        break;
    case TB_PGO_BEGIN_PREPARE:
    case TB_PGO_PREPARE:
    case TB_PGO_COMMIT_PREPARED:
    case TB_PGO_ROLLBACK_PREPARED:
    case TB_PGO_STREAM_PREPARE:
        if (put_lsn(o, "lsn", m->u.prepare.lsn) < 0 ||
            put_lsn(o, "end_lsn", m->u.prepare.end_lsn) < 0 ||
            put_time(o, "time", m->u.prepare.time) < 0)
            return -1;
        if (m->type == TB_PGO_ROLLBACK_PREPARED &&
            put_time(o, "rollback_time", m->u.prepare.rollback_time) < 0)
            return -1;
        if (tb_buf_printf(o, " txid=%u gid=%s", m->u.prepare.xid,
                          m->u.prepare.gid) < 0)
            return -1;
        break;
    }
    return 0;
}
