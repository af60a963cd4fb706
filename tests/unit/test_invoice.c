/*
 * test_invoice.c -- invoice documents without a store: rounding spread over lines so they add
 * up to the total, the default layout over hostile data (newline, table pipes, HTML, emphasis)
 * in Markdown and HTML, a layout that stashes the builder, and layout failures.
 */
#include "harness.h"
#include "invoice.h"

#include <string.h>

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

int main(void)
{
    test_round_lines();
    test_hostile();
    test_layouts();
    return harness_done();
}
