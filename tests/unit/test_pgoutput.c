/*
 * test_pgoutput.c - the pgoutput decoder on hand-built messages (built from
 * the documented layouts) and on golden captures from a real PostgreSQL 15
 * (tests/data/pgoutput/<name>.hex, expected renderings in <name>.out;
 * regenerate with tests/data/pgoutput/capture.sh, then run this test with
 * TB_PGO_GOLDEN_UPDATE=1 and review the diff).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../connectors/postgres/pgoutput.h"

/* ---- message builder ------------------------------------------------- */

typedef struct mb {
    uint8_t b[4096]; /* message bytes */
    size_t n;        /* length so far */
} mb;

static mb *mb_start(mb *m, char type)
{
    m->n = 0;
    m->b[m->n++] = (uint8_t)type;
    return m;
}

static void mb_int(mb *m, uint64_t v, int bytes)
{
    assert_true(m->n + (size_t)bytes <= sizeof m->b);
    for (int i = bytes - 1; i >= 0; i--)
        m->b[m->n + (size_t)(bytes - 1 - i)] = (uint8_t)(v >> (8 * i));
    m->n += (size_t)bytes;
}
static void u8(mb *m, uint8_t v)
{
    mb_int(m, v, 1);
}
static void u16(mb *m, uint16_t v)
{
    mb_int(m, v, 2);
}
static void u32(mb *m, uint32_t v)
{
    mb_int(m, v, 4);
}
static void u64(mb *m, uint64_t v)
{
    mb_int(m, v, 8);
}

static void raw(mb *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void str(mb *m, const char *s)
{
    raw(m, s, strlen(s) + 1);
}

/* Tuple column helpers. */
static void col_null(mb *m)
{
    u8(m, 'n');
}
static void col_toast(mb *m)
{
    u8(m, 'u');
}
static void col_text(mb *m, const char *s)
{
    u8(m, 't');
    u32(m, (uint32_t)strlen(s));
    raw(m, s, strlen(s));
}
static void col_bin(mb *m, const void *p, uint32_t n)
{
    u8(m, 'b');
    u32(m, n);
    raw(m, p, n);
}

/* ---- fixture --------------------------------------------------------- */

typedef struct fx {
    tb_pgo *d;
    tb_arena arena;
    tb_pgo_msg msg;
    tb_error err;
} fx;

static fx *fx_new(int proto, bool parallel)
{
    fx *f = calloc(1, sizeof *f);
    tb_pgo_opts o = {proto, parallel};
    assert_non_null(f);
    assert_int_equal(tb_pgo_new(&o, &f->d, &f->err), 0);
    tb_arena_init(&f->arena, 0);
    return f;
}

static void fx_free(fx *f)
{
    tb_pgo_free(f->d);
    tb_arena_free(&f->arena);
    free(f);
}

/* Decode a malloc'd copy of exactly len bytes so ASan catches over-reads.
 * The copy is kept alive in *keep (the message points into it). */
static int dec_copy(fx *f, const uint8_t *p, size_t len, uint8_t **keep)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, p, len);
    tb_error_clear(&f->err);
    rc = tb_pgo_decode(f->d, copy, len, &f->msg, &f->arena, &f->err);
    if (keep)
        *keep = copy;
    else
        free(copy);
    return rc;
}

/* Every strict prefix must fail with TB_ERR_DECODE and leave the decoder's
 * state alone; then the whole message must decode (into f->msg, pointing
 * into m, which must stay alive). */
static void dec_ok(fx *f, const uint8_t *p, size_t len)
{
    bool stream = tb_pgo_in_stream(f->d);
    for (size_t i = 0; i < len; i++) {
        if (dec_copy(f, p, i, NULL) != -1)
            fail_msg("prefix %zu of %zu of '%c' decoded", i, len, p[0]);
        assert_int_equal(f->err.code, TB_ERR_DECODE);
        /* The message names the decoder, the type and the offset. */
        assert_non_null(strstr(f->err.msg, "pgoutput"));
        if (i > 0) {
            assert_non_null(strstr(f->err.msg, tb_pgo_type_name(p[0])));
            assert_non_null(strstr(f->err.msg, "offset"));
        }
        assert_true(tb_pgo_in_stream(f->d) == stream);
    }
    tb_error_clear(&f->err);
    if (tb_pgo_decode(f->d, p, len, &f->msg, &f->arena, &f->err) != 0)
        fail_msg("decode of '%c' failed: %s", p[0], f->err.msg);
    assert_int_equal(f->msg.type, p[0]);
}

static void dec_bad(fx *f, const mb *m, const char *needle)
{
    assert_int_equal(dec_copy(f, m->b, m->n, NULL), -1);
    assert_int_equal(f->err.code, TB_ERR_DECODE);
    if (!strstr(f->err.msg, needle))
        fail_msg("error \"%s\" lacks \"%s\"", f->err.msg, needle);
}

/* Relation 16384 public.t (id int4 key, name text, big text, raw bytea). */
static void build_rel(mb *m, bool streamed, uint32_t xid)
{
    mb_start(m, 'R');
    if (streamed) u32(m, xid);
    u32(m, 16384);
    str(m, "public");
    str(m, "t");
    u8(m, 'd');
    u16(m, 4);
    u8(m, 1), str(m, "id"), u32(m, 23), u32(m, 0xffffffff);
    u8(m, 0), str(m, "name"), u32(m, 1043), u32(m, 44);
    u8(m, 0), str(m, "big"), u32(m, 25), u32(m, 0xffffffff);
    u8(m, 0), str(m, "raw"), u32(m, 17), u32(m, 0xffffffff);
}

static void tuple4(mb *m, const char *id)
{
    static const uint8_t bytes[] = {0x00, 0xff, 0x10};
    u16(m, 4);
    col_text(m, id);
    col_null(m);
    col_toast(m);
    col_bin(m, bytes, sizeof bytes);
}

static void check_tuple4(const tb_pgo_tuple *t, const char *id)
{
    assert_int_equal(t->ncols, 4);
    assert_int_equal(t->cols[0].kind, 't');
    assert_int_equal(t->cols[0].len, strlen(id));
    assert_memory_equal(t->cols[0].data, id, strlen(id));
    assert_int_equal(t->cols[1].kind, 'n');
    assert_null(t->cols[1].data);
    assert_int_equal(t->cols[2].kind, 'u');
    assert_int_equal(t->cols[2].len, 0);
    assert_int_equal(t->cols[3].kind, 'b');
    assert_int_equal(t->cols[3].len, 3);
    assert_memory_equal(t->cols[3].data, "\x00\xff\x10", 3);
}

/* ---- tests on built messages ----------------------------------------- */

static void test_new_options(void **state)
{
    (void)state;
    tb_pgo *d = NULL;
    tb_error err;
    tb_pgo_opts o = {0, false};
    assert_int_equal(tb_pgo_new(&o, &d, &err), -1);
    assert_int_equal(err.code, TB_ERR_CONFIG);
    o.proto_version = 5;
    assert_int_equal(tb_pgo_new(&o, &d, &err), -1);
    o.proto_version = 3;
    o.streaming_parallel = true;
    assert_int_equal(tb_pgo_new(&o, &d, &err), -1);
    assert_int_equal(err.code, TB_ERR_CONFIG);
    assert_null(d);
    tb_pgo_free(NULL);
}

static void test_begin_commit_origin(void **state)
{
    (void)state;
    fx *f = fx_new(1, false);
    mb m;
    mb_start(&m, 'B');
    u64(&m, UINT64_C(0x16B374D848));
    u64(&m, (uint64_t)INT64_C(774000000123456));
    u32(&m, 4242);
    dec_ok(f, m.b, m.n);
    assert_false(f->msg.has_xid);
    assert_true(f->msg.u.begin.final_lsn == UINT64_C(0x16B374D848));
    assert_true(f->msg.u.begin.commit_time == INT64_C(774000000123456));
    assert_int_equal(f->msg.u.begin.xid, 4242);

    mb_start(&m, 'C');
    u8(&m, 0);
    u64(&m, 100);
    u64(&m, 200);
    u64(&m, (uint64_t)INT64_C(-1));
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.commit.flags, 0);
    assert_true(f->msg.u.commit.commit_lsn == 100);
    assert_true(f->msg.u.commit.end_lsn == 200);
    assert_true(f->msg.u.commit.commit_time == -1);

    mb_start(&m, 'O');
    u64(&m, 0xABCDEF);
    str(&m, "upstream");
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.u.origin.lsn == 0xABCDEF);
    assert_string_equal(f->msg.u.origin.name, "upstream");

    mb_start(&m, 'Y');
    u32(&m, 16390);
    str(&m, "public");
    str(&m, "mood");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.type.oid, 16390);
    assert_string_equal(f->msg.u.type.nspname, "public");
    assert_string_equal(f->msg.u.type.name, "mood");

    mb_start(&m, 'M');
    u8(&m, 1);
    u64(&m, 77);
    str(&m, "tb");
    u32(&m, 3);
    raw(&m, "a\0b", 3);
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.u.message.transactional);
    assert_true(f->msg.u.message.lsn == 77);
    assert_string_equal(f->msg.u.message.prefix, "tb");
    assert_int_equal(f->msg.u.message.len, 3);
    assert_memory_equal(f->msg.u.message.content, "a\0b", 3);

    /* Trailing bytes after a complete message are refused. */
    u8(&m, 0);
    dec_bad(f, &m, "trailing");
    fx_free(f);
}

static void test_relation_and_changes(void **state)
{
    (void)state;
    fx *f = fx_new(1, false);
    mb m;
    const tb_pgo_rel *rel;

    build_rel(&m, false, 0);
    dec_ok(f, m.b, m.n);
    rel = f->msg.u.relation.rel;
    assert_ptr_equal(rel, tb_pgo_relation(f->d, 16384));
    assert_int_equal(rel->id, 16384);
    assert_string_equal(rel->nspname, "public");
    assert_string_equal(rel->relname, "t");
    assert_int_equal(rel->replident, 'd');
    assert_int_equal(rel->ncols, 4);
    assert_string_equal(rel->cols[0].name, "id");
    assert_true(rel->cols[0].key);
    assert_int_equal(rel->cols[0].type_oid, 23);
    assert_int_equal(rel->cols[0].type_mod, -1);
    assert_string_equal(rel->cols[1].name, "name");
    assert_false(rel->cols[1].key);
    assert_int_equal(rel->cols[1].type_oid, 1043);
    assert_int_equal(rel->cols[1].type_mod, 44);
    assert_string_equal(rel->cols[3].name, "raw");
    assert_int_equal(rel->cols[3].type_oid, 17);

    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "1");
    dec_ok(f, m.b, m.n);
    assert_ptr_equal(f->msg.u.change.rel, rel);
    assert_int_equal(f->msg.u.change.old_kind, 0);
    assert_int_equal(f->msg.u.change.old.ncols, 0);
    check_tuple4(&f->msg.u.change.new, "1");
    /* Values point into the input buffer, not into copies. */
    assert_ptr_equal(f->msg.u.change.new.cols[0].data, m.b + 1 + 4 + 1 + 2 + 5);

    /* Update without old tuple, with 'K' and with 'O'. */
    mb_start(&m, 'U');
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "2");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.change.old_kind, 0);
    check_tuple4(&f->msg.u.change.new, "2");

    for (int k = 0; k < 2; k++) {
        mb_start(&m, 'U');
        u32(&m, 16384);
        u8(&m, k ? 'O' : 'K');
        tuple4(&m, "old");
        u8(&m, 'N');
        tuple4(&m, "new");
        dec_ok(f, m.b, m.n);
        assert_int_equal(f->msg.u.change.old_kind, k ? 'O' : 'K');
        check_tuple4(&f->msg.u.change.old, "old");
        check_tuple4(&f->msg.u.change.new, "new");
    }

    for (int k = 0; k < 2; k++) {
        mb_start(&m, 'D');
        u32(&m, 16384);
        u8(&m, k ? 'O' : 'K');
        tuple4(&m, "gone");
        dec_ok(f, m.b, m.n);
        assert_int_equal(f->msg.u.change.old_kind, k ? 'O' : 'K');
        check_tuple4(&f->msg.u.change.old, "gone");
        assert_int_equal(f->msg.u.change.new.ncols, 0);
    }

    /* Malformed changes. */
    mb_start(&m, 'D');
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "x");
    dec_bad(f, &m, "unexpected tuple marker 0x4e at offset 5");
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'K');
    tuple4(&m, "x");
    dec_bad(f, &m, "unexpected tuple marker 0x4b");
    mb_start(&m, 'U');
    u32(&m, 16384);
    u8(&m, 'K');
    tuple4(&m, "x");
    u8(&m, 'K');
    tuple4(&m, "x");
    dec_bad(f, &m, "unexpected tuple marker");
    mb_start(&m, 'I');
    u32(&m, 99);
    u8(&m, 'N');
    tuple4(&m, "x");
    dec_bad(f, &m, "unknown relation id 99 at offset 1");
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    u16(&m, 3);
    col_null(&m), col_null(&m), col_null(&m);
    dec_bad(f, &m, "tuple has 3 columns but relation public.t has 4");
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    u16(&m, 4);
    col_null(&m), col_null(&m), col_null(&m);
    u8(&m, 'x');
    dec_bad(f, &m, "unknown tuple column kind 0x78 at offset 11");
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    u16(&m, 4);
    col_null(&m), col_null(&m), col_null(&m);
    u8(&m, 't');
    u32(&m, 0x80000000u);
    dec_bad(f, &m, "negative value length");
    /* A huge length must not be trusted. */
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    u16(&m, 4);
    col_null(&m), col_null(&m), col_null(&m);
    u8(&m, 't');
    u32(&m, 1000000);
    raw(&m, "abc", 3);
    dec_bad(f, &m, "truncated at offset 16 (need 1000000 bytes, 3 left)");
    fx_free(f);
}

static void test_truncate(void **state)
{
    (void)state;
    fx *f = fx_new(1, false);
    mb m;
    build_rel(&m, false, 0);
    dec_ok(f, m.b, m.n);
    m.b[4] = 0x01; /* same layout, relation id 16385 */
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.relation.rel->id, 16385);

    mb_start(&m, 'T');
    u32(&m, 2);
    u8(&m, TB_PGO_TRUNCATE_CASCADE | TB_PGO_TRUNCATE_RESTART_IDENTITY);
    u32(&m, 16385);
    u32(&m, 16384);
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.truncate.options, 3);
    assert_int_equal(f->msg.u.truncate.nrels, 2);
    assert_int_equal(f->msg.u.truncate.rels[0]->id, 16385);
    assert_int_equal(f->msg.u.truncate.rels[1]->id, 16384);

    mb_start(&m, 'T');
    u32(&m, 0x40000000u); /* absurd count: refused before allocating */
    u8(&m, 0);
    u32(&m, 16384);
    dec_bad(f, &m, "truncated at offset 6");
    mb_start(&m, 'T');
    u32(&m, 1);
    u8(&m, 0);
    u32(&m, 7);
    dec_bad(f, &m, "unknown relation id 7 at offset 6");
    fx_free(f);
}

static void test_relation_replaced(void **state)
{
    (void)state;
    fx *f = fx_new(2, false);
    mb m;
    const tb_pgo_rel *old, *neu;
    build_rel(&m, false, 0);
    dec_ok(f, m.b, m.n);
    old = f->msg.u.relation.rel;

    /* Stream with a new shape of the same relation (one more column). */
    mb_start(&m, 'S');
    u32(&m, 900);
    u8(&m, 1);
    dec_ok(f, m.b, m.n);
    build_rel(&m, true, 901);
    m.b[1 + 4 + 4 + 7 + 2 + 1 + 1] = 5; /* ncols low byte: 4 -> 5 */
    u8(&m, 0), str(&m, "extra"), u32(&m, 20), u32(&m, 0xffffffff);
    /* A truncated Relation leaves the cached one in place. */
    for (size_t i = 1; i < m.n; i++) {
        assert_int_equal(dec_copy(f, m.b, i, NULL), -1);
        assert_ptr_equal(tb_pgo_relation(f->d, 16384), old);
    }
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.has_xid);
    assert_int_equal(f->msg.xid, 901);
    neu = f->msg.u.relation.rel;
    assert_ptr_not_equal(neu, old);
    assert_ptr_equal(tb_pgo_relation(f->d, 16384), neu);
    assert_int_equal(neu->ncols, 5);
    assert_string_equal(neu->cols[4].name, "extra");
    assert_int_equal(neu->cols[4].type_oid, 20);
    /* The replaced shape stays readable until tb_pgo_gc. */
    assert_int_equal(old->ncols, 4);
    assert_string_equal(old->cols[3].name, "raw");

    /* An old-shaped tuple is now refused; a new-shaped one decodes. */
    mb_start(&m, 'I');
    u32(&m, 901);
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "1");
    dec_bad(f, &m, "tuple has 4 columns but relation public.t has 5");
    mb_start(&m, 'I');
    u32(&m, 901);
    u32(&m, 16384);
    u8(&m, 'N');
    u16(&m, 5);
    col_text(&m, "1"), col_null(&m), col_toast(&m), col_null(&m);
    col_text(&m, "42");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 901);
    assert_ptr_equal(f->msg.u.change.rel, neu);
    assert_int_equal(f->msg.u.change.new.cols[4].len, 2);
    assert_memory_equal(f->msg.u.change.new.cols[4].data, "42", 2);
    tb_pgo_gc(f->d);
    assert_ptr_equal(tb_pgo_relation(f->d, 16384), neu);
    fx_free(f);
}

static void test_stream(void **state)
{
    (void)state;
    fx *f = fx_new(2, false);
    mb m;
    build_rel(&m, false, 0);
    dec_ok(f, m.b, m.n);

    mb_start(&m, 'E');
    dec_bad(f, &m, "no stream is open");
    mb_start(&m, 'S');
    u32(&m, 700);
    u8(&m, 1);
    dec_ok(f, m.b, m.n);
    assert_true(tb_pgo_in_stream(f->d));
    assert_int_equal(f->msg.u.stream_start.xid, 700);
    assert_true(f->msg.u.stream_start.first);
    dec_bad(f, &m, "not allowed inside the stream of xid 700");

    /* Inside: changes carry a leading (sub)transaction xid. */
    mb_start(&m, 'I');
    u32(&m, 701);
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "s");
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.has_xid);
    assert_int_equal(f->msg.xid, 701);
    check_tuple4(&f->msg.u.change.new, "s");

    mb_start(&m, 'U');
    u32(&m, 700);
    u32(&m, 16384);
    u8(&m, 'K');
    tuple4(&m, "k");
    u8(&m, 'N');
    tuple4(&m, "n");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 700);
    check_tuple4(&f->msg.u.change.old, "k");

    mb_start(&m, 'D');
    u32(&m, 700);
    u32(&m, 16384);
    u8(&m, 'O');
    tuple4(&m, "d");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 700);

    mb_start(&m, 'T');
    u32(&m, 700);
    u32(&m, 1);
    u8(&m, 0);
    u32(&m, 16384);
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 700);
    assert_int_equal(f->msg.u.truncate.nrels, 1);

    mb_start(&m, 'Y');
    u32(&m, 700);
    u32(&m, 5000);
    str(&m, "");
    str(&m, "x");
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 700);
    assert_int_equal(f->msg.u.type.oid, 5000);
    assert_string_equal(f->msg.u.type.nspname, "");

    mb_start(&m, 'M');
    u32(&m, 700);
    u8(&m, 1);
    u64(&m, 5);
    str(&m, "p");
    u32(&m, 0);
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.xid, 700);
    assert_int_equal(f->msg.u.message.len, 0);

    mb_start(&m, 'O');
    u64(&m, 0);
    str(&m, "o");
    dec_ok(f, m.b, m.n); /* origin may follow Stream Start */
    assert_false(f->msg.has_xid);

    /* Transaction boundaries are refused inside a stream. */
    static const char inside_bad[] = "BCcA";
    for (const char *t = inside_bad; *t; t++) {
        mb_start(&m, *t);
        u64(&m, 0), u64(&m, 0), u64(&m, 0);
        dec_bad(f, &m, "not allowed inside the stream");
    }

    mb_start(&m, 'E');
    dec_ok(f, m.b, m.n);
    assert_false(tb_pgo_in_stream(f->d));

    /* Outside a stream the same insert without xid decodes. */
    mb_start(&m, 'I');
    u32(&m, 16384);
    u8(&m, 'N');
    tuple4(&m, "o");
    dec_ok(f, m.b, m.n);
    assert_false(f->msg.has_xid);

    mb_start(&m, 'S');
    u32(&m, 700);
    u8(&m, 0);
    dec_ok(f, m.b, m.n);
    assert_false(f->msg.u.stream_start.first);
    mb_start(&m, 'E');
    dec_ok(f, m.b, m.n);

    mb_start(&m, 'A');
    u32(&m, 700);
    u32(&m, 702);
    dec_ok(f, m.b, m.n);
    assert_int_equal(f->msg.u.stream_abort.xid, 700);
    assert_int_equal(f->msg.u.stream_abort.subxid, 702);
    assert_false(f->msg.u.stream_abort.has_abort_info);

    mb_start(&m, 'c');
    u32(&m, 700);
    u8(&m, 0);
    u64(&m, 1000);
    u64(&m, 1100);
    u64(&m, 12345);
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.has_xid);
    assert_int_equal(f->msg.xid, 700);
    assert_true(f->msg.u.commit.commit_lsn == 1000);
    assert_true(f->msg.u.commit.end_lsn == 1100);
    assert_true(f->msg.u.commit.commit_time == 12345);
    fx_free(f);
}

static void test_version_gates(void **state)
{
    (void)state;
    fx *f = fx_new(1, false);
    mb m;
    mb_start(&m, 'S');
    u32(&m, 1);
    u8(&m, 1);
    dec_bad(f, &m, "needs protocol version 2");
    assert_false(tb_pgo_in_stream(f->d));
    mb_start(&m, 'E');
    dec_bad(f, &m, "needs protocol version 2");
    fx_free(f);
    f = fx_new(2, false);
    mb_start(&m, 'b');
    u64(&m, 1), u64(&m, 2), u64(&m, 3), u32(&m, 4), str(&m, "g");
    dec_bad(f, &m, "Begin Prepare message: type 'b' needs protocol version 3");
    mb_start(&m, 'Z');
    dec_bad(f, &m, "unknown message type 0x5a at offset 0");
    assert_int_equal(dec_copy(f, m.b, 0, NULL), -1);
    assert_int_equal(f->err.code, TB_ERR_DECODE);
    fx_free(f);
}

static void test_two_phase(void **state)
{
    (void)state;
    fx *f = fx_new(3, false);
    mb m;
    mb_start(&m, 'b');
    u64(&m, 10), u64(&m, 20), u64(&m, 30), u32(&m, 40), str(&m, "gid-1");
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.u.prepare.lsn == 10);
    assert_true(f->msg.u.prepare.end_lsn == 20);
    assert_true(f->msg.u.prepare.time == 30);
    assert_int_equal(f->msg.u.prepare.xid, 40);
    assert_string_equal(f->msg.u.prepare.gid, "gid-1");

    static const char flagged[] = "PKp";
    for (const char *t = flagged; *t; t++) {
        mb_start(&m, *t);
        u8(&m, 0), u64(&m, 11), u64(&m, 21), u64(&m, 31), u32(&m, 41);
        str(&m, "gid-2");
        dec_ok(f, m.b, m.n);
        assert_true(f->msg.u.prepare.lsn == 11);
        assert_true(f->msg.u.prepare.end_lsn == 21);
        assert_true(f->msg.u.prepare.time == 31);
        assert_int_equal(f->msg.u.prepare.xid, 41);
        assert_string_equal(f->msg.u.prepare.gid, "gid-2");
    }

    mb_start(&m, 'r');
    u8(&m, 0), u64(&m, 12), u64(&m, 22), u64(&m, 32), u64(&m, 33);
    u32(&m, 42), str(&m, "gid-3");
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.u.prepare.lsn == 12);
    assert_true(f->msg.u.prepare.end_lsn == 22);
    assert_true(f->msg.u.prepare.time == 32);
    assert_true(f->msg.u.prepare.rollback_time == 33);
    assert_int_equal(f->msg.u.prepare.xid, 42);
    assert_string_equal(f->msg.u.prepare.gid, "gid-3");
    fx_free(f);
}

static void test_parallel_abort(void **state)
{
    (void)state;
    fx *f = fx_new(4, true);
    mb m;
    mb_start(&m, 'A');
    u32(&m, 800), u32(&m, 801), u64(&m, 0x5000), u64(&m, 99);
    dec_ok(f, m.b, m.n);
    assert_true(f->msg.u.stream_abort.has_abort_info);
    assert_int_equal(f->msg.u.stream_abort.subxid, 801);
    assert_true(f->msg.u.stream_abort.abort_lsn == 0x5000);
    assert_true(f->msg.u.stream_abort.abort_time == 99);
    fx_free(f);
    /* Protocol 4 without parallel streaming: the short form. */
    f = fx_new(4, false);
    mb_start(&m, 'A');
    u32(&m, 800), u32(&m, 801);
    dec_ok(f, m.b, m.n);
    assert_false(f->msg.u.stream_abort.has_abort_info);
    fx_free(f);
}

static void test_render(void **state)
{
    (void)state;
    fx *f = fx_new(2, false);
    tb_buf out = TB_BUF_INIT;
    mb m;
    build_rel(&m, false, 0);
    dec_ok(f, m.b, m.n);
    assert_int_equal(tb_pgo_render(&f->msg, &out), 0);
    assert_string_equal((char *)out.data,
                        "Relation id=16384 public.t replident=d "
                        "cols=[id:23:-1:key name:1043:44 big:25:-1 raw:17:-1]");
    mb_start(&m, 'U');
    u32(&m, 16384);
    u8(&m, 'K');
    tuple4(&m, "a\"\n");
    u8(&m, 'N');
    tuple4(&m, "b");
    dec_ok(f, m.b, m.n);
    tb_buf_reset(&out);
    assert_int_equal(tb_pgo_render(&f->msg, &out), 0);
    assert_string_equal((char *)out.data,
                        "Update public.t key[id=\"a\\\"\\x0a\" name=null "
                        "big=unchanged-toast raw=b'00ff10'] new[id=\"b\" "
                        "name=null big=unchanged-toast raw=b'00ff10']");
    mb_start(&m, 'B');
    u64(&m, UINT64_C(0x100000002)), u64(&m, 0), u32(&m, 5);
    dec_ok(f, m.b, m.n);
    tb_buf_reset(&out);
    assert_int_equal(tb_pgo_render(&f->msg, &out), 0);
    assert_string_equal((char *)out.data,
                        "Begin final_lsn=1/2 "
                        "commit_time=2000-01-01T00:00:00.000000Z txid=5");
    tb_buf_free(&out);
    fx_free(f);
}

/* ---- golden captures from a real server ------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void golden(const char *name)
{
    const char *dir = getenv("TB_PGO_GOLDEN_DIR");
    bool update = getenv("TB_PGO_GOLDEN_UPDATE") != NULL;
    char path[512];
    size_t hexlen, explen = 0;
    char *hex, *line, *save = NULL, *expected;
    tb_buf got = TB_BUF_INIT;
    fx *f = NULL;
    int nmsg = 0;

    if (!dir) dir = "tests/data/pgoutput";
    snprintf(path, sizeof path, "%s/%s.hex", dir, name);
    hex = slurp(path, &hexlen);
    if (!hex) fail_msg("cannot read %s (run from the repository root)", path);

    for (line = strtok_r(hex, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        uint8_t *msg;
        if (line[0] == '#') {
            int proto;
            assert_int_equal(sscanf(line, "#proto %d", &proto), 1);
            assert_null(f);
            f = fx_new(proto, false);
            continue;
        }
        assert_non_null(f);
        assert_int_equal(n % 2, 0);
        msg = malloc(n / 2);
        assert_non_null(msg);
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
            assert_true(hi >= 0 && lo >= 0);
            msg[i] = (uint8_t)(hi << 4 | lo);
        }
        /* Byte at a time: each prefix fails cleanly, the whole decodes. */
        dec_ok(f, msg, n / 2);
        assert_int_equal(tb_pgo_render(&f->msg, &got), 0);
        assert_int_equal(tb_buf_puts(&got, "\n"), 0);
        free(msg);
        tb_arena_reset(&f->arena);
        nmsg++;
    }
    assert_true(nmsg > 0);
    assert_false(tb_pgo_in_stream(f->d));

    snprintf(path, sizeof path, "%s/%s.out", dir, name);
    if (update) {
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(got.data, 1, got.len, fp), got.len);
        fclose(fp);
    }
    expected = slurp(path, &explen);
    if (!expected) fail_msg("cannot read %s", path);
    if (explen != got.len || memcmp(expected, got.data, got.len) != 0) {
        /* Point at the first differing line. */
        size_t i = 0, lineno = 1;
        while (i < explen && i < got.len && expected[i] == (char)got.data[i])
            if (expected[i++] == '\n') lineno++;
        fail_msg("%s: rendering differs from %s at line %zu", name, path,
                 lineno);
    }
    free(expected);
    free(hex);
    tb_buf_free(&got);
    fx_free(f);
}

static void test_golden_basic(void **state)
{
    (void)state;
    golden("basic");
}

static void test_golden_basic_binary(void **state)
{
    (void)state;
    golden("basic_binary");
}

static void test_golden_stream(void **state)
{
    (void)state;
    golden("stream");
}

static void test_golden_twophase(void **state)
{
    (void)state;
    golden("twophase");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_options),
        cmocka_unit_test(test_begin_commit_origin),
        cmocka_unit_test(test_relation_and_changes),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_relation_replaced),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_version_gates),
        cmocka_unit_test(test_two_phase),
        cmocka_unit_test(test_parallel_abort),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_golden_basic),
        cmocka_unit_test(test_golden_basic_binary),
        cmocka_unit_test(test_golden_stream),
        cmocka_unit_test(test_golden_twophase),
    };
    return cmocka_run_group_tests_name("pgoutput", tests, NULL, NULL);
}
