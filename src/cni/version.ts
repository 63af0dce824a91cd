/** CNI versions Tessera speaks and the result format each one expects. Pure. */
import type { CniResult } from './types.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export const isSupportedVersion = (v: unknown): v is CniVersion =>
  typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);

/** CHECK exists since 0.4.0; GC and STATUS since 1.1.0 (we accept them from 1.0.0 runtimes too). */
export const supportsCheck = (v: CniVersion): boolean => v !== '0.3.0' && v !== '0.3.1';

/** Renders a result in the requested version's format (0.3.x/0.4.0 carry `version` per IP). */
export function formatResult(result: CniResult, version: CniVersion): Record<string, unknown> {
  const legacy = version.startsWith('0.');
  const ips = result.ips.map((ip) => {
    const out: Record<string, unknown> = {};
    if (legacy) out['version'] = ip.address.includes(':') ? '6' : '4';
    if (ip.interface !== undefined) out['interface'] = ip.interface;
    out['address'] = ip.address;
    if (ip.gateway !== undefined) out['gateway'] = ip.gateway;
    return out;
  });
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces) out['interfaces'] = result.interfaces;
  out['ips'] = ips;
  if (result.routes) out['routes'] = result.routes;
  out['dns'] = result.dns ?? {};
  return out;
}

/** Reads a prevResult of any supported version back into the 1.0.0 shape. */
export function parsePrevResult(raw: unknown): CniResult | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r['ips'])) return undefined;
  const ips: CniResult['ips'] = [];
  for (const ip of r['ips'] as unknown[]) {
    if (typeof ip !== 'object' || ip === null) return undefined;
    const o = ip as Record<string, unknown>;
    if (typeof o['address'] !== 'string') return undefined;
    ips.push({
      address: o['address'],
      ...(typeof o['gateway'] === 'string' ? { gateway: o['gateway'] } : {}),
      ...(typeof o['interface'] === 'number' ? { interface: o['interface'] } : {}),
    });
  }
  const interfaces = Array.isArray(r['interfaces']) ? (r['interfaces'] as CniResult['interfaces']) : undefined;
  const routes = Array.isArray(r['routes']) ? (r['routes'] as CniResult['routes']) : undefined;
  return { ips, ...(interfaces ? { interfaces } : {}), ...(routes ? { routes } : {}) };
}
