/*
 * tb_error.h - the one error convention of tributary.
 *
 * Every fallible function returns int (0 on success, -1 on failure) and fills
 * a caller-owned tb_error through tb_error_set(). The struct lives on the
 * caller's stack; nothing in it is heap-allocated, so there is nothing to free.
 * Messages never contain secrets (callers mask DSNs before formatting them).
 */
#ifndef TB_ERROR_H
#define TB_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/* Error codes: broad classes, enough for the CLI to pick an exit code and for
 * the pipeline to decide whether to retry. */
typedef enum tb_errcode {
    TB_OK = 0,
    TB_ERR_INTERNAL,    /* a bug or an impossible state */
    TB_ERR_NOMEM,       /* allocation failed */
    TB_ERR_USAGE,       /* bad command line */
    TB_ERR_CONFIG,      /* bad configuration: exit code 2 */
    TB_ERR_IO,          /* local file system */
    TB_ERR_CONNECT,     /* a database or broker cannot be reached */
    TB_ERR_SOURCE,      /* the source database refused or failed */
    TB_ERR_TARGET,      /* the target database refused or failed */
    TB_ERR_SCHEMA,      /* schema registry: incompatible or corrupt schema */
    TB_ERR_DECODE,      /* corrupt or unsupported bytes from a wire or a file */
    TB_ERR_UNSUPPORTED, /* a type, event or feature we do not handle */
    TB_ERR_NOT_FOUND,   /* a named thing (subject, version, table) is missing */
    TB_ERR_LOCKED,      /* another process holds a lock we need */
    TB_ERR_INTERRUPTED  /* stopped by a signal; not a failure */
} tb_errcode;

#define TB_ERROR_MSG_MAX 1024

typedef struct tb_error {
    tb_errcode code;            /* class of the failure, TB_OK when none */
    bool retriable;             /* the same call may succeed later (network) */
    bool fatal;                 /* the pipeline cannot go on without a human */
    char msg[TB_ERROR_MSG_MAX]; /* human-readable, no trailing newline */
} tb_error;

/* Reset err to "no error". */
void tb_error_clear(tb_error *err);

/* Fill err (may be NULL) with code and a printf-style message. The message is
 * truncated to TB_ERROR_MSG_MAX - 1 bytes. Always returns -1 so callers can
 * write `return tb_error_set(err, ...)`. */
int tb_error_set(tb_error *err, tb_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message: "context: old message". Returns -1.
 */
int tb_error_prefix(tb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Mark err retriable / fatal; returns -1 for chaining in return statements. */
int tb_error_retriable(tb_error *err);
int tb_error_fatal(tb_error *err);

/* Short name of a code, e.g. "config". Static string. */
const char *tb_error_code_name(tb_errcode code);

#endif
