#!/bin/bash
# stap's kbuild query objects, cached by the content of their sources (see
# bpf_tree.sh). The key is a hash of DIR's .c files and Makefile with DIR's
# own path taken out (stap's scratch directory differs every run); a hit
# copies the objects back, a miss runs the build (COMMAND...) and keeps them.
# usage: kbuild_query_cache.sh CACHE_DIR DIR COMMAND...
QC=$1 D=$2
shift 2
key=$(cd "$D" && for f in Makefile *.c; do [ -f "$f" ] && { echo "== $f"; sed "s|$D|@DIR@|g" "$f"; }; done |
  sha256sum | cut -c1-32)
if [ -f "$QC/$key.tar" ]; then
  tar -xf "$QC/$key.tar" -C "$D"
  exit 0
fi
"$@"
rc=$?
(cd "$D" && ls ./*.o ./*.ko 2> /dev/null | tar -cf "$QC/$key.tar.tmp" -T - && mv "$QC/$key.tar.tmp" "$QC/$key.tar")
exit $rc
