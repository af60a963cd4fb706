-- expect: RB_TIMEOUT
-- limits: mem=16 steps=2000000 ms=250
-- pairs sorts the keys in C (the fixed order of docs/lua/sandbox.md): each call on a big
-- table is a lot of work for a handful of instructions. Each call starts with a clock check,
-- so the run stops within one sort of the limit.
local t = {}
for i = 1, 50000 do t["k" .. i] = i end
for i = 1, 1e6 do
  pairs(t)
end
