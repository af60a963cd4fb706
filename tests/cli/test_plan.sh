#!/bin/sh
# test_plan.sh -- `rebill plan` and `rebill price`: assign (content stored by hash: a month is
# priced the same after the file changed on disk), unassign, show, list, history; pricing a
# customer-month through a customer -> reseller -> distributor chain (default plan, assigned
# plans, --rules), human and JSON output; a run over every customer where one fails; and
# every refused form (exit code, message, database unchanged).
. tests/cli/lib.sh

D=o-distrib0001   # the distributor: pays AWS
R=o-reseller001   # the reseller: its bill is paid by D
C=o-customer01    # a customer of R
E=o-customer02    # a customer of D
FIX=tests/fixtures/pricing
SETUP_NOW=2026-09-01T00:00:00Z

# json_is NAME EXPR WANT: the last stdout, as JSON, gives WANT for the Python expression.
json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

# ---- help, and no database created ---------------------------------------------------------
ok "plan --help" plan --help
expect_out "plan help lists assign" "rebill plan assign --org O --rules FILE --from YYYY-MM"
ok "price --help" price --help
expect_out "price help" "rebill price --org O --period YYYY-MM"
rb plan
expect_rc "plan without a verb" 2
rb plan frobnicate
expect_rc "unknown plan verb" 2
expect_err "unknown plan verb message" "unknown plan verb 'frobnicate'"
rb plan show --org $C
expect_rc "plan show without a database" 3
check "no database created" test ! -e "$DB"

# ---- the organizations, accounts, chain and usage -------------------------------------------
n=0
for o in $D $R $C $E; do
    n=$((n + 1))
    ok "create $o" --now $SETUP_NOW org create --id $o --name "org $o" \
        --management-account "90000000000$n"
done
ok "account of C" --now $SETUP_NOW account add --org $C --account 111111111111 --name c1
ok "account of R" --now $SETUP_NOW account add --org $R --account 222222222222 --name r1
ok "account of E" --now $SETUP_NOW account add --org $E --account 333333333333 --name e1
link() {
    rb --now $SETUP_NOW transfer invite --payer "$2" --source "$1" --start 2026-10 --name "$1"
    expect_rc "invite $1 -> $2" 0
    ok "accept $1 -> $2" --now $SETUP_NOW transfer accept "$out" --as "$1"
}
link $C $R
link $R $D
link $E $D
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv $FIX/cur-2026-10.csv

# ---- the default plan: public list price -----------------------------------------------------
ok "price C without a plan" price --org $C --period 2026-11
expect_out "default plan named" "plan (default: list price)"
expect_out "C's EC2 at list" "AmazonEC2"
expect_out "C's total" "142.12"
# C's lines at list: EC2 69.12 + S3 23.00 + Marketplace 50.00; credit and tax hidden
ok "price C --json" --json price --org $C --period 2026-11
json_is "C total" "j['totals']['total']" "142.12"
json_is "C lines" "len(j['lines'])" "3"
json_is "C partner margin" "j['partner']['margin']" "0.00"
json_is "C hidden lines" "j['partner']['hidden']" "2"
json_is "C currency" "j['currency']" "USD"
json_is "C EC2 group" "[g['amount'] for g in j['groups'] if g['key']=='AmazonEC2'][0]" \
    "69.120000000000"
json_is "C line rule" "j['lines'][0]['rule']" "list"
# a month without usage (the transfer is in force in 2026-12, nothing imported): a zero bill in
# USD, its usage currency empty ("" when there is none), and no "invoice in X at R per" line
ok "price C in a month without usage" price --org $C --period 2026-12
expect_out "zero total" "  total                                                    0.00"
check "no conversion line without usage" sh -c "! printf '%s' \"\$1\" | grep -q 'invoice in'" - "$out"
expect_out "partner figures in the invoice currency" "margin 0.00 USD"
ok "price C in a month without usage --json" --json price --org $C --period 2026-12
json_is "no usage: usage currency" "j['usage_currency']" ""
json_is "no usage: currency" "j['currency']" "USD"
json_is "no usage: no lines" "len(j['lines'])" "0"
# R's bill (D bills it): RDS 172.80 + C's lines 142.12; D pays AWS 314.13
ok "price R" --json price --org $R --period 2026-11
json_is "R total" "j['totals']['total']" "314.92"
json_is "R margin" "j['partner']['margin']" "0.79"
# E: Lambda in the free tier (0) + t3.micro 7.488
ok "price E" --json price --org $E --period 2026-11
json_is "E total" "j['totals']['total']" "7.49"
ok "price --lines" price --org $C --period 2026-11 --lines
expect_out "--lines shows accounts" "111111111111"
expect_out "--lines shows the rule" "list"

# ---- assign the chain's plans ------------------------------------------------------------------
cp rules/chain-distributor.lua "$TMP/distributor.lua"
cp rules/chain-reseller.lua "$TMP/reseller.lua"
ok "assign R" plan assign --org $R --rules "$TMP/distributor.lua" --from 2026-11
expect_out "assign prints the hash" "$TMP/distributor.lua"
ok "assign C" --json plan assign --org $C --rules "$TMP/reseller.lua" --from 2026-11
json_is "assign JSON org" "j['org']" "$C"
json_is "assign JSON from" "j['from']" "2026-11"
json_is "assign JSON to" "j['to']" "None"
hash_c=$(json_get "j['hash']")
# R's bill: 172.80, 69.12, 23 at -4%, Marketplace 50 at cost, credit -10, tax 9.21:
# 165.888 + 66.3552 + 22.08 + 50 - 10 + 9.21 = 303.5332; cost 314.13
ok "price R with its plan" --json price --org $R --period 2026-11
json_is "R total" "j['totals']['total']" "303.53"
json_is "R margin" "j['partner']['margin']" "-10.60"
# C's bill: list 142.12, credit and tax passed at R's cost, 5% managed services = 7.106:
# 148.436; R's cost (D's prices): 66.3552 + 22.08 + 50 - 10 + 9.21 = 137.6452
ok "price C with its plan" --json price --org $C --period 2026-11
json_is "C total" "j['totals']['total']" "148.44"
json_is "C cost" "j['partner']['cost']" "137.65"
json_is "C margin" "j['partner']['margin']" "10.79"
json_is "C managed services" \
    "[g['amount'] for g in j['groups'] if g['key']=='Managed services'][0]" "7.106000000000"
json_is "C groups sorted, items last" "[g['key'] for g in j['groups']]" \
    "['AmazonEC2', 'AmazonS3', 'prodview-4x7abc', 'Managed services']"
ok "price C human" price --org $C --period 2026-11
expect_out "human names the plan" "$TMP/reseller.lua ($hash_c)"
expect_out "human subtotal" "148.44"
expect_out "human partner line" "partner only: price 148.44, cost 137.65, margin 10.79 USD"
ok "price C --lines with its plan" price --org $C --period 2026-11 --lines
expect_out "a passed credit, named by its line type" "Credit"
expect_out "a passed line's rule" "pass"
expect_out "an item's rule is its file:line" "reseller.lua:14"
# October is before the plans
ok "price C in October" --json price --org $C --period 2026-10
json_is "C October" "j['totals']['total']" "80.62"

# the file changes on disk: the stored content still prices November the same way
printf 'return rebill.plan { rebill.markup { percent = 50 } }\n' > "$TMP/reseller.lua"
ok "price C after the file changed" --json price --org $C --period 2026-11
json_is "C total unchanged" "j['totals']['total']" "148.44"
# --rules prices with the file as it is now, storing nothing
snapshot
ok "price C --rules" --json price --org $C --period 2026-11 --rules "$TMP/reseller.lua"
json_is "C with --rules" "j['totals']['total']" "213.18"  # 142.12 x 1.5
expect_unchanged "price --rules stores nothing"

# ---- show, list, history, unassign ------------------------------------------------------------
ok "assign the changed file from December" --now 2026-11-27T10:00:00Z plan assign --org $C \
    --rules "$TMP/reseller.lua" --from 2026-12 --to 2027-03
ok "plan show" plan show --org $C --period 2026-11
expect_out "show names the plan in force" "$C in 2026-11: $TMP/reseller.lua ($hash_c)"
expect_out "show lists the later assignment" "2026-12 2027-03 "
expect_out "show lists the months after it" "2027-04 open    $hash_c"
ok "plan show --json" --json plan show --org $C --period 2027-01
json_is "show JSON plan to" "j['plan']['to']" "2027-03"
json_is "show JSON assignments" "[a['from'] for a in j['assignments']]" \
    "['2026-11', '2026-12', '2027-04']"
ok "plan show --source" plan show --org $C --period 2026-11 --source
expect_out "the stored content, not the file on disk" "Reseller: list + 5% managed services"
ok "plan show of the default" plan show --org $E --period 2026-11
expect_out "default shown" "the default plan (public list price)"
ok "plan list" plan list --period 2026-11
expect_out "list has R" "$R"
expect_out "list has C" "$C"
ok "plan list --json" --json plan list --period 2027-05
json_is "list in May 2027" "[a['org'] for a in j]" "['$C', '$R']"
json_is "list: C back to the November plan" "[a['from'] for a in j if a['org']=='$C'][0]" "2027-04"
ok "unassign" plan unassign --org $C --from 2027-04
ok "plan history" --json plan history --org $C
json_is "history actions" "[e['action'] for e in j]" "['assign', 'assign', 'unassign']"
json_is "history times" "j[1]['at']" "2026-11-27T10:00:00Z"
ok "plan history human" plan history --org $E
expect_out "no history" "has never had a plan"

# ---- refused forms: exit code, message, database unchanged ------------------------------------
refused "assign unknown org" 1 'no organization "o-nobody00000"' \
    plan assign --org o-nobody00000 --rules rules/list-price.lua --from 2026-11
refused "assign bad org id" 1 'invalid organization id "O-BAD"' \
    plan assign --org O-BAD --rules rules/list-price.lua --from 2026-11
refused "assign bad month" 1 'invalid --from' \
    plan assign --org $C --rules rules/list-price.lua --from 2026-13
refused "assign to before from" 1 'the last month 2026-10 is before the first 2026-11' \
    plan assign --org $C --rules rules/list-price.lua --from 2026-11 --to 2026-10
refused "assign missing file" 1 "cannot read --rules $TMP/nope.lua" \
    plan assign --org $C --rules "$TMP/nope.lua" --from 2026-11
printf 'return rebill.plan {\n  rebill.markup { percnt = 5 },\n}\n' > "$TMP/bad.lua"
refused "assign a file that does not compile" 1 \
    "$TMP/bad.lua:2: rebill.markup: unknown key 'percnt'" \
    plan assign --org $C --rules "$TMP/bad.lua" --from 2026-11
refused "assign without --rules" 2 "missing --rules" plan assign --org $C --from 2026-11
refused "assign unknown option" 2 "unknown option '--form'" \
    plan assign --org $C --rules rules/list-price.lua --form 2026-11
refused "unassign nothing" 1 "$C has no plan from 2020-01 on" \
    plan unassign --org $C --from 2020-01 --to 2020-02
refused "history unknown org" 1 'no organization "o-nobody00000"' plan history --org o-nobody00000
refused "price unknown org" 1 'no organization "o-nobody00000"' \
    price --org o-nobody00000 --period 2026-11
refused "price bad period" 1 "invalid --period" price --org $C --period 2026-1
refused "price without --period" 2 "missing --period" price --org $C
refused "price --org and --all" 2 "give --org O or --all" price --org $C --all --period 2026-11
refused "price --rules that fails" 1 "$TMP/bad.lua:2: rebill.markup: unknown key 'percnt'" \
    price --org $C --period 2026-11 --rules "$TMP/bad.lua"

# ---- a run over every customer: one fails, the others are priced -------------------------------
cat > "$TMP/boom.lua" <<'EOF'
return rebill.plan {
    on_line = function(line)
        if line.service == "AWSLambda" then error("no Lambda price") end
    end,
}
EOF
ok "assign a plan that fails on E" plan assign --org $E --rules "$TMP/boom.lua" --from 2026-11
snapshot
rb price --all --period 2026-11
expect_rc "price --all with a failure" 1
expect_err "the failure names file:line and the line item" \
    "$E: $TMP/boom.lua:3: no Lambda price (pricing account 333333333333, service AWSLambda"
expect_out "C is priced" "$C"
expect_out "R is priced" "$R"
expect_out "summary" "2 customers priced, 1 failed"
expect_unchanged "price --all stores nothing"
rb --json price --all --period 2026-11
expect_rc "price --all --json with a failure" 1
json_is "all JSON failed" "j['failed']" "1"
json_is "all JSON customers" "[c['customer'] for c in j['customers']]" "['$C', '$E', '$R']"
json_is "all JSON C total" "j['customers'][0]['total']" "148.44"
ok "unassign E" plan unassign --org $E --from 2026-11
ok "price --all succeeds" price --all --period 2026-11
expect_out "3 priced" "3 customers priced, 0 failed"

done_testing
