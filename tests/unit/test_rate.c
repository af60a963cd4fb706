/*
 * test_rate.c -- the pricing core of rate.c, function by function, against figures worked
 * out by hand from docs/rules.md: line type names and the default pass-through policy of
 * every line type under every base, support services, months an item is in force (edges,
 * `every`), exchange rates, the scope index (every precedence pair, near misses, duplicate
 * scopes refused with both file:line, a plan of RBI_RULES_MAX rules, no allocation per
 * match), scope texts, and ladders (every tier boundary, graduated and volume, percents, zero
 * and negative quantities, overflow).
 *
 * Written before rate.c, from the spec; the arithmetic is in the comments.
 */
#include "harness.h"
#include "plan.h"

#include <stdlib.h>

static rb_dec D(const char *s)
{
    rb_dec d = rb_dec_zero();

    if (rb_dec_parse(&d, s, strlen(s), NULL) != RB_OK)
        fprintf(stderr, "bad decimal in test: %s\n", s);
    return d;
}

static int M(const char *s)
{
    int m = -1;

    if (rb_month_parse(&m, s, NULL) != RB_OK)
        fprintf(stderr, "bad month in test: %s\n", s);
    return m;
}

/* A decimal as text without trailing fraction zeros ("1150.000" -> "1150"). */
static const char *text(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;

    k = (k + 1) % 8;
    d = rb_dec_normalize(&d);
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

/* 10^e as decimal text, -38 <= e <= 38: "1000", "0.001". */
static const char *ten_to(int e)
{
    static char buf[4][64];
    static int k;
    char *b;
    int i = 0;

    k = (k + 1) % 4;
    b = buf[k];
    if (e >= 0) {
        b[i++] = '1';
        while (e-- > 0)
            b[i++] = '0';
    } else {
        b[i++] = '0';
        b[i++] = '.';
        while (++e < 0)
            b[i++] = '0';
        b[i++] = '1';
    }
    b[i] = '\0';
    return b;
}

/* {===================================================================================
 * Line types and the default policy
 * =================================================================================== */

/* The policy names, in enum order (docs/rules.md "Pass-through policy"). */
static const char *const names[RBI_LT__COUNT] = {"Usage",
                                                 "DiscountedUsage",
                                                 "SavingsPlanCoveredUsage",
                                                 "SavingsPlanNegation",
                                                 "SavingsPlanUpfrontFee",
                                                 "SavingsPlanRecurringFee",
                                                 "RIFee",
                                                 "Fee",
                                                 "Credit",
                                                 "Refund",
                                                 "Tax",
                                                 "BundledDiscount",
                                                 "EdpDiscount",
                                                 "PrivateRateDiscount",
                                                 "SppDiscount",
                                                 "DistributorDiscount",
                                                 "Purchase",
                                                 "Adjustment",
                                                 "Support",
                                                 "*"};

static void test_ltype_names(void)
{
    for (int t = 0; t < RBI_LT__COUNT; t++) {
        STR_EQ(rbi_ltype_name((enum rbi_ltype)t), names[t]);
        INT_EQ(rbi_ltype_find(names[t]), t);
    }
    /* exact names only */
    INT_EQ(rbi_ltype_find("usage"), -1);
    INT_EQ(rbi_ltype_find("USAGE"), -1);
    INT_EQ(rbi_ltype_find("Usage "), -1);
    INT_EQ(rbi_ltype_find(" Usage"), -1);
    INT_EQ(rbi_ltype_find("Use"), -1);
    INT_EQ(rbi_ltype_find("UsageX"), -1);
    INT_EQ(rbi_ltype_find("Credits"), -1);
    INT_EQ(rbi_ltype_find(""), -1);
    INT_EQ(rbi_ltype_find("**"), -1);
    INT_EQ(rbi_ltype_find(NULL), -1);
    /* a value outside the enum names no real type: "*" (any other) */
    STR_EQ(rbi_ltype_name(RBI_LT__COUNT), "*");
    STR_EQ(rbi_ltype_name((enum rbi_ltype) - 1), "*");
}

static void test_classify(void)
{
    static const char *const support[] = {"AWSSupportBusiness",
                                          "AWSSupportEnterprise",
                                          "AWSDeveloperSupport",
                                          "AWSSupportEnterpriseOnRamp",
                                          "OCBPremiumSupport",
                                          "AWS Support (Business)",
                                          "AWS Support (Developer)",
                                          "AWS Support (Enterprise)",
                                          "AWS Support (Enterprise On-Ramp)"};
    static const char *const not_support[] = {"AmazonEC2",
                                              "awssupportbusiness",
                                              "AWSSupportBusiness ",
                                              "AWSSupportBusinessX",
                                              "AWSSupport",
                                              "Support",
                                              "",
                                              "AWSSupportBusines"};

    /* every CUR line type of an ordinary service is itself */
    for (int t = 0; t < RBI_LT_SUPPORT; t++)
        INT_EQ(rbi_ltype_classify(names[t], "AmazonEC2"), t);
    /* the pseudo types and unknown types are "any other" */
    INT_EQ(rbi_ltype_classify("Support", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("*", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("SomethingNew", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("usage", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify(NULL, "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("Usage", NULL), RBI_LT_USAGE);
    INT_EQ(rbi_ltype_classify(NULL, NULL), RBI_LT_OTHER);
    /* support services: "Support" whatever the line type, except tax, credits and refunds */
    for (size_t s = 0; s < RB_COUNTOF(support); s++) {
        for (int t = 0; t < RBI_LT_SUPPORT; t++) {
            int want =
                t == RBI_LT_TAX || t == RBI_LT_CREDIT || t == RBI_LT_REFUND ? t : RBI_LT_SUPPORT;
            INT_EQ(rbi_ltype_classify(names[t], support[s]), want);
        }
        INT_EQ(rbi_ltype_classify("SomethingNew", support[s]), RBI_LT_SUPPORT);
        INT_EQ(rbi_ltype_classify("Support", support[s]), RBI_LT_SUPPORT);
        INT_EQ(rbi_ltype_classify(NULL, support[s]), RBI_LT_SUPPORT);
    }
    /* near misses are ordinary services */
    for (size_t s = 0; s < RB_COUNTOF(not_support); s++) {
        INT_EQ(rbi_ltype_classify("Fee", not_support[s]), RBI_LT_FEE);
        INT_EQ(rbi_ltype_classify("Usage", not_support[s]), RBI_LT_USAGE);
    }
}

#define P RBI_ACT_PRICE
#define S RBI_ACT_PASS
#define H RBI_ACT_HIDE

static void test_policy_default(void)
{
    /* docs/rules.md, the table of "Pass-through policy": list, billed, effective */
    static const unsigned char want[RBI_LT__COUNT][3] = {
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
    };
    static const enum rbi_base bases[3] = {RBI_BASE_LIST, RBI_BASE_BILLED, RBI_BASE_EFFECTIVE};

    for (int b = 0; b < 3; b++) {
        struct rbi_plan *p = NULL;

        for (int t = 0; t < RBI_LT__COUNT; t++)
            OK(rbi_policy_default(bases[b], (enum rbi_ltype)t) == want[t][b],
               "base %d, %s: got %d, want %d", b, names[t],
               (int)rbi_policy_default(bases[b], (enum rbi_ltype)t), want[t][b]);
        /* a new plan starts from these defaults */
        INT_EQ(rbi_plan_new(&p, bases[b], "defaults"), RB_OK);
        for (int t = 0; p && t < RBI_LT__COUNT; t++)
            INT_EQ(p->action[t], want[t][b]);
        rbi_plan_free(p);
    }
    /* out of the enum: a line type is "any other"; an unknown base decides nothing: hide */
    INT_EQ(rbi_policy_default(RBI_BASE_BILLED, RBI_LT__COUNT), RBI_ACT_PRICE);
    INT_EQ(rbi_policy_default(RBI_BASE_LIST, (enum rbi_ltype) - 1), RBI_ACT_HIDE);
    INT_EQ(rbi_policy_default((enum rbi_base)7, RBI_LT_USAGE), RBI_ACT_HIDE);
}

#undef P
#undef S
#undef H

/* {===================================================================================
 * Months in force, exchange rates
 * =================================================================================== */

static struct rbi_item item_months(int from, int to, int every)
{
    struct rbi_item it;

    memset(&it, 0, sizeof(it));
    it.kind = RBI_ITEM_FEE;
    it.from = from;
    it.to = to;
    it.every = every;
    return it;
}

static void test_in_force(void)
{
    struct rbi_item it;

    /* no period: every month */
    it = item_months(0, RB_MONTH_OPEN, 1);
    OK(rbi_item_in_force(&it, 0), "month 0");
    OK(rbi_item_in_force(&it, M("2026-11")), "2026-11");
    OK(rbi_item_in_force(&it, M("9999-12")), "9999-12");
    /* period = "2026-03": that month only */
    it = item_months(M("2026-03"), M("2026-03"), 1);
    OK(!rbi_item_in_force(&it, M("2026-02")), "before");
    OK(rbi_item_in_force(&it, M("2026-03")), "the month");
    OK(!rbi_item_in_force(&it, M("2026-04")), "after");
    /* from/to inclusive */
    it = item_months(M("2026-03"), M("2026-06"), 1);
    OK(!rbi_item_in_force(&it, M("2026-02")), "month before from");
    OK(rbi_item_in_force(&it, M("2026-03")), "from");
    OK(rbi_item_in_force(&it, M("2026-05")), "inside");
    OK(rbi_item_in_force(&it, M("2026-06")), "to");
    OK(!rbi_item_in_force(&it, M("2026-07")), "month after to");
    /* open start (to only) and open end (from only), across a year */
    it = item_months(0, M("2026-02"), 1);
    OK(rbi_item_in_force(&it, M("2025-12")), "open start");
    OK(rbi_item_in_force(&it, M("2026-02")), "to");
    OK(!rbi_item_in_force(&it, M("2026-03")), "after to");
    it = item_months(M("2026-06"), RB_MONTH_OPEN, 1);
    OK(!rbi_item_in_force(&it, M("2026-05")), "before from");
    OK(rbi_item_in_force(&it, M("2026-06")), "from");
    OK(rbi_item_in_force(&it, M("2040-01")), "open end");
    /* every 3 months from 2026-01: 01, 04, 07, 10, then 2027-01 */
    it = item_months(M("2026-01"), RB_MONTH_OPEN, 3);
    OK(rbi_item_in_force(&it, M("2026-01")), "quarterly: from");
    OK(!rbi_item_in_force(&it, M("2026-02")), "quarterly: 02");
    OK(!rbi_item_in_force(&it, M("2026-03")), "quarterly: 03");
    OK(rbi_item_in_force(&it, M("2026-04")), "quarterly: 04");
    OK(rbi_item_in_force(&it, M("2026-10")), "quarterly: 10");
    OK(!rbi_item_in_force(&it, M("2026-12")), "quarterly: 12");
    OK(rbi_item_in_force(&it, M("2027-01")), "quarterly: next year");
    /* a month before `from` on the cadence is not in force (no negative remainder) */
    OK(!rbi_item_in_force(&it, M("2025-10")), "quarterly: before from");
    OK(!rbi_item_in_force(&it, M("2025-11")), "quarterly: before from");
    /* every 2 from 2026-01 to 2026-04: 01, 03 (04 is the `to` but off the cadence) */
    it = item_months(M("2026-01"), M("2026-04"), 2);
    OK(rbi_item_in_force(&it, M("2026-01")), "every 2: 01");
    OK(!rbi_item_in_force(&it, M("2026-02")), "every 2: 02");
    OK(rbi_item_in_force(&it, M("2026-03")), "every 2: 03");
    OK(!rbi_item_in_force(&it, M("2026-04")), "every 2: 04 off cadence");
    OK(!rbi_item_in_force(&it, M("2026-05")), "every 2: 05 past to");
    /* every 3 up to 2026-07: the `to` month on the cadence is in force, the next one not */
    it = item_months(M("2026-01"), M("2026-07"), 3);
    OK(rbi_item_in_force(&it, M("2026-07")), "every 3: to on cadence");
    OK(!rbi_item_in_force(&it, M("2026-10")), "every 3: past to");
    /* yearly from November */
    it = item_months(M("2026-11"), RB_MONTH_OPEN, 12);
    OK(rbi_item_in_force(&it, M("2027-11")), "yearly");
    OK(!rbi_item_in_force(&it, M("2027-10")), "yearly: 10");
    OK(!rbi_item_in_force(&it, M("2027-12")), "yearly: 12");
    /* every 120 (the largest plan.c accepts) */
    it = item_months(M("2026-01"), RB_MONTH_OPEN, 120);
    OK(rbi_item_in_force(&it, M("2036-01")), "every 120");
    OK(!rbi_item_in_force(&it, M("2031-01")), "every 120: half way");
    /* defensive: every below 1 means every month; to before from is never */
    it = item_months(M("2026-01"), RB_MONTH_OPEN, 0);
    OK(rbi_item_in_force(&it, M("2026-02")), "every 0 as 1");
    it = item_months(M("2026-05"), M("2026-03"), 1);
    OK(!rbi_item_in_force(&it, M("2026-04")), "to before from");
    OK(!rbi_item_in_force(&it, M("2026-05")), "to before from");
}

static void test_fx_rate(void)
{
    struct rbi_plan *p = NULL;
    rb_error err;
    rb_dec r, rate;

    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "fx"), RB_OK);
    if (!p)
        return;
    /* no conversion: 1 in every month */
    r = D("7");
    OK(rbi_plan_fx_rate(p, M("2026-11"), &r), "no fx");
    STR_EQ(text(r), "1");
    OK(rbi_plan_fx_rate(p, 0, &r), "no fx, month 0");
    STR_EQ(text(r), "1");
    /* converting: the month's own rate, or none */
    p->has_fx = true;
    memcpy(p->fx_code, "EUR", 4);
    rate = D("0.9");
    INT_EQ(rbi_plan_add_fx(p, M("2026-11"), &rate, &err), RB_OK);
    rate = D("0.9512345678");
    INT_EQ(rbi_plan_add_fx(p, M("2026-12"), &rate, &err), RB_OK);
    rate = D("1.1");
    INT_EQ(rbi_plan_add_fx(p, M("2025-01"), &rate, &err), RB_OK);
    OK(rbi_plan_fx_rate(p, M("2026-11"), &r), "2026-11");
    STR_EQ(text(r), "0.9");
    OK(rbi_plan_fx_rate(p, M("2026-12"), &r), "2026-12");
    STR_EQ(text(r), "0.9512345678");
    OK(rbi_plan_fx_rate(p, M("2025-01"), &r), "2025-01");
    STR_EQ(text(r), "1.1");
    /* a month without a rate: false, and the output is left alone (no guess from a
     * neighbouring month) */
    r = D("42");
    OK(!rbi_plan_fx_rate(p, M("2027-01"), &r), "2027-01 has no rate");
    STR_EQ(text(r), "42");
    OK(!rbi_plan_fx_rate(p, M("2026-10"), &r), "2026-10 has no rate");
    STR_EQ(text(r), "42");
    /* converting with no rates at all */
    p->nfx = 0;
    OK(!rbi_plan_fx_rate(p, M("2026-11"), &r), "no rates");
    rbi_plan_free(p);
}

/* {===================================================================================
 * Scopes
 * =================================================================================== */

/* Scope kinds in precedence order, docs/rules.md "Rules and scopes". */
enum {
    K_SKU_UOS = 0, /* usage type + operation + service */
    K_SKU_UO,      /* usage type + operation */
    K_SKU_US,      /* usage type + service */
    K_SKU_U,       /* usage type */
    K_SERVICE,
    K_ENTITY,
    K_GLOBAL,
    K__COUNT
};

static struct rbi_rule pct_rule(const char *svc, const char *ent, const char *ut, const char *op,
                                const char *where)
{
    struct rbi_rule r;

    memset(&r, 0, sizeof(r));
    r.kind = RBI_RULE_PERCENT;
    r.service = svc;
    r.entity = ent;
    r.usage_type = ut;
    r.operation = op;
    r.percent = D("5");
    snprintf(r.where, sizeof(r.where), "%s", where);
    return r;
}

/* A rule of scope kind k over the line (service S, entity E, usage type U, operation O). */
static struct rbi_rule kind_rule(int k, const char *where)
{
    switch (k) {
    case K_SKU_UOS:
        return pct_rule("S", NULL, "U", "O", where);
    case K_SKU_UO:
        return pct_rule(NULL, NULL, "U", "O", where);
    case K_SKU_US:
        return pct_rule("S", NULL, "U", NULL, where);
    case K_SKU_U:
        return pct_rule(NULL, NULL, "U", NULL, where);
    case K_SERVICE:
        return pct_rule("S", NULL, NULL, NULL, where);
    case K_ENTITY:
        return pct_rule(NULL, "E", NULL, NULL, where);
    default:
        return pct_rule(NULL, NULL, NULL, NULL, where);
    }
}

static const char *const kind_text[K__COUNT] = {
    "SKU S / U / O", "SKU U / O", "SKU S / U", "SKU U", "service S", "billing entity E", "global"};

static struct rbi_plan *plan_of(const int *kinds, int n)
{
    struct rbi_plan *p = NULL;
    rb_error err;

    if (rbi_plan_new(&p, RBI_BASE_LIST, "scopes") != RB_OK)
        return NULL;
    for (int i = 0; i < n; i++) {
        char w[32];
        struct rbi_rule r;
        snprintf(w, sizeof(w), "t.lua:%d", i + 1);
        r = kind_rule(kinds[i], w);
        if (rbi_plan_add_rule(p, &r, &err) != RB_OK)
            fprintf(stderr, "add_rule: %s\n", err.msg);
    }
    if (rbi_plan_finish(p, &err) != RB_OK) {
        fprintf(stderr, "finish: %s\n", err.msg);
        rbi_plan_free(p);
        return NULL;
    }
    return p;
}

/* Every pair of scope kinds, added in both orders: the more specific one wins a line both
 * match; a line only the less specific one matches gets that one. */
static void test_precedence_pairs(void)
{
    for (int a = 0; a < K__COUNT; a++) {
        for (int b = a + 1; b < K__COUNT; b++) {
            for (int order = 0; order < 2; order++) {
                int kinds[2] = {order ? b : a, order ? a : b};
                int ia = order ? 1 : 0; /* where rule a went */
                struct rbi_plan *p = plan_of(kinds, 2);
                OK(p != NULL, "pair %d %d", a, b);
                if (!p)
                    continue;
                OK(rbi_plan_match(p, "S", "E", "U", "O") == ia, "%s beats %s (order %d): got %d",
                   kind_text[a], kind_text[b], order, rbi_plan_match(p, "S", "E", "U", "O"));
                rbi_plan_free(p);
            }
        }
    }
    /* all seven together, added least specific first: peel them off one field at a time */
    {
        int kinds[K__COUNT] = {K_GLOBAL, K_ENTITY, K_SERVICE, K_SKU_U,
                               K_SKU_US, K_SKU_UO, K_SKU_UOS};
        struct rbi_plan *p = plan_of(kinds, K__COUNT);
        OK(p != NULL, "seven kinds");
        if (p) {
            INT_EQ(rbi_plan_match(p, "S", "E", "U", "O"), 6);  /* SKU U+O+S */
            INT_EQ(rbi_plan_match(p, "T", "E", "U", "O"), 5);  /* SKU U+O */
            INT_EQ(rbi_plan_match(p, "S", "E", "U", "P"), 4);  /* SKU U+S */
            INT_EQ(rbi_plan_match(p, "S", "E", "U", ""), 4);   /* no operation */
            INT_EQ(rbi_plan_match(p, "S", "E", "U", NULL), 4); /* no operation */
            INT_EQ(rbi_plan_match(p, "T", "E", "U", "P"), 3);  /* SKU U */
            INT_EQ(rbi_plan_match(p, "S", "E", "V", "O"), 2);  /* service */
            INT_EQ(rbi_plan_match(p, "S", "F", "V", "O"), 2);  /* service beats entity */
            INT_EQ(rbi_plan_match(p, "T", "E", "V", "O"), 1);  /* entity */
            INT_EQ(rbi_plan_match(p, "T", "F", "V", "O"), 0);  /* global */
            INT_EQ(rbi_plan_match(p, NULL, NULL, NULL, NULL), 0);
            INT_EQ(p->global, 0);
            rbi_plan_free(p);
        }
    }
}

/* One rule of each kind alone: it matches exactly the lines that agree on its fields. */
static void test_scope_fields(void)
{
    /* which of service, entity, usage type, operation each kind looks at */
    static const char uses[K__COUNT][4] = {{1, 0, 1, 1}, {0, 0, 1, 1}, {1, 0, 1, 0}, {0, 0, 1, 0},
                                           {1, 0, 0, 0}, {0, 1, 0, 0}, {0}};

    for (int k = 0; k < K__COUNT; k++) {
        struct rbi_plan *p = plan_of(&k, 1);
        OK(p != NULL, "kind %d", k);
        if (!p)
            continue;
        INT_EQ(rbi_plan_match(p, "S", "E", "U", "O"), 0);
        /* change one field: still matched unless the kind looks at it */
        INT_EQ(rbi_plan_match(p, "S2", "E", "U", "O"), uses[k][0] ? -1 : 0);
        INT_EQ(rbi_plan_match(p, "S", "E2", "U", "O"), uses[k][1] ? -1 : 0);
        INT_EQ(rbi_plan_match(p, "S", "E", "U2", "O"), uses[k][2] ? -1 : 0);
        INT_EQ(rbi_plan_match(p, "S", "E", "U", "O2"), uses[k][3] ? -1 : 0);
        /* case matters; a prefix is not a match; empty and NULL fields match no value */
        INT_EQ(rbi_plan_match(p, "s", "e", "u", "o"), k == K_GLOBAL ? 0 : -1);
        INT_EQ(rbi_plan_match(p, "", "", "", ""), k == K_GLOBAL ? 0 : -1);
        INT_EQ(rbi_plan_match(p, NULL, NULL, NULL, NULL), k == K_GLOBAL ? 0 : -1);
        INT_EQ(rbi_plan_match(p, "SS", "EE", "UU", "OO"), k == K_GLOBAL ? 0 : -1);
        INT_EQ(p->global, k == K_GLOBAL ? 0 : -1);
        rbi_plan_free(p);
    }
}

/* Fields are kept apart: moving a character from one field to the next, or a value from one
 * field to another, is another scope. */
static void test_scope_near_misses(void)
{
    struct rbi_plan *p = NULL;
    struct rbi_rule r;
    rb_error err;

    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "near"), RB_OK);
    if (!p)
        return;
    r = pct_rule(NULL, NULL, "AB", "C", "t:1"); /* 0 */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct_rule("X", NULL, "U", NULL, "t:2"); /* 1: usage type U of service X */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct_rule("AmazonEC2", NULL, NULL, NULL, "t:3"); /* 2 */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    /* the same text in two kinds is two scopes, not a duplicate */
    r = pct_rule(NULL, "AmazonEC2", NULL, NULL, "t:4"); /* 3: an entity named like a service */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct_rule(NULL, NULL, "U", "X", "t:5"); /* 4: usage type U, operation X */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);

    INT_EQ(rbi_plan_match(p, "T", "E", "AB", "C"), 0);
    INT_EQ(rbi_plan_match(p, "T", "E", "A", "BC"), -1);
    INT_EQ(rbi_plan_match(p, "T", "E", "ABC", ""), -1);
    INT_EQ(rbi_plan_match(p, "T", "E", "AB", "C "), -1);
    /* usage type U: with service X it is rule 1, with operation X rule 4 */
    INT_EQ(rbi_plan_match(p, "X", "E", "U", "Y"), 1);
    INT_EQ(rbi_plan_match(p, "T", "E", "U", "X"), 4);
    INT_EQ(rbi_plan_match(p, "X", "E", "U", "X"), 4); /* U+O beats U+S */
    INT_EQ(rbi_plan_match(p, "T", "X", "U", "Y"), -1);
    /* service AmazonEC2 and entity AmazonEC2 */
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "V", ""), 2);
    INT_EQ(rbi_plan_match(p, "AmazonS3", "AmazonEC2", "V", ""), 3);
    INT_EQ(rbi_plan_match(p, "AmazonS3", "AWS", "AmazonEC2", "AmazonEC2"), -1);
    rbi_plan_free(p);
}

/* Two rules for one scope: refused at finish, naming the second rule's position first and
 * the first rule's in the text; whatever the rules' kinds. */
static void test_duplicates(void)
{
    for (int k = 0; k < K__COUNT; k++) {
        int kinds[3] = {k, k, k};
        struct rbi_plan *p = NULL;
        char want[200];
        rb_error err;

        INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "dup"), RB_OK);
        if (!p)
            return;
        /* a rule of another kind between them changes nothing */
        for (int i = 0; i < 3; i++) {
            char w[32];
            struct rbi_rule r;
            snprintf(w, sizeof(w), "rules/dup.lua:%d", 10 * (i + 1));
            r = i == 1 ? kind_rule((k + 1) % K__COUNT, w) : kind_rule(kinds[i], w);
            INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
        }
        memset(&err, 0, sizeof(err));
        INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
        INT_EQ(err.code, RB_INVALID);
        if (k == K_GLOBAL)
            snprintf(want, sizeof(want),
                     "rules/dup.lua:30: a second global rule (the first is at rules/dup.lua:10)");
        else
            snprintf(want, sizeof(want),
                     "rules/dup.lua:30: a second rule for %s (the first is at rules/dup.lua:10)",
                     kind_text[k]);
        STR_EQ(err.msg, want);
        OK(!p->finished, "a refused plan is not finished");
        /* asked again, the same answer */
        INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
        STR_EQ(err.msg, want);
        /* no error struct: the status alone */
        INT_EQ(rbi_plan_finish(p, NULL), RB_INVALID);
        rbi_plan_free(p);
    }
    /* three rules for one scope: the second is reported against the first */
    {
        struct rbi_plan *p = NULL;
        struct rbi_rule r;
        rb_error err;
        INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "dup3"), RB_OK);
        if (!p)
            return;
        r = pct_rule("AmazonS3", NULL, NULL, NULL, "a.lua:1");
        rbi_plan_add_rule(p, &r, &err);
        r = pct_rule("AmazonS3", NULL, NULL, NULL, "a.lua:2");
        rbi_plan_add_rule(p, &r, &err);
        r = pct_rule("AmazonS3", NULL, NULL, NULL, "a.lua:3");
        rbi_plan_add_rule(p, &r, &err);
        INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
        STR_EQ(err.msg, "a.lua:2: a second rule for service AmazonS3 (the first is at a.lua:1)");
        rbi_plan_free(p);
    }
    /* a rate and a ladder for one SKU are two rules for one scope too */
    {
        struct rbi_plan *p = NULL;
        struct rbi_rule r;
        struct rbi_tier t[1] = {{rb_dec_zero(), true, D("0.5")}};
        rb_error err;
        INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "dup kinds"), RB_OK);
        if (!p)
            return;
        r = pct_rule("AmazonS3", NULL, "TimedStorage", NULL, "b.lua:4");
        r.kind = RBI_RULE_RATE;
        r.rate = D("0.02");
        INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
        r = pct_rule("AmazonS3", NULL, "TimedStorage", NULL, "b.lua:9");
        r.kind = RBI_RULE_TIERED;
        r.tiers = t;
        r.ntiers = 1;
        INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
        INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
        STR_EQ(err.msg,
               "b.lua:9: a second rule for SKU AmazonS3 / TimedStorage (the first is at b.lua:4)");
        rbi_plan_free(p);
    }
    /* rules without a position are named "(plan)" */
    {
        struct rbi_plan *p = NULL;
        struct rbi_rule r;
        rb_error err;
        INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "nowhere"), RB_OK);
        if (!p)
            return;
        r = pct_rule(NULL, "AWS Marketplace", NULL, NULL, "");
        rbi_plan_add_rule(p, &r, &err);
        rbi_plan_add_rule(p, &r, &err);
        INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
        STR_EQ(err.msg,
               "(plan): a second rule for billing entity AWS Marketplace (the first is at (plan))");
        rbi_plan_free(p);
    }
}

static void test_finish(void)
{
    struct rbi_plan *p = NULL;
    struct rbi_rule r;
    struct rbi_scope_slot *index;
    rb_error err;

    /* an empty plan: no rule for any line */
    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "empty"), RB_OK);
    if (!p)
        return;
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    OK(p->finished, "finished");
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "BoxUsage", "RunInstances"), -1);
    INT_EQ(p->global, -1);
    rbi_plan_free(p);

    /* a global rule alone prices everything */
    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "global"), RB_OK);
    if (!p)
        return;
    r = pct_rule(NULL, NULL, NULL, NULL, "g:1");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "BoxUsage", "RunInstances"), 0);
    INT_EQ(p->global, 0);
    rbi_plan_free(p);

    /* idempotent: a second finish keeps the index and answers the same */
    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "twice"), RB_OK);
    if (!p)
        return;
    r = pct_rule("AmazonEC2", NULL, NULL, NULL, "t:1");
    rbi_plan_add_rule(p, &r, &err);
    r = pct_rule(NULL, NULL, "BoxUsage:m5.large", NULL, "t:2");
    rbi_plan_add_rule(p, &r, &err);
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    index = p->index;
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    OK(p->index == index, "the index is built once");
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "BoxUsage:m5.large", ""), 1);
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "BoxUsage:t3.micro", ""), 0);
    /* a finished plan takes no more rules */
    r = pct_rule("AmazonS3", NULL, NULL, NULL, "t:3");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_MISUSE);
    rbi_plan_free(p);

    /* out of memory while building the index: RB_NOMEM, not finished; later it works */
    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "nomem"), RB_OK);
    if (!p)
        return;
    r = pct_rule("AmazonEC2", NULL, NULL, NULL, "t:1");
    rbi_plan_add_rule(p, &r, &err);
    rbi_alloc_fail_after(0);
    INT_EQ(rbi_plan_finish(p, &err), RB_NOMEM);
    rbi_alloc_fail_after(-1);
    STR_EQ(err.msg, "out of memory");
    OK(!p->finished, "not finished after RB_NOMEM");
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    INT_EQ(rbi_plan_match(p, "AmazonEC2", "AWS", "X", ""), 0);
    rbi_plan_free(p);
}

/* RBI_RULES_MAX rules of every kind: each line finds its own rule, without a scan. */
static void test_many_rules(void)
{
    struct rbi_plan *p = NULL;
    struct rbi_rule r;
    rb_error err;
    char s[64], u[64], o[64], e[64], w[64];
    int n = RBI_RULES_MAX - 1, bad = 0;
    long allocs;

    INT_EQ(rbi_plan_new(&p, RBI_BASE_LIST, "many"), RB_OK);
    if (!p)
        return;
    for (int i = 0; i < n; i++) {
        snprintf(s, sizeof(s), "svc-%d", i);
        snprintf(u, sizeof(u), "ut-%d", i);
        snprintf(o, sizeof(o), "op-%d", i);
        snprintf(e, sizeof(e), "ent-%d", i);
        snprintf(w, sizeof(w), "many.lua:%d", i + 1);
        switch (i % 6) {
        case 0:
            r = pct_rule(s, NULL, u, o, w);
            break;
        case 1:
            r = pct_rule(NULL, NULL, u, o, w);
            break;
        case 2:
            r = pct_rule(s, NULL, u, NULL, w);
            break;
        case 3:
            r = pct_rule(NULL, NULL, u, NULL, w);
            break;
        case 4:
            r = pct_rule(s, NULL, NULL, NULL, w);
            break;
        default:
            r = pct_rule(NULL, e, NULL, NULL, w);
            break;
        }
        if (rbi_plan_add_rule(p, &r, &err) != RB_OK) {
            OK(0, "add rule %d: %s", i, err.msg);
            rbi_plan_free(p);
            return;
        }
    }
    r = pct_rule(NULL, NULL, NULL, NULL, "many.lua:999999"); /* the global rule, last */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    INT_EQ(p->global, n);

    allocs = rbi_alloc_count();
    for (int i = 0; i < n; i++) {
        int got;
        snprintf(s, sizeof(s), "svc-%d", i);
        snprintf(u, sizeof(u), "ut-%d", i);
        snprintf(o, sizeof(o), "op-%d", i);
        snprintf(e, sizeof(e), "ent-%d", i);
        /* each line names only its own rule's values; the rest is unknown */
        switch (i % 6) {
        case 0:
            got = rbi_plan_match(p, s, "AWS", u, o);
            break;
        case 1:
            got = rbi_plan_match(p, "svc-x", "AWS", u, o);
            break;
        case 2:
            got = rbi_plan_match(p, s, "AWS", u, "op-x");
            break;
        case 3:
            got = rbi_plan_match(p, "svc-x", "AWS", u, "");
            break;
        case 4:
            got = rbi_plan_match(p, s, "AWS", "ut-x", "op-x");
            break;
        default:
            got = rbi_plan_match(p, "svc-x", e, "ut-x", "");
            break;
        }
        if (got != i && bad++ < 5)
            OK(0, "line of rule %d matched %d", i, got);
        /* the same values in the wrong fields fall through to the global rule */
        got = rbi_plan_match(p, e, s, o, u);
        if (got != n && bad++ < 5)
            OK(0, "shuffled line of rule %d matched %d", i, got);
    }
    OK(bad == 0, "%d lines matched the wrong rule", bad);
    /* Speed is the pricing benchmark's to measure (tests/bench/price.sh), not a test's. */
    INT_EQ(rbi_alloc_count() - allocs, 0); /* matching allocates nothing */
    rbi_plan_free(p);
}

static void test_scope_text(void)
{
    char buf[RBI_WHERE_MAX];
    char big[1024], want[1024];
    struct rbi_rule r;
    char s[257], u[257], o[257];

    for (int k = 0; k < K__COUNT; k++) {
        r = kind_rule(k, "t:1");
        rbi_rule_scope_text(&r, buf, sizeof(buf));
        STR_EQ(buf, kind_text[k]);
    }
    r = pct_rule("AmazonEC2", NULL, "BoxUsage:m5.large", "RunInstances", "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "SKU AmazonEC2 / BoxUsage:m5.large / RunInstances");
    r = pct_rule(NULL, NULL, "BoxUsage:m5.large", "RunInstances:0002", "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "SKU BoxUsage:m5.large / RunInstances:0002");
    r = pct_rule("AmazonS3", NULL, "TimedStorage-ByteHrs", NULL, "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "SKU AmazonS3 / TimedStorage-ByteHrs");
    r = pct_rule(NULL, NULL, "DataTransfer-Out-Bytes", NULL, "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "SKU DataTransfer-Out-Bytes");
    r = pct_rule("AmazonEC2", NULL, NULL, NULL, "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "service AmazonEC2");
    r = pct_rule(NULL, "AWS Marketplace", NULL, NULL, "t:1");
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "billing entity AWS Marketplace");
    /* the kind of rule does not change its scope's text */
    r = pct_rule(NULL, NULL, "X", NULL, "t:1");
    r.kind = RBI_RULE_RATE;
    rbi_rule_scope_text(&r, buf, sizeof(buf));
    STR_EQ(buf, "SKU X");
    /* a short buffer: cut, always terminated; size 0 writes nothing */
    r = pct_rule("AmazonEC2", NULL, NULL, NULL, "t:1");
    rbi_rule_scope_text(&r, buf, 8);
    STR_EQ(buf, "service");
    r = pct_rule(NULL, NULL, NULL, NULL, "t:1");
    rbi_rule_scope_text(&r, buf, 5);
    STR_EQ(buf, "glob");
    memcpy(buf, "xyz", 4);
    rbi_rule_scope_text(&r, buf, 0);
    STR_EQ(buf, "xyz");
    rbi_rule_scope_text(&r, NULL, 0);
    /* the longest scope: three values of 256 bytes */
    memset(s, 's', 256);
    memset(u, 'u', 256);
    memset(o, 'o', 256);
    s[256] = u[256] = o[256] = '\0';
    r = pct_rule(s, NULL, u, o, "t:1");
    rbi_rule_scope_text(&r, big, sizeof(big));
    snprintf(want, sizeof(want), "SKU %s / %s / %s", s, u, o);
    STR_EQ(big, want);
    INT_EQ(strlen(big), 4 + 3 * 256 + 6);
}

/* {===================================================================================
 * Ladders
 * =================================================================================== */

/* 100 at 1, up to 300 at 0.5, above at 0.25 (tests/rules_blind/07-tiers.lua). */
static struct rbi_tier ladder[3];
/* AWS Business support: 10% to 10k, 7% to 80k, 5% to 250k, 3% above. */
static struct rbi_tier business[4];
/* 0% to 1000, 1% to 5000, 3% above (tests/rules_blind/08: volume rebate). */
static struct rbi_tier rebate[3];

static void ladders_init(void)
{
    ladder[0] = (struct rbi_tier){D("100"), false, D("1")};
    ladder[1] = (struct rbi_tier){D("300"), false, D("0.5")};
    ladder[2] = (struct rbi_tier){rb_dec_zero(), true, D("0.25")};
    business[0] = (struct rbi_tier){D("10000"), false, D("10")};
    business[1] = (struct rbi_tier){D("80000"), false, D("7")};
    business[2] = (struct rbi_tier){D("250000"), false, D("5")};
    business[3] = (struct rbi_tier){rb_dec_zero(), true, D("3")};
    rebate[0] = (struct rbi_tier){D("1000"), false, D("0")};
    rebate[1] = (struct rbi_tier){D("5000"), false, D("1")};
    rebate[2] = (struct rbi_tier){rb_dec_zero(), true, D("3")};
}

/* The ladder's amount of q as text, or the status as "rc=N". */
static const char *apply(const struct rbi_tier *t, int n, bool volume, bool percent, const char *q)
{
    static char buf[8][64];
    static int k;
    rb_dec qd = D(q), out = rb_dec_zero();
    rb_status rc = rbi_tiers_apply(t, n, volume, percent, &qd, &out);

    k = (k + 1) % 8;
    if (rc != RB_OK)
        snprintf(buf[k], sizeof(buf[k]), "rc=%d", rc);
    else
        snprintf(buf[k], sizeof(buf[k]), "%s", text(out));
    return buf[k];
}

static void test_graduated(void)
{
    STR_EQ(apply(ladder, 3, false, false, "0"), "0");
    STR_EQ(apply(ladder, 3, false, false, "0.000"), "0");
    STR_EQ(apply(ladder, 3, false, false, "1"), "1");
    STR_EQ(apply(ladder, 3, false, false, "99.99"), "99.99");
    STR_EQ(apply(ladder, 3, false, false, "100"), "100");        /* the first upto */
    STR_EQ(apply(ladder, 3, false, false, "100.00"), "100");     /* another scale, same value */
    STR_EQ(apply(ladder, 3, false, false, "100.01"), "100.005"); /* 100 + 0.01 x 0.5 */
    STR_EQ(apply(ladder, 3, false, false, "101"), "100.5");
    STR_EQ(apply(ladder, 3, false, false, "299.99"), "199.995"); /* 100 + 199.99 x 0.5 */
    STR_EQ(apply(ladder, 3, false, false, "300"), "200");        /* 100 + 200 x 0.5 */
    STR_EQ(apply(ladder, 3, false, false, "300.5"), "200.125");  /* + 0.5 x 0.25 */
    STR_EQ(apply(ladder, 3, false, false, "330"), "207.5");
    STR_EQ(apply(ladder, 3, false, false, "1000"), "375"); /* 100 + 100 + 700 x 0.25 */
    /* the ladder is additive: 50, then 80, then 200 (07-tiers.lua) cost 50, 65, 92.50 */
    STR_EQ(apply(ladder, 3, false, false, "50"), "50");
    STR_EQ(apply(ladder, 3, false, false, "130"), "115");   /* 50 + 65 */
    STR_EQ(apply(ladder, 3, false, false, "330"), "207.5"); /* 115 + 92.50 */
    /* below zero: the first tier's value, so a negative line undoes the cheapest units */
    STR_EQ(apply(ladder, 3, false, false, "-1"), "-1");
    STR_EQ(apply(ladder, 3, false, false, "-100.5"), "-100.5");
    STR_EQ(apply(ladder, 3, false, false, "-1000"), "-1000");
    /* S3: 50000 x 0.023 + 20000 x 0.022 */
    {
        struct rbi_tier s3[3] = {{D("50000"), false, D("0.023")},
                                 {D("500000"), false, D("0.022")},
                                 {rb_dec_zero(), true, D("0.021")}};
        STR_EQ(apply(s3, 3, false, false, "70000"), "1590");
        STR_EQ(apply(s3, 3, false, false, "600000"), "13150"); /* 1150 + 9900 + 2100 */
    }
    /* one open tier: a rate */
    {
        struct rbi_tier one[1] = {{rb_dec_zero(), true, D("0.023")}};
        STR_EQ(apply(one, 1, false, false, "1000"), "23");
        STR_EQ(apply(one, 1, true, false, "1000"), "23");
        STR_EQ(apply(one, 1, false, false, "-2"), "-0.046");
        STR_EQ(apply(one, 1, false, false, "0.0000009984"), "0.0000000229632");
    }
    /* a free first tier */
    {
        struct rbi_tier free1[2] = {{D("1"), false, D("0")}, {rb_dec_zero(), true, D("2")}};
        STR_EQ(apply(free1, 2, false, false, "1"), "0");
        STR_EQ(apply(free1, 2, false, false, "3.5"), "5");
        STR_EQ(apply(free1, 2, true, false, "1"), "0");
        STR_EQ(apply(free1, 2, true, false, "3.5"), "7");
    }
}

static void test_volume(void)
{
    STR_EQ(apply(ladder, 3, true, false, "0"), "0");
    STR_EQ(apply(ladder, 3, true, false, "60"), "60");
    STR_EQ(apply(ladder, 3, true, false, "100"), "100");     /* an upto belongs to its tier */
    STR_EQ(apply(ladder, 3, true, false, "100.000"), "100"); /* whatever its scale */
    STR_EQ(apply(ladder, 3, true, false, "100.5"), "50.25"); /* all at 0.5 */
    STR_EQ(apply(ladder, 3, true, false, "100.0001"), "50.00005");
    STR_EQ(apply(ladder, 3, true, false, "120"), "60");
    STR_EQ(apply(ladder, 3, true, false, "300"), "150");
    STR_EQ(apply(ladder, 3, true, false, "301"), "75.25"); /* all at 0.25 */
    STR_EQ(apply(ladder, 3, true, false, "1000000"), "250000");
    /* below zero: the first tier */
    STR_EQ(apply(ladder, 3, true, false, "-5"), "-5");
    STR_EQ(apply(ladder, 3, true, false, "-500"), "-500");
}

static void test_percent_ladders(void)
{
    /* graduated percents: business support */
    STR_EQ(apply(business, 4, false, true, "0"), "0");
    STR_EQ(apply(business, 4, false, true, "1000"), "100");
    STR_EQ(apply(business, 4, false, true, "2363.58"), "236.358");
    STR_EQ(apply(business, 4, false, true, "10000"), "1000");
    STR_EQ(apply(business, 4, false, true, "10000.01"), "1000.0007"); /* + 0.01 x 7% */
    STR_EQ(apply(business, 4, false, true, "80000"), "5900");         /* 1000 + 70000 x 7% */
    STR_EQ(apply(business, 4, false, true, "250000"), "14400");       /* + 170000 x 5% */
    STR_EQ(apply(business, 4, false, true, "300000"), "15900");       /* + 50000 x 3% */
    STR_EQ(apply(business, 4, false, true, "-200"), "-20");           /* the first tier */
    /* 08-spend-tiers-commitment.lua's management fee: 10% to 1000, 5% to 5000, 2% above */
    {
        struct rbi_tier mgmt[3] = {
            {D("1000"), false, D("10")}, {D("5000"), false, D("5")}, {rb_dec_zero(), true, D("2")}};
        STR_EQ(apply(mgmt, 3, false, true, "6000"), "320");
        STR_EQ(apply(mgmt, 3, false, true, "2500.50"), "175.025");
        STR_EQ(apply(mgmt, 3, false, true, "5000.01"), "300.0002");
        STR_EQ(apply(mgmt, 3, false, true, "500"), "50");
    }
    /* volume percents: the rebate */
    STR_EQ(apply(rebate, 3, true, true, "500"), "0");
    STR_EQ(apply(rebate, 3, true, true, "1000"), "0"); /* 1000 stays in tier 1 */
    STR_EQ(apply(rebate, 3, true, true, "1000.01"), "10.0001");
    STR_EQ(apply(rebate, 3, true, true, "2500.50"), "25.005");
    STR_EQ(apply(rebate, 3, true, true, "5000"), "50");
    STR_EQ(apply(rebate, 3, true, true, "5000.01"), "150.0003");
    STR_EQ(apply(rebate, 3, true, true, "6000"), "180");
    /* a fractional percent: 0.5% of 0.01 is 0.00005, exact */
    {
        struct rbi_tier half[1] = {{rb_dec_zero(), true, D("0.5")}};
        STR_EQ(apply(half, 1, false, true, "0.01"), "0.00005");
        STR_EQ(apply(half, 1, true, true, "0.01"), "0.00005");
    }
}

static void test_tiers_refusals(void)
{
    rb_dec q, out;

    /* too many digits: the exact amount does not fit 38 digits */
    {
        struct rbi_tier big[1] = {{rb_dec_zero(), true, D("10000000000000000000")}};
        STR_EQ(apply(big, 1, false, false, "100000000000000000000"), "rc=19"); /* 1e39 */
        STR_EQ(apply(big, 1, true, false, "100000000000000000000"), "rc=19");
        STR_EQ(apply(big, 1, false, false, "1000000000000000000"), ten_to(37)); /* fits */
    }
    /* overflow in the sum of the tiers */
    {
        struct rbi_tier two[2] = {{D("1"), false, D("1")}, {rb_dec_zero(), true, D("2")}};
        STR_EQ(apply(two, 2, false, false, "60000000000000000000000000000000000000"), "rc=19");
    }
    /* a percent whose exact hundredth needs more than 38 fraction digits */
    {
        struct rbi_tier tiny[1] = {{rb_dec_zero(), true, D(ten_to(-36))}};
        STR_EQ(apply(tiny, 1, false, true, "1"), ten_to(-38));
        STR_EQ(apply(tiny, 1, false, true, "0.1"), "rc=19");
        STR_EQ(apply(tiny, 1, true, true, "0.1"), "rc=19");
    }
    /* on failure the output is left alone */
    {
        struct rbi_tier big[1] = {{rb_dec_zero(), true, D("10000000000000000000")}};
        q = D("100000000000000000000");
        out = D("7.5");
        INT_EQ(rbi_tiers_apply(big, 1, false, false, &q, &out), RB_OVERFLOW);
        STR_EQ(text(out), "7.5");
    }
    /* misuse: no tiers, no arguments */
    q = D("1");
    INT_EQ(rbi_tiers_apply(ladder, 0, false, false, &q, &out), RB_MISUSE);
    INT_EQ(rbi_tiers_apply(NULL, 3, false, false, &q, &out), RB_MISUSE);
    INT_EQ(rbi_tiers_apply(ladder, 3, false, false, NULL, &out), RB_MISUSE);
    INT_EQ(rbi_tiers_apply(ladder, 3, false, false, &q, NULL), RB_MISUSE);
}

/* The per-line functions allocate nothing. */
static void test_no_allocation(void)
{
    rb_dec q = D("12345.678"), out;
    long before = rbi_alloc_count();

    rbi_alloc_fail_after(0); /* any allocation would fail */
    INT_EQ(rbi_tiers_apply(ladder, 3, false, false, &q, &out), RB_OK);
    INT_EQ(rbi_tiers_apply(business, 4, true, true, &q, &out), RB_OK);
    rbi_alloc_fail_after(-1);
    INT_EQ(rbi_alloc_count() - before, 0);
}

int main(void)
{
    ladders_init();
    test_ltype_names();
    test_classify();
    test_policy_default();
    test_in_force();
    test_fx_rate();
    test_precedence_pairs();
    test_scope_fields();
    test_scope_near_misses();
    test_duplicates();
    test_finish();
    test_many_rules();
    test_scope_text();
    test_graduated();
    test_volume();
    test_percent_ladders();
    test_tiers_refusals();
    test_no_allocation();
    return harness_done();
}
