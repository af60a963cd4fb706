-- 17-edge-cases.lua -- blind spec test: zero quantities, negative amounts, amounts near the
-- 38-digit limit (and past it), CUR-style exponents and many decimals, currencies, and the
-- fixture defaults.
--
-- docs/rules.md: "All arithmetic is exact decimal: a result that would not fit 38 digits is
-- an error naming the line, never a rounded guess"; "Usage in two currencies is refused";
-- fixture defaults: quantity 0, "billed and list default to each other". docs/money.md:
-- "9.984E-7" is 0.0000009984.

return rebill.plan {
    name = "blind: edge cases",
    base = "list",

    rebill.markup { service = "OverflowSvc", percent = 1 },
    rebill.rate { usage_type = "BigRate", price = "10000000000000000000" },  -- 1e19
    rebill.rate { usage_type = "TinyRate", price = "0.023" },

    tests = {
        rebill.test {
            name = "zero quantity and zero amounts",
            usage = [[
service,usage_type,quantity,billed,list
AmazonEC2,BoxUsage:m5.large,0,0,0
AmazonS3,TinyRate,0,5.00,5.00
]],
            expect = {
                lines = { AmazonEC2 = "0.00", AmazonS3 = "0.00" }, -- 0 list; 0 x 0.023
                total = "0.00",
                cost = "5.00",
                margin = "-5.00",
            },
        },
        rebill.test {
            name = "negative usage amounts",
            usage = "service,billed,list\nAmazonEC2,-5.00,-5.00\nAmazonS3,3.00,3.00\n",
            expect = {
                lines = { AmazonEC2 = "-5.00", AmazonS3 = "3.00" },
                total = "-2.00",
                cost = "-2.00",
                margin = "0.00",
            },
        },
        rebill.test {
            name = "large amounts that fit",
            usage = [[
service,billed,list
AmazonEC2,123456789012345678901234.56,123456789012345678901234.56
AmazonS3,876543210987654321098765.44,876543210987654321098765.44
]],
            expect = {
                lines = {
                    AmazonEC2 = "123456789012345678901234.56",
                    AmazonS3 = "876543210987654321098765.44",
                },
                total = "1000000000000000000000000.00", -- .56 + .44 = 1; 999...9 (24) + 1
                cost = "1000000000000000000000000.00",
                margin = "0.00",
            },
        },
        rebill.test {
            name = "a markup past 38 digits is an error naming the line",
            usage = "service,list\nOverflowSvc,99999999999999999999999999999999999999\n",
            -- 38 nines x 1.01 = 100999...98.99: 39 integer digits
            expect_error = "(pricing account 111111111111, service OverflowSvc",
        },
        rebill.test {
            name = "a rate x quantity past 38 digits is an error naming the line",
            usage = "service,usage_type,quantity,list\nBigSvc,BigRate,100000000000000000000,1\n",
            -- 1e19 x 1e20 = 1e39: 40 digits
            expect_error = "(pricing account 111111111111, service BigSvc, usage type BigRate)",
        },
        rebill.test {
            name = "exponents and many decimals",
            usage = [[
service,usage_type,quantity,billed,list
svcTiny,TinyRate,9.984E-7,0,0
AmazonS3,TimedStorage-ByteHrs,1,9.984E-7,9.984E-7
AmazonEC2,BoxUsage:m5.large,1,-1.4584511481E-8,-1.4584511481E-8
]],
            expect = {
                lines = {
                    -- 0.0000009984 x 0.023 = 0.0000000229632 -> 12 digits 0.000000022963
                    svcTiny = "0.000000022963",
                    AmazonS3 = "0.0000009984",           -- list as is
                    -- -0.000000014584511481 -> 12 digits: -0.000000014585 (...4|511 rounds up)
                    AmazonEC2 = "-0.000000014585",
                },
                total = "0.00",
            },
        },
        rebill.test {
            name = "usage in two currencies is refused",
            usage = "service,currency,list\nAmazonEC2,USD,1.00\nAmazonS3,EUR,1.00\n",
            expect_error = "two currencies", -- docs: "Usage in two currencies is refused"
        },
        rebill.test {
            name = "usage in one other currency and no currency rule: invoiced in it",
            usage = "service,currency,list\nAmazonEC2,EUR,10.00\n",
            expect = { lines = { AmazonEC2 = "10.00" }, total = "10.00", currency = "EUR" },
        },
        rebill.test {
            name = "fixture defaults: list from billed, billed from list",
            usage = "service,billed\nAmazonEC2,4.20\n",
            expect = { lines = { AmazonEC2 = "4.20" }, total = "4.20", cost = "4.20",
                       margin = "0.00" },
        },
        rebill.test {
            name = "fixture defaults: billed from list",
            usage = "service,list\nAmazonS3,1.10\n",
            expect = { lines = { AmazonS3 = "1.10" }, cost = "1.10", margin = "0.00" },
        },
    },
}
