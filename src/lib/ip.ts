/**
 * IPv4/IPv6 address and CIDR math on bigints. Pure: shared by validation, IPAM block math, policy
 * sets and route calculation. Addresses are canonicalised on output (RFC 5952 for IPv6).
 */
import { TesseraError } from './errors.js';

export type IpFamily = 4 | 6;

export interface IpAddr {
  family: IpFamily;
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  /** Network address (host bits may be set only when parsed non-strictly). */
  value: bigint;
  prefix: number;
}

export const familyBits = (f: IpFamily): number => (f === 4 ? 32 : 128);

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  let text = s;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (halves.length === 2 ? groups < 1 : head.length !== 8) return undefined;
  const all = [...head, ...Array<string>(groups).fill('0'), ...tail];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

/** Parses an address; undefined when it is not one. */
export function tryParseIp(s: string): IpAddr | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const v = parseV6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function parseIp(s: string): IpAddr {
  const ip = tryParseIp(s);
  if (!ip) throw new TesseraError('validation', `invalid IP address "${s}"`);
  return ip;
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((sh) => ((value >> sh) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export const ipToString = (ip: IpAddr): string => formatIp(ip.family, ip.value);

export function maskOf(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(familyBits(family));
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

export interface ParseCidrOptions {
  /** Reject host bits set (default true). */
  strict?: boolean;
  /** Accept a bare address as a full-length prefix (default false). */
  allowBareIp?: boolean;
}

/** Parses a CIDR; undefined plus a reason when it is not a valid one. */
export function checkCidr(s: string, options: ParseCidrOptions = {}): { cidr?: Cidr; error?: string } {
  if (typeof s !== 'string') return { error: `"${String(s)}" is not a CIDR` };
  const slash = s.indexOf('/');
  if (slash < 0 && !options.allowBareIp) return { error: `"${s}" is not a CIDR (missing "/<prefix length>")` };
  const ip = tryParseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return { error: `"${s}" is not a CIDR (bad address)` };
  const bits = familyBits(ip.family);
  let prefix = bits;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return { error: `"${s}" has an invalid prefix length` };
    prefix = Number(p);
  }
  const network = ip.value & maskOf(ip.family, prefix);
  if (options.strict !== false && network !== ip.value) {
    return {
      error: `"${s}" has host bits set (did you mean "${formatIp(ip.family, network)}/${prefix}"?)`,
    };
  }
  return { cidr: { family: ip.family, value: options.strict === false ? ip.value : network, prefix } };
}

export function parseCidr(s: string, options: ParseCidrOptions = {}): Cidr {
  const r = checkCidr(s, options);
  if (!r.cidr) throw new TesseraError('validation', `invalid CIDR: ${r.error}`);
  return r.cidr;
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.family, c.value)}/${c.prefix}`;

/** The network (host bits cleared) of a CIDR. */
export const cidrNetwork = (c: Cidr): Cidr => ({ ...c, value: c.value & maskOf(c.family, c.prefix) });

export const cidrSize = (c: Cidr): bigint => 1n << BigInt(familyBits(c.family) - c.prefix);

export const cidrFirst = (c: Cidr): bigint => c.value & maskOf(c.family, c.prefix);
export const cidrLast = (c: Cidr): bigint => cidrFirst(c) + cidrSize(c) - 1n;

export function cidrContainsIp(c: Cidr, ip: IpAddr): boolean {
  return c.family === ip.family && (ip.value & maskOf(c.family, c.prefix)) === cidrFirst(c);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.prefix >= outer.prefix &&
    (inner.value & maskOf(outer.family, outer.prefix)) === cidrFirst(outer)
  );
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

/** The canonical network of the given prefix length containing `ip` ({{podNet ip len}}). */
export function networkOf(ip: IpAddr, prefix: number): Cidr {
  return { family: ip.family, value: ip.value & maskOf(ip.family, prefix), prefix };
}

/** Host-length CIDR for an address: "/32" or "/128". */
export const hostCidr = (ip: IpAddr): Cidr => ({ family: ip.family, value: ip.value, prefix: familyBits(ip.family) });

/** Normalises an address string or CIDR string to canonical text; undefined if invalid. */
export function canonicalIp(s: string): string | undefined {
  const ip = tryParseIp(s);
  return ip ? ipToString(ip) : undefined;
}
