-- 06-volume-tiers.lua -- spec test: volume ladders (rebill.tiered, volume = true) at exact
-- boundaries over several lines, the cliff just past a boundary, a one-tier ladder, zero
-- usage, and an operation-scoped ladder beside an unscoped one for the same usage type.
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.tiered": `volume = true`: "the whole quantity at the price of the tier the total
--     falls in (a total equal to an upto belongs to that tier)"; the total is the month's,
--     "all the customer's accounts and regions together"; "only the last tier has no upto
--     (1..64 tiers)".
--   "Rules and scopes": "exactly one rule prices a line: the most specific one that
--     matches" (usage_type + operation, level 2, beats usage_type, level 4).
-- Reading chosen: a ladder's month total counts the lines that ladder prices. Lines of the
-- same usage type taken by a more specific rule (here the GetObject ladder) are not on the
-- unscoped ladder, since exactly one rule prices each line.
--
-- Ladder V (Requests): total <= 1000 at 0.01; <= 5000 at 0.008; above at 0.005.

return rebill.plan {
    name = "spec: volume tiers",
    base = "list",

    rebill.tiered {
        usage_type = "Requests", volume = true,
        tiers = { { upto = 1000, price = "0.01" }, { upto = 5000, price = "0.008" },
                  { price = "0.005" } },
    },
    rebill.tiered {
        usage_type = "Requests", operation = "GetObject", volume = true,
        tiers = { { upto = 100, price = 1 }, { price = "0.5" } },
    },
    rebill.tiered { usage_type = "Single", volume = true, tiers = { { price = "0.002" } } },

    tests = {
        rebill.test {
            name = "three lines summing to exactly the second upto",
            period = "2026-11",
            usage = [[
account,service,usage_type,quantity,list
111111111111,AmazonS3,Requests,2000,1
222222222222,AmazonS3,Requests,2500,1
222222222222,AmazonSQS,Requests,500,1
]],
            expect = {
                lines = {
                    AmazonS3 = "36.00",  -- total 5000 -> 0.008: 2000 x .008 + 2500 x .008 = 16 + 20
                    AmazonSQS = "4.00",  -- 500 x 0.008
                },
                total = "40.00",
            },
        },
        rebill.test {
            name = "half a unit more falls off the cliff: the whole month at 0.005",
            period = "2026-11",
            usage = [[
account,service,usage_type,quantity,list
111111111111,AmazonS3,Requests,2000,1
222222222222,AmazonS3,Requests,2500,1
222222222222,AmazonSQS,Requests,500.5,1
]],
            expect = {
                lines = {
                    AmazonS3 = "22.50",     -- 4500 x 0.005
                    AmazonSQS = "2.5025",   -- 500.5 x 0.005
                },
                total = "25.00",  -- 25.0025: more usage, a smaller bill (volume pricing)
            },
        },
        rebill.test {
            name = "two lines summing to exactly the first upto",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
AmazonS3,Requests,600,1
AmazonSQS,Requests,400,1
]],
            expect = {
                lines = { AmazonS3 = "6.00", AmazonSQS = "4.00" }, -- total 1000 -> 0.01
                total = "10.00",
            },
        },
        rebill.test {
            name = "a zero-quantity month on a volume ladder",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonS3,Requests,0,3.00\n",
            expect = { lines = { AmazonS3 = "0.00" }, total = "0.00", cost = "3.00",
                       margin = "-3.00" },
        },
        rebill.test {
            name = "a one-tier ladder is a flat rate",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonSES,Single,12345,1\n",
            expect = { lines = { AmazonSES = "24.69" }, total = "24.69" }, -- 12345 x 0.002
        },
        rebill.test {
            name = "an operation-scoped ladder takes its lines off the unscoped ladder",
            period = "2026-11",
            usage = [[
service,usage_type,operation,quantity,list
AmazonS3,Requests,GetObject,150,1
AmazonSQS,Requests,SendMessage,900,1
]],
            expect = {
                lines = {
                    AmazonS3 = "75.00",  -- GetObject ladder: total 150 > 100 -> 150 x 0.5
                    -- unscoped ladder: its total is 900 (not 1050) -> tier 1: 900 x 0.01
                    AmazonSQS = "9.00",
                },
                total = "84.00",
            },
        },
    },
}
