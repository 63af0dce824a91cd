/**
 * Built-in tiers, as Calico creates them. `default` holds every policy without an explicit tier;
 * `kube-admin` and `kube-baseline` hold Kubernetes ClusterNetworkPolicy (admin / baseline) and
 * pass by default so lower tiers still decide. Their orders are fixed by Calico.
 */
import type { Tier } from './types/policy.js';
import { CALICO_API_VERSION } from './resource.js';

export const DEFAULT_TIER = 'default';

function tier(name: string, order: number, defaultAction: 'Deny' | 'Pass'): Tier {
  return { apiVersion: CALICO_API_VERSION, kind: 'Tier', metadata: { name }, spec: { order, defaultAction } };
}

export const BUILTIN_TIERS: readonly Tier[] = Object.freeze([
  tier('kube-admin', 1_000, 'Pass'),
  tier(DEFAULT_TIER, 1_000_000, 'Deny'),
  tier('kube-baseline', 10_000_000, 'Pass'),
]);

export function isBuiltinTier(name: string): boolean {
  return BUILTIN_TIERS.some((t) => t.metadata.name === name);
}

export function builtinTier(name: string): Tier | undefined {
  return BUILTIN_TIERS.find((t) => t.metadata.name === name);
}
