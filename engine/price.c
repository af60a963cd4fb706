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
#include "price.h"
#include "sandbox.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    *slot = rbi_priced_str(r->out, buf);
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
    label = rbi_priced_str(r->out, name);
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
            l->cust.label = rbi_priced_str(o, p->items[l->item].name);
            l->partner.rule = rbi_priced_str(o, p->items[l->item].where);
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
