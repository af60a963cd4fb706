/*
 * bill.c -- pricing stored usage: an organization's month from the store, attributed to the
 * organizations it pays for through billing transfers, priced by the plan in force.
 *
 * Provides: rb_price_org, rb_price_all, rb_price_diff and rb_usage_cache_new/free of
 * include/rebill.h; rbi_price_org_cached (rb_price_org with a cache, for invoice.c).
 * Uses: usage.c's key layout (daily aggregates), org.c (membership at a date), transfer.c
 * (who pays for whom), plan.c (the plan in force), rules.c (compiling it), price.c (rb_price),
 * the usage epoch (store.c) that validates a cache.
 * Must never: write to the store (pricing is a read); price a line of an organization the
 * payer does not pay for that month; price from a cache loaded at another epoch, month or
 * store; keep in a cache what a transaction that changed usage itself loaded.
 */
#include "price.h"
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {===================================================================================
 * Usage from the store
 *
 * The daily aggregates of a period (usage.c's key layout: be32(period) source NUL be32(seq);
 * record v1: day, account, service, usage type, operation, region, line type, billing entity,
 * currency, the kept tags, quantity, billed, list, effective, rows) are attributed to the
 * organization each account belonged to on the usage day and summed into monthly lines per
 * (org, account, service, usage type, operation, region, line type, entity, currency).
 * Strings are interned: equal strings are one pointer.
 * =================================================================================== */

struct uline {
    int org;
    bool overflow; /* a sum went past 38 digits (defer_overflow): pricing the line fails */
    rb_price_input in;
};

struct att {
    const char *acct;
    int32_t day;
    int org;
};

struct orgset;
static bool orgset_has(const struct orgset *s, const char *org);

/* A loaded month. Shared by reference count: a cache and the results priced from it each
 * hold one (results borrow its strings). 'txn' and 'only' are used while loading only. */
struct usage_set {
    int refs;
    rb_txn *txn;
    int month;
    const struct orgset *only; /* load only these organizations' usage; NULL: every one */
    bool defer_overflow;       /* an overflowing line fails when selected, not the load */
    struct rbi_strtab st;
    char (*orgs)[RB_ORG_ID_MAX + 1];
    bool *keep; /* per org: in `only` */
    int norgs, caporgs;
    struct uline *v;
    size_t n, cap;
    /* aggregation: index of the line of a key, open addressing */
    int64_t *agg;
    uint64_t *agg_hash;
    size_t agg_mask;
    /* attribution cache: (account pointer, day) -> org index or -1 */
    struct att *att;
    size_t att_mask, att_n;
};

void rbi_strtab_release(struct rbi_strtab *t)
{
    rbi_pool_release(&t->pool);
    rbi_free(t->slot);
    rbi_free(t->hash);
}

static uint64_t hbytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 31);
}

static bool strtab_grow(struct rbi_strtab *t)
{
    size_t cap = t->slot ? (t->mask + 1) * 2 : 256;
    const char **slot = rbi_calloc(cap, sizeof(*slot));
    uint64_t *hash = rbi_calloc(cap, sizeof(*hash));

    if (!slot || !hash) {
        rbi_free(slot);
        rbi_free(hash);
        return false;
    }
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
        size_t j;
        if (!t->slot[i])
            continue;
        for (j = t->hash[i] & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
            ;
        slot[j] = t->slot[i];
        hash[j] = t->hash[i];
    }
    rbi_free(t->slot);
    rbi_free(t->hash);
    t->slot = slot;
    t->hash = hash;
    t->mask = cap - 1;
    return true;
}

const char *rbi_strtab_intern(struct rbi_strtab *t, const char *p, size_t n)
{
    uint64_t h = hbytes(p, n);
    char *d;
    size_t j;

    if ((!t->slot || (t->n + 1) * 2 > t->mask + 1) && !strtab_grow(t))
        return NULL;
    for (j = h & t->mask; t->slot[j]; j = (j + 1) & t->mask)
        if (t->hash[j] == h && strncmp(t->slot[j], p, n) == 0 && t->slot[j][n] == '\0')
            return t->slot[j];
    d = rbi_pool_strndup(&t->pool, p, n);
    if (!d)
        return NULL;
    t->slot[j] = d;
    t->hash[j] = h;
    t->n++;
    return d;
}

static void usage_set_unref(struct usage_set *u)
{
    if (!u || --u->refs > 0)
        return;
    rbi_strtab_release(&u->st);
    rbi_free(u->orgs);
    rbi_free(u->keep);
    rbi_free(u->v);
    rbi_free(u->agg);
    rbi_free(u->agg_hash);
    rbi_free(u->att);
    rbi_free(u);
}

static int org_index(struct usage_set *u, const char *org)
{
    for (int i = 0; i < u->norgs; i++)
        if (strcmp(u->orgs[i], org) == 0)
            return i;
    if (u->norgs == u->caporgs) {
        int cap = u->caporgs ? u->caporgs * 2 : 16;
        void *nv = rbi_realloc(u->orgs, (size_t)cap * sizeof(*u->orgs));
        if (!nv)
            return -2;
        u->orgs = nv;
        nv = rbi_realloc(u->keep, (size_t)cap * sizeof(*u->keep));
        if (!nv)
            return -2;
        u->keep = nv;
        u->caporgs = cap;
    }
    rbi_strlcpy(u->orgs[u->norgs], org, sizeof(u->orgs[0]));
    u->keep[u->norgs] = !u->only || orgset_has(u->only, org);
    return u->norgs++;
}

/* The org index of an account on a day (-1: none), cached. */
static rb_status attribute(struct usage_set *u, const char *acct, int32_t day, int *org)
{
    char id[RB_ORG_ID_MAX + 1];
    size_t j;
    rb_status rc;

    if (!u->att || (u->att_n + 1) * 2 > u->att_mask + 1) {
        size_t cap = u->att ? (u->att_mask + 1) * 2 : 1024;
        struct att *na = rbi_calloc(cap, sizeof(*na));
        if (!na)
            return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
        for (size_t i = 0; u->att && i <= u->att_mask; i++) {
            uint64_t h;
            size_t k;
            if (!u->att[i].acct)
                continue;
            h = hbytes(&u->att[i].acct, sizeof(char *)) ^ (uint64_t)u->att[i].day;
            for (k = h & (cap - 1); na[k].acct; k = (k + 1) & (cap - 1))
                ;
            na[k] = u->att[i];
        }
        rbi_free(u->att);
        u->att = na;
        u->att_mask = cap - 1;
    }
    {
        uint64_t h = hbytes(&acct, sizeof(char *)) ^ (uint64_t)day;
        for (j = h & u->att_mask; u->att[j].acct; j = (j + 1) & u->att_mask)
            if (u->att[j].acct == acct && u->att[j].day == day) {
                *org = u->att[j].org;
                return RB_OK;
            }
    }
    *org = -1;
    if (rb_account_id_is_valid(acct)) {
        rc = rb_account_org_at(u->txn, acct, (int64_t)day * 86400, id);
        if (rc == RB_OK) {
            *org = org_index(u, id);
            if (*org == -2)
                return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
        } else if (rc != RB_NOTFOUND) {
            return rc;
        }
    }
    u->att[j].acct = acct;
    u->att[j].day = day;
    u->att[j].org = *org;
    u->att_n++;
    return RB_OK;
}

static uint64_t line_hash(int org, const char *const *dims)
{
    uint64_t h = (uint64_t)org * 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < 8; i++)
        h = (h ^ (uint64_t)(uintptr_t)dims[i]) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

static bool agg_grow(struct usage_set *u)
{
    size_t cap = u->agg ? (u->agg_mask + 1) * 2 : 1024;
    int64_t *agg = rbi_malloc(cap * sizeof(*agg));
    uint64_t *hash = rbi_malloc(cap * sizeof(*hash));

    if (!agg || !hash) {
        rbi_free(agg);
        rbi_free(hash);
        return false;
    }
    for (size_t i = 0; i < cap; i++)
        agg[i] = -1;
    for (size_t i = 0; u->agg && i <= u->agg_mask; i++) {
        size_t j;
        if (u->agg[i] < 0)
            continue;
        for (j = u->agg_hash[i] & (cap - 1); agg[j] >= 0; j = (j + 1) & (cap - 1))
            ;
        agg[j] = u->agg[i];
        hash[j] = u->agg_hash[i];
    }
    rbi_free(u->agg);
    rbi_free(u->agg_hash);
    u->agg = agg;
    u->agg_hash = hash;
    u->agg_mask = cap - 1;
    return true;
}

static bool dims_equal(const rb_price_input *in, const char *const *d)
{
    return in->account == d[0] && in->service == d[1] && in->usage_type == d[2] &&
           in->operation == d[3] && in->region == d[4] && in->line_type == d[5] &&
           in->entity == d[6] && memcmp(in->currency, d[7], 4) == 0;
}

static rb_status add_amount(rb_dec *a, const rb_dec *b)
{
    return rb_dec_add(a, a, b);
}

static rb_status overflow_error(rb_txn *txn, const rb_price_input *in)
{
    return rbi_txn_error(txn, RB_OVERFLOW,
                         "usage of account %s, service %s is out of range (more than 38 digits)",
                         in->account, in->service);
}

static rb_status usage_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct usage_set *u = ctx;
    struct rbi_rec_reader r;
    const char *dims[8];
    const void *dp[8];
    size_t dn[8];
    rb_dec amt[4];
    int64_t day, ntags;
    int org = -1;
    uint64_t h;
    size_t j;
    rb_status rc;

    (void)k;
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != 1)
        return rbi_txn_error(u->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    day = rbi_rec_get_i64(&r);
    for (int i = 0; i < 8; i++) {
        dn[i] = rbi_rec_get_bytes(&r, &dp[i]);
        if (r.bad)
            return rbi_txn_error(u->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    }
    if (day < INT32_MIN || day > INT32_MAX)
        return rbi_txn_error(u->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    /* The account first: with u->only, most lines stop here, before the rest is read. */
    dims[0] = rbi_strtab_intern(&u->st, dp[0], dn[0]);
    if (!dims[0])
        return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
    rc = attribute(u, dims[0], (int32_t)day, &org);
    if (rc != RB_OK)
        return rc;
    if (org < 0 || !u->keep[org])
        return RB_OK; /* no organization (rb_usage_unmapped() reports it), or not asked for */
    for (int i = 1; i < 8; i++) {
        dims[i] = rbi_strtab_intern(&u->st, dp[i], dn[i]);
        if (!dims[i])
            return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
    }
    ntags = rbi_rec_get_i64(&r);
    if (r.bad || ntags < 0 || ntags > RB_USAGE_MAX_TAGS || strlen(dims[7]) != 3)
        return rbi_txn_error(u->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    for (int64_t i = 0; i < 2 * ntags; i++) {
        const void *p;
        rbi_rec_get_bytes(&r, &p);
    }
    for (int i = 0; i < 4; i++)
        amt[i] = rbi_rec_get_dec(&r);
    if (r.bad)
        return rbi_txn_error(u->txn, RB_CORRUPT, "bad aggregate record in 'usage'");
    if ((!u->agg || (u->n + 1) * 2 > u->agg_mask + 1) && !agg_grow(u))
        return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
    h = line_hash(org, dims);
    for (j = h & u->agg_mask; u->agg[j] >= 0; j = (j + 1) & u->agg_mask) {
        struct uline *l = &u->v[u->agg[j]];
        if (u->agg_hash[j] == h && l->org == org && dims_equal(&l->in, dims))
            break;
    }
    if (u->agg[j] < 0) {
        struct uline *l;
        if (u->n == u->cap) {
            size_t cap = u->cap ? u->cap * 2 : 256;
            void *nv = rbi_realloc(u->v, cap * sizeof(*u->v));
            if (!nv)
                return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
            u->v = nv;
            u->cap = cap;
        }
        l = &u->v[u->n];
        memset(l, 0, sizeof(*l));
        l->org = org;
        l->in.account = dims[0];
        l->in.service = dims[1];
        l->in.usage_type = dims[2];
        l->in.operation = dims[3];
        l->in.region = dims[4];
        l->in.line_type = dims[5];
        l->in.entity = dims[6];
        memcpy(l->in.currency, dims[7], 4);
        l->in.quantity = l->in.billed = l->in.list = l->in.effective = rb_dec_zero();
        u->agg[j] = (int64_t)u->n;
        u->agg_hash[j] = h;
        u->n++;
    }
    {
        rb_price_input *in = &u->v[u->agg[j]].in;
        if (add_amount(&in->quantity, &amt[0]) != RB_OK ||
            add_amount(&in->billed, &amt[1]) != RB_OK || add_amount(&in->list, &amt[2]) != RB_OK ||
            add_amount(&in->effective, &amt[3]) != RB_OK) {
            if (u->defer_overflow) { /* another organization's line must not fail this one */
                u->v[u->agg[j]].overflow = true;
                return RB_OK;
            }
            return overflow_error(u->txn, in);
        }
    }
    return RB_OK;
}

static int cmp_str(const char *a, const char *b)
{
    return a == b ? 0 : strcmp(a, b);
}

static int uline_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct uline *a = pa, *b = pb;
    const struct usage_set *u = ctx;
    int c;

    if (a->org != b->org)
        return strcmp(u->orgs[a->org], u->orgs[b->org]);
    if ((c = cmp_str(a->in.account, b->in.account)) != 0 ||
        (c = cmp_str(a->in.service, b->in.service)) != 0 ||
        (c = cmp_str(a->in.usage_type, b->in.usage_type)) != 0 ||
        (c = cmp_str(a->in.operation, b->in.operation)) != 0 ||
        (c = cmp_str(a->in.region, b->in.region)) != 0 ||
        (c = cmp_str(a->in.line_type, b->in.line_type)) != 0 ||
        (c = cmp_str(a->in.entity, b->in.entity)) != 0)
        return c;
    return strcmp(a->in.currency, b->in.currency);
}

/* Every stored aggregate of the month, attributed and summed; with `only`, those of its
 * organizations alone. With defer_overflow, a line whose sum overflows is marked and fails
 * only when usage_select() picks it (for a cache: one customer's line must not fail the
 * others). *out holds one reference. */
static rb_status usage_load(rb_txn *txn, int month, const struct orgset *only,
                            bool defer_overflow, struct usage_set **out)
{
    struct usage_set *u = rbi_calloc(1, sizeof(*u));
    unsigned char pk[4];
    rb_status rc;

    *out = NULL;
    if (!u)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    u->refs = 1;
    u->txn = txn;
    u->month = month;
    u->only = only;
    u->defer_overflow = defer_overflow;
    rbi_be32_put(pk, (uint32_t)month);
    rc = rbi_scan(txn, RBI_DB_USAGE, pk, 4, usage_one, u);
    if (rc != RB_OK) {
        usage_set_unref(u);
        return rc;
    }
    if (u->n > 1) /* qsort_r on a NULL array is undefined, even for 0 elements */
        qsort_r(u->v, u->n, sizeof(*u->v), uline_cmp, u);
    /* What only loading needs goes: indexes are stale after the sort, the attribution memo
     * and `only` are of no use after, and the set may outlive the transaction and `only`. */
    rbi_free(u->agg);
    rbi_free(u->agg_hash);
    rbi_free(u->att);
    u->agg = NULL;
    u->agg_hash = NULL;
    u->att = NULL;
    u->att_mask = u->att_n = 0;
    u->txn = NULL;
    u->only = NULL;
    *out = u;
    return RB_OK;
}

/* The organizations whose bills `org` pays in the month, directly or through others, with
 * `org` itself: set[] of org ids (at most RB_CHAIN_MAX levels). */
struct orgset {
    char (*v)[RB_ORG_ID_MAX + 1];
    int n, cap;
    rb_txn *txn;
};

static rb_status orgset_add(struct orgset *s, const char *org)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], org) == 0)
            return RB_OK;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        void *nv = rbi_realloc(s->v, (size_t)cap * sizeof(*s->v));
        if (!nv)
            return rbi_txn_error(s->txn, RB_NOMEM, "out of memory");
        s->v = nv;
        s->cap = cap;
    }
    rbi_strlcpy(s->v[s->n++], org, sizeof(s->v[0]));
    return RB_OK;
}

static rb_status orgset_source(const rb_transfer *t, void *ctx)
{
    return orgset_add(ctx, t->source);
}

static rb_status orgset_build(rb_txn *txn, const char *org, int month, struct orgset *s)
{
    rb_status rc;
    int done = 0;

    memset(s, 0, sizeof(*s));
    s->txn = txn;
    rc = orgset_add(s, org);
    for (int level = 0; rc == RB_OK && level <= RB_CHAIN_MAX && done < s->n; level++) {
        int end = s->n;
        for (; rc == RB_OK && done < end; done++) {
            char payer[RB_ORG_ID_MAX + 1];
            rbi_strlcpy(payer, s->v[done], sizeof(payer));
            rc = rb_payer_sources(txn, payer, month, orgset_source, s);
        }
    }
    return rc;
}

static bool orgset_has(const struct orgset *s, const char *org)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], org) == 0)
            return true;
    return false;
}

/* The lines of the orgs in s: a new array of inputs borrowing u's strings. */
static rb_status usage_select(rb_txn *txn, const struct usage_set *u, const struct orgset *s,
                              rb_price_input **out, size_t *n)
{
    rb_price_input *v = rbi_malloc((u->n + 1) * sizeof(*v));
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (!v)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    for (size_t i = 0; i < u->n; i++) {
        if (!orgset_has(s, u->orgs[u->v[i].org]))
            continue;
        if (u->v[i].overflow) {
            rbi_free(v);
            return overflow_error(txn, &u->v[i].in);
        }
        v[k++] = u->v[i].in;
    }
    *out = v;
    *n = k;
    return RB_OK;
}

/* {===================================================================================
 * Pricing from the store
 * =================================================================================== */

/* The plan assigned to org for month (the default plan without one). */
static rb_status plan_for(rb_txn *txn, const char *org, int month, const rb_limits *limits,
                          rb_plan **out)
{
    rb_plan_assignment a;
    rb_rules_blob blob;
    rb_error err;
    rb_status rc = rb_plan_at(txn, org, month, &a);

    *out = NULL;
    if (rc == RB_NOTFOUND) {
        rc = rb_plan_default(out);
        return rc == RB_OK ? RB_OK : rbi_txn_error(txn, rc, "out of memory");
    }
    if (rc == RB_OK)
        rc = rb_rules_get(txn, a.hash, &blob);
    if (rc != RB_OK)
        return rc;
    rc = rb_plan_compile(out, a.name, blob.src, blob.len, limits, &err);
    if (rc != RB_OK)
        return rbi_txn_error(txn, rc, "%s (the plan of %s)", err.msg, org);
    return RB_OK;
}

struct owned_input {
    struct usage_set *u; /* a reference to the set `in` borrows from; NULL when the caller's */
    rb_price_input *in;
};

static void owned_input_free(void *vp)
{
    struct owned_input *o = vp;

    if (!o)
        return;
    usage_set_unref(o->u);
    rbi_free(o->in);
    rbi_free(o);
}

/*
 * Price `org` over lines in[0..n): the partner's cost through the payer chain, then the plan
 * (`override`, or the one in force). *out borrows `in`.
 */
static rb_status price_lines(rb_txn *txn, const char *org, int month, const rb_price_opts *opts,
                             const rb_price_input *in, size_t n, rb_priced **out)
{
    const rb_limits *limits = opts ? opts->limits : NULL;
    rb_payer_info pi;
    rb_dec *cost = NULL;
    rb_plan *pl = NULL;
    rb_price_request req;
    rb_error err;
    rb_status rc = rb_payer_of(txn, org, month, &pi);

    *out = NULL;
    if (rc != RB_OK)
        return rc;
    /* The cost of each line to org's payer: priced down the chain from the top, where the
     * payer pays AWS its billed cost (docs/rules.md "Chains"). */
    for (int j = pi.depth - 1; j >= 1; j--) {
        rb_priced *up = NULL;
        rb_dec *next;
        rc = plan_for(txn, pi.chain[j - 1], month, limits, &pl);
        if (rc != RB_OK)
            goto out;
        req.customer = pi.chain[j - 1];
        req.month = month;
        req.lines = in;
        req.nlines = n;
        req.cost = cost;
        req.lines_only = true; /* only the lines' prices make the cost below */
        rc = rb_price(pl, &req, &up, &err);
        rb_plan_free(pl);
        pl = NULL;
        if (rc != RB_OK) {
            rc = rbi_txn_error(txn, rc, "%s (the plan of %s, upstream of %s)", err.msg,
                               pi.chain[j - 1], org);
            goto out;
        }
        next = rbi_malloc((n + 1) * sizeof(*next));
        if (!next) {
            rb_priced_free(up);
            rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            next[i] = rb_priced_input_price(up, i);
        rb_priced_free(up);
        rbi_free(cost);
        cost = next;
    }
    if (opts && opts->rules_src) {
        rc = rb_plan_compile(&pl, opts->rules_name ? opts->rules_name : "(rules)", opts->rules_src,
                             opts->rules_len, limits, &err);
        if (rc != RB_OK) {
            rc = rbi_txn_error(txn, rc, "%s", err.msg);
            goto out;
        }
    } else {
        rc = plan_for(txn, org, month, limits, &pl);
        if (rc != RB_OK)
            goto out;
    }
    req.customer = org;
    req.month = month;
    req.lines = in;
    req.nlines = n;
    req.cost = cost;
    req.lines_only = false;
    rc = rb_price(pl, &req, out, &err);
    if (rc != RB_OK)
        rc = rbi_txn_error(txn, rc, "%s", err.msg);
out:
    rb_plan_free(pl);
    rbi_free(cost);
    return rc;
}

static rb_status check_org_month(rb_txn *txn, const char *org, int month)
{
    rb_status rc = rbi_org_check_id(txn, "organization id", org, SIZE_MAX);

    if (rc != RB_OK)
        return rc;
    if (month < 0 || month == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid month");
    return rbi_org_require(txn, org, NULL);
}

/* Price one org from an already loaded period (u stays the caller's). */
static rb_status price_from_set(rb_txn *txn, const struct usage_set *u, const char *org, int month,
                                const rb_price_opts *opts, rb_priced **out)
{
    struct orgset s;
    struct owned_input *own;
    rb_price_input *in = NULL;
    size_t n = 0;
    rb_status rc = orgset_build(txn, org, month, &s);

    *out = NULL;
    if (rc == RB_OK)
        rc = usage_select(txn, u, &s, &in, &n);
    rbi_free(s.v);
    if (rc != RB_OK)
        return rc;
    rc = price_lines(txn, org, month, opts, in, n, out);
    if (rc != RB_OK) {
        rbi_free(in);
        return rc;
    }
    own = rbi_calloc(1, sizeof(*own));
    if (!own) {
        rbi_free(in);
        rb_priced_free(*out);
        *out = NULL;
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    }
    own->in = in;
    rbi_priced_own(*out, own, owned_input_free);
    return RB_OK;
}

/* {===================================================================================
 * The month's usage cache
 *
 * Valid for (store handle, month, usage epoch). The epoch is read in the caller's
 * transaction, so what it says is what that transaction sees; a transaction that bumped it
 * itself (rbi_usage_epoch_is_pending) sees usage that an abort would take back, at an epoch
 * number the next writer reuses: it is priced without the cache, which stays as it was.
 * =================================================================================== */

struct rb_usage_cache {
    uint64_t store;      /* rbi_store_serial() of the store it was loaded from */
    int month;
    uint64_t epoch;      /* the usage epoch it was loaded at */
    struct usage_set *u; /* every organization's usage of the month (a reference); NULL: empty */
    long loads;          /* months loaded (rbi_usage_cache_loads, for the tests) */
};

rb_status rb_usage_cache_new(rb_usage_cache **out)
{
    if (!out)
        return RB_MISUSE;
    *out = rbi_calloc(1, sizeof(**out));
    return *out ? RB_OK : RB_NOMEM;
}

void rb_usage_cache_free(rb_usage_cache *c)
{
    if (!c)
        return;
    usage_set_unref(c->u);
    rbi_free(c);
}

long rbi_usage_cache_loads(const rb_usage_cache *c)
{
    return c->loads;
}

bool rbi_usage_cache_is_empty(const rb_usage_cache *c)
{
    return c->u == NULL;
}

/* The month's usage of every organization, from the cache, or loaded into it first in this
 * transaction: *out gets a new reference. The old content goes before the load (one month in
 * memory at a time), so a failed load leaves the cache empty. */
static rb_status cache_get(rb_txn *txn, rb_usage_cache *c, int month, struct usage_set **out)
{
    uint64_t store = rbi_store_serial(rb_txn_store(txn)), epoch;
    rb_status rc = rbi_usage_epoch(txn, &epoch);

    *out = NULL;
    if (rc != RB_OK)
        return rc;
    if (!c->u || c->store != store || c->month != month || c->epoch != epoch) {
        usage_set_unref(c->u);
        c->u = NULL;
        rc = usage_load(txn, month, NULL, true, &c->u);
        if (rc != RB_OK)
            return rc;
        c->store = store;
        c->month = month;
        c->epoch = epoch;
        c->loads++;
    }
    c->u->refs++;
    *out = c->u;
    return RB_OK;
}

rb_status rbi_price_org_cached(rb_txn *txn, const char *org, int month, const rb_price_opts *opts,
                               rb_usage_cache *cache, rb_priced **out)
{
    struct usage_set *u = NULL;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    *out = NULL;
    rc = check_org_month(txn, org, month);
    if (rc == RB_OK && cache && !rbi_usage_epoch_is_pending(txn)) {
        rc = cache_get(txn, cache, month, &u);
    } else if (rc == RB_OK) { /* only the usage of the organizations org pays for */
        struct orgset only;
        rc = orgset_build(txn, org, month, &only);
        if (rc == RB_OK)
            rc = usage_load(txn, month, &only, false, &u);
        rbi_free(only.v);
    }
    if (rc == RB_OK)
        rc = price_from_set(txn, u, org, month, opts, out);
    if (rc != RB_OK) {
        usage_set_unref(u);
        return rc;
    }
    /* The result keeps the period's strings: it takes over the reference. */
    {
        struct owned_input *own = (*out)->owned;
        own->u = u;
    }
    return RB_OK;
}

rb_status rb_price_org(rb_txn *txn, const char *org, int month, const rb_price_opts *opts,
                       rb_priced **out)
{
    return rbi_price_org_cached(txn, org, month, opts, NULL, out);
}

struct all_ctx {
    rb_txn *txn;
    int month;
    const rb_price_opts *opts;
    rb_price_each_cb cb;
    void *ctx;
    long failed;
    struct usage_set *u;
    rb_status stop;
};

static rb_status all_one(const rb_org *o, void *vctx)
{
    struct all_ctx *c = vctx;
    rb_payer_info pi;
    rb_priced *p = NULL;
    char msg[1024];
    rb_status rc = rb_payer_of(c->txn, o->id, c->month, &pi), cbrc;

    if (rc != RB_OK)
        return rc;
    if (pi.depth == 0)
        return RB_OK; /* nobody bills it */
    rc = price_from_set(c->txn, c->u, o->id, c->month, c->opts, &p);
    if (rc != RB_OK) {
        /* One customer's failure does not stop the others; storage faults do. */
        if (rc == RB_IO || rc == RB_CORRUPT || rc == RB_MISUSE)
            return rc;
        c->failed++;
        rbi_strlcpy(msg, rb_errmsg(rb_txn_store(c->txn)), sizeof(msg));
        cbrc = c->cb(o->id, rc, msg, NULL, c->ctx);
    } else {
        cbrc = c->cb(o->id, RB_OK, "", p, c->ctx);
    }
    rb_priced_free(p);
    if (cbrc != RB_OK)
        c->stop = cbrc;
    return cbrc;
}

rb_status rb_price_all(rb_txn *txn, int month, const rb_price_opts *opts, rb_price_each_cb cb,
                       void *ctx, long *failed)
{
    struct all_ctx c;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    if (failed)
        *failed = 0;
    if (month < 0 || month == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid month");
    memset(&c, 0, sizeof(c));
    c.txn = txn;
    c.month = month;
    c.opts = opts;
    c.cb = cb;
    c.ctx = ctx;
    rc = usage_load(txn, month, NULL, false, &c.u);
    if (rc == RB_OK)
        rc = rb_org_list(txn, all_one, &c);
    usage_set_unref(c.u);
    if (failed)
        *failed = c.failed;
    return rc;
}

/* {===================================================================================
 * Comparing plans
 * =================================================================================== */

struct drow {
    char *key;
    int kind; /* 0 service, 1 item */
    rb_dec old_price, new_price;
};

struct diff_ctx {
    struct drow *v;
    size_t n, cap;
    bool is_new;
    rb_status rc;
};

static rb_status diff_group(const rb_price_group *g, void *vctx)
{
    struct diff_ctx *d = vctx;
    int kind = g->kind == RB_PRICE_USAGE ? 0 : 1;
    size_t i;

    for (i = 0; i < d->n; i++)
        if (d->v[i].kind == kind && strcmp(d->v[i].key, g->key) == 0)
            break;
    if (i == d->n) {
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 32;
            void *nv = rbi_realloc(d->v, cap * sizeof(*d->v));
            if (!nv)
                return RB_NOMEM;
            d->v = nv;
            d->cap = cap;
        }
        d->v[i].key = rbi_strdup(g->key);
        if (!d->v[i].key)
            return RB_NOMEM;
        d->v[i].kind = kind;
        d->v[i].old_price = d->v[i].new_price = rb_dec_zero();
        d->n++;
    }
    if (rb_dec_add(d->is_new ? &d->v[i].new_price : &d->v[i].old_price,
                   d->is_new ? &d->v[i].new_price : &d->v[i].old_price, &g->price) != RB_OK)
        return RB_OVERFLOW;
    return RB_OK;
}

static int drow_cmp(const void *a, const void *b)
{
    const struct drow *x = a, *y = b;

    if (x->kind != y->kind)
        return x->kind - y->kind;
    return strcmp(x->key, y->key);
}

rb_status rb_price_diff(rb_txn *txn, const char *org, int from, int to, const char *name,
                        const char *src, size_t len, const rb_limits *limits, rb_price_diff_cb cb,
                        void *ctx, rb_price_diff_totals *tot)
{
    struct diff_ctx d;
    rb_price_opts newer = {name ? name : "(new rules)", src, len, limits};
    rb_price_opts older = {NULL, NULL, 0, limits};
    rb_dec old_sum = rb_dec_zero(), new_sum = rb_dec_zero(), cost = rb_dec_zero();
    rb_dec old_margin = rb_dec_zero(), new_margin = rb_dec_zero();
    char cur[4] = "";
    char mb[16];
    rb_status rc;

    if (!txn || !cb || !tot || !src)
        return RB_MISUSE;
    rc = check_org_month(txn, org, from);
    if (rc != RB_OK)
        return rc;
    if (to < from || to == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "the last month is before the first");
    if (to - from >= 120)
        return rbi_txn_error(txn, RB_INVALID, "compare at most 120 months at once");
    memset(&d, 0, sizeof(d));
    memset(tot, 0, sizeof(*tot));
    for (int m = from; m <= to && rc == RB_OK; m++) {
        for (int side = 0; side < 2 && rc == RB_OK; side++) {
            rb_priced *p = NULL;
            rc = rb_price_org(txn, org, m, side ? &newer : &older, &p);
            if (rc != RB_OK) {
                char msg[900];
                rb_month_format(m, mb, sizeof(mb));
                rbi_strlcpy(msg, rb_errmsg(rb_txn_store(txn)), sizeof(msg));
                rc = rbi_txn_error(txn, rc, "%s: %s plan: %s", mb, side ? "new" : "current", msg);
                break;
            }
            if (!cur[0] || rb_priced_totals(p)->usage_currency[0] != '\0') {
                if (cur[0] && strcmp(cur, rb_priced_totals(p)->usage_currency) != 0 &&
                    rb_priced_count(p) > 0) {
                    rc = rbi_txn_error(txn, RB_INVALID,
                                       "usage in two currencies over the range "
                                       "(%s and %s)",
                                       cur, rb_priced_totals(p)->usage_currency);
                    rb_priced_free(p);
                    break;
                }
                if (rb_priced_count(p) > 0 || !cur[0])
                    memcpy(cur, rb_priced_totals(p)->usage_currency, 4);
            }
            d.is_new = side == 1;
            rc = rb_priced_groups(p, diff_group, &d);
            if (rc == RB_OK) {
                const rb_price_margin *mg = rb_priced_margin(p);
                rb_dec *sum = side ? &new_sum : &old_sum, *mar = side ? &new_margin : &old_margin;
                if (rb_dec_add(sum, sum, &mg->price) != RB_OK ||
                    rb_dec_add(mar, mar, &mg->margin) != RB_OK ||
                    (!side && rb_dec_add(&cost, &cost, &mg->cost) != RB_OK))
                    rc = RB_OVERFLOW;
            }
            rb_priced_free(p);
            if (rc == RB_NOMEM || rc == RB_OVERFLOW)
                rc = rbi_txn_error(txn, rc,
                                   rc == RB_NOMEM ? "out of memory" : "a total is out of range");
        }
    }
    if (rc == RB_OK) {
        if (d.n > 1)
            qsort(d.v, d.n, sizeof(*d.v), drow_cmp);
        for (size_t i = 0; i < d.n && rc == RB_OK; i++) {
            rb_price_diff_row r;
            r.key = d.v[i].key;
            rb_dec_round_currency(&r.old_price, &d.v[i].old_price, cur[0] ? cur : "USD",
                                  RB_ROUND_HALF_EVEN);
            rb_dec_round_currency(&r.new_price, &d.v[i].new_price, cur[0] ? cur : "USD",
                                  RB_ROUND_HALF_EVEN);
            rb_dec_sub(&r.delta, &r.new_price, &r.old_price);
            rc = cb(&r, ctx);
        }
    }
    if (rc == RB_OK) {
        rb_price_diff_row r;
        memcpy(tot->currency, cur[0] ? cur : "USD", 4);
        tot->months = to - from + 1;
        tot->old_price = old_sum;
        tot->new_price = new_sum;
        rb_dec_sub(&tot->delta, &new_sum, &old_sum);
        tot->cost = cost;
        tot->old_margin = old_margin;
        tot->new_margin = new_margin;
        r.key = NULL;
        r.old_price = old_sum;
        r.new_price = new_sum;
        r.delta = tot->delta;
        rc = cb(&r, ctx);
    }
    for (size_t i = 0; i < d.n; i++)
        rbi_free(d.v[i].key);
    rbi_free(d.v);
    return rc;
}
