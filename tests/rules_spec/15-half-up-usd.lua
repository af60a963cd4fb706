-- 15-half-up-usd.lua -- spec test: rounding = "half_up" in USD without conversion: a tie made
-- of 12-digit line amounts, a tax tie, a negative tax tie, half-cent lines that are not
-- rounded one by one, and the 12 kept digits of a line, which stay half-even whatever the
-- plan's rounding.
--
-- Doc passages relied on (docs/rules.md):
--   "How a bill is priced" 3: "Each price keeps 12 fraction digits (half-even)"; 7: the
--     subtotal is "rounded once ... with the plan's rounding"; tax "rounded the same way".
--   "rebill.plan": `rounding` is "rounding of the subtotal and tax" (only those).
--   "A line's amount is shown to 12 digits; rounding each line to cents and adding them can
--     differ from the rounded subtotal".
--   docs/money.md: half-up "ties away from zero".
-- Twin: 19-edge-amounts.lua prices the same 1.005 tie under the default half-even.

return rebill.plan {
    name = "spec: half-up, USD",
    base = "list",
    rounding = "half_up",

    rebill.tax { name = "Sales tax", rate = 10 },
    rebill.rate { usage_type = "Tiny", price = "0.0000000000005" },  -- 5e-13 a unit

    tests = {
        rebill.test {
            name = "two 12-digit lines summing to an exact half cent",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,0.333333333333\nAmazonS3,0.671666666667\n",
            expect = {
                lines = { AmazonEC2 = "0.333333333333", AmazonS3 = "0.671666666667" },
                subtotal = "1.01",   -- 1.005 -> half-up (half-even would give 1.00)
                tax = "0.10",        -- 10% x 1.01 = 0.101
                total = "1.11",
            },
        },
        rebill.test {
            name = "a tax tie rounds up",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,1.25\n",
            expect = { subtotal = "1.25", tax = "0.13", total = "1.38" }, -- 0.125 -> 0.13
        },
        rebill.test {
            name = "a negative tax tie rounds away from zero",
            period = "2026-11",
            usage = "service,billed,list\nAmazonEC2,-1.25,-1.25\n",
            expect = { subtotal = "-1.25", tax = "-0.13", total = "-1.38" },
        },
        rebill.test {
            name = "three half-cent lines are not rounded one by one",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,0.005\nAmazonS3,0.005\nAmazonRDS,0.005\n",
            expect = {
                lines = { AmazonEC2 = "0.005", AmazonS3 = "0.005", AmazonRDS = "0.005" },
                subtotal = "0.02",   -- 0.015 half-up (each line half-up would make 0.03)
                tax = "0.00",        -- 0.002
                total = "0.02",
            },
        },
        rebill.test {
            name = "a line's 12 digits are half-even even in a half-up plan",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
AmazonTiny,Tiny,1,0
AmazonTinyB,Tiny,3,0
]],
            expect = {
                lines = {
                    AmazonTiny = "0.000000000000",   -- 5e-13: tie, 0 is even (half-up: 1e-12)
                    AmazonTinyB = "0.000000000002",  -- 1.5e-12: tie, 1 is odd -> 2e-12
                },
                subtotal = "0.00",
                total = "0.00",
            },
        },
    },
}
