-- expect: RB_LIMIT_STEPS
-- A __close handler that loops while the stack unwinds after an error: still stopped.
local function f()
  local x <close> = setmetatable({}, {__close = function() while true do end end})
  error("unwinding")
end
pcall(f)
LEAK = "after"
