/*
 * pg_stream.c - START_REPLICATION, pgoutput messages -> tb_change,
 * keepalives and standby status updates, and streamed (protocol 2)
 * transactions spilled to local disk until their Stream Commit.
 *
 * Flow control follows pg_recvlogical: the flush position we report is the
 * position the target committed (acked_lsn), never what we merely received.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_source_int.h"
#include "pg_sql.h"
#include "pg_types.h"
#include "pgwire.h"
#include "tb_log.h"
#include "tb_registry.h"

#define STATUS_INTERVAL_US (10 * 1000000LL) /* routine status update */
#define PING_INTERVAL_US   (200 * 1000LL)   /* ask for a keepalive when idle */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int tb_pgsrc_send_status(tb_source *s, bool reply, tb_error *err)
{
    uint8_t msg[TB_PGWIRE_STATUS_LEN];
    int64_t now = now_us();
    /* written = received (we have it in memory), flushed = applied = what
     * the target committed: the server keeps WAL from there on. */
    uint64_t written =
        s->received_lsn > s->acked_lsn ? s->received_lsn : s->acked_lsn;
    if (tb_pgwire_build_status(msg, sizeof msg, written, s->acked_lsn,
                               s->acked_lsn, tb_pgwire_unix_to_pg_us(now),
                               reply, err) < 0)
        return -1;
    if (PQputCopyData(s->repl, (const char *)msg, sizeof msg) <= 0 ||
        PQflush(s->repl) < 0) {
        tb_error_set(err, TB_ERR_SOURCE, "sending status to the source: %s",
                     tb_pgconn_error(s->repl));
        return tb_error_retriable(err);
    }
    s->last_status_us = now;
    if (reply) s->last_ping_us = now;
    return 0;
}

int tb_pgsrc_stream_start(tb_source *s, tb_error *err)
{
    tb_buf q = TB_BUF_INIT;
    char lsn[32], pubs[300];
    tb_pgsrc_lsn_text(s->start_lsn, lsn, sizeof lsn);
    tb_buf_puts(&q, "START_REPLICATION SLOT ");
    tb_pgsql_ident(&q, s->cfg->source.slot);
    tb_buf_printf(&q, " LOGICAL %s (proto_version '%d', publication_names ",
                  lsn, s->proto);
    tb_buf b = TB_BUF_INIT;
    tb_pgsql_ident(&b, s->cfg->source.publication);
    snprintf(pubs, sizeof pubs, "%s", (char *)b.data);
    tb_buf_free(&b);
    tb_pgsql_literal(&q, pubs);
    if (s->proto >= 2) tb_buf_puts(&q, ", streaming 'on'");
    tb_buf_puts(&q, ")");
    PGresult *r = PQexec(s->repl, (char *)q.data);
    tb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        tb_error_set(err, TB_ERR_SOURCE, "START_REPLICATION at %s failed: %s",
                     lsn, tb_pgconn_error(s->repl));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (PQsetnonblocking(s->repl, 1) < 0)
        return tb_error_set(err, TB_ERR_SOURCE, "cannot set non-blocking");
    s->streaming = true;
    s->last_recv_us = now_us();
    tb_log_info("streaming from slot %s at %s (pgoutput protocol %d)",
                s->cfg->source.slot, lsn, s->proto);
    return 0;
}

/* ---- tuples -> values ---------------------------------------------------- */

static int convert_tuple(tb_source *s, const tb_table *t,
                         const tb_pgo_tuple *tp, tb_value *out, tb_error *err)
{
    if (tp->ncols != t->ncols)
        return tb_error_set(err, TB_ERR_DECODE,
                            "table %s.%s: tuple has %d columns, shape has %d",
                            t->schema, t->name, tp->ncols, t->ncols);
    for (int i = 0; i < t->ncols; i++) {
        const tb_pgo_datum *d = &tp->cols[i];
        switch (d->kind) {
        case 'n':
            out[i].state = TB_VALUE_NULL;
            break;
        case 'u':
            out[i].state = TB_VALUE_UNCHANGED;
            break;
        case 't':
            if (tb_pgtype_parse_text(&t->cols[i], (const char *)d->data, d->len,
                                     &out[i], &s->arena, err) < 0)
                return tb_error_prefix(err, "%s.%s column %s at %s", t->schema,
                                       t->name, t->cols[i].name, s->pos_text);
            break;
        default:
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "%s.%s column %s: binary tuple data is not "
                                "requested and not supported",
                                t->schema, t->name, t->cols[i].name);
        }
    }
    return 0;
}

/* In a key-only old tuple ('K') pgoutput sends the other columns as nulls:
 * they were not sent, which is not the same as NULL. */
static void mark_key_only(const tb_table *t, tb_value *before)
{
    for (int i = 0; i < t->ncols; i++)
        if (!t->cols[i].key && before[i].state == TB_VALUE_NULL)
            before[i].state = TB_VALUE_UNCHANGED;
}

static void fill_source(const tb_source *s, tb_change *c)
{
    c->source.connector = "postgresql";
    c->source.name = s->cfg->name;
    c->source.db = s->dbname;
    c->source.position = s->pos_text;
    c->source.txid = s->xid;
    c->source.commit_us = s->commit_us;
    c->source.snapshot = false;
    c->ts_ms = now_us() / 1000;
}

static int emit_change(tb_source *s, const tb_emit *emit, const tb_pgo_msg *m,
                       tb_error *err)
{
    pg_rel *rel = tb_pgsrc_rel_find(s, m->u.change.rel->id);
    if (!rel || !rel->wanted || !rel->table) return 0;
    /* The table's copy came from a later snapshot and holds this. */
    if (s->nskips && s->final_lsn < tb_pgsrc_skip_lsn(s, rel->relid)) return 0;
    if (tb_pgsrc_announce(s, rel, emit, err) < 0) return -1;
    const tb_table *t = rel->table;
    if (tb_rowbuf_reserve(&s->row, t->ncols) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0)
        return -1;
    tb_change c;
    memset(&c, 0, sizeof c);
    c.table = t;
    fill_source(s, &c);
    const tb_pgo_tuple *oldt = &m->u.change.old, *newt = &m->u.change.new;
    if (m->type == TB_PGO_INSERT) {
        c.op = TB_OP_CREATE;
        if (convert_tuple(s, t, newt, s->row.after, err) < 0) return -1;
        c.after = s->row.after;
    } else if (m->type == TB_PGO_UPDATE) {
        c.op = TB_OP_UPDATE;
        if (convert_tuple(s, t, newt, s->row.after, err) < 0) return -1;
        c.after = s->row.after;
        if (m->u.change.old_kind) {
            if (convert_tuple(s, t, oldt, s->row.before, err) < 0) return -1;
            if (m->u.change.old_kind == 'K') mark_key_only(t, s->row.before);
            c.before = s->row.before;
        }
    } else {
        c.op = TB_OP_DELETE;
        if (convert_tuple(s, t, oldt, s->row.before, err) < 0) return -1;
        if (m->u.change.old_kind == 'K') mark_key_only(t, s->row.before);
        c.before = s->row.before;
    }
    return emit->change(emit->ctx, &c, err);
}

static int emit_truncate(tb_source *s, const tb_emit *emit, const tb_pgo_msg *m,
                         tb_error *err)
{
    for (int i = 0; i < m->u.truncate.nrels; i++) {
        pg_rel *rel = tb_pgsrc_rel_find(s, m->u.truncate.rels[i]->id);
        if (!rel || !rel->wanted || !rel->table) continue;
        if (s->nskips && s->final_lsn < tb_pgsrc_skip_lsn(s, rel->relid))
            continue;
        if (tb_pgsrc_announce(s, rel, emit, err) < 0) return -1;
        tb_change c;
        memset(&c, 0, sizeof c);
        c.op = TB_OP_TRUNCATE;
        c.table = rel->table;
        fill_source(s, &c);
        if (emit->change(emit->ctx, &c, err) < 0) return -1;
    }
    return 0;
}

static int tx_begin(tb_source *s, const tb_emit *emit, uint32_t xid,
                    uint64_t commit_lsn, int64_t commit_pg_us, tb_error *err)
{
    s->in_tx = true;
    s->xid = xid;
    s->final_lsn = commit_lsn;
    s->commit_us = tb_pgwire_pg_to_unix_us(commit_pg_us);
    tb_pgsrc_lsn_text(commit_lsn, s->pos_text, sizeof s->pos_text);
    /* The target stored the end of the last transaction it applied; a
     * transaction whose commit record starts before it is already there. */
    s->skip_tx = commit_lsn < s->resume_lsn;
    if (s->skip_tx) return 0;
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = xid;
    tx.commit_us = s->commit_us;
    return emit->begin(emit->ctx, &tx, err);
}

static int tx_commit(tb_source *s, const tb_emit *emit, uint64_t end_lsn,
                     tb_error *err)
{
    bool skip = s->skip_tx;
    s->in_tx = false;
    s->skip_tx = false;
    if (skip) return 0;
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tb_pgsrc_lsn_text(end_lsn, tx.end.text, sizeof tx.end.text);
    tx.txid = s->xid;
    tx.commit_us = s->commit_us;
    return emit->commit(emit->ctx, &tx, err);
}

/* ---- streamed transactions --------------------------------------------- */

static pg_stream_tx *stream_find(tb_source *s, uint32_t xid)
{
    for (int i = 0; i < s->nstreams; i++)
        if (s->streams[i].xid == xid) return &s->streams[i];
    return NULL;
}

static void stream_drop(tb_source *s, pg_stream_tx *st)
{
    if (st->f) fclose(st->f);
    if (st->path) unlink(st->path);
    free(st->path);
    free(st->aborted);
    int i = (int)(st - s->streams);
    s->streams[i] = s->streams[--s->nstreams];
    if (s->cur_stream == st) s->cur_stream = NULL;
}

void tb_pgsrc_streams_free(tb_source *s)
{
    s->spec_xid = 0;
    while (s->nstreams)
        stream_drop(s, &s->streams[0]);
    free(s->streams);
    s->streams = NULL;
    s->capstreams = 0;
}

static int stream_open(tb_source *s, uint32_t xid, tb_error *err)
{
    pg_stream_tx *st = stream_find(s, xid);
    if (st) {
        s->cur_stream = st;
        return 0;
    }
    if (s->nstreams == s->capstreams) {
        int cap = s->capstreams ? s->capstreams * 2 : 4;
        pg_stream_tx *n = realloc(s->streams, (size_t)cap * sizeof *n);
        if (!n) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        s->streams = n;
        s->capstreams = cap;
    }
    st = &s->streams[s->nstreams];
    memset(st, 0, sizeof *st);
    st->xid = xid;
    if (tb_store_mkdirs(s->cfg->batch.spill_dir, err) < 0) return -1;
    if (asprintf(&st->path, "%s/%s-%u.spill", s->cfg->batch.spill_dir,
                 s->cfg->source.slot, xid) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    st->f = fopen(st->path, "w+b");
    if (!st->f) {
        tb_error_set(err, TB_ERR_IO, "cannot create spill file %s: %s",
                     st->path, strerror(errno));
        free(st->path);
        return -1;
    }
    s->nstreams++;
    s->cur_stream = st;
    return 0;
}

/* Spill one in-stream change message without its xid prefix, so it decodes
 * later as an ordinary message. */
static int stream_spill(tb_source *s, const uint8_t *msg, size_t len,
                        uint32_t subxid, tb_error *err)
{
    pg_stream_tx *st = s->cur_stream;
    uint32_t hdr[2] = {subxid, (uint32_t)(len - 4)};
    if (fwrite(hdr, sizeof hdr, 1, st->f) != 1 ||
        fwrite(msg, 1, 1, st->f) != 1 ||
        fwrite(msg + 5, 1, len - 5, st->f) != len - 5)
        return tb_error_set(err, TB_ERR_IO, "writing spill file %s: %s",
                            st->path, strerror(errno));
    return 0;
}

static bool stream_aborted(const pg_stream_tx *st, uint32_t subxid)
{
    for (int i = 0; i < st->naborted; i++)
        if (st->aborted[i] == subxid) return true;
    return false;
}

static int handle_plain(tb_source *s, const tb_emit *emit, const tb_pgo_msg *m,
                        tb_error *err);

/*
 * Tentative apply: the first segment of a streamed transaction that is the
 * only one in progress begins a tentative transaction in the core, and its
 * changes are applied as they arrive (they are spilled too). Its Stream
 * Commit commits it; anything that could put another transaction's commit
 * before it (a plain transaction, another stream) or take part of it back
 * (Stream Abort, also of a subtransaction) voids it, and the spill file
 * replays it at its commit as before. Not with per-table skip rules: they
 * need the commit LSN up front.
 */
static int spec_begin(tb_source *s, const tb_emit *emit, uint32_t xid,
                      tb_error *err)
{
    if (!emit->abort || s->nskips || s->in_tx || s->nstreams != 1) return 0;
    tb_log_debug("streamed xid %u: applying it while it arrives", xid);
    s->spec_xid = xid;
    s->in_tx = true;
    s->skip_tx = false;
    s->xid = xid;
    s->final_lsn = 0;
    s->commit_us = 0;
    /* Events carry where the transaction stood; its commit is unknown. */
    tb_pgsrc_lsn_text(s->received_lsn, s->pos_text, sizeof s->pos_text);
    tb_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.txid = xid;
    tx.tentative = true;
    return emit->begin(emit->ctx, &tx, err);
}

static int spec_abort(tb_source *s, const tb_emit *emit, tb_error *err)
{
    if (!s->spec_xid) return 0;
    tb_log_debug("streamed xid %u: tentative apply voided; applied from the "
                 "spill file at its commit",
                 s->spec_xid);
    s->spec_xid = 0;
    s->in_tx = false;
    return emit->abort(emit->ctx, err);
}

/* Stream Commit: replay the spilled changes as one transaction. */
static int stream_commit(tb_source *s, const tb_emit *emit, const tb_pgo_msg *m,
                         tb_error *err)
{
    pg_stream_tx *st = stream_find(s, m->xid);
    int rc = -1;
    if (s->spec_xid && s->spec_xid == m->xid) {
        /* Applied while it arrived: commit it. */
        s->spec_xid = 0;
        if (m->u.commit.commit_lsn < s->resume_lsn) {
            /* Already in the target (cannot happen: the server streams
             * only past the start point); void the second copy. */
            s->in_tx = false;
            rc = emit->abort(emit->ctx, err);
        } else {
            s->final_lsn = m->u.commit.commit_lsn;
            s->commit_us = tb_pgwire_pg_to_unix_us(m->u.commit.commit_time);
            rc = tx_commit(s, emit, m->u.commit.end_lsn, err);
        }
        if (st) stream_drop(s, st);
        return rc;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (tx_begin(s, emit, m->xid, m->u.commit.commit_lsn,
                 m->u.commit.commit_time, err) < 0)
        return -1;
    if (st && !s->skip_tx) {
        if (fflush(st->f) != 0 || fseek(st->f, 0, SEEK_SET) != 0) {
            tb_error_set(err, TB_ERR_IO, "reading spill file %s: %s", st->path,
                         strerror(errno));
            goto out;
        }
        uint32_t hdr[2];
        while (fread(hdr, sizeof hdr, 1, st->f) == 1) {
            if (hdr[1] > cap) {
                cap = hdr[1] * 2;
                uint8_t *n = realloc(buf, cap);
                if (!n) {
                    tb_error_set(err, TB_ERR_NOMEM, "out of memory");
                    goto out;
                }
                buf = n;
            }
            if (fread(buf, 1, hdr[1], st->f) != hdr[1]) {
                tb_error_set(err, TB_ERR_IO, "spill file %s is truncated",
                             st->path);
                goto out;
            }
            if (stream_aborted(st, hdr[0])) continue;
            tb_pgo_msg cm;
            if (tb_pgo_decode(s->dec, buf, hdr[1], &cm, &s->arena, err) < 0 ||
                handle_plain(s, emit, &cm, err) < 0)
                goto out;
            tb_arena_reset(&s->arena);
        }
    }
    rc = tx_commit(s, emit, m->u.commit.end_lsn, err);
out:
    free(buf);
    if (st) stream_drop(s, st);
    return rc;
}

/* ---- messages ----------------------------------------------------------- */

/* Messages outside a stream (or replayed from a spill file). */
static int handle_plain(tb_source *s, const tb_emit *emit, const tb_pgo_msg *m,
                        tb_error *err)
{
    pg_rel *rel;
    switch (m->type) {
    case TB_PGO_BEGIN:
        /* This one commits before the tentative one. */
        if (spec_abort(s, emit, err) < 0) return -1;
        return tx_begin(s, emit, m->u.begin.xid, m->u.begin.final_lsn,
                        m->u.begin.commit_time, err);
    case TB_PGO_COMMIT:
        return tx_commit(s, emit, m->u.commit.end_lsn, err);
    case TB_PGO_RELATION:
        return tb_pgsrc_relation(s, m->u.relation.rel, &rel, err);
    case TB_PGO_INSERT:
    case TB_PGO_UPDATE:
    case TB_PGO_DELETE:
        return s->skip_tx ? 0 : emit_change(s, emit, m, err);
    case TB_PGO_TRUNCATE:
        return s->skip_tx ? 0 : emit_truncate(s, emit, m, err);
    case TB_PGO_TYPE:
    case TB_PGO_ORIGIN:
    case TB_PGO_MESSAGE:
        return 0;
    default:
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "unexpected pgoutput message %s",
                            tb_pgo_type_name(m->type));
    }
}

static int handle_xlog(tb_source *s, const tb_emit *emit, const uint8_t *data,
                       size_t len, tb_error *err)
{
    if (len == 0) return 0;
    /* Changes inside a stream are spilled without decoding their tuples. */
    if (s->cur_stream && (data[0] == 'I' || data[0] == 'U' || data[0] == 'D' ||
                          data[0] == 'T')) {
        if (len < 5)
            return tb_error_set(err, TB_ERR_DECODE,
                                "streamed %c message of %zu bytes", data[0],
                                len);
        uint32_t subxid = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
                          (uint32_t)data[3] << 8 | data[4];
        if (stream_spill(s, data, len, subxid, err) < 0) return -1;
        if (!s->spec_xid || s->cur_stream->xid != s->spec_xid) return 0;
        /* A TRUNCATE would lock the target table until the source
         * transaction ends: applied at its commit instead. */
        if (data[0] == 'T') return spec_abort(s, emit, err);
        tb_pgo_msg cm;
        if (tb_pgo_decode(s->dec, data, len, &cm, &s->arena, err) < 0)
            return -1;
        return handle_plain(s, emit, &cm, err);
    }
    tb_pgo_msg m;
    if (tb_pgo_decode(s->dec, data, len, &m, &s->arena, err) < 0) return -1;
    if (m.type != TB_PGO_INSERT && m.type != TB_PGO_UPDATE &&
        m.type != TB_PGO_DELETE)
        TB_LOG(TB_LOG_TRACE, "pgoutput %s xid=%u", tb_pgo_type_name(m.type),
               m.xid);
    switch (m.type) {
    case TB_PGO_STREAM_START:
        /* Another transaction in progress may commit first. */
        if (s->spec_xid && s->spec_xid != m.u.stream_start.xid &&
            spec_abort(s, emit, err) < 0)
            return -1;
        if (stream_open(s, m.u.stream_start.xid, err) < 0) return -1;
        return m.u.stream_start.first && !s->spec_xid
                   ? spec_begin(s, emit, m.u.stream_start.xid, err)
                   : 0;
    case TB_PGO_STREAM_STOP:
        s->cur_stream = NULL;
        return 0;
    case TB_PGO_STREAM_COMMIT:
        return stream_commit(s, emit, &m, err);
    case TB_PGO_STREAM_ABORT: {
        if (s->spec_xid == m.u.stream_abort.xid && spec_abort(s, emit, err) < 0)
            return -1;
        pg_stream_tx *st = stream_find(s, m.u.stream_abort.xid);
        if (!st) return 0;
        if (m.u.stream_abort.subxid == m.u.stream_abort.xid) {
            stream_drop(s, st);
            return 0;
        }
        if (st->naborted == st->capaborted) {
            int cap = st->capaborted ? st->capaborted * 2 : 8;
            uint32_t *n = realloc(st->aborted, (size_t)cap * sizeof *n);
            if (!n) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            st->aborted = n;
            st->capaborted = cap;
        }
        st->aborted[st->naborted++] = m.u.stream_abort.subxid;
        return 0;
    }
    case TB_PGO_RELATION:
    case TB_PGO_TYPE:
    case TB_PGO_MESSAGE:
        if (s->cur_stream) {
            /* A shape inside a stream updates the cache now; the spilled
             * rows that follow it use it when replayed. */
            if (m.type != TB_PGO_RELATION) return 0;
            pg_rel *rel = tb_pgsrc_rel_find(s, m.u.relation.rel->id);
            const tb_table *before = rel ? rel->table : NULL;
            if (tb_pgsrc_relation(s, m.u.relation.rel, &rel, err) < 0)
                return -1;
            /* A new shape may yet be rolled back: it must not reach the
             * registry (or the target's DDL) before its commit. */
            if (s->cur_stream->xid == s->spec_xid && rel && rel->wanted &&
                rel->table != before)
                return spec_abort(s, emit, err);
            return 0;
        }
        return handle_plain(s, emit, &m, err);
    default:
        return handle_plain(s, emit, &m, err);
    }
}

int tb_pgsrc_stream_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                         tb_error *err)
{
    int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
    int burst = 0;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(s->repl, &buf, 1);
        if (n > 0) {
            tb_pgwire_msg w;
            int rc = tb_pgwire_parse((const uint8_t *)buf, (size_t)n, &w, err);
            if (rc == 0 && w.kind == TB_PGWIRE_XLOGDATA) {
                if (w.u.xlog.wal_start > s->received_lsn)
                    s->received_lsn = w.u.xlog.wal_start;
                rc = handle_xlog(s, emit, w.u.xlog.data, w.u.xlog.len, err);
            } else if (rc == 0) {
                if (w.u.keepalive.wal_end > s->received_lsn)
                    s->received_lsn = w.u.keepalive.wal_end;
                if (w.u.keepalive.reply_requested)
                    rc = tb_pgsrc_send_status(s, false, err);
                /* Between transactions everything up to the server's sent
                 * position has reached us: let the core move past it (it
                 * stores and confirms only what the target committed). */
                if (rc == 0 && !s->in_tx && s->nstreams == 0) {
                    tb_position p;
                    tb_pgsrc_lsn_text(w.u.keepalive.wal_end, p.text,
                                      sizeof p.text);
                    rc = emit->progress(emit->ctx, &p, err);
                }
            }
            PQfreemem(buf);
            tb_arena_reset(&s->arena);
            if (rc < 0) return -1;
            /* Drain what has arrived in large runs: reading the clock per
             * message would cost more than decoding it. */
            if (++burst < 4096) continue;
            burst = 0;
            s->last_recv_us = now_us();
            if (s->last_recv_us >= deadline) return 0;
            continue;
        }
        if (n == -1) {
            PGresult *r = PQgetResult(s->repl);
            tb_error_set(err, TB_ERR_SOURCE,
                         "the source ended the replication stream: %s",
                         tb_pgconn_error(s->repl));
            PQclear(r);
            return tb_error_retriable(err);
        }
        if (n == -2) {
            tb_error_set(err, TB_ERR_SOURCE, "replication stream failed: %s",
                         tb_pgconn_error(s->repl));
            return tb_error_retriable(err);
        }
        int64_t now = now_us();
        if (burst) s->last_recv_us = now;
        burst = 0;
        if (now - s->last_status_us >= STATUS_INTERVAL_US &&
            tb_pgsrc_send_status(s, false, err) < 0)
            return -1;
        /* Idle: ask for a keepalive so progress (and --once) moves on. */
        if (!s->in_tx && now - s->last_recv_us >= PING_INTERVAL_US &&
            now - s->last_ping_us >= PING_INTERVAL_US &&
            tb_pgsrc_send_status(s, true, err) < 0)
            return -1;
        if (now >= deadline) return 0;
        struct pollfd pfd = {PQsocket(s->repl), POLLIN, 0};
        int wait_ms = (int)((deadline - now + 999) / 1000);
        if (wait_ms > 100) wait_ms = 100;
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            return tb_error_set(err, TB_ERR_SOURCE, "poll: %s",
                                strerror(errno));
        if (PQconsumeInput(s->repl) == 0) {
            tb_error_set(err, TB_ERR_SOURCE, "reading from the source: %s",
                         tb_pgconn_error(s->repl));
            return tb_error_retriable(err);
        }
    }
}
