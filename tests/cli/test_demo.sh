#!/bin/sh
# test_demo.sh -- `make demo`'s scenario runs to the end with this build and tells the user
# where the issued invoices are, so the README's first command cannot silently rot.
. tests/cli/lib.sh
DEMO_DIR="$TMP/demo" run sh tests/demo.sh "$REBILL"
expect_rc "the demo runs to the end" 0
expect_out "the demo reaches its last step" "== Done"
expect_out "a stranger's accept is refused" "(refused, as it should be)"
expect_out "the chain has two transfers" "top     o-distrib0001 (depth 2)"
expect_out "invoices are issued" "3 customers, 0 failed"
check "Acme's HTML invoice exists" test -f "$TMP/demo/invoices/o-acmecorp001/INV-2027-000001.html"
expect_out "the user is told where the invoices are" "$TMP/demo/invoices/o-acmecorp001/INV-2027-000001.html"
check "the customer's invoice shows no partner cost" sh -c \
    "! grep -q 'cost' '$TMP/demo/invoices/o-acmecorp001/INV-2027-000001.md'"
expect_out "the close reconciles the month" "2026-12 reconciled"
expect_out "the margins report shows Acme's 8% markup" "| o-acmecorp001 | USD | 1865.8527757420 |"
check "Acme's FOCUS export is written" sh -c \
    "head -n 1 '$TMP/demo/acme-2026-12-focus.csv' | grep -q '^BilledCost,BillingAccountId,'"
check "the FOCUS export holds no billed amount of Acme's" sh -c \
    "! grep -q '1865.85' '$TMP/demo/acme-2026-12-focus.csv'"
check "Acme's invoice is printed to PDF" sh -c \
    "head -c 5 '$TMP/demo/invoices/acme-INV-2027-000001.pdf' | grep -q '%PDF-'"
done_testing
