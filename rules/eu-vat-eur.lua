-- eu-vat-eur.lua -- a German customer invoiced in euros with German VAT.
--
-- Prices are computed in the usage currency (USD), then converted at the rate stored here
-- for the billing period: the rates are part of the rule file, and the file is stored with
-- the plan, so a month re-priced later uses the same rate. A month without a rate is an
-- error, never a guess. VAT is computed on the converted, rounded subtotal.

local vat = require("rebill.vat")

return rebill.plan {
    name = "EU customer: list + 5%, EUR, VAT DE",
    base = "list",

    rebill.markup { percent = 5 },
    vat.tax("DE"), -- rebill.tax { name = "VAT", rate = "19" }
    rebill.currency {
        code = "EUR",
        rates = { -- EUR per USD, ECB reference rate of the last working day of the month
            ["2026-10"] = "0.8612",
            ["2026-11"] = "0.8655",
        },
    },

    tests = {
        rebill.test {
            name = "converted at November's rate, VAT on the subtotal",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,1000.00\nAmazonS3,200.00\n",
            expect = {
                lines = {
                    AmazonEC2 = "908.78", -- 1000 x 1.05 = 1050 USD x 0.8655 = 908.775 EUR
                    AmazonS3 = "181.76",  -- 200 x 1.05 = 210 USD x 0.8655 = 181.755 EUR
                },
                subtotal = "1090.53", -- 908.775 + 181.755
                tax = "207.20",       -- 19% of 1090.53 = 207.2007
                total = "1297.73",
                currency = "EUR",
                margin = "60.00",     -- partner view, USD: 1260 - 1200
            },
        },
        rebill.test {
            name = "no rate for December: an error, not a guess",
            period = "2026-12",
            usage = "service,list\nAmazonEC2,1000.00\n",
            expect_error = "no exchange rate USD -> EUR for 2026-12",
        },
    },
}
