#!/bin/bash
# Builds the kernel build tree that `stap --runtime=bpf -p4 -r TREE` needs to
# compile for the guest's kernel on this host (bench/guest_bench.sh): the
# Debian headers package's tree (its entries linked), plus
#  - System.map: stap's BPF mode refuses a kernel whose System.map lacks
#    bpf_raw_tp_link_release ("new BPF TRACEPOINT behavior not supported");
#    Debian's package ships a one-line placeholder, so this names that symbol
#    alone (every kernel since 4.17 has it; no address is read);
#  - vmlinux: a DWARF-only object of the kernel types spantap's script casts
#    to (and task_current()), compiled from the headers by kbuild (Debian's
#    kernel DWARF is a ~1 GB -dbg package); its DW_AT_comp_dir names the
#    headers' source tree, where stap finds the tracepoint headers;
#  - a Makefile that serves stap's kbuild queries (`make -C TREE M=DIR
#    modules`: tracepoint and @cast type queries) from a cache: stap turns its
#    own cache off in BPF mode, and the cold query build takes minutes (about
#    8 on a loaded 2-core host) on every compile. Every other make goes to
#    the package's Makefile.
# usage: bpf_tree.sh KVER TREE_DIR CACHE_DIR      (idempotent)
set -euo pipefail
KVER=$1 T=$2 QC=$3
B=$(readlink -f "/lib/modules/$KVER/build")
S=$(readlink -f "/lib/modules/$KVER/source")
[ -f "$B/Makefile" ] || { echo "bpf_tree.sh: no headers at /lib/modules/$KVER/build" >&2; exit 1; }
mkdir -p "$T" "$QC"
for f in "$B"/* "$B"/.config; do
  n=$(basename "$f")
  [ "$n" = Makefile ] || ln -sfn "$f" "$T/$n"
done
ln -sfn "$S" "$T/source"
echo "0000000000000000 t bpf_raw_tp_link_release" > "$T/System.map"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -s "$T/vmlinux" ]; then
  V=$(mktemp -d /tmp/spantap-types.XXXXXX)
  cat > "$V/spantap_types.c" <<'C'
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/mm_types.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <net/sock.h>
#include <linux/binfmts.h>
#include <asm/ptrace.h>
struct stap_u64x2 { unsigned long lo, hi; }; /* two words (the frame-pointer walk) */
struct stap_ulong_array { unsigned long v[64]; };
struct stap_u64x2 spantap_keep_u64x2;
struct stap_ulong_array spantap_keep_ulong_array;
struct task_struct spantap_keep_task;
struct mm_struct spantap_keep_mm;
struct files_struct spantap_keep_files;
struct fdtable spantap_keep_fdt;
struct file spantap_keep_file;
struct socket spantap_keep_socket;
struct sock spantap_keep_sock;
struct pt_regs spantap_keep_regs;
struct linux_binprm spantap_keep_bprm;
MODULE_LICENSE("GPL");
C
  echo 'obj-m := spantap_types.o' > "$V/Kbuild"
  make -C "$B" M="$V" modules CONFIG_DEBUG_INFO_BTF_MODULES= \
    EXTRA_CFLAGS="-g -fno-eliminate-unused-debug-types -fdebug-prefix-map=$B=$S" > "$V/log" 2>&1 &&
    ld -static -e 0 --unresolved-symbols=ignore-all -o "$T/vmlinux.tmp" "$V/spantap_types.o" &&
    mv "$T/vmlinux.tmp" "$T/vmlinux" || { cat "$V/log" >&2; rm -rf "$V"; exit 1; }
  rm -rf "$V"
fi
cp "$HERE/kbuild_query_cache.sh" "$T/.query_cache.sh"
cat > "$T/Makefile" <<MK
# stap's queries (M= set): served by .query_cache.sh; everything else: the headers' Makefile
ifneq (\$(M),)
modules:
	@\$(SHELL) $T/.query_cache.sh '$QC' '\$(M)' \$(MAKE) -f $B/Makefile -C $B M='\$(M)' modules
else
include $B/Makefile
endif
MK
