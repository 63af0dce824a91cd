/**
 * RouteRelevance: can this mirror change alter the routes this node must have? Most datastore
 * traffic in a big cluster cannot: IP allocations in remote blocks (every pod created anywhere),
 * label edits, Node status writes (every agent publishes its conditions), remote workloads whose
 * addresses lie in their own node's blocks. Recalculating routes for each of them cost every node
 * a full route cycle per pod event in the cluster (at 1,000 nodes x 30 pods, ~1.4 s of CPU each).
 *
 * The rule mirrors what calculateRoutes reads: other nodes through their projection, pools and this
 * node by their whole spec, blocks
 * through CIDR and owner, local workloads always, and a remote workload only when one of its
 * addresses (before or after) is borrowed, i.e. not inside a block affine to its own node: only
 * those get a host route. The unit test checks the rule against the calculator itself: whenever it
 * says "irrelevant", the calculated routes before and after are identical.
 *
 * The same rule keeps the set of workloads the calculator needs (`routedWorkloads`): local ones and
 * remote ones with a borrowed (or unreadable) address. A route cycle then reads a few hundred
 * workloads instead of every one in the cluster (30,000 at 1,000 nodes x 30 pods: ~40 ms per
 * cycle). The set is kept per workload change and rebuilt after a block's CIDR or owner changed.
 */
import type { WorkloadInfo } from '../dataplane/routes/index.js';
import { checkCidr, CidrLookup, tryParseIp } from '../lib/index.js';
import type { DatastoreMirror, MirrorChange, ResourceView } from './mirror.js';
import { blockOwner, byKey, nodeInfo, workloadInfo } from './route-inputs.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const nodeOf = (v: ResourceView | undefined) => (v?.kind === 'Node' ? nodeInfo(v.node) : undefined);
const workloadOf = (key: string, v: ResourceView | undefined) =>
  v?.kind === 'WorkloadEndpoint' ? workloadInfo(key, v.workload) : undefined;

export class RouteRelevance {
  /** Block CIDR -> owning node, rebuilt from the mirror after a block's CIDR or owner changed. */
  private owners: CidrLookup<string | undefined> | undefined;
  /** Workloads that can have a route on this node, by key; undefined = rebuild from the mirror. */
  private routed: Map<string, WorkloadInfo> | undefined;

  constructor(private readonly localNode: string) {}

  /**
   * Drops what was derived from earlier changes: for changes the caller will not ask about because
   * it recalculates every route anyway (before the first in-sync, 150k listed endpoints would each
   * be checked for nothing). `routedWorkloads` then rebuilds from the mirror.
   */
  forget(): void {
    this.owners = undefined;
    this.routed = undefined;
  }

  /** Call after the mirror applied `change`. */
  relevant(change: MirrorChange, mirror: DatastoreMirror): boolean {
    if (change.type === 'block') {
      const b = change.block;
      const p = change.previous;
      if (b && p && b.cidr === p.cidr && blockOwner(b) === blockOwner(p)) return false;
      this.owners = undefined;
      this.routed = undefined;
      return true;
    }
    if (change.group !== 'projectcalico.org') return false;
    const prev = change.previous;
    const cur = change.resource;
    switch (change.kind) {
      case 'Node':
        // This node's own spec also feeds its VTEPs and tunnel address allocation.
        if ((cur ?? prev)?.metadata.name === this.localNode) return !same(prev?.spec, cur?.spec);
        return !same(nodeOf(change.previousView), nodeOf(change.view));
      case 'IPPool':
        // The whole spec: the agent also reads encapsulation modes for the MTU and IPIP checks.
        return !same(prev?.spec, cur?.spec);
      case 'WorkloadEndpoint': {
        const a = workloadOf(change.key, change.previousView);
        const b = workloadOf(change.key, change.view);
        if (same(a, b)) return false;
        const routedNow = b !== undefined && this.needsRoute(b, mirror);
        if (this.routed && routedNow) this.routed.set(change.key, b);
        else this.routed?.delete(change.key);
        return routedNow || (a !== undefined && this.needsRoute(a, mirror));
      }
      default:
        return false;
    }
  }

  /**
   * The workloads calculateRoutes needs, in key order: calculating with these gives the same routes
   * as with every workload in the mirror (property-tested). `mirror` must be the one every change
   * passed to `relevant` was applied to.
   */
  routedWorkloads(mirror: DatastoreMirror): WorkloadInfo[] {
    if (!this.routed) {
      this.routed = new Map();
      for (const [key, v] of mirror.workloads) {
        const w = workloadInfo(key, v);
        if (w && this.needsRoute(w, mirror)) this.routed.set(key, w);
      }
    }
    return byKey([...this.routed.values()]);
  }

  private needsRoute(w: WorkloadInfo, mirror: DatastoreMirror): boolean {
    if (w.node === this.localNode) return true;
    const owners = (this.owners ??= this.buildOwners(mirror));
    return w.ipNetworks.some((net) => {
      const ip = tryParseIp(net.split('/')[0] ?? '');
      return ip === undefined || owners.find(ip) !== w.node;
    });
  }

  private buildOwners(mirror: DatastoreMirror): CidrLookup<string | undefined> {
    const l = new CidrLookup<string | undefined>();
    for (const b of mirror.blocks.values()) {
      const c = checkCidr(b.cidr).cidr;
      if (c) l.add(c, blockOwner(b));
    }
    return l;
  }
}
