/*
 * test_mdbuild.c -- the Markdown builder (rb_md_*): golden Markdown, escaping of every ASCII
 * character in every position, hostile and random data rendered back to exactly the text it
 * was (tables keep their column count), bold spacing, links, sticky errors, misuse, limits
 * (and that whatever the builder accepts, rb_render_html() accepts), allocation failures.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>

/* The builder's Markdown, or NULL after a failure (the builder keeps ownership). */
static const char *result(rb_md *md)
{
    const char *out;
    size_t len;

    if (rb_md_result(md, &out, &len) != RB_OK)
        return NULL;
    OK(strlen(out) == len, "length %zu, strlen %zu", len, strlen(out));
    return out;
}

/* Render the builder's Markdown; the caller frees with rb_free(). */
static char *rendered(rb_md *md)
{
    const char *src = result(md);
    char *html = NULL;
    rb_error err;

    if (!src)
        return NULL;
    if (rb_render_html(src, strlen(src), 0, &html, NULL, &err) != RB_OK) {
        OK(0, "rb_render_html refused builder output: %s", err.msg);
        return NULL;
    }
    return html;
}

/* STR_EQ for a malloc'd string, which it frees. */
#define HTML_EQ(got, want)                                                                         \
    do {                                                                                           \
        char *h_ = (got);                                                                          \
        STR_EQ(h_, want);                                                                          \
        rb_free(h_);                                                                               \
    } while (0)

/* {===================================================================================
 * Golden output
 * =================================================================================== */

static const char golden_md[] = "# Invoice INV-2026-000042\n"
                                "\n"
                                "**Customer:** Acme \\*Corp\\* \\<b\\>\n"
                                "\n"
                                "**Period:** 2026-11 **Due:** 2026-12-31\n"
                                "\n"
                                "## Charges\n"
                                "\n"
                                "| Service | Account | Amount |\n"
                                "| :--- | --- | ---: |\n"
                                "| Amazon EC2 | prod\\_main \\| eu | 1,234.56 |\n"
                                "| \\-5% credit |  | \\-61.73 |\n"
                                "| **Total** |  | **1,172.83** |\n"
                                "\n"
                                "- Pay to: IBAN DE00 \\#1\n"
                                "- 2\\. reminder\n"
                                "\n"
                                "Questions? [Write to us](mailto:billing@example.com) or see "
                                "[the portal](https://example.com/a%20b?x=1&amp;y=%282%29).\n";

static const char golden_html[] =
    "<h1>Invoice INV-2026-000042</h1>\n"
    "<p><strong>Customer:</strong> Acme *Corp* &lt;b&gt;</p>\n"
    "<p><strong>Period:</strong> 2026-11 <strong>Due:</strong> 2026-12-31</p>\n"
    "<h2>Charges</h2>\n"
    "<table>\n<thead>\n<tr>\n"
    "<th align=\"left\">Service</th>\n<th>Account</th>\n<th align=\"right\">Amount</th>\n"
    "</tr>\n</thead>\n<tbody>\n"
    "<tr>\n<td align=\"left\">Amazon EC2</td>\n<td>prod_main | eu</td>\n"
    "<td align=\"right\">1,234.56</td>\n</tr>\n"
    "<tr>\n<td align=\"left\">-5% credit</td>\n<td></td>\n<td align=\"right\">-61.73</td>\n"
    "</tr>\n"
    "<tr>\n<td align=\"left\"><strong>Total</strong></td>\n<td></td>\n"
    "<td align=\"right\"><strong>1,172.83</strong></td>\n</tr>\n"
    "</tbody>\n</table>\n"
    "<ul>\n<li>Pay to: IBAN DE00 #1</li>\n<li>2. reminder</li>\n</ul>\n"
    "<p>Questions? <a href=\"mailto:billing@example.com\">Write to us</a> or see "
    "<a href=\"https://example.com/a%20b?x=1&amp;y=%282%29\">the portal</a>.</p>\n";

/* Build the golden document; the status of the last call (errors are sticky). */
static rb_status build_golden(rb_md *md)
{
    static const char *const head[] = {"Service", "Account", "Amount"};
    static const char *const r1[] = {"Amazon EC2", "prod_main | eu", "1,234.56"};
    static const char *const r2[] = {"-5% credit", NULL, "-61.73"};
    static const char *const tot[] = {"Total", "", "1,172.83"};

    rb_md_heading(md, 1, "Invoice INV-2026-000042");
    rb_md_bold(md, "Customer:");
    rb_md_para(md, " Acme *Corp* <b>");
    rb_md_bold(md, "Period:");
    rb_md_text(md, "2026-11"); /* a space goes in after "Period:" */
    rb_md_bold(md, " Due: ");
    rb_md_para(md, "2026-12-31");
    rb_md_heading(md, 2, "Charges");
    rb_md_table_begin(md, 3, head, "l-r");
    rb_md_table_row(md, r1);
    rb_md_table_row(md, r2);
    rb_md_table_row_bold(md, tot);
    rb_md_table_end(md);
    rb_md_list_item(md, "Pay to: IBAN DE00 #1");
    rb_md_list_item(md, "2. reminder");
    rb_md_text(md, "Questions? ");
    rb_md_link(md, "Write to us", "mailto:billing@example.com");
    rb_md_text(md, " or see ");
    rb_md_link(md, "the portal", "https://example.com/a b?x=1&y=(2)");
    return rb_md_para(md, ".");
}

static void test_md_golden(void)
{
    rb_md *md = rb_md_new();

    INT_EQ(build_golden(md), RB_OK);
    STR_EQ(result(md), golden_md);
    HTML_EQ(rendered(md), golden_html);
    /* rb_md_result() is a snapshot: the document goes on. */
    INT_EQ(rb_md_para(md, "more"), RB_OK);
    OK(strcmp(result(md) + strlen(golden_md), "\nmore\n") == 0, "%s", result(md));
    rb_md_free(md);
}

static void test_md_blocks(void)
{
    rb_md *md = rb_md_new();
    static const char *const h[] = {"a"};

    /* Empty document. */
    STR_EQ(result(md), "");
    /* Every heading level; empty heading; empty paragraph writes nothing. */
    for (int level = 1; level <= 6; level++)
        INT_EQ(rb_md_heading(md, level, "h"), RB_OK);
    INT_EQ(rb_md_heading(md, 3, "  "), RB_OK);
    INT_EQ(rb_md_para(md, NULL), RB_OK);
    INT_EQ(rb_md_para(md, " \n\t "), RB_OK);
    STR_EQ(result(md), "# h\n\n## h\n\n### h\n\n#### h\n\n##### h\n\n###### h\n\n###\n");
    rb_md_free(md);

    /* Consecutive items make one list; any other block ends it; empty items stay items. */
    md = rb_md_new();
    rb_md_list_item(md, "a");
    rb_md_list_item(md, "");
    rb_md_list_item(md, "b");
    rb_md_para(md, "p");
    rb_md_list_item(md, "c");
    rb_md_table_begin(md, 1, h, NULL);
    rb_md_table_end(md);
    rb_md_list_item(md, "d");
    STR_EQ(result(md), "- a\n-\n- b\n\np\n\n- c\n\n| a |\n| --- |\n\n- d\n");
    HTML_EQ(rendered(md), "<ul>\n<li>a</li>\n<li></li>\n<li>b</li>\n</ul>\n<p>p</p>\n"
                          "<ul>\n<li>c</li>\n</ul>\n<table>\n<thead>\n<tr>\n<th>a</th>\n"
                          "</tr>\n</thead>\n</table>\n<ul>\n<li>d</li>\n</ul>\n");
    rb_md_free(md);

    /* The inline run starts the next heading, paragraph or item; a table or the result
     * makes it a paragraph of its own. */
    md = rb_md_new();
    rb_md_text(md, "run ");
    rb_md_heading(md, 2, "head");
    rb_md_bold(md, "b");
    rb_md_list_item(md, " item");
    rb_md_text(md, "orphan");
    rb_md_table_begin(md, 1, h, "c");
    rb_md_table_end(md);
    rb_md_text(md, "tail ");
    STR_EQ(result(md), "## run head\n\n- **b** item\n\norphan\n\n| a |\n| :---: |\n\ntail\n");
    rb_md_free(md);
}

/* {===================================================================================
 * Escaping
 * =================================================================================== */

/* The text cmark must show for `raw`: control characters as spaces, invalid UTF-8 as
 * U+FFFD, outer spaces dropped, then HTML-escaped as cmark does (& < > "). This is the
 * test's own oracle, independent of mdbuild.c. */
static void expect_text(struct rb_buf *out, const char *raw)
{
    struct rb_buf t = {0};
    const unsigned char *s = (const unsigned char *)raw;
    size_t b, e;

    rbi_buf_puts(&t, "");
    while (*s) {
        int n = *s < 0x80             ? 1
                : (*s & 0xe0) == 0xc0 ? 2
                : (*s & 0xf0) == 0xe0 ? 3
                : (*s & 0xf8) == 0xf0 ? 4
                                      : 0;
        bool valid = n > 0;
        unsigned cp = n == 1 ? *s : n == 2 ? *s & 0x1fu : n == 3 ? *s & 0x0fu : *s & 0x07u;

        for (int i = 1; valid && i < n; i++) {
            valid = (s[i] & 0xc0) == 0x80;
            cp = cp << 6 | (s[i] & 0x3fu);
        }
        if (valid &&
            ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
             (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
            valid = false;
        if (!valid) {
            rbi_buf_puts(&t, "\xef\xbf\xbd");
            s++;
        } else if (*s < 0x20 || *s == 0x7f) {
            rbi_buf_puts(&t, " ");
            s++;
        } else {
            rbi_buf_append(&t, s, (size_t)n);
            s += n;
        }
    }
    for (b = 0; b < t.len && t.data[b] == ' '; b++)
        ;
    for (e = t.len; e > b && t.data[e - 1] == ' '; e--)
        ;
    for (size_t i = b; i < e; i++) {
        char c = t.data[i];

        if (c == '&')
            rbi_buf_puts(out, "&amp;");
        else if (c == '<')
            rbi_buf_puts(out, "&lt;");
        else if (c == '>')
            rbi_buf_puts(out, "&gt;");
        else if (c == '"')
            rbi_buf_puts(out, "&quot;");
        else
            rbi_buf_append(out, &c, 1);
    }
    rbi_buf_release(&t);
}

/* Every printable ASCII character, inside text and at the start of each kind of block:
 * escaped exactly when the rules say, and shown literally by cmark. */
static void test_md_escape_ascii(void)
{
    for (int c = 0x21; c < 0x7f; c++) {
        char mid[4] = {'x', (char)c, 'y', 0}, first[3] = {(char)c, 'y', 0}, md_mid[8], md_first[8];
        const char *always = strchr("\\`*_[]<>&|#~", c) ? "\\" : "";
        const char *lead =
            (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') ? "\\" : "";
        struct rb_buf want = {0};
        const char *cells[1] = {first};
        rb_md *md = rb_md_new();

        snprintf(md_mid, sizeof(md_mid), "x%s%cy", always, c);
        snprintf(md_first, sizeof(md_first), "%s%cy", lead, c);
        rb_md_para(md, mid);
        rb_md_para(md, first);
        rb_md_heading(md, 2, first);
        rb_md_list_item(md, first);
        rb_md_table_begin(md, 1, cells, NULL);
        rb_md_table_row(md, cells);
        rb_md_table_end(md);

        rbi_buf_printf(&want, "%s\n\n%s\n\n## %s\n\n- %s\n\n| %s |\n| --- |\n| %s |\n", md_mid,
                       md_first, md_first, md_first, md_first, md_first);
        OK(strcmp(result(md), want.data) == 0, "char '%c': got\n%s\nwant\n%s", c, result(md),
           want.data);

        struct rb_buf lit = {0}, html = {0};
        expect_text(&lit, first);
        rbi_buf_puts(&html, "<p>x");
        expect_text(&html, (char[]){(char)c, 0});
        rbi_buf_printf(&html,
                       "y</p>\n<p>%s</p>\n<h2>%s</h2>\n<ul>\n<li>%s</li>\n</ul>\n<table>\n"
                       "<thead>\n<tr>\n<th>%s</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
                       "<td>%s</td>\n</tr>\n</tbody>\n</table>\n",
                       lit.data, lit.data, lit.data, lit.data, lit.data);
        char *got = rendered(md);
        OK(got && strcmp(got, html.data) == 0, "char '%c': got\n%s\nwant\n%s", c,
           got ? got : "(null)", html.data);
        rb_free(got);
        rbi_buf_release(&lit);
        rbi_buf_release(&html);
        rbi_buf_release(&want);
        rb_md_free(md);
    }
}

/* The digits-then-'.' rule, across inline pieces too; control characters and UTF-8. */
static void test_md_escape_rules(void)
{
    rb_md *md = rb_md_new();

    rb_md_para(md, "1. x");
    rb_md_para(md, "2026) x");
    rb_md_para(md, "12 3. x");
    rb_md_text(md, "12");
    rb_md_para(md, ". split");
    rb_md_list_item(md, "  7) seven");
    rb_md_para(md, "a\nb\r\nc\td\x01"
                   "e\x7f");
    rb_md_para(md, "caf\xc3\xa9 \xff\xfe \xed\xa0\x80 \xf0\x9f\x92\xb6");
    rb_md_para(md, "    code? no");
    rb_md_para(md, "a  b");
    STR_EQ(result(md), "1\\. x\n\n2026\\) x\n\n12 3. x\n\n12\\. split\n\n- 7\\) seven\n\n"
                       "a b  c d e\n\n"
                       "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                       "\xf0\x9f\x92\xb6\n\ncode? no\n\na  b\n");
    HTML_EQ(rendered(md), "<p>1. x</p>\n<p>2026) x</p>\n<p>12 3. x</p>\n<p>12. split</p>\n"
                          "<ul>\n<li>7) seven</li>\n</ul>\n<p>a b  c d e</p>\n"
                          "<p>caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd "
                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x92\xb6</p>\n"
                          "<p>code? no</p>\n<p>a  b</p>\n");
    rb_md_free(md);
}

/* Build a document with `s` in every position; return the exact HTML it must render to. */
static void hostile_doc(rb_md *md, const char *s, struct rb_buf *want)
{
    const char *head[3] = {s, "h", s}, *row[3] = {"m", s, s}, *tot[3] = {s, NULL, "t"};
    struct rb_buf lit = {0};
    const char *l;
    size_t n;

    expect_text(&lit, s);
    rbi_buf_puts(&lit, "");
    l = lit.data;
    n = lit.len;

    rb_md_heading(md, 2, s);
    rbi_buf_printf(want, "<h2>%s</h2>\n", l);
    rb_md_para(md, s);
    if (n)
        rbi_buf_printf(want, "<p>%s</p>\n", l);
    rb_md_list_item(md, s);
    rb_md_list_item(md, "z");
    rbi_buf_printf(want, "<ul>\n<li>%s</li>\n<li>z</li>\n</ul>\n", l);

    /* Bold between letters: a space on a side where the bold text is not alphanumeric or
     * has spaces. */
    rb_md_text(md, "x");
    rb_md_bold(md, s);
    rb_md_para(md, "y");
    if (n) {
        /* first and last characters of the shown text, HTML-escaping aside */
        struct rb_buf raw = {0};
        const unsigned char *r;

        rbi_buf_puts(&raw, "");
        for (r = (const unsigned char *)s; *r; r++)
            rbi_buf_append(&raw, (*r < 0x20 || *r == 0x7f) ? " " : (const char *)r, 1);
        size_t b = 0, e = raw.len;
        while (raw.data[b] == ' ')
            b++;
        while (e > b && raw.data[e - 1] == ' ')
            e--;
        unsigned char f = (unsigned char)raw.data[b], z = (unsigned char)raw.data[e - 1];
        bool fa = (f >= '0' && f <= '9') || (f >= 'a' && f <= 'z') || (f >= 'A' && f <= 'Z');
        bool za = (z >= '0' && z <= '9') || (z >= 'a' && z <= 'z') || (z >= 'A' && z <= 'Z');
        /* outer spaces of the bold text stay outside it, as one space */
        bool lead = raw.data[0] == ' ', trail = raw.data[raw.len - 1] == ' ';
        rbi_buf_printf(want, "<p>x%s<strong>%s</strong>%sy</p>\n", fa && !lead ? "" : " ", l,
                       za && !trail ? "" : " ");
        rbi_buf_release(&raw);
    } else {
        rbi_buf_puts(want, "<p>xy</p>\n");
    }

    rb_md_text(md, "see ");
    rb_md_link(md, s, "https://example.com/");
    rb_md_para(md, NULL);
    rbi_buf_printf(want, "<p>see <a href=\"https://example.com/\">%s</a></p>\n",
                   n ? l : "https://example.com/");

    rb_md_table_begin(md, 3, head, "lrc");
    rb_md_table_row(md, row);
    rb_md_table_row_bold(md, tot);
    rb_md_table_end(md);
    rbi_buf_printf(want,
                   "<table>\n<thead>\n<tr>\n<th align=\"left\">%s</th>\n"
                   "<th align=\"right\">h</th>\n<th align=\"center\">%s</th>\n</tr>\n</thead>\n"
                   "<tbody>\n<tr>\n<td align=\"left\">m</td>\n<td align=\"right\">%s</td>\n"
                   "<td align=\"center\">%s</td>\n</tr>\n<tr>\n",
                   l, l, l, l);
    if (n)
        rbi_buf_printf(want, "<td align=\"left\"><strong>%s</strong></td>\n", l);
    else
        rbi_buf_puts(want, "<td align=\"left\"></td>\n");
    rbi_buf_puts(want, "<td align=\"right\"></td>\n<td align=\"center\"><strong>t</strong>"
                       "</td>\n</tr>\n</tbody>\n</table>\n");
    rbi_buf_release(&lit);
}

static void check_hostile(const char *s)
{
    rb_md *md = rb_md_new();
    struct rb_buf want = {0};
    char *got;

    hostile_doc(md, s, &want);
    got = rendered(md);
    OK(got && strcmp(got, want.data) == 0, "data \"%s\":\nmarkdown:\n%s\ngot:\n%s\nwant:\n%s", s,
       result(md) ? result(md) : "(failed)", got ? got : "(null)", want.data);
    /* Belt and braces: the table has exactly three cells per row. */
    for (const char *tr = got ? strstr(got, "<tr>") : NULL; tr; tr = strstr(tr + 1, "<tr>")) {
        const char *end = strstr(tr, "</tr>");
        int cells = 0;

        for (const char *c = strstr(tr, "<t"); c && c < end; c = strstr(c + 1, "<t"))
            cells += c[2] == 'd' || c[2] == 'h';
        INT_EQ(cells, 3);
    }
    rb_free(got);
    rbi_buf_release(&want);
    rb_md_free(md);
}

static void test_md_hostile(void)
{
    static const char *const names[] = {
        "a|b",
        "|",
        "||||",
        "*bold*",
        "**x**",
        "_under_",
        "`code`",
        "``",
        "[link](http://evil/)",
        "![img](http://evil/x.png)",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "&amp; &lt; &#60; &#x3c;",
        "&",
        "line1\nline2",
        "cell\n| x | y |",
        "\n# heading",
        "# heading",
        "#",
        "- item",
        "-",
        "---",
        "* * *",
        "+ plus",
        "1. one",
        "1) one",
        "> quote",
        "=====",
        ":---:",
        "| --- | --- |",
        "    indented code",
        "```fence",
        "~~~",
        "~~strike~~",
        "\\",
        "a\\",
        "\\|",
        "\\\\|",
        "[x]: http://evil/",
        "<http://evil/>",
        "javascript:alert(1)",
        "x  \nhard break",
        "tab\there",
        "\x01\x02\x1b[31mred",
        "caf\xc3\xa9 \xe2\x82\xac 100",
        "\xff\xfe",
        "\"quoted\" 'single'",
        "!",
        "***",
        "_*_*",
        " leading and trailing ",
        "ends with punct.",
        ".starts",
        "(paren)",
        "a*",
        "*a",
        "1.5",
        "-1.5",
    };

    for (size_t i = 0; i < RB_COUNTOF(names); i++)
        check_hostile(names[i]);
}

/* Random strings of dangerous pieces, a deterministic sequence. */
static void test_md_random(void)
{
    static const char *const pieces[] = {
        "|",    "*",   "_",     "`",  "[", "]",   "<script>", "&amp;", "\n", "#",        "-",
        "1.",   "\\",  "!",     "(",  ")", ">",   "~",        "  ",    "a",  "\xc3\xa9", "\t",
        "\r\n", "+",   "=",     ":",  "<", "\"",  "'",        "**",    "__", "\x01",     "\xff",
        "1)",   "---", "http:", "&#", ";", "\\|", "9",        "Z",     " "};
    uint32_t x = 12345;

    for (int round = 0; round < 1500; round++) {
        struct rb_buf s = {0};
        int n;

        rbi_buf_puts(&s, "");
        x = x * 1103515245u + 12345u;
        n = 1 + (int)(x >> 16) % 8;
        for (int i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            rbi_buf_puts(&s, pieces[(x >> 16) % RB_COUNTOF(pieces)]);
        }
        check_hostile(s.data);
        rbi_buf_release(&s);
    }
}

static void test_md_bold(void)
{
    rb_md *md = rb_md_new();

    rb_md_bold(md, "Total:");
    rb_md_text(md, "EUR 5");
    rb_md_para(md, NULL);
    rb_md_bold(md, "EUR");
    rb_md_para(md, "5");
    rb_md_text(md, "x");
    rb_md_bold(md, "(y)");
    rb_md_para(md, "z");
    rb_md_bold(md, "a");
    rb_md_bold(md, "b");
    rb_md_para(md, NULL);
    rb_md_bold(md, "a.");
    rb_md_para(md, ", b");
    rb_md_bold(md, "*");
    rb_md_bold(md, "   ");
    rb_md_para(md, "!");
    rb_md_bold(md, "\xc3\xa9t\xc3\xa9");
    rb_md_para(md, "x");
    STR_EQ(result(md), "**Total:** EUR 5\n\n**EUR**5\n\nx **(y)** z\n\n**a** **b**\n\n"
                       "**a.**, b\n\n**\\***!\n\n**\xc3\xa9t\xc3\xa9** x\n");
    HTML_EQ(rendered(md),
            "<p><strong>Total:</strong> EUR 5</p>\n<p><strong>EUR</strong>5</p>\n"
            "<p>x <strong>(y)</strong> z</p>\n<p><strong>a</strong> <strong>b</strong></p>\n"
            "<p><strong>a.</strong>, b</p>\n<p><strong>*</strong>!</p>\n"
            "<p><strong>\xc3\xa9t\xc3\xa9</strong> x</p>\n");
    rb_md_free(md);
}

static void test_md_link(void)
{
    static const struct {
        const char *url, *dest;
    } good[] = {
        {"http://example.com/", "http://example.com/"},
        {"HTTPS://Example.com/Path", "HTTPS://Example.com/Path"},
        {"mailto:a@b.example", "mailto:a@b.example"},
        {"https://x/a b<c>(d)[e]\\f|g\"h'i`j",
         "https://x/a%20b%3Cc%3E%28d%29%5Be%5D%5Cf%7Cg%22h%27i%60j"},
        {"https://x/?q=a&b=c&amp;", "https://x/?q=a&amp;b=c&amp;amp;"},
        {"https://x/caf\xc3\xa9", "https://x/caf%C3%A9"},
        {"https://x/*_#~", "https://x/*_#~"},
    };
    static const char *const bad[] = {
        NULL,
        "",
        "http://",
        "https:/x",
        "javascript:alert(1)",
        "JAVASCRIPT:x",
        "data:text/html,x",
        "ftp://x",
        "//x",
        "/relative",
        "https://x/\n",
        "https://x/\x7f",
        "vbscript:x",
    };

    for (size_t i = 0; i < RB_COUNTOF(good); i++) {
        rb_md *md = rb_md_new();
        struct rb_buf want = {0};

        INT_EQ(rb_md_link(md, "t", good[i].url), RB_OK);
        rbi_buf_printf(&want, "[t](%s)\n", good[i].dest);
        STR_EQ(result(md), want.data);
        /* cmark keeps the destination as the href (HTML-escaping '&' once more). */
        char *html = rendered(md);
        OK(html && strstr(html, "<a href=\"") != NULL, "%s", html ? html : "(null)");
        rb_free(html);
        rbi_buf_release(&want);
        rb_md_free(md);
    }
    for (size_t i = 0; i < RB_COUNTOF(bad); i++) {
        rb_md *md = rb_md_new();

        INT_EQ(rb_md_link(md, "t", bad[i]), RB_INVALID);
        STR_HAS(rb_md_errmsg(md), "invalid link url");
        INT_EQ(rb_md_para(md, "after"), RB_INVALID); /* sticky */
        rb_md_free(md);
    }
    rb_md *md = rb_md_new();
    rb_md_link(md, NULL, "https://x/a_b*c");
    rb_md_para(md, NULL);
    rb_md_link(md, " <b> ", "https://x/?a=1&b=2");
    rb_md_para(md, NULL);
    STR_EQ(result(md), "[https://x/a\\_b\\*c](https://x/a_b*c)\n\n"
                       "[\\<b\\>](https://x/?a=1&amp;b=2)\n");
    HTML_EQ(rendered(md), "<p><a href=\"https://x/a_b*c\">https://x/a_b*c</a></p>\n"
                          "<p><a href=\"https://x/?a=1&amp;b=2\">&lt;b&gt;</a></p>\n");
    rb_md_free(md);
}

/* {===================================================================================
 * Errors, limits, allocation failures
 * =================================================================================== */

static void test_md_errors(void)
{
    static const char *const h2[] = {"a", "b"};
    rb_md *md;
    const char *out = "x";

    rb_md_free(NULL); /* harmless no-op */
    STR_EQ(rb_md_errmsg(NULL), "");
    INT_EQ(rb_md_heading(NULL, 1, "x"), RB_MISUSE);
    INT_EQ(rb_md_para(NULL, "x"), RB_MISUSE);
    INT_EQ(rb_md_text(NULL, "x"), RB_MISUSE);
    INT_EQ(rb_md_bold(NULL, "x"), RB_MISUSE);
    INT_EQ(rb_md_link(NULL, "x", "http://x"), RB_MISUSE);
    INT_EQ(rb_md_list_item(NULL, "x"), RB_MISUSE);
    INT_EQ(rb_md_table_begin(NULL, 1, h2, NULL), RB_MISUSE);
    INT_EQ(rb_md_table_row(NULL, h2), RB_MISUSE);
    INT_EQ(rb_md_table_row_bold(NULL, h2), RB_MISUSE);
    INT_EQ(rb_md_table_end(NULL), RB_MISUSE);
    INT_EQ(rb_md_result(NULL, &out, NULL), RB_MISUSE);
    OK(out == NULL, "out not cleared");

    /* Each failure is sticky and says what failed. */
    static const struct {
        int what;
        rb_status rc;
        const char *msg;
    } cases[] = {
        {0, RB_INVALID, "invalid heading level 0: want 1..6"},
        {1, RB_INVALID, "invalid heading level 7: want 1..6"},
        {2, RB_INVALID, "invalid table column count 0: want 1..64"},
        {3, RB_INVALID, "invalid table column count 65: want 1..64"},
        {4, RB_INVALID, "rb_md_table_begin: headers is NULL"},
        {5, RB_INVALID, "invalid table alignment \"lrc\": want 2 of 'l', 'r', 'c' or '-'"},
        {6, RB_INVALID, "invalid table alignment \"lx\": want 2 of 'l', 'r', 'c' or '-'"},
        {7, RB_MISUSE, "rb_md_table_row: no table is open"},
        {8, RB_MISUSE, "rb_md_table_end: no table is open"},
        {9, RB_MISUSE, "rb_md_para: a table is open: end it first"},
        {10, RB_MISUSE, "rb_md_result: a table is open: end it first"},
        {11, RB_MISUSE, "rb_md_table_begin: a table is open: end it first"},
        {12, RB_INVALID, "rb_md_table_row: cells is NULL"},
        {13, RB_MISUSE, "rb_md_text: a table is open: end it first"},
    };
    for (size_t i = 0; i < RB_COUNTOF(cases); i++) {
        rb_status rc = RB_OK;

        md = rb_md_new();
        rb_md_para(md, "before");
        if (cases[i].what >= 9)
            rb_md_table_begin(md, 2, h2, NULL);
        switch (cases[i].what) {
        case 0:
            rc = rb_md_heading(md, 0, "x");
            break;
        case 1:
            rc = rb_md_heading(md, 7, "x");
            break;
        case 2:
            rc = rb_md_table_begin(md, 0, h2, NULL);
            break;
        case 3:
            rc = rb_md_table_begin(md, 65, h2, NULL);
            break;
        case 4:
            rc = rb_md_table_begin(md, 2, NULL, NULL);
            break;
        case 5:
            rc = rb_md_table_begin(md, 2, h2, "lrc");
            break;
        case 6:
            rc = rb_md_table_begin(md, 2, h2, "lx");
            break;
        case 7:
            rc = rb_md_table_row(md, h2);
            break;
        case 8:
            rc = rb_md_table_end(md);
            break;
        case 9:
            rc = rb_md_para(md, "x");
            break;
        case 10:
            rc = rb_md_result(md, &out, NULL);
            break;
        case 11:
            rc = rb_md_table_begin(md, 2, h2, NULL);
            break;
        case 12:
            rc = rb_md_table_row(md, NULL);
            break;
        case 13:
            rc = rb_md_text(md, "x");
            break;
        }
        INT_EQ(rc, cases[i].rc);
        STR_EQ(rb_md_errmsg(md), cases[i].msg);
        INT_EQ(rb_md_para(md, "later"), cases[i].rc);
        INT_EQ(rb_md_table_end(md), cases[i].rc);
        INT_EQ(rb_md_result(md, &out, NULL), cases[i].rc);
        OK(out == NULL, "case %zu: result after a failure", i);
        STR_EQ(rb_md_errmsg(md), cases[i].msg); /* the first failure's message stays */
        rb_md_free(md);
    }
    md = rb_md_new();
    STR_EQ(rb_md_errmsg(md), "");
    rb_md_free(md);
}

static void test_md_limits(void)
{
    const char *cells[RB_RENDER_MAX_COLUMNS];
    char big[1024];
    rb_md *md;
    rb_error err;
    char *html;
    const char *src;
    size_t len;

    /* 64 columns are fine, and render as 64 columns. */
    for (int i = 0; i < RB_RENDER_MAX_COLUMNS; i++)
        cells[i] = "|";
    md = rb_md_new();
    INT_EQ(rb_md_table_begin(md, RB_RENDER_MAX_COLUMNS, cells, NULL), RB_OK);
    INT_EQ(rb_md_table_row(md, cells), RB_OK);
    INT_EQ(rb_md_table_end(md), RB_OK);
    html = rendered(md);
    int n = 0;
    for (const char *p = html ? strstr(html, "<td>|</td>") : NULL; p; p = strstr(p + 1, "<td>"))
        n++;
    INT_EQ(n, RB_RENDER_MAX_COLUMNS);
    rb_free(html);
    rb_md_free(md);

    /* Cells: columns x (rows + header + delimiter), over all tables of 2+ columns. */
    md = rb_md_new();
    INT_EQ(rb_md_table_begin(md, 4, cells, NULL), RB_OK);
    for (unsigned i = 0; i < RB_RENDER_MAX_CELLS / 4 - 2 - 1000; i++)
        if (rb_md_table_row(md, cells) != RB_OK)
            break;
    INT_EQ(rb_md_table_end(md), RB_OK);
    INT_EQ(rb_md_table_begin(md, 1, cells, NULL), RB_OK); /* one column: not counted */
    for (int i = 0; i < 5000; i++)
        rb_md_table_row(md, cells);
    INT_EQ(rb_md_table_end(md), RB_OK);
    INT_EQ(rb_md_table_begin(md, 2, cells, NULL), RB_OK);
    for (int i = 0; i < 1998; i++)
        rb_md_table_row(md, cells);
    INT_EQ(rb_md_table_end(md), RB_OK);
    /* Exactly at the limit: renders. */
    INT_EQ(rb_md_result(md, &src, &len), RB_OK);
    INT_EQ(rb_render_html(src, len, 0, &html, NULL, &err), RB_OK);
    rb_free(html);
    /* One cell more: refused by the builder, which keeps its document. */
    INT_EQ(rb_md_table_begin(md, 2, cells, NULL), RB_TOOBIG);
    STR_EQ(rb_md_errmsg(md), "markdown tables too large: over 262144 cells (columns x lines, "
                             "all tables)");
    rb_md_free(md);

    /* Size: the call that would cross RB_RENDER_MAX_INPUT fails; up to it, all renders. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    md = rb_md_new();
    size_t before = 0, paras = 0;
    rb_status rc = RB_OK;
    for (; rc == RB_OK; paras++) {
        INT_EQ(rb_md_result(md, &src, &before), RB_OK);
        rc = rb_md_para(md, big);
    }
    INT_EQ(rc, RB_TOOBIG);
    STR_EQ(rb_md_errmsg(md), "markdown document over 4194304 bytes");
    OK(before <= RB_RENDER_MAX_INPUT && before + 1025 > RB_RENDER_MAX_INPUT, "%zu", before);
    rb_md_free(md);
    /* The last good document renders. */
    md = rb_md_new();
    for (size_t i = 0; i + 1 < paras; i++)
        rb_md_para(md, big);
    INT_EQ(rb_md_result(md, &src, &len), RB_OK);
    INT_EQ(len, before);
    INT_EQ(rb_render_html(src, len, 0, &html, NULL, &err), RB_OK);
    rb_free(html);
    rb_md_free(md);

    /* A pending run is bounded too. */
    md = rb_md_new();
    rc = RB_OK;
    for (int i = 0; i < 5000 && rc == RB_OK; i++)
        rc = rb_md_text(md, big);
    INT_EQ(rc, RB_TOOBIG);
    rb_md_free(md);
}

/* Fail the 1st, 2nd, ... allocation: a clean RB_NOMEM, sticky, no leak, until it works. */
static void test_md_alloc_failures(void)
{
    int ok_at = -1;

    for (int k = 0; k < 500 && ok_at < 0; k++) {
        rbi_alloc_fail_after(k);
        rb_md *md = rb_md_new();
        const char *out = NULL;
        rb_status rc = RB_NOMEM;

        if (md) {
            build_golden(md);
            rc = rb_md_result(md, &out, NULL);
        }
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK) {
            ok_at = k;
            STR_EQ(out, golden_md);
        } else {
            INT_EQ(rc, RB_NOMEM);
            if (md)
                STR_EQ(rb_md_errmsg(md), "out of memory building markdown");
        }
        rb_md_free(md);
    }
    OK(ok_at > 10, "allocations never failed or never succeeded: %d", ok_at);
}

int main(void)
{
    test_md_golden();
    test_md_blocks();
    test_md_escape_ascii();
    test_md_escape_rules();
    test_md_hostile();
    test_md_random();
    test_md_bold();
    test_md_link();
    test_md_errors();
    test_md_limits();
    test_md_alloc_failures();
    return harness_done();
}
