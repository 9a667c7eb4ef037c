/*
 * main.c - the command line: parse the subcommand and its options, load the
 * config, and hand over to the module that does the work. Exit codes:
 * 0 success, 1 runtime failure, 2 usage or config error, 3 verify found
 * differences.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tb_config.h"
#include "tb_connectors.h"
#include "tb_log.h"
#include "tb_signals.h"

typedef struct command {
    const char *name;    /* subcommand */
    const char *args;    /* synopsis after the name */
    const char *summary; /* one line */
    const char *help;    /* option details */
    int (*run)(const struct command *cmd, int argc, char **argv);
} command;

static int cmd_run(const command *cmd, int argc, char **argv);
static int cmd_snapshot(const command *cmd, int argc, char **argv);
static int cmd_status(const command *cmd, int argc, char **argv);
static int cmd_verify(const command *cmd, int argc, char **argv);
static int cmd_schemas(const command *cmd, int argc, char **argv);
static int cmd_check_config(const command *cmd, int argc, char **argv);

static const command commands[] = {
    {"run", "-c FILE [--once]",
     "snapshot what is new, then stream changes to the target",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "      --once         exit 0 once caught up with the source position\n"
     "                     current at start\n",
     cmd_run},
    {"snapshot", "-c FILE [--table T]...", "(re)load tables from the source",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "  -t, --table T      only this table (repeatable)\n",
     cmd_snapshot},
    {"status", "-c FILE [--json]", "positions, lag, slot / binlog state",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "      --json         machine-readable output\n",
     cmd_status},
    {"verify", "-c FILE [--table T]...",
     "compare source and target; exit 0 equal, 3 different",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "  -t, --table T      only this table (repeatable)\n",
     cmd_verify},
    {"schemas", "-c FILE list | show SUBJECT [VERSION]",
     "list registry subjects, or print one schema",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "  list               subjects with their versions and schema ids\n"
     "  show SUBJECT [V]   the schema of version V (default: latest)\n",
     cmd_schemas},
    {"check-config", "-c FILE",
     "validate and print the effective config, secrets masked",
     "  -c, --config FILE  pipeline configuration (JSON)\n"
     "      --docs         print the configuration reference (Markdown)\n",
     cmd_check_config},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "tributary %s - change data capture: PostgreSQL and MySQL/MariaDB "
            "change logs\nto Avro events, a local schema registry, and "
            "warehouse or Kafka loaders.\n\nUsage: tributary COMMAND "
            "[OPTIONS]\n\nCommands:\n",
            TB_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  tributary COMMAND --help   options of one command\n"
               "  tributary --version\n\n"
               "Exit codes: 0 success, 1 runtime failure, 2 usage or config "
               "error, 3 verify found differences.\n");
}

static void command_usage(const command *cmd, FILE *f)
{
    fprintf(f, "Usage: tributary %s %s\n\n%s.\n\nOptions:\n%s", cmd->name,
            cmd->args, cmd->summary, cmd->help);
    fprintf(f, "  -h, --help         this help\n");
}

/* Options shared by every subcommand; flags a command does not take are
 * refused with a usage error. */
typedef struct opts {
    const char *config;     /* -c FILE */
    bool once;              /* --once */
    bool json;              /* --json */
    bool docs;              /* --docs */
    const char *tables[64]; /* --table T */
    int ntables;
    int first_arg; /* index of the first positional argument */
} opts;

enum { OPT_ONCE = 256, OPT_JSON, OPT_DOCS };

static int usage_error(const command *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "tributary %s: ", cmd->name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'tributary %s --help'.\n", cmd->name);
    return TB_EXIT_USAGE;
}

/* Parse argv for cmd. Returns -1 to go on, or an exit code to return. */
static int parse_opts(const command *cmd, int argc, char **argv, opts *o,
                      const char *allowed)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"table", required_argument, NULL, 't'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"docs", no_argument, NULL, OPT_DOCS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+c:t:h", longopts, NULL)) != -1) {
        const char *name = c == 'c'        ? "config"
                           : c == 't'      ? "table"
                           : c == OPT_ONCE ? "once"
                           : c == OPT_JSON ? "json"
                           : c == OPT_DOCS ? "docs"
                                           : NULL;
        if (c == 'h') {
            command_usage(cmd, stdout);
            return TB_EXIT_OK;
        }
        if (c == '?' || !name || !strstr(allowed, name)) {
            const char *bad = argv[optind - 1];
            return usage_error(cmd, "unknown option '%s'", bad);
        }
        switch (c) {
        case 'c':
            if (o->config)
                return usage_error(cmd, "-c given twice ('%s')", optarg);
            o->config = optarg;
            break;
        case 't':
            if (o->ntables == (int)(sizeof o->tables / sizeof o->tables[0]))
                return usage_error(cmd, "too many --table options (%s)",
                                   optarg);
            o->tables[o->ntables++] = optarg;
            break;
        case OPT_ONCE:
            o->once = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_DOCS:
            o->docs = true;
            break;
        }
    }
    o->first_arg = optind;
    if (!o->config && !o->docs)
        return usage_error(cmd, "missing -c FILE%s (the pipeline config)", "");
    return -1;
}

/* Load the config or print its error; returns NULL and sets *rc on error. */
static tb_config *load_config(const command *cmd, const char *path, int *rc)
{
    tb_config *cfg = NULL;
    tb_error err;
    tb_error_clear(&err);
    if (tb_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "tributary %s: %s\n", cmd->name, err.msg);
        *rc = TB_EXIT_CONFIG;
        return NULL;
    }
    tb_log_set_level(cfg->log.level);
    return cfg;
}

/*
 * Shared by the commands that need both connectors: a type the config
 * accepts but that is not compiled in yet is refused plainly, exit 1.
 */
static int require_connectors(const command *cmd, const tb_config *cfg)
{
    if (!tb_connectors_source(cfg->source.type)) {
        fprintf(stderr,
                "tributary %s: the %s source is not built yet in tributary "
                "%s; nothing was done.\n",
                cmd->name, cfg->source.type, TB_VERSION);
        return TB_EXIT_FAILURE;
    }
    if (!tb_connectors_sink(cfg->target.type)) {
        fprintf(stderr,
                "tributary %s: the %s target is not built yet in tributary "
                "%s; nothing was done.\n",
                cmd->name, cfg->target.type, TB_VERSION);
        return TB_EXIT_FAILURE;
    }
    return -1;
}

static int with_config(const command *cmd, int argc, char **argv,
                       const char *allowed,
                       int (*body)(const command *, tb_config *, opts *))
{
    opts o;
    int rc = parse_opts(cmd, argc, argv, &o, allowed);
    if (rc >= 0) return rc;
    if (o.first_arg < argc && strcmp(cmd->name, "schemas") != 0)
        return usage_error(cmd, "unexpected argument '%s'", argv[o.first_arg]);
    tb_config *cfg = load_config(cmd, o.config, &rc);
    if (!cfg) return rc;
    rc = body(cmd, cfg, &o);
    tb_config_free(cfg);
    return rc;
}

static int run_body(const command *cmd, tb_config *cfg, opts *o)
{
    int rc = require_connectors(cmd, cfg);
    if (rc >= 0) return rc;
    tb_signals_install();
    return tb_cli_run(cfg, o->once);
}

static int snapshot_body(const command *cmd, tb_config *cfg, opts *o)
{
    (void)o;
    int rc = require_connectors(cmd, cfg);
    if (rc >= 0) return rc;
    fprintf(stderr, "tributary snapshot: not built yet; nothing was done.\n");
    return TB_EXIT_FAILURE;
}

static void print_field(const char *label, json_t *v)
{
    if (!v) return;
    if (json_is_string(v))
        printf("  %-26s %s\n", label, json_string_value(v));
    else if (json_is_integer(v))
        printf("  %-26s %lld\n", label, (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        printf("  %-26s %s\n", label, json_is_true(v) ? "yes" : "no");
    else if (json_is_real(v))
        printf("  %-26s %.1f\n", label, json_real_value(v));
}

static int status_body(const command *cmd, tb_config *cfg, opts *o)
{
    int rc = require_connectors(cmd, cfg);
    if (rc >= 0) return rc;
    const tb_source_ops *src = tb_connectors_source(cfg->source.type);
    const tb_sink_ops *snk = tb_connectors_sink(cfg->target.type);
    tb_error err;
    tb_position pos = {{0}};
    tb_error_clear(&err);
    json_t *out = json_object();
    json_object_set_new(out, "pipeline", json_string(cfg->name));
    if (!snk->committed || !src->status) {
        fprintf(stderr, "tributary status: not available for %s -> %s\n",
                cfg->source.type, cfg->target.type);
        json_decref(out);
        return TB_EXIT_FAILURE;
    }
    if (snk->committed(cfg, &pos, out, &err) < 0 ||
        src->status(cfg, &pos, out, &err) < 0) {
        fprintf(stderr, "tributary status: %s\n", err.msg);
        json_decref(out);
        return TB_EXIT_FAILURE;
    }
    json_object_set_new(out, "committed_position",
                        pos.text[0] ? json_string(pos.text) : json_null());
    /* Caught up means no lag, however old the last change is. */
    json_t *lb = json_object_get(out, "lag_bytes");
    if (lb && json_integer_value(lb) == 0 &&
        json_object_get(out, "lag_seconds"))
        json_object_set_new(out, "lag_seconds", json_real(0));
    if (o->json) {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        printf("pipeline %s (%s -> %s)\n", cfg->name, cfg->source.type,
               cfg->target.type);
        const char *key;
        json_t *v;
        json_object_foreach(out, key, v)
        {
            if (strcmp(key, "pipeline") == 0) continue;
            if (json_is_null(v)) {
                printf("  %-26s (none)\n", key);
                continue;
            }
            print_field(key, v);
        }
    }
    json_decref(out);
    return TB_EXIT_OK;
}

static int verify_body(const command *cmd, tb_config *cfg, opts *o)
{
    (void)o;
    int rc = require_connectors(cmd, cfg);
    if (rc >= 0) return rc;
    fprintf(stderr, "tributary verify: not built yet (a later issue); "
                    "nothing was compared.\n");
    return TB_EXIT_FAILURE;
}

static int check_config_body(const command *cmd, tb_config *cfg, opts *o)
{
    (void)cmd;
    (void)o;
    tb_error err;
    tb_error_clear(&err);
    if (tb_config_print(cfg, stdout, &err) < 0) {
        fprintf(stderr, "tributary check-config: %s\n", err.msg);
        return TB_EXIT_FAILURE;
    }
    fprintf(stderr, "%s: configuration is valid\n", cfg->path);
    return TB_EXIT_OK;
}

static int cmd_run(const command *cmd, int argc, char **argv)
{
    return with_config(cmd, argc, argv, "config once", run_body);
}

static int cmd_snapshot(const command *cmd, int argc, char **argv)
{
    return with_config(cmd, argc, argv, "config table", snapshot_body);
}

static int cmd_status(const command *cmd, int argc, char **argv)
{
    return with_config(cmd, argc, argv, "config json", status_body);
}

static int cmd_verify(const command *cmd, int argc, char **argv)
{
    return with_config(cmd, argc, argv, "config table", verify_body);
}

static int cmd_schemas(const command *cmd, int argc, char **argv)
{
    opts o;
    int rc = parse_opts(cmd, argc, argv, &o, "config");
    if (rc >= 0) return rc;
    int npos = argc - o.first_arg;
    char **pos = argv + o.first_arg;
    if (npos == 0)
        return usage_error(cmd, "missing action: list or show SUBJECT%s", "");
    if (strcmp(pos[0], "list") == 0) {
        if (npos != 1)
            return usage_error(cmd, "list takes no argument ('%s')", pos[1]);
    } else if (strcmp(pos[0], "show") == 0) {
        if (npos < 2 || npos > 3)
            return usage_error(cmd, "usage: show SUBJECT [VERSION]%s", "");
    } else {
        return usage_error(cmd, "unknown action '%s' (expected list or show)",
                           pos[0]);
    }
    tb_config *cfg = load_config(cmd, o.config, &rc);
    if (!cfg) return rc;
    rc = tb_cli_schemas(cfg, npos, pos);
    tb_config_free(cfg);
    return rc;
}

static int cmd_check_config(const command *cmd, int argc, char **argv)
{
    opts o;
    int rc = parse_opts(cmd, argc, argv, &o, "config docs");
    if (rc >= 0) return rc;
    if (o.docs) {
        tb_config_write_docs(stdout);
        return TB_EXIT_OK;
    }
    if (o.first_arg < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[o.first_arg]);
    return with_config(cmd, argc, argv, "config docs", check_config_body);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TB_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return TB_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("tributary %s\n", TB_VERSION);
        return TB_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(&commands[i], argc - 1, argv + 1);
    fprintf(stderr,
            "tributary: unknown command '%s'\nTry 'tributary --help'.\n", name);
    return TB_EXIT_USAGE;
}
