-- 15-exact-decimal.lua -- blind spec test: Lua float literals in a plan mean their shortest
-- decimal; a float Lua computed keeps what Lua's double holds; money arithmetic is exact.
--
-- docs/rules.md: "A float means its shortest decimal: 0.95 is exactly 0.95 and 12.5 is
-- 12.5". docs/lua/money.md: "money(0.1 + 0.2) is 0.30000000000000004"; "money(1/3) is
-- 0.3333333333333333"; "money("0.1") + 0.2 is 0.3"; "money(1) / 3 is 0.333333333333".
-- Quantities are large so that a binary-float error would show within 12 digits.
-- (0.95 as a double is 0.94999999999999995559...; x 1e9 that is visible at 1e-8.)

return rebill.plan {
    name = "blind: exact decimals",
    base = "list",

    rebill.rate { usage_type = "FloatSum", price = 0.1 + 0.2 },      -- 0.30000000000000004
    rebill.rate { usage_type = "TextExact", price = "0.3" },
    rebill.rate { usage_type = "FloatLiteral", price = 0.3 },         -- exactly 0.3
    rebill.rate { usage_type = "Third", price = 1 / 3 },              -- 0.3333333333333333
    rebill.rate { usage_type = "NinetyFive", price = 0.95 },          -- exactly 0.95
    rebill.markup { service = "AmazonS3", percent = 12.5 },           -- exactly 12.5
    rebill.discount { service = "AmazonRDS", percent = 33.3 },        -- exactly 33.3

    on_invoice = function(invoice)
        invoice:add { name = "Money sum", amount = rebill.money("0.1") + 0.2 }     -- 0.3
        invoice:add { name = "Float sum", amount = rebill.money(0.1 + 0.2) * 1000000 }
        invoice:add { name = "Money third", amount = rebill.money(1) / 3 }         -- 12 digits
    end,

    tests = {
        rebill.test {
            name = "floats are their shortest decimals",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
svcFloatSum,FloatSum,1000000,0
svcTextExact,TextExact,1000000,0
svcFloatLiteral,FloatLiteral,1000000,0
svcThird,Third,1000000,0
svcNinetyFive,NinetyFive,1000000000,0
AmazonS3,TimedStorage-ByteHrs,1,100
AmazonRDS,InstanceUsage,1,1000000000
]],
            expect = {
                lines = {
                    svcFloatSum = "300000.000000000040",     -- 0.30000000000000004 x 1e6
                    svcTextExact = "300000.000000000000",    -- 0.3 x 1e6
                    svcFloatLiteral = "300000.000000000000", -- 0.3 x 1e6: the literal is exact
                    svcThird = "333333.333333333300",        -- 0.3333333333333333 x 1e6
                    svcNinetyFive = "950000000.000000000000",-- 0.95 x 1e9
                    AmazonS3 = "112.500000000000",           -- 100 x 1.125
                    AmazonRDS = "667000000.000000000000",    -- 1e9 x (1 - 0.333)
                    ["Money sum"] = "0.300000000000",        -- money("0.1") + 0.2
                    ["Float sum"] = "300000.000000000040",   -- 0.30000000000000004 x 1e6
                    ["Money third"] = "0.333333333333",      -- 1 / 3 at 12 digits
                },
                -- 300000.00000000004 + 300000 + 300000 + 333333.3333333333 + 950000000
                --   + 112.5 + 667000000                        = 1618233445.83333333334
                -- + 0.3 + 300000.00000000004 + 0.333333333333 = 1618533446.466666666673
                subtotal = "1618533446.47",
                total = "1618533446.47",
            },
        },
    },
}
