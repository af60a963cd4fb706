-- expect: RB_OK
-- Row 20: values handed back to the host carry metamethods that loop; the host reads them
-- with type checks and raw access only, so none runs (else: RB_LIMIT_STEPS).
local loop = function() while true do end end
local mt = {__index = loop, __newindex = loop, __len = loop, __pairs = loop,
            __tostring = loop, __eq = loop, __lt = loop, __call = loop, __close = loop}
local evil = setmetatable({1, 2, x = 3}, mt)
return setmetatable({
  main = function() return evil, setmetatable({}, mt), rebill.money(1), "s", 1.5 end,
}, mt)
