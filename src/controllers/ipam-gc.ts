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
 * - One pass reads the blocks once (one prefix list); that read is its whole cost when nothing
 *   leaks.
 */
import { CALICO_API_VERSION, kindFor, wepName } from '../api/index.js';
import { ROOT, ipamKeys, kindPrefix, resourceKey, type Backend } from '../datastore/index.js';
import { IpamClient, type AllocationBlock, type ReleaseTarget } from '../ipam/index.js';
import { describeError } from '../lib/errors.js';
import { formatIp, parseCidr, type Cidr } from '../lib/ip.js';

/** Every ordinal's address in a block, formatted once (IPv4 with plain numbers: no bigint per address). */
function addressesOf(b: AllocationBlock): string[] {
  const c = parseCidr(b.cidr) as Cidr;
  const out: string[] = [];
  if (c.family === 4) {
    const base = Number(c.value);
    for (let o = 0; o < b.allocations.length; o++) {
      const v = base + o;
      out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
    }
    return out;
  }
  let v = c.value;
  for (let o = 0; o < b.allocations.length; o++, v++) out.push(formatIp(c.family, v));
  return out;
}
import type { Controller, ControllerContext } from './controller.js';
import type { ControllerInformer } from './informer.js';
import { WEP_INFO } from './mirror.js';

export const IPAM_GC_PENDING_KEY = `${ROOT}controllers/ipam-gc/pending`;
const NODE_INFO = kindFor(CALICO_API_VERSION, 'Node')!;
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
  private loaded = false;
  private storedJson = '';
  private syncedFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

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

  /** Reads every block once; the leaks it holds, with their grace clocks. */
  private async scan(): Promise<{ allocations: number; seen: Map<string, PendingLeak> }> {
    const { backend, clock, metrics } = this.ctx;
    const [blocks, tesseraNodes] = await Promise.all([
      backend.list(ipamKeys.blocksPrefix),
      backend.list(kindPrefix(NODE_INFO)),
    ]);
    const nodeNames = new Set<string>();
    for (const kv of tesseraNodes.items) nodeNames.add(kv.key.slice(kv.key.lastIndexOf('/') + 1));
    const nowMs = clock.nowMs();
    const seen = new Map<string, PendingLeak>();
    let allocations = 0;
    const items: ({ value: string } | undefined)[] = blocks.items;
    for (let i = 0; i < items.length; i++) {
      const kv = items[i]!;
      // Memory: a block's JSON is dropped once read (150k allocations are ~23 MB of it), so the
      // pass holds none of the list while releasing (releaseIps reads the blocks itself).
      items[i] = undefined;
      let b: AllocationBlock;
      try {
        b = JSON.parse(kv.value) as AllocationBlock;
      } catch {
        continue; // a corrupt block is `ipam check`'s to report, not GC's to touch
      }
      // The address is formatted only when needed (a pod listing its IPs, or a leak): at 150k
      // allocations formatting each one is a good part of a pass.
      let blockAddrs: string[] | undefined;
      const addressAt = (o: number) => (blockAddrs ??= addressesOf(b))[o]!;
      for (let o = 0; o < b.allocations.length; o++) {
        const idx = b.allocations[o];
        if (idx === null || idx === undefined) continue;
        allocations++;
        const attr = b.attributes[idx];
        const handleId = attr?.handle_id ?? null;
        if (handleId === null) continue;
        const attrs = attr?.secondary ?? {};
        if (!this.isLeak(handleId, () => addressAt(o), attrs, nodeNames)) continue;
        const seq = b.sequenceNumberForAllocation[String(o)];
        const a = { address: addressAt(o), handleId, sequenceNumber: seq };
        const base = {
          address: a.address,
          handleId: a.handleId,
          ...(a.sequenceNumber !== undefined ? { sequenceNumber: a.sequenceNumber } : {}),
        };
        const id = idOf(base);
        const prev = this.pending.get(id);
        if (!prev) metrics.leaksFound.inc();
        const firstSeenMs = prev ? Date.parse(prev.firstSeen) : nowMs;
        seen.set(id, {
          ...base,
          ...(attrs.node ? { node: attrs.node } : {}),
          ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
          ...(attrs.pod ? { pod: attrs.pod } : {}),
          firstSeen: new Date(firstSeenMs).toISOString(),
          releaseAfter: new Date(firstSeenMs + this.options.leakGracePeriodMs).toISOString(),
        });
      }
    }
    return { allocations, seen };
  }

  private isLeak(
    handleId: string,
    address: () => string,
    attrs: Record<string, string>,
    tesseraNodes: Set<string>,
  ): boolean {
    const tunnel = TUNNEL_HANDLE.exec(handleId);
    if (tunnel) return !tesseraNodes.has(tunnel[1]!) && this.nodes.get(tunnel[1]!) === undefined;
    // Only Kubernetes pods are judged; a plain CNI workload has no pod to look for.
    if (!attrs.pod || !attrs.namespace) return false;
    const pod = this.pods.get(attrs.pod, attrs.namespace);
    if (!pod) return true;
    // The pod exists but says it has other addresses: this one is left from an earlier sandbox.
    const ips = (pod.status?.podIPs ?? []) as { ip?: string }[];
    if (ips.length === 0) return false;
    const addr = address();
    return !ips.some((p) => p.ip === addr);
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
