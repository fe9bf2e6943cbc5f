#!/bin/bash
# Live test of three recording features on the bundled test application, for
# real: --binary with a name longer than the kernel's 15-character process name
# (and a same-prefix name left untraced), --events sched (off-CPU time) and
# --events faults (user page faults, with their stacks).
. "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*" >&2; exit 77; }
require_live
[ -x "$CHAIN_APP" ] || skip "test application not built: $CHAIN_APP"

rec=
trap '[ -n "$rec" ] && kill -INT "$rec" 2>/dev/null && wait "$rec"; rm -rf "$WORK"' EXIT

record() { # DB ARGS... : records a launched command; prints spantap's output on failure
  local db=$1; shift
  if ! timeout -s INT 120 "$SPANTAP" record --force -o "$db" "$@" > "$WORK/record.out" 2>&1; then
    echo "--- spantap record $* failed:"; cat "$WORK/record.out"; return 1
  fi
}

start_record() { # OUT DB ARGS... : records in the background (pid in $rec) until tracing is live
  local out=$1 db=$2; shift 2
  : > "$out"
  timeout -s INT 120 "$SPANTAP" record --force -o "$db" "$@" > "$out" 2>&1 &
  rec=$!
  for _ in $(seq 600); do
    grep -q '^spantap: tracing' "$out" && return 0
    kill -0 "$rec" 2> /dev/null || break
    sleep 0.2
  done
  echo "--- spantap record $* did not start tracing:"; cat "$out"; return 1
}

stop_record() { # stops the background recording; its exit status
  local r=$rec; rec=
  kill -INT "$r"; wait "$r"
}

complete() { q "$1" "SELECT num_value FROM recording WHERE key = 'complete'"; }
lost() { q "$1" "SELECT num_value FROM recording WHERE key = 'events_lost'"; }
secs() { echo "$(( SECONDS - $1 ))s"; }

# 1. --binary NAME past the 15-character process name. Two copies of chain_app
# whose names share their first 15 characters ("chain_app_with_"), so the same
# comm: only the named one is traced, as an unrelated process (not via --).
t0=$SECONDS
long=chain_app_with_a_long_name
other=chain_app_with_another_name
mkdir "$WORK/bin"
cp "$CHAIN_APP" "$WORK/bin/$long"
cp "$CHAIN_APP" "$WORK/bin/$other"
db="$WORK/long.db"
if start_record "$WORK/long.out" "$db" --events default,file --binary "$long" --duration 60; then
  "$WORK/bin/$long" chain 5 > /dev/null &
  named=$!
  wait "$named"
  "$WORK/bin/$other" chain 3 > /dev/null &
  same_comm=$!
  wait "$same_comm"
  "$CHAIN_APP" chain 2 > /dev/null &
  plain=$!
  wait "$plain"
  sleep 0.5
fi
stop_record
check "--binary $long: recording ends in order (exit 0, complete)" "0 1" "$? $(complete "$db")"
check "the ${#long}-character name is traced, with its exe" "$WORK/bin/$long" \
  "$(q "$db" "SELECT exe FROM processes WHERE pid = ${named:-0}")"
check "... and its syscalls: chain 5 = 5 dup() calls" 5 \
  "$(q "$db" "SELECT count(*) FROM syscalls WHERE name = 'dup' AND pid = ${named:-0}")"
check "$other (same 15-character comm, other name) is not traced" "0 0" \
  "$(q "$db" "SELECT count(*) FROM processes WHERE pid = ${same_comm:-0}") $(q "$db" \
     "SELECT count(*) FROM syscalls WHERE pid = ${same_comm:-0}")"
check "chain_app (a prefix of the name) is not traced" "0" \
  "$(q "$db" "SELECT count(*) FROM processes WHERE pid = ${plain:-0}")"

# ... and by path: the exact file (by inode), not the same-comm copy
db="$WORK/longpath.db"
if start_record "$WORK/longpath.out" "$db" --events default,file --binary "$WORK/bin/$long" --duration 60; then
  "$WORK/bin/$other" chain 3 > /dev/null &
  same_comm=$!
  wait "$same_comm"
  "$WORK/bin/$long" chain 4 > /dev/null &
  named=$!
  wait "$named"
  sleep 0.5
fi
stop_record
check "--binary PATH/$long: recording ends in order (exit 0, complete)" "0 1" "$? $(complete "$db")"
check "the file at that path is traced: chain 4 = 4 dup() calls" "$WORK/bin/$long 4" \
  "$(q "$db" "SELECT exe, (SELECT count(*) FROM syscalls WHERE name = 'dup' AND pid = p.pid)
      FROM processes p WHERE pid = ${named:-0}" | tr '|' ' ')"
check "... and the same-comm copy is not" 0 \
  "$(q "$db" "SELECT count(*) FROM processes WHERE pid = ${same_comm:-0}")"
echo "# long names: $(secs "$t0")"

# 2. --events sched: a 50 ms nanosleep is one off-CPU interval of >= 50 ms in
# interruptible sleep, inside the process's lifetime; states are the documented ones.
t0=$SECONDS
db="$WORK/sched.db"
record "$db" --events sched -- "$CHAIN_APP" sleep 50 > /dev/null
check "--events sched: recording ends in order (exit 0, complete, nothing lost)" "0 1 0" \
  "$? $(complete "$db") $(lost "$db")"
pid=$(q "$db" "SELECT pid FROM processes ORDER BY start_ns LIMIT 1")
check "off-CPU rows for the app's main thread" 1 \
  "$(q "$db" "SELECT count(*) > 0 FROM offcpu WHERE pid = ${pid:-0} AND tid = ${pid:-0}")"
check "the sleep is one interruptible (state 1) interval of 50 ms to 2 s" 1 \
  "$(q "$db" "SELECT count(*) FROM offcpu WHERE tid = ${pid:-0} AND state = 1 AND dur_ns >= 50000000 AND dur_ns < 2000000000")"
# (on a loaded machine the app may also wait runnable for 50 ms or more: a preemption, state 0)
check "... and any other interval that long is a preemption (state 0)" 0 \
  "$(q "$db" "SELECT count(*) FROM offcpu WHERE tid = ${pid:-0} AND dur_ns >= 50000000 AND state NOT IN (0, 1)")"
check "... between the app's exec and its exit" 1 \
  "$(q "$db" "SELECT o.ts_ns >= p.exec_ns AND o.ts_ns + o.dur_ns <= p.exit_ns FROM offcpu o
      JOIN processes p ON p.pid = o.pid WHERE o.tid = ${pid:-0} AND o.state = 1 ORDER BY o.dur_ns DESC LIMIT 1")"
check "every state is a documented one (0 runnable, 1 interruptible, 2 uninterruptible)" "" \
  "$(q "$db" "SELECT group_concat(DISTINCT state) FROM offcpu WHERE state NOT IN (0, 1, 2)")"
check "only the traced process is recorded" "$pid" "$(q "$db" "SELECT group_concat(DISTINCT pid) FROM offcpu")"
echo "# sched: $(secs "$t0")"

# 3. --events faults: 'touch N' writes one byte to each of N fresh pages, N
# user write faults inside its mapping. It starts 300 ms late so that the burst
# of faults at exec (~50, loading ld.so and libc) has left stapbpf's per-CPU
# buffer (~100 fault records) before the N faults come; N stays well below it.
t0=$SECONDS
n=64
for mode in 1 0; do
  db="$WORK/faults$mode.db"
  CHAIN_APP_START_DELAY_MS=300 record "$db" --events faults --stack-mode "$mode" -- "$CHAIN_APP" touch "$n"
  check "--events faults, stack mode $mode: recording ends in order (exit 0, complete, nothing lost)" \
    "0 1 0" "$? $(complete "$db") $(lost "$db")"
  base=$(sed -n 's/^touch base=0x\([0-9a-f]*\) .*/\1/p' "$WORK/record.out")
  base=$((16#${base:-0}))
  pid=$(q "$db" "SELECT pid FROM processes ORDER BY start_ns LIMIT 1")
  in_map="pid = ${pid:-0} AND address >= $base AND address < $base + $n * 4096"
  check "mode $mode: $n write faults (bit 1), one on each page of the mapping" "$n $n $n" \
    "$(q "$db" "SELECT count(*), count(DISTINCT address / 4096), sum(error_code & 2 = 2)
        FROM page_faults WHERE $in_map" | tr '|' ' ')"
  check "mode $mode: ... none an instruction fetch (bit 4); some at exec are" "0 1" \
    "$(q "$db" "SELECT sum(error_code & 16 != 0) FROM page_faults WHERE $in_map") $(q "$db" \
       "SELECT count(*) > 0 FROM page_faults WHERE pid = ${pid:-0} AND error_code & 16")"
  check "mode $mode: the app's exit is recorded after its faults" 1 \
    "$(q "$db" "SELECT count(*) FROM process_events WHERE kind = 'exit' AND pid = ${pid:-0}")"
  if [ "$mode" = 1 ]; then
    check "mode 1: every fault in the mapping has a stack" "$n" \
      "$(q "$db" "SELECT count(stack_id) FROM page_faults WHERE $in_map")"
    check "mode 1: ... whose call site in the app is touch_pages (chain_app.c)" "touch_pages 1" \
      "$(q "$db" "SELECT group_concat(DISTINCT f.function), min(f.file LIKE '%chain_app.c')
          FROM page_faults pf JOIN stacks k ON k.id = pf.stack_id JOIN frames f ON f.id = k.app_frame_id
          WHERE pf.$in_map" | tr '|' ' ')"
  else
    check "mode 0: no stacks" 0 "$(q "$db" "SELECT count(stack_id) FROM page_faults")"
  fi
done
echo "# faults: $(secs "$t0")"
finish
