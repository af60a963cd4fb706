/*
 * cli_close.c -- `rebill close`: the reconciliation of a period. The billed cost of the usage
 * of every organization with a payer in force plus the unmapped usage must equal the billed
 * cost imported for the period, exactly, per currency. Exit 0 when reconciled, 1 when not.
 *
 *   rebill close --period M [--json]
 */
#include "cli.h"

#include <string.h>

static const char close_help[] =
    "usage: rebill close --period M [--json]\n"
    "\n"
    "Reconcile a billing period, per currency and exactly: mapped (the billed cost of the\n"
    "usage of every organization whose bill a payer pays) + unmapped (usage of unknown\n"
    "accounts, of accounts in no organization, of organizations with no payer in force)\n"
    "must equal imported (the billed cost of the period's imports). Lists each currency's\n"
    "figures and difference, then the unmapped usage by account. Stores nothing.\n"
    "Exit 0 when reconciled, 1 when not.\n"
    "\n"
    "  --period M   the billing period (YYYY-MM)\n"
    "  --json       {period, reconciled, currencies[{currency, imported, mapped, unmapped,\n"
    "               difference}], unmapped[{account, org, reason, currency, billed}]}\n";

struct closing {
    int month;
    bool json;
    bool reconciled;
    FILE *out;
    struct jw w;
};

static rb_status close_row(const rb_close_row *r, void *ctx)
{
    struct closing *p = ctx;
    char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], c[RB_DEC_BUFSZ], d[RB_DEC_BUFSZ];

    if (p->json) {
        jw_obj(&p->w);
        jw_key(&p->w, "currency");
        jw_str(&p->w, r->currency);
        jw_key(&p->w, "imported");
        jw_dec(&p->w, &r->imported);
        jw_key(&p->w, "mapped");
        jw_dec(&p->w, &r->mapped);
        jw_key(&p->w, "unmapped");
        jw_dec(&p->w, &r->unmapped);
        jw_key(&p->w, "difference");
        jw_dec(&p->w, &r->difference);
        jw_obj_end(&p->w);
        return RB_OK;
    }
    rb_dec_format(&r->imported, a, sizeof(a));
    rb_dec_format(&r->mapped, b, sizeof(b));
    rb_dec_format(&r->unmapped, c, sizeof(c));
    rb_dec_format(&r->difference, d, sizeof(d));
    fprintf(p->out, "%-8s %18s %18s %18s %18s%s\n", r->currency, a, b, c, d,
            rb_dec_sign(&r->difference) ? "  DIFFERENCE" : "");
    return RB_OK;
}

static rb_status unmapped_row(const rb_usage_unmapped_row *r, void *ctx)
{
    struct closing *p = ctx;
    char a[RB_DEC_BUFSZ];

    if (p->json) {
        jw_obj(&p->w);
        jw_key(&p->w, "account");
        jw_str(&p->w, r->account);
        jw_key(&p->w, "org");
        jw_str(&p->w, r->org);
        jw_key(&p->w, "reason");
        jw_str(&p->w, r->reason);
        jw_key(&p->w, "currency");
        jw_str(&p->w, r->a.currency);
        jw_key(&p->w, "billed");
        jw_dec(&p->w, &r->a.billed);
        jw_obj_end(&p->w);
        return RB_OK;
    }
    rb_dec_format(&r->a.billed, a, sizeof(a));
    fprintf(p->out, "  %-12s %-20s %-3s %18s  %s\n", r->account, r->org[0] ? r->org : "-",
            r->a.currency, a, r->reason);
    return RB_OK;
}

static rb_status do_close(rb_txn *txn, void *ctx)
{
    struct closing *p = ctx;
    rb_status rc;

    if (p->json) {
        jw_key(&p->w, "currencies");
        jw_arr(&p->w);
    } else {
        fprintf(p->out, "%-8s %18s %18s %18s %18s\n", "currency", "imported", "mapped",
                "unmapped", "difference");
    }
    if ((rc = rb_close_check(txn, p->month, close_row, p, &p->reconciled)) != RB_OK)
        return rc;
    if (p->json) {
        jw_arr_end(&p->w);
        jw_key(&p->w, "unmapped");
        jw_arr(&p->w);
    } else {
        fputs("\nunmapped usage:\n", p->out);
    }
    if ((rc = rb_usage_unmapped(txn, p->month, unmapped_row, p)) != RB_OK)
        return rc;
    if (p->json)
        jw_arr_end(&p->w);
    return RB_OK;
}

int cli_close(struct cli *c, int argc, char **argv)
{
    const char *period = NULL;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},
        {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct closing p;
    bool help;
    int rc;
    rb_status st;
    char mb[16], buf[4096];
    size_t n;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, close_help, &help)) || help)
        return rc;
    memset(&p, 0, sizeof(p));
    p.json = c->json;
    if ((rc = cli_need("period", period)) || (rc = cli_month_arg("period", period, &p.month)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    if (!(p.out = tmpfile()))
        return cli_user_error("cannot create a temporary file for the report");
    rb_month_format(p.month, mb, sizeof(mb));
    if (p.json) {
        jw_init(&p.w, p.out);
        jw_obj(&p.w);
        jw_key(&p.w, "period");
        jw_month(&p.w, p.month);
    } else {
        fprintf(p.out, "period %s\n", mb);
    }
    st = rb_store_view(c->store, do_close, &p);
    if (st != RB_OK) {
        fclose(p.out);
        return cli_fail(c, st);
    }
    if (p.json) {
        jw_key(&p.w, "reconciled");
        jw_bool(&p.w, p.reconciled);
        jw_obj_end(&p.w);
        jw_end(&p.w);
    } else {
        fprintf(p.out, "\n%s %s\n", mb, p.reconciled ? "reconciled" : "NOT reconciled");
    }
    rewind(p.out);
    while ((n = fread(buf, 1, sizeof(buf), p.out)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(p.out);
    if (!p.reconciled)
        return cli_user_error("period %s is not reconciled: imported billed cost differs from "
                              "mapped + unmapped usage", mb);
    return EXIT_OK;
}
