/*
 * tb_snapshot.h - the parallel, resumable initial copy.
 *
 * A source splits its initial copy into parts (a whole table, or a range
 * of one); the core (src/snapshot.c) runs the parts on several workers,
 * each with its own sink session, and every part commits in its own target
 * transaction together with a mark: the part's key and the source position
 * its copy is consistent with. Marks survive a crash. The next run hands
 * them back to the source, which plans only what is still missing and,
 * while streaming, skips each table's changes that its copy already holds.
 *
 * Flow (core):
 *   1. source.open(), sink.open(); sink.marks() -> done
 *   2. source.snapshot_plan(done) -> plan (nothing to copy: nparts == 0)
 *   3. one target transaction: prepare + TRUNCATE each plan table (a kept
 *      one instead gets load_end: its copy goes on), delete plan.stale
 *      marks (all of them when plan.reset), store plan.marks, commit(NULL)
 *   4. workers: own sink session each; for each part: snapshot_copy() emits
 *      begin, rows (op 'r'), commit; the commit stores mark(part.key,
 *      tx.end.text) and commits (NULL position) in one target transaction
 *   5. all parts in: one target transaction commits plan.end as the
 *      pipeline position; snapshot_end(); streaming starts
 */
#ifndef TB_SNAPSHOT_H
#define TB_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "tb_event.h"
#include "tb_position.h"

#define TB_MARK_KEY_MAX 160

/* One committed mark: a finished snapshot part, or source bookkeeping. */
typedef struct tb_mark {
    char key[TB_MARK_KEY_MAX];   /* e.g. "public.orders#2/6" */
    char value[TB_POSITION_MAX]; /* source position text */
} tb_mark;

/* A growable list of marks. */
typedef struct tb_marks {
    tb_mark *v; /* n used entries */
    int n, cap; /* used and allocated */
} tb_marks;

/* Append (key, value); -1 on OOM or a key/value too long. */
int tb_marks_add(tb_marks *m, const char *key, const char *value);
/* Value stored under key, NULL when absent. */
const char *tb_marks_get(const tb_marks *m, const char *key);
/* Release the entries; the list is empty and reusable afterwards. */
void tb_marks_free(tb_marks *m);

/* One unit of copy work. */
typedef struct tb_snap_part {
    char key[TB_MARK_KEY_MAX]; /* stable, unique within the pipeline: the
                                  mark key written when the part commits */
    tb_table *table;           /* the table it copies (owned by the source) */
    int64_t est_rows;          /* estimate for progress; 0 when unknown */
} tb_snap_part;

/* What the source still has to copy. Arrays are owned by the source and
 * live until snapshot_end(). */
typedef struct tb_snap_plan {
    tb_table **tables; /* tables copied (again): registered, prepared and
                          emptied in the target before any part runs */
    bool *keep;        /* NULL, or aligned with tables: true for a table
                          whose copy goes on where it stopped: not emptied,
                          made ready for merging (sink load_end), and its
                          parts' rows come marked source.replayed */
    int ntables;
    tb_snap_part *parts; /* parts to copy, any order, any worker */
    int nparts;
    char **stale; /* mark keys to delete before the copy */
    int nstale;
    bool reset;      /* delete every mark first (a fresh snapshot) */
    char **marks;    /* extra bookkeeping marks to store with the
                        emptying transaction: key, value, key, value... */
    int nmarks;      /* number of key/value pairs in marks */
    tb_position end; /* pipeline position once every part is in */
    int workers;     /* workers the source prepared (>= 1); the core
                        runs at most this many at once */
} tb_snap_plan;

#endif
