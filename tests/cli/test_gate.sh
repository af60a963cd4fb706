#!/bin/sh
# test_gate.sh -- `rebill invoice run --issue` issues only a reconciled period: a reconciled
# period issues; a period made unreconciled the way a damaged database would be (one source's
# usage aggregates deleted behind its manifest, by tests/tools/dbpoke.c) is refused with the
# figures and the database unchanged; --force issues it anyway and says so; --force without
# --issue is a usage error; a preview run does not check; `rebill close` lists the difference.
. tests/cli/lib.sh

# ---- dbpoke, built against this build's library ----------------------------------------------
root=${REBILL_ROOT:-$(pwd)}
build=${REBILL_BUILD:-$root/build/release}
cc=${CC:-cc}
san=""
case "$build" in
*asan*)
    san="-fsanitize=address,undefined"
    command -v clang >/dev/null && cc=clang # the sanitizer build is clang's (Makefile)
    ;;
esac
# shellcheck disable=SC2046
run $cc -std=c11 -D_GNU_SOURCE $san -I"$root/include" -I"$root/engine" -o "$TMP/dbpoke" \
    "$root/tests/tools/dbpoke.c" "$build/librebill.a" \
    $(pkg-config --libs lua5.4 lmdb libcmark-gfm zlib) -lcmark-gfm-extensions -lm -pthread
expect_rc "dbpoke builds" 0
[ -x "$TMP/dbpoke" ] || { echo "cannot build dbpoke: $err"; done_testing; exit 1; }

# ---- a partner, a customer, two periods ---------------------------------------------------------
P=o-partner0001; C=o-customer01
S=2026-09-01T00:00:00Z
ok "create P" --now $S org create --id $P --name Partner --management-account 900000000001
ok "create C" --now $S org create --id $C --name Customer --management-account 900000000002
ok "account of C" --now $S account add --org $C --account 111111111111 --name c1
rb --now $S transfer invite --payer $P --source $C --start 2026-10 --name "P pays C"
expect_rc "invite" 0
ok "accept" --now $S transfer accept "$out" --as $C

H='bill/BillingEntity,bill/BillingPeriodStartDate,lineItem/UsageAccountId,lineItem/LineItemType'
H="$H,lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation"
H="$H,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost"
H="$H,pricing/publicOnDemandCost,product/region"
line() { # ACCOUNT DAY SERVICE COST
    echo "AWS,$2,$1,Usage,$2,$3,Usage:$3,Run,1,USD,$4,$4,us-east-1"
}
O=2026-10-01T00:00:00Z; N=2026-11-01T00:00:00Z
{
    echo "$H"
    line 111111111111 $O AmazonEC2 50.00
    line 111111111111 $N AmazonEC2 100.00
    line 999999999999 $N AmazonEC2 5.00
} >"$TMP/main.csv"
{
    echo "$H"
    line 111111111111 $N AmazonS3 4.00
} >"$TMP/extra.csv"
ok "import main" usage import --quiet "$TMP/main.csv"
ok "import extra source" usage import --quiet --source extra "$TMP/extra.csv"

# ---- a reconciled period issues -----------------------------------------------------------------
ok "close 2026-10 reconciles" close --period 2026-10
ok "run --issue of a reconciled period" invoice run --period 2026-10 --out "$TMP/oct" --issue
expect_out "issued" "INV-2026-000001"
expect_out "summary" "1 customers, 0 failed"
check "no forced remark" sh -c "! printf '%s' \"\$1\" | grep -q 'force'" - "$out"
check "no warning" test -z "$err"

# ---- a damaged period ---------------------------------------------------------------------------
ok "close 2026-11 reconciles before the damage" close --period 2026-11
run "$TMP/dbpoke" "$DB" del-usage 2026-11 extra
expect_rc "dbpoke deletes the extra source's usage" 0
expect_out "dbpoke says what it did" "deleted 1 usage aggregates of 2026-11, source extra"

# imported 100 + 5 + 4 = 109.00; mapped 100.00 (C's EC2); unmapped 5.00; difference 4.00
snapshot
rb close --period 2026-11
expect_rc "close of the damaged period: exit 1" 1
expect_out "close lists the figures and the difference" \
    "USD                  109.00             100.00               5.00               4.00  DIFF"
expect_out "close says so" "2026-11 NOT reconciled"
expect_err "close message" "period 2026-11 is not reconciled"
rb --json close --period 2026-11
expect_rc "close json: exit 1" 1
check "close json: difference" test "$(json_get "j['currencies'][0]['difference']")" = 4.00
check "close json: not reconciled" test "$(json_get "j['reconciled']")" = False
expect_unchanged "close stores nothing"

figures="USD imported 109.00, mapped 100.00, unmapped 5.00, difference 4.00"
refused "run --issue refuses the damaged period" 1 \
    "rebill: period 2026-11 is not reconciled: $figures; run \`rebill close --period 2026-11\` \
to see the differences, or pass --force to issue anyway" \
    invoice run --period 2026-11 --out "$TMP/nov" --issue
check "nothing written" test ! -e "$TMP/nov"
check "refused before the summary" test -z "$out"

refused "--force without --issue" 2 "--force needs --issue" \
    invoice run --period 2026-11 --out "$TMP/nov" --force
refused "--force alone, other order" 2 "--force needs --issue" \
    invoice run --force --period 2026-10 --out "$TMP/oct2"

# A preview run issues nothing, so it does not check.
snapshot
rb invoice run --period 2026-11 --out "$TMP/draft"
expect_rc "preview run of the damaged period" 0
expect_out "preview run drafts" "draft"
check "preview run: no warning" test -z "$err"
expect_unchanged "preview run stores nothing"

ok "run --issue --force" invoice run --period 2026-11 --out "$TMP/nov" --issue --force
expect_err "forced: warning" "rebill: warning: period 2026-11 is not reconciled: $figures"
expect_err "forced: says it goes on" "issuing anyway (--force)"
expect_out "forced: issued" "INV-2026-000002"
expect_out "forced: the summary records it" \
    "1 customers, 0 failed; period 2026-11 not reconciled, issued with --force"
check "forced: files written" test -f "$TMP/nov/$C/INV-2026-000002.json"
ok "list" invoice list --period 2026-11
expect_out "the forced invoice is stored" "INV-2026-000002"

done_testing
