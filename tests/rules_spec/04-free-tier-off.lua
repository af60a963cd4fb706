-- 04-free-tier-off.lua -- spec test: base "list" with free_tier = false: every priced line
-- starts from list, whatever AWS billed (below list, zero, negative); no rules at all.
--
-- Doc passages relied on (docs/rules.md):
--   "Base": "free_tier = false charges it at list."
--   "A line no rule matches is priced at its base."
--   Pass-through defaults for base list: Usage, DiscountedUsage, SavingsPlanCoveredUsage
--   priced; Credit hidden (still counted in cost).

return rebill.plan {
    name = "spec: free tier off",
    base = "list",
    free_tier = false,

    tests = {
        rebill.test {
            name = "every Usage line at list",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AWSLambda,Request,Usage,1000000,0,0.20
AmazonEC2,Below,Usage,1,4.00,10.00
AmazonEC2,Correction,Usage,-1,-3.00,2.00
AmazonEC2,,Credit,0,-1.00,0
]],
            expect = {
                lines = {
                    AWSLambda = "0.20",  -- list, not the free 0
                    AmazonEC2 = "12.00", -- 10 + 2 (list of each); the credit hidden
                },
                total = "12.20",
                cost = "0.00",     -- 0 + 4 - 3 - 1
                margin = "12.20",
            },
        },
        rebill.test {
            name = "list with many digits, no rule: kept to 12 digits",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,billed,list
AmazonS3,Requests,1,0,0.0000004
AmazonS3,Storage,1,0,1.123456789012
]],
            expect = {
                lines = { AmazonS3 = "1.123457189012" }, -- 0.0000004 + 1.123456789012
                total = "1.12",
                cost = "0.00",
                margin = "1.12",
            },
        },
    },
}
