#!/bin/sh
# Runs inside the test guest (bench/guest_bench.sh): in one boot, ROUNDS
# interleaved rounds of a getppid() loop untraced, untraced while spantap
# records another program, traced without stacks and with 8-frame stacks,
# and of redis-benchmark untraced and traced by spantap's default events:
# each with the module runtime (X.ko, staprun) and the BPF runtime (X.bo,
# stapbpf), and the loop traced by bpftrace (when in the initramfs).
# The floors: the same probe points with empty bodies (bench/floor.stp), and
# the module's with the BPF runtime's second sys_exit probe.
# One line per measurement in SHARE/out/bench.txt (times in centiseconds of
# /proc/uptime; N is large enough that its resolution stays under 2%).
S=$1
O=$S/out
. "$S/bench.env"
. "$S/guest_lib.sh"
export PATH=$S/apps:$PATH
R=$O/bench.txt
: > "$R"
cd /tmp || exit 1
cp "$S/apps/chain_fp" /tmp/chain_other # the same program under a name no module traces

cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }
timed() { a=$(cs); "$@" > /dev/null 2>&1; b=$(cs); echo $((b - a)); }
# recording MODULE STACKMODE NAME: start spantap record --module in the background
# (MODULE: NAME.ko for the module runtime, NAME.bo for the BPF runtime)
recording() {
  spantap record --module "$S/$1" -s "$2" -o "/tmp/$3.db" -f > /dev/null 2> "/tmp/$3.err" &
  recpid=$!
  wait_tracing "/tmp/$3.err"
}
stop() {
  kill -INT $recpid
  wait $recpid
  cp "/tmp/$1.db" "$O/$1.db" 2> /dev/null
  grep -h 'lost\|skipped\|WARNING\|rror' "/tmp/$1.err" | head -3 | sed "s/^/$1: /" >> "$O/bench_warnings.txt"
}
# traced_loop MODULE STACKMODE NAME MODE PROGRAM N: PROGRAM's loop of N
# calls timed while MODULE records (NAME: its database); the line says MODE,
# and the database when PROGRAM is the one traced
traced_loop() {
  recording "$1" "$2" "$3"
  db=" db=$3"
  [ "$5" = /tmp/chain_other ] && db=""
  echo "loop round=$r mode=$4 n=$6 cs=$(timed "$5" loop "$6")$db" >> "$R"
  stop "$3"
}
# traced_redis MODULE NAME MODE: a redis round while MODULE records (stack mode 1)
traced_redis() {
  recording "$1" 1 "$2"
  echo "redis round=$r mode=$3 $(redis_round) db=$2" >> "$R"
  stop "$2"
}
# end_within SECONDS PID: SIGINT, then SIGKILL (said in the warnings) if PID
# has not exited within SECONDS
end_within() {
  kill -INT "$2"
  i=0
  while kill -0 "$2" 2> /dev/null && [ $i -lt $(($1 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 "$2" 2> /dev/null && kill -KILL "$2" &&
    echo "round $r: pid $2 ignored SIGINT for $1 s: killed" >> "$O/bench_warnings.txt"
  wait "$2"
}
# module_floor NAME MODE: the loop while floor module NAME is loaded
module_floor() {
  staprun -o /dev/null "$S/$1.ko" 2> /dev/null &
  floor=$!
  i=0
  until lsmod | grep -q "^$1 " || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 1
  echo "loop round=$r mode=$2 n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  kill -INT $floor
  wait $floor
}
redis_round() { # redis_round: SET and GET requests/s of redis-benchmark
  redis-server --port 6379 --save '' --appendonly no > /dev/null 2>&1 &
  i=0
  until redis-cli ping > /dev/null 2>&1; do
    sleep 0.1
    i=$((i + 1))
    [ $i -lt 300 ] || break
  done
  redis-benchmark -q -n "$REDIS_N" -c 10 -t set,get 2>&1 | tr '\r' '\n' |
    sed -n 's/^\(SET\|GET\): \([0-9.]*\) requests.*/\1=\2/p' | tr '\n' ' '
  redis-cli shutdown nosave > /dev/null 2>&1
  wait
}

# bpftrace: every syscall of the loop with an 8-frame user stack, as
# bench/overhead.sh traces a server on the host
printf '%s\n' 'tracepoint:raw_syscalls:sys_enter /comm == "chain_fp"/ { @t0[tid] = nsecs; }' \
  'tracepoint:raw_syscalls:sys_exit /@t0[tid]/ {' \
  '  printf("E %d %d %d %d %s\n", tid, args->id, args->ret, nsecs - @t0[tid], ustack(perf, 8));' \
  '  delete(@t0[tid]);' '}' > /tmp/loop.bt
BT=$(command -v bpftrace)
: > "$O/bt_events.txt"

for r in $(seq "$ROUNDS"); do
  echo "loop round=$r mode=untraced n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  module_floor spt_floor other_floor
  module_floor spt_floor2 other_floor_2exit
  stapbpf "$S/bpf_floor.bo" > /dev/null 2> "/tmp/bpf_floor.err" &
  floor=$!
  sleep 3 # stapbpf says nothing once attached: its start takes about a second here
  echo "loop round=$r mode=other_bpf_floor n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  kill -INT $floor
  wait $floor
  grep -h . /tmp/bpf_floor.err | head -3 | sed 's/^/bpf_floor: /' >> "$O/bench_warnings.txt"
  traced_loop bpf_all2.bo 2 other_bpf_$r other_bpf /tmp/chain_other "$LOOP_N"
  traced_loop spt_all.ko 2 other_$r other_traced /tmp/chain_other "$LOOP_N"
  traced_loop spt_all0.ko 0 m0_$r traced_nostack chain_fp "$LOOP_NT"
  traced_loop spt_all.ko 2 m2_$r traced_stack8 chain_nofp "$LOOP_NT"
  # --unwind fp: the module walks chain_fp's frame pointers, as BPF does
  traced_loop spt_fp2.ko 2 f2_$r traced_stack8_fp chain_fp "$LOOP_NT"
  traced_loop bpf_all0.bo 0 b0_$r bpf_nostack chain_fp "$LOOP_NT"
  # the BPF runtime walks frame pointers: chain_fp has them (8 real frames)
  traced_loop bpf_all2.bo 2 b2_$r bpf_stack8 chain_fp "$LOOP_NT"
  if [ -n "$BT" ]; then
    bpftrace /tmp/loop.bt > /tmp/bt.out 2>&1 &
    bt=$!
    i=0
    until grep -q '^Attaching' /tmp/bt.out || [ $i -gt 600 ]; do sleep 0.2; i=$((i + 1)); done
    sleep 1
    echo "loop round=$r mode=bpftrace_stack8 n=$LOOP_NT cs=$(timed chain_fp loop "$LOOP_NT") db=bt_$r" >> "$R"
    # bpftrace, flooded with lost events, may ignore its SIGINT
    end_within 10 $bt
    echo "bt_$r $(grep -c '^E ' /tmp/bt.out) $(awk '/Lost [0-9]+ events/ {n += $2} END {print n + 0}' /tmp/bt.out)" >> "$O/bt_events.txt"
    grep -v '^E \|^Attaching\|^ \|^$' /tmp/bt.out | head -3 | sed 's/^/bpftrace: /' >> "$O/bench_warnings.txt"
  fi
  echo "redis round=$r mode=untraced $(redis_round)" >> "$R"
  traced_redis spt_redis.ko redis_$r traced
  traced_redis bpf_redis.bo bredis_$r bpf
done
