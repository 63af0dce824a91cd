/** What the CNI operations need from the outside: storage, IPAM, a clock. Injected for tests. */
import type { Backend } from '../datastore/index.js';
import type { Clock } from '../lib/clock.js';
import type { IpRunner } from './ip-runner.js';
import type { AssignedIp, AutoAssignArgs, AutoAssignResult, ReleaseResult } from '../ipam/index.js';

/** The slice of `IpamClient` (src/ipam) the CNI plugin uses. */
export interface CniIpam {
  autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult>;
  releaseByHandle(handleId: string, signal?: AbortSignal): Promise<ReleaseResult>;
  ipsByHandle(handleId: string, signal?: AbortSignal): Promise<AssignedIp[]>;
  /** IpamClient's long-lived fast path (cached context and blocks, batched txns); the server turns it on. */
  enableHostCache?(): void;
}

export interface CniDeps {
  backend: Backend;
  ipam: CniIpam;
  clock: Clock;
  /** Node name when the network config has no `nodename`. */
  nodeName: string;
  /** How `ip -batch` scripts run (default: one `ip` spawn each; the server keeps a helper). */
  ip?: IpRunner;
  signal?: AbortSignal;
}
