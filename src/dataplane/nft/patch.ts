/**
 * patchNft(prev, delta) → the next NftState without re-rendering every endpoint and policy (pure).
 *
 * A full render walks all local endpoints and every policy they use (~10 ms with 250 endpoints and
 * 1,000 policies); most changes are a pod added or relabelled, or a remote pod's labels. For those
 * the calculator hands over a ResolvedDelta: a model of just the touched local endpoints, plus the
 * current members of every selector whose membership changed. This module renders that small model
 * and merges it into the state the kernel has:
 *   - selector / named-port sets whose members changed get their new elements;
 *   - chains, maps and sets of the touched endpoints are added (a name already present means the
 *     same content: names are derived from everything the content depends on, and a set changing
 *     between hash and interval form refuses the patch);
 *   - the interface vmaps and anti-spoof sets get the touched endpoints' entries.
 * It returns undefined, and the caller renders in full, when the result could differ from a full
 * render: a set changed shape, or a relabelled endpoint left a dispatch chain nobody else uses
 * (a full render drops it). patch.test.ts checks patch == full render on random changes.
 */
import type { ResolvedDelta, ResolvedEndpoint, ResolvedModel } from '../../policy/index.js';
import type { Fam, NftState, NftVmap } from './model.js';
import { namedPortNftSet, NftRenderCache, renderNft, setNames } from './render.js';

const FAMS: readonly Fam[] = [4, 6];

/** What the agent's calculator offers (PolicyCalculator): a full model, or a delta when it can. */
export interface ModelSource {
  resolve(): ResolvedModel;
  resolveDelta(): ResolvedDelta | undefined;
}

export interface NextNftState {
  state: NftState;
  mode: 'patch' | 'full';
  /** Endpoints rendered now: all local ones (full) or just the touched ones (patch). */
  endpoints: readonly ResolvedEndpoint[];
}

/**
 * The state to program next: a patch of `prev` when possible, else a full render. `cache`: the
 * caller's render cache, kept across calls (the agent's PolicyDriver owns one).
 */
export function nextNftState(
  source: ModelSource,
  prev: NftState | undefined,
  forceFull = false,
  cache: NftRenderCache = new NftRenderCache(),
): NextNftState {
  const delta = prev && !forceFull ? source.resolveDelta() : undefined;
  const patched = delta && patchNft(prev!, delta, cache);
  if (patched) return { state: patched, mode: 'patch', endpoints: delta.model.endpoints };
  const model = source.resolve();
  return { state: renderNft(model, { cache }), mode: 'full', endpoints: model.endpoints };
}

export function patchNft(
  prev: NftState,
  delta: ResolvedDelta,
  cache: NftRenderCache = new NftRenderCache(),
): NftState | undefined {
  const part = renderNft(delta.model, { cache, partial: true });
  const sets = new Map(prev.sets);
  for (const [sel, def] of delta.ipSets) {
    for (const fam of FAMS) {
      const elements = fam === 4 ? def.v4 : def.v6;
      const changes = def.changes[fam];
      const interval = cache.hasPrefix(elements, changes);
      if (prev.sets.has(setNames.selector(sel, fam, !interval))) return undefined; // changed shape
      const name = setNames.selector(sel, fam, interval);
      const old = prev.sets.get(name);
      if (!old || old.elements === elements) continue;
      const set = { name: old.name, type: old.type, interval: old.interval, elements };
      sets.set(name, changes?.from === old.elements ? { ...set, changes } : set);
    }
  }
  for (const [key, def] of delta.namedPortSets) {
    for (const fam of FAMS) {
      const name = setNames.namedPort(key, fam);
      if (prev.sets.has(name)) sets.set(name, namedPortNftSet(name, def, fam));
    }
  }
  for (const [name, s] of part.sets) if (!sets.has(name)) sets.set(name, s);
  for (const fam of FAMS) {
    const name = setNames.source(fam);
    const old = prev.sets.get(name);
    const added = part.sets.get(name)?.elements ?? [];
    if (old && added.length) sets.set(name, { ...old, elements: [...new Set([...old.elements, ...added])].sort() });
  }

  const chains = new Map(prev.chains);
  for (const [name, c] of part.chains) if (!chains.has(name)) chains.set(name, c);

  const maps = new Map(prev.maps);
  for (const [name, m] of part.maps) {
    const old = prev.maps.get(name);
    if (!old) maps.set(name, m);
    else if (name === 'from_wep' || name === 'to_wep') {
      const merged = mergeVmap(old, m);
      if (!merged) return undefined;
      maps.set(name, merged);
    }
  }
  return { sets, maps, chains };
}

/** `old` with the touched interfaces' entries of `part`; undefined if an old target is orphaned. */
function mergeVmap(old: NftVmap, part: NftVmap): NftVmap | undefined {
  if (!part.elements.size) return old;
  const elements = new Map(old.elements);
  const replaced: string[] = [];
  for (const [iface, target] of part.elements) {
    const before = elements.get(iface);
    if (before !== undefined && before !== target) replaced.push(before);
    elements.set(iface, target);
  }
  if (replaced.length) {
    const inUse = new Set(elements.values());
    if (replaced.some((t) => !inUse.has(t))) return undefined;
  }
  return { ...old, elements };
}
