/*
 * record.c -- the byte layout of stored values, and big-endian key helpers.
 *
 * A record is one version byte, then fields in a fixed order per record kind:
 * integers as 8 bytes big-endian, strings and byte strings as a 4-byte big-endian length
 * and the bytes, decimals as 16 bytes of big-endian two's complement coefficient and a
 * scale byte. Readers check every length against the end and set 'bad' instead of reading
 * past it, so a damaged record is reported, never misread.
 */
#include "rb_int.h"

#include <string.h>

void rbi_be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t rbi_be64_get(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void rbi_be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t rbi_be32_get(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

rb_status rbi_rec_begin(struct rb_buf *b, int version)
{
    unsigned char v = (unsigned char)version;

    rbi_buf_reset(b);
    return rbi_buf_append(b, &v, 1);
}

rb_status rbi_rec_put_i64(struct rb_buf *b, int64_t v)
{
    unsigned char p[8];

    rbi_be64_put(p, (uint64_t)v);
    return rbi_buf_append(b, p, 8);
}

rb_status rbi_rec_put_bytes(struct rb_buf *b, const void *p, size_t n)
{
    unsigned char len[4];

    if (n > UINT32_MAX)
        return RB_TOOBIG;
    rbi_be32_put(len, (uint32_t)n);
    if (rbi_buf_append(b, len, 4) != RB_OK)
        return RB_NOMEM;
    return rbi_buf_append(b, p, n);
}

rb_status rbi_rec_put_str(struct rb_buf *b, const char *s)
{
    return rbi_rec_put_bytes(b, s, strlen(s));
}

rb_status rbi_rec_put_dec(struct rb_buf *b, const rb_dec *d)
{
    unsigned char p[17];

    rbi_be64_put(p, (uint64_t)d->hi);
    rbi_be64_put(p + 8, d->lo);
    p[16] = (unsigned char)d->scale;
    return rbi_buf_append(b, p, sizeof(p));
}

void rbi_rec_read(struct rbi_rec_reader *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
    r->bad = len < 1;
    r->version = r->bad ? -1 : *r->p++;
}

static bool need(struct rbi_rec_reader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

int64_t rbi_rec_get_i64(struct rbi_rec_reader *r)
{
    int64_t v;

    if (!need(r, 8))
        return 0;
    v = (int64_t)rbi_be64_get(r->p);
    r->p += 8;
    return v;
}

size_t rbi_rec_get_bytes(struct rbi_rec_reader *r, const void **p)
{
    uint32_t n;

    *p = "";
    if (!need(r, 4))
        return 0;
    n = rbi_be32_get(r->p);
    r->p += 4;
    if (!need(r, n))
        return 0;
    *p = r->p;
    r->p += n;
    return n;
}

void rbi_rec_get_str(struct rbi_rec_reader *r, char *dst, size_t cap)
{
    const void *p;
    size_t n = rbi_rec_get_bytes(r, &p);

    if (n >= cap || memchr(p, '\0', n)) {
        r->bad = true;
        n = 0;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

rb_dec rbi_rec_get_dec(struct rbi_rec_reader *r)
{
    rb_dec d = {0, 0, 0, 0};

    if (!need(r, 17))
        return d;
    d.hi = (int64_t)rbi_be64_get(r->p);
    d.lo = rbi_be64_get(r->p + 8);
    d.scale = r->p[16];
    r->p += 17;
    if (d.scale > RB_DEC_MAX_SCALE)
        r->bad = true;
    return d;
}
