-- expect: RB_BLOCKED
-- Row 12: the same through table.remove.
local t = setmetatable({}, {__len = function() return 1 << 40 end})
table.remove(t, 1)
