/*
 * binlog.h - MySQL / MariaDB binary log event decoder (byte buffers only).
 *
 * The decoder never talks to a server: the reader hands it one whole event
 * (19-byte v4 header + body + optional 4-byte CRC32) and gets back a decoded
 * struct. Layouts follow the MariaDB KB replication-protocol pages and
 * MySQL's libbinlogevents; see binlog.c for the per-event notes.
 *
 * Ownership and lifetime:
 *  - Slices in tb_binlog_event (pointer + length: body, SQL text, file
 *    names, ROWS bitmaps and data, payload bytes) point INTO the event
 *    buffer passed to tb_binlog_event_decode(); they stay valid as long as
 *    that buffer does, and are not NUL-terminated.
 *  - Everything else that needs memory (table names, per-column arrays of a
 *    TABLE_MAP, decoded row arrays, decimal / bit / set / JSON text) comes
 *    from the tb_arena the caller passes in. A TABLE_MAP is referenced by
 *    every following ROWS event of the same table id, so decode table maps
 *    into an arena that lives as long as the reader caches the map.
 *  - Row values (tb_binlog_value) of string / blob columns point into the
 *    ROWS event buffer; text that had to be built (decimal, bits, enum/set
 *    members, JSON) lives in the arena given to tb_binlog_rows_next().
 *
 * Compressed events: MariaDB's *_COMPRESSED events (types 165..171, written
 * with log_bin_compress=ON) are NOT decompressed here (that would need
 * zlib in libtb) and are never reinterpreted as their uncompressed types:
 * their body starts with a compression header and zlib data, so decoding
 * it as a plain QUERY / ROWS body would yield garbage. They are refused
 * with TB_ERR_UNSUPPORTED naming the server setting log_bin_compress=OFF. MySQL
 * TRANSACTION_PAYLOAD (40) with compression NONE is unpacked; zstd payloads
 * need libzstd (build with -DTB_HAVE_ZSTD and link libzstd), otherwise
 * TB_ERR_UNSUPPORTED names binlog_transaction_compression=OFF.
 */
#ifndef TB_BINLOG_H
#define TB_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_buf.h"
#include "tb_error.h"

/* Event type codes (MySQL log_event_type + MariaDB extensions). */
enum {
    TB_BINLOG_UNKNOWN = 0,
    TB_BINLOG_START_V3 = 1,
    TB_BINLOG_QUERY = 2,
    TB_BINLOG_STOP = 3,
    TB_BINLOG_ROTATE = 4,
    TB_BINLOG_INTVAR = 5,
    TB_BINLOG_RAND = 13,
    TB_BINLOG_USER_VAR = 14,
    TB_BINLOG_FORMAT_DESCRIPTION = 15,
    TB_BINLOG_XID = 16,
    TB_BINLOG_TABLE_MAP = 19,
    TB_BINLOG_WRITE_ROWS_V0 = 20,
    TB_BINLOG_UPDATE_ROWS_V0 = 21,
    TB_BINLOG_DELETE_ROWS_V0 = 22,
    TB_BINLOG_WRITE_ROWS_V1 = 23,
    TB_BINLOG_UPDATE_ROWS_V1 = 24,
    TB_BINLOG_DELETE_ROWS_V1 = 25,
    TB_BINLOG_INCIDENT = 26,
    TB_BINLOG_HEARTBEAT = 27,
    TB_BINLOG_IGNORABLE = 28,
    TB_BINLOG_ROWS_QUERY = 29,
    TB_BINLOG_WRITE_ROWS_V2 = 30,
    TB_BINLOG_UPDATE_ROWS_V2 = 31,
    TB_BINLOG_DELETE_ROWS_V2 = 32,
    TB_BINLOG_GTID = 33,
    TB_BINLOG_ANONYMOUS_GTID = 34,
    TB_BINLOG_PREVIOUS_GTIDS = 35,
    TB_BINLOG_PARTIAL_UPDATE_ROWS = 39,
    TB_BINLOG_TRANSACTION_PAYLOAD = 40,
    TB_BINLOG_HEARTBEAT_V2 = 41,
    TB_BINLOG_ANNOTATE_ROWS = 160,
    TB_BINLOG_BINLOG_CHECKPOINT = 161,
    TB_BINLOG_MARIADB_GTID = 162,
    TB_BINLOG_GTID_LIST = 163,
    TB_BINLOG_START_ENCRYPTION = 164,
    TB_BINLOG_QUERY_COMPRESSED = 165,
    TB_BINLOG_ROWS_COMPRESSED_FIRST = 166, /* 166..171: MariaDB compressed */
    TB_BINLOG_ROWS_COMPRESSED_LAST = 171   /* write/update/delete rows */
};

/* Column type bytes of a TABLE_MAP (enum_field_types). */
enum {
    TB_MYSQL_DECIMAL = 0,
    TB_MYSQL_TINY = 1,
    TB_MYSQL_SHORT = 2,
    TB_MYSQL_LONG = 3,
    TB_MYSQL_FLOAT = 4,
    TB_MYSQL_DOUBLE = 5,
    TB_MYSQL_NULL = 6,
    TB_MYSQL_TIMESTAMP = 7,
    TB_MYSQL_LONGLONG = 8,
    TB_MYSQL_INT24 = 9,
    TB_MYSQL_DATE = 10,
    TB_MYSQL_TIME = 11,
    TB_MYSQL_DATETIME = 12,
    TB_MYSQL_YEAR = 13,
    TB_MYSQL_NEWDATE = 14,
    TB_MYSQL_VARCHAR = 15,
    TB_MYSQL_BIT = 16,
    TB_MYSQL_TIMESTAMP2 = 17,
    TB_MYSQL_DATETIME2 = 18,
    TB_MYSQL_TIME2 = 19,
    TB_MYSQL_JSON = 245,
    TB_MYSQL_NEWDECIMAL = 246,
    TB_MYSQL_ENUM = 247,
    TB_MYSQL_SET = 248,
    TB_MYSQL_TINY_BLOB = 249,
    TB_MYSQL_MEDIUM_BLOB = 250,
    TB_MYSQL_LONG_BLOB = 251,
    TB_MYSQL_BLOB = 252,
    TB_MYSQL_VAR_STRING = 253,
    TB_MYSQL_STRING = 254,
    TB_MYSQL_GEOMETRY = 255
};

#define TB_BINLOG_HEADER_LEN 19 /* v4 common header */
#define TB_BINLOG_CRC_LEN    4
#define TB_BINLOG_MAGIC                                                        \
    "\xfe"                                                                     \
    "bin" /* first 4 bytes of a binlog file */

/* Checksum algorithms announced by the FORMAT_DESCRIPTION event. */
enum { TB_BINLOG_CHECKSUM_OFF = 0, TB_BINLOG_CHECKSUM_CRC32 = 1 };

/* MariaDB GTID event flags (flags2 byte). */
enum {
    TB_BINLOG_GTID_STANDALONE = 0x01,   /* no BEGIN/COMMIT: DDL or the like */
    TB_BINLOG_GTID_GROUP_COMMIT = 0x02, /* commit_id is present */
    TB_BINLOG_GTID_TRANSACTIONAL = 0x04,
    TB_BINLOG_GTID_ALLOW_PARALLEL = 0x08,
    TB_BINLOG_GTID_WAITED = 0x10,
    TB_BINLOG_GTID_DDL = 0x20,
    TB_BINLOG_GTID_PREPARED_XA = 0x40,
    TB_BINLOG_GTID_COMPLETED_XA = 0x80
};

/* ROWS event flags. */
enum { TB_BINLOG_ROWS_STMT_END = 0x0001 };

/* The 19-byte common header of every v4 event. */
typedef struct tb_binlog_header {
    uint32_t timestamp;  /* seconds since the epoch, statement start */
    uint8_t type;        /* event type code (TB_BINLOG_*) */
    uint32_t server_id;  /* originating server */
    uint32_t event_size; /* whole event: header + body + checksum */
    uint32_t log_pos;    /* position of the NEXT event in the file */
    uint16_t flags;      /* LOG_EVENT_*_F flags */
} tb_binlog_header;

/* Decoding context set by the FORMAT_DESCRIPTION event. */
typedef struct tb_binlog_format {
    uint16_t binlog_version;      /* 4 for every supported server */
    char server_version[51];      /* NUL-terminated, e.g. "10.11.6-MariaDB" */
    uint32_t create_timestamp;    /* when the binlog was created, or 0 */
    uint8_t header_len;           /* common header length, 19 */
    uint16_t n_post_header;       /* entries used in post_header_len */
    uint8_t post_header_len[256]; /* [type - 1] = post-header length */
    uint8_t checksum_alg;         /* TB_BINLOG_CHECKSUM_* for later events */
    bool mariadb;                 /* server_version names MariaDB */
} tb_binlog_format;

/* FORMAT_DESCRIPTION: decoded into the event and copied into the format. */
typedef struct tb_binlog_fde {
    uint16_t binlog_version;    /* 4 */
    const char *server_version; /* points into the format (NUL-terminated) */
    uint8_t checksum_alg;       /* TB_BINLOG_CHECKSUM_* */
} tb_binlog_fde;

/* ROTATE: the next binlog file and the position in it. */
typedef struct tb_binlog_rotate {
    uint64_t position; /* where to start in the new file (usually 4) */
    const char *file;  /* file name, slice into the event, not terminated */
    size_t file_len;   /* length of file */
} tb_binlog_rotate;

/* MariaDB GTID (162): starts an event group. domain-server-seq_no. */
typedef struct tb_binlog_mariadb_gtid {
    uint64_t seq_no;    /* sequence number */
    uint32_t domain_id; /* replication domain */
    uint32_t server_id; /* from the common header */
    uint8_t flags;      /* TB_BINLOG_GTID_* */
    uint64_t commit_id; /* group commit id, 0 unless GROUP_COMMIT flag */
    bool standalone;    /* flags & STANDALONE: no BEGIN / COMMIT follow */
} tb_binlog_mariadb_gtid;

/* One domain-server-seq_no triple of a GTID_LIST. */
typedef struct tb_binlog_gtid_triple {
    uint32_t domain_id; /* replication domain */
    uint32_t server_id; /* server that wrote it */
    uint64_t seq_no;    /* last sequence number */
} tb_binlog_gtid_triple;

/* MariaDB GTID_LIST (163): the binlog state at the start of a file. */
typedef struct tb_binlog_gtid_list {
    uint32_t count;               /* number of triples */
    uint8_t flags;                /* top 4 bits of the count word */
    tb_binlog_gtid_triple *gtids; /* count entries, arena */
} tb_binlog_gtid_list;

/* MySQL GTID (33) / ANONYMOUS_GTID (34). */
typedef struct tb_binlog_mysql_gtid {
    uint8_t flags;           /* bit 0: may have been committed alone */
    uint8_t sid[16];         /* source UUID, bytes in text order */
    int64_t gno;             /* transaction number (0 for anonymous) */
    bool has_logical_clock;  /* the two fields below were present */
    int64_t last_committed;  /* logical clock, parallel applier */
    int64_t sequence_number; /* logical clock, parallel applier */
} tb_binlog_mysql_gtid;

/* QUERY (2): BEGIN, COMMIT, DDL, statement-based DML. */
typedef struct tb_binlog_query {
    uint32_t thread_id;  /* connection that ran it */
    uint32_t exec_time;  /* seconds */
    uint16_t error_code; /* non-zero if the statement failed on the master */
    const char *db;      /* default database, slice, may be empty */
    size_t db_len;       /* length of db */
    const char *sql;     /* statement text, slice, not terminated */
    size_t sql_len;      /* length of sql */
} tb_binlog_query;

/* One column of a TABLE_MAP with its metadata decoded. */
typedef struct tb_binlog_column {
    uint8_t type;        /* type byte from the map (TB_MYSQL_*) */
    uint8_t real_type;   /* STRING split into STRING / ENUM / SET */
    uint16_t meta;       /* raw per-type metadata (0 when none) */
    uint32_t max_len;    /* STRING / VARCHAR: max byte length */
    uint8_t precision;   /* NEWDECIMAL precision; BIT: total bits (1..64) */
    uint8_t scale;       /* NEWDECIMAL scale; TIME2 etc: fsp; BLOB: len bytes */
    bool nullable;       /* NULL-able bitmap */
    bool is_unsigned;    /* from SIGNEDNESS optional metadata */
    bool pk;             /* part of the primary key (optional metadata) */
    uint32_t pk_prefix;  /* key prefix length in chars, 0 = whole column */
    uint32_t charset;    /* collation id; 0 = unknown; 63 = binary */
    const char *name;    /* column name, arena, NULL when not sent */
    uint32_t nvalues;    /* ENUM / SET member count */
    const char **values; /* ENUM / SET members, arena, NULL if not sent */
    uint32_t *value_lens;   /* byte length of each member */
    uint32_t geometry_type; /* GEOMETRY_TYPE optional metadata */
} tb_binlog_column;

/* TABLE_MAP (19): maps a table id to a table shape. */
typedef struct tb_binlog_table_map {
    uint64_t table_id;      /* id used by the following ROWS events */
    uint16_t flags;         /* map flags */
    const char *db;         /* database, arena, NUL-terminated */
    const char *table;      /* table name, arena, NUL-terminated */
    uint32_t ncols;         /* number of columns */
    tb_binlog_column *cols; /* ncols columns, arena */
    bool has_signedness;    /* SIGNEDNESS metadata was present */
    bool has_names;         /* COLUMN_NAME metadata was present */
    bool has_pk;            /* a primary key metadata block was present */
} tb_binlog_table_map;

/* WRITE / UPDATE / DELETE ROWS v1 and v2. */
typedef struct tb_binlog_rows {
    char op;                    /* 'w' write, 'u' update, 'd' delete */
    uint8_t version;            /* 1 or 2 */
    uint64_t table_id;          /* refers to a previous TABLE_MAP */
    uint16_t flags;             /* TB_BINLOG_ROWS_STMT_END etc. */
    const uint8_t *extra;       /* v2 extra data (after its length), slice */
    size_t extra_len;           /* bytes in extra */
    uint32_t ncols;             /* column count of the image */
    const uint8_t *present;     /* columns-present bitmap (before image) */
    const uint8_t *present_upd; /* UPDATE: after-image bitmap, else NULL */
    const uint8_t *data;        /* first row image, slice */
    size_t data_len;            /* bytes of row images */
} tb_binlog_rows;

/* MySQL TRANSACTION_PAYLOAD (40): events of one transaction, compressed. */
typedef struct tb_binlog_payload {
    uint64_t compression;       /* 0 = zstd, 255 = none */
    uint64_t payload_size;      /* bytes of payload */
    uint64_t uncompressed_size; /* bytes after decompression (0 if none) */
    const uint8_t *payload;     /* compressed bytes, slice */
} tb_binlog_payload;

/* A decoded event. Which member of u is valid depends on h.type. */
typedef struct tb_binlog_event {
    tb_binlog_header h;  /* common header */
    const uint8_t *body; /* after the common header, without checksum */
    size_t body_len;     /* bytes in body */
    bool skipped;        /* type not decoded; body is still given */
    union {
        tb_binlog_fde fde;             /* FORMAT_DESCRIPTION */
        tb_binlog_rotate rotate;       /* ROTATE */
        tb_binlog_mariadb_gtid mgtid;  /* MARIADB_GTID */
        tb_binlog_gtid_list gtid_list; /* GTID_LIST */
        tb_binlog_mysql_gtid gtid;     /* GTID, ANONYMOUS_GTID */
        tb_binlog_query query;         /* QUERY */
        uint64_t xid;                  /* XID */
        tb_binlog_table_map table_map; /* TABLE_MAP */
        tb_binlog_rows rows;           /* *_ROWS v1 / v2 */
        tb_binlog_payload payload;     /* TRANSACTION_PAYLOAD */
        struct {
            const char *text; /* statement text, slice */
            size_t len;       /* length of text */
        } annotate;           /* ANNOTATE_ROWS, ROWS_QUERY */
        struct {
            const char *file; /* current binlog file name, slice */
            size_t len;       /* length of file */
        } heartbeat;          /* HEARTBEAT */
    } u;
} tb_binlog_event;

/* Reset a format to what is assumed before any FORMAT_DESCRIPTION event:
 * binlog v4, 19-byte header, no checksum. Cannot fail. */
void tb_binlog_format_init(tb_binlog_format *fmt);

/* zlib-compatible CRC-32 (polynomial 0xEDB88320) of n bytes, continuing
 * from crc (start with 0). Implemented here so libtb needs no -lz. */
uint32_t tb_binlog_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Decode the 19-byte common header of ev (len bytes available). Checks
 * event_size >= 19; does not check event_size against len. 0 / -1. */
int tb_binlog_header_decode(const uint8_t *ev, size_t len, tb_binlog_header *h,
                            tb_error *err);

/*
 * Decode one whole event ev[0..len) (len must equal the header's
 * event_size). Verifies the CRC32 when fmt says so (the FDE checks its own
 * checksum), fills out, and on a FORMAT_DESCRIPTION event updates *fmt.
 * Memory: see the header comment (slices into ev, the rest from arena).
 * Unknown types are skipped (out->skipped); MariaDB compressed events,
 * PARTIAL_UPDATE_ROWS and zstd payloads without libzstd give
 * TB_ERR_UNSUPPORTED; malformed bytes TB_ERR_DECODE. Returns 0 / -1.
 */
int tb_binlog_event_decode(tb_binlog_format *fmt, const uint8_t *ev, size_t len,
                           tb_arena *arena, tb_binlog_event *out,
                           tb_error *err);

/*
 * Unpack a TRANSACTION_PAYLOAD event's payload into the byte stream of the
 * events it contains (appended to out). The inner events carry no checksum;
 * walk them with tb_binlog_event_decode() under a copy of the format whose
 * checksum_alg is OFF. Returns 0, or -1 with TB_ERR_UNSUPPORTED (zstd
 * without libzstd) / TB_ERR_DECODE / TB_ERR_NOMEM.
 */
int tb_binlog_payload_unpack(const tb_binlog_payload *p, tb_buf *out,
                             tb_error *err);

/* ---- row images (binlog_rows.c) ---- */

/* What a decoded column value holds. */
typedef enum tb_binlog_vkind {
    TB_BINLOG_V_ABSENT = 0, /* not in this image (present bit clear) */
    TB_BINLOG_V_NULL,       /* SQL NULL */
    TB_BINLOG_V_INT,        /* i: signed integer types */
    TB_BINLOG_V_UINT,       /* u: unsigned integer types */
    TB_BINLOG_V_DOUBLE,     /* d: FLOAT (widened) and DOUBLE */
    TB_BINLOG_V_DECIMAL,    /* s: decimal text "-12.50", arena */
    TB_BINLOG_V_BYTES,      /* s: CHAR/VARCHAR/BINARY/BLOB/TEXT/GEOMETRY
                               bytes in the column charset, slice into
                               the ROWS event; MariaDB JSON arrives here */
    TB_BINLOG_V_BITS,       /* s: '0'/'1' text, MSB first, arena; u: value */
    TB_BINLOG_V_ENUM,       /* u: 1-based index (0 = invalid ''); s: member
                               text or NULL without ENUM_STR_VALUE metadata */
    TB_BINLOG_V_SET,        /* u: member bitmask; s: members joined by ','
                               or NULL without SET_STR_VALUE metadata */
    TB_BINLOG_V_JSON,       /* s: MySQL binary JSON rendered as text, arena */
    TB_BINLOG_V_YEAR,       /* i: year, 0 for YEAR 0000 */
    TB_BINLOG_V_DATE,       /* t: year, month, day */
    TB_BINLOG_V_TIME,       /* t: hour (may exceed 23), min, sec, micros,
                               negative */
    TB_BINLOG_V_DATETIME,   /* t: wall clock, no time zone */
    TB_BINLOG_V_TIMESTAMP   /* i: seconds since epoch; t: UTC broken down */
} tb_binlog_vkind;

/* Broken-down temporal value. */
typedef struct tb_binlog_temporal {
    int32_t year;    /* 0..9999 */
    uint8_t month;   /* 0..12 (0 only in zero dates) */
    uint8_t day;     /* 0..31 */
    uint32_t hour;   /* 0..23, TIME up to 838 */
    uint8_t minute;  /* 0..59 */
    uint8_t second;  /* 0..59 */
    uint32_t micros; /* 0..999999 */
    bool negative;   /* TIME only */
} tb_binlog_temporal;

/* One decoded column value: a tagged struct, converted to tb_value by the
 * MySQL source (my_types.c) according to the column's kind and policy. */
typedef struct tb_binlog_value {
    uint8_t kind;         /* tb_binlog_vkind */
    uint8_t type;         /* real column type (TB_MYSQL_*) */
    bool zero_date;       /* DATE/DATETIME/TIMESTAMP all-zero '0000-00-00' */
    bool zero_in_date;    /* month or day is 0 but not the whole date */
    int64_t i;            /* INT, YEAR, TIMESTAMP seconds */
    uint64_t u;           /* UINT, BITS value, ENUM index, SET mask */
    double d;             /* DOUBLE */
    const char *s;        /* text / bytes (see kind); NULL when none */
    size_t len;           /* byte length of s */
    tb_binlog_temporal t; /* DATE, TIME, DATETIME, TIMESTAMP */
} tb_binlog_value;

/* One row image: ncols values in table order. */
typedef struct tb_binlog_row {
    uint32_t ncols;        /* equals the table map's ncols */
    tb_binlog_value *vals; /* ncols values, arena */
} tb_binlog_row;

/*
 * Decode the next row of a ROWS event starting at *pos (start with 0;
 * rows remain while *pos < rows->data_len). Write: fills after; delete:
 * fills before; update: both. The unused image gets ncols 0. *pos moves
 * past the row. Returns 0 / -1 (TB_ERR_DECODE on truncation or a value
 * that does not fit its metadata, TB_ERR_UNSUPPORTED on an unknown type).
 */
int tb_binlog_rows_next(const tb_binlog_rows *rows,
                        const tb_binlog_table_map *tm, size_t *pos,
                        tb_arena *arena, tb_binlog_row *before,
                        tb_binlog_row *after, tb_error *err);

/* Decode one column value of type/metadata col from p[0..len); sets *used
 * to the bytes consumed. Exposed for tests and the snapshot path. 0 / -1. */
int tb_binlog_value_decode(const tb_binlog_column *col, const uint8_t *p,
                           size_t len, tb_arena *arena, tb_binlog_value *v,
                           size_t *used, tb_error *err);

/* Render a NEWDECIMAL binary value (precision, scale) as text into dst
 * (at least 68 bytes); *used = bytes consumed. 0 / -1. */
int tb_binlog_decimal_text(const uint8_t *p, size_t len, int precision,
                           int scale, char *dst, size_t *used, tb_error *err);

/* ---- MySQL 8 binary JSON (binlog_json.c) ---- */

/* Append the JSON text of a MySQL binary JSON document p[0..len) to out,
 * in MySQL's own spelling ({"a": 1, "b": [true, null]}). An empty document
 * renders as null. Returns 0 / -1 (TB_ERR_DECODE, TB_ERR_NOMEM). */
int tb_binlog_json_to_text(const uint8_t *p, size_t len, tb_buf *out,
                           tb_error *err);

#endif
