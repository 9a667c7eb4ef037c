/* pgwire.c - streaming-replication CopyData framing, LSNs and timestamps. */
#include "pgwire.h"

#include <stdio.h>
#include <string.h>

void tb_pgwire_reader_init(tb_pgwire_reader *r, const uint8_t *p, size_t len,
                           const char *what, tb_error *err)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->what = what;
    r->err = err;
}

/* Check that n more bytes exist; the one place that reports truncation. */
static int need(tb_pgwire_reader *r, size_t n)
{
    /* off <= len always holds, so len - off cannot wrap. */
    if (n <= r->len - r->off) return 0;
    return tb_error_set(r->err, TB_ERR_DECODE,
                        "%s: truncated at offset %zu (need %zu bytes, %zu "
                        "left)",
                        r->what, r->off, n, r->len - r->off);
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int tb_pgwire_read_u8(tb_pgwire_reader *r, uint8_t *v)
{
    if (need(r, 1) < 0) return -1;
    *v = r->p[r->off++];
    return 0;
}

int tb_pgwire_read_u16(tb_pgwire_reader *r, uint16_t *v)
{
    if (need(r, 2) < 0) return -1;
    *v = (uint16_t)be(r->p + r->off, 2);
    r->off += 2;
    return 0;
}

int tb_pgwire_read_u32(tb_pgwire_reader *r, uint32_t *v)
{
    if (need(r, 4) < 0) return -1;
    *v = (uint32_t)be(r->p + r->off, 4);
    r->off += 4;
    return 0;
}

int tb_pgwire_read_u64(tb_pgwire_reader *r, uint64_t *v)
{
    if (need(r, 8) < 0) return -1;
    *v = be(r->p + r->off, 8);
    r->off += 8;
    return 0;
}

int tb_pgwire_read_i64(tb_pgwire_reader *r, int64_t *v)
{
    uint64_t u;
    if (tb_pgwire_read_u64(r, &u) < 0) return -1;
    /* Two's complement reinterpretation without implementation-defined
     * conversion of out-of-range unsigned values. */
    memcpy(v, &u, sizeof *v);
    return 0;
}

int tb_pgwire_read_bytes(tb_pgwire_reader *r, size_t n, const uint8_t **v)
{
    if (need(r, n) < 0) return -1;
    *v = r->p + r->off;
    r->off += n;
    return 0;
}

int tb_pgwire_read_cstr(tb_pgwire_reader *r, const char **s, size_t *n)
{
    const uint8_t *start = r->p + r->off;
    const uint8_t *nul = memchr(start, '\0', r->len - r->off);
    if (!nul)
        return tb_error_set(r->err, TB_ERR_DECODE,
                            "%s: unterminated string at offset %zu", r->what,
                            r->off);
    *s = (const char *)start;
    *n = (size_t)(nul - start);
    r->off += *n + 1;
    return 0;
}

int tb_pgwire_read_end(tb_pgwire_reader *r)
{
    if (r->off == r->len) return 0;
    return tb_error_set(r->err, TB_ERR_DECODE,
                        "%s: %zu unexpected trailing bytes at offset %zu",
                        r->what, r->len - r->off, r->off);
}

int tb_pgwire_parse(const uint8_t *buf, size_t len, tb_pgwire_msg *out,
                    tb_error *err)
{
    tb_pgwire_reader r;
    uint8_t kind, reply;

    if (len == 0)
        return tb_error_set(err, TB_ERR_DECODE,
                            "replication CopyData: empty message");
    kind = buf[0];
    switch (kind) {
    case 'w':
        tb_pgwire_reader_init(&r, buf, len, "replication XLogData", err);
        r.off = 1;
        if (tb_pgwire_read_u64(&r, &out->u.xlog.wal_start) < 0 ||
            tb_pgwire_read_u64(&r, &out->u.xlog.wal_end) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.xlog.send_time) < 0)
            goto fail;
        /* Everything after the header is the payload, possibly empty. */
        out->u.xlog.data = buf + r.off;
        out->u.xlog.len = len - r.off;
        out->kind = TB_PGWIRE_XLOGDATA;
        return 0;
    case 'k':
        tb_pgwire_reader_init(&r, buf, len, "replication keepalive", err);
        r.off = 1;
        if (tb_pgwire_read_u64(&r, &out->u.keepalive.wal_end) < 0 ||
            tb_pgwire_read_i64(&r, &out->u.keepalive.send_time) < 0 ||
            tb_pgwire_read_u8(&r, &reply) < 0 || tb_pgwire_read_end(&r) < 0)
            goto fail;
        out->u.keepalive.reply_requested = reply != 0;
        out->kind = TB_PGWIRE_KEEPALIVE;
        return 0;
    default:
        return tb_error_set(err, TB_ERR_DECODE,
                            "replication CopyData: unknown message type 0x%02x "
                            "at offset 0",
                            kind);
    }
fail:
    return -1;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

int tb_pgwire_build_status(uint8_t *buf, size_t cap, uint64_t written,
                           uint64_t flushed, uint64_t applied, int64_t clock_pg,
                           bool reply_requested, tb_error *err)
{
    uint64_t clock;
    if (cap < TB_PGWIRE_STATUS_LEN)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "standby status update needs %d bytes, got %zu",
                            TB_PGWIRE_STATUS_LEN, cap);
    memcpy(&clock, &clock_pg, sizeof clock);
    buf[0] = 'r';
    put64(buf + 1, written);
    put64(buf + 9, flushed);
    put64(buf + 17, applied);
    put64(buf + 25, clock);
    buf[33] = reply_requested ? 1 : 0;
    return TB_PGWIRE_STATUS_LEN;
}

/* Parse 1-8 hex digits of s up to the first char not a hex digit. */
static int hex32(const char **s, uint32_t *v)
{
    uint32_t acc = 0;
    int n = 0;
    for (;; n++) {
        char c = (*s)[n];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (n == 8) return -1;
        acc = (acc << 4) | (uint32_t)d;
    }
    if (n == 0) return -1;
    *s += n;
    *v = acc;
    return 0;
}

int tb_pgwire_lsn_parse(const char *s, uint64_t *lsn, tb_error *err)
{
    const char *p = s;
    uint32_t hi, lo;
    if (!s) return tb_error_set(err, TB_ERR_DECODE, "LSN: missing text");
    if (hex32(&p, &hi) < 0 || *p++ != '/' || hex32(&p, &lo) < 0 || *p != '\0')
        return tb_error_set(err, TB_ERR_DECODE,
                            "LSN: \"%.40s\" is not of the form X/Y with 1-8 "
                            "hex digits each",
                            s);
    *lsn = ((uint64_t)hi << 32) | lo;
    return 0;
}

int tb_pgwire_lsn_format(uint64_t lsn, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%X/%X", (unsigned)(lsn >> 32),
                     (unsigned)(lsn & 0xffffffffu));
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) buf[0] = '\0';
        return -1;
    }
    return n;
}

int64_t tb_pgwire_pg_to_unix_us(int64_t pg_us)
{
    /* The extremes stand for -infinity / +infinity and stay that way. */
    if (pg_us == INT64_MIN || pg_us == INT64_MAX) return pg_us;
    if (pg_us > INT64_MAX - TB_PGWIRE_EPOCH_OFFSET_US) return INT64_MAX;
    return pg_us + TB_PGWIRE_EPOCH_OFFSET_US;
}

int64_t tb_pgwire_unix_to_pg_us(int64_t unix_us)
{
    if (unix_us == INT64_MIN || unix_us == INT64_MAX) return unix_us;
    if (unix_us < INT64_MIN + TB_PGWIRE_EPOCH_OFFSET_US) return INT64_MIN;
    return unix_us - TB_PGWIRE_EPOCH_OFFSET_US;
}
