/*
 * pg_sql.h - SQL text helpers of the PostgreSQL sink: quoted identifiers
 * and COPY text-format escaping.
 *
 * Pure byte-buffer functions with no libpq calls, so they are easy to reason
 * about and cheap on the hot path (the COPY escaper never allocates).
 */
#ifndef TB_PG_SQL_H
#define TB_PG_SQL_H

#include <stddef.h>

#include "tb_buf.h"

/* Append name as a double-quoted SQL identifier ("a""b" for a"b), so any
 * source name (mixed case, spaces, keywords) is taken literally. Returns 0
 * or -1 on OOM. */
int tb_pgsql_ident(tb_buf *b, const char *name);

/* Append "schema"."name". Returns 0 or -1 on OOM. */
int tb_pgsql_qualified(tb_buf *b, const char *schema, const char *name);

/* Append s as a standard-conforming SQL string literal ('it''s'). Returns 0
 * or -1 on OOM. */
int tb_pgsql_literal(tb_buf *b, const char *s);

/* Bytes that tb_pgsql_copy_escape() writes for s[0..n). */
size_t tb_pgsql_copy_len(const char *s, size_t n);

/* Write s[0..n) escaped for COPY text format into dst, which has room for
 * tb_pgsql_copy_len(s, n) bytes: backslash, tab, newline and carriage
 * return become \\, \t, \n, \r; everything else is copied. Returns the end
 * of what was written (no NUL is added). */
char *tb_pgsql_copy_escape(char *dst, const char *s, size_t n);

#endif
