-- 07-tiers.lua -- blind spec test: rebill.tiered, graduated (default) and volume.
--
-- docs/rules.md: "A ladder over the month's total quantity of usage_type ..., all the
-- customer's accounts and regions together." Graduated: "each part of the quantity at its
-- own tier's price", "priced line after line in the lines' order (account, then
-- service...)". Volume: "the whole quantity at the price of the tier the total falls in (a
-- total equal to an upto belongs to that tier)". Rates and tiers ignore the base.

local LADDER = { { upto = 100, price = 1 }, { upto = 300, price = "0.5" }, { price = "0.25" } }

return rebill.plan {
    name = "blind: tiers",
    base = "list",

    -- graduated, no service: one ladder shared by every service's transfer
    rebill.tiered { usage_type = "DataTransfer-Out-Bytes", tiers = LADDER },
    -- graduated, S3 only
    rebill.tiered {
        service = "AmazonS3", usage_type = "TimedStorage-ByteHrs",
        tiers = { { upto = 500, price = "0.023" }, { price = "0.022" } },
    },
    -- volume
    rebill.tiered {
        usage_type = "Requests-Tier2", volume = true,
        tiers = { { upto = 100, price = 1 }, { upto = 300, price = "0.5" }, { price = "0.25" } },
    },

    tests = {
        rebill.test {
            name = "graduated: two accounts and two services climb one ladder",
            period = "2026-11",
            usage = [[
account,service,usage_type,region,quantity,list
111111111111,AmazonEC2,DataTransfer-Out-Bytes,us-east-1,50,4.50
111111111111,AmazonS3,DataTransfer-Out-Bytes,us-east-1,80,7.20
111111111111,AmazonS3,TimedStorage-ByteHrs,us-east-1,600,13.80
222222222222,AmazonEC2,DataTransfer-Out-Bytes,us-east-1,200,18.00
222222222222,AmazonS3,TimedStorage-ByteHrs,eu-west-1,400,9.20
]],
            expect = {
                lines = {
                    -- order 111/EC2, 111/S3, 222/EC2:
                    -- 111/EC2 50: 0..50 at 1 = 50.00
                    -- 111/S3 80: 50..100 at 1 = 50, 100..130 at 0.5 = 15 -> 65.00
                    -- 222/EC2 200: 130..300 at 0.5 = 85, 300..330 at 0.25 = 7.50 -> 92.50
                    AmazonEC2 = "142.50", -- 50 + 92.50
                    -- S3 transfer 65.00; storage 1000 GB: 500 x 0.023 = 11.50 + 500 x 0.022 = 11.00
                    AmazonS3 = "87.50",   -- 65 + 22.50
                },
                total = "230.00", -- ladder of 330 = 100 + 100 + 7.50 = 207.50, + 22.50
            },
        },
        rebill.test {
            name = "graduated: fixture rows out of order are priced account then service",
            period = "2026-11",
            usage = [[
account,service,usage_type,region,quantity,list
222222222222,AmazonS3,TimedStorage-ByteHrs,eu-west-1,400,9.20
222222222222,AmazonEC2,DataTransfer-Out-Bytes,us-east-1,200,18.00
111111111111,AmazonS3,TimedStorage-ByteHrs,us-east-1,600,13.80
111111111111,AmazonS3,DataTransfer-Out-Bytes,us-east-1,80,7.20
111111111111,AmazonEC2,DataTransfer-Out-Bytes,us-east-1,50,4.50
]],
            expect = {
                lines = { AmazonEC2 = "142.50", AmazonS3 = "87.50" }, -- as above
                total = "230.00",
            },
        },
        rebill.test {
            name = "graduated: a total equal to the first upto",
            usage = "service,usage_type,quantity,list\nAmazonEC2,DataTransfer-Out-Bytes,100,9.00\n",
            expect = { lines = { AmazonEC2 = "100.00" }, total = "100.00" }, -- 100 x 1
        },
        rebill.test {
            name = "graduated: one unit past the first upto",
            usage = "service,usage_type,quantity,list\nAmazonEC2,DataTransfer-Out-Bytes,101,9.09\n",
            expect = { lines = { AmazonEC2 = "100.50" }, total = "100.50" }, -- 100 x 1 + 1 x 0.5
        },
        rebill.test {
            name = "graduated: through every tier",
            usage = "service,usage_type,quantity,list\nAmazonEC2,DataTransfer-Out-Bytes,1000,90\n",
            -- 100 x 1 + 200 x 0.5 + 700 x 0.25 = 100 + 100 + 175
            expect = { lines = { AmazonEC2 = "375.00" }, total = "375.00" },
        },
        rebill.test {
            name = "graduated: the S3 ladder does not price another service's storage",
            usage = [[
service,usage_type,quantity,list
AmazonGlacier,TimedStorage-ByteHrs,1000,4.00
AmazonS3,TimedStorage-ByteHrs,1000,23.00
]],
            expect = {
                lines = {
                    AmazonGlacier = "4.00", -- no rule: list
                    AmazonS3 = "22.50",     -- 500 x 0.023 + 500 x 0.022 = 11.50 + 11.00
                },
                total = "26.50",
            },
        },
        rebill.test {
            name = "graduated: zero quantity costs nothing",
            usage = "service,usage_type,quantity,list\nAmazonEC2,DataTransfer-Out-Bytes,0,5.00\n",
            expect = { lines = { AmazonEC2 = "0.00" }, total = "0.00" },
        },
        rebill.test {
            name = "volume: a total equal to an upto belongs to that tier",
            usage = "service,usage_type,quantity,list\nAmazonS3,Requests-Tier2,100,1\n",
            expect = { lines = { AmazonS3 = "100.00" }, total = "100.00" }, -- 100 x 1
        },
        rebill.test {
            name = "volume: just past an upto, the whole quantity at the next price",
            usage = "service,usage_type,quantity,list\nAmazonS3,Requests-Tier2,100.5,1\n",
            expect = { lines = { AmazonS3 = "50.25" }, total = "50.25" }, -- 100.5 x 0.5
        },
        rebill.test {
            name = "volume: at the second upto",
            usage = "service,usage_type,quantity,list\nAmazonS3,Requests-Tier2,300,1\n",
            expect = { lines = { AmazonS3 = "150.00" }, total = "150.00" }, -- 300 x 0.5
        },
        rebill.test {
            name = "volume: past the last upto",
            usage = "service,usage_type,quantity,list\nAmazonS3,Requests-Tier2,301,1\n",
            expect = { lines = { AmazonS3 = "75.25" }, total = "75.25" }, -- 301 x 0.25
        },
        rebill.test {
            name = "volume: the tier is chosen by the month's total over all lines",
            usage = [[
service,usage_type,quantity,list
AmazonEC2,Requests-Tier2,60,1
AmazonS3,Requests-Tier2,60,1
]],
            expect = {
                -- total 120 -> tier 2 (0.5) for every unit: 60 x 0.5 = 30 each
                lines = { AmazonEC2 = "30.00", AmazonS3 = "30.00" },
                total = "60.00",
            },
        },
        rebill.test {
            name = "volume: two lines summing to exactly the first upto",
            usage = [[
service,usage_type,quantity,list
AmazonEC2,Requests-Tier2,60,1
AmazonS3,Requests-Tier2,40,1
]],
            expect = {
                lines = { AmazonEC2 = "60.00", AmazonS3 = "40.00" }, -- total 100 -> tier 1 (1.00)
                total = "100.00",
            },
        },
    },
}
