/*
 * render.c -- Markdown to HTML with libcmark-gfm, and the printable page around it.
 *
 * Provides rb_render_html(), rb_render_page() and rb_free().
 * Uses libcmark-gfm and its extensions (this is the only file that includes their headers),
 * the allocation seam and the growable buffer.
 * Must never: pass CMARK_OPT_UNSAFE, render without the 'table' and 'tagfilter' extensions,
 * hand libcmark-gfm input the guard below has not accepted, or return memory cmark
 * allocated (it is copied into the seam and given back to cmark's allocator).
 *
 * Why a guard: libcmark-gfm has no failure path (its allocator aborts) and cannot be
 * interrupted, and the Debian build we link (0.29.0.gfm.6) predates the 2023 fixes for
 * quadratic inputs (CVE-2023-22483, -24824, -37463 and friends). A few kilobytes of
 * crafted input take minutes there. So before cmark sees a byte, check_input() makes one
 * linear pass and refuses input whose cost estimate for each known super-linear class is
 * over budget. The estimates are upper bounds (they over-count, never under-count), so
 * the guard refuses some harmless input too; docs/rendering.md lists the rules and the
 * measurements behind the budgets.
 */
#include "rb_int.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <pthread.h>
#include <string.h>

/*
 * Work budgets of the two classes that have no public limit of their own. Markdown from
 * an rb_md builder stays far below both (see mdbuild.c).
 *
 * REPARSE: for every line that could be a table delimiter row, cmark-gfm 0.29.0.gfm.6
 * re-parses the whole paragraph above it as a header row. Budget: bytes re-parsed, in
 * total; measured at about 150 ns per byte, so the worst case is about 0.6 s.
 *
 * LINKWORK: every link made walks back over all brackets still open in its block
 * ("![[]()" repeated is quadratic). Budget: brackets walked, in total; about 11 ns each,
 * so the worst case is about 0.2 s.
 */
#define REPARSE_BUDGET ((uint64_t)RB_RENDER_MAX_INPUT)
#define LINKWORK_BUDGET ((uint64_t)1 << 24)

/* {===================================================================================
 * The input guard
 * =================================================================================== */

/* The state of one pass. A "stretch" is a run of non-blank lines: no table, paragraph or
 * bracket stack of cmark's outlives a blank line, so costs are summed per stretch. */
struct scan {
    const unsigned char *p;
    size_t line;          /* 1-based number of the current line */
    bool refdefs;         /* the input has an unescaped "]:": shortcut links may resolve */
    size_t st_start;      /* offset of the stretch's first byte */
    size_t st_first;      /* line number of the stretch's first line */
    size_t st_lines;      /* lines in the stretch */
    size_t st_kmax;       /* most columns of a delimiter-like line in the stretch */
    size_t st_pipes;      /* most unescaped '|' on one line of the stretch */
    size_t st_pipes_line; /* ... and the line they are on */
    bool st_delim;        /* the stretch has a delimiter-like line */
    size_t brackets;      /* simulated depth of cmark's bracket stack */
    uint64_t cells;       /* estimated table cells so far */
    uint64_t reparse;     /* estimated header re-parse bytes so far */
    uint64_t linkwork;    /* estimated bracket walk steps so far */
    rb_error *err;
};

static bool is_blank_line(const unsigned char *p, size_t b, size_t e)
{
    for (size_t j = b; j < e; j++)
        if (p[j] != ' ' && p[j] != '\t')
            return false;
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* True if position j of [.., e) ends a list marker: followed by a space, a tab or the end. */
static bool marker_ends(const unsigned char *p, size_t j, size_t e)
{
    return j == e || p[j] == ' ' || p[j] == '\t';
}

/*
 * Upper bound on the container nesting a line can open: every '>' and list marker of its
 * leading container prefix counts one, and every two columns of whitespace in the prefix
 * count one (a nested list item is indented by at least two columns per level; a tab counts
 * four). Lines without a marker open nothing, so they count 0: a container is only ever
 * as deep as the line that opened it.
 */
static size_t line_depth(const unsigned char *p, size_t b, size_t e)
{
    size_t markers = 0, cols = 0, j = b;

    for (;;) {
        while (j < e && (p[j] == ' ' || p[j] == '\t'))
            cols += p[j++] == '\t' ? 4 : 1;
        if (j >= e)
            break;
        if (p[j] == '>') {
            markers++;
            j++;
            continue;
        }
        if ((p[j] == '-' || p[j] == '+' || p[j] == '*') && marker_ends(p, j + 1, e)) {
            markers++;
            j++;
            continue;
        }
        if (is_digit(p[j])) {
            size_t k = j;

            while (k < e && is_digit(p[k]))
                k++;
            if (k < e && (p[k] == '.' || p[k] == ')') && marker_ends(p, k + 1, e)) {
                markers++;
                j = k + 1;
                continue;
            }
        }
        break;
    }
    return markers ? markers + cols / 2 : 0;
}

/* One pass over the input for an unescaped "]:" (a possible link reference definition). */
static bool has_refdefs(const unsigned char *p, size_t len)
{
    bool esc = false;

    for (size_t j = 0; j + 1 < len; j++) {
        if (p[j] == '\\') {
            esc = !esc;
            continue;
        }
        if (!esc && p[j] == ']' && p[j + 1] == ':')
            return true;
        esc = false;
    }
    return false;
}

static rb_status stretch_end(struct scan *s)
{
    if (s->st_lines && s->st_delim && s->st_pipes > RB_RENDER_MAX_COLUMNS + 1)
        return rbi_error_set(s->err, RB_TOOBIG,
                             "markdown table too wide at line %zu: %zu unescaped '|' "
                             "(limit %d, for %d columns)",
                             s->st_pipes_line, s->st_pipes, RB_RENDER_MAX_COLUMNS + 1,
                             RB_RENDER_MAX_COLUMNS);
    if (s->st_lines && s->st_kmax >= 2) {
        /* st_kmax and st_lines are both below 2^23: no overflow. */
        s->cells += (uint64_t)s->st_kmax * s->st_lines;
        if (s->cells > RB_RENDER_MAX_CELLS)
            return rbi_error_set(s->err, RB_TOOBIG,
                                 "markdown tables too large: the table at line %zu brings "
                                 "the cell count to %llu (limit %u)",
                                 s->st_first, (unsigned long long)s->cells, RB_RENDER_MAX_CELLS);
    }
    s->st_lines = 0;
    s->st_kmax = 0;
    s->st_pipes = 0;
    s->st_pipes_line = 0;
    s->st_delim = false;
    s->brackets = 0;
    return RB_OK;
}

static rb_status scan_line(struct scan *s, size_t b, size_t e)
{
    const unsigned char *p = s->p;
    size_t depth, pipes = 0, dashruns = 0;
    bool delimlike = true, dash = false, esc = false;

    if (is_blank_line(p, b, e))
        return stretch_end(s);
    if (s->st_lines++ == 0) {
        s->st_start = b;
        s->st_first = s->line;
    }

    depth = line_depth(p, b, e);
    if (depth > RB_RENDER_MAX_DEPTH)
        return rbi_error_set(s->err, RB_TOOBIG,
                             "markdown nested too deeply at line %zu: up to %zu block quotes "
                             "and list items (limit %d)",
                             s->line, depth, RB_RENDER_MAX_DEPTH);

    for (size_t j = b; j < e; j++) {
        unsigned char c = p[j];

        /* Table cells: a '|' right after a backslash is escaped (the table scanner's
         * rule, which differs from the inline one for "\\|"). */
        if (c == '|' && (j == b || p[j - 1] != '\\'))
            pipes++;
        if (c == '-') {
            dashruns += !dash;
            dash = true;
        } else {
            dash = false;
            if (c != ' ' && c != '\t' && c != '\v' && c != '\f' && c != '>' && c != '|' && c != ':')
                delimlike = false;
        }
        /* Brackets: the inline rule, an odd run of backslashes escapes. */
        if (c == '\\') {
            esc = !esc;
            continue;
        }
        if (!esc && c == '[') {
            s->brackets++;
        } else if (!esc && c == ']') {
            bool may_link = s->refdefs || (j + 1 < e && (p[j + 1] == '(' || p[j + 1] == '['));

            if (may_link) {
                s->linkwork += s->brackets;
                if (s->linkwork > LINKWORK_BUDGET)
                    return rbi_error_set(s->err, RB_TOOBIG,
                                         "markdown too complex at line %zu: too many links "
                                         "after brackets left open",
                                         s->line);
            }
            if (s->brackets)
                s->brackets--;
        }
        esc = false;
    }

    if (pipes > s->st_pipes) {
        s->st_pipes = pipes;
        s->st_pipes_line = s->line;
    }
    if (delimlike && dashruns) {
        size_t k = pipes + 1 < dashruns ? pipes + 1 : dashruns;

        s->st_delim = true;
        if (k > s->st_kmax)
            s->st_kmax = k;
        s->reparse += b - s->st_start;
        if (s->reparse > REPARSE_BUDGET)
            return rbi_error_set(s->err, RB_TOOBIG,
                                 "markdown too complex at line %zu: table delimiter rows "
                                 "after long paragraphs (re-parse budget %llu bytes)",
                                 s->line, (unsigned long long)REPARSE_BUDGET);
    }
    return RB_OK;
}

/* Accept or refuse `md` before libcmark-gfm sees it. Lines end at "\n", "\r\n" or "\r",
 * as in cmark. */
static rb_status check_input(const char *md, size_t len, rb_error *err)
{
    struct scan s;
    size_t i = 0;
    rb_status rc;

    if (len > RB_RENDER_MAX_INPUT)
        return rbi_error_set(err, RB_TOOBIG, "markdown input too big: %zu bytes (limit %u)", len,
                             RB_RENDER_MAX_INPUT);
    memset(&s, 0, sizeof(s));
    s.p = (const unsigned char *)md;
    s.err = err;
    s.refdefs = has_refdefs(s.p, len);
    while (i < len) {
        size_t b = i, e;

        while (i < len && s.p[i] != '\n' && s.p[i] != '\r')
            i++;
        e = i;
        if (i < len)
            i += (s.p[i] == '\r' && i + 1 < len && s.p[i + 1] == '\n') ? 2 : 1;
        s.line++;
        rc = scan_line(&s, b, e);
        if (rc != RB_OK)
            return rc;
    }
    return stretch_end(&s);
}

/* {===================================================================================
 * Rendering
 * =================================================================================== */

/* cmark-gfm's extension registry and the global arena its table extension pushes and pops
 * are not thread-safe: register once, render one document at a time. */
static pthread_once_t ext_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cmark_lock = PTHREAD_MUTEX_INITIALIZER;

static void register_extensions(void)
{
    cmark_gfm_core_extensions_ensure_registered();
}

/* cmark options: safe (no CMARK_OPT_UNSAFE: raw HTML is dropped and dangerous URLs are
 * emptied), and invalid UTF-8 replaced so the page's charset holds. */
#define CMARK_OPTIONS (CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8)

static rb_status attach(cmark_parser *parser, const char *name, rb_error *err)
{
    cmark_syntax_extension *ext = cmark_find_syntax_extension(name);

    if (!ext || !cmark_parser_attach_syntax_extension(parser, ext))
        return rbi_error_set(err, RB_ERROR, "cannot attach cmark-gfm extension '%s'", name);
    return RB_OK;
}

/*
 * Replace every image by its alt text (its children), so that the HTML loads nothing.
 * Images are collected first and changed afterwards: an iterator must not see its tree
 * change under it.
 */
static rb_status unwrap_images(cmark_node *doc, rb_error *err)
{
    cmark_node **imgs = NULL, **grown;
    size_t n = 0, cap = 0;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    rb_status rc = RB_OK;

    for (ev = cmark_iter_next(it); ev != CMARK_EVENT_DONE; ev = cmark_iter_next(it)) {
        cmark_node *node = cmark_iter_get_node(it);

        if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(node) != CMARK_NODE_IMAGE)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = cap < SIZE_MAX / sizeof(*imgs) ? rbi_realloc(imgs, cap * sizeof(*imgs)) : NULL;
            if (!grown) {
                rc = rbi_error_set(err, RB_NOMEM, "out of memory rendering markdown");
                goto out_free;
            }
            imgs = grown;
        }
        imgs[n++] = node;
    }
    for (size_t i = 0; i < n; i++) {
        cmark_node *child = cmark_node_first_child(imgs[i]);

        for (; child; child = cmark_node_first_child(imgs[i]))
            cmark_node_insert_before(imgs[i], child);
        cmark_node_free(imgs[i]);
    }
out_free:
    cmark_iter_free(it);
    rbi_free(imgs);
    return rc;
}

/* Parse and render under the lock; *html is cmark's, for cmark_release(). */
static rb_status cmark_to_html(const char *md, size_t len, cmark_mem *mem, char **html,
                               rb_error *err)
{
    cmark_parser *parser;
    cmark_node *doc = NULL;
    rb_status rc;

    *html = NULL;
    pthread_once(&ext_once, register_extensions);
    pthread_mutex_lock(&cmark_lock);
    parser = cmark_parser_new_with_mem(CMARK_OPTIONS, mem);
    rc = attach(parser, "table", err);
    if (rc == RB_OK)
        rc = attach(parser, "tagfilter", err);
    if (rc != RB_OK)
        goto out_free_parser;
    cmark_parser_feed(parser, md, len);
    doc = cmark_parser_finish(parser);
    rc = unwrap_images(doc, err);
    if (rc != RB_OK)
        goto out_free_doc;
    *html = cmark_render_html_with_mem(doc, CMARK_OPTIONS,
                                       cmark_parser_get_syntax_extensions(parser), mem);
out_free_doc:
    cmark_node_free(doc);
out_free_parser:
    cmark_parser_free(parser);
    pthread_mutex_unlock(&cmark_lock);
    return rc;
}

/* Give memory back to the allocator cmark took it from. Its 'free' member is the one
 * sanctioned way to release cmark's results (checksrc bans calling a bare free here). */
static void cmark_release(cmark_mem *mem, void *p)
{
    void (*release)(void *) = mem->free;

    release(p);
}

rb_status rb_render_html(const char *md, size_t len, unsigned flags, char **out, size_t *outlen,
                         rb_error *err)
{
    cmark_mem *mem = cmark_get_default_mem_allocator();
    char *html, *copy;
    size_t n;
    rb_status rc;

    if (out)
        *out = NULL;
    if (!out || (!md && len))
        return rbi_error_set(err, RB_MISUSE, "rb_render_html: NULL argument");
    if (flags)
        return rbi_error_set(err, RB_INVALID, "rb_render_html: unknown flags 0x%x", flags);
    if (!md)
        md = "";
    rc = check_input(md, len, err);
    if (rc != RB_OK)
        return rc;
    rc = cmark_to_html(md, len, mem, &html, err);
    if (rc != RB_OK)
        return rc;
    n = strlen(html);
    copy = rbi_malloc(n + 1);
    if (copy)
        memcpy(copy, html, n + 1);
    cmark_release(mem, html);
    if (!copy)
        return rbi_error_set(err, RB_NOMEM, "out of memory copying %zu bytes of HTML", n);
    *out = copy;
    if (outlen)
        *outlen = n;
    return RB_OK;
}

/* {===================================================================================
 * The printable page
 * =================================================================================== */

/* No external resource may be loaded and no script may run, whatever the fragment holds. */
static const char page_head[] =
    "<!doctype html>\n"
    "<html>\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>";

static const char page_style[] =
    "</title>\n"
    "<style>\n"
    "html { font: 10.5pt/1.45 system-ui, -apple-system, \"Segoe UI\", Roboto, Helvetica, "
    "Arial, sans-serif; color: #111; background: #fff; }\n"
    "body { margin: 0; }\n"
    "main { max-width: 210mm; margin: 0 auto; padding: 16mm 15mm; box-sizing: border-box; }\n"
    "h1 { font-size: 1.6em; margin: 0 0 .6em; }\n"
    "h2 { font-size: 1.25em; margin: 1.4em 0 .5em; }\n"
    "h3, h4, h5, h6 { font-size: 1.05em; margin: 1.2em 0 .4em; }\n"
    "p, ul, ol { margin: .5em 0; }\n"
    "table { border-collapse: collapse; width: 100%; margin: .8em 0; "
    "font-variant-numeric: tabular-nums; }\n"
    "th, td { padding: .35em .6em; border-bottom: 1px solid #ccc; text-align: left; "
    "vertical-align: top; }\n"
    "th { border-bottom: 2px solid #333; font-weight: 600; }\n"
    "th[align=\"right\"], td[align=\"right\"] { text-align: right; }\n"
    "th[align=\"center\"], td[align=\"center\"] { text-align: center; }\n"
    "a { color: #0645ad; }\n"
    "svg { max-width: 100%; height: auto; }\n"
    "@page { size: A4; margin: 15mm 12mm 18mm; }\n"
    "@media print {\n"
    "  html { font-size: 10pt; }\n"
    "  main { max-width: none; padding: 0; }\n"
    "  a { color: inherit; text-decoration: none; }\n"
    "  thead { display: table-header-group; }\n"
    "  tr, th, td, svg { break-inside: avoid; page-break-inside: avoid; }\n"
    "  h1, h2, h3, h4, h5, h6 { break-after: avoid; page-break-after: avoid; }\n"
    "}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<main>\n";

static const char page_tail[] = "</main>\n</body>\n</html>\n";

/* Escape text for HTML content and attributes; control characters become spaces. */
static rb_status put_html_text(struct rb_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *rep = NULL;
        rb_status rc;

        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                rep = " ";
        }
        rc = rep ? rbi_buf_puts(b, rep) : rbi_buf_append(b, s, 1);
        if (rc != RB_OK)
            return rc;
    }
    return RB_OK;
}

rb_status rb_render_page(const char *title, const char *html, size_t len, char **out,
                         size_t *outlen, rb_error *err)
{
    struct rb_buf b = {0};
    rb_status rc;

    if (out)
        *out = NULL;
    if (!out || (!html && len))
        return rbi_error_set(err, RB_MISUSE, "rb_render_page: NULL argument");
    /* One allocation in the usual case; the buffer grows by itself otherwise. */
    rc = rbi_buf_reserve(&b, len < SIZE_MAX / 2 ? len + 4096 : 0);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&b, page_head);
    if (rc == RB_OK && title)
        rc = put_html_text(&b, title);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&b, page_style);
    if (rc == RB_OK)
        rc = rbi_buf_append(&b, html ? html : "", len);
    if (rc == RB_OK && len && html[len - 1] != '\n')
        rc = rbi_buf_puts(&b, "\n");
    if (rc == RB_OK)
        rc = rbi_buf_puts(&b, page_tail);
    if (rc != RB_OK) {
        rbi_buf_release(&b);
        return rbi_error_set(err, RB_NOMEM, "out of memory building an HTML page");
    }
    *out = b.data;
    if (outlen)
        *outlen = b.len;
    return RB_OK;
}

void rb_free(void *p)
{
    rbi_free(p);
}
