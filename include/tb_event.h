/*
 * tb_event.h - the event model every connector shares.
 *
 * A source turns its change log into tb_change values over tb_table shapes;
 * the core checks each shape against the schema registry and encodes changes
 * as Avro (src/avro_*.c); sinks apply them. Nothing here knows a database.
 *
 * Ownership: a tb_table is owned by the source that describes it and lives
 * until the source closes or replaces it (a replaced shape gets a new
 * tb_table; the old one stays valid until the batch that used it committed).
 * Values of a tb_change (strings, bytes) point into memory owned by the
 * producer of the change and are valid only during the call that receives
 * the change (tb_emit.change, tb_sink_ops.apply): a consumer that keeps a
 * value past that call copies it. This keeps the source's memory bounded
 * however large a batch grows.
 */
#ifndef TB_EVENT_H
#define TB_EVENT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Logical kind of a column: decides the Avro type and the in-memory value
 * representation. docs/types.md maps every source type onto one of these.
 */
typedef enum tb_kind {
    TB_KIND_BOOLEAN = 0, /* avro boolean; value.u.b */
    TB_KIND_INT,         /* avro int (32-bit); value.u.i */
    TB_KIND_LONG,        /* avro long; value.u.i */
    TB_KIND_FLOAT,       /* avro float; value.u.d */
    TB_KIND_DOUBLE,      /* avro double; value.u.d */
    TB_KIND_DECIMAL,     /* avro bytes, logicalType decimal(precision, scale);
                            value.u.s = plain decimal text "-12.50"; when
                            column.decimal_specials, also "NaN", "Infinity",
                            "-Infinity" (carried in a string union branch) */
    TB_KIND_STRING,      /* avro string (UTF-8); value.u.s */
    TB_KIND_BYTES,       /* avro bytes; value.u.s with len, may hold NULs */
    TB_KIND_DATE,        /* avro int, logicalType date: days since 1970-01-01;
                            INT32_MAX / INT32_MIN stand for +/-infinity */
    TB_KIND_TIME_MICROS, /* avro long, logicalType time-micros, 0..86400e6 */
    TB_KIND_TIMESTAMP_MICROS,       /* avro long, timestamp-micros: UTC instant;
                                       INT64_MAX / INT64_MIN = +/-infinity */
    TB_KIND_LOCAL_TIMESTAMP_MICROS, /* avro long, local-timestamp-micros:
                                       wall-clock value, never shifted */
    TB_KIND_DURATION_MICROS, /* avro long, signed microseconds (MySQL TIME,
                                negative and > 24h allowed) */
    TB_KIND_UUID,            /* avro string, logicalType uuid; value.u.s text */
    TB_KIND_JSON,            /* avro string holding a JSON document */
    TB_KIND_BITS, /* avro string of '0'/'1', most significant first */
    TB_KIND_SET,  /* avro array of strings; value.u.s holds the
                     members joined by ',' (MySQL SET) */
    TB_KIND__COUNT
} tb_kind;

/* Name of a kind for messages and docs, e.g. "timestamp-micros". */
const char *tb_kind_name(tb_kind k);

/* One column of a table shape. All strings are owned by the tb_table. */
typedef struct tb_column {
    char *name;        /* column name as in the source */
    char *source_type; /* source's own spelling, e.g. "numeric(12,2)",
                          "bigint unsigned", "varchar(40)" */
    char *target_type; /* PostgreSQL warehouse type, e.g. "numeric(20,0)" */
    tb_kind kind;      /* logical kind, decides Avro type and value layout */
    int precision;     /* decimal precision, bit length for BITS, else 0 */
    int scale;         /* decimal scale, fractional second digits, else 0 */
    bool nullable;     /* NULL allowed: Avro ["null", T] */
    bool key;          /* part of the primary key / replica identity */
    bool decimal_specials; /* DECIMAL may carry NaN / +-Infinity (PostgreSQL) */
    uint32_t type_id; /* source-specific type id (PostgreSQL OID, MySQL type
                         byte); 0 when unknown */
    int32_t type_mod; /* source-specific modifier (PostgreSQL atttypmod) */
} tb_column;

/* The shape of one source table at one point of its history. */
typedef struct tb_table {
    char *db;           /* source database name */
    char *schema;       /* PostgreSQL namespace; MySQL database */
    char *name;         /* table name */
    int ncols;          /* number of columns */
    tb_column *cols;    /* ncols columns in source order */
    uint32_t source_id; /* source-specific id (relation OID, MySQL table id) */
    int schema_id;      /* registry global id of the row schema, -1 if none */
    int version;        /* registry subject version, -1 if none */
    void *user;         /* free for the core (e.g. cached codec); not owned */
} tb_table;

/* Allocate an empty table shape with ncols zeroed columns; NULL on OOM.
 * Strings passed to tb_table_set_names / columns are copied. */
tb_table *tb_table_new(const char *db, const char *schema, const char *name,
                       int ncols);
/* Set column i; copies the strings. -1 on OOM. */
int tb_table_set_column(tb_table *t, int i, const char *name,
                        const char *source_type, const char *target_type,
                        tb_kind kind, int precision, int scale, bool nullable,
                        bool key);
/* Deep copy; NULL on OOM. */
tb_table *tb_table_clone(const tb_table *t);
/* Free a table and everything it owns. NULL is fine. */
void tb_table_free(tb_table *t);
/* Same columns (names, kinds, types, nullability, keys) in the same order. */
bool tb_table_same_shape(const tb_table *a, const tb_table *b);
/* Number of key columns. */
int tb_table_nkeys(const tb_table *t);

/* State of one value. UNCHANGED means "the source did not send it" (e.g.
 * PostgreSQL's unchanged TOAST value): distinct from NULL, and a loader must
 * keep the stored value. */
typedef enum tb_value_state {
    TB_VALUE_NULL = 0,
    TB_VALUE_SET = 1,
    TB_VALUE_UNCHANGED = 2
} tb_value_state;

/* One column value; 16 bytes, no heap of its own. */
typedef struct tb_value {
    uint8_t state; /* tb_value_state */
    uint32_t len;  /* byte length of u.s (strings are also NUL-terminated) */
    union {
        int64_t i;     /* INT, LONG, DATE, TIME, TIMESTAMP, DURATION */
        double d;      /* FLOAT, DOUBLE */
        bool b;        /* BOOLEAN */
        const char *s; /* DECIMAL, STRING, BYTES, UUID, JSON, BITS, SET */
    } u;
} tb_value;

/* Operation codes, the characters of Debezium's envelope. */
typedef enum tb_op {
    TB_OP_CREATE = 'c',
    TB_OP_UPDATE = 'u',
    TB_OP_DELETE = 'd',
    TB_OP_READ = 'r', /* a row read by a snapshot */
    TB_OP_TRUNCATE = 't',
    /* A resumed copy's sweep, in a snapshot part (after: its key columns):
     * this key exists at the copy's snapshot. Every row of the table whose
     * key no 'k' of the same target transaction named is gone: the sink
     * deletes it before that transaction commits. The sweep starts with a
     * 'k' whose after is NULL (no key: a table that is empty now is swept
     * too). Not an event: never encoded. */
    TB_OP_KEEP = 'k'
} tb_op;

/* Where a change came from: the envelope's `source` block. */
typedef struct tb_source_info {
    const char *connector; /* "postgresql", "mysql" */
    const char *name;      /* pipeline name from the config */
    const char *db;        /* source database */
    const char *position;  /* source position as text (LSN, GTID, file:pos) */
    int64_t txid;          /* source transaction id, -1 when unknown */
    int64_t commit_us;     /* commit time, microseconds since the epoch */
    bool snapshot;         /* produced by a snapshot, not the change log */
    bool replayed;         /* snapshot row of a copy resumed range by
                              range: the target may already hold this row
                              or an older state of it, so it is merged
                              (an upsert), not loaded straight in */
} tb_source_info;

/* One row change. before/after hold table->ncols values or are NULL:
 * c: after only; u: after, and before when the source sent the old row or
 * key; d: before (at least the key); r: after; t: neither. */
typedef struct tb_change {
    tb_op op;
    const tb_table *table;
    const tb_value *before;
    const tb_value *after;
    tb_source_info source;
    int64_t ts_ms; /* when tributary processed it, ms since epoch */
} tb_change;

/* c becomes a snapshot row (op 'r') of t with values after, read at
 * position (kept by pointer) in pipeline name, committed at commit_us. */
void tb_change_init_read(tb_change *c, const tb_table *t, const tb_value *after,
                         const char *connector, const char *name,
                         const char *db, const char *position,
                         int64_t commit_us);

/* Reusable before/after value arrays a source fills for one change. */
typedef struct tb_rowbuf {
    tb_value *before; /* cap values */
    tb_value *after;  /* cap values */
    int cap;          /* capacity of both arrays */
} tb_rowbuf;

/* Make both arrays hold at least n values; -1 on OOM (arrays unchanged). */
int tb_rowbuf_reserve(tb_rowbuf *b, int n);
/* Release the arrays; the struct is empty and reusable afterwards. */
void tb_rowbuf_free(tb_rowbuf *b);

/* Shapes a source replaced but that changes held by a sink may still point
 * to: kept until the source closes, then freed together. */
typedef struct tb_shapes {
    tb_table **v; /* owned tables */
    int n, cap;   /* used and allocated entries */
} tb_shapes;

/* Take ownership of t (NULL is a no-op). On OOM t is freed and -1 returned:
 * only safe when nothing references t any more, so callers stop then. */
int tb_shapes_keep(tb_shapes *s, tb_table *t);
/* Free every kept table. */
void tb_shapes_free(tb_shapes *s);

#endif
