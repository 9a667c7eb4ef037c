/*
 * avro_resolve.h - the compiled resolution plan (internal to src/avro_*.c).
 *
 * Built by src/avro_resolve.c from a writer and a reader table shape, used
 * by src/avro_decode.c for every change read under that pair.
 */
#ifndef TB_AVRO_RESOLVE_H
#define TB_AVRO_RESOLVE_H

#include "tb_avro.h"

/* How a decoded writer value becomes a reader value. */
typedef enum avro_conv {
    AVRO_CONV_NONE = 0,     /* same in-memory layout */
    AVRO_CONV_INT_TO_REAL,  /* int/long (u.i) read as float/double (u.d) */
    AVRO_CONV_FLOAT_TO_REAL /* float read as double: u.d already */
} avro_conv;

/* What to do with one writer column. */
typedef struct avro_colplan {
    int reader;   /* reader column index, -1 to skip the value */
    uint8_t conv; /* avro_conv */
    int pad;      /* decimal: reader scale minus writer scale (>= 0) */
} avro_colplan;

struct tb_avro_resolver {
    const tb_table *writer; /* shape the bytes were written with; not owned */
    const tb_table *reader; /* shape of the decoded change; not owned */
    avro_colplan *cols;     /* writer->ncols entries */
};

#endif
