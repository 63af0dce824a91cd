/**
 * Builds the lab's wires: the fabric netns with one bridge per subnet, the router between subnets,
 * and one host netns per node plugged into its subnet's bridge.
 * The caller records every netns in the lab state before calling these (cleanup invariant).
 */
import { addNetns, ipBatch, sysctl } from './kernel.js';
import { run } from '../lib/exec.js';
import type { LabPlan, NodePlan } from './plan.js';

/**
 * bridge-nf-call-iptables=1 (the default here) sends bridged frames through the fabric's netfilter
 * hooks; the fabric is a dumb switch, so turn it off. Best-effort: a kernel without br_netfilter
 * has no such sysctl, which is the behaviour we want anyway.
 */
async function disableBridgeNetfilter(netns: string): Promise<void> {
  for (const key of [
    'net.bridge.bridge-nf-call-iptables',
    'net.bridge.bridge-nf-call-ip6tables',
    'net.bridge.bridge-nf-call-arptables',
  ]) {
    await run(['sysctl', '-q', '-w', `${key}=0`], { netns, check: false });
  }
}

export async function buildFabric(plan: LabPlan): Promise<void> {
  const fabric = plan.fabricNetns;
  await addNetns(fabric);
  const lines: string[] = [];
  for (const s of plan.subnets) {
    lines.push(`link add ${s.bridge} type bridge stp_state 0 forward_delay 0`, `link set ${s.bridge} up`);
  }
  if (!plan.routerNetns) {
    // One subnet: the gateway address lives on the bridge, so hosts still get a default route
    // (Calico's proxy-ARP for 169.254.1.1 needs the host to have some route to it).
    const s = plan.subnets[0]!;
    lines.push(`address add ${s.gateway4}/24 dev ${s.bridge}`);
    if (s.gateway6) lines.push(`address add ${s.gateway6}/64 dev ${s.bridge} nodad`);
  }
  await ipBatch(fabric, lines);
  await disableBridgeNetfilter(fabric);
  await sysctl(fabric, { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' });
}

export async function buildRouter(plan: LabPlan): Promise<void> {
  const router = plan.routerNetns;
  if (!router) return;
  await addNetns(router);
  await sysctl(router, {
    'net.ipv4.ip_forward': '1',
    'net.ipv6.conf.all.forwarding': '1',
    'net.ipv6.conf.all.accept_dad': '0',
    'net.ipv6.conf.default.accept_dad': '0',
  });
  const routerLines: string[] = [];
  const fabricLines: string[] = [];
  for (const s of plan.subnets) {
    // Both ends placed at creation: nothing ever appears in the root netns.
    await run([
      'ip',
      'link',
      'add',
      s.routerIf,
      'netns',
      router,
      'type',
      'veth',
      'peer',
      'name',
      s.routerPeerIf,
      'netns',
      plan.fabricNetns,
    ]);
    fabricLines.push(`link set ${s.routerPeerIf} master ${s.bridge}`, `link set ${s.routerPeerIf} up`);
    routerLines.push(`address add ${s.gateway4}/24 dev ${s.routerIf}`);
    if (s.gateway6) routerLines.push(`address add ${s.gateway6}/64 dev ${s.routerIf} nodad`);
    routerLines.push(`link set ${s.routerIf} up`);
  }
  await ipBatch(plan.fabricNetns, fabricLines);
  await ipBatch(router, routerLines);
}

export async function buildHost(plan: LabPlan, n: NodePlan): Promise<void> {
  const sub = plan.subnets[n.subnet]!;
  await addNetns(n.netns);
  await sysctl(n.netns, {
    'net.ipv4.ip_forward': '1',
    'net.ipv6.conf.all.forwarding': '1',
    'net.ipv6.conf.all.accept_dad': '0',
    'net.ipv6.conf.default.accept_dad': '0',
  });
  await run([
    'ip',
    'link',
    'add',
    n.ifname,
    'netns',
    n.netns,
    'type',
    'veth',
    'peer',
    'name',
    n.fabricIf,
    'netns',
    plan.fabricNetns,
  ]);
  await ipBatch(plan.fabricNetns, [`link set ${n.fabricIf} master ${sub.bridge}`, `link set ${n.fabricIf} up`]);
  const lines = [
    `address add ${n.cidr4} dev ${n.ifname}`,
    `link set ${n.ifname} up`,
    `route add default via ${n.gateway4} dev ${n.ifname}`,
  ];
  if (n.cidr6 && n.gateway6) {
    lines.splice(1, 0, `address add ${n.cidr6} dev ${n.ifname} nodad`);
    lines.push(`route add ::/0 via ${n.gateway6} dev ${n.ifname}`);
  }
  await ipBatch(n.netns, lines);
}

/** Runs `f` over items with at most `limit` in flight; rejects with the first error after all settle. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await f(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}
