/*
 * cli_invoice.c -- `rebill invoice` (preview, issue, void, list, show, run) and
 * `rebill org profile` (the legal identity printed on invoices).
 *
 * Every rule (numbering, freezing, corrections, what a customer may see) is in the library
 * (engine/invoice.c); this file parses options, runs one transaction per command and prints.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char invoice_help[] =
    "usage: rebill invoice preview --org O --period YYYY-MM [--format md|html|json]\n"
    "                              [--layout FILE]\n"
    "       rebill invoice issue --org O --period YYYY-MM [--format md|html|json]\n"
    "                            [--layout FILE]\n"
    "       rebill invoice void NUMBER --reason TEXT [--issuer O]\n"
    "       rebill invoice show NUMBER [--issuer O] [--format md|html|json]\n"
    "       rebill invoice list [--org O] [--period YYYY-MM]\n"
    "       rebill invoice run --period YYYY-MM --out DIR [--issue] [--layout FILE]\n"
    "\n"
    "preview  the draft invoice, recomputed every time; stores nothing\n"
    "issue    number the invoice (INV-YYYY-NNNNNN, gapless per issuer and year) and store\n"
    "         it with its rendered forms, frozen: later usage or plan changes do not alter it\n"
    "void     cancel an issued invoice with a credit note (CN-YYYY-NNNNNN)\n"
    "show     an issued invoice or credit note, exactly as stored\n"
    "list     issued invoices and credit notes\n"
    "run      every customer a payer bills in the period: DIR/<org>/<number or draft>.\n"
    "         {md,html,json} and a summary; one customer's failure does not stop the others\n"
    "         (exit 1 if any failed)\n"
    "\n"
    "  --layout FILE   a Lua layout instead of the default (docs/invoices.md)\n"
    "  --format F      what preview, issue and show print: md (default), html or json\n";


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
    if (f && strcmp(f, "md") != 0 && strcmp(f, "html") != 0 && strcmp(f, "json") != 0) {
        if (strcmp(f, "pdf") == 0)
            return cli_user_error("invalid --format \"pdf\": write the HTML with `invoice run "
                                  "--out DIR` and print it with a browser (chromium "
                                  "--headless --print-to-pdf=FILE FILE.html)");
        return cli_user_error("invalid --format \"%s\": want md, html or json", f);
    }
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
    const char *org = NULL, *period = NULL, *format = NULL, *layout = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},       {"period", true, &period, NULL},
        {"format", true, &format, NULL}, {"layout", true, &layout, NULL},
        {NULL, false, NULL, NULL},
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
    if (c->json && !format) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        json_header(&w, &op.inv);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        if (issue && !format)
            fprintf(stderr, "issued %s\n", op.inv.number);
        print_form(&op.inv, format);
    }
    rb_invoice_release(&op.inv);
    return EXIT_OK;
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
    const char *issuer = NULL, *format = NULL, *pos[1];
    const struct cli_opt opts[] = {
        {"issuer", true, &issuer, NULL},
        {"format", true, &format, NULL},
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
        return cli_usage_error("usage: rebill invoice show NUMBER [--format md|html|json]");
    if ((rc = check_format(format)) || (rc = cli_store(c, false)))
        return rc;
    op.issuer = issuer;
    op.number = pos[0];
    st = rb_store_view(c->store, do_show, &op);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json && !format) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        json_header(&w, &op.inv);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        print_form(&op.inv, format);
    }
    rb_invoice_release(&op.inv);
    return EXIT_OK;
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

    if (n->after && strcmp(o->id, n->after) <= 0)
        return RB_OK;
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
    st = rb_org_list(txn, next_org, n);
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

static int inv_run(struct cli *c, int argc, char **argv)
{
    const char *period = NULL, *out = NULL, *layout = NULL;
    bool issue = false, help, tty = isatty(fileno(stderr));
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL}, {"out", true, &out, NULL},
        {"layout", true, &layout, NULL}, {"issue", false, NULL, &issue},
        {NULL, false, NULL, NULL},
    };
    struct next_ctx nx;
    char last[RB_ORG_ID_MAX + 1] = "";
    rb_invoice_opts lo;
    long failed = 0, done = 0, total;
    int rc, month;
    rb_status st;
    char buf[RB_DEC_BUFSZ];

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, invoice_help, &help)) || help)
        return rc;
    if ((rc = cli_need("period", period)) || (rc = cli_need("out", out)))
        return rc;
    if ((rc = cli_month_arg("period", period, &month)) || (rc = read_layout(layout, &lo)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        return cli_user_error("cannot create --out %s: %s", out, strerror(errno));
    memset(&nx, 0, sizeof(nx));
    nx.month = month;
    st = rb_store_view(c->store, do_next, &nx); /* with after NULL: counts them */
    if (st != RB_OK)
        return cli_fail(c, st);
    total = nx.count;
    printf("%-14s %-16s %14s  %s\n", "CUSTOMER", "NUMBER", "TOTAL", "STATUS");
    for (;;) {
        struct one_op op;
        memset(&nx, 0, sizeof(nx));
        nx.month = month;
        nx.after = last;
        st = rb_store_view(c->store, do_next, &nx);
        if (st != RB_OK)
            return cli_fail(c, st);
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
            printf("%-14s %-16s %14s  failed: %s\n", op.org, "-", "-", rb_errmsg(c->store));
            rb_invoice_release(&op.inv);
            continue;
        }
        {
            const char *name = op.inv.number[0] ? op.inv.number : "draft";
            if (write_file(out, op.org, name, "md", op.inv.md, op.inv.md_len) ||
                write_file(out, op.org, name, "html", op.inv.html, op.inv.html_len) ||
                write_file(out, op.org, name, "json", op.inv.json, op.inv.json_len))
                failed++;
            printf("%-14s %-16s %14s  %s %s/%s/%s.html\n", op.org, name,
                   fmt(&op.inv.total, buf), op.inv.number[0] ? "issued" : "draft", out, op.org,
                   name);
        }
        rb_invoice_release(&op.inv);
    }
    if (tty)
        fputs("\r\n", stderr);
    printf("%ld customers, %ld failed\n", done, failed);
    return failed ? EXIT_USER : EXIT_OK;
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
    return cli_usage_error("unknown invoice verb '%s' (want preview, issue, void, show, list "
                           "or run)", argv[0]);
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
