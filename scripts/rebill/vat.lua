-- rebill.vat -- standard VAT rates by country, for rebill.tax.
--
--   local vat = require("rebill.vat")
--   return rebill.plan {
--       vat.tax("DE"),                 -- rebill.tax{ name = "VAT", rate = "19" }
--       vat.tax("FR", { name = "TVA" }),
--   }
--
-- Standard rates in percent as of 2025-08 (EU member states, the United Kingdom, Norway and
-- Switzerland). Rates change: check them against your tax adviser's table before invoicing,
-- and pass your own with rebill.tax{ name = "VAT", rate = ... } when they differ. Reduced
-- rates and reverse charge (B2B across EU borders: rate 0 with a note on the invoice) are the
-- partner's decision, not this table's.

local M = {}

local standard = {
    AT = "20", BE = "21", BG = "20", CY = "19", CZ = "21", DE = "19", DK = "25", EE = "24",
    ES = "21", FI = "25.5", FR = "20", GR = "24", HR = "25", HU = "27", IE = "23", IT = "22",
    LT = "21", LU = "17", LV = "21", MT = "18", NL = "21", PL = "23", PT = "23", RO = "21",
    SE = "25", SI = "22", SK = "23",
    GB = "20", NO = "25", CH = "8.1",
}

local function find(country, level)
    local r = standard[country]
    if r == nil then
        error("rebill.vat: no standard VAT rate for country '" .. tostring(country) .. "'",
              level + 1)
    end
    return r
end

-- The standard rate of a country (ISO 3166 alpha-2, e.g. "DE"), as exact text.
function M.rate(country)
    return find(country, 2)
end

-- A fresh table of every rate: { DE = "19", ... }.
function M.rates()
    local t = {}
    for k, v in pairs(standard) do
        t[k] = v
    end
    return t
end

-- rebill.tax with a country's standard rate. opts.name defaults to "VAT".
function M.tax(country, opts)
    opts = opts or {}
    return rebill.tax { name = opts.name or "VAT", rate = find(country, 2) }
end

return M
