/*
 * status.c -- status codes as text, and the rb_error helpers.
 */
#include "rb_int.h"

#include <stdio.h>
#include <string.h>

static const char *const status_text[] = {
    [RB_OK] = "ok",
    [RB_ERROR] = "error",
    [RB_NOMEM] = "out of memory",
    [RB_NOTFOUND] = "not found",
    [RB_EXISTS] = "already exists",
    [RB_INVALID] = "invalid",
    [RB_MISUSE] = "library misuse",
    [RB_FULL] = "database map full",
    [RB_BUSY] = "busy",
    [RB_READONLY] = "read-only",
    [RB_CORRUPT] = "database corrupt",
    [RB_IO] = "I/O error",
    [RB_TOOBIG] = "too big",
    [RB_SYNTAX] = "syntax error",
    [RB_RUNTIME] = "runtime error",
    [RB_LIMIT_MEM] = "memory limit exceeded",
    [RB_LIMIT_STEPS] = "instruction limit exceeded",
    [RB_TIMEOUT] = "time limit exceeded",
    [RB_BLOCKED] = "blocked function",
    [RB_OVERFLOW] = "decimal overflow",
    [RB_VERSION] = "database schema too new",
};

const char *rb_strerror(rb_status rc)
{
    if (rc < 0 || (size_t)rc >= RB_COUNTOF(status_text) || !status_text[rc])
        return "unknown status";
    return status_text[rc];
}

rb_status rbi_error_set(rb_error *err, rb_status code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

bool rbi_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);

    if (n >= cap) {
        if (cap) {
            memcpy(dst, src, cap - 1);
            dst[cap - 1] = '\0';
        }
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}
