-- 20-chain-mid.lua -- blind spec test, chain part 2 of 3: the reseller's plan for its customer
-- (billed + 10%), below 19-chain-top.lua.
--
-- docs/rules.md: base "billed" is "in a chain, the price your own payer charges you"; "R's
-- cost of a line of C's is the price of that line under R's plan"; "A line R's plan hides
-- costs R nothing"; "pass shows the line at your cost".

return rebill.plan {
    name = "blind: chain mid (reseller -> customer), billed + 10%",
    base = "billed",

    rebill.markup { percent = 10 },

    tests = {
        rebill.test {
            name = "priced from what the distributor charges",
            period = "2026-11",
            upstream = "19-chain-top.lua",
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1200.00
AmazonS3,Usage,200.00,250.00
AmazonEC2,Credit,-50.00,0
AmazonEC2,EdpDiscount,-30.00,0
]],
            expect = {
                lines = {
                    -- usage cost 950 (top's price) x 1.1 = 1045; credit passed at cost -50
                    AmazonEC2 = "995.00",
                    AmazonS3 = "209.00",  -- 190 x 1.1
                },
                total = "1204.00",
                cost = "1090.00",   -- 950 + 190 - 50 + 0 (the EDP line: hidden above, costs 0)
                margin = "114.00",  -- 1204 - 1090
            },
        },
    },
}
