/* pg_sql.c - quoted identifiers, literals and COPY text escaping. */
#include "pg_sql.h"

#include <string.h>

int tb_pgsql_ident(tb_buf *b, const char *name)
{
    if (tb_buf_reserve(b, strlen(name) + 3) < 0) return -1;
    if (tb_buf_append(b, "\"", 1) < 0) return -1;
    for (const char *p = name; *p; p++) {
        if (*p == '"' && tb_buf_append(b, "\"", 1) < 0) return -1;
        if (tb_buf_append(b, p, 1) < 0) return -1;
    }
    return tb_buf_append(b, "\"", 1);
}

int tb_pgsql_qualified(tb_buf *b, const char *schema, const char *name)
{
    if (tb_pgsql_ident(b, schema) < 0 || tb_buf_append(b, ".", 1) < 0)
        return -1;
    return tb_pgsql_ident(b, name);
}

int tb_pgsql_literal(tb_buf *b, const char *s)
{
    if (tb_buf_append(b, "'", 1) < 0) return -1;
    for (const char *p = s; *p; p++) {
        if (*p == '\'' && tb_buf_append(b, "'", 1) < 0) return -1;
        if (tb_buf_append(b, p, 1) < 0) return -1;
    }
    return tb_buf_append(b, "'", 1);
}

/* The four bytes COPY text format treats specially; everything else
 * (including UTF-8 multibyte sequences) passes through unchanged. */
/* Escape letter of the bytes COPY text format escapes, 0 for the rest. */
static const char copy_esc[256] = {
    ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

size_t tb_pgsql_copy_len(const char *s, size_t n)
{
    size_t len = n;
    for (size_t i = 0; i < n; i++)
        len += copy_esc[(unsigned char)s[i]] != 0;
    return len;
}

char *tb_pgsql_copy_escape(char *dst, const char *s, size_t n)
{
    /* Copy runs of plain bytes at once: escapes are rare in real data. */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !copy_esc[(unsigned char)s[j]])
            j++;
        memcpy(dst, s + i, j - i);
        dst += j - i;
        if (j == n) break;
        *dst++ = '\\';
        *dst++ = copy_esc[(unsigned char)s[j]];
        i = j + 1;
    }
    return dst;
}
