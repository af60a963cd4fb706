#!/bin/sh
# test_pdf.sh -- `--format pdf` of `rebill invoice preview` and `show` (engine/cli/cli_pdf.c),
# and the invoice HTML in a real browser: the issued invoice's HTML is opened in headless
# Chromium and screenshotted (a PNG of the page size, not blank); the PDF made by rebill
# holds the invoice number, the customer and the exact total of the Markdown form, without
# the browser's header and footer; odd characters in paths reach the browser as data, never
# as shell text; without a browser, with a failing, silent, lying or hanging one, the command
# fails with a clear message, leaves no file behind and no temporary directory, and leaves
# the database unchanged.
#
# Chromium and poppler-utils are part of the project's set-up (Makefile DEB_PKGS): when they
# are missing this test FAILS, it does not skip.
. tests/cli/lib.sh

R=o-reseller001; C=o-customer01
FIX=tests/fixtures/pricing
S=2026-09-01T00:00:00Z
CUSTOMER="Acme Widgets Ltd"

have_chromium=""
for b in chromium chromium-browser google-chrome; do
    if command -v $b >/dev/null 2>&1; then have_chromium=$(command -v $b); break; fi
done
check "set-up installed chromium (Makefile DEB_PKGS)" test -n "$have_chromium"
check "set-up installed pdftotext (poppler-utils)" sh -c 'command -v pdftotext >/dev/null'

# ---- fixture: a customer paid by a reseller, usage, a plan, one issued invoice -----------------
ok "create R" --now $S org create --id $R --name "Reseller" --management-account 900000000001
ok "create C" --now $S org create --id $C --name "$CUSTOMER" --management-account 900000000002
ok "account of C" --now $S account add --org $C --account 111111111111 --name c1
rb --now $S transfer invite --payer $R --source $C --start 2026-10 --name $C
expect_rc "invite C -> R" 0
ok "accept C -> R" --now $S transfer accept "$out" --as $C
ok "import usage" usage import --quiet $FIX/cur-2026-11.csv
ok "C plan" plan assign --org $C --rules rules/global-markup.lua --from 2026-10
ok "issue" --json invoice issue --org $C --period 2026-11
N=$(json_get "j['number']")
ok "show json" invoice show "$N" --format json
total=$(json_get "j['total'] + ' ' + j['currency']")
ok "show md" invoice show "$N"
expect_out "the Markdown shows the total as taken from the json" "**$total**"

# ---- the HTML in a real browser: a screenshot ---------------------------------------------------
ok "show html" invoice show "$N" --format html
cp "$TMP/out" "$TMP/stdout.html"
ok "show html --out" invoice show "$N" --format html --out "$TMP/inv.html"
check "--out holds the bytes show prints" cmp -s "$TMP/stdout.html" "$TMP/inv.html"
run timeout 60 "${have_chromium:-chromium}" --headless --no-sandbox --disable-gpu \
    --no-first-run --disable-background-networking --disable-extensions --hide-scrollbars \
    --user-data-dir="$TMP/shot-profile" --window-size=1240,1754 --screenshot="$TMP/shot.png" \
    "file://$TMP/inv.html"
expect_rc "chromium took a screenshot" 0
run python3 - "$TMP/shot.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'no PNG signature'
pos, idat, ihdr = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        ihdr = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = ihdr
assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG format %r' % (ihdr,)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
assert len(raw) == h * (stride + 1), 'short image data'
m7 = int.from_bytes(b'\x7f' * stride, 'big')
m8 = int.from_bytes(b'\x80' * stride, 'big')
def add(x, y):  # bytewise (x + y) mod 256, on whole rows at once
    x, y = int.from_bytes(x, 'big'), int.from_bytes(y, 'big')
    return bytearray((((x & m7) + (y & m7)) ^ ((x ^ y) & m8)).to_bytes(stride, 'big'))
prev, rows = bytearray(stride), []
for y in range(h):
    p = y * (stride + 1)
    f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
    if f == 2:
        line = add(line, prev)
    elif f in (1, 3, 4):
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    else:
        assert f == 0, 'bad filter %d' % f
    rows.append(line)
    prev = line
dark_tab = bytes(1 if v < 128 else 0 for v in range(256))
dark = sum(bytes(line[1::bpp]).translate(dark_tab).count(1) for line in rows)
colours = {bytes(line[i:i + 3]) for line in rows[::4] for i in range(0, stride, bpp)}
print('%d %d %d %.5f' % (w, h, len(colours), dark / (w * h)))
EOF
expect_rc "the screenshot is a PNG that decodes" 0
set -- $out
check "screenshot is 1240 wide ($1)" test "${1:-0}" = 1240
check "screenshot is 1754 high ($2)" test "${2:-0}" = 1754
check "screenshot is not blank: many colours ($3)" test "${3:-0}" -gt 16
check "screenshot has text: dark pixels ($4)" python3 -c "import sys; sys.exit(not 0.001 < ${4:-0} < 0.5)"

# ---- rebill invoice show --format pdf: odd paths stay data --------------------------------------
odd="$TMP/o dd;\$(touch pwned) 'q\"%41#"
mkdir -p "$odd/tmp"
snapshot
rb invoice show "$N" --format pdf --out "$odd/inv v.pdf"
expect_rc "show --format pdf" 0
expect_unchanged "show --format pdf stores nothing"
cp "$odd/inv v.pdf" "$TMP/inv.pdf" 2>/dev/null
check "no shell ran the path" test ! -e pwned -a ! -e "$TMP/pwned"
check "the PDF starts with %PDF-" sh -c "head -c 5 '$TMP/inv.pdf' | grep -q '^%PDF-'"
run pdftotext -layout "$TMP/inv.pdf" -
expect_rc "pdftotext reads it" 0
expect_out "PDF holds the invoice number" "$N"
expect_out "PDF holds the exact total of the Markdown" "$total"
expect_out "PDF holds the customer" "$CUSTOMER"
check "no browser header or footer (file URL, page count)" sh -c "! grep -q 'file://' '$TMP/out'"
run pdfinfo "$TMP/inv.pdf"
expect_out "the layout's @page size: A4" "(A4)"
# TMPDIR with the same odd name: the browser's page and profile live there, and go away
snapshot
TMPDIR="$odd/tmp" rb invoice preview --org $C --period 2026-11 --format pdf --out "$TMP/draft.pdf"
expect_rc "preview --format pdf under an odd TMPDIR" 0
expect_unchanged "preview --format pdf stores nothing"
run pdftotext "$TMP/draft.pdf" -
expect_out "the draft PDF says it is a draft" "draft"
check "the private directory is removed" test -z "$(ls -A "$odd/tmp")"
check "no shell ran the TMPDIR" test ! -e pwned -a ! -e "$odd/pwned"

# ---- refusals ---------------------------------------------------------------------------------
refused "pdf without --out" 1 "--format pdf needs --out FILE" invoice show "$N" --format pdf
refused "pdf to stdout of preview" 1 "needs --out FILE" invoice preview --org $C --period 2026-11 \
    --format pdf
refused "issue --format pdf" 1 "issue the invoice, then \`rebill invoice show NUMBER --format pdf" \
    invoice issue --org $C --period 2026-11 --format pdf --out "$TMP/x.pdf"
refused "issue --out" 1 "--out and --format pdf are for preview and show" invoice issue --org $C \
    --period 2026-11 --out "$TMP/x.md"
refused "unknown format lists pdf" 1 'invalid --format "ps": want md, html, json or pdf' \
    invoice show "$N" --format ps
refused "pdf of an unknown invoice" 1 "INV-2026-000099" invoice show INV-2026-000099 \
    --format pdf --out "$TMP/x.pdf"
check "no PDF for an unknown invoice" test ! -e "$TMP/x.pdf"

# ---- no browser -----------------------------------------------------------------------------
export REBILL_CHROMIUM=/nonexistent
refused "REBILL_CHROMIUM not a file" 1 'pdf output needs headless Chromium: REBILL_CHROMIUM="/nonexistent" is not an executable file' \
    invoice show "$N" --format pdf --out "$TMP/x.pdf"
refused "no browser: preview refused before any work" 1 "pdf output needs headless Chromium" \
    invoice preview --org $C --period 2026-11 --format pdf --out "$TMP/x.pdf"
REBILL_CHROMIUM=no-such-browser-name
refused "REBILL_CHROMIUM name not in PATH" 1 '"no-such-browser-name" is not an executable file in PATH' \
    invoice show "$N" --format pdf --out "$TMP/x.pdf"
unset REBILL_CHROMIUM
mkdir "$TMP/emptybin"
REAL=$REBILL
printf '#!/bin/sh\nexec env PATH="%s" "%s" "$@"\n' "$TMP/emptybin" "$REAL" >"$TMP/nochrome"
chmod +x "$TMP/nochrome"
REBILL="$TMP/nochrome"
refused "no chromium in PATH" 1 'no "chromium", "chromium-browser" or "google-chrome" in PATH (install the chromium package, or set REBILL_CHROMIUM)' \
    invoice show "$N" --format pdf --out "$TMP/x.pdf"
REBILL=$REAL
check "no PDF written without a browser" test ! -e "$TMP/x.pdf"

# ---- browsers that fail, lie or hang ----------------------------------------------------------
mkdir "$TMP/ftmp"
export TMPDIR="$TMP/ftmp"
fake() { # fake NAME BODY: a browser script; its --print-to-pdf=PATH is in $pdf
    printf '#!/bin/sh\nfor a; do case "$a" in --print-to-pdf=*) pdf=${a#--print-to-pdf=};; esac; done\n%s\n' \
        "$2" >"$TMP/$1"
    chmod +x "$TMP/$1"
}
echo old >"$TMP/keep.pdf"
fake fails 'echo "GPU process isn'\''t usable" >&2; exit 3'
REBILL_CHROMIUM="$TMP/fails" rb invoice show "$N" --format pdf --out "$TMP/keep.pdf"
expect_rc "a failing browser" 1
expect_err "its exit code and last line" "fails failed (exit 3): GPU process isn't usable"
check "the existing --out file is left alone" test "$(cat "$TMP/keep.pdf")" = old
fake silent 'exit 0'
REBILL_CHROMIUM="$TMP/silent" rb invoice show "$N" --format pdf --out "$TMP/keep.pdf"
expect_rc "a browser that writes nothing" 1
expect_err "said so" "wrote no PDF"
fake liar 'echo "<html>not a pdf</html>" >"$pdf"'
REBILL_CHROMIUM="$TMP/liar" rb invoice show "$N" --format pdf --out "$TMP/keep.pdf"
expect_rc "a browser that writes something else" 1
expect_err "said so" "wrote a file that is not a PDF"
check "still the old file" test "$(cat "$TMP/keep.pdf")" = old
fake hangs 'sleep 300 & echo $! >"'"$TMP"'/helper.pid"; wait'
start=$(date +%s)
REBILL_PDF_TIMEOUT=1 REBILL_CHROMIUM="$TMP/hangs" rb invoice show "$N" --format pdf \
    --out "$TMP/keep.pdf"
took=$(( $(date +%s) - start ))
expect_rc "a hanging browser" 1
expect_err "is killed after the timeout" "did not finish within 1 s: killed"
check "within seconds ($took s)" test "$took" -le 10
gone() { # gone PID: the process is dead (or a zombie waiting for init to reap it)
    for i in 1 2 3 4 5 6 7 8 9 10; do
        st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
        if [ -z "$st" ] || [ "$st" = Z ]; then return 0; fi
        sleep 0.2
    done
    return 1
}
check "its helper process is killed too" gone "$(cat "$TMP/helper.pid")"
# rebill interrupted (Ctrl-C, kill) while the browser runs: the browser, in its own process
# group, would not get the terminal's signal; rebill kills it and cleans up, then dies of it
rm -f "$TMP/helper.pid"
REBILL_CHROMIUM="$TMP/hangs" "$REBILL" --db "$DB" invoice show "$N" --format pdf \
    --out "$TMP/keep.pdf" >/dev/null 2>"$TMP/sig.err" &
rbpid=$!
for i in $(seq 1 100); do [ -s "$TMP/helper.pid" ] && break; sleep 0.1; done
check "the hanging browser started" test -s "$TMP/helper.pid"
kill -TERM "$rbpid"
wait "$rbpid"
rc=$?
check "rebill dies of the SIGTERM it got (exit $rc)" test "$rc" = 143
check "the interrupted browser's helper is killed" gone "$(cat "$TMP/helper.pid")"
check "the private directory is removed after the signal" test -z "$(ls -A "$TMP/ftmp")"
check "the --out file is left alone after the signal" test "$(cat "$TMP/keep.pdf")" = old
REBILL_PDF_TIMEOUT=soon REBILL_CHROMIUM="$TMP/hangs" rb invoice show "$N" --format pdf \
    --out "$TMP/keep.pdf"
expect_rc "a bad timeout" 1
expect_err "names the variable and value" 'invalid REBILL_PDF_TIMEOUT "soon": want whole seconds 1..3600'
# what the browser is given: offline, headless, no header or footer, a fresh profile
fake records 'printf "%s\n" "$@" >"'"$TMP"'/args"; cp "'"$TMP"'/inv.pdf" "$pdf"'
REBILL_CHROMIUM="$TMP/records" rb invoice show "$N" --format pdf --out "$TMP/rec.pdf"
expect_rc "a browser that records its arguments" 0
check "the PDF is the browser's" cmp -s "$TMP/rec.pdf" "$TMP/inv.pdf"
for a in --headless --no-pdf-header-footer --disable-background-networking \
    --disable-dev-shm-usage \
    --disable-component-update --disable-sync --disable-extensions --disable-quic \
    "--host-resolver-rules=MAP * ~NOTFOUND"; do
    check "browser flag $a" grep -qxF -- "$a" "$TMP/args"
done
check "a fresh profile in the private directory" grep -q "^--user-data-dir=$TMP/ftmp/rebill-pdf\." \
    "$TMP/args"
check "the page is a file URL in the private directory" \
    grep -q "^file://$TMP/ftmp/rebill-pdf\.[A-Za-z0-9]*/invoice.html$" "$TMP/args"
REBILL_CHROMIUM="$TMP/records" refused "pdf into a missing directory" 1 \
    "cannot write $TMP/nodir/x.pdf: No such file or directory" invoice show "$N" --format pdf \
    --out "$TMP/nodir/x.pdf"
check "every private directory is removed, on failure too" test -z "$(ls -A "$TMP/ftmp")"

done_testing
