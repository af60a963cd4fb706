-- expect: RB_LIMIT_MEM
-- Row 14: with the usual test limits the stack's memory is bounded by the memory limit.
local function down(n, pad) return 1 + down(n + 1, pad) end
down(1, {})
