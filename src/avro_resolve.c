/*
 * avro_resolve.c - Avro schema resolution between two table shapes.
 *
 * Bytes written under an older shape W are read as a newer shape R, as the
 * Avro specification's "Schema Resolution" prescribes: fields are matched
 * by name, fields only in W are skipped, fields only in R take their default
 * (null: they must be nullable), and a field's type may be promoted
 * (int -> long -> float -> double, string <-> bytes). avro-c cannot do this
 * for a reader that adds a field, so the plan is compiled here and executed
 * by avro_decode.c.
 */
#include "tb_avro.h"

#include <stdlib.h>
#include <string.h>

#include "avro_resolve.h"

/* Avro primitive under each kind's logical type. */
typedef enum phys {
    P_BOOLEAN,
    P_INT,
    P_LONG,
    P_FLOAT,
    P_DOUBLE,
    P_BYTES,
    P_STRING,
    P_DECIMAL, /* bytes, but text in memory: never mixed with P_BYTES */
    P_ARRAY
} phys;

static phys phys_of(tb_kind k)
{
    switch (k) {
    case TB_KIND_BOOLEAN:
        return P_BOOLEAN;
    case TB_KIND_INT:
    case TB_KIND_DATE:
        return P_INT;
    case TB_KIND_FLOAT:
        return P_FLOAT;
    case TB_KIND_DOUBLE:
        return P_DOUBLE;
    case TB_KIND_DECIMAL:
        return P_DECIMAL;
    case TB_KIND_BYTES:
        return P_BYTES;
    case TB_KIND_STRING:
    case TB_KIND_UUID:
    case TB_KIND_JSON:
    case TB_KIND_BITS:
        return P_STRING;
    case TB_KIND_SET:
        return P_ARRAY;
    default:
        return P_LONG; /* LONG, TIME, TIMESTAMP, LOCAL_TS, DURATION */
    }
}

/* Fill p for writer column w read as reader column r; -1 if impossible. */
static int plan_column(const tb_column *w, const tb_column *r, avro_colplan *p)
{
    phys pw = phys_of(w->kind);
    p->conv = AVRO_CONV_NONE;
    p->pad = 0;
    if (w->kind == r->kind) {
        if (w->kind != TB_KIND_DECIMAL) return 0;
        /* Rescaling upward is exact; the integer part must still fit. */
        if (r->scale < w->scale ||
            r->precision - r->scale < w->precision - w->scale)
            return -1;
        p->pad = r->scale - w->scale;
        return 0;
    }
    /* A different kind: only towards a plain primitive (a logical type is
     * read as its base type) along Avro's promotions. */
    switch (r->kind) {
    case TB_KIND_INT:
        return pw == P_INT ? 0 : -1;
    case TB_KIND_LONG:
        return pw == P_INT || pw == P_LONG ? 0 : -1;
    case TB_KIND_FLOAT:
    case TB_KIND_DOUBLE:
        if (pw == P_INT || pw == P_LONG) {
            p->conv = AVRO_CONV_INT_TO_REAL;
            return 0;
        }
        if (pw == P_FLOAT) {
            p->conv = AVRO_CONV_FLOAT_TO_REAL;
            return 0;
        }
        return -1;
    case TB_KIND_STRING:
    case TB_KIND_BYTES:
        return pw == P_STRING || pw == P_BYTES ? 0 : -1;
    default:
        return -1;
    }
}

int tb_avro_resolver_new(const tb_table *writer, const tb_table *reader,
                         tb_avro_resolver **out, tb_error *err)
{
    tb_avro_resolver *r = calloc(1, sizeof *r);
    bool *seen = calloc((size_t)reader->ncols + 1, sizeof *seen);
    if (!r || !seen ||
        !(r->cols = calloc((size_t)writer->ncols + 1, sizeof *r->cols))) {
        tb_error_set(err, TB_ERR_NOMEM, "avro resolver: out of memory");
        goto fail;
    }
    r->writer = writer;
    r->reader = reader;
    for (int i = 0; i < writer->ncols; i++) {
        const tb_column *w = &writer->cols[i];
        r->cols[i].reader = -1;
        for (int j = 0; j < reader->ncols; j++) {
            const tb_column *c = &reader->cols[j];
            if (!w->name || !c->name || strcmp(w->name, c->name) != 0) continue;
            if (plan_column(w, c, &r->cols[i]) < 0) {
                tb_error_set(err, TB_ERR_SCHEMA,
                             "avro resolver: %s.%s: cannot read %s(%d,%d) as "
                             "%s(%d,%d)",
                             reader->name, c->name, tb_kind_name(w->kind),
                             w->precision, w->scale, tb_kind_name(c->kind),
                             c->precision, c->scale);
                goto fail;
            }
            r->cols[i].reader = j;
            seen[j] = true;
            break;
        }
    }
    for (int j = 0; j < reader->ncols; j++)
        if (!seen[j] && !reader->cols[j].nullable) {
            tb_error_set(err, TB_ERR_SCHEMA,
                         "avro resolver: %s.%s: NOT NULL column missing from "
                         "the writer's shape has no default",
                         reader->name, reader->cols[j].name);
            goto fail;
        }
    free(seen);
    *out = r;
    return 0;
fail:
    free(seen);
    tb_avro_resolver_free(r);
    return -1;
}

void tb_avro_resolver_free(tb_avro_resolver *r)
{
    if (!r) return;
    free(r->cols);
    free(r);
}
