/*
 * rb_int.h -- private declarations shared by the files of engine/.
 *
 * Provides: the allocation seam (rbi_malloc & co.), the growable buffer, the record codec,
 * error helpers, and the thin key/value layer over LMDB that every module uses instead of
 * calling LMDB itself.
 * Uses: include/rebill.h.
 * Must never: be included by the CLI for anything but these helpers, or expose an LMDB type;
 * only store.c includes lmdb.h.
 */
#ifndef RB_INT_H
#define RB_INT_H

#include "rebill.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RBI_FUNC __attribute__((visibility("hidden"))) extern
#define RBI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RBI_FUNC extern
#define RBI_PRINTF(a, b)
#endif

#ifdef RB_DEBUG
#include <assert.h>
#define rb_assert(x) assert(x)
#else
#define rb_assert(x) ((void)0)
#endif
/* Defensive checks that should never fire: true/false in release, asserted in debug. */
#define RB_ALWAYS(x) (rb_assert(x), (x))
#define RB_NEVER(x) (rb_assert(!(x)), (x))

#define RB_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/* {===================================================================================
 * Allocation seam (alloc.c): the one place malloc and free appear.
 * rbi_alloc_fail_after(n) makes the (n+1)th allocation from now fail (torture tests);
 * a negative n switches failures off.
 * =================================================================================== */
RBI_FUNC void *rbi_malloc(size_t n);
RBI_FUNC void *rbi_calloc(size_t n, size_t size);
RBI_FUNC void *rbi_realloc(void *p, size_t n);
RBI_FUNC void rbi_free(void *p);
RBI_FUNC char *rbi_strdup(const char *s);
RBI_FUNC void rbi_alloc_fail_after(long n);
RBI_FUNC long rbi_alloc_count(void);

/* {===================================================================================
 * Growable buffer (buf.c). Always NUL-terminated when data != NULL.
 * =================================================================================== */
struct rb_buf {
    char *data;
    size_t len;
    size_t cap;
};
RBI_FUNC rb_status rbi_buf_reserve(struct rb_buf *b, size_t extra);
RBI_FUNC rb_status rbi_buf_append(struct rb_buf *b, const void *p, size_t n);
RBI_FUNC rb_status rbi_buf_puts(struct rb_buf *b, const char *s);
RBI_FUNC rb_status rbi_buf_printf(struct rb_buf *b, const char *fmt, ...) RBI_PRINTF(2, 3);
RBI_FUNC void rbi_buf_reset(struct rb_buf *b);

/* A pool (buf.c): pieces of memory cut from blocks (4 KiB, then each twice the last, up to
 * 64 KiB, or the piece's size) and freed all at once; zero-initialized is empty. For strings
 * and arrays that live exactly as long as their owner (a plan, a priced result, a string
 * table). */
struct rbi_pool_block;
struct rbi_pool {
    struct rbi_pool_block *head;
};
/* n bytes aligned to 8, or NULL when out of memory. */
RBI_FUNC void *rbi_pool_alloc(struct rbi_pool *p, size_t n);
/* A copy of s[0..n) and a NUL (not aligned), or NULL when out of memory. */
RBI_FUNC char *rbi_pool_strndup(struct rbi_pool *p, const char *s, size_t n);
/* Free every block; the pool is empty again. */
RBI_FUNC void rbi_pool_release(struct rbi_pool *p);
RBI_FUNC void rbi_buf_release(struct rb_buf *b);

/* {===================================================================================
 * Errors (status.c)
 * =================================================================================== */
/* Fill *err (if not NULL) and return code. */
RBI_FUNC rb_status rbi_error_set(rb_error *err, rb_status code, const char *fmt, ...)
    RBI_PRINTF(3, 4);
/* Copy a C string into a fixed field; false if it does not fit. */
RBI_FUNC bool rbi_strlcpy(char *dst, const char *src, size_t cap);
/* Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), its code point in *cp;
 * 0 if there is none (utf8.c). */
RBI_FUNC size_t rbi_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* Check an org id for a message naming its role (`what`); `cap` bounds the read of a
 * fixed-size field (SIZE_MAX otherwise). RB_OK or RB_INVALID with the message set (org.c). */
RBI_FUNC rb_status rbi_org_check_id(rb_txn *txn, const char *what, const char *id, size_t cap);
/* org must be a valid id of an existing organization (its record in *out when out is not
 * NULL): RB_INVALID or RB_NOTFOUND ("no organization \"o-...\"") with the store's message. */
RBI_FUNC rb_status rbi_org_require(rb_txn *txn, const char *org, rb_org *out);

/* {===================================================================================
 * Record codec (record.c): the byte layout of stored values (docs/storage.md).
 * A record is a version byte followed by fields; integers are 8-byte big-endian,
 * strings a 4-byte big-endian length and the bytes, decimals 16 bytes of coefficient
 * (big-endian two's complement) and one scale byte.
 * Readers never read past the end: a short or malformed record sets r->bad.
 * =================================================================================== */
struct rbi_rec_reader {
    const unsigned char *p;
    const unsigned char *end;
    int version;
    bool bad;
};
RBI_FUNC rb_status rbi_rec_begin(struct rb_buf *b, int version);
RBI_FUNC rb_status rbi_rec_put_i64(struct rb_buf *b, int64_t v);
RBI_FUNC rb_status rbi_rec_put_str(struct rb_buf *b, const char *s);
RBI_FUNC rb_status rbi_rec_put_bytes(struct rb_buf *b, const void *p, size_t n);
RBI_FUNC rb_status rbi_rec_put_dec(struct rb_buf *b, const rb_dec *d);
RBI_FUNC void rbi_rec_read(struct rbi_rec_reader *r, const void *data, size_t len);
RBI_FUNC int64_t rbi_rec_get_i64(struct rbi_rec_reader *r);
/* Copies into dst (cap bytes with NUL); sets bad if it does not fit. */
RBI_FUNC void rbi_rec_get_str(struct rbi_rec_reader *r, char *dst, size_t cap);
/* Borrows: *p points into the record. */
RBI_FUNC size_t rbi_rec_get_bytes(struct rbi_rec_reader *r, const void **p);
RBI_FUNC rb_dec rbi_rec_get_dec(struct rbi_rec_reader *r);
/* Big-endian helpers for keys. */
RBI_FUNC void rbi_be64_put(unsigned char *p, uint64_t v);
RBI_FUNC uint64_t rbi_be64_get(const unsigned char *p);
RBI_FUNC void rbi_be32_put(unsigned char *p, uint32_t v);
RBI_FUNC uint32_t rbi_be32_get(const unsigned char *p);

/* {===================================================================================
 * Key/value layer over LMDB (store.c). The sub-databases, named in docs/storage.md.
 * Add a kind by adding to this enum AND to the name table in store.c.
 * =================================================================================== */
enum rbi_db {
    RBI_DB_META = 0,   /* "meta": schema version, counters, settings */
    RBI_DB_ORGS,       /* "orgs": org id -> org record */
    RBI_DB_ACCOUNTS,   /* "accounts": account id -> account record */
    RBI_DB_MEMBERS,    /* "members": account id + be64(since) -> membership record */
    RBI_DB_TRANSFERS,  /* "transfers": transfer id -> transfer record */
    RBI_DB_TEVENTS,    /* "transfer_events": transfer id + NUL + be32(seq) -> event */
    RBI_DB_USAGE,      /* "usage": daily aggregates (usage.c) */
    RBI_DB_MANIFESTS,  /* "manifests": import manifests (usage.c) */
    RBI_DB_PLANS,      /* "plans": org NUL kind be32(...) -> plan assignment or event (plan.c) */
    RBI_DB_RULES,      /* "rules": be64(content hash) -> rule file (plan.c) */
    RBI_DB_INVOICES,   /* "invoices": issuer NUL number -> frozen invoice (invoice.c) */
    RBI_DB_INVINDEX,   /* "invoice_index": by customer-month, void markers (invoice.c) */
    RBI_DB_PROFILES,   /* "profiles": org id -> invoicing profile (invoice.c); org NUL 'l' -> its
                          stored layout (layout.c) */
    RBI_DB__COUNT
};

struct rbi_val {
    const void *data; /* borrowed from the map: valid until the next write or txn end */
    size_t len;
};

#define RBI_NOOVERWRITE 0x1 /* rbi_put: fail with RB_EXISTS if the key exists */
#define RBI_APPEND 0x2      /* rbi_put: key sorts after every existing key (bulk load) */

/* Look up a key. RB_OK or RB_NOTFOUND (message not set: it is not an error). */
RBI_FUNC rb_status rbi_get(rb_txn *txn, enum rbi_db db, const void *key, size_t klen,
                           struct rbi_val *val);
RBI_FUNC rb_status rbi_put(rb_txn *txn, enum rbi_db db, const void *key, size_t klen,
                           const void *val, size_t vlen, unsigned flags);
/* RB_OK or RB_NOTFOUND. */
RBI_FUNC rb_status rbi_del(rb_txn *txn, enum rbi_db db, const void *key, size_t klen);

/* Return RB_OK to go on, RBI_STOP to stop (rbi_scan then returns RB_OK), anything else
 * to stop and have rbi_scan return it. */
#define RBI_STOP (-1)
typedef rb_status (*rbi_scan_fn)(const struct rbi_val *key, const struct rbi_val *val, void *ctx);
/* Visit every key that starts with prefix (plen 0: every key), in key order. Do not write
 * to the same sub-database from fn. */
RBI_FUNC rb_status rbi_scan(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen,
                            rbi_scan_fn fn, void *ctx);
/* Visit every key >= from (flen 0: every key), in key order. */
RBI_FUNC rb_status rbi_scan_from(rb_txn *txn, enum rbi_db db, const void *from, size_t flen,
                                 rbi_scan_fn fn, void *ctx);
/* Visit keys in [from, to) in reverse order from the last one below `to`; used to find "the
 * latest entry at or before X". */
RBI_FUNC rb_status rbi_scan_back(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen,
                                 const void *below, size_t blen, rbi_scan_fn fn, void *ctx);
/* Delete every key that starts with prefix; *n (may be NULL) gets the count. */
RBI_FUNC rb_status rbi_del_prefix(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen,
                                  size_t *n);
/* Next value of a named counter in "meta" (starts at 1). */
RBI_FUNC rb_status rbi_next_seq(rb_txn *txn, const char *name, uint64_t *out);

/* The usage epoch (store.c): a counter in "meta" (absent: 0) bumped in the same transaction
 * as every write that can change a month's attributed usage (the aggregates of an import,
 * account memberships; once per transaction, however many such writes), so that equal
 * epochs of one store mean equal usage. A cache of usage (bill.c) is valid while the epoch
 * it was loaded at is the current one. A transaction that bumped it reads an epoch that is
 * not committed, and that an abort gives back to the next writer: is_pending says so, and no
 * cache may keep what such a transaction loads. */
RBI_FUNC rb_status rbi_usage_epoch(rb_txn *txn, uint64_t *out);
RBI_FUNC rb_status rbi_usage_epoch_bump(rb_txn *txn);
RBI_FUNC bool rbi_usage_epoch_is_pending(const rb_txn *txn);
/* A number no other store handle opened by this process has (1, 2, ...): what tells a cache
 * which store it was loaded from, even if a closed handle's memory is reused. */
RBI_FUNC uint64_t rbi_store_serial(const rb_store *s);
/* rb_price_org() with a cache of the month's usage (bill.c; NULL: rb_price_org()). */
RBI_FUNC rb_status rbi_price_org_cached(rb_txn *txn, const char *org, int month,
                                        const rb_price_opts *opts, rb_usage_cache *cache,
                                        rb_priced **out);
/* For the tests (bill.c): how many times the cache loaded a month; whether it holds none. */
RBI_FUNC long rbi_usage_cache_loads(const rb_usage_cache *c);
RBI_FUNC bool rbi_usage_cache_is_empty(const rb_usage_cache *c);

/* Set the store's message from a transaction and return code. (A failed rbi_put/rbi_del
 * has already marked the transaction abort-only; a refusal reported here does not, the
 * caller simply returns the code and rb_store_update aborts.) */
RBI_FUNC rb_status rbi_txn_error(rb_txn *txn, rb_status code, const char *fmt, ...)
    RBI_PRINTF(3, 4);
RBI_FUNC rb_status rbi_store_error(rb_store *s, rb_status code, const char *fmt, ...)
    RBI_PRINTF(3, 4);

#endif /* RB_INT_H */
