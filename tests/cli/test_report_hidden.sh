#!/bin/sh
# test_report_hidden.sh -- `rebill report margins` with lines the pass-through policy hides
# from the invoice: they are in rows of their own (hidden: yes) under their service with
# their cost (billed, or in a chain the payer's price) and charged 0, so a hidden credit is
# margin and a hidden tax a loss; each customer's total equals `rebill price`'s partner totals
# for the same customer-month; the invoice still does not show the hidden lines.
. tests/cli/lib.sh

P=o-partner0001; C=o-customer01; D=o-distrib0001; R=o-reseller001; K=o-endcust0001
S=2026-09-01T00:00:00Z
M=2026-11

n=0
for o in $P $C $D $R $K; do
    n=$((n + 1))
    ok "create $o" --now $S org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "account of C" --now $S account add --org $C --account 111111111111 --name c1
ok "account of K" --now $S account add --org $K --account 444444444444 --name k1
for pair in "$P $C" "$D $R" "$R $K"; do
    set -- $pair
    rb --now $S transfer invite --payer "$1" --source "$2" --start $M --name "$1 pays $2"
    expect_rc "invite $1 -> $2" 0
    ok "accept $2" --now $S transfer accept "$out" --as "$2"
done

H='bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,lineItem/LineItemType'
H="$H,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation"
H="$H,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost"
H="$H,pricing/publicOnDemandCost,product/region"
day=2026-11-01T00:00:00Z
line() { # ACCOUNT LINE_TYPE SERVICE USAGE_TYPE QUANTITY BILLED LIST
    echo "AWS,$day,$1,$2,$day,$3,$4,,$5,USD,$6,$7,us-east-1"
}
{
    echo "$H"
    line 111111111111 Usage AmazonEC2 BoxUsage:m5.large 720 100.00 100.00
    line 111111111111 Usage AmazonS3 TimedStorage-ByteHrs 1000 20.00 20.00
    line 111111111111 Credit AmazonEC2 "" 0 -30.00 0
    line 111111111111 Tax AmazonEC2 "" 0 12.00 0
    line 111111111111 Tax AmazonS3 "" 0 2.40 0
    line 444444444444 Usage AmazonEC2 BoxUsage:m5.xlarge 720 200.00 200.00
    line 444444444444 Tax AmazonEC2 "" 0 10.00 0
    line 444444444444 Credit AmazonEC2 "" 0 -20.00 0
} >"$TMP/cur.csv"
ok "import usage" usage import --quiet "$TMP/cur.csv"

# The partner keeps the customers' credits and pays their taxes: both hidden.
cat >"$TMP/hide.lua" <<'LUA'
return rebill.plan {
    name = "Cost plus 10%, credits and tax kept by the partner",
    base = "billed",
    rebill.markup { percent = 10 },
    passthrough = { Credit = "hide", Tax = "hide" },
}
LUA
# The distributor charges the reseller 5% on usage and on tax; credits pass at cost.
cat >"$TMP/dist.lua" <<'LUA'
return rebill.plan {
    name = "Distributor: cost plus 5%, tax too",
    base = "billed",
    rebill.markup { percent = 5 },
    passthrough = { Tax = "price" },
}
LUA
ok "C: hide credits and tax" plan assign --org $C --rules "$TMP/hide.lua" --from $M
ok "K: hide credits and tax" plan assign --org $K --rules "$TMP/hide.lua" --from $M
ok "R: distributor's plan" plan assign --org $R --rules "$TMP/dist.lua" --from $M

# ---- rows, hand-computed -----------------------------------------------------------------------
# C: EC2 100.00 -> 110.00; S3 20.00 -> 22.00; hidden EC2 credit -30.00 + tax 12.00 = -18.00,
#    hidden S3 tax 2.40. Margin of the hidden rows = -cost: +18.00 and -2.40.
#    Total: billed = cost = 100 + 20 - 30 + 12 + 2.40 = 104.40; charged 132.00; margin 27.60;
#    27.60 / 104.40 = 26.436..% -> 26.44
# K (chain D -> R -> K): K's cost is R's price under D's plan: EC2 210.00, tax 10.50, credit
#    -20.00 (passed). Charged 231.00. Hidden: billed 10 - 20 = -10.00, cost 10.50 - 20 = -9.50.
#    Total: billed 190.00, cost 200.50, charged 231.00, margin 30.50, 15.212..% -> 15.21
Z=0
ok "margins md" report margins --period $M
expect_out "md header has the marker column" "| Margin % | Hidden |"
expect_out "md EC2 of C shown" \
    "| $C | AmazonEC2 | USD | 100.00 | 100.00 | 110.000000000000 | 10.000000000000 | 10.00 | no |"
expect_out "md EC2 of C hidden: credit kept" \
    "| $C | AmazonEC2 | USD | -18.00 | -18.00 | $Z | 18.00 | -100.00 | yes |"
expect_out "md S3 of C hidden: tax paid" \
    "| $C | AmazonS3 | USD | 2.40 | 2.40 | $Z | -2.40 | -100.00 | yes |"
expect_out "md hidden row right after its service" "| 10.00 | no |
| $C | AmazonEC2 | USD | -18.00"
expect_out "md chain: hidden cost is the payer's price" \
    "| $K | AmazonEC2 | USD | -10.00 | -9.500000000000 | $Z | 9.500000000000 | -100.00 | yes |"
expect_out "md totals table" "## Totals"
expect_out "md total of C" \
    "| $C | USD | 104.40 | 104.40 | 132.000000000000 | 27.600000000000 | 26.44 |"
expect_out "md total of K" \
    "| $K | USD | 190.00 | 200.500000000000 | 231.000000000000 | 30.500000000000 | 15.21 |"
check "R hid nothing: no hidden row" sh -c "! printf '%s' \"\$1\" | grep -q '$R.*| yes |'" - "$out"

ok "margins csv" report margins --period $M --org $C --format csv
expect_out "csv header" "customer,service,currency,billed,cost,charged,margin,margin_pct,hidden"
expect_out "csv shown row" \
    "$C,AmazonEC2,USD,100.00,100.00,110.000000000000,10.000000000000,10.00,no"
expect_out "csv hidden row" "$C,AmazonEC2,USD,-18.00,-18.00,$Z,18.00,-100.00,yes"
check "csv: 4 rows, no totals" test "$(printf '%s\n' "$out" | wc -l)" = 5

ok "margins json" report margins --period $M --format json
check "json hidden marker" \
    test "$(json_get "[r['hidden'] for r in j['rows'] if r['customer'] == '$C']")" \
    = "[False, True, False, True]"
check "json hidden charged 0" test "$(json_get "j['rows'][1]['charged']")" = $Z
check "json totals per customer" test "$(json_get "[t['customer'] for t in j['totals']]")" \
    = "['$C', '$K', '$R']"

# ---- totals == `rebill price` partner totals, for the same customer-month ------------------------
# Exact sums against price's minor-unit figures: the fixture's amounts are exact to the cent,
# so the two must be equal as numbers, with nothing to round.
for o in $C $K $R; do
    ok "price $o" --json price --org $o --period $M
    partner=$(json_get "' '.join(j['partner'][k] for k in ('price', 'cost', 'margin', 'billed'))")
    hidden=$(json_get "j['partner']['hidden']")
    ok "margins of $o" report margins --period $M --org $o --format json
    tot=$(json_get "' '.join(j['totals'][0][k] for k in ('charged', 'cost', 'margin', 'billed'))")
    nhid=$(json_get "int(any(r['hidden'] for r in j['rows']))")
    check "$o: report total equals price's partner totals ($tot / $partner)" python3 -c "
from decimal import Decimal as D
import sys
a, b = sys.argv[1].split(), sys.argv[2].split()
sys.exit(0 if len(a) == 4 and [D(x) for x in a] == [D(x) for x in b] else 1)" "$tot" "$partner"
    case $o in $R) want=0 ;; *) want=1 ;; esac
    check "$o: hidden rows exactly when price hid lines ($hidden)" \
        test "$nhid" = "$want" -a "$( [ "$hidden" -gt 0 ] && echo 1 || echo 0)" = "$want"
done

# ---- the customer never sees the hidden lines ----------------------------------------------------
ok "preview json of C" invoice preview --org $C --period $M --format json
check "invoice lines are the shown usage only" \
    test "$(json_get "[(l['kind'], l['service'], l['amount']) for l in j['lines']]")" \
    = "[('usage', 'AmazonEC2', '110.00'), ('usage', 'AmazonS3', '22.00')]"
check "invoice total is the shown lines only" test "$(json_get "j['total']")" = 132.00
ok "preview md of C" invoice preview --org $C --period $M
out=$(printf '%s' "$out" | tr -d '\\') # Markdown escapes: "110\.00"
expect_out "invoice of C shows its EC2 usage" "| AmazonEC2 | 110.00 |"
for amount in 30.00 12.00 2.40 18.00 104.40; do
    check "invoice of C does not show $amount" \
        sh -c "! printf '%s' \"\$1\" | grep -q -- '$amount'" - "$out"
done

done_testing
