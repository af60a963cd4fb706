#!/bin/sh
# checksrc.sh -- the house style's banned functions (STYLE.md 3.6), enforced on engine/.
# Prints each violation as FILE:LINE: text, and exits non-zero if there is any.
cd "$(dirname "$0")/../.."
bad=0
banned='\b(gets|strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|strncpy|luaL_openlibs|luaL_newstate)[[:space:]]*\('
if grep -nE "$banned" engine/*.c engine/*.h engine/cli/*.c engine/cli/*.h 2>/dev/null; then
    bad=1
fi
# malloc & co. only in the allocation seam (the sandbox's Lua allocator has its own, and
# says so with a marker comment on the line: "checksrc: lua-alloc").
if grep -nE '\b(malloc|calloc|realloc|free|strdup)[[:space:]]*\(' engine/*.c engine/cli/*.c |
    grep -vE '^engine/alloc\.c:|rbi_(malloc|calloc|realloc|free|strdup)|checksrc: lua-alloc' ; then
    bad=1
fi
exit $bad
