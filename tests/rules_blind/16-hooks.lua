-- 16-hooks.lua -- blind spec test: the on_line hook (return money, a number or decimal text
-- for a new price, nil to keep the rule's; fields base/price/margin/cost/quantity/rule; not
-- called for passed lines) and the on_invoice hook (subtotal, cost, services, items, add,
-- set_item), and hook errors.
--
-- docs/rules.md "The line object", "The invoice object", "Limits" (the error format
-- "acme.lua:14: no price for X (pricing account 111111111111, service AmazonEC2, usage type
-- BoxUsage:m5.large)"; "at most 200" lines added).

return rebill.plan {
    name = "blind: hooks",
    base = "billed",

    rebill.markup { percent = 10 },                         -- global
    rebill.discount { service = "AmazonS3", percent = 20 },
    rebill.fee { name = "Platform fee", amount = 200 },
    rebill.credit { name = "Itemized credit", percent = 10, itemized = true, period = "2026-12" },

    on_line = function(line)
        if line.line_type == "Credit" then return 0 end -- passed lines never reach the hook
        if line.usage_type == "Boom" then error("no price for " .. line.usage_type) end
        if line.usage_type == "SpotUsage" then return line.cost * "1.02" end
        if line.service == "AmazonRDS" then return rebill.money("12.34") end
        if line.service == "AmazonRedshift" then return "12.34" end -- decimal text
        if line.service == "AmazonEKS" then return 5 end
        if line.service == "AmazonS3" and line.rule == "service AmazonS3" then
            return line.base + line.price + line.margin + line.quantity
        end
        if line.service == "AmazonSNS" and line.rule == "global" then return line.list end
        return nil
    end,

    on_invoice = function(invoice)
        if invoice.customer == "o-setitemized1" then
            invoice:set_item("Itemized credit", 1)
            return
        end
        if invoice.customer == "o-toomanyadds1" then
            for i = 1, 201 do invoice:add { name = "Extra " .. i, amount = 1 } end
            return
        end
        if invoice.customer ~= "o-hooktest001" then return end
        local sub, cost, items, svc = invoice.subtotal, invoice.cost, invoice.items,
            invoice.services
        invoice:add { name = "Loyalty", amount = -(sub * "0.01") }
        invoice:add { name = "Cost echo", amount = cost / 1000 }
        invoice:add { name = "Items echo", amount = items["Platform fee"] / 100 }
        invoice:add { name = "EC2 tenth", amount = svc.AmazonEC2 / 10 }
        if invoice.period == "2026-11" and invoice.currency == "USD" then
            invoice:add { name = "Identity", amount = 1 }
        end
        invoice:set_item("Platform fee", 99)
    end,

    tests = {
        rebill.test {
            name = "line and invoice hooks",
            period = "2026-11",
            customer = "o-hooktest001",
            usage = [[
service,usage_type,line_type,quantity,billed,list
AmazonEC2,BoxUsage:m5.large,Usage,720,100.00,100.00
AmazonEC2,SpotUsage,Usage,720,50.00,80.00
AmazonEC2,,Credit,0,-10.00,0
AmazonEC2,,EdpDiscount,0,-5.00,0
AmazonRDS,InstanceUsage,Usage,720,40.00,40.00
AmazonEKS,AmazonEKS-Hours,Usage,720,70.00,70.00
AmazonS3,Check,Usage,7,10.00,15.00
AmazonSNS,Pub,Usage,1000,2.00,3.00
]],
            expect = {
                lines = {
                    -- 100 x 1.1 (hook: nil) + spot 50 x 1.02 (cost) - 10 credit (passed,
                    -- untouched: the hook would have made it 0); EDP hidden
                    AmazonEC2 = "151.00",    -- 110 + 51 - 10
                    AmazonRDS = "12.34",     -- money from the hook
                    AmazonEKS = "5.00",      -- integer from the hook
                    -- base 10 (billed) + price 8 (10 x 0.80) + margin -2 (8 - 10) + qty 7
                    AmazonS3 = "23.00",
                    AmazonSNS = "3.00",      -- rule "global": hook returns list 3.00
                    -- hook saw: usage 151 + 12.34 + 5 + 23 + 3 = 194.34, + Platform 200
                    ["Platform fee"] = "99.00",   -- set_item
                    Loyalty = "-3.9434",          -- -(394.34 x 0.01)
                    ["Cost echo"] = "0.257",      -- cost 100+50-10-5+40+70+10+2 = 257, / 1000
                    ["Items echo"] = "2.00",  -- items["Platform fee"] 200 (pre set_item) / 100
                    ["EC2 tenth"] = "15.10",      -- services.AmazonEC2 = 151 / 10
                    Identity = "1.00",            -- customer, period, currency as set
                },
                -- 194.34 + 99 - 3.9434 + 0.257 + 2 + 15.10 + 1 = 307.7536
                subtotal = "307.75",
                total = "307.75",
                price = "307.75",
                cost = "257.00",
                margin = "50.75",
            },
        },
        rebill.test {
            name = "on_line may return decimal text",
            period = "2026-11",
            usage = "service,usage_type,billed\nAmazonRedshift,Node,40.00\n",
            expect = {
                -- docs/rules.md: "Return money (or a number, or decimal text) for a new price"
                lines = { AmazonRedshift = "12.34", ["Platform fee"] = "200.00" },
                total = "212.34", -- 12.34 + 200
            },
        },
        rebill.test {
            name = "an itemized item: one group per item name",
            period = "2026-12",
            usage = "service,usage_type,billed\nAmazonEC2,BoxUsage,100\n"
                .. "AmazonDynamoDB,ReadUnits,50\n",
            expect = {
                lines = {
                    AmazonEC2 = "110.00",            -- 100 x 1.1
                    AmazonDynamoDB = "55.00",        -- 50 x 1.1
                    ["Platform fee"] = "200.00",
                    ["Itemized credit"] = "-16.50",  -- 10% x 110 + 10% x 55
                },
                total = "348.50", -- 165 + 200 - 16.50
            },
        },
        rebill.test {
            name = "an error in on_line names the file, the line and the line item",
            period = "2026-11",
            usage = "service,usage_type,billed\nAmazonEC2,Boom,1.00\n",
            expect_error =
                "no price for Boom (pricing account 111111111111, service AmazonEC2, "
                .. "usage type Boom)",
        },
        rebill.test {
            name = "set_item on an itemized item is refused",
            period = "2026-12",
            customer = "o-setitemized1",
            usage = "service,usage_type,billed\nAmazonEC2,BoxUsage,100\n",
            expect_error = "Itemized credit",
        },
        rebill.test {
            name = "on_invoice may add at most 200 lines",
            period = "2026-11",
            customer = "o-toomanyadds1",
            usage = "service,usage_type,billed\nAmazonEC2,BoxUsage,100\n",
            expect_error = "at most 200", -- docs: "200 lines added by on_invoice"; "at most 200"
        },
    },
}
