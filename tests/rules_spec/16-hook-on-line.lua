-- 16-hook-on-line.lua -- spec test: what on_line may return (money, an integer, a float
-- literal, decimal text, nil, a negative amount), what it sees (rule, base, price,
-- quantity), that its price is kept to 12 digits half-even, that it runs once per
-- aggregated line, never for passed or hidden lines, and that items count its prices.
--
-- Doc passages relied on (docs/rules.md):
--   "The line object (on_line)": "Return money (or a number, or decimal text) for a new
--     price, or nil to keep the rule's price"; called "for every line the policy prices (not
--     for passed or hidden lines), after its rule"; fields base, price, quantity, rule ("the
--     scope of the rule that priced it ("service AmazonEC2", "global"), or nil").
--   "How a bill is priced" 1: lines are "summed per account, service, usage type,
--     operation, region, line type, billing entity and currency"; 3: "its rule ...; then the
--     on_line hook ... Each price keeps 12 fraction digits (half-even)".
--   "Lua API reference": "A float means its shortest decimal" (2.675 is exactly 2.675).
--   Base billed: Tax passed, EdpDiscount hidden.

return rebill.plan {
    name = "spec: on_line",
    base = "billed",

    rebill.markup { service = "AmazonEC2", percent = 10 },
    rebill.discount { service = "AmazonS3", percent = 20 },
    rebill.rate { usage_type = "Req", price = "0.01" },
    rebill.fee { name = "Mgmt", percent = 10 },

    on_line = function(line)
        if line.line_type == "EdpDiscount" or line.line_type == "Tax" then
            error("the hook saw a " .. line.line_type .. " line")
        end
        local s, u = line.service, line.usage_type
        if s == "RetMoney" then return rebill.money("7.77") end
        if s == "RetInt" then return 3 end
        if s == "RetFloat" then return 2.675 end
        if s == "RetText" then return "1.0000000000005" end   -- 13 digits
        if s == "RetNeg" then return -line.price end
        if u == "Base" then return line.base end
        if u == "Probe" and line.rule == "service AmazonEC2" then return 100 end
        if s == "NoRuleSvc" and line.rule == nil then return 200 end
        if s == "Square" then return line.quantity * line.quantity end
        return nil
    end,

    tests = {
        rebill.test {
            name = "every kind of return value",
            period = "2026-11",
            usage = [[
service,usage_type,quantity,billed
AmazonEC2,BoxUsage,10,100.00
AmazonEC2,Probe,1,5.00
RetMoney,X,1,1.00
RetInt,X,1,1.00
RetFloat,X,1,1.00
RetText,X,1,1.00
RetText,Y,1,1.00
RetNeg,X,1,4.00
AmazonS3,Base,1,50.00
AmazonS3,Std,1,100.00
NoRuleSvc,Y,1,9.00
AmazonSQS,Req,1000,3.00
]],
            expect = {
                lines = {
                    AmazonEC2 = "210.00",  -- 100 x 1.1 (nil: rule's price) + 100 (rule seen)
                    RetMoney = "7.77",
                    RetInt = "3.00",
                    RetFloat = "2.675",    -- the float literal, exactly
                    -- each 1.0000000000005 kept as 1.000000000000 (tie, 0 even); two lines
                    -- (unrounded they would add to 2.000000000001)
                    RetText = "2.000000000000",
                    RetNeg = "-4.00",      -- no rule: price = base 4; hook negates it
                    AmazonS3 = "130.00",   -- Base: hook returns base 50; Std: 100 x 0.8
                    NoRuleSvc = "200.00",  -- rule is nil
                    AmazonSQS = "10.00",   -- rate 1000 x 0.01 (nil from the hook)
                    -- usage: 210+7.77+3+2.675+2-4+130+200+10 = 561.445
                    Mgmt = "56.1445",      -- 10% x 561.445: items count the hook's prices
                },
                subtotal = "617.59",  -- 617.5895
                total = "617.59",
                price = "617.59",
                cost = "276.00",      -- 100+5+1+1+1+1+1+4+50+100+9+3
                margin = "341.59",    -- 341.5895
            },
        },
        rebill.test {
            name = "passed and hidden lines never reach the hook",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,billed
AmazonEC2,BoxUsage,Usage,100.00
AmazonEC2,,EdpDiscount,-5.00
AmazonEC2,,Tax,3.00
]],
            expect = {
                lines = { AmazonEC2 = "113.00", Mgmt = "11.30" }, -- 110 + 3 (tax passed)
                total = "124.30",
                cost = "98.00",    -- 100 - 5 + 3
                margin = "26.30",
            },
        },
        rebill.test {
            name = "rows with the same dimensions are one line, hooked once",
            period = "2026-11",
            usage = "service,usage_type,quantity,billed\nSquare,Sq,2,1.00\nSquare,Sq,3,1.00\n",
            expect = {
                -- one line of quantity 5: 5 x 5 = 25 (two lines would give 4 + 9 = 13)
                lines = { Square = "25.00", Mgmt = "2.50" },
                total = "27.50",
                cost = "2.00",
                margin = "25.50",
            },
        },
    },
}
