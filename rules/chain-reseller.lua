-- chain-reseller.lua -- a reseller's plan for its customers, inside a distributor chain.
--
-- The customer pays the public list price plus a 5% managed-services fee on its usage;
-- its own credits and AWS taxes are shown as they are. The reseller's cost of each line is
-- what its distributor charges for it (chain-distributor.lua), so the margin below is the
-- reseller's real margin. The test names the plan above it with `upstream`.

return rebill.plan {
    name = "Reseller: list + 5% managed services",
    base = "list",

    passthrough = { Credit = "pass", Tax = "pass" },

    rebill.fee { name = "Managed services", percent = 5, line_types = { "Usage" } },

    tests = {
        rebill.test {
            name = "the customer's bill and the reseller's margin",
            period = "2026-11",
            upstream = "chain-distributor.lua", -- the plan the distributor bills us with
            usage = [[
service,line_type,entity,billed,list
AmazonEC2,Usage,AWS,1000.00,1000.00
AmazonS3,Usage,AWS,200.00,200.00
prodview-9zq1,Usage,AWS Marketplace,100.00,100.00
AmazonEC2,Credit,AWS,-50.00,0
AmazonEC2,DistributorDiscount,AWS,-80.00,0
AmazonEC2,Tax,AWS,30.00,0
]],
            expect = {
                lines = {
                    AmazonEC2 = "980.00", -- 1000 (list) - 50 (credit) + 30 (tax), passed at cost
                    AmazonS3 = "200.00",
                    ["prodview-9zq1"] = "100.00",
                    ["Managed services"] = "65.00", -- 5% of 1000 + 200 + 100
                },
                total = "1345.00",
                -- the distributor's prices: 960 + 192 + 100 - 50 + 30 (its discount: hidden)
                cost = "1232.00",
                margin = "113.00",
            },
        },
    },
}
