-- expect: RB_BLOCKED
-- The same inputs must give the same prices: no randomness.
local x = math.random(1, 10)
