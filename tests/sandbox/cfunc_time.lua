-- expect: RB_TIMEOUT
-- limits: mem=16 steps=2000000 ms=250
-- Row 12: C functions are invisible to the hook: a plain find of 1000 bytes in 128 KiB takes a
-- while and costs a handful of instructions. Each large call is followed by a clock check.
local s = ("a"):rep(1 << 17)
local p = ("a"):rep(1000) .. "b"
for i = 1, 1e6 do
  s:find(p, 1, true)
end
