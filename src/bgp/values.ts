/** Small pure parsers for the values BGP resources carry (AS numbers, durations, peer IPs). */
import { decode } from '../api/index.js';
import { checkCidr, formatIp, tryParseIp, type Cidr, type IpFamily } from '../lib/ip.js';

/** Spec fields read as api/decode.ts reads them, like every other consumer of stored resources. */
export type Obj = decode.Obj;
export const { obj, str } = decode;
export const strings = decode.strs;

export const DEFAULT_AS = 64512;
export const MAX_AS = 4294967295;

/** `64512`, `"64512"` or dotted `"1.10"` (high.low); undefined when absent or invalid. */
export function parseAsNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= MAX_AS ? v : undefined;
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return parseAsNumber(Number(v));
  const m = /^(\d+)\.(\d+)$/.exec(v);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > 65535 || lo > 65535) return undefined;
  return parseAsNumber(hi * 65536 + lo);
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration (`120s`, `2m`, `1h30m`) in whole seconds (rounded up); undefined if not one. */
export function parseDurationSeconds(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === v.length && pos > 0 ? Math.ceil(total) : undefined;
}

export interface PeerAddress {
  address: string;
  family: IpFamily;
  port?: number;
}

/** `IP`, `IPv4:port` or `[IPv6]:port`. */
export function parsePeerIp(v: unknown): PeerAddress | undefined {
  if (typeof v !== 'string') return undefined;
  const bare = tryParseIp(v);
  if (bare) return { address: formatIp(bare.family, bare.value), family: bare.family };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([\d.]+):(\d+)$/.exec(v);
  if (!m) return undefined;
  const ip = tryParseIp(m[1]!);
  const port = Number(m[2]);
  if (!ip || port < 1 || port > 65535 || v.startsWith('[') !== (ip.family === 6)) return undefined;
  return { address: formatIp(ip.family, ip.value), family: ip.family, port };
}

/** `10.0.0.1/24` or `10.0.0.1` → the address and, when a length was given, its subnet. */
export function parseHostAddress(v: unknown, family: IpFamily): { address: string; subnet?: Cidr } | undefined {
  const text = str(v);
  if (!text) return undefined;
  const [addr] = text.split('/');
  const ip = tryParseIp(addr ?? '');
  if (!ip || ip.family !== family) return undefined;
  const out: { address: string; subnet?: Cidr } = { address: formatIp(ip.family, ip.value) };
  if (text.includes('/')) {
    const c = checkCidr(text, { strict: false }).cidr;
    if (c) out.subnet = c;
  }
  return out;
}

/** BIRD string literals have no escapes: a value with `"`, `\` or a control character cannot be quoted. */
export function birdQuotable(s: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what BIRD cannot quote
  return !/["\\\u0000-\u001f\u007f]/.test(s);
}

/** 32-bit FNV-1a of a string as a dotted quad: a stable router id for a node with no IPv4 address. */
export function routerIdFromName(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].join('.');
}

/** Protocol-name fragment for an address: `10.0.0.2` → `10_0_0_2`, `fd00::1` → `fd00__1`. */
export const addressId = (address: string): string => address.replace(/[.:]/g, '_');
