/** NftRule → nft 1.0.6 rule text, with a content hash in the comment (drift detection reads it back). */
import type { Match, NftRule, Stmt, Verdict } from './model.js';

/** 48-bit FNV-1a-based hash as 12 hex chars (two 32-bit lanes with different offsets). */
export function shortHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193 + 2) >>> 0;
  }
  return (a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')).slice(0, 12);
}

const ip = (fam: 4 | 6) => (fam === 4 ? 'ip' : 'ip6');
const op = (neg: boolean) => (neg ? '!= ' : '');
const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function portsText(ranges: readonly { lo: number; hi: number }[]): string {
  const items = ranges.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`));
  return items.length === 1 ? (items[0] as string) : `{ ${items.join(', ')} }`;
}

export function matchText(m: Match): string {
  switch (m.m) {
    case 'nfproto':
      return `meta nfproto ${m.fam === 4 ? 'ipv4' : 'ipv6'}`;
    case 'l4proto':
      return `meta l4proto ${op(m.neg)}${m.proto}`;
    case 'addrSet':
      return `${ip(m.fam)} ${m.field} ${op(m.neg)}@${m.set}`;
    case 'ifaddrSet':
      return `iifname . ${ip(m.fam)} saddr ${op(m.neg)}@${m.set}`;
    case 'addrList':
      return `${ip(m.fam)} ${m.field} ${op(m.neg)}{ ${m.addrs.join(', ')} }`;
    case 'port':
      return `th ${m.field} ${op(m.neg)}${portsText(m.ranges)}`;
    case 'namedPort':
      return `${ip(m.fam)} ${m.side === 'src' ? 'saddr' : 'daddr'} . meta l4proto . th ${m.side === 'src' ? 'sport' : 'dport'} ${op(m.neg)}@${m.set}`;
    case 'icmp': {
      const k = m.fam === 4 ? 'icmp' : 'icmpv6';
      if (m.code === undefined) return `${k} type ${op(m.neg)}${m.type}`;
      // not (type && code) needs the concatenation: two separate != would be a different predicate.
      if (m.neg) return `${k} type . ${k} code != { ${m.type} . ${m.code} }`;
      return `${k} type ${m.type} ${k} code ${m.code}`;
    }
    case 'mark':
      return `meta mark & ${hex(m.mask)} ${m.neg ? '!=' : '=='} ${hex(m.value)}`;
    case 'ifname':
      return `${m.dir}name ${op(m.neg)}"${m.name}"`;
    case 'ct':
      return `ct state ${m.states.join(',')}`;
    case 'nd':
      return 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }';
  }
}

function stmtText(s: Stmt): string {
  switch (s.s) {
    case 'counter':
      return 'counter';
    case 'log':
      return `log prefix "${s.prefix.replace(/["\\]/g, '')}"`;
    case 'mark':
      return s.or === 0 ? `meta mark set meta mark & ${hex(s.and)}` : `meta mark set meta mark | ${hex(s.or)}`;
    case 'notrack':
      return 'notrack';
  }
}

function verdictText(v: Verdict): string {
  switch (v.v) {
    case 'jump':
    case 'goto':
      return `${v.v} ${v.chain}`;
    case 'vmap':
      return `${v.dir}name vmap @${v.map}`;
    case 'portVmap':
      return `meta l4proto . th dport vmap @${v.map}`;
    default:
      return v.v;
  }
}

/** The rule body without its comment. */
export function ruleBody(r: NftRule): string {
  const parts = [...r.matches.map(matchText), ...r.stmts.map(stmtText)];
  if (r.verdict) parts.push(verdictText(r.verdict));
  return parts.join(' ');
}

/** The hash that drift detection compares; the comment starts with it. */
export const ruleHash = (r: NftRule): string => shortHash(ruleBody(r));

/**
 * Rule objects are immutable once rendered, so their text is cached per object, by the owner of the
 * states being compared (an NftReconciler keeps one for as long as it lives).
 */
export class RuleTextCache {
  private readonly texts = new WeakMap<NftRule, string>();
  of(r: NftRule): string {
    let t = this.texts.get(r);
    if (t === undefined) {
      t = ruleText(r);
      this.texts.set(r, t);
    }
    return t;
  }
}

/** A rule as nft prints it, with its hash (and label) as the comment. */
export function ruleText(r: NftRule): string {
  const label = (r.label ?? '').replace(/["\\]/g, '');
  const comment = `${ruleHash(r)}${label ? ` ${label}` : ''}`.slice(0, 120);
  return `${ruleBody(r)} comment "${comment}"`;
}
