/*
 * testutil.h - small helpers shared by the test programs: temp dirs, files,
 * running the tributary binary and capturing its output.
 */
#ifndef TB_TESTUTIL_H
#define TB_TESTUTIL_H

#include <stddef.h>

/* Create a fresh temp dir; returns a malloc'd path (caller frees). */
char *tu_tempdir(void);

/* Remove a dir tree (rm -rf); NULL is a no-op. */
void tu_rmtree(const char *path);

/* Write text to dir/name; returns malloc'd full path. Aborts on failure. */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* Result of running a command. */
typedef struct tu_run {
    int status; /* exit code, or 128+signal */
    char *out;  /* captured stdout (malloc'd, NUL-terminated) */
    char *err;  /* captured stderr */
} tu_run;

/* Run argv (argv[0] is a path) with stdout and stderr captured. */
tu_run tu_exec(char *const argv[]);

/* The whole content of a file (malloc'd, NUL-terminated), or NULL when it
 * cannot be read. */
char *tu_read_file(const char *path);

/* Start argv in the background with stdout and stderr appended to log.
 * Returns the child's pid. */
int tu_spawn(char *const argv[], const char *log);

/* Wait for pid; returns its exit code, or 128+signal. */
int tu_wait(int pid);

/* Run `tributary run --once -c config`, with TB_CRASH_AT=crash_at when
 * crash_at is not NULL (see include/tb_crash.h). */
tu_run tu_run_once(const char *config, const char *crash_at);

/* Free the captured output. */
void tu_run_free(tu_run *r);

/* Path of the tributary binary: $TB_BIN, else build/tributary. */
const char *tu_bin(void);

/* Does haystack contain needle? (NULL-safe) */
int tu_contains(const char *haystack, const char *needle);

#endif
