#!/bin/bash
# Live test: every `spantap export` format of a real recording (the demo,
# recorded here) is read by its real consumer, and what the consumer reports
# matches the database:
#   otlp        both encodings POSTed to @elastic/mockotlpserver (span count,
#               parents, service names, the same spans from protobuf and JSON)
#               and the protobuf file decoded by protoc against OTLP's schema;
#   pprof       go tool pprof -top: its totals are the SQL totals;
#   folded      speedscope in headless Chromium shows it without an error;
#   chrome      the same, and the trace engine of Chromium's DevTools finds the
#               processes, threads, spans and client->server flows;
#   prometheus  promtool check metrics on the file and on /metrics, and a real
#               Prometheus server scrapes `spantap export prometheus --listen`
#               and a live `spantap record --metrics-listen`: up is 1 and a
#               series has the database's value.
. "$(dirname "$0")/lib.sh"
require_live
NODE_MODULES="$top_srcdir/node_modules"
JS="$top_srcdir/tests/live/js"
MOCK="$NODE_MODULES/@elastic/mockotlpserver"
[ -d "$MOCK" ] && [ -d "$NODE_MODULES/speedscope" ] && [ -d "$NODE_MODULES/@paulirish/trace_engine" ] &&
  [ -d "$NODE_MODULES/playwright-core" ] || skip "the pinned npm packages are not installed (run ./bootstrap, or npm ci in $top_srcdir)"
for tool in node protoc go promtool prometheus curl; do
  command -v "$tool" > /dev/null || skip "$tool is not installed (run ./bootstrap)"
done
[ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is not installed (run ./bootstrap)"
command -v ab > /dev/null || skip "ab is not installed (run ./bootstrap): the demo needs it"

started=()
stop_started() {
  for p in "${started[@]}"; do
    kill "$p" 2> /dev/null
    wait "$p" 2> /dev/null
  done
  started=()
}
trap 'stop_started; rm -rf "$WORK"' EXIT

# jval EXPR: evaluates EXPR on the JSON document `o` read from standard input
jval() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# ---- the recording: the demo, 300 requests ----
DB="$WORK/demo.db"
record_demo() {
  "$SPANTAP" demo -n 300 -o "$DB" -t "$WORK/truth" > "$WORK/demo.out" 2>&1
  demo_rc=$?
  [ "$(q "$DB" "SELECT num_value FROM recording WHERE key = 'complete'" 2> /dev/null)" = 1 ]
}
why_incomplete() {
  echo "exit $demo_rc, $(q "$DB" "SELECT text_value FROM recording WHERE key = 'incomplete_reason'" 2> /dev/null || echo 'no database')"
}
if ! record_demo; then
  first=$(why_incomplete)
  echo "the demo recording is incomplete ($first; stapbpf's known abort?): recording again"
  tail -5 "$WORK/demo.out"
  if ! record_demo; then
    tail -20 "$WORK/demo.out"
    echo "FAIL: the demo recording is incomplete twice: first $first; then $(why_incomplete)"
    exit 1
  fi
fi
ok "the demo recorded a complete recording"

SPANS=$(q "$DB" "SELECT count(*) FROM spans")
CHILDREN=$(q "$DB" "SELECT count(*) FROM syscalls WHERE span_id IS NOT NULL AND dur_ns >= 100000")
EXPECTED=$((SPANS + CHILDREN))
ROOTS=$(q "$DB" "SELECT count(*) FROM spans s WHERE s.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM span_edges e WHERE e.child_id = s.id)")
SERVICES=$(q "$DB" "SELECT group_concat(service, ',') FROM (SELECT DISTINCT service FROM spans ORDER BY 1)")
[ "$SPANS" -gt 300 ] || not_ok "the demo derived few spans: $SPANS"
echo "recording: $SPANS spans ($ROOTS roots), $CHILDREN syscalls of >= 100 us in spans, services $SERVICES"

# ---- otlp: files, protoc, and POSTs to mockotlpserver ----
"$SPANTAP" export otlp "$DB" -o "$WORK/demo.otlp.pb" 2> "$WORK/err.txt"
check "otlp (protobuf) export to a file" 0 $?
"$SPANTAP" export otlp "$DB" --json -o "$WORK/demo.otlp.jsonl" 2> "$WORK/err.txt"
check "otlp (JSON) export to a file" 0 $?
protoc --decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest -I "$MOCK" \
  "$MOCK/opentelemetry/proto/collector/trace/v1/trace_service.proto" \
  < "$WORK/demo.otlp.pb" > "$WORK/decoded.txt" 2> "$WORK/protoc.err"
check "protoc decodes the protobuf file with OTLP's own schema" 0 $?
check "protoc: every span and child span is in the file" "$EXPECTED" "$(grep -c '^    spans {' "$WORK/decoded.txt")"

if curl -s -o /dev/null --max-time 2 http://127.0.0.1:4318/; then
  not_ok "port 4318 is taken: cannot start mockotlpserver"
else
  node "$MOCK/lib/cli.js" --hostname 127.0.0.1 -o trace-json > "$WORK/mock.out" 2> "$WORK/mock.err" &
  started+=($!)
  requests_seen() { [ "$(grep -c '^{"resourceSpans"' "$WORK/mock.out")" -ge "$1" ]; }
  if ! wait_for 30 grep -qs 'OTLP/HTTP listening' "$WORK/mock.out"; then
    not_ok "mockotlpserver did not start: $(cat "$WORK/mock.err")"
  else
    "$SPANTAP" export otlp "$DB" --endpoint http://127.0.0.1:4318 --timeout 10 2> "$WORK/post_pb.err"
    check "otlp protobuf POSTed to mockotlpserver" 0 $?
    n_pb=$(awk '/OTLP requests accepted/ {print $3}' "$WORK/post_pb.err")
    wait_for 30 requests_seen "$n_pb" || not_ok "mockotlpserver printed fewer than $n_pb requests"
    "$SPANTAP" export otlp "$DB" --json --endpoint http://127.0.0.1:4318 2> "$WORK/post_json.err"
    check "otlp JSON POSTed to mockotlpserver" 0 $?
    n_json=$(awk '/OTLP requests accepted/ {print $3}' "$WORK/post_json.err")
    wait_for 30 requests_seen $((n_pb + n_json)) || not_ok "mockotlpserver printed fewer than $((n_pb + n_json)) requests"
    pb=$(node "$JS/otlp_summary.js" "$WORK/mock.out" 0 "$n_pb")
    js=$(node "$JS/otlp_summary.js" "$WORK/mock.out" "$n_pb" "$n_json")
    echo "mockotlpserver, protobuf: $pb"
    echo "mockotlpserver, JSON:     $js"
    check "mockotlpserver: the spans and their syscall children" "$EXPECTED" "$(echo "$pb" | jval o.spans)"
    check "mockotlpserver: span ids unique" "$EXPECTED" "$(echo "$pb" | jval o.unique_ids)"
    check "mockotlpserver: roots are the spans without a parent in span_edges" "$ROOTS" "$(echo "$pb" | jval o.roots)"
    check "mockotlpserver: every parent is a span received" 0 "$(echo "$pb" | jval o.dangling)"
    check "mockotlpserver: server spans" "$(q "$DB" "SELECT count(*) FROM spans WHERE kind = 'server'")" \
      "$(echo "$pb" | jval o.kinds.SPAN_KIND_SERVER)"
    check "mockotlpserver: the services" "$SERVICES" "$(echo "$pb" | jval 'o.services.join(",")')"
    check "mockotlpserver: protobuf and JSON carry the same spans" "$(echo "$pb" | jval o.digest)" \
      "$(echo "$js" | jval o.digest)"
  fi
  stop_started
fi

# ---- pprof ----
"$SPANTAP" export pprof "$DB" -o "$WORK/demo.pb.gz"
check "pprof export" 0 $?
total() { go tool pprof -top -sample_index="$1" -unit="$2" "$WORK/demo.pb.gz" 2> "$WORK/pprof.err" |
  sed -n 's/.* of \([0-9]*\)[a-z]* total.*/\1/p'; }
check "go tool pprof: syscalls total = SQL count" "$(q "$DB" "SELECT count(*) FROM syscalls")" "$(total syscalls count)"
check "go tool pprof: syscall_time total = SQL sum(dur_ns)" "$(q "$DB" "SELECT sum(dur_ns) FROM syscalls")" "$(total syscall_time ns)"
if [ "$(q "$DB" "SELECT count(*) FROM offcpu")" -gt 0 ]; then
  check "go tool pprof: offcpu_time total = SQL sum(offcpu.dur_ns)" "$(q "$DB" "SELECT sum(dur_ns) FROM offcpu")" "$(total offcpu_time ns)"
fi
go tool pprof -top "$WORK/demo.pb.gz" 2>&1 | head -12

# ---- folded and chrome in speedscope; chrome in DevTools' trace engine ----
"$SPANTAP" export folded "$DB" -o "$WORK/demo.folded"
check "folded export" 0 $?
check "folded: the values add up to the SQL syscall time" "$(q "$DB" "SELECT sum(dur_ns) FROM syscalls")" \
  "$(awk '{s += $NF} END {printf "%.0f", s}' "$WORK/demo.folded")"
out=$(timeout 180 node "$JS/speedscope_open.js" "$WORK/demo.folded")
check "speedscope opens the folded stacks without an error ($out)" 0 $?
check "speedscope names the folded profile" demo.folded "$(echo "$out" | jval o.name)"

"$SPANTAP" export chrome "$DB" --syscalls -o "$WORK/demo.trace.json"
check "chrome export" 0 $?
out=$(timeout 180 node "$JS/speedscope_open.js" "$WORK/demo.trace.json")
check "speedscope opens the trace events without an error ($out)" 0 $?
check "speedscope names the trace profile" demo.trace.json "$(echo "$out" | jval o.name)"
te=$(timeout 180 node "$JS/trace_engine_check.mjs" "$WORK/demo.trace.json" 2> "$WORK/te.err")
check "the DevTools trace engine parses the trace" 0 $?
[ -s "$WORK/te.err" ] && head -5 "$WORK/te.err"
check "trace engine: the processes and their names" \
  "$(q "$DB" "SELECT group_concat(pid || '=' || replace(exe, rtrim(exe, replace(exe, '/', '')), ''), ',') FROM (SELECT pid, exe FROM processes ORDER BY pid)")" \
  "$(echo "$te" | jval 'Object.entries(o.processes).sort((a,b)=>a[0]-b[0]).map(([p,n])=>p+"="+n).join(",")')"
check "trace engine: every thread with spans is named" \
  "$(q "$DB" "SELECT count(DISTINCT tid) FROM spans")" \
  "$(echo "$te" | jval "Object.keys(o.threads).filter(k => new Set('$(q "$DB" "SELECT group_concat(DISTINCT pid || '/' || tid) FROM spans")'.split(',')).has(k)).length")"
check "trace engine: spans and syscalls of >= 100 us as slices on their threads" \
  "$(q "$DB" "SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM syscalls WHERE dur_ns >= 100000)")" \
  "$(echo "$te" | jval o.entries)"
check "trace engine: a flow from each client span to the server span it called" \
  "$(q "$DB" "SELECT count(*) FROM span_edges WHERE kind = 'serves'")" "$(echo "$te" | jval o.flows)"

# ---- prometheus: the file, /metrics, and a Prometheus server scraping it ----
"$SPANTAP" export prometheus "$DB" -o "$WORK/demo.prom"
check "prometheus export" 0 $?
promtool check metrics < "$WORK/demo.prom" > "$WORK/promtool.out" 2>&1
check "promtool check metrics accepts the file ($(head -c 300 "$WORK/promtool.out"))" 0 $?
"$SPANTAP" export prometheus "$DB" --listen 127.0.0.1:0 --duration 120 2> "$WORK/serve.err" &
serve_pid=$!
started+=($serve_pid)
wait_for 10 grep -qs 'serving http' "$WORK/serve.err"
PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$WORK/serve.err")
curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" > "$WORK/scraped.prom"
check "GET /metrics" 0 $?
promtool check metrics < "$WORK/scraped.prom" > "$WORK/promtool.out" 2>&1
check "promtool check metrics accepts /metrics ($(head -c 300 "$WORK/promtool.out"))" 0 $?
check "/metrics serves the text of the file" "$(md5sum < "$WORK/demo.prom")" "$(md5sum < "$WORK/scraped.prom")"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PROM_PORT=$(free_port)
LIVE_PORT=$(free_port) # `spantap record --metrics-listen`, below
mkdir -p "$WORK/prom-data"
cat > "$WORK/prometheus.yml" << YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: spantap
    static_configs:
      - targets: ['127.0.0.1:$PORT']
  - job_name: spantap_live
    static_configs:
      - targets: ['127.0.0.1:$LIVE_PORT']
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
started+=($!)
promql() { curl -s --max-time 5 --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query" |
  jval 'o.data.result.length ? o.data.result[0].value[1] : ""' 2> /dev/null; }
up_is_1() { [ "$(promql 'up{job="spantap"}')" = 1 ]; }
wait_for 60 up_is_1
check "Prometheus scrapes spantap: up is 1" 1 "$(promql 'up{job="spantap"}')"
check "Prometheus: the demo_front server spans, as in the database" \
  "$(q "$DB" "SELECT count(*) FROM spans WHERE service = 'demo_front' AND kind = 'server'")" \
  "$(promql 'spantap_request_duration_seconds_count{service="demo_front",kind="server"}')"
check "Prometheus: the syscalls, as in the database" "$(q "$DB" "SELECT count(*) FROM syscalls")" \
  "$(promql 'sum(spantap_syscalls_total)')"
kill "$serve_pid"
wait "$serve_pid"
check "spantap export --listen stops cleanly on SIGTERM" 0 $?

# ---- a live recording's /metrics (record --metrics-listen), scraped while it records ----
# chain_app makes 20 TCP exchanges, then the recording idles 10 s: Prometheus's
# last scrapes before the recording ends see every send, as the finished
# database must.
LIVE_DB="$WORK/live.db"
"$SPANTAP" record --metrics-listen "127.0.0.1:$LIVE_PORT" -o "$LIVE_DB" -- \
  sh -c "$CHAIN_APP tcp 20 > /dev/null; sleep 10" > "$WORK/live.out" 2>&1 &
live_pid=$!
started+=($live_pid)
live_sends() { promql 'spantap_syscalls_total{job="spantap_live",service="chain_app",syscall="sendto"}'; }
live_seen=""
live_up=""
live_deadline=$((SECONDS + 180)) # the command ends in seconds; so must the recording
while kill -0 "$live_pid" 2> /dev/null && [ "$SECONDS" -lt "$live_deadline" ]; do
  v=$(live_sends)
  [ -n "$v" ] && live_seen=$v
  curl -s --max-time 5 "http://127.0.0.1:$LIVE_PORT/metrics" > "$WORK/live.scrape.tmp" 2>&1 &&
    mv "$WORK/live.scrape.tmp" "$WORK/live.scrape"
  [ "$(promql 'up{job="spantap_live"}')" = 1 ] && live_up=1
  sleep 1
done
kill -0 "$live_pid" 2> /dev/null && kill -INT "$live_pid"
check "record --metrics-listen: the recording ends when its command does" 1 "$([ "$SECONDS" -lt "$live_deadline" ] && echo 1)"
wait "$live_pid"
check "record --metrics-listen: the recording completes (exit 0)" 0 $?
grep -q "serving metrics at http://127.0.0.1:$LIVE_PORT/metrics" "$WORK/live.out"
check "record --metrics-listen says where it serves" 0 $?
check "Prometheus scraped the live recording: up was 1" 1 "$live_up"
[ -n "$live_seen" ] || {
  echo "# the last /metrics this test scraped itself:"
  grep 'sendto\|^up' "$WORK/live.scrape" 2> /dev/null | sed 's/^/#   /'
  echo "# Prometheus's series of the job:"
  curl -s --max-time 5 --data-urlencode 'query={job="spantap_live"}' \
    "http://127.0.0.1:$PROM_PORT/api/v1/query" | head -c 1500
  echo
  tail -20 "$WORK/prometheus.log"
}
check "Prometheus: the live recording's sends, as in the finished database" \
  "$(q "$LIVE_DB" "SELECT count(*) FROM syscalls s JOIN processes p ON p.pid = s.pid WHERE s.name = 'sendto' AND p.exe LIKE '%/chain_app'")" \
  "$live_seen"
stop_started
finish
