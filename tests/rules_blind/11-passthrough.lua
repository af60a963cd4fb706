-- 11-passthrough.lua -- blind spec test: an explicit pass-through policy that overrides the
-- defaults of base "billed" line type by line type, with "*" for the types not named.
--
-- docs/rules.md: "price" it with the rules, "pass" it at your cost untouched, "hide" it;
-- key "*" sets every type not named (so Usage must be named to stay priced); "Support" is
-- the support services' charges "except tax, credits and refunds".

return rebill.plan {
    name = "blind: explicit pass-through policy",
    base = "billed",
    passthrough = {
        Usage = "price",
        Credit = "price",
        Refund = "hide",
        Tax = "pass",
        Support = "hide",
        Fee = "pass",
        SavingsPlanNegation = "hide",
        SavingsPlanRecurringFee = "pass",
        RIFee = "price",
        EdpDiscount = "pass",
        SppDiscount = "price",
        ["*"] = "hide",
    },

    rebill.markup { percent = 10 },

    tests = {
        rebill.test {
            name = "each line type follows the policy",
            period = "2026-11",
            usage = [[
service,line_type,billed
svcUsage,Usage,100.00
svcDiscounted,DiscountedUsage,30.00
svcCredit,Credit,-10.00
svcRefund,Refund,-4.00
svcTax,Tax,6.00
AWSSupportBusiness,Fee,9.00
AWSSupportBusiness,Tax,0.90
svcFee,Fee,3.00
svcSPNeg,SavingsPlanNegation,-25.00
svcSPRec,SavingsPlanRecurringFee,20.00
svcRIFee,RIFee,8.00
svcEdp,EdpDiscount,-5.00
svcSpp,SppDiscount,-0.20
svcDist,DistributorDiscount,-0.75
svcPurchase,Purchase,7.00
]],
            expect = {
                lines = {
                    svcUsage = "110.00",          -- price: 100 x 1.1
                    svcCredit = "-11.00",         -- price: -10 x 1.1
                    svcTax = "6.00",              -- pass
                    AWSSupportBusiness = "0.90",  -- Fee line = Support: hide; Tax line: pass
                    svcFee = "3.00",              -- pass (not marked up)
                    svcSPRec = "20.00",           -- pass
                    svcRIFee = "8.80",            -- price: 8 x 1.1
                    svcEdp = "-5.00",             -- pass
                    svcSpp = "-0.22",             -- price: -0.20 x 1.1
                    -- hidden: svcDiscounted ("*"), svcRefund, svcSPNeg, svcDist ("*"),
                    --         svcPurchase ("*")
                },
                -- 110 - 11 + 6 + 0.90 + 3 + 20 + 8.80 - 5 - 0.22 = 132.48
                total = "132.48",
                -- billed of all: 100+30-10-4+6+9+0.9+3-25+20+8-5-0.2-0.75+7 = 138.95
                cost = "138.95",
                margin = "-6.47", -- 132.48 - 138.95
            },
        },
    },
}
