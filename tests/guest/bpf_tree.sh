#!/bin/bash
# Builds the kernel build tree that `stap --runtime=bpf -p4 -r TREE` needs to
# compile for the guest's kernel on this host (bench/guest_bench.sh): the
# Debian headers package's tree (its entries linked), plus
#  - System.map: stap's BPF mode refuses a kernel whose System.map lacks
#    bpf_raw_tp_link_release ("new BPF TRACEPOINT behavior not supported");
#    Debian's package ships a one-line placeholder, so this names that symbol
#    alone (every kernel since 4.17 has it; no address is read);
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
