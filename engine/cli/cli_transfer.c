/*
 * cli_transfer.c -- `rebill transfer` (invite, accept, decline, cancel, withdraw, rename,
 * show, list) and `rebill payer`.
 *
 * A thin front end over rb_transfer_* and rb_payer_*: parses options, runs one transaction
 * per command (rb_store_update for changes, rb_store_view for reads), prints text or JSON.
 * Every time comes from --now (c->now). Output of a read reaches stdout only once the whole
 * read has succeeded.
 * Must never: check a business rule itself (the library does, and names the field), or
 * create the database (only `org create` does).
 */
#include "cli.h"

#include <string.h>

static const char transfer_help[] =
    "usage: rebill transfer invite --payer ORG --source ORG --start YYYY-MM --name NAME\n"
    "                              [--notes TEXT] [--id rt-...]\n"
    "       rebill transfer accept ID --as ORG\n"
    "       rebill transfer decline ID --as ORG\n"
    "       rebill transfer cancel ID --as ORG\n"
    "       rebill transfer withdraw ID --as ORG --end YYYY-MM\n"
    "       rebill transfer rename ID --name NAME\n"
    "       rebill transfer show ID\n"
    "       rebill transfer list [--org ORG] [--inbound|--outbound]\n"
    "\n"
    "A billing transfer makes the payer organization (the partner) pay the bill of the source\n"
    "organization (the customer) from a start month on. The payer invites; the source accepts\n"
    "or declines; the payer may cancel its invitation; either side withdraws an accepted\n"
    "transfer with an end month. Invitations expire after 15 days or at the acceptance cutoff\n"
    "(23:59:59 UTC two days before the 1st of the start month), whichever comes first.\n"
    "See docs/transfers.md. `rebill transfer VERB --help` describes each verb and its JSON.\n";

static const char invite_help[] =
    "usage: rebill transfer invite --payer ORG --source ORG --start YYYY-MM --name NAME\n"
    "                              [--notes TEXT] [--id rt-...]\n"
    "\n"
    "The payer invites the source to transfer its bill from --start on (open-ended).\n"
    "\n"
    "options:\n"
    "  --payer ORG      the bill-transfer organization, who pays (the inviter)\n"
    "  --source ORG     the bill-source organization, whose bill is paid\n"
    "  --start YYYY-MM  first month in force\n"
    "  --name NAME      1..128 printable ASCII characters\n"
    "  --notes TEXT     up to 1024 bytes of UTF-8 (tab and newline allowed)\n"
    "  --id rt-...      \"rt-\" and 8..32 lowercase letters or digits (default: generated)\n"
    "\n"
    "output: the new transfer's id; with --json the transfer:\n"
    "  {\"id\":\"rt-...\",\"name\":\"...\",\"notes\":\"...\",\"source\":\"o-...\",\n"
    "   \"payer\":\"o-...\",\"start\":\"2027-01\",\"end\":null,\"status\":\"REQUESTED\",\n"
    "   \"invited_at\":\"...Z\",\"expires_at\":\"...Z\",\"updated_at\":\"...Z\"}\n";

static const char accept_help[] =
    "usage: rebill transfer accept ID --as ORG\n"
    "\n"
    "The source organization accepts the invitation: from the start month on, the payer pays\n"
    "its bill. Possible only while the invitation is REQUESTED (not expired), and refused if\n"
    "it would break a rule (one transfer per source and month, chain depth, cycles).\n"
    "\n"
    "output: `ID ACCEPTED`; with --json the transfer (see `invite --help`).\n";

static const char decline_help[] =
    "usage: rebill transfer decline ID --as ORG\n"
    "\n"
    "The source organization declines a REQUESTED invitation.\n"
    "\n"
    "output: `ID DECLINED`; with --json the transfer (see `invite --help`).\n";

static const char cancel_help[] =
    "usage: rebill transfer cancel ID --as ORG\n"
    "\n"
    "The payer organization withdraws its own REQUESTED invitation.\n"
    "\n"
    "output: `ID CANCELED`; with --json the transfer (see `invite --help`).\n";

static const char withdraw_help[] =
    "usage: rebill transfer withdraw ID --as ORG --end YYYY-MM\n"
    "\n"
    "Either side ends an ACCEPTED transfer: it stays in force to the end of --end, which must\n"
    "not be before the current month. Irreversible. An end before the start month means the\n"
    "transfer is never in force.\n"
    "\n"
    "output: `ID WITHDRAWN`; with --json the transfer (see `invite --help`).\n";

static const char rename_help[] =
    "usage: rebill transfer rename ID --name NAME\n"
    "\n"
    "Give a transfer, in any status, a new name (1..128 printable ASCII characters). The\n"
    "history records it, with actor \"operator\". The same name again changes nothing.\n"
    "\n"
    "output: `ID renamed`; with --json the transfer (see `invite --help`).\n";

static const char show_help[] =
    "usage: rebill transfer show ID\n"
    "\n"
    "A transfer, with its status at --now, and its history, oldest first. An invitation not\n"
    "accepted in time shows as EXPIRED, with an `expire` event by \"system\" at its expiry.\n"
    "With --json the transfer (see `invite --help`) with a \"history\" array:\n"
    "  \"history\":[{\"at\":\"...Z\",\"actor\":\"o-...\",\"action\":\"invite\",\"from\":null,\n"
    "              \"to\":\"REQUESTED\",\"detail\":\"...\"}, ...]\n"
    "(\"from\" is null for the invitation, which has no status before it.)\n";

static const char list_help[] =
    "usage: rebill transfer list [--org ORG] [--inbound|--outbound]\n"
    "\n"
    "Transfers in id order, with their status at --now: all of them, or those of --org.\n"
    "  --inbound    only those where ORG is the source (its bill goes to a payer)\n"
    "  --outbound   only those where ORG is the payer\n"
    "With --json an array of transfers (see `invite --help`).\n";

static const char payer_help[] =
    "usage: rebill payer --org ORG --month YYYY-MM\n"
    "       rebill payer --payer ORG --month YYYY-MM --sources\n"
    "\n"
    "The first form: who pays ORG's bill in the month, directly (the payer) and in the end\n"
    "(the top of the chain of transfers in force). With no transfer in force, ORG pays its\n"
    "own bill: payer and top are ORG, depth 0. With --json:\n"
    "  {\"org\":\"o-...\",\"month\":\"2027-01\",\"depth\":2,\"payer\":\"o-...\",\n"
    "   \"top\":\"o-...\",\"chain\":[{\"org\":\"o-...\",\"transfer\":\"rt-...\"}, ...]}\n"
    "\n"
    "The second form: the organizations whose bill ORG pays directly in the month, in\n"
    "transfer id order. With --json:\n"
    "  {\"payer\":\"o-...\",\"month\":\"2027-01\",\n"
    "   \"sources\":[{\"org\":\"o-...\",\"transfer\":\"rt-...\",\"name\":\"...\"}, ...]}\n";

/* {===================================================================================
 * Output
 * =================================================================================== */

/* Copy an option into a fixed field. A value too long for it is copied without its NUL,
 * so the library refuses it and names the field; the CLI checks no rule itself. */
static void fill(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    memset(dst, 0, cap);
    memcpy(dst, src, n < cap ? n : cap);
}

static void transfer_json_fields(struct jw *w, const rb_transfer *t)
{
    jw_key(w, "id");
    jw_str(w, t->id);
    jw_key(w, "name");
    jw_str(w, t->name);
    jw_key(w, "notes");
    jw_str(w, t->notes);
    jw_key(w, "source");
    jw_str(w, t->source);
    jw_key(w, "payer");
    jw_str(w, t->payer);
    jw_key(w, "start");
    jw_month(w, t->start_month);
    jw_key(w, "end");
    jw_month(w, t->end_month);
    jw_key(w, "status");
    jw_str(w, rb_transfer_status_name(t->status));
    jw_key(w, "invited_at");
    jw_time(w, t->invited_at);
    jw_key(w, "expires_at");
    jw_time(w, t->expires_at);
    jw_key(w, "updated_at");
    jw_time(w, t->updated_at);
}

static void transfer_json(struct jw *w, const rb_transfer *t)
{
    jw_obj(w);
    transfer_json_fields(w, t);
    jw_obj_end(w);
}

static void transfer_text(FILE *f, const rb_transfer *t)
{
    char m1[16], m2[16], t1[32], t2[32], t3[32];

    rb_month_format(t->start_month, m1, sizeof(m1));
    rb_month_format(t->end_month, m2, sizeof(m2));
    rb_time_format(t->invited_at, t1, sizeof(t1));
    rb_time_format(t->expires_at, t2, sizeof(t2));
    rb_time_format(t->updated_at, t3, sizeof(t3));
    fprintf(f,
            "id        %s\nname      %s\nstatus    %s\nsource    %s\npayer     %s\n"
            "start     %s\nend       %s\ninvited   %s\nexpires   %s\nupdated   %s\n",
            t->id, t->name, rb_transfer_status_name(t->status), t->source, t->payer, m1, m2, t1, t2,
            t3);
    if (t->notes[0]) {
        fputs("notes     ", f);
        for (const char *p = t->notes; *p; p++) {
            fputc(*p, f);
            if (*p == '\n' && p[1])
                fputs("          ", f);
        }
        fputc('\n', f);
    }
}

/* Output of a read goes to a temporary file first and reaches stdout only when the whole
 * command has succeeded: a failure prints an error, never half a listing. */
static FILE *out_begin(void)
{
    FILE *f = tmpfile();

    return f ? f : stdout;
}

static void out_end(FILE *f, bool ok)
{
    char buf[4096];
    size_t n;

    if (f == stdout)
        return;
    if (ok) {
        rewind(f);
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, stdout);
    }
    fclose(f);
}

/* {===================================================================================
 * Changes: invite, accept, decline, cancel, withdraw, rename
 * =================================================================================== */

enum write_verb { W_INVITE, W_ACCEPT, W_DECLINE, W_CANCEL, W_WITHDRAW, W_RENAME };

struct write_op {
    enum write_verb verb;
    rb_transfer in;    /* invite: the request */
    const char *id;    /* the others: the transfer */
    const char *actor; /* --as */
    const char *name;  /* rename: --name */
    int end;           /* withdraw: --end */
    int64_t now;
    rb_transfer out; /* the transfer after the change */
};

static rb_status do_write(rb_txn *txn, void *ctx)
{
    struct write_op *op = ctx;
    rb_status rc = RB_MISUSE;

    switch (op->verb) {
    case W_INVITE:
        op->out = op->in; /* afresh on every attempt: the update may run more than once */
        return rb_transfer_invite(txn, &op->out, op->now);
    case W_ACCEPT:
        rc = rb_transfer_accept(txn, op->id, op->actor, op->now);
        break;
    case W_DECLINE:
        rc = rb_transfer_decline(txn, op->id, op->actor, op->now);
        break;
    case W_CANCEL:
        rc = rb_transfer_cancel(txn, op->id, op->actor, op->now);
        break;
    case W_WITHDRAW:
        rc = rb_transfer_withdraw(txn, op->id, op->actor, op->end, op->now);
        break;
    case W_RENAME:
        rc = rb_transfer_rename(txn, op->id, op->name, op->now);
        break;
    }
    if (rc == RB_OK)
        rc = rb_transfer_get(txn, op->id, op->now, &op->out);
    return rc;
}

static int run_write(struct cli *c, struct write_op *op)
{
    rb_status st;
    int rc;

    op->now = c->now;
    rc = cli_store(c, false);
    if (rc)
        return rc;
    st = rb_store_update(c->store, do_write, op);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        transfer_json(&w, &op->out);
        jw_end(&w);
    } else if (op->verb == W_INVITE) {
        printf("%s\n", op->out.id);
    } else if (op->verb == W_RENAME) {
        printf("%s renamed\n", op->out.id);
    } else {
        printf("%s %s\n", op->out.id, rb_transfer_status_name(op->out.status));
    }
    return EXIT_OK;
}

static int verb_invite(struct cli *c, int argc, char **argv)
{
    const char *payer = NULL, *source = NULL, *start = NULL, *name = NULL, *notes = NULL;
    const char *id = NULL;
    const struct cli_opt opts[] = {
        {"payer", true, &payer, NULL}, {"source", true, &source, NULL},
        {"start", true, &start, NULL}, {"name", true, &name, NULL},
        {"notes", true, &notes, NULL}, {"id", true, &id, NULL},
        {NULL, false, NULL, NULL},
    };
    struct write_op op;
    bool help;
    int rc;

    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, invite_help, &help);
    if (rc || help)
        return rc;
    rc = cli_need("payer", payer);
    if (!rc)
        rc = cli_need("source", source);
    if (!rc)
        rc = cli_need("start", start);
    if (!rc)
        rc = cli_need("name", name);
    if (rc)
        return rc;
    memset(&op, 0, sizeof(op));
    op.verb = W_INVITE;
    rc = cli_month_arg("start", start, &op.in.start_month);
    if (rc)
        return rc;
    fill(op.in.payer, sizeof(op.in.payer), payer);
    fill(op.in.source, sizeof(op.in.source), source);
    fill(op.in.name, sizeof(op.in.name), name);
    fill(op.in.notes, sizeof(op.in.notes), notes ? notes : "");
    fill(op.in.id, sizeof(op.in.id), id ? id : "");
    return run_write(c, &op);
}

/* accept, decline, cancel, withdraw and rename: ID and their options. */
static int verb_change(struct cli *c, int argc, char **argv, enum write_verb verb,
                       const char *help_text)
{
    const char *as = NULL, *end = NULL, *name = NULL, *pos[1];
    const struct cli_opt id_as[] = {{"as", true, &as, NULL}, {NULL, false, NULL, NULL}};
    const struct cli_opt id_as_end[] = {
        {"as", true, &as, NULL}, {"end", true, &end, NULL}, {NULL, false, NULL, NULL}};
    const struct cli_opt id_name[] = {{"name", true, &name, NULL}, {NULL, false, NULL, NULL}};
    const struct cli_opt *opts = verb == W_WITHDRAW ? id_as_end
                                 : verb == W_RENAME ? id_name
                                                    : id_as;
    struct write_op op;
    int npos = 0, rc;
    bool help;

    rc = cli_parse(argc, argv, opts, pos, 1, &npos, help_text, &help);
    if (rc || help)
        return rc;
    if (npos < 1)
        return cli_usage_error("missing transfer ID");
    rc = verb == W_RENAME ? cli_need("name", name) : cli_need("as", as);
    if (!rc && verb == W_WITHDRAW)
        rc = cli_need("end", end);
    if (rc)
        return rc;
    memset(&op, 0, sizeof(op));
    op.verb = verb;
    op.id = pos[0];
    op.actor = as;
    op.name = name;
    if (verb == W_WITHDRAW) {
        rc = cli_month_arg("end", end, &op.end);
        if (rc)
            return rc;
    }
    return run_write(c, &op);
}

/* {===================================================================================
 * Reads: show, list
 * =================================================================================== */

struct show_ctx {
    struct cli *c;
    const char *id;
    FILE *f;
    struct jw w;
};

static rb_status show_event(const rb_transfer_event *e, void *ctx)
{
    struct show_ctx *s = ctx;
    bool invite = strcmp(e->action, "invite") == 0;
    char tb[32];

    if (s->c->json) {
        jw_obj(&s->w);
        jw_key(&s->w, "at");
        jw_time(&s->w, e->at);
        jw_key(&s->w, "actor");
        jw_str(&s->w, e->actor);
        jw_key(&s->w, "action");
        jw_str(&s->w, e->action);
        jw_key(&s->w, "from");
        if (invite)
            jw_null(&s->w);
        else
            jw_str(&s->w, rb_transfer_status_name(e->from));
        jw_key(&s->w, "to");
        jw_str(&s->w, rb_transfer_status_name(e->to));
        jw_key(&s->w, "detail");
        jw_str(&s->w, e->detail);
        jw_obj_end(&s->w);
        return RB_OK;
    }
    rb_time_format(e->at, tb, sizeof(tb));
    fprintf(s->f, "  %s  %-8s  %-16s  %9s -> %-9s  %s\n", tb, e->action, e->actor,
            invite ? "" : rb_transfer_status_name(e->from), rb_transfer_status_name(e->to),
            e->detail);
    return RB_OK;
}

static rb_status do_show(rb_txn *txn, void *ctx)
{
    struct show_ctx *s = ctx;
    rb_transfer t;
    rb_status rc = rb_transfer_get(txn, s->id, s->c->now, &t);

    if (rc != RB_OK)
        return rc;
    if (s->c->json) {
        jw_obj(&s->w);
        transfer_json_fields(&s->w, &t);
        jw_key(&s->w, "history");
        jw_arr(&s->w);
    } else {
        transfer_text(s->f, &t);
        fputs("history\n", s->f);
    }
    rc = rb_transfer_history(txn, s->id, s->c->now, show_event, s);
    if (rc == RB_OK && s->c->json) {
        jw_arr_end(&s->w);
        jw_obj_end(&s->w);
        jw_end(&s->w);
    }
    return rc;
}

static int verb_show(struct cli *c, int argc, char **argv)
{
    struct show_ctx s;
    const char *pos[1];
    int npos = 0, rc;
    bool help;
    rb_status st;

    rc = cli_parse(argc, argv, NULL, pos, 1, &npos, show_help, &help);
    if (rc || help)
        return rc;
    if (npos < 1)
        return cli_usage_error("missing transfer ID");
    rc = cli_store(c, false);
    if (rc)
        return rc;
    s.c = c;
    s.id = pos[0];
    s.f = out_begin();
    jw_init(&s.w, s.f);
    st = rb_store_view(c->store, do_show, &s);
    out_end(s.f, st == RB_OK);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

struct list_ctx {
    struct cli *c;
    const char *org;
    unsigned dirs;
    FILE *f;
    struct jw w;
};

static rb_status list_one(const rb_transfer *t, void *ctx)
{
    struct list_ctx *l = ctx;
    char m1[16], m2[16];

    if (l->c->json) {
        transfer_json(&l->w, t);
        return RB_OK;
    }
    rb_month_format(t->start_month, m1, sizeof(m1));
    rb_month_format(t->end_month, m2, sizeof(m2));
    fprintf(l->f, "%-16s  %-9s  %-16s  %-16s  %-7s  %-7s  %s\n", t->id,
            rb_transfer_status_name(t->status), t->source, t->payer, m1, m2, t->name);
    return RB_OK;
}

static rb_status do_list(rb_txn *txn, void *ctx)
{
    struct list_ctx *l = ctx;
    rb_status rc;

    if (l->c->json)
        jw_arr(&l->w);
    else
        fprintf(l->f, "%-16s  %-9s  %-16s  %-16s  %-7s  %-7s  %s\n", "ID", "STATUS", "SOURCE",
                "PAYER", "START", "END", "NAME");
    rc = rb_transfer_list(txn, l->org, l->dirs, l->c->now, list_one, l);
    if (rc == RB_OK && l->c->json) {
        jw_arr_end(&l->w);
        jw_end(&l->w);
    }
    return rc;
}

static int verb_list(struct cli *c, int argc, char **argv)
{
    const char *org = NULL;
    bool inbound = false, outbound = false, help;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},
        {"inbound", false, NULL, &inbound},
        {"outbound", false, NULL, &outbound},
        {NULL, false, NULL, NULL},
    };
    struct list_ctx l;
    rb_status st;
    int rc;

    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, list_help, &help);
    if (rc || help)
        return rc;
    if ((inbound || outbound) && !org)
        return cli_usage_error("--%s needs --org", inbound ? "inbound" : "outbound");
    rc = cli_store(c, false);
    if (rc)
        return rc;
    l.c = c;
    l.org = org;
    l.dirs = (inbound ? RB_TRANSFER_INBOUND : 0) | (outbound ? RB_TRANSFER_OUTBOUND : 0);
    l.f = out_begin();
    jw_init(&l.w, l.f);
    st = rb_store_view(c->store, do_list, &l);
    out_end(l.f, st == RB_OK);
    return st == RB_OK ? EXIT_OK : cli_fail(c, st);
}

/* {===================================================================================
 * `rebill transfer`
 * =================================================================================== */

int cli_transfer(struct cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        enum write_verb verb;
        const char *help;
    } changes[] = {
        {"accept", W_ACCEPT, accept_help}, {"decline", W_DECLINE, decline_help},
        {"cancel", W_CANCEL, cancel_help}, {"withdraw", W_WITHDRAW, withdraw_help},
        {"rename", W_RENAME, rename_help},
    };

    if (argc < 1) {
        fputs(transfer_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(transfer_help, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "invite") == 0)
        return verb_invite(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "show") == 0)
        return verb_show(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return verb_list(c, argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
        if (strcmp(argv[0], changes[i].name) == 0)
            return verb_change(c, argc - 1, argv + 1, changes[i].verb, changes[i].help);
    return cli_usage_error("unknown transfer verb '%s'", argv[0]);
}

/* {===================================================================================
 * `rebill payer`
 * =================================================================================== */

struct payer_ctx {
    struct cli *c;
    const char *org;   /* --org: who pays its bill */
    const char *payer; /* --payer: whose bills it pays */
    int month;
    rb_payer_info info;
    FILE *f;
    struct jw w;
    int count;
};

static rb_status source_one(const rb_transfer *t, void *ctx)
{
    struct payer_ctx *p = ctx;

    p->count++;
    if (p->c->json) {
        jw_obj(&p->w);
        jw_key(&p->w, "org");
        jw_str(&p->w, t->source);
        jw_key(&p->w, "transfer");
        jw_str(&p->w, t->id);
        jw_key(&p->w, "name");
        jw_str(&p->w, t->name);
        jw_obj_end(&p->w);
    } else {
        fprintf(p->f, "%-16s  %-16s  %s\n", t->source, t->id, t->name);
    }
    return RB_OK;
}

static rb_status do_payer(rb_txn *txn, void *ctx)
{
    struct payer_ctx *p = ctx;
    char mb[16];
    rb_status rc;

    if (p->org)
        return rb_payer_of(txn, p->org, p->month, &p->info);
    rb_month_format(p->month, mb, sizeof(mb));
    if (p->c->json) {
        jw_obj(&p->w);
        jw_key(&p->w, "payer");
        jw_str(&p->w, p->payer);
        jw_key(&p->w, "month");
        jw_str(&p->w, mb);
        jw_key(&p->w, "sources");
        jw_arr(&p->w);
    }
    rc = rb_payer_sources(txn, p->payer, p->month, source_one, p);
    if (rc != RB_OK)
        return rc;
    if (p->c->json) {
        jw_arr_end(&p->w);
        jw_obj_end(&p->w);
        jw_end(&p->w);
    } else if (p->count == 0) {
        fprintf(p->f, "%s pays no other organization's bill in %s\n", p->payer, mb);
    }
    return RB_OK;
}

static void payer_of_print(struct cli *c, const rb_payer_info *in)
{
    const char *payer = in->depth ? in->chain[0] : in->org;
    const char *top = in->depth ? in->chain[in->depth - 1] : in->org;
    char mb[16];

    rb_month_format(in->month, mb, sizeof(mb));
    if (c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "org");
        jw_str(&w, in->org);
        jw_key(&w, "month");
        jw_str(&w, mb);
        jw_key(&w, "depth");
        jw_int(&w, in->depth);
        jw_key(&w, "payer");
        jw_str(&w, payer);
        jw_key(&w, "top");
        jw_str(&w, top);
        jw_key(&w, "chain");
        jw_arr(&w);
        for (int i = 0; i < in->depth; i++) {
            jw_obj(&w);
            jw_key(&w, "org");
            jw_str(&w, in->chain[i]);
            jw_key(&w, "transfer");
            jw_str(&w, in->via[i]);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end(&w);
        return;
    }
    printf("org     %s\nmonth   %s\n", in->org, mb);
    if (in->depth == 0) {
        printf("payer   %s (no transfer in force: it pays its own bill)\n", in->org);
        printf("top     %s (depth 0)\n", in->org);
        return;
    }
    printf("payer   %s (via %s)\n", payer, in->via[0]);
    printf("top     %s (depth %d)\n", top, in->depth);
    printf("chain   %s", in->org);
    for (int i = 0; i < in->depth; i++)
        printf(" -> %s (%s)", in->chain[i], in->via[i]);
    putchar('\n');
}

int cli_payer(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *payer = NULL, *month = NULL;
    bool sources = false, help;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},     {"payer", true, &payer, NULL},
        {"month", true, &month, NULL}, {"sources", false, NULL, &sources},
        {NULL, false, NULL, NULL},
    };
    struct payer_ctx p;
    rb_status st;
    int rc;

    if (argc < 1) {
        fputs(payer_help, stderr);
        return EXIT_USAGE;
    }
    rc = cli_parse(argc, argv, opts, NULL, 0, NULL, payer_help, &help);
    if (rc || help)
        return rc;
    if (org && payer)
        return cli_usage_error("give --org (who pays its bill) or --payer (whose bills it pays), "
                               "not both");
    if (!org && !payer)
        return cli_usage_error("missing --org or --payer");
    if (org && sources)
        return cli_usage_error("--sources goes with --payer, not --org");
    rc = cli_need("month", month);
    if (rc)
        return rc;
    memset(&p, 0, sizeof(p));
    rc = cli_month_arg("month", month, &p.month);
    if (rc)
        return rc;
    rc = cli_store(c, false);
    if (rc)
        return rc;
    p.c = c;
    p.org = org;
    p.payer = payer;
    p.f = out_begin();
    jw_init(&p.w, p.f);
    st = rb_store_view(c->store, do_payer, &p);
    out_end(p.f, st == RB_OK);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (org)
        payer_of_print(c, &p.info);
    return EXIT_OK;
}
