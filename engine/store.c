/*
 * store.c -- the LMDB environment, transactions, and the key/value layer (rbi_get & co.).
 *
 * Provides: rb_store_open/close, rb_store_update/view (one transaction per call, with the
 * map grown and the work retried on MDB_MAP_FULL), the schema version check, the logical
 * dump, settings in "meta", and the rbi_* key/value calls every other module uses.
 * Uses: LMDB (the only file that includes lmdb.h).
 * Must never: leave a transaction half-committed, let an LMDB code escape unmapped, or
 * hand out pointers into the map beyond a transaction.
 */
#include "rb_int.h"

#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INITIAL_MAPSIZE ((size_t)64 << 20) /* 64 MiB; doubles when full */
#define MAX_GROWTHS 40

static atomic_uint_fast64_t store_serials; /* handles opened so far, in any thread */

static const char *const db_names[RBI_DB__COUNT] = {
    [RBI_DB_META] = "meta",
    [RBI_DB_ORGS] = "orgs",
    [RBI_DB_ACCOUNTS] = "accounts",
    [RBI_DB_MEMBERS] = "members",
    [RBI_DB_TRANSFERS] = "transfers",
    [RBI_DB_TEVENTS] = "transfer_events",
    [RBI_DB_USAGE] = "usage",
    [RBI_DB_MANIFESTS] = "manifests",
    [RBI_DB_PLANS] = "plans",
    [RBI_DB_RULES] = "rules",
    [RBI_DB_INVOICES] = "invoices",
    [RBI_DB_INVINDEX] = "invoice_index",
    [RBI_DB_PROFILES] = "profiles",
};

struct rb_store {
    MDB_env *env;
    MDB_dbi dbi[RBI_DB__COUNT];
    size_t mapsize;
    bool rdonly;
    bool panicked;       /* MDB_PANIC seen: every call fails until closed */
    int last_mdb_rc;     /* raw LMDB code of the last failure, for logs */
    uint64_t serial;     /* this handle among every one the process opened (rbi_store_serial) */
    char path[1024];
    char errmsg[2048];
};

struct rb_txn {
    MDB_txn *t;
    struct rb_store *s;
    bool rdonly;
    bool failed; /* a write failed: abort-only */
    bool full;   /* MDB_MAP_FULL seen: rb_store_update grows the map and retries */
    bool usage_changed; /* rbi_usage_epoch_bump() was called: the epoch read is not committed */
};

/* {===================================================================================
 * Errors
 * =================================================================================== */

static rb_status map_mdb(struct rb_store *s, int rc)
{
    if (s)
        s->last_mdb_rc = rc;
    switch (rc) {
    case MDB_SUCCESS:
        return RB_OK;
    case MDB_NOTFOUND:
        return RB_NOTFOUND;
    case MDB_KEYEXIST:
        return RB_EXISTS;
    case MDB_MAP_FULL:
        return RB_FULL;
    case ENOMEM:
        return RB_NOMEM;
    case EACCES:
        return RB_READONLY;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return RB_CORRUPT;
    case MDB_PANIC:
        if (s)
            s->panicked = true;
        return RB_CORRUPT;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_MAP_RESIZED:
        return RB_BUSY;
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
        return RB_MISUSE;
    default:
        return RB_IO;
    }
}

static rb_status vseterr(struct rb_store *s, rb_status code, const char *fmt, va_list ap)
{
    if (s)
        vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    return code;
}

rb_status rbi_store_error(rb_store *s, rb_status code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vseterr(s, code, fmt, ap);
    va_end(ap);
    return code;
}

rb_status rbi_txn_error(rb_txn *txn, rb_status code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vseterr(txn->s, code, fmt, ap);
    va_end(ap);
    if (code == RB_FULL)
        txn->full = true;
    return code;
}

const char *rb_errmsg(const rb_store *s)
{
    if (!s)
        return "no store";
    return s->errmsg[0] ? s->errmsg : "no error";
}

/* A failed LMDB call inside a transaction: record it and make the txn abort-only. */
static rb_status txn_fail(struct rb_txn *txn, int rc, const char *what, enum rbi_db db)
{
    rb_status code = map_mdb(txn->s, rc);

    if (code == RB_FULL)
        txn->full = true;
    if (code != RB_NOTFOUND && code != RB_EXISTS)
        txn->failed = true;
    snprintf(txn->s->errmsg, sizeof(txn->s->errmsg), "cannot %s in '%s' of %s: %s", what,
             db_names[db], txn->s->path, mdb_strerror(rc));
    return code;
}

/* {===================================================================================
 * Open and close
 * =================================================================================== */

static rb_status open_dbis(struct rb_store *s, MDB_txn *t, bool create)
{
    for (int i = 0; i < RBI_DB__COUNT; i++) {
        int rc = mdb_dbi_open(t, db_names[i], create ? MDB_CREATE : 0, &s->dbi[i]);
        if (rc != MDB_SUCCESS)
            return rbi_store_error(s, map_mdb(s, rc), "cannot open sub-database '%s' of %s: %s",
                                   db_names[i], s->path, mdb_strerror(rc));
    }
    return RB_OK;
}

/* Check (and on a fresh database, write) the schema version. */
static rb_status check_schema(struct rb_store *s, MDB_txn *t, bool fresh)
{
    MDB_val k = {14, "schema_version"}, v;
    char buf[32];
    long ver;
    int rc;

    rc = mdb_get(t, s->dbi[RBI_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND && fresh) {
        int n = snprintf(buf, sizeof(buf), "%d", RB_SCHEMA_VERSION);
        v.mv_size = (size_t)n;
        v.mv_data = buf;
        rc = mdb_put(t, s->dbi[RBI_DB_META], &k, &v, 0);
        if (rc != MDB_SUCCESS)
            return rbi_store_error(s, map_mdb(s, rc), "cannot initialise %s: %s", s->path,
                                   mdb_strerror(rc));
        return RB_OK;
    }
    if (rc == MDB_NOTFOUND)
        return rbi_store_error(s, RB_CORRUPT, "%s is not a rebill database (no schema version)",
                               s->path);
    if (rc != MDB_SUCCESS)
        return rbi_store_error(s, map_mdb(s, rc), "cannot read schema version of %s: %s",
                               s->path, mdb_strerror(rc));
    if (v.mv_size == 0 || v.mv_size >= sizeof(buf))
        return rbi_store_error(s, RB_CORRUPT, "bad schema version record in %s", s->path);
    memcpy(buf, v.mv_data, v.mv_size);
    buf[v.mv_size] = '\0';
    ver = strtol(buf, NULL, 10);
    if (ver > RB_SCHEMA_VERSION)
        return rbi_store_error(s, RB_VERSION,
                               "%s has schema version %ld, newer than this rebill (%d): "
                               "upgrade rebill to open it",
                               s->path, ver, RB_SCHEMA_VERSION);
    if (ver < 1)
        return rbi_store_error(s, RB_CORRUPT, "bad schema version '%s' in %s", buf, s->path);
    /* ver < RB_SCHEMA_VERSION: migrations go here when version 2 exists. */
    return RB_OK;
}

/* True if the main database has no named sub-databases yet (a new file). */
static bool env_is_fresh(MDB_txn *t)
{
    MDB_dbi main;
    MDB_stat st;

    if (mdb_dbi_open(t, NULL, 0, &main) != MDB_SUCCESS)
        return false;
    if (mdb_stat(t, main, &st) != MDB_SUCCESS)
        return false;
    return st.ms_entries == 0;
}

static size_t initial_mapsize(void)
{
    /* Testing knob: a tiny map exercises the growth path. */
    const char *e = getenv("REBILL_INITIAL_MAPSIZE");
    if (e && *e) {
        unsigned long long v = strtoull(e, NULL, 10);
        if (v >= 32768)
            return (size_t)v;
    }
    return INITIAL_MAPSIZE;
}

rb_status rb_store_open(rb_store **out, const char *path, unsigned flags, rb_error *err)
{
    struct rb_store *s;
    struct stat st;
    MDB_txn *t;
    unsigned envflags = MDB_NOSUBDIR;
    rb_status rc;
    int mrc;
    bool fresh;

    *out = NULL;
    if (!path || !*path)
        return rbi_error_set(err, RB_INVALID, "empty database path");
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return rbi_error_set(err, RB_IO, "cannot open database '%s': %s", path,
                                 strerror(errno));
        if (!(flags & RB_OPEN_CREATE) || (flags & RB_OPEN_RDONLY))
            return rbi_error_set(err, RB_NOTFOUND, "no database at '%s'", path);
    } else if (S_ISDIR(st.st_mode)) {
        return rbi_error_set(err, RB_INVALID, "database path '%s' is a directory", path);
    }
    s = rbi_calloc(1, sizeof(*s));
    if (!s)
        return rbi_error_set(err, RB_NOMEM, "out of memory opening '%s'", path);
    rbi_strlcpy(s->path, path, sizeof(s->path));
    s->serial = atomic_fetch_add(&store_serials, 1) + 1;
    s->rdonly = (flags & RB_OPEN_RDONLY) != 0;
    if (s->rdonly)
        envflags |= MDB_RDONLY;
    s->mapsize = initial_mapsize();

    mrc = mdb_env_create(&s->env);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_maxdbs(s->env, RBI_DB__COUNT + 8);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_mapsize(s->env, s->mapsize);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_open(s->env, path, envflags, 0644);
    if (mrc != MDB_SUCCESS) {
        rc = rbi_error_set(err, map_mdb(s, mrc), "cannot open database '%s': %s", path,
                           mdb_strerror(mrc));
        goto out_close;
    }
    {
        MDB_envinfo info;
        if (mdb_env_info(s->env, &info) == MDB_SUCCESS)
            s->mapsize = info.me_mapsize;
    }
    mrc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &t);
    if (mrc != MDB_SUCCESS) {
        rc = rbi_error_set(err, map_mdb(s, mrc), "cannot read database '%s': %s", path,
                           mdb_strerror(mrc));
        goto out_close;
    }
    fresh = env_is_fresh(t);
    if (fresh && s->rdonly) {
        mdb_txn_abort(t);
        rc = rbi_error_set(err, RB_CORRUPT, "%s is not a rebill database", path);
        goto out_close;
    }
    if (!fresh) {
        /* An existing file: its schema decides before anything is created in it. */
        MDB_dbi meta;
        mrc = mdb_dbi_open(t, "meta", 0, &meta);
        if (mrc != MDB_SUCCESS) {
            mdb_txn_abort(t);
            rc = rbi_error_set(err, RB_CORRUPT, "%s is not a rebill database", path);
            goto out_close;
        }
        s->dbi[RBI_DB_META] = meta;
        rc = check_schema(s, t, false);
        if (rc != RB_OK) {
            mdb_txn_abort(t);
            rbi_error_set(err, rc, "%s", s->errmsg);
            goto out_close;
        }
    }
    rc = open_dbis(s, t, !s->rdonly);
    if (rc == RB_OK && fresh)
        rc = check_schema(s, t, true);
    if (rc != RB_OK) {
        mdb_txn_abort(t);
        rbi_error_set(err, rc, "%s", s->errmsg);
        goto out_close;
    }
    mrc = s->rdonly ? (mdb_txn_abort(t), MDB_SUCCESS) : mdb_txn_commit(t);
    if (mrc != MDB_SUCCESS) {
        rc = rbi_error_set(err, map_mdb(s, mrc), "cannot initialise '%s': %s", path,
                           mdb_strerror(mrc));
        goto out_close;
    }
    *out = s;
    return RB_OK;

out_close:
    mdb_env_close(s->env);
    rbi_free(s);
    return rc;
}

void rb_store_close(rb_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    rbi_free(s);
}

uint64_t rbi_store_serial(const rb_store *s)
{
    return s->serial;
}

rb_store *rb_txn_store(rb_txn *txn)
{
    return txn->s;
}

bool rb_txn_is_readonly(const rb_txn *txn)
{
    return txn->rdonly;
}

/* {===================================================================================
 * Transactions
 * =================================================================================== */

/* Test hook: pause between the work and the commit, so a test can kill the process
 * mid-transaction (tests/cli/test_crash.sh). */
static void maybe_pause_in_txn(void)
{
    const char *e = getenv("REBILL_TEST_PAUSE_IN_TXN");
    if (!e || !*e)
        return;
    fprintf(stderr, "rebill: paused inside write transaction\n");
    fflush(stderr);
    for (int i = 0; i < 600; i++)
        sleep(1);
}

static rb_status grow_map(struct rb_store *s)
{
    size_t want = s->mapsize * 2;
    int mrc = mdb_env_set_mapsize(s->env, want);

    if (mrc != MDB_SUCCESS)
        return rbi_store_error(s, map_mdb(s, mrc), "cannot grow database map of %s to %zu: %s",
                               s->path, want, mdb_strerror(mrc));
    s->mapsize = want;
    return RB_OK;
}

static rb_status run_txn(struct rb_store *s, bool rdonly, rb_txn_fn fn, void *ctx)
{
    for (int attempt = 0; attempt < MAX_GROWTHS; attempt++) {
        struct rb_txn txn = {NULL, s, rdonly, false, false, false};
        rb_status rc;
        int mrc;

        if (s->panicked)
            return rbi_store_error(s, RB_CORRUPT, "database %s failed earlier; reopen it",
                                   s->path);
        mrc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn.t);
        if (mrc == MDB_MAP_RESIZED) { /* another process grew the map: adopt its size */
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        if (mrc != MDB_SUCCESS)
            return rbi_store_error(s, map_mdb(s, mrc), "cannot begin transaction on %s: %s",
                                   s->path, mdb_strerror(mrc));
        rc = fn(&txn, ctx);
        if (rdonly) {
            mdb_txn_abort(txn.t);
            return rc;
        }
        if (rc == RB_OK && txn.failed && !txn.full)
            rc = RB_MISUSE; /* fn ignored a failed write: never commit it */
        if (rc != RB_OK || txn.full) {
            mdb_txn_abort(txn.t);
            if (txn.full) {
                rc = grow_map(s);
                if (rc != RB_OK)
                    return rc;
                continue;
            }
            return rc;
        }
        maybe_pause_in_txn();
        mrc = mdb_txn_commit(txn.t); /* consumes the handle, success or not */
        if (mrc == MDB_MAP_FULL) {
            rc = grow_map(s);
            if (rc != RB_OK)
                return rc;
            continue;
        }
        if (mrc != MDB_SUCCESS)
            return rbi_store_error(s, map_mdb(s, mrc), "cannot commit to %s: %s", s->path,
                                   mdb_strerror(mrc));
        return RB_OK;
    }
    return rbi_store_error(s, RB_FULL, "database %s is still full after growing its map",
                           s->path);
}

rb_status rb_store_update(rb_store *s, rb_txn_fn fn, void *ctx)
{
    if (!s)
        return RB_MISUSE;
    if (s->rdonly)
        return rbi_store_error(s, RB_READONLY, "database %s is open read-only", s->path);
    return run_txn(s, false, fn, ctx);
}

rb_status rb_store_view(rb_store *s, rb_txn_fn fn, void *ctx)
{
    if (!s)
        return RB_MISUSE;
    return run_txn(s, true, fn, ctx);
}

/* {===================================================================================
 * Key/value layer
 * =================================================================================== */

static rb_status check_txn(struct rb_txn *txn, bool write)
{
    if (!txn || !txn->t)
        return RB_MISUSE;
    if (txn->failed)
        return rbi_txn_error(txn, RB_MISUSE, "transaction failed earlier: %s", txn->s->errmsg);
    if (write && txn->rdonly)
        return rbi_txn_error(txn, RB_READONLY, "write in a read-only transaction");
    return RB_OK;
}

rb_status rbi_get(rb_txn *txn, enum rbi_db db, const void *key, size_t klen, struct rbi_val *val)
{
    MDB_val k = {klen, (void *)key}, v;
    rb_status rc = check_txn(txn, false);
    int mrc;

    if (rc != RB_OK)
        return rc;
    mrc = mdb_get(txn->t, txn->s->dbi[db], &k, &v);
    if (mrc == MDB_NOTFOUND)
        return RB_NOTFOUND;
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "read", db);
    val->data = v.mv_data;
    val->len = v.mv_size;
    return RB_OK;
}

rb_status rbi_put(rb_txn *txn, enum rbi_db db, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    unsigned mflags = 0;
    rb_status rc = check_txn(txn, true);
    int mrc;

    if (rc != RB_OK)
        return rc;
    if (flags & RBI_NOOVERWRITE)
        mflags |= MDB_NOOVERWRITE;
    if (flags & RBI_APPEND)
        mflags |= MDB_APPEND;
    mrc = mdb_put(txn->t, txn->s->dbi[db], &k, &v, mflags);
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "write", db);
    return RB_OK;
}

rb_status rbi_del(rb_txn *txn, enum rbi_db db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    rb_status rc = check_txn(txn, true);
    int mrc;

    if (rc != RB_OK)
        return rc;
    mrc = mdb_del(txn->t, txn->s->dbi[db], &k, NULL);
    if (mrc == MDB_NOTFOUND)
        return RB_NOTFOUND;
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "delete", db);
    return RB_OK;
}

static bool has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
    return plen == 0 || (k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0);
}

/* The scan of rbi_scan and rbi_scan_from: from the first key >= from (flen 0: the first key),
 * while keys start with prefix. */
static rb_status scan(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen,
                      const void *from, size_t flen, rbi_scan_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k = {flen, (void *)from}, v;
    rb_status rc = check_txn(txn, false);
    int mrc;

    if (rc != RB_OK)
        return rc;
    mrc = mdb_cursor_open(txn->t, txn->s->dbi[db], &cur);
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "scan", db);
    mrc = mdb_cursor_get(cur, &k, &v, flen ? MDB_SET_RANGE : MDB_FIRST);
    rc = RB_OK;
    while (mrc == MDB_SUCCESS && has_prefix(&k, prefix, plen)) {
        struct rbi_val kv = {k.mv_data, k.mv_size}, vv = {v.mv_data, v.mv_size};
        rc = fn(&kv, &vv, ctx);
        if (rc != RB_OK)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == RBI_STOP)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return txn_fail(txn, mrc, "scan", db);
    return RB_OK;
}

rb_status rbi_scan(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen, rbi_scan_fn fn,
                   void *ctx)
{
    return scan(txn, db, prefix, plen, prefix, plen, fn, ctx);
}

rb_status rbi_scan_from(rb_txn *txn, enum rbi_db db, const void *from, size_t flen,
                        rbi_scan_fn fn, void *ctx)
{
    return scan(txn, db, "", 0, from, flen, fn, ctx);
}

rb_status rbi_scan_back(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen,
                        const void *below, size_t blen, rbi_scan_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k = {blen, (void *)below}, v;
    rb_status rc = check_txn(txn, false);
    int mrc;

    if (rc != RB_OK)
        return rc;
    mrc = mdb_cursor_open(txn->t, txn->s->dbi[db], &cur);
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "scan", db);
    /* Position on the first key >= below, then step back once. */
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (mrc == MDB_SUCCESS)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    rc = RB_OK;
    while (mrc == MDB_SUCCESS && has_prefix(&k, prefix, plen)) {
        struct rbi_val kv = {k.mv_data, k.mv_size}, vv = {v.mv_data, v.mv_size};
        bool below_ok = k.mv_size < blen ? memcmp(k.mv_data, below, k.mv_size) <= 0
                                         : memcmp(k.mv_data, below, blen) < 0;
        if (below_ok) {
            rc = fn(&kv, &vv, ctx);
            if (rc != RB_OK)
                break;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (rc == RBI_STOP)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return txn_fail(txn, mrc, "scan", db);
    return RB_OK;
}

rb_status rbi_del_prefix(rb_txn *txn, enum rbi_db db, const void *prefix, size_t plen, size_t *n)
{
    MDB_cursor *cur;
    MDB_val k = {plen, (void *)prefix}, v;
    rb_status rc = check_txn(txn, true);
    size_t count = 0;
    int mrc;

    if (n)
        *n = 0;
    if (rc != RB_OK)
        return rc;
    mrc = mdb_cursor_open(txn->t, txn->s->dbi[db], &cur);
    if (mrc != MDB_SUCCESS)
        return txn_fail(txn, mrc, "delete", db);
    mrc = plen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == MDB_SUCCESS && has_prefix(&k, prefix, plen)) {
        mrc = mdb_cursor_del(cur, 0);
        if (mrc != MDB_SUCCESS)
            break;
        count++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (mrc == MDB_NOTFOUND || mrc == EINVAL)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return txn_fail(txn, mrc, "delete", db);
    if (n)
        *n = count;
    return RB_OK;
}

rb_status rbi_next_seq(rb_txn *txn, const char *name, uint64_t *out)
{
    char key[64];
    unsigned char buf[8];
    struct rbi_val v;
    uint64_t next = 1;
    int klen = snprintf(key, sizeof(key), "seq:%s", name);
    rb_status rc;

    rc = rbi_get(txn, RBI_DB_META, key, (size_t)klen, &v);
    if (rc == RB_OK && v.len == 8)
        next = rbi_be64_get(v.data) + 1;
    else if (rc != RB_OK && rc != RB_NOTFOUND)
        return rc;
    rbi_be64_put(buf, next);
    rc = rbi_put(txn, RBI_DB_META, key, (size_t)klen, buf, 8, 0);
    if (rc == RB_OK)
        *out = next;
    return rc;
}

/* {===================================================================================
 * The usage epoch: "meta" key usage:epoch, 8 bytes big-endian, absent = 0 (docs/storage.md)
 * =================================================================================== */

#define EPOCH_KEY "usage:epoch"

rb_status rbi_usage_epoch(rb_txn *txn, uint64_t *out)
{
    struct rbi_val v;
    rb_status rc = rbi_get(txn, RBI_DB_META, EPOCH_KEY, sizeof(EPOCH_KEY) - 1, &v);

    *out = 0;
    if (rc == RB_NOTFOUND)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    if (v.len != 8)
        return rbi_txn_error(txn, RB_CORRUPT, "bad '%s' in 'meta': %zu bytes, want 8", EPOCH_KEY,
                             v.len);
    *out = rbi_be64_get(v.data);
    return RB_OK;
}

/* Once per transaction: a second bump in the same one changes nothing a reader could see. */
rb_status rbi_usage_epoch_bump(rb_txn *txn)
{
    unsigned char buf[8];
    uint64_t e;
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    if (txn->usage_changed)
        return RB_OK;
    rc = rbi_usage_epoch(txn, &e);
    if (rc != RB_OK)
        return rc;
    rbi_be64_put(buf, e + 1);
    rc = rbi_put(txn, RBI_DB_META, EPOCH_KEY, sizeof(EPOCH_KEY) - 1, buf, 8, 0);
    if (rc == RB_OK)
        txn->usage_changed = true;
    return rc;
}

bool rbi_usage_epoch_is_pending(const rb_txn *txn)
{
    return txn->usage_changed;
}

/* {===================================================================================
 * Settings and dump
 * =================================================================================== */

rb_status rb_config_get_int(rb_txn *txn, const char *key, int64_t dflt, int64_t *out)
{
    char k[96], buf[32];
    struct rbi_val v;
    int klen = snprintf(k, sizeof(k), "config:%s", key);
    rb_status rc = rbi_get(txn, RBI_DB_META, k, (size_t)klen, &v);

    if (rc == RB_NOTFOUND) {
        *out = dflt;
        return RB_OK;
    }
    if (rc != RB_OK)
        return rc;
    if (v.len == 0 || v.len >= sizeof(buf))
        return rbi_txn_error(txn, RB_CORRUPT, "bad setting '%s'", key);
    memcpy(buf, v.data, v.len);
    buf[v.len] = '\0';
    *out = strtoll(buf, NULL, 10);
    return RB_OK;
}

rb_status rb_config_set_int(rb_txn *txn, const char *key, int64_t value)
{
    char k[96], buf[32];
    int klen = snprintf(k, sizeof(k), "config:%s", key);
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)value);

    return rbi_put(txn, RBI_DB_META, k, (size_t)klen, buf, (size_t)n, 0);
}

struct dump_ctx {
    const char *db;
    struct rb_buf line;
    void (*out)(const char *, size_t, void *);
    void *octx;
};

static rb_status dump_bytes(struct rb_buf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rb_status rc = (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\')
                           ? rbi_buf_append(b, p + i, 1)
                           : rbi_buf_printf(b, "\\x%02x", p[i]);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;
}

static rb_status dump_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct dump_ctx *d = ctx;
    rb_status rc;

    rbi_buf_reset(&d->line);
    rc = rbi_buf_printf(&d->line, "%s ", d->db);
    if (rc == RB_OK)
        rc = dump_bytes(&d->line, k->data, k->len);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&d->line, " ");
    if (rc == RB_OK)
        rc = dump_bytes(&d->line, v->data, v->len);
    if (rc == RB_OK)
        d->out(d->line.data, d->line.len, d->octx);
    return rc;
}

rb_status rb_store_dump(rb_txn *txn, void (*out)(const char *line, size_t len, void *ctx),
                        void *ctx)
{
    struct dump_ctx d = {NULL, {NULL, 0, 0}, out, ctx};
    rb_status rc = RB_OK;

    for (int i = 0; i < RBI_DB__COUNT && rc == RB_OK; i++) {
        d.db = db_names[i];
        rc = rbi_scan(txn, (enum rbi_db)i, NULL, 0, dump_one, &d);
    }
    rbi_buf_release(&d.line);
    return rc;
}
