#!/usr/bin/env bash
# Installs what Tessera needs on a fresh Debian 12 machine, only when missing:
# Debian packages via apt-get, npm packages via `npm ci` (only when package-lock.json changed).
set -euo pipefail
cd "$(dirname "$0")/.."

# command-or-file -> Debian package
declare -A NEED=(
  [etcd]=etcd-server
  [etcdctl]=etcd-client
  [bird]=bird2
  [nft]=nftables
  [ip]=iproute2
  [iperf3]=iperf3
  [socat]=socat
  [conntrack]=conntrack
  [ping]=iputils-ping
  [/usr/lib/cni/ptp]=containernetworking-plugins
  [/bin/busybox]=busybox-static
  [cc]=gcc
  [/usr/include/nftables/libnftables.h]=libnftables-dev
  [podman]=podman
  [runc]=runc
  [python3]=python3
  [nsenter]=util-linux
  [taskset]=util-linux
  [openssl]=openssl
  [curl]=curl
  [qemu-system-x86_64]=qemu-system-x86
  [cpio]=cpio
  [depmod]=kmod
  [unshare]=util-linux
)
missing=()
for probe in "${!NEED[@]}"; do
  if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] || missing+=("${NEED[$probe]}")
  else command -v "$probe" >/dev/null 2>&1 || missing+=("${NEED[$probe]}"); fi
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts etcd and bird as services on install; Tessera runs its own instances.
for svc in etcd bird; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done

# kubectl 1.20 from Debian's kubernetes-client, unpacked into a cache (scripts/kubectl.sh says why).
# Only the kubectl tests and the demo need it: a failed fetch is reported, not fatal to the build.
if [[ $(id -u) -eq 0 ]]; then scripts/kubectl.sh >/dev/null || echo "deps: could not install kubectl 1.20 (scripts/kubectl.sh)" >&2; fi

stamp=node_modules/.tessera-lock-stamp
if [[ ! -f "$stamp" ]] || ! cmp -s package-lock.json "$stamp"; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
