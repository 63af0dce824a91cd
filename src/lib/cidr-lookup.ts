/**
 * "Which of these CIDRs holds this address?" in O(distinct prefix lengths) instead of a scan over
 * every CIDR. Route calculation asks it once per workload address, against every IPAM block of
 * the cluster: a scan made each cycle O(workloads x blocks), 1.4 s at 1,000 nodes with 30 pods
 * each. Pure.
 *
 * When CIDRs overlap (bad data), `find` answers what a scan in insertion order would: the
 * earliest-added CIDR that holds the address.
 */
import { maskOf, type Cidr, type IpAddr, type IpFamily } from './ip.js';

interface Entry<T> {
  order: number;
  value: T;
}

export class CidrLookup<T> {
  /** `${family}/${prefix}` -> network value -> first entry added for that network. */
  private readonly byLength = new Map<string, { family: IpFamily; mask: bigint; nets: Map<bigint, Entry<T>> }>();
  private count = 0;

  constructor(entries: Iterable<readonly [Cidr, T]> = []) {
    for (const [c, v] of entries) this.add(c, v);
  }

  add(c: Cidr, value: T): void {
    const k = `${c.family}/${c.prefix}`;
    let level = this.byLength.get(k);
    if (!level) this.byLength.set(k, (level = { family: c.family, mask: maskOf(c.family, c.prefix), nets: new Map() }));
    const net = c.value & level.mask;
    if (!level.nets.has(net)) level.nets.set(net, { order: this.count, value });
    this.count++;
  }

  find(ip: IpAddr): T | undefined {
    let best: Entry<T> | undefined;
    for (const level of this.byLength.values()) {
      if (level.family !== ip.family) continue;
      const e = level.nets.get(ip.value & level.mask);
      if (e && (!best || e.order < best.order)) best = e;
    }
    return best?.value;
  }
}
