/**
 * Projects the datastore mirror onto the route calculator's inputs. Pure over the mirror; reads
 * only the mirror's typed views (api/decode.ts says how half-written resources read).
 */
import type { NodeView, PoolView, WorkloadView } from '../api/index.js';
import type { BlockInfo, NodeInfo, PoolInfo, RouteInputs, WorkloadInfo } from '../dataplane/routes/index.js';
import type { BlockRecord, DatastoreMirror } from './mirror.js';

export const poolInfo = (p: PoolView): PoolInfo => ({
  name: p.name,
  cidr: p.cidr,
  vxlanMode: p.vxlanMode,
  ipipMode: p.ipipMode,
  natOutgoing: p.natOutgoing,
  disabled: p.disabled,
});

export function nodeInfo(v: NodeView): NodeInfo {
  const n: NodeInfo = { name: v.name };
  const set = <K extends keyof NodeInfo>(k: K, value: NodeInfo[K] | undefined) => {
    if (value) n[k] = value;
  };
  set('ipv4Address', v.bgp.ipv4Address);
  set('ipv6Address', v.bgp.ipv6Address);
  set('vxlanTunnelAddr', v.ipv4VXLANTunnelAddr);
  set('vxlanTunnelMac', v.vxlanTunnelMACAddr);
  set('ipv6VxlanTunnelAddr', v.ipv6VXLANTunnelAddr);
  set('vxlanV6TunnelMac', v.vxlanTunnelMACAddrV6);
  return n;
}

/** The node a block is affine to ("host:<node>"), if any. */
export const blockOwner = (b: BlockRecord): string | undefined =>
  b.affinity?.startsWith('host:') ? b.affinity.slice(5) : undefined;

/** A workload routes need: one with a node and an interface. */
export function workloadInfo(key: string, w: WorkloadView): WorkloadInfo | undefined {
  const { node, interfaceName } = w;
  if (!node || !interfaceName) return undefined;
  return { key, node, interfaceName, ipNetworks: w.ipNetworks };
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
  for (const v of mirror.nodes.values()) nodes.set(v.name, nodeInfo(v));
  const pools = [...mirror.pools.values()].map(poolInfo);
  const blocks: BlockInfo[] = [];
  for (const b of mirror.blocks.values()) {
    const node = blockOwner(b);
    blocks.push(node ? { cidr: b.cidr, node } : { cidr: b.cidr });
  }
  return { localNode, nodes, pools, blocks, workloads: workloads ?? allWorkloads(mirror), ...opts };
}

function allWorkloads(mirror: DatastoreMirror): WorkloadInfo[] {
  const list: WorkloadInfo[] = [];
  for (const [key, v] of mirror.workloads) {
    const w = workloadInfo(key, v);
    if (w) list.push(w);
  }
  return byKey(list);
}
