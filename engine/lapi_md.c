/*
 * lapi_md.c -- the Markdown builder (mdbuild.c) as a Lua object for invoice layouts
 * (docs/invoices.md "Layouts").
 *
 * Provides: rbi_lapi_md_push(), which hands a layout an `md` object with the methods
 * heading, para, text, bold, link, item, table, row, total_row and table_end; every string
 * given to them is data and is escaped by the builder, so a layout cannot produce raw HTML or
 * break a table whatever the data holds.
 * Uses: the rb_md builder (include/rebill.h), sandbox.h, lapi_dec.c (money cells).
 * Must never: own the builder (invoice.c does, and revokes the object after the layout ran:
 * a stashed object then raises); hold C heap memory across a Lua call that can raise (cells
 * are collected as Lua strings on the stack, their pointers in a C array on the C stack);
 * hand out its metatable (__metatable is false).
 */
#include "sandbox.h"
#include "invoice.h"

#include <lauxlib.h>

#include <string.h>

static const char md_key; /* its address: the registry key of the metatable */

struct md_box {
    struct rbi_md_handle *h; /* NULL once revoked */
};

static struct rbi_md_handle *check_md(lua_State *L)
{
    struct md_box *b;

    rbi_sandbox_check(L);
    b = lua_type(L, 1) == LUA_TUSERDATA ? lua_touserdata(L, 1) : NULL;
    if (b != NULL) {
        bool same;
        if (!lua_getmetatable(L, 1))
            b = NULL;
        else {
            lua_rawgetp(L, LUA_REGISTRYINDEX, &md_key);
            same = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
            if (!same)
                b = NULL;
        }
    }
    if (b == NULL)
        luaL_error(L, "md: call the builder's methods with ':' (md:heading(1, \"...\"))");
    if (b->h == NULL || b->h->md == NULL)
        luaL_error(L, "md: the builder is no longer valid (the layout has returned)");
    return b->h;
}

/* The value at idx as text for the builder: string, number, money, nil (""); raises on any
 * other type naming `what`. May push one string (kept on the stack until the call ends). */
static const char *to_text(lua_State *L, int idx, const char *what)
{
    char buf[RB_DEC_BUFSZ];
    const rb_dec *d;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        return "";
    case LUA_TSTRING:
        return lua_tostring(L, idx);
    case LUA_TNUMBER:
        lua_pushvalue(L, idx);
        return lua_tostring(L, -1); /* converts the copy */
    default:
        d = rbi_lapi_dec_test(L, idx);
        if (d != NULL) {
            rb_dec_format(d, buf, sizeof(buf));
            return lua_pushstring(L, buf);
        }
        luaL_error(L, "md: %s is a %s: want a string, a number or money", what,
                   luaL_typename(L, idx));
        return NULL;
    }
}

static int md_check(lua_State *L, struct rbi_md_handle *h, rb_status rc, const char *method)
{
    if (rc != RB_OK)
        return luaL_error(L, "md:%s: %s", method, rb_md_errmsg(h->md));
    return 0;
}

/* md:heading(level, text)   [-0, +0, e] */
static int l_md_heading(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    lua_Integer level = luaL_checkinteger(L, 2);
    const char *text = to_text(L, 3, "heading text");

    if (level < 1 || level > 6)
        return luaL_error(L, "md:heading: level %d: want 1..6", (int)(level < -9 ? -9 : level));
    return md_check(L, h, rb_md_heading(h->md, (int)level, text), "heading");
}

/* md:para([text])   [-0, +0, e] */
static int l_md_para(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    return md_check(L, h, rb_md_para(h->md, to_text(L, 2, "paragraph text")), "para");
}

/* md:item([text]): a bullet list item   [-0, +0, e] */
static int l_md_item(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    return md_check(L, h, rb_md_list_item(h->md, to_text(L, 2, "item text")), "item");
}

/* md:text(text): escaped text added to the inline run   [-0, +0, e] */
static int l_md_text(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    return md_check(L, h, rb_md_text(h->md, to_text(L, 2, "text")), "text");
}

/* md:bold(text)   [-0, +0, e] */
static int l_md_bold(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    return md_check(L, h, rb_md_bold(h->md, to_text(L, 2, "bold text")), "bold");
}

/* md:link(text, url): http, https or mailto only   [-0, +0, e] */
static int l_md_link(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    const char *text = to_text(L, 2, "link text");
    const char *url = luaL_checkstring(L, 3);
    return md_check(L, h, rb_md_link(h->md, text, url), "link");
}

/* Read the array at idx into cells[0..n) (strings left on the stack). */
static void read_cells(lua_State *L, int idx, const char **cells, size_t n, const char *method)
{
    char what[48];
    size_t i;

    luaL_checktype(L, idx, LUA_TTABLE);
    luaL_checkstack(L, (int)(2 * n + 4), "md: too many cells");
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)(i + 1));
        snprintf(what, sizeof(what), "%s cell %zu", method, i + 1);
        cells[i] = to_text(L, lua_gettop(L), what);
    }
}

/* md:table(headers, aligns): start a table; headers is an array of 1..64 texts, aligns a
 * string of 'l', 'r', 'c', '-' (one per column) or nil   [-0, +0, e] */
static int l_md_table(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);
    const char *cells[RB_RENDER_MAX_COLUMNS];
    const char *aligns = NULL;
    size_t n, alen = 0;

    luaL_checktype(L, 2, LUA_TTABLE);
    n = lua_rawlen(L, 2);
    if (n < 1 || n > RB_RENDER_MAX_COLUMNS)
        return luaL_error(L, "md:table: %d columns: want 1..%d",
                          (int)(n > 1000 ? 1000 : n), RB_RENDER_MAX_COLUMNS);
    if (!lua_isnoneornil(L, 3)) {
        aligns = luaL_checklstring(L, 3, &alen);
        if (alen != n)
            return luaL_error(L, "md:table: aligns \"%s\" has %d characters for %d columns",
                              alen > 64 ? "(too long)" : aligns, (int)alen, (int)n);
    }
    read_cells(L, 2, cells, n, "table header");
    if (md_check(L, h, rb_md_table_begin(h->md, n, cells, aligns), "table") == 0)
        h->ncols = n;
    return 0;
}

static int row(lua_State *L, bool bold)
{
    struct rbi_md_handle *h = check_md(L);
    const char *cells[RB_RENDER_MAX_COLUMNS];
    const char *method = bold ? "total_row" : "row";

    if (h->ncols == 0)
        return luaL_error(L, "md:%s: no table is open (call md:table first)", method);
    if (lua_type(L, 2) == LUA_TTABLE && lua_rawlen(L, 2) > h->ncols)
        return luaL_error(L, "md:%s: %d cells for a table of %d columns", method,
                          (int)(lua_rawlen(L, 2) > 1000 ? 1000 : lua_rawlen(L, 2)),
                          (int)h->ncols);
    read_cells(L, 2, cells, h->ncols, method);
    return md_check(L, h,
                    bold ? rb_md_table_row_bold(h->md, cells) : rb_md_table_row(h->md, cells),
                    method);
}

/* md:row(cells)   [-0, +0, e] */
static int l_md_row(lua_State *L)
{
    return row(L, false);
}

/* md:total_row(cells): a row in bold   [-0, +0, e] */
static int l_md_total_row(lua_State *L)
{
    return row(L, true);
}

/* md:table_end()   [-0, +0, e] */
static int l_md_table_end(lua_State *L)
{
    struct rbi_md_handle *h = check_md(L);

    if (h->ncols == 0)
        return luaL_error(L, "md:table_end: no table is open");
    h->ncols = 0;
    return md_check(L, h, rb_md_table_end(h->md), "table_end");
}

static const luaL_Reg md_methods[] = {
    {"heading", l_md_heading}, {"para", l_md_para},   {"item", l_md_item},
    {"text", l_md_text},       {"bold", l_md_bold},   {"link", l_md_link},
    {"table", l_md_table},     {"row", l_md_row},     {"total_row", l_md_total_row},
    {"table_end", l_md_table_end}, {NULL, NULL},
};

void rbi_lapi_md_push(lua_State *L, struct rbi_md_handle *h)
{
    struct md_box *b = lua_newuserdatauv(L, sizeof(*b), 0);

    b->h = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &md_key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        luaL_newlib(L, md_methods);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "md");
        lua_setfield(L, -2, "__name");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &md_key);
    }
    lua_setmetatable(L, -2);
    b->h = h;
}
