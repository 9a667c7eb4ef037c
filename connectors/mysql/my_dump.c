/*
 * my_dump.c - the binlog dump without mariadb_rpl: COM_BINLOG_DUMP or
 * COM_BINLOG_DUMP_GTID through the connection's command method, replies
 * through mysql_net_read_packet (see my_dump.h).
 *
 * Layouts: MariaDB KB "COM_BINLOG_DUMP"; MySQL's com_binlog_dump_gtid()
 * (sql/rpl_source.cc) reads flags, server_id, name length, name, u64
 * position, data length and Gtid_set::encode's bytes.
 */
#include "my_dump.h"

#include <errmsg.h>
#include <string.h>

#include "binlog.h"

static int put_le(tb_buf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return tb_buf_append(b, t, (size_t)n);
}

int tb_mydump_build(const tb_mydump_req *req, uint8_t *command, tb_buf *out,
                    tb_error *err)
{
    const char *file = req->file ? req->file : "";
    size_t flen = strlen(file);
    int rc = 0;
    if (!req->gtids) {
        if (req->pos > UINT32_MAX)
            return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                "binlog offset %llu of %s does not fit "
                                "COM_BINLOG_DUMP (4 bytes)",
                                (unsigned long long)req->pos, file);
        *command = TB_MYDUMP_COM_BINLOG_DUMP;
        rc |= put_le(out, req->pos, 4);
        rc |= put_le(out, 0, 2);
        rc |= put_le(out, req->server_id, 4);
        rc |= tb_buf_append(out, file, flen);
    } else {
        *command = TB_MYDUMP_COM_BINLOG_DUMP_GTID;
        rc |= put_le(out, TB_MYDUMP_THROUGH_GTID, 2);
        rc |= put_le(out, req->server_id, 4);
        rc |= put_le(out, flen, 4);
        rc |= tb_buf_append(out, file, flen);
        rc |= put_le(out, req->pos, 8);
        size_t at = out->len;
        rc |= put_le(out, 0, 4); /* data length, filled in below */
        if (rc == 0) rc = tb_mygtidset_encode(req->gtids, out);
        if (rc == 0) {
            uint64_t n = out->len - at - 4;
            if (n > UINT32_MAX)
                return tb_error_set(err, TB_ERR_UNSUPPORTED,
                                    "GTID set too large to send");
            for (int i = 0; i < 4; i++)
                out->data[at + (size_t)i] = (uint8_t)(n >> (8 * i));
        }
    }
    if (rc != 0) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    return 0;
}

static bool lost(unsigned e)
{
    return e == CR_SERVER_LOST || e == CR_SERVER_GONE_ERROR ||
           e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
           e == CR_SERVER_LOST_EXTENDED;
}

int tb_mydump_start(MYSQL *m, const tb_mydump_req *req, tb_error *err)
{
    tb_buf b = TB_BUF_INIT;
    uint8_t command = 0;
    int rc = -1;
    if (tb_mydump_build(req, &command, &b, err) < 0) goto fail;
    /* skip_check: the reply is the event stream, not an OK packet. */
    if (m->methods->db_command(m, (enum enum_server_command)command,
                               (const char *)b.data, b.len, 1, NULL) != 0) {
        tb_error_set(err, TB_ERR_SOURCE, "sending %s failed: %s (error %u)",
                     command == TB_MYDUMP_COM_BINLOG_DUMP_GTID
                         ? "COM_BINLOG_DUMP_GTID"
                         : "COM_BINLOG_DUMP",
                     mysql_error(m), mysql_errno(m));
        if (lost(mysql_errno(m))) tb_error_retriable(err);
        goto fail;
    }
    rc = 0;
fail:
    tb_buf_free(&b);
    return rc;
}

int tb_mydump_packet(const uint8_t *pkt, size_t n, const uint8_t **ev,
                     size_t *len, tb_error *err)
{
    if (n >= 1 && pkt[0] == 0xfe && n < 9) return 0;
    if (n < 1 + TB_BINLOG_HEADER_LEN || pkt[0] != 0x00)
        return tb_error_set(err, TB_ERR_DECODE,
                            "binlog dump reply of %zu bytes starting 0x%02x "
                            "is not an event",
                            n, n ? pkt[0] : 0);
    const uint8_t *h = pkt + 1;
    uint32_t size = (uint32_t)h[9] | (uint32_t)h[10] << 8 |
                    (uint32_t)h[11] << 16 | (uint32_t)h[12] << 24;
    if (size != n - 1)
        return tb_error_set(err, TB_ERR_DECODE,
                            "binlog event says %u bytes but its packet "
                            "holds %zu",
                            size, n - 1);
    *ev = h;
    *len = size;
    return 1;
}

int tb_mydump_next(MYSQL *m, const uint8_t **ev, size_t *len, tb_error *err)
{
    unsigned long n = mysql_net_read_packet(m);
    /* packet_error is (unsigned int)-1, not (unsigned long)-1. */
    if (n == packet_error || n == 0) {
        unsigned e = mysql_errno(m);
        tb_error_set(err, TB_ERR_SOURCE,
                     "reading the binlog failed: %s (error %u)", mysql_error(m),
                     e);
        if (lost(e) || e == 0) tb_error_retriable(err);
        return -1;
    }
    return tb_mydump_packet(m->net.read_pos, n, ev, len, err);
}
