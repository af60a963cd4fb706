-- business-support.lua -- resell AWS Business support: a tiered percentage of the month's
-- usage with a minimum, as AWS charges it.
--
-- AWS Business support costs the greater of $100 or 10% of the first $10K of monthly AWS
-- charges, 7% from $10K to $80K, 5% from $80K to $250K and 3% above $250K. The helper
-- rebill.support builds that fee; AWS's own support line is hidden (base = "list" hides
-- support charges) and replaced by this one.

local support = require("rebill.support")

return rebill.plan {
    name = "List price with Business support",
    base = "list",

    support.fee("business", { line_types = { "Usage" } }), -- "Business support", of usage

    tests = {
        rebill.test {
            name = "100,000 of usage",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonEC2,BoxUsage:m5.24xlarge,Usage,13000,60000.00,60000.00
AmazonRDS,InstanceUsage:db.r5.12xlarge,Usage,6600,40000.00,40000.00
AWSSupportBusiness,Dollar,Fee,1,6900.00,0
]],
            expect = {
                lines = {
                    AmazonEC2 = "60000.00",
                    AmazonRDS = "40000.00",
                    -- 10% x 10,000 + 7% x 70,000 + 5% x 20,000 = 1,000 + 4,900 + 1,000
                    ["Business support"] = "6900.00",
                },
                total = "106900.00",
            },
        },
        rebill.test {
            name = "a small month pays the minimum",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,500.00\n",
            expect = {
                lines = { AmazonEC2 = "500.00", ["Business support"] = "100.00" }, -- 10% = 50
                total = "600.00",
            },
        },
        rebill.test {
            name = "300,000 of usage reaches the 3% tier",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,300000.00\n",
            expect = {
                -- 1,000 + 4,900 + 5% x 170,000 + 3% x 50,000 = 1,000 + 4,900 + 8,500 + 1,500
                lines = { AmazonEC2 = "300000.00", ["Business support"] = "15900.00" },
                total = "315900.00",
            },
        },
    },
}
