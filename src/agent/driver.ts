/**
 * What every dataplane driver gives the agent's loop (agent.ts): a change rule, an apply step, and
 * its problems. The loop gives each one its own apply loop (driver-loop.ts) with the same metrics,
 * problem reporting and retry.
 */
import type { DatastoreMirror, MirrorChange } from './mirror.js';

/** A dataplane driver (routing, policy, BGP, sysctls) fed by the same mirror, applied by its own loop. */
export interface DataplaneDriver {
  readonly name: string;
  /** What this driver adds to ClusterInformation's `clusterType` (BGP: `bgp`), if anything. */
  readonly clusterType?: string;
  /**
   * Drivers whose first apply must have run before this one's first apply (the sysctl driver comes
   * after `policy`: the conntrack setting exists once the first nftables write loaded conntrack).
   */
  readonly after?: readonly string[];
  /**
   * Takes one datastore change. `inSync` is false before the syncer's first in-sync: no apply runs
   * before it and the first one after it is full, so a driver may skip derived work then.
   */
  onChange(change: MirrorChange, mirror: DatastoreMirror, inSync: boolean): void;
  /** Whether a non-full apply has anything to do; without it, every run of the loop applies. */
  pending?(): boolean;
  /** Programs the kernel; `full` asks for a full resync (first sync, drift check, retry). */
  apply(mirror: DatastoreMirror, full: boolean): Promise<void>;
  /** Called once the syncer runs; `kick` schedules a run of this driver's loop (e.g. on a route event). */
  start?(kick: () => void): void;
  stop?(): Promise<void>;
  /** Current problems to report in node status (skipped items, rejected config). */
  problems?(): string[];
}
