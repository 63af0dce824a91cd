/**
 * `IpamClient`: the allocator plus the maintenance operations behind `tessera ipam show|check|release`.
 */
import { ipamKeys } from '../datastore/index.js';
import { isTesseraError } from '../lib/errors.js';
import { cidrSize, parseCidr } from '../lib/ip.js';
import { IpamAllocator } from './allocator.js';
import { blockFree, blockInUse, blockSize, hostAffinity, parseBlock } from './block.js';
import { buildReport, type IpamSnapshot } from './check.js';
import { loadPools, poolForCidr } from './pools.js';
import { parseAffinity, parseHandle, readBlock, withCasRetry } from './store.js';
import type {
  BlockAffinity,
  BlockUsage,
  CheckOptions,
  IpamReport,
  PoolUsage,
  ReleaseResult,
  ReleaseTarget,
} from './types.js';

export class IpamClient extends IpamAllocator {
  async snapshot(signal?: AbortSignal): Promise<IpamSnapshot> {
    const [blocks, handles, affinities] = await Promise.all([
      this.backend.list(ipamKeys.blocksPrefix, signal),
      this.backend.list(ipamKeys.handlesPrefix, signal),
      this.backend.list(ipamKeys.affinitiesPrefix, signal),
    ]);
    return {
      blocks: blocks.items.map((kv) => parseBlock(kv.value, kv.key)),
      handles: handles.items.map(parseHandle),
      affinities: affinities.items.map(parseAffinity).filter((a): a is BlockAffinity => a !== undefined),
    };
  }

  async check(options: CheckOptions = {}): Promise<IpamReport> {
    return buildReport(await this.snapshot(options.signal), options.liveHandles, options);
  }

  /**
   * Fixes what a report found: frees leaked and orphaned allocations (only if they still hold the
   * reported sequence number and handle), rewrites handle records to the blocks' real counts, and
   * repairs affinities. Duplicates and corrupt blocks are left for a human.
   */
  async releaseFromReport(report: IpamReport, signal?: AbortSignal): Promise<ReleaseResult> {
    const targets: ReleaseTarget[] = [...(report.leaks ?? []), ...(report.orphanAllocations ?? [])].map((e) => {
      const t: ReleaseTarget = { address: e.address };
      if (e.sequenceNumber !== undefined) t.sequenceNumber = e.sequenceNumber;
      if (e.handleId !== null) t.handleId = e.handleId;
      return t;
    });
    const result = targets.length
      ? await this.releaseIps(targets, signal)
      : { released: [], stale: [], notAllocated: [] };
    for (const o of report.orphanHandles ?? []) await this.syncHandleCount(o.handleId, o.block, signal);
    for (const a of report.affinityProblems ?? []) await this.repairAffinity(a.host, a.cidr, signal);
    return result;
  }

  /** Sets a handle record's count for one block to what the block really holds. */
  private async syncHandleCount(handleId: string, cidr: string, signal?: AbortSignal): Promise<void> {
    await withCasRetry(this.retry, `cannot repair handle "${handleId}"`, signal, async () => {
      const hkv = await this.backend.get(ipamKeys.handle(handleId), signal);
      const b = await readBlock(this.backend, cidr, signal);
      const n =
        b === undefined
          ? 0
          : b.value.allocations.filter((a) => a !== null && b.value.attributes[a]?.handle_id === handleId).length;
      if (hkv === undefined) return;
      const h = parseHandle(hkv);
      const block = { ...h.block };
      if (n > 0) block[cidr] = n;
      else delete block[cidr];
      if (Object.keys(block).length === 0) await this.backend.delete(hkv.key, hkv.revision, signal);
      else await this.backend.update(hkv.key, JSON.stringify({ handleID: handleId, block }), hkv.revision);
    });
  }

  private async repairAffinity(host: string, cidr: string, signal?: AbortSignal): Promise<void> {
    const key = ipamKeys.affinity(host, cidr);
    const kv = await this.backend.get(key, signal);
    const b = await readBlock(this.backend, cidr, signal);
    const ours = b !== undefined && b.value.affinity === hostAffinity(host);
    try {
      if (ours) await this.backend.put(key, JSON.stringify({ host, cidr, state: 'confirmed' } satisfies BlockAffinity));
      else if (kv !== undefined) await this.backend.delete(key, kv.revision, signal);
    } catch (err) {
      // Someone changed it meanwhile: the next check will look again.
      if (!isTesseraError(err, 'conflict')) throw err;
    }
  }

  /** Pool and block usage for `tessera ipam show`. */
  async usage(signal?: AbortSignal): Promise<PoolUsage[]> {
    const [pools, snap] = await Promise.all([
      loadPools(this.backend, signal),
      this.backend.list(ipamKeys.blocksPrefix, signal),
    ]);
    const blocks = snap.items.map((kv) => parseBlock(kv.value, kv.key));
    const out: PoolUsage[] = pools.map((p) => ({
      name: p.name,
      cidr: p.cidrText,
      family: p.family,
      disabled: p.disabled,
      size: cidrSize(p.cidr),
      inUse: 0,
      freeInBlocks: 0,
      blocks: [],
    }));
    for (const b of blocks) {
      const pool = poolForCidr(pools, parseCidr(b.cidr));
      const u: BlockUsage = {
        cidr: b.cidr,
        affinity: b.affinity,
        size: blockSize(b),
        inUse: blockInUse(b),
        free: blockFree(b),
      };
      if (pool) u.pool = pool.name;
      const pu = out.find((x) => x.name === pool?.name);
      if (pu) {
        pu.inUse += u.inUse;
        pu.freeInBlocks += u.free;
        pu.blocks.push(u);
      }
    }
    for (const pu of out) pu.blocks.sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
    return out.sort((a, b) => a.family - b.family || (a.name < b.name ? -1 : 1));
  }
}
