-- 24-rates.lua -- spec test: fixed rates per unit against every line type they meet under
-- base "billed": Usage, DiscountedUsage and SavingsPlanCoveredUsage are priced by quantity
-- whatever AWS billed; a passed Credit of the same usage type keeps its cost; a negative
-- quantity gives a negative price; a rate of 0; an operation-scoped rate beside a plain one;
-- a global markup for what no rate matches.
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.rate": "`price` (amount, required, not negative) per unit of `usage_type`
--     (required); optional `service` and `operation`. The line's price is its quantity x
--     price."
--   "Rules and scopes": "rates and tiers price the line's quantity and ignore the base";
--     level 2 (usage_type + operation) beats level 4 (usage_type); SKU beats global.
--   "Pass-through policy": base billed prices DiscountedUsage and SavingsPlanCoveredUsage,
--     passes Credit ("untouched by markups and discounts").

return rebill.plan {
    name = "spec: rates",
    base = "billed",

    rebill.markup { percent = 10 },
    rebill.rate { usage_type = "BoxUsage:m5.large", price = "0.096" },
    rebill.rate { usage_type = "BoxUsage:m5.large", operation = "RunInstances:0002",
                  price = "0.188" },
    rebill.rate { service = "AmazonEC2", usage_type = "FreeTrial:t2", price = 0 },

    tests = {
        rebill.test {
            name = "rates on each line type",
            period = "2026-11",
            usage = [[
account,service,usage_type,operation,line_type,quantity,billed
111111111111,AmazonEC2,BoxUsage:m5.large,RunInstances,Usage,100,9.60
111111111111,AmazonEC2,BoxUsage:m5.large,RunInstances:0002,Usage,10,1.88
111111111111,AmazonEC2,BoxUsage:m5.large,RunInstances,DiscountedUsage,200,5.00
111111111111,AmazonEC2,BoxUsage:m5.large,RunInstances,SavingsPlanCoveredUsage,50,2.00
111111111111,AmazonEC2,BoxUsage:m5.large,RunInstances,Credit,0,-3.00
222222222222,AmazonEC2,BoxUsage:m5.large,RunInstances,Usage,-10,-0.96
111111111111,AmazonEC2,FreeTrial:t2,RunInstances,Usage,750,0
111111111111,AmazonS3,TimedStorage,,Usage,1,10.00
]],
            expect = {
                lines = {
                    -- 100 x 0.096 = 9.60; op 0002: 10 x 0.188 = 1.88;
                    -- Discounted 200 x 0.096 = 19.20 (billed 5 ignored);
                    -- SP covered 50 x 0.096 = 4.80; credit passed -3.00;
                    -- account 222: -10 x 0.096 = -0.96; FreeTrial 750 x 0 = 0
                    AmazonEC2 = "31.52",  -- 9.60 + 1.88 + 19.20 + 4.80 - 3 - 0.96 + 0
                    AmazonS3 = "11.00",   -- no rate: global 10 x 1.1
                },
                total = "42.52",
                cost = "24.52",   -- 9.60 + 1.88 + 5 + 2 - 3 - 0.96 + 0 + 10
                margin = "18.00",
            },
        },
    },
}
