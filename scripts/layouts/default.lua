-- layouts/default.lua -- the default invoice layout (docs/invoices.md "Layouts").
--
-- A layout is a function(inv, md): `inv` is the invoice's showback data (no partner cost, no
-- margin), `md` the Markdown builder, which escapes every string it is given. Amounts are
-- texts already rounded to the currency's minor unit; the lines add up to the subtotal.

local function money(amount, currency)
    return amount .. " " .. currency
end

local function party(md, title, p)
    md:bold(title)
    md:para(p.name)
    if #p.address > 0 then
        md:para(table.concat(p.address, ", "))
    end
    if p.tax_id ~= "" then
        md:bold("Tax id:")
        md:para(p.tax_id)
    end
    if p.email ~= "" then
        md:bold("Email:")
        md:para(p.email)
    end
end

return function(inv, md)
    local cur = inv.currency
    if inv.kind == "credit_note" then
        md:heading(1, "Credit note " .. inv.number)
        md:bold("Cancels invoice:")
        md:para(inv.refs .. " (period " .. inv.period .. ")")
        md:bold("Reason:")
        md:para(inv.reason)
    elseif inv.kind == "draft" then
        md:heading(1, "Invoice (draft, not issued)")
    else
        md:heading(1, "Invoice " .. inv.number)
    end
    md:bold("Period:")
    md:item(inv.period)
    md:bold("Issued:")
    md:item(inv.issue_date)
    if inv.kind ~= "credit_note" then
        md:bold("Due:")
        md:item(inv.due_date)
    end

    party(md, "From:", inv.issuer)
    party(md, "Bill to:", inv.customer)

    if #inv.services > 0 then
        md:heading(2, "Charges by service")
        md:table({ "Service", "Amount (" .. cur .. ")" }, "lr")
        for _, s in ipairs(inv.services) do
            md:row({ s.service, s.amount })
        end
        md:table_end()
    end

    local other = {}
    for _, l in ipairs(inv.lines) do
        if l.kind ~= "usage" then
            other[#other + 1] = l
        end
    end
    if #other > 0 then
        md:heading(2, "Other items")
        md:table({ "Item", "Amount (" .. cur .. ")" }, "lr")
        for _, l in ipairs(other) do
            md:row({ l.description, l.amount })
        end
        md:table_end()
    end

    md:heading(2, "Total")
    md:table({ "", "Amount (" .. cur .. ")" }, "lr")
    md:row({ "Subtotal", inv.subtotal })
    if inv.tax_name ~= "" then
        if inv.tax_rate ~= "0" then
            md:row({ inv.tax_name .. " (" .. inv.tax_rate .. "%)", inv.tax })
        else
            md:row({ inv.tax_name, inv.tax })
        end
    end
    md:total_row({ "Total", money(inv.total, cur) })
    md:table_end()

    if #inv.accounts > 0 then
        md:heading(2, "Usage by account")
        md:table({ "Account", "Name", "Amount (" .. cur .. ")" }, "llr")
        for _, a in ipairs(inv.accounts) do
            md:row({ a.account, a.account_name, a.amount })
        end
        md:table_end()
    end

    if inv.kind ~= "credit_note" and inv.issuer.terms_days then
        md:para("Payment terms: " .. inv.issuer.terms_days .. " days.")
    end
end
