-- expect: RB_BLOCKED
-- Row 9: rawset skips __newindex and would shadow string.upper for everyone.
rawset(string, "upper", function() return "pwned" end)
