/*
 * test_transfer.c -- billing transfers: invitation and its field rules, every allowed
 * transition and every refused one from every status (table-driven), the actor checks, expiry
 * and the acceptance cutoff at their boundaries, one transfer per source and month, chain
 * depth and cycles (month by month, at invite and at accept), withdrawal, rename, history,
 * listing, the payer questions, generated ids, the stored layout, damaged records and
 * allocation failures. Every refused call is checked for its code, its message, and a
 * database left exactly as it was. Each test uses its own database.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static rb_store *S;
static int mgmt_seq;

/* Organizations: A..E for chains, P (partner) and Q (another partner), X (a stranger). */
#define OA "o-aaaaaaaaaa"
#define OB "o-bbbbbbbbbb"
#define OC "o-cccccccccc"
#define OD "o-dddddddddd"
#define OE "o-eeeeeeeeee"
#define OP "o-partner001"
#define OQ "o-partner002"
#define OX "o-stranger01"

static int64_t T0; /* 2026-11-26T12:00:00Z, the tests' "now" */

static int64_t T(const char *s)
{
    int64_t t = -1;

    if (rb_time_parse(&t, s, NULL) != RB_OK)
        fprintf(stderr, "bad time in test: %s\n", s);
    return t;
}

static int M(const char *s)
{
    int m = -1;

    if (rb_month_parse(&m, s, NULL) != RB_OK)
        fprintf(stderr, "bad month in test: %s\n", s);
    return m;
}

/* {===================================================================================
 * A fresh database per test
 * =================================================================================== */

static void db_open(void)
{
    rb_error err;

    snprintf(dir, sizeof(dir), "/tmp/rebill-test-transfer.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/t.db", dir);
    if (rb_store_open(&S, path, RB_OPEN_CREATE, &err) != RB_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.msg);
        exit(2);
    }
    mgmt_seq = 0;
}

static void db_close(void)
{
    char lock[160];

    rb_store_close(S);
    S = NULL;
    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(path);
    unlink(lock);
    rmdir(dir);
}

/* {===================================================================================
 * Calls, each in its own transaction
 * =================================================================================== */

enum kind {
    K_ORG,
    K_INVITE,
    K_ACCEPT,
    K_DECLINE,
    K_CANCEL,
    K_WITHDRAW,
    K_RENAME,
    K_GET,
    K_CONFIG,
    K_PAYER_OF,
    K_RAW_PUT
};

struct call {
    enum kind k;
    rb_org org;
    rb_transfer t;
    const char *id, *actor, *name;
    int month;
    int64_t now, value;
    rb_payer_info info;
    enum rbi_db db;
    const void *key, *val;
    size_t klen, vlen;
};

static rb_status run_call(rb_txn *txn, void *ctx)
{
    struct call *c = ctx;

    switch (c->k) {
    case K_ORG:
        return rb_org_create(txn, &c->org);
    case K_INVITE:
        return rb_transfer_invite(txn, &c->t, c->now);
    case K_ACCEPT:
        return rb_transfer_accept(txn, c->id, c->actor, c->now);
    case K_DECLINE:
        return rb_transfer_decline(txn, c->id, c->actor, c->now);
    case K_CANCEL:
        return rb_transfer_cancel(txn, c->id, c->actor, c->now);
    case K_WITHDRAW:
        return rb_transfer_withdraw(txn, c->id, c->actor, c->month, c->now);
    case K_RENAME:
        return rb_transfer_rename(txn, c->id, c->name, c->now);
    case K_GET:
        return rb_transfer_get(txn, c->id, c->now, &c->t);
    case K_CONFIG:
        return rb_config_set_int(txn, "max_chain_depth", c->value);
    case K_PAYER_OF:
        return rb_payer_of(txn, c->id, c->month, &c->info);
    case K_RAW_PUT:
        return rbi_put(txn, c->db, c->key, c->klen, c->val, c->vlen, 0);
    }
    return RB_MISUSE;
}

static rb_status update(struct call *c)
{
    return rb_store_update(S, run_call, c);
}

static void fill(char *dst, size_t cap, const char *src)
{
    memset(dst, 0, cap);
    rbi_strlcpy(dst, src, cap);
}

static void mkorg(const char *id)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.k = K_ORG;
    fill(c.org.id, sizeof(c.org.id), id);
    fill(c.org.name, sizeof(c.org.name), id + 2);
    snprintf(c.org.management_account, sizeof(c.org.management_account), "9000000%05u",
             (unsigned)++mgmt_seq % 100000u);
    c.org.created = T("2025-01-01");
    INT_EQ(update(&c), RB_OK);
}

static void mkorgs(void)
{
    const char *all[] = {OA, OB, OC, OD, OE, OP, OQ, OX};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        mkorg(all[i]);
}

/* An invitation as the CLI makes it; *t gets the result. */
static rb_status invite_full(const char *id, const char *payer, const char *source,
                             const char *start, int64_t now, rb_transfer *t)
{
    struct call c;
    rb_status rc;

    memset(&c, 0, sizeof(c));
    c.k = K_INVITE;
    fill(c.t.id, sizeof(c.t.id), id);
    fill(c.t.payer, sizeof(c.t.payer), payer);
    fill(c.t.source, sizeof(c.t.source), source);
    snprintf(c.t.name, sizeof(c.t.name), "%s pays %s", payer + 2, source + 2);
    c.t.start_month = M(start);
    c.now = now;
    rc = update(&c);
    if (t)
        *t = c.t;
    return rc;
}

/* Invite with a generated id, written to id_out (RB_TRANSFER_ID_MAX+1 bytes) on success. */
static rb_status invite(const char *payer, const char *source, const char *start, int64_t now,
                        char *id_out)
{
    rb_transfer t;
    rb_status rc = invite_full("", payer, source, start, now, &t);

    if (rc == RB_OK && id_out)
        memcpy(id_out, t.id, sizeof(t.id));
    return rc;
}

static rb_status act(enum kind k, const char *id, const char *actor, int64_t now)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.k = k;
    c.id = id;
    c.actor = actor;
    c.now = now;
    return update(&c);
}

static rb_status withdraw(const char *id, const char *actor, int end, int64_t now)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.k = K_WITHDRAW;
    c.id = id;
    c.actor = actor;
    c.month = end;
    c.now = now;
    return update(&c);
}

static rb_status rename_to(const char *id, const char *name, int64_t now)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.k = K_RENAME;
    c.id = id;
    c.name = name;
    c.now = now;
    return update(&c);
}

static rb_status set_depth(int64_t v)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.k = K_CONFIG;
    c.value = v;
    return update(&c);
}

static rb_status get_rc(const char *id, int64_t now, rb_transfer *t)
{
    struct call c;
    rb_status rc;

    memset(&c, 0, sizeof(c));
    c.k = K_GET;
    c.id = id;
    c.now = now;
    rc = rb_store_view(S, run_call, &c);
    if (t)
        *t = c.t;
    return rc;
}

/* The effective status of `id` at `now` (-1 if it cannot be read). */
static int status_at(const char *id, int64_t now)
{
    rb_transfer t;

    if (get_rc(id, now, &t) != RB_OK)
        return -1;
    return (int)t.status;
}

static rb_status payer_of(const char *org, const char *month, rb_payer_info *info)
{
    struct call c;
    rb_status rc;

    memset(&c, 0, sizeof(c));
    c.k = K_PAYER_OF;
    c.id = org;
    c.month = M(month);
    rc = rb_store_view(S, run_call, &c);
    *info = c.info;
    return rc;
}

/* "o-a>o-b>o-c": the org and its chain in `month`, or "ERR n". */
static const char *chain_of(const char *org, const char *month)
{
    static char buf[1024];
    rb_payer_info in;
    rb_status rc = payer_of(org, month, &in);
    size_t o;

    if (rc != RB_OK) {
        snprintf(buf, sizeof(buf), "ERR %d", rc);
        return buf;
    }
    o = (size_t)snprintf(buf, sizeof(buf), "%s", in.org);
    for (int i = 0; i < in.depth && o < sizeof(buf); i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, ">%s", in.chain[i]);
    return buf;
}

/* {===================================================================================
 * Snapshots: a refused call must leave the database exactly as it was
 * =================================================================================== */

static void dump_line(const char *line, size_t len, void *ctx)
{
    struct rb_buf *b = ctx;

    rbi_buf_append(b, line, len);
    rbi_buf_append(b, "\n", 1);
}

static rb_status do_dump(rb_txn *txn, void *ctx)
{
    return rb_store_dump(txn, dump_line, ctx);
}

static struct rb_buf snap;

static void snapshot(void)
{
    rbi_buf_reset(&snap);
    INT_EQ(rb_store_view(S, do_dump, &snap), RB_OK);
}

static bool unchanged(void)
{
    struct rb_buf now = {NULL, 0, 0};
    bool same;

    rb_store_view(S, do_dump, &now);
    same = now.len == snap.len && (now.len == 0 || memcmp(now.data, snap.data, now.len) == 0);
    rbi_buf_release(&now);
    return same;
}

/* The call is refused with `want`, its message holds `part`, and nothing changed. */
#define REFUSED(call, want, part)                                                                  \
    do {                                                                                           \
        rb_status got_;                                                                            \
        snapshot();                                                                                \
        got_ = (call);                                                                             \
        INT_EQ(got_, want);                                                                        \
        STR_HAS(rb_errmsg(S), part);                                                               \
        OK(unchanged(), "database changed by a refused call: %s", #call);                          \
    } while (0)

/* {===================================================================================
 * History
 * =================================================================================== */

struct hist {
    int n;
    rb_transfer_event e[16];
};

static rb_status hist_one(const rb_transfer_event *e, void *ctx)
{
    struct hist *h = ctx;

    if (h->n < 16)
        h->e[h->n] = *e;
    h->n++;
    return RB_OK;
}

struct hist_call {
    const char *id;
    int64_t now;
    struct hist h;
};

static rb_status do_history(rb_txn *txn, void *ctx)
{
    struct hist_call *c = ctx;

    return rb_transfer_history(txn, c->id, c->now, hist_one, &c->h);
}

static rb_status history(const char *id, int64_t now, struct hist *h)
{
    struct hist_call c;
    rb_status rc;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.now = now;
    rc = rb_store_view(S, do_history, &c);
    *h = c.h;
    return rc;
}

#define EVENT_IS(ev, act, who, fr, too)                                                            \
    do {                                                                                           \
        STR_EQ((ev).action, act);                                                                  \
        STR_EQ((ev).actor, who);                                                                   \
        STR_EQ(rb_transfer_status_name((ev).from), rb_transfer_status_name(fr));                   \
        STR_EQ(rb_transfer_status_name((ev).to), rb_transfer_status_name(too));                    \
    } while (0)

/* {===================================================================================
 * Tests
 * =================================================================================== */

static void test_status_names(void)
{
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_REQUESTED), "REQUESTED");
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_ACCEPTED), "ACCEPTED");
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_DECLINED), "DECLINED");
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_CANCELED), "CANCELED");
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_EXPIRED), "EXPIRED");
    STR_EQ(rb_transfer_status_name(RB_TRANSFER_WITHDRAWN), "WITHDRAWN");
    STR_EQ(rb_transfer_status_name((rb_transfer_status)42), "UNKNOWN");
}

static bool id_looks_generated(const char *id)
{
    if (strncmp(id, "rt-", 3) != 0 || strlen(id) != 16)
        return false;
    for (const char *p = id + 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static void test_invite(void)
{
    rb_transfer t, g;
    struct hist h;

    db_open();
    mkorgs();
    INT_EQ(invite_full("", OP, OA, "2027-01", T0, &t), RB_OK);
    OK(id_looks_generated(t.id), "generated id \"%s\"", t.id);
    INT_EQ(t.status, RB_TRANSFER_REQUESTED);
    INT_EQ(t.invited_at, T0);
    INT_EQ(t.updated_at, T0);
    INT_EQ(t.expires_at, T("2026-12-11T12:00:00Z")); /* 15 days: before the cutoff */
    INT_EQ(t.end_month, RB_MONTH_OPEN);
    INT_EQ(get_rc(t.id, T0, &g), RB_OK);
    STR_EQ(g.id, t.id);
    STR_EQ(g.name, "partner001 pays aaaaaaaaaa");
    STR_EQ(g.source, OA);
    STR_EQ(g.payer, OP);
    INT_EQ(g.start_month, M("2027-01"));
    INT_EQ(g.end_month, RB_MONTH_OPEN);
    INT_EQ(g.status, RB_TRANSFER_REQUESTED);
    INT_EQ(g.expires_at, t.expires_at);
    INT_EQ(history(t.id, T0, &h), RB_OK);
    INT_EQ(h.n, 1);
    EVENT_IS(h.e[0], "invite", OP, RB_TRANSFER_REQUESTED, RB_TRANSFER_REQUESTED);
    INT_EQ(h.e[0].at, T0);
    STR_EQ(h.e[0].detail, "source o-aaaaaaaaaa, payer o-partner001, start 2027-01, "
                          "expires 2026-12-11T12:00:00Z");

    /* Notes and an explicit id are kept. */
    {
        struct call c;
        memset(&c, 0, sizeof(c));
        c.k = K_INVITE;
        fill(c.t.id, sizeof(c.t.id), "rt-explicit1");
        fill(c.t.payer, sizeof(c.t.payer), OQ);
        fill(c.t.source, sizeof(c.t.source), OB);
        fill(c.t.name, sizeof(c.t.name), "with notes");
        fill(c.t.notes, sizeof(c.t.notes), "line one\n\tline two: caf\xc3\xa9");
        c.t.start_month = M("2027-02");
        c.now = T0;
        INT_EQ(update(&c), RB_OK);
        STR_EQ(c.t.id, "rt-explicit1");
        INT_EQ(get_rc("rt-explicit1", T0, &g), RB_OK);
        STR_EQ(g.notes, "line one\n\tline two: caf\xc3\xa9");
        STR_EQ(g.name, "with notes");
    }
    db_close();
}

static void test_generated_ids(void)
{
    char a1[40], a2[40], b1[40], b2[40], c1[40];

    /* The same sequence in two databases gives the same ids: tests are reproducible. */
    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-01", T0, a1), RB_OK);
    INT_EQ(invite(OP, OB, "2027-01", T0, a2), RB_OK);
    db_close();
    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-01", T0, b1), RB_OK);
    INT_EQ(invite(OP, OB, "2027-01", T0, b2), RB_OK);
    STR_EQ(b1, a1);
    STR_EQ(b2, a2);
    OK(strcmp(a1, a2) != 0, "consecutive ids differ: %s %s", a1, a2);
    /* They do not look sequential: the hash spreads them. */
    OK(memcmp(a1, a2, 8) != 0, "ids share a long prefix: %s %s", a1, a2);
    db_close();

    /* An explicit id that a generated one would have taken is skipped over. */
    db_open();
    mkorgs();
    INT_EQ(invite_full(a1, OP, OC, "2027-01", T0, NULL), RB_OK);
    INT_EQ(invite(OP, OA, "2027-01", T0, c1), RB_OK);
    OK(strcmp(c1, a1) != 0, "a generated id must not reuse the explicit %s", a1);
    STR_EQ(c1, a2); /* the next value of the sequence */
    db_close();
}

static void test_invite_refused(void)
{
    rb_transfer t;
    char longname[200];
    struct call c;

    db_open();
    mkorgs();
    REFUSED(invite_full("rt-short", OP, OA, "2027-01", T0, NULL), RB_INVALID,
            "invalid transfer id \"rt-short\": want \"rt-\" and 8..32");
    REFUSED(invite_full("rt-UPPERCASE1", OP, OA, "2027-01", T0, NULL), RB_INVALID,
            "invalid transfer id \"rt-UPPERCASE1\"");
    REFUSED(invite_full("xx-abcdefgh", OP, OA, "2027-01", T0, NULL), RB_INVALID,
            "invalid transfer id \"xx-abcdefgh\"");
    /* 32 characters after rt- is the limit; 33 fill the field without room for the NUL. */
    memset(&c, 0, sizeof(c));
    c.k = K_INVITE;
    fill(c.t.payer, sizeof(c.t.payer), OP);
    fill(c.t.source, sizeof(c.t.source), OD);
    fill(c.t.name, sizeof(c.t.name), "long id");
    c.t.start_month = M("2027-01");
    c.now = T0;
    memcpy(c.t.id, "rt-abcdefghijklmnopqrstuvwxyz0123456", sizeof(c.t.id));
    REFUSED(update(&c), RB_INVALID, "invalid transfer id \"rt-abcdefghijklmnopqrstuvwxyz01234");
    memset(c.t.id, 0, sizeof(c.t.id));
    memcpy(c.t.id, "rt-abcdefghijklmnopqrstuvwxyz012345", sizeof(c.t.id) - 1);
    INT_EQ(update(&c), RB_OK);
    STR_EQ(c.t.id, "rt-abcdefghijklmnopqrstuvwxyz012345");
    REFUSED(invite_full("", OP, "o-bad", "2027-01", T0, NULL), RB_INVALID,
            "invalid source organization id \"o-bad\"");
    REFUSED(invite_full("", "O-PARTNER001", OA, "2027-01", T0, NULL), RB_INVALID,
            "invalid payer organization id \"O-PARTNER001\"");
    REFUSED(invite_full("", OP, OP, "2027-01", T0, NULL), RB_INVALID,
            "source and payer are the same organization o-partner001");
    REFUSED(invite_full("", OP, "o-nosuchorg1", "2027-01", T0, NULL), RB_NOTFOUND,
            "unknown source organization o-nosuchorg1");
    REFUSED(invite_full("", "o-nosuchorg2", OA, "2027-01", T0, NULL), RB_NOTFOUND,
            "unknown payer organization o-nosuchorg2");

    /* Names: 1..128 printable ASCII. */
    memset(&c, 0, sizeof(c));
    c.k = K_INVITE;
    fill(c.t.payer, sizeof(c.t.payer), OP);
    fill(c.t.source, sizeof(c.t.source), OA);
    c.t.start_month = M("2027-01");
    c.now = T0;
    REFUSED(update(&c), RB_INVALID, "invalid transfer name \"\": want 1..128 bytes, got 0");
    fill(c.t.name, sizeof(c.t.name), "tab\there");
    REFUSED(update(&c), RB_INVALID, "byte 4 (0x09) is not printable ASCII");
    fill(c.t.name, sizeof(c.t.name), "caf\xc3\xa9");
    REFUSED(update(&c), RB_INVALID, "byte 4 (0xc3) is not printable ASCII");
    memset(c.t.name, 'n', sizeof(c.t.name)); /* 129 bytes and no NUL: too long */
    REFUSED(update(&c), RB_INVALID, "want 1..128 bytes, got at least 129");
    memset(c.t.name, 0, sizeof(c.t.name));
    memset(c.t.name, 'n', 128); /* exactly 128: fine (checked below with the notes) */

    /* Notes: at most 1024 bytes of UTF-8, tab and newline the only controls. */
    memset(c.t.notes, 'x', sizeof(c.t.notes));
    REFUSED(update(&c), RB_INVALID, "invalid transfer notes: want at most 1024 bytes");
    fill(c.t.notes, sizeof(c.t.notes), "bad \xff byte");
    REFUSED(update(&c), RB_INVALID, "invalid transfer notes: not valid UTF-8 at byte 5");
    fill(c.t.notes, sizeof(c.t.notes), "bell\a");
    REFUSED(update(&c), RB_INVALID, "control character 0x07 at byte 5");
    memset(c.t.notes, 0, sizeof(c.t.notes));
    memset(c.t.notes, 'x', 1024);
    INT_EQ(update(&c), RB_OK); /* 128-byte name and 1024-byte notes are the limits */
    INT_EQ(get_rc(c.t.id, T0, &t), RB_OK);
    INT_EQ(strlen(t.name), 128);
    INT_EQ(strlen(t.notes), 1024);

    /* Months. */
    memset(&c, 0, sizeof(c));
    c.k = K_INVITE;
    fill(c.t.payer, sizeof(c.t.payer), OP);
    fill(c.t.source, sizeof(c.t.source), OC);
    fill(c.t.name, sizeof(c.t.name), "months");
    c.t.start_month = RB_MONTH_OPEN;
    c.now = T0;
    REFUSED(update(&c), RB_INVALID, "invalid start month 2147483647");
    c.t.start_month = -5;
    REFUSED(update(&c), RB_INVALID, "invalid start month -5");

    /* An explicit id that exists. */
    INT_EQ(invite_full("rt-takenid01", OP, OC, "2027-01", T0, NULL), RB_OK);
    REFUSED(invite_full("rt-takenid01", OQ, OD, "2027-01", T0, NULL), RB_EXISTS,
            "transfer rt-takenid01 already exists");

    /* Rename with bad names. */
    snprintf(longname, sizeof(longname), "%0129d", 0);
    REFUSED(rename_to("rt-takenid01", longname, T0), RB_INVALID, "want 1..128 bytes, got 129");
    REFUSED(rename_to("rt-takenid01", "", T0), RB_INVALID, "got 0");
    REFUSED(rename_to("rt-takenid01", NULL, T0), RB_INVALID, "missing transfer name");
    REFUSED(rename_to("rt-nosuchone", "x", T0), RB_NOTFOUND, "unknown transfer rt-nosuchone");
    db_close();
}

/* Expiry: still REQUESTED at exactly expires_at, EXPIRED one second later. */
static void test_expiry(void)
{
    char id1[40], id2[40], id3[40];
    int64_t exp = T("2026-12-11T12:00:00Z");
    rb_transfer t;
    struct hist h;

    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-03", T0, id1), RB_OK);
    INT_EQ(status_at(id1, exp), RB_TRANSFER_REQUESTED);
    INT_EQ(status_at(id1, exp + 1), RB_TRANSFER_EXPIRED);
    INT_EQ(get_rc(id1, exp + 100, &t), RB_OK);
    INT_EQ(t.updated_at, exp); /* the expiry is the last change */
    INT_EQ(t.status, RB_TRANSFER_EXPIRED);
    /* Expiry is computed, never stored: read earlier, it is still an invitation. */
    INT_EQ(status_at(id1, T0), RB_TRANSFER_REQUESTED);

    /* Accepting at exactly expires_at works; a second later it does not. */
    REFUSED(act(K_ACCEPT, id1, OA, exp + 1), RB_INVALID, "cannot accept an EXPIRED transfer (");
    STR_HAS(rb_errmsg(S), "invitation expired at 2026-12-11T12:00:00Z");
    REFUSED(act(K_DECLINE, id1, OA, exp + 1), RB_INVALID, "invitation expired at");
    REFUSED(act(K_CANCEL, id1, OP, exp + 1), RB_INVALID, "invitation expired at");
    INT_EQ(act(K_ACCEPT, id1, OA, exp), RB_OK);
    INT_EQ(status_at(id1, exp + 1), RB_TRANSFER_ACCEPTED);

    /* An expired invitation does not block a new one for the same source. */
    INT_EQ(invite(OP, OB, "2027-03", T0, id2), RB_OK);
    REFUSED(invite(OQ, OB, "2027-03", exp, NULL), RB_INVALID,
            "source organization o-bbbbbbbbbb already has transfer");
    INT_EQ(invite(OQ, OB, "2027-03", exp + 1, id3), RB_OK);

    /* History shows the computed expiry by "system" at expires_at. */
    INT_EQ(history(id2, exp + 1, &h), RB_OK);
    INT_EQ(h.n, 2);
    EVENT_IS(h.e[1], "expire", "system", RB_TRANSFER_REQUESTED, RB_TRANSFER_EXPIRED);
    INT_EQ(h.e[1].at, exp);
    STR_EQ(h.e[1].detail, "not accepted by 2026-12-11T12:00:00Z");
    INT_EQ(history(id2, exp, &h), RB_OK);
    INT_EQ(h.n, 1);
    db_close();
}

/* The acceptance cutoff: 23:59:59 UTC two days before the 1st of the start month. */
static void test_cutoff(void)
{
    int64_t cutoff = T("2026-12-30T23:59:59Z");
    char id1[40], id2[40];
    rb_transfer t;

    db_open();
    mkorgs();
    /* Invited 5 days before the cutoff: it expires at the cutoff, not 15 days later. */
    INT_EQ(invite_full("", OP, OA, "2027-01", T("2026-12-25T23:59:59Z"), &t), RB_OK);
    memcpy(id1, t.id, sizeof(t.id));
    INT_EQ(t.expires_at, cutoff);
    INT_EQ(status_at(id1, cutoff), RB_TRANSFER_REQUESTED);
    INT_EQ(status_at(id1, cutoff + 1), RB_TRANSFER_EXPIRED);
    REFUSED(act(K_ACCEPT, id1, OA, cutoff + 1), RB_INVALID,
            "invitation expired at 2026-12-30T23:59:59Z");
    INT_EQ(act(K_ACCEPT, id1, OA, cutoff), RB_OK);

    /* Inviting at the cutoff itself is allowed (it can be accepted that second only). */
    INT_EQ(invite_full("", OP, OB, "2027-01", cutoff, &t), RB_OK);
    memcpy(id2, t.id, sizeof(t.id));
    INT_EQ(t.expires_at, cutoff);
    /* After the cutoff the invitation is refused. */
    REFUSED(invite(OP, OC, "2027-01", cutoff + 1, NULL), RB_INVALID,
            "start month 2027-01 is too late: invitations for it had to be accepted by "
            "2026-12-30T23:59:59Z, and it is 2026-12-31T00:00:00Z");
    REFUSED(invite(OP, OC, "2026-10", T0, NULL), RB_INVALID, "start month 2026-10 is too late");
    /* A March start across a leap-free February: cutoff 2027-02-27T23:59:59Z. */
    INT_EQ(invite_full("", OP, OC, "2027-03", T("2027-02-20T00:00:00Z"), &t), RB_OK);
    INT_EQ(t.expires_at, T("2027-02-27T23:59:59Z"));
    REFUSED(invite(OP, OD, "2027-03", T("2027-02-28T00:00:00Z"), NULL), RB_INVALID,
            "accepted by 2027-02-27T23:59:59Z");
    db_close();
}

/* Every status x every action: what is allowed and what is refused, and with which words. */
static void test_transition_table(void)
{
    static const rb_transfer_status statuses[] = {
        RB_TRANSFER_REQUESTED, RB_TRANSFER_ACCEPTED, RB_TRANSFER_DECLINED,
        RB_TRANSFER_CANCELED,  RB_TRANSFER_EXPIRED,  RB_TRANSFER_WITHDRAWN,
    };
    static const struct {
        enum kind k;
        const char *verb;
        rb_transfer_status from, to;
        bool by_payer;
    } actions[] = {
        {K_ACCEPT, "accept", RB_TRANSFER_REQUESTED, RB_TRANSFER_ACCEPTED, false},
        {K_DECLINE, "decline", RB_TRANSFER_REQUESTED, RB_TRANSFER_DECLINED, false},
        {K_CANCEL, "cancel", RB_TRANSFER_REQUESTED, RB_TRANSFER_CANCELED, true},
        {K_WITHDRAW, "withdraw", RB_TRANSFER_ACCEPTED, RB_TRANSFER_WITHDRAWN, false},
    };
    int cell = 0;

    db_open();
    mkorg(OP);
    for (size_t si = 0; si < sizeof(statuses) / sizeof(statuses[0]); si++) {
        for (size_t ai = 0; ai < sizeof(actions) / sizeof(actions[0]); ai++) {
            rb_transfer_status st = statuses[si];
            char src[40], id[40], want[128];
            int64_t invited = st == RB_TRANSFER_EXPIRED ? T0 - 16 * 86400 : T0 - 86400;
            const char *actor;
            struct hist h;
            rb_status rc;

            /* A source of its own for each cell, and a transfer brought into status st. */
            snprintf(src, sizeof(src), "o-source%04d", ++cell);
            mkorg(src);
            actor = actions[ai].by_payer ? OP : src;
            INT_EQ(invite(OP, src, "2027-06", invited, id), RB_OK);
            if (st == RB_TRANSFER_ACCEPTED || st == RB_TRANSFER_WITHDRAWN)
                INT_EQ(act(K_ACCEPT, id, src, invited), RB_OK);
            if (st == RB_TRANSFER_DECLINED)
                INT_EQ(act(K_DECLINE, id, src, invited), RB_OK);
            if (st == RB_TRANSFER_CANCELED)
                INT_EQ(act(K_CANCEL, id, OP, invited), RB_OK);
            if (st == RB_TRANSFER_WITHDRAWN)
                INT_EQ(withdraw(id, src, M("2027-08"), invited), RB_OK);
            INT_EQ(status_at(id, T0), st);

            snapshot();
            if (actions[ai].k == K_WITHDRAW)
                rc = withdraw(id, actor, M("2027-09"), T0);
            else
                rc = act(actions[ai].k, id, actor, T0);
            if (st == actions[ai].from) {
                OK(rc == RB_OK, "%s from %s: %s", actions[ai].verb, rb_transfer_status_name(st),
                   rb_errmsg(S));
                INT_EQ(status_at(id, T0), actions[ai].to);
                INT_EQ(history(id, T0, &h), RB_OK);
                OK(h.n >= 2, "history has the transition");
                if (h.n >= 2) {
                    EVENT_IS(h.e[h.n - 1], actions[ai].verb, actor, st, actions[ai].to);
                    INT_EQ(h.e[h.n - 1].at, T0);
                }
                continue;
            }
            OK(rc == RB_INVALID, "%s from %s must be refused, got %d", actions[ai].verb,
               rb_transfer_status_name(st), rc);
            STR_HAS(rb_errmsg(S), rb_transfer_status_name(st));
            STR_HAS(rb_errmsg(S), id);
            if (st == actions[ai].to) {
                snprintf(want, sizeof(want), "transfer %s is already %s", id,
                         rb_transfer_status_name(st));
            } else if (st == RB_TRANSFER_EXPIRED) {
                snprintf(want, sizeof(want),
                         "cannot %s an EXPIRED transfer (%s): invitation "
                         "expired at 2026-11-25T12:00:00Z",
                         actions[ai].verb, id);
            } else {
                snprintf(want, sizeof(want), "cannot %s a%s %s transfer (%s)", actions[ai].verb,
                         st == RB_TRANSFER_ACCEPTED ? "n" : "", rb_transfer_status_name(st), id);
            }
            STR_HAS(rb_errmsg(S), want);
            OK(unchanged(), "%s from %s changed the database", actions[ai].verb,
               rb_transfer_status_name(st));
            INT_EQ(status_at(id, T0), st);
        }
    }
    db_close();
}

/* Rename works in every status and does not change it. */
static void test_rename(void)
{
    char id[40], ida[40], idw[40], big1[129], big2[129];
    rb_transfer t;
    struct hist h;

    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-03", T0, id), RB_OK);
    INT_EQ(rename_to(id, "new name", T0 + 60), RB_OK);
    INT_EQ(get_rc(id, T0 + 60, &t), RB_OK);
    STR_EQ(t.name, "new name");
    INT_EQ(t.status, RB_TRANSFER_REQUESTED);
    INT_EQ(t.updated_at, T0 + 60);
    INT_EQ(history(id, T0 + 60, &h), RB_OK);
    INT_EQ(h.n, 2);
    EVENT_IS(h.e[1], "rename", "operator", RB_TRANSFER_REQUESTED, RB_TRANSFER_REQUESTED);
    STR_EQ(h.e[1].detail, "name 'partner001 pays aaaaaaaaaa' -> 'new name'");
    /* The same name again changes nothing and records nothing. */
    snapshot();
    INT_EQ(rename_to(id, "new name", T0 + 120), RB_OK);
    OK(unchanged(), "renaming to the same name must not write");

    /* Renaming an expired invitation keeps the stored status: read before the expiry, it is
     * still REQUESTED. */
    INT_EQ(rename_to(id, "renamed late", T("2026-12-20")), RB_OK);
    INT_EQ(status_at(id, T("2026-12-20")), RB_TRANSFER_EXPIRED);
    INT_EQ(status_at(id, T0 + 1), RB_TRANSFER_REQUESTED);
    INT_EQ(history(id, T("2026-12-20"), &h), RB_OK);
    INT_EQ(h.n, 4);
    STR_EQ(h.e[0].action, "invite");
    STR_EQ(h.e[1].action, "rename");
    STR_EQ(h.e[2].action, "expire"); /* in time order: between the two renames */
    EVENT_IS(h.e[3], "rename", "operator", RB_TRANSFER_EXPIRED, RB_TRANSFER_EXPIRED);

    /* Accepted and withdrawn transfers can be renamed too. */
    INT_EQ(invite(OP, OB, "2027-03", T0, ida), RB_OK);
    INT_EQ(act(K_ACCEPT, ida, OB, T0), RB_OK);
    INT_EQ(rename_to(ida, "accepted one", T0), RB_OK);
    INT_EQ(status_at(ida, T0), RB_TRANSFER_ACCEPTED);
    INT_EQ(invite(OP, OC, "2027-03", T0, idw), RB_OK);
    INT_EQ(act(K_ACCEPT, idw, OC, T0), RB_OK);
    INT_EQ(withdraw(idw, OP, M("2027-05"), T0), RB_OK);
    INT_EQ(rename_to(idw, "withdrawn one", T0), RB_OK);
    INT_EQ(get_rc(idw, T0, &t), RB_OK);
    INT_EQ(t.status, RB_TRANSFER_WITHDRAWN);
    INT_EQ(t.end_month, M("2027-05"));

    /* Two 128-byte names do not fit the detail: the old one is shortened with "...". */
    memset(big1, 'a', 128);
    big1[128] = '\0';
    memset(big2, 'b', 128);
    big2[128] = '\0';
    INT_EQ(rename_to(ida, big1, T0), RB_OK);
    INT_EQ(rename_to(ida, big2, T0), RB_OK);
    INT_EQ(history(ida, T0, &h), RB_OK);
    STR_HAS(h.e[h.n - 1].detail, "...' -> 'bbbb");
    STR_HAS(h.e[h.n - 1].detail, big2);
    OK(strlen(h.e[h.n - 1].detail) < sizeof(h.e[0].detail), "detail fits");
    db_close();
}

/* Only the source accepts or declines, only the payer cancels, either withdraws. */
static void test_actors(void)
{
    char id[40];

    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-03", T0, id), RB_OK);
    REFUSED(act(K_ACCEPT, id, OP, T0), RB_INVALID, "o-partner001 cannot accept transfer");
    STR_HAS(rb_errmsg(S), "only its source organization o-aaaaaaaaaa can");
    REFUSED(act(K_ACCEPT, id, OX, T0), RB_INVALID, "o-stranger01 cannot accept transfer");
    REFUSED(act(K_DECLINE, id, OP, T0), RB_INVALID, "o-partner001 cannot decline transfer");
    STR_HAS(rb_errmsg(S), "only its source organization o-aaaaaaaaaa can");
    REFUSED(act(K_DECLINE, id, OX, T0), RB_INVALID, "o-stranger01 cannot decline");
    REFUSED(act(K_CANCEL, id, OA, T0), RB_INVALID, "o-aaaaaaaaaa cannot cancel transfer");
    STR_HAS(rb_errmsg(S), "only its payer organization o-partner001, which invited, can");
    REFUSED(act(K_CANCEL, id, OX, T0), RB_INVALID, "o-stranger01 cannot cancel");
    REFUSED(act(K_ACCEPT, id, "o-BAD", T0), RB_INVALID, "invalid actor \"o-BAD\"");
    REFUSED(act(K_ACCEPT, id, NULL, T0), RB_INVALID, "missing actor");
    REFUSED(act(K_ACCEPT, "rt-nosuchone", OA, T0), RB_NOTFOUND, "unknown transfer rt-nosuchone");
    REFUSED(act(K_ACCEPT, "bogus", OA, T0), RB_INVALID, "invalid transfer id \"bogus\"");
    INT_EQ(act(K_ACCEPT, id, OA, T0), RB_OK);
    REFUSED(withdraw(id, OX, M("2027-05"), T0), RB_INVALID,
            "o-stranger01 cannot withdraw transfer");
    STR_HAS(rb_errmsg(S), "only its source organization o-aaaaaaaaaa or its payer organization "
                          "o-partner001 can");
    /* Either side may withdraw. */
    INT_EQ(withdraw(id, OP, M("2027-05"), T0), RB_OK);
    INT_EQ(invite(OP, OB, "2027-03", T0, id), RB_OK);
    INT_EQ(act(K_ACCEPT, id, OB, T0), RB_OK);
    INT_EQ(withdraw(id, OB, M("2027-05"), T0), RB_OK);
    db_close();
}

static void test_withdraw(void)
{
    char id[40], id2[40], id3[40];
    rb_payer_info in;
    rb_transfer t;
    struct hist h;

    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-01", T0, id), RB_OK);
    INT_EQ(act(K_ACCEPT, id, OA, T0), RB_OK);
    /* Now is 2027-02-10: the end month may not be before 2027-02. */
    REFUSED(withdraw(id, OA, M("2027-01"), T("2027-02-10")), RB_INVALID,
            "withdrawal end month 2027-01 is before the current month 2027-02");
    REFUSED(withdraw(id, OA, RB_MONTH_OPEN, T("2027-02-10")), RB_INVALID,
            "a withdrawal needs an end month");
    REFUSED(withdraw(id, OA, 12, T("2027-02-10")), RB_INVALID, "invalid withdrawal end month 12");
    INT_EQ(withdraw(id, OA, M("2027-02"), T("2027-02-10")), RB_OK); /* the current month */
    INT_EQ(get_rc(id, T("2027-02-10"), &t), RB_OK);
    INT_EQ(t.status, RB_TRANSFER_WITHDRAWN);
    INT_EQ(t.end_month, M("2027-02"));
    INT_EQ(t.updated_at, T("2027-02-10"));
    INT_EQ(history(id, T("2027-02-10"), &h), RB_OK);
    INT_EQ(h.n, 3);
    EVENT_IS(h.e[1], "accept", OA, RB_TRANSFER_REQUESTED, RB_TRANSFER_ACCEPTED);
    STR_EQ(h.e[1].detail, "in force from 2027-01");
    EVENT_IS(h.e[2], "withdraw", OA, RB_TRANSFER_ACCEPTED, RB_TRANSFER_WITHDRAWN);
    STR_EQ(h.e[2].detail, "end 2027-02");
    /* In force to the end of the end month, not after. */
    STR_EQ(chain_of(OA, "2027-02"), "o-aaaaaaaaaa>o-partner001");
    STR_EQ(chain_of(OA, "2027-03"), "o-aaaaaaaaaa");
    /* Irreversible. */
    REFUSED(withdraw(id, OP, M("2027-05"), T("2027-02-10")), RB_INVALID, "is already WITHDRAWN");
    /* A new transfer may start after the end month, not before. */
    REFUSED(invite(OQ, OA, "2027-02", T0, NULL), RB_INVALID, "already has transfer");
    INT_EQ(invite(OQ, OA, "2027-03", T0, id2), RB_OK);
    INT_EQ(act(K_ACCEPT, id2, OA, T0), RB_OK);
    STR_EQ(chain_of(OA, "2027-03"), "o-aaaaaaaaaa>o-partner002");

    /* Withdrawn before its start month: never in force, and blocks nothing. */
    INT_EQ(invite(OP, OB, "2027-06", T0, id3), RB_OK);
    INT_EQ(act(K_ACCEPT, id3, OB, T0), RB_OK);
    INT_EQ(withdraw(id3, OB, M("2026-12"), T0), RB_OK);
    INT_EQ(history(id3, T0, &h), RB_OK);
    STR_EQ(h.e[h.n - 1].detail, "end 2026-12, before the start 2027-06: never in force");
    INT_EQ(payer_of(OB, "2027-06", &in), RB_OK);
    INT_EQ(in.depth, 0);
    INT_EQ(invite(OQ, OB, "2027-06", T0, NULL), RB_OK);
    db_close();
}

/* A source has at most one transfer in force or requested for any month. */
static void test_overlap(void)
{
    char acc[40], req[40], dec[40], can[40], t1[40], t2[40];

    db_open();
    mkorgs();
    /* With an accepted one (open-ended): any later start overlaps. */
    INT_EQ(invite(OP, OA, "2027-01", T0, acc), RB_OK);
    INT_EQ(act(K_ACCEPT, acc, OA, T0), RB_OK);
    REFUSED(invite(OQ, OA, "2027-06", T0, NULL), RB_INVALID,
            "source organization o-aaaaaaaaaa already has transfer");
    STR_HAS(rb_errmsg(S), "(ACCEPTED, 2027-01..open) for months from 2027-06");
    /* A start before the accepted one's is open-ended too, so it overlaps as well. */
    REFUSED(invite(OQ, OA, "2027-01", T0, NULL), RB_INVALID, "already has transfer");
    /* A's payer may itself have its bill paid by another: a chain, not an overlap. */
    INT_EQ(invite(OQ, OP, "2027-01", T0, NULL), RB_OK);

    /* With a withdrawn one still in force. */
    INT_EQ(withdraw(acc, OA, M("2027-04"), T0), RB_OK);
    REFUSED(invite(OQ, OA, "2027-04", T0, NULL), RB_INVALID, "(WITHDRAWN, 2027-01..2027-04)");
    INT_EQ(invite(OQ, OA, "2027-05", T0, NULL), RB_OK);

    /* With a live invitation. */
    INT_EQ(invite(OP, OB, "2027-03", T0, req), RB_OK);
    REFUSED(invite(OQ, OB, "2027-09", T0, NULL), RB_INVALID, "(REQUESTED, 2027-03..open)");
    REFUSED(invite(OP, OB, "2027-03", T0, NULL), RB_INVALID, "already has transfer");
    /* Declined and canceled ones block nothing. */
    INT_EQ(act(K_DECLINE, req, OB, T0), RB_OK);
    INT_EQ(invite(OQ, OB, "2027-03", T0, dec), RB_OK);
    INT_EQ(act(K_CANCEL, dec, OQ, T0), RB_OK);
    INT_EQ(invite(OP, OB, "2027-03", T0, can), RB_OK);

    /* Checked again at accept. Only time can make the two disagree: t1, invited 16 days ago,
     * has expired, so t2 was allowed; accepting t1 at a moment when both are live (read
     * with an earlier `now`) is refused. */
    INT_EQ(invite(OP, OC, "2027-06", T0 - 16 * 86400, t1), RB_OK);
    INT_EQ(invite(OQ, OC, "2027-06", T0, t2), RB_OK);
    REFUSED(act(K_ACCEPT, t1, OC, T0 - 86400), RB_INVALID,
            "source organization o-cccccccccc already has transfer");
    STR_HAS(rb_errmsg(S), t2);
    db_close();
}

/* Chains: a customer's payer may itself transfer its bill, up to max_chain_depth. */
static void test_chain_depth(void)
{
    char ab[40], bc[40], cd[40], de[40];

    db_open();
    mkorgs();
    INT_EQ(invite(OB, OA, "2027-01", T0, ab), RB_OK);
    INT_EQ(act(K_ACCEPT, ab, OA, T0), RB_OK);
    INT_EQ(invite(OC, OB, "2027-01", T0, bc), RB_OK); /* A -> B -> C: 2 transfers */
    /* A requested link counts: C -> D would make 3. */
    REFUSED(invite(OD, OC, "2027-01", T0, NULL), RB_INVALID,
            "transfer would make a payer chain of 3 transfers in 2027-01 (o-aaaaaaaaaa -> "
            "o-bbbbbbbbbb -> o-cccccccccc -> o-dddddddddd): max-chain-depth is 2");
    INT_EQ(act(K_ACCEPT, bc, OB, T0), RB_OK);
    STR_EQ(chain_of(OA, "2027-01"), "o-aaaaaaaaaa>o-bbbbbbbbbb>o-cccccccccc");
    REFUSED(invite(OD, OC, "2027-05", T0, NULL), RB_INVALID, "payer chain of 3 transfers");
    /* A link in the middle counts both ways: D -> E exists, C -> D joins the two chains. */
    INT_EQ(set_depth(5), RB_OK);
    INT_EQ(invite(OE, OD, "2027-01", T0, de), RB_OK);
    INT_EQ(set_depth(2), RB_OK);
    REFUSED(invite(OD, OC, "2027-01", T0, NULL), RB_INVALID,
            "payer chain of 4 transfers in 2027-01 (o-aaaaaaaaaa -> o-bbbbbbbbbb -> "
            "o-cccccccccc -> o-dddddddddd -> o-eeeeeeeeee)");
    INT_EQ(act(K_CANCEL, de, OE, T0), RB_OK);

    /* Allowed after raising the setting. */
    INT_EQ(set_depth(3), RB_OK);
    INT_EQ(invite(OD, OC, "2027-01", T0, cd), RB_OK);
    /* Checked again at accept: lowering the setting in between refuses the acceptance. */
    INT_EQ(set_depth(2), RB_OK);
    REFUSED(act(K_ACCEPT, cd, OC, T0), RB_INVALID, "payer chain of 3 transfers");
    INT_EQ(set_depth(3), RB_OK);
    INT_EQ(act(K_ACCEPT, cd, OC, T0), RB_OK);
    STR_EQ(chain_of(OA, "2027-01"), "o-aaaaaaaaaa>o-bbbbbbbbbb>o-cccccccccc>o-dddddddddd");
    REFUSED(invite(OE, OD, "2027-01", T0, NULL), RB_INVALID,
            "payer chain of 4 transfers in 2027-01");
    STR_HAS(rb_errmsg(S), "max-chain-depth is 3");
    db_close();
}

/* Chain depth is counted month by month: links that never overlap do not add up. */
static void test_chain_by_month(void)
{
    char ab[40], bc[40];

    db_open();
    mkorgs();
    INT_EQ(invite(OB, OA, "2027-01", T0, ab), RB_OK);
    INT_EQ(act(K_ACCEPT, ab, OA, T0), RB_OK);
    INT_EQ(withdraw(ab, OA, M("2027-03"), T0), RB_OK); /* A -> B for 2027-01..03 */
    INT_EQ(invite(OC, OB, "2027-04", T0, bc), RB_OK);  /* B -> C from 2027-04 */
    INT_EQ(act(K_ACCEPT, bc, OB, T0), RB_OK);
    /* C -> D from 2027-01: with B -> C that is 2 from 2027-04; A -> B has ended by then. */
    INT_EQ(invite(OD, OC, "2027-01", T0, NULL), RB_OK);
    STR_EQ(chain_of(OA, "2027-03"), "o-aaaaaaaaaa>o-bbbbbbbbbb");
    STR_EQ(chain_of(OA, "2027-04"), "o-aaaaaaaaaa");
    STR_EQ(chain_of(OB, "2027-04"), "o-bbbbbbbbbb>o-cccccccccc");
    /* E -> A from 2027-02: E -> A -> B in 2027-02..03 and E -> A from 2027-04 on, never
     * E -> A -> B -> C, since A -> B ends before B -> C starts. */
    INT_EQ(invite(OA, OE, "2027-02", T0, NULL), RB_OK);
    db_close();

    /* A violation that starts only in a later month, when another link starts: E -> A from
     * 2027-01 and A -> B from 2027-06 make E -> A -> B from 2027-06; B -> C from 2027-01 is
     * alone in 2027-01 but the third link of that chain in 2027-06. */
    db_open();
    mkorgs();
    INT_EQ(invite(OA, OE, "2027-01", T0, NULL), RB_OK);
    INT_EQ(invite(OB, OA, "2027-06", T0, NULL), RB_OK);
    REFUSED(invite(OC, OB, "2027-01", T0, NULL), RB_INVALID,
            "payer chain of 3 transfers in 2027-06 (o-eeeeeeeeee -> o-aaaaaaaaaa -> "
            "o-bbbbbbbbbb -> o-cccccccccc)");
    /* The same for a cycle: B -> A from 2027-01 closes one with A -> B in 2027-06. */
    REFUSED(invite(OA, OB, "2027-01", T0, NULL), RB_INVALID,
            "payer cycle in 2027-06: o-bbbbbbbbbb -> o-aaaaaaaaaa -> o-bbbbbbbbbb");
    db_close();

    /* An expired invitation does not count. */

    db_open();
    mkorgs();
    INT_EQ(invite(OB, OA, "2027-06", T0 - 20 * 86400, NULL), RB_OK); /* expired */
    INT_EQ(invite(OC, OB, "2027-06", T0, NULL), RB_OK);
    INT_EQ(invite(OD, OC, "2027-06", T0, NULL), RB_OK); /* B -> C -> D: 2 */
    db_close();
}

static void test_cycles(void)
{
    char ab[40], bc[40];

    db_open();
    mkorgs();
    INT_EQ(invite(OB, OA, "2027-01", T0, ab), RB_OK);
    REFUSED(invite(OA, OB, "2027-01", T0, NULL), RB_INVALID,
            "transfer would make a payer cycle in 2027-01: o-bbbbbbbbbb -> o-aaaaaaaaaa -> "
            "o-bbbbbbbbbb");
    /* Later months too: the requested link is open-ended. */
    REFUSED(invite(OA, OB, "2027-08", T0, NULL), RB_INVALID, "payer cycle in 2027-08");
    INT_EQ(act(K_ACCEPT, ab, OA, T0), RB_OK);
    INT_EQ(set_depth(5), RB_OK); /* so that only the cycle is wrong */
    INT_EQ(invite(OC, OB, "2027-01", T0, bc), RB_OK);
    INT_EQ(act(K_ACCEPT, bc, OB, T0), RB_OK);
    REFUSED(invite(OA, OC, "2027-01", T0, NULL), RB_INVALID,
            "payer cycle in 2027-01: o-cccccccccc -> o-aaaaaaaaaa -> o-bbbbbbbbbb -> "
            "o-cccccccccc");
    /* Once A -> B has ended (after 2027-02), C's bill may go to A. */
    INT_EQ(withdraw(ab, OA, M("2027-02"), T0), RB_OK);
    REFUSED(invite(OA, OC, "2027-02", T0, NULL), RB_INVALID, "payer cycle in 2027-02");
    INT_EQ(invite(OA, OC, "2027-03", T0, NULL), RB_OK);
    REFUSED(invite(OP, OP, "2027-03", T0, NULL), RB_INVALID, "same organization");
    db_close();
}

struct src_list {
    char text[512];
};

static rb_status src_one(const rb_transfer *t, void *ctx)
{
    struct src_list *l = ctx;
    size_t n = strlen(l->text);

    snprintf(l->text + n, sizeof(l->text) - n, "%s%s", n ? "," : "", t->source);
    return RB_OK;
}

struct src_call {
    const char *payer;
    int month;
    struct src_list l;
};

static rb_status do_sources(rb_txn *txn, void *ctx)
{
    struct src_call *c = ctx;

    return rb_payer_sources(txn, c->payer, c->month, src_one, &c->l);
}

static const char *sources(const char *payer, const char *month, rb_status *rc)
{
    static struct src_call c;

    memset(&c, 0, sizeof(c));
    c.payer = payer;
    c.month = M(month);
    *rc = rb_store_view(S, do_sources, &c);
    return c.l.text;
}

static void test_payer_questions(void)
{
    char ab[40], cb[40], bd[40];
    rb_payer_info in;
    rb_status rc;

    db_open();
    mkorgs();
    INT_EQ(invite(OB, OA, "2027-01", T0, ab), RB_OK);
    /* Requested is not in force. */
    STR_EQ(chain_of(OA, "2027-01"), "o-aaaaaaaaaa");
    INT_EQ(act(K_ACCEPT, ab, OA, T0), RB_OK);
    INT_EQ(withdraw(ab, OA, M("2027-06"), T0), RB_OK);
    INT_EQ(invite(OB, OC, "2027-03", T0, cb), RB_OK);
    INT_EQ(act(K_ACCEPT, cb, OC, T0), RB_OK);
    INT_EQ(invite(OD, OB, "2027-02", T0, bd), RB_OK);
    INT_EQ(act(K_ACCEPT, bd, OB, T0), RB_OK);

    STR_EQ(chain_of(OA, "2026-12"), "o-aaaaaaaaaa");
    STR_EQ(chain_of(OA, "2027-01"), "o-aaaaaaaaaa>o-bbbbbbbbbb");
    STR_EQ(chain_of(OA, "2027-02"), "o-aaaaaaaaaa>o-bbbbbbbbbb>o-dddddddddd");
    STR_EQ(chain_of(OA, "2027-06"), "o-aaaaaaaaaa>o-bbbbbbbbbb>o-dddddddddd");
    STR_EQ(chain_of(OA, "2027-07"), "o-aaaaaaaaaa");
    STR_EQ(chain_of(OC, "2027-02"), "o-cccccccccc");
    STR_EQ(chain_of(OC, "2030-01"), "o-cccccccccc>o-bbbbbbbbbb>o-dddddddddd");
    INT_EQ(payer_of(OA, "2027-04", &in), RB_OK);
    STR_EQ(in.org, OA);
    INT_EQ(in.month, M("2027-04"));
    INT_EQ(in.depth, 2);
    STR_EQ(in.chain[0], OB); /* direct payer */
    STR_EQ(in.via[0], ab);
    STR_EQ(in.chain[1], OD); /* top of the chain */
    STR_EQ(in.via[1], bd);
    INT_EQ(payer_of(OD, "2027-04", &in), RB_OK);
    INT_EQ(in.depth, 0);

    STR_EQ(sources(OB, "2026-12", &rc), "");
    INT_EQ(rc, RB_OK);
    STR_EQ(sources(OB, "2027-01", &rc), "o-aaaaaaaaaa");
    /* Both, in transfer id order. */
    STR_EQ(sources(OB, "2027-04", &rc),
           strcmp(ab, cb) < 0 ? "o-aaaaaaaaaa,o-cccccccccc" : "o-cccccccccc,o-aaaaaaaaaa");
    STR_EQ(sources(OB, "2027-07", &rc), "o-cccccccccc");
    STR_EQ(sources(OD, "2027-04", &rc), "o-bbbbbbbbbb"); /* directly only: not A or C */
    STR_EQ(sources(OA, "2027-04", &rc), "");

    /* Bad questions. */
    REFUSED(payer_of("o-nosuchorg1", "2027-01", &in), RB_NOTFOUND,
            "unknown organization o-nosuchorg1");
    REFUSED(payer_of("nope", "2027-01", &in), RB_INVALID, "invalid organization id \"nope\"");
    {
        struct call c;
        memset(&c, 0, sizeof(c));
        c.k = K_PAYER_OF;
        c.id = OA;
        c.month = 3;
        REFUSED(rb_store_view(S, run_call, &c), RB_INVALID, "invalid month 3");
    }
    sources("o-nosuchorg1", "2027-01", &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_HAS(rb_errmsg(S), "unknown payer organization o-nosuchorg1");
    sources("x", "2027-01", &rc);
    INT_EQ(rc, RB_INVALID);
    STR_HAS(rb_errmsg(S), "invalid payer organization id \"x\"");
    db_close();
}

struct list_call {
    const char *org;
    unsigned dirs;
    int64_t now;
    char text[1024];
};

static rb_status list_one(const rb_transfer *t, void *ctx)
{
    struct list_call *c = ctx;
    size_t n = strlen(c->text);

    snprintf(c->text + n, sizeof(c->text) - n, "%s%s:%s", n ? "," : "", t->source + 2,
             rb_transfer_status_name(t->status));
    return RB_OK;
}

static rb_status do_list(rb_txn *txn, void *ctx)
{
    struct list_call *c = ctx;

    return rb_transfer_list(txn, c->org, c->dirs, c->now, list_one, c);
}

static const char *list(const char *org, unsigned dirs, int64_t now, rb_status *rc)
{
    static struct list_call c;

    memset(&c, 0, sizeof(c));
    c.org = org;
    c.dirs = dirs;
    c.now = now;
    *rc = rb_store_view(S, do_list, &c);
    return c.text;
}

static void test_list(void)
{
    rb_status rc;

    db_open();
    mkorgs();
    /* Explicit ids fix the order. */
    INT_EQ(invite_full("rt-list00003", OP, OA, "2027-03", T0, NULL), RB_OK);
    INT_EQ(invite_full("rt-list00001", OA, OB, "2027-03", T0 - 20 * 86400, NULL), RB_OK);
    INT_EQ(invite_full("rt-list00002", OQ, OC, "2027-03", T0, NULL), RB_OK);
    INT_EQ(act(K_ACCEPT, "rt-list00002", OC, T0), RB_OK);
    STR_EQ(list(NULL, 0, T0, &rc), "bbbbbbbbbb:EXPIRED,cccccccccc:ACCEPTED,aaaaaaaaaa:REQUESTED");
    INT_EQ(rc, RB_OK);
    STR_EQ(list(OA, 0, T0, &rc), "bbbbbbbbbb:EXPIRED,aaaaaaaaaa:REQUESTED");
    STR_EQ(list(OA, RB_TRANSFER_INBOUND | RB_TRANSFER_OUTBOUND, T0, &rc),
           "bbbbbbbbbb:EXPIRED,aaaaaaaaaa:REQUESTED");
    STR_EQ(list(OA, RB_TRANSFER_INBOUND, T0, &rc), "aaaaaaaaaa:REQUESTED");
    STR_EQ(list(OA, RB_TRANSFER_OUTBOUND, T0, &rc), "bbbbbbbbbb:EXPIRED");
    STR_EQ(list(OX, 0, T0, &rc), "");
    INT_EQ(rc, RB_OK);
    /* Status as of `now`. */
    STR_EQ(list(OA, RB_TRANSFER_OUTBOUND, T0 - 19 * 86400, &rc), "bbbbbbbbbb:REQUESTED");
    list("o-nosuchorg1", 0, T0, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_HAS(rb_errmsg(S), "unknown organization o-nosuchorg1");
    list("o-", 0, T0, &rc);
    INT_EQ(rc, RB_INVALID);
    STR_HAS(rb_errmsg(S), "invalid organization id \"o-\"");
    db_close();
}

static void test_history_order(void)
{
    char id[40];
    struct hist h;

    db_open();
    mkorgs();
    INT_EQ(invite(OP, OA, "2027-03", T0, id), RB_OK);
    INT_EQ(rename_to(id, "second", T0 + 10), RB_OK);
    INT_EQ(act(K_ACCEPT, id, OA, T0 + 20), RB_OK);
    INT_EQ(rename_to(id, "third", T0 + 30), RB_OK);
    INT_EQ(withdraw(id, OP, M("2027-05"), T0 + 40), RB_OK);
    INT_EQ(history(id, T0 + 50, &h), RB_OK);
    INT_EQ(h.n, 5);
    EVENT_IS(h.e[0], "invite", OP, RB_TRANSFER_REQUESTED, RB_TRANSFER_REQUESTED);
    EVENT_IS(h.e[1], "rename", "operator", RB_TRANSFER_REQUESTED, RB_TRANSFER_REQUESTED);
    STR_EQ(h.e[1].detail, "name 'partner001 pays aaaaaaaaaa' -> 'second'");
    EVENT_IS(h.e[2], "accept", OA, RB_TRANSFER_REQUESTED, RB_TRANSFER_ACCEPTED);
    EVENT_IS(h.e[3], "rename", "operator", RB_TRANSFER_ACCEPTED, RB_TRANSFER_ACCEPTED);
    STR_EQ(h.e[3].detail, "name 'second' -> 'third'");
    EVENT_IS(h.e[4], "withdraw", OP, RB_TRANSFER_ACCEPTED, RB_TRANSFER_WITHDRAWN);
    STR_EQ(h.e[4].detail, "end 2027-05");
    for (int i = 0; i < 5; i++)
        INT_EQ(h.e[i].at, T0 + 10 * i);
    /* No computed expiry for an accepted one, even read long after its invitation. */
    INT_EQ(history(id, T("2030-01-01"), &h), RB_OK);
    INT_EQ(h.n, 5);
    REFUSED(history("rt-nosuchone", T0, &h), RB_NOTFOUND, "unknown transfer rt-nosuchone");
    db_close();
}

/* The stored bytes, as docs/storage.md describes them, and damaged records. */
static rb_status do_raw_get(rb_txn *txn, void *ctx)
{
    struct call *c = ctx;
    struct rbi_val v;
    rb_status rc = rbi_get(txn, c->db, c->key, c->klen, &v);
    static unsigned char copy[4096];

    if (rc == RB_OK) {
        c->vlen = v.len < sizeof(copy) ? v.len : sizeof(copy);
        memcpy(copy, v.data, c->vlen);
        c->val = copy;
    }
    return rc;
}

static void test_layout_and_damage(void)
{
    static const unsigned char want_key[] = {'r', 't', '-', 'l', 'a', 'y', 'o', 'u',
                                             't', '0', '1', 0,   0,   0,   0,   2};
    struct rb_buf want = {NULL, 0, 0};
    char id[40];
    struct call c;
    struct hist h;
    rb_transfer t;

    db_open();
    mkorgs();
    INT_EQ(invite_full("rt-layout01", OP, OA, "2027-03", T0, NULL), RB_OK);
    INT_EQ(act(K_ACCEPT, "rt-layout01", OA, T0 + 5), RB_OK);
    /* transfers: id -> v1 {name, notes, source, payer, start, end, status, invited, expires,
     * updated} */
    rbi_rec_begin(&want, 1);
    rbi_rec_put_str(&want, "partner001 pays aaaaaaaaaa");
    rbi_rec_put_str(&want, "");
    rbi_rec_put_str(&want, OA);
    rbi_rec_put_str(&want, OP);
    rbi_rec_put_i64(&want, M("2027-03"));
    rbi_rec_put_i64(&want, RB_MONTH_OPEN);
    rbi_rec_put_i64(&want, RB_TRANSFER_ACCEPTED);
    rbi_rec_put_i64(&want, T0);
    rbi_rec_put_i64(&want, T0 + 15 * 86400);
    rbi_rec_put_i64(&want, T0 + 5);
    memset(&c, 0, sizeof(c));
    c.db = RBI_DB_TRANSFERS;
    c.key = "rt-layout01";
    c.klen = 11;
    INT_EQ(rb_store_view(S, do_raw_get, &c), RB_OK);
    OK(c.vlen == want.len && memcmp(c.val, want.data, want.len) == 0, "transfer record bytes");
    /* transfer_events: id + NUL + be32(seq) -> v1 {at, actor, action, from, to, detail} */
    rbi_rec_begin(&want, 1);
    rbi_rec_put_i64(&want, T0 + 5);
    rbi_rec_put_str(&want, OA);
    rbi_rec_put_str(&want, "accept");
    rbi_rec_put_i64(&want, RB_TRANSFER_REQUESTED);
    rbi_rec_put_i64(&want, RB_TRANSFER_ACCEPTED);
    rbi_rec_put_str(&want, "in force from 2027-03");
    c.db = RBI_DB_TEVENTS;
    c.key = want_key;
    c.klen = sizeof(want_key);
    INT_EQ(rb_store_view(S, do_raw_get, &c), RB_OK);
    OK(c.vlen == want.len && memcmp(c.val, want.data, want.len) == 0, "event record bytes");
    rbi_buf_release(&want);

    /* A damaged transfer record is reported, never misread. */
    INT_EQ(invite(OP, OB, "2027-03", T0, id), RB_OK);
    memset(&c, 0, sizeof(c));
    c.k = K_RAW_PUT;
    c.db = RBI_DB_TRANSFERS;
    c.key = id;
    c.klen = strlen(id);
    c.val = "\x01short";
    c.vlen = 6;
    INT_EQ(update(&c), RB_OK);
    REFUSED(get_rc(id, T0, &t), RB_CORRUPT, "corrupt record");
    REFUSED(act(K_ACCEPT, id, OB, T0), RB_CORRUPT, "in 'transfers'");
    /* ...also when a rule check scans every transfer. */
    REFUSED(invite(OP, OC, "2027-03", T0, NULL), RB_CORRUPT, "corrupt record");
    /* A damaged history record. */
    c.db = RBI_DB_TEVENTS;
    c.key = want_key;
    c.klen = sizeof(want_key);
    c.val = "\x01";
    c.vlen = 1;
    INT_EQ(update(&c), RB_OK);
    REFUSED(history("rt-layout01", T0, &h), RB_CORRUPT, "in 'transfer_events'");
    db_close();
}

static rb_status null_calls(rb_txn *txn, void *ctx)
{
    int *n = ctx;

    *n += rb_transfer_invite(txn, NULL, T0) == RB_MISUSE;
    *n += rb_transfer_get(txn, "rt-abcdefgh", T0, NULL) == RB_MISUSE;
    *n += rb_transfer_list(txn, NULL, 0, T0, NULL, NULL) == RB_MISUSE;
    *n += rb_transfer_history(txn, "rt-abcdefgh", T0, NULL, NULL) == RB_MISUSE;
    *n += rb_payer_of(txn, OA, M("2027-01"), NULL) == RB_MISUSE;
    *n += rb_payer_sources(txn, OA, M("2027-01"), NULL, NULL) == RB_MISUSE;
    return RB_OK;
}

static void test_misuse(void)
{
    int n = 0;

    INT_EQ(rb_transfer_invite(NULL, NULL, T0), RB_MISUSE);
    INT_EQ(rb_transfer_accept(NULL, "rt-abcdefgh", OA, T0), RB_MISUSE);
    INT_EQ(rb_transfer_rename(NULL, "rt-abcdefgh", "x", T0), RB_MISUSE);
    db_open();
    INT_EQ(rb_store_view(S, null_calls, &n), RB_OK);
    INT_EQ(n, 6);
    db_close();
}

/* Failing each allocation in turn: a clean RB_NOMEM and nothing written, until it works. */
static void test_alloc_failures(void)
{
    char id[40];
    int fails = 0;

    db_open();
    mkorgs();
    INT_EQ(invite(OC, OB, "2027-03", T0, NULL), RB_OK); /* something for the rules to scan */
    for (long n = 0; n < 200; n++) {
        rb_status rc;
        snapshot();
        rbi_alloc_fail_after(n);
        rc = invite(OB, OA, "2027-03", T0, id);
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK)
            break;
        fails++;
        OK(rc == RB_NOMEM, "allocation %ld failed: got %d (%s)", n, rc, rb_errmsg(S));
        OK(unchanged(), "allocation %ld failed: database changed", n);
    }
    OK(fails > 0, "the invitation allocates");
    INT_EQ(status_at(id, T0), RB_TRANSFER_REQUESTED);
    fails = 0;
    for (long n = 0; n < 200; n++) {
        rb_status rc;
        snapshot();
        rbi_alloc_fail_after(n);
        rc = act(K_ACCEPT, id, OA, T0);
        rbi_alloc_fail_after(-1);
        if (rc == RB_OK)
            break;
        fails++;
        OK(rc == RB_NOMEM, "allocation %ld failed: got %d (%s)", n, rc, rb_errmsg(S));
        OK(unchanged(), "allocation %ld failed: database changed", n);
    }
    OK(fails > 0, "the acceptance allocates");
    INT_EQ(status_at(id, T0), RB_TRANSFER_ACCEPTED);
    db_close();
}

int main(void)
{
    T0 = T("2026-11-26T12:00:00Z");
    test_status_names();
    test_invite();
    test_generated_ids();
    test_invite_refused();
    test_expiry();
    test_cutoff();
    test_transition_table();
    test_rename();
    test_actors();
    test_withdraw();
    test_overlap();
    test_chain_depth();
    test_chain_by_month();
    test_cycles();
    test_payer_questions();
    test_list();
    test_history_order();
    test_layout_and_damage();
    test_misuse();
    test_alloc_failures();
    rbi_buf_release(&snap);
    return harness_done();
}
