-- 11-policy-list.lua -- spec test: an explicit pass-through policy under base "list": line
-- types priced from their list figure (0 for fees, refunds and Savings Plan fees, as CUR
-- gives them), passed at cost, hidden; "*" covering the types not named (the "Support"
-- key included); the on_line hook sees priced lines only; a percent item counts priced and
-- passed lines but not hidden ones.
--
-- Doc passages relied on (docs/rules.md):
--   "Pass-through policy": keys are CUR line item types, plus "Support" ("the charges of the
--     AWS support services ... whatever their line type, except tax, credits and refunds")
--     and "*" ("every type the table does not name"); "`pass` shows the line at your cost,
--     untouched by markups and discounts. `hide` leaves it off the customer's bill; you
--     still pay it, so it counts in your cost and margin."
--   "Base": list is "the public on-demand price (CUR pricing/publicOnDemandCost ...)"; the
--     free tier applies to Usage lines with base list.
--   "The line object": on_line "is called for every line the policy prices (not for passed
--     or hidden lines), after its rule".
--   "rebill.fee": of = "usage" = "the customer's priced and passed usage lines".
-- Reading chosen: "Support" is a key of the table like the line types, so a policy with
-- "*" and no "Support" key gives support charges the "*" policy (here: pass).

return rebill.plan {
    name = "spec: explicit policy, base list",
    base = "list",
    passthrough = {
        Usage = "price",
        DiscountedUsage = "hide",
        Credit = "pass",
        Refund = "price",
        Tax = "pass",
        SavingsPlanRecurringFee = "price",
        RIFee = "pass",
        EdpDiscount = "pass",
        Fee = "price",
        ["*"] = "pass",
    },

    rebill.markup { percent = 10 },
    rebill.fee { name = "Mgmt", percent = 10 },

    on_line = function(line)
        if line.line_type == "Refund" then return line.billed end -- priced: the hook runs
        if line.line_type == "Credit" then return 999 end         -- passed: never called
        return nil
    end,

    tests = {
        rebill.test {
            name = "each line type under the explicit policy",
            period = "2026-11",
            usage = [[
service,line_type,billed,list
svcUsage,Usage,100.00,100.00
svcDisc,DiscountedUsage,30.00,50.00
svcSPCov,SavingsPlanCoveredUsage,25.00,40.00
svcCredit,Credit,-10.00,0
svcRefund,Refund,-4.00,0
svcTax,Tax,6.00,0
svcSPRec,SavingsPlanRecurringFee,20.00,0
svcRIFee,RIFee,8.00,0
svcEdp,EdpDiscount,-5.00,0
svcFee,Fee,3.00,0
AWSSupportBusiness,Fee,9.00,0
svcPurchase,Purchase,7.00,0
svcPrivate,PrivateRateDiscount,-0.50,0
]],
            expect = {
                lines = {
                    svcUsage = "110.00",          -- price: list 100 x 1.1
                    -- svcDisc: hide
                    svcSPCov = "25.00",           -- "*": pass at cost (billed), not list 40
                    svcCredit = "-10.00",         -- pass (the hook's 999 never applies)
                    svcRefund = "-4.00",          -- price: list 0 x 1.1 = 0; hook: billed -4
                    svcTax = "6.00",              -- pass
                    svcSPRec = "0.00",            -- price: list 0 x 1.1
                    svcRIFee = "8.00",            -- pass
                    svcEdp = "-5.00",             -- pass
                    svcFee = "0.00",              -- price: list 0 x 1.1
                    AWSSupportBusiness = "9.00",  -- Support -> "*": pass
                    svcPurchase = "7.00",         -- "*": pass
                    svcPrivate = "-0.50",         -- "*": pass
                    -- usage: 110 + 25 - 10 - 4 + 6 + 0 + 8 - 5 + 0 + 9 + 7 - 0.50 = 145.50
                    Mgmt = "14.55",               -- 10% x 145.50 (hidden svcDisc not counted)
                },
                subtotal = "160.05",  -- 145.50 + 14.55
                total = "160.05",
                price = "160.05",
                -- every billed: 100+30+25-10-4+6+20+8-5+3+9+7-0.5 = 188.50
                cost = "188.50",
                margin = "-28.45",    -- 160.05 - 188.50
            },
        },
        rebill.test {
            name = "free tier under an explicit policy; an unknown type under \"*\"",
            period = "2026-11",
            usage = [[
service,line_type,billed,list
svcUsage,Usage,4.00,10.00
svcFuture,FutureType,0.40,0
]],
            expect = {
                lines = {
                    svcUsage = "4.40",    -- billed 4 below list 10: base 4, x 1.1
                    svcFuture = "0.40",   -- "*": pass at cost
                    Mgmt = "0.48",        -- 10% x 4.80
                },
                total = "5.28",
                cost = "4.40",
                margin = "0.88",
            },
        },
    },
}
