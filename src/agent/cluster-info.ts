/**
 * ClusterInformation "default", as calico-node maintains it: the first agent to start creates it
 * (a random cluster GUID, the cluster type, `datastoreReady: true`); every agent's start-up stamps
 * its version and adds its type to the list. `tessera version` prints what it holds.
 * Pure: the caller reads, calls `nextClusterInformation`, and writes with compare-and-swap.
 */
import type { ClusterInformationSpec } from '../api/index.js';

export interface ClusterInfoInputs {
  /** This agent's version, as `v0.1.0`. */
  version: string;
  /** A GUID for a cluster that has none yet (32 hex digits); injected, so this stays pure. */
  newGuid: string;
  /** Types this agent adds to `clusterType` (comma-separated there, as Calico's `k8s,bgp`). */
  types: readonly string[];
}

/** The spec to write, or undefined when the stored one already says all of it (no write). */
export function nextClusterInformation(
  cur: ClusterInformationSpec | undefined,
  inputs: ClusterInfoInputs,
): ClusterInformationSpec | undefined {
  const have = (cur?.clusterType ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const types = [...have, ...inputs.types.filter((t) => !have.includes(t))];
  const next: ClusterInformationSpec = {
    ...cur,
    clusterGUID: cur?.clusterGUID || inputs.newGuid,
    clusterType: types.join(','),
    calicoVersion: inputs.version,
    // An operator (or an upgrade) may set it to false to hold agents back; never turned on again here.
    datastoreReady: cur?.datastoreReady ?? true,
    variant: cur?.variant ?? 'Tessera',
  };
  const same =
    cur !== undefined &&
    cur.clusterGUID === next.clusterGUID &&
    cur.clusterType === next.clusterType &&
    cur.calicoVersion === next.calicoVersion &&
    cur.datastoreReady === next.datastoreReady &&
    cur.variant === next.variant;
  return same ? undefined : next;
}
