-- 10-item-periods.lua -- spec test: recurring items every N months (2, 12, 3 with a `to`,
-- 2 with a `to` that falls between two occurrences, 1), across a year boundary; a one-month
-- from/to range; a commitment on a quarterly cycle; a month with no usage at all.
--
-- Doc passages relied on (docs/rules.md):
--   "rebill.fee": "`period`: one month "YYYY-MM" -- or -- `from`, `to`: the first and last
--     months (inclusive; either may be left out)"; "`every`: with from: every n-th month (3
--     for quarterly)".
--   "rebill.commitment": keys include period, from, to, every; "the line is the shortfall,
--     amount - sources, when positive".
-- Reading chosen: with `every`, the item is in force in `from`, from + n, from + 2n, ...
-- and, when `to` is given, only up to and including `to`.
--
-- In force:
--   Bi-monthly  10, from 2026-11 every 2            : 2026-11, 2027-01, 2027-03, ...
--   Annual    1000, from 2026-02 every 12           : 2026-02, 2027-02, ...
--   Quarter commitment 300, 2026-01..2026-12 every 3: 2026-01, -04, -07, -10
--   Odd months  20, 2026-01..2026-04 every 2        : 2026-01, 2026-03 (05 is after `to`)
--   May only     5, from 2026-05 to 2026-05         : 2026-05
--   Monthly      1, from 2026-06 every 1            : every month from 2026-06

local USAGE = "service,list\nAmazonEC2,100.00\n"

return rebill.plan {
    name = "spec: recurring items",
    base = "list",

    rebill.fee { name = "Bi-monthly", amount = 10, from = "2026-11", every = 2 },
    rebill.fee { name = "Annual", amount = 1000, from = "2026-02", every = 12 },
    rebill.commitment { name = "Quarter commitment", amount = 300, from = "2026-01",
                        to = "2026-12", every = 3 },
    rebill.fee { name = "Odd months", amount = 20, from = "2026-01", to = "2026-04", every = 2 },
    rebill.fee { name = "May only", amount = 5, from = "2026-05", to = "2026-05" },
    rebill.fee { name = "Monthly", amount = 1, from = "2026-06", every = 1 },

    tests = {
        rebill.test {
            name = "2025-12: before every start", period = "2025-12", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00" }, total = "100.00" },
        },
        rebill.test {
            name = "2026-01: quarter commitment and odd months start", period = "2026-01",
            usage = USAGE,
            expect = {
                lines = { AmazonEC2 = "100.00", ["Quarter commitment"] = "200.00", -- 300 - 100
                          ["Odd months"] = "20.00" },
                total = "320.00",
            },
        },
        rebill.test {
            name = "2026-02: the annual fee's first month", period = "2026-02", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", Annual = "1000.00" }, total = "1100.00" },
        },
        rebill.test {
            name = "2026-03: odd months' second occurrence", period = "2026-03", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["Odd months"] = "20.00" },
                       total = "120.00" },
        },
        rebill.test {
            name = "2026-04: quarterly commitment again; odd months' `to`, not an occurrence",
            period = "2026-04", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["Quarter commitment"] = "200.00" },
                       total = "300.00" },
        },
        rebill.test {
            name = "2026-05: a from = to range; odd months over (05 is after its `to`)",
            period = "2026-05", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["May only"] = "5.00" },
                       total = "105.00" },
        },
        rebill.test {
            name = "2026-06: every = 1 starts", period = "2026-06", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", Monthly = "1.00" }, total = "101.00" },
        },
        rebill.test {
            name = "2026-10: last quarterly occurrence", period = "2026-10", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["Quarter commitment"] = "200.00",
                                 Monthly = "1.00" }, total = "301.00" },
        },
        rebill.test {
            name = "2026-11: bi-monthly starts", period = "2026-11", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["Bi-monthly"] = "10.00",
                                 Monthly = "1.00" }, total = "111.00" },
        },
        rebill.test {
            name = "2026-12: between bi-monthly occurrences", period = "2026-12", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", Monthly = "1.00" }, total = "101.00" },
        },
        rebill.test {
            name = "2027-01: bi-monthly across the year; quarter commitment ended",
            period = "2027-01", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", ["Bi-monthly"] = "10.00",
                                 Monthly = "1.00" }, total = "111.00" },
        },
        rebill.test {
            name = "2027-02: the annual fee twelve months on", period = "2027-02", usage = USAGE,
            expect = { lines = { AmazonEC2 = "100.00", Annual = "1000.00", Monthly = "1.00" },
                       total = "1101.00" },
        },
        rebill.test {
            name = "2026-07: no usage at all: the whole commitment is the shortfall",
            period = "2026-07", usage = "service,list\n",
            expect = { lines = { ["Quarter commitment"] = "300.00", Monthly = "1.00" },
                       total = "301.00", cost = "0.00", margin = "301.00" },
        },
    },
}
