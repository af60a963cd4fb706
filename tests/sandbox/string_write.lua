-- expect: RB_BLOCKED
-- Row 7: replacing string.upper would change ("abc"):upper() for every rule of the state.
string.upper = function() return "pwned" end
