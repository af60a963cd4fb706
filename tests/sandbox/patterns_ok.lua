-- expect: RB_OK
-- What rules really match still works: short subjects, a few quantifiers, plain finds.
local region, kind, size = ("USE1-BoxUsage:m5.large"):match("^(%w+)%-(%w+):(.+)$")
assert(region == "USE1" and kind == "BoxUsage" and size == "m5.large")
assert(("AWS Marketplace"):find("Marketplace", 1, true) == 5)
assert(("a,b,,c"):gsub(",", ";") == "a;b;;c")
local words = {}
for w in ("one two  three"):gmatch("%a+") do words[#words + 1] = w end
assert(#words == 3 and words[3] == "three")
assert(("  x  "):match("^%s*(.-)%s*$") == "x")
assert(("%d items"):format(3) == "3 items")
local long = ("word "):rep(10000)
assert(select(2, long:gsub("word", "w")) == 10000)
assert(long:find("word ", 40000, true) == 40001)
assert(("key=value"):match("^([^=]+)=(.*)$") == "key")
