#!/bin/bash
# Live test: several traced processes making syscalls as fast as they can, for
# a bounded time. spantap must not crash; when the runtime loses events (or
# dies under the load, as stapbpf can) it must say so, in its exit status and
# in the recording; the database stays intact; and spantap's own memory stays
# under the bound docs/performance.md documents (256 MiB).
. "$(dirname "$0")/lib.sh"
require_live
BOUND_KIB=262144
PROCS=4
"$SPANTAP" record --force -o "$WORK/stress.db" --events all --stack-mode 4 --binary chain_app \
  --duration 20 > "$WORK/stress.out" 2>&1 &
rec=$!
for _ in $(seq 600); do grep -qs '^spantap: tracing\|INCOMPLETE' "$WORK/stress.out" && break; sleep 0.2; done
for _ in $(seq "$PROCS"); do timeout 8 "$CHAIN_APP" loop 100000000 > /dev/null 2>&1 & done
peak=0
while kill -0 "$rec" 2> /dev/null; do
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$rec/status" 2> /dev/null)
  [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
  sleep 0.2
done
wait "$rec"
rc=$?
wait
check "spantap ended by itself, not by a crash (exit 0 or 3)" 1 \
  "$([ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] && echo 1 || echo 0)"
check "the database is intact" ok "$(q "$WORK/stress.db" "PRAGMA integrity_check")"
lost=$(q "$WORK/stress.db" "SELECT num_value FROM recording WHERE key = 'events_lost'")
complete=$(q "$WORK/stress.db" "SELECT num_value FROM recording WHERE key = 'complete'")
echo "# exit $rc, complete=$complete, events lost $lost, $(q "$WORK/stress.db" "SELECT count(*) FROM syscalls") syscalls stored, peak memory ${peak} KiB"
check "exit 3 exactly when the recording is incomplete" 1 \
  "$([ "$rc" -eq 3 ] && [ "$complete" = 0 ] || { [ "$rc" -eq 0 ] && [ "$complete" = 1 ]; } && echo 1 || echo 0)"
check "the summary states the loss it stored" 1 \
  "$(grep -c "lost: *$lost events" "$WORK/stress.out")"
# a complete recording has every busy process; one the runtime cut short
# (stapbpf can abort within the first second) has what came before
procs=$(q "$WORK/stress.db" "SELECT count(DISTINCT pid) FROM syscalls WHERE name = 'getppid'")
check "events of every busy process stored (of at least one when the runtime died)" 1 \
  "$({ [ "$complete" = 1 ] && [ "$procs" -eq "$PROCS" ]; } || { [ "$complete" = 0 ] && [ "$procs" -ge 1 ]; } && echo 1 || echo 0)"
check "spantap's peak memory (${peak} KiB) stays under ${BOUND_KIB} KiB" 1 \
  "$([ "$peak" -gt 0 ] && [ "$peak" -lt "$BOUND_KIB" ] && echo 1 || echo 0)"
finish
