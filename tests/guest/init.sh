#!/bin/busybox sh
# /init of the test guest: mounts what staprun and spantap need, the host's
# share (9p tag "host") at the path it has on the host (stap's unwind tables
# are matched to a process's files by path), runs the tests, powers off.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug # the relay transport
mount -t tmpfs tmp /tmp
ip link set lo up
for m in $(cat /etc/modules-9p); do
  insmod "/lib/modules-9p/$m.ko" || echo "GUEST: insmod $m failed"
done
SHARE=$(cat /etc/share-path)
mkdir -p "$SHARE"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host "$SHARE" || echo "GUEST: no 9p share"
echo "GUEST: up $(uname -r) cpus=$(nproc) uptime=$(cut -d' ' -f1 /proc/uptime)"
sh "$SHARE/guest_tests.sh" "$SHARE" > "$SHARE/out/guest.log" 2>&1
echo "GUEST: tests rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
