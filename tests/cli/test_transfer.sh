#!/bin/sh
# test_transfer.sh -- `rebill transfer` and `rebill payer`: help at every level; invite,
# accept, decline, cancel, withdraw, rename, show, list; expiry and the acceptance cutoff at
# their boundaries; one transfer per source and month; chain depth (and the setting) and
# cycles; the payer questions across months; human and JSON output; every refused form
# (exit code, message, database unchanged); and that no transfer command creates a database.
. tests/cli/lib.sh

P=o-partner001  # a partner (payer)
Q=o-partner002  # another partner
A=o-aaaaaaaaaa
B=o-bbbbbbbbbb
C=o-cccccccccc
D=o-dddddddddd
X=o-stranger01

# json_is NAME EXPR WANT: the last stdout, as JSON, gives WANT for the Python expression.
json_is() {
    got=$(json_get "$2" 2>&1)
    if [ "$got" = "$3" ]; then _pass; else _fail "$1" "json $2 = $got, want $3
stdout: $out"; fi
}

# is_generated_id NAME VALUE: "rt-" and 13 lowercase letters or digits.
is_generated_id() {
    if printf '%s\n' "$2" | grep -Eqx 'rt-[a-z0-9]{13}'; then _pass; else
        _fail "$1" "not a generated id: '$2'"
    fi
}

# newdb NAME: switch to a fresh database with the organizations above.
newdb() {
    DB="$TMP/$1.db"
    n=0
    for o in $P $Q $A $B $C $D $X; do
        n=$((n + 1))
        ok "create $o in $1" org create --id $o --name "org $o" --management-account "90000000000$n"
    done
}

# invite NAME PAYER SOURCE START [options]: invite; $id gets the new id.
invite() {
    name=$1 payer=$2 source=$3 start=$4; shift 4
    rb transfer invite --payer "$payer" --source "$source" --start "$start" --name "$name" "$@"
    expect_rc "invite $name" 0
    id=$out
}

# ---- help at every level, and no database created ----------------------------------------
ok "transfer --help" transfer --help
expect_out "transfer help lists the verbs" "rebill transfer withdraw ID --as ORG --end YYYY-MM"
for verb in invite accept decline cancel withdraw rename show list; do
    ok "transfer $verb --help" transfer $verb --help
    expect_out "transfer $verb help is its own" "usage: rebill transfer $verb"
done
ok "invite help documents JSON" transfer invite --help
expect_out "invite JSON fields" '"expires_at"'
ok "show help documents history JSON" transfer show --help
expect_out "show JSON history" '"history"'
ok "payer --help" payer --help
expect_out "payer help has both forms" "rebill payer --payer ORG --month YYYY-MM --sources"
rb transfer
expect_rc "transfer without a verb: exit 2" 2
expect_err "transfer without a verb prints usage" "usage: rebill transfer invite"
rb transfer frob
expect_rc "unknown transfer verb: exit 2" 2
expect_err "unknown verb named" "unknown transfer verb 'frob'"
rb payer
expect_rc "payer without options: exit 2" 2
for cmd in "transfer list" "transfer show rt-abcdefgh" "payer --org $A --month 2027-01" \
    "transfer invite --payer $P --source $A --start 2027-01 --name n" \
    "transfer accept rt-abcdefgh --as $A"; do
    rb $cmd
    expect_rc "$cmd on a missing database: exit 3" 3
    expect_err "$cmd names the missing database" "no database at"
    check "$cmd creates no database" test ! -e "$DB"
done

# ---- invite ---------------------------------------------------------------------------------
newdb main
invite "first deal" $P $A 2027-01
is_generated_id "invite prints the new id" "$id"
T1=$id
ok "show" transfer show $T1
expect_out "show status" "status    REQUESTED"
expect_out "show name" "name      first deal"
expect_out "show source" "source    $A"
expect_out "show payer" "payer     $P"
expect_out "show start" "start     2027-01"
expect_out "show open end" "end       open"
expect_out "show expiry: 15 days" "expires   2026-12-11T12:00:00Z"
expect_out "show history: invite" "invite    $P"
rb --json transfer invite --payer $P --source $B --start 2027-02 --name "json one" \
    --notes "two
lines" --id rt-jsonone01
expect_rc "invite --json" 0
json_is "invite json id" "j['id']" rt-jsonone01
json_is "invite json status" "j['status']" REQUESTED
json_is "invite json expires_at" "j['expires_at']" 2026-12-11T12:00:00Z
json_is "invite json invited_at" "j['invited_at']" 2026-11-26T12:00:00Z
json_is "invite json start" "j['start']" 2027-02
json_is "invite json end is null" "j['end']" None
json_is "invite json notes" "j['notes']" "two
lines"
json_is "invite json source" "j['source']" $B
json_is "invite json payer" "j['payer']" $P

refused "invite: missing --payer" 2 "missing --payer" \
    transfer invite --source $C --start 2027-01 --name n
refused "invite: missing --name" 2 "missing --name" \
    transfer invite --payer $P --source $C --start 2027-01
refused "invite: unknown option" 2 "unknown option '--colour'" \
    transfer invite --payer $P --source $C --start 2027-01 --name n --colour red
refused "invite: stray argument" 2 "unexpected argument 'extra'" \
    transfer invite --payer $P --source $C --start 2027-01 --name n extra
refused "invite: bad month" 1 'invalid --start: not a month (want YYYY-MM): "2027-13"' \
    transfer invite --payer $P --source $C --start 2027-13 --name n
refused "invite: bad org id" 1 'invalid source organization id "C"' \
    transfer invite --payer $P --source C --start 2027-01 --name n
refused "invite: unknown org" 1 "unknown payer organization o-nosuchorg1" \
    transfer invite --payer o-nosuchorg1 --source $C --start 2027-01 --name n
refused "invite: same org" 1 "source and payer are the same organization $C" \
    transfer invite --payer $C --source $C --start 2027-01 --name n
long=$(printf '%0129d' 0)
refused "invite: name too long" 1 "invalid transfer name" \
    transfer invite --payer $P --source $C --start 2027-01 --name "$long"
expect_err "name too long says the limit" "want 1..128 bytes, got at least 129"
refused "invite: name not ASCII" 1 "is not printable ASCII" \
    transfer invite --payer $P --source $C --start 2027-01 --name "café"
refused "invite: empty name" 1 'invalid transfer name "": want 1..128 bytes, got 0' \
    transfer invite --payer $P --source $C --start 2027-01 --name ""
notes=$(printf '%01025d' 0)
refused "invite: notes too long" 1 "invalid transfer notes: want at most 1024 bytes" \
    transfer invite --payer $P --source $C --start 2027-01 --name n --notes "$notes"
refused "invite: bad id" 1 'invalid transfer id "rt-ABCDEFGH"' \
    transfer invite --payer $P --source $C --start 2027-01 --name n --id rt-ABCDEFGH
refused "invite: id too long" 1 "invalid transfer id" \
    transfer invite --payer $P --source $C --start 2027-01 --name n \
    --id rt-abcdefghijklmnopqrstuvwxyz0123456789
refused "invite: id taken" 1 "transfer rt-jsonone01 already exists" \
    transfer invite --payer $Q --source $C --start 2027-01 --name n --id rt-jsonone01
msg="start month 2027-01 is too late: invitations for it had to be accepted by"
msg="$msg 2026-12-30T23:59:59Z, and it is 2026-12-31T00:00:00Z"
refused "invite: after the cutoff" 1 "$msg" \
    --now 2026-12-31T00:00:00Z transfer invite --payer $P --source $C --start 2027-01 --name n
refused "invite: a past month" 1 "start month 2026-11 is too late" \
    transfer invite --payer $P --source $C --start 2026-11 --name n
# At the cutoff itself: allowed, and it expires then.
rb --json --now 2026-12-30T23:59:59Z transfer invite --payer $P --source $C --start 2027-01 \
    --name "at the cutoff"
expect_rc "invite at the cutoff" 0
json_is "expires at the cutoff" "j['expires_at']" 2026-12-30T23:59:59Z
TC=$(json_get "j['id']")

# ---- accept, and the actor checks -------------------------------------------------------------
refused "accept: missing --as" 2 "missing --as" transfer accept $T1
refused "accept: missing id" 2 "missing transfer ID" transfer accept --as $A
refused "accept: by the payer" 1 \
    "$P cannot accept transfer $T1: only its source organization $A can" \
    transfer accept $T1 --as $P
refused "accept: by a stranger" 1 "$X cannot accept transfer $T1" transfer accept $T1 --as $X
refused "decline: by the payer" 1 "$P cannot decline transfer $T1" transfer decline $T1 --as $P
refused "cancel: by the source" 1 \
    "$A cannot cancel transfer $T1: only its payer organization $P, which invited, can" \
    transfer cancel $T1 --as $A
refused "withdraw: a REQUESTED one" 1 "cannot withdraw a REQUESTED transfer ($T1)" \
    transfer withdraw $T1 --as $A --end 2027-05
refused "accept: unknown transfer" 1 "unknown transfer rt-nosuchone" \
    transfer accept rt-nosuchone --as $A
refused "accept: bad id" 1 'invalid transfer id "T1"' transfer accept T1 --as $A
refused "accept: bad actor" 1 'invalid actor "A"' transfer accept $T1 --as A
ok "accept by the source" transfer accept $T1 --as $A
expect_out "accept prints the status" "$T1 ACCEPTED"
refused "accept twice" 1 "transfer $T1 is already ACCEPTED" transfer accept $T1 --as $A
refused "decline an accepted one" 1 "cannot decline an ACCEPTED transfer ($T1)" \
    transfer decline $T1 --as $A
refused "cancel an accepted one" 1 "cannot cancel an ACCEPTED transfer ($T1)" \
    transfer cancel $T1 --as $P
rb --json transfer show $T1
json_is "accepted: status" "j['status']" ACCEPTED
json_is "accepted: history actions" "' '.join(e['action'] for e in j['history'])" "invite accept"
json_is "accepted: invite has no from" "j['history'][0]['from']" None
json_is "accepted: accept from" "j['history'][1]['from']" REQUESTED
json_is "accepted: accept to" "j['history'][1]['to']" ACCEPTED
json_is "accepted: accept actor" "j['history'][1]['actor']" $A
json_is "accepted: accept detail" "j['history'][1]['detail']" "in force from 2027-01"

# ---- decline and cancel ---------------------------------------------------------------------
ok "decline by the source" transfer decline rt-jsonone01 --as $B
expect_out "decline prints the status" "rt-jsonone01 DECLINED"
refused "decline twice" 1 "transfer rt-jsonone01 is already DECLINED" \
    transfer decline rt-jsonone01 --as $B
refused "accept a declined one" 1 "cannot accept a DECLINED transfer (rt-jsonone01)" \
    transfer accept rt-jsonone01 --as $B
refused "cancel: by a stranger" 1 "$X cannot cancel transfer $TC" transfer cancel $TC --as $X
ok "cancel by the payer" transfer cancel $TC --as $P
expect_out "cancel prints the status" "$TC CANCELED"
refused "cancel twice" 1 "transfer $TC is already CANCELED" transfer cancel $TC --as $P
refused "withdraw a canceled one" 1 "cannot withdraw a CANCELED transfer ($TC)" \
    transfer withdraw $TC --as $P --end 2027-05

# ---- expiry: REQUESTED at expires_at, EXPIRED one second later ------------------------------
invite "will expire" $Q $D 2027-03
TE=$id
rb --now 2026-12-11T12:00:00Z transfer show $TE
expect_out "still requested at expires_at" "status    REQUESTED"
rb --now 2026-12-11T12:00:01Z --json transfer show $TE
json_is "expired a second later" "j['status']" EXPIRED
json_is "expired: updated_at is the expiry" "j['updated_at']" 2026-12-11T12:00:00Z
json_is "expired: history ends with the expiry" "j['history'][-1]['action']" expire
json_is "expired: by system" "j['history'][-1]['actor']" system
json_is "expired: at expires_at" "j['history'][-1]['at']" 2026-12-11T12:00:00Z
rb transfer show $TE
expect_out "no expiry before it" "status    REQUESTED"
refused "accept after expiry" 1 \
    "cannot accept an EXPIRED transfer ($TE): invitation expired at 2026-12-11T12:00:00Z" \
    --now 2026-12-11T12:00:01Z transfer accept $TE --as $D
refused "cancel after expiry" 1 "invitation expired at 2026-12-11T12:00:00Z" \
    --now 2026-12-11T12:00:01Z transfer cancel $TE --as $Q
# An expired invitation does not block a new one; a live one does.
refused "a live invitation blocks" 1 \
    "source organization $D already has transfer $TE (REQUESTED, 2027-03..open)" \
    --now 2026-12-11T12:00:00Z transfer invite --payer $P --source $D --start 2027-04 --name n
rb --now 2026-12-11T12:00:01Z transfer invite --payer $P --source $D --start 2027-04 --name "after"
expect_rc "an expired invitation does not block" 0
TD=$out
ok "accept at exactly expires_at" --now 2026-12-26T12:00:01Z transfer accept $TD --as $D

# ---- withdraw -------------------------------------------------------------------------------
refused "withdraw: missing --end" 2 "missing --end" transfer withdraw $T1 --as $A
refused "withdraw: bad --end" 1 'invalid --end: not a month (want YYYY-MM): "soon"' \
    transfer withdraw $T1 --as $A --end soon
refused "withdraw: end before the current month" 1 \
    "withdrawal end month 2026-10 is before the current month 2026-11" \
    transfer withdraw $T1 --as $A --end 2026-10
msg="$X cannot withdraw transfer $T1: only its source organization $A or its payer"
refused "withdraw: by a stranger" 1 "$msg organization $P can" \
    transfer withdraw $T1 --as $X --end 2027-05
ok "withdraw by the payer" transfer withdraw $T1 --as $P --end 2027-04
expect_out "withdraw prints the status" "$T1 WITHDRAWN"
refused "withdraw twice" 1 "transfer $T1 is already WITHDRAWN" \
    transfer withdraw $T1 --as $A --end 2027-06
refused "accept a withdrawn one" 1 "cannot accept a WITHDRAWN transfer ($T1)" \
    transfer accept $T1 --as $A
rb --json transfer show $T1
json_is "withdrawn: end month" "j['end']" 2027-04
json_is "withdrawn: detail" "j['history'][-1]['detail']" "end 2027-04"
# Still in force to the end of 2027-04: a new transfer can start in 2027-05, not before.
msg="source organization $A already has transfer $T1 (WITHDRAWN, 2027-01..2027-04)"
refused "overlaps a withdrawn one in force" 1 "$msg for months from 2027-04" \
    transfer invite --payer $Q --source $A --start 2027-04 --name n
invite "after the end" $Q $A 2027-05
TA2=$id
refused "overlaps a live invitation" 1 "already has transfer $TA2 (REQUESTED, 2027-05..open)" \
    transfer invite --payer $P --source $A --start 2027-09 --name n
ok "accept the new one" transfer accept $TA2 --as $A
refused "overlaps an accepted one" 1 "already has transfer $TA2 (ACCEPTED, 2027-05..open)" \
    transfer invite --payer $P --source $A --start 2028-01 --name n

# ---- rename ---------------------------------------------------------------------------------
refused "rename: missing --name" 2 "missing --name" transfer rename $T1
refused "rename: too long" 1 "want 1..128 bytes, got 129" transfer rename $T1 --name "$long"
refused "rename: unknown" 1 "unknown transfer rt-nosuchone" transfer rename rt-nosuchone --name x
ok "rename" transfer rename $T1 --name "renamed deal"
expect_out "rename prints" "$T1 renamed"
rb --json transfer show $T1
json_is "renamed: name" "j['name']" "renamed deal"
json_is "renamed: status unchanged" "j['status']" WITHDRAWN
json_is "history in order" "' '.join(e['action'] for e in j['history'])" \
    "invite accept withdraw rename"
json_is "rename by operator" "j['history'][-1]['actor']" operator
json_is "rename detail" "j['history'][-1]['detail']" "name 'first deal' -> 'renamed deal'"
json_is "rename keeps the status" "j['history'][-1]['from'] + j['history'][-1]['to']" \
    WITHDRAWNWITHDRAWN
snapshot
ok "rename to the same name" transfer rename $T1 --name "renamed deal"
expect_unchanged "the same name writes nothing"

# ---- list -----------------------------------------------------------------------------------
ok "list" transfer list
expect_out "list header" "ID                STATUS"
expect_out "list shows the renamed" "renamed deal"
rb --json transfer list
expect_rc "list --json" 0
json_is "list: all, in id order" "[t['id'] for t in j] == sorted(t['id'] for t in j) and len(j)" 6
rb --json transfer list --org $A
json_is "list --org: source or payer" "sorted(t['id'] for t in j) == sorted(['$T1', '$TA2'])" True
rb --json transfer list --org $P --outbound
json_is "list --outbound: payer" "all(t['payer'] == '$P' for t in j) and len(j)" 4
rb --json transfer list --org $P --inbound
json_is "list --inbound: source" "len(j)" 0
rb --now 2026-12-20T00:00:00Z --json transfer list --org $D --inbound
json_is "list --inbound of D" "len(j)" 2
json_is "list shows effective status" "sorted(t['status'] for t in j)" "['ACCEPTED', 'EXPIRED']"
refused "list --inbound without --org" 2 "--inbound needs --org" transfer list --inbound
refused "list unknown org" 1 "unknown organization o-nosuchorg1" transfer list --org o-nosuchorg1

# ---- payer questions across months ----------------------------------------------------------
ok "payer before the start" payer --org $A --month 2026-12
expect_out "pays its own bill" "payer   $A (no transfer in force: it pays its own bill)"
ok "payer of A in 2027-02" payer --org $A --month 2027-02
expect_out "direct payer" "payer   $P (via $T1)"
expect_out "top" "top     $P (depth 1)"
rb --json payer --org $A --month 2027-05
json_is "payer json: new payer after the withdrawal" "j['payer']" $Q
json_is "payer json: depth" "j['depth']" 1
json_is "payer json: chain" "j['chain'][0]['transfer']" $TA2
rb --json payer --org $A --month 2026-12
json_is "payer json: depth 0" "j['depth']" 0
json_is "payer json: pays itself" "j['payer'] + ' ' + j['top']" "$A $A"
json_is "payer json: empty chain" "j['chain']" "[]"
ok "sources" payer --payer $P --month 2027-04 --sources
expect_out "P pays A in 2027-04" "$A"
rb --json payer --payer $P --month 2027-05 --sources
json_is "sources json: D from 2027-04, A no longer" "[s['org'] for s in j['sources']]" "['$D']"
json_is "sources json: transfer" "j['sources'][0]['transfer']" $TD
ok "no sources" payer --payer $P --month 2026-12 --sources
expect_out "nobody" "$P pays no other organization's bill in 2026-12"
refused "payer: both forms" 2 "not both" payer --org $A --payer $P --month 2027-01
refused "payer: --sources with --org" 2 "--sources goes with --payer" \
    payer --org $A --month 2027-01 --sources
refused "payer: missing --month" 2 "missing --month" payer --org $A
refused "payer: bad month" 1 "invalid --month" payer --org $A --month 2027-1
refused "payer: unknown org" 1 "unknown organization o-nosuchorg1" \
    payer --org o-nosuchorg1 --month 2027-01
refused "sources: unknown payer" 1 "unknown payer organization o-nosuchorg1" \
    payer --payer o-nosuchorg1 --month 2027-01 --sources

# ---- chains and their depth -----------------------------------------------------------------
newdb chain
invite "a to b" $B $A 2027-01
AB=$id
ok "accept a->b" transfer accept $AB --as $A
invite "b to c" $C $B 2027-01
BC=$id
ok "accept b->c: a chain of 2" transfer accept $BC --as $B
msg="transfer would make a payer chain of 3 transfers in 2027-01 ($A -> $B -> $C -> $D):"
refused "a chain of 3 is refused by default" 1 "$msg max-chain-depth is 2" \
    transfer invite --payer $D --source $C --start 2027-01 --name "c to d"
ok "raise max-chain-depth" config set max-chain-depth 3
invite "c to d" $D $C 2027-01
CD=$id
ok "lower it again" config set max-chain-depth 2
refused "checked again at accept" 1 "payer chain of 3 transfers" transfer accept $CD --as $C
ok "raise it again" config set max-chain-depth 3
ok "accept c->d: a chain of 3" transfer accept $CD --as $C
rb payer --org $A --month 2027-01
expect_out "direct payer of A" "payer   $B (via $AB)"
expect_out "top of A's chain" "top     $D (depth 3)"
expect_out "the chain" "chain   $A -> $B ($AB) -> $C ($BC) -> $D ($CD)"
ok "B's bill goes to C and on" payer --org $B --month 2027-01
expect_out "B's top" "top     $D (depth 2)"
rb --json payer --payer $B --month 2027-01 --sources
json_is "B pays for A only (directly)" "[s['org'] for s in j['sources']]" "['$A']"

# ---- cycles ---------------------------------------------------------------------------------
newdb cycles
invite "a to b" $B $A 2027-01
AB=$id
refused "A->B then B->A" 1 "transfer would make a payer cycle in 2027-01: $B -> $A -> $B" \
    transfer invite --payer $A --source $B --start 2027-01 --name "b to a"
ok "accept a->b" transfer accept $AB --as $A
ok "allow long chains" config set max-chain-depth 5
invite "b to c" $C $B 2027-01
ok "accept b->c" transfer accept $id --as $B
refused "A->B->C->A" 1 "payer cycle in 2027-01: $C -> $A -> $B -> $C" \
    transfer invite --payer $A --source $C --start 2027-01 --name "c to a"
refused "a cycle months later" 1 "payer cycle in 2027-09" \
    transfer invite --payer $A --source $C --start 2027-09 --name "c to a"
ok "end a->b after 2027-02" transfer withdraw $AB --as $B --end 2027-02
invite "c to a, after" $A $C 2027-03
ok "accept c->a" transfer accept $id --as $C
rb payer --org $A --month 2027-02
expect_out "A's bill goes to B to the end of 2027-02" "payer   $B"
rb payer --org $B --month 2027-03
expect_out "B -> C -> A from 2027-03" "top     $A (depth 2)"
rb payer --org $C --month 2027-03
expect_out "C's bill goes to A from 2027-03" "payer   $A"

done_testing
