/*
 * dbutil.h - small helpers for tests that talk to the throwaway MariaDB and
 * PostgreSQL servers of scripts/servers.sh (TB_MY_HOST/PORT, TB_PG_HOST/PORT).
 * Every helper fails the current cmocka test on an error.
 */
#ifndef TB_TEST_DBUTIL_H
#define TB_TEST_DBUTIL_H

#include <libpq-fe.h>
#include <mysql.h>

/* A new connection to MariaDB as root, utf8mb4; caller closes. */
MYSQL *tu_my_connect(void);
/* Run one statement (printf format) on a fresh MariaDB connection. */
void tu_my(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Rows of a query as one malloc'd text: fields joined by '|', rows ended
 * by '\n'; NULL prints as NULL, an empty value as ''. */
char *tu_my_rows(const char *q);

/* A new connection to PostgreSQL database db as postgres, TimeZone UTC;
 * caller finishes. */
PGconn *tu_pg_connect(const char *db);
/* Run statements on a fresh connection to db. */
void tu_pg(const char *db, const char *q);
/* Rows of a query on db in tu_my_rows' text form. */
char *tu_pg_rows(const char *db, const char *q);

/* A test's MariaDB source database and PostgreSQL target database, both
 * named "<prefix>_<pid>" / "<prefix>_dw_<pid>", made fresh; -1 (with a
 * message) when the servers' variables are not set. */
int tu_dbpair_create(const char *prefix, char *mydb, size_t mycap, char *pgdb,
                     size_t pgcap);
/* Drop both databases. */
void tu_dbpair_drop(const char *mydb, const char *pgdb);

#endif
