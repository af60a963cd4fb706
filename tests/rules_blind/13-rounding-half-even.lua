-- 13-rounding-half-even.lua -- blind spec test: rounding with the default mode (half-even):
-- lines keep 12 fraction digits (half-even), the subtotal is rounded once to the cent, the
-- tax is computed on the rounded subtotal and rounded the same way. Amounts picked at
-- exactly .005 so half-even and half-up differ (see 14-rounding-half-up-jpy.lua).
--
-- docs/rules.md: "Each price keeps 12 fraction digits (half-even)"; "rounding each line to
-- cents and adding them can differ from the rounded subtotal by a few cents. The subtotal is
-- the figure that counts"; test amounts "are compared at the scale you write ... rounding the
-- engine's figure half-even".

return rebill.plan {
    name = "blind: half-even",
    base = "list",
    -- rounding defaults to "half_even"

    rebill.tax { name = "Tax", rate = 10 },
    rebill.rate { usage_type = "Tiny", price = "0.0000000000005" }, -- 5e-13 per unit

    tests = {
        rebill.test {
            name = "0.125 rounds down to even",
            usage = "service,list\nAmazonEC2,0.125\n",
            expect = {
                lines = { AmazonEC2 = "0.125" },
                subtotal = "0.12",   -- 0.125 -> 0.12 (2 is even)
                tax = "0.01",        -- 10% x 0.12 = 0.012
                total = "0.13",
            },
        },
        rebill.test {
            name = "0.135 rounds up to even",
            usage = "service,list\nAmazonEC2,0.135\n",
            expect = {
                subtotal = "0.14",   -- 0.135 -> 0.14 (4 is even)
                tax = "0.01",        -- 0.014
                total = "0.15",
            },
        },
        rebill.test {
            name = "three half cents: lines round to 0.00, the subtotal to 0.02",
            usage = "service,list\nAmazonEC2,0.005\nAmazonS3,0.005\nAmazonRDS,0.005\n",
            expect = {
                -- each line 0.005, compared at cents: half-even -> 0.00
                lines = { AmazonEC2 = "0.00", AmazonS3 = "0.00", AmazonRDS = "0.00" },
                subtotal = "0.02",   -- 0.015 -> 0.02 (rounded once, on the total)
                tax = "0.00",        -- 0.002
                total = "0.02",
            },
        },
        rebill.test {
            name = "tax tie rounds down to even",
            usage = "service,list\nAmazonEC2,0.25\n",
            expect = { subtotal = "0.25", tax = "0.02", total = "0.27" }, -- 0.025 -> 0.02
        },
        rebill.test {
            name = "tax tie rounds up to even",
            usage = "service,list\nAmazonEC2,0.35\n",
            expect = { subtotal = "0.35", tax = "0.04", total = "0.39" }, -- 0.035 -> 0.04
        },
        rebill.test {
            name = "negative tie",
            usage = "service,billed,list\nAmazonEC2,-0.125,-0.125\n",
            expect = {
                subtotal = "-0.12",  -- -0.125 -> -0.12
                tax = "-0.01",       -- 10% x -0.12 = -0.012
                total = "-0.13",
            },
        },
        rebill.test {
            name = "each line keeps 12 fraction digits, half-even",
            usage = [[
account,service,usage_type,quantity,list
111111111111,AmazonTiny,Tiny,1,0
222222222222,AmazonTiny,Tiny,1,0
111111111111,AmazonTinyB,Tiny,3,0
222222222222,AmazonTinyB,Tiny,3,0
]],
            expect = {
                lines = {
                    -- each 1 x 5e-13 = 0.0000000000005 -> 12 digits: tie, 0 is even -> 0
                    -- (unrounded the two would sum to 1e-12)
                    AmazonTiny = "0.000000000000",
                    -- each 3 x 5e-13 = 1.5e-12 -> 12 digits: tie, 1 is odd -> 2e-12; 2 lines
                    -- (unrounded the two would sum to 3e-12)
                    AmazonTinyB = "0.000000000004",
                },
                subtotal = "0.00",
                total = "0.00",
            },
        },
    },
}
