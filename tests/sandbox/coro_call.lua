-- expect: RB_RUNTIME
-- Row 16: a rule that uses coroutines gets a plain error naming the line.
local gen = coroutine.wrap(function() while true do end end)
gen()
