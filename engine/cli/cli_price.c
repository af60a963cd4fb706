/*
 * cli_price.c -- `rebill price`: the priced lines of one customer-month, or of every customer
 * a payer bills in a month, without storing anything.
 *
 *   rebill price --org O --period YYYY-MM [--rules FILE] [--lines] [--json]
 *   rebill price --all --period YYYY-MM [--json]
 */
#include "cli.h"

#include <string.h>

static const char price_help[] =
    "usage: rebill price --org O --period YYYY-MM [--rules FILE] [--lines] [--json]\n"
    "       rebill price --all --period YYYY-MM [--json]\n"
    "\n"
    "Price what an organization's payer bills it for a month, from the stored usage of its\n"
    "accounts and of the organizations whose bills it pays, with its plan in force (see\n"
    "`rebill plan`), the default list-price plan if it has none, or --rules FILE instead.\n"
    "Nothing is stored.\n"
    "\n"
    "  --org O        the customer\n"
    "  --period M     the billing period\n"
    "  --rules FILE   price with this rule file instead of the plan in force\n"
    "  --lines        list every priced line (account, service, usage type, rule)\n"
    "  --all          every organization a payer bills this month; one failure does not\n"
    "                 stop the others, and the command ends with exit 1 if any failed\n"
    "  --json         {customer, period, currency, usage_currency, fx_rate, lines[],\n"
    "                 groups[], totals{subtotal, tax_name, tax_rate, tax, total},\n"
    "                 partner{price, cost, margin, billed, list, hidden}}; amounts are\n"
    "                 strings; lines[] has kind, account, service, usage_type, operation,\n"
    "                 region, line_type, label, quantity, amount, and the partner-only\n"
    "                 price, cost, rule. With --all: {period, customers[], failed}.\n"
    "\n"
    "Line amounts keep 12 fraction digits; the subtotal and tax are rounded once to the\n"
    "currency's minor unit. The partner section (cost, margin) is not for the customer.\n";

static const char *src_buf; /* the rule file, from cli_read_source() */


static const char *fmt(const rb_dec *d, char *buf)
{
    rb_dec_format(d, buf, RB_DEC_BUFSZ);
    return buf;
}

static const char *cents(const rb_dec *d, const char *cur, char *buf)
{
    rb_dec r;

    if (rb_dec_round_currency(&r, d, cur, RB_ROUND_HALF_EVEN) != RB_OK)
        r = *d;
    rb_dec_format(&r, buf, RB_DEC_BUFSZ);
    return buf;
}

struct gprint {
    struct jw *w;
    const char *cur;
};

static rb_status print_group(const rb_price_group *g, void *ctx)
{
    struct gprint *p = ctx;
    char a[RB_DEC_BUFSZ];

    if (p->w) {
        jw_obj(p->w);
        jw_key(p->w, "key");
        jw_str(p->w, g->key);
        jw_key(p->w, "kind");
        jw_str(p->w, rb_price_kind_name(g->kind));
        jw_key(p->w, "amount");
        jw_dec(p->w, &g->amount);
        jw_key(p->w, "price");
        jw_dec(p->w, &g->price);
        jw_key(p->w, "cost");
        jw_dec(p->w, &g->cost);
        jw_obj_end(p->w);
    } else {
        printf("  %-44s %16s\n", g->key, cents(&g->amount, p->cur, a));
    }
    return RB_OK;
}

static void json_result(struct jw *w, const char *org, int month, const rb_priced *p)
{
    const rb_price_totals *t = rb_priced_totals(p);
    const rb_price_margin *m = rb_priced_margin(p);
    struct gprint gp = {w, t->currency};

    jw_obj(w);
    jw_key(w, "customer");
    jw_str(w, org);
    jw_key(w, "period");
    jw_month(w, month);
    jw_key(w, "currency");
    jw_str(w, t->currency);
    jw_key(w, "usage_currency");
    jw_str(w, t->usage_currency);
    jw_key(w, "fx_rate");
    jw_dec(w, &t->fx_rate);
    jw_key(w, "lines");
    jw_arr(w);
    for (size_t i = 0; i < rb_priced_count(p); i++) {
        const rb_price_line *l = rb_priced_line(p, i);
        const rb_price_cost *c = rb_priced_cost(p, i);
        jw_obj(w);
        jw_key(w, "kind");
        jw_str(w, rb_price_kind_name(l->kind));
        jw_key(w, "account");
        jw_str(w, l->account);
        jw_key(w, "service");
        jw_str(w, l->service);
        jw_key(w, "usage_type");
        jw_str(w, l->usage_type);
        jw_key(w, "operation");
        jw_str(w, l->operation);
        jw_key(w, "region");
        jw_str(w, l->region);
        jw_key(w, "line_type");
        jw_str(w, l->line_type);
        jw_key(w, "label");
        jw_str(w, l->label);
        jw_key(w, "quantity");
        jw_dec(w, &l->quantity);
        jw_key(w, "amount");
        jw_dec(w, &l->amount);
        jw_key(w, "price");
        jw_dec(w, &c->price);
        jw_key(w, "cost");
        jw_dec(w, &c->cost);
        jw_key(w, "rule");
        jw_str(w, c->rule);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "groups");
    jw_arr(w);
    rb_priced_groups(p, print_group, &gp);
    jw_arr_end(w);
    jw_key(w, "totals");
    jw_obj(w);
    jw_key(w, "subtotal");
    jw_dec(w, &t->subtotal);
    jw_key(w, "tax_name");
    jw_str(w, t->tax_name);
    jw_key(w, "tax_rate");
    jw_dec(w, &t->tax_rate);
    jw_key(w, "tax");
    jw_dec(w, &t->tax);
    jw_key(w, "total");
    jw_dec(w, &t->total);
    jw_obj_end(w);
    jw_key(w, "partner");
    jw_obj(w);
    jw_key(w, "price");
    jw_dec(w, &m->price);
    jw_key(w, "cost");
    jw_dec(w, &m->cost);
    jw_key(w, "margin");
    jw_dec(w, &m->margin);
    jw_key(w, "billed");
    jw_dec(w, &m->billed);
    jw_key(w, "list");
    jw_dec(w, &m->list);
    jw_key(w, "hidden");
    jw_int(w, m->hidden);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void text_result(const char *org, int month, const char *plan, const rb_priced *p,
                        bool lines)
{
    const rb_price_totals *t = rb_priced_totals(p);
    const rb_price_margin *m = rb_priced_margin(p);
    struct gprint gp = {NULL, t->currency};
    char mb[16], a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], c[RB_DEC_BUFSZ];

    rb_month_format(month, mb, sizeof(mb));
    printf("customer %s  period %s  plan %s\n", org, mb, plan);
    if (t->usage_currency[0] && strcmp(t->currency, t->usage_currency) != 0) /* "": no usage */
        printf("invoice in %s at %s per %s\n", t->currency, fmt(&t->fx_rate, a), t->usage_currency);
    if (lines) {
        printf("\n  %-12s %-22s %-28s %16s  %s\n", "ACCOUNT", "SERVICE", "USAGE TYPE / ITEM",
               "AMOUNT", "RULE");
        for (size_t i = 0; i < rb_priced_count(p); i++) {
            const rb_price_line *l = rb_priced_line(p, i);
            const char *what = l->label[0]        ? l->label
                               : l->usage_type[0] ? l->usage_type
                                                  : l->line_type;
            printf("  %-12s %-22s %-28s %16s  %s\n", l->account, l->service, what,
                   cents(&l->amount, t->currency, a), rb_priced_cost(p, i)->rule);
        }
    }
    printf("\n  %-44s %16s\n", "SERVICE / ITEM", t->currency);
    rb_priced_groups(p, print_group, &gp);
    printf("  %-44s %16s\n", "subtotal", fmt(&t->subtotal, a));
    if (t->tax_name[0]) {
        char label[RB_PRICE_LABEL_MAX + RB_DEC_BUFSZ + 8];
        snprintf(label, sizeof(label), "%s %s%%", t->tax_name, fmt(&t->tax_rate, b));
        printf("  %-44s %16s\n", label, fmt(&t->tax, a));
    }
    printf("  %-44s %16s\n", "total", fmt(&t->total, a));
    printf("\npartner only: price %s, cost %s, margin %s %s (%ld lines hidden from the "
           "customer)\n",
           fmt(&m->price, a), fmt(&m->cost, b), fmt(&m->margin, c),
           t->usage_currency[0] ? t->usage_currency : t->currency, m->hidden);
}

struct price_one {
    const char *org;
    int month;
    const rb_price_opts *opts;
    rb_priced *p;
    char plan[RB_PRICE_LABEL_MAX + RB_RULES_HASH_LEN + 8];
};

static rb_status do_price(rb_txn *txn, void *ctx)
{
    struct price_one *c = ctx;
    rb_plan_assignment a;
    rb_status rc = rb_price_org(txn, c->org, c->month, c->opts, &c->p);

    if (rc != RB_OK)
        return rc;
    if (c->opts->rules_src) {
        snprintf(c->plan, sizeof(c->plan), "%s (from --rules)", c->opts->rules_name);
    } else if (rb_plan_at(txn, c->org, c->month, &a) == RB_OK) {
        snprintf(c->plan, sizeof(c->plan), "%s (%s)", a.name, a.hash);
    } else {
        snprintf(c->plan, sizeof(c->plan), "(default: list price)");
    }
    return RB_OK;
}

struct price_all {
    int month;
    const rb_price_opts *opts;
    struct jw *w;
    long failed, done;
};

static rb_status all_each(const char *org, rb_status rc, const char *msg, const rb_priced *p,
                          void *ctx)
{
    struct price_all *c = ctx;
    char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ];

    c->done++;
    if (c->w) {
        jw_obj(c->w);
        jw_key(c->w, "customer");
        jw_str(c->w, org);
        if (rc != RB_OK) {
            jw_key(c->w, "error");
            jw_str(c->w, msg);
        } else {
            jw_key(c->w, "currency");
            jw_str(c->w, rb_priced_totals(p)->currency);
            jw_key(c->w, "total");
            jw_dec(c->w, &rb_priced_totals(p)->total);
            jw_key(c->w, "margin");
            jw_dec(c->w, &rb_priced_margin(p)->margin);
            jw_key(c->w, "lines");
            jw_int(c->w, (long long)rb_priced_count(p));
        }
        jw_obj_end(c->w);
    } else if (rc != RB_OK) {
        fprintf(stderr, "rebill: %s: %s\n", org, msg);
    } else {
        printf("%-36s %16s %s  margin %s\n", org, fmt(&rb_priced_totals(p)->total, a),
               rb_priced_totals(p)->currency, fmt(&rb_priced_margin(p)->margin, b));
    }
    return RB_OK;
}

static rb_status do_all(rb_txn *txn, void *ctx)
{
    struct price_all *c = ctx;

    return rb_price_all(txn, c->month, c->opts, all_each, c, &c->failed);
}

int cli_price(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *period = NULL, *rules = NULL;
    bool all = false, lines = false, help = false;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},      {"period", true, &period, NULL},
        {"rules", true, &rules, NULL},  {"all", false, NULL, &all},
        {"lines", false, NULL, &lines}, {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    rb_price_opts po = {NULL, NULL, 0, NULL};
    int month, rc;
    rb_status st;

    if (cli_parse(argc, argv, opts, NULL, 0, NULL, price_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if ((rc = cli_need("period", period)))
        return rc;
    if (all == (org != NULL))
        return cli_usage_error("give --org O or --all");
    if (all && (rules || lines))
        return cli_usage_error("--all takes no --rules or --lines");
    if (cli_month_arg("period", period, &month))
        return EXIT_USER;
    if (rules) {
        if ((rc = cli_read_source("--rules ", rules, &src_buf, &po.rules_len)))
            return rc;
        po.rules_name = rules;
        po.rules_src = src_buf;
    }
    if ((rc = cli_store(c, false)))
        return rc;
    if (all) {
        struct jw w;
        struct price_all pa = {month, &po, c->json ? &w : NULL, 0, 0};
        if (c->json) {
            jw_init(&w, stdout);
            jw_obj(&w);
            jw_key(&w, "period");
            jw_month(&w, month);
            jw_key(&w, "customers");
            jw_arr(&w);
        }
        st = rb_store_view(c->store, do_all, &pa);
        if (c->json) {
            jw_arr_end(&w);
            jw_key(&w, "failed");
            jw_int(&w, pa.failed);
            jw_obj_end(&w);
            jw_end(&w);
        }
        if (st != RB_OK)
            return cli_fail(c, st);
        if (!c->json)
            printf("%ld customers priced, %ld failed\n", pa.done - pa.failed, pa.failed);
        return pa.failed ? EXIT_USER : EXIT_OK;
    } else {
        struct price_one po1 = {org, month, &po, NULL, ""};
        st = rb_store_view(c->store, do_price, &po1);
        if (st != RB_OK)
            return cli_fail(c, st);
        if (c->json) {
            struct jw w;
            jw_init(&w, stdout);
            json_result(&w, org, month, po1.p);
            jw_end(&w);
        } else {
            text_result(org, month, po1.plan, po1.p, lines);
        }
        rb_priced_free(po1.p);
    }
    return EXIT_OK;
}
