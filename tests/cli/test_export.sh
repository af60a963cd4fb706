#!/bin/sh
# test_export.sh -- `rebill export focus`: a customer-month's showback as a FOCUS 1.2 CSV.
# The header has every mandatory FOCUS 1.2 column; the file parses with Python's csv module
# and hostile names (comma, quote, newline, a leading '=') come back as they were (the '='
# one with the apostrophe that keeps spreadsheets from running it); the sum of BilledCost is
# the invoice preview's total to the cent (Python Decimal), in USD and in EUR at a stored
# rate, also with a correction of an invoiced month; custom fees, credits and tax carry the
# right ChargeCategory and a correction ChargeClass "Correction"; hidden pass-through lines
# are absent; no billed amount, partner cost or margin appears anywhere; and every refusal
# (unknown org, bad period, no payer, unwritable --out...) says why and stores nothing.
. tests/cli/lib.sh

P=o-partner0001; C=o-customer01; E=o-customer02; F=o-customer03
FIX=tests/fixtures/pricing
S=2026-09-01T00:00:00Z
NAME1='a,"b" =cmd()'
NAME2='=HYPERLINK("http://evil.example","x")'

n=0
for o in $P $C $E $F; do
    n=$((n + 1))
    ok "create $o" --now $S org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "hostile account 1" --now $S account add --org $C --account 111111111111 --name "$NAME1"
ok "hostile account 2" --now $S account add --org $C --account 222222222222 --name "$NAME2"
ok "account of E" --now $S account add --org $E --account 333333333333 --name e1
for src in $C $E $F; do
    rb --now $S transfer invite --payer $P --source $src --start 2026-10 --name "$src"
    expect_rc "invite $src" 0
    ok "accept $src" --now $S transfer accept "$out" --as $src
done
ok "partner profile" org profile $P --legal-name "Partner Cloud Ltd"
ok "customer profile" org profile $C --legal-name "Customer One GmbH"
ok "import usage" usage import --quiet $FIX/cur-2026-10.csv $FIX/cur-2026-11.csv
# C: cost plus 8%, AWS credits hidden, a fee whose name is hostile (newline included), a
# loyalty credit and VAT; E: list + 5% in EUR at the stored rate, with VAT (rules/).
cat >"$TMP/c.lua" <<'EOF'
return rebill.plan {
    name = "Export test",
    base = "billed",
    passthrough = { Credit = "hide" },
    rebill.markup { percent = 8 },
    rebill.fee { name = "a,\"b\"\n=cmd()", amount = 25 },
    rebill.credit { name = "Loyalty credit", percent = 5 },
    rebill.tax { name = "VAT", rate = "19" },
}
EOF
ok "C plan" plan assign --org $C --rules "$TMP/c.lua" --from 2026-10
ok "E plan: EUR" plan assign --org $E --rules rules/eu-vat-eur.lua --from 2026-10

# csvq FILE EXPR: a Python expression over FILE parsed with the csv module: `hdr` (the
# header), `raw` (the records), `rows` (dicts), `D` (Decimal), `pick(COL, VALUE, COLS...)`
# (the COLS of the rows whose COL is VALUE, as tuples), `ALL` (every row's COL is VALUE).
csvq() {
    python3 - "$1" "$2" <<'EOF'
import csv, sys
from decimal import Decimal as D
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    recs = list(csv.reader(f))
hdr, raw = recs[0], recs[1:]
rows = [dict(zip(hdr, r)) for r in raw]
def pick(key, val, *cols):
    return [tuple(r[c] for c in cols) for r in rows if r[key] == val]
def ALL(col, val):
    return all(r[col] == val for r in rows)
print(eval("(" + sys.argv[2] + "\n)"))
EOF
}
# cq NAME EXPR: pass if EXPR is True over $TMP/c.csv.
cq() {
    got=$(csvq "$TMP/c.csv" "$2" 2>&1)
    if [ "$got" = True ]; then _pass; else _fail "$1" "$2 -> $got"; fi
}

# ---- help ---------------------------------------------------------------------------------
ok "main help lists export" --help
expect_out "export in main help" "export     customer exports"
ok "export --help" export --help
expect_out "noun help" "usage: rebill export focus --org O --period YYYY-MM [--out FILE]"
ok "export focus --help" export focus --help
expect_out "verb help" "FOCUS 1.2 CSV"

# ---- the file: C, 2026-11 -------------------------------------------------------------------
snapshot
ok "export C" export focus --org $C --period 2026-11
expect_unchanged "export stores nothing"
"$REBILL" --db "$DB" export focus --org $C --period 2026-11 >"$TMP/c.csv"
check "records end with CRLF (RFC 4180)" sh -c "head -n 1 '$TMP/c.csv' | od -c | grep -q '\\\\r  \\\\n'"
ok "preview C" --json invoice preview --org $C --period 2026-11
total=$(json_get "j['total']")
currency=$(json_get "j['currency']")
check "preview has a total" test -n "$total"

MANDATORY="BilledCost BillingAccountId BillingAccountName BillingCurrency BillingPeriodEnd
BillingPeriodStart ChargeCategory ChargeClass ChargeDescription ChargePeriodEnd
ChargePeriodStart ContractedCost EffectiveCost InvoiceIssuerName ListCost PricingQuantity
PricingUnit ProviderName PublisherName ServiceCategory ServiceName"
for col in $MANDATORY; do
    cq "mandatory column $col" "'$col' in hdr"
done
cq "conditional columns filled" \
    "all(c in hdr for c in ['SubAccountId','SubAccountName','RegionId','SkuId','ConsumedQuantity'])"
cq "every record has every column" "len(raw) > 5 and all(len(r) == len(hdr) for r in raw)"
cq "sum of BilledCost is the preview total, exactly" "sum(D(r['BilledCost']) for r in rows) == D('$total')"
cq "amounts in the minor unit" "all(D(r['BilledCost']).as_tuple().exponent == -2 for r in rows)"
cq "BillingCurrency is the invoice currency" "{r['BillingCurrency'] for r in rows} == {'$currency'} == {'USD'}"
cq "costs are the charged amount" \
    "all(r['BilledCost'] == r['EffectiveCost'] == r['ListCost'] == r['ContractedCost'] for r in rows)"
cq "billing account is the customer" \
    "all(r['BillingAccountId'] == '$C' and r['BillingAccountName'] == 'Customer One GmbH' for r in rows)"
cq "invoice issuer is the partner's legal name" \
    "{r['InvoiceIssuerName'] for r in rows} == {'Partner Cloud Ltd'}"
cq "billing period is the month" \
    "ALL('BillingPeriodStart', '2026-11-01T00:00:00Z') and ALL('BillingPeriodEnd', '2026-12-01T00:00:00Z')"
cq "charge period of non-corrections is the month" \
    "ALL('ChargePeriodStart', '2026-11-01T00:00:00Z') and ALL('ChargePeriodEnd', '2026-12-01T00:00:00Z')"
cq "ChargeCategory values" "{r['ChargeCategory'] for r in rows} <= {'Usage','Purchase','Tax','Credit','Adjustment'}"
cq "ChargeClass null without corrections" "all(r['ChargeClass'] == '' for r in rows)"
cq "required values present" \
    "all(r[c] != '' for r in rows for c in ['ChargeDescription', 'ProviderName', 'PublisherName',
                                           'ServiceCategory', 'ServiceName'])"
cq "ServiceCategory values" "{r['ServiceCategory'] for r in rows} <= {
    'AI and Machine Learning', 'Analytics', 'Business Applications', 'Compute', 'Databases',
    'Developer Tools', 'Multicloud', 'Identity', 'Integration', 'Internet of Things',
    'Management and Governance', 'Media', 'Migration', 'Mobile', 'Networking', 'Security',
    'Storage', 'Web', 'Other'}"
cq "PricingQuantity for usage and purchases" \
    "all(r['PricingQuantity'] != '' for r in rows if r['ChargeCategory'] in ('Usage','Purchase'))"
cq "no PricingQuantity for tax" "all(r['PricingQuantity'] == '' for r in rows if r['ChargeCategory'] == 'Tax')"
cq "PricingUnit with PricingQuantity only" "all((r['PricingUnit'] == '') == (r['PricingQuantity'] == '') for r in rows)"
cq "usage rows: SKU, region, quantity" \
    "pick('ServiceName', 'AmazonEC2', 'SkuId', 'RegionId', 'RegionName', 'PricingQuantity',
          'ConsumedQuantity', 'ServiceCategory', 'ChargeCategory')
     == [('', '', '', '', '', 'Compute', 'Tax'),
         ('BoxUsage:m5.large', 'us-east-1', 'US East (N. Virginia)', '720', '720', 'Compute',
          'Usage')]"
cq "usage row amount: 69.12 x 1.08" \
    "[r['BilledCost'] for r in rows if r['SkuId'] == 'BoxUsage:m5.large'] == ['74.65']"

# hostile names: exact round trip through the csv module, formula guard on a leading '='
cq "account name with comma and quotes round-trips" \
    "{r['SubAccountName'] for r in rows if r['SubAccountId'] == '111111111111'} == {'''$NAME1'''}"
cq "a leading = gets an apostrophe" \
    "{r['SubAccountName'] for r in rows if r['SubAccountId'] == '222222222222'} == {\"'\" + '''$NAME2'''}"
cq "no field starts with a formula character" \
    "not any(v[:1] in ('=', '@', '+') for r in raw for v in r)"

# custom items, pass-through tax, tax: categories
cq "fee with a newline in its name: Purchase, one unit, 25.00" \
    "pick('ChargeDescription', 'a,\"b\"\\n=cmd()', 'ChargeCategory', 'PricingQuantity',
          'PricingUnit', 'BilledCost', 'ServiceName', 'SubAccountId', 'ProviderName')
     == [('Purchase', '1', 'Units', '25.00', 'a,\"b\"\\n=cmd()', '', 'Partner Cloud Ltd')]"
cq "custom credit: Credit, negative" \
    "[(c, D(b) < 0, q) for c, b, q in pick('ChargeDescription', 'Loyalty credit',
                                            'ChargeCategory', 'BilledCost', 'PricingQuantity')]
     == [('Credit', True, '')]"
cq "VAT row: Tax, the preview's tax" \
    "pick('ServiceName', 'VAT', 'ChargeCategory', 'ChargeDescription', 'ProviderName')
     == [('Tax', 'VAT 19%', 'Partner Cloud Ltd')]"
ok "preview C json" invoice preview --org $C --period 2026-11 --format json
vat=$(json_get "j['tax']")
cq "VAT amount is the invoice's" "pick('ServiceName', 'VAT', 'BilledCost') == [('$vat',)]"
cq "AWS tax passed through: Tax, no quantity, at cost" \
    "pick('ChargeDescription', 'Tax: AmazonEC2', 'ChargeCategory', 'BilledCost',
          'PricingQuantity', 'ProviderName') == [('Tax', '9.21', '', 'AWS')]"
cq "hidden AWS credit is absent" \
    "not any('Credit: ' in r['ChargeDescription'] or r['BilledCost'] == '-10.00' for r in rows)"
# rows of one service and account add up to the invoice's line
ec2=$(json_get "[l['amount'] for l in j['lines'] if l['service'] == 'AmazonEC2'][0]")
cq "EC2 rows add up to the invoice line" \
    "sum(D(b) for b, in pick('ServiceName', 'AmazonEC2', 'BilledCost')) == D('$ec2')"

# ---- privacy: no billed amount, partner cost or margin ----------------------------------------
ok "partner view" --json price --org $C --period 2026-11
margin=$(json_get "j['partner']['margin']")
cost=$(json_get "j['partner']['cost']")
check "fixture: billed and showback differ" test "$margin" != "0.00"
for v in "$margin" "$cost" 69.12 34.56 23.00 50.00 172.80 172.8; do
    check "privacy: no $v in the file" sh -c "! grep -qF -- '$v' '$TMP/c.csv'"
    cq "privacy: no amount equals $v" "all(D(r[c]) != D('$v') for r in rows
                                           for c in ['BilledCost', 'EffectiveCost', 'ListCost',
                                                     'ContractedCost'])"
done

# ---- --out, --json ------------------------------------------------------------------------
snapshot
ok "export to a file" export focus --org $C --period 2026-11 --out "$TMP/out.csv"
expect_out "summary" "wrote $TMP/out.csv:"
expect_out "summary total" "total $total USD"
expect_unchanged "export --out stores nothing"
check "the file is what stdout had" cmp -s "$TMP/out.csv" "$TMP/c.csv"
ok "export --json" --json export focus --org $C --period 2026-11 --out "$TMP/out2.csv"
check "json summary total" test "$(json_get "j['total']")" = "$total"
check "json summary rows" test "$(json_get "j['rows']")" = "$(csvq "$TMP/c.csv" 'len(rows)')"
check "no temporary file left" sh -c "! ls '$TMP' | grep -q '\\.tmp'"

# ---- EUR at a stored rate ---------------------------------------------------------------------
"$REBILL" --db "$DB" export focus --org $E --period 2026-11 >"$TMP/e.csv"
ok "preview E" --json invoice preview --org $E --period 2026-11
etotal=$(json_get "j['total']")
check "E's invoice is in EUR" test "$(json_get "j['currency']")" = EUR
check "E: every row in EUR" test "$(csvq "$TMP/e.csv" "{r['BillingCurrency'] for r in rows} == {'EUR'}")" = True
check "E: sum of BilledCost is the EUR total, exactly" \
    test "$(csvq "$TMP/e.csv" "sum(D(r['BilledCost']) for r in rows) == D('$etotal')")" = True
check "E: VAT row" test "$(csvq "$TMP/e.csv" "pick('ChargeCategory', 'Tax', 'ChargeDescription')")" = \
    "[('VAT 19%',)]"
check "E: no USD amount (7.488 list x 1.05 = 7.8624) in the file" sh -c "! grep -qF -- '7.86' '$TMP/e.csv'"

# ---- a month with nothing to invoice: the header only -----------------------------------------
ok "F has no usage" export focus --org $F --period 2026-11
expect_err "header-only message" "nothing to invoice for $F in 2026-11: the file has the header only"
check "header only" test "$(printf '%s\n' "$out" | wc -l)" = 1
expect_out "header" "BilledCost,BillingAccountId,"
ok "a month without any usage" export focus --org $F --period 2027-02
expect_err "header-only message, no usage at all" "nothing to invoice for $F in 2027-02"
check "header only, no usage at all" test "$(printf '%s\n' "$out" | wc -l)" = 1
"$REBILL" --db "$DB" export focus --org $C --period 2027-02 >"$TMP/fee.csv"
check "no usage, but the plan's fee and its VAT" \
    test "$(csvq "$TMP/fee.csv" "[(r['ChargeCategory'], r['BilledCost']) for r in rows]")" = \
    "[('Purchase', '25.00'), ('Tax', '4.75')]"

# ---- a correction of an invoiced month ---------------------------------------------------------
ok "issue C 2026-10" invoice issue --org $C --period 2026-10
sed 's/,11.50,11.50,/,21.50,21.50,/' $FIX/cur-2026-10.csv >"$TMP/cur-2026-10.csv"
ok "restate 2026-10" usage import --quiet "$TMP/cur-2026-10.csv"
"$REBILL" --db "$DB" export focus --org $C --period 2026-11 >"$TMP/c.csv"
ok "preview C after the restatement" --json invoice preview --org $C --period 2026-11
total2=$(json_get "j['total']")
check "the correction changed the total" test "$total2" != "$total"
cq "sum of BilledCost is the corrected total, exactly" "sum(D(r['BilledCost']) for r in rows) == D('$total2')"
cq "one correction row: Adjustment, Correction, charge period 2026-10" \
    "[(r['ChargeCategory'], r['ChargeClass'], r['ChargePeriodStart'], r['ChargePeriodEnd'],
       r['BillingPeriodStart'], r['PricingQuantity']) for r in rows if r['ChargeClass']]
     == [('Adjustment', 'Correction', '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z',
          '2026-11-01T00:00:00Z', '')]"
cq "the correction names the invoice" \
    "[r['ChargeDescription'] for r in rows if r['ChargeClass']] == ['Correction of 2026-10 (INV-2026-000001)']"
ok "preview json after the restatement" invoice preview --org $C --period 2026-11 --format json
corr=$(json_get "[l['amount'] for l in j['lines'] if l['kind'] == 'correction'][0]")
cq "correction amount is the invoice's" "pick('ChargeClass', 'Correction', 'BilledCost') == [('$corr',)]"

# ---- refusals: a clear message, an exit code, nothing stored -----------------------------------
refused "unknown org" 1 'no organization "o-nosuchorg00"' export focus --org o-nosuchorg00 \
    --period 2026-11
refused "bad org id" 1 'invalid organization id "o-AB"' export focus --org o-AB --period 2026-11
refused "bad period" 1 "invalid --period" export focus --org $C --period 2026-13
refused "period not a month" 1 "invalid --period" export focus --org $C --period 2026-11-01
refused "missing period" 2 "missing --period" export focus --org $C
refused "missing org" 2 "missing --org" export focus --period 2026-11
refused "no payer that month" 1 "organization $C has no payer in 2026-09: nobody invoices it" \
    export focus --org $C --period 2026-09
refused "the partner itself has no payer" 1 "organization $P has no payer in 2026-11" \
    export focus --org $P --period 2026-11
refused "no exchange rate" 1 "no exchange rate USD -> EUR for 2026-12" export focus --org $E \
    --period 2026-12
refused "unwritable --out" 1 "cannot write --out $TMP/nodir/x.csv: No such file or directory" \
    export focus --org $C --period 2026-11 --out "$TMP/nodir/x.csv"
: >"$TMP/plainfile"
refused "--out under a file" 1 "cannot write --out $TMP/plainfile/x.csv" \
    export focus --org $C --period 2026-11 --out "$TMP/plainfile/x.csv"
refused "--out is the database" 1 "it is the database" export focus --org $C --period 2026-11 \
    --out "$DB"
refused "empty --out" 1 'invalid --out ""' export focus --org $C --period 2026-11 --out ""
printf 'old\n' >"$TMP/keep.csv"
refused "failed export keeps --out" 1 'no organization "o-nosuchorg00"' export focus \
    --org o-nosuchorg00 --period 2026-11 --out "$TMP/keep.csv"
check "the old file is untouched" test "$(cat "$TMP/keep.csv")" = old
check "no temporary file left after a failure" sh -c "! ls '$TMP' | grep -q '\\.tmp'"
refused "unknown verb" 2 "unknown export verb 'csv'" export csv
refused "no verb" 2 "usage: rebill export focus" export
refused "unknown option" 2 "unknown option '--format'" export focus --org $C --period 2026-11 \
    --format csv
refused "no database" 3 "no database at" --db "$TMP/none.db" export focus --org $C --period 2026-11

done_testing
