/*
 * cli.c -- rebill's command line: global options, dispatch to the nouns, and the helpers
 * every noun shares (option parsing, errors and exit codes, JSON output).
 *
 *   rebill [--db PATH] [--json] [--now TIME] <noun> <verb> [options]
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_SRC_MAX (1u << 20)

static const char main_help[] =
    "usage: rebill [--db PATH] [--json] [--now TIME] <command> [<verb>] [options]\n"
    "\n"
    "Billing engine for cloud channel partners (AWS Billing Transfer re-billing).\n"
    "\n"
    "commands:\n"
    "  org        create, list and show organizations\n"
    "  account    add, move, list and show accounts and their membership history\n"
    "  transfer   billing transfers: invite, accept, decline, cancel, withdraw, rename,\n"
    "             show, list\n"
    "  payer      who pays an organization's bill in a month, or whose bills a payer pays\n"
    "  usage      import cost and usage exports (CUR, CUR 2.0, FOCUS) and query them\n"
    "  plan       which rule file prices an organization's bill in which months: assign,\n"
    "             unassign, show, list, history\n"
    "  rules      check rule files, run their tests, diff a new rule file against a\n"
    "             customer's plans on stored usage\n"
    "  price      the priced lines of one customer-month (or --all), storing nothing\n"
    "  invoice    invoices: preview, issue (numbered, frozen), void (credit note), show,\n"
    "             list, run (every customer of a period to a directory)\n"
    "  report     partner reports: margins per customer and service\n"
    "  export     customer exports: a customer-month's showback as a FOCUS 1.2 CSV\n"
    "  close      reconcile a period: mapped + unmapped usage == imported billed cost\n"
    "  config     database settings (e.g. max-chain-depth)\n"
    "  db         database maintenance: info, dump\n"
    "\n"
    "global options:\n"
    "  --db PATH    database file (default: $REBILL_DB, else ./rebill.db)\n"
    "  --json       machine-readable output (stable JSON)\n"
    "  --now TIME   the current time for this command, e.g. 2026-11-26T12:00:00Z\n"
    "               (default: $REBILL_NOW, else the clock)\n"
    "  --version    print the version\n"
    "  --help       this text; `rebill <command> --help` for a command\n"
    "\n"
    "exit codes: 0 ok, 1 user error, 2 usage error, 3 storage error\n";

/* {===================================================================================
 * Errors and exit codes
 * =================================================================================== */

int cli_exit_code(rb_status rc)
{
    switch (rc) {
    case RB_OK:
        return EXIT_OK;
    case RB_INVALID:
    case RB_NOTFOUND:
    case RB_EXISTS:
    case RB_SYNTAX:
    case RB_OVERFLOW:
    case RB_TOOBIG:
    case RB_RUNTIME:
    case RB_LIMIT_MEM:
    case RB_LIMIT_STEPS:
    case RB_TIMEOUT:
    case RB_BLOCKED:
        return EXIT_USER;
    case RB_MISUSE:
        return EXIT_USAGE;
    default:
        return EXIT_STORAGE;
    }
}

int cli_fail(struct cli *c, rb_status rc)
{
    fprintf(stderr, "rebill: %s\n", c->store ? rb_errmsg(c->store) : rb_strerror(rc));
    return cli_exit_code(rc);
}

static void vmsg(const char *fmt, va_list ap)
{
    fputs("rebill: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_user_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    return EXIT_USER;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    fputs("(see --help)\n", stderr);
    return EXIT_USAGE;
}

int cli_time_arg(const char *opt, const char *s, int64_t *out)
{
    rb_error err;

    if (rb_time_parse(out, s, &err) != RB_OK)
        return cli_user_error("invalid --%s: %s", opt, err.msg);
    return 0;
}

int cli_month_arg(const char *opt, const char *s, int *out)
{
    rb_error err;

    if (rb_month_parse(out, s, &err) != RB_OK)
        return cli_user_error("invalid --%s: %s", opt, err.msg);
    return 0;
}

int cli_read_source(const char *label, const char *path, const char **src, size_t *len)
{
    static char buf[CLI_SRC_MAX + 1];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        return cli_user_error("cannot read %s%s: %s", label, path, strerror(errno));
    n = fread(buf, 1, sizeof(buf), f);
    if (ferror(f)) {
        fclose(f);
        return cli_user_error("cannot read %s%s", label, path);
    }
    fclose(f);
    if (n > CLI_SRC_MAX)
        return cli_user_error("%s%s: larger than %u bytes", label, path, CLI_SRC_MAX);
    buf[n] = '\0';
    *src = buf;
    *len = n;
    return 0;
}

int cli_need(const char *opt, const char *val)
{
    if (!val)
        return cli_usage_error("missing --%s", opt);
    return 0;
}

/* {===================================================================================
 * Option parsing
 * =================================================================================== */

int cli_parse(int argc, char **argv, const struct cli_opt *opts, const char **pos, int npos,
              int *npos_out, const char *help, bool *help_shown)
{
    int n = 0;
    bool only_pos = false;

    *help_shown = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const struct cli_opt *o;
        const char *eq;
        size_t len;

        if (only_pos || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            if (!only_pos && strcmp(a, "--") == 0) {
                only_pos = true;
                continue;
            }
            if (n >= npos)
                return cli_usage_error("unexpected argument '%s'", a);
            pos[n++] = a;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            *help_shown = true;
            return 0;
        }
        a += 2;
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        for (o = opts; o && o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, a, len) == 0)
                break;
        if (!o || !o->name)
            return cli_usage_error("unknown option '--%.*s'", (int)len, a);
        if (o->arg) {
            if (eq) {
                *o->val = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return cli_usage_error("option '--%s' needs a value", o->name);
                *o->val = argv[++i];
            }
        } else {
            if (eq)
                return cli_usage_error("option '--%s' takes no value", o->name);
            *o->flag = true;
        }
    }
    if (npos_out)
        *npos_out = n;
    return 0;
}

/* {===================================================================================
 * The store
 * =================================================================================== */

int cli_store(struct cli *c, bool create)
{
    rb_error err;
    rb_status rc;

    if (c->store)
        return 0;
    rc = rb_store_open(&c->store, c->db_path, create ? RB_OPEN_CREATE : 0, &err);
    if (rc == RB_NOTFOUND) {
        fprintf(stderr, "rebill: %s (create it with `rebill --db %s org create ...`)\n", err.msg,
                c->db_path);
        return EXIT_STORAGE;
    }
    if (rc != RB_OK) {
        fprintf(stderr, "rebill: %s\n", err.msg);
        return EXIT_STORAGE;
    }
    return 0;
}

/* {===================================================================================
 * JSON writer
 * =================================================================================== */

void jw_init(struct jw *w, FILE *f)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
}

static void jw_sep(struct jw *w)
{
    if (w->depth > 0 && w->need_comma[w->depth])
        fputc(',', w->f);
    if (w->depth > 0)
        w->need_comma[w->depth] = true;
}

static void jw_open(struct jw *w, char ch)
{
    jw_sep(w);
    fputc(ch, w->f);
    if (w->depth < 31)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void jw_close(struct jw *w, char ch)
{
    fputc(ch, w->f);
    if (w->depth > 0)
        w->depth--;
}

void jw_obj(struct jw *w)
{
    jw_open(w, '{');
}
void jw_obj_end(struct jw *w)
{
    jw_close(w, '}');
}
void jw_arr(struct jw *w)
{
    jw_open(w, '[');
}
void jw_arr_end(struct jw *w)
{
    jw_close(w, ']');
}

static void jw_raw_str(struct jw *w, const char *s)
{
    fputc('"', w->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", w->f);
            break;
        case '\\':
            fputs("\\\\", w->f);
            break;
        case '\n':
            fputs("\\n", w->f);
            break;
        case '\r':
            fputs("\\r", w->f);
            break;
        case '\t':
            fputs("\\t", w->f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(w->f, "\\u%04x", *p);
            else
                fputc(*p, w->f);
        }
    }
    fputc('"', w->f);
}

void jw_key(struct jw *w, const char *k)
{
    jw_sep(w);
    jw_raw_str(w, k);
    fputc(':', w->f);
    w->need_comma[w->depth] = false; /* the value that follows takes no comma */
}

/* After a key the value must not add a comma; after it, the next key must. */
static void jw_value_begin(struct jw *w)
{
    jw_sep(w);
}

void jw_str(struct jw *w, const char *s)
{
    jw_value_begin(w);
    jw_raw_str(w, s);
}

void jw_int(struct jw *w, long long v)
{
    jw_value_begin(w);
    fprintf(w->f, "%lld", v);
}

void jw_bool(struct jw *w, bool v)
{
    jw_value_begin(w);
    fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w)
{
    jw_value_begin(w);
    fputs("null", w->f);
}

void jw_dec(struct jw *w, const rb_dec *d)
{
    char buf[RB_DEC_BUFSZ];

    rb_dec_format(d, buf, sizeof(buf));
    jw_str(w, buf);
}

void jw_time(struct jw *w, int64_t t)
{
    char buf[32];

    if (t == RB_TIME_OPEN) {
        jw_null(w);
        return;
    }
    rb_time_format(t, buf, sizeof(buf));
    jw_str(w, buf);
}

void jw_month(struct jw *w, int month)
{
    char buf[16];

    if (month == RB_MONTH_OPEN) {
        jw_null(w);
        return;
    }
    rb_month_format(month, buf, sizeof(buf));
    jw_str(w, buf);
}

void jw_end(struct jw *w)
{
    fputc('\n', w->f);
}

/* {===================================================================================
 * main
 * =================================================================================== */

/* `rebill export` (cli_export.c) */
int cli_export(struct cli *c, int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
} nouns[] = {
    {"org", cli_org},       {"account", cli_account}, {"transfer", cli_transfer},
    {"payer", cli_payer},   {"usage", cli_usage},     {"config", cli_config},
    {"db", cli_db},         {"plan", cli_plan},       {"rules", cli_rules},
    {"price", cli_price},   {"invoice", cli_invoice},
    {"report", cli_report}, {"close", cli_close},
    {"export", cli_export},
};

int main(int argc, char **argv)
{
    struct cli c = {NULL, false, 0, NULL};
    const char *now = getenv("REBILL_NOW");
    int i, rc;

    c.db_path = getenv("REBILL_DB");
    if (!c.db_path || !*c.db_path)
        c.db_path = "rebill.db";
    if (now && !*now)
        now = NULL;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (strcmp(a, "--version") == 0) {
            printf("rebill %s (schema %d)\n", RB_VERSION_STRING, RB_SCHEMA_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(main_help, stdout);
            return EXIT_OK;
        } else if ((strcmp(a, "--db") == 0 || strcmp(a, "--now") == 0) && i + 1 < argc) {
            if (a[2] == 'd')
                c.db_path = argv[++i];
            else
                now = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            c.db_path = a + 5;
        } else if (strncmp(a, "--now=", 6) == 0) {
            now = a + 6;
        } else {
            return cli_usage_error("unknown global option '%s'", a);
        }
    }
    if (now) {
        if (cli_time_arg("now", now, &c.now))
            return EXIT_USER;
    } else {
        c.now = (int64_t)time(NULL);
    }
    if (i >= argc) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof(nouns) / sizeof(nouns[0]); k++) {
        if (strcmp(argv[i], nouns[k].name) == 0) {
            rc = nouns[k].fn(&c, argc - i - 1, argv + i + 1);
            rb_store_close(c.store);
            return rc;
        }
    }
    return cli_usage_error("unknown command '%s'", argv[i]);
}
