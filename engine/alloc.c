/*
 * alloc.c -- the allocation seam: the one file where malloc and free appear.
 *
 * Provides rbi_malloc & co. and a failure switch for torture tests (fail the Nth
 * allocation from now on). Uses the C library. Must never abort on out-of-memory: callers
 * get NULL and return RB_NOMEM.
 */
#include "rb_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Atomic: the importer's worker threads allocate too. Relaxed order: the counts need no
 * ordering with other memory, only no lost updates. */
static atomic_long fail_after = -1; /* allocations left before failing; < 0: never fail */
static atomic_long alloc_count;     /* allocations made (for torture sweeps) */

static bool should_fail(void)
{
    long f = atomic_load_explicit(&fail_after, memory_order_relaxed);

    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    while (f > 0 && !atomic_compare_exchange_weak_explicit(&fail_after, &f, f - 1,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed))
        ;
    return f == 0;
}

void rbi_alloc_fail_after(long n)
{
    atomic_store_explicit(&fail_after, n, memory_order_relaxed);
}

long rbi_alloc_count(void)
{
    return atomic_load_explicit(&alloc_count, memory_order_relaxed);
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
