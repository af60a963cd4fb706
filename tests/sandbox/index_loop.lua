-- expect: RB_RUNTIME
-- Row 15: an __index chain that loops stops at Lua's own chain limit.
local t = setmetatable({}, {})
getmetatable(t).__index = setmetatable({}, {__index = t})
return t.anything
