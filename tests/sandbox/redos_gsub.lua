-- expect: RB_BLOCKED
-- Row 13: too many quantifiers, whatever the subject.
local r = ("x"):gsub(("%w*"):rep(12), "")
