/*
 * tb_connectors.h - the one place connectors are registered.
 *
 * src/connectors.c holds a table per kind; adding a connector is one line
 * there plus its folder under connectors/. Lookups return NULL for a type
 * the config accepts but that is not built yet.
 */
#ifndef TB_CONNECTORS_H
#define TB_CONNECTORS_H

#include "tb_sink.h"
#include "tb_source.h"

const tb_source_ops *tb_connectors_source(const char *type);
const tb_sink_ops *tb_connectors_sink(const char *type);

#endif
