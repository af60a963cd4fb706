/*
 * report.c -- partner reports: margins per customer and service over months
 * (rb_report_margins) and the reconciliation of a period (rb_close_check).
 *
 * Provides: rb_report_margins, rb_close_check.
 * Uses: rb_price_all() for the priced lines (partner figures from rb_priced_cost), rb_org_list,
 * rb_payer_of, rb_usage_summary, rb_usage_unmapped and rb_usage_manifest_list.
 * Must never: round a sum (only the margin percentage is rounded); add amounts of different
 * currencies; write to the store.
 */
#include "rb_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- margins ------------------------------------------------------------------------------ */

struct mrow {
    char *customer;
    char *service;
    char currency[4];
    rb_dec billed, cost, charged;
};

struct margins {
    rb_txn *txn;
    const char *org; /* filter, or NULL */
    struct mrow *v;
    size_t n, cap;
};

static struct mrow *mrow_find(struct margins *m, const char *cust, const char *svc,
                              const char *cur, rb_status *rc)
{
    struct mrow *r;

    for (size_t i = 0; i < m->n; i++) {
        r = &m->v[i];
        if (strcmp(r->customer, cust) == 0 && strcmp(r->service, svc) == 0 &&
            strcmp(r->currency, cur) == 0)
            return r;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct mrow *v = rbi_realloc(m->v, cap * sizeof(*v));
        if (!v) {
            *rc = RB_NOMEM;
            return NULL;
        }
        m->v = v;
        m->cap = cap;
    }
    r = &m->v[m->n];
    memset(r, 0, sizeof(*r));
    r->customer = rbi_strdup(cust);
    r->service = rbi_strdup(svc);
    if (!r->customer || !r->service) {
        rbi_free(r->customer);
        rbi_free(r->service);
        *rc = RB_NOMEM;
        return NULL;
    }
    rbi_strlcpy(r->currency, cur, sizeof(r->currency));
    r->billed = rb_dec_zero();
    r->cost = rb_dec_zero();
    r->charged = rb_dec_zero();
    m->n++;
    return r;
}

static rb_status margins_each(const char *org, rb_status rc, const char *msg, const rb_priced *p,
                              void *ctx)
{
    struct margins *m = ctx;
    const rb_price_totals *t;

    if (m->org && strcmp(org, m->org) != 0)
        return RB_OK;
    if (rc != RB_OK)
        return rbi_txn_error(m->txn, rc, "%s", msg ? msg : "pricing failed");
    t = rb_priced_totals(p);
    for (size_t i = 0; i < rb_priced_count(p); i++) {
        const rb_price_line *l = rb_priced_line(p, i);
        const rb_price_cost *c = rb_priced_cost(p, i);
        const char *key = l->service[0] ? l->service : l->label;
        const char *cur = t->usage_currency[0] ? t->usage_currency : t->currency;
        struct mrow *r = mrow_find(m, org, key, cur, &rc);

        if (!r)
            return rc;
        if ((rc = rb_dec_add(&r->billed, &r->billed, &c->billed)) != RB_OK ||
            (rc = rb_dec_add(&r->cost, &r->cost, &c->cost)) != RB_OK ||
            (rc = rb_dec_add(&r->charged, &r->charged, &c->price)) != RB_OK)
            return rbi_txn_error(m->txn, rc, "margin of %s, %s: sum out of range", org, key);
    }
    return RB_OK;
}

static int mrow_cmp(const void *a, const void *b)
{
    const struct mrow *x = a, *y = b;
    int c = strcmp(x->customer, y->customer);

    if (c == 0)
        c = strcmp(x->service, y->service);
    if (c == 0)
        c = strcmp(x->currency, y->currency);
    return c;
}

rb_status rb_report_margins(rb_txn *txn, int from, int to, const char *org, rb_margin_cb cb,
                            void *ctx)
{
    struct margins m = {txn, org, NULL, 0, 0};
    rb_status rc = RB_OK;
    rb_org o;
    char a[16], b[16];

    if (!txn || !cb)
        return RB_MISUSE;
    if (from < 0 || to == RB_MONTH_OPEN || from > to) {
        rb_month_format(from, a, sizeof(a));
        rb_month_format(to, b, sizeof(b));
        return rbi_txn_error(txn, RB_INVALID, "invalid period %s..%s: the end is before the "
                             "start", a, b);
    }
    if (org && (rc = rb_org_get(txn, org, &o)) != RB_OK) {
        if (rc == RB_NOTFOUND)
            return rbi_txn_error(txn, rc, "no organization \"%s\"", org);
        return rc;
    }
    for (int month = from; month <= to; month++) {
        long failed = 0;
        rc = rb_price_all(txn, month, NULL, margins_each, &m, &failed);
        if (rc != RB_OK)
            goto cleanup;
    }
    if (m.n)
        qsort(m.v, m.n, sizeof(*m.v), mrow_cmp);
    for (size_t i = 0; i < m.n && rc == RB_OK; i++) {
        struct mrow *r = &m.v[i];
        rb_margin_row row;
        rb_dec hundred = rb_dec_from_int(100), x;

        memset(&row, 0, sizeof(row));
        row.customer = r->customer;
        row.service = r->service;
        memcpy(row.currency, r->currency, sizeof(row.currency));
        row.billed = r->billed;
        row.cost = r->cost;
        row.charged = r->charged;
        if ((rc = rb_dec_sub(&row.margin, &r->charged, &r->cost)) != RB_OK)
            break;
        row.margin_pct = rb_dec_zero();
        if (rb_dec_sign(&r->cost) != 0) {
            if ((rc = rb_dec_mul(&x, &row.margin, &hundred)) != RB_OK ||
                (rc = rb_dec_div(&row.margin_pct, &x, &r->cost, 2, RB_ROUND_HALF_EVEN)) != RB_OK)
                break;
            row.has_pct = true;
        }
        rc = cb(&row, ctx);
    }
cleanup:
    for (size_t i = 0; i < m.n; i++) {
        rbi_free(m.v[i].customer);
        rbi_free(m.v[i].service);
    }
    rbi_free(m.v);
    return rc;
}

/* ---- close -------------------------------------------------------------------------------- */

#define CLOSE_CUR_MAX 32

struct closing {
    rb_txn *txn;
    rb_close_row v[CLOSE_CUR_MAX];
    int n;
    char **orgs;
    size_t norgs, cap;
};

static rb_close_row *close_cur(struct closing *cl, const char *cur)
{
    for (int i = 0; i < cl->n; i++)
        if (strcmp(cl->v[i].currency, cur) == 0)
            return &cl->v[i];
    if (cl->n == CLOSE_CUR_MAX)
        return NULL;
    rb_close_row *r = &cl->v[cl->n++];
    memset(r, 0, sizeof(*r));
    rbi_strlcpy(r->currency, cur, sizeof(r->currency));
    r->imported = r->mapped = r->unmapped = r->difference = rb_dec_zero();
    return r;
}

static rb_status close_add(struct closing *cl, const char *cur, int which, const rb_dec *d)
{
    rb_close_row *r = close_cur(cl, cur);
    rb_dec *to;
    rb_status rc;

    if (!r)
        return rbi_txn_error(cl->txn, RB_INVALID, "more than %d currencies in one period",
                             CLOSE_CUR_MAX);
    to = which == 0 ? &r->imported : which == 1 ? &r->mapped : &r->unmapped;
    rc = rb_dec_add(to, to, d);
    if (rc != RB_OK)
        return rbi_txn_error(cl->txn, rc, "sum of %s billed cost out of range", cur);
    return RB_OK;
}

static rb_status close_manifest(const rb_usage_manifest *mf, void *ctx)
{
    rb_status rc = RB_OK;

    for (size_t i = 0; i < mf->ntotals && rc == RB_OK; i++)
        rc = close_add(ctx, mf->totals[i].currency, 0, &mf->totals[i].billed);
    return rc;
}

static rb_status close_group(const rb_usage_group *g, void *ctx)
{
    return close_add(ctx, g->a.currency, 1, &g->a.billed);
}

static rb_status close_unmapped(const rb_usage_unmapped_row *r, void *ctx)
{
    return close_add(ctx, r->a.currency, 2, &r->a.billed);
}

static rb_status close_org(const rb_org *o, void *ctx)
{
    struct closing *cl = ctx;

    if (cl->norgs == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 16;
        char **v = rbi_realloc(cl->orgs, cap * sizeof(*v));
        if (!v)
            return RB_NOMEM;
        cl->orgs = v;
        cl->cap = cap;
    }
    if (!(cl->orgs[cl->norgs] = rbi_strdup(o->id)))
        return RB_NOMEM;
    cl->norgs++;
    return RB_OK;
}

static int close_row_cmp(const void *a, const void *b)
{
    return strcmp(((const rb_close_row *)a)->currency, ((const rb_close_row *)b)->currency);
}

rb_status rb_close_check(rb_txn *txn, int month, rb_close_cb cb, void *ctx, bool *reconciled)
{
    struct closing cl;
    rb_status rc;
    bool all = true;

    if (!txn || !cb || !reconciled)
        return RB_MISUSE;
    if (month < 0 || month == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid period %d", month);
    memset(&cl, 0, sizeof(cl));
    cl.txn = txn;
    if ((rc = rb_usage_manifest_list(txn, month, close_manifest, &cl)) != RB_OK)
        goto cleanup;
    if ((rc = rb_org_list(txn, close_org, &cl)) != RB_OK)
        goto cleanup;
    for (size_t i = 0; i < cl.norgs; i++) {
        rb_payer_info pi;
        rb_usage_query q;

        if ((rc = rb_payer_of(txn, cl.orgs[i], month, &pi)) != RB_OK)
            goto cleanup;
        if (pi.depth == 0)
            continue; /* its usage is in rb_usage_unmapped(): "no payer in force" */
        memset(&q, 0, sizeof(q));
        q.month = month;
        q.org = cl.orgs[i];
        q.by = RB_USAGE_BY_SERVICE;
        if ((rc = rb_usage_summary(txn, &q, close_group, &cl)) != RB_OK)
            goto cleanup;
    }
    if ((rc = rb_usage_unmapped(txn, month, close_unmapped, &cl)) != RB_OK)
        goto cleanup;
    if (cl.n)
        qsort(cl.v, (size_t)cl.n, sizeof(cl.v[0]), close_row_cmp);
    for (int i = 0; i < cl.n; i++) {
        rb_close_row *r = &cl.v[i];
        if ((rc = rb_dec_sub(&r->difference, &r->imported, &r->mapped)) != RB_OK ||
            (rc = rb_dec_sub(&r->difference, &r->difference, &r->unmapped)) != RB_OK)
            goto cleanup;
        if (rb_dec_sign(&r->difference) != 0)
            all = false;
    }
    for (int i = 0; i < cl.n; i++)
        if ((rc = cb(&cl.v[i], ctx)) != RB_OK)
            goto cleanup;
    *reconciled = all;
cleanup:
    for (size_t i = 0; i < cl.norgs; i++)
        rbi_free(cl.orgs[i]);
    rbi_free(cl.orgs);
    return rc;
}
