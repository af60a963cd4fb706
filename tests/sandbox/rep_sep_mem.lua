-- expect: RB_LIMIT_MEM
-- Row 1: the separator form; 1e8 copies of "x," would be 200 MB.
local s = string.rep("x", 1e8, ",")
LEAK = #s
