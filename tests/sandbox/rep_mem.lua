-- expect: RB_LIMIT_MEM
-- SANDBOX.md row 1: a string.rep memory bomb meets the counting allocator.
local s = ("x"):rep(2^30)
LEAK = #s
