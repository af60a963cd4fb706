/*
 * price.c -- pricing: a customer-month's usage lines and a compiled plan become priced lines,
 * custom line items and totals, exactly.
 *
 * Provides: rb_plan_default, rb_plan_compile, rb_plan_name, rb_plan_free, rb_price and the
 * rb_priced_* accessors of include/rebill.h; the invoice view the on_invoice hook edits.
 * Uses: plan.c (the plan model and its scope index), dec.c, the sandbox (sandbox.h) for the
 * rule file's main chunk and its hooks.
 * Must never: call Lua for a declarative rule; allocate inside the per-line loop (everything
 * a run needs is allocated before it starts, so a Lua error thrown from a hook leaks nothing);
 * put a partner-only amount (billed cost, cost, margin) in a customer-facing struct; add
 * amounts of two currencies.
 *
 * A run, in order (docs/rules.md "How a bill is priced"):
 *   1. classify every line (pass-through policy), find its rule, sum volume-tier quantities;
 *   2. price each line: base (list, billed, effective) x (1 + percent/100), or quantity x rate,
 *      or along a ladder; then the on_line hook, if any; keep 12 fraction digits;
 *   3. custom line items in the order the plan declares them;
 *   4. the on_invoice hook, if any;
 *   5. convert to the invoice currency, round the subtotal once, add tax.
 */
#include "plan.h"
#include "sandbox.h"
#include "usage.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The invoice view an on_invoice hook edits. */
struct run;
struct rbi_invoice_view {
    struct run *r;
    bool live;
};

struct rb_plan {
    struct rbi_plan *p;
    struct rbi_sandbox *sb; /* NULL for the built-in default plan */
    int rule;               /* the rule file's handle in sb */
    /* What the hook objects point to: they live as long as the sandbox, so an object a rule
     * kept finds `live` false instead of a dangling pointer. */
    struct rbi_hook_line hl;
    struct rbi_invoice_view iv;
};

/* A priced line: the customer's part and the partner's part, kept apart. */
struct pline {
    rb_price_line cust;
    rb_price_cost partner;
    int item; /* index of the plan item, -1 for usage lines and added lines */
};

struct rpool_block {
    struct rpool_block *next;
    size_t used, cap;
    char data[];
};

struct rb_priced {
    struct pline *lines;
    size_t n, cap;
    struct pline *hidden; /* partner-only: the lines the pass-through policy hid (price 0) */
    size_t nhidden;
    rb_price_totals totals;
    rb_price_margin margin;
    rb_dec *input_price; /* per input line */
    size_t ninput;
    const char **rule_text; /* per plan rule: its text in this result's pool, or NULL */
    int nrules;
    struct rpool_block *pool;
    struct rb_buf log;
    /* owned inputs (rb_price_org): freed with the result */
    void *owned;
    void (*owned_free)(void *);
};

/* {===================================================================================
 * Small helpers
 * =================================================================================== */

static const char *const kind_names[] = {"usage", "pass", "fee", "credit", "commitment", "added"};

const char *rb_price_kind_name(rb_price_kind k)
{
    return (unsigned)k < RB_COUNTOF(kind_names) ? kind_names[k] : "unknown";
}

static char *rpool_alloc(struct rb_priced *r, size_t n)
{
    struct rpool_block *b = r->pool;

    if (!b || b->cap - b->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        b = rbi_malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = r->pool;
        b->used = 0;
        b->cap = cap;
        r->pool = b;
    }
    b->used += n;
    return b->data + b->used - n;
}

static const char *rpool_str(struct rb_priced *r, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = rpool_alloc(r, n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static inline const char *nz(const char *s)
{
    return s ? s : "";
}

static inline rb_status round_line(rb_dec *d)
{
    if (d->scale == RBI_PRICE_SCALE)
        return RB_OK;
    return rb_dec_round(d, d, RBI_PRICE_SCALE, RB_ROUND_HALF_EVEN);
}

/* {===================================================================================
 * Plans
 * =================================================================================== */

rb_status rb_plan_default(rb_plan **out)
{
    struct rb_plan *pl;
    rb_status rc;

    if (!out)
        return RB_MISUSE;
    *out = NULL;
    pl = rbi_calloc(1, sizeof(*pl));
    if (!pl)
        return RB_NOMEM;
    rc = rbi_plan_new(&pl->p, RBI_BASE_LIST, "list price");
    if (rc == RB_OK)
        rc = rbi_plan_finish(pl->p, NULL);
    if (rc != RB_OK) {
        rb_plan_free(pl);
        return rc;
    }
    *out = pl;
    return RB_OK;
}

rb_status rbi_plan_wrap(struct rbi_plan *p, rb_plan **out)
{
    struct rb_plan *pl = rbi_calloc(1, sizeof(*pl));

    *out = NULL;
    if (!pl) {
        rbi_plan_free(p);
        return RB_NOMEM;
    }
    pl->p = p;
    *out = pl;
    return RB_OK;
}

struct rbi_plan *rbi_plan_model(rb_plan *pl)
{
    return pl->p;
}

const char *rb_plan_name(const rb_plan *p)
{
    if (!p)
        return "";
    return p->p->name[0] ? p->p->name : p->p->file;
}

void rb_plan_free(rb_plan *pl)
{
    if (!pl)
        return;
    rbi_sandbox_free(pl->sb);
    rbi_plan_free(pl->p);
    rbi_free(pl);
}

struct compile_ctx {
    struct rbi_plan *p;
    int rule;
    rb_error err;
    rb_status rc;
};

static void compile_fn(lua_State *L, void *vctx)
{
    struct compile_ctx *c = vctx;

    rbi_sandbox_push_rule(L, c->rule);
    c->rc = rbi_plan_read(L, lua_gettop(L), c->p, &c->err);
    lua_pop(L, 1);
}

/*
 * The pricing constructors belong in the sandbox's list of API openers (sandbox.c calls
 * rbi_lapi_dec_open the same way). Until sandbox.c lists rbi_lapi_rebill_open, add them here,
 * through the sandbox: read the frozen `rebill` table a one-line rule returns and set the
 * constructors raw on it. NEEDSWORK: remove once sandbox.c opens them itself.
 */
struct api_ctx {
    int rule;
};

static void api_fn(lua_State *L, void *vctx)
{
    struct api_ctx *c = vctx;

    rbi_sandbox_push_rule(L, c->rule);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "plan"); /* the proxy's __index is a table: no rule code runs */
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            rbi_lapi_rebill_open(L);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static rb_status ensure_api(struct rbi_sandbox *sb, rb_error *err)
{
    static const char src[] = "return rebill";
    struct api_ctx c;
    rb_status rc = rbi_sandbox_load(sb, "(rebill api)", src, sizeof(src) - 1, &c.rule);

    if (rc == RB_OK)
        rc = rbi_sandbox_run(sb, api_fn, &c);
    if (rc != RB_OK)
        return rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(sb));
    return RB_OK;
}

rb_status rb_plan_compile(rb_plan **out, const char *name, const char *src, size_t len,
                          const rb_limits *limits, rb_error *err)
{
    struct rb_plan *pl;
    struct compile_ctx c;
    rb_status rc;

    if (!out || !name || (!src && len))
        return rbi_error_set(err, RB_MISUSE, "rb_plan_compile: missing argument");
    *out = NULL;
    pl = rbi_calloc(1, sizeof(*pl));
    if (!pl)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    rc = rbi_plan_new(&pl->p, RBI_BASE_LIST, NULL);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "out of memory");
        goto out_free;
    }
    rbi_strlcpy(pl->p->file, name, sizeof(pl->p->file));
    rc = rbi_sandbox_new(&pl->sb, limits, err);
    if (rc != RB_OK)
        goto out_free;
    rc = ensure_api(pl->sb, err);
    if (rc != RB_OK)
        goto out_free;
    rc = rbi_sandbox_load(pl->sb, name, src ? src : "", len, &pl->rule);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out_free;
    }
    memset(&c, 0, sizeof(c));
    c.p = pl->p;
    c.rule = pl->rule;
    c.rc = RB_ERROR;
    rbi_strlcpy(c.err.msg, "plan not read", sizeof(c.err.msg));
    rc = rbi_sandbox_run(pl->sb, compile_fn, &c);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out_free;
    }
    if (c.rc != RB_OK) {
        rc = rbi_error_set(err, c.rc, "%s", c.err.msg);
        goto out_free;
    }
    rc = rbi_plan_finish(pl->p, err);
    if (rc != RB_OK)
        goto out_free;
    *out = pl;
    return RB_OK;

out_free:
    rb_plan_free(pl);
    return rc;
}

/* {===================================================================================
 * A run
 * =================================================================================== */

struct svcmap {
    const char **name; /* by index */
    int n;
    int32_t *slot; /* open addressing: index or -1 */
    uint64_t *hash;
    size_t mask;
};

struct run {
    struct rb_plan *pl;
    const struct rbi_plan *p;
    const rb_price_request *req;
    struct rb_priced *out;
    /* per input line */
    rb_dec *tier_used; /* graduated: the slot's quantity before the line (price_order) */
    unsigned char *action;
    unsigned char *ltype;
    int32_t *rule;
    int32_t *svc;
    /* per tier slot */
    rb_dec *slot_total; /* volume: total quantity */
    rb_dec *slot_used;  /* graduated: quantity priced so far */
    /* per item */
    rb_dec *item_amount;
    /* per service (scratch for itemized items and the invoice view) */
    struct svcmap svcs;
    rb_dec *svc_sum;
    rb_dec usage_total; /* prices of usage and passed lines */
    /* failure */
    rb_status rc;
    char msg[768];
    long cur; /* the input line being priced, -1 if none */
    /* hooks: the plan's objects */
    struct rbi_hook_line *hl;
    int adds;
};

static uint64_t hstr(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static int svc_index(struct svcmap *m, const char *s)
{
    uint64_t h = hstr(s);
    size_t j;

    for (j = h & m->mask; m->slot[j] >= 0; j = (j + 1) & m->mask)
        if (m->hash[j] == h && strcmp(m->name[m->slot[j]], s) == 0)
            return m->slot[j];
    m->slot[j] = m->n;
    m->hash[j] = h;
    m->name[m->n] = s;
    return m->n++;
}

static rb_status fail(struct run *r, rb_status rc, const char *fmt, ...) RBI_PRINTF(3, 4);
static rb_status fail(struct run *r, rb_status rc, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (r->rc != RB_OK)
        return r->rc;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    if (r->cur >= 0) {
        const rb_price_input *in = &r->req->lines[r->cur];
        n = strlen(r->msg);
        snprintf(r->msg + n, sizeof(r->msg) - n, " (pricing account %s, service %s, usage type %s)",
                 nz(in->account), nz(in->service), nz(in->usage_type));
    }
    r->rc = rc;
    return rc;
}

static rb_status overflow(struct run *r, const char *what)
{
    return fail(r, RB_OVERFLOW, "%s: amount out of range (more than 38 digits)", what);
}

static void run_release(struct run *r)
{
    rbi_free(r->tier_used);
    rbi_free(r->action);
    rbi_free(r->ltype);
    rbi_free(r->rule);
    rbi_free(r->svc);
    rbi_free(r->slot_total);
    rbi_free(r->slot_used);
    rbi_free(r->item_amount);
    rbi_free(r->svcs.name);
    rbi_free(r->svcs.slot);
    rbi_free(r->svcs.hash);
    rbi_free(r->svc_sum);
}

/* Lines an item can produce: one, or one per service when itemized. */
static size_t item_lines_max(const struct rbi_plan *p, size_t nservices)
{
    size_t n = 0;

    for (int i = 0; i < p->nitems; i++)
        n += p->items[i].itemized ? nservices : 1;
    return n;
}

/* Matches by the strings' addresses: a run's lines share their strings (the store's loader
 * and the fixture reader intern them), so one probe answers for every line of a scope. Two
 * different addresses of equal strings only cost a second match. */
struct memo {
    const char *s, *u, *o, *e;
    int32_t rule;
};

static int match_memo(struct memo *m, size_t mask, const struct rbi_plan *p,
                      const rb_price_input *in)
{
    const char *s = in->service, *u = nz(in->usage_type), *o = nz(in->operation);
    const char *e = nz(in->entity);
    uint64_t h = ((uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ULL) ^
                 ((uint64_t)(uintptr_t)u * 0xc2b2ae3d27d4eb4fULL) ^
                 ((uint64_t)(uintptr_t)o * 0x165667b19e3779f9ULL) ^
                 ((uint64_t)(uintptr_t)e * 0x27d4eb2f165667c5ULL);
    size_t j;

    for (j = (h ^ (h >> 29)) & mask; m[j].s; j = (j + 1) & mask)
        if (m[j].s == s && m[j].u == u && m[j].o == o && m[j].e == e)
            return m[j].rule;
    m[j].s = s;
    m[j].u = u;
    m[j].o = o;
    m[j].e = e;
    m[j].rule = rbi_plan_match(p, s, e, u, o);
    return m[j].rule;
}

static int input_cmp(const void *pa, const void *pb, void *ctx)
{
    const rb_price_input *v = ctx, *a = &v[*(const size_t *)pa], *b = &v[*(const size_t *)pb];
    const char *x[] = {a->account, a->service, a->usage_type, a->operation,
                       a->region,  a->line_type, a->entity,   a->currency};
    const char *y[] = {b->account, b->service, b->usage_type, b->operation,
                       b->region,  b->line_type, b->entity,   b->currency};
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;

    for (size_t k = 0; k < sizeof(x) / sizeof(*x); k++) {
        int c = strcmp(x[k] ? x[k] : "", y[k] ? y[k] : "");
        if (c != 0)
            return c;
    }
    return ia < ib ? -1 : ia > ib; /* stable: equal keys keep the input's order */
}

/* Graduated tiers are consumed in the order of the lines' dimensions (account, service, usage
 * type, operation, region, line type, entity), whatever order the caller gives the lines in,
 * so the same lines always price the same (docs/rules.md); the result keeps the input's
 * order. Stored usage arrives sorted already. Sets tier_used[i] for every graduated line. */
static rb_status price_order(struct run *r)
{
    const rb_price_input *v = r->req->lines;
    size_t n = r->req->nlines, *order = NULL;
    bool sorted = true, any = false;
    rb_status rc = RB_OK;

    for (size_t i = 0; i < n && !any; i++)
        any = r->rule[i] >= 0 && r->p->rules[r->rule[i]].kind == RBI_RULE_TIERED &&
              !r->p->rules[r->rule[i]].volume;
    if (!any)
        return RB_OK;
    r->tier_used = rbi_calloc(n, sizeof(rb_dec));
    order = rbi_malloc(n * sizeof(size_t));
    if (!r->tier_used || !order) {
        rbi_free(order);
        return fail(r, RB_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        if (i > 0 && sorted && input_cmp(&order[i - 1], &order[i], (void *)v) > 0)
            sorted = false;
    }
    if (!sorted)
        qsort_r(order, n, sizeof(size_t), input_cmp, (void *)v);
    for (size_t k = 0; k < n && rc == RB_OK; k++) {
        size_t i = order[k];
        const struct rbi_rule *ru = r->rule[i] >= 0 ? &r->p->rules[r->rule[i]] : NULL;
        if (!ru || ru->kind != RBI_RULE_TIERED || ru->volume)
            continue;
        r->tier_used[i] = r->slot_used[ru->slot];
        if (rb_dec_add(&r->slot_used[ru->slot], &r->slot_used[ru->slot], &v[i].quantity) != RB_OK) {
            r->cur = (long)i;
            rc = overflow(r, "tier quantity");
        }
    }
    r->cur = -1;
    rbi_free(order);
    return rc;
}

/* Step 1: classify, match, count. Allocates everything the run needs. */
static rb_status prepare(struct run *r)
{
    const rb_price_request *q = r->req;
    const struct rbi_plan *p = r->p;
    size_t n = q->nlines, cap = 16;
    struct memo *memo;

    r->action = rbi_malloc(n + 1);
    r->ltype = rbi_malloc(n + 1);
    r->rule = rbi_malloc((n + 1) * sizeof(int32_t));
    r->svc = rbi_malloc((n + 1) * sizeof(int32_t));
    r->slot_total = rbi_calloc((size_t)p->nslots + 1, sizeof(rb_dec));
    r->slot_used = rbi_calloc((size_t)p->nslots + 1, sizeof(rb_dec));
    r->item_amount = rbi_calloc((size_t)p->nitems + 1, sizeof(rb_dec));
    while (cap < 2 * n + 2)
        cap *= 2;
    r->svcs.name = rbi_malloc((n + 1) * sizeof(char *));
    r->svcs.slot = rbi_malloc(cap * sizeof(int32_t));
    r->svcs.hash = rbi_malloc(cap * sizeof(uint64_t));
    r->svcs.mask = cap - 1;
    if (!r->action || !r->ltype || !r->rule || !r->svc || !r->slot_total || !r->slot_used ||
        !r->item_amount || !r->svcs.name || !r->svcs.slot || !r->svcs.hash)
        return fail(r, RB_NOMEM, "out of memory");
    memset(r->svcs.slot, 0xff, cap * sizeof(int32_t));
    memo = rbi_calloc(cap, sizeof(*memo)); /* n lines: at most n scopes, half full */
    if (!memo)
        return fail(r, RB_NOMEM, "out of memory");
    for (int i = 0; i < p->nslots; i++)
        r->slot_total[i] = r->slot_used[i] = rb_dec_zero();
    for (int i = 0; i < p->nitems; i++)
        r->item_amount[i] = rb_dec_zero();
    r->usage_total = rb_dec_zero();

    for (size_t i = 0; i < n; i++) {
        const rb_price_input *in = &q->lines[i];
        enum rbi_ltype lt;
        int rule = -1;

        r->cur = (long)i;
        if (!in->service || !in->line_type) {
            rbi_free(memo);
            return fail(r, RB_INVALID, "usage line %zu has no service or line type", i + 1);
        }
        if (strlen(in->currency) != 3) {
            rbi_free(memo);
            return fail(r, RB_INVALID, "usage line %zu has no currency", i + 1);
        }
        if (i == 0) {
            memcpy(r->out->totals.usage_currency, in->currency, 4);
        } else if (strcmp(in->currency, r->out->totals.usage_currency) != 0) {
            rbi_free(memo);
            return fail(r, RB_INVALID,
                        "usage in two currencies: %s and %s; price each currency "
                        "separately",
                        r->out->totals.usage_currency, in->currency);
        }
        lt = rbi_ltype_classify(in->line_type, in->service);
        r->ltype[i] = (unsigned char)lt;
        r->action[i] = p->action[lt];
        r->svc[i] = svc_index(&r->svcs, in->service);
        if (r->action[i] == RBI_ACT_PRICE && p->nrules > 0) {
            rule = match_memo(memo, cap - 1, p, in);
            if (rule >= 0 && p->rules[rule].kind == RBI_RULE_TIERED && p->rules[rule].volume) {
                rb_dec *t = &r->slot_total[p->rules[rule].slot];
                if (rb_dec_add(t, t, &in->quantity) != RB_OK) {
                    rbi_free(memo);
                    return overflow(r, "tier quantity");
                }
            }
        }
        r->rule[i] = rule;
    }
    rbi_free(memo);
    r->cur = -1;
    if (price_order(r) != RB_OK)
        return r->rc;
    r->svc_sum = rbi_calloc((size_t)r->svcs.n + 1, sizeof(rb_dec));
    if (!r->svc_sum)
        return fail(r, RB_NOMEM, "out of memory");
    /* The result: every input line, the items, and what on_invoice may add. */
    r->out->cap = n + item_lines_max(p, (size_t)r->svcs.n) +
                  (p->on_invoice != LUA_NOREF ? RBI_INVOICE_ADDS_MAX : 0);
    r->out->lines = rbi_calloc(r->out->cap + 1, sizeof(struct pline));
    r->out->input_price = rbi_calloc(n + 1, sizeof(rb_dec));
    r->out->ninput = n;
    r->out->rule_text = rbi_calloc((size_t)p->nrules + 1, sizeof(char *));
    r->out->nrules = p->nrules;
    if (!r->out->lines || !r->out->input_price || !r->out->rule_text)
        return fail(r, RB_NOMEM, "out of memory");
    return RB_OK;
}

/* The text of a rule, copied once into the result. */
static const char *rule_text(struct run *r, int rule)
{
    const struct rbi_rule *ru = &r->p->rules[rule];
    char buf[2 * RBI_WHERE_MAX + 64], scope[RBI_WHERE_MAX], a[RB_DEC_BUFSZ];
    const char **slot = &r->out->rule_text[rule];

    if (*slot)
        return *slot;
    rbi_rule_scope_text(ru, scope, sizeof(scope));
    switch (ru->kind) {
    case RBI_RULE_PERCENT:
        rb_dec_format(&ru->percent, a, sizeof(a));
        snprintf(buf, sizeof(buf), "%s %s%s%%", scope, rb_dec_sign(&ru->percent) >= 0 ? "+" : "",
                 a);
        break;
    case RBI_RULE_RATE:
        rb_dec_format(&ru->rate, a, sizeof(a));
        snprintf(buf, sizeof(buf), "%s rate %s", scope, a);
        break;
    default:
        snprintf(buf, sizeof(buf), "%s %s tiers", scope, ru->volume ? "volume" : "graduated");
        break;
    }
    *slot = rpool_str(r->out, buf);
    return *slot ? *slot : "";
}

static const char *const base_text[] = {"list", "billed", "effective"};

/* The declarative price of input line i. */
static rb_status price_line(struct run *r, size_t i, rb_dec *price, rb_dec *base, const char **why)
{
    const rb_price_input *in = &r->req->lines[i];
    const struct rbi_plan *p = r->p;
    const rb_dec *cost = r->req->cost ? &r->req->cost[i] : &in->billed;
    const struct rbi_rule *ru = r->rule[i] >= 0 ? &p->rules[r->rule[i]] : NULL;
    rb_status rc = RB_OK;

    if (r->action[i] == RBI_ACT_PASS) {
        *price = *base = *cost;
        *why = "pass";
        return RB_OK;
    }
    switch (p->base) {
    case RBI_BASE_LIST:
        *base = in->list;
        /* Free tier: usage AWS billed below list keeps the lower cost (docs/rules.md). */
        if (p->free_tier && r->ltype[i] == RBI_LT_USAGE && rb_dec_sign(&in->billed) >= 0 &&
            rb_dec_cmp(&in->billed, &in->list) < 0)
            *base = in->billed;
        break;
    case RBI_BASE_BILLED:
        *base = *cost;
        break;
    default:
        *base = in->effective;
        break;
    }
    if (!ru) {
        *price = *base;
        *why = base_text[p->base];
        return RB_OK;
    }
    *why = rule_text(r, r->rule[i]);
    switch (ru->kind) {
    case RBI_RULE_PERCENT:
        rc = rb_dec_mul(price, base, &ru->factor);
        break;
    case RBI_RULE_RATE:
        rc = rb_dec_mul(price, &in->quantity, &ru->rate);
        break;
    case RBI_RULE_TIERED:
        if (ru->volume) {
            const rb_dec *tot = &r->slot_total[ru->slot];
            int t = 0;
            while (t < ru->ntiers - 1 && rb_dec_cmp(tot, &ru->tiers[t].upto) > 0)
                t++;
            rc = rb_dec_mul(price, &in->quantity, &ru->tiers[t].value);
        } else {
            /* Graduated, line after line in price_order(): F(used + q) - F(used). */
            const rb_dec *used = &r->tier_used[i];
            rb_dec next, f0, f1;
            rc = rb_dec_add(&next, used, &in->quantity);
            if (rc == RB_OK)
                rc = rbi_tiers_apply(ru->tiers, ru->ntiers, false, false, used, &f0);
            if (rc == RB_OK)
                rc = rbi_tiers_apply(ru->tiers, ru->ntiers, false, false, &next, &f1);
            if (rc == RB_OK)
                rc = rb_dec_sub(price, &f1, &f0);
        }
        break;
    }
    return rc;
}

/* Append a line; the capacity was sized in prepare(). */
static struct pline *add_line(struct run *r)
{
    struct pline *l;

    if (RB_NEVER(r->out->n >= r->out->cap))
        return NULL;
    l = &r->out->lines[r->out->n++];
    memset(l, 0, sizeof(*l));
    l->item = -1;
    l->partner.input = -1;
    l->cust.account = l->cust.service = l->cust.usage_type = l->cust.operation = "";
    l->cust.region = l->cust.line_type = l->cust.label = "";
    l->partner.rule = "";
    return l;
}

/* Step 2, for one line: price, hook, record. L is NULL when the plan has no on_line hook. */
static rb_status line_step(struct run *r, lua_State *L, int hook, int lineobj, size_t i)
{
    const rb_price_input *in = &r->req->lines[i];
    rb_dec price, base;
    const char *why;
    struct pline *l;

    r->cur = (long)i;
    if (r->action[i] == RBI_ACT_HIDE) {
        struct rb_priced *o = r->out;
        if (!o->hidden) { /* sized for every input line: hidden lines are few, runs short */
            o->hidden = rbi_calloc(r->req->nlines, sizeof(*o->hidden));
            if (!o->hidden)
                return fail(r, RB_NOMEM, "out of memory");
        }
        l = &o->hidden[o->nhidden++];
        l->item = -1;
        l->cust.kind = RB_PRICE_PASS;
        l->cust.account = nz(in->account);
        l->cust.service = in->service;
        l->cust.usage_type = nz(in->usage_type);
        l->cust.operation = nz(in->operation);
        l->cust.region = nz(in->region);
        l->cust.line_type = in->line_type;
        l->cust.label = "";
        l->cust.quantity = in->quantity;
        l->cust.amount = l->partner.price = rb_dec_zero();
        l->partner.cost = r->req->cost ? r->req->cost[i] : in->billed;
        l->partner.billed = in->billed;
        l->partner.list = in->list;
        l->partner.effective = in->effective;
        l->partner.input = (long)i;
        l->partner.rule = "hidden";
        o->input_price[i] = rb_dec_zero();
        o->margin.hidden++;
        return RB_OK;
    }
    if (price_line(r, i, &price, &base, &why) != RB_OK)
        return overflow(r, "price");
    if (L && r->action[i] == RBI_ACT_PRICE) {
        const rb_dec *d;
        r->hl->in = in;
        r->hl->cost = r->req->cost ? r->req->cost[i] : in->billed;
        r->hl->base = base;
        r->hl->price = price;
        r->hl->rule = r->rule[i] >= 0 ? &r->p->rules[r->rule[i]] : NULL;
        lua_pushvalue(L, hook);
        lua_pushvalue(L, lineobj);
        lua_call(L, 1, 1);
        if (lua_type(L, -1) != LUA_TNIL) {
            int res = lua_gettop(L); /* absolute: rbi_lapi_dec_test wants one */
            d = rbi_lapi_dec_test(L, res);
            if (d) {
                price = *d;
            } else if (lua_type(L, res) == LUA_TNUMBER || lua_type(L, res) == LUA_TSTRING) {
                price = rbi_lapi_dec_check(L, res, "on_line's result");
            } else {
                const char *tn = lua_typename(L, lua_type(L, -1));
                lua_pop(L, 1);
                return fail(r, RB_INVALID,
                            "%s: on_line must return money, a number, decimal text or nil, "
                            "not a %s",
                            r->p->on_line_where, tn);
            }
            why = "on_line hook";
        }
        lua_pop(L, 1);
    }
    if (round_line(&price) != RB_OK)
        return overflow(r, "price");
    l = add_line(r);
    if (!l)
        return fail(r, RB_ERROR, "internal error: result full");
    l->cust.kind = r->action[i] == RBI_ACT_PASS ? RB_PRICE_PASS : RB_PRICE_USAGE;
    l->cust.account = nz(in->account);
    l->cust.service = in->service;
    l->cust.usage_type = nz(in->usage_type);
    l->cust.operation = nz(in->operation);
    l->cust.region = nz(in->region);
    l->cust.line_type = in->line_type;
    l->cust.quantity = in->quantity;
    l->cust.amount = price;
    l->partner.price = price;
    l->partner.cost = r->req->cost ? r->req->cost[i] : in->billed;
    l->partner.billed = in->billed;
    l->partner.list = in->list;
    l->partner.effective = in->effective;
    l->partner.input = (long)i;
    l->partner.rule = why;
    r->out->input_price[i] = price;
    if (rb_dec_add(&r->usage_total, &r->usage_total, &price) != RB_OK)
        return overflow(r, "total");
    return RB_OK;
}

/* {===================================================================================
 * Custom line items
 * =================================================================================== */

static bool in_list(const char *const *v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool line_selected(const struct run *r, const struct rbi_item *it, long input)
{
    const rb_price_input *in = &r->req->lines[input];

    if (it->nservices && !in_list(it->services, it->nservices, in->service))
        return false;
    if (it->nentities && !in_list(it->entities, it->nentities, nz(in->entity)))
        return false;
    if (it->nline_types && !in_list(it->line_types, it->nline_types, in->line_type) &&
        !in_list(it->line_types, it->nline_types, rbi_ltype_name(r->ltype[input])))
        return false;
    return true;
}

/* The sum of an item's sources; per service in r->svc_sum when `per_service`. */
static rb_status item_source(struct run *r, int k, bool per_service, rb_dec *sum)
{
    const struct rbi_item *it = &r->p->items[k];
    bool filtered = it->nservices || it->nentities || it->nline_types;

    *sum = rb_dec_zero();
    if (per_service)
        for (int s = 0; s < r->svcs.n; s++)
            r->svc_sum[s] = rb_dec_zero();
    if (it->of_usage) {
        if (!filtered && !per_service) {
            *sum = r->usage_total;
        } else {
            for (size_t i = 0; i < r->out->n; i++) {
                const struct pline *l = &r->out->lines[i];
                if (l->partner.input < 0 || !line_selected(r, it, l->partner.input))
                    continue;
                if (rb_dec_add(sum, sum, &l->partner.price) != RB_OK)
                    return RB_OVERFLOW;
                if (per_service) {
                    rb_dec *s = &r->svc_sum[r->svc[l->partner.input]];
                    if (rb_dec_add(s, s, &l->partner.price) != RB_OK)
                        return RB_OVERFLOW;
                }
            }
        }
    }
    for (int j = 0; j < k; j++) {
        bool named = false;
        for (int m = 0; m < it->nof_items && !named; m++)
            named = it->of_items[m] == j;
        if ((it->of_all_items || named) && rb_dec_add(sum, sum, &r->item_amount[j]) != RB_OK)
            return RB_OVERFLOW;
    }
    return RB_OK;
}

static rb_status percent_of(rb_dec *out, const rb_dec *src, const rb_dec *pct)
{
    rb_dec t, hundred = rb_dec_from_int(100);

    if (rb_dec_mul(&t, src, pct) != RB_OK || t.scale + 2 > RB_DEC_MAX_SCALE)
        return RB_OVERFLOW;
    return rb_dec_div(out, &t, &hundred, t.scale + 2, RB_ROUND_HALF_EVEN);
}

static struct pline *item_line(struct run *r, int k, const char *service, const rb_dec *amount)
{
    const struct rbi_item *it = &r->p->items[k];
    struct pline *l = add_line(r);

    if (!l)
        return NULL;
    l->cust.kind = it->kind == RBI_ITEM_FEE      ? RB_PRICE_FEE
                   : it->kind == RBI_ITEM_CREDIT ? RB_PRICE_CREDIT
                                                 : RB_PRICE_COMMIT;
    l->cust.label = it->name; /* the plan outlives the run; fixed up in finish_result() */
    l->cust.service = service;
    l->cust.quantity = rb_dec_zero();
    l->cust.amount = *amount;
    l->partner.price = *amount;
    l->partner.cost = rb_dec_zero();
    l->partner.billed = l->partner.list = l->partner.effective = rb_dec_zero();
    l->partner.rule = it->where;
    l->item = k;
    return l;
}

/* Step 3. */
static rb_status items_step(struct run *r)
{
    const struct rbi_plan *p = r->p;
    int month = r->req->month;

    r->cur = -1;
    for (int k = 0; k < p->nitems; k++) {
        const struct rbi_item *it = &p->items[k];
        rb_dec src, a = rb_dec_zero();
        rb_status rc = RB_OK;

        if (!rbi_item_in_force(it, month))
            continue;
        if (it->amt != RBI_AMT_FLAT || it->kind == RBI_ITEM_COMMIT)
            rc = item_source(r, k, it->itemized, &src);
        if (rc == RB_OK) {
            switch (it->kind == RBI_ITEM_COMMIT ? RBI_AMT_FLAT : it->amt) {
            case RBI_AMT_FLAT:
                a = it->amount;
                if (it->kind == RBI_ITEM_COMMIT) {
                    rc = rb_dec_sub(&a, &it->amount, &src);
                    if (rc == RB_OK && rb_dec_sign(&a) < 0)
                        a = rb_dec_zero();
                }
                break;
            case RBI_AMT_PERCENT:
                rc = percent_of(&a, &src, &it->percent);
                break;
            case RBI_AMT_TIERED:
                rc = rbi_tiers_apply(it->tiers, it->ntiers, it->volume, true, &src, &a);
                break;
            }
        }
        if (rc == RB_OK && it->has_min && rb_dec_cmp(&a, &it->minimum) < 0)
            a = it->minimum;
        if (rc == RB_OK && it->has_max && rb_dec_cmp(&a, &it->maximum) > 0)
            a = it->maximum;
        if (rc == RB_OK && it->kind == RBI_ITEM_CREDIT)
            a = rb_dec_neg(&a);
        if (rc == RB_OK)
            rc = round_line(&a);
        if (rc != RB_OK)
            return fail(r, RB_OVERFLOW, "%s: item \"%s\": amount out of range", it->where,
                        it->name);
        if (it->itemized) {
            rb_dec total = rb_dec_zero();
            for (int s = 0; s < r->svcs.n; s++) {
                rb_dec part;
                if (rb_dec_sign(&r->svc_sum[s]) == 0)
                    continue;
                if (percent_of(&part, &r->svc_sum[s], &it->percent) != RB_OK)
                    return fail(r, RB_OVERFLOW, "%s: item \"%s\": amount out of range", it->where,
                                it->name);
                if (it->kind == RBI_ITEM_CREDIT)
                    part = rb_dec_neg(&part);
                if (round_line(&part) != RB_OK || rb_dec_add(&total, &total, &part) != RB_OK)
                    return fail(r, RB_OVERFLOW, "%s: item \"%s\": amount out of range", it->where,
                                it->name);
                if (!item_line(r, k, r->svcs.name[s], &part))
                    return fail(r, RB_ERROR, "internal error: result full");
            }
            r->item_amount[k] = total;
        } else {
            r->item_amount[k] = a;
            if (!item_line(r, k, "", &a))
                return fail(r, RB_ERROR, "internal error: result full");
        }
    }
    return RB_OK;
}

/* {===================================================================================
 * The invoice view (on_invoice)
 * =================================================================================== */

static rb_status subtotal_now(const struct run *r, rb_dec *sum)
{
    *sum = rb_dec_zero();
    for (size_t i = 0; i < r->out->n; i++)
        if (rb_dec_add(sum, sum, &r->out->lines[i].partner.price) != RB_OK)
            return RB_OVERFLOW;
    return RB_OK;
}

bool rbi_invoice_live(const struct rbi_invoice_view *iv)
{
    return iv && iv->live;
}

const char *rbi_invoice_customer(const struct rbi_invoice_view *iv)
{
    return nz(iv->r->req->customer);
}

int rbi_invoice_month(const struct rbi_invoice_view *iv)
{
    return iv->r->req->month;
}

const char *rbi_invoice_currency(const struct rbi_invoice_view *iv)
{
    return iv->r->out->totals.usage_currency;
}

rb_status rbi_invoice_subtotal(const struct rbi_invoice_view *iv, rb_dec *out)
{
    return subtotal_now(iv->r, out);
}

rb_status rbi_invoice_cost(const struct rbi_invoice_view *iv, rb_dec *out)
{
    const struct run *r = iv->r;

    *out = rb_dec_zero();
    for (size_t i = 0; i < r->req->nlines; i++) {
        const rb_dec *c = r->req->cost ? &r->req->cost[i] : &r->req->lines[i].billed;
        if (rb_dec_add(out, out, c) != RB_OK)
            return RB_OVERFLOW;
    }
    return RB_OK;
}

/* Price per service of the usage and passed lines: names[i] and sums[i], i < returned n. The
 * arrays are the run's (valid during the hook). */
int rbi_invoice_services(const struct rbi_invoice_view *iv, const char *const **names,
                         const rb_dec **sums)
{
    struct run *r = iv->r;

    for (int s = 0; s < r->svcs.n; s++)
        r->svc_sum[s] = rb_dec_zero();
    for (size_t i = 0; i < r->out->n; i++) {
        const struct pline *l = &r->out->lines[i];
        if (l->partner.input >= 0) {
            rb_dec *s = &r->svc_sum[r->svc[l->partner.input]];
            if (rb_dec_add(s, s, &l->partner.price) != RB_OK)
                return -1;
        }
    }
    *names = r->svcs.name;
    *sums = r->svc_sum;
    return r->svcs.n;
}

int rbi_invoice_nitems(const struct rbi_invoice_view *iv)
{
    return iv->r->p->nitems;
}

/* Item k: its name, amount (0 when not in force) and whether it is in force this month. */
const char *rbi_invoice_item(const struct rbi_invoice_view *iv, int k, rb_dec *amount,
                             bool *in_force)
{
    const struct run *r = iv->r;

    *amount = r->item_amount[k];
    *in_force = rbi_item_in_force(&r->p->items[k], r->req->month);
    return r->p->items[k].name;
}

/* Add a line; msg gets why not. */
rb_status rbi_invoice_add(struct rbi_invoice_view *iv, const char *name, const char *service,
                          const rb_dec *amount, char *msg, size_t msgsize)
{
    struct run *r = iv->r;
    struct pline *l;
    rb_dec a = *amount;
    const char *label, *svc = "";

    if (r->adds >= RBI_INVOICE_ADDS_MAX) {
        snprintf(msg, msgsize, "on_invoice may add at most %d lines", RBI_INVOICE_ADDS_MAX);
        return RB_INVALID;
    }
    if (!*name || strlen(name) > RB_PRICE_LABEL_MAX) {
        snprintf(msg, msgsize, "a line's name must be 1..%d bytes", RB_PRICE_LABEL_MAX);
        return RB_INVALID;
    }
    if (round_line(&a) != RB_OK) {
        snprintf(msg, msgsize, "amount out of range");
        return RB_OVERFLOW;
    }
    if (service) {
        int s;
        for (s = 0; s < r->svcs.n && strcmp(r->svcs.name[s], service) != 0; s++)
            ;
        if (s == r->svcs.n) {
            snprintf(msg, msgsize, "no usage of service \"%.64s\" on this invoice", service);
            return RB_INVALID;
        }
        svc = r->svcs.name[s];
    }
    label = rpool_str(r->out, name);
    l = add_line(r);
    if (!label || !l) {
        snprintf(msg, msgsize, "out of memory");
        return RB_NOMEM;
    }
    l->cust.kind = RB_PRICE_ADDED;
    l->cust.label = label;
    l->cust.service = svc;
    l->cust.quantity = rb_dec_zero();
    l->cust.amount = a;
    l->partner.price = a;
    l->partner.cost = l->partner.billed = l->partner.list = l->partner.effective = rb_dec_zero();
    l->partner.rule = "on_invoice hook";
    r->adds++;
    return RB_OK;
}

/* Change the amount of a (consolidated) item in force this month. */
rb_status rbi_invoice_set_item(struct rbi_invoice_view *iv, const char *name, const rb_dec *amount,
                               char *msg, size_t msgsize)
{
    struct run *r = iv->r;
    int k = rbi_plan_item_find(r->p, name);
    rb_dec a = *amount;

    if (k < 0) {
        snprintf(msg, msgsize, "no item named \"%.64s\" in the plan", name);
        return RB_INVALID;
    }
    if (r->p->items[k].itemized || !rbi_item_in_force(&r->p->items[k], r->req->month)) {
        snprintf(msg, msgsize, "item \"%.64s\" is %s", name,
                 r->p->items[k].itemized ? "itemized (add a line instead)"
                                         : "not in force this month");
        return RB_INVALID;
    }
    if (round_line(&a) != RB_OK) {
        snprintf(msg, msgsize, "amount out of range");
        return RB_OVERFLOW;
    }
    for (size_t i = 0; i < r->out->n; i++) {
        struct pline *l = &r->out->lines[i];
        if (l->item == k) {
            l->cust.amount = l->partner.price = a;
            l->partner.rule = "on_invoice hook";
        }
    }
    r->item_amount[k] = a;
    return RB_OK;
}

/* {===================================================================================
 * The run: steps 2 to 4, in C or inside the sandbox
 * =================================================================================== */

static void run_steps(lua_State *L, void *vctx)
{
    struct run *r = vctx;
    const struct rbi_plan *p = r->p;
    int hook = 0, lineobj = 0;
    struct rbi_invoice_view *iv = &r->pl->iv;

    r->hl = &r->pl->hl;
    if (L && p->on_line != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->on_line);
        hook = lua_gettop(L);
        r->hl->live = true;
        rbi_lapi_line_push(L, r->hl);
        lineobj = lua_gettop(L);
    }
    for (size_t i = 0; i < r->req->nlines && r->rc == RB_OK; i++)
        line_step(r, hook ? L : NULL, hook, lineobj, i);
    r->hl->live = false;
    r->cur = -1;
    if (r->rc == RB_OK)
        items_step(r);
    if (r->rc == RB_OK && L && p->on_invoice != LUA_NOREF) {
        iv->r = r;
        iv->live = true;
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->on_invoice);
        rbi_lapi_invoice_push(L, iv);
        lua_call(L, 1, 0);
        iv->live = false;
        iv->r = NULL;
    }
    if (hook)
        lua_settop(L, hook - 1);
}

/* Step 5: drop zero items, convert, round, tax, margin. */
static rb_status finish_result(struct run *r)
{
    struct rb_priced *o = r->out;
    const struct rbi_plan *p = r->p;
    rb_price_totals *t = &o->totals;
    rb_price_margin *m = &o->margin;
    rb_dec fx, sum = rb_dec_zero(), price = rb_dec_zero(), cost = rb_dec_zero();
    const char *ucur;
    size_t w = 0;
    char mb[16];

    r->cur = -1;
    ucur = t->usage_currency[0] ? t->usage_currency : "USD"; /* no usage: a zero bill */
    if (!t->usage_currency[0])
        memcpy(t->usage_currency, ucur, 4);
    if (!rbi_plan_fx_rate(p, r->req->month, &fx)) {
        rb_month_format(r->req->month, mb, sizeof(mb));
        return fail(r, RB_INVALID, "%s: no exchange rate %s -> %s for %s", p->fx_where, ucur,
                    p->fx_code, mb);
    }
    memcpy(t->currency, p->has_fx ? p->fx_code : ucur, 4);
    t->fx_rate = fx;
    for (size_t i = 0; i < o->n; i++) {
        struct pline *l = &o->lines[i];
        if (l->item >= 0) {
            if (rb_dec_sign(&l->partner.price) == 0)
                continue; /* an item that came to nothing is not shown */
            l->cust.label = rpool_str(o, p->items[l->item].name);
            l->partner.rule = rpool_str(o, p->items[l->item].where);
            if (!l->cust.label || !l->partner.rule)
                return fail(r, RB_NOMEM, "out of memory");
        }
        if (p->has_fx && (rb_dec_mul(&l->cust.amount, &l->partner.price, &fx) != RB_OK ||
                          round_line(&l->cust.amount) != RB_OK))
            return overflow(r, "converted amount");
        if (rb_dec_add(&sum, &sum, &l->cust.amount) != RB_OK ||
            (p->has_fx && rb_dec_add(&price, &price, &l->partner.price) != RB_OK))
            return overflow(r, "total");
        if (w != i)
            o->lines[w] = *l;
        w++;
    }
    o->n = w;
    if (!p->has_fx)
        price = sum; /* no conversion: each amount is its price */
    if (rb_dec_round_currency(&t->subtotal, &sum, t->currency, p->rounding) != RB_OK)
        return overflow(r, "subtotal");
    t->tax_rate = rb_dec_zero();
    t->tax = rb_dec_zero();
    if (p->has_tax) {
        rb_dec tx;
        rbi_strlcpy(t->tax_name, p->tax_name, sizeof(t->tax_name));
        t->tax_rate = p->tax_rate;
        if (percent_of(&tx, &t->subtotal, &p->tax_rate) != RB_OK ||
            rb_dec_round_currency(&t->tax, &tx, t->currency, p->rounding) != RB_OK)
            return overflow(r, "tax");
    }
    if (rb_dec_add(&t->total, &t->subtotal, &t->tax) != RB_OK)
        return overflow(r, "total");
    /* Partner-only: every input line's cost counts, hidden ones too. */
    m->billed = m->list = rb_dec_zero();
    for (size_t i = 0; i < r->req->nlines; i++) {
        const rb_price_input *in = &r->req->lines[i];
        if ((r->req->cost && rb_dec_add(&cost, &cost, &r->req->cost[i]) != RB_OK) ||
            rb_dec_add(&m->billed, &m->billed, &in->billed) != RB_OK ||
            rb_dec_add(&m->list, &m->list, &in->list) != RB_OK)
            return overflow(r, "cost");
    }
    if (!r->req->cost)
        cost = m->billed; /* the partner's cost is what AWS billed */
    if (rb_dec_round_currency(&m->price, &price, ucur, p->rounding) != RB_OK ||
        rb_dec_round_currency(&m->cost, &cost, ucur, p->rounding) != RB_OK ||
        rb_dec_round_currency(&m->billed, &m->billed, ucur, p->rounding) != RB_OK ||
        rb_dec_round_currency(&m->list, &m->list, ucur, p->rounding) != RB_OK ||
        rb_dec_sub(&m->margin, &m->price, &m->cost) != RB_OK)
        return overflow(r, "margin");
    return RB_OK;
}

rb_status rb_price(rb_plan *pl, const rb_price_request *req, rb_priced **out, rb_error *err)
{
    struct run r;
    struct rb_priced *o;
    rb_status rc;

    if (!out)
        return rbi_error_set(err, RB_MISUSE, "rb_price: missing argument");
    *out = NULL;
    if (!pl || !req || (!req->lines && req->nlines))
        return rbi_error_set(err, RB_MISUSE, "rb_price: missing argument");
    if (pl->sb && rbi_sandbox_is_stopped(pl->sb))
        return rbi_error_set(err, RB_MISUSE,
                             "plan %s was stopped by a limit earlier: compile it again",
                             pl->p->file);
    o = rbi_calloc(1, sizeof(*o));
    if (!o)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    memset(&r, 0, sizeof(r));
    r.pl = pl;
    r.p = pl->p;
    r.req = req;
    r.out = o;
    r.cur = -1;
    rc = prepare(&r);
    if (rc == RB_OK) {
        bool hooks = pl->sb && (r.p->on_line != LUA_NOREF || r.p->on_invoice != LUA_NOREF);
        if (hooks) {
            rbi_sandbox_begin(pl->sb);
            rc = rbi_sandbox_run(pl->sb, run_steps, &r);
            pl->hl.live = pl->iv.live = false; /* a raise skipped the resets in run_steps */
            pl->iv.r = NULL;
            if (rc != RB_OK) {
                char msg[sizeof(r.msg)];
                rbi_strlcpy(msg, rbi_sandbox_errmsg(pl->sb), sizeof(msg));
                r.rc = RB_OK;
                fail(&r, rc, "%s", msg);
            } else {
                size_t len;
                const char *log = rbi_sandbox_log(pl->sb, &len);
                if (len && rbi_buf_append(&o->log, log, len) != RB_OK)
                    fail(&r, RB_NOMEM, "out of memory");
            }
        } else {
            run_steps(NULL, &r);
        }
        if (r.rc == RB_OK)
            finish_result(&r);
        rc = r.rc;
    }
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", r.msg[0] ? r.msg : rb_strerror(rc));
        rb_priced_free(o);
        o = NULL;
    }
    run_release(&r);
    *out = o;
    return rc;
}

/* {===================================================================================
 * Results
 * =================================================================================== */

size_t rb_priced_count(const rb_priced *p)
{
    return p ? p->n : 0;
}

const rb_price_line *rb_priced_line(const rb_priced *p, size_t i)
{
    return p && i < p->n ? &p->lines[i].cust : NULL;
}

const rb_price_cost *rb_priced_cost(const rb_priced *p, size_t i)
{
    return p && i < p->n ? &p->lines[i].partner : NULL;
}

size_t rb_priced_hidden_count(const rb_priced *p)
{
    return p ? p->nhidden : 0;
}

const rb_price_line *rb_priced_hidden_line(const rb_priced *p, size_t i)
{
    return p && i < p->nhidden ? &p->hidden[i].cust : NULL;
}

const rb_price_cost *rb_priced_hidden_cost(const rb_priced *p, size_t i)
{
    return p && i < p->nhidden ? &p->hidden[i].partner : NULL;
}

const rb_price_totals *rb_priced_totals(const rb_priced *p)
{
    return p ? &p->totals : NULL;
}

const rb_price_margin *rb_priced_margin(const rb_priced *p)
{
    return p ? &p->margin : NULL;
}

rb_dec rb_priced_input_price(const rb_priced *p, size_t i)
{
    return p && i < p->ninput ? p->input_price[i] : rb_dec_zero();
}

const char *rb_priced_log(const rb_priced *p)
{
    return p && p->log.data ? p->log.data : "";
}

void rbi_priced_own(rb_priced *p, void *owned, void (*owned_free)(void *))
{
    p->owned = owned;
    p->owned_free = owned_free;
}

struct group {
    const char *key;
    rb_price_kind kind;
    rb_dec amount, price, cost;
};

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    bool xi = x->kind != RB_PRICE_USAGE, yi = y->kind != RB_PRICE_USAGE;

    if (xi != yi)
        return xi ? 1 : -1; /* services first, then items */
    return strcmp(x->key, y->key);
}

rb_status rb_priced_groups(const rb_priced *p, rb_price_group_cb cb, void *ctx)
{
    struct group *g;
    size_t ng = 0;
    rb_status rc = RB_OK;

    if (!p || !cb)
        return RB_MISUSE;
    g = rbi_calloc(p->n + 1, sizeof(*g));
    if (!g)
        return RB_NOMEM;
    /* Lines of one service are usually together: a linear search from the last group. */
    for (size_t i = 0; i < p->n && rc == RB_OK; i++) {
        const struct pline *l = &p->lines[i];
        bool usage = l->cust.kind == RB_PRICE_USAGE || l->cust.kind == RB_PRICE_PASS;
        const char *key = usage ? l->cust.service : l->cust.label;
        rb_price_kind kind = usage ? RB_PRICE_USAGE : l->cust.kind;
        size_t j;

        for (j = ng; j > 0; j--)
            if ((g[j - 1].kind == RB_PRICE_USAGE) == usage && strcmp(g[j - 1].key, key) == 0)
                break;
        if (j == 0) {
            j = ++ng;
            g[j - 1].key = key;
            g[j - 1].kind = kind;
            g[j - 1].amount = g[j - 1].price = g[j - 1].cost = rb_dec_zero();
        }
        if (rb_dec_add(&g[j - 1].amount, &g[j - 1].amount, &l->cust.amount) != RB_OK ||
            rb_dec_add(&g[j - 1].price, &g[j - 1].price, &l->partner.price) != RB_OK ||
            rb_dec_add(&g[j - 1].cost, &g[j - 1].cost, &l->partner.cost) != RB_OK)
            rc = RB_OVERFLOW;
    }
    if (rc == RB_OK && ng > 1)
        qsort(g, ng, sizeof(*g), group_cmp);
    for (size_t i = 0; i < ng && rc == RB_OK; i++) {
        rb_price_group pg = {g[i].key, g[i].kind, g[i].amount, g[i].price, g[i].cost};
        rc = cb(&pg, ctx);
    }
    rbi_free(g);
    return rc;
}

void rb_priced_free(rb_priced *p)
{
    struct rpool_block *b, *next;

    if (!p)
        return;
    for (b = p->pool; b; b = next) {
        next = b->next;
        rbi_free(b);
    }
    if (p->owned_free)
        p->owned_free(p->owned);
    rbi_free(p->lines);
    rbi_free(p->hidden);
    rbi_free(p->input_price);
    rbi_free(p->rule_text);
    rbi_buf_release(&p->log);
    rbi_free(p);
}

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

struct strtab {
    const char **slot;
    uint64_t *hash;
    size_t mask, n;
    struct rpool_block *pool;
};

struct uline {
    int org;
    rb_price_input in;
};

struct att {
    const char *acct;
    int32_t day;
    int org;
};

struct orgset;
static bool orgset_has(const struct orgset *s, const char *org);

struct usage_set {
    rb_txn *txn;
    int month;
    const struct orgset *only; /* load only these organizations' usage; NULL: every one */
    struct strtab st;
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

static void strtab_release(struct strtab *t)
{
    struct rpool_block *b, *next;

    for (b = t->pool; b; b = next) {
        next = b->next;
        rbi_free(b);
    }
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

static bool strtab_grow(struct strtab *t)
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

/* The interned copy of p[0..n), or NULL on out of memory. */
static const char *intern(struct strtab *t, const char *p, size_t n)
{
    uint64_t h = hbytes(p, n);
    struct rpool_block *b;
    char *d;
    size_t j;

    if ((!t->slot || (t->n + 1) * 2 > t->mask + 1) && !strtab_grow(t))
        return NULL;
    for (j = h & t->mask; t->slot[j]; j = (j + 1) & t->mask)
        if (t->hash[j] == h && strncmp(t->slot[j], p, n) == 0 && t->slot[j][n] == '\0')
            return t->slot[j];
    b = t->pool;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 16384 ? n + 1 : 16384;
        b = rbi_malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = t->pool;
        b->used = 0;
        b->cap = cap;
        t->pool = b;
    }
    d = b->data + b->used;
    b->used += n + 1;
    memcpy(d, p, n);
    d[n] = '\0';
    t->slot[j] = d;
    t->hash[j] = h;
    t->n++;
    return d;
}

static void usage_set_free(void *vp)
{
    struct usage_set *u = vp;

    if (!u)
        return;
    strtab_release(&u->st);
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
    dims[0] = intern(&u->st, dp[0], dn[0]);
    if (!dims[0])
        return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
    rc = attribute(u, dims[0], (int32_t)day, &org);
    if (rc != RB_OK)
        return rc;
    if (org < 0 || !u->keep[org])
        return RB_OK; /* no organization (rb_usage_unmapped() reports it), or not asked for */
    for (int i = 1; i < 8; i++) {
        dims[i] = intern(&u->st, dp[i], dn[i]);
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
            add_amount(&in->effective, &amt[3]) != RB_OK)
            return rbi_txn_error(u->txn, RB_OVERFLOW,
                                 "usage of account %s, service %s is out of range (more than 38 "
                                 "digits)",
                                 dims[0], dims[1]);
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
 * organizations alone. */
static rb_status usage_load(rb_txn *txn, int month, const struct orgset *only,
                            struct usage_set **out)
{
    struct usage_set *u = rbi_calloc(1, sizeof(*u));
    unsigned char pk[4];
    rb_status rc;

    *out = NULL;
    if (!u)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    u->txn = txn;
    u->month = month;
    u->only = only;
    rbi_be32_put(pk, (uint32_t)month);
    rc = rbi_scan(txn, RBI_DB_USAGE, pk, 4, usage_one, u);
    if (rc != RB_OK) {
        usage_set_free(u);
        return rc;
    }
    if (u->n > 1) /* qsort_r on a NULL array is undefined, even for 0 elements */
        qsort_r(u->v, u->n, sizeof(*u->v), uline_cmp, u);
    rbi_free(u->agg); /* indexes are stale after the sort */
    rbi_free(u->agg_hash);
    u->agg = NULL;
    u->agg_hash = NULL;
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
static rb_status usage_select(const struct usage_set *u, const struct orgset *s,
                              rb_price_input **out, size_t *n)
{
    rb_price_input *v = rbi_malloc((u->n + 1) * sizeof(*v));
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (!v)
        return rbi_txn_error(u->txn, RB_NOMEM, "out of memory");
    for (size_t i = 0; i < u->n; i++)
        if (orgset_has(s, u->orgs[u->v[i].org]))
            v[k++] = u->v[i].in;
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
    struct usage_set *u; /* NULL when shared */
    rb_price_input *in;
};

static void owned_input_free(void *vp)
{
    struct owned_input *o = vp;

    if (!o)
        return;
    usage_set_free(o->u);
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
    rb_org o;
    rb_status rc;

    if (!org || !rb_org_id_is_valid(org))
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid organization id \"%.40s\": want \"o-\" and 10..32 "
                             "lowercase letters or digits",
                             org ? org : "");
    if (month < 0 || month == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid month");
    rc = rb_org_get(txn, org, &o);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "no organization \"%s\"", org);
    return rc;
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
        rc = usage_select(u, &s, &in, &n);
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

rb_status rb_price_org(rb_txn *txn, const char *org, int month, const rb_price_opts *opts,
                       rb_priced **out)
{
    struct usage_set *u = NULL;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    *out = NULL;
    rc = check_org_month(txn, org, month);
    if (rc == RB_OK) { /* only the usage of the organizations org pays for */
        struct orgset only;
        rc = orgset_build(txn, org, month, &only);
        if (rc == RB_OK)
            rc = usage_load(txn, month, &only, &u);
        rbi_free(only.v);
    }
    if (rc == RB_OK)
        rc = price_from_set(txn, u, org, month, opts, out);
    if (rc != RB_OK) {
        usage_set_free(u);
        return rc;
    }
    /* The result keeps the period's strings. */
    {
        struct owned_input *own = (*out)->owned;
        own->u = u;
    }
    return RB_OK;
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
    rc = usage_load(txn, month, NULL, &c.u);
    if (rc == RB_OK)
        rc = rb_org_list(txn, all_one, &c);
    usage_set_free(c.u);
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

/* {===================================================================================
 * Checking and testing rule files
 * =================================================================================== */

rb_status rb_rules_check(const char *name, const char *src, size_t len, const rb_limits *limits,
                         rb_error *err)
{
    rb_plan *pl = NULL;
    rb_status rc = rb_plan_compile(&pl, name, src, len, limits, err);

    rb_plan_free(pl);
    return rc;
}

#define TEST_MAX 500   /* tests in one rule file */
#define EXPECT_MAX 500 /* expected lines of one test */
#define UPSTREAM_MAX 8 /* plans above the tested one */

struct texpect {
    char *key;
    rb_dec want;
};

struct tcase {
    char *name;
    char *where;
    int month;
    char *customer;
    char *usage;      /* inline CSV */
    char *usage_file; /* or a path beside the rule file */
    char *upstream[UPSTREAM_MAX];
    int nup;
    char *expect_error;
    bool has_lines;
    struct texpect *lines;
    int nlines;
    /* totals: subtotal tax total margin cost price; has[i] when given */
    rb_dec tot[6];
    bool has[6];
    char *currency;
};

static const char *const total_names[6] = {"subtotal", "tax", "total", "margin", "cost", "price"};

struct tread {
    int rule;
    struct tcase *v; /* allocated before the run: TEST_MAX entries */
    int n;
    char msg[600];
    rb_status rc;
};

static void tcase_release(struct tcase *t)
{
    rbi_free(t->name);
    rbi_free(t->where);
    rbi_free(t->customer);
    rbi_free(t->usage);
    rbi_free(t->usage_file);
    for (int i = 0; i < t->nup; i++)
        rbi_free(t->upstream[i]);
    rbi_free(t->expect_error);
    for (int i = 0; i < t->nlines; i++)
        rbi_free(t->lines[i].key);
    rbi_free(t->lines);
    rbi_free(t->currency);
}

/* Copy t[key] (a string) into *dst (NULL when absent). Allocates: *dst is reachable from the
 * caller's array, so a Lua error leaks nothing. */
static bool tr_str(lua_State *L, int t, const char *key, char **dst)
{
    size_t len;
    const char *s;

    lua_pushstring(L, key);
    if (lua_rawget(L, t) != LUA_TSTRING) {
        lua_pop(L, 1);
        return true;
    }
    s = lua_tolstring(L, -1, &len);
    *dst = rbi_malloc(len + 1);
    if (*dst) {
        memcpy(*dst, s, len);
        (*dst)[len] = '\0';
    }
    lua_pop(L, 1);
    return *dst != NULL;
}

static bool tr_fail(struct tread *c, rb_status rc, const char *where, const char *what)
{
    snprintf(c->msg, sizeof(c->msg), "%s: rebill.test: %s", where, what);
    c->rc = rc;
    return false;
}

/* One rebill.test{} (already checked for its shape by the constructor and the compiler). */
static bool read_test(lua_State *L, int t, struct tread *c, struct tcase *tc)
{
    char *period = NULL;
    int e, top;

    if (!tr_str(L, t, "name", &tc->name) || !tr_str(L, t, "where", &tc->where) ||
        !tr_str(L, t, "customer", &tc->customer) || !tr_str(L, t, "usage", &tc->usage) ||
        !tr_str(L, t, "usage_file", &tc->usage_file) ||
        !tr_str(L, t, "expect_error", &tc->expect_error) || !tr_str(L, t, "period", &period))
        return tr_fail(c, RB_NOMEM, "(test)", "out of memory");
    if (!tc->name || !tc->where)
        return tr_fail(c, RB_INVALID, "(test)", "a test needs a name");
    if (rb_month_parse(&tc->month, period ? period : "2026-01", NULL) != RB_OK)
        tc->month = 0;
    rbi_free(period);
    lua_pushliteral(L, "upstream");
    e = lua_rawget(L, t);
    if (e == LUA_TSTRING) {
        tc->upstream[tc->nup++] = rbi_strdup(lua_tostring(L, -1));
    } else if (e == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n > UPSTREAM_MAX)
            return tr_fail(c, RB_INVALID, tc->where, "at most 8 upstream plans");
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
                tc->upstream[tc->nup++] = rbi_strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    for (int i = 0; i < tc->nup; i++)
        if (!tc->upstream[i])
            return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
    lua_pushliteral(L, "expect");
    if (lua_rawget(L, t) != LUA_TTABLE) {
        lua_pop(L, 1);
        return true;
    }
    top = lua_gettop(L);
    for (int i = 0; i < 6; i++) {
        lua_pushstring(L, total_names[i]);
        if (lua_rawget(L, top) != LUA_TNIL) {
            if (!rbi_lua_to_dec(L, -1, &tc->tot[i]))
                return tr_fail(c, RB_INVALID, tc->where, "expected totals must be amounts");
            tc->has[i] = true;
        }
        lua_pop(L, 1);
    }
    if (!tr_str(L, top, "currency", &tc->currency))
        return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
    lua_pushliteral(L, "lines");
    if (lua_rawget(L, top) == LUA_TTABLE) {
        int lt = lua_gettop(L);
        tc->has_lines = true;
        tc->lines = rbi_calloc(EXPECT_MAX, sizeof(*tc->lines));
        if (!tc->lines)
            return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
        lua_pushnil(L);
        while (lua_next(L, lt)) {
            struct texpect *x;
            if (lua_type(L, -2) != LUA_TSTRING)
                return tr_fail(c, RB_INVALID, tc->where, "'expect.lines' keys must be names");
            if (tc->nlines == EXPECT_MAX)
                return tr_fail(c, RB_INVALID, tc->where, "at most 500 expected lines");
            x = &tc->lines[tc->nlines];
            if (!rbi_lua_to_dec(L, -1, &x->want)) {
                char w[200];
                snprintf(w, sizeof(w), "'expect.lines'[\"%.64s\"] must be an amount",
                         lua_tostring(L, -2));
                return tr_fail(c, RB_INVALID, tc->where, w);
            }
            x->key = rbi_strdup(lua_tostring(L, -2));
            if (!x->key)
                return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
            tc->nlines++;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top - 1);
    return true;
}

static void read_tests_fn(lua_State *L, void *vctx)
{
    struct tread *c = vctx;
    int plan, tests;
    lua_Integer n;

    rbi_sandbox_push_rule(L, c->rule);
    plan = lua_gettop(L);
    lua_pushliteral(L, "tests");
    if (lua_rawget(L, plan) != LUA_TTABLE) {
        lua_settop(L, plan - 1);
        return;
    }
    tests = lua_gettop(L);
    n = (lua_Integer)lua_rawlen(L, tests);
    if (n > TEST_MAX) {
        snprintf(c->msg, sizeof(c->msg), "at most %d tests in one rule file", TEST_MAX);
        c->rc = RB_INVALID;
        n = 0;
    }
    for (lua_Integer i = 1; i <= n && c->rc == RB_OK; i++) {
        lua_rawgeti(L, tests, i);
        if (lua_type(L, -1) == LUA_TTABLE && read_test(L, lua_gettop(L), c, &c->v[c->n]))
            c->n++;
        else if (c->rc == RB_OK)
            c->n++;
        lua_pop(L, 1);
    }
    lua_settop(L, plan - 1);
}

/* Read a whole file (at most RBI_SOURCE_MAX bytes + 1 to tell it is too big). */
static rb_status read_file(const char *path, char **out, size_t *len, size_t max, rb_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    if (!f)
        return rbi_error_set(err, RB_NOTFOUND, "cannot read %s: no such file or not readable",
                             path);
    buf = rbi_malloc(max + 2);
    if (!buf) {
        fclose(f);
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        fclose(f);
        rbi_free(buf);
        return rbi_error_set(err, RB_IO, "cannot read %s", path);
    }
    fclose(f);
    if (n > max) {
        rbi_free(buf);
        return rbi_error_set(err, RB_TOOBIG, "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return RB_OK;
}

/* dir of `path` + rel (rel as is when absolute). */
static char *beside(const char *path, const char *rel)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash && rel[0] != '/' ? (size_t)(slash - path + 1) : 0;
    char *p = rbi_malloc(dl + strlen(rel) + 1);

    if (p) {
        memcpy(p, path, dl);
        memcpy(p + dl, rel, strlen(rel) + 1);
    }
    return p;
}

/* Fixture usage: CSV with a header naming some of account, service, usage_type, operation,
 * region, line_type, entity, currency, quantity, billed, list, effective (docs/rules.md). */
enum {
    F_ACCOUNT,
    F_SERVICE,
    F_UT,
    F_OP,
    F_REGION,
    F_LT,
    F_ENTITY,
    F_CURRENCY,
    F_QTY,
    F_BILLED,
    F_LIST,
    F_EFF,
    F__COUNT
};
static const char *const fixture_cols[F__COUNT] = {
    "account", "service",  "usage_type", "operation", "region", "line_type",
    "entity",  "currency", "quantity",   "billed",    "list",   "effective"};

struct fixture {
    struct strtab st;
    rb_price_input *in;
    size_t n, cap;
};

static void fixture_release(struct fixture *fx)
{
    strtab_release(&fx->st);
    rbi_free(fx->in);
    memset(fx, 0, sizeof(*fx));
}

static rb_status fixture_parse(const char *what, const char *text, size_t len, struct fixture *fx,
                               rb_error *err)
{
    struct rbi_csv_fields f;
    int col[F__COUNT];
    size_t off = 0, used;
    uint64_t nl, line = 1;
    rb_status rc = RB_OK;
    bool header = true;

    memset(&f, 0, sizeof(f));
    for (int i = 0; i < F__COUNT; i++)
        col[i] = -1;
    /* Inline CSV in a Lua long string usually starts with a newline and is indented. */
    while (off < len && (text[off] == '\n' || text[off] == '\r'))
        off++, line++;
    while (off < len && rc == RB_OK) {
        size_t start = off;
        while (off < len && (text[off] == ' ' || text[off] == '\t'))
            off++;
        if (off < len && (text[off] == '\n' || text[off] == '\r')) { /* a blank line */
            off++;
            line++;
            continue;
        }
        if (off >= len)
            break;
        (void)start;
        rc = rbi_csv_parse_record(text + off, len - off, &f, &used, &nl, err);
        if (rc != RB_OK) {
            rc = rbi_error_set(err, RB_SYNTAX, "%s:%llu: %s", what, (unsigned long long)line,
                               err ? err->msg : "bad CSV");
            break;
        }
        if (header) {
            for (size_t i = 0; i < f.n; i++) {
                const char *name = rbi_csv_field(&f, i);
                int k;
                for (k = 0; k < F__COUNT && strcmp(fixture_cols[k], name) != 0; k++)
                    ;
                if (k == F__COUNT) {
                    rc = rbi_error_set(err, RB_INVALID,
                                       "%s:%llu: unknown column \"%.40s\" (columns: account, "
                                       "service, usage_type, operation, region, line_type, "
                                       "entity, currency, quantity, billed, list, effective)",
                                       what, (unsigned long long)line, name);
                    break;
                }
                col[k] = (int)i;
            }
            if (rc == RB_OK && (col[F_SERVICE] < 0 || (col[F_BILLED] < 0 && col[F_LIST] < 0)))
                rc = rbi_error_set(err, RB_INVALID,
                                   "%s:%llu: the header needs 'service' and 'billed' or 'list'",
                                   what, (unsigned long long)line);
            header = false;
        } else {
            rb_price_input *in;
            const char *v[F__COUNT];
            static const char *const dflt[F__COUNT] = {"111111111111", "",    "",  "", "", "Usage",
                                                       "AWS",          "USD", "0", "", "", ""};
            if (f.n != (size_t)0 && f.n < (size_t)(col[F_SERVICE] + 1)) {
                rc = rbi_error_set(err, RB_INVALID, "%s:%llu: too few fields", what,
                                   (unsigned long long)line);
                break;
            }
            if (fx->n == fx->cap) {
                size_t cap = fx->cap ? fx->cap * 2 : 64;
                void *nv = rbi_realloc(fx->in, cap * sizeof(*fx->in));
                if (!nv) {
                    rc = rbi_error_set(err, RB_NOMEM, "out of memory");
                    break;
                }
                fx->in = nv;
                fx->cap = cap;
            }
            for (int k = 0; k < F__COUNT; k++) {
                v[k] = col[k] >= 0 && (size_t)col[k] < f.n ? rbi_csv_field(&f, (size_t)col[k])
                                                           : dflt[k];
                if (!*v[k] && k < F_QTY && k != F_UT && k != F_OP && k != F_REGION)
                    v[k] = dflt[k];
            }
            /* billed and list default to each other; effective to billed */
            if (!*v[F_BILLED])
                v[F_BILLED] = v[F_LIST];
            if (!*v[F_LIST])
                v[F_LIST] = v[F_BILLED];
            if (!*v[F_EFF])
                v[F_EFF] = v[F_BILLED];
            in = &fx->in[fx->n];
            memset(in, 0, sizeof(*in));
            if (strlen(v[F_CURRENCY]) != 3) {
                rc = rbi_error_set(err, RB_INVALID,
                                   "%s:%llu: column currency: want a 3-letter "
                                   "code, got \"%.16s\"",
                                   what, (unsigned long long)line, v[F_CURRENCY]);
                break;
            }
            if (!*v[F_SERVICE]) {
                rc = rbi_error_set(err, RB_INVALID, "%s:%llu: column service is empty", what,
                                   (unsigned long long)line);
                break;
            }
            in->account = intern(&fx->st, v[F_ACCOUNT], strlen(v[F_ACCOUNT]));
            in->service = intern(&fx->st, v[F_SERVICE], strlen(v[F_SERVICE]));
            in->usage_type = intern(&fx->st, v[F_UT], strlen(v[F_UT]));
            in->operation = intern(&fx->st, v[F_OP], strlen(v[F_OP]));
            in->region = intern(&fx->st, v[F_REGION], strlen(v[F_REGION]));
            in->line_type = intern(&fx->st, v[F_LT], strlen(v[F_LT]));
            in->entity = intern(&fx->st, v[F_ENTITY], strlen(v[F_ENTITY]));
            memcpy(in->currency, v[F_CURRENCY], 4);
            if (!in->account || !in->service || !in->usage_type || !in->operation || !in->region ||
                !in->line_type || !in->entity) {
                rc = rbi_error_set(err, RB_NOMEM, "out of memory");
                break;
            }
            for (int k = F_QTY; k <= F_EFF; k++) {
                rb_dec *d = k == F_QTY      ? &in->quantity
                            : k == F_BILLED ? &in->billed
                            : k == F_LIST   ? &in->list
                                            : &in->effective;
                if (rb_dec_parse(d, v[k], strlen(v[k]), NULL) != RB_OK) {
                    rc = rbi_error_set(err, RB_INVALID,
                                       "%s:%llu: column %s: not a decimal "
                                       "number: \"%.40s\"",
                                       what, (unsigned long long)line, fixture_cols[k], v[k]);
                    break;
                }
            }
            if (rc == RB_OK)
                fx->n++;
        }
        off += used;
        line += nl;
    }
    rbi_csv_fields_release(&f);
    if (rc == RB_OK && header)
        rc = rbi_error_set(err, RB_INVALID, "%s: no CSV header", what);
    return rc;
}

/* Compare `got` with `want` at want's scale (at least cents); a line of detail if they differ. */
static void expect_amount(struct rb_buf *d, const char *what, const rb_dec *want, const rb_dec *got)
{
    int scale = want->scale < 2 ? 2 : want->scale;
    rb_dec g, w;
    char gb[RB_DEC_BUFSZ], wb[RB_DEC_BUFSZ];

    if (rb_dec_round(&g, got, scale, RB_ROUND_HALF_EVEN) != RB_OK ||
        rb_dec_round(&w, want, scale, RB_ROUND_HALF_EVEN) != RB_OK || rb_dec_cmp(&g, &w) != 0) {
        rb_dec_round(&g, got, scale, RB_ROUND_HALF_EVEN);
        rb_dec_round(&w, want, scale, RB_ROUND_HALF_EVEN);
        rb_dec_format(&g, gb, sizeof(gb));
        rb_dec_format(&w, wb, sizeof(wb));
        rbi_buf_printf(d, "    %s: want %s, got %s\n", what, wb, gb);
    }
}

struct tgroups {
    struct tcase *tc;
    bool *seen;
    struct rb_buf *d;
};

static rb_status tgroup(const rb_price_group *g, void *vctx)
{
    struct tgroups *c = vctx;

    for (int i = 0; i < c->tc->nlines; i++) {
        if (strcmp(c->tc->lines[i].key, g->key) == 0) {
            c->seen[i] = true;
            expect_amount(c->d, g->key, &c->tc->lines[i].want, &g->amount);
            return RB_OK;
        }
    }
    {
        char gb[RB_DEC_BUFSZ];
        rb_dec r;
        rb_dec_round(&r, &g->amount, 2, RB_ROUND_HALF_EVEN);
        rb_dec_format(&r, gb, sizeof(gb));
        rbi_buf_printf(c->d, "    %s: not expected, got %s\n", g->key, gb);
    }
    return RB_OK;
}

/* Run one test; detail gets one line per difference (empty when it passed). */
static void run_test(const char *path, const char *src, size_t len, const rb_limits *limits,
                     struct tcase *tc, struct rb_buf *d)
{
    struct fixture fx;
    rb_error err;
    rb_plan *pl = NULL;
    rb_priced *res = NULL;
    rb_dec *cost = NULL;
    char *csv = NULL, *upath = NULL;
    size_t csvlen = 0;
    rb_status rc = RB_OK;

    memset(&fx, 0, sizeof(fx));
    err.msg[0] = '\0';
    if (tc->usage_file) {
        upath = beside(path, tc->usage_file);
        rc = upath ? read_file(upath, &csv, &csvlen, (size_t)64 << 20, &err)
                   : rbi_error_set(&err, RB_NOMEM, "out of memory");
        if (rc == RB_OK)
            rc = fixture_parse(upath, csv, csvlen, &fx, &err);
    } else if (tc->usage) {
        char what[RBI_WHERE_MAX + 16];
        snprintf(what, sizeof(what), "%s usage", tc->where);
        rc = fixture_parse(what, tc->usage, strlen(tc->usage), &fx, &err);
    }
    if (rc != RB_OK) {
        rbi_buf_printf(d, "    fixture: %s\n", err.msg);
        goto out;
    }
    /* upstream plans, farthest first: each prices the lines at the cost the one above set */
    for (int u = tc->nup - 1; u >= 0 && rc == RB_OK; u--) {
        char *up = beside(path, tc->upstream[u]), *usrc = NULL;
        size_t ulen = 0;
        rb_plan *upl = NULL;
        rb_priced *ur = NULL;
        rb_price_request req = {tc->customer ? tc->customer : "o-testcustomer", tc->month, fx.in,
                                fx.n, cost};
        rc = up ? read_file(up, &usrc, &ulen, RBI_SOURCE_MAX, &err)
                : rbi_error_set(&err, RB_NOMEM, "out of memory");
        if (rc == RB_OK)
            rc = rb_plan_compile(&upl, up, usrc, ulen, limits, &err);
        if (rc == RB_OK)
            rc = rb_price(upl, &req, &ur, &err);
        if (rc == RB_OK) {
            rb_dec *next = rbi_malloc((fx.n + 1) * sizeof(*next));
            if (next) {
                for (size_t i = 0; i < fx.n; i++)
                    next[i] = rb_priced_input_price(ur, i);
                rbi_free(cost);
                cost = next;
            } else {
                rc = rbi_error_set(&err, RB_NOMEM, "out of memory");
            }
        }
        if (rc != RB_OK)
            rbi_buf_printf(d, "    upstream %s: %s\n", tc->upstream[u], err.msg);
        rb_priced_free(ur);
        rb_plan_free(upl);
        rbi_free(usrc);
        rbi_free(up);
    }
    if (rc != RB_OK)
        goto out;
    {
        rb_price_request req = {tc->customer ? tc->customer : "o-testcustomer", tc->month, fx.in,
                                fx.n, cost};
        rc = rb_plan_compile(&pl, path, src, len, limits, &err);
        if (rc == RB_OK)
            rc = rb_price(pl, &req, &res, &err);
    }
    if (tc->expect_error) {
        if (rc == RB_OK)
            rbi_buf_printf(d, "    want an error containing \"%s\", got none\n", tc->expect_error);
        else if (!strstr(err.msg, tc->expect_error))
            rbi_buf_printf(d, "    want an error containing \"%s\", got: %s\n", tc->expect_error,
                           err.msg);
        goto out;
    }
    if (rc != RB_OK) {
        rbi_buf_printf(d, "    %s\n", err.msg);
        goto out;
    }
    if (tc->has_lines) {
        bool *seen = rbi_calloc((size_t)tc->nlines + 1, sizeof(bool));
        struct tgroups g = {tc, seen, d};
        if (seen) {
            rb_priced_groups(res, tgroup, &g);
            for (int i = 0; i < tc->nlines; i++)
                if (!seen[i]) {
                    char wb[RB_DEC_BUFSZ];
                    rb_dec_format(&tc->lines[i].want, wb, sizeof(wb));
                    rbi_buf_printf(d, "    %s: want %s, got no line\n", tc->lines[i].key, wb);
                }
        }
        rbi_free(seen);
    }
    {
        const rb_price_totals *t = rb_priced_totals(res);
        const rb_price_margin *m = rb_priced_margin(res);
        const rb_dec *got[6] = {&t->subtotal, &t->tax, &t->total, &m->margin, &m->cost, &m->price};
        for (int i = 0; i < 6; i++)
            if (tc->has[i])
                expect_amount(d, total_names[i], &tc->tot[i], got[i]);
        if (tc->currency && strcmp(tc->currency, t->currency) != 0)
            rbi_buf_printf(d, "    currency: want %s, got %s\n", tc->currency, t->currency);
    }
out:
    rb_priced_free(res);
    rb_plan_free(pl);
    rbi_free(cost);
    rbi_free(csv);
    rbi_free(upath);
    fixture_release(&fx);
}

rb_status rb_rules_test_file(const char *path, const rb_limits *limits, rb_rules_test_cb cb,
                             void *ctx, long *passed, long *failed, rb_error *err)
{
    struct tread tr;
    rb_plan *pl = NULL;
    char *src = NULL;
    size_t len = 0;
    rb_status rc;

    if (passed)
        *passed = 0;
    if (failed)
        *failed = 0;
    if (!path || !cb)
        return rbi_error_set(err, RB_MISUSE, "rb_rules_test_file: missing argument");
    memset(&tr, 0, sizeof(tr));
    rc = read_file(path, &src, &len, RBI_SOURCE_MAX, err);
    if (rc == RB_OK)
        rc = rb_plan_compile(&pl, path, src, len, limits, err);
    if (rc != RB_OK)
        goto out;
    tr.v = rbi_calloc(TEST_MAX, sizeof(*tr.v));
    if (!tr.v) {
        rc = rbi_error_set(err, RB_NOMEM, "out of memory");
        goto out;
    }
    tr.rule = pl->rule;
    rbi_sandbox_begin(pl->sb);
    rc = rbi_sandbox_run(pl->sb, read_tests_fn, &tr);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out;
    }
    if (tr.rc != RB_OK) {
        rc = rbi_error_set(err, tr.rc, "%s", tr.msg);
        goto out;
    }
    if (tr.n == 0) {
        rc = rbi_error_set(err, RB_INVALID,
                           "%s: no tests (add tests = { rebill.test{...} } to "
                           "the plan)",
                           path);
        goto out;
    }
    for (int i = 0; i < tr.n && rc == RB_OK; i++) {
        struct rb_buf d = {0};
        rb_rules_test_case tc;
        run_test(path, src, len, limits, &tr.v[i], &d);
        tc.file = path;
        tc.name = tr.v[i].name;
        tc.passed = d.len == 0;
        tc.detail = d.data ? d.data : "";
        if (tc.passed && passed)
            (*passed)++;
        if (!tc.passed && failed)
            (*failed)++;
        rc = cb(&tc, ctx);
        rbi_buf_release(&d);
    }
out:
    for (int i = 0; tr.v && i < TEST_MAX; i++)
        tcase_release(&tr.v[i]);
    rbi_free(tr.v);
    rb_plan_free(pl);
    rbi_free(src);
    return rc;
}
