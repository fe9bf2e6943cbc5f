#!/bin/bash
# Runs the demo application untraced (demo/run.sh, 300 requests, 4 keep-alive
# connections) and checks its ground truth: ab completed every request, each
# tier logged exactly one line per request, every middle and store request
# names an existing parent request of the tier above with the same trace id,
# and no request ends before it starts. Needs ab (apache2-utils, installed by
# ./bootstrap): without it the test fails, it does not skip.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
export top_builddir
WORK=$(mktemp -d /tmp/spantap-demo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi; }

REQUESTS=300
if ! command -v ab >/dev/null 2>&1; then
  echo "FAIL: ab not found: apt-get install apache2-utils (./bootstrap installs it)"
  exit 1
fi

# A port base of its own, away from the demo's default 18080.
"$top_srcdir/demo/run.sh" -n $REQUESTS -c 4 -o "$WORK/truth" -p 18280 > "$WORK/run.log" 2>&1
status=$?
cat "$WORK/run.log"
check "run.sh exits 0" 0 "$status"

ab_value() { sed -n "s/^$1:[[:space:]]*\\([0-9]*\\).*/\\1/p" "$WORK/truth/ab.txt" | head -n 1; }
check "ab completed every request" "$REQUESTS" "$(ab_value 'Complete requests')"
check "ab saw no failed request" 0 "$(ab_value 'Failed requests')"

header="service,pid,tid,local_port,remote_port,trace_id,request_id,parent_request_id,start_ns,end_ns"
for tier in front middle store; do
  file=$WORK/truth/$tier.csv
  if [ ! -f "$file" ]; then
    not_ok "demo_$tier wrote $file"
    continue
  fi
  check "$tier.csv has the truth header" "$header" "$(head -n 1 "$file")"
  check "demo_$tier logged one line per request" "$REQUESTS" "$(($(wc -l < "$file") - 1))"
  check "demo_$tier lines name their service and have 10 fields" 0 \
    "$(awk -F, -v s="demo_$tier" 'NR > 1 && ($1 != s || NF != 10)' "$file" | wc -l)"
  check "demo_$tier requests start before they end" 0 \
    "$(awk -F, 'NR > 1 && !($9 > 0 && $9 <= $10)' "$file" | wc -l)"
  check "demo_$tier request ids are unique" 0 \
    "$(awk -F, 'NR > 1 { print $7 }' "$file" | sort | uniq -d | wc -l)"
done

# child_faults PARENT_FILE CHILD_FILE: child lines whose parent_request_id is
# not a request of the parent tier, or whose trace id differs from it.
child_faults() {
  awk -F, 'FNR == 1 { next }
           NR == FNR { trace[$7] = $6; next }
           !($8 in trace) || trace[$8] != $6 { bad++ }
           END { print bad + 0 }' "$1" "$2"
}
if [ -f "$WORK/truth/front.csv" ] && [ -f "$WORK/truth/middle.csv" ] && [ -f "$WORK/truth/store.csv" ]; then
  check "every middle request has a front parent with its trace id" 0 \
    "$(child_faults "$WORK/truth/front.csv" "$WORK/truth/middle.csv")"
  check "every store request has a middle parent with its trace id" 0 \
    "$(child_faults "$WORK/truth/middle.csv" "$WORK/truth/store.csv")"
  check "front requests have no parent" 0 "$(awk -F, 'NR > 1 && $8 != 0' "$WORK/truth/front.csv" | wc -l)"
  check "front trace ids are unique" 0 \
    "$(awk -F, 'NR > 1 { print $6 }' "$WORK/truth/front.csv" | sort | uniq -d | wc -l)"
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
