/*
 * time.c -- UTC times and calendar months, without the C library's time zone machinery.
 *
 * Provides parsing and formatting of times (Unix seconds, UTC) and months (year*12 +
 * month-1). Uses the civil-from-days algorithm (H. Hinnant). Must never read the clock:
 * "now" is always passed in.
 */
#include "rb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_YEAR 1970
#define MAX_YEAR 9999

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Read exactly n digits. */
static bool digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

rb_status rb_time_parse(int64_t *out, const char *s, rb_error *err)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;

    if (p[0] == '@') {
        char *end;
        long long v = strtoll(p + 1, &end, 10);
        if (p[1] == '\0' || *end != '\0' || v < 0)
            goto bad;
        *out = v;
        return RB_OK;
    }
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        goto bad;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            goto bad;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                goto bad;
            if (*p == '.') { /* fractions of a second are dropped */
                p++;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
        }
        if (*p == 'Z')
            p++;
        else if (strcmp(p, "+00:00") == 0 || strcmp(p, "+0000") == 0)
            p += strlen(p);
    }
    if (*p != '\0')
        goto bad;
    if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        goto bad;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return RB_OK;
bad:
    return rbi_error_set(err, RB_SYNTAX,
                         "not a UTC time (want YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ): \"%.64s\"", s);
}

void rb_time_format(int64_t t, char *buf, size_t size)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t rem = t - days * 86400;
    int y, m, d;

    civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

rb_status rb_month_parse(int *out, const char *s, rb_error *err)
{
    const char *p = s;
    int y, m;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &m) || *p != '\0' ||
        y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12)
        return rbi_error_set(err, RB_SYNTAX, "not a month (want YYYY-MM): \"%.64s\"", s);
    *out = y * 12 + (m - 1);
    return RB_OK;
}

void rb_month_format(int month, char *buf, size_t size)
{
    if (month == RB_MONTH_OPEN)
        snprintf(buf, size, "open");
    else
        snprintf(buf, size, "%04d-%02d", month / 12, month % 12 + 1);
}

int rb_month_of(int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int y, m, d;

    civil_from_days(days, &y, &m, &d);
    return y * 12 + (m - 1);
}

int64_t rb_month_start(int month)
{
    return days_from_civil(month / 12, month % 12 + 1, 1) * 86400;
}
