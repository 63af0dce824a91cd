#!/usr/bin/env bash
# Prepares the VM kernel for `tessera lab up --kernel vm`: Debian's stock amd64 kernel (fetched with
# `apt-get download`, unpacked with `dpkg -x`, never installed) and a small busybox initramfs that
# loads the virtio + 9p modules, mounts the host's / over 9p and hands over to scripts/vm/stage2.sh.
# Everything goes to $TESSERA_VM_CACHE (default /var/cache/tessera/vm), outside the repository;
# a second run with the same kernel version does nothing. Prints the kernel directory.
set -euo pipefail
cache=${TESSERA_VM_CACHE:-/var/cache/tessera/vm}
mkdir -p "$cache/dl"
# The kernel package linux-image-amd64 currently depends on (linux-image-6.1.0-NN-amd64).
pkg=${TESSERA_VM_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
if [[ -z "$pkg" ]]; then
  apt-get update -q >/dev/null 2>&1 || true
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[[ -n "$pkg" ]] || { echo "vm: cannot find Debian's linux-image-*-amd64 package (apt-cache depends linux-image-amd64)" >&2; exit 1; }
kver=${pkg#linux-image-}
dir="$cache/$kver"
if [[ -f "$dir/ready" ]]; then echo "$dir"; exit 0; fi
rm -rf "$dir" && mkdir -p "$dir"
deb=$(ls "$cache/dl/${pkg}_"*.deb 2>/dev/null | head -1 || true)
if [[ -z "$deb" ]]; then
  (cd "$cache/dl" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "vm: apt-get download $pkg failed" >&2; exit 1; }
  deb=$(ls "$cache/dl/${pkg}_"*.deb | head -1)
fi
dpkg -x "$deb" "$dir/root"
depmod -b "$dir/root" "$kver"
cp "$dir/root/boot/vmlinuz-$kver" "$dir/vmlinuz"

# initramfs: busybox-static, the 9p stack's modules (decompressed: busybox insmod reads plain .ko)
ird="$dir/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,mods}
cp /bin/busybox "$ird/bin/busybox"
mods=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p)
for m in "${mods[@]}"; do
  f=$(find "$dir/root/lib/modules/$kver" -name "$m.ko*" | head -1)
  [[ -n "$f" ]] || { echo "vm: module $m not found in $pkg" >&2; exit 1; }
  case "$f" in
    *.xz) xz -dc "$f" > "$ird/mods/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$ird/mods/$m.ko" ;;
    *) cp "$f" "$ird/mods/$m.ko" ;;
  esac
done
cat > "$ird/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${mods[*]}; do insmod /mods/\$m.ko || echo "initramfs: insmod \$m failed"; done
stage2=\$(sed -n 's/.*tessera\.stage2=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /newroot || { echo "initramfs: cannot mount the host root"; echo o > /proc/sysrq-trigger; }
# The kernel's modules, for modprobe and the kernel's own module requests (ipip, sctp, nf_tables...).
mount --bind /newroot$dir/root/lib/modules /newroot/lib/modules
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot "\$stage2"
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.gz"
rm -rf "$ird"
# The mount point of the bind mount above (the host kernel has no modules: the directory is empty).
mkdir -p /lib/modules
echo "$kver" > "$dir/version"
touch "$dir/ready"
echo "$dir"
