# What the scripts run inside the test guest share (tests/guest/guest_tests.sh,
# bench/guest_bench_in.sh); copied into the share beside them by guest_boot
# (tests/guest/lib.sh) and sourced from there.

# wait_tracing FILE: until spantap says it is tracing (at most 60 s)
wait_tracing() {
  i=0
  until grep -q 'spantap: tracing' "$1" 2> /dev/null; do
    sleep 0.2
    i=$((i + 1))
    [ $i -lt 300 ] || return 1
  done
}
