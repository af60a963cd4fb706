#!/bin/sh
# test_checksrc.sh -- banned functions stay out of engine/ (STYLE.md 3.6), and the checker
# itself catches a planted violation.
. tests/cli/lib.sh
run sh tests/tools/checksrc.sh
expect_rc "no banned function in engine/" 0
[ -z "$out" ] || echo "$out"
# The checker must be able to fail: plant a violation in a copy of the tree.
mkdir -p "$TMP/tree/engine/cli" "$TMP/tree/tests/tools"
cp tests/tools/checksrc.sh "$TMP/tree/tests/tools/"
printf 'void f(char *d) { strcpy(d, "x"); free(d); }\n' >"$TMP/tree/engine/bad.c"
run sh "$TMP/tree/tests/tools/checksrc.sh"
expect_rc "a planted strcpy is caught" 1
expect_out "the violation names file and line" "engine/bad.c:1:"
done_testing
