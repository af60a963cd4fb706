/*
 * test_render.c -- rb_render_html(), rb_render_page(), rb_free(): golden HTML, raw HTML and
 * dangerous URLs neutralised, images unwrapped, every input limit at its boundary, misuse,
 * allocation failures, concurrent calls; and the driver of the pathological suite in
 * tests/markdown/ (*.test) (format described in tests/markdown/README).
 */
#include "harness.h"
#include "rb_int.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Sanitizer builds run our code (not libcmark-gfm) several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define TIME_FACTOR 4.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIME_FACTOR 4.0
#endif
#endif
#ifndef TIME_FACTOR
#define TIME_FACTOR 1.0
#endif

/* Render, returning the status; *html is "" unless RB_OK. The caller frees with rb_free(). */
static rb_status render(const char *md, size_t len, char **html, rb_error *err)
{
    rb_status rc = rb_render_html(md, len, 0, html, NULL, err);

    if (rc != RB_OK)
        *html = NULL;
    return rc;
}

static rb_status render_s(const char *md, char **html, rb_error *err)
{
    return render(md, strlen(md), html, err);
}

/* A malloc'd string of `n` copies of `unit` followed by `tail`. */
static char *repeat(const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * n + t + 1);

    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    memcpy(s + u * n, tail, t + 1);
    if (len)
        *len = u * n + t;
    return s;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* {===================================================================================
 * Golden output and safety
 * =================================================================================== */

static const char invoice_md[] = "# Invoice INV-2026-000042\n"
                                 "\n"
                                 "**Customer:** Acme Corp\n"
                                 "\n"
                                 "| Service | Usage | Amount |\n"
                                 "| :--- | ---: | ---: |\n"
                                 "| Amazon EC2 | 720 h | 1,234.56 |\n"
                                 "| Amazon S3 | 12 GB | 3.20 |\n"
                                 "| **Total** |  | **1,237.76** |\n"
                                 "\n"
                                 "- Due date: 2026-12-31\n"
                                 "- Currency: EUR\n";

static const char invoice_html[] = "<h1>Invoice INV-2026-000042</h1>\n"
                                   "<p><strong>Customer:</strong> Acme Corp</p>\n"
                                   "<table>\n"
                                   "<thead>\n"
                                   "<tr>\n"
                                   "<th align=\"left\">Service</th>\n"
                                   "<th align=\"right\">Usage</th>\n"
                                   "<th align=\"right\">Amount</th>\n"
                                   "</tr>\n"
                                   "</thead>\n"
                                   "<tbody>\n"
                                   "<tr>\n"
                                   "<td align=\"left\">Amazon EC2</td>\n"
                                   "<td align=\"right\">720 h</td>\n"
                                   "<td align=\"right\">1,234.56</td>\n"
                                   "</tr>\n"
                                   "<tr>\n"
                                   "<td align=\"left\">Amazon S3</td>\n"
                                   "<td align=\"right\">12 GB</td>\n"
                                   "<td align=\"right\">3.20</td>\n"
                                   "</tr>\n"
                                   "<tr>\n"
                                   "<td align=\"left\"><strong>Total</strong></td>\n"
                                   "<td align=\"right\"></td>\n"
                                   "<td align=\"right\"><strong>1,237.76</strong></td>\n"
                                   "</tr>\n"
                                   "</tbody>\n"
                                   "</table>\n"
                                   "<ul>\n"
                                   "<li>Due date: 2026-12-31</li>\n"
                                   "<li>Currency: EUR</li>\n"
                                   "</ul>\n";

static void test_render_html_golden(void)
{
    char *html = NULL;
    size_t len = 0;
    rb_error err;

    INT_EQ(rb_render_html(invoice_md, strlen(invoice_md), 0, &html, &len, &err), RB_OK);
    STR_EQ(html, invoice_html);
    INT_EQ(len, strlen(invoice_html));
    rb_free(html);

    /* The input need not be NUL-terminated: only `len` bytes are read. */
    char buf[] = "*a*XYZ";
    INT_EQ(rb_render_html(buf, 3, 0, &html, NULL, &err), RB_OK);
    STR_EQ(html, "<p><em>a</em></p>\n");
    rb_free(html);

    /* Empty input: an empty fragment; NULL with length 0 is empty input too. */
    INT_EQ(rb_render_html("", 0, 0, &html, &len, &err), RB_OK);
    STR_EQ(html, "");
    INT_EQ(len, 0);
    rb_free(html);
    INT_EQ(rb_render_html(NULL, 0, 0, &html, NULL, &err), RB_OK);
    STR_EQ(html, "");
    rb_free(html);
}

/* Case-insensitive substring test. */
static bool has_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static void test_render_html_unsafe(void)
{
    static const struct {
        const char *md, *html;
    } cases[] = {
        {"<script>alert(1)</script>\n", "<!-- raw HTML omitted -->\n"},
        {"a <script>alert(1)</script> b\n",
         "<p>a <!-- raw HTML omitted -->alert(1)<!-- raw HTML omitted --> b</p>\n"},
        {"<img src=x onerror=alert(1)>\n", "<!-- raw HTML omitted -->\n"},
        {"x <img src=x onerror=\"alert(1)\"> y\n", "<p>x <!-- raw HTML omitted --> y</p>\n"},
        {"<iframe src=\"http://evil\"></iframe>\n", "<!-- raw HTML omitted -->\n"},
        {"<style>body{display:none}</style>\n", "<!-- raw HTML omitted -->\n"},
        {"<div onclick=\"alert(1)\">\nhi\n</div>\n", "<!-- raw HTML omitted -->\n"},
        {"<a href=\"javascript:alert(1)\">x</a>\n",
         "<p><!-- raw HTML omitted -->x<!-- raw HTML omitted --></p>\n"},
        {"[x](javascript:alert(1))\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](JaVaScRiPt:alert(1))\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](vbscript:msgbox)\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](file:///etc/passwd)\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](data:text/html,<script>alert(1)</script>)\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](data:text/html;base64,PHNjcmlwdD4=)\n", "<p><a href=\"\">x</a></p>\n"},
        {"<javascript:alert(1)>\n", "<p><a href=\"\">javascript:alert(1)</a></p>\n"},
        {"[x]\n\n[x]: javascript:alert(1)\n", "<p><a href=\"\">x</a></p>\n"},
        {"[x](\"onmouseover=alert(1))\n", "<p><a href=\"%22onmouseover=alert(1)\">x</a></p>\n"},
        {"[x](http://a \"t\\\" onclick=\\\"y\")\n",
         "<p><a href=\"http://a\" title=\"t&quot; onclick=&quot;y\">x</a></p>\n"},
        {"| a |\n| - |\n| <script>x</script> |\n",
         "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
         "<td><!-- raw HTML omitted -->x<!-- raw HTML omitted --></td>\n</tr>\n</tbody>\n"
         "</table>\n"},
    };
    char *html;
    rb_error err;

    for (size_t i = 0; i < RB_COUNTOF(cases); i++) {
        if (render_s(cases[i].md, &html, &err) != RB_OK) {
            OK(0, "case %zu refused: %s", i, err.msg);
            continue;
        }
        STR_EQ(html, cases[i].html);
        OK(!has_nocase(html, "<script") && !has_nocase(html, "onerror") &&
               !has_nocase(html, "href=\"javascript") && !has_nocase(html, "<iframe") &&
               !has_nocase(html, "<style"),
           "case %zu lets markup through: %s", i, html);
        rb_free(html);
    }
}

static void test_render_html_images(void)
{
    char *html;
    rb_error err;

    /* Images would load a resource: they become their alt text, links stay links. */
    INT_EQ(render_s("a ![logo *x*](http://tracker.example/p.png) b\n", &html, &err), RB_OK);
    STR_EQ(html, "<p>a logo <em>x</em> b</p>\n");
    rb_free(html);
    INT_EQ(render_s("[![alt](http://i/x.png)](http://example.com/)\n\n![](data:image/png;base64,AA)"
                    " ![r]\n\n[r]: http://i/r.png\n",
                    &html, &err),
           RB_OK);
    STR_EQ(html, "<p><a href=\"http://example.com/\">alt</a></p>\n<p> r</p>\n");
    OK(strstr(html, "<img") == NULL, "%s", html);
    rb_free(html);
    /* Many images: the list of nodes to unwrap grows. */
    size_t len;
    char *md = repeat("![i](x) ", 1000, "", &len);
    char *want = repeat("i ", 999, "", NULL);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    OK(html && strncmp(html, "<p>", 3) == 0 && strncmp(html + 3, want, strlen(want)) == 0 &&
           strcmp(html + 3 + strlen(want), "i</p>\n") == 0,
       "%.80s", html ? html : "(null)");
    rb_free(html);
    free(md);
    free(want);
}

static void test_render_html_utf8(void)
{
    char *html;
    rb_error err;
    static const char nul[] = "abc\0de\0";

    INT_EQ(render(nul, sizeof(nul) - 1, &html, &err), RB_OK);
    STR_EQ(html, "<p>abc\xef\xbf\xbd"
                 "de\xef\xbf\xbd</p>\n");
    rb_free(html);
    /* Invalid UTF-8 is replaced, so the page's charset holds; valid UTF-8 is kept. */
    INT_EQ(render_s("\xff caf\xc3\xa9 \xc3\x28 \xed\xa0\x80\n", &html, &err), RB_OK);
    STR_EQ(html, "<p>\xef\xbf\xbd caf\xc3\xa9 \xef\xbf\xbd( \xef\xbf\xbd</p>\n");
    rb_free(html);
}

static void test_render_html_misuse(void)
{
    char *html = (char *)"untouched";
    rb_error err;

    INT_EQ(rb_render_html("a", 1, 0, NULL, NULL, &err), RB_MISUSE);
    INT_EQ(rb_render_html(NULL, 1, 0, &html, NULL, &err), RB_MISUSE);
    OK(html == NULL, "out not cleared");
    STR_HAS(err.msg, "NULL");
    INT_EQ(rb_render_html("a", 1, 1, &html, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "unknown flags 0x1");
    OK(html == NULL, "out not cleared");
    INT_EQ(rb_render_html("a", 1, 0x80000000u, &html, NULL, NULL), RB_INVALID);
    rb_free(NULL); /* harmless no-op */
}

/* {===================================================================================
 * Limits, each at its boundary
 * =================================================================================== */

static void test_render_html_size_cap(void)
{
    size_t cap = RB_RENDER_MAX_INPUT;
    char *md = malloc(cap + 2), *html;
    size_t len;
    rb_error err;

    INT_EQ(RB_RENDER_MAX_INPUT, 4 * 1024 * 1024);
    memset(md, 'a', cap + 1);
    md[cap + 1] = '\0';
    INT_EQ(rb_render_html(md, cap, 0, &html, &len, &err), RB_OK);
    INT_EQ(len, cap + strlen("<p></p>\n"));
    OK(html && strncmp(html, "<p>aaa", 6) == 0 && strcmp(html + len - 8, "aaa</p>\n") == 0,
       "bad output");
    rb_free(html);
    INT_EQ(rb_render_html(md, cap + 1, 0, &html, &len, &err), RB_TOOBIG);
    OK(html == NULL, "out not cleared");
    STR_EQ(err.msg, "markdown input too big: 4194305 bytes (limit 4194304)");
    INT_EQ(err.code, RB_TOOBIG);
    INT_EQ(rb_render_html(md, SIZE_MAX, 0, &html, &len, NULL), RB_TOOBIG);
    free(md);
}

static void test_render_html_depth(void)
{
    char *md, *html;
    size_t len;
    rb_error err;

    /* Block quotes: one level per '>', the space after it counts half a level. */
    md = repeat(">", RB_RENDER_MAX_DEPTH, " a\n", &len);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    OK(html && strstr(html, "<p>a</p>") != NULL, "%.60s", html ? html : "");
    rb_free(html);
    free(md);
    md = repeat(">", RB_RENDER_MAX_DEPTH + 1, "a\n", &len);
    INT_EQ(render(md, len, &html, &err), RB_TOOBIG);
    STR_EQ(err.msg, "markdown nested too deeply at line 1: up to 33 block quotes and list items "
                    "(limit 32)");
    free(md);

    /* Nested lists, two columns of indentation per level: 32 levels pass, 33 do not. */
    struct rb_buf b = {0};
    for (int i = 0; i < RB_RENDER_MAX_DEPTH; i++) {
        for (int j = 0; j < i; j++)
            rbi_buf_puts(&b, "  ");
        rbi_buf_puts(&b, "- a\n");
    }
    INT_EQ(render(b.data, b.len, &html, &err), RB_OK);
    rb_free(html);
    rbi_buf_puts(&b, "text\n\n");
    for (int j = 0; j < RB_RENDER_MAX_DEPTH; j++)
        rbi_buf_puts(&b, "  ");
    rbi_buf_puts(&b, "1. a\n");
    INT_EQ(render(b.data, b.len, &html, &err), RB_TOOBIG);
    STR_HAS(err.msg, "at line 35: up to 33 ");
    rbi_buf_release(&b);

    /* Indentation alone (code) opens no container: not counted. */
    md = repeat(" ", 200, "x\n", &len);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    rb_free(html);
    free(md);
}

static void test_render_html_columns(void)
{
    char *html;
    rb_error err;
    struct rb_buf b = {0};

    /* 64 columns with outer pipes: 65 '|' per line. */
    for (int line = 0; line < 3; line++) {
        for (int i = 0; i < RB_RENDER_MAX_COLUMNS; i++)
            rbi_buf_puts(&b, line == 1 ? "|-" : "|a");
        rbi_buf_puts(&b, "|\n");
    }
    INT_EQ(render(b.data, b.len, &html, &err), RB_OK);
    OK(html && strncmp(html, "<table>", 7) == 0, "not a table");
    rb_free(html);
    /* One more '|' on any line of the table's run refuses it ... */
    rbi_buf_puts(&b, "|b|\\|");
    for (int i = 0; i < RB_RENDER_MAX_COLUMNS; i++)
        rbi_buf_puts(&b, "|");
    INT_EQ(render(b.data, b.len, &html, &err), RB_TOOBIG);
    STR_EQ(err.msg, "markdown table too wide at line 4: 66 unescaped '|' (limit 65, for 64 "
                    "columns)");
    /* ... escaped ones do not count, and neither do pipes in a run with no delimiter row. */
    rbi_buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        rbi_buf_puts(&b, "a|\\|");
    rbi_buf_puts(&b, "\n-|-\n");
    for (int i = 0; i < 1000; i++)
        rbi_buf_puts(&b, "|a");
    INT_EQ(render(b.data, b.len, &html, &err), RB_TOOBIG);
    STR_HAS(err.msg, "at line 1: 1000 unescaped");
    b.data[b.len - 2000 - 4] = 'x'; /* "-|-" becomes "x|-": no delimiter row any more */
    INT_EQ(render(b.data, b.len, &html, &err), RB_OK);
    rb_free(html);
    rbi_buf_release(&b);
}

static void test_render_html_cells(void)
{
    char *html, *md;
    size_t len, rows = RB_RENDER_MAX_CELLS / 2 - 2;
    rb_error err;

    /* A two-column table whose rows have one cell: the extension fills in the other.
     * Header + delimiter + rows lines, two columns each: exactly the limit. */
    md = repeat("x\n", rows, "", &len);
    char *full = malloc(len + 16);
    memcpy(full, "x|x\n-|-\n", 8);
    memcpy(full + 8, md, len + 1);
    INT_EQ(render(full, len + 8, &html, &err), RB_OK);
    OK(html && strstr(html, "<td>x</td>\n<td></td>\n</tr>\n</tbody>") != NULL, "no fill-in");
    rb_free(html);
    memcpy(full + len + 8, "y\n", 3);
    INT_EQ(render(full, len + 10, &html, &err), RB_TOOBIG);
    STR_EQ(err.msg, "markdown tables too large: the table at line 1 brings the cell count to "
                    "262146 (limit 262144)");
    /* A blank line ends the table: the lines after it are not its rows; and one-column
     * tables cannot amplify and are not counted. */
    full = realloc(full, len + 64);
    static const char tail[] = "\ny\n\n| x |\n| - |\n| y |\n";
    memcpy(full + len + 8, tail, sizeof(tail));
    INT_EQ(render(full, len + 8 + sizeof(tail) - 1, &html, &err), RB_OK);
    OK(html && strstr(html, "<p>y</p>\n<table>\n<thead>\n<tr>\n<th>x</th>") != NULL, "%s",
       html ? html + strlen(html) - 100 : "(null)");
    rb_free(html);
    free(full);
    free(md);

    /* The CVE-2023-37463 shape: 64 columns, one byte per row. */
    struct rb_buf b = {0};
    for (int i = 0; i < 64; i++)
        rbi_buf_puts(&b, "x|");
    rbi_buf_puts(&b, "\n");
    for (int i = 0; i < 64; i++)
        rbi_buf_puts(&b, "-|");
    rbi_buf_puts(&b, "\n");
    for (int i = 0; i < 5000; i++)
        rbi_buf_puts(&b, "x\n");
    INT_EQ(render(b.data, b.len, &html, &err), RB_TOOBIG);
    STR_HAS(err.msg, "tables too large");
    rbi_buf_release(&b);
}

static void test_render_html_work(void)
{
    char *html, *md;
    size_t len;
    rb_error err;
    double t0;

    /* "![[]()" repeated: each link walks back over every image opener left open. */
    md = repeat("![[]()", 2000, "", &len);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    rb_free(html);
    free(md);
    md = repeat("![[]()", 160000, "", &len);
    t0 = now_s();
    INT_EQ(render(md, len, &html, &err), RB_TOOBIG);
    OK(now_s() - t0 < 1.0 * TIME_FACTOR, "refusal took %.3f s", now_s() - t0);
    STR_HAS(err.msg, "too many links after brackets left open");
    free(md);
    /* Escaped brackets are no openers. */
    md = repeat("\\[", 10000, "[a](b)", &len);
    char *md2 = repeat("[a](b)", 10000, "", NULL);
    char *both = malloc(len + strlen(md2) + 1);
    memcpy(both, md, len);
    memcpy(both + len, md2, strlen(md2) + 1);
    INT_EQ(render_s(both, &html, &err), RB_OK);
    rb_free(html);
    both[0] = 'x'; /* "\[" becomes "x[": 9999 escaped, one open bracket for 10001 links */
    INT_EQ(render_s(both, &html, &err), RB_OK);
    rb_free(html);
    free(both);
    free(md2);
    free(md);

    /* Table delimiter rows after a growing paragraph: each re-parses it. */
    md = repeat("-|-\n-|-|-\n", 50, "", &len);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    rb_free(html);
    free(md);
    md = repeat("-|-\n-|-|-\n", 20000, "", &len);
    t0 = now_s();
    INT_EQ(render(md, len, &html, &err), RB_TOOBIG);
    OK(now_s() - t0 < 1.0 * TIME_FACTOR, "refusal took %.3f s", now_s() - t0);
    STR_HAS(err.msg, "table delimiter rows after long paragraphs");
    /* Blank lines end paragraphs: the same rows in pairs cost nothing. */
    free(md);
    md = repeat("-|-\n-|-|-\n\n", 20000, "", &len);
    INT_EQ(render(md, len, &html, &err), RB_OK);
    rb_free(html);
    free(md);
}

/* {===================================================================================
 * Pages, allocation failures, threads
 * =================================================================================== */

static void test_render_page(void)
{
    char *page, *frag;
    size_t len;
    rb_error err;

    INT_EQ(render_s(invoice_md, &frag, &err), RB_OK);
    INT_EQ(rb_render_page("Invoice <INV-1> & \"Acme\"\n", frag, strlen(frag), &page, &len, &err),
           RB_OK);
    INT_EQ(len, strlen(page));
    OK(strncmp(page, "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n", 53) == 0,
       "%.80s", page);
    STR_HAS(page, "<title>Invoice &lt;INV-1&gt; &amp; &quot;Acme&quot; </title>");
    STR_HAS(page, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'; img-src data:;");
    STR_HAS(page, "@media print {");
    STR_HAS(page, "@page { size: A4;");
    STR_HAS(page, "tr, th, td, svg { break-inside: avoid; page-break-inside: avoid; }");
    STR_HAS(page, "thead { display: table-header-group; }");
    /* The fragment, verbatim, in <main>, and the end of the document. */
    char *at = strstr(page, "<main>\n");
    OK(at && strncmp(at + 7, frag, strlen(frag)) == 0 &&
           strcmp(at + 7 + strlen(frag), "</main>\n</body>\n</html>\n") == 0,
       "fragment not in <main>");
    /* Self-contained: nothing that could load anything. */
    OK(!strstr(page, "http:") && !strstr(page, "https:") && !strstr(page, "src=") &&
           !strstr(page, "url(") && !strstr(page, "@import") && !strstr(page, "<link") &&
           !strstr(page, "<script"),
       "external reference in the page");
    rb_free(page);

    /* NULL title, empty fragment, a fragment without final newline. */
    INT_EQ(rb_render_page(NULL, NULL, 0, &page, NULL, &err), RB_OK);
    STR_HAS(page, "<title></title>");
    STR_HAS(page, "<main>\n</main>\n");
    rb_free(page);
    INT_EQ(rb_render_page("t", "<p>x</p>", 8, &page, NULL, &err), RB_OK);
    STR_HAS(page, "<main>\n<p>x</p>\n</main>\n");
    rb_free(page);
    INT_EQ(rb_render_page("t", NULL, 3, &page, NULL, &err), RB_MISUSE);
    OK(page == NULL, "out not cleared");
    INT_EQ(rb_render_page("t", "x", 1, NULL, NULL, &err), RB_MISUSE);
    rb_free(frag);
}

/* Fail the 1st, 2nd, ... allocation of the seam: always a clean RB_NOMEM, never a crash
 * or a leak (ASan checks the leaks), until the call succeeds. */
static void test_render_alloc_failures(void)
{
    static const char md[] = "a ![i](x) ![j](y)\n\n| a | b |\n| - | - |\n| c | d |\n";
    char *out;
    rb_error err;
    int ok_at = -1;

    for (int k = 0; k < 100 && ok_at < 0; k++) {
        rbi_alloc_fail_after(k);
        rb_status rc = rb_render_html(md, strlen(md), 0, &out, NULL, &err);
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK) {
            ok_at = k;
            rb_free(out);
        } else {
            INT_EQ(rc, RB_NOMEM);
            OK(out == NULL, "out set on failure");
        }
    }
    OK(ok_at > 0, "never failed or never succeeded: %d", ok_at);
    ok_at = -1;
    for (int k = 0; k < 100 && ok_at < 0; k++) {
        rbi_alloc_fail_after(k);
        rb_status rc = rb_render_page("title", "<p>x</p>\n", 9, &out, NULL, &err);
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK) {
            ok_at = k;
            rb_free(out);
        } else {
            INT_EQ(rc, RB_NOMEM);
        }
    }
    OK(ok_at > 0, "page never failed or never succeeded: %d", ok_at);
}

static void *render_thread(void *arg)
{
    int *bad = arg;

    for (int i = 0; i < 200; i++) {
        char *html;

        if (rb_render_html(invoice_md, strlen(invoice_md), 0, &html, NULL, NULL) != RB_OK ||
            strcmp(html, invoice_html) != 0)
            (*bad)++;
        rb_free(html);
    }
    return NULL;
}

static void test_render_html_threads(void)
{
    pthread_t t[4];
    int bad[4] = {0};

    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, render_thread, &bad[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        INT_EQ(bad[i], 0);
    }
}

/* {===================================================================================
 * The pathological suite: tests/markdown/ (*.test)
 * =================================================================================== */

struct gen {
    char *p;
    size_t len, cap;
};

static bool gen_put(struct gen *g, const char *s, size_t n)
{
    if (g->len + n + 1 > 64u << 20)
        return false; /* a runaway expression */
    if (g->len + n + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 256;

        while (cap < g->len + n + 1)
            cap *= 2;
        g->p = realloc(g->p, cap);
        g->cap = cap;
    }
    memcpy(g->p + g->len, s, n);
    g->len += n;
    g->p[g->len] = '\0';
    return true;
}

struct cursor {
    const char *s;
    const char *file;
    int line;
    char why[160];
};

static void skip_ws(struct cursor *c)
{
    while (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == ',')
        c->s++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A "..." string with \n \r \t \v \f \0 \\ \" \xHH escapes. */
static bool parse_str(struct cursor *c, struct gen *out)
{
    skip_ws(c);
    if (*c->s != '"') {
        snprintf(c->why, sizeof(c->why), "want a string at \"%.20s\"", c->s);
        return false;
    }
    for (c->s++; *c->s && *c->s != '"'; c->s++) {
        char ch = *c->s;

        if (ch == '\\') {
            static const char from[] = "nrtvf0\\\"", to[] = "\n\r\t\v\f\0\\\"";
            const char *k = strchr(from, c->s[1]);

            if (c->s[1] == 'x' && hexval(c->s[2]) >= 0 && hexval(c->s[3]) >= 0) {
                ch = (char)(hexval(c->s[2]) * 16 + hexval(c->s[3]));
                c->s += 3;
            } else if (c->s[1] && k) {
                ch = to[k - from];
                c->s++;
            } else {
                snprintf(c->why, sizeof(c->why), "bad escape \"%.4s\"", c->s);
                return false;
            }
        }
        gen_put(out, &ch, 1);
    }
    if (*c->s != '"') {
        snprintf(c->why, sizeof(c->why), "unterminated string");
        return false;
    }
    c->s++;
    return true;
}

static bool parse_num(struct cursor *c, long *v)
{
    char *end;

    skip_ws(c);
    *v = strtol(c->s, &end, 10);
    if (end == c->s || *v < 0) {
        snprintf(c->why, sizeof(c->why), "want a number at \"%.20s\"", c->s);
        return false;
    }
    c->s = end;
    return true;
}

static bool expect_char(struct cursor *c, char ch)
{
    skip_ws(c);
    if (*c->s != ch) {
        snprintf(c->why, sizeof(c->why), "want '%c' at \"%.20s\"", ch, c->s);
        return false;
    }
    c->s++;
    return true;
}

/*
 * An expression: terms separated by spaces, commas or newlines.
 *   "text" [* N]          the text, N times
 *   ramp("a","b","c",F,T) for x in F..T: a, b repeated x times, c
 *   seq("a","b",F,T)      for x in F..T: a, x in decimal, b
 *   input                 the case's input (in expectations)
 */
static bool parse_expr(struct cursor *c, struct gen *out, const struct gen *input)
{
    for (skip_ws(c); *c->s; skip_ws(c)) {
        struct gen a = {0}, b = {0}, d = {0};
        long n = 1, from = 0, to = -1;
        bool ok = true;

        if (*c->s == '"') {
            ok = parse_str(c, &a);
            skip_ws(c);
            if (ok && *c->s == '*') {
                c->s++;
                ok = parse_num(c, &n);
            }
            for (long i = 0; ok && i < n; i++)
                ok = gen_put(out, a.p ? a.p : "", a.len);
        } else if (strncmp(c->s, "ramp(", 5) == 0) {
            c->s += 4;
            ok = expect_char(c, '(') && parse_str(c, &a) && parse_str(c, &b) && parse_str(c, &d) &&
                 parse_num(c, &from) && parse_num(c, &to) && expect_char(c, ')');
            for (long x = from; ok && x <= to; x++) {
                ok = gen_put(out, a.p ? a.p : "", a.len);
                for (long i = 0; ok && i < x; i++)
                    ok = gen_put(out, b.p ? b.p : "", b.len);
                ok = ok && gen_put(out, d.p ? d.p : "", d.len);
            }
        } else if (strncmp(c->s, "seq(", 4) == 0) {
            c->s += 3;
            ok = expect_char(c, '(') && parse_str(c, &a) && parse_str(c, &b) &&
                 parse_num(c, &from) && parse_num(c, &to) && expect_char(c, ')');
            for (long x = from; ok && x <= to; x++) {
                char num[24];
                int k = snprintf(num, sizeof(num), "%ld", x);

                ok = gen_put(out, a.p ? a.p : "", a.len) && gen_put(out, num, (size_t)k) &&
                     gen_put(out, b.p ? b.p : "", b.len);
            }
        } else if (strncmp(c->s, "input", 5) == 0 && input) {
            c->s += 5;
            ok = gen_put(out, input->p ? input->p : "", input->len);
        } else {
            snprintf(c->why, sizeof(c->why), "unknown term at \"%.20s\"", c->s);
            ok = false;
        }
        free(a.p);
        free(b.p);
        free(d.p);
        if (!ok) {
            if (!c->why[0])
                snprintf(c->why, sizeof(c->why), "expression over 64 MiB");
            return false;
        }
    }
    return true;
}

/* A case: its name, where it starts, and its sections (input, expect, expect-error, time),
 * each NULL when absent. */
enum { SEC_INPUT, SEC_EXPECT, SEC_ERROR, SEC_TIME, SEC_COUNT };
struct pcase {
    char name[128];
    int line;
    struct gen body[SEC_COUNT];
    bool has[SEC_COUNT];
    char *input, *expect, *error, *time;
};

static const struct {
    const char *name;
    rb_status code;
} status_names[] = {{"RB_OK", RB_OK}, {"RB_TOOBIG", RB_TOOBIG}, {"RB_INVALID", RB_INVALID}};

/* The case running now, for the watchdog: libcmark-gfm cannot be interrupted, so a case
 * gone quadratic (a broken guard) would otherwise hang the suite for minutes. */
static char watchdog_case[256];

static void watchdog(int sig)
{
    static const char msg[] = "FAIL pathological case still running long after its time "
                              "bound: ";

    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, watchdog_case, strlen(watchdog_case)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(2);
    _exit(1);
}

/* Run one case; report failures as FILE:LINE. */
static void run_case(const char *file, const struct pcase *pc, int *count)
{
    struct gen in = {0}, want = {0};
    struct cursor c = {.file = file, .line = pc->line};
    char *html = NULL;
    rb_error err = {0};
    double limit, t0, dt;
    rb_status rc, want_rc = RB_OK;
    char want_msg[256] = "";

    (*count)++;
    if (!pc->input || !pc->time || (!pc->expect == !pc->error)) {
        OK(0, "%s:%d: case '%s' needs input, time and one of expect, expect-error", file, pc->line,
           pc->name);
        return;
    }
    limit = strtod(pc->time, NULL) * TIME_FACTOR;
    c.s = pc->input;
    if (!parse_expr(&c, &in, NULL)) {
        OK(0, "%s:%d: input of '%s': %s", file, pc->line, pc->name, c.why);
        goto out_free;
    }
    if (pc->expect) {
        c.s = pc->expect;
        if (!parse_expr(&c, &want, &in)) {
            OK(0, "%s:%d: expect of '%s': %s", file, pc->line, pc->name, c.why);
            goto out_free;
        }
    } else {
        char code[32] = "";
        size_t i;

        sscanf(pc->error, "%31s %255[^\n]", code, want_msg);
        for (i = 0; i < RB_COUNTOF(status_names); i++)
            if (strcmp(code, status_names[i].name) == 0)
                break;
        if (i == RB_COUNTOF(status_names)) {
            OK(0, "%s:%d: unknown status '%s'", file, pc->line, code);
            goto out_free;
        }
        want_rc = status_names[i].code;
    }

    snprintf(watchdog_case, sizeof(watchdog_case), "%s:%d: %s", file, pc->line, pc->name);
    signal(SIGALRM, watchdog);
    alarm((unsigned)(limit * 3) + 10);
    t0 = now_s();
    rc = rb_render_html(in.p ? in.p : "", in.len, 0, &html, NULL, &err);
    dt = now_s() - t0;
    alarm(0);
    printf("  %-60.60s %8zu bytes %6.3f s (limit %4.1f s) %s\n", pc->name, in.len, dt, limit,
           rc == RB_OK ? "rendered" : rb_strerror(rc));

    OK(dt <= limit, "%s:%d: '%s' took %.3f s, limit %.1f s", file, pc->line, pc->name, dt, limit);
    OK(rc == want_rc, "%s:%d: '%s': status %s, want %s (%s)", file, pc->line, pc->name,
       rb_strerror(rc), rb_strerror(want_rc), rc == RB_OK ? "" : err.msg);
    if (rc != RB_OK && want_rc != RB_OK)
        OK(strstr(err.msg, want_msg) != NULL, "%s:%d: '%s': message \"%s\" lacks \"%s\"", file,
           pc->line, pc->name, err.msg, want_msg);
    if (rc == RB_OK && pc->expect) {
        size_t n = strlen(html), i = 0;

        while (i < n && i < want.len && html[i] == want.p[i])
            i++;
        OK(i == n && i == want.len,
           "%s:%d: '%s': output differs at byte %zu of %zu (want %zu): got \"%.60s\", want "
           "\"%.60s\"",
           file, pc->line, pc->name, i, n, want.len, html + (i > 20 ? i - 20 : 0),
           want.p ? want.p + (i > 20 ? i - 20 : 0) : "");
    }
    rb_free(html);
out_free:
    free(in.p);
    free(want.p);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct gen g = {0};
    char buf[4096];
    size_t n;

    if (!f)
        return NULL;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        gen_put(&g, buf, n);
    fclose(f);
    if (!g.p)
        gen_put(&g, "", 0);
    return g.p;
}

/*
 * A .test file is a list of cases:
 *   === NAME
 *   --- input / --- expect / --- expect-error / --- time / --- source
 *   body lines
 * Lines starting with '#' are comments. See tests/markdown/README.
 */
static void finish_case(const char *path, struct pcase *pc, int *count)
{
    char **slot[SEC_COUNT] = {&pc->input, &pc->expect, &pc->error, &pc->time};

    if (!pc->name[0])
        return;
    for (int k = 0; k < SEC_COUNT; k++)
        *slot[k] = pc->has[k] ? pc->body[k].p : NULL;
    run_case(path, pc, count);
}

static int run_file(const char *path)
{
    static const char *const sec_names[SEC_COUNT] = {"input", "expect", "expect-error", "time"};
    char *text = read_all(path), *line, *next;
    struct pcase pc;
    int lineno = 0, count = 0, cur = -1;

    OK(text != NULL, "cannot read %s", path);
    if (!text)
        return 0;
    memset(&pc, 0, sizeof(pc));
    for (line = text; *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        else
            next = line + strlen(line);
        lineno++;
        if (strncmp(line, "===", 3) == 0) {
            finish_case(path, &pc, &count);
            for (int k = 0; k < SEC_COUNT; k++) {
                pc.body[k].len = 0;
                pc.has[k] = false;
            }
            snprintf(pc.name, sizeof(pc.name), "%s", line + 3 + strspn(line + 3, " "));
            pc.line = lineno;
            cur = -1;
        } else if (strncmp(line, "---", 3) == 0) {
            const char *sec = line + 3 + strspn(line + 3, " ");

            for (cur = 0; cur < SEC_COUNT && strcmp(sec, sec_names[cur]) != 0; cur++)
                ;
            if (cur == SEC_COUNT) {
                OK(strcmp(sec, "source") == 0, "%s:%d: unknown section '%s'", path, lineno, sec);
                cur = -1;
            } else {
                pc.has[cur] = true;
                gen_put(&pc.body[cur], "", 0);
            }
        } else if (line[0] != '#' && cur >= 0) {
            gen_put(&pc.body[cur], line, strlen(line));
            gen_put(&pc.body[cur], "\n", 1);
        }
    }
    finish_case(path, &pc, &count);
    for (int k = 0; k < SEC_COUNT; k++)
        free(pc.body[k].p);
    free(text);
    return count;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_test_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return n > 5 && strcmp(d->d_name + n - 5, ".test") == 0;
}

static void test_pathological(void)
{
    const char *root = getenv("REBILL_ROOT");
    char dir[1024], path[2048];
    struct dirent **names;
    int n, cases = 0;
    double t0 = now_s();

    snprintf(dir, sizeof(dir), "%s/tests/markdown", root ? root : ".");
    n = scandir(dir, &names, is_test_file, by_name);
    OK(n > 0, "no .test files in %s", dir);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        printf("%s\n", names[i]->d_name);
        cases += run_file(path);
        free(names[i]);
    }
    if (n > 0)
        free(names);
    printf("pathological: %d cases in %.1f s\n", cases, now_s() - t0);
    OK(cases >= 30, "only %d pathological cases found", cases);
}

int main(void)
{
    test_render_html_golden();
    test_render_html_unsafe();
    test_render_html_images();
    test_render_html_utf8();
    test_render_html_misuse();
    test_render_html_size_cap();
    test_render_html_depth();
    test_render_html_columns();
    test_render_html_cells();
    test_render_html_work();
    test_render_page();
    test_render_alloc_failures();
    test_render_html_threads();
    test_pathological();
    return harness_done();
}
