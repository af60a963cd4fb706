-- list-price.lua -- public list price, like AWS Billing Conductor's basic pricing plan.
--
-- The customer sees every usage line at the public on-demand price (the CUR column
-- pricing/publicOnDemandCost), whatever the partner paid: no private discounts, no Savings
-- Plans or Reserved Instance savings, no credits, no AWS taxes, no AWS support charges.
-- The AWS free tier stays free. This is also what a customer gets when no plan is assigned.

return rebill.plan {
    name = "Public list price",
    base = "list",     -- price from pricing/publicOnDemandCost
    free_tier = true,  -- usage AWS billed below list (the free tier) keeps the lower cost

    -- Nothing else: with base = "list" the default pass-through policy prices Usage,
    -- DiscountedUsage and SavingsPlanCoveredUsage at list and hides every other line type.

    tests = {
        rebill.test {
            name = "usage at list; credits, tax, Savings Plans and support hidden",
            period = "2026-11",
            usage = [[
account,service,usage_type,line_type,quantity,billed,list
111111111111,AmazonEC2,BoxUsage:m5.large,Usage,720,69.12,69.12
111111111111,AmazonEC2,BoxUsage:c5.xlarge,SavingsPlanCoveredUsage,720,122.40,122.40
111111111111,AmazonEC2,BoxUsage:c5.xlarge,SavingsPlanNegation,0,-122.40,0
111111111111,ComputeSavingsPlans,ComputeSP:1yrNoUpfront,SavingsPlanRecurringFee,720,86.40,0
111111111111,AmazonEC2,,Credit,0,-25.00,0
111111111111,AmazonEC2,,Tax,0,12.34,0
111111111111,AWSSupportBusiness,Dollar,Fee,1,100.00,0
111111111111,AWSLambda,Request,Usage,1000000,0,0.20
]],
            expect = {
                -- 69.12 + 122.40 (the Savings Plan covered usage at its list price)
                lines = { AmazonEC2 = "191.52", AWSLambda = "0.00" }, -- Lambda: free tier
                total = "191.52",
                -- the partner paid every line, hidden ones too:
                -- 69.12 + 122.40 - 122.40 + 86.40 - 25.00 + 12.34 + 100.00 + 0 = 242.86
                cost = "242.86",
                margin = "-51.34", -- 191.52 - 242.86: support and tax are the partner's here
            },
        },
        rebill.test {
            name = "a month without usage is an empty bill",
            period = "2026-12",
            usage = "service,list\n",
            expect = { lines = {}, total = "0.00" },
        },
    },
}
