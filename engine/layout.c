/*
 * layout.c -- stored invoice layouts: an organization's own Lua layout, kept by content hash
 * in the `rules` store beside rule files, and the choice of the layout a document is rendered
 * with (rb_layout_*).
 *
 * Provides: rb_layout_check/set/get/clear/list (include/rebill.h); for invoice.c,
 * rbi_layout_resolve() (invoice.h): the caller's layout > the customer's stored layout > the
 * issuer's > scripts/layouts/default.lua.
 * Uses: rbi_inv_layout_check() and rbi_inv_render() (invoice.c) to vet a layout before it is
 * stored; rb_rules_get() (plan.c) to read a source back; the key/value layer ("profiles":
 * org NUL 'l'; "rules": be64(hash)).
 * Must never: store a layout that does not compile, does not return a function or fails on
 * the sample documents; change an issued invoice (its bytes are frozen in its own record; a
 * stored layout is only read to render anew); hand out a pointer into the map (resolve copies
 * the source: the issue path writes before it renders).
 *
 * Record "profiles" (org NUL 'l'), version 1: bytes hash (8, big-endian XXH64 of the source,
 * the key of the source in "rules"), str name, i64 set_at.
 * Record "rules" (be64 hash): written by plan.c's rbi_rules_put(), as for a rule file: str
 * name, i64 stored_at, bytes content.
 */
#include "invoice.h"
#include "plan.h"
#include "usage.h"

#include <stdio.h>
#include <string.h>

#define REC_VERSION 1
#define KIND_LAYOUT 'l'

/* {===================================================================================
 * Vetting: compile, then lay out a sample invoice and a sample credit note
 * =================================================================================== */

static rb_dec dec_of(const char *s)
{
    rb_dec d = rb_dec_zero();

    rb_dec_parse(&d, s, strlen(s), NULL);
    return d;
}

/* A document with every kind of content a real one can have: two services and accounts, an
 * invoice-level fee and credit, a correction, tax, addresses, a six-month trend. Its ids are
 * not valid org ids, so no layout can single out a real customer while being vetted. */
struct sample {
    struct rbi_inv_doc doc;
    struct rbi_inv_line lines[5];
    struct rbi_inv_trend trend[2];
    rb_profile issuer, customer;
};

static void sample_init(struct sample *s, bool credit)
{
    struct rbi_inv_line *l = s->lines;
    static const struct {
        const char *kind, *service, *account, *name, *descr, *amount;
        int corrects;
    } rows[5] = {
        {"usage", "AmazonEC2", "111111111111", "production", "AmazonEC2", "100.00", -1},
        {"usage", "AmazonS3", "222222222222", "staging", "AmazonS3", "20.50", -1},
        {"fee", "", "", "", "Managed services", "30.00", -1},
        {"credit", "", "", "", "Loyalty credit", "-5.00", -1},
        {"correction", "", "", "", "Correction of 2000-01 (INV-2000-000001)", "1.25", 2000 * 12},
    };

    memset(s, 0, sizeof(*s));
    snprintf(s->issuer.legal_name, sizeof(s->issuer.legal_name), "Sample Partner Ltd");
    snprintf(s->issuer.address, sizeof(s->issuer.address), "1 Partner Road\nSample City");
    snprintf(s->issuer.tax_id, sizeof(s->issuer.tax_id), "XX000000000");
    snprintf(s->issuer.email, sizeof(s->issuer.email), "billing@partner.example");
    s->issuer.terms_days = RB_PROFILE_TERMS_DEFAULT;
    snprintf(s->customer.address, sizeof(s->customer.address), "2 Customer Street");
    s->customer.terms_days = RB_PROFILE_TERMS_DEFAULT;
    for (int i = 0; i < 5; i++) {
        l[i].kind = rows[i].kind;
        l[i].service = rows[i].service;
        l[i].account = rows[i].account;
        l[i].account_name = rows[i].name;
        l[i].description = rows[i].descr;
        l[i].amount = dec_of(rows[i].amount);
        l[i].corrects = rows[i].corrects;
    }
    s->doc.kind = "invoice";
    s->doc.number = "INV-2000-000002";
    s->doc.refs = s->doc.reason = "";
    s->doc.issuer_id = "sample-issuer";
    s->doc.issuer = &s->issuer;
    s->doc.customer_id = "sample-customer";
    s->doc.customer_name = "Sample Customer";
    s->doc.customer = &s->customer;
    s->doc.month = 2000 * 12 + 1;
    s->doc.issued_at = rb_month_start(2000 * 12 + 2);
    s->doc.due_at = s->doc.issued_at + (int64_t)RB_PROFILE_TERMS_DEFAULT * 86400;
    memcpy(s->doc.currency, "USD", 4);
    s->doc.lines = l;
    s->doc.nlines = 5;
    s->doc.subtotal = dec_of("146.75");
    s->doc.tax_name = "VAT";
    s->doc.tax_rate = dec_of("20");
    s->doc.tax = dec_of("29.35");
    s->doc.total = dec_of("176.10");
    s->trend[0].month = 2000 * 12;
    s->trend[0].total = dec_of("150.00");
    s->trend[1].month = s->doc.month;
    s->trend[1].total = s->doc.total;
    s->doc.trend = s->trend;
    s->doc.ntrend = 2;
    if (!credit)
        return;
    l[0].kind = "cancellation";
    l[0].service = l[0].account = l[0].account_name = "";
    l[0].description = "Cancellation of invoice INV-2000-000002 (2000-02)";
    l[0].amount = dec_of("-146.75");
    s->doc.kind = "credit_note";
    s->doc.number = "CN-2000-000001";
    s->doc.refs = "INV-2000-000002";
    s->doc.reason = "sample";
    s->doc.due_at = s->doc.issued_at;
    s->doc.nlines = 1;
    s->doc.subtotal = l[0].amount;
    s->doc.tax_name = "Tax";
    s->doc.tax_rate = rb_dec_zero();
    s->doc.tax = dec_of("-29.35");
    s->doc.total = dec_of("-176.10");
    s->doc.ntrend = 0;
}

rb_status rb_layout_check(const char *name, const char *src, size_t len,
                          const rb_limits *limits, rb_error *err)
{
    struct sample *s;
    struct rbi_inv_forms f;
    rb_error e;
    rb_status rc;

    if (err)
        memset(err, 0, sizeof(*err));
    if (!name || !*name)
        return rbi_error_set(err, RB_INVALID, "a layout needs a name");
    if (!src && len)
        return rbi_error_set(err, RB_MISUSE, "layout %s: no source", name);
    rc = rbi_inv_layout_check(name, src, len, limits, err);
    if (rc != RB_OK)
        return rc;
    s = rbi_malloc(sizeof(*s));
    if (!s)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    for (int credit = 0; credit < 2 && rc == RB_OK; credit++) {
        sample_init(s, credit != 0);
        rc = rbi_inv_render(&s->doc, name, src ? src : "", len, limits, &f, &e);
        rbi_inv_forms_release(&f);
        if (rc != RB_OK)
            rbi_error_set(err, rc, "%s (laying out a sample %s)", e.msg,
                          credit ? "credit note" : "invoice");
    }
    rbi_free(s);
    return rc;
}

/* {===================================================================================
 * Storage
 * =================================================================================== */

static void hash_hex(uint64_t h, char out[RB_RULES_HASH_LEN + 1])
{
    snprintf(out, RB_RULES_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

/* ORG NUL 'l' */
static size_t layout_key(unsigned char *k, const char *org)
{
    size_t len = strlen(org);

    memcpy(k, org, len);
    k[len++] = '\0';
    k[len++] = KIND_LAYOUT;
    return len;
}

/* A stored layout record of `org`. */
static bool decode(const char *org, const struct rbi_val *v, rb_layout *out)
{
    struct rbi_rec_reader r;
    const void *hp;

    memset(out, 0, sizeof(*out));
    rbi_strlcpy(out->org, org, sizeof(out->org));
    rbi_rec_read(&r, v->data, v->len);
    if (rbi_rec_get_bytes(&r, &hp) != 8)
        return false;
    hash_hex(rbi_be64_get(hp), out->hash);
    rbi_rec_get_str(&r, out->name, sizeof(out->name));
    out->set_at = rbi_rec_get_i64(&r);
    return !r.bad && r.version == REC_VERSION;
}

rb_status rb_layout_set(rb_txn *txn, const char *org, const char *name, const char *src,
                        size_t len, const rb_limits *limits, int64_t now, rb_layout *out)
{
    unsigned char key[RB_ORG_ID_MAX + 2], hb[8];
    struct rb_buf b = {NULL, 0, 0};
    rb_layout l;
    rb_error err;
    uint64_t h;
    size_t n;
    rb_status rc;

    if (!txn || !name || (!src && len))
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    if (!*name)
        return rbi_txn_error(txn, RB_INVALID, "a layout needs a name");
    memset(&l, 0, sizeof(l));
    rbi_strlcpy(l.org, org, sizeof(l.org));
    n = strlen(name); /* keep the end of a long path: the file name */
    rbi_strlcpy(l.name, n > RB_PRICE_LABEL_MAX ? name + n - RB_PRICE_LABEL_MAX : name,
                sizeof(l.name));
    rc = rb_layout_check(l.name, src ? src : "", len, limits, &err);
    if (rc != RB_OK)
        return rbi_txn_error(txn, rc, "%s", err.msg);
    h = rbi_hash64(src ? src : "", len);
    hash_hex(h, l.hash);
    l.set_at = now;
    rc = rbi_rules_put(txn, l.name, src ? src : "", len, now, h);
    if (rc != RB_OK)
        return rc;
    rbi_be64_put(hb, h);
    rc = rbi_rec_begin(&b, REC_VERSION);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, hb, 8);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, l.name);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, l.set_at);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_PROFILES, key, layout_key(key, org), b.data, b.len, 0);
    else
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    rbi_buf_release(&b);
    if (rc == RB_OK && out)
        *out = l;
    return rc;
}

/* The stored layout of a valid org id; RB_NOTFOUND when it has none. */
static rb_status layout_of(rb_txn *txn, const char *org, rb_layout *out)
{
    unsigned char key[RB_ORG_ID_MAX + 2];
    struct rbi_val v;
    rb_status rc = rbi_get(txn, RBI_DB_PROFILES, key, layout_key(key, org), &v);

    if (rc != RB_OK)
        return rc;
    if (!decode(org, &v, out))
        return rbi_txn_error(txn, RB_CORRUPT, "bad layout record of %s in 'profiles'", org);
    return RB_OK;
}

rb_status rb_layout_get(rb_txn *txn, const char *org, rb_layout *out)
{
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    memset(out, 0, sizeof(*out));
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    rc = layout_of(txn, org, out);
    if (rc == RB_NOTFOUND) {
        memset(out, 0, sizeof(*out));
        rbi_strlcpy(out->org, org, sizeof(out->org));
        return RB_OK;
    }
    return rc;
}

rb_status rb_layout_clear(rb_txn *txn, const char *org)
{
    unsigned char key[RB_ORG_ID_MAX + 2];
    rb_layout l;
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    rc = layout_of(txn, org, &l);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "%s has no stored layout", org);
    if (rc == RB_OK)
        rc = rbi_del(txn, RBI_DB_PROFILES, key, layout_key(key, org));
    return rc;
}

struct list_ctx {
    rb_txn *txn;
    rb_layout_cb cb;
    void *ctx;
};

static rb_status list_one(const struct rbi_val *k, const struct rbi_val *v, void *vctx)
{
    struct list_ctx *c = vctx;
    const char *kp = k->data;
    size_t olen = strnlen(kp, k->len);
    char org[RB_ORG_ID_MAX + 1];
    rb_layout l;

    /* the profiles themselves (key: the bare org id) are not layouts */
    if (olen + 2 != k->len || kp[olen + 1] != KIND_LAYOUT)
        return RB_OK;
    if (olen > RB_ORG_ID_MAX)
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad layout key in 'profiles'");
    memcpy(org, kp, olen);
    org[olen] = '\0';
    if (!decode(org, v, &l))
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad layout record of %s in 'profiles'", org);
    return c->cb(&l, c->ctx);
}

rb_status rb_layout_list(rb_txn *txn, rb_layout_cb cb, void *ctx)
{
    struct list_ctx c = {txn, cb, ctx};

    if (!txn || !cb)
        return RB_MISUSE;
    return rbi_scan(txn, RBI_DB_PROFILES, NULL, 0, list_one, &c);
}

/* {===================================================================================
 * Choosing the layout of a document
 * =================================================================================== */

void rbi_layout_use_release(struct rbi_layout_use *u)
{
    if (!u)
        return;
    rbi_free(u->src);
    u->src = NULL;
}

rb_status rbi_layout_resolve(rb_txn *txn, const char *customer, const char *issuer,
                             const rb_invoice_opts *given, struct rbi_layout_use *out)
{
    const char *orgs[2] = {customer, issuer};
    rb_rules_blob blob;
    rb_layout l;
    rb_status rc = RB_NOTFOUND;

    memset(out, 0, sizeof(*out));
    if (given)
        out->opts = *given;
    if (given && given->layout_src)
        return RB_OK;
    out->opts.layout_name = NULL;
    out->opts.layout_src = NULL;
    out->opts.layout_len = 0;
    for (int i = 0; i < 2 && rc == RB_NOTFOUND; i++)
        if (orgs[i] && rb_org_id_is_valid(orgs[i]))
            rc = layout_of(txn, orgs[i], &l);
    if (rc == RB_NOTFOUND)
        return RB_OK; /* the default layout */
    if (rc != RB_OK)
        return rc;
    rc = rb_rules_get(txn, l.hash, &blob);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_CORRUPT, "the layout of %s (%s) is missing from 'rules'",
                             l.org, l.hash);
    if (rc != RB_OK)
        return rc;
    out->src = rbi_malloc(blob.len + 1);
    if (!out->src)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory");
    memcpy(out->src, blob.src, blob.len);
    out->src[blob.len] = '\0';
    rbi_strlcpy(out->org, l.org, sizeof(out->org));
    rbi_strlcpy(out->name, l.name, sizeof(out->name));
    out->opts.layout_name = out->name;
    out->opts.layout_src = out->src;
    out->opts.layout_len = blob.len;
    return RB_OK;
}
