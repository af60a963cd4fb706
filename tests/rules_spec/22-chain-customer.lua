-- 22-chain-customer.lua -- spec test, chain part 3 of 3: a third level at list + 15%, whose
-- cost is the reseller's prices (21-chain-reseller.lua, itself below
-- 20-chain-distributor.lua), upstream plans listed nearest first.
--
-- Doc passages relied on (docs/rules.md):
--   "Chains" (the cost of a line is its price under the plan above, before that plan's
--     custom items, tax and currency); "Testing": `upstream` "the plan(s) above, nearest
--     first"; "Base": list; list-base default policy hides Credit, Tax, EdpDiscount (they
--     still count in cost).

return rebill.plan {
    name = "spec chain: third level, list + 15%",
    base = "list",

    rebill.markup { percent = 15 },

    tests = {
        rebill.test {
            name = "three levels",
            period = "2026-11",
            upstream = { "21-chain-reseller.lua", "20-chain-distributor.lua" },
            usage = [[
service,usage_type,line_type,entity,billed,list
AmazonEC2,BoxUsage,Usage,AWS,1000.00,1000.00
AmazonEC2,SpotUsage,Usage,AWS,100.00,100.00
AmazonS3,Storage,Usage,AWS,200.00,200.00
prodview-m,Soft,Usage,AWS Marketplace,60.00,60.00
AmazonEC2,,Credit,AWS,-40.00,0
AmazonEC2,,Tax,AWS,30.00,0
AmazonEC2,,EdpDiscount,AWS,-25.00,0
]],
            expect = {
                lines = {
                    AmazonEC2 = "1265.00",     -- list 1000 x 1.15 + 100 x 1.15
                    AmazonS3 = "230.00",       -- 200 x 1.15
                    ["prodview-m"] = "69.00",  -- 60 x 1.15
                },
                total = "1564.00",
                -- R's prices: 1045 + 102 + 198 + 58.14 - 40 (credit) + 0 (tax) + 0 (EDP)
                cost = "1363.14",
                margin = "200.86",   -- 1564 - 1363.14
            },
        },
    },
}
