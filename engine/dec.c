/*
 * dec.c -- exact decimals (rb_dec) and ISO 4217 minor units.
 *
 * Provides: every rb_dec_* function of include/rebill.h ("Exact decimals"),
 * rb_currency_digits() and rb_dec_round_currency().
 * Uses: the compiler's 128-bit integers (GCC and Clang `__int128`), a small unsigned 256-bit
 * type defined here for products and quotients, and rbi_error_set() for parse messages.
 * Must never: allocate; round unless the caller passed an rb_rounding; return a wrapped or
 * silently rounded value (a result that does not fit is RB_OVERFLOW); write *r or *out when
 * it fails; let signed arithmetic overflow. Values are handled as a sign and an unsigned
 * magnitude, and every bound is checked before the operation, so UBSan has nothing to find.
 *
 * One rule decides how an exact result becomes an rb_dec ("fit", below): keep the natural
 * scale of the operation (max of the scales for add/sub, their sum for mul, the implied one
 * for parse) and drop the fewest trailing zeros that bring the coefficient under 10^38 and
 * the scale to 38 or less. If a digit to drop is not zero, the result is RB_OVERFLOW.
 */
#include "rb_int.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define E19 ((u128)10000000000000000000ULL)

/* 10^0 .. 10^38. 10^38 < 2^127, so every entry fits a u128 with a bit to spare. */
static const u128 p10[RB_DEC_MAX_DIGITS + 1] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    E19,
    E19 * 10ULL,
    E19 * 100ULL,
    E19 * 1000ULL,
    E19 * 10000ULL,
    E19 * 100000ULL,
    E19 * 1000000ULL,
    E19 * 10000000ULL,
    E19 * 100000000ULL,
    E19 * 1000000000ULL,
    E19 * 10000000000ULL,
    E19 * 100000000000ULL,
    E19 * 1000000000000ULL,
    E19 * 10000000000000ULL,
    E19 * 100000000000000ULL,
    E19 * 1000000000000000ULL,
    E19 * 10000000000000000ULL,
    E19 * 100000000000000000ULL,
    E19 * 1000000000000000000ULL,
    E19 * 10000000000000000000ULL,
};

/* The first magnitude that does not fit: 10^38. */
#define LIMIT p10[RB_DEC_MAX_DIGITS]

/* {=====================================================================================
 * Unsigned 256-bit integers: enough for any product of two coefficients (< 10^76) and for
 * a coefficient scaled by up to 10^76 in a division (< 2^256 ~ 1.16 x 10^77).
 * ===================================================================================== */
struct u256 {
    u128 hi; /* high 128 bits */
    u128 lo; /* low 128 bits */
};

static struct u256 u256_of(u128 v)
{
    struct u256 r = {0, v};
    return r;
}

static bool u256_is_zero(struct u256 a)
{
    return a.hi == 0 && a.lo == 0;
}

/* -1, 0 or 1 as a <, ==, > b. */
static int u256_cmp(struct u256 a, struct u256 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

/* a + b; the callers' bounds keep the sum under 2^256. */
static struct u256 u256_add(struct u256 a, struct u256 b)
{
    struct u256 r;
    r.lo = a.lo + b.lo;
    r.hi = a.hi + b.hi + (r.lo < a.lo);
    return r;
}

/* a - b for a >= b. */
static struct u256 u256_sub(struct u256 a, struct u256 b)
{
    struct u256 r;
    r.lo = a.lo - b.lo;
    r.hi = a.hi - b.hi - (a.lo < b.lo);
    return r;
}

/* The full 256-bit product of two 128-bit numbers, from four 64x64 partial products. */
static struct u256 u256_mul(u128 a, u128 b)
{
    u128 a0 = (uint64_t)a, a1 = a >> 64;
    u128 b0 = (uint64_t)b, b1 = b >> 64;
    u128 p00 = a0 * b0, p01 = a0 * b1, p10_ = a1 * b0, p11 = a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10_; /* < 3 x 2^64: no carry out */
    struct u256 r;

    r.lo = (uint64_t)p00 | (mid << 64);
    r.hi = p11 + (p01 >> 64) + (p10_ >> 64) + (mid >> 64);
    return r;
}

/* *a /= d for a small divisor; returns the remainder. Works 64 bits at a time. */
static uint64_t u256_divmod_small(struct u256 *a, uint64_t d)
{
    uint64_t w[4] = {(uint64_t)(a->hi >> 64), (uint64_t)a->hi, (uint64_t)(a->lo >> 64),
                     (uint64_t)a->lo};
    u128 rem = 0;

    for (int i = 0; i < 4; i++) {
        u128 cur = (rem << 64) | w[i];
        w[i] = (uint64_t)(cur / d);
        rem = cur % d;
    }
    a->hi = ((u128)w[0] << 64) | w[1];
    a->lo = ((u128)w[2] << 64) | w[3];
    return (uint64_t)rem;
}

/* Number of significant bits of a (0 for zero). */
static int u256_bits(struct u256 a)
{
    u128 top = a.hi ? a.hi : a.lo;
    int base = a.hi ? 128 : 0;

    if (top >> 64)
        return base + 128 - __builtin_clzll((uint64_t)(top >> 64));
    if (top)
        return base + 64 - __builtin_clzll((uint64_t)top);
    return base;
}

/* a << n for 0 <= n < 256. */
static struct u256 u256_shl(struct u256 a, int n)
{
    struct u256 r;
    if (n == 0)
        return a;
    if (n >= 128) {
        r.hi = a.lo << (n - 128);
        r.lo = 0;
    } else {
        r.hi = (a.hi << n) | (a.lo >> (128 - n));
        r.lo = a.lo << n;
    }
    return r;
}

static struct u256 u256_shr1(struct u256 a)
{
    struct u256 r = {a.hi >> 1, (a.lo >> 1) | (a.hi << 127)};
    return r;
}

/*
 * n / d (d not zero) with *rem = n % d, by shift-and-subtract long division. The caller
 * guarantees the quotient fits 128 bits; the number of steps is the quotient's bit length.
 */
static u128 u256_divmod(struct u256 n, struct u256 d, struct u256 *rem)
{
    u128 q = 0;
    int shift;

    if (n.hi == 0 && d.hi == 0) {
        *rem = u256_of(n.lo % d.lo);
        return n.lo / d.lo;
    }
    shift = u256_bits(n) - u256_bits(d);
    if (shift < 0) {
        *rem = n;
        return 0;
    }
    d = u256_shl(d, shift);
    for (; shift >= 0; shift--) {
        q <<= 1;
        if (u256_cmp(n, d) >= 0) {
            n = u256_sub(n, d);
            q |= 1;
        }
        d = u256_shr1(d);
    }
    *rem = n;
    return q;
}

/* {=====================================================================================
 * The public struct as sign and magnitude
 * ===================================================================================== */

/*
 * Read 'd' as a sign and an unsigned magnitude; returns the scale. A malformed value (one
 * not made by this file) is asserted in debug builds; its scale is clamped so that it can
 * never index past p10[], and the 256-bit paths stay exact for any 128-bit magnitude.
 */
static inline int dec_get(const rb_dec *d, u128 *mag, bool *neg)
{
    u128 u = ((u128)(uint64_t)d->hi << 64) | d->lo;
    int scale = d->scale;

    *neg = d->hi < 0;
    *mag = *neg ? 0 - u : u;
    rb_assert(*mag < LIMIT);
    if (RB_NEVER(scale < 0 || scale > RB_DEC_MAX_SCALE))
        scale = scale < 0 ? 0 : RB_DEC_MAX_SCALE;
    return scale;
}

/* Build an rb_dec from a magnitude below 10^38. A zero magnitude is never negative. */
static inline rb_dec dec_make(u128 mag, bool neg, int scale)
{
    u128 u = neg ? 0 - mag : mag;
    rb_dec d;

    d.lo = (uint64_t)u;
    d.hi = (int64_t)(uint64_t)(u >> 64); /* two's complement: GCC and Clang wrap, as wanted */
    d.scale = scale;
    d.pad_ = 0;
    return d;
}

/*
 * Store the exact value m x 10^-scale (m a magnitude, scale >= 0) in *r, dropping the fewest
 * trailing zeros that bring m under 10^38 and scale to at most 38. RB_OVERFLOW, with *r
 * untouched, if a digit that would have to go is not zero.
 */
static rb_status fit(rb_dec *r, struct u256 m, bool neg, int scale)
{
    const struct u256 limit = u256_of(LIMIT);

    while (scale > RB_DEC_MAX_SCALE || u256_cmp(m, limit) >= 0) {
        if (scale == 0 || u256_divmod_small(&m, 10) != 0)
            return RB_OVERFLOW;
        scale--;
    }
    *r = dec_make(m.lo, neg, scale);
    return RB_OK;
}

static bool mode_is_valid(rb_rounding mode)
{
    return (unsigned)mode <= (unsigned)RB_ROUND_CEILING;
}

/*
 * Whether a truncated magnitude must move one unit away from zero. 'half' says where the
 * discarded part lies against one half of a unit (-1 below, 0 exactly, 1 above); 'exact'
 * says it is zero; 'odd' is the parity of the truncated magnitude.
 */
static bool round_away(rb_rounding mode, bool neg, bool odd, bool exact, int half)
{
    if (exact)
        return false;
    switch (mode) {
    case RB_ROUND_HALF_EVEN:
        return half > 0 || (half == 0 && odd);
    case RB_ROUND_HALF_UP:
        return half >= 0;
    case RB_ROUND_DOWN:
        return false;
    case RB_ROUND_UP:
        return true;
    case RB_ROUND_FLOOR:
        return neg;
    case RB_ROUND_CEILING:
        return !neg;
    }
    return false;
}

/* {=====================================================================================
 * Parsing and formatting
 * ===================================================================================== */

/* Bytes of the offending text quoted in a parse message; longer text is cut with "...". */
#define QUOTE_MAX 64

/* The significant digits of a number's text, as they are read. */
struct digits {
    uint64_t small; /* the value while it has at most 19 significant digits */
    u128 big;       /* the value once it has more (set from 'small' at the switch) */
    int nsig;       /* significant digits kept, at most 38 */
    int64_t nzero;  /* zeros read after the 38th significant digit (not kept) */
    bool toolong;   /* a non-zero digit came after the 38th significant digit */
};

/* A digit after the 19th significant one: the slow path of scan_digits(). */
static void digit_slow(struct digits *d, unsigned v)
{
    if (d->nsig < RB_DEC_MAX_DIGITS) {
        if (d->nsig == 19)
            d->big = d->small;
        d->big = d->big * 10 + v;
        d->nsig++;
    } else if (v != 0) {
        d->toolong = true;
    } else {
        d->nzero++;
    }
}

/* Read a run of digits from p; returns where it stopped. Leading zeros are not counted. */
static const char *scan_digits(struct digits *d, const char *p, const char *end)
{
    for (; p < end; p++) {
        unsigned v = (unsigned)(unsigned char)*p - '0';
        if (v > 9)
            break;
        if (d->nsig < 19) {
            d->small = d->small * 10 + v;
            d->nsig += d->small != 0;
        } else {
            digit_slow(d, v);
        }
    }
    return p;
}

/* Read "[+-]digits" after an 'e' into *out (saturating far out of range); returns where it
 * stopped, or NULL if there are no digits. */
static const char *scan_exponent(const char *p, const char *end, int64_t *out)
{
    bool neg = false;
    const char *start;
    int64_t e = 0;

    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    start = p;
    for (; p < end && (unsigned)(unsigned char)*p - '0' <= 9; p++) {
        if (e < 1000000000)
            e = e * 10 + (*p - '0');
    }
    if (p == start)
        return NULL;
    *out = neg ? -e : e;
    return p;
}

/* Set *err to "what: \"text\"", quoting at most QUOTE_MAX bytes; returns code. */
static rb_status parse_fail(rb_error *err, rb_status code, const char *what, const char *s,
                            size_t len)
{
    char q[QUOTE_MAX + 1];
    size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        q[i] = c < 0x20 || c == 0x7f ? '?' : (char)c; /* keep the message printable */
    }
    q[n] = '\0';
    return rbi_error_set(err, code, "%s: \"%s%s\"", what, q, len > n ? "..." : "");
}

/*
 * Apply fit()'s rule to parsed digits 'c' (at most 38 of them) at the implied 'scale', which
 * may be negative or above 38. Returns NULL when *out is set, else why the value does not fit.
 * With at most 38 digits, no 256-bit arithmetic is needed.
 */
static const char *parsed_value(rb_dec *out, u128 c, bool neg, int64_t scale)
{
    if (c == 0) {
        scale = scale < 0 ? 0 : scale > RB_DEC_MAX_SCALE ? RB_DEC_MAX_SCALE : scale;
    } else if (scale < 0) { /* a positive exponent: multiply, if the result has room */
        if (scale < -RB_DEC_MAX_DIGITS || c >= p10[RB_DEC_MAX_DIGITS + scale])
            return "decimal out of range (more than 38 digits)";
        c *= p10[-scale];
        scale = 0;
    } else if (scale > RB_DEC_MAX_SCALE) { /* only trailing zeros may go */
        int64_t drop = scale - RB_DEC_MAX_SCALE;
        if (drop > RB_DEC_MAX_DIGITS || c % p10[drop] != 0)
            return "decimal out of range (more than 38 fraction digits)";
        c /= p10[drop];
        scale = RB_DEC_MAX_SCALE;
    }
    *out = dec_make(c, neg, (int)scale);
    return NULL;
}

/*
 * Parse "[+-]digits[.digits][(e|E)[+-]digits]" in one pass, without allocating: the digits
 * accumulate in a uint64_t while there are at most 19 of them, then in a u128. The value is
 * D x 10^-(F - E) for the digits D, F fraction digits and exponent E. Syntax is checked to
 * the end before any range error is reported.
 */
rb_status rb_dec_parse(rb_dec *out, const char *s, size_t len, rb_error *err)
{
    struct digits d = {0, 0, 0, 0, false};
    const char *p, *end, *frac, *why;
    int64_t nfrac = 0, e10 = 0;
    size_t ndig;
    bool neg = false;

    if (RB_NEVER(out == NULL))
        return rbi_error_set(err, RB_MISUSE, "rb_dec_parse: out is NULL");
    if (s == NULL) { /* no text: parse "" (and never do arithmetic on a null pointer) */
        s = "";
        len = 0;
    }
    p = s;
    end = s + len;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    frac = scan_digits(&d, p, end);
    ndig = (size_t)(frac - p);
    p = frac;
    if (p < end && *p == '.') {
        p = scan_digits(&d, frac + 1, end);
        nfrac = p - (frac + 1);
        ndig += (size_t)nfrac;
    }
    if (ndig > 0 && p < end && (*p | 0x20) == 'e')
        p = scan_exponent(p + 1, end, &e10);
    if (ndig == 0 || p != end)
        return parse_fail(err, RB_SYNTAX, "not a decimal number", s, len);
    if (d.toolong)
        return parse_fail(err, RB_OVERFLOW, "decimal out of range (more than 38 digits)", s, len);
    /* the zeros read beyond 38 digits are dropped already: 'nzero' fewer fraction digits */
    why = parsed_value(out, d.nsig <= 19 ? d.small : d.big, neg, nfrac - e10 - d.nzero);
    if (why != NULL)
        return parse_fail(err, RB_OVERFLOW, why, s, len);
    return RB_OK;
}

rb_dec rb_dec_from_int(int64_t v)
{
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    return dec_make(mag, v < 0, 0);
}

rb_dec rb_dec_zero(void)
{
    return dec_make(0, false, 0);
}

/* Write the decimal digits of m ("0" for zero) ending just before 'end'; returns the start. */
static char *put_digits(char *end, u128 m)
{
    char *p = end;

    while (m > UINT64_MAX) { /* 19 digits at a time: one 128-bit division per chunk */
        uint64_t chunk = (uint64_t)(m % E19);
        m /= E19;
        for (int i = 0; i < 19; i++, chunk /= 10)
            *--p = (char)('0' + chunk % 10);
    }
    for (uint64_t v = (uint64_t)m; v != 0 || p == end; v /= 10)
        *--p = (char)('0' + v % 10);
    return p;
}

/*
 * Plain text with exactly 'scale' fraction digits and a leading "0" before the point when
 * the integer part is zero. The longest text is "-" + 39 digits + "." = 41 bytes (39 only
 * for a malformed magnitude), so RB_DEC_BUFSZ always holds it.
 */
size_t rb_dec_format(const rb_dec *d, char *buf, size_t size)
{
    char dig[40], text[RB_DEC_BUFSZ];
    char *first, *t = text;
    bool neg;
    u128 m;
    int scale = dec_get(d, &m, &neg);
    size_t n, ipart, len;

    first = put_digits(dig + sizeof(dig), m);
    n = (size_t)(dig + sizeof(dig) - first);
    if (neg)
        *t++ = '-';
    if (n > (size_t)scale) { /* integer digits, then the point and the fraction */
        ipart = n - (size_t)scale;
        memcpy(t, first, ipart);
        t += ipart;
        if (scale > 0)
            *t++ = '.';
        memcpy(t, first + ipart, (size_t)scale);
        t += scale;
    } else { /* "0." then zeros up to the digits */
        *t++ = '0';
        *t++ = '.';
        memset(t, '0', (size_t)scale - n);
        t += (size_t)scale - n;
        memcpy(t, first, n);
        t += n;
    }
    len = (size_t)(t - text);
    if (size == 0)
        return 0;
    if (len >= size)
        len = size - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return len;
}

/* {=====================================================================================
 * Arithmetic
 * ===================================================================================== */

/* r = a + b, or a - b when 'minus': align both to the larger scale in 256 bits, then fit. */
static rb_status add_signed(rb_dec *r, const rb_dec *a, const rb_dec *b, bool minus)
{
    u128 ma, mb;
    bool na, nb;
    int sa = dec_get(a, &ma, &na);
    int sb = dec_get(b, &mb, &nb);
    int s = sa > sb ? sa : sb;
    struct u256 xa, xb;

    nb = nb != minus;
    /* Fast path (aggregation's common case): both aligned magnitudes stay below 10^38, so
     * their sum is below 2 x 10^38 < 2^128 and 128-bit arithmetic is exact. */
    if (ma < p10[RB_DEC_MAX_DIGITS - (s - sa)] && mb < p10[RB_DEC_MAX_DIGITS - (s - sb)]) {
        u128 ya = ma * p10[s - sa], yb = mb * p10[s - sb], m;
        bool neg = na;

        if (na == nb) {
            m = ya + yb;
        } else if (ya >= yb) {
            m = ya - yb;
        } else {
            m = yb - ya;
            neg = nb;
        }
        if (m < LIMIT) {
            *r = dec_make(m, neg, s);
            return RB_OK;
        }
        return fit(r, u256_of(m), neg, s);
    }
    xa = u256_mul(ma, p10[s - sa]);
    xb = u256_mul(mb, p10[s - sb]);
    if (na == nb)
        return fit(r, u256_add(xa, xb), na, s);
    if (u256_cmp(xa, xb) >= 0)
        return fit(r, u256_sub(xa, xb), na, s);
    return fit(r, u256_sub(xb, xa), nb, s);
}

rb_status rb_dec_add(rb_dec *r, const rb_dec *a, const rb_dec *b)
{
    if (RB_NEVER(r == NULL || a == NULL || b == NULL))
        return RB_MISUSE;
    return add_signed(r, a, b, false);
}

rb_status rb_dec_sub(rb_dec *r, const rb_dec *a, const rb_dec *b)
{
    if (RB_NEVER(r == NULL || a == NULL || b == NULL))
        return RB_MISUSE;
    return add_signed(r, a, b, true);
}

/* The exact product (< 10^76 in 256 bits) at scale a.scale + b.scale, then fit. */
rb_status rb_dec_mul(rb_dec *r, const rb_dec *a, const rb_dec *b)
{
    u128 ma, mb;
    bool na, nb;
    int sa, sb;

    if (RB_NEVER(r == NULL || a == NULL || b == NULL))
        return RB_MISUSE;
    sa = dec_get(a, &ma, &na);
    sb = dec_get(b, &mb, &nb);
    return fit(r, u256_mul(ma, mb), na != nb, sa + sb);
}

/* Same as rb_dec_mul() with n as a decimal of scale 0 (so the result keeps a's scale). */
rb_status rb_dec_mul_int(rb_dec *r, const rb_dec *a, int64_t n)
{
    rb_dec b = rb_dec_from_int(n);
    return rb_dec_mul(r, a, &b);
}

/*
 * m x 10^e in 256 bits for 0 <= e <= 76, but only if it is below 10^76 (false otherwise):
 * with m < 10^38, a larger dividend means a quotient of more than 38 digits anyway.
 */
static bool scaled_dividend(u128 m, int e, struct u256 *out)
{
    if (e <= RB_DEC_MAX_DIGITS) {
        *out = u256_mul(m, p10[e]);
        return true;
    }
    if (m >= p10[2 * RB_DEC_MAX_DIGITS - e])
        return false;
    *out = u256_mul(m * p10[e - RB_DEC_MAX_DIGITS], LIMIT);
    return true;
}

/*
 * The quotient is q = ma x 10^e / mb with e = scale + b.scale - a.scale (-38..76), rounded.
 * For e >= 0 the dividend is scaled, and a dividend of at least mb x 10^38 would give 39
 * digits or more, so it is refused before dividing; for e < 0 the divisor is scaled instead.
 * Either way the long division's quotient is below 10^38 and its operands below 2^256.
 */
rb_status rb_dec_div(rb_dec *r, const rb_dec *a, const rb_dec *b, int scale, rb_rounding mode)
{
    u128 ma, mb, q;
    bool na, nb;
    int sa, sb, e;
    struct u256 num, den, rem;

    if (RB_NEVER(r == NULL || a == NULL || b == NULL))
        return RB_MISUSE;
    sa = dec_get(a, &ma, &na);
    sb = dec_get(b, &mb, &nb);
    if (mb == 0 || scale < 0 || scale > RB_DEC_MAX_SCALE || !mode_is_valid(mode))
        return RB_INVALID;
    e = scale + sb - sa;
    if (e >= 0) {
        if (!scaled_dividend(ma, e, &num))
            return RB_OVERFLOW;
        den = u256_of(mb);
        if (u256_cmp(num, u256_mul(mb, LIMIT)) >= 0)
            return RB_OVERFLOW;
    } else {
        num = u256_of(ma);
        den = u256_mul(mb, p10[-e]);
    }
    q = u256_divmod(num, den, &rem);
    if (round_away(mode, na != nb, q & 1, u256_is_zero(rem), u256_cmp(rem, u256_sub(den, rem))))
        q++;
    /* Rounding cannot carry into a 39th digit: an exact quotient strictly between 10^38 - 1
     * and 10^38 would need a dividend that is not a multiple of 10^e. Checked anyway. */
    if (RB_NEVER(q >= LIMIT))
        return RB_OVERFLOW;
    *r = dec_make(q, na != nb, scale);
    return RB_OK;
}

/* {=====================================================================================
 * Rounding, comparison and the small value functions
 * ===================================================================================== */

/* A larger scale multiplies by a power of ten (exact or RB_OVERFLOW); a smaller one divides
 * and rounds, which can never overflow. */
rb_status rb_dec_round(rb_dec *r, const rb_dec *a, int scale, rb_rounding mode)
{
    u128 m, unit, q, rem;
    bool neg;
    int sa;

    if (RB_NEVER(r == NULL || a == NULL))
        return RB_MISUSE;
    if (scale < 0 || scale > RB_DEC_MAX_SCALE || !mode_is_valid(mode))
        return RB_INVALID;
    sa = dec_get(a, &m, &neg);
    if (scale >= sa) {
        if (m >= p10[RB_DEC_MAX_DIGITS - (scale - sa)])
            return RB_OVERFLOW;
        *r = dec_make(m * p10[scale - sa], neg, scale);
        return RB_OK;
    }
    unit = p10[sa - scale];
    q = m / unit;
    rem = m % unit;
    if (round_away(mode, neg, q & 1, rem == 0, rem < unit - rem ? -1 : rem > unit - rem))
        q++;
    *r = dec_make(q, neg, scale);
    return RB_OK;
}

rb_dec rb_dec_neg(const rb_dec *a)
{
    u128 m;
    bool neg;
    int scale = dec_get(a, &m, &neg);
    return dec_make(m, !neg, scale);
}

int rb_dec_sign(const rb_dec *a)
{
    if (a->hi < 0)
        return -1;
    return a->hi != 0 || a->lo != 0;
}

/* Signs first; equal signs compare magnitudes aligned to the larger scale (in 256 bits). */
int rb_dec_cmp(const rb_dec *a, const rb_dec *b)
{
    int ga = rb_dec_sign(a), gb = rb_dec_sign(b), c;
    u128 ma, mb;
    bool na, nb;
    int sa, sb, s;

    if (ga != gb)
        return ga < gb ? -1 : 1;
    if (ga == 0)
        return 0;
    sa = dec_get(a, &ma, &na);
    sb = dec_get(b, &mb, &nb);
    s = sa > sb ? sa : sb;
    c = u256_cmp(u256_mul(ma, p10[s - sa]), u256_mul(mb, p10[s - sb]));
    return ga < 0 ? -c : c;
}

/* Zero normalizes to "0" (scale 0). */
rb_dec rb_dec_normalize(const rb_dec *a)
{
    u128 m;
    bool neg;
    int scale = dec_get(a, &m, &neg);

    if (m == 0)
        return rb_dec_zero();
    while (scale > 0 && m % 10 == 0) {
        m /= 10;
        scale--;
    }
    return dec_make(m, neg, scale);
}

/* {=====================================================================================
 * Currencies
 * ===================================================================================== */

/*
 * The ISO 4217 currencies whose minor unit is not 2 digits. Every other code has 2: among
 * them USD EUR GBP CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF, and that is also the answer for
 * an unknown code. Sorted by code.
 */
static const struct {
    char code[4]; /* upper case, NUL-terminated */
    int digits;   /* minor unit digits */
} minor_units[] = {
    {"BHD", 3}, {"BIF", 0}, {"CLF", 4}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"IQD", 3},
    {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0}, {"KWD", 3}, {"LYD", 3},
    {"OMR", 3}, {"PYG", 0}, {"RWF", 0}, {"TND", 3}, {"UGX", 0}, {"UYI", 0}, {"UYW", 4},
    {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0},
};

/* Codes are three ASCII letters; lower case is accepted ("jpy" is JPY). */
int rb_currency_digits(const char *code)
{
    char up[4];

    if (code == NULL)
        return 2;
    for (int i = 0; i < 3; i++) {
        char c = code[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return 2;
        up[i] = c;
    }
    if (code[3] != '\0')
        return 2;
    up[3] = '\0';
    for (size_t i = 0; i < RB_COUNTOF(minor_units); i++) {
        if (memcmp(minor_units[i].code, up, 4) == 0)
            return minor_units[i].digits;
    }
    return 2;
}

rb_status rb_dec_round_currency(rb_dec *r, const rb_dec *a, const char *currency, rb_rounding mode)
{
    return rb_dec_round(r, a, rb_currency_digits(currency), mode);
}
