-- expect: RB_LIMIT_STEPS
-- An infinite loop written with goto.
local n = 0
::again::
n = n + 1
goto again
