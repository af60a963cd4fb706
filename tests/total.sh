#!/bin/sh
# Sum the totals of several builds' runs into the suite's closing line.
pass=0 fail=0
for b in "$@"; do
    read p f < "$b/test-totals" || { echo "no totals for $b" >&2; exit 1; }
    pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
