#!/bin/sh
# test_layout.sh -- `rebill invoice layout` (set, show, clear, list): stored layouts of issuers
# and customers. Resolution: --layout beats the customer's stored layout, which beats the
# issuer's, which beats the default; clear falls back. A layout is stored by content (editing
# the file later changes nothing) and is part of the input hash; issued invoices keep their
# bytes when a layout changes. Refusals (syntax error with file:line, no function returned,
# an endless loop in the body or at the top level, a table left open, unknown org) store
# nothing; a layout that loops only on real data passes `set` and is stopped by the sandbox
# at preview and issue time, which then store nothing and take no number.
. tests/cli/lib.sh

# The fixture of test_invoice.sh: C and E are customers; C's payer is R, R's and E's is D.
D=o-distrib0001; R=o-reseller001; C=o-customer01; E=o-customer02
FIX=tests/fixtures/pricing
S=2026-09-01T00:00:00Z

n=0
for o in $D $R $C $E; do
    n=$((n + 1))
    ok "create $o" --now $S org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "account of C" --now $S account add --org $C --account 111111111111 --name c1
ok "account of R" --now $S account add --org $R --account 222222222222 --name r1
ok "account of E" --now $S account add --org $E --account 333333333333 --name e1
link() {
    rb --now $S transfer invite --payer "$2" --source "$1" --start 2026-10 --name "$1"
    expect_rc "invite $1 -> $2" 0
    ok "accept $1 -> $2" --now $S transfer accept "$out" --as "$1"
}
link $C $R
link $R $D
link $E $D
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv $FIX/cur-2026-10.csv

# A layout that says which one it is, so the tests can tell them apart.
mk() { # mk FILE MARK
    printf 'return function(inv, md)\n  md:heading(1, "%s " .. inv.kind .. " " .. inv.number)\n  md:para(inv.total)\nend\n' "$2" >"$1"
}
mk "$TMP/partner.lua" PARTNER-R
mk "$TMP/customer.lua" CUSTOMER-C
mk "$TMP/flag.lua" FLAG
mk "$TMP/customer2.lua" CUSTOMER-C-V2

heading() { # the first line of the last output
    printf '%s\n' "$out" | head -n 1
}

# ---- nothing stored: the default layout ---------------------------------------------------
ok "list when empty" invoice layout list
check "empty list has only the header" test "$(printf '%s\n' "$out" | wc -l)" = 1
ok "show none" invoice layout show --org $C
expect_out "show says none" "$C has no stored layout"
ok "show none json" --json invoice layout show --org $C
check "json hash is null" test "$(json_get "j['hash']")" = None
ok "preview with the default" invoice preview --org $C --period 2026-11
check "default layout" test "$(heading)" = "# Invoice (draft, not issued)"
ok "default hash" --json invoice preview --org $C --period 2026-11
h_default=$(json_get "j['inputs_hash']")

# ---- the issuer's layout ------------------------------------------------------------------
ok "set R's layout" invoice layout set --org $R "$TMP/partner.lua"
expect_out "set names the layout" "layout of $R: $TMP/partner.lua ("
ok "C's invoice from R: R's layout" invoice preview --org $C --period 2026-11
check "issuer layout applies" test "$(heading)" = "# PARTNER-R draft"
ok "E's invoice from D: still the default" invoice preview --org $E --period 2026-11
check "other issuers unaffected" test "$(heading)" = "# Invoice (draft, not issued)"
# R also receives invoices (from D): one stored layout serves both of an org's roles
ok "R's own invoice from D" invoice preview --org $R --period 2026-11
check "R's layout also as customer" test "$(heading)" = "# PARTNER-R draft"
ok "hash with R's layout" --json invoice preview --org $C --period 2026-11
h_partner=$(json_get "j['inputs_hash']")
check "the layout is part of the input hash" test "$h_partner" != "$h_default"
ok "same bytes via --layout" --json invoice preview --org $C --period 2026-11 \
    --layout "$TMP/partner.lua"
check "stored and given layouts of one content hash alike" \
    test "$(json_get "j['inputs_hash']")" = "$h_partner"

# ---- the customer's layout beats the issuer's; --layout beats both -------------------------
ok "set C's layout" invoice layout set --org $C "$TMP/customer.lua"
ok "preview C" invoice preview --org $C --period 2026-11
check "customer layout beats the partner's" test "$(heading)" = "# CUSTOMER-C draft"
ok "preview C with --layout" invoice preview --org $C --period 2026-11 --layout "$TMP/flag.lua"
check "--layout beats both" test "$(heading)" = "# FLAG draft"
ok "list" --json invoice layout list
check "two stored layouts, by org" test "$(json_get "' '.join(l['org'] for l in j)")" = "$C $R"
ok "list text" invoice layout list
expect_out "list shows the name" "$TMP/customer.lua"

# ---- stored by content: editing the file changes nothing -----------------------------------
cp "$TMP/customer.lua" "$TMP/customer.saved"
mk "$TMP/customer.lua" EDITED-ON-DISK
ok "preview after editing the file" invoice preview --org $C --period 2026-11
check "the stored content is used" test "$(heading)" = "# CUSTOMER-C draft"
"$REBILL" --db "$DB" invoice layout show --org $C >"$TMP/shown.lua"
check "show prints the stored source byte for byte" cmp -s "$TMP/shown.lua" "$TMP/customer.saved"
ok "show json" --json invoice layout show --org $C
check "show json has the source" test "$(json_get "j['source'].splitlines()[1].strip()")" = \
    'md:heading(1, "CUSTOMER-C " .. inv.kind .. " " .. inv.number)'

# ---- issued invoices keep their bytes -------------------------------------------------------
"$REBILL" --db "$DB" invoice issue --org $C --period 2026-10 >"$TMP/issued.md" 2>/dev/null
check "issue with C's layout" grep -q "^# CUSTOMER-C invoice INV-2026-000001" "$TMP/issued.md"
for f in md html json; do
    "$REBILL" --db "$DB" invoice show INV-2026-000001 --format $f >"$TMP/before.$f"
done
ok "change C's layout" invoice layout set --org $C "$TMP/customer2.lua"
for f in md html json; do
    "$REBILL" --db "$DB" invoice show INV-2026-000001 --format $f >"$TMP/after.$f"
    check "issued $f unchanged by a new layout" cmp -s "$TMP/before.$f" "$TMP/after.$f"
done
ok "clear C's layout" invoice layout clear --org $C
"$REBILL" --db "$DB" invoice show INV-2026-000001 >"$TMP/after2.md"
check "issued md unchanged by clearing the layout" cmp -s "$TMP/before.md" "$TMP/after2.md"
ok "set C's layout again" invoice layout set --org $C "$TMP/customer2.lua"
ok "void uses the layout in force now" invoice void INV-2026-000001 --reason "new layout"
ok "show credit note" invoice show CN-2026-000001
check "credit note laid out by C's current layout" test "$(heading)" = \
    '# CUSTOMER-C-V2 credit\_note CN-2026-000001'

# ---- clear falls back ---------------------------------------------------------------------
ok "clear C" invoice layout clear --org $C
expect_out "clear says so" "layout of $C cleared"
ok "preview after clearing C" invoice preview --org $C --period 2026-11
check "falls back to the issuer's" test "$(heading)" = "# PARTNER-R draft"
ok "clear R" --json invoice layout clear --org $R
check "clear json" test "$(json_get "j['hash']")" = None
ok "preview after clearing R" invoice preview --org $C --period 2026-11
check "falls back to the default" test "$(heading)" = "# Invoice (draft, not issued)"
ok "default hash again" --json invoice preview --org $C --period 2026-11
check "hash back to the default's" test "$(json_get "j['inputs_hash']")" = "$h_default"

# ---- refused layouts store nothing ----------------------------------------------------------
printf 'return function(inv, md)\n  md:heading(1, "x" ..)\nend\n' >"$TMP/syntax.lua"
refused "syntax error names file:line" 1 "syntax.lua:2:" invoice layout set --org $C \
    "$TMP/syntax.lua"
printf 'return { heading = "not a function" }\n' >"$TMP/table.lua"
refused "a table is not a layout" 1 "table.lua: it returns a table, not a function" \
    invoice layout set --org $C "$TMP/table.lua"
printf -- '-- forgot to return\nlocal function f(inv, md) end\n' >"$TMP/nothing.lua"
refused "returning nothing" 1 "it returns nothing, not a function" invoice layout set --org $C \
    "$TMP/nothing.lua"
: >"$TMP/empty.lua"
refused "an empty file" 1 "empty.lua: it returns nothing" invoice layout set --org $C \
    "$TMP/empty.lua"
printf 'return function(inv, md)\n  while true do end\nend\n' >"$TMP/loop.lua"
refused "endless loop in the layout stopped at set" 1 "loop.lua:2: " invoice layout set \
    --org $R "$TMP/loop.lua"
expect_err "... by the sandbox's limit" "limit exceeded"
expect_err "... on the sample invoice" "(laying out a sample invoice)"
printf 'local t = {}\nwhile true do t[#t + 1] = 1 end\nreturn function() end\n' >"$TMP/top.lua"
refused "endless top level stopped at set" 1 "limit exceeded" invoice layout set --org $R \
    "$TMP/top.lua"
printf 'return function(inv, md)\n  if inv.kind == "credit_note" then error("no credit notes here") end\n  md:para("x")\nend\n' >"$TMP/nocn.lua"
refused "a layout must lay out credit notes too" 1 "nocn.lua:2: no credit notes here (laying out a sample credit note)" \
    invoice layout set --org $R "$TMP/nocn.lua"
printf 'return function(inv, md) md:table({"a"}) end\n' >"$TMP/open.lua"
refused "table left open" 1 "returned with a table open" invoice layout set --org $C \
    "$TMP/open.lua"
printf 'return function(inv, md) md:para(os.getenv("HOME")) end\n' >"$TMP/os.lua"
refused "no os library" 1 "os.lua:1:" invoice layout set --org $C "$TMP/os.lua"
refused "unknown org" 1 'no organization "o-nosuchorg00"' invoice layout set \
    --org o-nosuchorg00 "$TMP/partner.lua"
refused "invalid org id" 1 'invalid organization id "O-BAD"' invoice layout set --org O-BAD \
    "$TMP/partner.lua"
refused "missing file" 1 "cannot read $TMP/none.lua" invoice layout set --org $C \
    "$TMP/none.lua"
refused "set without --org" 2 "missing --org" invoice layout set "$TMP/partner.lua"
refused "set without a file" 2 "usage: rebill invoice layout set --org O FILE" \
    invoice layout set --org $C
refused "show of an unknown org" 1 'no organization "o-nosuchorg00"' invoice layout show \
    --org o-nosuchorg00
refused "clear with nothing stored" 1 "$C has no stored layout" invoice layout clear --org $C
refused "clear of an unknown org" 1 'no organization "o-nosuchorg00"' invoice layout clear \
    --org o-nosuchorg00
refused "show takes no file" 2 "unexpected argument" invoice layout show --org $C x.lua
refused "unknown layout verb" 2 "unknown invoice layout verb 'frob'" invoice layout frob
ok "nothing was stored by the refusals" invoice layout list
check "still no stored layout" test "$(printf '%s\n' "$out" | wc -l)" = 1

# ---- a layout that is hostile only on real data: stopped at preview and issue ----------------
printf 'return function(inv, md)\n  if inv.customer.id == "%s" then while true do end end\n  md:para("fine")\nend\n' \
    $C >"$TMP/trap.lua"
ok "set passes (the samples are not the customer)" invoice layout set --org $R "$TMP/trap.lua"
refused "preview stopped by the sandbox" 1 "trap.lua:2: " invoice preview --org $C \
    --period 2026-11
expect_err "... names the limit" "limit exceeded"
expect_err "... and whose stored layout it is" "(the stored layout of $R)"
refused "issue stopped by the sandbox" 1 "limit exceeded" invoice issue --org $C \
    --period 2026-11
ok "other customers of R's layout are fine" invoice preview --org $R --period 2026-11
check "R's own invoice laid out by the trap layout" test "$out" = "fine"
ok "clear the trap" invoice layout clear --org $R
ok "issue after clearing" --json invoice issue --org $C --period 2026-11
check "the stopped issue took no number" test "$(json_get "j['number']")" = INV-2026-000002

done_testing
