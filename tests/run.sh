#!/bin/sh
# Run every test of one build: the unit binaries, then the CLI scripts.
# Each prints "N passed, N failed" as its last line; this sums them into BUILD/test-totals
# and prints its own line.  Usage: tests/run.sh BUILD_DIR
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
export REBILL="$root/$build/rebill" REBILL_ROOT="$root" REBILL_BUILD="$root/$build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
pass=0 fail=0 broken=""
log="$root/$build/test-logs"; rm -rf "$log"; mkdir -p "$log"
for t in "$root/$build"/tests/test_* "$root"/tests/cli/*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.d|*/lib.sh) continue ;; esac
    name=$(basename "$t")
    case "$t" in *.sh) cmd="sh $t" ;; *) cmd="$t" ;; esac
    (cd "$root" && $cmd) >"$log/$name.out" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/$name.out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    [ -n "$p" ] || { p=0; f=1; }
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" != 0 ]; then
        broken="$broken $name"
        printf '%-28s FAILED (exit %s): %s\n' "$name" "$rc" "${line:-no result line}"
        grep -E 'FAIL|ERROR|Sanitizer|runtime error' "$log/$name.out" | head -n 20 | sed 's/^/    /'
    else
        printf '%-28s %s\n' "$name" "$line"
    fi
done
echo "$pass $fail" > "$root/$build/test-totals"
echo "[$build] $pass passed, $fail failed"
[ "$fail" = 0 ]
