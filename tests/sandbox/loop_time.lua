-- expect: RB_TIMEOUT
-- limits: mem=16 steps=100000000000 ms=100
-- With no instruction limit worth the name, the wall-time limit stops the loop.
local n = 0
while true do n = n + 1 end
