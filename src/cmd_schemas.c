/*
 * cmd_schemas.c - `tributary schemas -c FILE list | show SUBJECT [VERSION]`.
 * Reads the registry without taking the writer lock, so it works while an
 * agent is running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tb_registry.h"

static int print_entry(void *ctx, const tb_registry_entry *e, tb_error *err)
{
    (void)err;
    int *n = ctx;
    printf("%-50s version %-4d id %-6d fingerprint %016llx\n", e->subject,
           e->version, e->id, (unsigned long long)e->fingerprint);
    (*n)++;
    return 0;
}

int tb_cli_schemas(const tb_config *cfg, int nargs, char **args)
{
    tb_registry *reg = NULL;
    tb_error err;
    int rc = TB_EXIT_FAILURE;
    tb_error_clear(&err);

    if (tb_registry_open(cfg->registry.path, TB_COMPAT_UNSET, TB_REGISTRY_READ,
                         &reg, &err) < 0) {
        if (err.code == TB_ERR_NOT_FOUND && strcmp(args[0], "list") == 0) {
            printf("no schemas registered yet (registry %s does not exist)\n",
                   cfg->registry.path);
            return TB_EXIT_OK;
        }
        goto fail;
    }
    if (strcmp(args[0], "list") == 0) {
        int n = 0;
        if (tb_registry_list(reg, print_entry, &n, &err) < 0) goto fail;
        if (n == 0) printf("no schemas registered yet\n");
        rc = TB_EXIT_OK;
    } else {
        const char *schema = NULL;
        int id = 0, version = 0, want = 0;
        if (nargs == 3) {
            char *end = NULL;
            long v = strtol(args[2], &end, 10);
            if (!end || *end || v < 1 || v > 1000000) {
                fprintf(stderr,
                        "tributary schemas: VERSION must be a positive "
                        "number, got '%s'\n",
                        args[2]);
                tb_registry_close(reg);
                return TB_EXIT_USAGE;
            }
            want = (int)v;
        }
        if (tb_registry_lookup(reg, args[1], want, &schema, &id, &version,
                               &err) < 0)
            goto fail;
        printf("# subject %s version %d id %d\n%s\n", args[1], version, id,
               schema);
        rc = TB_EXIT_OK;
    }
    tb_registry_close(reg);
    return rc;
fail:
    fprintf(stderr, "tributary schemas: %s\n", err.msg);
    tb_registry_close(reg);
    return TB_EXIT_FAILURE;
}
