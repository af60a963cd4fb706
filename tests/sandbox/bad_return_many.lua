-- expect: RB_OK
-- Bad return values: a hook that returns 100,000 values. The host gets them all and reads
-- them without trouble.
local t = {}
for i = 1, 100000 do t[i] = i end
return { main = function() return table.unpack(t) end }
