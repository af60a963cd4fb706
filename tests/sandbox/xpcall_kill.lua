-- expect: RB_LIMIT_STEPS
-- Row 11: the rule's xpcall handler never sees the kill, so it cannot restart the work.
local handled = 0
local function work() while true do end end
local function handler(e) handled = handled + 1 return work() end
for i = 1, 3 do xpcall(work, handler) end
LEAK = handled
