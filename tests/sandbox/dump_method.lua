-- expect: RB_BLOCKED
-- Row 5 and STYLE 3.8 item 3: the stub is in the real string table, so the method form that
-- goes through the string metatable is stopped too.
local s = ("x").dump(print)
LEAK = s
