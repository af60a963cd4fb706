-- expect: RB_BLOCKED
-- Row 10: a finalizer runs with hooks off (3e8 iterations under a 100k-instruction hook).
setmetatable({}, {__gc = function() while true do end end})
