#!/bin/bash
# Prepares the host for `make check-guest`: installs the packages the guest
# harness needs (qemu, busybox-static, cpio, the guest kernel's headers) and
# unpacks the guest kernel (Debian's linux-image-amd64, the version it depends
# on today) into the cache directory. Idempotent; what it downloads stays in
# the cache, which CI may keep between runs.
#
# usage: prepare.sh CACHE_DIR     prints the kernel release on its last line
# env:   SPANTAP_GUEST_KVER       a kernel release instead of linux-image-amd64's
set -euo pipefail
CACHE=${1:?usage: prepare.sh CACHE_DIR}
mkdir -p "$CACHE/deb" "$CACHE/kernel"
export DEBIAN_FRONTEND=noninteractive

kver_of_meta() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -1
}
KVER=${SPANTAP_GUEST_KVER:-$(kver_of_meta)}
if [ -z "$KVER" ]; then
  apt-get update -qq
  KVER=$(kver_of_meta)
fi
[ -n "$KVER" ] || { echo "prepare.sh: cannot find linux-image-amd64's kernel in apt" >&2; exit 1; }

PKGS="qemu-system-x86 busybox-static cpio linux-headers-$KVER systemtap systemtap-runtime"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "prepare.sh: installing:$missing" >&2
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing > "$CACHE/apt.log" 2>&1 || {
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing > "$CACHE/apt.log" 2>&1 ||
      { tail -20 "$CACHE/apt.log" >&2; exit 1; }
  }
fi

# The guest kernel: vmlinuz and its modules (9p and virtio are modules in
# Debian's configuration), from the package itself, never installed on the host.
K=$CACHE/kernel/$KVER
if [ ! -f "$K/boot/vmlinuz-$KVER" ]; then
  ls "$CACHE"/deb/linux-image-"$KVER"_*.deb > /dev/null 2>&1 ||
    (cd "$CACHE/deb" && apt-get download -q "linux-image-$KVER" > /dev/null)
  rm -rf "$K.tmp"
  mkdir -p "$K.tmp"
  dpkg-deb -x "$CACHE"/deb/linux-image-"$KVER"_*.deb "$K.tmp"
  rm -rf "$K"
  mv "$K.tmp" "$K"
fi
# only the newest kernel package is kept: older ones are removed
for d in "$CACHE"/deb/linux-image-*.deb; do
  case $d in *"linux-image-${KVER}_"*) ;; *) rm -f "$d" ;; esac
done
echo "$KVER"
