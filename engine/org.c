/*
 * org.c -- organizations, their accounts, and which organization each account belonged to
 * when.
 *
 * Provides: rb_org_*, rb_account_* and the id predicates of include/rebill.h.
 * Uses: the key/value layer and the record codec of rb_int.h. The layout (docs/storage.md):
 *
 *   orgs      key: the org id's bytes (no NUL)
 *             val: v1 {str name, str management_account, i64 created}
 *   accounts  key: the 12 ASCII digits of the account id
 *             val: v1 {str name}
 *   members   key: 12 ASCII digits + be64(since), 20 bytes; keys of one account sort by time
 *             val: v1 {str org, i64 until}   (until is RB_TIME_OPEN while current)
 *   every write of a membership bumps the usage epoch (rbi_usage_epoch_bump, store.c): it
 *   changes the organization usage is attributed to
 *
 * Invariants kept here: every account has at least one membership; an account's memberships
 * do not overlap and only the latest may be open; an org's management account joins it at
 * `created` and never leaves it.
 * Must never: read the clock, store a value it has not validated, or misread a damaged
 * record (it reports RB_CORRUPT instead).
 */
#include "rb_int.h"

#include <stdio.h>
#include <string.h>

#define REC_V1 1
#define MEMBER_KEY_LEN (RB_ACCOUNT_ID_LEN + 8)
#define ORG_ID_MIN_TAIL 10 /* characters after "o-" */
#define ORG_ID_MAX_TAIL 32
#define QUOTE_MAX 64 /* bytes of a value shown in a message */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

/* {===================================================================================
 * Validation
 * =================================================================================== */

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool rb_org_id_is_valid(const char *id)
{
    size_t n;

    if (!id || id[0] != 'o' || id[1] != '-')
        return false;
    for (n = 0; id[2 + n] != '\0'; n++)
        if (n >= ORG_ID_MAX_TAIL || !is_lower_alnum((unsigned char)id[2 + n]))
            return false;
    return n >= ORG_ID_MIN_TAIL;
}

bool rb_account_id_is_valid(const char *id)
{
    if (!id)
        return false;
    for (int i = 0; i < RB_ACCOUNT_ID_LEN; i++)
        if (id[i] < '0' || id[i] > '9')
            return false;
    return id[RB_ACCOUNT_ID_LEN] == '\0';
}

/* Unicode category Cc: C0 controls, DEL and C1 controls. */
static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* A value made safe to show inside "..." in a message: at most QUOTE_MAX bytes of it (then
 * "..."), with '"', '\', control characters and bytes that are not UTF-8 escaped. */
static const char *quote(char *buf, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;

    buf[0] = '\0';
    while (i < n && i < QUOTE_MAX && o + 8 < cap) {
        uint32_t cp;
        size_t len = rbi_utf8_decode(p + i, n - i, &cp);

        if (len == 0 || is_control(cp) || cp == '"' || cp == '\\') {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
            i++;
            continue;
        }
        memcpy(buf + o, p + i, len);
        o += len;
        i += len;
    }
    if (i < n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static const char *fmt_time(char *buf, size_t cap, int64_t t)
{
    if (t == RB_TIME_OPEN)
        snprintf(buf, cap, "open");
    else
        rb_time_format(t, buf, cap);
    return buf;
}

/* A name: 1..RB_NAME_MAX bytes of UTF-8 without control characters. `what` names the field
 * ("organization name"). `cap` bounds the read for fixed-size struct fields. */
static rb_status check_name(rb_txn *txn, const char *what, const char *name, size_t cap)
{
    const unsigned char *p = (const unsigned char *)name;
    char q[QUOTE_BUF];
    size_t n, i = 0;

    if (!name)
        return rbi_txn_error(txn, RB_INVALID, "missing %s", what);
    n = strnlen(name, cap);
    if (n == 0 || n > RB_NAME_MAX)
        return rbi_txn_error(txn, RB_INVALID, "invalid %s \"%s\": want 1..%d bytes, got %s%zu",
                             what, quote(q, sizeof(q), name, n), RB_NAME_MAX,
                             n == cap ? "at least " : "", n);
    while (i < n) {
        uint32_t cp;
        size_t len = rbi_utf8_decode(p + i, n - i, &cp);

        if (len == 0)
            return rbi_txn_error(txn, RB_INVALID, "invalid %s \"%s\": not valid UTF-8 at byte %zu",
                                 what, quote(q, sizeof(q), name, n), i + 1);
        if (is_control(cp))
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid %s \"%s\": control character U+%04X at byte %zu", what,
                                 quote(q, sizeof(q), name, n), (unsigned)cp, i + 1);
        i += len;
    }
    return RB_OK;
}

/* An org id. `cap` bounds the read for fixed-size struct fields (SIZE_MAX otherwise): a
 * field with no NUL is shown with "..." and refused. */
rb_status rbi_org_check_id(rb_txn *txn, const char *what, const char *id, size_t cap)
{
    char q[QUOTE_BUF];
    size_t n;

    if (!id)
        return rbi_txn_error(txn, RB_INVALID, "missing %s", what);
    n = strnlen(id, cap);
    if (n < cap && rb_org_id_is_valid(id))
        return RB_OK;
    return rbi_txn_error(
        txn, RB_INVALID, "invalid %s \"%s%s\": want \"o-\" and %d..%d lowercase letters or digits",
        what, quote(q, sizeof(q), id, n), n == cap ? "..." : "", ORG_ID_MIN_TAIL, ORG_ID_MAX_TAIL);
}

rb_status rbi_org_require(rb_txn *txn, const char *org, rb_org *out)
{
    rb_org o;
    rb_status rc = rbi_org_check_id(txn, "organization id", org, SIZE_MAX);

    if (rc != RB_OK)
        return rc;
    rc = rb_org_get(txn, org, out ? out : &o);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "no organization \"%s\"", org);
    return rc;
}

static rb_status check_account_id(rb_txn *txn, const char *what, const char *id, size_t cap)
{
    char q[QUOTE_BUF];
    size_t n;

    if (!id)
        return rbi_txn_error(txn, RB_INVALID, "missing %s", what);
    n = strnlen(id, cap);
    if (n < cap && rb_account_id_is_valid(id))
        return RB_OK;
    return rbi_txn_error(txn, RB_INVALID, "invalid %s \"%s%s\": want exactly %d digits", what,
                         quote(q, sizeof(q), id, n), n == cap ? "..." : "", RB_ACCOUNT_ID_LEN);
}

/* A start time: 1970 or later, and not RB_TIME_OPEN. */
static rb_status check_time(rb_txn *txn, const char *what, int64_t t)
{
    if (t < 0)
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid %s %lld: want a time from 1970-01-01T00:00:00Z on", what,
                             (long long)t);
    if (t == RB_TIME_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid %s: an open time cannot start anything",
                             what);
    return RB_OK;
}

/* {===================================================================================
 * Records
 * =================================================================================== */

static rb_status nomem(rb_txn *txn, const char *what)
{
    return rbi_txn_error(txn, RB_NOMEM, "out of memory encoding %s", what);
}

static void member_key(unsigned char *key, const char *account, int64_t since)
{
    memcpy(key, account, RB_ACCOUNT_ID_LEN);
    rbi_be64_put(key + RB_ACCOUNT_ID_LEN, (uint64_t)since);
}

static rb_status corrupt(rb_txn *txn, const char *db, const void *key, size_t klen,
                         const struct rbi_rec_reader *r)
{
    char q[QUOTE_BUF];

    quote(q, sizeof(q), key, klen);
    if (r && r->version != REC_V1 && r->version >= 0)
        return rbi_txn_error(txn, RB_CORRUPT, "corrupt record \"%s\" in '%s': version %d, want %d",
                             q, db, r->version, REC_V1);
    return rbi_txn_error(txn, RB_CORRUPT, "corrupt record \"%s\" in '%s': truncated or malformed",
                         q, db);
}

static rb_status org_decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                            rb_org *out)
{
    struct rbi_rec_reader r;

    memset(out, 0, sizeof(*out));
    if (k->len > RB_ORG_ID_MAX)
        return corrupt(txn, "orgs", k->data, k->len, NULL);
    memcpy(out->id, k->data, k->len);
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_V1)
        return corrupt(txn, "orgs", k->data, k->len, &r);
    rbi_rec_get_str(&r, out->name, sizeof(out->name));
    rbi_rec_get_str(&r, out->management_account, sizeof(out->management_account));
    out->created = rbi_rec_get_i64(&r);
    if (r.bad || r.p != r.end || !rb_org_id_is_valid(out->id) ||
        !rb_account_id_is_valid(out->management_account) || out->created < 0 ||
        out->created == RB_TIME_OPEN)
        return corrupt(txn, "orgs", k->data, k->len, &r);
    return RB_OK;
}

static rb_status account_decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                                rb_account *out)
{
    struct rbi_rec_reader r;

    memset(out, 0, sizeof(*out));
    if (k->len != RB_ACCOUNT_ID_LEN)
        return corrupt(txn, "accounts", k->data, k->len, NULL);
    memcpy(out->id, k->data, k->len);
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_V1)
        return corrupt(txn, "accounts", k->data, k->len, &r);
    rbi_rec_get_str(&r, out->name, sizeof(out->name));
    if (r.bad || r.p != r.end || !rb_account_id_is_valid(out->id) || out->name[0] == '\0')
        return corrupt(txn, "accounts", k->data, k->len, &r);
    return RB_OK;
}

static rb_status member_decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                               rb_membership *out)
{
    const unsigned char *kp = k->data;
    struct rbi_rec_reader r;
    uint64_t since;

    memset(out, 0, sizeof(*out));
    if (k->len != MEMBER_KEY_LEN)
        return corrupt(txn, "members", k->data, k->len, NULL);
    memcpy(out->account, kp, RB_ACCOUNT_ID_LEN);
    since = rbi_be64_get(kp + RB_ACCOUNT_ID_LEN);
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_V1)
        return corrupt(txn, "members", k->data, k->len, &r);
    rbi_rec_get_str(&r, out->org, sizeof(out->org));
    out->until = rbi_rec_get_i64(&r);
    if (r.bad || r.p != r.end || since >= (uint64_t)RB_TIME_OPEN ||
        !rb_account_id_is_valid(out->account) || !rb_org_id_is_valid(out->org) ||
        out->until <= (int64_t)since)
        return corrupt(txn, "members", k->data, k->len, &r);
    out->since = (int64_t)since;
    return RB_OK;
}

static rb_status put_org(rb_txn *txn, const rb_org *o, unsigned flags)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = rbi_rec_begin(&b, REC_V1);

    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, o->name);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, o->management_account);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, o->created);
    if (rc != RB_OK) {
        rc = nomem(txn, "an organization");
        goto out_release;
    }
    rc = rbi_put(txn, RBI_DB_ORGS, o->id, strlen(o->id), b.data, b.len, flags);
out_release:
    rbi_buf_release(&b);
    return rc;
}

static rb_status put_account(rb_txn *txn, const char *id, const char *name)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = rbi_rec_begin(&b, REC_V1);

    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, name);
    if (rc != RB_OK) {
        rc = nomem(txn, "an account");
        goto out_release;
    }
    rc = rbi_put(txn, RBI_DB_ACCOUNTS, id, RB_ACCOUNT_ID_LEN, b.data, b.len, RBI_NOOVERWRITE);
out_release:
    rbi_buf_release(&b);
    return rc;
}

static rb_status put_member(rb_txn *txn, const rb_membership *m, unsigned flags)
{
    unsigned char key[MEMBER_KEY_LEN];
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = rbi_rec_begin(&b, REC_V1);

    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, m->org);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, m->until);
    if (rc != RB_OK) {
        rc = nomem(txn, "a membership");
        goto out_release;
    }
    member_key(key, m->account, m->since);
    rc = rbi_put(txn, RBI_DB_MEMBERS, key, sizeof(key), b.data, b.len, flags);
    if (rc == RB_OK) /* the organization usage is attributed to changes (bill.c's cache) */
        rc = rbi_usage_epoch_bump(txn);
out_release:
    rbi_buf_release(&b);
    return rc;
}

/* {===================================================================================
 * Lookups shared by the public functions
 * =================================================================================== */

/* The org `id` (already validated); RB_NOTFOUND with a message naming it. */
static rb_status load_org(rb_txn *txn, const char *id, rb_org *out)
{
    struct rbi_val k = {id, strlen(id)}, v;
    rb_status rc = rbi_get(txn, RBI_DB_ORGS, id, k.len, &v);

    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "unknown organization %s", id);
    if (rc != RB_OK)
        return rc;
    return org_decode(txn, &k, &v, out);
}

/* The account `id` (already validated); RB_NOTFOUND with a message naming it. */
static rb_status load_account(rb_txn *txn, const char *id, rb_account *out)
{
    struct rbi_val k = {id, RB_ACCOUNT_ID_LEN}, v;
    rb_status rc = rbi_get(txn, RBI_DB_ACCOUNTS, id, k.len, &v);

    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "unknown account %s", id);
    if (rc != RB_OK)
        return rc;
    return account_decode(txn, &k, &v, out);
}

struct find_ctx {
    rb_txn *txn;
    rb_membership *m;
    bool found;
};

static rb_status find_first(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct find_ctx *f = ctx;
    rb_status rc = member_decode(f->txn, k, v, f->m);

    if (rc != RB_OK)
        return rc;
    f->found = true;
    return RBI_STOP;
}

/* The membership of `account` with the latest start at or before t (t = RB_TIME_OPEN: the
 * latest of all). RB_NOTFOUND, without a message, if there is none. It may have ended
 * before t: the caller checks m->until. */
static rb_status latest_membership(rb_txn *txn, const char *account, int64_t t, rb_membership *m)
{
    unsigned char below[MEMBER_KEY_LEN + 1];
    struct find_ctx f = {txn, m, false};
    rb_status rc;

    if (t < 0)
        return RB_NOTFOUND;
    /* Keys are 20 bytes; account+be64(t) followed by one more byte sorts just after the key
     * for a membership starting exactly at t, so "below" includes it. */
    member_key(below, account, t);
    below[MEMBER_KEY_LEN] = 0;
    rc = rbi_scan_back(txn, RBI_DB_MEMBERS, account, RB_ACCOUNT_ID_LEN, below, sizeof(below),
                       find_first, &f);
    if (rc != RB_OK)
        return rc;
    return f.found ? RB_OK : RB_NOTFOUND;
}

/* The membership in force at t (since <= t < until); RB_NOTFOUND without a message. */
static rb_status membership_at(rb_txn *txn, const char *account, int64_t t, rb_membership *m)
{
    rb_status rc = latest_membership(txn, account, t, m);

    if (rc == RB_OK && t >= m->until)
        return RB_NOTFOUND;
    return rc;
}

/* "in o-x" or "not in any organization since T", for messages about an existing account. */
static rb_status where_is(rb_txn *txn, const char *account, char *buf, size_t cap)
{
    rb_membership m;
    char t[32];
    rb_status rc = latest_membership(txn, account, RB_TIME_OPEN, &m);

    if (rc == RB_NOTFOUND) {
        snprintf(buf, cap, "with no membership");
        return RB_OK;
    }
    if (rc != RB_OK)
        return rc;
    if (m.until == RB_TIME_OPEN)
        snprintf(buf, cap, "in %s", m.org);
    else
        snprintf(buf, cap, "not in any organization since %s", fmt_time(t, sizeof(t), m.until));
    return RB_OK;
}

/* {===================================================================================
 * Organizations
 * =================================================================================== */

rb_status rb_org_create(rb_txn *txn, const rb_org *org)
{
    rb_membership m;
    rb_org o;
    char where[RB_ORG_ID_MAX + 64];
    struct rbi_val v;
    rb_status rc;

    if (!txn || !org)
        return RB_MISUSE;
    rc = rbi_org_check_id(txn, "organization id", org->id, sizeof(org->id));
    if (rc == RB_OK)
        rc = check_name(txn, "organization name", org->name, sizeof(org->name));
    if (rc == RB_OK)
        rc = check_account_id(txn, "management account", org->management_account,
                              sizeof(org->management_account));
    if (rc == RB_OK)
        rc = check_time(txn, "created time", org->created);
    if (rc != RB_OK)
        return rc;
    /* Work on a clean copy: no bytes after the NULs reach the store. */
    memset(&o, 0, sizeof(o));
    memcpy(o.id, org->id, strlen(org->id));
    memcpy(o.name, org->name, strlen(org->name));
    memcpy(o.management_account, org->management_account, RB_ACCOUNT_ID_LEN);
    o.created = org->created;

    rc = rbi_get(txn, RBI_DB_ORGS, o.id, strlen(o.id), &v);
    if (rc == RB_OK)
        return rbi_txn_error(txn, RB_EXISTS, "organization %s already exists", o.id);
    if (rc != RB_NOTFOUND)
        return rc;
    /* The management account becomes an account of the new org. An account that is already
     * known is in (or was in) another org: an account belongs to one org at a time, and a
     * management account never leaves its org, so it cannot manage a second one. */
    rc = rbi_get(txn, RBI_DB_ACCOUNTS, o.management_account, RB_ACCOUNT_ID_LEN, &v);
    if (rc == RB_OK) {
        rc = where_is(txn, o.management_account, where, sizeof(where));
        if (rc != RB_OK)
            return rc;
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid management account %s: the account already exists (%s); "
                             "a new organization needs a new management account",
                             o.management_account, where);
    }
    if (rc != RB_NOTFOUND)
        return rc;

    rc = put_org(txn, &o, RBI_NOOVERWRITE);
    if (rc == RB_OK)
        rc = put_account(txn, o.management_account, o.name);
    if (rc != RB_OK)
        return rc;
    memset(&m, 0, sizeof(m));
    memcpy(m.account, o.management_account, RB_ACCOUNT_ID_LEN);
    memcpy(m.org, o.id, strlen(o.id));
    m.since = o.created;
    m.until = RB_TIME_OPEN;
    return put_member(txn, &m, RBI_NOOVERWRITE);
}

rb_status rb_org_get(rb_txn *txn, const char *id, rb_org *out)
{
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = rbi_org_check_id(txn, "organization id", id, SIZE_MAX);
    if (rc != RB_OK)
        return rc;
    return load_org(txn, id, out);
}

struct org_list_ctx {
    rb_txn *txn;
    rb_org_cb cb;
    void *ctx;
};

static rb_status org_list_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct org_list_ctx *l = ctx;
    rb_org o;
    rb_status rc = org_decode(l->txn, k, v, &o);

    if (rc != RB_OK)
        return rc;
    return l->cb(&o, l->ctx);
}

rb_status rb_org_list(rb_txn *txn, rb_org_cb cb, void *ctx)
{
    struct org_list_ctx l = {txn, cb, ctx};

    if (!txn || !cb)
        return RB_MISUSE;
    return rbi_scan(txn, RBI_DB_ORGS, "", 0, org_list_one, &l);
}

rb_status rb_org_list_after(rb_txn *txn, const char *after, rb_org_cb cb, void *ctx)
{
    struct org_list_ctx l = {txn, cb, ctx};
    char from[RB_ORG_ID_MAX + 2];
    size_t n = after ? strlen(after) : 0;

    if (!txn || !cb || n > RB_ORG_ID_MAX)
        return RB_MISUSE;
    memcpy(from, after ? after : "", n);
    from[n] = 0; /* the least key above `after`: keys are ids without their NUL */
    return rbi_scan_from(txn, RBI_DB_ORGS, from, n ? n + 1 : 0, org_list_one, &l);
}

/* {===================================================================================
 * Accounts
 * =================================================================================== */

rb_status rb_account_add(rb_txn *txn, const char *account, const char *name, const char *org,
                         int64_t since)
{
    rb_membership m;
    rb_org o;
    char where[RB_ORG_ID_MAX + 64], t1[32], t2[32];
    struct rbi_val v;
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = check_account_id(txn, "account id", account, SIZE_MAX);
    if (rc == RB_OK)
        rc = check_name(txn, "account name", name, SIZE_MAX);
    if (rc == RB_OK)
        rc = rbi_org_check_id(txn, "organization id", org, SIZE_MAX);
    if (rc == RB_OK)
        rc = check_time(txn, "since", since);
    if (rc == RB_OK)
        rc = load_org(txn, org, &o);
    if (rc != RB_OK)
        return rc;
    rc = rbi_get(txn, RBI_DB_ACCOUNTS, account, RB_ACCOUNT_ID_LEN, &v);
    if (rc == RB_OK) {
        rc = where_is(txn, account, where, sizeof(where));
        if (rc != RB_OK)
            return rc;
        return rbi_txn_error(txn, RB_EXISTS, "account %s already exists (%s); use account move",
                             account, where);
    }
    if (rc != RB_NOTFOUND)
        return rc;
    if (since < o.created)
        return rbi_txn_error(
            txn, RB_INVALID, "invalid since %s: organization %s was created later, at %s",
            fmt_time(t1, sizeof(t1), since), o.id, fmt_time(t2, sizeof(t2), o.created));

    rc = put_account(txn, account, name);
    if (rc != RB_OK)
        return rc;
    memset(&m, 0, sizeof(m));
    memcpy(m.account, account, RB_ACCOUNT_ID_LEN);
    memcpy(m.org, org, strlen(org));
    m.since = since;
    m.until = RB_TIME_OPEN;
    return put_member(txn, &m, RBI_NOOVERWRITE);
}

rb_status rb_account_move(rb_txn *txn, const char *account, const char *org, int64_t at)
{
    rb_membership cur, next;
    rb_account a;
    rb_org from, to;
    char t1[32], t2[32];
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = check_account_id(txn, "account id", account, SIZE_MAX);
    if (rc == RB_OK)
        rc = rbi_org_check_id(txn, "organization id", org, SIZE_MAX);
    if (rc == RB_OK)
        rc = check_time(txn, "move time", at);
    if (rc == RB_OK)
        rc = load_account(txn, account, &a);
    if (rc == RB_OK)
        rc = load_org(txn, org, &to);
    if (rc != RB_OK)
        return rc;
    rc = latest_membership(txn, account, RB_TIME_OPEN, &cur);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_CORRUPT, "account %s has no membership in 'members'", account);
    if (rc != RB_OK)
        return rc;
    if (cur.until != RB_TIME_OPEN)
        return rbi_txn_error(txn, RB_INVALID,
                             "cannot move account %s: it has not been in any organization since "
                             "%s",
                             account, fmt_time(t1, sizeof(t1), cur.until));
    if (strcmp(cur.org, org) == 0)
        return rbi_txn_error(txn, RB_INVALID, "cannot move account %s to %s: it is already there",
                             account, org);
    rc = load_org(txn, cur.org, &from);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_CORRUPT, "account %s is in %s, which is not in 'orgs'",
                             account, cur.org);
    if (rc != RB_OK)
        return rc;
    if (strcmp(from.management_account, account) == 0)
        return rbi_txn_error(txn, RB_INVALID,
                             "cannot move account %s: it is the management account of %s", account,
                             from.id);
    if (at <= cur.since)
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid move time %s: account %s joined %s at %s; a move must be "
                             "later",
                             fmt_time(t1, sizeof(t1), at), account, cur.org,
                             fmt_time(t2, sizeof(t2), cur.since));
    if (at < to.created)
        return rbi_txn_error(
            txn, RB_INVALID, "invalid move time %s: organization %s was created later, at %s",
            fmt_time(t1, sizeof(t1), at), to.id, fmt_time(t2, sizeof(t2), to.created));

    cur.until = at;
    rc = put_member(txn, &cur, 0);
    if (rc != RB_OK)
        return rc;
    memset(&next, 0, sizeof(next));
    memcpy(next.account, account, RB_ACCOUNT_ID_LEN);
    memcpy(next.org, org, strlen(org));
    next.since = at;
    next.until = RB_TIME_OPEN;
    return put_member(txn, &next, RBI_NOOVERWRITE);
}

rb_status rb_account_get(rb_txn *txn, const char *account, rb_account *out)
{
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = check_account_id(txn, "account id", account, SIZE_MAX);
    if (rc != RB_OK)
        return rc;
    return load_account(txn, account, out);
}

struct account_list_ctx {
    rb_txn *txn;
    const char *org; /* NULL: every account */
    int64_t at;
    rb_account_cb cb;
    void *ctx;
};

static rb_status account_list_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct account_list_ctx *l = ctx;
    rb_membership m;
    rb_account a;
    rb_status rc = account_decode(l->txn, k, v, &a);

    if (rc != RB_OK)
        return rc;
    rc = membership_at(l->txn, a.id, l->at, &m);
    if (rc != RB_OK && rc != RB_NOTFOUND)
        return rc;
    if (l->org && (rc == RB_NOTFOUND || strcmp(m.org, l->org) != 0))
        return RB_OK;
    return l->cb(&a, rc == RB_OK ? &m : NULL, l->ctx);
}

rb_status rb_account_list(rb_txn *txn, const char *org, int64_t at, rb_account_cb cb, void *ctx)
{
    struct account_list_ctx l = {txn, org, at, cb, ctx};
    rb_org o;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    if (org) {
        rc = rbi_org_check_id(txn, "organization id", org, SIZE_MAX);
        if (rc == RB_OK)
            rc = load_org(txn, org, &o);
        if (rc != RB_OK)
            return rc;
    }
    /* NEEDSWORK: filtering by org reads every account; an org -> account index would make
     * it proportional to the org's size if that ever matters. */
    return rbi_scan(txn, RBI_DB_ACCOUNTS, "", 0, account_list_one, &l);
}

struct history_ctx {
    rb_txn *txn;
    rb_membership_cb cb;
    void *ctx;
};

static rb_status history_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct history_ctx *h = ctx;
    rb_membership m;
    rb_status rc = member_decode(h->txn, k, v, &m);

    if (rc != RB_OK)
        return rc;
    return h->cb(&m, h->ctx);
}

rb_status rb_account_history(rb_txn *txn, const char *account, rb_membership_cb cb, void *ctx)
{
    struct history_ctx h = {txn, cb, ctx};
    rb_account a;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = check_account_id(txn, "account id", account, SIZE_MAX);
    if (rc == RB_OK)
        rc = load_account(txn, account, &a);
    if (rc != RB_OK)
        return rc;
    return rbi_scan(txn, RBI_DB_MEMBERS, account, RB_ACCOUNT_ID_LEN, history_one, &h);
}

rb_status rb_account_org_at(rb_txn *txn, const char *account, int64_t t, char *org)
{
    rb_membership m;
    rb_account a;
    char t1[32], t2[32];
    rb_status rc;

    if (!txn || !org)
        return RB_MISUSE;
    org[0] = '\0';
    rc = check_account_id(txn, "account id", account, SIZE_MAX);
    if (rc == RB_OK)
        rc = load_account(txn, account, &a);
    if (rc != RB_OK)
        return rc;
    rc = latest_membership(txn, account, t, &m);
    if (rc == RB_NOTFOUND) {
        struct find_ctx first = {txn, &m, false};

        rc = rbi_scan(txn, RBI_DB_MEMBERS, account, RB_ACCOUNT_ID_LEN, find_first, &first);
        if (rc != RB_OK)
            return rc;
        if (!first.found)
            return rbi_txn_error(txn, RB_CORRUPT, "account %s has no membership in 'members'",
                                 account);
        return rbi_txn_error(
            txn, RB_NOTFOUND, "account %s belonged to no organization at %s: it joined %s at %s",
            account, fmt_time(t1, sizeof(t1), t), m.org, fmt_time(t2, sizeof(t2), m.since));
    }
    if (rc != RB_OK)
        return rc;
    if (t >= m.until)
        return rbi_txn_error(
            txn, RB_NOTFOUND, "account %s belonged to no organization at %s: it left %s at %s",
            account, fmt_time(t1, sizeof(t1), t), m.org, fmt_time(t2, sizeof(t2), m.until));
    memcpy(org, m.org, strlen(m.org) + 1);
    return RB_OK;
}
