-- expect: RB_BLOCKED
-- Row 19: dofile reads the filesystem.
dofile("/etc/passwd")
