#!/bin/bash
# Cost of tracing, per stack mode: the test application makes N getppid()
# syscalls untraced and then traced by 'spantap record' (--events all, so every
# call is an event) in each stack mode 1-4; prints each traced run's time as a
# ratio to the untraced run of the same session, and the cost per event.
# Needs root and 'spantap setup'. Usage: bench/trace_cost.sh [N]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20000}
app="$top/tests/apps/chain_app"
ms() { date +%s%N; }
t0=$(ms); "$app" loop "$N"; base=$(( ($(ms) - t0) / 1000 ))
echo "trace_cost: $N getppid() calls; untraced: ${base} us"
db=$(mktemp -u /tmp/spantap-cost.XXXXXX.db)
for mode in 1 2 3 4; do
  # time only the traced program, not stap's start-up: the app times itself
  out=$("$top/spantap" record --force -o "$db" --events all --stack-mode "$mode" -- \
        /bin/sh -c "s=\$(date +%s%N); $app loop $N; echo elapsed_us=\$(( (\$(date +%s%N) - s) / 1000 ))" 2>&1)
  us=$(echo "$out" | sed -n 's/^elapsed_us=//p')
  if [ -z "$us" ] || [ ! -s "$db" ]; then
    echo "  mode $mode: the recording failed:"
    echo "$out" | grep -E '^spantap: |lost|Aborted' | sed 's/^/    /'
    rm -f "$db"
    continue
  fi
  ev=$(sqlite3 "$db" "SELECT count(*) FROM syscalls WHERE name = 'getppid'")
  lost=$(sqlite3 "$db" "SELECT num_value FROM recording WHERE key = 'events_lost'")
  awk -v m="$mode" -v us="$us" -v b="$base" -v ev="$ev" -v lost="$lost" -v n="$N" 'BEGIN {
    printf "  mode %d: %8d us  = %6.1fx untraced, %.2f us per event, %d/%d events stored, %d lost\n",
      m, us, us / (b > 0 ? b : 1), (us - b) / n, ev, n, lost }'
  rm -f "$db"
done
