#!/bin/sh
# Runs inside the test guest (bench/guest_bench.sh): in one boot, ROUNDS
# interleaved rounds of a getppid() loop untraced, untraced while spantap
# records another program, traced without stacks and with 8-frame stacks,
# and of redis-benchmark untraced and traced by spantap's default events.
# The floor: the same probe points with empty bodies (bench/floor.stp).
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
recording() {
  spantap record --module "$S/$1.ko" -s "$2" -o "/tmp/$3.db" -f > /dev/null 2> "/tmp/$3.err" &
  recpid=$!
  wait_tracing "/tmp/$3.err"
}
stop() {
  kill -INT $recpid
  wait $recpid
  cp "/tmp/$1.db" "$O/$1.db" 2> /dev/null
  grep -h 'lost\|skipped\|WARNING' "/tmp/$1.err" | head -3 >> "$O/bench_warnings.txt"
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

for r in $(seq "$ROUNDS"); do
  echo "loop round=$r mode=untraced n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  staprun -o /dev/null "$S/spt_floor.ko" 2> /dev/null &
  floor=$!
  i=0
  until lsmod | grep -q '^spt_floor' || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 1
  echo "loop round=$r mode=other_floor n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  kill -INT $floor
  wait $floor
  recording spt_all 2 other_$r
  echo "loop round=$r mode=other_traced n=$LOOP_N cs=$(timed /tmp/chain_other loop "$LOOP_N")" >> "$R"
  stop other_$r
  recording spt_all0 0 m0_$r
  echo "loop round=$r mode=traced_nostack n=$LOOP_NT cs=$(timed chain_fp loop "$LOOP_NT") db=m0_$r" >> "$R"
  stop m0_$r
  recording spt_all 2 m2_$r
  echo "loop round=$r mode=traced_stack8 n=$LOOP_NT cs=$(timed chain_nofp loop "$LOOP_NT") db=m2_$r" >> "$R"
  stop m2_$r
  echo "redis round=$r mode=untraced $(redis_round)" >> "$R"
  recording spt_redis 1 redis_$r
  echo "redis round=$r mode=traced $(redis_round) db=redis_$r" >> "$R"
  stop redis_$r
done
