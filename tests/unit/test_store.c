/*
 * test_store.c -- the LMDB store: open/create, schema version, transactions (all or
 * nothing, abort-only after a failed write), map growth, the key/value layer, the dump,
 * settings, and allocation failure during open.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static void fresh_path(const char *name)
{
    snprintf(path, sizeof(path), "%s/%s", dir, name);
}

static rb_status put_kv(rb_txn *txn, void *ctx)
{
    const char **kv = ctx;
    return rbi_put(txn, RBI_DB_META, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]), 0);
}

static rb_status get_kv(rb_txn *txn, void *ctx)
{
    const char **kv = ctx;
    struct rbi_val v;
    static char got[256];
    rb_status rc = rbi_get(txn, RBI_DB_META, kv[0], strlen(kv[0]), &v);

    if (rc == RB_OK) {
        snprintf(got, sizeof(got), "%.*s", (int)v.len, (const char *)v.data);
        kv[1] = got;
    }
    return rc;
}

static void test_open_create(void)
{
    rb_store *s = NULL;
    rb_error err;
    struct stat st;

    fresh_path("create.db");
    INT_EQ(rb_store_open(&s, path, 0, &err), RB_NOTFOUND);
    STR_HAS(err.msg, "no database at");
    OK(s == NULL, "handle must stay NULL on failure");
    OK(stat(path, &st) != 0, "a failed open must not create the file");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    rb_store_close(s);
    INT_EQ(rb_store_open(&s, path, 0, &err), RB_OK);
    rb_store_close(s);
    INT_EQ(rb_store_open(&s, dir, RB_OPEN_CREATE, &err), RB_INVALID);
    STR_HAS(err.msg, "is a directory");
}

static void test_close_null_is_noop(void)
{
    rb_store_close(NULL); /* rb_store_close(NULL) is a harmless no-op */
    OK(1, "survived");
    STR_EQ(rb_errmsg(NULL), "no store");
}

static void test_schema_version(void)
{
    rb_store *s;
    rb_error err;
    const char *kv[2] = {"schema_version", "99"};
    FILE *f;

    fresh_path("newer.db");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    INT_EQ(rb_store_update(s, put_kv, kv), RB_OK);
    rb_store_close(s);
    INT_EQ(rb_store_open(&s, path, 0, &err), RB_VERSION);
    STR_HAS(err.msg, "schema version 99");
    STR_HAS(err.msg, "newer than this rebill");

    /* A file that is not an LMDB database at all. */
    fresh_path("garbage.db");
    f = fopen(path, "w");
    fputs("this is not a database, just some text that is long enough to matter\n", f);
    fclose(f);
    OK(rb_store_open(&s, path, 0, &err) != RB_OK, "garbage file must not open");
    STR_HAS(err.msg, path);
}

static rb_status write_then_fail(rb_txn *txn, void *ctx)
{
    rb_status rc;

    (void)ctx;
    rc = rbi_put(txn, RBI_DB_META, "k1", 2, "v1", 2, 0);
    if (rc != RB_OK)
        return rc;
    return rbi_txn_error(txn, RB_INVALID, "refused on purpose");
}

static rb_status dup_then_continue(rb_txn *txn, void *ctx)
{
    rb_status *seen = ctx;

    seen[0] = rbi_put(txn, RBI_DB_META, "dup", 3, "a", 1, RBI_NOOVERWRITE);
    seen[1] = rbi_put(txn, RBI_DB_META, "dup", 3, "b", 1, RBI_NOOVERWRITE);
    /* RB_EXISTS is an outcome, not a fault: the transaction goes on. */
    seen[2] = rbi_put(txn, RBI_DB_META, "dup2", 4, "c", 1, 0);
    return RB_OK;
}

static rb_status write_in_view(rb_txn *txn, void *ctx)
{
    (void)ctx;
    OK(rb_txn_is_readonly(txn), "view transactions are read-only");
    return rbi_put(txn, RBI_DB_META, "x", 1, "y", 1, 0);
}

static void test_all_or_nothing(void)
{
    rb_store *s;
    rb_error err;
    const char *kv[2] = {"k1", NULL};
    rb_status seen[3];

    fresh_path("atomic.db");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    INT_EQ(rb_store_update(s, write_then_fail, NULL), RB_INVALID);
    STR_EQ(rb_errmsg(s), "refused on purpose");
    INT_EQ(rb_store_view(s, get_kv, kv), RB_NOTFOUND); /* the write was rolled back */

    INT_EQ(rb_store_update(s, dup_then_continue, seen), RB_OK);
    INT_EQ(seen[0], RB_OK);
    INT_EQ(seen[1], RB_EXISTS);
    INT_EQ(seen[2], RB_OK);
    kv[0] = "dup";
    INT_EQ(rb_store_view(s, get_kv, kv), RB_OK);
    STR_EQ(kv[1], "a");

    INT_EQ(rb_store_view(s, write_in_view, NULL), RB_READONLY);
    rb_store_close(s);
}

/* Writes enough to overflow a tiny map several times over, in ONE transaction. */
static rb_status write_lots(rb_txn *txn, void *ctx)
{
    int *runs = ctx;
    char key[32], val[512];

    (*runs)++;
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "big:%08d", i);
        rb_status rc = rbi_put(txn, RBI_DB_USAGE, key, (size_t)n, val, sizeof(val), 0);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;
}

static rb_status count_big(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    (void)k;
    (void)v;
    (*(int *)ctx)++;
    return RB_OK;
}

static rb_status count_all(rb_txn *txn, void *ctx)
{
    return rbi_scan(txn, RBI_DB_USAGE, "big:", 4, count_big, ctx);
}

static void test_map_growth(void)
{
    rb_store *s;
    rb_error err;
    int runs = 0, n = 0;

    fresh_path("grow.db");
    setenv("REBILL_INITIAL_MAPSIZE", "65536", 1);
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    unsetenv("REBILL_INITIAL_MAPSIZE");
    INT_EQ(rb_store_update(s, write_lots, &runs), RB_OK);
    OK(runs > 1, "the map should have been full at least once (runs=%d)", runs);
    INT_EQ(rb_store_view(s, count_all, &n), RB_OK);
    INT_EQ(n, 20000);
    rb_store_close(s);
    /* Reopening with the small default still sees everything: LMDB keeps the size. */
    setenv("REBILL_INITIAL_MAPSIZE", "65536", 1);
    INT_EQ(rb_store_open(&s, path, 0, &err), RB_OK);
    unsetenv("REBILL_INITIAL_MAPSIZE");
    n = 0;
    INT_EQ(rb_store_view(s, count_all, &n), RB_OK);
    INT_EQ(n, 20000);
    runs = 0;
    INT_EQ(rb_store_update(s, write_lots, &runs), RB_OK); /* overwrite: fits or grows */
    rb_store_close(s);
}

/* After a failed write the transaction is abort-only. */
static rb_status failed_then_write(rb_txn *txn, void *ctx)
{
    rb_status *seen = ctx;
    char big[600];

    memset(big, 'k', sizeof(big));
    seen[0] = rbi_put(txn, RBI_DB_META, big, sizeof(big), "v", 1, 0); /* key too long */
    seen[1] = rbi_put(txn, RBI_DB_META, "ok", 2, "v", 1, 0);
    return RB_OK; /* pretends all is well: the store must still refuse to commit */
}

static void test_abort_only(void)
{
    rb_store *s;
    rb_error err;
    rb_status seen[2];
    const char *kv[2] = {"ok", NULL};

    fresh_path("abortonly.db");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    INT_EQ(rb_store_update(s, failed_then_write, seen), RB_MISUSE);
    OK(seen[0] != RB_OK, "an over-long key must fail");
    INT_EQ(seen[1], RB_MISUSE);
    INT_EQ(rb_store_view(s, get_kv, kv), RB_NOTFOUND);
    rb_store_close(s);
}

struct collect {
    char keys[16][32];
    int n;
};

static rb_status collect_key(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct collect *c = ctx;

    (void)v;
    if (c->n < 16)
        snprintf(c->keys[c->n++], 32, "%.*s", (int)k->len, (const char *)k->data);
    return c->n == 3 ? RBI_STOP : RB_OK;
}

static rb_status kv_ops(rb_txn *txn, void *ctx)
{
    static const char *keys[] = {"a:1", "a:2", "a:3", "a:4", "b:1", "a"};
    struct collect c = {{{0}}, 0};
    size_t n;
    uint64_t seq;

    (void)ctx;
    for (size_t i = 0; i < RB_COUNTOF(keys); i++)
        INT_EQ(rbi_put(txn, RBI_DB_ORGS, keys[i], strlen(keys[i]), "x", 1, 0), RB_OK);
    /* prefix scan in key order, stopped early by RBI_STOP */
    INT_EQ(rbi_scan(txn, RBI_DB_ORGS, "a:", 2, collect_key, &c), RB_OK);
    INT_EQ(c.n, 3);
    STR_EQ(c.keys[0], "a:1");
    STR_EQ(c.keys[2], "a:3");
    /* backwards from below "a:3": a:2 then a:1 (then stops: the third would be past) */
    c.n = 0;
    INT_EQ(rbi_scan_back(txn, RBI_DB_ORGS, "a:", 2, "a:3", 3, collect_key, &c), RB_OK);
    INT_EQ(c.n, 2);
    STR_EQ(c.keys[0], "a:2");
    STR_EQ(c.keys[1], "a:1");
    /* backwards from beyond the last key */
    c.n = 0;
    INT_EQ(rbi_scan_back(txn, RBI_DB_ORGS, "b:", 2, "b:9", 3, collect_key, &c), RB_OK);
    INT_EQ(c.n, 1);
    STR_EQ(c.keys[0], "b:1");
    /* delete by prefix */
    INT_EQ(rbi_del_prefix(txn, RBI_DB_ORGS, "a:", 2, &n), RB_OK);
    INT_EQ(n, 4);
    c.n = 0;
    INT_EQ(rbi_scan(txn, RBI_DB_ORGS, NULL, 0, collect_key, &c), RB_OK);
    INT_EQ(c.n, 2);
    STR_EQ(c.keys[0], "a");
    STR_EQ(c.keys[1], "b:1");
    INT_EQ(rbi_del(txn, RBI_DB_ORGS, "zz", 2), RB_NOTFOUND);
    INT_EQ(rbi_next_seq(txn, "t", &seq), RB_OK);
    INT_EQ(seq, 1);
    INT_EQ(rbi_next_seq(txn, "t", &seq), RB_OK);
    INT_EQ(seq, 2);
    return RB_OK;
}

static void dump_line(const char *line, size_t len, void *ctx)
{
    struct rb_buf *b = ctx;
    rbi_buf_append(b, line, len);
    rbi_buf_append(b, "\n", 1);
}

static rb_status do_dump(rb_txn *txn, void *ctx)
{
    return rb_store_dump(txn, dump_line, ctx);
}

static rb_status settings(rb_txn *txn, void *ctx)
{
    int64_t v;

    (void)ctx;
    INT_EQ(rb_config_get_int(txn, "max_chain_depth", 2, &v), RB_OK);
    INT_EQ(v, 2);
    INT_EQ(rb_config_set_int(txn, "max_chain_depth", 5), RB_OK);
    INT_EQ(rb_config_get_int(txn, "max_chain_depth", 2, &v), RB_OK);
    INT_EQ(v, 5);
    return RB_OK;
}

static void test_kv_and_dump(void)
{
    rb_store *s;
    rb_error err;
    struct rb_buf b = {NULL, 0, 0};

    fresh_path("kv.db");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    INT_EQ(rb_store_update(s, kv_ops, NULL), RB_OK);
    INT_EQ(rb_store_update(s, settings, NULL), RB_OK);
    INT_EQ(rb_store_view(s, do_dump, &b), RB_OK);
    STR_HAS(b.data, "meta schema_version 1\n");
    STR_HAS(b.data, "meta seq:t \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\n");
    STR_HAS(b.data, "meta config:max_chain_depth 5\n");
    STR_HAS(b.data, "orgs b:1 x\n");
    rbi_buf_release(&b);
    rb_store_close(s);
}

static void test_readonly_open(void)
{
    rb_store *s;
    rb_error err;
    const char *kv[2] = {"k", "v"};

    fresh_path("ro.db");
    INT_EQ(rb_store_open(&s, path, RB_OPEN_CREATE, &err), RB_OK);
    rb_store_close(s);
    INT_EQ(rb_store_open(&s, path, RB_OPEN_RDONLY, &err), RB_OK);
    INT_EQ(rb_store_update(s, put_kv, kv), RB_READONLY);
    STR_HAS(rb_errmsg(s), "read-only");
    rb_store_close(s);
}

/* Fail each allocation of an open in turn: always a clean error, never a crash. */
static void test_open_torture(void)
{
    rb_store *s;
    rb_error err;
    int clean = 0, tried = 0;

    fresh_path("torture.db");
    for (long i = 0; i < 4; i++) {
        rbi_alloc_fail_after(i);
        rb_status rc = rb_store_open(&s, path, RB_OPEN_CREATE, &err);
        rbi_alloc_fail_after(-1);
        tried++;
        if (rc == RB_OK)
            rb_store_close(s);
        else if (rc == RB_NOMEM && s == NULL)
            clean++;
    }
    OK(clean >= 1, "failing the first allocation must give RB_NOMEM (clean=%d of %d)", clean,
       tried);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rebill-store-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_open_create();
    test_close_null_is_noop();
    test_schema_version();
    test_all_or_nothing();
    test_map_growth();
    test_abort_only();
    test_kv_and_dump();
    test_readonly_open();
    test_open_torture();
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return harness_done();
}
