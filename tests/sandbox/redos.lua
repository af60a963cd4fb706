-- expect: RB_BLOCKED
-- Row 13: 23 bytes of pattern against 24 bytes of subject ran 11.9 s with 0 hook calls.
local r = string.find(("a"):rep(24), ("a-"):rep(11) .. "b")
