/*
 * rules.c -- rule files: compiled into plans in their own sandbox, checked, and tested with
 * the cases they ship.
 *
 * Provides: rb_plan_default, rb_plan_compile, rb_plan_name, rb_plan_free, rb_rules_check and
 * rb_rules_test_file of include/rebill.h; rbi_plan_wrap and rbi_plan_model (plan.h).
 * Uses: the sandbox (sandbox.h) to run a rule file's main chunk, plan.c's reader to turn the
 * table it returns into a plan, rb_price to price a test's fixture, priced.c's groups to
 * compare them with what the test expects.
 * Must never: let a test read a file other than its own fixture beside the rule file; stop
 * at the first failing test (every test of every file runs and is counted).
 */
#include "price.h"
#include "sandbox.h"
#include "usage.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {===================================================================================
 * Plans
 * =================================================================================== */

rb_status rb_plan_default(rb_plan **out)
{
    struct rb_plan *pl;
    rb_status rc;

    if (!out)
        return RB_MISUSE;
    *out = NULL;
    pl = rbi_calloc(1, sizeof(*pl));
    if (!pl)
        return RB_NOMEM;
    rc = rbi_plan_new(&pl->p, RBI_BASE_LIST, "list price");
    if (rc == RB_OK)
        rc = rbi_plan_finish(pl->p, NULL);
    if (rc != RB_OK) {
        rb_plan_free(pl);
        return rc;
    }
    *out = pl;
    return RB_OK;
}

rb_status rbi_plan_wrap(struct rbi_plan *p, rb_plan **out)
{
    struct rb_plan *pl = rbi_calloc(1, sizeof(*pl));

    *out = NULL;
    if (!pl) {
        rbi_plan_free(p);
        return RB_NOMEM;
    }
    pl->p = p;
    *out = pl;
    return RB_OK;
}

struct rbi_plan *rbi_plan_model(rb_plan *pl)
{
    return pl->p;
}

const char *rb_plan_name(const rb_plan *p)
{
    if (!p)
        return "";
    return p->p->name[0] ? p->p->name : p->p->file;
}

void rb_plan_free(rb_plan *pl)
{
    if (!pl)
        return;
    rbi_sandbox_free(pl->sb);
    rbi_plan_free(pl->p);
    rbi_free(pl);
}

struct compile_ctx {
    struct rbi_plan *p;
    int rule;
    rb_error err;
    rb_status rc;
};

static void compile_fn(lua_State *L, void *vctx)
{
    struct compile_ctx *c = vctx;

    rbi_sandbox_push_rule(L, c->rule);
    c->rc = rbi_plan_read(L, lua_gettop(L), c->p, &c->err);
    lua_pop(L, 1);
}

/*
 * The pricing constructors belong in the sandbox's list of API openers (sandbox.c calls
 * rbi_lapi_dec_open the same way). Until sandbox.c lists rbi_lapi_rebill_open, add them here,
 * through the sandbox: read the frozen `rebill` table a one-line rule returns and set the
 * constructors raw on it. NEEDSWORK: remove once sandbox.c opens them itself.
 */
struct api_ctx {
    int rule;
};

static void api_fn(lua_State *L, void *vctx)
{
    struct api_ctx *c = vctx;

    rbi_sandbox_push_rule(L, c->rule);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "plan"); /* the proxy's __index is a table: no rule code runs */
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            rbi_lapi_rebill_open(L);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static rb_status ensure_api(struct rbi_sandbox *sb, rb_error *err)
{
    static const char src[] = "return rebill";
    struct api_ctx c;
    rb_status rc = rbi_sandbox_load(sb, "(rebill api)", src, sizeof(src) - 1, &c.rule);

    if (rc == RB_OK)
        rc = rbi_sandbox_run(sb, api_fn, &c);
    if (rc != RB_OK)
        return rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(sb));
    return RB_OK;
}

rb_status rb_plan_compile(rb_plan **out, const char *name, const char *src, size_t len,
                          const rb_limits *limits, rb_error *err)
{
    struct rb_plan *pl;
    struct compile_ctx c;
    rb_status rc;

    if (!out || !name || (!src && len))
        return rbi_error_set(err, RB_MISUSE, "rb_plan_compile: missing argument");
    *out = NULL;
    pl = rbi_calloc(1, sizeof(*pl));
    if (!pl)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    rc = rbi_plan_new(&pl->p, RBI_BASE_LIST, NULL);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "out of memory");
        goto out_free;
    }
    rbi_strlcpy(pl->p->file, name, sizeof(pl->p->file));
    rc = rbi_sandbox_new(&pl->sb, limits, err);
    if (rc != RB_OK)
        goto out_free;
    rc = ensure_api(pl->sb, err);
    if (rc != RB_OK)
        goto out_free;
    rc = rbi_sandbox_load(pl->sb, name, src ? src : "", len, &pl->rule);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out_free;
    }
    memset(&c, 0, sizeof(c));
    c.p = pl->p;
    c.rule = pl->rule;
    c.rc = RB_ERROR;
    rbi_strlcpy(c.err.msg, "plan not read", sizeof(c.err.msg));
    rc = rbi_sandbox_run(pl->sb, compile_fn, &c);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out_free;
    }
    if (c.rc != RB_OK) {
        rc = rbi_error_set(err, c.rc, "%s", c.err.msg);
        goto out_free;
    }
    rc = rbi_plan_finish(pl->p, err);
    if (rc != RB_OK)
        goto out_free;
    *out = pl;
    return RB_OK;

out_free:
    rb_plan_free(pl);
    return rc;
}

/* {===================================================================================
 * Checking and testing rule files
 * =================================================================================== */

rb_status rb_rules_check(const char *name, const char *src, size_t len, const rb_limits *limits,
                         rb_error *err)
{
    rb_plan *pl = NULL;
    rb_status rc = rb_plan_compile(&pl, name, src, len, limits, err);

    rb_plan_free(pl);
    return rc;
}

#define TEST_MAX 500   /* tests in one rule file */
#define EXPECT_MAX 500 /* expected lines of one test */
#define UPSTREAM_MAX 8 /* plans above the tested one */

struct texpect {
    char *key;
    rb_dec want;
};

struct tcase {
    char *name;
    char *where;
    int month;
    char *customer;
    char *usage;      /* inline CSV */
    char *usage_file; /* or a path beside the rule file */
    char *upstream[UPSTREAM_MAX];
    int nup;
    char *expect_error;
    bool has_lines;
    struct texpect *lines;
    int nlines;
    /* totals: subtotal tax total margin cost price; has[i] when given */
    rb_dec tot[6];
    bool has[6];
    char *currency;
};

static const char *const total_names[6] = {"subtotal", "tax", "total", "margin", "cost", "price"};

struct tread {
    int rule;
    struct tcase *v; /* allocated before the run: TEST_MAX entries */
    int n;
    char msg[600];
    rb_status rc;
};

static void tcase_release(struct tcase *t)
{
    rbi_free(t->name);
    rbi_free(t->where);
    rbi_free(t->customer);
    rbi_free(t->usage);
    rbi_free(t->usage_file);
    for (int i = 0; i < t->nup; i++)
        rbi_free(t->upstream[i]);
    rbi_free(t->expect_error);
    for (int i = 0; i < t->nlines; i++)
        rbi_free(t->lines[i].key);
    rbi_free(t->lines);
    rbi_free(t->currency);
}

/* Copy t[key] (a string) into *dst (NULL when absent). Allocates: *dst is reachable from the
 * caller's array, so a Lua error leaks nothing. */
static bool tr_str(lua_State *L, int t, const char *key, char **dst)
{
    size_t len;
    const char *s;

    lua_pushstring(L, key);
    if (lua_rawget(L, t) != LUA_TSTRING) {
        lua_pop(L, 1);
        return true;
    }
    s = lua_tolstring(L, -1, &len);
    *dst = rbi_malloc(len + 1);
    if (*dst) {
        memcpy(*dst, s, len);
        (*dst)[len] = '\0';
    }
    lua_pop(L, 1);
    return *dst != NULL;
}

static bool tr_fail(struct tread *c, rb_status rc, const char *where, const char *what)
{
    snprintf(c->msg, sizeof(c->msg), "%s: rebill.test: %s", where, what);
    c->rc = rc;
    return false;
}

/* One rebill.test{} (already checked for its shape by the constructor and the compiler). */
static bool read_test(lua_State *L, int t, struct tread *c, struct tcase *tc)
{
    char *period = NULL;
    int e, top;

    if (!tr_str(L, t, "name", &tc->name) || !tr_str(L, t, "where", &tc->where) ||
        !tr_str(L, t, "customer", &tc->customer) || !tr_str(L, t, "usage", &tc->usage) ||
        !tr_str(L, t, "usage_file", &tc->usage_file) ||
        !tr_str(L, t, "expect_error", &tc->expect_error) || !tr_str(L, t, "period", &period))
        return tr_fail(c, RB_NOMEM, "(test)", "out of memory");
    if (!tc->name || !tc->where)
        return tr_fail(c, RB_INVALID, "(test)", "a test needs a name");
    if (rb_month_parse(&tc->month, period ? period : "2026-01", NULL) != RB_OK)
        tc->month = 0;
    rbi_free(period);
    lua_pushliteral(L, "upstream");
    e = lua_rawget(L, t);
    if (e == LUA_TSTRING) {
        tc->upstream[tc->nup++] = rbi_strdup(lua_tostring(L, -1));
    } else if (e == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n > UPSTREAM_MAX)
            return tr_fail(c, RB_INVALID, tc->where, "at most 8 upstream plans");
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
                tc->upstream[tc->nup++] = rbi_strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    for (int i = 0; i < tc->nup; i++)
        if (!tc->upstream[i])
            return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
    lua_pushliteral(L, "expect");
    if (lua_rawget(L, t) != LUA_TTABLE) {
        lua_pop(L, 1);
        return true;
    }
    top = lua_gettop(L);
    for (int i = 0; i < 6; i++) {
        lua_pushstring(L, total_names[i]);
        if (lua_rawget(L, top) != LUA_TNIL) {
            if (!rbi_lua_to_dec(L, -1, &tc->tot[i]))
                return tr_fail(c, RB_INVALID, tc->where, "expected totals must be amounts");
            tc->has[i] = true;
        }
        lua_pop(L, 1);
    }
    if (!tr_str(L, top, "currency", &tc->currency))
        return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
    lua_pushliteral(L, "lines");
    if (lua_rawget(L, top) == LUA_TTABLE) {
        int lt = lua_gettop(L);
        tc->has_lines = true;
        tc->lines = rbi_calloc(EXPECT_MAX, sizeof(*tc->lines));
        if (!tc->lines)
            return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
        lua_pushnil(L);
        while (lua_next(L, lt)) {
            struct texpect *x;
            if (lua_type(L, -2) != LUA_TSTRING)
                return tr_fail(c, RB_INVALID, tc->where, "'expect.lines' keys must be names");
            if (tc->nlines == EXPECT_MAX)
                return tr_fail(c, RB_INVALID, tc->where, "at most 500 expected lines");
            x = &tc->lines[tc->nlines];
            if (!rbi_lua_to_dec(L, -1, &x->want)) {
                char w[200];
                snprintf(w, sizeof(w), "'expect.lines'[\"%.64s\"] must be an amount",
                         lua_tostring(L, -2));
                return tr_fail(c, RB_INVALID, tc->where, w);
            }
            x->key = rbi_strdup(lua_tostring(L, -2));
            if (!x->key)
                return tr_fail(c, RB_NOMEM, tc->where, "out of memory");
            tc->nlines++;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top - 1);
    return true;
}

static void read_tests_fn(lua_State *L, void *vctx)
{
    struct tread *c = vctx;
    int plan, tests;
    lua_Integer n;

    rbi_sandbox_push_rule(L, c->rule);
    plan = lua_gettop(L);
    lua_pushliteral(L, "tests");
    if (lua_rawget(L, plan) != LUA_TTABLE) {
        lua_settop(L, plan - 1);
        return;
    }
    tests = lua_gettop(L);
    n = (lua_Integer)lua_rawlen(L, tests);
    if (n > TEST_MAX) {
        snprintf(c->msg, sizeof(c->msg), "at most %d tests in one rule file", TEST_MAX);
        c->rc = RB_INVALID;
        n = 0;
    }
    for (lua_Integer i = 1; i <= n && c->rc == RB_OK; i++) {
        lua_rawgeti(L, tests, i);
        if (lua_type(L, -1) == LUA_TTABLE && read_test(L, lua_gettop(L), c, &c->v[c->n]))
            c->n++;
        else if (c->rc == RB_OK)
            c->n++;
        lua_pop(L, 1);
    }
    lua_settop(L, plan - 1);
}

/* Read a whole file (at most RBI_SOURCE_MAX bytes + 1 to tell it is too big). */
static rb_status read_file(const char *path, char **out, size_t *len, size_t max, rb_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    if (!f)
        return rbi_error_set(err, RB_NOTFOUND, "cannot read %s: no such file or not readable",
                             path);
    buf = rbi_malloc(max + 2);
    if (!buf) {
        fclose(f);
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        fclose(f);
        rbi_free(buf);
        return rbi_error_set(err, RB_IO, "cannot read %s", path);
    }
    fclose(f);
    if (n > max) {
        rbi_free(buf);
        return rbi_error_set(err, RB_TOOBIG, "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return RB_OK;
}

/* dir of `path` + rel (rel as is when absolute). */
static char *beside(const char *path, const char *rel)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash && rel[0] != '/' ? (size_t)(slash - path + 1) : 0;
    char *p = rbi_malloc(dl + strlen(rel) + 1);

    if (p) {
        memcpy(p, path, dl);
        memcpy(p + dl, rel, strlen(rel) + 1);
    }
    return p;
}

/* Fixture usage: CSV with a header naming some of account, service, usage_type, operation,
 * region, line_type, entity, currency, quantity, billed, list, effective (docs/rules.md). */
enum {
    F_ACCOUNT,
    F_SERVICE,
    F_UT,
    F_OP,
    F_REGION,
    F_LT,
    F_ENTITY,
    F_CURRENCY,
    F_QTY,
    F_BILLED,
    F_LIST,
    F_EFF,
    F__COUNT
};
static const char *const fixture_cols[F__COUNT] = {
    "account", "service",  "usage_type", "operation", "region", "line_type",
    "entity",  "currency", "quantity",   "billed",    "list",   "effective"};

struct fixture {
    struct rbi_strtab st;
    rb_price_input *in;
    size_t n, cap;
};

static void fixture_release(struct fixture *fx)
{
    rbi_strtab_release(&fx->st);
    rbi_free(fx->in);
    memset(fx, 0, sizeof(*fx));
}

/* Rows with the same dimensions are one line, summed, as stored usage is (docs/rules.md "How
 * a bill is priced", step 1): a hook sees the line once, a ladder climbs by its total. The
 * first row's place is kept. Dimensions are interned, so equal ones are equal pointers. */
static bool same_dims(const rb_price_input *a, const rb_price_input *b)
{
    return a->account == b->account && a->service == b->service &&
           a->usage_type == b->usage_type && a->operation == b->operation &&
           a->region == b->region && a->line_type == b->line_type && a->entity == b->entity &&
           memcmp(a->currency, b->currency, 4) == 0;
}

static rb_status fixture_merge(struct fixture *fx, const char *what, rb_error *err)
{
    size_t cap = 16, w = 0, *slot;
    rb_status rc = RB_OK;

    while (cap < 2 * fx->n + 2)
        cap *= 2;
    slot = rbi_malloc(cap * sizeof(*slot));
    if (!slot)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    memset(slot, 0xff, cap * sizeof(*slot)); /* SIZE_MAX: empty */
    for (size_t i = 0; i < fx->n && rc == RB_OK; i++) {
        rb_price_input *in = &fx->in[i];
        const void *k[] = {in->account, in->service, in->usage_type, in->operation,
                           in->region,  in->line_type, in->entity};
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        size_t j;

        for (size_t m = 0; m < sizeof(k) / sizeof(*k); m++)
            h = (h ^ (uint64_t)(uintptr_t)k[m]) * 0xff51afd7ed558ccdULL;
        for (j = (h ^ (h >> 32)) & (cap - 1); slot[j] != SIZE_MAX; j = (j + 1) & (cap - 1))
            if (same_dims(&fx->in[slot[j]], in))
                break;
        if (slot[j] == SIZE_MAX) {
            slot[j] = w;
            fx->in[w++] = *in;
            continue;
        }
        rb_price_input *t = &fx->in[slot[j]];
        if (rb_dec_add(&t->quantity, &t->quantity, &in->quantity) != RB_OK ||
            rb_dec_add(&t->billed, &t->billed, &in->billed) != RB_OK ||
            rb_dec_add(&t->list, &t->list, &in->list) != RB_OK ||
            rb_dec_add(&t->effective, &t->effective, &in->effective) != RB_OK)
            rc = rbi_error_set(err, RB_INVALID,
                               "%s: rows of %s / %s / %s add up to more than 38 digits", what,
                               in->account, in->service, in->usage_type);
    }
    rbi_free(slot);
    if (rc == RB_OK)
        fx->n = w;
    return rc;
}

static rb_status fixture_parse(const char *what, const char *text, size_t len, struct fixture *fx,
                               rb_error *err)
{
    struct rbi_csv_fields f;
    int col[F__COUNT];
    size_t off = 0, used;
    uint64_t nl, line = 1;
    rb_status rc = RB_OK;
    bool header = true;

    memset(&f, 0, sizeof(f));
    for (int i = 0; i < F__COUNT; i++)
        col[i] = -1;
    /* Inline CSV in a Lua long string usually starts with a newline and is indented. */
    while (off < len && (text[off] == '\n' || text[off] == '\r'))
        off++, line++;
    while (off < len && rc == RB_OK) {
        size_t start = off;
        while (off < len && (text[off] == ' ' || text[off] == '\t'))
            off++;
        if (off < len && (text[off] == '\n' || text[off] == '\r')) { /* a blank line */
            off++;
            line++;
            continue;
        }
        if (off >= len)
            break;
        (void)start;
        rc = rbi_csv_parse_record(text + off, len - off, &f, &used, &nl, err);
        if (rc != RB_OK) {
            rc = rbi_error_set(err, RB_SYNTAX, "%s:%llu: %s", what, (unsigned long long)line,
                               err ? err->msg : "bad CSV");
            break;
        }
        if (header) {
            for (size_t i = 0; i < f.n; i++) {
                const char *name = rbi_csv_field(&f, i);
                int k;
                for (k = 0; k < F__COUNT && strcmp(fixture_cols[k], name) != 0; k++)
                    ;
                if (k == F__COUNT) {
                    rc = rbi_error_set(err, RB_INVALID,
                                       "%s:%llu: unknown column \"%.40s\" (columns: account, "
                                       "service, usage_type, operation, region, line_type, "
                                       "entity, currency, quantity, billed, list, effective)",
                                       what, (unsigned long long)line, name);
                    break;
                }
                col[k] = (int)i;
            }
            if (rc == RB_OK && (col[F_SERVICE] < 0 || (col[F_BILLED] < 0 && col[F_LIST] < 0)))
                rc = rbi_error_set(err, RB_INVALID,
                                   "%s:%llu: the header needs 'service' and 'billed' or 'list'",
                                   what, (unsigned long long)line);
            header = false;
        } else {
            rb_price_input *in;
            const char *v[F__COUNT];
            static const char *const dflt[F__COUNT] = {"111111111111", "",    "",  "", "", "Usage",
                                                       "AWS",          "USD", "0", "", "", ""};
            if (f.n != (size_t)0 && f.n < (size_t)(col[F_SERVICE] + 1)) {
                rc = rbi_error_set(err, RB_INVALID, "%s:%llu: too few fields", what,
                                   (unsigned long long)line);
                break;
            }
            if (fx->n == fx->cap) {
                size_t cap = fx->cap ? fx->cap * 2 : 64;
                void *nv = rbi_realloc(fx->in, cap * sizeof(*fx->in));
                if (!nv) {
                    rc = rbi_error_set(err, RB_NOMEM, "out of memory");
                    break;
                }
                fx->in = nv;
                fx->cap = cap;
            }
            for (int k = 0; k < F__COUNT; k++) {
                v[k] = col[k] >= 0 && (size_t)col[k] < f.n ? rbi_csv_field(&f, (size_t)col[k])
                                                           : dflt[k];
                if (!*v[k] && k < F_QTY && k != F_UT && k != F_OP && k != F_REGION)
                    v[k] = dflt[k];
            }
            /* billed and list default to each other; effective to billed */
            if (!*v[F_BILLED])
                v[F_BILLED] = v[F_LIST];
            if (!*v[F_LIST])
                v[F_LIST] = v[F_BILLED];
            if (!*v[F_EFF])
                v[F_EFF] = v[F_BILLED];
            in = &fx->in[fx->n];
            memset(in, 0, sizeof(*in));
            if (strlen(v[F_CURRENCY]) != 3) {
                rc = rbi_error_set(err, RB_INVALID,
                                   "%s:%llu: column currency: want a 3-letter "
                                   "code, got \"%.16s\"",
                                   what, (unsigned long long)line, v[F_CURRENCY]);
                break;
            }
            if (!*v[F_SERVICE]) {
                rc = rbi_error_set(err, RB_INVALID, "%s:%llu: column service is empty", what,
                                   (unsigned long long)line);
                break;
            }
            in->account = rbi_strtab_intern(&fx->st, v[F_ACCOUNT], strlen(v[F_ACCOUNT]));
            in->service = rbi_strtab_intern(&fx->st, v[F_SERVICE], strlen(v[F_SERVICE]));
            in->usage_type = rbi_strtab_intern(&fx->st, v[F_UT], strlen(v[F_UT]));
            in->operation = rbi_strtab_intern(&fx->st, v[F_OP], strlen(v[F_OP]));
            in->region = rbi_strtab_intern(&fx->st, v[F_REGION], strlen(v[F_REGION]));
            in->line_type = rbi_strtab_intern(&fx->st, v[F_LT], strlen(v[F_LT]));
            in->entity = rbi_strtab_intern(&fx->st, v[F_ENTITY], strlen(v[F_ENTITY]));
            memcpy(in->currency, v[F_CURRENCY], 4);
            if (!in->account || !in->service || !in->usage_type || !in->operation || !in->region ||
                !in->line_type || !in->entity) {
                rc = rbi_error_set(err, RB_NOMEM, "out of memory");
                break;
            }
            for (int k = F_QTY; k <= F_EFF; k++) {
                rb_dec *d = k == F_QTY      ? &in->quantity
                            : k == F_BILLED ? &in->billed
                            : k == F_LIST   ? &in->list
                                            : &in->effective;
                if (rb_dec_parse(d, v[k], strlen(v[k]), NULL) != RB_OK) {
                    rc = rbi_error_set(err, RB_INVALID,
                                       "%s:%llu: column %s: not a decimal "
                                       "number: \"%.40s\"",
                                       what, (unsigned long long)line, fixture_cols[k], v[k]);
                    break;
                }
            }
            if (rc == RB_OK)
                fx->n++;
        }
        off += used;
        line += nl;
    }
    rbi_csv_fields_release(&f);
    if (rc == RB_OK && header)
        rc = rbi_error_set(err, RB_INVALID, "%s: no CSV header", what);
    if (rc == RB_OK)
        rc = fixture_merge(fx, what, err);
    return rc;
}

/* Compare `got` with `want` at want's scale (at least cents); a line of detail if they differ. */
static void expect_amount(struct rb_buf *d, const char *what, const rb_dec *want, const rb_dec *got)
{
    int scale = want->scale < 2 ? 2 : want->scale;
    rb_dec g, w;
    char gb[RB_DEC_BUFSZ], wb[RB_DEC_BUFSZ];

    if (rb_dec_round(&g, got, scale, RB_ROUND_HALF_EVEN) != RB_OK ||
        rb_dec_round(&w, want, scale, RB_ROUND_HALF_EVEN) != RB_OK || rb_dec_cmp(&g, &w) != 0) {
        rb_dec_round(&g, got, scale, RB_ROUND_HALF_EVEN);
        rb_dec_round(&w, want, scale, RB_ROUND_HALF_EVEN);
        rb_dec_format(&g, gb, sizeof(gb));
        rb_dec_format(&w, wb, sizeof(wb));
        rbi_buf_printf(d, "    %s: want %s, got %s\n", what, wb, gb);
    }
}

struct tgroups {
    struct tcase *tc;
    bool *seen;
    struct rb_buf *d;
};

static rb_status tgroup(const rb_price_group *g, void *vctx)
{
    struct tgroups *c = vctx;

    for (int i = 0; i < c->tc->nlines; i++) {
        if (strcmp(c->tc->lines[i].key, g->key) == 0) {
            c->seen[i] = true;
            expect_amount(c->d, g->key, &c->tc->lines[i].want, &g->amount);
            return RB_OK;
        }
    }
    {
        char gb[RB_DEC_BUFSZ];
        rb_dec r;
        rb_dec_round(&r, &g->amount, 2, RB_ROUND_HALF_EVEN);
        rb_dec_format(&r, gb, sizeof(gb));
        rbi_buf_printf(c->d, "    %s: not expected, got %s\n", g->key, gb);
    }
    return RB_OK;
}

/* Run one test; detail gets one line per difference (empty when it passed). */
static void run_test(const char *path, const char *src, size_t len, const rb_limits *limits,
                     struct tcase *tc, struct rb_buf *d)
{
    struct fixture fx;
    rb_error err;
    rb_plan *pl = NULL;
    rb_priced *res = NULL;
    rb_dec *cost = NULL;
    char *csv = NULL, *upath = NULL;
    size_t csvlen = 0;
    rb_status rc = RB_OK;

    memset(&fx, 0, sizeof(fx));
    err.msg[0] = '\0';
    if (tc->usage_file) {
        upath = beside(path, tc->usage_file);
        rc = upath ? read_file(upath, &csv, &csvlen, (size_t)64 << 20, &err)
                   : rbi_error_set(&err, RB_NOMEM, "out of memory");
        if (rc == RB_OK)
            rc = fixture_parse(upath, csv, csvlen, &fx, &err);
    } else if (tc->usage) {
        char what[RBI_WHERE_MAX + 16];
        snprintf(what, sizeof(what), "%s usage", tc->where);
        rc = fixture_parse(what, tc->usage, strlen(tc->usage), &fx, &err);
    }
    if (rc != RB_OK) {
        rbi_buf_printf(d, "    fixture: %s\n", err.msg);
        goto out;
    }
    /* upstream plans, farthest first: each prices the lines at the cost the one above set */
    for (int u = tc->nup - 1; u >= 0 && rc == RB_OK; u--) {
        char *up = beside(path, tc->upstream[u]), *usrc = NULL;
        size_t ulen = 0;
        rb_plan *upl = NULL;
        rb_priced *ur = NULL;
        rb_price_request req = {tc->customer ? tc->customer : "o-testcustomer", tc->month, fx.in,
                                fx.n, cost, true};
        rc = up ? read_file(up, &usrc, &ulen, RBI_SOURCE_MAX, &err)
                : rbi_error_set(&err, RB_NOMEM, "out of memory");
        if (rc == RB_OK)
            rc = rb_plan_compile(&upl, up, usrc, ulen, limits, &err);
        if (rc == RB_OK)
            rc = rb_price(upl, &req, &ur, &err);
        if (rc == RB_OK) {
            rb_dec *next = rbi_malloc((fx.n + 1) * sizeof(*next));
            if (next) {
                for (size_t i = 0; i < fx.n; i++)
                    next[i] = rb_priced_input_price(ur, i);
                rbi_free(cost);
                cost = next;
            } else {
                rc = rbi_error_set(&err, RB_NOMEM, "out of memory");
            }
        }
        if (rc != RB_OK)
            rbi_buf_printf(d, "    upstream %s: %s\n", tc->upstream[u], err.msg);
        rb_priced_free(ur);
        rb_plan_free(upl);
        rbi_free(usrc);
        rbi_free(up);
    }
    if (rc != RB_OK)
        goto out;
    {
        rb_price_request req = {tc->customer ? tc->customer : "o-testcustomer", tc->month, fx.in,
                                fx.n, cost, false};
        rc = rb_plan_compile(&pl, path, src, len, limits, &err);
        if (rc == RB_OK)
            rc = rb_price(pl, &req, &res, &err);
    }
    if (tc->expect_error) {
        if (rc == RB_OK)
            rbi_buf_printf(d, "    want an error containing \"%s\", got none\n", tc->expect_error);
        else if (!strstr(err.msg, tc->expect_error))
            rbi_buf_printf(d, "    want an error containing \"%s\", got: %s\n", tc->expect_error,
                           err.msg);
        goto out;
    }
    if (rc != RB_OK) {
        rbi_buf_printf(d, "    %s\n", err.msg);
        goto out;
    }
    if (tc->has_lines) {
        bool *seen = rbi_calloc((size_t)tc->nlines + 1, sizeof(bool));
        struct tgroups g = {tc, seen, d};
        if (seen) {
            rb_priced_groups(res, tgroup, &g);
            for (int i = 0; i < tc->nlines; i++)
                if (!seen[i]) {
                    char wb[RB_DEC_BUFSZ];
                    rb_dec_format(&tc->lines[i].want, wb, sizeof(wb));
                    rbi_buf_printf(d, "    %s: want %s, got no line\n", tc->lines[i].key, wb);
                }
        }
        rbi_free(seen);
    }
    {
        const rb_price_totals *t = rb_priced_totals(res);
        const rb_price_margin *m = rb_priced_margin(res);
        const rb_dec *got[6] = {&t->subtotal, &t->tax, &t->total, &m->margin, &m->cost, &m->price};
        for (int i = 0; i < 6; i++)
            if (tc->has[i])
                expect_amount(d, total_names[i], &tc->tot[i], got[i]);
        if (tc->currency && strcmp(tc->currency, t->currency) != 0)
            rbi_buf_printf(d, "    currency: want %s, got %s\n", tc->currency, t->currency);
    }
out:
    rb_priced_free(res);
    rb_plan_free(pl);
    rbi_free(cost);
    rbi_free(csv);
    rbi_free(upath);
    fixture_release(&fx);
}

rb_status rb_rules_test_file(const char *path, const rb_limits *limits, rb_rules_test_cb cb,
                             void *ctx, long *passed, long *failed, rb_error *err)
{
    struct tread tr;
    rb_plan *pl = NULL;
    char *src = NULL;
    size_t len = 0;
    rb_status rc;

    if (passed)
        *passed = 0;
    if (failed)
        *failed = 0;
    if (!path || !cb)
        return rbi_error_set(err, RB_MISUSE, "rb_rules_test_file: missing argument");
    memset(&tr, 0, sizeof(tr));
    rc = read_file(path, &src, &len, RBI_SOURCE_MAX, err);
    if (rc == RB_OK)
        rc = rb_plan_compile(&pl, path, src, len, limits, err);
    if (rc != RB_OK)
        goto out;
    tr.v = rbi_calloc(TEST_MAX, sizeof(*tr.v));
    if (!tr.v) {
        rc = rbi_error_set(err, RB_NOMEM, "out of memory");
        goto out;
    }
    tr.rule = pl->rule;
    rbi_sandbox_begin(pl->sb);
    rc = rbi_sandbox_run(pl->sb, read_tests_fn, &tr);
    if (rc != RB_OK) {
        rbi_error_set(err, rc, "%s", rbi_sandbox_errmsg(pl->sb));
        goto out;
    }
    if (tr.rc != RB_OK) {
        rc = rbi_error_set(err, tr.rc, "%s", tr.msg);
        goto out;
    }
    if (tr.n == 0) {
        rc = rbi_error_set(err, RB_INVALID,
                           "%s: no tests (add tests = { rebill.test{...} } to "
                           "the plan)",
                           path);
        goto out;
    }
    for (int i = 0; i < tr.n && rc == RB_OK; i++) {
        struct rb_buf d = {0};
        rb_rules_test_case tc;
        run_test(path, src, len, limits, &tr.v[i], &d);
        tc.file = path;
        tc.name = tr.v[i].name;
        tc.passed = d.len == 0;
        tc.detail = d.data ? d.data : "";
        if (tc.passed && passed)
            (*passed)++;
        if (!tc.passed && failed)
            (*failed)++;
        rc = cb(&tc, ctx);
        rbi_buf_release(&d);
    }
out:
    for (int i = 0; tr.v && i < TEST_MAX; i++)
        tcase_release(&tr.v[i]);
    rbi_free(tr.v);
    rb_plan_free(pl);
    rbi_free(src);
    return rc;
}

