-- expect: RB_RUNTIME
-- Row 15: C-stack depth: a gsub callback that calls gsub again stops at LUAI_MAXCCALLS.
local function again(s) return (s:gsub(".", again)) end
again("x")
