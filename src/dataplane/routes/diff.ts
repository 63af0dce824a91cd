/**
 * parse (kernel JSON -> routes) and diff (desired vs actual -> `ip -batch` lines). Pure.
 *
 * Ownership: only routes with Tessera's protocol are ever deleted. Device routes on workload
 * interfaces that the calculator does not (yet) know are left alone: the CNI plugin installs a
 * pod's route before the agent sees its WorkloadEndpoint, and deleting it would cut a new pod off.
 */
import { checkCidr, formatCidr, type IpFamily } from '../../lib/ip.js';
import { ROUTE_PROTOCOL } from '../../lib/marks.js';
import type { DesiredRoute } from './model.js';

interface KernelRouteJson {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
  scope?: string;
  flags?: string[];
}

export function parseKernelRoutes(json: string, family: IpFamily): DesiredRoute[] {
  const list = JSON.parse(json || '[]') as KernelRouteJson[];
  const out: DesiredRoute[] = [];
  for (const r of list) {
    if (!r.dst || r.dst === 'default') continue;
    const c = checkCidr(r.dst, { allowBareIp: true, strict: false }).cidr;
    if (!c) continue;
    const route: DesiredRoute = {
      family,
      dst: formatCidr(c),
      type: r.type === 'blackhole' ? 'blackhole' : 'unicast',
    };
    if (r.dev) route.dev = r.dev;
    if (r.gateway) route.via = r.gateway;
    if (r.flags?.includes('onlink')) route.onlink = true;
    if (r.scope === 'link') route.scope = 'link';
    out.push(route);
  }
  return out;
}

const keyOf = (r: DesiredRoute) => `${r.family}|${r.dst}`;

function same(a: DesiredRoute, b: DesiredRoute): boolean {
  return (
    a.type === b.type &&
    (a.via ?? '') === (b.via ?? '') &&
    (a.onlink ?? false) === (b.onlink ?? false) &&
    // The kernel fills in the device for gateway routes; only compare it when we asked for one.
    (a.dev === undefined || a.dev === b.dev)
  );
}

export function renderRoute(r: DesiredRoute): string {
  // No per-line `-6` inside `ip -batch`: ip infers the family from the prefix itself.
  const parts = ['route replace'];
  if (r.type === 'blackhole') parts.push('blackhole');
  parts.push(r.dst);
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  if (r.onlink) parts.push('onlink');
  if (r.scope) parts.push('scope', r.scope);
  parts.push('proto', String(ROUTE_PROTOCOL));
  return parts.join(' ');
}

export interface RouteDiff {
  /** `ip -batch` lines, deletes first. */
  lines: string[];
  deletes: number;
  replaces: number;
}

/**
 * @param isWorkloadDevice tells which devices belong to workloads (their unknown routes are kept).
 */
export function diffRoutes(
  desired: readonly DesiredRoute[],
  actual: readonly DesiredRoute[],
  isWorkloadDevice: (dev: string) => boolean,
): RouteDiff {
  const want = new Map(desired.map((r) => [keyOf(r), r]));
  const have = new Map(actual.map((r) => [keyOf(r), r]));
  const lines: string[] = [];
  let deletes = 0;
  for (const [k, r] of have) {
    if (want.has(k)) continue;
    if (r.type === 'unicast' && !r.via && r.dev && isWorkloadDevice(r.dev)) continue;
    lines.push(`route del ${r.type === 'blackhole' ? 'blackhole ' : ''}${r.dst} proto ${ROUTE_PROTOCOL}`);
    deletes++;
  }
  let replaces = 0;
  for (const [k, r] of want) {
    const cur = have.get(k);
    if (cur && same(r, cur)) continue;
    lines.push(renderRoute(r));
    replaces++;
  }
  return { lines, deletes, replaces };
}
