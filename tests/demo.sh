#!/bin/sh
# tests/demo.sh -- `make demo`: a scripted scenario on a fresh database, every command shown.
# Usage: tests/demo.sh PATH/TO/rebill
set -e
REBILL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
dir="${DEMO_DIR:-$root/build/demo}"
rm -rf "$dir"
mkdir -p "$dir"
export REBILL_DB="$dir/demo.db"

step() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
say() {
    printf '$ rebill'
    for a in "$@"; do case "$a" in *' '*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac; done
    printf '\n'
    "$REBILL" "$@"
}

export REBILL_NOW=2026-11-02T09:00:00Z
step "A partner, a distributor and two customers (now: $REBILL_NOW)"
say org create --id o-partner0001 --name "Northwind Cloud Partners" --management-account 111111111111
say org create --id o-distrib0001 --name "Contoso Distribution" --management-account 999999999999
say org create --id o-acmecorp001 --name "Acme Corp" --management-account 222222222222
say org create --id o-globexinc01 --name "Globex Inc" --management-account 333333333333
say account add --org o-acmecorp001 --account 222222222201 --name "acme-prod"
say account add --org o-acmecorp001 --account 222222222202 --name "acme-dev"
say account add --org o-globexinc01 --account 333333333301 --name "globex-data"
say org list

step "The partner invites both customers to transfer their bills from 2026-12"
acme=$("$REBILL" transfer invite --payer o-partner0001 --source o-acmecorp001 --start 2026-12 \
        --name "Acme Corp billing" --notes "EDP-backed contract, net 30")
echo "$ rebill transfer invite --payer o-partner0001 --source o-acmecorp001 ...  -> $acme"
globex=$("$REBILL" transfer invite --payer o-partner0001 --source o-globexinc01 --start 2026-12 \
        --name "Globex billing")
echo "$ rebill transfer invite --payer o-partner0001 --source o-globexinc01 ...  -> $globex"
say transfer list --org o-partner0001 --outbound

step "Acme accepts; a stranger cannot accept for Globex; Globex accepts"
say transfer accept "$acme" --as o-acmecorp001
if ! say transfer accept "$globex" --as o-acmecorp001; then echo "(refused, as it should be)"; fi
say transfer accept "$globex" --as o-globexinc01

step "The partner itself buys through a distributor (a chain of two transfers)"
chain=$("$REBILL" transfer invite --payer o-distrib0001 --source o-partner0001 --start 2026-12 \
        --name "Northwind via Contoso")
echo "$ rebill transfer invite --payer o-distrib0001 --source o-partner0001 ...  -> $chain"
say transfer accept "$chain" --as o-partner0001

step "Who pays in December 2026?"
say payer --org o-acmecorp001 --month 2026-12
say payer --org o-acmecorp001 --month 2026-11
say payer --payer o-partner0001 --month 2026-12 --sources

step "An account moves from Acme to Globex on 2026-12-15"
say account move --account 222222222202 --to o-globexinc01 --at 2026-12-15T00:00:00Z
say account show 222222222202

step "December's cost and usage export arrives (legacy CUR, 303 rows)"
export REBILL_NOW=2027-01-03T08:00:00Z
say usage import "$root/tests/fixtures/demo/cur-2026-12.csv" --source partner-cur --quiet
say usage summary --period 2026-12 --payer o-partner0001 --by account
say usage summary --period 2026-12 --org o-globexinc01 --by service
echo "(account 222222222202 moved to Globex on 2026-12-15: its usage is split at query time)"

step "Pricing plans: Acme pays cost plus 8%, Globex gets service discounts with a SKU override"
say plan assign --org o-acmecorp001 --rules "$root/rules/global-markup.lua" --from 2026-12
say plan assign --org o-globexinc01 --rules "$root/rules/service-discounts.lua" --from 2026-12
say plan list --period 2026-12
say price --org o-acmecorp001 --period 2026-12
say rules diff --org o-globexinc01 --period 2026-12 --rules "$root/rules/global-markup.lua"

step "The monthly close: invoices for every customer the partner pays for"
say org profile o-partner0001 --legal-name "Northwind Cloud Partners GmbH" \
    --address "Hauptstrasse 1\n10115 Berlin\nGermany" --tax-id DE123456789 --terms-days 30
say invoice run --period 2026-12 --issue --out "$dir/invoices"
say invoice list

step "The partner's own view: the period reconciles, and the margins it made"
say close --period 2026-12
say report margins --period 2026-12

step "What Acme loads into its FinOps tools: its showback as FOCUS 1.2 (no partner cost)"
say export focus --org o-acmecorp001 --period 2026-12 --out "$dir/acme-2026-12-focus.csv"
head -n 3 "$dir/acme-2026-12-focus.csv" | cut -c 1-160
if "$REBILL" invoice show INV-2027-000001 --issuer o-partner0001 --format pdf \
    --out "$dir/invoices/acme-INV-2027-000001.pdf" 2>"$dir/pdf.err"; then
    echo "$ rebill invoice show INV-2027-000001 --issuer o-partner0001 --format pdf --out ..."
    echo "PDF: $dir/invoices/acme-INV-2027-000001.pdf"
else
    echo "(no PDF: $(cat "$dir/pdf.err"))"
fi

step "Months later Globex withdraws, ending the transfer after March 2027"
export REBILL_NOW=2027-02-10T10:00:00Z
say transfer withdraw "$globex" --as o-globexinc01 --end 2027-03
say transfer show "$globex"
say payer --org o-globexinc01 --month 2027-04

step "Done"
echo "database: $REBILL_DB  (try: rebill --db $REBILL_DB --json transfer show $acme)"
echo "invoices: open these in a browser:"
find "$dir/invoices" -name '*.html' | sort | sed 's/^/  /'
