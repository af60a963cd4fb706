#!/bin/sh
# test_rules_blind.sh -- the blind pricing specification (tests/rules_blind/*.lua): rule files
# whose inline tests were computed by hand from docs/rules.md alone. Runs
# `rebill rules test tests/rules_blind`, counts each of its tests as one check of this script
# (its closing "N passed, N failed" becomes ours), shows every failure with its differences,
# and checks that each file ships tests. Then proves the runner itself: a copy of one file
# passes; with one expected cent changed, one line amount changed, an expected line left out,
# or an expected error changed, that test fails with a diff and the command exits 1.
. tests/cli/lib.sh

DIR=tests/rules_blind

# ---- the specification ------------------------------------------------------------------------
run "$REBILL" rules test "$DIR"
last=$(printf '%s\n' "$out" | tail -n 1)
np=$(printf '%s\n' "$last" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p')
nf=$(printf '%s\n' "$last" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p')
if [ -z "$np" ] || [ -z "$nf" ]; then
    _fail "rules test $DIR: closing line" "want \"N passed, N failed\", got: $last
stderr: $err"
else
    T_PASS=$((T_PASS + np))
    T_FAIL=$((T_FAIL + nf))
    # each failing test with its differences (the indented lines under FAIL)
    printf '%s\n' "$out" | awk '/^FAIL /{p=1; print; next} /^    /{if (p) print; next} {p=0}'
    if [ "$nf" -eq 0 ]; then want=0; else want=1; fi
    expect_rc "rules test $DIR: exit status matches its count" "$want"
    check "the blind suite has at least 60 tests" test $((np + nf)) -ge 60
fi
nfiles=0
for f in "$DIR"/*.lua; do
    nfiles=$((nfiles + 1))
    case "$out" in
        *"ok   $f: "* | *"FAIL $f: "*) _pass ;;
        *) _fail "$f ships tests that run" "$(printf '%s\n' "$out" | grep -F "$f" | head -5)" ;;
    esac
done
check "at least 12 blind rule files" test "$nfiles" -ge 12

# ---- the runner reports a wrong expectation ------------------------------------------------------
P="$TMP/proof"
mkdir "$P"
cp "$DIR/10-periods.lua" "$DIR/12-vat-eur.lua" "$P/"
run "$REBILL" rules test "$P"
expect_rc "unchanged copies pass" 0
expect_out "unchanged copies: count" "13 passed, 0 failed"

# one expected cent off in a total (2026-04: 100 + 100 + 30 + 400 = 630.00)
sed 's/total = "630.00"/total = "630.01"/' "$DIR/10-periods.lua" >"$P/10-periods.lua"
check "the total mutant differs from the original" \
    sh -c "! cmp -s '$DIR/10-periods.lua' '$P/10-periods.lua'"
run "$REBILL" rules test "$P/10-periods.lua"
expect_rc "a wrong total fails" 1
expect_out "the failing test is named" \
    "FAIL $P/10-periods.lua: 2026-04: campaign inside, quarterly, one-month commitment"
expect_out "the total's diff" "    total: want 630.01, got 630.00"
expect_out "only that test fails" "9 passed, 1 failed"

# one expected line left out (2026-08 has the open-ended fee of 7.00)
np7='\["New platform"\] = "7.00" '
sed "s/lines = { AmazonEC2 = \"100.00\", $np7},/lines = { AmazonEC2 = \"100.00\" },/" \
    "$DIR/10-periods.lua" >"$P/10-periods.lua"
run "$REBILL" rules test "$P/10-periods.lua"
expect_rc "a line left out fails" 1
expect_out "the unexpected line's diff" "    New platform: not expected, got 7.00"
expect_out "one failure" "9 passed, 1 failed"

# one line amount off by a cent (November: 123.45 x 0.85 = 104.9325)
sed 's/AmazonS3 = "104.9325"/AmazonS3 = "104.9326"/' "$DIR/12-vat-eur.lua" >"$P/12-vat-eur.lua"
run "$REBILL" rules test "$P/12-vat-eur.lua"
expect_rc "a wrong line amount fails" 1
expect_out "compared at the scale written" "    AmazonS3: want 104.9326, got 104.9325"
expect_out "one failure of three" "2 passed, 1 failed"

# an expected error that does not match
sed 's/for 2026-12"/for 2026-13"/' "$DIR/12-vat-eur.lua" >"$P/12-vat-eur.lua"
run "$REBILL" rules test "$P/12-vat-eur.lua"
expect_rc "a wrong expected error fails" 1
expect_out "the error's diff" \
    "want an error containing \"no exchange rate USD -> EUR for 2026-13\", got: "
expect_out "one failure of three (error)" "2 passed, 1 failed"

# the directory form counts both files' tests and exits 1 for one failure among them
cp "$DIR/10-periods.lua" "$P/"
run "$REBILL" rules test "$P"
expect_rc "a directory with one failure" 1
expect_out "a directory's count" "12 passed, 1 failed"
check "rules test creates no database" test ! -e "$DB"

done_testing
