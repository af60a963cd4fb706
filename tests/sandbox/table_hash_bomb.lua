-- expect: RB_LIMIT_MEM
-- limits: mem=4 steps=50000000 ms=3000
-- Row 1: the hash part, with string keys.
local t = {}
for i = 1, 1e9 do t["k" .. i] = i end
