#!/bin/bash
# Builds the test guest's initramfs: busybox, staprun and stapio, spantap and
# every shared library they load, each at its host path in the host's
# merged-/usr layout, and the kernel modules of the 9p share.
# usage: build_initrd.sh KERNEL_DIR KVER SHARE_PATH SPANTAP OUT.gz [FILE...]
#   FILE...: more programs for the guest (with their libraries)
set -euo pipefail
KDIR=$1 KVER=$2 SHARE=$3 SPANTAP=$4 OUT=$5
shift 5
HERE=$(cd "$(dirname "$0")" && pwd)
R=$(mktemp -d /tmp/spantap-initrd.XXXXXX)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{dev,proc,sys,tmp,var/tmp,root,etc,usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin}
for d in bin sbin lib lib64; do
  if [ -L /$d ]; then ln -s "$(readlink /$d)" "$R/$d"; else mkdir -p "$R/$d"; fi
done
mkdir -p "$R/lib/modules-9p"
cp /bin/busybox "$R/usr/bin/busybox"
[ -e "$R/bin/busybox" ] || ln -s /usr/bin/busybox "$R/bin/busybox"

put() { # put FILE: the file at its real path, a symlink at FILE when it differs
  local f=$1 rp
  rp=$(realpath "$f")
  [ -e "$R$rp" ] || { mkdir -p "$R$(dirname "$rp")"; cp "$rp" "$R$rp"; }
  [ -e "$R$f" ] || [ -L "$R$f" ] || { mkdir -p "$(dirname "$R$f")"; ln -s "$rp" "$R$f"; }
}
add() { # add FILE...: each file and the libraries ldd names for it
  local f l
  for f in "$@"; do
    put "$f"
    for l in $(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^[ \t]*\//{print $1}'); do put "$l"; done
  done
}
add /usr/bin/staprun /usr/lib/systemtap/stapio "$SPANTAP" "$@"
cp "$SPANTAP" "$R/usr/local/bin/spantap"

M=$KDIR/lib/modules/$KVER/kernel
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
  drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/9p/9pnet net/9p/9pnet_virtio
  fs/netfs/netfs fs/fscache/fscache fs/9p/9p"
: > "$R/etc/modules-9p"
for m in $mods; do
  f=$(ls "$M/$m.ko"* 2>/dev/null | head -1) || true
  [ -n "$f" ] || continue # built in, or absent in this kernel's configuration
  case $f in
    *.xz) xz -dc "$f" > "$R/lib/modules-9p/$(basename "$m").ko" ;;
    *.zst) zstd -qdc "$f" > "$R/lib/modules-9p/$(basename "$m").ko" ;;
    *) cp "$f" "$R/lib/modules-9p/" ;;
  esac
  basename "$m" >> "$R/etc/modules-9p"
done
echo "$SHARE" > "$R/etc/share-path"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
echo '127.0.0.1 localhost' > "$R/etc/hosts"
cp "$HERE/init.sh" "$R/init"
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet) | gzip -1 > "$OUT"
