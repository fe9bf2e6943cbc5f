# Shared helpers of the live tests (sourced). A live test needs root and a
# machine that can run SystemTap; when it cannot run it says why and exits 77,
# which the test harness reports as SKIP (never as a pass).
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
SPANTAP="$top_builddir/spantap"
CHAIN_APP="$top_builddir/tests/apps/chain_app"
WORK=$(mktemp -d /tmp/spantap-live.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0
passes=0

skip() { echo "SKIP: $*"; exit 77; }
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $*"; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

q() { sqlite3 -batch -noheader "$1" "$2"; }

require_live() {
  [ "$(id -u)" -eq 0 ] || skip "live tracing needs root (run 'sudo make check')"
  command -v stap >/dev/null || skip "SystemTap is not installed (run ./bootstrap)"
  command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed (run ./bootstrap)"
  [ -e /sys/kernel/btf/vmlinux ] || skip "this kernel has no BTF (/sys/kernel/btf/vmlinux), which the BPF runtime setup needs"
  "$SPANTAP" setup > "$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; skip "'spantap setup' failed on this machine (log above)"; }
}

finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# nginx_conf DIR PORT WORKERS LOCATION: writes DIR/nginx.conf for an nginx
# that stays in the foreground (with its master process), keeps every file it
# writes under DIR, and answers 127.0.0.1:PORT with the body LOCATION of its
# one location, e.g. 'return 200 "spantap\n";' or 'proxy_pass http://...;'.
nginx_conf() {
  mkdir -p "$1"
  cat > "$1/nginx.conf" << NGINX_CONF
daemon off;
master_process on;
worker_processes $3;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $1; proxy_temp_path $1;
  fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  server { listen 127.0.0.1:$2; location / { $4 } }
}
NGINX_CONF
}
