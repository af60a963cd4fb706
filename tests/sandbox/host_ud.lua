-- expect: RB_OK
-- Row 8: a host userdata (money) hands out no metatable and no finalizer.
local m = rebill.money("1.50")
assert(type(m) == "userdata")
assert(getmetatable(m) == false)
assert(not pcall(setmetatable, m, {}))
assert(m.__gc == nil and m.__index == nil and m.__metatable == nil)
assert(not pcall(rawset, m, "x", 1))
assert(not pcall(rawget, m, "round"))
assert(not pcall(function() m.x = 1 end))
assert(not pcall(m.round, {}, 2))
assert(tostring(m:round(1)) == "1.5")
