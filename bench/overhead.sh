#!/bin/bash
# Overhead of tracing a real server, side by side with the tracers a user
# would otherwise pick. redis-server (Debian's) under its own load generator,
# redis-benchmark (SET and GET, 8 keep-alive clients, on loopback), bounded in
# requests. In one run: untraced; spantap with the default event set at stack
# modes 1-4; a bpftrace script recording every syscall of the server with an
# 8-frame user stack; `strace -f` on the server. Prints throughput and p50/p99
# latency as ratios to the untraced run (measured first and again last, to
# show the noise of the machine), and the events each tracer recorded and lost.
# Usage: sudo bench/overhead.sh [REQUESTS]   (per test; default 20000)
set -u
REQUESTS=${1:-20000}
PORT=18491
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
SPANTAP="$top_builddir/spantap"
[ "$(id -u)" -eq 0 ] || { echo "overhead: needs root (it traces)" >&2; exit 2; }
for tool in redis-server redis-benchmark redis-cli bpftrace strace; do
  command -v "$tool" > /dev/null ||
    { echo "overhead: $tool is missing (./bootstrap installs redis-server, redis-tools, bpftrace, strace)" >&2; exit 2; }
done
[ -x "$SPANTAP" ] || { echo "overhead: build spantap first (make)" >&2; exit 2; }
"$SPANTAP" setup > /dev/null || { echo "overhead: spantap setup failed" >&2; exit 2; }
WORK=$(mktemp -d /tmp/spantap-overhead.XXXXXX)
trap 'redis-cli -p $PORT shutdown nosave > /dev/null 2>&1; rm -rf "$WORK"' EXIT

start_server() {
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    > "$WORK/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" PING > /dev/null 2>&1 && return; sleep 0.1; done
  echo "overhead: redis-server did not come up" >&2
  exit 1
}

stop_server() {
  redis-cli -p "$PORT" shutdown nosave > /dev/null 2>&1
  wait "$server" 2> /dev/null
}

# run_load: redis-benchmark's CSV; sets rps (SET and GET together), p50, p99
# (the worse of the two tests).
run_load() {
  redis-benchmark -p "$PORT" -n "$REQUESTS" -c 8 -t set,get --csv > "$WORK/load.csv" 2>&1
  read -r rps p50 p99 < <(awk -F'"' 'NR > 1 && NF > 10 {
      n++; inv += 1 / $4; if ($12 > p50) p50 = $12; if ($16 > p99) p99 = $16 }
    END { if (n) printf "%.0f %s %s\n", n / inv, p50, p99; else print "0 0 0" }' "$WORK/load.csv")
}

# wait_for FILE PATTERN: until FILE holds a line matching PATTERN (60 s at most)
wait_for() {
  for _ in $(seq 600); do grep -qs "$2" "$1" && return 0; sleep 0.1; done
  echo "overhead: no '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

declare -a rows=()
base_rps=0 base_p50=0 base_p99=0

# measure NAME: starts the server, the tracer named NAME, the load; stops all.
measure() {
  local name=$1 events="-" lost="-" tracer=""
  start_server
  case $name in
  untraced*) ;;
  spantap-mode*)
    "$SPANTAP" record --force -o "$WORK/trace.db" --binary redis-server \
      --stack-mode "${name#spantap-mode}" --duration 3600 > "$WORK/tracer.out" 2>&1 &
    tracer=$!
    wait_for "$WORK/tracer.out" '^spantap: tracing' || exit 1 ;;
  bpftrace)
    cat > "$WORK/syscalls.bt" <<EOF
tracepoint:raw_syscalls:sys_enter /pid == $server/ { @t0[tid] = nsecs; }
tracepoint:raw_syscalls:sys_exit /@t0[tid]/ {
  printf("E %d %d %d %d %s\n", tid, args->id, args->ret, nsecs - @t0[tid], ustack(perf, 8));
  delete(@t0[tid]);
}
EOF
    bpftrace "$WORK/syscalls.bt" > "$WORK/tracer.out" 2>&1 &
    tracer=$!
    wait_for "$WORK/tracer.out" '^Attaching' || exit 1
    sleep 1 ;;
  strace)
    strace -f -tt -T -p "$server" -o "$WORK/strace.out" 2> "$WORK/tracer.out" &
    tracer=$!
    sleep 1 ;;
  esac
  run_load
  if [ -n "$tracer" ]; then
    kill -INT "$tracer"
    wait "$tracer" 2> /dev/null
  fi
  stop_server
  case $name in
  spantap-mode*)
    events=$(sqlite3 "$WORK/trace.db" "SELECT (SELECT count(*) FROM syscalls) + (SELECT count(*) FROM tcp_states) + (SELECT count(*) FROM process_events)")
    lost=$(sqlite3 "$WORK/trace.db" "SELECT num_value FROM recording WHERE key = 'events_lost'")
    [ "$(sqlite3 "$WORK/trace.db" "SELECT num_value FROM recording WHERE key = 'complete'")" = 1 ] ||
      lost="$lost (incomplete: $(sqlite3 "$WORK/trace.db" "SELECT text_value FROM recording WHERE key = 'incomplete_reason'"))" ;;
  bpftrace)
    events=$(grep -c '^E ' "$WORK/tracer.out")
    lost=$(awk '/Lost [0-9]+ events/ {n += $2} END {print n + 0}' "$WORK/tracer.out") ;;
  strace)
    events=$(wc -l < "$WORK/strace.out")
    lost=0 ;;
  esac
  if [ "$name" = untraced ]; then
    base_rps=$rps base_p50=$p50 base_p99=$p99
  fi
  rows+=("$(awk -v n="$name" -v r="$rps" -v a="$p50" -v b="$p99" -v R="$base_rps" -v A="$base_p50" \
    -v B="$base_p99" -v e="$events" -v l="$lost" 'BEGIN {
      printf "%-16s %9d %6.3f %8.3f %6.2f %8.3f %6.2f  %10s  %s", n, r, r / R, a, a / A, b, b / B, e, l }')")
  echo "  measured $name: $rps requests/s" >&2
}

echo "overhead: redis-server under redis-benchmark, $REQUESTS SET + $REQUESTS GET, 8 clients" >&2
for config in untraced spantap-mode1 spantap-mode2 spantap-mode3 spantap-mode4 bpftrace strace \
  untraced-again; do
  measure "$config"
done
printf "%-16s %9s %6s %8s %6s %8s %6s  %10s  %s\n" tracer "req/s" ratio "p50 ms" ratio \
  "p99 ms" ratio events lost
printf '%s\n' "${rows[@]}"
echo "(ratios against the first untraced run; 'untraced-again' shows the machine's noise;"
echo " spantap records its default event set, net,proc,tcp; bpftrace and strace every syscall)"
