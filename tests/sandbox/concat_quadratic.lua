-- expect: RB_TIMEOUT
-- limits: mem=64 steps=2000000 ms=250
-- SANDBOX.md 4.0: appends cost few instructions but copy the whole string each time. The
-- allocator reads the clock for large blocks, so the run stops near its deadline.
local s = ""
local chunk = ("x"):rep(4096)
while true do s = s .. chunk end
