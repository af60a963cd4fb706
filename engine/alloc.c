/*
 * alloc.c -- the allocation seam: the one file where malloc and free appear.
 *
 * Provides rbi_malloc & co. and a failure switch for torture tests (fail the Nth
 * allocation from now on). Uses the C library. Must never abort on out-of-memory: callers
 * get NULL and return RB_NOMEM.
 */
#include "rb_int.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1; /* allocations left before failing; < 0: never fail */
static long alloc_count;     /* allocations made (for torture sweeps) */

static bool should_fail(void)
{
    alloc_count++;
    if (fail_after < 0)
        return false;
    if (fail_after == 0)
        return true;
    fail_after--;
    return false;
}

void rbi_alloc_fail_after(long n)
{
    fail_after = n;
}

long rbi_alloc_count(void)
{
    return alloc_count;
}

void *rbi_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *rbi_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *rbi_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void rbi_free(void *p)
{
    free(p);
}

char *rbi_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = rbi_malloc(n);

    if (p)
        memcpy(p, s, n);
    return p;
}
