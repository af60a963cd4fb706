-- expect: RB_BLOCKED
-- Row 26 (in this layer): shared tables refuse writes; a rule cannot catch the refusal.
local ok = pcall(function() math.pi = 3 end)
LEAK = "caught"
