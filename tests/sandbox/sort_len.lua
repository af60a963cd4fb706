-- expect: RB_RUNTIME
-- table.sort would ask __len again, and sort 2^31 virtual elements: refused, with a message.
local t = setmetatable({}, {__len = function() return math.maxinteger end, __index = rawlen})
table.sort(t)
