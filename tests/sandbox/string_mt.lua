-- expect: RB_OK
-- Row 7: the shared string metatable is locked and cannot be reached or replaced.
assert(getmetatable("") == false)
assert(getmetatable("abc") == false)
assert(not pcall(setmetatable, "", {}))
local ok, e = pcall(function() return getmetatable("").__index end)
assert(not ok and e:find("attempt to index a boolean value", 1, true))
assert(("abc"):upper() == "ABC" and ("%d"):format(5) == "5")
