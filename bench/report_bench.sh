#!/bin/bash
# The HTML report's size and load time in headless Chromium for N and 4N spans,
# against a baseline measured in the same run: an empty page that sets the same
# "drawn" mark. The recordings are synthetic (spantap import of a generated
# stream: requests through two traced services, three spans each).
# Usage: bench/report_bench.sh [N]   (default 25000; needs node_modules from ./bootstrap)
set -eu
N=${1:-25000}
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
: "${top_builddir:=$top_srcdir}"
SPANTAP="$top_builddir/spantap"
WORK=$(mktemp -d /tmp/spantap-report-bench.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

# gen_stream REQUESTS: front (pid 100) serves each request on a new connection,
# asks store (pid 200) on another; store fsyncs (every fifth slowly) and waits off-CPU.
gen_stream() {
  awk -v R="$1" 'BEGIN {
    MS = 1000000; lo = "0 16777343 0 16777343"
    print "BEGIN 2 0 bpf"
    printf "EXEC %.0f", 100*MS; print " 100 100 1 1 4096 8192 77 88 /opt/app/front"
    printf "MAP %.0f", 100*MS; print " 100 0 0 0 0 /opt/app/front"
    printf "MAP %.0f", 100*MS; print " 100 4096 8192 0 77 r-xp /opt/app/front"
    printf "MAP %.0f", 100*MS; print " 100 65536 131072 4096 99 r-xp /lib/libc.so.6"
    printf "FORK %.0f", 100*MS+1; print " 100 100 100 101"
    printf "EXEC %.0f", 100*MS+2; print " 200 200 1 1 4096 8192 78 88 /opt/app/store"
    printf "MAP %.0f", 100*MS+2; print " 200 0 0 0 0 /opt/app/store"
    printf "MAP %.0f", 100*MS+2; print " 200 4096 8192 0 78 r-xp /opt/app/store"
    printf "MAP %.0f", 100*MS+2; print " 200 65536 131072 4096 99 r-xp /lib/libc.so.6"
    printf "FORK %.0f", 100*MS+3; print " 200 200 200 201"
    srand(7)
    for (i = 0; i < R; i++) {
      t = 1000*MS + i*3*MS; slow = (i % 5 == 0) ? int(2*MS*rand()) + 500000 : int(50000*rand()) + 20000
      a = 1000000 + i; b = 3000000 + i; c = 5000000 + i; cp = 20000 + i % 20000; sp = 40000 + i % 20000
      printf "SOCK %.0f 100 %.0f 2 6 8080 %.0f %s\n", t+10000, a, cp, lo
      printf "NC %.0f 10000 100 101 0 100 5 0 0 %.0f @0,10010,1510,0\n", t, a
      printf "SOCK %.0f 100 %.0f 2 6 %.0f 9090 %s\n", t+25000, b, sp, lo
      printf "NC %.0f 5000 100 101 1 40 6 0 0 %.0f @0,10010,1620,0\n", t+20000, b
      printf "SOCK %.0f 200 %.0f 2 6 9090 %.0f %s\n", t+35000, c, sp, lo
      printf "NC %.0f 5000 200 201 0 40 7 0 0 %.0f @0,10010,1510,0\n", t+30000, c
      printf "SC %.0f %.0f 200 201 74 0 8 0 0 @0,10010,1730,0\n", t+40000, slow
      printf "OFF %.0f %.0f 200 201 1\n", t+40000, int(slow/2)
      printf "NC %.0f 3000 200 201 1 60 7 0 0 %.0f @0,10010,1620,0\n", t+41000+slow, c
      printf "NC %.0f 5000 100 101 0 60 6 0 0 %.0f @0,10010,1510,0\n", t+40000+slow, b
      printf "NC %.0f 4000 100 101 1 200 5 0 0 %.0f @0,10010,1620,0\n", t+50000+slow, a
      printf "NC %.0f 1000 100 101 3 0 6 0 0 %.0f @0,10010,1840,0\n", t+60000+slow, b
      printf "NC %.0f 1000 200 201 3 0 7 0 0 %.0f @0,10010,1840,0\n", t+60000+slow, c
      printf "NC %.0f 1000 100 101 3 0 5 0 0 %.0f @0,10010,1840,0\n", t+62000+slow, a
    }
    printf "END %.0f\n", 2000*MS + R*3*MS
  }'
}

echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>baseline</title></head><body><script>document.body.setAttribute("data-ready", "1")</script></body></html>' > "$WORK/baseline.html"
pages=("$WORK/baseline.html")
for spans in "$N" $((4 * N)); do
  gen_stream $((spans / 3)) > "$WORK/r$spans.stream"
  "$SPANTAP" import -f -o "$WORK/r$spans.db" "$WORK/r$spans.stream" > /dev/null
  t=$(date +%s%N)
  "$SPANTAP" report "$WORK/r$spans.db" -o "$WORK/r$spans.html" > /dev/null
  echo "report of $(sqlite3 "$WORK/r$spans.db" "SELECT count(*) FROM spans") spans written in $((($(date +%s%N) - t) / 1000000)) ms"
  pages+=("$WORK/r$spans.html")
done
node "$top_srcdir/bench/report_load.mjs" 3 "${pages[@]}" > "$WORK/load.txt"
base=$(awk 'NR == 1 {print $2}' "$WORK/load.txt")
printf '%-10s %12s %10s %14s\n' spans bytes load_ms vs_baseline
printf '%-10s %12s %10s %14s\n' baseline "$(stat -c %s "$WORK/baseline.html")" "$base" 1.0
for spans in "$N" $((4 * N)); do
  ms=$(awk -v f="$WORK/r$spans.html" '$1 == f {print $2}' "$WORK/load.txt")
  printf '%-10s %12s %10s %14s\n' "$spans" "$(stat -c %s "$WORK/r$spans.html")" "$ms" "$(awk -v a="$ms" -v b="$base" 'BEGIN {printf "%.1f", a / b}')"
done
