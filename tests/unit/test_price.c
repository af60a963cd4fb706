/*
 * test_price.c -- pricing against hand-computed bills, to the cent: the default list-price
 * plan (free tier, pass-through policy), billed and effective bases, scoped markups and
 * discounts (the most specific wins), rates, graduated and volume tiers, custom line items
 * (flat, percent, tiered with a minimum, volume credits, commitments with a shortfall, items
 * of items, itemized, period ranges), tax and currency conversion, chain costs and margins,
 * rounding modes, and every refusal (two currencies, a missing exchange rate, overflow,
 * duplicate scopes, bad tiers). Plans are built in C here; test_plan.c compiles rule files.
 *
 * The expected figures were worked out by hand first; the arithmetic is in the comments.
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

    rb_month_parse(&m, s, NULL);
    return m;
}

/* The text of a decimal rounded to cents (half-even), for comparisons. */
static const char *cents(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;
    rb_dec r;

    k = (k + 1) % 8;
    rb_dec_round(&r, &d, 2, RB_ROUND_HALF_EVEN);
    rb_dec_format(&r, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

/* As formatted, keeping the scale (totals are rounded to the minor unit: "12.00"). */
static const char *raw(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;

    k = (k + 1) % 8;
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

static const char *text(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;

    k = (k + 1) % 8;
    d = rb_dec_normalize(&d);
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

/* An input line: service, usage type, line type, quantity, billed, list[, effective]. */
static rb_price_input L(const char *acct, const char *svc, const char *ut, const char *lt,
                        const char *qty, const char *billed, const char *list)
{
    rb_price_input in;

    memset(&in, 0, sizeof(in));
    in.account = acct;
    in.service = svc;
    in.usage_type = ut;
    in.operation = "";
    in.region = "us-east-1";
    in.line_type = lt;
    in.entity = "AWS";
    memcpy(in.currency, "USD", 4);
    in.quantity = D(qty);
    in.billed = D(billed);
    in.list = D(list);
    in.effective = in.billed;
    return in;
}

#define A1 "111111111111"
#define A2 "222222222222"

/* The mixed month of every base test. */
static rb_price_input mixed[10];
static void mixed_init(void)
{
    mixed[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "720", "69.12", "69.12");
    mixed[1] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1000", "23.00", "23.00");
    mixed[2] = L(A1, "AmazonEC2", "", "Credit", "0", "-10.00", "0");
    mixed[3] = L(A1, "AmazonEC2", "", "Tax", "0", "9.21", "0");
    mixed[4] = L(A1, "AWSLambda", "Request", "Usage", "1000000", "0", "0.20"); /* free tier */
    mixed[5] =
        L(A2, "AmazonEC2", "BoxUsage:c5.xlarge", "SavingsPlanCoveredUsage", "100", "50", "50");
    mixed[5].effective = D("30");
    mixed[6] = L(A2, "AmazonEC2", "BoxUsage:c5.xlarge", "SavingsPlanNegation", "0", "-50", "0");
    mixed[6].effective = D("0");
    mixed[7] = L(A2, "ComputeSavingsPlans", "", "SavingsPlanRecurringFee", "0", "35", "0");
    mixed[7].effective = D("5");
    mixed[8] = L(A2, "AmazonEC2", "", "EdpDiscount", "0", "-6.00", "0");
    mixed[9] = L(A1, "AWSSupportBusiness", "Dollar", "Fee", "1", "100", "0");
}

static rb_plan *wrap(struct rbi_plan *p)
{
    rb_plan *pl = NULL;
    rb_error err;

    if (rbi_plan_finish(p, &err) != RB_OK) {
        fprintf(stderr, "finish: %s\n", err.msg);
        rbi_plan_free(p);
        return NULL;
    }
    rbi_plan_wrap(p, &pl);
    return pl;
}

static rb_priced *price(rb_plan *pl, const rb_price_input *in, size_t n, const char *month,
                        const rb_dec *cost, rb_error *err)
{
    rb_price_request req = {"o-customer01", M(month), in, n, cost, false};
    rb_priced *out = NULL;

    rb_price(pl, &req, &out, err);
    return out;
}

/* The sum of a service's usage and passed lines, in the invoice currency. */
static rb_dec service_amount(const rb_priced *r, const char *svc)
{
    rb_dec s = rb_dec_zero();

    for (size_t i = 0; i < rb_priced_count(r); i++) {
        const rb_price_line *l = rb_priced_line(r, i);
        if ((l->kind == RB_PRICE_USAGE || l->kind == RB_PRICE_PASS) && strcmp(l->service, svc) == 0)
            rb_dec_add(&s, &s, &l->amount);
    }
    return s;
}

/* The sum of the lines labelled `label`; *n gets how many there are. */
static rb_dec label_amount(const rb_priced *r, const char *label, int *n)
{
    rb_dec s = rb_dec_zero();

    *n = 0;
    for (size_t i = 0; i < rb_priced_count(r); i++) {
        const rb_price_line *l = rb_priced_line(r, i);
        if (strcmp(l->label, label) == 0) {
            rb_dec_add(&s, &s, &l->amount);
            (*n)++;
        }
    }
    return s;
}

/* {===================================================================================
 * Bases and the pass-through policy
 * =================================================================================== */

static void test_default_list_price(void)
{
    rb_plan *pl = NULL;
    rb_priced *r;
    rb_error err;

    INT_EQ(rb_plan_default(&pl), RB_OK);
    STR_EQ(rb_plan_name(pl), "list price");
    r = price(pl, mixed, 10, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (!r)
        goto out;
    /* Priced at list: EC2 69.12 + S3 23.00 + Lambda 0 (free tier: billed 0 < list 0.20)
     * + the SP-covered c5 at its list 50. Everything else hidden (6 lines). */
    INT_EQ(rb_priced_count(r), 4);
    STR_EQ(cents(service_amount(r, "AmazonEC2")), "119.12"); /* 69.12 + 50 */
    STR_EQ(cents(service_amount(r, "AWSLambda")), "0.00");
    STR_EQ(raw(rb_priced_totals(r)->subtotal), "142.12"); /* 69.12 + 23 + 0 + 50 */
    STR_EQ(raw(rb_priced_totals(r)->total), "142.12");
    STR_EQ(rb_priced_totals(r)->currency, "USD");
    /* Cost: every billed amount, hidden lines too:
     * 69.12 + 23 - 10 + 9.21 + 0 + 50 - 50 + 35 - 6 + 100 = 220.33; margin 142.12 - 220.33. */
    STR_EQ(raw(rb_priced_margin(r)->cost), "220.33");
    STR_EQ(raw(rb_priced_margin(r)->margin), "-78.21");
    INT_EQ(rb_priced_margin(r)->hidden, 6);
    STR_EQ(rb_priced_cost(r, 0)->rule, "list");
    STR_EQ(text(rb_priced_input_price(r, 2)), "0"); /* the hidden credit */
    STR_EQ(text(rb_priced_input_price(r, 0)), "69.12");
    rb_priced_free(r);
out:
    rb_plan_free(pl);
}

static void test_free_tier_off(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "no free tier");
    p->free_tier = false;
    pl = wrap(p);
    r = price(pl, mixed, 10, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    /* 142.12 + the Lambda requests at list 0.20 */
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "142.32");
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_billed_base(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_BILLED, "pass-through");
    pl = wrap(p);
    r = price(pl, mixed, 10, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (!r)
        goto out;
    /* Priced at billed: 69.12 + 23 + 0 + 50 - 50 + 35 + 100 (support); passed: credit -10 and
     * tax 9.21; hidden: the EDP discount -6 (the partner keeps it).
     * Subtotal 69.12 + 23 + 50 - 50 + 35 + 100 - 10 + 9.21 = 226.33; margin 226.33 - 220.33. */
    INT_EQ(rb_priced_count(r), 9);
    STR_EQ(raw(rb_priced_totals(r)->subtotal), "226.33");
    STR_EQ(raw(rb_priced_margin(r)->margin), "6.00");
    INT_EQ(rb_priced_margin(r)->hidden, 1);
    INT_EQ(rb_priced_line(r, 2)->kind, RB_PRICE_PASS); /* the credit */
    STR_EQ(text(rb_priced_line(r, 2)->amount), "-10");
    STR_EQ(rb_priced_cost(r, 2)->rule, "pass");
    rb_priced_free(r);
out:
    rb_plan_free(pl);
}

static void test_effective_base(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_EFFECTIVE, "amortized");
    pl = wrap(p);
    r = price(pl, mixed, 10, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (!r)
        goto out;
    /* Effective: 69.12 + 23 + 0 + 30 (SP-covered at its effective cost) + 5 (the unused
     * commitment of the recurring fee) + 100 (support), passed -10 and 9.21; hidden the SP
     * negation and the EDP discount: 69.12 + 23 + 30 + 5 + 100 - 10 + 9.21 = 226.33. */
    STR_EQ(raw(rb_priced_totals(r)->subtotal), "226.33");
    INT_EQ(rb_priced_margin(r)->hidden, 2);
    STR_EQ(cents(service_amount(r, "ComputeSavingsPlans")), "5.00");
    rb_priced_free(r);
out:
    rb_plan_free(pl);
}

static void test_policy_override(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "list, credits passed");
    p->action[RBI_LT_CREDIT] = RBI_ACT_PASS;
    p->action[RBI_LT_SUPPORT] = RBI_ACT_PASS;
    /* Changing the base keeps what was set explicitly. */
    rbi_plan_set_base(p, RBI_BASE_LIST);
    INT_EQ(p->action[RBI_LT_CREDIT], RBI_ACT_PASS);
    pl = wrap(p);
    r = price(pl, mixed, 10, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    /* 142.12 - 10 (credit) + 100 (support, passed at billed) = 232.12 */
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "232.12");
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_classify(void)
{
    INT_EQ(rbi_ltype_classify("Usage", "AmazonEC2"), RBI_LT_USAGE);
    INT_EQ(rbi_ltype_classify("Fee", "AWSSupportEnterprise"), RBI_LT_SUPPORT);
    INT_EQ(rbi_ltype_classify("Usage", "AWSDeveloperSupport"), RBI_LT_SUPPORT);
    INT_EQ(rbi_ltype_classify("Tax", "AWSSupportBusiness"), RBI_LT_TAX);
    INT_EQ(rbi_ltype_classify("Credit", "AWSSupportBusiness"), RBI_LT_CREDIT);
    INT_EQ(rbi_ltype_classify("SomethingNew", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("*", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_classify("Support", "AmazonEC2"), RBI_LT_OTHER);
    INT_EQ(rbi_ltype_find("EdpDiscount"), RBI_LT_EDP);
    INT_EQ(rbi_ltype_find("edpdiscount"), -1);
    INT_EQ(rbi_policy_default(RBI_BASE_LIST, RBI_LT_OTHER), RBI_ACT_HIDE);
    INT_EQ(rbi_policy_default(RBI_BASE_BILLED, RBI_LT_OTHER), RBI_ACT_PRICE);
    INT_EQ(rbi_policy_default(RBI_BASE_BILLED, RBI_LT_DISTRIBUTOR), RBI_ACT_HIDE);
    INT_EQ(rbi_policy_default(RBI_BASE_EFFECTIVE, RBI_LT_SP_NEGATION), RBI_ACT_HIDE);
    INT_EQ(rbi_policy_default(RBI_BASE_EFFECTIVE, RBI_LT_RI_FEE), RBI_ACT_PRICE);
}

/* {===================================================================================
 * Scoped rules
 * =================================================================================== */

static struct rbi_rule pct(const char *svc, const char *ent, const char *ut, const char *op,
                           const char *percent, const char *where)
{
    struct rbi_rule r;

    memset(&r, 0, sizeof(r));
    r.kind = RBI_RULE_PERCENT;
    r.service = svc;
    r.entity = ent;
    r.usage_type = ut;
    r.operation = op;
    r.percent = D(percent);
    snprintf(r.where, sizeof(r.where), "%s", where);
    return r;
}

static void test_scopes(void)
{
    struct rbi_plan *p;
    struct rbi_rule r;
    rb_plan *pl;
    rb_priced *r2;
    rb_price_input in[5];
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "scoped");
    r = pct(NULL, NULL, NULL, NULL, "10", "t:1"); /* global +10% */
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct("AmazonEC2", NULL, NULL, NULL, "-5", "t:2");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct("AmazonEC2", NULL, "BoxUsage:m5.large", NULL, "-15", "t:3");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct(NULL, NULL, "BoxUsage:m5.large", "RunInstances:0002", "5", "t:4");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct(NULL, "AWS Marketplace", NULL, NULL, "0", "t:5");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    pl = wrap(p);

    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "720", "69.12", "69.12");
    in[1] = L(A1, "AmazonEC2", "BoxUsage:t3.micro", "Usage", "720", "7.488", "7.488");
    in[2] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1000", "23.00", "23.00");
    in[3] = L(A1, "prodview-abc123", "SoftwareUsage", "Usage", "1", "100", "100");
    in[3].entity = "AWS Marketplace";
    in[4] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "720", "100", "100");
    in[4].operation = "RunInstances:0002";
    r2 = price(pl, in, 5, "2026-11", NULL, &err);
    OK(r2 != NULL, "%s", err.msg);
    if (!r2)
        goto out;
    /* m5.large: the SKU rule beats the service rule: 69.12 x 0.85 = 58.752
     * t3.micro: the service rule beats the global one: 7.488 x 0.95 = 7.1136
     * S3: global: 23 x 1.10 = 25.30; Marketplace: entity rule 0%: 100
     * m5.large Windows: SKU with operation beats SKU without: 100 x 1.05 = 105
     * subtotal 58.752 + 7.1136 + 25.30 + 100 + 105 = 296.1656 -> 296.17 */
    STR_EQ(text(rb_priced_line(r2, 0)->amount), "58.752");
    STR_EQ(text(rb_priced_line(r2, 1)->amount), "7.1136");
    STR_EQ(text(rb_priced_line(r2, 2)->amount), "25.3");
    STR_EQ(text(rb_priced_line(r2, 3)->amount), "100");
    STR_EQ(text(rb_priced_line(r2, 4)->amount), "105");
    STR_EQ(raw(rb_priced_totals(r2)->subtotal), "296.17");
    STR_EQ(rb_priced_cost(r2, 0)->rule, "SKU AmazonEC2 / BoxUsage:m5.large -15%");
    STR_EQ(rb_priced_cost(r2, 1)->rule, "service AmazonEC2 -5%");
    STR_EQ(rb_priced_cost(r2, 2)->rule, "global +10%");
    STR_EQ(rb_priced_cost(r2, 3)->rule, "billing entity AWS Marketplace +0%");
    STR_EQ(rb_priced_cost(r2, 4)->rule, "SKU BoxUsage:m5.large / RunInstances:0002 +5%");
    /* Line amounts keep 12 fraction digits. */
    INT_EQ(rb_priced_line(r2, 0)->amount.scale, RBI_PRICE_SCALE);
    rb_priced_free(r2);
out:
    rb_plan_free(pl);
}

static void test_match_order(void)
{
    struct rbi_plan *p;
    struct rbi_rule r;
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "order");
    r = pct(NULL, NULL, "U", NULL, "1", "t:1"); /* 0: usage type */
    rbi_plan_add_rule(p, &r, &err);
    r = pct("S", NULL, "U", NULL, "2", "t:2"); /* 1: service + usage type */
    rbi_plan_add_rule(p, &r, &err);
    r = pct(NULL, NULL, "U", "O", "3", "t:3"); /* 2: usage type + operation */
    rbi_plan_add_rule(p, &r, &err);
    r = pct("S", NULL, "U", "O", "4", "t:4"); /* 3: all three */
    rbi_plan_add_rule(p, &r, &err);
    r = pct("S", NULL, NULL, NULL, "5", "t:5"); /* 4: service */
    rbi_plan_add_rule(p, &r, &err);
    r = pct(NULL, "E", NULL, NULL, "6", "t:6"); /* 5: entity */
    rbi_plan_add_rule(p, &r, &err);
    INT_EQ(rbi_plan_finish(p, &err), RB_OK);
    INT_EQ(rbi_plan_match(p, "S", "E", "U", "O"), 3);
    INT_EQ(rbi_plan_match(p, "T", "E", "U", "O"), 2);
    INT_EQ(rbi_plan_match(p, "S", "E", "U", "P"), 1);
    INT_EQ(rbi_plan_match(p, "T", "E", "U", "P"), 0);
    INT_EQ(rbi_plan_match(p, "S", "E", "V", "O"), 4);
    INT_EQ(rbi_plan_match(p, "T", "E", "V", "O"), 5);
    INT_EQ(rbi_plan_match(p, "T", "F", "V", "O"), -1); /* no global rule */
    rbi_plan_free(p);
}

static void test_rule_refusals(void)
{
    struct rbi_plan *p;
    struct rbi_rule r;
    struct rbi_tier t[2];
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "bad");
    r = pct("AmazonEC2", NULL, NULL, NULL, "-5", "rules/a.lua:3");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    r = pct("AmazonEC2", NULL, NULL, NULL, "-7", "rules/a.lua:9");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
    STR_EQ(err.msg, "rules/a.lua:9: a second rule for service AmazonEC2 (the first is at "
                    "rules/a.lua:3)");
    rbi_plan_free(p);

    rbi_plan_new(&p, RBI_BASE_LIST, "bad");
    r = pct(NULL, NULL, NULL, NULL, "5", "g:1");
    rbi_plan_add_rule(p, &r, &err);
    r = pct(NULL, NULL, NULL, NULL, "6", "g:2");
    rbi_plan_add_rule(p, &r, &err);
    INT_EQ(rbi_plan_finish(p, &err), RB_INVALID);
    STR_HAS(err.msg, "g:2: a second global rule (the first is at g:1)");
    r = pct(NULL, NULL, NULL, NULL, "-100.5", "g:3");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "g:3: percent out of range -100..10000");
    r = pct("AmazonEC2", "AWS", NULL, NULL, "5", "g:4");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_HAS(err.msg, "g:4: a billing entity scope takes no service");
    r = pct(NULL, NULL, NULL, "RunInstances", "5", "g:5");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_HAS(err.msg, "g:5: an operation needs a usage type");
    memset(&r, 0, sizeof(r));
    r.kind = RBI_RULE_RATE;
    r.service = "AmazonS3";
    r.rate = D("0.01");
    snprintf(r.where, sizeof(r.where), "g:6");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "g:6: a rate needs a usage type");
    r.kind = RBI_RULE_TIERED;
    r.usage_type = "X";
    t[0].upto = D("10");
    t[0].open = false;
    t[0].value = D("1");
    t[1].upto = D("5");
    t[1].open = false;
    t[1].value = D("1");
    r.tiers = t;
    r.ntiers = 2;
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "g:6: tiers: tier 2: the last tier takes everything above the others: "
                    "leave out its 'upto'");
    t[0].open = true;
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "g:6: tiers: tier 1: only the last tier may leave out 'upto'");
    t[0].open = false;
    t[1].open = true;
    t[1].upto = rb_dec_zero();
    t[0].upto = D("0");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "g:6: tiers: tier 1: 'upto' must be above 0");
    INT_EQ(p->nrules, 2); /* nothing refused was added */
    rbi_plan_free(p);
}

/* {===================================================================================
 * Rates and tiers
 * =================================================================================== */

static struct rbi_tier s3_tiers[3];
static void s3_tiers_init(void)
{
    /* S3 Standard: first 50 TB 0.023, next 450 TB 0.022, over 500 TB 0.021 per GB-month */
    s3_tiers[0] = (struct rbi_tier){D("50000"), false, D("0.023")};
    s3_tiers[1] = (struct rbi_tier){D("500000"), false, D("0.022")};
    s3_tiers[2] = (struct rbi_tier){rb_dec_zero(), true, D("0.021")};
}

static void test_tiers_apply(void)
{
    rb_dec out, q;

    q = D("70000");
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, false, false, &q, &out), RB_OK);
    STR_EQ(text(out), "1590"); /* 50000 x 0.023 + 20000 x 0.022 = 1150 + 440 */
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, true, false, &q, &out), RB_OK);
    STR_EQ(text(out), "1540"); /* 70000 x 0.022 */
    q = D("50000");            /* a boundary belongs to the tier it closes */
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, true, false, &q, &out), RB_OK);
    STR_EQ(text(out), "1150");
    q = D("600000"); /* 1150 + 450000 x 0.022 + 100000 x 0.021 = 1150 + 9900 + 2100 */
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, false, false, &q, &out), RB_OK);
    STR_EQ(text(out), "13150");
    q = D("-100"); /* below zero: the first tier's value */
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, false, false, &q, &out), RB_OK);
    STR_EQ(text(out), "-2.3");
    q = D("0");
    INT_EQ(rbi_tiers_apply(s3_tiers, 3, false, false, &q, &out), RB_OK);
    STR_EQ(text(out), "0");
}

static void test_rates_and_tiers(void)
{
    struct rbi_plan *p;
    struct rbi_rule r;
    rb_plan *pl;
    rb_priced *res;
    rb_price_input in[4];
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "rates");
    memset(&r, 0, sizeof(r));
    r.kind = RBI_RULE_RATE;
    r.usage_type = "DataTransfer-Out-Bytes";
    r.rate = D("0.05");
    snprintf(r.where, sizeof(r.where), "t:1");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    memset(&r, 0, sizeof(r));
    r.kind = RBI_RULE_TIERED;
    r.service = "AmazonS3";
    r.usage_type = "TimedStorage-ByteHrs";
    r.tiers = s3_tiers;
    r.ntiers = 3;
    snprintf(r.where, sizeof(r.where), "t:2");
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    pl = wrap(p);
    in[0] = L(A1, "AmazonEC2", "DataTransfer-Out-Bytes", "Usage", "1234.5", "111.105", "111.105");
    in[1] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "30000", "690", "690");
    in[2] = L(A2, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "40000", "920", "920");
    in[3] = L(A2, "AmazonS3", "Requests-Tier1", "Usage", "1000", "5", "5");
    res = price(pl, in, 4, "2026-11", NULL, &err);
    OK(res != NULL, "%s", err.msg);
    if (!res)
        goto out;
    /* rate: 1234.5 x 0.05 = 61.725
     * graduated over the month, line after line: the first account's 30000 GB all in tier 1
     * (690); the second's 40000 GB continue from 30000: 20000 x 0.023 + 20000 x 0.022 = 460 +
     * 440 = 900. Together 1590, the ladder's price of 70000.
     * requests: no rule, list 5. subtotal 61.725 + 690 + 900 + 5 = 1656.725 -> 1656.72 */
    STR_EQ(text(rb_priced_line(res, 0)->amount), "61.725");
    STR_EQ(text(rb_priced_line(res, 1)->amount), "690");
    STR_EQ(text(rb_priced_line(res, 2)->amount), "900");
    STR_EQ(text(rb_priced_line(res, 3)->amount), "5");
    STR_EQ(raw(rb_priced_totals(res)->subtotal), "1656.72");
    STR_EQ(rb_priced_cost(res, 0)->rule, "SKU DataTransfer-Out-Bytes rate 0.05");
    STR_EQ(rb_priced_cost(res, 1)->rule, "SKU AmazonS3 / TimedStorage-ByteHrs graduated tiers");
    rb_priced_free(res);
    /* Priced again: the tier state starts over each run. */
    res = price(pl, in, 4, "2026-11", NULL, &err);
    if (res)
        STR_EQ(text(rb_priced_line(res, 2)->amount), "900");
    rb_priced_free(res);
out:
    rb_plan_free(pl);

    /* Volume: the whole 70000 GB at the tier the total reaches (0.022): 660 and 880. */
    rbi_plan_new(&p, RBI_BASE_LIST, "volume");
    r.volume = true;
    INT_EQ(rbi_plan_add_rule(p, &r, &err), RB_OK);
    pl = wrap(p);
    res = price(pl, in, 4, "2026-11", NULL, &err);
    OK(res != NULL, "%s", err.msg);
    if (res) {
        STR_EQ(text(rb_priced_line(res, 1)->amount), "660");
        STR_EQ(text(rb_priced_line(res, 2)->amount), "880");
        /* 111.105 (list, no rule now) + 660 + 880 + 5 = 1656.105 -> 1656.10 (half-even) */
        STR_EQ(raw(rb_priced_totals(res)->subtotal), "1656.10");
    }
    rb_priced_free(res);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Custom line items
 * =================================================================================== */

static struct rbi_item item(enum rbi_item_kind kind, const char *name, enum rbi_amount_kind amt,
                            const char *where)
{
    struct rbi_item it;

    memset(&it, 0, sizeof(it));
    it.kind = kind;
    snprintf(it.name, sizeof(it.name), "%s", name);
    it.amt = amt;
    it.of_usage = true;
    it.from = 0;
    it.to = RB_MONTH_OPEN;
    it.every = 1;
    snprintf(it.where, sizeof(it.where), "%s", where);
    return it;
}

/* AWS Business support: 10% of the first 10K, 7% to 80K, 5% to 250K, 3% above; min 100. */
static struct rbi_tier support_tiers[4];
static void support_tiers_init(void)
{
    support_tiers[0] = (struct rbi_tier){D("10000"), false, D("10")};
    support_tiers[1] = (struct rbi_tier){D("80000"), false, D("7")};
    support_tiers[2] = (struct rbi_tier){D("250000"), false, D("5")};
    support_tiers[3] = (struct rbi_tier){rb_dec_zero(), true, D("3")};
}

static rb_plan *items_plan(void)
{
    struct rbi_plan *p;
    struct rbi_item it;
    rb_error err;
    static int of_support[1];

    rbi_plan_new(&p, RBI_BASE_LIST, "items");
    it = item(RBI_ITEM_FEE, "Managed services", RBI_AMT_FLAT, "i:1");
    it.amount = D("250");
    it.of_usage = false;
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_FEE, "Business support", RBI_AMT_TIERED, "i:2");
    it.tiers = support_tiers;
    it.ntiers = 4;
    it.has_min = true;
    it.minimum = D("100");
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_FEE, "Support handling", RBI_AMT_PERCENT, "i:3");
    it.percent = D("2");
    it.of_usage = false;
    of_support[0] = 1;
    it.of_items = of_support;
    it.nof_items = 1;
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_CREDIT, "Volume discount", RBI_AMT_TIERED, "i:4");
    it.tiers = (struct rbi_tier[]){
        {D("10000"), false, D("0")}, {D("50000"), false, D("3")}, {rb_dec_zero(), true, D("5")}};
    it.ntiers = 3;
    it.volume = true;
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_COMMIT, "Commitment shortfall", RBI_AMT_FLAT, "i:5");
    it.amount = D("50000");
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    return wrap(p);
}

static void test_items(void)
{
    rb_plan *pl = items_plan();
    rb_price_input in[2];
    rb_priced *r;
    rb_error err;
    int n;

    /* Usage 100,000: support 10% x 10000 + 7% x 70000 + 5% x 20000 = 1000 + 4900 + 1000 =
     * 6900; handling 2% x 6900 = 138; volume credit 5% x 100000 (volume: the total passed
     * 50000) = -5000; no shortfall (100000 >= 50000); fee 250.
     * subtotal 100000 + 250 + 6900 + 138 - 5000 = 102288 */
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "60000", "60000");
    in[1] = L(A1, "AmazonRDS", "InstanceUsage:db.r5", "Usage", "1", "40000", "40000");
    r = price(pl, in, 2, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (r) {
        STR_EQ(cents(label_amount(r, "Managed services", &n)), "250.00");
        STR_EQ(cents(label_amount(r, "Business support", &n)), "6900.00");
        STR_EQ(cents(label_amount(r, "Support handling", &n)), "138.00");
        STR_EQ(cents(label_amount(r, "Volume discount", &n)), "-5000.00");
        INT_EQ(rb_priced_line(r, 5)->kind, RB_PRICE_CREDIT);
        label_amount(r, "Commitment shortfall", &n);
        INT_EQ(n, 0); /* an item that comes to nothing is not shown */
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "102288.00");
        STR_EQ(rb_priced_cost(r, 3)->rule, "i:2");
        /* Partner-only: items cost nothing, so they move the margin one for one:
         * 102288 - 100000 = 2288 */
        STR_EQ(raw(rb_priced_margin(r)->margin), "2288.00");
    }
    rb_priced_free(r);

    /* Usage 500: support 10% = 50, below the minimum: 100; handling 2; volume 0% -> 0, not
     * shown; shortfall 50000 - 500 = 49500. subtotal 500 + 250 + 100 + 2 + 49500 = 50352 */
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "500", "500");
    r = price(pl, in, 1, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (r) {
        STR_EQ(cents(label_amount(r, "Business support", &n)), "100.00");
        STR_EQ(cents(label_amount(r, "Support handling", &n)), "2.00");
        label_amount(r, "Volume discount", &n);
        INT_EQ(n, 0);
        STR_EQ(cents(label_amount(r, "Commitment shortfall", &n)), "49500.00");
        INT_EQ(rb_priced_line(r, rb_priced_count(r) - 1)->kind, RB_PRICE_COMMIT);
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "50352.00");
    }
    rb_priced_free(r);

    /* Usage 30,000: support 1000 + 7% x 20000 = 2400; handling 48; volume 3% = -900;
     * shortfall 50000 - 30000 = 20000 (the commitment counts usage only, not items).
     * subtotal 30000 + 250 + 2400 + 48 - 900 + 20000 = 51798 */
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "30000", "30000");
    r = price(pl, in, 1, "2026-11", NULL, &err);
    if (r) {
        STR_EQ(cents(label_amount(r, "Business support", &n)), "2400.00");
        STR_EQ(cents(label_amount(r, "Volume discount", &n)), "-900.00");
        STR_EQ(cents(label_amount(r, "Commitment shortfall", &n)), "20000.00");
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "51798.00");
    }
    rb_priced_free(r);

    /* No usage at all: fee 250, support minimum 100, handling 2, shortfall 50000. */
    r = price(pl, NULL, 0, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (r) {
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "50352.00");
        STR_EQ(rb_priced_totals(r)->currency, "USD");
    }
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_item_filters_itemized_periods(void)
{
    struct rbi_plan *p;
    struct rbi_item it;
    rb_plan *pl;
    rb_priced *r;
    rb_price_input in[4];
    rb_error err;
    const char *ec2[] = {"AmazonEC2"};
    const char *usage[] = {"Usage"};
    int n;

    rbi_plan_new(&p, RBI_BASE_BILLED, "filters");
    it = item(RBI_ITEM_CREDIT, "Migration credit", RBI_AMT_PERCENT, "f:1");
    it.percent = D("25");
    it.services = ec2;
    it.nservices = 1;
    it.line_types = usage;
    it.nline_types = 1;
    it.has_max = true;
    it.maximum = D("1000");
    it.from = M("2026-01");
    it.to = M("2026-06");
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_FEE, "Ops fee", RBI_AMT_PERCENT, "f:2");
    it.percent = D("3");
    it.itemized = true;
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    it = item(RBI_ITEM_FEE, "Quarterly review", RBI_AMT_FLAT, "f:3");
    it.amount = D("300");
    it.of_usage = false;
    it.from = M("2026-01");
    it.every = 3;
    OK(rbi_plan_add_item(p, &it, &err) == RB_OK, "%s", err.msg);
    pl = wrap(p);
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "2000", "2000");
    in[1] = L(A1, "AmazonEC2", "", "Credit", "0", "-100", "0"); /* passed, not Usage */
    in[2] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1", "1000", "1000");
    in[3] = L(A2, "AmazonEC2", "BoxUsage:t3.micro", "Usage", "1", "4000", "4000");

    /* 2026-04: migration 25% of EC2 usage (2000 + 4000 = 6000) = 1500, capped at 1000: -1000;
     * ops fee itemized, 3% per service of usage and passed lines: EC2 (2000 - 100 + 4000) =
     * 5900 x 3% = 177, S3 1000 x 3% = 30; quarterly review (01, 04, 07...) 300.
     * subtotal 2000 - 100 + 1000 + 4000 - 1000 + 177 + 30 + 300 = 6407 */
    r = price(pl, in, 4, "2026-04", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (r) {
        STR_EQ(cents(label_amount(r, "Migration credit", &n)), "-1000.00");
        STR_EQ(cents(label_amount(r, "Ops fee", &n)), "207.00");
        INT_EQ(n, 2);
        STR_EQ(cents(label_amount(r, "Quarterly review", &n)), "300.00");
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "6407.00");
        for (size_t i = 0; i < rb_priced_count(r); i++) {
            const rb_price_line *l = rb_priced_line(r, i);
            if (strcmp(l->label, "Ops fee") == 0 && strcmp(l->service, "AmazonS3") == 0)
                STR_EQ(cents(l->amount), "30.00");
        }
    }
    rb_priced_free(r);
    /* 2026-07: no migration credit (ended 06), review again (07);
     * 2026-08: neither. subtotals 6900 + 207 + 300 = 7407 and 7107 */
    r = price(pl, in, 4, "2026-07", NULL, &err);
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "7407.00");
    rb_priced_free(r);
    r = price(pl, in, 4, "2026-08", NULL, &err);
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "7107.00");
    rb_priced_free(r);
    /* 2025-12: before the review's first month too: 6900 + 207 */
    r = price(pl, in, 4, "2025-12", NULL, &err);
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "7107.00");
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_item_refusals(void)
{
    struct rbi_plan *p;
    struct rbi_item it;
    rb_error err;
    int bad[1] = {3};

    rbi_plan_new(&p, RBI_BASE_LIST, "bad items");
    it = item(RBI_ITEM_FEE, "", RBI_AMT_FLAT, "b:1");
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:1: an item needs a 'name'");
    it = item(RBI_ITEM_FEE, "Fee", RBI_AMT_FLAT, "b:2");
    it.amount = D("1");
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_OK);
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:2: two items named \"Fee\"");
    it = item(RBI_ITEM_FEE, "Other", RBI_AMT_PERCENT, "b:3");
    it.percent = D("1");
    it.of_items = bad;
    it.nof_items = 1;
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:3: 'of' names an item not declared before");
    it = item(RBI_ITEM_FEE, "Other", RBI_AMT_PERCENT, "b:4");
    it.has_min = it.has_max = true;
    it.minimum = D("10");
    it.maximum = D("5");
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:4: 'minimum' is above 'maximum'");
    it = item(RBI_ITEM_FEE, "Other", RBI_AMT_FLAT, "b:5");
    it.itemized = true;
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:5: a flat amount cannot be itemized");
    it = item(RBI_ITEM_FEE, "Other", RBI_AMT_PERCENT, "b:6");
    it.from = M("2026-05");
    it.to = M("2026-04");
    INT_EQ(rbi_plan_add_item(p, &it, &err), RB_INVALID);
    STR_EQ(err.msg, "b:6: 'to' is before 'from'");
    INT_EQ(p->nitems, 1);
    rbi_plan_free(p);
}

/* {===================================================================================
 * Tax, currency, rounding
 * =================================================================================== */

static void test_tax_and_currency(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_price_input in[2];
    rb_dec rate = D("0.9187");
    rb_error err;

    rbi_plan_new(&p, RBI_BASE_LIST, "EUR with VAT");
    p->has_tax = true;
    snprintf(p->tax_name, sizeof(p->tax_name), "VAT");
    p->tax_rate = D("21");
    p->has_fx = true;
    memcpy(p->fx_code, "EUR", 4);
    snprintf(p->fx_where, sizeof(p->fx_where), "rules/eu.lua:30");
    INT_EQ(rbi_plan_add_fx(p, M("2026-11"), &rate, &err), RB_OK);
    INT_EQ(rbi_plan_add_fx(p, M("2026-11"), &rate, &err), RB_INVALID);
    STR_EQ(err.msg, "rules/eu.lua:30: two exchange rates for 2026-11");
    pl = wrap(p);
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "100.00", "100.00");
    in[1] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1", "23.45", "23.45");
    r = price(pl, in, 2, "2026-11", NULL, &err);
    OK(r != NULL, "%s", err.msg);
    if (r) {
        const rb_price_totals *t = rb_priced_totals(r);
        /* 100 x 0.9187 = 91.87; 23.45 x 0.9187 = 21.543515; sum 113.413515 -> 113.41;
         * VAT 21% of 113.41 = 23.8161 -> 23.82; total 137.23 */
        STR_EQ(t->currency, "EUR");
        STR_EQ(t->usage_currency, "USD");
        STR_EQ(text(rb_priced_line(r, 1)->amount), "21.543515");
        STR_EQ(text(rb_priced_cost(r, 1)->price), "23.45"); /* partner view: USD */
        STR_EQ(text(t->subtotal), "113.41");
        STR_EQ(text(t->tax), "23.82");
        STR_EQ(text(t->total), "137.23");
        STR_EQ(t->tax_name, "VAT");
        STR_EQ(text(t->fx_rate), "0.9187");
        /* the margin stays in the usage currency: 123.45 - 123.45 */
        STR_EQ(raw(rb_priced_margin(r)->margin), "0.00");
    }
    rb_priced_free(r);
    r = price(pl, in, 2, "2026-12", NULL, &err);
    OK(r == NULL, "priced without a rate");
    INT_EQ(err.code, RB_INVALID);
    STR_EQ(err.msg, "rules/eu.lua:30: no exchange rate USD -> EUR for 2026-12");
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_rounding_modes(void)
{
    struct rbi_plan *p;
    rb_plan *pl;
    rb_priced *r;
    rb_price_input in[1];
    rb_error err;

    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "0.125", "0.125");
    rbi_plan_new(&p, RBI_BASE_LIST, "even");
    pl = wrap(p);
    r = price(pl, in, 1, "2026-11", NULL, &err);
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "0.12"); /* half-even */
    rb_priced_free(r);
    rb_plan_free(pl);
    rbi_plan_new(&p, RBI_BASE_LIST, "up");
    p->rounding = RB_ROUND_HALF_UP;
    pl = wrap(p);
    r = price(pl, in, 1, "2026-11", NULL, &err);
    if (r)
        STR_EQ(raw(rb_priced_totals(r)->subtotal), "0.13");
    rb_priced_free(r);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Chains and refusals
 * =================================================================================== */

static void test_chain_cost(void)
{
    struct rbi_plan *p;
    struct rbi_rule r;
    rb_plan *pl;
    rb_priced *res;
    rb_price_input in[2];
    rb_dec cost[2];
    rb_error err;

    /* The reseller passes through its own cost (the distributor's price) plus 10%. */
    rbi_plan_new(&p, RBI_BASE_BILLED, "reseller");
    r = pct(NULL, NULL, NULL, NULL, "10", "c:1");
    rbi_plan_add_rule(p, &r, &err);
    pl = wrap(p);
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "80", "100");
    in[1] = L(A1, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1", "20", "25");
    cost[0] = D("95"); /* the distributor charged list - 5% */
    cost[1] = D("23.75");
    res = price(pl, in, 2, "2026-11", cost, &err);
    OK(res != NULL, "%s", err.msg);
    if (res) {
        /* 95 x 1.1 = 104.5; 23.75 x 1.1 = 26.125; subtotal 130.625 -> 130.62 (half-even);
         * cost 118.75; margin 130.62 - 118.75 = 11.87. AWS billed stays visible: 100. */
        STR_EQ(text(rb_priced_line(res, 0)->amount), "104.5");
        STR_EQ(raw(rb_priced_totals(res)->subtotal), "130.62");
        STR_EQ(raw(rb_priced_margin(res)->cost), "118.75");
        STR_EQ(raw(rb_priced_margin(res)->margin), "11.87");
        STR_EQ(raw(rb_priced_margin(res)->billed), "100.00");
        STR_EQ(text(rb_priced_cost(res, 0)->cost), "95");
        STR_EQ(text(rb_priced_cost(res, 0)->billed), "80");
    }
    rb_priced_free(res);
    rb_plan_free(pl);
}

static void test_refusals(void)
{
    rb_plan *pl = NULL;
    rb_priced *r;
    rb_price_input in[2];
    rb_error err;
    struct rbi_plan *p;
    struct rbi_rule ru;

    rb_plan_default(&pl);
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "1", "1");
    in[1] = L(A2, "AmazonS3", "TimedStorage-ByteHrs", "Usage", "1", "1", "1");
    memcpy(in[1].currency, "EUR", 4);
    r = price(pl, in, 2, "2026-11", NULL, &err);
    OK(r == NULL, "priced two currencies");
    INT_EQ(err.code, RB_INVALID);
    STR_EQ(err.msg, "usage in two currencies: USD and EUR; price each currency separately "
                    "(pricing account 222222222222, service AmazonS3, usage type "
                    "TimedStorage-ByteHrs)");
    in[1].currency[0] = '\0';
    r = price(pl, in, 2, "2026-11", NULL, &err);
    OK(r == NULL, "priced without a currency");
    STR_HAS(err.msg, "usage line 2 has no currency");
    in[1].service = NULL;
    r = price(pl, in, 2, "2026-11", NULL, &err);
    OK(r == NULL, "priced without a service");
    STR_HAS(err.msg, "usage line 2 has no service or line type");
    INT_EQ(rb_price(pl, NULL, &r, &err), RB_MISUSE);
    INT_EQ(rb_price(NULL, NULL, NULL, &err), RB_MISUSE);
    rb_plan_free(pl);

    /* Overflow names the line. */
    rbi_plan_new(&p, RBI_BASE_LIST, "big");
    ru = pct(NULL, NULL, NULL, NULL, "10", "o:1");
    rbi_plan_add_rule(p, &ru, &err);
    pl = wrap(p);
    in[0] = L(A1, "AmazonEC2", "BoxUsage:m5.large", "Usage", "1", "9000000000000000000000000000",
              "9000000000000000000000000000");
    r = price(pl, in, 1, "2026-11", NULL, &err);
    OK(r == NULL, "no overflow");
    INT_EQ(err.code, RB_OVERFLOW);
    STR_EQ(err.msg, "price: amount out of range (more than 38 digits) (pricing account "
                    "111111111111, service AmazonEC2, usage type BoxUsage:m5.large)");
    rb_plan_free(pl);
}

/* What a customer-facing document can read is rb_price_line: it has no partner figure. */
static void test_customer_struct_has_no_cost(void)
{
    rb_price_line l;

    /* kind, 7 strings, 2 amounts (quantity, amount): a billed or margin field would not fit */
    OK(sizeof(l) <= 8 + 7 * sizeof(char *) + 2 * sizeof(rb_dec), "rb_price_line grew: %zu",
       sizeof(l));
    rb_plan_free(NULL);
    rb_priced_free(NULL);
    INT_EQ(rb_priced_count(NULL), 0);
    OK(rb_priced_line(NULL, 0) == NULL, "line of NULL");
    STR_EQ(rb_price_kind_name(RB_PRICE_COMMIT), "commitment");
    STR_EQ(rb_price_kind_name((rb_price_kind)99), "unknown");
}

int main(void)
{
    mixed_init();
    s3_tiers_init();
    support_tiers_init();
    test_default_list_price();
    test_free_tier_off();
    test_billed_base();
    test_effective_base();
    test_policy_override();
    test_classify();
    test_scopes();
    test_match_order();
    test_rule_refusals();
    test_tiers_apply();
    test_rates_and_tiers();
    test_items();
    test_item_filters_itemized_periods();
    test_item_refusals();
    test_tax_and_currency();
    test_rounding_modes();
    test_chain_cost();
    test_refusals();
    test_customer_struct_has_no_cost();
    return harness_done();
}
