-- expect: RB_RUNTIME
-- Modules that require each other: an error, not a stack overflow.
local a = require("rebill.loop_a")
