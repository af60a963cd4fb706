-- rebill.support -- AWS Support plan price ladders, as custom line items.
--
-- AWS charges support as a percentage of the month's AWS charges, by tiers, with a minimum.
-- A partner that resells support (or replaces AWS support with its own) charges the same way:
--
--   local support = require("rebill.support")
--   return rebill.plan {
--       support.fee("business"),                       -- "Business support", of usage
--       support.fee("developer", { name = "Support" }),
--   }
--
-- The ladders are AWS's public prices (https://aws.amazon.com/premiumsupport/pricing/).
-- Amounts are text so they are exact.

local M = {}

local plans = {
    developer = {
        name = "Developer support",
        minimum = "29",
        tiers = { { percent = "3" } },
    },
    business = {
        name = "Business support",
        minimum = "100",
        tiers = {
            { upto = "10000", percent = "10" },
            { upto = "80000", percent = "7" },
            { upto = "250000", percent = "5" },
            { percent = "3" },
        },
    },
    enterprise_on_ramp = {
        name = "Enterprise On-Ramp support",
        minimum = "5500",
        tiers = { { percent = "10" } },
    },
    enterprise = {
        name = "Enterprise support",
        minimum = "15000",
        tiers = {
            { upto = "150000", percent = "10" },
            { upto = "500000", percent = "7" },
            { upto = "1000000", percent = "5" },
            { percent = "3" },
        },
    },
}

local function copy_tiers(tiers)
    local t = {}
    for i = 1, #tiers do
        t[i] = { upto = tiers[i].upto, percent = tiers[i].percent }
    end
    return t
end

-- The plan names: "developer", "business", "enterprise_on_ramp", "enterprise".
function M.plans()
    return { "developer", "business", "enterprise_on_ramp", "enterprise" }
end

local function find(plan, level)
    local p = plans[plan]
    if p == nil then
        error("rebill.support: unknown support plan '" .. tostring(plan) ..
              "' (developer, business, enterprise_on_ramp, enterprise)", level + 1)
    end
    return p
end

-- A fresh copy of a plan's ladder and minimum: tiers, minimum.
function M.ladder(plan)
    local p = find(plan, 2)
    return copy_tiers(p.tiers), p.minimum
end

-- rebill.fee for a support plan. opts (all optional): name, minimum, of, services,
-- line_types, entities, from, to, period.
function M.fee(plan, opts)
    local p = find(plan, 2)
    opts = opts or {}
    return rebill.fee {
        name = opts.name or p.name,
        tiers = copy_tiers(p.tiers),
        minimum = opts.minimum or p.minimum,
        of = opts.of,
        services = opts.services,
        line_types = opts.line_types,
        entities = opts.entities,
        from = opts.from,
        to = opts.to,
        period = opts.period,
    }
end

return M
