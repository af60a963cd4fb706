/*
 * priced.c -- a priced result: its customer lines, its partner-only figures, its totals, and
 * the groups `rules test` and `rules diff` compare.
 *
 * Provides: rb_price_kind_name and the rb_priced_* accessors of include/rebill.h;
 * rbi_priced_own (plan.h).
 * Uses: dec.c; price.c fills the result.
 * Must never: hand a partner-only figure out through a customer accessor (rb_priced_line is
 * the customer's part; costs come only through rb_priced_cost and rb_priced_margin).
 */
#include "price.h"

#include <stdlib.h>
#include <string.h>

/* {===================================================================================
 * Small helpers
 * =================================================================================== */

static const char *const kind_names[] = {"usage", "pass", "fee", "credit", "commitment", "added"};

const char *rb_price_kind_name(rb_price_kind k)
{
    return (unsigned)k < RB_COUNTOF(kind_names) ? kind_names[k] : "unknown";
}

/* {===================================================================================
 * Results
 * =================================================================================== */

size_t rb_priced_count(const rb_priced *p)
{
    return p ? p->n : 0;
}

const rb_price_line *rb_priced_line(const rb_priced *p, size_t i)
{
    return p && i < p->n ? &p->lines[i].cust : NULL;
}

const rb_price_cost *rb_priced_cost(const rb_priced *p, size_t i)
{
    return p && i < p->n ? &p->lines[i].partner : NULL;
}

size_t rb_priced_hidden_count(const rb_priced *p)
{
    return p ? p->nhidden : 0;
}

const rb_price_line *rb_priced_hidden_line(const rb_priced *p, size_t i)
{
    return p && i < p->nhidden ? &p->hidden[i].cust : NULL;
}

const rb_price_cost *rb_priced_hidden_cost(const rb_priced *p, size_t i)
{
    return p && i < p->nhidden ? &p->hidden[i].partner : NULL;
}

const rb_price_totals *rb_priced_totals(const rb_priced *p)
{
    return p ? &p->totals : NULL;
}

const rb_price_margin *rb_priced_margin(const rb_priced *p)
{
    return p ? &p->margin : NULL;
}

rb_dec rb_priced_input_price(const rb_priced *p, size_t i)
{
    return p && i < p->ninput ? p->input_price[i] : rb_dec_zero();
}

const char *rb_priced_log(const rb_priced *p)
{
    return p && p->log.data ? p->log.data : "";
}

void rbi_priced_own(rb_priced *p, void *owned, void (*owned_free)(void *))
{
    p->owned = owned;
    p->owned_free = owned_free;
}

struct group {
    const char *key;
    rb_price_kind kind;
    rb_dec amount, price, cost;
};

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    bool xi = x->kind != RB_PRICE_USAGE, yi = y->kind != RB_PRICE_USAGE;

    if (xi != yi)
        return xi ? 1 : -1; /* services first, then items */
    return strcmp(x->key, y->key);
}

rb_status rb_priced_groups(const rb_priced *p, rb_price_group_cb cb, void *ctx)
{
    struct group *g;
    size_t ng = 0;
    rb_status rc = RB_OK;

    if (!p || !cb)
        return RB_MISUSE;
    g = rbi_calloc(p->n + 1, sizeof(*g));
    if (!g)
        return RB_NOMEM;
    /* Lines of one service are usually together: a linear search from the last group. */
    for (size_t i = 0; i < p->n && rc == RB_OK; i++) {
        const struct pline *l = &p->lines[i];
        bool usage = l->cust.kind == RB_PRICE_USAGE || l->cust.kind == RB_PRICE_PASS;
        const char *key = usage ? l->cust.service : l->cust.label;
        rb_price_kind kind = usage ? RB_PRICE_USAGE : l->cust.kind;
        size_t j;

        for (j = ng; j > 0; j--)
            if ((g[j - 1].kind == RB_PRICE_USAGE) == usage && strcmp(g[j - 1].key, key) == 0)
                break;
        if (j == 0) {
            j = ++ng;
            g[j - 1].key = key;
            g[j - 1].kind = kind;
            g[j - 1].amount = g[j - 1].price = g[j - 1].cost = rb_dec_zero();
        }
        if (rb_dec_add(&g[j - 1].amount, &g[j - 1].amount, &l->cust.amount) != RB_OK ||
            rb_dec_add(&g[j - 1].price, &g[j - 1].price, &l->partner.price) != RB_OK ||
            rb_dec_add(&g[j - 1].cost, &g[j - 1].cost, &l->partner.cost) != RB_OK)
            rc = RB_OVERFLOW;
    }
    if (rc == RB_OK && ng > 1)
        qsort(g, ng, sizeof(*g), group_cmp);
    for (size_t i = 0; i < ng && rc == RB_OK; i++) {
        rb_price_group pg = {g[i].key, g[i].kind, g[i].amount, g[i].price, g[i].cost};
        rc = cb(&pg, ctx);
    }
    rbi_free(g);
    return rc;
}

void rb_priced_free(rb_priced *p)
{
    if (!p)
        return;
    rbi_pool_release(&p->pool);
    if (p->owned_free)
        p->owned_free(p->owned);
    rbi_free(p->lines);
    rbi_free(p->hidden);
    rbi_free(p->input_price);
    rbi_free(p->rule_text);
    rbi_buf_release(&p->log);
    rbi_free(p);
}
