-- expect: RB_BLOCKED
-- Row 11: a blocked call cannot be caught either, however deep the pcalls.
local ok = pcall(pcall, pcall, pcall, string.dump, print)
LEAK = ok
