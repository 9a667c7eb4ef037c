/*
 * binlog.c - binlog event header, checksum and per-event decoders.
 *
 * Layouts: MariaDB KB "Binlog Event Header", "FORMAT_DESCRIPTION_EVENT",
 * "QUERY_EVENT", "ROTATE_EVENT", "GTID_EVENT", "GTID_LIST_EVENT",
 * "TABLE_MAP_EVENT", "ROWS_EVENT_V1", MySQL libbinlogevents (GTID, ROWS v2,
 * optional table map metadata, Transaction_payload codec). All integers
 * are little-endian unless said otherwise. Every read is bounds-checked
 * against the event length: a truncated event is TB_ERR_DECODE, never a
 * read past the buffer.
 */
#include "binlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TB_HAVE_ZSTD
#include <zstd.h>
#endif

/* A bounds-checked read cursor over one event body. */
typedef struct rd {
    const uint8_t *p; /* start of the bytes */
    size_t len;       /* bytes available */
    size_t off;       /* next byte to read */
} rd;

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static size_t left(const rd *r)
{
    return r->len - r->off;
}

static int need(rd *r, size_t n, const char *what, tb_error *err)
{
    if (left(r) < n)
        return tb_error_set(err, TB_ERR_DECODE,
                            "truncated %s: need %zu bytes, %zu left", what, n,
                            left(r));
    return 0;
}

static int get_le(rd *r, int n, uint64_t *v, const char *what, tb_error *err)
{
    if (need(r, (size_t)n, what, err) < 0) return -1;
    *v = le(r->p + r->off, n);
    r->off += (size_t)n;
    return 0;
}

/* Length-encoded ("packed") integer: < 251 one byte, 252 + 2, 253 + 3,
 * 254 + 8. 251 is the SQL NULL marker and is refused here. */
static int get_packed(rd *r, uint64_t *v, const char *what, tb_error *err)
{
    if (need(r, 1, what, err) < 0) return -1;
    uint8_t b = r->p[r->off++];
    int n;
    if (b < 251) {
        *v = b;
        return 0;
    }
    if (b == 252)
        n = 2;
    else if (b == 253)
        n = 3;
    else if (b == 254)
        n = 8;
    else
        return tb_error_set(err, TB_ERR_DECODE,
                            "bad packed integer 0x%02x in %s", b, what);
    return get_le(r, n, v, what, err);
}

static int get_bytes(rd *r, size_t n, const uint8_t **out, const char *what,
                     tb_error *err)
{
    if (need(r, n, what, err) < 0) return -1;
    *out = r->p + r->off;
    r->off += n;
    return 0;
}

static char *dup_str(tb_arena *a, const uint8_t *p, size_t n, tb_error *err)
{
    char *s = tb_arena_strndup(a, (const char *)p, n);
    if (!s) tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    return s;
}

static void *zalloc(tb_arena *a, size_t n, tb_error *err)
{
    void *p = tb_arena_alloc(a, n ? n : 1);
    if (!p) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memset(p, 0, n ? n : 1);
    return p;
}

/* ---- CRC32 ---- */

/* Slice-by-16 (Intel's "slicing-by-8" idea widened): crc_tab[0] is the
 * classic reflected byte table of polynomial 0xEDB88320; crc_tab[k][i] is
 * the CRC of byte i followed by k zero bytes, so 16 input bytes are folded
 * with 16 independent table lookups instead of 16 dependent ones. Exactly
 * zlib's crc32(); the checksum of every binlog event goes through here, so
 * it is the decoder's hottest loop. 16 KiB of tables, built once. */
static uint32_t crc_tab[16][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (int k = 1; k < 16; k++)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = crc_tab[k - 1][i];
            crc_tab[k][i] = crc_tab[0][c & 0xff] ^ (c >> 8);
        }
}

/* Little-endian 32-bit load from any alignment, whatever the host byte
 * order; compilers turn it into one load on little-endian machines. */
static uint32_t load32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint32_t tb_binlog_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    const uint32_t(*t)[256] = crc_tab;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n >= 16) {
        uint32_t a = crc ^ load32le(p), b = load32le(p + 4);
        uint32_t c = load32le(p + 8), d = load32le(p + 12);
        crc = t[15][a & 0xff] ^ t[14][(a >> 8) & 0xff] ^
              t[13][(a >> 16) & 0xff] ^ t[12][a >> 24] ^ t[11][b & 0xff] ^
              t[10][(b >> 8) & 0xff] ^ t[9][(b >> 16) & 0xff] ^ t[8][b >> 24] ^
              t[7][c & 0xff] ^ t[6][(c >> 8) & 0xff] ^ t[5][(c >> 16) & 0xff] ^
              t[4][c >> 24] ^ t[3][d & 0xff] ^ t[2][(d >> 8) & 0xff] ^
              t[1][(d >> 16) & 0xff] ^ t[0][d >> 24];
        p += 16;
        n -= 16;
    }
    while (n--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int check_crc(const uint8_t *ev, size_t len, tb_error *err)
{
    uint32_t want = (uint32_t)le(ev + len - 4, 4);
    uint32_t got = tb_binlog_crc32(0, ev, len - 4);
    if (want != got)
        return tb_error_set(
            err, TB_ERR_DECODE,
            "CRC32 mismatch: event says 0x%08x, computed 0x%08x", want, got);
    return 0;
}

/* ---- format ---- */

/* Post-header lengths of binlog v4 for the types we decode, used before
 * an FDE is seen and for types past the FDE's table. */
static uint8_t default_post_len(uint8_t type)
{
    switch (type) {
    case TB_BINLOG_QUERY:
        return 13;
    case TB_BINLOG_ROTATE:
        return 8;
    case TB_BINLOG_TABLE_MAP:
    case TB_BINLOG_WRITE_ROWS_V1:
    case TB_BINLOG_UPDATE_ROWS_V1:
    case TB_BINLOG_DELETE_ROWS_V1:
        return 8;
    case TB_BINLOG_WRITE_ROWS_V2:
    case TB_BINLOG_UPDATE_ROWS_V2:
    case TB_BINLOG_DELETE_ROWS_V2:
        return 10;
    default:
        return 0;
    }
}

static uint8_t post_len(const tb_binlog_format *fmt, uint8_t type)
{
    if (type >= 1 && type <= fmt->n_post_header)
        return fmt->post_header_len[type - 1];
    return default_post_len(type);
}

void tb_binlog_format_init(tb_binlog_format *fmt)
{
    memset(fmt, 0, sizeof *fmt);
    fmt->binlog_version = 4;
    fmt->header_len = TB_BINLOG_HEADER_LEN;
    fmt->checksum_alg = TB_BINLOG_CHECKSUM_OFF;
}

int tb_binlog_header_decode(const uint8_t *ev, size_t len, tb_binlog_header *h,
                            tb_error *err)
{
    if (len < TB_BINLOG_HEADER_LEN)
        return tb_error_set(err, TB_ERR_DECODE,
                            "truncated event header: %zu of 19 bytes", len);
    h->timestamp = (uint32_t)le(ev, 4);
    h->type = ev[4];
    h->server_id = (uint32_t)le(ev + 5, 4);
    h->event_size = (uint32_t)le(ev + 9, 4);
    h->log_pos = (uint32_t)le(ev + 13, 4);
    h->flags = (uint16_t)le(ev + 17, 2);
    if (h->event_size < TB_BINLOG_HEADER_LEN)
        return tb_error_set(err, TB_ERR_DECODE, "event_size %u below 19",
                            h->event_size);
    return 0;
}

/* Does a server of this version write the checksum algorithm byte and a
 * checksum into its FDE? MySQL since 5.6.1, MariaDB since 5.3. */
static bool checksum_aware(const char *ver, bool mariadb)
{
    unsigned a = 0, b = 0, c = 0;
    if (sscanf(ver, "%u.%u.%u", &a, &b, &c) < 2) return false;
    unsigned v = a * 10000 + b * 100 + c;
    return mariadb ? v >= 50300 : v >= 50601;
}

/* FORMAT_DESCRIPTION: binlog_version(2) server_version(50)
 * create_timestamp(4) header_length(1) post_header_len[n] then, on
 * checksum-aware servers, checksum_alg(1) and a 4-byte checksum that is
 * always there (zero-filled or valid) whatever the algorithm. */
static int dec_fde(tb_binlog_format *fmt, const uint8_t *ev, size_t len,
                   tb_binlog_event *out, tb_error *err)
{
    const uint8_t *b = ev + TB_BINLOG_HEADER_LEN;
    size_t blen = len - TB_BINLOG_HEADER_LEN;
    tb_binlog_format nf;
    tb_binlog_format_init(&nf);
    if (blen < 57)
        return tb_error_set(err, TB_ERR_DECODE,
                            "truncated FORMAT_DESCRIPTION: %zu body bytes",
                            blen);
    nf.binlog_version = (uint16_t)le(b, 2);
    if (nf.binlog_version != 4)
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "binlog version %u (only v4 is supported)",
                            nf.binlog_version);
    memcpy(nf.server_version, b + 2, 50);
    nf.server_version[50] = '\0';
    nf.create_timestamp = (uint32_t)le(b + 52, 4);
    nf.header_len = b[56];
    if (nf.header_len < TB_BINLOG_HEADER_LEN)
        return tb_error_set(err, TB_ERR_DECODE, "header length %u below 19",
                            nf.header_len);
    nf.mariadb = strstr(nf.server_version, "MariaDB") != NULL;
    size_t n = blen - 57;
    if (checksum_aware(nf.server_version, nf.mariadb)) {
        if (n < 5)
            return tb_error_set(err, TB_ERR_DECODE,
                                "FORMAT_DESCRIPTION without checksum trailer");
        n -= 5;
        nf.checksum_alg = b[57 + n];
        if (nf.checksum_alg == TB_BINLOG_CHECKSUM_CRC32) {
            if (check_crc(ev, len, err) < 0) return -1;
        } else if (nf.checksum_alg != TB_BINLOG_CHECKSUM_OFF)
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "binlog checksum algorithm %u",
                                nf.checksum_alg);
    }
    if (n > sizeof nf.post_header_len) n = sizeof nf.post_header_len;
    nf.n_post_header = (uint16_t)n;
    memcpy(nf.post_header_len, b + 57, n);
    *fmt = nf;
    out->u.fde.binlog_version = fmt->binlog_version;
    out->u.fde.server_version = fmt->server_version;
    out->u.fde.checksum_alg = fmt->checksum_alg;
    out->body = b;
    out->body_len = len - TB_BINLOG_HEADER_LEN -
                    (checksum_aware(nf.server_version, nf.mariadb) ? 4 : 0);
    return 0;
}

static int dec_rotate(rd *r, tb_binlog_event *out, tb_error *err)
{
    uint64_t pos;
    if (get_le(r, 8, &pos, "ROTATE position", err) < 0) return -1;
    out->u.rotate.position = pos;
    out->u.rotate.file = (const char *)r->p + r->off;
    out->u.rotate.file_len = left(r);
    return 0;
}

/* MariaDB GTID: seq_no(8) domain_id(4) flags2(1) then commit_id(8) when
 * FL_GROUP_COMMIT_ID, else padding; XA data may follow (ignored). */
static int dec_mgtid(rd *r, const tb_binlog_header *h, tb_binlog_event *out,
                     tb_error *err)
{
    tb_binlog_mariadb_gtid *g = &out->u.mgtid;
    uint64_t v;
    if (get_le(r, 8, &g->seq_no, "GTID seq_no", err) < 0) return -1;
    if (get_le(r, 4, &v, "GTID domain_id", err) < 0) return -1;
    g->domain_id = (uint32_t)v;
    if (get_le(r, 1, &v, "GTID flags", err) < 0) return -1;
    g->flags = (uint8_t)v;
    g->server_id = h->server_id;
    g->standalone = (g->flags & TB_BINLOG_GTID_STANDALONE) != 0;
    g->commit_id = 0;
    if (g->flags & TB_BINLOG_GTID_GROUP_COMMIT) {
        if (get_le(r, 8, &g->commit_id, "GTID commit_id", err) < 0) return -1;
    } else if (need(r, 6, "GTID padding", err) < 0)
        return -1;
    return 0;
}

/* GTID_LIST: count(4, low 28 bits; top 4 bits flags), then count times
 * domain_id(4) server_id(4) seq_no(8). */
static int dec_gtid_list(rd *r, tb_arena *a, tb_binlog_event *out,
                         tb_error *err)
{
    tb_binlog_gtid_list *gl = &out->u.gtid_list;
    uint64_t v;
    if (get_le(r, 4, &v, "GTID_LIST count", err) < 0) return -1;
    gl->count = (uint32_t)(v & 0x0fffffff);
    gl->flags = (uint8_t)(v >> 28);
    if (need(r, (size_t)gl->count * 16, "GTID_LIST entries", err) < 0)
        return -1;
    gl->gtids = zalloc(a, (size_t)gl->count * sizeof *gl->gtids, err);
    if (!gl->gtids) return -1;
    for (uint32_t i = 0; i < gl->count; i++) {
        const uint8_t *p = r->p + r->off + (size_t)i * 16;
        gl->gtids[i].domain_id = (uint32_t)le(p, 4);
        gl->gtids[i].server_id = (uint32_t)le(p + 4, 4);
        gl->gtids[i].seq_no = le(p + 8, 8);
    }
    return 0;
}

/* MySQL GTID / ANONYMOUS_GTID: flags(1) sid(16) gno(8) and, since 5.7,
 * lt_type(1) = 2, last_committed(8), sequence_number(8); later fields
 * (commit timestamps, transaction length) are not needed here. */
static int dec_mysql_gtid(rd *r, tb_binlog_event *out, tb_error *err)
{
    tb_binlog_mysql_gtid *g = &out->u.gtid;
    uint64_t v;
    const uint8_t *sid;
    if (get_le(r, 1, &v, "GTID flags", err) < 0) return -1;
    g->flags = (uint8_t)v;
    if (get_bytes(r, 16, &sid, "GTID sid", err) < 0) return -1;
    memcpy(g->sid, sid, 16);
    if (get_le(r, 8, &v, "GTID gno", err) < 0) return -1;
    g->gno = (int64_t)v;
    g->has_logical_clock = false;
    if (left(r) >= 17 && r->p[r->off] == 2) {
        r->off++;
        g->last_committed = (int64_t)le(r->p + r->off, 8);
        g->sequence_number = (int64_t)le(r->p + r->off + 8, 8);
        r->off += 16;
        g->has_logical_clock = true;
    }
    return 0;
}

/* QUERY: thread_id(4) exec_time(4) db_len(1) error_code(2)
 * status_vars_len(2) [rest of post-header], status vars, db, NUL, SQL. */
static int dec_query(rd *r, uint8_t plen, tb_binlog_event *out, tb_error *err)
{
    tb_binlog_query *q = &out->u.query;
    uint64_t v, db_len, svlen;
    const uint8_t *p;
    if (plen < 13)
        return tb_error_set(err, TB_ERR_DECODE, "QUERY post-header %u < 13",
                            plen);
    if (need(r, plen, "QUERY post-header", err) < 0) return -1;
    if (get_le(r, 4, &v, "QUERY", err) < 0) return -1;
    q->thread_id = (uint32_t)v;
    if (get_le(r, 4, &v, "QUERY", err) < 0) return -1;
    q->exec_time = (uint32_t)v;
    if (get_le(r, 1, &db_len, "QUERY", err) < 0) return -1;
    if (get_le(r, 2, &v, "QUERY", err) < 0) return -1;
    q->error_code = (uint16_t)v;
    if (get_le(r, 2, &svlen, "QUERY", err) < 0) return -1;
    r->off += plen - 13u;
    if (get_bytes(r, (size_t)svlen, &p, "QUERY status vars", err) < 0)
        return -1;
    if (get_bytes(r, (size_t)db_len, &p, "QUERY db", err) < 0) return -1;
    q->db = (const char *)p;
    q->db_len = (size_t)db_len;
    if (get_bytes(r, 1, &p, "QUERY db terminator", err) < 0) return -1;
    if (*p != 0)
        return tb_error_set(err, TB_ERR_DECODE, "QUERY db not NUL-terminated");
    q->sql = (const char *)r->p + r->off;
    q->sql_len = left(r);
    return 0;
}

/* ---- TABLE_MAP ---- */

/* Columns covered by the SIGNEDNESS bitmap. YEAR counts: a MariaDB 10.11
 * capture (tests/data/binlog) sends a bit for it, flagged unsigned. */
static bool is_numeric(uint8_t t)
{
    switch (t) {
    case TB_MYSQL_YEAR:
    case TB_MYSQL_TINY:
    case TB_MYSQL_SHORT:
    case TB_MYSQL_INT24:
    case TB_MYSQL_LONG:
    case TB_MYSQL_LONGLONG:
    case TB_MYSQL_FLOAT:
    case TB_MYSQL_DOUBLE:
    case TB_MYSQL_DECIMAL:
    case TB_MYSQL_NEWDECIMAL:
        return true;
    default:
        return false;
    }
}

static bool is_character(uint8_t t)
{
    switch (t) {
    case TB_MYSQL_STRING:
    case TB_MYSQL_VAR_STRING:
    case TB_MYSQL_VARCHAR:
    case TB_MYSQL_TINY_BLOB:
    case TB_MYSQL_MEDIUM_BLOB:
    case TB_MYSQL_LONG_BLOB:
    case TB_MYSQL_BLOB:
        return true;
    default:
        return false;
    }
}

static bool is_enum_set(uint8_t t)
{
    return t == TB_MYSQL_ENUM || t == TB_MYSQL_SET;
}

/* Read the per-type metadata of one column and derive its fields. */
static int col_meta(rd *r, tb_binlog_column *c, tb_error *err)
{
    uint64_t v = 0;
    c->real_type = c->type;
    switch (c->type) {
    case TB_MYSQL_FLOAT:
    case TB_MYSQL_DOUBLE:
    case TB_MYSQL_TINY_BLOB:
    case TB_MYSQL_MEDIUM_BLOB:
    case TB_MYSQL_LONG_BLOB:
    case TB_MYSQL_BLOB:
    case TB_MYSQL_GEOMETRY:
    case TB_MYSQL_JSON:
    case TB_MYSQL_TIME2:
    case TB_MYSQL_DATETIME2:
    case TB_MYSQL_TIMESTAMP2:
        if (get_le(r, 1, &v, "column metadata", err) < 0) return -1;
        c->meta = (uint16_t)v;
        c->scale = (uint8_t)v; /* length bytes or fsp */
        break;
    case TB_MYSQL_VARCHAR:
    case TB_MYSQL_VAR_STRING:
        if (get_le(r, 2, &v, "column metadata", err) < 0) return -1;
        c->meta = (uint16_t)v;
        c->max_len = (uint32_t)v;
        break;
    case TB_MYSQL_BIT:
        /* byte 0: bits beyond whole bytes, byte 1: whole bytes */
        if (get_le(r, 2, &v, "column metadata", err) < 0) return -1;
        c->meta = (uint16_t)v;
        c->precision = (uint8_t)((v >> 8) * 8 + (v & 0xff));
        break;
    case TB_MYSQL_NEWDECIMAL:
    case TB_MYSQL_DECIMAL:
        if (get_le(r, 2, &v, "column metadata", err) < 0) return -1;
        c->meta = (uint16_t)v;
        c->precision = (uint8_t)(v & 0xff);
        c->scale = (uint8_t)(v >> 8);
        break;
    case TB_MYSQL_STRING:
    case TB_MYSQL_ENUM:
    case TB_MYSQL_SET: {
        /* byte 0: real type, byte 1: length. CHAR(n) with n * mbmaxlen >
         * 255 keeps bits 8-9 of the length in bits 4-5 of byte 0, XORed
         * so that the real type's 0x30 bits read back as clear. */
        if (get_le(r, 2, &v, "column metadata", err) < 0) return -1;
        c->meta = (uint16_t)v;
        uint8_t b0 = (uint8_t)(v & 0xff), b1 = (uint8_t)(v >> 8);
        if ((b0 & 0x30) != 0x30) {
            c->real_type = b0 | 0x30;
            c->max_len = b1 | ((uint32_t)((b0 & 0x30) ^ 0x30) << 4);
        } else {
            c->real_type = b0;
            c->max_len = b1;
        }
        if (c->type != TB_MYSQL_STRING) c->real_type = c->type;
        break;
    }
    default:
        c->meta = 0;
        break;
    }
    return 0;
}

/* Optional metadata "charset" blocks: either one default plus exceptions
 * (index among the selected columns, collation), or one per column. */
static int opt_charsets(rd *r, tb_binlog_table_map *tm, bool enum_set,
                        bool per_column, tb_error *err)
{
    uint64_t def = 0, idx, cs;
    if (!per_column && get_packed(r, &def, "default charset", err) < 0)
        return -1;
    uint32_t k = 0;
    if (!per_column) {
        for (uint32_t i = 0; i < tm->ncols; i++) {
            tb_binlog_column *c = &tm->cols[i];
            if (enum_set ? is_enum_set(c->real_type)
                         : is_character(c->real_type))
                c->charset = (uint32_t)def;
        }
        while (left(r) > 0) {
            if (get_packed(r, &idx, "charset column", err) < 0) return -1;
            if (get_packed(r, &cs, "charset value", err) < 0) return -1;
            k = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                tb_binlog_column *c = &tm->cols[i];
                if (!(enum_set ? is_enum_set(c->real_type)
                               : is_character(c->real_type)))
                    continue;
                if (k++ == idx) c->charset = (uint32_t)cs;
            }
        }
        return 0;
    }
    for (uint32_t i = 0; i < tm->ncols && left(r) > 0; i++) {
        tb_binlog_column *c = &tm->cols[i];
        if (!(enum_set ? is_enum_set(c->real_type)
                       : is_character(c->real_type)))
            continue;
        if (get_packed(r, &cs, "column charset", err) < 0) return -1;
        c->charset = (uint32_t)cs;
    }
    return 0;
}

static int opt_strvalues(rd *r, tb_binlog_table_map *tm, uint8_t want,
                         tb_arena *a, tb_error *err)
{
    for (uint32_t i = 0; i < tm->ncols && left(r) > 0; i++) {
        tb_binlog_column *c = &tm->cols[i];
        uint64_t n, l;
        if (c->real_type != want) continue;
        if (get_packed(r, &n, "enum/set count", err) < 0) return -1;
        if (n > left(r))
            return tb_error_set(err, TB_ERR_DECODE,
                                "enum/set count %llu too large",
                                (unsigned long long)n);
        c->nvalues = (uint32_t)n;
        c->values = zalloc(a, (size_t)n * sizeof *c->values, err);
        c->value_lens = zalloc(a, (size_t)n * sizeof *c->value_lens, err);
        if (!c->values || !c->value_lens) return -1;
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *p;
            if (get_packed(r, &l, "enum/set value", err) < 0) return -1;
            if (l > left(r))
                return tb_error_set(err, TB_ERR_DECODE,
                                    "truncated enum/set value");
            if (get_bytes(r, (size_t)l, &p, "enum/set value", err) < 0)
                return -1;
            if (!(c->values[j] = dup_str(a, p, (size_t)l, err))) return -1;
            c->value_lens[j] = (uint32_t)l;
        }
    }
    return 0;
}

/* Optional metadata TLVs: type(1) length(packed) value(length). */
static int opt_meta(rd *all, tb_binlog_table_map *tm, tb_arena *a,
                    tb_error *err)
{
    while (left(all) > 0) {
        uint64_t t, l, v;
        const uint8_t *p;
        if (get_le(all, 1, &t, "optional metadata type", err) < 0) return -1;
        if (get_packed(all, &l, "optional metadata length", err) < 0) return -1;
        if (l > left(all))
            return tb_error_set(err, TB_ERR_DECODE,
                                "optional metadata %u: length %llu > %zu",
                                (unsigned)t, (unsigned long long)l, left(all));
        if (get_bytes(all, (size_t)l, &p, "optional metadata", err) < 0)
            return -1;
        rd r = {p, (size_t)l, 0};
        switch (t) {
        case 1: { /* SIGNEDNESS: 1 bit per numeric column, MSB first */
            uint32_t k = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (!is_numeric(tm->cols[i].real_type)) continue;
                if (k / 8 >= l)
                    return tb_error_set(err, TB_ERR_DECODE,
                                        "SIGNEDNESS bitmap too short");
                tm->cols[i].is_unsigned = (p[k / 8] >> (7 - k % 8)) & 1;
                k++;
            }
            tm->has_signedness = true;
            break;
        }
        case 2: /* DEFAULT_CHARSET */
        case 3: /* COLUMN_CHARSET */
            if (opt_charsets(&r, tm, false, t == 3, err) < 0) return -1;
            break;
        case 10: /* ENUM_AND_SET_DEFAULT_CHARSET */
        case 11: /* ENUM_AND_SET_COLUMN_CHARSET */
            if (opt_charsets(&r, tm, true, t == 11, err) < 0) return -1;
            break;
        case 4: /* COLUMN_NAME */
            for (uint32_t i = 0; i < tm->ncols; i++) {
                const uint8_t *s;
                if (get_packed(&r, &v, "column name", err) < 0) return -1;
                if (v > left(&r))
                    return tb_error_set(err, TB_ERR_DECODE,
                                        "truncated column name");
                if (get_bytes(&r, (size_t)v, &s, "column name", err) < 0)
                    return -1;
                if (!(tm->cols[i].name = dup_str(a, s, (size_t)v, err)))
                    return -1;
            }
            tm->has_names = true;
            break;
        case 5: /* SET_STR_VALUE */
            if (opt_strvalues(&r, tm, TB_MYSQL_SET, a, err) < 0) return -1;
            break;
        case 6: /* ENUM_STR_VALUE */
            if (opt_strvalues(&r, tm, TB_MYSQL_ENUM, a, err) < 0) return -1;
            break;
        case 7: /* GEOMETRY_TYPE */
            for (uint32_t i = 0; i < tm->ncols && left(&r) > 0; i++) {
                if (tm->cols[i].real_type != TB_MYSQL_GEOMETRY) continue;
                if (get_packed(&r, &v, "geometry type", err) < 0) return -1;
                tm->cols[i].geometry_type = (uint32_t)v;
            }
            break;
        case 8: /* SIMPLE_PRIMARY_KEY */
        case 9: /* PRIMARY_KEY_WITH_PREFIX */
            while (left(&r) > 0) {
                uint64_t pre = 0;
                if (get_packed(&r, &v, "key column", err) < 0) return -1;
                if (t == 9 && get_packed(&r, &pre, "key prefix", err) < 0)
                    return -1;
                if (v >= tm->ncols)
                    return tb_error_set(err, TB_ERR_DECODE,
                                        "key column %llu of %u",
                                        (unsigned long long)v, tm->ncols);
                tm->cols[v].pk = true;
                tm->cols[v].pk_prefix = (uint32_t)pre;
            }
            tm->has_pk = true;
            break;
        default: /* COLUMN_VISIBILITY and newer: not needed */
            break;
        }
    }
    return 0;
}

/* TABLE_MAP: table_id(6, or 4 when the post-header is 6) flags(2)
 * db_len(1) db NUL table_len(1) table NUL ncols(packed) types[ncols]
 * meta_len(packed) meta null_bitmap[(ncols+7)/8] optional-metadata. */
static int dec_table_map(rd *r, uint8_t plen, tb_arena *a, tb_binlog_event *out,
                         tb_error *err)
{
    tb_binlog_table_map *tm = &out->u.table_map;
    uint64_t v, n, mlen;
    const uint8_t *p, *types, *nulls;
    memset(tm, 0, sizeof *tm);
    if (plen != 6 && plen != 8)
        return tb_error_set(err, TB_ERR_DECODE, "TABLE_MAP post-header %u",
                            plen);
    if (get_le(r, plen == 6 ? 4 : 6, &tm->table_id, "TABLE_MAP id", err) < 0)
        return -1;
    if (get_le(r, 2, &v, "TABLE_MAP flags", err) < 0) return -1;
    tm->flags = (uint16_t)v;
    if (get_le(r, 1, &v, "TABLE_MAP db", err) < 0) return -1;
    if (get_bytes(r, (size_t)v + 1, &p, "TABLE_MAP db", err) < 0) return -1;
    if (!(tm->db = dup_str(a, p, (size_t)v, err))) return -1;
    if (get_le(r, 1, &v, "TABLE_MAP table", err) < 0) return -1;
    if (get_bytes(r, (size_t)v + 1, &p, "TABLE_MAP table", err) < 0) return -1;
    if (!(tm->table = dup_str(a, p, (size_t)v, err))) return -1;
    if (get_packed(r, &n, "TABLE_MAP column count", err) < 0) return -1;
    if (n == 0 || n > 4096)
        return tb_error_set(err, TB_ERR_DECODE, "TABLE_MAP column count %llu",
                            (unsigned long long)n);
    tm->ncols = (uint32_t)n;
    if (get_bytes(r, (size_t)n, &types, "TABLE_MAP types", err) < 0) return -1;
    if (get_packed(r, &mlen, "TABLE_MAP metadata length", err) < 0) return -1;
    if (mlen > left(r))
        return tb_error_set(err, TB_ERR_DECODE, "truncated TABLE_MAP metadata");
    rd m = {r->p + r->off, (size_t)mlen, 0};
    r->off += (size_t)mlen;
    if (get_bytes(r, (size_t)(n + 7) / 8, &nulls, "TABLE_MAP null bitmap",
                  err) < 0)
        return -1;
    tm->cols = zalloc(a, (size_t)n * sizeof *tm->cols, err);
    if (!tm->cols) return -1;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tb_binlog_column *c = &tm->cols[i];
        c->type = types[i];
        c->nullable = (nulls[i / 8] >> (i % 8)) & 1;
        if (col_meta(&m, c, err) < 0) return -1;
    }
    if (m.off != m.len)
        return tb_error_set(err, TB_ERR_DECODE,
                            "TABLE_MAP metadata: %zu bytes left over",
                            m.len - m.off);
    rd o = {r->p + r->off, left(r), 0};
    return opt_meta(&o, tm, a, err);
}

/* ROWS v1/v2: table_id(6) flags(2) [v2: extra_len(2, counts itself)
 * extra] ncols(packed) present[(n+7)/8] [update: present_after] rows. */
static int dec_rows(rd *r, uint8_t type, uint8_t plen, tb_binlog_event *out,
                    tb_error *err)
{
    tb_binlog_rows *rw = &out->u.rows;
    uint64_t v, n;
    size_t bm;
    memset(rw, 0, sizeof *rw);
    rw->version = type >= TB_BINLOG_WRITE_ROWS_V2 ? 2 : 1;
    switch (type) {
    case TB_BINLOG_WRITE_ROWS_V1:
    case TB_BINLOG_WRITE_ROWS_V2:
        rw->op = 'w';
        break;
    case TB_BINLOG_UPDATE_ROWS_V1:
    case TB_BINLOG_UPDATE_ROWS_V2:
        rw->op = 'u';
        break;
    default:
        rw->op = 'd';
        break;
    }
    if (plen != 6 && plen != 8 && plen != 10)
        return tb_error_set(err, TB_ERR_DECODE, "ROWS post-header %u", plen);
    if (get_le(r, plen == 6 ? 4 : 6, &rw->table_id, "ROWS table id", err) < 0)
        return -1;
    if (get_le(r, 2, &v, "ROWS flags", err) < 0) return -1;
    rw->flags = (uint16_t)v;
    if (rw->version == 2) {
        if (get_le(r, 2, &v, "ROWS extra length", err) < 0) return -1;
        if (v < 2)
            return tb_error_set(err, TB_ERR_DECODE,
                                "ROWS extra length %llu < 2",
                                (unsigned long long)v);
        if (get_bytes(r, (size_t)v - 2, &rw->extra, "ROWS extra", err) < 0)
            return -1;
        rw->extra_len = (size_t)v - 2;
    }
    if (get_packed(r, &n, "ROWS column count", err) < 0) return -1;
    if (n == 0 || n > 4096)
        return tb_error_set(err, TB_ERR_DECODE, "ROWS column count %llu",
                            (unsigned long long)n);
    rw->ncols = (uint32_t)n;
    bm = (size_t)(n + 7) / 8;
    if (get_bytes(r, bm, &rw->present, "ROWS present bitmap", err) < 0)
        return -1;
    if (rw->op == 'u' &&
        get_bytes(r, bm, &rw->present_upd, "ROWS after bitmap", err) < 0)
        return -1;
    rw->data = r->p + r->off;
    rw->data_len = left(r);
    if (rw->data_len == 0)
        return tb_error_set(err, TB_ERR_DECODE, "ROWS event without rows");
    return 0;
}

/* TRANSACTION_PAYLOAD: no post-header; TLV header fields, each
 * type(packed) length(packed) value(packed), ended by type 0; then the
 * payload bytes. */
static int dec_payload(rd *r, tb_binlog_event *out, tb_error *err)
{
    tb_binlog_payload *pl = &out->u.payload;
    bool have_size = false;
    memset(pl, 0, sizeof *pl);
    pl->compression = 255;
    for (;;) {
        uint64_t t, l, v;
        if (get_packed(r, &t, "payload header", err) < 0) return -1;
        if (t == 0) break;
        if (get_packed(r, &l, "payload header", err) < 0) return -1;
        size_t start = r->off;
        if (l > left(r))
            return tb_error_set(err, TB_ERR_DECODE,
                                "payload header field too long");
        if (t >= 1 && t <= 3) {
            if (get_packed(r, &v, "payload header value", err) < 0) return -1;
            if (t == 1) {
                pl->payload_size = v;
                have_size = true;
            } else if (t == 2)
                pl->compression = v;
            else
                pl->uncompressed_size = v;
        }
        r->off = start + (size_t)l; /* unknown fields skipped by length */
    }
    if (!have_size) pl->payload_size = left(r);
    if (pl->payload_size != left(r))
        return tb_error_set(err, TB_ERR_DECODE,
                            "payload size %llu but %zu bytes follow",
                            (unsigned long long)pl->payload_size, left(r));
    pl->payload = r->p + r->off;
    return 0;
}

int tb_binlog_payload_unpack(const tb_binlog_payload *p, tb_buf *out,
                             tb_error *err)
{
    if (p->compression == 255) {
        if (tb_buf_append(out, p->payload, (size_t)p->payload_size) < 0)
            return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        return 0;
    }
    if (p->compression != 0)
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "transaction payload compression type %llu",
                            (unsigned long long)p->compression);
#ifdef TB_HAVE_ZSTD
    if (p->uncompressed_size > (1u << 30))
        return tb_error_set(err, TB_ERR_DECODE,
                            "transaction payload of %llu bytes refused",
                            (unsigned long long)p->uncompressed_size);
    if (tb_buf_reserve(out, (size_t)p->uncompressed_size) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    size_t n =
        ZSTD_decompress(out->data + out->len, (size_t)p->uncompressed_size,
                        p->payload, (size_t)p->payload_size);
    if (ZSTD_isError(n) || n != p->uncompressed_size)
        return tb_error_set(err, TB_ERR_DECODE, "zstd transaction payload: %s",
                            ZSTD_isError(n) ? ZSTD_getErrorName(n)
                                            : "size mismatch");
    out->len += n;
    return 0;
#else
    (void)out;
    return tb_error_set(err, TB_ERR_UNSUPPORTED,
                        "zstd-compressed transaction payload: built without "
                        "libzstd; set binlog_transaction_compression=OFF on "
                        "the server");
#endif
}

static int dispatch(tb_binlog_format *fmt, rd *r, tb_arena *a,
                    tb_binlog_event *out, tb_error *err)
{
    uint8_t type = out->h.type;
    uint8_t plen = post_len(fmt, type);
    switch (type) {
    case TB_BINLOG_ROTATE:
        return dec_rotate(r, out, err);
    case TB_BINLOG_MARIADB_GTID:
        return dec_mgtid(r, &out->h, out, err);
    case TB_BINLOG_GTID_LIST:
        return dec_gtid_list(r, a, out, err);
    case TB_BINLOG_GTID:
    case TB_BINLOG_ANONYMOUS_GTID:
        return dec_mysql_gtid(r, out, err);
    case TB_BINLOG_QUERY:
        return dec_query(r, plen, out, err);
    case TB_BINLOG_XID:
        return get_le(r, 8, &out->u.xid, "XID", err);
    case TB_BINLOG_TABLE_MAP:
        return dec_table_map(r, plen, a, out, err);
    case TB_BINLOG_WRITE_ROWS_V1:
    case TB_BINLOG_UPDATE_ROWS_V1:
    case TB_BINLOG_DELETE_ROWS_V1:
    case TB_BINLOG_WRITE_ROWS_V2:
    case TB_BINLOG_UPDATE_ROWS_V2:
    case TB_BINLOG_DELETE_ROWS_V2:
        return dec_rows(r, type, plen, out, err);
    case TB_BINLOG_ANNOTATE_ROWS:
        out->u.annotate.text = (const char *)r->p;
        out->u.annotate.len = r->len;
        return 0;
    case TB_BINLOG_ROWS_QUERY: /* length(1), ignored: text runs to end */
        if (need(r, 1, "ROWS_QUERY", err) < 0) return -1;
        out->u.annotate.text = (const char *)r->p + 1;
        out->u.annotate.len = r->len - 1;
        return 0;
    case TB_BINLOG_HEARTBEAT:
        out->u.heartbeat.file = (const char *)r->p;
        out->u.heartbeat.len = r->len;
        return 0;
    case TB_BINLOG_TRANSACTION_PAYLOAD:
        return dec_payload(r, out, err);
    case TB_BINLOG_PARTIAL_UPDATE_ROWS:
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "PARTIAL_UPDATE_ROWS event (partial JSON "
                            "updates): set binlog_row_value_options='' on "
                            "the server for full JSON images");
    case TB_BINLOG_QUERY_COMPRESSED:
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "compressed QUERY event: set "
                            "log_bin_compress=OFF on the server");
    default:
        if (type >= TB_BINLOG_ROWS_COMPRESSED_FIRST &&
            type <= TB_BINLOG_ROWS_COMPRESSED_LAST)
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "compressed ROWS event (type %u): set "
                                "log_bin_compress=OFF on the server",
                                type);
        out->skipped = true;
        return 0;
    }
}

int tb_binlog_event_decode(tb_binlog_format *fmt, const uint8_t *ev, size_t len,
                           tb_arena *arena, tb_binlog_event *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (tb_binlog_header_decode(ev, len, &out->h, err) < 0) goto fail;
    if (out->h.event_size != len) {
        tb_error_set(err, TB_ERR_DECODE, "event_size %u but %zu bytes given",
                     out->h.event_size, len);
        goto fail;
    }
    if (out->h.type == TB_BINLOG_FORMAT_DESCRIPTION) {
        if (dec_fde(fmt, ev, len, out, err) < 0) goto fail;
        return 0;
    }
    size_t hl = fmt->header_len ? fmt->header_len : TB_BINLOG_HEADER_LEN;
    size_t tail = fmt->checksum_alg == TB_BINLOG_CHECKSUM_CRC32 ? 4 : 0;
    if (len < hl + tail) {
        tb_error_set(err, TB_ERR_DECODE, "event of %zu bytes too short", len);
        goto fail;
    }
    if (tail && check_crc(ev, len, err) < 0) goto fail;
    out->body = ev + hl;
    out->body_len = len - hl - tail;
    rd r = {out->body, out->body_len, 0};
    if (dispatch(fmt, &r, arena, out, err) < 0) goto fail;
    return 0;
fail:
    return tb_error_prefix(err, "binlog event type %u at log_pos %u",
                           out->h.type, out->h.log_pos);
}
