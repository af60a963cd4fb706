#!/bin/sh
# test_rules.sh -- `rebill rules`: check (every example compiles; mistakes reported as
# FILE:LINE: what), test (every example in rules/ ships tests and passes them; failures print
# their differences and the command exits 1; files without tests or that do not compile
# count as failures), and diff (a customer's plans against a new rule file over a range of
# months, totals and margins, stores nothing). None of these commands creates a database,
# except diff, which needs one.
. tests/cli/lib.sh

FIX=tests/fixtures/pricing
SETUP_NOW=2026-09-01T00:00:00Z

json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

# ---- help ------------------------------------------------------------------------------------
ok "rules --help" rules --help
expect_out "rules help" "rebill rules check FILE..."
expect_out "rules help: diff" "rebill rules diff --org O --period YYYY-MM[..YYYY-MM]"
rb rules
expect_rc "rules without a verb" 2
rb rules lint x.lua
expect_rc "unknown rules verb" 2
expect_err "unknown rules verb message" "unknown rules verb 'lint'"

# ---- check -----------------------------------------------------------------------------------
ok "check every example" rules check rules/*.lua
nfiles=$(ls rules/*.lua | wc -l)
check "at least ten examples" test "$nfiles" -ge 10
check "check says ok for each" test "$(printf '%s\n' "$out" | grep -c '^ok rules/')" -eq "$nfiles"
check "check creates no database" test ! -e "$DB"

w() { printf '%s' "$2" > "$TMP/$1"; }
w unknown-key.lua 'return rebill.plan {
    name = "x",
    rebill.discount {
        service = "AmazonEC2",
        percnt = 10,
    },
}'
rb rules check "$TMP/unknown-key.lua"
expect_rc "unknown key" 1
expect_err "unknown key: file:line and the allowed keys" \
    "$TMP/unknown-key.lua:3: rebill.discount: unknown key 'percnt' (allowed: percent, service, entity, usage_type, operation)"
w unknown-plan-key.lua 'return rebill.plan { nmae = "x" }'
rb rules check "$TMP/unknown-plan-key.lua"
expect_err "unknown plan key" "$TMP/unknown-plan-key.lua:1: rebill.plan: unknown key 'nmae'"
w syntax.lua 'return rebill.plan {
  rebill.markup { percent = 5 }
  rebill.markup { percent = 6 },
}'
rb rules check "$TMP/syntax.lua"
expect_rc "syntax error" 1
expect_err "syntax error with its line" "$TMP/syntax.lua:3:"
w api.lua 'return rebill.plan { rebill.dicsount { percent = 5 } }'
rb rules check "$TMP/api.lua"
expect_rc "unknown API" 1
expect_err "unknown API named" "$TMP/api.lua:1: attempt to call a nil value (field 'dicsount')"
w notplan.lua 'return { 1, 2, 3 }'
rb rules check "$TMP/notplan.lua"
expect_err "not a plan" "$TMP/notplan.lua: the rule file must return rebill.plan{...}"
w badtype.lua 'return rebill.plan { rebill.rate { usage_type = "X", price = {} } }'
rb rules check "$TMP/badtype.lua"
expect_err "bad type" "$TMP/badtype.lua:1: rebill.rate: 'price' must be an amount (money, a number or decimal text), not a table"
w dup.lua 'return rebill.plan {
    rebill.discount { service = "AmazonS3", percent = 5 },
    rebill.discount { service = "AmazonS3", percent = 6 },
}'
rb rules check "$TMP/dup.lua"
expect_err "two rules for one scope" "$TMP/dup.lua:3: a second rule for service AmazonS3 (the first is at $TMP/dup.lua:2)"
w escape.lua 'return rebill.plan { on_line = function(l) return os.execute("true") end }'
ok "a hook that would escape still compiles (it fails when it runs)" rules check "$TMP/escape.lua"
w loop.lua 'while true do end'
rb rules check "$TMP/loop.lua"
expect_rc "a loop in the main chunk" 1
expect_err "limit named" "$TMP/loop.lua:1: instruction limit exceeded"
w noload.lua 'return load("return rebill.plan {}")()'
rb rules check "$TMP/noload.lua"
expect_rc "load is blocked" 1
expect_err "load is blocked, with the line" "$TMP/noload.lua:1: blocked function 'load'"
rb rules check "$TMP/missing.lua"
expect_rc "missing file" 1
expect_err "missing file message" "cannot read $TMP/missing.lua"
rb rules check "$TMP/unknown-key.lua" rules/list-price.lua
expect_rc "one bad file of two" 1
expect_out "the good one is ok" "ok rules/list-price.lua"
rb rules check
expect_rc "check without files" 2

# ---- test ------------------------------------------------------------------------------------
ok "every example passes its tests" rules test rules
expect_out "a closing count" " passed, 0 failed"
for f in rules/*.lua; do
    case "$out" in *"ok   $f: "*) _pass ;; *) _fail "$f ships tests" "$out" ;; esac
done
total=$(printf '%s\n' "$out" | grep -c '^ok ')
check "at least 20 example tests" test "$total" -ge 20
check "the count matches" test "$(printf '%s\n' "$out" | tail -n 1)" = "$total passed, 0 failed"
ok "rules test defaults to rules/" rules test
check "same count by default" test "$(printf '%s\n' "$out" | tail -n 1)" = "$total passed, 0 failed"
ok "one file" rules test rules/business-support.lua
expect_out "one file's count" "3 passed, 0 failed"

w failing.lua 'return rebill.plan {
    base = "billed",
    rebill.markup { percent = 10 },
    tests = {
        rebill.test {
            name = "right",
            usage = "service,billed\nAmazonEC2,100\n",
            expect = { lines = { AmazonEC2 = "110.00" }, total = "110.00" },
        },
        rebill.test {
            name = "wrong on purpose",
            usage = "service,billed\nAmazonEC2,100\nAmazonS3,10\n",
            expect = { lines = { AmazonEC2 = "111.00", AmazonRDS = "1.00" }, margin = "12.00",
                       currency = "EUR" },
        },
        rebill.test {
            name = "bad fixture",
            usage = "service,billed,colour\nAmazonEC2,1,red\n",
            expect = { total = 1 },
        },
        rebill.test {
            name = "expects an error that does not come",
            usage = "service,billed\nAmazonEC2,1\n",
            expect_error = "boom",
        },
    },
}'
rb rules test "$TMP/failing.lua"
expect_rc "a failing test" 1
expect_out "the passing one" "ok   $TMP/failing.lua: right"
expect_out "the failing one" "FAIL $TMP/failing.lua: wrong on purpose"
expect_out "a wrong amount" "    AmazonEC2: want 111.00, got 110.00"
expect_out "an unexpected line" "    AmazonS3: not expected, got 11.00"
expect_out "a missing line" "    AmazonRDS: want 1.00, got no line"
expect_out "a wrong margin" "    margin: want 12.00, got 11.00"
expect_out "a wrong currency" "    currency: want EUR, got USD"
expect_out "a bad fixture" "unknown column \"colour\""
expect_out "an error that does not come" "want an error containing \"boom\", got none"
expect_out "the count" "1 passed, 3 failed"
w notests.lua 'return rebill.plan { base = "list" }'
rb rules test "$TMP/notests.lua"
expect_rc "a file without tests" 1
expect_out "no tests said" "$TMP/notests.lua: no tests (add tests = { rebill.test{...} } to the plan)"
expect_out "counted as a failure" "0 passed, 1 failed"
rb rules test "$TMP/syntax.lua"
expect_rc "a file that does not compile" 1
expect_out "its message" "FAIL $TMP/syntax.lua"
mkdir "$TMP/dir"
cp rules/global-markup.lua "$TMP/failing.lua" "$TMP/dir/"
rb rules test "$TMP/dir"
expect_rc "a directory with a failure" 1
expect_out "a directory's files in order" "$TMP/dir/failing.lua"
expect_out "a directory's count" "2 passed, 3 failed"
w usagefile.lua 'return rebill.plan { tests = { rebill.test { name = "f", usage_file = "nope.csv", expect = { total = 0 } } } }'
rb rules test "$TMP/usagefile.lua"
expect_rc "a missing fixture file" 1
expect_out "the missing fixture named" "cannot read $TMP/nope.csv"
rb rules test "$TMP/nothing-here"
expect_rc "a missing path" 1
expect_err "missing path message" "cannot read $TMP/nothing-here: no such file or directory"
# a hook sees a rule's whole scope, however long its names (256 bytes each, the most a scope
# value may have): "SKU " + 256 + " / " + 256 + " / " + 256 = 778 bytes
long=$(printf '%0256d' 0 | tr 0 s)
w longscope.lua "local S, U, O = \"$long\", (\"$long\"):gsub('s', 'u'), (\"$long\"):gsub('s', 'o')
return rebill.plan {
    rebill.markup { service = S, usage_type = U, operation = O, percent = 0 },
    on_line = function(line) return #line.rule end,
    tests = { rebill.test { name = \"rule text\",
        usage = 'service,usage_type,operation,billed\\n' .. S .. ',' .. U .. ',' .. O .. ',1\\n',
        expect = { total = 778 } } },
}"
rb rules test "$TMP/longscope.lua"
expect_rc "a long scope's text reaches the hook whole" 0
expect_out "its test passes" "1 passed, 0 failed"
check "rules test creates no database" test ! -e "$DB"

# ---- diff ------------------------------------------------------------------------------------
C=o-customer01
R=o-reseller001
D=o-distrib0001
n=0
for o in $D $R $C; do
    n=$((n + 1))
    ok "create $o" --now $SETUP_NOW org create --id $o --name "org $o" \
        --management-account "90000000000$n"
done
ok "account of C" --now $SETUP_NOW account add --org $C --account 111111111111 --name c1
ok "account of R" --now $SETUP_NOW account add --org $R --account 222222222222 --name r1
for pair in "$C $R" "$R $D"; do
    set -- $pair
    rb --now $SETUP_NOW transfer invite --payer "$2" --source "$1" --start 2026-10 --name "$1"
    ok "accept $1 -> $2" --now $SETUP_NOW transfer accept "$out" --as "$1"
done
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv $FIX/cur-2026-10.csv
ok "assign R" plan assign --org $R --rules rules/chain-distributor.lua --from 2026-11
ok "assign C" plan assign --org $C --rules rules/chain-reseller.lua --from 2026-11

snapshot
ok "diff over two months" rules diff --org $C --period 2026-10..2026-11 \
    --rules rules/global-markup.lua
# Oct: list 80.62 vs cost x 1.08 = 87.0696; Nov: 148.436 vs 148.720016
# EC2: 69.12 + 68.33 = 137.45 vs 74.6496 + 70.873616 = 145.52
expect_out "the EC2 row" "AmazonEC2"
expect_out "EC2 figures" "137.45         145.52           8.07"
expect_out "the total row" "229.06         235.79           6.73"
expect_out "the margins" "partner margin 10.79 -> 17.52 USD (cost 218.27, 2 months)"
expect_unchanged "diff stores nothing"
ok "diff --json" --json rules diff --org $C --period 2026-11 --rules rules/global-markup.lua
json_is "diff JSON months" "j['months']" "1"
json_is "diff JSON new total" "j['totals']['new']" "148.72"
json_is "diff JSON current total" "j['totals']['current']" "148.44"
json_is "diff JSON margin now" "j['totals']['margin_current']" "10.79"
json_is "diff JSON margin new" "j['totals']['margin_new']" "11.07"
json_is "diff JSON rows" "[r['key'] for r in j['rows']]" \
    "['AmazonEC2', 'AmazonS3', 'prodview-4x7abc', 'Managed services']"
json_is "diff JSON managed services dropped" "j['rows'][3]['delta']" "-7.11"
refused "diff bad range" 1 'the last month is before the first' \
    rules diff --org $C --period 2026-11..2026-10 --rules rules/global-markup.lua
refused "diff bad period" 1 'invalid --period' \
    rules diff --org $C --period 2026-11..26-12 --rules rules/global-markup.lua
refused "diff unknown org" 1 'no organization "o-nobody00000"' \
    rules diff --org o-nobody00000 --period 2026-11 --rules rules/global-markup.lua
refused "diff new rules that fail" 1 "2026-11: new plan: $TMP/unknown-key.lua:3: rebill.discount" \
    rules diff --org $C --period 2026-11 --rules "$TMP/unknown-key.lua"
refused "diff without --rules" 2 'missing --rules' rules diff --org $C --period 2026-11
refused "diff missing rules file" 1 "cannot read --rules $TMP/nope.lua" \
    rules diff --org $C --period 2026-11 --rules "$TMP/nope.lua"

done_testing
