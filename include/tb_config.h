/*
 * tb_config.h - the pipeline configuration: one JSON file, one property table.
 *
 * A single table of properties (src/config_props.c) drives parsing,
 * validation, defaults, `tributary check-config` output and the generated
 * docs/configuration.md, so the four can never disagree.
 *
 * Ownership: tb_config_load() returns a heap object owned by the caller and
 * released with tb_config_free(); every string inside it is owned by it.
 * Nothing is connected or written while loading.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tb_error.h"

typedef struct tb_config_source {
    char *type;          /* "postgres" or "mysql" */
    char *dsn;           /* libpq conninfo / mysql:// URI, ${VAR} expanded */
    char *password_file; /* absolute path or NULL */
    char *password;      /* from password_file, NULL when none; secret */
    char **tables;       /* NULL-terminated list of patterns */
    int ntables;         /* number of patterns */
    char *slot;          /* postgres: replication slot name */
    char *publication;   /* postgres: publication name */
    int64_t server_id;   /* mysql: replica server id we present */
    char *snapshot;      /* "initial" or "never" */
    int64_t snapshot_workers;  /* parallel copy connections */
    int64_t snapshot_chunk_mb; /* split tables into ranges of about this */
    char *zero_dates;          /* mysql: "null" or "error" */
} tb_config_source;

typedef struct tb_config_target {
    char *type;          /* "postgres", later "sqlite", "kafka", ... */
    char *dsn;           /* connection string, ${VAR} expanded */
    char *password_file; /* absolute path or NULL */
    char *password;      /* from password_file; secret */
    char *schema;        /* target schema (postgres) */
    char *mode;          /* "mirror" or "audit" */
} tb_config_target;

typedef struct tb_config {
    char *path; /* the config file as given */
    char *dir;  /* absolute folder of the config file */
    char *name; /* pipeline name: [A-Za-z0-9_]+ */
    tb_config_source source;
    tb_config_target target;
    struct {
        char *path;          /* registry folder, absolute */
        char *compatibility; /* default compatibility mode */
    } registry;
    struct {
        char *listen; /* host:port of the metrics endpoint, or NULL */
    } metrics;
    struct {
        int64_t max_rows;  /* rows per target transaction */
        int64_t max_bytes; /* bytes per target transaction */
        int64_t max_ms;    /* longest time a batch stays open */
        char *spill_dir;   /* where large transactions spill, absolute */
    } batch;
    struct {
        char *level; /* error, warn, info, debug, trace */
    } log;
} tb_config;

/* Parse and validate a config file. On success *out owns a complete config
 * with defaults applied, ${VAR} expanded and relative paths resolved. On any
 * error returns -1 with err->code TB_ERR_CONFIG (or TB_ERR_IO when the file
 * cannot be read) and a message naming file, line when known, and key. */
int tb_config_load(const char *path, tb_config **out, tb_error *err);

/* Same as tb_config_load on text already in memory; path is used in
 * messages and for resolving relative paths. */
int tb_config_load_string(const char *path, const char *text, tb_config **out,
                          tb_error *err);

/* Release a config; NULL is fine. */
void tb_config_free(tb_config *cfg);

/* Write the effective config as indented JSON, passwords masked. */
int tb_config_print(const tb_config *cfg, FILE *f, tb_error *err);

/* Write docs/configuration.md's content (generated from the property table). */
void tb_config_write_docs(FILE *f);

/* Return a copy of dsn with any password replaced by "****". Works for
 * libpq keyword/value strings, postgres:// and mysql:// URIs. The caller
 * frees the result; NULL on OOM. */
char *tb_dsn_mask(const char *dsn);

/* Parsed mysql://user:password@host:port/db?socket=PATH URI. Strings owned
 * by the struct; release with tb_myuri_free. */
typedef struct tb_myuri {
    char *user;     /* may be NULL */
    char *password; /* may be NULL; secret */
    char *host;     /* may be NULL when socket is set */
    unsigned port;  /* 0 = default 3306 */
    char *db;       /* may be NULL */
    char *socket;   /* unix socket path or NULL */
} tb_myuri;

int tb_myuri_parse(const char *uri, tb_myuri *out, tb_error *err);
void tb_myuri_free(tb_myuri *u);

/* Build a libpq conninfo from dsn plus an optional password (from
 * password_file). Caller frees; NULL on OOM or a dsn libpq cannot parse
 * (err says why, with the password masked). */
char *tb_pg_conninfo(const char *dsn, const char *password, tb_error *err);

#endif
