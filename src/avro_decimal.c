/*
 * avro_decimal.c - decimal text <-> Avro decimal bytes.
 *
 * Avro's decimal logical type stores the unscaled integer (value * 10^scale)
 * as big-endian two's complement bytes. Values go far past 64 bits
 * (DECIMAL(65,30), numeric(1000)), so the conversion is done exactly on
 * arrays of 32-bit limbs, nine decimal digits at a time. Values of at most
 * 18 digits take a plain int64 path, which is the common case.
 */
#include "tb_avro.h"

#include <string.h>

#include "avro_binary.h"

/* Limbs for TB_AVRO_DECIMAL_MAX_DIGITS (3322 bits) plus headroom. */
#define LIMBS 112

/* A parsed decimal text: digits without sign, point or leading zeros. */
typedef struct dec_text {
    bool neg;       /* a '-' sign was present */
    const char *ip; /* integer digits, leading zeros skipped */
    size_t ilen;    /* number of integer digits */
    const char *fp; /* fraction digits */
    size_t flen;    /* fraction digits kept (trailing zeros past scale
                       dropped) */
} dec_text;

static int parse_text(const char *s, size_t len, int scale, dec_text *d,
                      tb_error *err)
{
    size_t i = 0;
    memset(d, 0, sizeof *d);
    if (i < len && (s[i] == '-' || s[i] == '+')) d->neg = s[i++] == '-';
    size_t istart = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t iend = i, fstart = i, fend = i;
    if (i < len && s[i] == '.') {
        fstart = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        fend = i;
    }
    if (i != len || (iend == istart && fend == fstart))
        return tb_error_set(err, TB_ERR_DECODE,
                            "decimal: malformed value \"%.*s\"",
                            (int)(len > 80 ? 80 : len), s);
    while (istart < iend && s[istart] == '0')
        istart++;
    d->ip = s + istart;
    d->ilen = iend - istart;
    d->fp = s + fstart;
    d->flen = fend - fstart;
    /* Trailing zeros beyond the scale change nothing; any other digit
     * beyond it would need rounding, which we refuse. */
    while (d->flen > (size_t)scale && d->fp[d->flen - 1] == '0')
        d->flen--;
    if (d->flen > (size_t)scale)
        return tb_error_set(err, TB_ERR_SCHEMA,
                            "decimal: \"%.*s\" has %zu fraction digits, the "
                            "column's scale is %d",
                            (int)(len > 80 ? 80 : len), s, d->flen, scale);
    return 0;
}

/* Next unscaled digit k (0-based from the most significant) of d padded to
 * `scale` fraction digits. */
static inline int digit_at(const dec_text *d, size_t k)
{
    if (k < d->ilen) return d->ip[k] - '0';
    k -= d->ilen;
    return k < d->flen ? d->fp[k] - '0' : 0;
}

/* Write v as minimal big-endian two's complement into out. */
static int put_minimal(uint8_t *tmp, size_t n, uint8_t *out, size_t cap,
                       size_t *outlen, tb_error *err)
{
    size_t k = 0;
    while (n - k > 1 && ((tmp[k] == 0x00 && !(tmp[k + 1] & 0x80)) ||
                         (tmp[k] == 0xff && (tmp[k + 1] & 0x80))))
        k++;
    if (n - k > cap)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "decimal: %zu bytes do not fit a %zu byte buffer",
                            n - k, cap);
    memcpy(out, tmp + k, n - k);
    *outlen = n - k;
    return 0;
}

int tb_avro_decimal_to_bytes(const char *text, size_t len, int precision,
                             int scale, uint8_t *out, size_t cap,
                             size_t *outlen, tb_error *err)
{
    dec_text d;
    if (scale < 0)
        return tb_error_set(err, TB_ERR_SCHEMA, "decimal: negative scale %d",
                            scale);
    if (parse_text(text, len, scale, &d, err) < 0) return -1;
    size_t ndig = d.ilen + (size_t)scale; /* digits of the unscaled value */
    size_t skip = 0;                      /* leading zero digits */
    if (d.ilen == 0)
        while (skip < ndig && digit_at(&d, skip) == 0)
            skip++;
    size_t sig = ndig - skip;
    if ((precision > 0 && sig > (size_t)precision) ||
        sig > TB_AVRO_DECIMAL_MAX_DIGITS)
        return tb_error_set(err, TB_ERR_SCHEMA,
                            "decimal: \"%.*s\" has %zu significant digits, "
                            "the column allows %d",
                            (int)(len > 80 ? 80 : len), text, sig,
                            precision > 0 ? precision
                                          : TB_AVRO_DECIMAL_MAX_DIGITS);
    if (sig <= 18) {
        uint64_t v = 0;
        for (size_t k = skip; k < ndig; k++)
            v = v * 10 + (uint64_t)digit_at(&d, k);
        if (d.neg) v = 0 - v;
        uint8_t tmp[8];
        for (int i = 0; i < 8; i++)
            tmp[i] = (uint8_t)(v >> (56 - 8 * i));
        return put_minimal(tmp, 8, out, cap, outlen, err);
    }
    /* Big path: limb[0] is least significant; feed nine digits at a time. */
    uint32_t limb[LIMBS];
    size_t nl = 1;
    limb[0] = 0;
    for (size_t k = skip; k < ndig;) {
        uint32_t chunk = 0, mul = 1;
        for (int j = 0; j < 9 && k < ndig; j++, k++) {
            chunk = chunk * 10 + (uint32_t)digit_at(&d, k);
            mul *= 10;
        }
        uint64_t carry = chunk;
        for (size_t i = 0; i < nl; i++) {
            uint64_t t = (uint64_t)limb[i] * mul + carry;
            limb[i] = (uint32_t)t;
            carry = t >> 32;
        }
        if (carry) limb[nl++] = (uint32_t)carry;
    }
    /* Big-endian bytes with one extra sign byte, then negate if needed. */
    uint8_t tmp[LIMBS * 4 + 1];
    size_t n = nl * 4 + 1;
    tmp[0] = 0;
    for (size_t i = 0; i < nl; i++)
        for (int j = 0; j < 4; j++)
            tmp[n - 1 - (i * 4 + (size_t)j)] = (uint8_t)(limb[i] >> (8 * j));
    if (d.neg) {
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned t = (uint8_t)~tmp[i] + carry;
            tmp[i] = (uint8_t)t;
            carry = t >> 8;
        }
    }
    return put_minimal(tmp, n, out, cap, outlen, err);
}

/* Lay out [-]digits with scale + pad fraction digits into the arena. */
static int format(bool neg, const char *dig, size_t nd, int scale, int pad,
                  tb_arena *arena, const char **text, uint32_t *textlen,
                  tb_error *err)
{
    size_t fr = (size_t)scale + (size_t)pad;
    size_t ip = nd > (size_t)scale ? nd - (size_t)scale : 0; /* int digits */
    size_t total = (neg ? 1 : 0) + (ip ? ip : 1) + (fr ? fr + 1 : 0);
    char *o = tb_arena_alloc(arena, total + 1);
    if (!o) return tb_error_set(err, TB_ERR_NOMEM, "decimal: out of memory");
    char *p = o;
    if (neg) *p++ = '-';
    if (ip) {
        memcpy(p, dig, ip);
        p += ip;
    } else {
        *p++ = '0';
    }
    if (fr) {
        *p++ = '.';
        size_t have = nd - ip; /* fraction digits present in dig */
        for (size_t i = have; i < (size_t)scale; i++)
            *p++ = '0';
        memcpy(p, dig + ip, have);
        p += have;
        memset(p, '0', (size_t)pad);
        p += pad;
    }
    *p = '\0';
    *text = o;
    *textlen = (uint32_t)(p - o);
    return 0;
}

int avro_decimal_text(const uint8_t *b, size_t n, int scale, int pad,
                      tb_arena *arena, const char **text, uint32_t *textlen,
                      tb_error *err)
{
    if (n == 0 || n > TB_AVRO_DECIMAL_MAX_BYTES)
        return tb_error_set(err, TB_ERR_DECODE,
                            "decimal: %zu bytes (expected 1..%d)", n,
                            TB_AVRO_DECIMAL_MAX_BYTES);
    if (scale < 0 || pad < 0 || scale > TB_AVRO_DECIMAL_MAX_DIGITS ||
        pad > TB_AVRO_DECIMAL_MAX_DIGITS)
        return tb_error_set(err, TB_ERR_SCHEMA, "decimal: bad scale %d", scale);
    bool neg = b[0] & 0x80;
    if (n <= 8) {
        uint64_t v = neg ? UINT64_MAX : 0; /* sign extension */
        for (size_t i = 0; i < n; i++)
            v = v << 8 | b[i];
        if (neg) v = 0 - v; /* magnitude; exact even for INT64_MIN */
        char dig[24];
        size_t nd = 0;
        char rev[24];
        do {
            rev[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        for (size_t i = 0; i < nd; i++)
            dig[i] = rev[nd - 1 - i];
        return format(neg, dig, nd, scale, pad, arena, text, textlen, err);
    }
    /* Big path: sign-extended limbs, negated to the magnitude. */
    uint32_t limb[LIMBS];
    size_t nl = (n + 3) / 4 + 1;
    for (size_t i = 0; i < nl; i++)
        limb[i] = neg ? UINT32_MAX : 0;
    for (size_t i = 0; i < n; i++) {
        size_t bit = 8 * (n - 1 - i); /* position of byte b[i] */
        uint32_t *l = &limb[bit / 32];
        *l = (*l & ~((uint32_t)0xff << (bit % 32))) | (uint32_t)b[i]
                                                          << (bit % 32);
    }
    if (neg) {
        uint64_t carry = 1;
        for (size_t i = 0; i < nl; i++) {
            uint64_t t = (uint64_t)(uint32_t)~limb[i] + carry;
            limb[i] = (uint32_t)t;
            carry = t >> 32;
        }
    }
    while (nl > 1 && limb[nl - 1] == 0)
        nl--;
    /* Repeated division by 10^9: chunks come out least significant first. */
    uint32_t chunk[LIMBS * 2];
    size_t nc = 0;
    while (nl > 1 || limb[0] != 0) {
        uint64_t rem = 0;
        for (size_t i = nl; i-- > 0;) {
            uint64_t cur = rem << 32 | limb[i];
            limb[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunk[nc++] = (uint32_t)rem;
        while (nl > 1 && limb[nl - 1] == 0)
            nl--;
    }
    char dig[LIMBS * 2 * 9 + 1];
    size_t nd = 0;
    for (size_t c = nc; c-- > 0;)
        for (int j = 8; j >= 0; j--) {
            uint32_t p10 = 1;
            for (int k = 0; k < j; k++)
                p10 *= 10;
            char ch = (char)('0' + chunk[c] / p10 % 10);
            if (nd == 0 && ch == '0') continue; /* leading zero */
            dig[nd++] = ch;
        }
    if (nd == 0) dig[nd++] = '0';
    return format(neg, dig, nd, scale, pad, arena, text, textlen, err);
}

int tb_avro_decimal_from_bytes(const uint8_t *b, size_t n, int scale,
                               tb_arena *arena, const char **text,
                               uint32_t *textlen, tb_error *err)
{
    return avro_decimal_text(b, n, scale, 0, arena, text, textlen, err);
}
