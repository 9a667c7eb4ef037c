/* connectors.c - registry of source and sink connectors (one line each). */
#include "tb_connectors.h"

#include <string.h>

#include "../connectors/mysql/my_source.h"
#include "../connectors/postgres/pg_sink.h"
#include "../connectors/postgres/pg_source.h"

/* Sources and sinks built into this binary. A config type missing here is
 * accepted by the config contract but refused at run time as not built. */
static const tb_source_ops *const sources[] = {
    &tb_pg_source_ops,
    &tb_mysql_source_ops,
    NULL,
};

static const tb_sink_ops *const sinks[] = {
    &tb_pg_sink_ops,
    NULL,
};

const tb_source_ops *tb_connectors_source(const char *type)
{
    for (size_t i = 0; sources[i]; i++)
        if (strcmp(sources[i]->type, type) == 0) return sources[i];
    return NULL;
}

const tb_sink_ops *tb_connectors_sink(const char *type)
{
    for (size_t i = 0; sinks[i]; i++)
        if (strcmp(sinks[i]->type, type) == 0) return sinks[i];
    return NULL;
}
