-- 23-float-literals.lua -- spec test: Lua float literals in every kind of plan amount mean
-- exactly the decimal written: a markup percent, a volume tier's `upto` and price, a
-- rate, a tax rate and an exchange rate. Each test is built so that the binary value of
-- the float (0.1 is 0.1000000000000000055..., 0.3 is 0.2999999999999999888...) would show:
-- in the 12 kept digits of a line, in the tier chosen, or in a rounded tax.
--
-- Doc passages relied on:
--   docs/rules.md "Lua API reference": "Amounts (percents, prices, rates, minimums) accept
--     money, an integer, a Lua float, or decimal text. A float means its shortest decimal:
--     0.95 is exactly 0.95".
--   docs/lua/money.md "Making money": a float is "Its shortest round-trip decimal".
--   docs/rules.md "rebill.tiered" (volume: "a total equal to an upto belongs to that
--     tier"); "rebill.tax", "rebill.currency" (rates per month); "How a bill is priced" 3,
--     6, 7.
-- Reading chosen: tax `rate` and currency `rates` are amounts too, so a float there is its
-- shortest decimal as well.

return rebill.plan {
    name = "spec: float literals",
    base = "list",

    rebill.markup { service = "AmazonS3", percent = 0.1 },
    rebill.tiered { usage_type = "Xfer", volume = true,
                    tiers = { { upto = 0.3, price = 0.1 }, { price = 0.2 } } },
    rebill.rate { usage_type = "Box", price = 0.07 },
    rebill.tax { name = "MWST", rate = 8.1 },
    rebill.currency { code = "CHF", rates = { ["2026-11"] = 1, ["2026-12"] = 1.1 } },

    tests = {
        rebill.test {
            name = "a 0.1% markup on a billion",
            period = "2026-11",
            usage = "service,list\nAmazonS3,1000000000\n",
            expect = {
                -- 1e9 x 1.001 exactly (the double 0.1 would add 0.000000000056)
                lines = { AmazonS3 = "1001000000.000000000000" },
                subtotal = "1001000000.00",
                tax = "81081000.00",     -- 8.1% x 1001000000
                total = "1082081000.00",
                currency = "CHF",
            },
        },
        rebill.test {
            name = "a quantity of exactly the float upto 0.3 stays in tier 1",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonEC2,Xfer,0.3,1\n",
            expect = {
                lines = { AmazonEC2 = "0.030000000000" }, -- 0.3 x 0.1 (tier 2 would be 0.06)
                subtotal = "0.03",
                tax = "0.00",            -- 0.00243
                total = "0.03",
            },
        },
        rebill.test {
            name = "a tax tie with the float rate 8.1",
            period = "2026-11",
            usage = "service,list\nAmazonRDS,15.00\n",
            expect = {
                subtotal = "15.00",
                tax = "1.22",   -- 8.1% x 15 = 1.215, half-even -> 1.22 (double 8.1 gives 1.21)
                total = "16.22",
            },
        },
        rebill.test {
            name = "a rate of 0.07 on a billion units",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonEC2,Box,1000000000,0\n",
            expect = {
                lines = { AmazonEC2 = "70000000.000000000000" }, -- double: 70000000.0000000067
                subtotal = "70000000.00",
                tax = "5670000.00",
                total = "75670000.00",
            },
        },
        rebill.test {
            name = "the float exchange rate 1.1 on a billion",
            period = "2026-12",
            usage = "service,list\nAmazonEC2,1000000000\n",
            expect = {
                -- 1e9 x 1.1 exactly (the double 1.1 would add 0.000000088817842)
                lines = { AmazonEC2 = "1100000000.000000000000" },
                subtotal = "1100000000.00",
                tax = "89100000.00",    -- 8.1% x 1100000000
                total = "1189100000.00",
                currency = "CHF",
                price = "1000000000.00", -- USD
            },
        },
    },
}
