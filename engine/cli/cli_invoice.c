/*
 * cli_invoice.c -- `rebill invoice` (preview, issue, void, list, show, run, export, layout)
 * and `rebill org profile` (the legal identity printed on invoices).
 *
 * Every rule (numbering, freezing, corrections, what a customer may see) is in the library
 * (engine/invoice.c); this file parses options, runs one transaction per command and prints.
 */
#include "cli.h"
#include "cli_pdf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char invoice_help[] =
    "usage: rebill invoice preview --org O --period YYYY-MM [--format md|html|json|pdf]\n"
    "                              [--out FILE] [--layout FILE]\n"
    "       rebill invoice issue --org O --period YYYY-MM [--format md|html|json]\n"
    "                            [--layout FILE]\n"
    "       rebill invoice void NUMBER --reason TEXT [--issuer O]\n"
    "       rebill invoice show NUMBER [--issuer O] [--format md|html|json|pdf]\n"
    "                               [--out FILE]\n"
    "       rebill invoice list [--org O] [--period YYYY-MM]\n"
    "       rebill invoice export (NUMBER... | --period YYYY-MM [--org O]) [--issuer O]\n"
    "                             --out DIR [--format md,html,json,pdf]\n"
    "       rebill invoice layout (set --org O FILE | show --org O | clear --org O | list)\n"
    "       rebill invoice run --period YYYY-MM --out DIR [--issue [--force]] [--layout FILE]\n"
    "\n"
    "preview  the draft invoice, recomputed every time; stores nothing\n"
    "issue    number the invoice (INV-YYYY-NNNNNN, gapless per issuer and year) and store\n"
    "         it with its rendered forms, frozen: later usage or plan changes do not alter it\n"
    "void     cancel an issued invoice with a credit note (CN-YYYY-NNNNNN)\n"
    "show     an issued invoice or credit note, exactly as stored\n"
    "list     issued invoices and credit notes\n"
    "export   write issued invoices and credit notes as stored to DIR/<customer>/<number>.*\n"
    "layout   store an issuer's or a customer's own layout (`invoice layout --help`)\n"
    "run      every customer a payer bills in the period: DIR/<org>/<number or draft>.\n"
    "         {md,html,json} and a summary; one customer's failure does not stop the others\n"
    "         (exit 1 if any failed); --issue refuses a period that `rebill close` does not\n"
    "         reconcile, unless --force\n"
    "\n"
    "  --layout FILE   a Lua layout instead of the stored one or the default\n"
    "                  (docs/invoices.md)\n"
    "  --format F      what preview, issue and show print: md (default), html or json;\n"
    "                  pdf (preview and show, with --out) is the HTML printed by headless\n"
    "                  Chromium (docs/invoices.md, \"PDF\")\n"
    "  --out FILE      preview and show: write the form to FILE instead of standard output\n";


static int read_layout(const char *path, rb_invoice_opts *o)
{
    memset(o, 0, sizeof(*o));
    if (!path)
        return 0;
    o->layout_name = path;
    return cli_read_source("--layout ", path, &o->layout_src, &o->layout_len);
}

static int check_format(const char *f)
{
    if (f && strcmp(f, "md") != 0 && strcmp(f, "html") != 0 && strcmp(f, "json") != 0 &&
        strcmp(f, "pdf") != 0)
        return cli_user_error("invalid --format \"%s\": want md, html, json or pdf", f);
    return 0;
}

static bool is_pdf(const char *format)
{
    return format && strcmp(format, "pdf") == 0;
}

/* --format pdf (preview, show): the PDF goes only to --out FILE, never to standard output,
 * and the browser must be there before anything is done (cli_pdf.c). */
static int check_pdf(const char *format, const char *out)
{
    char bin[4096], msg[512];

    if (!is_pdf(format))
        return 0;
    if (!out)
        return cli_user_error("--format pdf needs --out FILE: headless chromium prints the "
                              "PDF to a file, not to standard output");
    if (cli_pdf_find(bin, sizeof(bin), msg, sizeof(msg)) != 0)
        return cli_user_error("%s", msg);
    return 0;
}

static void print_form(const rb_invoice *inv, const char *format)
{
    if (format && strcmp(format, "html") == 0)
        fwrite(inv->html, 1, inv->html_len, stdout);
    else if (format && strcmp(format, "json") == 0)
        fwrite(inv->json, 1, inv->json_len, stdout);
    else
        fwrite(inv->md, 1, inv->md_len, stdout);
}

/* The form asked for: to standard output, or to --out FILE (the only place a PDF goes). */
static int output_form(const rb_invoice *inv, const char *format, const char *out)
{
    const char *data = inv->md;
    size_t len = inv->md_len;
    char msg[1024];
    FILE *f;
    bool bad;

    if (is_pdf(format)) {
        if (cli_pdf_write(inv->html, inv->html_len, out, msg, sizeof(msg)) != 0)
            return cli_user_error("%s", msg);
        return EXIT_OK;
    }
    if (!out) {
        print_form(inv, format);
        return EXIT_OK;
    }
    if (format && strcmp(format, "html") == 0) {
        data = inv->html;
        len = inv->html_len;
    } else if (format && strcmp(format, "json") == 0) {
        data = inv->json;
        len = inv->json_len;
    }
    f = fopen(out, "wb");
    if (!f)
        return cli_user_error("cannot write --out %s: %s", out, strerror(errno));
    bad = fwrite(data, 1, len, f) != len;
    if (fclose(f) != 0 || bad)
        return cli_user_error("cannot write --out %s: %s", out, strerror(errno));
    return EXIT_OK;
}

static const char *fmt(const rb_dec *d, char *buf)
{
    rb_dec_format(d, buf, RB_DEC_BUFSZ);
    return buf;
}

static void json_header(struct jw *w, const rb_invoice *inv)
{
    jw_key(w, "kind");
    jw_str(w, rb_invoice_kind_name(inv->kind));
    jw_key(w, "number");
    jw_str(w, inv->number);
    jw_key(w, "issuer");
    jw_str(w, inv->issuer);
    jw_key(w, "customer");
    jw_str(w, inv->customer);
    jw_key(w, "period");
    jw_month(w, inv->month);
    jw_key(w, "issued_at");
    jw_time(w, inv->issued_at);
    jw_key(w, "due_at");
    jw_time(w, inv->due_at);
    jw_key(w, "currency");
    jw_str(w, inv->currency);
    jw_key(w, "subtotal");
    jw_dec(w, &inv->subtotal);
    jw_key(w, "tax");
    jw_dec(w, &inv->tax);
    jw_key(w, "total");
    jw_dec(w, &inv->total);
    jw_key(w, "refs");
    jw_str(w, inv->refs);
    jw_key(w, "voided_by");
    jw_str(w, inv->voided_by);
    jw_key(w, "reason");
    jw_str(w, inv->reason);
    jw_key(w, "inputs_hash");
    jw_str(w, inv->inputs_hash);
}

/* {===================================================================================
 * preview, issue
 * =================================================================================== */

struct one_op {
    const char *org;
    int month;
    bool issue;
    rb_invoice_opts opts;
    int64_t now;
    rb_invoice inv;
};

static rb_status do_one(rb_txn *txn, void *ctx)
{
    struct one_op *op = ctx;

    rb_invoice_release(&op->inv); /* a retry after map growth starts again */
    if (op->issue)
        return rb_invoice_issue(txn, op->org, op->month, &op->opts, op->now, &op->inv);
    return rb_invoice_preview(txn, op->org, op->month, &op->opts, op->now, &op->inv);
}

static int inv_one(struct cli *c, int argc, char **argv, bool issue)
{
    const char *org = NULL, *period = NULL, *format = NULL, *layout = NULL, *out = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},       {"period", true, &period, NULL},
        {"format", true, &format, NULL}, {"layout", true, &layout, NULL},
        {"out", true, &out, NULL},       {NULL, false, NULL, NULL},
    };
    struct one_op op;
    bool help;
    int rc;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, invoice_help, &help)) || help)
        return rc;
    if ((rc = cli_need("org", org)) || (rc = cli_need("period", period)))
        return rc;
    if ((rc = cli_month_arg("period", period, &op.month)) || (rc = check_format(format)))
        return rc;
    if (issue && (out || is_pdf(format)))
        return cli_user_error("--out and --format pdf are for preview and show: issue the "
                              "invoice, then `rebill invoice show NUMBER --format pdf --out "
                              "FILE`");
    if ((rc = check_pdf(format, out)))
        return rc;
    if ((rc = read_layout(layout, &op.opts)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    op.org = org;
    op.issue = issue;
    op.now = c->now;
    st = issue ? rb_store_update(c->store, do_one, &op) : rb_store_view(c->store, do_one, &op);
    if (st != RB_OK) {
        rb_invoice_release(&op.inv);
        return cli_fail(c, st);
    }
    if (c->json && !format && !out) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        json_header(&w, &op.inv);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        if (issue && !format)
            fprintf(stderr, "issued %s\n", op.inv.number);
        rc = output_form(&op.inv, format, out);
    }
    rb_invoice_release(&op.inv);
    return rc;
}

/* {===================================================================================
 * void, show, list
 * =================================================================================== */

struct void_op {
    const char *issuer, *number, *reason;
    int64_t now;
    rb_invoice inv;
};

static rb_status do_void(rb_txn *txn, void *ctx)
{
    struct void_op *op = ctx;

    rb_invoice_release(&op->inv);
    return rb_invoice_void(txn, op->issuer, op->number, op->reason, NULL, op->now, &op->inv);
}

static int inv_void(struct cli *c, int argc, char **argv)
{
    const char *issuer = NULL, *reason = NULL, *pos[1];
    const struct cli_opt opts[] = {
        {"issuer", true, &issuer, NULL},
        {"reason", true, &reason, NULL},
        {NULL, false, NULL, NULL},
    };
    struct void_op op;
    int npos = 0, rc;
    bool help;
    rb_status st;
    char buf[RB_DEC_BUFSZ];

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, invoice_help, &help)) || help)
        return rc;
    if (npos != 1)
        return cli_usage_error("usage: rebill invoice void NUMBER --reason TEXT");
    if ((rc = cli_need("reason", reason)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    op.issuer = issuer;
    op.number = pos[0];
    op.reason = reason;
    op.now = c->now;
    st = rb_store_update(c->store, do_void, &op);
    if (st != RB_OK) {
        rb_invoice_release(&op.inv);
        return cli_fail(c, st);
    }
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        json_header(&w, &op.inv);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        printf("%s voids %s (%s %s)\n", op.inv.number, op.inv.refs, fmt(&op.inv.total, buf),
               op.inv.currency);
    }
    rb_invoice_release(&op.inv);
    return EXIT_OK;
}

struct show_op {
    const char *issuer, *number;
    rb_invoice inv;
};

static rb_status do_show(rb_txn *txn, void *ctx)
{
    struct show_op *op = ctx;
    return rb_invoice_get(txn, op->issuer, op->number, &op->inv);
}

static int inv_show(struct cli *c, int argc, char **argv)
{
    const char *issuer = NULL, *format = NULL, *out = NULL, *pos[1];
    const struct cli_opt opts[] = {
        {"issuer", true, &issuer, NULL},
        {"format", true, &format, NULL},
        {"out", true, &out, NULL},
        {NULL, false, NULL, NULL},
    };
    struct show_op op;
    int npos = 0, rc;
    bool help;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, invoice_help, &help)) || help)
        return rc;
    if (npos != 1)
        return cli_usage_error("usage: rebill invoice show NUMBER [--format md|html|json|pdf] "
                               "[--out FILE]");
    if ((rc = check_format(format)) || (rc = check_pdf(format, out)) ||
        (rc = cli_store(c, false)))
        return rc;
    op.issuer = issuer;
    op.number = pos[0];
    st = rb_store_view(c->store, do_show, &op);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json && !format && !out) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        json_header(&w, &op.inv);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        rc = output_form(&op.inv, format, out);
    }
    rb_invoice_release(&op.inv);
    return rc;
}

struct list_op {
    struct cli *c;
    struct jw w;
    long n;
};

static rb_status list_cb(const rb_invoice *inv, void *ctx)
{
    struct list_op *op = ctx;
    char mon[16], buf[RB_DEC_BUFSZ];

    op->n++;
    if (op->c->json) {
        jw_obj(&op->w);
        json_header(&op->w, inv);
        jw_obj_end(&op->w);
        return RB_OK;
    }
    rb_month_format(inv->month, mon, sizeof(mon));
    printf("%-16s %-12s %-14s %-14s %-7s %14s %s%s%s\n", inv->number,
           rb_invoice_kind_name(inv->kind), inv->issuer, inv->customer, mon,
           fmt(&inv->total, buf), inv->currency,
           inv->voided_by[0] ? "  voided by " : (inv->refs[0] ? "  cancels " : ""),
           inv->voided_by[0] ? inv->voided_by : inv->refs);
    return RB_OK;
}

struct list_args {
    const char *org;
    int month;
    struct list_op *op;
};

static rb_status do_list2(rb_txn *txn, void *ctx)
{
    struct list_args *a = ctx;
    return rb_invoice_list(txn, a->org, a->month, list_cb, a->op);
}

static int inv_list(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *period = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},
        {"period", true, &period, NULL},
        {NULL, false, NULL, NULL},
    };
    struct list_op op;
    struct list_args a;
    bool help;
    int rc;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, invoice_help, &help)) || help)
        return rc;
    a.month = RB_MONTH_OPEN;
    if (period && (rc = cli_month_arg("period", period, &a.month)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    a.org = org;
    a.op = &op;
    op.c = c;
    if (c->json) {
        jw_init(&op.w, stdout);
        jw_arr(&op.w);
    } else {
        printf("%-16s %-12s %-14s %-14s %-7s %14s\n", "NUMBER", "KIND", "ISSUER", "CUSTOMER",
               "PERIOD", "TOTAL");
    }
    st = rb_store_view(c->store, do_list2, &a);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        jw_arr_end(&op.w);
        jw_end(&op.w);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * run
 * =================================================================================== */

/* The customers a payer bills in the month, one at a time (each issued in its own
 * transaction): the first with an id after `after`. */
#define FOUND 1000

struct next_ctx {
    rb_txn *txn;
    int month;
    const char *after;
    char id[RB_ORG_ID_MAX + 1];
    long count;
};

static rb_status next_org(const rb_org *o, void *vctx)
{
    struct next_ctx *n = vctx;
    rb_payer_info pi;
    rb_status st;

    st = rb_payer_of(n->txn, o->id, n->month, &pi);
    if (st != RB_OK || pi.depth == 0)
        return st;
    memcpy(n->id, o->id, sizeof(n->id));
    n->count++;
    return n->after ? FOUND : RB_OK;
}

static rb_status do_next(rb_txn *txn, void *ctx)
{
    struct next_ctx *n = ctx;
    rb_status st;

    n->txn = txn;
    n->id[0] = 0;
    st = rb_org_list_after(txn, n->after, next_org, n);
    return st == FOUND ? RB_OK : st;
}

static int write_file(const char *dir, const char *org, const char *name, const char *ext,
                      const char *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, org);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return cli_user_error("cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/%s.%s", dir, org, name, ext);
    f = fopen(path, "wb");
    if (!f)
        return cli_user_error("cannot write %s: %s", path, strerror(errno));
    fwrite(data, 1, len, f);
    if (fclose(f) != 0)
        return cli_user_error("cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The reconciliation gate of `run --issue` (rb_close_require). */
struct gate_op {
    int month;
    bool force, forced;
};

static rb_status do_gate(rb_txn *txn, void *ctx)
{
    struct gate_op *g = ctx;

    return rb_close_require(txn, g->month, g->force, &g->forced);
}

static int inv_run(struct cli *c, int argc, char **argv)
{
    const char *period = NULL, *out = NULL, *layout = NULL;
    bool issue = false, force = false, help, tty = isatty(fileno(stderr));
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL}, {"out", true, &out, NULL},
        {"layout", true, &layout, NULL}, {"issue", false, NULL, &issue},
        {"force", false, NULL, &force},  {NULL, false, NULL, NULL},
    };
    struct gate_op gate;
    struct next_ctx nx;
    char last[RB_ORG_ID_MAX + 1] = "";
    rb_invoice_opts lo;
    rb_usage_cache *cache = NULL;
    long failed = 0, done = 0, total;
    int rc, month;
    rb_status st;
    char buf[RB_DEC_BUFSZ], path[4096];
    struct jw w;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, invoice_help, &help)) || help)
        return rc;
    if ((rc = cli_need("period", period)) || (rc = cli_need("out", out)))
        return rc;
    if (force && !issue)
        return cli_usage_error("--force needs --issue: only issuing checks that the period is "
                               "reconciled");
    if ((rc = cli_month_arg("period", period, &month)) || (rc = read_layout(layout, &lo)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    memset(&gate, 0, sizeof(gate));
    gate.month = month;
    gate.force = force;
    if (issue && (st = rb_store_view(c->store, do_gate, &gate)) != RB_OK) {
        if (st != RB_INVALID)
            return cli_fail(c, st);
        return cli_user_error("%s; run `rebill close --period %s` to see the differences, or "
                              "pass --force to issue anyway",
                              rb_errmsg(c->store), period);
    }
    if (gate.forced)
        fprintf(stderr, "rebill: warning: %s; issuing anyway (--force)\n", rb_errmsg(c->store));
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        return cli_user_error("cannot create --out %s: %s", out, strerror(errno));
    memset(&nx, 0, sizeof(nx));
    nx.month = month;
    st = rb_store_view(c->store, do_next, &nx); /* with after NULL: counts them */
    if (st != RB_OK)
        return cli_fail(c, st);
    total = nx.count;
    if (c->json) {
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "period");
        jw_month(&w, month);
        jw_key(&w, "issue");
        jw_bool(&w, issue);
        jw_key(&w, "customers");
        jw_arr(&w);
    } else {
        printf("%-14s %-16s %14s  %s\n", "CUSTOMER", "NUMBER", "TOTAL", "STATUS");
    }
    /* One load of the month's usage for every customer; the library checks it against the
     * store in each customer's transaction. Without memory for it, each loads its own. */
    if (rb_usage_cache_new(&cache) != RB_OK)
        cache = NULL;
    lo.cache = cache;
    for (;;) {
        struct one_op op;
        memset(&nx, 0, sizeof(nx));
        nx.month = month;
        nx.after = last;
        st = rb_store_view(c->store, do_next, &nx);
        if (st != RB_OK) {
            rb_usage_cache_free(cache);
            return cli_fail(c, st);
        }
        if (!nx.id[0])
            break;
        memcpy(last, nx.id, sizeof(last));
        memset(&op, 0, sizeof(op));
        op.org = last;
        op.month = month;
        op.issue = issue;
        op.opts = lo;
        op.now = c->now;
        done++;
        if (tty)
            fprintf(stderr, "\r[%-20.*s] %ld/%ld %s", (int)(total ? done * 20 / total : 20),
                    "####################", done, total, op.org);
        st = issue ? rb_store_update(c->store, do_one, &op)
                   : rb_store_view(c->store, do_one, &op);
        if (st != RB_OK) {
            failed++;
            if (c->json) {
                jw_obj(&w);
                jw_key(&w, "org");
                jw_str(&w, op.org);
                jw_key(&w, "status");
                jw_str(&w, "failed");
                jw_key(&w, "error");
                jw_str(&w, rb_errmsg(c->store));
                jw_obj_end(&w);
            } else {
                printf("%-14s %-16s %14s  failed: %s\n", op.org, "-", "-", rb_errmsg(c->store));
            }
            rb_invoice_release(&op.inv);
            continue;
        }
        {
            const char *name = op.inv.number[0] ? op.inv.number : "draft";
            bool written = !write_file(out, op.org, name, "md", op.inv.md, op.inv.md_len) &&
                           !write_file(out, op.org, name, "html", op.inv.html, op.inv.html_len) &&
                           !write_file(out, op.org, name, "json", op.inv.json, op.inv.json_len);
            if (!written)
                failed++;
            if (c->json) {
                jw_obj(&w);
                jw_key(&w, "org");
                jw_str(&w, op.org);
                jw_key(&w, "status");
                jw_str(&w, !written ? "not written" : op.inv.number[0] ? "issued" : "draft");
                jw_key(&w, "number");
                if (op.inv.number[0])
                    jw_str(&w, op.inv.number);
                else
                    jw_null(&w);
                jw_key(&w, "total");
                jw_dec(&w, &op.inv.total);
                jw_key(&w, "currency");
                jw_str(&w, op.inv.currency);
                snprintf(path, sizeof(path), "%s/%s/%s.html", out, op.org, name);
                jw_key(&w, "html");
                jw_str(&w, path);
                jw_obj_end(&w);
            } else {
                printf("%-14s %-16s %14s  %s %s/%s/%s.html\n", op.org, name,
                       fmt(&op.inv.total, buf), op.inv.number[0] ? "issued" : "draft", out,
                       op.org, name);
            }
        }
        rb_invoice_release(&op.inv);
    }
    rb_usage_cache_free(cache);
    if (tty)
        fputs("\r\n", stderr);
    if (c->json) {
        jw_arr_end(&w);
        jw_key(&w, "count");
        jw_int(&w, done);
        jw_key(&w, "failed");
        jw_int(&w, failed);
        jw_key(&w, "forced");
        jw_bool(&w, gate.forced);
        jw_obj_end(&w);
        jw_end(&w);
        return failed ? EXIT_USER : EXIT_OK;
    }
    printf("%ld customers, %ld failed", done, failed);
    if (gate.forced)
        printf("; period %s not reconciled, issued with --force", period);
    putchar('\n');
    return failed ? EXIT_USER : EXIT_OK;
}

/* {===================================================================================
 * layout: stored layouts of issuers and customers
 * =================================================================================== */

static const char layout_help[] =
    "usage: rebill invoice layout set --org O FILE\n"
    "       rebill invoice layout show --org O\n"
    "       rebill invoice layout clear --org O\n"
    "       rebill invoice layout list\n"
    "\n"
    "set    store FILE (a Lua layout, docs/invoices.md) as O's layout, by content: later edits\n"
    "       of the file change nothing. It must compile, return a function and lay out a\n"
    "       sample invoice and credit note within the sandbox's limits. As issuer, O's layout\n"
    "       lays out the invoices O issues; as customer, the invoices O receives.\n"
    "show   print O's stored layout source\n"
    "clear  remove O's stored layout\n"
    "list   every stored layout\n"
    "\n"
    "An invoice is laid out by --layout FILE, else the customer's stored layout, else the\n"
    "issuer's, else scripts/layouts/default.lua. Issued invoices keep their bytes.\n";

struct layout_op {
    struct cli *c;
    const char *org;
    const char *name;
    const char *src;
    size_t len;
    int64_t now;
    rb_layout l;
    struct jw w;
};

static void json_layout(struct jw *w, const rb_layout *l)
{
    jw_key(w, "org");
    jw_str(w, l->org);
    jw_key(w, "hash");
    if (l->hash[0])
        jw_str(w, l->hash);
    else
        jw_null(w);
    jw_key(w, "name");
    jw_str(w, l->name);
    jw_key(w, "set_at");
    if (l->hash[0])
        jw_time(w, l->set_at);
    else
        jw_null(w);
}

static rb_status do_layout_set(rb_txn *txn, void *ctx)
{
    struct layout_op *op = ctx;
    return rb_layout_set(txn, op->org, op->name, op->src, op->len, NULL, op->now, &op->l);
}

static rb_status do_layout_clear(rb_txn *txn, void *ctx)
{
    struct layout_op *op = ctx;
    return rb_layout_clear(txn, op->org);
}

/* A stored layout's source as a C string for --json (layouts are at most 1 MiB, the
 * sandbox's source cap; an embedded NUL ends the JSON text early: the text form is exact). */
static char layout_text[(1u << 20) + 1];

/* Prints inside the transaction: the source is borrowed from the store. */
static rb_status do_layout_show(rb_txn *txn, void *ctx)
{
    struct layout_op *op = ctx;
    rb_rules_blob blob;
    rb_status st = rb_layout_get(txn, op->org, &op->l);

    if (st != RB_OK)
        return st;
    memset(&blob, 0, sizeof(blob));
    if (op->l.hash[0] && (st = rb_rules_get(txn, op->l.hash, &blob)) != RB_OK)
        return st;
    if (op->c->json) {
        jw_init(&op->w, stdout);
        jw_obj(&op->w);
        json_layout(&op->w, &op->l);
        jw_key(&op->w, "source");
        if (op->l.hash[0]) {
            size_t n = blob.len < sizeof(layout_text) - 1 ? blob.len : sizeof(layout_text) - 1;
            memcpy(layout_text, blob.src, n);
            layout_text[n] = '\0';
            jw_str(&op->w, layout_text);
        } else
            jw_null(&op->w);
        jw_obj_end(&op->w);
        jw_end(&op->w);
    } else if (op->l.hash[0]) {
        fwrite(blob.src, 1, blob.len, stdout);
    } else {
        printf("%s has no stored layout\n", op->org);
    }
    return RB_OK;
}

static rb_status layout_list_cb(const rb_layout *l, void *ctx)
{
    struct layout_op *op = ctx;
    char t[32];

    if (op->c->json) {
        jw_obj(&op->w);
        json_layout(&op->w, l);
        jw_obj_end(&op->w);
        return RB_OK;
    }
    rb_time_format(l->set_at, t, sizeof(t));
    printf("%-34s %-16s %-20s %s\n", l->org, l->hash, t, l->name);
    return RB_OK;
}

static rb_status do_layout_list(rb_txn *txn, void *ctx)
{
    return rb_layout_list(txn, layout_list_cb, ctx);
}

static int inv_layout(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *pos[1];
    const struct cli_opt opts[] = {{"org", true, &org, NULL}, {NULL, false, NULL, NULL}};
    const char *verb = argc > 0 ? argv[0] : "";
    bool set = strcmp(verb, "set") == 0, list = strcmp(verb, "list") == 0;
    struct layout_op op;
    int npos = 0, rc;
    bool help;
    rb_status st;

    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        fputs(layout_help, stdout);
        return EXIT_OK;
    }
    if (!set && !list && strcmp(verb, "show") != 0 && strcmp(verb, "clear") != 0) {
        if (argc < 1)
            fputs(layout_help, stderr);
        return argc < 1 ? EXIT_USAGE
                        : cli_usage_error("unknown invoice layout verb '%s' (want set, show, "
                                          "clear or list)", verb);
    }
    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc - 1, argv + 1, list ? NULL : opts, pos, set ? 1 : 0, &npos,
                        layout_help, &help)) || help)
        return rc;
    if (!list && (rc = cli_need("org", org)))
        return rc;
    if (set && npos != 1)
        return cli_usage_error("usage: rebill invoice layout set --org O FILE");
    if (set && (rc = cli_read_source("", pos[0], &op.src, &op.len)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    op.c = c;
    op.org = org;
    op.name = set ? pos[0] : NULL;
    op.now = c->now;
    if (list) {
        if (c->json) {
            jw_init(&op.w, stdout);
            jw_arr(&op.w);
        } else {
            printf("%-34s %-16s %-20s %s\n", "ORG", "HASH", "SET AT", "NAME");
        }
        st = rb_store_view(c->store, do_layout_list, &op);
        if (st != RB_OK)
            return cli_fail(c, st);
        if (c->json) {
            jw_arr_end(&op.w);
            jw_end(&op.w);
        }
        return EXIT_OK;
    }
    if (!set && strcmp(verb, "show") == 0) {
        st = rb_store_view(c->store, do_layout_show, &op);
        return st == RB_OK ? EXIT_OK : cli_fail(c, st);
    }
    st = rb_store_update(c->store, set ? do_layout_set : do_layout_clear, &op);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        if (!set) {
            memset(&op.l, 0, sizeof(op.l));
            snprintf(op.l.org, sizeof(op.l.org), "%s", org);
        }
        jw_init(&op.w, stdout);
        jw_obj(&op.w);
        json_layout(&op.w, &op.l);
        jw_obj_end(&op.w);
        jw_end(&op.w);
    } else if (set) {
        printf("layout of %s: %s (%s)\n", org, op.l.name, op.l.hash);
    } else {
        printf("layout of %s cleared\n", org);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * export: the frozen forms of issued invoices and credit notes, as files
 * =================================================================================== */

static const char export_help[] =
    "usage: rebill invoice export NUMBER... [--issuer O] --out DIR [--format LIST]\n"
    "       rebill invoice export --period YYYY-MM [--org O] [--issuer O] --out DIR\n"
    "                             [--format LIST]\n"
    "\n"
    "Write the stored forms of issued invoices and credit notes, exactly as `invoice show`\n"
    "prints them (never recomputed), to DIR/<customer>/<number>.<format>, and list the files.\n"
    "Reads the database only.\n"
    "\n"
    "  NUMBER...       these documents (--issuer picks the issuer of a number several use)\n"
    "  --period M      every document of the billing period M, of customer --org and issuer\n"
    "                  --issuer if given\n"
    "  --out DIR       where to write (created if missing; its parent must exist)\n"
    "  --format LIST   comma-separated md, html, json, pdf (default md,html,json); pdf is the\n"
    "                  HTML printed by headless Chromium (docs/invoices.md)\n";

#define EXPORT_NUMBERS_MAX 1024
#define EXPORT_FAILED 1001        /* a message was printed; op->exit says how to exit */
#define EXPORT_SLOTS (1u << 18)   /* the (customer, number) set of a period export */
#define EXPORT_DOCS_MAX (EXPORT_SLOTS / 2)

enum { FMT_MD, FMT_HTML, FMT_JSON, FMT_PDF, FMT__COUNT };
static const char *const fmt_names[FMT__COUNT] = {"md", "html", "json", "pdf"};

struct export_op {
    struct cli *c;
    const char **numbers;
    int nnumbers;
    const char *org, *issuer, *out;
    int month;
    bool fmt[FMT__COUNT];
    bool writing; /* pass 2 */
    long docs, files;
    int exit;
    struct jw w;
};

/* Pass 1 of a period export: (customer, number) pairs, to refuse two documents of different
 * issuers that would go to one file. Hashes only: 64 bits make a false alarm negligible. */
static uint64_t export_seen[EXPORT_SLOTS];

static uint64_t export_hash(const char *customer, const char *number)
{
    uint64_t h = 14695981039346656037ULL;

    for (const char *s = customer; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *s = number; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1; /* 0 marks an empty slot */
}

/* Add a pair; false if it is already there. */
static bool export_remember(const char *customer, const char *number)
{
    uint64_t h = export_hash(customer, number);
    size_t i = (size_t)(h & (EXPORT_SLOTS - 1));

    while (export_seen[i] != 0) {
        if (export_seen[i] == h)
            return false;
        i = (i + 1) & (EXPORT_SLOTS - 1);
    }
    export_seen[i] = h;
    return true;
}

static int parse_formats(const char *list, bool *fmt)
{
    const char *p = list;

    memset(fmt, 0, FMT__COUNT * sizeof(*fmt));
    if (!list) {
        fmt[FMT_MD] = fmt[FMT_HTML] = fmt[FMT_JSON] = true;
        return 0;
    }
    for (;;) {
        size_t n = strcspn(p, ",");
        int k;
        for (k = 0; k < FMT__COUNT; k++)
            if (strlen(fmt_names[k]) == n && strncmp(p, fmt_names[k], n) == 0)
                break;
        if (k == FMT__COUNT)
            return cli_user_error("invalid --format \"%s\": want a comma-separated list of md, "
                                  "html, json and pdf (bad item \"%.*s\")", list, (int)n, p);
        fmt[k] = true;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

/* A customer id or number as a file name: letters, digits and '-' only. */
static bool file_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(*s == '-' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

/* Write a file through a temporary name, so a reader never sees half of it. */
static int export_write(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    FILE *f;
    bool bad;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f)
        return cli_user_error("cannot write %s: %s", path, strerror(errno));
    bad = fwrite(data, 1, len, f) != len;
    if (fclose(f) != 0 || bad) {
        int e = errno;
        remove(tmp);
        return cli_user_error("cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return cli_user_error("cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* Pass 2: one document's files. */
static int export_doc(struct export_op *op, const rb_invoice *inv)
{
    const char *data[FMT__COUNT] = {inv->md, inv->html, inv->json, NULL};
    size_t len[FMT__COUNT] = {inv->md_len, inv->html_len, inv->json_len, 0};
    char path[4096], msg[1024];

    if (!file_name_ok(inv->customer) || !file_name_ok(inv->number))
        return cli_user_error("cannot export %s of %s: not usable as a file name", inv->number,
                              inv->customer);
    snprintf(path, sizeof(path), "%s/%s", op->out, inv->customer);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return cli_user_error("cannot create %s: %s", path, strerror(errno));
    if (op->c->json) {
        jw_obj(&op->w);
        jw_key(&op->w, "number");
        jw_str(&op->w, inv->number);
        jw_key(&op->w, "kind");
        jw_str(&op->w, rb_invoice_kind_name(inv->kind));
        jw_key(&op->w, "issuer");
        jw_str(&op->w, inv->issuer);
        jw_key(&op->w, "customer");
        jw_str(&op->w, inv->customer);
        jw_key(&op->w, "period");
        jw_month(&op->w, inv->month);
        jw_key(&op->w, "files");
        jw_arr(&op->w);
    }
    for (int k = 0; k < FMT__COUNT; k++) {
        int rc = 0;
        if (!op->fmt[k])
            continue;
        snprintf(path, sizeof(path), "%s/%s/%s.%s", op->out, inv->customer, inv->number,
                 fmt_names[k]);
        if (k == FMT_PDF) {
            if (cli_pdf_write(inv->html, inv->html_len, path, msg, sizeof(msg)) != 0)
                rc = cli_user_error("cannot export %s as pdf: %s", inv->number, msg);
        } else {
            rc = export_write(path, data[k], len[k]);
        }
        if (rc)
            return rc;
        op->files++;
        if (op->c->json)
            jw_str(&op->w, path);
        else
            printf("%s\n", path);
    }
    if (op->c->json) {
        jw_arr_end(&op->w);
        jw_obj_end(&op->w);
    }
    op->docs++;
    return 0;
}

struct export_each {
    struct export_op *op;
    rb_txn *txn;
};

/* A document of a period export: checked in pass 1, written in pass 2. */
static rb_status export_period_cb(const rb_invoice *inv, void *ctx)
{
    struct export_each *e = ctx;
    struct export_op *op = e->op;
    rb_invoice full;
    rb_status st;

    if (op->issuer && strcmp(op->issuer, inv->issuer) != 0)
        return RB_OK;
    if (!op->writing) {
        if (++op->docs > (long)EXPORT_DOCS_MAX) {
            op->exit = cli_user_error("more than %ld documents selected: narrow the selection "
                                      "with --org or --issuer", (long)EXPORT_DOCS_MAX);
            return EXPORT_FAILED;
        }
        if (!export_remember(inv->customer, inv->number)) {
            op->exit = cli_user_error("%s of %s is a number of more than one issuer in this "
                                      "selection: they would share one file (add --issuer)",
                                      inv->number, inv->customer);
            return EXPORT_FAILED;
        }
        return RB_OK;
    }
    st = rb_invoice_get(e->txn, inv->issuer, inv->number, &full);
    if (st == RB_OK && (op->exit = export_doc(op, &full)) != 0)
        st = EXPORT_FAILED;
    rb_invoice_release(&full);
    return st;
}

static rb_status export_numbers(rb_txn *txn, struct export_op *op)
{
    for (int i = 0; i < op->nnumbers; i++) {
        rb_invoice inv;
        rb_status st = rb_invoice_get(txn, op->issuer, op->numbers[i], &inv);
        if (st == RB_OK && op->writing && (op->exit = export_doc(op, &inv)) != 0)
            st = EXPORT_FAILED;
        rb_invoice_release(&inv);
        if (st != RB_OK)
            return st;
    }
    if (!op->writing)
        op->docs = op->nnumbers;
    return RB_OK;
}

/* Check the selection, make --out, write: all in one read transaction. */
static rb_status do_export(rb_txn *txn, void *ctx)
{
    struct export_op *op = ctx;
    struct export_each e = {op, txn};
    const char *who[2] = {op->org, op->issuer};
    struct stat sb;
    char probe[4200], mon[16];
    rb_status st;
    int fd;

    for (int i = 0; i < 2; i++) {
        rb_org o;
        if (who[i] && rb_org_get(txn, who[i], &o) != RB_OK) {
            op->exit = cli_user_error("no organization \"%s\" (--%s)", who[i],
                                      i ? "issuer" : "org");
            return EXPORT_FAILED;
        }
    }
    op->writing = false;
    st = op->numbers ? export_numbers(txn, op)
                     : rb_invoice_list(txn, op->org, op->month, export_period_cb, &e);
    if (st != RB_OK)
        return st;
    if (op->docs == 0) {
        rb_month_format(op->month, mon, sizeof(mon));
        op->exit = cli_user_error("nothing to export: no invoice or credit note of %s%s%s%s%s",
                                  mon, op->org ? " for " : "", op->org ? op->org : "",
                                  op->issuer ? " issued by " : "", op->issuer ? op->issuer : "");
        return EXPORT_FAILED;
    }
    if (mkdir(op->out, 0777) != 0 && errno != EEXIST) {
        op->exit = cli_user_error("cannot create --out %s: %s", op->out, strerror(errno));
        return EXPORT_FAILED;
    }
    if (stat(op->out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        op->exit = cli_user_error("cannot write to --out %s: not a directory", op->out);
        return EXPORT_FAILED;
    }
    snprintf(probe, sizeof(probe), "%s/.rebill-export-XXXXXX", op->out);
    fd = mkstemp(probe);
    if (fd < 0) {
        op->exit = cli_user_error("cannot write to --out %s: %s", op->out, strerror(errno));
        return EXPORT_FAILED;
    }
    close(fd);
    remove(probe);
    op->writing = true;
    op->docs = op->files = 0;
    if (op->c->json) {
        jw_init(&op->w, stdout);
        jw_obj(&op->w);
        jw_key(&op->w, "out");
        jw_str(&op->w, op->out);
        jw_key(&op->w, "documents");
        jw_arr(&op->w);
    }
    return op->numbers ? export_numbers(txn, op)
                       : rb_invoice_list(txn, op->org, op->month, export_period_cb, &e);
}

static int inv_export(struct cli *c, int argc, char **argv)
{
    const char *period = NULL, *format = NULL, *pos[EXPORT_NUMBERS_MAX];
    struct export_op op;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},  {"org", true, &op.org, NULL},
        {"issuer", true, &op.issuer, NULL}, {"out", true, &op.out, NULL},
        {"format", true, &format, NULL},  {NULL, false, NULL, NULL},
    };
    char bin[4096], msg[512];
    int npos = 0, rc;
    bool help;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, pos, EXPORT_NUMBERS_MAX, &npos, export_help, &help)) ||
        help)
        return rc;
    if (npos > 0 && (period || op.org))
        return cli_usage_error("give invoice numbers or --period (with --org), not both");
    if (npos == 0 && !period)
        return cli_usage_error("missing invoice numbers or --period");
    if ((rc = cli_need("out", op.out)))
        return rc;
    for (int i = 0; i < npos; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(pos[i], pos[j]) == 0)
                return cli_usage_error("invoice number %s is given twice", pos[i]);
    op.month = RB_MONTH_OPEN;
    if (period && (rc = cli_month_arg("period", period, &op.month)))
        return rc;
    if ((rc = parse_formats(format, op.fmt)))
        return rc;
    if (op.fmt[FMT_PDF] && cli_pdf_find(bin, sizeof(bin), msg, sizeof(msg)) != 0)
        return cli_user_error("%s", msg);
    if ((rc = cli_store(c, false)))
        return rc;
    op.c = c;
    op.numbers = npos > 0 ? pos : NULL;
    op.nnumbers = npos;
    st = rb_store_view(c->store, do_export, &op);
    if (op.writing && c->json && st == RB_OK) {
        jw_arr_end(&op.w);
        jw_key(&op.w, "count");
        jw_int(&op.w, op.docs);
        jw_key(&op.w, "files");
        jw_int(&op.w, op.files);
        jw_obj_end(&op.w);
        jw_end(&op.w);
    }
    if (st == EXPORT_FAILED)
        return op.exit ? op.exit : EXIT_USER;
    if (st != RB_OK)
        return cli_fail(c, st);
    if (!c->json)
        printf("exported %ld document%s (%ld files) to %s\n", op.docs, op.docs == 1 ? "" : "s",
               op.files, op.out);
    return EXIT_OK;
}

int cli_invoice(struct cli *c, int argc, char **argv)
{
    if (argc < 1) {
        fputs(invoice_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(invoice_help, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "preview") == 0)
        return inv_one(c, argc - 1, argv + 1, false);
    if (strcmp(argv[0], "issue") == 0)
        return inv_one(c, argc - 1, argv + 1, true);
    if (strcmp(argv[0], "void") == 0)
        return inv_void(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "show") == 0)
        return inv_show(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return inv_list(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "run") == 0)
        return inv_run(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "layout") == 0)
        return inv_layout(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "export") == 0)
        return inv_export(c, argc - 1, argv + 1);
    return cli_usage_error("unknown invoice verb '%s' (want preview, issue, void, show, list, "
                           "run, export or layout)", argv[0]);
}

/* {===================================================================================
 * org profile
 * =================================================================================== */

static const char profile_help[] =
    "usage: rebill org profile O [--legal-name TEXT] [--address TEXT] [--tax-id TEXT]\n"
    "                            [--email TEXT] [--terms-days N]\n"
    "\n"
    "The legal identity printed on invoices the organization issues or receives. With no\n"
    "option, shows it; with options, changes those fields. In --address, \"\\n\" separates\n"
    "lines.\n";

struct profile_op {
    const char *org;
    const char *vals[4];
    const char *terms;
    bool set;
    rb_profile p;
};

static void unescape_nl(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            *w++ = '\n';
            s++;
        } else {
            *w++ = *s;
        }
    }
    *w = 0;
}

static rb_status do_profile(rb_txn *txn, void *ctx)
{
    struct profile_op *op = ctx;
    char *fields[4] = {op->p.legal_name, op->p.address, op->p.tax_id, op->p.email};
    size_t caps[4] = {sizeof(op->p.legal_name), sizeof(op->p.address), sizeof(op->p.tax_id),
                      sizeof(op->p.email)};
    rb_status rc = rb_profile_get(txn, op->org, &op->p);

    if (rc != RB_OK || !op->set)
        return rc;
    for (int i = 0; i < 4; i++) {
        if (!op->vals[i])
            continue;
        if (strlen(op->vals[i]) >= caps[i])
            return RB_TOOBIG;
        memcpy(fields[i], op->vals[i], strlen(op->vals[i]) + 1);
        if (i == 1)
            unescape_nl(fields[i]);
    }
    if (op->terms) {
        char *end;
        long v = strtol(op->terms, &end, 10);
        if (*end || end == op->terms || v < -1 || v > 100000)
            v = -1;
        op->p.terms_days = (int)v;
    }
    return rb_profile_set(txn, &op->p);
}

int cli_org_profile(struct cli *c, int argc, char **argv)
{
    struct profile_op op;
    const char *pos[1];
    const struct cli_opt opts[] = {
        {"legal-name", true, &op.vals[0], NULL}, {"address", true, &op.vals[1], NULL},
        {"tax-id", true, &op.vals[2], NULL},     {"email", true, &op.vals[3], NULL},
        {"terms-days", true, &op.terms, NULL},   {NULL, false, NULL, NULL},
    };
    static const char *const names[4] = {"legal-name", "address", "tax-id", "email"};
    int npos = 0, rc;
    bool help;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, profile_help, &help)) || help)
        return rc;
    if (npos != 1)
        return cli_usage_error("usage: rebill org profile O [--legal-name TEXT] ...");
    op.org = pos[0];
    op.set = op.vals[0] || op.vals[1] || op.vals[2] || op.vals[3] || op.terms;
    for (int i = 0; i < 4; i++)
        if (op.vals[i] && strlen(op.vals[i]) > RB_PROFILE_ADDRESS_MAX)
            return cli_user_error("invalid --%s: longer than %d bytes", names[i],
                                  RB_PROFILE_ADDRESS_MAX);
    if ((rc = cli_store(c, false)))
        return rc;
    st = op.set ? rb_store_update(c->store, do_profile, &op)
                : rb_store_view(c->store, do_profile, &op);
    if (st == RB_TOOBIG)
        return cli_user_error("invalid profile of %s: a field is too long (legal name 255, "
                              "tax id and email 127 bytes)", op.org);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "org");
        jw_str(&w, op.p.org);
        jw_key(&w, "legal_name");
        jw_str(&w, op.p.legal_name);
        jw_key(&w, "address");
        jw_str(&w, op.p.address);
        jw_key(&w, "tax_id");
        jw_str(&w, op.p.tax_id);
        jw_key(&w, "email");
        jw_str(&w, op.p.email);
        jw_key(&w, "terms_days");
        jw_int(&w, op.p.terms_days);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        printf("org         %s\nlegal name  %s\naddress     %s\ntax id      %s\nemail       %s\n"
               "terms       %d days\n",
               op.p.org, op.p.legal_name, op.p.address, op.p.tax_id, op.p.email,
               op.p.terms_days);
    }
    return EXIT_OK;
}
