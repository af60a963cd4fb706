/*
 * export.c -- customer exports: one customer-month's showback as a FOCUS 1.2 CSV that the
 * customer loads into FinOps tools (rb_export_focus). docs/invoices.md, "Customer exports".
 *
 * Provides: rb_export_focus; for the unit tests, rbi_export_csv_field(), rbi_export_category() and
 * rbi_export_service_category() (invoice.h).
 * Uses: rbi_inv_draft() (invoice.c) for the invoice's own document (lines and totals, as
 * `invoice preview` builds it, without a layout) and the priced lines it was made from
 * (their SKU, region and quantity make up each invoice line), rbi_inv_round_lines()
 * to round those to the invoice line they add up to, rb_profile_get, rb_org_get, rb_payer_of.
 * Must never: read a partner cost, a billed cost or a margin (only rb_price_line and the
 * invoice's showback document are read: never rb_priced_cost, rb_priced_margin or
 * rb_priced_input_price); round otherwise than the invoice (every row group adds up to its
 * invoice line and the rows to the invoice total, checked before a byte is written); write to
 * the store.
 */
#include "invoice.h"

#include <stdio.h>
#include <string.h>

/* {===================================================================================
 * CSV (RFC 4180) and FOCUS value mappings
 * =================================================================================== */

/* Append `s` as one CSV field: quoted (quotes doubled) when it holds a comma, a quote, CR or
 * LF. With `text`, a value that a spreadsheet would run as a formula (first character '=',
 * '+', '-', '@', TAB or CR) gets a leading apostrophe, which spreadsheets show as text. */
rb_status rbi_export_csv_field(struct rb_buf *b, const char *s, bool text)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    rb_status rc = RB_OK;

    if (quote)
        rc = rbi_buf_append(b, "\"", 1);
    if (rc == RB_OK && text && s[0] && strchr("=+-@\t\r", s[0]))
        rc = rbi_buf_append(b, "'", 1);
    for (const char *p = s; rc == RB_OK && *p; p++)
        rc = *p == '"' ? rbi_buf_append(b, "\"\"", 2) : rbi_buf_append(b, p, 1);
    if (rc == RB_OK && quote)
        rc = rbi_buf_append(b, "\"", 1);
    return rc;
}

/* FOCUS ChargeCategory of a usage line's CUR line item type (or FOCUS charge category). */
const char *rbi_export_category(const char *line_type)
{
    static const struct {
        const char *type;
        const char *category;
    } map[] = {
        {"", "Usage"},
        {"Usage", "Usage"},
        {"DiscountedUsage", "Usage"},
        {"SavingsPlanCoveredUsage", "Usage"},
        {"Purchase", "Purchase"},
        {"Fee", "Purchase"},
        {"RIFee", "Purchase"},
        {"SavingsPlanRecurringFee", "Purchase"},
        {"SavingsPlanUpfrontFee", "Purchase"},
        {"Tax", "Tax"},
        {"Credit", "Credit"},
        {"Refund", "Credit"},
        {"SavingsPlanNegation", "Credit"},
        {"BundledDiscount", "Credit"},
        {"EdpDiscount", "Credit"},
        {"PrivateRateDiscount", "Credit"},
        {"SppDiscount", "Credit"},
        {"DistributorDiscount", "Credit"},
        {"Adjustment", "Adjustment"},
    };

    for (size_t i = 0; i < RB_COUNTOF(map); i++)
        if (strcmp(line_type, map[i].type) == 0)
            return map[i].category;
    return "Adjustment";
}

/* FOCUS ServiceCategory of an AWS product code; "Other" for what the table does not know. */
const char *rbi_export_service_category(const char *service)
{
    static const struct {
        const char *code;
        const char *category;
    } map[] = {
        {"AmazonEC2", "Compute"},
        {"AWSLambda", "Compute"},
        {"AmazonECS", "Compute"},
        {"AmazonEKS", "Compute"},
        {"AmazonLightsail", "Compute"},
        {"AWSBatch", "Compute"},
        {"AmazonS3", "Storage"},
        {"AmazonEFS", "Storage"},
        {"AmazonGlacier", "Storage"},
        {"AmazonFSx", "Storage"},
        {"AWSBackup", "Storage"},
        {"AmazonRDS", "Databases"},
        {"AmazonDynamoDB", "Databases"},
        {"AmazonElastiCache", "Databases"},
        {"AmazonRedshift", "Databases"},
        {"AmazonDocDB", "Databases"},
        {"AmazonNeptune", "Databases"},
        {"AmazonCloudFront", "Networking"},
        {"AmazonVPC", "Networking"},
        {"AWSDataTransfer", "Networking"},
        {"AmazonRoute53", "Networking"},
        {"AWSELB", "Networking"},
        {"AWSGlobalAccelerator", "Networking"},
        {"AWSDirectConnect", "Networking"},
        {"AmazonApiGateway", "Web"},
        {"AmazonCloudWatch", "Management and Governance"},
        {"AWSConfig", "Management and Governance"},
        {"AWSCloudTrail", "Management and Governance"},
        {"awskms", "Security"},
        {"AWSSecretsManager", "Security"},
        {"AmazonGuardDuty", "Security"},
        {"awswaf", "Security"},
        {"AmazonCognito", "Identity"},
        {"AWSDirectoryService", "Identity"},
        {"AmazonSNS", "Integration"},
        {"AWSQueueService", "Integration"},
        {"AWSEvents", "Integration"},
        {"AmazonKinesis", "Analytics"},
        {"AmazonAthena", "Analytics"},
        {"AWSGlue", "Analytics"},
        {"ElasticMapReduce", "Analytics"},
        {"AmazonQuickSight", "Analytics"},
        {"AmazonSageMaker", "AI and Machine Learning"},
        {"AmazonBedrock", "AI and Machine Learning"},
        {"AmazonRekognition", "AI and Machine Learning"},
        {"AmazonECR", "Developer Tools"},
        {"AWSCodeBuild", "Developer Tools"},
        {"AWSCodePipeline", "Developer Tools"},
    };

    for (size_t i = 0; i < RB_COUNTOF(map); i++)
        if (strcmp(service, map[i].code) == 0)
            return map[i].category;
    return "Other";
}

/* FOCUS RegionName of an AWS region code; the code itself when the table does not know it. */
static const char *region_name(const char *code)
{
    static const struct {
        const char *code;
        const char *name;
    } map[] = {
        {"us-east-1", "US East (N. Virginia)"},
        {"us-east-2", "US East (Ohio)"},
        {"us-west-1", "US West (N. California)"},
        {"us-west-2", "US West (Oregon)"},
        {"af-south-1", "Africa (Cape Town)"},
        {"ap-east-1", "Asia Pacific (Hong Kong)"},
        {"ap-south-1", "Asia Pacific (Mumbai)"},
        {"ap-south-2", "Asia Pacific (Hyderabad)"},
        {"ap-southeast-1", "Asia Pacific (Singapore)"},
        {"ap-southeast-2", "Asia Pacific (Sydney)"},
        {"ap-southeast-3", "Asia Pacific (Jakarta)"},
        {"ap-southeast-4", "Asia Pacific (Melbourne)"},
        {"ap-northeast-1", "Asia Pacific (Tokyo)"},
        {"ap-northeast-2", "Asia Pacific (Seoul)"},
        {"ap-northeast-3", "Asia Pacific (Osaka)"},
        {"ca-central-1", "Canada (Central)"},
        {"ca-west-1", "Canada West (Calgary)"},
        {"eu-central-1", "Europe (Frankfurt)"},
        {"eu-central-2", "Europe (Zurich)"},
        {"eu-west-1", "Europe (Ireland)"},
        {"eu-west-2", "Europe (London)"},
        {"eu-west-3", "Europe (Paris)"},
        {"eu-south-1", "Europe (Milan)"},
        {"eu-south-2", "Europe (Spain)"},
        {"eu-north-1", "Europe (Stockholm)"},
        {"il-central-1", "Israel (Tel Aviv)"},
        {"me-south-1", "Middle East (Bahrain)"},
        {"me-central-1", "Middle East (UAE)"},
        {"sa-east-1", "South America (S\xc3\xa3o Paulo)"},
        {"us-gov-east-1", "AWS GovCloud (US-East)"},
        {"us-gov-west-1", "AWS GovCloud (US-West)"},
    };

    for (size_t i = 0; i < RB_COUNTOF(map); i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].name;
    return code;
}

/* The columns, in the order written (docs/invoices.md has the table). */
enum col {
    C_BILLED_COST,
    C_BILLING_ACCOUNT_ID,
    C_BILLING_ACCOUNT_NAME,
    C_BILLING_CURRENCY,
    C_BILLING_PERIOD_END,
    C_BILLING_PERIOD_START,
    C_CHARGE_CATEGORY,
    C_CHARGE_CLASS,
    C_CHARGE_DESCRIPTION,
    C_CHARGE_PERIOD_END,
    C_CHARGE_PERIOD_START,
    C_CONSUMED_QUANTITY,
    C_CONSUMED_UNIT,
    C_CONTRACTED_COST,
    C_EFFECTIVE_COST,
    C_INVOICE_ISSUER_NAME,
    C_LIST_COST,
    C_PRICING_QUANTITY,
    C_PRICING_UNIT,
    C_PROVIDER_NAME,
    C_PUBLISHER_NAME,
    C_REGION_ID,
    C_REGION_NAME,
    C_SERVICE_CATEGORY,
    C_SERVICE_NAME,
    C_SKU_ID,
    C_SUB_ACCOUNT_ID,
    C_SUB_ACCOUNT_NAME,
    C__COUNT
};

static const char *const col_names[C__COUNT] = {
    "BilledCost",         "BillingAccountId",
    "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd",   "BillingPeriodStart",
    "ChargeCategory",     "ChargeClass",
    "ChargeDescription",  "ChargePeriodEnd",
    "ChargePeriodStart",  "ConsumedQuantity",
    "ConsumedUnit",       "ContractedCost",
    "EffectiveCost",      "InvoiceIssuerName",
    "ListCost",           "PricingQuantity",
    "PricingUnit",        "ProviderName",
    "PublisherName",      "RegionId",
    "RegionName",         "ServiceCategory",
    "ServiceName",        "SkuId",
    "SubAccountId",       "SubAccountName",
};

/* The unit of PricingQuantity and ConsumedQuantity: rebill keeps the quantity AWS reports for
 * a usage type but not its unit, so the count-based unit of FOCUS's Unit Format is used. */
#define QTY_UNIT "Units"

/* {===================================================================================
 * The export's state
 * =================================================================================== */

/* A line of the invoice, read back from its JSON form; strings are offsets into `pool`. */
struct iline {
    size_t kind, service, account, account_name, descr;
    rb_dec amount;
    int corrects; /* the month a correction line corrects; -1 otherwise */
};

/* One row of the file. Strings are offsets into `pool` (0 is ""; "" is written as null). */
struct row {
    const char *category;
    bool correction;
    bool partner; /* an invoice-level charge: provided by the partner, not by AWS */
    int month;    /* of the charge period */
    size_t service, account, account_name, sku, region, descr;
    bool has_qty;
    rb_dec qty;
    rb_dec amount;
};

struct exp {
    rb_txn *txn;
    const char *org;
    int month;
    struct rbi_inv_draft *draft;
    const struct rbi_inv_doc *doc; /* the draft's */
    const rb_priced *p;            /* the draft's */
    struct rb_buf pool;
    struct iline *il;
    size_t nil, capil;
    size_t tax_name; /* pool offset */
    struct row *rows;
    size_t nrows, caprows;
    char customer_name[RB_NAME_MAX + 1];
    char issuer_name[RB_NAME_MAX + 1];
};

static rb_status nomem(struct exp *e)
{
    return rbi_txn_error(e->txn, RB_NOMEM, "out of memory");
}

/* Copy s (len bytes) into the pool; *off gets its offset. */
static rb_status pool_add(struct exp *e, const char *s, size_t len, size_t *off)
{
    size_t at = e->pool.len;

    if (len == 0) {
        *off = 0;
        return RB_OK;
    }
    if (rbi_buf_append(&e->pool, s, len) != RB_OK || rbi_buf_append(&e->pool, "", 1) != RB_OK)
        return nomem(e);
    *off = at;
    return RB_OK;
}

static const char *str(const struct exp *e, size_t off)
{
    return e->pool.data + off;
}

static rb_status row_new(struct exp *e, struct row **out)
{
    if (e->nrows == e->caprows) {
        size_t cap = e->caprows ? e->caprows * 2 : 16;
        struct row *v = rbi_realloc(e->rows, cap * sizeof(*v));
        if (!v)
            return nomem(e);
        e->rows = v;
        e->caprows = cap;
    }
    *out = &e->rows[e->nrows++];
    memset(*out, 0, sizeof(**out));
    (*out)->month = e->month;
    return RB_OK;
}

/* {===================================================================================
 * The invoice's lines
 * =================================================================================== */

/* The draft's lines, copied into the pool with the tax name. */
static rb_status read_invoice(struct exp *e)
{
    const struct rbi_inv_doc *d = e->doc;

    e->il = rbi_calloc(d->nlines + 1, sizeof(*e->il));
    if (!e->il)
        return nomem(e);
    for (size_t i = 0; i < d->nlines; i++) {
        const struct rbi_inv_line *l = &d->lines[i];
        struct iline *o = &e->il[i];
        if (pool_add(e, l->kind, strlen(l->kind), &o->kind) != RB_OK ||
            pool_add(e, l->service, strlen(l->service), &o->service) != RB_OK ||
            pool_add(e, l->account, strlen(l->account), &o->account) != RB_OK ||
            pool_add(e, l->account_name, strlen(l->account_name), &o->account_name) != RB_OK ||
            pool_add(e, l->description, strlen(l->description), &o->descr) != RB_OK)
            return RB_NOMEM; /* pool_add said so */
        o->amount = l->amount;
        o->corrects = l->corrects;
        e->nil++;
    }
    return pool_add(e, d->tax_name, strlen(d->tax_name), &e->tax_name);
}

/* {===================================================================================
 * Rows
 * =================================================================================== */

static rb_status mismatch(struct exp *e, const char *what)
{
    char mon[16];

    rb_month_format(e->month, mon, sizeof(mon));
    return rbi_txn_error(e->txn, RB_ERROR,
                         "cannot export %s for %s: %s (the priced lines and the invoice "
                         "disagree; please report this)",
                         e->org, mon, what);
}

/* The invoice line a priced line belongs to: the invoice's own grouping (invoice.c add_line:
 * usage and passed lines by service and account, items by kind, service and name, names kept
 * to 95 bytes) gives the groups in the order of the invoice's lines. */
struct grp {
    const char *kind;
    const char *service;
    const char *account;
    char descr[96];
};

static rb_status group_of(struct exp *e, struct grp *g, size_t *ng, size_t cap,
                          const rb_price_line *l, size_t *at)
{
    bool usage = l->kind == RB_PRICE_USAGE || l->kind == RB_PRICE_PASS;
    const char *kind = usage ? "usage" : rb_price_kind_name(l->kind);
    const char *account = usage ? l->account : "";
    const char *descr = usage ? l->service : l->label;

    for (size_t i = 0; i < *ng; i++) {
        if (strcmp(g[i].kind, kind) == 0 && strcmp(g[i].service, l->service) == 0 &&
            strcmp(g[i].account, account) == 0 && strcmp(g[i].descr, descr) == 0) {
            *at = i;
            return RB_OK;
        }
    }
    if (*ng >= cap)
        return mismatch(e, "more groups of priced lines than invoice lines");
    g[*ng].kind = kind;
    g[*ng].service = l->service;
    g[*ng].account = account;
    rbi_strlcpy(g[*ng].descr, descr, sizeof(g[*ng].descr));
    *at = (*ng)++;
    return RB_OK;
}

/* "AmazonEC2 BoxUsage:m5.large (RunInstances)"; "Credit: AmazonEC2" for other line types. */
static rb_status usage_descr(struct exp *e, const rb_price_line *l, size_t *off)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = RB_OK;

    if (l->line_type[0] && strcmp(l->line_type, "Usage") != 0)
        rc = rbi_buf_printf(&b, "%s: ", l->line_type);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&b, l->service);
    if (rc == RB_OK && l->usage_type[0])
        rc = rbi_buf_printf(&b, " %s", l->usage_type);
    if (rc == RB_OK && l->operation[0])
        rc = rbi_buf_printf(&b, " (%s)", l->operation);
    if (rc == RB_OK)
        rc = pool_add(e, b.data ? b.data : "", b.len, off);
    else
        rc = nomem(e);
    rbi_buf_release(&b);
    return rc;
}

/* A row for priced line l with its rounded amount; `il` is its invoice line. */
static rb_status priced_row(struct exp *e, const rb_price_line *l, const struct iline *il,
                            const rb_dec *amount)
{
    bool usage = l->kind == RB_PRICE_USAGE || l->kind == RB_PRICE_PASS;
    struct row *r;
    rb_status rc = row_new(e, &r);

    if (rc != RB_OK)
        return rc;
    r->amount = *amount;
    if (usage) {
        r->category = rbi_export_category(l->line_type);
        rc = pool_add(e, l->service, strlen(l->service), &r->service);
        if (rc == RB_OK)
            rc = pool_add(e, l->account, strlen(l->account), &r->account);
        r->account_name = il->account_name;
        if (rc == RB_OK)
            rc = pool_add(e, l->usage_type, strlen(l->usage_type), &r->sku);
        if (rc == RB_OK)
            rc = pool_add(e, l->region, strlen(l->region), &r->region);
        if (rc == RB_OK)
            rc = usage_descr(e, l, &r->descr);
        /* PricingQuantity: never for tax, always for usage and purchases (FOCUS 1.2), for
         * the rest (credits, adjustments) when the line has one */
        r->qty = rb_dec_normalize(&l->quantity);
        r->has_qty = strcmp(r->category, "Tax") != 0 &&
                     (strcmp(r->category, "Usage") == 0 || strcmp(r->category, "Purchase") == 0 ||
                      rb_dec_sign(&r->qty) != 0);
        return rc;
    }
    r->partner = true;
    switch (l->kind) {
    case RB_PRICE_FEE:
    case RB_PRICE_COMMIT:
        r->category = "Purchase";
        r->has_qty = true; /* one fee, one shortfall */
        r->qty = rb_dec_from_int(1);
        break;
    case RB_PRICE_CREDIT:
        r->category = "Credit";
        break;
    default:
        r->category = "Adjustment"; /* added by the plan's on_invoice hook */
        break;
    }
    rc = pool_add(e, l->service[0] ? l->service : l->label,
                  strlen(l->service[0] ? l->service : l->label), &r->service);
    if (rc == RB_OK)
        rc = pool_add(e, l->label, strlen(l->label), &r->descr);
    return rc;
}

/* Rows of the priced lines, each group rounded to its invoice line. */
static rb_status priced_rows(struct exp *e)
{
    size_t n = rb_priced_count(e->p), ng = 0, ninv = 0;
    struct grp *g = NULL;
    size_t *of = NULL, *idx = NULL, *start = NULL;
    rb_dec *exact = NULL, *rounded = NULL;
    rb_status rc = RB_OK;

    for (size_t i = 0; i < e->nil; i++)
        if (e->il[i].corrects < 0)
            ninv++;
    g = rbi_calloc(ninv + 1, sizeof(*g));
    start = rbi_calloc(ninv + 2, sizeof(*start));
    of = rbi_calloc(n + 1, sizeof(*of));
    idx = rbi_calloc(n + 1, sizeof(*idx));
    exact = rbi_calloc(n + 1, sizeof(*exact));
    rounded = rbi_calloc(n + 1, sizeof(*rounded));
    if (!g || !start || !of || !idx || !exact || !rounded) {
        rc = nomem(e);
        goto out_free;
    }
    for (size_t i = 0; i < n && rc == RB_OK; i++)
        rc = group_of(e, g, &ng, ninv, rb_priced_line(e->p, i), &of[i]);
    if (rc == RB_OK && ng != ninv)
        rc = mismatch(e, "an invoice line has no priced line");
    if (rc != RB_OK)
        goto out_free;
    /* the lines of group k, in their order: idx[start[k] .. start[k + 1]) */
    for (size_t i = 0; i < n; i++)
        start[of[i] + 1]++;
    for (size_t k = 0; k < ng; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++)
        idx[start[of[i]]++] = i;
    for (size_t k = ng; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
    /* the invoice's lines: the groups first, in order, then its corrections */
    for (size_t k = 0; k < ng && rc == RB_OK; k++) {
        const struct iline *il = &e->il[k];
        size_t m = 0;
        if (il->corrects >= 0 || strcmp(str(e, il->kind), g[k].kind) != 0 ||
            strcmp(str(e, il->service), g[k].service) != 0 ||
            strcmp(str(e, il->account), g[k].account) != 0 ||
            strcmp(str(e, il->descr), g[k].descr) != 0) {
            rc = mismatch(e, "a line differs");
            break;
        }
        for (size_t j = start[k]; j < start[k + 1]; j++)
            exact[m++] = rb_priced_line(e->p, idx[j])->amount;
        rc = rbi_inv_round_lines(exact, rounded, m, e->doc->currency, &il->amount);
        if (rc == RB_INVALID) {
            rc = mismatch(e, "a line cannot be spread over its priced lines");
            break;
        }
        if (rc != RB_OK) {
            rc = rc == RB_NOMEM ? nomem(e) : rbi_txn_error(e->txn, rc, "cannot round a line");
            break;
        }
        for (size_t i = 0; i < m && rc == RB_OK; i++)
            rc = priced_row(e, rb_priced_line(e->p, idx[start[k] + i]), il, &rounded[i]);
    }
out_free:
    rbi_free(g);
    rbi_free(start);
    rbi_free(of);
    rbi_free(idx);
    rbi_free(exact);
    rbi_free(rounded);
    return rc;
}

/* The corrections of earlier months and the tax: invoice-level rows of the invoice. */
static rb_status invoice_rows(struct exp *e)
{
    struct row *r;
    rb_status rc = RB_OK;

    for (size_t i = 0; i < e->nil && rc == RB_OK; i++) {
        const struct iline *il = &e->il[i];
        if (il->corrects < 0)
            continue;
        rc = row_new(e, &r);
        if (rc != RB_OK)
            break;
        r->category = "Adjustment";
        r->correction = true;
        r->partner = true;
        r->month = il->corrects; /* the charge period is the month corrected */
        r->amount = il->amount;
        r->descr = il->descr;
        rc = pool_add(e, "Invoice correction", strlen("Invoice correction"), &r->service);
    }
    if (rc == RB_OK && rb_dec_sign(&e->doc->tax) != 0) {
        char name[RB_PRICE_LABEL_MAX + 1]; /* a copy: the pool moves as it grows */
        char buf[RB_PRICE_LABEL_MAX + RB_DEC_BUFSZ + 8];
        rb_dec rate;
        rbi_strlcpy(name, e->tax_name ? str(e, e->tax_name) : "Tax", sizeof(name));
        rc = row_new(e, &r);
        if (rc != RB_OK)
            return rc;
        r->category = "Tax";
        r->partner = true;
        r->amount = e->doc->tax;
        rc = pool_add(e, name, strlen(name), &r->service);
        if (rc == RB_OK && rb_dec_sign(&e->doc->tax_rate) != 0) {
            char rbuf[RB_DEC_BUFSZ];
            rate = rb_dec_normalize(&e->doc->tax_rate);
            rb_dec_format(&rate, rbuf, sizeof(rbuf));
            snprintf(buf, sizeof(buf), "%s %s%%", name, rbuf);
        } else {
            snprintf(buf, sizeof(buf), "%s", name);
        }
        if (rc == RB_OK)
            rc = pool_add(e, buf, strlen(buf), &r->descr);
    }
    return rc;
}

/* Σ BilledCost must be the invoice's total, to the cent, before anything is written. */
static rb_status check_total(struct exp *e, rb_dec *sum)
{
    char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ];
    rb_status rc = RB_OK;

    *sum = rb_dec_zero();
    for (size_t i = 0; i < e->nrows && rc == RB_OK; i++)
        rc = rb_dec_add(sum, sum, &e->rows[i].amount);
    if (rc != RB_OK)
        return rbi_txn_error(e->txn, rc, "cannot add up the export of %s", e->org);
    if (rb_dec_cmp(sum, &e->doc->total) != 0) {
        char what[2 * RB_DEC_BUFSZ + 48];
        rb_dec_format(sum, a, sizeof(a));
        rb_dec_format(&e->doc->total, b, sizeof(b));
        snprintf(what, sizeof(what), "the rows add up to %s, the invoice to %s", a, b);
        return mismatch(e, what);
    }
    return RB_OK;
}

/* {===================================================================================
 * Writing
 * =================================================================================== */

static rb_status put(struct rb_buf *b, const char *s, bool text, bool first)
{
    rb_status rc = first ? RB_OK : rbi_buf_append(b, ",", 1);

    return rc == RB_OK ? rbi_export_csv_field(b, s, text) : rc;
}

static void fmt_month_edge(int month, char *buf, size_t size)
{
    rb_time_format(rb_month_start(month), buf, size);
}

static rb_status write_row(const struct exp *e, const struct row *r, struct rb_buf *b)
{
    const char *v[C__COUNT];
    char amount[RB_DEC_BUFSZ], qty[RB_DEC_BUFSZ], bps[32], bpe[32], cps[32], cpe[32];
    const char *issuer = e->issuer_name;
    bool usage = strcmp(r->category, "Usage") == 0 && !r->correction;
    rb_status rc = RB_OK;

    rb_dec_format(&r->amount, amount, sizeof(amount));
    rb_dec_format(&r->qty, qty, sizeof(qty));
    fmt_month_edge(e->month, bps, sizeof(bps));
    fmt_month_edge(e->month + 1, bpe, sizeof(bpe));
    fmt_month_edge(r->month, cps, sizeof(cps));
    fmt_month_edge(r->month + 1, cpe, sizeof(cpe));
    v[C_BILLED_COST] = amount;
    v[C_BILLING_ACCOUNT_ID] = e->org;
    v[C_BILLING_ACCOUNT_NAME] = e->customer_name;
    v[C_BILLING_CURRENCY] = e->doc->currency;
    v[C_BILLING_PERIOD_END] = bpe;
    v[C_BILLING_PERIOD_START] = bps;
    v[C_CHARGE_CATEGORY] = r->category;
    v[C_CHARGE_CLASS] = r->correction ? "Correction" : "";
    v[C_CHARGE_DESCRIPTION] = str(e, r->descr);
    v[C_CHARGE_PERIOD_END] = cpe;
    v[C_CHARGE_PERIOD_START] = cps;
    v[C_CONSUMED_QUANTITY] = usage && r->has_qty ? qty : "";
    v[C_CONSUMED_UNIT] = usage && r->has_qty ? QTY_UNIT : "";
    v[C_CONTRACTED_COST] = amount;
    v[C_EFFECTIVE_COST] = amount;
    v[C_INVOICE_ISSUER_NAME] = issuer;
    v[C_LIST_COST] = amount;
    v[C_PRICING_QUANTITY] = r->has_qty ? qty : "";
    v[C_PRICING_UNIT] = r->has_qty ? QTY_UNIT : "";
    v[C_PROVIDER_NAME] = r->partner ? issuer : "AWS";
    v[C_PUBLISHER_NAME] = r->partner ? issuer : "AWS";
    v[C_REGION_ID] = str(e, r->region);
    v[C_REGION_NAME] = r->region ? region_name(str(e, r->region)) : "";
    v[C_SERVICE_CATEGORY] = rbi_export_service_category(str(e, r->service));
    v[C_SERVICE_NAME] = str(e, r->service);
    v[C_SKU_ID] = str(e, r->sku);
    v[C_SUB_ACCOUNT_ID] = str(e, r->account);
    v[C_SUB_ACCOUNT_NAME] = r->account ? str(e, r->account_name) : "";
    rbi_buf_reset(b);
    for (int c = 0; c < C__COUNT && rc == RB_OK; c++) {
        bool text = c != C_BILLED_COST && c != C_CONTRACTED_COST && c != C_EFFECTIVE_COST &&
                    c != C_LIST_COST && c != C_PRICING_QUANTITY && c != C_CONSUMED_QUANTITY;
        rc = put(b, v[c], text, c == 0);
    }
    return rc == RB_OK ? rbi_buf_append(b, "\r\n", 2) : rc;
}

static rb_status emit(struct exp *e, rb_export_write_fn write, void *ctx)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = RB_OK;

    for (int c = 0; c < C__COUNT && rc == RB_OK; c++)
        rc = put(&b, col_names[c], false, c == 0);
    if (rc == RB_OK)
        rc = rbi_buf_append(&b, "\r\n", 2);
    if (rc == RB_OK)
        rc = write(b.data, b.len, ctx);
    for (size_t i = 0; i < e->nrows && rc == RB_OK; i++) {
        rc = write_row(e, &e->rows[i], &b);
        if (rc == RB_OK)
            rc = write(b.data, b.len, ctx);
    }
    rbi_buf_release(&b);
    if (rc == RB_NOMEM)
        return nomem(e);
    if (rc != RB_OK)
        return rbi_txn_error(e->txn, rc, "cannot write the export of %s: %s", e->org,
                             rb_strerror(rc));
    return RB_OK;
}

/* {===================================================================================
 * rb_export_focus
 * =================================================================================== */

/* The name an organization is known by on invoices: its profile's legal name, else its name. */
static rb_status display_name(rb_txn *txn, const char *org, char *out, size_t size)
{
    rb_profile p;
    rb_org o;
    rb_status rc = rb_profile_get(txn, org, &p);

    if (rc == RB_OK && p.legal_name[0]) {
        rbi_strlcpy(out, p.legal_name, size);
        return RB_OK;
    }
    if (rc == RB_OK)
        rc = rb_org_get(txn, org, &o);
    if (rc == RB_OK)
        rbi_strlcpy(out, o.name, size);
    return rc;
}

rb_status rb_export_focus(rb_txn *txn, const char *org, int month, const rb_limits *limits,
                          int64_t now, rb_export_write_fn write, void *ctx, rb_export_summary *out)
{
    struct exp *e;
    rb_dec total;
    rb_status rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!txn || !write)
        return RB_MISUSE;
    e = rbi_calloc(1, sizeof(*e));
    if (!e)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    e->txn = txn;
    e->org = org;
    e->month = month;
    /* the invoice's draft: it checks the org, the period and the payer, and its messages say
     * so; its priced lines are the ones the invoice lines were made from */
    rc = rbi_inv_draft(txn, org, month, limits, now, &e->draft);
    if (rc != RB_OK)
        goto out_free;
    e->doc = rbi_inv_draft_doc(e->draft);
    e->p = rbi_inv_draft_priced(e->draft);
    if (rbi_buf_append(&e->pool, "", 1) != RB_OK) { /* offset 0 is "" */
        rc = nomem(e);
        goto out_free;
    }
    rc = read_invoice(e);
    if (rc == RB_OK)
        rc = display_name(txn, org, e->customer_name, sizeof(e->customer_name));
    if (rc == RB_OK)
        rc = display_name(txn, e->doc->issuer_id, e->issuer_name, sizeof(e->issuer_name));
    if (rc == RB_OK)
        rc = priced_rows(e);
    if (rc == RB_OK)
        rc = invoice_rows(e);
    if (rc == RB_OK)
        rc = check_total(e, &total);
    if (rc == RB_OK)
        rc = emit(e, write, ctx);
    if (rc == RB_OK && out) {
        out->rows = (long)e->nrows;
        memcpy(out->currency, e->doc->currency, sizeof(out->currency));
        out->total = total;
    }
out_free:
    rbi_inv_draft_free(e->draft);
    rbi_buf_release(&e->pool);
    rbi_free(e->il);
    rbi_free(e->rows);
    rbi_free(e);
    return rc;
}
