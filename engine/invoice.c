/*
 * invoice.c -- invoices: profiles, the showback document, layouts, rendering, numbering and
 * the frozen store of issued invoices and credit notes (rb_invoice_*, rb_profile_*).
 *
 * Provides: rb_profile_set/get; rb_invoice_preview/issue/void/get/list; for the tests and
 * lapi_md.c, rbi_inv_render() and rbi_inv_round_lines(); for layout.c, rbi_inv_layout_check()
 * (invoice.h).
 * Uses: rb_price_org() (bill.c) for the priced lines (rbi_price_org_cached() with the
 * caller's rb_usage_cache for the invoice's own month), rb_payer_of() for the issuer, the
 * sandbox for layouts (lapi_md.c gives them the builder), rbi_layout_resolve() (layout.c) for
 * the layout of a document, rb_render_html/rb_render_page, the key/value layer ("invoices",
 * "invoice_index", "profiles"; meta counters for numbering).
 * Must never: put a partner cost, billed cost or margin into a document (only rb_price_line
 * and rb_price_totals are read); rewrite an issued invoice's record (issue writes it with
 * RBI_NOOVERWRITE; void writes a credit note and a marker beside it); take a number outside
 * the transaction that stores the invoice (a gap would follow an abort); read the clock.
 *
 * Record "invoices" (issuer NUL number), version 1: i64 kind, str customer, i64 month,
 * i64 issued_at, i64 due_at, str currency, dec subtotal, dec tax, dec total, str refs,
 * str reason, str inputs_hash, i64 ncorr, ncorr x (i64 month, dec amount), bytes md,
 * bytes html, bytes json.
 * "invoice_index": 'c' customer NUL be32(month) issuer NUL number -> "" (by customer-month),
 * 'v' issuer NUL number -> the number of the credit note that voided it.
 * Record "profiles" (org), version 1: str legal_name, address, tax_id, email, i64 terms_days.
 */
#include "invoice.h"
#include "sandbox.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct rbi_script rbi_scripts[];

#define DEFAULT_LAYOUT "layouts/default.lua"

/* {===================================================================================
 * Small helpers
 * =================================================================================== */

static const char *fmt_dec(const rb_dec *d, char *buf)
{
    rb_dec_format(d, buf, RB_DEC_BUFSZ);
    return buf;
}

static void fmt_date(int64_t t, char *buf, size_t size)
{
    char full[32];

    rb_time_format(t, full, sizeof(full));
    snprintf(buf, size, "%.10s", full);
}

/* Valid UTF-8 without control characters (but '\n' when allowed). */
static bool text_ok(const char *s, bool newline)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p;
        int n;
        if (c < 0x20 || c == 0x7f) {
            if (!(newline && c == '\n'))
                return false;
            p++;
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        for (int i = 1; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n + 1;
    }
    return true;
}

/* FNV-1a, 64 bits: the input hash of an invoice (not a security hash: it shows what an
 * invoice was made from). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ULL

static rb_status json_str(struct rb_buf *b, const char *s)
{
    rb_status rc = rbi_buf_append(b, "\"", 1);

    for (; rc == RB_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = rbi_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            rc = rbi_buf_printf(b, "\\u%04x", c);
        else if (c == '<' || c == '>' || c == '&')
            rc = rbi_buf_printf(b, "\\u%04x", c); /* safe to embed in HTML */
        else
            rc = rbi_buf_append(b, s, 1);
    }
    return rc == RB_OK ? rbi_buf_append(b, "\"", 1) : rc;
}

static rb_status xml_str(struct rb_buf *b, const char *s)
{
    rb_status rc = RB_OK;

    for (; rc == RB_OK && *s; s++) {
        switch (*s) {
        case '<': rc = rbi_buf_puts(b, "&lt;"); break;
        case '>': rc = rbi_buf_puts(b, "&gt;"); break;
        case '&': rc = rbi_buf_puts(b, "&amp;"); break;
        case '"': rc = rbi_buf_puts(b, "&quot;"); break;
        case '\'': rc = rbi_buf_puts(b, "&#39;"); break;
        default:
            rc = (unsigned char)*s < 0x20 ? rbi_buf_puts(b, " ") : rbi_buf_append(b, s, 1);
        }
    }
    return rc;
}

const char *rb_invoice_kind_name(rb_invoice_kind k)
{
    switch (k) {
    case RB_INVOICE_DRAFT: return "draft";
    case RB_INVOICE_ISSUED: return "invoice";
    case RB_INVOICE_CREDIT: return "credit_note";
    }
    return "?";
}

void rb_invoice_release(rb_invoice *inv)
{
    if (!inv)
        return;
    rbi_free(inv->md);
    rbi_free(inv->html);
    rbi_free(inv->json);
    inv->md = inv->html = inv->json = NULL;
    inv->md_len = inv->html_len = inv->json_len = 0;
}

void rbi_inv_forms_release(struct rbi_inv_forms *f)
{
    rbi_buf_release(&f->md);
    rbi_buf_release(&f->html);
    rbi_buf_release(&f->json);
}

/* {===================================================================================
 * Profiles
 * =================================================================================== */

rb_status rb_profile_set(rb_txn *txn, const rb_profile *p)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_org o;
    rb_status rc;
    static const char *const names[] = {"legal name", "address", "tax id", "email"};
    const char *vals[4];

    if (!txn || !p)
        return RB_MISUSE;
    rc = rbi_org_require(txn, p->org, &o);
    if (rc != RB_OK)
        return rc;
    vals[0] = p->legal_name;
    vals[1] = p->address;
    vals[2] = p->tax_id;
    vals[3] = p->email;
    for (int i = 0; i < 4; i++) {
        if (!text_ok(vals[i], i == 1))
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid %s \"%.60s\": want UTF-8 text without control "
                                 "characters%s", names[i], vals[i],
                                 i == 1 ? " (but newlines)" : "");
    }
    if (p->terms_days < 0 || p->terms_days > 365)
        return rbi_txn_error(txn, RB_INVALID, "invalid payment terms %d days: want 0..365",
                             p->terms_days);
    rc = rbi_rec_begin(&b, 1);
    for (int i = 0; rc == RB_OK && i < 4; i++)
        rc = rbi_rec_put_str(&b, vals[i]);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, p->terms_days);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_PROFILES, p->org, strlen(p->org), b.data, b.len, 0);
    rbi_buf_release(&b);
    return rc;
}

rb_status rb_profile_get(rb_txn *txn, const char *org, rb_profile *out)
{
    struct rbi_rec_reader r;
    struct rbi_val v;
    rb_org o;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, &o);
    if (rc != RB_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    rbi_strlcpy(out->org, org, sizeof(out->org));
    out->terms_days = RB_PROFILE_TERMS_DEFAULT;
    rc = rbi_get(txn, RBI_DB_PROFILES, org, strlen(org), &v);
    if (rc == RB_NOTFOUND)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    rbi_rec_read(&r, v.data, v.len);
    rbi_rec_get_str(&r, out->legal_name, sizeof(out->legal_name));
    rbi_rec_get_str(&r, out->address, sizeof(out->address));
    rbi_rec_get_str(&r, out->tax_id, sizeof(out->tax_id));
    rbi_rec_get_str(&r, out->email, sizeof(out->email));
    out->terms_days = (int)rbi_rec_get_i64(&r);
    if (r.bad || r.version != 1)
        return rbi_txn_error(txn, RB_CORRUPT, "damaged profile record of \"%s\"", org);
    return RB_OK;
}

/* {===================================================================================
 * Rounding lines so that they add up
 * =================================================================================== */

rb_status rbi_inv_round_lines(const rb_dec *exact, rb_dec *out, size_t n, const char *currency,
                              const rb_dec *target)
{
    int digits = rb_currency_digits(currency);
    rb_dec sum = rb_dec_zero(), diff, unit, t;
    bool *used = NULL;
    long steps;
    rb_status rc = RB_OK;

    for (size_t i = 0; i < n && rc == RB_OK; i++) {
        rc = rb_dec_round(&out[i], &exact[i], digits, RB_ROUND_HALF_EVEN);
        if (rc == RB_OK)
            rc = rb_dec_add(&sum, &sum, &out[i]);
    }
    if (rc != RB_OK)
        return rc;
    rc = rb_dec_sub(&diff, target, &sum);
    if (rc != RB_OK)
        return rc;
    if (rb_dec_sign(&diff) == 0)
        return RB_OK;
    /* diff in minor units */
    {
        char ubuf[16];
        snprintf(ubuf, sizeof(ubuf), "1e-%d", digits);
        rc = rb_dec_parse(&unit, ubuf, strlen(ubuf), NULL);
        if (rc != RB_OK)
            return rc;
    }
    rc = rb_dec_div(&t, &diff, &unit, 0, RB_ROUND_HALF_EVEN);
    if (rc != RB_OK)
        return rc;
    {
        char buf[RB_DEC_BUFSZ];
        steps = strtol(fmt_dec(&t, buf), NULL, 10);
    }
    if (steps < 0 ? (size_t)-steps > n : (size_t)steps > n)
        return RB_INVALID;
    used = rbi_calloc(n ? n : 1, sizeof(*used));
    if (!used)
        return RB_NOMEM;
    for (long k = 0; k < (steps < 0 ? -steps : steps); k++) {
        size_t best = n;
        rb_dec best_res = rb_dec_zero(), res;
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            rb_dec_sub(&res, &exact[i], &out[i]);
            if (steps < 0)
                res = rb_dec_neg(&res);
            if (best == n || rb_dec_cmp(&res, &best_res) > 0) {
                best = i;
                best_res = res;
            }
        }
        used[best] = true;
        if (steps > 0)
            rc = rb_dec_add(&out[best], &out[best], &unit);
        else
            rc = rb_dec_sub(&out[best], &out[best], &unit);
        if (rc != RB_OK)
            break;
        rb_dec_round(&out[best], &out[best], digits, RB_ROUND_HALF_EVEN);
    }
    rbi_free(used);
    return rc;
}

/* {===================================================================================
 * Groups of lines (by service, by account) for layouts, JSON and the chart
 * =================================================================================== */

struct group {
    const char *key;
    const char *name; /* account name for account groups */
    rb_dec amount;
};

/* Sum the usage lines of doc by service (by_account false) or account. Sorted by key. */
static rb_status groups_of(const struct rbi_inv_doc *doc, bool by_account, struct group **out,
                           size_t *nout)
{
    struct group *g = rbi_calloc(doc->nlines ? doc->nlines : 1, sizeof(*g));
    size_t n = 0;
    rb_status rc = RB_OK;

    if (!g)
        return RB_NOMEM;
    for (size_t i = 0; i < doc->nlines && rc == RB_OK; i++) {
        const struct rbi_inv_line *l = &doc->lines[i];
        const char *key = by_account ? l->account : l->service;
        size_t k;
        if (strcmp(l->kind, "usage") != 0 && strcmp(l->kind, "pass") != 0)
            continue;
        for (k = 0; k < n; k++)
            if (strcmp(g[k].key, key) == 0)
                break;
        if (k == n) {
            size_t at = n;
            while (at > 0 && strcmp(g[at - 1].key, key) > 0) {
                g[at] = g[at - 1];
                at--;
            }
            g[at].key = key;
            g[at].name = l->account_name;
            g[at].amount = rb_dec_zero();
            k = at;
            n++;
        }
        rc = rb_dec_add(&g[k].amount, &g[k].amount, &l->amount);
    }
    if (rc != RB_OK) {
        rbi_free(g);
        return rc;
    }
    *out = g;
    *nout = n;
    return RB_OK;
}

/* {===================================================================================
 * Running a layout
 * =================================================================================== */

struct layout_ctx {
    const struct rbi_inv_doc *doc;
    struct rbi_md_handle *h;
    const struct group *svc, *acc;
    size_t nsvc, nacc;
};

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}

static void set_dec(lua_State *L, const char *k, const rb_dec *d)
{
    char buf[RB_DEC_BUFSZ];
    set_str(L, k, fmt_dec(d, buf));
}

static void push_party(lua_State *L, const char *id, const char *name, const rb_profile *p)
{
    const char *a = p ? p->address : "";
    int n = 0;

    lua_createtable(L, 0, 6);
    set_str(L, "id", id);
    set_str(L, "name", p && p->legal_name[0] ? p->legal_name : name);
    set_str(L, "tax_id", p ? p->tax_id : "");
    set_str(L, "email", p ? p->email : "");
    lua_pushinteger(L, p ? p->terms_days : RB_PROFILE_TERMS_DEFAULT);
    lua_setfield(L, -2, "terms_days");
    lua_newtable(L);
    while (*a) {
        const char *e = strchr(a, '\n');
        size_t len = e ? (size_t)(e - a) : strlen(a);
        if (len > 0) {
            lua_pushlstring(L, a, len);
            lua_rawseti(L, -2, ++n);
        }
        a += len + (e ? 1 : 0);
    }
    lua_setfield(L, -2, "address");
}

static void push_groups(lua_State *L, const char *field, const struct group *g, size_t n,
                        bool account)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        set_str(L, account ? "account" : "service", g[i].key);
        if (account)
            set_str(L, "account_name", g[i].name);
        set_dec(L, "amount", &g[i].amount);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, field);
}

/* Push (doc, md): the layout's two arguments. */
static int layout_push(lua_State *L, void *vctx)
{
    struct layout_ctx *c = vctx;
    const struct rbi_inv_doc *d = c->doc;
    char buf[32];

    lua_createtable(L, 0, 20);
    set_str(L, "kind", d->kind);
    set_str(L, "number", d->number);
    set_str(L, "refs", d->refs);
    set_str(L, "reason", d->reason);
    rb_month_format(d->month, buf, sizeof(buf));
    set_str(L, "period", buf);
    fmt_date(d->issued_at, buf, sizeof(buf));
    set_str(L, "issue_date", buf);
    fmt_date(d->due_at, buf, sizeof(buf));
    set_str(L, "due_date", buf);
    set_str(L, "currency", d->currency);
    push_party(L, d->issuer_id, d->issuer && d->issuer->legal_name[0] ? d->issuer->legal_name
                                                                      : d->issuer_id,
               d->issuer);
    lua_setfield(L, -2, "issuer");
    push_party(L, d->customer_id, d->customer_name, d->customer);
    lua_setfield(L, -2, "customer");
    lua_createtable(L, (int)d->nlines, 0);
    for (size_t i = 0; i < d->nlines; i++) {
        const struct rbi_inv_line *l = &d->lines[i];
        lua_createtable(L, 0, 7);
        set_str(L, "kind", l->kind);
        set_str(L, "service", l->service);
        set_str(L, "account", l->account);
        set_str(L, "account_name", l->account_name);
        set_str(L, "description", l->description);
        set_dec(L, "amount", &l->amount);
        if (l->corrects >= 0) {
            rb_month_format(l->corrects, buf, sizeof(buf));
            set_str(L, "corrects", buf);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "lines");
    push_groups(L, "services", c->svc, c->nsvc, false);
    push_groups(L, "accounts", c->acc, c->nacc, true);
    set_dec(L, "subtotal", &d->subtotal);
    set_str(L, "tax_name", d->tax_name);
    set_dec(L, "tax_rate", &d->tax_rate);
    set_dec(L, "tax", &d->tax);
    set_dec(L, "total", &d->total);
    rbi_lapi_md_push(L, c->h);
    return 2;
}

/* Whether the layout's main chunk returned a function, and if not, what. */
struct fn_check {
    int rule;
    int type;
    const char *tname; /* Lua's static type name */
};

static void check_fn(lua_State *L, void *vctx)
{
    struct fn_check *c = vctx;

    rbi_sandbox_push_rule(L, c->rule);
    c->type = lua_type(L, -1);
    c->tname = lua_typename(L, c->type);
    lua_pop(L, 1);
}

/* Load a layout into `sb` and check that it returns a function. The message in err names the
 * layout (and the file:line, from the sandbox). */
static rb_status load_layout(struct rbi_sandbox *sb, const char *name, const char *src,
                             size_t len, int *rule, rb_error *err)
{
    struct fn_check c = {0, LUA_TNONE, "?"};
    rb_status rc = rbi_sandbox_load(sb, name, src, len, rule);

    if (rc == RB_OK) {
        c.rule = *rule;
        rc = rbi_sandbox_run(sb, check_fn, &c);
    }
    if (rc != RB_OK)
        return rbi_error_set(err, rc, "layout %s: %s", name, rbi_sandbox_errmsg(sb));
    if (c.type != LUA_TFUNCTION)
        return rbi_error_set(err, RB_INVALID,
                             "layout %s: it returns %s%s, not a function (a layout is "
                             "`return function(inv, md) ... end`)", name,
                             c.type == LUA_TNIL ? "" : "a ",
                             c.type == LUA_TNIL ? "nothing" : c.tname);
    return RB_OK;
}

rb_status rbi_inv_layout_check(const char *name, const char *src, size_t len,
                               const rb_limits *limits, rb_error *err)
{
    struct rbi_sandbox *sb = NULL;
    int rule;
    rb_status rc;

    if (err)
        memset(err, 0, sizeof(*err));
    rc = rbi_sandbox_new(&sb, limits, err);
    if (rc == RB_OK)
        rc = load_layout(sb, name ? name : "layout", src ? src : "", len, &rule, err);
    rbi_sandbox_free(sb);
    return rc;
}

static const struct rbi_script *find_script(const char *name)
{
    for (const struct rbi_script *s = rbi_scripts; s->name != NULL; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* The SVG charts: cost by service (bars) and the last months' totals. Geometry only uses
 * doubles; the amounts shown are the exact texts. */
static rb_status charts(struct rb_buf *b, const struct rbi_inv_doc *d, const struct group *g,
                        size_t n)
{
    char buf[RB_DEC_BUFSZ];
    double max = 0;
    rb_status rc;

    for (size_t i = 0; i < n; i++) {
        double v = strtod(fmt_dec(&g[i].amount, buf), NULL);
        if (v > max)
            max = v;
    }
    rc = rbi_buf_printf(b, "<section class=\"charts\">\n<h2>Cost by service</h2>\n"
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                           "width=\"640\" height=\"%zu\" viewBox=\"0 0 640 %zu\">\n",
                        n * 24 + 8, n * 24 + 8);
    for (size_t i = 0; i < n && rc == RB_OK; i++) {
        double v = strtod(fmt_dec(&g[i].amount, buf), NULL);
        int w = max > 0 && v > 0 ? (int)(v / max * 300 + 0.5) : 0;
        rc = rbi_buf_printf(b, "<text x=\"0\" y=\"%zu\" font-size=\"12\">", i * 24 + 18);
        if (rc == RB_OK)
            rc = xml_str(b, g[i].key[0] ? g[i].key : "(none)");
        if (rc == RB_OK)
            rc = rbi_buf_printf(b, "</text><rect x=\"220\" y=\"%zu\" width=\"%d\" height=\"16\" "
                                   "fill=\"#4a78b0\"/><text x=\"%d\" y=\"%zu\" "
                                   "font-size=\"12\">%s %s</text>\n",
                                i * 24 + 6, w, 226 + w, i * 24 + 18, buf, d->currency);
    }
    if (rc == RB_OK)
        rc = rbi_buf_puts(b, "</svg>\n");
    if (rc == RB_OK && d->ntrend > 0) {
        double tmax = 0;
        for (size_t i = 0; i < d->ntrend; i++) {
            double v = strtod(fmt_dec(&d->trend[i].total, buf), NULL);
            if (v > tmax)
                tmax = v;
        }
        rc = rbi_buf_puts(b, "<h2>Last six months</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                             "role=\"img\" width=\"640\" height=\"180\" "
                             "viewBox=\"0 0 640 180\">\n");
        for (size_t i = 0; i < d->ntrend && rc == RB_OK; i++) {
            char mon[16];
            double v = strtod(fmt_dec(&d->trend[i].total, buf), NULL);
            int h = tmax > 0 && v > 0 ? (int)(v / tmax * 120 + 0.5) : 0;
            rb_month_format(d->trend[i].month, mon, sizeof(mon));
            rc = rbi_buf_printf(b, "<rect x=\"%zu\" y=\"%d\" width=\"60\" height=\"%d\" "
                                   "fill=\"#7aa35a\"/><text x=\"%zu\" y=\"172\" "
                                   "font-size=\"11\">%s</text><text x=\"%zu\" y=\"%d\" "
                                   "font-size=\"10\">%s</text>\n",
                                i * 100 + 10, 150 - h, h, i * 100 + 10, mon, i * 100 + 10,
                                145 - h, buf);
        }
        if (rc == RB_OK)
            rc = rbi_buf_puts(b, "</svg>\n");
    }
    return rc == RB_OK ? rbi_buf_puts(b, "</section>\n") : rc;
}

static rb_status to_json(struct rb_buf *b, const struct rbi_inv_doc *d, const struct group *svc,
                         size_t nsvc)
{
    char buf[RB_DEC_BUFSZ], dbuf[32];
    const rb_profile *parties[2] = {d->issuer, d->customer};
    const char *ids[2] = {d->issuer_id, d->customer_id};
    const char *names[2] = {d->issuer_id, d->customer_name};
    rb_status rc = rbi_buf_puts(b, "{\"kind\":");

#define S(x) (rc == RB_OK ? (rc = json_str(b, (x))) : rc)
#define P(x) (rc == RB_OK ? (rc = rbi_buf_puts(b, (x))) : rc)
    S(d->kind);
    P(",\"number\":");
    S(d->number);
    P(",\"refs\":");
    S(d->refs);
    P(",\"reason\":");
    S(d->reason);
    rb_month_format(d->month, dbuf, sizeof(dbuf));
    P(",\"period\":");
    S(dbuf);
    fmt_date(d->issued_at, dbuf, sizeof(dbuf));
    P(",\"issue_date\":");
    S(dbuf);
    fmt_date(d->due_at, dbuf, sizeof(dbuf));
    P(",\"due_date\":");
    S(dbuf);
    P(",\"currency\":");
    S(d->currency);
    for (int k = 0; k < 2; k++) {
        const rb_profile *p = parties[k];
        P(k == 0 ? ",\"issuer\":{\"id\":" : ",\"customer\":{\"id\":");
        S(ids[k]);
        P(",\"name\":");
        S(p && p->legal_name[0] ? p->legal_name : names[k]);
        P(",\"address\":");
        S(p ? p->address : "");
        P(",\"tax_id\":");
        S(p ? p->tax_id : "");
        P(",\"email\":");
        S(p ? p->email : "");
        P("}");
    }
    P(",\"lines\":[");
    for (size_t i = 0; i < d->nlines; i++) {
        const struct rbi_inv_line *l = &d->lines[i];
        P(i ? ",{\"kind\":" : "{\"kind\":");
        S(l->kind);
        P(",\"service\":");
        S(l->service);
        P(",\"account\":");
        S(l->account);
        P(",\"account_name\":");
        S(l->account_name);
        P(",\"description\":");
        S(l->description);
        P(",\"amount\":");
        S(fmt_dec(&l->amount, buf));
        if (l->corrects >= 0) {
            rb_month_format(l->corrects, dbuf, sizeof(dbuf));
            P(",\"corrects\":");
            S(dbuf);
        }
        P("}");
    }
    P("],\"services\":[");
    for (size_t i = 0; i < nsvc; i++) {
        P(i ? ",{\"service\":" : "{\"service\":");
        S(svc[i].key);
        P(",\"amount\":");
        S(fmt_dec(&svc[i].amount, buf));
        P("}");
    }
    P("],\"subtotal\":");
    S(fmt_dec(&d->subtotal, buf));
    P(",\"tax_name\":");
    S(d->tax_name);
    P(",\"tax_rate\":");
    S(fmt_dec(&d->tax_rate, buf));
    P(",\"tax\":");
    S(fmt_dec(&d->tax, buf));
    P(",\"total\":");
    S(fmt_dec(&d->total, buf));
    P("}\n");
#undef S
#undef P
    return rc;
}

rb_status rbi_inv_render(const struct rbi_inv_doc *doc, const char *name, const char *src,
                         size_t len, const rb_limits *limits, struct rbi_inv_forms *out,
                         rb_error *err)
{
    struct rbi_sandbox *sb = NULL;
    struct rbi_md_handle h = {NULL, 0};
    rb_md *mdb = NULL;
    struct layout_ctx lc;
    struct group *svc = NULL, *acc = NULL;
    size_t nsvc = 0, nacc = 0, mdlen, hlen, plen;
    const char *md;
    char *html = NULL, *page = NULL, title[160];
    int rule;
    rb_status rc;

    memset(out, 0, sizeof(*out));
    if (err)
        memset(err, 0, sizeof(*err));
    if (src == NULL) {
        const struct rbi_script *s = find_script(DEFAULT_LAYOUT);
        if (!s)
            return rbi_error_set(err, RB_ERROR, "the default layout is not built in");
        name = "scripts/" DEFAULT_LAYOUT;
        src = s->src;
        len = s->len;
    }
    if (!name)
        name = "layout";
    rc = groups_of(doc, false, &svc, &nsvc);
    if (rc == RB_OK)
        rc = groups_of(doc, true, &acc, &nacc);
    if (rc != RB_OK)
        goto out_free_groups;
    mdb = h.md = rb_md_new();
    if (!h.md) {
        rc = RB_NOMEM;
        goto out_free_groups;
    }
    rc = rbi_sandbox_new(&sb, limits, err);
    if (rc != RB_OK)
        goto out_free_md;
    rc = load_layout(sb, name, src, len, &rule, err);
    if (rc != RB_OK)
        goto out_free_sandbox;
    lc.doc = doc;
    lc.h = &h;
    lc.svc = svc;
    lc.nsvc = nsvc;
    lc.acc = acc;
    lc.nacc = nacc;
    rc = rbi_sandbox_call(sb, rule, NULL, layout_push, 0, NULL, &lc);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "layout %s: %s", name, rbi_sandbox_errmsg(sb));
        goto out_free_sandbox;
    }
    rc = rb_md_result(h.md, &md, &mdlen);
    if (rc == RB_MISUSE) {
        rc = rbi_error_set(err, RB_INVALID, "layout %s: it returned with a table open (call "
                                            "md:table_end())", name);
        goto out_free_sandbox;
    }
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "layout %s: %s", name, rb_md_errmsg(h.md));
        goto out_free_sandbox;
    }
    rc = rbi_buf_append(&out->md, md, mdlen);
    if (rc != RB_OK)
        goto out_free_sandbox;
    rc = rb_render_html(md, mdlen, 0, &html, &hlen, err);
    if (rc != RB_OK)
        goto out_free_sandbox;
    {
        struct rb_buf frag = {NULL, 0, 0};
        rc = rbi_buf_append(&frag, html, hlen);
        if (rc == RB_OK && strcmp(doc->kind, "credit_note") != 0 && nsvc > 0)
            rc = charts(&frag, doc, svc, nsvc);
        snprintf(title, sizeof(title), "%s %s %s",
                 strcmp(doc->kind, "credit_note") == 0 ? "Credit note" : "Invoice",
                 doc->number[0] ? doc->number : "(draft)", doc->customer_id);
        if (rc == RB_OK)
            rc = rb_render_page(title, frag.data, frag.len, &page, &plen, err);
        rbi_buf_release(&frag);
    }
    if (rc == RB_OK)
        rc = rbi_buf_append(&out->html, page, plen);
    if (rc == RB_OK)
        rc = to_json(&out->json, doc, svc, nsvc);
out_free_sandbox:
    h.md = NULL; /* revoke: an object the layout stashed raises from now on */
    rbi_sandbox_free(sb);
out_free_md:
    rb_md_free(mdb);
    rb_free(html);
    rb_free(page);
out_free_groups:
    rbi_free(svc);
    rbi_free(acc);
    if (rc != RB_OK) {
        rbi_inv_forms_release(out);
        if (err && err->code == RB_OK)
            rbi_error_set(err, rc, "cannot render invoice: %s", rb_strerror(rc));
    }
    return rc;
}

/* {===================================================================================
 * Stored invoices
 * =================================================================================== */

struct corr {
    int month;
    rb_dec amount;
};

/* A decoded record; `body` fields borrow from the map when `forms` was asked for. */
struct stored {
    rb_invoice inv;
    size_t ncorr;
    struct corr corr[64];
    const void *md, *html, *json;
    size_t md_len, html_len, json_len;
};

#define MAX_CORR 64

static size_t inv_key(char *key, const char *issuer, const char *number)
{
    size_t a = strlen(issuer), b = strlen(number);
    memcpy(key, issuer, a);
    key[a] = 0;
    memcpy(key + a + 1, number, b);
    return a + 1 + b;
}

static size_t cust_key(unsigned char *key, const char *customer, int month, const char *issuer,
                       const char *number)
{
    size_t n = 0, a = strlen(customer);

    key[n++] = 'c';
    memcpy(key + n, customer, a);
    n += a;
    key[n++] = 0;
    rbi_be32_put(key + n, (uint32_t)month);
    n += 4;
    if (issuer)
        n += inv_key((char *)key + n, issuer, number);
    return n;
}

static rb_status decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                        struct stored *s)
{
    struct rbi_rec_reader r;
    const char *key = k->data;
    size_t ilen = strnlen(key, k->len);

    memset(s, 0, sizeof(*s));
    if (ilen >= k->len || ilen > RB_ORG_ID_MAX || k->len - ilen - 1 > RB_INVOICE_NUMBER_MAX)
        return rbi_txn_error(txn, RB_CORRUPT, "damaged invoice key");
    memcpy(s->inv.issuer, key, ilen);
    memcpy(s->inv.number, key + ilen + 1, k->len - ilen - 1);
    rbi_rec_read(&r, v->data, v->len);
    s->inv.kind = (rb_invoice_kind)rbi_rec_get_i64(&r);
    rbi_rec_get_str(&r, s->inv.customer, sizeof(s->inv.customer));
    s->inv.month = (int)rbi_rec_get_i64(&r);
    s->inv.issued_at = rbi_rec_get_i64(&r);
    s->inv.due_at = rbi_rec_get_i64(&r);
    rbi_rec_get_str(&r, s->inv.currency, sizeof(s->inv.currency));
    s->inv.subtotal = rbi_rec_get_dec(&r);
    s->inv.tax = rbi_rec_get_dec(&r);
    s->inv.total = rbi_rec_get_dec(&r);
    rbi_rec_get_str(&r, s->inv.refs, sizeof(s->inv.refs));
    rbi_rec_get_str(&r, s->inv.reason, sizeof(s->inv.reason));
    rbi_rec_get_str(&r, s->inv.inputs_hash, sizeof(s->inv.inputs_hash));
    s->ncorr = (size_t)rbi_rec_get_i64(&r);
    if (s->ncorr > MAX_CORR)
        r.bad = true;
    for (size_t i = 0; !r.bad && i < s->ncorr; i++) {
        s->corr[i].month = (int)rbi_rec_get_i64(&r);
        s->corr[i].amount = rbi_rec_get_dec(&r);
    }
    s->md_len = rbi_rec_get_bytes(&r, &s->md);
    s->html_len = rbi_rec_get_bytes(&r, &s->html);
    s->json_len = rbi_rec_get_bytes(&r, &s->json);
    if (r.bad || r.version != 1 || s->inv.kind < RB_INVOICE_ISSUED ||
        s->inv.kind > RB_INVOICE_CREDIT)
        return rbi_txn_error(txn, RB_CORRUPT, "damaged invoice record %s of %s", s->inv.number,
                             s->inv.issuer);
    return RB_OK;
}

static rb_status voided_by(rb_txn *txn, rb_invoice *inv)
{
    unsigned char key[RB_ORG_ID_MAX + RB_INVOICE_NUMBER_MAX + 4];
    struct rbi_val v;
    size_t n;
    rb_status rc;

    key[0] = 'v';
    n = 1 + inv_key((char *)key + 1, inv->issuer, inv->number);
    rc = rbi_get(txn, RBI_DB_INVINDEX, key, n, &v);
    inv->voided_by[0] = 0;
    if (rc == RB_NOTFOUND)
        return RB_OK;
    if (rc != RB_OK)
        return rc;
    if (v.len > RB_INVOICE_NUMBER_MAX)
        return rbi_txn_error(txn, RB_CORRUPT, "damaged void marker of %s", inv->number);
    memcpy(inv->voided_by, v.data, v.len);
    inv->voided_by[v.len] = 0;
    return RB_OK;
}

static rb_status copy_forms(rb_invoice *inv, const struct stored *s)
{
    inv->md = rbi_malloc(s->md_len + 1);
    inv->html = rbi_malloc(s->html_len + 1);
    inv->json = rbi_malloc(s->json_len + 1);
    if (!inv->md || !inv->html || !inv->json) {
        rb_invoice_release(inv);
        return RB_NOMEM;
    }
    memcpy(inv->md, s->md, s->md_len);
    inv->md[s->md_len] = 0;
    inv->md_len = s->md_len;
    memcpy(inv->html, s->html, s->html_len);
    inv->html[s->html_len] = 0;
    inv->html_len = s->html_len;
    memcpy(inv->json, s->json, s->json_len);
    inv->json[s->json_len] = 0;
    inv->json_len = s->json_len;
    return RB_OK;
}

/* Every stored record of customer `org` (all months), through fn. */
struct each_ctx {
    rb_txn *txn;
    rb_status (*fn)(struct stored *s, void *ctx);
    void *ctx;
    struct stored *s;
};

static rb_status each_index(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct each_ctx *c = vctx;
    const char *key = k->data;
    struct rbi_val iv;
    size_t off = strnlen(key, k->len) + 1 + 4;
    rb_status rc;

    (void)v;
    if (off >= k->len)
        return rbi_txn_error(c->txn, RB_CORRUPT, "damaged invoice index key");
    {
        struct rbi_val ik = {key + off, k->len - off};
        rc = rbi_get(c->txn, RBI_DB_INVOICES, ik.data, ik.len, &iv);
        if (rc == RB_NOTFOUND)
            return rbi_txn_error(c->txn, RB_CORRUPT, "invoice index names a missing invoice");
        if (rc == RB_OK)
            rc = decode(c->txn, &ik, &iv, c->s);
    }
    if (rc == RB_OK)
        rc = voided_by(c->txn, &c->s->inv);
    return rc == RB_OK ? c->fn(c->s, c->ctx) : rc;
}

static rb_status each_of_customer(rb_txn *txn, const char *org, rb_status (*fn)(struct stored *,
                                                                                void *),
                                  void *ctx)
{
    unsigned char prefix[RB_ORG_ID_MAX + 2];
    struct each_ctx c;
    struct stored *s = rbi_malloc(sizeof(*s));
    size_t a = strlen(org);
    rb_status rc;

    if (!s)
        return RB_NOMEM;
    prefix[0] = 'c';
    memcpy(prefix + 1, org, a);
    prefix[a + 1] = 0;
    c.txn = txn;
    c.fn = fn;
    c.ctx = ctx;
    c.s = s;
    rc = rbi_scan(txn, RBI_DB_INVINDEX, prefix, a + 2, each_index, &c);
    rbi_free(s);
    return rc;
}

/* {===================================================================================
 * Building the document of a customer-month
 * =================================================================================== */

struct build {
    rb_txn *txn;
    const char *org;
    int month;
    int64_t now;
    const rb_invoice_opts *opts;
    rb_priced *p;
    rb_org customer;
    rb_profile issuer_p, customer_p;
    rb_payer_info pi;
    /* lines */
    struct rbi_inv_line *lines;
    rb_dec *exact;
    size_t n, cap;
    char (*names)[RB_NAME_MAX + 1];
    char (*descr)[96];
    struct corr corr[MAX_CORR];
    size_t ncorr;
    struct rbi_inv_trend trend[RBI_INV_TREND_MAX];
    size_t ntrend;
    struct rbi_inv_doc doc;
    rb_dec subtotal, tax, total;
};

static void build_release(struct build *b)
{
    rb_priced_free(b->p);
    rbi_free(b->lines);
    rbi_free(b->exact);
    rbi_free(b->names);
    rbi_free(b->descr);
}

static rb_status add_line(struct build *b, const char *kind, const char *service,
                          const char *account, const char *descr, const rb_dec *amount,
                          int corrects, size_t *at)
{
    size_t i;
    rb_status rc;

    if (corrects < 0) {
        for (i = 0; i < b->n; i++) {
            if (b->lines[i].corrects < 0 && strcmp(b->lines[i].kind, kind) == 0 &&
                strcmp(b->lines[i].service, service) == 0 &&
                strcmp(b->lines[i].account, account) == 0 &&
                strcmp(b->descr[i], descr) == 0) {
                *at = i;
                return rb_dec_add(&b->exact[i], &b->exact[i], amount);
            }
        }
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        void *l = rbi_realloc(b->lines, cap * sizeof(*b->lines));
        if (!l)
            return RB_NOMEM;
        b->lines = l;
        l = rbi_realloc(b->exact, cap * sizeof(*b->exact));
        if (!l)
            return RB_NOMEM;
        b->exact = l;
        l = rbi_realloc(b->names, cap * sizeof(*b->names));
        if (!l)
            return RB_NOMEM;
        b->names = l;
        l = rbi_realloc(b->descr, cap * sizeof(*b->descr));
        if (!l)
            return RB_NOMEM;
        b->descr = l;
        b->cap = cap;
    }
    i = b->n++;
    b->names[i][0] = 0;
    if (account[0]) {
        rb_account a;
        rc = rb_account_get(b->txn, account, &a);
        if (rc == RB_OK)
            rbi_strlcpy(b->names[i], a.name, sizeof(b->names[i]));
        else if (rc != RB_NOTFOUND)
            return rc;
    }
    rbi_strlcpy(b->descr[i], descr, sizeof(b->descr[i]));
    b->lines[i].kind = kind;
    b->lines[i].service = service;
    b->lines[i].account = account;
    b->lines[i].account_name = NULL; /* set once the arrays stop moving */
    b->lines[i].description = NULL;
    b->lines[i].amount = *amount;
    b->lines[i].corrects = corrects;
    b->exact[i] = *amount;
    *at = i;
    return RB_OK;
}

/* Corrections: for each earlier month this customer has a live issued invoice, what that
 * month's pricing says now minus what was invoiced for it (its subtotal and the corrections
 * of it carried since). */
struct corr_ctx {
    struct build *b;
    int months[MAX_CORR];
    char numbers[MAX_CORR][RB_INVOICE_NUMBER_MAX + 1];
    rb_dec billed[MAX_CORR];
    char currency[MAX_CORR][4];
    size_t n;
};

static rb_status corr_month(struct corr_ctx *c, int month, size_t *at)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->months[i] == month) {
            *at = i;
            return RB_OK;
        }
    if (c->n == MAX_CORR)
        return rbi_txn_error(c->b->txn, RB_INVALID, "too many months to correct (most %d)",
                             MAX_CORR);
    *at = c->n++;
    c->months[*at] = month;
    c->numbers[*at][0] = 0;
    c->billed[*at] = rb_dec_zero();
    c->currency[*at][0] = 0;
    return RB_OK;
}

static rb_status corr_collect(struct stored *s, void *vctx)
{
    struct corr_ctx *c = vctx;
    size_t at;
    rb_status rc = RB_OK;

    if (s->inv.kind != RB_INVOICE_ISSUED || s->inv.voided_by[0])
        return RB_OK;
    if (s->inv.month < c->b->month) {
        rc = corr_month(c, s->inv.month, &at);
        if (rc == RB_OK) {
            rbi_strlcpy(c->numbers[at], s->inv.number, sizeof(c->numbers[at]));
            rbi_strlcpy(c->currency[at], s->inv.currency, sizeof(c->currency[at]));
            /* its own month's part: the subtotal less the corrections it carried */
            rc = rb_dec_add(&c->billed[at], &c->billed[at], &s->inv.subtotal);
            for (size_t i = 0; rc == RB_OK && i < s->ncorr; i++)
                rc = rb_dec_sub(&c->billed[at], &c->billed[at], &s->corr[i].amount);
        }
    }
    for (size_t i = 0; rc == RB_OK && i < s->ncorr; i++) {
        if (s->corr[i].month >= c->b->month)
            continue;
        rc = corr_month(c, s->corr[i].month, &at);
        if (rc == RB_OK)
            rc = rb_dec_add(&c->billed[at], &c->billed[at], &s->corr[i].amount);
    }
    return rc;
}

/* The trend: totals of this customer's live invoices of the five months before. */
static rb_status trend_collect(struct stored *s, void *vctx)
{
    struct build *b = vctx;

    if (s->inv.kind != RB_INVOICE_ISSUED || s->inv.voided_by[0] ||
        s->inv.month >= b->month || s->inv.month < b->month - (RBI_INV_TREND_MAX - 1) ||
        strcmp(s->inv.currency, b->doc.currency) != 0 || b->ntrend >= RBI_INV_TREND_MAX - 1)
        return RB_OK;
    size_t at = b->ntrend++;
    while (at > 0 && b->trend[at - 1].month > s->inv.month) {
        b->trend[at] = b->trend[at - 1];
        at--;
    }
    b->trend[at].month = s->inv.month;
    b->trend[at].total = s->inv.total;
    return RB_OK;
}

static rb_status corrections(struct build *b)
{
    struct corr_ctx *c = rbi_calloc(1, sizeof(*c));
    rb_price_opts po;
    rb_status rc;

    if (!c)
        return RB_NOMEM;
    c->b = b;
    rc = each_of_customer(b->txn, b->org, corr_collect, c);
    memset(&po, 0, sizeof(po));
    po.limits = b->opts ? b->opts->limits : NULL;
    for (size_t i = 0; rc == RB_OK && i < c->n; i++) {
        rb_priced *p = NULL;
        rb_dec diff;
        const rb_price_totals *t;
        size_t at;
        char mon[16];
        if (!c->numbers[i][0])
            continue; /* corrections carried for a month without a live invoice */
        rc = rb_price_org(b->txn, b->org, c->months[i], &po, &p);
        if (rc != RB_OK)
            break;
        t = rb_priced_totals(p);
        if (strcmp(t->currency, c->currency[i]) != 0 ||
            strcmp(t->currency, b->doc.currency) != 0) {
            rb_priced_free(p);
            rb_month_format(c->months[i], mon, sizeof(mon));
            rc = rbi_txn_error(b->txn, RB_INVALID,
                               "cannot correct %s (%s): its currency changed from %s to %s",
                               mon, c->numbers[i], c->currency[i], t->currency);
            break;
        }
        rc = rb_dec_sub(&diff, &t->subtotal, &c->billed[i]);
        rb_priced_free(p);
        if (rc != RB_OK || rb_dec_sign(&diff) == 0)
            continue;
        if (b->ncorr == MAX_CORR)
            break;
        b->corr[b->ncorr].month = c->months[i];
        b->corr[b->ncorr].amount = diff;
        b->ncorr++;
        rb_month_format(c->months[i], mon, sizeof(mon));
        {
            char d[96];
            snprintf(d, sizeof(d), "Correction of %s (%s)", mon, c->numbers[i]);
            rc = add_line(b, "correction", "", "", d, &diff, c->months[i], &at);
        }
    }
    rbi_free(c);
    return rc;
}

static const char *kind_of(rb_price_kind k)
{
    return rb_price_kind_name(k);
}

/* Price, group, round, correct: fill b->doc (a draft; the caller numbers it). */
static rb_status build_doc(struct build *b, const char *kind)
{
    rb_price_opts po;
    const rb_price_totals *t;
    rb_dec *rounded = NULL, target;
    size_t npriced, nlines_priced;
    char mon[16];
    rb_status rc;

    rc = rbi_org_require(b->txn, b->org, &b->customer);
    if (rc != RB_OK)
        return rc;
    if (b->month < 0 || b->month == RB_MONTH_OPEN)
        return rbi_txn_error(b->txn, RB_INVALID, "invalid period");
    rb_month_format(b->month, mon, sizeof(mon));
    rc = rb_payer_of(b->txn, b->org, b->month, &b->pi);
    if (rc != RB_OK)
        return rc;
    if (b->pi.depth == 0)
        return rbi_txn_error(b->txn, RB_INVALID,
                             "organization %s has no payer in %s: nobody invoices it", b->org,
                             mon);
    rc = rb_profile_get(b->txn, b->pi.chain[0], &b->issuer_p);
    if (rc == RB_OK)
        rc = rb_profile_get(b->txn, b->org, &b->customer_p);
    if (rc != RB_OK)
        return rc;
    memset(&po, 0, sizeof(po));
    po.limits = b->opts ? b->opts->limits : NULL;
    /* The invoice's own month through the caller's cache, if any; corrections() prices the
     * earlier months without it (one cache holds one month). */
    rc = rbi_price_org_cached(b->txn, b->org, b->month, &po, b->opts ? b->opts->cache : NULL,
                              &b->p);
    if (rc != RB_OK)
        return rc;
    t = rb_priced_totals(b->p);
    npriced = rb_priced_count(b->p);
    for (size_t i = 0; i < npriced && rc == RB_OK; i++) {
        const rb_price_line *l = rb_priced_line(b->p, i);
        size_t at;
        bool usage = l->kind == RB_PRICE_USAGE || l->kind == RB_PRICE_PASS;
        rc = add_line(b, usage ? "usage" : kind_of(l->kind), l->service,
                      usage ? l->account : "", usage ? l->service : l->label, &l->amount, -1,
                      &at);
    }
    if (rc != RB_OK)
        return rc;
    /* Round the priced lines so they add up to the priced subtotal. */
    nlines_priced = b->n;
    rounded = rbi_calloc(nlines_priced ? nlines_priced : 1, sizeof(*rounded));
    if (!rounded)
        return RB_NOMEM;
    target = t->subtotal;
    rc = rbi_inv_round_lines(b->exact, rounded, nlines_priced, t->currency, &target);
    if (rc == RB_INVALID)
        rc = rbi_txn_error(b->txn, RB_INVALID, "cannot spread the rounding of %s over its lines",
                           mon);
    for (size_t i = 0; rc == RB_OK && i < nlines_priced; i++)
        b->lines[i].amount = rounded[i];
    rbi_free(rounded);
    if (rc != RB_OK)
        return rc;
    memcpy(b->doc.currency, t->currency, sizeof(b->doc.currency));
    if (strcmp(kind, "draft") == 0 || strcmp(kind, "invoice") == 0)
        rc = corrections(b);
    if (rc != RB_OK)
        return rc;
    b->subtotal = t->subtotal;
    for (size_t i = 0; rc == RB_OK && i < b->ncorr; i++)
        rc = rb_dec_add(&b->subtotal, &b->subtotal, &b->corr[i].amount);
    b->tax = t->tax;
    if (rc == RB_OK && b->ncorr > 0 && t->tax_name[0]) {
        rb_dec hundred = rb_dec_from_int(100), x;
        rc = rb_dec_mul(&x, &b->subtotal, &t->tax_rate);
        if (rc == RB_OK)
            rc = rb_dec_div(&x, &x, &hundred, 12, RB_ROUND_HALF_EVEN);
        if (rc == RB_OK)
            rc = rb_dec_round_currency(&b->tax, &x, t->currency, RB_ROUND_HALF_EVEN);
    }
    if (rc == RB_OK)
        rc = rb_dec_add(&b->total, &b->subtotal, &b->tax);
    if (rc != RB_OK)
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        b->lines[i].account_name = b->names[i];
        b->lines[i].description = b->descr[i];
    }
    b->doc.kind = kind;
    b->doc.number = "";
    b->doc.refs = "";
    b->doc.reason = "";
    b->doc.issuer_id = b->pi.chain[0];
    b->doc.issuer = &b->issuer_p;
    b->doc.customer_id = b->org;
    b->doc.customer_name = b->customer.name;
    b->doc.customer = &b->customer_p;
    b->doc.month = b->month;
    b->doc.issued_at = b->now;
    b->doc.due_at = b->now + (int64_t)b->issuer_p.terms_days * 86400;
    b->doc.lines = b->lines;
    b->doc.nlines = b->n;
    b->doc.subtotal = b->subtotal;
    b->doc.tax_name = t->tax_name;
    b->doc.tax_rate = t->tax_rate;
    b->doc.tax = b->tax;
    b->doc.total = b->total;
    rc = each_of_customer(b->txn, b->org, trend_collect, b);
    if (rc != RB_OK)
        return rc;
    b->trend[b->ntrend].month = b->month;
    b->trend[b->ntrend].total = b->total;
    b->ntrend++;
    b->doc.trend = b->trend;
    b->doc.ntrend = b->ntrend;
    return RB_OK;
}

/* The input hash: the plan in force, the usage manifests of the month, the layout, and
 * the document itself (its JSON form). */
struct hash_ctx {
    uint64_t h;
};

static rb_status hash_manifest(const rb_usage_manifest *m, void *vctx)
{
    struct hash_ctx *c = vctx;

    c->h = fnv(c->h, m->source, strlen(m->source));
    for (size_t i = 0; i < m->nfiles; i++)
        c->h = fnv(c->h, &m->files[i].hash, sizeof(m->files[i].hash));
    return RB_OK;
}

static rb_status input_hash(struct build *b, const struct rbi_inv_forms *f, char *out)
{
    struct hash_ctx c = {FNV_INIT};
    rb_plan_assignment a;
    rb_status rc = rb_plan_at(b->txn, b->org, b->month, &a);

    if (rc == RB_OK)
        c.h = fnv(c.h, a.hash, strlen(a.hash));
    else if (rc == RB_NOTFOUND)
        c.h = fnv(c.h, "default", 7);
    else
        return rc;
    rc = rb_usage_manifest_list(b->txn, b->month, hash_manifest, &c);
    if (rc != RB_OK)
        return rc;
    if (b->opts && b->opts->layout_src)
        c.h = fnv(c.h, b->opts->layout_src, b->opts->layout_len);
    else
        c.h = fnv(c.h, DEFAULT_LAYOUT, strlen(DEFAULT_LAYOUT));
    c.h = fnv(c.h, f->json.data, f->json.len);
    snprintf(out, 17, "%016llx", (unsigned long long)c.h);
    return RB_OK;
}

static rb_status render_doc(rb_txn *txn, const struct rbi_inv_doc *doc,
                            const struct rbi_layout_use *u, struct rbi_inv_forms *f)
{
    rb_error err;
    rb_status rc = rbi_inv_render(doc, u->opts.layout_name, u->opts.layout_src,
                                  u->opts.layout_len, u->opts.limits, f, &err);

    if (rc != RB_OK && u->org[0])
        return rbi_txn_error(txn, rc, "%s (the stored layout of %s)", err.msg, u->org);
    if (rc != RB_OK)
        return rbi_txn_error(txn, rc, "%s", err.msg);
    return RB_OK;
}

static rb_status take_forms(rb_invoice *out, struct rbi_inv_forms *f)
{
    out->md = f->md.data;
    out->md_len = f->md.len;
    out->html = f->html.data;
    out->html_len = f->html.len;
    out->json = f->json.data;
    out->json_len = f->json.len;
    memset(f, 0, sizeof(*f));
    return RB_OK;
}

static void fill_header(rb_invoice *out, const struct rbi_inv_doc *d, rb_invoice_kind kind)
{
    out->kind = kind;
    rbi_strlcpy(out->number, d->number, sizeof(out->number));
    rbi_strlcpy(out->issuer, d->issuer_id, sizeof(out->issuer));
    rbi_strlcpy(out->customer, d->customer_id, sizeof(out->customer));
    out->month = d->month;
    out->issued_at = d->issued_at;
    out->due_at = d->due_at;
    memcpy(out->currency, d->currency, sizeof(out->currency));
    out->subtotal = d->subtotal;
    out->tax = d->tax;
    out->total = d->total;
    rbi_strlcpy(out->refs, d->refs, sizeof(out->refs));
    rbi_strlcpy(out->reason, d->reason, sizeof(out->reason));
}

rb_status rb_invoice_preview(rb_txn *txn, const char *org, int month,
                             const rb_invoice_opts *opts, int64_t now, rb_invoice *out)
{
    struct build b;
    struct rbi_inv_forms f;
    struct rbi_layout_use u;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    memset(out, 0, sizeof(*out));
    memset(&b, 0, sizeof(b));
    memset(&f, 0, sizeof(f));
    memset(&u, 0, sizeof(u));
    b.txn = txn;
    b.org = org;
    b.month = month;
    b.now = now;
    b.opts = opts;
    rc = build_doc(&b, "draft");
    if (rc == RB_OK)
        rc = rbi_layout_resolve(txn, org, b.pi.chain[0], opts, &u);
    if (rc == RB_OK) {
        b.opts = &u.opts; /* the input hash covers the layout actually used */
        rc = render_doc(txn, &b.doc, &u, &f);
    }
    if (rc == RB_OK)
        rc = input_hash(&b, &f, out->inputs_hash);
    if (rc == RB_OK) {
        fill_header(out, &b.doc, RB_INVOICE_DRAFT);
        take_forms(out, &f);
    }
    rbi_inv_forms_release(&f);
    rbi_layout_use_release(&u);
    build_release(&b);
    return rc;
}

/* The draft document of a customer-month with the priced lines it was built from, for
 * engine/export.c: no layout runs, nothing is rendered. */
struct rbi_inv_draft {
    struct build b;
    rb_invoice_opts opts;
};

void rbi_inv_draft_free(struct rbi_inv_draft *d)
{
    if (!d)
        return;
    build_release(&d->b);
    rbi_free(d);
}

rb_status rbi_inv_draft(rb_txn *txn, const char *org, int month, const rb_limits *limits,
                        int64_t now, struct rbi_inv_draft **out)
{
    struct rbi_inv_draft *d = rbi_calloc(1, sizeof(*d));
    rb_status rc;

    *out = NULL;
    if (!d)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    d->opts.limits = limits;
    d->b.txn = txn;
    d->b.org = org;
    d->b.month = month;
    d->b.now = now;
    d->b.opts = &d->opts;
    rc = build_doc(&d->b, "draft");
    if (rc != RB_OK) {
        rbi_inv_draft_free(d);
        return rc;
    }
    *out = d;
    return RB_OK;
}

const struct rbi_inv_doc *rbi_inv_draft_doc(const struct rbi_inv_draft *d)
{
    return &d->b.doc;
}

const rb_priced *rbi_inv_draft_priced(const struct rbi_inv_draft *d)
{
    return d->b.p;
}

/* Is there a live issued invoice of this customer-month? */
struct live_ctx {
    int month;
    char number[RB_INVOICE_NUMBER_MAX + 1];
};

static rb_status live_find(struct stored *s, void *vctx)
{
    struct live_ctx *c = vctx;

    if (s->inv.month == c->month && s->inv.kind == RB_INVOICE_ISSUED && !s->inv.voided_by[0])
        rbi_strlcpy(c->number, s->inv.number, sizeof(c->number));
    return RB_OK;
}

static rb_status store_record(rb_txn *txn, const rb_invoice *inv, const struct corr *corr,
                              size_t ncorr, const struct rbi_inv_forms *f)
{
    struct rb_buf b = {NULL, 0, 0};
    char key[RB_ORG_ID_MAX + RB_INVOICE_NUMBER_MAX + 4];
    unsigned char ikey[2 * RB_ORG_ID_MAX + RB_INVOICE_NUMBER_MAX + 12];
    size_t klen, iklen;
    rb_status rc = rbi_rec_begin(&b, 1);

    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, inv->kind);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, inv->customer);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, inv->month);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, inv->issued_at);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, inv->due_at);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, inv->currency);
    if (rc == RB_OK)
        rc = rbi_rec_put_dec(&b, &inv->subtotal);
    if (rc == RB_OK)
        rc = rbi_rec_put_dec(&b, &inv->tax);
    if (rc == RB_OK)
        rc = rbi_rec_put_dec(&b, &inv->total);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, inv->refs);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, inv->reason);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, inv->inputs_hash);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, (int64_t)ncorr);
    for (size_t i = 0; rc == RB_OK && i < ncorr; i++) {
        rc = rbi_rec_put_i64(&b, corr[i].month);
        if (rc == RB_OK)
            rc = rbi_rec_put_dec(&b, &corr[i].amount);
    }
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, f->md.data, f->md.len);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, f->html.data, f->html.len);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, f->json.data, f->json.len);
    klen = inv_key(key, inv->issuer, inv->number);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_INVOICES, key, klen, b.data, b.len, RBI_NOOVERWRITE);
    if (rc == RB_EXISTS)
        rc = rbi_txn_error(txn, RB_CORRUPT, "invoice number %s of %s is taken: the sequence "
                                            "is damaged", inv->number, inv->issuer);
    iklen = cust_key(ikey, inv->customer, inv->month, inv->issuer, inv->number);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_INVINDEX, ikey, iklen, "", 0, RBI_NOOVERWRITE);
    rbi_buf_release(&b);
    return rc;
}

static rb_status next_number(rb_txn *txn, const char *prefix, const char *issuer, int64_t now,
                             char *out)
{
    char name[64];
    uint64_t seq;
    int year = rb_month_of(now) / 12;
    rb_status rc;

    snprintf(name, sizeof(name), "%s:%s:%d", prefix, issuer, year);
    rc = rbi_next_seq(txn, name, &seq);
    if (rc != RB_OK)
        return rc;
    if (seq > 999999)
        return rbi_txn_error(txn, RB_INVALID, "%s numbers of %s for %d are used up (999999)",
                             prefix, issuer, year);
    snprintf(out, RB_INVOICE_NUMBER_MAX + 1, "%s-%d-%06llu", prefix, year,
             (unsigned long long)seq);
    return RB_OK;
}

rb_status rb_invoice_issue(rb_txn *txn, const char *org, int month, const rb_invoice_opts *opts,
                           int64_t now, rb_invoice *out)
{
    struct build b;
    struct rbi_inv_forms f;
    struct rbi_layout_use u;
    struct live_ctx live;
    char number[RB_INVOICE_NUMBER_MAX + 1], mon[16];
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    memset(out, 0, sizeof(*out));
    memset(&b, 0, sizeof(b));
    memset(&f, 0, sizeof(f));
    memset(&u, 0, sizeof(u));
    if (rb_txn_is_readonly(txn))
        return RB_READONLY;
    b.txn = txn;
    b.org = org;
    b.month = month;
    b.now = now;
    b.opts = opts;
    rc = build_doc(&b, "invoice");
    if (rc == RB_OK) /* before any write: the resolved source is a copy, but read it first */
        rc = rbi_layout_resolve(txn, org, b.pi.chain[0], opts, &u);
    if (rc != RB_OK)
        goto out_release;
    b.opts = &u.opts; /* the input hash covers the layout actually used */
    live.month = month;
    live.number[0] = 0;
    rc = each_of_customer(txn, org, live_find, &live);
    if (rc == RB_OK && live.number[0]) {
        rb_month_format(month, mon, sizeof(mon));
        rc = rbi_txn_error(txn, RB_EXISTS,
                           "%s is already invoiced for %s: %s (void it to issue again)", org,
                           mon, live.number);
    }
    if (rc == RB_OK)
        rc = next_number(txn, "INV", b.pi.chain[0], now, number);
    if (rc != RB_OK)
        goto out_release;
    b.doc.number = number;
    rc = render_doc(txn, &b.doc, &u, &f);
    if (rc == RB_OK)
        rc = input_hash(&b, &f, out->inputs_hash);
    if (rc != RB_OK)
        goto out_release;
    fill_header(out, &b.doc, RB_INVOICE_ISSUED);
    rc = store_record(txn, out, b.corr, b.ncorr, &f);
    if (rc == RB_OK)
        take_forms(out, &f);
out_release:
    rbi_inv_forms_release(&f);
    rbi_layout_use_release(&u);
    build_release(&b);
    return rc;
}

/* {===================================================================================
 * Reading, listing, voiding
 * =================================================================================== */

struct find_ctx {
    const char *issuer;
    const char *number;
    struct stored *s;
    rb_txn *txn;
    int found;
};

static rb_status find_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct find_ctx *c = vctx;
    const char *key = k->data;
    size_t ilen = strnlen(key, k->len);

    if (ilen >= k->len || k->len - ilen - 1 != strlen(c->number) ||
        memcmp(key + ilen + 1, c->number, k->len - ilen - 1) != 0)
        return RB_OK;
    if (c->issuer && (ilen != strlen(c->issuer) || memcmp(key, c->issuer, ilen) != 0))
        return RB_OK;
    if (c->found++ == 0)
        return decode(c->txn, k, v, c->s);
    return RB_OK;
}

static rb_status find_stored(rb_txn *txn, const char *issuer, const char *number,
                             struct stored *s)
{
    struct find_ctx c = {issuer, number, s, txn, 0};
    rb_status rc;

    if (!number || !*number || strlen(number) > RB_INVOICE_NUMBER_MAX)
        return rbi_txn_error(txn, RB_INVALID, "invalid invoice number \"%.40s\"",
                             number ? number : "");
    rc = rbi_scan(txn, RBI_DB_INVOICES, issuer ? issuer : NULL, issuer ? strlen(issuer) : 0,
                  find_one, &c);
    if (rc != RB_OK)
        return rc;
    if (c.found == 0)
        return rbi_txn_error(txn, RB_NOTFOUND, "no invoice %s%s%s", number,
                             issuer ? " issued by " : "", issuer ? issuer : "");
    if (c.found > 1)
        return rbi_txn_error(txn, RB_INVALID,
                             "invoice number %s is used by %d issuers: name the issuer", number,
                             c.found);
    return voided_by(txn, &s->inv);
}

rb_status rb_invoice_get(rb_txn *txn, const char *issuer, const char *number, rb_invoice *out)
{
    struct stored *s;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    memset(out, 0, sizeof(*out));
    s = rbi_malloc(sizeof(*s));
    if (!s)
        return RB_NOMEM;
    rc = find_stored(txn, issuer, number, s);
    if (rc == RB_OK) {
        *out = s->inv;
        out->md = out->html = out->json = NULL;
        rc = copy_forms(out, s);
    }
    rbi_free(s);
    return rc;
}

struct list_ctx {
    rb_txn *txn;
    const char *org;
    int month;
    rb_invoice_cb cb;
    void *ctx;
    struct stored *s;
};

static rb_status list_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct list_ctx *c = vctx;
    rb_status rc = decode(c->txn, k, v, c->s);

    if (rc != RB_OK)
        return rc;
    if (c->org && strcmp(c->org, c->s->inv.customer) != 0)
        return RB_OK;
    if (c->month != RB_MONTH_OPEN && c->month != c->s->inv.month)
        return RB_OK;
    rc = voided_by(c->txn, &c->s->inv);
    return rc == RB_OK ? c->cb(&c->s->inv, c->ctx) : rc;
}

rb_status rb_invoice_list(rb_txn *txn, const char *org, int month, rb_invoice_cb cb, void *ctx)
{
    struct list_ctx c = {txn, org, month, cb, ctx, NULL};
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    c.s = rbi_malloc(sizeof(*c.s));
    if (!c.s)
        return RB_NOMEM;
    rc = rbi_scan(txn, RBI_DB_INVOICES, NULL, 0, list_one, &c);
    rbi_free(c.s);
    return rc;
}

rb_status rb_invoice_void(rb_txn *txn, const char *issuer, const char *number,
                          const char *reason, const rb_invoice_opts *opts, int64_t now,
                          rb_invoice *out)
{
    struct stored *s;
    struct rbi_inv_doc d;
    struct rbi_inv_line line;
    struct rbi_inv_forms f;
    struct rbi_layout_use u;
    rb_profile ip, cp;
    rb_org co;
    char cn[RB_INVOICE_NUMBER_MAX + 1], descr[96], mon[16];
    unsigned char vkey[RB_ORG_ID_MAX + RB_INVOICE_NUMBER_MAX + 4];
    size_t vlen;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    memset(out, 0, sizeof(*out));
    memset(&f, 0, sizeof(f));
    memset(&u, 0, sizeof(u));
    if (!reason || !*reason || strlen(reason) > RB_INVOICE_REASON_MAX || !text_ok(reason, false))
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid reason \"%.60s\": want 1..255 bytes of text without "
                             "control characters", reason ? reason : "");
    s = rbi_malloc(sizeof(*s));
    if (!s)
        return RB_NOMEM;
    rc = find_stored(txn, issuer, number, s);
    if (rc != RB_OK)
        goto out_free;
    if (s->inv.kind != RB_INVOICE_ISSUED) {
        rc = rbi_txn_error(txn, RB_INVALID, "%s is a credit note: only invoices can be voided",
                           number);
        goto out_free;
    }
    if (s->inv.voided_by[0]) {
        rc = rbi_txn_error(txn, RB_INVALID, "%s is already voided by %s", number,
                           s->inv.voided_by);
        goto out_free;
    }
    rc = rb_profile_get(txn, s->inv.issuer, &ip);
    if (rc == RB_OK)
        rc = rb_profile_get(txn, s->inv.customer, &cp);
    if (rc == RB_OK)
        rc = rb_org_get(txn, s->inv.customer, &co);
    if (rc == RB_OK)
        rc = rbi_layout_resolve(txn, s->inv.customer, s->inv.issuer, opts, &u);
    if (rc == RB_OK)
        rc = next_number(txn, "CN", s->inv.issuer, now, cn);
    if (rc != RB_OK)
        goto out_free;
    rb_month_format(s->inv.month, mon, sizeof(mon));
    snprintf(descr, sizeof(descr), "Cancellation of invoice %s (%s)", s->inv.number, mon);
    memset(&line, 0, sizeof(line));
    line.kind = "cancellation";
    line.service = line.account = line.account_name = "";
    line.description = descr;
    line.amount = rb_dec_neg(&s->inv.subtotal);
    line.corrects = -1;
    memset(&d, 0, sizeof(d));
    d.kind = "credit_note";
    d.number = cn;
    d.refs = s->inv.number;
    d.reason = reason;
    d.issuer_id = s->inv.issuer;
    d.issuer = &ip;
    d.customer_id = s->inv.customer;
    d.customer_name = co.name;
    d.customer = &cp;
    d.month = s->inv.month;
    d.issued_at = now;
    d.due_at = now;
    memcpy(d.currency, s->inv.currency, sizeof(d.currency));
    d.lines = &line;
    d.nlines = 1;
    d.subtotal = line.amount;
    d.tax_name = rb_dec_sign(&s->inv.tax) != 0 ? "Tax" : "";
    d.tax_rate = rb_dec_zero();
    d.tax = rb_dec_neg(&s->inv.tax);
    d.total = rb_dec_neg(&s->inv.total);
    rc = render_doc(txn, &d, &u, &f);
    if (rc != RB_OK)
        goto out_free;
    fill_header(out, &d, RB_INVOICE_CREDIT);
    {
        struct hash_ctx hc = {FNV_INIT};
        hc.h = fnv(hc.h, s->inv.inputs_hash, strlen(s->inv.inputs_hash));
        if (u.opts.layout_src)
            hc.h = fnv(hc.h, u.opts.layout_src, u.opts.layout_len);
        else
            hc.h = fnv(hc.h, DEFAULT_LAYOUT, strlen(DEFAULT_LAYOUT));
        hc.h = fnv(hc.h, f.json.data, f.json.len);
        snprintf(out->inputs_hash, sizeof(out->inputs_hash), "%016llx",
                 (unsigned long long)hc.h);
    }
    rc = store_record(txn, out, NULL, 0, &f);
    vkey[0] = 'v';
    vlen = 1 + inv_key((char *)vkey + 1, s->inv.issuer, s->inv.number);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_INVINDEX, vkey, vlen, cn, strlen(cn), RBI_NOOVERWRITE);
    if (rc == RB_OK)
        take_forms(out, &f);
out_free:
    rbi_inv_forms_release(&f);
    rbi_layout_use_release(&u);
    rbi_free(s);
    return rc;
}
