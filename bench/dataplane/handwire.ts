/**
 * The hand-wired baseline: the same hops as a lab's cross-node pod-to-pod path, built with plain
 * `ip` commands in the bench's own namespaces — no Tessera, no CNI, no nftables.
 *
 *   <p>-p1 ──veth── <p>-h1 ──veth── <p>-fab (bridge br0) ──veth── <p>-h2 ──veth── <p>-p2
 *
 * Mirrors the lab (src/lab/fabric.ts) and Calico's pod wiring: bridge-nf off in the fabric,
 * forwarding on in hosts, pod /32 + default via 169.254.1.1 (permanent neighbour), host veth with
 * MAC ee:ee:ee:ee:ee:ee, proxy-ARP and a /32 route. Native: `<remote block> via <remote host>`;
 * VXLAN: a VTEP per host (port 4789, nolearning, static fdb + neighbour), `<block> via <tunnel ip>
 * onlink`, pod MTU 1450 — the shape the agent programs. IPIP (kernels with the ipip device: the
 * VM's, bench/dataplane/ipip.ts): an ipip device per host with `local <host>` and a tunnel address,
 * `<block> via <remote host> dev <tunnel> onlink`, pod MTU 1480 — as the agent programs it.
 */
import { run } from '../../src/lib/exec.js';

export type HandWireMode = 'native' | 'vxlan' | 'ipip';

export interface HandWired {
  /** Namespaces: the two pods and the two hosts. */
  pod1: string;
  pod2: string;
  host1: string;
  host2: string;
  pod2Ip: string;
  host2Ip: string;
  namespaces: string[];
}

const SUBNET = '10.250.0';
const HOSTS = [
  { ip: `${SUBNET}.10`, pod: '10.251.1.1', block: '10.251.1.0/26', tunnel: '10.251.1.0', mac: '66:00:00:00:00:01' },
  { ip: `${SUBNET}.11`, pod: '10.251.2.1', block: '10.251.2.0/26', tunnel: '10.251.2.0', mac: '66:00:00:00:00:02' },
];

async function batch(netns: string, lines: string[]): Promise<void> {
  await run(['ip', '-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

async function sysctls(netns: string, kv: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(kv)) await run(['sysctl', '-q', '-w', `${k}=${v}`], { netns, check: false });
}

/** Builds the baseline; the caller must `teardownHandWired(prefix)` even when this throws. */
export async function buildHandWired(prefix: string, mode: HandWireMode, hostMtu = 1500): Promise<HandWired> {
  const fab = `${prefix}-fab`;
  const hosts = [`${prefix}-h1`, `${prefix}-h2`];
  const pods = [`${prefix}-p1`, `${prefix}-p2`];
  for (const ns of [fab, ...hosts, ...pods]) await run(['ip', 'netns', 'add', ns]);
  await batch(fab, [
    'link add br0 type bridge stp_state 0 forward_delay 0',
    'link set br0 up',
    `address add ${SUBNET}.1/24 dev br0`,
  ]);
  await sysctls(fab, {
    'net.bridge.bridge-nf-call-iptables': '0',
    'net.bridge.bridge-nf-call-ip6tables': '0',
    'net.bridge.bridge-nf-call-arptables': '0',
  });
  const podMtu = mode === 'vxlan' ? hostMtu - 50 : mode === 'ipip' ? hostMtu - 20 : hostMtu;
  for (let i = 0; i < 2; i++) {
    const h = HOSTS[i]!;
    const peer = HOSTS[1 - i]!;
    const host = hosts[i]!;
    const pod = pods[i]!;
    await sysctls(host, { 'net.ipv4.ip_forward': '1' });
    await run(['ip', 'link', 'add', 'eth0', 'netns', host, 'type', 'veth', 'peer', 'name', `h${i + 1}`, 'netns', fab]);
    await batch(fab, [`link set h${i + 1} master br0`, `link set h${i + 1} up`]);
    await batch(host, [
      `address add ${h.ip}/24 dev eth0`,
      `link set eth0 mtu ${hostMtu}`,
      'link set eth0 up',
      `route add default via ${SUBNET}.1 dev eth0`,
    ]);
    await run(['ip', 'link', 'add', 'eth0', 'netns', pod, 'type', 'veth', 'peer', 'name', 'cali0', 'netns', host]);
    await batch(pod, [
      `link set eth0 mtu ${podMtu}`,
      `address add ${h.pod}/32 dev eth0`,
      'link set eth0 up',
      'link set lo up',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
      'neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent',
    ]);
    await batch(host, [
      'link set cali0 address ee:ee:ee:ee:ee:ee',
      `link set cali0 mtu ${podMtu}`,
      'link set cali0 up',
      `route add ${h.pod}/32 dev cali0`,
    ]);
    await sysctls(host, { 'net.ipv4.conf.cali0.proxy_arp': '1', 'net.ipv4.neigh.cali0.proxy_delay': '0' });
    if (mode === 'native') {
      await batch(host, [`route add ${peer.block} via ${peer.ip} dev eth0`]);
    } else if (mode === 'ipip') {
      await batch(host, [
        `link add ipip0 type ipip local ${h.ip}`,
        `link set ipip0 mtu ${hostMtu - 20}`,
        'link set ipip0 up',
        `address add ${h.tunnel}/32 dev ipip0`,
        `route add ${peer.block} via ${peer.ip} dev ipip0 onlink`,
      ]);
    } else {
      await batch(host, [
        `link add vx0 type vxlan id 4096 local ${h.ip} dstport 4789 nolearning`,
        `link set vx0 address ${h.mac}`,
        `link set vx0 mtu ${hostMtu - 50}`,
        'link set vx0 up',
        `address add ${h.tunnel}/32 dev vx0`,
        `neigh replace ${peer.tunnel} lladdr ${peer.mac} dev vx0 nud permanent`,
        `route add ${peer.block} via ${peer.tunnel} dev vx0 onlink`,
      ]);
      await run(['bridge', '-n', host, 'fdb', 'append', peer.mac, 'dev', 'vx0', 'dst', peer.ip]);
    }
  }
  return {
    pod1: pods[0]!,
    pod2: pods[1]!,
    host1: hosts[0]!,
    host2: hosts[1]!,
    pod2Ip: HOSTS[1]!.pod,
    host2Ip: HOSTS[1]!.ip,
    namespaces: [fab, ...hosts, ...pods],
  };
}

/** Kills what runs in the baseline's namespaces and deletes them; idempotent. */
export async function teardownHandWired(prefix: string): Promise<void> {
  const list = await run(['ip', 'netns', 'list'], { check: false });
  const mine = list.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => /^(fab|h1|h2|p1|p2)$/.test(n.slice(prefix.length + 1)) && n.startsWith(`${prefix}-`));
  for (const ns of mine) {
    const pids = await run(['ip', 'netns', 'pids', ns], { check: false });
    for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await run(['ip', 'netns', 'del', ns], { check: false });
  }
}
