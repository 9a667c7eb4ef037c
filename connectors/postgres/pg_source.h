/*
 * pg_source.h - the PostgreSQL source connector (logical decoding with the
 * built-in pgoutput plugin over libpq's replication protocol).
 */
#ifndef TB_PG_SOURCE_H
#define TB_PG_SOURCE_H

#include "tb_source.h"

extern const tb_source_ops tb_pg_source_ops;

#endif
