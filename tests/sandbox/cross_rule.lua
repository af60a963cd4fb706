-- expect: RB_OK
-- Row 25: globals of one rule are its own: the harness runs another rule next, in the same
-- sandbox, that checks none of these is visible and every library is intact.
LEAK = "from cross_rule"
leaked = true
pwned = function() return "pwned" end
_G.also = 1
assert(rawget(_ENV, "LEAK") == "from cross_rule" and also == 1)
assert(getmetatable(_ENV) == false and not pcall(setmetatable, _ENV, nil))
string = {upper = function() return "pwned" end}
print = nil
rebill = nil
assert(("abc"):upper() == "ABC")
local u = require
