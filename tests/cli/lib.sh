# tests/cli/lib.sh -- helpers for the CLI end-to-end tests (sourced, POSIX sh).
#
# Each test script sources this, calls the check functions, and ends with `done_testing`,
# which prints "N passed, N failed".  $REBILL is the binary under test (tests/run.sh sets
# it); every script works in its own temporary directory with its own database.
#
#   run CMD...              run a command; sets $out, $err, $rc
#   rb ARGS...              run "$REBILL --db $DB ARGS..." (same variables)
#   check NAME COND...      pass if the command COND... succeeds
#   expect_rc NAME N        pass if the last run exited with N
#   expect_out NAME TEXT    pass if stdout of the last run contains TEXT
#   expect_err NAME TEXT    pass if stderr of the last run contains TEXT
#   snapshot                save a logical dump and the file hash of $DB
#   expect_unchanged NAME   pass if $DB is byte-for-byte as at the last snapshot

: "${REBILL:?REBILL must name the rebill binary}"
T_PASS=0
T_FAIL=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rebill-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DB="$TMP/test.db"
export REBILL_NOW="${REBILL_NOW:-2026-11-26T12:00:00Z}"
unset REBILL_DB

_pass() { T_PASS=$((T_PASS + 1)); }
_fail() {
    T_FAIL=$((T_FAIL + 1))
    echo "FAIL: $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'
    return 0
}

run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
    return 0
}

rb() { run "$REBILL" --db "$DB" "$@"; }

check() {
    name=$1; shift
    if "$@"; then _pass; else _fail "$name" "command: $*"; fi
}

expect_rc() {
    if [ "$rc" = "$2" ]; then _pass; else
        _fail "$1" "exit $rc, want $2
stdout: $out
stderr: $err"
    fi
}

expect_out() {
    case "$out" in *"$2"*) _pass ;; *) _fail "$1" "stdout lacks: $2
stdout: $out
stderr: $err" ;; esac
}

expect_err() {
    case "$err" in *"$2"*) _pass ;; *) _fail "$1" "stderr lacks: $2
stderr: $err" ;; esac
}

# ok NAME ARGS...: the rebill command succeeds.
ok() {
    name=$1; shift
    rb "$@"
    expect_rc "$name" 0
}

# refused NAME RC TEXT ARGS...: the rebill command fails with exit RC, stderr holds TEXT,
# and the database is byte-for-byte unchanged.
refused() {
    name=$1 want=$2 text=$3; shift 3
    snapshot
    rb "$@"
    expect_rc "$name (exit)" "$want"
    expect_err "$name (message)" "$text"
    expect_unchanged "$name (database unchanged)"
}

snapshot() {
    if [ -f "$DB" ]; then
        "$REBILL" --db "$DB" db dump >"$TMP/snap.dump" 2>&1
        sha256sum <"$DB" >"$TMP/snap.sha"
    else
        echo missing >"$TMP/snap.dump"; echo missing >"$TMP/snap.sha"
    fi
}

expect_unchanged() {
    if [ -f "$DB" ]; then
        "$REBILL" --db "$DB" db dump >"$TMP/now.dump" 2>&1
        sha256sum <"$DB" >"$TMP/now.sha"
    else
        echo missing >"$TMP/now.dump"; echo missing >"$TMP/now.sha"
    fi
    if cmp -s "$TMP/snap.dump" "$TMP/now.dump" && cmp -s "$TMP/snap.sha" "$TMP/now.sha"; then
        _pass
    else
        _fail "$1" "$(diff "$TMP/snap.dump" "$TMP/now.dump" | head -20)"
    fi
}

# json_get EXPR: evaluate a Python expression on the last stdout parsed as JSON (`j`).
json_get() {
    printf '%s' "$out" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

done_testing() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" = 0 ]
}
