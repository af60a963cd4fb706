-- expect: RB_RUNTIME
-- Bad return values: more results than the Lua stack holds is an error, not a crash.
return { main = function() return table.unpack({}, 1, 1e7) end }
