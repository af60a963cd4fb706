-- 05-scopes.lua -- blind spec test: exactly one rule prices a line, the most specific that
-- matches (docs/rules.md "Rules and scopes", levels 1..7), billing-entity scope, and the free
-- tier feeding a percent rule.
--
-- Levels: 1 usage_type+operation+service, 2 usage_type+operation, 3 usage_type+service,
-- 4 usage_type, 5 service, 6 billing entity, 7 global.

return rebill.plan {
    name = "blind: scopes",
    base = "list",

    rebill.discount { service = "AmazonEC2", usage_type = "BoxUsage:m5.large",
                      operation = "RunInstances:0002", percent = 40 },              -- level 1
    rebill.discount { usage_type = "BoxUsage:m5.large", operation = "RunInstances:0002",
                      percent = 35 },                                               -- level 2
    rebill.discount { service = "AmazonEC2", usage_type = "BoxUsage:m5.large",
                      percent = 30 },                                               -- level 3
    rebill.discount { usage_type = "BoxUsage:m5.large", percent = 25 },             -- level 4
    rebill.discount { service = "AmazonEC2", percent = 20 },                        -- level 5
    rebill.markup { entity = "AWS Marketplace", percent = 5 },                      -- level 6
    rebill.discount { percent = 10 },                                               -- level 7

    tests = {
        rebill.test {
            name = "each line gets the most specific matching rule",
            period = "2026-11",
            usage = [[
service,usage_type,operation,entity,quantity,list
AmazonEC2,BoxUsage:m5.large,RunInstances:0002,AWS,1,100.00
AmazonEKS,BoxUsage:m5.large,RunInstances:0002,AWS,1,200.00
AmazonEC2,BoxUsage:m5.large,RunInstances,AWS,1,300.00
AmazonEKS,BoxUsage:m5.large,RunInstances,AWS,1,400.00
AmazonEC2,BoxUsage:c5.large,RunInstances,AWS,1,500.00
prodview-abc,SoftwareUsage,,AWS Marketplace,1,600.00
AmazonS3,TimedStorage-ByteHrs,,AWS,1,700.00
AmazonEC2,BoxUsage:c5.large,RunInstances,AWS Marketplace,1,800.00
]],
            expect = {
                lines = {
                    -- L1 level 1: 100 x 0.60 = 60;  L3 level 3: 300 x 0.70 = 210
                    -- L5 level 5: 500 x 0.80 = 400; L8 service beats entity: 800 x 0.80 = 640
                    AmazonEC2 = "1310.00",        -- 60 + 210 + 400 + 640
                    -- L2 level 2 (level 1 needs service EC2): 200 x 0.65 = 130
                    -- L4 level 4: 400 x 0.75 = 300
                    AmazonEKS = "430.00",         -- 130 + 300
                    ["prodview-abc"] = "630.00",  -- entity: 600 x 1.05
                    AmazonS3 = "630.00",          -- global: 700 x 0.90
                },
                total = "3000.00", -- 1310 + 430 + 630 + 630
            },
        },
        rebill.test {
            name = "free tier amount is the base a percent rule applies to",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonS3,TimedStorage-ByteHrs,Usage,10,0.50,2.00
AmazonS3,TimedStorage-ByteHrs,DiscountedUsage,10,0.50,2.00
]],
            expect = {
                -- Usage: billed 0.50 < list: base 0.50 x 0.90 = 0.45
                -- DiscountedUsage: no free tier, list 2.00 x 0.90 = 1.80
                lines = { AmazonS3 = "2.25" },
                total = "2.25",
            },
        },
    },
}
