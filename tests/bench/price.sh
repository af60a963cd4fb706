#!/bin/sh
# tests/bench/price.sh -- the pricing benchmark: N customers x M aggregated lines priced with
# a plan of 10 scoped rules and one Lua on_line hook, against a bare Lua loop doing the same
# arithmetic in the same run (tests/bench/price.c). Targets: >= 1,000,000 priced lines/s and
# at most 2x the bare loop's time. Exit 1 if the engine and the loop disagree on any total.
#
# Usage: tests/bench/price.sh [BUILD_DIR]     (default build/release; needs librebill.a there)
# Environment: BENCH_CUSTOMERS=1000 BENCH_LINES=2000, CC and CFLAGS (default cc, -O2 -g).
# Results are also appended to build/bench/price-results.txt.
set -eu

build=${1:-build/release}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
lib="$root/$build/librebill.a"
[ -f "$lib" ] || { echo "bench: no $build/librebill.a (run: make)" >&2; exit 1; }
[ -f build/config.mk ] || { echo "bench: no build/config.mk (run: make)" >&2; exit 1; }
dep_cflags=$(sed -n 's/^DEP_CFLAGS = //p' build/config.mk)
dep_libs=$(sed -n 's/^DEP_LIBS = //p' build/config.mk)
out="$root/$build/bench"
mkdir -p "$out" "$root/build/bench"
prog="$out/price"
if [ ! -x "$prog" ] || [ tests/bench/price.c -nt "$prog" ] || [ "$lib" -nt "$prog" ]; then
    # shellcheck disable=SC2086
    ${CC:-cc} -std=c11 -D_GNU_SOURCE ${CFLAGS:--O2 -g} -Iinclude -Iengine $dep_cflags \
        -o "$prog" tests/bench/price.c "$lib" $dep_libs -lcmark-gfm-extensions -lm -pthread
fi
"$prog" "${BENCH_CUSTOMERS:-1000}" "${BENCH_LINES:-2000}" | tee -a "$root/build/bench/price-results.txt"
