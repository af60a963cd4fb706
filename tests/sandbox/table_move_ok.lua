-- expect: RB_OK
-- table.move, insert, remove, concat, sort keep working within the caps.
local a = table.move({1, 2, 3}, 1, 3, 2, {})
assert(a[1] == nil and a[2] == 1 and a[4] == 3)
local t = {1, 2, 3}
table.insert(t, 4)
table.insert(t, 1, 0)
assert(table.concat(t, ",") == "0,1,2,3,4")
assert(table.remove(t, 1) == 0 and table.remove(t) == 4)
assert(table.concat(t, ",", 2, 3) == "2,3")
assert(not pcall(table.insert, t, 9, 1) and not pcall(table.insert, t, 1, 2, 3))
local big = {}
for i = 1, 20000 do big[i] = (i * 7919) % 20011 end
table.sort(big)
for i = 2, #big do assert(big[i - 1] <= big[i]) end
local few = table.move(big, 1, 5000, 1, {})
table.sort(few, function(x, y) return x > y end)
assert(#few == 5000 and few[1] >= few[2] and few[4999] >= few[5000])
