/*
 * usage.c -- cost and usage exports: formats, the canonical line, daily aggregation,
 * import semantics (replace per source and billing period), manifests and queries.
 *
 * Provides: rb_usage_* of include/rebill.h.
 * Uses: csv.c (through usage.h) to read files on several threads; exact decimals (dec.c);
 * the key/value layer; org.c and transfer.c at query time only.
 * Must never: add amounts of different currencies, round, use binary floating point, keep
 * a file's rows in memory (only aggregates), key aggregates by organization (attribution
 * happens when a query runs), or change the store outside rb_usage_import_apply().
 *
 * Storage (docs/formats.md has the table):
 *   usage      be32(period) source NUL be32(seq) -> aggregate record
 *   manifests  be32(period) source               -> manifest record
 *   meta       "usage:keep_tags"                 -> the kept tag keys
 *   meta       "usage:epoch"                     -> bumped with every period written
 * so that (period, source) is a key prefix: one rbi_del_prefix() drops an earlier import.
 */
#include "usage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* {===================================================================================
 * Formats and columns
 * =================================================================================== */

/* The canonical line's fields, as slots of a scanned row. */
enum slot {
    S_ACCOUNT,
    S_ACCOUNT2, /* FOCUS BillingAccountId, when SubAccountId is null */
    S_PERIOD,
    S_DAY,
    S_SERVICE,
    S_USAGE_TYPE,
    S_OPERATION,
    S_REGION,
    S_LINE_TYPE,
    S_ENTITY,
    S_CURRENCY,
    S_QTY,
    S_BILLED,
    S_LIST,
    S_EFFECTIVE,
    S_SP_EFF, /* CUR: the parts of the effective (amortized) cost */
    S_SP_TOTAL,
    S_SP_USED,
    S_RI_EFF,
    S_RI_AMORT,
    S_RI_RECUR,
    S_TAGS, /* CUR 2.0 and FOCUS: tags as a JSON object */
    S_TAG0, /* legacy CUR: one column per kept tag */
    S__COUNT = S_TAG0 + RB_USAGE_MAX_TAGS
};

#define F_CUR 1
#define F_CUR2 2
#define F_FOCUS 4

static const struct {
    const char *name[3];    /* cur, cur2, focus; NULL: not in that format */
    unsigned char required; /* F_* */
} columns[S_TAG0] = {
    [S_ACCOUNT] = {{"lineItem/UsageAccountId", "line_item_usage_account_id", "SubAccountId"},
                   F_CUR | F_CUR2 | F_FOCUS},
    [S_ACCOUNT2] = {{NULL, NULL, "BillingAccountId"}, 0},
    [S_PERIOD] = {{"bill/BillingPeriodStartDate", "bill_billing_period_start_date",
                   "BillingPeriodStart"},
                  F_CUR | F_CUR2 | F_FOCUS},
    [S_DAY] = {{"lineItem/UsageStartDate", "line_item_usage_start_date", "ChargePeriodStart"},
               F_CUR | F_CUR2 | F_FOCUS},
    [S_SERVICE] = {{"lineItem/ProductCode", "line_item_product_code", "ServiceName"},
                   F_CUR | F_CUR2 | F_FOCUS},
    [S_USAGE_TYPE] = {{"lineItem/UsageType", "line_item_usage_type", "SkuId"}, F_CUR | F_CUR2},
    [S_OPERATION] = {{"lineItem/Operation", "line_item_operation", "ChargeDescription"},
                     F_CUR | F_CUR2},
    [S_REGION] = {{"product/region", "product_region_code", "RegionId"}, 0},
    [S_LINE_TYPE] = {{"lineItem/LineItemType", "line_item_line_item_type", "ChargeCategory"},
                     F_CUR | F_CUR2 | F_FOCUS},
    [S_ENTITY] = {{"bill/BillingEntity", "bill_billing_entity", "ProviderName"}, F_CUR | F_CUR2},
    [S_CURRENCY] = {{"lineItem/CurrencyCode", "line_item_currency_code", "BillingCurrency"},
                    F_FOCUS},
    [S_QTY] = {{"lineItem/UsageAmount", "line_item_usage_amount", "PricingQuantity"},
               F_CUR | F_CUR2 | F_FOCUS},
    [S_BILLED] = {{"lineItem/UnblendedCost", "line_item_unblended_cost", "BilledCost"},
                  F_CUR | F_CUR2 | F_FOCUS},
    [S_LIST] = {{"pricing/publicOnDemandCost", "pricing_public_on_demand_cost", "ListCost"},
                F_CUR | F_CUR2 | F_FOCUS},
    [S_EFFECTIVE] = {{NULL, NULL, "EffectiveCost"}, F_FOCUS},
    [S_SP_EFF] = {{"savingsPlan/SavingsPlanEffectiveCost",
                   "savings_plan_savings_plan_effective_cost", NULL},
                  0},
    [S_SP_TOTAL] = {{"savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date",
                     NULL},
                    0},
    [S_SP_USED] = {{"savingsPlan/UsedCommitment", "savings_plan_used_commitment", NULL}, 0},
    [S_RI_EFF] = {{"reservation/EffectiveCost", "reservation_effective_cost", NULL}, 0},
    [S_RI_AMORT] = {{"reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                     "reservation_unused_amortized_upfront_fee_for_billing_period", NULL},
                    0},
    [S_RI_RECUR] = {{"reservation/UnusedRecurringFee", "reservation_unused_recurring_fee", NULL},
                    0},
    [S_TAGS] = {{NULL, "resource_tags", "Tags"}, 0},
};

/* The string dimensions of an aggregate, in key order, and the slot each comes from. */
enum dim {
    D_ACCOUNT,
    D_SERVICE,
    D_USAGE_TYPE,
    D_OPERATION,
    D_REGION,
    D_LINE_TYPE,
    D_ENTITY,
    D_CURRENCY,
    D_TAG0,
    D__MAX = D_TAG0 + RB_USAGE_MAX_TAGS
};

static const enum slot dim_slot[D_TAG0] = {S_ACCOUNT, S_SERVICE,   S_USAGE_TYPE, S_OPERATION,
                                           S_REGION,  S_LINE_TYPE, S_ENTITY,     S_CURRENCY};

enum { A_QTY, A_BILLED, A_LIST, A_EFF, A__COUNT };

static const char *const format_names[] = {"auto", "cur", "cur2", "focus"};

const char *rb_usage_format_name(rb_usage_format f)
{
    return (unsigned)f < RB_COUNTOF(format_names) ? format_names[f] : "unknown";
}

/* {===================================================================================
 * Small helpers
 * =================================================================================== */

/* Text for a message: at most 64 bytes, control characters as '?', "..." when cut. */
static const char *quoted(char *buf, size_t cap, const char *p, size_t n)
{
    size_t k = n > 64 ? 64 : n, i;

    if (cap < 72)
        return "";
    for (i = 0; i < k; i++) {
        unsigned char c = (unsigned char)p[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (k < n) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline bool two(const char *p, int *out)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0', b = (unsigned)(unsigned char)p[1] - '0';

    if (a > 9 || b > 9)
        return false;
    *out = (int)(a * 10 + b);
    return true;
}

/* The time after a date (p[0..n) starts at the 11th character): see parse_day(). */
static bool time_rest_ok(const char *p, size_t n)
{
    int h, mi, s;
    size_t i = 10;

    if (n == 10)
        return true;
    if ((p[10] != 'T' && p[10] != ' ') || n < 16 || !two(p + 11, &h) || p[13] != ':' ||
        !two(p + 14, &mi) || h > 23 || mi > 59)
        return false;
    i = 16;
    if (i < n && p[i] == ':') {
        if (n < 19 || !two(p + 17, &s) || s > 59)
            return false;
        i = 19;
        if (i < n && p[i] == '.') {
            i++;
            if (i == n || (unsigned)(unsigned char)p[i] - '0' > 9)
                return false;
            while (i < n && (unsigned)(unsigned char)p[i] - '0' <= 9)
                i++;
        }
    }
    if (i < n) {
        size_t rest = n - i;
        if (!((rest == 1 && p[i] == 'Z') ||
              (rest == 6 && (memcmp(p + i, "+00:00", 6) == 0 || memcmp(p + i, "-00:00", 6) == 0)) ||
              (rest == 5 && memcmp(p + i, "+0000", 5) == 0)))
            return false;
    }
    return true;
}

/* The date YYYY-MM-DD at p (10 bytes): its day (days since 1970-01-01) and month. */
static bool date_ok(const char *p, int32_t *day, int *month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int c1, c2, mo, d, y;
    bool leap;

    if (p[4] != '-' || p[7] != '-' || !two(p, &c1) || !two(p + 2, &c2) || !two(p + 5, &mo) ||
        !two(p + 8, &d))
        return false;
    y = c1 * 100 + c2;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > (mo == 2 && leap ? 29 : dim[mo - 1]))
        return false;
    *day = (int32_t)days_from_civil(y, mo, d);
    *month = y * 12 + mo - 1;
    return true;
}

/*
 * A UTC date or timestamp: YYYY-MM-DD, then optionally [T or space]HH:MM[:SS[.fraction]]
 * and Z, +00:00, +0000 or -00:00. Gives the day (days since 1970-01-01) and its month.
 */
static bool parse_day(const char *p, size_t n, int32_t *day, int *month)
{
    return n >= 10 && time_rest_ok(p, n) && date_ok(p, day, month);
}

static void format_day(int32_t day, char *buf, size_t cap)
{
    char t[32];

    rb_time_format((int64_t)day * 86400, t, sizeof(t));
    snprintf(buf, cap, "%.10s", t);
}

/* Valid UTF-8 without control characters (tab, CR and LF are text: quoted CSV fields may
 * hold line breaks). */
static bool is_clean_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;

    /* printable ASCII, 8 bytes at a time (the last 8 again for a tail): no high bit, no
     * byte below 0x20, no 0x7f */
    while (n >= 8) {
        uint64_t w, d;
        memcpy(&w, p + i, 8);
        d = w ^ (ones * 0x7f);
        if ((w & highs) || ((w - ones * 0x20) & ~w & highs) || ((d - ones) & ~d & highs))
            break; /* the bytes from i, one by one (those before are clean ASCII) */
        if (i + 8 == n) {
            i = n;
            break;
        }
        i = i + 16 <= n ? i + 8 : n - 8;
    }
    while (i < n) {
        unsigned c = p[i], lo = 0x80, hi = 0xBF;
        size_t k;

        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return false;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if (k >= n - i || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

static bool is_source_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > RB_USAGE_SOURCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool is_tag_key(const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return n > 0 && n <= RB_USAGE_TAG_MAX && is_clean_text(s, n);
}

static const rb_dec dec0 = {0, 0, 0, 0};

/* {===================================================================================
 * Hot helpers: short copies and compares, big-endian stores, 12 digits, and the common
 * case of an exact decimal sum, inline
 * =================================================================================== */

static inline uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* n bytes from s to d (not overlapping), in a few word moves for short values. */
static inline void copy_bytes(void *d, const void *s, size_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;

    if (n >= 8 && n <= 32) { /* 8-byte moves, the last ones overlapping */
        uint64_t a = load64(ss), b = load64(ss + n - 8);
        if (n > 16) {
            uint64_t c = load64(ss + 8), e = load64(ss + n - 16);
            memcpy(dd + 8, &c, 8);
            memcpy(dd + n - 16, &e, 8);
        }
        memcpy(dd, &a, 8);
        memcpy(dd + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a = load32(ss), b = load32(ss + n - 4);
        memcpy(dd, &a, 4);
        memcpy(dd + n - 4, &b, 4);
    } else if (n > 0 && n < 4) {
        dd[0] = ss[0];
        dd[n / 2] = ss[n / 2];
        dd[n - 1] = ss[n - 1];
    } else if (n) {
        memcpy(dd, ss, n);
    }
}

/* a[0..n) == b[0..n), word by word for the short texts of a row. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t d = 0;
    size_t i = 0;

    if (n < 8)
        return memcmp(a, b, n) == 0;
    for (; i + 8 < n; i += 8)
        d |= load64(a + i) ^ load64(b + i);
    return (d | (load64(a + n - 8) ^ load64(b + n - 8))) == 0;
}

/* 12 ASCII digits at p: every byte 0x30..0x39 (high nibble 3, low nibble + 6 no carry). */
static inline bool digits12(const char *p)
{
    const uint64_t hi8 = 0xF0F0F0F0F0F0F0F0ULL, x30 = 0x3030303030303030ULL;
    const uint64_t six = 0x0606060606060606ULL;
    uint64_t a = load64(p), b = (uint64_t)load32(p + 8) | 0x3030303000000000ULL;

    return (a & hi8) == x30 && ((a + six) & hi8) == x30 && (b & hi8) == x30 &&
           ((b + six) & hi8) == x30;
}

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static inline void put_be64(unsigned char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
#else
    rbi_be64_put(p, v);
#endif
}

static inline void put_be32(unsigned char *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
#else
    rbi_be32_put(p, v);
#endif
}

static inline uint32_t get_be32(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
#else
    return rbi_be32_get(p);
#endif
}

#define P10_18 1000000000000000000ULL
#define HALF_LIMIT ((i128)P10_18 * (i128)P10_18 * 50) /* 5 x 10^37: two of them sum < 10^38 */

/* HALF_LIMIT / 10^d: a magnitude below it stays below HALF_LIMIT once scaled by 10^d. */
static const i128 half_lim[19] = {
    HALF_LIMIT,
    HALF_LIMIT / 10,
    HALF_LIMIT / 100,
    HALF_LIMIT / 1000,
    HALF_LIMIT / 10000,
    HALF_LIMIT / 100000,
    HALF_LIMIT / 1000000,
    HALF_LIMIT / 10000000,
    HALF_LIMIT / 100000000,
    HALF_LIMIT / 1000000000,
    HALF_LIMIT / 10000000000ULL,
    HALF_LIMIT / 100000000000ULL,
    HALF_LIMIT / 1000000000000ULL,
    HALF_LIMIT / 10000000000000ULL,
    HALF_LIMIT / 100000000000000ULL,
    HALF_LIMIT / 1000000000000000ULL,
    HALF_LIMIT / 10000000000000000ULL,
    HALF_LIMIT / 100000000000000000ULL,
    HALF_LIMIT / P10_18,
};

static const uint64_t p10_64[19] = {1ULL,
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
                                    P10_18};

static inline i128 dec_coef(const rb_dec *d)
{
    return (i128)(((u128)(uint64_t)d->hi << 64) | d->lo); /* two's complement, as dec.c */
}

/*
 * *r = a + b, exactly as rb_dec_add() makes it (the larger scale, the exact coefficient),
 * inline for aggregation's common case: scales at most 18 apart and magnitudes that stay
 * below 5 x 10^37 once aligned, so the sum is below 10^38 and nothing needs fitting.
 * Anything else goes to rb_dec_add(). r may be a or b.
 */
static inline rb_status dec_add(rb_dec *r, const rb_dec *a, const rb_dec *b)
{
    const rb_dec *big = a->scale >= b->scale ? a : b, *small = big == a ? b : a;
    unsigned d = (unsigned)(big->scale - small->scale);
    i128 x = dec_coef(big), y = dec_coef(small), z;

    /* |x| < 5 x 10^37 and |y| x 10^d < 5 x 10^37, as unsigned ranges (no overflow) */
    if (d > 18 || (u128)x + (u128)HALF_LIMIT >= 2 * (u128)HALF_LIMIT ||
        (u128)y + (u128)half_lim[d] >= 2 * (u128)half_lim[d])
        return rb_dec_add(r, a, b);
    z = x + y * (i128)p10_64[d];
    r->lo = (uint64_t)(u128)z;
    r->hi = (int64_t)(uint64_t)((u128)z >> 64);
    r->scale = big->scale;
    r->pad_ = 0;
    return RB_OK;
}

rb_status rbi_usage_dec_add(rb_dec *r, const rb_dec *a, const rb_dec *b)
{
    return dec_add(r, a, b);
}

/*
 * Amount text: empty (or NULL) is zero. The common forms, an optional '-' and at most 18
 * digits with an optional '.', then maybe CUR's exponent (E or e, a sign, 1 to 3 digits),
 * are read here (the coefficient fits 64 bits, the scale is the number of fraction digits
 * less the exponent: exactly what rb_dec_parse() makes of it); anything else ('+', long
 * numbers, large exponents, errors) goes to rb_dec_parse().
 */
rb_status rbi_usage_parse_amount(rb_dec *out, const char *p, size_t n)
{
    const char *q = p, *end = p + n, *start;
    uint64_t c = 0; /* wraps past 19 digits: then unused */
    int digits, scale = 0;
    bool neg = false;
    unsigned d;

    if (n == 0) {
        *out = dec0;
        return RB_OK;
    }
    if (*q == '-') {
        neg = true;
        q++;
    }
    start = q;
    for (; q < end && (d = (unsigned)(unsigned char)*q - '0') <= 9; q++)
        c = c * 10 + d;
    digits = (int)(q - start);
    if (q < end && *q == '.') {
        const char *frac = ++q;
        for (; q < end && (d = (unsigned)(unsigned char)*q - '0') <= 9; q++)
            c = c * 10 + d;
        scale = (int)(q - frac);
        digits += scale;
    }
    if (digits == 0 || digits > 18)
        return rb_dec_parse(out, p, n, NULL);
    if (q != end) { /* CUR's exponent form, 9.984E-7: a sign and at most 3 digits */
        const char *e = q + 1;
        bool eneg = false;
        int ev = 0, ed = 0;
        if ((*q | 0x20) != 'e')
            return rb_dec_parse(out, p, n, NULL);
        if (e < end && (*e == '-' || *e == '+'))
            eneg = *e++ == '-';
        for (; e < end && ed < 4; e++, ed++) {
            d = (unsigned)(unsigned char)*e - '0';
            if (d > 9)
                break;
            ev = ev * 10 + (int)d;
        }
        if (e != end || ed == 0 || ed > 3)
            return rb_dec_parse(out, p, n, NULL);
        scale += eneg ? ev : -ev;
        if (c == 0) { /* rb_dec_parse() keeps a zero's scale within 0..38 */
            scale = scale < 0 ? 0 : scale > RB_DEC_MAX_SCALE ? RB_DEC_MAX_SCALE : scale;
        } else if (scale < 0) { /* a positive exponent: c x 10^-scale, below 10^36 */
            u128 m;
            if (scale < -18)
                return rb_dec_parse(out, p, n, NULL);
            m = (u128)c * p10_64[-scale];
            if (neg)
                m = 0 - m;
            out->lo = (uint64_t)m;
            out->hi = (int64_t)(uint64_t)(m >> 64);
            out->scale = 0;
            out->pad_ = 0;
            return RB_OK;
        } else if (scale > RB_DEC_MAX_SCALE) {
            return rb_dec_parse(out, p, n, NULL);
        }
    }
    out->lo = neg ? 0 - c : c;
    out->hi = neg && c ? -1 : 0;
    out->scale = scale;
    out->pad_ = 0;
    return RB_OK;
}

static rb_status parse_amount(rb_dec *out, const struct rbi_csv_span *v)
{
    return rbi_usage_parse_amount(out, v->p, v->len);
}

/* A fast hash of a packed key (not stored: tables only). */
static inline uint64_t key_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i);
        h = (h ^ w) * 0x94D049BB133111EBULL;
    }
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
}

/* {===================================================================================
 * Aggregates: an arena and an open-addressing table per worker
 *
 * A packed key is be32(period) be32(day), then each string dimension as a 2-byte length
 * and its bytes: account, service, usage type, operation, region, line type, billing
 * entity, currency, then one value per kept tag.
 * =================================================================================== */

struct agg {
    uint64_t hash;
    uint32_t klen;
    uint32_t eff_same; /* the effective sum is the billed sum (amt[A_EFF] not kept up) */
    int64_t rows;
    rb_dec amt[A__COUNT];
    unsigned char key[];
};

/* Bytes an aggregate takes in its arena block (arena_alloc's rounding). */
static inline size_t agg_size(size_t klen)
{
    return (sizeof(struct agg) + klen + 15) & ~(size_t)15;
}

struct tslot {
    uint64_t hash;
    struct agg *a;
};

struct table {
    struct tslot *s;
    void *mem;  /* the allocation s lies in */
    size_t cap; /* power of two */
    size_t n;
};

#define HUGE_PAGE ((size_t)2 << 20)

/*
 * Memory for large tables and arena blocks: aligned to 2 MiB and, on Linux, marked for
 * transparent huge pages. The aggregates are reached in random order; with 4 KiB pages
 * nearly every access would also miss the TLB, which virtual machines make expensive.
 * *mem gets the pointer to free.
 */
static void *big_alloc(size_t n, void **mem)
{
    unsigned char *p;
    uintptr_t a;

    if (n < HUGE_PAGE) {
        *mem = rbi_malloc(n);
        return *mem;
    }
    if (n > SIZE_MAX - HUGE_PAGE)
        return NULL;
    *mem = rbi_malloc(n + HUGE_PAGE);
    if (!*mem)
        return NULL;
    a = ((uintptr_t)*mem + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    p = (unsigned char *)a;
#if defined(MADV_HUGEPAGE)
    madvise(p, n & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

struct ablock {
    struct ablock *next;
    void *mem;
    size_t used, cap;
    unsigned char data[];
};

#define ARENA_BLOCK ((size_t)4 << 20)

static void *arena_alloc(struct ablock **head, size_t n)
{
    struct ablock *b = *head;

    n = (n + 15) & ~(size_t)15;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK - sizeof(*b);
        void *mem;
        b = big_alloc(sizeof(*b) + cap, &mem);
        if (!b)
            return NULL;
        b->mem = mem;
        b->next = *head;
        b->used = 0;
        b->cap = cap;
        *head = b;
    }
    b->used += n;
    return b->data + b->used - n;
}

static void arena_free(struct ablock **head)
{
    while (*head) {
        struct ablock *next = (*head)->next;
        rbi_free((*head)->mem);
        *head = next;
    }
}

static rb_status table_grow(struct table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    void *mem;
    struct tslot *s = big_alloc(cap * sizeof(*s), &mem);

    if (!s)
        return RB_NOMEM;
    memset(s, 0, cap * sizeof(*s));
    for (size_t i = 0; i < t->cap; i++) {
        if (t->s[i].a) {
            size_t j = t->s[i].hash & (cap - 1);
            while (s[j].a)
                j = (j + 1) & (cap - 1);
            s[j] = t->s[i];
        }
    }
    rbi_free(t->mem);
    t->s = s;
    t->mem = mem;
    t->cap = cap;
    return RB_OK;
}

/* The slot holding key, or the empty slot where it goes. */
static inline struct tslot *table_find(struct table *t, uint64_t h, const unsigned char *key,
                                       size_t klen)
{
    size_t mask = t->cap - 1, i = h & mask;

    for (;;) {
        struct tslot *s = &t->s[i];
        if (!s->a || (s->hash == h && s->a->klen == klen && memcmp(s->a->key, key, klen) == 0))
            return s;
        i = (i + 1) & mask;
    }
}

/* The i-th string dimension of a packed key. */
static void key_field(const unsigned char *key, size_t klen, int i, const char **p, size_t *n)
{
    size_t off = 8;

    for (;;) {
        size_t len;
        if (off + 2 > klen) {
            *p = "";
            *n = 0;
            return;
        }
        len = (size_t)key[off] << 8 | key[off + 1];
        if (i-- == 0) {
            *p = (const char *)key + off + 2;
            *n = len;
            return;
        }
        off += 2 + len;
    }
}

/* {===================================================================================
 * The import handle and its workers
 * =================================================================================== */

struct reject {
    int file;
    uint64_t line;
    char *reason; /* one allocation: reason NUL record */
    const char *raw;
    size_t rawlen;
};

/*
 * A row held back while its table slot is fetched: each worker keeps PEND of them and
 * adds the oldest when a new one comes, so the cache misses of the table (slot, then
 * aggregate) overlap the parsing of the rows that follow instead of stalling it.
 */
#define PEND 16
#define PEND_KEY 384 /* longer keys are added at once */

struct pend {
    uint64_t hash;
    uint64_t line;
    const char *raw;
    size_t rawlen;
    bool same; /* effective cost = billed cost */
    rb_dec amt[A__COUNT];
    uint32_t klen;
    unsigned char key[PEND_KEY];
};

#define TC_SLOTS 1024 /* a month of hours fits */
#define TC_TEXT 32

struct worker {
    struct rb_usage_import *imp;
    struct pend pend[PEND];
    unsigned phead, pcount;
    struct table t;
    struct ablock *arena;
    unsigned char *key;
    size_t keycap;
    char *scratch;
    size_t scratchcap;
    struct reject *rej;
    size_t nrej, caprej;
    int64_t rows; /* good rows aggregated */
    unsigned gen; /* the file generation the cached state below belongs to */
    struct rbi_csv_span v[S__COUNT];
    char pc[40]; /* last period text and its month */
    size_t pclen;
    int pcmonth;
    struct tcache { /* usage start times seen (valid ones), by day of month and hour */
        char text[TC_TEXT];
        uint32_t len; /* 0: empty */
        int32_t day;
    } tc[TC_SLOTS];
};

/* The current file's mapping (set by the header callback, read by the workers). */
struct fmap {
    int format; /* RB_USAGE_CUR .. RB_USAGE_FOCUS */
    int ncols;
    int16_t *colmap;
    const char *name[S__COUNT];    /* header name of each mapped slot */
    char *names;                   /* storage for those names */
    int used[S__COUNT], nused;     /* mapped slots */
    int absent[S__COUNT], nabsent; /* slots without a column */
};

struct period {
    int month;
    size_t first, count; /* range in the sorted aggregates */
    int64_t rows;
    rb_usage_amounts *totals;
    size_t ntotals;
    rb_usage_outcome outcome;
    int64_t imported_at;
};

struct ufile {
    char *path; /* as given: for messages and rejects */
    char *name; /* base name: for manifests */
    uint64_t bytes, hash;
    int64_t rows;
    rb_usage_format format;
};

struct rb_usage_import {
    char source[RB_USAGE_SOURCE_MAX + 1];
    rb_usage_format format;
    int64_t max_errors;
    int nthreads; /* scanning threads; 0: the calling thread */
    size_t chunk; /* test knob: chunk size (0: the driver's default) */
    char *tags[RB_USAGE_MAX_TAGS];
    char *alt[RB_USAGE_MAX_TAGS]; /* CUR 2.0 spelling: ':' as '_' */
    int ntags;
    rb_usage_progress_fn progress;
    void *progress_ctx;

    struct worker *w;
    int nw;
    struct fmap fm;
    unsigned gen;
    int cur_file; /* index of the file being read */
    const char *cur_path;
    _Atomic int64_t nrejected;
    _Atomic bool over_limit;

    struct ufile *files;
    size_t nfiles;
    uint64_t bytes;
    bool failed;

    /* after prepare() */
    bool prepared;
    struct agg **all;
    size_t nall;
    struct period *periods;
    size_t nperiods;
    uint64_t sig; /* content signature: file hashes and formats, kept tags */
    struct rb_buf rec, kbuf;
};

static void fmap_release(struct fmap *fm)
{
    rbi_free(fm->colmap);
    rbi_free(fm->names);
    memset(fm, 0, sizeof(*fm));
}

rb_status rb_usage_import_new(rb_usage_import **out, const rb_usage_import_opts *opts,
                              rb_error *err)
{
    struct rb_usage_import *imp;
    const char *source = opts && opts->source ? opts->source : RB_USAGE_DEFAULT_SOURCE;
    int nt;

    if (!out)
        return rbi_error_set(err, RB_MISUSE, "rb_usage_import_new: out is NULL");
    *out = NULL;
    if (!is_source_name(source))
        return rbi_error_set(err, RB_INVALID,
                             "invalid source name \"%.80s\": want 1..%d of A-Z a-z 0-9 . _ -",
                             source, RB_USAGE_SOURCE_MAX);
    if (opts && ((unsigned)opts->format > RB_USAGE_FOCUS || opts->max_errors < 0))
        return rbi_error_set(err, RB_INVALID, "invalid import options");
    if (opts && opts->nkeep_tags > RB_USAGE_MAX_TAGS)
        return rbi_error_set(err, RB_INVALID, "at most %d tags can be kept", RB_USAGE_MAX_TAGS);
    for (size_t i = 0; opts && i < opts->nkeep_tags; i++)
        if (!opts->keep_tags[i] || !is_tag_key(opts->keep_tags[i]))
            return rbi_error_set(err, RB_INVALID, "invalid tag key \"%.80s\"",
                                 opts->keep_tags[i] ? opts->keep_tags[i] : "");
    imp = rbi_calloc(1, sizeof(*imp));
    if (!imp)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    snprintf(imp->source, sizeof(imp->source), "%s", source);
    if (opts) {
        imp->format = opts->format;
        imp->max_errors = opts->max_errors;
        imp->progress = opts->progress;
        imp->progress_ctx = opts->progress_ctx;
        for (size_t i = 0; i < opts->nkeep_tags; i++) {
            imp->tags[i] = rbi_strdup(opts->keep_tags[i]);
            imp->alt[i] = imp->tags[i] ? rbi_strdup(opts->keep_tags[i]) : NULL;
            imp->ntags++;
            if (!imp->alt[i])
                goto out_nomem;
            for (char *c = imp->alt[i]; *c; c++)
                if (*c == ':')
                    *c = '_';
        }
    }
    nt = opts ? opts->threads : 0;
    if (nt == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nt = n < 1 ? 1 : n > 8 ? 8 : (int)n;
    } else if (nt < 0) {
        nt = 0;
    } else if (nt > 64) {
        nt = 64;
    }
    imp->nthreads = nt;
    imp->nw = nt ? nt : 1;
    imp->w = rbi_calloc((size_t)imp->nw, sizeof(*imp->w));
    if (!imp->w)
        goto out_nomem;
    for (int i = 0; i < imp->nw; i++)
        imp->w[i].imp = imp;
    atomic_init(&imp->nrejected, 0);
    atomic_init(&imp->over_limit, false);
    *out = imp;
    return RB_OK;

out_nomem:
    rb_usage_import_free(imp);
    return rbi_error_set(err, RB_NOMEM, "out of memory");
}

static void periods_free(struct rb_usage_import *imp)
{
    for (size_t i = 0; i < imp->nperiods; i++)
        rbi_free(imp->periods[i].totals);
    rbi_free(imp->periods);
    rbi_free(imp->all);
    imp->periods = NULL;
    imp->nperiods = 0;
    imp->all = NULL;
    imp->nall = 0;
}

void rb_usage_import_free(rb_usage_import *imp)
{
    if (!imp)
        return;
    for (int i = 0; imp->w && i < imp->nw; i++) {
        struct worker *w = &imp->w[i];
        arena_free(&w->arena);
        rbi_free(w->t.mem);
        rbi_free(w->key);
        rbi_free(w->scratch);
        for (size_t k = 0; k < w->nrej; k++)
            rbi_free(w->rej[k].reason);
        rbi_free(w->rej);
    }
    rbi_free(imp->w);
    for (int i = 0; i < RB_USAGE_MAX_TAGS; i++) {
        rbi_free(imp->tags[i]);
        rbi_free(imp->alt[i]);
    }
    for (size_t i = 0; i < imp->nfiles; i++) {
        rbi_free(imp->files[i].path);
        rbi_free(imp->files[i].name);
    }
    rbi_free(imp->files);
    fmap_release(&imp->fm);
    periods_free(imp);
    rbi_buf_release(&imp->rec);
    rbi_buf_release(&imp->kbuf);
    rbi_free(imp);
}

void rbi_usage_import_set_chunk(rb_usage_import *imp, size_t chunk)
{
    imp->chunk = chunk;
}

/* {===================================================================================
 * Rows: bad ones
 * =================================================================================== */

/*
 * A bad row. Without --max-errors it stops the import (the driver prefixes file and line).
 * With it, the row is kept aside and left out, until there are more than max_errors.
 */
static rb_status bad_row(struct worker *w, const struct rbi_csv_row *row, rb_error *err,
                         const char *fmt, ...) RBI_PRINTF(4, 5);
static rb_status bad_row(struct worker *w, const struct rbi_csv_row *row, rb_error *err,
                         const char *fmt, ...)
{
    struct rb_usage_import *imp = w->imp;
    va_list ap;
    int64_t n;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = RB_INVALID;
    if (imp->max_errors == 0)
        return RB_INVALID;
    n = atomic_fetch_add(&imp->nrejected, 1) + 1;
    if ((int64_t)w->nrej <= imp->max_errors) { /* keep the first max_errors+1 of this worker */
        size_t rlen = strlen(err->msg);
        struct reject *r;
        char *p;
        if (w->nrej == w->caprej) {
            size_t cap = w->caprej ? w->caprej * 2 : 16;
            struct reject *nr = rbi_realloc(w->rej, cap * sizeof(*nr));
            if (!nr)
                return rbi_error_set(err, RB_NOMEM, "out of memory");
            w->rej = nr;
            w->caprej = cap;
        }
        p = rbi_malloc(rlen + 1 + row->rawlen + 1);
        if (!p)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        memcpy(p, err->msg, rlen + 1);
        memcpy(p + rlen + 1, row->raw, row->rawlen);
        p[rlen + 1 + row->rawlen] = '\0';
        r = &w->rej[w->nrej++];
        r->file = imp->cur_file;
        r->line = row->line;
        r->reason = p;
        r->raw = p + rlen + 1;
        r->rawlen = row->rawlen;
    }
    if (n > imp->max_errors) {
        atomic_store(&imp->over_limit, true);
        return RB_INVALID;
    }
    return RB_OK;
}

static rb_status bad_col(struct worker *w, const struct rbi_csv_row *row, rb_error *err, int slot,
                         const char *what, const struct rbi_csv_span *v)
{
    char q[80];

    return bad_row(w, row, err, "column %s: %s \"%s\"", w->imp->fm.name[slot], what,
                   quoted(q, sizeof(q), v->p, v->len));
}

/* {===================================================================================
 * Rows: tags in JSON
 * =================================================================================== */

static size_t json_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool json_hex4(const char *p, size_t n, size_t i, unsigned *out)
{
    unsigned v = 0;

    if (i + 4 > n)
        return false;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[i + (size_t)k]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* A JSON string at p[i] == '"', unescaped to *w; returns the index after it, 0 if bad. */
static size_t json_string(const char *p, size_t n, size_t i, char **w)
{
    char *o = *w;

    i++;
    while (i < n) {
        char c = p[i];
        if (c == '"') {
            *w = o;
            return i + 1;
        }
        if ((unsigned char)c < 0x20)
            return 0;
        if (c != '\\') {
            *o++ = c;
            i++;
            continue;
        }
        if (++i >= n)
            return 0;
        switch (p[i]) {
        case '"':
        case '\\':
        case '/':
            *o++ = p[i];
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (!json_hex4(p, n, i + 1, &cp))
                return 0;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 2 >= n || p[i + 1] != '\\' || p[i + 2] != 'u' ||
                    !json_hex4(p, n, i + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return 0;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return 0;
            }
            /* \uXXXX is 6 bytes of input and at most 4 of output (12 and 4 for a pair) */
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return 0;
        }
        i++;
    }
    return 0;
}

/* Skip a JSON value that is not a string (number, literal, object, array). */
static size_t json_skip(const char *p, size_t n, size_t i)
{
    int depth = 0;

    while (i < n) {
        char c = p[i];
        if (c == '"') {
            i++;
            while (i < n && p[i] != '"')
                i += p[i] == '\\' ? 2 : 1;
            if (i >= n)
                return 0;
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            depth--;
        } else if (c == ',' && depth == 0) {
            return i;
        }
        i++;
    }
    return depth == 0 ? i : 0;
}

/*
 * Find the kept tags in a JSON object: vals[k] gets tag k's value (strings unescaped into
 * *sp, other values as their text). False if the text is not a JSON object.
 */
static bool json_tags(const struct rb_usage_import *imp, const struct rbi_csv_span *js,
                      struct rbi_csv_span *vals, char **sp)
{
    const char *p = js->p;
    size_t n = js->len, i = json_ws(p, n, 0);

    if (i >= n || p[i] != '{')
        return false;
    i = json_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return json_ws(p, n, i + 1) == n;
    for (;;) {
        char *k0 = *sp, *v0;
        size_t klen, vlen, j;
        const char *vp;

        if (i >= n || p[i] != '"')
            return false;
        i = json_string(p, n, i, sp);
        if (!i)
            return false;
        klen = (size_t)(*sp - k0);
        i = json_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return false;
        i = json_ws(p, n, i + 1);
        if (i >= n)
            return false;
        v0 = *sp;
        if (p[i] == '"') {
            i = json_string(p, n, i, sp);
            if (!i)
                return false;
            vp = v0;
            vlen = (size_t)(*sp - v0);
        } else {
            j = json_skip(p, n, i);
            if (!j || j == i)
                return false;
            vp = p + i;
            vlen = j - i;
            while (vlen && (vp[vlen - 1] == ' ' || vp[vlen - 1] == '\t'))
                vlen--;
            i = j;
        }
        for (int k = 0; k < imp->ntags; k++) {
            if ((strlen(imp->tags[k]) == klen && memcmp(imp->tags[k], k0, klen) == 0) ||
                (strlen(imp->alt[k]) == klen && memcmp(imp->alt[k], k0, klen) == 0)) {
                vals[k].p = vp;
                vals[k].len = vlen;
            }
        }
        i = json_ws(p, n, i);
        if (i < n && p[i] == ',') {
            i = json_ws(p, n, i + 1);
            continue;
        }
        if (i < n && p[i] == '}')
            return json_ws(p, n, i + 1) == n;
        return false;
    }
}

/* {===================================================================================
 * Rows: the canonical line
 * =================================================================================== */

/* CUR line item types whose effective (amortized) cost is not the unblended cost. */
enum lkind { K_OTHER, K_SP_COVERED, K_SP_RECURRING, K_ZERO, K_RI_DISCOUNTED, K_RI_FEE };

static enum lkind line_kind(const struct rbi_csv_span *t)
{
    static const struct {
        const char *name;
        enum lkind kind;
    } kinds[] = {
        {"SavingsPlanCoveredUsage", K_SP_COVERED}, {"SavingsPlanRecurringFee", K_SP_RECURRING},
        {"SavingsPlanNegation", K_ZERO},           {"SavingsPlanUpfrontFee", K_ZERO},
        {"DiscountedUsage", K_RI_DISCOUNTED},      {"RIFee", K_RI_FEE},
    };

    if (t->len < 5 || (t->p[0] != 'S' && t->p[0] != 'D' && t->p[0] != 'R'))
        return K_OTHER;
    for (size_t i = 0; i < RB_COUNTOF(kinds); i++)
        if (strlen(kinds[i].name) == t->len && memcmp(kinds[i].name, t->p, t->len) == 0)
            return kinds[i].kind;
    return K_OTHER;
}

/* Amount of a slot, or a bad row naming the column. *ok false when the row is bad. */
#define AMOUNT(dst, slot)                                                                          \
    do {                                                                                           \
        rb_status arc_ = parse_amount(&(dst), &v[slot]);                                           \
        if (arc_ != RB_OK)                                                                         \
            return bad_col(w, row, err, slot,                                                      \
                           arc_ == RB_OVERFLOW ? "decimal out of range (more than 38 digits)"      \
                                               : "not a decimal number",                           \
                           &v[slot]);                                                              \
    } while (0)

/* CUR: the effective cost by line item type (docs/formats.md); a rule whose columns the
 * file lacks does not apply, and the unblended cost is the effective cost. */
static rb_status cur_effective(struct worker *w, const struct rbi_csv_row *row, rb_error *err,
                               const struct rbi_csv_span *v, const rb_dec *billed, rb_dec *eff,
                               bool *same, bool *bad)
{
    rb_dec a, b;

    *bad = true;
    *same = false;
    switch (line_kind(&v[S_LINE_TYPE])) {
#define HAS(slot) (w->imp->fm.name[slot] != NULL)
    case K_SP_COVERED:
        if (!HAS(S_SP_EFF))
            goto unblended;
        AMOUNT(*eff, S_SP_EFF);
        break;
    case K_RI_DISCOUNTED:
        if (!HAS(S_RI_EFF))
            goto unblended;
        AMOUNT(*eff, S_RI_EFF);
        break;
    case K_ZERO:
        *eff = dec0;
        break;
    case K_SP_RECURRING:
        if (!HAS(S_SP_TOTAL) || !HAS(S_SP_USED))
            goto unblended;
        AMOUNT(a, S_SP_TOTAL);
        AMOUNT(b, S_SP_USED);
        if (rb_dec_sub(eff, &a, &b) != RB_OK)
            return bad_col(w, row, err, S_SP_TOTAL, "decimal out of range", &v[S_SP_TOTAL]);
        break;
    case K_RI_FEE:
        if (!HAS(S_RI_AMORT) || !HAS(S_RI_RECUR))
            goto unblended;
        AMOUNT(a, S_RI_AMORT);
        AMOUNT(b, S_RI_RECUR);
        if (rb_dec_add(eff, &a, &b) != RB_OK)
            return bad_col(w, row, err, S_RI_AMORT, "decimal out of range", &v[S_RI_AMORT]);
        break;
    default:
    unblended: /* also when the file lacks a column the rule needs */
        *eff = *billed;
        *same = true;
        break;
#undef HAS
    }
    *bad = false;
    return RB_OK;
}

static rb_status ensure_cap(unsigned char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return RB_OK;
    {
        size_t c = *cap ? *cap : 256;
        void *np;
        while (c < need)
            c *= 2;
        np = rbi_realloc(*p, c);
        if (!np)
            return RB_NOMEM;
        *p = np;
        *cap = c;
    }
    return RB_OK;
}

/* The slot a key's dimension i is read from (for messages). */
static int dim_to_slot(const struct fmap *fm, int i)
{
    if (i < D_TAG0)
        return dim_slot[i];
    return fm->format == RB_USAGE_CUR ? S_TAG0 + i - D_TAG0 : S_TAGS;
}

static inline void prefetch_agg(const struct agg *a)
{
    const char *p = (const char *)a;

    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 192);
}

/*
 * Add one row's amounts to the aggregate of its packed key, creating it (after checking
 * its text) if it is new. A bad row goes through bad_row() like any other.
 */
static rb_status add_row(struct worker *w, const unsigned char *key, size_t klen, uint64_t h,
                         const rb_dec *amt, bool same, const struct rbi_csv_row *row, rb_error *err)
{
    const struct fmap *fm = &w->imp->fm;
    struct tslot *ts;
    char q[RB_DEC_BUFSZ];

    if (w->t.n * 2 >= w->t.cap && table_grow(&w->t) != RB_OK)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    ts = table_find(&w->t, h, key, klen);
    if (ts->a) {
        struct agg *a = ts->a;
        rb_dec sum[A__COUNT];
        /* while every row's effective cost was its billed cost, one sum does for both */
        int n = a->eff_same && same ? A_EFF : A__COUNT;
        for (int i = 0; i < n; i++) {
            const rb_dec *old = i == A_EFF && a->eff_same ? &a->amt[A_BILLED] : &a->amt[i];
            if (dec_add(&sum[i], old, &amt[i]) != RB_OK) {
                static const enum slot aslot[A__COUNT] = {S_QTY, S_BILLED, S_LIST, S_EFFECTIVE};
                const char *col = fm->name[aslot[i]] ? fm->name[aslot[i]] : "(effective cost)";
                rb_dec_format(&amt[i], q, sizeof(q));
                return bad_row(w, row, err,
                               "column %s: daily sum out of range (more than 38 digits) \"%s\"",
                               col, q);
            }
        }
        if (n == A__COUNT)
            a->eff_same = 0;
        memcpy(a->amt, sum, (size_t)n * sizeof(sum[0]));
        a->rows++;
    } else {
        struct agg *a;
        size_t off = 8;
        for (int i = 0; i < D_TAG0 + w->imp->ntags; i++) { /* the key's values, in one walk */
            struct rbi_csv_span f;
            f.len = (size_t)key[off] << 8 | key[off + 1];
            f.p = (const char *)key + off + 2;
            off += 2 + f.len;
            if (!is_clean_text(f.p, f.len))
                return bad_col(w, row, err, dim_to_slot(fm, i),
                               "not UTF-8 text, or holds a control character", &f);
        }
        a = arena_alloc(&w->arena, sizeof(*a) + klen);
        if (!a)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        a->hash = h;
        a->rows = 1;
        a->eff_same = same;
        memcpy(a->amt, amt, sizeof(a->amt));
        a->klen = (uint32_t)klen;
        memcpy(a->key, key, klen);
        ts->hash = h;
        ts->a = a;
        w->t.n++;
    }
    w->rows++;
    return RB_OK;
}

/* Add the oldest held row. */
static rb_status add_oldest(struct worker *w, uint64_t *line, rb_error *err)
{
    struct pend *p = &w->pend[w->phead];
    struct rbi_csv_row row;
    rb_status rc;

    row.f = NULL;
    row.quoted = 0;
    row.nfields = 0;
    row.line = p->line;
    row.raw = p->raw;
    row.rawlen = p->rawlen;
    w->phead = (w->phead + 1) % PEND;
    w->pcount--;
    rc = add_row(w, p->key, p->klen, p->hash, p->amt, p->same, &row, err);
    if (rc != RB_OK) {
        *line = p->line;
        w->pcount = 0; /* the import stops: drop the rest */
    }
    return rc;
}

/* The driver's flush callback: add every held row (the chunk's bytes are still valid). */
static rb_status flush_rows(void *ctx, uint64_t *line, rb_error *err)
{
    struct worker *w = ctx;

    while (w->pcount) {
        rb_status rc = add_oldest(w, line, err);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;
}

/* Hold a parsed row (its key is in w->key), adding the oldest when all places are taken. */
static rb_status hold_row(struct worker *w, const struct rbi_csv_row *row, size_t klen, uint64_t h,
                          const rb_dec *amt, bool same, uint64_t *line, rb_error *err)
{
    struct pend *p;
    rb_status rc;

    if (w->t.cap == 0 && table_grow(&w->t) != RB_OK)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    if (klen > PEND_KEY) {
        rc = flush_rows(w, line, err);
        if (rc == RB_OK)
            rc = add_row(w, w->key, klen, h, amt, same, row, err);
        return rc;
    }
    if (w->pcount == PEND) {
        rc = add_oldest(w, line, err);
        if (rc != RB_OK)
            return rc;
    }
    if (w->pcount >= PEND / 2) { /* its slot is in cache by now: fetch its aggregate */
        const struct pend *q = &w->pend[(w->phead + w->pcount - PEND / 2) % PEND];
        const struct tslot *s = &w->t.s[q->hash & (w->t.cap - 1)];
        if (s->a)
            prefetch_agg(s->a);
    }
    p = &w->pend[(w->phead + w->pcount) % PEND];
    w->pcount++;
    p->hash = h;
    p->line = row->line;
    p->raw = row->raw;
    p->rawlen = row->rawlen;
    memcpy(p->amt, amt, sizeof(p->amt));
    p->same = same;
    p->klen = (uint32_t)klen;
    memcpy(p->key, w->key, klen);
    __builtin_prefetch(&w->t.s[h & (w->t.cap - 1)]);
    return RB_OK;
}

/*
 * One CSV record to the canonical line: its packed key in w->key, *klen, *h and amt[].
 * *keep is false when the row was left out (a reject under --max-errors).
 */
static rb_status parse_row(struct worker *w, const struct rbi_csv_row *row, size_t *klenp,
                           uint64_t *hp, rb_dec *amt, bool *same, bool *keep, rb_error *err)
{
    struct rb_usage_import *imp = w->imp;
    const struct fmap *fm = &imp->fm;
    struct rbi_csv_span *v = w->v;
    struct rbi_csv_span dims[D__MAX], acc;
    int dslot[D__MAX];
    int32_t day;
    int month, nd;
    size_t klen;
    unsigned char *k;
    char *sp;
    rb_status rc;

    *keep = false;
    *same = false;
    if (row->nfields != fm->ncols)
        return bad_row(w, row, err, "wrong number of fields: %d, want %d (as in the header)",
                       row->nfields, fm->ncols);
    if (w->gen != imp->gen) { /* a new file: forget what belonged to the last one */
        w->gen = imp->gen;
        w->pclen = 0;
        memset(w->tc, 0, sizeof(w->tc));
        for (int i = 0; i < fm->nabsent; i++) {
            v[fm->absent[i]].p = "";
            v[fm->absent[i]].len = 0;
        }
    }
    if (ensure_cap((unsigned char **)&w->scratch, &w->scratchcap, 2 * row->rawlen + 64) != RB_OK)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    sp = w->scratch;
    for (int i = 0; i < fm->nused; i++) {
        int s = fm->used[i];
        const struct rbi_csv_span *f = &row->f[s];
        if ((row->quoted >> s) & 1) { /* the scanner saw a quote in it */
            if (!rbi_csv_unquote(f, sp, &v[s]))
                return bad_col(w, row, err, s, "bad quoting", f);
            if (v[s].p == sp)
                sp += v[s].len;
        } else if (f->len == 4 && memcmp(f->p, "NULL", 4) == 0) { /* unquoted NULL: no value */
            v[s].p = f->p;
            v[s].len = 0;
        } else {
            v[s] = *f;
        }
    }

    /* account */
    acc = v[S_ACCOUNT];
    if (fm->format == RB_USAGE_FOCUS) {
        if (acc.len == 0)
            acc = v[S_ACCOUNT2];
        if (acc.len == 0)
            return bad_col(w, row, err, S_ACCOUNT, "empty account id", &acc);
    } else if (acc.len != RB_ACCOUNT_ID_LEN || !digits12(acc.p)) {
        return bad_col(w, row, err, S_ACCOUNT, "not a 12-digit account id", &acc);
    }

    /* period and day */
    if (v[S_PERIOD].len < sizeof(w->pc) && w->pclen == v[S_PERIOD].len &&
        same_bytes(w->pc, v[S_PERIOD].p, w->pclen)) {
        month = w->pcmonth;
    } else {
        int32_t d0;
        if (!parse_day(v[S_PERIOD].p, v[S_PERIOD].len, &d0, &month))
            return bad_col(w, row, err, S_PERIOD, "not a UTC date", &v[S_PERIOD]);
        if (v[S_PERIOD].len < sizeof(w->pc)) {
            memcpy(w->pc, v[S_PERIOD].p, v[S_PERIOD].len);
            w->pclen = v[S_PERIOD].len;
            w->pcmonth = month;
        }
    }
    {
        /* a time seen before (the same text) is valid and has its day; the slot is the day
         * of month and the hour, for hourly files (any text lands in some slot) */
        const char *t = v[S_DAY].p;
        size_t tn = v[S_DAY].len;
        struct tcache *c;
        int m0;
        if (tn < 10)
            return bad_col(w, row, err, S_DAY, "not a UTC date", &v[S_DAY]);
        c = &w->tc[((unsigned)((unsigned char)t[8] * 10 + (unsigned char)t[9]) * 24 +
                    (tn >= 13 ? (unsigned)((unsigned char)t[11] * 10 + (unsigned char)t[12]) : 0)) &
                   (TC_SLOTS - 1)];
        if (c->len == tn && same_bytes(c->text, t, tn)) {
            day = c->day;
        } else {
            if (!time_rest_ok(t, tn) || !date_ok(t, &day, &m0))
                return bad_col(w, row, err, S_DAY, "not a UTC date", &v[S_DAY]);
            if (tn <= TC_TEXT) {
                memcpy(c->text, t, tn);
                c->len = (uint32_t)tn;
                c->day = day;
            }
        }
    }

    /* amounts */
    AMOUNT(amt[A_QTY], S_QTY);
    AMOUNT(amt[A_BILLED], S_BILLED);
    AMOUNT(amt[A_LIST], S_LIST);
    if (fm->format == RB_USAGE_FOCUS) {
        AMOUNT(amt[A_EFF], S_EFFECTIVE);
    } else {
        bool bad;
        rc = cur_effective(w, row, err, v, &amt[A_BILLED], &amt[A_EFF], same, &bad);
        if (bad)
            return rc;
    }

    /* dimensions */
    for (int i = 0; i < D_TAG0; i++) {
        dims[i] = v[dim_slot[i]];
        dslot[i] = dim_slot[i];
    }
    dims[D_ACCOUNT] = acc;
    if (fm->name[S_CURRENCY] == NULL) {
        dims[D_CURRENCY].p = "USD";
        dims[D_CURRENCY].len = 3;
    } else {
        const char *c = dims[D_CURRENCY].p;
        if (dims[D_CURRENCY].len != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' ||
            c[2] < 'A' || c[2] > 'Z')
            return bad_col(w, row, err, S_CURRENCY, "not a currency code", &dims[D_CURRENCY]);
    }
    nd = D_TAG0 + imp->ntags;
    if (imp->ntags) {
        for (int i = 0; i < imp->ntags; i++) {
            dims[D_TAG0 + i].p = "";
            dims[D_TAG0 + i].len = 0;
            dslot[D_TAG0 + i] = dim_to_slot(fm, D_TAG0 + i);
        }
        if (fm->format == RB_USAGE_CUR) {
            for (int i = 0; i < imp->ntags; i++)
                dims[D_TAG0 + i] = v[S_TAG0 + i];
        } else if (v[S_TAGS].len && !json_tags(imp, &v[S_TAGS], dims + D_TAG0, &sp)) {
            return bad_col(w, row, err, S_TAGS, "not a JSON object", &v[S_TAGS]);
        }
    }

    /* the packed key */
    klen = 8;
    for (int i = 0; i < nd; i++) {
        if (dims[i].len > RB_USAGE_VALUE_MAX)
            return bad_col(w, row, err, dslot[i], "value longer than 4096 bytes", &dims[i]);
        klen += 2 + dims[i].len;
    }
    if (ensure_cap(&w->key, &w->keycap, klen) != RB_OK)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    k = w->key;
    put_be32(k, (uint32_t)month);
    put_be32(k + 4, (uint32_t)day);
    k += 8;
    for (int i = 0; i < nd; i++) {
        k[0] = (unsigned char)(dims[i].len >> 8);
        k[1] = (unsigned char)dims[i].len;
        copy_bytes(k + 2, dims[i].p, dims[i].len);
        k += 2 + dims[i].len;
    }
    *klenp = klen;
    *hp = key_hash(w->key, klen);
    *keep = true;
    return RB_OK;
}

/* The row callback: parse, then hold the row for the table (see struct pend). */
static rb_status on_row(void *ctx, const struct rbi_csv_row *row, uint64_t *line, rb_error *err)
{
    struct worker *w = ctx;
    rb_dec amt[A__COUNT];
    size_t klen = 0;
    uint64_t h = 0;
    bool keep, same;
    rb_status rc;

    rc = parse_row(w, row, &klen, &h, amt, &same, &keep, err);
    if (rc != RB_OK) {
        /* the rows held come first: a failure among them is the one to report */
        rb_error e2;
        uint64_t l2 = 0;
        if (flush_rows(w, &l2, &e2) != RB_OK) {
            *line = l2;
            *err = e2;
            return e2.code ? e2.code : RB_INVALID;
        }
        return rc;
    }
    if (!keep)
        return RB_OK;
    return hold_row(w, row, klen, h, amt, same, line, err);
}

#undef AMOUNT

/* {===================================================================================
 * Files: the header and the run
 * =================================================================================== */

static bool col_is(const char *name, const char *want)
{
    return strcmp(name, want) == 0;
}

static rb_status on_header(void *ctx, const struct rbi_csv_fields *names,
                           struct rbi_csv_layout *lay, rb_error *err)
{
    struct rb_usage_import *imp = ctx;
    struct fmap *fm = &imp->fm;
    const char *path = imp->cur_path;
    int format = imp->format, fi;
    int found[S__COUNT];
    char missing[400];
    size_t mlen = 0, nameslen = 0;
    int nmissing = 0;
    char *w;

    fmap_release(fm);
    if (names->n > 30000)
        return rbi_error_set(err, RB_INVALID, "%s: too many columns (%zu)", path, names->n);
    fm->ncols = (int)names->n;
    if (format == RB_USAGE_AUTO) {
        for (size_t i = 0; i < names->n && format == RB_USAGE_AUTO; i++)
            if (col_is(rbi_csv_field(names, i), "lineItem/UsageAccountId"))
                format = RB_USAGE_CUR;
        for (size_t i = 0; i < names->n && format == RB_USAGE_AUTO; i++)
            if (col_is(rbi_csv_field(names, i), "line_item_usage_account_id"))
                format = RB_USAGE_CUR2;
        for (size_t i = 0; i < names->n && format == RB_USAGE_AUTO; i++)
            if (col_is(rbi_csv_field(names, i), "BilledCost"))
                format = RB_USAGE_FOCUS;
        if (format == RB_USAGE_AUTO)
            return rbi_error_set(err, RB_INVALID,
                                 "%s: cannot tell the format from the header (no column "
                                 "lineItem/UsageAccountId, line_item_usage_account_id or "
                                 "BilledCost); name it with --format",
                                 path);
    }
    fm->format = format;
    fi = format - 1;
    fm->colmap = rbi_malloc(((size_t)fm->ncols + 1) * sizeof(int16_t));
    if (!fm->colmap)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    for (int i = 0; i <= fm->ncols; i++)
        fm->colmap[i] = -1;
    for (int s = 0; s < S__COUNT; s++)
        found[s] = -1;
    /* which column each slot reads (the first of equal names) */
    for (int s = 0; s < S__COUNT; s++) {
        char tagcol[RB_USAGE_TAG_MAX + 16];
        const char *want;
        if (s < S_TAG0) {
            want = columns[s].name[fi];
            if (s == S_TAGS && imp->ntags == 0)
                want = NULL; /* not needed */
        } else if (format == RB_USAGE_CUR && s - S_TAG0 < imp->ntags) {
            snprintf(tagcol, sizeof(tagcol), "resourceTags/%s", imp->tags[s - S_TAG0]);
            want = tagcol;
        } else {
            want = NULL;
        }
        if (!want)
            continue;
        for (int i = 0; i < fm->ncols; i++) {
            if (fm->colmap[i] < 0 && col_is(rbi_csv_field(names, (size_t)i), want)) {
                found[s] = i;
                fm->colmap[i] = (int16_t)s;
                nameslen += strlen(want) + 1;
                break;
            }
        }
        if (found[s] < 0 && s < S_TAG0 && (columns[s].required & (1u << fi))) {
            int n = snprintf(missing + mlen, sizeof(missing) - mlen, "%s%s", nmissing ? ", " : "",
                             want);
            if (n > 0 && (size_t)n < sizeof(missing) - mlen)
                mlen += (size_t)n;
            nmissing++;
        }
    }
    if (nmissing)
        return rbi_error_set(err, RB_INVALID, "%s: missing %s for format %s: %s", path,
                             nmissing == 1 ? "column" : "columns", rb_usage_format_name(format),
                             missing);
    fm->names = rbi_malloc(nameslen + 1);
    if (!fm->names)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    w = fm->names;
    for (int s = 0; s < S__COUNT; s++) {
        if (found[s] < 0) {
            fm->absent[fm->nabsent++] = s;
            continue;
        }
        {
            const char *nm = rbi_csv_field(names, (size_t)found[s]);
            size_t n = strlen(nm) + 1;
            memcpy(w, nm, n);
            fm->name[s] = w;
            w += n;
        }
        fm->used[fm->nused++] = s;
    }
    /* messages about the account fall back to the primary column's name */
    lay->ncols = fm->ncols;
    lay->colmap = fm->colmap;
    lay->nslots = S__COUNT;
    imp->gen++;
    return RB_OK;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    struct rb_usage_import *imp = ctx;

    imp->progress(done, total, rows, imp->progress_ctx);
}

static int reject_cmp(const void *a, const void *b)
{
    const struct reject *x = *(const struct reject *const *)a;
    const struct reject *y = *(const struct reject *const *)b;

    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Every kept reject, sorted by file and line; *n gets the count. */
static struct reject **sorted_rejects(const struct rb_usage_import *imp, size_t *n)
{
    size_t total = 0, k = 0;
    struct reject **v;

    for (int i = 0; i < imp->nw; i++)
        total += imp->w[i].nrej;
    *n = total;
    v = rbi_malloc((total ? total : 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (int i = 0; i < imp->nw; i++)
        for (size_t j = 0; j < imp->w[i].nrej; j++)
            v[k++] = &imp->w[i].rej[j];
    if (total > 1)
        qsort(v, total, sizeof(*v), reject_cmp);
    return v;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

rb_status rb_usage_import_file(rb_usage_import *imp, const char *path, rb_error *err)
{
    struct rbi_csv_job job;
    void *wctx[64];
    struct ufile *f;
    rb_status rc;

    if (!imp || !path)
        return rbi_error_set(err, RB_MISUSE, "rb_usage_import_file: NULL argument");
    if (imp->failed || imp->prepared)
        return rbi_error_set(err, RB_MISUSE, "%s: the import %s", path,
                             imp->failed ? "failed earlier" : "was applied already");
    for (int i = 0; i < imp->nw; i++)
        wctx[i] = &imp->w[i];
    memset(&job, 0, sizeof(job));
    job.path = path;
    job.nthreads = imp->nthreads;
    job.chunk = imp->chunk;
    job.header = on_header;
    job.ctx = imp;
    job.row = on_row;
    job.flush = flush_rows;
    job.wctx = wctx;
    job.progress = imp->progress ? on_progress : NULL;
    job.pctx = imp;
    imp->cur_file = (int)imp->nfiles;
    imp->cur_path = path;
    f = rbi_realloc(imp->files, (imp->nfiles + 1) * sizeof(*f));
    if (!f)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    imp->files = f;
    f = &imp->files[imp->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = rbi_strdup(path);
    f->name = rbi_strdup(base_name(path));
    if (!f->path || !f->name) {
        rbi_free(f->path);
        rbi_free(f->name);
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    }
    imp->nfiles++; /* named even if it fails: rejects refer to it */

    rc = rbi_csv_run(&job, err);
    if (rc == RB_OK && job.records == 0)
        rc = rbi_error_set(err, RB_INVALID, "%s: no data rows (only a header)", path);
    if (rc != RB_OK) {
        imp->failed = true;
        if (atomic_load(&imp->over_limit)) { /* name the first bad row, in file order */
            size_t n;
            struct reject **v = sorted_rejects(imp, &n);
            if (v && n)
                rbi_error_set(err, RB_INVALID,
                              "%s:%llu: %s; more than %lld bad rows (--max-errors %lld): "
                              "nothing imported",
                              imp->files[v[0]->file].path, (unsigned long long)v[0]->line,
                              v[0]->reason, (long long)imp->max_errors, (long long)imp->max_errors);
            rbi_free(v);
        }
        return rc;
    }
    for (size_t i = 0; i + 1 < imp->nfiles; i++) {
        if (imp->files[i].hash == job.hash && imp->files[i].bytes == job.bytes) {
            imp->failed = true; /* its rows are counted twice now */
            return rbi_error_set(err, RB_INVALID,
                                 "%s: same content as %s, given before in this delivery", path,
                                 imp->files[i].path);
        }
    }
    f->bytes = job.bytes;
    f->hash = job.hash;
    f->rows = (int64_t)job.records;
    f->format = (rb_usage_format)imp->fm.format;
    imp->bytes += job.bytes;
    return RB_OK;
}

void rb_usage_import_stats_get(const rb_usage_import *imp, rb_usage_import_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!imp)
        return;
    st->files = (int64_t)imp->nfiles;
    for (int i = 0; i < imp->nw; i++)
        st->rows += imp->w[i].rows;
    st->rejected = atomic_load(&imp->nrejected);
    st->bytes = (int64_t)imp->bytes;
}

rb_status rb_usage_import_rejects(const rb_usage_import *imp, rb_usage_reject_cb cb, void *ctx)
{
    struct reject **v;
    size_t n;
    rb_status rc = RB_OK;

    if (!imp || !cb)
        return RB_MISUSE;
    v = sorted_rejects(imp, &n);
    if (!v)
        return RB_NOMEM;
    for (size_t i = 0; i < n && rc == RB_OK; i++)
        rc = cb(imp->files[v[i]->file].path, (int64_t)v[i]->line, v[i]->reason, v[i]->raw,
                v[i]->rawlen, ctx);
    rbi_free(v);
    return rc;
}

/* {===================================================================================
 * Prepare: sort each worker's aggregates, merge them, cut into periods
 * =================================================================================== */

/* An aggregate in the sort: period and day, then its hash, then (rarely) its key. The order
 * is deterministic whatever the threads did, and needs no access to the aggregate. */
struct sortent {
    uint64_t k1; /* be32 period << 32 | be32 day */
    uint64_t k2; /* key hash */
    struct agg *a;
};

static int sortent_cmp(const void *pa, const void *pb)
{
    const struct sortent *x = pa, *y = pb;
    size_t n;
    int c;

    if (x->k1 != y->k1)
        return x->k1 < y->k1 ? -1 : 1;
    if (x->k2 != y->k2)
        return x->k2 < y->k2 ? -1 : 1;
    n = x->a->klen < y->a->klen ? x->a->klen : y->a->klen;
    c = memcmp(x->a->key, y->a->key, n);
    if (c)
        return c;
    return x->a->klen < y->a->klen ? -1 : x->a->klen > y->a->klen;
}

/*
 * One worker's aggregates, sorted in sortent_cmp() order (a run of the merge): collected by
 * walking its arena, then a least-significant-digit radix sort on k1 and the high half of
 * k2, a byte a pass (a byte that all entries share costs no pass), then the runs that those
 * leave equal (rare: the low half of k2 then, or the key when two hashes collide) by
 * insertion. Runs on a thread of its own: it allocates through the locked seam.
 */
struct run {
    struct worker *w;
    struct sortent *e; /* its entries */
    size_t n, i;       /* entries, and the next one to merge */
    rb_status rc;
};

static void *sort_run(void *arg)
{
    struct run *r = arg;
    struct sortent *e, *tmp = NULL;
    uint32_t(*count)[256] = NULL;
    size_t n = r->w->t.n, k = 0;

    r->rc = RB_NOMEM;
    e = rbi_malloc((n ? n : 1) * sizeof(*e));
    if (!e)
        return NULL;
    for (struct ablock *b = r->w->arena; b; b = b->next) {
        for (size_t off = 0; off < b->used && k < n;) {
            struct agg *a = (struct agg *)(void *)(b->data + off);
            /* the next aggregate's place depends on this one's size: fetch ahead by bytes,
             * all the lines of about one aggregate each time */
            for (uintptr_t f = (uintptr_t)a + 2048; f < (uintptr_t)a + 2048 + 320; f += 64)
                __builtin_prefetch((const void *)f);
            e[k].k1 = (uint64_t)get_be32(a->key) << 32 | get_be32(a->key + 4);
            e[k].k2 = a->hash;
            e[k].a = a;
            k++;
            off += agg_size(a->klen);
        }
    }
    r->e = e;
    r->n = k;
    if (k != n) {
        r->rc = RB_CORRUPT;
        return NULL;
    }
    count = n > 1 ? rbi_malloc(16 * sizeof(*count)) : NULL;
    tmp = n > 1 ? rbi_malloc(n * sizeof(*tmp)) : NULL;
    if (n > 1 && (!count || !tmp))
        goto out;
    if (n > 1)
        memset(count, 0, 16 * sizeof(*count));
    for (size_t i = 0; i < n && n > 1; i++) {
        for (int d = 4; d < 8; d++) /* the high half of k2 */
            count[d][(e[i].k2 >> (8 * d)) & 0xff]++;
        for (int d = 8; d < 16; d++) /* k1 */
            count[d][(e[i].k1 >> (8 * (d - 8))) & 0xff]++;
    }
    for (int d = 4; d < 16 && n > 1; d++) {
        int shift = 8 * (d & 7);
        bool hi = d >= 8;
        uint32_t sum = 0;
        if (count[d][((hi ? e[0].k1 : e[0].k2) >> shift) & 0xff] == n)
            continue; /* every entry has this byte */
        for (int b = 0; b < 256; b++) {
            uint32_t c = count[d][b];
            count[d][b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[d][((hi ? e[i].k1 : e[i].k2) >> shift) & 0xff]++] = e[i];
        {
            struct sortent *x = e;
            e = tmp;
            tmp = x;
        }
    }
    for (size_t i = 0; i + 1 < n;) { /* equal k1 and high half of k2: by insertion */
        size_t j = i + 1;
        while (j < n && e[j].k1 == e[i].k1 && e[j].k2 >> 32 == e[i].k2 >> 32)
            j++;
        for (size_t a = i + 1; a < j; a++) {
            struct sortent x = e[a];
            size_t b = a;
            for (; b > i && sortent_cmp(&e[b - 1], &x) > 0; b--)
                e[b] = e[b - 1];
            e[b] = x;
        }
        i = j;
    }
    r->e = e;
    r->rc = RB_OK;
out:
    rbi_free(count);
    rbi_free(tmp);
    return NULL;
}

/* x before y in sortent_cmp() order; the keys are looked at only for equal (k1, k2). */
static inline bool ent_before(const struct sortent *x, const struct sortent *y)
{
    if (x->k1 != y->k1)
        return x->k1 < y->k1;
    if (x->k2 != y->k2)
        return x->k2 < y->k2;
    return sortent_cmp(x, y) < 0;
}

/* The run whose next entry comes first; -1 when every run is done. */
static inline int next_run(const struct run *r, int nr)
{
    int best = -1;

    for (int i = 0; i < nr; i++) {
        if (r[i].i == r[i].n)
            continue;
        if (best < 0 || ent_before(&r[i].e[r[i].i], &r[best].e[r[best].i]))
            best = i;
    }
    return best;
}

static rb_status add_amounts(rb_usage_amounts *t, const rb_dec *amt, int64_t rows)
{
    rb_dec s[A__COUNT];
    rb_dec *dst[A__COUNT] = {&t->quantity, &t->billed, &t->list, &t->effective};

    for (int i = 0; i < A__COUNT; i++)
        if (dec_add(&s[i], dst[i], &amt[i]) != RB_OK)
            return RB_OVERFLOW;
    for (int i = 0; i < A__COUNT; i++)
        *dst[i] = s[i];
    t->rows += rows;
    return RB_OK;
}

/* Make an aggregate's effective sum its own again (while eff_same, it is the billed sum). */
static inline void agg_own_eff(struct agg *a)
{
    if (a->eff_same) {
        a->amt[A_EFF] = a->amt[A_BILLED];
        a->eff_same = 0;
    }
}

static int sig_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;

    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Add aggregate a to the totals of period p for its currency (inserted in code order). */
static rb_status period_add(struct period *p, const struct agg *a, char *msg, size_t msgcap)
{
    const char *cur;
    size_t clen, j;
    rb_usage_amounts *nt;

    key_field(a->key, a->klen, D_CURRENCY, &cur, &clen);
    if (clen != 3) {
        snprintf(msg, msgcap, "bad currency in an aggregate");
        return RB_CORRUPT;
    }
    for (j = 0; j < p->ntotals; j++)
        if (memcmp(p->totals[j].currency, cur, 3) == 0)
            goto add;
    nt = rbi_realloc(p->totals, (p->ntotals + 1) * sizeof(*nt));
    if (!nt) {
        snprintf(msg, msgcap, "out of memory");
        return RB_NOMEM;
    }
    p->totals = nt;
    for (j = 0; j < p->ntotals && memcmp(nt[j].currency, cur, 3) < 0; j++)
        ;
    memmove(nt + j + 1, nt + j, (p->ntotals - j) * sizeof(*nt));
    memset(&nt[j], 0, sizeof(nt[j]));
    memcpy(nt[j].currency, cur, 3);
    nt[j].quantity = nt[j].billed = nt[j].list = nt[j].effective = dec0;
    p->ntotals++;
add:
    if (add_amounts(&p->totals[j], a->amt, a->rows) != RB_OK) {
        snprintf(msg, msgcap, "a period total is out of range (more than 38 digits)");
        return RB_OVERFLOW;
    }
    return RB_OK;
}

/*
 * Merge the sorted runs: what several workers saw (the same key, side by side now) becomes
 * one aggregate; cut into periods, with their totals per currency.
 */
static rb_status merge_runs(struct rb_usage_import *imp, struct run *r, int nr, char *msg,
                            size_t msgcap)
{
    struct period *p = NULL;
    const struct sortent *prev = NULL;
    int k;

    while ((k = next_run(r, nr)) >= 0) {
        const struct sortent *x = &r[k].e[r[k].i++];
        struct agg *a = x->a;
        int month = (int)(x->k1 >> 32);
        rb_status rc;

        if (r[k].i + 8 < r[k].n)
            prefetch_agg(r[k].e[r[k].i + 8].a);
        agg_own_eff(a);
        if (prev && prev->k1 == x->k1 && prev->k2 == x->k2 && sortent_cmp(prev, x) == 0) {
            /* the same key: fold into the first */
            struct agg *f = prev->a;
            rb_dec sum[A__COUNT];
            for (int i = 0; i < A__COUNT; i++) {
                if (dec_add(&sum[i], &f->amt[i], &a->amt[i]) != RB_OK) {
                    snprintf(msg, msgcap, "a daily sum is out of range (more than 38 digits)");
                    return RB_OVERFLOW;
                }
            }
            memcpy(f->amt, sum, sizeof(sum));
            f->rows += a->rows;
        } else {
            imp->all[imp->nall++] = a;
            prev = x;
            if (!p || p->month != month) {
                struct period *np = rbi_realloc(imp->periods, (imp->nperiods + 1) * sizeof(*np));
                if (!np)
                    goto out_nomem;
                imp->periods = np;
                p = &imp->periods[imp->nperiods++];
                memset(p, 0, sizeof(*p));
                p->month = month;
                p->first = imp->nall - 1;
            }
            p->count++;
        }
        p->rows += a->rows;
        rc = period_add(p, a, msg, msgcap);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;

out_nomem:
    snprintf(msg, msgcap, "out of memory");
    return RB_NOMEM;
}

static rb_status prepare_once(struct rb_usage_import *imp, char *msg, size_t msgcap)
{
    struct run runs[64];
    pthread_t tids[64];
    bool started[64] = {false};
    uint64_t(*sigv)[2];
    size_t n = 0;
    rb_status rc = RB_OK;

    if (imp->prepared)
        return RB_OK;
    /* each worker's aggregates sorted on a thread of its own (the first on this one) */
    memset(runs, 0, sizeof(runs));
    for (int i = 0; i < imp->nw; i++) {
        runs[i].w = &imp->w[i];
        n += imp->w[i].t.n;
        if (i > 0)
            started[i] = pthread_create(&tids[i], NULL, sort_run, &runs[i]) == 0;
    }
    for (int i = 0; i < imp->nw; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        else
            sort_run(&runs[i]);
        if (runs[i].rc != RB_OK && rc == RB_OK)
            rc = runs[i].rc;
    }
    imp->all = rc == RB_OK ? rbi_malloc((n ? n : 1) * sizeof(*imp->all)) : NULL;
    if (rc == RB_OK && !imp->all)
        rc = RB_NOMEM;
    imp->nall = 0;
    if (rc == RB_OK)
        rc = merge_runs(imp, runs, imp->nw, msg, msgcap);
    else
        snprintf(msg, msgcap, rc == RB_NOMEM ? "out of memory" : "aggregate count mismatch");
    for (int i = 0; i < imp->nw; i++) {
        rbi_free(runs[i].e);
        /* the tables are done with: give their memory back before the write */
        rbi_free(imp->w[i].t.mem);
        memset(&imp->w[i].t, 0, sizeof(imp->w[i].t));
    }
    if (rc != RB_OK)
        return rc;
    /* the content signature: file hashes and formats (sorted), then the kept tags */
    sigv = rbi_malloc((imp->nfiles ? imp->nfiles : 1) * sizeof(*sigv));
    if (!sigv)
        goto out_nomem;
    for (size_t i = 0; i < imp->nfiles; i++) {
        sigv[i][0] = imp->files[i].hash;
        sigv[i][1] = (uint64_t)imp->files[i].format;
    }
    qsort(sigv, imp->nfiles, sizeof(*sigv), sig_cmp);
    {
        struct rbi_hash64 h;
        rbi_hash64_init(&h);
        for (size_t i = 0; i < imp->nfiles; i++) {
            unsigned char b[16];
            rbi_be64_put(b, sigv[i][0]);
            rbi_be64_put(b + 8, sigv[i][1]);
            rbi_hash64_update(&h, b, 16);
        }
        for (int i = 0; i < imp->ntags; i++)
            rbi_hash64_update(&h, imp->tags[i], strlen(imp->tags[i]) + 1);
        imp->sig = rbi_hash64_final(&h);
    }
    rbi_free(sigv);
    imp->prepared = true;
    return RB_OK;

out_nomem:
    snprintf(msg, msgcap, "out of memory");
    return RB_NOMEM;
}

/* Merge, sort and cut into periods, once; a failure leaves the import failed. */
static rb_status prepare(struct rb_usage_import *imp, char *msg, size_t msgcap)
{
    rb_status rc;

    if (imp->prepared)
        return RB_OK;
    if (imp->failed) {
        snprintf(msg, msgcap, "the import failed earlier");
        return RB_MISUSE;
    }
    rc = prepare_once(imp, msg, msgcap);
    if (rc != RB_OK) {
        imp->failed = true;
        periods_free(imp);
    }
    return rc;
}

/* {===================================================================================
 * Storage: records, manifests, apply
 * =================================================================================== */

#define KEEP_TAGS_KEY "usage:keep_tags"
#define REC_VERSION 1

/* be32(month) source [NUL]: the prefix of a (period, source) in "usage" or its manifest key. */
static size_t period_key(unsigned char *k, int month, const char *source, bool nul)
{
    size_t n = strlen(source);

    rbi_be32_put(k, (uint32_t)month);
    memcpy(k + 4, source, n);
    if (nul)
        k[4 + n++] = '\0';
    return 4 + n;
}

/*
 * The stored record of an aggregate, in the layout of record.c (REC_VERSION, day, the
 * eight string dimensions, the non-empty kept tags as key/value pairs, the four amounts,
 * the row count), written in one go: this runs once per aggregate in the write.
 */
static rb_status encode_agg(struct rb_buf *b, const struct agg *a, int ntags, char *const *tags)
{
    struct rbi_csv_span f[D__MAX];
    size_t need = 1 + 8 + 8 + A__COUNT * 17 + 8, off = 8;
    int nt = 0, nd = D_TAG0 + ntags;
    unsigned char *w;

    for (int i = 0; i < nd; i++) { /* walk the key once */
        f[i].len = (size_t)a->key[off] << 8 | a->key[off + 1];
        f[i].p = (const char *)a->key + off + 2;
        off += 2 + f[i].len;
        if (i < D_TAG0) {
            need += 4 + f[i].len;
        } else if (f[i].len) {
            need += 4 + strlen(tags[i - D_TAG0]) + 4 + f[i].len;
            nt++;
        }
    }
    rbi_buf_reset(b);
    if (rbi_buf_reserve(b, need) != RB_OK)
        return RB_NOMEM;
    w = (unsigned char *)b->data;
    *w++ = REC_VERSION;
    put_be64(w, (uint64_t)(int64_t)(int32_t)get_be32(a->key + 4));
    w += 8;
    for (int i = 0; i < D_TAG0; i++) {
        put_be32(w, (uint32_t)f[i].len);
        memcpy(w + 4, f[i].p, f[i].len);
        w += 4 + f[i].len;
    }
    put_be64(w, (uint64_t)nt);
    w += 8;
    for (int i = D_TAG0; i < nd; i++) {
        size_t kl;
        if (!f[i].len)
            continue;
        kl = strlen(tags[i - D_TAG0]);
        put_be32(w, (uint32_t)kl);
        memcpy(w + 4, tags[i - D_TAG0], kl);
        w += 4 + kl;
        put_be32(w, (uint32_t)f[i].len);
        memcpy(w + 4, f[i].p, f[i].len);
        w += 4 + f[i].len;
    }
    for (int i = 0; i < A__COUNT; i++) { /* as rbi_rec_put_dec */
        put_be64(w, (uint64_t)a->amt[i].hi);
        put_be64(w + 8, a->amt[i].lo);
        w[16] = (unsigned char)a->amt[i].scale;
        w += 17;
    }
    put_be64(w, (uint64_t)a->rows);
    w += 8;
    b->len = (size_t)(w - (unsigned char *)b->data);
    rb_assert(b->len == need);
    return RB_OK;
}

/* A stored aggregate, borrowed from the record. */
struct urec {
    int32_t day;
    struct rbi_csv_span s[D_TAG0];
    int ntags;
    struct rbi_csv_span tk[RB_USAGE_MAX_TAGS], tv[RB_USAGE_MAX_TAGS];
    rb_dec amt[A__COUNT];
    int64_t rows;
};

static bool decode_agg(const struct rbi_val *v, struct urec *u)
{
    struct rbi_rec_reader r;
    int64_t nt;

    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_VERSION)
        return false;
    u->day = (int32_t)rbi_rec_get_i64(&r);
    for (int i = 0; i < D_TAG0; i++) {
        const void *p;
        u->s[i].len = rbi_rec_get_bytes(&r, &p);
        u->s[i].p = p;
    }
    nt = rbi_rec_get_i64(&r);
    if (nt < 0 || nt > RB_USAGE_MAX_TAGS)
        return false;
    u->ntags = (int)nt;
    for (int i = 0; i < u->ntags; i++) {
        const void *p;
        u->tk[i].len = rbi_rec_get_bytes(&r, &p);
        u->tk[i].p = p;
        u->tv[i].len = rbi_rec_get_bytes(&r, &p);
        u->tv[i].p = p;
    }
    for (int i = 0; i < A__COUNT; i++)
        u->amt[i] = rbi_rec_get_dec(&r);
    u->rows = rbi_rec_get_i64(&r);
    return !r.bad && u->s[D_CURRENCY].len == 3;
}

static rb_status encode_manifest(struct rb_buf *b, const struct rb_usage_import *imp,
                                 const struct period *p, int64_t now)
{
    rb_status rc = rbi_rec_begin(b, REC_VERSION);
    int64_t rejected = atomic_load(&imp->nrejected);

    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, now);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, p->rows);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, rejected);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, (int64_t)p->count);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, (int64_t)imp->sig);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, (int64_t)imp->nfiles);
    for (size_t i = 0; i < imp->nfiles && rc == RB_OK; i++) {
        const struct ufile *f = &imp->files[i];
        rc = rbi_rec_put_str(b, f->name);
        if (rc == RB_OK)
            rc = rbi_rec_put_i64(b, (int64_t)f->bytes);
        if (rc == RB_OK)
            rc = rbi_rec_put_i64(b, (int64_t)f->hash);
        if (rc == RB_OK)
            rc = rbi_rec_put_i64(b, f->rows);
        if (rc == RB_OK)
            rc = rbi_rec_put_i64(b, (int64_t)f->format);
    }
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(b, (int64_t)p->ntotals);
    for (size_t i = 0; i < p->ntotals && rc == RB_OK; i++) {
        const rb_usage_amounts *t = &p->totals[i];
        rc = rbi_rec_put_str(b, t->currency);
        if (rc == RB_OK)
            rc = rbi_rec_put_i64(b, t->rows);
        if (rc == RB_OK)
            rc = rbi_rec_put_dec(b, &t->quantity);
        if (rc == RB_OK)
            rc = rbi_rec_put_dec(b, &t->billed);
        if (rc == RB_OK)
            rc = rbi_rec_put_dec(b, &t->list);
        if (rc == RB_OK)
            rc = rbi_rec_put_dec(b, &t->effective);
    }
    return rc;
}

/* A decoded manifest; the arrays are allocated, the strings borrowed from the record. */
struct mrec {
    rb_usage_manifest m;
    uint64_t sig;
    rb_usage_file *files;
    rb_usage_amounts *totals;
    struct rb_buf names; /* the file names, NUL-separated */
};

static void mrec_release(struct mrec *r)
{
    rbi_free(r->files);
    rbi_free(r->totals);
    rbi_buf_release(&r->names);
    memset(r, 0, sizeof(*r));
}

static rb_status decode_manifest(const void *data, size_t len, struct mrec *out)
{
    struct rbi_rec_reader r;
    int64_t nf, nt;
    size_t *noff = NULL;
    rb_status rc = RB_OK;

    memset(out, 0, sizeof(*out));
    rbi_rec_read(&r, data, len);
    if (r.version != REC_VERSION)
        return RB_CORRUPT;
    out->m.imported_at = rbi_rec_get_i64(&r);
    out->m.rows = rbi_rec_get_i64(&r);
    out->m.rejected = rbi_rec_get_i64(&r);
    out->m.aggregates = rbi_rec_get_i64(&r);
    out->sig = (uint64_t)rbi_rec_get_i64(&r);
    nf = rbi_rec_get_i64(&r);
    if (r.bad || nf < 0 || nf > 1000000)
        return RB_CORRUPT;
    out->files = rbi_calloc((size_t)nf + 1, sizeof(*out->files));
    noff = rbi_calloc((size_t)nf + 1, sizeof(*noff));
    if (!out->files || !noff) {
        rc = RB_NOMEM;
        goto out;
    }
    for (int64_t i = 0; i < nf; i++) {
        const void *p;
        size_t n = rbi_rec_get_bytes(&r, &p);
        noff[i] = out->names.len;
        if (rbi_buf_append(&out->names, p, n) != RB_OK ||
            rbi_buf_append(&out->names, "", 1) != RB_OK) {
            rc = RB_NOMEM;
            goto out;
        }
        out->files[i].bytes = (uint64_t)rbi_rec_get_i64(&r);
        out->files[i].hash = (uint64_t)rbi_rec_get_i64(&r);
        out->files[i].rows = rbi_rec_get_i64(&r);
        out->files[i].format = (rb_usage_format)rbi_rec_get_i64(&r);
    }
    for (int64_t i = 0; i < nf; i++)
        out->files[i].name = out->names.data ? out->names.data + noff[i] : "";
    nt = rbi_rec_get_i64(&r);
    if (r.bad || nt < 0 || nt > 10000) {
        rc = RB_CORRUPT;
        goto out;
    }
    out->totals = rbi_calloc((size_t)nt + 1, sizeof(*out->totals));
    if (!out->totals) {
        rc = RB_NOMEM;
        goto out;
    }
    for (int64_t i = 0; i < nt; i++) {
        rb_usage_amounts *t = &out->totals[i];
        rbi_rec_get_str(&r, t->currency, sizeof(t->currency));
        t->rows = rbi_rec_get_i64(&r);
        t->quantity = rbi_rec_get_dec(&r);
        t->billed = rbi_rec_get_dec(&r);
        t->list = rbi_rec_get_dec(&r);
        t->effective = rbi_rec_get_dec(&r);
    }
    if (r.bad) {
        rc = RB_CORRUPT;
        goto out;
    }
    out->m.nfiles = (size_t)nf;
    out->m.files = out->files;
    out->m.ntotals = (size_t)nt;
    out->m.totals = out->totals;
    out->m.outcome = RB_USAGE_STORED;
out:
    rbi_free(noff);
    if (rc != RB_OK)
        mrec_release(out);
    return rc;
}

/* The kept tag keys stored in meta, into keys[] (allocated); *n the count. */
static rb_status load_tags(rb_txn *txn, char **keys, int *n)
{
    struct rbi_val v;
    struct rbi_rec_reader r;
    int64_t cnt;
    rb_status rc;

    *n = 0;
    rc = rbi_get(txn, RBI_DB_META, KEEP_TAGS_KEY, strlen(KEEP_TAGS_KEY), &v);
    if (rc == RB_NOTFOUND)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    rbi_rec_read(&r, v.data, v.len);
    cnt = rbi_rec_get_i64(&r);
    if (r.version != REC_VERSION || r.bad || cnt < 0 || cnt > RB_USAGE_MAX_TAGS)
        return rbi_txn_error(txn, RB_CORRUPT, "bad kept-tags record in 'meta'");
    for (int64_t i = 0; i < cnt; i++) {
        char tmp[RB_USAGE_TAG_MAX + 1];
        rbi_rec_get_str(&r, tmp, sizeof(tmp));
        if (r.bad)
            break;
        keys[i] = rbi_strdup(tmp);
        if (!keys[i]) {
            for (int64_t j = 0; j < i; j++)
                rbi_free(keys[j]);
            return rbi_txn_error(txn, RB_NOMEM, "out of memory");
        }
        (*n)++;
    }
    if (r.bad) {
        for (int i = 0; i < *n; i++)
            rbi_free(keys[i]);
        *n = 0;
        return rbi_txn_error(txn, RB_CORRUPT, "bad kept-tags record in 'meta'");
    }
    return RB_OK;
}

static void free_tags(char **keys, int n)
{
    for (int i = 0; i < n; i++)
        rbi_free(keys[i]);
}

static rb_status store_tags(rb_txn *txn, char *const *keys, int n)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = rbi_rec_begin(&b, REC_VERSION);

    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, n);
    for (int i = 0; i < n && rc == RB_OK; i++)
        rc = rbi_rec_put_str(&b, keys[i]);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_META, KEEP_TAGS_KEY, strlen(KEEP_TAGS_KEY), b.data, b.len, 0);
    else
        rc = rbi_txn_error(txn, rc, "out of memory");
    rbi_buf_release(&b);
    return rc;
}

/* Whether phase 1 left something to store. */
static rb_status import_check(const struct rb_usage_import *imp, char *msg, size_t cap)
{
    int64_t rows = 0;

    if (imp->failed) {
        snprintf(msg, cap, "the import failed earlier: nothing to apply");
        return RB_MISUSE;
    }
    if (imp->nfiles == 0) {
        snprintf(msg, cap, "nothing to import: no file");
        return RB_INVALID;
    }
    for (int i = 0; i < imp->nw; i++)
        rows += imp->w[i].rows;
    if (rows == 0) {
        snprintf(msg, cap, "nothing to import: all %lld rows were rejected",
                 (long long)atomic_load(&imp->nrejected));
        return RB_INVALID;
    }
    return RB_OK;
}

rb_status rb_usage_import_check(const rb_usage_import *imp, rb_error *err)
{
    char msg[200];
    rb_status rc;

    if (!imp)
        return rbi_error_set(err, RB_MISUSE, "rb_usage_import_check: NULL import");
    rc = import_check(imp, msg, sizeof(msg));
    if (rc != RB_OK)
        return rbi_error_set(err, rc, "%s", msg);
    return RB_OK;
}

static rb_status last_key(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct rbi_val *out = ctx;

    (void)v;
    *out = *k;
    return RBI_STOP;
}

/*
 * Whether every key of "usage" sorts before the prefix, so that the new aggregates (whose
 * keys increase) can be appended: LMDB then fills pages instead of splitting them.
 */
static rb_status sorts_last(rb_txn *txn, const unsigned char *prefix, size_t plen, bool *yes)
{
    static const unsigned char top[5] = {0xff, 0xff, 0xff, 0xff, 0xff}; /* above any month */
    struct rbi_val last = {NULL, 0};
    rb_status rc = rbi_scan_back(txn, RBI_DB_USAGE, NULL, 0, top, sizeof(top), last_key, &last);
    size_t n;

    if (rc != RB_OK)
        return rc;
    if (!last.data) {
        *yes = true;
        return RB_OK;
    }
    n = last.len < plen ? last.len : plen;
    *yes =
        memcmp(last.data, prefix, n) < 0 || (memcmp(last.data, prefix, n) == 0 && last.len < plen);
    return RB_OK;
}

rb_status rb_usage_import_apply(rb_txn *txn, rb_usage_import *imp, int64_t now)
{
    unsigned char pk[4 + RB_USAGE_SOURCE_MAX + 1 + 4];
    char *stored[RB_USAGE_MAX_TAGS];
    int nstored = 0;
    char msg[200];
    rb_status rc;

    if (!txn || !imp)
        return RB_MISUSE;
    rc = import_check(imp, msg, sizeof(msg));
    if (rc == RB_OK)
        rc = prepare(imp, msg, sizeof(msg));
    if (rc != RB_OK)
        return rbi_txn_error(txn, rc, "%s", msg);
    rc = load_tags(txn, stored, &nstored);
    if (rc != RB_OK)
        return rc;
    {
        bool same = nstored == imp->ntags;
        for (int i = 0; same && i < nstored; i++)
            same = strcmp(stored[i], imp->tags[i]) == 0;
        free_tags(stored, nstored);
        if (!same)
            return rbi_txn_error(txn, RB_INVALID,
                                 "the kept tags changed while the files were read: import "
                                 "them again");
    }
    for (size_t i = 0; i < imp->nperiods; i++) {
        struct period *p = &imp->periods[i];
        size_t mlen = period_key(pk, p->month, imp->source, false), plen;
        struct rbi_val v;
        bool append;

        p->outcome = RB_USAGE_PENDING;
        rc = rbi_get(txn, RBI_DB_MANIFESTS, pk, mlen, &v);
        if (rc == RB_OK) {
            struct mrec old;
            rb_status drc = decode_manifest(v.data, v.len, &old);
            if (drc == RB_OK && old.sig == imp->sig) {
                p->outcome = RB_USAGE_UNCHANGED;
                p->imported_at = old.m.imported_at;
                mrec_release(&old);
                continue;
            }
            if (drc == RB_OK)
                mrec_release(&old);
            p->outcome = RB_USAGE_REPLACED;
        } else if (rc == RB_NOTFOUND) {
            p->outcome = RB_USAGE_NEW;
        } else {
            return rc;
        }
        p->imported_at = now;
        rc = rbi_usage_epoch_bump(txn); /* the month's usage changes (bill.c's cache) */
        if (rc != RB_OK)
            return rc;
        plen = period_key(pk, p->month, imp->source, true);
        rc = rbi_del_prefix(txn, RBI_DB_USAGE, pk, plen, NULL);
        if (rc != RB_OK)
            return rc;
        rc = sorts_last(txn, pk, plen, &append);
        if (rc != RB_OK)
            return rc;
        for (size_t j = 0; j < p->count; j++) {
            if (j + 8 < p->count)
                prefetch_agg(imp->all[p->first + j + 8]);
            put_be32(pk + plen, (uint32_t)j);
            rc = encode_agg(&imp->rec, imp->all[p->first + j], imp->ntags, imp->tags);
            if (rc != RB_OK)
                return rbi_txn_error(txn, rc, "out of memory");
            rc = rbi_put(txn, RBI_DB_USAGE, pk, plen + 4, imp->rec.data, imp->rec.len,
                         append ? RBI_APPEND : 0);
            if (rc != RB_OK)
                return rc;
        }
        rc = encode_manifest(&imp->rec, imp, p, now);
        if (rc != RB_OK)
            return rbi_txn_error(txn, rc, "out of memory");
        rc = rbi_put(txn, RBI_DB_MANIFESTS, pk, mlen, imp->rec.data, imp->rec.len, 0);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;
}

rb_status rb_usage_import_periods(rb_usage_import *imp, rb_usage_manifest_cb cb, void *ctx)
{
    rb_usage_file *files;
    char msg[200];
    rb_status rc;

    if (!imp || !cb || imp->failed)
        return RB_MISUSE;
    rc = prepare(imp, msg, sizeof(msg));
    if (rc != RB_OK)
        return rc;
    files = rbi_calloc(imp->nfiles + 1, sizeof(*files));
    if (!files)
        return RB_NOMEM;
    for (size_t i = 0; i < imp->nfiles; i++) {
        files[i].name = imp->files[i].name;
        files[i].bytes = imp->files[i].bytes;
        files[i].hash = imp->files[i].hash;
        files[i].rows = imp->files[i].rows;
        files[i].format = imp->files[i].format;
    }
    for (size_t i = 0; i < imp->nperiods && rc == RB_OK; i++) {
        const struct period *p = &imp->periods[i];
        rb_usage_manifest m;
        memset(&m, 0, sizeof(m));
        m.source = imp->source;
        m.month = p->month;
        m.imported_at = p->imported_at;
        m.rows = p->rows;
        m.rejected = atomic_load(&imp->nrejected);
        m.aggregates = (int64_t)p->count;
        m.nfiles = imp->nfiles;
        m.files = files;
        m.ntotals = p->ntotals;
        m.totals = p->totals;
        m.outcome = p->outcome;
        rc = cb(&m, ctx);
    }
    rbi_free(files);
    return rc;
}

/* {===================================================================================
 * Kept tags
 * =================================================================================== */

rb_status rb_usage_tag_keep(rb_txn *txn, const char *key)
{
    char *keys[RB_USAGE_MAX_TAGS + 1];
    int n;
    rb_status rc;

    if (!txn || !key)
        return RB_MISUSE;
    if (!is_tag_key(key))
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid tag key \"%.80s\": want 1..%d bytes of UTF-8 text", key,
                             RB_USAGE_TAG_MAX);
    rc = load_tags(txn, keys, &n);
    if (rc != RB_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        if (strcmp(keys[i], key) == 0) {
            free_tags(keys, n);
            return rbi_txn_error(txn, RB_EXISTS, "tag \"%s\" is kept already", key);
        }
    }
    if (n >= RB_USAGE_MAX_TAGS) {
        free_tags(keys, n);
        return rbi_txn_error(txn, RB_INVALID,
                             "cannot keep tag \"%s\": at most %d tags can be "
                             "kept",
                             key, RB_USAGE_MAX_TAGS);
    }
    keys[n] = (char *)key;
    rc = store_tags(txn, keys, n + 1);
    free_tags(keys, n);
    return rc;
}

rb_status rb_usage_tag_drop(rb_txn *txn, const char *key)
{
    char *keys[RB_USAGE_MAX_TAGS];
    int n, at = -1;
    rb_status rc;

    if (!txn || !key)
        return RB_MISUSE;
    rc = load_tags(txn, keys, &n);
    if (rc != RB_OK)
        return rc;
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            at = i;
    if (at < 0) {
        free_tags(keys, n);
        return rbi_txn_error(txn, RB_NOTFOUND, "tag \"%.80s\" is not kept", key);
    }
    rbi_free(keys[at]);
    memmove(keys + at, keys + at + 1, (size_t)(n - at - 1) * sizeof(*keys));
    n--;
    rc = store_tags(txn, keys, n);
    free_tags(keys, n);
    return rc;
}

rb_status rb_usage_tag_list(rb_txn *txn, rb_usage_tag_cb cb, void *ctx)
{
    char *keys[RB_USAGE_MAX_TAGS];
    int n;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = load_tags(txn, keys, &n);
    for (int i = 0; i < n && rc == RB_OK; i++)
        rc = cb(keys[i], ctx);
    free_tags(keys, n);
    return rc;
}

/* {===================================================================================
 * Queries
 * =================================================================================== */

struct mlist_ctx {
    rb_usage_manifest_cb cb;
    void *ctx;
    rb_txn *txn;
};

static rb_status mlist_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct mlist_ctx *c = vctx;
    char source[RB_USAGE_SOURCE_MAX + 1];
    struct mrec m;
    rb_status rc;

    if (k->len < 5 || k->len - 4 > RB_USAGE_SOURCE_MAX)
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad key in 'manifests'");
    memcpy(source, (const char *)k->data + 4, k->len - 4);
    source[k->len - 4] = '\0';
    rc = decode_manifest(v->data, v->len, &m);
    if (rc == RB_CORRUPT)
        return rbi_txn_error(c->txn, rc, "bad manifest for source %s in 'manifests'", source);
    if (rc != RB_OK)
        return rbi_txn_error(c->txn, rc, "out of memory");
    m.m.source = source;
    m.m.month = (int)rbi_be32_get(k->data);
    rc = c->cb(&m.m, c->ctx);
    mrec_release(&m);
    return rc;
}

rb_status rb_usage_manifest_list(rb_txn *txn, int month, rb_usage_manifest_cb cb, void *ctx)
{
    struct mlist_ctx c = {cb, ctx, txn};
    unsigned char pk[4];

    if (!txn || !cb)
        return RB_MISUSE;
    if (month == RB_MONTH_OPEN)
        return rbi_scan(txn, RBI_DB_MANIFESTS, NULL, 0, mlist_one, &c);
    rbi_be32_put(pk, (uint32_t)month);
    return rbi_scan(txn, RBI_DB_MANIFESTS, pk, 4, mlist_one, &c);
}

/* A small map from byte keys to a fixed-size value, for grouping and caching. */
struct gent {
    uint64_t hash;
    size_t klen;
    unsigned char *val; /* vsize bytes after the key */
    unsigned char key[];
};

struct gmap {
    struct gent **s;
    size_t cap, n, vsize;
};

static void gmap_release(struct gmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        rbi_free(m->s[i]);
    rbi_free(m->s);
    memset(m, 0, sizeof(*m));
}

/* The value for key (created zeroed if absent); NULL on out of memory. */
static void *gmap_get(struct gmap *m, const void *key, size_t klen, bool *created)
{
    uint64_t h = key_hash(key, klen);
    struct gent *e;
    size_t i;

    if (m->n * 2 >= m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct gent **s = rbi_calloc(cap, sizeof(*s));
        if (!s)
            return NULL;
        for (size_t j = 0; j < m->cap; j++) {
            if (m->s[j]) {
                size_t k = m->s[j]->hash & (cap - 1);
                while (s[k])
                    k = (k + 1) & (cap - 1);
                s[k] = m->s[j];
            }
        }
        rbi_free(m->s);
        m->s = s;
        m->cap = cap;
    }
    for (i = h & (m->cap - 1); m->s[i]; i = (i + 1) & (m->cap - 1)) {
        e = m->s[i];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            if (created)
                *created = false;
            return e->val;
        }
    }
    e = rbi_calloc(1, sizeof(*e) + klen + 1 + m->vsize + 16);
    if (!e)
        return NULL;
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->val = e->key + ((klen + 1 + 15) & ~(size_t)15);
    m->s[i] = e;
    m->n++;
    if (created)
        *created = true;
    return e->val;
}

static int gent_cmp(const void *a, const void *b)
{
    const struct gent *x = *(const struct gent *const *)a;
    const struct gent *y = *(const struct gent *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);

    if (c)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* The entries sorted by key (an array to free), or NULL. */
static struct gent **gmap_sorted(const struct gmap *m)
{
    struct gent **v = rbi_malloc((m->n ? m->n : 1) * sizeof(*v));
    size_t k = 0;

    if (!v)
        return NULL;
    for (size_t i = 0; i < m->cap; i++)
        if (m->s[i])
            v[k++] = m->s[i];
    if (k > 1)
        qsort(v, k, sizeof(*v), gent_cmp);
    return v;
}

/* Attribution, cached: the org of an account on a day ("" for none). */
struct attrib {
    rb_txn *txn;
    struct gmap orgs;   /* account NUL be32(day) -> char[RB_ORG_ID_MAX + 2] (reason byte) */
    struct gmap payers; /* org -> rb_payer_info */
    int month;
};

enum { WHY_OK = 0, WHY_UNKNOWN = 1, WHY_NO_ORG = 2 };

/* *org gets the org id ("" if none) and *why the reason there is none. */
static rb_status org_of(struct attrib *at, const struct rbi_csv_span *acc, int32_t day,
                        const char **org, int *why)
{
    unsigned char key[RB_USAGE_VALUE_MAX + 8];
    char id[RB_ACCOUNT_ID_LEN + 1];
    char *val;
    bool created;
    rb_status rc;

    if (acc->len > RB_USAGE_VALUE_MAX)
        return RB_CORRUPT;
    memcpy(key, acc->p, acc->len);
    key[acc->len] = 0;
    rbi_be32_put(key + acc->len + 1, (uint32_t)day);
    val = gmap_get(&at->orgs, key, acc->len + 5, &created);
    if (!val)
        return rbi_txn_error(at->txn, RB_NOMEM, "out of memory");
    if (created) {
        rb_account a;
        val[0] = WHY_UNKNOWN;
        if (acc->len == RB_ACCOUNT_ID_LEN) {
            memcpy(id, acc->p, acc->len);
            id[acc->len] = '\0';
            if (rb_account_id_is_valid(id)) {
                rc = rb_account_org_at(at->txn, id, (int64_t)day * 86400, val + 1);
                if (rc == RB_OK) {
                    val[0] = WHY_OK;
                } else if (rc == RB_NOTFOUND) {
                    val[1] = '\0';
                    rc = rb_account_get(at->txn, id, &a);
                    if (rc == RB_OK)
                        val[0] = WHY_NO_ORG;
                    else if (rc != RB_NOTFOUND)
                        return rc;
                } else {
                    return rc;
                }
            }
        }
    }
    *why = val[0];
    *org = val[0] == WHY_OK ? val + 1 : "";
    return RB_OK;
}

/* Who pays org's bill in the month, cached. */
static rb_status payer_of(struct attrib *at, const char *org, const rb_payer_info **out)
{
    rb_payer_info *pi;
    bool created;
    rb_status rc;

    pi = gmap_get(&at->payers, org, strlen(org), &created);
    if (!pi)
        return rbi_txn_error(at->txn, RB_NOMEM, "out of memory");
    if (created) {
        rc = rb_payer_of(at->txn, org, at->month, pi);
        if (rc == RB_NOTFOUND) {
            memset(pi, 0, sizeof(*pi));
        } else if (rc != RB_OK) {
            return rc;
        }
    }
    *out = pi;
    return RB_OK;
}

static void attrib_init(struct attrib *at, rb_txn *txn, int month)
{
    memset(at, 0, sizeof(*at));
    at->txn = txn;
    at->month = month;
    at->orgs.vsize = RB_ORG_ID_MAX + 2;
    at->payers.vsize = sizeof(rb_payer_info);
}

static void attrib_release(struct attrib *at)
{
    gmap_release(&at->orgs);
    gmap_release(&at->payers);
}

struct sum_ctx {
    rb_txn *txn;
    const rb_usage_query *q;
    struct attrib at;
    struct gmap groups; /* key NUL currency -> rb_usage_amounts */
    struct rb_buf key;
};

static rb_status group_add(rb_txn *txn, struct gmap *g, const void *key, size_t klen,
                           const struct urec *u)
{
    bool created;
    rb_usage_amounts *a = gmap_get(g, key, klen, &created);

    if (!a)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    if (created) {
        memcpy(a->currency, u->s[D_CURRENCY].p, 3);
        a->currency[3] = '\0';
        a->quantity = a->billed = a->list = a->effective = dec0;
    }
    if (add_amounts(a, u->amt, u->rows) != RB_OK)
        return rbi_txn_error(txn, RB_OVERFLOW,
                             "a summary total is out of range (more than 38 "
                             "digits)");
    return RB_OK;
}

static bool span_is(const struct rbi_csv_span *s, const char *str)
{
    return s->len == strlen(str) && memcmp(s->p, str, s->len) == 0;
}

static rb_status sum_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct sum_ctx *c = vctx;
    const rb_usage_query *q = c->q;
    struct urec u;
    struct rbi_csv_span key = {"", 0};
    char daybuf[16];
    rb_status rc;

    (void)k;
    if (!decode_agg(v, &u))
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    if (q->account && !span_is(&u.s[D_ACCOUNT], q->account))
        return RB_OK;
    if (q->org || q->payer) {
        const char *org;
        int why;
        rc = org_of(&c->at, &u.s[D_ACCOUNT], u.day, &org, &why);
        if (rc != RB_OK)
            return rc;
        if (q->org && strcmp(org, q->org) != 0)
            return RB_OK;
        if (q->payer) {
            const rb_payer_info *pi;
            bool in = false;
            if (!*org)
                return RB_OK;
            in = strcmp(org, q->payer) == 0;
            if (!in) {
                rc = payer_of(&c->at, org, &pi);
                if (rc != RB_OK)
                    return rc;
                for (int i = 0; i < pi->depth && i < RB_CHAIN_MAX && !in; i++)
                    in = strcmp(pi->chain[i], q->payer) == 0;
            }
            if (!in)
                return RB_OK;
        }
    }
    switch (q->by) {
    case RB_USAGE_BY_SERVICE:
        key = u.s[D_SERVICE];
        break;
    case RB_USAGE_BY_ACCOUNT:
        key = u.s[D_ACCOUNT];
        break;
    case RB_USAGE_BY_DAY:
        format_day(u.day, daybuf, sizeof(daybuf));
        key.p = daybuf;
        key.len = strlen(daybuf);
        break;
    case RB_USAGE_BY_USAGE_TYPE:
        key = u.s[D_USAGE_TYPE];
        break;
    case RB_USAGE_BY_LINE_TYPE:
        key = u.s[D_LINE_TYPE];
        break;
    case RB_USAGE_BY_REGION:
        key = u.s[D_REGION];
        break;
    case RB_USAGE_BY_TAG:
        for (int i = 0; i < u.ntags; i++)
            if (span_is(&u.tk[i], q->tag))
                key = u.tv[i];
        break;
    }
    rbi_buf_reset(&c->key);
    if (rbi_buf_append(&c->key, key.p, key.len) != RB_OK ||
        rbi_buf_append(&c->key, "", 1) != RB_OK ||
        rbi_buf_append(&c->key, u.s[D_CURRENCY].p, 3) != RB_OK)
        return rbi_txn_error(c->txn, RB_NOMEM, "out of memory");
    return group_add(c->txn, &c->groups, c->key.data, c->key.len, &u);
}

struct has_tag {
    const char *tag;
    bool found;
};

static rb_status has_tag_cb(const char *key, void *ctx)
{
    struct has_tag *h = ctx;

    if (strcmp(key, h->tag) == 0)
        h->found = true;
    return RB_OK;
}

rb_status rb_usage_summary(rb_txn *txn, const rb_usage_query *q, rb_usage_group_cb cb, void *ctx)
{
    struct sum_ctx c;
    struct gent **v = NULL;
    unsigned char pk[4];
    int nfilters;
    rb_status rc;

    if (!txn || !q || !cb)
        return RB_MISUSE;
    nfilters = (q->org != NULL) + (q->payer != NULL) + (q->account != NULL);
    if (nfilters > 1)
        return rbi_txn_error(txn, RB_INVALID, "give at most one of org, payer and account");
    if ((unsigned)q->by > RB_USAGE_BY_TAG)
        return rbi_txn_error(txn, RB_INVALID, "unknown summary dimension %d", (int)q->by);
    if (q->by == RB_USAGE_BY_TAG) {
        struct has_tag h = {q->tag, false};
        if (!q->tag)
            return rbi_txn_error(txn, RB_INVALID, "missing tag key");
        rc = rb_usage_tag_list(txn, has_tag_cb, &h);
        if (rc != RB_OK)
            return rc;
        if (!h.found)
            return rbi_txn_error(txn, RB_INVALID,
                                 "tag \"%.80s\" is not kept (keep it with `rebill usage config "
                                 "--keep-tag %.80s`, then import again)",
                                 q->tag, q->tag);
    }
    if (q->org || q->payer) {
        rb_org o;
        const char *id = q->org ? q->org : q->payer;
        if (!rb_org_id_is_valid(id))
            return rbi_txn_error(txn, RB_INVALID, "invalid organization id \"%.80s\"", id);
        rc = rb_org_get(txn, id, &o);
        if (rc == RB_NOTFOUND)
            return rbi_txn_error(txn, RB_NOTFOUND, "no organization \"%s\"", id);
        if (rc != RB_OK)
            return rc;
    }
    memset(&c, 0, sizeof(c));
    c.txn = txn;
    c.q = q;
    attrib_init(&c.at, txn, q->month);
    c.groups.vsize = sizeof(rb_usage_amounts);
    rbi_be32_put(pk, (uint32_t)q->month);
    rc = rbi_scan(txn, RBI_DB_USAGE, pk, 4, sum_one, &c);
    if (rc == RB_OK) {
        v = gmap_sorted(&c.groups);
        if (!v)
            rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == RB_OK && i < c.groups.n; i++) {
        rb_usage_group g;
        g.key = (const char *)v[i]->key;
        memcpy(&g.a, v[i]->val, sizeof(g.a));
        rc = cb(&g, ctx);
    }
    rbi_free(v);
    gmap_release(&c.groups);
    attrib_release(&c.at);
    rbi_buf_release(&c.key);
    return rc;
}

struct unm_ctx {
    rb_txn *txn;
    struct attrib at;
    struct gmap groups; /* account NUL why NUL org NUL currency -> amounts */
    struct rb_buf key;
    struct gmap *mapped; /* rbi_usage_reconcile: currency -> amounts someone pays for */
};

static const char *const why_text[] = {"no payer in force", "unknown account",
                                       "no organization on the usage day"};

static rb_status unm_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct unm_ctx *c = vctx;
    struct urec u;
    const char *org;
    int why;
    rb_status rc;

    (void)k;
    if (!decode_agg(v, &u))
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    rc = org_of(&c->at, &u.s[D_ACCOUNT], u.day, &org, &why);
    if (rc != RB_OK)
        return rc;
    if (why == WHY_OK) {
        const rb_payer_info *pi;
        rc = payer_of(&c->at, org, &pi);
        if (rc != RB_OK)
            return rc;
        if (pi->depth > 0) /* someone pays */
            return c->mapped ? group_add(c->txn, c->mapped, u.s[D_CURRENCY].p, 3, &u) : RB_OK;
    }
    rbi_buf_reset(&c->key);
    if (rbi_buf_append(&c->key, u.s[D_ACCOUNT].p, u.s[D_ACCOUNT].len) != RB_OK ||
        rbi_buf_printf(&c->key, "%c%c%s%c", 0, '0' + why, org, 0) != RB_OK ||
        rbi_buf_append(&c->key, u.s[D_CURRENCY].p, 3) != RB_OK)
        return rbi_txn_error(c->txn, RB_NOMEM, "out of memory");
    return group_add(c->txn, &c->groups, c->key.data, c->key.len, &u);
}

/* rb_usage_unmapped(); with `mapped`, the same scan also sums what someone pays for. */
static rb_status unmapped_scan(rb_txn *txn, int month, rb_usage_unmapped_cb cb, void *ctx,
                               struct gmap *mapped)
{
    struct unm_ctx c;
    struct gent **v = NULL;
    unsigned char pk[4];
    rb_status rc;

    memset(&c, 0, sizeof(c));
    c.txn = txn;
    c.mapped = mapped;
    attrib_init(&c.at, txn, month);
    c.groups.vsize = sizeof(rb_usage_amounts);
    rbi_be32_put(pk, (uint32_t)month);
    rc = rbi_scan(txn, RBI_DB_USAGE, pk, 4, unm_one, &c);
    if (rc == RB_OK) {
        v = gmap_sorted(&c.groups);
        if (!v)
            rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == RB_OK && i < c.groups.n; i++) {
        rb_usage_unmapped_row r;
        const char *p = (const char *)v[i]->key;
        size_t alen = strlen(p);
        r.account = p;
        r.reason = why_text[p[alen + 1] - '0'];
        r.org = p + alen + 2;
        memcpy(&r.a, v[i]->val, sizeof(r.a));
        rc = cb(&r, ctx);
    }
    rbi_free(v);
    gmap_release(&c.groups);
    attrib_release(&c.at);
    rbi_buf_release(&c.key);
    return rc;
}

rb_status rb_usage_unmapped(rb_txn *txn, int month, rb_usage_unmapped_cb cb, void *ctx)
{
    if (!txn || !cb)
        return RB_MISUSE;
    return unmapped_scan(txn, month, cb, ctx, NULL);
}

rb_status rbi_usage_reconcile(rb_txn *txn, int month, rb_usage_unmapped_cb unmapped,
                              rb_status (*mapped)(const rb_usage_amounts *a, void *ctx), void *ctx)
{
    struct gmap m;
    struct gent **v = NULL;
    rb_status rc;

    if (!txn || !unmapped || !mapped)
        return RB_MISUSE;
    memset(&m, 0, sizeof(m));
    m.vsize = sizeof(rb_usage_amounts);
    rc = unmapped_scan(txn, month, unmapped, ctx, &m);
    if (rc == RB_OK && m.n > 0 && !(v = gmap_sorted(&m)))
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    for (size_t i = 0; rc == RB_OK && i < m.n; i++)
        rc = mapped((const rb_usage_amounts *)v[i]->val, ctx);
    rbi_free(v);
    gmap_release(&m);
    return rc;
}
