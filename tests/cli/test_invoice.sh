#!/bin/sh
# test_invoice.sh -- `rebill invoice` and `rebill org profile`: preview stores nothing; issue
# numbers gaplessly per issuer and year and freezes the rendered bytes (a later restatement
# does not change them); void issues a credit note; a restated month gives correction lines
# on the next invoice; two processes issuing at once get distinct consecutive numbers; hostile
# account names cannot inject markup; no customer-facing form holds a billed amount or the
# margin; the default layout matches the golden files; `run` writes what preview shows, also
# after a restatement between two runs; and every refusal leaves the database unchanged.
. tests/cli/lib.sh

D=o-distrib0001; R=o-reseller001; C=o-customer01; E=o-customer02
FIX=tests/fixtures/pricing
S=2026-09-01T00:00:00Z
GOLD=tests/golden

n=0
for o in $D $R $C $E; do
    n=$((n + 1))
    ok "create $o" --now $S org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "hostile account" --now $S account add --org $C --account 111111111111 \
    --name 'c1 | <script>alert(1)</script> *x* [a](javascript:x)'
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
# later months with usage too (price.c trips UBSan on a month without usage: see report)
sed 's/2026-11-/2026-12-/g' $FIX/cur-2026-11.csv >"$TMP/cur-2026-12.csv"
sed 's/2026-11-/2027-01-/g' $FIX/cur-2026-11.csv >"$TMP/cur-2027-01.csv"
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv $FIX/cur-2026-10.csv \
    "$TMP/cur-2026-12.csv" "$TMP/cur-2027-01.csv"
ok "C plan: cost plus 8%" plan assign --org $C --rules rules/global-markup.lua --from 2026-10

# ---- profiles -------------------------------------------------------------------------------
ok "profile shows defaults" org profile $R
expect_out "default terms" "30 days"
ok "profile set" org profile $R --legal-name "Reseller GmbH" --address 'Main St 1\n10115 Berlin' \
    --tax-id DE123456789 --terms-days 14
ok "profile json" --json org profile $R
check "address has two lines" test "$(json_get "j['address']")" = "Main St 1
10115 Berlin"
refused "profile terms out of range" 1 "invalid payment terms 400 days" org profile $R --terms-days 400
refused "profile unknown org" 1 'no organization "o-nosuchorg00"' org profile o-nosuchorg00 \
    --tax-id X
refused "profile control character" 1 "invalid tax id" org profile $R --tax-id "$(printf 'a\tb')"
refused "org profile without org" 2 "usage" org profile

# ---- refusals of preview and issue ---------------------------------------------------------
refused "preview unknown org" 1 'no organization "o-nosuchorg00"' invoice preview \
    --org o-nosuchorg00 --period 2026-11
refused "preview bad period" 1 "period" invoice preview --org $C --period 2026-13
refused "preview missing period" 2 "missing --period" invoice preview --org $C
refused "issue for an org nobody pays" 1 "has no payer in 2026-11: nobody invoices it" \
    invoice issue --org $D --period 2026-11
refused "bad format" 1 'invalid --format "xml"' invoice preview --org $C --period 2026-11 \
    --format xml
refused "pdf format explains" 1 "chromium" invoice preview --org $C --period 2026-11 --format pdf
refused "unknown verb" 2 "unknown invoice verb 'frob'" invoice frob
printf 'return function(inv, md) md:heading(1, inv.billed .. "x") end\n' >"$TMP/bad.lua"
refused "layout error names the file" 1 "bad.lua:1:" invoice issue --org $C --period 2026-11 \
    --layout "$TMP/bad.lua"
printf 'return function(inv, md) md:table({"a"}) end\n' >"$TMP/open.lua"
refused "layout leaving a table open" 1 "returned with a table open" invoice issue --org $C --period 2026-11 \
    --layout "$TMP/open.lua"

# ---- preview stores nothing ----------------------------------------------------------------
snapshot
ok "preview" invoice preview --org $C --period 2026-11
expect_out "draft heading" "Invoice (draft, not issued)"
expect_unchanged "preview stored nothing"

# ---- hostile names: escaped in md, inert in html -------------------------------------------
ok "preview html" invoice preview --org $C --period 2026-11 --format html
check "no script tag from data" sh -c "! grep -q '<script' '$TMP/out'"
check "no javascript link" sh -c "! grep -qi 'href=\"javascript' '$TMP/out'"
ok "preview json" invoice preview --org $C --period 2026-11 --format json
check "json keeps the name as data" test "$(json_get "j['lines'][0]['account_name']")" = \
    'c1 | <script>alert(1)</script> *x* [a](javascript:x)'

# ---- privacy: no billed amount or margin in any customer form -------------------------------
ok "partner view" --json price --org $C --period 2026-11
margin=$(json_get "j['partner']['margin']")
cost=$(json_get "j['partner']['cost']")
check "fixture: billed and showback differ" test "$margin" != "0.00"
for f in md html json; do
    ok "preview $f" invoice preview --org $C --period 2026-11 --format $f
    for v in "$margin" "$cost" 69.12 34.56 "23.00" "50.00" 142.12; do
        check "privacy: $f has no $v" sh -c "! grep -qF -- '$v' '$TMP/out'"
    done
done

# ---- golden files of the default layout ------------------------------------------------------
ok "golden md" --now 2026-12-02T09:00:00Z invoice preview --org $C --period 2026-11
printf '%s\n' "$out" >"$TMP/golden.md"
check "md matches tests/golden/invoice_default.md" cmp -s "$TMP/golden.md" $GOLD/invoice_default.md
ok "golden html" --now 2026-12-02T09:00:00Z invoice preview --org $C --period 2026-11 --format html
printf '%s\n' "$out" >"$TMP/golden.html"
check "html matches tests/golden/invoice_default.html" cmp -s "$TMP/golden.html" \
    $GOLD/invoice_default.html

# ---- issue, numbering, immutability -----------------------------------------------------------
ok "issue C 2026-10" --json invoice issue --org $C --period 2026-10
check "first number of R" test "$(json_get "j['number']")" = INV-2026-000001
check "issued by the direct payer" test "$(json_get "j['issuer']")" = $R
check "due after the issuer's terms" test "$(json_get "j['due_at']")" = 2026-12-10T12:00:00Z
ok "issue C 2026-11" invoice issue --org $C --period 2026-11 --format html
printf '%s' "$out" >"$TMP/issued.html"
refused "issue twice" 1 "already invoiced for 2026-11: INV-2026-000002" invoice issue --org $C \
    --period 2026-11
ok "show" invoice show INV-2026-000002 --format html
check "show returns the issued bytes" test "$out" = "$(cat "$TMP/issued.html")"
# restate 2026-11: the issued invoice keeps its bytes
sed 's/,23.00,23.00,/,46.00,46.00,/' $FIX/cur-2026-11.csv >"$TMP/cur-2026-11.csv"
ok "restate 2026-11" usage import --quiet "$TMP/cur-2026-11.csv"
ok "show after restatement" invoice show INV-2026-000002 --format html
check "issued invoice unchanged by the restatement" test "$out" = "$(cat "$TMP/issued.html")"
ok "preview after restatement" invoice preview --org $C --period 2026-11
check "the draft does change" test "$out" != "$(cat "$TMP/issued.html")"

# ---- void and credit note -------------------------------------------------------------------
refused "void without reason" 2 "missing --reason" invoice void INV-2026-000002
refused "void unknown" 1 "no invoice INV-2026-000099" invoice void INV-2026-000099 --reason x
ok "void" invoice void INV-2026-000002 --reason "restated usage"
expect_out "credit note number" "CN-2026-000001 voids INV-2026-000002"
refused "void twice" 1 "already voided by CN-2026-000001" invoice void INV-2026-000002 \
    --reason again
refused "void a credit note" 1 "is a credit note" invoice void CN-2026-000001 --reason x
ok "show credit note" invoice show CN-2026-000001
expect_out "credit note cancels" "INV-2026-000002"
expect_out "credit note reason" "restated usage"
ok "list" --json invoice list --org $C
check "three documents" test "$(json_get "len(j)")" = 3
check "voided marker" test "$(json_get "[i['voided_by'] for i in j if i['number']=='INV-2026-000002'][0]")" = \
    CN-2026-000001
ok "re-issue after void" --json invoice issue --org $C --period 2026-11
check "gapless: next number" test "$(json_get "j['number']")" = INV-2026-000003

# ---- corrections after a restatement of an invoiced month --------------------------------------
sed 's/,11.50,11.50,/,21.50,21.50,/' $FIX/cur-2026-10.csv >"$TMP/cur-2026-10.csv"
ok "restate 2026-10" usage import --quiet "$TMP/cur-2026-10.csv"
ok "preview 2026-12" --json invoice preview --org $C --period 2026-12
ok "preview 2026-12 json" invoice preview --org $C --period 2026-12 --format json
check "correction line" test "$(json_get "[l['amount'] for l in j['lines'] if l['kind']=='correction'][0]")" = \
    "10.80"
check "marked as a correction of 2026-10" test "$(json_get "[l['corrects'] for l in j['lines'] if l['kind']=='correction'][0]")" = \
    2026-10
ok "issue 2026-12" invoice issue --org $C --period 2026-12 --format json
ok "preview 2027-01 after the correction was carried" invoice preview --org $C --period 2027-01 \
    --format json
check "no second correction" test "$(json_get "len([l for l in j['lines'] if l['kind']=='correction'])")" = 0

# ---- two processes issuing at once --------------------------------------------------------------
( for m in 2026-10 2026-11 2026-12; do
      "$REBILL" --db "$DB" invoice issue --org $R --period $m >/dev/null 2>&1 || echo fail; done
) >"$TMP/a.log" &
pa=$!
( for m in 2026-10 2026-11 2026-12; do
      "$REBILL" --db "$DB" invoice issue --org $E --period $m >/dev/null 2>&1 || echo fail; done
) >"$TMP/b.log" &
pb=$!
wait $pa; wait $pb
check "no concurrent issue failed" test ! -s "$TMP/a.log" -a ! -s "$TMP/b.log"
ok "list D's invoices" --json invoice list
got=$(json_get "' '.join(sorted(i['number'] for i in j if i['issuer']=='$D'))")
check "gapless and distinct under concurrency ($got)" test "$got" = \
    "INV-2026-000001 INV-2026-000002 INV-2026-000003 INV-2026-000004 INV-2026-000005 INV-2026-000006"

# ---- run ----------------------------------------------------------------------------------------
ok "run drafts" invoice run --period 2027-01 --out "$TMP/run"
expect_out "summary" "3 customers, 0 failed"
check "draft files written" test -s "$TMP/run/$C/draft.html" -a -s "$TMP/run/$E/draft.md" \
    -a -s "$TMP/run/$R/draft.json"
snapshot
ok "run drafts again" invoice run --period 2027-01 --out "$TMP/run"
expect_unchanged "run without --issue stores nothing"
ok "run drafts, --json" --json invoice run --period 2027-01 --out "$TMP/runj"
check "json: three drafts, none failed" test "$(json_get "(j['count'], j['failed'], j['forced'], \
    sorted(set(x['status'] for x in j['customers'])), j['issue'])")" = "(3, 0, False, ['draft'], False)"
check "json: a draft has no number, and the path of its HTML" test "$(json_get "[(x['number'], \
    x['html']) for x in j['customers'] if x['org'] == '$C'][0]")" = "(None, '$TMP/runj/$C/draft.html')"
ctotal=$(json_get "[x['total'] + ' ' + x['currency'] for x in j['customers'] if x['org'] == '$C'][0]")
ok "preview C, --json" --json invoice preview --org "$C" --period 2027-01
check "json: the run's total is the preview's ($ctotal)" test "$ctotal" = \
    "$(json_get "j['total'] + ' ' + j['currency']")"
# one usage load serves the whole run (rb_usage_cache): its files are the previews' bytes, and
# a restatement between two runs gives the new amounts
for o in $C $E $R; do
    ok "preview $o" invoice preview --org $o --period 2027-01
    check "the run's $o/draft.md is its preview" test "$out" = "$(cat "$TMP/run/$o/draft.md")"
done
sed 's/,23.00,23.00,/,46.00,46.00,/' "$TMP/cur-2027-01.csv" >"$TMP/cur-2027-01b.csv"
ok "restate 2027-01" usage import --quiet "$TMP/cur-2027-01b.csv"
ok "run drafts after the restatement" --json invoice run --period 2027-01 --out "$TMP/run2"
ctotal2=$(json_get "[x['total'] + ' ' + x['currency'] for x in j['customers'] \
    if x['org'] == '$C'][0]")
check "the restated run's total of C is new ($ctotal, then $ctotal2)" test "$ctotal2" != "$ctotal"
for o in $C $E $R; do
    ok "preview $o after the restatement" invoice preview --org $o --period 2027-01
    check "the restated run's $o/draft.md is its preview" test "$out" = \
        "$(cat "$TMP/run2/$o/draft.md")"
done
check "C's and R's drafts changed, E's did not" sh -c "! cmp -s '$TMP/run/$C/draft.md' \
    '$TMP/run2/$C/draft.md' && ! cmp -s '$TMP/run/$R/draft.json' '$TMP/run2/$R/draft.json' && \
    cmp -s '$TMP/run/$E/draft.html' '$TMP/run2/$E/draft.html'"
ok "run --issue" invoice run --period 2027-01 --out "$TMP/run" --issue
check "issued file written" test -s "$TMP/run/$E/INV-2026-000007.html"
snapshot
rb --json invoice run --period 2027-01 --out "$TMP/run" --issue
expect_rc "run --issue again: every customer already issued" 1
check "json: each failure with its message" test "$(json_get "(j['count'], j['failed'], \
    all(x['status'] == 'failed' and x['error'] for x in j['customers']))")" = "(3, 3, True)"
expect_unchanged "a failed run stores nothing"
refused "run without --out" 2 "missing --out" invoice run --period 2027-01

done_testing
