/*
 * cli_export.c -- `rebill export focus`: a customer-month's showback as a FOCUS 1.2 CSV.
 *
 *   rebill export focus --org O --period YYYY-MM [--out FILE]
 *
 * What the file holds, and every rule about it, is in the library (engine/export.c,
 * rb_export_focus); this file parses options, runs one read-only transaction and writes the
 * bytes to stdout or, through a temporary file renamed at the end, to FILE.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_export(struct cli *c, int argc, char **argv);

static const char export_help[] =
    "usage: rebill export focus --org O --period YYYY-MM [--out FILE]\n"
    "\n"
    "focus    the customer's showback for one month as a FOCUS 1.2 CSV (RFC 4180) for\n"
    "         FinOps tools: the invoice preview's lines, usage split by SKU and region,\n"
    "         corrections and tax, in the invoice currency; the sum of BilledCost is the\n"
    "         invoice total. No billed cost, partner cost or margin appears in it. A month\n"
    "         with nothing to invoice gives the header only. Stores nothing.\n"
    "\n"
    "  --org O         the customer organization (BillingAccountId)\n"
    "  --period M      the billing period, YYYY-MM\n"
    "  --out FILE      write the file there (replaced whole, or left as it was on failure)\n"
    "                  instead of to stdout; prints a summary (with --json, as JSON)\n";

struct export_op {
    const char *org;
    int month;
    int64_t now;
    FILE *f;
    int err; /* errno of a failed write */
    rb_export_summary sum;
};

static rb_status write_cb(const char *data, size_t len, void *ctx)
{
    struct export_op *op = ctx;

    if (fwrite(data, 1, len, op->f) != len) {
        op->err = errno ? errno : EIO;
        return RB_IO;
    }
    return RB_OK;
}

static rb_status do_export(rb_txn *txn, void *ctx)
{
    struct export_op *op = ctx;

    return rb_export_focus(txn, op->org, op->month, NULL, op->now, write_cb, op, &op->sum);
}

/* Whether `out` names the database file or its lock file (writing there would destroy it). */
static bool is_database(const struct cli *c, const char *out)
{
    struct stat so, sd;
    char lock[4096];

    if (stat(out, &so) != 0)
        return false;
    if (stat(c->db_path, &sd) == 0 && so.st_dev == sd.st_dev && so.st_ino == sd.st_ino)
        return true;
    snprintf(lock, sizeof(lock), "%s-lock", c->db_path);
    return stat(lock, &sd) == 0 && so.st_dev == sd.st_dev && so.st_ino == sd.st_ino;
}

static int export_focus(struct cli *c, int argc, char **argv)
{
    const char *org = NULL, *period = NULL, *out = NULL;
    const struct cli_opt opts[] = {
        {"org", true, &org, NULL},
        {"period", true, &period, NULL},
        {"out", true, &out, NULL},
        {NULL, false, NULL, NULL},
    };
    struct export_op op;
    char tmp[4096], total[RB_DEC_BUFSZ], mon[16];
    bool help;
    int rc;
    rb_status st;

    memset(&op, 0, sizeof(op));
    if ((rc = cli_parse(argc, argv, opts, NULL, 0, NULL, export_help, &help)) || help)
        return rc;
    if ((rc = cli_need("org", org)) || (rc = cli_need("period", period)))
        return rc;
    if ((rc = cli_month_arg("period", period, &op.month)))
        return rc;
    if (out && !*out)
        return cli_user_error("invalid --out \"\": want a file name");
    if (out && is_database(c, out))
        return cli_user_error("invalid --out %s: it is the database", out);
    if ((rc = cli_store(c, false)))
        return rc;
    op.org = org;
    op.now = c->now;
    op.f = stdout;
    if (out) {
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", out, (long)getpid()) >= sizeof(tmp))
            return cli_user_error("invalid --out: the name is too long");
        op.f = fopen(tmp, "wb");
        if (!op.f)
            return cli_user_error("cannot write --out %s: %s", out, strerror(errno));
    }
    st = rb_store_view(c->store, do_export, &op);
    if (out) {
        if (fclose(op.f) != 0 && st == RB_OK) {
            op.err = errno;
            st = RB_IO;
        }
        if (st == RB_OK && rename(tmp, out) != 0) {
            op.err = errno;
            st = RB_IO;
        }
        if (st != RB_OK)
            remove(tmp);
    } else if (fflush(stdout) != 0 && st == RB_OK) {
        op.err = errno;
        st = RB_IO;
    }
    if (st == RB_IO && op.err)
        return cli_user_error("cannot write %s: %s", out ? out : "to stdout", strerror(op.err));
    if (st != RB_OK)
        return cli_fail(c, st);
    rb_month_format(op.month, mon, sizeof(mon));
    rb_dec_format(&op.sum.total, total, sizeof(total));
    if (op.sum.rows == 0)
        fprintf(stderr, "rebill: nothing to invoice for %s in %s: the file has the header only\n",
                org, mon);
    if (out && c->json) {
        struct jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_key(&w, "org");
        jw_str(&w, org);
        jw_key(&w, "period");
        jw_month(&w, op.month);
        jw_key(&w, "rows");
        jw_int(&w, op.sum.rows);
        jw_key(&w, "currency");
        jw_str(&w, op.sum.currency);
        jw_key(&w, "total");
        jw_dec(&w, &op.sum.total);
        jw_key(&w, "out");
        jw_str(&w, out);
        jw_obj_end(&w);
        jw_end(&w);
    } else if (out) {
        printf("wrote %s: %ld rows, total %s %s\n", out, op.sum.rows, total, op.sum.currency);
    }
    return EXIT_OK;
}

int cli_export(struct cli *c, int argc, char **argv)
{
    if (argc < 1) {
        fputs(export_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(export_help, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "focus") == 0)
        return export_focus(c, argc - 1, argv + 1);
    return cli_usage_error("unknown export verb '%s' (want focus)", argv[0]);
}
