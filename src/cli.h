/*
 * cli.h - what the command line calls in the core (internal to src/).
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdbool.h>

#include "tb_config.h"

/* Process exit codes of the tributary command. */
enum tb_exit {
    TB_EXIT_OK = 0,       /* success */
    TB_EXIT_FAILURE = 1,  /* runtime failure */
    TB_EXIT_USAGE = 2,    /* bad command line */
    TB_EXIT_CONFIG = 2,   /* bad configuration */
    TB_EXIT_DIFFERENT = 3 /* verify found differences */
};

/* `tributary run`: stream until stopped (or caught up with --once).
 * Returns an exit code. */
int tb_cli_run(const tb_config *cfg, bool once);

/* `tributary schemas`: args[0] is "list" or "show", then SUBJECT [VERSION].
 * Returns an exit code. */
int tb_cli_schemas(const tb_config *cfg, int nargs, char **args);

#endif
