-- expect: RB_BLOCKED
-- Row 12: an __index implemented in C (rawlen) makes a virtual array of "0"s that
-- table.concat would walk without any hook call.
local t = setmetatable({}, {__index = rawlen})
local s = table.concat(t, "", 1, 1e9)
