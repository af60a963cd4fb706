#!/bin/sh
# test_invoice_export.sh -- `rebill invoice export`: the frozen forms of issued invoices and
# credit notes written to DIR/<customer>/<number>.<format>, byte-identical to `invoice show
# NUMBER --format F` (never recomputed: a restatement after the issue changes nothing);
# selection by numbers (with --issuer for a number two issuers use) or by period, customer
# and issuer; --format lists; pdf through the browser, fed exactly the stored HTML; the
# summary and --json; export never writes to the database; refusals (unknown or ambiguous
# numbers, an empty selection, an unusable --out, bad options) write no file and leave the
# database unchanged.
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
    rb --now $S transfer invite --payer "$2" --source "$1" --start "${3:-2026-10}" --name "$1"
    expect_rc "invite $1 -> $2" 0
    ok "accept $1 -> $2" --now $S transfer accept "$out" --as "$1"
}
link $C $R
link $R $D
link $E $D
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv $FIX/cur-2026-10.csv
ok "C plan: cost plus 8%" plan assign --org $C --rules rules/global-markup.lua --from 2026-10

# R issues C's invoices; D issues E's and R's: both sequences start at INV-2026-000001.
ok "issue C 2026-10 (R 1)" invoice issue --org $C --period 2026-10
ok "issue C 2026-11 (R 2)" invoice issue --org $C --period 2026-11
ok "void C 2026-11 (CN 1)" invoice void INV-2026-000002 --issuer $R --reason "wrong usage"
ok "issue E 2026-11 (D 1)" invoice issue --org $E --period 2026-11
ok "issue R 2026-11 (D 2)" invoice issue --org $R --period 2026-11
ok "list" --json invoice list
check "fixture: five documents" test "$(json_get "len(j)")" = 5

# show_to FILE NUMBER ISSUER FORMAT: what `invoice show` prints, byte for byte
show_to() {
    "$REBILL" --db "$DB" invoice show "$2" --issuer "$3" --format "$4" >"$1"
}

# ---- by number: byte-identical to show --------------------------------------------------------
X="$TMP/x"
snapshot
ok "export by number" invoice export INV-2026-000001 CN-2026-000001 --issuer $R --out "$X"
expect_unchanged "export wrote nothing to the database"
expect_out "summary" "exported 2 documents (6 files) to $X"
expect_out "summary lists the files" "$X/$C/CN-2026-000001.html"
for num in INV-2026-000001 CN-2026-000001; do
    for f in md html json; do
        show_to "$TMP/show.$f" $num $R $f
        check "$num.$f is what show prints" cmp -s "$X/$C/$num.$f" "$TMP/show.$f"
    done
done
check "credit note exported beside its invoice" grep -q "INV-2026-000002" "$X/$C/CN-2026-000001.md"
check "no stray files" test "$(find "$X" -type f | wc -l)" = 6

# frozen: after a restatement the draft changes, the export does not
show_to "$TMP/r0.json" INV-2026-000002 $D json
r0_total=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['total'])" "$TMP/r0.json")
sed 's/,23.00,23.00,/,46.00,46.00,/' $FIX/cur-2026-11.csv >"$TMP/cur-2026-11.csv"
ok "restate 2026-11" usage import --quiet "$TMP/cur-2026-11.csv"
cp "$X/$C/INV-2026-000001.html" "$TMP/before.html"
ok "export R's invoice after the restatement" invoice export INV-2026-000002 --issuer $D \
    --out "$TMP/after" --format json
check "stored bytes, not a recomputation" cmp -s "$TMP/after/$R/INV-2026-000002.json" "$TMP/r0.json"
ok "R's draft total" invoice preview --org $R --period 2026-11 --format json
check "the restatement did change the draft ($(json_get "j['total']"))" \
    test "$(json_get "j['total']")" != "$r0_total"
ok "re-export overwrites with the same bytes" invoice export INV-2026-000001 --issuer $R \
    --out "$X" --format html
check "idempotent" cmp -s "$X/$C/INV-2026-000001.html" "$TMP/before.html"
check "no temporary file left" test -z "$(find "$X" -name '*.tmp' -o -name '.rebill-export-*')"

# ---- by period, customer and issuer -----------------------------------------------------------
ok "export a period" --json invoice export --period 2026-11 --out "$TMP/p"
check "all four documents of 2026-11" test "$(json_get "j['count']")" = 4
check "twelve files" test "$(json_get "j['files']")" = 12
check "json lists the documents" test \
    "$(json_get "' '.join(sorted(d['customer'] + '/' + d['number'] for d in j['documents']))")" = \
    "$C/CN-2026-000001 $C/INV-2026-000002 $E/INV-2026-000001 $R/INV-2026-000002"
check "json file paths exist" test "$(json_get "all(__import__('os').path.isfile(f) for d in j['documents'] for f in d['files'])")" = True
check "json kinds" test "$(json_get "sorted(d['kind'] for d in j['documents'])")" = \
    "['credit_note', 'invoice', 'invoice', 'invoice']"
check "nothing of 2026-10" test ! -e "$TMP/p/$C/INV-2026-000001.md"
show_to "$TMP/r.json" INV-2026-000002 $D json
check "period export is byte-identical too" cmp -s "$TMP/p/$R/INV-2026-000002.json" "$TMP/r.json"
ok "export a period for one customer" --json invoice export --period 2026-11 --org $C \
    --out "$TMP/pc" --format md
check "C's invoice and credit note" test \
    "$(json_get "' '.join(sorted(d['number'] for d in j['documents']))")" = \
    "CN-2026-000001 INV-2026-000002"
check "md only" test "$(find "$TMP/pc" -type f | wc -l)" = 2
ok "export a period for one issuer" --json invoice export --period 2026-11 --issuer $D \
    --out "$TMP/pd" --format html,json
check "D's two invoices" test "$(json_get "' '.join(sorted(d['customer'] for d in j['documents']))")" = \
    "$E $R"
check "html and json only" test "$(find "$TMP/pd" -type f -name '*.html' | wc -l)" = 2 \
    -a "$(find "$TMP/pd" -type f | wc -l)" = 4
ok "the whole of C's history" invoice export --period 2026-10 --org $C --issuer $R \
    --out "$TMP/pc" --format md
check "2026-10 added beside 2026-11" test -s "$TMP/pc/$C/INV-2026-000001.md" \
    -a -s "$TMP/pc/$C/INV-2026-000002.md"

# ---- pdf: the stored HTML, printed by the browser ---------------------------------------------
# A stand-in browser that "prints" the page it is given as %PDF- plus the HTML, so the test
# can check it was fed exactly the stored bytes.
cat >"$TMP/fake-chromium" <<'EOF'
#!/bin/sh
for a in "$@"; do
    case "$a" in
    --print-to-pdf=*) pdf=${a#--print-to-pdf=} ;;
    file://*) page=${a#file://} ;;
    esac
done
{ printf '%%PDF-fake\n'; cat "$page"; } >"$pdf"
EOF
chmod +x "$TMP/fake-chromium"
REBILL_CHROMIUM="$TMP/fake-chromium" rb invoice export CN-2026-000001 --out "$TMP/pdf" \
    --format pdf,md
expect_rc "export pdf with a stand-in browser" 0
show_to "$TMP/cn.html" CN-2026-000001 $R html
check "the pdf is the stored html, printed" sh -c \
    "tail -c +11 '$TMP/pdf/$C/CN-2026-000001.pdf' | cmp -s - '$TMP/cn.html'"
check "pdf and md written" test -s "$TMP/pdf/$C/CN-2026-000001.md"
printf '#!/bin/sh\nexit 3\n' >"$TMP/broken-chromium"
chmod +x "$TMP/broken-chromium"
snapshot
REBILL_CHROMIUM="$TMP/broken-chromium" rb invoice export INV-2026-000001 --issuer $R \
    --out "$TMP/pdfbad" --format pdf
expect_rc "a failing browser fails the export" 1
expect_err "... saying which document" "cannot export INV-2026-000001 as pdf:"
expect_unchanged "... and the database is unchanged"
check "... and leaves no pdf" test ! -e "$TMP/pdfbad/$C/INV-2026-000001.pdf"
REBILL_CHROMIUM="$TMP/no-such-browser" rb invoice export INV-2026-000001 --issuer $R \
    --out "$TMP/pdfnone" --format pdf
expect_rc "no browser: refused before anything" 1
check "... no directory made" test ! -e "$TMP/pdfnone"
if command -v pdftotext >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1; then
    ok "export pdf with the real browser" invoice export INV-2026-000002 --issuer $D \
        --out "$TMP/real" --format pdf
    run pdftotext "$TMP/real/$R/INV-2026-000002.pdf" -
    expect_out "the pdf holds the number" "INV-2026-000002"
else
    _fail "set-up installed chromium and pdftotext (Makefile DEB_PKGS)"
fi

# ---- refusals: no file, no directory, database unchanged ----------------------------------------
N="$TMP/never"
refused "unknown number" 1 "no invoice INV-2026-000099" invoice export INV-2026-000099 \
    --out "$N"
refused "one unknown among known ones" 1 "no invoice CN-2026-000009" invoice export \
    CN-2026-000001 CN-2026-000009 --out "$N"
refused "a number two issuers use" 1 "INV-2026-000001 is used by 2 issuers: name the issuer" \
    invoice export INV-2026-000001 --out "$N"
refused "unknown number of that issuer" 1 "no invoice CN-2026-000001 issued by $D" \
    invoice export CN-2026-000001 --issuer $D --out "$N"
refused "empty period" 1 "nothing to export: no invoice or credit note of 2026-12" \
    invoice export --period 2026-12 --out "$N"
refused "empty selection of a customer" 1 "of 2026-10 for $E" invoice export \
    --period 2026-10 --org $E --out "$N"
refused "unknown --org" 1 'no organization "o-nosuchorg00" (--org)' invoice export \
    --period 2026-11 --org o-nosuchorg00 --out "$N"
refused "unknown --issuer" 1 'no organization "o-nosuchorg00" (--issuer)' invoice export \
    --period 2026-11 --issuer o-nosuchorg00 --out "$N"
refused "bad period" 1 "period" invoice export --period 2026-13 --out "$N"
refused "bad format" 1 'invalid --format "md,xml": want a comma-separated list of md, html, json and pdf (bad item "xml")' \
    invoice export --period 2026-11 --out "$N" --format md,xml
refused "empty format item" 1 'bad item ""' invoice export --period 2026-11 --out "$N" \
    --format md,
check "refusals made no --out directory" test ! -e "$N"
: >"$TMP/afile"
refused "--out is a file" 1 "cannot write to --out $TMP/afile: not a directory" \
    invoice export --period 2026-11 --out "$TMP/afile"
refused "--out under a file" 1 "cannot create --out $TMP/afile/sub" invoice export \
    --period 2026-11 --out "$TMP/afile/sub"
refused "--out whose parent is missing" 1 "cannot create --out $TMP/missing/sub" \
    invoice export --period 2026-11 --out "$TMP/missing/sub"
refused "numbers and --period" 2 "give invoice numbers or --period" invoice export \
    INV-2026-000001 --period 2026-11 --out "$N"
refused "numbers and --org" 2 "give invoice numbers or --period" invoice export \
    CN-2026-000001 --org $C --out "$N"
refused "neither numbers nor --period" 2 "missing invoice numbers or --period" invoice export \
    --out "$N"
refused "without --out" 2 "missing --out" invoice export CN-2026-000001
refused "a number twice" 2 "invoice number CN-2026-000001 is given twice" invoice export \
    CN-2026-000001 CN-2026-000001 --out "$N"
check "still no --out directory" test ! -e "$N"

# ---- two issuers of one customer-month: their numbers would share a file --------------------------
# C is invoiced by R, voided, moves to D for the same month and is invoiced again: both
# sequences give INV-2026-000001. (A database of its own; everything at the set-up time.)
DB="$TMP/moved.db"
export REBILL_NOW=$S
n=0
for o in $D $R $C; do
    n=$((n + 1))
    ok "moved: create $o" org create --id $o --name "org $o" --management-account "90000000000$n"
done
ok "moved: account" account add --org $C --account 111111111111 --name c1
link $C $R
ok "moved: usage" usage import --quiet $FIX/cur-2026-11.csv
ok "moved: R invoices C" invoice issue --org $C --period 2026-11
ok "moved: void it" invoice void INV-2026-000001 --reason "moves to D"
rb --json transfer list --org $C
tid=$(json_get "[t['id'] for t in j if t['status'] == 'ACCEPTED'][0]")
ok "moved: C leaves R after 2026-10" transfer withdraw "$tid" --as $C --end 2026-10
link $C $D 2026-11
ok "moved: D invoices C for the same month" invoice issue --org $C --period 2026-11
refused "one file for two documents" 1 \
    "INV-2026-000001 of $C is a number of more than one issuer in this selection" \
    invoice export --period 2026-11 --out "$N"
check "... nothing written" test ! -e "$N"
ok "moved: --issuer picks one" --json invoice export --period 2026-11 --issuer $D --out "$N"
check "D's invoice only" test "$(json_get "[d['issuer'] for d in j['documents']]")" = "['$D']"

done_testing
