/*
 * csv.c -- reading RFC 4180 CSV fast: plain or gzip files, streamed, on several threads.
 *
 * Provides: the XXH64 content hash, the byte source (plain or gzip, hashed as stored), the
 * single-record parser used for headers and by the streaming reader, the chunk scanner
 * that finds fields 64 bytes at a time (quote state by prefix XOR, as in simdjson), and
 * the driver that reads a file into chunks of whole records (counting quotes and hashing
 * in one pass) and scans them on worker threads (see usage.h).
 * Uses: zlib, POSIX threads, on x86 SSE2 and, chosen at run time, AVX2 with PCLMUL, POPCNT
 * and BMI1 (per-function target attributes: the binary runs on any x86-64; portable C
 * elsewhere), the allocation seam through a lock.
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
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) &&                             \
    (defined(__GNUC__) || defined(__clang__))
#define CSV_X86 1
#include <immintrin.h>
#else
#define CSV_X86 0
#endif

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

/*
 * The stored bytes are hashed in file order: a gzip file's as they are read (the
 * compressed bytes), a plain file's as they are handed out, or, when the driver defers it
 * (defer_hash), by the driver itself in the same pass that counts quotes and LFs
 * (cut_hashing below): 'hashed' says how far it got.
 */
struct rbi_src {
    int fd;
    bool gz;         /* gzip-compressed */
    bool zinit;      /* z is initialised */
    bool zend;       /* the current gzip member has ended */
    bool in_eof;     /* read() returned 0 */
    bool defer_hash; /* a plain file whose reader hashes what it gets */
    z_stream z;
    unsigned char *in; /* stored bytes read ahead */
    size_t in_len, in_pos;
    uint64_t bytes_in; /* stored bytes read so far */
    uint64_t hashed;   /* stored bytes hashed so far */
    uint64_t size;
    struct rbi_hash64 h;
    char path[1024];
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return rbi_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    rbi_free(p);
}

static void src_hash(struct rbi_src *s, const void *p, size_t n)
{
    rbi_hash64_update(&s->h, p, n);
    s->hashed += n;
}

/* read() into p, retrying on EINTR; counts the bytes. */
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
    s->bytes_in += (uint64_t)n;
    *got = (size_t)n;
    return RB_OK;
}

/* Read ahead into s->in; a gzip file's stored bytes are hashed as they come. */
static rb_status src_refill(struct rbi_src *s, rb_error *err)
{
    size_t got;
    rb_status rc;

    s->in_pos = s->in_len = 0;
    if (s->in_eof)
        return RB_OK;
    rc = src_raw_read(s, s->in, SRC_INBUF, &got, err);
    s->in_len = got;
    if (s->gz)
        src_hash(s, s->in, got);
    return rc;
}

rb_status rbi_src_open(struct rbi_src **out, const char *path, rb_error *err)
{
    struct rbi_src *s;
    struct stat st;
    rb_status rc;

    *out = NULL;
    s = rbi_malloc(sizeof(*s));
    if (!s)
        return rbi_error_set(err, RB_NOMEM, "%s: out of memory", path);
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path);
    rbi_hash64_init(&s->h);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rc = rbi_error_set(err, errno == ENOENT ? RB_NOTFOUND : RB_IO, "%s: cannot open: %s", path,
                           strerror(errno));
        rbi_free(s);
        return rc;
    }
    if (fstat(s->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        rc = rbi_error_set(err, RB_IO, "%s: cannot read: %s", path,
                           S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        goto out_close;
    }
    s->size = (uint64_t)st.st_size;
#if defined(POSIX_FADV_SEQUENTIAL)
    if (S_ISREG(st.st_mode))
        posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    s->in = rbi_malloc(SRC_INBUF);
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
        src_hash(s, s->in, s->in_len); /* the first read, now that it is known */
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

rb_status rbi_src_read(struct rbi_src *s, char *buf, size_t cap, size_t *got, rb_error *err)
{
    rb_status rc = RB_OK;

    *got = 0;
    if (cap == 0)
        return RB_OK;
    if (s->gz)
        return src_read_gz(s, buf, cap, got, err);
    if (s->in_pos < s->in_len) {
        size_t n = s->in_len - s->in_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, s->in + s->in_pos, n);
        s->in_pos += n;
        *got = n;
    } else if (!s->in_eof) {
        rc = src_raw_read(s, buf, cap, got, err);
    }
    if (!s->defer_hash)
        src_hash(s, buf, *got);
    return rc;
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
    if (s->fd >= 0)
        close(s->fd);
    rbi_free(s->in);
    rbi_free(s);
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
 * SIMD levels
 *
 * Three builds of the hot loops: a portable one (plain C, any machine), SSE2 (the x86-64
 * baseline) and AVX2 with PCLMUL, POPCNT and BMI1 (most x86-64 machines since 2013),
 * compiled with per-function target attributes and chosen at run time, so the binary runs
 * on any x86-64. All three give the same results; the tests run each.
 * =================================================================================== */

#define LV_PORTABLE 0
#define LV_SSE2 1
#define LV_AVX2 2
#define LV_PDEP 3 /* AVX2, and BMI2 whose PDEP is fast (not on AMD before Zen 3) */

#if CSV_X86
#define TARGET_AVX2 __attribute__((target("avx2,pclmul,popcnt,bmi")))
#define TARGET_PDEP __attribute__((target("avx2,pclmul,popcnt,bmi,bmi2")))
#endif

static _Atomic int lv_best = -1; /* what the machine can do (-1: not asked yet) */
static _Atomic int lv_cap = LV_PDEP;

static int best_level(void)
{
    int lv = atomic_load_explicit(&lv_best, memory_order_relaxed);

    if (lv < 0) {
#if CSV_X86
        __builtin_cpu_init();
        lv = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
                     __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi")
                 ? LV_AVX2
                 : LV_SSE2;
        if (lv == LV_AVX2 && __builtin_cpu_supports("bmi2") && !__builtin_cpu_is("amdfam15h") &&
            !__builtin_cpu_is("amdfam17h"))
            lv = LV_PDEP; /* microcoded, hence slow, on those */
#else
        lv = LV_PORTABLE;
#endif
        atomic_store_explicit(&lv_best, lv, memory_order_relaxed);
    }
    return lv;
}

static int level(void)
{
    int best = best_level(), cap = atomic_load_explicit(&lv_cap, memory_order_relaxed);

    return cap < best ? cap : best;
}

int rbi_csv_simd(int want)
{
    atomic_store_explicit(&lv_cap, want < 0 ? LV_PDEP : want, memory_order_relaxed);
    return level();
}

/* {===================================================================================
 * Block masks and the quote state
 * =================================================================================== */

struct masks {
    uint64_t q; /* '"' */
    uint64_t c; /* ',' */
    uint64_t n; /* '\n' */
    uint64_t z; /* NUL (0 when there is none) */
};

static inline void masks_portable(const unsigned char *p, struct masks *m)
{
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
}

#if CSV_X86
static inline void masks_sse2(const unsigned char *p, struct masks *m)
{
    const __m128i vq = _mm_set1_epi8('"'), vc = _mm_set1_epi8(','), vn = _mm_set1_epi8('\n');
    const __m128i vz = _mm_setzero_si128();
    const __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    const __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    const __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));

#define MASK64(x)                                                                                  \
    ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, x)) |                                \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, x)) << 16 |                          \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v2, x)) << 32 |                          \
     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v3, x)) << 48)
    m->q = MASK64(vq);
    m->c = MASK64(vc);
    m->n = MASK64(vn);
    /* NUL bytes are rare: one test for the block, their mask only when there are some */
    m->z = _mm_movemask_epi8(
               _mm_cmpeq_epi8(_mm_min_epu8(_mm_min_epu8(v0, v1), _mm_min_epu8(v2, v3)), vz))
               ? MASK64(vz)
               : 0;
#undef MASK64
}

static inline TARGET_AVX2 void masks_avx2(const unsigned char *p, struct masks *m)
{
    const __m256i vq = _mm256_set1_epi8('"'), vc = _mm256_set1_epi8(','),
                  vn = _mm256_set1_epi8('\n'), vz = _mm256_setzero_si256();
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));

#define MASK64(x)                                                                                  \
    ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, x)) |                          \
     (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, x)) << 32)
    m->q = MASK64(vq);
    m->c = MASK64(vc);
    m->n = MASK64(vn);
    m->z = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v0, v1), vz)) ? MASK64(vz) : 0;
#undef MASK64
}

/* The bits of m at the ranks set in w (BMI2). */
static inline TARGET_PDEP uint64_t pdep64(uint64_t w, uint64_t m)
{
    return _pdep_u64(w, m);
}

/* Carry-less multiplication by all ones: the prefix XOR in one instruction. */
static inline TARGET_AVX2 uint64_t prefix_xor_clmul(uint64_t x)
{
    __m128i v = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8(-1), 0);
    return (uint64_t)_mm_cvtsi128_si64(v);
}
#endif

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

/* Quotes and LFs in p[0..n): byte counters, summed every 255 rounds. */
static inline void count_qn_portable(const char *p, size_t n, uint64_t *quotes, uint64_t *lines)
{
    uint64_t q = 0, l = 0;

    for (size_t i = 0; i < n; i++) {
        q += p[i] == '"';
        l += p[i] == '\n';
    }
    *quotes = q;
    *lines = l;
}

#if CSV_X86
static void count_qn_sse2(const char *p, size_t n, uint64_t *quotes, uint64_t *lines)
{
    const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), z = _mm_setzero_si128();
    uint64_t q = 0, l = 0, tq, tl;
    size_t i = 0;

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
    count_qn_portable(p + i, n - i, &tq, &tl);
    *quotes = q + tq;
    *lines = l + tl;
}

static TARGET_AVX2 void count_qn_avx2(const char *p, size_t n, uint64_t *quotes, uint64_t *lines)
{
    const __m256i vq = _mm256_set1_epi8('"'), vn = _mm256_set1_epi8('\n');
    const __m256i z = _mm256_setzero_si256();
    uint64_t q = 0, l = 0, tq, tl;
    size_t i = 0;

    while (n - i >= 64) {
        __m256i aq = z, an = z, bq = z, bn = z; /* byte counters: at most 255 each */
        size_t rounds = (n - i) / 64;
        if (rounds > 255)
            rounds = 255;
        for (size_t r = 0; r < rounds; r++, i += 64) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32));
            aq = _mm256_sub_epi8(aq, _mm256_cmpeq_epi8(v0, vq));
            an = _mm256_sub_epi8(an, _mm256_cmpeq_epi8(v0, vn));
            bq = _mm256_sub_epi8(bq, _mm256_cmpeq_epi8(v1, vq));
            bn = _mm256_sub_epi8(bn, _mm256_cmpeq_epi8(v1, vn));
        }
        aq = _mm256_add_epi64(_mm256_sad_epu8(aq, z), _mm256_sad_epu8(bq, z));
        an = _mm256_add_epi64(_mm256_sad_epu8(an, z), _mm256_sad_epu8(bn, z));
        q += (uint64_t)_mm256_extract_epi64(aq, 0) + (uint64_t)_mm256_extract_epi64(aq, 1) +
             (uint64_t)_mm256_extract_epi64(aq, 2) + (uint64_t)_mm256_extract_epi64(aq, 3);
        l += (uint64_t)_mm256_extract_epi64(an, 0) + (uint64_t)_mm256_extract_epi64(an, 1) +
             (uint64_t)_mm256_extract_epi64(an, 2) + (uint64_t)_mm256_extract_epi64(an, 3);
    }
    count_qn_sse2(p + i, n - i, &tq, &tl);
    *quotes = q + tq;
    *lines = l + tl;
}
#endif

static void count_qn(const char *p, size_t n, uint64_t *quotes, uint64_t *lines)
{
#if CSV_X86
    int lv = level();
    if (lv >= LV_AVX2) {
        count_qn_avx2(p, n, quotes, lines);
        return;
    }
    if (lv == LV_SSE2) {
        count_qn_sse2(p, n, quotes, lines);
        return;
    }
#endif
    count_qn_portable(p, n, quotes, lines);
}

/* XXH64's stripes of p[0..n) (a multiple of 32) and the quotes and LFs in them, in one
 * pass: the file's bytes come from memory once for both. */
static void count_hash_portable(uint64_t v[4], const char *p, size_t n, uint64_t *quotes,
                                uint64_t *lines)
{
    xxh_stripes(v, (const unsigned char *)p, n);
    count_qn_portable(p, n, quotes, lines);
}

#if CSV_X86
static void count_hash_sse2(uint64_t v[4], const char *p, size_t n, uint64_t *quotes,
                            uint64_t *lines)
{
    const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), z = _mm_setzero_si128();
    const unsigned char *u = (const unsigned char *)p;
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3], q = 0, l = 0;
    size_t i = 0;

    while (i < n) {
        __m128i aq = z, an = z; /* byte counters: at most 2 x 127 each */
        size_t rounds = (n - i) / 32;
        if (rounds > 127)
            rounds = 127;
        for (size_t r = 0; r < rounds; r++, i += 32) {
            __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 16));
            aq = _mm_sub_epi8(aq, _mm_add_epi8(_mm_cmpeq_epi8(x0, vq), _mm_cmpeq_epi8(x1, vq)));
            an = _mm_sub_epi8(an, _mm_add_epi8(_mm_cmpeq_epi8(x0, vn), _mm_cmpeq_epi8(x1, vn)));
            a = xxh_round(a, rd64(u + i));
            b = xxh_round(b, rd64(u + i + 8));
            c = xxh_round(c, rd64(u + i + 16));
            d = xxh_round(d, rd64(u + i + 24));
        }
        aq = _mm_sad_epu8(aq, z);
        an = _mm_sad_epu8(an, z);
        q += (uint64_t)_mm_cvtsi128_si64(aq) + (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(aq, 8));
        l += (uint64_t)_mm_cvtsi128_si64(an) + (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(an, 8));
    }
    v[0] = a;
    v[1] = b;
    v[2] = c;
    v[3] = d;
    *quotes = q;
    *lines = l;
}

static TARGET_AVX2 void count_hash_avx2(uint64_t v[4], const char *p, size_t n, uint64_t *quotes,
                                        uint64_t *lines)
{
    const __m256i vq = _mm256_set1_epi8('"'), vn = _mm256_set1_epi8('\n');
    const __m256i z = _mm256_setzero_si256();
    const unsigned char *u = (const unsigned char *)p;
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3], q = 0, l = 0;
    size_t i = 0;

    while (i < n) {
        __m256i aq = z, an = z; /* byte counters: at most 255 each */
        size_t rounds = (n - i) / 32;
        if (rounds > 255)
            rounds = 255;
        for (size_t r = 0; r < rounds; r++, i += 32) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
            aq = _mm256_sub_epi8(aq, _mm256_cmpeq_epi8(x, vq));
            an = _mm256_sub_epi8(an, _mm256_cmpeq_epi8(x, vn));
            a = xxh_round(a, rd64(u + i));
            b = xxh_round(b, rd64(u + i + 8));
            c = xxh_round(c, rd64(u + i + 16));
            d = xxh_round(d, rd64(u + i + 24));
        }
        aq = _mm256_sad_epu8(aq, z);
        an = _mm256_sad_epu8(an, z);
        q += (uint64_t)_mm256_extract_epi64(aq, 0) + (uint64_t)_mm256_extract_epi64(aq, 1) +
             (uint64_t)_mm256_extract_epi64(aq, 2) + (uint64_t)_mm256_extract_epi64(aq, 3);
        l += (uint64_t)_mm256_extract_epi64(an, 0) + (uint64_t)_mm256_extract_epi64(an, 1) +
             (uint64_t)_mm256_extract_epi64(an, 2) + (uint64_t)_mm256_extract_epi64(an, 3);
    }
    v[0] = a;
    v[1] = b;
    v[2] = c;
    v[3] = d;
    *quotes = q;
    *lines = l;
}
#endif

/* Count the quotes and LFs in p[0..n) and add the bytes to the streaming hash h. */
static void count_hash(struct rbi_hash64 *h, const char *p, size_t n, uint64_t *quotes,
                       uint64_t *lines)
{
    uint64_t q = 0, l = 0, q1, l1;
    size_t whole;

    if (h->memlen) { /* first complete the stripe the hash holds a part of */
        size_t head = 32 - h->memlen < n ? 32 - h->memlen : n;
        rbi_hash64_update(h, p, head);
        count_qn(p, head, &q, &l);
        p += head;
        n -= head;
    }
    whole = n & ~(size_t)31;
    if (whole) {
#if CSV_X86
        int lv = level();
        if (lv >= LV_AVX2)
            count_hash_avx2(h->v, p, whole, &q1, &l1);
        else if (lv == LV_SSE2)
            count_hash_sse2(h->v, p, whole, &q1, &l1);
        else
#endif
            count_hash_portable(h->v, p, whole, &q1, &l1);
        h->total += whole;
        q += q1;
        l += l1;
    }
    if (n > whole) {
        rbi_hash64_update(h, p + whole, n - whole);
        count_qn(p + whole, n - whole, &q1, &l1);
        q += q1;
        l += l1;
    }
    *quotes = q;
    *lines = l;
}

/*
 * The cut, given the quotes and LFs in p[0..n): the quote parity at the end tells, walking
 * back from the end, which LF is the last one outside quotes (usually within the last
 * record, so the walk is short).
 */
static void cut_back(const char *p, size_t n, uint64_t quotes, uint64_t lines, size_t *cut,
                     uint64_t *nl, bool *open)
{
    bool par;

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

void rbi_csv_cut(const char *p, size_t n, size_t *cut, uint64_t *nl, bool *open)
{
    uint64_t quotes, lines;

    count_qn(p, n, &quotes, &lines);
    cut_back(p, n, quotes, lines, cut, nl, open);
}

/* {===================================================================================
 * The chunk scanner
 *
 * Two stages over a window of blocks of 64 bytes, as in simdjson. Stage 1 (one build per
 * SIMD level) finds, for every block, the separators outside quotes (commas and LFs) and
 * keeps their mask, the position of each LF that ends a record, and which columns of the
 * record hold a quote. Stage 2 takes the records ended in the window and finds only the
 * separators around the wanted fields, walking the record's masks (the number of
 * separators before a field is its column), then hands the callback the fields.
 * =================================================================================== */

#define MAX_SLOTS 64
#define SM_STACK 1024  /* block masks kept in the scan state; more go to the heap */
#define ENDS 1024      /* record ends one stage-1 pass may find */
#define WIN_BLOCKS 128 /* blocks a stage-1 pass looks at, at most */
#define QRING 1024     /* quote masks kept: those of the last 64 KiB */
#define PREFETCH 2048  /* how far ahead stage 1 prefetches */

/* Stage 1's output and state. */
struct stage1 {
    uint64_t *sm;       /* separator mask of block b at sm[b - base] */
    size_t base;        /* the block of sm[0] */
    uint32_t *ends;     /* the position of each LF that ends a record */
    uint64_t *endq;     /* quoted LFs (inside fields) before each of those LFs */
    uint64_t *endqc;    /* for each of those records: its columns (0..63) that hold a '"' */
    uint8_t *endqf;     /* and whether a column past 63 does */
    size_t nends;       /* ends found in this pass */
    uint64_t *qring;    /* quote mask of block b at qring[b % QRING] */
    uint64_t inq;       /* all ones when the last block ended inside quotes */
    uint64_t quoted_lf; /* LFs inside quoted fields so far */
    uint64_t qc;        /* the open record: its columns that hold a '"' so far */
    uint32_t col;       /* and its separators so far (its column) */
    uint8_t qf;         /* and whether a column past 63 holds a '"' */
    size_t nul;         /* offset of a NUL byte (SIZE_MAX: none yet) */
};

static inline __attribute__((always_inline)) int pop(uint64_t x, int lv)
{
    return lv >= LV_AVX2 ? __builtin_popcountll(x) : popcount64(x);
}

/* The columns of the quotes q, given the separators sp of their record before them in the
 * block and the record's column at the first of those: bits of qc, or *qf past 63. */
static inline __attribute__((always_inline)) void quote_cols(uint64_t q, uint64_t sp, uint32_t col,
                                                             uint64_t *qc, uint8_t *qf, int lv)
{
    for (; q; q &= q - 1) {
        uint32_t c = col + (uint32_t)pop(sp & ((q & (0 - q)) - 1), lv);
        if (c < 64)
            *qc |= (uint64_t)1 << c;
        else
            *qf = 1;
    }
}

/*
 * Stage 1 over nblk blocks at b, the first at offset off of the chunk (s->sm has room for
 * them). Returns the blocks done: all, or fewer when the ends are near full (the caller
 * takes them and calls again) or a block holds a NUL (s->nul is set; that block is not
 * done). 'lv' is a constant in each build below, which keeps only its own branches.
 */
static inline __attribute__((always_inline)) size_t stage1(struct stage1 *s, const unsigned char *b,
                                                           size_t off, size_t nblk, int lv)
{
    uint32_t *ends = s->ends, col = s->col;
    uint64_t *sm = s->sm + ((off >> 6) - s->base);
    size_t nends = s->nends, i;
    uint64_t inq = s->inq, qc = s->qc;
    uint8_t qf = s->qf;

    for (i = 0; i < nblk && nends <= ENDS - 64; i++, b += 64, off += 64) {
        struct masks m;
        uint64_t inside, seps, e, qn, done;

        /* the reader's core wrote these bytes last: ask for them well ahead (a prefetch
         * past the end of the data is harmless) */
        __builtin_prefetch((const void *)((uintptr_t)b + PREFETCH));
#if CSV_X86
        if (lv >= LV_AVX2)
            masks_avx2(b, &m);
        else if (lv == LV_SSE2)
            masks_sse2(b, &m);
        else
#endif
            masks_portable(b, &m);
        if (m.z) {
            s->nul = off + (size_t)__builtin_ctzll(m.z);
            break;
        }
#if CSV_X86
        if (lv >= LV_AVX2)
            inside = prefix_xor_clmul(m.q) ^ inq;
        else
#endif
            inside = prefix_xor(m.q) ^ inq;
        inq = (uint64_t)((int64_t)inside >> 63);
        s->qring[(off >> 6) & (QRING - 1)] = m.q;
        seps = (m.c | m.n) & ~inside;
        sm[i] = seps;
        qn = m.n & inside; /* LFs inside quoted fields: rare */
        /* the records that end here: their LF, and the columns that hold a quote ('done':
         * the bits up to the last LF) */
        done = 0;
        for (e = seps & m.n; e; e &= e - 1) {
            uint64_t lf = e & (0 - e), below = lf - 1;
            if (m.q & below & ~done)
                quote_cols(m.q & below & ~done, seps & ~done, col, &qc, &qf, lv);
            ends[nends] = (uint32_t)off + (uint32_t)__builtin_ctzll(lf);
            s->endq[nends] = s->quoted_lf + (qn ? (uint64_t)popcount64(qn & below) : 0);
            s->endqc[nends] = qc;
            s->endqf[nends] = qf;
            nends++;
            qc = 0;
            qf = 0;
            col = 0;
            done = below | lf;
        }
        if (m.q & ~done)
            quote_cols(m.q & ~done, seps & ~done, col, &qc, &qf, lv);
        if (qn)
            s->quoted_lf += (uint64_t)popcount64(qn);
        col += (uint32_t)pop(seps & ~done, lv);
    }
    s->nends = nends;
    s->inq = inq;
    s->qc = qc;
    s->qf = qf;
    s->col = col;
    return i;
}

/*
 * Stage 2's walk over one record's separators, p[rs..end) (end: its LF, or the end of the
 * data): the positions of the separators whose indices are need[0..nneed) (ascending) go
 * to at[], as far as the record has them. Returns the record's separators (its fields
 * less one).
 */
static inline __attribute__((always_inline)) uint32_t walk(const uint64_t *sm, size_t base,
                                                           size_t rs, size_t end,
                                                           const uint32_t *need, int nneed,
                                                           uint32_t *at, int lv)
{
    size_t b = rs >> 6, eb;
    uint32_t col = 0;
    int k = 0;

    if (end <= rs)
        return 0;
    eb = (end - 1) >> 6;
    for (; b <= eb; b++) {
        uint64_t m = sm[b - base];
        uint32_t cnt;
        if (b == rs >> 6)
            m &= ~(uint64_t)0 << (rs & 63);
        if (b == eb)
            m &= ~(uint64_t)0 >> (63 - ((end - 1) & 63));
        cnt = (uint32_t)pop(m, lv);
        if (k < nneed && need[k] < col + cnt) {
            uint32_t xi = col; /* the index of m's lowest bit */
            do {
                for (; xi < need[k]; xi++)
                    m &= m - 1;
                at[k++] = (uint32_t)(b * 64) + (uint32_t)__builtin_ctzll(m);
            } while (k < nneed && need[k] < col + cnt);
        }
        col += cnt;
    }
    return col;
}

/*
 * The same when every separator wanted has an index below 64, given as the bits of 'want':
 * a block's separators have the indices col .. col + cnt - 1, so the wanted ones among them
 * are a shift of 'want' away, and PDEP (or a walk over the set bits) picks them out of the
 * block's mask.
 */
static inline __attribute__((always_inline)) uint32_t walk_bits(const uint64_t *sm, size_t base,
                                                                size_t rs, size_t end,
                                                                uint64_t want, uint32_t *at, int lv)
{
    size_t b = rs >> 6, eb;
    uint32_t col = 0;
    int k = 0;

    if (end <= rs)
        return 0;
    eb = (end - 1) >> 6;
    for (; b <= eb; b++) {
        uint64_t m = sm[b - base], w;
        uint32_t cnt;
        if (b == rs >> 6)
            m &= ~(uint64_t)0 << (rs & 63);
        if (b == eb)
            m &= ~(uint64_t)0 >> (63 - ((end - 1) & 63));
        cnt = (uint32_t)pop(m, lv);
        /* the wanted ranks among this block's separators */
        w = col < 64 ? want >> col : 0;
        if (cnt < 64)
            w &= ((uint64_t)1 << cnt) - 1;
        if (w) {
#if CSV_X86
            if (lv == LV_PDEP) {
                for (uint64_t x = pdep64(w, m); x; x &= x - 1)
                    at[k++] = (uint32_t)(b * 64) + (uint32_t)__builtin_ctzll(x);
            } else
#endif
            {
                for (uint32_t xi = 0; w; w &= w - 1) {
                    for (uint32_t r = (uint32_t)__builtin_ctzll(w); xi < r; xi++)
                        m &= m - 1;
                    at[k++] = (uint32_t)(b * 64) + (uint32_t)__builtin_ctzll(m);
                }
            }
        }
        col += cnt;
    }
    return col;
}

typedef size_t (*stage1_fn)(struct stage1 *, const unsigned char *, size_t, size_t);
typedef uint32_t (*walk_fn)(const uint64_t *, size_t, size_t, size_t, const uint32_t *, int,
                            uint32_t *);
typedef uint32_t (*walk_bits_fn)(const uint64_t *, size_t, size_t, size_t, uint64_t, uint32_t *);

static size_t stage1_portable(struct stage1 *s, const unsigned char *b, size_t off, size_t nblk)
{
    return stage1(s, b, off, nblk, LV_PORTABLE);
}

static uint32_t walk_portable(const uint64_t *sm, size_t base, size_t rs, size_t end,
                              const uint32_t *need, int nneed, uint32_t *at)
{
    return walk(sm, base, rs, end, need, nneed, at, LV_PORTABLE);
}

static uint32_t walk_bits_portable(const uint64_t *sm, size_t base, size_t rs, size_t end,
                                   uint64_t want, uint32_t *at)
{
    return walk_bits(sm, base, rs, end, want, at, LV_PORTABLE);
}

#if CSV_X86
static size_t stage1_sse2(struct stage1 *s, const unsigned char *b, size_t off, size_t nblk)
{
    return stage1(s, b, off, nblk, LV_SSE2);
}

static TARGET_AVX2 size_t stage1_avx2(struct stage1 *s, const unsigned char *b, size_t off,
                                      size_t nblk)
{
    return stage1(s, b, off, nblk, LV_AVX2);
}

static TARGET_AVX2 uint32_t walk_avx2(const uint64_t *sm, size_t base, size_t rs, size_t end,
                                      const uint32_t *need, int nneed, uint32_t *at)
{
    return walk(sm, base, rs, end, need, nneed, at, LV_AVX2);
}

static TARGET_AVX2 uint32_t walk_bits_avx2(const uint64_t *sm, size_t base, size_t rs, size_t end,
                                           uint64_t want, uint32_t *at)
{
    return walk_bits(sm, base, rs, end, want, at, LV_AVX2);
}

static TARGET_PDEP uint32_t walk_bits_pdep(const uint64_t *sm, size_t base, size_t rs, size_t end,
                                           uint64_t want, uint32_t *at)
{
    return walk_bits(sm, base, rs, end, want, at, LV_PDEP);
}
#endif

/* The scanner's state between passes. */
struct scan {
    const char *p;
    size_t n;
    uint64_t first_line;
    struct stage1 s1;
    walk_fn walk;           /* the wanted separators: any indices */
    walk_bits_fn walk_bits; /* below 64, as the bits of want (NULL: not so) */
    uint64_t want;
    size_t smcap;       /* room in s1.sm */
    size_t rs;          /* where the current record starts */
    uint64_t lf_before; /* LFs before rs (quoted ones too) */
    size_t blocks;      /* blocks stage 1 has done */
    uint64_t ended;     /* LFs that ended records (blank lines too) */
    int nmap;
    int mcol[MAX_SLOTS], mslot[MAX_SLOTS];  /* wanted columns, ascending, and their slots */
    int mstart[MAX_SLOTS], mend[MAX_SLOTS]; /* the index in need of the separators around */
    int nneed;
    uint32_t need[2 * MAX_SLOTS]; /* separators around wanted fields, by index, ascending */
    uint32_t at[2 * MAX_SLOTS];   /* their positions in the record at hand */
    struct rbi_csv_span span[MAX_SLOTS];
    rbi_csv_row_fn fn;
    void *ctx;
    uint64_t records;
    uint32_t ends[ENDS];
    uint64_t endq[ENDS];
    uint64_t endqc[ENDS];
    uint8_t endqf[ENDS];
    uint64_t qring[QRING];
    uint64_t stack[SM_STACK];
};

/* True if p[fs..fe) holds a '"': from the quote masks (blocks at 'lo' and after are kept),
 * or the bytes for a field older than that. */
static bool has_quote(const struct scan *sc, size_t lo, size_t fs, size_t fe)
{
    size_t b0 = fs >> 6, b1 = (fe - 1) >> 6;

    if (fe <= fs)
        return false;
    if (b0 < lo)
        return memchr(sc->p + fs, '"', fe - fs) != NULL;
    if (b0 == b1)
        return (sc->qring[b0 & (QRING - 1)] >> (fs & 63) &
                (~(uint64_t)0 >> (63 - ((fe - 1 - fs) & 63)))) != 0;
    if (sc->qring[b0 & (QRING - 1)] >> (fs & 63))
        return true;
    for (size_t b = b0 + 1; b < b1; b++)
        if (sc->qring[b & (QRING - 1)])
            return true;
    return (sc->qring[b1 & (QRING - 1)] & (~(uint64_t)0 >> (63 - ((fe - 1) & 63)))) != 0;
}

/*
 * One record, p[rs..end) (end: its LF, or the end of the data), whose columns qc (and past
 * 63, if qf) hold a quote. Only the wanted columns are looked at.
 */
static rb_status emit_row(struct scan *sc, size_t end, uint64_t qc, bool qf, uint64_t *fail,
                          rb_error *err)
{
    const char *p = sc->p;
    struct rbi_csv_row row;
    size_t rs = sc->rs, rend = end, lo;
    int nf;

    if (rend > rs && p[rend - 1] == '\r')
        rend--;
    nf = 1 + (int)(sc->walk_bits
                       ? sc->walk_bits(sc->s1.sm, sc->s1.base, rs, end, sc->want, sc->at)
                       : sc->walk(sc->s1.sm, sc->s1.base, rs, end, sc->need, sc->nneed, sc->at));
    if (nf == 1 && rend == rs)
        return RB_OK; /* a blank line */
    lo = sc->blocks > QRING - 1 ? sc->blocks - (QRING - 1) : 0;
    row.quoted = 0;
    for (int k = 0; k < sc->nmap; k++) {
        int col = sc->mcol[k];
        struct rbi_csv_span *f = &sc->span[sc->mslot[k]];
        size_t fs, fe;
        if (col >= nf) {
            f->p = p + rend;
            f->len = 0;
            continue;
        }
        fs = col == 0 ? rs : (size_t)sc->at[sc->mstart[k]] + 1;
        fe = col == nf - 1 ? rend : (size_t)sc->at[sc->mend[k]];
        f->p = p + fs;
        f->len = fe - fs;
        if (col < 64 ? (qc >> col) & 1 : qf && has_quote(sc, lo, fs, fe))
            row.quoted |= (uint64_t)1 << sc->mslot[k];
    }
    row.f = sc->span;
    row.nfields = nf;
    row.line = sc->first_line + sc->lf_before;
    row.raw = p + rs;
    row.rawlen = rend - rs;
    sc->records++;
    *fail = row.line;
    return sc->fn(sc->ctx, &row, fail, err);
}

/* The records whose ends the last stage-1 pass found. */
static rb_status emit_ends(struct scan *sc, uint64_t *fail, rb_error *err)
{
    for (size_t j = 0; j < sc->s1.nends; j++) {
        size_t end = sc->ends[j];
        rb_status rc = emit_row(sc, end, sc->endqc[j], sc->endqf[j], fail, err);
        if (rc != RB_OK)
            return rc;
        sc->rs = end + 1;
        /* the LFs before the next record: this one's, those of the records before, and
         * the quoted ones before this LF */
        sc->ended++;
        sc->lf_before = sc->ended + sc->endq[j];
    }
    sc->s1.nends = 0;
    return RB_OK;
}

/* Room in the block masks for nblk more blocks from block 'next': drop those before the
 * current record, or grow. */
static rb_status sm_room(struct scan *sc, size_t next, size_t nblk)
{
    struct stage1 *s = &sc->s1;
    size_t keep = sc->rs >> 6; /* the current record's first block */

    if (next + nblk - s->base <= sc->smcap)
        return RB_OK;
    if (keep > s->base) {
        memmove(s->sm, s->sm + (keep - s->base), (next - keep) * sizeof(*s->sm));
        s->base = keep;
    }
    if (next + nblk - s->base > sc->smcap) {
        size_t cap = sc->smcap * 2;
        uint64_t *nsm;
        while (next + nblk - s->base > cap)
            cap *= 2;
        if (s->sm == sc->stack) {
            nsm = rbi_malloc(cap * sizeof(*nsm));
            if (nsm)
                memcpy(nsm, sc->stack, (next - s->base) * sizeof(*nsm));
        } else {
            nsm = rbi_realloc(s->sm, cap * sizeof(*nsm));
        }
        if (!nsm)
            return RB_NOMEM;
        s->sm = nsm;
        sc->smcap = cap;
    }
    return RB_OK;
}

rb_status rbi_csv_scan(const char *p, size_t n, uint64_t first_line,
                       const struct rbi_csv_layout *lay, rbi_csv_row_fn fn, void *ctx,
                       struct rbi_csv_scan_result *res, rb_error *err)
{
    stage1_fn pass = stage1_portable;
    struct scan *sc;
    unsigned char tail[64];
    uint64_t fail = 0;
    size_t off = 0, full = n & ~(size_t)63;
    rb_status rc = RB_OK;

    res->records = 0;
    res->fail_line = 0;
    if (lay->nslots > MAX_SLOTS || n > UINT32_MAX - 64)
        return rbi_error_set(err, RB_MISUSE, "rbi_csv_scan: too many columns or bytes");
    sc = rbi_malloc(sizeof(*sc));
    if (!sc)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    memset(&sc->s1, 0, sizeof(sc->s1));
    sc->walk = walk_portable;
    sc->walk_bits = walk_bits_portable;
#if CSV_X86
    switch (level()) {
    case LV_PDEP:
        pass = stage1_avx2;
        sc->walk = walk_avx2;
        sc->walk_bits = walk_bits_pdep;
        break;
    case LV_AVX2:
        pass = stage1_avx2;
        sc->walk = walk_avx2;
        sc->walk_bits = walk_bits_avx2;
        break;
    case LV_SSE2:
        pass = stage1_sse2;
        break;
    default:
        break;
    }
#endif
    sc->p = p;
    sc->n = n;
    sc->first_line = first_line;
    sc->s1.sm = sc->stack;
    sc->smcap = SM_STACK;
    sc->s1.ends = sc->ends;
    sc->s1.endq = sc->endq;
    sc->s1.endqc = sc->endqc;
    sc->s1.endqf = sc->endqf;
    sc->s1.qring = sc->qring;
    sc->s1.nul = SIZE_MAX;
    sc->rs = 0;
    sc->lf_before = sc->ended = 0;
    sc->blocks = 0;
    sc->nmap = 0;
    sc->nneed = 0;
    sc->fn = fn;
    sc->ctx = ctx;
    sc->records = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        sc->span[i].p = NULL;
        sc->span[i].len = 0;
    }
    for (int i = 0; i < lay->ncols && sc->nmap < MAX_SLOTS; i++) {
        if (lay->colmap[i] >= 0 && lay->colmap[i] < MAX_SLOTS) {
            int k = sc->nmap++;
            sc->mcol[k] = i;
            sc->mslot[k] = lay->colmap[i];
            /* the separators around it: i - 1 (none for the first field) and i */
            if (i > 0 && (sc->nneed == 0 || sc->need[sc->nneed - 1] != (uint32_t)i - 1))
                sc->need[sc->nneed++] = (uint32_t)i - 1;
            sc->mstart[k] = sc->nneed - 1;
            sc->need[sc->nneed++] = (uint32_t)i;
            sc->mend[k] = sc->nneed - 1;
        }
    }
    sc->want = 0;
    for (int i = 0; i < sc->nneed; i++) {
        if (sc->need[i] >= 64) {
            sc->walk_bits = NULL; /* the general walk then */
            break;
        }
        sc->want |= (uint64_t)1 << sc->need[i];
    }
    while (off < n) {
        size_t did, nblk = off < full ? (full - off) >> 6 : 1;
        if (nblk > WIN_BLOCKS)
            nblk = WIN_BLOCKS;
        if (sm_room(sc, off >> 6, nblk) != RB_OK) {
            rc = rbi_error_set(err, RB_NOMEM, "out of memory");
            goto out;
        }
        if (off < full) {
            did = pass(&sc->s1, (const unsigned char *)p + off, off, nblk);
            off += did * 64;
        } else { /* the last bytes, padded with spaces (no separators, no quotes) */
            memcpy(tail, p + off, n - off);
            memset(tail + (n - off), ' ', 64 - (n - off));
            did = pass(&sc->s1, tail, off, 1);
            if (did)
                off = n;
        }
        sc->blocks += did;
        rc = emit_ends(sc, &fail, err);
        if (rc != RB_OK)
            goto out;
        if (sc->s1.nul != SIZE_MAX) {
            size_t z = sc->s1.nul;
            fail = first_line + sc->lf_before;
            for (size_t i = sc->rs; i < z; i++)
                fail += p[i] == '\n';
            rc = rbi_error_set(err, RB_SYNTAX, "NUL byte: binary data, not CSV text");
            goto out;
        }
    }
    if (sc->rs < n) { /* a last record without its line end */
        if (sc->s1.inq) {
            fail = first_line + sc->lf_before;
            rc = rbi_error_set(err, RB_SYNTAX, "unterminated quoted field");
            goto out;
        }
        rc = emit_row(sc, n, sc->s1.qc, sc->s1.qf, &fail, err);
    }
out:
    res->records = sc->records;
    if (rc != RB_OK)
        res->fail_line = fail;
    if (sc->s1.sm != sc->stack)
        rbi_free(sc->s1.sm);
    rbi_free(sc);
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
    rc = rbi_csv_scan(c->data, c->len, c->line, &d->lay, d->job->row, wctx, &res, &e);
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
    p = rbi_realloc(c->data, want + PAD);
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
    if (src->defer_hash) /* the header's bytes, before any of the records' */
        src_hash(src, c->data, used);
    memmove(c->data, c->data + used, *n - used);
    *n -= used;
    return RB_OK;
}

static rb_status drv_setup(struct drv *d, int nthreads, size_t chunk, rb_error *err)
{
    d->nbuf = nthreads + 2;
    d->bufs = rbi_malloc((size_t)d->nbuf * sizeof(*d->bufs));
    d->freeq = rbi_malloc((size_t)d->nbuf * sizeof(int));
    d->workq = rbi_malloc((size_t)d->nbuf * sizeof(int));
    if (!d->bufs || !d->freeq || !d->workq)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    memset(d->bufs, 0, (size_t)d->nbuf * sizeof(*d->bufs));
    for (int i = 0; i < d->nbuf; i++) {
        d->bufs[i].data = rbi_malloc(chunk + PAD);
        if (!d->bufs[i].data)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        d->bufs[i].cap = chunk;
        d->freeq[d->nfree++] = i;
    }
    return RB_OK;
}

static void drv_teardown(struct drv *d)
{
    if (d->bufs)
        for (int i = 0; i < d->nbuf; i++)
            rbi_free(d->bufs[i].data);
    rbi_free(d->bufs);
    rbi_free(d->freeq);
    rbi_free(d->workq);
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
 * rbi_csv_cut() of p[0..n), a plain file's bytes from offset off on; those of them not
 * hashed yet (all but what the last cut left over) are hashed in the same pass, so the
 * bytes come from memory once for both. Other sources are hashed as they are read.
 */
static void cut_hashing(struct rbi_src *s, const char *p, size_t n, uint64_t off, size_t *cut,
                        uint64_t *nl, bool *open)
{
    uint64_t q = 0, l = 0, q1, l1;
    size_t h;

    if (!s->defer_hash) {
        rbi_csv_cut(p, n, cut, nl, open);
        return;
    }
    rb_assert(s->hashed >= off);
    h = s->hashed - off < n ? (size_t)(s->hashed - off) : n;
    count_qn(p, h, &q, &l);
    if (h < n) {
        count_hash(&s->h, p + h, n - h, &q1, &l1);
        s->hashed += n - h;
        q += q1;
        l += l1;
    }
    cut_back(p, n, q, l, cut, nl, open);
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
    uint64_t seq = 0, off = src->hashed; /* the file offset of the buffer (plain files) */
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
        cut_hashing(src, c->data, n, off, &cut, &nl, &open);
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
            char *p = rbi_realloc(carry, carry_len);
            if (!p) {
                rc = rbi_error_set(&e, RB_NOMEM, "out of memory");
                goto out_fail;
            }
            carry = p;
            carry_cap = carry_len;
        }
        if (carry_len)
            memcpy(carry, c->data + cut, carry_len);
        c->len = cut;
        off += cut;
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
    rbi_free(carry);
    return;

out_fail:
    put_free(d, idx);
    note_fail(d, seq, rc, e.msg, false, 0);
    rbi_free(carry);
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
    size_t n = 0;
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
    src->defer_hash = !job->gzip; /* hashed while the cut counts (cut_hashing) */
    d.src = src;
    rc = drv_setup(&d, nthreads, chunk, err);
    if (rc != RB_OK)
        goto out;
    idx = d.freeq[--d.nfree];
    rc = read_header(&d, src, &d.bufs[idx], &n, &eof, &line, err);
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
