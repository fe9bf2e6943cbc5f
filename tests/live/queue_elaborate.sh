#!/bin/bash
# Live test: a script assembled from the queue transport's emitted code
# (tests/test_queue_emit --script) passes SystemTap's BPF translation (stap
# -p4) on this machine, so every emitted statement elaborates and compiles.
. "$(dirname "$0")/lib.sh"
require_live
tree=$("$SPANTAP" setup --check | sed -n 's/^synthesized tree: *yes (\(.*\))$/\1/p')
[ -n "$tree" ] || tree="/lib/modules/$(uname -r)/build"
shim=$("$SPANTAP" setup --check | sed -n 's/^memlock shim: *//p')
"$top_builddir/tests/test_queue_emit" --script "$WORK/q.stp" "$(nproc --all)"
check "the queue test script is written" 0 "$?"
out=$(cd "$WORK" && LD_PRELOAD="$shim" stap --runtime=bpf --compatible=4.2 -r "$tree" -p4 -m q "$WORK/q.stp" 2>&1 >/dev/null)
rc=$?
check "stap -p4 translates the queue transport's code" 0 "$rc"
[ "$rc" -eq 0 ] || echo "$out" | head -20
finish
