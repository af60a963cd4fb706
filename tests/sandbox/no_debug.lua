-- expect: RB_OK
-- Row 6: no debug library anywhere: not global, not requirable, not inside another table.
assert(debug == nil and _G.debug == nil and rawget(_G, "debug") == nil)
assert(not pcall(require, "debug"))
for _, lib in ipairs({string, table, math, utf8, rebill}) do
  for k, v in pairs(lib) do
    assert(k ~= "debug" and k ~= "sethook" and k ~= "getregistry" and k ~= "getupvalue")
  end
end
assert(rebill.debug == nil and string.debug == nil)
