-- migration-credit.lua -- a migration programme: 25% back on EC2 and RDS for six months
-- (at most $5,000 a month), a one-time onboarding fee, and a platform fee every month.
--
-- Custom line items have a period range: `period` for one month, `from`/`to` for a
-- recurring item between two months (inclusive), neither for every month.

return rebill.plan {
    name = "Migration programme",
    base = "list",

    rebill.credit {
        name = "Migration credit",
        percent = 25,
        services = { "AmazonEC2", "AmazonRDS" },
        maximum = 5000,                  -- per month (the credit's size, before its sign)
        from = "2026-03", to = "2026-08",
    },
    rebill.fee { name = "Onboarding", amount = 1500, period = "2026-03" },
    rebill.fee { name = "Platform fee", amount = 250 },

    tests = {
        rebill.test {
            name = "first month: credit at its cap, onboarding, platform fee",
            period = "2026-03",
            usage = "service,list\nAmazonEC2,12000.00\nAmazonRDS,8000.00\nAmazonS3,1000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "12000.00", AmazonRDS = "8000.00", AmazonS3 = "1000.00",
                    ["Migration credit"] = "-5000.00", -- 25% x 20,000 = 5,000 (the cap)
                    Onboarding = "1500.00",
                    ["Platform fee"] = "250.00",
                },
                total = "17750.00", -- 21,000 - 5,000 + 1,500 + 250
            },
        },
        rebill.test {
            name = "a later month in the range",
            period = "2026-05",
            usage = "service,list\nAmazonEC2,4000.00\nAmazonS3,1000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "4000.00", AmazonS3 = "1000.00",
                    ["Migration credit"] = "-1000.00", -- 25% x 4,000 (S3 does not count)
                    ["Platform fee"] = "250.00",
                },
                total = "4250.00",
            },
        },
        rebill.test {
            name = "after the programme",
            period = "2026-09",
            usage = "service,list\nAmazonEC2,4000.00\n",
            expect = {
                lines = { AmazonEC2 = "4000.00", ["Platform fee"] = "250.00" },
                total = "4250.00",
            },
        },
    },
}
