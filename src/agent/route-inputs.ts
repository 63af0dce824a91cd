/**
 * Projects the datastore mirror onto the route calculator's inputs. Pure over the mirror;
 * tolerant of half-written resources (missing fields are treated as absent, never thrown on).
 */
import type { Resource } from '../api/index.js';
import type { BlockInfo, EncapMode, NodeInfo, PoolInfo, RouteInputs, WorkloadInfo } from '../dataplane/routes/index.js';
import type { BlockRecord, DatastoreMirror } from './mirror.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const mode = (v: unknown): EncapMode => (v === 'Always' || v === 'CrossSubnet' ? v : 'Never');

export function poolInfo(r: Resource): PoolInfo | undefined {
  const s = obj(r.spec);
  const cidr = str(s.cidr);
  if (!cidr) return undefined;
  return {
    name: r.metadata.name,
    cidr,
    vxlanMode: mode(s.vxlanMode),
    ipipMode: mode(s.ipipMode),
    natOutgoing: s.natOutgoing === true,
    disabled: s.disabled === true,
  };
}

export function nodeInfo(r: Resource): NodeInfo {
  const s = obj(r.spec);
  const bgp = obj(s.bgp);
  const n: NodeInfo = { name: r.metadata.name };
  const set = <K extends keyof NodeInfo>(k: K, v: string | undefined) => {
    if (v) n[k] = v as NodeInfo[K];
  };
  set('ipv4Address', str(bgp.ipv4Address) ?? str(obj(s.addresses)?.ipv4));
  set('ipv6Address', str(bgp.ipv6Address));
  set('vxlanTunnelAddr', str(s.ipv4VXLANTunnelAddr));
  set('vxlanTunnelMac', str(s.vxlanTunnelMACAddr));
  set('ipv6VxlanTunnelAddr', str(s.ipv6VXLANTunnelAddr));
  set('vxlanV6TunnelMac', str(s.vxlanTunnelMACAddrV6));
  return n;
}

/** The node a block is affine to ("host:<node>"), if any. */
export const blockOwner = (b: BlockRecord): string | undefined =>
  b.affinity?.startsWith('host:') ? b.affinity.slice(5) : undefined;

export function workloadInfo(key: string, r: Resource): WorkloadInfo | undefined {
  const s = obj(r.spec);
  const node = str(s.node);
  const iface = str(s.interfaceName);
  const nets = Array.isArray(s.ipNetworks) ? s.ipNetworks.filter((x): x is string => typeof x === 'string') : [];
  if (!node || !iface) return undefined;
  return { key, node, interfaceName: iface, ipNetworks: nets };
}

/** Workloads in key order, so routes never depend on the order the datastore delivered them in. */
export const byKey = (list: WorkloadInfo[]): WorkloadInfo[] =>
  list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/**
 * The calculator's inputs from the mirror. `workloads`: the ones that can have a route here
 * (RouteRelevance.routedWorkloads); every workload in the mirror when not given.
 */
export function routeInputs(
  mirror: DatastoreMirror,
  localNode: string,
  opts: { ipipSupported: boolean; bgpRouting: boolean },
  workloads?: WorkloadInfo[],
): RouteInputs {
  const nodes = new Map<string, NodeInfo>();
  for (const r of mirror.of('Node').values()) nodes.set(r.metadata.name, nodeInfo(r));
  const pools: PoolInfo[] = [];
  for (const r of mirror.of('IPPool').values()) {
    const p = poolInfo(r);
    if (p) pools.push(p);
  }
  const blocks: BlockInfo[] = [];
  for (const b of mirror.blocks.values()) {
    const node = blockOwner(b);
    blocks.push(node ? { cidr: b.cidr, node } : { cidr: b.cidr });
  }
  return { localNode, nodes, pools, blocks, workloads: workloads ?? allWorkloads(mirror), ...opts };
}

function allWorkloads(mirror: DatastoreMirror): WorkloadInfo[] {
  const list: WorkloadInfo[] = [];
  for (const [key, r] of mirror.of('WorkloadEndpoint').entries()) {
    const w = workloadInfo(key, r);
    if (w) list.push(w);
  }
  return byKey(list);
}
