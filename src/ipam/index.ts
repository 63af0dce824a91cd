/**
 * Block IPAM with Calico's semantics (libcalico-go ipam): pools are carved into blocks (/26, /122 by
 * default) that are affine to a host; a host assigns from its own blocks, claims new ones (up to
 * `maxBlocksPerHost`), then borrows from other hosts' blocks unless `strictAffinity` is on.
 *
 * PUBLIC API (this file is the only entry; other components must not deep-import):
 *   new IpamClient(backend: Backend, options?: IpamOptions)   // options.hostCache: long-lived fast path
 *     enableHostCache(): void; close(): void                  // see host-batch.ts (watched context,
 *                                                             // cached affine blocks, batched CAS txns)
 *     autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult>      // { ipv4: AssignedIp[], ipv6: AssignedIp[] }
 *     assignIp(args: AssignIpArgs): Promise<AssignedIp>
 *     releaseIps(targets: (string | ReleaseTarget)[], signal?): Promise<ReleaseResult>
 *     releaseByHandle(handleId: string, signal?): Promise<ReleaseResult>
 *     ipsByHandle(handleId: string, signal?): Promise<AssignedIp[]>
 *     lookupIp(address: string, signal?): Promise<IpInfo>
 *     getConfig(signal?): Promise<IpamConfig>; setConfig(patch: Partial<IpamConfig>, signal?): Promise<IpamConfig>
 *     usage(signal?): Promise<PoolUsage[]>
 *     check(options?: CheckOptions): Promise<IpamReport>
 *     releaseFromReport(report: IpamReport, signal?): Promise<ReleaseResult>
 *     releaseHostAffinities(host: string, signal?): Promise<void>
 *     snapshot(signal?): Promise<IpamSnapshot>; affineBlocks(host, family, signal?): Promise<string[]>
 *   loadLiveHandles(backend, signal?): Promise<(handleId) => boolean>   // WEP containerID / tunnel Node
 *   buildReport(snapshot, liveHandles?): IpamReport                      // pure
 *   Test helpers: putPool, putReservation, putNode, FaultyBackend, seededRandom.
 *   Pure block math: see block.ts exports re-exported below.
 *
 * Results: AssignedIp.address is a plain address ("10.244.1.5"), prefixLength the block's (26);
 * pass AssignedIp.sequenceNumber (+ handleId) back to releaseIps for an ABA-safe release.
 * Errors (TesseraError codes): 'exhausted' (no free address; message names the pools), 'not-found'
 * (a requested pool does not exist), 'validation' (bad args, disabled requested pool, reserved
 * address), 'already-exists' (assignIp of a taken address), 'conflict' (CAS retries ran out).
 *
 * DESIGN (what a reviewer must check)
 * - Correctness comes only from compare-and-swap: every block change is one `txn` that updates the
 *   block at the revision it was read at AND creates/updates/deletes the handle record at its
 *   revision. So a crash (kill -9) between steps can never leave an allocation without its handle
 *   or a duplicate address; the worst case is a leak (an allocation whose workload is gone), which
 *   `check()` reports and `releaseFromReport()` frees.
 * - The optional in-process queues (per host for assigns, per block for writes) only reduce
 *   conflicts; tests run with them disabled and with injected conflicts. Separate processes on one
 *   host (CNI without the agent) contend on the same block: CAS keeps them correct, but a host-wide
 *   lock (or the agent's single process) is what keeps 100 concurrent ADDs from exhausting retries.
 * - Block claim is two-phase (pending affinity → CAS-create block → confirm affinity). The block's
 *   own `affinity` field is the truth; the affinity key is an index repaired on read.
 * - Sequence numbers: a release that carries a sequence number frees the ordinal only if it still
 *   holds that number (ABA protection against stale releases).
 * - hostCache (host-batch.ts): a cached block is only a guess at a revision; every txn CASes it,
 *   a conflict re-reads, and anything it cannot decide goes to the plain path unchanged.
 * - Empty blocks with no affinity are deleted on release; affine blocks stay with their host until
 *   `releaseHostAffinities(host)`.
 */
export * from './types.js';
export { IpamClient } from './client.js';
export { type IpamOptions, validateHandleId } from './allocator.js';
export type { RetryPolicy } from './store.js';
export { buildReport, type IpamSnapshot } from './check.js';
export {
  newBlock,
  assignFromBlock,
  assignOrdinal,
  releaseFromBlock,
  releaseHandleFromBlock,
  reservedOrdinals,
  allocationsOf,
  blockInvariantProblems,
  hostAffinity,
  affinityHost,
} from './block.js';
export { type PoolInfo, poolFromResource, selectPools } from './pools.js';
export { FaultyBackend, putNode, putPool, putReservation, seededRandom, type FaultOptions } from './testing.js';
export { loadLiveHandles } from './live.js';
