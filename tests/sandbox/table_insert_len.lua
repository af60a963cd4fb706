-- expect: RB_BLOCKED
-- Row 12: a __len of 2^40 turns table.insert(t, 1, v) into 2^40 shifts in C.
-- (A __len of math.maxinteger must not overflow anything on the way: UBSan checks that.)
local max = setmetatable({}, {__len = function() return math.maxinteger end})
assert(not pcall(table.insert, max, 0, "x"))
table.insert(max, "appended at maxinteger + 1 wraps to mininteger, as in Lua")
local t = setmetatable({}, {__len = function() return 1 << 40 end})
table.insert(t, 1, "x")
