-- expect: RB_BLOCKED
-- Row 5: string.dump serialises any reachable function.
local s = string.dump(function() return 1 end)
LEAK = s
