/*
 * test_invoice.c -- invoice documents without a store: rounding spread over lines so they add
 * up to the total, the default layout over hostile data (newline, table pipes, HTML, emphasis)
 * in Markdown and HTML, a layout that stashes the builder, and layout failures; stored layouts
 * (layout.c): vetting, storage in the rules store, and the order a document's layout is chosen.
 */
#include "harness.h"
#include "invoice.h"
#include "sandbox.h"

#include <stdlib.h>
#include <string.h>

extern const struct rbi_script rbi_scripts[];

static rb_dec D(const char *s)
{
    rb_dec d = rb_dec_zero();
    rb_dec_parse(&d, s, strlen(s), NULL);
    return d;
}

static const char *T(rb_dec d)
{
    static char buf[4][RB_DEC_BUFSZ];
    static int k;
    k = (k + 1) % 4;
    rb_dec_format(&d, buf[k], RB_DEC_BUFSZ);
    return buf[k];
}

static void test_round_lines(void)
{
    /* three thirds of 1.00: half-even gives 0.33 x 3 = 0.99; one line takes the cent */
    rb_dec ex[3] = {D("0.333333333333"), D("0.333333333334"), D("0.333333333333")}, out[3];
    rb_dec t = D("1.00"), sum = rb_dec_zero();
    INT_EQ(rbi_inv_round_lines(ex, out, 3, "USD", &t), RB_OK);
    for (int i = 0; i < 3; i++)
        rb_dec_add(&sum, &sum, &out[i]);
    INT_EQ(rb_dec_cmp(&sum, &t), 0);
    STR_EQ(T(out[1]), "0.34"); /* the largest remainder */
    STR_EQ(T(out[0]), "0.33");
    /* downwards: 0.675 + 0.675 = 1.35 exact, but half-even rounds both to 0.68 */
    rb_dec ex2[2] = {D("0.675"), D("0.675")}, out2[2], t2 = D("1.35");
    INT_EQ(rbi_inv_round_lines(ex2, out2, 2, "USD", &t2), RB_OK);
    rb_dec s2;
    rb_dec_add(&s2, &out2[0], &out2[1]);
    INT_EQ(rb_dec_cmp(&s2, &t2), 0);
    /* JPY has no minor unit */
    rb_dec ex3[1] = {D("10.4")}, out3[1], t3 = D("10");
    INT_EQ(rbi_inv_round_lines(ex3, out3, 1, "JPY", &t3), RB_OK);
    STR_EQ(T(out3[0]), "10");
    /* a target too far from the lines is refused, not spread */
    rb_dec t4 = D("5.00");
    INT_EQ(rbi_inv_round_lines(ex2, out2, 2, "USD", &t4), RB_INVALID);
}

static const char *hostile =
    "evil | name\n# heading <script>alert(1)</script> *em* [x](javascript:y)";

static void doc_init(struct rbi_inv_doc *d, struct rbi_inv_line *l, rb_profile *p)
{
    memset(d, 0, sizeof(*d));
    memset(p, 0, sizeof(*p));
    snprintf(p->legal_name, sizeof(p->legal_name), "%s", "ACME <b>Partner</b> | Ltd");
    memset(l, 0, 2 * sizeof(*l));
    l[0].kind = "usage";
    l[0].service = "AmazonEC2";
    l[0].account = "111111111111";
    l[0].account_name = hostile;
    l[0].description = "AmazonEC2";
    l[0].amount = D("10.00");
    l[0].corrects = -1;
    l[1] = l[0];
    l[1].service = hostile;
    l[1].description = hostile;
    l[1].amount = D("2.50");
    d->kind = "invoice";
    d->number = "INV-2026-000001";
    d->refs = d->reason = "";
    d->issuer_id = "o-partner0001";
    d->issuer = p;
    d->customer_id = "o-customer01";
    d->customer_name = hostile;
    d->month = 2026 * 12 + 10;
    memcpy(d->currency, "USD", 4);
    d->lines = l;
    d->nlines = 2;
    d->subtotal = D("12.50");
    d->tax_name = "";
    d->tax_rate = d->tax = rb_dec_zero();
    d->total = D("12.50");
}

static void test_hostile(void)
{
    struct rbi_inv_doc d;
    struct rbi_inv_line l[2];
    rb_profile p;
    struct rbi_inv_forms f;
    rb_error err;

    doc_init(&d, l, &p);
    INT_EQ(rbi_inv_render(&d, NULL, NULL, 0, NULL, &f, &err), RB_OK);
    OK(f.md.data != NULL && f.html.data != NULL && f.json.data != NULL, "see line");
    if (!f.md.data)
        return;
    /* Markdown: no line starts with data; the pipe and markup are escaped */
    OK(strstr(f.md.data, "\n# heading") == NULL, "see line");
    STR_HAS(f.md.data, "evil \\| name");
    STR_HAS(f.md.data, "\\<script\\>");
    /* HTML: no element from data, the text shows literally */
    OK(strstr(f.html.data, "<script") == NULL, "see line");
    OK(strstr(f.html.data, "<b>Partner") == NULL, "see line");
    OK(strstr(f.html.data, "href=\"javascript") == NULL, "see line");
    STR_HAS(f.html.data, "&lt;script&gt;");
    STR_HAS(f.html.data, "<svg"); /* the chart, with the hostile service escaped */
    /* every table row keeps its two or three cells: the pipe did not split one */
    STR_HAS(f.html.data, "<td align=\"left\">evil | name # heading "
                         "&lt;script&gt;alert(1)&lt;/script&gt; *em* [x](javascript:y)</td>");
    STR_HAS(f.json.data, "\"total\":\"12.50\"");
    OK(strstr(f.json.data, "<script") == NULL, "see line");
    rbi_inv_forms_release(&f);
}

static void test_layouts(void)
{
    struct rbi_inv_doc d;
    struct rbi_inv_line l[2];
    rb_profile p;
    struct rbi_inv_forms f;
    rb_error err;
    const char *stash = "local saved\n"
                        "return function(inv, md) md:heading(1, inv.number) saved = md end\n";
    const char *raw = "return function(inv, md) md:para('<b>x</b>') md:table({'a','b'}, 'lr') "
                      "md:row({'1', rebill.money('2.50')}) md:table_end() end\n";
    const char *bad_row = "return function(inv, md) md:table({'a'}) md:row({'1','2'}) end\n";
    const char *loop = "return function(inv, md) while true do end end\n";

    doc_init(&d, l, &p);
    INT_EQ(rbi_inv_render(&d, "stash.lua", stash, strlen(stash), NULL, &f, &err), RB_OK);
    STR_EQ(f.md.data, "# INV-2026-000001\n");
    rbi_inv_forms_release(&f);
    INT_EQ(rbi_inv_render(&d, "raw.lua", raw, strlen(raw), NULL, &f, &err), RB_OK);
    STR_HAS(f.md.data, "\\<b\\>x\\</b\\>");
    STR_HAS(f.md.data, "| 1 | 2\\.50 |");
    rbi_inv_forms_release(&f);
    INT_EQ(rbi_inv_render(&d, "row.lua", bad_row, strlen(bad_row), NULL, &f, &err), RB_RUNTIME);
    STR_HAS(err.msg, "row.lua:1:");
    STR_HAS(err.msg, "2 cells for a table of 1 columns");
    rb_limits lim = rb_limits_default();
    lim.steps = 100000;
    INT_EQ(rbi_inv_render(&d, "loop.lua", loop, strlen(loop), &lim, &f, &err), RB_LIMIT_STEPS);
    STR_HAS(err.msg, "loop.lua");
    OK(f.md.data == NULL, "see line");
}

/* {===================================================================================
 * Stored layouts (layout.c): vetting, storage, and the choice of a document's layout
 * =================================================================================== */

static void test_layout_check(void)
{
    const struct rbi_script *def = NULL;
    const char *marks = "return function(inv, md) md:heading(1, inv.kind) end\n";
    const char *tab = "return {}\n";
    const char *syn = "return function(inv, md)\n  md:para(\n";
    const char *loop = "return function(inv, md) while true do end end\n";
    const char *no_cn = "return function(inv, md)\n"
                        "  assert(inv.kind ~= 'credit_note', 'invoices only')\n"
                        "  md:para('x')\nend\n";
    struct rbi_inv_doc d;
    struct rbi_inv_line l[2];
    rb_profile p;
    struct rbi_inv_forms f;
    rb_limits lim = rb_limits_default();
    rb_error err;

    for (const struct rbi_script *s = rbi_scripts; s->name; s++)
        if (strcmp(s->name, "layouts/default.lua") == 0)
            def = s;
    OK(def != NULL, "the default layout is embedded");
    if (def)
        INT_EQ(rb_layout_check("default.lua", def->src, def->len, NULL, &err), RB_OK);
    INT_EQ(rb_layout_check("marks.lua", marks, strlen(marks), NULL, &err), RB_OK);
    INT_EQ(rb_layout_check("tab.lua", tab, strlen(tab), NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "layout tab.lua: it returns a table, not a function");
    INT_EQ(rb_layout_check("empty.lua", "", 0, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "it returns nothing");
    INT_EQ(rb_layout_check("syn.lua", syn, strlen(syn), NULL, &err), RB_SYNTAX);
    STR_HAS(err.msg, "syn.lua:3:");
    lim.steps = 100000;
    INT_EQ(rb_layout_check("loop.lua", loop, strlen(loop), &lim, &err), RB_LIMIT_STEPS);
    STR_HAS(err.msg, "loop.lua:1:");
    STR_HAS(err.msg, "(laying out a sample invoice)");
    INT_EQ(rb_layout_check("no_cn.lua", no_cn, strlen(no_cn), NULL, &err), RB_RUNTIME);
    STR_HAS(err.msg, "no_cn.lua:2: invoices only (laying out a sample credit note)");
    INT_EQ(rb_layout_check(NULL, marks, strlen(marks), NULL, &err), RB_INVALID);
    INT_EQ(rb_layout_check("", marks, strlen(marks), NULL, &err), RB_INVALID);
    /* rendering refuses a non-function the same way, before any Lua runs on the document */
    doc_init(&d, l, &p);
    INT_EQ(rbi_inv_render(&d, "tab.lua", tab, strlen(tab), NULL, &f, &err), RB_INVALID);
    STR_HAS(err.msg, "it returns a table, not a function");
    OK(f.md.data == NULL, "no forms after a refusal");
}

#define LO_I "o-issuer00001"
#define LO_C "o-customer01"
#define LO_X "o-unrelated01"

struct lo_ctx {
    const char *src[3];
    rb_layout l;
    int n;
    char order[128];
};

static rb_status lo_setup(rb_txn *txn, void *ctx)
{
    const char *ids[3] = {LO_I, LO_C, LO_X};
    rb_status rc = RB_OK;

    (void)ctx;
    for (int i = 0; i < 3 && rc == RB_OK; i++) {
        rb_org o;
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", ids[i]);
        snprintf(o.name, sizeof(o.name), "org %d", i);
        snprintf(o.management_account, sizeof(o.management_account), "90000000000%d", i);
        rc = rb_org_create(txn, &o);
    }
    return rc;
}

static rb_status lo_count(const rb_layout *l, void *vctx)
{
    struct lo_ctx *c = vctx;

    c->n++;
    snprintf(c->order + strlen(c->order), sizeof(c->order) - strlen(c->order), "%s ", l->org);
    return RB_OK;
}

/* The name of the layout resolve picks ("" for the default). */
static const char *lo_pick(rb_txn *txn, const rb_invoice_opts *given)
{
    static char name[RB_PRICE_LABEL_MAX + 1];
    struct rbi_layout_use u;
    rb_status rc = rbi_layout_resolve(txn, LO_C, LO_I, given, &u);

    snprintf(name, sizeof(name), "%s",
             rc != RB_OK ? "error" : u.opts.layout_src ? u.opts.layout_name : "");
    if (rc == RB_OK && u.org[0] && strlen(u.src) != u.opts.layout_len)
        snprintf(name, sizeof(name), "bad copy");
    rbi_layout_use_release(&u);
    return name;
}

static rb_status lo_run(rb_txn *txn, void *vctx)
{
    struct lo_ctx *c = vctx;
    rb_invoice_opts given = {"flag.lua", c->src[2], strlen(c->src[2]), NULL, NULL};
    rb_rules_blob blob;
    rb_layout l;

    STR_EQ(lo_pick(txn, NULL), "");
    INT_EQ(rb_layout_get(txn, LO_C, &l), RB_OK);
    STR_EQ(l.hash, "");
    INT_EQ(rb_layout_set(txn, LO_I, "issuer.lua", c->src[0], strlen(c->src[0]), NULL, 1, &l),
           RB_OK);
    INT_EQ(rb_rules_get(txn, l.hash, &blob), RB_OK); /* the source sits in the rules store */
    OK(blob.len == strlen(c->src[0]) && memcmp(blob.src, c->src[0], blob.len) == 0, "source");
    STR_EQ(lo_pick(txn, NULL), "issuer.lua");
    INT_EQ(rb_layout_set(txn, LO_C, "customer.lua", c->src[1], strlen(c->src[1]), NULL, 2, &l),
           RB_OK);
    STR_EQ(lo_pick(txn, NULL), "customer.lua");
    STR_EQ(lo_pick(txn, &given), "flag.lua");
    INT_EQ(rb_layout_list(txn, lo_count, c), RB_OK);
    INT_EQ(c->n, 2);
    STR_EQ(c->order, LO_C " " LO_I " ");
    INT_EQ(rb_layout_get(txn, LO_C, &c->l), RB_OK);
    STR_EQ(c->l.name, "customer.lua");
    INT_EQ(c->l.set_at, 2);
    INT_EQ(rb_layout_clear(txn, LO_C), RB_OK);
    STR_EQ(lo_pick(txn, NULL), "issuer.lua");
    INT_EQ(rb_layout_clear(txn, LO_C), RB_NOTFOUND);
    STR_HAS(rb_errmsg(rb_txn_store(txn)), LO_C " has no stored layout");
    INT_EQ(rb_layout_clear(txn, LO_I), RB_OK);
    STR_EQ(lo_pick(txn, NULL), "");
    INT_EQ(rb_layout_set(txn, "o-nosuchorg00", "x.lua", c->src[0], strlen(c->src[0]), NULL, 3,
                         NULL), RB_NOTFOUND);
    INT_EQ(rb_layout_set(txn, LO_X, "x.lua", "return 1", 8, NULL, 3, NULL), RB_INVALID);
    STR_HAS(rb_errmsg(rb_txn_store(txn)), "x.lua: it returns a number, not a function");
    INT_EQ(rb_layout_get(txn, "O-BAD", &l), RB_INVALID);
    INT_EQ(rb_layout_get(txn, LO_X, &l), RB_OK);
    STR_EQ(l.hash, "");
    return RB_OK;
}

static void test_layout_store(void)
{
    char dir[64], path[128], cmd[200];
    struct lo_ctx c;
    rb_store *st = NULL;
    rb_error err;

    memset(&c, 0, sizeof(c));
    c.src[0] = "return function(inv, md) md:para('issuer') end\n";
    c.src[1] = "return function(inv, md) md:para('customer') end\n";
    c.src[2] = "return function(inv, md) md:para('flag') end\n";
    snprintf(dir, sizeof(dir), "/tmp/rebill-test-layout.XXXXXX");
    if (!mkdtemp(dir)) {
        OK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/t.db", dir);
    INT_EQ(rb_store_open(&st, path, RB_OPEN_CREATE, &err), RB_OK);
    if (st) {
        INT_EQ(rb_store_update(st, lo_setup, &c), RB_OK);
        INT_EQ(rb_store_update(st, lo_run, &c), RB_OK);
    }
    rb_store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
    test_round_lines();
    test_hostile();
    test_layouts();
    test_layout_check();
    test_layout_store();
    return harness_done();
}
