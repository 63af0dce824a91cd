/**
 * The agent's in-memory mirror of the datastore, fed by the Syncer. It decodes each item once, on
 * update, and never throws on bad data: an undecodable item is dropped from the mirror and
 * reported, so one bad write in etcd cannot take a node's dataplane down.
 *
 * Pools, Nodes and WorkloadEndpoints, whose specs the agent's own drivers read, are also kept as
 * typed views (api's decodePool / decodeNode / decodeWorkloadEndpoint), decoded once here; each
 * change carries the view before and after, so no consumer reads their raw spec.
 */
import type { NodeView, PoolView, Resource, WorkloadView } from '../api/index.js';
import { decodeNode, decodePool, decodeWorkloadEndpoint, kindForKey } from '../api/index.js';
import { ipamKeys, parseResourceKey } from '../datastore/index.js';

export interface MirrorUpdate {
  key: string;
  value: string | undefined;
}

export interface BlockRecord {
  cidr: string;
  affinity: string | null;
}

/** A typed view of a resource the mirror decodes (see the header). */
export type ResourceView =
  | { kind: 'IPPool'; pool: PoolView }
  | { kind: 'Node'; node: NodeView }
  | { kind: 'WorkloadEndpoint'; workload: WorkloadView };

export type MirrorChange =
  | {
      type: 'resource';
      key: string;
      kind: string;
      group: string;
      resource: Resource | undefined;
      /** The value before this update (for deletes: what was deleted). */
      previous: Resource | undefined;
      /** `resource`'s typed view (IPPool with a CIDR, Node, WorkloadEndpoint), if it has one. */
      view: ResourceView | undefined;
      previousView: ResourceView | undefined;
    }
  | { type: 'block'; key: string; block: BlockRecord | undefined; previous: BlockRecord | undefined };

export class DatastoreMirror {
  /** kind -> key -> resource */
  readonly resources = new Map<string, Map<string, Resource>>();
  readonly blocks = new Map<string, BlockRecord>();
  /** Typed views by key (see the header). A pool with no CIDR has none. */
  readonly pools = new Map<string, PoolView>();
  readonly nodes = new Map<string, NodeView>();
  readonly workloads = new Map<string, WorkloadView>();

  constructor(private readonly onBadItem: (key: string, why: string) => void) {}

  of(kind: string, group = 'projectcalico.org'): Map<string, Resource> {
    const k = `${group}/${kind}`;
    let m = this.resources.get(k);
    if (!m) this.resources.set(k, (m = new Map()));
    return m;
  }

  /** Applies one update; returns what changed (undefined when the key is not interesting). */
  apply(u: MirrorUpdate): MirrorChange | undefined {
    if (u.key.startsWith(ipamKeys.blocksPrefix)) {
      const previous = this.blocks.get(u.key);
      if (u.value === undefined) {
        this.blocks.delete(u.key);
        return { type: 'block', key: u.key, block: undefined, previous };
      }
      try {
        const b = JSON.parse(u.value) as Partial<BlockRecord>;
        if (typeof b.cidr !== 'string') throw new Error('missing cidr');
        const rec: BlockRecord = { cidr: b.cidr, affinity: typeof b.affinity === 'string' ? b.affinity : null };
        this.blocks.set(u.key, rec);
        return { type: 'block', key: u.key, block: rec, previous };
      } catch (e) {
        this.blocks.delete(u.key);
        this.onBadItem(u.key, String(e));
        return { type: 'block', key: u.key, block: undefined, previous };
      }
    }
    const parts = parseResourceKey(u.key);
    if (!parts) return undefined;
    const info = kindForKey(parts.group, parts.plural);
    if (!info) return undefined;
    const map = this.of(info.kind, info.group);
    const previous = map.get(u.key);
    const calico = info.group === 'projectcalico.org';
    const previousView = calico ? this.viewOf(info.kind, u.key) : undefined;
    const base = { type: 'resource' as const, key: u.key, kind: info.kind, group: info.group, previous, previousView };
    let r: Resource | undefined;
    if (u.value !== undefined) {
      try {
        r = JSON.parse(u.value) as Resource;
        if (!r || typeof r !== 'object' || !r.metadata || typeof r.metadata.name !== 'string') {
          throw new Error('not a resource object');
        }
      } catch (e) {
        r = undefined;
        this.onBadItem(u.key, String(e));
      }
    }
    if (r) map.set(u.key, r);
    else map.delete(u.key);
    const view = calico ? this.setView(info.kind, u.key, r) : undefined;
    return { ...base, resource: r, view };
  }

  private viewOf(kind: string, key: string): ResourceView | undefined {
    switch (kind) {
      case 'IPPool': {
        const pool = this.pools.get(key);
        return pool && { kind, pool };
      }
      case 'Node': {
        const node = this.nodes.get(key);
        return node && { kind, node };
      }
      case 'WorkloadEndpoint': {
        const workload = this.workloads.get(key);
        return workload && { kind, workload };
      }
      default:
        return undefined;
    }
  }

  /** Decodes `r` (undefined: deleted) into its kind's view map; returns the view. */
  private setView(kind: string, key: string, r: Resource | undefined): ResourceView | undefined {
    switch (kind) {
      case 'IPPool': {
        const pool = r && decodePool(r);
        if (pool) this.pools.set(key, pool);
        else this.pools.delete(key);
        return pool && { kind, pool };
      }
      case 'Node': {
        const node = r && decodeNode(r);
        if (node) this.nodes.set(key, node);
        else this.nodes.delete(key);
        return node && { kind, node };
      }
      case 'WorkloadEndpoint': {
        const workload = r && decodeWorkloadEndpoint(r);
        if (workload) this.workloads.set(key, workload);
        else this.workloads.delete(key);
        return workload && { kind, workload };
      }
      default:
        return undefined;
    }
  }
}
