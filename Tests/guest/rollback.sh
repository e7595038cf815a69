#!/bin/sh
# Rollback of a running Linux guest, memory and disk together: the guest counts, printing each count
# with its /proc/uptime and writing it to sector COUNT of /dev/vda. Snapshot at N, run on to M > N, roll
# back: the console continues at N+1 with no boot, uptime continues from the snapshot's, and the disk
# holds the counts up to where the restored guest got, none of those written between the snapshot and
# the rollback. `--at` picks the newest snapshot at or before a time.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
echo "counter starts"
i=1
while [ $i -le 100000 ]; do
    echo "count $i up $(cut -d' ' -f1 /proc/uptime)"
    echo "count $i" | dd of=/dev/vda bs=512 seek=$i conv=sync,fsync 2>/dev/null
    i=$((i + 1)); usleep 300000
done
G
start_guest roll guest.sh run.log --disk "$PWD/disk.img"
stop_all() { amber stop roll >/dev/null 2>&1; }
wait_console roll "count 5 " "$GUEST_TIMEOUT" || { amber logs roll >console.log 2>&1; show console.log; stop_all; fail "the guest never reached count 5"; }

# last_count LOG: the highest count LOG shows.
last_count() { tr -d '\r' <"$1" | sed -n 's/^count \([0-9]*\) up .*/\1/p' | tail -n1; }
uptime_of() { tr -d '\r' <"$1" | sed -n "s/^count $2 up \([0-9.]*\)\$/\1/p" | head -n1; }

amber logs roll >before-snapshot.log
amber snapshot take roll --json >snap.json 2>snap.err || { show snap.err; stop_all; fail "amber snapshot failed"; }
amber logs roll >after-snapshot.log
low="$(last_count before-snapshot.log)" high="$(last_count after-snapshot.log)"
id="$(tr -d ' \n' <snap.json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')"
[ -n "$id" ] || { cat snap.json; stop_all; fail "no snapshot id in amber snapshot --json"; }
target=$((high + 8))
wait_console roll "count $target " "$GUEST_TIMEOUT" || { stop_all; fail "the guest did not run on to count $target"; }
sleep 1
# roll_back_to ID LOW HIGH LOG: rolls back to snapshot ID, taken between counts LOW and HIGH; the console
# (saved to LOG) must go on from there without a boot. Sets resumed_at to the first count after it.
roll_back_to() {
    amber rollback roll --to "$1" >"$4.out" 2>&1 || { show "$4.out"; stop_all; fail "amber rollback --to $1 failed"; }
    cat "$4.out"
    wait_console roll "count " "$GUEST_TIMEOUT" || { stop_all; fail "no count on the console after the rollback to $1"; }
    amber logs roll >"$4"
    resumed_at="$(tr -d '\r' <"$4" | sed -n 's/^count \([0-9]*\) up .*/\1/p' | head -n1)"
    [ "$resumed_at" -gt "$2" ] && [ "$resumed_at" -le $(($3 + 1)) ] \
        || { show "$4"; stop_all; fail "after the rollback to $1 the guest counted from $resumed_at; the snapshot was taken between counts $2 and $3"; }
    if grep -q "counter starts" "$4"; then show "$4"; stop_all; fail "the guest booted again after the rollback to $1"; fi
}
roll_back_to "$id" "$low" "$high" after-rollback.log
up_resumed="$(uptime_of after-rollback.log "$resumed_at")"
up_previous="$(uptime_of after-snapshot.log $((resumed_at - 1)))"
# The first run printed the same count after the snapshot's pause; the restored guest's clock does not
# count the pause or the time on disk, so it shows at most that (plus scheduling noise).
up_first_run="$(uptime_of after-snapshot.log "$resumed_at")"
awk -v a="$up_previous" -v b="$up_resumed" -v c="${up_first_run:-1e9}" 'BEGIN { exit !(b >= a && b <= c + 2) }' \
    || { stop_all; fail "uptime after the rollback is $up_resumed s; before the snapshot it was $up_previous s, the first run printed this count at ${up_first_run:-?} s"; }

# The disk: counts up to where the restored guest is, nothing of the run that was rolled away.
wait_console roll "count $((resumed_at + 2)) " 60 || { stop_all; fail "the restored guest does not go on counting"; }
amber pause roll >/dev/null
now="$(amber logs roll | tr -d '\r' | sed -n 's/^count \([0-9]*\) up .*/\1/p' | tail -n1)"
amber disk export roll rolled.img >export.log 2>&1 || { show export.log; stop_all; fail "amber disk export failed"; }
amber resume roll >/dev/null
sector() { dd if=rolled.img bs=512 skip="$1" count=1 2>/dev/null | tr -d '\0' | head -n1; }
[ "$(sector "$resumed_at")" = "count $resumed_at" ] || { stop_all; fail "sector $resumed_at holds '$(sector "$resumed_at")' after the rollback"; }
[ "$(sector 1)" = "count 1" ] || { stop_all; fail "sector 1 lost by the rollback"; }
[ "$now" -lt "$target" ] || { stop_all; fail "the restored guest already reached $now, past $target: cannot tell rolled-away sectors apart"; }
[ -z "$(sector "$target")" ] || { stop_all; fail "sector $target still holds '$(sector "$target")', written before the rollback"; }
echo "rolled back to snapshot $id (between counts $low and $high): the console went on at $resumed_at with uptime $up_resumed s (count before: $up_previous s; the first run printed it at ${up_first_run:-?} s), disk holds counts 1..$resumed_at and none of the rolled-away $target"

# --at: between two snapshots picks the earlier.
sleep 2
amber logs roll >before-snap2.log
amber snapshot take roll --json >snap2.json 2>snap2.err || { show snap2.err; stop_all; fail "the second amber snapshot failed"; }
amber logs roll >after-snap2.log
low2="$(last_count before-snap2.log)" high2="$(last_count after-snap2.log)"
second="$(tr -d ' \n' <snap2.json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')"
created="$(tr -d ' \n' <snap2.json | sed -n 's/.*"created":"\([^"]*\)".*/\1/p')"
seconds="$(TZ=UTC date -d "$(echo "$created" | sed 's/T/ /; s/Z$//')" +%s)"
at="$(TZ=UTC date -d "@$((seconds - 1))" +%Y-%m-%dT%H:%M:%SZ)"
amber rollback roll --at "$at" --json >at.json 2>at.err || { show at.err; stop_all; fail "amber rollback --at failed"; }
grep -q "\"id\" *: *\"$id\"" at.json || { cat at.json; stop_all; fail "--at $at (1 s before snapshot $second) did not pick $id"; }
wait_console roll "count " 60 || { stop_all; fail "no count after the --at rollback"; }
echo "--at '$at' picked $id, not the later $second"

# The second snapshot was of the restored VM (memory read only where it changed since the first):
# rolling back to it goes on from its own count.
roll_back_to "$second" "$low2" "$high2" after-rollback2.log
wait_console roll "count $((resumed_at + 2)) " 60 || { stop_all; fail "the guest restored from $second does not go on counting"; }
stop_all
echo "snapshot $second of the rolled-back VM (between counts $low2 and $high2) restores: the console went on at $resumed_at"
