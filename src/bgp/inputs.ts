/**
 * Projects the agent's datastore mirror onto the renderer's input. Pure over the mirror and
 * tolerant of half-written resources (the renderer reports what it cannot use).
 */
import { decodeWorkloadEndpoint, type Resource, type WorkloadView } from '../api/index.js';
import type { BirdBlock, BirdConfigInput, BirdWorkload } from './model.js';
import { obj, str } from './values.js';

/** The slice of the agent's DatastoreMirror the BGP driver reads (structurally compatible). */
export interface BgpMirror {
  of(kind: string, group?: string): Map<string, Resource>;
  readonly blocks: Map<string, BirdBlock>;
  /** WorkloadEndpoints already decoded (the agent's mirror has them); decoded here when absent. */
  readonly workloads?: ReadonlyMap<string, WorkloadView>;
}

export function birdInputFromMirror(
  mirror: BgpMirror,
  nodeName: string,
  secrets: Readonly<Record<string, string>> = {},
): BirdConfigInput {
  const all = (kind: string) => [...mirror.of(kind).values()];
  const workloads: BirdWorkload[] = [];
  const views = mirror.workloads?.values() ?? all('WorkloadEndpoint').map(decodeWorkloadEndpoint);
  for (const w of views) {
    if (w.node === nodeName) workloads.push({ node: nodeName, ipNetworks: w.ipNetworks });
  }
  return {
    nodeName,
    bgpConfigurations: all('BGPConfiguration'),
    nodes: all('Node'),
    peers: all('BGPPeer'),
    filters: all('BGPFilter'),
    pools: all('IPPool'),
    blocks: [...mirror.blocks.values()].map((b) => ({ cidr: b.cidr, affinity: b.affinity })),
    workloads,
    secrets,
  };
}

/** Every `<name>/<key>` a BGPPeer password or the mesh password refers to. */
export function secretRefs(mirror: BgpMirror): string[] {
  const refs = new Set<string>();
  const add = (v: unknown) => {
    const ref = obj(obj(v).secretKeyRef);
    const name = str(ref.name);
    const key = str(ref.key);
    // Names are validated DNS subdomains at apply time; re-check since they become file paths.
    if (
      name &&
      key &&
      /^[A-Za-z0-9._-]+$/.test(name) &&
      /^[A-Za-z0-9._-]+$/.test(key) &&
      !name.startsWith('.') &&
      !key.startsWith('.')
    ) {
      refs.add(`${name}/${key}`);
    }
  };
  for (const p of mirror.of('BGPPeer').values()) add(obj(p.spec).password);
  for (const c of mirror.of('BGPConfiguration').values()) add(obj(c.spec).nodeMeshPassword);
  return [...refs].sort();
}
