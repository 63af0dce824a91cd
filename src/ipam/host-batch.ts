/**
 * The long-lived client's fast path (option `hostCache`): a cached assign context and cached
 * copies of each host's affine blocks, and per-host batching of assigns and handle releases.
 *
 * Why: the plain path costs ~5 sequential round trips per assign (pools, reservations, config,
 * node, affinities, block, handle, txn) and serialises a host's assigns, so 16 concurrent CNI ADDs
 * queued for 16 × 5 round trips. Here an assign in a cached block is ONE txn, and every assign or
 * release that arrives while a txn is in flight joins the next one.
 *
 * Correctness still comes only from compare-and-swap:
 * - every txn updates each touched block at the revision it was cached at, creates each new
 *   handle (fails if it exists) and deletes each released handle at the revision just read; a
 *   stale cache therefore only costs a conflict, after which the touched blocks and handles are
 *   re-read (one round trip) and the batch is recomputed;
 * - anything the cache cannot decide (no cached block with room, block claims, borrowing, a
 *   handle that already exists, a handle with blocks elsewhere, repeated conflicts) goes to the
 *   plain path, unchanged;
 * - after a txn the cache holds exactly what was written, at the txn's revision.
 * The context (pools, reservations, IPAM config, node labels) is cached only while watches on
 * those prefixes run; any change drops it. Its staleness is the watch delay, the same window as
 * the plain path's read-then-write.
 */
import type { Backend, TxnOp } from '../datastore/index.js';
import { ipamKeys, kindPrefix } from '../datastore/index.js';
import { lookupKind } from '../api/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { parseCidr } from '../lib/ip.js';
import { assignFromBlock, hostAffinity, releaseHandleFromBlock, reservedOrdinals } from './block.js';
import { poolForCidr, selectPools, type AssignContext } from './pools.js';
import { readBlock, readHandle, type Versioned } from './store.js';
import type {
  AllocationBlock,
  AssignedIp,
  AutoAssignArgs,
  AutoAssignResult,
  IpFamilyNum,
  IpamHandle,
  ReleaseResult,
} from './types.js';

export interface HostBatchDeps {
  backend: Backend;
  loadContext(host: string, signal?: AbortSignal): Promise<AssignContext>;
  affineBlocks(host: string, family: IpFamilyNum, signal?: AbortSignal): Promise<string[]>;
  slowAssign(args: AutoAssignArgs): Promise<AutoAssignResult>;
  slowRelease(handleId: string, signal?: AbortSignal): Promise<ReleaseResult>;
}

type Blocks = Map<string, Versioned<AllocationBlock>>;

interface AssignItem {
  kind: 'assign';
  args: AutoAssignArgs;
  resolve: (r: AutoAssignResult) => void;
  reject: (e: unknown) => void;
}
interface ReleaseItem {
  kind: 'release';
  handleId: string;
  handle: Versioned<IpamHandle>;
  signal: AbortSignal | undefined;
  resolve: (r: ReleaseResult) => void;
  reject: (e: unknown) => void;
}
type Item = AssignItem | ReleaseItem;

/** etcd allows 128 operations per txn: a batch stays well below. */
const MAX_BATCH = 48;
const FAST_ATTEMPTS = 3;

const emptyRelease = (): ReleaseResult => ({ released: [], stale: [], notAllocated: [] });

export class HostBatcher {
  private readonly queues = new Map<string, Item[]>();
  private readonly draining = new Set<string>();
  /** Per host: its affine blocks as last read or written. */
  private readonly blocks = new Map<string, Blocks>();
  private readonly loading = new Map<string, Promise<Blocks>>();
  private readonly context: ContextCache;

  constructor(private readonly deps: HostBatchDeps) {
    this.context = new ContextCache(deps.backend, deps.loadContext);
  }

  close(): void {
    this.context.close();
  }

  autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult> {
    return new Promise((resolve, reject) => this.enqueue(args.hostname, { kind: 'assign', args, resolve, reject }));
  }

  async releaseByHandle(handleId: string, signal?: AbortSignal): Promise<ReleaseResult> {
    const h = await readHandle(this.deps.backend, handleId, signal);
    if (h === undefined) return emptyRelease();
    const cidrs = Object.keys(h.value.block);
    const host = [...this.blocks].find(([, m]) => cidrs.length > 0 && cidrs.every((c) => m.has(c)))?.[0];
    if (host === undefined) return this.deps.slowRelease(handleId, signal);
    return new Promise((resolve, reject) =>
      this.enqueue(host, { kind: 'release', handleId, handle: h, signal, resolve, reject }),
    );
  }

  private enqueue(host: string, item: Item): void {
    const q = this.queues.get(host) ?? [];
    q.push(item);
    this.queues.set(host, q);
    if (!this.draining.has(host)) void this.drain(host);
  }

  private async drain(host: string): Promise<void> {
    this.draining.add(host);
    try {
      for (;;) {
        const q = this.queues.get(host) ?? [];
        if (q.length === 0) break;
        // One item per handle per txn (etcd rejects a key twice in one txn); the rest wait.
        const seen = new Set<string>();
        const batch: Item[] = [];
        const rest: Item[] = [];
        for (const it of q) {
          const id = it.kind === 'assign' ? it.args.handleId : it.handleId;
          if (batch.length < MAX_BATCH && !seen.has(id)) {
            seen.add(id);
            batch.push(it);
          } else rest.push(it);
        }
        this.queues.set(host, rest);
        await this.runBatch(host, batch);
      }
    } finally {
      this.queues.delete(host);
      this.draining.delete(host);
    }
  }

  private hostBlocks(host: string, signal: AbortSignal | undefined): Promise<Blocks> {
    const have = this.blocks.get(host);
    if (have) return Promise.resolve(have);
    let p = this.loading.get(host);
    if (!p) {
      p = (async () => {
        const [c4, c6] = await Promise.all([
          this.deps.affineBlocks(host, 4, signal),
          this.deps.affineBlocks(host, 6, signal),
        ]);
        const read = await Promise.all([...c4, ...c6].map((c) => readBlock(this.deps.backend, c, signal)));
        const m: Blocks = new Map();
        for (const b of read) if (b !== undefined && isOurs(b.value, host)) m.set(b.value.cidr, b);
        this.blocks.set(host, m);
        return m;
      })().finally(() => this.loading.delete(host));
      this.loading.set(host, p);
    }
    return p;
  }

  private async runBatch(host: string, batch: Item[]): Promise<void> {
    const slow: Item[] = [];
    let live = batch.filter((it) => {
      const signal = it.kind === 'assign' ? it.args.signal : it.signal;
      if (!signal?.aborted) return true;
      it.reject(new TesseraError('aborted', 'cannot change IPAM allocations: aborted', { cause: signal.reason }));
      return false;
    });
    try {
      const ctx = await this.context.get(host);
      const cache = await this.hostBlocks(host, undefined);
      for (let attempt = 0; live.length > 0; attempt++) {
        if (attempt >= FAST_ATTEMPTS) {
          slow.push(...live);
          break;
        }
        const plan = planBatch(live, cache, ctx);
        slow.push(...plan.slow);
        for (const [it, err] of plan.failed) it.reject(err);
        live = plan.items.map((p) => p.item);
        if (plan.items.length === 0) break;
        let rev: number;
        try {
          rev = await this.deps.backend.txn(plan.ops);
        } catch (err) {
          if (!isTesseraError(err, 'conflict')) throw err;
          live = await this.refresh(host, cache, plan.touched, live, slow);
          continue;
        }
        for (const [cidr, b] of plan.work) if (plan.touched.has(cidr)) cache.set(cidr, { value: b, revision: rev });
        for (const p of plan.items) p.settle();
        break;
      }
    } catch (err) {
      // The txn may or may not have applied: forget the blocks, the callers undo by handle.
      this.blocks.delete(host);
      for (const it of live) it.reject(err);
    }
    if (slow.length === 0) return;
    // The plain path may claim blocks or write ours: re-read the host's blocks afterwards.
    for (const it of slow) {
      try {
        if (it.kind === 'assign') it.resolve(await this.deps.slowAssign(it.args));
        else it.resolve(await this.deps.slowRelease(it.handleId, it.signal));
      } catch (err) {
        it.reject(err);
      }
    }
    this.blocks.delete(host);
  }

  /** After a conflict: re-read the touched blocks and every item's handle (one round trip). */
  private async refresh(
    host: string,
    cache: Blocks,
    touched: Set<string>,
    items: Item[],
    slow: Item[],
  ): Promise<Item[]> {
    const cidrs = [...touched];
    const [blocks, handles] = await Promise.all([
      Promise.all(cidrs.map((c) => readBlock(this.deps.backend, c))),
      Promise.all(
        items.map((it) => readHandle(this.deps.backend, it.kind === 'assign' ? it.args.handleId : it.handleId)),
      ),
    ]);
    cidrs.forEach((c, i) => {
      const b = blocks[i];
      if (b !== undefined && isOurs(b.value, host)) cache.set(c, b);
      else cache.delete(c);
    });
    const keep: Item[] = [];
    items.forEach((it, i) => {
      const h = handles[i];
      if (it.kind === 'assign') {
        // The handle exists already (a retried ADD, a concurrent writer): the plain path decides
        // (it returns what the handle holds when the caller asked for `reuseHandle`).
        if (h !== undefined) slow.push(it);
        else keep.push(it);
      } else if (h === undefined) it.resolve(emptyRelease());
      else keep.push({ ...it, handle: h });
    });
    return keep;
  }
}

function isOurs(b: AllocationBlock, host: string): boolean {
  return !b.deleted && b.affinity === hostAffinity(host);
}

interface Planned {
  item: Item;
  settle(): void;
}

interface Plan {
  items: Planned[];
  slow: Item[];
  failed: [Item, unknown][];
  ops: TxnOp[];
  work: Map<string, AllocationBlock>;
  touched: Set<string>;
}

/** Pure: applies releases then assigns to working copies of the cached blocks. */
function planBatch(items: Item[], cache: Blocks, ctx: AssignContext): Plan {
  const work = new Map<string, AllocationBlock>();
  const touched = new Set<string>();
  const cur = (cidr: string): AllocationBlock => work.get(cidr) ?? cache.get(cidr)!.value;
  const plan: Plan = { items: [], slow: [], failed: [], ops: [], work, touched };
  const handleOps: TxnOp[] = [];
  const sorted = [...cache.keys()].sort();

  for (const it of items) {
    if (it.kind !== 'release') continue;
    const cidrs = Object.keys(it.handle.value.block);
    if (!cidrs.every((c) => cache.has(c))) {
      plan.slow.push(it);
      continue;
    }
    const released: string[] = [];
    for (const c of cidrs) {
      const r = releaseHandleFromBlock(cur(c), it.handleId);
      if (r.released.length > 0) {
        work.set(c, r.block);
        touched.add(c);
        released.push(...r.released.map((x) => x.address));
      }
    }
    handleOps.push({ op: 'delete', key: ipamKeys.handle(it.handleId), expectedRevision: it.handle.revision });
    plan.items.push({ item: it, settle: () => it.resolve({ released, stale: [], notAllocated: [] }) });
  }

  for (const it of items) {
    if (it.kind !== 'assign') continue;
    const a = it.args;
    if (a.num4 + a.num6 === 0) {
      plan.slow.push(it);
      continue;
    }
    const use = a.use ?? 'Workload';
    let pools4, pools6;
    try {
      pools4 = a.num4 > 0 ? selectPools(ctx.pools, 4, use, ctx.labels, a.ipv4Pools) : [];
      pools6 = a.num6 > 0 ? selectPools(ctx.pools, 6, use, ctx.labels, a.ipv6Pools) : [];
    } catch (err) {
      plan.failed.push([it, err]);
      continue;
    }
    const tmp = new Map<string, AllocationBlock>();
    const got: { ipv4: AssignedIp[]; ipv6: AssignedIp[] } = { ipv4: [], ipv6: [] };
    const counts: Record<string, number> = {};
    let short = false;
    for (const [family, num, pools] of [
      [4, a.num4, pools4],
      [6, a.num6, pools6],
    ] as const) {
      let need = num;
      for (const cidr of sorted) {
        if (need <= 0) break;
        const c = parseCidr(cidr);
        const pool = c.family === family ? poolForCidr(pools, c) : undefined;
        if (pool === undefined) continue;
        const b = tmp.get(cidr) ?? cur(cidr);
        const r = assignFromBlock(b, need, a.handleId, a.attrs, reservedOrdinals(b, ctx.reservations));
        if (r.assigned.length === 0) continue;
        tmp.set(cidr, r.block);
        counts[cidr] = (counts[cidr] ?? 0) + r.assigned.length;
        need -= r.assigned.length;
        for (const x of r.assigned) {
          (family === 4 ? got.ipv4 : got.ipv6).push({
            address: x.address,
            family,
            prefixLength: c.prefix,
            blockCidr: cidr,
            sequenceNumber: x.sequenceNumber,
            pool: pool.name,
          });
        }
      }
      if (need > 0) short = true;
    }
    if (short) {
      plan.slow.push(it);
      continue;
    }
    for (const [c, b] of tmp) {
      work.set(c, b);
      touched.add(c);
    }
    handleOps.push({
      op: 'create',
      key: ipamKeys.handle(a.handleId),
      value: JSON.stringify({ handleID: a.handleId, block: counts } satisfies IpamHandle),
    });
    plan.items.push({ item: it, settle: () => it.resolve(got) });
  }

  for (const c of touched) {
    plan.ops.push({
      op: 'update',
      key: ipamKeys.block(c),
      value: JSON.stringify(work.get(c)),
      expectedRevision: cache.get(c)!.revision,
    });
  }
  plan.ops.push(...handleOps);
  return plan;
}

/** The assign context per host, trusted only while watches on its sources run. */
class ContextCache {
  private gen = 0;
  private watch: { ready: Promise<boolean>; abort: AbortController } | undefined;
  private readonly byHost = new Map<string, { gen: number; ctx: AssignContext }>();
  private closed = false;

  constructor(
    private readonly backend: Backend,
    private readonly load: (host: string, signal?: AbortSignal) => Promise<AssignContext>,
  ) {}

  async get(host: string): Promise<AssignContext> {
    const watching = await this.ensureWatch();
    const g = this.gen;
    const hit = this.byHost.get(host);
    if (watching && hit && hit.gen === g) return hit.ctx;
    const ctx = await this.load(host);
    if (watching && this.gen === g && this.watch !== undefined) this.byHost.set(host, { gen: g, ctx });
    return ctx;
  }

  close(): void {
    this.closed = true;
    this.watch?.abort.abort();
    this.drop();
  }

  private drop(): void {
    this.gen++;
    this.byHost.clear();
  }

  private ensureWatch(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.watch) return this.watch.ready;
    const w: { abort: AbortController; ready: Promise<boolean> } = {
      abort: new AbortController(),
      ready: Promise.resolve(false),
    };
    w.ready = (async () => {
      try {
        // Watching from the revision before any cached read means no change can slip between.
        const rev = await this.backend.revision();
        const prefixes = ['IPPool', 'IPReservation', 'Node'].map((k) => kindPrefix(lookupKind(k)!));
        for (const p of [...prefixes, ipamKeys.config]) void this.consume(p, rev + 1, w);
        return true;
      } catch {
        if (this.watch === w) this.watch = undefined;
        return false;
      }
    })();
    this.watch = w;
    return w.ready;
  }

  private async consume(prefix: string, fromRevision: number, w: { abort: AbortController }): Promise<void> {
    try {
      for await (const events of this.backend.watch(prefix, { fromRevision, signal: w.abort.signal })) {
        if (events.length > 0) this.drop();
      }
    } catch {
      // compacted / unavailable / aborted: handled below
    }
    // One source is no longer watched: trust nothing cached until a fresh set of watches runs.
    if (this.watch === w) this.watch = undefined;
    w.abort.abort();
    this.drop();
  }
}
