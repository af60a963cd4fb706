-- 18-helpers.lua -- blind spec test: the shipped helper modules rebill.sheet, rebill.support
-- and rebill.vat, as docs/rules.md describes them.
--
-- Figures used from the docs only: sku_discounts gives a service+usage_type scope (which
-- beats the service discount); Business support's minimum is 100 and its first tier 10%
-- (the worked example: "10% of 236.358 is below the minimum" -> 100.00); the fee is named
-- "Business support". HU's standard VAT rate (27%, as of 2025-08) is public knowledge.

local sheet = require("rebill.sheet")
local support = require("rebill.support")
local vat = require("rebill.vat")

return rebill.plan {
    name = "blind: helpers",
    base = "list",

    sheet.discounts { AmazonEC2 = 12, AmazonS3 = "5" },
    sheet.sku_discounts("AmazonEC2", { ["BoxUsage:m5.large"] = 20 }),
    sheet.markups { AmazonCloudFront = 2.5 },
    support.fee("business", { line_types = { "Usage" } }),
    vat.tax("HU"),

    tests = {
        rebill.test {
            name = "sheet discounts, SKU override, support above its minimum, VAT HU",
            period = "2026-11",
            usage = [[
service,usage_type,list
AmazonEC2,BoxUsage:m5.large,1000.00
AmazonEC2,BoxUsage:c5.xlarge,2000.00
AmazonS3,TimedStorage-ByteHrs,500.00
AmazonCloudFront,DataTransfer-Out-Bytes,400.00
AWSLambda,Request,100.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "2560.00",        -- 1000 x 0.80 + 2000 x 0.88 = 800 + 1760
                    AmazonS3 = "475.00",          -- 500 x 0.95
                    AmazonCloudFront = "410.00",  -- 400 x 1.025
                    AWSLambda = "100.00",         -- no rule
                    -- 10% x 3545 = 354.50 (above the 100 minimum)
                    ["Business support"] = "354.50",
                },
                subtotal = "3899.50",  -- 3545 + 354.50
                tax = "1052.86",       -- 27% x 3899.50 = 1052.865, half-even -> 1052.86
                total = "4952.36",
            },
        },
        rebill.test {
            name = "support at its minimum",
            period = "2026-11",
            usage = "service,usage_type,list\nAmazonEC2,BoxUsage:c5.xlarge,100.00\n",
            expect = {
                lines = { AmazonEC2 = "88.00", ["Business support"] = "100.00" }, -- 10% = 8.80
                subtotal = "188.00",
                tax = "50.76",   -- 27% x 188
                total = "238.76",
            },
        },
    },
}
