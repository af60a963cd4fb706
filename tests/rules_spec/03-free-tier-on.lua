-- 03-free-tier-on.lua -- spec test: base "list" with the free tier on (the default): which
-- lines start from billed, with a global markup on top; negative billed amounts; a Usage
-- line with no public price; the base the on_line hook sees; items and partner figures.
--
-- Doc passages relied on (docs/rules.md):
--   "Base": "With base = "list", free_tier = true (the default) keeps the AWS free tier
--     free: a Usage line that AWS billed below its list price (free-tier usage) starts from
--     the billed amount."
--   "Percent rules price base x (1 + percent/100)".
--   "The line object": `base` is "the base the plan started from", `price` "the price the
--     rules gave", `cost` "what you pay for the line (billed ...)".
-- Readings chosen:
--   * The test is literal: billed < list on a Usage line. A negative billed amount below a
--     positive list (a usage correction) therefore starts from the (negative) billed amount.
--   * A Usage line with list 0 and billed > 0 is not below its list: it starts from list, 0.

return rebill.plan {
    name = "spec: free tier on",
    base = "list",

    rebill.markup { percent = 10 },
    rebill.fee { name = "Service fee", percent = 10, services = "AmazonSNS" },

    on_line = function(line)
        if line.usage_type == "ShowBase" then return line.base end
        if line.usage_type == "ShowPrice" then return line.price * 2 end
        return nil
    end,

    tests = {
        rebill.test {
            name = "billed below, equal to and above list",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonEC2,Below,Usage,1,4.00,10.00
AmazonEC2,Zero,Usage,1,0,3.00
AmazonEC2,Equal,Usage,1,5.00,5.00
AmazonEC2,Above,Usage,1,6.00,5.00
AmazonS3,NoPublicPrice,Usage,1,2.00,0
AmazonRDS,Covered,SavingsPlanCoveredUsage,1,1.00,7.00
]],
            expect = {
                lines = {
                    -- 4 x 1.1 = 4.40; 0 x 1.1 = 0; 5 x 1.1 = 5.50; list 5 x 1.1 = 5.50
                    AmazonEC2 = "15.40",
                    AmazonS3 = "0.00",   -- billed 2 is not below list 0: list 0 x 1.1
                    AmazonRDS = "7.70",  -- free tier is for Usage lines only: 7 x 1.1
                },
                total = "23.10",   -- 15.40 + 0 + 7.70
                cost = "18.00",    -- 4 + 0 + 5 + 6 + 2 + 1
                margin = "5.10",   -- 23.10 - 18
            },
        },
        rebill.test {
            name = "negative billed usage below list starts from billed",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonEC2,Correction,Usage,-1,-3.00,2.00
AmazonEC2,Normal,Usage,1,10.00,10.00
]],
            expect = {
                lines = { AmazonEC2 = "7.70" }, -- -3 x 1.1 = -3.30; 10 x 1.1 = 11; 11 - 3.30
                total = "7.70",
                cost = "7.00",     -- -3 + 10
                margin = "0.70",
            },
        },
        rebill.test {
            name = "the hook sees the free-tier base, and the price built on it",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AWSLambda,ShowBase,Usage,1000000,0.50,2.00
AmazonSQS,ShowPrice,Usage,1000000,0.50,2.00
AmazonDynamoDB,ShowBase,Usage,1,3.00,2.00
]],
            expect = {
                lines = {
                    AWSLambda = "0.50",      -- base is billed 0.50 (below list), not 2.00
                    AmazonSQS = "1.10",      -- rule price 0.50 x 1.1 = 0.55, doubled
                    AmazonDynamoDB = "2.00", -- billed above list: base is list 2.00
                },
                total = "3.60",   -- 0.50 + 1.10 + 2.00
                cost = "4.00",    -- 0.50 + 0.50 + 3.00
                margin = "-0.40",
            },
        },
        rebill.test {
            name = "a percent item counts the free-tier price",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonSNS,Publish,Usage,1000,1.00,5.00
AmazonSNS,Publish,DiscountedUsage,1000,1.00,5.00
]],
            expect = {
                lines = {
                    AmazonSNS = "6.60",         -- Usage 1 x 1.1 = 1.10; Discounted 5 x 1.1 = 5.50
                    ["Service fee"] = "0.66",   -- 10% x 6.60
                },
                total = "7.26",
                cost = "2.00",
                margin = "5.26",
            },
        },
    },
}
