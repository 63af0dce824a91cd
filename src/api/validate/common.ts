/**
 * Shared field checks. Each takes the raw (already shape-checked or possibly ill-typed) value and
 * reports at most one problem; ill-typed values are skipped because shape.ts has reported them.
 */
import type { Problem } from '../../lib/errors.js';
import { isTesseraError } from '../../lib/errors.js';
import { checkCidr, tryParseIp, type Cidr, type IpAddr, type ParseCidrOptions } from '../../lib/ip.js';
import { parseSelector, validateLabelKey, validateLabelValue } from '../selector/index.js';
import { isRecord, joinPath, quote } from './shape.js';

export class Problems {
  readonly list: Problem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

export const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkSubdomain(p: Problems, path: string, v: unknown, what = 'name'): void {
  if (typeof v !== 'string') return;
  if (v.length === 0) return p.add(path, `${what} must not be empty`);
  if (v.length > 253) return p.add(path, `${what} ${quote(v)} is longer than 253 characters`);
  if (!DNS1123_SUBDOMAIN_RE.test(v)) {
    p.add(
      path,
      `${what} ${quote(v)} is not a valid DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', ` +
        `starting and ending with an alphanumeric)`,
    );
  }
}

export function checkDnsLabel(p: Problems, path: string, v: unknown, what = 'name'): void {
  if (typeof v !== 'string') return;
  if (v.length === 0) return p.add(path, `${what} must not be empty`);
  if (v.length > 63) return p.add(path, `${what} ${quote(v)} is longer than 63 characters`);
  if (!DNS1123_LABEL_RE.test(v)) {
    p.add(
      path,
      `${what} ${quote(v)} is not a valid DNS-1123 label (lower-case alphanumerics and '-', ` +
        `starting and ending with an alphanumeric; no '.')`,
    );
  }
}

export function checkSelector(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string') return;
  try {
    parseSelector(v);
  } catch (err) {
    if (!isTesseraError(err, 'validation')) throw err;
    p.add(path, err.message);
  }
}

export function checkLabels(p: Problems, path: string, v: unknown): void {
  if (!isRecord(v)) return;
  for (const [key, value] of Object.entries(v)) {
    const keyErr = validateLabelKey(key);
    if (keyErr !== undefined) p.add(joinPath(path, key), keyErr);
    if (typeof value === 'string') {
      const valueErr = validateLabelValue(value);
      if (valueErr !== undefined) p.add(joinPath(path, key), valueErr);
    }
  }
}

const utf8 = new TextEncoder();

/** Calico's validateObjectMetaAnnotations: 256 KiB of keys and values in total. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/**
 * Annotations as Calico checks them (metadata and rule metadata): each key, lower-cased, is a
 * qualified name like a label key; keys and values together stay within 256 KiB.
 */
export function checkAnnotations(p: Problems, path: string, v: unknown): void {
  if (!isRecord(v)) return;
  let size = 0;
  for (const [key, value] of Object.entries(v)) {
    if (key === '') p.add(path, 'annotation keys must not be empty');
    else {
      const err = validateLabelKey(key.toLowerCase());
      if (err !== undefined) {
        const msg = err.replace(
          `label key ${JSON.stringify(key.toLowerCase())}`,
          `annotation key ${JSON.stringify(key)}`,
        );
        p.add(joinPath(path, key), msg);
      }
    }
    size += utf8.encode(key).length + (typeof value === 'string' ? utf8.encode(value).length : 0);
  }
  if (size > ANNOTATIONS_MAX_BYTES) {
    p.add(path, `annotations total ${size} bytes, more than ${ANNOTATIONS_MAX_BYTES} (256 KiB)`);
  }
}

export function checkOneOf<T extends string>(p: Problems, path: string, v: unknown, allowed: readonly T[]): v is T {
  if (typeof v !== 'string') return false;
  if ((allowed as readonly string[]).includes(v)) return true;
  p.add(path, `${quote(v)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  return false;
}

export function checkCidrField(
  p: Problems,
  path: string,
  v: unknown,
  options: ParseCidrOptions = {},
): Cidr | undefined {
  if (typeof v !== 'string') return undefined;
  const r = checkCidr(v, options);
  if (r.error !== undefined) p.add(path, `invalid CIDR: ${r.error}`);
  return r.cidr;
}

export function checkIpField(p: Problems, path: string, v: unknown, family?: 4 | 6): IpAddr | undefined {
  if (typeof v !== 'string') return undefined;
  const ip = tryParseIp(v);
  if (!ip) {
    p.add(path, `${quote(v)} is not a valid IP address`);
    return undefined;
  }
  if (family !== undefined && ip.family !== family) {
    p.add(path, `${quote(v)} is not an IPv${family} address`);
    return undefined;
  }
  return ip;
}

/** An address with an optional prefix length, host bits allowed (`10.244.0.1/24`). */
export function checkIpWithPrefix(p: Problems, path: string, v: unknown, family?: 4 | 6): void {
  if (typeof v !== 'string') return;
  const r = checkCidr(v, { strict: false, allowBareIp: true });
  if (!r.cidr) return p.add(path, `${quote(v)} is not a valid IP address or address/prefix`);
  if (family !== undefined && r.cidr.family !== family) p.add(path, `${quote(v)} is not an IPv${family} address`);
}

export function checkIntRange(p: Problems, path: string, v: unknown, min: number, max: number, what = 'value'): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) return;
  if (v < min || v > max) p.add(path, `${what} ${v} is out of range (${min}-${max})`);
}

const MAX_AS = 4294967295;

/** Plain (1-4294967295) or dotted `high.low` (each 0-65535) AS number. */
export function checkAsNumber(p: Problems, path: string, v: unknown): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > MAX_AS) {
      p.add(path, `AS number ${v} is out of range (1-${MAX_AS})`);
    }
    return;
  }
  if (typeof v !== 'string') return;
  const plain = /^\d+$/.exec(v);
  if (plain) return checkAsNumber(p, path, Number(v));
  const dotted = /^(\d+)\.(\d+)$/.exec(v);
  if (dotted) {
    const hi = Number(dotted[1]);
    const lo = Number(dotted[2]);
    if (hi <= 65535 && lo <= 65535 && hi * 65536 + lo >= 1) return;
  }
  p.add(path, `${quote(v)} is not a valid AS number (1-${MAX_AS}, or dotted "high.low" with each part 0-65535)`);
}

/** A Go `time.ParseDuration` string (`90s`, `1m30s`, `250ms`, `0`). */
export function checkDuration(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string') return;
  if (v === '0' || /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) return;
  p.add(path, `${quote(v)} is not a duration (e.g. "90s", "5m", "1h30m")`);
}

export const LOG_SEVERITIES = ['Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
