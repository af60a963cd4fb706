-- 04-effective-defaults.lua -- blind spec test: base = "effective" (amortized), a global
-- markup, and the default policy of this base.
--
-- docs/rules.md policy table, column "effective":
--   price: Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanRecurringFee, RIFee,
--          Purchase, Support, *
--   hide:  SavingsPlanNegation, SavingsPlanUpfrontFee, Fee, EdpDiscount,
--          PrivateRateDiscount, SppDiscount, DistributorDiscount
--   pass:  Credit, Refund, Tax, BundledDiscount, Adjustment
-- Priced lines start from the effective column; passed lines are at cost (= billed here).
-- AWSSupportBusiness is typed Fee (hidden under this base) but is a support service, so
-- its policy is "Support": priced.

local FIXTURE = [[
service,line_type,billed,list,effective
svcUsage,Usage,100.00,100.00,100.00
svcDiscounted,DiscountedUsage,30.00,50.00,28.00
svcSPCovered,SavingsPlanCoveredUsage,25.00,40.00,22.00
svcSPNeg,SavingsPlanNegation,-25.00,0,0
svcSPUpfront,SavingsPlanUpfrontFee,12.00,0,0
svcFee,Fee,3.00,0,3.00
svcSPRec,SavingsPlanRecurringFee,20.00,0,2.00
svcRIFee,RIFee,8.00,0,1.00
svcCredit,Credit,-10.00,0,-10.00
svcRefund,Refund,-4.00,0,-4.00
svcTax,Tax,6.00,0,6.00
svcBundled,BundledDiscount,-1.00,0,-1.00
svcAdjust,Adjustment,2.00,0,2.00
svcEdp,EdpDiscount,-5.00,0,-5.00
svcPrivate,PrivateRateDiscount,-0.50,0,-0.50
svcSpp,SppDiscount,-0.25,0,-0.25
svcDist,DistributorDiscount,-0.75,0,-0.75
svcPurchase,Purchase,7.00,0,7.00
AWSSupportBusiness,Fee,9.00,0,9.00
AWSDeveloperSupport,Usage,1.50,1.50,1.50
svcFuture,FutureType,0.40,0,0.40
]]

return rebill.plan {
    name = "blind: effective base, +10%",
    base = "effective",

    rebill.markup { percent = 10 },

    tests = {
        rebill.test {
            name = "default policy of base effective over every line type",
            period = "2026-11",
            usage = FIXTURE,
            expect = {
                lines = {
                    svcUsage = "110.00",           -- effective 100 x 1.1
                    svcDiscounted = "30.80",       -- effective 28 x 1.1
                    svcSPCovered = "24.20",        -- effective 22 x 1.1
                    svcSPRec = "2.20",             -- effective 2 x 1.1
                    svcRIFee = "1.10",             -- effective 1 x 1.1
                    svcCredit = "-10.00",          -- pass
                    svcRefund = "-4.00",           -- pass
                    svcTax = "6.00",               -- pass
                    svcBundled = "-1.00",          -- pass
                    svcAdjust = "2.00",            -- pass
                    svcPurchase = "7.70",          -- 7 x 1.1
                    AWSSupportBusiness = "9.90",   -- Support (not Fee): 9 x 1.1
                    AWSDeveloperSupport = "1.65",  -- 1.5 x 1.1
                    svcFuture = "0.44",            -- "*": 0.4 x 1.1
                    -- hidden: svcSPNeg, svcSPUpfront, svcFee, svcEdp, svcPrivate, svcSpp, svcDist
                },
                -- priced: 110+30.8+24.2+2.2+1.1+7.7+9.9+1.65+0.44 = 187.99; passed -7.00
                total = "180.99",
                cost = "177.40",   -- billed of every line
                margin = "3.59",   -- 180.99 - 177.40
            },
        },
    },
}
