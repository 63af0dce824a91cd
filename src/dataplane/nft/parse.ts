/**
 * `nft -j list table inet tessera` → the comparable parts of the table, and drift detection against
 * the desired NftState. Rules are compared through the content hash each rule's comment starts with
 * (hand-added rules have none; hand-edited ones keep a stale hash only if the editor copied it).
 */
import type { NftState } from './model.js';
import { ruleHash } from './text.js';

export interface ObservedNft {
  sets: Map<string, string[]>;
  maps: Map<string, Map<string, string>>;
  /** chain → per-rule hash ('' for a rule without Tessera's comment). */
  chains: Map<string, string[]>;
  hooks: Map<string, string>;
}

const PROTO_NUM: Record<string, number> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

function elemText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (typeof e === 'number') return String(e);
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    if (o.elem && typeof o.elem === 'object') return elemText((o.elem as Record<string, unknown>).val);
    if (o.prefix && typeof o.prefix === 'object') {
      const p = o.prefix as { addr: string; len: number };
      const host = p.addr.includes(':') ? 128 : 32;
      return p.len === host ? p.addr : `${p.addr}/${p.len}`;
    }
    if (Array.isArray(o.range)) return `${elemText(o.range[0])}-${elemText(o.range[1])}`;
    if (Array.isArray(o.concat)) {
      if (o.concat.length === 2) return `"${elemText(o.concat[0])}" . ${elemText(o.concat[1])}`;
      const [ip, proto, port] = o.concat as unknown[];
      const pr = typeof proto === 'string' ? (PROTO_NUM[proto] ?? proto) : proto;
      return `${elemText(ip)} . ${elemText(pr)} . ${elemText(port)}`;
    }
  }
  return JSON.stringify(e);
}

/** A `inet_proto . inet_service` map key as the renderer writes it: `6 . 80` or `6 . 80-90`. */
function portKeyText(k: unknown): string {
  const o = (k && typeof k === 'object' ? (k as Record<string, unknown>) : {}) as {
    elem?: { val?: unknown };
    concat?: unknown[];
  };
  const parts = o.concat ?? (o.elem?.val as { concat?: unknown[] } | undefined)?.concat;
  if (!Array.isArray(parts) || parts.length !== 2) return elemText(k);
  const pr = typeof parts[0] === 'string' ? (PROTO_NUM[parts[0]] ?? parts[0]) : parts[0];
  return `${elemText(pr)} . ${elemText(parts[1])}`;
}

export function parseNftJson(json: string): ObservedNft {
  const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
  const out: ObservedNft = { sets: new Map(), maps: new Map(), chains: new Map(), hooks: new Map() };
  for (const item of doc.nftables ?? []) {
    if (item.set) {
      const s = item.set as { name: string; elem?: unknown[] };
      out.sets.set(s.name, (s.elem ?? []).map(elemText).sort());
    } else if (item.map) {
      const m = item.map as { name: string; type?: unknown; elem?: [unknown, Record<string, { target?: string }>][] };
      const els = new Map<string, string>();
      const byPort = Array.isArray(m.type);
      for (const [k, v] of m.elem ?? []) {
        const verb = Object.keys(v)[0] as string;
        els.set(byPort ? portKeyText(k) : elemText(k), `${verb} ${v[verb]?.target ?? ''}`.trim());
      }
      out.maps.set(m.name, els);
    } else if (item.chain) {
      const c = item.chain as { name: string; hook?: string };
      out.chains.set(c.name, []);
      if (c.hook) out.hooks.set(c.name, c.hook);
    } else if (item.rule) {
      const r = item.rule as { chain: string; comment?: string };
      const hash = /^([0-9a-f]{12})\b/.exec(r.comment ?? '')?.[1] ?? '';
      out.chains.get(r.chain)?.push(hash);
    }
  }
  return out;
}

/** Differences between desired and observed, one line each; empty = no drift. */
export function detectDrift(desired: NftState, observed: ObservedNft): string[] {
  const diffs: string[] = [];
  for (const s of desired.sets.values()) {
    const got = observed.sets.get(s.name);
    if (!got) diffs.push(`set ${s.name} missing`);
    else if (got.join(',') !== [...s.elements].sort().join(',')) diffs.push(`set ${s.name} elements differ`);
  }
  for (const name of observed.sets.keys()) if (!desired.sets.has(name)) diffs.push(`unexpected set ${name}`);
  for (const m of desired.maps.values()) {
    const got = observed.maps.get(m.name);
    if (!got) diffs.push(`map ${m.name} missing`);
    else if (got.size !== m.elements.size || [...m.elements].some(([k, v]) => got.get(k) !== v))
      diffs.push(`map ${m.name} elements differ`);
  }
  for (const name of observed.maps.keys()) if (!desired.maps.has(name)) diffs.push(`unexpected map ${name}`);
  for (const c of desired.chains.values()) {
    const got = observed.chains.get(c.name);
    if (!got) {
      diffs.push(`chain ${c.name} missing`);
      continue;
    }
    if (c.hook && observed.hooks.get(c.name) !== c.hook.hook) diffs.push(`chain ${c.name} hook differs`);
    const want = c.rules.map(ruleHash);
    if (got.join(',') !== want.join(','))
      diffs.push(`chain ${c.name} rules differ (${got.length} listed, ${want.length} wanted)`);
  }
  for (const name of observed.chains.keys()) if (!desired.chains.has(name)) diffs.push(`unexpected chain ${name}`);
  return diffs;
}
