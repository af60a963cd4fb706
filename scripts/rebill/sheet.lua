-- rebill.sheet -- price-sheet shorthands: many markups or discounts from one table.
--
--   local sheet = require("rebill.sheet")
--   return rebill.plan {
--       sheet.discounts { AmazonEC2 = 12, AmazonS3 = 5, AmazonRDS = 8 },  -- per service
--       sheet.sku_discounts("AmazonEC2", { ["BoxUsage:m5.large"] = 20 }),
--   }
--
-- Each function returns a list of rebill.markup / rebill.discount items; rebill.plan takes
-- lists of items as they are. Items come sorted by name, so messages are the same every run.

local M = {}

local function sorted_keys(t)
    local keys = {}
    for k in pairs(t) do
        if type(k) ~= "string" then
            error("rebill.sheet: keys must be names, not " .. type(k), 3)
        end
        keys[#keys + 1] = k
    end
    table.sort(keys)
    return keys
end

local function by_service(ctor, t)
    local out = {}
    for _, service in ipairs(sorted_keys(t)) do
        out[#out + 1] = ctor { service = service, percent = t[service] }
    end
    return out
end

-- { service = percent } -> discounts per service
function M.discounts(t)
    return by_service(rebill.discount, t)
end

-- { service = percent } -> markups per service
function M.markups(t)
    return by_service(rebill.markup, t)
end

-- service, { usage_type = percent } -> SKU discounts of one service
function M.sku_discounts(service, t)
    local out = {}
    for _, ut in ipairs(sorted_keys(t)) do
        out[#out + 1] = rebill.discount { service = service, usage_type = ut, percent = t[ut] }
    end
    return out
end

return M
