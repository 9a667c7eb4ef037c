/*
 * binlog_rows.c - row images of ROWS events and column value decoding.
 *
 * A row image is: NULL bitmap over the columns present in the image, then
 * each present non-NULL column in the storage format of its type, sized by
 * the TABLE_MAP metadata. Formats: MySQL field.cc / my_time.cc /
 * decimal.c (binary decimal, TIME2/DATETIME2/TIMESTAMP2 "packed" formats)
 * as documented in libbinlogevents and the MariaDB KB "Rows Event" page.
 * Integers are little-endian except the *2 temporal types and DECIMAL,
 * which are big-endian so that they sort bytewise.
 */
#include "binlog.h"

#include <string.h>

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Sign-extend the low `bits` bits of v. */
static int64_t sext(uint64_t v, int bits)
{
    if (bits == 64) return (int64_t)v;
    uint64_t m = 1ull << (bits - 1);
    v &= (1ull << bits) - 1;
    return (int64_t)((v ^ m) - m);
}

static int short_input(size_t need, size_t have, const char *what,
                       tb_error *err)
{
    return tb_error_set(err, TB_ERR_DECODE,
                        "truncated %s value: need %zu bytes, %zu left", what,
                        need, have);
}

/* ---- DECIMAL ---- */

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10u[10] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* "00".."99": two digits per division, as the hot path formats every
 * DECIMAL value of every row (snprintf was a tenth of the decode time). */
static const char digit_pairs[201] = "0001020304050607080910111213141516171819"
                                     "2021222324252627282930313233343536373839"
                                     "4041424344454647484950515253545556575859"
                                     "6061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* Write v as exactly n decimal digits (zero-padded) at d; v < 10^n. */
static void put_digits(char *d, uint32_t v, int n)
{
    while (n >= 2) {
        uint32_t q = v / 100;
        n -= 2;
        memcpy(d + n, digit_pairs + 2 * (v - q * 100), 2);
        v = q;
    }
    if (n) d[0] = (char)('0' + v);
}

/* Number of decimal digits of v (1 for 0); v < 10^9. */
static int count_digits(uint32_t v)
{
    int n = 1;
    while (n < 9 && v >= pow10u[n])
        n++;
    return n;
}

/* Binary decimal (decimal.c, bin2decimal): the integer part then the
 * fraction, each in groups of 9 digits stored as 4 big-endian bytes, the
 * leftover digits of the integer part first and of the fraction last in
 * dig2bytes[n] bytes. The top bit of the first byte is flipped; negative
 * numbers have every byte inverted. Writes the text and its NUL to dst
 * (at most precision + 4 bytes: sign, a lone leading 0, point) and its
 * length to *dlen. */
static int decimal_text(const uint8_t *p, size_t len, int precision, int scale,
                        char *dst, size_t *dlen, size_t *used, tb_error *err)
{
    uint8_t b[40];
    size_t o = 0;
    if (precision < 1 || precision > 65 || scale < 0 || scale > 30 ||
        scale > precision)
        return tb_error_set(err, TB_ERR_DECODE, "bad DECIMAL(%d,%d)", precision,
                            scale);
    int intg = precision - scale;
    int intg0 = intg / 9, intg0x = intg % 9;
    int frac0 = scale / 9, frac0x = scale % 9;
    size_t size =
        (size_t)(intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x]);
    if (len < size) return short_input(size, len, "DECIMAL", err);
    memcpy(b, p, size);
    uint8_t mask = (b[0] & 0x80) ? 0 : 0xff;
    b[0] ^= 0x80;
    /* groups are plain big-endian integers, so the value is zero exactly
     * when every byte is: "-0.00" is printed "0.00" */
    uint8_t any = 0;
    for (size_t i = 0; i < size; i++) {
        b[i] ^= mask;
        any |= b[i];
    }
    if (mask && any) dst[o++] = '-';
    size_t off = 0;
    bool started = false; /* a non-zero integer digit was written */
    for (int g = -1; g < intg0; g++) {
        int digits = g < 0 ? intg0x : 9;
        int nb = g < 0 ? dig2bytes[intg0x] : 4;
        if (nb == 0) continue;
        uint32_t v = (uint32_t)be(b + off, nb);
        off += (size_t)nb;
        if (v >= pow10u[digits])
            return tb_error_set(err, TB_ERR_DECODE, "corrupt DECIMAL group");
        if (!started) {
            if (v == 0) continue; /* leading zeros are dropped */
            digits = count_digits(v);
            started = true;
        }
        put_digits(dst + o, v, digits);
        o += (size_t)digits;
    }
    if (!started) dst[o++] = '0';
    if (scale > 0) dst[o++] = '.';
    for (int g = 0; g <= frac0; g++) {
        int digits = g < frac0 ? 9 : frac0x;
        int nb = g < frac0 ? 4 : dig2bytes[frac0x];
        if (nb == 0) continue;
        uint32_t v = (uint32_t)be(b + off, nb);
        off += (size_t)nb;
        if (v >= pow10u[digits])
            return tb_error_set(err, TB_ERR_DECODE, "corrupt DECIMAL group");
        put_digits(dst + o, v, digits);
        o += (size_t)digits;
    }
    dst[o] = '\0';
    *dlen = o;
    *used = size;
    return 0;
}

int tb_binlog_decimal_text(const uint8_t *p, size_t len, int precision,
                           int scale, char *dst, size_t *used, tb_error *err)
{
    size_t dlen;
    return decimal_text(p, len, precision, scale, dst, &dlen, used, err);
}

/* ---- temporal ---- */

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void civil_from_days(int64_t z, tb_binlog_temporal *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    t->year = (int32_t)(y + (m <= 2));
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
}

static void set_zero_flags(tb_binlog_value *v)
{
    const tb_binlog_temporal *t = &v->t;
    v->zero_date = t->year == 0 && t->month == 0 && t->day == 0;
    v->zero_in_date = !v->zero_date && (t->month == 0 || t->day == 0);
}

/* Fractional seconds of the *2 types: (fsp + 1) / 2 big-endian bytes,
 * signed, scaled to microseconds. */
static int64_t frac_micros(const uint8_t *p, int fsp)
{
    switch (fsp) {
    case 1:
    case 2:
        return sext(p[0], 8) * 10000;
    case 3:
    case 4:
        return sext(be(p, 2), 16) * 100;
    case 5:
    case 6:
        return sext(be(p, 3), 24);
    default:
        return 0;
    }
}

/* DATETIME2: 5 bytes big-endian, minus 0x8000000000: sign(1) year*13+month
 * (17) day(5) hour(5) minute(6) second(6); then the fraction. */
static void dec_datetime2(const uint8_t *p, int fsp, tb_binlog_value *v)
{
    int64_t intpart = (int64_t)be(p, 5) - 0x8000000000LL;
    int64_t packed = intpart * (1LL << 24) + frac_micros(p + 5, fsp);
    if (packed < 0) packed = -packed; /* never written by the server */
    int64_t ymdhms = packed >> 24;
    int64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms % (1 << 17);
    v->t.micros = (uint32_t)(packed % (1 << 24));
    v->t.day = (uint8_t)(ymd % (1 << 5));
    v->t.month = (uint8_t)(ym % 13);
    v->t.year = (int32_t)(ym / 13);
    v->t.second = (uint8_t)(hms % (1 << 6));
    v->t.minute = (uint8_t)((hms >> 6) % (1 << 6));
    v->t.hour = (uint32_t)(hms >> 12);
}

/* TIME2: 3 bytes big-endian minus 0x800000: sign(1) unused(1) hour(10)
 * minute(6) second(6); the fraction of a negative value is stored as its
 * complement, hence the borrow below (my_time_packed_from_binary). */
static void dec_time2(const uint8_t *p, int fsp, tb_binlog_value *v)
{
    int64_t packed;
    int64_t intpart = (int64_t)be(p, 3) - 0x800000;
    if (fsp == 0)
        packed = intpart * (1LL << 24);
    else if (fsp <= 2) {
        int64_t frac = p[3];
        if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x100;
        }
        packed = intpart * (1LL << 24) + frac * 10000;
    } else if (fsp <= 4) {
        int64_t frac = (int64_t)be(p + 3, 2);
        if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x10000;
        }
        packed = intpart * (1LL << 24) + frac * 100;
    } else
        packed = (int64_t)be(p, 6) - 0x800000000000LL;
    v->t.negative = packed < 0;
    if (packed < 0) packed = -packed;
    int64_t hms = packed >> 24;
    v->t.micros = (uint32_t)(packed % (1 << 24));
    v->t.hour = (uint32_t)((hms >> 12) % (1 << 10));
    v->t.minute = (uint8_t)((hms >> 6) % (1 << 6));
    v->t.second = (uint8_t)(hms % (1 << 6));
}

/* ---- strings built in the arena ---- */

static int set_text(tb_binlog_value *v, tb_arena *a, const char *s, size_t n,
                    tb_error *err)
{
    char *c = tb_arena_strndup(a, s, n);
    if (!c) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    v->s = c;
    v->len = n;
    return 0;
}

static int bits_text(tb_binlog_value *v, tb_arena *a, int nbits, tb_error *err)
{
    char *c = tb_arena_alloc(a, (size_t)nbits + 1);
    if (!c) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nbits; i++)
        c[i] = (v->u >> (nbits - 1 - i)) & 1 ? '1' : '0';
    c[nbits] = '\0';
    v->s = c;
    v->len = (size_t)nbits;
    return 0;
}

static int set_members(const tb_binlog_column *col, tb_binlog_value *v,
                       tb_arena *a, tb_error *err)
{
    size_t n = 0;
    if (!col->values) return 0;
    for (uint32_t i = 0; i < 64; i++) {
        if (!(v->u >> i & 1)) continue;
        if (i >= col->nvalues)
            return tb_error_set(err, TB_ERR_DECODE,
                                "SET bit %u beyond its %u members", i,
                                col->nvalues);
        n += col->value_lens[i] + 1;
    }
    char *c = tb_arena_alloc(a, n + 1);
    if (!c) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    size_t o = 0;
    for (uint32_t i = 0; i < col->nvalues && i < 64; i++) {
        if (!(v->u >> i & 1)) continue;
        if (o) c[o++] = ',';
        memcpy(c + o, col->values[i], col->value_lens[i]);
        o += col->value_lens[i];
    }
    c[o] = '\0';
    v->s = c;
    v->len = o;
    return 0;
}

static int json_value(const uint8_t *p, size_t n, tb_arena *a,
                      tb_binlog_value *v, tb_error *err)
{
    tb_buf b = TB_BUF_INIT;
    int rc = -1;
    if (tb_binlog_json_to_text(p, n, &b, err) < 0) goto fail;
    if (set_text(v, a, b.len ? (const char *)b.data : "", b.len, err) < 0)
        goto fail;
    rc = 0;
fail:
    tb_buf_free(&b);
    return rc;
}

/* Byte length of a length-prefixed value whose prefix has lb bytes. */
static int prefixed(const uint8_t *p, size_t len, int lb, tb_binlog_value *v,
                    size_t *used, tb_error *err)
{
    if (lb < 1 || lb > 4)
        return tb_error_set(err, TB_ERR_DECODE, "length prefix of %d bytes",
                            lb);
    if (len < (size_t)lb) return short_input((size_t)lb, len, "length", err);
    uint64_t n = le(p, lb);
    if (n > len - (size_t)lb)
        return short_input((size_t)(n + (uint64_t)lb), len, "string", err);
    v->kind = TB_BINLOG_V_BYTES;
    v->s = (const char *)p + lb;
    v->len = (size_t)n;
    *used = (size_t)lb + (size_t)n;
    return 0;
}

int tb_binlog_value_decode(const tb_binlog_column *col, const uint8_t *p,
                           size_t len, tb_arena *a, tb_binlog_value *v,
                           size_t *used, tb_error *err)
{
    size_t n = 0;
    int fsp = col->scale;
    memset(v, 0, sizeof *v);
    v->type = col->real_type;
    switch (col->real_type) {
    case TB_MYSQL_TINY:
        n = 1;
        break;
    case TB_MYSQL_SHORT:
    case TB_MYSQL_YEAR:
        n = col->real_type == TB_MYSQL_YEAR ? 1 : 2;
        break;
    case TB_MYSQL_INT24:
    case TB_MYSQL_DATE:
    case TB_MYSQL_TIME:
        n = 3;
        break;
    case TB_MYSQL_LONG:
    case TB_MYSQL_FLOAT:
    case TB_MYSQL_TIMESTAMP:
        n = 4;
        break;
    case TB_MYSQL_LONGLONG:
    case TB_MYSQL_DOUBLE:
    case TB_MYSQL_DATETIME:
        n = 8;
        break;
    case TB_MYSQL_TIMESTAMP2:
    case TB_MYSQL_DATETIME2:
    case TB_MYSQL_TIME2:
        if (fsp > 6)
            return tb_error_set(err, TB_ERR_DECODE,
                                "fractional second precision %d", fsp);
        n = (size_t)(fsp + 1) / 2 + (col->real_type == TB_MYSQL_TIMESTAMP2 ? 4
                                     : col->real_type == TB_MYSQL_DATETIME2
                                         ? 5
                                         : 3);
        break;
    case TB_MYSQL_BIT:
        if (col->precision < 1 || col->precision > 64)
            return tb_error_set(err, TB_ERR_DECODE, "BIT(%d)", col->precision);
        n = ((size_t)col->precision + 7) / 8;
        break;
    case TB_MYSQL_ENUM:
    case TB_MYSQL_SET:
        n = col->max_len;
        if (n < 1 || n > 8 || (col->real_type == TB_MYSQL_ENUM && n > 2))
            return tb_error_set(err, TB_ERR_DECODE, "ENUM/SET of %zu bytes", n);
        break;
    case TB_MYSQL_NEWDECIMAL: {
        char buf[72];
        size_t blen;
        if (decimal_text(p, len, col->precision, col->scale, buf, &blen, used,
                         err) < 0)
            return -1;
        v->kind = TB_BINLOG_V_DECIMAL;
        return set_text(v, a, buf, blen, err);
    }
    case TB_MYSQL_STRING:
    case TB_MYSQL_VARCHAR:
    case TB_MYSQL_VAR_STRING:
        return prefixed(p, len, col->max_len > 255 ? 2 : 1, v, used, err);
    case TB_MYSQL_TINY_BLOB:
    case TB_MYSQL_MEDIUM_BLOB:
    case TB_MYSQL_LONG_BLOB:
    case TB_MYSQL_BLOB:
    case TB_MYSQL_GEOMETRY:
        return prefixed(p, len, col->scale, v, used, err);
    case TB_MYSQL_JSON:
        if (prefixed(p, len, col->scale, v, used, err) < 0) return -1;
        v->kind = TB_BINLOG_V_JSON;
        return json_value((const uint8_t *)v->s, v->len, a, v, err);
    default:
        return tb_error_set(err, TB_ERR_UNSUPPORTED,
                            "MySQL column type %u in a row image",
                            col->real_type);
    }
    if (len < n) return short_input(n, len, "column", err);
    *used = n;
    switch (col->real_type) {
    case TB_MYSQL_TINY:
    case TB_MYSQL_SHORT:
    case TB_MYSQL_INT24:
    case TB_MYSQL_LONG:
    case TB_MYSQL_LONGLONG:
        v->u = le(p, (int)n);
        if (col->is_unsigned)
            v->kind = TB_BINLOG_V_UINT;
        else {
            v->kind = TB_BINLOG_V_INT;
            v->i = sext(v->u, (int)n * 8);
            v->u = 0;
        }
        return 0;
    case TB_MYSQL_FLOAT: {
        uint32_t w = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &w, 4);
        v->kind = TB_BINLOG_V_DOUBLE;
        v->d = f;
        return 0;
    }
    case TB_MYSQL_DOUBLE: {
        uint64_t w = le(p, 8);
        memcpy(&v->d, &w, 8);
        v->kind = TB_BINLOG_V_DOUBLE;
        return 0;
    }
    case TB_MYSQL_YEAR:
        v->kind = TB_BINLOG_V_YEAR;
        v->i = p[0] ? 1900 + p[0] : 0;
        return 0;
    case TB_MYSQL_DATE: {
        uint32_t d = (uint32_t)le(p, 3);
        v->kind = TB_BINLOG_V_DATE;
        v->t.day = d & 31;
        v->t.month = (d >> 5) & 15;
        v->t.year = (int32_t)(d >> 9);
        set_zero_flags(v);
        return 0;
    }
    case TB_MYSQL_TIME: { /* old TIME: signed HHMMSS as a 3-byte integer */
        int64_t t = sext(le(p, 3), 24);
        v->kind = TB_BINLOG_V_TIME;
        v->t.negative = t < 0;
        if (t < 0) t = -t;
        v->t.hour = (uint32_t)(t / 10000);
        v->t.minute = (uint8_t)(t / 100 % 100);
        v->t.second = (uint8_t)(t % 100);
        return 0;
    }
    case TB_MYSQL_DATETIME: { /* old DATETIME: YYYYMMDDhhmmss integer */
        uint64_t x = le(p, 8), d = x / 1000000, t = x % 1000000;
        v->kind = TB_BINLOG_V_DATETIME;
        v->t.year = (int32_t)(d / 10000);
        v->t.month = (uint8_t)(d / 100 % 100);
        v->t.day = (uint8_t)(d % 100);
        v->t.hour = (uint32_t)(t / 10000);
        v->t.minute = (uint8_t)(t / 100 % 100);
        v->t.second = (uint8_t)(t % 100);
        set_zero_flags(v);
        return 0;
    }
    case TB_MYSQL_TIMESTAMP:
    case TB_MYSQL_TIMESTAMP2: {
        int64_t us = 0;
        v->kind = TB_BINLOG_V_TIMESTAMP;
        if (col->real_type == TB_MYSQL_TIMESTAMP)
            v->i = (int64_t)le(p, 4);
        else {
            v->i = (int64_t)be(p, 4);
            us = frac_micros(p + 4, fsp);
        }
        if (us < 0 || us > 999999)
            return tb_error_set(err, TB_ERR_DECODE,
                                "TIMESTAMP fraction %lld out of range",
                                (long long)us);
        if (v->i == 0 && us == 0) {
            v->zero_date = true; /* '0000-00-00 00:00:00' */
            return 0;
        }
        civil_from_days(v->i / 86400, &v->t);
        v->t.hour = (uint32_t)(v->i % 86400 / 3600);
        v->t.minute = (uint8_t)(v->i % 3600 / 60);
        v->t.second = (uint8_t)(v->i % 60);
        v->t.micros = (uint32_t)us;
        return 0;
    }
    case TB_MYSQL_DATETIME2:
        v->kind = TB_BINLOG_V_DATETIME;
        dec_datetime2(p, fsp, v);
        set_zero_flags(v);
        return 0;
    case TB_MYSQL_TIME2:
        v->kind = TB_BINLOG_V_TIME;
        dec_time2(p, fsp, v);
        return 0;
    case TB_MYSQL_BIT:
        v->kind = TB_BINLOG_V_BITS;
        v->u = be(p, (int)n);
        if (col->precision < 64 && v->u >> col->precision)
            return tb_error_set(err, TB_ERR_DECODE,
                                "BIT(%d) value wider than the column",
                                col->precision);
        return bits_text(v, a, col->precision, err);
    case TB_MYSQL_ENUM:
        v->kind = TB_BINLOG_V_ENUM;
        v->u = le(p, (int)n);
        if (!col->values) return 0;
        if (v->u == 0) return set_text(v, a, "", 0, err);
        if (v->u > col->nvalues)
            return tb_error_set(err, TB_ERR_DECODE,
                                "ENUM index %llu beyond its %u members",
                                (unsigned long long)v->u, col->nvalues);
        v->s = col->values[v->u - 1];
        v->len = col->value_lens[v->u - 1];
        return 0;
    case TB_MYSQL_SET:
        v->kind = TB_BINLOG_V_SET;
        v->u = le(p, (int)n);
        return set_members(col, v, a, err);
    default:
        return tb_error_set(err, TB_ERR_INTERNAL, "unreachable type %u",
                            col->real_type);
    }
}

/* One image: NULL bitmap over the present columns, then their values. */
static int image(const tb_binlog_table_map *tm, const uint8_t *present,
                 const uint8_t *d, size_t len, size_t *pos, tb_arena *a,
                 tb_binlog_row *row, tb_error *err)
{
    uint32_t npresent = 0;
    for (uint32_t i = 0; i < tm->ncols; i++)
        npresent += (present[i / 8] >> (i % 8)) & 1;
    size_t nb = (npresent + 7) / 8;
    if (len - *pos < nb) return short_input(nb, len - *pos, "NULL bitmap", err);
    const uint8_t *nulls = d + *pos;
    *pos += nb;
    row->ncols = tm->ncols;
    row->vals = tb_arena_alloc(a, (size_t)tm->ncols * sizeof *row->vals);
    if (!row->vals) return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tb_binlog_value *v = &row->vals[i];
        size_t used = 0;
        if (!((present[i / 8] >> (i % 8)) & 1)) {
            memset(v, 0, sizeof *v);
            v->kind = TB_BINLOG_V_ABSENT;
            v->type = tm->cols[i].real_type;
            continue;
        }
        if ((nulls[k / 8] >> (k % 8)) & 1) {
            memset(v, 0, sizeof *v);
            v->kind = TB_BINLOG_V_NULL;
            v->type = tm->cols[i].real_type;
            k++;
            continue;
        }
        k++;
        if (tb_binlog_value_decode(&tm->cols[i], d + *pos, len - *pos, a, v,
                                   &used, err) < 0)
            return tb_error_prefix(err, "column %u (%s)", i + 1,
                                   tm->cols[i].name ? tm->cols[i].name : "?");
        *pos += used;
    }
    return 0;
}

int tb_binlog_rows_next(const tb_binlog_rows *rows,
                        const tb_binlog_table_map *tm, size_t *pos,
                        tb_arena *arena, tb_binlog_row *before,
                        tb_binlog_row *after, tb_error *err)
{
    before->ncols = 0;
    before->vals = NULL;
    after->ncols = 0;
    after->vals = NULL;
    if (rows->table_id != tm->table_id)
        return tb_error_set(err, TB_ERR_DECODE,
                            "ROWS for table id %llu with map of id %llu",
                            (unsigned long long)rows->table_id,
                            (unsigned long long)tm->table_id);
    if (rows->ncols != tm->ncols)
        return tb_error_set(err, TB_ERR_DECODE,
                            "ROWS has %u columns, table map of %s.%s has %u",
                            rows->ncols, tm->db, tm->table, tm->ncols);
    if (*pos >= rows->data_len)
        return tb_error_set(err, TB_ERR_DECODE, "no row left at offset %zu",
                            *pos);
    if (rows->op == 'w')
        return image(tm, rows->present, rows->data, rows->data_len, pos, arena,
                     after, err);
    if (image(tm, rows->present, rows->data, rows->data_len, pos, arena, before,
              err) < 0)
        return -1;
    if (rows->op == 'd') return 0;
    return image(tm, rows->present_upd, rows->data, rows->data_len, pos, arena,
                 after, err);
}
