-- 07-commitments.lua -- spec test: minimum monthly commitments and their shortfall exactly
-- at, a cent below, below and above the commitment; a commitment filtered by service and
-- line type; an item that is a percentage of a commitment's shortfall; a commitment of
-- "total" that counts the shortfalls above it; negative sources (a passed credit).
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.commitment": "A minimum spend: the line is the shortfall, amount - sources, when
--     positive"; keys name, amount, of, services, line_types ...
--   "rebill.fee": of = "usage" (default: "the customer's priced and passed usage lines"),
--     "total" ("usage lines and every item above this one"), or item names declared above;
--     "An item that comes to exactly zero is not shown".
--   "Custom line items, in the order the plan lists them (an item may count earlier items)".
-- Readings chosen:
--   * Sources are summed with their signs: a passed credit lowers the sources, so it raises
--     the shortfall (amount - sources with sources negative is above amount).
--   * "when positive": a shortfall of 0 (sources exactly at the amount) gives no line.

return rebill.plan {
    name = "spec: commitments",
    base = "list",
    passthrough = { Credit = "pass" },

    rebill.discount { service = "AmazonEC2", percent = 10 },

    rebill.commitment { name = "Monthly minimum", amount = 1000 },
    rebill.commitment { name = "S3 minimum", amount = 200, services = "AmazonS3",
                        line_types = "Usage" },
    rebill.fee { name = "Shortfall admin", percent = 10, of = "Monthly minimum" },
    rebill.commitment { name = "Grand minimum", amount = 1500, of = "total" },

    tests = {
        rebill.test {
            name = "usage exactly at the monthly commitment",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,800.00\nAmazonS3,280.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "720.00",  -- 800 x 0.90
                    AmazonS3 = "280.00",
                    -- usage 1000 = commitment: no "Monthly minimum", no admin fee;
                    -- S3 280 > 200: no "S3 minimum"
                    ["Grand minimum"] = "500.00", -- 1500 - 1000
                },
                total = "1500.00",
            },
        },
        rebill.test {
            name = "a cent below: a one-cent shortfall and a tenth of a cent of admin",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,800.00\nAmazonS3,279.99\n",
            expect = {
                lines = {
                    AmazonEC2 = "720.00", AmazonS3 = "279.99",
                    ["Monthly minimum"] = "0.01",    -- 1000 - 999.99
                    ["Shortfall admin"] = "0.001",   -- 10% x 0.01
                    ["Grand minimum"] = "499.999",   -- 1500 - (999.99 + 0.01 + 0.001)
                },
                total = "1500.00",
            },
        },
        rebill.test {
            name = "below: every shortfall, the admin fee, and the total's shortfall",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,500.00\nAmazonS3,150.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "450.00", AmazonS3 = "150.00",  -- usage 600
                    ["Monthly minimum"] = "400.00",  -- 1000 - 600
                    ["S3 minimum"] = "50.00",        -- 200 - 150
                    ["Shortfall admin"] = "40.00",   -- 10% x 400
                    ["Grand minimum"] = "410.00",    -- 1500 - (600 + 400 + 50 + 40)
                },
                total = "1500.00",
                cost = "650.00",      -- billed defaults to list: 500 + 150
                margin = "850.00",
            },
        },
        rebill.test {
            name = "above the monthly commitment, S3 exactly at its own",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,2000.00\nAmazonS3,200.00\n",
            expect = {
                lines = { AmazonEC2 = "1800.00", AmazonS3 = "200.00" }, -- usage 2000
                total = "2000.00",
            },
        },
        rebill.test {
            name = "the line_types filter: S3 DiscountedUsage does not count for S3",
            period = "2026-11",
            usage = [[
service,line_type,list
AmazonEC2,Usage,2000.00
AmazonS3,Usage,150.00
AmazonS3,DiscountedUsage,500.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "1800.00",
                    AmazonS3 = "650.00",             -- 150 + 500
                    ["S3 minimum"] = "50.00",        -- 200 - 150 (Usage lines only)
                },
                total = "2500.00", -- 2450 + 50; the total is above 1500
            },
        },
        rebill.test {
            name = "a passed credit larger than usage: negative sources",
            period = "2026-11",
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,100.00,100.00
AmazonEC2,Credit,-300.00,0
]],
            expect = {
                lines = {
                    AmazonEC2 = "-210.00",            -- 90 - 300 (credit passed at cost)
                    ["Monthly minimum"] = "1210.00",  -- 1000 - (-210)
                    ["S3 minimum"] = "200.00",        -- no S3 at all: 200 - 0
                    ["Shortfall admin"] = "121.00",   -- 10% x 1210
                    ["Grand minimum"] = "179.00",     -- 1500 - (-210 + 1210 + 200 + 121)
                },
                total = "1500.00",
                cost = "-200.00",   -- 100 - 300
                margin = "1700.00", -- 1500 - (-200)
            },
        },
    },
}
