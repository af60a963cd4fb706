#!/bin/sh
# test_db.sh -- global CLI behaviour, `db`, `config`, exit codes, and crash safety: a write
# killed with SIGKILL inside its transaction leaves the database with its old state.
. tests/cli/lib.sh

run "$REBILL" --version
expect_rc "version exits 0" 0
expect_out "version prints the version" "rebill 0.1.0"
run "$REBILL" --help
expect_rc "help exits 0" 0
expect_out "help lists commands" "transfer"
expect_out "help documents exit codes" "exit codes"
run "$REBILL"
expect_rc "no command is a usage error" 2
run "$REBILL" frobnicate
expect_rc "unknown command: exit 2" 2
expect_err "unknown command named" "unknown command 'frobnicate'"
run "$REBILL" --bogus org list
expect_rc "unknown global option: exit 2" 2
run "$REBILL" --now yesterday db info
expect_rc "bad --now: exit 1" 1
expect_err "bad --now names the value" '"yesterday"'

# Reading a database that does not exist is a storage error, and creates nothing.
rb db info
expect_rc "missing db: exit 3" 3
expect_err "missing db named" "no database at '$DB'"
check "missing db not created" test ! -e "$DB"
rb config get max-chain-depth
expect_rc "config get on missing db: exit 3" 3
check "config get creates nothing" test ! -e "$DB"

# The database location: --db, else $REBILL_DB, else ./rebill.db
ok "config set creates the db" config set max-chain-depth 3
check "db file exists" test -f "$DB"
ok "config get" config get max-chain-depth
expect_out "config value read back" "3"
REBILL_DB="$DB" run "$REBILL" config get max-chain-depth
expect_out "REBILL_DB is honoured" "3"
(cd "$TMP" && "$REBILL" config set max-chain-depth 4 >/dev/null 2>&1)
check "./rebill.db is the default" test -f "$TMP/rebill.db"
rb --json config get max-chain-depth
expect_out "config json" '{"max-chain-depth":3}'
rb --json db info
check "db info json schema" test "$(json_get "j['schema_version']")" = 1

refused "config value out of range" 1 'invalid value for max-chain-depth: "0"' config set max-chain-depth 0
refused "config value not a number" 1 'invalid value for max-chain-depth: "x"' config set max-chain-depth x
refused "config unknown key" 1 "unknown setting 'colour'" config set colour 3
refused "config missing value" 2 "config set needs KEY and VALUE" config set max-chain-depth
refused "config unknown option" 2 "unknown option '--frob'" config get max-chain-depth --frob

# Crash safety: pause inside the write transaction, SIGKILL, reopen.
snapshot
REBILL_TEST_PAUSE_IN_TXN=1 "$REBILL" --db "$DB" config set max-chain-depth 7 2>"$TMP/pause.err" &
pid=$!
i=0
while ! grep -q "paused inside write transaction" "$TMP/pause.err" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
check "writer reached the pause" grep -q "paused inside write transaction" "$TMP/pause.err"
kill -9 $pid
wait $pid 2>/dev/null
ok "database opens after SIGKILL" config get max-chain-depth
expect_out "old value kept after SIGKILL" "3"
expect_unchanged "database unchanged after SIGKILL"
ok "database writable after SIGKILL" config set max-chain-depth 6
ok "new value after recovery" config get max-chain-depth
expect_out "new value committed" "6"

done_testing
