-- expect: RB_LIMIT_STEPS
-- __tostring runs rule code, under the limits.
local evil = setmetatable({}, {__tostring = function() while true do end end})
pcall(tostring, evil)
