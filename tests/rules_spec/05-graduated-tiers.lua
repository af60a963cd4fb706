-- 05-graduated-tiers.lua -- spec test: graduated ladders (rebill.tiered, volume = false) at
-- exact tier boundaries, split over lines of several accounts, the order the lines climb the
-- ladder in (account, service, usage type, operation, region, line type, entity), a
-- service-scoped ladder beside an unscoped one for the same usage type, and fractional
-- quantities whose price needs the 12 kept digits.
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.tiered": "A ladder over the month's total quantity of usage_type ..., all the
--     customer's accounts and regions together"; "graduated, each part of the quantity at
--     its own tier's price"; "Graduated tiers are priced line after line in the order of the
--     lines' dimensions (account, service, usage type, operation, region, line type, billing
--     entity), whatever order a fixture or a caller gives them in"; "the month's total is
--     exactly the ladder's price of the total quantity".
--   "Rules and scopes": usage_type + service (level 3) beats usage_type (level 4); "rates
--     and tiers price the line's quantity and ignore the base".
--   "How a bill is priced" 3: "Each price keeps 12 fraction digits (half-even)".
--   "The line object": `price` is "the price the rules gave" (used by a probe hook below).
-- Readings chosen:
--   * "in the order of the lines' dimensions" = ascending, compared field by field in the
--     listed order, each text compared byte by byte ("DiscountedUsage" < "Usage",
--     "ap-south-1" < "us-east-1").
--   * The per-line split is made visible with a probe: on_line records the price the rules
--     gave each line of account 333333333333 and on_invoice adds it back as a line named
--     after the line's operation, region and line type (so those lines count twice).
--
-- Ladder L (DataTransfer-Out-Bytes, any service but CloudFront):
--   0..10 at 0.09, 10..50 at 0.085, above 50 at 0.07.
-- Ladder C (AmazonCloudFront only): 0..10 at 0.085, above at 0.08.

local seen = {}

return rebill.plan {
    name = "spec: graduated tiers",
    base = "list",

    rebill.tiered {
        usage_type = "DataTransfer-Out-Bytes",
        tiers = { { upto = 10, price = "0.09" }, { upto = 50, price = "0.085" },
                  { price = "0.07" } },
    },
    rebill.tiered {
        service = "AmazonCloudFront", usage_type = "DataTransfer-Out-Bytes",
        tiers = { { upto = 10, price = "0.085" }, { price = "0.08" } },
    },

    on_line = function(line)
        if line.account == "333333333333" then
            seen[line.operation .. " " .. line.region .. " " .. line.line_type] = line.price
        end
        return nil
    end,

    on_invoice = function(invoice)
        for key, price in pairs(seen) do
            invoice:add { name = "probe " .. key, amount = price }
        end
        seen = {}
    end,

    tests = {
        rebill.test {
            name = "one line exactly at the first upto, the next line starts in tier 2",
            period = "2026-11",
            usage = [[
account,service,usage_type,quantity,list
222222222222,AmazonEC2,DataTransfer-Out-Bytes,45,99.00
111111111111,AmazonS3,DataTransfer-Out-Bytes,10,99.00
]],
            expect = {
                lines = {
                    -- account 111 climbs first: 0..10 at 0.09 = 0.90
                    AmazonS3 = "0.90",
                    -- account 222: 10..50 at 0.085 = 3.40, 50..55 at 0.07 = 0.35
                    -- (service order would have put EC2 first: 3.875 and 0.775)
                    AmazonEC2 = "3.75",
                },
                total = "4.65", -- ladder of 55: 0.90 + 3.40 + 0.35
            },
        },
        rebill.test {
            name = "a CloudFront ladder beside the unscoped one: separate totals",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,list
AmazonEC2,DataTransfer-Out-Bytes,30,99.00
AmazonCloudFront,DataTransfer-Out-Bytes,30,99.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "2.60",         -- ladder L alone: 10 x 0.09 + 20 x 0.085
                    AmazonCloudFront = "2.45",  -- ladder C: 10 x 0.085 + 20 x 0.08
                },
                total = "5.05",
            },
        },
        rebill.test {
            name = "operation, then region, then line type order the climb",
            period = "2026-11",
            usage = [[
account,service,usage_type,operation,region,line_type,quantity,list
333333333333,AmazonEC2,DataTransfer-Out-Bytes,Op-B,eu-west-1,Usage,8,1
333333333333,AmazonEC2,DataTransfer-Out-Bytes,Op-A,us-east-1,Usage,8,1
333333333333,AmazonEC2,DataTransfer-Out-Bytes,Op-B,eu-west-1,DiscountedUsage,4,1
333333333333,AmazonEC2,DataTransfer-Out-Bytes,Op-A,ap-south-1,Usage,40,1
]],
            expect = {
                lines = {
                    -- order: Op-A ap-south-1 (40), Op-A us-east-1 (8),
                    --        Op-B eu-west-1 DiscountedUsage (4), Op-B eu-west-1 Usage (8)
                    ["probe Op-A ap-south-1 Usage"] = "3.45",  -- 10 x 0.09 + 30 x 0.085
                    ["probe Op-A us-east-1 Usage"] = "0.68",   -- 40..48: 8 x 0.085
                    ["probe Op-B eu-west-1 DiscountedUsage"] = "0.31", -- 2 x .085 + 2 x .07
                    ["probe Op-B eu-west-1 Usage"] = "0.56",   -- 52..60: 8 x 0.07
                    AmazonEC2 = "5.00",  -- ladder of 60: 0.90 + 3.40 + 0.70
                },
                total = "10.00", -- 5.00 + the probes' 5.00
            },
        },
        rebill.test {
            name = "fractional quantities across a boundary keep 12 digits",
            period = "2026-11",
            usage = [[
account,service,usage_type,quantity,list
111111111111,AmazonEC2,DataTransfer-Out-Bytes,10.5,1
222222222222,AmazonS3,DataTransfer-Out-Bytes,1.845678901234,1
]],
            expect = {
                lines = {
                    AmazonEC2 = "0.942500000000", -- 10 x 0.09 + 0.5 x 0.085 = 0.9 + 0.0425
                    -- 1.845678901234 x 0.085 = 0.15688270660489 -> 12 digits 0.156882706605
                    AmazonS3 = "0.156882706605",
                },
                -- 0.9425 + 0.15688270660489 = 1.09938270660489 (ladder of 12.345678901234)
                total = "1.10",
            },
        },
        rebill.test {
            name = "one line through every tier, at the second upto exactly",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonEC2,DataTransfer-Out-Bytes,50,1\n",
            expect = {
                lines = { AmazonEC2 = "4.30" }, -- 10 x 0.09 + 40 x 0.085 = 0.90 + 3.40
                total = "4.30",
            },
        },
    },
}
