/**
 * BGP routers in the lab:
 *  - `lab router add NAME --as ASN [--subnet K]`: an external (top-of-rack stand-in) router netns on
 *    the fabric running BIRD (src/bgp startExternalRouter) that peers with every node and installs
 *    what it learns into its own kernel table. The nodes peer with it only when told to (a BGPPeer),
 *    exactly as with a real ToR.
 *  - `lab up --routing bgp --encapsulation none --subnets K>1`: the inter-subnet router runs BIRD as
 *    a route reflector in the nodes' AS with `next hop self`, and one BGPPeer per subnet points that
 *    subnet's nodes at its gateway. Why it is needed: with no encapsulation a packet to another
 *    subnet's pod goes to the router (the node's default route), so the router must know the pod
 *    blocks; and a node's BIRD cannot resolve a mesh next hop in another subnet (it learns no kernel
 *    default route), so it needs the same routes with a next hop on its own subnet. With VXLAN
 *    (Always or CrossSubnet) the agent tunnels off-subnet traffic and the router needs no routes;
 *    there the reflector would even hand BIRD on-subnet next hops for prefixes the agent tunnels.
 *
 * Cleanup invariant (see index.ts): the router's netns is recorded in state.json before it is
 * created; BIRD runs inside it, so `lab down` (kill netns processes, delete netns) removes it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError, validationError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { startExternalRouter, type RouterNeighbor } from '../bgp/index.js';
import type { Resource } from '../api/index.js';
import { CALICO_API_VERSION } from '../api/index.js';
import { addNetns, deleteNetns, ipBatch, isRoot, killNetnsProcesses, sysctl } from './kernel.js';
import { planExternalRouter, SUBNET_ROUTER_NAME } from './router-plan.js';
import type { LabPlan } from './plan.js';
import { withNetns, withoutRouter, withRouter, type LabState, type RouterState } from './state.js';
import { readLabState, updateLabState } from './store.js';
import { LabDatastore } from './resources.js';

export const DEFAULT_NODE_AS = 64512;

/** The subnet router speaks BGP only where it has to carry pod routes (see the file header). */
export function subnetRouterNeedsBgp(plan: Pick<LabPlan, 'options' | 'routerNetns'>): boolean {
  return plan.routerNetns !== undefined && plan.options.routing === 'bgp' && plan.options.encapsulation === 'none';
}

/** BGPPeers that point each subnet's nodes at the subnet router's leg in their subnet. */
export function subnetRouterPeers(plan: LabPlan): Resource[] {
  if (!subnetRouterNeedsBgp(plan)) return [];
  return plan.subnets.flatMap((s) => {
    const peers: Resource[] = [
      {
        apiVersion: CALICO_API_VERSION,
        kind: 'BGPPeer',
        metadata: { name: `lab-router-subnet-${s.index}` },
        spec: {
          nodeSelector: `tessera.dev/subnet == 'subnet-${s.index}'`,
          peerIP: s.gateway4,
          asNumber: DEFAULT_NODE_AS,
        },
      },
    ];
    if (s.gateway6) {
      peers.push({
        apiVersion: CALICO_API_VERSION,
        kind: 'BGPPeer',
        metadata: { name: `lab-router-subnet-${s.index}-v6` },
        spec: {
          nodeSelector: `tessera.dev/subnet == 'subnet-${s.index}'`,
          peerIP: s.gateway6,
          asNumber: DEFAULT_NODE_AS,
        },
      });
    }
    return peers;
  });
}

function nodeNeighbors(
  s: LabState,
  asOf: (node: string) => number,
  rrClient: boolean,
  families: { v6: boolean },
): RouterNeighbor[] {
  return s.nodes.flatMap((n) =>
    n.ips
      .filter((ip) => families.v6 || !ip.includes(':'))
      .map((address) => {
        const nb: RouterNeighbor = { address, asNumber: asOf(n.name) };
        if (rrClient) {
          nb.rrClient = true;
          // The node reaches its own subnet's next hops directly (plan: /24 and /64 per subnet).
          nb.skipNextHopsIn = address.includes(':') ? `${address}/64` : `${address}/24`;
        }
        return nb;
      }),
  );
}

/** Starts BIRD in the inter-subnet router (after the netns exists; `lab up` records it). */
export async function startSubnetRouterBgp(s: LabState, plan: LabPlan): Promise<RouterState | undefined> {
  const r = s.routers.find((x) => x.name === SUBNET_ROUTER_NAME);
  if (!r || !subnetRouterNeedsBgp(plan)) return undefined;
  const stateDir = join(s.dir, 'routers', r.name);
  await startExternalRouter({
    netns: r.netns,
    asNumber: DEFAULT_NODE_AS,
    routerId: plan.subnets[0]!.gateway4,
    neighbors: nodeNeighbors(s, () => DEFAULT_NODE_AS, true, { v6: plan.options.ipv6 }),
    configDir: stateDir,
    nextHopSelf: true,
  });
  return { ...r, kind: 'subnet', stateDir, asNumber: DEFAULT_NODE_AS, bgp: true };
}

/** The AS each node speaks: its Node's spec.bgp.asNumber, else the default BGPConfiguration's, else 64512. */
async function nodeAsNumbers(s: LabState): Promise<(node: string) => number> {
  const ds = new LabDatastore(s.etcd?.endpoints ?? []);
  try {
    const cfg = await ds.get({
      apiVersion: CALICO_API_VERSION,
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
    });
    const global =
      Number((cfg?.spec as Record<string, unknown> | undefined)?.asNumber ?? DEFAULT_NODE_AS) || DEFAULT_NODE_AS;
    const per = new Map<string, number>();
    for (const n of s.nodes) {
      const node = await ds.get({ apiVersion: CALICO_API_VERSION, kind: 'Node', metadata: { name: n.name } });
      const bgp = (node?.spec as Record<string, unknown> | undefined)?.bgp as Record<string, unknown> | undefined;
      const as = Number(bgp?.asNumber);
      if (Number.isInteger(as) && as > 0) per.set(n.name, as);
    }
    return (node) => per.get(node) ?? global;
  } finally {
    await ds.close();
  }
}

export interface RouterAddOptions {
  asNumber: string | number;
  subnet?: string | number;
  onProgress?: (line: string) => void;
}

export async function routerAdd(labDirPath: string, name: string, o: RouterAddOptions): Promise<RouterState> {
  if (!(await isRoot()))
    throw new TesseraError('usage', `cannot add router "${name}": the lab needs root (network namespaces)`);
  let planned: ReturnType<typeof planExternalRouter>['plan'];
  // Reserve name, address and netns under the lab lock, recorded before anything is created.
  const s = await updateLabState(labDirPath, (cur) => {
    const p = planExternalRouter(cur, name, {
      asNumber: o.asNumber,
      ...(o.subnet !== undefined ? { subnet: o.subnet } : {}),
    });
    if (!p.plan) throw validationError(`cannot add router "${name}" to lab "${cur.name}"`, p.problems);
    planned = p.plan;
    const rec: RouterState = {
      name,
      netns: p.plan.netns,
      ips: p.plan.ip6 ? [p.plan.ip4, p.plan.ip6] : [p.plan.ip4],
      kind: 'external',
      asNumber: p.plan.asNumber,
      subnet: p.plan.subnet,
      stateDir: join(cur.dir, 'routers', name),
      fabricIf: p.plan.fabricIf,
      bgp: true,
    };
    return withRouter(withNetns(cur, p.plan.netns), rec);
  });
  const plan = planned!;
  const rec = s.routers.find((r) => r.name === name)!;
  try {
    await addNetns(plan.netns);
    await sysctl(plan.netns, { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' });
    const fabric = `${s.name}-fabric`;
    await run([
      'ip',
      'link',
      'add',
      'eth0',
      'netns',
      plan.netns,
      'type',
      'veth',
      'peer',
      'name',
      plan.fabricIf,
      'netns',
      fabric,
    ]);
    await ipBatch(fabric, [`link set ${plan.fabricIf} master ${plan.bridge}`, `link set ${plan.fabricIf} up`]);
    const lines = [
      `address add ${plan.cidr4} dev eth0`,
      'link set eth0 up',
      `route add default via ${plan.gateway4} dev eth0`,
    ];
    if (plan.cidr6 && plan.gateway6) {
      lines.splice(1, 0, `address add ${plan.cidr6} dev eth0 nodad`);
      lines.push(`route add ::/0 via ${plan.gateway6} dev eth0`);
    }
    await ipBatch(plan.netns, lines);
    const asOf = await nodeAsNumbers(s);
    await startExternalRouter({
      netns: plan.netns,
      asNumber: plan.asNumber,
      routerId: plan.ip4,
      neighbors: nodeNeighbors(s, asOf, false, { v6: plan.ip6 !== undefined }),
      configDir: rec.stateDir!,
    });
    o.onProgress?.(
      `router "${name}" (AS ${plan.asNumber}) at ${rec.ips.join(', ')} in "${plan.netns}", peering with ${s.nodes.length} node(s)`,
    );
    return rec;
  } catch (err) {
    await removeRouterKernel(rec).catch(() => undefined);
    await updateLabState(labDirPath, (cur) => withoutRouter(cur, name)).catch(() => undefined);
    throw new TesseraError(
      err instanceof TesseraError ? err.code : 'exec-failed',
      `cannot add router "${name}" to lab "${s.name}"`,
      { cause: err },
    );
  }
}

async function removeRouterKernel(r: RouterState): Promise<void> {
  // SIGTERM first: BIRD closes its sessions with a Cease, so the nodes drop its routes at once.
  await killNetnsProcesses(r.netns, 3000);
  await deleteNetns(r.netns);
  if (r.stateDir) rmSync(r.stateDir, { recursive: true, force: true });
}

/** Removes an external router; false when there was none (idempotent). */
export async function routerDelete(labDirPath: string, name: string): Promise<boolean> {
  if (!(await isRoot()))
    throw new TesseraError('usage', `cannot delete router "${name}": the lab needs root (network namespaces)`);
  const s = readLabState(labDirPath);
  if (!s) throw new TesseraError('not-found', `lab state "${join(labDirPath, 'state.json')}" does not exist`);
  const r = s.routers.find((x) => x.name === name);
  if (!r) return false;
  if (r.kind !== 'external')
    throw new TesseraError(
      'usage',
      `cannot delete router "${name}": it is the lab's inter-subnet router (remove the lab instead)`,
    );
  await removeRouterKernel(r);
  await updateLabState(labDirPath, (cur) => withoutRouter(cur, name));
  return true;
}
