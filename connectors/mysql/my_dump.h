/*
 * my_dump.h - the binlog dump over the plain client protocol.
 *
 * MariaDB Connector/C's mariadb_rpl API sends only COM_BINLOG_DUMP (binlog
 * file and offset). Oracle MySQL resumes by GTID set with
 * COM_BINLOG_DUMP_GTID, so this sends either command through the
 * connection's method table (mysql->methods->db_command, what
 * mariadb_rpl_open itself uses) and reads the replies with
 * mysql_net_read_packet: each packet is 0x00 and one binlog event, 0xFE
 * (end, only in non-blocking mode) or an error packet.
 *
 * The session variables a dump needs (@master_binlog_checksum, the
 * heartbeat, MariaDB's capability and GTID start) are the caller's.
 */
#ifndef TB_MY_DUMP_H
#define TB_MY_DUMP_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "my_gtidset.h"
#include "tb_buf.h"
#include "tb_error.h"

#define TB_MYDUMP_COM_BINLOG_DUMP      0x12   /* file and offset */
#define TB_MYDUMP_COM_BINLOG_DUMP_GTID 0x1e   /* Oracle MySQL: GTID set */
#define TB_MYDUMP_THROUGH_GTID         0x0004 /* flag: data holds a set */

/* Where a dump starts. */
typedef struct tb_mydump_req {
    uint32_t server_id;        /* our replica server id */
    const char *file;          /* binlog file name, "" for the server's
                                  choice (GTID start) */
    uint64_t pos;              /* offset in file (4 = its start) */
    const tb_mygtidset *gtids; /* non-NULL: COM_BINLOG_DUMP_GTID with this
                                  set (what we have); NULL: COM_BINLOG_DUMP */
} tb_mydump_req;

/*
 * Build the dump command for req into out (appended): *command gets the
 * command byte and out the payload after it. COM_BINLOG_DUMP: u32 pos, u16
 * flags 0, u32 server_id, file name to the end. COM_BINLOG_DUMP_GTID: u16
 * flags (THROUGH_GTID), u32 server_id, u32 name length, name, u64 pos,
 * u32 data length, the set's binary encoding. 0 / -1 (TB_ERR_UNSUPPORTED
 * for an offset past 4 GiB by file, TB_ERR_NOMEM).
 */
int tb_mydump_build(const tb_mydump_req *req, uint8_t *command, tb_buf *out,
                    tb_error *err);

/*
 * Send the dump command for req on m (a connection whose session is set up
 * for replication). No reply is read: events follow. 0 / -1 (TB_ERR_SOURCE,
 * retriable when the connection is gone).
 */
int tb_mydump_start(MYSQL *m, const tb_mydump_req *req, tb_error *err);

/*
 * Split one reply packet pkt[0..n): 1 with *ev / *len the event (inside
 * pkt), 0 for the end packet (0xFE, shorter than 9 bytes), -1 with
 * TB_ERR_DECODE when it is neither or the event's size field disagrees
 * with the packet. Error packets never get here (the library turns them
 * into errors).
 */
int tb_mydump_packet(const uint8_t *pkt, size_t n, const uint8_t **ev,
                     size_t *len, tb_error *err);

/*
 * Read the next event from m: 1 with *ev / *len pointing into m's network
 * buffer (valid until the next read on m), 0 when the server ended the
 * dump, -1 on a read or server error (mysql_errno(m) / mysql_error(m) tell
 * which; err is set with TB_ERR_SOURCE, or TB_ERR_DECODE for a packet that
 * does not frame).
 */
int tb_mydump_next(MYSQL *m, const uint8_t **ev, size_t *len, tb_error *err);

#endif
