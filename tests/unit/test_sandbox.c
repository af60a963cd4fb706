/*
 * test_sandbox.c -- the Lua sandbox (engine/sandbox.c) and money in Lua (engine/lapi_dec.c):
 * limits and their classification, the sticky kill, loading and calling rules, the print log,
 * require, money arithmetic, an allocation-failure sweep, and the hostile corpus of
 * tests/sandbox/ (*.lua) (run from the repository root, or from $REBILL_ROOT).
 *
 * Every sandbox made here is freed, and the allocator's byte count must then be back to 0
 * (rbi_sandbox_leaked()).
 */
#include "sandbox.h"

#include "harness.h"

#include <lauxlib.h>
#include <lualib.h>

#include <dirent.h>
#include <stdlib.h>
#include <time.h>

/* Limits for the corpus: small, so each hostile case ends in well under a second. The wall
 * time is generous (other tests may share the machine); files that expect RB_TIMEOUT set a
 * short one on their "-- limits:" line. */
static rb_limits test_limits(void)
{
    rb_limits l = {16u << 20, 2000000u, 1000u};

    return l;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct rbi_sandbox *new_sb(const rb_limits *l)
{
    struct rbi_sandbox *sb = NULL;
    rb_error err = {0, ""};
    rb_status rc = rbi_sandbox_new(&sb, l, &err);

    OK(rc == RB_OK, "rbi_sandbox_new: %d %s", rc, err.msg);
    return sb;
}

static void free_sb(struct rbi_sandbox *sb)
{
    rbi_sandbox_free(sb);
    INT_EQ(rbi_sandbox_leaked(), 0);
}

static rb_status load(struct rbi_sandbox *sb, const char *src, int *rule)
{
    int r;

    return rbi_sandbox_load(sb, "rules/t.lua", src, strlen(src), rule ? rule : &r);
}

/* The value the rule's main chunk returned, as a string (strings only; else "<type>"). */
struct str_ctx {
    int rule;
    char out[512];
};

static void read_rule_str(lua_State *L, void *ctx)
{
    struct str_ctx *c = ctx;

    rbi_sandbox_push_rule(L, c->rule);
    if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(c->out, sizeof(c->out), "%s", lua_tostring(L, -1));
    else
        snprintf(c->out, sizeof(c->out), "<%s>", luaL_typename(L, -1));
    lua_pop(L, 1);
}

/* Load `src` (which returns a string) and check the string. */
#define LUA_EQ(sb, src, want) lua_eq(sb, src, want, __LINE__)
static void lua_eq(struct rbi_sandbox *sb, const char *src, const char *want, int line)
{
    struct str_ctx c = {0, ""};
    rb_status rc = load(sb, src, &c.rule);

    if (rc != RB_OK) {
        fprintf(stderr, "FAIL line %d: %s -> %s: %s\n", line, src, rb_strerror(rc),
                rbi_sandbox_errmsg(sb));
        OK(rc == RB_OK, "load at line %d", line);
        return;
    }
    rc = rbi_sandbox_run(sb, read_rule_str, &c);
    INT_EQ(rc, RB_OK);
    if (strcmp(c.out, want) != 0)
        fprintf(stderr, "FAIL line %d: %s\n", line, src);
    STR_EQ(c.out, want);
}

/* Load `src` in a fresh sandbox and check the outcome and that the message contains `part`. */
#define LUA_ERR(src, want, part) lua_err(src, want, part, __LINE__)
static void lua_err(const char *src, rb_status want, const char *part, int line)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 2000000u, 2000u});
    rb_status rc;

    if (sb == NULL)
        return;
    rc = load(sb, src, NULL);
    if (rc != want)
        fprintf(stderr, "FAIL line %d: %s -> %s (%s), want %s\n", line, src, rb_strerror(rc),
                rbi_sandbox_errmsg(sb), rb_strerror(want));
    INT_EQ(rc, want);
    STR_HAS(rbi_sandbox_errmsg(sb), part);
    free_sb(sb);
}

/* {===================================================================================
 * Creating sandboxes; limits
 * =================================================================================== */

static void test_limits_default(void)
{
    rb_limits l = rb_limits_default();

    INT_EQ(l.mem_bytes, 64u << 20);
    INT_EQ(l.steps, 50000000);
    INT_EQ(l.wall_ms, 2000);
}

static void test_new_invalid(void)
{
    struct rbi_sandbox *sb = (struct rbi_sandbox *)&sb;
    rb_error err = {0, ""};

    INT_EQ(rbi_sandbox_new(&sb, &(rb_limits){1000, 1000000u, 100u}, &err), RB_INVALID);
    OK(sb == NULL, "out set to NULL on failure");
    STR_HAS(err.msg, "rb_limits.mem_bytes 1000");
    INT_EQ(rbi_sandbox_new(&sb, &(rb_limits){8u << 20, 999u, 100u}, &err), RB_INVALID);
    STR_HAS(err.msg, "rb_limits.steps 999");
    INT_EQ(rbi_sandbox_new(&sb, &(rb_limits){8u << 20, 1000u, 0u}, &err), RB_INVALID);
    STR_HAS(err.msg, "rb_limits.wall_ms 0");
    /* NULL limits are the defaults */
    sb = new_sb(NULL);
    OK(sb != NULL && rbi_sandbox_mem_used(sb) > 0, "a state holds memory");
    OK(rbi_sandbox_mem_used(sb) < (1u << 20), "a fresh sandbox is small: %zu bytes",
       rbi_sandbox_mem_used(sb));
    free_sb(sb);
}

static void test_free_null(void)
{
    rbi_sandbox_free(NULL); /* rbi_sandbox_free(NULL) is a no-op */
    INT_EQ(rbi_sandbox_leaked(), 0);
}

/* {===================================================================================
 * Loading and calling
 * =================================================================================== */

struct call_io {
    lua_Integer arg;
    int nres;
    char res[4][64];
};

static int push_arg(lua_State *L, void *ctx)
{
    struct call_io *io = ctx;

    lua_pushinteger(L, io->arg);
    lua_pushliteral(L, "two");
    return 2;
}

static void take_res(lua_State *L, int nres, void *ctx)
{
    struct call_io *io = ctx;
    const rb_dec *d;
    int i;

    io->nres = nres;
    for (i = 0; i < nres && i < 4; i++) {
        int idx = lua_gettop(L) - nres + 1 + i;
        d = rbi_lapi_dec_test(L, idx);
        if (d != NULL)
            rb_dec_format(d, io->res[i], sizeof(io->res[i]));
        else if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
            snprintf(io->res[i], sizeof(io->res[i]), "%s", lua_tostring(L, idx));
        else
            snprintf(io->res[i], sizeof(io->res[i]), "<%s>", luaL_typename(L, idx));
    }
}

static void test_load_and_call(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 2000000u, 2000u});
    struct call_io io = {7, 0, {""}};
    int rule, other;

    INT_EQ(load(sb, "local n = 0\n"
                    "return { price = function(q, s) n = n + 1\n"
                    "  return rebill.money('0.95') * q, s .. n end,\n"
                    "  value = 42 }\n",
                &rule),
           RB_OK);
    INT_EQ(rule, 1);
    INT_EQ(rbi_sandbox_call(sb, rule, "price", push_arg, 2, take_res, &io), RB_OK);
    INT_EQ(io.nres, 2);
    STR_EQ(io.res[0], "6.65");
    STR_EQ(io.res[1], "two1");
    /* state kept between calls of the same rule (its upvalues) */
    INT_EQ(rbi_sandbox_call(sb, rule, "price", push_arg, 2, take_res, &io), RB_OK);
    STR_EQ(io.res[1], "two2");
    /* LUA_MULTRET: the take callback gets the count */
    INT_EQ(rbi_sandbox_call(sb, rule, "price", push_arg, LUA_MULTRET, take_res, &io), RB_OK);
    INT_EQ(io.nres, 2);
    STR_EQ(rbi_sandbox_errmsg(sb), "");
    /* a missing function, a field that is not a function */
    INT_EQ(rbi_sandbox_call(sb, rule, "nope", NULL, 0, NULL, NULL), RB_RUNTIME);
    STR_HAS(rbi_sandbox_errmsg(sb), "rules/t.lua: the rule has no function 'nope'");
    INT_EQ(rbi_sandbox_call(sb, rule, "value", NULL, 0, NULL, NULL), RB_RUNTIME);
    STR_HAS(rbi_sandbox_errmsg(sb), "found a number");
    OK(!rbi_sandbox_is_stopped(sb), "a runtime error does not stop the sandbox");
    /* a rule that is a function: fn NULL calls it */
    INT_EQ(load(sb, "return function(q) return q * 2 end", &other), RB_OK);
    INT_EQ(other, 2);
    INT_EQ(rbi_sandbox_call(sb, other, NULL, push_arg, 1, take_res, &io), RB_OK);
    STR_EQ(io.res[0], "14");
    INT_EQ(rbi_sandbox_call(sb, other, "price", NULL, 0, NULL, NULL), RB_RUNTIME);
    STR_HAS(rbi_sandbox_errmsg(sb), "returned a function, not a table of functions");
    /* handles this sandbox did not give */
    INT_EQ(rbi_sandbox_call(sb, 0, NULL, NULL, 0, NULL, NULL), RB_MISUSE);
    INT_EQ(rbi_sandbox_call(sb, 3, NULL, NULL, 0, NULL, NULL), RB_MISUSE);
    STR_HAS(rbi_sandbox_errmsg(sb), "no rule 3");
    free_sb(sb);
}

static void test_load_errors(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 2000000u, 2000u});
    char name[RBI_NAME_MAX + 2];
    char *big;
    int rule = -1;

    INT_EQ(load(sb, "x = = 1", &rule), RB_SYNTAX);
    INT_EQ(rule, 0);
    STR_HAS(rbi_sandbox_errmsg(sb), "rules/t.lua:1:");
    INT_EQ(load(sb, "local a = 1\nif a then\n", NULL), RB_SYNTAX);
    STR_HAS(rbi_sandbox_errmsg(sb), "rules/t.lua:3: 'end' expected");
    INT_EQ(rbi_sandbox_load(sb, "", "return 1", 8, &rule), RB_INVALID);
    INT_EQ(rbi_sandbox_load(sb, "bad\nname", "return 1", 8, &rule), RB_INVALID);
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    INT_EQ(rbi_sandbox_load(sb, name, "return 1", 8, &rule), RB_INVALID);
    STR_HAS(rbi_sandbox_errmsg(sb), "invalid rule name");
    big = malloc(RBI_SOURCE_MAX + 1);
    if (big != NULL) {
        memset(big, ' ', RBI_SOURCE_MAX + 1);
        INT_EQ(rbi_sandbox_load(sb, "rules/big.lua", big, RBI_SOURCE_MAX + 1, &rule), RB_TOOBIG);
        STR_HAS(rbi_sandbox_errmsg(sb), "rules/big.lua: source of 1048577 bytes");
        INT_EQ(rbi_sandbox_load(sb, "rules/big.lua", big, RBI_SOURCE_MAX, &rule), RB_OK);
        free(big);
    }
    OK(!rbi_sandbox_is_stopped(sb), "refused sources do not stop the sandbox");
    LUA_EQ(sb, "return 'still fine'", "still fine");
    free_sb(sb);
}

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    struct rb_buf *b = ud;

    (void)L;
    return rbi_buf_append(b, p, sz) == RB_OK ? 0 : 1;
}

/* A real binary chunk, made by a plain Lua state of the test's own, is refused [row 3]. */
static void test_load_binary(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);
    struct rb_buf b = {NULL, 0, 0};
    lua_State *L = luaL_newstate();
    int rule;

    OK(luaL_loadstring(L, "return 1") == LUA_OK, "compile");
    OK(lua_dump(L, dump_writer, &b, 0) == 0 && b.len > 4, "dump");
    lua_close(L);
    INT_EQ(rbi_sandbox_load(sb, "rules/bin.lua", b.data, b.len, &rule), RB_BLOCKED);
    STR_HAS(rbi_sandbox_errmsg(sb), "rules/bin.lua: binary (precompiled) chunks are not allowed");
    rbi_buf_release(&b);
    LUA_EQ(sb, "return 'text is fine'", "text is fine");
    free_sb(sb);
}

static void test_runtime_errors(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 2000000u, 2000u});

    INT_EQ(load(sb, "local t = nil\nlocal function f() return t.x end\nlocal x = f()\nreturn x",
                NULL),
           RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:2: attempt to index a nil value (upvalue 't')");
    STR_HAS(rbi_sandbox_traceback(sb), "stack traceback:");
    STR_HAS(rbi_sandbox_traceback(sb), "rules/t.lua:2: in ");
    STR_HAS(rbi_sandbox_traceback(sb), "rules/t.lua:3: in main chunk");
    /* error objects that are not strings are described, never converted [row 20] */
    INT_EQ(load(sb, "\nerror({code = 1})", NULL), RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:2: (error object is a table value)");
    INT_EQ(load(sb, "error(setmetatable({}, {__tostring = function() while true do end end}))",
                NULL),
           RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:1: (error object is a table value)");
    INT_EQ(load(sb, "error(nil)", NULL), RB_RUNTIME);
    STR_HAS(rbi_sandbox_errmsg(sb), "(error object is a nil value)");
    /* a message without a position gets the rule's */
    INT_EQ(load(sb, "\n\nerror('plain', 0)", NULL), RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:3: plain");
    INT_EQ(load(sb, "local function f(s) return (s:gsub('.', f)) end\nf('x')", NULL),
           RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:1: C stack overflow");
    INT_EQ(load(sb, "error('12:30: not a position', 0)", NULL), RB_RUNTIME);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:1: 12:30: not a position");
    INT_EQ(load(sb, "error('at the caller', 2)", NULL), RB_RUNTIME);
    /* a successful call clears the last message */
    LUA_EQ(sb, "return 'ok'", "ok");
    STR_EQ(rbi_sandbox_errmsg(sb), "");
    STR_EQ(rbi_sandbox_traceback(sb), "");
    OK(!rbi_sandbox_is_stopped(sb), "runtime errors do not stop the sandbox");
    free_sb(sb);
}

/* {===================================================================================
 * Limits: classification, message, stickiness
 * =================================================================================== */

static void test_limit_steps(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 100000u, 5000u});
    int rule;

    INT_EQ(load(sb, "local n = 0\nwhile true do\n  n = n + 1\nend", NULL), RB_LIMIT_STEPS);
    STR_HAS(rbi_sandbox_errmsg(sb), "rules/t.lua:");
    STR_HAS(rbi_sandbox_errmsg(sb), "instruction limit exceeded (100000 instructions)");
    OK(rbi_sandbox_steps(sb) >= 100000 && rbi_sandbox_steps(sb) < 100000 + 2 * RBI_HOOK_QUANTUM,
       "steps %llu", (unsigned long long)rbi_sandbox_steps(sb));
    OK(rbi_sandbox_is_stopped(sb), "a limit stops the sandbox");
    /* sticky: nothing runs any more, not even after rbi_sandbox_begin() */
    rbi_sandbox_begin(sb);
    INT_EQ(load(sb, "return 1", &rule), RB_MISUSE);
    STR_HAS(rbi_sandbox_errmsg(sb), "sandbox stopped earlier (instruction limit exceeded)");
    free_sb(sb);
}

static void test_limit_mem(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){4u << 20, 50000000u, 5000u});

    INT_EQ(load(sb, "local t = {}\nfor i = 1, 1e9 do\n  t[i] = {i}\nend", NULL), RB_LIMIT_MEM);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:3: memory limit exceeded (4194304 bytes)");
    OK(rbi_sandbox_mem_used(sb) <= (4u << 20), "never over the limit: %zu",
       rbi_sandbox_mem_used(sb));
    free_sb(sb);
    /* one big allocation, inside a C function: the rule's line is named */
    sb = new_sb(&(rb_limits){4u << 20, 50000000u, 5000u});
    INT_EQ(load(sb, "local x = 1\nlocal s = ('x'):rep(8 << 20)\nreturn s", NULL), RB_LIMIT_MEM);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:2: memory limit exceeded (4194304 bytes)");
    free_sb(sb);
    /* compiling counts too */
    sb = new_sb(&(rb_limits){1u << 20, 50000000u, 5000u});
    {
        struct rb_buf b = {NULL, 0, 0};
        int i, rule;
        rbi_buf_puts(&b, "return {");
        for (i = 0; i < 30000; i++) /* distinct string constants: the compiler's memory */
            rbi_buf_printf(&b, "'c%d',", i);
        rbi_buf_puts(&b, "}");
        INT_EQ(rbi_sandbox_load(sb, "rules/huge.lua", b.data, b.len, &rule), RB_LIMIT_MEM);
        STR_HAS(rbi_sandbox_errmsg(sb), "rules/huge.lua: memory limit exceeded");
        rbi_buf_release(&b);
    }
    free_sb(sb);
}

static void test_limit_time(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, UINT64_MAX / 2, 100u});
    double t0 = now_s(), dt;

    INT_EQ(load(sb, "while true do end", NULL), RB_TIMEOUT);
    dt = now_s() - t0;
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:1: wall-time limit exceeded (100 ms)");
    OK(dt >= 0.099 && dt < 1.5, "stopped after %.3f s", dt);
    free_sb(sb);
}

/* pcall and xpcall cannot catch a kill; the rule's xpcall handler never sees it [row 11] */
static void test_uncatchable(void)
{
    static const struct {
        const char *src;
        rb_status want;
    } cases[] = {
        {"for i = 1, 5 do pcall(function() while true do end end) end return 'caught'",
         RB_LIMIT_STEPS},
        {"local ok = pcall(string.rep, 'x', 1 << 30) return 'caught'", RB_LIMIT_MEM},
        {"local ok = pcall(function()\n"
         "  local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(999) .. i end end)\n"
         "return 'caught'",
         RB_LIMIT_MEM},
        {"xpcall(function() while true do end end, function(e) return e end) return 'caught'",
         RB_LIMIT_STEPS},
        {"xpcall(function() error('x') end, function(e) while true do end end) return 'caught'",
         RB_LIMIT_STEPS},
        {"pcall(pcall, pcall, string.dump, print) return 'caught'", RB_BLOCKED},
        {"pcall(load, 'return 1') return 'caught'", RB_BLOCKED},
        {"local ok = pcall(function() string.upper = nil end) return 'caught'", RB_BLOCKED},
    };
    size_t i;

    for (i = 0; i < RB_COUNTOF(cases); i++) {
        struct rbi_sandbox *sb = new_sb(&(rb_limits){4u << 20, 200000u, 1000u});
        rb_status rc = load(sb, cases[i].src, NULL);
        if (rc != cases[i].want)
            fprintf(stderr, "FAIL case %zu: %s -> %s: %s\n", i, cases[i].src, rb_strerror(rc),
                    rbi_sandbox_errmsg(sb));
        INT_EQ(rc, cases[i].want);
        STR_HAS(rbi_sandbox_errmsg(sb), "rules/t.lua:");
        free_sb(sb);
    }
}

/* Ordinary errors are still caught by pcall and xpcall, with the usual results. */
static void test_pcall_ordinary(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);

    LUA_EQ(sb, "local ok, e = pcall(error, 'boom', 0) return tostring(ok) .. ' ' .. e",
           "false boom");
    LUA_EQ(sb, "return select('#', pcall(function() return 1, 2, 3 end))", "<number>");
    LUA_EQ(sb, "local a, b, c, d = pcall(function() return 1, 2, 3 end)\n"
               "return table.concat({tostring(a), b, c, d}, ',')",
           "true,1,2,3");
    LUA_EQ(sb, "local ok, e = xpcall(function() error({}) end, function(e) return 'handled' end)\n"
               "return tostring(ok) .. ' ' .. e",
           "false handled");
    LUA_EQ(sb, "local ok, a, b = xpcall(function(x, y) return y, x end, print, 1, 2)\n"
               "return tostring(ok) .. a .. b",
           "true21");
    LUA_EQ(sb, "local ok, e = pcall(function() local t = nil; return t.x end) return e",
           "rules/t.lua:1: attempt to index a nil value (local 't')");
    free_sb(sb);
}

/* The step count covers every call of a run, however short; rbi_sandbox_begin() resets it. */
static void test_runs(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 100000u, 5000u});
    int rule, i;
    rb_status rc = RB_OK;

    INT_EQ(load(sb, "return function() for i = 1, 1000 do end end", &rule), RB_OK);
    for (i = 0; i < 1000 && rc == RB_OK; i++)
        rc = rbi_sandbox_call(sb, rule, NULL, NULL, 0, NULL, NULL);
    INT_EQ(rc, RB_LIMIT_STEPS);
    OK(i > 90 && i <= 101, "stopped after %d calls of ~1000 instructions", i);
    free_sb(sb);

    sb = new_sb(&(rb_limits){16u << 20, 100000u, 5000u});
    INT_EQ(load(sb, "return function() for i = 1, 1000 do end end", &rule), RB_OK);
    for (i = 0; i < 100; i++) {
        if (i % 10 == 0)
            rbi_sandbox_begin(sb);
        rc = rbi_sandbox_call(sb, rule, NULL, NULL, 0, NULL, NULL);
        if (rc != RB_OK)
            break;
    }
    INT_EQ(rc, RB_OK);
    OK(rbi_sandbox_steps(sb) < 100000, "begin resets the count");
    free_sb(sb);
}

/* rbi_lapi_dec_test/check accept relative (negative) stack indexes. */
static void dec_index_fn(lua_State *L, void *ctx)
{
    rb_dec d = rb_dec_from_int(7), got;
    int *ok = ctx;

    rbi_lapi_dec_push(L, &d);
    lua_pushinteger(L, 1);
    ok[0] = rbi_lapi_dec_test(L, -2) != NULL;   /* the money below the integer */
    ok[1] = rbi_lapi_dec_test(L, -1) == NULL;   /* the integer is not money */
    got = rbi_lapi_dec_check(L, -2, "test");
    ok[2] = rb_dec_cmp(&got, &d) == 0;
    lua_pop(L, 2);
}

static void test_dec_relative_index(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, 100000u, 5000u});
    int ok[3] = {0, 0, 0};

    INT_EQ(rbi_sandbox_run(sb, dec_index_fn, ok), RB_OK);
    OK(ok[0], "money found at index -2");
    OK(ok[1], "an integer is not money");
    OK(ok[2], "check at index -2 reads the money");
    free_sb(sb);
}

/* Wall time adds up over calls the hook never sees (each under 1000 instructions). */
static void test_time_across_calls(void)
{
    struct rbi_sandbox *sb = new_sb(&(rb_limits){16u << 20, UINT64_MAX / 2, 20u});
    int rule, i;
    rb_status rc = RB_OK;
    double t0 = now_s();

    /* each call: a few instructions and a plain find that takes a while in C */
    INT_EQ(load(sb, "local s = ('a'):rep(1 << 16)\nlocal p = ('a'):rep(1 << 10) .. 'b'\n"
                    "return function() return s:find(p, 1, true) end",
                &rule),
           RB_OK);
    for (i = 0; i < 100000 && rc == RB_OK; i++)
        rc = rbi_sandbox_call(sb, rule, NULL, NULL, 0, NULL, NULL);
    INT_EQ(rc, RB_TIMEOUT);
    STR_HAS(rbi_sandbox_errmsg(sb), "wall-time limit exceeded (20 ms)");
    OK(now_s() - t0 < 1.5, "stopped after %.3f s", now_s() - t0);
    free_sb(sb);
}

/* What `print` and `warn` write goes to the run's log, capped [row 23]. */
static void test_log(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);
    const char *log;
    size_t len;

    INT_EQ(load(sb, "print('a', 1, nil, true, {}, rebill.money('1.50'))\nwarn('w', 'x')\n"
                    "warn('@on')\nprint()",
                NULL),
           RB_OK);
    log = rbi_sandbox_log(sb, &len);
    STR_EQ(log, "a\t1\tnil\ttrue\ttable\t1.50\nwarning: wx\n\n");
    INT_EQ(len, strlen(log));
    rbi_sandbox_begin(sb);
    log = rbi_sandbox_log(sb, &len);
    INT_EQ(len, 0);
    STR_EQ(log, "");
    INT_EQ(load(sb, "for i = 1, 5000 do print(i) end", NULL), RB_OK);
    log = rbi_sandbox_log(sb, &len);
    STR_HAS(log, "\n999\n1000\n[log truncated]\n");
    OK(strstr(log, "1001") == NULL, "at most %d lines", RBI_LOG_MAX_LINES);
    rbi_sandbox_begin(sb);
    INT_EQ(load(sb, "local s = ('x'):rep(1000) for i = 1, 500 do print(s) end", NULL), RB_OK);
    log = rbi_sandbox_log(sb, &len);
    OK(len <= RBI_LOG_MAX_BYTES + 20 && len > RBI_LOG_MAX_BYTES - 1000, "log of %zu bytes", len);
    STR_HAS(log, "x\n[log truncated]\n");
    free_sb(sb);
}

static const struct rbi_script test_scripts[] = {
    {"rebill/util.lua",
     "local M = {rate = 5, nested = {list = {1, 2, 3}}}\n"
     "local calls = 0\n"
     "function M.bump() calls = calls + 1 return calls end\n"
     "function M.rate_of() return M.rate end\n"
     "return M\n",
     0},
    {"rebill/loop_a.lua", "return require('rebill.loop_b')", 0},
    {"rebill/loop_b.lua", "return require('rebill.loop_a')", 0},
    {"rebill/spin.lua", "while true do end", 0},
    {"rebill/bad.lua", "error('module failed')", 0},
    {"rebill/none.lua", "x = 1", 0},
    {NULL, NULL, 0},
};

static struct rbi_script scripts_with_len[RB_COUNTOF(test_scripts)];

static const struct rbi_script *get_test_scripts(void)
{
    size_t i;

    for (i = 0; i < RB_COUNTOF(test_scripts); i++) {
        scripts_with_len[i] = test_scripts[i];
        if (test_scripts[i].src != NULL)
            scripts_with_len[i].len = strlen(test_scripts[i].src);
    }
    return scripts_with_len;
}

static void test_require(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);

    rbi_sandbox_set_scripts(sb, get_test_scripts());
    LUA_EQ(sb, "local u = require('rebill.util') return u.rate .. ' ' .. u.bump() .. u.bump()",
           "5 12");
    /* the same (frozen) value for every rule; the module's own state is shared */
    LUA_EQ(sb, "local u = require('rebill.util')\n"
               "return tostring(u == require('rebill.util')) .. u.bump() .. #u.nested.list",
           "true33");
    /* iteration works on the read-only copy */
    LUA_EQ(sb, "local n = 0 for k, v in pairs(require('rebill.util')) do n = n + 1 end\n"
               "local s = 0\n"
               "for i, v in ipairs(require('rebill.util').nested.list) do s = s + v end\n"
               "return n .. ' ' .. s",
           "4 6");
    LUA_EQ(sb, "return tostring(require('rebill.none'))", "true");
    LUA_EQ(sb, "local ok, e = pcall(function() return require('rebill.nothere') end) return e",
           "rules/t.lua:1: module 'rebill.nothere' not found (only modules shipped with rebill "
           "can be required)");
    LUA_EQ(sb, "local ok, e = pcall(function() return require('../etc/passwd') end) return e",
           "rules/t.lua:1: invalid module name \"../etc/passwd\": want letters, digits, '_' and "
           "'.'");
    LUA_EQ(sb, "local ok, e = pcall(require, 'rebill.loop_a') return e",
           "scripts/rebill/loop_b.lua:1: module 'rebill.loop_a' requires itself (directly or "
           "through others)");
    LUA_EQ(sb, "local ok, e = pcall(require, 'rebill.bad') return e",
           "scripts/rebill/bad.lua:1: module failed");
    LUA_EQ(sb, "local ok, e = pcall(require, 'rebill.bad') return e",
           "scripts/rebill/bad.lua:1: module failed"); /* failures are not cached */
    OK(!rbi_sandbox_is_stopped(sb), "not stopped");
    free_sb(sb);

    /* a module is read-only, nested tables too [row 25] */
    sb = new_sb(NULL);
    rbi_sandbox_set_scripts(sb, get_test_scripts());
    INT_EQ(load(sb, "require('rebill.util').nested.list[1] = 9", NULL), RB_BLOCKED);
    STR_EQ(rbi_sandbox_errmsg(sb),
           "rules/t.lua:1: attempt to modify read-only table 'rebill.util'");
    free_sb(sb);
    sb = new_sb(NULL);
    rbi_sandbox_set_scripts(sb, get_test_scripts());
    INT_EQ(load(sb, "rawset(require('rebill.util'), 'rate', 0)", NULL), RB_BLOCKED);
    STR_EQ(rbi_sandbox_errmsg(sb), "rules/t.lua:1: rawset: table 'rebill.util' is read-only");
    free_sb(sb);
    /* a module runs under the caller's limits; the kill is not caught by require or pcall */
    sb = new_sb(&(rb_limits){16u << 20, 100000u, 1000u});
    rbi_sandbox_set_scripts(sb, get_test_scripts());
    INT_EQ(load(sb, "pcall(require, 'rebill.spin') return 1", NULL), RB_LIMIT_STEPS);
    STR_HAS(rbi_sandbox_errmsg(sb), "scripts/rebill/spin.lua:1: instruction limit exceeded");
    free_sb(sb);
    /* the embedded table (scripts/) is served by default: nothing in it is called "nope" */
    sb = new_sb(NULL);
    LUA_EQ(sb, "return tostring(pcall(require, 'nope'))", "false");
    free_sb(sb);
}

/* {===================================================================================
 * Money in Lua (lapi_dec.c)
 * =================================================================================== */

static void test_money(void)
{
    static const struct {
        const char *expr;
        const char *want;
    } cases[] = {
        /* constructors; a float is its shortest round-trip decimal */
        {"money('12.34')", "12.34"},
        {"money('-1e-3')", "-0.001"},
        {"money(12)", "12"},
        {"money(math.mininteger)", "-9223372036854775808"},
        {"money(0.95)", "0.95"},
        {"money(0.1)", "0.1"},
        {"money(123.456)", "123.456"},
        {"money(1e-7)", "0.0000001"},
        {"money(1/3)", "0.3333333333333333"},
        {"money(0.1 + 0.2)", "0.30000000000000004"},
        {"money(2^53)", "9007199254740992"},
        {"money(1e16)", "10000000000000000"},
        {"money(-0.0)", "0"},
        {"money(3.0)", "3"},
        {"money(money('1.50'))", "1.50"},
        /* + - * keep every digit */
        {"money('12.34') + money('0.66')", "13.00"},
        {"money('1.10') * 3", "3.30"},
        {"money('10') * 0.95", "9.50"},
        {"0.95 * money(10)", "9.50"},
        {"money(10) - 0.1", "9.9"},
        {"1 - money('0.25')", "0.75"},
        {"money('100') * '1.5'", "150.0"},
        {"'2' + money('0.5')", "2.5"},
        {"-money('1.5')", "-1.5"},
        {"money('0.1') + 0.2", "0.3"},
        /* division: exact up to 12 digits, at least the dividend's scale */
        {"money(10) / 4", "2.5"},
        {"money('1.00') / 4", "0.25"},
        {"money('1.00') / 2", "0.50"},
        {"money(1) / 3", "0.333333333333"},
        {"money(2) / 3", "0.666666666667"},
        {"money(-1) / 3", "-0.333333333333"},
        {"money(1) / money('0.3')", "3.333333333333"},
        {"money(100) / 0.25", "400"},
        {"money('0.000000000000001') / 2", "0.000000000000000"},
        {"money('0.000000000000003') / 2", "0.000000000000002"},
        /* comparisons */
        {"money('1.50') == money('1.5')", "true"},
        {"money(1) == 1", "false"},
        {"money(1) ~= money(2)", "true"},
        {"money(1) < 2", "true"},
        {"2 < money(1)", "false"},
        {"money('0.95') <= 0.95", "true"},
        {"money('0.95') < 0.95", "false"},
        {"0.95 >= money('0.95')", "true"},
        {"money('-0.01') < 0", "true"},
        {"money('10') > '9.99'", "true"},
        /* text */
        {"'total ' .. money('1.50')", "total 1.50"},
        {"money(1) .. 2", "12"},
        {"string.format('%s|%5s', money('1.5'), money(2))", "1.5|    2"},
        /* methods */
        {"money('12.30')", "12.30"},
        {"money('150')", "150"},
        {"money('2.345'):round(2)", "2.34"},
        {"money('2.345'):round(2, 'half_even')", "2.34"},
        {"money('2.345'):round(2, 'down')", "2.34"},
        {"money('2.345'):round(2, 'up')", "2.35"},
        {"money('2.345'):round(2, 'floor')", "2.34"},
        {"money('2.345'):round(2, 'ceiling')", "2.35"},
        {"money('-2.5'):round(0)", "-2"},
        {"money('-2.5'):round(0, 'half_up')", "-3"},
        {"money('-2.5'):round(0, 'down')", "-2"},
        {"money('-2.5'):round(0, 'up')", "-3"},
        {"money(0):is_zero()", "true"},
        {"money('0.01'):is_zero()", "false"},
        {"money('2.345'):round(2, 'half_up')", "2.35"},
        {"money('2.5'):round(0)", "2"},
        {"money('-2.5'):round(0, 'floor')", "-3"},
        {"money('-2.5'):round(0, 'ceiling')", "-2"},
        {"money('2.1'):round(0, 'up')", "3"},
        {"money('2.9'):round(0, 'down')", "2"},
        {"money('1.5'):round(3)", "1.500"},
        {"money('1234.5678'):round_currency('JPY')", "1235"},
        {"money('1234.5678'):round_currency('USD')", "1234.57"},
        {"money(10):div(3, 2)", "3.33"},
        {"money(10):div(3, 2, 'up')", "3.34"},
        {"money('-1.5'):abs()", "1.5"},
        {"money('-1.5'):sign()", "-1"},
        {"money('0.00'):is_zero()", "true"},
        {"money('1.500'):scale()", "3"},
        {"money('1.500'):normalize()", "1.5"},
        {"rebill.is_money(money(1))", "true"},
        {"rebill.is_money(1)", "false"},
        {"rebill.is_money(setmetatable({}, {}))", "false"},
        {"getmetatable(money(1))", "false"},
        {"type(money(1))", "userdata"},
        {"money(1).round == money(2).round", "true"},
    };
    static const struct {
        const char *expr;
        const char *part;
    } errors[] = {
        {"money(0/0)", "rules/t.lua:1: rebill.money: NaN is not an amount"},
        {"money(1/0)", "rebill.money: inf is not an amount"},
        {"money(-1/0)", "rebill.money: -inf is not an amount"},
        {"money(1e300)", "rebill.money: 1e+300 does not fit money"},
        {"money(5e-324)", "does not fit money"},
        {"money('1,000')", "rules/t.lua:1: rebill.money: not a decimal number: \"1,000\""},
        {"money('nan')", "not a decimal number"},
        {"money({})", "rebill.money: want money, a number or decimal text, got a table value"},
        {"money()", "bad argument #1 to 'money' (value expected)"},
        {"money(1) / 0", "rules/t.lua:1: money division by zero: 1 / 0"},
        {"money('99999999999999999999999999999999999999') + 1",
         "money overflow: 99999999999999999999999999999999999999 + 1 does not fit 38 digits"},
        {"money('1e30') * money('1e30')", "money overflow"},
        {"money(1) + true", "money +: want money, a number or decimal text, got a boolean value"},
        {"money(1) + 0/0", "money +: NaN is not an amount"},
        {"money(1) < {}", "money <: want money"},
        {"money(1) % 2", "attempt to perform arithmetic on a money value"},
        {"money(1):round(39)", "bad argument #1 to 'round' (scale must be 0..38)"},
        {"money(1):round(-1)", "scale must be 0..38"},
        {"money(1):round(2, 'banker')", "invalid option 'banker'"},
        {"money(1):div(0, 2)", "money division by zero"},
        {"money(1) .. {}", "attempt to concatenate a table value"},
        {"money(1).x.y", "attempt to index a nil value"},
        {"money.round(1, 2)", "attempt to index a function value"},
        {"money(1).round(5, 2)", "bad argument #1 to 'round' (money expected, got number)"},
    };
    struct rbi_sandbox *sb = new_sb(NULL);
    char src[512];
    size_t i;

    for (i = 0; i < RB_COUNTOF(cases); i++) {
        snprintf(src, sizeof(src), "local money = rebill.money return tostring(%s)",
                 cases[i].expr);
        LUA_EQ(sb, src, cases[i].want);
    }
    free_sb(sb);
    for (i = 0; i < RB_COUNTOF(errors); i++) {
        snprintf(src, sizeof(src), "local money = rebill.money return tostring(%s)",
                 errors[i].expr);
        LUA_ERR(src, RB_RUNTIME, errors[i].part);
    }
}

/* The `rebill` table holds what every opener added, and is read-only. */
static void test_api_table(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);

    LUA_EQ(sb, "return type(rebill.money) .. type(rebill.is_money) .. type(rebill.plan)",
           "functionfunctionfunction");
    LUA_EQ(sb, "return tostring(getmetatable(rebill)) .. rawlen(rebill)", "false0");
    free_sb(sb);
    LUA_ERR("rebill.money = nil", RB_BLOCKED,
            "rules/t.lua:1: attempt to modify read-only table 'rebill' (field 'money')");
}

/* pairs visits keys in a fixed order (numbers, strings by bytes, false, true), whatever
 * Lua's per-process string hash seed; __pairs is honoured; a key cleared during the walk is
 * skipped; the library tables (frozen proxies) walk in the same order. */
static void test_pairs_order(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);

    LUA_EQ(sb,
           "local t = {b=1, a=2, c=3, [10]=4, [2]=5, [1.5]=6, [true]=7, [false]=8, aa=9,\n"
           "  [''] = 10, [-3] = 11, ['B'] = 12}\n"
           "local o = {}\n"
           "for k, v in pairs(t) do o[#o + 1] = tostring(k) .. '=' .. v end\n"
           "return table.concat(o, ' ')",
           "-3=11 1.5=6 2=5 10=4 =10 B=12 a=2 aa=9 b=1 c=3 false=8 true=7");
    LUA_EQ(sb,
           "local u, o = {x = 1, y = 2, z = 3}, {}\n"
           "for k in pairs(u) do if k == 'x' then u.y = nil end o[#o + 1] = k end\n"
           "return table.concat(o)",
           "xz");
    LUA_EQ(sb,
           "local n = 0\n"
           "for k in pairs({}) do n = n + 1 end\n"
           "local t = setmetatable({}, {__pairs = function(t) return function(_, k)\n"
           "  if not k then return 1, 'own' end end, t, nil end})\n"
           "for k, v in pairs(t) do n = n .. v end\n"
           "return n",
           "0own");
    LUA_EQ(sb,
           "local o = {}\n"
           "for k in pairs(rebill) do o[#o + 1] = k end\n"
           "local s = table.concat(o, ',')\n"
           "table.sort(o)\n"
           "return tostring(s == table.concat(o, ',') and #o > 3)",
           "true");
    free_sb(sb);
    LUA_ERR("for k in pairs(42) do end", RB_RUNTIME, "table expected");
}

/* {===================================================================================
 * Speed: the success path allocates nothing
 * =================================================================================== */

static int push_one(lua_State *L, void *ctx)
{
    (void)ctx;
    lua_pushinteger(L, 3);
    return 1;
}

static void take_int(lua_State *L, int nres, void *ctx)
{
    lua_Integer *sum = ctx;

    (void)nres;
    if (lua_type(L, -1) == LUA_TNUMBER)
        *sum += lua_tointeger(L, -1);
}

static void test_call_allocates_nothing(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);
    lua_Integer sum = 0;
    long before;
    int rule, i;

    INT_EQ(load(sb, "local n = 0 return { line = function(q) n = n + q return n end }", &rule),
           RB_OK);
    for (i = 0; i < 10; i++)
        rbi_sandbox_call(sb, rule, "line", push_one, 1, take_int, &sum);
    before = rbi_alloc_count();
    for (i = 0; i < 10000; i++)
        rbi_sandbox_call(sb, rule, "line", push_one, 1, take_int, &sum);
    INT_EQ(rbi_alloc_count() - before, 0);
    INT_EQ(sum, 3 * 55 + 3 * (10010 * 10011 / 2 - 55));
    free_sb(sb);
}

/* For information: calls per second of a per-line Lua hook, both ways. */
struct bulk {
    int rule;
    int n;
    lua_Integer sum;
};

static void bulk_lines(lua_State *L, void *ctx)
{
    struct bulk *b = ctx;
    int i;

    rbi_sandbox_push_rule(L, b->rule);
    lua_pushliteral(L, "line");
    lua_rawget(L, -2);
    for (i = 0; i < b->n; i++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, 3);
        lua_call(L, 1, 1);
        b->sum += lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

static void test_speed_info(void)
{
    struct rbi_sandbox *sb = new_sb(NULL);
    struct bulk b = {0, 200000, 0};
    lua_Integer sum = 0;
    double t0, t1, t2;
    int i;

    INT_EQ(load(sb, "local n = 0 return { line = function(q) n = n + q return n end }", &b.rule),
           RB_OK);
    t0 = now_s();
    for (i = 0; i < b.n; i++)
        rbi_sandbox_call(sb, b.rule, "line", push_one, 1, take_int, &sum);
    t1 = now_s();
    INT_EQ(rbi_sandbox_run(sb, bulk_lines, &b), RB_OK);
    t2 = now_s();
    INT_EQ(b.sum, sum + 3 * (lua_Integer)b.n * b.n);
    printf("info: rbi_sandbox_call %.2f M calls/s; lua_call inside rbi_sandbox_run %.2f M/s\n",
           b.n / (t1 - t0) / 1e6, b.n / (t2 - t1) / 1e6);
    free_sb(sb);
}

/* {===================================================================================
 * Allocation failures (the C seam and Lua's allocator): a clean RB_NOMEM, no leak
 * =================================================================================== */

static void test_alloc_failures(void)
{
    rb_limits lim = {16u << 20, 2000000u, 1000u};
    struct call_io io = {2, 0, {""}};
    int n, rule, bad = 0, nomem = 0;

    for (n = 0; n < 5000; n++) {
        struct rbi_sandbox *sb = NULL;
        rb_error err = {0, ""};
        rb_status rc, rc2 = RB_OK, rc3 = RB_OK;

        rbi_alloc_fail_after(n);
        rc = rbi_sandbox_new(&sb, &lim, &err);
        if (rc == RB_OK) {
            rc2 = load(sb, "local t = {} for i = 1, 100 do t[i] = tostring(i) end\n"
                           "return function(q) return rebill.money('1.5') * q end",
                       &rule);
            if (rc2 == RB_OK)
                rc3 = rbi_sandbox_call(sb, rule, NULL, push_arg, 1, take_res, &io);
        }
        rbi_alloc_fail_after(-1);
        if (rc != RB_OK && (rc != RB_NOMEM || sb != NULL || !strstr(err.msg, "out of memory")))
            bad++;
        if ((rc2 != RB_OK && rc2 != RB_NOMEM) || (rc3 != RB_OK && rc3 != RB_NOMEM)) {
            fprintf(stderr, "alloc failure %d: %s %s: %s\n", n, rb_strerror(rc2),
                    rb_strerror(rc3), sb ? rbi_sandbox_errmsg(sb) : "");
            bad++;
        }
        if (rc != RB_OK || rc2 != RB_OK || rc3 != RB_OK)
            nomem++;
        rbi_sandbox_free(sb);
        if (rc == RB_OK && rc2 == RB_OK && rc3 == RB_OK)
            break;
    }
    INT_EQ(bad, 0);
    OK(n > 100 && nomem == n, "failed each of the first %d allocations", n);
    STR_EQ(io.res[0], "3.0");
    INT_EQ(rbi_sandbox_leaked(), 0);
}

/* {===================================================================================
 * The hostile corpus: tests/sandbox/ (*.lua)
 *
 * Line 1 of each file is "-- expect: RB_X"; an optional line 2 "-- limits: mem=MiB steps=N
 * ms=N" changes the test limits. The file is loaded as a rule; if it returns a table with a
 * function `main` (found with rawget), main is called too, and what it returns is read with
 * type checks and raw access only. The outcome must be the expected status. Then: the
 * message names the file; a stopped sandbox refuses everything; a sandbox that was not
 * stopped still runs a well-behaved rule correctly; the bytes are all freed; and a fresh
 * sandbox runs the well-behaved rule too.
 * =================================================================================== */

static const char good_rule[] =
    "-- a well-behaved rule, run after each hostile one: its environment must be intact\n"
    "local money = rebill.money\n"
    "assert(LEAK == nil and leaked == nil and pwned == nil, 'a global leaked between rules')\n"
    "assert(string.upper('abc') == 'ABC' and ('abc'):upper() == 'ABC', 'string changed')\n"
    "assert(('x'):rep(3) == 'xxx' and ('a,b'):find(',', 1, true) == 2, 'string changed')\n"
    "assert(getmetatable('') == false, 'string metatable unlocked')\n"
    "assert(type(print) == 'function' and type(pcall) == 'function', 'base changed')\n"
    "assert(os == nil and io == nil and debug == nil and package == nil, 'library leaked')\n"
    "assert(math.floor(2.5) == 2 and table.concat({1, 2}, '-') == '1-2', 'library changed')\n"
    "assert(tostring(money('12.34') * 2) == '24.68', 'money changed')\n"
    "local u = require('rebill.util')\n"
    "assert(u.rate == 5 and u.rate_of() == 5 and u.nested.list[2] == 2, 'module changed')\n"
    "return { price = function(q) return money('0.95') * q end }\n";

static void check_good_rule(struct rbi_sandbox *sb, const char *after)
{
    struct call_io io = {3, 0, {""}};
    rb_status rc;
    int rule;

    rbi_sandbox_begin(sb);
    rc = rbi_sandbox_load(sb, "rules/good.lua", good_rule, strlen(good_rule), &rule);
    if (rc == RB_OK)
        rc = rbi_sandbox_call(sb, rule, "price", push_one, 1, take_res, &io);
    if (rc != RB_OK)
        fprintf(stderr, "FAIL after %s: good rule: %s: %s\n", after, rb_strerror(rc),
                rbi_sandbox_errmsg(sb));
    INT_EQ(rc, RB_OK);
    STR_EQ(io.res[0], "2.85");
}

static rb_status status_by_name(const char *s)
{
    static const struct {
        const char *name;
        rb_status rc;
    } names[] = {
        {"RB_OK", RB_OK},           {"RB_SYNTAX", RB_SYNTAX},
        {"RB_RUNTIME", RB_RUNTIME}, {"RB_LIMIT_MEM", RB_LIMIT_MEM},
        {"RB_LIMIT_STEPS", RB_LIMIT_STEPS}, {"RB_TIMEOUT", RB_TIMEOUT},
        {"RB_BLOCKED", RB_BLOCKED},
    };
    size_t i, n;

    for (i = 0; i < RB_COUNTOF(names); i++) {
        n = strlen(names[i].name);
        if (strncmp(s, names[i].name, n) == 0 && (s[n] == '\n' || s[n] == ' ' || s[n] == '\r'))
            return names[i].rc;
    }
    return -1;
}

struct main_probe {
    int rule;
    bool has_main;
};

static void probe_main(lua_State *L, void *ctx)
{
    struct main_probe *p = ctx;

    rbi_sandbox_push_rule(L, p->rule);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushliteral(L, "main");
        p->has_main = lua_rawget(L, -2) == LUA_TFUNCTION;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Read main's results as a host must: type checks, raw access, no metamethods. */
static void take_raw(lua_State *L, int nres, void *ctx)
{
    int i, idx;

    (void)ctx;
    for (i = 0; i < nres; i++) {
        idx = lua_gettop(L) - nres + 1 + i;
        if (lua_type(L, idx) == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, idx))
                lua_pop(L, 1);
            lua_rawgeti(L, idx, 1);
            lua_pop(L, 1);
            (void)lua_rawlen(L, idx);
        }
        (void)rbi_lapi_dec_test(L, idx);
    }
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_hostile(const char *dir, const char *file, double *slowest, char *slowest_name)
{
    char path[512], name[300];
    rb_limits lim = test_limits();
    struct rbi_sandbox *sb;
    struct main_probe probe = {0, false};
    const char *lim_line, *log;
    char *src;
    size_t len, loglen;
    rb_status want, rc;
    double t0, dt;
    bool stops;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(name, sizeof(name), "tests/sandbox/%s", file);
    src = read_file(path, &len);
    OK(src != NULL, "read %s", path);
    if (src == NULL)
        return;
    if (strncmp(src, "-- expect: ", 11) != 0) {
        OK(0, "%s: line 1 is not \"-- expect: RB_...\"", name);
        free(src);
        return;
    }
    want = status_by_name(src + 11);
    OK(want >= 0, "%s: unknown expected status", name);
    lim_line = strstr(src, "\n-- limits:");
    if (lim_line != NULL && lim_line == strchr(src, '\n')) {
        unsigned long long mem, steps, ms;
        if (sscanf(lim_line, "\n-- limits: mem=%llu steps=%llu ms=%llu", &mem, &steps, &ms) == 3) {
            lim.mem_bytes = (size_t)mem << 20;
            lim.steps = steps;
            lim.wall_ms = (uint32_t)ms;
        } else {
            OK(0, "%s: bad limits line", name);
        }
    }
    sb = new_sb(&lim);
    if (sb == NULL) {
        free(src);
        return;
    }
    rbi_sandbox_set_scripts(sb, get_test_scripts());
    t0 = now_s();
    rc = rbi_sandbox_load(sb, name, src, len, &probe.rule);
    if (rc == RB_OK) {
        rc = rbi_sandbox_run(sb, probe_main, &probe);
        if (rc == RB_OK && probe.has_main)
            rc = rbi_sandbox_call(sb, probe.rule, "main", NULL, LUA_MULTRET, take_raw, NULL);
    }
    dt = now_s() - t0;
    if (dt > *slowest) {
        *slowest = dt;
        snprintf(slowest_name, 256, "%s", file);
    }
    if (rc != want)
        fprintf(stderr, "FAIL %s: got %s, want %s: %s\n%s\n", name, rb_strerror(rc),
                rb_strerror(want), rbi_sandbox_errmsg(sb), rbi_sandbox_traceback(sb));
    INT_EQ(rc, want);
    OK(dt < 2.5, "%s took %.3f s", name, dt);
    stops = rc == RB_LIMIT_MEM || rc == RB_LIMIT_STEPS || rc == RB_TIMEOUT || rc == RB_BLOCKED;
    OK(rbi_sandbox_is_stopped(sb) == stops, "%s: stopped iff a limit or a blocked call", name);
    if (rc != RB_OK) {
        /* the message names the file; an error raised inside a module names the module's
         * line, and the traceback the rule's */
        OK(strstr(rbi_sandbox_errmsg(sb), name) != NULL ||
               (rc == RB_RUNTIME && strstr(rbi_sandbox_traceback(sb), name) != NULL),
           "%s: message \"%s\" does not name the file", name, rbi_sandbox_errmsg(sb));
        if (rc == RB_LIMIT_MEM || rc == RB_LIMIT_STEPS || rc == RB_TIMEOUT)
            STR_HAS(rbi_sandbox_errmsg(sb), "limit exceeded");
    }
    OK(rbi_sandbox_mem_used(sb) <= lim.mem_bytes, "%s: memory within the limit", name);
    log = rbi_sandbox_log(sb, &loglen);
    OK(loglen <= RBI_LOG_MAX_BYTES + 20 && strlen(log) == loglen, "%s: log within its cap", name);
    if (stops) {
        int r;
        INT_EQ(rbi_sandbox_load(sb, "rules/good.lua", good_rule, strlen(good_rule), &r),
               RB_MISUSE);
    } else {
        check_good_rule(sb, name);
    }
    free_sb(sb);
    /* the engine carries on: a fresh sandbox for the next customer */
    sb = new_sb(NULL);
    if (sb != NULL) {
        rbi_sandbox_set_scripts(sb, get_test_scripts());
        check_good_rule(sb, name);
        free_sb(sb);
    }
    free(src);
}

static void test_hostile_corpus(void)
{
    const char *root = getenv("REBILL_ROOT");
    char dir[400], slowest_name[256] = "";
    char *files[512];
    double slowest = 0, t0 = now_s();
    struct dirent *e;
    size_t n = 0, i, len;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/tests/sandbox", root ? root : ".");
    d = opendir(dir);
    OK(d != NULL, "open %s", dir);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL && n < RB_COUNTOF(files)) {
        len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".lua") == 0)
            files[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, n, sizeof(files[0]), cmp_names);
    OK(n >= 30, "at least 30 hostile files, found %zu", n);
    for (i = 0; i < n; i++) {
        run_hostile(dir, files[i], &slowest, slowest_name);
        free(files[i]);
    }
    printf("info: %zu hostile files in %.2f s; slowest %s (%.3f s)\n", n, now_s() - t0,
           slowest_name, slowest);
}

int main(void)
{
    test_limits_default();
    test_new_invalid();
    test_free_null();
    test_load_and_call();
    test_load_errors();
    test_load_binary();
    test_runtime_errors();
    test_limit_steps();
    test_limit_mem();
    test_limit_time();
    test_uncatchable();
    test_pcall_ordinary();
    test_runs();
    test_dec_relative_index();
    test_time_across_calls();
    test_log();
    test_require();
    test_money();
    test_api_table();
    test_pairs_order();
    test_call_allocates_nothing();
    test_speed_info();
    test_alloc_failures();
    test_hostile_corpus();
    INT_EQ(rbi_sandbox_leaked(), 0);
    return harness_done();
}
