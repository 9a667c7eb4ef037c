/*
 * my_source.h - the MySQL/MariaDB source connector: an initial consistent
 * snapshot, then the row-based binary log read as a replica through
 * MariaDB Connector/C's mariadb_rpl API. docs/mysql.md describes setup,
 * positions, DDL handling and zero dates.
 */
#ifndef TB_MY_SOURCE_H
#define TB_MY_SOURCE_H

#include "tb_source.h"

extern const tb_source_ops tb_mysql_source_ops;

#endif
