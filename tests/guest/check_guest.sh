#!/bin/bash
# `make check-guest`: SystemTap's module runtime, built here and run for real
# in a qemu guest booted from Debian's kernel (TCG: this runs where KVM does
# not). Prepares the host (tests/guest/prepare.sh), patches stap's runtime
# (spantap setup --runtime kernel), builds the module for the guest's kernel
# (spantap record --compile-only --kernel-release KVER), boots the guest, which
# records with `spantap record --module` (tests/guest/guest_tests.sh), then
# checks the recordings here. Steps are timed (tests/guest/lib.sh).
# usage: check_guest.sh CACHE_DIR    (env: top_builddir, top_srcdir)
set -uo pipefail
CACHE=${1:-/var/cache/spantap-guest}
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$top_srcdir/tests/guest/lib.sh"
failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "check-guest installs packages and boots a guest: it needs root"
[ -x "$SPANTAP" ] || { echo "no $SPANTAP: run make first"; exit 1; }
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is missing (run ./bootstrap)"
guest_prepare && guest_apps || exit 1
guest_module spt_all --binary chain_fp --binary chain_nofp --events all,sched --stack-mode 2 \
  --stack-depth 8 || exit 1
# every syscall and nothing else (no stacks, no scheduler events): what the
# loss tests count is exactly the loop's records
guest_module spt_loss --binary chain_fp --events all --stack-mode 0 || exit 1
# stacks from a frame-pointer walk instead of stap's DWARF unwinder
guest_module spt_fpwalk --binary chain_fp --events all --stack-mode 4 --unwind fp || exit 1
# No probe of the module runtime takes a lock: stap's translation (pass 3)
# lists, for each probe, the global locks it takes; every list must be empty,
# or every process's syscalls and context switches would contend for them.
phase "lock-free probes (stap -p3)"
"$SPANTAP" script --runtime kernel --binary chain_fp --events all,sched,faults -s 4 \
  > "$W/out/locks.stp" &&
  stap -g -p3 -r "$KVER" "$W/out/locks.stp" > "$W/out/locks.c" 2> "$W/out/locks.err" || {
  cat "$W/out/locks.err"
  echo "stap -p3 of the module runtime's script failed"
  exit 1
}
probes=$(grep -c 'stp_probe_lock locks\[\] = {' "$W/out/locks.c")
locked=$(awk '/stp_probe_lock locks\[\] = \{/ { getline next_line; if (next_line !~ /^ *\};/) n++ }
  END { print n + 0 }' "$W/out/locks.c")
[ "$probes" -ge 8 ] && [ "$locked" = 0 ] &&
  ok "module runtime: none of the script's $probes probes takes a lock (all,sched,faults; mode 4)" ||
  not_ok "module runtime: $locked of $probes probes take a global lock (out/locks.c)"
# the demo's services, at the share's paths (run.sh finds them next to itself)
mkdir -p "$W/demo/demo"
for f in demo_front demo_middle demo_store; do
  cmp -s "$top_builddir/demo/$f" "$W/demo/demo/$f" || cp "$top_builddir/demo/$f" "$W/demo/demo/"
done
cp "$top_srcdir/demo/run.sh" "$W/demo/demo/run.sh"
PATH=$W/demo/demo:$PATH guest_module spt_demo --binary demo_front --binary demo_middle \
  --binary demo_store --events default,file --stack-mode 1 || exit 1
guest_boot "$GUEST_DIR/guest_tests.sh" /usr/bin/bash /usr/bin/ab || exit 1

phase "checks"
O=$W/out
q() { sqlite3 -batch -noheader "$1" "$2" 2> /dev/null; }
status_of() { sed -n "s/^$1 rc=\([0-9]*\).*/\1/p" "$O/status.txt" 2> /dev/null; }
# the dup() stacks of a recording, innermost first, one line per distinct stack
dup_stacks() {
  q "$1" "SELECT (SELECT group_concat(function, ' < ') FROM (SELECT f.function FROM stack_frames sf
       JOIN frames f ON f.id = sf.frame_id WHERE sf.stack_id = sc.stack_id ORDER BY sf.idx))
     FROM syscalls sc WHERE sc.nr = 32 GROUP BY sc.stack_id"
}
for v in fp nofp; do
  for s in 1 2 3 4; do
    n=cmd_${v}_s$s db=$O/cmd_${v}_s$s.db
    rc=$(status_of "$n")
    [ "$rc" = 0 ] && ok "$n: spantap record --module exited 0" ||
      { not_ok "$n: spantap record --module exited '$rc'"; tail -5 "$O/$n.err" 2> /dev/null; continue; }
    procs=$(q "$db" "SELECT count(*) FROM processes")
    execs=$(q "$db" "SELECT count(*) FROM process_events WHERE kind = 'exec'")
    threads=$(q "$db" "SELECT count(*) FROM threads t JOIN processes p ON p.pid = t.pid WHERE t.tid != t.pid")
    [ "${procs:-0}" -ge 2 ] && [ "${execs:-0}" -ge 2 ] && [ "${threads:-0}" -ge 1 ] &&
      ok "$n: fork, exec and thread followed ($procs processes, $execs execs, $threads threads)" ||
      not_ok "$n: fork/exec/thread: $procs processes, $execs execs, $threads threads"
    stacks=$(dup_stacks "$db")
    case $s in
      1) want='chain_c' ;;
      2) want='chain_c < chain_b < chain_a < run_chain' ;;
      3) want='chain_c' ;;
      4) want='chain_c < chain_b < chain_a < run_chain' ;;
    esac
    # modes 1 and 3 keep one frame per binary: the three callers share it
    min=2
    case $s in 1 | 3) min=1 ;; esac
    nfull=$(printf '%s\n' "$stacks" | grep -c "$want")
    [ "$nfull" -ge "$min" ] && ok "$n: dup() stacks hold '$want' ($nfull distinct)" ||
      { not_ok "$n: dup() stacks lack '$want'"; printf '    %s\n' "$stacks" | head -5; }
    if [ "$s" = 4 ]; then
      printf '%s\n' "$stacks" | grep -q "chain_c < chain_c" && not_ok "$n: a frame is doubled" ||
        ok "$n: no doubled innermost frame"
    fi
    if [ "$s" = 1 ]; then # --events sched: the parent's waitpid() for its child
      waits=$(q "$db" "SELECT count(*) FROM offcpu WHERE state = 1 AND dur_ns > 0")
      strays=$(q "$db" "SELECT count(*) FROM offcpu WHERE pid NOT IN (SELECT pid FROM processes)")
      [ "${waits:-0}" -ge 1 ] && [ "${strays:-1}" = 0 ] &&
        ok "$n: off-CPU time recorded ($waits sleeps), of traced processes only" ||
        not_ok "$n: off-CPU: ${waits:-0} sleeps, ${strays:-?} of untraced processes"
    fi
  done
done

# --unwind fp: chain_fp keeps its frame pointers, libc's dup() wrapper is
# frameless (its caller's return address is found at sp)
rc=$(status_of fpwalk)
stacks=$(dup_stacks "$O/fpwalk.db")
nfull=$(printf '%s\n' "$stacks" | grep -c '^[^<]* < chain_c < chain_b < chain_a < run_chain < ')
[ "$rc" = 0 ] && [ "$nfull" -ge 2 ] &&
  ok "--unwind fp: dup() stacks from a frame-pointer walk, libc to run_chain and beyond ($nfull distinct)" ||
  { not_ok "--unwind fp: exit '$rc', dup() stacks lack the whole chain"; printf '    %s\n' "$stacks" | head -5; }
printf '%s\n' "$stacks" | grep -q "chain_c < chain_c" && not_ok "--unwind fp: a frame is doubled" ||
  ok "--unwind fp: no doubled frame"

db=$O/tcp.db
rc=$(status_of tcp)
n=$(q "$db" "SELECT count(*) FROM tcp_states")
ns=$(q "$db" "SELECT count(*) FROM tcp_states WHERE stack_id IS NOT NULL")
[ "$rc" = 0 ] && [ "${n:-0}" -ge 4 ] && ok "tcp: $n TCP state changes recorded" ||
  not_ok "tcp: exit '$rc', ${n:-0} TCP state changes"
[ "${ns:-0}" -ge 1 ] && ok "tcp: TCP state changes carry stacks ($ns of $n)" ||
  not_ok "tcp: no TCP state change has a stack"

# a stream recorded in the guest, imported here: its files are found by path
# (the guest's inodes mean nothing here), the same files as the guest ran; its
# stack mode (2) and depth (8) are the module's, from the stream's BEGIN record
"$SPANTAP" import -f -o "$O/import.db" "$O/import.stream" > "$O/import.txt" 2>&1 ||
  not_ok "import of the guest's stream failed: $(tail -1 "$O/import.txt")"
n=$(dup_stacks "$O/import.db" | grep -c 'chain_c < chain_b < chain_a < run_chain')
[ "$n" -ge 2 ] && ok "import elsewhere: the guest's stream symbolizes by path ($n dup() stacks)" ||
  not_ok "import elsewhere: dup() stacks not symbolized ($(dup_stacks "$O/import.db" | head -2))"
# chain_nofp, launched by spantap, maps libc after its exec, and so does its
# child after it execs itself: the module's sys_exit probe reports each
n=$(grep -c '^XMAP [0-9 ]* libc\.so' "$O/import.stream")
ne=$(grep -c '^EXEC ' "$O/import.stream")
[ "$ne" -ge 1 ] && [ "$n" = "$ne" ] && ok "executable mappings: one XMAP of libc for each of the $ne execs" ||
  not_ok "executable mappings: $n XMAP records of libc for $ne execs"
sm=$(q "$O/import.db" "SELECT group_concat(num_value, '/') FROM (SELECT num_value FROM recording
  WHERE key IN ('stack_mode', 'stack_depth') ORDER BY key DESC)")
[ "$sm" = 2/8 ] && ok "import elsewhere: stack mode and depth as the stream says (2/8)" ||
  not_ok "import elsewhere: stack mode/depth '$sm' (2/8 expected)"

# the demo: spans and traces against the services' own ground truth
rc=$(status_of demo)
if [ "$rc" = 0 ] && [ -s "$O/demo.db" ]; then
  "$top_builddir/demo/spantap-accuracy" --min 0.99 "$O/demo.db" "$O/truth" > "$O/accuracy.txt" 2>&1
  arc=$?
  [ "$arc" = 0 ] && ok "demo: span and link precision and recall >= 0.99" ||
    not_ok "demo: accuracy below 0.99 (spantap-accuracy exit $arc)"
  sed 's/^/    /' "$O/accuracy.txt" | head -12
else
  not_ok "demo: the run or its recording failed (status '$rc'; out/demo.err)"
fi

db=$O/map.db
rc=$(status_of map)
[ "$rc" = 0 ] && ok "map: recording exited 0" || not_ok "map: recording exited '$rc'"
early=$(sed -n 's/^map .* early=\([0-9]*\).*/\1/p' "$O/status.txt")
decoy=$(sed -n 's/^map .* decoy=\([0-9]*\).*/\1/p' "$O/status.txt")
n_early=$(q "$db" "SELECT count(*) FROM syscalls WHERE pid = ${early:-0}")
n_decoy=$(q "$db" "SELECT count(*) FROM syscalls WHERE pid = ${decoy:-0}")
n_later=$(q "$db" "SELECT count(*) FROM processes WHERE exe LIKE '%chain_nofp'")
[ "${n_early:-0}" -gt 0 ] && ok "map: a process already running is traced ($n_early syscalls)" ||
  not_ok "map: the process already running has no syscalls"
[ "${n_later:-0}" -ge 1 ] && ok "map: a process started later is traced by name" ||
  not_ok "map: the process started later is missing"
[ "${n_decoy:-1}" = 0 ] && ok "map: the decoy (same program, other name) is not traced" ||
  not_ok "map: the decoy has ${n_decoy:-?} syscalls"
n_off_decoy=$(q "$db" "SELECT count(*) FROM offcpu WHERE pid = ${decoy:-0}")
[ "${n_off_decoy:-1}" = 0 ] && ok "map: the decoy has no off-CPU records" ||
  not_ok "map: the decoy has ${n_off_decoy:-?} off-CPU records"
sm=$(q "$db" "SELECT group_concat(num_value, '/') FROM (SELECT num_value FROM recording
  WHERE key IN ('stack_mode', 'stack_depth') ORDER BY key DESC)")
[ "$sm" = 2/8 ] && ok "map: record --module without -s/-d: the module's stack mode and depth (2/8)" ||
  not_ok "map: stack mode/depth '$sm' (the module's 2/8 expected)"

# loss: the loop's getppid() calls are all stored (ample buffers, the
# recording stopped as the loop ends), or stored or counted lost, exactly
# (the collector stopped while the loop runs, 1 MiB relay buffers)
loss_of() { q "$1" "SELECT coalesce(sum(num_value), 0) FROM recording WHERE key = 'events_lost'"; }
# the records of process $2 stored in $1: its syscalls and lifecycle events
records_of() {
  q "$1" "SELECT (SELECT count(*) FROM syscalls WHERE pid = $2) +
    (SELECT count(*) FROM process_events WHERE pid = $2)"
}
pid=$(sed -n 's/^loss_none .* pid=\([0-9]*\).*/\1/p' "$O/status.txt")
calls=$(sed -n 's/^loss_none .* n=\([0-9]*\).*/\1/p' "$O/status.txt")
rc=$(status_of loss_none)
got=$(q "$O/loss_none.db" "SELECT count(*) FROM syscalls WHERE pid = ${pid:-0} AND name = 'getppid'")
lost=$(loss_of "$O/loss_none.db")
[ "$rc" = 0 ] && [ -n "$calls" ] && [ "${got:-0}" = "$calls" ] && [ "$lost" = 0 ] &&
  ok "loss: ample buffers: all $calls getppid() calls stored, none lost" ||
  not_ok "loss: ample buffers: exit '$rc', ${got:-0} of '$calls' getppid() stored, '$lost' lost"
# the numbers in the records: call i passed i and ~i, so the stored calls
# carry 0 to N-1, each once, and arguments that add up to -1 (a negative number
# in the text, each digit of a large one)
args=$(q "$O/loss_none.db" "SELECT count(DISTINCT arg0) || ' ' || min(arg0) || ' ' || max(arg0) || ' ' ||
  sum(arg0 + arg1 != -1) FROM syscalls WHERE pid = ${pid:-0} AND name = 'getppid'")
[ -n "$calls" ] && [ "$args" = "$calls 0 $((calls - 1)) 0" ] &&
  ok "loss: ample buffers: call i's arguments stored as i and ~i, for every i" ||
  not_ok "loss: ample buffers: arguments (distinct, min, max, not ~): '$args', $calls calls"
# the loop's other records (exec, start-up syscalls, exit), the same in both runs
others=$(($(records_of "$O/loss_none.db" "${pid:-0}") - ${got:-0}))
pid=$(sed -n 's/^loss_forced .* pid=\([0-9]*\).*/\1/p' "$O/status.txt")
rc=$(status_of loss_forced)
stored=$(records_of "$O/loss_forced.db" "${pid:-0}")
lost=$(loss_of "$O/loss_forced.db")
[ "$rc" = 0 ] && [ "${lost:-0}" -gt 0 ] && [ -n "$calls" ] &&
  [ $((${stored:-0} + lost)) = $((calls + others)) ] &&
  ok "loss: full buffers: $stored records stored + $lost counted lost = $calls calls + $others other records" ||
  not_ok "loss: full buffers: exit '$rc', $stored stored + '$lost' lost != '$calls' calls + $others other records"
grep -q "^spantap: $lost records were lost, counted in the recording.*relay buffers (1 MiB a CPU).*--buffer-size MIB" "$O/loss_forced.err" &&
  ok "loss: full buffers: record says what was lost and what to change" ||
  not_ok "loss: full buffers: no advice about the $lost lost records ($(grep -c 'records were lost' "$O/loss_forced.err") lines)"

# two recordings at once: the first takes the syscall probes away from the
# threads it does not trace; the second, started later, records one of them
# whole (each gives the threads back when it sees the other's probes)
pid=$(sed -n 's/^two .* pid=\([0-9]*\).*/\1/p' "$O/status.txt")
calls=$(sed -n 's/^two .* n=\([0-9]*\).*/\1/p' "$O/status.txt")
rca=$(status_of two)
rcb=$(sed -n 's/^two .* rc_b=\([0-9]*\).*/\1/p' "$O/status.txt")
got=$(q "$O/two_b.db" "SELECT count(DISTINCT arg0) FROM syscalls WHERE pid = ${pid:-0} AND name = 'getppid'")
in_a=$(q "$O/two_a.db" "SELECT count(*) FROM syscalls WHERE pid = ${pid:-0}")
[ "$rca" = 0 ] && [ "$rcb" = 0 ] && [ -n "$calls" ] && [ "${got:-0}" = "$calls" ] && [ "$in_a" = 0 ] &&
  ok "two recordings at once: the second stored all $calls calls of a process the first had quieted" ||
  not_ok "two recordings at once: exits '$rca'/'$rcb', the second stored ${got:-0} of '$calls' calls, the first ${in_a:-?} (0 expected)"

loaded=$(sed -n 's/^killcol loaded_after=\([0-9]*\)/\1/p' "$O/status.txt")
[ "$loaded" = 0 ] && ok "collector SIGKILLed: the module was unloaded" ||
  not_ok "collector SIGKILLed: the module stayed loaded ($loaded)"
rc=$(status_of killrun)
[ "$rc" = 3 ] && ok "staprun SIGKILLed: spantap ends with status 3 (incomplete)" ||
  not_ok "staprun SIGKILLed: spantap exited '$rc' (3 expected)"
c=$(q "$O/killrun.db" "SELECT num_value FROM recording WHERE key = 'complete'")
[ "$c" = 0 ] && ok "staprun SIGKILLed: the database is stored, marked incomplete" ||
  not_ok "staprun SIGKILLed: complete='$c'"
loaded=$(sed -n 's/^killrun loaded_after=\([0-9]*\)/\1/p' "$O/status.txt")
[ "$loaded" = 0 ] && ok "staprun SIGKILLed: the module was unloaded" ||
  not_ok "staprun SIGKILLed: the module stayed loaded ($loaded)"
[ ! -s "$O/dmesg.txt" ] && ok "guest kernel: no BUG, Oops or WARNING" ||
  { not_ok "guest kernel log:"; cat "$O/dmesg.txt"; }

phase "done"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
