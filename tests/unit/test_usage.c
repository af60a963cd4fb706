/*
 * test_usage.c -- engine/usage.c through the public API: the canonical line of each format,
 * exact sums, daily aggregation, replacement per (source, period), unchanged re-imports,
 * re-running the apply step (map growth), the same result on any thread count, kept tags,
 * attribution to organizations and payers at query time, unmapped usage, manifests, and
 * every bad-input case with its message and nothing stored.
 */
#include "harness.h"
#include "usage.h"

#include <stdlib.h>
#include <unistd.h>

#define FIX "tests/fixtures/usage/"
#define NOW 1790000000 /* 2026-09-21 */

static char dir[64];

static const char *tmp_path(const char *name)
{
    static char path[4][160];
    static int k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
    return path[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static rb_store *fresh_store(const char *name)
{
    rb_store *s = NULL;
    rb_error err;

    unlink(tmp_path(name));
    if (rb_store_open(&s, tmp_path(name), RB_OPEN_CREATE, &err) != RB_OK)
        fprintf(stderr, "cannot open store: %s\n", err.msg);
    return s;
}

static int month_of(const char *ym)
{
    int m = 0;
    rb_month_parse(&m, ym, NULL);
    return m;
}

/* {===================================================================================
 * Helpers: import, apply, collect
 * =================================================================================== */

struct tags_in {
    const char *keys[RB_USAGE_MAX_TAGS];
    size_t n;
};

static rb_status tag_into(const char *key, void *ctx)
{
    struct tags_in *t = ctx;
    static char keep[RB_USAGE_MAX_TAGS][RB_USAGE_TAG_MAX + 1];

    snprintf(keep[t->n], sizeof(keep[t->n]), "%s", key);
    t->keys[t->n] = keep[t->n];
    t->n++;
    return RB_OK;
}

static rb_status view_tags(rb_txn *txn, void *ctx)
{
    return rb_usage_tag_list(txn, tag_into, ctx);
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

/* Import files into s as one delivery; returns the status of the first failure. The
 * import handle is returned (to inspect) when imp_out is not NULL. */
static rb_status import_opts(rb_store *s, const char *const *files, size_t n,
                             rb_usage_import_opts *o, rb_usage_import **imp_out, rb_error *err)
{
    struct tags_in tags = {{NULL}, 0};
    rb_usage_import *imp;
    struct apply_ctx ac;
    rb_status rc;

    rb_store_view(s, view_tags, &tags);
    o->keep_tags = tags.keys;
    o->nkeep_tags = tags.n;
    rc = rb_usage_import_new(&imp, o, err);
    if (rc != RB_OK)
        return rc;
    for (size_t i = 0; i < n && rc == RB_OK; i++)
        rc = rb_usage_import_file(imp, files[i], err);
    if (rc == RB_OK) {
        ac.imp = imp;
        ac.now = NOW;
        rc = rb_store_update(s, do_apply, &ac);
        if (rc != RB_OK && err)
            snprintf(err->msg, sizeof(err->msg), "%s", rb_errmsg(s));
    }
    if (imp_out)
        *imp_out = imp;
    else
        rb_usage_import_free(imp);
    return rc;
}

static rb_status import1(rb_store *s, const char *file, rb_error *err)
{
    rb_usage_import_opts o;

    memset(&o, 0, sizeof(o));
    return import_opts(s, &file, 1, &o, NULL, err);
}

/* A summary as text: "key|currency|rows|billed|list|effective|quantity\n" per group. */
struct sum_text {
    char buf[8192];
    size_t n;
    int groups;
    int64_t rows;
};

static rb_status sum_line(const rb_usage_group *g, void *ctx)
{
    struct sum_text *t = ctx;
    char b[RB_DEC_BUFSZ], l[RB_DEC_BUFSZ], e[RB_DEC_BUFSZ], q[RB_DEC_BUFSZ];
    rb_dec nb = rb_dec_normalize(&g->a.billed), nl = rb_dec_normalize(&g->a.list);
    rb_dec ne = rb_dec_normalize(&g->a.effective), nq = rb_dec_normalize(&g->a.quantity);

    rb_dec_format(&nb, b, sizeof(b));
    rb_dec_format(&nl, l, sizeof(l));
    rb_dec_format(&ne, e, sizeof(e));
    rb_dec_format(&nq, q, sizeof(q));
    t->n += (size_t)snprintf(t->buf + t->n, sizeof(t->buf) - t->n, "%s|%s|%lld|%s|%s|%s|%s\n",
                             g->key, g->a.currency, (long long)g->a.rows, b, l, e, q);
    t->groups++;
    t->rows += g->a.rows;
    return RB_OK;
}

struct sum_op {
    rb_usage_query q;
    struct sum_text *t;
};

static rb_status do_sum(rb_txn *txn, void *ctx)
{
    struct sum_op *op = ctx;
    return rb_usage_summary(txn, &op->q, sum_line, op->t);
}

static rb_status summary(rb_store *s, const char *ym, rb_usage_dim by, const char *tag,
                         const char *org, const char *payer, const char *account,
                         struct sum_text *t)
{
    struct sum_op op;

    memset(t, 0, sizeof(*t));
    memset(&op, 0, sizeof(op));
    op.q.month = month_of(ym);
    op.q.by = by;
    op.q.tag = tag;
    op.q.org = org;
    op.q.payer = payer;
    op.q.account = account;
    op.t = t;
    return rb_store_view(s, do_sum, &op);
}

/* The whole store as text (rb_store_dump). */
struct dump {
    char *buf;
    size_t n, cap;
};

static void dump_line(const char *line, size_t len, void *ctx)
{
    struct dump *d = ctx;

    if (d->n + len + 2 > d->cap) {
        d->cap = (d->n + len + 2) * 2;
        d->buf = realloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->n, line, len);
    d->n += len;
    d->buf[d->n++] = '\n';
    d->buf[d->n] = '\0';
}

static rb_status do_dump(rb_txn *txn, void *ctx)
{
    return rb_store_dump(txn, dump_line, ctx);
}

static char *dump_store(rb_store *s)
{
    struct dump d = {NULL, 0, 0};

    dump_line("", 0, &d);
    rb_store_view(s, do_dump, &d);
    return d.buf;
}

/* {===================================================================================
 * Basics
 * =================================================================================== */

static void test_format_name_and_free_null(void)
{
    STR_EQ(rb_usage_format_name(RB_USAGE_CUR), "cur");
    STR_EQ(rb_usage_format_name(RB_USAGE_CUR2), "cur2");
    STR_EQ(rb_usage_format_name(RB_USAGE_FOCUS), "focus");
    STR_EQ(rb_usage_format_name(RB_USAGE_AUTO), "auto");
    rb_usage_import_free(NULL); /* rb_usage_import_free(NULL) is a harmless no-op */
    OK(1, "rb_usage_import_free(NULL) returned");
}

static void test_new_refuses_bad_options(void)
{
    rb_usage_import_opts o;
    rb_usage_import *imp = NULL;
    const char *bad_tag[] = {"ok", "bad\ttag"};
    const char *many[RB_USAGE_MAX_TAGS + 1];
    rb_error err;

    memset(&o, 0, sizeof(o));
    o.source = "bad source!";
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_INVALID);
    STR_HAS(err.msg, "invalid source name \"bad source!\"");
    o.source = "";
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_INVALID);
    o.source = NULL;
    o.keep_tags = bad_tag;
    o.nkeep_tags = 2;
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_INVALID);
    STR_HAS(err.msg, "invalid tag key");
    for (int i = 0; i <= RB_USAGE_MAX_TAGS; i++)
        many[i] = "k";
    o.keep_tags = many;
    o.nkeep_tags = RB_USAGE_MAX_TAGS + 1;
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_INVALID);
    STR_HAS(err.msg, "at most 16 tags");
    o.nkeep_tags = 0;
    o.max_errors = -1;
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_INVALID);
    OK(imp == NULL, "no handle on failure");
}

/* {===================================================================================
 * Legacy CUR: the canonical line, exact sums, aggregation
 * =================================================================================== */

struct period_seen {
    int n;
    rb_usage_outcome outcome[8];
    int month[8];
    int64_t rows[8], aggregates[8];
    char totals[8][256];
    int64_t imported_at[8];
};

static rb_status on_period(const rb_usage_manifest *m, void *ctx)
{
    struct period_seen *p = ctx;
    size_t off = 0;

    if (p->n < 8) {
        p->outcome[p->n] = m->outcome;
        p->month[p->n] = m->month;
        p->rows[p->n] = m->rows;
        p->aggregates[p->n] = m->aggregates;
        p->imported_at[p->n] = m->imported_at;
        for (size_t i = 0; i < m->ntotals; i++) {
            char b[RB_DEC_BUFSZ];
            rb_dec nb = rb_dec_normalize(&m->totals[i].billed);
            rb_dec_format(&nb, b, sizeof(b));
            off += (size_t)snprintf(p->totals[p->n] + off, sizeof(p->totals[p->n]) - off,
                                    "%s:%lld:%s ", m->totals[i].currency,
                                    (long long)m->totals[i].rows, b);
        }
        p->n++;
    }
    return RB_OK;
}

static void test_cur_small(void)
{
    rb_store *s = fresh_store("cur.db");
    const char *file = FIX "cur_small.csv";
    rb_usage_import_opts o;
    rb_usage_import *imp;
    struct period_seen ps;
    struct sum_text t;
    rb_error err;

    memset(&o, 0, sizeof(o));
    INT_EQ(import_opts(s, &file, 1, &o, &imp, &err), RB_OK);
    memset(&ps, 0, sizeof(ps));
    INT_EQ(rb_usage_import_periods(imp, on_period, &ps), RB_OK);
    INT_EQ(ps.n, 1);
    INT_EQ(ps.outcome[0], RB_USAGE_NEW);
    INT_EQ(ps.month[0], month_of("2026-10"));
    INT_EQ(ps.rows[0], 8);
    INT_EQ(ps.aggregates[0], 7); /* rows a1 and a2: same account, day and dimensions */
    STR_EQ(ps.totals[0], "USD:8:0.757000983815488519 ");
    rb_usage_import_free(imp);

    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* 111111111111: 0.192 + 0.192 + 9.984E-7 - 0.000000014584511481 (credit), list
     * 0.192 + 0.192 + 1.0E-6 + 0; 222222222222: SP covered 4.08 (effective 2.9376), its
     * negation -4.08 (effective 0), tax 0.35 */
    STR_EQ(t.buf, "111111111111|USD|4|0.384000983815488519|0.384001|0.384000983815488519|5.5\n"
                  "222222222222|USD|3|0.35|4.08|3.2876|25\n"
                  "333333333333|USD|1|0.023|0.025|0.023|1000.123456789012345678901234\n");
    INT_EQ(t.rows, 8); /* the sum of the aggregates is every input row */
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_LINE_TYPE, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_HAS(t.buf, "Credit|USD|1|-0.000000014584511481|0|-0.000000014584511481|0\n");
    STR_HAS(t.buf, "SavingsPlanCoveredUsage|USD|1|4.08|4.08|2.9376|24\n");
    STR_HAS(t.buf, "SavingsPlanNegation|USD|1|-4.08|0|0|0\n");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_DAY, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_HAS(t.buf, "2026-10-01|USD|5|");
    STR_HAS(t.buf, "2026-10-31|USD|1|");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_REGION, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_HAS(t.buf, "|USD|1|0.35|"); /* the tax line has no region: key "" */
    OK(t.buf[0] == '|', "the empty region sorts first: %s", t.buf);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_SERVICE, NULL, NULL, NULL, NULL, &t), RB_OK);
    INT_EQ(t.groups, 2);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_USAGE_TYPE, NULL, NULL, NULL, "222222222222", &t),
           RB_OK);
    STR_EQ(t.buf, "|USD|1|0.35|0|0.35|1\nBoxUsage:c5.xlarge|USD|2|0|4.08|2.9376|24\n");
    INT_EQ(summary(s, "2026-11", RB_USAGE_BY_SERVICE, NULL, NULL, NULL, NULL, &t), RB_OK);
    INT_EQ(t.groups, 0); /* nothing in another month */
    rb_store_close(s);
}

static void test_formats_cur2_focus_quirks(void)
{
    rb_store *s = fresh_store("fmt.db");
    struct sum_text t;
    rb_error err;

    INT_EQ(import1(s, FIX "cur2_small.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-08", RB_USAGE_BY_LINE_TYPE, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* DiscountedUsage: effective = reservation_effective_cost; RIFee: unused amortized fee
     * plus unused recurring fee */
    STR_EQ(t.buf, "DiscountedUsage|USD|1|0|2.304|1.2|24\n"
                  "RIFee|USD|1|37.2|0|1.75|744\n"
                  "Usage|USD|2|0.208|0.208|0.208|20\n");

    INT_EQ(import1(s, FIX "focus_small.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-07", RB_USAGE_BY_ACCOUNT, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* currencies are never added together; a NULL SubAccountId falls back to
     * BillingAccountId */
    STR_EQ(t.buf, "ba-1|USD|1|-0.75|0|-0.75|0\n"
                  "sub-aaa|EUR|2|2|2.5|1.6|4\n"
                  "sub-aaa|USD|1|2.25|2.25|2.25|100\n");
    INT_EQ(summary(s, "2026-07", RB_USAGE_BY_REGION, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_HAS(t.buf, "|USD|2|1.5|"); /* NULL region: empty */
    INT_EQ(summary(s, "2026-08", RB_USAGE_BY_SERVICE, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_EQ(t.buf, "Billing|USD|1|0.1|0|0|0\n"); /* the second period of the same file */

    INT_EQ(import1(s, FIX "quirks.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-09", RB_USAGE_BY_USAGE_TYPE, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* BOM, CRLF, a blank line, quoted commas, doubled quotes, a line break in a field, a
     * last record without a line end and with every field quoted */
    STR_EQ(t.buf, "Box,Usage|USD|2|2|2.2|2|3\nRequests|USD|1|0.000004|0|0.000004|3\n");
    rb_store_close(s);
}

/* {===================================================================================
 * Replacement, unchanged content, re-running the apply step, threads
 * =================================================================================== */

static void test_restatement_and_unchanged(void)
{
    rb_store *s = fresh_store("re.db");
    const char *v1 = FIX "cur_small.csv", *v2 = FIX "cur_small_v2.csv";
    rb_usage_import_opts o;
    rb_usage_import *imp;
    struct period_seen ps;
    struct sum_text t;
    char *before, *after;
    rb_error err;

    INT_EQ(import1(s, v1, &err), RB_OK);
    before = dump_store(s);
    memset(&o, 0, sizeof(o));
    INT_EQ(import_opts(s, &v1, 1, &o, &imp, &err), RB_OK);
    memset(&ps, 0, sizeof(ps));
    rb_usage_import_periods(imp, on_period, &ps);
    INT_EQ(ps.outcome[0], RB_USAGE_UNCHANGED);
    rb_usage_import_free(imp);
    after = dump_store(s);
    OK(strcmp(before, after) == 0, "re-importing the same file changes nothing");
    free(after);

    INT_EQ(import_opts(s, &v2, 1, &o, &imp, &err), RB_OK);
    memset(&ps, 0, sizeof(ps));
    rb_usage_import_periods(imp, on_period, &ps);
    INT_EQ(ps.outcome[0], RB_USAGE_REPLACED);
    rb_usage_import_free(imp);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* only the second delivery is left: no 222222222222, no trace of v1's rows */
    STR_EQ(t.buf, "111111111111|USD|1|4.608|4.608|4.608|48\n"
                  "333333333333|USD|1|0.25|0.25|0.25|10\n");

    /* another source for the same period is kept apart and replaces nothing */
    o.source = "second-payer";
    INT_EQ(import_opts(s, &v1, 1, &o, NULL, &err), RB_OK);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, NULL, "333333333333", &t),
           RB_OK);
    STR_EQ(t.buf, "333333333333|USD|2|0.273|0.275|0.273|1010.123456789012345678901234\n");

    /* back to v1 under the first source: replaced again, with v1's numbers */
    o.source = NULL;
    INT_EQ(import_opts(s, &v1, 1, &o, NULL, &err), RB_OK);
    o.source = "second-payer";
    INT_EQ(import_opts(s, &v2, 1, &o, NULL, &err), RB_OK);
    o.source = NULL;
    INT_EQ(import_opts(s, &v2, 1, &o, NULL, &err), RB_OK);
    o.source = "second-payer";
    INT_EQ(import_opts(s, &v1, 1, &o, NULL, &err), RB_OK);
    after = dump_store(s);
    OK(strcmp(before, after) != 0, "two sources differ from one");
    free(after);
    free(before);
    rb_store_close(s);
}

static void test_delivery_of_several_files(void)
{
    rb_store *s = fresh_store("parts.db");
    const char *parts[] = {FIX "cur_small.csv", FIX "quirks.csv"};
    rb_usage_import_opts o;
    rb_usage_import *imp;
    struct period_seen ps;
    rb_usage_import_stats st;
    rb_error err;

    memset(&o, 0, sizeof(o));
    INT_EQ(import_opts(s, parts, 2, &o, &imp, &err), RB_OK);
    memset(&ps, 0, sizeof(ps));
    rb_usage_import_periods(imp, on_period, &ps);
    INT_EQ(ps.n, 2); /* 2026-09 from one part, 2026-10 from the other */
    INT_EQ(ps.month[0], month_of("2026-09"));
    INT_EQ(ps.month[1], month_of("2026-10"));
    rb_usage_import_stats_get(imp, &st);
    INT_EQ(st.files, 2);
    INT_EQ(st.rows, 11);
    INT_EQ(st.rejected, 0);
    rb_usage_import_free(imp);
    rb_store_close(s);
}

static void test_apply_runs_again_when_the_map_grows(void)
{
    const char *file = "../shared/data/focus-1.0-azure-cur-anon.csv";
    rb_store *big, *tiny;
    char *a, *b;
    rb_error err;

    big = fresh_store("big.db");
    INT_EQ(import1(big, file, &err), RB_OK);
    setenv("REBILL_INITIAL_MAPSIZE", "32768", 1);
    tiny = fresh_store("tiny.db");
    unsetenv("REBILL_INITIAL_MAPSIZE");
    INT_EQ(import1(tiny, file, &err), RB_OK);
    a = dump_store(big);
    b = dump_store(tiny);
    OK(strstr(a, "usage ") != NULL, "aggregates were stored");
    OK(strcmp(a, b) == 0, "an apply run again after map growth stores exactly the same");
    free(a);
    free(b);
    rb_store_close(big);
    rb_store_close(tiny);
}

static void test_same_result_on_any_thread_count(void)
{
    const char *file = "../shared/data/cur-legacy-focus-converters.csv";
    char *ref = NULL;
    static const int threads[] = {-1, 1, 3};
    static const size_t chunks[] = {0, 200, 4096};

    for (size_t t = 0; t < 3; t++) {
        for (size_t c = 0; c < 3; c++) {
            rb_store *s = fresh_store("thr.db");
            rb_usage_import_opts o;
            rb_usage_import *imp;
            struct apply_ctx ac;
            char *d;
            rb_error err;

            memset(&o, 0, sizeof(o));
            o.threads = threads[t];
            INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_OK);
            rbi_usage_import_set_chunk(imp, chunks[c]);
            INT_EQ(rb_usage_import_file(imp, file, &err), RB_OK);
            ac.imp = imp;
            ac.now = NOW;
            INT_EQ(rb_store_update(s, do_apply, &ac), RB_OK);
            rb_usage_import_free(imp);
            d = dump_store(s);
            if (!ref)
                ref = d;
            else {
                OK(strcmp(ref, d) == 0, "threads %d chunk %zu: the same store", threads[t],
                   chunks[c]);
                free(d);
            }
            rb_store_close(s);
        }
    }
    free(ref);
}

/* {===================================================================================
 * Kept tags
 * =================================================================================== */

struct tag_op {
    const char *keep, *drop;
};

static rb_status do_tag(rb_txn *txn, void *ctx)
{
    struct tag_op *op = ctx;

    if (op->keep)
        return rb_usage_tag_keep(txn, op->keep);
    return rb_usage_tag_drop(txn, op->drop);
}

static rb_status tag(rb_store *s, const char *keep, const char *drop)
{
    struct tag_op op = {keep, drop};
    return rb_store_update(s, do_tag, &op);
}

static void test_kept_tags(void)
{
    rb_store *s = fresh_store("tags.db");
    struct tags_in in = {{NULL}, 0};
    struct sum_text t;
    rb_error err;
    char key[16];

    INT_EQ(tag(s, "user:env", NULL), RB_OK);
    INT_EQ(tag(s, "user:env", NULL), RB_EXISTS);
    STR_HAS(rb_errmsg(s), "tag \"user:env\" is kept already");
    INT_EQ(tag(s, "", NULL), RB_INVALID);
    STR_HAS(rb_errmsg(s), "invalid tag key");
    INT_EQ(tag(s, "a\nb", NULL), RB_INVALID);
    INT_EQ(tag(s, NULL, "nope"), RB_NOTFOUND);
    STR_HAS(rb_errmsg(s), "tag \"nope\" is not kept");
    INT_EQ(tag(s, "env", NULL), RB_OK);
    rb_store_view(s, view_tags, &in);
    INT_EQ(in.n, 2);
    STR_EQ(in.keys[0], "user:env");
    STR_EQ(in.keys[1], "env");

    INT_EQ(import1(s, FIX "cur_small.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_TAG, "user:env", NULL, NULL, NULL, &t), RB_OK);
    STR_EQ(t.buf, "|USD|2|0.349999985415488519|0|0.349999985415488519|1\n"
                  "dev|USD|2|0.0230009984|0.025001|0.0230009984|1001.623456789012345678901234\n"
                  "prod|USD|4|0.384|4.464|3.3216|28\n");
    INT_EQ(import1(s, FIX "cur2_small.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-08", RB_USAGE_BY_TAG, "user:env", NULL, NULL, NULL, &t), RB_OK);
    /* CUR 2.0 writes the key as user_env in resource_tags */
    STR_EQ(t.buf, "|USD|2|37.304|0.104|1.854|754\nprod|USD|2|0.104|2.408|1.304|34\n");
    INT_EQ(import1(s, FIX "focus_small.csv", &err), RB_OK);
    INT_EQ(summary(s, "2026-07", RB_USAGE_BY_TAG, "env", NULL, NULL, NULL, &t), RB_OK);
    STR_EQ(t.buf, "|USD|2|1.5|2.25|1.5|100\nprod|EUR|2|2|2.5|1.6|4\n");
    INT_EQ(summary(s, "2026-07", RB_USAGE_BY_TAG, "team", NULL, NULL, NULL, &t), RB_INVALID);
    STR_HAS(rb_errmsg(s), "tag \"team\" is not kept");

    /* the kept tags change between reading and storing: refused */
    {
        const char *keys[] = {"user:env", "env"};
        rb_usage_import_opts o;
        rb_usage_import *imp;
        struct apply_ctx ac;
        memset(&o, 0, sizeof(o));
        o.keep_tags = keys;
        o.nkeep_tags = 2;
        INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_OK);
        INT_EQ(rb_usage_import_file(imp, FIX "cur_small_v2.csv", &err), RB_OK);
        INT_EQ(tag(s, NULL, "env"), RB_OK);
        ac.imp = imp;
        ac.now = NOW;
        INT_EQ(rb_store_update(s, do_apply, &ac), RB_INVALID);
        STR_HAS(rb_errmsg(s), "the kept tags changed");
        rb_usage_import_free(imp);
    }
    for (int i = 0; i < RB_USAGE_MAX_TAGS - 1; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        INT_EQ(tag(s, key, NULL), RB_OK);
    }
    INT_EQ(tag(s, "one-too-many", NULL), RB_INVALID);
    STR_HAS(rb_errmsg(s), "at most 16 tags");
    rb_store_close(s);
}

/* {===================================================================================
 * Attribution at query time, and unmapped usage
 * =================================================================================== */

static rb_status setup_orgs(rb_txn *txn, void *ctx)
{
    static const struct {
        const char *id, *mgmt;
    } orgs[] = {
        {"o-customer01", "900000000001"},
        {"o-partner001", "900000000002"},
        {"o-other00001", "900000000003"},
    };
    int64_t jan;
    rb_status rc = RB_OK;

    (void)ctx;
    rb_time_parse(&jan, "2026-01-01", NULL);
    for (size_t i = 0; i < 3 && rc == RB_OK; i++) {
        rb_org o;
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", orgs[i].id);
        snprintf(o.name, sizeof(o.name), "org %zu", i);
        snprintf(o.management_account, sizeof(o.management_account), "%s", orgs[i].mgmt);
        o.created = jan;
        rc = rb_org_create(txn, &o);
    }
    if (rc == RB_OK)
        rc = rb_account_add(txn, "111111111111", "one", "o-customer01", jan);
    if (rc == RB_OK)
        rc = rb_account_add(txn, "222222222222", "two", "o-customer01", jan);
    return rc;
}

static rb_status move_account(rb_txn *txn, void *ctx)
{
    int64_t at;

    (void)ctx;
    rb_time_parse(&at, "2026-10-10T00:00:00Z", NULL);
    return rb_account_move(txn, "111111111111", "o-other00001", at);
}

static rb_status setup_transfer(rb_txn *txn, void *ctx)
{
    rb_transfer tr;
    int64_t invite, accept;
    rb_status rc;

    (void)ctx;
    rb_time_parse(&invite, "2026-09-20T00:00:00Z", NULL);
    rb_time_parse(&accept, "2026-09-21T00:00:00Z", NULL);
    memset(&tr, 0, sizeof(tr));
    snprintf(tr.name, sizeof(tr.name), "partner pays customer");
    snprintf(tr.source, sizeof(tr.source), "o-customer01");
    snprintf(tr.payer, sizeof(tr.payer), "o-partner001");
    tr.start_month = month_of("2026-10");
    rc = rb_transfer_invite(txn, &tr, invite);
    if (rc == RB_OK)
        rc = rb_transfer_accept(txn, tr.id, "o-customer01", accept);
    return rc;
}

struct unm_text {
    char buf[2048];
    size_t n;
};

static rb_status unm_line(const rb_usage_unmapped_row *r, void *ctx)
{
    struct unm_text *u = ctx;
    char b[RB_DEC_BUFSZ];
    rb_dec nb = rb_dec_normalize(&r->a.billed);

    rb_dec_format(&nb, b, sizeof(b));
    u->n += (size_t)snprintf(u->buf + u->n, sizeof(u->buf) - u->n, "%s|%s|%s|%s|%lld|%s\n",
                             r->account, r->org, r->reason, r->a.currency, (long long)r->a.rows,
                             b);
    return RB_OK;
}

struct unm_op {
    int month;
    struct unm_text *u;
};

static rb_status do_unm(rb_txn *txn, void *ctx)
{
    struct unm_op *op = ctx;
    return rb_usage_unmapped(txn, op->month, unm_line, op->u);
}

static void test_attribution_at_query_time(void)
{
    rb_store *s = fresh_store("orgs.db");
    struct sum_text t;
    struct unm_text u;
    struct unm_op uop;
    rb_error err;

    INT_EQ(rb_store_update(s, setup_orgs, NULL), RB_OK);
    INT_EQ(import1(s, FIX "cur_small.csv", &err), RB_OK);
    /* before the move and before any transfer */
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, "o-customer01", NULL, NULL, &t),
           RB_OK);
    STR_EQ(t.buf, "111111111111|USD|4|0.384000983815488519|0.384001|0.384000983815488519|5.5\n"
                  "222222222222|USD|3|0.35|4.08|3.2876|25\n");
    memset(&u, 0, sizeof(u));
    uop.month = month_of("2026-10");
    uop.u = &u;
    INT_EQ(rb_store_view(s, do_unm, &uop), RB_OK);
    STR_EQ(u.buf, "111111111111|o-customer01|no payer in force|USD|4|0.384000983815488519\n"
                  "222222222222|o-customer01|no payer in force|USD|3|0.35\n"
                  "333333333333||unknown account|USD|1|0.023\n");

    /* a later move and a transfer are honoured without importing again */
    INT_EQ(rb_store_update(s, move_account, NULL), RB_OK);
    INT_EQ(rb_store_update(s, setup_transfer, NULL), RB_OK);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_DAY, NULL, "o-customer01", NULL, NULL, &t),
           RB_OK);
    STR_EQ(t.buf, "2026-10-01|USD|5|0.734|4.464|3.6716|29\n"
                  "2026-10-02|USD|1|0.0000009984|0.000001|0.0000009984|1.5\n");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_DAY, NULL, "o-other00001", NULL, NULL, &t), RB_OK);
    STR_EQ(t.buf, "2026-10-15|USD|1|-0.000000014584511481|0|-0.000000014584511481|0\n");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, "o-partner001", NULL, &t),
           RB_OK);
    STR_EQ(t.buf, "111111111111|USD|3|0.3840009984|0.384001|0.3840009984|5.5\n"
                  "222222222222|USD|3|0.35|4.08|3.2876|25\n");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, "o-other00001", NULL, &t),
           RB_OK);
    INT_EQ(t.rows, 1); /* an org with no transfer pays its own bill */
    memset(&u, 0, sizeof(u));
    INT_EQ(rb_store_view(s, do_unm, &uop), RB_OK);
    STR_EQ(u.buf, "111111111111|o-other00001|no payer in force|USD|1|-0.000000014584511481\n"
                  "333333333333||unknown account|USD|1|0.023\n");

    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, "o-nosuchorg1", NULL, NULL, &t),
           RB_NOTFOUND);
    STR_HAS(rb_errmsg(s), "no organization \"o-nosuchorg1\"");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, "O-BAD", NULL, NULL, &t),
           RB_INVALID);
    STR_HAS(rb_errmsg(s), "invalid organization id \"O-BAD\"");
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, "o-customer01", NULL,
                   "111111111111", &t),
           RB_INVALID);
    STR_HAS(rb_errmsg(s), "at most one of org, payer and account");
    rb_store_close(s);
}

/* {===================================================================================
 * Manifests
 * =================================================================================== */

struct man_seen {
    int n;
    char text[1024];
    size_t len;
    uint64_t hash;
    uint64_t bytes;
};

static rb_status man_line(const rb_usage_manifest *m, void *ctx)
{
    struct man_seen *ms = ctx;
    char ym[16];

    rb_month_format(m->month, ym, sizeof(ym));
    ms->len += (size_t)snprintf(ms->text + ms->len, sizeof(ms->text) - ms->len,
                                "%s %s rows=%lld aggs=%lld files=%zu first=%s totals=%zu\n", ym,
                                m->source, (long long)m->rows, (long long)m->aggregates,
                                m->nfiles, m->nfiles ? m->files[0].name : "-", m->ntotals);
    if (m->nfiles) {
        ms->hash = m->files[0].hash;
        ms->bytes = m->files[0].bytes;
    }
    INT_EQ(m->outcome, RB_USAGE_STORED);
    INT_EQ(m->imported_at, NOW);
    ms->n++;
    return RB_OK;
}

struct man_op {
    int month;
    struct man_seen *ms;
};

static rb_status do_man(rb_txn *txn, void *ctx)
{
    struct man_op *op = ctx;
    return rb_usage_manifest_list(txn, op->month, man_line, op->ms);
}

static void test_manifests(void)
{
    rb_store *s = fresh_store("man.db");
    struct man_seen ms;
    struct man_op op = {RB_MONTH_OPEN, &ms};
    char *data;
    size_t n;
    FILE *f;
    rb_error err;

    INT_EQ(import1(s, FIX "focus_small.csv", &err), RB_OK);
    INT_EQ(import1(s, FIX "cur_small.csv", &err), RB_OK);
    memset(&ms, 0, sizeof(ms));
    INT_EQ(rb_store_view(s, do_man, &op), RB_OK);
    STR_EQ(ms.text, "2026-07 default rows=4 aggs=3 files=1 first=focus_small.csv totals=2\n"
                    "2026-08 default rows=1 aggs=1 files=1 first=focus_small.csv totals=1\n"
                    "2026-10 default rows=8 aggs=7 files=1 first=cur_small.csv totals=1\n");
    memset(&ms, 0, sizeof(ms));
    op.month = month_of("2026-08");
    INT_EQ(rb_store_view(s, do_man, &op), RB_OK);
    INT_EQ(ms.n, 1);
    f = fopen(FIX "focus_small.csv", "rb");
    data = malloc(1 << 16);
    n = fread(data, 1, 1 << 16, f);
    fclose(f);
    OK(ms.hash == rbi_hash64(data, n), "the manifest holds the XXH64 of the file");
    INT_EQ(ms.bytes, n);
    free(data);
    rb_store_close(s);
}

/* {===================================================================================
 * Bad input: each case has its message, and nothing is stored
 * =================================================================================== */

static const char cur_head[] =
    "bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
    "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,"
    "lineItem/Operation,lineItem/UsageAmount,lineItem/UnblendedCost,"
    "pricing/publicOnDemandCost\n";
static const char good_row[] = "AWS,2026-10-01,111111111111,Usage,2026-10-02,S,U,O,1,2,3\n";

static void check_bad(const char *name, const char *rows, rb_status want, const char *msg)
{
    rb_store *s = fresh_store("bad.db");
    char text[4096], *before, *after;
    rb_error err;

    snprintf(text, sizeof(text), "%s%s%s", cur_head, good_row, rows);
    write_file(tmp_path(name), text);
    before = dump_store(s);
    err.msg[0] = '\0';
    OK(import1(s, tmp_path(name), &err) == want, "%s: status", name);
    STR_HAS(err.msg, msg);
    after = dump_store(s);
    OK(strcmp(before, after) == 0, "%s: nothing stored", name);
    free(before);
    free(after);
    rb_store_close(s);
}

static void test_bad_rows(void)
{
    check_bad("fields.csv", "AWS,2026-10-01,111111111111,Usage\n", RB_INVALID,
              "fields.csv:3: wrong number of fields: 4, want 11");
    check_bad("quote.csv", "AWS,2026-10-01,111111111111,Usage,2026-10-02,\"S,U,O,1,2,3\n",
              RB_SYNTAX, "quote.csv:3: unterminated quoted field");
    check_bad("badq.csv", "AWS,2026-10-01,111111111111,Usage,2026-10-02,S\"x\"y,U,O,1,2,3\n",
              RB_INVALID, "badq.csv:3: column lineItem/ProductCode: bad quoting \"S\"x\"y\"");
    check_bad("number.csv", "AWS,2026-10-01,111111111111,Usage,2026-10-02,S,U,O,1,1.2.3,3\n",
              RB_INVALID,
              "number.csv:3: column lineItem/UnblendedCost: not a decimal number \"1.2.3\"");
    check_bad("huge.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02,S,U,O,"
              "123456789012345678901234567890123456789,1,3\n",
              RB_INVALID, "column lineItem/UsageAmount: decimal out of range");
    check_bad("date.csv", "AWS,2026-13-01,111111111111,Usage,2026-10-02,S,U,O,1,2,3\n",
              RB_INVALID,
              "date.csv:3: column bill/BillingPeriodStartDate: not a UTC date \"2026-13-01\"");
    check_bad("zone.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02T10:00:00+02:00,S,U,O,1,2,3\n",
              RB_INVALID, "column lineItem/UsageStartDate: not a UTC date");
    check_bad("acct.csv", "AWS,2026-10-01,12345678901,Usage,2026-10-02,S,U,O,1,2,3\n",
              RB_INVALID,
              "acct.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "
              "\"12345678901\"");
    check_bad("acct2.csv", "AWS,2026-10-01,1111111/1111,Usage,2026-10-02,S,U,O,1,2,3\n",
              RB_INVALID, "acct2.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "
                          "\"1111111/1111\"");
    check_bad("acct3.csv", "AWS,2026-10-01,11111111111:,Usage,2026-10-02,S,U,O,1,2,3\n",
              RB_INVALID, "acct3.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "
                          "\"11111111111:\"");
    /* a time seen before is known good; one in the same day and hour still gets checked */
    check_bad("zone2.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02T10:00:00Z,S,U,O,1,2,3\n"
              "AWS,2026-10-01,111111111111,Usage,2026-10-02T10:00:00Z,S,U,O,1,2,3\n"
              "AWS,2026-10-01,111111111111,Usage,2026-10-02T10:00:00+02:00,S,U,O,1,2,3\n",
              RB_INVALID, "zone2.csv:5: column lineItem/UsageStartDate: not a UTC date");
    check_bad("ctl.csv", "AWS,2026-10-01,111111111111,Usage,2026-10-02,S\x01,U,O,1,2,3\n",
              RB_INVALID, "column lineItem/ProductCode: not UTF-8 text, or holds a control");
    check_bad("late.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-03,S,U,O,1,2,3\n"
              "AWS,2026-10-01,111111111111,Usage,yesterday,S,U,O,1,2,3\n",
              RB_INVALID, "late.csv:4: column lineItem/UsageStartDate: not a UTC date");
}

/* Text checks of new aggregates (word by word for ASCII, byte by byte past it): long and
 * short values, UTF-8 kept, a control character or bad UTF-8 anywhere refused. */
static void test_text_of_values(void)
{
    rb_store *s = fresh_store("text.db");
    struct sum_text t;
    char text[2048];
    rb_error err;

    snprintf(text, sizeof(text), "%s%s%s%s", cur_head, good_row,
             "AWS,2026-10-01,111111111111,Usage,2026-10-02,"
             "\xc3\x9c" "berweisung-Dienstleistung-\xce\xa9" "mega,U,O,1,2,3\n",
             "AWS,2026-10-01,111111111111,Usage,2026-10-02,AmazonElasticCompute7,U,O,1,2,3\n");
    write_file(tmp_path("text.csv"), text);
    INT_EQ(import1(s, tmp_path("text.csv"), &err), RB_OK);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_SERVICE, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_HAS(t.buf, "\xc3\x9c" "berweisung-Dienstleistung-\xce\xa9" "mega|USD|1|");
    STR_HAS(t.buf, "AmazonElasticCompute7|USD|1|");
    rb_store_close(s);
    check_bad("tailctl.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02,AmazonElasticCompute\x1f,U,O,1,2,3\n",
              RB_INVALID, "column lineItem/ProductCode: not UTF-8 text, or holds a control");
    check_bad("midctl.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02,AmazonEl\x7f"
              "asticCompute,U,O,1,2,3\n",
              RB_INVALID, "column lineItem/ProductCode: not UTF-8 text, or holds a control");
    check_bad("badutf.csv",
              "AWS,2026-10-01,111111111111,Usage,2026-10-02,AmazonElastic\xc3(x,U,O,1,2,3\n",
              RB_INVALID, "column lineItem/ProductCode: not UTF-8 text, or holds a control");
}

/* A rule of the effective cost whose columns the file lacks does not apply. */
static void test_effective_without_its_columns(void)
{
    rb_store *s = fresh_store("eff.db");
    struct sum_text t;
    rb_error err;
    char text[2048];

    snprintf(text, sizeof(text), "%s%s%s%s", cur_head,
             "AWS,2026-10-01,111111111111,SavingsPlanCoveredUsage,2026-10-02,S,U,O,1,2,3\n",
             "AWS,2026-10-01,111111111111,SavingsPlanRecurringFee,2026-10-02,S,U,O,1,5,0\n",
             "AWS,2026-10-01,111111111111,SavingsPlanNegation,2026-10-02,S,U,O,1,-2,0\n");
    write_file(tmp_path("eff.csv"), text);
    INT_EQ(import1(s, tmp_path("eff.csv"), &err), RB_OK);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_LINE_TYPE, NULL, NULL, NULL, NULL, &t), RB_OK);
    /* no savingsPlan/ columns: covered usage and the recurring fee keep their unblended cost;
     * a negation is 0 whatever the columns */
    STR_EQ(t.buf, "SavingsPlanCoveredUsage|USD|1|2|3|2|1\n"
                  "SavingsPlanNegation|USD|1|-2|0|0|1\n"
                  "SavingsPlanRecurringFee|USD|1|5|0|5|1\n");
    rb_store_close(s);
}

static void test_bad_files(void)
{
    rb_store *s = fresh_store("badf.db");
    char text[2048];
    rb_error err;

    write_file(tmp_path("empty.csv"), "");
    INT_EQ(import1(s, tmp_path("empty.csv"), &err), RB_INVALID);
    STR_HAS(err.msg, "empty.csv: empty file");
    write_file(tmp_path("header.csv"), cur_head);
    INT_EQ(import1(s, tmp_path("header.csv"), &err), RB_INVALID);
    STR_HAS(err.msg, "header.csv: no data rows (only a header)");
    write_file(tmp_path("other.csv"), "a,b,c\n1,2,3\n");
    INT_EQ(import1(s, tmp_path("other.csv"), &err), RB_INVALID);
    STR_HAS(err.msg, "other.csv: cannot tell the format from the header");
    write_file(tmp_path("missing.csv"), "lineItem/UsageAccountId,lineItem/UsageAmount,x\n1,2,3\n");
    INT_EQ(import1(s, tmp_path("missing.csv"), &err), RB_INVALID);
    STR_HAS(err.msg, "missing.csv: missing columns for format cur: bill/BillingPeriodStartDate, "
                     "lineItem/UsageStartDate, lineItem/ProductCode, lineItem/UsageType, "
                     "lineItem/Operation, lineItem/LineItemType, bill/BillingEntity, "
                     "lineItem/UnblendedCost, pricing/publicOnDemandCost");
    snprintf(text, sizeof(text), "%s%s", cur_head, good_row);
    write_file(tmp_path("forced.csv"), text);
    {
        rb_usage_import_opts o;
        const char *f = tmp_path("forced.csv");
        memset(&o, 0, sizeof(o));
        o.format = RB_USAGE_FOCUS;
        INT_EQ(import_opts(s, &f, 1, &o, NULL, &err), RB_INVALID);
        STR_HAS(err.msg, "missing columns for format focus: SubAccountId, BillingPeriodStart");
    }
    INT_EQ(import1(s, tmp_path("nosuch.csv"), &err), RB_NOTFOUND);
    STR_HAS(err.msg, "nosuch.csv: cannot open");
    rb_store_close(s);
}

struct rej_seen {
    char text[2048];
    size_t n;
    int count;
};

static rb_status on_reject(const char *file, int64_t line, const char *reason, const char *record,
                           size_t len, void *ctx)
{
    struct rej_seen *r = ctx;

    r->n += (size_t)snprintf(r->text + r->n, sizeof(r->text) - r->n, "%s:%lld: %s [%.*s]\n",
                             strrchr(file, '/') + 1, (long long)line, reason, (int)len, record);
    r->count++;
    return RB_OK;
}

static void test_max_errors(void)
{
    rb_store *s = fresh_store("rej.db");
    char text[2048];
    const char *f;
    rb_usage_import_opts o;
    rb_usage_import *imp;
    rb_usage_import_stats st;
    struct rej_seen r;
    struct sum_text t;
    char *before, *after;
    rb_error err;

    snprintf(text, sizeof(text), "%s%s%s%s%s", cur_head, good_row,
             "AWS,2026-10-01,1,Usage,2026-10-02,S,U,O,1,2,3\n", good_row,
             "AWS,2026-10-01,111111111111,Usage,2026-10-02,S,U,O,x,2,3\n");
    write_file(tmp_path("two-bad.csv"), text);
    f = tmp_path("two-bad.csv");
    memset(&o, 0, sizeof(o));
    o.max_errors = 2;
    INT_EQ(import_opts(s, &f, 1, &o, &imp, &err), RB_OK);
    memset(&r, 0, sizeof(r));
    INT_EQ(rb_usage_import_rejects(imp, on_reject, &r), RB_OK);
    STR_EQ(r.text, "two-bad.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "
                   "\"1\" [AWS,2026-10-01,1,Usage,2026-10-02,S,U,O,1,2,3]\n"
                   "two-bad.csv:5: column lineItem/UsageAmount: not a decimal number \"x\" "
                   "[AWS,2026-10-01,111111111111,Usage,2026-10-02,S,U,O,x,2,3]\n");
    rb_usage_import_stats_get(imp, &st);
    INT_EQ(st.rejected, 2);
    INT_EQ(st.rows, 2);
    rb_usage_import_free(imp);
    INT_EQ(summary(s, "2026-10", RB_USAGE_BY_ACCOUNT, NULL, NULL, NULL, NULL, &t), RB_OK);
    STR_EQ(t.buf, "111111111111|USD|2|4|6|4|2\n");

    /* one more bad row than allowed: nothing stored, the first bad row named */
    before = dump_store(s);
    o.max_errors = 1;
    INT_EQ(import_opts(s, &f, 1, &o, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "two-bad.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "
                     "\"1\"; more than 1 bad rows (--max-errors 1)");
    after = dump_store(s);
    OK(strcmp(before, after) == 0, "over --max-errors: nothing stored");
    free(after);

    /* every row bad: nothing to import */
    snprintf(text, sizeof(text), "%s%s", cur_head,
             "AWS,2026-10-01,1,Usage,2026-10-02,S,U,O,1,2,3\n");
    write_file(tmp_path("all-bad.csv"), text);
    f = tmp_path("all-bad.csv");
    o.max_errors = 5;
    INT_EQ(import_opts(s, &f, 1, &o, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "nothing to import: all 1 rows were rejected");
    after = dump_store(s);
    OK(strcmp(before, after) == 0, "all rows rejected: nothing stored");
    free(after);
    free(before);
    rb_store_close(s);
}

/* The fast path for plain amounts (and CUR's exponent form) gives exactly what
 * rb_dec_parse() gives. */
static void test_amount_fast_path(void)
{
    static const char *const fixed[] = {
        "0", "-0", "0.0", "-0.000", "1", "-1", ".5", "5.", "-.5", "007.50", "123456789012345678",
        "-123456789012345678", "1234567890123456789", "0.000000014584511481",
        "-0.000000014584511481", "9.984E-7", "1e3", "+1", "1.2.3", "-", ".", "", "1-", "--1",
        "12a", " 1", "0.00000017933547499999999", "99999999999999999.9",
        /* CUR's exponent form, and what the fast path leaves to rb_dec_parse() */
        "1.25E7", "1.25E-6", "-9.984E-07", "0.0E0", "0E-40", "0E+45", "1E+0", "5.E3", ".5e-1",
        "1E18", "-1E18", "1E19", "123456789012345678E18", "1E-38", "1E-39", "10E-39", "1E-999",
        "1E1000", "1E", "1E+", "1E-", "1Ee1", "1E1.5", "E5", "-E5", ".E5", "1E0001", "1e-3",
    };
    char buf[64];
    int bad = 0, nexp = 0;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        rb_dec a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
        size_t n = strlen(fixed[i]);
        rb_status ra = rbi_usage_parse_amount(&a, fixed[i], n);
        rb_status rb = n ? rb_dec_parse(&b, fixed[i], n, NULL) : RB_OK;
        OK(ra == rb && (ra != RB_OK || memcmp(&a, &b, sizeof(a)) == 0),
           "\"%s\": fast path %d, rb_dec_parse %d", fixed[i], ra, rb);
    }
    srand(5);
    for (int i = 0; i < 200000; i++) { /* random plain decimals of 1..20 digits */
        int nd = 1 + rand() % 20, pt = rand() % (nd + 2), k = 0;
        rb_dec a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
        rb_status ra;
        if (rand() % 2)
            buf[k++] = '-';
        for (int d = 0; d < nd; d++) {
            if (d == pt)
                buf[k++] = '.';
            buf[k++] = (char)('0' + rand() % (d == 0 && rand() % 2 ? 1 : 10));
        }
        if (rand() % 3 == 0) /* an exponent: E or e, maybe a sign, 1 to 4 digits */
            k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%c%s%d", rand() % 2 ? 'E' : 'e',
                          (const char *[]){"", "-", "+"}[rand() % 3],
                          rand() % 4 ? rand() % 45 : rand() % 10000);
        buf[k] = '\0';
        ra = rbi_usage_parse_amount(&a, buf, (size_t)k);
        if (ra != rb_dec_parse(&b, buf, (size_t)k, NULL) ||
            (ra == RB_OK && memcmp(&a, &b, sizeof(a)) != 0))
            bad++;
        nexp += strpbrk(buf, "Ee") != NULL && ra == RB_OK;
    }
    INT_EQ(bad, 0);
    OK(nexp > 30000, "%d random amounts with an exponent were read", nexp);
}

/* Aggregation's inline sum gives exactly what rb_dec_add() gives, near the limits too. */
static void test_sum_fast_path(void)
{
    static const char *const edge[] = {
        "0", "1", "-1", "0.0000000001", "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999", "49999999999999999999999999999999999999",
        "50000000000000000000000000000000000000", "-49999999999999999999999999999999999999",
        "4999999999999999999.9999999999999999999", "5000000000000000000.0000000000000000000",
        "0.00000000000000000000000000000000000001", "9223372036854775807", "-9223372036854775808",
        "18446744073709551616", "1.5", "-2.25", "123456789.123456789",
    };
    int bad = 0, n = (int)(sizeof(edge) / sizeof(edge[0]));

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            rb_dec a, b, x = {0, 0, 0, 0}, y = {0, 0, 0, 0};
            rb_dec_parse(&a, edge[i], strlen(edge[i]), NULL);
            rb_dec_parse(&b, edge[j], strlen(edge[j]), NULL);
            if (rbi_usage_dec_add(&x, &a, &b) != rb_dec_add(&y, &a, &b) ||
                memcmp(&x, &y, sizeof(x)) != 0)
                bad++;
        }
    }
    srand(7);
    for (int i = 0; i < 300000; i++) { /* random coefficients of 1..38 digits, scales 0..38 */
        rb_dec v[2], x = {0, 0, 0, 0}, y = {0, 0, 0, 0};
        rb_status rx;
        for (int k = 0; k < 2; k++) {
            char t[48];
            int nd = 1 + rand() % 38, sc = rand() % 39, len = 0;
            if (rand() % 2)
                t[len++] = '-';
            for (int d = 0; d < nd; d++)
                t[len++] = (char)('0' + rand() % 10);
            snprintf(t + len, sizeof(t) - (size_t)len, "E-%d", sc);
            if (rb_dec_parse(&v[k], t, strlen(t), NULL) != RB_OK)
                v[k] = rb_dec_zero();
        }
        rx = rbi_usage_dec_add(&x, &v[0], &v[1]);
        if (rx != rb_dec_add(&y, &v[0], &v[1]) || (rx == RB_OK && memcmp(&x, &y, sizeof(x)) != 0))
            bad++;
        rx = rbi_usage_dec_add(&v[0], &v[0], &v[1]); /* in place */
        if (rx == RB_OK && memcmp(&v[0], &y, sizeof(y)) != 0)
            bad++;
    }
    INT_EQ(bad, 0);
}

static void test_misuse_after_failure(void)
{
    rb_usage_import *imp;
    rb_usage_import_opts o;
    rb_error err;

    memset(&o, 0, sizeof(o));
    INT_EQ(rb_usage_import_new(&imp, &o, &err), RB_OK);
    write_file(tmp_path("e.csv"), "");
    INT_EQ(rb_usage_import_file(imp, tmp_path("e.csv"), &err), RB_INVALID);
    INT_EQ(rb_usage_import_file(imp, FIX "cur_small.csv", &err), RB_MISUSE);
    STR_HAS(err.msg, "the import failed earlier");
    rb_usage_import_free(imp);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rebill-usage-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_format_name_and_free_null();
    test_new_refuses_bad_options();
    test_cur_small();
    test_formats_cur2_focus_quirks();
    test_restatement_and_unchanged();
    test_delivery_of_several_files();
    test_apply_runs_again_when_the_map_grows();
    test_same_result_on_any_thread_count();
    test_kept_tags();
    test_attribution_at_query_time();
    test_manifests();
    test_bad_rows();
    test_text_of_values();
    test_bad_files();
    test_effective_without_its_columns();
    test_max_errors();
    test_misuse_after_failure();
    test_amount_fast_path();
    test_sum_fast_path();
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return harness_done();
}
