# The host side of the test guest (sourced by tests/guest/check_guest.sh and
# bench/guest_bench.sh): prepare the host, build the test programs and the
# modules for the guest's kernel, build the initramfs, boot the guest once.
# Needs: CACHE, top_builddir, top_srcdir. Sets: KVER, KDIR, W (the share,
# at a fixed path: a rerun gives stap the same script and -d files, and its
# cache, kept in CACHE, serves the module), SPANTAP.
GUEST_DIR=$top_srcdir/tests/guest
SPANTAP=$top_builddir/spantap
T0=$SECONDS
phase() { printf '== %-34s %4d s\n' "$1" $((SECONDS - T0)); }

# guest_prepare: packages, the guest kernel, spantap setup --runtime kernel
guest_prepare() {
  phase "prepare (packages, kernel)"
  KVER=$("$GUEST_DIR/prepare.sh" "$CACHE" | tail -1) || { echo "prepare.sh failed"; return 1; }
  KDIR=$CACHE/kernel/$KVER
  W=$CACHE/run
  export SYSTEMTAP_DIR=$CACHE/stap SPANTAP_STATE_DIR=$CACHE/state
  rm -rf "$W/out"
  mkdir -p "$W/apps" "$W/out" "$SYSTEMTAP_DIR"
  phase "spantap setup --runtime kernel"
  "$SPANTAP" setup --runtime kernel --kernel-release "$KVER" > "$W/out/setup.txt" 2>&1 ||
    { cat "$W/out/setup.txt"; echo "spantap setup --runtime kernel failed"; return 1; }
}

# guest_apps: chain_fp (frame pointers, nothing inlined) and chain_nofp (-O2
# without frame pointers), rebuilt only when the source changed
guest_apps() {
  phase "test programs"
  local c=$top_srcdir/tests/apps/chain_app.c
  [ "$W/apps/chain_fp" -nt "$c" ] || gcc -g -O1 -fno-omit-frame-pointer -fno-inline \
    -fno-optimize-sibling-calls -pthread -o "$W/apps/chain_fp" "$c" || return 1
  [ "$W/apps/chain_nofp" -nt "$c" ] || gcc -g -O2 -fomit-frame-pointer -pthread \
    -o "$W/apps/chain_nofp" "$c" || return 1
}

# guest_module NAME RECORD-OPTIONS...: W/NAME.ko, built here for the guest's kernel
guest_module() {
  local name=$1
  shift
  phase "module $name (stap -p4 -r $KVER)"
  PATH=$W/apps:$PATH "$SPANTAP" record --kernel-release "$KVER" --compile-only -f "$@" \
    -o "$W/$name.ko" > "$W/out/build_$name.txt" 2>&1 ||
    { cat "$W/out/build_$name.txt"; echo "module $name did not build"; return 1; }
}

# guest_bpf NAME RECORD-OPTIONS...: W/NAME.bo, the BPF runtime's object built
# here for the guest's kernel (against the tree of tests/guest/bpf_tree.sh)
guest_bpf() {
  local name=$1
  shift
  phase "BPF object $name (stap --runtime=bpf -p4)"
  "$GUEST_DIR/bpf_tree.sh" "$KVER" "$CACHE/bpftree" "$CACHE/bpfquery" || return 1
  PATH=$W/apps:$PATH "$SPANTAP" record --runtime bpf --kernel-release "$CACHE/bpftree" \
    --compile-only -f "$@" -o "$W/$name.bo" > "$W/out/build_$name.txt" 2>&1 ||
    { cat "$W/out/build_$name.txt"; echo "BPF object $name did not build"; return 1; }
}

# guest_boot SCRIPT [FILE...]: the initramfs with FILE... added (at their
# paths, with their libraries), then one boot that runs SCRIPT (copied into
# the share, with tests/guest/guest_lib.sh beside it) and powers off; the
# console goes to W/out/console.log
guest_boot() {
  local script=$1
  shift
  phase "initramfs"
  cp "$script" "$W/guest_tests.sh"
  cp "$GUEST_DIR/guest_lib.sh" "$W/guest_lib.sh"
  "$GUEST_DIR/build_initrd.sh" "$KDIR" "$KVER" "$W" "$SPANTAP" "$CACHE/initrd.gz" "$@" ||
    { echo "build_initrd.sh failed"; return 1; }
  phase "guest (qemu, TCG)"
  # thread=single: with one host thread per vCPU (thread=multi), a vCPU now
  # and then spun for ever at a jump the kernel was patching (tracepoint
  # static keys, at module load or unload): 2 soft lockups in 9 runs; none
  # since, and no slower on this 2-core host. softlockup_panic ends such a
  # run at once instead of at the timeout.
  timeout -k 10 "${SPANTAP_GUEST_TIMEOUT:-900}" qemu-system-x86_64 \
    -accel tcg,thread=single -cpu max -m 1536 -smp 2 \
    -nographic -no-reboot -monitor none -serial stdio \
    -kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$CACHE/initrd.gz" \
    -append "console=ttyS0 loglevel=5 panic=-1 oops=panic softlockup_panic=1" \
    -virtfs "local,path=$W,mount_tag=host,security_model=none" \
    -nic none < /dev/null > "$W/out/console.log" 2>&1
  echo "qemu exit status $?"
  grep -a 'GUEST:' "$W/out/console.log" | tr -d '\r'
}
