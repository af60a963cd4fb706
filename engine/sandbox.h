/*
 * sandbox.h -- the Lua sandbox: the private interface of sandbox.c and the lapi_*.c bindings.
 *
 * Provides: sandboxes (one lua_State each, for one trust domain: one customer run) with a
 * memory limit, an instruction limit and a wall-time limit; rule loading (Lua text only, one
 * fresh _ENV per rule); protected calls whose outcome is classified into RB_OK, RB_SYNTAX,
 * RB_RUNTIME, RB_LIMIT_MEM, RB_LIMIT_STEPS, RB_TIMEOUT, RB_BLOCKED (and RB_NOMEM when the
 * machine, not the limit, runs out); the per-run print log. For the lapi_*.c files: the check
 * every binding makes first, and the money userdata of lapi_dec.c.
 * Uses: Lua 5.4 (lua.h, lauxlib.h), rb_int.h.
 * Must never: be included by the CLI; let a lua_State leave engine/; be used from two threads
 * at once (a sandbox belongs to one thread, like a store handle). Call it from a thread with
 * at least 1 MiB of C stack (Lua nests up to 200 C calls; the main thread has 8 MiB).
 *
 * The environment, the limits and the way errors are reported are documented for rule
 * authors in docs/lua/sandbox.md; the threats they answer are in SANDBOX.md.
 */
#ifndef RB_SANDBOX_H
#define RB_SANDBOX_H

#include "rb_int.h"

#include <lua.h>

/* Lua sources embedded from scripts/ (tests/tools/embed.py): {name, src, len}, ending with a
 * {NULL} entry. `name` is the path below scripts/, e.g. "rebill/text.lua". */
struct rbi_script {
    const char *name;
    const char *src;
    size_t len;
};

/* Caps that are not in rb_limits (docs/lua/sandbox.md "Limits"). Going over one stops the
 * sandbox with RB_BLOCKED, except RBI_SOURCE_MAX (RB_TOOBIG) and the log caps (truncated). */
#define RBI_SOURCE_MAX (1u << 20)           /* bytes of one rule or module source */
#define RBI_NAME_MAX 200                    /* bytes of a rule name ("rules/markup.lua") */
#define RBI_LOG_MAX_BYTES (64u << 10)       /* print log per run, bytes */
#define RBI_LOG_MAX_LINES 1000              /* print log per run, lines */
#define RBI_PATTERN_MAX 512                 /* bytes of a pattern (find, match, gmatch, gsub) */
#define RBI_PATTERN_SUBJECT_MAX (64u << 10) /* bytes of a subject matched with a pattern */
#define RBI_PATTERN_QUANT_MAX 8             /* quantifiers (* + - ? %b %1-9) in one pattern */
#define RBI_PATTERN_WORK_MAX (1u << 25)     /* estimated worst-case matching steps per call */
#define RBI_FIND_WORK_MAX (1u << 27)        /* byte comparisons of a plain find */
#define RBI_TABLE_SPAN_MAX (1u << 22)       /* elements of table.move/insert/remove/concat/sort */
#define RBI_HOOK_QUANTUM 1000               /* instructions between two hook calls */
#define RBI_MONEY_DIV_SCALE 12              /* fraction digits of money division (lapi_dec.c) */

struct rbi_sandbox;

/*
 * Create a sandbox for one trust domain (one customer run). The first run starts now, as if
 * rbi_sandbox_begin() had been called. `limits` NULL means rb_limits_default().
 * @return RB_OK, RB_INVALID (a limit out of range; the message names it), RB_NOMEM,
 *         RB_LIMIT_MEM (mem_bytes too small for the sandbox itself).
 * Ownership: free it with rbi_sandbox_free().
 */
RBI_FUNC rb_status rbi_sandbox_new(struct rbi_sandbox **out, const rb_limits *limits,
                                   rb_error *err);
/* Close the Lua state and free the sandbox. rbi_sandbox_free(NULL) is a no-op. */
RBI_FUNC void rbi_sandbox_free(struct rbi_sandbox *sb);

/*
 * Start a new run: the instruction count and the wall time used go back to zero and the log
 * is emptied. Memory is not reset: it is what the state holds. A stopped sandbox stays
 * stopped (make a new one).
 */
RBI_FUNC void rbi_sandbox_begin(struct rbi_sandbox *sb);

/*
 * Compile `src` as the rule `name` (Lua text only: a binary chunk is RB_BLOCKED, refused
 * before compiling, and does not stop the sandbox), give it a fresh _ENV, run its main chunk
 * under the run's budget and keep its first result. `name` is what messages show, as
 * "name:line:" (e.g. "rules/markup.lua").
 * A sandbox is stopped for good by RB_LIMIT_MEM, RB_LIMIT_STEPS, RB_TIMEOUT, RB_BLOCKED (a
 * forbidden call, a cap, a write to a read-only table) and RB_NOMEM during a load, call or
 * run; RB_SYNTAX and RB_RUNTIME leave it usable.
 * @param[out] rule  set on RB_OK: a handle for rbi_sandbox_call() and rbi_sandbox_push_rule()
 * @return RB_OK, RB_SYNTAX, RB_RUNTIME, RB_LIMIT_MEM, RB_LIMIT_STEPS, RB_TIMEOUT, RB_BLOCKED,
 *         RB_TOOBIG (source over RBI_SOURCE_MAX), RB_INVALID (bad name), RB_NOMEM,
 *         RB_MISUSE (the sandbox was stopped earlier). The message is rbi_sandbox_errmsg().
 */
RBI_FUNC rb_status rbi_sandbox_load(struct rbi_sandbox *sb, const char *name, const char *src,
                                    size_t len, int *rule);

/* Pushes the call's arguments and returns how many; runs inside the protected call, so it may
 * raise Lua errors (they become RB_RUNTIME). Call luaL_checkstack before pushing more than 20
 * values. None of these callbacks may call rbi_sandbox_* functions other than those in "For
 * the bindings" below (RB_MISUSE). */
typedef int (*rbi_sandbox_push_fn)(lua_State *L, void *ctx);
/* Reads the call's `nres` results (the top of the stack); runs inside the protected call.
 * Read them with lua_type checks and raw access only: never lua_gettable, luaL_tolstring or
 * lua_tostring on a value whose type is not checked (they run rule code). */
typedef void (*rbi_sandbox_take_fn)(lua_State *L, int nres, void *ctx);
/* Any work with the state, run inside one protected call under the run's budget. */
typedef void (*rbi_sandbox_fn)(lua_State *L, void *ctx);

/*
 * Call a rule: its value itself when `fn` is NULL, else the function in its field `fn` (read
 * with rawget). `push` (may be NULL) pushes the arguments; `take` (may be NULL) reads the
 * `nres` results (LUA_MULTRET: all of them; take gets the count).
 * The success path allocates nothing and builds no traceback: it costs one lua_pcall and two
 * clock readings. For many calls in a row use rbi_sandbox_run() and lua_call inside it.
 * @return like rbi_sandbox_load() without RB_SYNTAX and RB_TOOBIG; a missing function is
 *         RB_RUNTIME; a rule handle this sandbox did not give is RB_MISUSE.
 */
RBI_FUNC rb_status rbi_sandbox_call(struct rbi_sandbox *sb, int rule, const char *fn,
                                    rbi_sandbox_push_fn push, int nres, rbi_sandbox_take_fn take,
                                    void *ctx);
/* Run fn(L, ctx) inside one protected call under the run's budget (for many calls at once).
 * Same statuses as rbi_sandbox_call(). */
RBI_FUNC rb_status rbi_sandbox_run(struct rbi_sandbox *sb, rbi_sandbox_fn fn, void *ctx);
/* Inside a run: push the value a rule's main chunk returned. [-0, +1, -] */
RBI_FUNC void rbi_sandbox_push_rule(lua_State *L, int rule);

/* The message of the last failed load, call or run: "file:line: what", or "" after RB_OK.
 * Valid until the next call on the sandbox. */
RBI_FUNC const char *rbi_sandbox_errmsg(const struct rbi_sandbox *sb);
/* The Lua traceback of the last failure, or "". Same lifetime. */
RBI_FUNC const char *rbi_sandbox_traceback(const struct rbi_sandbox *sb);
/* What the rules printed in this run (print and warn), capped at RBI_LOG_MAX_BYTES and
 * RBI_LOG_MAX_LINES. Borrowed; valid until the next call on the sandbox. */
RBI_FUNC const char *rbi_sandbox_log(const struct rbi_sandbox *sb, size_t *len);
/* Bytes the Lua state holds now; instructions counted in this run. */
RBI_FUNC size_t rbi_sandbox_mem_used(const struct rbi_sandbox *sb);
RBI_FUNC uint64_t rbi_sandbox_steps(const struct rbi_sandbox *sb);
/* True once the sandbox is stopped (see rbi_sandbox_load): every later load, call or run is
 * RB_MISUSE. */
RBI_FUNC bool rbi_sandbox_is_stopped(const struct rbi_sandbox *sb);
/* Bytes that sandboxes' allocators still counted after lua_close(), summed over the process:
 * always 0 unless the accounting is broken (tests assert it). */
RBI_FUNC size_t rbi_sandbox_leaked(void);
/* Serve `require` from `scripts` instead of the embedded rbi_scripts (tests). */
RBI_FUNC void rbi_sandbox_set_scripts(struct rbi_sandbox *sb, const struct rbi_script *scripts);

/* {===================================================================================
 * For the bindings (lapi_*.c)
 * =================================================================================== */

/* Every binding starts with this: raises the kill again if a limit stopped the sandbox, so
 * C code called from C (sort comparators, metamethods) cannot go on after a kill. [-0, +0, v] */
RBI_FUNC void rbi_sandbox_check(lua_State *L);
/* Stop the sandbox with RB_BLOCKED and raise: for a binding refusing something a rule must not
 * do (a cap, a forbidden argument). The message is "file:line: " (the calling rule's position)
 * followed by the formatted text. Never returns. [-0, +0, v] */
RBI_FUNC int rbi_sandbox_block(lua_State *L, const char *fmt, ...) RBI_PRINTF(2, 3);
/* Raise the wall-time kill if the run is past its deadline: for bindings that did a lot of
 * work in C, where the instruction hook cannot see it. [-0, +0, v] */
RBI_FUNC void rbi_sandbox_check_clock(lua_State *L);

/* The API openers sandbox.c calls, in this order, on the `rebill` table before freezing it.
 * Each adds its functions to the table on top of the stack. [-0, +0, m] */
/* lapi_rebill.c: the pricing constructors (rebill.plan, rebill.markup, ...). */
RBI_FUNC void rbi_lapi_rebill_open(lua_State *L);
/* lapi_dec.c: create the money metatable and add `money` and `is_money` to the API table on
 * top of the stack. [-0, +0, m] */
RBI_FUNC void rbi_lapi_dec_open(lua_State *L);
/* Push a money userdata holding *d. [-0, +1, m] */
RBI_FUNC void rbi_lapi_dec_push(lua_State *L, const rb_dec *d);
/* The decimal in the money userdata at `idx`, or NULL if the value is not money. Runs no
 * metamethod. [-0, +0, -] */
RBI_FUNC const rb_dec *rbi_lapi_dec_test(lua_State *L, int idx);
/* The value at `idx` as a decimal: money, integer, float (its shortest round-trip decimal) or
 * decimal text; raises an error naming `what` otherwise. [-0, +0, v] */
RBI_FUNC rb_dec rbi_lapi_dec_check(lua_State *L, int idx, const char *what);

#endif /* RB_SANDBOX_H */
