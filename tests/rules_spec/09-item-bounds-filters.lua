-- 09-item-bounds-filters.lua -- spec test: minimum and maximum of percent items (a fee and
-- credits), a month with no usage (bounds still apply), the bound hit exactly, and filters
-- combined (services AND line_types; a list of services; entities).
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.fee, rebill.credit": "`minimum`, `maximum`: bounds of the computed amount
--     (before a credit's sign): e.g. support's minimum, a credit's monthly cap";
--     "`services`, `line_types`, `entities`: filters on the usage lines counted (a string or
--     a list)"; of defaults to "usage" = "the customer's priced and passed usage lines";
--     "An item that comes to exactly zero is not shown".
--   "Pass-through policy": base list prices DiscountedUsage at list; Credit set to "pass".
-- Readings chosen:
--   * Filters combine with AND (a line counts when it passes every filter given).
--   * The minimum applies whatever the sources, even with no usage at all (as AWS's support
--     minimum does), for a credit too: a 5.00 floor gives a -5.00 line.

return rebill.plan {
    name = "spec: item bounds and filters",
    base = "list",
    passthrough = { Credit = "pass" },

    rebill.fee { name = "Support-like", percent = 10, minimum = 100, maximum = 1000 },
    rebill.credit { name = "Capped credit", percent = 20, services = "AmazonEC2", maximum = 50 },
    rebill.credit { name = "Floor credit", percent = 1, minimum = 5,
                    entities = "AWS Marketplace" },
    rebill.fee { name = "EC2 usage only", percent = 10, services = "AmazonEC2",
                 line_types = { "Usage", "DiscountedUsage" } },
    rebill.fee { name = "Two services", percent = 1, services = { "AmazonS3", "AmazonRDS" } },

    tests = {
        rebill.test {
            name = "each bound and filter at work",
            period = "2026-11",
            usage = [[
service,line_type,entity,billed,list
AmazonEC2,Usage,AWS,400.00,400.00
AmazonEC2,DiscountedUsage,AWS,60.00,100.00
AmazonEC2,Credit,AWS,-50.00,0
AmazonS3,Usage,AWS,200.00,200.00
AmazonRDS,Usage,AWS,100.00,100.00
prodview-q,Usage,AWS Marketplace,300.00,300.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "450.00",            -- 400 + 100 (list) - 50 (passed)
                    AmazonS3 = "200.00", AmazonRDS = "100.00", ["prodview-q"] = "300.00",
                    -- usage: 450 + 200 + 100 + 300 = 1050
                    ["Support-like"] = "105.00",     -- 10% x 1050, inside 100..1000
                    ["Capped credit"] = "-50.00",    -- 20% x 450 = 90, capped at 50
                    ["Floor credit"] = "-5.00",      -- 1% x 300 = 3, floor 5
                    ["EC2 usage only"] = "50.00",    -- 10% x (400 + 100): not the credit
                    ["Two services"] = "3.00",       -- 1% x (200 + 100)
                },
                total = "1153.00",  -- 1050 + 105 - 50 - 5 + 50 + 3
                cost = "1010.00",   -- 400 + 60 - 50 + 200 + 100 + 300
                margin = "143.00",
            },
        },
        rebill.test {
            name = "no usage: the minimums still apply",
            period = "2026-11",
            usage = "service,list\n",
            expect = {
                lines = {
                    ["Support-like"] = "100.00",  -- 0, raised to the minimum
                    ["Floor credit"] = "-5.00",   -- 0, raised to the minimum
                },
                total = "95.00",
                cost = "0.00",
                margin = "95.00",
            },
        },
        rebill.test {
            name = "a large month: fee at its maximum",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,20000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "20000.00",
                    ["Support-like"] = "1000.00",    -- 2000, capped at 1000
                    ["Capped credit"] = "-50.00",    -- 4000, capped at 50
                    ["Floor credit"] = "-5.00",
                    ["EC2 usage only"] = "2000.00",
                },
                total = "22945.00",  -- 20000 + 1000 - 50 - 5 + 2000
            },
        },
        rebill.test {
            name = "the computed amount exactly at the maximum",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,250.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "250.00",
                    ["Support-like"] = "100.00",     -- 25, raised to 100
                    ["Capped credit"] = "-50.00",    -- 20% x 250 = 50 = the cap
                    ["Floor credit"] = "-5.00",
                    ["EC2 usage only"] = "25.00",
                },
                total = "320.00",    -- 250 + 100 - 50 - 5 + 25
            },
        },
    },
}
