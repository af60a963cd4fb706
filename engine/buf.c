/*
 * buf.c -- growable byte buffer, always NUL-terminated once allocated.
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
