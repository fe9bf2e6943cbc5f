#!/bin/bash
# Fault tests: what spantap does when things go wrong around it.
#   1. hostile --binary names and paths (quotes, %{ %} embedded-C markers,
#      newlines, $(...), backticks, very long names, non-UTF-8 bytes) reach the
#      generated script only as data, never as SystemTap or shell code;
#   2. a disk that fills up during `spantap import`, and an output directory
#      that cannot be written: a clear error, exit 1, no corrupt database;
#   3. the collector (`spantap record` itself) killed with SIGKILL mid-recording:
#      the committed batches are intact and say the recording is incomplete,
#      and no stap/stapbpf is left running.
# Part 1 needs no root; parts 2 and 3 need root (mounts, tracing) and skip
# visibly without it.
. "$(dirname "$0")/lib.sh"
[ -x "$SPANTAP" ] || skip "spantap not built: $SPANTAP"
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed (run ./bootstrap)"

MOUNTS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do umount "$m" 2> /dev/null; done
  [ -n "${APP_PID:-}" ] && kill -KILL "$APP_PID" 2> /dev/null
  [ -n "${STAP_PGID:-}" ] && kill -KILL -- "-$STAP_PGID" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# has TEXT FILE: 1 when FILE contains TEXT (a fixed string), else 0
has() { if grep -qF -- "$1" "$2"; then echo 1; else echo 0; fi; }

# ---- 1. hostile names --------------------------------------------------------

cd "$WORK" || exit 1 # a payload that ran would leave its PWN file here
tree=$("$SPANTAP" setup --check 2> /dev/null | sed -n 's/^synthesized tree: *yes (\(.*\))$/\1/p')
[ -n "$tree" ] || tree="/lib/modules/$(uname -r)/build"
STAP_P1=""
if command -v stap > /dev/null && [ -e "$tree/.config" ]; then
  STAP_P1=1
else
  echo "# hostile names: 'stap -p1' checks not run: no stap or no kernel build tree (run 'spantap setup')"
fi

# The little-endian word the generator emits for bytes 0..7 of the first N
# bytes of NAME (runtime/script_gen.c, name_word): proof that NAME went in as data.
name_word() { # NAME N
  local bytes w=0 i=0 b
  bytes=$(printf '%s' "$1" | head -c "$2" | head -c 8 | od -An -v -tu1)
  for b in $bytes; do w=$((w | (b << (8 * i)))); i=$((i + 1)); done
  printf '0x%x' "$w"
}

# hostile_name DESCRIPTION NAME: the name is accepted, and appears in the
# script only encoded; its marker (PWN), shell substitutions and embedded-C
# markers do not appear; stap parses the script.
hostile_name() {
  local what=$1 name=$2 len rc
  "$SPANTAP" script --runtime bpf --stack-mode 4 --binary "$name" > "$WORK/h.stp" 2> "$WORK/h.err"
  rc=$?
  check "$what: accepted as a name (exit 0)" 0 "$rc"
  [ "$rc" -eq 0 ] || { cat "$WORK/h.err"; return; }
  len=$(printf '%s' "$name" | wc -c)
  check "$what: no payload marker in the script" 0 "$(grep -c 'PWN' "$WORK/h.stp")"
  check "$what: no embedded-C block in the script" 0 "$(grep -c '%{\|%}' "$WORK/h.stp")"
  check "$what: no shell substitution in the script" 0 "$(grep -c '\$(\|`' "$WORK/h.stp")"
  check "$what: the name is matched as $len bytes of data" 1 \
    "$(grep -c "a name of $len bytes" "$WORK/h.stp")"
  check "$what: its first 8 bytes are compared as an encoded word" 1 \
    "$(grep -c "w = _st_u64(.*->d_name->name + 0); m = 0x[0-9a-f]*; k = $(name_word "$name" "$len")\$" "$WORK/h.stp")"
  if [ -n "$STAP_P1" ]; then
    stap -r "$tree" -p1 "$WORK/h.stp" > /dev/null 2> "$WORK/p1.err"
    check "$what: stap parses the script (stap -p1)" 0 $?
  fi
}

hostile_name "double quotes" 'x"); system("touch PWN1"); printf("'
hostile_name "embedded C" '%{ PWN2 panic(); %}'
hostile_name "a newline and a probe" $'a\nprobe begin { system("PWN3") }'
hostile_name "shell command substitution" '$(touch PWN4)'
hostile_name "backticks" '`touch PWN5`'
hostile_name "non-UTF-8 bytes" $'PWN6\xff\xfe\x80\xc3('
hostile_name "quotes, backslashes, braces, semicolons" $'PWN7\'\\" # ; } { ) ( -- @@END@@'
hostile_name "255 bytes (the limit)" "PWN8$(printf 'z%.0s' $(seq 251))"
check "no payload was executed" 0 "$(ls "$WORK" | grep -c PWN)"

"$SPANTAP" script --binary "PWN9$(printf 'y%.0s' $(seq 300))" > "$WORK/h.stp" 2> "$WORK/h.err"
check "a 304-byte name is rejected (exit 2)" 2 $?
check "... saying the limit" 1 "$(has 'too long: 304 bytes (at most 255)' "$WORK/h.err")"
check "... and no script is printed" 0 "$(wc -c < "$WORK/h.stp")"

# a path target: an executable whose file name is hostile is matched by inode
evil=$'PWN10 "%{ x %}" $(id) `id`\n;'
mkdir "$WORK/bin" && cp /bin/true "$WORK/bin/$evil"
"$SPANTAP" script --stack-mode 1 --binary "$WORK/bin/$evil" > "$WORK/h.stp" 2> "$WORK/h.err"
check "hostile file name as a path: accepted" 0 $?
check "... matched by inode and device, the name not in the script" \
  "1 0 0" "$(grep -c "i_ino; k = $(stat -c %i "$WORK/bin/$evil")\$" "$WORK/h.stp") \
$(grep -c 'PWN' "$WORK/h.stp") $(grep -c '%{' "$WORK/h.stp")"
"$SPANTAP" script --binary "$WORK/bin/missing \$(id)" > /dev/null 2> "$WORK/h.err"
check "a path that does not exist is rejected (exit 2)" 2 $?

# ---- 2. disk full, unwritable output -------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the disk-full, unwritable-directory and SIGKILL tests need root (run 'sudo make check')"
  finish || exit 1
  exit 77
fi

mount_tmpfs() { # DIR OPTIONS
  mkdir -p "$1" && mount -t tmpfs -o "$2" tmpfs "$1" && MOUNTS+=("$1")
}

# A stream whose database outgrows 300 KiB: one process, many syscalls with
# distinct stacks, in this build's record format.
version=$(sed -n 's/^#define SPANTAP_RECORD_FORMAT_VERSION \([0-9]*\).*/\1/p' \
  "$top_srcdir/include/spantap/record_format.h")
awk -v version="$version" 'BEGIN {
  print "BEGIN " version " 0 1 8 bpf"; print "READY 1 3"
  print "EXEC 2 100 100 1 1 4096 1048576 0 0 /bin/sh"
  print "MAP 3 100 0 0 0 0 /bin/sh"
  print "MAP 3 100 4096 1048576 0 0 r-xp /bin/sh"
  for (i = 0; i < 30000; i++)
    printf "SC %d 5 100 100 0 3 %d 0 0 @0,%x,%x\n", 10 + i, i, 4096 + i % 4000, 8192 + i
  print "END 99999999"
}' > "$WORK/big.stream"
"$SPANTAP" import -o "$WORK/big.db" "$WORK/big.stream" > "$WORK/big.out" 2>&1
check "the big stream imports where there is room, into more than 300 KiB" "0 1" \
  "$? $(($(stat -c %s "$WORK/big.db" 2> /dev/null || echo 0) > 300 * 1024))"
full="$WORK/full"
if mount_tmpfs "$full" size=300k; then
  "$SPANTAP" import -o "$full/trace.db" "$WORK/big.stream" > "$WORK/full.out" 2>&1
  check "disk full: import fails (exit 1)" 1 $?
  check "disk full: the error says the disk is full" 1 \
    "$(if grep -qi 'disk is full\|no space left' "$WORK/full.out"; then echo 1; else echo 0; fi)"
  check "disk full: the error names the database" 1 "$(has "$full/trace.db" "$WORK/full.out")"
  sed 's/^/# import said: /' "$WORK/full.out" | head -5
  # room again: what was left must be a sound database, or nothing
  mount -o remount,size=20m "$full"
  if [ -e "$full/trace.db" ]; then
    check "disk full: the database left behind passes integrity_check" ok \
      "$(q "$full/trace.db" "PRAGMA integrity_check" 2>&1)"
  else
    check "disk full: no database left behind" 0 "$(ls -A "$full" | wc -l)"
  fi
else
  not_ok "could not mount a 300 KiB tmpfs at $full"
fi

ro="$WORK/ro"
if mount_tmpfs "$ro" ro,size=64k; then
  "$SPANTAP" import -o "$ro/trace.db" "$top_srcdir/tests/data/sample.stream" > "$WORK/ro.out" 2>&1
  check "read-only directory: import fails (exit 1)" 1 $?
  check "read-only directory: the error names the database and the cause" 1 \
    "$(has "path=$ro/trace.db errno=Read-only file system" "$WORK/ro.out")"
  check "read-only directory: nothing created" 0 "$(ls -A "$ro" | wc -l)"
else
  not_ok "could not mount a read-only tmpfs at $ro"
fi

# not root: a directory without write permission
if command -v setpriv > /dev/null; then
  pub=$(mktemp -d /tmp/spantap-faults-pub.XXXXXX)
  chmod 0755 "$pub" && mkdir "$pub/locked" && chmod 0555 "$pub/locked"
  cp "$top_srcdir/tests/data/sample.stream" "$pub/s.stream" && chmod 0644 "$pub/s.stream"
  if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$SPANTAP" 2> /dev/null; then
    setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$SPANTAP" import -o "$pub/locked/trace.db" "$pub/s.stream" > "$WORK/perm.out" 2>&1
    check "unwritable directory: import fails (exit 1)" 1 $?
    check "unwritable directory: the error names the database and the cause" 1 \
      "$(has "path=$pub/locked/trace.db errno=Permission denied" "$WORK/perm.out")"
    check "unwritable directory: nothing created" 0 "$(ls -A "$pub/locked" | wc -l)"
  else
    echo "# unwritable directory as another user not checked: nobody cannot run $SPANTAP"
  fi
  rm -rf "$pub"
fi

# ---- 3. the collector killed ----------------------------------------------------

if ! (require_live) > "$WORK/live.out" 2>&1; then
  cat "$WORK/live.out"
  finish || exit 1
  exit 77
fi
[ -x "$CHAIN_APP" ] || skip "test application not built: $CHAIN_APP"

timeout 120 "$SPANTAP" record -o "$ro/rec.db" --binary true --duration 1 > "$WORK/ro.out" 2>&1
check "read-only directory: record fails before tracing (exit 1), naming the database" "1 1" \
  "$? $(has "path=$ro/rec.db errno=Read-only file system" "$WORK/ro.out")"
check "read-only directory: record created nothing" 0 "$(ls -A "$ro" | wc -l)"

# A copy of the test application under a name of its own, so that recordings
# of other tests (--binary chain_app) and this one do not see each other.
app="$WORK/stfault_app"
cp "$CHAIN_APP" "$app"
"$app" loop 100000000000 &
APP_PID=$!
"$SPANTAP" record --force -o "$WORK/killed.db" --events all --binary stfault_app \
  --duration 240 > "$WORK/kill.out" 2>&1 &
rec=$!
for _ in $(seq 900); do grep -q '^spantap: tracing\|INCOMPLETE' "$WORK/kill.out" && break; sleep 0.2; done
check "record started tracing" 1 "$(grep -c '^spantap: tracing' "$WORK/kill.out")"
# stap leads its own process group (runtime/stap_launch.c); stapbpf is in it
STAP_PGID=$(pgrep -P "$rec" -x stap | head -1)
check "stap runs as a child of spantap record" 1 "$([ -n "$STAP_PGID" ] && echo 1)"
group() { # the live (not zombie) processes of stap's process group
  ps -eo pid=,pgid=,stat=,comm= | awk -v g="${STAP_PGID:-none}" '$2 == g && $3 !~ /^Z/ {print $1, $4}'
}
check "stapbpf runs in stap's process group" 1 "$(group | grep -c ' stapbpf$')"
script=$(tr '\0' '\n' < "/proc/$STAP_PGID/cmdline" 2> /dev/null | tail -1)
sleep 3 # several batches: record commits every 0.5 s
kill -KILL "$rec"
{ wait "$rec"; } 2> /dev/null # (no "Killed" job notice)
check "the collector died of SIGKILL" 137 $?

# stap and stapbpf (stap's process group) must go once their output pipe is gone
left=""
for _ in $(seq 50); do
  left=$(group | tr '\n' ' ')
  [ -z "$left" ] && break
  sleep 0.2
done
check "no stap/stapbpf left running 10 s after the collector was killed" "" "$left"
[ -n "$left" ] || STAP_PGID= # gone: nothing for the cleanup to kill
# the killed record could not remove its script; it is this test's to remove
case "$script" in /tmp/spantap-*.stp) rm -f "$script" ;; esac
kill -KILL "$APP_PID" 2> /dev/null
wait "$APP_PID" 2> /dev/null
APP_PID=

db="$WORK/killed.db"
check "killed: the database is intact" ok "$(q "$db" "PRAGMA integrity_check" 2>&1)"
check "killed: the committed batches hold the app's syscalls" 1 \
  "$(q "$db" "SELECT count(*) > 0 FROM syscalls WHERE name = 'getppid'")"
check "killed: the recording says it is incomplete (complete = 0)" 0 \
  "$(q "$db" "SELECT coalesce((SELECT num_value FROM recording WHERE key = 'complete'), 'absent')")"
"$SPANTAP" summary "$db" > "$WORK/summary.out" 2>&1
check "killed: spantap summary reads the database" 0 $?
finish
