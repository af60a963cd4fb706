-- 25-spend-tiers.lua -- spec test: ladders of percentages on spend: a graduated credit on
-- "total" (usage plus the items above it) with a cap, and a volume fee on one service's
-- spend, at, one cent past, and below their boundaries.
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.fee, rebill.credit": `tiers` "{ {upto = S1, percent = P1}, ..., {percent = Pn} }
--     over the sources, graduated, or volume = true"; `maximum` a bound "before a credit's
--     sign"; of = "total" is "usage lines and every item above this one"; `services`
--     filters the usage lines counted; "An item that comes to exactly zero is not shown".
--   "rebill.tiered": for volume, "a total equal to an upto belongs to that tier" (taken to
--     hold for item ladders too).

return rebill.plan {
    name = "spec: spend tiers",
    base = "list",

    rebill.fee { name = "Platform", amount = 100 },
    rebill.credit { name = "Spend rebate", of = "total", maximum = 100,
                    tiers = { { upto = 1000, percent = 0 }, { upto = 2000, percent = 2 },
                              { percent = 5 } } },
    rebill.fee { name = "EC2 mgmt", services = "AmazonEC2", volume = true,
                 tiers = { { upto = 500, percent = 10 }, { percent = 5 } } },

    tests = {
        rebill.test {
            name = "total spend exactly at the first upto: no rebate",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,400.00\nAmazonS3,500.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "400.00", AmazonS3 = "500.00", Platform = "100.00",
                    -- rebate: 900 + 100 = 1000, all at 0%: not shown
                    ["EC2 mgmt"] = "40.00",   -- 400 <= 500: 10%
                },
                total = "1040.00",
            },
        },
        rebill.test {
            name = "one cent into the top tier; the volume fee exactly at its upto",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,500.00\nAmazonS3,1400.01\n",
            expect = {
                lines = {
                    AmazonEC2 = "500.00", AmazonS3 = "1400.01", Platform = "100.00",
                    -- sources 2000.01: 1000 x 0% + 1000 x 2% + 0.01 x 5% = 20.0005
                    ["Spend rebate"] = "-20.0005",
                    ["EC2 mgmt"] = "50.00",   -- 500 belongs to tier 1: 10%
                },
                total = "2030.01",   -- 2000.01 - 20.0005 + 50 = 2030.0095
            },
        },
        rebill.test {
            name = "a cent past the volume upto; the rebate at its cap",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,500.01\nAmazonS3,5000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "500.01", AmazonS3 = "5000.00", Platform = "100.00",
                    -- 20 + 3600.01 x 5% = 200.0005, capped at 100
                    ["Spend rebate"] = "-100.00",
                    ["EC2 mgmt"] = "25.0005",  -- the whole 500.01 at 5%
                },
                total = "5525.01",   -- 5600.01 - 100 + 25.0005 = 5525.0105
            },
        },
    },
}
