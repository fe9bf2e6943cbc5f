#!/bin/bash
# Live test: the generated scripts of both runtimes, every stack mode, pass
# SystemTap's elaboration (stap -p2) on this machine, against the kernel build
# tree that 'spantap setup' provides. The module runtime cannot load here; its
# script is checked up to elaboration, which resolves every probe and @cast.
. "$(dirname "$0")/lib.sh"
require_live
tree=$("$SPANTAP" setup --check | sed -n 's/^synthesized tree: *yes (\(.*\))$/\1/p')
[ -n "$tree" ] || tree="/lib/modules/$(uname -r)/build"
shim=$("$SPANTAP" setup --check | sed -n 's/^memlock shim: *//p')
for rt in bpf kernel; do
  for mode in 1 2 3 4; do
    "$SPANTAP" script --runtime "$rt" --stack-mode "$mode" --binary chain_app \
      --events all,sched,faults > "$WORK/s.stp"
    if [ "$rt" = bpf ]; then
      out=$(LD_PRELOAD="$shim" stap --runtime=bpf --compatible=4.2 -r "$tree" -p2 "$WORK/s.stp" 2>&1 >/dev/null)
    else
      # the module runtime's casts read the kernel's headers, and its tables
      # are embedded C (-g): a real build tree is needed (make check-guest
      # installs one for its guest's kernel, and builds the module for real)
      krel=$(ls -d /lib/modules/*/build/ 2>/dev/null | while read -r d; do
        [ -e "$d/include/generated/autoconf.h" ] && basename "$(dirname "$d")" && break; done)
      if [ -z "$krel" ]; then
        echo "SKIP: the $rt script, stack mode $mode: no kernel build tree with headers here"
        continue
      fi
      out=$(stap -g -r "$krel" -p2 "$WORK/s.stp" 2>&1 >/dev/null)
    fi
    rc=$?
    check "stap -p2 elaborates the $rt script, stack mode $mode" 0 "$rc"
    [ "$rc" -eq 0 ] || echo "$out" | head -20
  done
done

# The BPF runtime compiles (stap -p4: register allocation within the 512-byte
# BPF stack) with targets of every kind, in the stack modes with the smallest
# and the largest probes: the target test is inlined into the exec and
# sys_enter probes, where it once ran out of stack with a name and a path.
targets=(--binary svc1 --binary svc2 --binary a-service-name-longer-than-fifteen-bytes
  --binary /usr/bin/env --binary /usr/bin/true)
for mode in 1 4; do
  "$SPANTAP" script --runtime bpf --stack-mode "$mode" "${targets[@]}" --pid 1 \
    --events all,sched,faults > "$WORK/many.stp"
  check "spantap script with 5 targets (short names, a long name, paths)" 0 $?
  # (in $WORK: stap writes the compiled spantap_many.bo into its directory)
  out=$(cd "$WORK" && LD_PRELOAD="$shim" stap --runtime=bpf --compatible=4.2 -r "$tree" -p4 \
    -m spantap_many "$WORK/many.stp" 2>&1 >/dev/null)
  rc=$?
  check "stap -p4 compiles the BPF script with 5 targets, stack mode $mode" 0 "$rc"
  [ "$rc" -eq 0 ] || echo "$out" | grep -i "error" | head -5
done
finish
