#!/bin/bash
# Live test: `spantap demo` traces the bundled microservices under ab, and the
# spans and trace links it derives from kernel events alone match the ground
# truth the services logged themselves: precision and recall of at least 99%.
. "$(dirname "$0")/lib.sh"
require_live
command -v ab > /dev/null || { echo "FAIL: ab is missing: ./bootstrap installs apache2-utils"; exit 1; }

REQUESTS=1000
"$SPANTAP" demo -n "$REQUESTS" -c 8 -o "$WORK/demo.db" -t "$WORK/truth" > "$WORK/demo.out" 2> "$WORK/demo.err"
rc=$?
check "spantap demo ran (exit 0)" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$WORK/demo.err"
check "demo: ab completed every request" "$REQUESTS" \
  "$(awk '/^Complete requests:/ {print $3}' "$WORK/truth/ab.txt")"
check "demo: one trace per request" "$REQUESTS" "$(q "$WORK/demo.db" "SELECT count(*) FROM traces")"
check "demo: at least 99% of the traces go front > middle > store, 5 spans deep" 1 \
  "$(q "$WORK/demo.db" "SELECT count(*) >= 0.99 * $REQUESTS FROM traces WHERE critical_path = 'demo_front > demo_middle > demo_store' AND spans = 5 AND depth = 5")"
"$top_builddir/demo/spantap-accuracy" --min 0.99 "$WORK/demo.db" "$WORK/truth" > "$WORK/accuracy.txt"
check "demo: span and link precision and recall >= 0.99" 0 $?
cat "$WORK/accuracy.txt"
check "demo: the store's file I/O is in its spans" 1 \
  "$(q "$WORK/demo.db" "SELECT sum(file_ns) > 0 FROM spans WHERE service = 'demo_store' AND kind = 'server'")"
check "demo: slow store requests stand out by file or off-CPU time" 1 \
  "$(q "$WORK/demo.db" "SELECT (SELECT file_ms + offcpu_ms FROM slow_vs_fast WHERE service = 'demo_store' AND grp = 'slow') > (SELECT file_ms + offcpu_ms FROM slow_vs_fast WHERE service = 'demo_store' AND grp = 'fast')")"
check "demo: the report shows the slowest trace's tree" 1 \
  "$(grep -c '^The slowest trace as a tree' "$WORK/demo.out")"
finish
