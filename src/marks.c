/* marks.c - the list of snapshot marks (tb_snapshot.h). */
#include <stdlib.h>
#include <string.h>

#include "tb_snapshot.h"

int tb_marks_add(tb_marks *m, const char *key, const char *value)
{
    if (strlen(key) >= TB_MARK_KEY_MAX || strlen(value) >= TB_POSITION_MAX)
        return -1;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 16;
        tb_mark *v = realloc(m->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        m->v = v;
        m->cap = cap;
    }
    tb_mark *k = &m->v[m->n++];
    strcpy(k->key, key);
    strcpy(k->value, value);
    return 0;
}

const char *tb_marks_get(const tb_marks *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0) return m->v[i].value;
    return NULL;
}

void tb_marks_free(tb_marks *m)
{
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}
