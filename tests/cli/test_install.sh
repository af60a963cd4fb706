#!/bin/sh
# test_install.sh -- `make install PREFIX=...` installs the binary, both libraries, the
# header and a pkg-config file with which a C program builds against rebill and runs.
. tests/cli/lib.sh

build=${REBILL_BUILD#$REBILL_ROOT/}
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; esac
prefix="$TMP/prefix"
run make -s -C "$REBILL_ROOT" install PREFIX="$prefix" BUILD="$build"
expect_rc "make install" 0
check "binary installed" test -x "$prefix/bin/rebill"
check "static library installed" test -f "$prefix/lib/librebill.a"
check "shared library installed" test -f "$prefix/lib/librebill.so"
check "header installed" test -f "$prefix/include/rebill.h"
check "pkg-config file installed" test -f "$prefix/lib/pkgconfig/rebill.pc"

cat >"$TMP/prog.c" <<'C'
#include <rebill.h>
#include <stdio.h>
int main(void)
{
    rb_dec a, b, r;
    char buf[RB_DEC_BUFSZ];
    rb_dec_parse(&a, "0.1", 3, NULL);
    rb_dec_parse(&b, "0.2", 3, NULL);
    if (rb_dec_add(&r, &a, &b) != RB_OK)
        return 1;
    rb_dec_format(&r, buf, sizeof(buf));
    printf("%s %s\n", buf, rb_strerror(RB_NOTFOUND));
    return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
run pkg-config --cflags --libs rebill
expect_rc "pkg-config knows rebill" 0
expect_out "pkg-config gives -lrebill" "-lrebill"
# shellcheck disable=SC2046
run cc $san -o "$TMP/prog" "$TMP/prog.c" $(pkg-config --cflags rebill) -L"$prefix/lib" \
    -Wl,-rpath,"$prefix/lib" -lrebill
expect_rc "a program builds against the installed library" 0
run "$TMP/prog"
expect_rc "the program runs" 0
expect_out "the program computes exactly" "0.3 not found"
run "$prefix/bin/rebill" --version
expect_out "installed binary runs" "rebill 0.1.0"

done_testing
