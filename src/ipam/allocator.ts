/**
 * The allocator: read → compute (pure block math) → one CAS transaction, retried on conflict.
 * See index.ts for the design invariants.
 */
import type { Backend, TxnOp } from '../datastore/index.js';
import { ipamKeys } from '../datastore/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { cidrFirst, cidrOverlaps, formatIp, parseCidr, parseIp, tryParseIp, type Cidr } from '../lib/ip.js';
import {
  addressOf,
  adjustHandle,
  allocationsOf,
  assignFromBlock,
  assignOrdinal,
  assignableCount,
  blockCount,
  blockIsEmpty,
  hostAffinity,
  newBlock,
  nthBlock,
  ordinalOf,
  ordinalsOfHandle,
  parseBlock,
  releaseFromBlock,
  releaseHandleFromBlock,
  reservedOrdinals,
  stableHash,
  type ReleaseRequest,
} from './block.js';
import {
  loadNodeLabels,
  loadPools,
  loadReservations,
  poolForCidr,
  poolForIp,
  selectPools,
  type AssignContext,
  type PoolInfo,
} from './pools.js';
import { HostBatcher } from './host-batch.js';
import {
  DEFAULT_RETRY,
  parseAffinity,
  readBlock,
  readConfig,
  readHandle,
  throwIfAborted,
  withCasRetry,
  type RetryPolicy,
} from './store.js';
import {
  DEFAULT_IPAM_CONFIG,
  type AllocationBlock,
  type AssignIpArgs,
  type AssignedIp,
  type AutoAssignArgs,
  type AutoAssignResult,
  type BlockAffinity,
  type IpFamilyNum,
  type IpInfo,
  type IpUse,
  type IpamAttrs,
  type IpamConfig,
  type ReleaseResult,
  type ReleaseTarget,
} from './types.js';

export interface IpamOptions {
  /** CAS retry policy (attempts, backoff); defaults: 40 attempts, jittered backoff 1→64 ms. */
  retry?: Partial<RetryPolicy>;
  /**
   * Serialise this client's assigns per host and its writes per block (in-process queues). Only
   * reduces conflicts (100 concurrent CAS writers on one block mostly lose); correctness never
   * depends on it. Default true.
   */
  serializePerHost?: boolean;
  /**
   * For long-lived clients (the agent's CNI server): cache the assign context (watched) and the
   * host's affine blocks, and batch a host's concurrent assigns / handle releases into one txn
   * each (see host-batch.ts). Still CAS-only. Call `close()` to stop its watches. Default false.
   */
  hostCache?: boolean;
}

const familyName = (f: IpFamilyNum) => `IPv${f}`;

export function validateHandleId(handleId: string): void {
  if (typeof handleId !== 'string' || handleId === '' || handleId.includes('/')) {
    throw new TesseraError('validation', `invalid IPAM handle "${String(handleId)}": must be non-empty without "/"`);
  }
}

export class IpamAllocator {
  protected readonly retry: RetryPolicy;
  private readonly serialize: boolean;
  private readonly hostQueues = new Map<string, Promise<unknown>>();
  private batcher: HostBatcher | undefined;

  constructor(
    protected readonly backend: Backend,
    options: IpamOptions = {},
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.serialize = options.serializePerHost ?? true;
    if (options.hostCache) this.enableHostCache();
  }

  /** Turns on the `hostCache` fast path (idempotent); for clients that live long. */
  enableHostCache(): void {
    this.batcher ??= new HostBatcher({
      backend: this.backend,
      loadContext: (host, signal) => this.loadContext(host, signal),
      affineBlocks: (host, family, signal) => this.affineBlocks(host, family, signal),
      slowAssign: (args) => this.autoAssignPlain(args),
      slowRelease: (handleId, signal) => this.releaseByHandlePlain(handleId, signal),
    });
  }

  /** Stops the fast path's watches (the client stays usable on the plain path). */
  close(): void {
    this.batcher?.close();
    this.batcher = undefined;
  }

  private inHostQueue<T>(host: string, fn: () => Promise<T>): Promise<T> {
    return this.inQueue(`host:${host}`, fn);
  }

  /** Block writes queue per block; never taken while holding another block's queue. */
  private inBlockQueue<T>(cidr: string, fn: () => Promise<T>): Promise<T> {
    return this.inQueue(`block:${cidr}`, fn);
  }

  private inQueue<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (!this.serialize) return fn();
    const prev = this.hostQueues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.hostQueues.set(key, tail);
    void tail.then(() => {
      if (this.hostQueues.get(key) === tail) this.hostQueues.delete(key);
    });
    return next;
  }

  // ---- config ---------------------------------------------------------------------------------

  async getConfig(signal?: AbortSignal): Promise<IpamConfig> {
    return (await readConfig(this.backend, signal))?.value ?? { ...DEFAULT_IPAM_CONFIG };
  }

  async setConfig(patch: Partial<IpamConfig>, signal?: AbortSignal): Promise<IpamConfig> {
    if (
      patch.maxBlocksPerHost !== undefined &&
      (!Number.isInteger(patch.maxBlocksPerHost) || patch.maxBlocksPerHost < 0)
    ) {
      throw new TesseraError(
        'validation',
        `cannot set maxBlocksPerHost to "${patch.maxBlocksPerHost}": expected an integer >= 0`,
      );
    }
    return withCasRetry(this.retry, 'cannot update IPAM configuration', signal, async () => {
      const cur = await readConfig(this.backend, signal);
      const next: IpamConfig = { ...(cur?.value ?? DEFAULT_IPAM_CONFIG) };
      if (patch.strictAffinity !== undefined) next.strictAffinity = patch.strictAffinity;
      if (patch.maxBlocksPerHost !== undefined) next.maxBlocksPerHost = patch.maxBlocksPerHost;
      const text = JSON.stringify(next);
      if (cur === undefined) {
        await this.backend.create(ipamKeys.config, text).catch((err: unknown) => {
          throw isTesseraError(err, 'already-exists')
            ? new TesseraError('conflict', 'IPAM config created concurrently', { cause: err })
            : err;
        });
      } else await this.backend.update(ipamKeys.config, text, cur.revision);
      return next;
    });
  }

  // ---- assignment -----------------------------------------------------------------------------

  private async loadContext(host: string, signal?: AbortSignal): Promise<AssignContext> {
    const [pools, reservations, config, labels] = await Promise.all([
      loadPools(this.backend, signal),
      loadReservations(this.backend, signal),
      this.getConfig(signal),
      loadNodeLabels(this.backend, host, signal),
    ]);
    return { pools, reservations, config, labels };
  }

  async autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult> {
    validateHandleId(args.handleId);
    for (const [n, v] of [
      ['num4', args.num4],
      ['num6', args.num6],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new TesseraError('validation', `cannot auto-assign: ${n} "${v}" must be an integer >= 0`);
    }
    if (!args.hostname) throw new TesseraError('validation', 'cannot auto-assign: hostname is empty');
    if (this.batcher) return this.batcher.autoAssign(args);
    return this.autoAssignPlain(args);
  }

  private autoAssignPlain(args: AutoAssignArgs): Promise<AutoAssignResult> {
    return this.inHostQueue(args.hostname, async () => {
      if (args.reuseHandle) {
        const held = await this.ipsByHandle(args.handleId, args.signal);
        if (held.length > 0)
          return { ipv4: held.filter((i) => i.family === 4), ipv6: held.filter((i) => i.family === 6) };
      }
      const ctx = await this.loadContext(args.hostname, args.signal);
      const use = args.use ?? 'Workload';
      // Resolve both families' pools before writing anything, so a bad pool name changes nothing.
      const pools4 = args.num4 > 0 ? selectPools(ctx.pools, 4, use, ctx.labels, args.ipv4Pools) : [];
      const pools6 = args.num6 > 0 ? selectPools(ctx.pools, 6, use, ctx.labels, args.ipv6Pools) : [];
      const ipv4 = await this.assignFamily(4, args.num4, pools4, args, ctx, use);
      try {
        const ipv6 = await this.assignFamily(6, args.num6, pools6, args, ctx, use);
        return { ipv4, ipv6 };
      } catch (err) {
        await this.releaseAssigned(ipv4, args.handleId);
        throw err;
      }
    });
  }

  private async releaseAssigned(ips: AssignedIp[], handleId: string): Promise<void> {
    if (ips.length === 0) return;
    await this.releaseIps(ips.map((ip) => ({ address: ip.address, sequenceNumber: ip.sequenceNumber, handleId })));
  }

  private async assignFamily(
    family: IpFamilyNum,
    num: number,
    pools: PoolInfo[],
    args: AutoAssignArgs,
    ctx: AssignContext,
    use: IpUse,
  ): Promise<AssignedIp[]> {
    if (num === 0) return [];
    const host = args.hostname;
    const action = `cannot assign ${num} ${familyName(family)} address(es) for handle "${args.handleId}" on host "${host}"`;
    if (pools.length === 0) {
      const requested = family === 4 ? args.ipv4Pools : args.ipv6Pools;
      throw new TesseraError(
        'exhausted',
        requested?.length
          ? `${action}: pools ${requested.map((p) => `"${p}"`).join(', ')} do not select this host or do not allow "${use}"`
          : `${action}: no enabled ${familyName(family)} IPPool selects this host and allows "${use}"`,
      );
    }
    const got: AssignedIp[] = [];
    // Why step 2 stopped claiming, for the message: the pools are not exhausted when the host hit
    // its own block limit.
    let stop: 'host-limit' | 'no-free-block' | undefined;
    let ownBlocks = 0;
    // The host's blocks inside the pools this request may use: blocks it has in other pools are
    // not "full" for this request, they are out of scope (the bug: they were counted as full).
    let ownInPools = 0;
    try {
      // 1. The host's own blocks.
      const affine = await this.affineBlocks(host, family, args.signal);
      ownBlocks = affine.length;
      for (const cidr of affine) {
        const pool = poolForCidr(pools, parseCidr(cidr));
        if (pool === undefined) continue;
        ownInPools++;
        if (got.length >= num) continue;
        got.push(
          ...(await this.assignInBlock(
            cidr,
            pool,
            num - got.length,
            args.handleId,
            args.attrs,
            ctx,
            host,
            args.signal,
          )),
        );
      }
      // 2. Claim new blocks, up to maxBlocksPerHost.
      let owned = affine.length;
      while (got.length < num) {
        if (ctx.config.maxBlocksPerHost > 0 && owned >= ctx.config.maxBlocksPerHost) {
          stop = 'host-limit';
          break;
        }
        const claimed = await this.claimBlock(host, pools, ctx, args.signal);
        if (claimed === undefined) {
          stop = 'no-free-block';
          break;
        }
        owned++;
        got.push(
          ...(await this.assignInBlock(
            claimed.cidr,
            claimed.pool,
            num - got.length,
            args.handleId,
            args.attrs,
            ctx,
            host,
            args.signal,
          )),
        );
      }
      // 3. Borrow from other hosts' blocks.
      if (got.length < num && !ctx.config.strictAffinity) {
        const { items } = await this.backend.list(ipamKeys.blocksPrefix, args.signal);
        for (const kv of items) {
          if (got.length >= num) break;
          const b = parseBlock(kv.value, kv.key);
          if (b.affinity === hostAffinity(host)) continue;
          const pool = poolForCidr(pools, parseCidr(b.cidr));
          if (pool === undefined) continue;
          if (assignableCount(b, reservedOrdinals(b, ctx.reservations)) === 0) continue;
          got.push(
            ...(await this.assignInBlock(
              b.cidr,
              pool,
              num - got.length,
              args.handleId,
              args.attrs,
              ctx,
              undefined,
              args.signal,
            )),
          );
        }
      }
    } catch (err) {
      await this.releaseAssigned(got, args.handleId).catch(() => undefined);
      throw err;
    }
    if (got.length < num) {
      await this.releaseAssigned(got, args.handleId);
      const elsewhere = ctx.config.strictAffinity
        ? await this.freeInOtherHostsBlocks(host, pools, ctx, args.signal)
        : 0;
      throw new TesseraError(
        'exhausted',
        `${action}: ${exhaustionReason({ pools, ownInPools, ownBlocks, stop, config: ctx.config, freeElsewhere: elsewhere })}`,
        { details: { pools: pools.map((p) => p.name), wanted: num, got: got.length } },
      );
    }
    return got;
  }

  /** Free addresses in blocks of `pools` affine to other hosts (or to none): what borrowing could use. */
  private async freeInOtherHostsBlocks(
    host: string,
    pools: PoolInfo[],
    ctx: AssignContext,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const { items } = await this.backend.list(ipamKeys.blocksPrefix, signal);
    let free = 0;
    for (const kv of items) {
      const b = parseBlock(kv.value, kv.key);
      if (b.affinity === hostAffinity(host) || poolForCidr(pools, parseCidr(b.cidr)) === undefined) continue;
      free += assignableCount(b, reservedOrdinals(b, ctx.reservations));
    }
    return free;
  }

  /** One block, one CAS transaction (block + handle record), retried on conflict. */
  private async assignInBlock(
    cidr: string,
    pool: PoolInfo,
    num: number,
    handleId: string,
    attrs: IpamAttrs,
    ctx: AssignContext,
    requireAffinityHost: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<AssignedIp[]> {
    return this.inBlockQueue(cidr, () =>
      withCasRetry(this.retry, `cannot assign addresses in block "${cidr}"`, signal, async () => {
        const cur = await readBlock(this.backend, cidr, signal);
        if (cur === undefined || cur.value.deleted) return [];
        if (requireAffinityHost !== undefined && cur.value.affinity !== hostAffinity(requireAffinityHost)) return [];
        const r = assignFromBlock(cur.value, num, handleId, attrs, reservedOrdinals(cur.value, ctx.reservations));
        if (r.assigned.length === 0) return [];
        await this.commitBlock(cidr, cur.revision, r.block, handleId, r.assigned.length, signal);
        const prefixLength = parseCidr(cidr).prefix;
        return r.assigned.map((a) => ({
          address: a.address,
          family: pool.family,
          prefixLength,
          blockCidr: cidr,
          sequenceNumber: a.sequenceNumber,
          pool: pool.name,
        }));
      }),
    );
  }

  /** Writes a changed block together with the handle's count change, atomically. */
  private async commitBlock(
    cidr: string,
    blockRevision: number,
    block: AllocationBlock,
    handleId: string,
    delta: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const ops: TxnOp[] = [
      { op: 'update', key: ipamKeys.block(cidr), value: JSON.stringify(block), expectedRevision: blockRevision },
    ];
    const h = await readHandle(this.backend, handleId, signal);
    const next = adjustHandle(h?.value, handleId, cidr, delta);
    const hkey = ipamKeys.handle(handleId);
    if (next === undefined) {
      if (h !== undefined) ops.push({ op: 'delete', key: hkey, expectedRevision: h.revision });
    } else if (h === undefined) ops.push({ op: 'create', key: hkey, value: JSON.stringify(next) });
    else ops.push({ op: 'update', key: hkey, value: JSON.stringify(next), expectedRevision: h.revision });
    await this.backend.txn(ops, signal);
  }

  async assignIp(args: AssignIpArgs): Promise<AssignedIp> {
    validateHandleId(args.handleId);
    const ip = parseIp(args.ip);
    return this.inHostQueue(args.hostname, async () => {
      const ctx = await this.loadContext(args.hostname, args.signal);
      const pool = poolForIp(ctx.pools, ip);
      const action = `cannot assign address "${args.ip}"`;
      if (pool === undefined) throw new TesseraError('not-found', `${action}: no IPPool contains it`);
      if (pool.disabled) throw new TesseraError('validation', `${action}: pool "${pool.name}" is disabled`);
      const canonical = `${addressOfCidr(parseCidr(`${args.ip}/${pool.blockSize}`, { strict: false }))}/${pool.blockSize}`;
      return withCasRetry(this.retry, action, args.signal, async () => {
        let cur = await readBlock(this.backend, canonical, args.signal);
        if (cur === undefined) {
          // The block does not exist yet: claim it for this host (Calico does the same).
          await this.claimSpecificBlock(args.hostname, parseCidr(canonical), args.signal);
          cur = await readBlock(this.backend, canonical, args.signal);
          if (cur === undefined) throw new TesseraError('conflict', `${action}: block "${canonical}" vanished`);
        }
        const ordinal = ordinalOf(cur.value, ip)!;
        const r = assignOrdinal(
          cur.value,
          ordinal,
          args.handleId,
          args.attrs,
          reservedOrdinals(cur.value, ctx.reservations),
        );
        await this.commitBlock(canonical, cur.revision, r.block, args.handleId, 1, args.signal);
        const a = r.assigned[0]!;
        return {
          address: a.address,
          family: ip.family,
          prefixLength: pool.blockSize,
          blockCidr: canonical,
          sequenceNumber: a.sequenceNumber,
          pool: pool.name,
        };
      });
    });
  }

  // ---- affinities and claims ------------------------------------------------------------------

  /**
   * CIDRs of the host's confirmed blocks of `family`, sorted. Pending affinities are repaired
   * here: confirmed when the block exists with this host's affinity, deleted otherwise.
   */
  async affineBlocks(host: string, family: IpFamilyNum, signal?: AbortSignal): Promise<string[]> {
    const { items } = await this.backend.list(ipamKeys.hostAffinitiesPrefix(host), signal);
    const out: string[] = [];
    for (const kv of items) {
      const aff = parseAffinity(kv);
      if (aff === undefined) {
        await this.backend.delete(kv.key, kv.revision, signal).catch(ignoreConflict);
        continue;
      }
      const cidr = tryCidr(aff.cidr);
      if (cidr === undefined || cidr.family !== family) continue;
      if (aff.state === 'pending') {
        if (!(await this.repairPendingAffinity(aff, kv.revision, signal))) continue;
      }
      out.push(aff.cidr);
    }
    return out.sort();
  }

  /** True when the affinity turned out to be real (now confirmed). */
  async repairPendingAffinity(aff: BlockAffinity, revision: number, signal?: AbortSignal): Promise<boolean> {
    const key = ipamKeys.affinity(aff.host, aff.cidr);
    const block = await readBlock(this.backend, aff.cidr, signal);
    if (block !== undefined && block.value.affinity === hostAffinity(aff.host)) {
      const confirmed: BlockAffinity = { ...aff, state: 'confirmed' };
      await this.backend.update(key, JSON.stringify(confirmed), revision).catch(ignoreConflict);
      return true;
    }
    // No block (the claimer died before creating it, or lost the race): drop the claim. A claimer
    // that is still running re-creates the affinity when it confirms.
    await this.backend.delete(key, revision, signal).catch(ignoreConflict);
    return false;
  }

  /** Finds and claims a free block in the first pool that has one. */
  private async claimBlock(
    host: string,
    pools: PoolInfo[],
    ctx: AssignContext,
    signal: AbortSignal | undefined,
  ): Promise<{ cidr: string; pool: PoolInfo } | undefined> {
    const { items } = await this.backend.list(ipamKeys.blocksPrefix, signal);
    const existing = items.map((kv) => parseCidr(parseBlock(kv.value, kv.key).cidr));
    const existingText = new Set(items.map((kv) => parseBlock(kv.value, kv.key).cidr));
    for (const pool of pools) {
      const n = blockCount(pool.cidr, pool.blockSize);
      // Start at a host-dependent offset so concurrent hosts rarely race for the same block.
      const start = BigInt(stableHash(host)) % n;
      let skippedReserved = 0;
      for (let i = 0n; i < n; i++) {
        throwIfAborted(signal, `cannot claim a block for host "${host}"`);
        const cand = nthBlock(pool.cidr, pool.blockSize, (start + i) % n);
        const text = `${addressOfCidr(cand)}/${cand.prefix}`;
        if (existingText.has(text) || existing.some((e) => cidrOverlaps(e, cand))) continue;
        if (assignableCount(newBlock(cand, null), reservedOrdinals(newBlock(cand, null), ctx.reservations)) === 0) {
          // Bounded: a huge reservation must not make us walk 2^58 IPv6 blocks.
          if (++skippedReserved > 4096) break;
          continue;
        }
        if (await this.claimSpecificBlock(host, cand, signal)) return { cidr: text, pool };
      }
    }
    return undefined;
  }

  /**
   * Two-phase claim: pending affinity → CAS-create the block → confirm. True when the block is
   * (now) this host's; false when another host got it first.
   */
  private async claimSpecificBlock(host: string, cidr: Cidr, signal: AbortSignal | undefined): Promise<boolean> {
    const text = `${addressOfCidr(cidr)}/${cidr.prefix}`;
    const affKey = ipamKeys.affinity(host, text);
    const pending: BlockAffinity = { host, cidr: text, state: 'pending' };
    let pendingRev: number | undefined;
    try {
      pendingRev = (await this.backend.create(affKey, JSON.stringify(pending))).revision;
    } catch (err) {
      if (!isTesseraError(err, 'already-exists')) throw err;
    }
    let ours = false;
    try {
      await this.backend.create(ipamKeys.block(text), JSON.stringify(newBlock(cidr, hostAffinity(host))));
      ours = true;
    } catch (err) {
      if (!isTesseraError(err, 'already-exists')) throw err;
      const b = await readBlock(this.backend, text, signal);
      ours = b !== undefined && b.value.affinity === hostAffinity(host);
    }
    if (!ours) {
      if (pendingRev !== undefined) await this.backend.delete(affKey, pendingRev, signal).catch(ignoreConflict);
      return false;
    }
    const confirmed = JSON.stringify({ ...pending, state: 'confirmed' } satisfies BlockAffinity);
    // put, not update: a concurrent repair may have deleted our pending affinity meanwhile.
    await this.backend.put(affKey, confirmed, { ...(signal ? { signal } : {}) });
    return true;
  }

  /**
   * Node removal: empty blocks of the host are deleted with their affinity; blocks still holding
   * addresses lose their affinity (they become borrowable, as in Calico).
   */
  async releaseHostAffinities(host: string, signal?: AbortSignal): Promise<void> {
    const { items } = await this.backend.list(ipamKeys.hostAffinitiesPrefix(host), signal);
    for (const kv of items) {
      const aff = parseAffinity(kv);
      if (aff !== undefined) {
        await withCasRetry(this.retry, `cannot release block "${aff.cidr}" of host "${host}"`, signal, async () => {
          const b = await readBlock(this.backend, aff.cidr, signal);
          if (b === undefined || b.value.affinity !== hostAffinity(host)) return;
          if (blockIsEmpty(b.value)) {
            await this.backend.txn(
              [{ op: 'delete', key: ipamKeys.block(aff.cidr), expectedRevision: b.revision }],
              signal,
            );
          } else {
            await this.backend.update(
              ipamKeys.block(aff.cidr),
              JSON.stringify({ ...b.value, affinity: null }),
              b.revision,
            );
          }
        });
      }
      await this.backend.delete(kv.key, undefined, signal);
    }
  }

  // ---- release --------------------------------------------------------------------------------

  async releaseIps(targets: readonly (string | ReleaseTarget)[], signal?: AbortSignal): Promise<ReleaseResult> {
    const result: ReleaseResult = { released: [], stale: [], notAllocated: [] };
    const norm = targets.map((t) => (typeof t === 'string' ? { address: t } : t));
    for (const t of norm)
      if (tryParseIp(t.address) === undefined)
        throw new TesseraError('validation', `cannot release address "${t.address}": not an IP address`);
    const { items } = await this.backend.list(ipamKeys.blocksPrefix, signal);
    // Each block's range is parsed once, not once per target: a bulk release (IPAM GC) passes
    // thousands of targets over thousands of blocks.
    const ranges = items.map((kv) => {
      const b = parseBlock(kv.value, kv.key);
      const c = parseCidr(b.cidr);
      const first = cidrFirst(c);
      // Only the range is kept: holding every parsed block through the releases costs the IPAM
      // GC ~100 MB at 150k allocations, and releaseInBlock re-reads each block anyway.
      return { cidr: b.cidr, family: c.family, first, end: first + BigInt(b.allocations.length) };
    });
    const byBlock = new Map<string, ReleaseRequest[]>();
    for (const t of norm) {
      const ip = parseIp(t.address);
      const r = ranges.find((x) => x.family === ip.family && ip.value >= x.first && ip.value < x.end);
      if (r === undefined) {
        result.notAllocated.push(t.address);
        continue;
      }
      const req: ReleaseRequest = { ordinal: Number(ip.value - r.first) };
      if (t.sequenceNumber !== undefined) req.sequenceNumber = t.sequenceNumber;
      if (t.handleId !== undefined) req.handleId = t.handleId;
      const list = byBlock.get(r.cidr) ?? [];
      list.push(req);
      byBlock.set(r.cidr, list);
    }
    // Blocks are independent (each is its own CAS): release up to 8 at once, results in block order.
    const entries = [...byBlock];
    const results: ReleaseResult[] = new Array(entries.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, entries.length) }, async () => {
        while (next < entries.length) {
          const i = next++;
          const [cidr, reqs] = entries[i]!;
          results[i] = await this.releaseInBlock(cidr, (b) => releaseFromBlock(b, reqs), undefined, signal);
        }
      }),
    );
    for (const r of results) {
      result.released.push(...r.released);
      result.stale.push(...r.stale);
      result.notAllocated.push(...r.notAllocated);
    }
    return result;
  }

  async releaseByHandle(handleId: string, signal?: AbortSignal): Promise<ReleaseResult> {
    validateHandleId(handleId);
    if (this.batcher) return this.batcher.releaseByHandle(handleId, signal);
    return this.releaseByHandlePlain(handleId, signal);
  }

  private async releaseByHandlePlain(handleId: string, signal?: AbortSignal): Promise<ReleaseResult> {
    const result: ReleaseResult = { released: [], stale: [], notAllocated: [] };
    const h = await readHandle(this.backend, handleId, signal);
    if (h === undefined) return result;
    for (const cidr of Object.keys(h.value.block)) {
      const r = await this.releaseInBlock(cidr, (b) => releaseHandleFromBlock(b, handleId), handleId, signal);
      result.released.push(...r.released);
    }
    return result;
  }

  /**
   * Applies a release to one block in one transaction together with every affected handle
   * record. `dropHandle` also clears that handle's entry for this block even if counts disagree.
   */
  private async releaseInBlock(
    cidr: string,
    compute: (b: AllocationBlock) => ReturnType<typeof releaseFromBlock>,
    dropHandle: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ReleaseResult> {
    return this.inBlockQueue(cidr, () =>
      withCasRetry(this.retry, `cannot release addresses in block "${cidr}"`, signal, async () => {
        const cur = await readBlock(this.backend, cidr, signal);
        const ops: TxnOp[] = [];
        const deltas = new Map<string, number>();
        let out: ReleaseResult = { released: [], stale: [], notAllocated: [] };
        if (cur !== undefined) {
          const r = compute(cur.value);
          out = {
            released: r.released.map((x) => x.address),
            stale: r.stale.map((o) => addressOf(cur.value, o)),
            notAllocated: r.notAllocated.map((o) => addressOf(cur.value, o)),
          };
          for (const x of r.released)
            if (x.handleId !== null) deltas.set(x.handleId, (deltas.get(x.handleId) ?? 0) - 1);
          if (r.released.length > 0) {
            const key = ipamKeys.block(cidr);
            // An empty block nobody is affine to is garbage: delete it so the range can be re-claimed.
            if (blockIsEmpty(r.block) && r.block.affinity === null)
              ops.push({ op: 'delete', key, expectedRevision: cur.revision });
            else ops.push({ op: 'update', key, value: JSON.stringify(r.block), expectedRevision: cur.revision });
          }
        }
        if (dropHandle !== undefined && !deltas.has(dropHandle)) deltas.set(dropHandle, 0);
        for (const [handleId, delta] of deltas) {
          const h = await readHandle(this.backend, handleId, signal);
          if (h === undefined) continue;
          const next =
            handleId === dropHandle
              ? adjustHandle(h.value, handleId, cidr, -(h.value.block[cidr] ?? 0))
              : adjustHandle(h.value, handleId, cidr, delta);
          const hkey = ipamKeys.handle(handleId);
          if (next === undefined) ops.push({ op: 'delete', key: hkey, expectedRevision: h.revision });
          else ops.push({ op: 'update', key: hkey, value: JSON.stringify(next), expectedRevision: h.revision });
        }
        if (ops.length > 0) await this.backend.txn(ops, signal);
        return out;
      }),
    );
  }

  // ---- queries --------------------------------------------------------------------------------

  async ipsByHandle(handleId: string, signal?: AbortSignal): Promise<AssignedIp[]> {
    validateHandleId(handleId);
    const h = await readHandle(this.backend, handleId, signal);
    if (h === undefined) return [];
    const pools = await loadPools(this.backend, signal);
    const out: AssignedIp[] = [];
    for (const cidr of Object.keys(h.value.block)) {
      const b = await readBlock(this.backend, cidr, signal);
      if (b === undefined) continue;
      const c = parseCidr(cidr);
      for (const o of ordinalsOfHandle(b.value, handleId)) {
        out.push({
          address: addressOf(b.value, o),
          family: c.family,
          prefixLength: c.prefix,
          blockCidr: cidr,
          sequenceNumber: b.value.sequenceNumberForAllocation[String(o)] ?? 0,
          pool: poolForCidr(pools, c)?.name ?? '',
        });
      }
    }
    return out;
  }

  async lookupIp(address: string, signal?: AbortSignal): Promise<IpInfo> {
    const ip = parseIp(address);
    const [{ items }, pools, reservations] = await Promise.all([
      this.backend.list(ipamKeys.blocksPrefix, signal),
      loadPools(this.backend, signal),
      loadReservations(this.backend, signal),
    ]);
    const pool = poolForIp(pools, ip);
    for (const kv of items) {
      const b = parseBlock(kv.value, kv.key);
      const o = ordinalOf(b, ip);
      if (o === undefined) continue;
      const info: IpInfo = { address: addressOf(b, o), blockCidr: b.cidr, affinity: b.affinity, state: 'free' };
      if (pool) info.pool = pool.name;
      const a = allocationsOf(b).find((x) => x.ordinal === o);
      if (a !== undefined) {
        info.state = 'allocated';
        if (a.handleId !== null) info.handleId = a.handleId;
        if (a.secondary !== null) info.attrs = a.secondary;
        if (a.sequenceNumber !== undefined) info.sequenceNumber = a.sequenceNumber;
      } else if (reservedOrdinals(b, reservations).has(o)) info.state = 'reserved';
      return info;
    }
    const info: IpInfo = { address: formatIp(ip.family, ip.value), blockCidr: '', affinity: null, state: 'no-block' };
    if (pool) info.pool = pool.name;
    return info;
  }
}

/**
 * Why an auto-assign found too few addresses, said once and about the pools the request could use:
 * the host's own blocks in them, why no new block could be claimed (the pools have none left, or the
 * host is at maxBlocksPerHost, which is not the pools' fault), and why borrowing did not help.
 */
export function exhaustionReason(r: {
  pools: readonly PoolInfo[];
  ownInPools: number;
  ownBlocks: number;
  stop: 'host-limit' | 'no-free-block' | undefined;
  config: IpamConfig;
  freeElsewhere: number;
}): string {
  const names = r.pools.map((p) => `"${p.name}" (${p.cidrText})`).join(', ');
  const one = r.pools.length === 1;
  const them = one ? 'the pool' : 'these pools';
  const own =
    r.ownInPools === 0
      ? `the host has no block of its own in ${them}`
      : `the host's ${r.ownInPools} block(s) in ${them} are full`;
  const claim =
    r.stop === 'host-limit'
      ? `it may claim no new block (it holds ${r.ownBlocks}, maxBlocksPerHost=${r.config.maxBlocksPerHost})`
      : `${one ? 'the pool has' : 'the pools have'} no unclaimed block left`;
  let borrow: string;
  if (!r.config.strictAffinity) borrow = `no other host's block in ${them} has a free address`;
  else if (r.freeElsewhere > 0)
    borrow = `strictAffinity forbids borrowing the ${r.freeElsewhere} free address(es) in other hosts' blocks`;
  else borrow = `no other host's block in ${them} has a free address either (and strictAffinity forbids borrowing)`;
  return `${one ? 'pool' : 'pools'} ${names}: ${own}, ${claim}, and ${borrow}`;
}

function addressOfCidr(c: Cidr): string {
  return formatIp(c.family, cidrFirst(c));
}

function tryCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

function ignoreConflict(err: unknown): undefined {
  if (isTesseraError(err, 'conflict') || isTesseraError(err, 'not-found')) return undefined;
  throw err;
}
