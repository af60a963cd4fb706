-- expect: RB_OK
-- Row 18: no os, no io, not through require, not inside another table.
assert(os == nil and io == nil)
for _, name in ipairs({"os", "io", "os.execute", "io.open"}) do
  assert(not pcall(require, name))
end
for _, lib in ipairs({_G, string, table, math, utf8, rebill}) do
  for k in pairs(lib) do
    assert(k ~= "os" and k ~= "io" and k ~= "execute" and k ~= "getenv" and k ~= "exit")
  end
end
assert(string.format("%s", os) == "nil")
