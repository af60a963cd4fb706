/*
 * test_dec.c -- exact decimals (engine/dec.c): fixed tables for every function, then a
 * randomized comparison of 20,000 cases against Python's decimal module
 * (tests/unit/dec_ref.py, run from the repository root).
 */
#include "rebill.h"

#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const mode_names[] = {"HALF_EVEN", "HALF_UP", "DOWN", "UP", "FLOOR", "CEILING"};

/* Parse text that must be valid; a failure is reported and gives zero. */
#define D(text) parse_ok(text, __FILE__, __LINE__)
static rb_dec parse_ok(const char *text, const char *file, int line)
{
    rb_error err = {0, ""};
    rb_dec d = rb_dec_zero();
    rb_status rc = rb_dec_parse(&d, text, strlen(text), &err);

    if (rc != RB_OK)
        fprintf(stderr, "FAIL %s:%d: parse \"%s\": %d %s\n", file, line, text, rc, err.msg);
    OK(rc == RB_OK, "parse \"%s\"", text);
    return d;
}

/* Format into one of a few rotating buffers, so several results fit in one check. */
static const char *F(rb_dec d)
{
    static char bufs[8][RB_DEC_BUFSZ];
    static int next;
    char *b = bufs[next++ % 8];

    rb_dec_format(&d, b, RB_DEC_BUFSZ);
    return b;
}

static bool same(rb_dec a, rb_dec b)
{
    return a.lo == b.lo && a.hi == b.hi && a.scale == b.scale && a.pad_ == b.pad_;
}

/* {===================================================================================
 * Parsing and formatting
 * =================================================================================== */

static void test_parse_ok(void)
{
    static const struct {
        const char *in;
        const char *want; /* formatted */
        int scale;
    } cases[] = {
        {"12.3456789012", "12.3456789012", 10},
        {"-0.5", "-0.5", 1},
        {".5", "0.5", 1},
        {"5.", "5", 0},
        {"1e-3", "0.001", 3},
        {"9.984E-7", "0.0000009984", 10},
        {"15e1", "150", 0},
        {"1.5e+2", "150", 0},
        {"1.25e1", "12.5", 1},
        {"+7", "7", 0},
        {"007.50", "7.50", 2},
        {"0", "0", 0},
        {"-0", "0", 0},
        {"-0.00", "0.00", 2},
        {"0e-50", "0.00000000000000000000000000000000000000", 38},
        {"0e99", "0", 0},
        {"0.000000014584511481", "0.000000014584511481", 18},
        {"-0.000000000000000000000001", "-0.000000000000000000000001", 24},
        {"99999999999999999999999999999999999999", "99999999999999999999999999999999999999", 0},
        {"-9.9999999999999999999999999999999999999", "-9.9999999999999999999999999999999999999",
         37},
        {"1e-38", "0.00000000000000000000000000000000000001", 38},
        {"10e-39", "0.00000000000000000000000000000000000001", 38},
        {"1e37", "10000000000000000000000000000000000000", 0},
        {"1.5e37", "15000000000000000000000000000000000000", 0},
        /* 39 digits whose last one is a fraction zero: the zero goes */
        {"1234567890123456789012345678901234567.80", "1234567890123456789012345678901234567.8", 1},
        {"12345678901234567890123456789012345678.000", "12345678901234567890123456789012345678", 0},
        {"1.00000000000000000000000000000000000000000000",
         "1.0000000000000000000000000000000000000", 37},
        {"123456789012345678901234567890123456780e-1", "12345678901234567890123456789012345678", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_dec d = D(cases[i].in);
        STR_EQ(F(d), cases[i].want);
        INT_EQ(d.scale, cases[i].scale);
        INT_EQ(d.pad_, 0);
    }
    /* the length bounds the text: no NUL needed */
    rb_dec d;
    INT_EQ(rb_dec_parse(&d, "12.5xyz", 4, NULL), RB_OK);
    STR_EQ(F(d), "12.5");
}

static void test_parse_errors(void)
{
    static const char *const bad[] = {"",    "-",     "+",   ".",       "1.2.3", "1e",      "e5",
                                      "1e+", "1e-",   " 1",  "1 ",      "abc",   "0x10",    "inf",
                                      "nan", "1,000", "--1", "+-1",     ".e1",   "1.2e3.4", "1e5e",
                                      "1_0", "-.",    "1.e", "Infinity"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rb_error err = {0, ""};
        rb_dec d = D("-123.456");
        char quoted[80];
        INT_EQ(rb_dec_parse(&d, bad[i], strlen(bad[i]), &err), RB_SYNTAX);
        INT_EQ(err.code, RB_SYNTAX);
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i]);
        STR_HAS(err.msg, "not a decimal number");
        STR_HAS(err.msg, quoted);
        STR_EQ(F(d), "-123.456"); /* untouched */
    }
    /* err may be NULL; NULL text is empty text */
    rb_dec d;
    INT_EQ(rb_dec_parse(&d, "x", 1, NULL), RB_SYNTAX);
    INT_EQ(rb_dec_parse(&d, NULL, 0, NULL), RB_SYNTAX);

    /* a huge input is quoted in part, and the message stays short */
    char big[4000];
    rb_error err;
    memset(big, '7', sizeof(big));
    big[2000] = 'x';
    INT_EQ(rb_dec_parse(&d, big, sizeof(big), &err), RB_SYNTAX);
    STR_HAS(err.msg, "\"7777777777");
    STR_HAS(err.msg, "...\"");
    OK(strlen(err.msg) < 100, "message is %zu bytes", strlen(err.msg));
    /* control characters are not copied into the message */
    INT_EQ(rb_dec_parse(&d, "1\n2", 3, &err), RB_SYNTAX);
    STR_HAS(err.msg, "\"1?2\"");
}

static void test_format(void)
{
    char buf[RB_DEC_BUFSZ];
    rb_dec d = D("123.45");

    INT_EQ(rb_dec_format(&d, buf, sizeof(buf)), 6);
    STR_EQ(buf, "123.45");
    INT_EQ(rb_dec_format(&d, buf, 4), 3); /* truncated, still terminated */
    STR_EQ(buf, "123");
    memcpy(buf, "zz", 3);
    INT_EQ(rb_dec_format(&d, buf, 0), 0);
    STR_EQ(buf, "zz");
    STR_EQ(F(rb_dec_from_int(INT64_MIN)), "-9223372036854775808");
    STR_EQ(F(rb_dec_from_int(INT64_MAX)), "9223372036854775807");
    STR_EQ(F(rb_dec_from_int(0)), "0");
    STR_EQ(F(rb_dec_zero()), "0");
    STR_EQ(F(D("-1.50")), "-1.50");
    STR_EQ(F(D("0.00")), "0.00");
    STR_EQ(F(D("-99999999999999999999999999999999999999")),
           "-99999999999999999999999999999999999999");
    STR_EQ(F(D("-0.99999999999999999999999999999999999999")),
           "-0.99999999999999999999999999999999999999");
    /* the longest text fits RB_DEC_BUFSZ */
    rb_dec x = D("-0.99999999999999999999999999999999999999");
    OK(rb_dec_format(&x, buf, sizeof(buf)) < RB_DEC_BUFSZ, "fits");
}

/* {===================================================================================
 * Exactness and overflow
 * =================================================================================== */

static void test_exact(void)
{
    rb_dec a = D("0.1"), b = D("0.2"), r, sum = rb_dec_zero(), cent = D("0.01");

    INT_EQ(rb_dec_add(&r, &a, &b), RB_OK);
    STR_EQ(F(r), "0.3");
    rb_dec three = D("0.3");
    INT_EQ(rb_dec_cmp(&r, &three), 0);

    int failures = 0;
    for (int i = 0; i < 10000; i++)
        failures += rb_dec_add(&sum, &sum, &cent) != RB_OK;
    INT_EQ(failures, 0);
    STR_EQ(F(sum), "100.00");

    /* CUR-like line items, mixed scales and exponent forms */
    static const char *const items[] = {
        "0.000000014584511481", "1.2E-5", "0.0000004167", "12.3456789012", "-0.5", "9.984E-7", "3"};
    sum = rb_dec_zero();
    rb_dec vals[sizeof(items) / sizeof(items[0])];
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        vals[i] = D(items[i]);
    for (int k = 0; k < 1000; k++) {
        for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
            failures += rb_dec_add(&sum, &sum, &vals[i]) != RB_OK;
    }
    INT_EQ(failures, 0);
    /* 1000 x 14.845692330884511481 */
    STR_EQ(F(sum), "14845.692330884511481000");

    /* subtracting back gives exactly zero (at the largest scale seen) */
    rb_dec one = D("1"), tenth = D("0.1");
    r = one;
    for (int i = 0; i < 10; i++)
        rb_dec_sub(&r, &r, &tenth);
    STR_EQ(F(r), "0.0");
    INT_EQ(rb_dec_sign(&r), 0);
}

/* Each overflow returns RB_OVERFLOW and leaves *r as it was (no wrapped value). */
#define OVERFLOWS(call)                                                                            \
    do {                                                                                           \
        r = sentinel;                                                                              \
        INT_EQ(call, RB_OVERFLOW);                                                                 \
        OK(same(r, sentinel), "result changed to %s", F(r));                                       \
    } while (0)

static void test_overflow(void)
{
    rb_dec sentinel = D("-123.456"), r;
    rb_dec nines = D("99999999999999999999999999999999999999");
    rb_dec mnines = rb_dec_neg(&nines);
    rb_dec one = D("1"), tenth = D("0.1"), mone = D("-1");
    rb_dec a20 = D("12345678901234567890"), b20 = D("98765432109876543210");

    OVERFLOWS(rb_dec_add(&r, &nines, &one));
    OVERFLOWS(rb_dec_add(&r, &one, &nines));
    OVERFLOWS(rb_dec_add(&r, &nines, &tenth));
    OVERFLOWS(rb_dec_sub(&r, &mnines, &one));
    OVERFLOWS(rb_dec_add(&r, &mnines, &mone));
    OVERFLOWS(rb_dec_sub(&r, &nines, &mone));
    INT_EQ(rb_dec_sub(&r, &nines, &one), RB_OK);
    STR_EQ(F(r), "99999999999999999999999999999999999998");
    INT_EQ(rb_dec_add(&r, &nines, &mnines), RB_OK);
    STR_EQ(F(r), "0");
    /* alignment overflows, but the exact sum fits: 10^37 + 1.000...0 (scale 37) */
    rb_dec e37 = D("10000000000000000000000000000000000000");
    rb_dec one37 = D("1.0000000000000000000000000000000000000");
    INT_EQ(rb_dec_add(&r, &e37, &one37), RB_OK);
    STR_EQ(F(r), "10000000000000000000000000000000000001");

    OVERFLOWS(rb_dec_mul(&r, &a20, &b20));
    OVERFLOWS(rb_dec_mul(&r, &nines, &nines));
    rb_dec e20 = D("100000000000000000000"), e18 = D("1000000000000000000");
    OVERFLOWS(rb_dec_mul(&r, &e20, &e18));
    rb_dec tiny = D("0.00000000000000000001");
    OVERFLOWS(rb_dec_mul(&r, &tiny, &tiny)); /* 1e-40: scale 40, no zero to drop */
    /* trailing zeros of the product make room: 10^38 at scale 38 becomes scale 37 */
    rb_dec one19 = D("1.0000000000000000000");
    INT_EQ(rb_dec_mul(&r, &one19, &one19), RB_OK);
    STR_EQ(F(r), "1.0000000000000000000000000000000000000");
    rb_dec tiny10 = D("0.00000000000000000010"), tiny19 = D("0.0000000000000000001");
    INT_EQ(rb_dec_mul(&r, &tiny10, &tiny19), RB_OK);
    STR_EQ(F(r), "0.00000000000000000000000000000000000001");

    OVERFLOWS(rb_dec_mul_int(&r, &e20, INT64_MAX));
    OVERFLOWS(rb_dec_mul_int(&r, &e20, INT64_MIN));
    OVERFLOWS(rb_dec_mul_int(&r, &nines, 2));
    OVERFLOWS(rb_dec_mul_int(&r, &mnines, INT64_MIN));
    INT_EQ(rb_dec_mul_int(&r, &nines, -1), RB_OK);
    STR_EQ(F(r), "-99999999999999999999999999999999999999");
    INT_EQ(rb_dec_mul_int(&r, &one, INT64_MIN), RB_OK);
    STR_EQ(F(r), "-9223372036854775808");
    INT_EQ(rb_dec_mul_int(&r, &mone, INT64_MIN), RB_OK);
    STR_EQ(F(r), "9223372036854775808");
    rb_dec e19 = D("10000000000000000000");
    INT_EQ(rb_dec_mul_int(&r, &e19, INT64_MAX), RB_OK);
    STR_EQ(F(r), "92233720368547758070000000000000000000");

    /* parse: 39 significant digits, 1e38 and beyond, scale beyond 38 */
    static const char *const big[] = {"123456789012345678901234567890123456789",
                                      "-100000000000000000000000000000000000000",
                                      "1e38",
                                      "1e39",
                                      "1e999999999999",
                                      "1.5e38",
                                      "1e-39",
                                      "1e-999999999999",
                                      "0.000000000000000000000000000000000000015",
                                      "1234567890123456789012345678901234567890",
                                      "12345678901234567890123456789012345678.01"};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        rb_error err = {0, ""};
        char quoted[80];
        r = sentinel;
        INT_EQ(rb_dec_parse(&r, big[i], strlen(big[i]), &err), RB_OVERFLOW);
        INT_EQ(err.code, RB_OVERFLOW);
        OK(same(r, sentinel), "parse \"%s\" changed the result", big[i]);
        snprintf(quoted, sizeof(quoted), "\"%s\"", big[i]);
        STR_HAS(err.msg, "decimal out of range");
        STR_HAS(err.msg, quoted);
    }
    rb_error err;
    INT_EQ(rb_dec_parse(&r, big[0], strlen(big[0]), &err), RB_OVERFLOW);
    STR_HAS(err.msg, "more than 38 digits");

    /* rounding to a larger scale pads, and the padding must fit */
    OVERFLOWS(rb_dec_round(&r, &nines, 1, RB_ROUND_HALF_EVEN));
    rb_dec n37 = D("9999999999999999999999999999999999999");
    INT_EQ(rb_dec_round(&r, &n37, 1, RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "9999999999999999999999999999999999999.0");
    OVERFLOWS(rb_dec_round(&r, &n37, 2, RB_ROUND_HALF_EVEN));
    /* rounding to a smaller scale carries into the next digit, within 38 digits */
    rb_dec almost = D("9999999999999999999999999999999999999.5");
    INT_EQ(rb_dec_round(&r, &almost, 0, RB_ROUND_HALF_UP), RB_OK);
    STR_EQ(F(r), "10000000000000000000000000000000000000");
}

/* {===================================================================================
 * Rounding
 * =================================================================================== */

static void test_round_table(void)
{
    static const struct {
        const char *in;
        int scale;
        const char *want[6]; /* HALF_EVEN, HALF_UP, DOWN, UP, FLOOR, CEILING */
    } cases[] = {
        {"0.125", 2, {"0.12", "0.13", "0.12", "0.13", "0.12", "0.13"}},
        {"0.135", 2, {"0.14", "0.14", "0.13", "0.14", "0.13", "0.14"}},
        {"-0.125", 2, {"-0.12", "-0.13", "-0.12", "-0.13", "-0.13", "-0.12"}},
        {"-0.135", 2, {"-0.14", "-0.14", "-0.13", "-0.14", "-0.14", "-0.13"}},
        {"2.5", 0, {"2", "3", "2", "3", "2", "3"}},
        {"-2.5", 0, {"-2", "-3", "-2", "-3", "-3", "-2"}},
        {"3.5", 0, {"4", "4", "3", "4", "3", "4"}},
        {"0.5", 0, {"0", "1", "0", "1", "0", "1"}},
        {"-0.5", 0, {"0", "-1", "0", "-1", "-1", "0"}},
        {"2.4", 0, {"2", "2", "2", "3", "2", "3"}},
        {"2.6", 0, {"3", "3", "2", "3", "2", "3"}},
        {"-2.6", 0, {"-3", "-3", "-2", "-3", "-3", "-2"}},
        {"0.005", 2, {"0.00", "0.01", "0.00", "0.01", "0.00", "0.01"}},
        {"-0.005", 2, {"0.00", "-0.01", "0.00", "-0.01", "-0.01", "0.00"}},
        {"1.0049999", 2, {"1.00", "1.00", "1.00", "1.01", "1.00", "1.01"}},
        {"1.0050001", 2, {"1.01", "1.01", "1.00", "1.01", "1.00", "1.01"}},
        {"-1.0049999", 2, {"-1.00", "-1.00", "-1.00", "-1.01", "-1.01", "-1.00"}},
        {"99.995", 2, {"100.00", "100.00", "99.99", "100.00", "99.99", "100.00"}},
        {"12.345678", 0, {"12", "12", "12", "13", "12", "13"}},
        {"1.20", 2, {"1.20", "1.20", "1.20", "1.20", "1.20", "1.20"}},
        {"1.5", 4, {"1.5000", "1.5000", "1.5000", "1.5000", "1.5000", "1.5000"}},
        {"-7", 2, {"-7.00", "-7.00", "-7.00", "-7.00", "-7.00", "-7.00"}},
        {"0", 3, {"0.000", "0.000", "0.000", "0.000", "0.000", "0.000"}},
        {"0.00000000000000000000000000000000000005",
         37,
         {"0.0000000000000000000000000000000000000", "0.0000000000000000000000000000000000001",
          "0.0000000000000000000000000000000000000", "0.0000000000000000000000000000000000001",
          "0.0000000000000000000000000000000000000", "0.0000000000000000000000000000000000001"}},
        {"0.99999999999999999999999999999999999999", 0, {"1", "1", "0", "1", "0", "1"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_dec a = D(cases[i].in);
        for (int m = 0; m < 6; m++) {
            rb_dec r = rb_dec_zero();
            INT_EQ(rb_dec_round(&r, &a, cases[i].scale, (rb_rounding)m), RB_OK);
            OK(strcmp(F(r), cases[i].want[m]) == 0, "round(%s, %d, %s) = %s, want %s", cases[i].in,
               cases[i].scale, mode_names[m], F(r), cases[i].want[m]);
        }
    }
    rb_dec a = D("1.5"), r = a;
    INT_EQ(rb_dec_round(&r, &a, -1, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_round(&r, &a, 39, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_round(&r, &a, 1, (rb_rounding)6), RB_INVALID);
    INT_EQ(rb_dec_round(&r, &a, 37, RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "1.5000000000000000000000000000000000000");
    INT_EQ(rb_dec_round(&r, &a, 38, RB_ROUND_HALF_EVEN), RB_OVERFLOW); /* 39 digits */
}

static void test_currency(void)
{
    rb_dec r;
    rb_dec a = D("1.005"), yen = D("1234.5"), kwd = D("1.23456"), five = D("5");
    static const char *const two[] = {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD",
                                      "SEK", "NOK", "DKK", "PLN", "CZK", "HUF"};
    static const char *const zero[] = {"JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF"};
    static const char *const three[] = {"BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"};

    for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
        OK(rb_currency_digits(two[i]) == 2, "%s", two[i]);
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
        OK(rb_currency_digits(zero[i]) == 0, "%s", zero[i]);
    for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
        OK(rb_currency_digits(three[i]) == 3, "%s", three[i]);
    INT_EQ(rb_currency_digits("CLF"), 4);
    INT_EQ(rb_currency_digits("jpy"), 0);
    INT_EQ(rb_currency_digits(NULL), 2);
    INT_EQ(rb_currency_digits(""), 2);
    INT_EQ(rb_currency_digits("XYZ"), 2);
    INT_EQ(rb_currency_digits("JPYX"), 2);
    INT_EQ(rb_currency_digits("JP"), 2);

    INT_EQ(rb_dec_round_currency(&r, &a, "USD", RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "1.00");
    INT_EQ(rb_dec_round_currency(&r, &a, "USD", RB_ROUND_HALF_UP), RB_OK);
    STR_EQ(F(r), "1.01");
    INT_EQ(rb_dec_round_currency(&r, &yen, "JPY", RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "1234");
    INT_EQ(rb_dec_round_currency(&r, &yen, "JPY", RB_ROUND_HALF_UP), RB_OK);
    STR_EQ(F(r), "1235");
    INT_EQ(rb_dec_round_currency(&r, &kwd, "KWD", RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "1.235");
    INT_EQ(rb_dec_round_currency(&r, &five, "USD", RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "5.00");
    INT_EQ(rb_dec_round_currency(&r, &five, "XYZ", RB_ROUND_HALF_EVEN), RB_OK);
    STR_EQ(F(r), "5.00");
}

/* {===================================================================================
 * Division
 * =================================================================================== */

static void check_div(const char *a, const char *b, int scale, rb_rounding m, const char *want)
{
    rb_dec x = D(a), y = D(b), r = rb_dec_zero();
    rb_status rc = rb_dec_div(&r, &x, &y, scale, m);

    OK(rc == RB_OK && strcmp(F(r), want) == 0, "%s / %s at %d %s = %s (rc %d), want %s", a, b,
       scale, mode_names[m], F(r), rc, want);
}

static void test_div(void)
{
    check_div("1", "3", 10, RB_ROUND_HALF_EVEN, "0.3333333333");
    check_div("2", "3", 10, RB_ROUND_HALF_EVEN, "0.6666666667");
    check_div("-2", "3", 10, RB_ROUND_HALF_UP, "-0.6666666667");
    check_div("2", "-3", 10, RB_ROUND_DOWN, "-0.6666666666");
    check_div("-2", "3", 10, RB_ROUND_FLOOR, "-0.6666666667");
    check_div("-2", "-3", 10, RB_ROUND_CEILING, "0.6666666667");
    check_div("-2", "3", 10, RB_ROUND_CEILING, "-0.6666666666");
    check_div("10", "4", 0, RB_ROUND_HALF_EVEN, "2");
    check_div("10", "4", 3, RB_ROUND_HALF_EVEN, "2.500");
    check_div("0", "-7", 2, RB_ROUND_FLOOR, "0.00");
    check_div("1.23456789", "1", 2, RB_ROUND_HALF_EVEN, "1.23"); /* the divisor is scaled */
    check_div("-0.001", "3", 2, RB_ROUND_HALF_EVEN, "0.00");     /* no "-0.00" */

    /* 1/8 = 0.125 and -1/8 (ties) and 1/3 (no tie) at 2 digits, every mode */
    static const char *const pos[] = {"0.12", "0.13", "0.12", "0.13", "0.12", "0.13"};
    static const char *const neg[] = {"-0.12", "-0.13", "-0.12", "-0.13", "-0.13", "-0.12"};
    static const char *const third[] = {"0.33", "0.33", "0.33", "0.34", "0.33", "0.34"};
    static const char *const mthird[] = {"-0.33", "-0.33", "-0.33", "-0.34", "-0.34", "-0.33"};
    for (int m = 0; m < 6; m++) {
        check_div("1", "8", 2, (rb_rounding)m, pos[m]);
        check_div("-1", "8", 2, (rb_rounding)m, neg[m]);
        check_div("1", "3", 2, (rb_rounding)m, third[m]);
        check_div("1", "-3", 2, (rb_rounding)m, mthird[m]);
    }

    /* dividends that need 256 bits (up to 10^75) */
    check_div("12345678901234567890123456789012345678", "1234567890123456789012345678901234567.8",
              36, RB_ROUND_HALF_EVEN, "10.000000000000000000000000000000000000");
    check_div("98765432109876543210987654321098765432", "12345678901234567890.123456789", 10,
              RB_ROUND_HALF_EVEN, "8000000072900000663.3900060369");
    check_div("98765432109876543210987654321098765432", "12345678901234567890.123456789", 10,
              RB_ROUND_DOWN, "8000000072900000663.3900060368");
    check_div("1", "99999999999999999999999999999999999999", 38, RB_ROUND_HALF_EVEN,
              "0.00000000000000000000000000000000000001");
    check_div("0.00000000000000000000000000000000000001", "99999999999999999999999999999999999999",
              38, RB_ROUND_UP, "0.00000000000000000000000000000000000001");
    check_div("0.00000000000000000000000000000000000001", "99999999999999999999999999999999999999",
              38, RB_ROUND_HALF_UP, "0.00000000000000000000000000000000000000");
    check_div("99999999999999999999999999999999999999", "1", 0, RB_ROUND_HALF_EVEN,
              "99999999999999999999999999999999999999");
    check_div("0.99999999999999999999999999999999999999",
              "0.00000000000000000000000000000000000001", 0, RB_ROUND_HALF_EVEN,
              "99999999999999999999999999999999999999");

    rb_dec one = D("1"), zero = D("0"), r = D("-123.456"), sentinel = r;
    rb_dec big = D("99999999999999999999999999999999999999");
    rb_dec small = D("0.00000000000000000000000000000000000001");
    INT_EQ(rb_dec_div(&r, &one, &zero, 2, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_div(&r, &zero, &zero, 2, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_div(&r, &one, &one, -1, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_div(&r, &one, &one, 39, RB_ROUND_HALF_EVEN), RB_INVALID);
    INT_EQ(rb_dec_div(&r, &one, &one, 2, (rb_rounding)42), RB_INVALID);
    OK(same(r, sentinel), "result changed to %s", F(r));
    OVERFLOWS(rb_dec_div(&r, &big, &small, 0, RB_ROUND_HALF_EVEN));
    OVERFLOWS(rb_dec_div(&r, &big, &small, 38, RB_ROUND_HALF_EVEN)); /* e = 76 */
    OVERFLOWS(rb_dec_div(&r, &big, &one, 1, RB_ROUND_HALF_EVEN));
    rb_dec e37 = D("10000000000000000000000000000000000000"), cent = D("0.01");
    OVERFLOWS(rb_dec_div(&r, &e37, &cent, 0, RB_ROUND_HALF_EVEN));
    rb_dec tenth = D("0.1");
    OVERFLOWS(rb_dec_div(&r, &big, &tenth, 0, RB_ROUND_DOWN));
}

/* {===================================================================================
 * Comparison and the small value functions
 * =================================================================================== */

static void test_cmp(void)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"1.50", "1.5", 0},
        {"-0", "0", 0},
        {"0.000", "0", 0},
        {"-0.00", "0.0", 0},
        {"1.5", "1.51", -1},
        {"-1.5", "-1.51", 1},
        {"-0.001", "0", -1},
        {"0", "-0.001", 1},
        {"10", "9.99999", 1},
        {"-10", "9.99999", -1},
        {"2", "10", -1},
        {"-2", "-10", 1},
        {"99999999999999999999999999999999999999", "0.00000000000000000000000000000000000001", 1},
        {"9.9999999999999999999999999999999999999", "10", -1},
        {"10.000000000000000000000000000000000000", "10", 0},
        {"-99999999999999999999999999999999999999", "-99999999999999999999999999999999999998", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_dec a = D(cases[i].a), b = D(cases[i].b);
        OK(rb_dec_cmp(&a, &b) == cases[i].want, "cmp(%s, %s) = %d, want %d", cases[i].a, cases[i].b,
           rb_dec_cmp(&a, &b), cases[i].want);
        OK(rb_dec_cmp(&b, &a) == -cases[i].want, "cmp(%s, %s) reversed", cases[i].a, cases[i].b);
    }
}

static void test_small(void)
{
    rb_dec x = D("1.500"), z = D("0.000"), n = D("-1.2300"), h = D("100"), r;

    STR_EQ(F(rb_dec_normalize(&x)), "1.5");
    r = D("2.00");
    STR_EQ(F(rb_dec_normalize(&r)), "2");
    STR_EQ(F(rb_dec_normalize(&z)), "0");
    INT_EQ(rb_dec_normalize(&z).scale, 0);
    STR_EQ(F(rb_dec_normalize(&n)), "-1.23");
    STR_EQ(F(rb_dec_normalize(&h)), "100");
    r = D("0.00000000000000000000000000000000000010");
    STR_EQ(F(rb_dec_normalize(&r)), "0.0000000000000000000000000000000000001");

    STR_EQ(F(rb_dec_neg(&x)), "-1.500");
    STR_EQ(F(rb_dec_neg(&n)), "1.2300");
    STR_EQ(F(rb_dec_neg(&z)), "0.000");
    r = rb_dec_neg(&z);
    OK(same(r, z), "neg(0) is 0");
    r = rb_dec_neg(&x);
    r = rb_dec_neg(&r);
    OK(same(r, x), "neg(neg(x)) == x");
    r = D("99999999999999999999999999999999999999");
    STR_EQ(F(rb_dec_neg(&r)), "-99999999999999999999999999999999999999");

    INT_EQ(rb_dec_sign(&x), 1);
    INT_EQ(rb_dec_sign(&n), -1);
    INT_EQ(rb_dec_sign(&z), 0);
    r = D("-0");
    INT_EQ(rb_dec_sign(&r), 0);
    r = D("-0.00000000000000000000000000000000000001");
    INT_EQ(rb_dec_sign(&r), -1);
    r = D("12345678901234567890123456789"); /* a coefficient above 64 bits */
    INT_EQ(rb_dec_sign(&r), 1);

    r = rb_dec_zero();
    INT_EQ(r.scale, 0);
    INT_EQ(rb_dec_sign(&r), 0);
    OK(same(rb_dec_from_int(0), rb_dec_zero()), "from_int(0) is zero");
}

/* {===================================================================================
 * Randomized comparison with Python's decimal module (tests/unit/dec_ref.py)
 * =================================================================================== */

#define RANDOM_CASES 20000

static uint64_t rng_state = 0x2545F4914F6CDD1DULL; /* fixed seed: the run is reproducible */

/* xorshift64* */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int below(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static char rnd_digit(void)
{
    return (char)('0' + below(10));
}

static int gen_failures;  /* random operands that did not parse (a bug in either side) */
static int prop_failures; /* algebraic properties checked in C that did not hold */

/* A random valid rb_dec: 1..38 digits (often near the limits, often with trailing zeros),
 * any scale, either sign, written in plain or exponent form and parsed. */
static rb_dec rnd_dec(void)
{
    char dig[40], text[64], *t = text;
    int kind = below(16), n, scale, r = below(4);
    rb_dec d = rb_dec_zero();

    n = kind == 0 ? 1 : kind <= 4 ? 1 + below(4) : kind <= 13 ? 1 + below(38) : 38 - below(2);
    for (int i = 0; i < n; i++)
        dig[i] = i == 0 ? (char)('1' + below(9)) : rnd_digit();
    if (kind == 0)
        dig[0] = '0';
    if (below(8) == 0)
        memset(dig, '9', (size_t)n);
    if (below(4) == 0 && n > 1)
        dig[n - 1] = '5'; /* ties, when a rounding cuts just before it */
    if (below(4) == 0) {
        int z = below(n);
        memset(dig + n - z, '0', (size_t)z);
    }
    dig[n] = '\0';
    scale = r == 0 ? below(39) : r == 1 ? 0 : r == 2 ? below(n + 1) : n + below(3);
    if (scale > 38)
        scale = 38;
    if (below(3) == 0)
        *t++ = '-';
    if (below(2) == 0 || scale == 0) { /* "DIGITSe-SCALE" */
        snprintf(t, sizeof(text) - 1, "%se-%d", dig, scale);
    } else if (n > scale) { /* "INT.FRAC" */
        snprintf(t, sizeof(text) - 1, "%.*s.%s", n - scale, dig, dig + n - scale);
    } else { /* "0.000FRAC" */
        *t++ = '0';
        *t++ = '.';
        for (int i = n; i < scale; i++)
            *t++ = '0';
        memcpy(t, dig, (size_t)n + 1);
    }
    if (rb_dec_parse(&d, text, strlen(text), NULL) != RB_OK) {
        gen_failures++;
        fprintf(stderr, "FAIL generated operand \"%s\" does not parse\n", text);
    }
    return d;
}

/* A run of 0..max digits; "zero-heavy" runs are mostly zeros, to reach the trailing-zero
 * rules of parsing. */
static char *rnd_digits(char *t, int max)
{
    int n = below(max + 1), zeros = below(3) == 0;
    for (int i = 0; i < n; i++)
        *t++ = zeros && below(8) != 0 ? '0' : rnd_digit();
    return t;
}

/* Random text, valid or not: sign, digits, point, digits, exponent, sometimes a stray
 * character. Never contains ']' (the line format brackets it). */
static void rnd_text(char *text)
{
    static const char junk[] = " x,.+-eE_0";
    char *t = text;
    int r = below(4);

    if (r < 2)
        *t++ = r == 0 ? '-' : '+';
    if (below(4) == 0) { /* leading zeros */
        memset(t, '0', 3);
        t += 3;
    }
    t = rnd_digits(t, below(3) == 0 ? 3 : 45);
    if (below(2) == 0)
        *t++ = '.';
    t = rnd_digits(t, below(3) == 0 ? 3 : 45);
    if (below(3) == 0) {
        *t++ = below(2) ? 'e' : 'E';
        r = below(3);
        if (r < 2)
            *t++ = r == 0 ? '-' : '+';
        t = rnd_digits(t, 3);
    }
    *t = '\0';
    if (below(20) == 0 && t > text)
        text[below((int)(t - text))] = junk[below((int)sizeof(junk) - 1)];
}

static int64_t rnd_int64(void)
{
    switch (below(6)) {
    case 0:
        return INT64_MAX;
    case 1:
        return INT64_MIN;
    case 2:
        return (int64_t)rnd();
    default:
        return below(2001) - 1000;
    }
}

/* The text of a result for the reference file. */
static const char *result(rb_status rc, rb_dec r)
{
    static char buf[32];
    switch (rc) {
    case RB_OK:
        return F(r);
    case RB_OVERFLOW:
        return "OVERFLOW";
    case RB_INVALID:
        return "INVALID";
    case RB_SYNTAX:
        return "SYNTAX";
    default:
        snprintf(buf, sizeof(buf), "ERROR%d", rc);
        return buf;
    }
}

/* Properties checked in C on the same operands: commutativity, sub as negated sub,
 * cmp antisymmetry, and parse(format(x)) giving back exactly x. */
static void check_properties(rb_dec a, rb_dec b)
{
    rb_dec x = rb_dec_zero(), y = rb_dec_zero();
    char buf[RB_DEC_BUFSZ];
    rb_status rx, ry;

    rx = rb_dec_add(&x, &a, &b);
    ry = rb_dec_add(&y, &b, &a);
    prop_failures += rx != ry || (rx == RB_OK && !same(x, y));
    rx = rb_dec_mul(&x, &a, &b);
    ry = rb_dec_mul(&y, &b, &a);
    prop_failures += rx != ry || (rx == RB_OK && !same(x, y));
    rx = rb_dec_sub(&x, &a, &b);
    ry = rb_dec_sub(&y, &b, &a);
    y = rb_dec_neg(&y);
    prop_failures += rx != ry || (rx == RB_OK && !same(x, y));
    prop_failures += rb_dec_cmp(&a, &b) != -rb_dec_cmp(&b, &a);
    rb_dec_format(&a, buf, sizeof(buf));
    prop_failures += rb_dec_parse(&x, buf, strlen(buf), NULL) != RB_OK || !same(x, a);
}

/* Write one random case (with the result the C code gives) to f. */
static void write_case(FILE *f)
{
    rb_dec a = rnd_dec(), b = rnd_dec(), r = rb_dec_zero();
    int op = below(24), scale = below(40), mode = below(6);
    char text[128];
    int64_t n;

    check_properties(a, b);
    if (op < 3) {
        fprintf(f, "add %s %s -> %s\n", F(a), F(b), result(rb_dec_add(&r, &a, &b), r));
    } else if (op < 5) {
        fprintf(f, "sub %s %s -> %s\n", F(a), F(b), result(rb_dec_sub(&r, &a, &b), r));
    } else if (op < 8) {
        fprintf(f, "mul %s %s -> %s\n", F(a), F(b), result(rb_dec_mul(&r, &a, &b), r));
    } else if (op < 9) {
        n = rnd_int64();
        fprintf(f, "muli %s %" PRId64 " -> %s\n", F(a), n, result(rb_dec_mul_int(&r, &a, n), r));
    } else if (op < 13) {
        if (below(4) == 0) { /* divisors that make exact halves (ties) at a.scale + 0..2 */
            static const char *const halvers[] = {"2", "-2", "4", "8", "0.8", "16", "-0.04"};
            const char *h = halvers[below(7)];
            gen_failures += rb_dec_parse(&b, h, strlen(h), NULL) != RB_OK;
            scale = a.scale + below(3);
            if (scale > 38)
                scale = 38;
        }
        fprintf(f, "div %s %s %d %s -> %s\n", F(a), F(b), scale, mode_names[mode],
                result(rb_dec_div(&r, &a, &b, scale, (rb_rounding)mode), r));
    } else if (op < 16) {
        if (below(2) == 0 && a.scale > 0) /* cut at the last digit or just before */
            scale = a.scale - 1 - below(a.scale < 2 ? 1 : 2);
        fprintf(f, "round %s %d %s -> %s\n", F(a), scale, mode_names[mode],
                result(rb_dec_round(&r, &a, scale, (rb_rounding)mode), r));
    } else if (op < 18) {
        fprintf(f, "cmp %s %s -> %d\n", F(a), F(b), rb_dec_cmp(&a, &b));
    } else if (op < 19) {
        fprintf(f, "norm %s -> %s\n", F(a), F(rb_dec_normalize(&a)));
    } else {
        rnd_text(text);
        fprintf(f, "parse [%s] -> %s\n", text,
                result(rb_dec_parse(&r, text, strlen(text), NULL), r));
    }
}

static void test_against_python(void)
{
    char path[] = "/tmp/rebill-test-dec-XXXXXX", cmd[1024], line[512];
    const char *root = getenv("REBILL_ROOT"), *python = getenv("PYTHON");
    int fd = mkstemp(path), checked = -1, mismatches = -1, status;
    FILE *f, *p;

    OK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    f = fdopen(fd, "w");
    OK(f != NULL, "fdopen");
    if (f == NULL) {
        close(fd);
        goto out_unlink;
    }
    for (int i = 0; i < RANDOM_CASES; i++)
        write_case(f);
    fclose(f);
    INT_EQ(gen_failures, 0);
    INT_EQ(prop_failures, 0);

    snprintf(cmd, sizeof(cmd), "'%s' '%s%stests/unit/dec_ref.py' '%s' 2>&1",
             python ? python : "python3", root ? root : "", root ? "/" : "", path);
    p = popen(cmd, "r");
    OK(p != NULL, "popen %s", cmd);
    if (p == NULL)
        goto out_unlink;
    while (fgets(line, sizeof(line), p)) {
        fputs(line, stdout); /* mismatches, then the count */
        sscanf(line, "checked %d lines, %d mismatches", &checked, &mismatches);
    }
    status = pclose(p);
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d", cmd, status);
    INT_EQ(checked, RANDOM_CASES);
    INT_EQ(mismatches, 0);
out_unlink:
    unlink(path);
}

int main(void)
{
    test_parse_ok();
    test_parse_errors();
    test_format();
    test_exact();
    test_overflow();
    test_round_table();
    test_currency();
    test_div();
    test_cmp();
    test_small();
    test_against_python();
    return harness_done();
}
