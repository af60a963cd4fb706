-- pass-through.lua -- the customer pays exactly what AWS billed for its accounts.
--
-- base = "billed" prices every line at its billed (unblended) cost. The default policy for
-- this base shows the customer's own credits, refunds and taxes as they are ("pass"), and
-- hides the partner's discounts (EDP, SPP, distributor, private rates): those are the
-- partner's margin. Savings Plan and Reserved Instance fees and negations are priced, so
-- the customer pays what the commitments really cost.

return rebill.plan {
    name = "Pass-through",
    base = "billed",

    -- Spelled out here for the reader; these are the defaults of base = "billed".
    passthrough = {
        Credit = "pass",
        Refund = "pass",
        Tax = "pass",
        EdpDiscount = "hide",
        SppDiscount = "hide",
        DistributorDiscount = "hide",
        PrivateRateDiscount = "hide",
    },

    tests = {
        rebill.test {
            name = "billed cost; the EDP discount stays with the partner",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonEC2,BoxUsage:m5.large,Usage,720,69.12,69.12
AmazonEC2,BoxUsage:c5.xlarge,SavingsPlanCoveredUsage,720,122.40,122.40
AmazonEC2,BoxUsage:c5.xlarge,SavingsPlanNegation,0,-122.40,0
ComputeSavingsPlans,ComputeSP:1yrNoUpfront,SavingsPlanRecurringFee,720,86.40,0
AmazonEC2,,Credit,0,-25.00,0
AmazonEC2,,Tax,0,12.34,0
AmazonEC2,,EdpDiscount,0,-9.66,0
]],
            expect = {
                -- 69.12 + 122.40 - 122.40 - 25.00 + 12.34 = 56.46
                lines = { AmazonEC2 = "56.46", ComputeSavingsPlans = "86.40" },
                total = "142.86",
                cost = "133.20",  -- 142.86 - 9.66
                margin = "9.66",  -- the EDP discount
            },
        },
    },
}
