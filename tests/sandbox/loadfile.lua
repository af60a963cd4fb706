-- expect: RB_BLOCKED
-- Row 19: so does loadfile.
local f = loadfile("/etc/passwd")
