-- expect: RB_BLOCKED
-- Row 13: a pattern on a subject over the cap.
local s = ("x"):rep(1 << 20)
local r = s:match("x*y")
