-- 20-chain-distributor.lua -- spec test, chain part 1 of 3: the distributor D's plan for the
-- reseller R, with a service discount under a global one, a hook, a hidden tax, a custom
-- item, its own tax and an invoice currency. 21-chain-reseller.lua and
-- 22-chain-customer.lua name this file as upstream; none of D's custom item, tax or
-- currency may reach R's cost.
--
-- Doc passages relied on (docs/rules.md):
--   "Chains": "At the top of the chain the cost is AWS's billed cost."
--   "Base": billed; "Rules and scopes"; "Pass-through policy" (billed defaults: Credit
--     pass, EdpDiscount hide; here Tax set to hide); hidden lines count in cost.
--   "The line object": `cost` "what you pay for the line (billed, ...)".
--   "How a bill is priced" 6-7 (conversion, tax); "Testing": price, cost, margin in the
--     usage currency.

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
    name = "spec chain: distributor -> reseller",
    base = "billed",
    passthrough = { Tax = "hide" },

    rebill.discount { percent = 5 },
    rebill.discount { service = "AmazonS3", percent = 10 },
    rebill.fee { name = "Dist platform", amount = 50 },
    rebill.tax { name = "VAT", rate = 20 },
    rebill.currency { code = "EUR", rates = { ["2026-11"] = "0.9" } },

    on_line = function(line)
        if line.usage_type == "SpotUsage" then return line.cost * "1.01" end
    end,

    tests = {
        rebill.test {
            name = "the reseller's bill from the distributor",
            period = "2026-11",
            usage = FIXTURE,
            expect = {
                lines = {
                    -- USD: BoxUsage 1000 x 0.95 = 950; Spot: hook 100 x 1.01 = 101;
                    -- credit passed -40; tax and EDP hidden -> 1011 USD x 0.9
                    AmazonEC2 = "909.90",
                    AmazonS3 = "162.00",           -- 200 x 0.90 = 180 USD x 0.9
                    ["prodview-m"] = "51.30",      -- 60 x 0.95 = 57 USD x 0.9
                    ["Dist platform"] = "45.00",   -- 50 USD x 0.9
                },
                subtotal = "1168.20",  -- 909.90 + 162 + 51.30 + 45
                tax = "233.64",        -- 20%
                total = "1401.84",
                currency = "EUR",
                price = "1298.00",     -- USD: 1011 + 180 + 57 + 50
                cost = "1325.00",      -- AWS billed: 1000+100+200+60-40+30-25
                margin = "-27.00",
            },
        },
    },
}
