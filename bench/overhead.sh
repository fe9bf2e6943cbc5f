#!/bin/bash
# Overhead of tracing real servers, side by side with the floor and with the
# tracers a user would otherwise pick. Two servers from Debian's packages,
# each under its own load generator on loopback, bounded in requests:
# redis-server under redis-benchmark (SET and GET, 8 keep-alive clients) and
# nginx (one process, a fixed response) under ab (8 keep-alive clients).
# In one run, per server: untraced; the FLOOR (the tracepoints spantap's
# default events attach, raw_syscalls enter/exit, sched fork/exec/exit and
# inet_sock_set_state, attached by the same runtime with probes that filter by
# the server's pid and record nothing); spantap with the default event set in
# stack modes 1-4; bpftrace recording every syscall of the server with an
# 8-frame user stack; `strace -f` on the server; untraced again (the noise).
# Prints throughput and p50/p99 latency as ratios to the first untraced run,
# the events each tracer recorded and lost, and the targets (default events in
# mode 1 >= 0.85 of untraced and within 0.10 of the floor; every mode >= 0.75;
# 0 events lost).
# Usage: sudo bench/overhead.sh [REQUESTS] [SERVERS]
#   (per test; default 20000; SERVERS "redis nginx")
set -u
REQUESTS=${1:-20000}
SERVERS=${2:-redis nginx}
PORT=18491
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
SPANTAP="$top_builddir/spantap"
[ "$(id -u)" -eq 0 ] || { echo "overhead: needs root (it traces)" >&2; exit 2; }
for tool in redis-server redis-benchmark redis-cli nginx ab bpftrace strace stap; do
  command -v "$tool" > /dev/null ||
    { echo "overhead: $tool is missing (./bootstrap installs redis-server, redis-tools, nginx-light, apache2-utils, bpftrace, strace, systemtap)" >&2; exit 2; }
done
[ -x "$SPANTAP" ] || { echo "overhead: build spantap first (make)" >&2; exit 2; }
"$SPANTAP" setup > /dev/null || { echo "overhead: spantap setup failed" >&2; exit 2; }
TREE=$("$SPANTAP" setup --check | sed -n 's/^synthesized tree: *yes (\(.*\))$/\1/p')
[ -n "$TREE" ] || TREE="/lib/modules/$(uname -r)/build"
SHIM=$("$SPANTAP" setup --check | sed -n 's/^memlock shim: *//p')
WORK=$(mktemp -d /tmp/spantap-overhead.XXXXXX)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # SERVER: starts it, sets $server
  case $1 in
  redis)
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
      > "$WORK/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do redis-cli -p "$PORT" PING > /dev/null 2>&1 && return; sleep 0.1; done ;;
  nginx)
    mkdir -p "$WORK/nginx"
    printf '%s\n' "daemon off; master_process off; worker_processes 1;" \
      "pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;" \
      "events { worker_connections 256; }" \
      "http { access_log off; client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;" \
      "  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;" \
      "  server { listen 127.0.0.1:$PORT; location / { return 200 \"spantap\\n\"; } } }" \
      > "$WORK/nginx/nginx.conf"
    nginx -c "$WORK/nginx/nginx.conf" > "$WORK/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && return; sleep 0.1; done ;;
  esac
  echo "overhead: $1 did not come up" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server" 2> /dev/null
  wait "$server" 2> /dev/null
  server=""
}

# run_load SERVER: sets rps, p50 and p99 (ms)
run_load() {
  case $1 in
  redis)
    redis-benchmark -p "$PORT" -n "$REQUESTS" -c 8 -t set,get --csv > "$WORK/load.csv" 2>&1
    read -r rps p50 p99 < <(awk -F'"' 'NR > 1 && NF > 10 {
        n++; inv += 1 / $4; if ($12 > p50) p50 = $12; if ($16 > p99) p99 = $16 }
      END { if (n) printf "%.0f %s %s\n", n / inv, p50, p99; else print "0 0 0" }' "$WORK/load.csv") ;;
  nginx)
    ab -k -n "$REQUESTS" -c 8 -e "$WORK/ab.csv" "http://127.0.0.1:$PORT/" > "$WORK/ab.txt" 2>&1
    rps=$(awk '/^Requests per second:/ {printf "%.0f", $4}' "$WORK/ab.txt")
    p50=$(awk -F, '$1 == 50 {print $2}' "$WORK/ab.csv")
    p99=$(awk -F, '$1 == 99 {print $2}' "$WORK/ab.csv")
    [ -n "$rps" ] || { rps=0; p50=0; p99=0; } ;;
  esac
}

# wait_for FILE PATTERN: until FILE holds a line matching PATTERN (60 s at most)
wait_for() {
  for _ in $(seq 600); do grep -qs "$2" "$1" && return 0; sleep 0.1; done
  echo "overhead: no '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# the floor: spantap's default tracepoints, filtered by pid, recording nothing
floor_script() { # PID
  local t
  for t in raw_syscalls:sys_enter raw_syscalls:sys_exit sched:sched_process_fork \
    sched:sched_process_exec sched:sched_process_exit sock:inet_sock_set_state; do
    printf 'probe kernel.trace("%s") { if (pid() == %d) _floor_hits++ }\n' "$t" "$1"
  done
  echo 'global _floor_hits'
  echo 'probe begin { printf("floor attached\n") }'
}

declare -a rows=()
base_rps=0 base_p50=0 base_p99=0
floor_ratio=0 mode1_ratio=0 worst_mode_ratio=9 any_lost=0

# measure SERVER NAME: starts the server, the tracer named NAME, the load; stops all.
measure() {
  local srv=$1 name=$2 events="-" lost="-" tracer=""
  start_server "$srv"
  case $name in
  untraced*) ;;
  floor)
    floor_script "$server" > "$WORK/floor.stp"
    (cd "$WORK" && LD_PRELOAD="$SHIM" exec stap --runtime=bpf --compatible=4.2 -r "$TREE" floor.stp) \
      > "$WORK/tracer.out" 2>&1 &
    tracer=$!
    wait_for "$WORK/tracer.out" '^floor attached' || exit 1 ;;
  spantap-mode*)
    "$SPANTAP" record --force -o "$WORK/trace.db" --pid "$server" \
      --stack-mode "${name#spantap-mode}" --duration 3600 > "$WORK/tracer.out" 2>&1 &
    tracer=$!
    wait_for "$WORK/tracer.out" '^spantap: tracing' || exit 1 ;;
  bpftrace)
    printf '%s\n' "tracepoint:raw_syscalls:sys_enter /pid == $server/ { @t0[tid] = nsecs; }" \
      "tracepoint:raw_syscalls:sys_exit /@t0[tid]/ {" \
      "  printf(\"E %d %d %d %d %s\\n\", tid, args->id, args->ret, nsecs - @t0[tid], ustack(perf, 8));" \
      "  delete(@t0[tid]);" "}" > "$WORK/syscalls.bt"
    bpftrace "$WORK/syscalls.bt" > "$WORK/tracer.out" 2>&1 &
    tracer=$!
    wait_for "$WORK/tracer.out" '^Attaching' || exit 1
    sleep 1 ;;
  strace)
    strace -f -tt -T -p "$server" -o "$WORK/strace.out" 2> "$WORK/tracer.out" &
    tracer=$!
    sleep 1 ;;
  esac
  run_load "$srv"
  if [ -n "$tracer" ]; then
    kill -INT "$tracer"
    wait "$tracer" 2> /dev/null
  fi
  stop_server
  case $name in
  spantap-mode*)
    events=$(sqlite3 "$WORK/trace.db" "SELECT (SELECT count(*) FROM syscalls) + (SELECT count(*) FROM tcp_states) + (SELECT count(*) FROM process_events)")
    lost=$(sqlite3 "$WORK/trace.db" "SELECT num_value FROM recording WHERE key = 'events_lost'")
    [ "${lost:-1}" = 0 ] || any_lost=1
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
  local ratio
  ratio=$(awk -v r="$rps" -v R="$base_rps" 'BEGIN {printf "%.3f", (R > 0 ? r / R : 0)}')
  case $name in
  floor) floor_ratio=$ratio ;;
  spantap-mode1) mode1_ratio=$ratio ;;
  esac
  case $name in spantap-mode*)
    worst_mode_ratio=$(awk -v a="$ratio" -v b="$worst_mode_ratio" 'BEGIN {print a < b ? a : b}') ;;
  esac
  rows+=("$(awk -v s="$srv" -v n="$name" -v r="$rps" -v a="$p50" -v b="$p99" -v R="$base_rps" \
    -v A="$base_p50" -v B="$base_p99" -v e="$events" -v l="$lost" 'BEGIN {
      printf "%-6s %-15s %9d %6.3f %8.3f %6.2f %8.3f %6.2f  %10s  %s", s, n, r, (R > 0 ? r / R : 0),
        a, (A > 0 ? a / A : 0), b, (B > 0 ? b / B : 0), e, l }')")
  echo "  measured $srv $name: $rps requests/s" >&2
}

verdicts=()
echo "overhead: $REQUESTS requests per test; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for srv in $SERVERS; do
  floor_ratio=0 mode1_ratio=0 worst_mode_ratio=9
  for config in untraced floor spantap-mode1 spantap-mode2 spantap-mode3 spantap-mode4 bpftrace \
    strace untraced-again; do
    measure "$srv" "$config"
  done
  verdicts+=("$(awk -v s="$srv" -v m="$mode1_ratio" -v f="$floor_ratio" -v w="$worst_mode_ratio" 'BEGIN {
    printf "%s: mode 1 %.3f (>= 0.85: %s), %.3f below the floor %.3f (<= 0.10: %s), worst mode %.3f (>= 0.75: %s)",
      s, m, (m >= 0.85 ? "met" : "NOT met"), f - m, f, (f - m <= 0.10 ? "met" : "NOT met"), w,
      (w >= 0.75 ? "met" : "NOT met") }')")
done
printf "%-6s %-15s %9s %6s %8s %6s %8s %6s  %10s  %s\n" server tracer "req/s" ratio "p50 ms" ratio \
  "p99 ms" ratio events lost
printf '%s\n' "${rows[@]}"
echo "(ratios against each server's first untraced run; 'untraced-again' shows the machine's noise;"
echo " spantap records its default event set, net,proc,tcp; bpftrace and strace every syscall)"
printf 'target %s\n' "${verdicts[@]}"
echo "target: 0 events lost by spantap: $([ "$any_lost" = 0 ] && echo met || echo NOT met)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
