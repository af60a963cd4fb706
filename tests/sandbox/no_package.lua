-- expect: RB_OK
-- Row 19: no package library; require is ours and serves only the embedded modules.
assert(package == nil)
assert(type(require) == "function")
local ok, e = pcall(function() return require("package") end)
assert(not ok and e:find("module 'package' not found", 1, true))
assert(not pcall(require, "rebill.util.."))
assert(not pcall(require, "/etc/passwd"))
assert(not pcall(require, "string"))
assert(require("rebill.util").rate == 5)
