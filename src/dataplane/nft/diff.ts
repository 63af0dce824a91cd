/**
 * NftState → nft scripts (pure). `diffNft(prev, next)` emits only the changes, in an order that is
 * valid inside one atomic `nft -f` transaction:
 *   1 new sets (+elements) and new maps (empty)   2 element deletes/adds in kept sets
 *   3 new chains declared (empty, so jumps between new chains resolve)
 *   4 changed chains flushed + refilled, new chains filled
 *   5 vmap element deletes/adds (targets now exist; removed targets no longer referenced after this)
 *   6 removed chains flushed, then deleted      7 removed sets/maps deleted
 * `fullNftScript(next)` recreates the table (add+delete+add makes it idempotent) then applies
 * diff(EMPTY, next): first sync and drift repair.
 */
import { EMPTY_STATE, FAMILY, TABLE, type NftChain, type NftSet, type NftState, type NftVmap } from './model.js';
import { RuleTextCache } from './text.js';

const T = `${FAMILY} ${TABLE}`;

function setDecl(s: NftSet): string {
  return `add set ${T} ${s.name} { type ${s.type}; ${s.interval ? 'flags interval; ' : ''}}`;
}

/** Element lists are chunked so one line never grows unboundedly (nft reads lines fine, but logs don't). */
function elementLines(verb: 'add' | 'delete', set: string, elements: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < elements.length; i += 1000) {
    out.push(`${verb} element ${T} ${set} { ${elements.slice(i, i + 1000).join(', ')} }`);
  }
  return out;
}

function mapDecl(m: NftVmap): string {
  if (m.key === 'l4proto . dport')
    return `add map ${T} ${m.name} { type inet_proto . inet_service : verdict; ${m.interval ? 'flags interval; ' : ''}}`;
  return `add map ${T} ${m.name} { type ifname : verdict; }`;
}

/** Interface names are quoted; (protocol . port range) keys are not. */
const mapKey = (m: NftVmap, k: string): string => (m.key ? k : `"${k}"`);

function chainDecl(c: NftChain): string {
  if (!c.hook) return `add chain ${T} ${c.name}`;
  return `add chain ${T} ${c.name} { type filter hook ${c.hook.hook} priority ${c.hook.priority}; policy accept; }`;
}

const sameRules = (a: NftChain, b: NftChain, texts: RuleTextCache) =>
  a === b ||
  a.rules === b.rules ||
  (a.rules.length === b.rules.length &&
    a.rules.every((r, i) => texts.of(r) === texts.of(b.rules[i] as NftChain['rules'][number])));

export interface NftDiffStats {
  setsAdded: number;
  setsRemoved: number;
  elementsAdded: number;
  elementsRemoved: number;
  chainsAdded: number;
  chainsRewritten: number;
  chainsRemoved: number;
  mapElementsChanged: number;
}

/** Taken from `next.changes` when they derive `next` from exactly `prev`'s elements; else compared. */
function elementChanges(prevSet: NftSet, nextSet: NftSet): { del: readonly string[]; add: readonly string[] } {
  const prev = prevSet.elements;
  const next = nextSet.elements;
  const known = nextSet.changes;
  if (known && known.from === prev) return { del: known.removed, add: known.added };
  const before = new Set(prev);
  const after = new Set(next);
  return { del: prev.filter((e) => !after.has(e)), add: next.filter((e) => !before.has(e)) };
}

export function diffNft(
  prev: NftState,
  next: NftState,
  texts: RuleTextCache = new RuleTextCache(),
): { script: string; stats: NftDiffStats; empty: boolean } {
  const lines: string[] = [];
  const stats: NftDiffStats = {
    setsAdded: 0,
    setsRemoved: 0,
    elementsAdded: 0,
    elementsRemoved: 0,
    chainsAdded: 0,
    chainsRewritten: 0,
    chainsRemoved: 0,
    mapElementsChanged: 0,
  };
  const removedSets: string[] = [];
  // 1 + 2
  for (const s of next.sets.values()) {
    const old = prev.sets.get(s.name);
    if (!old || old.type !== s.type || old.interval !== s.interval) {
      if (old) {
        // Type change under the same name cannot happen with hashed names; recreate defensively.
        throw new Error(`bug: set ${s.name} changed type`);
      }
      lines.push(setDecl(s), ...elementLines('add', s.name, s.elements));
      stats.setsAdded++;
      stats.elementsAdded += s.elements.length;
      continue;
    }
    if (old.elements === s.elements) continue;
    const { del, add } = elementChanges(old, s);
    lines.push(...elementLines('delete', s.name, del), ...elementLines('add', s.name, add));
    stats.elementsAdded += add.length;
    stats.elementsRemoved += del.length;
  }
  for (const s of prev.sets.keys()) if (!next.sets.has(s)) removedSets.push(s);
  for (const m of next.maps.values()) {
    if (!prev.maps.has(m.name)) lines.push(mapDecl(m));
  }
  // 3
  for (const c of next.chains.values()) {
    if (!prev.chains.has(c.name)) {
      lines.push(chainDecl(c));
      stats.chainsAdded++;
    }
  }
  // 4
  for (const c of next.chains.values()) {
    const old = prev.chains.get(c.name);
    if (old && sameRules(old, c, texts)) continue;
    if (old) {
      lines.push(`flush chain ${T} ${c.name}`);
      stats.chainsRewritten++;
    }
    for (const r of c.rules) lines.push(`add rule ${T} ${c.name} ${texts.of(r)}`);
  }
  // 5
  for (const m of next.maps.values()) {
    const old = prev.maps.get(m.name)?.elements ?? new Map<string, string>();
    const del = [...old.entries()].filter(([k, v]) => m.elements.get(k) !== v).map(([k]) => mapKey(m, k));
    const add = [...m.elements.entries()]
      .filter(([k, v]) => old.get(k) !== v)
      .map(([k, v]) => `${mapKey(m, k)} : ${v}`);
    if (del.length) lines.push(`delete element ${T} ${m.name} { ${del.join(', ')} }`);
    if (add.length) lines.push(`add element ${T} ${m.name} { ${add.join(', ')} }`);
    stats.mapElementsChanged += del.length + add.length;
  }
  for (const m of prev.maps.values()) {
    if (!next.maps.has(m.name) && m.elements.size) {
      lines.push(`delete element ${T} ${m.name} { ${[...m.elements.keys()].map((k) => mapKey(m, k)).join(', ')} }`);
    }
  }
  // 6
  const removedChains = [...prev.chains.keys()].filter((c) => !next.chains.has(c));
  for (const c of removedChains) lines.push(`flush chain ${T} ${c}`);
  for (const c of removedChains) lines.push(`delete chain ${T} ${c}`);
  stats.chainsRemoved = removedChains.length;
  // 7
  for (const s of removedSets) lines.push(`delete set ${T} ${s}`);
  stats.setsRemoved = removedSets.length;
  for (const m of prev.maps.keys()) if (!next.maps.has(m)) lines.push(`delete map ${T} ${m}`);
  return { script: lines.length ? `${lines.join('\n')}\n` : '', stats, empty: lines.length === 0 };
}

/** Recreates the whole table in one transaction (first sync, drift repair). */
export function fullNftScript(next: NftState, texts: RuleTextCache = new RuleTextCache()): string {
  return `add table ${T}\ndelete table ${T}\nadd table ${T}\n${diffNft(EMPTY_STATE, next, texts).script}`;
}
