/*
 * test_my_gtidset.c - Oracle MySQL GTID sets (text in and out, growth,
 * containment, the COM_BINLOG_DUMP_GTID encoding) and the dump commands
 * and reply framing of my_dump.c, on bytes built by hand from the
 * documented layouts (MariaDB KB COM_BINLOG_DUMP; MySQL's
 * com_binlog_dump_gtid() and Gtid_set::encode). Last, the stream's side:
 * built Oracle MySQL event groups (GTID, BEGIN ... XID; GTID, DDL) fed to
 * tb_mysrc_stream_event grow the set in the positions it reports, and a
 * group in the stored set is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/mysql/my_dump.h"
#include "../../connectors/mysql/my_gtidset.h"
#include "../../connectors/mysql/my_source_int.h"

#define UA "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define UB "d3a4b5c6-0000-4000-8000-00000000000b"
static const uint8_t ua[16] = {0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
                               0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62};
static const uint8_t ub[16] = {0xd3, 0xa4, 0xb5, 0xc6, 0x00, 0x00, 0x40, 0x00,
                               0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b};

/* Parse text (must succeed) and return its canonical text. */
static const char *canon(const char *text)
{
    static char out[1024];
    tb_mygtidset s;
    tb_error err;
    tb_mygtidset_init(&s);
    if (tb_mygtidset_parse(&s, text, &err) != 0) fail_msg("%s", err.msg);
    size_t n = tb_mygtidset_format(&s, out, sizeof out);
    assert_true(n < sizeof out);
    assert_int_equal(strlen(out), n);
    /* The canonical text reads back as the same set. */
    tb_mygtidset t;
    tb_mygtidset_init(&t);
    assert_int_equal(tb_mygtidset_parse(&t, out, &err), 0);
    assert_true(tb_mygtidset_equal(&s, &t));
    tb_mygtidset_free(&t);
    tb_mygtidset_free(&s);
    return out;
}

static void test_text_canonical(void **state)
{
    (void)state;
    assert_string_equal(canon(""), "");
    assert_string_equal(canon("  \n "), "");
    assert_string_equal(canon(UA ":23"), UA ":23");
    assert_string_equal(canon(UA ":1-5"), UA ":1-5");
    assert_string_equal(canon(UA ":1-5:7"), UA ":1-5:7");
    assert_string_equal(canon(UA ":1-1"), UA ":1");
    /* adjacent and overlapping intervals merge, order is fixed */
    assert_string_equal(canon(UA ":1-5:6"), UA ":1-6");
    assert_string_equal(canon(UA ":7:1-5"), UA ":1-5:7");
    assert_string_equal(canon(UA ":1-5:3-9"), UA ":1-9");
    assert_string_equal(canon(UA ":10-20:1-3:4-9"), UA ":1-20");
    assert_string_equal(canon(UA ":5:1:3"), UA ":1:3:5");
    assert_string_equal(canon(UA ":2-3:1-10"), UA ":1-10");
    /* upper case, no dashes, whitespace and newlines as gtid_executed
     * prints them, empty entries */
    assert_string_equal(canon("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"),
                        UA ":1-5");
    assert_string_equal(canon("3e11fa4771ca11e19e33c80aa9429562:4"), UA ":4");
    assert_string_equal(canon(UB ":1-100,\n" UA ":1-5"),
                        UA ":1-5," UB ":1-100");
    assert_string_equal(canon(" " UA " : 1 - 5 : 7 ,\r\n\t" UB ":2 "),
                        UA ":1-5:7," UB ":2");
    assert_string_equal(canon(",," UA ":1,,"), UA ":1");
    /* a SID named twice is one */
    assert_string_equal(canon(UA ":1-3," UB ":9," UA ":4-6"),
                        UA ":1-6," UB ":9");
    assert_string_equal(canon(UA ":9223372036854775806"),
                        UA ":9223372036854775806");
    assert_string_equal(canon(UA ":1-9223372036854775806"),
                        UA ":1-9223372036854775806");
}

static void bad(const char *text, tb_errcode code, const char *needle)
{
    tb_mygtidset s;
    tb_error err;
    tb_mygtidset_init(&s);
    /* Something in the set before: a failed parse leaves it empty. */
    assert_int_equal(tb_mygtidset_add(&s, ua, 1, &err), 0);
    if (tb_mygtidset_parse(&s, text, &err) != -1)
        fail_msg("\"%s\" was accepted", text);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err.msg, needle);
    assert_int_equal(s.nsids, 0);
    tb_mygtidset_free(&s);
}

static void test_text_errors(void **state)
{
    (void)state;
    bad(UA, TB_ERR_CONFIG, "':' after the UUID");
    bad(UA ":", TB_ERR_CONFIG, "transaction number");
    bad(UA ":0", TB_ERR_CONFIG, "transaction number");
    bad(UA ":5-3", TB_ERR_CONFIG, "N <= M");
    bad(UA ":1-", TB_ERR_CONFIG, "transaction number");
    bad(UA ":-3", TB_ERR_CONFIG, "transaction number");
    bad(UA ":1x", TB_ERR_CONFIG, "',' or the end");
    bad(UA ":1 " UB ":2", TB_ERR_CONFIG, "',' or the end");
    bad(UA ":1:", TB_ERR_CONFIG, "transaction number");
    bad(UA ":9223372036854775807", TB_ERR_CONFIG, "transaction number");
    bad(UA ":99999999999999999999999", TB_ERR_CONFIG, "transaction number");
    bad("xyz:1", TB_ERR_CONFIG, "server UUID");
    bad("3e11fa47-71ca-11e1-9e33-c80aa942956:1", TB_ERR_CONFIG, "server UUID");
    bad("3e11fa47-71ca-11e1-9e33-c80aa94295622:1", TB_ERR_CONFIG,
        "server UUID");
    bad("3e11fa4771ca-11e1-9e33-c80aa9429562a:1", TB_ERR_CONFIG, "server UUID");
    bad("3e11fa47-71ca-11e1-9e33c-80aa9429562:1", TB_ERR_CONFIG, "server UUID");
    bad("3e11fa47", TB_ERR_CONFIG, "server UUID");
    bad(":1-5", TB_ERR_CONFIG, "server UUID");
    bad(UA ":1-5;file=x", TB_ERR_CONFIG, "offset 40");
    bad(UA ":tag:1-5", TB_ERR_UNSUPPORTED, "tagged");
}

static void test_add_merges(void **state)
{
    (void)state;
    tb_mygtidset s;
    tb_error err;
    char out[256];
    tb_mygtidset_init(&s);
    /* 1..10 in a scrambled order end as one interval */
    const int order[] = {5, 1, 9, 3, 7, 2, 10, 4, 8, 6};
    for (int i = 0; i < 10; i++)
        assert_int_equal(tb_mygtidset_add(&s, ua, order[i], &err), 0);
    tb_mygtidset_format(&s, out, sizeof out);
    assert_string_equal(out, UA ":1-10");
    assert_int_equal(s.sids[0].nivs, 1);
    /* a gap, then filling it */
    assert_int_equal(tb_mygtidset_add(&s, ua, 12, &err), 0);
    assert_int_equal(tb_mygtidset_add(&s, ub, 3, &err), 0);
    tb_mygtidset_format(&s, out, sizeof out);
    assert_string_equal(out, UA ":1-10:12," UB ":3");
    assert_int_equal(tb_mygtidset_add(&s, ua, 11, &err), 0);
    tb_mygtidset_format(&s, out, sizeof out);
    assert_string_equal(out, UA ":1-12," UB ":3");
    /* adding what is there changes nothing */
    assert_int_equal(tb_mygtidset_add(&s, ua, 5, &err), 0);
    tb_mygtidset_format(&s, out, sizeof out);
    assert_string_equal(out, UA ":1-12," UB ":3");
    /* out of range */
    assert_int_equal(tb_mygtidset_add(&s, ua, 0, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_int_equal(tb_mygtidset_add(&s, ua, INT64_MAX, &err), -1);
    assert_int_equal(tb_mygtidset_add(&s, ua, TB_MYGTID_GNO_MAX, &err), 0);
    tb_mygtidset_format(&s, out, sizeof out);
    assert_string_equal(out, UA ":1-12:9223372036854775806," UB ":3");
    tb_mygtidset_free(&s);
    assert_int_equal(s.nsids, 0);
    assert_null(s.sids);
    /* free twice is harmless, and a freed set is usable */
    tb_mygtidset_free(&s);
    assert_int_equal(tb_mygtidset_add(&s, ub, 1, &err), 0);
    tb_mygtidset_free(&s);
}

static void test_contains_subset(void **state)
{
    (void)state;
    tb_mygtidset a, b, c;
    tb_error err;
    tb_mygtidset_init(&a);
    tb_mygtidset_init(&b);
    tb_mygtidset_init(&c);
    assert_int_equal(
        tb_mygtidset_parse(&a, UA ":1-5:7:10-20:30," UB ":2", &err), 0);
    const int64_t in[] = {1, 3, 5, 7, 10, 15, 20, 30};
    const int64_t out[] = {0, 6, 8, 9, 21, 29, 31, 1000};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        assert_true(tb_mygtidset_contains(&a, ua, in[i]));
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        assert_false(tb_mygtidset_contains(&a, ua, out[i]));
    assert_true(tb_mygtidset_contains(&a, ub, 2));
    assert_false(tb_mygtidset_contains(&a, ub, 1));
    uint8_t other[16];
    memcpy(other, ua, 16);
    other[15] ^= 1;
    assert_false(tb_mygtidset_contains(&a, other, 1));

    /* the empty set is in every set */
    assert_true(tb_mygtidset_subset(&b, &a));
    assert_false(tb_mygtidset_subset(&a, &b));
    assert_true(tb_mygtidset_subset(&b, &b));
    assert_int_equal(tb_mygtidset_parse(&b, UA ":2-4:12-15", &err), 0);
    assert_true(tb_mygtidset_subset(&b, &a));
    assert_false(tb_mygtidset_subset(&a, &b));
    assert_false(tb_mygtidset_equal(&a, &b));
    /* a range spanning a gap is not inside */
    assert_int_equal(tb_mygtidset_parse(&b, UA ":4-7", &err), 0);
    assert_false(tb_mygtidset_subset(&b, &a));
    assert_int_equal(tb_mygtidset_parse(&b, UA ":19-21", &err), 0);
    assert_false(tb_mygtidset_subset(&b, &a));
    /* another SID */
    assert_int_equal(tb_mygtidset_parse(&b, UB ":2-3", &err), 0);
    assert_false(tb_mygtidset_subset(&b, &a));
    /* equal whatever the text looked like */
    assert_int_equal(
        tb_mygtidset_parse(&c, UB ":2," UA ":30:10-15:16-20:7:1-2:3-5", &err),
        0);
    assert_true(tb_mygtidset_equal(&a, &c));
    assert_int_equal(tb_mygtidset_add(&c, ub, 3, &err), 0);
    assert_false(tb_mygtidset_equal(&a, &c));
    assert_true(tb_mygtidset_subset(&a, &c));
    tb_mygtidset_free(&a);
    tb_mygtidset_free(&b);
    tb_mygtidset_free(&c);
}

static void test_format_cut(void **state)
{
    (void)state;
    tb_mygtidset s;
    tb_error err;
    char out[16];
    tb_mygtidset_init(&s);
    assert_int_equal(tb_mygtidset_parse(&s, UA ":1-5", &err), 0);
    memset(out, 'x', sizeof out);
    size_t need = tb_mygtidset_format(&s, out, sizeof out);
    assert_int_equal(need, strlen(UA ":1-5"));
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_memory_equal(out, UA, sizeof out - 1);
    /* cap 0 writes nothing */
    assert_int_equal(tb_mygtidset_format(&s, NULL, 0), need);
    tb_mygtidset_free(&s);
}

/* Little-endian helpers for the expected bytes. */
static size_t le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return (size_t)n;
}

static void test_encode(void **state)
{
    (void)state;
    tb_mygtidset s;
    tb_error err;
    tb_buf b = TB_BUF_INIT;
    tb_mygtidset_init(&s);
    /* the empty set: n_sids = 0 */
    assert_int_equal(tb_mygtidset_encode(&s, &b), 0);
    assert_int_equal(b.len, 8);
    static const uint8_t zero[8] = {0};
    assert_memory_equal(b.data, zero, 8);

    assert_int_equal(tb_mygtidset_parse(&s, UB ":1-100,\n" UA ":1-5:7", &err),
                     0);
    uint8_t want[256];
    size_t n = 0;
    n += le(want + n, 2, 8); /* n_sids */
    memcpy(want + n, ua, 16);
    n += 16;
    n += le(want + n, 2, 8); /* n_intervals */
    n += le(want + n, 1, 8);
    n += le(want + n, 6, 8); /* 1-5: end exclusive */
    n += le(want + n, 7, 8);
    n += le(want + n, 8, 8); /* 7 */
    memcpy(want + n, ub, 16);
    n += 16;
    n += le(want + n, 1, 8);
    n += le(want + n, 1, 8);
    n += le(want + n, 101, 8);
    assert_int_equal(n, 8 + 2 * 24 + 3 * 16);
    tb_buf_reset(&b);
    assert_int_equal(tb_buf_append(&b, "pre", 3), 0);
    assert_int_equal(tb_mygtidset_encode(&s, &b), 0); /* appends */
    assert_int_equal(b.len, 3 + n);
    assert_memory_equal(b.data, "pre", 3);
    assert_memory_equal(b.data + 3, want, n);
    /* spelled out once, byte by byte, for the first SID header */
    static const uint8_t head[] = {
        0x02, 0,    0,    0,    0,    0,    0,    0, /* two SIDs */
        0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
        0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62,
        0x02, 0,    0,    0,    0,    0,    0,    0, /* two intervals */
        0x01, 0,    0,    0,    0,    0,    0,    0,
        0x06, 0,    0,    0,    0,    0,    0,    0};
    assert_memory_equal(b.data + 3, head, sizeof head);
    tb_buf_free(&b);
    tb_mygtidset_free(&s);
}

static void test_dump_commands(void **state)
{
    (void)state;
    tb_buf b = TB_BUF_INIT;
    tb_error err;
    uint8_t cmd = 0;
    /* COM_BINLOG_DUMP: the MariaDB KB example (pos 0x0634 = 1588, flags
     * 0, server id 0x2775, mysql-bin.000034) minus its flags 2 */
    tb_mydump_req r = {10101, "mysql-bin.000034", 1588, NULL};
    assert_int_equal(tb_mydump_build(&r, &cmd, &b, &err), 0);
    assert_int_equal(cmd, 0x12);
    static const uint8_t dump[] = {0x34, 0x06, 0x00, 0x00, 0x00, 0x00, 0x75,
                                   0x27, 0x00, 0x00, 'm',  'y',  's',  'q',
                                   'l',  '-',  'b',  'i',  'n',  '.',  '0',
                                   '0',  '0',  '0',  '3',  '4'};
    assert_int_equal(b.len, sizeof dump);
    assert_memory_equal(b.data, dump, sizeof dump);
    /* offsets past 4 GiB do not fit */
    r.pos = (uint64_t)UINT32_MAX + 1;
    assert_int_equal(tb_mydump_build(&r, &cmd, &b, &err), -1);
    assert_int_equal(err.code, TB_ERR_UNSUPPORTED);

    /* COM_BINLOG_DUMP_GTID with an empty file name at offset 4 */
    tb_mygtidset s;
    tb_mygtidset_init(&s);
    assert_int_equal(tb_mygtidset_parse(&s, UA ":1-5", &err), 0);
    tb_mydump_req g = {7, "", 4, &s};
    tb_buf_reset(&b);
    assert_int_equal(tb_mydump_build(&g, &cmd, &b, &err), 0);
    assert_int_equal(cmd, 0x1e);
    uint8_t want[128];
    size_t n = 0;
    n += le(want + n, 0x0004, 2); /* BINLOG_THROUGH_GTID */
    n += le(want + n, 7, 4);      /* server id */
    n += le(want + n, 0, 4);      /* name length */
    n += le(want + n, 4, 8);      /* position */
    n += le(want + n, 8 + 24 + 16, 4);
    n += le(want + n, 1, 8);
    memcpy(want + n, ua, 16);
    n += 16;
    n += le(want + n, 1, 8);
    n += le(want + n, 1, 8);
    n += le(want + n, 6, 8);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);

    /* with a file name and a 64-bit position */
    g.file = "binlog.000002";
    g.pos = (uint64_t)1 << 33;
    tb_buf_reset(&b);
    assert_int_equal(tb_mydump_build(&g, &cmd, &b, &err), 0);
    assert_int_equal(b.len, n + 13);
    assert_memory_equal(b.data + 6,
                        "\x0d\x00\x00\x00"
                        "binlog.000002",
                        17);
    assert_memory_equal(b.data + 23, "\x00\x00\x00\x00\x02\x00\x00\x00", 8);
    tb_mygtidset_free(&s);
    tb_buf_free(&b);
}

static void test_reply_packets(void **state)
{
    (void)state;
    uint8_t pkt[64];
    const uint8_t *ev = NULL;
    size_t len = 0;
    tb_error err;
    memset(pkt, 0, sizeof pkt);
    /* OK byte + a 27-byte event (size field at header offset 9) */
    pkt[0] = 0x00;
    pkt[1 + 4] = 27; /* type: HEARTBEAT, not looked at here */
    pkt[1 + 9] = 27;
    assert_int_equal(tb_mydump_packet(pkt, 28, &ev, &len, &err), 1);
    assert_ptr_equal(ev, pkt + 1);
    assert_int_equal(len, 27);
    /* size disagreeing with the packet */
    assert_int_equal(tb_mydump_packet(pkt, 29, &ev, &len, &err), -1);
    assert_int_equal(err.code, TB_ERR_DECODE);
    assert_int_equal(tb_mydump_packet(pkt, 20, &ev, &len, &err), -1);
    /* EOF packet: 0xFE, warnings, status */
    static const uint8_t eof[] = {0xfe, 0x00, 0x00, 0x02, 0x00};
    assert_int_equal(tb_mydump_packet(eof, sizeof eof, &ev, &len, &err), 0);
    assert_int_equal(tb_mydump_packet(eof, 1, &ev, &len, &err), 0);
    /* anything else */
    static const uint8_t odd[] = {0x01, 0x02};
    assert_int_equal(tb_mydump_packet(odd, sizeof odd, &ev, &len, &err), -1);
    assert_int_equal(tb_mydump_packet(odd, 0, &ev, &len, &err), -1);
    pkt[0] = 0xfe; /* a long 0xFE packet is not an end */
    assert_int_equal(tb_mydump_packet(pkt, 28, &ev, &len, &err), -1);
}

/* ---- the stream on built Oracle MySQL events --------------------------- */

typedef struct evb {
    uint8_t b[512]; /* event bytes */
    size_t n;       /* bytes written */
} evb;

static void ev_put(evb *e, uint64_t v, int n)
{
    le(e->b + e->n, v, n);
    e->n += (size_t)n;
}

static void ev_bytes(evb *e, const void *p, size_t n)
{
    memcpy(e->b + e->n, p, n);
    e->n += n;
}

/* Fill the header of an event whose body is in e (no checksum); the event
 * ends at *at in the binlog file, which moves on. */
static size_t ev_finish(evb *e, uint8_t type, uint32_t *at)
{
    *at += (uint32_t)e->n;
    size_t n = 0;
    n += le(e->b + n, 1700000000, 4);
    n += le(e->b + n, type, 1);
    n += le(e->b + n, 1, 4);
    n += le(e->b + n, e->n, 4);
    n += le(e->b + n, *at, 4);
    n += le(e->b + n, 0, 2);
    return e->n;
}

static void ev_gtid(evb *e, uint8_t type, const uint8_t sid[16], int64_t gno,
                    uint32_t *at)
{
    e->n = 19;
    ev_put(e, 0, 1); /* flags */
    ev_bytes(e, sid, 16);
    ev_put(e, (uint64_t)gno, 8);
    ev_put(e, 2, 1); /* logical clock */
    ev_put(e, 0, 8);
    ev_put(e, 1, 8);
    ev_finish(e, type, at);
}

static void ev_query(evb *e, const char *sql, uint32_t *at)
{
    e->n = 19;
    ev_put(e, 1, 4); /* thread id */
    ev_put(e, 0, 4); /* exec time */
    ev_put(e, 2, 1); /* db length */
    ev_put(e, 0, 2); /* error code */
    ev_put(e, 0, 2); /* status vars length */
    ev_bytes(e, "db", 3);
    ev_bytes(e, sql, strlen(sql));
    ev_finish(e, TB_BINLOG_QUERY, at);
}

static void ev_xid(evb *e, uint32_t *at)
{
    e->n = 19;
    ev_put(e, 42, 8);
    ev_finish(e, TB_BINLOG_XID, at);
}

/* What the stream reported. */
typedef struct seen {
    char last[TB_POSITION_MAX]; /* last progress position */
    int progress;               /* progress calls */
    int other;                  /* begin / change / commit / table calls */
} seen;

static int on_progress(void *ctx, const tb_position *pos, tb_error *err)
{
    (void)err;
    seen *w = ctx;
    snprintf(w->last, sizeof w->last, "%s", pos->text);
    w->progress++;
    return 0;
}

static int on_table(void *ctx, tb_table *t, tb_error *err)
{
    (void)t, (void)err;
    ((seen *)ctx)->other++;
    return 0;
}

static int on_tx(void *ctx, const tb_tx *tx, tb_error *err)
{
    (void)tx, (void)err;
    ((seen *)ctx)->other++;
    return 0;
}

static int on_change(void *ctx, const tb_change *c, tb_error *err)
{
    (void)c, (void)err;
    ((seen *)ctx)->other++;
    return 0;
}

static void feed(tb_source *s, const tb_emit *emit, evb *e)
{
    tb_error err;
    if (tb_mysrc_stream_event(s, e->b, e->n, emit, &err) != 0)
        fail_msg("%s", err.msg);
}

static void test_stream_tracks_mysql_gtids(void **state)
{
    (void)state;
    tb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "gtids";
    tb_source *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->cfg = &cfg;
    tb_arena_init(&s->arena, 4096);
    tb_binlog_format_init(&s->fmt);
    tb_error err;
    /* where a dump by GTID set would start: the set read at open */
    snprintf(s->cur.file, sizeof s->cur.file, "binlog.000007");
    s->cur.pos = 4;
    assert_int_equal(tb_mygtidset_parse(&s->gtids, UA ":1-5", &err), 0);
    tb_mygtidset_format(&s->gtids, s->cur.mysql_gtids,
                        sizeof s->cur.mysql_gtids);
    seen w;
    memset(&w, 0, sizeof w);
    tb_emit emit = {&w, on_table, on_tx, on_change, on_tx, on_progress};
    uint32_t at = 4;
    evb *e = calloc(1, sizeof *e);
    assert_non_null(e);

    /* a transaction: GTID, BEGIN, XID */
    ev_gtid(e, TB_BINLOG_GTID, ua, 6, &at);
    feed(s, &emit, e);
    assert_true(s->in_group);
    assert_false(s->skip_group);
    assert_int_equal(s->group_txid, 6);
    ev_query(e, "BEGIN", &at);
    feed(s, &emit, e);
    assert_false(s->standalone);
    ev_xid(e, &at);
    feed(s, &emit, e);
    assert_false(s->in_group);
    assert_int_equal(w.progress, 1);
    char want[TB_POSITION_MAX];
    snprintf(want, sizeof want, "gtid=" UA ":1-6;file=binlog.000007;pos=%u",
             at);
    assert_string_equal(w.last, want);
    /* the stored-position text reads back as the same set */
    my_pos p;
    assert_int_equal(tb_mysrc_pos_parse(w.last, &p, &err), 0);
    assert_string_equal(p.mysql_gtids, UA ":1-6");

    /* DDL: a GTID, then the statement alone ends the group */
    ev_gtid(e, TB_BINLOG_GTID, ub, 1, &at);
    feed(s, &emit, e);
    ev_query(e, "CREATE TABLE t (a INT)", &at);
    feed(s, &emit, e);
    assert_false(s->in_group);
    assert_int_equal(w.progress, 2);
    snprintf(want, sizeof want,
             "gtid=" UA ":1-6," UB ":1;file=binlog.000007;pos=%u", at);
    assert_string_equal(w.last, want);
    assert_string_equal(s->boundary.mysql_gtids, UA ":1-6," UB ":1");

    /* anonymous transactions leave the set alone */
    ev_gtid(e, TB_BINLOG_ANONYMOUS_GTID, ua, 0, &at);
    feed(s, &emit, e);
    assert_int_equal(s->group_txid, -1);
    ev_query(e, "BEGIN", &at);
    feed(s, &emit, e);
    ev_xid(e, &at);
    feed(s, &emit, e);
    assert_int_equal(w.progress, 3);
    assert_string_equal(s->cur.mysql_gtids, UA ":1-6," UB ":1");

    /* resume: a group in the stored set is skipped, the next is not */
    s->have_resume = true;
    assert_int_equal(tb_mygtidset_parse(&s->resume_gtids, UA ":1-7", &err), 0);
    ev_gtid(e, TB_BINLOG_GTID, ua, 7, &at);
    feed(s, &emit, e);
    assert_true(s->skip_group);
    ev_query(e, "BEGIN", &at);
    feed(s, &emit, e);
    ev_xid(e, &at);
    feed(s, &emit, e);
    assert_string_equal(s->cur.mysql_gtids, UA ":1-7," UB ":1");
    ev_gtid(e, TB_BINLOG_GTID, ua, 8, &at);
    feed(s, &emit, e);
    assert_false(s->skip_group);
    ev_gtid(e, TB_BINLOG_GTID, ub, 3, &at); /* a gap in ub */
    feed(s, &emit, e);
    ev_query(e, "COMMIT", &at);
    feed(s, &emit, e);
    assert_string_equal(s->cur.mysql_gtids, UA ":1-7," UB ":1:3");
    assert_int_equal(w.other, 0); /* no replicated table: progress only */

    /* MySQL 8's HEARTBEAT_V2 outside a group: progress at the position
     * reached, its header's log_pos not taken for an offset */
    int before = w.progress;
    uint64_t pos = s->cur.pos;
    e->n = 19;
    ev_put(e, 0, 1);
    ev_put(e, 3, 1);
    ev_bytes(e, "bin", 3);
    uint32_t far = 999999;
    ev_finish(e, TB_BINLOG_HEARTBEAT_V2, &far);
    feed(s, &emit, e);
    assert_int_equal(w.progress, before + 1);
    assert_int_equal(s->cur.pos, pos);
    snprintf(want, sizeof want,
             "gtid=" UA ":1-7," UB ":1:3;file=binlog.000007;pos=%u", at);
    assert_string_equal(w.last, want);

    free(e);
    tb_mygtidset_free(&s->gtids);
    tb_mygtidset_free(&s->resume_gtids);
    tb_arena_free(&s->arena);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_canonical),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_add_merges),
        cmocka_unit_test(test_contains_subset),
        cmocka_unit_test(test_format_cut),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_dump_commands),
        cmocka_unit_test(test_reply_packets),
        cmocka_unit_test(test_stream_tracks_mysql_gtids),
    };
    return cmocka_run_group_tests_name("my_gtidset", tests, NULL, NULL);
}
