-- 18-hook-errors.lua -- spec test: documented error cases of the on_line hook: return values
-- that are not a price (a table, a boolean, text that is not a decimal, NaN), an unknown
-- field, a write to the read-only line, money overflow, and the instruction limit. Every
-- pricing error in a hook names the line item being priced.
--
-- Doc passages relied on:
--   docs/rules.md "The line object": "Return money (or a number, or decimal text) for a new
--     price, or nil"; "The object is read-only"; "An unknown field is an error (it catches
--     typos)".
--   docs/rules.md "Limits": "An error in a hook names the file, the line, and the line item
--     being priced: acme.lua:14: no price for X (pricing account 111111111111, service
--     AmazonEC2, usage type BoxUsage:m5.large)"; instructions limit 50,000,000
--     ("FILE:LINE: instruction limit exceeded"); wall time 2000 ms.
--   docs/lua/money.md: "money overflow: 99999999999999999999999999999999999999 + 1 does not
--     fit 38 digits"; NaN and text such as "12,50" are not amounts.
--   docs/rules.md "Testing": "expect_error passes when compiling or pricing fails with a
--     message containing it".
-- Reading chosen: a bad return value is "an error in a hook", so it carries the same
-- "(pricing account ..., service ..., usage type ...)" suffix. The limit test accepts
-- either limit's message ("... limit exceeded"): which of instructions and wall time comes
-- first depends on the machine. It is the last test, since "a plan stopped by one refuses
-- later runs".

local function where(u)
    return "(pricing account 111111111111, service HookErr, usage type " .. u .. ")"
end

return rebill.plan {
    name = "spec: hook errors",
    base = "billed",

    on_line = function(line)
        local u = line.usage_type
        if u == "RetTable" then return {} end
        if u == "RetBool" then return true end
        if u == "RetBadText" then return "12,50" end
        if u == "RetNaN" then return 0 / 0 end
        if u == "Typo" then return line.prise end
        if u == "Write" then line.price = 1 end
        if u == "Overflow" then
            return rebill.money("99999999999999999999999999999999999999") + 1
        end
        if u == "Loop" then while true do end end
        return nil
    end,

    tests = {
        rebill.test {
            name = "a good line first: the hook returns nil",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,Fine,1.50\n",
            expect = { lines = { HookErr = "1.50" }, total = "1.50" },
        },
        rebill.test {
            name = "returning a table is an error naming the line",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,RetTable,1.00\n",
            expect_error = where("RetTable"),
        },
        rebill.test {
            name = "returning a boolean is an error naming the line",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,RetBool,1.00\n",
            expect_error = where("RetBool"),
        },
        rebill.test {
            name = "returning text that is not a decimal is an error naming the line",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,RetBadText,1.00\n",
            expect_error = where("RetBadText"),
        },
        rebill.test {
            name = "returning NaN is an error naming the line",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,RetNaN,1.00\n",
            expect_error = where("RetNaN"),
        },
        rebill.test {
            name = "an unknown field of the line is an error",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,Typo,1.00\n",
            expect_error = where("Typo"),
        },
        rebill.test {
            name = "writing to the read-only line is an error",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,Write,1.00\n",
            expect_error = where("Write"),
        },
        rebill.test {
            name = "money overflow in a hook is an error, never a rounded guess",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,Overflow,1.00\n",
            expect_error = "99999999999999999999999999999999999999 + 1 does not fit 38 digits",
        },
        rebill.test {
            name = "an endless hook is stopped by a limit",
            period = "2026-11",
            usage = "service,usage_type,billed\nHookErr,Loop,1.00\n",
            expect_error = "limit exceeded",
        },
    },
}
