/*
 * lapi_rebill.c -- the pricing API of rule files: rebill.plan{...} and the constructors of its
 * items, the line object on_line hooks receive and the invoice object on_invoice hooks edit
 * (docs/rules.md "Lua API reference").
 *
 * Provides: rbi_lapi_rebill_open (rebill.plan, markup, discount, rate, tiered, fee, credit,
 * commitment, tax, currency, test), rbi_lapi_line_push, rbi_lapi_invoice_push.
 * Uses: plan.c's table checker (one validator for the constructors and the compiler), the
 * money userdata of lapi_dec.c, price.c's invoice view, sandbox.h.
 * Must never: run rule code from C (tables are read raw, values type-checked), hand out a
 * metatable (__metatable is false), let a line or invoice object work outside the hook call
 * that received it (they check `live`), hold C heap memory across a Lua call.
 *
 * A constructor checks its table against what its kind allows and raises at the caller's line
 * ("rules/acme.lua:12: rebill.discount: unknown key 'percnt' (allowed: ...)"), then stamps it
 * with `kind` and `where` and returns it. The compiler reads the plan again from the stamps.
 */
#include "plan.h"
#include "sandbox.h"

#include <lauxlib.h>

#include <stdio.h>
#include <string.h>

/* {===================================================================================
 * Constructors
 * =================================================================================== */

/* "file:line" of the rule code that called us: the first Lua frame outside the helpers of
 * scripts/ (a mistake made through a helper is shown where the rule file calls it). */
static void caller_where(lua_State *L, char *buf, size_t size)
{
    lua_Debug ar;
    bool found = false;

    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
            continue;
        if (!found || strncmp(ar.short_src, "scripts/", 8) != 0) {
            snprintf(buf, size, "%s:%d", ar.short_src, ar.currentline);
            found = true;
        }
        if (strncmp(ar.short_src, "scripts/", 8) != 0)
            return;
    }
    if (!found)
        snprintf(buf, size, "(rules)");
}

/* rebill.<kind>{...} -> the same table, checked and stamped   [-0, +1, e]
 * Upvalue 1: the kind's name. */
static int l_rebill_ctor(lua_State *L)
{
    const char *kind = lua_tostring(L, lua_upvalueindex(1));
    char where[RBI_WHERE_MAX];
    rb_error err;
    rb_status rc;

    rbi_sandbox_check(L);
    caller_where(L, where, sizeof(where));
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushfstring(L, "%s: rebill.%s takes a table: rebill.%s{ ... }, not a %s", where, kind,
                        kind, luaL_typename(L, 1));
        return lua_error(L);
    }
    lua_settop(L, 1);
    lua_pushliteral(L, "kind");
    if (lua_rawget(L, 1) != LUA_TNIL) {
        lua_pushfstring(L,
                        "%s: rebill.%s: this table was already made by a constructor "
                        "(or has a field 'kind')",
                        where, kind);
        return lua_error(L);
    }
    lua_pop(L, 1);
    err.msg[0] = '\0';
    rc = rbi_plan_check_table(L, 1, kind, where, &err);
    if (rc != RB_OK) { /* the message starts with the caller's position already */
        lua_pushstring(L, err.msg[0] ? err.msg : rb_strerror(rc));
        return lua_error(L);
    }
    lua_pushliteral(L, "kind");
    lua_pushstring(L, kind);
    lua_rawset(L, 1);
    lua_pushliteral(L, "where");
    lua_pushstring(L, where);
    lua_rawset(L, 1);
    return 1;
}

static const char *const ctor_names[] = {"markup",   "discount", "rate",       "tiered",
                                         "fee",      "credit",   "commitment", "tax",
                                         "currency", "test",     "plan"};

void rbi_lapi_rebill_open(lua_State *L)
{
    int api = lua_gettop(L);

    for (size_t i = 0; i < RB_COUNTOF(ctor_names); i++) {
        lua_pushstring(L, ctor_names[i]);
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, l_rebill_ctor, 1);
        lua_rawset(L, api); /* raw: the table may already be a read-only proxy */
    }
}

/* {===================================================================================
 * The line object (on_line)
 * =================================================================================== */

static struct rbi_hook_line *line_check(lua_State *L)
{
    struct rbi_hook_line **u = luaL_checkudata(L, 1, RBI_LINE_MT);

    rbi_sandbox_check(L);
    if (!*u || !(*u)->live)
        luaL_error(L, "a line object can be used only during the on_line call that received it");
    return *u;
}

static void push_str(lua_State *L, const char *s)
{
    lua_pushstring(L, s ? s : "");
}

/* line.field -> value   [-0, +1, e]
 * Fields: account service usage_type operation region line_type entity currency (strings);
 * quantity list billed effective cost base price margin (money); rule (string or nil). */
static int l_line_index(lua_State *L)
{
    struct rbi_hook_line *hl = line_check(L);
    const rb_price_input *in = hl->in;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";

    switch (k[0]) {
    case 'a':
        if (strcmp(k, "account") == 0)
            return push_str(L, in->account), 1;
        break;
    case 'b':
        if (strcmp(k, "billed") == 0)
            return rbi_lapi_dec_push(L, &in->billed), 1;
        if (strcmp(k, "base") == 0)
            return rbi_lapi_dec_push(L, &hl->base), 1;
        break;
    case 'c':
        if (strcmp(k, "cost") == 0)
            return rbi_lapi_dec_push(L, &hl->cost), 1;
        if (strcmp(k, "currency") == 0)
            return push_str(L, in->currency), 1;
        break;
    case 'e':
        if (strcmp(k, "effective") == 0)
            return rbi_lapi_dec_push(L, &in->effective), 1;
        if (strcmp(k, "entity") == 0)
            return push_str(L, in->entity), 1;
        break;
    case 'l':
        if (strcmp(k, "list") == 0)
            return rbi_lapi_dec_push(L, &in->list), 1;
        if (strcmp(k, "line_type") == 0)
            return push_str(L, in->line_type), 1;
        break;
    case 'm':
        if (strcmp(k, "margin") == 0) {
            rb_dec m;
            if (rb_dec_sub(&m, &hl->price, &hl->cost) != RB_OK)
                return luaL_error(L, "line.margin: amount out of range");
            return rbi_lapi_dec_push(L, &m), 1;
        }
        break;
    case 'o':
        if (strcmp(k, "operation") == 0)
            return push_str(L, in->operation), 1;
        break;
    case 'p':
        if (strcmp(k, "price") == 0)
            return rbi_lapi_dec_push(L, &hl->price), 1;
        break;
    case 'q':
        if (strcmp(k, "quantity") == 0)
            return rbi_lapi_dec_push(L, &in->quantity), 1;
        break;
    case 'r':
        if (strcmp(k, "region") == 0)
            return push_str(L, in->region), 1;
        if (strcmp(k, "rule") == 0) {
            char buf[RBI_SCOPE_TEXT_MAX];
            if (!hl->rule) {
                lua_pushnil(L);
                return 1;
            }
            rbi_rule_scope_text(hl->rule, buf, sizeof(buf));
            lua_pushstring(L, buf);
            return 1;
        }
        break;
    case 's':
        if (strcmp(k, "service") == 0)
            return push_str(L, in->service), 1;
        break;
    case 'u':
        if (strcmp(k, "usage_type") == 0)
            return push_str(L, in->usage_type), 1;
        break;
    default:
        break;
    }
    return luaL_error(L,
                      "a line has no field '%s' (fields: account, service, usage_type, "
                      "operation, region, line_type, entity, currency, quantity, list, "
                      "billed, effective, cost, base, price, margin, rule)",
                      k);
}

/* line.field = v: refused   [-0, +0, e] */
static int l_line_newindex(lua_State *L)
{
    return luaL_error(L, "a line is read-only: return the new price from on_line instead");
}

/* tostring(line)   [-0, +1, e] */
static int l_line_tostring(lua_State *L)
{
    struct rbi_hook_line *hl = line_check(L);

    lua_pushfstring(L, "line(%s %s %s)", hl->in->account ? hl->in->account : "", hl->in->service,
                    hl->in->usage_type ? hl->in->usage_type : "");
    return 1;
}

static void line_metatable(lua_State *L)
{
    if (luaL_newmetatable(L, RBI_LINE_MT)) {
        lua_pushcfunction(L, l_line_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_line_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, l_line_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
}

void rbi_lapi_line_push(lua_State *L, struct rbi_hook_line *hl)
{
    struct rbi_hook_line **u = lua_newuserdatauv(L, sizeof(*u), 0);

    *u = hl;
    line_metatable(L);
    lua_setmetatable(L, -2);
}

/* {===================================================================================
 * The invoice object (on_invoice)
 * =================================================================================== */

static struct rbi_invoice_view *invoice_check(lua_State *L)
{
    struct rbi_invoice_view **u = luaL_checkudata(L, 1, RBI_INVOICE_MT);

    rbi_sandbox_check(L);
    if (!*u || !rbi_invoice_live(*u))
        luaL_error(L, "an invoice object can be used only during the on_invoice call that "
                      "received it");
    return *u;
}

/* The amount at idx (money, number or decimal text), raising with `what`. */
static rb_dec amount_arg(lua_State *L, int idx, const char *what)
{
    return rbi_lapi_dec_check(L, lua_absindex(L, idx), what); /* it wants an absolute index */
}

/* inv:add{name = "...", amount = x, service = "..."?}   [-0, +0, e] */
static int l_invoice_add(lua_State *L)
{
    struct rbi_invoice_view *iv = invoice_check(L);
    const char *name, *service = NULL;
    char msg[200];
    rb_dec a;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        lua_pop(L, 1);
        if (!k || (strcmp(k, "name") != 0 && strcmp(k, "amount") != 0 && strcmp(k, "service") != 0))
            return luaL_error(L, "invoice:add: unknown key '%s' (allowed: name, amount, service)",
                              k ? k : "?");
    }
    lua_pushliteral(L, "name");
    if (lua_rawget(L, 2) != LUA_TSTRING)
        return luaL_error(L, "invoice:add: 'name' must be a string");
    name = lua_tostring(L, -1);
    lua_pushliteral(L, "amount");
    lua_rawget(L, 2);
    a = amount_arg(L, -1, "invoice:add: 'amount'");
    lua_pushliteral(L, "service");
    if (lua_rawget(L, 2) == LUA_TSTRING)
        service = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        return luaL_error(L, "invoice:add: 'service' must be a string");
    if (rbi_invoice_add(iv, name, service, &a, msg, sizeof(msg)) != RB_OK)
        return luaL_error(L, "invoice:add: %s", msg);
    return 0;
}

/* inv:set_item(name, amount)   [-0, +0, e] */
static int l_invoice_set_item(lua_State *L)
{
    struct rbi_invoice_view *iv = invoice_check(L);
    const char *name = luaL_checkstring(L, 2);
    rb_dec a = amount_arg(L, 3, "invoice:set_item: amount");
    char msg[200];

    if (rbi_invoice_set_item(iv, name, &a, msg, sizeof(msg)) != RB_OK)
        return luaL_error(L, "invoice:set_item: %s", msg);
    return 0;
}

/* inv.field -> value   [-0, +1, e]
 * Fields: customer, period, currency (strings); subtotal, cost (money); services, items
 * (tables name -> money, fresh copies); add, set_item (methods). */
static int l_invoice_index(lua_State *L)
{
    struct rbi_invoice_view *iv = invoice_check(L);
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
    rb_dec d;

    if (strcmp(k, "customer") == 0) {
        lua_pushstring(L, rbi_invoice_customer(iv));
    } else if (strcmp(k, "period") == 0) {
        char mb[16];
        rb_month_format(rbi_invoice_month(iv), mb, sizeof(mb));
        lua_pushstring(L, mb);
    } else if (strcmp(k, "currency") == 0) {
        lua_pushstring(L, rbi_invoice_currency(iv));
    } else if (strcmp(k, "subtotal") == 0 || strcmp(k, "cost") == 0) {
        rb_status rc = k[0] == 's' ? rbi_invoice_subtotal(iv, &d) : rbi_invoice_cost(iv, &d);
        if (rc != RB_OK)
            return luaL_error(L, "invoice.%s: amount out of range", k);
        rbi_lapi_dec_push(L, &d);
    } else if (strcmp(k, "services") == 0) {
        const char *const *names;
        const rb_dec *sums;
        int n = rbi_invoice_services(iv, &names, &sums);
        if (n < 0)
            return luaL_error(L, "invoice.services: amount out of range");
        lua_createtable(L, 0, n);
        for (int i = 0; i < n; i++) {
            lua_pushstring(L, names[i]);
            rbi_lapi_dec_push(L, &sums[i]);
            lua_rawset(L, -3);
        }
    } else if (strcmp(k, "items") == 0) {
        int n = rbi_invoice_nitems(iv);
        lua_createtable(L, 0, n);
        for (int i = 0; i < n; i++) {
            bool on;
            const char *name = rbi_invoice_item(iv, i, &d, &on);
            if (!on)
                continue;
            lua_pushstring(L, name);
            rbi_lapi_dec_push(L, &d);
            lua_rawset(L, -3);
        }
    } else if (strcmp(k, "add") == 0) {
        lua_pushcfunction(L, l_invoice_add);
    } else if (strcmp(k, "set_item") == 0) {
        lua_pushcfunction(L, l_invoice_set_item);
    } else {
        return luaL_error(L,
                          "an invoice has no field '%s' (fields: customer, period, currency, "
                          "subtotal, cost, services, items, add, set_item)",
                          k);
    }
    return 1;
}

static int l_invoice_newindex(lua_State *L)
{
    return luaL_error(L, "an invoice is read-only: use invoice:add{...} or invoice:set_item()");
}

void rbi_lapi_invoice_push(lua_State *L, struct rbi_invoice_view *iv)
{
    struct rbi_invoice_view **u = lua_newuserdatauv(L, sizeof(*u), 0);

    *u = iv;
    if (luaL_newmetatable(L, RBI_INVOICE_MT)) {
        lua_pushcfunction(L, l_invoice_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_invoice_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
}
