#!/bin/bash
# Live test: spans derived from real servers of Debian's packages, driven by
# their own real clients. nginx under ab (HTTP keep-alive) and redis-server
# under redis-benchmark: the spans spantap derives, by name of the binary and
# nothing else, must number exactly the requests the server handled, and each
# must fit within the latency its client measured.
. "$(dirname "$0")/lib.sh"
require_live
for tool in nginx ab redis-server redis-benchmark redis-cli; do
  command -v "$tool" > /dev/null ||
    { echo "FAIL: $tool is missing: ./bootstrap installs nginx-light, apache2-utils, redis-server and redis-tools"; exit 1; }
done

NGINX_PORT=18190
REDIS_PORT=18191
REQUESTS=400

# start_recording DB BINARY: records BINARY in the background until stopped;
# waits for the tracing line. Sets $rec.
start_recording() {
  "$SPANTAP" record --force -o "$1" --save-stream "$1.stream" --binary "$2" --duration 300 \
    > "$1.out" 2>&1 &
  rec=$!
  for _ in $(seq 600); do grep -qs '^spantap: tracing\|INCOMPLETE' "$1.out" && break; sleep 0.2; done
  grep -q '^spantap: tracing' "$1.out" || { cat "$1.out"; not_ok "recording of $2 started"; finish; exit 1; }
}

stop_recording() { # DB
  kill -INT "$rec"
  wait "$rec"
  check "recording ended in order ($(basename "$1"))" 0 $?
}

# max_of: the largest of the numbers on standard input
max_of() { sort -g | tail -1; }

# ---- nginx under ab ---------------------------------------------------------
nginx_conf "$WORK/nginx" "$NGINX_PORT" 2 'return 200 "spantap\n";'
start_recording "$WORK/nginx.db" nginx
nginx -c "$WORK/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$NGINX_PORT") 2> /dev/null && break; sleep 0.1; done
ab -k -n "$REQUESTS" -c 4 "http://127.0.0.1:$NGINX_PORT/" > "$WORK/ab.txt" 2>&1
kill -QUIT "$nginx_pid"
wait "$nginx_pid"
stop_recording "$WORK/nginx.db"
completed=$(awk '/^Complete requests:/ {print $3}' "$WORK/ab.txt")
check "ab: every request completed" "$REQUESTS 0" "$completed $(awk '/^Failed requests:/ {print $3}' "$WORK/ab.txt")"
check "nginx: one server span per request ab made" "$completed" \
  "$(q "$WORK/nginx.db" "SELECT count(*) FROM spans WHERE kind = 'server' AND service = 'nginx'")"
check "nginx: every span complete" "$completed" \
  "$(q "$WORK/nginx.db" "SELECT count(*) FROM spans WHERE service = 'nginx' AND status = 'ok'")"
check "nginx: each span's request and response bytes" "$completed" \
  "$(q "$WORK/nginx.db" "SELECT count(*) FROM spans WHERE service = 'nginx' AND bytes_in > 0 AND bytes_out > 0")"
ab_longest=$(awk '/\(longest request\)/ {print $2}' "$WORK/ab.txt")
ab_median=$(awk '$1 == "50%" {print $2}' "$WORK/ab.txt")
span_longest=$(q "$WORK/nginx.db" "SELECT max(dur_ns) / 1e6 FROM spans WHERE service = 'nginx'")
span_median=$(q "$WORK/nginx.db" "SELECT dur_ns / 1e6 FROM spans WHERE service = 'nginx' ORDER BY dur_ns LIMIT 1 OFFSET (SELECT count(*) / 2 FROM spans WHERE service = 'nginx')")
# ab prints whole milliseconds: a span fits when it is at most the client's
# figure rounded up
check "nginx: the longest span ($span_longest ms) fits ab's longest request ($ab_longest ms)" 1 \
  "$(awk -v s="$span_longest" -v c="$ab_longest" 'BEGIN {print (s <= c + 1) ? 1 : 0}')"
check "nginx: the median span ($span_median ms) fits ab's median ($ab_median ms)" 1 \
  "$(awk -v s="$span_median" -v c="$ab_median" 'BEGIN {print (s <= c + 1) ? 1 : 0}')"

# the saved stream, imported without root, derives the same spans
"$SPANTAP" import -o "$WORK/nginx-imported.db" "$WORK/nginx.db.stream" > /dev/null 2>&1
check "nginx: import of the saved stream derives the same spans and traces" \
  "$(q "$WORK/nginx.db" "SELECT count(*), sum(dur_ns), sum(bytes_in + bytes_out), (SELECT count(*) FROM traces) FROM spans")" \
  "$(q "$WORK/nginx-imported.db" "SELECT count(*), sum(dur_ns), sum(bytes_in + bytes_out), (SELECT count(*) FROM traces) FROM spans")"

# ---- redis-server under redis-benchmark ------------------------------------------
mkdir -p "$WORK/redis"
start_recording "$WORK/redis.db" redis-server
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK/redis" > "$WORK/redis/server.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" PING > /dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p "$REDIS_PORT" -n "$REQUESTS" -c 4 -t set,get 2>&1 | tr '\r' '\n' > "$WORK/bench.txt"
stop_recording "$WORK/redis.db"
# the server's own count, the INFO command itself (made after the recording) aside
processed=$(redis-cli -p "$REDIS_PORT" INFO stats | tr -d '\r' | awk -F: '/^total_commands_processed/ {print $2 - 1}')
redis-cli -p "$REDIS_PORT" SHUTDOWN NOSAVE > /dev/null 2>&1
wait "$redis_pid"
client_requests=$(awk '/requests completed in/ {n += $1} END {print n}' "$WORK/bench.txt")
check "redis-benchmark: every request completed" $((2 * REQUESTS)) "$client_requests"
# (the readiness PINGs are commands too, seen by the server and spantap alike)
redis_spans=$(q "$WORK/redis.db" "SELECT count(*) FROM spans WHERE kind = 'server' AND service = 'redis-server'")
check "redis: one server span per command the server processed" "$processed" "$redis_spans"
check "redis: the spans cover every request the client reports" 1 \
  "$([ "$redis_spans" -ge "$client_requests" ] && echo 1 || echo 0)"
bench_max=$(awk '/^100.000% <=/ {print $3}' "$WORK/bench.txt" | max_of)
span_max=$(q "$WORK/redis.db" "SELECT max(dur_ns) / 1e6 FROM spans WHERE service = 'redis-server'")
check "redis: the longest span ($span_max ms) fits the client's longest request ($bench_max ms)" 1 \
  "$(awk -v s="$span_max" -v c="$bench_max" 'BEGIN {print (s <= c + 0.5) ? 1 : 0}')"
check "redis: nothing that did not fit the span model" 0 \
  "$(q "$WORK/redis.db" "SELECT sum(num_value) FROM recording WHERE key IN ('stray_responses', 'stray_replies', 'spans_no_response', 'spans_unfinished')")"
finish
