-- expect: RB_LIMIT_STEPS
-- The main chunk is fine; the hook the host calls loops (in a function called through
-- several C boundaries).
return { main = function()
  local t = {1}
  table.sort({2, 1}, function(a, b) repeat until false end)
end }
