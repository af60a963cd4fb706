#!/bin/sh
# tests/bench/run.sh -- `make bench`: usage import throughput and memory, against DuckDB.
#
# For each row count in $BENCH_ROWS (default "1000000 10000000") it generates a legacy CUR
# file with the same key set (tests/bench/gen.c, cached in build/bench/ by its parameters and
# the generator's source hash) and times, as whole processes with /usr/bin/time -v and with
# the file read once just before each run (so that every contender reads it from memory):
#   rebill --db FRESH.db usage import --json FILE
#   ../shared/bench/duckdb/run FILE cur double     (DuckDB's fastest path)
#   ../shared/bench/duckdb/run FILE cur decimal    (exact DECIMAL(38,10) sums)
# checks that the import's row count, aggregate count and exact totals equal the generator's,
# and prints one table.  Usage: tests/bench/run.sh [BUILD_DIR]   (default build/release)
#
# Environment:
#   BENCH_ROWS="1000000 10000000"   row counts, ascending (quick try: BENCH_ROWS=200000)
#   BENCH_KEYS=100000               distinct aggregate keys in every file (capped at the
#                                   smallest row count)
#   BENCH_SEED=1  BENCH_PERIOD=2026-10  BENCH_ACCOUNTS=300
#   BENCH_REPEAT=1                  rounds: the contenders take turns N times; the fastest run
#                                   of each is reported, with the largest peak RSS seen (the
#                                   machine may be shared)
#   BENCH_DUCKDB=0                  skip the DuckDB peer
#   BENCH_KEEP=0                    delete the generated files at the end (default: keep
#                                   them in build/bench/ for the next run)
#   CC, CFLAGS                      compiler for the generator (default cc, -O2 -g)
# Results also go to build/bench/results.txt.  Exit status 1 if any import failed.
set -eu

build=${1:-build/release}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rebill="$root/$build/rebill"
data="$root/build/bench"
rows_list=${BENCH_ROWS:-"1000000 10000000"}
keys=${BENCH_KEYS:-100000}
seed=${BENCH_SEED:-1}
period=${BENCH_PERIOD:-2026-10}
accounts=${BENCH_ACCOUNTS:-300}
duck="$root/../shared/bench/duckdb/run"
use_duck=${BENCH_DUCKDB:-1}
repeat=${BENCH_REPEAT:-1}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$rebill" ] || die "no rebill binary at $build/rebill (run: make bench)"

# /usr/bin/time -v gives the peak RSS; Debian ships it in the package `time`.
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing Debian package: time"
        mkdir -p "$data"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time) \
            >"$data/apt.log" 2>&1 || { cat "$data/apt.log"; exit 1; }
    else
        die "/usr/bin/time is missing; run:  sudo apt-get install -y time"
    fi
fi
if [ "$use_duck" = 1 ] && { [ ! -x "$duck" ] || ! command -v node >/dev/null; }; then
    echo "bench: DuckDB peer unavailable ($duck or node missing); rebill only" >&2
    use_duck=0
fi

# ---- the generator ------------------------------------------------------------------------
mkdir -p "$data" "$root/$build/bench"
gen="$root/$build/bench/gen"
if [ ! -x "$gen" ] || [ tests/bench/gen.c -nt "$gen" ]; then
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla ${CFLAGS:--O2 -g} -D_GNU_SOURCE -pthread -o "$gen.tmp" tests/bench/gen.c
    mv "$gen.tmp" "$gen"
fi
genhash=$(sha256sum tests/bench/gen.c | cut -c1-10)

# Files from an older generator are stale: remove them before making new multi-GB ones.
for f in "$data"/cur-*.csv; do
    [ -e "$f" ] || continue
    case "$f" in
    *"-$genhash.csv") ;;
    *) echo "bench: removing stale $(basename "$f")"; rm -f "$f" "$f.stats" ;;
    esac
done

min_rows=
for n in $rows_list; do
    case "$n" in ''|*[!0-9]*) die "BENCH_ROWS: not a row count: \"$n\"" ;; esac
    if [ -z "$min_rows" ] || [ "$n" -lt "$min_rows" ]; then min_rows=$n; fi
done
[ -n "$min_rows" ] || die "BENCH_ROWS is empty"
case "$keys$repeat" in *[!0-9]*) die "BENCH_KEYS and BENCH_REPEAT want positive integers" ;; esac
[ "$keys" -gt 0 ] && [ "$repeat" -gt 0 ] || die "BENCH_KEYS and BENCH_REPEAT want positive integers"
if [ "$keys" -gt "$min_rows" ]; then keys=$min_rows; fi

# ---- helpers ------------------------------------------------------------------------------
# run1 NAME CMD...: one run of CMD under /usr/bin/time -v, with a fresh database and $file
# read just before (so that it is in the page cache whoever ran last).  Keeps in
# $tmp/NAME.{out,err,time} the fastest successful run so far and in $tmp/NAME.maxrss the largest
# peak RSS (kB) seen; on failure, the run's stderr in $tmp/NAME.err.  Returns CMD's status.
run1() {
    name=$1; shift
    rm -f "$db" "$db-lock"
    cat "$file" >/dev/null
    set +e
    /usr/bin/time -v -o "$tmp/run.time" "$@" >"$tmp/run.out" 2>"$tmp/run.err"
    st=$?
    set -e
    if [ "$st" != 0 ]; then
        mv "$tmp/run.err" "$tmp/$name.err"
        return "$st"
    fi
    r=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/run.time")
    m=$(cat "$tmp/$name.maxrss" 2>/dev/null || echo 0)
    [ "$r" -le "$m" ] || echo "$r" >"$tmp/$name.maxrss"
    if [ ! -f "$tmp/$name.time" ] ||
        awk -v a="$(wall "$tmp/run.time")" -v b="$(wall "$tmp/$name.time")" \
            'BEGIN { exit !(a < b) }'
    then
        for x in out err time; do mv "$tmp/run.$x" "$tmp/$name.$x"; done
    fi
    return 0
}
# wall TIMEFILE: elapsed seconds.  rss MAXRSSFILE: peak RSS in MB.  cpu TIMEFILE: CPU percent.
wall() {
    sed -n 's/.*Elapsed (wall clock) time.*: //p' "$1" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
}
rss() { awk '{ printf "%.1f", $1 / 1024 }' "$1"; }
cpu() { sed -n 's/.*Percent of CPU this job got: //p' "$1" | tr -d '%'; }
# jfield JSON NAME: a number from a one-line JSON object.
jfield() { printf '%s' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([-0-9.e]*\).*/\1/p"; }
div() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" \
        'BEGIN { if (b + 0 > 0) printf f, a / b; else printf "n/a" }'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebill-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
db="$tmp/bench.db"
results="$data/results.txt"
failed=0

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
    echo "rebill usage import benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    ram=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)
    echo "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $ram RAM"
    echo "rebill:  $build/rebill $("$rebill" --version 2>/dev/null | head -n 1 || true)"
    echo "data:    legacy CUR, $keys distinct keys, $accounts accounts, seed $seed, period $period"
    echo "command: BENCH_ROWS=\"$rows_list\" BENCH_KEYS=$keys BENCH_REPEAT=$repeat make bench"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
    echo
    printf '%10s %7s | %8s %9s %7s %8s %5s %5s | %8s %9s %8s %8s | %6s\n' \
        rows MB rebill_s rows/s MB/s RSS_MB CPU% exact duck_s duck_r/s duck_RSS duckdec_s ratio
} >"$tmp/table"
cat "$tmp/table"

first_rss= last_rss= first_n= last_n=
for n in $rows_list; do
    file="$data/cur-$n-k$keys-a$accounts-s$seed-$period-$genhash.csv"
    if [ ! -f "$file" ]; then
        echo "bench: generating $(basename "$file")" >&2
        t0=$(date +%s)
        "$gen" --format cur --rows "$n" --keys "$keys" --accounts "$accounts" --seed "$seed" \
            --period "$period" --stats --out "$file.tmp" 2>"$file.stats"
        mv "$file.tmp" "$file"
        echo "bench: generated in $(($(date +%s) - t0)) s" >&2
    fi
    bytes=$(wc -c <"$file")
    mb=$(div "$bytes" 1048576 %.0f)

    # The contenders take turns, $repeat rounds, so that a busy spell of the machine does not
    # fall on one of them only.
    rm -f "$tmp"/rb.* "$tmp"/dd.* "$tmp"/dx.*
    k=0
    while [ "$k" -lt "$repeat" ]; do
        k=$((k + 1))
        [ -f "$tmp/rb.failed" ] ||
            run1 rb "$rebill" --db "$db" usage import --json "$file" || touch "$tmp/rb.failed"
        if [ "$use_duck" = 1 ]; then
            [ -f "$tmp/dd.failed" ] || run1 dd "$duck" "$file" cur double || touch "$tmp/dd.failed"
            [ -f "$tmp/dx.failed" ] || run1 dx "$duck" "$file" cur decimal || touch "$tmp/dx.failed"
        fi
    done
    rm -f "$db" "$db-lock"

    if [ ! -f "$tmp/rb.failed" ]; then
        # the import must hold every row, every key and the exact sums of the text
        if exact=$(python3 - "$tmp/rb.out" "$file.stats" "$keys" 2>&1 <<'EOF'
import json, sys
from decimal import Decimal
imp, want, keys = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
(per,) = imp["periods"]
(tot,) = per["totals"]
bad = [f"{k} {tot[k]} != {want[k]}" for k in ("quantity", "billed", "list")
       if Decimal(tot[k]) != Decimal(want[k])]
if imp["rows"] != want["rows"] or tot["rows"] != want["rows"]:
    bad.append(f"rows {imp['rows']} != {want['rows']}")
if per["aggregates"] != keys:
    bad.append(f"aggregates {per['aggregates']} != {keys}")
print("; ".join(bad) if bad else "ok")
sys.exit(1 if bad else 0)
EOF
        ); then :; else
            failed=1
            echo "bench: rebill's import of $n rows differs from the file: $exact" >&2
            exact=DIFF
        fi
        rs=$(wall "$tmp/rb.time")
        rb_rps=$(div "$n" "$rs")
        rb_mbs=$(div "$bytes" "$(awk -v s="$rs" 'BEGIN { print s * 1048576 }')" %.1f)
        rb_rss=$(rss "$tmp/rb.maxrss")
        rb_cpu=$(cpu "$tmp/rb.time")
        [ -n "$first_rss" ] || { first_rss=$rb_rss; first_n=$n; }
        last_rss=$rb_rss last_n=$n
    else
        failed=1
        rs=failed rb_rps=- rb_mbs=- rb_rss=- rb_cpu=- exact=-
        echo "bench: rebill usage import failed on $n rows: $(head -n 3 "$tmp/rb.err")" >&2
    fi

    # DuckDB peer, double then decimal
    ds=- d_rps=- d_rss=- dd=- ratio=-
    if [ "$use_duck" = 1 ]; then
        if [ ! -f "$tmp/dd.failed" ]; then
            j=$(tail -n 1 "$tmp/dd.out")
            ds=$(jfield "$j" seconds)
            d_rps=$(div "$n" "$ds")
            d_rss=$(rss "$tmp/dd.maxrss")
            [ "$(jfield "$j" rows)" = "$n" ] ||
                echo "bench: duckdb counted $(jfield "$j" rows) rows, want $n" >&2
            [ "$(jfield "$j" groups)" = "$keys" ] ||
                echo "bench: duckdb found $(jfield "$j" groups) groups, want $keys" >&2
            [ "$rb_rps" = - ] || ratio=$(div "$rb_rps" "$d_rps" %.2f)
        else
            echo "bench: duckdb (double) failed: $(tail -n 3 "$tmp/dd.err")" >&2
        fi
        if [ ! -f "$tmp/dx.failed" ]; then
            dd=$(jfield "$(tail -n 1 "$tmp/dx.out")" seconds)
        else
            echo "bench: duckdb (decimal) failed: $(tail -n 3 "$tmp/dx.err")" >&2
        fi
    fi
    printf '%10s %7s | %8s %9s %7s %8s %5s %5s | %8s %9s %8s %8s | %6s\n' \
        "$n" "$mb" "$rs" "$rb_rps" "$rb_mbs" "$rb_rss" "$rb_cpu" "$exact" "$ds" "$d_rps" "$d_rss" \
        "$dd" "$ratio" | tee -a "$tmp/table"
done

{
    echo
    echo "rebill_s: wall time of the whole import process; rows/s and MB/s from it; RSS_MB: peak"
    echo "resident set; CPU%: (user+sys)/wall, 200% = both cores; exact: the import's rows,"
    echo "aggregates and totals (quantity, billed, list) equal the generator's exact sums."
    echo "duck_s: DuckDB's own timing of the query (excludes node start-up); duckdec_s: the same"
    echo "with exact DECIMAL(38,10) sums."
    echo "ratio: rebill rows/s over DuckDB (double) rows/s; target >= 3."
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at end"
    if [ -n "$first_rss" ] && [ "$first_n" != "$last_n" ]; then
        echo "peak RSS ratio $last_n/$first_n rows: $(div "$last_rss" "$first_rss" %.3f)" \
            "(target <= 1.10)"
    fi
} | tee -a "$tmp/table"
cp "$tmp/table" "$results"
echo "(saved to build/bench/results.txt)"

# The pricing benchmark (issue 4): 1,000 customers x 2,000 lines against a bare Lua loop.
echo
echo "== pricing"
sh "$root/tests/bench/price.sh" "$build" || failed=1

if [ "${BENCH_KEEP:-1}" = 0 ]; then
    for f in "$data"/cur-*.csv; do rm -f "$f" "$f.stats"; done
fi
exit $failed
