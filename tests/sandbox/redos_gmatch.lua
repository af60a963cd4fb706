-- expect: RB_BLOCKED
-- Row 13: gmatch and gsub are checked like find.
local s = ("ab"):rep(2000)
for a, b, c in s:gmatch("(.-)(.-)(.-)c") do LEAK = a end
