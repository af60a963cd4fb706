-- 12-policy-effective.lua -- spec test: an explicit pass-through policy under base
-- "effective": priced lines start from the effective (amortized) figure, passed lines at
-- your cost (billed), hidden lines only in the cost; support charges by the "Support" key
-- except their credits, refunds and taxes; a subtotal that lands on a half cent.
--
-- Doc passages relied on (docs/rules.md):
--   "Base": effective = "the effective (amortized) cost".
--   "Pass-through policy" table (column effective) and its notes; "Support ... whatever
--     their line type, except tax, credits and refunds".
--   "Percent rules price base x (1 + percent/100)".
--   "How a bill is priced" 7: the subtotal is "rounded once ... half-even by default".
--   "Testing": amounts are compared at the scale written, "rounding the engine's figure
--     half-even". The docs do not say whether `price` is the exact or the rounded subtotal,
--     so partner figures are written at cents, where both readings agree.
-- Fixture effective figures as docs/formats.md derives them for CUR: SavingsPlanNegation
-- and SavingsPlanUpfrontFee 0, RIFee and SavingsPlanRecurringFee their unused part.

return rebill.plan {
    name = "spec: explicit policy, base effective",
    base = "effective",
    passthrough = {
        SavingsPlanNegation = "price",
        SavingsPlanUpfrontFee = "pass",
        Fee = "pass",
        RIFee = "hide",
        Credit = "price",
        Tax = "hide",
        Support = "pass",
        SppDiscount = "pass",
        DistributorDiscount = "price",
    },

    rebill.discount { percent = 10 },

    tests = {
        rebill.test {
            name = "each line type under the explicit policy",
            period = "2026-11",
            usage = [[
service,line_type,billed,list,effective
svcUsage,Usage,100.00,100.00,100.00
svcSPCov,SavingsPlanCoveredUsage,25.00,40.00,22.00
svcSPNeg,SavingsPlanNegation,-25.00,0,0
svcSPUp,SavingsPlanUpfrontFee,12.00,0,0
svcFee,Fee,3.00,0,3.00
svcRIFee,RIFee,8.00,0,1.00
svcSPRec,SavingsPlanRecurringFee,20.00,0,2.00
svcCredit,Credit,-10.00,0,-10.00
svcTax,Tax,6.00,0,6.00
AWSSupportBusiness,Fee,9.00,0,9.00
AWSSupportBusiness,Tax,0.90,0,0.90
svcSpp,SppDiscount,-0.25,0,-0.25
svcDist,DistributorDiscount,-0.75,0,-0.75
]],
            expect = {
                lines = {
                    svcUsage = "90.00",            -- effective 100 x 0.9
                    svcSPCov = "19.80",            -- effective 22 x 0.9
                    svcSPNeg = "0.00",             -- price: effective 0 x 0.9
                    svcSPUp = "12.00",             -- pass at cost (billed 12)
                    svcFee = "3.00",               -- pass
                    -- svcRIFee: hide
                    svcSPRec = "1.80",             -- default price: effective 2 x 0.9
                    svcCredit = "-9.00",           -- price: -10 x 0.9
                    -- svcTax: hide
                    AWSSupportBusiness = "9.00",   -- Fee line: Support, pass; Tax line: hide
                    svcSpp = "-0.25",              -- pass
                    svcDist = "-0.675",            -- price: -0.75 x 0.9
                },
                -- 90 + 19.80 + 0 + 12 + 3 + 1.80 - 9 + 9 - 0.25 - 0.675 = 125.675
                subtotal = "125.68",   -- half-even: ...67|5 -> 7 is odd -> 125.68
                total = "125.68",
                -- partner figures at cents: 125.675 and 125.68 both compare as 125.68
                price = "125.68",
                -- billed of every line: 100+25-25+12+3+8+20-10+6+9+0.9-0.25-0.75 = 147.90
                cost = "147.90",
                margin = "-22.22",     -- 125.675 - 147.90 = -22.225 -> half-even -22.22
            },
        },
        rebill.test {
            name = "a support service's credit and refund follow their own line types",
            period = "2026-11",
            usage = [[
service,line_type,billed,effective
AWSSupportBusiness,Fee,9.00,9.00
AWSSupportBusiness,Credit,-2.00,-2.00
AWSSupportBusiness,Refund,-1.00,-1.00
]],
            expect = {
                -- Fee: Support, pass 9; Credit: price -2 x 0.9 = -1.80;
                -- Refund: not named, the base's default for Refund: pass -1
                lines = { AWSSupportBusiness = "6.20" },
                total = "6.20",
                cost = "6.00",    -- 9 - 2 - 1
                margin = "0.20",
            },
        },
    },
}
