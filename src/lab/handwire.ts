/**
 * Pods wired by hand, Calico-style, without the CNI plugin or the agent: pod `/32` on eth0, default
 * route via 169.254.1.1 (pinned by a permanent neighbour entry), host veth with proxy-ARP and a
 * `/32 dev` route, and `/32 via <node ip>` routes on the other nodes. For testing the lab fabric,
 * probes and matrix on their own, and as a CNI-free baseline.
 */
import { run } from '../lib/exec.js';
import { TesseraError } from '../lib/errors.js';
import { addNetns, ipBatch, sysctl } from './kernel.js';
import { podNetnsName, DEFAULT_POD_PORTS, shortHash, type PodPort } from './plan.js';
import type { LabState, PodState } from './state.js';
import { podExists, writePod } from './store.js';
import { startPodServers, parseRef } from './pods.js';

export async function handWirePod(
  s: LabState,
  ref: string,
  node: string,
  ip4: string,
  opts: { ports?: PodPort[]; labels?: Record<string, string> } = {},
): Promise<PodState> {
  const { namespace, name } = parseRef(ref);
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new TesseraError('not-found', `lab "${s.name}" has no node "${node}"`);
  if (podExists(s.dir, namespace, name)) throw new TesseraError('already-exists', `pod "${ref}" already exists`);
  const pod: PodState = {
    namespace,
    name,
    node,
    netns: podNetnsName(s.name, namespace, name),
    containerId: `handwired-${shortHash(ref)}`,
    ips: [ip4],
    labels: opts.labels ?? { app: name },
    serviceAccount: 'default',
    ports: opts.ports ?? [...DEFAULT_POD_PORTS],
    servers: [],
    phase: 'creating',
  };
  writePod(s.dir, pod);
  const hostIf = `tsrh${shortHash(ref).slice(0, 8)}`;
  await addNetns(pod.netns);
  await run([
    'ip',
    'link',
    'add',
    'eth0',
    'netns',
    pod.netns,
    'type',
    'veth',
    'peer',
    'name',
    hostIf,
    'netns',
    n.netns,
  ]);
  await ipBatch(pod.netns, [
    `address add ${ip4}/32 dev eth0`,
    'link set eth0 up',
    'route add 169.254.1.1 dev eth0 scope link',
    'route add default via 169.254.1.1 dev eth0',
    'neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent',
  ]);
  await ipBatch(n.netns, [
    `link set ${hostIf} address ee:ee:ee:ee:ee:ee`,
    `link set ${hostIf} up`,
    `route add ${ip4}/32 dev ${hostIf}`,
  ]);
  await sysctl(n.netns, { [`net.ipv4.conf.${hostIf}.proxy_arp`]: '1', [`net.ipv4.neigh.${hostIf}.proxy_delay`]: '0' });
  const hostIp = n.ips.find((a) => !a.includes(':'))!;
  // Nodes in the same subnet route the pod via this node; the others reach it through the router
  // (their default route), which routes it via this node.
  for (const other of s.nodes) {
    if (other.name === node || other.subnet !== n.subnet) continue;
    await run(['ip', 'route', 'replace', `${ip4}/32`, 'via', hostIp], { netns: other.netns });
  }
  const router = s.routers.find((r) => r.kind !== 'external');
  if (router) await run(['ip', 'route', 'replace', `${ip4}/32`, 'via', hostIp], { netns: router.netns });
  pod.servers = await startPodServers(s, pod);
  pod.phase = 'ready';
  writePod(s.dir, pod);
  return pod;
}
