-- expect: RB_OK
-- Row 16: no coroutine library, and nothing reachable makes a thread.
assert(coroutine == nil and rawget(_G, "coroutine") == nil)
assert(not pcall(require, "coroutine"))
for _, lib in ipairs({_G, string, table, math, utf8, rebill}) do
  for k, v in pairs(lib) do assert(type(v) ~= "thread" and k ~= "coroutine") end
end
