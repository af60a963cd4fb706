/*
 * cli.h -- shared by the files of the rebill command-line front end (engine/cli/).
 *
 * Provides: the command context (database, --json, --now), option parsing, exit codes,
 * error reporting, and a small JSON writer. Each noun lives in its own cli_<noun>.c and
 * only calls the public API of include/rebill.h.
 * Must never: hold business logic; anything a library user would also need goes in the
 * library.
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#include "rebill.h"

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in README.md). */
#define EXIT_OK 0
#define EXIT_USER 1    /* bad value, refused operation: message names field and value */
#define EXIT_USAGE 2   /* unknown command or option, missing argument */
#define EXIT_STORAGE 3 /* the database cannot be opened, read or written */

struct cli {
    const char *db_path; /* --db, $REBILL_DB, ./rebill.db */
    bool json;           /* --json */
    int64_t now;         /* --now, $REBILL_NOW, else the clock */
    rb_store *store;     /* opened by cli_store() */
};

/* One option of a command. `arg`: takes a value (stored in *val); else a flag (*flag). */
struct cli_opt {
    const char *name; /* without the leading "--" */
    bool arg;
    const char **val;
    bool *flag;
};

/* Parse argv (after the verb) against opts; positional arguments go to pos[] (at most
 * npos; *npos_out gets the count). Returns 0 or EXIT_USAGE after printing why. `help`
 * is printed for --help (and then *help_shown is set and 0 returned). */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, const char **pos, int npos,
              int *npos_out, const char *help, bool *help_shown);

/* Open the database (creating it if `create`). Returns 0 or an exit code after printing. */
int cli_store(struct cli *c, bool create);

/* Report a failed library call: "rebill: <message>" on stderr; returns the exit code for
 * rc (RB_INVALID/NOTFOUND/EXISTS/SYNTAX/OVERFLOW -> 1, storage faults -> 3). */
int cli_fail(struct cli *c, rb_status rc);
/* Report a user error (exit 1) or usage error (exit 2) with a formatted message. */
int cli_user_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit code for a status. */
int cli_exit_code(rb_status rc);

/* Parse helpers that print "invalid --name: ..." and return EXIT_USER on failure. */
int cli_time_arg(const char *opt, const char *s, int64_t *out);
int cli_month_arg(const char *opt, const char *s, int *out);
/* Require an option: prints "missing --name" (EXIT_USAGE) when NULL. */
int cli_need(const char *opt, const char *val);

/* Read a rule or layout file (at most 1 MiB, the sandbox's source cap) into one buffer
 * shared by every command; *src stays valid until the next call. `label` prefixes the path
 * in messages ("--rules ", "--layout " or ""). Returns 0 or EXIT_USER after printing. */
int cli_read_source(const char *label, const char *path, const char **src, size_t *len);

/* Minimal streaming JSON writer to stdout. Keys and strings are escaped. */
struct jw {
    FILE *f;
    int depth;
    bool need_comma[32];
};
void jw_init(struct jw *w, FILE *f);
void jw_obj(struct jw *w);          /* { */
void jw_obj_end(struct jw *w);      /* } */
void jw_arr(struct jw *w);          /* [ */
void jw_arr_end(struct jw *w);      /* ] */
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
void jw_dec(struct jw *w, const rb_dec *d); /* as a JSON string: exact, no float */
void jw_time(struct jw *w, int64_t t);      /* ISO string, or null for RB_TIME_OPEN */
void jw_month(struct jw *w, int month);     /* "YYYY-MM", or null for RB_MONTH_OPEN */
void jw_end(struct jw *w);                  /* newline after the top value */

/* The nouns. Each gets argv starting at the verb (argv[0] = verb). */
int cli_org(struct cli *c, int argc, char **argv);
int cli_account(struct cli *c, int argc, char **argv);
int cli_transfer(struct cli *c, int argc, char **argv);
int cli_payer(struct cli *c, int argc, char **argv);
int cli_config(struct cli *c, int argc, char **argv);
int cli_db(struct cli *c, int argc, char **argv);
int cli_usage(struct cli *c, int argc, char **argv);
int cli_plan(struct cli *c, int argc, char **argv);
int cli_rules(struct cli *c, int argc, char **argv);
int cli_price(struct cli *c, int argc, char **argv);
int cli_invoice(struct cli *c, int argc, char **argv);
int cli_report(struct cli *c, int argc, char **argv);
int cli_close(struct cli *c, int argc, char **argv);
/* `rebill org profile` (cli_invoice.c), dispatched from cli_org.c */
int cli_org_profile(struct cli *c, int argc, char **argv);

#endif
