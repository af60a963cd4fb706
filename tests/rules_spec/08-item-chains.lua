-- 08-item-chains.lua -- spec test: custom items that are percentages of other items (chains),
-- a source list mixing "usage" and an item, "total" at the end of the chain, and an
-- itemized item next to its consolidated twin (and an item computed from the itemized one).
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.fee": percent "of the sources"; of = "usage", "total" ("usage lines and every
--     item above this one"), "item names declared above, or a list of these"; `itemized`
--     "with percent of usage only: one line per service instead of one line"; "A credit's
--     computed amount is shown negative"; "An item that comes to exactly zero is not shown".
--   "How a bill is priced" 4: "Custom line items, in the order the plan lists them (an item
--     may count earlier items)".
--   "Testing": `lines` has "one per custom item name".
-- Readings chosen:
--   * An item counted as a source counts with the sign it is shown with (a credit counts
--     negative), as "total" does; a fee whose sources sum below zero comes out negative.
--   * An itemized item is expected as one group under its name (the sum of its per-service
--     lines), and counts as that sum when named as a source.

return rebill.plan {
    name = "spec: item chains",
    base = "billed",

    rebill.fee { name = "Ops", percent = 10 },
    rebill.fee { name = "Ops surcharge", percent = 50, of = "Ops" },
    rebill.credit { name = "Promo", amount = 25 },
    rebill.fee { name = "Levy", percent = 10, of = { "Ops", "Ops surcharge", "Promo" } },
    rebill.fee { name = "Mixed", percent = 1, of = { "usage", "Promo" } },
    rebill.fee { name = "Care itemized", percent = 5, itemized = true,
                 services = { "AmazonEC2", "AmazonS3" } },
    rebill.fee { name = "Care consolidated", percent = 5, services = { "AmazonEC2", "AmazonS3" } },
    rebill.fee { name = "Care review", percent = 10, of = "Care itemized" },
    rebill.fee { name = "Of total", percent = 1, of = "total" },

    tests = {
        rebill.test {
            name = "the whole chain",
            period = "2026-11",
            usage = "service,billed\nAmazonEC2,1000.00\nAmazonS3,500.00\nAmazonRDS,300.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "1000.00", AmazonS3 = "500.00", AmazonRDS = "300.00", -- 1800
                    Ops = "180.00",                  -- 10% x 1800
                    ["Ops surcharge"] = "90.00",     -- 50% x 180
                    Promo = "-25.00",
                    Levy = "24.50",                  -- 10% x (180 + 90 - 25)
                    Mixed = "17.75",                 -- 1% x (1800 - 25)
                    ["Care itemized"] = "75.00",     -- EC2 5% x 1000 = 50, S3 5% x 500 = 25
                    ["Care consolidated"] = "75.00", -- 5% x 1500
                    ["Care review"] = "7.50",        -- 10% x 75
                    -- 1800 + 180 + 90 - 25 + 24.50 + 17.75 + 75 + 75 + 7.50 = 2244.75
                    ["Of total"] = "22.4475",
                },
                total = "2267.20",   -- 2244.75 + 22.4475 = 2267.1975
                cost = "1800.00",
                margin = "467.20",   -- 467.1975
            },
        },
        rebill.test {
            name = "itemized with one of its services absent",
            period = "2026-11",
            usage = "service,billed\nAmazonEC2,200.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "200.00",
                    Ops = "20.00", ["Ops surcharge"] = "10.00", Promo = "-25.00",
                    Levy = "0.50",                   -- 10% x (20 + 10 - 25)
                    Mixed = "1.75",                  -- 1% x 175
                    ["Care itemized"] = "10.00",     -- one line: EC2 5% x 200
                    ["Care consolidated"] = "10.00",
                    ["Care review"] = "1.00",
                    -- 200 + 20 + 10 - 25 + 0.50 + 1.75 + 10 + 10 + 1 = 228.25
                    ["Of total"] = "2.2825",
                },
                total = "230.53",    -- 230.5325
            },
        },
        rebill.test {
            name = "a fee whose sources sum below zero is negative",
            period = "2026-11",
            usage = "service,billed\nAmazonRDS,100.00\n",
            expect = {
                lines = {
                    AmazonRDS = "100.00",
                    Ops = "10.00", ["Ops surcharge"] = "5.00", Promo = "-25.00",
                    Levy = "-1.00",                  -- 10% x (10 + 5 - 25)
                    Mixed = "0.75",                  -- 1% x (100 - 25)
                    -- Care items: no EC2 or S3, 0: not shown; Care review 0: not shown
                    ["Of total"] = "0.8975",         -- 1% x (100 + 10 + 5 - 25 - 1 + 0.75)
                },
                total = "90.65",     -- 89.75 + 0.8975 = 90.6475
            },
        },
    },
}
