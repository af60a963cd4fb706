-- 01-list-defaults.lua -- blind spec test: base = "list" and its default pass-through policy.
--
-- Written from docs/rules.md alone ("Base", "Pass-through policy" table, free tier).
-- Every amount below is computed by hand; the arithmetic is in the comments.
--
-- The fixture has one service per line type, so each line's fate (priced, passed, hidden)
-- is visible as its own group. With base "list" the doc's table says: Usage,
-- DiscountedUsage and SavingsPlanCoveredUsage are priced (at list); every other type is
-- hidden. "Support" means the AWS support services whatever their line type, so the
-- AWSDeveloperSupport line typed Usage is hidden too.

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
    name = "blind: list base, defaults",
    base = "list",

    tests = {
        rebill.test {
            name = "default policy of base list over every line type",
            period = "2026-11",
            usage = FIXTURE,
            expect = {
                lines = {
                    svcUsage = "100.00",      -- list 100.00
                    svcDiscounted = "50.00",  -- list 50.00 (free tier is for Usage lines only)
                    svcSPCovered = "40.00",   -- list 40.00
                },
                subtotal = "190.00",          -- 100 + 50 + 40
                tax = "0.00",                 -- no tax in the plan
                total = "190.00",
                price = "190.00",
                -- cost = every line's billed, hidden ones too:
                -- +100 +30 +25 +12 +3 +20 +8 +6 +2 +7 +9 +1.5 +0.4 = 223.90
                -- -25 -10 -4 -1 -5 -0.5 -0.25 -0.75 = -46.50  -> 177.40
                cost = "177.40",
                margin = "12.60",             -- 190.00 - 177.40
                currency = "USD",
            },
        },
        rebill.test {
            name = "free tier: Usage billed below list starts from billed",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AWSLambda,Request,Usage,1000000,0,0.20
AmazonEC2,BoxUsage:t3.micro,Usage,744,5.00,8.00
AmazonS3,TimedStorage-ByteHrs,Usage,100,3.00,2.00
AmazonEC2,BoxUsage:m5.large,DiscountedUsage,720,1.00,4.00
]],
            expect = {
                lines = {
                    AWSLambda = "0.00",   -- billed 0 < list 0.20: free tier, 0
                    AmazonEC2 = "9.00",   -- Usage 5.00 (billed < list 8) + Discounted at list 4
                    AmazonS3 = "2.00",    -- billed 3 is above list 2: list
                },
                total = "11.00",          -- 0 + 9 + 2
                cost = "9.00",            -- 0 + 5 + 3 + 1
                margin = "2.00",          -- 11 - 9
            },
        },
        rebill.test {
            name = "a month with only hidden lines is an empty bill that still costs",
            period = "2026-11",
            usage = "service,line_type,billed\nAmazonEC2,Tax,15.00\nAmazonEC2,Credit,-10.00\n",
            expect = {
                lines = {},
                total = "0.00",
                cost = "5.00",            -- 15 - 10, both hidden but paid
                margin = "-5.00",         -- 0 - 5
            },
        },
    },
}
