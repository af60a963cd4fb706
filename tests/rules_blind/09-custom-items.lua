-- 09-custom-items.lua -- blind spec test: custom line items: flat fee, flat credit,
-- percentages of usage / of one service / of named items / of the total, filters by line
-- type, service and billing entity, "Support" as a line type filter, an itemized credit,
-- and an item that comes to zero (not shown).
--
-- docs/rules.md: of = "usage" (default) is "the customer's priced and passed usage lines";
-- "total" is "usage lines and every item above this one"; items are computed "in the
-- order the plan lists them". An itemized item gives "one line per service"; the test's
-- `lines` has "one per custom item name", so the itemized credit is expected as one group.

return rebill.plan {
    name = "blind: custom items",
    base = "billed", -- credits are passed (counted in "usage"); support is priced

    rebill.fee { name = "Platform fee", amount = 200 },
    rebill.credit { name = "Welcome credit", amount = 50 },
    rebill.fee { name = "Service 10%", percent = 10 },
    rebill.fee { name = "EC2 care", percent = 5, services = "AmazonEC2", line_types = { "Usage" } },
    rebill.credit { name = "Marketplace rebate", percent = 2, entities = "AWS Marketplace" },
    rebill.fee { name = "Surcharge on fees", percent = 10, of = { "Platform fee", "EC2 care" } },
    rebill.fee { name = "Finance charge", percent = 1, of = "total" },
    rebill.credit { name = "Itemized credit", percent = 10, itemized = true,
                    services = { "AmazonEC2", "AmazonS3" } },
    rebill.fee { name = "RDS fee", percent = 10, services = "AmazonRDS" },
    rebill.fee { name = "Support resale", percent = 7, line_types = "Support" },

    tests = {
        rebill.test {
            name = "every kind of item",
            period = "2026-11",
            usage = [[
service,line_type,entity,billed
AmazonEC2,Usage,AWS,1000.00
AmazonEC2,Credit,AWS,-100.00
AmazonS3,Usage,AWS,300.00
prodview-xyz,Usage,AWS Marketplace,200.00
AWSSupportBusiness,Fee,AWS,100.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "900.00",               -- 1000 - 100 (credit passed)
                    AmazonS3 = "300.00",
                    ["prodview-xyz"] = "200.00",
                    AWSSupportBusiness = "100.00",
                    -- usage lines sum: 900 + 300 + 200 + 100 = 1500
                    ["Platform fee"] = "200.00",
                    ["Welcome credit"] = "-50.00",
                    ["Service 10%"] = "150.00",         -- 10% x 1500
                    ["EC2 care"] = "50.00",             -- 5% x 1000 (the Credit line is not Usage)
                    ["Marketplace rebate"] = "-4.00",   -- 2% x 200
                    ["Surcharge on fees"] = "25.00",    -- 10% x (200 + 50)
                    -- total so far: 1500 + 200 - 50 + 150 + 50 - 4 + 25 = 1871 -> 1%
                    ["Finance charge"] = "18.71",
                    ["Itemized credit"] = "-120.00",    -- 10% x 900 (EC2) + 10% x 300 (S3)
                    ["Support resale"] = "7.00",        -- 7% x 100 (AWSSupportBusiness)
                    -- "RDS fee": 10% x 0 = 0, not shown
                },
                -- 1871 + 18.71 - 120 + 7 = 1776.71
                total = "1776.71",
                cost = "1500.00",
                margin = "276.71",
            },
        },
        rebill.test {
            name = "no usage: flat items stay, percentages of nothing vanish",
            period = "2026-11",
            usage = "service,billed\n",
            expect = {
                lines = {
                    ["Platform fee"] = "200.00",
                    ["Welcome credit"] = "-50.00",
                    ["Surcharge on fees"] = "20.00",   -- 10% x (200 + 0)
                    ["Finance charge"] = "1.70",       -- 1% x (200 - 50 + 20)
                },
                total = "171.70",
            },
        },
    },
}
