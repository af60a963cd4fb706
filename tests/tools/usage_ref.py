#!/usr/bin/env python3
"""usage_ref.py -- recompute usage totals independently of rebill (Python csv + decimal).

    usage_ref.py totals FILE... [--format cur|cur2|focus]
        one line per (billing period, currency), from the files alone:
        "2023-11 USD rows=1281 billed=1.68 list=3.35 effective=1.68 quantity=128100.58"
    usage_ref.py compare REBILL DB FILE... [--format F]
        the same lines from rebill's stored aggregates (`usage summary --by account --json`
        of each period) and from the files; prints both and a diff, exits 1 if they differ.

The column mapping follows docs/formats.md; nothing here is shared with the C code.
"""
import csv
import decimal
import gzip
import io
import json
import subprocess
import sys

decimal.getcontext().prec = 200  # exact: sums of 38-digit values never round

COLS = {
    "cur": dict(acct="lineItem/UsageAccountId", period="bill/BillingPeriodStartDate",
                lt="lineItem/LineItemType", cur="lineItem/CurrencyCode",
                qty="lineItem/UsageAmount", billed="lineItem/UnblendedCost",
                list="pricing/publicOnDemandCost",
                sp_eff="savingsPlan/SavingsPlanEffectiveCost",
                sp_total="savingsPlan/TotalCommitmentToDate",
                sp_used="savingsPlan/UsedCommitment", ri_eff="reservation/EffectiveCost",
                ri_amort="reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                ri_recur="reservation/UnusedRecurringFee"),
    "cur2": dict(acct="line_item_usage_account_id", period="bill_billing_period_start_date",
                 lt="line_item_line_item_type", cur="line_item_currency_code",
                 qty="line_item_usage_amount", billed="line_item_unblended_cost",
                 list="pricing_public_on_demand_cost",
                 sp_eff="savings_plan_savings_plan_effective_cost",
                 sp_total="savings_plan_total_commitment_to_date",
                 sp_used="savings_plan_used_commitment", ri_eff="reservation_effective_cost",
                 ri_amort="reservation_unused_amortized_upfront_fee_for_billing_period",
                 ri_recur="reservation_unused_recurring_fee"),
    "focus": dict(acct="SubAccountId", period="BillingPeriodStart", lt="ChargeCategory",
                  cur="BillingCurrency", qty="PricingQuantity", billed="BilledCost",
                  list="ListCost", eff="EffectiveCost"),
}


def dec(row, col):
    v = row.get(col) if col else None
    if v is None or v == "" or v == "NULL":
        return decimal.Decimal(0)
    return decimal.Decimal(v)


def detect(header):
    if "lineItem/UsageAccountId" in header:
        return "cur"
    if "line_item_usage_account_id" in header:
        return "cur2"
    if "BilledCost" in header:
        return "focus"
    raise SystemExit("cannot tell the format")


def effective(fmt, c, row, billed):
    """A rule whose columns the file lacks does not apply: the unblended cost is used."""
    if fmt == "focus":
        return dec(row, c["eff"])
    lt = row[c["lt"]]
    has = lambda *k: all(c[x] in row for x in k)
    if lt == "SavingsPlanCoveredUsage" and has("sp_eff"):
        return dec(row, c["sp_eff"])
    if lt == "SavingsPlanRecurringFee" and has("sp_total", "sp_used"):
        return dec(row, c["sp_total"]) - dec(row, c["sp_used"])
    if lt in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return decimal.Decimal(0)
    if lt == "DiscountedUsage" and has("ri_eff"):
        return dec(row, c["ri_eff"])
    if lt == "RIFee" and has("ri_amort", "ri_recur"):
        return dec(row, c["ri_amort"]) + dec(row, c["ri_recur"])
    return billed


def totals(paths, fmt_override=None):
    out = {}
    for path in paths:
        raw = open(path, "rb").read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = io.StringIO(raw.decode("utf-8-sig"), newline="")
        reader = csv.reader(text)
        header = next(reader)
        fmt = fmt_override or detect(header)
        c = COLS[fmt]
        for rec in reader:
            if not rec:
                continue
            row = dict(zip(header, rec))
            period = row[c["period"]][:7]
            cur = row.get(c["cur"], "USD") if c["cur"] in row else "USD"
            billed = dec(row, c["billed"])
            t = out.setdefault((period, cur), [0] + [decimal.Decimal(0)] * 4)
            t[0] += 1
            t[1] += billed
            t[2] += dec(row, c["list"])
            t[3] += effective(fmt, c, row, billed)
            t[4] += dec(row, c["qty"])
    return out


def plain(d):
    s = format(d.normalize(), "f")
    return "0" if s in ("-0", "0") else s


def lines(tot):
    return ["%s %s rows=%d billed=%s list=%s effective=%s quantity=%s"
            % (p, c, t[0], plain(t[1]), plain(t[2]), plain(t[3]), plain(t[4]))
            for (p, c), t in sorted(tot.items())]


def stored(rebill, db, periods):
    out = {}
    for p in periods:
        r = subprocess.run([rebill, "--db", db, "--json", "usage", "summary", "--period", p,
                            "--by", "account"], capture_output=True, text=True, check=True)
        j = json.loads(r.stdout)
        for t in j["totals"]:
            out[(p, t["currency"])] = [t["rows"]] + [decimal.Decimal(t[k]) for k in
                                                     ("billed", "list", "effective",
                                                      "quantity")]
    return out


def main(argv):
    fmt = None
    if "--format" in argv:
        i = argv.index("--format")
        fmt = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) >= 2 and argv[0] == "totals":
        print("\n".join(lines(totals(argv[1:], fmt))))
        return 0
    if len(argv) >= 4 and argv[0] == "compare":
        rebill, db, files = argv[1], argv[2], argv[3:]
        want = lines(totals(files, fmt))
        got = lines(stored(rebill, db, sorted({p for p, _ in totals(files, fmt)})))
        print("reference:\n  " + "\n  ".join(want))
        print("rebill:\n  " + "\n  ".join(got))
        if want != got:
            print("MISMATCH")
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
