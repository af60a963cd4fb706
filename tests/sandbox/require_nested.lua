-- expect: RB_BLOCKED
-- Row 25: nested tables of a module are read-only copies too.
table.insert(require("rebill.util").nested.list, 4)
