/* dbutil.c - see dbutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbutil.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        print_error("%s is not set: run the tests through scripts/servers.sh "
                    "run\n",
                    name);
        fail();
    }
    return v;
}

MYSQL *tu_my_connect(void)
{
    MYSQL *m = mysql_init(NULL);
    unsigned port = (unsigned)atoi(env("TB_MY_PORT"));
    if (!mysql_real_connect(m, env("TB_MY_HOST"), "root", NULL, NULL, port,
                            NULL, 0)) {
        print_error("mysql connect: %s\n", mysql_error(m));
        fail();
    }
    mysql_set_character_set(m, "utf8mb4");
    return m;
}

void tu_my(const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    MYSQL *m = tu_my_connect();
    if (mysql_query(m, q) != 0) {
        print_error("MariaDB: %s\n%s\n", mysql_error(m), q);
        mysql_close(m);
        fail();
    }
    MYSQL_RES *r = mysql_store_result(m);
    if (r) mysql_free_result(r);
    mysql_close(m);
}

/* Append one field and its separator to a growing text. */
static void put(char **out, size_t *len, size_t *cap, const char *v, size_t n,
                char sep)
{
    while (*len + n + 3 > *cap)
        *out = realloc(*out, *cap *= 2);
    memcpy(*out + *len, v, n);
    *len += n;
    (*out)[(*len)++] = sep;
}

char *tu_my_rows(const char *q)
{
    MYSQL *m = tu_my_connect();
    if (mysql_query(m, q) != 0) {
        print_error("MariaDB: %s\n%s\n", mysql_error(m), q);
        fail();
    }
    MYSQL_RES *r = mysql_store_result(m);
    size_t cap = 1024, len = 0;
    char *out = calloc(1, cap);
    MYSQL_ROW row;
    unsigned nf = mysql_num_fields(r);
    while ((row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        for (unsigned i = 0; i < nf; i++) {
            const char *v = !row[i] ? "NULL" : lens[i] ? row[i] : "''";
            size_t n = !row[i] ? 4 : lens[i] ? lens[i] : 2;
            put(&out, &len, &cap, v, n, i + 1 < nf ? '|' : '\n');
        }
    }
    out[len] = '\0';
    mysql_free_result(r);
    mysql_close(m);
    return out;
}

PGconn *tu_pg_connect(const char *db)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s port=%s user=postgres dbname=%s",
             env("TB_PG_HOST"), env("TB_PG_PORT"), db);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("pg connect: %s\n", PQerrorMessage(c));
        fail();
    }
    PQclear(PQexec(c, "SET TimeZone = 'UTC'"));
    return c;
}

void tu_pg(const char *db, const char *q)
{
    PGconn *c = tu_pg_connect(db);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("PostgreSQL: %s\n%s\n", PQerrorMessage(c), q);
        fail();
    }
    PQclear(r);
    PQfinish(c);
}

char *tu_pg_rows(const char *db, const char *q)
{
    PGconn *c = tu_pg_connect(db);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("PostgreSQL: %s\n%s\n", PQerrorMessage(c), q);
        fail();
    }
    size_t cap = 1024, len = 0;
    char *out = calloc(1, cap);
    int nf = PQnfields(r);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int f = 0; f < nf; f++) {
            const char *v = PQgetisnull(r, i, f)   ? "NULL"
                            : *PQgetvalue(r, i, f) ? PQgetvalue(r, i, f)
                                                   : "''";
            put(&out, &len, &cap, v, strlen(v), f + 1 < nf ? '|' : '\n');
        }
    }
    out[len] = '\0';
    PQclear(r);
    PQfinish(c);
    return out;
}

int tu_dbpair_create(const char *prefix, char *mydb, size_t mycap, char *pgdb,
                     size_t pgcap)
{
    if (!getenv("TB_PG_HOST") || !getenv("TB_PG_PORT") ||
        !getenv("TB_MY_HOST") || !getenv("TB_MY_PORT")) {
        fprintf(stderr, "TB_PG_* / TB_MY_* are not set: run the tests through "
                        "scripts/servers.sh run\n");
        return -1;
    }
    snprintf(mydb, mycap, "%s_%d", prefix, (int)getpid());
    snprintf(pgdb, pgcap, "%s_dw_%d", prefix, (int)getpid());
    tu_my("CREATE DATABASE %s CHARACTER SET utf8mb4", mydb);
    char q[256];
    snprintf(q, sizeof q, "CREATE DATABASE %s", pgdb);
    tu_pg("postgres", q);
    return 0;
}

void tu_dbpair_drop(const char *mydb, const char *pgdb)
{
    tu_my("DROP DATABASE IF EXISTS %s", mydb);
    char q[256];
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", pgdb);
    tu_pg("postgres", q);
}
