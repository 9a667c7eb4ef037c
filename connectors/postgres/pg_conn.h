/*
 * pg_conn.h - small libpq helpers shared by the PostgreSQL connectors:
 * connecting with a masked error, running a command, quoting identifiers.
 */
#ifndef TB_PG_CONN_H
#define TB_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "tb_buf.h"
#include "tb_error.h"

/* Session settings every tributary connection uses, so values print the
 * same way everywhere (ISO dates, UTC, round-trip floats, hex bytea). */
#define TB_PG_SESSION_OPTIONS                                                  \
    "-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 "                \
    "-c intervalstyle=postgres -c bytea_output=hex "                           \
    "-c client_encoding=UTF8"

/*
 * Connect to dsn (libpq syntax) with an optional password and our session
 * options; replication true opens a logical replication connection
 * (replication=database). role names the side in messages ("source",
 * "target"). On failure returns NULL with TB_ERR_CONNECT (retriable) and a
 * message that shows the DSN with its password masked. The caller owns the
 * connection (PQfinish).
 */
PGconn *tb_pgconn_open(const char *dsn, const char *password, bool replication,
                       const char *role, tb_error *err);

/* Run a command that returns no rows (or rows we ignore). -1 with
 * TB_ERR_SOURCE/what on failure, naming the SQL's purpose `what`. */
int tb_pgconn_exec(PGconn *c, const char *sql, const char *what,
                   tb_errcode code, tb_error *err);

/* Run a query expected to return tuples; NULL with err set on failure. The
 * caller PQclear()s the result. */
PGresult *tb_pgconn_query(PGconn *c, const char *sql, const char *what,
                          tb_errcode code, tb_error *err);

/* libpq's last error message without the trailing newline, in a static
 * per-connection buffer copy (valid until the next call). */
const char *tb_pgconn_error(PGconn *c);

#endif
