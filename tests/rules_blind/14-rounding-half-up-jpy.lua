-- 14-rounding-half-up-jpy.lua -- blind spec test: rounding = "half_up" on the subtotal and the
-- tax, in a currency with no minor unit (JPY, 0 digits per docs/money.md), converted at a
-- stored rate per month.
--
-- The same kind of ties as 13-rounding-half-even.lua, at the yen: USD 0.125 x 100 = 12.5 JPY.

return rebill.plan {
    name = "blind: half-up, JPY",
    base = "list",
    rounding = "half_up",

    rebill.tax { name = "Consumption tax", rate = 10 },
    rebill.currency { code = "JPY", rates = { ["2026-01"] = "100", ["2026-02"] = "150.05" } },

    tests = {
        rebill.test {
            name = "12.5 yen rounds up",
            usage = "service,list\nAmazonEC2,0.125\n",
            expect = {
                lines = { AmazonEC2 = "12.50" },  -- 0.125 x 100
                subtotal = "13",                  -- half-up (half-even would give 12)
                tax = "1",                        -- 10% x 13 = 1.3
                total = "14",
                currency = "JPY",
            },
        },
        rebill.test {
            name = "tax tie rounds up",
            usage = "service,list\nAmazonEC2,0.25\n",
            expect = { subtotal = "25", tax = "3", total = "28" }, -- 0.25 x 100; 2.5 -> 3
        },
        rebill.test {
            name = "negative tie rounds away from zero",
            usage = "service,billed,list\nAmazonEC2,-0.125,-0.125\n",
            expect = {
                subtotal = "-13",  -- -12.5 -> -13
                tax = "-1",        -- 10% x -13 = -1.3
                total = "-14",
            },
        },
        rebill.test {
            name = "February's rate",
            period = "2026-02",
            usage = "service,list\nAmazonEC2,10.00\n",
            expect = {
                lines = { AmazonEC2 = "1500.50" }, -- 10 x 150.05
                subtotal = "1501",                 -- 1500.5 half-up
                tax = "150",                       -- 150.1
                total = "1651",
                currency = "JPY",
                price = "10.00",                   -- partner view, USD
                margin = "0.00",
            },
        },
        rebill.test {
            name = "no rate for March",
            period = "2026-03",
            usage = "service,list\nAmazonEC2,10.00\n",
            expect_error = "no exchange rate USD -> JPY for 2026-03",
        },
    },
}
