/*
 * tb_registry.h - the local Avro schema registry.
 *
 * Subjects are named "<name>.<schema>.<table>-value"; each has versions 1, 2,
 * 3, ... Every distinct schema (by extended canonical form, see tb_compat.h)
 * gets a global id 1, 2, 3, ... that never changes and is never reused; the
 * same schema under two subjects shares one id, as in Confluent's registry.
 *
 * Storage is a directory of plain files (docs/registry.md):
 *   index.json                      subjects, versions, ids, fingerprints,
 *                                   compatibility modes
 *   subjects/<subject>/v<N>.avsc    the original schema, pretty-printed
 *   lock                            flock()ed by the one writer; holds its pid
 * Every file is replaced atomically (temp file, fsync, rename, fsync dir), the
 * .avsc before the index, so readers (who take no lock) always see a
 * consistent index and a crash leaves the previous state readable.
 *
 * A tb_registry handle is not thread-safe; one thread at a time.
 */
#ifndef TB_REGISTRY_H
#define TB_REGISTRY_H

#include <stdint.h>

#include "tb_compat.h"
#include "tb_error.h"

typedef struct tb_registry tb_registry;

/* How a registry is opened. */
typedef enum tb_registry_access {
    TB_REGISTRY_READ = 0, /* lookups only, no lock taken */
    TB_REGISTRY_WRITE = 1 /* registrations too; takes the writer lock */
} tb_registry_access;

/* One registered version, as passed to a tb_registry_list() callback. */
typedef struct tb_registry_entry {
    const char *subject;  /* subject name (borrowed, valid until close) */
    int version;          /* 1, 2, 3, ... within the subject */
    int id;               /* global schema id */
    uint64_t fingerprint; /* Rabin fingerprint of the extended canonical form */
    const char *schema;   /* pretty-printed schema JSON (borrowed) */
} tb_registry_entry;

/* Callback of tb_registry_list(): return 0 to go on, -1 to stop (then fill
 * err, which tb_registry_list passes through). */
typedef int (*tb_registry_visit_fn)(void *ctx, const tb_registry_entry *e,
                                    tb_error *err);

/*
 * Open the registry stored in directory path. default_mode is the
 * registry-wide compatibility default for this handle; TB_COMPAT_UNSET keeps
 * the stored one (BACKWARD for a new registry). With TB_REGISTRY_WRITE the
 * directory is created if missing, the writer lock is taken (a second writer
 * fails at once with TB_ERR_LOCKED naming the holder's pid), a default_mode
 * different from the stored one is saved, and stale temp files of a crashed
 * writer are removed. With TB_REGISTRY_READ a missing directory is
 * TB_ERR_NOT_FOUND and a directory without index.json is an empty registry.
 * A corrupt index.json or .avsc fails the open (TB_ERR_SCHEMA, naming the
 * file and the problem) in both modes, so nothing is ever written over it.
 * A directory that cannot be written fails a WRITE open with TB_ERR_IO.
 * On success *out is owned by the caller: release it with tb_registry_close.
 */
int tb_registry_open(const char *path, tb_compat_mode default_mode,
                     tb_registry_access acc, tb_registry **out, tb_error *err);

/* Release the lock (if any) and all memory; NULL is a no-op. Every string
 * borrowed from the registry becomes invalid. */
void tb_registry_close(tb_registry *reg);

/*
 * Register schema_json (Avro schema text) under subject. If the subject
 * already has a version with the same extended canonical form, its id and
 * version are returned and nothing is written. Otherwise the schema is
 * checked against the subject's compatibility mode (TB_ERR_SCHEMA naming
 * every offending field when refused), gets an id (an existing one when the
 * same schema is registered under another subject) and the next version,
 * and is stored durably before this returns. id and version may be NULL.
 * Needs TB_REGISTRY_WRITE (TB_ERR_USAGE otherwise). Errors: TB_ERR_SCHEMA
 * (bad JSON or schema, incompatible), TB_ERR_CONFIG (bad subject name),
 * TB_ERR_IO, TB_ERR_NOMEM.
 */
int tb_registry_register(tb_registry *reg, const char *subject,
                         const char *schema_json, int *id, int *version,
                         tb_error *err);

/*
 * Look up version `version` of subject (the latest when version <= 0).
 * *schema_json gets the pretty-printed schema text, borrowed from the
 * registry and valid until tb_registry_close (do not free it). id and
 * version_out may be NULL. TB_ERR_NOT_FOUND for an unknown subject or
 * version (the message lists the versions that exist).
 */
int tb_registry_lookup(tb_registry *reg, const char *subject, int version,
                       const char **schema_json, int *id, int *version_out,
                       tb_error *err);

/* Schema text of global id `id` (borrowed until close, like lookup's).
 * TB_ERR_NOT_FOUND when no schema has that id. */
int tb_registry_get_by_id(tb_registry *reg, int id, const char **schema_json,
                          tb_error *err);

/* Call fn for every version of every subject, subjects in byte order of their
 * names, versions ascending. Returns 0, or -1 when fn returned -1. */
int tb_registry_list(tb_registry *reg, tb_registry_visit_fn fn, void *ctx,
                     tb_error *err);

/*
 * Set the compatibility mode of subject, or the registry-wide default when
 * subject is NULL. For a subject, TB_COMPAT_UNSET removes its own setting so
 * it follows the default again. A subject need not have versions yet. Saved
 * to the index at once; needs TB_REGISTRY_WRITE.
 */
int tb_registry_set_compat(tb_registry *reg, const char *subject,
                           tb_compat_mode mode, tb_error *err);

/* The mode in effect for subject (its own, else the registry default), or
 * the registry default when subject is NULL. Never returns TB_COMPAT_UNSET. */
tb_compat_mode tb_registry_get_compat(const tb_registry *reg,
                                      const char *subject);

/* Check a subject name: "<name>.<schema>.<table>-value" (or "-key"), no '/',
 * no control characters, not starting with '.'. TB_ERR_CONFIG if bad. */
int tb_registry_subject_check(const char *subject, tb_error *err);

/* ---- storage primitives (src/registry_store.c), used by registry.c ---- */

/*
 * Atomically replace dir/name with len bytes of data: write a temp file in
 * dir, fsync it, rename it over dir/name, fsync dir. On failure the old file
 * is untouched. Test hook: when the environment variable
 * TB_REGISTRY_CRASH_AT is "before_rename", the process kills itself with
 * SIGKILL after the fsync and before the rename (see tb_store_crash_point).
 */
int tb_store_write_atomic(const char *dir, const char *name, const void *data,
                          size_t len, tb_error *err);

/* Read a whole file into a new NUL-terminated buffer (*data, caller frees).
 * TB_ERR_NOT_FOUND if it does not exist, TB_ERR_IO otherwise. */
int tb_store_read_file(const char *path, char **data, size_t *len,
                       tb_error *err);

/* mkdir -p path (mode 0755), fsyncing each parent that got a new entry. */
int tb_store_mkdirs(const char *path, tb_error *err);

/* Take the writer lock dir/lock (flock, non-blocking) and write our pid into
 * it. *fd gets the open descriptor, to pass to tb_store_unlock. Another
 * holder: TB_ERR_LOCKED naming its pid; no write permission: TB_ERR_IO
 * saying the path needs write permission. */
int tb_store_lock(const char *dir, int *fd, tb_error *err);

/* Release a lock taken by tb_store_lock; fd < 0 is a no-op. */
void tb_store_unlock(int fd);

/* Remove temp files left in dir by a writer that crashed mid-write. */
void tb_store_clean_temps(const char *dir);

/* Fault injection for tests: SIGKILL the process when the environment
 * variable TB_REGISTRY_CRASH_AT equals point (e.g. "before_rename",
 * "before_index"). No effect otherwise. */
void tb_store_crash_point(const char *point);

#endif
