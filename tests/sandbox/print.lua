-- expect: RB_OK
-- Row 23: print and warn write to the run's capped log, not to stdout; warn("@on") changes
-- no process-wide state.
assert(print("hello", 1, {}, nil) == nil)
warn("@on")
warn("@off")
warn("careful: ", "one")
for i = 1, 20000 do print(("line %d"):format(i)) end
assert(select("#", print()) == 0)
