/*
 * test_plan.c -- plans from rule files and in the store: compiling (every constructor's
 * checks, with the file:line they report), Lua floats as exact decimals, hooks and their
 * objects, runtime errors naming the line item, limits; plan assignments (cutting and
 * replacing months, unassign, history, content by hash); pricing from the store through a
 * customer -> reseller -> distributor chain, and a run over many customers where one fails.
 * Expected prices are worked out by hand in the comments.
 */
#include "harness.h"
#include "plan.h"
#include "sandbox.h"

#include <stdlib.h>
#include <unistd.h>

static rb_dec D(const char *s)
{
    rb_dec d = rb_dec_zero();

    rb_dec_parse(&d, s, strlen(s), NULL);
    return d;
}

static int M(const char *s)
{
    int m = -1;

    rb_month_parse(&m, s, NULL);
    return m;
}

static const char *text(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;

    k = (k + 1) % 8;
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

static const char *norm(rb_dec d)
{
    d = rb_dec_normalize(&d);
    return text(d);
}

/* Compile src as "t.lua"; returns the status, err filled. */
static rb_status compile(const char *src, rb_plan **out, rb_error *err)
{
    rb_plan *pl = NULL;
    rb_status rc = rb_plan_compile(&pl, "t.lua", src, strlen(src), NULL, err);

    if (out)
        *out = pl;
    else
        rb_plan_free(pl);
    return rc;
}

/* The compile error of src (its message), or "ok". */
static const char *compile_error(const char *src)
{
    static rb_error err;

    if (compile(src, NULL, &err) == RB_OK)
        return "ok";
    return err.msg;
}

static rb_price_input in1(const char *svc, const char *ut, const char *list)
{
    rb_price_input in;

    memset(&in, 0, sizeof(in));
    in.account = "111111111111";
    in.service = svc;
    in.usage_type = ut;
    in.operation = "";
    in.region = "";
    in.line_type = "Usage";
    in.entity = "AWS";
    memcpy(in.currency, "USD", 4);
    in.quantity = D("1");
    in.billed = in.list = in.effective = D(list);
    return in;
}

/* {===================================================================================
 * Compiling
 * =================================================================================== */

static void test_compile_model(void)
{
    rb_plan *pl = NULL;
    rb_error err;
    struct rbi_plan *p;
    const char *src = "return rebill.plan {\n"
                      "  name = 'Acme',\n"
                      "  base = 'billed',\n"
                      "  free_tier = false,\n"
                      "  rounding = 'half_up',\n"
                      "  passthrough = { Credit = 'hide', Tax = 'price' },\n"
                      "  rebill.markup { percent = 0.1 },\n"
                      "  rebill.discount { service = 'AmazonEC2', percent = 12.5 },\n"
                      "  rebill.rate { usage_type = 'DT-Out', price = 0.95 },\n"
                      "  rebill.tiered { usage_type = 'TS', tiers = {{upto = 10, price = 1},"
                      " {price = '0.5'}}, volume = true },\n"
                      "  rebill.fee { name = 'F', amount = 10 },\n"
                      "  rebill.credit { name = 'C', percent = 1, of = { 'usage', 'F' } },\n"
                      "  rebill.commitment { name = 'K', amount = 1000, from = '2026-01' },\n"
                      "  rebill.tax { name = 'VAT', rates = { DE = 19, FR = '20' },"
                      " country = 'FR' },\n"
                      "  rebill.currency { code = 'EUR', rates = { ['2026-11'] = 0.9 } },\n"
                      "}\n";

    INT_EQ(compile(src, &pl, &err), RB_OK);
    if (!pl) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    p = rbi_plan_model(pl);
    STR_EQ(rb_plan_name(pl), "Acme");
    INT_EQ(p->base, RBI_BASE_BILLED);
    OK(!p->free_tier, "free tier on");
    INT_EQ(p->rounding, RB_ROUND_HALF_UP);
    INT_EQ(p->action[RBI_LT_CREDIT], RBI_ACT_HIDE);
    INT_EQ(p->action[RBI_LT_TAX], RBI_ACT_PRICE);
    INT_EQ(p->action[RBI_LT_REFUND], RBI_ACT_PASS); /* the base's default */
    INT_EQ(p->nrules, 4);
    /* Lua floats are their shortest decimal: 0.1 is 0.1, 12.5 is 12.5, 0.95 is 0.95 */
    STR_EQ(text(p->rules[0].percent), "0.1");
    STR_EQ(text(p->rules[0].factor), "1.001");
    STR_EQ(text(p->rules[1].percent), "-12.5");
    STR_EQ(text(p->rules[2].rate), "0.95");
    OK(p->rules[3].volume, "volume");
    STR_EQ(p->rules[0].where, "t.lua:7");
    STR_EQ(p->rules[3].where, "t.lua:10");
    INT_EQ(p->nitems, 3);
    INT_EQ(p->items[1].nof_items, 1);
    INT_EQ(p->items[1].of_items[0], 0);
    OK(p->items[1].of_usage, "of usage");
    INT_EQ(p->items[2].kind, RBI_ITEM_COMMIT);
    INT_EQ(p->items[2].from, M("2026-01"));
    INT_EQ(p->items[2].to, RB_MONTH_OPEN);
    OK(p->has_tax, "tax");
    STR_EQ(text(p->tax_rate), "20");
    OK(p->has_fx && strcmp(p->fx_code, "EUR") == 0, "fx");
    INT_EQ(p->nfx, 1);
    STR_EQ(text(p->fx[0].rate), "0.9");
    rb_plan_free(pl);
}

/* passthrough["*"] sets every line type the table does not name. */
static void test_passthrough_default(void)
{
    rb_plan *pl = NULL;
    rb_error err;
    struct rbi_plan *p;

    INT_EQ(compile("return rebill.plan { base = 'billed',\n"
                   "  passthrough = { ['*'] = 'hide', Usage = 'price', Tax = 'pass' } }",
                   &pl, &err),
           RB_OK);
    if (!pl)
        return;
    p = rbi_plan_model(pl);
    INT_EQ(p->action[RBI_LT_USAGE], RBI_ACT_PRICE);
    INT_EQ(p->action[RBI_LT_TAX], RBI_ACT_PASS);
    INT_EQ(p->action[RBI_LT_CREDIT], RBI_ACT_HIDE);     /* billed default: pass */
    INT_EQ(p->action[RBI_LT_SP_COVERED], RBI_ACT_HIDE); /* billed default: price */
    INT_EQ(p->action[RBI_LT_OTHER], RBI_ACT_HIDE);
    rb_plan_free(pl);
}

static void test_compile_errors(void)
{
    /* what the file is and returns */
    STR_EQ(compile_error("return 42"), "t.lua: the rule file must return rebill.plan{...}, not "
                                       "a number");
    /* a hand-made table is read with the same checks as a constructed one */
    STR_EQ(compile_error("return { kind = 'plan', nme = 1 }"),
           "t.lua: rebill.plan: unknown key 'nme' (allowed: name, base, free_tier, rounding, "
           "passthrough, on_line, on_invoice, tests)");
    STR_EQ(compile_error("return rebill.markup { percent = 1 }"),
           "t.lua: the rule file must return rebill.plan{...}, not rebill.markup");
    /* metamethods on what a rule returns never run: tables are read raw */
    STR_EQ(compile_error("return setmetatable({}, { __index = function() while true do end "
                         "end })"),
           "t.lua: the rule file must return rebill.plan{...}");
    STR_EQ(compile_error("local t = rebill.plan { name = 'x' }\n"
                         "setmetatable(t, { __len = function() while true do end end,\n"
                         "  __index = function() error('ran') end })\nreturn t"),
           "ok");
    STR_HAS(compile_error("return rebill.plan {"), "t.lua:1:");
    STR_HAS(compile_error("local x = \nreturn rebill.plan { 1 }"), "t.lua:2");
    STR_EQ(compile_error("return rebill.plan { 42 }"),
           "t.lua:1: a plan's list holds rebill.markup{...}, rebill.fee{...} and the like, "
           "not a number");
    STR_EQ(compile_error("return rebill.plan { { percent = 5 } }"),
           "t.lua:1: a plan's list holds tables made by rebill.markup{...}, rebill.fee{...} "
           "and the like");
    STR_HAS(compile_error("return rebill.plan { rebill.test { name = 'x', usage = 'a',"
                          " expect = {} } }"),
            "t.lua:1: a rebill.test cannot be an item of a plan");
    STR_EQ(compile_error("return rebill.plan 'x'"),
           "t.lua:1: rebill.plan takes a table: rebill.plan{ ... }, not a string");
    STR_HAS(compile_error("return rebill.dicount { percent = 1 }"), "t.lua:1:");
    /* unknown keys, with the line of the constructor */
    STR_EQ(compile_error("return rebill.plan {\n  rebill.discount {\n    service = 'AmazonEC2',\n"
                         "    percnt = 5 },\n}"),
           "t.lua:2: rebill.discount: unknown key 'percnt' (allowed: percent, service, entity, "
           "usage_type, operation)");
    STR_EQ(compile_error("return rebill.plan { nme = 'x' }"),
           "t.lua:1: rebill.plan: unknown key 'nme' (allowed: name, base, free_tier, rounding, "
           "passthrough, on_line, on_invoice, tests)");
    STR_EQ(compile_error("return rebill.plan { [true] = 1 }"),
           "t.lua:1: rebill.plan: keys must be names or list positions, not boolean values");
    /* values */
    STR_EQ(compile_error("return rebill.plan { base = 'cost' }"),
           "t.lua:1: rebill.plan: 'base' must be \"list\", \"billed\" or \"effective\", not "
           "\"cost\"");
    STR_EQ(compile_error("return rebill.plan { free_tier = 1 }"),
           "t.lua:1: rebill.plan: 'free_tier' must be true or false, not a number");
    STR_EQ(compile_error("return rebill.plan { rounding = 'up' }"),
           "t.lua:1: rebill.plan: 'rounding' must be \"half_even\" or \"half_up\", not \"up\"");
    STR_HAS(compile_error("return rebill.plan { passthrough = { Credits = 'pass' } }"),
            "t.lua:1: rebill.plan: 'passthrough': unknown line type \"Credits\" (known: Usage, "
            "DiscountedUsage,");
    STR_EQ(compile_error("return rebill.plan { passthrough = { Credit = 'show' } }"),
           "t.lua:1: rebill.plan: 'passthrough'.Credit must be \"pass\", \"hide\" or \"price\"");
    STR_EQ(compile_error("return rebill.plan { on_line = 5 }"),
           "t.lua:1: rebill.plan: 'on_line' must be a function, not a number");
    STR_EQ(compile_error("return rebill.plan { rebill.discount { percent = 101 } }"),
           "t.lua:1: rebill.discount: 'percent' of a discount must be 0..100");
    STR_EQ(compile_error("return rebill.plan { rebill.discount { percent = -1 } }"),
           "t.lua:1: rebill.discount: 'percent' must not be negative (use rebill.markup)");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { percent = -1 } }"),
           "t.lua:1: rebill.markup: 'percent' must not be negative (use rebill.discount)");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { percent = 'ten' } }"),
           "t.lua:1: rebill.markup: 'percent' must be an amount (money, a number or decimal "
           "text), not the text ten");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { percent = 0/0 } }"),
           "t.lua:1: rebill.markup: 'percent' must be an amount (money, a number or decimal "
           "text), not a number");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { } }"),
           "t.lua:1: rebill.markup: 'percent' is required");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { percent = 1, service = '' } }"),
           "t.lua:1: rebill.markup: 'service' must be 1..256 bytes of text");
    STR_EQ(compile_error("return rebill.plan { rebill.markup { percent = 1, service = 'S',"
                         " entity = 'E' } }"),
           "t.lua:1: a billing entity scope takes no service, usage type or operation");
    STR_EQ(compile_error("return rebill.plan { rebill.rate { price = 1 } }"),
           "t.lua:1: rebill.rate: 'usage_type' is required");
    STR_EQ(compile_error("return rebill.plan { rebill.rate { usage_type = 'X', price = -1 } }"),
           "t.lua:1: a rate must not be negative");
    STR_EQ(compile_error("return rebill.plan { rebill.tiered { usage_type = 'X', tiers = {} } }"),
           "t.lua:1: rebill.tiered: 'tiers' must have 1..64 tiers");
    STR_EQ(compile_error("return rebill.plan { rebill.tiered { usage_type = 'X',\n"
                         " tiers = {{upto = 5, price = 1}, {upto = 3, price = 1}, {price = 1}}"
                         " } }"),
           "t.lua:1: tiers: tier 2: 'upto' must be above the previous tier's");
    STR_EQ(compile_error("return rebill.plan { rebill.tiered { usage_type = 'X',"
                         " tiers = {{upto = 5, prce = 1}} } }"),
           "t.lua:1: rebill.tiered: unknown key 'prce' (allowed: upto, price)");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F' } }"),
           "t.lua:1: rebill.fee: give exactly one of 'amount', 'percent' and 'tiers'");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1,"
                         " percent = 2 } }"),
           "t.lua:1: rebill.fee: give exactly one of 'amount', 'percent' and 'tiers'");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { amount = 1 } }"),
           "t.lua:1: rebill.fee: 'name' is required");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'total', amount = 1 } }"),
           "t.lua:1: rebill.fee: 'name' cannot be \"total\" (a word of 'of')");
    STR_EQ(compile_error("return rebill.plan { rebill.credit { name = 'C', amount = -5 } }"),
           "t.lua:1: rebill.credit: 'amount' must not be negative (a credit's sign is turned "
           "for you)");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 5,"
                         " services = 'S' } }"),
           "t.lua:1: rebill.fee: a flat 'amount' takes no 'of', 'services', 'line_types' or "
           "'entities'");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', percent = 5,"
                         " line_types = {'Usages'} } }"),
           "t.lua:1: rebill.fee: 'line_types': unknown line type \"Usages\"");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', percent = 5,"
                         " of = 'G' } }"),
           "t.lua:1: rebill.fee: 'of' names \"G\", which is no item declared before this one");
    STR_EQ(compile_error("return rebill.plan {\n rebill.fee { name = 'F', amount = 1 },\n"
                         " rebill.fee { name = 'F', amount = 2 } }"),
           "t.lua:3: two items named \"F\"");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1,"
                         " period = '2026-13' } }"),
           "t.lua:1: rebill.fee: 'period' must be a month YYYY-MM, not \"2026-13\"");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1,"
                         " period = '2026-01', to = '2026-03' } }"),
           "t.lua:1: rebill.fee: give 'period' (one month) or 'from'/'to', not both");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1,"
                         " from = '2026-05', to = '2026-03' } }"),
           "t.lua:1: rebill.fee: 'to' is before 'from'");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1, every = 3"
                         " } }"),
           "t.lua:1: rebill.fee: 'every' needs 'from' (the first month)");
    STR_EQ(compile_error("return rebill.plan { rebill.fee { name = 'F', amount = 1,"
                         " itemized = true } }"),
           "t.lua:1: rebill.fee: 'itemized' needs a 'percent' of usage lines (no 'of', minimum "
           "or maximum)");
    STR_EQ(compile_error("return rebill.plan { rebill.commitment { name = 'K', amount = 0 } }"),
           "t.lua:1: rebill.commitment: 'amount' of a commitment must be above 0");
    STR_EQ(compile_error("return rebill.plan { rebill.commitment { name = 'K', amount = 1,"
                         " percent = 1 } }"),
           "t.lua:1: rebill.commitment: unknown key 'percent' (allowed: name, amount, of, "
           "services, line_types, entities, from, to, period, every)");
    STR_EQ(compile_error("return rebill.plan { rebill.tax { name = 'VAT' } }"),
           "t.lua:1: rebill.tax: give 'rate', or 'rates' with 'country'");
    STR_EQ(compile_error("return rebill.plan { rebill.tax { name = 'VAT', rates = {DE = 19},"
                         " country = 'FR' } }"),
           "t.lua:1: rebill.tax: 'rates' has no rate for country \"FR\"");
    STR_EQ(compile_error("return rebill.plan { rebill.tax { name = 'VAT', rate = 120 } }"),
           "t.lua:1: rebill.tax: tax rate must be 0..100 percent");
    STR_EQ(compile_error("return rebill.plan { rebill.tax { name = 'A', rate = 1 },"
                         " rebill.tax { name = 'B', rate = 2 } }"),
           "t.lua:1: rebill.tax: a plan has one rebill.tax");
    STR_EQ(compile_error("return rebill.plan { rebill.currency { code = 'eur', rates = {} } }"),
           "t.lua:1: rebill.currency: 'code' must be an ISO 4217 code such as \"EUR\", not "
           "\"eur\"");
    STR_EQ(compile_error("return rebill.plan { rebill.currency { code = 'EUR',"
                         " rates = { november = 1 } } }"),
           "t.lua:1: rebill.currency: 'rates' keys must be months \"YYYY-MM\"");
    STR_EQ(compile_error("return rebill.plan { rebill.currency { code = 'EUR',"
                         " rates = { ['2026-11'] = 0 } } }"),
           "t.lua:1: rebill.currency: 'rates'[\"2026-11\"] must be an amount above 0");
    /* a second rule for one scope: both positions */
    STR_EQ(compile_error("return rebill.plan {\n rebill.discount { service = 'S', percent = 1 },"
                         "\n rebill.markup { service = 'S', percent = 2 } }"),
           "t.lua:3: a second rule for service S (the first is at t.lua:2)");
    /* tests' shape */
    STR_EQ(compile_error("return rebill.plan { tests = { rebill.test { name = 'x' } } }"),
           "t.lua:1: rebill.test: give 'usage' (CSV text) or 'usage_file' (a CSV path)");
    STR_EQ(compile_error("return rebill.plan { tests = { rebill.test { name = 'x',"
                         " usage = '' } } }"),
           "t.lua:1: rebill.test: give 'expect' or 'expect_error'");
    STR_EQ(compile_error("return rebill.plan { tests = { rebill.test { name = 'x', usage = '',"
                         " expect = { totl = 1 } } } }"),
           "t.lua:1: rebill.test: expect: unknown key 'totl' (allowed: lines, subtotal, tax, "
           "total, margin, cost, price, currency)");
    STR_EQ(compile_error("return rebill.plan { tests = { { name = 'x' } } }"),
           "t.lua:1: rebill.plan: 'tests'[1] must be a rebill.test{...}");
    /* a constructed table is used once */
    STR_EQ(compile_error("local m = rebill.markup { percent = 1 }\nreturn rebill.plan {"
                         " rebill.markup(m) }"),
           "t.lua:2: rebill.markup: this table was already made by a constructor (or has a "
           "field 'kind')");
    /* helpers of scripts/: the error is shown at the rule file's line */
    STR_EQ(compile_error("local s = require('rebill.sheet')\nreturn rebill.plan {\n"
                         " s.discounts { AmazonEC2 = 150 } }"),
           "t.lua:3: rebill.discount: 'percent' of a discount must be 0..100");
    STR_EQ(compile_error("local v = require('rebill.vat')\nreturn rebill.plan { v.tax('XX') }"),
           "t.lua:2: rebill.vat: no standard VAT rate for country 'XX'");
}

static void test_helpers(void)
{
    rb_plan *pl = NULL;
    rb_error err;
    const char *src = "local support = require('rebill.support')\n"
                      "local sheet = require('rebill.sheet')\n"
                      "local vat = require('rebill.vat')\n"
                      "return rebill.plan {\n"
                      "  sheet.discounts { AmazonS3 = 5, AmazonEC2 = 10 },\n"
                      "  support.fee('enterprise'),\n"
                      "  vat.tax('FI'),\n"
                      "}\n";
    rb_price_input in[2];
    rb_price_request req = {"o-x", 0, in, 2, NULL, false};
    rb_priced *r = NULL;

    INT_EQ(compile(src, &pl, &err), RB_OK);
    if (!pl) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    /* sorted: AmazonEC2 first */
    STR_EQ(rbi_plan_model(pl)->rules[0].service, "AmazonEC2");
    STR_EQ(rbi_plan_model(pl)->rules[0].where, "t.lua:5");
    STR_EQ(rbi_plan_model(pl)->items[0].name, "Enterprise support");
    STR_EQ(text(rbi_plan_model(pl)->tax_rate), "25.5");
    req.month = M("2026-11");
    in[0] = in1("AmazonEC2", "BoxUsage", "200000");
    in[1] = in1("AmazonS3", "TimedStorage", "100000");
    INT_EQ(rb_price(pl, &req, &r, &err), RB_OK);
    if (r) {
        /* usage 180,000 + 95,000 = 275,000; enterprise support 10% x 150,000 + 7% x 125,000
         * = 15,000 + 8,750 = 23,750 (above the 15,000 minimum); subtotal 298,750;
         * VAT FI 25.5% = 76,181.25; total 374,931.25 */
        STR_EQ(text(rb_priced_totals(r)->subtotal), "298750.00");
        STR_EQ(text(rb_priced_totals(r)->tax), "76181.25");
        STR_EQ(text(rb_priced_totals(r)->total), "374931.25");
    }
    rb_priced_free(r);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Hooks
 * =================================================================================== */

static rb_status price_src(const char *src, const rb_price_input *in, size_t n, rb_priced **r,
                           rb_error *err)
{
    rb_plan *pl = NULL;
    rb_price_request req = {"o-hookcustomer", M("2026-11"), in, n, NULL, false};
    rb_status rc = compile(src, &pl, err);

    *r = NULL;
    if (rc == RB_OK)
        rc = rb_price(pl, &req, r, err);
    rb_plan_free(pl);
    return rc;
}

/* Hidden lines stay out of the customer's lines and come back, partner-only, with their cost. */
static void test_hidden_lines(void)
{
    rb_price_input in[3];
    rb_priced *r = NULL;
    rb_error err;

    in[0] = in1("AmazonEC2", "BoxUsage", "100");
    in[1] = in1("AmazonEC2", "", "0");
    in[1].line_type = "Credit";
    in[1].billed = in[1].effective = D("-30");
    in[2] = in1("Tax", "", "0");
    in[2].line_type = "Tax";
    in[2].billed = in[2].effective = D("8");
    INT_EQ(price_src("return rebill.plan { passthrough = { Credit = 'hide', Tax = 'hide' } }", in,
                     3, &r, &err),
           RB_OK);
    if (!r)
        return;
    INT_EQ((long)rb_priced_count(r), 1);
    INT_EQ((long)rb_priced_margin(r)->hidden, 2);
    INT_EQ((long)rb_priced_hidden_count(r), 2);
    STR_EQ(rb_priced_hidden_line(r, 0)->service, "AmazonEC2");
    STR_EQ(rb_priced_hidden_line(r, 0)->line_type, "Credit");
    STR_EQ(norm(rb_priced_hidden_line(r, 0)->amount), "0");
    STR_EQ(norm(rb_priced_hidden_cost(r, 0)->cost), "-30");
    STR_EQ(norm(rb_priced_hidden_cost(r, 0)->billed), "-30");
    INT_EQ(rb_priced_hidden_cost(r, 0)->input, 1);
    STR_EQ(rb_priced_hidden_cost(r, 0)->rule, "hidden");
    STR_EQ(rb_priced_hidden_line(r, 1)->service, "Tax");
    STR_EQ(norm(rb_priced_hidden_cost(r, 1)->cost), "8");
    OK(rb_priced_hidden_line(r, 2) == NULL && rb_priced_hidden_cost(r, 2) == NULL, "past the end");
    /* the partner's cost holds them: 100 - 30 + 8 */
    STR_EQ(norm(rb_priced_margin(r)->cost), "78");
    rb_priced_free(r);
    OK(rb_priced_hidden_count(NULL) == 0 && rb_priced_hidden_line(NULL, 0) == NULL, "NULL result");
}

/* Graduated tiers price the same lines the same whatever order they come in. */
static void test_tier_order(void)
{
    static const char src[] = "return rebill.plan { rebill.tiered { usage_type = 'GB', tiers = {\n"
                              "  { upto = 100, price = 1 }, { price = 0.5 } } } }";
    rb_price_input in[2];
    rb_priced *r = NULL;
    rb_error err;

    for (int flip = 0; flip < 2; flip++) {
        in[flip] = in1("AmazonEC2", "GB", "0");
        in[flip].quantity = D("80");
        in[1 - flip] = in1("AmazonS3", "GB", "0");
        in[1 - flip].quantity = D("80");
        INT_EQ(price_src(src, in, 2, &r, &err), RB_OK);
        if (!r)
            continue;
        /* AmazonEC2 first: 80 x 1 = 80; AmazonS3: 20 x 1 + 60 x 0.5 = 50 */
        STR_EQ(norm(rb_priced_line(r, (size_t)flip)->amount), "80");
        STR_EQ(norm(rb_priced_line(r, (size_t)(1 - flip))->amount), "50");
        STR_EQ(rb_priced_line(r, (size_t)flip)->service, "AmazonEC2");
        rb_priced_free(r);
        r = NULL;
    }
}

static void test_hooks(void)
{
    rb_price_input in[3];
    rb_priced *r;
    rb_error err;
    rb_status rc;

    in[0] = in1("AmazonEC2", "SpotUsage:c5", "100");
    in[1] = in1("AmazonEC2", "BoxUsage:c5", "100");
    in[2] = in1("Boom", "Bang", "1");

    /* the line object's fields; the price the rules gave; a new price */
    rc = price_src("return rebill.plan {\n"
                   " rebill.markup { percent = 10 },\n"
                   " on_line = function(l)\n"
                   "   if l.usage_type == 'SpotUsage:c5' then\n"
                   "     assert(l.account == '111111111111' and l.service == 'AmazonEC2')\n"
                   "     assert(l.line_type == 'Usage' and l.entity == 'AWS' and"
                   " l.currency == 'USD')\n"
                   "     local m = rebill.money\n"
                   "     assert(l.price == m(110) and l.base == m(100) and l.cost == m(100))\n"
                   "     assert(l.margin == m(10) and l.quantity == m(1) and l.list == m(100))\n"
                   "     assert(l.rule == 'global' and l.price ~= 110) -- money ~= number\n"
                   "     return l.list * 0.5\n"
                   "   end\n"
                   " end }",
                   in, 2, &r, &err);
    INT_EQ(rc, RB_OK);
    if (r) {
        STR_EQ(norm(rb_priced_line(r, 0)->amount), "50");
        STR_EQ(rb_priced_cost(r, 0)->rule, "on_line hook");
        STR_EQ(norm(rb_priced_line(r, 1)->amount), "110");
    }
    rb_priced_free(r);

    /* a runtime error names file:line and the line item */
    rc = price_src("return rebill.plan { on_line = function(l)\n"
                   "  if l.service == 'Boom' then error('no price for ' .. l.usage_type) end\n"
                   "end }",
                   in, 3, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(err.msg, "t.lua:2: no price for Bang (pricing account 111111111111, service Boom, "
                    "usage type Bang)");
    /* unknown fields, writes, bad results */
    rc = price_src("return rebill.plan { on_line = function(l) return l.prise end }", in, 1, &r,
                   &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_HAS(err.msg, "t.lua:1: a line has no field 'prise' (fields: account,");
    rc = price_src("return rebill.plan { on_line = function(l) l.price = 1 end }", in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_HAS(err.msg, "t.lua:1: a line is read-only: return the new price from on_line instead");
    rc = price_src("return rebill.plan { on_line = function(l) return {} end }", in, 1, &r, &err);
    INT_EQ(rc, RB_INVALID);
    STR_EQ(err.msg, "t.lua:1: on_line must return money, a number, decimal text or nil, not a "
                    "table (pricing account 111111111111, service AmazonEC2, usage type "
                    "SpotUsage:c5)");
    rc = price_src("return rebill.plan { on_line = function(l) return 'x' end }", in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_HAS(err.msg, "on_line's result");
    STR_HAS(err.msg, "\"x\"");
    rc = price_src("return rebill.plan { on_line = function(l) return '12.345' end }", in, 1, &r,
                   &err);
    INT_EQ(rc, RB_OK);
    if (r)
        STR_EQ(norm(rb_priced_line(r, 0)->amount), "12.345");
    rb_priced_free(r);
    r = NULL;
    rc = price_src("return rebill.plan { on_line = function(l) return 2.5 end }", in, 1, &r, &err);
    INT_EQ(rc, RB_OK);
    if (r)
        STR_EQ(norm(rb_priced_line(r, 0)->amount), "2.5");
    rb_priced_free(r);
    /* a line object kept for later is dead */
    rc = price_src("local kept\nreturn rebill.plan { on_line = function(l) kept = l end,\n"
                   " on_invoice = function(inv) return kept.price end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(err.msg, "t.lua:3: a line object can be used only during the on_line call that "
                    "received it");
    /* pcall cannot catch a limit */
    rc = price_src("return rebill.plan { on_line = function(l)\n"
                   "  pcall(function() while true do end end) return 1 end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_LIMIT_STEPS);
    STR_HAS(err.msg, "t.lua:2: instruction limit exceeded");
    STR_HAS(err.msg, "(pricing account 111111111111, service AmazonEC2");
}

static void test_invoice_hook(void)
{
    rb_price_input in[2];
    rb_priced *r;
    rb_error err;
    rb_status rc;
    int n = 0;

    in[0] = in1("AmazonEC2", "BoxUsage", "1000");
    in[1] = in1("AmazonS3", "TimedStorage", "500");
    rc = price_src("return rebill.plan {\n"
                   " rebill.fee { name = 'Ops', percent = 10 },\n"
                   " on_invoice = function(inv)\n"
                   "   assert(inv.customer == 'o-hookcustomer' and inv.period == '2026-11')\n"
                   "   local m = rebill.money\n"
                   "   assert(inv.currency == 'USD' and inv.cost == m(1500))\n"
                   "   assert(inv.subtotal == m(1650) and inv.items.Ops == m(150))\n"
                   "   assert(inv.services.AmazonS3 == m(500))\n"
                   "   inv:set_item('Ops', 100)\n"
                   "   inv:add { name = 'Goodwill', amount = -25, service = 'AmazonS3' }\n"
                   "   print('subtotal now', inv.subtotal)\n"
                   " end }",
                   in, 2, &r, &err);
    INT_EQ(rc, RB_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    /* 1000 + 500 + Ops 100 (was 150) - 25 = 1575 */
    STR_EQ(text(rb_priced_totals(r)->subtotal), "1575.00");
    for (size_t i = 0; i < rb_priced_count(r); i++) {
        const rb_price_line *l = rb_priced_line(r, i);
        if (strcmp(l->label, "Goodwill") == 0) {
            n++;
            INT_EQ(l->kind, RB_PRICE_ADDED);
            STR_EQ(l->service, "AmazonS3");
        }
    }
    INT_EQ(n, 1);
    STR_EQ(rb_priced_log(r), "subtotal now\t1575.000000000000\n");
    rb_priced_free(r);

    rc = price_src("return rebill.plan { on_invoice = function(inv)\n"
                   " inv:set_item('Nope', 1) end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(err.msg, "t.lua:2: invoice:set_item: no item named \"Nope\" in the plan");
    rc = price_src("return rebill.plan { on_invoice = function(inv)\n"
                   " inv:add { name = 'X', amount = 1, service = 'AmazonRDS' } end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(err.msg, "t.lua:2: invoice:add: no usage of service \"AmazonRDS\" on this invoice");
    rc = price_src("return rebill.plan { on_invoice = function(inv)\n"
                   " for i = 1, 300 do inv:add { name = 'X' .. i, amount = 1 } end end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(err.msg, "t.lua:2: invoice:add: on_invoice may add at most 200 lines");
    rc = price_src("return rebill.plan { on_invoice = function(inv)\n"
                   " inv:add { name = 'X', amont = 1 } end }",
                   in, 1, &r, &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_HAS(err.msg, "unknown key 'amont' (allowed: name, amount, service)");
    rc = price_src("return rebill.plan { on_invoice = function(inv) inv.total = 1 end }", in, 1, &r,
                   &err);
    INT_EQ(rc, RB_RUNTIME);
    STR_HAS(err.msg, "an invoice is read-only");
}

/* A plan stopped by a limit refuses later runs; another plan is not affected. */
static void test_limits(void)
{
    rb_limits lim = rb_limits_default();
    rb_plan *pl = NULL;
    rb_error err;
    rb_price_input in[1];
    rb_price_request req = {"o-x", 0, in, 1, NULL, false};
    rb_priced *r = NULL;
    const char *src = "return rebill.plan { on_line = function(l) local t = {}\n"
                      " for i = 1, 1e9 do t[i] = i end end }";

    lim.steps = 100000;
    in[0] = in1("AmazonEC2", "BoxUsage", "1");
    req.month = M("2026-11");
    INT_EQ(rb_plan_compile(&pl, "big.lua", src, strlen(src), &lim, &err), RB_OK);
    if (!pl)
        return;
    INT_EQ(rb_price(pl, &req, &r, &err), RB_LIMIT_STEPS);
    STR_HAS(err.msg, "big.lua:2: instruction limit exceeded (100000 instructions)");
    INT_EQ(rb_price(pl, &req, &r, &err), RB_MISUSE);
    STR_EQ(err.msg, "plan big.lua was stopped by a limit earlier: compile it again");
    rb_plan_free(pl);
    lim = rb_limits_default();
    lim.mem_bytes = 2u << 20;
    INT_EQ(rb_plan_compile(&pl, "mem.lua", src, strlen(src), &lim, &err), RB_OK);
    if (pl)
        INT_EQ(rb_price(pl, &req, &r, &err), RB_LIMIT_MEM);
    rb_plan_free(pl);
    /* a main chunk that loops is stopped at compile */
    src = "while true do end";
    lim = rb_limits_default();
    lim.steps = 10000;
    INT_EQ(rb_plan_compile(&pl, "loop.lua", src, strlen(src), &lim, &err), RB_LIMIT_STEPS);
    STR_HAS(err.msg, "loop.lua:1: instruction limit exceeded");
    OK(pl == NULL, "plan from a failed compile");
    INT_EQ(rb_plan_compile(&pl, "os.lua", "os.execute('x')", 15, NULL, &err), RB_RUNTIME);
    STR_HAS(err.msg, "os.lua:1:");
}

/* {===================================================================================
 * The store: assignments, and pricing through a chain
 * =================================================================================== */

static char dir[64], path[128];
static rb_store *S;
static const char *NOW_S = "2026-09-01T00:00:00Z";

static void db_open(void)
{
    rb_error err;

    snprintf(dir, sizeof(dir), "/tmp/rebill-test-plan.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/t.db", dir);
    if (rb_store_open(&S, path, RB_OPEN_CREATE, &err) != RB_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        exit(1);
    }
}

static void db_close(void)
{
    char cmd[200];

    rb_store_close(S);
    S = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#define OD "o-distrib0001"
#define OR "o-reseller001"
#define OC "o-customer01"
#define OE "o-customer02"

struct setup {
    int64_t now;
};

static rb_status setup_fn(rb_txn *txn, void *ctx)
{
    struct setup *s = ctx;
    const char *orgs[4] = {OD, OR, OC, OE};
    const char *mgmt[4] = {"900000000001", "900000000002", "900000000003", "900000000004"};
    const char *accts[3][2] = {{"111111111111", OC}, {"222222222222", OR}, {"333333333333", OE}};
    const char *links[3][2] = {{OC, OR}, {OR, OD}, {OE, OD}};
    rb_status rc = RB_OK;

    for (int i = 0; i < 4 && rc == RB_OK; i++) {
        rb_org o;
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", orgs[i]);
        snprintf(o.name, sizeof(o.name), "org %d", i);
        snprintf(o.management_account, sizeof(o.management_account), "%s", mgmt[i]);
        o.created = s->now;
        rc = rb_org_create(txn, &o);
    }
    for (int i = 0; i < 3 && rc == RB_OK; i++)
        rc = rb_account_add(txn, accts[i][0], "acct", accts[i][1], s->now);
    for (int i = 0; i < 3 && rc == RB_OK; i++) {
        rb_transfer t;
        memset(&t, 0, sizeof(t));
        snprintf(t.name, sizeof(t.name), "link %d", i);
        snprintf(t.source, sizeof(t.source), "%s", links[i][0]);
        snprintf(t.payer, sizeof(t.payer), "%s", links[i][1]);
        t.start_month = M("2026-10");
        rc = rb_transfer_invite(txn, &t, s->now);
        if (rc == RB_OK)
            rc = rb_transfer_accept(txn, t.id, links[i][0], s->now);
    }
    return rc;
}

struct import_ctx {
    rb_usage_import *imp;
    int64_t now;
};

static rb_status import_fn(rb_txn *txn, void *ctx)
{
    struct import_ctx *c = ctx;

    return rb_usage_import_apply(txn, c->imp, c->now);
}

static void setup_db(void)
{
    struct setup s;
    struct import_ctx ic = {NULL, 0};
    rb_usage_import_opts o;
    rb_error err;
    rb_status rc;

    db_open();
    rb_time_parse(&s.now, NOW_S, NULL);
    rc = rb_store_update(S, setup_fn, &s);
    OK(rc == RB_OK, "setup: %s", rb_errmsg(S));
    memset(&o, 0, sizeof(o));
    o.threads = -1;
    ic.now = s.now;
    rc = rb_usage_import_new(&ic.imp, &o, &err);
    if (rc == RB_OK)
        rc = rb_usage_import_file(ic.imp, "tests/fixtures/pricing/cur-2026-11.csv", &err);
    if (rc == RB_OK)
        rc = rb_usage_import_file(ic.imp, "tests/fixtures/pricing/cur-2026-10.csv", &err);
    OK(rc == RB_OK, "import: %s", err.msg);
    if (rc == RB_OK) {
        rc = rb_store_update(S, import_fn, &ic);
        OK(rc == RB_OK, "import apply: %s", rb_errmsg(S));
    }
    rb_usage_import_free(ic.imp);
}

static char file_buf[1 << 20];

static const char *read_rules(const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");

    *len = 0;
    if (!f) {
        fprintf(stderr, "cannot read %s\n", name);
        return "";
    }
    *len = fread(file_buf, 1, sizeof(file_buf) - 1, f);
    file_buf[*len] = '\0';
    fclose(f);
    return file_buf;
}

struct assign_ctx {
    const char *org, *name, *src;
    size_t len;
    int from, to;
    bool unassign;
    rb_plan_assignment out;
};

static rb_status assign_fn(rb_txn *txn, void *ctx)
{
    struct assign_ctx *a = ctx;

    if (a->unassign)
        return rb_plan_unassign(txn, a->org, a->from, a->to, 1800000000);
    return rb_plan_assign(txn, a->org, a->name, a->src, a->len, a->from, a->to, 1800000000,
                          &a->out);
}

static rb_status assign(const char *org, const char *name, const char *src, const char *from,
                        const char *to, rb_plan_assignment *out)
{
    struct assign_ctx a;
    rb_status rc;

    memset(&a, 0, sizeof(a));
    a.org = org;
    a.name = name;
    a.src = src;
    a.len = strlen(src);
    a.from = M(from);
    a.to = to ? M(to) : RB_MONTH_OPEN;
    rc = rb_store_update(S, assign_fn, &a);

    if (out)
        *out = a.out;
    return rc;
}

static rb_status unassign(const char *org, const char *from, const char *to)
{
    struct assign_ctx a;

    memset(&a, 0, sizeof(a));
    a.org = org;
    a.from = M(from);
    a.to = to ? M(to) : RB_MONTH_OPEN;
    a.unassign = true;
    return rb_store_update(S, assign_fn, &a);
}

static void dump_line(const char *line, size_t len, void *ctx)
{
    struct rb_buf *b = ctx;

    rbi_buf_append(b, line, len);
    rbi_buf_append(b, "\n", 1);
}

static rb_status dump_fn(rb_txn *txn, void *ctx)
{
    return rb_store_dump(txn, dump_line, ctx);
}

static char *dump(void)
{
    struct rb_buf b = {0};

    rb_store_view(S, dump_fn, &b);
    return b.data;
}

struct periods_ctx {
    char text[2048];
};

static rb_status period_cb(const rb_plan_assignment *a, void *ctx)
{
    struct periods_ctx *p = ctx;
    char f[16], t[16];
    size_t n = strlen(p->text);

    rb_month_format(a->from, f, sizeof(f));
    rb_month_format(a->to, t, sizeof(t));
    snprintf(p->text + n, sizeof(p->text) - n, "%s %s..%s %s;", a->org, f, t, a->name);
    return RB_OK;
}

static rb_status event_cb(const rb_plan_event *e, void *ctx)
{
    struct periods_ctx *p = ctx;
    char f[16], t[16];
    size_t n = strlen(p->text);

    rb_month_format(e->from, f, sizeof(f));
    rb_month_format(e->to, t, sizeof(t));
    snprintf(p->text + n, sizeof(p->text) - n, "%s %s..%s %s;", e->action, f, t, e->name);
    return RB_OK;
}

struct q {
    const char *org;
    int month;
    struct periods_ctx out;
    int what; /* 0 periods, 1 history, 2 list, 3 at */
    rb_plan_assignment a;
};

static rb_status query_fn(rb_txn *txn, void *ctx)
{
    struct q *q = ctx;

    switch (q->what) {
    case 0:
        return rb_plan_periods(txn, q->org, period_cb, &q->out);
    case 1:
        return rb_plan_history(txn, q->org, event_cb, &q->out);
    case 2:
        return rb_plan_list(txn, q->month, period_cb, &q->out);
    default:
        return rb_plan_at(txn, q->org, q->month, &q->a);
    }
}

static const char *query(int what, const char *org, const char *month)
{
    static struct q q;

    memset(&q, 0, sizeof(q));
    q.org = org;
    q.what = what;
    q.month = month ? M(month) : 0;
    if (rb_store_view(S, query_fn, &q) != RB_OK)
        return rb_errmsg(S);
    return what == 3 ? q.a.name : q.out.text;
}

static void test_assignments(void)
{
    const char *x = "return rebill.plan { name = 'X' }", *y = "return rebill.plan { name = 'Y' }";
    rb_plan_assignment a;
    char *before, *after;
    struct q qq;
    rb_status rc;

    INT_EQ(assign(OD, "x.lua", x, "2026-01", NULL, &a), RB_OK);
    STR_EQ(a.name, "x.lua");
    INT_EQ(strlen(a.hash), 16);
    INT_EQ(assign(OD, "y.lua", y, "2026-03", "2026-05", NULL), RB_OK);
    STR_EQ(query(0, OD, NULL), "o-distrib0001 2026-01..2026-02 x.lua;"
                               "o-distrib0001 2026-03..2026-05 y.lua;"
                               "o-distrib0001 2026-06..open x.lua;");
    INT_EQ(unassign(OD, "2026-05", "2026-06"), RB_OK);
    STR_EQ(query(0, OD, NULL), "o-distrib0001 2026-01..2026-02 x.lua;"
                               "o-distrib0001 2026-03..2026-04 y.lua;"
                               "o-distrib0001 2026-07..open x.lua;");
    STR_EQ(query(3, OD, "2026-04"), "y.lua");
    STR_EQ(query(3, OD, "2026-07"), "x.lua");
    memset(&qq, 0, sizeof(qq));
    qq.org = OD;
    qq.month = M("2026-05");
    qq.what = 3;
    INT_EQ(rb_store_view(S, query_fn, &qq), RB_NOTFOUND);
    qq.month = M("2025-12");
    INT_EQ(rb_store_view(S, query_fn, &qq), RB_NOTFOUND);
    /* an assignment covering everything replaces all */
    INT_EQ(assign(OD, "y.lua", y, "2025-01", NULL, NULL), RB_OK);
    STR_EQ(query(0, OD, NULL), "o-distrib0001 2025-01..open y.lua;");
    STR_EQ(query(1, OD, NULL), "assign 2026-01..open x.lua;assign 2026-03..2026-05 y.lua;"
                               "unassign 2026-05..2026-06 ;assign 2025-01..open y.lua;");
    STR_EQ(query(2, NULL, "2026-04"), "o-distrib0001 2025-01..open y.lua;");
    INT_EQ(unassign(OD, "2025-01", NULL), RB_OK);
    STR_EQ(query(0, OD, NULL), "");

    /* refusals leave the store as it was */
    before = dump();
    rc = unassign(OD, "2020-01", "2020-02");
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "o-distrib0001 has no plan from 2020-01 on");
    rc = assign("o-nobody00000", "x.lua", x, "2026-01", NULL, NULL);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "no organization \"o-nobody00000\"");
    rc = assign("O-BAD", "x.lua", x, "2026-01", NULL, NULL);
    INT_EQ(rc, RB_INVALID);
    STR_HAS(rb_errmsg(S), "invalid organization id \"O-BAD\"");
    rc = assign(OD, "x.lua", x, "2026-05", "2026-01", NULL);
    INT_EQ(rc, RB_INVALID);
    STR_EQ(rb_errmsg(S), "the last month 2026-01 is before the first 2026-05");
    rc = assign(OD, "bad.lua", "return rebill.plan { rebill.markup { pct = 1 } }", "2026-01", NULL,
                NULL);
    INT_EQ(rc, RB_RUNTIME);
    STR_EQ(rb_errmsg(S), "bad.lua:1: rebill.markup: unknown key 'pct' (allowed: percent, "
                         "service, entity, usage_type, operation)");
    rc = assign(OD, "", x, "2026-01", NULL, NULL);
    INT_EQ(rc, RB_INVALID);
    after = dump();
    STR_EQ(after, before);
    free(before);
    free(after);
}

static rb_status rules_get_fn(rb_txn *txn, void *ctx)
{
    rb_rules_blob *b = ctx;

    return rb_rules_get(txn, b->hash, b);
}

static void test_rules_by_hash(void)
{
    const char *src = "return rebill.plan { name = 'same' }";
    rb_plan_assignment a1, a2;
    rb_rules_blob b;
    char *d;
    int n = 0;

    d = dump();
    for (char *p = d; p && (p = strstr(p, "\nrules ")) != NULL; p++)
        n--;
    free(d);
    INT_EQ(assign(OE, "one.lua", src, "2030-01", "2030-01", &a1), RB_OK);
    INT_EQ(assign(OE, "two.lua", src, "2030-02", "2030-02", &a2), RB_OK);
    STR_EQ(a1.hash, a2.hash);
    d = dump();
    for (char *p = d; p && (p = strstr(p, "\nrules ")) != NULL; p++)
        n++;
    INT_EQ(n, 1); /* one more rule file: the content is stored once */
    free(d);
    memset(&b, 0, sizeof(b));
    memcpy(b.hash, a1.hash, sizeof(b.hash));
    INT_EQ(rb_store_view(S, rules_get_fn, &b), RB_OK);
    STR_EQ(b.name, "one.lua"); /* the first name it was stored under */
    memcpy(b.hash, "0123456789abcdef", 17);
    INT_EQ(rb_store_view(S, rules_get_fn, &b), RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "no rule file with hash 0123456789abcdef");
    memcpy(b.hash, "0123456789ABCDEF", 17);
    INT_EQ(rb_store_view(S, rules_get_fn, &b), RB_INVALID);
    STR_EQ(rb_errmsg(S), "invalid rule file hash \"0123456789ABCDEF\": want 16 lowercase hex "
                         "digits");
    INT_EQ(unassign(OE, "2030-01", "2030-02"), RB_OK);
}

struct price_ctx {
    const char *org;
    int month;
    rb_price_opts opts;
    rb_priced *p;
};

static rb_status price_fn(rb_txn *txn, void *ctx)
{
    struct price_ctx *c = ctx;

    return rb_price_org(txn, c->org, c->month, &c->opts, &c->p);
}

static rb_priced *price_org(const char *org, const char *month)
{
    struct price_ctx c = {org, M(month), {NULL, NULL, 0, NULL}, NULL};
    rb_status rc = rb_store_view(S, price_fn, &c);

    OK(rc == RB_OK, "price %s %s: %s", org, month, rb_errmsg(S));
    return c.p;
}

struct all_ctx {
    char text[2048];
};

static rb_status all_cb(const char *org, rb_status rc, const char *msg, const rb_priced *p,
                        void *ctx)
{
    struct all_ctx *a = ctx;
    size_t n = strlen(a->text);

    if (rc == RB_OK)
        snprintf(a->text + n, sizeof(a->text) - n, "%s %s;", org, text(rb_priced_totals(p)->total));
    else
        snprintf(a->text + n, sizeof(a->text) - n, "%s failed: %s;", org, msg);
    return RB_OK;
}

struct all_run {
    struct all_ctx a;
    long failed;
};

static rb_status all_fn(rb_txn *txn, void *ctx)
{
    struct all_run *r = ctx;

    return rb_price_all(txn, M("2026-11"), NULL, all_cb, &r->a, &r->failed);
}

struct diff_run {
    char rows[2048];
    rb_price_diff_totals tot;
    const char *src;
};

static rb_status diff_cb(const rb_price_diff_row *r, void *ctx)
{
    struct diff_run *d = ctx;
    size_t n = strlen(d->rows);

    snprintf(d->rows + n, sizeof(d->rows) - n, "%s %s %s %s;", r->key ? r->key : "(total)",
             text(r->old_price), text(r->new_price), text(r->delta));
    return RB_OK;
}

static rb_status diff_fn(rb_txn *txn, void *ctx)
{
    struct diff_run *d = ctx;

    return rb_price_diff(txn, OC, M("2026-10"), M("2026-11"), "rules/global-markup.lua", d->src,
                         strlen(d->src), NULL, diff_cb, d, &d->tot);
}

static void test_price_chain(void)
{
    size_t len;
    rb_priced *p;
    struct all_run ar;
    struct diff_run dr;
    char *src;

    /* No plans: each org gets list price. The customer C's lines (the unknown account's usage
     * belongs to nobody): EC2 69.12 + S3 23.00 + Marketplace 50.00 = 142.12 (credit and tax
     * hidden). Its reseller R pays its distributor D list price for them too: margin 0. */
    p = price_org(OC, "2026-11");
    if (p) {
        STR_EQ(text(rb_priced_totals(p)->total), "142.12");
        STR_EQ(text(rb_priced_margin(p)->cost), "142.12");
        STR_EQ(text(rb_priced_margin(p)->margin), "0.00");
        INT_EQ(rb_priced_count(p), 3);
    }
    rb_priced_free(p);
    /* R's bill (D bills it): its RDS 172.80 and C's lines at list: 314.92; D pays AWS the
     * billed cost: 172.80 + 69.12 + 23 - 10 + 9.21 + 50 = 314.13 */
    p = price_org(OR, "2026-11");
    if (p) {
        STR_EQ(text(rb_priced_totals(p)->total), "314.92");
        STR_EQ(text(rb_priced_margin(p)->margin), "0.79");
    }
    rb_priced_free(p);

    /* The chain's plans, from November. */
    src = (char *)read_rules("rules/chain-distributor.lua", &len);
    INT_EQ(assign(OR, "rules/chain-distributor.lua", src, "2026-11", NULL, NULL), RB_OK);
    src = (char *)read_rules("rules/chain-reseller.lua", &len);
    INT_EQ(assign(OC, "rules/chain-reseller.lua", src, "2026-11", NULL, NULL), RB_OK);
    /* R's bill: billed - 4%, Marketplace at cost, credit and tax passed:
     * 172.80 x 0.96 + 69.12 x 0.96 + 23 x 0.96 + 50 - 10 + 9.21
     * = 165.888 + 66.3552 + 22.08 + 50 - 10 + 9.21 = 303.5332 -> 303.53; margin - 314.13 */
    p = price_org(OR, "2026-11");
    if (p) {
        STR_EQ(text(rb_priced_totals(p)->total), "303.53");
        STR_EQ(text(rb_priced_margin(p)->margin), "-10.60");
    }
    rb_priced_free(p);
    /* C's bill: list 69.12 + 23 + 50, credit -10 and tax 9.21 passed at R's cost, managed
     * services 5% of 142.12 = 7.106: 148.436 -> 148.44. R's cost is D's price of C's lines:
     * 66.3552 + 22.08 + 50 - 10 + 9.21 = 137.6452 -> 137.65; margin 10.79 */
    p = price_org(OC, "2026-11");
    if (p) {
        STR_EQ(text(rb_priced_totals(p)->total), "148.44");
        STR_EQ(text(rb_priced_margin(p)->cost), "137.65");
        STR_EQ(text(rb_priced_margin(p)->margin), "10.79");
    }
    rb_priced_free(p);
    /* October is before both plans: list price, 69.12 + 11.50 */
    p = price_org(OC, "2026-10");
    if (p)
        STR_EQ(text(rb_priced_totals(p)->total), "80.62");
    rb_priced_free(p);

    /* A run over every customer: E's plan fails on its Lambda line; the others are priced. */
    INT_EQ(assign(OE, "boom.lua",
                  "return rebill.plan { on_line = function(l)\n"
                  "  if l.service == 'AWSLambda' then error('no Lambda price') end end }",
                  "2026-11", NULL, NULL),
           RB_OK);
    memset(&ar, 0, sizeof(ar));
    INT_EQ(rb_store_view(S, all_fn, &ar), RB_OK);
    INT_EQ(ar.failed, 1);
    if (ar.failed != 1)
        fprintf(stderr, "%s\n", ar.a.text);
    STR_EQ(ar.a.text, "o-customer01 148.44;o-customer02 failed: boom.lua:2: no Lambda price "
                      "(pricing account 333333333333, service AWSLambda, usage type Request);"
                      "o-reseller001 303.53;");

    /* The customer's plans in force against the global markup, over October and November:
     * Oct old 80.62 (list), new cost x 1.08 = (69.12 + 11.50) x 1.08 = 87.0696;
     * Nov old 148.436, new: 66.3552 x 1.08 - 10 + 9.21 + 22.08 x 1.08 + 50 x 1.08 =
     * 148.720016. EC2: old 69.12 + 68.33 = 137.45, new 74.6496 + 70.873616 = 145.52.
     * Totals (each month rounded): old 80.62 + 148.44, new 87.07 + 148.72;
     * margins: old 0 + 10.79, new 6.45 + 11.07; cost 80.62 + 137.65 */
    memset(&dr, 0, sizeof(dr));
    dr.src = read_rules("rules/global-markup.lua", &len);
    INT_EQ(rb_store_view(S, diff_fn, &dr), RB_OK);
    STR_HAS(dr.rows, "AmazonEC2 137.45 145.52 8.07;");
    STR_HAS(dr.rows, "AmazonS3 34.50 36.27 1.77;");
    STR_HAS(dr.rows, "prodview-4x7abc 50.00 54.00 4.00;"); /* November only */
    STR_HAS(dr.rows, "Managed services 7.11 0.00 -7.11;");
    STR_HAS(dr.rows, "(total) 229.06 235.79 6.73;");
    STR_EQ(text(dr.tot.old_margin), "10.79");
    STR_EQ(text(dr.tot.new_margin), "17.52");
    STR_EQ(text(dr.tot.cost), "218.27");
    INT_EQ(dr.tot.months, 2);
    STR_EQ(dr.tot.currency, "USD");
}

int main(void)
{
    test_compile_model();
    test_passthrough_default();
    test_compile_errors();
    test_helpers();
    test_hidden_lines();
    test_tier_order();
    test_hooks();
    test_invoice_hook();
    test_limits();
    setup_db();
    test_assignments();
    test_rules_by_hash();
    test_price_chain();
    db_close();
    OK(rbi_sandbox_leaked() == 0, "sandbox bytes leaked: %zu", rbi_sandbox_leaked());
    return harness_done();
}
