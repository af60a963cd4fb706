#!/bin/sh
# test_usage.sh -- `rebill usage`: every real export in ../shared/data imports and its totals
# match an independent recomputation (tests/tools/usage_ref.py, Python csv + decimal); gzip
# equals plain; identical content changes nothing; a restated month replaces the earlier
# import; a kill -9 inside the write leaves the earlier import intact; each bad input is
# refused with its message and the database unchanged; --max-errors with --rejects; kept
# tags; summary, unmapped and manifest; the progress bar only on a terminal.
. tests/cli/lib.sh

FIX=tests/fixtures/usage
DATA=../shared/data

json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

no_db() {
    if [ ! -e "$DB" ]; then _pass; else _fail "$1" "$(ls -la "$TMP")"; fi
}

# ---- help and usage errors --------------------------------------------------------------
ok "usage --help" usage --help
expect_out "help lists import" "rebill usage import FILE..."
expect_out "help lists manifest" "rebill usage manifest"
rb usage
expect_rc "usage without a verb: exit 2" 2
rb usage frob
expect_rc "unknown usage verb: exit 2" 2
expect_err "unknown verb named" "unknown usage verb 'frob'"
rb usage import
expect_rc "import without a file: exit 2" 2
expect_err "import without a file: message" "needs at least one FILE"
rb usage import $FIX/cur_small.csv --max-errors 3
expect_rc "--max-errors without --rejects: exit 2" 2
expect_err "--max-errors needs --rejects" "--max-errors needs --rejects FILE"
rb usage import $FIX/cur_small.csv --rejects "$TMP/r.csv"
expect_rc "--rejects without --max-errors: exit 2" 2
rb usage import $FIX/cur_small.csv --max-errors -1 --rejects "$TMP/r.csv"
expect_rc "negative --max-errors: exit 1" 1
expect_err "negative --max-errors named" "invalid --max-errors \"-1\""
rb usage import $FIX/cur_small.csv --format xml
expect_rc "unknown --format: exit 1" 1
expect_err "unknown --format named" "invalid --format \"xml\": want cur, cur2 or focus"
rb usage import $FIX/cur_small.csv --source "no spaces"
expect_rc "bad --source: exit 1" 1
expect_err "bad --source named" "invalid source name \"no spaces\""
no_db "no database after refused commands"

# ---- every real export imports, and its totals match the independent recomputation -------
for f in $DATA/*.csv; do
    name=$(basename "$f")
    ok "import $name" usage import "$f"
    expect_out "$name: summary line" "imported "
    run python3 tests/tools/usage_ref.py compare "$REBILL" "$DB" "$f"
    expect_rc "$name: per-period totals equal Python csv + decimal" 0
done
rb usage import $DATA/cur-legacy-focus-converters.csv --source s2
expect_out "CUR: rows and period on the summary line" \
    "imported 1281 rows from 1 file into 1 period (2023-11) of source s2, 0 rejected"
expect_out "CUR: amounts on the summary line" "; USD billed 1.6823086974 list 3.3561726949"
rb usage import $DATA/focus-1.0-sample-finops-foundation.csv --source s2
expect_out "FOCUS sample: two billing periods in one file" "into 2 periods (2024-09, 2024-10)"
ok "manifest" usage manifest --json
json_is "manifests: 4 periods of one source, 3 of the other" "len(j)" 7
json_is "the CUR manifest names its file" \
    "[m['files'][0]['name'] for m in j if m['period']=='2023-11'][0]" \
    "cur-legacy-focus-converters.csv"
json_is "the XXH64 is kept" "len(j[0]['files'][0]['xxh64'])" 16

# ---- the benchmark's generator: every line type, all three formats -----------------------
# (built here as tests/cli/test_gen.sh builds it: it never links the engine)
if ${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -pthread -o "$TMP/gen" tests/bench/gen.c \
    2>"$TMP/gen.err"; then
    for f in cur cur2 focus; do
        "$TMP/gen" --format $f --rows 20000 --seed 3 --out "$TMP/gen-$f.csv"
        DB="$TMP/gen-$f.db"
        ok "import generated $f" usage import "$TMP/gen-$f.csv"
        run python3 tests/tools/usage_ref.py compare "$REBILL" "$DB" "$TMP/gen-$f.csv"
        expect_rc "generated $f: totals (effective too) equal the recomputation" 0
    done
else
    _fail "the generator builds" "$(cat "$TMP/gen.err")"
fi
DB="$TMP/test.db"

# ---- fixtures: quirks, gzip equals plain, the Σ of aggregates ------------------------------
DB="$TMP/fix.db"
for f in cur_small cur2_small focus_small quirks; do
    ok "import $f" usage import $FIX/$f.csv
    run python3 tests/tools/usage_ref.py compare "$REBILL" "$DB" $FIX/$f.csv
    expect_rc "$f: totals equal the recomputation" 0
done
ok "summary by usage type" usage summary --period 2026-09 --by usage-type --json
json_is "quoted comma kept in a value" "j['groups'][0]['key']" "Box,Usage"
json_is "BOM, CRLF, blank line, last line without LF: 3 rows" "j['totals'][0]['rows']" 3
gzip -c $FIX/cur_small.csv >"$TMP/cur_small.csv.gz"
DB="$TMP/gz.db"
ok "import gzip" usage import "$TMP/cur_small.csv.gz"
ok "gzip summary" usage summary --period 2026-10 --by account --json
gz_out=$out
DB="$TMP/fix.db"
ok "plain summary" usage summary --period 2026-10 --by account --json
check "gzip and plain give the same aggregates" test "$gz_out" = "$out"
json_is "Σ aggregates == Σ input rows" "sum(g['rows'] for g in j['groups'])" 8

# ---- identical content: nothing changes, and it says so -----------------------------------
snapshot
ok "re-import identical" usage import $FIX/cur_small.csv
expect_out "says unchanged" "unchanged: 2026-10 of source default"
expect_unchanged "identical content: database byte-for-byte unchanged"

# ---- restatement: the second delivery of a month replaces the first ------------------------
DB="$TMP/re.db"
ok "import month v1" usage import $FIX/cur_small.csv
ok "restate month v2" usage import $FIX/cur_small_v2.csv
expect_out "v2 replaced v1" "2026-10  replaced"
ok "summary after restatement" usage summary --period 2026-10 --by account --json
json_is "only v2's accounts" "[g['key'] for g in j['groups']]" "['111111111111', '333333333333']"
json_is "only v2's amounts" "j['totals'][0]['billed']" "4.858"

# ---- kill -9 inside the write transaction leaves the first import intact -----------------
DB="$TMP/kill.db"
ok "import v1 before the crash" usage import $FIX/cur_small.csv
snapshot
REBILL_TEST_PAUSE_IN_TXN=1 "$REBILL" --db "$DB" usage import $FIX/cur_small_v2.csv \
    >"$TMP/kill.out" 2>"$TMP/kill.err" &
pid=$!
i=0
while ! grep -q "paused inside write transaction" "$TMP/kill.err" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "the import reached its write transaction" grep -q "paused inside" "$TMP/kill.err"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
expect_unchanged "after kill -9 the database is as before"
ok "summary after the crash" usage summary --period 2026-10 --json
json_is "the first import is intact" "j['totals'][0]['billed']" "0.757000983815488519"
ok "a later import works" usage import $FIX/cur_small_v2.csv
expect_out "and replaces it" "2026-10  replaced"

# ---- bad input: each refused with its message, the database unchanged ---------------------
DB="$TMP/bad.db"
ok "a database with data" usage import $FIX/cur_small.csv
head -1 $FIX/cur_small.csv >"$TMP/header.csv"
good=$(sed -n 2p $FIX/cur_small.csv)
bad() { # bad NAME ROW: a file with a good row then ROW
    { cat "$TMP/header.csv"; echo "$good"; printf '%s\n' "$2"; } >"$TMP/$1"
}
bad fields.csv "x,AWS,2026-10-01T00:00:00Z,111111111111,Usage"
refused "wrong field count" 1 "fields.csv:3: wrong number of fields: 5, want 17" \
    usage import "$TMP/fields.csv"
bad quote.csv \
    'x,AWS,2026-10-01T00:00:00Z,111111111111,Usage,2026-10-02,"AmazonEC2,U,O,1,USD,2,d,r,3,,'
refused "unterminated quote" 1 "quote.csv:3: unterminated quoted field" \
    usage import "$TMP/quote.csv"
bad number.csv "x,AWS,2026-10-01T00:00:00Z,111111111111,Usage,2026-10-02,S,U,O,1,USD,1e,d,r,3,,"
refused "bad number" 1 'number.csv:3: column lineItem/UnblendedCost: not a decimal number "1e"' \
    usage import "$TMP/number.csv"
bad date.csv "x,AWS,2026-10-01T00:00:00Z,111111111111,Usage,2026-02-30,S,U,O,1,USD,1,d,r,3,,"
refused "bad date" 1 'date.csv:3: column lineItem/UsageStartDate: not a UTC date "2026-02-30"' \
    usage import "$TMP/date.csv"
bad account.csv "x,AWS,2026-10-01T00:00:00Z,11111111111A,Usage,2026-10-02,S,U,O,1,USD,1,d,r,3,,"
refused "bad account id" 1 \
    'account.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "11111111111A"' \
    usage import "$TMP/account.csv"
bad currency.csv "x,AWS,2026-10-01T00:00:00Z,111111111111,Usage,2026-10-02,S,U,O,1,usd,1,d,r,3,,"
refused "bad currency" 1 'column lineItem/CurrencyCode: not a currency code "usd"' \
    usage import "$TMP/currency.csv"
: >"$TMP/empty.csv"
refused "empty file" 1 "empty.csv: empty file" usage import "$TMP/empty.csv"
refused "header-only file" 1 "header.csv: no data rows (only a header)" \
    usage import "$TMP/header.csv"
gzip -c $FIX/cur_small.csv | head -c 300 >"$TMP/trunc.csv.gz"
refused "truncated gzip" 1 "trunc.csv.gz: truncated gzip file" usage import "$TMP/trunc.csv.gz"
printf '\211PNG\r\n\032\n\0\0\0\rIHDR\0\0\0\001' >"$TMP/image.png"
refused "binary file" 1 "image.png: not a CSV text file" \
    usage import "$TMP/image.png"
printf 'lineItem/UsageAccountId,lineItem/UsageAmount\n111111111111,1\n' >"$TMP/missing.csv"
want="missing.csv: missing columns for format cur: bill/BillingPeriodStartDate,"
want="$want lineItem/UsageStartDate, lineItem/ProductCode, lineItem/UsageType,"
want="$want lineItem/Operation, lineItem/LineItemType, bill/BillingEntity,"
want="$want lineItem/UnblendedCost, pricing/publicOnDemandCost"
refused "missing columns: one error listing each" 1 "$want" usage import "$TMP/missing.csv"
printf 'a,b\n1,2\n' >"$TMP/other.csv"
refused "unknown format" 1 "other.csv: cannot tell the format from the header" \
    usage import "$TMP/other.csv"
refused "no such file" 1 "nosuch.csv: cannot open" usage import "$TMP/nosuch.csv"
refused "a bad file among good ones: nothing imported" 1 "fields.csv:3:" \
    usage import $FIX/cur_small_v2.csv "$TMP/fields.csv"
cp $FIX/cur_small.csv "$TMP/copy.csv"
refused "the same content twice in one delivery" 1 \
    "copy.csv: same content as tests/fixtures/usage/cur_small.csv, given before in this delivery" \
    usage import $FIX/cur_small.csv "$TMP/copy.csv"
DB="$TMP/never.db"
refused "a refused first import leaves no database" 1 "empty file" \
    usage import "$TMP/empty.csv"
no_db "no database file after a refused first import"

# ---- --max-errors N --rejects FILE --------------------------------------------------------
DB="$TMP/rej.db"
{ cat "$TMP/header.csv"; echo "$good"
  echo "x,AWS,2026-10-01T00:00:00Z,11111111111A,Usage,2026-10-02,S,U,O,1,USD,1,d,r,3,,"
  echo "$good"
  echo "x,AWS,2026-10-01T00:00:00Z,111111111111,Usage,2026-10-02,S,U,O,1,USD,1e,\"a, b\",r,3,,"
} >"$TMP/two-bad.csv"
ok "two bad rows allowed" usage import "$TMP/two-bad.csv" --max-errors 2 \
    --rejects "$TMP/rejects.csv"
expect_out "the summary says how many were rejected" \
    "imported 2 rows from 1 file into 1 period (2026-10) of source default, 2 rejected"
check "the rejects file has a header and two rows" test "$(wc -l <"$TMP/rejects.csv")" -eq 3
run python3 -c "
import csv,sys
r=list(csv.DictReader(open('$TMP/rejects.csv')))
assert [x['line'] for x in r]==['3','5'], r
assert 'not a 12-digit account id' in r[0]['reason'], r
assert r[1]['record'].endswith('1e,\"a, b\",r,3,,'), r
assert r[0]['file'].endswith('two-bad.csv'), r
"
expect_rc "rejects: file, line, reason and the record as it was" 0
ok "summary of the good rows" usage summary --period 2026-10 --json
json_is "two good rows stored" "j['totals'][0]['rows']" 2
want='two-bad.csv:3: column lineItem/UsageAccountId: not a 12-digit account id "11111111111A";'
refused "one bad row more than allowed" 1 "$want more than 1 bad rows (--max-errors 1)" \
    usage import "$TMP/two-bad.csv" --source other --max-errors 1 --rejects "$TMP/rejects2.csv"
{ cat "$TMP/header.csv"
  echo "x,AWS,2026-10-01T00:00:00Z,11111111111A,Usage,2026-10-02,S,U,O,1,USD,1,d,r,3,,"
} >"$TMP/all-bad.csv"
refused "every row rejected: nothing to import" 1 "nothing to import: all 1 rows were rejected" \
    usage import "$TMP/all-bad.csv" --source other --max-errors 5 --rejects "$TMP/rejects3.csv"

# ---- kept tags ----------------------------------------------------------------------------
DB="$TMP/tags.db"
ok "keep a tag" usage config --keep-tag user:env
expect_out "listed" "keep-tag user:env"
refused "keep it twice" 1 'tag "user:env" is kept already' usage config --keep-tag user:env
refused "drop an unknown tag" 1 'tag "nope" is not kept' usage config --drop-tag nope
ok "config --json" usage config --json
json_is "the kept tags" "j['keep_tags']" "['user:env']"
ok "import with a kept tag" usage import $FIX/cur_small.csv
ok "summary by tag" usage summary --period 2026-10 --by tag:user:env --json
json_is "tag values are groups" "[g['key'] for g in j['groups']]" "['', 'dev', 'prod']"
refused "a tag that is not kept" 1 'tag "team" is not kept' \
    usage summary --period 2026-10 --by tag:team

# ---- summary, unmapped, manifest ----------------------------------------------------------
ok "summary table" usage summary --period 2026-10 --by service
expect_out "table header" "service    currency  rows"
expect_out "total line" "total"
ok "summary of an empty month" usage summary --period 2020-01
expect_out "says so" "no usage in 2020-01"
rb usage summary --by service
expect_rc "summary without --period: exit 2" 2
rb usage summary --period 2026-10 --org o-aaaaaaaaaa --account 111111111111
expect_rc "two filters: exit 2" 2
refused "summary --by bogus" 1 'invalid --by "bogus"' usage summary --period 2026-10 --by bogus
refused "summary of an unknown org" 1 'no organization "o-aaaaaaaaaa"' \
    usage summary --period 2026-10 --org o-aaaaaaaaaa
refused "bad --period" 1 "invalid --period" usage summary --period 2026-13
ok "summary for one account" usage summary --period 2026-10 --account 222222222222 --json
json_is "only that account" "j['totals'][0]['rows']" 3
ok "unmapped" usage unmapped --period 2026-10 --json
json_is "no organizations: every account is unknown" \
    "sorted(set(r['reason'] for r in j['unmapped']))" "['unknown account']"
json_is "nothing dropped: unmapped covers every row" "j['totals'][0]['rows']" 8
ok "unmapped table" usage unmapped --period 2026-10
expect_out "unmapped table lists an account" "333333333333"
ok "manifest table" usage manifest --period 2026-10
expect_out "manifest lists the file and its hash" "file cur_small.csv"
rb --db "$TMP/none.db" usage manifest
expect_rc "manifest without a database: exit 3" 3

# ---- the progress bar: on a terminal only, never with --quiet -----------------------------
DB="$TMP/prog.db"
ok "import with stderr not a terminal" usage import $FIX/cur_small.csv
check "no progress when stderr is not a terminal" test -z "$err"
DB="$TMP/prog2.db"
run script -qec "$REBILL --db $DB usage import $FIX/cur_small.csv" /dev/null
expect_out "a progress bar on a terminal" "rows/s"
DB="$TMP/prog3.db"
run script -qec "$REBILL --db $DB usage import --quiet $FIX/cur_small.csv" /dev/null
case "$out" in *"rows/s"*) _fail "--quiet: no progress bar" "$out" ;; *) _pass ;; esac

done_testing
