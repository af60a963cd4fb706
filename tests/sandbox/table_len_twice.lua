-- expect: RB_OK
-- A __len that answers differently each time it is asked cannot trick the caps: insert and
-- remove ask once; sort refuses tables with __len.
local n = 0
local t = setmetatable({}, {__len = function() n = n + 1 return n == 1 and 2 or (1 << 40) end})
table.insert(t, 1, "x")
assert(n == 1 and t[1] == "x")
local ok, e = pcall(table.sort, setmetatable({3, 1}, {__len = function() return 2 end}))
assert(not ok and e:find("'__len' metamethod cannot be sorted", 1, true))
