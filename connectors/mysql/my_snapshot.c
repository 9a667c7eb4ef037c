/*
 * my_snapshot.c - the initial copy: every configured table is read inside
 * one consistent snapshot whose binlog position is known, so the copy and
 * the stream that starts there neither miss nor double a change.
 *
 * MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT makes the binlog
 * position consistent with the snapshot without any global lock; the
 * status variables binlog_snapshot_file / binlog_snapshot_position report
 * it, and BINLOG_GTID_POS() turns it into the GTID state at that point.
 * Oracle MySQL has no such variables: there a short FLUSH TABLES WITH READ
 * LOCK brackets the snapshot start and SHOW MASTER STATUS (untested here).
 *
 * The whole copy is one source transaction ending at the snapshot
 * position: the target stores that position only once every table is in.
 * Rows are streamed with mysql_use_result, never buffered per table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "my_source_int.h"
#include "tb_log.h"

static int snapshot_position(tb_source *s, my_pos *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    MYSQL_RES *r =
        tb_mysrc_query(s->sql, "SHOW STATUS LIKE 'binlog_snapshot_%'",
                       "reading the snapshot position", err);
    if (!r) return -1;
    MYSQL_ROW row;
    bool have_pos = false;
    while ((row = mysql_fetch_row(r))) {
        if (strcmp(row[0], "Binlog_snapshot_file") == 0 && row[1])
            snprintf(out->file, sizeof out->file, "%s", row[1]);
        else if (strcmp(row[0], "Binlog_snapshot_position") == 0 && row[1]) {
            out->pos = strtoull(row[1], NULL, 10);
            have_pos = true;
        }
    }
    mysql_free_result(r);
    if (!out->file[0] || !have_pos)
        return tb_error_set(err, TB_ERR_SOURCE,
                            "the server reports no binlog_snapshot_file / "
                            "binlog_snapshot_position (is the binary log "
                            "on?)");
    tb_buf q = TB_BUF_INIT;
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)out->pos);
    tb_buf_puts(&q, "SELECT BINLOG_GTID_POS(");
    tb_mysrc_quote_literal(s->sql, &q, out->file);
    tb_buf_puts(&q, ", ");
    tb_buf_puts(&q, num);
    tb_buf_puts(&q, ")");
    r = tb_mysrc_query(s->sql, (const char *)q.data,
                       "reading the snapshot's GTID state", err);
    tb_buf_free(&q);
    if (!r) return -1;
    row = mysql_fetch_row(r);
    int rc = 0;
    if (row && row[0]) rc = tb_mysrc_gtid_list_parse(row[0], out, err);
    mysql_free_result(r);
    return rc;
}

/* Oracle MySQL: a brief global read lock pins the position. */
static int mysql_snapshot_position(tb_source *s, my_pos *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (tb_mysrc_exec(s->sql, "FLUSH TABLES WITH READ LOCK",
                      "locking for the snapshot position", err) < 0)
        return -1;
    int rc = tb_mysrc_exec(s->sql, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
                           "starting the snapshot", err);
    MYSQL_RES *r = rc == 0 ? tb_mysrc_query(s->sql, "SHOW MASTER STATUS",
                                            "reading the binlog position", err)
                           : NULL;
    if (r) {
        MYSQL_ROW row = mysql_fetch_row(r);
        if (row && row[0] && row[1]) {
            snprintf(out->file, sizeof out->file, "%s", row[0]);
            out->pos = strtoull(row[1], NULL, 10);
            if (mysql_num_fields(r) >= 5 && row[4] && row[4][0])
                snprintf(out->mysql_gtids, sizeof out->mysql_gtids, "%s",
                         row[4]);
        }
        mysql_free_result(r);
    } else {
        rc = -1;
    }
    tb_error e;
    tb_mysrc_exec(s->sql, "UNLOCK TABLES", "unlocking", &e);
    return rc;
}

static int copy_table(tb_source *s, const tb_emit *emit, my_table *tab,
                      const char *pos_text, int64_t commit_us, tb_error *err)
{
    const tb_table *t = tab->t;
    tb_buf q = TB_BUF_INIT;
    tb_buf_puts(&q, "SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        if (i) tb_buf_puts(&q, ", ");
        tb_mysrc_quote_ident(&q, t->cols[i].name);
    }
    tb_buf_puts(&q, " FROM ");
    tb_mysrc_quote_ident(&q, tab->db);
    tb_buf_puts(&q, ".");
    tb_mysrc_quote_ident(&q, tab->name);
    int qrc = mysql_query(s->sql, (const char *)q.data);
    tb_buf_free(&q);
    MYSQL_RES *r = qrc == 0 ? mysql_use_result(s->sql) : NULL;
    if (!r)
        return tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                            tab->db, tab->name, mysql_error(s->sql));
    if (tb_rowbuf_reserve(&s->row, t->ncols) < 0 &&
        tb_error_set(err, TB_ERR_NOMEM, "out of memory") < 0) {
        mysql_free_result(r);
        return -1;
    }
    tb_change c;
    memset(&c, 0, sizeof c);
    c.op = TB_OP_READ;
    c.table = t;
    c.after = s->row.after;
    c.source.connector = "mysql";
    c.source.name = s->cfg->name;
    c.source.db = tab->db;
    c.source.position = pos_text;
    c.source.txid = -1;
    c.source.commit_us = commit_us;
    c.source.snapshot = true;
    c.ts_ms = commit_us / 1000;
    long long rows = 0;
    int rc = 0;
    MYSQL_ROW row;
    s->rows.position = NULL;
    while ((row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        for (int i = 0; i < t->ncols && rc == 0; i++)
            rc =
                tb_myrow_from_text(&s->rows, t, i, row[i], row[i] ? lens[i] : 0,
                                   &s->row.after[i], err);
        if (rc == 0) rc = emit->change(emit->ctx, &c, err);
        tb_arena_reset(&s->arena);
        if (rc < 0) break;
        rows++;
    }
    if (rc == 0 && mysql_errno(s->sql))
        rc = tb_error_set(err, TB_ERR_SOURCE, "copying %s.%s failed: %s",
                          tab->db, tab->name, mysql_error(s->sql));
    /* Drain what is left so the connection stays usable after an error. */
    while (rc < 0 && mysql_fetch_row(r))
        ;
    mysql_free_result(r);
    if (rc == 0)
        tb_log_info("snapshot: %s.%s copied, %lld rows", tab->db, tab->name,
                    rows);
    return rc;
}

int tb_mysrc_snapshot(tb_source *s, const tb_emit *emit, tb_error *err)
{
    my_pos pos;
    tb_tx tx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(&tx, 0, sizeof tx);
    tx.txid = -1;
    tx.commit_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (tb_mysrc_exec(s->sql,
                      "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                      "setting the snapshot isolation", err) < 0)
        return -1;
    if (s->mariadb) {
        if (tb_mysrc_exec(s->sql, "START TRANSACTION WITH CONSISTENT SNAPSHOT",
                          "starting the snapshot", err) < 0 ||
            snapshot_position(s, &pos, err) < 0)
            goto fail;
    } else if (mysql_snapshot_position(s, &pos, err) < 0) {
        goto fail;
    }
    tb_mysrc_pos_format(&pos, &tx.end);
    tb_log_info("snapshot of %d tables at %s", s->ntables, tx.end.text);
    if (emit->begin(emit->ctx, &tx, err) < 0) goto fail;
    /* Shapes are announced inside the transaction, like the stream does. */
    s->in_group = true;
    s->began = true;
    for (int i = 0; i < s->ntables; i++) {
        my_table *tab = s->tables[i];
        tb_table *t;
        uint32_t *cs;
        if (tb_mysrc_shape_from_catalog(s, tab->db, tab->name, &t, &cs, err) <
                0 ||
            tb_mysrc_install(s, tab, t, cs, emit, err) < 0 ||
            copy_table(s, emit, tab, tx.end.text, tx.commit_us, err) < 0)
            goto fail;
    }
    s->in_group = false;
    s->began = false;
    if (tb_mysrc_exec(s->sql, "COMMIT", "ending the snapshot", err) < 0)
        return -1;
    s->start = pos;
    s->boundary = pos;
    s->cur = pos;
    return emit->commit(emit->ctx, &tx, err);
fail:
    s->in_group = false;
    s->began = false;
    mysql_query(s->sql, "ROLLBACK");
    return -1;
}
