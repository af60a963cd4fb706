#!/bin/sh
# test_org.sh -- `rebill org`: create, list, show; help at every level; human and JSON
# output; every refused form (exit code, message, database unchanged); and that no failing
# command leaves a database file behind.
. tests/cli/lib.sh

OA=o-aaaaaaaaaa
OB=o-bbbbbbbbbb
OC=o-cccccccccc

# json_is NAME EXPR WANT: the last stdout, as JSON, gives WANT for the Python expression.
json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

# no_db NAME: neither the database nor its lock file exists.
no_db() {
    if [ ! -e "$DB" ] && [ ! -e "$DB-lock" ]; then _pass; else _fail "$1" "$(ls -la "$TMP")"; fi
}

# ---- help at every level ---------------------------------------------------------------
ok "org --help" org --help
expect_out "org help lists the verbs" "rebill org show ID"
for verb in create list show; do
    ok "org $verb --help" org $verb --help
    expect_out "org $verb help is its own" "usage: rebill org $verb"
    expect_out "org $verb help documents JSON" '"management_account"'
done
no_db "help creates no database"
rb org
expect_rc "org without a verb: exit 2" 2
expect_err "org without a verb prints usage" "usage: rebill org create"
rb org frob
expect_rc "unknown org verb: exit 2" 2
expect_err "unknown org verb named" "unknown org verb 'frob'"

# ---- a missing database: reads fail with 3, failing creates leave no file ---------------
rb org list
expect_rc "org list on a missing db: exit 3" 3
expect_err "missing db named" "no database at '$DB'"
no_db "org list creates no database"
rb org show $OA
expect_rc "org show on a missing db: exit 3" 3
no_db "org show creates no database"
refused "create with a bad id on a missing db" 1 \
    'invalid organization id "o-AB": want "o-" and 10..32 lowercase letters or digits' \
    org create --id o-AB --name Acme --management-account 123456789012
no_db "a refused create leaves no database"
refused "create with a bad name on a missing db" 1 'invalid organization name ""' \
    org create --id $OA --name "" --management-account 123456789012
no_db "a refused create (name) leaves no database"
refused "create without --name on a missing db" 2 "missing --name" \
    org create --id $OA --management-account 123456789012
no_db "a usage error leaves no database"
refused "create with a bad --created on a missing db" 1 'invalid --created' \
    org create --id $OA --name Acme --management-account 123456789012 --created never
no_db "a bad --created leaves no database"

# ---- create -------------------------------------------------------------------------------
ok "create an org" org create --id $OA --name "Acme Corp" --management-account 900000000001 \
    --created 2026-01-01
expect_out "create says what it did" "created organization $OA"
check "create made the database" test -f "$DB"
rb --json org create --id $OB --name "Beta" --management-account 900000000002
expect_rc "create --json" 0
json_is "create json id" 'j["id"]' $OB
json_is "create json name" 'j["name"]' Beta
json_is "create json management account" 'j["management_account"]' 900000000002
json_is "created defaults to now" 'j["created"]' 2026-11-26T12:00:00Z
json_is "create json keys" 'sorted(j)' "['created', 'id', 'management_account', 'name']"
ok "create with unicode name" org create --id $OC --name "Café ☕" \
    --management-account 900000000003 --created 2026-06-01T08:30:00Z

# ---- refused creates: exit code, message naming field and value, database unchanged -------
refused "duplicate org" 1 "organization $OA already exists" \
    org create --id $OA --name Other --management-account 900000000009
refused "id o- + 9" 1 'invalid organization id "o-aaaaaaaaa"' \
    org create --id o-aaaaaaaaa --name X --management-account 900000000009
refused "id o- + 33" 1 'invalid organization id "o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...": want' \
    org create --id o-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --name X --management-account 900000000009
refused "id uppercase" 1 'invalid organization id "o-Aaaaaaaaaa"' \
    org create --id o-Aaaaaaaaaa --name X --management-account 900000000009
ok "id o- + 32 is fine" org create --id o-dddddddddddddddddddddddddddddddd --name X \
    --management-account 900000000004
ok "id o- + 10 digits is fine" org create --id o-0123456789 --name X \
    --management-account 900000000005
refused "management account 11 digits" 1 \
    'invalid management account "90000000000": want exactly 12 digits' \
    org create --id o-eeeeeeeeee --name X --management-account 90000000000
refused "management account 13 digits" 1 'invalid management account "9000000000011...": want' \
    org create --id o-eeeeeeeeee --name X --management-account 9000000000011
refused "management account with a letter" 1 'invalid management account "90000000000x"' \
    org create --id o-eeeeeeeeee --name X --management-account 90000000000x
refused "management account of another org" 1 \
    "invalid management account 900000000001: the account already exists (in $OA)" \
    org create --id o-eeeeeeeeee --name X --management-account 900000000001
refused "empty name" 1 'invalid organization name "": want 1..255 bytes, got 0' \
    org create --id o-eeeeeeeeee --name "" --management-account 900000000009
n255=$(printf '%0255d' 0)
n256=$(printf '%0256d' 0)
refused "256-byte name" 1 "want 1..255 bytes, got at least 256" \
    org create --id o-eeeeeeeeee --name "$n256" --management-account 900000000009
refused "name with a newline" 1 'control character U+000A at byte 2' \
    org create --id o-eeeeeeeeee --name "$(printf 'a\nb')" --management-account 900000000009
refused "name with a tab" 1 'control character U+0009 at byte 2' \
    org create --id o-eeeeeeeeee --name "$(printf 'a\tb')" --management-account 900000000009
refused "name not UTF-8" 1 'invalid organization name "a\xff": not valid UTF-8 at byte 2' \
    org create --id o-eeeeeeeeee --name "$(printf 'a\377')" --management-account 900000000009
refused "missing --id" 2 "missing --id" org create --name X --management-account 900000000009
refused "missing --management-account" 2 "missing --management-account" \
    org create --id o-eeeeeeeeee --name X
refused "unknown option" 2 "unknown option '--colour'" \
    org create --id o-eeeeeeeeee --name X --management-account 900000000009 --colour red
refused "bad --created" 1 'invalid --created: not a UTC time' \
    org create --id o-eeeeeeeeee --name X --management-account 900000000009 --created 2026-13-01
refused "created before 1970" 1 'invalid --created' \
    org create --id o-eeeeeeeeee --name X --management-account 900000000009 --created 1969-12-31
ok "255-byte name is fine" org create --id o-ffffffffff --name "$n255" \
    --management-account 900000000006
check "a refused create keeps an existing database" test -f "$DB"

# ---- list -----------------------------------------------------------------------------------
ok "org list" org list
expect_out "list header" "ID                                  MANAGEMENT    CREATED               NAME"
expect_out "list row" "$OA                        900000000001  2026-01-01T00:00:00Z  Acme Corp"
check "list is in id order" test "$(printf '%s\n' "$out" | sed -n '2p;3p;4p' | cut -c1-12 | tr '\n' ' ')" = "o-0123456789 $OA $OB "
check "list has a line per org" test "$(printf '%s\n' "$out" | wc -l)" -eq 7
rb --json org list
expect_rc "org list --json" 0
json_is "list json length" 'len(j)' 6
json_is "list json ids in order" '",".join(o["id"] for o in j)' \
    "o-0123456789,$OA,$OB,$OC,o-dddddddddddddddddddddddddddddddd,o-ffffffffff"
json_is "list json unicode name" 'j[3]["name"]' "Café ☕"
json_is "list json created" 'j[3]["created"]' 2026-06-01T08:30:00Z
refused "list takes no argument" 2 "unexpected argument 'x'" org list x

# ---- show -----------------------------------------------------------------------------------
ok "account for show" account add --org $OA --account 111111111111 --name Dev --since 2026-02-01
ok "org show" org show $OA
expect_out "show id" "id                  $OA"
expect_out "show name" "name                Acme Corp"
expect_out "show management account" "management account  900000000001"
expect_out "show created" "created             2026-01-01T00:00:00Z"
expect_out "show accounts heading" "accounts at 2026-11-26T12:00:00Z:"
expect_out "show lists the added account" "  111111111111  since 2026-02-01T00:00:00Z  Dev"
expect_out "show lists the management account" "  900000000001  since 2026-01-01T00:00:00Z  Acme Corp"
rb --json org show $OA
expect_rc "org show --json" 0
json_is "show json id" 'j["id"]' $OA
json_is "show json accounts" '[(a["id"], a["name"], a["since"], a["until"]) for a in j["accounts"]]' \
    "[('111111111111', 'Dev', '2026-02-01T00:00:00Z', None), ('900000000001', 'Acme Corp', '2026-01-01T00:00:00Z', None)]"
# the accounts are those of the org at --now: before Feb, only the management account
rb --json --now 2026-01-15 org show $OA
json_is "show at an earlier --now" '[a["id"] for a in j["accounts"]]' "['900000000001']"
ok "moved away" account move --account 111111111111 --to $OC --at 2026-07-01
rb --json org show $OA
json_is "show after a move" '[a["id"] for a in j["accounts"]]' "['900000000001']"
rb --json org show $OC
json_is "show of the new org" '[a["id"] for a in j["accounts"]]' "['111111111111', '900000000003']"
rb --json --now 2026-06-30T23:59:59Z org show $OA
json_is "show one second before the move" '[(a["id"], a["until"]) for a in j["accounts"]]' \
    "[('111111111111', '2026-07-01T00:00:00Z'), ('900000000001', None)]"
refused "show an unknown org" 1 "unknown organization o-zzzzzzzzzz" org show o-zzzzzzzzzz
refused "show an invalid id" 1 'invalid organization id "O-1"' org show O-1
refused "show without id" 2 "missing organization id" org show
refused "show with two ids" 2 "unexpected argument '$OB'" org show $OA $OB

done_testing
