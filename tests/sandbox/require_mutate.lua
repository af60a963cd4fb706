-- expect: RB_BLOCKED
-- Row 25: a module's value is shared by the rules of a sandbox, so it is read-only.
require("rebill.util").rate = 0
