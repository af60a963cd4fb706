-- 02-list-free-tier-off.lua -- blind spec test: base "list" with free_tier = false, a global
-- markup, and two policy overrides (Credit passed, Support priced).
--
-- docs/rules.md: "free_tier = false charges it at list"; "pass shows the line at your cost,
-- untouched by markups and discounts"; a percent rule prices base x (1 + percent/100).

return rebill.plan {
    name = "blind: list, free tier off, +10%",
    base = "list",
    free_tier = false,
    passthrough = { Credit = "pass", Support = "price" },

    rebill.markup { percent = 10 },

    tests = {
        rebill.test {
            name = "free tier charged at list, credit passed, support priced",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AWSLambda,Request,Usage,1000000,0,0.20
AmazonEC2,BoxUsage:t3.micro,Usage,744,5.00,8.00
AmazonEC2,,Credit,0,-2.00,0
AWSSupportBusiness,Dollar,Fee,1,29.00,29.00
AmazonEC2,,Tax,0,1.00,0
AmazonS3,TimedStorage-ByteHrs,DiscountedUsage,100,1.00,4.00
]],
            expect = {
                lines = {
                    AWSLambda = "0.22",            -- list 0.20 x 1.10 (free tier off)
                    AmazonEC2 = "6.80",            -- 8 x 1.1 = 8.80; credit passed -2; tax hidden
                    AWSSupportBusiness = "31.90",  -- Support priced at list: 29 x 1.10
                    AmazonS3 = "4.40",             -- 4.00 x 1.10
                },
                total = "43.32",   -- 0.22 + 6.80 + 31.90 + 4.40
                cost = "34.00",    -- 0 + 5 - 2 + 29 + 1 + 1
                margin = "9.32",   -- 43.32 - 34.00
            },
        },
    },
}
