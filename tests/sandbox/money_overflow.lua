-- expect: RB_RUNTIME
-- Money is exact or an error: 38 digits at most.
local m = rebill.money("1e20")
for i = 1, 10 do m = m * m end
