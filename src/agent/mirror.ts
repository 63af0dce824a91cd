/**
 * The agent's in-memory mirror of the datastore, fed by the Syncer. It decodes each item once, on
 * update, and never throws on bad data: an undecodable item is dropped from the mirror and
 * reported, so one bad write in etcd cannot take a node's dataplane down.
 */
import type { Resource } from '../api/index.js';
import { kindForKey } from '../api/index.js';
import { ipamKeys, parseResourceKey } from '../datastore/index.js';

export interface MirrorUpdate {
  key: string;
  value: string | undefined;
}

export interface BlockRecord {
  cidr: string;
  affinity: string | null;
}

export type MirrorChange =
  | {
      type: 'resource';
      key: string;
      kind: string;
      group: string;
      resource: Resource | undefined;
      /** The value before this update (for deletes: what was deleted). */
      previous: Resource | undefined;
    }
  | { type: 'block'; key: string; block: BlockRecord | undefined; previous: BlockRecord | undefined };

export class DatastoreMirror {
  /** kind -> key -> resource */
  readonly resources = new Map<string, Map<string, Resource>>();
  readonly blocks = new Map<string, BlockRecord>();

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
    const base = { type: 'resource' as const, key: u.key, kind: info.kind, group: info.group, previous };
    if (u.value === undefined) {
      map.delete(u.key);
      return { ...base, resource: undefined };
    }
    try {
      const r = JSON.parse(u.value) as Resource;
      if (!r || typeof r !== 'object' || !r.metadata || typeof r.metadata.name !== 'string') {
        throw new Error('not a resource object');
      }
      map.set(u.key, r);
      return { ...base, resource: r };
    } catch (e) {
      map.delete(u.key);
      this.onBadItem(u.key, String(e));
      return { ...base, resource: undefined };
    }
  }
}
