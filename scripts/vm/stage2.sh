#!/bin/sh
# PID 1 of the lab VM (after the initramfs switched to the host's / over 9p). Mounts the VM's own
# /run, /tmp and /dev/shm (so nothing the lab makes lands on the host's disk, and `ip netns` keeps
# its mounts inside the VM), brings up the QEMU user-mode network (10.0.2.15, the host's forwarded
# ports reach it) and runs the VM's command server (src/lab/vm/server.ts). Powers off when the
# server exits.
export TESSERA_LAB_TIMEOUT_SCALE=12 TESSERA_ETCD_CALL_TIMEOUT_MS=60000
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
arg() { sed -n "s/.*tessera\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# The control channel's token, in the host's lab dir (mode 0600), read before /run is the VM's own.
TESSERA_VM_TOKEN=$(cat "$(arg token_file)" 2>/dev/null)
export TESSERA_VM_TOKEN
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname tessera-vm
repo=$(arg repo)
ip link set lo up
modprobe virtio_net
# Renamed: the lab creates devices called eth0 (in its namespaces), and this kernel checks a new
# veth's name in the namespace that creates it too.
ip link set eth0 name vmnet0
ip link set vmnet0 up
ip addr add 10.0.2.15/24 dev vmnet0
ip route add default via 10.0.2.2
# The dataplane's modules, loaded up front (the kernel would also request them on first use).
for m in ipip sctp veth bridge vxlan nf_tables nft_chain_nat nf_conntrack; do modprobe -q $m; done
cd "$repo" || { echo "vm: no repository at \"$repo\""; echo o > /proc/sysrq-trigger; }
exec_script=$(arg exec)
if [ -n "$exec_script" ]; then
  # `vmExec` (src/lab/vm/exec.ts): run one script from the host's disk, record its exit code in the
  # host file tessera.result, and power off.
  sh "$exec_script"
  rc=$?
  sync
  result=$(arg result)
  [ -n "$result" ] && echo "$rc" > "$result"
else
  TESSERA_CONFIG=/run/tessera-vm/config.json node dist/src/lab/vm/server.js
fi
echo "vm: stage2 done (exit $?)"
sync
echo o > /proc/sysrq-trigger
# The power-off runs asynchronously: PID 1 must not exit first (the kernel would panic).
sleep 60
