/*
 * report.c -- partner reports: margins per customer and service over months
 * (rb_report_margins), the reconciliation of a period (rb_close_check) and the gate that
 * keeps an unreconciled period from being issued (rb_close_require).
 *
 * Provides: rb_report_margins, rb_close_check, rb_close_require.
 * Uses: rb_price_all() for the priced lines (partner figures from rb_priced_cost, and
 * rb_priced_hidden_* for the lines a plan hid); rbi_usage_reconcile (one scan of the month:
 * what someone pays for and what nobody does) and rb_usage_manifest_list.
 * Must never: round a sum (only the margin percentage is rounded); add amounts of different
 * currencies; write to the store.
 */
#include "rb_int.h"
#include "usage.h"

#include <stdlib.h>
#include <string.h>

/* ---- margins ------------------------------------------------------------------------------ */

/*
 * Hidden lines. A priced result leaves out of the invoice the lines the pass-through policy
 * hides, yet the partner pays them (a hidden tax) or keeps them (a hidden credit): the result
 * gives them apart (rb_priced_hidden_*), with their cost, and they go to their service's
 * hidden row with nothing charged.
 */
struct mrow {
    char *customer;
    char *service;
    char currency[4];
    bool hidden;   /* the hidden lines of `service` */
    bool total;    /* the customer's total in `currency` (service "") */
    long lines;    /* hidden rows: lines hidden; 0 means none and the row is not shown */
    uint64_t hash; /* of the key, for the index */
    rb_dec billed, cost, charged;
};

struct margins {
    rb_txn *txn;
    const char *org; /* filter, or NULL */
    struct mrow *v;
    size_t n, cap;
    size_t *slot; /* open addressing: index + 1 into v, 0 when free */
    size_t nslot; /* a power of two, at least 2 x cap */
};

static uint64_t mix(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u; /* a separator no string holds */
}

static uint64_t mrow_hash(const char *cust, const char *svc, const char *cur, bool hidden,
                          bool total)
{
    uint64_t h = 14695981039346656037u;

    h = mix(mix(mix(h, cust), svc), cur);
    return (h ^ (uint64_t)(hidden + 2 * total)) * 1099511628211u;
}

static rb_status mrow_index(struct margins *m, size_t nslot)
{
    size_t *s = rbi_calloc(nslot, sizeof(*s));

    if (!s)
        return RB_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)m->v[i].hash & (nslot - 1);
        while (s[h])
            h = (h + 1) & (nslot - 1);
        s[h] = i + 1;
    }
    rbi_free(m->slot);
    m->slot = s;
    m->nslot = nslot;
    return RB_OK;
}

/* The row of a key, added (zero) when new. Pointers into m->v are valid until the next call. */
static struct mrow *mrow_find(struct margins *m, const char *cust, const char *svc,
                              const char *cur, bool hidden, bool total, rb_status *rc)
{
    uint64_t hash = mrow_hash(cust, svc, cur, hidden, total);
    struct mrow *r;
    size_t h;

    for (h = m->nslot ? (size_t)hash & (m->nslot - 1) : 0; m->nslot && m->slot[h];
         h = (h + 1) & (m->nslot - 1)) {
        r = &m->v[m->slot[h] - 1];
        if (r->hash == hash && r->hidden == hidden && r->total == total &&
            strcmp(r->customer, cust) == 0 && strcmp(r->service, svc) == 0 &&
            strcmp(r->currency, cur) == 0)
            return r;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct mrow *v;
        if (cap > SIZE_MAX / 4 / sizeof(*v)) {
            *rc = RB_NOMEM;
            return NULL;
        }
        v = rbi_realloc(m->v, cap * sizeof(*v));
        if (!v) {
            *rc = RB_NOMEM;
            return NULL;
        }
        m->v = v;
        m->cap = cap;
        if ((*rc = mrow_index(m, cap * 2)) != RB_OK)
            return NULL;
        for (h = (size_t)hash & (m->nslot - 1); m->slot[h]; h = (h + 1) & (m->nslot - 1))
            ;
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
    r->hidden = hidden;
    r->total = total;
    r->hash = hash;
    r->billed = rb_dec_zero();
    r->cost = rb_dec_zero();
    r->charged = rb_dec_zero();
    m->slot[h] = ++m->n;
    return r;
}

/* Add a line's billed cost and cost, and its price if it is charged (hidden lines are not). */
static rb_status mrow_add(struct margins *m, struct mrow *r, const rb_price_cost *c, bool price)
{
    rb_status rc;

    if ((rc = rb_dec_add(&r->billed, &r->billed, &c->billed)) == RB_OK &&
        (rc = rb_dec_add(&r->cost, &r->cost, &c->cost)) == RB_OK && price)
        rc = rb_dec_add(&r->charged, &r->charged, &c->price);
    if (rc != RB_OK)
        return rbi_txn_error(m->txn, rc, "margin of %s, %s: sum out of range", r->customer,
                             r->service);
    r->lines++;
    return RB_OK;
}

static const char *line_key(const rb_price_line *l)
{
    return l->service[0] ? l->service : l->label;
}

static const char *usage_currency(const rb_priced *p)
{
    const rb_price_totals *t = rb_priced_totals(p);

    return t->usage_currency[0] ? t->usage_currency : t->currency;
}

/* One customer-month: its lines in their service's row, its hidden lines in the hidden row. */
static rb_status margins_each(const char *org, rb_status rc, const char *msg, const rb_priced *p,
                              void *ctx)
{
    struct margins *m = ctx;
    const char *cur;

    if (m->org && strcmp(org, m->org) != 0)
        return RB_OK;
    if (rc != RB_OK)
        return rbi_txn_error(m->txn, rc, "%s", msg ? msg : "pricing failed");
    cur = usage_currency(p);
    for (size_t i = 0; i < rb_priced_count(p); i++) {
        const rb_price_line *l = rb_priced_line(p, i);
        struct mrow *r = mrow_find(m, org, line_key(l), cur, false, false, &rc);

        if (!r || (rc = mrow_add(m, r, rb_priced_cost(p, i), true)) != RB_OK)
            return rc;
    }
    for (size_t i = 0; i < rb_priced_hidden_count(p); i++) {
        const rb_price_line *l = rb_priced_hidden_line(p, i);
        struct mrow *r = mrow_find(m, org, line_key(l), cur, true, false, &rc);

        if (!r || (rc = mrow_add(m, r, rb_priced_hidden_cost(p, i), false)) != RB_OK)
            return rc;
    }
    return RB_OK;
}

static rb_status margins_month(struct margins *m, int month)
{
    long failed = 0;

    return rb_price_all(m->txn, month, NULL, margins_each, m, &failed);
}

/* One total row per customer and currency: the sum of its rows (hidden ones included). */
static rb_status margins_totals(struct margins *m)
{
    size_t n = m->n;
    rb_status rc = RB_OK;

    for (size_t i = 0; i < n; i++) {
        struct mrow row = m->v[i], *t;

        if (row.hidden && row.lines == 0)
            continue;
        t = mrow_find(m, row.customer, "", row.currency, false, true, &rc);
        if (!t)
            return rc;
        if (rb_dec_add(&t->billed, &t->billed, &row.billed) != RB_OK ||
            rb_dec_add(&t->cost, &t->cost, &row.cost) != RB_OK ||
            rb_dec_add(&t->charged, &t->charged, &row.charged) != RB_OK)
            return rbi_txn_error(m->txn, RB_OVERFLOW, "total margin of %s: sum out of range",
                                 row.customer);
    }
    return RB_OK;
}

/* Rows, then totals; by customer, service (a service's hidden row after its row), currency. */
static int mrow_cmp(const void *a, const void *b)
{
    const struct mrow *x = a, *y = b;
    int c = (int)x->total - (int)y->total;

    if (c == 0)
        c = strcmp(x->customer, y->customer);
    if (c == 0)
        c = strcmp(x->service, y->service);
    if (c == 0)
        c = (int)x->hidden - (int)y->hidden;
    if (c == 0)
        c = strcmp(x->currency, y->currency);
    return c;
}

rb_status rb_report_margins(rb_txn *txn, int from, int to, const char *org, rb_margin_cb cb,
                            void *ctx)
{
    struct margins m;
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
    memset(&m, 0, sizeof(m));
    m.txn = txn;
    m.org = org;
    for (int month = from; month <= to; month++)
        if ((rc = margins_month(&m, month)) != RB_OK)
            goto cleanup;
    if ((rc = margins_totals(&m)) != RB_OK)
        goto cleanup;
    if (m.n)
        qsort(m.v, m.n, sizeof(*m.v), mrow_cmp);
    for (size_t i = 0; i < m.n && rc == RB_OK; i++) {
        struct mrow *r = &m.v[i];
        rb_margin_row row;
        rb_dec hundred = rb_dec_from_int(100), x;

        if (r->hidden && r->lines == 0)
            continue; /* the service hid nothing */
        memset(&row, 0, sizeof(row));
        row.customer = r->customer;
        row.service = r->service;
        memcpy(row.currency, r->currency, sizeof(row.currency));
        row.hidden = r->hidden;
        row.total = r->total;
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
    rbi_free(m.slot);
    return rc;
}

/* ---- close -------------------------------------------------------------------------------- */

#define CLOSE_CUR_MAX 32

struct closing {
    rb_txn *txn;
    rb_close_row v[CLOSE_CUR_MAX];
    int n;
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

static rb_status close_mapped(const rb_usage_amounts *a, void *ctx)
{
    return close_add(ctx, a->currency, 1, &a->billed);
}

static rb_status close_unmapped(const rb_usage_unmapped_row *r, void *ctx)
{
    return close_add(ctx, r->a.currency, 2, &r->a.billed);
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
    /* mapped (usage of organizations someone pays for) and unmapped in one scan of the
     * month, not one per organization */
    if ((rc = rbi_usage_reconcile(txn, month, close_unmapped, close_mapped, &cl)) != RB_OK)
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
    return rc;
}

/* ---- the gate before issuing -------------------------------------------------------------- */

#define GATE_LIST_MAX 8 /* currencies named in the message; the rest are counted */

struct gate {
    struct rb_buf msg;
    int listed, more;
};

static rb_status gate_row(const rb_close_row *r, void *ctx)
{
    struct gate *g = ctx;
    char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], c[RB_DEC_BUFSZ], d[RB_DEC_BUFSZ];

    if (rb_dec_sign(&r->difference) == 0)
        return RB_OK;
    if (g->listed == GATE_LIST_MAX) {
        g->more++;
        return RB_OK;
    }
    rb_dec_format(&r->imported, a, sizeof(a));
    rb_dec_format(&r->mapped, b, sizeof(b));
    rb_dec_format(&r->unmapped, c, sizeof(c));
    rb_dec_format(&r->difference, d, sizeof(d));
    g->listed++;
    return rbi_buf_printf(&g->msg, "%s%s imported %s, mapped %s, unmapped %s, difference %s",
                          g->listed > 1 ? "; " : "", r->currency, a, b, c, d);
}

rb_status rb_close_require(rb_txn *txn, int month, bool force, bool *forced)
{
    struct gate g;
    bool reconciled = false;
    char mb[16];
    rb_status rc;

    if (!txn || !forced)
        return RB_MISUSE;
    *forced = false;
    memset(&g, 0, sizeof(g));
    rc = rb_close_check(txn, month, gate_row, &g, &reconciled);
    if (rc != RB_OK || reconciled)
        goto cleanup;
    if (g.more && (rc = rbi_buf_printf(&g.msg, "; and %d more currencies", g.more)) != RB_OK)
        goto cleanup;
    rb_month_format(month, mb, sizeof(mb));
    rc = rbi_txn_error(txn, RB_INVALID, "period %s is not reconciled: %s", mb,
                       g.msg.data ? g.msg.data : "");
    if (force) {
        *forced = true;
        rc = RB_OK;
    }
cleanup:
    if (rc == RB_NOMEM)
        rbi_txn_error(txn, rc, "out of memory");
    rbi_buf_release(&g.msg);
    return rc;
}
