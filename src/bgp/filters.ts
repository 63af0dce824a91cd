/**
 * BGPFilter → BIRD filter functions, one per (filter, direction, family). Pure.
 * Each rule becomes one `if <conditions> then { <operations> accept; }` or `... then reject;`;
 * a route no rule decides falls through to the caller (import: accepted; export: Tessera's
 * default export policy). `accept`/`reject` inside a BIRD function ends the whole filter.
 */
import type { Resource } from '../api/index.js';
import { checkCidr, formatCidr, familyBits } from '../lib/ip.js';
import { birdQuotable, obj, parseAsNumber, str } from './values.js';

export type Direction = 'import' | 'export';

/** `aa:nn` → `(aa,nn)` (standard), `aa:nn:mm` → `(aa,nn,mm)` (large); undefined if neither. */
export function communityLiteral(v: string): { literal: string; large: boolean } | undefined {
  const parts = v.split(':');
  if (!parts.every((p) => /^\d+$/.test(p))) return undefined;
  if (parts.length === 2 && parts.every((p) => Number(p) <= 65535))
    return { literal: `(${parts.join(',')})`, large: false };
  if (parts.length === 3 && parts.every((p) => Number(p) <= 4294967295))
    return { literal: `(${parts.join(',')})`, large: true };
  return undefined;
}

export function communityAdd(v: string): string | undefined {
  const c = communityLiteral(v);
  if (!c) return undefined;
  return c.large ? `bgp_large_community.add(${c.literal});` : `bgp_community.add(${c.literal});`;
}

/** BIRD symbol for a filter function: names are DNS subdomains, the index keeps them distinct. */
export function filterFunctionName(index: number, name: string, dir: Direction, family: 4 | 6): string {
  return `tessera_filter_${index}_${name.replace(/[^A-Za-z0-9]/g, '_')}_${dir}${family}`;
}

function ruleText(rule: unknown, family: 4 | 6, where: string, problems: string[]): string | undefined {
  const r = obj(rule);
  const conds: string[] = [];
  const cidrText = str(r.cidr);
  if (cidrText !== undefined) {
    const c = checkCidr(cidrText).cidr;
    if (!c || c.family !== family) {
      problems.push(`${where}: cidr "${cidrText}" is not an IPv${family} CIDR; rule skipped`);
      return undefined;
    }
    const net = formatCidr(c);
    const pl = obj(r.prefixLength);
    const min = typeof pl.min === 'number' ? pl.min : undefined;
    const max = typeof pl.max === 'number' ? pl.max : undefined;
    const inSet =
      min !== undefined || max !== undefined
        ? `net ~ [ ${net}{${min ?? c.prefix},${max ?? familyBits(family)}} ]`
        : `net ~ ${net}`;
    switch (r.matchOperator) {
      case 'Equal':
        conds.push(`net = ${net}`);
        break;
      case 'NotEqual':
        conds.push(`net != ${net}`);
        break;
      case 'NotIn':
        conds.push(`!(${inSet})`);
        break;
      default:
        conds.push(inSet);
    }
  }
  if (r.source === 'RemotePeers') conds.push('source = RTS_BGP');
  const iface = str(r.interface);
  if (iface !== undefined) {
    if (!birdQuotable(iface)) {
      problems.push(`${where}: interface "${iface}" cannot be quoted for BIRD; rule skipped`);
      return undefined;
    }
    conds.push(`ifname ~ "${iface}"`);
  }
  if (r.peerType === 'eBGP') conds.push('external_peer');
  if (r.peerType === 'iBGP') conds.push('!external_peer');
  const values = Array.isArray(obj(r.communities).values) ? (obj(r.communities).values as unknown[]) : [];
  for (const v of values) {
    const c = typeof v === 'string' ? communityLiteral(v) : undefined;
    if (!c) {
      problems.push(`${where}: community "${String(v)}" is not "aa:nn" or "aa:nn:mm"; rule skipped`);
      return undefined;
    }
    conds.push(`${c.literal} ~ ${c.large ? 'bgp_large_community' : 'bgp_community'}`);
  }
  let body: string;
  if (r.action === 'Reject') body = 'reject;';
  else if (r.action === 'Accept') {
    const ops: string[] = [];
    if (typeof r.priority === 'number') ops.push(`krt_metric = ${r.priority};`);
    for (const op of Array.isArray(r.operations) ? r.operations : []) {
      const o = obj(op);
      const add = str(obj(o.addCommunity).value);
      if (add !== undefined) {
        const t = communityAdd(add);
        if (!t) {
          problems.push(`${where}: addCommunity "${add}" is not "aa:nn" or "aa:nn:mm"; rule skipped`);
          return undefined;
        }
        ops.push(t);
      }
      const prefix = obj(o.prependASPath).prefix;
      if (Array.isArray(prefix)) {
        const ases = prefix.map(parseAsNumber);
        if (ases.some((a) => a === undefined)) {
          problems.push(`${where}: prependASPath has an invalid AS number; rule skipped`);
          return undefined;
        }
        // prepend() puts one AS in front: go backwards so the path starts with prefix[0].
        for (const a of [...ases].reverse()) ops.push(`bgp_path.prepend(${a});`);
      }
      const prio = obj(o.setPriority).value;
      if (typeof prio === 'number') ops.push(`krt_metric = ${prio};`);
    }
    body = `{ ${[...ops, 'accept;'].join(' ')} }`;
  } else {
    problems.push(`${where}: action "${String(r.action)}" is not Accept or Reject; rule skipped`);
    return undefined;
  }
  return conds.length
    ? `  if ${conds.map((c) => `(${c})`).join(' && ')} then ${body}`
    : `  ${body.startsWith('{') ? body.slice(2, -2) : body}`;
}

/** Renders the filter's four functions (import/export × IPv4/IPv6), empty ones included. */
export function renderFilterFunctions(index: number, r: Resource, problems: string[]): string[] {
  const out: string[] = [];
  const spec = obj(r.spec);
  for (const dir of ['import', 'export'] as const) {
    for (const family of [4, 6] as const) {
      const field = `${dir}V${family}`;
      const rules = Array.isArray(spec[field]) ? (spec[field] as unknown[]) : [];
      const lines = [`function ${filterFunctionName(index, r.metadata.name, dir, family)}(bool external_peer) {`];
      rules.forEach((rule, i) => {
        const t = ruleText(rule, family, `BGPFilter "${r.metadata.name}" spec.${field}[${i}]`, problems);
        if (t) lines.push(t);
      });
      lines.push('}');
      out.push(lines.join('\n'));
    }
  }
  return out;
}
