-- expect: RB_BLOCKED
-- Row 4: load(chunk) without an env gets the real global table. The rule's own _ENV is a
-- fresh table whose metatable is locked; load itself is blocked.
assert(getmetatable(_ENV) == false)
assert(_G == _ENV and rawget(_ENV, "string") == nil and rawget(_ENV, "_G") == _ENV)
local real = load("return _ENV")()
real.string.upper = nil
