/**
 * Pure allocation-block math (libcalico-go `ipam_block.go`). Every function returns a new block and
 * never mutates its input, so the allocator can recompute from a fresh read after a CAS conflict.
 *
 * Invariants (checked by `blockInvariantProblems`, property-tested):
 * - every ordinal is either in `unallocated` exactly once or has `allocations[o] !== null`, never both;
 * - `sequenceNumberForAllocation` has an entry exactly for the allocated ordinals;
 * - every attribute is referenced by at least one allocation (unused ones are compacted away).
 */
import { TesseraError } from '../lib/errors.js';
import {
  cidrContainsIp,
  cidrFirst,
  cidrOverlaps,
  cidrSize,
  formatCidr,
  formatIp,
  parseCidr,
  type Cidr,
  type IpAddr,
} from '../lib/ip.js';
import type { AllocationAttribute, AllocationBlock, IpamAttrs, IpamHandle } from './types.js';

export const hostAffinity = (host: string): string => `host:${host}`;

export function affinityHost(affinity: string | null): string | undefined {
  return affinity !== null && affinity.startsWith('host:') ? affinity.slice(5) : undefined;
}

export function newBlock(cidr: Cidr, affinity: string | null): AllocationBlock {
  const size = Number(cidrSize(cidr));
  return {
    cidr: formatCidr(cidr),
    affinity,
    allocations: new Array<number | null>(size).fill(null),
    unallocated: Array.from({ length: size }, (_, i) => i),
    attributes: [],
    sequenceNumber: 0,
    sequenceNumberForAllocation: {},
  };
}

export const blockCidrOf = (b: AllocationBlock): Cidr => parseCidr(b.cidr);

export function ordinalOf(b: AllocationBlock, ip: IpAddr): number | undefined {
  const c = blockCidrOf(b);
  if (!cidrContainsIp(c, ip)) return undefined;
  return Number(ip.value - cidrFirst(c));
}

export function addressOf(b: AllocationBlock, ordinal: number): string {
  const c = blockCidrOf(b);
  return formatIp(c.family, cidrFirst(c) + BigInt(ordinal));
}

export const blockSize = (b: AllocationBlock): number => b.allocations.length;
export const blockFree = (b: AllocationBlock): number => b.unallocated.length;
export const blockInUse = (b: AllocationBlock): number => b.allocations.length - b.unallocated.length;
export const blockIsEmpty = (b: AllocationBlock): boolean => b.unallocated.length === b.allocations.length;

/** Ordinals of the block that fall inside any of the reserved CIDRs (IPReservation). */
export function reservedOrdinals(b: AllocationBlock, reserved: readonly Cidr[]): Set<number> {
  const c = blockCidrOf(b);
  const out = new Set<number>();
  const first = cidrFirst(c);
  const last = first + cidrSize(c) - 1n;
  for (const r of reserved) {
    if (r.family !== c.family || !cidrOverlaps(c, r)) continue;
    const rFirst = cidrFirst(r);
    const rLast = rFirst + cidrSize(r) - 1n;
    const lo = rFirst > first ? rFirst : first;
    const hi = rLast < last ? rLast : last;
    for (let v = lo; v <= hi; v++) out.add(Number(v - first));
  }
  return out;
}

/** Free ordinals that may be handed out (not reserved). */
export function assignableCount(b: AllocationBlock, reserved: ReadonlySet<number>): number {
  let n = 0;
  for (const o of b.unallocated) if (!reserved.has(o)) n++;
  return n;
}

function attrsToSecondary(attrs: IpamAttrs): Record<string, string> {
  const s: Record<string, string> = { node: attrs.node, timestamp: attrs.timestamp };
  if (attrs.namespace !== undefined) s['namespace'] = attrs.namespace;
  if (attrs.pod !== undefined) s['pod'] = attrs.pod;
  return s;
}

function sameAttr(a: AllocationAttribute, b: AllocationAttribute): boolean {
  return a.handle_id === b.handle_id && JSON.stringify(a.secondary) === JSON.stringify(b.secondary);
}

function cloneBlock(b: AllocationBlock): AllocationBlock {
  return {
    ...b,
    allocations: [...b.allocations],
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({
      handle_id: a.handle_id,
      secondary: a.secondary ? { ...a.secondary } : null,
    })),
    sequenceNumberForAllocation: { ...b.sequenceNumberForAllocation },
  };
}

function attributeIndex(b: AllocationBlock, attr: AllocationAttribute): number {
  const i = b.attributes.findIndex((a) => sameAttr(a, attr));
  if (i >= 0) return i;
  b.attributes.push(attr);
  return b.attributes.length - 1;
}

export interface BlockAssignment {
  block: AllocationBlock;
  /** Assigned ordinals with the sequence number each got. */
  assigned: { ordinal: number; address: string; sequenceNumber: number }[];
}

/**
 * Assigns up to `num` free, non-reserved ordinals in free-list order. Fewer are returned when the
 * block runs out; the caller moves on to the next block.
 */
export function assignFromBlock(
  b: AllocationBlock,
  num: number,
  handleId: string,
  attrs: IpamAttrs,
  reserved: ReadonlySet<number> = new Set(),
): BlockAssignment {
  const out = cloneBlock(b);
  const assigned: BlockAssignment['assigned'] = [];
  if (num <= 0) return { block: out, assigned };
  const take: number[] = [];
  for (const o of out.unallocated) {
    if (take.length >= num) break;
    if (!reserved.has(o)) take.push(o);
  }
  if (take.length === 0) return { block: out, assigned };
  const idx = attributeIndex(out, { handle_id: handleId, secondary: attrsToSecondary(attrs) });
  const taken = new Set(take);
  out.unallocated = out.unallocated.filter((o) => !taken.has(o));
  for (const o of take) {
    out.allocations[o] = idx;
    const seq = out.sequenceNumber;
    out.sequenceNumberForAllocation[String(o)] = seq;
    out.sequenceNumber = seq + 1;
    assigned.push({ ordinal: o, address: addressOf(out, o), sequenceNumber: seq });
  }
  return { block: out, assigned };
}

/** Assigns one specific ordinal; `already-exists` if it is taken, `validation` if reserved. */
export function assignOrdinal(
  b: AllocationBlock,
  ordinal: number,
  handleId: string,
  attrs: IpamAttrs,
  reserved: ReadonlySet<number> = new Set(),
): BlockAssignment {
  const address = addressOf(b, ordinal);
  if (ordinal < 0 || ordinal >= b.allocations.length) {
    throw new TesseraError('bug', `cannot assign ordinal ${ordinal} in block "${b.cidr}": out of range`);
  }
  if (b.allocations[ordinal] !== null) {
    throw new TesseraError('already-exists', `cannot assign address "${address}": it is already in use`);
  }
  if (reserved.has(ordinal)) {
    throw new TesseraError('validation', `cannot assign address "${address}": it is reserved by an IPReservation`);
  }
  const out = cloneBlock(b);
  const idx = attributeIndex(out, { handle_id: handleId, secondary: attrsToSecondary(attrs) });
  out.unallocated = out.unallocated.filter((o) => o !== ordinal);
  out.allocations[ordinal] = idx;
  const seq = out.sequenceNumber;
  out.sequenceNumberForAllocation[String(ordinal)] = seq;
  out.sequenceNumber = seq + 1;
  return { block: out, assigned: [{ ordinal, address, sequenceNumber: seq }] };
}

/** Drops attributes nobody references and renumbers the allocations that point at the rest. */
function compactAttributes(b: AllocationBlock): void {
  const used = new Set<number>();
  for (const a of b.allocations) if (a !== null) used.add(a);
  if (used.size === b.attributes.length) return;
  const remap = new Map<number, number>();
  const kept: AllocationAttribute[] = [];
  b.attributes.forEach((attr, i) => {
    if (used.has(i)) {
      remap.set(i, kept.length);
      kept.push(attr);
    }
  });
  b.attributes = kept;
  b.allocations = b.allocations.map((a) => (a === null ? null : remap.get(a)!));
}

export interface ReleaseRequest {
  ordinal: number;
  sequenceNumber?: number;
  handleId?: string;
}

export interface BlockRelease {
  block: AllocationBlock;
  released: { ordinal: number; address: string; handleId: string | null }[];
  stale: number[];
  notAllocated: number[];
}

/**
 * Frees ordinals. An ordinal whose recorded sequence number (or handle) differs from the request's
 * is `stale`: it was released and reassigned since the caller learned of it, so it stays allocated.
 */
export function releaseFromBlock(b: AllocationBlock, requests: readonly ReleaseRequest[]): BlockRelease {
  const out = cloneBlock(b);
  const released: BlockRelease['released'] = [];
  const stale: number[] = [];
  const notAllocated: number[] = [];
  for (const r of requests) {
    const idx = out.allocations[r.ordinal];
    if (idx === null || idx === undefined) {
      notAllocated.push(r.ordinal);
      continue;
    }
    const recordedSeq = out.sequenceNumberForAllocation[String(r.ordinal)];
    const handle = out.attributes[idx]?.handle_id ?? null;
    if (
      (r.sequenceNumber !== undefined && recordedSeq !== r.sequenceNumber) ||
      (r.handleId !== undefined && handle !== r.handleId)
    ) {
      stale.push(r.ordinal);
      continue;
    }
    out.allocations[r.ordinal] = null;
    delete out.sequenceNumberForAllocation[String(r.ordinal)];
    out.unallocated.push(r.ordinal);
    released.push({ ordinal: r.ordinal, address: addressOf(out, r.ordinal), handleId: handle });
  }
  compactAttributes(out);
  return { block: out, released, stale, notAllocated };
}

/** Ordinals held by a handle. */
export function ordinalsOfHandle(b: AllocationBlock, handleId: string): number[] {
  const out: number[] = [];
  b.allocations.forEach((a, o) => {
    if (a !== null && b.attributes[a]?.handle_id === handleId) out.push(o);
  });
  return out;
}

export function releaseHandleFromBlock(b: AllocationBlock, handleId: string): BlockRelease {
  return releaseFromBlock(
    b,
    ordinalsOfHandle(b, handleId).map((ordinal) => ({ ordinal, handleId })),
  );
}

/** Handle id → number of addresses it holds in this block (allocations with a null handle count under ""). */
export function handleCounts(b: AllocationBlock): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of b.allocations) {
    if (a === null) continue;
    const h = b.attributes[a]?.handle_id ?? '';
    m.set(h, (m.get(h) ?? 0) + 1);
  }
  return m;
}

/** Everything allocated in the block. */
export function allocationsOf(b: AllocationBlock): {
  ordinal: number;
  address: string;
  handleId: string | null;
  secondary: Record<string, string> | null;
  sequenceNumber: number | undefined;
}[] {
  const out: ReturnType<typeof allocationsOf> = [];
  b.allocations.forEach((a, o) => {
    if (a === null) return;
    const attr = b.attributes[a];
    out.push({
      ordinal: o,
      address: addressOf(b, o),
      handleId: attr?.handle_id ?? null,
      secondary: attr?.secondary ?? null,
      sequenceNumber: b.sequenceNumberForAllocation[String(o)],
    });
  });
  return out;
}

/** Structural problems of a stored block (corruption); empty for every block this module builds. */
export function blockInvariantProblems(b: AllocationBlock): string[] {
  const problems: string[] = [];
  const size = b.allocations.length;
  const seen = new Set<number>();
  for (const o of b.unallocated) {
    if (o < 0 || o >= size) problems.push(`unallocated ordinal ${o} out of range`);
    else if (seen.has(o)) problems.push(`ordinal ${o} listed twice as free`);
    else if (b.allocations[o] !== null) problems.push(`ordinal ${o} is both free and allocated`);
    seen.add(o);
  }
  b.allocations.forEach((a, o) => {
    if (a === null) {
      if (!seen.has(o)) problems.push(`ordinal ${o} is neither free nor allocated`);
      if (b.sequenceNumberForAllocation[String(o)] !== undefined)
        problems.push(`free ordinal ${o} has a sequence number`);
    } else {
      if (a < 0 || a >= b.attributes.length) problems.push(`ordinal ${o} points at missing attribute ${a}`);
      const seq = b.sequenceNumberForAllocation[String(o)];
      if (seq === undefined) problems.push(`allocated ordinal ${o} has no sequence number`);
      else if (seq >= b.sequenceNumber)
        problems.push(`ordinal ${o} has sequence number ${seq} >= block's ${b.sequenceNumber}`);
    }
  });
  return problems;
}

/** Parses a stored block value; `bug` when it is not shaped like one. */
export function parseBlock(text: string, key: string): AllocationBlock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('bug', `cannot parse IPAM block at "${key}": not JSON`, { cause: err });
  }
  const b = raw as Partial<AllocationBlock>;
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.cidr !== 'string' ||
    !Array.isArray(b.allocations) ||
    !Array.isArray(b.unallocated) ||
    !Array.isArray(b.attributes) ||
    typeof b.sequenceNumber !== 'number'
  ) {
    throw new TesseraError('bug', `cannot parse IPAM block at "${key}": missing fields`);
  }
  return {
    cidr: b.cidr,
    affinity: b.affinity ?? null,
    allocations: b.allocations,
    unallocated: b.unallocated,
    attributes: b.attributes,
    sequenceNumber: b.sequenceNumber,
    sequenceNumberForAllocation: b.sequenceNumberForAllocation ?? {},
    ...(b.deleted ? { deleted: true } : {}),
  };
}

// ---- handle records -----------------------------------------------------------------------------

/** Adds `delta` (may be negative) addresses in `cidr` to a handle; undefined when it holds none. */
export function adjustHandle(
  h: IpamHandle | undefined,
  handleId: string,
  cidr: string,
  delta: number,
): IpamHandle | undefined {
  const block = { ...(h?.block ?? {}) };
  const n = (block[cidr] ?? 0) + delta;
  if (n > 0) block[cidr] = n;
  else delete block[cidr];
  return Object.keys(block).length === 0 ? undefined : { handleID: handleId, block };
}

// ---- block generation ---------------------------------------------------------------------------

/** Number of blocks of `blockPrefix` in `pool`. */
export function blockCount(pool: Cidr, blockPrefix: number): bigint {
  return 1n << BigInt(blockPrefix - pool.prefix);
}

/** The i-th block of `blockPrefix` inside `pool`. */
export function nthBlock(pool: Cidr, blockPrefix: number, i: bigint): Cidr {
  const step = cidrSize({ family: pool.family, value: 0n, prefix: blockPrefix });
  return { family: pool.family, value: cidrFirst(pool) + step * i, prefix: blockPrefix };
}

/** FNV-1a of a string: a stable, seedless start offset so hosts claim different blocks first. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
