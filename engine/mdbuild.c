/*
 * mdbuild.c -- a Markdown builder that escapes every piece of data (rb_md_*).
 *
 * Provides the rb_md handle: headings, paragraphs, bullet lists, bold labels, links to
 * http(s)/mailto, and GFM tables with per-column alignment.
 * Uses the allocation seam and the growable buffer; nothing of cmark.
 * Must never: write a byte of data that has not gone through put_escaped() (or, for a URL,
 * put_url()), or produce Markdown that rb_render_html() would refuse: the limits of
 * render.c are enforced here, at the call that would cross them.
 *
 * The escaping rules (docs/rendering.md has them with examples):
 *  1. Control characters, newline and tab included, become one space each; a byte that is
 *     not part of valid UTF-8 becomes U+FFFD.
 *  2. \ ` * _ [ ] < > & | # ~ are backslash-escaped wherever they are.
 *  3. The first character of a block (heading, paragraph, list item) or table cell is
 *     backslash-escaped if it is ASCII punctuation (so '-', '+', '=', ':' cannot start a
 *     list, a thematic break or a delimiter row), and so is a '.' or ')' right after the
 *     digits that start one (so "1." cannot start an ordered list).
 *  4. Leading and trailing spaces of a block, cell, bold text or link text are dropped
 *     (four leading spaces would make code).
 * No data ever contains a newline after rule 1, so nothing can begin a line but the
 * builder's own markup.
 */
#include "rb_int.h"

#include <stdio.h>
#include <string.h>

/* Where the next escaped character goes, for rules 3 and 4. */
enum pos {
    POS_START,  /* start of a block or cell: skip spaces, then rule 3 */
    POS_DIGITS, /* only digits so far at the start of a block or cell */
    POS_LEAD,   /* start of bold or link text: skip spaces, no rule 3 */
    POS_TEXT    /* anywhere else */
};

struct rb_md {
    struct rb_buf out;   /* the document so far */
    struct rb_buf run;   /* the pending inline run, already escaped */
    enum pos run_pos;    /* escaping position at the end of the run */
    bool run_bold;       /* the run ends with a bold text's closing "**" ... */
    bool run_bold_alnum; /* ... whose last character inside is an ASCII letter or digit */
    bool in_list;        /* the last block was a list item */
    bool in_table;       /* between rb_md_table_begin() and rb_md_table_end() */
    size_t ncols;        /* columns of the open table */
    uint64_t cells;      /* table cells so far, counted as render.c counts them */
    rb_status status;    /* sticky: the first failure */
    char errmsg[256];
};

/* {===================================================================================
 * Errors and limits
 * =================================================================================== */

static rb_status fail(struct rb_md *md, rb_status rc, const char *fmt, ...) RBI_PRINTF(3, 4);

static rb_status fail(struct rb_md *md, rb_status rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(md->errmsg, sizeof(md->errmsg), fmt, ap);
    va_end(ap);
    md->status = rc;
    return rc;
}

static rb_status nomem(struct rb_md *md)
{
    return fail(md, RB_NOMEM, "out of memory building markdown");
}

/* Common entry check: a handle, no earlier failure, and no open table unless allowed. */
static rb_status enter(struct rb_md *md, const char *fn, bool in_table)
{
    if (!md)
        return RB_MISUSE;
    if (md->status != RB_OK)
        return md->status;
    if (md->in_table != in_table)
        return fail(md, RB_MISUSE,
                    in_table ? "%s: no table is open" : "%s: a table is open: end it first", fn);
    return RB_OK;
}

/* The document and the pending run together stay within what rb_render_html() accepts. */
static rb_status check_size(struct rb_md *md)
{
    if (md->out.len + md->run.len > RB_RENDER_MAX_INPUT)
        return fail(md, RB_TOOBIG, "markdown document over %u bytes", RB_RENDER_MAX_INPUT);
    return RB_OK;
}

/* {===================================================================================
 * Escaping: the one function every piece of data goes through
 * =================================================================================== */

static bool is_ascii_punct(unsigned char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

static bool is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Rule 2: escaped wherever they are. */
static bool always_escaped(unsigned char c)
{
    return c && strchr("\\`*_[]<>&|#~", c) != NULL;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the byte there starts none. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/*
 * Append `text`, escaped, to `b`; `*pos` says where it goes and is updated. Trailing
 * spaces are left to the caller (rstrip()), which knows where the block or cell ends.
 * The checks on s[1..3] in utf8_len() stop at the NUL, which is never a continuation byte.
 */
static rb_status put_escaped(struct rb_buf *b, const char *text, enum pos *pos)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    rb_status rc = RB_OK;

    while (*s && rc == RB_OK) {
        size_t n = utf8_len(s);
        unsigned char c = *s;

        if (n == 0) {
            rc = rbi_buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
            s++;
            *pos = POS_TEXT;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        if (c == ' ' && (*pos == POS_START || *pos == POS_LEAD)) {
            s++;
            continue;
        }
        if (*pos == POS_START) {
            *pos = c >= '0' && c <= '9' ? POS_DIGITS : POS_TEXT;
            if (is_ascii_punct(c))
                rc = rbi_buf_puts(b, "\\");
        } else if (*pos == POS_DIGITS) {
            if (c < '0' || c > '9') {
                *pos = POS_TEXT;
                if (c == '.' || c == ')' || always_escaped(c))
                    rc = rbi_buf_puts(b, "\\");
            }
        } else {
            *pos = POS_TEXT;
            if (always_escaped(c))
                rc = rbi_buf_puts(b, "\\");
        }
        if (rc == RB_OK)
            rc = n == 1 ? rbi_buf_append(b, &c, 1) : rbi_buf_append(b, s, n);
        s += n;
    }
    return rc;
}

/* Drop trailing spaces of `b` back to offset `from`. */
static void rstrip(struct rb_buf *b, size_t from)
{
    while (b->len > from && b->data[b->len - 1] == ' ')
        b->len--;
    if (b->data)
        b->data[b->len] = '\0';
}

/* {===================================================================================
 * Blocks
 * =================================================================================== */

rb_md *rb_md_new(void)
{
    struct rb_md *md = rbi_calloc(1, sizeof(*md));

    if (md)
        md->run_pos = POS_START;
    return md;
}

void rb_md_free(rb_md *md)
{
    if (!md)
        return;
    rbi_buf_release(&md->out);
    rbi_buf_release(&md->run);
    rbi_free(md);
}

const char *rb_md_errmsg(const rb_md *md)
{
    return md ? md->errmsg : "";
}

static void run_reset(struct rb_md *md)
{
    rbi_buf_reset(&md->run);
    md->run_pos = POS_START;
    md->run_bold = false;
}

/* Start a block: a blank line after the previous one, except between list items. */
static rb_status block_begin(struct rb_md *md, bool list_item)
{
    rb_status rc = RB_OK;

    if (md->out.len && !(list_item && md->in_list))
        rc = rbi_buf_puts(&md->out, "\n");
    md->in_list = list_item;
    return rc;
}

/* Write a block: `prefix`, then the run (which may be empty), then a newline. */
static rb_status block_put(struct rb_md *md, const char *prefix, bool list_item)
{
    rb_status rc;

    rstrip(&md->run, 0);
    rc = block_begin(md, list_item);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->out, prefix);
    if (rc == RB_OK && md->run.len) {
        if (prefix[0])
            rc = rbi_buf_puts(&md->out, " ");
        if (rc == RB_OK)
            rc = rbi_buf_append(&md->out, md->run.data, md->run.len);
    }
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->out, "\n");
    run_reset(md);
    if (rc != RB_OK)
        return nomem(md);
    return check_size(md);
}

/* A pending run that no heading, paragraph or item claimed becomes a paragraph. */
static rb_status run_flush(struct rb_md *md)
{
    rstrip(&md->run, 0);
    if (md->run.len == 0) {
        run_reset(md);
        return RB_OK;
    }
    return block_put(md, "", false);
}

/*
 * Make room for what comes after a bold text: CommonMark does not close emphasis between
 * punctuation inside and a letter outside ("**Total:**EUR"), so a space goes between them.
 * `next` is the first byte about to follow.
 */
static rb_status after_bold(struct rb_md *md, unsigned char next)
{
    if (!md->run_bold)
        return RB_OK;
    md->run_bold = false;
    if (md->run_bold_alnum || next == ' ' || (next < 0x80 && is_ascii_punct(next)))
        return RB_OK;
    return rbi_buf_puts(&md->run, " ");
}

/* Append escaped text to the run. */
static rb_status run_text(struct rb_md *md, const char *text)
{
    struct rb_buf tmp = {0};
    enum pos pos = md->run_pos;
    rb_status rc;

    rc = put_escaped(&tmp, text, &pos);
    if (rc == RB_OK && tmp.len)
        rc = after_bold(md, (unsigned char)tmp.data[0]);
    if (rc == RB_OK && tmp.len)
        rc = rbi_buf_append(&md->run, tmp.data, tmp.len);
    rbi_buf_release(&tmp);
    if (rc != RB_OK)
        return nomem(md);
    md->run_pos = pos;
    return check_size(md);
}

rb_status rb_md_text(rb_md *md, const char *text)
{
    rb_status rc = enter(md, "rb_md_text", false);

    return rc != RB_OK ? rc : run_text(md, text);
}

rb_status rb_md_heading(rb_md *md, int level, const char *text)
{
    static const char hashes[] = "######";
    rb_status rc = enter(md, "rb_md_heading", false);

    if (rc != RB_OK)
        return rc;
    if (level < 1 || level > 6)
        return fail(md, RB_INVALID, "invalid heading level %d: want 1..6", level);
    rc = run_text(md, text);
    return rc != RB_OK ? rc : block_put(md, hashes + 6 - level, false);
}

rb_status rb_md_para(rb_md *md, const char *text)
{
    rb_status rc = enter(md, "rb_md_para", false);

    if (rc != RB_OK)
        return rc;
    rc = run_text(md, text);
    return rc != RB_OK ? rc : run_flush(md);
}

rb_status rb_md_list_item(rb_md *md, const char *text)
{
    rb_status rc = enter(md, "rb_md_list_item", false);

    if (rc != RB_OK)
        return rc;
    rc = run_text(md, text);
    return rc != RB_OK ? rc : block_put(md, "-", true);
}

/* True for what put_escaped() turns into a space: a space or a control character. */
static bool is_space_like(unsigned char c)
{
    return c == ' ' || c < 0x20 || c == 0x7f;
}

rb_status rb_md_bold(rb_md *md, const char *text)
{
    struct rb_buf tmp = {0};
    enum pos pos = POS_LEAD;
    size_t n = text ? strlen(text) : 0;
    bool lead = n && is_space_like((unsigned char)text[0]);
    bool trail = n && is_space_like((unsigned char)text[n - 1]);
    rb_status rc = enter(md, "rb_md_bold", false);

    if (rc != RB_OK)
        return rc;
    rc = put_escaped(&tmp, text, &pos);
    rstrip(&tmp, 0);
    if (rc != RB_OK || tmp.len == 0)
        goto out_release;
    /* Outer spaces go outside the markup ("**Due:** ", not "** Due: **", which is no
     * emphasis). Opening side: punctuation inside after a letter outside does not open
     * emphasis, and "**" right after another bold text's "**" would make one run of four;
     * a space prevents both. */
    if (md->run.len) {
        unsigned char prev = (unsigned char)md->run.data[md->run.len - 1];
        unsigned char first = (unsigned char)tmp.data[0];

        if (lead || md->run_bold ||
            (!is_ascii_alnum(first) && prev != ' ' && !(prev < 0x80 && is_ascii_punct(prev))))
            rc = rbi_buf_puts(&md->run, " ");
    }
    md->run_bold = false;
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->run, "**");
    if (rc == RB_OK)
        rc = rbi_buf_append(&md->run, tmp.data, tmp.len);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->run, trail ? "** " : "**");
    if (rc == RB_OK) {
        md->run_bold = !trail;
        md->run_bold_alnum = is_ascii_alnum((unsigned char)tmp.data[tmp.len - 1]);
        md->run_pos = POS_TEXT;
    }
out_release:
    rbi_buf_release(&tmp);
    if (rc != RB_OK)
        return nomem(md);
    return check_size(md);
}

/* {===================================================================================
 * Links
 * =================================================================================== */

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char c = *s;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *prefix)
            return false;
    }
    return true;
}

/* Write a URL as a link destination: checked, then percent-encoded where Markdown or the
 * table scanner would read a byte as syntax; '&' is written as an entity, because cmark
 * decodes entities in destinations. */
static rb_status put_url(struct rb_md *md, struct rb_buf *b, const char *url)
{
    static const char *const schemes[] = {"http://", "https://", "mailto:"};
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = url ? strlen(url) : 0;
    rb_status rc = RB_OK;

    for (i = 0; i < RB_COUNTOF(schemes); i++)
        if (has_prefix_nocase(url ? url : "", schemes[i]) && n > strlen(schemes[i]))
            break;
    if (i == RB_COUNTOF(schemes))
        return fail(md, RB_INVALID,
                    "invalid link url \"%.64s\": want http://, https:// or mailto: and an "
                    "address",
                    url ? url : "(null)");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c < 0x20 || c == 0x7f)
            return fail(md, RB_INVALID, "invalid link url \"%.64s\": control character at byte %zu",
                        url, i);
    }
    for (i = 0; i < n && rc == RB_OK; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c == '&') {
            rc = rbi_buf_puts(b, "&amp;");
        } else if (c >= 0x80 || strchr(" <>()[]\\|\"'`", c)) {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            rc = rbi_buf_append(b, esc, 3);
        } else {
            rc = rbi_buf_append(b, &url[i], 1);
        }
    }
    return rc != RB_OK ? nomem(md) : RB_OK;
}

rb_status rb_md_link(rb_md *md, const char *text, const char *url)
{
    struct rb_buf label = {0}, dest = {0};
    enum pos pos = POS_LEAD;
    rb_status rc = enter(md, "rb_md_link", false);

    if (rc != RB_OK)
        return rc;
    rc = put_url(md, &dest, url);
    if (rc != RB_OK)
        goto out_release;
    rc = put_escaped(&label, text, &pos);
    rstrip(&label, 0);
    if (rc == RB_OK && label.len == 0) {
        pos = POS_LEAD;
        rc = put_escaped(&label, url, &pos);
    }
    if (rc == RB_OK)
        rc = after_bold(md, '[');
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->run, "[");
    if (rc == RB_OK)
        rc = rbi_buf_append(&md->run, label.data, label.len);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->run, "](");
    if (rc == RB_OK)
        rc = rbi_buf_append(&md->run, dest.data, dest.len);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->run, ")");
    if (rc != RB_OK)
        rc = nomem(md);
    else
        md->run_pos = POS_TEXT;
out_release:
    rbi_buf_release(&label);
    rbi_buf_release(&dest);
    return rc != RB_OK ? rc : check_size(md);
}

/* {===================================================================================
 * Tables
 * =================================================================================== */

/* Count the cells of `lines` more lines of the open table, as render.c's guard does
 * (columns x lines, for tables of two or more columns). */
static rb_status count_cells(struct rb_md *md, size_t lines)
{
    if (md->ncols < 2)
        return RB_OK;
    if (md->cells + (uint64_t)md->ncols * lines > RB_RENDER_MAX_CELLS)
        return fail(md, RB_TOOBIG,
                    "markdown tables too large: over %u cells (columns x lines, all tables)",
                    RB_RENDER_MAX_CELLS);
    md->cells += (uint64_t)md->ncols * lines;
    return RB_OK;
}

/* One table line: "| a | b |". Bold cells are "**a**"; empty ones stay empty. */
static rb_status put_row(struct rb_md *md, const char *const *cells, bool bold)
{
    struct rb_buf *b = &md->out;
    rb_status rc = rbi_buf_puts(b, "|");

    for (size_t i = 0; i < md->ncols && rc == RB_OK; i++) {
        size_t start;
        enum pos pos = bold ? POS_LEAD : POS_START;

        rc = rbi_buf_puts(b, " ");
        start = b->len;
        if (rc == RB_OK && bold)
            rc = rbi_buf_puts(b, "**");
        if (rc == RB_OK)
            rc = put_escaped(b, cells[i], &pos);
        if (rc != RB_OK)
            break;
        rstrip(b, start);
        if (bold && b->len == start + 2)
            b->len = start; /* empty: no "****" */
        else if (bold)
            rc = rbi_buf_puts(b, "**");
        if (rc == RB_OK)
            rc = rbi_buf_puts(b, " |");
    }
    if (rc == RB_OK)
        rc = rbi_buf_puts(b, "\n");
    if (rc != RB_OK)
        return nomem(md);
    return check_size(md);
}

rb_status rb_md_table_begin(rb_md *md, size_t ncols, const char *const *headers, const char *aligns)
{
    rb_status rc = enter(md, "rb_md_table_begin", false);

    if (rc != RB_OK)
        return rc;
    if (ncols < 1 || ncols > RB_RENDER_MAX_COLUMNS)
        return fail(md, RB_INVALID, "invalid table column count %zu: want 1..%d", ncols,
                    RB_RENDER_MAX_COLUMNS);
    if (!headers)
        return fail(md, RB_INVALID, "rb_md_table_begin: headers is NULL");
    if (aligns && (strlen(aligns) != ncols || strspn(aligns, "lrc-") != ncols))
        return fail(md, RB_INVALID,
                    "invalid table alignment \"%.80s\": want %zu of 'l', 'r', 'c' or '-'", aligns,
                    ncols);
    rc = run_flush(md);
    if (rc != RB_OK)
        return rc;
    md->ncols = ncols;
    rc = count_cells(md, 2);
    if (rc != RB_OK)
        return rc;
    if (block_begin(md, false) != RB_OK)
        return nomem(md);
    rc = put_row(md, headers, false);
    if (rc != RB_OK)
        return rc;
    rc = rbi_buf_puts(&md->out, "|");
    for (size_t i = 0; i < ncols && rc == RB_OK; i++) {
        char a = aligns ? aligns[i] : '-';

        rc = rbi_buf_puts(&md->out, a == 'l'   ? " :--- |"
                                    : a == 'r' ? " ---: |"
                                    : a == 'c' ? " :---: |"
                                               : " --- |");
    }
    if (rc == RB_OK)
        rc = rbi_buf_puts(&md->out, "\n");
    if (rc != RB_OK)
        return nomem(md);
    md->in_table = true;
    return check_size(md);
}

static rb_status table_row(rb_md *md, const char *const *cells, bool bold, const char *fn)
{
    rb_status rc = enter(md, fn, true);

    if (rc != RB_OK)
        return rc;
    if (!cells)
        return fail(md, RB_INVALID, "%s: cells is NULL", fn);
    rc = count_cells(md, 1);
    return rc != RB_OK ? rc : put_row(md, cells, bold);
}

rb_status rb_md_table_row(rb_md *md, const char *const *cells)
{
    return table_row(md, cells, false, "rb_md_table_row");
}

rb_status rb_md_table_row_bold(rb_md *md, const char *const *cells)
{
    return table_row(md, cells, true, "rb_md_table_row_bold");
}

rb_status rb_md_table_end(rb_md *md)
{
    rb_status rc = enter(md, "rb_md_table_end", true);

    if (rc != RB_OK)
        return rc;
    md->in_table = false;
    md->ncols = 0;
    return RB_OK;
}

rb_status rb_md_result(rb_md *md, const char **out, size_t *len)
{
    rb_status rc;

    if (out)
        *out = NULL;
    if (!md || !out)
        return RB_MISUSE;
    rc = enter(md, "rb_md_result", false);
    if (rc == RB_OK)
        rc = run_flush(md);
    if (rc != RB_OK)
        return rc;
    *out = md->out.data ? md->out.data : "";
    if (len)
        *len = md->out.len;
    return RB_OK;
}
