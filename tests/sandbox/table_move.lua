-- expect: RB_BLOCKED
-- Row 12: table.move({}, 1, 5e7, 1, {}) took 1.28 s with no hook call.
table.move({}, 1, 5e7, 1, {})
