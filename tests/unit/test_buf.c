/*
 * test_buf.c -- the pool of buf.c (plans, priced results and string tables cut their strings
 * and arrays from it): alignment, a piece bigger than a block, strings copied with their NUL,
 * blocks that grow, release, and an allocation that fails.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdint.h>

static void test_pool_alloc(void)
{
    struct rbi_pool p = {NULL};
    long before = rbi_alloc_count();
    char *s, *t;
    void *a, *big;

    /* a string of 3 bytes, then an array: the array is aligned to 8 */
    s = rbi_pool_strndup(&p, "abcdef", 3);
    STR_EQ(s, "abc");
    a = rbi_pool_alloc(&p, 24);
    OK(a != NULL && ((uintptr_t)a & 7) == 0, "pool_alloc aligned to 8: %p", a);
    OK((char *)a >= s + 4, "the array does not overlap the string");
    INT_EQ(rbi_alloc_count() - before, 1); /* one block so far */
    /* a piece larger than any block gets a block of its own, the string is still intact */
    big = rbi_pool_alloc(&p, 200000);
    OK(big != NULL, "a 200000-byte piece");
    if (big)
        memset(big, 0x5a, 200000);
    STR_EQ(s, "abc");
    /* many small strings: blocks grow, so few allocations for 100000 bytes */
    before = rbi_alloc_count();
    for (int i = 0; i < 10000; i++) {
        t = rbi_pool_strndup(&p, "0123456789", 9);
        if (!t || strcmp(t, "012345678") != 0) {
            OK(0, "string %d", i);
            break;
        }
    }
    OK(rbi_alloc_count() - before <= 4, "10000 strings of 10 bytes took %ld blocks",
       rbi_alloc_count() - before);
    /* an empty string */
    t = rbi_pool_strndup(&p, "", 0);
    STR_EQ(t, "");
    rbi_pool_release(&p);
    OK(p.head == NULL, "released pool is empty");
    rbi_pool_release(&p); /* twice: harmless */
}

static void test_pool_nomem(void)
{
    struct rbi_pool p = {NULL};
    char *s;

    rbi_alloc_fail_after(0);
    OK(rbi_pool_strndup(&p, "x", 1) == NULL, "no block: NULL");
    rbi_alloc_fail_after(-1);
    OK(p.head == NULL, "a failure leaves the pool empty");
    s = rbi_pool_strndup(&p, "ok", 2);
    STR_EQ(s, "ok");
    /* a failure for a new block keeps what the pool holds */
    rbi_alloc_fail_after(0);
    OK(rbi_pool_alloc(&p, 100000) == NULL, "no second block: NULL");
    rbi_alloc_fail_after(-1);
    STR_EQ(s, "ok");
    rbi_pool_release(&p);
}

int main(void)
{
    test_pool_alloc();
    test_pool_nomem();
    return harness_done();
}
