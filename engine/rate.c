/*
 * rate.c -- the pricing core of a compiled plan: line types and the default pass-through
 * policy, the months a custom item is in force, exchange rates, the scope index that finds
 * the one rule pricing a line, and tier ladders.
 *
 * Provides: rbi_ltype_*, rbi_policy_default, rbi_item_in_force, rbi_plan_fx_rate,
 * rbi_plan_finish, rbi_plan_match, rbi_rule_scope_text and rbi_tiers_apply of plan.h.
 * Uses: exact decimals (dec.c), the allocation seam (once, for the index, in rbi_plan_finish).
 * Must never: allocate, round or fail silently in the per-line functions (rbi_plan_match,
 * rbi_tiers_apply, rbi_ltype_classify): an amount that does not fit is RB_OVERFLOW; let two
 * rules claim one scope; scan the rules to price a line.
 *
 * The specification is docs/rules.md: "Rules and scopes" (the seven levels), rebill.tiered
 * and the custom items' `tiers`, `period`/`from`/`to`/`every`, rebill.currency and the table
 * of "Pass-through policy".
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

/* {===================================================================================
 * Line types and the default policy
 * =================================================================================== */

/* Indexed by enum rbi_ltype; the order is the one `passthrough` errors list them in. */
static const char *const ltype_names[RBI_LT__COUNT] = {
    [RBI_LT_USAGE] = "Usage",
    [RBI_LT_DISCOUNTED_USAGE] = "DiscountedUsage",
    [RBI_LT_SP_COVERED] = "SavingsPlanCoveredUsage",
    [RBI_LT_SP_NEGATION] = "SavingsPlanNegation",
    [RBI_LT_SP_UPFRONT] = "SavingsPlanUpfrontFee",
    [RBI_LT_SP_RECURRING] = "SavingsPlanRecurringFee",
    [RBI_LT_RI_FEE] = "RIFee",
    [RBI_LT_FEE] = "Fee",
    [RBI_LT_CREDIT] = "Credit",
    [RBI_LT_REFUND] = "Refund",
    [RBI_LT_TAX] = "Tax",
    [RBI_LT_BUNDLED] = "BundledDiscount",
    [RBI_LT_EDP] = "EdpDiscount",
    [RBI_LT_PRIVATE_RATE] = "PrivateRateDiscount",
    [RBI_LT_SPP] = "SppDiscount",
    [RBI_LT_DISTRIBUTOR] = "DistributorDiscount",
    [RBI_LT_PURCHASE] = "Purchase",
    [RBI_LT_ADJUSTMENT] = "Adjustment",
    [RBI_LT_SUPPORT] = "Support",
    [RBI_LT_OTHER] = "*",
};

/* The AWS support services (their charges are the policy's "Support"): the CUR product codes
 * (lineItem/ProductCode; OCBPremiumSupport is support billed to an organization's payer) and
 * the product names FOCUS exports put in ServiceName. Compared exactly; docs/rules.md lists
 * them. NEEDSWORK: the Enterprise On-Ramp names are AWS's pattern, not seen in a real file
 * yet. */
static const char *const support_services[] = {
    "AWSDeveloperSupport",      "AWSSupportBusiness",       "OCBPremiumSupport",
    "AWSSupportEnterprise",     "AWSSupportEnterpriseOnRamp",
    "AWS Support (Developer)",  "AWS Support (Business)",
    "AWS Support (Enterprise)", "AWS Support (Enterprise On-Ramp)",
};

const char *rbi_ltype_name(enum rbi_ltype t)
{
    if ((unsigned)t >= RBI_LT__COUNT)
        return ltype_names[RBI_LT_OTHER];
    return ltype_names[t];
}

int rbi_ltype_find(const char *s)
{
    if (!s || !*s)
        return -1;
    for (int t = 0; t < RBI_LT__COUNT; t++)
        if (ltype_names[t][0] == s[0] && strcmp(ltype_names[t], s) == 0)
            return t;
    return -1;
}

static bool is_support_service(const char *service)
{
    if (!service)
        return false;
    for (size_t i = 0; i < RB_COUNTOF(support_services); i++)
        if (strcmp(service, support_services[i]) == 0)
            return true;
    return false;
}

enum rbi_ltype rbi_ltype_classify(const char *line_type, const char *service)
{
    int t = rbi_ltype_find(line_type);

    /* "Support" and "*" are policy keys, never the type of a line. */
    if (t == RBI_LT_SUPPORT || t == RBI_LT_OTHER)
        t = -1;
    if (t != RBI_LT_TAX && t != RBI_LT_CREDIT && t != RBI_LT_REFUND && is_support_service(service))
        return RBI_LT_SUPPORT;
    return t < 0 ? RBI_LT_OTHER : (enum rbi_ltype)t;
}

/* docs/rules.md "Pass-through policy": the action per line type under list, billed and
 * effective. */
static const unsigned char policy[RBI_LT__COUNT][3] = {
#define P RBI_ACT_PRICE
#define S RBI_ACT_PASS
#define H RBI_ACT_HIDE
    [RBI_LT_USAGE] = {P, P, P},        [RBI_LT_DISCOUNTED_USAGE] = {P, P, P},
    [RBI_LT_SP_COVERED] = {P, P, P},   [RBI_LT_SP_NEGATION] = {H, P, H},
    [RBI_LT_SP_UPFRONT] = {H, P, H},   [RBI_LT_FEE] = {H, P, H},
    [RBI_LT_SP_RECURRING] = {H, P, P}, [RBI_LT_RI_FEE] = {H, P, P},
    [RBI_LT_CREDIT] = {H, S, S},       [RBI_LT_REFUND] = {H, S, S},
    [RBI_LT_TAX] = {H, S, S},          [RBI_LT_BUNDLED] = {H, S, S},
    [RBI_LT_ADJUSTMENT] = {H, S, S},   [RBI_LT_EDP] = {H, H, H},
    [RBI_LT_PRIVATE_RATE] = {H, H, H}, [RBI_LT_SPP] = {H, H, H},
    [RBI_LT_DISTRIBUTOR] = {H, H, H},  [RBI_LT_PURCHASE] = {H, P, P},
    [RBI_LT_SUPPORT] = {H, P, P},      [RBI_LT_OTHER] = {H, P, P},
#undef P
#undef S
#undef H
};

enum rbi_action rbi_policy_default(enum rbi_base base, enum rbi_ltype t)
{
    if ((unsigned)base > RBI_BASE_EFFECTIVE)
        return RBI_ACT_HIDE; /* no base, no price: show nothing rather than guess */
    if ((unsigned)t >= RBI_LT__COUNT)
        t = RBI_LT_OTHER;
    return (enum rbi_action)policy[t][base];
}

/* {===================================================================================
 * Months in force, exchange rates
 * =================================================================================== */

bool rbi_item_in_force(const struct rbi_item *it, int month)
{
    int every = it->every < 1 ? 1 : it->every;

    if (month < it->from)
        return false;
    if (it->to != RB_MONTH_OPEN && month > it->to)
        return false;
    return ((int64_t)month - it->from) % every == 0;
}

bool rbi_plan_fx_rate(const struct rbi_plan *p, int month, rb_dec *rate)
{
    if (!p->has_fx) {
        *rate = rb_dec_from_int(1);
        return true;
    }
    /* At most RBI_FX_MAX rates, looked up once per run. */
    for (int i = 0; i < p->nfx; i++)
        if (p->fx[i].month == month) {
            *rate = p->fx[i].rate;
            return true;
        }
    return false;
}

/* {===================================================================================
 * The scope index
 *
 * A rule's scope is one of seven kinds, tried from the most specific (docs/rules.md, "Rules
 * and scopes"). Each rule but the global one sits in one open-addressing table (linear
 * probing, at most half full) under a hash of its kind and its scope's strings; a slot keeps
 * the hash and the rule's index, and a hit is confirmed by comparing the strings, so a hash
 * collision costs a probe, never a wrong rule. A line is looked up once per kind present in
 * the plan (`scope_kinds`), so a match costs at most six probe sequences whatever the number
 * of rules, and the line's usage type is hashed once for the four SKU kinds.
 * =================================================================================== */

enum scope_kind {
    SCOPE_SKU_UOS = 0, /* usage type + operation + service */
    SCOPE_SKU_UO,      /* usage type + operation */
    SCOPE_SKU_US,      /* usage type + service */
    SCOPE_SKU_U,       /* usage type */
    SCOPE_SERVICE,
    SCOPE_ENTITY,
    SCOPE_GLOBAL
};

static enum scope_kind scope_kind_of(const struct rbi_rule *r)
{
    if (r->usage_type) {
        if (r->operation)
            return r->service ? SCOPE_SKU_UOS : SCOPE_SKU_UO;
        return r->service ? SCOPE_SKU_US : SCOPE_SKU_U;
    }
    if (r->service)
        return SCOPE_SERVICE;
    if (r->entity)
        return SCOPE_ENTITY;
    return SCOPE_GLOBAL;
}

/* FNV-1a over a field, then a 0 byte (fields never contain one) so that fields cannot run
 * into each other: ("AB", "C") and ("A", "BC") hash apart. */
#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t hash_field(uint64_t h, const char *s)
{
    if (s)
        for (; *s; s++)
            h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h * FNV_PRIME; /* the 0 byte: h ^ 0 == h */
}

/* The slot hash of a kind over the fields' running hash: the kind is mixed in last, then the
 * bits are spread (murmur3's finalizer) so that the low bits the table uses depend on all. */
static uint64_t hash_kind(uint64_t h, enum scope_kind k)
{
    h ^= ((uint64_t)k + 1) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The hash of a scope; the SKU fields are hashed in the order usage type, operation,
 * service, as rbi_plan_match does. */
static uint64_t scope_hash(enum scope_kind k, const char *service, const char *entity,
                           const char *usage_type, const char *operation)
{
    uint64_t h = FNV_BASIS;

    switch (k) {
    case SCOPE_SKU_UOS:
        h = hash_field(hash_field(hash_field(h, usage_type), operation), service);
        break;
    case SCOPE_SKU_UO:
        h = hash_field(hash_field(h, usage_type), operation);
        break;
    case SCOPE_SKU_US:
        h = hash_field(hash_field(h, usage_type), service);
        break;
    case SCOPE_SKU_U:
        h = hash_field(h, usage_type);
        break;
    case SCOPE_SERVICE:
        h = hash_field(h, service);
        break;
    case SCOPE_ENTITY:
        h = hash_field(h, entity);
        break;
    case SCOPE_GLOBAL:
        break;
    }
    return hash_kind(h, k);
}

static bool same(const char *rule_field, const char *line_field)
{
    return strcmp(rule_field, line_field ? line_field : "") == 0;
}

/* Whether rule r has scope kind k over these fields. */
static bool scope_is(const struct rbi_rule *r, enum scope_kind k, const char *service,
                     const char *entity, const char *usage_type, const char *operation)
{
    if (scope_kind_of(r) != k)
        return false;
    switch (k) {
    case SCOPE_SKU_UOS:
        return same(r->usage_type, usage_type) && same(r->operation, operation) &&
               same(r->service, service);
    case SCOPE_SKU_UO:
        return same(r->usage_type, usage_type) && same(r->operation, operation);
    case SCOPE_SKU_US:
        return same(r->usage_type, usage_type) && same(r->service, service);
    case SCOPE_SKU_U:
        return same(r->usage_type, usage_type);
    case SCOPE_SERVICE:
        return same(r->service, service);
    case SCOPE_ENTITY:
        return same(r->entity, entity);
    case SCOPE_GLOBAL:
        return true;
    }
    return false;
}

/* The slot holding the rule of scope (k, fields) with hash h, or the empty slot where it
 * would go. The table is never full (at most half), so the probe ends. */
static struct rbi_scope_slot *probe(struct rbi_scope_slot *index, size_t mask,
                                    const struct rbi_rule *rules, uint64_t h, enum scope_kind k,
                                    const char *service, const char *entity, const char *usage_type,
                                    const char *operation)
{
    size_t i = (size_t)h & mask;

    for (;;) {
        struct rbi_scope_slot *s = &index[i];
        if (s->rule < 0)
            return s;
        if (s->h == h && scope_is(&rules[s->rule], k, service, entity, usage_type, operation))
            return s;
        i = (i + 1) & mask;
    }
}

static const char *where_of(const char *w)
{
    return w && *w ? w : "(plan)";
}

static rb_status duplicate(const struct rbi_rule *first, const struct rbi_rule *second,
                           rb_error *err)
{
    char scope[4 * 260];

    if (scope_kind_of(second) == SCOPE_GLOBAL)
        return rbi_error_set(err, RB_INVALID, "%s: a second global rule (the first is at %s)",
                             where_of(second->where), where_of(first->where));
    rbi_rule_scope_text(second, scope, sizeof(scope));
    return rbi_error_set(err, RB_INVALID, "%s: a second rule for %s (the first is at %s)",
                         where_of(second->where), scope, where_of(first->where));
}

rb_status rbi_plan_finish(struct rbi_plan *p, rb_error *err)
{
    struct rbi_scope_slot *index = NULL;
    size_t cap = 0, mask = 0;
    unsigned kinds = 0;
    int global = -1;

    if (p->finished)
        return RB_OK;
    if (p->nrules > 0) {
        /* a power of two at least twice the rules: probes stay short */
        cap = 16;
        while (cap < 2 * (size_t)p->nrules)
            cap *= 2;
        index = rbi_malloc(cap * sizeof(*index));
        if (!index)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        for (size_t i = 0; i < cap; i++) {
            index[i].h = 0;
            index[i].rule = -1;
        }
        mask = cap - 1;
    }
    for (int i = 0; i < p->nrules; i++) {
        const struct rbi_rule *r = &p->rules[i];
        enum scope_kind k = scope_kind_of(r);
        struct rbi_scope_slot *s;
        uint64_t h;

        if (k == SCOPE_GLOBAL) {
            if (global >= 0) {
                rbi_free(index);
                return duplicate(&p->rules[global], r, err);
            }
            global = i;
            continue;
        }
        h = scope_hash(k, r->service, r->entity, r->usage_type, r->operation);
        s = probe(index, mask, p->rules, h, k, r->service, r->entity, r->usage_type, r->operation);
        if (s->rule >= 0) {
            rb_status rc = duplicate(&p->rules[s->rule], r, err);
            rbi_free(index);
            return rc;
        }
        s->h = h;
        s->rule = i;
        kinds |= 1u << k;
    }
    rbi_free(p->index);
    p->index = index;
    p->index_mask = mask;
    p->scope_kinds = kinds;
    p->global = global;
    p->finished = true;
    return RB_OK;
}

/* The rule of scope kind k for the line whose fields hash (before the kind) to h, or -1. */
static int lookup(const struct rbi_plan *p, uint64_t h, enum scope_kind k, const char *service,
                  const char *entity, const char *usage_type, const char *operation)
{
    const struct rbi_scope_slot *s;

    if (!(p->scope_kinds & (1u << k)))
        return -1;
    h = hash_kind(h, k);
    s = probe(p->index, p->index_mask, p->rules, h, k, service, entity, usage_type, operation);
    return s->rule;
}

int rbi_plan_match(const struct rbi_plan *p, const char *service, const char *entity,
                   const char *usage_type, const char *operation)
{
    const unsigned sku =
        1u << SCOPE_SKU_UOS | 1u << SCOPE_SKU_UO | 1u << SCOPE_SKU_US | 1u << SCOPE_SKU_U;
    int rule;

    if (!RB_ALWAYS(p->finished))
        return -1;
    if (p->scope_kinds & sku) {
        uint64_t hu = hash_field(FNV_BASIS, usage_type);
        uint64_t huo = hash_field(hu, operation);

        rule = lookup(p, hash_field(huo, service), SCOPE_SKU_UOS, service, entity, usage_type,
                      operation);
        if (rule < 0)
            rule = lookup(p, huo, SCOPE_SKU_UO, service, entity, usage_type, operation);
        if (rule < 0)
            rule = lookup(p, hash_field(hu, service), SCOPE_SKU_US, service, entity, usage_type,
                          operation);
        if (rule < 0)
            rule = lookup(p, hu, SCOPE_SKU_U, service, entity, usage_type, operation);
        if (rule >= 0)
            return rule;
    }
    rule = lookup(p, hash_field(FNV_BASIS, service), SCOPE_SERVICE, service, entity, usage_type,
                  operation);
    if (rule < 0)
        rule = lookup(p, hash_field(FNV_BASIS, entity), SCOPE_ENTITY, service, entity, usage_type,
                      operation);
    return rule >= 0 ? rule : p->global;
}

void rbi_rule_scope_text(const struct rbi_rule *r, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    switch (scope_kind_of(r)) {
    case SCOPE_SKU_UOS:
        snprintf(buf, size, "SKU %s / %s / %s", r->service, r->usage_type, r->operation);
        break;
    case SCOPE_SKU_UO:
        snprintf(buf, size, "SKU %s / %s", r->usage_type, r->operation);
        break;
    case SCOPE_SKU_US:
        snprintf(buf, size, "SKU %s / %s", r->service, r->usage_type);
        break;
    case SCOPE_SKU_U:
        snprintf(buf, size, "SKU %s", r->usage_type);
        break;
    case SCOPE_SERVICE:
        snprintf(buf, size, "service %s", r->service);
        break;
    case SCOPE_ENTITY:
        snprintf(buf, size, "billing entity %s", r->entity);
        break;
    case SCOPE_GLOBAL:
        snprintf(buf, size, "global");
        break;
    }
}

/* {===================================================================================
 * Ladders
 * =================================================================================== */

/* r = a / 100, exact: the same digits two places further right. When that needs a scale
 * above the maximum, the value's trailing zeros make room or the result does not fit. */
static rb_status hundredth(rb_dec *r, const rb_dec *a)
{
    rb_dec hundred = rb_dec_from_int(100), v = *a;

    if (v.scale + 2 > RB_DEC_MAX_SCALE)
        v = rb_dec_normalize(&v);
    if (v.scale + 2 > RB_DEC_MAX_SCALE)
        return RB_OVERFLOW;
    return rb_dec_div(r, &v, &hundred, v.scale + 2, RB_ROUND_HALF_EVEN);
}

/* Whether q is within tier i's bound: the last tier and an open one take everything. */
static bool within(const struct rbi_tier *t, int n, int i, const rb_dec *q)
{
    return i == n - 1 || t[i].open || rb_dec_cmp(q, &t[i].upto) <= 0;
}

rb_status rbi_tiers_apply(const struct rbi_tier *t, int n, bool volume, bool percent,
                          const rb_dec *qty, rb_dec *out)
{
    rb_dec sum, prev, part, amt;
    rb_status rc;

    if (!t || n < 1 || !qty || !out)
        return RB_MISUSE;
    /* Zero and below fall in the first tier (every `upto` is above 0): zero costs nothing,
     * a negative quantity runs the first tier backwards. */
    if (volume) {
        int i = 0;
        while (!within(t, n, i, qty))
            i++;
        rc = rb_dec_mul(&sum, qty, &t[i].value);
    } else {
        sum = rb_dec_zero();
        prev = rb_dec_zero();
        rc = RB_OK;
        for (int i = 0; i < n && rc == RB_OK; i++) {
            bool last = within(t, n, i, qty);
            rc = rb_dec_sub(&part, last ? qty : &t[i].upto, &prev);
            if (rc == RB_OK)
                rc = rb_dec_mul(&amt, &part, &t[i].value);
            if (rc == RB_OK)
                rc = rb_dec_add(&sum, &sum, &amt);
            if (last)
                break;
            prev = t[i].upto;
        }
    }
    if (rc == RB_OK && percent)
        rc = hundredth(&sum, &sum);
    if (rc != RB_OK)
        return rc; /* RB_OVERFLOW: the exact amount does not fit */
    *out = sum;
    return RB_OK;
}
