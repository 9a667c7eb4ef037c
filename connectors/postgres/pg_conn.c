/* pg_conn.c - libpq helpers shared by the PostgreSQL source and sink. */
#include "pg_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_config.h"

const char *tb_pgconn_error(PGconn *c)
{
    static _Thread_local char buf[1024];
    snprintf(buf, sizeof buf, "%s", c ? PQerrorMessage(c) : "no connection");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

PGconn *tb_pgconn_open(const char *dsn, const char *password, bool replication,
                       const char *role, tb_error *err)
{
    char *ci = tb_pg_conninfo(dsn, password, err);
    if (!ci) return NULL;
    const char *keys[] = {"dbname",
                          "replication",
                          "options",
                          "application_name",
                          "fallback_application_name",
                          NULL};
    const char *vals[] = {ci,
                          replication ? "database" : NULL,
                          TB_PG_SESSION_OPTIONS,
                          NULL,
                          "tributary",
                          NULL};
    /* expand_dbname=1: the first dbname value is parsed as a whole conninfo;
     * our options come after it and win. A NULL value is skipped, so the
     * array is compacted first. */
    const char *k2[6], *v2[6];
    int n = 0;
    for (int i = 0; keys[i]; i++) {
        if (!vals[i]) continue;
        k2[n] = keys[i];
        v2[n] = vals[i];
        n++;
    }
    k2[n] = v2[n] = NULL;
    PGconn *c = PQconnectdbParams(k2, v2, 1);
    explicit_bzero(ci, strlen(ci));
    free(ci);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char *masked = tb_dsn_mask(dsn);
        tb_error_set(err, TB_ERR_CONNECT, "cannot connect to the %s (%s): %s",
                     role, masked ? masked : "****", tb_pgconn_error(c));
        tb_error_retriable(err);
        free(masked);
        PQfinish(c);
        return NULL;
    }
    return c;
}

int tb_pgconn_exec(PGconn *c, const char *sql, const char *what,
                   tb_errcode code, tb_error *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tb_error_set(err, code, "%s failed: %s", what, tb_pgconn_error(c));
        if (PQstatus(c) != CONNECTION_OK) tb_error_retriable(err);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

PGresult *tb_pgconn_query(PGconn *c, const char *sql, const char *what,
                          tb_errcode code, tb_error *err)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tb_error_set(err, code, "%s failed: %s", what, tb_pgconn_error(c));
        if (PQstatus(c) != CONNECTION_OK) tb_error_retriable(err);
        PQclear(r);
        return NULL;
    }
    return r;
}
