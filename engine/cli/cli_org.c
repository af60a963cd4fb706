/*
 * cli_org.c -- `rebill org`: create, list and show organizations.
 *
 * A thin front end over rb_org_* and rb_account_list: parses options, runs one transaction
 * per command, prints text or JSON. `org create` is the one command that creates a missing
 * database, and it removes that new file again if the creation is refused.
 * Must never: check a business rule itself; the library does and names the field.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char org_help[] =
    "usage: rebill org create --id ID --name NAME --management-account ACCOUNT [--created TIME]\n"
    "       rebill org list\n"
    "       rebill org show ID\n"
    "\n"
    "An organization has an id (\"o-\" and 10..32 lowercase letters or digits), a name (1..255\n"
    "bytes of UTF-8, no control characters), a management account (12 digits) and a creation\n"
    "time. `rebill org VERB --help` describes each verb and its JSON output.\n";

static const char create_help[] =
    "usage: rebill org create --id ID --name NAME --management-account ACCOUNT [--created TIME]\n"
    "\n"
    "Create an organization (and the database, if it does not exist yet). The management\n"
    "account becomes an account of the new organization from --created, under the\n"
    "organization's name; it must not be known yet, and it never leaves the organization.\n"
    "\n"
    "options:\n"
    "  --id ID                       \"o-\" and 10..32 lowercase letters or digits\n"
    "  --name NAME                   1..255 bytes of UTF-8, no control characters\n"
    "  --management-account ACCOUNT  12 digits\n"
    "  --created TIME                default: now (--now)\n"
    "\n"
    "output: `created organization ID`; with --json the organization:\n"
    "  {\"id\":\"o-...\",\"name\":\"...\",\"management_account\":\"123456789012\",\n"
    "   \"created\":\"2026-11-26T12:00:00Z\"}\n";

static const char list_help[] =
    "usage: rebill org list\n"
    "\n"
    "Every organization, in id order: one line each with id, management account, creation\n"
    "time and name, under a header line. With --json an array of organizations:\n"
    "  [{\"id\":\"o-...\",\"name\":\"...\",\"management_account\":\"123456789012\",\n"
    "    \"created\":\"2026-11-26T12:00:00Z\"}, ...]\n";

static const char show_help[] =
    "usage: rebill org show ID\n"
    "\n"
    "One organization and the accounts that belong to it now (--now), in id order, each\n"
    "with the start of its membership. With --json:\n"
    "  {\"id\":\"o-...\",\"name\":\"...\",\"management_account\":\"123456789012\",\n"
    "   \"created\":\"2026-11-26T12:00:00Z\",\n"
    "   \"accounts\":[{\"id\":\"123456789012\",\"name\":\"...\",\"since\":\"2026-...Z\",\n"
    "                \"until\":null}, ...]}\n"
    "until is null unless a move out of the organization is already recorded.\n";

static void org_json(struct jw *w, const rb_org *o)
{
    jw_key(w, "id");
    jw_str(w, o->id);
    jw_key(w, "name");
    jw_str(w, o->name);
    jw_key(w, "management_account");
    jw_str(w, o->management_account);
    jw_key(w, "created");
    jw_time(w, o->created);
}

/* Copy an option's value into a fixed field. A value too long to fit fills the field with no
 * NUL: the library then refuses it with a message that names the field. */
static void fill(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        memcpy(dst, src, cap);
    else
        memcpy(dst, src, n + 1);
}

/* {===================================================================================
 * create
 * =================================================================================== */

static rb_status do_create(rb_txn *txn, void *ctx)
{
    return rb_org_create(txn, ctx);
}

static rb_status count_org(const rb_org *o, void *ctx)
{
    (void)o;
    ++*(int *)ctx;
    return RB_OK;
}

static rb_status do_count(rb_txn *txn, void *ctx)
{
    return rb_org_list(txn, count_org, ctx);
}

static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 || errno != ENOENT;
}

/* The refused `org create` made the database file: remove it (and its lock file, if that is
 * new too), unless another process has meanwhile put an organization in it. */
static void discard_new_db(struct cli *c, bool lock_existed)
{
    char lock[4096];
    int n = 0;

    if (rb_store_view(c->store, do_count, &n) != RB_OK || n != 0)
        return;
    rb_store_close(c->store);
    c->store = NULL;
    unlink(c->db_path);
    if (!lock_existed && snprintf(lock, sizeof(lock), "%s-lock", c->db_path) < (int)sizeof(lock))
        unlink(lock);
}

static int org_create(struct cli *c, int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *mgmt = NULL, *created = NULL;
    const struct cli_opt opts[] = {
        {"id", true, &id, NULL},
        {"name", true, &name, NULL},
        {"management-account", true, &mgmt, NULL},
        {"created", true, &created, NULL},
        {NULL, false, NULL, NULL},
    };
    char lock[4096];
    bool help, db_existed, lock_existed;
    rb_org o;
    rb_status st;
    int rc;

    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, create_help, &help);
    if (rc || help)
        return rc;
    rc = cli_need("id", id);
    if (!rc)
        rc = cli_need("name", name);
    if (!rc)
        rc = cli_need("management-account", mgmt);
    if (rc)
        return rc;
    memset(&o, 0, sizeof(o));
    fill(o.id, sizeof(o.id), id);
    fill(o.name, sizeof(o.name), name);
    fill(o.management_account, sizeof(o.management_account), mgmt);
    o.created = c->now;
    if (created && cli_time_arg("created", created, &o.created))
        return EXIT_USER;

    snprintf(lock, sizeof(lock), "%s-lock", c->db_path);
    db_existed = file_exists(c->db_path);
    lock_existed = file_exists(lock);
    rc = cli_store(c, true);
    if (rc)
        return rc;
    st = rb_store_update(c->store, do_create, &o);
    if (st != RB_OK) {
        rc = cli_fail(c, st);
        if (!db_existed)
            discard_new_db(c, lock_existed);
        return rc;
    }
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        org_json(&w, &o);
        jw_obj_end(&w);
        jw_end(&w);
    } else {
        printf("created organization %s\n", o.id);
    }
    return EXIT_OK;
}

/* {===================================================================================
 * list and show
 * =================================================================================== */

struct show_ctx {
    struct cli *c;
    struct jw w;
    const char *id;
    int n; /* rows printed */
};

static rb_status list_one(const rb_org *o, void *ctx)
{
    struct show_ctx *s = ctx;
    char t[32];

    if (s->c->json) {
        jw_obj(&s->w);
        org_json(&s->w, o);
        jw_obj_end(&s->w);
    } else {
        rb_time_format(o->created, t, sizeof(t));
        printf("%-34s  %-12s  %-20s  %s\n", o->id, o->management_account, t, o->name);
    }
    s->n++;
    return RB_OK;
}

static rb_status do_list(rb_txn *txn, void *ctx)
{
    struct show_ctx *s = ctx;
    rb_status rc;

    if (s->c->json)
        jw_arr(&s->w);
    else
        printf("%-34s  %-12s  %-20s  %s\n", "ID", "MANAGEMENT", "CREATED", "NAME");
    rc = rb_org_list(txn, list_one, s);
    if (rc != RB_OK)
        return rc;
    if (s->c->json) {
        jw_arr_end(&s->w);
        jw_end(&s->w);
    }
    return RB_OK;
}

static rb_status show_account(const rb_account *a, const rb_membership *m, void *ctx)
{
    struct show_ctx *s = ctx;
    char t[32];

    if (s->c->json) {
        jw_obj(&s->w);
        jw_key(&s->w, "id");
        jw_str(&s->w, a->id);
        jw_key(&s->w, "name");
        jw_str(&s->w, a->name);
        jw_key(&s->w, "since");
        jw_time(&s->w, m->since);
        jw_key(&s->w, "until");
        jw_time(&s->w, m->until);
        jw_obj_end(&s->w);
    } else {
        rb_time_format(m->since, t, sizeof(t));
        printf("  %s  since %s  %s\n", a->id, t, a->name);
    }
    s->n++;
    return RB_OK;
}

static rb_status do_show(rb_txn *txn, void *ctx)
{
    struct show_ctx *s = ctx;
    rb_org o;
    char t[32];
    rb_status rc = rb_org_get(txn, s->id, &o);

    if (rc != RB_OK)
        return rc;
    if (s->c->json) {
        jw_obj(&s->w);
        org_json(&s->w, &o);
        jw_key(&s->w, "accounts");
        jw_arr(&s->w);
    } else {
        rb_time_format(o.created, t, sizeof(t));
        printf("id                  %s\nname                %s\nmanagement account  %s\n"
               "created             %s\n",
               o.id, o.name, o.management_account, t);
        rb_time_format(s->c->now, t, sizeof(t));
        printf("accounts at %s:\n", t);
    }
    rc = rb_account_list(txn, o.id, s->c->now, show_account, s);
    if (rc != RB_OK)
        return rc;
    if (s->c->json) {
        jw_arr_end(&s->w);
        jw_obj_end(&s->w);
        jw_end(&s->w);
    } else if (s->n == 0) {
        printf("  (none)\n");
    }
    return RB_OK;
}

static int org_read(struct cli *c, int argc, char **argv, bool show)
{
    const char *pos[1];
    struct show_ctx s;
    int npos = 0, rc;
    bool help;
    rb_status st;

    rc = cli_parse(argc, argv, NULL, pos, show ? 1 : 0, &npos, show ? show_help : list_help, &help);
    if (rc || help)
        return rc;
    if (show && npos != 1)
        return cli_usage_error("missing organization id: rebill org show ID");
    rc = cli_store(c, false);
    if (rc)
        return rc;
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.id = show ? pos[0] : NULL;
    jw_init(&s.w, stdout);
    st = rb_store_view(c->store, show ? do_show : do_list, &s);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

int cli_org(struct cli *c, int argc, char **argv)
{
    if (argc < 1) {
        fputs(org_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(org_help, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "create") == 0)
        return org_create(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return org_read(c, argc - 1, argv + 1, false);
    if (strcmp(argv[0], "show") == 0)
        return org_read(c, argc - 1, argv + 1, true);
    if (strcmp(argv[0], "profile") == 0)
        return cli_org_profile(c, argc - 1, argv + 1);
    return cli_usage_error("unknown org verb '%s' (want create, list, show or profile)",
                           argv[0]);
}
