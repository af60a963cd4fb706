/*
 * lapi_dec.c -- money in Lua: the exact decimal rb_dec as a userdata (docs/lua/money.md).
 *
 * Provides: rebill.money(v) and rebill.is_money(v); the "money" metatable with + - * / unary
 * minus, == < <=, tostring and .., and the methods round, round_currency, div, abs, sign,
 * is_zero, scale and normalize; rbi_lapi_dec_push/test/check for the other bindings.
 * Uses: dec.c (every rb_dec_* function), sandbox.h.
 * Must never: round except in division, round, round_currency and div (each says how); accept
 * NaN or infinity; turn a value into money by any route but the one conversion below (so
 * money(0.95), m * 0.95 and m < 0.95 agree); run rule code (arguments are type-checked, never
 * converted through metamethods); hand out the metatable (__metatable is false [SANDBOX.md
 * row 8]); hold C memory across a Lua call (an rb_dec is a plain value).
 *
 * A Lua float becomes the shortest decimal that reads back as the same double: the first of
 * %.15g, %.16g, %.17g that round-trips. So 0.95 is exactly 0.95 and 0.1 + 0.2 (a float
 * computed by Lua) is 0.30000000000000004, the double Lua holds.
 */
#include "sandbox.h"

#include <lauxlib.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char money_key; /* its address: the registry key of the money metatable */

static const char *const mode_names[] = {"half_even", "half_up", "down", "up",
                                         "floor",     "ceiling", NULL};
static const rb_rounding mode_values[] = {RB_ROUND_HALF_EVEN, RB_ROUND_HALF_UP, RB_ROUND_DOWN,
                                          RB_ROUND_UP,        RB_ROUND_FLOOR,   RB_ROUND_CEILING};

const rb_dec *rbi_lapi_dec_test(lua_State *L, int idx)
{
    const rb_dec *d;
    bool same;

    idx = lua_absindex(L, idx); /* relative indexes move when the metatable is pushed */
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
        return NULL;
    d = lua_touserdata(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &money_key);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? d : NULL;
}

void rbi_lapi_dec_push(lua_State *L, const rb_dec *d)
{
    rb_dec *u = lua_newuserdatauv(L, sizeof(*u), 0);

    *u = *d;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &money_key);
    lua_setmetatable(L, -2);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x, as decimal text. */
static rb_dec from_float(lua_State *L, double x, const char *what)
{
    char buf[48];
    const char *dp = localeconv()->decimal_point;
    rb_error err;
    rb_dec d;
    size_t i, n = 0;
    int prec;

    if (isnan(x))
        luaL_error(L, "%s: NaN is not an amount", what);
    if (isinf(x))
        luaL_error(L, "%s: %s is not an amount", what, x > 0 ? "inf" : "-inf");
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    /* The C library writes the locale's decimal point; rb_dec_parse wants '.'. */
    for (i = 0; buf[i] != '\0'; i++) {
        if (dp[0] != '.' && dp[0] != '\0' && strncmp(buf + i, dp, strlen(dp)) == 0) {
            buf[n++] = '.';
            i += strlen(dp) - 1;
        } else {
            buf[n++] = buf[i];
        }
    }
    buf[n] = '\0';
    if (rb_dec_parse(&d, buf, n, &err) != RB_OK)
        luaL_error(L, "%s: %s does not fit money (at most 38 digits, 38 after the point)", what,
                   buf);
    return d;
}

rb_dec rbi_lapi_dec_check(lua_State *L, int idx, const char *what)
{
    const rb_dec *m = rbi_lapi_dec_test(L, idx);
    rb_error err;
    rb_dec d;
    const char *s;
    size_t len;

    if (m != NULL)
        return *m;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return rb_dec_from_int((int64_t)lua_tointeger(L, idx));
        return from_float(L, (double)lua_tonumber(L, idx), what);
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        if (rb_dec_parse(&d, s, len, &err) != RB_OK)
            luaL_error(L, "%s: %s", what, err.msg);
        return d;
    default:
        luaL_error(L, "%s: want money, a number or decimal text, got a %s value", what,
                   luaL_typename(L, idx));
        return rb_dec_zero(); /* not reached */
    }
}

/* A decimal as text, for messages. */
static const char *fmt(const rb_dec *d, char *buf)
{
    rb_dec_format(d, buf, RB_DEC_BUFSZ);
    return buf;
}

static int push_result(lua_State *L, rb_status rc, const rb_dec *r, const rb_dec *a,
                       const rb_dec *b, const char *op)
{
    char x[RB_DEC_BUFSZ], y[RB_DEC_BUFSZ];

    if (rc != RB_OK)
        return luaL_error(L, "money overflow: %s %s %s does not fit 38 digits", fmt(a, x), op,
                          fmt(b, y));
    rbi_lapi_dec_push(L, r);
    return 1;
}

static int checked_scale(lua_State *L, int arg)
{
    lua_Integer s = luaL_checkinteger(L, arg);

    luaL_argcheck(L, s >= 0 && s <= RB_DEC_MAX_SCALE, arg, "scale must be 0..38");
    return (int)s;
}

static rb_rounding checked_mode(lua_State *L, int arg)
{
    return mode_values[luaL_checkoption(L, arg, "half_even", mode_names)];
}

/* {===================================================================================
 * Operators
 * =================================================================================== */

/* a + b -> money   [-0, +1, e]: exact */
static int l_money_add(lua_State *L)
{
    rb_dec a, b, r;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money +");
    b = rbi_lapi_dec_check(L, 2, "money +");
    return push_result(L, rb_dec_add(&r, &a, &b), &r, &a, &b, "+");
}

/* a - b -> money   [-0, +1, e]: exact */
static int l_money_sub(lua_State *L)
{
    rb_dec a, b, r;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money -");
    b = rbi_lapi_dec_check(L, 2, "money -");
    return push_result(L, rb_dec_sub(&r, &a, &b), &r, &a, &b, "-");
}

/* a * b -> money   [-0, +1, e]: exact; scale a.scale + b.scale */
static int l_money_mul(lua_State *L)
{
    rb_dec a, b, r;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money *");
    b = rbi_lapi_dec_check(L, 2, "money *");
    return push_result(L, rb_dec_mul(&r, &a, &b), &r, &a, &b, "*");
}

/* a / b -> money   [-0, +1, e]: the quotient rounded half-even to RBI_MONEY_DIV_SCALE (12)
 * fraction digits, or to a's scale if that is larger; then trailing zeros are dropped, down
 * to a's scale. So 10 / 4 = 2.5, 1.00 / 4 = 0.25, 1.00 / 2 = 0.50, 1 / 3 = 0.333333333333. */
static int l_money_div(lua_State *L)
{
    char x[RB_DEC_BUFSZ];
    rb_dec a, b, q, n;
    int scale;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money /");
    b = rbi_lapi_dec_check(L, 2, "money /");
    if (rb_dec_sign(&b) == 0)
        return luaL_error(L, "money division by zero: %s / 0", fmt(&a, x));
    scale = a.scale > RBI_MONEY_DIV_SCALE ? a.scale : RBI_MONEY_DIV_SCALE;
    if (rb_dec_div(&q, &a, &b, scale, RB_ROUND_HALF_EVEN) != RB_OK)
        return push_result(L, RB_OVERFLOW, &q, &a, &b, "/");
    n = rb_dec_normalize(&q);
    if (n.scale < a.scale && rb_dec_round(&n, &n, a.scale, RB_ROUND_HALF_EVEN) != RB_OK)
        n = q;
    rbi_lapi_dec_push(L, &n);
    return 1;
}

/* -a -> money   [-0, +1, e] */
static int l_money_unm(lua_State *L)
{
    rb_dec a, r;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money -");
    r = rb_dec_neg(&a);
    rbi_lapi_dec_push(L, &r);
    return 1;
}

/* a == b -> boolean   [-0, +1, e]: by value (1.50 == 1.5). Lua asks only when both are
 * money: money == number is always false. */
static int l_money_eq(lua_State *L)
{
    rb_dec a, b;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money ==");
    b = rbi_lapi_dec_check(L, 2, "money ==");
    lua_pushboolean(L, rb_dec_cmp(&a, &b) == 0);
    return 1;
}

/* a < b -> boolean   [-0, +1, e]: numbers and text are converted like money(v) */
static int l_money_lt(lua_State *L)
{
    rb_dec a, b;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money <");
    b = rbi_lapi_dec_check(L, 2, "money <");
    lua_pushboolean(L, rb_dec_cmp(&a, &b) < 0);
    return 1;
}

/* a <= b -> boolean   [-0, +1, e] */
static int l_money_le(lua_State *L)
{
    rb_dec a, b;

    rbi_sandbox_check(L);
    a = rbi_lapi_dec_check(L, 1, "money <=");
    b = rbi_lapi_dec_check(L, 2, "money <=");
    lua_pushboolean(L, rb_dec_cmp(&a, &b) <= 0);
    return 1;
}

/* tostring(m) -> string   [-0, +1, m]: plain text keeping the scale: "12.30", "-0.5", "150" */
static int l_money_tostring(lua_State *L)
{
    char buf[RB_DEC_BUFSZ];
    const rb_dec *d;

    rbi_sandbox_check(L);
    d = rbi_lapi_dec_test(L, 1);
    if (d == NULL)
        return luaL_typeerror(L, 1, "money");
    lua_pushlstring(L, buf, rb_dec_format(d, buf, sizeof(buf)));
    return 1;
}

/* a .. b -> string   [-0, +1, e]: money as tostring() shows it */
static int l_money_concat(lua_State *L)
{
    char buf[RB_DEC_BUFSZ];
    const rb_dec *d;
    int i, t;

    rbi_sandbox_check(L);
    for (i = 1; i <= 2; i++) {
        d = rbi_lapi_dec_test(L, i);
        t = lua_type(L, i);
        if (d != NULL)
            lua_pushlstring(L, buf, rb_dec_format(d, buf, sizeof(buf)));
        else if (t == LUA_TSTRING || t == LUA_TNUMBER)
            luaL_tolstring(L, i, NULL);
        else
            return luaL_error(L, "attempt to concatenate a %s value", luaL_typename(L, i));
    }
    lua_concat(L, 2);
    return 1;
}

/* {===================================================================================
 * Methods and constructors
 * =================================================================================== */

static rb_dec self(lua_State *L)
{
    const rb_dec *d = rbi_lapi_dec_test(L, 1);

    if (d == NULL)
        luaL_typeerror(L, 1, "money");
    return *d;
}

/* m:round(scale [, mode]) -> money   [-0, +1, e]: to `scale` fraction digits (0..38); mode
 * "half_even" (default), "half_up", "down", "up", "floor", "ceiling". A larger scale pads. */
static int l_money_round(lua_State *L)
{
    rb_dec a, r;
    int scale;

    rbi_sandbox_check(L);
    a = self(L);
    scale = checked_scale(L, 2);
    if (rb_dec_round(&r, &a, scale, checked_mode(L, 3)) != RB_OK)
        return luaL_error(L, "money overflow: cannot give %d fraction digits", scale);
    rbi_lapi_dec_push(L, &r);
    return 1;
}

/* m:round_currency(code [, mode]) -> money   [-0, +1, e]: to the currency's minor unit
 * (USD 2, JPY 0, KWD 3; unknown codes 2) */
static int l_money_round_currency(lua_State *L)
{
    rb_dec a, r;
    const char *code;

    rbi_sandbox_check(L);
    a = self(L);
    code = luaL_checkstring(L, 2);
    if (rb_dec_round_currency(&r, &a, code, checked_mode(L, 3)) != RB_OK)
        return luaL_error(L, "money overflow: cannot round to %s", code);
    rbi_lapi_dec_push(L, &r);
    return 1;
}

/* m:div(b, scale [, mode]) -> money   [-0, +1, e]: m / b rounded to `scale` digits */
static int l_money_div_method(lua_State *L)
{
    char x[RB_DEC_BUFSZ];
    rb_dec a, b, r;
    int scale;

    rbi_sandbox_check(L);
    a = self(L);
    b = rbi_lapi_dec_check(L, 2, "money:div");
    scale = checked_scale(L, 3);
    if (rb_dec_sign(&b) == 0)
        return luaL_error(L, "money division by zero: %s / 0", fmt(&a, x));
    if (rb_dec_div(&r, &a, &b, scale, checked_mode(L, 4)) != RB_OK)
        return push_result(L, RB_OVERFLOW, &r, &a, &b, "/");
    rbi_lapi_dec_push(L, &r);
    return 1;
}

/* m:abs() -> money   [-0, +1, e] */
static int l_money_abs(lua_State *L)
{
    rb_dec a;

    rbi_sandbox_check(L);
    a = self(L);
    if (rb_dec_sign(&a) < 0)
        a = rb_dec_neg(&a);
    rbi_lapi_dec_push(L, &a);
    return 1;
}

/* m:sign() -> -1|0|1   [-0, +1, e] */
static int l_money_sign(lua_State *L)
{
    rb_dec a;

    rbi_sandbox_check(L);
    a = self(L);
    lua_pushinteger(L, rb_dec_sign(&a));
    return 1;
}

/* m:is_zero() -> boolean   [-0, +1, e] */
static int l_money_is_zero(lua_State *L)
{
    rb_dec a;

    rbi_sandbox_check(L);
    a = self(L);
    lua_pushboolean(L, rb_dec_sign(&a) == 0);
    return 1;
}

/* m:scale() -> integer   [-0, +1, e]: digits after the point */
static int l_money_scale(lua_State *L)
{
    rb_dec a;

    rbi_sandbox_check(L);
    a = self(L);
    lua_pushinteger(L, a.scale);
    return 1;
}

/* m:normalize() -> money   [-0, +1, e]: without trailing fraction zeros (1.50 -> 1.5) */
static int l_money_normalize(lua_State *L)
{
    rb_dec a;

    rbi_sandbox_check(L);
    a = self(L);
    a = rb_dec_normalize(&a);
    rbi_lapi_dec_push(L, &a);
    return 1;
}

/* rebill.money(v) -> money   [-0, +1, e]: from money (a copy), an integer, a float (its
 * shortest round-trip decimal) or decimal text ("12.34", "-1e-3") */
static int l_rebill_money(lua_State *L)
{
    rb_dec d;

    rbi_sandbox_check(L);
    luaL_checkany(L, 1);
    d = rbi_lapi_dec_check(L, 1, "rebill.money");
    rbi_lapi_dec_push(L, &d);
    return 1;
}

/* rebill.is_money(v) -> boolean   [-0, +1, -] */
static int l_rebill_is_money(lua_State *L)
{
    rbi_sandbox_check(L);
    lua_pushboolean(L, rbi_lapi_dec_test(L, 1) != NULL);
    return 1;
}

static const luaL_Reg money_meta[] = {
    {"__add", l_money_add},       {"__sub", l_money_sub}, {"__mul", l_money_mul},
    {"__div", l_money_div},       {"__unm", l_money_unm}, {"__eq", l_money_eq},
    {"__lt", l_money_lt},         {"__le", l_money_le},   {"__tostring", l_money_tostring},
    {"__concat", l_money_concat}, {NULL, NULL},
};

static const luaL_Reg money_methods[] = {
    {"round", l_money_round},
    {"round_currency", l_money_round_currency},
    {"div", l_money_div_method},
    {"abs", l_money_abs},
    {"sign", l_money_sign},
    {"is_zero", l_money_is_zero},
    {"scale", l_money_scale},
    {"normalize", l_money_normalize},
    {NULL, NULL},
};

static const luaL_Reg rebill_funcs[] = {
    {"money", l_rebill_money},
    {"is_money", l_rebill_is_money},
    {NULL, NULL},
};

void rbi_lapi_dec_open(lua_State *L)
{
    lua_createtable(L, 0, 14);
    luaL_setfuncs(L, money_meta, 0);
    luaL_newlib(L, money_methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "money");
    lua_setfield(L, -2, "__name");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &money_key);
    luaL_setfuncs(L, rebill_funcs, 0);
}
