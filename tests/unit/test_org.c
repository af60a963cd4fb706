/*
 * test_org.c -- organizations and accounts: id and name rules at their boundaries, org
 * creation with its management account, adding and moving accounts, the membership history
 * and "which org at time T" at the boundaries, listing with filters, the stored byte layout,
 * and damaged records. Every refused call is checked for its code, its message, and a
 * database left exactly as it was. Each test uses its own database in a fresh directory.
 */
#include "harness.h"
#include "rb_int.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static rb_store *S;

#define A1 "111111111111"
#define A2 "222222222222"
#define A3 "333333333333"
#define M1 "900000000001"
#define M2 "900000000002"
#define M3 "900000000003"
#define OA "o-aaaaaaaaaa"
#define OB "o-bbbbbbbbbb"
#define OC "o-cccccccccc"

static int64_t T(const char *s)
{
    int64_t t = -1;

    if (rb_time_parse(&t, s, NULL) != RB_OK)
        fprintf(stderr, "bad time in test: %s\n", s);
    return t;
}

/* {===================================================================================
 * A fresh database per test
 * =================================================================================== */

static void db_open(void)
{
    rb_error err;

    snprintf(dir, sizeof(dir), "/tmp/rebill-test-org.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/t.db", dir);
    if (rb_store_open(&S, path, RB_OPEN_CREATE, &err) != RB_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.msg);
        exit(2);
    }
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
 * One library call per transaction
 * =================================================================================== */

enum op { OP_CREATE, OP_ADD, OP_MOVE, OP_ORG_AT, OP_ORG_GET, OP_ACCT_GET, OP_PUT_RAW };

struct call {
    enum op op;
    rb_org org;
    const char *a, *b, *c;
    int64_t t;
    char out[RB_ORG_ID_MAX + 1];
    rb_account acct;
    enum rbi_db db;
    const void *key, *val;
    size_t klen, vlen;
};

static rb_status run_call(rb_txn *txn, void *ctx)
{
    struct call *k = ctx;

    switch (k->op) {
    case OP_CREATE:
        return rb_org_create(txn, &k->org);
    case OP_ADD:
        return rb_account_add(txn, k->a, k->b, k->c, k->t);
    case OP_MOVE:
        return rb_account_move(txn, k->a, k->c, k->t);
    case OP_ORG_AT:
        return rb_account_org_at(txn, k->a, k->t, k->out);
    case OP_ORG_GET:
        return rb_org_get(txn, k->a, &k->org);
    case OP_ACCT_GET:
        return rb_account_get(txn, k->a, &k->acct);
    case OP_PUT_RAW:
        return rbi_put(txn, k->db, k->key, k->klen, k->val, k->vlen, 0);
    }
    return RB_MISUSE;
}

static rb_status update(struct call *k)
{
    return rb_store_update(S, run_call, k);
}

static rb_status view(struct call *k)
{
    return rb_store_view(S, run_call, k);
}

/* Copy into a fixed field as a caller might: a value too long fills it with no NUL. */
static void fill(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    memcpy(dst, src, n < cap ? n + 1 : cap);
}

static rb_status create(const char *id, const char *name, const char *mgmt, int64_t created)
{
    struct call k;

    memset(&k, 0, sizeof(k));
    k.op = OP_CREATE;
    fill(k.org.id, sizeof(k.org.id), id);
    fill(k.org.name, sizeof(k.org.name), name);
    fill(k.org.management_account, sizeof(k.org.management_account), mgmt);
    k.org.created = created;
    return update(&k);
}

static rb_status add(const char *acct, const char *name, const char *org, int64_t since)
{
    struct call k = {.op = OP_ADD, .a = acct, .b = name, .c = org, .t = since};
    return update(&k);
}

static rb_status move(const char *acct, const char *org, int64_t at)
{
    struct call k = {.op = OP_MOVE, .a = acct, .c = org, .t = at};
    return update(&k);
}

/* The org of acct at t, or "" with the status in *rc. */
static const char *org_at(const char *acct, int64_t t, rb_status *rc)
{
    static struct call k;

    memset(&k, 0, sizeof(k));
    k.op = OP_ORG_AT;
    k.a = acct;
    k.t = t;
    *rc = view(&k);
    return k.out;
}

static rb_status put_raw(enum rbi_db db, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct call k = {
        .op = OP_PUT_RAW, .db = db, .key = key, .klen = klen, .val = val, .vlen = vlen};
    return update(&k);
}

/* {===================================================================================
 * Database snapshots: a refused call must leave every record as it was
 * =================================================================================== */

static char snap_before[1 << 16], snap_after[1 << 16];

struct dump_buf {
    char *p;
    size_t len, cap;
};

static void dump_line(const char *line, size_t len, void *ctx)
{
    struct dump_buf *d = ctx;

    if (d->len + len + 2 < d->cap) {
        memcpy(d->p + d->len, line, len);
        d->len += len;
        d->p[d->len++] = '\n';
        d->p[d->len] = '\0';
    }
}

static rb_status do_dump(rb_txn *txn, void *ctx)
{
    return rb_store_dump(txn, dump_line, ctx);
}

static void snapshot(char *buf, size_t cap)
{
    struct dump_buf d = {buf, 0, cap};

    buf[0] = '\0';
    if (rb_store_view(S, do_dump, &d) != RB_OK)
        snprintf(buf, cap, "dump failed");
}

/* Run a refused call: check its status, that the message holds `msg`, and that the
 * database is unchanged. */
#define REFUSED(expr, code, msg)                                                                   \
    do {                                                                                           \
        snapshot(snap_before, sizeof(snap_before));                                                \
        INT_EQ((expr), (code));                                                                    \
        STR_HAS(rb_errmsg(S), (msg));                                                              \
        snapshot(snap_after, sizeof(snap_after));                                                  \
        OK(strcmp(snap_before, snap_after) == 0, "database changed by a refused call: %s", #expr); \
    } while (0)

static void repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

/* {===================================================================================
 * Ids
 * =================================================================================== */

static void test_org_id_is_valid(void)
{
    char id[64];

    memcpy(id, "o-", 2);
    repeat(id + 2, 'a', 9);
    OK(!rb_org_id_is_valid(id), "o- + 9 chars is too short");
    repeat(id + 2, 'a', 10);
    OK(rb_org_id_is_valid(id), "o- + 10 chars");
    repeat(id + 2, '7', 32);
    OK(rb_org_id_is_valid(id), "o- + 32 chars");
    repeat(id + 2, 'a', 33);
    OK(!rb_org_id_is_valid(id), "o- + 33 chars is too long");
    OK(rb_org_id_is_valid("o-a1b2c3d4e5"), "letters and digits");
    OK(!rb_org_id_is_valid("o-aaaaaaaaaA"), "uppercase");
    OK(!rb_org_id_is_valid("O-aaaaaaaaaa"), "uppercase prefix");
    OK(!rb_org_id_is_valid("o_aaaaaaaaaa"), "wrong separator");
    OK(!rb_org_id_is_valid("aaaaaaaaaaaa"), "no prefix");
    OK(!rb_org_id_is_valid("o-aaaaa-aaaa"), "dash inside");
    OK(!rb_org_id_is_valid("o-aaaaaaaaaa "), "trailing space");
    OK(!rb_org_id_is_valid("o-"), "prefix only");
    OK(!rb_org_id_is_valid(""), "empty");
    OK(!rb_org_id_is_valid(NULL), "NULL");
}

static void test_account_id_is_valid(void)
{
    OK(!rb_account_id_is_valid("12345678901"), "11 digits");
    OK(rb_account_id_is_valid("123456789012"), "12 digits");
    OK(rb_account_id_is_valid("000000000000"), "leading zeros are digits");
    OK(!rb_account_id_is_valid("1234567890123"), "13 digits");
    OK(!rb_account_id_is_valid("12345678901a"), "a letter");
    OK(!rb_account_id_is_valid(" 12345678901"), "a space");
    OK(!rb_account_id_is_valid("-12345678901"), "a sign");
    OK(!rb_account_id_is_valid("１23456789012"), "a fullwidth digit");
    OK(!rb_account_id_is_valid(""), "empty");
    OK(!rb_account_id_is_valid(NULL), "NULL");
}

/* {===================================================================================
 * Organizations
 * =================================================================================== */

static void test_org_create_and_get(void)
{
    struct call k;
    rb_status rc;
    int64_t created = T("2026-01-01T00:00:00Z");

    db_open();
    INT_EQ(create(OA, "Acme Corp", M1, created), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ORG_GET;
    k.a = OA;
    INT_EQ(view(&k), RB_OK);
    STR_EQ(k.org.id, OA);
    STR_EQ(k.org.name, "Acme Corp");
    STR_EQ(k.org.management_account, M1);
    INT_EQ(k.org.created, created);

    /* the management account is an account of the org from `created`, named after it */
    STR_EQ(org_at(M1, created, &rc), OA);
    INT_EQ(rc, RB_OK);
    org_at(M1, created - 1, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    memset(&k, 0, sizeof(k));
    k.op = OP_ACCT_GET;
    k.a = M1;
    INT_EQ(view(&k), RB_OK);
    STR_EQ(k.acct.id, M1);
    STR_EQ(k.acct.name, "Acme Corp");

    k.op = OP_ORG_GET;
    k.a = OB;
    INT_EQ(view(&k), RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "unknown organization " OB);
    k.a = "o-AB";
    INT_EQ(view(&k), RB_INVALID);
    STR_EQ(rb_errmsg(S),
           "invalid organization id \"o-AB\": want \"o-\" and 10..32 lowercase letters or digits");
    db_close();
}

static void test_org_create_refused(void)
{
    struct call k;

    db_open();
    INT_EQ(create(OA, "Acme", M1, 0), RB_OK);
    REFUSED(create(OA, "Again", M2, 0), RB_EXISTS, "organization " OA " already exists");
    REFUSED(create("o-aaaaaaaaa", "Short", M2, 0), RB_INVALID,
            "invalid organization id \"o-aaaaaaaaa\"");
    /* o- + 33 does not fit the field (35 bytes with no NUL): shown with "..." */
    REFUSED(create("o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Long", M2, 0), RB_INVALID,
            "invalid organization id \"o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": want");
    REFUSED(create("o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Long", M2, 0), RB_INVALID,
            "invalid organization id \"o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": want");
    REFUSED(create("o-Aaaaaaaaaa", "Upper", M2, 0), RB_INVALID, "lowercase letters or digits");
    REFUSED(create(OB, "B", "12345678901", 0), RB_INVALID,
            "invalid management account \"12345678901\": want exactly 12 digits");
    REFUSED(create(OB, "B", "1234567890123", 0), RB_INVALID,
            "invalid management account \"1234567890123...\": want exactly 12 digits");
    REFUSED(create(OB, "B", "12345678901x", 0), RB_INVALID,
            "invalid management account \"12345678901x\"");
    REFUSED(create(OB, "B", M2, -1), RB_INVALID, "invalid created time -1");
    REFUSED(create(OB, "B", M2, RB_TIME_OPEN), RB_INVALID, "invalid created time");
    /* an account belongs to one org: an existing account cannot manage a new one */
    REFUSED(create(OB, "B", M1, 10), RB_INVALID,
            "invalid management account " M1 ": the account already exists (in " OA ")");
    INT_EQ(add(A1, "Dev", OA, 5), RB_OK);
    REFUSED(create(OB, "B", A1, 10), RB_INVALID, "already exists (in " OA ")");

    /* struct fields without a NUL are refused, not overread */
    memset(&k, 0, sizeof(k));
    k.op = OP_CREATE;
    memset(k.org.id, 'a', sizeof(k.org.id));
    memcpy(k.org.id, "o-", 2);
    rbi_strlcpy(k.org.name, "X", sizeof(k.org.name));
    rbi_strlcpy(k.org.management_account, M2, sizeof(k.org.management_account));
    REFUSED(update(&k), RB_INVALID, "invalid organization id \"o-aaaa");
    rbi_strlcpy(k.org.id, OB, sizeof(k.org.id));
    memset(k.org.management_account, '1', sizeof(k.org.management_account));
    REFUSED(update(&k), RB_INVALID, "invalid management account \"1111111111111...\"");
    db_close();
}

static rb_status create_null(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rb_org_create(txn, NULL);
}

static void test_misuse(void)
{
    rb_org o;
    char org[RB_ORG_ID_MAX + 1];

    db_open();
    INT_EQ(rb_store_update(S, create_null, NULL), RB_MISUSE);
    INT_EQ(rb_org_get(NULL, OA, &o), RB_MISUSE);
    INT_EQ(rb_org_create(NULL, &o), RB_MISUSE);
    INT_EQ(rb_account_add(NULL, A1, "x", OA, 0), RB_MISUSE);
    INT_EQ(rb_account_move(NULL, A1, OA, 0), RB_MISUSE);
    INT_EQ(rb_account_org_at(NULL, A1, 0, org), RB_MISUSE);
    db_close();
}

/* Names: the same rules for org names (fixed field) and account names (a C string). */
static void test_names(void)
{
    char name[320];
    struct call k;

    db_open();
    INT_EQ(create(OA, "A", M1, 0), RB_OK); /* 1 byte */
    repeat(name, 'n', 255);
    INT_EQ(create(OB, name, M2, 0), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ORG_GET;
    k.a = OB;
    INT_EQ(view(&k), RB_OK);
    INT_EQ(strlen(k.org.name), 255);
    REFUSED(create(OC, "", M3, 0), RB_INVALID,
            "invalid organization name \"\": want 1..255 bytes, got 0");
    /* 256 bytes do not fit the struct field: the library sees a field with no NUL */
    memset(&k, 0, sizeof(k));
    k.op = OP_CREATE;
    rbi_strlcpy(k.org.id, OC, sizeof(k.org.id));
    memset(k.org.name, 'n', sizeof(k.org.name));
    rbi_strlcpy(k.org.management_account, M3, sizeof(k.org.management_account));
    REFUSED(update(&k), RB_INVALID, "want 1..255 bytes, got at least 256");
    REFUSED(create(OC, "line\nbreak", M3, 0), RB_INVALID,
            "invalid organization name \"line\\x0abreak\": control character U+000A at byte 5");
    REFUSED(create(OC, "tab\there", M3, 0), RB_INVALID, "control character U+0009 at byte 4");
    REFUSED(create(OC, "del\x7f", M3, 0), RB_INVALID, "control character U+007F at byte 4");
    REFUSED(create(OC, "c1\xc2\x85", M3, 0), RB_INVALID, "control character U+0085 at byte 3");
    REFUSED(create(OC, "bad\xff", M3, 0), RB_INVALID,
            "invalid organization name \"bad\\xff\": not valid UTF-8 at byte 4");

    /* account names: 0 / 1 / 255 / 256 bytes, control characters, bad UTF-8 */
    REFUSED(add(A1, "", OA, 0), RB_INVALID, "invalid account name \"\": want 1..255 bytes, got 0");
    REFUSED(add(A1, NULL, OA, 0), RB_INVALID, "missing account name");
    INT_EQ(add(A1, "x", OA, 0), RB_OK);
    INT_EQ(add(A2, name, OA, 0), RB_OK);
    repeat(name, 'n', 256);
    REFUSED(add(A3, name, OA, 0), RB_INVALID, "want 1..255 bytes, got 256");
    REFUSED(add(A3, "\x01", OA, 0), RB_INVALID, "control character U+0001 at byte 1");
    REFUSED(add(A3, "\xc3", OA, 0), RB_INVALID, "not valid UTF-8 at byte 1");     /* truncated */
    REFUSED(add(A3, "\xc0\xaf", OA, 0), RB_INVALID, "not valid UTF-8 at byte 1"); /* overlong */
    REFUSED(add(A3, "a\xed\xa0\x80", OA, 0), RB_INVALID,
            "not valid UTF-8 at byte 2");                                       /* surrogate */
    REFUSED(add(A3, "\xf4\x90\x80\x80", OA, 0), RB_INVALID, "not valid UTF-8"); /* > U+10FFFF */
    REFUSED(add(A3, "\x80", OA, 0), RB_INVALID, "not valid UTF-8");             /* continuation */
    /* a long bad name is quoted only in part */
    repeat(name, 'q', 300);
    REFUSED(add(A3, name, OA, 0), RB_INVALID, "qqq...\": want 1..255 bytes, got 300");
    /* UTF-8 up to 4 bytes a character is fine, and 255 bytes of it */
    INT_EQ(add(A3, "Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80 \"quoted\" \\", OA, 0), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ACCT_GET;
    k.a = A3;
    INT_EQ(view(&k), RB_OK);
    STR_EQ(k.acct.name, "Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80 \"quoted\" \\");
    for (int i = 0; i < 85; i++)
        memcpy(name + 3 * i, "\xe2\x82\xac", 3); /* 85 euro signs = 255 bytes */
    name[255] = '\0';
    INT_EQ(add("444444444444", name, OA, 0), RB_OK);
    db_close();
}

static rb_status count_org(const rb_org *o, void *ctx)
{
    char *seen = ctx;
    size_t len = strlen(seen);

    snprintf(seen + len, 256 - len, "%s,", o->id);
    return strcmp(o->id, OB) == 0 ? RB_ERROR : RB_OK;
}

static rb_status do_org_list(rb_txn *txn, void *ctx)
{
    return rb_org_list(txn, count_org, ctx);
}

static rb_status ignore_org(const rb_org *o, void *ctx)
{
    (void)o;
    (void)ctx;
    return RB_OK;
}

static rb_status do_org_list_all(rb_txn *txn, void *ctx)
{
    return rb_org_list(txn, ignore_org, ctx);
}

struct after_op {
    const char *after;
    char seen[256];
};

static rb_status collect_org(const rb_org *o, void *ctx)
{
    char *seen = ctx;
    size_t len = strlen(seen);

    snprintf(seen + len, 256 - len, "%s,", o->id);
    return RB_OK;
}

static rb_status do_org_list_after(rb_txn *txn, void *ctx)
{
    struct after_op *a = ctx;

    a->seen[0] = '\0';
    return rb_org_list_after(txn, a->after, collect_org, a->seen);
}

static void test_org_list(void)
{
    struct after_op a;
    char seen[256] = "";

    db_open();
    INT_EQ(rb_store_view(S, do_org_list, seen), RB_OK);
    STR_EQ(seen, "");
    INT_EQ(create(OC, "C", M3, 0), RB_OK);
    INT_EQ(create(OA, "A", M1, 0), RB_OK);
    INT_EQ(rb_store_view(S, do_org_list, seen), RB_OK);
    STR_EQ(seen, OA "," OC ",");
    /* id order, and the callback's non-OK status stops the walk and is returned */
    INT_EQ(create(OB, "B", M2, 0), RB_OK);
    seen[0] = '\0';
    INT_EQ(rb_store_view(S, do_org_list, seen), RB_ERROR);
    STR_EQ(seen, OA "," OB ",");
    /* rb_org_list_after: strictly after, whatever the id's length; NULL and "" from the start */
    INT_EQ(create(OA "0", "A0", "444444444444", 0), RB_OK);
    a.after = NULL;
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, OA "," OA "0," OB "," OC ",");
    a.after = "";
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, OA "," OA "0," OB "," OC ",");
    a.after = OA;
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, OA "0," OB "," OC ",");
    a.after = OB;
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, OC ",");
    a.after = OC;
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, "");
    a.after = "o-zzz"; /* not an org: still a position */
    INT_EQ(rb_store_view(S, do_org_list_after, &a), RB_OK);
    STR_EQ(a.seen, "");
    db_close();
}

/* {===================================================================================
 * Accounts
 * =================================================================================== */

static void test_account_add(void)
{
    int64_t t0 = T("2026-01-01"), t1 = T("2026-02-01");
    rb_status rc;
    struct call k;

    db_open();
    INT_EQ(create(OA, "A", M1, t0), RB_OK);
    INT_EQ(create(OB, "B", M2, t0), RB_OK);
    INT_EQ(add(A1, "Dev", OA, t1), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ACCT_GET;
    k.a = A1;
    INT_EQ(view(&k), RB_OK);
    STR_EQ(k.acct.name, "Dev");
    STR_EQ(org_at(A1, t1, &rc), OA);

    REFUSED(add(A1, "Dev", OB, t1), RB_EXISTS,
            "account " A1 " already exists (in " OA "); use account move");
    REFUSED(add(A1, "Dev", OA, t1), RB_EXISTS, "already exists (in " OA ")");
    REFUSED(add(A2, "X", OC, t1), RB_NOTFOUND, "unknown organization " OC);
    REFUSED(add(A2, "X", "o-bad", t1), RB_INVALID, "invalid organization id \"o-bad\"");
    REFUSED(add(A2, "X", NULL, t1), RB_INVALID, "missing organization id");
    REFUSED(add("12345678901", "X", OA, t1), RB_INVALID,
            "invalid account id \"12345678901\": want exactly 12 digits");
    REFUSED(add("1234567890123", "X", OA, t1), RB_INVALID, "invalid account id \"1234567890123\"");
    REFUSED(add(NULL, "X", OA, t1), RB_INVALID, "missing account id");
    REFUSED(add(A2, "X", OA, -5), RB_INVALID, "invalid since -5");
    REFUSED(add(A2, "X", OA, t0 - 1), RB_INVALID,
            "invalid since 2025-12-31T23:59:59Z: organization " OA
            " was created later, at 2026-01-01T00:00:00Z");
    INT_EQ(add(A2, "X", OA, t0), RB_OK); /* exactly at creation is fine */

    memset(&k, 0, sizeof(k));
    k.op = OP_ACCT_GET;
    k.a = A3;
    INT_EQ(view(&k), RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "unknown account " A3);
    k.a = "abc";
    INT_EQ(view(&k), RB_INVALID);
    STR_HAS(rb_errmsg(S), "invalid account id \"abc\"");
    db_close();
}

struct hist {
    int n;
    rb_membership m[8];
};

static rb_status hist_one(const rb_membership *m, void *ctx)
{
    struct hist *h = ctx;

    if (h->n < 8)
        h->m[h->n] = *m;
    h->n++;
    return RB_OK;
}

static const char *hist_account;

static rb_status do_history(rb_txn *txn, void *ctx)
{
    return rb_account_history(txn, hist_account, hist_one, ctx);
}

static void history(const char *acct, struct hist *h)
{
    memset(h, 0, sizeof(*h));
    hist_account = acct;
    if (rb_store_view(S, do_history, h) != RB_OK)
        h->n = -1;
}

static void test_move_and_org_at(void)
{
    int64_t t0 = T("2026-01-01"), t1 = T("2026-02-01"), t2 = T("2026-03-15T10:00:00Z"),
            t3 = T("2026-07-01");
    struct hist h;
    rb_status rc;

    db_open();
    INT_EQ(create(OA, "A", M1, t0), RB_OK);
    INT_EQ(create(OB, "B", M2, t0), RB_OK);
    INT_EQ(create(OC, "C", M3, t0), RB_OK);
    INT_EQ(add(A1, "Dev", OA, t1), RB_OK);
    INT_EQ(move(A1, OB, t2), RB_OK);
    INT_EQ(move(A1, OC, t3), RB_OK);

    org_at(A1, t1 - 1, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "account " A1 " belonged to no organization at 2026-01-31T23:59:59Z: "
                         "it joined " OA " at 2026-02-01T00:00:00Z");
    org_at(A1, 0, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    org_at(A1, -1, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(org_at(A1, t1, &rc), OA);
    INT_EQ(rc, RB_OK);
    STR_EQ(org_at(A1, t2 - 1, &rc), OA);
    STR_EQ(org_at(A1, t2, &rc), OB); /* exactly at a move, the new org applies */
    STR_EQ(org_at(A1, t3 - 1, &rc), OB);
    STR_EQ(org_at(A1, t3, &rc), OC);
    STR_EQ(org_at(A1, T("2099-01-01"), &rc), OC);
    STR_EQ(org_at(A1, RB_TIME_OPEN - 1, &rc), OC);
    INT_EQ(rc, RB_OK);
    org_at(A2, t3, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "unknown account " A2);
    org_at("12", t3, &rc);
    INT_EQ(rc, RB_INVALID);
    /* another account's memberships never leak into this one's answer */
    INT_EQ(add("111111111110", "Neighbour", OB, t0), RB_OK);
    INT_EQ(add("111111111112", "Neighbour", OB, t0), RB_OK);
    org_at(A1, t1 - 1, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(org_at("111111111112", t0, &rc), OB);

    history(A1, &h);
    INT_EQ(h.n, 3);
    STR_EQ(h.m[0].account, A1);
    STR_EQ(h.m[0].org, OA);
    INT_EQ(h.m[0].since, t1);
    INT_EQ(h.m[0].until, t2);
    STR_EQ(h.m[1].org, OB);
    INT_EQ(h.m[1].since, t2);
    INT_EQ(h.m[1].until, t3);
    STR_EQ(h.m[2].org, OC);
    INT_EQ(h.m[2].since, t3);
    OK(h.m[2].until == RB_TIME_OPEN, "the current membership is open");
    history(M1, &h);
    INT_EQ(h.n, 1);
    INT_EQ(h.m[0].since, t0);
    history(A2, &h);
    INT_EQ(h.n, -1);
    STR_EQ(rb_errmsg(S), "unknown account " A2);

    /* a move back to an earlier org is a new membership */
    INT_EQ(move(A1, OA, t3 + 1), RB_OK);
    history(A1, &h);
    INT_EQ(h.n, 4);
    STR_EQ(h.m[3].org, OA);
    INT_EQ(h.m[2].until, t3 + 1);
    STR_EQ(org_at(A1, t3, &rc), OC);
    STR_EQ(org_at(A1, t3 + 1, &rc), OA);
    db_close();
}

static void test_move_refused(void)
{
    int64_t t0 = T("2026-01-01"), t1 = T("2026-02-01"), t2 = T("2026-03-01");

    db_open();
    INT_EQ(create(OA, "A", M1, t0), RB_OK);
    INT_EQ(create(OB, "B", M2, t0), RB_OK);
    INT_EQ(create(OC, "C", M3, t2), RB_OK);
    INT_EQ(add(A1, "Dev", OA, t1), RB_OK);

    REFUSED(move(A1, OA, t2), RB_INVALID,
            "cannot move account " A1 " to " OA ": it is already there");
    REFUSED(move(A1, "o-dddddddddd", t2), RB_NOTFOUND, "unknown organization o-dddddddddd");
    REFUSED(move(A2, OB, t2), RB_NOTFOUND, "unknown account " A2);
    REFUSED(move(A1, OB, t1), RB_INVALID,
            "invalid move time 2026-02-01T00:00:00Z: account " A1 " joined " OA
            " at 2026-02-01T00:00:00Z; a move must be later");
    REFUSED(move(A1, OB, t1 - 1), RB_INVALID, "a move must be later");
    REFUSED(move(A1, OC, t2 - 1), RB_INVALID,
            "invalid move time 2026-02-28T23:59:59Z: organization " OC
            " was created later, at 2026-03-01T00:00:00Z");
    REFUSED(move(M1, OB, t2), RB_INVALID,
            "cannot move account " M1 ": it is the management account of " OA);
    REFUSED(move("1234567890123", OB, t2), RB_INVALID, "invalid account id \"1234567890123\"");
    REFUSED(move(A1, "o-BBBBBBBBBB", t2), RB_INVALID, "invalid organization id \"o-BBBBBBBBBB\"");
    REFUSED(move(A1, OB, -1), RB_INVALID, "invalid move time -1");
    REFUSED(move(A1, OB, RB_TIME_OPEN), RB_INVALID, "invalid move time");
    INT_EQ(move(A1, OB, t1 + 1), RB_OK); /* one second after the start is enough */
    INT_EQ(move(A1, OC, t2), RB_OK);     /* exactly at the target's creation is enough */
    db_close();
}

/* {===================================================================================
 * Listing
 * =================================================================================== */

struct seen {
    char text[512];
    int stop_after; /* return RB_ERROR after this many calls; 0: never */
    int n;
};

static rb_status list_one(const rb_account *a, const rb_membership *m, void *ctx)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s=%s%s;", a->id, m ? m->org : "-",
             m && strcmp(m->account, a->id) != 0 ? "(wrong account)" : "");
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? RB_ERROR : RB_OK;
}

static const char *list_org;
static int64_t list_at;

static rb_status do_list(rb_txn *txn, void *ctx)
{
    return rb_account_list(txn, list_org, list_at, list_one, ctx);
}

static const char *list(const char *org, int64_t at, rb_status *rc)
{
    static struct seen s;

    memset(&s, 0, sizeof(s));
    list_org = org;
    list_at = at;
    *rc = rb_store_view(S, do_list, &s);
    return s.text;
}

static void test_account_list(void)
{
    int64_t t0 = T("2026-01-01"), t1 = T("2026-02-01"), t2 = T("2026-03-01");
    struct seen s;
    rb_status rc;

    db_open();
    INT_EQ(create(OA, "A", M1, t0), RB_OK);
    INT_EQ(create(OB, "B", M2, t0), RB_OK);
    INT_EQ(add(A2, "Two", OA, t1), RB_OK);
    INT_EQ(add(A1, "One", OB, t0), RB_OK);
    INT_EQ(move(A2, OB, t2), RB_OK);

    STR_EQ(list(NULL, t0, &rc), A1 "=" OB ";" A2 "=-;" M1 "=" OA ";" M2 "=" OB ";");
    INT_EQ(rc, RB_OK);
    STR_EQ(list(NULL, t1, &rc), A1 "=" OB ";" A2 "=" OA ";" M1 "=" OA ";" M2 "=" OB ";");
    STR_EQ(list(NULL, t2, &rc), A1 "=" OB ";" A2 "=" OB ";" M1 "=" OA ";" M2 "=" OB ";");
    STR_EQ(list(NULL, t0 - 1, &rc), A1 "=-;" A2 "=-;" M1 "=-;" M2 "=-;");
    STR_EQ(list(OA, t0, &rc), M1 "=" OA ";");
    STR_EQ(list(OA, t1, &rc), A2 "=" OA ";" M1 "=" OA ";");
    STR_EQ(list(OA, t2 - 1, &rc), A2 "=" OA ";" M1 "=" OA ";");
    STR_EQ(list(OA, t2, &rc), M1 "=" OA ";");
    STR_EQ(list(OB, t2, &rc), A1 "=" OB ";" A2 "=" OB ";" M2 "=" OB ";");
    STR_EQ(list(OA, t0 - 1, &rc), "");
    INT_EQ(rc, RB_OK);
    list(OC, t2, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "unknown organization " OC);
    list("o-x", t2, &rc);
    INT_EQ(rc, RB_INVALID);
    STR_HAS(rb_errmsg(S), "invalid organization id \"o-x\"");

    /* the callback's non-OK status stops the walk and is returned */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    list_org = NULL;
    list_at = t2;
    INT_EQ(rb_store_view(S, do_list, &s), RB_ERROR);
    INT_EQ(s.n, 2);
    db_close();
}

/* {===================================================================================
 * Stored layout and damaged records
 * =================================================================================== */

struct raw {
    enum rbi_db db;
    const void *key;
    size_t klen;
    unsigned char val[512];
    size_t vlen;
};

static rb_status do_raw_get(rb_txn *txn, void *ctx)
{
    struct raw *r = ctx;
    struct rbi_val v;
    rb_status rc = rbi_get(txn, r->db, r->key, r->klen, &v);

    if (rc == RB_OK && v.len <= sizeof(r->val)) {
        memcpy(r->val, v.data, v.len);
        r->vlen = v.len;
    }
    return rc;
}

static bool raw_is(enum rbi_db db, const void *key, size_t klen, const void *want, size_t wlen)
{
    struct raw r = {db, key, klen, {0}, 0};

    return rb_store_view(S, do_raw_get, &r) == RB_OK && r.vlen == wlen &&
           memcmp(r.val, want, wlen) == 0;
}

static void test_layout(void)
{
    int64_t t0 = 0x0102030405, t1 = 0x0102030406;
    /* orgs: key = id bytes; v1 {str name, str management account, i64 created} */
    static const unsigned char org_val[] = {
        1,                                                                       /* version */
        0, 0, 0, 4,  'A', 'c', 'm', 'e',                                         /* name */
        0, 0, 0, 12, '9', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '1', /* mgmt */
        0, 0, 0, 1,  2,   3,   4,   5,                                           /* created, be64 */
    };
    /* accounts: key = 12 digits; v1 {str name} */
    static const unsigned char acct_val[] = {1, 0, 0, 0, 3, 'D', 'e', 'v'};
    /* members: key = 12 digits + be64(since); v1 {str org, i64 until} */
    static const unsigned char mkey0[] = {'1', '1', '1', '1', '1', '1', '1', '1', '1', '1',
                                          '1', '1', 0,   0,   0,   1,   2,   3,   4,   5};
    static const unsigned char mkey1[] = {'1', '1', '1', '1', '1', '1', '1', '1', '1', '1',
                                          '1', '1', 0,   0,   0,   1,   2,   3,   4,   6};
    static const unsigned char mval0[] = {1,   0,   0,   0,   12,  'o', '-', 'a', 'a',
                                          'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 0,
                                          0,   0,   1,   2,   3,   4,   6};
    static const unsigned char mval1[] = {1,    0,    0,    0,    12,   'o',  '-', 'b', 'b',
                                          'b',  'b',  'b',  'b',  'b',  'b',  'b', 'b', 0x7f,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    db_open();
    INT_EQ(create(OA, "Acme", M1, t0), RB_OK);
    INT_EQ(create(OB, "B", M2, t0), RB_OK);
    INT_EQ(add(A1, "Dev", OA, t0), RB_OK);
    INT_EQ(move(A1, OB, t1), RB_OK);
    OK(raw_is(RBI_DB_ORGS, OA, strlen(OA), org_val, sizeof(org_val)), "org record layout");
    OK(raw_is(RBI_DB_ACCOUNTS, A1, 12, acct_val, sizeof(acct_val)), "account record layout");
    OK(raw_is(RBI_DB_MEMBERS, mkey0, sizeof(mkey0), mval0, sizeof(mval0)),
       "closed membership layout");
    OK(raw_is(RBI_DB_MEMBERS, mkey1, sizeof(mkey1), mval1, sizeof(mval1)),
       "open membership layout");
    db_close();
}

static void test_corrupt_records(void)
{
    static const unsigned char v2[] = {2, 0, 0, 0, 1, 'x'};
    static const unsigned char short_acct[] = {1, 0, 0, 0, 9, 'D'};
    static const unsigned char trailing[] = {1, 0, 0, 0, 1, 'D', 0};
    unsigned char mkey[20];
    struct rb_buf extra = {NULL, 0, 0};
    struct call k;
    rb_status rc;
    int64_t t0 = T("2026-01-01");

    db_open();
    INT_EQ(create(OA, "A", M1, 0), RB_OK);
    INT_EQ(create(OB, "B", M2, 0), RB_OK);
    INT_EQ(put_raw(RBI_DB_ORGS, OC, strlen(OC), v2, sizeof(v2)), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ORG_GET;
    k.a = OC;
    INT_EQ(view(&k), RB_CORRUPT);
    STR_EQ(rb_errmsg(S), "corrupt record \"" OC "\" in 'orgs': version 2, want 1");
    INT_EQ(put_raw(RBI_DB_ORGS, OC, strlen(OC), "", 0), RB_OK);
    INT_EQ(view(&k), RB_CORRUPT);
    STR_EQ(rb_errmsg(S), "corrupt record \"" OC "\" in 'orgs': truncated or malformed");
    INT_EQ(rb_store_view(S, do_org_list_all, NULL), RB_CORRUPT);

    INT_EQ(add(A1, "Dev", OA, t0), RB_OK);
    INT_EQ(put_raw(RBI_DB_ACCOUNTS, A1, 12, short_acct, sizeof(short_acct)), RB_OK);
    memset(&k, 0, sizeof(k));
    k.op = OP_ACCT_GET;
    k.a = A1;
    INT_EQ(view(&k), RB_CORRUPT);
    STR_EQ(rb_errmsg(S), "corrupt record \"" A1 "\" in 'accounts': truncated or malformed");
    INT_EQ(put_raw(RBI_DB_ACCOUNTS, A1, 12, trailing, sizeof(trailing)), RB_OK);
    INT_EQ(view(&k), RB_CORRUPT);
    list(NULL, t0, &rc);
    INT_EQ(rc, RB_CORRUPT);

    /* a membership with a bad version */
    memcpy(mkey, A2, 12);
    rbi_be64_put(mkey + 12, (uint64_t)t0);
    INT_EQ(add(A2, "Two", OA, t0), RB_OK);
    INT_EQ(put_raw(RBI_DB_MEMBERS, mkey, sizeof(mkey), v2, sizeof(v2)), RB_OK);
    org_at(A2, t0, &rc);
    INT_EQ(rc, RB_CORRUPT);
    STR_HAS(rb_errmsg(S), "in 'members': version 2, want 1");
    /* a well-formed membership with one byte too many */
    rbi_rec_begin(&extra, 1);
    rbi_rec_put_str(&extra, OA);
    rbi_rec_put_i64(&extra, RB_TIME_OPEN);
    rbi_buf_append(&extra, "", 1);
    INT_EQ(put_raw(RBI_DB_MEMBERS, mkey, sizeof(mkey), extra.data, extra.len - 1), RB_OK);
    STR_EQ(org_at(A2, t0, &rc), OA);
    INT_EQ(put_raw(RBI_DB_MEMBERS, mkey, sizeof(mkey), extra.data, extra.len), RB_OK);
    org_at(A2, t0, &rc);
    INT_EQ(rc, RB_CORRUPT);
    STR_HAS(rb_errmsg(S), "in 'members': truncated or malformed");
    rbi_buf_release(&extra);
    db_close();
}

/* A membership that ended with no next one: only damage or a future "remove" makes one, but
 * every reader and the guards of add and move must treat the end as exclusive. */
static void test_closed_membership(void)
{
    int64_t t0 = T("2026-01-01"), end = T("2026-03-01");
    struct rb_buf closed = {NULL, 0, 0};
    unsigned char mkey[20];
    rb_status rc;

    db_open();
    INT_EQ(create(OA, "A", M1, 0), RB_OK);
    INT_EQ(create(OB, "B", M2, 0), RB_OK);
    INT_EQ(add(A2, "Two", OA, t0), RB_OK);
    memcpy(mkey, A2, 12);
    rbi_be64_put(mkey + 12, (uint64_t)t0);
    rbi_rec_begin(&closed, 1);
    rbi_rec_put_str(&closed, OA);
    rbi_rec_put_i64(&closed, end);
    INT_EQ(put_raw(RBI_DB_MEMBERS, mkey, sizeof(mkey), closed.data, closed.len), RB_OK);
    rbi_buf_release(&closed);

    STR_EQ(org_at(A2, end - 1, &rc), OA);
    org_at(A2, end, &rc);
    INT_EQ(rc, RB_NOTFOUND);
    STR_EQ(rb_errmsg(S), "account " A2 " belonged to no organization at 2026-03-01T00:00:00Z: "
                         "it left " OA " at 2026-03-01T00:00:00Z");
    STR_EQ(list(NULL, end - 1, &rc), A2 "=" OA ";" M1 "=" OA ";" M2 "=" OB ";");
    STR_EQ(list(NULL, end, &rc), A2 "=-;" M1 "=" OA ";" M2 "=" OB ";");
    STR_EQ(list(OA, end, &rc), M1 "=" OA ";");
    REFUSED(move(A2, OB, T("2026-04-01")), RB_INVALID,
            "cannot move account " A2 ": it has not been in any organization since "
            "2026-03-01T00:00:00Z");
    REFUSED(add(A2, "Two", OB, t0), RB_EXISTS,
            "account " A2 " already exists (not in any organization since 2026-03-01T00:00:00Z)");
    db_close();
}

int main(void)
{
    test_org_id_is_valid();
    test_account_id_is_valid();
    test_org_create_and_get();
    test_org_create_refused();
    test_misuse();
    test_names();
    test_org_list();
    test_account_add();
    test_move_and_org_at();
    test_move_refused();
    test_account_list();
    test_layout();
    test_corrupt_records();
    test_closed_membership();
    return harness_done();
}
