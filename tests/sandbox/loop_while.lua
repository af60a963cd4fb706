-- expect: RB_LIMIT_STEPS
-- An infinite loop.
while true do end
