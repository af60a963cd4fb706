/*
 * cli_account.c -- `rebill account`: add, move, list and show accounts, and answer "which
 * organization did account A belong to at time T".
 *
 * A thin front end over rb_account_*: parses options, runs one transaction per command,
 * prints text or JSON. No command here creates a database.
 * Must never: check a business rule itself; the library does and names the field.
 */
#include "cli.h"

#include <string.h>

static const char account_help[] =
    "usage: rebill account add --org ID --account ACCOUNT --name NAME [--since TIME]\n"
    "       rebill account move --account ACCOUNT --to ORG [--at TIME]\n"
    "       rebill account list [--org ID] [--at TIME]\n"
    "       rebill account show ACCOUNT\n"
    "       rebill account org --account ACCOUNT [--at TIME]\n"
    "\n"
    "An account has a 12-digit id, a name (1..255 bytes of UTF-8, no control characters) and\n"
    "a membership history: the organization it belonged to from which time until which.\n"
    "`rebill account VERB --help` describes each verb and its JSON output.\n";

static const char add_help[] =
    "usage: rebill account add --org ID --account ACCOUNT --name NAME [--since TIME]\n"
    "\n"
    "Add a new account to an organization from --since (default: now). An account that is\n"
    "already known is refused: use `rebill account move`. --since must not be before the\n"
    "organization was created.\n"
    "\n"
    "output: `added account ACCOUNT to ORG from TIME`; with --json:\n"
    "  {\"id\":\"123456789012\",\"name\":\"...\",\"org\":\"o-...\",\n"
    "   \"since\":\"2026-11-26T12:00:00Z\",\"until\":null}\n";

static const char move_help[] =
    "usage: rebill account move --account ACCOUNT --to ORG [--at TIME]\n"
    "\n"
    "Move an account to another organization at --at (default: now): its current membership\n"
    "ends at --at and one in ORG starts at --at. --at must be later than the start of the\n"
    "current membership and not before ORG was created. A management account cannot move.\n"
    "\n"
    "output: `moved account ACCOUNT from ORG to ORG at TIME`; with --json:\n"
    "  {\"id\":\"123456789012\",\"from\":\"o-...\",\"to\":\"o-...\",\n"
    "   \"at\":\"2026-11-26T12:00:00Z\"}\n";

static const char list_help[] =
    "usage: rebill account list [--org ID] [--at TIME]\n"
    "\n"
    "Accounts in id order with the membership in force at --at (default: now): every account,\n"
    "or with --org only those that belonged to that organization at --at. One line each with\n"
    "account, organization, start of the membership and name (\"-\" when in none), under a\n"
    "header line. With --json an array:\n"
    "  [{\"id\":\"123456789012\",\"name\":\"...\",\"org\":\"o-...\",\"since\":\"2026-...Z\",\n"
    "    \"until\":null}, ...]\n"
    "org, since and until are null for an account in no organization at --at; until is null\n"
    "for a membership that has not ended.\n";

static const char show_help[] =
    "usage: rebill account show ACCOUNT\n"
    "\n"
    "An account's name and its full membership history, oldest first, each with the time it\n"
    "started (from) and ended (to, or `open`). With --json:\n"
    "  {\"id\":\"123456789012\",\"name\":\"...\",\n"
    "   \"memberships\":[{\"org\":\"o-...\",\"since\":\"2026-...Z\",\n"
    "                   \"until\":\"2026-...Z\"|null}, ...]}\n";

static const char org_help[] =
    "usage: rebill account org --account ACCOUNT [--at TIME]\n"
    "\n"
    "Which organization the account belonged to at --at (default: now). Prints the\n"
    "organization id; exits 1 with a message if it belonged to none then. With --json:\n"
    "  {\"account\":\"123456789012\",\"at\":\"2026-11-26T12:00:00Z\",\"org\":\"o-...\"}\n";

/* An optional time option: *out keeps its default (now) when the option is absent. */
static int time_opt(const char *name, const char *val, int64_t *out)
{
    return val ? cli_time_arg(name, val, out) : 0;
}

static void print_json_end(struct jw *w)
{
    jw_obj_end(w);
    jw_end(w);
}

/* {===================================================================================
 * add and move
 * =================================================================================== */

struct add_ctx {
    const char *account, *name, *org;
    int64_t since;
};

static rb_status do_add(rb_txn *txn, void *ctx)
{
    struct add_ctx *a = ctx;

    return rb_account_add(txn, a->account, a->name, a->org, a->since);
}

static int account_add(struct cli *c, int argc, char **argv)
{
    struct add_ctx a = {NULL, NULL, NULL, c->now};
    const char *since = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &a.org, NULL},   {"account", true, &a.account, NULL},
        {"name", true, &a.name, NULL}, {"since", true, &since, NULL},
        {NULL, false, NULL, NULL},
    };
    bool help;
    rb_status st;
    int rc;

    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, add_help, &help);
    if (rc || help)
        return rc;
    rc = cli_need("org", a.org);
    if (!rc)
        rc = cli_need("account", a.account);
    if (!rc)
        rc = cli_need("name", a.name);
    if (!rc)
        rc = time_opt("since", since, &a.since);
    if (!rc)
        rc = cli_store(c, false);
    if (rc)
        return rc;
    st = rb_store_update(c->store, do_add, &a);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "id");
        jw_str(&w, a.account);
        jw_key(&w, "name");
        jw_str(&w, a.name);
        jw_key(&w, "org");
        jw_str(&w, a.org);
        jw_key(&w, "since");
        jw_time(&w, a.since);
        jw_key(&w, "until");
        jw_null(&w);
        print_json_end(&w);
    } else {
        char t[32];
        rb_time_format(a.since, t, sizeof(t));
        printf("added account %s to %s from %s\n", a.account, a.org, t);
    }
    return EXIT_OK;
}

struct move_ctx {
    const char *account, *to;
    int64_t at;
    char from[RB_ORG_ID_MAX + 1]; /* the org of the membership the move closed */
    char last[RB_ORG_ID_MAX + 1];
};

static rb_status remember_last_two(const rb_membership *m, void *ctx)
{
    struct move_ctx *mv = ctx;

    memcpy(mv->from, mv->last, sizeof(mv->from));
    memcpy(mv->last, m->org, sizeof(mv->last));
    return RB_OK;
}

static rb_status do_move(rb_txn *txn, void *ctx)
{
    struct move_ctx *mv = ctx;
    rb_status rc;

    mv->from[0] = mv->last[0] = '\0';
    rc = rb_account_move(txn, mv->account, mv->to, mv->at);
    if (rc != RB_OK)
        return rc;
    /* The history now ends with the new membership; the one before it is the one closed. */
    return rb_account_history(txn, mv->account, remember_last_two, mv);
}

static int account_move(struct cli *c, int argc, char **argv)
{
    struct move_ctx mv = {NULL, NULL, c->now, "", ""};
    const char *at = NULL;
    const struct cli_opt opts[] = {
        {"account", true, &mv.account, NULL},
        {"to", true, &mv.to, NULL},
        {"at", true, &at, NULL},
        {NULL, false, NULL, NULL},
    };
    bool help;
    rb_status st;
    int rc;

    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, move_help, &help);
    if (rc || help)
        return rc;
    rc = cli_need("account", mv.account);
    if (!rc)
        rc = cli_need("to", mv.to);
    if (!rc)
        rc = time_opt("at", at, &mv.at);
    if (!rc)
        rc = cli_store(c, false);
    if (rc)
        return rc;
    st = rb_store_update(c->store, do_move, &mv);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "id");
        jw_str(&w, mv.account);
        jw_key(&w, "from");
        jw_str(&w, mv.from);
        jw_key(&w, "to");
        jw_str(&w, mv.to);
        jw_key(&w, "at");
        jw_time(&w, mv.at);
        print_json_end(&w);
    } else {
        char t[32];
        rb_time_format(mv.at, t, sizeof(t));
        printf("moved account %s from %s to %s at %s\n", mv.account, mv.from, mv.to, t);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * list, show and org
 * =================================================================================== */

struct read_ctx {
    struct cli *c;
    struct jw w;
    const char *account; /* show, org */
    const char *org;     /* list --org */
    int64_t at;          /* list, org */
    char found[RB_ORG_ID_MAX + 1];
};

static rb_status list_one(const rb_account *a, const rb_membership *m, void *ctx)
{
    struct read_ctx *r = ctx;
    char t[32] = "-";

    if (r->c->json) {
        jw_obj(&r->w);
        jw_key(&r->w, "id");
        jw_str(&r->w, a->id);
        jw_key(&r->w, "name");
        jw_str(&r->w, a->name);
        jw_key(&r->w, "org");
        if (m)
            jw_str(&r->w, m->org);
        else
            jw_null(&r->w);
        jw_key(&r->w, "since");
        if (m)
            jw_time(&r->w, m->since);
        else
            jw_null(&r->w);
        jw_key(&r->w, "until");
        jw_time(&r->w, m ? m->until : RB_TIME_OPEN);
        jw_obj_end(&r->w);
    } else {
        if (m)
            rb_time_format(m->since, t, sizeof(t));
        printf("%-12s  %-34s  %-20s  %s\n", a->id, m ? m->org : "-", t, a->name);
    }
    return RB_OK;
}

static rb_status do_list(rb_txn *txn, void *ctx)
{
    struct read_ctx *r = ctx;
    rb_status rc;

    if (r->c->json)
        jw_arr(&r->w);
    else
        printf("%-12s  %-34s  %-20s  %s\n", "ACCOUNT", "ORG", "SINCE", "NAME");
    rc = rb_account_list(txn, r->org, r->at, list_one, r);
    if (rc != RB_OK)
        return rc;
    if (r->c->json) {
        jw_arr_end(&r->w);
        jw_end(&r->w);
    }
    return RB_OK;
}

static int account_list(struct cli *c, int argc, char **argv)
{
    struct read_ctx r;
    const char *org = NULL, *at = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},
        {"at", true, &at, NULL},
        {NULL, false, NULL, NULL},
    };
    bool help;
    rb_status st;
    int rc;

    memset(&r, 0, sizeof(r));
    r.c = c;
    r.at = c->now;
    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, list_help, &help);
    if (rc || help)
        return rc;
    rc = time_opt("at", at, &r.at);
    if (!rc)
        rc = cli_store(c, false);
    if (rc)
        return rc;
    r.org = org;
    jw_init(&r.w, stdout);
    st = rb_store_view(c->store, do_list, &r);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

static rb_status show_one(const rb_membership *m, void *ctx)
{
    struct read_ctx *r = ctx;
    char from[32], to[32];

    if (r->c->json) {
        jw_obj(&r->w);
        jw_key(&r->w, "org");
        jw_str(&r->w, m->org);
        jw_key(&r->w, "since");
        jw_time(&r->w, m->since);
        jw_key(&r->w, "until");
        jw_time(&r->w, m->until);
        jw_obj_end(&r->w);
    } else {
        rb_time_format(m->since, from, sizeof(from));
        if (m->until == RB_TIME_OPEN)
            snprintf(to, sizeof(to), "open");
        else
            rb_time_format(m->until, to, sizeof(to));
        printf("  %-34s  from %s  to %s\n", m->org, from, to);
    }
    return RB_OK;
}

static rb_status do_show(rb_txn *txn, void *ctx)
{
    struct read_ctx *r = ctx;
    rb_account a;
    rb_status rc = rb_account_get(txn, r->account, &a);

    if (rc != RB_OK)
        return rc;
    if (r->c->json) {
        jw_obj(&r->w);
        jw_key(&r->w, "id");
        jw_str(&r->w, a.id);
        jw_key(&r->w, "name");
        jw_str(&r->w, a.name);
        jw_key(&r->w, "memberships");
        jw_arr(&r->w);
    } else {
        printf("id    %s\nname  %s\nmemberships:\n", a.id, a.name);
    }
    rc = rb_account_history(txn, a.id, show_one, r);
    if (rc != RB_OK)
        return rc;
    if (r->c->json) {
        jw_arr_end(&r->w);
        print_json_end(&r->w);
    }
    return RB_OK;
}

static int account_show(struct cli *c, int argc, char **argv)
{
    struct read_ctx r;
    const char *pos[1];
    int npos = 0, rc;
    bool help;
    rb_status st;

    rc = cli_parse(argc, argv, NULL, pos, 1, &npos, show_help, &help);
    if (rc || help)
        return rc;
    if (npos != 1)
        return cli_usage_error("missing account id: rebill account show ACCOUNT");
    rc = cli_store(c, false);
    if (rc)
        return rc;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.account = pos[0];
    jw_init(&r.w, stdout);
    st = rb_store_view(c->store, do_show, &r);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

static rb_status do_org_at(rb_txn *txn, void *ctx)
{
    struct read_ctx *r = ctx;

    return rb_account_org_at(txn, r->account, r->at, r->found);
}

static int account_org(struct cli *c, int argc, char **argv)
{
    struct read_ctx r;
    const char *at = NULL;
    const struct cli_opt opts[] = {
        {"account", true, &r.account, NULL},
        {"at", true, &at, NULL},
        {NULL, false, NULL, NULL},
    };
    bool help;
    rb_status st;
    int rc;

    memset(&r, 0, sizeof(r));
    r.c = c;
    r.at = c->now;
    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, org_help, &help);
    if (rc || help)
        return rc;
    rc = cli_need("account", r.account);
    if (!rc)
        rc = time_opt("at", at, &r.at);
    if (!rc)
        rc = cli_store(c, false);
    if (rc)
        return rc;
    st = rb_store_view(c->store, do_org_at, &r);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        jw_init(&r.w, stdout);
        jw_obj(&r.w);
        jw_key(&r.w, "account");
        jw_str(&r.w, r.account);
        jw_key(&r.w, "at");
        jw_time(&r.w, r.at);
        jw_key(&r.w, "org");
        jw_str(&r.w, r.found);
        print_json_end(&r.w);
    } else {
        printf("%s\n", r.found);
    }
    return EXIT_OK;
}

int cli_account(struct cli *c, int argc, char **argv)
{
    static const struct {
        const char *verb;
        int (*fn)(struct cli *, int, char **);
    } verbs[] = {
        {"add", account_add},   {"move", account_move}, {"list", account_list},
        {"show", account_show}, {"org", account_org},
    };

    if (argc < 1) {
        fputs(account_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(account_help, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(argv[0], verbs[i].verb) == 0)
            return verbs[i].fn(c, argc - 1, argv + 1);
    return cli_usage_error("unknown account verb '%s' (want add, move, list, show or org)",
                           argv[0]);
}
