/**
 * What every dataplane driver gives the agent's loop (agent.ts): a change rule, an apply step, and
 * its problems. The loop gives each the same metrics, problem reporting and retry.
 */
import type { DatastoreMirror, MirrorChange } from './mirror.js';

/** A pluggable dataplane driver (policy, BGP, sysctls) fed by the same mirror and apply loop. */
export interface DataplaneDriver {
  readonly name: string;
  /** What this driver adds to ClusterInformation's `clusterType` (BGP: `bgp`), if anything. */
  readonly clusterType?: string;
  onChange(change: MirrorChange, mirror: DatastoreMirror): void;
  /** Programs the kernel; `full` asks for a full resync (first sync, drift check). */
  apply(mirror: DatastoreMirror, full: boolean): Promise<void>;
  stop?(): Promise<void>;
  /** Current problems to report in node status (skipped items, rejected config). */
  problems?(): string[];
}
