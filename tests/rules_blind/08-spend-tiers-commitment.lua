-- 08-spend-tiers-commitment.lua -- blind spec test: custom items priced by a ladder of
-- percentages over spend (graduated and volume), minimum and maximum, and minimum monthly
-- commitments (the shortfall "amount - sources, when positive").
--
-- docs/rules.md: tiers "over the sources, graduated, or volume = true"; "minimum, maximum:
-- bounds of the computed amount (before a credit's sign)"; "An item that comes to exactly
-- zero is not shown"; sources default to "usage". The volume boundary rule ("a total equal
-- to an upto belongs to that tier") is stated for rebill.tiered; I assume the same here.

return rebill.plan {
    name = "blind: spend tiers and commitments",
    base = "list",

    rebill.fee {
        name = "Management",
        tiers = { { upto = 1000, percent = 10 }, { upto = 5000, percent = 5 }, { percent = 2 } },
        minimum = 75,
    },
    rebill.credit {
        name = "Volume rebate",
        volume = true,
        tiers = { { upto = 1000, percent = 0 }, { upto = 5000, percent = 1 }, { percent = 3 } },
        maximum = 150,
    },
    rebill.commitment { name = "Commit shortfall", amount = 3000 },
    rebill.commitment { name = "S3 commitment", amount = 1000, services = "AmazonS3" },

    tests = {
        rebill.test {
            name = "6000 of usage: graduated fee, capped rebate, commitments met",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,4000.00\nAmazonS3,2000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "4000.00", AmazonS3 = "2000.00",
                    Management = "320.00",  -- 1000 x 10% + 4000 x 5% + 1000 x 2% = 100+200+20
                    ["Volume rebate"] = "-150.00", -- 6000 in tier 3: 3% = 180, max 150
                },
                total = "6170.00",  -- 6000 + 320 - 150
                cost = "6000.00",
                margin = "170.00",
            },
        },
        rebill.test {
            name = "500 of usage: fee at its minimum, no rebate, both shortfalls",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,500.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "500.00",
                    Management = "75.00",              -- 10% = 50 < minimum 75
                    ["Commit shortfall"] = "2500.00",  -- 3000 - 500
                    ["S3 commitment"] = "1000.00",     -- no S3: 1000 - 0
                    -- rebate 0% of 500 = 0: not shown
                },
                total = "4075.00", -- 500 + 75 + 2500 + 1000
            },
        },
        rebill.test {
            name = "1000 of usage: the volume total equal to an upto stays in that tier",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,600.00\nAmazonS3,400.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "600.00", AmazonS3 = "400.00",
                    Management = "100.00",            -- 1000 x 10%
                    ["Commit shortfall"] = "2000.00", -- 3000 - 1000
                    ["S3 commitment"] = "600.00",     -- 1000 - 400
                    -- rebate: 1000 is in tier 1 (0%): not shown
                },
                total = "3700.00", -- 1000 + 100 + 2000 + 600
            },
        },
        rebill.test {
            name = "5000 of usage: volume at the second upto",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,3000.00\nAmazonS3,2000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "3000.00", AmazonS3 = "2000.00",
                    Management = "300.00",         -- 100 + 4000 x 5%
                    ["Volume rebate"] = "-50.00",  -- 5000 in tier 2: 1%
                },
                total = "5250.00", -- 5000 + 300 - 50
            },
        },
        rebill.test {
            name = "2500.50 of usage: sub-cent item amounts",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,2500.50\n",
            expect = {
                lines = {
                    AmazonEC2 = "2500.50",
                    Management = "175.025",           -- 100 + 1500.50 x 5% = 100 + 75.025
                    ["Volume rebate"] = "-25.005",    -- 2500.50 x 1%
                    ["Commit shortfall"] = "499.50",  -- 3000 - 2500.50
                    ["S3 commitment"] = "1000.00",
                },
                -- 2500.50 + 175.025 - 25.005 + 499.50 + 1000 = 4150.02
                total = "4150.02",
            },
        },
        rebill.test {
            name = "5000.01 of usage: one cent into the top tiers",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,3000.01\nAmazonS3,2000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "3000.01", AmazonS3 = "2000.00",
                    Management = "300.0002",       -- 100 + 200 + 0.01 x 2%
                    ["Volume rebate"] = "-150.00", -- 3% x 5000.01 = 150.0003, max 150
                },
                total = "5150.01", -- 5000.01 + 300.0002 - 150 = 5150.0102
            },
        },
        rebill.test {
            name = "usage exactly at the commitments: no shortfall line",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,2000.00\nAmazonS3,1000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "2000.00", AmazonS3 = "1000.00",
                    Management = "200.00",        -- 100 + 2000 x 5%
                    ["Volume rebate"] = "-30.00", -- 3000 x 1%
                },
                total = "3170.00", -- 3000 + 200 - 30
            },
        },
    },
}
