#!/bin/bash
# Runs the demo application under load: starts demo_store, demo_middle and
# demo_front (built in the build tree), waits until each accepts connections,
# drives the front with ab (keep-alive), then stops the services with SIGTERM
# so that each writes its ground truth, and prints a summary. Whether it is
# traced is up to the caller (spantap record --binary demo_front ...).
# Exit status: 0 success, 1 a service or the load failed, 2 bad usage or ab
# missing.
set -u

usage() {
  cat <<EOF
Usage: demo/run.sh [-n REQUESTS] [-c CONCURRENCY] [-o TRUTH_DIR] [-p BASE_PORT]
  -n REQUESTS     requests ab sends (default 2000)
  -c CONCURRENCY  ab's concurrent keep-alive connections (default 8); the front
                  runs max(4, CONCURRENCY) workers, since a kept-alive
                  connection holds its worker until ab closes it
  -o TRUTH_DIR    where front.csv, middle.csv, store.csv and ab.txt go
                  (default ./demo-truth)
  -p BASE_PORT    front port; middle and store take the next two (default 18080)
The build tree is \$top_builddir, else the directory above this script.
EOF
}

requests=2000
concurrency=8
truth_dir=demo-truth
base_port=18080
while getopts "n:c:o:p:h" opt; do
  case $opt in
  n) requests=$OPTARG ;;
  c) concurrency=$OPTARG ;;
  o) truth_dir=$OPTARG ;;
  p) base_port=$OPTARG ;;
  h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "run.sh: unexpected argument: $1" >&2; usage >&2; exit 2; }
for pair in "n:$requests" "c:$concurrency" "p:$base_port"; do
  case ${pair#*:} in
  '' | *[!0-9]* | 0) echo "run.sh: -${pair%%:*} needs a positive number, got '${pair#*:}'" >&2; exit 2 ;;
  esac
done
if [ "$base_port" -gt 65533 ]; then
  echo "run.sh: -p $base_port leaves no room for the middle and store ports" >&2
  exit 2
fi

if ! command -v ab >/dev/null 2>&1; then
  echo "ab not found: apt-get install apache2-utils" >&2
  exit 2
fi

builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
for service in demo_front demo_middle demo_store; do
  if [ ! -x "$builddir/demo/$service" ]; then
    echo "run.sh: $builddir/demo/$service is not built (run 'make' in $builddir)" >&2
    exit 1
  fi
done

front_port=$base_port
middle_port=$((base_port + 1))
store_port=$((base_port + 2))
workers=$((concurrency > 4 ? concurrency : 4))
mkdir -p "$truth_dir" || exit 1
truth_dir=$(cd "$truth_dir" && pwd)
rm -f "$truth_dir"/front.csv "$truth_dir"/middle.csv "$truth_dir"/store.csv "$truth_dir"/ab.txt
ports=(--front-port "$front_port" --middle-port "$middle_port" --store-port "$store_port")

declare -A pids=()
# Stops what this script started and is still running (on any exit).
kill_started() {
  local name
  for name in "${!pids[@]}"; do
    kill -KILL "${pids[$name]}" 2>/dev/null
  done
}
trap kill_started EXIT

# start SERVICE PORT ARGS...: starts the service in the background (its
# process name stays SERVICE) and waits up to 10 s until PORT accepts.
start() {
  local service=$1 port=$2
  shift 2
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: 127.0.0.1:$port already accepts connections before $service starts (another demo? pick ports with -p)" >&2
    exit 1
  fi
  "$builddir/demo/$service" "${ports[@]}" --truth "$truth_dir/${service#demo_}.csv" "$@" &
  pids[$service]=$!
  local tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "${pids[$service]}" 2>/dev/null; then
      wait "${pids[$service]}"
      echo "run.sh: $service exited (status $?) before accepting on port $port" >&2
      unset "pids[$service]"
      exit 1
    fi
    tries=$((tries + 1))
    if [ $tries -ge 200 ]; then
      echo "run.sh: $service does not accept on 127.0.0.1:$port after 10 s" >&2
      exit 1
    fi
    sleep 0.05
  done
  if ! kill -0 "${pids[$service]}" 2>/dev/null; then
    wait "${pids[$service]}"
    echo "run.sh: $service exited (status $?) right after starting" >&2
    unset "pids[$service]"
    exit 1
  fi
}

# stop SERVICE: SIGTERM, then up to 10 s for it to write its truth and exit 0.
stop() {
  local service=$1 pid=${pids[$1]} tries=0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do
    tries=$((tries + 1))
    if [ $tries -ge 200 ]; then
      echo "run.sh: $service (pid $pid) still runs 10 s after SIGTERM; killing it" >&2
      return 1
    fi
    sleep 0.05
  done
  wait "$pid"
  local status=$?
  unset "pids[$service]"
  if [ $status -ne 0 ]; then
    echo "run.sh: $service exited with status $status" >&2
    return 1
  fi
}

start demo_store "$store_port"
start demo_middle "$middle_port"
start demo_front "$front_port" --workers "$workers"

url="http://127.0.0.1:$front_port/item/1"
echo "run.sh: ab -k -n $requests -c $concurrency $url"
ab -k -n "$requests" -c "$concurrency" "$url" > "$truth_dir/ab.txt" 2>&1
ab_status=$?

failed=0
for service in demo_front demo_middle demo_store; do
  stop "$service" || failed=1
done

if [ $ab_status -ne 0 ]; then
  echo "run.sh: ab failed (status $ab_status):" >&2
  tail -n 5 "$truth_dir/ab.txt" >&2
  failed=1
fi

ab_value() { sed -n "s/^$1:[[:space:]]*\\([0-9.]*\\).*/\\1/p" "$truth_dir/ab.txt" | head -n 1; }
echo "ab: complete=$(ab_value 'Complete requests') failed=$(ab_value 'Failed requests')" \
  "requests_per_second=$(ab_value 'Requests per second')"
for service in front middle store; do
  file=$truth_dir/$service.csv
  if [ ! -s "$file" ]; then
    echo "run.sh: demo_$service wrote no truth file: $file" >&2
    failed=1
    continue
  fi
  echo "demo_$service: $(($(wc -l < "$file") - 1)) requests logged in $file"
done
exit $failed
