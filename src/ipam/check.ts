/**
 * `ipam check`: a pure report over a snapshot of blocks, handles and affinities (Calico's
 * `calicoctl ipam check`). Every leak/orphan entry carries the allocation's sequence number, so
 * `releaseFromReport` frees exactly what was seen and never an address reused since.
 */
import { cidrFirst, cidrLast, formatIp, parseCidr, tryParseIp, type Cidr } from '../lib/ip.js';

/** `10.0.0.5/32` or `fd00::05` → the address text allocationsOf uses. */
function canonicalIp(text: string): string {
  const ip = tryParseIp(text.replace(/\/\d+$/, ''));
  return ip ? formatIp(ip.family, ip.value) : text;
}
import { affinityHost, allocationsOf, blockInvariantProblems, hostAffinity } from './block.js';
import type { AllocationBlock, BlockAffinity, CheckOptions, IpamHandle, IpamReport, LeakEntry } from './types.js';

export interface IpamSnapshot {
  blocks: AllocationBlock[];
  handles: IpamHandle[];
  affinities: BlockAffinity[];
}

export function buildReport(
  snap: IpamSnapshot,
  liveHandles?: CheckOptions['liveHandles'],
  extra: Pick<CheckOptions, 'endpointAddresses' | 'poolCidrs'> = {},
): IpamReport {
  const report: IpamReport = {
    leaks: [],
    orphanHandles: [],
    orphanAllocations: [],
    duplicates: [],
    affinityProblems: [],
    blockProblems: [],
    problems: 0,
  };
  const isLive =
    liveHandles === undefined
      ? undefined
      : typeof liveHandles === 'function'
        ? liveHandles
        : (h: string) => (liveHandles as ReadonlySet<string>).has(h);

  // actual[handle][block] = count
  const actual = new Map<string, Map<string, number>>();
  const records = new Map(snap.handles.map((h) => [h.handleID, h]));
  const seenAddr = new Map<string, string>();
  for (const b of snap.blocks) {
    for (const p of blockInvariantProblems(b)) report.blockProblems.push({ block: b.cidr, problem: p });
    for (const a of allocationsOf(b)) {
      const prev = seenAddr.get(a.address);
      if (prev !== undefined && prev !== b.cidr) report.duplicates.push({ address: a.address, blocks: [prev, b.cidr] });
      seenAddr.set(a.address, b.cidr);
      const entry: LeakEntry = { address: a.address, blockCidr: b.cidr, handleId: a.handleId };
      if (a.sequenceNumber !== undefined) entry.sequenceNumber = a.sequenceNumber;
      if (a.secondary !== null) entry.attrs = a.secondary;
      if (a.handleId === null) {
        report.orphanAllocations.push(entry);
        continue;
      }
      const per = actual.get(a.handleId) ?? new Map<string, number>();
      per.set(b.cidr, (per.get(b.cidr) ?? 0) + 1);
      actual.set(a.handleId, per);
      if (!records.has(a.handleId)) report.orphanAllocations.push(entry);
      else if (isLive !== undefined && !isLive(a.handleId, a.secondary)) report.leaks.push(entry);
    }
  }
  for (const h of snap.handles) {
    for (const [block, recorded] of Object.entries(h.block)) {
      const n = actual.get(h.handleID)?.get(block) ?? 0;
      if (n !== recorded) report.orphanHandles.push({ handleId: h.handleID, block, recorded, actual: n });
    }
    for (const [block, n] of actual.get(h.handleID) ?? []) {
      if (h.block[block] === undefined)
        report.orphanHandles.push({ handleId: h.handleID, block, recorded: 0, actual: n });
    }
  }

  // Overlapping blocks: sort by (family, first address) and compare with the furthest end so far.
  const ranges = snap.blocks
    .map((b) => ({ b, c: parseCidr(b.cidr) as Cidr }))
    .sort(
      (x, y) =>
        x.c.family - y.c.family || (cidrFirst(x.c) < cidrFirst(y.c) ? -1 : cidrFirst(x.c) > cidrFirst(y.c) ? 1 : 0),
    );
  for (let i = 1; i < ranges.length; i++) {
    for (let j = i - 1; j >= 0; j--) {
      const a = ranges[j]!;
      const b = ranges[i]!;
      if (a.c.family !== b.c.family || cidrLast(a.c) < cidrFirst(b.c)) continue;
      report.duplicates.push({ blocks: [a.b.cidr, b.b.cidr] });
    }
  }

  const blocksByCidr = new Map(snap.blocks.map((b) => [b.cidr, b]));
  const affKeys = new Set<string>();
  for (const a of snap.affinities) {
    affKeys.add(`${a.host}|${a.cidr}`);
    const b = blocksByCidr.get(a.cidr);
    if (a.state === 'pending')
      report.affinityProblems.push({ host: a.host, cidr: a.cidr, problem: 'pending (interrupted claim)' });
    else if (b === undefined)
      report.affinityProblems.push({ host: a.host, cidr: a.cidr, problem: 'confirmed but the block does not exist' });
    else if (b.affinity !== hostAffinity(a.host)) {
      report.affinityProblems.push({
        host: a.host,
        cidr: a.cidr,
        problem: `confirmed but the block is affine to "${b.affinity ?? 'nobody'}"`,
      });
    }
  }
  for (const b of snap.blocks) {
    const host = affinityHost(b.affinity);
    if (host !== undefined && !affKeys.has(`${host}|${b.cidr}`)) {
      report.affinityProblems.push({
        host,
        cidr: b.cidr,
        problem: 'block is affine to the host but has no affinity record',
      });
    }
  }
  // As Calico's check: addresses endpoints use that IPAM does not hold (a release while in use
  // hands them to the next pod), and allocations that no pool covers any more.
  if (extra.endpointAddresses) {
    report.inUseNotAllocated = extra.endpointAddresses.filter((e) => !seenAddr.has(canonicalIp(e.address)));
  }
  if (extra.poolCidrs) {
    const pools = extra.poolCidrs.map((c) => parseCidr(c) as Cidr);
    report.outsidePools = [];
    for (const b of snap.blocks) {
      const bc = parseCidr(b.cidr) as Cidr;
      if (pools.some((p) => p.family === bc.family && cidrFirst(p) <= cidrFirst(bc) && cidrLast(bc) <= cidrLast(p)))
        continue;
      for (const a of allocationsOf(b))
        report.outsidePools.push({ address: a.address, blockCidr: b.cidr, handleId: a.handleId });
    }
  }
  report.problems =
    (report.inUseNotAllocated?.length ?? 0) +
    (report.outsidePools?.length ?? 0) +
    report.leaks.length +
    report.orphanHandles.length +
    report.orphanAllocations.length +
    report.duplicates.length +
    report.affinityProblems.length +
    report.blockProblems.length;
  return report;
}
