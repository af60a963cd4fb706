#!/bin/sh
# test_account.sh -- `rebill account`: add, move, list, show, org; help at every level; human
# and JSON output; every refused form (exit code, message, database unchanged); no command
# creates a database; and "which org at time T" at the boundaries of a move.
. tests/cli/lib.sh

OA=o-aaaaaaaaaa
OB=o-bbbbbbbbbb
OC=o-cccccccccc
A1=111111111111
A2=222222222222
A3=333333333333
A5=555555555555

json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

no_db() {
    if [ ! -e "$DB" ] && [ ! -e "$DB-lock" ]; then _pass; else _fail "$1" "$(ls -la "$TMP")"; fi
}

# out_is NAME WANT: stdout is exactly WANT.
out_is() {
    if [ "$out" = "$2" ]; then _pass; else _fail "$1" "stdout: $out
want:   $2"; fi
}

# ---- help at every level ---------------------------------------------------------------
ok "account --help" account --help
expect_out "account help lists the verbs" "rebill account org --account ACCOUNT [--at TIME]"
for verb in add move list show org; do
    ok "account $verb --help" account $verb --help
    expect_out "account $verb help is its own" "usage: rebill account $verb"
    expect_out "account $verb help documents JSON" "--json"
done
rb account
expect_rc "account without a verb: exit 2" 2
expect_err "account without a verb prints usage" "usage: rebill account add"
rb account frob
expect_rc "unknown account verb: exit 2" 2
expect_err "unknown account verb named" "unknown account verb 'frob'"

# ---- no account command creates a database -----------------------------------------------
for cmd in "add --org $OA --account $A1 --name Dev" "move --account $A1 --to $OB" "list" \
    "show $A1" "org --account $A1"; do
    # shellcheck disable=SC2086
    rb account $cmd
    expect_rc "account $cmd on a missing db: exit 3" 3
    expect_err "account $cmd names the missing db" "no database at '$DB'"
    no_db "account $cmd creates no database"
done
rb account add --org $OA --account 12 --name Dev
expect_rc "a bad add on a missing db: exit 3 (no db to check against)" 3
no_db "a bad add creates no database"
rb account add --org $OA --name Dev
expect_rc "a usage error on a missing db: exit 2" 2
no_db "a usage error creates no database"

# ---- setup -----------------------------------------------------------------------------------
ok "org A" org create --id $OA --name "Org A" --management-account 900000000001 --created 2026-01-01
ok "org B" org create --id $OB --name "Org B" --management-account 900000000002 --created 2026-01-01
ok "org C" org create --id $OC --name "Org C" --management-account 900000000003 --created 2026-06-01

# ---- add -------------------------------------------------------------------------------------
ok "add" account add --org $OA --account $A1 --name Dev --since 2026-02-01
out_is "add says what it did" "added account $A1 to $OA from 2026-02-01T00:00:00Z"
rb --json account add --org $OB --account $A2 --name "Prod ☁"
expect_rc "add --json" 0
json_is "add json" 'j' "{'id': '$A2', 'name': 'Prod ☁', 'org': '$OB', 'since': '2026-11-26T12:00:00Z', 'until': None}"
ok "add exactly at the org's creation" account add --org $OA --account $A3 --name Ops \
    --since 2026-01-01T00:00:00Z

refused "add an existing account" 1 "account $A1 already exists (in $OA); use account move" \
    account add --org $OB --account $A1 --name Dev
refused "add to an unknown org" 1 "unknown organization o-zzzzzzzzzz" \
    account add --org o-zzzzzzzzzz --account 444444444444 --name X
refused "add with an invalid org id" 1 'invalid organization id "o-Z"' \
    account add --org o-Z --account 444444444444 --name X
refused "add an 11-digit account" 1 'invalid account id "44444444444": want exactly 12 digits' \
    account add --org $OA --account 44444444444 --name X
refused "add a 13-digit account" 1 'invalid account id "4444444444444"' \
    account add --org $OA --account 4444444444444 --name X
refused "add an empty name" 1 'invalid account name "": want 1..255 bytes, got 0' \
    account add --org $OA --account 444444444444 --name ""
refused "add a 256-byte name" 1 'want 1..255 bytes, got 256' \
    account add --org $OA --account 444444444444 --name "$(printf '%0256d' 0)"
refused "add a name with a control character" 1 'control character U+001B at byte 1' \
    account add --org $OA --account 444444444444 --name "$(printf '\033[31m')"
refused "add a name that is not UTF-8" 1 'not valid UTF-8 at byte 1' \
    account add --org $OA --account 444444444444 --name "$(printf '\300\257')"
refused "add before the org was created" 1 \
    "invalid since 2026-05-31T23:59:59Z: organization $OC was created later, at 2026-06-01T00:00:00Z" \
    account add --org $OC --account 444444444444 --name X --since 2026-05-31T23:59:59Z
refused "add with a bad --since" 1 'invalid --since: not a UTC time' \
    account add --org $OA --account 444444444444 --name X --since soon
refused "add without --org" 2 "missing --org" account add --account 444444444444 --name X
refused "add without --account" 2 "missing --account" account add --org $OA --name X
refused "add without --name" 2 "missing --name" account add --org $OA --account 444444444444
refused "add with an unknown option" 2 "unknown option '--region'" \
    account add --org $OA --account 444444444444 --name X --region eu

# ---- move ------------------------------------------------------------------------------------
ok "move" account move --account $A1 --to $OB --at 2026-04-01T00:00:00Z
out_is "move says what it did" "moved account $A1 from $OA to $OB at 2026-04-01T00:00:00Z"
rb --json account move --account $A1 --to $OC --at 2026-07-01
expect_rc "move --json" 0
json_is "move json" 'j' "{'id': '$A1', 'from': '$OB', 'to': '$OC', 'at': '2026-07-01T00:00:00Z'}"
rb --json account move --account $A3 --to $OB
json_is "move at defaults to now" 'j["at"]' 2026-11-26T12:00:00Z

refused "move to the same org" 1 "cannot move account $A1 to $OC: it is already there" \
    account move --account $A1 --to $OC --at 2026-08-01
refused "move to an unknown org" 1 "unknown organization o-zzzzzzzzzz" \
    account move --account $A1 --to o-zzzzzzzzzz --at 2026-08-01
refused "move an unknown account" 1 "unknown account 444444444444" \
    account move --account 444444444444 --to $OA --at 2026-08-01
refused "move at the current start" 1 \
    "invalid move time 2026-07-01T00:00:00Z: account $A1 joined $OC at 2026-07-01T00:00:00Z; a move must be later" \
    account move --account $A1 --to $OA --at 2026-07-01
refused "move before the current start" 1 "a move must be later" \
    account move --account $A1 --to $OA --at 2026-06-30
ok "another account" account add --org $OA --account $A5 --name Old --since 2026-01-01
refused "move before the target org existed" 1 \
    "invalid move time 2026-05-31T23:59:59Z: organization $OC was created later, at 2026-06-01T00:00:00Z" \
    account move --account $A5 --to $OC --at 2026-05-31T23:59:59Z
refused "move a management account" 1 \
    "cannot move account 900000000001: it is the management account of $OA" \
    account move --account 900000000001 --to $OB --at 2026-08-01
refused "move an invalid account id" 1 'invalid account id "1111"' \
    account move --account 1111 --to $OB --at 2026-08-01
refused "move with a bad --at" 1 'invalid --at: not a UTC time' \
    account move --account $A1 --to $OB --at tomorrow
refused "move without --to" 2 "missing --to" account move --account $A1
refused "move without --account" 2 "missing --account" account move --to $OB

# ---- org: which org at time T ------------------------------------------------------------------
ok "org at the first start" account org --account $A1 --at 2026-02-01
out_is "org at the first start" $OA
ok "org one second before a move" account org --account $A1 --at 2026-03-31T23:59:59Z
out_is "org one second before a move" $OA
ok "org exactly at a move" account org --account $A1 --at 2026-04-01
out_is "org exactly at a move: the new org applies" $OB
ok "org after the last move" account org --account $A1 --at 2026-07-01T00:00:01Z
out_is "org after the last move" $OC
ok "org defaults to now" account org --account $A1
out_is "org at now" $OC
rb --json account org --account $A1 --at 2026-05-01
json_is "org json" 'j' "{'account': '$A1', 'at': '2026-05-01T00:00:00Z', 'org': '$OB'}"
refused "org before the first start" 1 \
    "account $A1 belonged to no organization at 2026-01-31T23:59:59Z: it joined $OA at 2026-02-01T00:00:00Z" \
    account org --account $A1 --at 2026-01-31T23:59:59Z
refused "org of an unknown account" 1 "unknown account 444444444444" \
    account org --account 444444444444
refused "org of an invalid account" 1 'invalid account id "abc"' account org --account abc
refused "org without --account" 2 "missing --account" account org --at 2026-05-01
refused "org with a bad --at" 1 'invalid --at' account org --account $A1 --at 2026-02-30

# ---- show --------------------------------------------------------------------------------------
ok "show" account show $A1
expect_out "show id" "id    $A1"
expect_out "show name" "name  Dev"
expect_out "show first membership" "$OA                        from 2026-02-01T00:00:00Z  to 2026-04-01T00:00:00Z"
expect_out "show second membership" "$OB                        from 2026-04-01T00:00:00Z  to 2026-07-01T00:00:00Z"
expect_out "show current membership" "$OC                        from 2026-07-01T00:00:00Z  to open"
check "show lists oldest first" test "$(printf '%s\n' "$out" | sed -n '4p;5p;6p' | cut -c3-14 | tr '\n' ' ')" = "$OA $OB $OC "
rb --json account show $A1
expect_rc "show --json" 0
json_is "show json name" 'j["name"]' Dev
json_is "show json memberships" '[(m["org"], m["since"], m["until"]) for m in j["memberships"]]' \
    "[('$OA', '2026-02-01T00:00:00Z', '2026-04-01T00:00:00Z'), ('$OB', '2026-04-01T00:00:00Z', '2026-07-01T00:00:00Z'), ('$OC', '2026-07-01T00:00:00Z', None)]"
refused "show an unknown account" 1 "unknown account 444444444444" account show 444444444444
refused "show an invalid account" 1 'invalid account id "1234567890123"' account show 1234567890123
refused "show without an account" 2 "missing account id" account show

# ---- list --------------------------------------------------------------------------------------
ok "list" account list
expect_out "list header" "ACCOUNT       ORG                                 SINCE                 NAME"
expect_out "list row" "$A1  $OC                        2026-07-01T00:00:00Z  Dev"
check "list has every account" test "$(printf '%s\n' "$out" | wc -l)" -eq 8
rb --json account list
json_is "list json ids in order" '",".join(a["id"] for a in j)' \
    "$A1,$A2,$A3,$A5,900000000001,900000000002,900000000003"
json_is "list json keys" 'sorted(j[0])' "['id', 'name', 'org', 'since', 'until']"
rb --json account list --at 2026-01-15
json_is "list at a time before a start" '[(a["id"], a["org"], a["since"]) for a in j[:3]]' \
    "[('$A1', None, None), ('$A2', None, None), ('$A3', '$OA', '2026-01-01T00:00:00Z')]"
ok "list at a time, human" account list --at 2026-01-15
expect_out "list shows - for no membership" "$A1  -                                   -                     Dev"
rb --json account list --org $OB --at 2026-05-01
json_is "list --org --at" '[(a["id"], a["since"], a["until"]) for a in j]' \
    "[('$A1', '2026-04-01T00:00:00Z', '2026-07-01T00:00:00Z'), ('900000000002', '2026-01-01T00:00:00Z', None)]"
rb --json account list --org $OB
json_is "list --org at now" '[a["id"] for a in j]' "['$A2', '$A3', '900000000002']"
rb --json account list --org $OA
json_is "list --org, another org" '[a["id"] for a in j]' "['$A5', '900000000001']"
rb --json account list --org $OC --at 2026-05-31
json_is "list an org before it existed" 'j' "[]"
refused "list an unknown org" 1 "unknown organization o-zzzzzzzzzz" account list --org o-zzzzzzzzzz
refused "list an invalid org" 1 'invalid organization id "o-"' account list --org o-
refused "list with a bad --at" 1 'invalid --at' account list --at x
refused "list with an argument" 2 "unexpected argument 'all'" account list all

done_testing
