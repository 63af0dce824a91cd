/**
 * IPPool / IPReservation / Node views for IPAM: Calico v3 manifests read from the datastore, with
 * Calico's defaults applied (blockSize 26/122, nodeSelector all(), allowedUses [Workload, Tunnel]).
 * Pool selection is pure; only `load*` touch the Backend.
 */
import { lookupKind } from '../api/index.js';
import type { Resource } from '../api/index.js';
import { evaluateSelector, parseSelector } from '../api/selector/index.js';
import type { Backend } from '../datastore/index.js';
import { kindPrefix, resourceKey } from '../datastore/index.js';
import { TesseraError } from '../lib/errors.js';
import {
  checkCidr,
  cidrContainsCidr,
  cidrNetwork,
  cidrContainsIp,
  formatCidr,
  type Cidr,
  type IpAddr,
} from '../lib/ip.js';
import type { IpamConfig, IpFamilyNum, IpUse } from './types.js';

/** What one assignment needs to know about the cluster: read once per request (or per host batch). */
export interface AssignContext {
  pools: PoolInfo[];
  reservations: Cidr[];
  config: IpamConfig;
  labels: Record<string, string>;
}

export interface PoolInfo {
  name: string;
  cidr: Cidr;
  cidrText: string;
  family: IpFamilyNum;
  blockSize: number;
  nodeSelector: string;
  disabled: boolean;
  allowedUses: IpUse[];
}

function kindInfo(kind: string) {
  const info = lookupKind(kind);
  if (info === undefined) throw new TesseraError('bug', `kind "${kind}" is not registered`);
  return info;
}

/** A pool resource with Calico's defaults; undefined when its CIDR is unusable (validation's job). */
export function poolFromResource(r: Resource): PoolInfo | undefined {
  const spec = (r.spec ?? {}) as Record<string, unknown>;
  const parsed = typeof spec['cidr'] === 'string' ? checkCidr(spec['cidr'], { strict: false }).cidr : undefined;
  if (parsed === undefined) return undefined;
  const cidr: Cidr = cidrNetwork(parsed);
  const family = cidr.family;
  const blockSize = typeof spec['blockSize'] === 'number' ? spec['blockSize'] : family === 4 ? 26 : 122;
  if (blockSize < cidr.prefix) return undefined;
  const uses = Array.isArray(spec['allowedUses'])
    ? (spec['allowedUses'] as unknown[]).filter((u): u is IpUse => u === 'Workload' || u === 'Tunnel')
    : (['Workload', 'Tunnel'] as IpUse[]);
  return {
    name: r.metadata.name,
    cidr,
    cidrText: formatCidr(cidr),
    family,
    blockSize,
    nodeSelector: typeof spec['nodeSelector'] === 'string' ? spec['nodeSelector'] : 'all()',
    disabled: spec['disabled'] === true,
    allowedUses: uses,
  };
}

export function poolSelectsNode(pool: PoolInfo, labels: Readonly<Record<string, string>>): boolean {
  const text = pool.nodeSelector.trim() === '' ? 'all()' : pool.nodeSelector;
  try {
    return evaluateSelector(parseSelector(text), labels);
  } catch {
    // An unparsable selector selects nothing: never hand out addresses the admin did not intend.
    return false;
  }
}

export function poolForCidr(pools: readonly PoolInfo[], cidr: Cidr): PoolInfo | undefined {
  return pools.find((p) => cidrContainsCidr(p.cidr, cidr));
}

export function poolForIp(pools: readonly PoolInfo[], ip: IpAddr): PoolInfo | undefined {
  return pools.find((p) => cidrContainsIp(p.cidr, ip));
}

/**
 * The pools a host may draw `family` addresses for `use` from. Explicitly requested pools (names
 * or CIDRs) must exist (`not-found`) and be enabled (`validation`); node selectors still apply.
 */
export function selectPools(
  all: readonly PoolInfo[],
  family: IpFamilyNum,
  use: IpUse,
  labels: Readonly<Record<string, string>>,
  requested?: readonly string[],
): PoolInfo[] {
  let candidates = all.filter((p) => p.family === family);
  if (requested !== undefined && requested.length > 0) {
    candidates = requested.map((req) => {
      const byName = all.find((p) => p.name === req);
      const asCidr = checkCidr(req, { strict: false }).cidr;
      const byCidr = asCidr ? all.find((p) => p.cidrText === formatCidr(cidrNetwork(asCidr))) : undefined;
      const pool = byName ?? byCidr;
      if (pool === undefined) {
        throw new TesseraError('not-found', `cannot assign addresses from pool "${req}": no such IPPool`);
      }
      if (pool.family !== family) {
        throw new TesseraError(
          'validation',
          `cannot assign IPv${family} addresses from pool "${req}": it is an IPv${pool.family} pool`,
        );
      }
      if (pool.disabled) {
        throw new TesseraError('validation', `cannot assign addresses from pool "${pool.name}": the pool is disabled`);
      }
      return pool;
    });
  }
  return candidates
    .filter((p) => !p.disabled && p.allowedUses.includes(use) && poolSelectsNode(p, labels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function loadPools(backend: Backend, signal?: AbortSignal): Promise<PoolInfo[]> {
  const { items } = await backend.list(kindPrefix(kindInfo('IPPool')), signal);
  const out: PoolInfo[] = [];
  for (const kv of items) {
    try {
      const p = poolFromResource(JSON.parse(kv.value) as Resource);
      if (p) out.push(p);
    } catch {
      // A corrupt pool value is skipped: IPAM must keep working on the valid pools.
    }
  }
  return out;
}

/** Every reserved CIDR (IPReservation `spec.reservedCIDRs`, bare addresses allowed). */
export async function loadReservations(backend: Backend, signal?: AbortSignal): Promise<Cidr[]> {
  const { items } = await backend.list(kindPrefix(kindInfo('IPReservation')), signal);
  const out: Cidr[] = [];
  for (const kv of items) {
    let r: Resource;
    try {
      r = JSON.parse(kv.value) as Resource;
    } catch {
      continue;
    }
    const cidrs = (r.spec as Record<string, unknown> | undefined)?.['reservedCIDRs'];
    if (!Array.isArray(cidrs)) continue;
    for (const c of cidrs) {
      if (typeof c !== 'string') continue;
      const parsed = checkCidr(c, { strict: false, allowBareIp: true }).cidr;
      if (parsed) out.push(cidrNetwork(parsed));
    }
  }
  return out;
}

/** The Calico Node resource's labels (nodeSelector input); a missing node has no labels. */
export async function loadNodeLabels(
  backend: Backend,
  host: string,
  signal?: AbortSignal,
): Promise<Record<string, string>> {
  const kv = await backend.get(resourceKey(kindInfo('Node'), host), signal);
  if (kv === undefined) return {};
  try {
    return ((JSON.parse(kv.value) as Resource).metadata?.labels ?? {}) as Record<string, string>;
  } catch {
    return {};
  }
}
