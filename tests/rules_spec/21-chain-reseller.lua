-- 21-chain-reseller.lua -- spec test, chain part 2 of 3: the reseller R's plan for its
-- customer C, below 20-chain-distributor.lua: markups at this level on top of D's prices,
-- a hook reading the cost D charges, a tax line D hid passed at R's cost (nothing), and a
-- month D's plan has no exchange rate for.
--
-- Doc passages relied on (docs/rules.md "Chains"):
--   "R's cost of a line of C's is the price of that line under R's plan (before that plan's
--     custom items, tax and currency)"; "base = "billed" in C's plan passes through what R
--     really pays"; "A line R's plan hides costs R nothing"; the test names the plan above
--     with `upstream`.
--   "Base": billed is, "in a chain, the price your own payer charges you".
--   "Pass-through policy": "pass shows the line at your cost".
--   "How a bill is priced" 3: a line's price is "its rule ...; then the on_line hook".
-- Readings chosen:
--   * The upstream price of a line includes the upstream on_line hook (step 3 makes the
--     hook part of the line's price).
--   * Since D's currency is not part of R's cost, a month D's plan has no exchange rate for
--     still prices R's customer.
-- (Plan files of this directory are named relative to this file.)

local FIXTURE = [[
service,usage_type,line_type,entity,billed,list
AmazonEC2,BoxUsage,Usage,AWS,1000.00,1000.00
AmazonEC2,SpotUsage,Usage,AWS,100.00,100.00
AmazonS3,Storage,Usage,AWS,200.00,200.00
prodview-m,Soft,Usage,AWS Marketplace,60.00,60.00
AmazonEC2,,Credit,AWS,-40.00,0
AmazonEC2,,Tax,AWS,30.00,0
AmazonEC2,,EdpDiscount,AWS,-25.00,0
]]

return rebill.plan {
    name = "spec chain: reseller -> customer",
    base = "billed",
    passthrough = { Tax = "pass" },

    rebill.markup { percent = 10 },
    rebill.markup { entity = "AWS Marketplace", percent = 2 },
    rebill.fee { name = "Reseller fee", amount = 20 },

    on_line = function(line)
        if line.usage_type == "SpotUsage" then return line.cost + 1 end
    end,

    tests = {
        rebill.test {
            name = "priced from the distributor's prices",
            period = "2026-11",
            upstream = "20-chain-distributor.lua",
            usage = FIXTURE,
            expect = {
                lines = {
                    -- BoxUsage: D's 950 x 1.1 = 1045; Spot: D's 101 (its hook) + 1 = 102;
                    -- credit passed at R's cost -40; tax passed at R's cost 0 (D hid it);
                    -- EDP hidden
                    AmazonEC2 = "1107.00",         -- 1045 + 102 - 40 + 0
                    AmazonS3 = "198.00",           -- D's 180 x 1.1
                    ["prodview-m"] = "58.14",      -- D's 57 x 1.02 (entity beats global)
                    ["Reseller fee"] = "20.00",
                },
                total = "1383.14",    -- 1107 + 198 + 58.14 + 20
                price = "1383.14",
                -- D's line prices, USD, no D fee/tax/EUR: 950+101+180+57-40+0(tax)+0(EDP)
                cost = "1248.00",
                margin = "135.14",    -- 1383.14 - 1248
                currency = "USD",
            },
        },
        rebill.test {
            name = "a month D's plan has no exchange rate for",
            period = "2026-12",
            upstream = "20-chain-distributor.lua",
            usage = "service,usage_type,billed,list\nAmazonEC2,BoxUsage,1000.00,1000.00\n",
            expect = {
                lines = { AmazonEC2 = "1045.00", ["Reseller fee"] = "20.00" }, -- 950 x 1.1
                total = "1065.00",
                cost = "950.00",
                margin = "115.00",
            },
        },
    },
}
