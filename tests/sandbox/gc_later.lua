-- expect: RB_OK
-- Row 10: adding __gc after setmetatable does not mark the table for finalization, so the
-- loop below never runs: not during the collections this file causes, not at lua_close().
local mt = {}
local t = setmetatable({}, mt)
mt.__gc = function() while true do end end
assert(getmetatable(t) == mt)
t = nil
for i = 1, 20000 do local garbage = {i, tostring(i)} end
-- a metatable that has __gc now is refused for new tables (pcall cannot catch it, so only
-- check that the field is there)
assert(rawget(mt, "__gc") ~= nil)
