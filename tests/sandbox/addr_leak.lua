-- expect: RB_BLOCKED
-- Row 22: no address in any text a rule can make; "%p" stops the rule.
assert(tostring(print) == "function" and tostring({}) == "table")
assert(tostring(rebill.money("1")) == "1" and tostring(nil) == "nil")
assert(string.format("%s %s", {}, print) == "table function")
assert(string.format("%10s|", {}) == "     table|")
assert(not tostring(string):find("0x", 1, true))
local ok, e = pcall(function() return {} .. "" end)
assert(not ok and not e:find("0x", 1, true))
local s = string.format("%p", {})
