/*
 * price.c -- the pricing run: one customer-month of usage lines priced by a plan, in the
 * steps of docs/rules.md "How a bill is priced", each a function of this file, in that order:
 * 1 the lines (one currency), 2 the pass-through policy and each line's rule, 3 line prices
 * (base, rule, ladder, on_line hook), 4 custom line items, 5 the on_invoice hook, 6 currency,
 * 7 totals.
 *
 * Provides: rb_price (include/rebill.h); the invoice view of an on_invoice hook (the
 * rbi_invoice_* functions of plan.h), which lapi_rebill.c turns into the Lua invoice object.
 * Uses: plan.c's model through plan.h (policy, scope index, ladders, items in force, exchange
 * rates); the sandbox for the hooks (one protected call for every on_line call of a run, one
 * for on_invoice); dec.c's exact decimals; priced.c's result and its string pool.
 * Must never: allocate inside the per-line loop (everything it needs is allocated before it,
 * and every allocation hangs from the run, so a hook's error -- a longjmp out of the loop --
 * leaks nothing); round anywhere but a price's 12 fraction digits and the subtotal, the tax
 * and the partner's totals; give a rounded guess where a figure overflows (it is an error
 * naming the line); put a partner-only figure (cost, billed, list, margin) in a customer line;
 * keep a pointer into the plan in the result (the plan may be freed first: names and rule
 * texts are copied into the result's pool; input strings are borrowed, as rb_price says).
 */
#include "price.h"
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {===================================================================================
 * The run: everything one call of rb_price works with
 * =================================================================================== */

/* What the policy and the rules decided for one input line (step 2). */
struct lstate {
    int32_t rule;   /* the rule that prices it, -1: its base */
    int32_t svc;    /* its service in the run's service table, -1: not counted */
    uint8_t action; /* enum rbi_action */
    uint8_t cls;    /* enum rbi_ltype */
};

/* The scope memo: lines share interned strings, so equal scopes are equal pointers. */
struct memo_slot {
    const char *k[5]; /* service, entity, usage type, operation, line type */
    int32_t rule;
    uint8_t cls;
    bool used;
};

#define MEMO_MAX ((size_t)1 << 16) /* slots at most; a full memo asks the plan directly */

struct run {
    rb_plan *pl;
    struct rbi_plan *p;
    const rb_price_request *req;
    const rb_price_input *in; /* req->lines */
    size_t n;                 /* req->nlines */
    struct rb_priced *res;
    rb_error *err;
    rb_status rc;
    long cur;      /* the input line being priced (for messages), -1: none */
    char usage[4]; /* the usage's currency, "" when there is no line */
    bool hooks;    /* the plan has a sandbox to run hooks in */
    /* 2. policy and rules */
    struct lstate *ls;
    struct memo_slot *memo;
    size_t memo_mask, memo_n;
    size_t nshown, nhidden;
    bool any_tiered;
    /* 3. ladders: the exact graduated price of each line, the volume price of each slot */
    rb_dec *grad;
    rb_dec *slot_qty;
    const rb_dec **slot_value;
    /* services of the shown lines, when an itemized item or on_invoice needs them */
    bool need_svc;
    const char **svc_name;
    uint64_t *svc_hash;
    int32_t *svc_slot;
    size_t svc_mask;
    int nsvc;
    rb_dec *svc_sum; /* per service: item sources (4), then the invoice's services (5) */
    bool *svc_hit;
    bool svc_overflow;
    /* sums over every input line, hidden ones too */
    rb_dec cost, billed, list;
    /* 4. items */
    bool *item_on;     /* in force this month */
    rb_dec *item_amt;  /* its amount on the invoice (signed; the sum of its lines) */
    size_t *item_line; /* the line of a (not itemized) item in force */
    size_t nusage;     /* lines[0..nusage) are the usage lines */
    /* 5. on_invoice */
    char (*added)[RB_PRICE_LABEL_MAX + 1]; /* names of the lines it added, in the pool */
    int nadded;
    /* 6. currency */
    bool convert;
    rb_dec fx;
    char currency[4];
};

static const char *s0(const char *s)
{
    return s ? s : "";
}

static rb_status round12(rb_dec *r, const rb_dec *a)
{
    return rb_dec_round(r, a, RBI_PRICE_SCALE, RB_ROUND_HALF_EVEN);
}

static rb_status fail(struct run *r, rb_status rc, const char *fmt, ...) RBI_PRINTF(3, 4);
static rb_status fail(struct run *r, rb_status rc, const char *fmt, ...)
{
    char buf[sizeof(r->err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->rc = rc;
    return rbi_error_set(r->err, rc, "%s", buf);
}

/* An error about input line i: the message, then the line item it was pricing. */
static rb_status line_fail(struct run *r, rb_status rc, size_t i, const char *fmt, ...)
    RBI_PRINTF(4, 5);
static rb_status line_fail(struct run *r, rb_status rc, size_t i, const char *fmt, ...)
{
    const rb_price_input *in = &r->in[i];
    const char *ut = s0(in->usage_type);
    char buf[sizeof(r->err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return fail(r, rc, "%s (pricing account %s, service %s%s%s)", buf, s0(in->account),
                s0(in->service), *ut ? ", usage type " : "", ut);
}

static rb_status overflow(struct run *r, size_t i, const char *what)
{
    return line_fail(r, RB_OVERFLOW, i, "%s: amount out of range (more than 38 digits)", what);
}

static rb_status nomem(struct run *r)
{
    return fail(r, RB_NOMEM, "out of memory");
}

/* n elements of size bytes, zeroed, or NULL (n == 0 gives one, so NULL means out of memory) */
static void *run_calloc(size_t n, size_t size)
{
    return rbi_calloc(n ? n : 1, size);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Slots for n keys at most half full: a power of two. */
static size_t table_size(size_t n, size_t max)
{
    size_t s = 16;

    while (s < 2 * n && s < max)
        s *= 2;
    return s;
}

/* Start a run: the request is checked for shape, the sandbox's budget starts over, and the
 * result and the per-item state are allocated. */
static rb_status run_begin(struct run *r, rb_plan *pl, const rb_price_request *req, rb_error *err)
{
    struct rbi_plan *p = pl->p;

    memset(r, 0, sizeof(*r));
    r->pl = pl;
    r->p = p;
    r->req = req;
    r->in = req->lines;
    r->n = req->nlines;
    r->err = err;
    r->cur = -1;
    r->cost = r->billed = r->list = rb_dec_zero();
    if (pl->sb) {
        if (rbi_sandbox_is_stopped(pl->sb))
            return fail(r, RB_MISUSE, "plan %s was stopped by a limit earlier: compile it again",
                        p->file);
        rbi_sandbox_begin(pl->sb);
        r->hooks = true;
    }
    r->res = rbi_calloc(1, sizeof(*r->res));
    if (!r->res)
        return nomem(r);
    r->res->nrules = p->nrules;
    r->res->rule_text = run_calloc((size_t)p->nrules, sizeof(*r->res->rule_text));
    r->item_on = run_calloc((size_t)p->nitems, sizeof(*r->item_on));
    r->item_amt = run_calloc((size_t)p->nitems, sizeof(*r->item_amt));
    r->item_line = run_calloc((size_t)p->nitems, sizeof(*r->item_line));
    if (!r->res->rule_text || !r->item_on || !r->item_amt || !r->item_line)
        return nomem(r);
    for (int k = 0; k < p->nitems; k++) {
        r->item_on[k] = rbi_item_in_force(&p->items[k], req->month);
        r->item_amt[k] = rb_dec_zero();
        r->item_line[k] = SIZE_MAX;
        if (r->item_on[k] && p->items[k].itemized)
            r->need_svc = true;
    }
    if (r->hooks && p->on_invoice > 0)
        r->need_svc = true;
    return RB_OK;
}

static void run_end(struct run *r)
{
    rb_priced_free(r->res);
    rbi_free(r->ls);
    rbi_free(r->memo);
    rbi_free(r->grad);
    rbi_free(r->slot_qty);
    rbi_free(r->slot_value);
    rbi_free(r->svc_name);
    rbi_free(r->svc_hash);
    rbi_free(r->svc_slot);
    rbi_free(r->svc_sum);
    rbi_free(r->svc_hit);
    rbi_free(r->item_on);
    rbi_free(r->item_amt);
    rbi_free(r->item_line);
}

/* {===================================================================================
 * 1. Lines: every line has a service, a line type and a currency, and there is one currency
 * =================================================================================== */

static rb_status check_lines(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const rb_price_input *in = &r->in[i];
        if (!in->service || !in->line_type)
            return fail(r, RB_INVALID, "usage line %zu has no service or line type", i + 1);
        if (!in->currency[0])
            return line_fail(r, RB_INVALID, i, "usage line %zu has no currency", i + 1);
        if (!r->usage[0])
            memcpy(r->usage, in->currency, sizeof(r->usage) - 1);
        else if (strncmp(r->usage, in->currency, sizeof(r->usage) - 1) != 0)
            return line_fail(r, RB_INVALID, i,
                             "usage in two currencies: %s and %.3s; price each currency "
                             "separately",
                             r->usage, in->currency);
    }
    return RB_OK;
}

/* {===================================================================================
 * 2. Policy: each line priced, passed or hidden, and the rule of each priced line
 * =================================================================================== */

/* The partner's text of rule k ("service AmazonEC2 -5%"), made once per run in the pool. */
static rb_status rule_text(struct run *r, int k)
{
    const struct rbi_rule *ru = &r->p->rules[k];
    char scope[1024], buf[1200], num[RB_DEC_BUFSZ];
    rb_dec d;
    size_t len;

    rbi_rule_scope_text(ru, scope, sizeof(scope));
    switch (ru->kind) {
    case RBI_RULE_PERCENT:
        d = rb_dec_normalize(&ru->percent);
        rb_dec_format(&d, num, sizeof(num));
        snprintf(buf, sizeof(buf), "%s %s%s%%", scope, rb_dec_sign(&d) < 0 ? "" : "+", num);
        break;
    case RBI_RULE_RATE:
        d = rb_dec_normalize(&ru->rate);
        rb_dec_format(&d, num, sizeof(num));
        snprintf(buf, sizeof(buf), "%s rate %s", scope, num);
        break;
    default:
        snprintf(buf, sizeof(buf), "%s %s tiers", scope, ru->volume ? "volume" : "graduated");
        break;
    }
    len = strlen(buf);
    if (len > RB_PRICE_RULE_MAX) { /* cut at a character boundary */
        len = RB_PRICE_RULE_MAX;
        while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80)
            len--;
        buf[len] = '\0';
    }
    r->res->rule_text[k] = rbi_pool_strndup(&r->res->pool, buf, strlen(buf));
    return r->res->rule_text[k] ? RB_OK : nomem(r);
}

/* The line's policy class and rule, through the memo. */
static void scope_of(struct run *r, const rb_price_input *in, int32_t *rule, uint8_t *cls)
{
    const char *k[5] = {in->service, s0(in->entity), s0(in->usage_type), s0(in->operation),
                        in->line_type};
    uint64_t h = 0;
    size_t j;

    for (int t = 0; t < 5; t++)
        h = (h ^ (uint64_t)(uintptr_t)k[t]) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    for (j = h & r->memo_mask;; j = (j + 1) & r->memo_mask) {
        struct memo_slot *m = &r->memo[j];
        if (!m->used)
            break;
        if (m->k[0] == k[0] && m->k[1] == k[1] && m->k[2] == k[2] && m->k[3] == k[3] &&
            m->k[4] == k[4]) {
            *rule = m->rule;
            *cls = m->cls;
            return;
        }
    }
    *cls = (uint8_t)rbi_ltype_classify(k[4], k[0]);
    *rule = rbi_plan_match(r->p, k[0], k[1], k[2], k[3]);
    if (4 * (r->memo_n + 1) <= 3 * (r->memo_mask + 1)) {
        struct memo_slot *m = &r->memo[j];
        memcpy(m->k, k, sizeof(m->k));
        m->rule = *rule;
        m->cls = *cls;
        m->used = true;
        r->memo_n++;
    }
}

/* The index of service s in the run's table, added when `add`; -1 when absent. */
static int svc_find(struct run *r, const char *s, bool add)
{
    uint64_t h = hash_str(s);

    for (size_t j = h & r->svc_mask;; j = (j + 1) & r->svc_mask) {
        int32_t k = r->svc_slot[j];
        if (k < 0) {
            if (!add)
                return -1;
            k = r->nsvc++;
            r->svc_name[k] = s;
            r->svc_hash[k] = h;
            r->svc_slot[j] = k;
            return k;
        }
        if (r->svc_hash[k] == h && (r->svc_name[k] == s || strcmp(r->svc_name[k], s) == 0))
            return k;
    }
}

static rb_status apply_policy(struct run *r)
{
    const char *prev_svc = NULL;
    int32_t prev_k = -1;

    r->ls = run_calloc(r->n, sizeof(*r->ls));
    r->memo_mask = table_size(r->n, MEMO_MAX) - 1;
    r->memo = run_calloc(r->memo_mask + 1, sizeof(*r->memo));
    if (!r->ls || !r->memo)
        return nomem(r);
    if (r->need_svc) {
        size_t size = table_size(r->n + 1, SIZE_MAX / 8);
        r->svc_mask = size - 1;
        r->svc_slot = rbi_malloc(size * sizeof(*r->svc_slot));
        r->svc_name = run_calloc(r->n, sizeof(*r->svc_name));
        r->svc_hash = run_calloc(r->n, sizeof(*r->svc_hash));
        r->svc_sum = run_calloc(r->n, sizeof(*r->svc_sum));
        r->svc_hit = run_calloc(r->n, sizeof(*r->svc_hit));
        if (!r->svc_slot || !r->svc_name || !r->svc_hash || !r->svc_sum || !r->svc_hit)
            return nomem(r);
        memset(r->svc_slot, 0xff, size * sizeof(*r->svc_slot)); /* every slot -1 */
    }
    for (size_t i = 0; i < r->n; i++) {
        const rb_price_input *in = &r->in[i];
        struct lstate *ls = &r->ls[i];
        scope_of(r, in, &ls->rule, &ls->cls);
        ls->action = r->p->action[ls->cls];
        ls->svc = -1;
        if (ls->action == RBI_ACT_HIDE) {
            r->nhidden++;
            continue;
        }
        r->nshown++;
        if (r->need_svc) {
            if (in->service != prev_svc) {
                prev_svc = in->service;
                prev_k = svc_find(r, in->service, true);
            }
            ls->svc = prev_k;
        }
        if (ls->action != RBI_ACT_PRICE) {
            ls->rule = -1;
            continue;
        }
        if (ls->rule >= 0) {
            if (!r->res->rule_text[ls->rule] && rule_text(r, ls->rule) != RB_OK)
                return r->rc;
            if (r->p->rules[ls->rule].kind == RBI_RULE_TIERED)
                r->any_tiered = true;
        }
    }
    return RB_OK;
}

/* The result's arrays, sized for every line the run can make: the shown usage lines, the lines
 * of the items in force (itemized ones: one per service), what on_invoice may add. */
static rb_status result_alloc(struct run *r)
{
    struct rb_priced *res = r->res;
    size_t cap = r->nshown;

    for (int k = 0; k < r->p->nitems; k++)
        if (r->item_on[k])
            cap += r->p->items[k].itemized ? (size_t)r->nsvc : 1;
    if (r->hooks && r->p->on_invoice > 0) {
        cap += RBI_INVOICE_ADDS_MAX;
        r->added = rbi_pool_alloc(&res->pool, RBI_INVOICE_ADDS_MAX * sizeof(*r->added));
        if (!r->added)
            return nomem(r);
    }
    res->lines = run_calloc(cap, sizeof(*res->lines));
    res->hidden = run_calloc(r->nhidden, sizeof(*res->hidden));
    res->input_price = run_calloc(r->n, sizeof(*res->input_price));
    if (!res->lines || !res->hidden || !res->input_price)
        return nomem(r);
    res->cap = cap;
    res->ninput = r->n;
    return RB_OK;
}

/* {===================================================================================
 * 3. Line prices: the base, the rule or ladder, the on_line hook; 12 fraction digits
 * =================================================================================== */

/* A line on a graduated ladder, for sorting into the order of the lines' dimensions. */
struct gline {
    const rb_price_input *in;
    size_t i;
    int slot;
};

static int dim_cmp(const char *a, const char *b)
{
    return a == b ? 0 : strcmp(s0(a), s0(b));
}

static int gline_cmp(const void *va, const void *vb)
{
    const struct gline *a = va, *b = vb;
    const char *const da[7] = {a->in->account,   a->in->service, a->in->usage_type,
                               a->in->operation, a->in->region,  a->in->line_type,
                               a->in->entity};
    const char *const db[7] = {b->in->account,   b->in->service, b->in->usage_type,
                               b->in->operation, b->in->region,  b->in->line_type,
                               b->in->entity};

    if (a->slot != b->slot)
        return a->slot < b->slot ? -1 : 1;
    for (int k = 0; k < 7; k++) {
        int c = dim_cmp(da[k], db[k]);
        if (c != 0)
            return c;
    }
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The price per unit of a volume ladder for a month's total (a total equal to an `upto`
 * belongs to that tier; below zero, the first tier's). */
static const rb_dec *volume_value(const struct rbi_rule *ru, const rb_dec *total)
{
    for (int t = 0; t < ru->ntiers; t++)
        if (ru->tiers[t].open || rb_dec_cmp(total, &ru->tiers[t].upto) <= 0)
            return &ru->tiers[t].value;
    return &ru->tiers[ru->ntiers - 1].value;
}

/*
 * Consume the ladders before the loop: a volume ladder's price is that of the tier the
 * month's total reaches; a graduated ladder is climbed line after line in the order of the
 * lines' dimensions (account, service, usage type, operation, region, line type, billing
 * entity), whatever order they come in, so the same lines always get the same prices and the
 * month's total is the ladder's price of the total quantity.
 */
static rb_status ladders_prepare(struct run *r)
{
    const struct rbi_plan *p = r->p;
    struct gline *g = NULL;
    size_t ng = 0;
    rb_status rc = RB_OK;

    if (!r->any_tiered)
        return RB_OK;
    r->slot_qty = run_calloc((size_t)p->nslots, sizeof(*r->slot_qty));
    r->slot_value = run_calloc((size_t)p->nslots, sizeof(*r->slot_value));
    r->grad = run_calloc(r->n, sizeof(*r->grad));
    g = run_calloc(r->n, sizeof(*g));
    if (!r->slot_qty || !r->slot_value || !r->grad || !g) {
        rbi_free(g);
        return nomem(r);
    }
    for (int s = 0; s < p->nslots; s++)
        r->slot_qty[s] = rb_dec_zero();
    for (size_t i = 0; i < r->n; i++) {
        const struct rbi_rule *ru;
        if (r->ls[i].action != RBI_ACT_PRICE || r->ls[i].rule < 0)
            continue;
        ru = &p->rules[r->ls[i].rule];
        if (ru->kind != RBI_RULE_TIERED)
            continue;
        if (!ru->volume) {
            g[ng].in = &r->in[i];
            g[ng].i = i;
            g[ng].slot = ru->slot;
            ng++;
        } else if (rb_dec_add(&r->slot_qty[ru->slot], &r->slot_qty[ru->slot], &r->in[i].quantity) !=
                   RB_OK) {
            rc = overflow(r, i, "quantity");
            goto out_free_lines;
        }
    }
    for (size_t i = 0; i < r->n; i++) { /* volume: each slot's price once its total is known */
        const struct rbi_rule *ru;
        if (r->ls[i].action != RBI_ACT_PRICE || r->ls[i].rule < 0)
            continue;
        ru = &p->rules[r->ls[i].rule];
        if (ru->kind == RBI_RULE_TIERED && ru->volume && !r->slot_value[ru->slot])
            r->slot_value[ru->slot] = volume_value(ru, &r->slot_qty[ru->slot]);
    }
    if (ng > 1)
        qsort(g, ng, sizeof(*g), gline_cmp);
    for (size_t j = 0; j < ng; j++) { /* graduated: each line from where the last one ended */
        const struct rbi_rule *ru = &p->rules[r->ls[g[j].i].rule];
        rb_dec *from = &r->slot_qty[g[j].slot], to, lo, hi;
        if (rb_dec_add(&to, from, &g[j].in->quantity) != RB_OK ||
            rbi_tiers_apply(ru->tiers, ru->ntiers, false, false, from, &lo) != RB_OK ||
            rbi_tiers_apply(ru->tiers, ru->ntiers, false, false, &to, &hi) != RB_OK ||
            rb_dec_sub(&r->grad[g[j].i], &hi, &lo) != RB_OK) {
            rc = overflow(r, g[j].i, "tiers");
            goto out_free_lines;
        }
        *from = to;
    }
out_free_lines:
    rbi_free(g);
    return rc;
}

/* Where a priced line starts: list (or, with the free tier, what AWS billed for a Usage line
 * below its list price), billed (the partner's cost: AWS's, or the payer's price in a chain),
 * or effective. */
static const rb_dec *line_base(const struct run *r, const rb_price_input *in, const rb_dec *cost,
                               uint8_t cls)
{
    switch (r->p->base) {
    case RBI_BASE_BILLED:
        return cost;
    case RBI_BASE_EFFECTIVE:
        return &in->effective;
    default:
        if (r->p->free_tier && cls == RBI_LT_USAGE && rb_dec_cmp(&in->billed, &in->list) < 0)
            return &in->billed;
        return &in->list;
    }
}

/* The price the rule gives (exact, before the 12 digits). Rates and ladders ignore the base. */
static rb_status rule_price(const struct run *r, size_t i, const rb_dec *base, rb_dec *out)
{
    const struct rbi_rule *ru;

    if (r->ls[i].rule < 0) {
        *out = *base;
        return RB_OK;
    }
    ru = &r->p->rules[r->ls[i].rule];
    switch (ru->kind) {
    case RBI_RULE_PERCENT:
        return rb_dec_mul(out, base, &ru->factor);
    case RBI_RULE_RATE:
        return rb_dec_mul(out, &r->in[i].quantity, &ru->rate);
    default:
        if (ru->volume)
            return rb_dec_mul(out, &r->in[i].quantity, r->slot_value[ru->slot]);
        *out = r->grad[i];
        return RB_OK;
    }
}

/*
 * Call on_line for input line i (inside the run's protected call; the hook function is at
 * stack index fn and the line object at obj). Returns true when it gave a new price (*price
 * set, 12 digits); false when it kept the rule's, or when it failed (r->rc set).
 */
static bool hook_price(struct run *r, lua_State *L, int fn, int obj, size_t i, const rb_dec *cost,
                       const rb_dec *base, rb_dec *price)
{
    struct rbi_hook_line *hl = &r->pl->hl;
    rb_dec v;
    int t;

    hl->in = &r->in[i];
    hl->cost = *cost;
    hl->base = *base;
    hl->price = *price;
    hl->action = "price";
    hl->rule = r->ls[i].rule >= 0 ? &r->p->rules[r->ls[i].rule] : NULL;
    hl->live = true;
    lua_pushvalue(L, fn);
    lua_pushvalue(L, obj);
    lua_call(L, 1, 1);
    hl->live = false;
    t = lua_type(L, -1);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    if (t == LUA_TNUMBER || t == LUA_TSTRING || (t == LUA_TUSERDATA && rbi_lapi_dec_test(L, -1))) {
        if (!rbi_lua_to_dec(L, -1, &v)) {
            rb_error e;
            size_t len;
            const char *s;
            if (t == LUA_TSTRING) {
                s = lua_tolstring(L, -1, &len);
                rb_dec_parse(&v, s, len, &e);
            } else {
                snprintf(e.msg, sizeof(e.msg), "%.17g is not an amount", lua_tonumber(L, -1));
            }
            lua_pop(L, 1);
            line_fail(r, RB_RUNTIME, i, "%s: on_line's result: %s", r->p->on_line_where, e.msg);
            return false;
        }
        lua_pop(L, 1);
        if (round12(price, &v) != RB_OK) {
            overflow(r, i, "on_line's result");
            return false;
        }
        return true;
    }
    line_fail(r, RB_INVALID, i,
              "%s: on_line must return money, a number, decimal text or nil, not a %s",
              r->p->on_line_where, lua_typename(L, t));
    lua_pop(L, 1);
    return false;
}

/* The line loop. L is NULL without an on_line hook; with one, it runs inside the protected
 * call, hook function at fn, line object at obj. Allocates nothing. */
static void line_loop(struct run *r, lua_State *L, int fn, int obj)
{
    struct rb_priced *res = r->res;
    const struct rbi_plan *p = r->p;

    for (size_t i = 0; i < r->n; i++) {
        const rb_price_input *in = &r->in[i];
        const struct lstate *ls = &r->ls[i];
        const rb_dec *cost = r->req->cost ? &r->req->cost[i] : &in->billed;
        const char *why;
        struct pline *o;
        rb_dec price, x;

        r->cur = (long)i;
        if (rb_dec_add(&r->cost, &r->cost, cost) != RB_OK) {
            overflow(r, i, "cost");
            return;
        }
        if (rb_dec_add(&r->billed, &r->billed, &in->billed) != RB_OK ||
            rb_dec_add(&r->list, &r->list, &in->list) != RB_OK) {
            overflow(r, i, "billed and list totals");
            return;
        }
        if (ls->action == RBI_ACT_HIDE) {
            o = &res->hidden[res->nhidden++];
            price = rb_dec_zero();
            why = "hidden";
        } else {
            o = &res->lines[res->n++];
            if (ls->action == RBI_ACT_PASS) {
                why = "pass";
                if (round12(&price, cost) != RB_OK) {
                    overflow(r, i, "price");
                    return;
                }
            } else {
                const rb_dec *base = line_base(r, in, cost, ls->cls);
                why = ls->rule >= 0                   ? res->rule_text[ls->rule]
                      : p->base == RBI_BASE_BILLED    ? "billed"
                      : p->base == RBI_BASE_EFFECTIVE ? "effective"
                                                      : "list";
                if (rule_price(r, i, base, &x) != RB_OK || round12(&price, &x) != RB_OK) {
                    overflow(r, i, "price");
                    return;
                }
                if (L) {
                    if (hook_price(r, L, fn, obj, i, cost, base, &price))
                        why = "on_line hook";
                    else if (r->rc != RB_OK)
                        return;
                }
            }
        }
        o->cust.kind = ls->action == RBI_ACT_PRICE ? RB_PRICE_USAGE : RB_PRICE_PASS;
        o->cust.account = s0(in->account);
        o->cust.service = in->service;
        o->cust.usage_type = s0(in->usage_type);
        o->cust.operation = s0(in->operation);
        o->cust.region = s0(in->region);
        o->cust.line_type = in->line_type;
        o->cust.label = "";
        o->cust.quantity = in->quantity;
        o->cust.amount = price; /* converted in step 6 */
        o->partner.price = price;
        o->partner.cost = *cost;
        o->partner.billed = in->billed;
        o->partner.list = in->list;
        o->partner.effective = in->effective;
        o->partner.input = (long)i;
        o->partner.rule = why;
        o->item = -1;
        res->input_price[i] = price;
    }
    r->cur = -1;
}

static void line_hook_fn(lua_State *L, void *ctx)
{
    struct run *r = ctx;

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->p->on_line);
    rbi_lapi_line_push(L, &r->pl->hl);
    line_loop(r, L, lua_gettop(L) - 1, lua_gettop(L));
}

/* An error the sandbox reported from a hook: its message, and the line item being priced. */
static rb_status hook_failed(struct run *r, rb_status rc)
{
    const char *msg = rbi_sandbox_errmsg(r->pl->sb);

    if (r->cur >= 0)
        return line_fail(r, rc, (size_t)r->cur, "%s", msg);
    return fail(r, rc, "%s", msg);
}

static rb_status price_lines(struct run *r)
{
    rb_status rc;

    if (!r->hooks || r->p->on_line <= 0) {
        line_loop(r, NULL, 0, 0);
        return r->rc;
    }
    rc = rbi_sandbox_run(r->pl->sb, line_hook_fn, r);
    r->pl->hl.live = false; /* an error left the loop inside the hook call */
    if (rc != RB_OK)
        return hook_failed(r, rc);
    return r->rc;
}

/* {===================================================================================
 * 4. Custom line items, in the plan's order (an item may count the items above it)
 * =================================================================================== */

static bool in_list(const char *const *v, int n, const char *s)
{
    for (int k = 0; k < n; k++)
        if (strcmp(v[k], s) == 0)
            return true;
    return false;
}

/* Whether usage line l (priced or passed) is one of the item's sources. */
static bool item_counts(const struct run *r, const struct rbi_item *it, const struct pline *l)
{
    const rb_price_input *in = &r->in[l->partner.input];

    if (it->nservices && !in_list(it->services, it->nservices, in->service))
        return false;
    if (it->nentities && !in_list(it->entities, it->nentities, s0(in->entity)))
        return false;
    if (it->nline_types) {
        bool support = r->ls[l->partner.input].cls == RBI_LT_SUPPORT;
        int k;
        for (k = 0; k < it->nline_types; k++)
            if (strcmp(it->line_types[k], in->line_type) == 0 ||
                (support && strcmp(it->line_types[k], "Support") == 0))
                break;
        if (k == it->nline_types)
            return false;
    }
    return true;
}

/* The sum of the item's sources: usage lines (filtered), and the items above it it names. */
static rb_status item_sources(const struct run *r, int k, rb_dec *out)
{
    const struct rbi_item *it = &r->p->items[k];
    rb_dec s = rb_dec_zero();

    if (it->of_usage)
        for (size_t j = 0; j < r->nusage; j++)
            if (item_counts(r, it, &r->res->lines[j]) &&
                rb_dec_add(&s, &s, &r->res->lines[j].partner.price) != RB_OK)
                return RB_OVERFLOW;
    if (it->of_all_items) {
        for (int j = 0; j < k; j++)
            if (rb_dec_add(&s, &s, &r->item_amt[j]) != RB_OK)
                return RB_OVERFLOW;
    } else {
        for (int j = 0; j < it->nof_items; j++)
            if (rb_dec_add(&s, &s, &r->item_amt[it->of_items[j]]) != RB_OK)
                return RB_OVERFLOW;
    }
    *out = s;
    return RB_OK;
}

/* The item's amount for sources s: flat, percent or ladder, a commitment's shortfall; then
 * its bounds, a credit's sign, and 12 digits. */
static rb_status item_amount(const struct rbi_item *it, const rb_dec *s, rb_dec *out)
{
    rb_dec a, x, hundredth;
    rb_status rc = RB_OK;

    rb_dec_parse(&hundredth, "0.01", 4, NULL);
    if (it->kind == RBI_ITEM_COMMIT) {
        rc = rb_dec_sub(&a, &it->amount, s);
        if (rc == RB_OK && rb_dec_sign(&a) < 0)
            a = rb_dec_zero();
    } else if (it->amt == RBI_AMT_FLAT) {
        a = it->amount;
    } else if (it->amt == RBI_AMT_PERCENT) {
        rc = rb_dec_mul(&x, s, &it->percent);
        if (rc == RB_OK)
            rc = rb_dec_mul(&a, &x, &hundredth);
    } else {
        rc = rbi_tiers_apply(it->tiers, it->ntiers, it->volume, true, s, &a);
    }
    if (rc != RB_OK)
        return rc;
    if (it->has_min && rb_dec_cmp(&a, &it->minimum) < 0)
        a = it->minimum;
    if (it->has_max && rb_dec_cmp(&a, &it->maximum) > 0)
        a = it->maximum;
    if (it->kind == RBI_ITEM_CREDIT)
        a = rb_dec_neg(&a);
    return round12(out, &a);
}

static const rb_price_kind item_kinds[] = {RB_PRICE_FEE, RB_PRICE_CREDIT, RB_PRICE_COMMIT};

/* Append a line of item k (label and rule copied into the result's pool). */
static struct pline *item_line(struct run *r, int k, const char *service, const rb_dec *amount)
{
    const struct rbi_item *it = &r->p->items[k];
    struct pline *o = &r->res->lines[r->res->n];
    const char *label = rbi_pool_strndup(&r->res->pool, it->name, strlen(it->name));
    const char *where = rbi_pool_strndup(&r->res->pool, it->where, strlen(it->where));

    if (!label || !where) {
        nomem(r);
        return NULL;
    }
    r->res->n++;
    memset(o, 0, sizeof(*o));
    o->cust.kind = item_kinds[it->kind];
    o->cust.account = o->cust.usage_type = o->cust.operation = o->cust.region = "";
    o->cust.line_type = "";
    o->cust.service = service;
    o->cust.label = label;
    o->cust.quantity = rb_dec_zero();
    o->cust.amount = *amount;
    o->partner.price = *amount;
    o->partner.cost = o->partner.billed = o->partner.list = o->partner.effective = rb_dec_zero();
    o->partner.input = -1;
    o->partner.rule = where;
    o->item = k;
    return o;
}

/* An itemized item: one line per service among its sources, each with its own bounds. */
static rb_status item_itemized(struct run *r, int k)
{
    const struct rbi_item *it = &r->p->items[k];
    rb_dec zero = rb_dec_zero();

    for (int s = 0; s < r->nsvc; s++) {
        r->svc_sum[s] = zero;
        r->svc_hit[s] = false;
    }
    for (size_t j = 0; j < r->nusage; j++) {
        const struct pline *l = &r->res->lines[j];
        int s = r->ls[l->partner.input].svc;
        if (!item_counts(r, it, l))
            continue;
        r->svc_hit[s] = true;
        if (rb_dec_add(&r->svc_sum[s], &r->svc_sum[s], &l->partner.price) != RB_OK)
            return fail(r, RB_OVERFLOW,
                        "%s: item \"%s\": amount out of range (more than 38 "
                        "digits)",
                        it->where, it->name);
    }
    for (int s = 0; s < r->nsvc; s++) {
        rb_dec a;
        if (!r->svc_hit[s])
            continue;
        if (item_amount(it, &r->svc_sum[s], &a) != RB_OK ||
            rb_dec_add(&r->item_amt[k], &r->item_amt[k], &a) != RB_OK)
            return fail(r, RB_OVERFLOW,
                        "%s: item \"%s\": amount out of range (more than 38 "
                        "digits)",
                        it->where, it->name);
        if (!item_line(r, k, r->svc_name[s], &a))
            return r->rc;
    }
    return RB_OK;
}

static rb_status price_items(struct run *r)
{
    r->nusage = r->res->n;
    for (int k = 0; k < r->p->nitems; k++) {
        const struct rbi_item *it = &r->p->items[k];
        rb_dec s, a;
        if (!r->item_on[k])
            continue;
        if (it->itemized) {
            if (item_itemized(r, k) != RB_OK)
                return r->rc;
            continue;
        }
        if (item_sources(r, k, &s) != RB_OK || item_amount(it, &s, &a) != RB_OK)
            return fail(r, RB_OVERFLOW,
                        "%s: item \"%s\": amount out of range (more than 38 "
                        "digits)",
                        it->where, it->name);
        r->item_amt[k] = a;
        r->item_line[k] = r->res->n;
        if (!item_line(r, k, "", &a))
            return r->rc;
    }
    return RB_OK;
}

/* {===================================================================================
 * 5. The on_invoice hook, and the invoice view it edits (plan.h)
 * =================================================================================== */

static struct run *view_run(const struct rbi_invoice_view *iv)
{
    return iv && iv->live ? iv->r : NULL;
}

bool rbi_invoice_live(const struct rbi_invoice_view *iv)
{
    return view_run(iv) != NULL;
}

const char *rbi_invoice_customer(const struct rbi_invoice_view *iv)
{
    struct run *r = view_run(iv);

    return r ? s0(r->req->customer) : "";
}

int rbi_invoice_month(const struct rbi_invoice_view *iv)
{
    struct run *r = view_run(iv);

    return r ? r->req->month : 0;
}

/* The currency the invoice object's amounts are in: the usage's (USD without usage). */
const char *rbi_invoice_currency(const struct rbi_invoice_view *iv)
{
    struct run *r = view_run(iv);

    return r && r->usage[0] ? r->usage : "USD";
}

rb_status rbi_invoice_subtotal(const struct rbi_invoice_view *iv, rb_dec *out)
{
    struct run *r = view_run(iv);
    rb_dec s = rb_dec_zero();

    if (!r)
        return RB_MISUSE;
    for (size_t j = 0; j < r->res->n; j++)
        if (rb_dec_add(&s, &s, &r->res->lines[j].partner.price) != RB_OK)
            return RB_OVERFLOW;
    *out = s;
    return RB_OK;
}

rb_status rbi_invoice_cost(const struct rbi_invoice_view *iv, rb_dec *out)
{
    struct run *r = view_run(iv);

    if (!r)
        return RB_MISUSE;
    *out = r->cost;
    return RB_OK;
}

int rbi_invoice_services(const struct rbi_invoice_view *iv, const char *const **names,
                         const rb_dec **sums)
{
    struct run *r = view_run(iv);

    if (!r || r->svc_overflow)
        return -1;
    *names = r->svc_name;
    *sums = r->svc_sum;
    return r->nsvc;
}

int rbi_invoice_nitems(const struct rbi_invoice_view *iv)
{
    struct run *r = view_run(iv);

    return r ? r->p->nitems : 0;
}

const char *rbi_invoice_item(const struct rbi_invoice_view *iv, int k, rb_dec *amount,
                             bool *in_force)
{
    struct run *r = view_run(iv);

    if (!r || k < 0 || k >= r->p->nitems) {
        *in_force = false;
        *amount = rb_dec_zero();
        return "";
    }
    *in_force = r->item_on[k];
    *amount = r->item_amt[k];
    return r->p->items[k].name;
}

/* Refuse an edit of the invoice: the message for lapi_rebill.c to raise, and the status. */
static rb_status refuse(char *msg, size_t size, rb_status rc, const char *fmt, ...)
    RBI_PRINTF(4, 5);
static rb_status refuse(char *msg, size_t size, rb_status rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return rc;
}

rb_status rbi_invoice_add(struct rbi_invoice_view *iv, const char *name, const char *service,
                          const rb_dec *amount, char *msg, size_t msgsize)
{
    struct run *r = view_run(iv);
    size_t len = name ? strlen(name) : 0;
    const char *svc = "";
    struct pline *o;
    rb_dec a;

    if (!r || !r->added)
        return refuse(msg, msgsize, RB_MISUSE, "no invoice");
    if (r->nadded >= RBI_INVOICE_ADDS_MAX)
        return refuse(msg, msgsize, RB_INVALID, "on_invoice may add at most %d lines",
                      RBI_INVOICE_ADDS_MAX);
    if (len == 0 || len > RB_PRICE_LABEL_MAX)
        return refuse(msg, msgsize, RB_INVALID, "'name' must be 1..%d bytes", RB_PRICE_LABEL_MAX);
    if (service) {
        int s = svc_find(r, service, false);
        if (s < 0)
            return refuse(msg, msgsize, RB_INVALID,
                          "no usage of service \"%.128s\" on this invoice", service);
        svc = r->svc_name[s];
    }
    if (round12(&a, amount) != RB_OK)
        return refuse(msg, msgsize, RB_OVERFLOW, "amount out of range (more than 38 digits)");
    memcpy(r->added[r->nadded], name, len + 1);
    o = &r->res->lines[r->res->n++];
    memset(o, 0, sizeof(*o));
    o->cust.kind = RB_PRICE_ADDED;
    o->cust.account = o->cust.usage_type = o->cust.operation = o->cust.region = "";
    o->cust.line_type = "";
    o->cust.service = svc;
    o->cust.label = r->added[r->nadded++];
    o->cust.quantity = rb_dec_zero();
    o->cust.amount = o->partner.price = a;
    o->partner.cost = o->partner.billed = o->partner.list = o->partner.effective = rb_dec_zero();
    o->partner.input = -1;
    o->partner.rule = "on_invoice hook";
    o->item = -1;
    return RB_OK;
}

rb_status rbi_invoice_set_item(struct rbi_invoice_view *iv, const char *name, const rb_dec *amount,
                               char *msg, size_t msgsize)
{
    struct run *r = view_run(iv);
    char mon[16];
    rb_dec a;
    int k;

    if (!r)
        return refuse(msg, msgsize, RB_MISUSE, "no invoice");
    k = rbi_plan_item_find(r->p, name);
    if (k < 0)
        return refuse(msg, msgsize, RB_INVALID, "no item named \"%.128s\" in the plan", name);
    if (!r->item_on[k]) {
        rb_month_format(r->req->month, mon, sizeof(mon));
        return refuse(msg, msgsize, RB_INVALID, "item \"%.128s\" is not in force in %s", name, mon);
    }
    if (r->p->items[k].itemized)
        return refuse(msg, msgsize, RB_INVALID,
                      "item \"%.128s\" is itemized (one line per service): it cannot be set", name);
    if (round12(&a, amount) != RB_OK)
        return refuse(msg, msgsize, RB_OVERFLOW, "amount out of range (more than 38 digits)");
    r->item_amt[k] = a;
    r->res->lines[r->item_line[k]].cust.amount = a;
    r->res->lines[r->item_line[k]].partner.price = a;
    return RB_OK;
}

static void invoice_hook_fn(lua_State *L, void *ctx)
{
    struct run *r = ctx;

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->p->on_invoice);
    rbi_lapi_invoice_push(L, &r->pl->iv);
    lua_call(L, 1, 0);
}

/* The sums per service of the usage and passed lines, for invoice.services. */
static void invoice_services(struct run *r)
{
    for (int s = 0; s < r->nsvc; s++)
        r->svc_sum[s] = rb_dec_zero();
    for (size_t j = 0; j < r->nusage; j++) {
        const struct pline *l = &r->res->lines[j];
        int s = r->ls[l->partner.input].svc;
        if (rb_dec_add(&r->svc_sum[s], &r->svc_sum[s], &l->partner.price) != RB_OK)
            r->svc_overflow = true;
    }
}

/* Run on_invoice, then leave out the items that came to exactly zero. */
static rb_status invoice_hook(struct run *r)
{
    struct rb_priced *res = r->res;
    size_t k = r->nusage;

    if (r->hooks && r->p->on_invoice > 0) {
        rb_status rc;
        invoice_services(r);
        r->pl->iv.r = r;
        r->pl->iv.live = true;
        rc = rbi_sandbox_run(r->pl->sb, invoice_hook_fn, r);
        r->pl->iv.live = false;
        if (rc != RB_OK)
            return fail(r, rc, "%s", rbi_sandbox_errmsg(r->pl->sb));
    }
    for (size_t j = r->nusage; j < res->n; j++)
        if (res->lines[j].item < 0 || rb_dec_sign(&res->lines[j].partner.price) != 0)
            res->lines[k++] = res->lines[j];
    res->n = k;
    return RB_OK;
}

/* {===================================================================================
 * 6. Currency: each amount at the month's rate, 12 fraction digits
 * =================================================================================== */

static rb_status convert(struct run *r)
{
    const struct rbi_plan *p = r->p;
    const char *from = r->usage[0] ? r->usage : "USD";

    memcpy(r->currency, from, sizeof(r->currency));
    r->fx = rb_dec_from_int(1);
    if (p->has_fx && strcmp(p->fx_code, from) != 0) {
        if (!rbi_plan_fx_rate(p, r->req->month, &r->fx)) {
            char mon[16];
            rb_month_format(r->req->month, mon, sizeof(mon));
            return fail(r, RB_INVALID, "%s%sno exchange rate %s -> %s for %s", p->fx_where,
                        p->fx_where[0] ? ": " : "", from, p->fx_code, mon);
        }
        memcpy(r->currency, p->fx_code, sizeof(r->currency));
        r->convert = true;
    }
    if (!r->convert)
        return RB_OK;
    for (size_t j = 0; j < r->res->n; j++) {
        struct pline *l = &r->res->lines[j];
        rb_dec x;
        if (rb_dec_mul(&x, &l->partner.price, &r->fx) != RB_OK ||
            round12(&l->cust.amount, &x) != RB_OK) {
            if (l->partner.input >= 0)
                return overflow(r, (size_t)l->partner.input, "currency conversion");
            return fail(r, RB_OVERFLOW,
                        "currency conversion: amount out of range (more than 38 digits) "
                        "(line \"%s\")",
                        l->cust.label);
        }
    }
    return RB_OK;
}

/* {===================================================================================
 * 7. Totals: the subtotal rounded once, the tax on it, the partner's figures
 * =================================================================================== */

static rb_status totals(struct run *r)
{
    const struct rbi_plan *p = r->p;
    struct rb_priced *res = r->res;
    rb_price_totals *t = &res->totals;
    rb_price_margin *m = &res->margin;
    const char *uc = r->usage[0] ? r->usage : "USD";
    rb_dec sum = rb_dec_zero(), price = rb_dec_zero(), x, hundredth;
    const char *log;
    size_t len;

    for (size_t j = 0; j < res->n; j++)
        if (rb_dec_add(&sum, &sum, &res->lines[j].cust.amount) != RB_OK ||
            rb_dec_add(&price, &price, &res->lines[j].partner.price) != RB_OK)
            return fail(r, RB_OVERFLOW, "subtotal: amount out of range (more than 38 digits)");
    memcpy(t->currency, r->currency, sizeof(t->currency));
    memcpy(t->usage_currency, r->usage, sizeof(t->usage_currency));
    t->fx_rate = r->fx;
    rb_dec_parse(&hundredth, "0.01", 4, NULL);
    t->tax_rate = p->has_tax ? p->tax_rate : rb_dec_zero();
    if (p->has_tax)
        rbi_strlcpy(t->tax_name, p->tax_name, sizeof(t->tax_name));
    if (rb_dec_round_currency(&t->subtotal, &sum, t->currency, p->rounding) != RB_OK ||
        rb_dec_mul(&x, &t->subtotal, &t->tax_rate) != RB_OK ||
        rb_dec_mul(&x, &x, &hundredth) != RB_OK ||
        rb_dec_round_currency(&t->tax, &x, t->currency, p->rounding) != RB_OK ||
        rb_dec_add(&t->total, &t->subtotal, &t->tax) != RB_OK)
        return fail(r, RB_OVERFLOW, "total: amount out of range (more than 38 digits)");
    if (rb_dec_round_currency(&m->price, &price, uc, p->rounding) != RB_OK ||
        rb_dec_round_currency(&m->cost, &r->cost, uc, p->rounding) != RB_OK ||
        rb_dec_sub(&m->margin, &m->price, &m->cost) != RB_OK ||
        rb_dec_round_currency(&m->billed, &r->billed, uc, p->rounding) != RB_OK ||
        rb_dec_round_currency(&m->list, &r->list, uc, p->rounding) != RB_OK)
        return fail(r, RB_OVERFLOW, "margin: amount out of range (more than 38 digits)");
    m->hidden = (long)res->nhidden;
    if (r->hooks) {
        log = rbi_sandbox_log(r->pl->sb, &len);
        if (len && rbi_buf_append(&res->log, log, len) != RB_OK)
            return nomem(r);
    }
    return RB_OK;
}

/* A request for the lines only (an upstream plan making a chain's cost) stops after step 3:
 * no items, no on_invoice, no currency (so no exchange rate is needed) and zero totals. */
static void lines_only(struct run *r)
{
    rb_price_totals *t = &r->res->totals;

    memset(t, 0, sizeof(*t));
    memset(&r->res->margin, 0, sizeof(r->res->margin));
    memcpy(t->currency, r->usage[0] ? r->usage : "USD", sizeof(t->currency));
    memcpy(t->usage_currency, r->usage, sizeof(t->usage_currency));
    t->fx_rate = rb_dec_from_int(1);
    t->subtotal = t->tax = t->total = t->tax_rate = rb_dec_zero();
    r->res->margin.price = r->res->margin.cost = r->res->margin.margin = rb_dec_zero();
    r->res->margin.billed = r->res->margin.list = rb_dec_zero();
    r->res->margin.hidden = (long)r->res->nhidden;
}

/* {===================================================================================
 * rb_price: the steps in order
 * =================================================================================== */

rb_status rb_price(rb_plan *pl, const rb_price_request *req, rb_priced **out, rb_error *err)
{
    struct run r;
    rb_status rc;

    if (out)
        *out = NULL;
    if (!pl || !pl->p || !req || !out || (req->nlines && !req->lines))
        return rbi_error_set(err, RB_MISUSE, "rb_price: missing argument");
    rc = run_begin(&r, pl, req, err);
    if (rc == RB_OK)
        rc = check_lines(&r); /* 1 */
    if (rc == RB_OK)
        rc = apply_policy(&r); /* 2 */
    if (rc == RB_OK)
        rc = result_alloc(&r);
    if (rc == RB_OK)
        rc = ladders_prepare(&r);
    if (rc == RB_OK)
        rc = price_lines(&r); /* 3 */
    if (rc == RB_OK && req->lines_only) {
        lines_only(&r);
    } else {
        if (rc == RB_OK)
            rc = price_items(&r); /* 4 */
        if (rc == RB_OK)
            rc = invoice_hook(&r); /* 5 */
        if (rc == RB_OK)
            rc = convert(&r); /* 6 */
        if (rc == RB_OK)
            rc = totals(&r); /* 7 */
    }
    if (rc == RB_OK) {
        *out = r.res;
        r.res = NULL;
    }
    run_end(&r);
    return rc;
}
