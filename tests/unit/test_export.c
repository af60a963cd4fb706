/*
 * test_export.c -- engine/export.c: RFC 4180 quoting of one field and the spreadsheet formula
 * guard; the FOCUS ChargeCategory of CUR line item types and the ServiceCategory of product
 * codes; rb_export_focus() on a small store: misuse, a header and rows that add up to the
 * invoice total, a refusal (no payer) that writes nothing at all, and a failing writer whose
 * status comes back and stops the export.
 */
#include "harness.h"
#include "invoice.h"

#include <stdlib.h>
#include <unistd.h>

static const char *field(const char *s, bool text)
{
    static struct rb_buf b;

    rbi_buf_release(&b);
    if (rbi_export_csv_field(&b, s, text) != RB_OK)
        return "(error)";
    return b.data ? b.data : "";
}

static void test_csv_field(void)
{
    STR_EQ(field("abc", true), "abc");
    STR_EQ(field("", true), "");
    STR_EQ(field("a,b", true), "\"a,b\"");
    STR_EQ(field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
    STR_EQ(field("two\nlines", true), "\"two\nlines\"");
    STR_EQ(field("cr\rhere", true), "\"cr\rhere\"");
    STR_EQ(field("a,\"b\"\n=cmd()", true), "\"a,\"\"b\"\"\n=cmd()\""); /* '=' not first */
    STR_EQ(field("semi;colon 'quote'", true), "semi;colon 'quote'");
    STR_EQ(field("caf\xc3\xa9", true), "caf\xc3\xa9"); /* UTF-8 as it is */
    /* formula guard: text only, first character only */
    STR_EQ(field("=1+1", true), "'=1+1");
    STR_EQ(field("+1", true), "'+1");
    STR_EQ(field("-1", true), "'-1");
    STR_EQ(field("@SUM(A1)", true), "'@SUM(A1)");
    STR_EQ(field("\tx", true), "'\tx");
    STR_EQ(field("\r=x", true), "\"'\r=x\"");
    STR_EQ(field("=HYPERLINK(\"u\",\"x\")", true), "\"'=HYPERLINK(\"\"u\"\",\"\"x\"\")\"");
    STR_EQ(field("=a,b", true), "\"'=a,b\"");
    STR_EQ(field("-10.00", false), "-10.00"); /* numbers keep their sign */
    STR_EQ(field("=x", false), "=x");
    STR_EQ(field("a=b", true), "a=b");
}

static void test_categories(void)
{
    STR_EQ(rbi_export_category("Usage"), "Usage");
    STR_EQ(rbi_export_category(""), "Usage");
    STR_EQ(rbi_export_category("DiscountedUsage"), "Usage");
    STR_EQ(rbi_export_category("SavingsPlanCoveredUsage"), "Usage");
    STR_EQ(rbi_export_category("RIFee"), "Purchase");
    STR_EQ(rbi_export_category("SavingsPlanUpfrontFee"), "Purchase");
    STR_EQ(rbi_export_category("Fee"), "Purchase");
    STR_EQ(rbi_export_category("Tax"), "Tax");
    STR_EQ(rbi_export_category("Credit"), "Credit");
    STR_EQ(rbi_export_category("Refund"), "Credit");
    STR_EQ(rbi_export_category("SavingsPlanNegation"), "Credit");
    STR_EQ(rbi_export_category("EdpDiscount"), "Credit");
    /* FOCUS charge categories (FOCUS imports) map to themselves */
    STR_EQ(rbi_export_category("Purchase"), "Purchase");
    STR_EQ(rbi_export_category("Adjustment"), "Adjustment");
    STR_EQ(rbi_export_category("usage"), "Adjustment"); /* exact names only */
    STR_EQ(rbi_export_category("SomethingNew"), "Adjustment");
    STR_EQ(rbi_export_service_category("AmazonEC2"), "Compute");
    STR_EQ(rbi_export_service_category("AmazonS3"), "Storage");
    STR_EQ(rbi_export_service_category("AmazonRDS"), "Databases");
    STR_EQ(rbi_export_service_category("AmazonCloudFront"), "Networking");
    STR_EQ(rbi_export_service_category("prodview-4x7abc"), "Other");
    STR_EQ(rbi_export_service_category(""), "Other");
}

/* ---- rb_export_focus on a store ------------------------------------------------------------ */

#define M_NOV (2026 * 12 + 10)

static char dir[64];

struct sink {
    struct rb_buf b;
    int calls;
    int fail_at; /* fail the n-th call (1-based); 0: never */
};

static rb_status sink_write(const char *data, size_t len, void *ctx)
{
    struct sink *s = ctx;

    if (++s->calls == s->fail_at)
        return RB_IO;
    return rbi_buf_append(&s->b, data, len);
}

static rb_status setup(rb_txn *txn, void *ctx)
{
    static const char *const ids[] = {"o-partner0001", "o-customer01"};
    rb_transfer t;
    int64_t at;
    rb_status rc = RB_OK;

    (void)ctx;
    rb_time_parse(&at, "2026-09-01", NULL);
    for (int i = 0; i < 2 && rc == RB_OK; i++) {
        rb_org o;
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", ids[i]);
        snprintf(o.name, sizeof(o.name), "org %d", i);
        snprintf(o.management_account, sizeof(o.management_account), "90000000000%d", i);
        o.created = at;
        rc = rb_org_create(txn, &o);
    }
    if (rc == RB_OK)
        rc = rb_account_add(txn, "111111111111", "x,\"y\"", "o-customer01", at);
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "t");
    snprintf(t.source, sizeof(t.source), "o-customer01");
    snprintf(t.payer, sizeof(t.payer), "o-partner0001");
    t.start_month = M_NOV - 1;
    t.end_month = RB_MONTH_OPEN;
    if (rc == RB_OK)
        rc = rb_transfer_invite(txn, &t, at);
    if (rc == RB_OK)
        rc = rb_transfer_accept(txn, t.id, "o-customer01", at);
    return rc;
}

static rb_status import(rb_txn *txn, void *ctx)
{
    return rb_usage_import_apply(txn, ctx, 0);
}

struct run {
    const char *org;
    struct sink *s;
    rb_export_summary sum;
};

static rb_status do_export(rb_txn *txn, void *ctx)
{
    struct run *r = ctx;

    return rb_export_focus(txn, r->org, M_NOV, NULL, 0, sink_write, r->s, &r->sum);
}

static rb_status no_writer(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rb_export_focus(txn, "o-customer01", M_NOV, NULL, 0, NULL, NULL, NULL);
}

static void test_store(void)
{
    char path[128];
    rb_store *st = NULL;
    rb_usage_import *imp = NULL;
    rb_usage_import_opts io;
    rb_error err;
    struct sink s;
    struct run r;
    rb_status rc;

    INT_EQ(rb_export_focus(NULL, "o-customer01", M_NOV, NULL, 0, sink_write, &s, NULL), RB_MISUSE);
    snprintf(path, sizeof(path), "%s/t.db", dir);
    INT_EQ(rb_store_open(&st, path, RB_OPEN_CREATE, &err), RB_OK);
    if (!st)
        return;
    INT_EQ(rb_store_update(st, setup, NULL), RB_OK);
    memset(&io, 0, sizeof(io));
    io.threads = -1;
    INT_EQ(rb_usage_import_new(&imp, &io, &err), RB_OK);
    INT_EQ(rb_usage_import_file(imp, "tests/fixtures/pricing/cur-2026-11.csv", &err), RB_OK);
    INT_EQ(rb_store_update(st, import, imp), RB_OK);
    rb_usage_import_free(imp);

    /* the file: header + rows, the rows add up to the preview total */
    r.org = "o-customer01";
    r.s = &s;
    memset(&s, 0, sizeof(s));
    rc = rb_store_view(st, do_export, &r);
    INT_EQ(rc, RB_OK);
    OK(s.b.data && strncmp(s.b.data, "BilledCost,BillingAccountId,", 28) == 0, "header: %s",
       s.b.data ? s.b.data : "(none)");
    INT_EQ(s.calls, r.sum.rows + 1); /* one call per record */
    INT_EQ(r.sum.rows, 3); /* EC2, S3, marketplace: the list base hides the credit and tax */
    STR_EQ(r.sum.currency, "USD");
    if (s.b.data) {
        STR_HAS(s.b.data, ",\"x,\"\"y\"\"\"\r\n"); /* the account name, quoted */
        STR_HAS(s.b.data, "\r\n69.12,");           /* the default plan: list price */
        OK(strstr(s.b.data, "Credit") == NULL && strstr(s.b.data, "Tax") == NULL, "hidden");
        OK(strstr(s.b.data, "\n") == strstr(s.b.data, "\r\n") + 1, "CRLF records");
    }
    {
        char tot[RB_DEC_BUFSZ];
        rb_dec_format(&r.sum.total, tot, sizeof(tot));
        STR_EQ(tot, "142.12"); /* 69.12 + 23.00 + 50.00 */
    }
    rbi_buf_release(&s.b);

    /* a refusal writes nothing: every row is computed before the first byte */
    memset(&s, 0, sizeof(s));
    r.org = "o-partner0001";
    INT_EQ(rb_store_view(st, do_export, &r), RB_INVALID);
    STR_HAS(rb_errmsg(st), "has no payer in 2026-11");
    INT_EQ(s.calls, 0);
    INT_EQ(r.sum.rows, 0);
    rbi_buf_release(&s.b);

    /* a failing writer stops the export and its status comes back */
    memset(&s, 0, sizeof(s));
    s.fail_at = 2;
    r.org = "o-customer01";
    INT_EQ(rb_store_view(st, do_export, &r), RB_IO);
    INT_EQ(s.calls, 2);
    STR_HAS(rb_errmsg(st), "cannot write the export of o-customer01");
    rbi_buf_release(&s.b);

    INT_EQ(rb_store_view(st, no_writer, NULL), RB_MISUSE);
    rb_store_close(st);
}

int main(void)
{
    char cmd[128];

    test_csv_field();
    test_categories();
    snprintf(dir, sizeof(dir), "%s", "/tmp/rebill-export.XXXXXX");
    if (!mkdtemp(dir)) {
        OK(0, "mkdtemp");
        return harness_done();
    }
    test_store();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return harness_done();
}
