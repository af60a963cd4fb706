/*
 * test_time.c -- UTC times and months: parsing, formatting, calendar edges; and the record
 * codec's refusal to read past a damaged record.
 */
#include "harness.h"
#include "rb_int.h"

static void test_time_parse(void)
{
    int64_t t;
    char buf[32];
    rb_error err;

    INT_EQ(rb_time_parse(&t, "1970-01-01", &err), RB_OK);
    INT_EQ(t, 0);
    INT_EQ(rb_time_parse(&t, "2026-11-26T12:00:00Z", &err), RB_OK);
    INT_EQ(t, 1795694400);
    INT_EQ(rb_time_parse(&t, "2026-11-26 12:00:00", &err), RB_OK);
    INT_EQ(t, 1795694400);
    INT_EQ(rb_time_parse(&t, "2026-11-26T12:00Z", &err), RB_OK);
    INT_EQ(t, 1795694400);
    INT_EQ(rb_time_parse(&t, "2026-11-26T12:00:00.123Z", &err), RB_OK);
    INT_EQ(t, 1795694400);
    INT_EQ(rb_time_parse(&t, "2026-11-26T12:00:00+00:00", &err), RB_OK);
    INT_EQ(t, 1795694400);
    INT_EQ(rb_time_parse(&t, "@86400", &err), RB_OK);
    INT_EQ(t, 86400);
    INT_EQ(rb_time_parse(&t, "2024-02-29", &err), RB_OK); /* leap day */
    rb_time_format(t, buf, sizeof(buf));
    STR_EQ(buf, "2024-02-29T00:00:00Z");
    rb_time_format(1795694400 + 3599, buf, sizeof(buf));
    STR_EQ(buf, "2026-11-26T12:59:59Z");

    static const char *bad[] = {"",           "2026",       "2026-13-01",
                                "2023-02-29", "2026-11-31", "2026-11-26T24:00:00Z",
                                "2026-11-26T12:00:00+01:00", "26-11-2026", "@", "@-5",
                                "2026-11-26Z", "1969-12-31", "2026-11-26T12:60Z"};
    for (size_t i = 0; i < RB_COUNTOF(bad); i++) {
        INT_EQ(rb_time_parse(&t, bad[i], &err), RB_SYNTAX);
        STR_HAS(err.msg, bad[i]);
    }
}

static void test_months(void)
{
    int m;
    char buf[16];
    rb_error err;
    int64_t t;

    INT_EQ(rb_month_parse(&m, "2026-11", &err), RB_OK);
    INT_EQ(m, 2026 * 12 + 10);
    rb_month_format(m + 2, buf, sizeof(buf));
    STR_EQ(buf, "2027-01");
    rb_month_format(RB_MONTH_OPEN, buf, sizeof(buf));
    STR_EQ(buf, "open");
    INT_EQ(rb_month_start(m), 1793491200); /* 2026-11-01T00:00:00Z */
    INT_EQ(rb_month_of(1793491200), m);
    INT_EQ(rb_month_of(1793491200 - 1), m - 1); /* 2026-10-31T23:59:59Z */
    rb_time_parse(&t, "2024-02-29T23:59:59Z", &err);
    INT_EQ(rb_month_of(t), 2024 * 12 + 1);
    INT_EQ(rb_month_start(2024 * 12 + 2) - rb_month_start(2024 * 12 + 1), 29 * 86400);
    static const char *bad[] = {"2026-13", "2026-00", "2026-1", "202611", "2026-11-01", "x"};
    for (size_t i = 0; i < RB_COUNTOF(bad); i++) {
        INT_EQ(rb_month_parse(&m, bad[i], &err), RB_SYNTAX);
        STR_HAS(err.msg, bad[i]);
    }
}

static void test_record_codec(void)
{
    struct rb_buf b = {NULL, 0, 0};
    struct rbi_rec_reader r;
    char s[8];

    INT_EQ(rbi_rec_begin(&b, 1), RB_OK);
    rbi_rec_put_str(&b, "hello");
    rbi_rec_put_i64(&b, -42);
    rbi_rec_read(&r, b.data, b.len);
    INT_EQ(r.version, 1);
    rbi_rec_get_str(&r, s, sizeof(s));
    STR_EQ(s, "hello");
    INT_EQ(rbi_rec_get_i64(&r), -42);
    OK(!r.bad, "a whole record reads cleanly");
    /* every truncation is detected, none reads past the end */
    for (size_t cut = 0; cut < b.len; cut++) {
        rbi_rec_read(&r, b.data, cut);
        rbi_rec_get_str(&r, s, sizeof(s));
        rbi_rec_get_i64(&r);
        OK(r.bad, "a record cut at %zu bytes must read as bad", cut);
    }
    /* a string that does not fit the destination */
    rbi_rec_read(&r, b.data, b.len);
    rbi_rec_get_str(&r, s, 4);
    OK(r.bad, "an over-long string must read as bad");
    rbi_buf_release(&b);
}

int main(void)
{
    test_time_parse();
    test_months();
    test_record_codec();
    return harness_done();
}
