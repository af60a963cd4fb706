-- service-discounts.lua -- a discount per service, a deeper one for one SKU, and a resale fee
-- on AWS Marketplace.
--
-- Scopes follow AWS Billing Conductor: SKU (usage type, optionally with operation and
-- service) beats service, which beats billing entity, which beats global. Exactly one rule
-- prices a line: the most specific one that matches. A line no rule matches is at list.

local sheet = require("rebill.sheet")

return rebill.plan {
    name = "Acme Corp 2026 price sheet",
    base = "list",

    -- per service: EC2 -12%, S3 -5%, RDS -8%
    sheet.discounts { AmazonEC2 = 12, AmazonS3 = 5, AmazonRDS = 8 },

    -- this SKU gets -20% instead of EC2's -12%
    rebill.discount { service = "AmazonEC2", usage_type = "BoxUsage:m5.large", percent = 20 },

    -- software bought through AWS Marketplace: +3% handling
    rebill.markup { entity = "AWS Marketplace", percent = 3 },

    tests = {
        rebill.test {
            name = "the most specific scope wins",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,entity,quantity,list
AmazonEC2,BoxUsage:m5.large,Usage,AWS,720,69.12
AmazonEC2,BoxUsage:c5.xlarge,Usage,AWS,720,122.40
AmazonS3,TimedStorage-ByteHrs,Usage,AWS,1000,23.00
AmazonRDS,InstanceUsage:db.r5.large,Usage,AWS,720,172.80
prodview-4x7abc,SoftwareUsage,Usage,AWS Marketplace,1,50.00
AmazonCloudWatch,CW:MetricMonitorUsage,Usage,AWS,10,3.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "163.01",          -- 69.12 x 0.80 + 122.40 x 0.88 = 55.296 + 107.712
                    AmazonS3 = "21.85",            -- 23.00 x 0.95
                    AmazonRDS = "158.98",          -- 172.80 x 0.92 = 158.976
                    ["prodview-4x7abc"] = "51.50", -- 50.00 x 1.03
                    AmazonCloudWatch = "3.00",     -- no rule: list
                },
                total = "398.33", -- 163.008 + 21.85 + 158.976 + 51.50 + 3.00 = 398.334
            },
        },
    },
}
