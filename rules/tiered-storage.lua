-- tiered-storage.lua -- S3 Standard storage on a graduated ladder, and a volume discount on
-- the month's total spend.
--
-- rebill.tiered prices a usage type along a ladder over the customer's whole month
-- (all accounts and regions together): the first 50 TB at one rate, the next 450 TB at
-- another, the rest at a third. Graduated: each part at its own tier's rate.
-- The volume discount is a credit whose percent depends on where the month's total lands
-- (volume = true: the whole amount at that tier's percent).

return rebill.plan {
    name = "Storage ladder and volume discount",
    base = "list",

    rebill.tiered {
        service = "AmazonS3",
        usage_type = "TimedStorage-ByteHrs", -- GB-months
        tiers = {
            { upto = 51200, price = "0.023" },  -- first 50 TB
            { upto = 512000, price = "0.022" }, -- next 450 TB
            { price = "0.021" },                -- over 500 TB
        },
    },

    rebill.credit {
        name = "Volume discount",
        of = "usage",
        volume = true,
        tiers = {
            { upto = 10000, percent = 0 },
            { upto = 50000, percent = 2 },
            { percent = 4 },
        },
    },

    tests = {
        rebill.test {
            name = "two accounts climb one ladder; 2% volume discount",
            period = "2026-11",
            usage_file = "../tests/fixtures/pricing/storage-2026-11.csv",
            expect = {
                lines = {
                    AmazonEC2 = "9000.00",
                    -- 40,000 GB all in tier 1: 920.00; the next account's 30,000 GB go from
                    -- 40,000 to 70,000: 11,200 x 0.023 + 18,800 x 0.022 = 257.60 + 413.60
                    AmazonS3 = "1591.20",
                    -- 9000 + 1591.20 = 10591.20 is in the 2% tier: -211.824
                    ["Volume discount"] = "-211.82",
                },
                total = "10379.38", -- 10591.20 - 211.824 = 10379.376
            },
        },
        rebill.test {
            name = "below 10,000 there is no volume discount line",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
AmazonS3,TimedStorage-ByteHrs,5000,115.00
AmazonEC2,BoxUsage:m5.large,720,1000.00
]],
            expect = {
                lines = { AmazonS3 = "115.00", AmazonEC2 = "1000.00" }, -- 5000 x 0.023
                total = "1115.00",
            },
        },
    },
}
