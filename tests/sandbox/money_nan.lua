-- expect: RB_RUNTIME
-- Money never holds NaN or infinity.
local m = rebill.money(1) * (0/0)
