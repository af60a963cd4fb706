-- chain-distributor.lua -- a distributor's plan for the resellers it bills.
--
-- In a chain customer -> reseller -> distributor, this plan is assigned to the reseller
-- (`rebill plan assign --org RESELLER --rules rules/chain-distributor.lua ...`): it prices
-- what the distributor bills the reseller, for the reseller's own accounts and for every
-- customer whose bill the reseller pays. The reseller's own plan (chain-reseller.lua) then
-- prices what the reseller bills its customer, and the reseller's cost of each line is the
-- price this plan gives it.
--
-- The distributor passes the billed cost with 4% off (part of its own distributor
-- discount, which stays hidden), except AWS Marketplace, which it resells at cost.

return rebill.plan {
    name = "Distributor: billed - 4%",
    base = "billed",

    rebill.discount { percent = 4 },
    rebill.markup { entity = "AWS Marketplace", percent = 0 },

    tests = {
        rebill.test {
            name = "the reseller's bill",
            period = "2026-11",
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
                    AmazonEC2 = "940.00",        -- 1000 x 0.96 - 50 (credit) + 30 (tax)
                    AmazonS3 = "192.00",         -- 200 x 0.96
                    ["prodview-9zq1"] = "100.00",
                },
                total = "1232.00",
                cost = "1200.00",  -- 1000 + 200 + 100 - 50 - 80 + 30
                margin = "32.00",  -- the distributor keeps 32 of its 80 discount
            },
        },
    },
}
