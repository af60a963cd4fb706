-- 14-half-up-kwd.lua -- spec test: rounding = "half_up" in a currency with three minor
-- digits (KWD): exact half ties of the subtotal and of the tax at the third digit, negative
-- ties (away from zero), and a plain month.
--
-- Doc passages relied on:
--   docs/rules.md "How a bill is priced" 6-7 (convert, round the subtotal once to the
--     currency's minor unit with the plan's rounding, tax on that, rounded the same way);
--     "rebill.plan": rounding "half_even", "half_up".
--   docs/money.md "Currency minor units": KWD has 3 digits; "Rounding modes": HALF_UP is
--     "nearest; ties away from zero" (-0.125 -> -0.13 at 2 digits).
--   docs/rules.md "Testing": amounts are compared at the scale written, at least cents.

return rebill.plan {
    name = "spec: half-up, KWD",
    base = "list",
    rounding = "half_up",

    rebill.tax { name = "VAT", rate = 5 },
    rebill.currency { code = "KWD", rates = { ["2026-01"] = "0.5", ["2026-02"] = "0.307" } },

    tests = {
        rebill.test {
            name = "a subtotal tie at the third digit rounds up",
            period = "2026-01",
            usage = "service,list\nAmazonEC2,0.661\n",
            expect = {
                lines = { AmazonEC2 = "0.3305" },  -- 0.661 x 0.5
                subtotal = "0.331",   -- half-up (half-even would give 0.330)
                tax = "0.017",        -- 5% x 0.331 = 0.01655 -> 0.017
                total = "0.348",
                currency = "KWD",
            },
        },
        rebill.test {
            name = "a tax tie at the third digit rounds up",
            period = "2026-01",
            usage = "service,list\nAmazonEC2,0.66\n",
            expect = {
                subtotal = "0.330",   -- 0.66 x 0.5
                tax = "0.017",        -- 5% x 0.330 = 0.0165 -> half-up 0.017 (half-even 0.016)
                total = "0.347",
                currency = "KWD",
            },
        },
        rebill.test {
            name = "negative ties round away from zero",
            period = "2026-01",
            usage = "service,billed,list\nAmazonEC2,-0.661,-0.661\n",
            expect = {
                subtotal = "-0.331",  -- -0.3305
                tax = "-0.017",       -- -0.01655
                total = "-0.348",
                currency = "KWD",
            },
        },
        rebill.test {
            name = "February: three digits shown even when they are zeros",
            period = "2026-02",
            usage = "service,list\nAmazonEC2,1000.00\n",
            expect = {
                lines = { AmazonEC2 = "307.000" }, -- 1000 x 0.307
                subtotal = "307.000",
                tax = "15.350",       -- 5% x 307
                total = "322.350",
                currency = "KWD",
                price = "1000.00",    -- USD
            },
        },
    },
}
