-- expect: RB_BLOCKED
-- Row 9: the API table is read-only too.
rawset(rebill, "money", function() return 0 end)
