/**
 * One reading of an IPPool for the agent: its family, its encapsulation, and whether it is
 * enabled. Tunnel-address allocation, the IPIP problem report and the workload MTU all ask these
 * questions; they ask them here, so they cannot disagree.
 */
import type { Resource } from '../api/index.js';
import type { DatastoreMirror } from './mirror.js';

export interface PoolView {
  family: 4 | 6;
  /** vxlanMode Always or CrossSubnet. */
  vxlan: boolean;
  /** ipipMode Always or CrossSubnet. */
  ipip: boolean;
  disabled: boolean;
}

const encapsulated = (mode: unknown) => mode === 'Always' || mode === 'CrossSubnet';

export function poolView(pool: Resource): PoolView {
  const s = (pool.spec ?? {}) as Record<string, unknown>;
  return {
    family: String(s.cidr ?? '').includes(':') ? 6 : 4,
    vxlan: encapsulated(s.vxlanMode),
    ipip: encapsulated(s.ipipMode),
    disabled: s.disabled === true,
  };
}

export function poolViews(mirror: DatastoreMirror): PoolView[] {
  return [...mirror.of('IPPool').values()].map(poolView);
}
