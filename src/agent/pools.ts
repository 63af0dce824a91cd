/**
 * The pools the agent's drivers read: the mirror's typed IPPool views (api/decode.ts's
 * decodePool computes family, encapsulation and enabled once, on update). Tunnel-address
 * allocation, the IPIP problem report and the workload MTU all ask their questions of these
 * views, so they cannot disagree.
 */
import type { PoolView } from '../api/index.js';
import type { DatastoreMirror } from './mirror.js';

export type { PoolView };

export function poolViews(mirror: DatastoreMirror): PoolView[] {
  return [...mirror.pools.values()];
}
