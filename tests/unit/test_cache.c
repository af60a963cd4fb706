/*
 * test_cache.c -- the month's usage cache (rb_usage_cache) and the usage epoch that validates
 * it, on a real store: every customer's draft invoice and priced bill are byte-identical with
 * and without a cache, and one cache loads the month once for all of them, also while
 * invoices are issued; a restatement, an account move, another month, another store each make
 * the next cached pricing load again and match an uncached one in the new state; a cache
 * filled inside a transaction that changed usage and then aborted is never trusted; out of
 * memory while loading leaves the cache empty and usable; a result outlives its cache; one
 * customer's overflowing usage fails that customer only, as without a cache. The
 * epoch: absent is 0; imports and account writes bump it (once per transaction); issuing,
 * plan assignment and profiles do not.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>
#include <unistd.h>

#define P "o-partner0001"
#define R "o-reseller001"
#define C1 "o-customer01"
#define C2 "o-customer02"
#define C3 "o-customer03"

/* The organizations a payer bills (R pays C3's bill, P pays R's, C1's and C2's). */
static const char *const billed[] = {C1, C2, C3, R};
#define NBILLED 4

static char dir[64];
static rb_store *S;
static int NOV, DEC;

static int64_t at(const char *s)
{
    int64_t t = 0;
    rb_time_parse(&t, s, NULL);
    return t;
}

/* {===================================================================================
 * The store: P pays C1, C2 and R from 2026-11, R pays C3. Accounts 1111.. in C1, 2222.. and
 * 5555.. in C2, 3333.. in R, 4444.. in C3, 9999.. in none. C1's plan is cost plus 10%.
 * =================================================================================== */

static const char markup_src[] = "return rebill.plan {\n"
                                 "    name = 'markup', base = 'billed',\n"
                                 "    rebill.markup { percent = 10 },\n"
                                 "}\n";

static rb_status add_org(rb_txn *txn, const char *id, int n)
{
    rb_org o;

    memset(&o, 0, sizeof(o));
    snprintf(o.id, sizeof(o.id), "%s", id);
    snprintf(o.name, sizeof(o.name), "org %d", n);
    snprintf(o.management_account, sizeof(o.management_account), "90000000000%d", n);
    o.created = at("2026-09-01T00:00:00Z");
    return rb_org_create(txn, &o);
}

static rb_status link_orgs(rb_txn *txn, const char *source, const char *payer)
{
    rb_transfer t;
    int64_t now = at("2026-09-21T00:00:00Z");
    rb_status rc;

    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", source);
    snprintf(t.payer, sizeof(t.payer), "%s", payer);
    snprintf(t.source, sizeof(t.source), "%s", source);
    t.start_month = NOV;
    rc = rb_transfer_invite(txn, &t, now);
    return rc == RB_OK ? rb_transfer_accept(txn, t.id, source, now) : rc;
}

static rb_status do_setup(rb_txn *txn, void *ctx)
{
    const char *orgs[5] = {P, R, C1, C2, C3};
    const char *acct[5][2] = {{"111111111111", C1},
                              {"222222222222", C2},
                              {"555555555555", C2},
                              {"333333333333", R},
                              {"444444444444", C3}};
    int64_t since = at("2026-09-01T00:00:00Z");
    rb_status rc = RB_OK;

    (void)ctx;
    for (int i = 0; i < 5 && rc == RB_OK; i++)
        rc = add_org(txn, orgs[i], i + 1);
    for (int i = 0; i < 5 && rc == RB_OK; i++)
        rc = rb_account_add(txn, acct[i][0], "acct", acct[i][1], since);
    if (rc == RB_OK)
        rc = link_orgs(txn, C1, P);
    if (rc == RB_OK)
        rc = link_orgs(txn, C2, P);
    if (rc == RB_OK)
        rc = link_orgs(txn, R, P);
    if (rc == RB_OK)
        rc = link_orgs(txn, C3, R);
    if (rc == RB_OK)
        rc = rb_plan_assign(txn, C1, "markup.lua", markup_src, sizeof(markup_src) - 1, NOV,
                            RB_MONTH_OPEN, since, NULL);
    return rc;
}

/* A CUR file in dir/name with usage of every account on the 1st and 15th of each month
 * given ("2026-11", "2026-12"), its costs scaled by `factor`. */
static int write_cur(const char *name, const char *const *months, int nmonths, int factor)
{
    static const char *const accts[] = {"111111111111", "222222222222", "333333333333",
                                        "444444444444", "555555555555", "999999999999"};
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs("bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
          "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,"
          "lineItem/Operation,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost,"
          "pricing/publicOnDemandCost\n",
          f);
    for (int m = 0; m < nmonths; m++)
        for (int i = 0; i < 6; i++) {
            fprintf(f, "AWS,%s-01T00:00:00Z,%s,Usage,%s-01T00:00:00Z,AmazonEC2,Box,Run,1,USD,"
                       "%d.25,%d.50\n",
                    months[m], accts[i], months[m], (10 + i) * factor, (12 + i) * factor);
            fprintf(f, "AWS,%s-01T00:00:00Z,%s,Usage,%s-15T00:00:00Z,AmazonS3,Bytes,Put,1,USD,"
                       "%d.10,%d.10\n",
                    months[m], accts[i], months[m], (3 + i) * factor, (3 + i) * factor);
        }
    return fclose(f) == 0 ? 0 : -1;
}

/* An import of dir/name into `source` (NULL: the default) read and ready to apply (NULL on
 * failure). */
static rb_usage_import *read_source(const char *name, const char *source)
{
    char path[128];
    rb_usage_import_opts o;
    rb_usage_import *imp = NULL;
    rb_error err;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memset(&o, 0, sizeof(o));
    o.source = source;
    o.threads = -1;
    if (rb_usage_import_new(&imp, &o, &err) != RB_OK ||
        rb_usage_import_file(imp, path, &err) != RB_OK) {
        fprintf(stderr, "import %s: %s\n", name, err.msg);
        rb_usage_import_free(imp);
        return NULL;
    }
    return imp;
}

static rb_usage_import *read_cur(const char *name)
{
    return read_source(name, NULL);
}

static rb_status do_apply(rb_txn *txn, void *ctx)
{
    return rb_usage_import_apply(txn, ctx, at("2026-12-02T00:00:00Z"));
}

static int import_into(const char *name, const char *source)
{
    rb_usage_import *imp = read_source(name, source);
    rb_status rc;

    if (!imp)
        return -1;
    rc = rb_store_update(S, do_apply, imp);
    if (rc != RB_OK)
        fprintf(stderr, "import %s: %s\n", name, rb_errmsg(S));
    rb_usage_import_free(imp);
    return rc == RB_OK ? 0 : -1;
}

static int import(const char *name)
{
    return import_into(name, NULL);
}

static rb_status do_epoch(rb_txn *txn, void *ctx)
{
    return rbi_usage_epoch(txn, ctx);
}

static uint64_t epoch_of(rb_store *s)
{
    uint64_t e = 12345;

    INT_EQ(rb_store_view(s, do_epoch, &e), RB_OK);
    return e;
}

static rb_status open_store(rb_store **s, const char *name)
{
    char path[128];
    rb_error err;
    rb_status rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    rc = rb_store_open(s, path, RB_OPEN_CREATE, &err);
    if (rc != RB_OK)
        fprintf(stderr, "cannot open store %s: %s\n", path, err.msg);
    return rc;
}

static int setup(void)
{
    const char *both[2] = {"2026-11", "2026-12"};
    uint64_t e0, e1;

    snprintf(dir, sizeof(dir), "/tmp/rebill-cache.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (open_store(&S, "test.db") != RB_OK)
        return -1;
    rb_month_parse(&NOV, "2026-11", NULL);
    rb_month_parse(&DEC, "2026-12", NULL);
    e0 = epoch_of(S);
    INT_EQ(e0, 0); /* absent: 0 */
    if (rb_store_update(S, do_setup, NULL) != RB_OK) {
        fprintf(stderr, "setup: %s\n", rb_errmsg(S));
        return -1;
    }
    e1 = epoch_of(S);
    INT_EQ(e1, 1); /* the setup's many membership writes, in one transaction: one bump */
    if (write_cur("both.csv", both, 2, 1) != 0 || import("both.csv") != 0)
        return -1;
    /* one import transaction of two periods: one bump */
    INT_EQ(epoch_of(S), e1 + 1);
    return 0;
}

static void teardown(void)
{
    char cmd[160];

    rb_store_close(S);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* {===================================================================================
 * Drafts with and without a cache
 * =================================================================================== */

/* A draft (or issued) invoice's forms and hash in one string, and a priced bill's figures. */
struct doc {
    char *all;
    char total[RB_DEC_BUFSZ];
};

static void doc_free(struct doc *d)
{
    free(d->all);
    memset(d, 0, sizeof(*d));
}

struct draft_op {
    rb_store *s;
    const char *org;
    int month;
    rb_usage_cache *cache;
    bool issue;
    struct doc d;
};

static rb_status do_draft(rb_txn *txn, void *ctx)
{
    struct draft_op *op = ctx;
    rb_invoice_opts o;
    rb_invoice inv;
    rb_status rc;
    size_t n;

    memset(&o, 0, sizeof(o));
    o.cache = op->cache;
    doc_free(&op->d);
    rc = op->issue ? rb_invoice_issue(txn, op->org, op->month, &o, at("2026-12-03T00:00:00Z"),
                                      &inv)
                   : rb_invoice_preview(txn, op->org, op->month, &o, at("2026-12-03T00:00:00Z"),
                                        &inv);
    if (rc == RB_OK) {
        n = inv.md_len + inv.html_len + inv.json_len + sizeof(inv.inputs_hash) + 4;
        op->d.all = malloc(n);
        if (!op->d.all) {
            rb_invoice_release(&inv);
            return RB_NOMEM;
        }
        snprintf(op->d.all, n, "%s\n%s\n%s\n%s", inv.md, inv.html, inv.json, inv.inputs_hash);
        rb_dec_format(&inv.total, op->d.total, sizeof(op->d.total));
    }
    rb_invoice_release(&inv);
    return rc;
}

/* org's draft of month from store s, with `cache` (NULL: none). */
static struct doc draft_in(rb_store *s, const char *org, int month, rb_usage_cache *cache)
{
    struct draft_op op;
    rb_status rc;

    memset(&op, 0, sizeof(op));
    op.s = s;
    op.org = org;
    op.month = month;
    op.cache = cache;
    rc = rb_store_view(s, do_draft, &op);
    OK(rc == RB_OK, "draft of %s: %s", org, rb_errmsg(s));
    return op.d;
}

static struct doc draft(const char *org, int month, rb_usage_cache *cache)
{
    return draft_in(S, org, month, cache);
}

static bool same(const struct doc *a, const struct doc *b)
{
    return a->all && b->all && strcmp(a->all, b->all) == 0;
}

/* Every billed customer's draft of `month` with `cache` equals its uncached draft; *before,
 * if not NULL, gets the drafts (caller frees). */
static void all_same(int month, rb_usage_cache *cache, struct doc *out)
{
    for (int i = 0; i < NBILLED; i++) {
        struct doc u = draft(billed[i], month, NULL), c = draft(billed[i], month, cache);
        OK(same(&u, &c), "%s: the cached draft differs from the uncached one", billed[i]);
        if (out) {
            out[i] = u;
        } else {
            doc_free(&u);
        }
        doc_free(&c);
    }
}

static void free_docs(struct doc *d)
{
    for (int i = 0; i < NBILLED; i++)
        doc_free(&d[i]);
}

/* The priced bill's lines and totals as text, with and without the cache. */
struct price_op {
    const char *org;
    int month;
    rb_usage_cache *cache;
    char text[4096];
    rb_priced *keep; /* if not NULL on entry (any value): the result is kept here */
    bool want_keep;
};

static void append_line(char *buf, size_t cap, const rb_price_line *l)
{
    char amt[RB_DEC_BUFSZ];

    rb_dec_format(&l->amount, amt, sizeof(amt));
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s %s %s %s %s\n", l->account, l->service,
             l->usage_type, l->operation, amt);
}

static rb_status do_price(rb_txn *txn, void *ctx)
{
    struct price_op *op = ctx;
    rb_price_opts o;
    rb_priced *p = NULL;
    char t[RB_DEC_BUFSZ];
    rb_status rc;

    memset(&o, 0, sizeof(o));
    op->text[0] = 0;
    rc = rbi_price_org_cached(txn, op->org, op->month, &o, op->cache, &p);
    if (rc != RB_OK)
        return rc;
    for (size_t i = 0; i < rb_priced_count(p); i++)
        append_line(op->text, sizeof(op->text), rb_priced_line(p, i));
    rb_dec_format(&rb_priced_totals(p)->total, t, sizeof(t));
    snprintf(op->text + strlen(op->text), sizeof(op->text) - strlen(op->text), "total %s\n", t);
    if (op->want_keep)
        op->keep = p;
    else
        rb_priced_free(p);
    return RB_OK;
}

static void price_text(const char *org, int month, rb_usage_cache *cache, char *out, size_t cap)
{
    struct price_op op;

    memset(&op, 0, sizeof(op));
    op.org = org;
    op.month = month;
    op.cache = cache;
    INT_EQ(rb_store_view(S, do_price, &op), RB_OK);
    snprintf(out, cap, "%s", op.text);
}

static void test_same_drafts(void)
{
    rb_usage_cache *c = NULL;
    char u[4096], k[4096];

    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (!c)
        return;
    OK(rbi_usage_cache_is_empty(c), "a new cache is empty");
    INT_EQ(rbi_usage_cache_loads(c), 0);
    all_same(NOV, c, NULL);
    /* four customers, each in its own transaction, twice: one load */
    INT_EQ(rbi_usage_cache_loads(c), 1);
    OK(!rbi_usage_cache_is_empty(c), "loaded");
    for (int i = 0; i < NBILLED; i++) {
        price_text(billed[i], NOV, NULL, u, sizeof(u));
        price_text(billed[i], NOV, c, k, sizeof(k));
        STR_EQ(k, u);
        OK(strstr(u, "AmazonEC2") != NULL, "%s has usage: %s", billed[i], u);
    }
    /* R's bill holds C3's account too (R pays C3's bill); C1's only its own */
    price_text(R, NOV, c, k, sizeof(k));
    STR_HAS(k, "444444444444 AmazonEC2");
    STR_HAS(k, "333333333333 AmazonS3");
    price_text(C1, NOV, c, k, sizeof(k));
    OK(strstr(k, "222222222222") == NULL && strstr(k, "999999999999") == NULL,
       "only C1's usage: %s", k);
    INT_EQ(rbi_usage_cache_loads(c), 1);
    rb_usage_cache_free(c);
}

/* Issuing writes invoices, never usage: the epoch stays and the cache is reused. */
static void test_issue_keeps_cache(void)
{
    rb_usage_cache *c = NULL;
    uint64_t e = epoch_of(S);

    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (!c)
        return;
    for (int i = 0; i < NBILLED; i++) {
        struct doc d = draft(billed[i], NOV, NULL);
        struct draft_op op;
        memset(&op, 0, sizeof(op));
        op.org = billed[i];
        op.month = NOV;
        op.cache = c;
        op.issue = true;
        INT_EQ(rb_store_update(S, do_draft, &op), RB_OK);
        OK(d.all && op.d.all && strcmp(d.total, op.d.total) == 0,
           "%s: issued total %s, draft %s", billed[i], op.d.total, d.total);
        doc_free(&op.d);
        doc_free(&d);
    }
    INT_EQ(rbi_usage_cache_loads(c), 1);
    INT_EQ(epoch_of(S), e);
    rb_usage_cache_free(c);
}

/* A restatement of the month in another transaction: the next cached draft is the new one. */
static void test_restatement(rb_usage_cache *c)
{
    const char *nov[1] = {"2026-11"};
    struct doc before[NBILLED], after[NBILLED];
    long loads;
    uint64_t e;

    all_same(NOV, c, before);
    loads = rbi_usage_cache_loads(c);
    e = epoch_of(S);
    if (write_cur("nov2.csv", nov, 1, 2) != 0 || import("nov2.csv") != 0) {
        OK(0, "cannot restate");
        free_docs(before);
        return;
    }
    INT_EQ(epoch_of(S), e + 1);
    all_same(NOV, c, after);
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
    for (int i = 0; i < NBILLED; i++)
        OK(!same(&before[i], &after[i]), "%s: the restatement changed its draft", billed[i]);
    free_docs(before);
    free_docs(after);
    /* the same file again stores nothing: the epoch and the cache stay */
    INT_EQ(import("nov2.csv"), 0);
    INT_EQ(epoch_of(S), e + 1);
    all_same(NOV, c, NULL);
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
}

static rb_status do_move(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rb_account_move(txn, "555555555555", C1, at("2026-11-10T00:00:00Z"));
}

/* An account moves from C2 to C1 mid-month: the usage after the move is C1's. */
static void test_move(rb_usage_cache *c)
{
    struct doc before[NBILLED], after[NBILLED];
    char k[4096];
    long loads;
    uint64_t e;

    all_same(NOV, c, before);
    loads = rbi_usage_cache_loads(c);
    e = epoch_of(S);
    INT_EQ(rb_store_update(S, do_move, NULL), RB_OK);
    INT_EQ(epoch_of(S), e + 1);
    all_same(NOV, c, after);
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
    OK(!same(&before[0], &after[0]), "C1's draft gained the moved account");
    OK(!same(&before[1], &after[1]), "C2's draft lost part of it");
    OK(same(&before[2], &after[2]), "C3's draft is unchanged");
    free_docs(before);
    free_docs(after);
    price_text(C1, NOV, c, k, sizeof(k));
    STR_HAS(k, "555555555555 AmazonS3"); /* the 15th: after the move */
    OK(strstr(k, "555555555555 AmazonEC2") == NULL, "the 1st stays C2's: %s", k);
    price_text(C2, NOV, c, k, sizeof(k));
    STR_HAS(k, "555555555555 AmazonEC2");
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
}

/* A cache asked for another month loads that month; back to the first, it loads again. */
static void test_other_month(rb_usage_cache *c)
{
    long loads = rbi_usage_cache_loads(c);
    struct doc nov = draft(C1, NOV, c), dec;

    INT_EQ(rbi_usage_cache_loads(c), loads);
    all_same(DEC, c, NULL); /* DEC's drafts carry corrections of the issued NOV: uncached */
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
    dec = draft(C1, DEC, c);
    OK(!same(&nov, &dec), "another month, another draft");
    doc_free(&dec);
    dec = draft(C1, NOV, c);
    OK(same(&nov, &dec), "NOV again");
    INT_EQ(rbi_usage_cache_loads(c), loads + 2);
    doc_free(&nov);
    doc_free(&dec);
}

/* {===================================================================================
 * A transaction that changed usage, priced with the cache and aborted
 * =================================================================================== */

struct pending_op {
    rb_usage_import *imp;
    rb_usage_cache *cache;
    char text[4096];
    uint64_t epoch;
    bool pending;
    bool commit;
};

static rb_status do_pending(rb_txn *txn, void *ctx)
{
    struct pending_op *op = ctx;
    struct price_op po;
    rb_status rc = rb_usage_import_apply(txn, op->imp, at("2026-12-05T00:00:00Z"));

    memset(&po, 0, sizeof(po));
    po.org = C2;
    po.month = NOV;
    po.cache = op->cache;
    if (rc == RB_OK)
        rc = rbi_usage_epoch(txn, &op->epoch);
    op->pending = rbi_usage_epoch_is_pending(txn);
    if (rc == RB_OK && op->cache)
        rc = do_price(txn, &po);
    snprintf(op->text, sizeof(op->text), "%s", po.text);
    if (rc != RB_OK)
        return rc;
    return op->commit ? RB_OK : RB_ERROR; /* RB_ERROR: abort */
}

static rb_status do_not_pending(rb_txn *txn, void *ctx)
{
    bool *pending = ctx;
    uint64_t e;
    rb_status rc = rbi_usage_epoch(txn, &e);

    *pending = rbi_usage_epoch_is_pending(txn);
    return rc;
}

/*
 * The epoch is a counter: a transaction that bumps it and aborts leaves the same number for
 * the next writer, with other usage. So a cache never keeps what a transaction that changed
 * usage itself loaded. Here transaction A restates NOV (x3), prices with the cache, aborts;
 * transaction B restates NOV (x4) and commits, reaching the same epoch number; the next
 * cached pricing must be B's.
 */
static void test_aborted_writer(rb_usage_cache *c)
{
    const char *nov[1] = {"2026-11"};
    struct pending_op op;
    char u[4096], k[4096], old[4096], a_text[4096];
    uint64_t e = epoch_of(S);
    bool pending = true;
    long loads;

    price_text(C2, NOV, NULL, old, sizeof(old));
    price_text(C2, NOV, c, k, sizeof(k)); /* loaded at e */
    STR_EQ(k, old);
    loads = rbi_usage_cache_loads(c);
    memset(&op, 0, sizeof(op));
    op.cache = c;
    if (write_cur("nov3.csv", nov, 1, 3) != 0 || !(op.imp = read_cur("nov3.csv"))) {
        OK(0, "cannot write nov3.csv");
        return;
    }
    INT_EQ(rb_store_update(S, do_pending, &op), RB_ERROR);
    rb_usage_import_free(op.imp);
    INT_EQ(op.epoch, e + 1);
    OK(op.pending, "the transaction bumped the epoch itself");
    OK(strcmp(op.text, old) != 0, "inside A, the pricing saw A's restatement: %s", op.text);
    snprintf(a_text, sizeof(a_text), "%s", op.text);
    INT_EQ(rbi_usage_cache_loads(c), loads); /* A's usage was not kept */
    OK(!rbi_usage_cache_is_empty(c), "what the cache held at e is kept: still e's usage");
    INT_EQ(epoch_of(S), e); /* aborted */
    INT_EQ(rb_store_view(S, do_not_pending, &pending), RB_OK);
    OK(!pending, "a new transaction has nothing pending");
    /* B, with no cached pricing between A and B */
    memset(&op, 0, sizeof(op));
    op.commit = true;
    if (write_cur("nov4.csv", nov, 1, 4) != 0 || !(op.imp = read_cur("nov4.csv"))) {
        OK(0, "cannot write nov4.csv");
        return;
    }
    INT_EQ(rb_store_update(S, do_pending, &op), RB_OK);
    rb_usage_import_free(op.imp);
    INT_EQ(epoch_of(S), e + 1);
    price_text(C2, NOV, NULL, u, sizeof(u));
    price_text(C2, NOV, c, k, sizeof(k));
    STR_EQ(k, u);
    OK(strcmp(u, old) != 0, "B changed C2's bill");
    OK(strcmp(k, a_text) != 0, "B's amounts are not A's");
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
}

/* {===================================================================================
 * Another store at the same epoch, results that outlive the cache, out of memory
 * =================================================================================== */

static void test_other_store(rb_usage_cache *c)
{
    const char *nov[1] = {"2026-11"};
    char cmd[256];
    rb_store *s2 = NULL;
    struct doc a, b, a2, b2;

    /* a copy of the store, then the same restatement count in each, with other amounts */
    snprintf(cmd, sizeof(cmd), "cp '%s/test.db' '%s/copy.db'", dir, dir);
    if (system(cmd) != 0 || open_store(&s2, "copy.db") != RB_OK) {
        OK(0, "cannot copy the store");
        return;
    }
    INT_EQ(epoch_of(s2), epoch_of(S));
    if (write_cur("nov5.csv", nov, 1, 5) != 0 || import("nov5.csv") != 0 ||
        write_cur("nov6.csv", nov, 1, 6) != 0) {
        OK(0, "cannot restate");
        rb_store_close(s2);
        return;
    }
    {
        rb_usage_import *imp = read_cur("nov6.csv");
        INT_EQ(imp ? rb_store_update(s2, do_apply, imp) : RB_ERROR, RB_OK);
        rb_usage_import_free(imp);
    }
    INT_EQ(epoch_of(s2), epoch_of(S));
    a = draft_in(S, C1, NOV, NULL);
    b = draft_in(s2, C1, NOV, NULL);
    OK(!same(&a, &b), "the two stores differ");
    a2 = draft_in(S, C1, NOV, c);
    b2 = draft_in(s2, C1, NOV, c);
    OK(same(&a, &a2), "store 1 with the cache");
    OK(same(&b, &b2), "store 2 with the same cache: its own usage");
    doc_free(&a);
    doc_free(&b);
    doc_free(&a2);
    doc_free(&b2);
    rb_store_close(s2);
}

/* A priced result borrows the cached usage's strings: it stays valid after the cache loads
 * another month and after the cache is freed (ASan checks). */
static void test_result_outlives_cache(void)
{
    rb_usage_cache *c = NULL;
    struct price_op op;
    char u[4096], k[4096];

    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (!c)
        return;
    price_text(R, NOV, NULL, u, sizeof(u));
    memset(&op, 0, sizeof(op));
    op.org = R;
    op.month = NOV;
    op.cache = c;
    op.want_keep = true;
    INT_EQ(rb_store_view(S, do_price, &op), RB_OK);
    price_text(R, DEC, c, k, sizeof(k)); /* replaces the cached month */
    rb_usage_cache_free(c);
    k[0] = 0;
    for (size_t i = 0; op.keep && i < rb_priced_count(op.keep); i++)
        append_line(k, sizeof(k), rb_priced_line(op.keep, i));
    OK(strncmp(u, k, strlen(k)) == 0 && k[0], "the kept result reads the same: %s", k);
    rb_priced_free(op.keep);
}

/* Every allocation of a cached pricing fails in turn: RB_NOMEM, no leak (ASan), and a
 * failure while loading leaves the cache empty; afterwards the cache prices correctly. */
static void test_nomem(void)
{
    rb_usage_cache *c = NULL;
    char u[4096], ud[4096];
    int failures = 0, empty_after = 0;
    bool done = false;

    price_text(C1, NOV, NULL, u, sizeof(u));
    price_text(C1, DEC, NULL, ud, sizeof(ud));
    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (!c)
        return;
    for (long n = 0; n < 20000 && !done; n++) {
        struct price_op op;
        long loads = rbi_usage_cache_loads(c);
        rb_status rc;
        memset(&op, 0, sizeof(op));
        op.org = C1;
        op.month = (n % 2) ? DEC : NOV; /* the cached month is never the one asked for */
        op.cache = c;
        rbi_alloc_fail_after(n);
        rc = rb_store_view(S, do_price, &op);
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK) {
            done = true;
            STR_EQ(op.text, (n % 2) ? ud : u);
            break;
        }
        failures++;
        OK(rc == RB_NOMEM || rc == RB_LIMIT_MEM, "failure %ld: %s (%d)", n, rb_errmsg(S), rc);
        if (rbi_usage_cache_loads(c) == loads) {
            /* failed while loading: empty, not half-loaded */
            OK(rbi_usage_cache_is_empty(c), "failure %ld left a half-loaded cache", n);
            empty_after++;
        }
        /* usable: without failures it prices right */
        price_text(C1, op.month, c, op.text, sizeof(op.text));
        STR_EQ(op.text, (n % 2) ? ud : u);
    }
    OK(done, "the pricing succeeds once the allocations do");
    OK(failures > 10 && empty_after > 5, "%d failures, %d while loading", failures, empty_after);
    rb_usage_cache_free(c);
}

/* One line of C2's over 38 digits (two sources' aggregates of 6e37 each): with the cache,
 * C2 fails as without it, and the others, whose usage is in the same cached month, do not. */
static int import_source(const char *name, const char *source, const char *rows)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs("bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
          "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,"
          "lineItem/Operation,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost,"
          "pricing/publicOnDemandCost\n",
          f);
    fputs(rows, f);
    if (fclose(f) != 0)
        return -1;
    return import_into(name, source);
}

static void test_overflow(void)
{
    const char *jan[1] = {"2027-01"};
    const char *huge = "AWS,2027-01-01T00:00:00Z,222222222222,Usage,2027-01-02T00:00:00Z,"
                       "AmazonEC2,Box,Run,1,USD,60000000000000000000000000000000000000,0\n";
    const char *want = "usage of account 222222222222, service AmazonEC2 is out of range (more "
                       "than 38 digits)";
    rb_usage_cache *c = NULL;
    int jan_m;
    char u[4096], k[4096];

    rb_month_parse(&jan_m, "2027-01", NULL);
    if (write_cur("jan.csv", jan, 1, 1) != 0 || import("jan.csv") != 0 ||
        import_source("huge1.csv", "huge1", huge) != 0 ||
        import_source("huge2.csv", "huge2", huge) != 0) {
        OK(0, "cannot import 2027-01");
        return;
    }
    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (!c)
        return;
    for (int cached = 0; cached < 2; cached++) {
        struct price_op op;
        memset(&op, 0, sizeof(op));
        op.org = C2;
        op.month = jan_m;
        op.cache = cached ? c : NULL;
        INT_EQ(rb_store_view(S, do_price, &op), RB_OVERFLOW);
        STR_EQ(rb_errmsg(S), want);
    }
    INT_EQ(rbi_usage_cache_loads(c), 1);
    for (int i = 0; i < NBILLED; i++) {
        if (strcmp(billed[i], C2) == 0)
            continue;
        price_text(billed[i], jan_m, NULL, u, sizeof(u));
        price_text(billed[i], jan_m, c, k, sizeof(k));
        STR_EQ(k, u);
        OK(strstr(k, "AmazonEC2") != NULL, "%s priced: %s", billed[i], k);
    }
    INT_EQ(rbi_usage_cache_loads(c), 1);
    rb_usage_cache_free(c);
}

static rb_status do_nothing(rb_txn *txn, void *ctx)
{
    (void)txn;
    (void)ctx;
    return RB_OK;
}

static rb_status do_plan_and_profile(rb_txn *txn, void *ctx)
{
    rb_profile p;
    rb_status rc;

    (void)ctx;
    rc = rb_plan_assign(txn, C2, "markup.lua", markup_src, sizeof(markup_src) - 1, DEC,
                        RB_MONTH_OPEN, at("2026-11-20T00:00:00Z"), NULL);
    if (rc != RB_OK)
        return rc;
    rc = rb_profile_get(txn, P, &p);
    if (rc != RB_OK)
        return rc;
    snprintf(p.legal_name, sizeof(p.legal_name), "Partner Ltd");
    return rb_profile_set(txn, &p);
}

/* What does and what does not bump the epoch, beyond imports, moves and issues above. */
static void test_epoch_writers(void)
{
    uint64_t e = epoch_of(S);

    INT_EQ(rb_store_update(S, do_plan_and_profile, NULL), RB_OK);
    INT_EQ(epoch_of(S), e); /* plans and profiles are no usage */
    INT_EQ(rb_store_update(S, do_nothing, NULL), RB_OK);
    INT_EQ(epoch_of(S), e);
}

static rb_status do_add_account(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rb_account_add(txn, "999999999999", "late", C2, at("2026-11-10T00:00:00Z"));
}

static rb_status do_add_org(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return add_org(txn, "o-latecomer01", 9);
}

static rb_status do_bump_twice(rb_txn *txn, void *ctx)
{
    uint64_t *e = ctx;
    rb_status rc = rbi_usage_epoch_bump(txn);

    if (rc == RB_OK)
        rc = rbi_usage_epoch_bump(txn);
    if (rc == RB_OK)
        rc = rbi_usage_epoch(txn, e);
    return rc;
}

static void test_epoch_accounts(rb_usage_cache *c)
{
    uint64_t e = epoch_of(S), in_txn = 0;
    long loads;
    char u[4096], k[4096];

    price_text(C2, NOV, c, k, sizeof(k));
    loads = rbi_usage_cache_loads(c);
    INT_EQ(rb_store_update(S, do_add_account, NULL), RB_OK); /* the unknown account joins C2 */
    INT_EQ(epoch_of(S), e + 1);
    price_text(C2, NOV, NULL, u, sizeof(u));
    price_text(C2, NOV, c, k, sizeof(k));
    STR_EQ(k, u);
    STR_HAS(k, "999999999999 AmazonS3"); /* its usage of the 15th, after it joined */
    OK(strstr(k, "999999999999 AmazonEC2") == NULL, "the 1st stays unmapped: %s", k);
    INT_EQ(rbi_usage_cache_loads(c), loads + 1);
    INT_EQ(rb_store_update(S, do_add_org, NULL), RB_OK); /* its management account */
    INT_EQ(epoch_of(S), e + 2);
    /* once per transaction, however many bumps (a move writes two memberships) */
    INT_EQ(rb_store_update(S, do_bump_twice, &in_txn), RB_OK);
    INT_EQ(in_txn, e + 3);
    INT_EQ(epoch_of(S), e + 3);
}

static rb_status do_readonly_bump(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rbi_usage_epoch_bump(txn);
}

static void test_null(void)
{
    rb_usage_cache_free(NULL); /* a harmless no-op */
    INT_EQ(rb_usage_cache_new(NULL), RB_MISUSE);
    INT_EQ(rb_store_view(S, do_readonly_bump, NULL), RB_READONLY);
}

int main(void)
{
    rb_usage_cache *c = NULL;

    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    test_null();
    test_same_drafts();
    test_issue_keeps_cache();
    INT_EQ(rb_usage_cache_new(&c), RB_OK);
    if (c) {
        test_restatement(c);
        test_move(c);
        test_other_month(c);
        test_aborted_writer(c);
        test_other_store(c);
        test_epoch_accounts(c);
        rb_usage_cache_free(c);
    }
    test_epoch_writers();
    test_result_outlives_cache();
    test_nomem();
    test_overflow();
    teardown();
    return harness_done();
}
