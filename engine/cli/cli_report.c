/*
 * cli_report.c -- `rebill report margins`: the partner's margin per customer and service over
 * one or more months, as Markdown, JSON or CSV, with the lines hidden from the invoice in rows
 * of their own and a total per customer. Partner-only: never for a customer.
 *
 *   rebill report margins --period M [--to M2] [--org O] [--format md|json|csv]
 */
#include "cli.h"

#include <string.h>

static const char report_help[] =
    "usage: rebill report margins --period M [--to M2] [--org O] [--format md|json|csv]\n"
    "\n"
    "The partner's margin per customer, service (or invoice item) and currency, summed over\n"
    "the months M..M2, for every customer a payer bills (or only --org O). Amounts are exact\n"
    "and in the usage currency: billed (AWS billed cost), cost (what the payer pays: the\n"
    "billed cost, or in a chain the price its own payer charges), charged (the showback\n"
    "price before tax), margin = charged - cost, margin_pct = margin / cost x 100 rounded\n"
    "half-even to 2 places (\"n/a\" when cost is 0). Lines the pass-through policy hides\n"
    "from the invoice have a row of their own (hidden: yes) with charged 0, so margin is\n"
    "-cost: a hidden credit is money the partner keeps, a hidden tax one it pays. Each\n"
    "customer's total per currency follows the rows (md and json; csv has the rows only).\n"
    "Nothing is stored.\n"
    "\n"
    "  --period M     the first billing period (YYYY-MM)\n"
    "  --to M2        the last billing period (default: M)\n"
    "  --org O        only this customer\n"
    "  --format F     md (default), json (also with --json) or csv\n";

enum rfmt { FMT_MD, FMT_JSON, FMT_CSV };

struct rep {
    int from, to;
    const char *org;
    enum rfmt fmt;
    FILE *out;
    struct jw w;
    long rows;
    bool totals; /* the total rows have begun */
};

/* Markdown table cell: characters that could break the table or add markup are escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n' || *s == '\r' || *s == '\t')
            fputc(' ', f);
        else if (strchr("|\\*_`<>[]#", *s))
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
}

static void csv_cell(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The total rows come after every other row: close the rows, open the totals. */
static void begin_totals(struct rep *p)
{
    p->totals = true;
    switch (p->fmt) {
    case FMT_JSON:
        jw_arr_end(&p->w);
        jw_key(&p->w, "totals");
        jw_arr(&p->w);
        break;
    case FMT_CSV:
        break;
    default:
        fputs("\n## Totals\n\n"
              "| Customer | Currency | Billed | Cost | Charged | Margin | Margin % |\n"
              "|---|---|--:|--:|--:|--:|--:|\n",
              p->out);
        break;
    }
}

static rb_status report_row(const rb_margin_row *r, void *ctx)
{
    struct rep *p = ctx;
    char b[RB_DEC_BUFSZ], c[RB_DEC_BUFSZ], ch[RB_DEC_BUFSZ], m[RB_DEC_BUFSZ], pc[RB_DEC_BUFSZ];
    const char *hid = r->hidden ? "yes" : "no";

    rb_dec_format(&r->billed, b, sizeof(b));
    rb_dec_format(&r->cost, c, sizeof(c));
    rb_dec_format(&r->charged, ch, sizeof(ch));
    rb_dec_format(&r->margin, m, sizeof(m));
    if (r->has_pct)
        rb_dec_format(&r->margin_pct, pc, sizeof(pc));
    else
        snprintf(pc, sizeof(pc), "n/a");
    if (r->total && !p->totals)
        begin_totals(p);
    if (r->total && p->fmt == FMT_CSV)
        return RB_OK;
    p->rows++;
    switch (p->fmt) {
    case FMT_JSON:
        jw_obj(&p->w);
        jw_key(&p->w, "customer");
        jw_str(&p->w, r->customer);
        if (!r->total) {
            jw_key(&p->w, "service");
            jw_str(&p->w, r->service);
            jw_key(&p->w, "hidden");
            jw_bool(&p->w, r->hidden);
        }
        jw_key(&p->w, "currency");
        jw_str(&p->w, r->currency);
        jw_key(&p->w, "billed");
        jw_dec(&p->w, &r->billed);
        jw_key(&p->w, "cost");
        jw_dec(&p->w, &r->cost);
        jw_key(&p->w, "charged");
        jw_dec(&p->w, &r->charged);
        jw_key(&p->w, "margin");
        jw_dec(&p->w, &r->margin);
        jw_key(&p->w, "margin_pct");
        jw_str(&p->w, pc);
        jw_obj_end(&p->w);
        break;
    case FMT_CSV:
        csv_cell(p->out, r->customer);
        fputc(',', p->out);
        csv_cell(p->out, r->service);
        fprintf(p->out, ",%s,%s,%s,%s,%s,%s,%s\n", r->currency, b, c, ch, m, pc, hid);
        break;
    default:
        fprintf(p->out, "| %s | ", r->customer);
        if (r->total) {
            fprintf(p->out, "%s | %s | %s | %s | %s | %s |\n", r->currency, b, c, ch, m, pc);
            break;
        }
        md_cell(p->out, r->service);
        fprintf(p->out, " | %s | %s | %s | %s | %s | %s | %s |\n", r->currency, b, c, ch, m, pc,
                hid);
        break;
    }
    return RB_OK;
}

static rb_status do_report(rb_txn *txn, void *ctx)
{
    struct rep *p = ctx;

    return rb_report_margins(txn, p->from, p->to, p->org, report_row, p);
}

static int copy_out(FILE *f)
{
    char buf[4096];
    size_t n;

    rewind(f);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return EXIT_OK;
}

int cli_report(struct cli *c, int argc, char **argv)
{
    const char *period = NULL, *to = NULL, *org = NULL, *format = NULL;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},
        {"to", true, &to, NULL},
        {"org", true, &org, NULL},
        {"format", true, &format, NULL},
        {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct rep p;
    bool help;
    int rc;
    rb_status st;
    char m1[16], m2[16];

    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(report_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[0], "margins") != 0)
        return cli_usage_error("unknown report '%s' (known: margins)", argv[0]);
    if ((rc = cli_parse(argc - 1, argv + 1, opts, NULL, 0, NULL, report_help, &help)) || help)
        return rc;
    memset(&p, 0, sizeof(p));
    p.org = org;
    p.fmt = c->json ? FMT_JSON : FMT_MD;
    if ((rc = cli_need("period", period)) || (rc = cli_month_arg("period", period, &p.from)))
        return rc;
    p.to = p.from;
    if (to && (rc = cli_month_arg("to", to, &p.to)))
        return rc;
    if (p.to < p.from)
        return cli_user_error("invalid --to %s: before --period %s", to, period);
    if (format) {
        if (strcmp(format, "md") == 0)
            p.fmt = FMT_MD;
        else if (strcmp(format, "json") == 0)
            p.fmt = FMT_JSON;
        else if (strcmp(format, "csv") == 0)
            p.fmt = FMT_CSV;
        else
            return cli_user_error("invalid --format \"%s\": want md, json or csv", format);
    }
    if (org && !rb_org_id_is_valid(org))
        return cli_user_error("invalid --org \"%s\": not an organization id", org);
    if ((rc = cli_store(c, false)))
        return rc;
    if (!(p.out = tmpfile()))
        return cli_user_error("cannot create a temporary file for the report");
    rb_month_format(p.from, m1, sizeof(m1));
    rb_month_format(p.to, m2, sizeof(m2));
    if (p.fmt == FMT_JSON) {
        jw_init(&p.w, p.out);
        jw_obj(&p.w);
        jw_key(&p.w, "from");
        jw_month(&p.w, p.from);
        jw_key(&p.w, "to");
        jw_month(&p.w, p.to);
        jw_key(&p.w, "rows");
        jw_arr(&p.w);
    } else if (p.fmt == FMT_CSV) {
        fputs("customer,service,currency,billed,cost,charged,margin,margin_pct,hidden\n", p.out);
    } else {
        fprintf(p.out, "# Margins %s", m1);
        if (p.to != p.from)
            fprintf(p.out, " to %s", m2);
        fputs("\n\n| Customer | Service | Currency | Billed | Cost | Charged | Margin "
              "| Margin % | Hidden |\n|---|---|---|--:|--:|--:|--:|--:|---|\n", p.out);
    }
    st = rb_store_view(c->store, do_report, &p);
    if (st != RB_OK) {
        fclose(p.out);
        return cli_fail(c, st);
    }
    if (!p.totals)
        begin_totals(&p); /* an empty report: an empty totals table */
    if (p.fmt == FMT_JSON) {
        jw_arr_end(&p.w);
        jw_obj_end(&p.w);
        jw_end(&p.w);
    }
    return copy_out(p.out);
}
