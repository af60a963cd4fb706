-- 19-edge-amounts.lua -- spec test: the default half-even rounding on the same 1.005 tie
-- that 15-half-up-usd.lua rounds up; a unit price with 18 significant digits times a
-- quantity with 18; a 32-digit amount with a markup; a bill below zero (credit above
-- usage) with its tax; a percent fee over net-negative sources; an empty month; a subtotal
-- past 38 digits.
--
-- Doc passages relied on:
--   docs/rules.md "How a bill is priced": 3 "Each price keeps 12 fraction digits
--     (half-even)"; 7 subtotal rounded once (half-even by default), tax on it, rounded the
--     same way; "All arithmetic is exact decimal (docs/money.md): a result that would not
--     fit 38 digits is an error ..., never a rounded guess."
--   docs/money.md: 38 significant digits; half-even "ties to the even digit"; the
--     overflow messages say "38 digits" ("more than 38 digits", "does not fit 38 digits").
--   docs/rules.md "Pass-through policy": Credit set to "pass" shows it at cost.
-- Readings chosen:
--   * A percent fee over sources that sum below zero is negative (10% of -50 is -5).
--   * The subtotal error is matched on "38 digits", the words both documented overflow
--     messages share; the docs do not give the exact text for a sum.

return rebill.plan {
    name = "spec: edge amounts",
    base = "list",
    passthrough = { Credit = "pass" },

    rebill.tax { name = "Tax", rate = 10 },
    rebill.rate { usage_type = "Micro", price = "0.000000014584511481" },
    rebill.markup { service = "BigSvc", percent = "0.5" },
    rebill.fee { name = "Neg fee", percent = 10, services = "NegSvc" },

    tests = {
        rebill.test {
            name = "two 12-digit lines summing to an exact half cent: half-even",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,0.333333333333\nAmazonS3,0.671666666667\n",
            expect = {
                lines = { AmazonEC2 = "0.333333333333", AmazonS3 = "0.671666666667" },
                subtotal = "1.00",  -- 1.005: 0 is even (half-up gives 1.01)
                tax = "0.10",
                total = "1.10",
            },
        },
        rebill.test {
            name = "an 18-digit unit price times an 18-digit quantity",
            period = "2026-11",
            usage = "service,usage_type,quantity,list\nAmazonS3,Micro,123456.789012345678,0\n",
            expect = {
                -- 123456.789012345678 x 0.000000014584511481
                --   = 0.001800556956757950191531729118 -> 12 digits: 0.001800556957
                lines = { AmazonS3 = "0.001800556957" },
                subtotal = "0.00",
                total = "0.00",
            },
        },
        rebill.test {
            name = "a 32-digit amount with a 0.5% markup",
            period = "2026-11",
            usage = "service,list\nBigSvc,12345678901234567890.123456789012\n",
            expect = {
                -- x 1.005 = 12407407295740740729.574074072957060 (35 digits, exact)
                lines = { BigSvc = "12407407295740740729.574074072957" },
                subtotal = "12407407295740740729.57",
                tax = "1240740729574074072.96",      -- 10%: ...072.957 -> .96
                total = "13648148025314814802.53",
            },
        },
        rebill.test {
            name = "a credit above usage: a negative bill and a negative tax",
            period = "2026-11",
            usage = "service,line_type,billed,list\nAmazonEC2,Usage,100.00,100.00\n"
                .. "AmazonEC2,Credit,-150.00,0\n",
            expect = {
                lines = { AmazonEC2 = "-50.00" },   -- 100 - 150
                subtotal = "-50.00",
                tax = "-5.00",
                total = "-55.00",
                price = "-50.00",
                cost = "-50.00",
                margin = "0.00",
            },
        },
        rebill.test {
            name = "a percent fee over net-negative sources",
            period = "2026-11",
            usage = "service,line_type,billed,list\nNegSvc,Usage,20.00,20.00\n"
                .. "NegSvc,Credit,-70.00,0\n",
            expect = {
                lines = { NegSvc = "-50.00", ["Neg fee"] = "-5.00" }, -- 10% x -50
                subtotal = "-55.00",
                tax = "-5.50",
                total = "-60.50",
                cost = "-50.00",
                margin = "-5.00",
            },
        },
        rebill.test {
            name = "an empty month",
            period = "2026-11",
            usage = "service,list\n",
            expect = {
                lines = {},
                subtotal = "0.00", tax = "0.00", total = "0.00",
                price = "0.00", cost = "0.00", margin = "0.00", currency = "USD",
            },
        },
        rebill.test {
            name = "a subtotal past 38 digits is an error",
            period = "2026-11",
            usage = "service,list\nAmazonEC2,60000000000000000000000000000000000000\n"
                .. "AmazonS3,60000000000000000000000000000000000000\n",
            -- each line fits (38 digits); their sum 1.2e38 needs 39
            expect_error = "38 digits",
        },
    },
}
