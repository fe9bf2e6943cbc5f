#!/bin/bash
# Self-check of demo/spantap-accuracy on a hand-built recording: three
# requests through front, middle and store, with spans that match the truth
# except one missing store span, one extra store span, one middle span whose
# parent chain leads to the wrong front request, and one front span 1.5 ms
# late (inside the default tolerance, outside --tolerance-us 1000). The
# expected scores are worked out in the comments below. Needs the sqlite3
# shell (./bootstrap installs it): without it the test fails, it does not skip.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
ACCURACY="$top_builddir/demo/spantap-accuracy"
WORK=$(mktemp -d /tmp/spantap-accuracy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi; }

if ! command -v sqlite3 >/dev/null 2>&1; then
  echo "FAIL: the sqlite3 shell is not installed: apt-get install sqlite3 (./bootstrap installs it)"
  exit 1
fi
if [ ! -x "$ACCURACY" ]; then
  echo "FAIL: $ACCURACY is not built (run make)"
  exit 1
fi

# Truth: request k (0..2) enters the front at 1 s + k*10 ms and takes 5 ms;
# the middle's part starts 1 ms later and takes 3 ms, the store's 2 ms later
# and takes 1 ms. Pids 100/200/300; one connection per hop.
mkdir -p "$WORK/truth"
header="service,pid,tid,local_port,remote_port,trace_id,request_id,parent_request_id,start_ns,end_ns"
{
  echo "$header"
  for k in 0 1 2; do
    s=$((1000000000 + k * 10000000))
    echo "demo_front,100,101,18080,40001,$((9000 + k)),$((1 + k)),0,$s,$((s + 5000000))"
  done
} > "$WORK/truth/front.csv"
{
  echo "$header"
  for k in 0 1 2; do
    s=$((1001000000 + k * 10000000))
    echo "demo_middle,200,200,18081,50001,$((9000 + k)),$((11 + k)),$((1 + k)),$s,$((s + 3000000))"
  done
} > "$WORK/truth/middle.csv"
{
  echo "$header"
  for k in 0 1 2; do
    s=$((1002000000 + k * 10000000))
    echo "demo_store,300,301,18082,50002,$((9000 + k)),$((21 + k)),$((11 + k)),$s,$((s + 1000000))"
  done
} > "$WORK/truth/store.csv"

# The recording. Span ids: front server 1-3, front client 4-6, middle server
# 7-9, middle client 10-12, store server 13-14 (the third is missing), 15 the
# extra store span, 16 a server span of a non-demo executable (ignored).
# Span 8 (middle, request 2) has parent 6, the client span of request 3.
# Span 3 (front, request 3) starts and ends 1.5 ms late.
sqlite3 -batch "$WORK/rec.db" <<'EOF'
CREATE TABLE connections (id INTEGER PRIMARY KEY, family INTEGER, proto INTEGER, laddr TEXT,
  lport INTEGER, raddr TEXT, rport INTEGER, sock INTEGER);
CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_id INTEGER NOT NULL, parent_id INTEGER,
  kind TEXT NOT NULL, pid INTEGER NOT NULL, tid INTEGER NOT NULL, service TEXT, conn_id INTEGER,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL,
  status TEXT NOT NULL, depth INTEGER NOT NULL, critical INTEGER NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, syscalls INTEGER NOT NULL,
  net_ns INTEGER NOT NULL, file_ns INTEGER NOT NULL, mem_ns INTEGER NOT NULL,
  proc_ns INTEGER NOT NULL, other_ns INTEGER NOT NULL, offcpu_ns INTEGER NOT NULL,
  switches INTEGER NOT NULL, page_faults INTEGER NOT NULL, start_stack_id INTEGER,
  end_stack_id INTEGER);
CREATE TABLE span_edges (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE TABLE traces (id INTEGER PRIMARY KEY, root_span_id INTEGER, start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL, spans INTEGER NOT NULL, depth INTEGER NOT NULL,
  services TEXT, critical_path TEXT, complete INTEGER NOT NULL);
INSERT INTO connections VALUES
  (1, 2, 6, '127.0.0.1', 18080, '127.0.0.1', 40001, 1),
  (2, 2, 6, '127.0.0.1', 50001, '127.0.0.1', 18081, 2),
  (3, 2, 6, '127.0.0.1', 18081, '127.0.0.1', 50001, 3),
  (4, 2, 6, '127.0.0.1', 50002, '127.0.0.1', 18082, 4),
  (5, 2, 6, '127.0.0.1', 18082, '127.0.0.1', 50002, 5),
  (6, 2, 6, '127.0.0.1', 8080, '127.0.0.1', 40009, 6);
CREATE TEMP TABLE s (id, trace_id, parent_id, kind, pid, tid, service, conn_id, start_ns, end_ns);
INSERT INTO s VALUES
  (1, 1, NULL, 'server', 100, 101, 'demo_front', 1, 1000000000, 1005000000),
  (2, 2, NULL, 'server', 100, 101, 'demo_front', 1, 1010000000, 1015000000),
  (3, 3, NULL, 'server', 100, 101, 'demo_front', 1, 1021500000, 1026500000),
  (4, 1, 1, 'client', 100, 101, 'demo_front', 2, 1000900000, 1004100000),
  (5, 2, 2, 'client', 100, 101, 'demo_front', 2, 1010900000, 1014100000),
  (6, 3, 3, 'client', 100, 101, 'demo_front', 2, 1020900000, 1024100000),
  (7, 1, 4, 'server', 200, 200, 'demo_middle', 3, 1001000000, 1004000000),
  (8, 3, 6, 'server', 200, 200, 'demo_middle', 3, 1011000000, 1014000000),
  (9, 3, 6, 'server', 200, 200, 'demo_middle', 3, 1021000000, 1024000000),
  (10, 1, 7, 'client', 200, 200, 'demo_middle', 4, 1001900000, 1003100000),
  (11, 3, 8, 'client', 200, 200, 'demo_middle', 4, 1011900000, 1013100000),
  (12, 3, 9, 'client', 200, 200, 'demo_middle', 4, 1021900000, 1023100000),
  (13, 1, 10, 'server', 300, 301, 'demo_store', 5, 1002000000, 1003000000),
  (14, 3, 11, 'server', 300, 301, 'demo_store', 5, 1012000000, 1013000000),
  (15, 4, NULL, 'server', 300, 301, 'demo_store', 5, 3000000000, 3001000000),
  (16, 5, NULL, 'server', 400, 401, 'other_server', 6, 1000000000, 1001000000);
INSERT INTO spans SELECT id, trace_id, parent_id, kind, pid, tid, service, conn_id, start_ns,
  end_ns, end_ns - start_ns, 'ok', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL FROM s;
EOF
check "the test recording was built" 16 "$(sqlite3 -batch -noheader "$WORK/rec.db" 'SELECT count(*) FROM spans')"

# row OUTPUT NAME: "precision recall" of a table row.
row() { awk -v name="$2" '$1 == name { print $5, $6 }' <<< "$1"; }

out=$("$ACCURACY" "$WORK/rec.db" "$WORK/truth")
status=$?
echo "$out"
check "without --min it exits 0" 0 "$status"
# Demo server spans 1-3, 7-9, 13-15 (9); truth 9; all match but the extra 15
# and the missing third store request: 8/9 both ways.
check "span precision and recall" "0.8889 0.8889" "$(row "$out" spans)"
check "store row: 3 derived, 3 truth, 2 matched" "3 3 2" \
  "$(awk '$1 == "demo_store" { print $2, $3, $4 }' <<< "$out")"
# Truth links: 3 middle + 3 store = 6. Derived links among matched spans:
# 7, 8, 9, 13, 14 = 5. Correct: 7, 9, 13, 14 (8 leads to front request 3;
# the third store request has no span): precision 4/5, recall 4/6.
check "link precision and recall" "0.8000 0.6667" "$(row "$out" links)"

"$ACCURACY" --min 0.99 "$WORK/rec.db" "$WORK/truth" > "$WORK/min.out"
check "--min 0.99 exits 1" 1 "$?"
check "--min says FAIL" 1 "$(grep -c '^FAIL' "$WORK/min.out")"
"$ACCURACY" --min 0.6 "$WORK/rec.db" "$WORK/truth" > "$WORK/min.out"
check "--min 0.6 exits 0" 0 "$?"

# With 1 ms of tolerance the late front span 3 no longer matches: spans 7/9;
# links correct 7, 13, 14 (9's parent request lost its span) of derived 5
# and truth 6.
out=$("$ACCURACY" --tolerance-us 1000 "$WORK/rec.db" "$WORK/truth")
check "--tolerance-us 1000: span scores" "0.7778 0.7778" "$(row "$out" spans)"
check "--tolerance-us 1000: link scores" "0.6000 0.5000" "$(row "$out" links)"

out=$("$ACCURACY" --verbose "$WORK/rec.db" "$WORK/truth")
check "--verbose lists the missing store request" 1 \
  "$(grep -A1 '^unmatched truth' <<< "$out" | grep -c 'demo_store .*request_id=23')"
check "--verbose lists the extra span" 1 \
  "$(grep -A1 '^unmatched spans' <<< "$out" | grep -c 'span=15 demo_store')"
check "--verbose says why a link is missed" 1 \
  "$(grep -c 'request_id=12 .*another server span' <<< "$out")"

# Bad input exits 2 with a message naming what is wrong.
"$ACCURACY" "$WORK/rec.db" "$WORK/no-such-dir" 2> "$WORK/err"
check "a missing truth dir exits 2" 2 "$?"
check "the message names the truth file" 1 "$(grep -c 'no-such-dir/front.csv' "$WORK/err")"
"$ACCURACY" "$WORK/no-such.db" "$WORK/truth" 2> "$WORK/err"
check "a missing database exits 2" 2 "$?"
sqlite3 -batch "$WORK/empty.db" 'CREATE TABLE syscalls (id INTEGER);'
"$ACCURACY" "$WORK/empty.db" "$WORK/truth" 2> "$WORK/err"
check "a database without spans exits 2" 2 "$?"
check "the message says the spans table is missing" 1 "$(grep -c 'no spans table' "$WORK/err")"
printf 'service,pid\n' > "$WORK/truth/store.csv"
"$ACCURACY" "$WORK/rec.db" "$WORK/truth" 2> "$WORK/err"
check "a truth file with a wrong header exits 2" 2 "$?"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
