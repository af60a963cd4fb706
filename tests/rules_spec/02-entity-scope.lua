-- 02-entity-scope.lua -- spec test: billing-entity scope against service, SKU and global
-- scope under base "billed"; passed lines untouched by the entity markup; an item filtered
-- by entity on top of entity-scoped prices.
--
-- Doc passages relied on (docs/rules.md):
--   "Rules and scopes" (levels 3..7; "exactly one rule prices a line").
--   "Base": billed = "what you are billed for the line".
--   "Pass-through policy": base billed passes Credit and Tax, hides EdpDiscount; "pass shows
--     the line at your cost, untouched by markups and discounts"; hidden lines still count
--     in cost.
--   "rebill.fee": `entities` filters the usage lines counted; sources default to "usage"
--     ("the customer's priced and passed usage lines").

return rebill.plan {
    name = "spec: entity scope",
    base = "billed",

    rebill.discount { percent = 5 },                                   -- global
    rebill.markup { entity = "AWS", percent = 10 },                    -- entity AWS
    rebill.markup { entity = "AWS Marketplace", percent = 3 },         -- entity Marketplace
    rebill.discount { service = "AmazonS3", percent = 0 },             -- service beats entity
    rebill.discount { usage_type = "SoftwareUsage", percent = 1 },     -- SKU beats entity

    rebill.fee { name = "Marketplace handling", percent = 2, entities = "AWS Marketplace" },

    tests = {
        rebill.test {
            name = "entity AWS, entity Marketplace, other entity falls to global",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,entity,billed
AmazonEC2,BoxUsage,Usage,AWS,100.00
AmazonEC2,BoxUsage,Usage,Amazon Web Services EMEA SARL,40.00
AmazonEC2,,Credit,AWS,-10.00
AmazonEC2,,Tax,AWS,8.00
AmazonEC2,,EdpDiscount,AWS,-6.00
AmazonS3,TimedStorage,Usage,AWS,200.00
prodview-x,Subscription,Usage,AWS Marketplace,50.00
]],
            expect = {
                lines = {
                    -- 100 x 1.10 = 110; EMEA SARL: no entity rule, global 40 x 0.95 = 38;
                    -- credit and tax passed at cost (-10, +8); EDP hidden
                    AmazonEC2 = "146.00",          -- 110 + 38 - 10 + 8
                    AmazonS3 = "200.00",           -- service 0% beats entity AWS +10%
                    ["prodview-x"] = "51.50",      -- entity Marketplace: 50 x 1.03
                    ["Marketplace handling"] = "1.03", -- 2% x 51.50
                },
                subtotal = "398.53",  -- 146 + 200 + 51.50 + 1.03
                total = "398.53",
                price = "398.53",
                cost = "382.00",      -- 100 + 40 - 10 + 8 - 6 + 200 + 50
                margin = "16.53",     -- 398.53 - 382
            },
        },
        rebill.test {
            name = "a Marketplace SKU rule beats the Marketplace entity rule",
            period = "2026-11",
            usage = [[
service,usage_type,entity,billed
prodview-y,SoftwareUsage,AWS Marketplace,300.00
prodview-z,Subscription,AWS Marketplace,100.00
]],
            expect = {
                lines = {
                    ["prodview-y"] = "297.00",          -- SKU level 4: 300 x 0.99
                    ["prodview-z"] = "103.00",          -- entity: 100 x 1.03
                    ["Marketplace handling"] = "8.00",  -- 2% x (297 + 103)
                },
                total = "408.00",   -- 297 + 103 + 8
                cost = "400.00",
                margin = "8.00",
            },
        },
    },
}
