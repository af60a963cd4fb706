-- edp-commitment.lua -- an EDP-style deal: the customer commits to $50,000 a month of AWS
-- spend and gets 6% off; a month below the commitment pays the shortfall.
--
-- AWS Marketplace purchases are not discounted and do not count toward the commitment
-- (as in AWS's own Enterprise Discount Program). The commitment runs from 2026-01 to
-- 2028-12; after that, only the discount would stay (give it the same term with a new
-- plan assignment when the deal ends).

return rebill.plan {
    name = "EDP 50K/month, 6%",
    base = "list",

    rebill.discount { percent = 6 },                           -- global
    rebill.markup { entity = "AWS Marketplace", percent = 0 }, -- Marketplace: no discount

    rebill.commitment {
        name = "EDP commitment shortfall",
        amount = 50000,        -- per month, after the discount
        entities = { "AWS" },  -- what counts: AWS charges, not Marketplace
        from = "2026-01",
        to = "2028-12",
    },

    tests = {
        rebill.test {
            name = "above the commitment: no shortfall",
            period = "2026-11",
            usage = [[
service,entity,list
AmazonEC2,AWS,40000.00
AmazonRDS,AWS,20000.00
prodview-9zq1,AWS Marketplace,5000.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "37600.00",    -- 40,000 x 0.94
                    AmazonRDS = "18800.00",    -- 20,000 x 0.94
                    ["prodview-9zq1"] = "5000.00",
                },
                total = "61400.00", -- AWS spend 56,400 >= 50,000
            },
        },
        rebill.test {
            name = "below the commitment: the shortfall is charged",
            period = "2026-11",
            usage = [[
service,entity,list
AmazonEC2,AWS,30000.00
prodview-9zq1,AWS Marketplace,10000.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "28200.00",                   -- 30,000 x 0.94
                    ["prodview-9zq1"] = "10000.00",           -- does not count
                    ["EDP commitment shortfall"] = "21800.00", -- 50,000 - 28,200
                },
                total = "60000.00",
            },
        },
        rebill.test {
            name = "after the term there is no commitment",
            period = "2029-01",
            usage = "service,list\nAmazonEC2,30000.00\n",
            expect = { lines = { AmazonEC2 = "28200.00" }, total = "28200.00" },
        },
    },
}
