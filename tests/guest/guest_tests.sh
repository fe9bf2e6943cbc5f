#!/bin/sh
# Runs inside the test guest (from its /init): records with
# `spantap record --module` the modules built on the host, with the test
# programs reached over the share at their host paths. Writes the databases
# and one line per recording (its exit status) into SHARE/out; the host
# checks them (check_guest.sh). Every step is bounded by a timeout.
S=$1
O=$S/out
A=$S/apps
export PATH=$A:$PATH
M=$S/spt_all.ko
. "$S/guest_lib.sh"
cd /tmp || exit 1

# rec NAME TIMEOUT ARGS...: one recording into /tmp/NAME.db, copied to the share
rec() {
  n=$1 t=$2
  shift 2
  timeout -s INT "$t" spantap record --module "$M" -o "/tmp/$n.db" "$@" > "$O/$n.out" 2> "$O/$n.err"
  echo "$n rc=$?" >> "$O/status.txt"
  cp "/tmp/$n.db" "$O/$n.db" 2> /dev/null
}
: > "$O/status.txt"

echo "== launched command, fork, exec, threads, every stack mode"
for v in fp nofp; do
  for s in 1 2 3 4; do
    rec "cmd_${v}_s$s" 120 -s "$s" -- "chain_$v" fork
  done
done

echo "== stacks from a frame-pointer walk (--unwind fp)"
M=$S/spt_fpwalk.ko
rec fpwalk 120 -- chain_fp fork
M=$S/spt_all.ko

echo "== TCP over loopback: state changes with stacks"
rec tcp 120 -s 4 -- chain_fp tcp 3

echo "== a saved stream, imported on the host (check_guest.sh)"
rec import_src 120 -s 2 --save-stream "$O/import.stream" -- chain_nofp fork

echo "== the demo's services under ab, recorded by their names"
spantap record --module "$S/spt_demo.ko" -s 1 -o /tmp/demo.db > "$O/demo.out" 2> "$O/demo.err" &
recpid=$!
wait_tracing "$O/demo.err" || echo "demo: never tracing"
top_builddir=$S/demo timeout 300 bash "$S/demo/demo/run.sh" -n "${DEMO_N:-400}" -c 4 -o /tmp/truth \
  > "$O/demo_run.txt" 2>&1
drc=$?
kill -INT $recpid
wait $recpid
echo "demo rc=$drc record=$?" >> "$O/status.txt"
cp /tmp/demo.db "$O/demo.db" 2> /dev/null
cp -r /tmp/truth "$O/truth" 2> /dev/null

echo "== trace map: by name, already running, started later, a decoy left untraced"
cp "$A/chain_fp" /tmp/chain_decoy
# running before the recording, they hold their 6 s sleep until it traces
# (however long the module takes to load on a loaded host)
CHAIN_APP_START_FILE=/tmp/map.go chain_fp sleep 6000 > /dev/null &
early=$!
CHAIN_APP_START_FILE=/tmp/map.go /tmp/chain_decoy sleep 6000 > /dev/null &
decoy=$!
# no -s/-d: the module's own stack mode and depth, from its stream's BEGIN record
spantap record --module "$M" -o /tmp/map.db > "$O/map.out" 2> "$O/map.err" &
recpid=$!
wait_tracing "$O/map.err" || echo "map: never tracing"
touch /tmp/map.go
chain_nofp chain 2 > /dev/null
wait $early $decoy
kill -INT $recpid
wait $recpid
echo "map rc=$? early=$early decoy=$decoy" >> "$O/status.txt"
cp /tmp/map.db "$O/map.db"

echo "== loss: every record of a getppid() loop stored or counted lost"
# loss_REC BUFFER-MIB STOP: records the loop (spt_loss.ko traces chain_fp by
# name) and stops the recording as soon as it ends, as the bench does; with
# STOP=1 the collector is stopped (SIGSTOP) while the loop runs, so that the
# relay buffers fill and the module must count what it cannot send.
loss_rec() {
  n=$1
  spantap record --module "$S/spt_loss.ko" --buffer-size "$2" -o "/tmp/$n.db" > "$O/$n.out" \
    2> "$O/$n.err" &
  recpid=$!
  wait_tracing "$O/$n.err" || echo "$n: never tracing"
  [ "$3" = 1 ] && kill -STOP $recpid
  chain_fp seq "$LOSS_N" > /dev/null & # call i passes i and ~i (negative)
  loop=$!
  wait $loop
  [ "$3" = 1 ] && kill -CONT $recpid
  kill -INT $recpid
  wait $recpid
  echo "$n rc=$? pid=$loop n=$LOSS_N" >> "$O/status.txt"
  cp "/tmp/$n.db" "$O/$n.db" 2> /dev/null
}
LOSS_N=50000
loss_rec loss_none 64 0
loss_rec loss_forced 1 1

echo "== two recordings at once: one quiets what it does not trace, the other records it"
# chain_nofp polls for its start file while a recording of chain_fp alone
# (spt_loss.ko) quiets it, an untraced process; then a recording that traces
# chain_nofp (spt_all.ko) starts: every call of the loop must reach it
TWO_N=5000
CHAIN_APP_START_FILE=/tmp/two.go chain_nofp seq "$TWO_N" > /dev/null &
loop=$!
spantap record --module "$S/spt_loss.ko" -o /tmp/two_a.db > "$O/two_a.out" 2> "$O/two_a.err" &
reca=$!
wait_tracing "$O/two_a.err" || echo "two_a: never tracing"
sleep 1
spantap record --module "$M" -o /tmp/two_b.db > "$O/two_b.out" 2> "$O/two_b.err" &
recb=$!
wait_tracing "$O/two_b.err" || echo "two_b: never tracing"
sleep 1
touch /tmp/two.go
wait $loop
kill -INT $recb
wait $recb
rcb=$?
kill -INT $reca
wait $reca
echo "two rc=$? rc_b=$rcb pid=$loop n=$TWO_N" >> "$O/status.txt"
cp /tmp/two_a.db /tmp/two_b.db "$O/" 2> /dev/null

echo "== the collector killed (SIGKILL): the module goes away"
spantap record --module "$M" -o /tmp/kill.db -- chain_fp sleep 3000 > /dev/null 2> "$O/killcol.err" &
recpid=$!
wait_tracing "$O/killcol.err"
kill -KILL $recpid
i=0
while lsmod | grep -q '^spt_all' && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
echo "killcol loaded_after=$(lsmod | grep -c '^spt_all')" >> "$O/status.txt"
lsmod | grep -q "^spt_all" && staprun -d spt_all
pkill -f 'chain_fp sleep' 2> /dev/null

echo "== staprun killed: the recording ends, stored and marked incomplete"
spantap record --module "$M" -o /tmp/killrun.db -- chain_fp sleep 3000 > /dev/null 2> "$O/killrun.err" &
recpid=$!
wait_tracing "$O/killrun.err"
for p in $(pidof stapio staprun); do kill -KILL "$p"; done
wait $recpid
echo "killrun rc=$?" >> "$O/status.txt"
cp /tmp/killrun.db "$O/killrun.db" 2> /dev/null
pkill -f 'chain_fp sleep' 2> /dev/null
i=0
while lsmod | grep -q '^spt_all' && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
echo "killrun loaded_after=$(lsmod | grep -c '^spt_all')" >> "$O/status.txt"
dmesg | grep -E 'BUG:|Oops|WARNING:|Call Trace' | head -5 > "$O/dmesg.txt"
echo "== done"
