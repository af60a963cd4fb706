/*
 * test_report.c -- engine/report.c through the public API on a real store: the margins of a
 * customer whose plan hides a credit and a tax (hidden rows with charged 0, totals equal to
 * rb_price_org()'s partner figures), and the gate before issuing (rb_close_require): a
 * reconciled period passes; a period damaged behind its manifest (one source's aggregates
 * deleted through the internal key/value layer) is refused with its figures, or let through
 * with `force`; misuse and bad months.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>
#include <unistd.h>

#define P "o-partner0001"
#define C "o-customer01"

static char dir[64];
static rb_store *S;
static int NOV;

static rb_dec D(const char *s)
{
    rb_dec d = rb_dec_zero();
    rb_dec_parse(&d, s, strlen(s), NULL);
    return d;
}

static const char *T(rb_dec d)
{
    static char buf[8][RB_DEC_BUFSZ];
    static int k;
    k = (k + 1) % 8;
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

/* Equal as numbers (the report's sums keep 12 digits, price's totals 2). */
#define DEC_EQ(got, want)                                                                    \
    do {                                                                                     \
        rb_dec g__ = (got), w__ = D(want);                                                   \
        OK(rb_dec_cmp(&g__, &w__) == 0, "got %s, want %s", T(g__), want);                    \
    } while (0)

static int64_t at(const char *s)
{
    int64_t t = 0;
    rb_time_parse(&t, s, NULL);
    return t;
}

/* {===================================================================================
 * The store: a partner pays its customer's bill from 2026-11; the customer's plan is cost
 * plus 10% and hides credits and tax. Usage of 2026-11 in source "default": the customer's
 * EC2 100.00, credit -30.00, tax 12.00 and an unknown account's 5.00 USD and 7.00 EUR; in
 * source "extra": the customer's S3 4.00.
 * =================================================================================== */

static const char hide_src[] = "return rebill.plan {\n"
                               "    name = 'hide', base = 'billed',\n"
                               "    rebill.markup { percent = 10 },\n"
                               "    passthrough = { Credit = 'hide', Tax = 'hide' },\n"
                               "}\n";

static rb_status do_setup(rb_txn *txn, void *ctx)
{
    rb_org o;
    rb_transfer t;
    int64_t now = at("2026-09-21T00:00:00Z");
    rb_status rc;

    (void)ctx;
    for (int i = 0; i < 2; i++) {
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", i ? C : P);
        snprintf(o.name, sizeof(o.name), "%s", i ? "Customer" : "Partner");
        snprintf(o.management_account, sizeof(o.management_account), "90000000000%d", i + 1);
        o.created = at("2026-09-01T00:00:00Z");
        if ((rc = rb_org_create(txn, &o)) != RB_OK)
            return rc;
    }
    if ((rc = rb_account_add(txn, "111111111111", "c1", C, at("2026-09-01T00:00:00Z"))) != RB_OK)
        return rc;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "P pays C");
    snprintf(t.payer, sizeof(t.payer), "%s", P);
    snprintf(t.source, sizeof(t.source), "%s", C);
    t.start_month = NOV;
    if ((rc = rb_transfer_invite(txn, &t, now)) != RB_OK ||
        (rc = rb_transfer_accept(txn, t.id, C, now)) != RB_OK)
        return rc;
    return rb_plan_assign(txn, C, "hide.lua", hide_src, sizeof(hide_src) - 1, NOV, RB_MONTH_OPEN,
                          now, NULL);
}

static rb_status do_apply(rb_txn *txn, void *ctx)
{
    return rb_usage_import_apply(txn, ctx, at("2026-12-02T00:00:00Z"));
}

static int import(const char *source, const char *name, const char *rows)
{
    static const char head[] =
        "bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
        "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,"
        "lineItem/Operation,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost,"
        "pricing/publicOnDemandCost\n";
    char path[128];
    rb_usage_import_opts o;
    rb_usage_import *imp = NULL;
    rb_error err;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    fputs(head, f);
    fputs(rows, f);
    fclose(f);
    memset(&o, 0, sizeof(o));
    o.source = source;
    o.threads = -1;
    if (rb_usage_import_new(&imp, &o, &err) != RB_OK ||
        rb_usage_import_file(imp, path, &err) != RB_OK) {
        fprintf(stderr, "import %s: %s\n", name, err.msg);
        rb_usage_import_free(imp);
        return -1;
    }
    if (rb_store_update(S, do_apply, imp) != RB_OK) {
        fprintf(stderr, "import %s: %s\n", name, rb_errmsg(S));
        rb_usage_import_free(imp);
        return -1;
    }
    rb_usage_import_free(imp);
    return 0;
}

static int setup(void)
{
    rb_error err;
    char path[128];

    snprintf(dir, sizeof(dir), "/tmp/rebill-report.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/test.db", dir);
    if (rb_store_open(&S, path, RB_OPEN_CREATE, &err) != RB_OK) {
        fprintf(stderr, "cannot open store: %s\n", err.msg);
        return -1;
    }
    rb_month_parse(&NOV, "2026-11", NULL);
    if (rb_store_update(S, do_setup, NULL) != RB_OK) {
        fprintf(stderr, "setup: %s\n", rb_errmsg(S));
        return -1;
    }
#define ROW(acct, type, svc, cur, cost, list)                                                 \
    "AWS,2026-11-01T00:00:00Z," acct "," type ",2026-11-01T00:00:00Z," svc ",U,Run,1," cur ","  \
        cost "," list "\n"
    if (import(NULL, "main.csv",
           ROW("111111111111", "Usage", "AmazonEC2", "USD", "100.00", "100.00")
           ROW("111111111111", "Credit", "AmazonEC2", "USD", "-30.00", "0")
           ROW("111111111111", "Tax", "AmazonEC2", "USD", "12.00", "0")
           ROW("999999999999", "Usage", "AmazonEC2", "USD", "5.00", "5.00")
           ROW("999999999999", "Usage", "AmazonEC2", "EUR", "7.00", "7.00")) != 0 ||
        import("extra", "extra.csv",
               ROW("111111111111", "Usage", "AmazonS3", "USD", "4.00", "4.00")) != 0)
        return -1;
#undef ROW
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
 * Margins with hidden lines
 * =================================================================================== */

struct rows {
    rb_margin_row v[16];
    char svc[16][32];
    int n;
};

static rb_status collect(const rb_margin_row *r, void *ctx)
{
    struct rows *rs = ctx;

    if (rs->n == 16)
        return RB_TOOBIG;
    rs->v[rs->n] = *r;
    snprintf(rs->svc[rs->n], sizeof(rs->svc[0]), "%s", r->service);
    rs->v[rs->n].service = rs->svc[rs->n];
    rs->v[rs->n].customer = ""; /* only C is billed */
    rs->n++;
    return RB_OK;
}

struct margins_op {
    struct rows rows;
    rb_price_margin partner;
    long hidden;
};

static rb_status do_margins(rb_txn *txn, void *ctx)
{
    struct margins_op *op = ctx;
    rb_priced *p = NULL;
    rb_status rc = rb_report_margins(txn, NOV, NOV, NULL, collect, &op->rows);

    if (rc == RB_OK && (rc = rb_price_org(txn, C, NOV, NULL, &p)) == RB_OK)
        op->partner = *rb_priced_margin(p);
    rb_priced_free(p);
    return rc;
}

static void test_margins_hidden(void)
{
    struct margins_op op;
    const rb_margin_row *r = op.rows.v;

    memset(&op, 0, sizeof(op));
    INT_EQ(rb_store_view(S, do_margins, &op), RB_OK);
    /* EC2 shown, EC2 hidden (credit + tax), S3 shown (from source "extra"), C's total */
    INT_EQ(op.rows.n, 4);
    if (op.rows.n != 4)
        return;
    STR_EQ(r[0].service, "AmazonEC2");
    OK(!r[0].hidden && !r[0].total, "EC2 shown");
    DEC_EQ(r[0].charged, "110.00");
    DEC_EQ(r[0].cost, "100.00");

    STR_EQ(r[1].service, "AmazonEC2");
    OK(r[1].hidden && !r[1].total, "EC2's hidden row right after it");
    DEC_EQ(r[1].billed, "-18.00"); /* -30 + 12 */
    DEC_EQ(r[1].cost, "-18.00");
    DEC_EQ(r[1].charged, "0");
    DEC_EQ(r[1].margin, "18.00"); /* the credit the partner keeps, less the tax it pays */
    OK(r[1].has_pct, "a percentage");
    DEC_EQ(r[1].margin_pct, "-100.00");

    STR_EQ(r[2].service, "AmazonS3");
    OK(!r[2].hidden, "S3 hid nothing: no hidden row");

    OK(r[3].total, "the total comes last");
    STR_EQ(r[3].service, "");
    STR_EQ(r[3].currency, "USD");
    /* 110 + 4.40 charged; cost 100 - 18 + 4 = 86.00: rb_price_org()'s partner figures */
    DEC_EQ(r[3].charged, "114.40");
    DEC_EQ(r[3].cost, "86.00");
    DEC_EQ(r[3].billed, "86.00");
    DEC_EQ(r[3].margin, "28.40");
    OK(rb_dec_cmp(&r[3].charged, &op.partner.price) == 0, "charged %s, price %s",
       T(r[3].charged), T(op.partner.price));
    OK(rb_dec_cmp(&r[3].cost, &op.partner.cost) == 0, "cost %s, price's %s", T(r[3].cost),
       T(op.partner.cost));
    OK(rb_dec_cmp(&r[3].billed, &op.partner.billed) == 0, "billed %s, price's %s",
       T(r[3].billed), T(op.partner.billed));
    OK(rb_dec_cmp(&r[3].margin, &op.partner.margin) == 0, "margin %s, price's %s",
       T(r[3].margin), T(op.partner.margin));
    INT_EQ(op.partner.hidden, 2);
}

/* {===================================================================================
 * The gate
 * =================================================================================== */

struct gate_op {
    int month;
    bool force, forced;
    rb_status rc;
};

static rb_status do_gate(rb_txn *txn, void *ctx)
{
    struct gate_op *g = ctx;

    g->forced = true; /* must be reset by the call */
    g->rc = rb_close_require(txn, g->month, g->force, &g->forced);
    return RB_OK;
}

static struct gate_op gate(int month, bool force)
{
    struct gate_op g = {month, force, false, RB_ERROR};

    INT_EQ(rb_store_view(S, do_gate, &g), RB_OK);
    return g;
}

static rb_status do_misuse(rb_txn *txn, void *ctx)
{
    int *n = ctx;
    bool f;

    *n += rb_close_require(txn, NOV, false, NULL) == RB_MISUSE;
    *n += rb_close_require(NULL, NOV, false, &f) == RB_MISUSE;
    *n += rb_close_require(txn, -1, false, &f) == RB_INVALID;
    *n += rb_close_require(txn, RB_MONTH_OPEN, true, &f) == RB_INVALID;
    return RB_OK;
}

static rb_status do_damage(rb_txn *txn, void *ctx)
{
    unsigned char key[4 + 6];
    size_t *n = ctx;

    rbi_be32_put(key, (uint32_t)NOV);
    memcpy(key + 4, "extra", 6); /* with its NUL: the source "extra" only */
    return rbi_del_prefix(txn, RBI_DB_USAGE, key, sizeof(key), n);
}

static void test_gate(void)
{
    struct gate_op g;
    int n = 0, oct;
    size_t deleted = 0;
    const char *want = "period 2026-11 is not reconciled: USD imported 91.00, mapped 82.00, "
                       "unmapped 5.00, difference 4.00"; /* EUR 7.00 is unmapped: no difference */

    INT_EQ(rb_store_view(S, do_misuse, &n), RB_OK);
    INT_EQ(n, 4);

    g = gate(NOV, false);
    INT_EQ(g.rc, RB_OK);
    OK(!g.forced, "a reconciled period is not forced");
    g = gate(NOV, true);
    INT_EQ(g.rc, RB_OK);
    OK(!g.forced, "nor with force");
    rb_month_parse(&oct, "2026-10", NULL);
    g = gate(oct, false);
    INT_EQ(g.rc, RB_OK); /* nothing imported: nothing to differ */

    INT_EQ(rb_store_update(S, do_damage, &deleted), RB_OK);
    INT_EQ(deleted, 1);

    g = gate(NOV, false);
    INT_EQ(g.rc, RB_INVALID);
    OK(!g.forced, "refused, not forced");
    STR_EQ(rb_errmsg(S), want);
    g = gate(NOV, true);
    INT_EQ(g.rc, RB_OK);
    OK(g.forced, "forced");
    STR_EQ(rb_errmsg(S), want);
    g = gate(oct, false);
    INT_EQ(g.rc, RB_OK); /* another period is not concerned */
}

int main(void)
{
    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    test_margins_hidden();
    test_gate();
    teardown();
    return harness_done();
}
