#!/bin/bash
# Live test: a three-tier chain of real servers from Debian's packages,
# recorded by the BPF runtime under sequential requests: nginx as a reverse
# proxy -> a small Python HTTP backend (python3's http.server) that opens a new
# connection to redis for every request -> redis-server. The servers run
# before the recording starts (found running, named by what was executed:
# Debian's /usr/bin/redis-server is a link to redis-check-rdb). The recording
# must end in order with nothing lost and never an aborted runtime, and each
# request must be one trace through the three services.
# THREE_TIER_REQUESTS (default 100) sets the requests; THREE_TIER_LOAD=1 adds
# concurrent load (ab on nginx) during them, as bench/soak.sh runs it.
. "$(dirname "$0")/lib.sh"
require_live
PY=/usr/bin/python3
for tool in nginx redis-server redis-cli curl ab "$PY"; do
  command -v "$tool" > /dev/null ||
    { echo "FAIL: $tool is missing: ./bootstrap installs nginx-light, redis-server, redis-tools, apache2-utils, python3 and curl"; exit 1; }
done
REQUESTS=${THREE_TIER_REQUESTS:-100}
NGINX_PORT=18290
BACKEND_PORT=18291
REDIS_PORT=18292
pids=()
cleanup() {
  redis-cli -p "$REDIS_PORT" shutdown nosave > /dev/null 2>&1
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/redis" "$WORK/nginx"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
  > "$WORK/redis/server.log" 2>&1 &
pids+=($!)
cat > "$WORK/backend.py" << PY_END
# one new connection to redis per request: INCR, then the count as the body
import http.server, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with socket.create_connection(("127.0.0.1", $REDIS_PORT)) as r:
            r.sendall(b"INCR hits\r\n")
            reply = r.recv(64)
        body = reply.strip(b":\r\n") + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", $BACKEND_PORT), H).serve_forever()
PY_END
"$PY" "$WORK/backend.py" > "$WORK/backend.log" 2>&1 &
pids+=($!)
nginx_conf "$WORK/nginx" "$NGINX_PORT" 1 "proxy_pass http://127.0.0.1:$BACKEND_PORT;"
nginx -c "$WORK/nginx/nginx.conf" &
pids+=($!)
up=0
for _ in $(seq 100); do
  [ "$(curl -s "http://127.0.0.1:$NGINX_PORT/" 2> /dev/null)" -ge 1 ] 2> /dev/null && { up=1; break; }
  sleep 0.1
done
check "the chain answers before the recording" 1 "$up"

"$SPANTAP" record --force -o "$WORK/chain.db" --save-stream "$WORK/chain.stream" \
  --binary nginx --binary python3 --binary redis-server --duration 600 > "$WORK/rec.out" 2>&1 &
rec=$!
for _ in $(seq 600); do grep -qs '^spantap: tracing\|INCOMPLETE' "$WORK/rec.out" && break; sleep 0.2; done
load=""
if [ "${THREE_TIER_LOAD:-0}" = 1 ]; then
  ab -n 1000000 -c 4 -t 600 "http://127.0.0.1:$NGINX_PORT/" > "$WORK/ab.txt" 2>&1 &
  load=$!
fi
ok_requests=0
for _ in $(seq "$REQUESTS"); do
  curl -sf "http://127.0.0.1:$NGINX_PORT/" > /dev/null && ok_requests=$((ok_requests + 1))
done
if [ -n "$load" ]; then
  kill -INT "$load" 2> /dev/null
  wait "$load" 2> /dev/null
  echo "# concurrent load: $(awk '/^Complete requests:/ {print $3}' "$WORK/ab.txt") requests by ab"
fi
sleep 0.5
kill -INT "$rec"
wait "$rec"
rc=$?
check "every request answered" "$REQUESTS" "$ok_requests"
check "the recording ended in order (exit 0)" 0 "$rc"
[ "$rc" -eq 0 ] || tail -20 "$WORK/rec.out"
db="$WORK/chain.db"
aborts=$(grep -c 'printf already started\|wrong number of printf args\|Aborted' "$WORK/rec.out")
lost=$(q "$db" "SELECT num_value FROM recording WHERE key = 'events_lost'")
echo "# aborts: $aborts; lost: $lost; $(grep '^spantap: record queues: [0-9]* records' "$WORK/rec.out")"
check "no runtime abort" 0 "$aborts"
check "the recording is complete" 1 "$(q "$db" "SELECT num_value FROM recording WHERE key = 'complete'")"
check "nothing lost" 0 "$lost"
check "redis-server is named as executed, not as the file it links to" "1 0" \
  "$(q "$db" "SELECT count(*) > 0 FROM spans WHERE service = 'redis-server'") $(q "$db" "SELECT count(*) FROM spans WHERE service = 'redis-check-rdb'")"
total=$(q "$db" "SELECT count(*) FROM traces WHERE services LIKE '%nginx%' AND services LIKE '%python3%' AND services LIKE '%redis-server%'")
echo "# traces through nginx, python3 and redis-server: $total (curl requests: $REQUESTS, load: ${THREE_TIER_LOAD:-0})"
check "at least one three-tier trace per request" 1 "$([ "${total:-0}" -ge "$REQUESTS" ] && echo 1)"
"$SPANTAP" import -o "$WORK/imported.db" "$WORK/chain.stream" > /dev/null 2>&1
check "the saved stream imports to the same spans and traces" \
  "$(q "$db" "SELECT count(*), sum(dur_ns), (SELECT count(*) FROM traces) FROM spans")" \
  "$(q "$WORK/imported.db" "SELECT count(*), sum(dur_ns), (SELECT count(*) FROM traces) FROM spans")"
finish
