/*
 * cli_plan.c -- `rebill plan`: which rule file prices an organization's bill in which months.
 *
 *   rebill plan assign --org O --rules FILE --from YYYY-MM [--to YYYY-MM]
 *   rebill plan unassign --org O --from YYYY-MM [--to YYYY-MM]
 *   rebill plan show --org O [--period YYYY-MM] [--source]
 *   rebill plan list [--period YYYY-MM]
 *   rebill plan history --org O
 */
#include "cli.h"

#include <string.h>

static const char plan_help[] =
    "usage: rebill plan assign --org O --rules FILE --from YYYY-MM [--to YYYY-MM]\n"
    "       rebill plan unassign --org O --from YYYY-MM [--to YYYY-MM]\n"
    "       rebill plan show --org O [--period YYYY-MM] [--source]\n"
    "       rebill plan list [--period YYYY-MM]\n"
    "       rebill plan history --org O\n"
    "\n"
    "assign    check the rule file (it must compile), store its content by hash and price\n"
    "          the organization's bill with it from --from to --to (no --to: until further\n"
    "          notice). It replaces what earlier assignments said about those months; a\n"
    "          month priced later is priced the same way even after the file changed.\n"
    "unassign  those months go back to the default plan (public list price)\n"
    "show      the plan in force in a month (default: the month of --now) and every\n"
    "          assignment of the organization; --source prints the stored rule file\n"
    "list      every organization's plan in force in a month\n"
    "history   every assign and unassign of the organization, oldest first\n"
    "\n"
    "--json: assignments are {org, from, to, hash, name, assigned_at} (to: null when open);\n"
    "history events {at, action, org, from, to, hash, name}; show is {org, period, plan,\n"
    "assignments[]} (plan: null for the default plan).\n";

static const char *src_buf; /* the rule file, from cli_read_source() */


static void json_assignment(struct jw *w, const rb_plan_assignment *a)
{
    jw_obj(w);
    jw_key(w, "org");
    jw_str(w, a->org);
    jw_key(w, "from");
    jw_month(w, a->from);
    jw_key(w, "to");
    jw_month(w, a->to);
    jw_key(w, "hash");
    jw_str(w, a->hash);
    jw_key(w, "name");
    jw_str(w, a->name);
    jw_key(w, "assigned_at");
    jw_time(w, a->assigned_at);
    jw_obj_end(w);
}

static void text_assignment(const rb_plan_assignment *a)
{
    char f[16], t[16], at[32];

    rb_month_format(a->from, f, sizeof(f));
    rb_month_format(a->to, t, sizeof(t));
    rb_time_format(a->assigned_at, at, sizeof(at));
    printf("%-14s %-7s %-7s %s  %s  (assigned %s)\n", a->org, f, t, a->hash, a->name, at);
}

struct out_ctx {
    struct jw *w;
    long n;
};

static rb_status print_assignment(const rb_plan_assignment *a, void *ctx)
{
    struct out_ctx *o = ctx;

    o->n++;
    if (o->w)
        json_assignment(o->w, a);
    else
        text_assignment(a);
    return RB_OK;
}

/* {===================================================================================
 * assign, unassign
 * =================================================================================== */

struct assign_ctx {
    const char *org, *name;
    size_t len;
    int from, to;
    int64_t now;
    bool unassign;
    rb_plan_assignment out;
};

static rb_status do_assign(rb_txn *txn, void *ctx)
{
    struct assign_ctx *a = ctx;

    if (a->unassign)
        return rb_plan_unassign(txn, a->org, a->from, a->to, a->now);
    return rb_plan_assign(txn, a->org, a->name, src_buf, a->len, a->from, a->to, a->now, &a->out);
}

static int cmd_assign(struct cli *c, int argc, char **argv, bool unassign)
{
    const char *org = NULL, *rules = NULL, *from = NULL, *to = NULL;
    bool help = false;
    const struct cli_opt opts_assign[] = {
        {"org", true, &org, NULL}, {"rules", true, &rules, NULL},   {"from", true, &from, NULL},
        {"to", true, &to, NULL},   {"json", false, NULL, &c->json}, {NULL, false, NULL, NULL},
    };
    const struct cli_opt opts_unassign[] = {
        {"org", true, &org, NULL},       {"from", true, &from, NULL}, {"to", true, &to, NULL},
        {"json", false, NULL, &c->json}, {NULL, false, NULL, NULL},
    };
    struct assign_ctx a;
    rb_status st;
    int rc;

    memset(&a, 0, sizeof(a));
    if (cli_parse(argc, argv, unassign ? opts_unassign : opts_assign, NULL, 0, NULL, plan_help,
                  &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if ((rc = cli_need("org", org)) || (!unassign && (rc = cli_need("rules", rules))) ||
        (rc = cli_need("from", from)))
        return rc;
    if (cli_month_arg("from", from, &a.from))
        return EXIT_USER;
    a.to = RB_MONTH_OPEN;
    if (to && cli_month_arg("to", to, &a.to))
        return EXIT_USER;
    if (!unassign && (rc = cli_read_source("--rules ", rules, &src_buf, &a.len)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    a.org = org;
    a.name = rules;
    a.now = c->now;
    a.unassign = unassign;
    st = rb_store_update(c->store, do_assign, &a);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (unassign) {
        if (!c->json)
            printf("unassigned %s from %s to %s\n", org, from, to ? to : "open");
        else
            printf("{\"org\":\"%s\",\"unassigned\":true}\n", org);
        return EXIT_OK;
    }
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        json_assignment(&w, &a.out);
        jw_end(&w);
    } else {
        text_assignment(&a.out);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * show, list, history
 * =================================================================================== */

struct show_ctx {
    const char *org;
    int month;
    bool source;
    struct jw *w;
    bool json;
};

static rb_status do_show(rb_txn *txn, void *ctx)
{
    struct show_ctx *s = ctx;
    struct out_ctx o = {s->w, 0};
    rb_plan_assignment a;
    rb_rules_blob blob;
    rb_status rc = rb_plan_at(txn, s->org, s->month, &a);
    bool has = rc == RB_OK;
    char mb[16];

    if (rc != RB_OK && rc != RB_NOTFOUND)
        return rc;
    if (has && s->source) {
        rc = rb_rules_get(txn, a.hash, &blob);
        if (rc != RB_OK)
            return rc;
    }
    rb_month_format(s->month, mb, sizeof(mb));
    if (s->w) {
        jw_obj(s->w);
        jw_key(s->w, "org");
        jw_str(s->w, s->org);
        jw_key(s->w, "period");
        jw_str(s->w, mb);
        jw_key(s->w, "plan");
        if (has)
            json_assignment(s->w, &a);
        else
            jw_null(s->w);
        jw_key(s->w, "assignments");
        jw_arr(s->w);
    } else if (has) {
        printf("%s in %s: %s (%s)\n", s->org, mb, a.name, a.hash);
    } else {
        printf("%s in %s: the default plan (public list price)\n", s->org, mb);
    }
    if (!s->w && !s->source)
        printf("\nassignments:\n");
    rc = s->source ? RB_OK : rb_plan_periods(txn, s->org, print_assignment, &o);
    if (rc != RB_OK)
        return rc;
    if (!s->w && !s->source && o.n == 0)
        printf("  (none)\n");
    if (s->w) {
        jw_arr_end(s->w);
        jw_obj_end(s->w);
        jw_end(s->w);
    } else if (has && s->source) {
        fwrite(blob.src, 1, blob.len, stdout);
    }
    return RB_OK;
}

static int cmd_show(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *period = NULL;
    bool help = false, source = false;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},        {"period", true, &period, NULL},
        {"source", false, NULL, &source}, {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct show_ctx s;
    struct jw w;
    rb_status st;
    int rc;

    if (cli_parse(argc, argv, opts, NULL, 0, NULL, plan_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if ((rc = cli_need("org", org)))
        return rc;
    memset(&s, 0, sizeof(s));
    s.org = org;
    s.month = rb_month_of(c->now);
    if (period && cli_month_arg("period", period, &s.month))
        return EXIT_USER;
    if (source && c->json)
        return cli_usage_error("--source prints the rule file as it is: no --json");
    s.source = source;
    if (c->json) {
        jw_init(&w, stdout);
        s.w = &w;
    }
    if ((rc = cli_store(c, false)))
        return rc;
    st = rb_store_view(c->store, do_show, &s);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

struct list_ctx {
    int month;
    struct out_ctx o;
};

static rb_status do_list(rb_txn *txn, void *ctx)
{
    struct list_ctx *l = ctx;

    return rb_plan_list(txn, l->month, print_assignment, &l->o);
}

static int cmd_list(struct cli *c, int argc, char **argv)
{
    const char *period = NULL;
    bool help = false;
    const struct cli_opt opts[] = {
        {"period", true, &period, NULL},
        {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct list_ctx l;
    struct jw w;
    rb_status st;
    int rc;

    if (cli_parse(argc, argv, opts, NULL, 0, NULL, plan_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    memset(&l, 0, sizeof(l));
    l.month = rb_month_of(c->now);
    if (period && cli_month_arg("period", period, &l.month))
        return EXIT_USER;
    if ((rc = cli_store(c, false)))
        return rc;
    if (c->json) {
        jw_init(&w, stdout);
        l.o.w = &w;
        jw_arr(&w);
    }
    st = rb_store_view(c->store, do_list, &l);
    if (c->json) {
        jw_arr_end(&w);
        jw_end(&w);
    } else if (st == RB_OK && l.o.n == 0) {
        printf("no plans in force (every customer gets the default list-price plan)\n");
    }
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

static rb_status print_event(const rb_plan_event *e, void *ctx)
{
    struct out_ctx *o = ctx;
    char at[32], f[16], t[16];

    o->n++;
    if (o->w) {
        jw_obj(o->w);
        jw_key(o->w, "at");
        jw_time(o->w, e->at);
        jw_key(o->w, "action");
        jw_str(o->w, e->action);
        jw_key(o->w, "org");
        jw_str(o->w, e->org);
        jw_key(o->w, "from");
        jw_month(o->w, e->from);
        jw_key(o->w, "to");
        jw_month(o->w, e->to);
        jw_key(o->w, "hash");
        jw_str(o->w, e->hash);
        jw_key(o->w, "name");
        jw_str(o->w, e->name);
        jw_obj_end(o->w);
        return RB_OK;
    }
    rb_time_format(e->at, at, sizeof(at));
    rb_month_format(e->from, f, sizeof(f));
    rb_month_format(e->to, t, sizeof(t));
    printf("%s  %-8s %-7s %-7s %s%s%s\n", at, e->action, f, t, e->hash, e->hash[0] ? "  " : "",
           e->name);
    return RB_OK;
}

struct hist_ctx {
    const char *org;
    struct out_ctx o;
};

static rb_status do_history(rb_txn *txn, void *ctx)
{
    struct hist_ctx *h = ctx;

    return rb_plan_history(txn, h->org, print_event, &h->o);
}

static int cmd_history(struct cli *c, int argc, char **argv)
{
    const char *org = NULL;
    bool help = false;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},
        {"json", false, NULL, &c->json},
        {NULL, false, NULL, NULL},
    };
    struct hist_ctx h;
    struct jw w;
    rb_status st;
    int rc;

    if (cli_parse(argc, argv, opts, NULL, 0, NULL, plan_help, &help))
        return EXIT_USAGE;
    if (help)
        return EXIT_OK;
    if ((rc = cli_need("org", org)))
        return rc;
    if ((rc = cli_store(c, false)))
        return rc;
    memset(&h, 0, sizeof(h));
    h.org = org;
    if (c->json) {
        jw_init(&w, stdout);
        h.o.w = &w;
        jw_arr(&w);
    }
    st = rb_store_view(c->store, do_history, &h);
    if (c->json) {
        jw_arr_end(&w);
        jw_end(&w);
    } else if (st == RB_OK && h.o.n == 0) {
        printf("%s has never had a plan (the default list-price plan applies)\n", org);
    }
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

int cli_plan(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(plan_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[0], "assign") == 0)
        return cmd_assign(c, argc - 1, argv + 1, false);
    if (strcmp(argv[0], "unassign") == 0)
        return cmd_assign(c, argc - 1, argv + 1, true);
    if (strcmp(argv[0], "show") == 0)
        return cmd_show(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return cmd_list(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "history") == 0)
        return cmd_history(c, argc - 1, argv + 1);
    return cli_usage_error("unknown plan verb '%s'", argv[0]);
}
