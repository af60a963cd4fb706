-- 01-scope-matrix.lua -- spec test: every scope kind in one plan (global, billing entity,
-- service, SKU with and without operation and service), markups against discounts, and the
-- rule that exactly one rule -- the most specific -- prices a line, whatever its percent.
--
-- Doc passages relied on (docs/rules.md):
--   "Rules and scopes": "exactly one rule prices a line: the most specific one that matches"
--     1 usage_type+operation+service, 2 usage_type+operation, 3 usage_type+service,
--     4 usage_type, 5 service, 6 billing entity, 7 global; "A line no rule matches is
--     priced at its base"; "Percent rules price base x (1 + percent/100)".
--   "rebill.markup / rebill.discount": markup 0..10000, discount 0..100 ("a discount of 10
--     prices at 90%"); `operation` "narrows a SKU scope"; `entity` "(alone)".
-- Reading chosen (not spelled out by the docs): scope values match a line's dimension
-- exactly (byte for byte), as AWS Billing Conductor matches them: a region-prefixed usage
-- type such as "USE1-BoxUsage:m5.large" is not "BoxUsage:m5.large", and "AmazonEc2" is not
-- "AmazonEC2".

return rebill.plan {
    name = "spec: scope matrix",
    base = "list",

    rebill.markup { percent = 20 },                                           -- 7 global
    rebill.discount { entity = "AWS Marketplace", percent = 10 },             -- 6 entity
    rebill.discount { service = "AmazonEC2", percent = 15 },                  -- 5 service
    rebill.markup { service = "prodview-mkt", percent = 5 },                  -- 5 service
    rebill.discount { usage_type = "BoxUsage:m5.large", percent = 30 },       -- 4 SKU
    rebill.markup { service = "AmazonEC2", usage_type = "BoxUsage:c5.large",
                    percent = 2 },                                            -- 3 SKU+svc
    rebill.discount { usage_type = "BoxUsage:m5.large", operation = "RunInstances:0002",
                      percent = 40 },                                         -- 2 SKU+op
    rebill.discount { service = "AmazonEC2", usage_type = "BoxUsage:m5.large",
                      operation = "RunInstances:0010", percent = 50 },        -- 1 SKU+op+svc
    rebill.discount { usage_type = "DataTransfer-Out-Bytes", percent = 0 },   -- 4: shields
    rebill.discount { usage_type = "Giveaway", percent = 100 },               -- 4: free
    rebill.markup { usage_type = "Premium", percent = 10000 },                -- 4: x 101

    tests = {
        rebill.test {
            name = "ten lines, each priced by its most specific rule",
            period = "2026-11",
            usage = [[
service,usage_type,operation,entity,quantity,list
AmazonEC2,BoxUsage:m5.large,RunInstances:0010,AWS,1,1000.00
AmazonEC2,BoxUsage:m5.large,RunInstances:0002,AWS,1,1000.00
AmazonEC2,BoxUsage:m5.large,RunInstances,AWS,1,1000.00
AmazonEC2,BoxUsage:c5.large,RunInstances,AWS,1,1000.00
AmazonEC2,BoxUsage:t3.micro,RunInstances,AWS,1,1000.00
AmazonEC2,BoxUsage:t3.micro,RunInstances,AWS Marketplace,1,1000.00
AmazonS3,TimedStorage-ByteHrs,,AWS,1,1000.00
prodview-aaa,SoftwareUsage,,AWS Marketplace,1,1000.00
prodview-mkt,SoftwareUsage,,AWS Marketplace,1,1000.00
prodview-bbb,BoxUsage:m5.large,RunInstances,AWS Marketplace,1,1000.00
]],
            expect = {
                lines = {
                    -- op 0010 + EC2: level 1, -50%   -> 1000 x 0.50 =  500
                    -- op 0002: level 2 (level 1 wants op 0010), -40% -> 600
                    -- m5.large, op RunInstances: level 4 (level 3 is c5), -30% -> 700
                    -- c5.large + EC2: level 3 MARKUP +2% beats the service discount -> 1020
                    -- t3.micro: service, -15% -> 850
                    -- t3.micro sold by AWS Marketplace: service beats entity, -15% -> 850
                    AmazonEC2 = "4520.00",        -- 500+600+700+1020+850+850
                    AmazonS3 = "1200.00",         -- global: 1000 x 1.20
                    ["prodview-aaa"] = "900.00",  -- entity: 1000 x 0.90
                    ["prodview-mkt"] = "1050.00", -- its service rule beats entity: x 1.05
                    ["prodview-bbb"] = "700.00",  -- SKU (level 4) beats entity: x 0.70
                },
                subtotal = "8370.00", -- 4520 + 1200 + 900 + 1050 + 700
                tax = "0.00",
                total = "8370.00",
                price = "8370.00",
                cost = "10000.00",    -- billed defaults to list: 10 x 1000
                margin = "-1630.00",  -- 8370 - 10000
            },
        },
        rebill.test {
            name = "scope values match exactly: prefixed usage type, other case, empty operation",
            period = "2026-11",
            usage = [[
service,usage_type,operation,quantity,list
AmazonEC2,USE1-BoxUsage:m5.large,RunInstances,1,100.00
AmazonEc2,BoxUsage:t3.micro,RunInstances,1,100.00
AmazonRDS,BoxUsage:m5.large,,1,100.00
AmazonRDS,BoxUsage:m5.large,RunInstances:0002,1,200.00
]],
            expect = {
                lines = {
                    -- "USE1-BoxUsage:m5.large" matches no SKU rule; service EC2: x 0.85
                    AmazonEC2 = "85.00",
                    -- "AmazonEc2" is not "AmazonEC2": only the global rule, x 1.20
                    AmazonEc2 = "120.00",
                    -- empty operation: the op-scoped rule (level 2) does not match; level 4
                    -- -30% -> 70; op 0002 on RDS: level 2 (level 1 needs EC2) -> 200 x 0.60 = 120
                    AmazonRDS = "190.00",
                },
                total = "395.00", -- 85 + 120 + 190
            },
        },
        rebill.test {
            name = "0% shields a line from the global markup; 100% off; +10000%",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
AmazonEC2,DataTransfer-Out-Bytes,10,12.34
AmazonCloudFront,DataTransfer-Out-Bytes,10,1.00
AmazonS3,Giveaway,1,55.55
AmazonS3,Premium,1,0.25
]],
            expect = {
                lines = {
                    -- level 4 (0%) beats EC2's service rule and the global rule: at list
                    AmazonEC2 = "12.34",
                    AmazonCloudFront = "1.00",
                    -- 55.55 x 0 = 0; 0.25 x (1 + 10000/100) = 0.25 x 101 = 25.25
                    AmazonS3 = "25.25",
                },
                total = "38.59", -- 12.34 + 1 + 25.25
            },
        },
    },
}
