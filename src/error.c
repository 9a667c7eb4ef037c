/* error.c - the caller-owned error struct and its setters. */
#include "tb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tb_error_clear(tb_error *err)
{
    if (!err) return;
    err->code = TB_OK;
    err->retriable = false;
    err->fatal = false;
    err->msg[0] = '\0';
}

int tb_error_set(tb_error *err, tb_errcode code, const char *fmt, ...)
{
    va_list ap;
    if (!err) return -1;
    err->code = code;
    err->retriable = false;
    err->fatal = false;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tb_error_prefix(tb_error *err, const char *fmt, ...)
{
    char head[TB_ERROR_MSG_MAX];
    char old[TB_ERROR_MSG_MAX];
    va_list ap;
    if (!err) return -1;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Build piecewise: truncation is intended when the text is too long. */
    size_t n = strlen(head);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return -1;
}

int tb_error_retriable(tb_error *err)
{
    if (err) err->retriable = true;
    return -1;
}

int tb_error_fatal(tb_error *err)
{
    if (err) err->fatal = true;
    return -1;
}

const char *tb_error_code_name(tb_errcode code)
{
    static const char *const names[] = {
        [TB_OK] = "ok",
        [TB_ERR_INTERNAL] = "internal",
        [TB_ERR_NOMEM] = "out of memory",
        [TB_ERR_USAGE] = "usage",
        [TB_ERR_CONFIG] = "config",
        [TB_ERR_IO] = "io",
        [TB_ERR_CONNECT] = "connect",
        [TB_ERR_SOURCE] = "source",
        [TB_ERR_TARGET] = "target",
        [TB_ERR_SCHEMA] = "schema",
        [TB_ERR_DECODE] = "decode",
        [TB_ERR_UNSUPPORTED] = "unsupported",
        [TB_ERR_NOT_FOUND] = "not found",
        [TB_ERR_LOCKED] = "locked",
        [TB_ERR_INTERRUPTED] = "interrupted",
    };
    if ((unsigned)code >= sizeof names / sizeof names[0] || !names[code])
        return "unknown";
    return names[code];
}
