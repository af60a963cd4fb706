-- 13-currency-tax.lua -- spec test: conversion into the invoice currency line by line at 12
-- digits, then one rounding of the subtotal, then tax on the rounded subtotal (half-even);
-- flat items and on_invoice lines are in the usage currency and converted too; a negative
-- bill; a tax tie; a month without a rate.
--
-- Doc passages relied on (docs/rules.md):
--   "How a bill is priced" 6-7: "Each amount is converted at the month's rate (12 fraction
--     digits)"; "The subtotal is the sum of the converted amounts, rounded once to the
--     currency's minor unit with the plan's rounding (half-even by default). Tax is the rate
--     applied to that subtotal, rounded the same way. Total = subtotal + tax."
--   "Amounts in the plan (flat fees, minimums, commitments, rates) are in the usage
--     currency; conversion applies to the whole invoice."
--   "The invoice object": amounts "are in the usage currency, before conversion and tax".
--   "rebill.currency": "A month without a rate is an error (no exchange rate USD -> EUR for
--     2026-12)".
--   "Testing": price, cost, margin are "the partner's (usage currency)".
-- Reading chosen: the 12-digit conversion of each amount rounds half-even (the mode the docs
-- give for the 12 kept digits of a price); test 3 depends on it.

return rebill.plan {
    name = "spec: EUR, VAT 21%",
    base = "list",

    rebill.tax { name = "BTW", rate = 21 },
    rebill.currency { code = "EUR",
                      rates = { ["2026-01"] = "0.9", ["2026-02"] = "0.923456789",
                                ["2026-03"] = "0.5" } },
    rebill.fee { name = "Platform", amount = 10 },  -- USD

    on_invoice = function(invoice)
        if invoice.customer == "o-eurgoodwill" then
            invoice:add { name = "Goodwill", amount = -10 } -- USD
        end
    end,

    tests = {
        rebill.test {
            name = "January: convert, sum, round once, tax",
            period = "2026-01",
            usage = "service,list\nAmazonEC2,100.005\nAmazonS3,0.01\n",
            expect = {
                lines = {
                    AmazonEC2 = "90.0045",  -- 100.005 x 0.9
                    AmazonS3 = "0.009",     -- 0.01 x 0.9
                    Platform = "9.00",      -- 10 USD x 0.9
                },
                subtotal = "99.01",  -- 99.0135
                tax = "20.79",       -- 21% x 99.01 = 20.7921
                total = "119.80",
                currency = "EUR",
                price = "110.02",    -- USD 100.005 + 0.01 + 10 = 110.015 (half-even 110.02)
                cost = "100.02",     -- USD 100.015 (half-even 100.02)
                margin = "10.00",
            },
        },
        rebill.test {
            name = "February: a rate with nine digits",
            period = "2026-02",
            usage = "service,list\nAmazonEC2,1000.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "923.456789",  -- 1000 x 0.923456789
                    Platform = "9.23456789",   -- 10 x 0.923456789
                },
                subtotal = "932.69",   -- 932.69135689
                tax = "195.86",        -- 21% x 932.69 = 195.8649
                total = "1128.55",
                currency = "EUR",
            },
        },
        rebill.test {
            name = "March: each amount converted to 12 digits before the sum",
            period = "2026-03",
            usage = "service,list\nAmazonEC2,0.010000000001\n",
            expect = {
                lines = {
                    -- 0.010000000001 x 0.5 = 0.0050000000005 -> 12 digits, half-even:
                    -- 0.005000000000 (converting the unrounded sum would give 5.0050000000005)
                    AmazonEC2 = "0.005000000000",
                    Platform = "5.00",
                },
                subtotal = "5.00",   -- 5.005 exactly: half-even -> 5.00
                tax = "1.05",        -- 21% x 5.00
                total = "6.05",
                currency = "EUR",
            },
        },
        rebill.test {
            name = "March: a tax tie rounds to even",
            period = "2026-03",
            usage = "service,list\nAmazonEC2,11.00\n",
            expect = {
                lines = { AmazonEC2 = "5.50", Platform = "5.00" },
                subtotal = "10.50",
                tax = "2.20",        -- 21% x 10.50 = 2.205 -> half-even 2.20
                total = "12.70",
                currency = "EUR",
            },
        },
        rebill.test {
            name = "January: a negative bill converts and taxes negative",
            period = "2026-01",
            usage = "service,billed,list\nAmazonEC2,-20.00,-20.00\n",
            expect = {
                lines = { AmazonEC2 = "-18.00", Platform = "9.00" },
                subtotal = "-9.00",
                tax = "-1.89",       -- 21% x -9.00
                total = "-10.89",
                currency = "EUR",
            },
        },
        rebill.test {
            name = "January: an on_invoice line is in USD and converted",
            period = "2026-01",
            customer = "o-eurgoodwill",
            usage = "service,list\nAmazonEC2,100.00\n",
            expect = {
                lines = { AmazonEC2 = "90.00", Platform = "9.00", Goodwill = "-9.00" },
                subtotal = "90.00",
                tax = "18.90",
                total = "108.90",
                currency = "EUR",
                price = "100.00",    -- USD: 100 + 10 - 10
                cost = "100.00",
                margin = "0.00",
            },
        },
        rebill.test {
            name = "April has no rate",
            period = "2026-04",
            usage = "service,list\nAmazonEC2,100.00\n",
            expect_error = "no exchange rate USD -> EUR for 2026-04",
        },
    },
}
