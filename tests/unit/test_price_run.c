/*
 * test_price_run.c -- the pricing run (engine/price.c) beyond the hand-computed bills of
 * test_price.c and test_plan.c: a failed allocation at every point of a run says RB_NOMEM and
 * leaves nothing behind; hook errors (raised through a longjmp out of the line loop) leak
 * nothing and leave the plan usable; graduated ladders give each line the same price in any
 * input order; chain costs in the line object, the bases and the free tier; the invoice view's
 * edits; itemized items; currency edges; overflow in an item; the partner's rule
 * texts; hook results of the wrong kind; the print log of both hooks; bad requests.
 *
 * The expected figures were worked out by hand first; the arithmetic is in the comments.
 * Where docs/rules.md is silent, the comment says which reading the test pins down.
 */
#include "harness.h"
#include "plan.h"
#include "sandbox.h"

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

static rb_price_input in1(const char *acct, const char *svc, const char *ut, const char *lt,
                          const char *qty, const char *billed)
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
    in.billed = in.list = in.effective = D(billed);
    return in;
}

#define A1 "111111111111"
#define A2 "222222222222"

static rb_plan *compile(const char *name, const char *src)
{
    rb_plan *pl = NULL;
    rb_error err;

    if (rb_plan_compile(&pl, name, src, strlen(src), NULL, &err) != RB_OK) {
        fprintf(stderr, "compile %s: %s\n", name, err.msg);
        return NULL;
    }
    return pl;
}

static rb_status price(rb_plan *pl, const char *customer, const char *month,
                       const rb_price_input *in, size_t n, const rb_dec *cost, rb_priced **out,
                       rb_error *err)
{
    rb_price_request req = {customer, M(month), in, n, cost, false};

    *out = NULL;
    err->msg[0] = '\0';
    return rb_price(pl, &req, out, err);
}

/* The sum of the lines labelled `label` (items, added lines); *n gets how many. */
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
 * Allocation failures: every allocation of a run fails once, in turn
 * =================================================================================== */

static const char torture_src[] =
    "return rebill.plan {\n"
    "  base = 'billed',\n"
    "  rebill.markup { percent = 10 },\n"
    "  rebill.discount { service = 'AmazonS3', percent = 20 },\n"
    "  rebill.tiered { usage_type = 'GB',\n"
    "                  tiers = { { upto = 100, price = 1 }, { price = '0.5' } } },\n"
    "  rebill.tiered { usage_type = 'Req', volume = true,\n"
    "                  tiers = { { upto = 10, price = 2 }, { price = 1 } } },\n"
    "  rebill.fee { name = 'Ops', percent = 10, itemized = true },\n"
    "  rebill.credit { name = 'Rebate', percent = 5, maximum = 20 },\n"
    "  rebill.commitment { name = 'Floor', amount = 1000 },\n"
    "  rebill.currency { code = 'EUR', rates = { ['2026-11'] = '0.5' } },\n"
    "  rebill.tax { name = 'VAT', rate = 20 },\n"
    "  on_line = function(l) if l.usage_type == 'Spot' then return l.cost end end,\n"
    "  on_invoice = function(inv)\n"
    "    inv:add { name = 'Goodwill', amount = -1, service = 'AmazonEC2' }\n"
    "  end,\n"
    "}\n";

static void torture_lines(rb_price_input *in)
{
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    in[1] = in1(A1, "AmazonEC2", "Spot", "Usage", "1", "50");
    in[2] = in1(A1, "AmazonS3", "Storage", "Usage", "1", "40");
    in[3] = in1(A1, "AmazonS3", "GB", "Usage", "150", "3");
    in[4] = in1(A2, "AmazonEC2", "Req", "Usage", "12", "1");
    in[5] = in1(A1, "AmazonEC2", "", "Credit", "0", "-10");
    in[6] = in1(A2, "AmazonEC2", "", "EdpDiscount", "0", "-5");
}

/* The bill every torture run must reach once allocations succeed again. */
static void check_torture_bill(const rb_priced *r)
{
    int n;

    /* Lines (USD): EC2 100 x 1.1 = 110; Spot: the hook returns its cost 50; S3 40 x 0.8 = 32;
     * GB graduated 100 x 1 + 50 x 0.5 = 125; Req volume: 12 > 10, all at 1 = 12; the credit
     * passed at -10; the EDP discount hidden. Usage 110 + 50 + 32 + 125 + 12 - 10 = 319.
     * Ops itemized 10%: EC2 (110 + 50 + 12 - 10) = 162 -> 16.2, S3 (32 + 125) = 157 -> 15.7;
     * Rebate 5% of 319 = 15.95 (under its maximum 20): -15.95; Floor 1000 - 319 = 681;
     * Goodwill -1. USD 319 + 31.9 - 15.95 + 681 - 1 = 1014.95.
     * EUR at 0.5, line by line: 55 + 25 + 16 + 62.5 + 6 - 5 + 8.1 + 7.85 - 7.975 + 340.5 - 0.5
     * = 507.475 -> 507.48 (half-even: 7 is odd); VAT 20% = 101.496 -> 101.50; total 608.98.
     * Partner (USD): price 1014.95, cost 100 + 50 + 40 + 3 + 1 - 10 - 5 = 179, margin 835.95. */
    INT_EQ(rb_priced_count(r), 6 + 2 + 1 + 1 + 1);
    STR_EQ(norm(rb_priced_line(r, 1)->amount), "25");
    STR_EQ(rb_priced_cost(r, 1)->rule, "on_line hook");
    STR_EQ(norm(rb_priced_line(r, 3)->amount), "62.5");
    STR_EQ(norm(label_amount(r, "Ops", &n)), "15.95"); /* (16.2 + 15.7) x 0.5 */
    INT_EQ(n, 2);
    STR_EQ(norm(label_amount(r, "Rebate", &n)), "-7.975");
    STR_EQ(norm(label_amount(r, "Floor", &n)), "340.5");
    STR_EQ(norm(label_amount(r, "Goodwill", &n)), "-0.5");
    STR_EQ(text(rb_priced_totals(r)->subtotal), "507.48");
    STR_EQ(text(rb_priced_totals(r)->tax), "101.50");
    STR_EQ(text(rb_priced_totals(r)->total), "608.98");
    STR_EQ(rb_priced_totals(r)->currency, "EUR");
    STR_EQ(text(rb_priced_margin(r)->price), "1014.95");
    STR_EQ(text(rb_priced_margin(r)->cost), "179.00");
    STR_EQ(text(rb_priced_margin(r)->margin), "835.95");
    INT_EQ(rb_priced_hidden_count(r), 1);
}

static void test_alloc_failures(void)
{
    rb_price_input in[7];
    rb_priced *r = NULL;
    rb_error err;
    rb_status rc = RB_NOMEM;
    long k, nomem = 0;

    torture_lines(in);
    for (k = 0; k < 20000 && rc != RB_OK; k++) {
        rb_plan *pl = compile("torture.lua", torture_src);
        if (!pl)
            return;
        rbi_alloc_fail_after(k);
        rc = price(pl, "o-torture0001", "2026-11", in, 7, NULL, &r, &err);
        rbi_alloc_fail_after(-1);
        if (rc == RB_NOMEM) {
            nomem++;
            if (r != NULL || !strstr(err.msg, "memory"))
                OK(false, "failure %ld: result %p, message \"%s\"", k, (void *)r, err.msg);
        } else if (rc != RB_OK) {
            OK(false, "failure %ld: want RB_NOMEM, got %d: %s", k, rc, err.msg);
        }
        if (rc == RB_OK)
            check_torture_bill(r);
        rb_priced_free(r);
        r = NULL;
        rb_plan_free(pl);
    }
    INT_EQ(rc, RB_OK);
    /* the run allocates in several places (result, lines, memo, ladders, items, Lua) */
    OK(nomem >= 8, "only %ld allocations failed before the run went through", nomem);
    OK(rbi_sandbox_leaked() == 0, "sandbox bytes leaked: %zu", rbi_sandbox_leaked());
}

/* {===================================================================================
 * Hook errors: the longjmp leaves nothing behind, and the plan prices again
 * =================================================================================== */

static void test_hook_errors_leave_nothing(void)
{
    static const char src[] =
        "return rebill.plan {\n"
        "  rebill.fee { name = 'Ops', percent = 10 },\n"
        "  on_line = function(l)\n"
        "    if l.usage_type == 'Bad' then error('bad line ' .. l.account) end\n"
        "  end,\n"
        "  on_invoice = function(inv)\n"
        "    if inv.customer == 'o-failinvoice1' then error('no invoice') end\n"
        "  end,\n"
        "}\n";
    rb_price_input in[50];
    rb_plan *pl = compile("hooks.lua", src);
    rb_priced *r = NULL;
    rb_error err;

    if (!pl)
        return;
    for (int i = 0; i < 49; i++)
        in[i] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "2");
    in[49] = in1(A2, "AmazonEC2", "Bad", "Usage", "1", "2");
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 50, NULL, &r, &err), RB_RUNTIME);
    OK(r == NULL, "a result after an error");
    STR_EQ(err.msg, "hooks.lua:4: bad line 222222222222 (pricing account 222222222222, service "
                    "AmazonEC2, usage type Bad)");
    /* RB_RUNTIME leaves the plan usable: 49 x 2 = 98, Ops 9.80 */
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 49, NULL, &r, &err), RB_OK);
    if (r)
        STR_EQ(text(rb_priced_totals(r)->subtotal), "107.80");
    rb_priced_free(r);
    /* an on_invoice error names no line item: it is not pricing one */
    INT_EQ(price(pl, "o-failinvoice1", "2026-11", in, 49, NULL, &r, &err), RB_RUNTIME);
    STR_EQ(err.msg, "hooks.lua:7: no invoice");
    OK(r == NULL, "a result after an on_invoice error");
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 3, NULL, &r, &err), RB_OK);
    if (r)
        STR_EQ(text(rb_priced_totals(r)->subtotal), "6.60");
    rb_priced_free(r);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Graduated ladders: the same prices in every input order
 * =================================================================================== */

static void test_graduated_any_order(void)
{
    static const char src[] = "return rebill.plan { rebill.tiered { usage_type = 'GB', tiers = {\n"
                              "  { upto = 100, price = 1 }, { upto = 200, price = '0.5' },\n"
                              "  { price = '0.25' } } } }";
    /* The dimension order: d (111, EC2), b (111, S3, eu-west-1), a (111, S3, us-east-1),
     * c (222, EC2). d 0..60 at 1 = 60; b 60..120 = 40 + 20 x 0.5 = 50; a 120..180 at 0.5 = 30;
     * c 180..240 = 20 x 0.5 + 40 x 0.25 = 20. Total 160 = the ladder of 240 (100 + 50 + 10). */
    static const char *const want[4] = {"30", "50", "20", "60"}; /* a, b, c, d */
    rb_plan *pl = compile("grad.lua", src);
    rb_price_input base[4], in[4];
    int perm[4], tried = 0;

    if (!pl)
        return;
    base[0] = in1(A1, "AmazonS3", "GB", "Usage", "60", "9");
    base[1] = in1(A1, "AmazonS3", "GB", "Usage", "60", "9");
    base[1].region = "eu-west-1";
    base[2] = in1(A2, "AmazonEC2", "GB", "Usage", "60", "9");
    base[3] = in1(A1, "AmazonEC2", "GB", "Usage", "60", "9");
    /* every permutation of the four lines */
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                rb_priced *r = NULL;
                rb_error err;
                int d = 6 - a - b - c;
                if (a == b || a == c || b == c || d < 0 || d > 3 || d == a || d == b || d == c)
                    continue;
                perm[0] = a;
                perm[1] = b;
                perm[2] = c;
                perm[3] = d;
                for (int j = 0; j < 4; j++)
                    in[j] = base[perm[j]];
                INT_EQ(price(pl, "o-customer01", "2026-11", in, 4, NULL, &r, &err), RB_OK);
                for (int j = 0; r && j < 4; j++)
                    STR_EQ(norm(rb_priced_line(r, (size_t)j)->amount), want[perm[j]]);
                if (r)
                    STR_EQ(text(rb_priced_totals(r)->subtotal), "160.00");
                rb_priced_free(r);
                tried++;
            }
    INT_EQ(tried, 24);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Chain costs: the line object, the bases, pass and hide
 * =================================================================================== */

static void test_chain_costs(void)
{
    static const char billed_src[] =
        "return rebill.plan { base = 'billed', rebill.markup { percent = 10 },\n"
        "  on_line = function(l)\n"
        "    if l.usage_type == 'ShowCost' then return l.cost end\n"
        "    if l.usage_type == 'ShowBase' then return l.base end\n"
        "  end }";
    rb_plan *pl = compile("chain.lua", billed_src);
    rb_price_input in[5];
    rb_dec cost[5];
    rb_priced *r = NULL;
    rb_error err;

    if (!pl)
        return;
    in[0] = in1(A1, "AmazonEC2", "ShowCost", "Usage", "1", "100");
    in[1] = in1(A1, "AmazonEC2", "ShowBase", "Usage", "1", "100");
    in[2] = in1(A1, "AmazonEC2", "Plain", "Usage", "1", "100");
    in[3] = in1(A1, "AmazonEC2", "", "Credit", "0", "-10");
    in[4] = in1(A1, "AmazonEC2", "", "EdpDiscount", "0", "-5");
    cost[0] = D("80");
    cost[1] = D("70");
    cost[2] = D("60");
    cost[3] = D("-9");
    cost[4] = D("0"); /* the payer's plan hid it: it costs nothing */
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 5, cost, &r, &err), RB_OK);
    if (r) {
        /* the hook sees the chain cost 80; the billed base is the chain cost 70; 60 x 1.1 = 66;
         * the credit is passed at its chain cost -9; the EDP line hidden at 0.
         * price 80 + 70 + 66 - 9 = 207; cost 80 + 70 + 60 - 9 + 0 = 201; margin 6 */
        STR_EQ(norm(rb_priced_line(r, 0)->amount), "80");
        STR_EQ(norm(rb_priced_line(r, 1)->amount), "70");
        STR_EQ(norm(rb_priced_line(r, 2)->amount), "66");
        STR_EQ(norm(rb_priced_line(r, 3)->amount), "-9");
        STR_EQ(norm(rb_priced_cost(r, 3)->cost), "-9");
        STR_EQ(norm(rb_priced_cost(r, 3)->billed), "-10");
        STR_EQ(text(rb_priced_margin(r)->cost), "201.00");
        STR_EQ(text(rb_priced_margin(r)->margin), "6.00");
        STR_EQ(text(rb_priced_margin(r)->billed), "285.00"); /* AWS: 300 - 10 - 5 */
        STR_EQ(norm(rb_priced_input_price(r, 2)), "66");
        STR_EQ(norm(rb_priced_input_price(r, 3)), "-9");
        STR_EQ(norm(rb_priced_input_price(r, 4)), "0");
        STR_EQ(norm(rb_priced_hidden_cost(r, 0)->cost), "0");
        INT_EQ(rb_priced_hidden_cost(r, 0)->input, 4);
    }
    rb_priced_free(r);
    rb_plan_free(pl);

    /* The effective base is AWS's effective cost, whatever the chain cost; with base list
     * and the free tier, a Usage line AWS billed below list starts from what AWS billed (0),
     * not from the payer's price of it (reading: "keeps the AWS free tier free"). */
    pl = compile("eff.lua", "return rebill.plan { base = 'effective' }");
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    in[0].effective = D("30");
    cost[0] = D("80");
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, cost, &r, &err), RB_OK);
        if (r) {
            STR_EQ(norm(rb_priced_line(r, 0)->amount), "30");
            STR_EQ(rb_priced_cost(r, 0)->rule, "effective");
        }
        rb_priced_free(r);
        rb_plan_free(pl);
    }
    pl = compile("free.lua", "return rebill.plan { base = 'list' }");
    in[0] = in1(A1, "AWSLambda", "Request", "Usage", "1000", "0");
    in[0].list = D("5");
    cost[0] = D("3");
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, cost, &r, &err), RB_OK);
        if (r) {
            STR_EQ(norm(rb_priced_line(r, 0)->amount), "0");
            STR_EQ(text(rb_priced_margin(r)->margin), "-3.00");
        }
        rb_priced_free(r);
        rb_plan_free(pl);
    }
}

/* An upstream plan of a chain prices the lines only (docs/rules.md "Chains"): its items,
 * tax and currency make no part of the cost, so a month it has no exchange rate for is no
 * error, and the result has the line prices and zero totals. */
static void test_lines_only(void)
{
    static const char src[] =
        "return rebill.plan { base = 'billed', rebill.markup { percent = 10 },\n"
        "  rebill.fee { name = 'Dist fee', amount = 50 },\n"
        "  rebill.tax { name = 'VAT', rate = 20 },\n"
        "  rebill.currency { code = 'EUR', rates = { ['2026-10'] = 0.9 } },\n"
        "  on_line = function(l) if l.usage_type == 'Hooked' then return l.cost + 1 end end,\n"
        "  on_invoice = function(inv) inv:add { name = 'Added', amount = 7 } end }";
    rb_plan *pl = compile("upstream.lua", src);
    rb_price_input in[3];
    rb_price_request req;
    rb_priced *r = NULL;
    rb_error err;

    if (!pl)
        return;
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    in[1] = in1(A1, "AmazonEC2", "Hooked", "Usage", "1", "40");
    in[2] = in1(A1, "AmazonEC2", "", "EdpDiscount", "0", "-5");
    req = (rb_price_request){"o-reseller01", M("2026-11"), in, 3, NULL, true};
    INT_EQ(rb_price(pl, &req, &r, &err), RB_OK);
    if (r) {
        /* 100 x 1.1 = 110; the hook: 40 + 1 = 41; the EDP line hidden: 0 */
        STR_EQ(norm(rb_priced_input_price(r, 0)), "110");
        STR_EQ(norm(rb_priced_input_price(r, 1)), "41");
        STR_EQ(norm(rb_priced_input_price(r, 2)), "0");
        INT_EQ(rb_priced_count(r), 2); /* no fee line, no line from on_invoice */
        STR_EQ(norm(rb_priced_totals(r)->total), "0");
        STR_EQ(norm(rb_priced_totals(r)->tax), "0");
        STR_EQ(rb_priced_totals(r)->currency, "USD");
    }
    rb_priced_free(r);
    /* the whole run of the same plan and month is refused: no rate for 2026-11 */
    req.lines_only = false;
    INT_EQ(rb_price(pl, &req, &r, &err), RB_INVALID);
    STR_HAS(err.msg, "no exchange rate USD -> EUR for 2026-11");
    OK(r == NULL, "no result for a refused run");
    rb_plan_free(pl);
}

/* {===================================================================================
 * The invoice view: items in force, set_item, add
 * =================================================================================== */

static void test_invoice_edits(void)
{
    static const char src[] =
        "return rebill.plan {\n"
        "  rebill.fee { name = 'Zero fee', percent = 10, services = 'AmazonRDS' },\n"
        "  rebill.credit { name = 'Credit', amount = 20 },\n"
        "  rebill.fee { name = 'Later', amount = 5, from = '2027-01' },\n"
        "  rebill.fee { name = 'Kept', amount = 7 },\n"
        "  on_invoice = function(inv)\n"
        "    local c, m = inv.customer, rebill.money\n"
        "    if c == 'o-items00001' then\n"
        "      local it = inv.items\n"
        "      assert(it['Zero fee'] == m(0) and it.Credit == m(-20))\n"
        "      assert(it.Later == nil and it.Kept == m(7))\n"
        "      inv:set_item('Zero fee', 3)\n"
        "      inv:set_item('Credit', -30)\n"
        "      inv:set_item('Kept', 0)\n"
        "      inv:add { name = 'Nothing', amount = 0 }\n"
        "      inv:add { name = 'EC2 extra', amount = '1.5', service = 'AmazonEC2' }\n"
        "      print(inv.subtotal)\n"
        "    elseif c == 'o-later000001' then inv:set_item('Later', 1)\n"
        "    elseif c == 'o-emptyname01' then inv:add { name = '', amount = 1 }\n"
        "    end\n"
        "  end }";
    rb_plan *pl = compile("inv.lua", src);
    rb_price_input in[1];
    rb_priced *r = NULL;
    rb_error err;
    int n;

    if (!pl)
        return;
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    /* Readings pinned here: inv.items lists the items in force even at 0; set_item sets the
     * line's amount as shown (a credit's negative amount as given); an item set to 0 is not
     * shown, one set from 0 to 3 is; a line added with 0 is shown (the hook asked for it).
     * 100 + 3 - 30 + 0 + 1.5 = 74.5 */
    INT_EQ(price(pl, "o-items00001", "2026-11", in, 1, NULL, &r, &err), RB_OK);
    if (r) {
        INT_EQ(rb_priced_count(r), 5);
        STR_EQ(norm(label_amount(r, "Zero fee", &n)), "3");
        INT_EQ(rb_priced_line(r, 1)->kind, RB_PRICE_FEE);
        STR_EQ(norm(label_amount(r, "Credit", &n)), "-30");
        INT_EQ(rb_priced_line(r, 2)->kind, RB_PRICE_CREDIT);
        label_amount(r, "Kept", &n);
        INT_EQ(n, 0);
        label_amount(r, "Nothing", &n);
        INT_EQ(n, 1);
        INT_EQ(rb_priced_line(r, 3)->kind, RB_PRICE_ADDED);
        STR_EQ(rb_priced_line(r, 4)->label, "EC2 extra");
        STR_EQ(rb_priced_line(r, 4)->service, "AmazonEC2");
        STR_EQ(rb_priced_cost(r, 4)->rule, "on_invoice hook");
        INT_EQ(rb_priced_cost(r, 4)->input, -1);
        INT_EQ(rb_priced_line(r, 4)->amount.scale, RBI_PRICE_SCALE);
        STR_EQ(text(rb_priced_totals(r)->subtotal), "74.50");
        STR_EQ(rb_priced_log(r), "74.500000000000\n");
    }
    rb_priced_free(r);
    INT_EQ(price(pl, "o-later000001", "2026-11", in, 1, NULL, &r, &err), RB_RUNTIME);
    STR_EQ(err.msg, "inv.lua:18: invoice:set_item: item \"Later\" is not in force in 2026-11");
    INT_EQ(price(pl, "o-emptyname01", "2026-11", in, 1, NULL, &r, &err), RB_RUNTIME);
    STR_EQ(err.msg, "inv.lua:19: invoice:add: 'name' must be 1..128 bytes");
    /* In 2027-01 'Later' is in force: 100 - 20 + 5 + 7 */
    INT_EQ(price(pl, "o-later000001", "2027-01", in, 1, NULL, &r, &err), RB_OK);
    if (r)
        STR_EQ(text(rb_priced_totals(r)->subtotal), "88.00"); /* 100 - 20 + 1 + 7 */
    rb_priced_free(r);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Itemized items: one line per service among the sources
 * =================================================================================== */

static void test_itemized(void)
{
    static const char src[] =
        "return rebill.plan { rebill.credit { name = 'Per service', percent = 50,\n"
        "  itemized = true, services = { 'AmazonEC2', 'AmazonS3', 'AmazonRDS' } } }";
    rb_plan *pl = compile("item.lua", src);
    rb_price_input in[6];
    rb_priced *r = NULL;
    rb_error err;
    int n;

    if (!pl)
        return;
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    in[1] = in1(A1, "AmazonS3", "Storage", "Usage", "1", "10");
    in[2] = in1(A1, "AWSLambda", "Request", "Usage", "1", "100");
    in[3] = in1(A2, "AmazonS3", "Storage", "Usage", "1", "0.5");
    in[4] = in1(A1, "AmazonRDS", "Instance", "Usage", "1", "1");
    in[5] = in1(A1, "AmazonRDS", "Instance", "EdpDiscount", "0", "-1"); /* hidden: no source */
    /* One line per service among the sources, in the order the services first appear:
     * EC2 50% x 100 = 50; S3 50% x (10 + 0.5) = 5.25; RDS 50% x 1 = 0.5; Lambda is not a
     * source, so it gets no line. Usage 211.5 - 55.75 = 155.75 */
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 6, NULL, &r, &err), RB_OK);
    if (r) {
        STR_EQ(norm(label_amount(r, "Per service", &n)), "-55.75");
        INT_EQ(n, 3);
        INT_EQ(rb_priced_count(r), 8);
        STR_EQ(rb_priced_line(r, 5)->service, "AmazonEC2");
        STR_EQ(norm(rb_priced_line(r, 5)->amount), "-50");
        STR_EQ(rb_priced_line(r, 6)->service, "AmazonS3");
        STR_EQ(norm(rb_priced_line(r, 6)->amount), "-5.25");
        STR_EQ(rb_priced_line(r, 7)->service, "AmazonRDS");
        STR_EQ(norm(rb_priced_line(r, 7)->amount), "-0.5");
        STR_EQ(rb_priced_line(r, 7)->account, "");
        INT_EQ(rb_priced_line(r, 7)->kind, RB_PRICE_CREDIT);
        STR_EQ(rb_priced_cost(r, 7)->rule, "item.lua:1");
        STR_EQ(text(rb_priced_totals(r)->subtotal), "155.75");
    }
    rb_priced_free(r);
    rb_plan_free(pl);
}

/* {===================================================================================
 * Currency edges
 * =================================================================================== */

static void test_currency_edges(void)
{
    static const char src[] =
        "return rebill.plan { rebill.fee { name = 'Fee', amount = 10 },\n"
        "  rebill.currency { code = 'EUR', rates = { ['2026-11'] = '0.9' } } }";
    rb_plan *pl = compile("fx.lua", src);
    rb_price_input in[1];
    rb_priced *r = NULL;
    rb_error err;

    if (!pl)
        return;
    /* Reading pinned here: usage already in the invoice currency is not converted. */
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "100");
    memcpy(in[0].currency, "EUR", 4);
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, NULL, &r, &err), RB_OK);
    if (r) {
        STR_EQ(text(rb_priced_totals(r)->subtotal), "110.00");
        STR_EQ(norm(rb_priced_totals(r)->fx_rate), "1");
        STR_EQ(rb_priced_totals(r)->currency, "EUR");
        STR_EQ(rb_priced_totals(r)->usage_currency, "EUR");
    }
    rb_priced_free(r);
    /* No usage: the plan's amounts are taken as USD (the default usage currency). */
    INT_EQ(price(pl, "o-customer01", "2026-11", NULL, 0, NULL, &r, &err), RB_OK);
    if (r) {
        STR_EQ(text(rb_priced_totals(r)->subtotal), "9.00");
        STR_EQ(rb_priced_totals(r)->currency, "EUR");
        STR_EQ(rb_priced_totals(r)->usage_currency, "");
        STR_EQ(text(rb_priced_margin(r)->price), "10.00");
    }
    rb_priced_free(r);
    INT_EQ(price(pl, "o-customer01", "2026-12", NULL, 0, NULL, &r, &err), RB_INVALID);
    STR_EQ(err.msg, "fx.lua:2: no exchange rate USD -> EUR for 2026-12");
    rb_plan_free(pl);

    /* Usage in yen, no conversion: the subtotal is rounded to 0 digits (half-even). */
    pl = compile("jpy.lua", "return rebill.plan { }");
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "1234.5");
    memcpy(in[0].currency, "JPY", 4);
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, NULL, &r, &err), RB_OK);
        if (r) {
            STR_EQ(text(rb_priced_totals(r)->subtotal), "1234");
            STR_EQ(rb_priced_totals(r)->currency, "JPY");
            STR_EQ(text(rb_priced_margin(r)->price), "1234");
        }
        rb_priced_free(r);
        rb_plan_free(pl);
    }
}

/* {===================================================================================
 * Overflow in an item, rule texts, hook results, the log, bad requests
 * =================================================================================== */

static void test_item_overflow(void)
{
    static const char src[] =
        "return rebill.plan {\n"
        "  rebill.fee { name = 'Huge', amount = '999999999999999999999999999' } }";
    rb_plan *pl = compile("ovf.lua", src);
    rb_price_input in[1];
    rb_priced *r = NULL;
    rb_error err;

    if (!pl)
        return;
    /* 27 integer digits + 12 fraction digits do not fit 38 */
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "1");
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, NULL, &r, &err), RB_OVERFLOW);
    STR_EQ(err.msg, "ovf.lua:2: item \"Huge\": amount out of range (more than 38 digits)");
    OK(r == NULL, "a result after an overflow");
    rb_plan_free(pl);
}

static void test_rule_texts(void)
{
    char svc[240], src[600];
    rb_plan *pl;
    rb_price_input in[3];
    rb_priced *r = NULL;
    rb_error err;

    memset(svc, 'S', sizeof(svc) - 1);
    svc[sizeof(svc) - 1] = '\0';
    snprintf(src, sizeof(src),
             "return rebill.plan { base = 'billed',\n"
             "  rebill.tiered { usage_type = 'Req', volume = true, tiers = { { price = 1 } } },\n"
             "  rebill.markup { service = '%s', percent = 1 } }",
             svc);
    pl = compile("texts.lua", src);
    if (!pl)
        return;
    in[0] = in1(A1, "AmazonEC2", "Req", "Usage", "3", "9");
    in[1] = in1(A1, svc, "X", "Usage", "1", "100");
    in[2] = in1(A1, "AmazonS3", "X", "Usage", "1", "5");
    INT_EQ(price(pl, "o-customer01", "2026-11", in, 3, NULL, &r, &err), RB_OK);
    if (r) {
        const char *t = rb_priced_cost(r, 1)->rule;
        STR_EQ(rb_priced_cost(r, 0)->rule, "SKU Req volume tiers");
        STR_EQ(norm(rb_priced_line(r, 0)->amount), "3");
        OK(strlen(t) <= RB_PRICE_RULE_MAX, "rule text of %zu bytes", strlen(t));
        OK(strncmp(t, "service SSS", 11) == 0, "rule text \"%s\"", t);
        STR_EQ(norm(rb_priced_line(r, 1)->amount), "101");
        STR_EQ(rb_priced_cost(r, 2)->rule, "billed");
    }
    rb_priced_free(r);
    rb_plan_free(pl);
}

static void test_hook_results(void)
{
    rb_price_input in[2];
    rb_priced *r = NULL;
    rb_error err;
    rb_plan *pl;

    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "10");
    in[1] = in1(A1, "AmazonS3", "Storage", "Usage", "1", "5");
    pl = compile("bool.lua", "return rebill.plan { on_line = function(l) return true end }");
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 2, NULL, &r, &err), RB_INVALID);
        STR_EQ(err.msg, "bool.lua:1: on_line must return money, a number, decimal text or nil, "
                        "not a boolean (pricing account 111111111111, service AmazonEC2, usage "
                        "type BoxUsage)");
        rb_plan_free(pl);
    }
    pl = compile("nan.lua", "return rebill.plan { on_line = function(l)\n"
                            "  if l.service == 'AmazonS3' then return 0/0 end end }");
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 2, NULL, &r, &err), RB_RUNTIME);
        STR_HAS(err.msg, "on_line's result");
        STR_HAS(err.msg, "(pricing account 111111111111, service AmazonS3, usage type Storage)");
        rb_plan_free(pl);
    }
    /* print in both hooks goes to one log, in order; passed lines never reach on_line */
    pl = compile("log.lua", "return rebill.plan { base = 'billed',\n"
                            "  on_line = function(l) print(l.service, l.line_type) end,\n"
                            "  on_invoice = function(inv) print('done') end }");
    in[1] = in1(A1, "AmazonS3", "", "Credit", "0", "-1");
    if (pl) {
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 2, NULL, &r, &err), RB_OK);
        if (r) {
            STR_EQ(rb_priced_log(r), "AmazonEC2\tUsage\ndone\n");
            INT_EQ(rb_priced_line(r, 1)->kind, RB_PRICE_PASS);
            INT_EQ(rb_priced_line(r, 1)->amount.scale, RBI_PRICE_SCALE);
        }
        rb_priced_free(r);
        r = NULL;
        /* the log starts over with each run */
        INT_EQ(price(pl, "o-customer01", "2026-11", in, 1, NULL, &r, &err), RB_OK);
        if (r)
            STR_EQ(rb_priced_log(r), "AmazonEC2\tUsage\ndone\n");
        rb_priced_free(r);
        rb_plan_free(pl);
    }
}

static void test_bad_requests(void)
{
    rb_plan *pl = NULL;
    rb_priced *r = (rb_priced *)&r; /* not NULL: a refusal must clear it */
    rb_price_request req = {"o-customer01", M("2026-11"), NULL, 2, NULL, false};
    rb_price_input in[1];
    rb_error err;

    INT_EQ(rb_plan_default(&pl), RB_OK);
    INT_EQ(rb_price(pl, &req, &r, &err), RB_MISUSE); /* lines NULL, nlines 2 */
    OK(r == NULL, "result not cleared");
    in[0] = in1(A1, "AmazonEC2", "BoxUsage", "Usage", "1", "1");
    req.lines = in;
    req.nlines = 1;
    INT_EQ(rb_price(pl, &req, NULL, &err), RB_MISUSE);
    req.customer = NULL; /* no customer is allowed: hooks see "" */
    INT_EQ(rb_price(pl, &req, &r, NULL), RB_OK);
    rb_priced_free(r);
    in[0].usage_type = NULL; /* a missing usage type is an empty one */
    in[0].operation = NULL;
    in[0].region = NULL;
    in[0].entity = NULL;
    in[0].account = NULL;
    INT_EQ(rb_price(pl, &req, &r, &err), RB_OK);
    if (r) {
        STR_EQ(rb_priced_line(r, 0)->usage_type, "");
        STR_EQ(rb_priced_line(r, 0)->account, "");
    }
    rb_priced_free(r);
    rb_plan_free(pl);
}

int main(void)
{
    test_alloc_failures();
    test_hook_errors_leave_nothing();
    test_graduated_any_order();
    test_chain_costs();
    test_lines_only();
    test_invoice_edits();
    test_itemized();
    test_currency_edges();
    test_item_overflow();
    test_rule_texts();
    test_hook_results();
    test_bad_requests();
    OK(rbi_sandbox_leaked() == 0, "sandbox bytes leaked: %zu", rbi_sandbox_leaked());
    return harness_done();
}
