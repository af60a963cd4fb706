-- expect: RB_LIMIT_STEPS
-- Row 11: pcall caught the limit 5 times out of 5 in stock Lua. Ours re-raises the kill.
local caught = 0
for i = 1, 5 do
  local ok = pcall(function() while true do end end)
  caught = caught + 1
end
LEAK = caught
