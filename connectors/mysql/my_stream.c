/*
 * my_stream.c - read the binary log as a replica and turn row events into
 * changes.
 *
 * On MariaDB the dump runs through MariaDB Connector/C's mariadb_rpl API;
 * only its framing is used: every event is decoded from its raw bytes by
 * binlog.h (mariadb_rpl_extract_rows() is broken, and binlog.h verifies
 * CRC32 checksums). On Oracle MySQL it runs through my_dump.c, which can
 * also start by GTID set (COM_BINLOG_DUMP_GTID); TB_MYSQL_RAW_DUMP=1 makes
 * MariaDB use it too, so its tests run against a real server. Oracle
 * MySQL's executed GTID set is grown at every GTID group's end and carried
 * in the position. An event group (GTID ... XID/COMMIT, or a standalone DDL
 * group) becomes one source transaction; begin is emitted lazily at the
 * group's first change or shape, so groups touching no replicated table
 * cost one progress() and no empty target transaction.
 *
 * Reconnects: a dropped connection restarts the dump at the last group
 * boundary. When the group being read had already emitted changes, the
 * replay of that group skips exactly as many changes (the binlog is
 * immutable), so the core sees one uninterrupted transaction.
 */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "my_dump.h"
#include "my_source_int.h"
#include "tb_log.h"

#define HEARTBEAT_NS                                                           \
    "100000000" /* 0.1 s: tells quiet from dead, and                           \
                    bounds how long a poll that has                            \
                    nothing left waits */
#define RECONNECT_TRIES 8

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tb_mysrc_stream_stop(tb_source *s)
{
    if (s->ev) {
        mariadb_free_rpl_event(s->ev);
        s->ev = NULL;
    }
    if (s->rpl) {
        mariadb_rpl_close(s->rpl);
        s->rpl = NULL;
    }
    if (s->repl) {
        mysql_close(s->repl);
        s->repl = NULL;
    }
    s->streaming = false;
}

/* The one place the dump path is chosen: Oracle MySQL always takes the
 * raw loop (mariadb_rpl cannot start by GTID set); TB_MYSQL_RAW_DUMP=1 is
 * a test hook that makes MariaDB take it too. */
static bool use_raw_dump(const tb_source *s)
{
    const char *env = getenv("TB_MYSQL_RAW_DUMP");
    return !s->mariadb || (env && strcmp(env, "1") == 0);
}

/* Oracle MySQL: load the executed set of the start position into s->gtids
 * (the set the stream grows) and give the start its canonical text. */
static int load_gtids(tb_source *s, tb_error *err)
{
    tb_mygtidset_free(&s->gtids);
    if (s->mariadb || s->gtids_dropped) return 0;
    if (tb_mygtidset_parse(&s->gtids, s->start.mysql_gtids, err) < 0)
        return tb_error_prefix(err, "start position");
    if (tb_mygtidset_format(&s->gtids, s->start.mysql_gtids,
                            sizeof s->start.mysql_gtids) >=
        sizeof s->start.mysql_gtids)
        s->start.mysql_gtids[0] = '\0'; /* cannot happen: it was shorter */
    return 0;
}

/* Send the dump command through mariadb_rpl (COM_BINLOG_DUMP). */
static int open_rpl(tb_source *s, bool by_gtid, tb_error *err)
{
    s->rpl = mariadb_rpl_init(s->repl);
    if (!s->rpl)
        return tb_error_set(err, TB_ERR_SOURCE, "mariadb_rpl_init failed: %s",
                            mysql_error(s->repl));
    const char *file = by_gtid ? "" : s->start.file;
    unsigned long pos = by_gtid || !s->start.pos ? 4 : s->start.pos;
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_SERVER_ID,
                         (unsigned int)s->cfg->source.server_id);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FILENAME, file, strlen(file));
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_START, pos);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FLAGS, 0u);
    if (mariadb_rpl_open(s->rpl) != 0)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "starting the binlog dump failed: %s (error %u)",
                            mysql_error(s->repl), mysql_errno(s->repl));
    return 0;
}

/* Send the dump command ourselves (my_dump.c): COM_BINLOG_DUMP_GTID with
 * the executed set on Oracle MySQL, else COM_BINLOG_DUMP (MariaDB's GTID
 * start is the session's @slave_connect_state and an empty file name). */
static int open_raw(tb_source *s, bool by_gtid, bool by_mysql_gtid,
                    tb_error *err)
{
    tb_mydump_req req = {(uint32_t)s->cfg->source.server_id, "", 4, NULL};
    if (by_mysql_gtid) {
        req.gtids = &s->gtids;
    } else if (!by_gtid) {
        req.file = s->start.file;
        req.pos = s->start.pos ? s->start.pos : 4;
    }
    return tb_mydump_start(s->repl, &req, err);
}

int tb_mysrc_stream_start(tb_source *s, tb_error *err)
{
    char sql[TB_POSITION_MAX + 64];
    bool by_gtid = s->mariadb && s->start.ngtids > 0;
    s->raw_dump = use_raw_dump(s);
    if (load_gtids(s, err) < 0) return -1;
    bool by_mysql_gtid = !s->mariadb && s->gtids.nsids > 0;
    s->repl = tb_mysrc_connect(&s->uri, s->cfg->source.password,
                               "source (replication)", err);
    if (!s->repl) return -1;
    /* Without these the server sends no checksums our FDE parsing expects
     * and MariaDB falls back to MySQL-compatible events (no GTIDs, error
     * 1236 after the first ROTATE). */
    if (tb_mysrc_exec(s->repl,
                      "SET @master_binlog_checksum = @@global.binlog_checksum",
                      "announcing checksum support", err) < 0 ||
        (s->mariadb &&
         tb_mysrc_exec(s->repl, "SET @mariadb_slave_capability = 4",
                       "announcing MariaDB replica capability", err) < 0) ||
        tb_mysrc_exec(s->repl, "SET @master_heartbeat_period = " HEARTBEAT_NS,
                      "setting the heartbeat period", err) < 0)
        goto fail;
    if (by_gtid) {
        tb_position p;
        my_pos g = s->start;
        g.file[0] = '\0';
        g.mysql_gtids[0] = '\0';
        tb_mysrc_pos_format(&g, &p);
        snprintf(sql, sizeof sql, "SET @slave_connect_state = '%s'",
                 p.text + 5 /* after "gtid=" */);
        if (tb_mysrc_exec(s->repl, sql, "setting the GTID start", err) < 0 ||
            tb_mysrc_exec(s->repl, "SET @slave_gtid_strict_mode = 1",
                          "setting GTID strict mode", err) < 0)
            goto fail;
    }
    if ((s->raw_dump ? open_raw(s, by_gtid, by_mysql_gtid, err)
                     : open_rpl(s, by_gtid, err)) < 0)
        goto fail;
    tb_binlog_format_init(&s->fmt);
    s->cur = s->start;
    if (by_gtid || by_mysql_gtid) s->cur.file[0] = '\0';
    s->streaming = true;
    tb_position p;
    tb_mysrc_pos_format(&s->start, &p);
    tb_log_info("binlog dump started at %s (by %s%s), server_id %lld", p.text,
                by_gtid || by_mysql_gtid ? "GTID" : "file and offset",
                s->raw_dump ? ", raw dump" : "",
                (long long)s->cfg->source.server_id);
    return 0;
fail:
    tb_mysrc_stream_stop(s);
    return -1;
}

/*
 * Is the group being read already part of tab's initial copy? A snapshot
 * at binlog position P (binlog_snapshot_file/position: the offset just
 * after the last transaction it contains) holds exactly the transactions
 * that begin before P; one that begins at or after P is not in it. So
 * tab's changes are skipped in groups beginning before tab->copied_at and
 * applied from there on. Binlog coordinates compare by file sequence
 * number, then offset, so a ROTATE in between orders correctly. Without a
 * file name (not seen yet) the GTID decides: within a domain, a sequence
 * number at or below the copy's is in the copy.
 */
static bool in_copy(const tb_source *s, const my_table *tab)
{
    if (!tab->copied) return false;
    if (s->group_begin.file[0] && tab->copied_at.file[0])
        return tb_mysrc_pos_binlog_cmp(&s->group_begin, &tab->copied_at) < 0;
    if (!s->group_has_gtid) return false;
    for (int i = 0; i < tab->copied_at.ngtids; i++)
        if (tab->copied_at.gtids[i].domain == s->group_gtid.domain)
            return s->group_gtid.seq <= tab->copied_at.gtids[i].seq;
    return false;
}

/* ---- table maps ---------------------------------------------------------- */

static my_tmap *map_find(tb_source *s, uint64_t id)
{
    for (int i = 0; i < s->nmaps; i++)
        if (s->maps[i].table_id == id) return &s->maps[i];
    return NULL;
}

static my_tmap *map_slot(tb_source *s, uint64_t id, tb_error *err)
{
    my_tmap *m = map_find(s, id);
    if (m) return m;
    if (s->nmaps == s->capmaps) {
        int cap = s->capmaps ? s->capmaps * 2 : 16;
        my_tmap *n = realloc(s->maps, (size_t)cap * sizeof *n);
        if (!n) {
            tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        s->maps = n;
        s->capmaps = cap;
    }
    m = &s->maps[s->nmaps++];
    memset(m, 0, sizeof *m);
    m->table_id = id;
    tb_arena_init(&m->arena, 4096);
    return m;
}

/* Shape of the table a map describes: from the map itself with full
 * metadata, else from information_schema when unknown or after DDL. */
static int map_shape(tb_source *s, my_tmap *m, const tb_emit *emit,
                     tb_error *err)
{
    const tb_binlog_table_map *tm = &m->tm;
    m->tab = NULL;
    if (!tb_mysrc_wanted(s, tm->db, tm->table)) return 0;
    my_table *tab = tb_mysrc_table(s, tm->db, tm->table, err);
    if (!tab) return -1;
    m->tab = tab;
    if (in_copy(s, tab)) {
        /* The rows that follow are skipped: this map's shape may be older
         * than the copy's (DDL since), so it is not announced. Forget the
         * bytes so the same map is looked at again in a later group. */
        free(m->raw);
        m->raw = NULL;
        m->rawlen = 0;
        return 0;
    }
    tb_table *t = NULL;
    uint32_t *cs = NULL;
    if (tm->has_names) {
        if (tb_mysrc_shape_from_map(s, tm, &t, &cs, err) < 0) return -1;
        return tb_mysrc_install(s, tab, t, cs, emit, err);
    }
    if (tab->t && !tab->stale && (uint32_t)tab->t->ncols == tm->ncols) return 0;
    tb_log_warn("%s.%s: binlog has no column metadata; reading its shape "
                "from information_schema (set binlog_row_metadata=FULL)",
                tm->db, tm->table);
    if (tb_mysrc_shape_from_catalog(s, tm->db, tm->table, &t, &cs, err) < 0)
        return -1;
    if ((uint32_t)t->ncols != tm->ncols) {
        tb_table_free(t);
        free(cs);
        return tb_error_set(err, TB_ERR_SOURCE,
                            "%s.%s has %u columns in the binlog but %d in "
                            "information_schema (DDL since this event?); "
                            "set binlog_row_metadata=FULL",
                            tm->db, tm->table, tm->ncols, t->ncols);
    }
    return tb_mysrc_install(s, tab, t, cs, emit, err);
}

static int on_table_map(tb_source *s, const uint8_t *raw, size_t len,
                        const tb_emit *emit, tb_error *err)
{
    tb_binlog_event ev;
    /* Decode into a scratch arena first to learn the table id. */
    if (tb_binlog_event_decode(&s->fmt, raw, len, &s->arena, &ev, err) < 0)
        return -1;
    my_tmap *m = map_slot(s, ev.u.table_map.table_id, err);
    if (!m) return -1;
    /* The same map is re-sent before every statement: keep the cached one
     * when the bytes match, so a million single-row statements neither
     * grow memory nor re-check shapes. */
    if (m->raw && m->rawlen == ev.body_len &&
        memcmp(m->raw, ev.body, ev.body_len) == 0 && !(m->tab && m->tab->stale))
        return 0;
    tb_arena_reset(&m->arena);
    if (tb_binlog_event_decode(&s->fmt, raw, len, &m->arena, &ev, err) < 0)
        return -1;
    uint8_t *copy = malloc(ev.body_len ? ev.body_len : 1);
    if (!copy) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    memcpy(copy, ev.body, ev.body_len);
    free(m->raw);
    m->raw = copy;
    m->rawlen = ev.body_len;
    m->tm = ev.u.table_map;
    return map_shape(s, m, emit, err);
}

/* ---- groups -------------------------------------------------------------- */

static void change_position(tb_source *s)
{
    my_pos p = s->cur;
    if (s->group_has_gtid) tb_mysrc_pos_set_gtid(&p, &s->group_gtid);
    tb_position t;
    tb_mysrc_pos_format(&p, &t);
    memcpy(s->change_pos, t.text, sizeof s->change_pos);
    s->rows.position = s->change_pos;
}

static void group_start(tb_source *s, const tb_binlog_header *h,
                        const my_gtid *g, bool standalone)
{
    bool replaying = s->replay_skip > 0 || (s->began && !s->in_group);
    s->in_group = true;
    s->standalone = standalone;
    s->group_has_gtid = g != NULL;
    s->group_has_mysql_gtid = false;
    if (g) s->group_gtid = *g;
    s->group_txid = g ? (int64_t)g->seq : -1;
    s->group_us = (int64_t)h->timestamp * 1000000;
    /* log_pos is the offset after the event: the group starts event_size
     * bytes before it (artificial events have no offset). */
    s->group_begin = s->cur;
    if (h->log_pos >= h->event_size)
        s->group_begin.pos = h->log_pos - h->event_size;
    s->group_changes = 0;
    s->skip_group = false;
    if (!replaying) s->began = false;
    /* Already applied: the stored position is at or after this group. */
    if (g && s->have_resume) {
        for (int i = 0; i < s->resume.ngtids; i++)
            if (s->resume.gtids[i].domain == g->domain &&
                g->seq <= s->resume.gtids[i].seq)
                s->skip_group = true;
    }
    change_position(s);
}

static int progress(tb_source *s, const tb_emit *emit, tb_error *err)
{
    tb_position p;
    tb_mysrc_pos_format(&s->cur, &p);
    s->last_progress_us = now_us();
    return emit->progress(emit->ctx, &p, err);
}

/* Oracle MySQL: add the group's GTID to the executed set and its text to
 * s->cur. A set whose text outgrows the position is dropped from positions
 * from then on (with a warning): they resume by file and offset. */
static int add_mysql_gtid(tb_source *s, tb_error *err)
{
    if (s->gtids_dropped) return 0;
    if (tb_mygtidset_add(&s->gtids, s->group_sid, s->group_gno, err) < 0)
        return tb_error_prefix(err, "binlog %s at %llu", s->cur.file,
                               (unsigned long long)s->cur.pos);
    size_t cap = sizeof s->cur.mysql_gtids;
    if (tb_mygtidset_format(&s->gtids, s->cur.mysql_gtids, cap) >= cap) {
        tb_log_warn("the source's GTID set is longer than %zu bytes: "
                    "positions carry the binlog file and offset only",
                    cap - 1);
        s->cur.mysql_gtids[0] = '\0';
        s->gtids_dropped = true;
        tb_mygtidset_free(&s->gtids);
    }
    return 0;
}

/* The group ends after the current event (s->cur is already past it). */
static int group_end(tb_source *s, const tb_emit *emit, tb_error *err)
{
    if (s->group_has_gtid) tb_mysrc_pos_set_gtid(&s->cur, &s->group_gtid);
    if (s->group_has_mysql_gtid && add_mysql_gtid(s, err) < 0) return -1;
    s->boundary = s->cur;
    s->in_group = false;
    s->replay_skip = 0;
    bool began = s->began;
    s->began = false;
    if (began) {
        tb_tx tx;
        memset(&tx, 0, sizeof tx);
        tb_mysrc_pos_format(&s->cur, &tx.end);
        tx.txid = s->group_txid;
        tx.commit_us = s->group_us;
        return emit->commit(emit->ctx, &tx, err);
    }
    return progress(s, emit, err);
}

static int emit_change(tb_source *s, const tb_emit *emit, tb_change *c,
                       tb_error *err)
{
    if (s->replay_skip > 0) { /* sent before the reconnect */
        s->replay_skip--;
        s->group_changes++;
        return 0;
    }
    if (tb_mysrc_begin(s, emit, err) < 0) return -1;
    s->group_changes++;
    return emit->change(emit->ctx, c, err);
}

static void change_init(tb_source *s, tb_change *c, const tb_table *t,
                        int64_t ts_ms)
{
    memset(c, 0, sizeof *c);
    c->table = t;
    c->source.connector = "mysql";
    c->source.name = s->cfg->name;
    c->source.db = t->db;
    c->source.position = s->change_pos;
    c->source.txid = s->group_txid;
    c->source.commit_us = s->group_us;
    c->source.snapshot = false;
    c->ts_ms = ts_ms;
}

/* Processing time for ts_ms: read once per event, not per row. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int convert_image(tb_source *s, const my_table *tab,
                         const tb_binlog_row *row, tb_value *vals,
                         tb_error *err)
{
    const tb_table *t = tab->t;
    for (int i = 0; i < t->ncols; i++) {
        uint32_t cs = tab->charsets ? tab->charsets[i] : 0;
        if (tb_myrow_from_binlog(&s->rows, t, i, cs, &row->vals[i], &vals[i],
                                 err) < 0)
            return -1;
    }
    return 0;
}

static int on_rows(tb_source *s, const tb_binlog_event *ev, const tb_emit *emit,
                   tb_error *err)
{
    const tb_binlog_rows *rows = &ev->u.rows;
    my_tmap *m = map_find(s, rows->table_id);
    if (!m)
        return tb_error_set(err, TB_ERR_DECODE,
                            "rows event for table id %llu without a table map "
                            "at %s",
                            (unsigned long long)rows->table_id, s->change_pos);
    if (!m->tab || s->skip_group) return 0;
    my_table *tab = m->tab;
    if (!s->in_group) { /* rows without GTID/BEGIN: treat as own group */
        group_start(s, &ev->h, NULL, true);
    }
    if (in_copy(s, tab)) return 0;
    const tb_table *t = tab->t;
    if (!t || (uint32_t)t->ncols != rows->ncols)
        return tb_error_set(err, TB_ERR_DECODE,
                            "%s.%s: rows event with %u columns, shape has %d",
                            m->tm.db, m->tm.table, rows->ncols,
                            t ? t->ncols : 0);
    if (tb_rowbuf_reserve(&s->row, t->ncols) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0)
        return -1;
    change_position(s);
    int64_t ts_ms = wall_ms();
    size_t pos = 0;
    while (pos < rows->data_len) {
        tb_binlog_row before, after;
        if (tb_binlog_rows_next(rows, &m->tm, &pos, &s->arena, &before, &after,
                                err) < 0)
            return tb_error_prefix(err, "%s.%s at %s", m->tm.db, m->tm.table,
                                   s->change_pos);
        tb_change c;
        change_init(s, &c, t, ts_ms);
        c.op = rows->op == 'w'   ? TB_OP_CREATE
               : rows->op == 'u' ? TB_OP_UPDATE
                                 : TB_OP_DELETE;
        if (before.ncols) {
            if (convert_image(s, tab, &before, s->row.before, err) < 0)
                return -1;
            for (int i = 0; i < t->ncols; i++)
                if (t->cols[i].key &&
                    s->row.before[i].state == TB_VALUE_UNCHANGED)
                    return tb_error_set(
                        err, TB_ERR_SOURCE,
                        "%s.%s at %s: the before image lacks key column %s; "
                        "the server's binlog_row_image must log the primary "
                        "key (FULL or MINIMAL, not a custom NOBLOB key)",
                        t->db, t->name, s->change_pos, t->cols[i].name);
            c.before = s->row.before;
        }
        if (after.ncols) {
            if (convert_image(s, tab, &after, s->row.after, err) < 0) return -1;
            c.after = s->row.after;
        }
        if (emit_change(s, emit, &c, err) < 0) return -1;
        tb_arena_reset(&s->arena);
    }
    return 0;
}

/* ---- queries: BEGIN, COMMIT, DDL ------------------------------------------
 */

/* Skip spaces and comments at p. */
static const char *skip_ws(const char *p, const char *end)
{
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = end - q >= 2 ? q + 2 : end;
            continue;
        }
        return p;
    }
}

/* Does the word w (case-insensitive) start at *p? Moves past it. */
static bool word(const char **p, const char *end, const char *w)
{
    const char *q = skip_ws(*p, end);
    size_t n = strlen(w);
    if ((size_t)(end - q) < n || strncasecmp(q, w, n) != 0) return false;
    if ((size_t)(end - q) > n &&
        (q[n] == '_' || (q[n] >= 'a' && q[n] <= 'z') ||
         (q[n] >= 'A' && q[n] <= 'Z') || (q[n] >= '0' && q[n] <= '9')))
        return false;
    *p = q + n;
    return true;
}

/* Read a possibly qualified, possibly backquoted table name. */
static bool table_name(const char **p, const char *end, char *db, size_t dbcap,
                       char *name, size_t ncap)
{
    char part[2][256];
    int nparts = 0;
    const char *q = skip_ws(*p, end);
    while (nparts < 2) {
        size_t k = 0;
        if (q < end && *q == '`') {
            q++;
            while (q < end && k + 1 < sizeof part[0]) {
                if (*q == '`') {
                    if (q + 1 < end && q[1] == '`') {
                        part[nparts][k++] = '`';
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                part[nparts][k++] = *q++;
            }
        } else {
            while (q < end && k + 1 < sizeof part[0] &&
                   (*q == '_' || *q == '$' || (*q >= 'a' && *q <= 'z') ||
                    (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                    (unsigned char)*q >= 0x80))
                part[nparts][k++] = *q++;
        }
        if (k == 0) return false;
        part[nparts++][k] = '\0';
        if (q < end && *q == '.') {
            q++;
            continue;
        }
        break;
    }
    if (nparts == 2) {
        snprintf(db, dbcap, "%s", part[0]);
        snprintf(name, ncap, "%s", part[1]);
    } else {
        snprintf(name, ncap, "%s", part[0]);
    }
    *p = q;
    return true;
}

/* Mark every known table of db stale (or all when db is NULL). */
static void mark_stale(tb_source *s, const char *db, const char *name)
{
    for (int i = 0; i < s->ntables; i++) {
        my_table *t = s->tables[i];
        if ((!db || strcmp(t->db, db) == 0) &&
            (!name || strcmp(t->name, name) == 0))
            t->stale = true;
    }
}

static int truncate_table(tb_source *s, const char *db, const char *name,
                          const tb_binlog_header *h, const tb_emit *emit,
                          tb_error *err)
{
    if (!tb_mysrc_wanted(s, db, name)) return 0;
    my_table *tab = tb_mysrc_table(s, db, name, err);
    if (!tab) return -1;
    if (!s->in_group) group_start(s, h, NULL, true);
    if (s->skip_group || in_copy(s, tab)) return 0;
    if (!tab->t || !tab->announced) {
        tb_table *t;
        uint32_t *cs;
        if (tb_mysrc_shape_from_catalog(s, db, name, &t, &cs, err) < 0)
            return -1;
        if (tb_mysrc_install(s, tab, t, cs, emit, err) < 0) return -1;
    }
    tb_change c;
    change_init(s, &c, tab->t, wall_ms());
    c.op = TB_OP_TRUNCATE;
    return emit_change(s, emit, &c, err);
}

static int on_query(tb_source *s, const tb_binlog_event *ev,
                    const tb_emit *emit, tb_error *err)
{
    const tb_binlog_query *q = &ev->u.query;
    const char *p = q->sql, *end = q->sql + q->sql_len;
    char db[256], name[256];
    snprintf(db, sizeof db, "%.*s", (int)q->db_len, q->db);
    if (word(&p, end, "BEGIN")) {
        if (!s->in_group) group_start(s, &ev->h, NULL, false);
        s->standalone = false; /* after an Oracle MySQL GTID */
        return 0;
    }
    if (word(&p, end, "COMMIT") || word(&p, end, "ROLLBACK"))
        return s->in_group ? group_end(s, emit, err) : 0;
    if (!s->in_group) group_start(s, &ev->h, NULL, true);
    p = q->sql;
    if (word(&p, end, "TRUNCATE")) {
        word(&p, end, "TABLE");
        char tdb[256];
        snprintf(tdb, sizeof tdb, "%s", db);
        if (table_name(&p, end, tdb, sizeof tdb, name, sizeof name) &&
            truncate_table(s, tdb, name, &ev->h, emit, err) < 0)
            return -1;
    } else if (word(&p, end, "ALTER") || word(&p, end, "DROP") ||
               word(&p, end, "RENAME") || word(&p, end, "CREATE")) {
        /* ALTER [ONLINE] [IGNORE] TABLE, DROP [TEMPORARY] TABLE, CREATE [OR
         * REPLACE] TABLE, RENAME TABLE: the next TABLE_MAP (full metadata)
         * or information_schema (otherwise) has the new shape. */
        const char *t = p;
        while (t < end && !word(&t, end, "TABLE"))
            t++;
        if (t < end) {
            word(&t, end, "IF");
            word(&t, end, "NOT");
            word(&t, end, "EXISTS");
            char tdb[256];
            snprintf(tdb, sizeof tdb, "%s", db);
            if (table_name(&t, end, tdb, sizeof tdb, name, sizeof name))
                mark_stale(s, tdb, name);
            else
                mark_stale(s, NULL, NULL);
            tb_log_info("DDL at %s: %.*s", s->change_pos,
                        (int)(q->sql_len > 200 ? 200 : q->sql_len), q->sql);
        }
    }
    if (s->standalone) return group_end(s, emit, err);
    return 0;
}

/* ---- event loop -------------------------------------------------------------
 */

/* Offset of the event inside the library's raw buffer: it keeps the OK
 * byte of the network packet in front. */
static int raw_event(const MARIADB_RPL_EVENT *e, const uint8_t **p, size_t *n,
                     tb_error *err)
{
    const uint8_t *r = e->raw_data;
    size_t len = e->raw_data_size;
    for (size_t off = 0; off <= 1; off++) {
        if (len < off + TB_BINLOG_HEADER_LEN) break;
        const uint8_t *h = r + off;
        uint32_t size = (uint32_t)h[9] | (uint32_t)h[10] << 8 |
                        (uint32_t)h[11] << 16 | (uint32_t)h[12] << 24;
        if (size == len - off) {
            *p = h;
            *n = size;
            return 0;
        }
    }
    return tb_error_set(err, TB_ERR_DECODE,
                        "binlog event of %zu bytes does not frame", len);
}

int tb_mysrc_stream_event(tb_source *s, const uint8_t *raw, size_t len,
                          const tb_emit *emit, tb_error *err)
{
    tb_binlog_header h;
    if (tb_binlog_header_decode(raw, len, &h, err) < 0) return -1;
    if (h.type == TB_BINLOG_TABLE_MAP) {
        if (h.log_pos) s->cur.pos = h.log_pos;
        return on_table_map(s, raw, len, emit, err);
    }
    tb_binlog_event ev;
    if (tb_binlog_event_decode(&s->fmt, raw, len, &s->arena, &ev, err) < 0)
        return tb_error_prefix(err, "binlog %s at %llu", s->cur.file,
                               (unsigned long long)s->cur.pos);
    /* log_pos is the offset of the next event; 0 on artificial events. */
    if (h.log_pos && h.type != TB_BINLOG_HEARTBEAT &&
        h.type != TB_BINLOG_HEARTBEAT_V2)
        s->cur.pos = h.log_pos;
    switch (h.type) {
    case TB_BINLOG_ROTATE: {
        /* The artificial ROTATE that opens a dump comes before the FDE, so
         * the decoder cannot know it carries a CRC32 and counts those 4
         * bytes as part of the name: drop them when they are a checksum. */
        size_t n = ev.u.rotate.file_len;
        if (s->fmt.checksum_alg == TB_BINLOG_CHECKSUM_OFF && n > 4 &&
            len > TB_BINLOG_CRC_LEN) {
            const uint8_t *c = raw + len - TB_BINLOG_CRC_LEN;
            uint32_t want = (uint32_t)c[0] | (uint32_t)c[1] << 8 |
                            (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
            if (tb_binlog_crc32(0, raw, len - TB_BINLOG_CRC_LEN) == want)
                n -= TB_BINLOG_CRC_LEN;
        }
        snprintf(s->cur.file, sizeof s->cur.file, "%.*s", (int)n,
                 ev.u.rotate.file);
        s->cur.pos = ev.u.rotate.position;
        return 0;
    }
    case TB_BINLOG_MARIADB_GTID: {
        my_gtid g = {ev.u.mgtid.domain_id, ev.u.mgtid.server_id,
                     ev.u.mgtid.seq_no};
        group_start(s, &h, &g, ev.u.mgtid.standalone);
        return 0;
    }
    case TB_BINLOG_GTID:
    case TB_BINLOG_ANONYMOUS_GTID:
        /* Oracle MySQL: a transaction's BEGIN ... XID/COMMIT follow; a DDL
         * statement follows alone, so the group is standalone until a
         * BEGIN says otherwise. */
        group_start(s, &h, NULL, true);
        if (h.type == TB_BINLOG_GTID && ev.u.gtid.gno > 0) {
            s->group_has_mysql_gtid = true;
            memcpy(s->group_sid, ev.u.gtid.sid, sizeof s->group_sid);
            s->group_gno = ev.u.gtid.gno;
            s->group_txid = ev.u.gtid.gno;
            /* Already applied: the stored set holds it. */
            if (s->have_resume &&
                tb_mygtidset_contains(&s->resume_gtids, s->group_sid,
                                      s->group_gno))
                s->skip_group = true;
        }
        return 0;
    case TB_BINLOG_QUERY:
        return on_query(s, &ev, emit, err);
    case TB_BINLOG_XID:
        return s->in_group ? group_end(s, emit, err) : 0;
    case TB_BINLOG_WRITE_ROWS_V1:
    case TB_BINLOG_UPDATE_ROWS_V1:
    case TB_BINLOG_DELETE_ROWS_V1:
    case TB_BINLOG_WRITE_ROWS_V2:
    case TB_BINLOG_UPDATE_ROWS_V2:
    case TB_BINLOG_DELETE_ROWS_V2:
        return on_rows(s, &ev, emit, err);
    case TB_BINLOG_HEARTBEAT:
    case TB_BINLOG_HEARTBEAT_V2:
        /* The server is alive and has nothing more for us: everything up
         * to here is ours, so an idle pipeline still moves forward. */
        if (!s->in_group) return progress(s, emit, err);
        return 0;
    default:
        return 0; /* FDE (already applied), GTID_LIST, checkpoints, ... */
    }
}

/* Next event of the dump into *raw / *len: 1, or 0 when the dump stopped
 * (mysql_errno(s->repl) tells why), or -1 for bytes that do not frame. */
static int fetch(tb_source *s, const uint8_t **raw, size_t *len, tb_error *err)
{
    if (s->raw_dump) {
        int rc = tb_mydump_next(s->repl, raw, len, err);
        if (rc < 0 && err->code == TB_ERR_DECODE) return -1;
        return rc > 0;
    }
    /* A fresh event each time: after a failed fetch the library's state
     * of an event handed back to it is not to be trusted (a killed
     * connection left one whose free crashed). */
    if (s->ev) {
        mariadb_free_rpl_event(s->ev);
        s->ev = NULL;
    }
    MARIADB_RPL_EVENT *e = mariadb_rpl_fetch(s->rpl, NULL);
    if (!e) return 0;
    s->ev = e;
    return raw_event(e, raw, len, err) < 0 ? -1 : 1;
}

static bool retriable(unsigned e)
{
    return e == CR_SERVER_LOST || e == CR_SERVER_GONE_ERROR ||
           e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
           e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
           e == CR_SERVER_LOST_EXTENDED || e == 0;
}

/* Restart the dump at the last group boundary, with backoff. */
static int reconnect(tb_source *s, tb_error *err)
{
    tb_mysrc_stream_stop(s);
    if (s->in_group && s->began) s->replay_skip = s->group_changes;
    s->in_group = false;
    s->start = s->boundary;
    /* Skip groups up to the boundary even when resuming by file. */
    int delay_ms = 250;
    for (int attempt = 1; attempt <= RECONNECT_TRIES; attempt++) {
        usleep((useconds_t)delay_ms * 1000);
        if (tb_mysrc_stream_start(s, err) == 0) {
            tb_log_info("binlog dump reconnected (attempt %d)", attempt);
            return 0;
        }
        tb_log_warn("reconnecting to the source failed (attempt %d): %s",
                    attempt, err->msg);
        if (!err->retriable) return -1;
        if (delay_ms < 8000) delay_ms *= 2;
    }
    return tb_error_retriable(err);
}

int tb_mysrc_stream_poll(tb_source *s, const tb_emit *emit, int timeout_ms,
                         tb_error *err)
{
    int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        const uint8_t *raw = NULL;
        size_t len = 0;
        int got = fetch(s, &raw, &len, err);
        if (got < 0) return -1;
        if (got == 0) {
            unsigned code = mysql_errno(s->repl);
            if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
                tb_position p;
                tb_mysrc_pos_format(&s->start, &p);
                tb_error_set(err, TB_ERR_SOURCE, "%s", "");
                char msg[512];
                snprintf(msg, sizeof msg, "%s", mysql_error(s->repl));
                tb_error_set(err, TB_ERR_SOURCE,
                             "the source refused the binlog dump from %s: %s. "
                             "If the binlog was purged past this position, "
                             "drop the replicated tables and the pipeline's "
                             "row in the target's _tributary_state table and "
                             "run again to take a new snapshot",
                             p.text, msg);
                return tb_error_fatal(err);
            }
            if (!retriable(code))
                return tb_error_set(err, TB_ERR_SOURCE,
                                    "reading the binlog failed: %s (error %u)",
                                    mysql_error(s->repl), code);
            tb_log_warn("binlog connection lost (%s, error %u); reconnecting "
                        "from the last transaction boundary",
                        mysql_error(s->repl), code);
            if (reconnect(s, err) < 0) return -1;
            continue;
        }
        tb_arena_reset(&s->arena);
        if (tb_mysrc_stream_event(s, raw, len, emit, err) < 0) return -1;
        if (now_us() >= deadline) break;
        /* A heartbeat outside a group: the server has sent everything it
         * has, so return now (run --once can see it is done) rather than
         * wait out the timeout; the next fetch blocks until an event or
         * the next heartbeat, so a caller polling again does not spin. */
        if ((raw[4] == TB_BINLOG_HEARTBEAT ||
             raw[4] == TB_BINLOG_HEARTBEAT_V2) &&
            !s->in_group)
            break;
    }
    return 0;
}
