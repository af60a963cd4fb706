-- expect: RB_LIMIT_MEM
-- Row 1 and 11: out-of-memory is fatal, even inside pcall, even after the memory is freed.
local ok, e = pcall(string.rep, "x", 1 << 30)
local t = {}
for i = 1, 10 do t[i] = i end
LEAK = t
