/*
 * cli_rules.c -- `rebill rules`: check rule files, run the tests they ship, and compare a new
 * rule file with a customer's plans on stored usage.
 *
 *   rebill rules check FILE...
 *   rebill rules test [FILE|DIR]...
 *   rebill rules diff --org O --period YYYY-MM[..YYYY-MM] --rules NEW.lua [--json]
 */
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char rules_help[] =
    "usage: rebill rules check FILE...\n"
    "       rebill rules test [FILE|DIR]...\n"
    "       rebill rules diff --org O --period YYYY-MM[..YYYY-MM] --rules NEW.lua [--json]\n"
    "\n"
    "check  compile each rule file in the sandbox and check its plan: the API it uses, unknown\n"
    "       keys and bad values are reported as FILE:LINE: what. Exit 1 if any fails.\n"
    "test   run the tests each rule file ships (its plan's `tests`: fixture usage inline or\n"
    "       from a CSV file, expected lines and totals); a directory means every *.lua in it\n"
    "       (default: rules/). Prints each failure with its differences, then\n"
    "       \"N passed, N failed\"; exit 1 if any failed. A file that does not compile or has\n"
    "       no tests counts as one failure.\n"
    "diff   price the customer's stored usage with its plans in force and with NEW.lua, month\n"
    "       by month over the range: per service and item the current price, the new one and\n"
    "       the change, the totals, and the partner's margin before and after (usage\n"
    "       currency, before tax). Stores nothing.\n"
    "       --json: {org, from, to, months, currency, rows[{key, current, new, delta}],\n"
    "       totals{current, new, delta, cost, margin_current, margin_new}}\n";

static const char *src_buf; /* the rule file, from cli_read_source() */


/* {===================================================================================
 * check
 * =================================================================================== */

static int cmd_check(struct cli *c, int argc, char **argv)
{
    const char *files[256];
    int nfiles = 0, bad = 0;
    bool help = false;

    (void)c;
    if (cli_parse(argc, argv, NULL, files, 256, &nfiles, rules_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if (nfiles == 0)
        return cli_usage_error("rules check needs at least one FILE");
    for (int i = 0; i < nfiles; i++) {
        rb_error err;
        size_t len;
        if (cli_read_source("", files[i], &src_buf, &len)) {
            bad++;
            continue;
        }
        if (rb_rules_check(files[i], src_buf, len, NULL, &err) != RB_OK) {
            fprintf(stderr, "rebill: %s\n", err.msg);
            bad++;
        } else {
            printf("ok %s\n", files[i]);
        }
    }
    return bad ? EXIT_USER : EXIT_OK;
}

/* {===================================================================================
 * test
 * =================================================================================== */

#define TEST_FILES_MAX 1000

struct test_ctx {
    long passed, failed;
};

static rb_status print_case(const rb_rules_test_case *t, void *ctx)
{
    (void)ctx;
    if (t->passed)
        printf("ok   %s: %s\n", t->file, t->name);
    else
        printf("FAIL %s: %s\n%s", t->file, t->name, t->detail);
    return RB_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_file(const char *path, struct test_ctx *tc)
{
    rb_error err;
    long p = 0, f = 0;

    if (rb_rules_test_file(path, NULL, print_case, NULL, &p, &f, &err) != RB_OK) {
        printf("FAIL %s\n    %s\n", path, err.msg);
        tc->failed++;
    }
    tc->passed += p;
    tc->failed += f;
}

/* Every *.lua of a directory, in name order. */
static int test_dir(const char *dir, struct test_ctx *tc)
{
    static char names[TEST_FILES_MAX][512];
    static char *order[TEST_FILES_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return cli_user_error("cannot read directory %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0 || e->d_name[0] == '.')
            continue;
        if (n == TEST_FILES_MAX) {
            closedir(d);
            return cli_user_error("%s: more than %d rule files", dir, TEST_FILES_MAX);
        }
        snprintf(names[n], sizeof(names[n]), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                 e->d_name);
        order[n] = names[n];
        n++;
    }
    closedir(d);
    if (n == 0)
        return cli_user_error("no *.lua rule files in %s", dir);
    qsort(order, (size_t)n, sizeof(order[0]), name_cmp);
    for (int i = 0; i < n; i++)
        test_file(order[i], tc);
    return 0;
}

static int cmd_test(struct cli *c, int argc, char **argv)
{
    const char *paths[256];
    int npaths = 0, rc;
    bool help = false;
    struct test_ctx tc = {0, 0};

    (void)c;
    if (cli_parse(argc, argv, NULL, paths, 256, &npaths, rules_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if (npaths == 0)
        paths[npaths++] = "rules";
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            return cli_user_error("cannot read %s: no such file or directory", paths[i]);
        if (S_ISDIR(st.st_mode)) {
            if ((rc = test_dir(paths[i], &tc)))
                return rc;
        } else {
            test_file(paths[i], &tc);
        }
    }
    printf("%ld passed, %ld failed\n", tc.passed, tc.failed);
    return tc.failed ? EXIT_USER : EXIT_OK;
}

/* {===================================================================================
 * diff
 * =================================================================================== */

struct diff_ctx {
    const char *org, *name;
    size_t len;
    int from, to;
    struct jw *w;
    rb_price_diff_totals tot;
};

static rb_status print_row(const rb_price_diff_row *r, void *ctx)
{
    struct diff_ctx *d = ctx;
    char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], x[RB_DEC_BUFSZ];

    if (!r->key)
        return RB_OK; /* the totals: printed after, with the margins */
    rb_dec_format(&r->old_price, a, sizeof(a));
    rb_dec_format(&r->new_price, b, sizeof(b));
    rb_dec_format(&r->delta, x, sizeof(x));
    if (d->w) {
        jw_obj(d->w);
        jw_key(d->w, "key");
        jw_str(d->w, r->key);
        jw_key(d->w, "current");
        jw_dec(d->w, &r->old_price);
        jw_key(d->w, "new");
        jw_dec(d->w, &r->new_price);
        jw_key(d->w, "delta");
        jw_dec(d->w, &r->delta);
        jw_obj_end(d->w);
    } else {
        printf("  %-36s %14s %14s %14s\n", r->key, a, b, x);
    }
    return RB_OK;
}

static rb_status do_diff(rb_txn *txn, void *ctx)
{
    struct diff_ctx *d = ctx;

    return rb_price_diff(txn, d->org, d->from, d->to, d->name, src_buf, d->len, NULL, print_row, d,
                         &d->tot);
}

static void money(const rb_dec *v, const char *cur, char *buf)
{
    rb_dec r;

    if (rb_dec_round_currency(&r, v, cur, RB_ROUND_HALF_EVEN) != RB_OK)
        r = *v;
    rb_dec_format(&r, buf, RB_DEC_BUFSZ);
}

static int cmd_diff(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *period = NULL, *rules = NULL;
    bool help = false;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},     {"period", true, &period, NULL},
        {"rules", true, &rules, NULL}, {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct diff_ctx d;
    struct jw w;
    char first[16], last[16];
    const char *dots;
    rb_status st;
    int rc;

    if (cli_parse(argc, argv, opts, NULL, 0, NULL, rules_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if ((rc = cli_need("org", org)) || (rc = cli_need("period", period)) ||
        (rc = cli_need("rules", rules)))
        return rc;
    memset(&d, 0, sizeof(d));
    dots = strstr(period, "..");
    if (dots) {
        size_t n = (size_t)(dots - period);
        if (n >= sizeof(first) || strlen(dots + 2) >= sizeof(last))
            return cli_user_error("invalid --period \"%s\": want YYYY-MM or YYYY-MM..YYYY-MM",
                                  period);
        memcpy(first, period, n);
        first[n] = '\0';
        snprintf(last, sizeof(last), "%s", dots + 2);
    } else {
        snprintf(first, sizeof(first), "%.15s", period);
        snprintf(last, sizeof(last), "%.15s", period);
    }
    if (cli_month_arg("period", first, &d.from) || cli_month_arg("period", last, &d.to))
        return EXIT_USER;
    if (d.to < d.from)
        return cli_user_error("invalid --period \"%s\": the last month is before the first",
                              period);
    if ((rc = cli_read_source("--rules ", rules, &src_buf, &d.len)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    d.org = org;
    d.name = rules;
    if (c->json) {
        jw_init(&w, stdout);
        d.w = &w;
        jw_obj(&w);
        jw_key(&w, "org");
        jw_str(&w, org);
        jw_key(&w, "from");
        jw_month(&w, d.from);
        jw_key(&w, "to");
        jw_month(&w, d.to);
        jw_key(&w, "rows");
        jw_arr(&w);
    } else {
        printf("%s %s%s%s: plans in force vs %s (partner view: before tax and currency)\n\n", org,
               first, dots ? ".." : "", dots ? last : "", rules);
        printf("  %-36s %14s %14s %14s\n", "SERVICE / ITEM", "CURRENT", "NEW", "DELTA");
    }
    st = rb_store_view(c->store, do_diff, &d);
    if (st != RB_OK) {
        if (c->json)
            fputc('\n', stdout);
        return cli_fail(c, st);
    }
    if (c->json) {
        jw_arr_end(&w);
        jw_key(&w, "months");
        jw_int(&w, d.tot.months);
        jw_key(&w, "currency");
        jw_str(&w, d.tot.currency);
        jw_key(&w, "totals");
        jw_obj(&w);
        jw_key(&w, "current");
        jw_dec(&w, &d.tot.old_price);
        jw_key(&w, "new");
        jw_dec(&w, &d.tot.new_price);
        jw_key(&w, "delta");
        jw_dec(&w, &d.tot.delta);
        jw_key(&w, "cost");
        jw_dec(&w, &d.tot.cost);
        jw_key(&w, "margin_current");
        jw_dec(&w, &d.tot.old_margin);
        jw_key(&w, "margin_new");
        jw_dec(&w, &d.tot.new_margin);
        jw_obj_end(&w);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        char a[RB_DEC_BUFSZ], b[RB_DEC_BUFSZ], x[RB_DEC_BUFSZ];
        const char *cur = d.tot.currency;
        money(&d.tot.old_price, cur, a);
        money(&d.tot.new_price, cur, b);
        money(&d.tot.delta, cur, x);
        printf("  %-36s %14s %14s %14s\n", "total", a, b, x);
        money(&d.tot.old_margin, cur, a);
        money(&d.tot.new_margin, cur, b);
        money(&d.tot.cost, cur, x);
        printf("\npartner margin %s -> %s %s (cost %s, %d month%s)\n", a, b, cur, x, d.tot.months,
               d.tot.months == 1 ? "" : "s");
    }
    return EXIT_OK;
}

int cli_rules(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(rules_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[0], "check") == 0)
        return cmd_check(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "test") == 0)
        return cmd_test(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "diff") == 0)
        return cmd_diff(c, argc - 1, argv + 1);
    return cli_usage_error("unknown rules verb '%s'", argv[0]);
}
