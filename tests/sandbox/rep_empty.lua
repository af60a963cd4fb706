-- expect: RB_OK
-- Row 2: str_rep loops n times copying nothing when the result is empty (2.9 s for 1e9,
-- invisible to the hook). The wrapper answers "" at once; the harness checks the time.
assert(string.rep("", 1e9) == "")
assert(("").rep("", 2^62) == "")
assert(string.rep("", math.maxinteger, "") == "")
assert(("x"):rep(0) == "" and ("x"):rep(-5, ",") == "")
assert(("ab"):rep(3, "-") == "ab-ab-ab")
for i = 1, 1000 do assert(string.rep("", 1e9, "") == "") end
