/*
 * pg_sink.h - the PostgreSQL sink (loader), mirror mode.
 *
 * Keeps target tables equal to the source tables: rows are buffered per
 * table and collapsed to their net effect per primary key, loaded with COPY
 * into a session-local staging table and merged with set-based SQL; tables
 * without a key are changed one matching row at a time with prepared
 * statements. The source position is written to <schema>._tributary_state
 * in the same transaction as the data. docs/loader.md explains the design.
 */
#ifndef TB_PG_SINK_H
#define TB_PG_SINK_H

#include "tb_sink.h"

/* The sink's ops table (type "postgres"); registered in src/connectors.c. */
extern const tb_sink_ops tb_pg_sink_ops;

#endif
