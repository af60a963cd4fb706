#!/bin/sh
# test_rules_spec.sh -- the second, independent pricing specification (tests/rules_spec/*.lua):
# rule files whose inline tests were computed by hand from docs/rules.md, docs/money.md and
# docs/lua/*.md alone, written before the new pricing core. Runs
# `rebill rules test tests/rules_spec`, counts each of its tests as one check of this script
# (its closing "N passed, N failed" becomes ours), shows every failure with its differences,
# and checks that each file ships tests that run. Then two mutations of the specification
# itself -- one expected cent off in a total, one line amount off -- must each fail with exit
# 1, and a few documented compile-time errors are checked with `rebill rules check`.
. tests/cli/lib.sh

DIR=tests/rules_spec

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
    check "the spec suite has at least 60 tests" test $((np + nf)) -ge 60
fi
nfiles=0
for f in "$DIR"/*.lua; do
    nfiles=$((nfiles + 1))
    case "$out" in
        *"ok   $f: "* | *"FAIL $f: "*) _pass ;;
        *) _fail "$f ships tests that run" "$(printf '%s\n' "$out" | grep -F "$f" | head -5)" ;;
    esac
    check "$f starts with a header comment" sh -c "head -n 1 '$f' | grep -q '^-- '"
done
check "at least 12 spec rule files" test "$nfiles" -ge 12

# ---- two mutations of the specification must fail ---------------------------------------------
P="$TMP/mutants"
mkdir "$P"
cp "$DIR/10-item-periods.lua" "$DIR/13-currency-tax.lua" "$P/"

# one expected cent off in a total (2026-02: 100 + Annual 1000 = 1100.00)
sed 's/total = "1100.00"/total = "1100.01"/' "$DIR/10-item-periods.lua" >"$P/10-item-periods.lua"
check "the total mutant differs from the original" \
    sh -c "! cmp -s '$DIR/10-item-periods.lua' '$P/10-item-periods.lua'"
run "$REBILL" rules test "$P/10-item-periods.lua"
expect_rc "a wrong total fails with exit 1" 1
expect_out "the failing test is named" \
    "FAIL $P/10-item-periods.lua: 2026-02: the annual fee's first month"
expect_out "the total's diff" "    total: want 1100.01, got 1100.00"
check "the total mutant fails exactly one test" \
    sh -c "printf '%s\n' \"\$1\" | tail -n 1 | grep -q ' passed, 1 failed\$'" _ "$out"

# one line amount off (January: 100.005 USD x 0.9 = 90.0045 EUR)
sed 's/AmazonEC2 = "90.0045"/AmazonEC2 = "90.0046"/' "$DIR/13-currency-tax.lua" \
    >"$P/13-currency-tax.lua"
check "the line mutant differs from the original" \
    sh -c "! cmp -s '$DIR/13-currency-tax.lua' '$P/13-currency-tax.lua'"
run "$REBILL" rules test "$P/13-currency-tax.lua"
expect_rc "a wrong line amount fails with exit 1" 1
expect_out "the failing test is named" \
    "FAIL $P/13-currency-tax.lua: January: convert, sum, round once, tax"
expect_out "compared at the scale written" "    AmazonEC2: want 90.0046, got 90.0045"
check "the line mutant fails exactly one test" \
    sh -c "printf '%s\n' \"\$1\" | tail -n 1 | grep -q ' passed, 1 failed\$'" _ "$out"

# ---- documented compile-time errors (docs/rules.md "Lua API reference", "Rules and scopes") ---
C="$TMP/compile"
mkdir "$C"
# "Two rules for the same scope are an error that names both lines."
cat >"$C/dup.lua" <<'LUA'
return rebill.plan {
    rebill.discount { service = "AmazonEC2", percent = 10 },
    rebill.markup { service = "AmazonEC2", percent = 5 },
}
LUA
run "$REBILL" rules check "$C/dup.lua"
check "two rules for one scope: refused" test "$rc" -ne 0
expect_err "two rules for one scope: the second rule's line" "$C/dup.lua:3:"
expect_err "two rules for one scope: the first rule's line" "dup.lua:2"

# a rate and a ladder for the same SKU are two rules for one scope too
cat >"$C/sku.lua" <<'LUA'
return rebill.plan {
    rebill.rate { usage_type = "Requests", price = 1 },
    rebill.tiered { usage_type = "Requests", tiers = { { price = 1 } } },
}
LUA
run "$REBILL" rules check "$C/sku.lua"
check "a rate and a ladder for one SKU: refused" test "$rc" -ne 0
expect_err "a rate and a ladder for one SKU: both lines" "$C/sku.lua:3:"

# `operation` "narrows a SKU scope ... (needs usage_type)"; errors at the constructor's line
cat >"$C/op.lua" <<'LUA'
return rebill.plan {
    base = "list",
    rebill.discount { operation = "RunInstances:0002", percent = 10 },
}
LUA
run "$REBILL" rules check "$C/op.lua"
check "an operation without a usage type: refused" test "$rc" -ne 0
expect_err "an operation without a usage type: at the call's line" "$C/op.lua:3:"

# "Unknown keys are errors, so a typo cannot silently pass a line."
cat >"$C/pt.lua" <<'LUA'
return rebill.plan {
    passthrough = { Credits = "pass" },
}
LUA
run "$REBILL" rules check "$C/pt.lua"
check "an unknown pass-through key: refused" test "$rc" -ne 0
expect_err "an unknown pass-through key: named" "Credits"

check "rules test and check create no database" test ! -e "$DB"

done_testing
