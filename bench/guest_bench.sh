#!/bin/bash
# The module runtime's cost beside the BPF runtime's and bpftrace's, measured
# in one boot of the test guest (Debian's kernel under qemu TCG, see
# tests/guest/): a getppid() loop untraced, under each runtime's floor (empty
# probes), while spantap records another program (what an untraced process
# pays), traced with every syscall an event (no stacks; 8 frames: DWARF
# unwinding in the module, a frame-pointer walk in BPF) by each runtime and
# by bpftrace (8-frame ustack), and redis under redis-benchmark untraced and
# traced by the default events with each runtime. The BPF objects are built
# here (spantap record --compile-only --runtime bpf) and run in the guest by
# spantap record --module X.bo (stapbpf; spantap's map reader). Prints
# medians of interleaved rounds as ratios to the untraced runs of the same
# boot: TCG inflates kernel work unevenly, so only the ratios mean something.
# Needs root. usage: bench/guest_bench.sh [ROUNDS]   (env SPANTAP_GUEST_CACHE)
set -uo pipefail
ROUNDS=${1:-3}
CACHE=${SPANTAP_GUEST_CACHE:-/var/cache/spantap-guest}
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
. "$top_srcdir/tests/guest/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "guest_bench: needs root"; exit 1; }
guest_prepare && guest_apps || exit 1
guest_module spt_all --binary chain_fp --binary chain_nofp --events all --stack-mode 2 &&
  guest_module spt_all0 --binary chain_fp --binary chain_nofp --events all --stack-mode 0 &&
  guest_module spt_fp2 --binary chain_fp --events all --stack-mode 2 --unwind fp &&
  guest_module spt_redis --binary redis-server || exit 1
guest_bpf bpf_all0 --binary chain_fp --binary chain_nofp --events all --stack-mode 0 &&
  guest_bpf bpf_all2 --binary chain_fp --binary chain_nofp --events all --stack-mode 2 &&
  guest_bpf bpf_redis --binary redis-server || exit 1
phase "BPF object bpf_floor (stap --runtime=bpf -p4)"
(cd "$W" && stap --runtime=bpf -u -p4 -r "$CACHE/bpftree" -m bpf_floor "$top_srcdir/bench/floor.stp" \
  > "$W/out/build_bpf_floor.txt" 2>&1) || { cat "$W/out/build_bpf_floor.txt"; exit 1; }
phase "module spt_floor (stap -p4 -r $KVER)"
(cd "$W" && "$SPANTAP" setup --runtime kernel --kernel-release "$KVER" |
  sed -n 's/^patched runtime: *//p' > "$W/out/runtime.txt")
rt=$(cat "$W/out/runtime.txt")
(cd "$W" && stap -u -p4 -r "$KVER" ${rt:+-R "$rt"} -DSTAPCONF_TASK_WORK_CANCEL_FUNC -DSTP_NO_OVERLOAD \
  -m spt_floor "$top_srcdir/bench/floor.stp" > "$W/out/build_floor.txt" 2>&1) ||
  { cat "$W/out/build_floor.txt"; exit 1; }
# the module floor with the BPF runtime's second sys_exit probe (its
# executable-mapping probe): what the module runtime saves by having none
sed '/^%( runtime == "bpf" %?$/d; /^%)$/d' "$top_srcdir/bench/floor.stp" > "$W/floor_2exit.stp"
(cd "$W" && stap -u -p4 -r "$KVER" ${rt:+-R "$rt"} -DSTAPCONF_TASK_WORK_CANCEL_FUNC -DSTP_NO_OVERLOAD \
  -m spt_floor2 floor_2exit.stp > "$W/out/build_floor2.txt" 2>&1) ||
  { cat "$W/out/build_floor2.txt"; exit 1; }
printf 'ROUNDS=%s\nLOOP_N=%s\nLOOP_NT=%s\nREDIS_N=%s\n' "$ROUNDS" "${LOOP_N:-1000000}" \
  "${LOOP_NT:-20000}" "${REDIS_N:-5000}" > "$W/bench.env"
# bpftrace pulls LLVM and clang (about 200 MB of libraries): in the bench's
# initramfs only, when installed
BT=$(command -v bpftrace || true)
guest_boot "$top_srcdir/bench/guest_bench_in.sh" /usr/bin/redis-server /usr/bin/redis-benchmark \
  /usr/bin/redis-cli /usr/bin/stapbpf $BT || exit 1
phase "results"
O=$W/out
for f in "$O"/[mbf][02]_*.db; do # events stored per traced loop
  echo "$(basename "$f" .db) $(sqlite3 "$f" "SELECT count(*) FROM syscalls WHERE name = 'getppid'") \
$(sqlite3 "$f" "SELECT coalesce(sum(num_value), 0) FROM recording WHERE key = 'events_lost'")"
done > "$O/events.txt"
cat "$O"/bt_events.txt >> "$O/events.txt" 2> /dev/null
python3 - "$O/bench.txt" "$O/events.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ev = {l.split()[0]: l.split()[1:] for l in open(sys.argv[2]) if l.strip()}
def kv(r): return dict(x.split("=", 1) for x in r[1:] if "=" in x)
loop, redis = {}, {}
for r in rows:
    d = kv(r)
    if r[0] == "loop" and d.get("cs"):
        loop.setdefault(d["mode"], []).append(int(d["cs"]) * 1e4 / int(d["n"]))  # us per call
        if "db" in d and d["db"] in ev:
            print(f"  {d['mode']:15s} round {d['round']}: {ev[d['db']][0]}/{d['n']} events stored, {ev[d['db']][1]} lost")
    if r[0] == "redis" and "SET" in d:
        redis.setdefault(d["mode"], []).append((float(d["SET"]), float(d["GET"])))
med = statistics.median
print("\ngetppid() loop in the guest, median of rounds (us per call; TCG)")
base = med(loop.get("untraced", [float("nan")]))
for k, v in loop.items():
    m = med(v)
    print(f"  {k:15s} {m:8.2f} us/call  x{m / base:6.2f} untraced  +{m - base:7.2f} us"
          f"   rounds: {', '.join(f'{x:.2f}' for x in v)}")
if redis:
    print("\nredis-benchmark -c 10 in the guest, median of rounds (requests/s)")
    for k, v in redis.items():
        print(f"  {k:9s} SET {med([a for a, b in v]):8.0f}  GET {med([b for a, b in v]):8.0f}   rounds: {v}")
    for k in redis:
        if k == "untraced" or "untraced" not in redis:
            continue
        print(f"  {k}/untraced throughput: " + ", ".join(
            f"{t} {med([x[i] for x in redis[k]]) / med([x[i] for x in redis['untraced']]):.2f}"
            for i, t in ((0, "SET"), (1, "GET"))))
# the module runtime's targets, as ratios of this boot
def verdict(ok): return "met" if ok else "NOT met"
print("\ntargets (this boot)")
if "other_traced" in loop:
    r = med(loop["other_traced"]) / base
    print(f"  an untraced process pays <= 1.1x while the module records another: x{r:.2f}, {verdict(r <= 1.1)}")
for mod, bpf, what in (("traced_nostack", "bpf_nostack", "no stacks"), ("traced_stack8", "bpf_stack8", "8 frames")):
    if mod in loop and bpf in loop:
        a, b = med(loop[mod]) - base, med(loop[bpf]) - base
        print(f"  a traced event ({what}) costs the module no more than BPF: +{a:.1f} against +{b:.1f} us, {verdict(a <= b)}")
if "traced" in redis and "untraced" in redis:
    r = min(med([x[i] for x in redis["traced"]]) / med([x[i] for x in redis["untraced"]]) for i in (0, 1))
    print(f"  redis keeps >= 0.85 of its throughput with the module: {r:.2f}, {verdict(r >= 0.85)}")
PY
phase "done"
