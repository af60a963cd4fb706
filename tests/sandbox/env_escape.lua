-- expect: RB_OK
-- Rows 4 and 25: every door to the real global table is shut.
assert(_G == _ENV and getmetatable(_ENV) == false)
assert(rawget(_ENV, "print") == nil and type(print) == "function")
local seen = 0
for k, v in pairs(_ENV) do seen = seen + 1 end
assert(seen == 1) -- just _G
assert(getmetatable(string) == false and getmetatable(rebill) == false)
assert(next(string) == nil and rawlen(string) == 0)
assert(type(string.upper) == "function")
local n = 0
for k, v in pairs(string) do n = n + 1 end
assert(n >= 16)
-- blocked functions are still listed (calling one stops the rule)
local listed = false
for k, v in pairs(math) do listed = listed or (k == "random" and type(v) == "function") end
assert(listed)
