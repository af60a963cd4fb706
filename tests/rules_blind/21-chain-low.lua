-- 21-chain-low.lua -- blind spec test, chain part 3 of 3: a third level, billed + 20%, with
-- two upstream plans "nearest first".

return rebill.plan {
    name = "blind: chain low, billed + 20%",
    base = "billed",

    rebill.markup { percent = 20 },

    tests = {
        rebill.test {
            name = "three levels",
            period = "2026-11",
            upstream = { "20-chain-mid.lua", "19-chain-top.lua" },
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1200.00
AmazonS3,Usage,200.00,250.00
AmazonEC2,Credit,-50.00,0
AmazonEC2,EdpDiscount,-30.00,0
]],
            expect = {
                lines = {
                    AmazonEC2 = "1204.00", -- mid's price 1045 x 1.2 = 1254; credit -50 passed
                    AmazonS3 = "250.80",   -- mid's price 209 x 1.2
                },
                total = "1454.80",
                cost = "1204.00",   -- mid's prices: 1045 + 209 - 50
                margin = "250.80",  -- 1454.80 - 1204
            },
        },
    },
}
