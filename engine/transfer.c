/*
 * transfer.c -- billing transfers: the invitation state machine, its history, and who pays
 * whose bill in a month.
 *
 * Provides: rb_transfer_* (invite, accept, decline, cancel, withdraw, rename, get, list,
 * history), rb_payer_of, rb_payer_sources and rb_transfer_status_name.
 * Uses: the key/value layer and record codec of rb_int.h, the public organization API
 * (rb_org_id_is_valid, rb_org_get) and the "max_chain_depth" setting. The layout
 * (docs/storage.md):
 *
 *   transfers        key: the transfer id's bytes (no NUL)
 *                    val: v1 {str name, str notes, str source, str payer, i64 start_month,
 *                             i64 end_month, i64 status, i64 invited_at, i64 expires_at,
 *                             i64 updated_at}
 *                    (status is the stored one, never EXPIRED; end_month is RB_MONTH_OPEN
 *                    until a withdrawal)
 *   transfer_events  key: transfer id + NUL + be32(seq), seq 1, 2, ... per transfer
 *                    val: v1 {i64 at, str actor, str action, i64 from, i64 to, str detail}
 *   meta             "seq:transfer": the counter that generated ids are made from
 *
 * Expiry is computed, never stored: a REQUESTED transfer reads as EXPIRED once now >
 * expires_at. Every rule check scans all transfers: they are few.
 * Must never: read the clock, write anything when a rule refuses an operation, or misread
 * a damaged record (it reports RB_CORRUPT instead).
 */
#include "rb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_V1 1
#define DAY 86400
#define MONTH_MIN (1970 * 12)      /* 1970-01, as rb_month_parse accepts */
#define MONTH_MAX (9999 * 12 + 11) /* 9999-12 */
#define ID_TAIL_MIN 8              /* characters after "rt-" */
#define ID_TAIL_MAX 32
#define ID_GEN_DIGITS 13          /* base 36 digits of a 64-bit value */
#define ID_GEN_TRIES 64           /* generated ids that may collide with explicit ones */
#define ACTOR_OPERATOR "operator" /* actor of a rename: the API has no actor for it */
#define ACTOR_SYSTEM "system"     /* actor of the computed expiry */
#define QUOTE_MAX 64              /* bytes of a value shown in a message */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)
#define DETAIL_CAP sizeof(((rb_transfer_event *)0)->detail) /* an event's detail, with NUL */

/* {===================================================================================
 * Small helpers: names, months, messages
 * =================================================================================== */

static const char *const status_names[] = {
    [RB_TRANSFER_REQUESTED] = "REQUESTED", [RB_TRANSFER_ACCEPTED] = "ACCEPTED",
    [RB_TRANSFER_DECLINED] = "DECLINED",   [RB_TRANSFER_CANCELED] = "CANCELED",
    [RB_TRANSFER_EXPIRED] = "EXPIRED",     [RB_TRANSFER_WITHDRAWN] = "WITHDRAWN",
};

const char *rb_transfer_status_name(rb_transfer_status st)
{
    if ((unsigned)st >= RB_COUNTOF(status_names))
        return "UNKNOWN";
    return status_names[st];
}

/* "a" or "an" before a status name. */
static const char *article(rb_transfer_status st)
{
    return st == RB_TRANSFER_ACCEPTED || st == RB_TRANSFER_EXPIRED ? "an" : "a";
}

static bool month_ok(int64_t m)
{
    return m >= MONTH_MIN && m <= MONTH_MAX;
}

static const char *fmt_month(char *buf, size_t cap, int m)
{
    rb_month_format(m, buf, cap);
    return buf;
}

static const char *fmt_time(char *buf, size_t cap, int64_t t)
{
    rb_time_format(t, buf, cap);
    return buf;
}

/* A value made safe to show inside "..." in a message: at most QUOTE_MAX of its n bytes
 * (then "..."), with '"', '\' and bytes outside printable ASCII written as \xNN. */
static const char *quote(char *buf, size_t cap, const char *s, size_t n)
{
    size_t i = 0, o = 0;

    buf[0] = '\0';
    if (!s)
        return buf;
    for (; i < n && i < QUOTE_MAX && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (i < n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static const char *quote_str(char *buf, size_t cap, const char *s)
{
    return quote(buf, cap, s, s ? strlen(s) : 0);
}

/* {===================================================================================
 * Validation
 * =================================================================================== */

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool transfer_id_is_valid(const char *id)
{
    size_t n;

    if (!id || strncmp(id, "rt-", 3) != 0)
        return false;
    for (n = 0; id[3 + n] != '\0'; n++)
        if (n >= ID_TAIL_MAX || !is_lower_alnum((unsigned char)id[3 + n]))
            return false;
    return n >= ID_TAIL_MIN;
}

static rb_status check_id(rb_txn *txn, const char *id)
{
    char q[QUOTE_BUF];

    if (!id)
        return rbi_txn_error(txn, RB_INVALID, "missing transfer id");
    if (transfer_id_is_valid(id))
        return RB_OK;
    return rbi_txn_error(txn, RB_INVALID,
                         "invalid transfer id \"%s\": want \"rt-\" and %d..%d lowercase letters "
                         "or digits",
                         quote_str(q, sizeof(q), id), ID_TAIL_MIN, ID_TAIL_MAX);
}

/* A name: 1..RB_TRANSFER_NAME_MAX bytes of printable ASCII (space to '~'). `cap` bounds the
 * read for a fixed-size struct field. */
static rb_status check_name(rb_txn *txn, const char *name, size_t cap)
{
    char q[QUOTE_BUF];
    size_t n;

    if (!name)
        return rbi_txn_error(txn, RB_INVALID, "missing transfer name");
    n = strnlen(name, cap);
    if (n == 0 || n > RB_TRANSFER_NAME_MAX)
        return rbi_txn_error(
            txn, RB_INVALID, "invalid transfer name \"%s\": want 1..%d bytes, got %s%zu",
            quote(q, sizeof(q), name, n), RB_TRANSFER_NAME_MAX, n == cap ? "at least " : "", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e)
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid transfer name \"%s\": byte %zu (0x%02x) is not "
                                 "printable ASCII",
                                 quote(q, sizeof(q), name, n), i + 1, c);
    }
    return RB_OK;
}


/* Notes: 0..RB_TRANSFER_NOTES_MAX bytes of UTF-8; tab and newline are the only control
 * characters allowed. */
static rb_status check_notes(rb_txn *txn, const char *notes, size_t cap)
{
    const unsigned char *p = (const unsigned char *)notes;
    size_t n, i = 0;

    if (!notes)
        return RB_OK;
    n = strnlen(notes, cap);
    if (n > RB_TRANSFER_NOTES_MAX)
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid transfer notes: want at most %d bytes, got %s%zu",
                             RB_TRANSFER_NOTES_MAX, n == cap ? "at least " : "", n);
    while (i < n) {
        uint32_t cp;
        size_t len = rbi_utf8_decode(p + i, n - i, &cp);
        if (len == 0)
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid transfer notes: not valid UTF-8 at byte %zu", i + 1);
        if (len == 1 && ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') || p[i] == 0x7f))
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid transfer notes: control character 0x%02x at byte %zu "
                                 "(only tab and newline are allowed)",
                                 p[i], i + 1);
        i += len;
    }
    return RB_OK;
}


/* The org must exist; `what` names its role in the message. */
static rb_status check_org_exists(rb_txn *txn, const char *what, const char *id)
{
    rb_org o;
    rb_status rc = rb_org_get(txn, id, &o);

    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "unknown %s %s", what, id);
    return rc;
}

static rb_status check_month(rb_txn *txn, const char *what, int m)
{
    if (month_ok(m))
        return RB_OK;
    return rbi_txn_error(txn, RB_INVALID, "invalid %s %d: want a month from 1970-01 to 9999-12",
                         what, m);
}

/* {===================================================================================
 * Records
 * =================================================================================== */

static rb_status nomem(rb_txn *txn, const char *what)
{
    return rbi_txn_error(txn, RB_NOMEM, "out of memory encoding %s", what);
}

static rb_status corrupt(rb_txn *txn, const char *db, const void *key, size_t klen)
{
    char q[QUOTE_BUF];

    return rbi_txn_error(txn, RB_CORRUPT, "corrupt record \"%s\" in '%s': truncated or malformed",
                         quote(q, sizeof(q), key, klen), db);
}

/* Decode a transfer record; t->status is the stored status. */
static rb_status transfer_decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                                 rb_transfer *t)
{
    struct rbi_rec_reader r;
    int64_t start, end, st;

    memset(t, 0, sizeof(*t));
    if (k->len > RB_TRANSFER_ID_MAX)
        return corrupt(txn, "transfers", k->data, k->len);
    memcpy(t->id, k->data, k->len);
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_V1)
        return corrupt(txn, "transfers", k->data, k->len);
    rbi_rec_get_str(&r, t->name, sizeof(t->name));
    rbi_rec_get_str(&r, t->notes, sizeof(t->notes));
    rbi_rec_get_str(&r, t->source, sizeof(t->source));
    rbi_rec_get_str(&r, t->payer, sizeof(t->payer));
    start = rbi_rec_get_i64(&r);
    end = rbi_rec_get_i64(&r);
    st = rbi_rec_get_i64(&r);
    t->invited_at = rbi_rec_get_i64(&r);
    t->expires_at = rbi_rec_get_i64(&r);
    t->updated_at = rbi_rec_get_i64(&r);
    if (r.bad || r.p != r.end || !transfer_id_is_valid(t->id) || !rb_org_id_is_valid(t->source) ||
        !rb_org_id_is_valid(t->payer) || !month_ok(start) ||
        (end != RB_MONTH_OPEN && !month_ok(end)) || st < RB_TRANSFER_REQUESTED ||
        st > RB_TRANSFER_WITHDRAWN || st == RB_TRANSFER_EXPIRED)
        return corrupt(txn, "transfers", k->data, k->len);
    t->start_month = (int)start;
    t->end_month = (int)end;
    t->status = (rb_transfer_status)st;
    return RB_OK;
}

/* Write `t` with its status as stored (never EXPIRED). */
static rb_status transfer_put(rb_txn *txn, const rb_transfer *t, unsigned flags)
{
    struct rb_buf b = {NULL, 0, 0};
    rb_status rc = rbi_rec_begin(&b, REC_V1);

    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, t->name);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, t->notes);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, t->source);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, t->payer);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->start_month);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->end_month);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->status);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->invited_at);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->expires_at);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, t->updated_at);
    if (rc != RB_OK) {
        rc = nomem(txn, "a transfer");
        goto out_release;
    }
    rc = rbi_put(txn, RBI_DB_TRANSFERS, t->id, strlen(t->id), b.data, b.len, flags);
out_release:
    rbi_buf_release(&b);
    return rc;
}

/* The transfer `id` (validated here), with its stored status; RB_NOTFOUND with a message. */
static rb_status transfer_load(rb_txn *txn, const char *id, rb_transfer *t)
{
    struct rbi_val k, v;
    rb_status rc = check_id(txn, id);

    if (rc != RB_OK)
        return rc;
    k.data = id;
    k.len = strlen(id);
    rc = rbi_get(txn, RBI_DB_TRANSFERS, id, k.len, &v);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "unknown transfer %s", id);
    if (rc != RB_OK)
        return rc;
    return transfer_decode(txn, &k, &v, t);
}

/* The status `t` (as stored) has at `now`: an invitation past its expiry is EXPIRED. It is
 * still REQUESTED at exactly expires_at. */
static rb_transfer_status effective(const rb_transfer *t, int64_t now)
{
    if (t->status == RB_TRANSFER_REQUESTED && now > t->expires_at)
        return RB_TRANSFER_EXPIRED;
    return t->status;
}

/* Turn a stored transfer into what readers see at `now`. */
static void present(rb_transfer *t, int64_t now)
{
    if (effective(t, now) == RB_TRANSFER_EXPIRED) {
        t->status = RB_TRANSFER_EXPIRED;
        if (t->updated_at < t->expires_at)
            t->updated_at = t->expires_at;
    }
}

/* {===================================================================================
 * History records
 * =================================================================================== */

#define EVENT_KEY_MAX (RB_TRANSFER_ID_MAX + 1 + 4)

static rb_status event_decode(rb_txn *txn, const struct rbi_val *k, const struct rbi_val *v,
                              rb_transfer_event *e)
{
    struct rbi_rec_reader r;
    int64_t from, to;

    memset(e, 0, sizeof(*e));
    rbi_rec_read(&r, v->data, v->len);
    if (r.version != REC_V1)
        return corrupt(txn, "transfer_events", k->data, k->len);
    e->at = rbi_rec_get_i64(&r);
    rbi_rec_get_str(&r, e->actor, sizeof(e->actor));
    rbi_rec_get_str(&r, e->action, sizeof(e->action));
    from = rbi_rec_get_i64(&r);
    to = rbi_rec_get_i64(&r);
    rbi_rec_get_str(&r, e->detail, sizeof(e->detail));
    if (r.bad || r.p != r.end || from < 0 || from > RB_TRANSFER_WITHDRAWN || to < 0 ||
        to > RB_TRANSFER_WITHDRAWN)
        return corrupt(txn, "transfer_events", k->data, k->len);
    e->from = (rb_transfer_status)from;
    e->to = (rb_transfer_status)to;
    return RB_OK;
}

static rb_status last_seq(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    uint32_t *seq = ctx;
    uint32_t s;

    (void)v;
    if (k->len < 5)
        return RB_CORRUPT;
    s = rbi_be32_get((const unsigned char *)k->data + k->len - 4);
    if (s > *seq)
        *seq = s;
    return RB_OK;
}

/* Append an event to the history of transfer `id`. */
static rb_status event_add(rb_txn *txn, const char *id, int64_t at, const char *actor,
                           const char *action, rb_transfer_status from, rb_transfer_status to,
                           const char *detail)
{
    unsigned char key[EVENT_KEY_MAX];
    struct rb_buf b = {NULL, 0, 0};
    size_t idlen = strlen(id);
    uint32_t seq = 0;
    rb_status rc;

    memcpy(key, id, idlen);
    key[idlen] = '\0';
    rc = rbi_scan(txn, RBI_DB_TEVENTS, key, idlen + 1, last_seq, &seq);
    if (rc == RB_CORRUPT)
        return corrupt(txn, "transfer_events", key, idlen + 1);
    if (rc != RB_OK)
        return rc;
    rbi_be32_put(key + idlen + 1, seq + 1);
    rc = rbi_rec_begin(&b, REC_V1);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, at);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, actor);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, action);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, from);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, to);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, detail);
    if (rc != RB_OK) {
        rc = nomem(txn, "a transfer event");
        goto out_release;
    }
    rc = rbi_put(txn, RBI_DB_TEVENTS, key, idlen + 5, b.data, b.len, RBI_NOOVERWRITE);
out_release:
    rbi_buf_release(&b);
    return rc;
}

/* {===================================================================================
 * Links: the transfers that matter for a rule or a question, in id order
 *
 * A link occupies the months [start, end] of its source. For the rules (LIVE) that is every
 * ACCEPTED or WITHDRAWN transfer over its months and every REQUESTED one not expired at
 * `now`, from its start on; for the payer questions (IN_FORCE) only ACCEPTED and WITHDRAWN
 * ones. A withdrawal before the start month leaves end < start: the link occupies nothing.
 * =================================================================================== */

enum link_mode { LINKS_ALL, LINKS_LIVE, LINKS_IN_FORCE };

struct link {
    char id[RB_TRANSFER_ID_MAX + 1];
    char source[RB_ORG_ID_MAX + 1];
    char payer[RB_ORG_ID_MAX + 1];
    int start, end;            /* months occupied, inclusive */
    rb_transfer_status status; /* effective at `now` */
};

struct links {
    struct link *v;
    size_t n, cap;
};

struct links_load {
    rb_txn *txn;
    enum link_mode mode;
    int64_t now;
    const char *skip; /* a transfer id to leave out, or "" */
    struct links *ls;
    rb_transfer t; /* scratch */
};

static rb_status links_push(struct links_load *l)
{
    struct links *ls = l->ls;
    struct link *k;

    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        struct link *v;
        if (cap > SIZE_MAX / sizeof(*v))
            return rbi_txn_error(l->txn, RB_NOMEM, "out of memory reading transfers");
        v = rbi_realloc(ls->v, cap * sizeof(*v));
        if (!v)
            return rbi_txn_error(l->txn, RB_NOMEM, "out of memory reading transfers");
        ls->v = v;
        ls->cap = cap;
    }
    k = &ls->v[ls->n++];
    memcpy(k->id, l->t.id, sizeof(k->id));
    memcpy(k->source, l->t.source, sizeof(k->source));
    memcpy(k->payer, l->t.payer, sizeof(k->payer));
    k->start = l->t.start_month;
    k->end = l->t.end_month;
    k->status = effective(&l->t, l->now);
    return RB_OK;
}

static rb_status links_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct links_load *l = ctx;
    rb_status rc = transfer_decode(l->txn, k, v, &l->t);
    rb_transfer_status st;

    if (rc != RB_OK)
        return rc;
    if (strcmp(l->t.id, l->skip) == 0)
        return RB_OK;
    st = effective(&l->t, l->now);
    if (l->mode != LINKS_ALL) {
        bool in_force = st == RB_TRANSFER_ACCEPTED || st == RB_TRANSFER_WITHDRAWN;
        bool live = in_force || st == RB_TRANSFER_REQUESTED;
        if (!(l->mode == LINKS_LIVE ? live : in_force) || l->t.end_month < l->t.start_month)
            return RB_OK;
    }
    return links_push(l);
}

/* Load the links of `mode` at `now`, leaving out transfer `skip` (may be NULL). Release
 * ls->v with rbi_free, also on failure. */
static rb_status links_load(rb_txn *txn, enum link_mode mode, int64_t now, const char *skip,
                            struct links *ls)
{
    struct links_load *l = rbi_malloc(sizeof(*l));
    rb_status rc;

    ls->v = NULL;
    ls->n = ls->cap = 0;
    if (!l)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory reading transfers");
    l->txn = txn;
    l->mode = mode;
    l->now = now;
    l->skip = skip ? skip : "";
    l->ls = ls;
    rc = rbi_scan(txn, RBI_DB_TRANSFERS, NULL, 0, links_one, l);
    rbi_free(l);
    return rc;
}

static bool active(const struct link *k, int m)
{
    return k->start <= m && m <= k->end;
}

/* The link through which `org`'s bill goes to another org in month m, or NULL. There is at
 * most one: the rules allow one live transfer per source and month. */
static const struct link *link_up(const struct links *ls, const char *org, int m)
{
    for (size_t i = 0; i < ls->n; i++)
        if (active(&ls->v[i], m) && strcmp(ls->v[i].source, org) == 0)
            return &ls->v[i];
    return NULL;
}

/* The longest chain of links that ends at `org` in month m: its number of links, and in
 * *bottom the org it starts from. `level` bounds the recursion should stored data hold a
 * cycle (the rules never let one in). */
static int chain_below(const struct links *ls, const char *org, int m, int level,
                       const char **bottom)
{
    int best = 0;

    *bottom = org;
    if (level > RB_CHAIN_MAX)
        return 0;
    for (size_t i = 0; i < ls->n; i++) {
        const struct link *k = &ls->v[i];
        const char *b;
        int d;

        if (!active(k, m) || strcmp(k->payer, org) != 0)
            continue;
        d = 1 + chain_below(ls, k->source, m, level + 1, &b);
        if (d > best) {
            best = d;
            *bottom = b;
        }
    }
    return best;
}

/* Append "from -> x -> y" to b, following links up from `from` in month m until `stop` (may
 * be NULL) has been written or there is no further link. */
static rb_status chain_text(struct rb_buf *b, const struct links *ls, const char *from,
                            const char *stop, int m)
{
    const char *cur = from;
    rb_status rc = rbi_buf_puts(b, from);

    for (size_t steps = 0; rc == RB_OK && steps <= ls->n; steps++) {
        const struct link *k;
        if (stop && strcmp(cur, stop) == 0)
            break;
        k = link_up(ls, cur, m);
        if (!k)
            break;
        rc = rbi_buf_printf(b, " -> %s", k->payer);
        cur = k->payer;
    }
    return rc;
}

/* {===================================================================================
 * The rules a new or accepted transfer must keep
 * =================================================================================== */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* Chain depth and cycles in month m for the link n->source -> n->payer. */
static rb_status check_chain_month(rb_txn *txn, const rb_transfer *n, const struct links *ls, int m,
                                   int64_t max_depth)
{
    struct rb_buf b = {NULL, 0, 0};
    const char *cur = n->payer, *bottom;
    char mb[16];
    rb_status rc;
    int above = 0, below;

    for (;;) {
        const struct link *k;
        if (strcmp(cur, n->source) == 0) {
            rc = rbi_buf_printf(&b, "%s -> ", n->source);
            if (rc == RB_OK)
                rc = chain_text(&b, ls, n->payer, n->source, m);
            if (rc != RB_OK) {
                rc = rbi_txn_error(txn, RB_NOMEM, "out of memory checking transfers");
                goto out_release;
            }
            rc = rbi_txn_error(txn, RB_INVALID,
                               "transfer would make a payer cycle in %s: %s (the payer's bill "
                               "already goes to the source)",
                               fmt_month(mb, sizeof(mb), m), b.data);
            goto out_release;
        }
        k = link_up(ls, cur, m);
        if (!k)
            break;
        if ((size_t)above++ > ls->n) {
            rc = rbi_txn_error(txn, RB_CORRUPT, "stored transfers hold a payer cycle through %s",
                               cur);
            goto out_release;
        }
        cur = k->payer;
    }
    below = chain_below(ls, n->source, m, 0, &bottom);
    if (below + 1 + above <= max_depth) {
        rc = RB_OK;
        goto out_release;
    }
    rc = chain_text(&b, ls, bottom, n->source, m);
    if (rc == RB_OK)
        rc = rbi_buf_puts(&b, " -> ");
    if (rc == RB_OK)
        rc = chain_text(&b, ls, n->payer, NULL, m);
    if (rc != RB_OK) {
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory checking transfers");
        goto out_release;
    }
    rc = rbi_txn_error(txn, RB_INVALID,
                       "transfer would make a payer chain of %d transfers in %s (%s): "
                       "max-chain-depth is %lld",
                       below + 1 + above, fmt_month(mb, sizeof(mb), m), b.data,
                       (long long)max_depth);
out_release:
    rbi_buf_release(&b);
    return rc;
}

/* Refuse `n` (source, payer and start_month read; taken as open-ended) if, next to every other
 * live transfer at `now`, it would give its source two transfers for one month, close a payer
 * cycle, or make a chain longer than max_chain_depth in any month. */
static rb_status check_rules(rb_txn *txn, const rb_transfer *n, int64_t now)
{
    struct links ls;
    int64_t max_depth;
    int *months = NULL;
    size_t nm = 0;
    char m1[16], m2[16], m3[16];
    rb_status rc;

    rc = rb_config_get_int(txn, "max_chain_depth", RB_MAX_CHAIN_DEPTH_DEFAULT, &max_depth);
    if (rc != RB_OK)
        return rc;
    if (max_depth < 1)
        max_depth = 1;
    if (max_depth > RB_CHAIN_MAX)
        max_depth = RB_CHAIN_MAX;
    rc = links_load(txn, LINKS_LIVE, now, n->id, &ls);
    if (rc != RB_OK)
        goto out_free;

    /* One transfer per source and month. n runs from its start on, so any live transfer of
     * the same source that ends at or after that start overlaps it. */
    for (size_t i = 0; i < ls.n; i++) {
        const struct link *k = &ls.v[i];
        if (strcmp(k->source, n->source) != 0 || k->end < n->start_month)
            continue;
        rc = rbi_txn_error(txn, RB_INVALID,
                           "source organization %s already has transfer %s (%s, %s..%s) for "
                           "months from %s: a source has at most one transfer for any month",
                           n->source, k->id, rb_transfer_status_name(k->status),
                           fmt_month(m1, sizeof(m1), k->start), fmt_month(m2, sizeof(m2), k->end),
                           fmt_month(m3, sizeof(m3), n->start_month));
        goto out_free;
    }

    /* Check n's start and every later month in which a link starts, in order. That covers
     * every month: from one such month to the next, links only end, and fewer links never
     * make a longer chain or a cycle. */
    if (ls.n > SIZE_MAX / sizeof(int) - 1) {
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory checking transfers");
        goto out_free;
    }
    months = rbi_malloc((ls.n + 1) * sizeof(int));
    if (!months) {
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory checking transfers");
        goto out_free;
    }
    months[nm++] = n->start_month;
    for (size_t i = 0; i < ls.n; i++)
        if (ls.v[i].start > n->start_month)
            months[nm++] = ls.v[i].start;
    if (nm > 1)
        qsort(months, nm, sizeof(int), cmp_int);
    for (size_t i = 0; i < nm; i++) {
        if (i > 0 && months[i] == months[i - 1])
            continue;
        rc = check_chain_month(txn, n, &ls, months[i], max_depth);
        if (rc != RB_OK)
            goto out_free;
    }
    rc = RB_OK;
out_free:
    rbi_free(months);
    rbi_free(ls.v);
    return rc;
}

/* {===================================================================================
 * Invitation
 * =================================================================================== */

/* A bijection on 64-bit values (the splitmix64 finalizer): consecutive sequence numbers
 * give ids that look random, never collide with each other, and are the same on every run. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* "rt-" and 13 base-36 digits of mix64(seq). */
static void id_from_seq(uint64_t seq, char *out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint64_t h = mix64(seq);

    memcpy(out, "rt-", 3);
    for (int i = ID_GEN_DIGITS - 1; i >= 0; i--) {
        out[3 + i] = digits[h % 36];
        h /= 36;
    }
    out[3 + ID_GEN_DIGITS] = '\0';
}

/* A new id from the "transfer" counter; skips ids someone chose explicitly. */
static rb_status generate_id(rb_txn *txn, char *out)
{
    for (int i = 0; i < ID_GEN_TRIES; i++) {
        struct rbi_val v;
        uint64_t seq;
        rb_status rc = rbi_next_seq(txn, "transfer", &seq);

        if (rc != RB_OK)
            return rc;
        id_from_seq(seq, out);
        rc = rbi_get(txn, RBI_DB_TRANSFERS, out, strlen(out), &v);
        if (rc == RB_NOTFOUND)
            return RB_OK;
        if (rc != RB_OK)
            return rc;
    }
    return rbi_txn_error(txn, RB_ERROR, "cannot generate a free transfer id after %d tries",
                         ID_GEN_TRIES);
}

/* The last moment an invitation for `start` can be accepted: 23:59:59 UTC two days before
 * the 1st, so that acceptance comes at least 24 hours before the transfer starts. */
static int64_t accept_cutoff(int start)
{
    return rb_month_start(start) - DAY - 1;
}

rb_status rb_transfer_invite(rb_txn *txn, rb_transfer *t, int64_t now)
{
    rb_transfer n;
    char q[QUOTE_BUF], mb[16], tb1[32], tb2[32], detail[DETAIL_CAP];
    int64_t cutoff;
    struct rbi_val v;
    rb_status rc;

    if (!txn || !t)
        return RB_MISUSE;
    if (!memchr(t->id, '\0', sizeof(t->id)))
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid transfer id \"%s\": want \"rt-\" and %d..%d lowercase "
                             "letters or digits",
                             quote(q, sizeof(q), t->id, sizeof(t->id)), ID_TAIL_MIN, ID_TAIL_MAX);
    rc = t->id[0] ? check_id(txn, t->id) : RB_OK;
    if (rc == RB_OK)
        rc = check_name(txn, t->name, sizeof(t->name));
    if (rc == RB_OK)
        rc = check_notes(txn, t->notes, sizeof(t->notes));
    if (rc == RB_OK)
        rc = rbi_org_check_id(txn, "source organization id", t->source, sizeof(t->source));
    if (rc == RB_OK)
        rc = rbi_org_check_id(txn, "payer organization id", t->payer, sizeof(t->payer));
    if (rc == RB_OK)
        rc = check_month(txn, "start month", t->start_month);
    if (rc != RB_OK)
        return rc;
    if (strcmp(t->source, t->payer) == 0)
        return rbi_txn_error(txn, RB_INVALID,
                             "source and payer are the same organization %s: an organization "
                             "cannot take over its own bill",
                             t->source);
    rc = check_org_exists(txn, "source organization", t->source);
    if (rc == RB_OK)
        rc = check_org_exists(txn, "payer organization", t->payer);
    if (rc != RB_OK)
        return rc;
    cutoff = accept_cutoff(t->start_month);
    if (now > cutoff)
        return rbi_txn_error(txn, RB_INVALID,
                             "start month %s is too late: invitations for it had to be accepted "
                             "by %s, and it is %s",
                             fmt_month(mb, sizeof(mb), t->start_month),
                             fmt_time(tb1, sizeof(tb1), cutoff), fmt_time(tb2, sizeof(tb2), now));

    /* A clean copy: no bytes after the NULs reach the store. */
    memset(&n, 0, sizeof(n));
    memcpy(n.id, t->id, strlen(t->id));
    memcpy(n.name, t->name, strlen(t->name));
    memcpy(n.notes, t->notes, strnlen(t->notes, sizeof(t->notes)));
    memcpy(n.source, t->source, strlen(t->source));
    memcpy(n.payer, t->payer, strlen(t->payer));
    n.start_month = t->start_month;
    n.end_month = RB_MONTH_OPEN;
    n.status = RB_TRANSFER_REQUESTED;
    n.invited_at = now;
    n.expires_at = now + (int64_t)RB_TRANSFER_EXPIRY_DAYS * DAY;
    if (n.expires_at > cutoff)
        n.expires_at = cutoff;
    n.updated_at = now;

    if (n.id[0]) {
        rc = rbi_get(txn, RBI_DB_TRANSFERS, n.id, strlen(n.id), &v);
        if (rc == RB_OK)
            return rbi_txn_error(txn, RB_EXISTS, "transfer %s already exists", n.id);
        if (rc != RB_NOTFOUND)
            return rc;
    }
    rc = check_rules(txn, &n, now);
    if (rc == RB_OK && !n.id[0])
        rc = generate_id(txn, n.id);
    if (rc == RB_OK)
        rc = transfer_put(txn, &n, RBI_NOOVERWRITE);
    if (rc != RB_OK)
        return rc;
    snprintf(detail, sizeof(detail), "source %s, payer %s, start %s, expires %s", n.source, n.payer,
             fmt_month(mb, sizeof(mb), n.start_month), fmt_time(tb1, sizeof(tb1), n.expires_at));
    rc = event_add(txn, n.id, now, n.payer, "invite", RB_TRANSFER_REQUESTED, RB_TRANSFER_REQUESTED,
                   detail);
    if (rc == RB_OK)
        *t = n;
    return rc;
}

/* {===================================================================================
 * Transitions
 * =================================================================================== */

enum action { ACT_ACCEPT, ACT_DECLINE, ACT_CANCEL, ACT_WITHDRAW };

static const struct {
    const char *verb;
    rb_transfer_status from; /* the one status the action applies to */
    rb_transfer_status to;
} actions[] = {
    [ACT_ACCEPT] = {"accept", RB_TRANSFER_REQUESTED, RB_TRANSFER_ACCEPTED},
    [ACT_DECLINE] = {"decline", RB_TRANSFER_REQUESTED, RB_TRANSFER_DECLINED},
    [ACT_CANCEL] = {"cancel", RB_TRANSFER_REQUESTED, RB_TRANSFER_CANCELED},
    [ACT_WITHDRAW] = {"withdraw", RB_TRANSFER_ACCEPTED, RB_TRANSFER_WITHDRAWN},
};

/* Only the source accepts or declines, only the payer (the inviter) cancels, either
 * withdraws. */
static rb_status check_actor(rb_txn *txn, const rb_transfer *t, const char *actor, enum action a)
{
    rb_status rc = rbi_org_check_id(txn, "actor", actor, RB_ORG_ID_MAX + 1);
    const char *verb = actions[a].verb;

    if (rc != RB_OK)
        return rc;
    switch (a) {
    case ACT_ACCEPT:
    case ACT_DECLINE:
        if (strcmp(actor, t->source) == 0)
            return RB_OK;
        return rbi_txn_error(txn, RB_INVALID,
                             "%s cannot %s transfer %s: only its source organization %s can", actor,
                             verb, t->id, t->source);
    case ACT_CANCEL:
        if (strcmp(actor, t->payer) == 0)
            return RB_OK;
        return rbi_txn_error(txn, RB_INVALID,
                             "%s cannot cancel transfer %s: only its payer organization %s, "
                             "which invited, can",
                             actor, t->id, t->payer);
    case ACT_WITHDRAW:
        if (strcmp(actor, t->source) == 0 || strcmp(actor, t->payer) == 0)
            return RB_OK;
        return rbi_txn_error(txn, RB_INVALID,
                             "%s cannot withdraw transfer %s: only its source organization %s or "
                             "its payer organization %s can",
                             actor, t->id, t->source, t->payer);
    }
    return RB_MISUSE;
}

/* The action applies to one status; anything else is refused, naming the status. */
static rb_status check_from(rb_txn *txn, const rb_transfer *t, rb_transfer_status eff,
                            enum action a)
{
    const char *verb = actions[a].verb;
    char tb[32];

    if (eff == actions[a].from)
        return RB_OK;
    if (eff == RB_TRANSFER_EXPIRED)
        return rbi_txn_error(txn, RB_INVALID,
                             "cannot %s an EXPIRED transfer (%s): invitation expired at %s", verb,
                             t->id, fmt_time(tb, sizeof(tb), t->expires_at));
    if (eff == actions[a].to)
        return rbi_txn_error(txn, RB_INVALID, "transfer %s is already %s", t->id,
                             rb_transfer_status_name(eff));
    return rbi_txn_error(txn, RB_INVALID, "cannot %s %s %s transfer (%s): only %s %s one can", verb,
                         article(eff), rb_transfer_status_name(eff), t->id,
                         article(actions[a].from), rb_transfer_status_name(actions[a].from));
}

static rb_status transition(rb_txn *txn, const char *id, const char *actor, enum action a,
                            int end_month, int64_t now)
{
    rb_transfer t;
    rb_transfer_status eff;
    char detail[DETAIL_CAP], m1[16], m2[16];
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = transfer_load(txn, id, &t);
    if (rc == RB_OK)
        rc = check_actor(txn, &t, actor, a);
    if (rc != RB_OK)
        return rc;
    eff = effective(&t, now);
    rc = check_from(txn, &t, eff, a);
    if (rc != RB_OK)
        return rc;
    detail[0] = '\0';
    if (a == ACT_ACCEPT) {
        rc = check_rules(txn, &t, now);
        if (rc != RB_OK)
            return rc;
        snprintf(detail, sizeof(detail), "in force from %s",
                 fmt_month(m1, sizeof(m1), t.start_month));
    } else if (a == ACT_WITHDRAW) {
        if (end_month == RB_MONTH_OPEN)
            return rbi_txn_error(txn, RB_INVALID,
                                 "invalid withdrawal end month: a withdrawal needs an end month");
        rc = check_month(txn, "withdrawal end month", end_month);
        if (rc != RB_OK)
            return rc;
        if (end_month < rb_month_of(now))
            return rbi_txn_error(
                txn, RB_INVALID, "withdrawal end month %s is before the current month %s",
                fmt_month(m1, sizeof(m1), end_month), fmt_month(m2, sizeof(m2), rb_month_of(now)));
        t.end_month = end_month;
        if (end_month < t.start_month)
            snprintf(detail, sizeof(detail), "end %s, before the start %s: never in force",
                     fmt_month(m1, sizeof(m1), end_month),
                     fmt_month(m2, sizeof(m2), t.start_month));
        else
            snprintf(detail, sizeof(detail), "end %s", fmt_month(m1, sizeof(m1), end_month));
    }
    t.status = actions[a].to;
    t.updated_at = now;
    rc = transfer_put(txn, &t, 0);
    if (rc == RB_OK)
        rc = event_add(txn, t.id, now, actor, actions[a].verb, eff, t.status, detail);
    return rc;
}

rb_status rb_transfer_accept(rb_txn *txn, const char *id, const char *actor, int64_t now)
{
    return transition(txn, id, actor, ACT_ACCEPT, 0, now);
}

rb_status rb_transfer_decline(rb_txn *txn, const char *id, const char *actor, int64_t now)
{
    return transition(txn, id, actor, ACT_DECLINE, 0, now);
}

rb_status rb_transfer_cancel(rb_txn *txn, const char *id, const char *actor, int64_t now)
{
    return transition(txn, id, actor, ACT_CANCEL, 0, now);
}

rb_status rb_transfer_withdraw(rb_txn *txn, const char *id, const char *actor, int end_month,
                               int64_t now)
{
    return transition(txn, id, actor, ACT_WITHDRAW, end_month, now);
}

/* "name 'old' -> 'new'", shortening the old name with "..." if both do not fit. */
static void rename_detail(char *buf, size_t cap, const char *old, const char *new_name)
{
    size_t fixed = strlen("name '' -> ''") + strlen(new_name);
    size_t room = cap - 1 > fixed ? cap - 1 - fixed : 0;
    size_t n = strlen(old);

    if (n <= room)
        snprintf(buf, cap, "name '%.*s' -> '%.*s'", (int)n, old, (int)strlen(new_name), new_name);
    else
        snprintf(buf, cap, "name '%.*s...' -> '%.*s'", (int)(room > 3 ? room - 3 : 0), old,
                 (int)strlen(new_name), new_name);
}

rb_status rb_transfer_rename(rb_txn *txn, const char *id, const char *name, int64_t now)
{
    rb_transfer t;
    rb_transfer_status eff;
    char detail[DETAIL_CAP], old[RB_TRANSFER_NAME_MAX + 1];
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = transfer_load(txn, id, &t);
    if (rc == RB_OK)
        rc = check_name(txn, name, SIZE_MAX);
    if (rc != RB_OK)
        return rc;
    if (strcmp(t.name, name) == 0)
        return RB_OK; /* nothing changes, nothing is recorded */
    eff = effective(&t, now);
    memcpy(old, t.name, sizeof(old));
    memset(t.name, 0, sizeof(t.name));
    memcpy(t.name, name, strlen(name));
    t.updated_at = now;
    rc = transfer_put(txn, &t, 0);
    if (rc != RB_OK)
        return rc;
    rename_detail(detail, sizeof(detail), old, t.name);
    return event_add(txn, t.id, now, ACTOR_OPERATOR, "rename", eff, eff, detail);
}

/* {===================================================================================
 * Reading
 * =================================================================================== */

rb_status rb_transfer_get(rb_txn *txn, const char *id, int64_t now, rb_transfer *out)
{
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = transfer_load(txn, id, out);
    if (rc == RB_OK)
        present(out, now);
    return rc;
}

/* Call cb for the transfers whose links pass `keep`, in id order, each read afresh (cb may
 * use the transaction as it likes). */
static rb_status call_each(rb_txn *txn, const struct links *ls, int64_t now,
                           bool (*keep)(const struct link *, const void *), const void *arg,
                           rb_transfer_cb cb, void *ctx)
{
    rb_transfer *t = rbi_malloc(sizeof(*t));
    rb_status rc = RB_OK;

    if (!t)
        return rbi_txn_error(txn, RB_NOMEM, "out of memory reading transfers");
    for (size_t i = 0; i < ls->n && rc == RB_OK; i++) {
        if (!keep(&ls->v[i], arg))
            continue;
        rc = transfer_load(txn, ls->v[i].id, t);
        if (rc == RB_OK) {
            present(t, now);
            rc = cb(t, ctx);
        }
    }
    rbi_free(t);
    return rc;
}

struct list_filter {
    const char *org;
    unsigned dirs;
};

static bool list_keep(const struct link *k, const void *arg)
{
    const struct list_filter *f = arg;

    if (!f->org)
        return true;
    return ((f->dirs & RB_TRANSFER_INBOUND) && strcmp(k->source, f->org) == 0) ||
           ((f->dirs & RB_TRANSFER_OUTBOUND) && strcmp(k->payer, f->org) == 0);
}

rb_status rb_transfer_list(rb_txn *txn, const char *org, unsigned dirs, int64_t now,
                           rb_transfer_cb cb, void *ctx)
{
    struct list_filter f = {org, dirs & (RB_TRANSFER_INBOUND | RB_TRANSFER_OUTBOUND)};
    struct links ls;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    if (f.dirs == 0)
        f.dirs = RB_TRANSFER_INBOUND | RB_TRANSFER_OUTBOUND;
    if (org) {
        rc = rbi_org_check_id(txn, "organization id", org, RB_ORG_ID_MAX + 1);
        if (rc == RB_OK)
            rc = check_org_exists(txn, "organization", org);
        if (rc != RB_OK)
            return rc;
    }
    rc = links_load(txn, LINKS_ALL, now, NULL, &ls);
    if (rc == RB_OK)
        rc = call_each(txn, &ls, now, list_keep, &f, cb, ctx);
    rbi_free(ls.v);
    return rc;
}

struct event_list {
    rb_txn *txn;
    rb_transfer_event *v;
    size_t n, cap;
};

static rb_status event_collect(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct event_list *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        rb_transfer_event *nv;
        if (cap > SIZE_MAX / sizeof(*nv))
            return rbi_txn_error(l->txn, RB_NOMEM, "out of memory reading a transfer history");
        nv = rbi_realloc(l->v, cap * sizeof(*nv));
        if (!nv)
            return rbi_txn_error(l->txn, RB_NOMEM, "out of memory reading a transfer history");
        l->v = nv;
        l->cap = cap;
    }
    return event_decode(l->txn, k, v, &l->v[l->n++]);
}

rb_status rb_transfer_history(rb_txn *txn, const char *id, int64_t now, rb_transfer_event_cb cb,
                              void *ctx)
{
    struct event_list l = {txn, NULL, 0, 0};
    unsigned char prefix[RB_TRANSFER_ID_MAX + 1];
    rb_transfer_event expire;
    rb_transfer t;
    bool expired, shown = false;
    char tb[32];
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = transfer_load(txn, id, &t);
    if (rc != RB_OK)
        return rc;
    memcpy(prefix, t.id, strlen(t.id) + 1);
    rc = rbi_scan(txn, RBI_DB_TEVENTS, prefix, strlen(t.id) + 1, event_collect, &l);
    if (rc != RB_OK)
        goto out_free;

    /* The computed expiry goes in time order: after everything recorded up to expires_at. */
    expired = effective(&t, now) == RB_TRANSFER_EXPIRED;
    memset(&expire, 0, sizeof(expire));
    expire.at = t.expires_at;
    memcpy(expire.actor, ACTOR_SYSTEM, sizeof(ACTOR_SYSTEM));
    memcpy(expire.action, "expire", sizeof("expire"));
    expire.from = RB_TRANSFER_REQUESTED;
    expire.to = RB_TRANSFER_EXPIRED;
    snprintf(expire.detail, sizeof(expire.detail), "not accepted by %s",
             fmt_time(tb, sizeof(tb), t.expires_at));
    for (size_t i = 0; i < l.n && rc == RB_OK; i++) {
        if (expired && !shown && l.v[i].at > t.expires_at) {
            shown = true;
            rc = cb(&expire, ctx);
            if (rc != RB_OK)
                break;
        }
        rc = cb(&l.v[i], ctx);
    }
    if (rc == RB_OK && expired && !shown)
        rc = cb(&expire, ctx);
out_free:
    rbi_free(l.v);
    return rc;
}

/* {===================================================================================
 * Who pays
 * =================================================================================== */

rb_status rb_payer_of(rb_txn *txn, const char *org, int month, rb_payer_info *out)
{
    struct links ls;
    const char *cur;
    char mb[16];
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = rbi_org_check_id(txn, "organization id", org, RB_ORG_ID_MAX + 1);
    if (rc == RB_OK)
        rc = check_month(txn, "month", month);
    if (rc == RB_OK)
        rc = check_org_exists(txn, "organization", org);
    if (rc != RB_OK)
        return rc;
    rc = links_load(txn, LINKS_IN_FORCE, 0, NULL, &ls);
    if (rc != RB_OK)
        goto out_free;
    memset(out, 0, sizeof(*out));
    memcpy(out->org, org, strlen(org));
    out->month = month;
    cur = org;
    for (;;) {
        const struct link *k = link_up(&ls, cur, month);
        bool seen;

        if (!k)
            break;
        seen = strcmp(k->payer, org) == 0;
        for (int i = 0; i < out->depth && !seen; i++)
            seen = strcmp(out->chain[i], k->payer) == 0;
        if (seen || out->depth == RB_CHAIN_MAX) {
            rc = rbi_txn_error(txn, RB_CORRUPT, "stored transfers hold a payer %s for %s in %s",
                               seen ? "cycle" : "chain longer than 16 transfers", org,
                               fmt_month(mb, sizeof(mb), month));
            goto out_free;
        }
        memcpy(out->chain[out->depth], k->payer, sizeof(out->chain[0]));
        memcpy(out->via[out->depth], k->id, sizeof(out->via[0]));
        cur = out->chain[out->depth++];
    }
out_free:
    rbi_free(ls.v);
    return rc;
}

struct sources_filter {
    const char *payer;
    int month;
};

static bool sources_keep(const struct link *k, const void *arg)
{
    const struct sources_filter *f = arg;

    return active(k, f->month) && strcmp(k->payer, f->payer) == 0;
}

rb_status rb_payer_sources(rb_txn *txn, const char *payer, int month, rb_transfer_cb cb, void *ctx)
{
    struct sources_filter f = {payer, month};
    struct links ls;
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = rbi_org_check_id(txn, "payer organization id", payer, RB_ORG_ID_MAX + 1);
    if (rc == RB_OK)
        rc = check_month(txn, "month", month);
    if (rc == RB_OK)
        rc = check_org_exists(txn, "payer organization", payer);
    if (rc != RB_OK)
        return rc;
    rc = links_load(txn, LINKS_IN_FORCE, 0, NULL, &ls);
    if (rc == RB_OK)
        rc = call_each(txn, &ls, 0, sources_keep, &f, cb, ctx);
    rbi_free(ls.v);
    return rc;
}
