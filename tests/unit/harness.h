/*
 * harness.h -- the unit tests' tiny assertion helper [cmark api_test].
 *
 * Each test binary calls its test functions from main() and ends with `return harness_done();`,
 * which prints "N passed, N failed" and returns non-zero if anything failed.
 * Checks report file:line and the values compared, and go on (they do not abort the test).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int harness_passed;
static int harness_failed;

#define OK(cond, ...)                                                                        \
    do {                                                                                     \
        if (cond) {                                                                          \
            harness_passed++;                                                                \
        } else {                                                                             \
            harness_failed++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

#define INT_EQ(got, want)                                                                    \
    do {                                                                                     \
        long long g_ = (long long)(got), w_ = (long long)(want);                             \
        OK(g_ == w_, "got %lld, want %lld", g_, w_);                                         \
    } while (0)

#define STR_EQ(got, want)                                                                    \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        OK(g_ && w_ && strcmp(g_, w_) == 0, "got \"%s\", want \"%s\"", g_ ? g_ : "(null)",  \
           w_ ? w_ : "(null)");                                                              \
    } while (0)

/* Substring check, for error messages. */
#define STR_HAS(got, part)                                                                   \
    do {                                                                                     \
        const char *g_ = (got), *p_ = (part);                                                \
        OK(g_ && strstr(g_, p_) != NULL, "\"%s\" does not contain \"%s\"", g_ ? g_ : "(null)", \
           p_);                                                                              \
    } while (0)

static inline int harness_done(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}

#endif
