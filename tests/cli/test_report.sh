#!/bin/sh
# test_report.sh -- `rebill report margins` and `rebill close`: margins per customer and
# service, hand-computed to the cent from the pricing fixtures (cost plus 8% and the default
# list-price plan); a range of months sums its months; md, json and csv agree; the close of a
# period reconciles mapped + unmapped usage with what was imported, exactly; bad input is
# refused with the database unchanged.
. tests/cli/lib.sh

P=o-partner0001; C=o-customer01; E=o-customer02; N=o-nopayer0001
FIX=tests/fixtures/pricing
S=2026-09-01T00:00:00Z

n=0
for o in $P $C $E $N; do
    n=$((n + 1))
    ok "create $o" --now $S org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "account of C" --now $S account add --org $C --account 111111111111 --name c1
ok "account of N" --now $S account add --org $N --account 222222222222 --name n1
ok "account of E" --now $S account add --org $E --account 333333333333 --name e1
for src in $C $E; do
    rb --now $S transfer invite --payer $P --source $src --start 2026-10 --name "$src"
    expect_rc "invite $src" 0
    ok "accept $src" --now $S transfer accept "$out" --as $src
done
ok "import usage" usage import --quiet $FIX/cur-2026-10.csv $FIX/cur-2026-11.csv
ok "C plan: cost plus 8%" plan assign --org $C --rules rules/global-markup.lua --from 2026-10

# ---- margins, hand-computed ------------------------------------------------------------------
# C, 2026-11, cost plus 8% (credits and tax passed at cost):
#   EC2: billed 34.56 + 34.56 - 10.00 + 9.21 = 68.33; charged 69.12 x 1.08 - 10 + 9.21 = 73.8596;
#        margin 5.5296; 5.5296 / 68.33 = 8.0925..% -> 8.09
#   S3:  23.00 -> 24.84, margin 1.84, 8.00%; marketplace 50.00 -> 54.00, margin 4.00, 8.00%
# E, default list-price plan: EC2 7.488 at list = billed: margin 0, 0.00%; Lambda billed 0: n/a
ok "margins md" report margins --period 2026-11
expect_out "md title" "# Margins 2026-11"
Z=0.000000000000
expect_out "md EC2 of C" \
    "| $C | AmazonEC2 | USD | 68.33 | 68.33 | 73.859600000000 | 5.529600000000 | 8.09 |"
expect_out "md S3 of C" \
    "| $C | AmazonS3 | USD | 23.00 | 23.00 | 24.840000000000 | 1.840000000000 | 8.00 |"
expect_out "md EC2 of E at list" \
    "| $E | AmazonEC2 | USD | 7.488 | 7.488 | 7.488000000000 | $Z | 0.00 |"
expect_out "md n/a when cost is 0" "| $E | AWSLambda | USD | 0 | 0 | $Z | $Z | n/a |"
check "org without payer is no customer" sh -c "! printf '%s' \"\$1\" | grep -q $N" - "$out"

ok "margins json" report margins --period 2026-11 --format json
check "json rows" test "$(json_get "len(j['rows'])")" = 5
check "json EC2 margin exact" test "$(json_get "j['rows'][0]['margin']")" = 5.529600000000
check "json EC2 pct" test "$(json_get "j['rows'][0]['margin_pct']")" = 8.09
check "json marketplace charged" test "$(json_get "j['rows'][2]['charged']")" = 54.000000000000
check "json n/a" test "$(json_get "j['rows'][3]['margin_pct']")" = n/a
ok "--json is json too" --json report margins --period 2026-11
check "--json period" test "$(json_get "j['from']")" = 2026-11

ok "margins csv for one org" report margins --period 2026-11 --org $E --format csv
expect_out "csv header" "customer,service,currency,billed,cost,charged,margin,margin_pct"
expect_out "csv row" "o-customer02,AmazonEC2,USD,7.488,7.488,7.488000000000,0.000000000000,0.00"
check "--org keeps only that customer" sh -c "! printf '%s' \"\$1\" | grep -q $C" - "$out"

# Oct + Nov: EC2 69.12 + 68.33 = 137.45 billed; 74.6496 + 73.8596 = 148.5092 charged;
# margin 11.0592; 11.0592 / 137.45 = 8.0460..% -> 8.05. S3 11.50 + 23.00 = 34.50 -> 37.26.
ok "margins over two months" report margins --period 2026-10 --to 2026-11 --org $C --format csv
expect_out "range EC2" "$C,AmazonEC2,USD,137.45,137.45,148.509200000000,11.059200000000,8.05"
expect_out "range S3" "o-customer01,AmazonS3,USD,34.50,34.50,37.260000000000,2.760000000000,8.00"

# ---- close ------------------------------------------------------------------------------------
# 2026-11 imported: 69.12 + 23 - 10 + 9.21 + 50 + 172.80 + 0 + 7.488 + 5 = 326.618
# mapped (C and E, whose bills P pays): 141.33 + 7.488 = 148.818
# unmapped: N has no payer (172.80), 999999999999 is in no org (5.00): 177.80
ok "close 2026-11 reconciles" close --period 2026-11
expect_out "reconciled" "2026-11 reconciled"
expect_out "unknown account listed as unmapped" "999999999999"
expect_out "no-payer org listed as unmapped" "no payer in force"
ok "close json" --json close --period 2026-11
check "json reconciled" test "$(json_get "j['reconciled']")" = True
check "json imported" test "$(json_get "j['currencies'][0]['imported']")" = 326.618
check "json mapped" test "$(json_get "j['currencies'][0]['mapped']")" = 148.818
check "json unmapped" test "$(json_get "j['currencies'][0]['unmapped']")" = 177.80
check "json difference" test "$(json_get "j['currencies'][0]['difference']")" = 0.000
check "json unmapped rows" test "$(json_get "len(j['unmapped'])")" = 2
# 2026-10: C's 69.12 + 11.50 mapped, N's 172.80 unmapped, imported 253.42
ok "close 2026-10 json" close --period 2026-10 --json
check "oct mapped" test "$(json_get "j['currencies'][0]['mapped']")" = 80.62
check "oct unmapped" test "$(json_get "j['currencies'][0]['unmapped']")" = 172.80
check "oct imported" test "$(json_get "j['currencies'][0]['imported']")" = 253.42
ok "close of a month with no imports" --json close --period 2026-08
check "nothing imported: no currency" test "$(json_get "len(j['currencies'])")" = 0
check "nothing imported reconciles" test "$(json_get "j['reconciled']")" = True

# ---- bad input --------------------------------------------------------------------------------
refused "margins bad period" 1 "invalid --period" report margins --period 2026-13
refused "margins bad --to" 1 "invalid --to" report margins --period 2026-11 --to nov
refused "margins --to before --period" 1 "invalid --to 2026-10: before --period 2026-11" \
    report margins --period 2026-11 --to 2026-10
refused "margins unknown org" 1 'no organization "o-nosuchorg00"' report margins \
    --period 2026-11 --org o-nosuchorg00
refused "margins bad org id" 1 'invalid --org "O-BAD"' report margins --period 2026-11 --org O-BAD
refused "margins bad format" 1 'invalid --format "pdf"' report margins --period 2026-11 \
    --format pdf
refused "margins missing period" 2 "missing --period" report margins
refused "unknown report" 2 "unknown report 'profit'" report profit --period 2026-11
refused "close bad period" 1 "invalid --period" close --period 2026-1x
refused "close missing period" 2 "missing --period" close
refused "close unknown option" 2 "unknown option '--force'" close --period 2026-11 --force

done_testing
