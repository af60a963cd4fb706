-- expect: RB_LIMIT_STEPS
-- Rows 11 and 16: there is no coroutine library, so coroutine.resume cannot catch a kill;
-- try every catching place that remains, nested: pcall in xpcall in a gsub callback in a
-- sort comparator, with a to-be-closed variable on the way.
assert(coroutine == nil)
local function spin() while true do end end
local t = {3, 1, 2}
table.sort(t, function(a, b)
  local s = ("abc"):gsub(".", function(c)
    local guard <close> = setmetatable({}, {__close = function() LEAK = "closed" end})
    xpcall(function() pcall(spin) end, function(e) return e end)
    return c
  end)
  return a < b
end)
LEAK = "survived"
