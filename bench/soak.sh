#!/bin/bash
# Soak: `spantap demo` 20 times in a row, then the three-tier chain of real
# servers (tests/live/three_tier_live.sh: nginx -> a Python backend -> redis)
# 20 times with concurrent load (ab on nginx beside the sequential requests).
# Counts the runs that failed, the runtime aborts ("printf already started",
# "wrong number of printf args", "Aborted") and the events lost.
# Needs root and 'spantap setup'. Usage: sudo bench/soak.sh [RUNS] [REQUESTS]
#   (default 20 runs of each; 200 sequential requests per chain run)
# SOAK_LOCK=FILE runs each run under `flock FILE` (a machine shared with other
# live tests).
set -u
RUNS=${1:-20}
REQS=${2:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (it traces)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/spantap-soak.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
locked() { if [ -n "${SOAK_LOCK:-}" ]; then flock "$SOAK_LOCK" "$@"; else "$@"; fi; }
aborts() { grep -c 'printf already started\|wrong number of printf args\|Aborted' "$1"; }
echo "soak: $RUNS demo runs, $RUNS three-tier runs under load; load average $(cut -d' ' -f1-3 /proc/loadavg)"
demo_fail=0 demo_aborts=0 demo_lost=0
for i in $(seq "$RUNS"); do
  locked "$top/spantap" demo -n 1000 -c 8 -o "$WORK/demo.db" -t "$WORK/truth" > "$WORK/demo.out" 2>&1 ||
    demo_fail=$((demo_fail + 1))
  demo_aborts=$((demo_aborts + $(aborts "$WORK/demo.out")))
  l=$(sqlite3 "$WORK/demo.db" "SELECT num_value FROM recording WHERE key = 'events_lost'" 2> /dev/null)
  demo_lost=$((demo_lost + ${l:-0}))
  echo "  demo $i: failed so far $demo_fail, aborts $demo_aborts, lost $demo_lost"
done
chain_fail=0 chain_aborts=0
for i in $(seq "$RUNS"); do
  THREE_TIER_REQUESTS=$REQS THREE_TIER_LOAD=1 top_builddir=$top \
    locked "$top/tests/live/three_tier_live.sh" > "$WORK/chain.out" 2>&1 || {
    chain_fail=$((chain_fail + 1))
    grep '^not ok' "$WORK/chain.out" | sed 's/^/    /'
  }
  chain_aborts=$((chain_aborts + $(sed -n 's/^# aborts: \([0-9]*\).*/\1/p' "$WORK/chain.out")))
  echo "  chain $i: failed so far $chain_fail, aborts $chain_aborts; $(grep '^# \(aborts\|traces\|concurrent\)' "$WORK/chain.out" | tr '\n' ' ')"
done
echo "soak: demo: $((RUNS - demo_fail))/$RUNS complete, $demo_aborts aborts, $demo_lost events lost"
echo "soak: three-tier chain under load: $((RUNS - chain_fail))/$RUNS passed, $chain_aborts aborts"
echo "soak: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$demo_fail" -eq 0 ] && [ "$chain_fail" -eq 0 ] && [ "$demo_aborts" -eq 0 ] && [ "$chain_aborts" -eq 0 ]
