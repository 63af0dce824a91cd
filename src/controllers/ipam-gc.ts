/**
 * IPAM garbage collection: an allocation made for a Kubernetes pod that no longer exists (or that
 * no longer carries the address), or a tunnel address of a node that no longer exists, is a leak.
 * A leak is released once it has been seen as a leak for `leakGracePeriod` (Calico's default 15m).
 *
 * DESIGN
 * - A leak is identified by (address, handle, sequence number) and released by exactly that: an
 *   address released and re-used meanwhile carries a new sequence number, so the late release is
 *   stale and frees nothing (the allocator's ABA protection).
 * - Nothing is judged before both informers (pods, nodes) have synced: an empty cache would make
 *   every allocation look leaked.
 * - The grace clock starts when this controller first sees the leak; the pending set is stored in
 *   the datastore (IPAM_GC_PENDING_KEY), so a restarted or new leader keeps the clocks, and
 *   `tessera ipam check` can show leaks still inside their grace period.
 * - With the leak released, the pod's WorkloadEndpoint (same container ID) goes too.
 * - A pass judges every allocation against the pod cache. The first pass reads every block
 *   (paged, processed as pages arrive) and keeps a summary of each with its revision; later
 *   passes list the blocks keys-only and re-read only those whose revision moved. At 150k
 *   allocations that makes a pass cheaper than `etcdctl get --prefix` of the blocks (make
 *   bench-controllers); parsing 23 MB of block JSON each time made it 1.9-6.8x.
 * - The full read needs no informer, only judging does: start() reads every block while the pod
 *   and node informers are still listing, so the first pass after a controller starts is a later
 *   pass (keys-only, re-reading the blocks written meanwhile) instead of a read of everything.
 */
import { CALICO_API_VERSION, kindFor, wepName } from '../api/index.js';
import { ROOT, ipamKeys, kindPrefix, listInPages, resourceKey, type Backend } from '../datastore/index.js';
import { IpamClient, type AllocationBlock, type ReleaseTarget } from '../ipam/index.js';
import { describeError } from '../lib/errors.js';
import { formatIp, parseCidr, type Cidr } from '../lib/ip.js';

/** Every ordinal's address in a block, formatted once (IPv4 with plain numbers: no bigint per address). */
function addressesOf(cidr: string, size: number): string[] {
  const c = parseCidr(cidr) as Cidr;
  const out: string[] = [];
  if (c.family === 4) {
    const base = Number(c.value);
    for (let o = 0; o < size; o++) {
      const v = base + o;
      out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
    }
    return out;
  }
  let v = c.value;
  for (let o = 0; o < size; o++, v++) out.push(formatIp(c.family, v));
  return out;
}

/** The address of a block's ordinal; the block's addresses are formatted on first need and kept. */
const addressOf = (sum: BlockSummary, ordinal: number): string =>
  (sum.addresses ??= addressesOf(sum.cidr, sum.size))[ordinal]!;

interface SummaryAlloc {
  ordinal: number;
  handleId: string;
  pod: string | undefined;
  namespace: string | undefined;
  node: string | undefined;
  sequenceNumber: number | undefined;
}

/** A block as GC judges it, valid while the block's revision is `revision`. */
interface BlockSummary {
  revision: number;
  cidr: string;
  /** Ordinals in the block. */
  size: number;
  /** Allocated ordinals (with or without a handle). */
  allocations: number;
  /** Allocations with a handle. */
  allocs: SummaryAlloc[];
  addresses: string[] | undefined;
}

import type { Controller, ControllerContext } from './controller.js';
import type { ControllerInformer } from './informer.js';
import { WEP_INFO } from './mirror.js';

export const IPAM_GC_PENDING_KEY = `${ROOT}controllers/ipam-gc/pending`;
const NODE_INFO = kindFor(CALICO_API_VERSION, 'Node')!;
/**
 * Blocks per page of the pass's range read: ~10 KB each when full, so ~2.5 MB pages, small enough
 * that parsing one overlaps etcd sending the next and the garbage dies young, few enough round trips.
 */
const GC_PAGE_BLOCKS = 256;
/** A later pass gets changed blocks one by one up to this many (or 1/8 of all), else reads all. */
const GC_GET_MAX = 64;
const GC_GET_CONCURRENCY = 16;
const TUNNEL_HANDLE = /^(?:ipip|vxlan|vxlan-v6|wireguard|wireguard-v6)-tunnel-addr-(.+)$/;

export interface PendingLeak {
  address: string;
  handleId: string;
  sequenceNumber?: number;
  node?: string;
  namespace?: string;
  pod?: string;
  /** ISO time the controller first saw it as a leak. */
  firstSeen: string;
  /** ISO time after which it is released. */
  releaseAfter: string;
}

export interface PendingLeaks {
  gracePeriodSeconds: number;
  leaks: PendingLeak[];
}

/** The leaks the controller has seen but not yet released (empty when it never ran). */
export async function readPendingLeaks(backend: Backend, signal?: AbortSignal): Promise<PendingLeaks> {
  const kv = await backend.get(IPAM_GC_PENDING_KEY, signal);
  if (!kv) return { gracePeriodSeconds: 0, leaks: [] };
  try {
    const v = JSON.parse(kv.value) as PendingLeaks;
    return Array.isArray(v.leaks) ? v : { gracePeriodSeconds: 0, leaks: [] };
  } catch {
    return { gracePeriodSeconds: 0, leaks: [] };
  }
}

export interface IpamGcOptions {
  leakGracePeriodMs: number;
  intervalMs: number;
}

export interface GcPassResult {
  allocations: number;
  leaks: number;
  released: number;
  stale: number;
}

const idOf = (l: { address: string; handleId: string; sequenceNumber?: number }) =>
  `${l.address}|${l.handleId}|${l.sequenceNumber ?? ''}`;

export class IpamGarbageCollector implements Controller {
  readonly name = 'ipam-gc';
  private readonly ipam: IpamClient;
  private pending = new Map<string, PendingLeak>();
  /** Block key -> what the last pass parsed of it, at that revision. */
  private summaries = new Map<string, BlockSummary>();
  private readonly strings = new Map<string, string>();
  private loaded = false;
  private storedJson = '';
  private syncedFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  /** The full block read start() begins before the informers have synced (taken by the first pass). */
  private prefetched: Promise<Map<string, BlockSummary>> | undefined;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly pods: ControllerInformer,
    private readonly nodes: ControllerInformer,
    private readonly options: IpamGcOptions,
  ) {
    this.ipam = new IpamClient(ctx.backend);
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  get queueDepth(): number {
    return 0;
  }

  async start(signal: AbortSignal): Promise<void> {
    void this.prefetch();
    await Promise.all([this.pods.waitSynced(signal), this.nodes.waitSynced(signal)]);
    await this.pass();
    this.syncedFlag = true;
    this.ctx.metrics.synced.set({ controller: this.name }, 1);
    this.timer = setInterval(() => {
      void this.pass().catch((err: unknown) => {
        this.ctx.metrics.errors.inc({ controller: this.name });
        this.ctx.logger.warn({ controller: this.name, err: describeError(err) }, 'IPAM GC pass failed');
      });
    }, this.options.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  idle(): Promise<void> {
    return this.running.then(() => undefined);
  }

  /**
   * Starts reading every block into summaries now, while the informers list (start() calls it).
   * The next pass takes them and re-reads only the blocks whose revision moved since; if the read
   * fails, that pass reads everything itself. Resolves (never rejects) when the read has ended.
   */
  prefetch(): Promise<void> {
    if (!this.prefetched && this.summaries.size === 0) this.prefetched = this.readAll();
    return (this.prefetched ?? Promise.resolve()).then(
      () => undefined,
      () => undefined, // taken (or given up) by the next pass
    );
  }

  /** One full pass (passes never overlap). */
  pass(): Promise<GcPassResult> {
    const p = this.running.then(
      () => this.passOnce(),
      () => this.passOnce(),
    );
    this.running = p.catch(() => undefined);
    return p;
  }

  private async passOnce(): Promise<GcPassResult> {
    const { backend, clock, metrics } = this.ctx;
    if (!this.loaded) {
      for (const l of (await readPendingLeaks(backend)).leaks) this.pending.set(idOf(l), l);
      this.loaded = true;
    }
    const { allocations, seen } = await this.scan();
    const nowMs = clock.nowMs();
    const due = [...seen.values()].filter((l) => Date.parse(l.releaseAfter) <= nowMs);
    let released = 0;
    let stale = 0;
    if (due.length > 0) {
      const targets: ReleaseTarget[] = due.map((l) => ({
        address: l.address,
        handleId: l.handleId,
        ...(l.sequenceNumber !== undefined ? { sequenceNumber: l.sequenceNumber } : {}),
      }));
      const r = await this.ipam.releaseIps(targets);
      released = r.released.length;
      stale = r.stale.length;
      metrics.leaksReleased.inc(released);
      for (const l of due) {
        seen.delete(idOf(l));
        await this.deleteEndpointOf(l);
      }
      this.ctx.logger.info(
        { controller: this.name, released: r.released, stale: r.stale },
        'released leaked IPAM allocations',
      );
    }
    this.pending = seen;
    metrics.leaksPending.set(seen.size);
    await this.storePending();
    return { allocations, leaks: seen.size + due.length, released, stale };
  }

  /**
   * Reads every block once and judges every allocation against the pod cache; the leaks they
   * hold, with their grace clocks.
   * - The first pass reads the values page by page as etcd sends them (the next page is on its
   *   way while this one is judged, and no page outlives its turn), and keeps a summary of each
   *   block (what GC reads of it) with the block's revision.
   * - Later passes list keys and revisions only; a block whose revision moved (or a new one) is
   *   read again: one get each when few changed, the full paged read when many did. A block's
   *   revision changes on every write to it, so a summary at the same revision is the block.
   */
  private async scan(): Promise<{ allocations: number; seen: Map<string, PendingLeak> }> {
    const { backend, clock } = this.ctx;
    const nodesRead = backend.list(kindPrefix(NODE_INFO));
    nodesRead.catch(() => undefined); // awaited after the blocks are read
    if (this.prefetched) {
      const early = this.prefetched;
      this.prefetched = undefined;
      this.summaries = await early.catch(() => this.summaries);
    }
    const summaries = this.summaries.size > 0 ? await this.readChanged() : undefined;
    const fresh = summaries ?? (await this.readAll());
    const nodeNames = new Set<string>();
    for (const kv of (await nodesRead).items) nodeNames.add(kv.key.slice(kv.key.lastIndexOf('/') + 1));
    const nowMs = clock.nowMs();
    const seen = new Map<string, PendingLeak>();
    let allocations = 0;
    for (const sum of fresh.values()) {
      allocations += sum.allocations;
      this.judgeBlock(sum, nodeNames, nowMs, seen);
    }
    this.summaries = fresh; // blocks gone since the last pass are forgotten
    return { allocations, seen };
  }

  /** Every block's summary, from the values (a summary at the block's revision is reused). */
  private async readAll(): Promise<Map<string, BlockSummary>> {
    const out = new Map<string, BlockSummary>();
    for await (const page of listInPages(this.ctx.backend, ipamKeys.blocksPrefix, { pageSize: GC_PAGE_BLOCKS })) {
      for (let i = 0; i < page.length; i++) {
        const kv = page[i]!;
        const sum = this.summaryOf(kv.key, kv.revision, () => kv.value);
        if (sum) out.set(kv.key, sum);
      }
    }
    return out;
  }

  /** Keys and revisions only, then the values of the blocks that changed; undefined: read all. */
  private async readChanged(): Promise<Map<string, BlockSummary> | undefined> {
    const out = new Map<string, BlockSummary>();
    const changed: string[] = [];
    for await (const page of listInPages(this.ctx.backend, ipamKeys.blocksPrefix, { keysOnly: true })) {
      for (const kv of page) {
        const sum = this.summaries.get(kv.key);
        if (sum?.revision === kv.revision) out.set(kv.key, sum);
        else changed.push(kv.key);
      }
    }
    if (changed.length > Math.max(GC_GET_MAX, out.size / 8)) return undefined;
    for (let i = 0; i < changed.length; i += GC_GET_CONCURRENCY) {
      const kvs = await Promise.all(changed.slice(i, i + GC_GET_CONCURRENCY).map((k) => this.ctx.backend.get(k)));
      for (const kv of kvs) {
        if (!kv) continue; // deleted since the listing
        const sum = this.summaryOf(kv.key, kv.revision, () => kv.value);
        if (sum) out.set(kv.key, sum);
      }
    }
    return out;
  }

  /** The block's summary at `revision` (parsed unless the last pass had it); undefined if corrupt. */
  private summaryOf(key: string, revision: number, value: () => string): BlockSummary | undefined {
    const have = this.summaries.get(key);
    if (have?.revision === revision) return have;
    try {
      return this.summarize(JSON.parse(value()) as AllocationBlock, revision);
    } catch {
      return undefined; // a corrupt block is `ipam check`'s to report, not GC's to touch
    }
  }

  /** What GC needs of a block: its allocations with a handle, and their attributes. */
  private summarize(b: AllocationBlock, revision: number): BlockSummary {
    const allocs: SummaryAlloc[] = [];
    let allocations = 0;
    for (let o = 0; o < b.allocations.length; o++) {
      const idx = b.allocations[o];
      if (idx === null || idx === undefined) continue;
      allocations++;
      const attr = b.attributes[idx];
      const handleId = attr?.handle_id ?? null;
      if (handleId === null) continue;
      const sec = attr?.secondary;
      const seq = b.sequenceNumberForAllocation?.[String(o)];
      allocs.push({
        ordinal: o,
        handleId,
        pod: sec?.pod,
        namespace: this.intern(sec?.namespace),
        node: this.intern(sec?.node),
        sequenceNumber: seq,
      });
    }
    return { revision, cidr: b.cidr, size: b.allocations.length, allocations, allocs, addresses: undefined };
  }

  /** One copy of each namespace and node name: less memory, and their hashes are computed once. */
  private intern(v: string | undefined): string | undefined {
    if (typeof v !== 'string') return undefined;
    const have = this.strings.get(v);
    if (have !== undefined) return have;
    if (this.strings.size >= 100_000) this.strings.clear();
    this.strings.set(v, v);
    return v;
  }

  /** Judges one block's allocations, adding its leaks to `seen`. */
  private judgeBlock(sum: BlockSummary, nodeNames: Set<string>, nowMs: number, seen: Map<string, PendingLeak>): void {
    const allocs = sum.allocs;
    for (let i = 0; i < allocs.length; i++) {
      const a = allocs[i]!;
      if (!this.isLeak(a, nodeNames, sum)) continue;
      const address = addressOf(sum, a.ordinal);
      const base = {
        address,
        handleId: a.handleId,
        ...(a.sequenceNumber !== undefined ? { sequenceNumber: a.sequenceNumber } : {}),
      };
      const id = idOf(base);
      const prev = this.pending.get(id);
      if (!prev) this.ctx.metrics.leaksFound.inc();
      const firstSeenMs = prev ? Date.parse(prev.firstSeen) : nowMs;
      seen.set(id, {
        ...base,
        ...(a.node ? { node: a.node } : {}),
        ...(a.namespace ? { namespace: a.namespace } : {}),
        ...(a.pod ? { pod: a.pod } : {}),
        firstSeen: new Date(firstSeenMs).toISOString(),
        releaseAfter: new Date(firstSeenMs + this.options.leakGracePeriodMs).toISOString(),
      });
    }
  }

  private isLeak(a: SummaryAlloc, tesseraNodes: Set<string>, sum: BlockSummary): boolean {
    const handleId = a.handleId;
    const tunnel = handleId.includes('-tunnel-addr-') ? TUNNEL_HANDLE.exec(handleId) : null;
    if (tunnel) return !tesseraNodes.has(tunnel[1]!) && this.nodes.get(tunnel[1]!) === undefined;
    // Only Kubernetes pods are judged; a plain CNI workload has no pod to look for.
    if (!a.pod || !a.namespace) return false;
    const pod = this.pods.get(a.pod, a.namespace);
    if (!pod) return true;
    // The pod exists but says it has other addresses: this one is left from an earlier sandbox.
    const ips = pod.status?.podIPs as { ip?: string }[] | undefined;
    if (!ips || ips.length === 0) return false;
    const addr = addressOf(sum, a.ordinal);
    for (let i = 0; i < ips.length; i++) if (ips[i]!.ip === addr) return false;
    return true;
  }

  /** The leaked pod's endpoint, if it is still the one that held this handle's container. */
  private async deleteEndpointOf(l: PendingLeak): Promise<void> {
    if (!l.node || !l.pod || !l.namespace) return;
    const dot = l.handleId.indexOf('.');
    if (dot < 0) return;
    const containerId = l.handleId.slice(dot + 1);
    const key = resourceKey(WEP_INFO, wepName(l.node, 'k8s', l.pod, 'eth0'), l.namespace);
    const kv = await this.ctx.backend.get(key);
    if (!kv) return;
    try {
      const spec = (JSON.parse(kv.value) as { spec?: { containerID?: string } }).spec;
      if (spec?.containerID !== containerId) return;
    } catch {
      return;
    }
    await this.ctx.backend.delete(key, kv.revision).catch(() => undefined);
    this.ctx.metrics.writes.inc({ controller: this.name });
  }

  private async storePending(): Promise<void> {
    const value: PendingLeaks = {
      gracePeriodSeconds: Math.round(this.options.leakGracePeriodMs / 1000),
      leaks: [...this.pending.values()].sort((a, b) => a.address.localeCompare(b.address)),
    };
    const json = JSON.stringify(value);
    if (json === this.storedJson) return;
    if (value.leaks.length === 0) await this.ctx.backend.delete(IPAM_GC_PENDING_KEY);
    else await this.ctx.backend.put(IPAM_GC_PENDING_KEY, json);
    this.storedJson = json;
  }
}
