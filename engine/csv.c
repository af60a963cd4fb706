/*
 * csv.c -- reading RFC 4180 CSV fast: plain or gzip files, streamed, on several threads.
 *
 * Provides: the XXH64 content hash, the byte source (plain or gzip, hashed as stored), the
 * single-record parser used for headers and by the streaming reader, the chunk scanner
 * that finds fields 64 bytes at a time (quote state by prefix XOR, as in simdjson), and
 * the driver that cuts a file into chunks of whole records and scans them on worker
 * threads (see usage.h).
 * Uses: zlib, POSIX threads, SSE2 when the compiler targets it (a portable loop otherwise),
 * the allocation seam through a lock.
 * Must never: hold more than the chunk buffers and the longest record in memory, read past
 * a buffer, or let a chunk boundary fall inside a record (quote parity decides, as it does
 * for the scanner, so both always agree on where records end).
 */
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* {===================================================================================
 * Locked allocation
 * =================================================================================== */

static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;

void *rbi_lmalloc(size_t n)
{
    void *p;

    pthread_mutex_lock(&alloc_lock);
    p = rbi_malloc(n);
    pthread_mutex_unlock(&alloc_lock);
    return p;
}

void *rbi_lrealloc(void *p, size_t n)
{
    void *q;

    pthread_mutex_lock(&alloc_lock);
    q = rbi_realloc(p, n);
    pthread_mutex_unlock(&alloc_lock);
    return q;
}

void rbi_lfree(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&alloc_lock);
    rbi_free(p);
    pthread_mutex_unlock(&alloc_lock);
}

/* {===================================================================================
 * XXH64
 * =================================================================================== */

#define P64_1 11400714785074694791ULL
#define P64_2 14029467366897019727ULL
#define P64_3 1609587929392839161ULL
#define P64_4 9650029242287828579ULL
#define P64_5 2870177450012600261ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t in)
{
    acc += in * P64_2;
    acc = rotl64(acc, 31);
    return acc * P64_1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    acc ^= xxh_round(0, v);
    return acc * P64_1 + P64_4;
}

void rbi_hash64_init(struct rbi_hash64 *h)
{
    memset(h, 0, sizeof(*h));
    h->v[0] = P64_1 + P64_2;
    h->v[1] = P64_2;
    h->v[2] = 0;
    h->v[3] = 0 - P64_1;
}

static void xxh_stripes(uint64_t v[4], const unsigned char *p, size_t n)
{
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3];

    for (size_t i = 0; i + 32 <= n; i += 32) {
        a = xxh_round(a, rd64(p + i));
        b = xxh_round(b, rd64(p + i + 8));
        c = xxh_round(c, rd64(p + i + 16));
        d = xxh_round(d, rd64(p + i + 24));
    }
    v[0] = a;
    v[1] = b;
    v[2] = c;
    v[3] = d;
}

void rbi_hash64_update(struct rbi_hash64 *h, const void *data, size_t n)
{
    const unsigned char *p = data;

    h->total += n;
    if (h->memlen + n < 32) {
        memcpy(h->mem + h->memlen, p, n);
        h->memlen += (unsigned)n;
        return;
    }
    if (h->memlen) {
        size_t take = 32 - h->memlen;
        memcpy(h->mem + h->memlen, p, take);
        xxh_stripes(h->v, h->mem, 32);
        p += take;
        n -= take;
        h->memlen = 0;
    }
    if (n >= 32) {
        size_t whole = n & ~(size_t)31;
        xxh_stripes(h->v, p, whole);
        p += whole;
        n -= whole;
    }
    memcpy(h->mem, p, n);
    h->memlen = (unsigned)n;
}

uint64_t rbi_hash64_final(const struct rbi_hash64 *h)
{
    const unsigned char *p = h->mem, *end = h->mem + h->memlen;
    uint64_t r;

    if (h->total >= 32) {
        r = rotl64(h->v[0], 1) + rotl64(h->v[1], 7) + rotl64(h->v[2], 12) + rotl64(h->v[3], 18);
        for (int i = 0; i < 4; i++)
            r = xxh_merge(r, h->v[i]);
    } else {
        r = h->v[2] + P64_5;
    }
    r += h->total;
    for (; p + 8 <= end; p += 8) {
        r ^= xxh_round(0, rd64(p));
        r = rotl64(r, 27) * P64_1 + P64_4;
    }
    if (p + 4 <= end) {
        r ^= (uint64_t)rd32(p) * P64_1;
        r = rotl64(r, 23) * P64_2 + P64_3;
        p += 4;
    }
    for (; p < end; p++) {
        r ^= *p * P64_5;
        r = rotl64(r, 11) * P64_1;
    }
    r ^= r >> 33;
    r *= P64_2;
    r ^= r >> 29;
    r *= P64_3;
    r ^= r >> 32;
    return r;
}

uint64_t rbi_hash64(const void *p, size_t n)
{
    struct rbi_hash64 h;

    rbi_hash64_init(&h);
    rbi_hash64_update(&h, p, n);
    return rbi_hash64_final(&h);
}

/* {===================================================================================
 * Byte source
 * =================================================================================== */

#define SRC_INBUF ((size_t)256 << 10)

struct rbi_src {
    int fd;
    const unsigned char *map; /* a plain regular file, mapped (NULL: read() it) */
    size_t map_pos;           /* bytes of the mapping read or consumed so far */
    bool gz;                  /* gzip-compressed */
    bool zinit;               /* z is initialised */
    bool zend;                /* the current gzip member has ended */
    bool in_eof;              /* read() returned 0 */
    z_stream z;
    unsigned char *in; /* stored bytes read ahead */
    size_t in_len, in_pos;
    uint64_t bytes_in; /* stored bytes read so far */
    uint64_t size;
    struct rbi_hash64 h;
    char path[1024];
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return rbi_lmalloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    rbi_lfree(p);
}

/* read() into p, retrying on EINTR; counts and hashes the bytes. */
static rb_status src_raw_read(struct rbi_src *s, void *p, size_t cap, size_t *got, rb_error *err)
{
    ssize_t n;

    do {
        n = read(s->fd, p, cap);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return rbi_error_set(err, RB_IO, "%s: cannot read: %s", s->path, strerror(errno));
    if (n == 0)
        s->in_eof = true;
    rbi_hash64_update(&s->h, p, (size_t)n);
    s->bytes_in += (uint64_t)n;
    *got = (size_t)n;
    return RB_OK;
}

static rb_status src_refill(struct rbi_src *s, rb_error *err)
{
    size_t got;
    rb_status rc;

    s->in_pos = s->in_len = 0;
    if (s->in_eof)
        return RB_OK;
    rc = src_raw_read(s, s->in, SRC_INBUF, &got, err);
    s->in_len = got;
    return rc;
}

rb_status rbi_src_open(struct rbi_src **out, const char *path, rb_error *err)
{
    struct rbi_src *s;
    struct stat st;
    rb_status rc;

    *out = NULL;
    s = rbi_lmalloc(sizeof(*s));
    if (!s)
        return rbi_error_set(err, RB_NOMEM, "%s: out of memory", path);
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path);
    rbi_hash64_init(&s->h);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rc = rbi_error_set(err, errno == ENOENT ? RB_NOTFOUND : RB_IO, "%s: cannot open: %s", path,
                           strerror(errno));
        rbi_lfree(s);
        return rc;
    }
    if (fstat(s->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        rc = rbi_error_set(err, RB_IO, "%s: cannot read: %s", path,
                           S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        goto out_close;
    }
    s->size = (uint64_t)st.st_size;
    if (S_ISREG(st.st_mode) && st.st_size >= 2 && (uint64_t)st.st_size <= SIZE_MAX / 2) {
        /* Map it: the chunks are then views, with no copy. Pages are dropped from the
         * mapping once scanned (rbi_src_drop), so memory stays bounded. A file truncated
         * by someone else while it is read would fault: such a file is no delivery. */
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0);
        if (m != MAP_FAILED) {
            const unsigned char *b = m;
            if (b[0] == 0x1f && b[1] == 0x8b) {
                munmap(m, (size_t)st.st_size); /* gzip: read and inflate instead */
            } else {
                madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
                s->map = b;
                *out = s;
                return RB_OK;
            }
        }
    }
    s->in = rbi_lmalloc(SRC_INBUF);
    if (!s->in) {
        rc = rbi_error_set(err, RB_NOMEM, "%s: out of memory", path);
        goto out_close;
    }
    rc = src_refill(s, err);
    if (rc != RB_OK)
        goto out_close;
    /* A short first read of a regular file is the whole file; the magic needs 2 bytes. */
    if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        s->gz = true;
        s->z.zalloc = z_alloc;
        s->z.zfree = z_free;
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            rc = rbi_error_set(err, RB_NOMEM, "%s: cannot start gzip decoder", path);
            goto out_close;
        }
        s->zinit = true;
    }
    *out = s;
    return RB_OK;

out_close:
    rbi_src_close(s);
    return rc;
}

static rb_status src_read_gz(struct rbi_src *s, char *buf, size_t cap, size_t *got, rb_error *err)
{
    rb_status rc;
    int zrc;

    s->z.next_out = (Bytef *)buf;
    s->z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    cap = s->z.avail_out;
    while (s->z.avail_out == cap) {
        if (s->in_pos == s->in_len) {
            rc = src_refill(s, err);
            if (rc != RB_OK)
                return rc;
            if (s->in_len == 0) {
                if (s->zend)
                    break; /* the end: the last member ended with the file */
                return rbi_error_set(err, RB_SYNTAX,
                                     "%s: truncated gzip file (the data ends before the "
                                     "gzip stream does)",
                                     s->path);
            }
        }
        if (s->zend) { /* another member follows */
            inflateReset(&s->z);
            s->zend = false;
        }
        s->z.next_in = s->in + s->in_pos;
        s->z.avail_in = (uInt)(s->in_len - s->in_pos);
        zrc = inflate(&s->z, Z_NO_FLUSH);
        s->in_pos = s->in_len - s->z.avail_in;
        if (zrc == Z_STREAM_END) {
            s->zend = true;
        } else if (zrc == Z_MEM_ERROR) {
            return rbi_error_set(err, RB_NOMEM, "%s: out of memory in the gzip decoder", s->path);
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            return rbi_error_set(err, RB_SYNTAX, "%s: corrupt gzip data (%s)", s->path,
                                 s->z.msg ? s->z.msg : "bad data");
        }
    }
    *got = cap - s->z.avail_out;
    return RB_OK;
}

const char *rbi_src_map(const struct rbi_src *s, size_t *len)
{
    *len = s->map ? (size_t)s->size : 0;
    return (const char *)s->map;
}

void rbi_src_consume(struct rbi_src *s, size_t upto)
{
    if (s->map && upto > s->map_pos && upto <= s->size) {
        rbi_hash64_update(&s->h, s->map + s->map_pos, upto - s->map_pos);
        s->bytes_in += upto - s->map_pos;
        s->map_pos = upto;
    }
}

/*
 * Drop the mapped pages of the file offsets [from, to), both rounded down to a page (so
 * that ranges that follow one another leave no page out): for a read-only file mapping
 * this only unmaps them; a later read faults them in again from the page cache.
 */
void rbi_src_drop(const struct rbi_src *s, size_t from, size_t to)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)from & ~(pg - 1);
    uintptr_t b = (uintptr_t)to & ~(pg - 1);

    if (s->map && b > a && b <= (uintptr_t)s->size + pg)
        madvise((void *)((uintptr_t)s->map + a), b - a, MADV_DONTNEED);
}

rb_status rbi_src_read(struct rbi_src *s, char *buf, size_t cap, size_t *got, rb_error *err)
{
    *got = 0;
    if (cap == 0)
        return RB_OK;
    if (s->map) {
        size_t n = (size_t)s->size - s->map_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, s->map + s->map_pos, n);
        rbi_src_consume(s, s->map_pos + n);
        *got = n;
        (void)err;
        return RB_OK;
    }
    if (s->gz)
        return src_read_gz(s, buf, cap, got, err);
    if (s->in_pos < s->in_len) {
        size_t n = s->in_len - s->in_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, s->in + s->in_pos, n);
        s->in_pos += n;
        *got = n;
        return RB_OK;
    }
    if (s->in_eof)
        return RB_OK;
    return src_raw_read(s, buf, cap, got, err);
}

bool rbi_src_is_gzip(const struct rbi_src *s)
{
    return s->gz;
}

uint64_t rbi_src_bytes_in(const struct rbi_src *s)
{
    return s->bytes_in;
}

uint64_t rbi_src_size(const struct rbi_src *s)
{
    return s->size;
}

uint64_t rbi_src_hash(const struct rbi_src *s)
{
    return rbi_hash64_final(&s->h);
}

void rbi_src_close(struct rbi_src *s)
{
    if (!s)
        return;
    if (s->zinit)
        inflateEnd(&s->z);
    if (s->map)
        munmap((void *)(uintptr_t)s->map, (size_t)s->size);
    if (s->fd >= 0)
        close(s->fd);
    rbi_lfree(s->in);
    rbi_lfree(s);
}

/* {===================================================================================
 * Fields and the single-record parser
 * =================================================================================== */

/* The first '"' in p[0..n), or NULL: 8 bytes at a time, for the short fields of CSV. */
static inline const char *find_quote(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const uint64_t qq = ones * '"';
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= qq;
        if ((w - ones) & ~w & highs)
            break;
    }
    for (; i < n; i++)
        if (p[i] == '"')
            return p + i;
    return NULL;
}

bool rbi_csv_unquote(const struct rbi_csv_span *f, char *scratch, struct rbi_csv_span *out)
{
    const char *p = f->p, *q, *end;
    size_t n = f->len;
    char *w;

    if (n == 0 || p[0] != '"') {
        if (n && find_quote(p, n))
            return false;
        *out = *f;
        return true;
    }
    if (n < 2 || p[n - 1] != '"')
        return false;
    p++;
    end = f->p + n - 1; /* the closing quote */
    q = find_quote(p, (size_t)(end - p));
    if (!q) {
        out->p = p;
        out->len = (size_t)(end - p);
        return true;
    }
    w = scratch;
    while (p < end) {
        q = find_quote(p, (size_t)(end - p));
        if (!q) {
            memcpy(w, p, (size_t)(end - p));
            w += end - p;
            break;
        }
        if (q + 1 >= end || q[1] != '"')
            return false; /* a lone quote inside */
        memcpy(w, p, (size_t)(q - p) + 1);
        w += q - p + 1;
        p = q + 2;
    }
    out->p = scratch;
    out->len = (size_t)(w - scratch);
    return true;
}

static rb_status fields_push(struct rbi_csv_fields *f)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        size_t *off = rbi_realloc(f->off, cap * sizeof(*off));
        if (!off)
            return RB_NOMEM;
        f->off = off;
        f->cap = cap;
    }
    f->off[f->n++] = f->text.len;
    return RB_OK;
}

/* Finish the current value with its NUL. */
static rb_status fields_end(struct rbi_csv_fields *f)
{
    return rbi_buf_append(&f->text, "", 1);
}

rb_status rbi_csv_parse_record(const char *p, size_t n, struct rbi_csv_fields *f, size_t *used,
                               uint64_t *nl, rb_error *err)
{
    size_t i = 0;
    uint64_t lines = 0;

    f->n = 0;
    rbi_buf_reset(&f->text);
    *used = 0;
    *nl = 0;
    if (n == 0)
        return RB_NOTFOUND;
    for (;;) {
        if (fields_push(f) != RB_OK)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        if (i < n && p[i] == '"') {
            i++;
            for (;;) {
                const char *q = memchr(p + i, '"', n - i);
                size_t seg = q ? (size_t)(q - (p + i)) : n - i;
                for (size_t k = 0; k < seg; k++)
                    lines += p[i + k] == '\n';
                if (rbi_buf_append(&f->text, p + i, seg) != RB_OK)
                    return rbi_error_set(err, RB_NOMEM, "out of memory");
                if (!q)
                    return rbi_error_set(err, RB_SYNTAX, "unterminated quoted field");
                i += seg + 1;
                if (i < n && p[i] == '"') { /* a doubled quote */
                    if (rbi_buf_append(&f->text, "\"", 1) != RB_OK)
                        return rbi_error_set(err, RB_NOMEM, "out of memory");
                    i++;
                    continue;
                }
                break;
            }
            if (i < n && p[i] != ',' && p[i] != '\n' &&
                !(p[i] == '\r' && (i + 1 == n || p[i + 1] == '\n')))
                return rbi_error_set(err, RB_SYNTAX, "bad quoting: text after a closing quote");
        } else {
            size_t start = i, len;
            while (i < n && p[i] != ',' && p[i] != '\n')
                i++;
            len = i - start;
            if (len && p[start + len - 1] == '\r' && (i == n || p[i] == '\n'))
                len--;
            if (memchr(p + start, '"', len))
                return rbi_error_set(err, RB_SYNTAX,
                                     "bad quoting: a quote inside an "
                                     "unquoted field");
            if (rbi_buf_append(&f->text, p + start, len) != RB_OK)
                return rbi_error_set(err, RB_NOMEM, "out of memory");
        }
        if (i < n && p[i] == '\r') /* only before '\n' or the end (checked above) */
            i++;
        if (fields_end(f) != RB_OK)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        if (i < n && p[i] == ',') {
            i++;
            continue;
        }
        if (i < n && p[i] == '\n') {
            i++;
            lines++;
        }
        break;
    }
    *used = i;
    *nl = lines;
    return RB_OK;
}

const char *rbi_csv_field(const struct rbi_csv_fields *f, size_t i)
{
    return i < f->n ? f->text.data + f->off[i] : NULL;
}

void rbi_csv_fields_release(struct rbi_csv_fields *f)
{
    rbi_buf_release(&f->text);
    rbi_free(f->off);
    memset(f, 0, sizeof(*f));
}

/* {===================================================================================
 * Block masks and the quote state
 * =================================================================================== */

struct masks {
    uint64_t q; /* '"' */
    uint64_t c; /* ',' */
    uint64_t n; /* '\n' */
    uint64_t z; /* NUL */
};

static inline void block_masks(const unsigned char *p, struct masks *m)
{
#if defined(__SSE2__)
    const __m128i vq = _mm_set1_epi8('"'), vc = _mm_set1_epi8(','), vn = _mm_set1_epi8('\n');
    const __m128i vz = _mm_setzero_si128();
    const __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    const __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    const __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));

#define MASK64(v, x)                                                                               \
    ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v##0, x)) |                              \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v##1, x)) << 16 |                        \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v##2, x)) << 32 |                        \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v##3, x)) << 48)
    m->q = MASK64(v, vq);
    m->c = MASK64(v, vc);
    m->n = MASK64(v, vn);
    /* NUL bytes are rare: one test for the block, their mask only when there are some */
    m->z = _mm_movemask_epi8(
               _mm_cmpeq_epi8(_mm_min_epu8(_mm_min_epu8(v0, v1), _mm_min_epu8(v2, v3)), vz))
               ? MASK64(v, vz)
               : 0;
#undef MASK64
#else
    uint64_t q = 0, c = 0, n = 0, z = 0;

    for (int i = 0; i < 64; i++) {
        uint64_t bit = (uint64_t)1 << i;
        q |= p[i] == '"' ? bit : 0;
        c |= p[i] == ',' ? bit : 0;
        n |= p[i] == '\n' ? bit : 0;
        z |= p[i] == 0 ? bit : 0;
    }
    m->q = q;
    m->c = c;
    m->n = n;
    m->z = z;
#endif
}

/* Bit i set when an odd number of quotes lie at or before i: inside a quoted field
 * (the opening quote counts as inside, the closing one as outside). */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* Set bits, without a libgcc call when the target lacks POPCNT. */
static inline int popcount64(uint64_t x)
{
#if defined(__POPCNT__)
    return __builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* Bits 0..bit. */
static inline uint64_t through(int bit)
{
    return bit >= 63 ? ~(uint64_t)0 : ((uint64_t)2 << bit) - 1;
}

/* The 64 bytes at p + off, or a zero-padded copy of the tail; *valid masks real bytes. */
static inline const unsigned char *block_at(const char *p, size_t n, size_t off,
                                            unsigned char tail[64], uint64_t *valid)
{
    size_t avail = n - off;

    if (avail >= 64) {
        *valid = ~(uint64_t)0;
        return (const unsigned char *)p + off;
    }
    memcpy(tail, p + off, avail);
    memset(tail + avail, 0, 64 - avail);
    *valid = ((uint64_t)1 << avail) - 1;
    return tail;
}

/* Quotes and LFs in p[0..n): SIMD byte counters, summed every 255 rounds. */
static void count_qn(const char *p, size_t n, uint64_t *quotes, uint64_t *lines)
{
    uint64_t q = 0, l = 0;
    size_t i = 0;

#if defined(__SSE2__)
    const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), z = _mm_setzero_si128();

    while (n - i >= 16) {
        __m128i aq = z, an = z;
        size_t rounds = (n - i) / 16;
        if (rounds > 255)
            rounds = 255;
        for (size_t r = 0; r < rounds; r++, i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            aq = _mm_sub_epi8(aq, _mm_cmpeq_epi8(v, vq));
            an = _mm_sub_epi8(an, _mm_cmpeq_epi8(v, vn));
        }
        aq = _mm_sad_epu8(aq, z);
        an = _mm_sad_epu8(an, z);
        q += (uint64_t)_mm_cvtsi128_si64(aq) + (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(aq, 8));
        l += (uint64_t)_mm_cvtsi128_si64(an) + (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(an, 8));
    }
#endif
    for (; i < n; i++) {
        q += p[i] == '"';
        l += p[i] == '\n';
    }
    *quotes = q;
    *lines = l;
}

/*
 * One forward pass counts quotes and LFs; the quote parity at the end then
 * tells, walking back from the end, which LF is the last one outside quotes (usually
 * within the last record, so the walk is short).
 */
void rbi_csv_cut(const char *p, size_t n, size_t *cut, uint64_t *nl, bool *open)
{
    uint64_t quotes, lines;
    bool par;

    count_qn(p, n, &quotes, &lines);
    *open = quotes & 1;
    /* walk back: 'par' is the parity of the quotes before position i */
    par = quotes & 1;
    *cut = 0;
    *nl = 0;
    for (size_t i = n; i-- > 0;) {
        if (p[i] == '"')
            par = !par;
        else if (p[i] == '\n') {
            if (!par) {
                *cut = i + 1;
                *nl = lines;
                return;
            }
        }
        if (p[i] == '\n')
            lines--;
    }
}

/* {===================================================================================
 * The chunk scanner
 * =================================================================================== */

#define MAX_SLOTS 64
#define POS_STACK 4096 /* separator positions kept on the stack; more go to the heap */

/* The scanner's state between blocks. */
struct scan {
    const char *p;
    size_t n;
    uint64_t first_line;
    uint32_t *pos; /* separator positions (commas and record-ending LFs) */
    size_t npos, cap;
    size_t first;    /* index in pos of the current record's first separator */
    size_t rs;       /* where the current record starts */
    uint64_t row_nl; /* LFs before rs */
    int ncols;
    int nmap;
    int mcol[MAX_SLOTS], mslot[MAX_SLOTS]; /* wanted columns, ascending, and their slots */
    struct rbi_csv_span span[MAX_SLOTS];
    rbi_csv_row_fn fn;
    void *ctx;
    uint64_t records;
    uint32_t quotes[64 * 2]; /* positions of the quotes of the current record (then 'many') */
    size_t nquotes;
    bool many; /* more quotes than fit: every wanted field is looked at */
    uint32_t stack[POS_STACK + 64];
};

/* Note the quotes of the block at 'off' below bit 'upto' (64: all) that lie in the current
 * record (the caller masks those before it). */
static inline void keep_quotes(struct scan *sc, uint64_t q, size_t off, int upto)
{
    if (upto < 64)
        q &= ((uint64_t)1 << upto) - 1;
    q &= ~(sc->rs > off ? (sc->rs - off >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (sc->rs - off)) - 1)
                        : 0);
    while (q) {
        if (sc->nquotes == sizeof(sc->quotes) / sizeof(sc->quotes[0])) {
            sc->many = true;
            return;
        }
        sc->quotes[sc->nquotes++] = (uint32_t)off + (uint32_t)__builtin_ctzll(q);
        q &= q - 1;
    }
}

/*
 * One record: its commas are pos[first .. first+ncommas), it ends at 'end' (its LF, or the
 * end of the data). Only the wanted columns are looked at.
 */
static rb_status emit_row(struct scan *sc, size_t ncommas, size_t end, uint64_t *fail,
                          rb_error *err)
{
    const char *p = sc->p;
    const uint32_t *c = sc->pos + sc->first;
    struct rbi_csv_row row;
    size_t rend = end;
    int nf = (int)(ncommas + 1);
    rb_status rc;

    if (rend > sc->rs && p[rend - 1] == '\r')
        rend--;
    if (nf == 1 && rend == sc->rs)
        return RB_OK; /* a blank line */
    row.quoted = 0;
    for (int k = 0, qi = 0; k < sc->nmap; k++) {
        int col = sc->mcol[k];
        struct rbi_csv_span *f = &sc->span[sc->mslot[k]];
        size_t fs, fe;
        if (col >= nf) {
            f->p = p + rend;
            f->len = 0;
            continue;
        }
        fs = col == 0 ? sc->rs : (size_t)c[col - 1] + 1;
        fe = col == nf - 1 ? rend : (size_t)c[col];
        f->p = p + fs;
        f->len = fe > fs ? fe - fs : 0;
        /* quotes and fields both come in file order: walk them together */
        while ((size_t)qi < sc->nquotes && sc->quotes[qi] < fs)
            qi++;
        if (sc->many || ((size_t)qi < sc->nquotes && sc->quotes[qi] < fe))
            row.quoted |= (uint64_t)1 << sc->mslot[k];
    }
    row.f = sc->span;
    row.nfields = nf;
    row.line = sc->first_line + sc->row_nl;
    row.raw = p + sc->rs;
    row.rawlen = rend - sc->rs;
    sc->records++;
    *fail = row.line;
    rc = sc->fn(sc->ctx, &row, fail, err);
    return rc;
}

/* Room for 64 more positions: drop those of finished records, or grow. */
static rb_status pos_room(struct scan *sc)
{
    if (sc->npos + 64 <= sc->cap)
        return RB_OK;
    if (sc->first > 0) {
        memmove(sc->pos, sc->pos + sc->first, (sc->npos - sc->first) * sizeof(*sc->pos));
        sc->npos -= sc->first;
        sc->first = 0;
    }
    if (sc->npos + 64 > sc->cap) {
        size_t cap = sc->cap * 2;
        uint32_t *np;
        if (sc->pos == sc->stack) {
            np = rbi_lmalloc((cap + 64) * sizeof(*np));
            if (np)
                memcpy(np, sc->pos, sc->npos * sizeof(*np));
        } else {
            np = rbi_lrealloc(sc->pos, (cap + 64) * sizeof(*np));
        }
        if (!np)
            return RB_NOMEM;
        sc->pos = np;
        sc->cap = cap;
    }
    return RB_OK;
}

rb_status rbi_csv_scan(const char *p, size_t n, uint64_t first_line,
                       const struct rbi_csv_layout *lay, rbi_csv_row_fn fn, void *ctx,
                       struct rbi_csv_scan_result *res, rb_error *err)
{
    struct scan *sc;
    unsigned char tail[64];
    uint64_t inq = 0, nl_before = 0, fail = 0;
    rb_status rc = RB_OK;

    res->records = 0;
    res->fail_line = 0;
    if (lay->nslots > MAX_SLOTS || n > UINT32_MAX - 64)
        return rbi_error_set(err, RB_MISUSE, "rbi_csv_scan: too many columns or bytes");
    sc = rbi_lmalloc(sizeof(*sc));
    if (!sc)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    sc->p = p;
    sc->n = n;
    sc->first_line = first_line;
    sc->pos = sc->stack;
    sc->cap = POS_STACK;
    sc->npos = sc->first = sc->rs = 0;
    sc->row_nl = 0;
    sc->ncols = lay->ncols;
    sc->nmap = 0;
    sc->fn = fn;
    sc->ctx = ctx;
    sc->records = 0;
    sc->nquotes = 0;
    sc->many = false;
    for (int i = 0; i < MAX_SLOTS; i++) {
        sc->span[i].p = NULL;
        sc->span[i].len = 0;
    }
    for (int i = 0; i < lay->ncols && sc->nmap < MAX_SLOTS; i++) {
        if (lay->colmap[i] >= 0 && lay->colmap[i] < MAX_SLOTS) {
            sc->mcol[sc->nmap] = i;
            sc->mslot[sc->nmap] = lay->colmap[i];
            sc->nmap++;
        }
    }
    for (size_t off = 0; off < n; off += 64) {
        uint64_t valid, inside, seps, ends, x, qn, nend;
        struct masks m;
        const unsigned char *b = block_at(p, n, off, tail, &valid);
        uint32_t *out;
        int cnt;

        block_masks(b, &m);
        m.n &= valid;
        if (m.z & valid) {
            int bit = __builtin_ctzll(m.z & valid);
            fail = first_line + nl_before + (uint64_t)popcount64(m.n & (through(bit) >> 1));
            rc = rbi_error_set(err, RB_SYNTAX, "NUL byte: binary data, not CSV text");
            goto out;
        }
        m.q &= valid;
        inside = prefix_xor(m.q) ^ inq;
        inq = (uint64_t)((int64_t)inside >> 63);
        seps = (m.c | m.n) & ~inside & valid;
        qn = m.n & inside; /* LFs inside quoted fields: rare */
        if (!seps) {
            nl_before += qn ? (uint64_t)popcount64(qn) : 0;
            if (m.q)
                keep_quotes(sc, m.q, off, 64);
            continue;
        }
        if (pos_room(sc) != RB_OK) {
            rc = rbi_error_set(err, RB_NOMEM, "out of memory");
            goto out;
        }
        /* flatten: every separator's position, four at a time (a few spare writes) */
        out = sc->pos + sc->npos;
        cnt = popcount64(seps);
        x = seps;
        for (int i = 0; i < cnt; i += 4) {
            out[i] = (uint32_t)off + (uint32_t)__builtin_ctzll(x | (1ULL << 63));
            x &= x - 1;
            out[i + 1] = (uint32_t)off + (uint32_t)__builtin_ctzll(x | (1ULL << 63));
            x &= x - 1;
            out[i + 2] = (uint32_t)off + (uint32_t)__builtin_ctzll(x | (1ULL << 63));
            x &= x - 1;
            out[i + 3] = (uint32_t)off + (uint32_t)__builtin_ctzll(x | (1ULL << 63));
            x &= x - 1;
        }
        /* the records that end in this block; the LFs before a record are the records
         * before it plus the quoted LFs */
        ends = seps & m.n;
        nend = 0;
        while (ends) {
            int bit = __builtin_ctzll(ends);
            size_t k = sc->npos + (size_t)popcount64(seps & (through(bit) >> 1));
            ends &= ends - 1;
            if (m.q)
                keep_quotes(sc, m.q, off, bit);
            rc = emit_row(sc, k - sc->first, off + (size_t)bit, &fail, err);
            if (rc != RB_OK)
                goto out;
            sc->first = k + 1;
            sc->rs = off + (size_t)bit + 1;
            sc->nquotes = 0;
            sc->many = false;
            nend++;
            sc->row_nl = nl_before + nend + (qn ? (uint64_t)popcount64(qn & through(bit)) : 0);
        }
        if (m.q)
            keep_quotes(sc, m.q, off, 64); /* those of the record still open */
        sc->npos += (size_t)cnt;
        nl_before += nend + (qn ? (uint64_t)popcount64(qn) : 0);
    }
    if (sc->rs < n) { /* a last record without its line end */
        if (inq) {
            fail = first_line + sc->row_nl;
            rc = rbi_error_set(err, RB_SYNTAX, "unterminated quoted field");
            goto out;
        }
        rc = emit_row(sc, sc->npos - sc->first, n, &fail, err);
    }
out:
    res->records = sc->records;
    if (rc != RB_OK)
        res->fail_line = fail;
    if (sc->pos != sc->stack)
        rbi_lfree(sc->pos);
    rbi_lfree(sc);
    return rc;
}

/* {===================================================================================
 * The streaming reader
 * =================================================================================== */

struct rbi_csv_reader {
    struct rbi_src *src;
    char *buf;
    size_t cap, len, pos;
    bool eof, started;
    uint64_t line;
};

rb_status rbi_csv_open(struct rbi_csv_reader **out, const char *path, rb_error *err)
{
    struct rbi_csv_reader *r;
    rb_status rc;

    *out = NULL;
    r = rbi_malloc(sizeof(*r));
    if (!r)
        return rbi_error_set(err, RB_NOMEM, "%s: out of memory", path);
    memset(r, 0, sizeof(*r));
    r->line = 1;
    rc = rbi_src_open(&r->src, path, err);
    if (rc != RB_OK) {
        rbi_free(r);
        return rc;
    }
    *out = r;
    return RB_OK;
}

/* Read more after compacting; grows the buffer when it is full. */
static rb_status reader_more(struct rbi_csv_reader *r, rb_error *err)
{
    size_t got;
    rb_status rc;

    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        char *b;
        if (cap > RBI_CSV_MAX_RECORD)
            return rbi_error_set(err, RB_TOOBIG, "record longer than %zu bytes",
                                 RBI_CSV_MAX_RECORD);
        b = rbi_realloc(r->buf, cap);
        if (!b)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        r->buf = b;
        r->cap = cap;
    }
    rc = rbi_src_read(r->src, r->buf + r->len, r->cap - r->len, &got, err);
    if (rc != RB_OK)
        return rc;
    if (got == 0)
        r->eof = true;
    r->len += got;
    return RB_OK;
}

rb_status rbi_csv_next(struct rbi_csv_reader *r, struct rbi_csv_fields *f, uint64_t *line,
                       rb_error *err)
{
    for (;;) {
        size_t used = 0, avail = r->len - r->pos;
        uint64_t nl = 0;
        rb_status rc = RB_NOTFOUND;
        rb_error e;

        if (!r->started && (avail >= 3 || r->eof)) {
            r->started = true;
            if (avail >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
                r->pos += 3;
            continue;
        }
        if (r->started && avail) {
            rc = rbi_csv_parse_record(r->buf + r->pos, avail, f, &used, &nl, &e);
            /* complete: ended by its LF, or the data is all there */
            if (rc == RB_OK && (r->eof || (used > 0 && r->buf[r->pos + used - 1] == '\n'))) {
                *line = r->line;
                r->line += nl;
                r->pos += used;
                /* a blank line is no record */
                if (f->n == 1 && rbi_csv_field(f, 0)[0] == '\0' && used <= 2)
                    continue;
                return RB_OK;
            }
            if (rc != RB_OK && rc != RB_SYNTAX)
                return rbi_error_set(err, rc, "%s", e.msg);
            if (rc == RB_SYNTAX && (r->eof || strncmp(e.msg, "unterminated", 12) != 0))
                return rbi_error_set(err, RB_SYNTAX, "line %llu: %s", (unsigned long long)r->line,
                                     e.msg);
        } else if (r->eof) {
            return RB_NOTFOUND;
        }
        rc = reader_more(r, err);
        if (rc != RB_OK)
            return rc;
    }
}

void rbi_csv_close(struct rbi_csv_reader *r)
{
    if (!r)
        return;
    rbi_src_close(r->src);
    rbi_free(r->buf);
    rbi_free(r);
}

/* {===================================================================================
 * The parallel driver
 * =================================================================================== */

#define DEFAULT_CHUNK ((size_t)1 << 20)
#define PAD 72 /* slack after a buffer: the appended LF and a little more */
#define MAX_THREADS 64

struct chunk {
    size_t end;       /* mapped file: the offset after the chunk */
    const char *view; /* the bytes to scan: data, or a part of a mapped file */
    char *data;
    size_t cap;   /* bytes usable (PAD more are allocated) */
    size_t len;   /* bytes of whole records */
    uint64_t seq; /* order in the file */
    uint64_t line;
};

struct drv {
    struct rbi_csv_job *job;
    struct rbi_csv_layout lay;
    const char *name;
    struct rbi_src *src;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_free;
    struct chunk *bufs;
    int nbuf;
    int *freeq, nfree;       /* stack of free buffers */
    int *workq, whead, wlen; /* FIFO of chunks to scan */
    bool done;               /* nothing more will be queued */
    size_t *done_end;        /* mapped file: end offset + 1 of each finished chunk, by seq */
    uint64_t done_seq;       /* chunks before this one are all finished */
    size_t dropped;          /* file offsets below this are unmapped already */
    bool inline_scan;        /* the reader scans each chunk itself */
    /* the earliest failure so far */
    bool failed;
    uint64_t fail_seq;
    rb_status fail_rc;
    bool fail_has_line;
    uint64_t fail_line;
    char fail_msg[sizeof(((rb_error *)0)->msg)];
    _Atomic uint64_t records;
};

static void note_fail(struct drv *d, uint64_t seq, rb_status rc, const char *msg, bool has_line,
                      uint64_t line)
{
    pthread_mutex_lock(&d->mu);
    if (!d->failed || seq < d->fail_seq) {
        d->failed = true;
        d->fail_seq = seq;
        d->fail_rc = rc;
        d->fail_has_line = has_line;
        d->fail_line = line;
        snprintf(d->fail_msg, sizeof(d->fail_msg), "%s", msg);
    }
    pthread_mutex_unlock(&d->mu);
}

static void scan_chunk(struct drv *d, struct chunk *c, void *wctx)
{
    struct rbi_csv_scan_result res;
    rb_error e;
    rb_status rc;
    bool skip;

    pthread_mutex_lock(&d->mu);
    skip = d->failed && c->seq > d->fail_seq;
    pthread_mutex_unlock(&d->mu);
    if (skip)
        return;
    e.msg[0] = '\0';
    rc = rbi_csv_scan(c->view, c->len, c->line, &d->lay, d->job->row, wctx, &res, &e);
    atomic_fetch_add(&d->records, res.records);
    if (d->job->flush) { /* records the callback holds come before any failure in the scan */
        rb_error fe;
        uint64_t fl = 0;
        rb_status frc = d->job->flush(wctx, &fl, &fe);
        if (frc != RB_OK && (rc == RB_OK || fl < res.fail_line)) {
            rc = frc;
            res.fail_line = fl;
            memcpy(e.msg, fe.msg, sizeof(e.msg));
        }
    }
    if (rc != RB_OK)
        note_fail(d, c->seq, rc, e.msg, true, res.fail_line);
}

/*
 * Keep a mapped file's footprint bounded, whatever its size. A finished chunk's pages are
 * dropped at once, but for EDGE bytes at each end: a page fault maps the window of cached
 * pages around the faulting one ("fault-around": 64 KiB, the mapping being
 * MADV_SEQUENTIAL), so a neighbour still at work may map those again. The edges go later:
 * chunks finish out of order, so the offset below which every chunk is done is tracked,
 * and what lies more than EDGE below it is dropped, where no thread maps anything again.
 * The reader waits rather than run more than DONE_RING chunks ahead of the oldest
 * unfinished one (a worker the machine does not schedule for a while).
 */
#define EDGE ((size_t)128 << 10)
#define DROP_MARGIN EDGE
#define DONE_RING 32

static void chunk_done(struct drv *d, const struct chunk *c)
{
    size_t from = 0, to = 0;

    if (!d->done_end)
        return;
    if (c->len > 2 * EDGE) /* the inside at once */
        rbi_src_drop(d->src, c->end - c->len + EDGE, c->end - EDGE);
    pthread_mutex_lock(&d->mu);
    d->done_end[c->seq % DONE_RING] = c->end + 1;
    while (d->done_end[d->done_seq % DONE_RING]) {
        size_t end = d->done_end[d->done_seq % DONE_RING] - 1;
        d->done_end[d->done_seq % DONE_RING] = 0;
        d->done_seq++;
        if (end > DROP_MARGIN && end - DROP_MARGIN > d->dropped) {
            from = from ? from : d->dropped;
            to = end - DROP_MARGIN;
            d->dropped = to;
        }
    }
    pthread_cond_broadcast(&d->cv_free); /* the reader may wait for done_seq */
    pthread_mutex_unlock(&d->mu);
    if (to > from)
        rbi_src_drop(d->src, from, to);
}

struct worker_arg {
    struct drv *d;
    void *wctx;
};

static void *worker_main(void *arg)
{
    struct worker_arg *w = arg;
    struct drv *d = w->d;

    for (;;) {
        int idx;

        pthread_mutex_lock(&d->mu);
        while (d->wlen == 0 && !d->done)
            pthread_cond_wait(&d->cv_work, &d->mu);
        if (d->wlen == 0) {
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
        idx = d->workq[d->whead];
        d->whead = (d->whead + 1) % d->nbuf;
        d->wlen--;
        pthread_mutex_unlock(&d->mu);

        scan_chunk(d, &d->bufs[idx], w->wctx);
        chunk_done(d, &d->bufs[idx]);

        pthread_mutex_lock(&d->mu);
        d->freeq[d->nfree++] = idx;
        pthread_cond_signal(&d->cv_free);
        pthread_mutex_unlock(&d->mu);
    }
}

static int take_free(struct drv *d)
{
    int idx;

    pthread_mutex_lock(&d->mu);
    while (d->nfree == 0)
        pthread_cond_wait(&d->cv_free, &d->mu);
    idx = d->freeq[--d->nfree];
    pthread_mutex_unlock(&d->mu);
    return idx;
}

static void queue_work(struct drv *d, int idx)
{
    pthread_mutex_lock(&d->mu);
    d->workq[(d->whead + d->wlen) % d->nbuf] = idx;
    d->wlen++;
    pthread_cond_signal(&d->cv_work);
    pthread_mutex_unlock(&d->mu);
}

static bool has_failed(struct drv *d)
{
    bool f;

    pthread_mutex_lock(&d->mu);
    f = d->failed;
    pthread_mutex_unlock(&d->mu);
    return f;
}

static rb_status grow_chunk(struct chunk *c, size_t want, rb_error *err)
{
    char *p;

    if (want <= c->cap)
        return RB_OK;
    p = rbi_lrealloc(c->data, want + PAD);
    if (!p)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    c->data = p;
    c->cap = want;
    return RB_OK;
}

/* Fill c->data[*n..cap) from the source; *eof once it is exhausted. */
static rb_status fill(struct rbi_src *src, struct chunk *c, size_t *n, bool *eof, rb_error *err)
{
    while (*n < c->cap && !*eof) {
        size_t got;
        rb_status rc = rbi_src_read(src, c->data + *n, c->cap - *n, &got, err);
        if (rc != RB_OK)
            return rc;
        if (got == 0)
            *eof = true;
        *n += got;
    }
    return RB_OK;
}

/* True if the bytes are valid UTF-8 (no overlong forms, no surrogates) with no NUL. */
static bool is_text(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i], lo = 0x80, hi = 0xBF;
        size_t k;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if (k >= n - i)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/*
 * The header at p[0..n) (the start of the file): skip a BOM, parse the first record, check
 * it is text and hand it to the header callback. *used gets the bytes taken (BOM and
 * header), *line the line after it. *more is set, and RB_OK returned, when the header is
 * not all there yet and more data may come (!eof).
 */
static rb_status parse_header(struct drv *d, const char *p, size_t n, bool eof, size_t *used,
                              uint64_t *line, bool *more, rb_error *err)
{
    struct rbi_csv_fields names = {{NULL, 0, 0}, NULL, 0, 0};
    size_t hl = 0, skip = 0;
    uint64_t nl = 0;
    rb_error e;
    rb_status rc;

    *more = false;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    if (n == skip && eof)
        return rbi_error_set(err, RB_INVALID, "%s: empty file", d->name);
    {
        /* binary data: a NUL in the first line (or in the first 64 KiB without one) */
        const char *lf = memchr(p, '\n', n < 65536 ? n : 65536);
        size_t span = lf ? (size_t)(lf - p) : (n < 65536 ? n : 65536);
        if (memchr(p, 0, span))
            return rbi_error_set(err, RB_INVALID, "%s: not a CSV text file (binary data)", d->name);
    }
    rc = rbi_csv_parse_record(p + skip, n - skip, &names, &hl, &nl, &e);
    if (rc == RB_NOMEM)
        goto out;
    if (!eof &&
        ((rc == RB_OK && p[skip + hl - 1] != '\n') ||
         (rc == RB_SYNTAX && strncmp(e.msg, "unterminated", 12) == 0) || rc == RB_NOTFOUND)) {
        *more = true; /* the header goes on in data not read yet */
        rc = RB_OK;
        goto out;
    }
    if (rc != RB_OK) {
        rc = rbi_error_set(err, rc, "%s:1: header: %s", d->name, e.msg);
        goto out;
    }
    if (!is_text((const unsigned char *)p + skip, hl)) {
        rc = rbi_error_set(err, RB_INVALID,
                           "%s: not a CSV text file (the first line is not "
                           "UTF-8 text)",
                           d->name);
        goto out;
    }
    if (names.n == 1 && rbi_csv_field(&names, 0)[0] == '\0') {
        rc = rbi_error_set(err, RB_INVALID, "%s:1: empty header line", d->name);
        goto out;
    }
    rc = d->job->header(d->job->ctx, &names, &d->lay, err);
    if (rc != RB_OK)
        goto out;
    if (d->lay.nslots > MAX_SLOTS) {
        rc = rbi_error_set(err, RB_MISUSE, "%s: too many columns wanted", d->name);
        goto out;
    }
    *used = skip + hl;
    *line = 1 + nl;
out:
    rbi_csv_fields_release(&names);
    return rc;
}

/* The header from the first buffer, which is filled (and grown) as needed; what follows
 * the header is moved to the start of the buffer. */
static rb_status read_header(struct drv *d, struct rbi_src *src, struct chunk *c, size_t *n,
                             bool *eof, uint64_t *line, rb_error *err)
{
    size_t used = 0;
    bool more;
    rb_status rc;

    for (;;) {
        rc = fill(src, c, n, eof, err);
        if (rc != RB_OK)
            return rc;
        rc = parse_header(d, c->data, *n, *eof, &used, line, &more, err);
        if (rc != RB_OK || !more)
            break;
        if (c->cap >= RBI_CSV_MAX_RECORD)
            return rbi_error_set(err, RB_TOOBIG, "%s:1: header longer than %zu bytes", d->name,
                                 RBI_CSV_MAX_RECORD);
        rc = grow_chunk(c, c->cap * 2, err);
        if (rc != RB_OK)
            return rc;
    }
    if (rc != RB_OK)
        return rc;
    memmove(c->data, c->data + used, *n - used);
    *n -= used;
    return RB_OK;
}

static rb_status drv_setup(struct drv *d, int nthreads, size_t chunk, rb_error *err)
{
    d->nbuf = nthreads + 2;
    d->bufs = rbi_lmalloc((size_t)d->nbuf * sizeof(*d->bufs));
    d->freeq = rbi_lmalloc((size_t)d->nbuf * sizeof(int));
    d->workq = rbi_lmalloc((size_t)d->nbuf * sizeof(int));
    if (!d->bufs || !d->freeq || !d->workq)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    memset(d->bufs, 0, (size_t)d->nbuf * sizeof(*d->bufs));
    for (int i = 0; i < d->nbuf; i++) { /* chunk 0: views only, no buffers */
        d->bufs[i].data = rbi_lmalloc(chunk + PAD);
        if (!d->bufs[i].data)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        d->bufs[i].cap = chunk;
        d->freeq[d->nfree++] = i;
    }
    return RB_OK;
}

static void drv_teardown(struct drv *d)
{
    rbi_lfree(d->done_end);
    if (d->bufs)
        for (int i = 0; i < d->nbuf; i++)
            rbi_lfree(d->bufs[i].data);
    rbi_lfree(d->bufs);
    rbi_lfree(d->freeq);
    rbi_lfree(d->workq);
}

/* Give a buffer back to the free list. */
static void put_free(struct drv *d, int idx)
{
    pthread_mutex_lock(&d->mu);
    d->freeq[d->nfree++] = idx;
    pthread_cond_signal(&d->cv_free);
    pthread_mutex_unlock(&d->mu);
}

/*
 * The reader: cut the file into chunks of whole records and queue (or scan) them. The
 * buffer 'idx' holds n bytes that start a record on line 'line'. Failures are noted in d.
 */
static void read_loop(struct drv *d, struct rbi_src *src, int idx, size_t n, bool eof,
                      uint64_t line)
{
    struct rbi_csv_job *job = d->job;
    char *carry = NULL;
    size_t carry_len = 0, carry_cap = 0;
    uint64_t seq = 0;
    rb_error e;
    rb_status rc;

    for (;;) {
        struct chunk *c = &d->bufs[idx];
        size_t cut = 0;
        uint64_t nl = 0;
        bool open = false;

        rc = fill(src, c, &n, &eof, &e);
        if (rc != RB_OK)
            goto out_fail;
        rbi_csv_cut(c->data, n, &cut, &nl, &open);
        if (eof) {
            if (n == 0) { /* nothing left */
                put_free(d, idx);
                break;
            }
            if (cut < n && !open) { /* a last record without its LF */
                c->data[n++] = '\n';
                nl++;
            }
            cut = n;           /* an open quote here is reported by the scanner */
        } else if (cut == 0) { /* no whole record yet: a long one */
            if (c->cap >= RBI_CSV_MAX_RECORD) {
                put_free(d, idx);
                rc = rbi_error_set(&e, RB_TOOBIG,
                                   "record longer than %zu MiB (an unterminated quoted field?)",
                                   RBI_CSV_MAX_RECORD >> 20);
                note_fail(d, seq, rc, e.msg, true, line);
                break;
            }
            rc = grow_chunk(c, c->cap * 2, &e);
            if (rc != RB_OK)
                goto out_fail;
            continue;
        }
        /* keep the partial record that follows the cut */
        carry_len = n - cut;
        if (carry_len > carry_cap) {
            char *p = rbi_lrealloc(carry, carry_len);
            if (!p) {
                rc = rbi_error_set(&e, RB_NOMEM, "out of memory");
                goto out_fail;
            }
            carry = p;
            carry_cap = carry_len;
        }
        if (carry_len)
            memcpy(carry, c->data + cut, carry_len);
        c->view = c->data;
        c->len = cut;
        c->seq = seq++;
        c->line = line;
        line += nl;
        if (d->inline_scan) {
            scan_chunk(d, c, job->wctx[0]);
            put_free(d, idx);
        } else {
            queue_work(d, idx);
        }
        if (job->progress)
            job->progress(job->pctx, rbi_src_bytes_in(src), rbi_src_size(src),
                          atomic_load(&d->records));
        if (eof || has_failed(d))
            break;
        idx = take_free(d);
        c = &d->bufs[idx];
        if (carry_len > c->cap / 2) {
            rc = grow_chunk(c, carry_len * 2, &e);
            if (rc != RB_OK)
                goto out_fail;
        }
        if (carry_len)
            memcpy(c->data, carry, carry_len);
        n = carry_len;
    }
    rbi_lfree(carry);
    return;

out_fail:
    put_free(d, idx);
    note_fail(d, seq, rc, e.msg, false, 0);
    rbi_lfree(carry);
}

/* The reader for a mapped file: chunks are views into the mapping, cut at record ends. */
static void map_loop(struct drv *d, const char *map, size_t size, size_t pos, size_t chunk,
                     uint64_t line)
{
    struct rbi_csv_job *job = d->job;
    uint64_t seq = 0;
    rb_error e;

    rbi_src_consume(d->src, pos);
    while (pos < size) {
        size_t want = chunk, len = 0;
        uint64_t nl = 0;
        struct chunk *c;
        int idx;

        for (;;) {
            size_t end = size - pos > want ? pos + want : size, cut;
            bool open;
            if (end == size) { /* the rest; an open quote is the scanner's to report */
                len = size - pos;
                break;
            }
            rbi_csv_cut(map + pos, end - pos, &cut, &nl, &open);
            if (cut) {
                len = cut;
                break;
            }
            if (want >= RBI_CSV_MAX_RECORD) {
                rbi_error_set(&e, RB_TOOBIG,
                              "record longer than %zu MiB (an unterminated quoted field?)",
                              RBI_CSV_MAX_RECORD >> 20);
                note_fail(d, seq, RB_TOOBIG, e.msg, true, line);
                return;
            }
            want *= 2;
        }
        /* the hash, in file order, and before a worker may be done with these pages */
        rbi_src_consume(d->src, pos + len);
        pthread_mutex_lock(&d->mu); /* not a whole ring ahead of the oldest unfinished */
        while (seq >= d->done_seq + DONE_RING)
            pthread_cond_wait(&d->cv_free, &d->mu);
        pthread_mutex_unlock(&d->mu);
        idx = take_free(d);
        c = &d->bufs[idx];
        c->view = map + pos;
        c->len = len;
        c->end = pos + len;
        c->seq = seq++;
        c->line = line;
        line += nl;
        pos += len;
        if (d->inline_scan) {
            scan_chunk(d, c, job->wctx[0]);
            chunk_done(d, c);
            put_free(d, idx);
        } else {
            queue_work(d, idx);
        }
        if (job->progress)
            job->progress(job->pctx, pos, size, atomic_load(&d->records));
        if (has_failed(d))
            return;
    }
}

rb_status rbi_csv_run(struct rbi_csv_job *job, rb_error *err)
{
    struct drv d;
    struct worker_arg wargs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    struct rbi_src *src = NULL;
    size_t chunk = job->chunk ? job->chunk : DEFAULT_CHUNK;
    int nthreads = job->nthreads, started = 0;
    uint64_t line = 1;
    size_t n = 0, maplen = 0, hused = 0;
    const char *map;
    bool eof = false;
    rb_status rc;
    int idx;

    memset(&d, 0, sizeof(d));
    d.job = job;
    d.name = job->path;
    job->records = 0;
    job->bytes = 0;
    job->hash = 0;
    job->gzip = false;
    if (nthreads < 0)
        nthreads = 0;
    if (nthreads > MAX_THREADS)
        nthreads = MAX_THREADS;
    if (chunk < 64)
        chunk = 64;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv_work, NULL);
    pthread_cond_init(&d.cv_free, NULL);
    atomic_init(&d.records, 0);

    rc = rbi_src_open(&src, job->path, err);
    if (rc != RB_OK)
        goto out;
    job->gzip = rbi_src_is_gzip(src);
    d.src = src;
    map = rbi_src_map(src, &maplen);
    rc = drv_setup(&d, nthreads, map ? 0 : chunk, err);
    if (rc == RB_OK && map) {
        d.done_end = rbi_lmalloc(DONE_RING * sizeof(*d.done_end));
        if (!d.done_end)
            rc = rbi_error_set(err, RB_NOMEM, "out of memory");
        else
            memset(d.done_end, 0, DONE_RING * sizeof(*d.done_end));
    }
    if (rc != RB_OK)
        goto out;
    idx = d.freeq[--d.nfree];
    if (map) {
        bool more;
        rc = parse_header(&d, map, maplen, true, &hused, &line, &more, err);
        d.freeq[d.nfree++] = idx;
    } else {
        rc = read_header(&d, src, &d.bufs[idx], &n, &eof, &line, err);
    }
    if (rc != RB_OK)
        goto out;
    for (int i = 0; i < nthreads; i++) {
        wargs[i].d = &d;
        wargs[i].wctx = job->wctx[i];
        if (pthread_create(&tids[i], NULL, worker_main, &wargs[i]) != 0)
            break;
        started++;
    }
    d.inline_scan = started == 0; /* no thread (asked for none, or none started) */

    if (map)
        map_loop(&d, map, maplen, hused, chunk, line);
    else
        read_loop(&d, src, idx, n, eof, line);

    pthread_mutex_lock(&d.mu);
    d.done = true;
    pthread_cond_broadcast(&d.cv_work);
    pthread_mutex_unlock(&d.mu);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (d.failed) {
        rc = d.fail_rc;
        if (d.fail_has_line)
            rbi_error_set(err, rc, "%s:%llu: %s", d.name, (unsigned long long)d.fail_line,
                          d.fail_msg);
        else
            rbi_error_set(err, rc, "%s", d.fail_msg);
        goto out;
    }
    job->records = atomic_load(&d.records);
    job->bytes = rbi_src_bytes_in(src);
    job->hash = rbi_src_hash(src);
    rc = RB_OK;
out:
    drv_teardown(&d);
    rbi_src_close(src);
    pthread_cond_destroy(&d.cv_free);
    pthread_cond_destroy(&d.cv_work);
    pthread_mutex_destroy(&d.mu);
    return rc;
}
