-- 10-periods.lua -- blind spec test: when custom items are in force: `period` (one month),
-- `from`/`to` (inclusive, either may be left out), `every` (with from: every n-th month),
-- tested inside, at both edges and outside.

local USAGE = "service,list\nAmazonEC2,100.00\n"

return rebill.plan {
    name = "blind: item periods",
    base = "list",

    rebill.fee { name = "Onboarding", amount = 1000, period = "2026-03" },
    rebill.fee { name = "Campaign", amount = 100, from = "2026-03", to = "2026-06" },
    rebill.fee { name = "Quarterly review", amount = 30, from = "2026-01", every = 3 },
    rebill.credit { name = "Launch credit", amount = 20, to = "2026-02" },
    rebill.fee { name = "New platform", amount = 7, from = "2026-06" },
    rebill.commitment { name = "April commitment", amount = 500, period = "2026-04" },

    tests = {
        rebill.test {
            name = "2025-12: only the open-start credit",
            period = "2025-12", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Launch credit"] = "-20.00" },
                total = "80.00",
            },
        },
        rebill.test {
            name = "2026-01: quarterly starts, credit",
            period = "2026-01", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Quarterly review"] = "30.00",
                          ["Launch credit"] = "-20.00" },
                total = "110.00", -- 100 + 30 - 20
            },
        },
        rebill.test {
            name = "2026-02: last month of the credit (its `to`)",
            period = "2026-02", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Launch credit"] = "-20.00" },
                total = "80.00",
            },
        },
        rebill.test {
            name = "2026-03: one-month fee, campaign's first month, credit over",
            period = "2026-03", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", Onboarding = "1000.00", Campaign = "100.00" },
                total = "1200.00", -- 100 + 1000 + 100; quarterly is 01, 04, 07, 10
            },
        },
        rebill.test {
            name = "2026-04: campaign inside, quarterly, one-month commitment",
            period = "2026-04", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", Campaign = "100.00", ["Quarterly review"] = "30.00",
                          ["April commitment"] = "400.00" }, -- 500 - 100 of usage
                total = "630.00", -- 100 + 100 + 30 + 400
            },
        },
        rebill.test {
            name = "2026-05: campaign only",
            period = "2026-05", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", Campaign = "100.00" },
                total = "200.00",
            },
        },
        rebill.test {
            name = "2026-06: campaign's last month, open-ended fee's first",
            period = "2026-06", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", Campaign = "100.00", ["New platform"] = "7.00" },
                total = "207.00",
            },
        },
        rebill.test {
            name = "2026-07: campaign over, quarterly again",
            period = "2026-07", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Quarterly review"] = "30.00",
                          ["New platform"] = "7.00" },
                total = "137.00",
            },
        },
        rebill.test {
            name = "2026-08: neither quarterly nor campaign",
            period = "2026-08", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["New platform"] = "7.00" },
                total = "107.00",
            },
        },
        rebill.test {
            name = "2027-01: twelve months on, quarterly; open-ended fee still on",
            period = "2027-01", usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Quarterly review"] = "30.00",
                          ["New platform"] = "7.00" },
                total = "137.00",
            },
        },
    },
}
