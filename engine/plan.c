/*
 * plan.c -- pricing plans: the plan model, its compiler from the table a rule file returns,
 * and plan storage (assignments by month, rule files by content hash).
 *
 * Provides: rbi_plan_* of plan.h (build, index, read from Lua), and rb_plan_assign,
 * rb_plan_unassign, rb_plan_at, rb_plan_list, rb_plan_periods, rb_plan_history and
 * rb_rules_get of include/rebill.h.
 * Uses: exact decimals (dec.c), the key/value layer, the Lua API (raw access only) inside the
 * sandbox's protected calls, rbi_hash64 (usage.h) for content hashes.
 * Must never: run rule code (no lua_gettable, no luaL_tolstring, no metamethod: every read is
 * raw and type-checked), keep a pointer into a Lua string, or let two rules claim one scope.
 *
 * Storage (docs/storage.md):
 *   plans  ORG NUL 'p' be32(from)  -> assignment: to, hash (8 bytes), name, assigned_at
 *   plans  ORG NUL 'e' be32(seq)   -> event: at, action, from, to, hash, name
 *   rules  be64(hash)              -> rule file: name, stored_at, content
 * Assignments of one org never overlap: a new one cuts the ones it covers.
 */
#include "plan.h"
#include "sandbox.h"
#include "usage.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {===================================================================================
 * The plan and its string pool
 * =================================================================================== */

const char *rbi_plan_str(struct rbi_plan *p, const char *s)
{
    if (!s)
        return NULL;
    return rbi_pool_strndup(&p->pool, s, strlen(s));
}

static void apply_base_defaults(struct rbi_plan *p, const bool *set)
{
    for (int t = 0; t < RBI_LT__COUNT; t++)
        if (!set || !set[t])
            p->action[t] = (unsigned char)rbi_policy_default(p->base, (enum rbi_ltype)t);
}

rb_status rbi_plan_new(struct rbi_plan **out, enum rbi_base base, const char *name)
{
    struct rbi_plan *p = rbi_calloc(1, sizeof(*p));

    *out = NULL;
    if (!p)
        return RB_NOMEM;
    p->base = base;
    p->free_tier = true;
    p->rounding = RB_ROUND_HALF_EVEN;
    p->global = -1;
    p->on_line = LUA_NOREF;
    p->on_invoice = LUA_NOREF;
    rbi_strlcpy(p->name, name ? name : "", sizeof(p->name));
    rbi_strlcpy(p->file, "(default)", sizeof(p->file));
    p->tax_rate = rb_dec_zero();
    apply_base_defaults(p, NULL);
    *out = p;
    return RB_OK;
}

void rbi_plan_set_base(struct rbi_plan *p, enum rbi_base base)
{
    unsigned char keep[RBI_LT__COUNT];
    bool set[RBI_LT__COUNT];

    /* An action differs from the old base's default only if it was set explicitly. */
    for (int t = 0; t < RBI_LT__COUNT; t++) {
        keep[t] = p->action[t];
        set[t] = keep[t] != (unsigned char)rbi_policy_default(p->base, (enum rbi_ltype)t);
    }
    p->base = base;
    apply_base_defaults(p, set);
}

void rbi_plan_free(struct rbi_plan *p)
{
    if (!p)
        return;
    rbi_pool_release(&p->pool);
    rbi_free(p->rules);
    rbi_free(p->items);
    rbi_free(p->fx);
    rbi_free(p->index);
    rbi_free(p);
}

/* {===================================================================================
 * Rules, items, exchange rates
 * =================================================================================== */

static bool grow(void **v, int *cap, int need, size_t size, int max)
{
    int ncap;
    void *nv;

    if (need <= *cap)
        return true;
    if (need > max)
        return false;
    ncap = *cap ? *cap * 2 : 8;
    if (ncap < need)
        ncap = need;
    if (ncap > max)
        ncap = max;
    nv = rbi_realloc(*v, (size_t)ncap * size);
    if (!nv)
        return false;
    *v = nv;
    *cap = ncap;
    return true;
}

static const char *where_of(const char *w)
{
    return w && *w ? w : "(plan)";
}

static rb_status check_tiers(const struct rbi_tier *t, int n, const char *what, const char *where,
                             rb_error *err)
{
    if (n < 1 || n > RBI_TIERS_MAX)
        return rbi_error_set(err, RB_INVALID, "%s: %s: want 1..%d tiers, got %d", where_of(where),
                             what, RBI_TIERS_MAX, n);
    for (int i = 0; i < n; i++) {
        if (t[i].open && i < n - 1)
            return rbi_error_set(err, RB_INVALID,
                                 "%s: %s: tier %d: only the last tier may leave out 'upto'",
                                 where_of(where), what, i + 1);
        if (!t[i].open && i == n - 1)
            return rbi_error_set(err, RB_INVALID,
                                 "%s: %s: tier %d: the last tier takes everything above the "
                                 "others: leave out its 'upto'",
                                 where_of(where), what, i + 1);
        if (!t[i].open && rb_dec_sign(&t[i].upto) <= 0)
            return rbi_error_set(err, RB_INVALID, "%s: %s: tier %d: 'upto' must be above 0",
                                 where_of(where), what, i + 1);
        if (i > 0 && !t[i].open && rb_dec_cmp(&t[i].upto, &t[i - 1].upto) <= 0)
            return rbi_error_set(err, RB_INVALID,
                                 "%s: %s: tier %d: 'upto' must be above the previous tier's",
                                 where_of(where), what, i + 1);
    }
    return RB_OK;
}

static struct rbi_tier *copy_tiers(struct rbi_plan *p, const struct rbi_tier *t, int n)
{
    struct rbi_tier *c = rbi_pool_alloc(&p->pool, sizeof(*c) * (size_t)n);

    if (c)
        memcpy(c, t, sizeof(*c) * (size_t)n);
    return c;
}

/* factor = 1 + percent/100, exact. */
static rb_status percent_factor(const rb_dec *pct, rb_dec *factor)
{
    rb_dec hundred = rb_dec_from_int(100), one = rb_dec_from_int(1), f;
    int scale = pct->scale + 2;

    if (scale > RB_DEC_MAX_SCALE)
        return RB_OVERFLOW;
    if (rb_dec_div(&f, pct, &hundred, scale, RB_ROUND_HALF_EVEN) != RB_OK)
        return RB_OVERFLOW;
    return rb_dec_add(factor, &one, &f);
}

/* What a rule must be, whatever plan it goes to. */
static rb_status rule_check(const struct rbi_rule *r, rb_error *err)
{
    rb_dec lo = rb_dec_from_int(-100), hi = rb_dec_from_int(10000);

    if (r->entity && (r->service || r->usage_type || r->operation))
        return rbi_error_set(err, RB_INVALID,
                             "%s: a billing entity scope takes no service, usage type or "
                             "operation",
                             where_of(r->where));
    if (r->operation && !r->usage_type)
        return rbi_error_set(err, RB_INVALID, "%s: an operation needs a usage type (SKU scope)",
                             where_of(r->where));
    switch (r->kind) {
    case RBI_RULE_PERCENT:
        if (rb_dec_cmp(&r->percent, &lo) < 0 || rb_dec_cmp(&r->percent, &hi) > 0)
            return rbi_error_set(err, RB_INVALID, "%s: percent out of range -100..10000",
                                 where_of(r->where));
        break;
    case RBI_RULE_RATE:
        if (!r->usage_type)
            return rbi_error_set(err, RB_INVALID, "%s: a rate needs a usage type",
                                 where_of(r->where));
        if (rb_dec_sign(&r->rate) < 0)
            return rbi_error_set(err, RB_INVALID, "%s: a rate must not be negative",
                                 where_of(r->where));
        break;
    case RBI_RULE_TIERED: {
        rb_status rc;
        if (!r->usage_type)
            return rbi_error_set(err, RB_INVALID, "%s: tiers need a usage type",
                                 where_of(r->where));
        rc = check_tiers(r->tiers, r->ntiers, "tiers", r->where, err);
        if (rc != RB_OK)
            return rc;
        for (int i = 0; i < r->ntiers; i++)
            if (rb_dec_sign(&r->tiers[i].value) < 0)
                return rbi_error_set(err, RB_INVALID, "%s: tier %d: price must not be negative",
                                     where_of(r->where), i + 1);
        break;
    }
    default:
        return rbi_error_set(err, RB_INVALID, "%s: unknown rule kind", where_of(r->where));
    }
    return RB_OK;
}

rb_status rbi_plan_add_rule(struct rbi_plan *p, const struct rbi_rule *r, rb_error *err)
{
    struct rbi_rule *d;
    rb_status rc;

    if (p->finished)
        return rbi_error_set(err, RB_MISUSE, "plan already finished");
    rc = rule_check(r, err);
    if (rc != RB_OK)
        return rc;
    if (!grow((void **)&p->rules, &p->caprules, p->nrules + 1, sizeof(*p->rules), RBI_RULES_MAX))
        return rbi_error_set(err, p->nrules + 1 > RBI_RULES_MAX ? RB_INVALID : RB_NOMEM,
                             "%s: too many rules (at most %d)", where_of(r->where), RBI_RULES_MAX);
    d = &p->rules[p->nrules];
    *d = *r;
    d->service = rbi_plan_str(p, r->service);
    d->entity = rbi_plan_str(p, r->entity);
    d->usage_type = rbi_plan_str(p, r->usage_type);
    d->operation = rbi_plan_str(p, r->operation);
    d->tiers = NULL;
    if ((r->service && !d->service) || (r->entity && !d->entity) ||
        (r->usage_type && !d->usage_type) || (r->operation && !d->operation))
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    if (r->kind == RBI_RULE_PERCENT && percent_factor(&r->percent, &d->factor) != RB_OK)
        return rbi_error_set(err, RB_INVALID, "%s: percent has too many digits",
                             where_of(r->where));
    if (r->kind == RBI_RULE_TIERED) {
        d->tiers = copy_tiers(p, r->tiers, r->ntiers);
        if (!d->tiers)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        d->slot = p->nslots++;
    }
    p->nrules++;
    return RB_OK;
}

int rbi_plan_item_find(const struct rbi_plan *p, const char *name)
{
    for (int i = 0; i < p->nitems; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return i;
    return -1;
}

static const char **copy_strs(struct rbi_plan *p, const char **v, int n, bool *ok)
{
    const char **c;

    *ok = true;
    if (n == 0)
        return NULL;
    c = rbi_pool_alloc(&p->pool, sizeof(*c) * (size_t)n);
    if (!c) {
        *ok = false;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        c[i] = rbi_plan_str(p, v[i]);
        if (!c[i])
            *ok = false;
    }
    return c;
}

rb_status rbi_plan_add_item(struct rbi_plan *p, const struct rbi_item *it, rb_error *err)
{
    struct rbi_item *d;
    const char *w = where_of(it->where);
    bool ok1, ok2, ok3;

    if (p->finished)
        return rbi_error_set(err, RB_MISUSE, "plan already finished");
    if (!it->name[0])
        return rbi_error_set(err, RB_INVALID, "%s: an item needs a 'name'", w);
    if (rbi_plan_item_find(p, it->name) >= 0)
        return rbi_error_set(err, RB_INVALID, "%s: two items named \"%s\"", w, it->name);
    if (it->kind == RBI_ITEM_COMMIT && it->amt != RBI_AMT_FLAT)
        return rbi_error_set(err, RB_INVALID, "%s: a commitment takes an 'amount' only", w);
    if (it->amt == RBI_AMT_TIERED) {
        rb_status rc = check_tiers(it->tiers, it->ntiers, "tiers", it->where, err);
        if (rc != RB_OK)
            return rc;
    }
    if (it->amt == RBI_AMT_FLAT && it->kind != RBI_ITEM_COMMIT) {
        if (it->has_min || it->has_max)
            return rbi_error_set(err, RB_INVALID,
                                 "%s: 'minimum' and 'maximum' need a percent "
                                 "or tiers",
                                 w);
        if (it->itemized)
            return rbi_error_set(err, RB_INVALID, "%s: a flat amount cannot be itemized", w);
    }
    if (it->itemized && (it->amt != RBI_AMT_PERCENT || !it->of_usage || it->nof_items > 0 ||
                         it->of_all_items || it->has_min || it->has_max))
        return rbi_error_set(err, RB_INVALID,
                             "%s: 'itemized' needs a percent of usage lines only (no items, "
                             "minimum or maximum)",
                             w);
    if (it->has_min && it->has_max && rb_dec_cmp(&it->minimum, &it->maximum) > 0)
        return rbi_error_set(err, RB_INVALID, "%s: 'minimum' is above 'maximum'", w);
    if (it->to != RB_MONTH_OPEN && it->to < it->from)
        return rbi_error_set(err, RB_INVALID, "%s: 'to' is before 'from'", w);
    if (it->every < 1 || it->every > 120)
        return rbi_error_set(err, RB_INVALID, "%s: 'every' must be 1..120 months", w);
    for (int i = 0; i < it->nof_items; i++)
        if (it->of_items[i] < 0 || it->of_items[i] >= p->nitems)
            return rbi_error_set(err, RB_INVALID, "%s: 'of' names an item not declared before", w);
    if (!grow((void **)&p->items, &p->capitems, p->nitems + 1, sizeof(*p->items), RBI_ITEMS_MAX))
        return rbi_error_set(err, p->nitems + 1 > RBI_ITEMS_MAX ? RB_INVALID : RB_NOMEM,
                             "%s: too many items (at most %d)", w, RBI_ITEMS_MAX);
    d = &p->items[p->nitems];
    *d = *it;
    d->tiers = NULL;
    d->of_items = NULL;
    if (it->amt == RBI_AMT_TIERED) {
        d->tiers = copy_tiers(p, it->tiers, it->ntiers);
        if (!d->tiers)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
    }
    if (it->nof_items > 0) {
        d->of_items = rbi_pool_alloc(&p->pool, sizeof(int) * (size_t)it->nof_items);
        if (!d->of_items)
            return rbi_error_set(err, RB_NOMEM, "out of memory");
        memcpy(d->of_items, it->of_items, sizeof(int) * (size_t)it->nof_items);
    }
    d->services = copy_strs(p, it->services, it->nservices, &ok1);
    d->line_types = copy_strs(p, it->line_types, it->nline_types, &ok2);
    d->entities = copy_strs(p, it->entities, it->nentities, &ok3);
    if (!ok1 || !ok2 || !ok3)
        return rbi_error_set(err, RB_NOMEM, "out of memory");
    p->nitems++;
    return RB_OK;
}

rb_status rbi_plan_add_fx(struct rbi_plan *p, int month, const rb_dec *rate, rb_error *err)
{
    char mb[16];

    if (rb_dec_sign(rate) <= 0) {
        rb_month_format(month, mb, sizeof(mb));
        return rbi_error_set(err, RB_INVALID, "%s: exchange rate for %s must be above 0",
                             where_of(p->fx_where), mb);
    }
    for (int i = 0; i < p->nfx; i++)
        if (p->fx[i].month == month) {
            rb_month_format(month, mb, sizeof(mb));
            return rbi_error_set(err, RB_INVALID, "%s: two exchange rates for %s",
                                 where_of(p->fx_where), mb);
        }
    if (!grow((void **)&p->fx, &p->capfx, p->nfx + 1, sizeof(*p->fx), RBI_FX_MAX))
        return rbi_error_set(err, p->nfx + 1 > RBI_FX_MAX ? RB_INVALID : RB_NOMEM,
                             "%s: too many exchange rates (at most %d)", where_of(p->fx_where),
                             RBI_FX_MAX);
    p->fx[p->nfx].month = month;
    p->fx[p->nfx].rate = *rate;
    p->nfx++;
    return RB_OK;
}

/* {===================================================================================
 * Reading plans from Lua
 *
 * The constructors (lapi_rebill.c) check their table when a rule file calls them, so a
 * mistake is reported at the line that makes it; the compiler reads the returned plan again
 * with the same code and builds the C structures. Every read is raw and type-checked: no
 * metamethod, no rule code. Strings are borrowed from Lua while a table is read and copied
 * into the plan when it is added.
 * =================================================================================== */

#define STR_MAX 256 /* bytes of a name, scope value or month text */

struct reader {
    lua_State *L;
    int t;             /* absolute index of the table */
    const char *kind;  /* "markup", ... */
    const char *where; /* "file:line" */
    rb_error *err;
};

static rb_status rd_fail(const struct reader *rd, const char *fmt, ...) RBI_PRINTF(2, 3);
static rb_status rd_fail(const struct reader *rd, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return rbi_error_set(rd->err, RB_INVALID, "%s: rebill.%s: %s", where_of(rd->where), rd->kind,
                         what);
}

/* Push t[key] (raw); returns its type. */
static int rd_get(const struct reader *rd, const char *key)
{
    lua_pushstring(rd->L, key);
    return lua_rawget(rd->L, rd->t);
}

/* The key names allowed in a table of this kind, NULL-terminated. */
static const char *const keys_plan[] = {
    "name", "base", "free_tier", "rounding", "passthrough", "on_line", "on_invoice", "tests", NULL};
static const char *const keys_adjust[] = {"percent",    "service",   "entity",
                                          "usage_type", "operation", NULL};
static const char *const keys_rate[] = {"price", "service", "usage_type", "operation", NULL};
static const char *const keys_tiered[] = {"tiers",      "volume",    "service",
                                          "usage_type", "operation", NULL};
static const char *const keys_item[] = {
    "name",       "amount",   "percent",  "tiers", "volume", "minimum", "maximum", "of", "services",
    "line_types", "entities", "itemized", "from",  "to",     "period",  "every",   NULL};
static const char *const keys_commit[] = {"name",       "amount",   "of",   "services",
                                          "line_types", "entities", "from", "to",
                                          "period",     "every",    NULL};
static const char *const keys_tax[] = {"name", "rate", "rates", "country", NULL};
static const char *const keys_currency[] = {"code", "rates", NULL};
static const char *const keys_test[] = {"name",         "period",   "usage",
                                        "usage_file",   "upstream", "expect",
                                        "expect_error", "customer", NULL};
static const char *const keys_expect[] = {"lines", "subtotal", "tax",      "total", "margin",
                                          "cost",  "price",    "currency", NULL};

static const struct {
    const char *kind;
    const char *const *keys;
    bool array; /* integer keys allowed (the plan's items) */
} kinds[] = {
    {"plan", keys_plan, true},        {"markup", keys_adjust, false},
    {"discount", keys_adjust, false}, {"rate", keys_rate, false},
    {"tiered", keys_tiered, false},   {"fee", keys_item, false},
    {"credit", keys_item, false},     {"commitment", keys_commit, false},
    {"tax", keys_tax, false},         {"currency", keys_currency, false},
    {"test", keys_test, false},
};

static int kind_find(const char *kind)
{
    for (size_t i = 0; i < RB_COUNTOF(kinds); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return (int)i;
    return -1;
}

static bool key_allowed(const char *const *keys, const char *k)
{
    for (; *keys; keys++)
        if (strcmp(*keys, k) == 0)
            return true;
    return false;
}

static void keys_text(const char *const *keys, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (; *keys && n + 1 < size; keys++) {
        int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", *keys);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* Every key is a string the kind allows ("kind" and "where" are the constructor's stamps),
 * or an integer when `array`. */
static rb_status rd_keys(const struct reader *rd, const char *const *keys, bool array)
{
    lua_State *L = rd->L;
    char allowed[300];

    lua_pushnil(L);
    while (lua_next(L, rd->t)) {
        int kt = lua_type(L, -2);
        lua_pop(L, 1);
        if (kt == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            if (strcmp(k, "kind") == 0 || strcmp(k, "where") == 0 || key_allowed(keys, k))
                continue;
            keys_text(keys, allowed, sizeof(allowed));
            lua_pop(L, 1);
            return rd_fail(rd, "unknown key '%.64s' (allowed: %s)", k, allowed);
        }
        if (kt == LUA_TNUMBER && array && lua_isinteger(L, -1))
            continue;
        lua_pop(L, 1);
        return rd_fail(rd, "keys must be names%s, not %s values", array ? " or list positions" : "",
                       lua_typename(L, kt));
    }
    return RB_OK;
}

static const char *type_of(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

/* t[key] as a string: *s NULL when absent. Borrowed from the table. */
static rb_status rd_str(const struct reader *rd, const char *key, const char **s, bool required)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key);
    size_t len;

    *s = NULL;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return required ? rd_fail(rd, "'%s' is required", key) : RB_OK;
    }
    if (t != LUA_TSTRING) {
        rb_status rc = rd_fail(rd, "'%s' must be a string, not a %s", key, type_of(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    *s = lua_tolstring(L, -1, &len);
    lua_pop(L, 1); /* the table keeps it alive */
    if (len == 0 || len > STR_MAX || strlen(*s) != len)
        return rd_fail(rd, "'%s' must be 1..%d bytes of text", key, STR_MAX);
    return RB_OK;
}

/* The value at idx as a decimal, without raising: money, integer, float (the shortest of
 * %.15g..%.17g that reads back, as lapi_dec.c does) or decimal text. */
bool rbi_lua_to_dec(lua_State *L, int idx, rb_dec *out)
{
    const rb_dec *m;
    char buf[48];
    size_t len;
    const char *s;

    idx = lua_absindex(L, idx); /* rbi_lapi_dec_test wants an absolute index */
    m = rbi_lapi_dec_test(L, idx);

    if (m) {
        *out = *m;
        return true;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            *out = rb_dec_from_int((int64_t)lua_tointeger(L, idx));
            return true;
        } else {
            double x = (double)lua_tonumber(L, idx);
            int prec;
            if (x != x || x > 1e300 || x < -1e300)
                return false;
            for (prec = 15; prec <= 17; prec++) {
                snprintf(buf, sizeof(buf), "%.*g", prec, x);
                if (strtod(buf, NULL) == x)
                    break;
            }
            for (char *p = buf; *p; p++)
                if (*p == ',') /* a locale's decimal comma */
                    *p = '.';
            return rb_dec_parse(out, buf, strlen(buf), NULL) == RB_OK;
        }
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        return rb_dec_parse(out, s, len, NULL) == RB_OK;
    default:
        return false;
    }
}

static rb_status rd_dec(const struct reader *rd, const char *key, rb_dec *d, bool *present,
                        bool required)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key);
    rb_status rc = RB_OK;

    *present = t != LUA_TNIL;
    if (t == LUA_TNIL)
        rc = required ? rd_fail(rd, "'%s' is required", key) : RB_OK;
    else if (!rbi_lua_to_dec(L, -1, d))
        rc = rd_fail(rd, "'%s' must be an amount (money, a number or decimal text), not %s%s", key,
                     t == LUA_TSTRING ? "the text " : "a ",
                     t == LUA_TSTRING ? lua_tostring(L, -1) : type_of(L, -1));
    lua_pop(L, 1);
    return rc;
}

static rb_status rd_bool(const struct reader *rd, const char *key, bool *b)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key);
    rb_status rc = RB_OK;

    if (t == LUA_TBOOLEAN)
        *b = lua_toboolean(L, -1);
    else if (t != LUA_TNIL)
        rc = rd_fail(rd, "'%s' must be true or false, not a %s", key, type_of(L, -1));
    lua_pop(L, 1);
    return rc;
}

static rb_status rd_month(const struct reader *rd, const char *key, int *m, bool *present)
{
    const char *s;
    rb_status rc = rd_str(rd, key, &s, false);

    *present = s != NULL;
    if (rc != RB_OK || !s)
        return rc;
    if (rb_month_parse(m, s, NULL) != RB_OK)
        return rd_fail(rd, "'%s' must be a month YYYY-MM, not \"%.32s\"", key, s);
    return RB_OK;
}

/* t[key] as a list of strings: one string or a table of them. */
static rb_status rd_strlist(const struct reader *rd, const char *key, const char **v, int *n)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key), top = lua_gettop(L);
    rb_status rc = RB_OK;
    lua_Integer len;

    *n = 0;
    if (t == LUA_TNIL)
        goto out;
    if (t == LUA_TSTRING) {
        v[(*n)++] = lua_tostring(L, -1);
        goto out;
    }
    if (t != LUA_TTABLE) {
        rc = rd_fail(rd, "'%s' must be a string or a list of strings, not a %s", key,
                     type_of(L, -1));
        goto out;
    }
    len = (lua_Integer)lua_rawlen(L, top);
    if (len < 1 || len > RBI_ITEM_SOURCES_MAX) {
        rc = rd_fail(rd, "'%s' must list 1..%d names", key, RBI_ITEM_SOURCES_MAX);
        goto out;
    }
    for (lua_Integer i = 1; i <= len; i++) {
        size_t sl;
        if (lua_rawgeti(L, top, i) != LUA_TSTRING) {
            rc = rd_fail(rd, "'%s'[%lld] must be a string, not a %s", key, (long long)i,
                         type_of(L, -1));
            goto out;
        }
        v[(*n)++] = lua_tolstring(L, -1, &sl);
        lua_pop(L, 1);
        if (sl == 0 || sl > STR_MAX) {
            rc = rd_fail(rd, "'%s'[%lld] must be 1..%d bytes", key, (long long)i, STR_MAX);
            goto out;
        }
    }
out:
    lua_settop(L, top - 1);
    return rc;
}

/* A ladder: { {upto = X, <vkey> = V}, ..., {<vkey> = V} }. */
static rb_status rd_tiers(const struct reader *rd, const char *key, const char *vkey,
                          struct rbi_tier *v, int *n)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key), top = lua_gettop(L);
    rb_status rc = RB_OK;
    lua_Integer len;

    *n = 0;
    if (t != LUA_TTABLE) {
        rc = rd_fail(rd, "'%s' must be a list of tiers {upto = ..., %s = ...}", key, vkey);
        goto out;
    }
    len = (lua_Integer)lua_rawlen(L, top);
    if (len < 1 || len > RBI_TIERS_MAX) {
        rc = rd_fail(rd, "'%s' must have 1..%d tiers", key, RBI_TIERS_MAX);
        goto out;
    }
    for (lua_Integer i = 1; i <= len && rc == RB_OK; i++) {
        struct reader sub = *rd;
        const char *const tkeys[] = {"upto", vkey, NULL};
        bool has;
        if (lua_rawgeti(L, top, i) != LUA_TTABLE) {
            rc = rd_fail(rd, "'%s'[%lld] must be a table {upto = ..., %s = ...}", key, (long long)i,
                         vkey);
            break;
        }
        sub.t = lua_gettop(L);
        rc = rd_keys(&sub, tkeys, false);
        if (rc == RB_OK)
            rc = rd_dec(&sub, "upto", &v[i - 1].upto, &has, false);
        if (rc == RB_OK) {
            v[i - 1].open = !has;
            rc = rd_dec(&sub, vkey, &v[i - 1].value, &has, true);
        }
        lua_pop(L, 1);
        (*n)++;
    }
    if (rc == RB_OK)
        rc = check_tiers(v, *n, key, rd->where, rd->err);
out:
    lua_settop(L, top - 1);
    return rc;
}

/* Scope fields: service, entity, usage_type, operation (entity only where allowed). */
static rb_status rd_scope(const struct reader *rd, struct rbi_rule *r, bool entity)
{
    rb_status rc = rd_str(rd, "service", &r->service, false);

    if (rc == RB_OK && entity)
        rc = rd_str(rd, "entity", &r->entity, false);
    if (rc == RB_OK)
        rc = rd_str(rd, "usage_type", &r->usage_type, false);
    if (rc == RB_OK)
        rc = rd_str(rd, "operation", &r->operation, false);
    return rc;
}

/* A rule from a markup, discount, rate or tiered table; tiers go to `tiers`. */
static rb_status rd_rule(const struct reader *rd, struct rbi_rule *r, struct rbi_tier *tiers)
{
    rb_dec zero = rb_dec_zero(), hundred = rb_dec_from_int(100);
    bool has;
    rb_status rc;

    memset(r, 0, sizeof(*r));
    rbi_strlcpy(r->where, where_of(rd->where), sizeof(r->where));
    if (strcmp(rd->kind, "markup") == 0 || strcmp(rd->kind, "discount") == 0) {
        r->kind = RBI_RULE_PERCENT;
        rc = rd_scope(rd, r, true);
        if (rc == RB_OK)
            rc = rd_dec(rd, "percent", &r->percent, &has, true);
        if (rc != RB_OK)
            return rc;
        if (rb_dec_cmp(&r->percent, &zero) < 0)
            return rd_fail(rd, "'percent' must not be negative (use rebill.%s)",
                           rd->kind[0] == 'm' ? "discount" : "markup");
        if (rd->kind[0] == 'd') {
            if (rb_dec_cmp(&r->percent, &hundred) > 0)
                return rd_fail(rd, "'percent' of a discount must be 0..100");
            r->percent = rb_dec_neg(&r->percent);
        }
    } else if (strcmp(rd->kind, "rate") == 0) {
        r->kind = RBI_RULE_RATE;
        rc = rd_scope(rd, r, false);
        if (rc == RB_OK)
            rc = rd_dec(rd, "price", &r->rate, &has, true);
        if (rc != RB_OK)
            return rc;
    } else {
        r->kind = RBI_RULE_TIERED;
        rc = rd_scope(rd, r, false);
        if (rc == RB_OK)
            rc = rd_bool(rd, "volume", &r->volume);
        if (rc == RB_OK)
            rc = rd_tiers(rd, "tiers", "price", tiers, &r->ntiers);
        if (rc != RB_OK)
            return rc;
        r->tiers = tiers;
    }
    if (r->kind != RBI_RULE_PERCENT && !r->usage_type)
        return rd_fail(rd, "'usage_type' is required");
    return RB_OK;
}

struct item_bufs {
    struct rbi_tier tiers[RBI_TIERS_MAX];
    const char *services[RBI_ITEM_SOURCES_MAX];
    const char *line_types[RBI_ITEM_SOURCES_MAX];
    const char *entities[RBI_ITEM_SOURCES_MAX];
    const char *of[RBI_ITEM_SOURCES_MAX];
    int of_items[RBI_ITEM_SOURCES_MAX];
    int nof;
};

/* An item from a fee, credit or commitment table. `p` resolves the names in `of` (NULL: only
 * check them). */
static rb_status rd_item(const struct reader *rd, struct rbi_item *it, struct item_bufs *b,
                         const struct rbi_plan *p)
{
    const char *name, *bad;
    bool has_amount, has_percent, has_period, has_from, has_to, has;
    int period, ways;
    rb_status rc;

    memset(it, 0, sizeof(*it));
    rbi_strlcpy(it->where, where_of(rd->where), sizeof(it->where));
    it->kind = rd->kind[0] == 'f'   ? RBI_ITEM_FEE
               : rd->kind[1] == 'r' ? RBI_ITEM_CREDIT
                                    : RBI_ITEM_COMMIT;
    it->from = 0;
    it->to = RB_MONTH_OPEN;
    it->every = 1;
    rc = rd_str(rd, "name", &name, true);
    if (rc != RB_OK)
        return rc;
    if (strlen(name) > RB_PRICE_LABEL_MAX)
        return rd_fail(rd, "'name' is longer than %d bytes", RB_PRICE_LABEL_MAX);
    if (strcmp(name, "usage") == 0 || strcmp(name, "total") == 0)
        return rd_fail(rd, "'name' cannot be \"%s\" (a word of 'of')", name);
    rbi_strlcpy(it->name, name, sizeof(it->name));
    rc = rd_dec(rd, "amount", &it->amount, &has_amount, it->kind == RBI_ITEM_COMMIT);
    if (rc == RB_OK && it->kind != RBI_ITEM_COMMIT) {
        lua_State *L = rd->L;
        bool has_tiers = rd_get(rd, "tiers") != LUA_TNIL;
        lua_pop(L, 1);
        rc = rd_dec(rd, "percent", &it->percent, &has_percent, false);
        ways = has_amount + has_percent + has_tiers;
        if (rc == RB_OK && ways != 1)
            return rd_fail(rd, "give exactly one of 'amount', 'percent' and 'tiers'");
        it->amt = has_amount ? RBI_AMT_FLAT : has_percent ? RBI_AMT_PERCENT : RBI_AMT_TIERED;
        if (rc == RB_OK && has_tiers) {
            rc = rd_tiers(rd, "tiers", "percent", b->tiers, &it->ntiers);
            it->tiers = b->tiers;
        }
        if (rc == RB_OK)
            rc = rd_bool(rd, "volume", &it->volume);
        if (rc == RB_OK && it->volume && it->amt != RBI_AMT_TIERED)
            return rd_fail(rd, "'volume' needs 'tiers'");
        if (rc == RB_OK)
            rc = rd_dec(rd, "minimum", &it->minimum, &it->has_min, false);
        if (rc == RB_OK)
            rc = rd_dec(rd, "maximum", &it->maximum, &it->has_max, false);
        if (rc == RB_OK)
            rc = rd_bool(rd, "itemized", &it->itemized);
    }
    if (rc != RB_OK)
        return rc;
    if (it->kind == RBI_ITEM_COMMIT && rb_dec_sign(&it->amount) <= 0)
        return rd_fail(rd, "'amount' of a commitment must be above 0");
    if (it->amt == RBI_AMT_FLAT && it->kind != RBI_ITEM_COMMIT && rb_dec_sign(&it->amount) < 0)
        return rd_fail(rd, "'amount' must not be negative (a credit's sign is turned for you)");
    /* sources */
    rc = rd_strlist(rd, "of", b->of, &b->nof);
    if (rc == RB_OK)
        rc = rd_strlist(rd, "services", b->services, &it->nservices);
    if (rc == RB_OK)
        rc = rd_strlist(rd, "line_types", b->line_types, &it->nline_types);
    if (rc == RB_OK)
        rc = rd_strlist(rd, "entities", b->entities, &it->nentities);
    if (rc != RB_OK)
        return rc;
    it->services = b->services;
    it->line_types = b->line_types;
    it->entities = b->entities;
    it->of_usage = b->nof == 0;
    it->of_items = b->of_items;
    for (int i = 0; i < b->nof; i++) {
        if (strcmp(b->of[i], "usage") == 0) {
            it->of_usage = true;
        } else if (strcmp(b->of[i], "total") == 0) {
            it->of_usage = it->of_all_items = true;
        } else if (p) {
            int k = rbi_plan_item_find(p, b->of[i]);
            if (k < 0)
                return rd_fail(rd,
                               "'of' names \"%.64s\", which is no item declared before this "
                               "one",
                               b->of[i]);
            b->of_items[it->nof_items++] = k;
        }
    }
    if (it->amt == RBI_AMT_FLAT && it->kind != RBI_ITEM_COMMIT &&
        (b->nof || it->nservices || it->nline_types || it->nentities))
        return rd_fail(rd, "a flat 'amount' takes no 'of', 'services', 'line_types' or "
                           "'entities'");
    if ((it->nservices || it->nline_types || it->nentities) && !it->of_usage)
        return rd_fail(rd, "'services', 'line_types' and 'entities' filter usage lines: add "
                           "\"usage\" to 'of'");
    for (int i = 0; i < it->nline_types; i++)
        if (rbi_ltype_find(it->line_types[i]) < 0 || strcmp(it->line_types[i], "*") == 0) {
            bad = it->line_types[i];
            return rd_fail(rd, "'line_types': unknown line type \"%.64s\"", bad);
        }
    /* months */
    rc = rd_month(rd, "period", &period, &has_period);
    if (rc == RB_OK)
        rc = rd_month(rd, "from", &it->from, &has_from);
    if (rc == RB_OK)
        rc = rd_month(rd, "to", &it->to, &has_to);
    if (rc != RB_OK)
        return rc;
    if (has_period && (has_from || has_to))
        return rd_fail(rd, "give 'period' (one month) or 'from'/'to', not both");
    if (has_period)
        it->from = it->to = period;
    if (!has_from && !has_period)
        it->from = 0;
    if (!has_to && !has_period)
        it->to = RB_MONTH_OPEN;
    {
        lua_State *L = rd->L;
        int t = rd_get(rd, "every");
        if (t != LUA_TNIL) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 120) {
                lua_pop(L, 1);
                return rd_fail(rd, "'every' must be a whole number of months 1..120");
            }
            if (!has_from && !has_period) {
                lua_pop(L, 1);
                return rd_fail(rd, "'every' needs 'from' (the first month)");
            }
            it->every = (int)lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
    }
    if (it->to != RB_MONTH_OPEN && it->to < it->from)
        return rd_fail(rd, "'to' is before 'from'");
    (void)has;
    if (it->itemized &&
        (it->amt != RBI_AMT_PERCENT || !it->of_usage || b->nof > 0 || it->has_min || it->has_max))
        return rd_fail(rd, "'itemized' needs a 'percent' of usage lines (no 'of', minimum or "
                           "maximum)");
    return RB_OK;
}

/* Tax: {name, rate} or {name, rates = {CC = rate}, country = "CC"}. */
static rb_status rd_tax(const struct reader *rd, struct rbi_plan *p)
{
    lua_State *L = rd->L;
    const char *name, *country;
    rb_dec rate, lo = rb_dec_zero(), hi = rb_dec_from_int(100);
    bool has_rate;
    int t;
    rb_status rc = rd_str(rd, "name", &name, true);

    if (rc == RB_OK)
        rc = rd_dec(rd, "rate", &rate, &has_rate, false);
    if (rc == RB_OK)
        rc = rd_str(rd, "country", &country, false);
    if (rc != RB_OK)
        return rc;
    if (strlen(name) > RB_PRICE_LABEL_MAX)
        return rd_fail(rd, "'name' is longer than %d bytes", RB_PRICE_LABEL_MAX);
    t = rd_get(rd, "rates");
    if (t != LUA_TNIL) {
        struct reader sub = *rd;
        bool has;
        if (has_rate || !country) {
            lua_pop(L, 1);
            return rd_fail(rd, "give 'rate', or 'rates' with 'country'");
        }
        if (t != LUA_TTABLE) {
            lua_pop(L, 1);
            return rd_fail(rd, "'rates' must be a table {CC = rate}");
        }
        sub.t = lua_gettop(L);
        rc = rd_dec(&sub, country, &rate, &has, false);
        lua_pop(L, 1);
        if (rc != RB_OK)
            return rc;
        if (!has)
            return rd_fail(rd, "'rates' has no rate for country \"%.16s\"", country);
    } else {
        lua_pop(L, 1);
        if (!has_rate)
            return rd_fail(rd, "give 'rate', or 'rates' with 'country'");
        if (country)
            return rd_fail(rd, "'country' needs 'rates'");
    }
    if (rb_dec_cmp(&rate, &lo) < 0 || rb_dec_cmp(&rate, &hi) > 0)
        return rd_fail(rd, "tax rate must be 0..100 percent");
    if (p) {
        if (p->has_tax)
            return rd_fail(rd, "a plan has one rebill.tax");
        p->has_tax = true;
        rbi_strlcpy(p->tax_name, name, sizeof(p->tax_name));
        p->tax_rate = rate;
    }
    return RB_OK;
}

static bool is_currency_code(const char *s)
{
    return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
           s[2] >= 'A' && s[2] <= 'Z';
}

/* Currency: {code = "EUR", rates = {["2026-11"] = 0.9187, ...}}. */
static rb_status rd_currency(const struct reader *rd, struct rbi_plan *p)
{
    lua_State *L = rd->L;
    const char *code;
    int top;
    rb_status rc = rd_str(rd, "code", &code, true);

    if (rc != RB_OK)
        return rc;
    if (!is_currency_code(code))
        return rd_fail(rd, "'code' must be an ISO 4217 code such as \"EUR\", not \"%.16s\"", code);
    if (p) {
        if (p->has_fx)
            return rd_fail(rd, "a plan has one rebill.currency");
        p->has_fx = true;
        memcpy(p->fx_code, code, 4);
        rbi_strlcpy(p->fx_where, where_of(rd->where), sizeof(p->fx_where));
    }
    if (rd_get(rd, "rates") != LUA_TTABLE) {
        lua_pop(L, 1);
        return rd_fail(rd, "'rates' must be a table {[\"YYYY-MM\"] = rate}");
    }
    top = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, top)) {
        int m;
        rb_dec rate;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k || rb_month_parse(&m, k, NULL) != RB_OK) {
            lua_settop(L, top - 1);
            return rd_fail(rd, "'rates' keys must be months \"YYYY-MM\"");
        }
        if (!rbi_lua_to_dec(L, -1, &rate) || rb_dec_sign(&rate) <= 0) {
            lua_settop(L, top - 1);
            return rd_fail(rd, "'rates'[\"%s\"] must be an amount above 0", k);
        }
        if (p) {
            rc = rbi_plan_add_fx(p, m, &rate, rd->err);
            if (rc != RB_OK) {
                lua_settop(L, top - 1);
                return rc;
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top - 1);
    return RB_OK;
}

/* A test's shape (the runner reads it, price.c). */
static rb_status rd_test(const struct reader *rd)
{
    lua_State *L = rd->L;
    const char *s;
    int m, t;
    bool has;
    rb_status rc = rd_str(rd, "name", &s, true);

    if (rc == RB_OK)
        rc = rd_month(rd, "period", &m, &has);
    if (rc == RB_OK)
        rc = rd_str(rd, "usage_file", &s, false);
    if (rc == RB_OK) {
        bool file = s != NULL;
        t = rd_get(rd, "usage");
        lua_pop(L, 1);
        if (file == (t != LUA_TNIL))
            return rd_fail(rd, "give 'usage' (CSV text) or 'usage_file' (a CSV path)");
        if (t != LUA_TNIL && t != LUA_TSTRING)
            return rd_fail(rd, "'usage' must be CSV text");
    }
    if (rc == RB_OK)
        rc = rd_str(rd, "customer", &s, false);
    if (rc == RB_OK) {
        const char *v[RBI_ITEM_SOURCES_MAX];
        int n;
        rc = rd_strlist(rd, "upstream", v, &n);
    }
    if (rc == RB_OK)
        rc = rd_str(rd, "expect_error", &s, false);
    if (rc != RB_OK)
        return rc;
    t = rd_get(rd, "expect");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        if (!s)
            return rd_fail(rd, "give 'expect' or 'expect_error'");
        return RB_OK;
    }
    if (s || t != LUA_TTABLE) {
        lua_pop(L, 1);
        return rd_fail(rd, s ? "give 'expect' or 'expect_error', not both"
                             : "'expect' must be a table");
    }
    {
        struct reader sub = *rd;
        sub.t = lua_gettop(L);
        sub.kind = "test: expect";
        rc = rd_keys(&sub, keys_expect, false);
        if (rc == RB_OK) {
            t = rd_get(&sub, "lines");
            if (t != LUA_TNIL && t != LUA_TTABLE)
                rc = rd_fail(&sub, "'lines' must be a table {name = amount}");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return rc;
}

/* Check or read one item (markup ... currency) of kind `kind`; add it to p unless NULL. */
static rb_status rd_any(const struct reader *rd, struct rbi_plan *p, rb_error *err)
{
    int k = kind_find(rd->kind);
    rb_status rc;

    if (k < 0)
        return rbi_error_set(err, RB_INVALID, "%s: unknown kind of table \"%.32s\"",
                             where_of(rd->where), rd->kind);
    rc = rd_keys(rd, kinds[k].keys, kinds[k].array);
    if (rc != RB_OK)
        return rc;
    if (strcmp(rd->kind, "markup") == 0 || strcmp(rd->kind, "discount") == 0 ||
        strcmp(rd->kind, "rate") == 0 || strcmp(rd->kind, "tiered") == 0) {
        struct rbi_tier tiers[RBI_TIERS_MAX];
        struct rbi_rule r;
        rc = rd_rule(rd, &r, tiers);
        if (rc == RB_OK)
            rc = p ? rbi_plan_add_rule(p, &r, err) : rule_check(&r, err);
        return rc;
    }
    if (strcmp(rd->kind, "fee") == 0 || strcmp(rd->kind, "credit") == 0 ||
        strcmp(rd->kind, "commitment") == 0) {
        struct item_bufs b; /* on the C stack: nothing to free if Lua raises */
        struct rbi_item it;
        rc = rd_item(rd, &it, &b, p);
        if (rc == RB_OK && p)
            rc = rbi_plan_add_item(p, &it, err);
        return rc;
    }
    if (strcmp(rd->kind, "tax") == 0)
        return rd_tax(rd, p);
    if (strcmp(rd->kind, "currency") == 0)
        return rd_currency(rd, p);
    if (strcmp(rd->kind, "test") == 0)
        return rd_test(rd);
    return rbi_error_set(err, RB_INVALID, "%s: a rebill.%s table cannot be used here",
                         where_of(rd->where), rd->kind);
}

/* The kind and where stamps of the table at idx (borrowed), or NULLs. */
static void stamps(lua_State *L, int idx, const char **kind, const char **where)
{
    idx = lua_absindex(L, idx);
    *kind = *where = NULL;
    lua_pushliteral(L, "kind");
    if (lua_rawget(L, idx) == LUA_TSTRING)
        *kind = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_pushliteral(L, "where");
    if (lua_rawget(L, idx) == LUA_TSTRING)
        *where = lua_tostring(L, -1);
    lua_pop(L, 1);
}

static rb_status read_plan(lua_State *L, int idx, struct rbi_plan *p, rb_error *err, bool refs,
                           const char *where);

/* __gc of the scratch plan's box: frees what a raise left behind (idempotent). */
static int l_scratch_gc(lua_State *L)
{
    struct rbi_plan **box = lua_touserdata(L, 1);

    if (box) {
        rbi_plan_free(*box);
        *box = NULL;
    }
    return 0;
}

rb_status rbi_plan_check_table(lua_State *L, int idx, const char *kind, const char *where,
                               rb_error *err)
{
    struct reader rd = {L, lua_absindex(L, idx), kind, where, err};

    if (strcmp(kind, "plan") == 0) {
        /* A scratch plan, held by a userdata box whose __gc frees it: if Lua raises (out of
         * memory) while the plan is read, the box still owns it [STYLE 3.4 item 7]. */
        struct rbi_plan **box = lua_newuserdatauv(L, sizeof(*box), 0);
        rb_status rc;
        *box = NULL;
        if (luaL_newmetatable(L, "rebill.scratch_plan")) {
            lua_pushcfunction(L, l_scratch_gc);
            lua_setfield(L, -2, "__gc");
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "__metatable");
        }
        lua_setmetatable(L, -2);
        rc = rbi_plan_new(box, RBI_BASE_LIST, NULL);
        if (rc == RB_OK) {
            rbi_strlcpy((*box)->file, where ? where : "", sizeof((*box)->file));
            rc = read_plan(L, rd.t, *box, err, false, where);
            if (rc == RB_OK)
                rc = rbi_plan_finish(*box, err);
        } else {
            rbi_error_set(err, rc, "out of memory");
        }
        rbi_plan_free(*box);
        *box = NULL;
        lua_pop(L, 1);
        return rc;
    }
    return rd_any(&rd, NULL, err);
}

rb_status rbi_plan_read_item(lua_State *L, int idx, struct rbi_plan *p, const char *where,
                             rb_error *err)
{
    const char *kind, *w;
    struct reader rd;

    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return rbi_error_set(err, RB_INVALID,
                             "%s: a plan's list holds rebill.markup{...}, "
                             "rebill.fee{...} and the like, not a %s",
                             where_of(where), type_of(L, idx));
    stamps(L, idx, &kind, &w);
    if (!kind)
        return rbi_error_set(err, RB_INVALID,
                             "%s: a plan's list holds tables made by "
                             "rebill.markup{...}, rebill.fee{...} and the like",
                             where_of(where));
    rd.L = L;
    rd.t = idx;
    rd.kind = kind;
    rd.where = w ? w : where;
    rd.err = err;
    if (strcmp(kind, "plan") == 0 || strcmp(kind, "test") == 0)
        return rbi_error_set(err, RB_INVALID, "%s: a rebill.%s cannot be an item of a plan",
                             where_of(rd.where), kind);
    return rd_any(&rd, p, err);
}

/* A hook: a function, kept in the registry when refs are wanted. */
static rb_status rd_hook(const struct reader *rd, struct rbi_plan *p, const char *key, int *ref,
                         char *where, size_t wsize, bool refs)
{
    lua_State *L = rd->L;
    int t = rd_get(rd, key);
    lua_Debug ar;

    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return RB_OK;
    }
    if (t != LUA_TFUNCTION) {
        rb_status rc = rd_fail(rd, "'%s' must be a function, not a %s", key, type_of(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
        snprintf(where, wsize, "%s:%d", ar.short_src, ar.linedefined);
    else
        snprintf(where, wsize, "%s", where_of(rd->where));
    (void)p;
    if (refs)
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    return RB_OK;
}

/* The plan's list: items, or lists of items (what a helper of scripts/ returns), flattened. */
static rb_status read_items(lua_State *L, int idx, struct rbi_plan *p, const char *where,
                            rb_error *err, int depth)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    rb_status rc = RB_OK;

    for (lua_Integer i = 1; i <= n && rc == RB_OK; i++) {
        const char *kind, *w;
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) == LUA_TTABLE) {
            stamps(L, -1, &kind, &w);
            if (!kind && lua_rawlen(L, -1) > 0) {
                if (depth >= 4)
                    rc = rbi_error_set(err, RB_INVALID, "%s: lists of items nested deeper than 4",
                                       where_of(where));
                else
                    rc = read_items(L, lua_gettop(L), p, where, err, depth + 1);
                lua_pop(L, 1);
                continue;
            }
        }
        rc = rbi_plan_read_item(L, -1, p, where, err);
        lua_pop(L, 1);
    }
    return rc;
}

/* Read a plan table; `where` is given when the table is being checked by its constructor
 * (not stamped yet), NULL when it is the stamped table a rule file returned. */
static rb_status read_plan(lua_State *L, int idx, struct rbi_plan *p, rb_error *err, bool refs,
                           const char *where)
{
    static const char *const bases[] = {"list", "billed", "effective", NULL};
    static const char *const actions[] = {"price", "pass", "hide", NULL};
    const char *kind, *w, *s;
    struct reader rd;
    lua_Integer n;
    rb_status rc;
    int t;

    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return rbi_error_set(err, RB_INVALID,
                             "%s: the rule file must return rebill.plan{...}, "
                             "not a %s",
                             p->file, type_of(L, idx));
    stamps(L, idx, &kind, &w);
    if (where) {
        kind = "plan";
        w = where;
    }
    if (!kind || strcmp(kind, "plan") != 0)
        return rbi_error_set(err, RB_INVALID, "%s: the rule file must return rebill.plan{...}%s%s",
                             p->file, kind ? ", not rebill." : "", kind ? kind : "");
    rd.L = L;
    rd.t = idx;
    rd.kind = "plan";
    rd.where = w ? w : p->file;
    rd.err = err;
    rc = rd_keys(&rd, keys_plan, true);
    if (rc == RB_OK)
        rc = rd_str(&rd, "name", &s, false);
    if (rc == RB_OK && s) {
        if (strlen(s) > RB_PRICE_LABEL_MAX)
            return rd_fail(&rd, "'name' is longer than %d bytes", RB_PRICE_LABEL_MAX);
        rbi_strlcpy(p->name, s, sizeof(p->name));
    }
    if (rc == RB_OK)
        rc = rd_str(&rd, "base", &s, false);
    if (rc == RB_OK && s) {
        int b;
        for (b = 0; bases[b] && strcmp(bases[b], s) != 0; b++)
            ;
        if (!bases[b])
            return rd_fail(&rd,
                           "'base' must be \"list\", \"billed\" or \"effective\", not "
                           "\"%.32s\"",
                           s);
        rbi_plan_set_base(p, (enum rbi_base)b);
    }
    if (rc == RB_OK)
        rc = rd_bool(&rd, "free_tier", &p->free_tier);
    if (rc == RB_OK)
        rc = rd_str(&rd, "rounding", &s, false);
    if (rc == RB_OK && s) {
        if (strcmp(s, "half_even") == 0)
            p->rounding = RB_ROUND_HALF_EVEN;
        else if (strcmp(s, "half_up") == 0)
            p->rounding = RB_ROUND_HALF_UP;
        else
            return rd_fail(&rd, "'rounding' must be \"half_even\" or \"half_up\", not \"%.32s\"",
                           s);
    }
    if (rc != RB_OK)
        return rc;
    t = rd_get(&rd, "passthrough");
    if (t != LUA_TNIL) {
        int top = lua_gettop(L);
        if (t != LUA_TTABLE) {
            lua_pop(L, 1);
            return rd_fail(&rd, "'passthrough' must be a table {LineType = \"pass\"|\"hide\"|"
                                "\"price\"}");
        }
        lua_pushnil(L);
        while (lua_next(L, top)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int lt = k ? rbi_ltype_find(k) : -1, a;
            if (lt < 0) {
                char names[600];
                size_t used = 0;
                for (int i = 0; i < RBI_LT__COUNT; i++)
                    used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
                                             i ? ", " : "",
                                             rbi_ltype_name((enum rbi_ltype)i));
                lua_settop(L, top - 1);
                return rd_fail(&rd, "'passthrough': unknown line type \"%.64s\" (known: %s)",
                               k ? k : "?", names);
            }
            for (a = 0; v && actions[a] && strcmp(actions[a], v) != 0; a++)
                ;
            if (!v || !actions[a]) {
                lua_settop(L, top - 1);
                return rd_fail(&rd, "'passthrough'.%s must be \"pass\", \"hide\" or \"price\"", k);
            }
            p->action[lt] = (unsigned char)a;
            lua_pop(L, 1);
        }
        /* "*" is the default for line types the table does not name. */
        lua_pushliteral(L, "*");
        if (lua_rawget(L, top) == LUA_TSTRING) {
            for (int i = 0; i < RBI_LT__COUNT; i++) {
                lua_pushstring(L, rbi_ltype_name((enum rbi_ltype)i));
                if (lua_rawget(L, top) == LUA_TNIL)
                    p->action[i] = p->action[RBI_LT_OTHER];
                lua_pop(L, 1);
            }
        }
        lua_settop(L, top - 1);
    } else {
        lua_pop(L, 1);
    }
    rc = rd_hook(&rd, p, "on_line", &p->on_line, p->on_line_where, sizeof(p->on_line_where), refs);
    if (rc == RB_OK)
        rc = rd_hook(&rd, p, "on_invoice", &p->on_invoice, p->on_invoice_where,
                     sizeof(p->on_invoice_where), refs);
    if (rc != RB_OK)
        return rc;
    t = rd_get(&rd, "tests");
    if (t != LUA_TNIL) {
        int top = lua_gettop(L);
        if (t != LUA_TTABLE) {
            lua_pop(L, 1);
            return rd_fail(&rd, "'tests' must be a list of rebill.test{...}");
        }
        n = (lua_Integer)lua_rawlen(L, top);
        for (lua_Integer i = 1; i <= n && rc == RB_OK; i++) {
            const char *tk, *tw;
            lua_rawgeti(L, top, i);
            if (lua_type(L, -1) != LUA_TTABLE) {
                lua_settop(L, top - 1);
                return rd_fail(&rd, "'tests'[%lld] must be a rebill.test{...}", (long long)i);
            }
            stamps(L, -1, &tk, &tw);
            if (!tk || strcmp(tk, "test") != 0) {
                lua_settop(L, top - 1);
                return rd_fail(&rd, "'tests'[%lld] must be a rebill.test{...}", (long long)i);
            }
            {
                struct reader sub = {L, lua_gettop(L), "test", tw ? tw : rd.where, err};
                rc = rd_any(&sub, NULL, err);
            }
            lua_pop(L, 1);
        }
        lua_settop(L, top - 1);
        if (rc != RB_OK)
            return rc;
    } else {
        lua_pop(L, 1);
    }
    return read_items(L, idx, p, rd.where, err, 0);
}

rb_status rbi_plan_read(lua_State *L, int idx, struct rbi_plan *p, rb_error *err)
{
    return read_plan(L, idx, p, err, true, NULL);
}

/* {===================================================================================
 * Storage: rule files by content hash, assignments by month, their history
 * =================================================================================== */

#define REC_VERSION 1
#define KIND_PERIOD 'p'
#define KIND_EVENT 'e'

static void hash_hex(uint64_t h, char out[RB_RULES_HASH_LEN + 1])
{
    snprintf(out, RB_RULES_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

static bool hash_parse(const char *s, uint64_t *h)
{
    uint64_t v = 0;

    if (!s || strlen(s) != RB_RULES_HASH_LEN)
        return false;
    for (int i = 0; i < RB_RULES_HASH_LEN; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *h = v;
    return true;
}

/* ORG NUL kind [be32(n) | be64(n)] */
static size_t plan_key(unsigned char *k, const char *org, char kind, uint64_t n, int nbytes)
{
    size_t len = strlen(org);

    memcpy(k, org, len);
    k[len++] = '\0';
    k[len++] = (unsigned char)kind;
    if (nbytes == 4) {
        rbi_be32_put(k + len, (uint32_t)n);
        len += 4;
    } else if (nbytes == 8) {
        rbi_be64_put(k + len, n);
        len += 8;
    }
    return len;
}

static rb_status check_months(rb_txn *txn, int from, int to)
{
    char a[16], b[16];

    if (from < 0 || from == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid first month");
    if (to != RB_MONTH_OPEN && to < from) {
        rb_month_format(from, a, sizeof(a));
        rb_month_format(to, b, sizeof(b));
        return rbi_txn_error(txn, RB_INVALID, "the last month %s is before the first %s", b, a);
    }
    return RB_OK;
}

/* A stored assignment (the org comes from the key). */
static bool decode_period(const struct rbi_val *k, const struct rbi_val *v, rb_plan_assignment *a)
{
    struct rbi_rec_reader r;
    const unsigned char *kp = k->data;
    size_t olen = strnlen((const char *)kp, k->len);
    const void *hp;
    int64_t to;

    memset(a, 0, sizeof(a[0]));
    if (olen > RB_ORG_ID_MAX || k->len != olen + 2 + 4 || kp[olen + 1] != KIND_PERIOD)
        return false;
    memcpy(a->org, kp, olen);
    a->from = (int)rbi_be32_get(kp + olen + 2);
    rbi_rec_read(&r, v->data, v->len);
    to = rbi_rec_get_i64(&r);
    a->to = to == RB_MONTH_OPEN ? RB_MONTH_OPEN : (int)to;
    if (rbi_rec_get_bytes(&r, &hp) != 8)
        return false;
    hash_hex(rbi_be64_get(hp), a->hash);
    rbi_rec_get_str(&r, a->name, sizeof(a->name));
    a->assigned_at = rbi_rec_get_i64(&r);
    return !r.bad && r.version == REC_VERSION;
}

static rb_status put_period(rb_txn *txn, const rb_plan_assignment *a)
{
    unsigned char key[RB_ORG_ID_MAX + 8], hb[8];
    struct rb_buf b = {0};
    uint64_t h = 0;
    rb_status rc;

    hash_parse(a->hash, &h);
    rbi_be64_put(hb, h);
    rc = rbi_rec_begin(&b, REC_VERSION);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, a->to);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, hb, 8);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, a->name);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, a->assigned_at);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_PLANS, key,
                     plan_key(key, a->org, KIND_PERIOD, (uint64_t)a->from, 4), b.data, b.len, 0);
    else
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    rbi_buf_release(&b);
    return rc;
}

static rb_status put_event(rb_txn *txn, const rb_plan_event *e)
{
    unsigned char key[RB_ORG_ID_MAX + 12], hb[8];
    struct rb_buf b = {0};
    uint64_t seq, h = 0;
    rb_status rc = rbi_next_seq(txn, "plan_event", &seq);

    if (rc != RB_OK)
        return rc;
    hash_parse(e->hash, &h);
    rbi_be64_put(hb, h);
    rc = rbi_rec_begin(&b, REC_VERSION);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, e->at);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, e->action);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, e->from);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, e->to);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, hb, e->hash[0] ? 8 : 0);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, e->name);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_PLANS, key, plan_key(key, e->org, KIND_EVENT, seq, 8), b.data,
                     b.len, 0);
    else
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    rbi_buf_release(&b);
    return rc;
}

struct periods {
    rb_plan_assignment *v;
    size_t n, cap;
    rb_txn *txn;
};

static rb_status collect_period(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct periods *ps = ctx;

    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        rb_plan_assignment *nv = rbi_realloc(ps->v, cap * sizeof(*nv));
        if (!nv)
            return rbi_txn_error(ps->txn, RB_NOMEM, "out of memory");
        ps->v = nv;
        ps->cap = cap;
    }
    if (!decode_period(k, v, &ps->v[ps->n]))
        return rbi_txn_error(ps->txn, RB_CORRUPT, "bad plan assignment record in 'plans'");
    ps->n++;
    return RB_OK;
}

static rb_status load_periods(rb_txn *txn, const char *org, struct periods *ps)
{
    unsigned char key[RB_ORG_ID_MAX + 8];

    memset(ps, 0, sizeof(*ps));
    ps->txn = txn;
    return rbi_scan(txn, RBI_DB_PLANS, key, plan_key(key, org, KIND_PERIOD, 0, 0), collect_period,
                    ps);
}

/* Remove months from..to from org's assignments; *cut counts those that overlapped. */
static rb_status cut_periods(rb_txn *txn, const char *org, int from, int to, int *cut)
{
    struct periods ps;
    rb_status rc = load_periods(txn, org, &ps);

    *cut = 0;
    for (size_t i = 0; rc == RB_OK && i < ps.n; i++) {
        rb_plan_assignment a = ps.v[i];
        unsigned char key[RB_ORG_ID_MAX + 8];
        bool ends_before = a.to != RB_MONTH_OPEN && a.to < from;
        bool starts_after = to != RB_MONTH_OPEN && a.from > to;

        if (ends_before || starts_after)
            continue;
        (*cut)++;
        rc = rbi_del(txn, RBI_DB_PLANS, key, plan_key(key, org, KIND_PERIOD, (uint64_t)a.from, 4));
        if (rc == RB_OK && a.from < from) { /* the months before stay */
            rb_plan_assignment left = a;
            left.to = from - 1;
            rc = put_period(txn, &left);
        }
        if (rc == RB_OK && to != RB_MONTH_OPEN && (a.to == RB_MONTH_OPEN || a.to > to)) {
            rb_plan_assignment right = a; /* the months after stay */
            right.from = to + 1;
            rc = put_period(txn, &right);
        }
    }
    rbi_free(ps.v);
    return rc;
}

/* Store a rule file's (or a layout's) content under its hash, once. */
rb_status rbi_rules_put(rb_txn *txn, const char *name, const char *src, size_t len, int64_t now,
                        uint64_t h)
{
    unsigned char key[8];
    struct rbi_val v;
    struct rb_buf b = {0};
    rb_status rc;

    rbi_be64_put(key, h);
    rc = rbi_get(txn, RBI_DB_RULES, key, 8, &v);
    if (rc == RB_OK) {
        struct rbi_rec_reader r;
        char stored_name[RB_PRICE_LABEL_MAX + 1];
        const void *p;
        size_t n;
        rbi_rec_read(&r, v.data, v.len);
        rbi_rec_get_str(&r, stored_name, sizeof(stored_name));
        rbi_rec_get_i64(&r);
        n = rbi_rec_get_bytes(&r, &p);
        if (r.bad || n != len || memcmp(p, src, len) != 0)
            return rbi_txn_error(txn, RB_CORRUPT,
                                 "rule file %016llx: stored content differs (hash collision or "
                                 "damage)",
                                 (unsigned long long)h);
        return RB_OK;
    }
    if (rc != RB_NOTFOUND)
        return rc;
    rc = rbi_rec_begin(&b, REC_VERSION);
    if (rc == RB_OK)
        rc = rbi_rec_put_str(&b, name);
    if (rc == RB_OK)
        rc = rbi_rec_put_i64(&b, now);
    if (rc == RB_OK)
        rc = rbi_rec_put_bytes(&b, src, len);
    if (rc == RB_OK)
        rc = rbi_put(txn, RBI_DB_RULES, key, 8, b.data, b.len, RBI_NOOVERWRITE);
    else
        rc = rbi_txn_error(txn, RB_NOMEM, "out of memory");
    rbi_buf_release(&b);
    return rc;
}

/* The name kept for a file: as given, or its last RB_PRICE_LABEL_MAX bytes. */
static void keep_name(char *dst, const char *name)
{
    size_t n = strlen(name);

    rbi_strlcpy(dst, n > RB_PRICE_LABEL_MAX ? name + n - RB_PRICE_LABEL_MAX : name,
                RB_PRICE_LABEL_MAX + 1);
}

rb_status rb_plan_assign(rb_txn *txn, const char *org, const char *name, const char *src,
                         size_t len, int from, int to, int64_t now, rb_plan_assignment *out)
{
    rb_plan_assignment a;
    rb_plan_event e;
    rb_error err;
    uint64_t h;
    int cut;
    rb_status rc;

    if (!txn || !name || (!src && len))
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc == RB_OK)
        rc = check_months(txn, from, to);
    if (rc != RB_OK)
        return rc;
    if (!*name)
        return rbi_txn_error(txn, RB_INVALID, "a rule file needs a name");
    rc = rb_rules_check(name, src ? src : "", len, NULL, &err);
    if (rc != RB_OK)
        return rbi_txn_error(txn, rc, "%s", err.msg);
    h = rbi_hash64(src ? src : "", len);
    memset(&a, 0, sizeof(a));
    rbi_strlcpy(a.org, org, sizeof(a.org));
    a.from = from;
    a.to = to;
    hash_hex(h, a.hash);
    keep_name(a.name, name);
    a.assigned_at = now;
    rc = rbi_rules_put(txn, a.name, src ? src : "", len, now, h);
    if (rc == RB_OK)
        rc = cut_periods(txn, org, from, to, &cut);
    if (rc == RB_OK)
        rc = put_period(txn, &a);
    if (rc == RB_OK) {
        memset(&e, 0, sizeof(e));
        e.at = now;
        rbi_strlcpy(e.action, "assign", sizeof(e.action));
        rbi_strlcpy(e.org, org, sizeof(e.org));
        e.from = from;
        e.to = to;
        memcpy(e.hash, a.hash, sizeof(e.hash));
        memcpy(e.name, a.name, sizeof(e.name));
        rc = put_event(txn, &e);
    }
    if (rc == RB_OK && out)
        *out = a;
    return rc;
}

rb_status rb_plan_unassign(rb_txn *txn, const char *org, int from, int to, int64_t now)
{
    rb_plan_event e;
    char mb[16];
    int cut;
    rb_status rc;

    if (!txn)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc == RB_OK)
        rc = check_months(txn, from, to);
    if (rc == RB_OK)
        rc = cut_periods(txn, org, from, to, &cut);
    if (rc != RB_OK)
        return rc;
    if (cut == 0) {
        rb_month_format(from, mb, sizeof(mb));
        return rbi_txn_error(txn, RB_NOTFOUND, "%s has no plan from %s on", org, mb);
    }
    memset(&e, 0, sizeof(e));
    e.at = now;
    rbi_strlcpy(e.action, "unassign", sizeof(e.action));
    rbi_strlcpy(e.org, org, sizeof(e.org));
    e.from = from;
    e.to = to;
    return put_event(txn, &e);
}

struct at_ctx {
    int month;
    rb_plan_assignment *out;
    bool found;
    bool bad;
};

static rb_status at_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct at_ctx *c = ctx;

    if (!decode_period(k, v, c->out)) {
        c->bad = true;
        return RBI_STOP;
    }
    c->found = c->out->from <= c->month && (c->out->to == RB_MONTH_OPEN || c->out->to >= c->month);
    return RBI_STOP; /* the latest start at or before the month decides */
}

rb_status rb_plan_at(rb_txn *txn, const char *org, int month, rb_plan_assignment *out)
{
    unsigned char prefix[RB_ORG_ID_MAX + 8], below[RB_ORG_ID_MAX + 8];
    struct at_ctx c = {month, out, false, false};
    size_t plen, blen;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    if (month < 0 || month == RB_MONTH_OPEN)
        return rbi_txn_error(txn, RB_INVALID, "invalid month");
    plen = plan_key(prefix, org, KIND_PERIOD, 0, 0);
    blen = plan_key(below, org, KIND_PERIOD, (uint64_t)month + 1, 4);
    rc = rbi_scan_back(txn, RBI_DB_PLANS, prefix, plen, below, blen, at_one, &c);
    if (rc != RB_OK)
        return rc;
    if (c.bad)
        return rbi_txn_error(txn, RB_CORRUPT, "bad plan assignment record in 'plans'");
    return c.found ? RB_OK : RB_NOTFOUND;
}

struct list_ctx {
    int month;
    rb_plan_assignment_cb cb;
    void *ctx;
    rb_txn *txn;
};

static rb_status list_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct list_ctx *c = ctx;
    const unsigned char *kp = k->data;
    size_t olen = strnlen((const char *)kp, k->len);
    rb_plan_assignment a;

    if (olen + 1 >= k->len || kp[olen + 1] != KIND_PERIOD)
        return RB_OK;
    if (!decode_period(k, v, &a))
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad plan assignment record in 'plans'");
    if (c->month != RB_MONTH_OPEN &&
        (a.from > c->month || (a.to != RB_MONTH_OPEN && a.to < c->month)))
        return RB_OK;
    return c->cb(&a, c->ctx);
}

rb_status rb_plan_list(rb_txn *txn, int month, rb_plan_assignment_cb cb, void *ctx)
{
    struct list_ctx c = {month, cb, ctx, txn};

    if (!txn || !cb)
        return RB_MISUSE;
    return rbi_scan(txn, RBI_DB_PLANS, NULL, 0, list_one, &c);
}

rb_status rb_plan_periods(rb_txn *txn, const char *org, rb_plan_assignment_cb cb, void *ctx)
{
    struct list_ctx c = {RB_MONTH_OPEN, cb, ctx, txn};
    unsigned char key[RB_ORG_ID_MAX + 8];
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    return rbi_scan(txn, RBI_DB_PLANS, key, plan_key(key, org, KIND_PERIOD, 0, 0), list_one, &c);
}

struct hist_ctx {
    const char *org;
    rb_plan_event_cb cb;
    void *ctx;
    rb_txn *txn;
};

static rb_status hist_one(const struct rbi_val *k, const struct rbi_val *v, void *ctx)
{
    struct hist_ctx *c = ctx;
    struct rbi_rec_reader r;
    rb_plan_event e;
    const void *hp;
    size_t hn;
    int64_t from, to;

    (void)k;
    memset(&e, 0, sizeof(e));
    rbi_strlcpy(e.org, c->org, sizeof(e.org));
    rbi_rec_read(&r, v->data, v->len);
    e.at = rbi_rec_get_i64(&r);
    rbi_rec_get_str(&r, e.action, sizeof(e.action));
    from = rbi_rec_get_i64(&r);
    to = rbi_rec_get_i64(&r);
    hn = rbi_rec_get_bytes(&r, &hp);
    rbi_rec_get_str(&r, e.name, sizeof(e.name));
    if (r.bad || r.version != REC_VERSION || (hn != 0 && hn != 8) || from < 0 ||
        from > RB_MONTH_OPEN || to < 0 || to > RB_MONTH_OPEN)
        return rbi_txn_error(c->txn, RB_CORRUPT, "bad plan event record in 'plans'");
    e.from = (int)from;
    e.to = (int)to;
    if (hn == 8)
        hash_hex(rbi_be64_get(hp), e.hash);
    return c->cb(&e, c->ctx);
}

rb_status rb_plan_history(rb_txn *txn, const char *org, rb_plan_event_cb cb, void *ctx)
{
    struct hist_ctx c = {org, cb, ctx, txn};
    unsigned char key[RB_ORG_ID_MAX + 8];
    rb_status rc;

    if (!txn || !cb)
        return RB_MISUSE;
    rc = rbi_org_require(txn, org, NULL);
    if (rc != RB_OK)
        return rc;
    return rbi_scan(txn, RBI_DB_PLANS, key, plan_key(key, org, KIND_EVENT, 0, 0), hist_one, &c);
}

rb_status rb_rules_get(rb_txn *txn, const char *hash, rb_rules_blob *out)
{
    unsigned char key[8];
    struct rbi_val v;
    struct rbi_rec_reader r;
    const void *p;
    uint64_t h;
    rb_status rc;

    if (!txn || !out)
        return RB_MISUSE;
    if (!hash_parse(hash, &h))
        return rbi_txn_error(txn, RB_INVALID,
                             "invalid rule file hash \"%.40s\": want 16 lowercase hex digits",
                             hash ? hash : "");
    rbi_be64_put(key, h);
    rc = rbi_get(txn, RBI_DB_RULES, key, 8, &v);
    if (rc == RB_NOTFOUND)
        return rbi_txn_error(txn, RB_NOTFOUND, "no rule file with hash %s", hash);
    if (rc != RB_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    memcpy(out->hash, hash, RB_RULES_HASH_LEN);
    rbi_rec_read(&r, v.data, v.len);
    rbi_rec_get_str(&r, out->name, sizeof(out->name));
    out->stored_at = rbi_rec_get_i64(&r);
    out->len = rbi_rec_get_bytes(&r, &p);
    out->src = p;
    if (r.bad || r.version != REC_VERSION || rbi_hash64(out->src, out->len) != h)
        return rbi_txn_error(txn, RB_CORRUPT, "rule file %s is damaged in 'rules'", hash);
    return RB_OK;
}
