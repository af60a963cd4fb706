# tests/cli/test_gen.sh -- the synthetic CUR / CUR 2.0 / FOCUS generator (tests/bench/gen.c):
# same seed same bytes, the promised columns, row counts, line types, quoting, exact amounts,
# the bounded key set the benchmark relies on, and its option errors.
. tests/cli/lib.sh

# Build the generator next to this build's binaries (with the sanitizers in the ASan build).
gen="${REBILL_BUILD:?}/bench/gen"
if [ ! -x "$gen" ] || [ tests/bench/gen.c -nt "$gen" ]; then
    mkdir -p "$REBILL_BUILD/bench"
    case "$REBILL_BUILD" in
    *asan*)
        extra="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined"
        extra="$extra -fno-sanitize-recover=all"
        ;;
    *) extra="-O2 -g" ;;
    esac
    # shellcheck disable=SC2086
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla $extra -D_GNU_SOURCE -pthread -o "$gen.tmp.$$" tests/bench/gen.c &&
        mv "$gen.tmp.$$" "$gen"
fi
check "generator builds" test -x "$gen"

# ---- determinism ------------------------------------------------------------------------
for f in cur cur2 focus; do
    "$gen" --format $f --rows 3000 --seed 7 >"$TMP/$f.a"
    "$gen" --format $f --rows 3000 --seed 7 >"$TMP/$f.b"
    check "$f: same seed, same bytes" cmp -s "$TMP/$f.a" "$TMP/$f.b"
    "$gen" --format $f --rows 3000 --seed 8 >"$TMP/$f.c"
    check "$f: another seed, other bytes" test -n "$(cmp "$TMP/$f.a" "$TMP/$f.c" 2>&1)"
done
"$gen" --rows 5000 --seed 7 --threads 1 >"$TMP/t1"
"$gen" --rows 5000 --seed 7 --threads 3 >"$TMP/t3"
check "the bytes do not depend on --threads" cmp -s "$TMP/t1" "$TMP/t3"
"$gen" --rows 0 >"$TMP/empty"
check "--rows 0: the header line only" test "$(wc -l <"$TMP/empty")" = 1
"$gen" --rows 3000 --seed 7 --out "$TMP/cur.out"
check "--out writes what stdout gets" cmp -s "$TMP/cur.a" "$TMP/cur.out"
"$gen" --rows 2000 --seed 7 >"$TMP/cur.prefix"
check "a shorter file is a prefix of a longer one" \
    cmp -s "$TMP/cur.prefix" "$(head -n 2001 "$TMP/cur.a" >"$TMP/cur.head"; echo "$TMP/cur.head")"

# ---- shape, checked by an independent reader (Python csv + decimal) ------------------------
"$gen" --rows 3000 --seed 7 --stats >/dev/null 2>"$TMP/cur.stats"
"$gen" --format cur2 --rows 3000 --seed 7 --stats >/dev/null 2>"$TMP/cur2.stats"
"$gen" --format focus --rows 3000 --seed 7 --stats >/dev/null 2>"$TMP/focus.stats"
"$gen" --rows 3000 --keys 400 --seed 7 >"$TMP/k1"
"$gen" --rows 9000 --keys 400 --seed 7 >"$TMP/k2"
"$gen" --rows 3000 --keys 400 --seed 8 >"$TMP/k3"
"$gen" --rows 1500 --period 2024-02 --accounts 40 >"$TMP/feb"
"$gen" --rows 20 >"$TMP/tiny"

python3 - "$TMP" >"$TMP/py.out" 2>&1 <<'EOF'
import csv, json, sys
from decimal import Decimal

tmp = sys.argv[1]
def say(ok, name, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))

def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        return head, [row for row in r]

# the columns each consumer names: rebill's issue, ../shared/bench/duckdb/aggregate.mjs
need = {
    "cur": ["identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/BillingEntity",
            "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate",
            "bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType",
            "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
            "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone",
            "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
            "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/BlendedRate",
            "lineItem/BlendedCost", "lineItem/LineItemDescription", "lineItem/TaxType",
            "product/ProductName", "product/region", "product/instanceType",
            "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/term",
            "pricing/unit", "savingsPlan/SavingsPlanARN", "reservation/EffectiveCost",
            "resourceTags/user:env", "resourceTags/user:team"],
    "cur2": ["line_item_usage_account_id", "line_item_usage_start_date", "line_item_product_code",
             "line_item_usage_type", "line_item_operation", "product_region_code",
             "line_item_line_item_type", "bill_billing_entity", "line_item_usage_amount",
             "line_item_unblended_cost", "pricing_public_on_demand_cost",
             "bill_billing_period_start_date", "line_item_currency_code", "resource_tags"],
    "focus": ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "SubAccountId",
              "ServiceName", "ChargeCategory", "ChargeClass", "ChargePeriodStart",
              "BillingPeriodStart", "PricingQuantity", "ConsumedQuantity", "RegionId", "SkuId",
              "ChargeDescription", "ProviderName", "Tags", "BillingCurrency"],
}
names = {  # line type, quantity, billed, list, entity, account, start, description
    "cur": ["lineItem/LineItemType", "lineItem/UsageAmount", "lineItem/UnblendedCost",
            "pricing/publicOnDemandCost", "bill/BillingEntity", "lineItem/UsageAccountId",
            "lineItem/UsageStartDate", "lineItem/LineItemDescription"],
    "cur2": ["line_item_line_item_type", "line_item_usage_amount", "line_item_unblended_cost",
             "pricing_public_on_demand_cost", "bill_billing_entity", "line_item_usage_account_id",
             "line_item_usage_start_date", "line_item_line_item_description"],
    "focus": ["ChargeCategory", "PricingQuantity", "BilledCost", "ListCost", "ProviderName",
              "SubAccountId", "ChargePeriodStart", "ChargeDescription"],
}
types = {
    "cur": {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
            "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee", "RIFee", "Fee", "Tax", "Credit",
            "Refund", "EdpDiscount", "BundledDiscount", "PrivateRateDiscount"},
    "focus": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
}
types["cur2"] = types["cur"]

for fmt in ("cur", "cur2", "focus"):
    head, rows = load(f"{tmp}/{fmt}.a")
    say(len(head) >= 40, f"{fmt}: 40+ columns", len(head))
    say(len(set(head)) == len(head), f"{fmt}: no duplicate column names")
    missing = [c for c in need[fmt] if c not in head]
    say(not missing, f"{fmt}: promised columns present", missing)
    say(len(rows) == 3000, f"{fmt}: 3000 data rows", len(rows))
    bad = [i for i, r in enumerate(rows) if len(r) != len(head)]
    say(not bad, f"{fmt}: every row has every field", bad[:3])
    ix = {n: head.index(n) for n in names[fmt]}
    lt, q, b, l, ent, acct, start, desc = (ix[n] for n in names[fmt])
    seen = {r[lt] for r in rows}
    say(seen == types[fmt], f"{fmt}: every line type", sorted(seen ^ types[fmt]))
    mp = sum(1 for r in rows if r[ent] not in ("AWS",))
    say(0 < mp < 300, f"{fmt}: some marketplace rows, not many", mp)
    say(any("," in r[desc] for r in rows), f"{fmt}: descriptions with commas")
    say(any('"' in f for r in rows for f in r), f"{fmt}: a field with a doubled quote")
    accts = {r[acct] for r in rows}
    say(100 <= len(accts) <= 300, f"{fmt}: hundreds of accounts", len(accts))
    say(all(len(a) == 12 and a.isdigit() for a in accts), f"{fmt}: 12-digit account ids")
    say(any(a.startswith("0") for a in accts), f"{fmt}: an account id with a leading zero")
    top = max(sum(1 for r in rows if r[acct] == a) for a in accts)
    say(top > 3000 * 5 / len(accts), f"{fmt}: skewed accounts (top share)", top)
    # amounts: exact decimal text, at most 10 fraction digits, Java exponent form in CUR only
    fields = [r[i] for r in rows for i in (q, b, l)]
    frac = max(-Decimal(v).normalize().as_tuple().exponent for v in fields)
    say(frac <= 10, f"{fmt}: at most 10 fraction digits", frac)
    expo = sum(1 for v in fields if "E" in v)
    say((expo > 0) == (fmt != "focus"), f"{fmt}: exponent form only in CUR", expo)
    say(any(Decimal(r[b]) < 0 for r in rows), f"{fmt}: negative billed amounts")
    st = json.load(open(f"{tmp}/{fmt}.stats"))
    sums = {"quantity": sum(Decimal(r[q]) for r in rows),
            "billed": sum(Decimal(r[b]) for r in rows),
            "list": sum(Decimal(r[l]) for r in rows)}
    for k, v in sums.items():
        say(Decimal(st[k]) == v, f"{fmt}: --stats {k} equals the text's exact sum", (st[k], v))
    say(st["rows"] == 3000, f"{fmt}: --stats rows", st["rows"])
    say(all(r[start].startswith("2026-10-") for r in rows), f"{fmt}: default period 2026-10")

# --keys: a bounded key set, the same one whatever the row count
def keyset(path):
    head, rows = load(path)
    cols = ["lineItem/UsageAccountId", "lineItem/UsageStartDate", "lineItem/ProductCode",
            "lineItem/UsageType", "lineItem/Operation", "product/region",
            "lineItem/LineItemType", "bill/BillingEntity"]
    ix = [head.index(c) for c in cols]
    return {tuple(r[i][:10] if i == ix[1] else r[i] for i in ix) for r in rows}
k1, k2, k3 = keyset(f"{tmp}/k1"), keyset(f"{tmp}/k2"), keyset(f"{tmp}/k3")
say(len(k1) == 400, "--keys 400: 400 distinct aggregate keys", len(k1))
say(k1 == k2, "--keys: 9000 rows have the key set of 3000 rows", len(k1 ^ k2))
say(k1 != k3, "--keys: another seed, another key set")
say(len(keyset(f"{tmp}/cur.a")) > 1500, "no --keys: keys grow with rows")

# --period and --accounts
head, rows = load(f"{tmp}/feb")
ix = {c: head.index(c) for c in ("lineItem/UsageStartDate", "lineItem/UsageEndDate",
                                 "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
                                 "lineItem/UsageAccountId")}
starts = [r[ix["lineItem/UsageStartDate"]] for r in rows]
say(all(s.startswith("2024-02-") for s in starts), "--period 2024-02: usage in February")
say(max(s[:10] for s in starts) == "2024-02-29", "--period 2024-02: leap day used", max(starts))
say({r[ix["bill/BillingPeriodStartDate"]] for r in rows} == {"2024-02-01T00:00:00.000Z"},
    "--period: billing period start")
say({r[ix["bill/BillingPeriodEndDate"]] for r in rows} == {"2024-03-01T00:00:00.000Z"},
    "--period: billing period end")
ends = [r[ix["lineItem/UsageEndDate"]] for r in rows]
say(max(ends) == "2024-03-01T00:00:00.000Z", "--period: last hour ends at the next month")
say(len({r[ix["lineItem/UsageAccountId"]] for r in rows}) <= 40, "--accounts 40")
head, rows = load(f"{tmp}/tiny")
seen = {r[head.index("lineItem/LineItemType")] for r in rows}
say(seen == types["cur"], "20 rows already hold every line type", sorted(types["cur"] - seen))
EOF
check "python checks ran" grep -q '^PASS' "$TMP/py.out"
while IFS= read -r line; do
    case "$line" in
    PASS*) _pass ;;
    FAIL*) _fail "${line#FAIL }" ;;
    *) _fail "python: $line" ;;
    esac
done <"$TMP/py.out"

# ---- option errors ------------------------------------------------------------------------
run "$gen" --format xml
expect_rc "bad --format (exit)" 2
expect_err "bad --format (message)" 'invalid --format "xml": want cur, cur2 or focus'
run "$gen" --rows -5
expect_rc "bad --rows (exit)" 2
expect_err "bad --rows (message)" 'invalid --rows "-5"'
run "$gen" --period 2024-13
expect_rc "bad --period (exit)" 2
expect_err "bad --period (message)" 'invalid --period "2024-13": want YYYY-MM'
run "$gen" --accounts 0
expect_rc "bad --accounts (exit)" 2
expect_err "bad --accounts (message)" 'invalid --accounts "0"'
run "$gen" --keys 1000000 --accounts 1 --period 2026-02
expect_rc "impossible --keys (exit)" 2
expect_err "impossible --keys (message)" \
    "cannot find 1000000 distinct keys with 1 accounts in 28 days"
run "$gen" --rows
expect_rc "missing value (exit)" 2
expect_err "missing value (message)" "option --rows needs a value"
run "$gen" --out "$TMP/no/such/dir/x.csv"
expect_rc "unwritable --out (exit)" 1
expect_err "unwritable --out (message)" "cannot open \"$TMP/no/such/dir/x.csv\""

done_testing
