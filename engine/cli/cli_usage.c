/*
 * cli_usage.c -- `rebill usage`: import cost and usage exports, keep tags, and query the
 * daily aggregates (summary, unmapped usage, manifests).
 *
 * A thin front end over rb_usage_* (include/rebill.h): it parses options, draws the
 * progress bar (stderr, only on a terminal), writes the rejects file and prints results.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_help[] =
    "usage: rebill usage import FILE... [--source NAME] [--format cur|cur2|focus]\n"
    "                          [--max-errors N --rejects FILE] [--quiet] [--json]\n"
    "       rebill usage config [--keep-tag KEY] [--drop-tag KEY] [--json]\n"
    "       rebill usage summary --period YYYY-MM [--org O | --payer P | --account A]\n"
    "                          [--by service|account|day|usage-type|line-type|region|tag:KEY]\n"
    "                          [--json]\n"
    "       rebill usage unmapped --period YYYY-MM [--json]\n"
    "       rebill usage manifest [--period YYYY-MM] [--json]\n"
    "\n"
    "import    read the files of one delivery (CSV, plain or .gz; legacy CUR, CUR 2.0 or\n"
    "          FOCUS, told apart by the header) and replace, for each billing period they\n"
    "          cover, what was imported before from the same source (default \"default\").\n"
    "          Identical content changes nothing. A bad row stops the import unless\n"
    "          --max-errors allows it: then it goes to the --rejects file (CSV: file, line,\n"
    "          reason, record). Creates the database if needed.\n"
    "config    keep a tag key as an aggregate dimension of later imports, stop keeping\n"
    "          one, or list them\n"
    "summary   a period's usage by one dimension (default service), for one organization\n"
    "          (usage of its accounts on each usage day), payer (organizations whose bill it\n"
    "          pays, and its own) or account; amounts per currency\n"
    "unmapped  a period's usage that no payer covers: unknown accounts, accounts in no\n"
    "          organization on the usage day, organizations with no billing transfer\n"
    "manifest  what each import stored: files, content hashes, rows and totals\n";

static void fmt_dec(const rb_dec *d, char *buf)
{
    rb_dec n = rb_dec_normalize(d);
    rb_dec_format(&n, buf, RB_DEC_BUFSZ);
}

static void jw_amount(struct jw *w, const char *key, const rb_dec *d)
{
    char buf[RB_DEC_BUFSZ];

    fmt_dec(d, buf);
    jw_key(w, key);
    jw_str(w, buf);
}

static void jw_amounts(struct jw *w, const rb_usage_amounts *a)
{
    jw_key(w, "currency");
    jw_str(w, a->currency);
    jw_key(w, "rows");
    jw_int(w, a->rows);
    jw_amount(w, "quantity", &a->quantity);
    jw_amount(w, "billed", &a->billed);
    jw_amount(w, "list", &a->list);
    jw_amount(w, "effective", &a->effective);
}

static const char *outcome_name(rb_usage_outcome o)
{
    switch (o) {
    case RB_USAGE_NEW:
        return "new";
    case RB_USAGE_REPLACED:
        return "replaced";
    case RB_USAGE_UNCHANGED:
        return "unchanged";
    case RB_USAGE_STORED:
        return "stored";
    default:
        return "pending";
    }
}

/* Per-currency running totals for printing (the library never mixes currencies). */
#define MAX_CUR 32
struct curtot {
    rb_usage_amounts t[MAX_CUR];
    int n;
    bool overflow;
};

static void curtot_add(struct curtot *ct, const rb_usage_amounts *a)
{
    int i;
    rb_usage_amounts *t;

    for (i = 0; i < ct->n; i++)
        if (strcmp(ct->t[i].currency, a->currency) == 0)
            break;
    if (i == ct->n) {
        if (ct->n == MAX_CUR) {
            ct->overflow = true;
            return;
        }
        memset(&ct->t[i], 0, sizeof(ct->t[i]));
        memcpy(ct->t[i].currency, a->currency, sizeof(a->currency));
        ct->t[i].quantity = ct->t[i].billed = ct->t[i].list = ct->t[i].effective = rb_dec_zero();
        ct->n++;
    }
    t = &ct->t[i];
    t->rows += a->rows;
    if (rb_dec_add(&t->quantity, &t->quantity, &a->quantity) != RB_OK ||
        rb_dec_add(&t->billed, &t->billed, &a->billed) != RB_OK ||
        rb_dec_add(&t->list, &t->list, &a->list) != RB_OK ||
        rb_dec_add(&t->effective, &t->effective, &a->effective) != RB_OK)
        ct->overflow = true;
}

/* {===================================================================================
 * import
 * =================================================================================== */

struct progress {
    const char *file;
    struct timespec start, last;
    bool drawn;
};

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* The bar on stderr: file, percent, bytes, rows, rate and time left; at most 10 a second. */
static void on_progress(uint64_t done, uint64_t total, uint64_t rows, void *ctx)
{
    struct progress *p = ctx;
    struct timespec now;
    double el, frac, rate, eta;
    char bar[21];
    int fill;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (p->drawn && since(&p->last, &now) < 0.1)
        return;
    p->last = now;
    p->drawn = true;
    el = since(&p->start, &now);
    frac = total ? (double)done / (double)total : 0;
    if (frac > 1)
        frac = 1;
    fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    rate = el > 0 ? (double)rows / el : 0;
    eta = frac > 0 && el > 0 ? el / frac - el : 0;
    fprintf(stderr, "\r\033[K%.30s [%s] %3d%% %.1f MB %llu rows %.0f rows/s ETA %d:%02d", p->file,
            bar, (int)(frac * 100), (double)done / 1e6, (unsigned long long)rows, rate,
            (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static void progress_clear(struct progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

struct tag_list {
    char keys[RB_USAGE_MAX_TAGS][RB_USAGE_TAG_MAX + 1];
    const char *ptr[RB_USAGE_MAX_TAGS];
    size_t n;
};

static rb_status collect_tag(const char *key, void *ctx)
{
    struct tag_list *t = ctx;

    if (t->n < RB_USAGE_MAX_TAGS) {
        snprintf(t->keys[t->n], sizeof(t->keys[t->n]), "%s", key);
        t->ptr[t->n] = t->keys[t->n];
        t->n++;
    }
    return RB_OK;
}

static rb_status do_tag_list(rb_txn *txn, void *ctx)
{
    return rb_usage_tag_list(txn, collect_tag, ctx);
}

struct apply_ctx {
    rb_usage_import *imp;
    int64_t now;
};

static rb_status do_apply(rb_txn *txn, void *ctx)
{
    struct apply_ctx *a = ctx;
    return rb_usage_import_apply(txn, a->imp, a->now);
}

/* CSV-quote a field. */
static void csv_field(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            fputc('"', f);
        fputc(p[i], f);
    }
    fputc('"', f);
}

static rb_status write_reject(const char *file, int64_t line, const char *reason,
                              const char *record, size_t len, void *ctx)
{
    FILE *f = ctx;

    csv_field(f, file, strlen(file));
    fprintf(f, ",%lld,", (long long)line);
    csv_field(f, reason, strlen(reason));
    fputc(',', f);
    csv_field(f, record, len);
    fputc('\n', f);
    return RB_OK;
}

struct result_ctx {
    struct cli *c;
    struct jw *w;
    struct curtot ct;
    int periods, unchanged;
    int64_t rows;
    char list[256]; /* the periods, for the summary line */
};

static rb_status print_period(const rb_usage_manifest *m, void *ctx)
{
    struct result_ctx *r = ctx;
    char month[16], when[32];

    rb_month_format(m->month, month, sizeof(month));
    r->periods++;
    r->unchanged += m->outcome == RB_USAGE_UNCHANGED;
    r->rows += m->rows;
    if (strlen(r->list) + strlen(month) + 3 < sizeof(r->list))
        snprintf(r->list + strlen(r->list), sizeof(r->list) - strlen(r->list), "%s%s",
                 r->list[0] ? ", " : "", month);
    for (size_t i = 0; i < m->ntotals; i++)
        curtot_add(&r->ct, &m->totals[i]);
    if (r->w) {
        jw_obj(r->w);
        jw_key(r->w, "period");
        jw_str(r->w, month);
        jw_key(r->w, "outcome");
        jw_str(r->w, outcome_name(m->outcome));
        jw_key(r->w, "rows");
        jw_int(r->w, m->rows);
        jw_key(r->w, "aggregates");
        jw_int(r->w, m->aggregates);
        jw_key(r->w, "imported_at");
        jw_time(r->w, m->imported_at);
        jw_key(r->w, "totals");
        jw_arr(r->w);
        for (size_t i = 0; i < m->ntotals; i++) {
            jw_obj(r->w);
            jw_amounts(r->w, &m->totals[i]);
            jw_obj_end(r->w);
        }
        jw_arr_end(r->w);
        jw_obj_end(r->w);
        return RB_OK;
    }
    rb_time_format(m->imported_at, when, sizeof(when));
    printf("%s  %-9s %10lld rows %8lld aggregates", month, outcome_name(m->outcome),
           (long long)m->rows, (long long)m->aggregates);
    for (size_t i = 0; i < m->ntotals; i++) {
        char b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ];
        fmt_dec(&m->totals[i].billed, b);
        fmt_dec(&m->totals[i].list, l);
        printf("  %s billed %s list %s", m->totals[i].currency, b, l);
    }
    if (m->outcome == RB_USAGE_UNCHANGED)
        printf("  (as imported %s)", when);
    putchar('\n');
    return RB_OK;
}

static int parse_format(const char *s, rb_usage_format *f)
{
    if (!s)
        *f = RB_USAGE_AUTO;
    else if (strcmp(s, "cur") == 0)
        *f = RB_USAGE_CUR;
    else if (strcmp(s, "cur2") == 0)
        *f = RB_USAGE_CUR2;
    else if (strcmp(s, "focus") == 0)
        *f = RB_USAGE_FOCUS;
    else
        return cli_user_error("invalid --format \"%s\": want cur, cur2 or focus", s);
    return 0;
}

#define MAX_FILES 1024

static int cmd_import(struct cli *c, int argc, char **argv)
{
    const char *source = NULL, *format = NULL, *maxerr = NULL, *rejects = NULL;
    bool quiet = false, json = false, help;
    const struct cli_opt opts[] = {
        {"source", true, &source, NULL},     {"format", true, &format, NULL},
        {"max-errors", true, &maxerr, NULL}, {"rejects", true, &rejects, NULL},
        {"quiet", false, NULL, &quiet},      {"json", false, NULL, &json},
        {NULL, false, NULL, NULL},
    };
    const char *files[MAX_FILES];
    int nfiles = 0, rc;
    rb_usage_import_opts io;
    rb_usage_import *imp = NULL;
    struct tag_list tags;
    struct progress prog;
    struct apply_ctx ac;
    struct result_ctx res;
    rb_usage_import_stats st;
    rb_error err;
    rb_status s;

    if ((rc = cli_parse(argc, argv, opts, files, MAX_FILES, &nfiles, usage_help, &help)) || help)
        return rc;
    c->json = c->json || json;
    if (nfiles == 0)
        return cli_usage_error("usage import needs at least one FILE");
    memset(&io, 0, sizeof(io));
    io.source = source;
    if ((rc = parse_format(format, &io.format)))
        return rc;
    if (maxerr) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(maxerr, &end, 10);
        if (!*maxerr || *end || v < 0 || errno)
            return cli_user_error("invalid --max-errors \"%s\": want a whole number >= 0", maxerr);
        io.max_errors = v;
        if (v > 0 && !rejects)
            return cli_usage_error("--max-errors needs --rejects FILE");
    }
    if (rejects && !maxerr)
        return cli_usage_error("--rejects needs --max-errors N");

    /* the kept tags, if there is a database already; it is created after the files read */
    memset(&tags, 0, sizeof(tags));
    s = rb_store_open(&c->store, c->db_path, 0, &err);
    if (s == RB_OK) {
        s = rb_store_view(c->store, do_tag_list, &tags);
        if (s != RB_OK)
            return cli_fail(c, s);
    } else if (s != RB_NOTFOUND) {
        fprintf(stderr, "rebill: %s\n", err.msg);
        return EXIT_STORAGE;
    }
    io.keep_tags = tags.ptr;
    io.nkeep_tags = tags.n;
    memset(&prog, 0, sizeof(prog));
    if (!quiet && isatty(STDERR_FILENO)) {
        io.progress = on_progress;
        io.progress_ctx = &prog;
    }
    s = rb_usage_import_new(&imp, &io, &err);
    if (s != RB_OK) {
        fprintf(stderr, "rebill: %s\n", err.msg);
        return cli_exit_code(s);
    }
    for (int i = 0; i < nfiles; i++) {
        const char *b = strrchr(files[i], '/');
        prog.file = b ? b + 1 : files[i];
        clock_gettime(CLOCK_MONOTONIC, &prog.start);
        s = rb_usage_import_file(imp, files[i], &err);
        progress_clear(&prog);
        if (s != RB_OK) {
            fprintf(stderr, "rebill: %s\n", err.msg);
            rc = cli_exit_code(s);
            goto out;
        }
    }
    if (rejects) {
        FILE *f = fopen(rejects, "w");
        if (!f) {
            rc = cli_user_error("cannot write --rejects file %s: %s", rejects, strerror(errno));
            goto out;
        }
        fputs("file,line,reason,record\n", f);
        rb_usage_import_rejects(imp, write_reject, f);
        if (fclose(f) != 0) {
            rc = cli_user_error("cannot write --rejects file %s: %s", rejects, strerror(errno));
            goto out;
        }
    }
    s = rb_usage_import_check(imp, &err);
    if (s != RB_OK) {
        fprintf(stderr, "rebill: %s\n", err.msg);
        rc = cli_exit_code(s);
        goto out;
    }
    if ((rc = cli_store(c, true)))
        goto out;
    ac.imp = imp;
    ac.now = c->now;
    s = rb_store_update(c->store, do_apply, &ac);
    if (s != RB_OK) {
        rc = cli_fail(c, s);
        goto out;
    }

    rb_usage_import_stats_get(imp, &st);
    memset(&res, 0, sizeof(res));
    res.c = c;
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        res.w = &w;
        jw_obj(&w);
        jw_key(&w, "source");
        jw_str(&w, source ? source : RB_USAGE_DEFAULT_SOURCE);
        jw_key(&w, "rows");
        jw_int(&w, st.rows);
        jw_key(&w, "rejected");
        jw_int(&w, st.rejected);
        jw_key(&w, "files");
        jw_int(&w, st.files);
        jw_key(&w, "periods");
        jw_arr(&w);
        rb_usage_import_periods(imp, print_period, &res);
        jw_arr_end(&w);
        jw_key(&w, "unchanged");
        jw_bool(&w, res.unchanged == res.periods);
        jw_obj_end(&w);
        jw_end(&w);
        rc = EXIT_OK;
        goto out;
    }
    rb_usage_import_periods(imp, print_period, &res);
    if (res.unchanged == res.periods) {
        printf("unchanged: %s of source %s: same content as stored; nothing written\n", res.list,
               source ? source : RB_USAGE_DEFAULT_SOURCE);
        rc = EXIT_OK;
        goto out;
    }
    printf("imported %lld rows from %lld file%s into %d period%s (%s) of source %s, "
           "%lld rejected",
           (long long)st.rows, (long long)st.files, st.files == 1 ? "" : "s", res.periods,
           res.periods == 1 ? "" : "s", res.list, source ? source : RB_USAGE_DEFAULT_SOURCE,
           (long long)st.rejected);
    for (int i = 0; i < res.ct.n; i++) {
        char q[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ], e[RB_DEC_BUFSZ];
        fmt_dec(&res.ct.t[i].quantity, q);
        fmt_dec(&res.ct.t[i].billed, b);
        fmt_dec(&res.ct.t[i].list, l);
        fmt_dec(&res.ct.t[i].effective, e);
        printf("; %s billed %s list %s effective %s quantity %s", res.ct.t[i].currency, b, l, e, q);
    }
    putchar('\n');
    if (res.unchanged)
        printf("(%d period%s unchanged)\n", res.unchanged, res.unchanged == 1 ? "" : "s");
    rc = EXIT_OK;
out:
    rb_usage_import_free(imp);
    return rc;
}

/* {===================================================================================
 * config
 * =================================================================================== */

struct tag_op {
    const char *keep, *drop;
};

static rb_status do_tag_op(rb_txn *txn, void *ctx)
{
    struct tag_op *op = ctx;
    rb_status rc = RB_OK;

    if (op->keep)
        rc = rb_usage_tag_keep(txn, op->keep);
    if (rc == RB_OK && op->drop)
        rc = rb_usage_tag_drop(txn, op->drop);
    return rc;
}

static int cmd_config(struct cli *c, int argc, char **argv)
{
    struct tag_op op = {NULL, NULL};
    bool json = false, help;
    const struct cli_opt opts[] = {
        {"keep-tag", true, &op.keep, NULL},
        {"drop-tag", true, &op.drop, NULL},
        {"json", false, NULL, &json},
        {NULL, false, NULL, NULL},
    };
    struct tag_list tags;
    int rc;
    rb_status s;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, usage_help, &help)) || help)
        return rc;
    c->json = c->json || json;
    if ((rc = cli_store(c, op.keep || op.drop)))
        return rc;
    if (op.keep || op.drop) {
        s = rb_store_update(c->store, do_tag_op, &op);
        if (s != RB_OK)
            return cli_fail(c, s);
    }
    memset(&tags, 0, sizeof(tags));
    s = rb_store_view(c->store, do_tag_list, &tags);
    if (s != RB_OK)
        return cli_fail(c, s);
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "keep_tags");
        jw_arr(&w);
        for (size_t i = 0; i < tags.n; i++)
            jw_str(&w, tags.keys[i]);
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end(&w);
    } else if (tags.n == 0) {
        printf("no tags kept\n");
    } else {
        for (size_t i = 0; i < tags.n; i++)
            printf("keep-tag %s\n", tags.keys[i]);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * summary
 * =================================================================================== */

static const struct {
    const char *name;
    rb_usage_dim dim;
} dims[] = {
    {"service", RB_USAGE_BY_SERVICE},
    {"account", RB_USAGE_BY_ACCOUNT},
    {"day", RB_USAGE_BY_DAY},
    {"usage-type", RB_USAGE_BY_USAGE_TYPE},
    {"line-type", RB_USAGE_BY_LINE_TYPE},
    {"region", RB_USAGE_BY_REGION},
};

struct table_ctx {
    struct cli *c;
    struct jw *w;
    bool measure; /* first pass: widths and totals only */
    int wkey, wrows, wq, wb, wl, we;
    struct curtot ct;
    const char *head; /* the key column's title */
};

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static void table_measure(struct table_ctx *t, const char *key, const rb_usage_amounts *a)
{
    char q[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ], e[RB_DEC_BUFSZ], r[24];

    fmt_dec(&a->quantity, q);
    fmt_dec(&a->billed, b);
    fmt_dec(&a->list, l);
    fmt_dec(&a->effective, e);
    snprintf(r, sizeof(r), "%lld", (long long)a->rows);
    t->wkey = imax(t->wkey, (int)strlen(key));
    t->wrows = imax(t->wrows, (int)strlen(r));
    t->wq = imax(t->wq, (int)strlen(q));
    t->wb = imax(t->wb, (int)strlen(b));
    t->wl = imax(t->wl, (int)strlen(l));
    t->we = imax(t->we, (int)strlen(e));
}

static void table_row(const struct table_ctx *t, const char *key, const rb_usage_amounts *a)
{
    char q[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ], e[RB_DEC_BUFSZ];

    fmt_dec(&a->quantity, q);
    fmt_dec(&a->billed, b);
    fmt_dec(&a->list, l);
    fmt_dec(&a->effective, e);
    printf("%-*s  %-8s  %*lld  %*s  %*s  %*s  %*s\n", t->wkey, key, a->currency, t->wrows,
           (long long)a->rows, t->wb, b, t->wl, l, t->we, e, t->wq, q);
}

static void table_head(struct table_ctx *t)
{
    t->wkey = imax(t->wkey, (int)strlen(t->head));
    t->wkey = imax(t->wkey, 5);
    t->wrows = imax(t->wrows, 4);
    t->wq = imax(t->wq, 8);
    t->wb = imax(t->wb, 6);
    t->wl = imax(t->wl, 4);
    t->we = imax(t->we, 9);
    for (int i = 0; i < t->ct.n; i++)
        table_measure(t, "total", &t->ct.t[i]);
    printf("%-*s  %-8s  %*s  %*s  %*s  %*s  %*s\n", t->wkey, t->head, "currency", t->wrows, "rows",
           t->wb, "billed", t->wl, "list", t->we, "effective", t->wq, "quantity");
}

static rb_status summary_group(const rb_usage_group *g, void *ctx)
{
    struct table_ctx *t = ctx;
    const char *key = g->key[0] ? g->key : "(none)";

    if (t->w) {
        jw_obj(t->w);
        jw_key(t->w, "key");
        jw_str(t->w, g->key);
        jw_amounts(t->w, &g->a);
        jw_obj_end(t->w);
        curtot_add(&t->ct, &g->a);
    } else if (t->measure) {
        table_measure(t, key, &g->a);
        curtot_add(&t->ct, &g->a);
    } else {
        table_row(t, key, &g->a);
    }
    return RB_OK;
}

struct summary_op {
    rb_usage_query q;
    struct table_ctx *t;
};

static rb_status do_summary(rb_txn *txn, void *ctx)
{
    struct summary_op *op = ctx;
    rb_status rc;

    if (op->t->w)
        return rb_usage_summary(txn, &op->q, summary_group, op->t);
    op->t->measure = true;
    rc = rb_usage_summary(txn, &op->q, summary_group, op->t);
    if (rc != RB_OK)
        return rc;
    op->t->measure = false;
    table_head(op->t);
    return rb_usage_summary(txn, &op->q, summary_group, op->t);
}

static void print_totals(struct table_ctx *t)
{
    for (int i = 0; i < t->ct.n; i++)
        table_row(t, "total", &t->ct.t[i]);
}

static void jw_totals(struct jw *w, const struct curtot *ct)
{
    jw_key(w, "totals");
    jw_arr(w);
    for (int i = 0; i < ct->n; i++) {
        jw_obj(w);
        jw_amounts(w, &ct->t[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static int cmd_summary(struct cli *c, int argc, char **argv)
{
    const char *period = NULL, *org = NULL, *payer = NULL, *account = NULL, *by = NULL;
    bool json = false, help;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},   {"org", true, &org, NULL}, {"payer", true, &payer, NULL},
        {"account", true, &account, NULL}, {"by", true, &by, NULL},   {"json", false, NULL, &json},
        {NULL, false, NULL, NULL},
    };
    struct summary_op op;
    struct table_ctx t;
    struct jw w;
    char month[16];
    int rc;
    rb_status s;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, usage_help, &help)) || help)
        return rc;
    c->json = c->json || json;
    memset(&op, 0, sizeof(op));
    memset(&t, 0, sizeof(t));
    if ((rc = cli_need("period", period)) || (rc = cli_month_arg("period", period, &op.q.month)))
        return rc;
    if ((org != NULL) + (payer != NULL) + (account != NULL) > 1)
        return cli_usage_error("give at most one of --org, --payer and --account");
    op.q.org = org;
    op.q.payer = payer;
    op.q.account = account;
    if (!by)
        by = "service";
    if (strncmp(by, "tag:", 4) == 0) {
        op.q.by = RB_USAGE_BY_TAG;
        op.q.tag = by + 4;
        t.head = by;
    } else {
        size_t i;
        for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
            if (strcmp(by, dims[i].name) == 0)
                break;
        if (i == sizeof(dims) / sizeof(dims[0]))
            return cli_user_error("invalid --by \"%s\": want service, account, day, usage-type, "
                                  "line-type, region or tag:KEY",
                                  by);
        op.q.by = dims[i].dim;
        t.head = dims[i].name;
    }
    if ((rc = cli_store(c, false)))
        return rc;
    t.c = c;
    op.t = &t;
    rb_month_format(op.q.month, month, sizeof(month));
    if (c->json) {
        jw_init(&w, stdout);
        t.w = &w;
        jw_obj(&w);
        jw_key(&w, "period");
        jw_str(&w, month);
        jw_key(&w, "by");
        jw_str(&w, by);
        jw_key(&w, "groups");
        jw_arr(&w);
    }
    s = rb_store_view(c->store, do_summary, &op);
    if (s != RB_OK) {
        if (c->json)
            putchar('\n');
        return cli_fail(c, s);
    }
    if (c->json) {
        jw_arr_end(&w);
        jw_totals(&w, &t.ct);
        jw_obj_end(&w);
        jw_end(&w);
    } else if (t.ct.n == 0) {
        printf("no usage in %s\n", month);
    } else {
        print_totals(&t);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * unmapped
 * =================================================================================== */

struct unm_print {
    struct jw *w;
    bool measure;
    int wacc, worg, wwhy;
    struct table_ctx t;
};

static rb_status unmapped_row(const rb_usage_unmapped_row *r, void *ctx)
{
    struct unm_print *u = ctx;

    if (u->w) {
        jw_obj(u->w);
        jw_key(u->w, "account");
        jw_str(u->w, r->account);
        jw_key(u->w, "org");
        if (r->org[0])
            jw_str(u->w, r->org);
        else
            jw_null(u->w);
        jw_key(u->w, "reason");
        jw_str(u->w, r->reason);
        jw_amounts(u->w, &r->a);
        jw_obj_end(u->w);
        curtot_add(&u->t.ct, &r->a);
    } else if (u->measure) {
        u->wacc = imax(u->wacc, (int)strlen(r->account));
        u->worg = imax(u->worg, (int)strlen(r->org));
        u->wwhy = imax(u->wwhy, (int)strlen(r->reason));
        table_measure(&u->t, "", &r->a);
        curtot_add(&u->t.ct, &r->a);
    } else {
        char key[512];
        snprintf(key, sizeof(key), "%-*s  %-*s  %-*s", u->wacc, r->account, u->worg,
                 r->org[0] ? r->org : "-", u->wwhy, r->reason);
        table_row(&u->t, key, &r->a);
    }
    return RB_OK;
}

struct unm_op {
    int month;
    struct unm_print *u;
};

static rb_status do_unmapped(rb_txn *txn, void *ctx)
{
    struct unm_op *op = ctx;
    struct unm_print *u = op->u;
    char head[512];
    rb_status rc;

    if (u->w)
        return rb_usage_unmapped(txn, op->month, unmapped_row, u);
    u->measure = true;
    u->wacc = 7;
    u->worg = 3;
    u->wwhy = 6;
    rc = rb_usage_unmapped(txn, op->month, unmapped_row, u);
    if (rc != RB_OK || u->t.ct.n == 0)
        return rc;
    u->measure = false;
    snprintf(head, sizeof(head), "%-*s  %-*s  %-*s", u->wacc, "account", u->worg, "org", u->wwhy,
             "reason");
    u->t.head = head;
    u->t.wkey = (int)strlen(head);
    table_head(&u->t);
    return rb_usage_unmapped(txn, op->month, unmapped_row, u);
}

static int cmd_unmapped(struct cli *c, int argc, char **argv)
{
    const char *period = NULL;
    bool json = false, help;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},
        {"json", false, NULL, &json},
        {NULL, false, NULL, NULL},
    };
    struct unm_print u;
    struct unm_op op;
    struct jw w;
    char month[16];
    int rc;
    rb_status s;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, usage_help, &help)) || help)
        return rc;
    c->json = c->json || json;
    memset(&u, 0, sizeof(u));
    if ((rc = cli_need("period", period)) || (rc = cli_month_arg("period", period, &op.month)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    op.u = &u;
    rb_month_format(op.month, month, sizeof(month));
    if (c->json) {
        jw_init(&w, stdout);
        u.w = &w;
        jw_obj(&w);
        jw_key(&w, "period");
        jw_str(&w, month);
        jw_key(&w, "unmapped");
        jw_arr(&w);
    }
    s = rb_store_view(c->store, do_unmapped, &op);
    if (s != RB_OK) {
        if (c->json)
            putchar('\n');
        return cli_fail(c, s);
    }
    if (c->json) {
        jw_arr_end(&w);
        jw_totals(&w, &u.t.ct);
        jw_obj_end(&w);
        jw_end(&w);
    } else if (u.t.ct.n == 0) {
        printf("no unmapped usage in %s\n", month);
    } else {
        print_totals(&u.t);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * manifest
 * =================================================================================== */

struct man_ctx {
    struct jw *w;
    int n;
};

static rb_status print_manifest(const rb_usage_manifest *m, void *ctx)
{
    struct man_ctx *mc = ctx;
    char month[16], when[32];

    rb_month_format(m->month, month, sizeof(month));
    mc->n++;
    if (mc->w) {
        struct jw *w = mc->w;
        char hash[24];
        jw_obj(w);
        jw_key(w, "period");
        jw_str(w, month);
        jw_key(w, "source");
        jw_str(w, m->source);
        jw_key(w, "imported_at");
        jw_time(w, m->imported_at);
        jw_key(w, "rows");
        jw_int(w, m->rows);
        jw_key(w, "rejected");
        jw_int(w, m->rejected);
        jw_key(w, "aggregates");
        jw_int(w, m->aggregates);
        jw_key(w, "files");
        jw_arr(w);
        for (size_t i = 0; i < m->nfiles; i++) {
            jw_obj(w);
            jw_key(w, "name");
            jw_str(w, m->files[i].name);
            jw_key(w, "bytes");
            jw_int(w, (long long)m->files[i].bytes);
            jw_key(w, "rows");
            jw_int(w, m->files[i].rows);
            jw_key(w, "format");
            jw_str(w, rb_usage_format_name(m->files[i].format));
            jw_key(w, "xxh64");
            snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)m->files[i].hash);
            jw_str(w, hash);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        jw_key(w, "totals");
        jw_arr(w);
        for (size_t i = 0; i < m->ntotals; i++) {
            jw_obj(w);
            jw_amounts(w, &m->totals[i]);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        jw_obj_end(w);
        return RB_OK;
    }
    rb_time_format(m->imported_at, when, sizeof(when));
    printf("%s  source %s  imported %s  %lld rows  %lld aggregates  %lld rejected\n", month,
           m->source, when, (long long)m->rows, (long long)m->aggregates, (long long)m->rejected);
    for (size_t i = 0; i < m->nfiles; i++)
        printf("    file %s  %llu bytes  %lld rows  %s  xxh64 %016llx\n", m->files[i].name,
               (unsigned long long)m->files[i].bytes, (long long)m->files[i].rows,
               rb_usage_format_name(m->files[i].format), (unsigned long long)m->files[i].hash);
    for (size_t i = 0; i < m->ntotals; i++) {
        char q[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ], e[RB_DEC_BUFSZ];
        fmt_dec(&m->totals[i].quantity, q);
        fmt_dec(&m->totals[i].billed, b);
        fmt_dec(&m->totals[i].list, l);
        fmt_dec(&m->totals[i].effective, e);
        printf("    %s  %lld rows  billed %s  list %s  effective %s  quantity %s\n",
               m->totals[i].currency, (long long)m->totals[i].rows, b, l, e, q);
    }
    return RB_OK;
}

struct man_op {
    int month;
    struct man_ctx *mc;
};

static rb_status do_manifest(rb_txn *txn, void *ctx)
{
    struct man_op *op = ctx;
    return rb_usage_manifest_list(txn, op->month, print_manifest, op->mc);
}

static int cmd_manifest(struct cli *c, int argc, char **argv)
{
    const char *period = NULL;
    bool json = false, help;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},
        {"json", false, NULL, &json},
        {NULL, false, NULL, NULL},
    };
    struct man_ctx mc = {NULL, 0};
    struct man_op op = {RB_MONTH_OPEN, &mc};
    struct jw w;
    int rc;
    rb_status s;

    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, usage_help, &help)) || help)
        return rc;
    c->json = c->json || json;
    if (period && (rc = cli_month_arg("period", period, &op.month)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    if (c->json) {
        jw_init(&w, stdout);
        mc.w = &w;
        jw_arr(&w);
    }
    s = rb_store_view(c->store, do_manifest, &op);
    if (s != RB_OK) {
        if (c->json)
            putchar('\n');
        return cli_fail(c, s);
    }
    if (c->json) {
        jw_arr_end(&w);
        jw_end(&w);
    } else if (mc.n == 0) {
        printf("no imports%s%s\n", period ? " in " : "", period ? period : "");
    }
    return EXIT_OK;
}

int cli_usage(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(usage_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[0], "import") == 0)
        return cmd_import(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "config") == 0)
        return cmd_config(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "summary") == 0)
        return cmd_summary(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "unmapped") == 0)
        return cmd_unmapped(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "manifest") == 0)
        return cmd_manifest(c, argc - 1, argv + 1);
    return cli_usage_error("unknown usage verb '%s'", argv[0]);
}
