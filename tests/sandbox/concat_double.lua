-- expect: RB_LIMIT_MEM
-- Row 1: a string that doubles.
local s = "x"
while true do s = s .. s end
