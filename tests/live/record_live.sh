#!/bin/bash
# Live test: 'spantap record' on the bundled test application, for real, with
# exact expectations: fork/exec/thread lineage, an unrelated process of the
# same binary left untraced, syscall counts, socket 4-tuples, and the frames
# each stack mode yields for the known call chain main -> chain_a -> chain_b ->
# chain_c -> dup().
. "$(dirname "$0")/lib.sh"
require_live
[ -x "$CHAIN_APP" ] || skip "test application not built: $CHAIN_APP"

record() { # DB ARGS... : records, prints spantap's output on failure
  local db=$1; shift
  if ! timeout -s INT 300 "$SPANTAP" record --force -o "$db" "$@" > "$WORK/record.out" 2>&1; then
    echo "--- spantap record $* failed:"; cat "$WORK/record.out"; return 1
  fi
}

# 1. lineage: -- CMD, fork + exec + thread; an unrelated chain_app runs meanwhile
CHAIN_APP_START_DELAY_MS=1500 "$CHAIN_APP" chain 7 > /dev/null &
unrelated=$!
db="$WORK/fork.db"
record "$db" --events default,file -- "$CHAIN_APP" fork > /dev/null
check "record of 'chain_app fork' succeeds" 0 $?
wait "$unrelated"
root=$(q "$db" "SELECT pid FROM process_events WHERE kind = 'exec' ORDER BY ts_ns LIMIT 1")
child=$(q "$db" "SELECT other_pid FROM process_events WHERE kind = 'fork' AND pid = $root")
check "the launched command is traced from its exec" "$CHAIN_APP" \
  "$(q "$db" "SELECT path FROM process_events WHERE kind = 'exec' AND pid = $root")"
check "its forked child has it as parent" "$root" "$(q "$db" "SELECT ppid FROM processes WHERE pid = $child")"
check "the child's exec is recorded" "/proc/self/exe" \
  "$(q "$db" "SELECT path FROM process_events WHERE kind = 'exec' AND pid = $child")"
check "the child's exit status is recorded (exit 0)" 0 \
  "$(q "$db" "SELECT exit_status FROM processes WHERE pid = $child")"
check "one thread was created in the parent" 1 \
  "$(q "$db" "SELECT count(*) FROM process_events WHERE kind = 'thread' AND pid = $root")"
check "the unrelated chain_app is not traced" 0 \
  "$(q "$db" "SELECT count(*) FROM processes WHERE pid = $unrelated")"
check "dup() in the child: chain 3 = 3 calls" 3 \
  "$(q "$db" "SELECT count(*) FROM syscalls WHERE name = 'dup' AND pid = $child")"
check "dup() in the parent: chain 2 + thread chain 1 = 3 calls" 3 \
  "$(q "$db" "SELECT count(*) FROM syscalls WHERE name = 'dup' AND pid = $root")"
check "the recording is complete" 1 "$(q "$db" "SELECT num_value FROM recording WHERE key = 'complete'")"

# 2. sockets: one client connection to the app's own listener, 5 exchanges
db="$WORK/tcp.db"
record "$db" -- "$CHAIN_APP" tcp 5
out=$(grep '^tcp port=' "$WORK/record.out")
port=$(echo "$out" | sed -n 's/.*tcp port=\([0-9]*\).*/\1/p')
cport=$(echo "$out" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
check "the app reported its ports" 1 "$([ -n "$port" ] && [ -n "$cport" ] && echo 1)"
check "client sends carry the 4-tuple 127.0.0.1:$cport -> 127.0.0.1:$port" 5 \
  "$(q "$db" "SELECT count(*) FROM syscalls s JOIN connections c ON c.id = s.conn_id
      WHERE s.name IN ('sendto', 'write') AND c.laddr = '127.0.0.1' AND c.lport = $cport
      AND c.raddr = '127.0.0.1' AND c.rport = $port")"
check "server receives carry the mirrored 4-tuple, 100 bytes each" 5 \
  "$(q "$db" "SELECT count(*) FROM syscalls s JOIN connections c ON c.id = s.conn_id
      WHERE s.name IN ('recvfrom', 'read') AND s.ret = 100 AND c.lport = $port AND c.rport = $cport")"
check "the client's connect is a net syscall" 1 \
  "$(q "$db" "SELECT count(*) FROM syscalls s JOIN connections c ON c.id = s.conn_id
      WHERE s.name = 'connect' AND c.rport = $port AND s.class = 'net'")"
check "TCP reaches ESTABLISHED on the client socket" 1 \
  "$(q "$db" "SELECT count(*) > 0 FROM tcp_states t JOIN connections c ON c.id = t.conn_id
      WHERE t.new_state = 'ESTABLISHED' AND c.lport = $cport")"

# 3. stack modes on the known chain
frames() { # DB MODE: the frames of the dup() stacks, innermost first
  q "$1" "SELECT group_concat(coalesce(f.function, '?'), ' ') FROM (SELECT stack_id FROM syscalls
          WHERE name = 'dup' LIMIT 1) s JOIN stack_frames sf ON sf.stack_id = s.stack_id
          JOIN frames f ON f.id = sf.frame_id ORDER BY sf.idx"
}
for mode in 1 2 3 4; do
  record "$WORK/m$mode.db" --events default,file --stack-mode "$mode" --stack-depth 8 -- "$CHAIN_APP" chain 3
done
check "mode 1: the innermost frame in the app binary" "chain_c" "$(frames "$WORK/m1.db")"
check "mode 2: app frames only, innermost first" "chain_c chain_b chain_a run_chain" \
  "$(frames "$WORK/m2.db" | cut -d' ' -f1-4)"
m4=$(frames "$WORK/m4.db")
check "mode 4: libc's dup wrapper, then the chain" "chain_c chain_b chain_a run_chain" \
  "$(echo "$m4" | cut -d' ' -f2-5)"
check "mode 4: the innermost frame is in libc" 1 \
  "$(q "$WORK/m4.db" "SELECT count(*) > 0 FROM syscalls s JOIN stack_frames sf ON sf.stack_id = s.stack_id AND sf.idx = 0
      JOIN frames f ON f.id = sf.frame_id JOIN modules m ON m.id = f.module_id
      WHERE s.name = 'dup' AND m.path LIKE '%libc.so%'")"
check "mode 3: one frame per binary (libc, then the app)" 2 \
  "$(q "$WORK/m3.db" "SELECT max(depth) FROM stacks s JOIN syscalls c ON c.stack_id = s.id WHERE c.name = 'dup'")"
check "mode 2 with a budget of 2 marks stacks cut short" 1 \
  "$(record "$WORK/b2.db" --events file --stack-mode 4 --stack-depth 2 -- "$CHAIN_APP" chain 1 &&
     q "$WORK/b2.db" "SELECT count(*) > 0 FROM stacks s JOIN syscalls c ON c.stack_id = s.id
        WHERE c.name = 'dup' AND s.flags & 1")"
check "file:line comes from debuginfo" 1 \
  "$(q "$WORK/m1.db" "SELECT count(*) > 0 FROM frames WHERE function = 'chain_c' AND file LIKE '%chain_app.c' AND line > 0")"

# 4. --binary NAME finds a process already running when recording starts
# (it waits for a file created once the recording says it is tracing: a fixed
# delay is too short when stap starts slowly on a loaded machine)
rm -f "$WORK/go" "$WORK/record.out"
CHAIN_APP_START_FILE=$WORK/go "$CHAIN_APP" chain 4 > /dev/null &
early=$!
sleep 0.5
record "$WORK/bin.db" --events default,file --binary chain_app --duration 8 &
recording=$!
for _ in $(seq 1200); do # 2 min for stap to start
  grep -q '^spantap: tracing' "$WORK/record.out" 2> /dev/null && break
  kill -0 "$recording" 2> /dev/null || break
  sleep 0.1
done
touch "$WORK/go"
wait "$recording"
wait "$early"
check "an already-running target is traced (4 dups)" 4 \
  "$(q "$WORK/bin.db" "SELECT count(*) FROM syscalls WHERE name = 'dup' AND pid = $early")"
check "... and marked as attached" 1 \
  "$(q "$WORK/bin.db" "SELECT attached FROM processes WHERE pid = $early")"

# 5. errors: an existing output is refused and left alone
before=$(stat -c %Y "$WORK/bin.db")
timeout 300 "$SPANTAP" record -o "$WORK/bin.db" --binary chain_app --duration 1 > "$WORK/err.out" 2>&1
check "an existing output file is refused (exit 1)" 1 $?
check "... with a message naming --force" 1 "$(grep -c -- '--force' "$WORK/err.out")"
check "... and left untouched" "$before" "$(stat -c %Y "$WORK/bin.db")"
check "the database is mode 0600" 600 "$(stat -c %a "$WORK/m1.db")"
if command -v setpriv > /dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$SPANTAP" record -o /tmp/x.db --binary x \
    > "$WORK/nonroot.out" 2>&1
  check "without root: exit 1 with a message" "1 1" "$? $(grep -c 'needs root' "$WORK/nonroot.out")"
fi

# 6. a saved stream imports, without a live system, into the same rows
record "$WORK/live.db" --events default,file --stack-mode 4 --save-stream "$WORK/s.stream" \
  -- "$CHAIN_APP" tcp 3 > /dev/null
"$SPANTAP" import -o "$WORK/imported.db" --stack-mode 4 "$WORK/s.stream" > /dev/null 2>&1
check "import of the saved stream succeeds" 0 $?
for t in syscalls process_events connections tcp_states; do
  check "import reproduces table $t" "$(q "$WORK/live.db" "SELECT count(*) FROM $t")" \
    "$(q "$WORK/imported.db" "SELECT count(*) FROM $t")"
done
check "import symbolizes the same call sites" \
  "$(q "$WORK/live.db" "SELECT group_concat(function) FROM (SELECT DISTINCT function FROM frames WHERE function LIKE 'chain%' ORDER BY 1)")" \
  "$(q "$WORK/imported.db" "SELECT group_concat(function) FROM (SELECT DISTINCT function FROM frames WHERE function LIKE 'chain%' ORDER BY 1)")"
# the stream names the test application by path and its real build id (readelf's)
chain_real=$(readlink -f "$CHAIN_APP")
chain_build_id=$(readelf -n "$chain_real" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p' | head -1)
check "the saved stream has the application's MOD record with its build id (readelf -n)" 1 \
  "$(grep -c "^MOD [0-9 -]* $chain_build_id $chain_real\$" "$WORK/s.stream")"
check "the application's MOD record precedes its first MAP record" 1 \
  "$(awk -v p="$chain_real" '$1 == "MOD" && $NF == p && !map { print 1; exit } $1 == "MAP" && $NF == p { map = 1 }' "$WORK/s.stream")"
check "the saved stream reports libc's executable mapping, made after exec (XMAP)" 1 \
  "$(grep -c '^XMAP [0-9 ]* libc\.so' "$WORK/s.stream")"
check "the imported modules row has the recorded build id" "$chain_build_id" \
  "$(q "$WORK/imported.db" "SELECT build_id FROM modules WHERE path = '$chain_real'")"
check "import: no module of another build" 0 \
  "$(q "$WORK/imported.db" "SELECT num_value FROM recording WHERE key = 'modules_build_id_mismatch'")"

# 7. Ctrl-C ends a recording in order; stap dying makes it incomplete
"$SPANTAP" record --force -o "$WORK/int.db" --events default,file --binary chain_app --duration 240 > "$WORK/int.out" 2>&1 &
rec=$!
for _ in $(seq 600); do grep -q '^spantap: tracing\|INCOMPLETE' "$WORK/int.out" && break; sleep 0.2; done
"$CHAIN_APP" chain 2 > /dev/null
sleep 0.5
kill -INT "$rec"; wait "$rec"
check "Ctrl-C: exit 0 and a complete recording" "0 1" \
  "$? $(q "$WORK/int.db" "SELECT num_value FROM recording WHERE key = 'complete'")"
check "Ctrl-C: the events before it are stored" 2 \
  "$(q "$WORK/int.db" "SELECT count(*) FROM syscalls WHERE name = 'dup'")"
"$SPANTAP" record --force -o "$WORK/kill.db" --binary chain_app --duration 240 > "$WORK/kill.out" 2>&1 &
rec=$!
for _ in $(seq 600); do grep -q '^spantap: tracing\|INCOMPLETE' "$WORK/kill.out" && break; sleep 0.2; done
"$CHAIN_APP" chain 1 > /dev/null
sleep 0.5
# only this recording's stapbpf: stap (spantap's child) leads the process group
# stapbpf runs in; other recordings on the machine keep theirs
stap_pid=$(pgrep -P "$rec" -x stap | head -1)
bpf_pid=$([ -n "$stap_pid" ] && pgrep -g "$stap_pid" -x stapbpf | head -1)
check "stap killed: this recording's stapbpf is found" 1 "$([ -n "$bpf_pid" ] && echo 1)"
[ -n "$bpf_pid" ] && kill -KILL "$bpf_pid"
wait "$rec"
check "stap killed: exit 3 (incomplete)" 3 $?
check "stap killed: the recording says so" 0 \
  "$(q "$WORK/kill.db" "SELECT num_value FROM recording WHERE key = 'complete'")"
check "stap killed: the database is intact" ok "$(q "$WORK/kill.db" "PRAGMA integrity_check")"
check "stap killed: the reason names stap" 1 \
  "$(q "$WORK/kill.db" "SELECT count(*) FROM recording WHERE key = 'incomplete_reason' AND text_value LIKE '%stap%'")"

# 8. a saved stream that cannot be written in full is an error, never a silent truncation
"$SPANTAP" record --force -o "$WORK/full.db" --save-stream /dev/full -- "$CHAIN_APP" chain 1 \
  > "$WORK/full.out" 2>&1
check "--save-stream on a full device: exit 3 (incomplete)" 3 $?
check "... with a message naming the saved stream" 1 \
  "$(grep -c 'Failed to write --save-stream: path=/dev/full' "$WORK/full.out")"
check "... and the recording says it is incomplete" 0 \
  "$(q "$WORK/full.db" "SELECT num_value FROM recording WHERE key = 'complete'")"
check "... naming the saved stream as the reason" 1 \
  "$(q "$WORK/full.db" "SELECT count(*) FROM recording WHERE key = 'incomplete_reason' AND text_value LIKE '%save-stream%'")"
finish
