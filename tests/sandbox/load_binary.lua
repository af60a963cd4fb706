-- expect: RB_BLOCKED
-- Row 3: bytecode can crash the interpreter; `load` is a blocked function (the host compiles
-- text only; a binary rule file is refused before it is compiled, see test_sandbox.c).
assert(type(load) == "function")
local f = load(string.char(27) .. "LuaT\0\25\147\r\n\26\n", "=x", "b")
LEAK = f
