-- spot-and-loyalty.lua -- hooks: Lua for what the declarative rules cannot say.
--
-- Everything is billed cost plus 10%, except Spot instances, which are passed at cost plus
-- 2% (an on_line hook: it sees each priced line and returns a new price, or nil to keep
-- the rules' price). A month above 10,000 earns a 1% loyalty credit (an on_invoice hook:
-- it sees the invoice and adds a line). Hooks run in the sandbox; keep them small: the
-- declarative rules are priced in C, hooks in Lua.

return rebill.plan {
    name = "Cost + 10%, Spot at cost + 2%, loyalty credit",
    base = "billed",

    rebill.markup { percent = 10 },

    on_line = function(line)
        if line.usage_type:find("SpotUsage", 1, true) then
            return line.cost * 1.02
        end
    end,

    on_invoice = function(invoice)
        if invoice.subtotal > 10000 then
            invoice:add { name = "Loyalty credit", amount = -(invoice.subtotal * 0.01) }
        end
    end,

    tests = {
        rebill.test {
            name = "Spot at cost + 2%, and a loyalty credit above 10,000",
            period = "2026-11",
            usage = [[
service,usage_type,billed
AmazonEC2,BoxUsage:m5.2xlarge,8000.00
AmazonEC2,SpotUsage:c5.4xlarge,2000.00
AmazonS3,TimedStorage-ByteHrs,500.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "10840.00", -- 8000 x 1.10 + 2000 x 1.02 = 8800 + 2040
                    AmazonS3 = "550.00",
                    ["Loyalty credit"] = "-113.90", -- 1% of 11,390
                },
                total = "11276.10",
            },
        },
        rebill.test {
            name = "a small month: no loyalty credit",
            period = "2026-11",
            usage = "service,usage_type,billed\nAmazonEC2,BoxUsage:m5.large,1000.00\n",
            expect = { lines = { AmazonEC2 = "1100.00" }, total = "1100.00" },
        },
    },
}
