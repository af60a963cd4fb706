-- 19-chain-top.lua -- blind spec test, chain part 1 of 3: the distributor's plan for the
-- reseller (billed - 5%). 20-chain-mid.lua and 21-chain-low.lua name this file as upstream.
--
-- docs/rules.md "Chains": at the top of the chain the cost is AWS's billed cost.

local FIXTURE = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1200.00
AmazonS3,Usage,200.00,250.00
AmazonEC2,Credit,-50.00,0
AmazonEC2,EdpDiscount,-30.00,0
]]

return rebill.plan {
    name = "blind: chain top (distributor -> reseller), billed - 5%",
    base = "billed",

    rebill.discount { percent = 5 },

    tests = {
        rebill.test {
            name = "the reseller's bill from the distributor",
            period = "2026-11",
            usage = FIXTURE,
            expect = {
                lines = {
                    AmazonEC2 = "900.00", -- 1000 x 0.95 = 950, credit passed -50; EDP hidden
                    AmazonS3 = "190.00",  -- 200 x 0.95
                },
                total = "1090.00",
                cost = "1120.00",   -- AWS billed: 1000 + 200 - 50 - 30
                margin = "-30.00",  -- 1090 - 1120
            },
        },
    },
}
