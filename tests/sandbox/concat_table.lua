-- expect: RB_LIMIT_MEM
-- Row 1: table.concat of a result larger than what is left: its buffer meets the limit.
local t = {}
for i = 1, 60 do t[i] = ("x"):rep(1 << 17) end
local s = table.concat(t)
LEAK = #s
