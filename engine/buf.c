/*
 * buf.c -- growable byte buffer, always NUL-terminated once allocated; and the pool, memory
 * cut from blocks and freed at once.
 *
 * Uses the allocation seam. Must never abort: growth failure is RB_NOMEM and leaves the
 * buffer as it was.
 */
#include "rb_int.h"

#include <stdio.h>
#include <string.h>

rb_status rbi_buf_reserve(struct rb_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return RB_NOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return RB_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = rbi_realloc(b->data, cap);
    if (!p)
        return RB_NOMEM;
    b->data = p;
    b->cap = cap;
    return RB_OK;
}

rb_status rbi_buf_append(struct rb_buf *b, const void *p, size_t n)
{
    if (rbi_buf_reserve(b, n) != RB_OK)
        return RB_NOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RB_OK;
}

rb_status rbi_buf_puts(struct rb_buf *b, const char *s)
{
    return rbi_buf_append(b, s, strlen(s));
}

rb_status rbi_buf_printf(struct rb_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RB_ERROR;
    if (rbi_buf_reserve(b, (size_t)n) != RB_OK)
        return RB_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RB_OK;
}

void rbi_buf_reset(struct rb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void rbi_buf_release(struct rb_buf *b)
{
    rbi_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* {===================================================================================
 * The pool
 * =================================================================================== */

struct rbi_pool_block {
    struct rbi_pool_block *next;
    size_t used, cap;
    _Alignas(8) char data[];
};

#define POOL_FIRST 4096
#define POOL_MAX 65536

/* n bytes from the pool, at an offset rounded up to `align` (a power of two). */
static void *pool_take(struct rbi_pool *p, size_t n, size_t align)
{
    struct rbi_pool_block *b = p->head;
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

    if (!b || at > b->cap || b->cap - at < n) {
        size_t cap = b ? (b->cap < POOL_MAX ? b->cap * 2 : POOL_MAX) : POOL_FIRST;
        if (cap < n)
            cap = n;
        if (cap > SIZE_MAX - sizeof(*b))
            return NULL;
        b = rbi_malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = p->head;
        b->used = 0;
        b->cap = cap;
        p->head = b;
        at = 0;
    }
    b->used = at + n;
    return b->data + at;
}

void *rbi_pool_alloc(struct rbi_pool *p, size_t n)
{
    return pool_take(p, n, 8);
}

char *rbi_pool_strndup(struct rbi_pool *p, const char *s, size_t n)
{
    char *d = n < SIZE_MAX ? pool_take(p, n + 1, 1) : NULL;

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void rbi_pool_release(struct rbi_pool *p)
{
    struct rbi_pool_block *b = p->head, *next;

    for (; b; b = next) {
        next = b->next;
        rbi_free(b);
    }
    p->head = NULL;
}
