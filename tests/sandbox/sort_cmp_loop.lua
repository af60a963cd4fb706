-- expect: RB_LIMIT_STEPS
-- A comparator called from C (table.sort) is Lua code: the hook sees it.
local t = {}
for i = 1, 100 do t[i] = 101 - i end
pcall(table.sort, t, function(a, b) while true do end end)
