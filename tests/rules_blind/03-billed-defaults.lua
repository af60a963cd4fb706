-- 03-billed-defaults.lua -- blind spec test: base = "billed" (pass-through / cost-plus), a
-- global markup, and the default policy of this base over every line type.
--
-- docs/rules.md policy table, column "billed":
--   price: Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation,
--          SavingsPlanUpfrontFee, Fee, SavingsPlanRecurringFee, RIFee, Purchase, Support, *
--   pass:  Credit, Refund, Tax, BundledDiscount, Adjustment
--   hide:  EdpDiscount, PrivateRateDiscount, SppDiscount, DistributorDiscount
-- Priced lines start from billed and get the global +10%; passed lines are at cost.

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
    name = "blind: billed base, +10%",
    base = "billed",

    rebill.markup { percent = 10 }, -- global

    tests = {
        rebill.test {
            name = "default policy of base billed over every line type",
            period = "2026-11",
            usage = FIXTURE,
            expect = {
                lines = {
                    svcUsage = "110.00",           -- 100 x 1.1
                    svcDiscounted = "33.00",       -- billed 30 x 1.1 (not list, not effective)
                    svcSPCovered = "27.50",        -- 25 x 1.1
                    svcSPNeg = "-27.50",           -- -25 x 1.1: priced, so marked up too
                    svcSPUpfront = "13.20",        -- 12 x 1.1
                    svcFee = "3.30",               -- 3 x 1.1
                    svcSPRec = "22.00",            -- 20 x 1.1
                    svcRIFee = "8.80",             -- 8 x 1.1
                    svcCredit = "-10.00",          -- pass: at cost
                    svcRefund = "-4.00",           -- pass
                    svcTax = "6.00",               -- pass
                    svcBundled = "-1.00",          -- pass
                    svcAdjust = "2.00",            -- pass
                    svcPurchase = "7.70",          -- 7 x 1.1
                    AWSSupportBusiness = "9.90",   -- Support: price, 9 x 1.1
                    AWSDeveloperSupport = "1.65",  -- Support: price, 1.5 x 1.1
                    svcFuture = "0.44",            -- "*": price, 0.4 x 1.1
                    -- svcEdp, svcPrivate, svcSpp, svcDist: hidden
                },
                -- priced billed: 100+30+25-25+12+3+20+8+7+9+1.5+0.4 = 190.90 x 1.1 = 209.99
                -- passed: -10 -4 +6 -1 +2 = -7.00            -> 202.99
                subtotal = "202.99",
                total = "202.99",
                price = "202.99",
                cost = "177.40",   -- sum of every billed (see 01-list-defaults.lua)
                margin = "25.59",  -- 202.99 - 177.40
            },
        },
    },
}
