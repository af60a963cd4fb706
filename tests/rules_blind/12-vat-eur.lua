-- 12-vat-eur.lua -- blind spec test: tax by the customer's country (rates + country) and an
-- invoice currency converted at the month's stored rate.
--
-- docs/rules.md: "Each amount is converted at the month's rate (12 fraction digits)"; "The
-- subtotal is the sum of the converted amounts, rounded once to the currency's minor unit
-- with the plan's rounding (half-even by default). Tax is the rate applied to that
-- subtotal, rounded the same way"; "A month without a rate is an error
-- (no exchange rate USD -> EUR for 2026-12)"; price/cost/margin are in the usage currency.

return rebill.plan {
    name = "blind: VAT FR, EUR",
    base = "list",

    rebill.tax { name = "VAT", rates = { DE = "19", FR = "20", CH = "8.1" }, country = "FR" },
    rebill.currency { code = "EUR", rates = { ["2026-10"] = "0.9", ["2026-11"] = 0.85 } },

    tests = {
        rebill.test {
            name = "November at 0.85, VAT 20% on the rounded subtotal",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,1000.00\nAmazonS3,123.45\n",
            expect = {
                lines = {
                    AmazonEC2 = "850.00",      -- 1000 x 0.85
                    AmazonS3 = "104.9325",     -- 123.45 x 0.85
                },
                subtotal = "954.93",   -- 954.9325
                tax = "190.99",        -- 20% x 954.93 = 190.986
                total = "1145.92",     -- 954.93 + 190.99
                currency = "EUR",
                price = "1123.45",     -- USD: 1000 + 123.45
                cost = "1123.45",      -- billed defaults to list
                margin = "0.00",
            },
        },
        rebill.test {
            name = "October at 0.9: the converted subtotal is a half-cent tie",
            period = "2026-10",
            usage = "service,list\nAmazonEC2,1000.00\nAmazonS3,123.45\n",
            expect = {
                lines = { AmazonEC2 = "900.00", AmazonS3 = "111.105" }, -- 123.45 x 0.9
                subtotal = "1011.10",  -- 1011.105, half-even: 0 is even -> 1011.10
                tax = "202.22",        -- 20% x 1011.10
                total = "1213.32",
                currency = "EUR",
            },
        },
        rebill.test {
            name = "December has no rate: an error, not a guess",
            period = "2026-12",
            usage = "service,list\nAmazonEC2,1000.00\n",
            expect_error = "no exchange rate USD -> EUR for 2026-12",
        },
    },
}
