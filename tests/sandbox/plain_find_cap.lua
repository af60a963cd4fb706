-- expect: RB_BLOCKED
-- Row 12: a plain find over the byte-comparison cap (quadratic: 200 KB in 400 KB, 0.71 s).
local s = ("a"):rep(400000)
local p = ("a"):rep(200000) .. "b"
s:find(p, 1, true)
