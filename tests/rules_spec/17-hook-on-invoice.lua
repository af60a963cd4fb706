-- 17-hook-on-invoice.lua -- spec test: on_invoice adding lines (sub-cent, negative, with a
-- service), changing items with set_item (a fee, a credit set to zero, a fee that another
-- item was computed from), reading subtotal, cost, services and items, and its errors.
--
-- Doc passages relied on (docs/rules.md):
--   "How a bill is priced": 4 custom items, then 5 `on_invoice`, then 6 currency, 7 totals.
--   "The invoice object": runs "once, after the custom items"; `subtotal` "the sum of every
--     line so far"; `cost` "your cost of the customer's usage (hidden lines too)";
--     `services` "{service = money} of the usage and passed lines"; `items` "{name = money}
--     of the items in force"; `invoice:add { name, amount, service }` "add a line (service
--     optional: an existing one)"; `invoice:set_item(name, amount)` "change a (not itemized)
--     item in force this month".
--   "rebill.fee": "An item that comes to exactly zero is not shown".
--   "Testing": `lines` has one entry per service and one per custom item name.
-- Readings chosen:
--   * set_item changes that item only: items computed earlier from it ("Ops extra" = 50% of
--     "Ops") are not recomputed, since step 4 is over when on_invoice runs.
--   * An item set to exactly 0 is not shown, like an item that comes to 0.
--   * `items` gives each item as it is shown, so a credit reads negative (as it counts in
--     `subtotal`).
--   * A line added with `service` is still an added line with its own name: it is expected
--     under its name (as the per-service lines of an itemized item are expected under the
--     item's name), not merged into the service's usage.
--   * `service` naming a service the customer has no line of is an error naming it;
--     set_item of an item not in force this month is an error naming the item.

return rebill.plan {
    name = "spec: on_invoice",
    base = "list",
    passthrough = { Credit = "pass" },

    rebill.tax { name = "Tax", rate = 10 },
    rebill.fee { name = "Platform", amount = 100 },
    rebill.credit { name = "Intro", amount = 20 },
    rebill.fee { name = "Ops", percent = 10 },
    rebill.fee { name = "Ops extra", percent = 50, of = "Ops" },
    rebill.fee { name = "December only", amount = 1, period = "2026-12" },

    on_invoice = function(invoice)
        local c = invoice.customer
        if c == "o-invadd00001" then
            invoice:add { name = "Rounding gift", amount = "-0.005" }
            invoice:add { name = "EC2 extra", amount = 5, service = "AmazonEC2" }
        elseif c == "o-invset00001" then
            invoice:set_item("Ops", 1)
            invoice:set_item("Intro", 0)
        elseif c == "o-invread0001" then
            local sub, cost = invoice.subtotal, invoice.cost
            local items, svc = invoice.items, invoice.services
            invoice:add { name = "Intro echo", amount = items.Intro }
            invoice:add { name = "Half subtotal", amount = sub / 2 }
            invoice:add { name = "EC2 seen", amount = svc.AmazonEC2 / 100 }
            invoice:add { name = "Cost tenth", amount = cost / 10 }
        elseif c == "o-invnotforce" then
            invoice:set_item("December only", 2)
        elseif c == "o-invbadsvc01" then
            invoice:add { name = "Lost", amount = 1, service = "AmazonNope" }
        end
    end,

    tests = {
        rebill.test {
            name = "added lines: a half cent, and one with a service",
            period = "2026-11",
            customer = "o-invadd00001",
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1000.00
AmazonEC2,Credit,-100.00,0
AmazonEC2,Tax,50.00,0
AmazonS3,Usage,200.00,200.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "900.00",        -- 1000 - 100 (credit passed; tax hidden)
                    AmazonS3 = "200.00",
                    Platform = "100.00", Intro = "-20.00",
                    Ops = "110.00",              -- 10% x 1100
                    ["Ops extra"] = "55.00",     -- 50% x 110
                    ["Rounding gift"] = "-0.005",
                    ["EC2 extra"] = "5.00",
                },
                -- 1100 + 100 - 20 + 110 + 55 = 1345; - 0.005 + 5 = 1349.995
                subtotal = "1350.00",  -- half-even: ...9|5 -> 9 is odd -> up
                tax = "135.00",
                total = "1485.00",
                price = "1350.00",     -- 1349.995
                cost = "1150.00",      -- 1000 - 100 + 50 + 200 (the hidden tax too)
                margin = "200.00",     -- 199.995
            },
        },
        rebill.test {
            name = "set_item: a fee changed, a credit set to zero, a dependant kept",
            period = "2026-11",
            customer = "o-invset00001",
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1000.00
AmazonEC2,Credit,-100.00,0
AmazonEC2,Tax,50.00,0
AmazonS3,Usage,200.00,200.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "900.00", AmazonS3 = "200.00", Platform = "100.00",
                    Ops = "1.00",                -- set_item
                    ["Ops extra"] = "55.00",     -- computed from Ops = 110 in step 4
                    -- Intro set to 0: not shown
                },
                subtotal = "1256.00",  -- 1100 + 100 + 1 + 55
                tax = "125.60",
                total = "1381.60",
            },
        },
        rebill.test {
            name = "reading subtotal, cost, services and items",
            period = "2026-11",
            customer = "o-invread0001",
            usage = [[
service,line_type,billed,list
AmazonEC2,Usage,1000.00,1000.00
AmazonEC2,Credit,-100.00,0
AmazonEC2,Tax,50.00,0
AmazonS3,Usage,200.00,200.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "900.00", AmazonS3 = "200.00", Platform = "100.00",
                    Intro = "-20.00", Ops = "110.00", ["Ops extra"] = "55.00",
                    ["Intro echo"] = "-20.00",     -- items.Intro, as shown
                    ["Half subtotal"] = "672.50",  -- 1345 / 2 (subtotal includes the items)
                    ["EC2 seen"] = "9.00",         -- services.AmazonEC2 = 900 (passed credit in)
                    ["Cost tenth"] = "115.00",     -- cost 1150 (hidden tax in) / 10
                },
                subtotal = "2121.50",  -- 1345 - 20 + 672.50 + 9 + 115
                tax = "212.15",
                total = "2333.65",
            },
        },
        rebill.test {
            name = "set_item of an item not in force this month is an error",
            period = "2026-11",
            customer = "o-invnotforce",
            usage = "service,list\nAmazonEC2,1.00\n",
            expect_error = "December only",
        },
        rebill.test {
            name = "set_item of the same item in its month",
            period = "2026-12",
            customer = "o-invnotforce",
            usage = "service,list\nAmazonEC2,100.00\n",
            expect = {
                lines = { AmazonEC2 = "100.00", Platform = "100.00", Intro = "-20.00",
                          Ops = "10.00", ["Ops extra"] = "5.00", ["December only"] = "2.00" },
                subtotal = "197.00",   -- 100 + 100 - 20 + 10 + 5 + 2
                tax = "19.70",
                total = "216.70",
            },
        },
        rebill.test {
            name = "add with a service the customer does not have is an error",
            period = "2026-11",
            customer = "o-invbadsvc01",
            usage = "service,list\nAmazonEC2,1.00\n",
            expect_error = "AmazonNope",
        },
    },
}
