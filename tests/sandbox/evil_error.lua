-- expect: RB_RUNTIME
-- Row 20: an error object whose metamethods loop. The host never converts it; the message
-- is "(error object is a table value)" at this line.
local loop = function() while true do end end
error(setmetatable({}, {__tostring = loop, __index = loop, __concat = loop, __len = loop,
                        __eq = loop, __name = "boom"}))
