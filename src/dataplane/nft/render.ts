/**
 * ResolvedModel → NftState (pure). Chain layout:
 *   forward (hook) → non-Tessera traffic accepted untouched; ct fast path; jump from-wep; jump to-wep
 *   input (hook)   → pod → host traffic: ct fast path, ND allowed, jump from-wep
 *   from-wep: clear marks; anti-spoof (`iifname . saddr` not in @wep_src4/6 → drop, which also drops
 *             unprogrammed interfaces); iifname vmap @from_wep (goto de-<hash>); iifname "tsr*" drop
 *   to-wep:   clear marks; oifname vmap @to_wep (goto di-<hash>); oifname "tsr*" drop  ← fail closed
 *   de-/di-<hash>: ONE shared dispatch chain per distinct (direction, tiers+policies, profiles): per tier
 *     jump each policy chain, `return` as soon as ACCEPT is set (egress only), end-of-tier drop unless
 *     PASS/defaultAction Pass, clear PASS; then profiles likewise; final drop. PASS is checked only in
 *     tiers that have a Pass rule. A run of >= RUN_MIN consecutive Allow-only policies (runs.ts) is ONE
 *     `meta l4proto . th dport vmap @mi-/me-<hash>` hash lookup (plus `@mri-/mre-<hash>`, an interval
 *     map, only when some rule has a port range) whose (protocol . port) buckets jump straight to the
 *     one policy chain that can match, or to a bucket chain bi-/be-<hash> that jumps the few that can,
 *     in policy order: per-packet cost stays flat in the number of policies.
 *   pe-/pi-<hash>: one shared chain per policy and direction; egress Allow = set ACCEPT + return,
 *     ingress Allow = accept (the ingress dispatch is the last thing the forward hook runs, so nothing
 *     is skipped), Deny = drop, Pass = set PASS + return, Log = log + continue. Profiles: re-/ri-<hash>.
 * A pod whose policy list already exists adds only map/set elements. Selector sets are hash sets while
 * all members are host addresses (`s4-`), interval sets once a prefix joins (`s4i-`).
 * Per-packet cost depends on the policies applying to the two endpoints only: interface dispatch is a
 * vmap lookup and every selector/net/named-port match is one set lookup.
 */
import type {
  ElementChanges,
  EntityIR,
  NamedPortRef,
  NamedPortSetDef,
  ResolvedEndpoint,
  ResolvedModel,
  RuleIR,
  TierPolicies,
} from '../../policy/index.js';
import {
  type Fam,
  IFACE_PREFIX,
  MARK_ACCEPT,
  MARK_PASS,
  type Match,
  type NftChain,
  type NftRule,
  type NftSet,
  type NftState,
  type NftVmap,
  type Stmt,
} from './model.js';
import { mergePorts, type PolicyShape, policyShape, portBuckets, RUN_MIN } from './runs.js';
import { shortHash } from './text.js';
import { renderHost } from './host.js';

const ALL_MARKS = 0xffffffff;

/**
 * A memo an NftRenderCache keeps across renders. Bounded by what the table holds, not by a size:
 * a full render starts a new generation, moves over each entry it uses, and drops the rest when it
 * ends (a deleted policy's chains, a gone selector's names). Patches between full renders only add.
 */
class RenderMemo<K, V> {
  private cur = new Map<K, V>();
  private old: Map<K, V> | undefined;
  get(k: K): V | undefined {
    let v = this.cur.get(k);
    if (v === undefined && this.old !== undefined && (v = this.old.get(k)) !== undefined) this.cur.set(k, v);
    return v;
  }
  set(k: K, v: V): void {
    this.cur.set(k, v);
  }
  get size(): number {
    return this.cur.size;
  }
  beginFull(): void {
    this.old = this.cur;
    this.cur = new Map();
  }
  endFull(): void {
    this.old = undefined;
  }
}

/**
 * Names derived from one key, memoized by that key: policy ids and selectors are long-lived strings
 * from the calculator (their hash codes are cached by V8), so a lookup costs no concatenation and no
 * rehash of a fresh string; the names are the same hashes as `hash(`${kind} ${key}`)`.
 */
function namesBy<const V extends readonly string[]>(
  kind: string,
  variants: V,
  memo: RenderMemo<string, readonly string[]> | undefined,
): (key: string) => { readonly [K in keyof V]: string } {
  type Names = { readonly [K in keyof V]: string };
  return (key) => {
    let names = memo?.get(key) as Names | undefined;
    if (names === undefined) {
      const h = shortHash(`${kind} ${key}`);
      // One name per variant, in order: the tuple type says so, `map` cannot.
      names = variants.map((v) => `${v}-${h}`) as unknown as Names;
      memo?.set(key, names);
    }
    return names;
  };
}

interface NameMemos {
  hash: RenderMemo<string, string>;
  policy: RenderMemo<string, readonly string[]>;
  profile: RenderMemo<string, readonly string[]>;
  sel: RenderMemo<string, readonly string[]>;
  np: RenderMemo<string, readonly string[]>;
}

/** The naming scheme of every chain, map and set; memoized when given an NftRenderCache's memos. */
function nftNames(memos?: NameMemos) {
  const hash = (text: string): string => {
    let h = memos?.hash.get(text);
    if (h === undefined) {
      h = shortHash(text);
      memos?.hash.set(text, h);
    }
    return h;
  };
  const policyNames = namesBy('policy', ['pi', 'pe'], memos?.policy);
  const profileNames = namesBy('profile', ['ri', 're'], memos?.profile);
  const selectorNames = namesBy('sel', ['s4', 's4i', 's6', 's6i'], memos?.sel);
  const namedPortNames = namesBy('np', ['p4', 'p6'], memos?.np);
  const chain = {
    /** Shared per distinct (direction, tier/policy list, profiles): `di-`/`de-<hash>`. */
    dispatch: (signature: string, dir: 'ingress' | 'egress') =>
      `${dir === 'ingress' ? 'di' : 'de'}-${hash(`dispatch ${signature}`)}`,
    policy: (id: string, dir: 'ingress' | 'egress') => policyNames(id)[dir === 'ingress' ? 0 : 1],
    profile: (name: string, dir: 'ingress' | 'egress') => profileNames(name)[dir === 'ingress' ? 0 : 1],
    /** Jumps to the policies of a run that share one (protocol, port) bucket, in policy order. */
    bucket: (ids: readonly string[], dir: 'ingress' | 'egress') =>
      `${dir === 'ingress' ? 'bi' : 'be'}-${hash(`bucket ${ids.join('\n')}`)}`,
  };
  /** The (protocol . dport) verdict maps of one run of Allow-only policies: single ports, and ranges. */
  const runMap = (ids: readonly string[], dir: 'ingress' | 'egress') => {
    const h = hash(`run ${ids.join('\n')}`);
    return { exact: `${dir === 'ingress' ? 'mi' : 'me'}-${h}`, range: `${dir === 'ingress' ? 'mri' : 'mre'}-${h}` };
  };
  const set = {
    selector: (sel: string, fam: Fam, interval = true) =>
      selectorNames(sel)[(fam === 4 ? 0 : 2) + (interval ? 1 : 0)] as string,
    nets: (nets: readonly string[], fam: Fam) => `n${fam}-${hash(`nets ${nets.join(',')}`)}`,
    namedPort: (key: string, fam: Fam) => namedPortNames(key)[fam === 4 ? 0 : 1] as string,
    /** `iifname . saddr` of every local endpoint: anti-spoofing in one lookup. */
    source: (fam: Fam) => `wep_src${fam}`,
  };
  return { chain, runMap, set };
}
/** A rendered policy chain plus the sets it references (replayed so a cache hit registers them cheaply). */
interface CachedChain {
  chain: NftChain;
  sets: SetRequest[];
}
type SetRequest =
  | { k: 'sel'; sel: string; fam: Fam; interval: boolean }
  | { k: 'nets'; nets: readonly string[]; fam: Fam }
  | { k: 'np'; np: NamedPortRef; fam: Fam };
const counter: Stmt = { s: 'counter' };

/** The names, computed each time (callers outside a render; a render uses its cache's). */
const NAMES = nftNames();
export const chainNames = NAMES.chain;
export const runMapNames = NAMES.runMap;
export const setNames = NAMES.set;

/** One tier of a dispatch chain: single policy jumps, and runs of Allow-only policies looked up in one map. */
type Segment = { k: 'policy'; pid: string; shape: PolicyShape } | { k: 'run'; pids: string[]; hasRange: boolean };
interface CachedRunMap {
  rules: readonly (readonly RuleIR[])[];
  exact: NftVmap;
  range: NftVmap;
  buckets: NftChain[];
}

/**
 * What rendering keeps between the renders of one owner (the agent's PolicyDriver): rendered chains
 * and maps, list signatures and names. Each lives as long as the cache and as long as the table
 * uses it (RenderMemo: dropped at the end of the first full render that does not). Rendered policy
 * chains are kept per immutable rule list and go with it. A render without a cache starts empty.
 */
export class NftRenderCache {
  readonly policyChains = new WeakMap<readonly RuleIR[], Map<string, CachedChain>>();
  /** policyShape per immutable rule list (runs.ts). */
  readonly shapes = new WeakMap<readonly RuleIR[], PolicyShape>();
  /** Element arrays are the calculator's cached (immutable) arrays: scan each one once, not per chain per render. */
  private readonly prefixScans = new WeakMap<readonly string[], boolean>();
  readonly dispatchChains = new RenderMemo<string, NftChain>();
  readonly listSigs = new RenderMemo<string, string>();
  readonly runMaps = new RenderMemo<string, CachedRunMap>();
  private readonly nameMemos: NameMemos = {
    hash: new RenderMemo<string, string>(),
    policy: new RenderMemo<string, readonly string[]>(),
    profile: new RenderMemo<string, readonly string[]>(),
    sel: new RenderMemo<string, readonly string[]>(),
    np: new RenderMemo<string, readonly string[]>(),
  };
  readonly names = nftNames(this.nameMemos);
  private memos(): { beginFull(): void; endFull(): void }[] {
    return [this.dispatchChains, this.listSigs, this.runMaps, ...Object.values(this.nameMemos)];
  }
  /** Entries held now, per memo (tests). */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {
      dispatchChains: this.dispatchChains.size,
      listSigs: this.listSigs.size,
      runMaps: this.runMaps.size,
    };
    for (const [k, m] of Object.entries(this.nameMemos)) out[`names.${k}`] = m.size;
    return out;
  }
  beginFull(): void {
    for (const m of this.memos()) m.beginFull();
  }
  /** Whether a set's elements hold a prefix (an interval set then); `d`: known changes from a scanned array. */
  hasPrefix(elements: readonly string[], d?: ElementChanges): boolean {
    let v = this.prefixScans.get(elements);
    if (v === undefined) {
      // Derived from a scanned array by known changes: removals cannot add a prefix, look at additions.
      const base = d && this.prefixScans.get(d.from);
      v = base === false && d ? d.added.some((e) => e.includes('/')) : elements.some((e) => e.includes('/'));
      this.prefixScans.set(elements, v);
    }
    return v;
  }
  endFull(): void {
    for (const m of this.memos()) m.endFull();
  }
}

const isV6 = (t: string) => t.includes(':');
/** nft lists a host prefix in an interval set as the bare address; render it the same way. */
export const bareHost = (t: string): string =>
  t.replace(/\/(32|128)$/, (m, len: string) => ((len === '32') !== isV6(t) ? '' : m));

/** The nft set of one named-port set definition (ip . protocol . port elements). */
export function namedPortNftSet(name: string, def: NamedPortSetDef | undefined, fam: Fam): NftSet {
  const members = def ? (fam === 4 ? def.v4 : def.v6) : [];
  const elements = [...new Set(members.map((m) => `${m.ip} . ${m.protocol} . ${m.port}`))].sort();
  const type = fam === 4 ? 'ipv4_addr . inet_proto . inet_service' : 'ipv6_addr . inet_proto . inet_service';
  return { name, type, interval: false, elements };
}

/** Exported for the host-endpoint renderer (host.ts) only; not part of the package's API. */
export class Builder {
  readonly sets = new Map<string, NftSet>();
  readonly chains = new Map<string, NftChain>();
  readonly maps = new Map<string, NftVmap>();
  private readonly dispatchByList = new Map<string, string>();
  private readonly names: NftRenderCache['names'];
  constructor(
    private readonly model: ResolvedModel,
    private readonly cache: NftRenderCache = new NftRenderCache(),
  ) {
    this.names = cache.names;
  }

  private recording: SetRequest[] | undefined;

  /**
   * Selector members as a plain hash set while they are all host addresses, an interval set only once
   * a prefix (network set) joins: nft 1.0.6 fetches every interval set's elements before any `add
   * element`, which made each incremental update cost ~100 ms with 10k members (a hash set: ~10 ms).
   */
  selectorSet(sel: string, fam: Fam): string {
    const def = this.model.ipSets.get(sel);
    const elements = def ? (fam === 4 ? def.v4 : def.v6) : [];
    const interval = this.cache.hasPrefix(elements);
    this.recording?.push({ k: 'sel', sel, fam, interval });
    const name = this.names.set.selector(sel, fam, interval);
    if (!this.sets.has(name)) {
      // Same array as the calculator's cached set: diffNft skips unchanged sets by identity.
      this.sets.set(name, { name, type: fam === 4 ? 'ipv4_addr' : 'ipv6_addr', interval, elements });
    }
    return name;
  }

  /** False when a selector set changed shape since `reqs` were recorded (the chain names the old set). */
  private sameShape(reqs: readonly SetRequest[]): boolean {
    return reqs.every((q) => {
      if (q.k !== 'sel') return true;
      const def = this.model.ipSets.get(q.sel);
      const elements = def ? (q.fam === 4 ? def.v4 : def.v6) : [];
      return this.cache.hasPrefix(elements) === q.interval;
    });
  }

  netSet(nets: readonly string[], fam: Fam): string {
    this.recording?.push({ k: 'nets', nets, fam });
    const mine = nets
      .filter((n) => isV6(n) === (fam === 6))
      .map(bareHost)
      .sort();
    const name = this.names.set.nets(mine, fam);
    if (!this.sets.has(name)) {
      this.sets.set(name, {
        name,
        type: fam === 4 ? 'ipv4_addr' : 'ipv6_addr',
        interval: true,
        elements: dropContained(mine, fam),
      });
    }
    return name;
  }

  namedPortSet(np: NamedPortRef, fam: Fam): string {
    this.recording?.push({ k: 'np', np, fam });
    const name = this.names.set.namedPort(np.setKey, fam);
    if (!this.sets.has(name)) {
      this.sets.set(name, namedPortNftSet(name, this.model.namedPortSets.get(np.setKey), fam));
    }
    return name;
  }

  /** One IR rule → nft rules: one per address family it needs × per port alternative. */
  ruleVariants(r: RuleIR, label: string, logPrefix: string, dir: 'ingress' | 'egress'): NftRule[] {
    const needsFamily =
      r.icmp !== undefined ||
      r.notICMP !== undefined ||
      [r.src, r.dst].some(
        (e) => e.nets || e.notNets || e.selector || e.notSelector || e.namedPorts?.length || e.notNamedPorts?.length,
      );
    let fams: (Fam | undefined)[];
    if (r.ipVersion) fams = [r.ipVersion];
    else if (r.protocol === 1) fams = [4];
    else if (r.protocol === 58) fams = [6];
    else fams = needsFamily ? [4, 6] : [undefined];
    if (r.ipVersion && ((r.protocol === 1 && r.ipVersion === 6) || (r.protocol === 58 && r.ipVersion === 4))) fams = [];
    const out: NftRule[] = [];
    for (const fam of fams) {
      const base: Match[] = [];
      if (fam !== undefined) base.push({ m: 'nfproto', fam });
      if (r.protocol !== undefined) base.push({ m: 'l4proto', neg: false, proto: r.protocol });
      if (r.notProtocol !== undefined) base.push({ m: 'l4proto', neg: true, proto: r.notProtocol });
      if (r.icmp && fam) base.push({ m: 'icmp', fam, neg: false, ...r.icmp });
      if (r.notICMP && fam) base.push({ m: 'icmp', fam, neg: true, ...r.notICMP });
      const src = fam === undefined ? [] : this.entityAddr(r.src, fam, 'saddr');
      const dst = fam === undefined ? [] : this.entityAddr(r.dst, fam, 'daddr');
      if (src === null || dst === null) continue; // positive nets with none of this family: cannot match
      const srcAlts = this.portAlternatives(r.src, fam, 'src');
      const dstAlts = this.portAlternatives(r.dst, fam, 'dst');
      for (const sa of srcAlts) {
        for (const da of dstAlts) {
          out.push({ matches: [...base, ...src, ...dst, ...sa, ...da], ...actionOf(r, logPrefix, dir), label });
        }
      }
    }
    return out;
  }

  private entityAddr(e: EntityIR, fam: Fam, field: 'saddr' | 'daddr'): Match[] | null {
    const out: Match[] = [];
    if (e.nets) {
      if (!e.nets.some((n) => isV6(n) === (fam === 6))) return null;
      out.push({ m: 'addrSet', fam, field, neg: false, set: this.netSet(e.nets, fam) });
    }
    if (e.notNets?.some((n) => isV6(n) === (fam === 6)))
      out.push({ m: 'addrSet', fam, field, neg: true, set: this.netSet(e.notNets, fam) });
    if (e.selector) out.push({ m: 'addrSet', fam, field, neg: false, set: this.selectorSet(e.selector, fam) });
    if (e.notSelector) out.push({ m: 'addrSet', fam, field, neg: true, set: this.selectorSet(e.notSelector, fam) });
    return out;
  }

  /** Alternatives ORed by duplicating the rule: numeric ranges as one, each named port as one. */
  private portAlternatives(e: EntityIR, fam: Fam | undefined, side: 'src' | 'dst'): Match[][] {
    const field = side === 'src' ? 'sport' : 'dport';
    const negs: Match[] = [];
    if (e.notPorts?.length) negs.push({ m: 'port', field, neg: true, ranges: e.notPorts });
    for (const np of e.notNamedPorts ?? []) {
      if (fam !== undefined) negs.push({ m: 'namedPort', fam, side, neg: true, set: this.namedPortSet(np, fam) });
    }
    if (!e.ports && !e.namedPorts) return [negs];
    const alts: Match[][] = [];
    if (e.ports?.length) alts.push([{ m: 'port', field, neg: false, ranges: mergePorts(e.ports) }, ...negs]);
    for (const np of e.namedPorts ?? []) {
      // Named ports always need a family; rules with them were expanded per family above.
      if (fam !== undefined)
        alts.push([{ m: 'namedPort', fam, side, neg: false, set: this.namedPortSet(np, fam) }, ...negs]);
    }
    return alts;
  }

  policyChain(name: string, rules: readonly RuleIR[], what: string, dir: 'ingress' | 'egress'): void {
    if (this.chains.has(name)) return;
    // Rendered chains are cached per (immutable) rule list: an unchanged policy yields the same chain
    // object, which diffNft skips by identity. Sets are still registered for this state.
    const cached = this.cache.policyChains.get(rules)?.get(name);
    if (cached && this.sameShape(cached.sets)) {
      for (const q of cached.sets) {
        if (q.k === 'sel') this.selectorSet(q.sel, q.fam);
        else if (q.k === 'nets') this.netSet(q.nets, q.fam);
        else this.namedPortSet(q.np, q.fam);
      }
      this.chains.set(name, cached.chain);
      return;
    }
    const out: NftRule[] = [];
    const sets: SetRequest[] = [];
    this.recording = sets;
    try {
      for (const r of rules)
        out.push(...this.ruleVariants(r, `${what} r${r.index}`, `tsr ${what.slice(0, 40)} r${r.index} `, dir));
    } finally {
      this.recording = undefined;
    }
    const chain = { name, rules: out };
    let byName = this.cache.policyChains.get(rules);
    if (!byName) this.cache.policyChains.set(rules, (byName = new Map()));
    byName.set(name, { chain, sets });
    this.chains.set(name, chain);
  }

  /**
   * The shared dispatch chain for one (direction, tiers, profiles) signature: every endpoint with the
   * same policy list jumps to the same chain, so adding a pod with a known policy list adds only
   * vmap and anti-spoof set elements, and the rule count grows with distinct policy lists, not pods.
   * The signature includes each policy's shape (run member, has Allow, has Pass): the chain's rules
   * depend on it, the policy chains' contents do not.
   */
  dispatchChain(ep: ResolvedEndpoint, dir: 'ingress' | 'egress'): string {
    // Endpoints sharing a policy list share the chain: compute its shape signature once per render.
    const quick = quickListKey(dir, ep[dir], ep.profiles);
    const known = this.dispatchByList.get(quick);
    if (known !== undefined) return known;
    let listSig = this.cache.listSigs.get(quick);
    if (listSig === undefined) {
      this.cache.listSigs.set(quick, (listSig = JSON.stringify([dir, ep[dir], ep.profiles])));
    }
    const sig = `${listSig}${this.shapeCode(ep[dir], dir)}`;
    const name = this.names.chain.dispatch(sig, dir);
    this.dispatchByList.set(quick, name);
    if (this.chains.has(name)) return name;
    const cached = this.cache.dispatchChains.get(sig);
    if (cached) {
      this.registerDeps(ep, dir);
      this.chains.set(name, cached);
      return name;
    }
    const chain = this.buildDispatchChain(ep, dir, name);
    this.cache.dispatchChains.set(sig, chain);
    this.chains.set(name, chain);
    return name;
  }

  private shape(pid: string, dir: 'ingress' | 'egress'): PolicyShape | undefined {
    const pol = this.model.policies.get(pid);
    return pol && policyShape(dir === 'ingress' ? pol.ingress : pol.egress, this.cache.shapes);
  }

  private shapeCode(tiers: readonly TierPolicies[], dir: 'ingress' | 'egress'): string {
    let code = '';
    for (const tier of tiers) {
      for (const pid of tier.policies) {
        const sh = this.shape(pid, dir);
        // Everything the dispatch rules depend on: run membership, the ACCEPT check, the PASS checks.
        code += !sh
          ? '-'
          : `${sh.keys ? 'k' : ''}${sh.hasRange ? 'r' : ''}${sh.hasAllow ? 'a' : ''}${sh.hasPass ? 'p' : ''},`;
      }
      code += '|';
    }
    return code;
  }

  /** Policy order split into single policies and runs of at least RUN_MIN Allow-only policies. */
  private tierPlan(tier: TierPolicies, dir: 'ingress' | 'egress'): { segs: Segment[]; hasPass: boolean } {
    const segs: Segment[] = [];
    let run: { pid: string; shape: PolicyShape }[] = [];
    let hasPass = false;
    const flush = () => {
      if (run.length >= RUN_MIN)
        segs.push({ k: 'run', pids: run.map((x) => x.pid), hasRange: run.some((x) => x.shape.hasRange) });
      else for (const x of run) segs.push({ k: 'policy', ...x });
      run = [];
    };
    for (const pid of tier.policies) {
      const shape = this.shape(pid, dir);
      if (!shape) continue;
      hasPass ||= shape.hasPass;
      if (shape.keys) {
        run.push({ pid, shape });
        continue;
      }
      flush();
      segs.push({ k: 'policy', pid, shape });
    }
    flush();
    return { segs, hasPass };
  }

  private registerPolicy(pid: string, dir: 'ingress' | 'egress'): string {
    const pol = this.model.policies.get(pid);
    const chain = this.names.chain.policy(pid, dir);
    if (pol) this.policyChain(chain, dir === 'ingress' ? pol.ingress : pol.egress, pid, dir);
    return chain;
  }

  private registerDeps(ep: ResolvedEndpoint, dir: 'ingress' | 'egress'): void {
    for (const tier of ep[dir]) {
      for (const seg of this.tierPlan(tier, dir).segs) {
        if (seg.k === 'policy') this.registerPolicy(seg.pid, dir);
        else this.runMap(seg.pids, dir);
      }
    }
    for (const prof of ep.profiles) {
      const p = this.model.profiles.get(prof);
      if (p)
        this.policyChain(
          this.names.chain.profile(prof, dir),
          dir === 'ingress' ? p.ingress : p.egress,
          `profile ${prof}`,
          dir,
        );
    }
  }

  /**
   * The run's (protocol . dport) maps, its bucket chains and the policy chains they jump to. Cached by
   * the identity of the policies' rule lists: an unchanged run yields the same map objects.
   */
  private runMap(pids: readonly string[], dir: 'ingress' | 'egress'): { exact: string; range: string } {
    const names = this.names.runMap(pids, dir);
    if (this.maps.has(names.exact)) return names;
    const rules = pids.map((pid) => {
      const pol = this.model.policies.get(pid);
      return pol ? (dir === 'ingress' ? pol.ingress : pol.egress) : [];
    });
    const chainsOf = pids.map((pid) => this.registerPolicy(pid, dir));
    let cached = this.cache.runMaps.get(names.exact);
    if (!cached || cached.rules.length !== rules.length || cached.rules.some((r, i) => r !== rules[i])) {
      const exact = new Map<string, string>();
      const range = new Map<string, string>();
      const buckets = new Map<string, NftChain>();
      for (const b of portBuckets(rules.map((r) => policyShape(r, this.cache.shapes).keys ?? []))) {
        let target: string;
        if (b.members.length === 1) target = chainsOf[b.members[0] as number] as string;
        else {
          const ids = b.members.map((i) => pids[i] as string);
          target = this.names.chain.bucket(ids, dir);
          if (!buckets.has(target))
            buckets.set(target, {
              name: target,
              rules: b.members.flatMap((i, n) =>
                this.policyJump(chainsOf[i] as string, [], dir, n < b.members.length - 1),
              ),
            });
        }
        if (b.lo === b.hi) exact.set(`${b.proto} . ${b.lo}`, `jump ${target}`);
        else range.set(`${b.proto} . ${b.lo}-${b.hi}`, `jump ${target}`);
      }
      cached = {
        rules,
        exact: { name: names.exact, key: 'l4proto . dport', elements: exact },
        range: { name: names.range, key: 'l4proto . dport', interval: true, elements: range },
        buckets: [...buckets.values()],
      };
      this.cache.runMaps.set(names.exact, cached);
    }
    for (const c of cached.buckets) this.chains.set(c.name, c);
    this.maps.set(names.exact, cached.exact);
    // Declared only when the dispatch rule can reference it (sig-visible: some key is a range).
    if (pids.some((pid) => this.shape(pid, dir)?.hasRange)) this.maps.set(names.range, cached.range);
    return names;
  }

  /**
   * A jump into a policy (or bucket/run) and, for egress, the return once it set ACCEPT. Ingress
   * policy chains accept directly (the ingress dispatch is the last thing the forward hook runs), so
   * no mark is ever set or checked there.
   */
  private policyJump(
    chain: string,
    guard: Match[],
    dir: 'ingress' | 'egress',
    canAllow: boolean,
    label?: string,
  ): NftRule[] {
    const out: NftRule[] = [{ matches: guard, stmts: [], verdict: { v: 'jump', chain }, ...(label ? { label } : {}) }];
    if (dir === 'egress' && canAllow)
      out.push({ matches: [markSet(MARK_ACCEPT)], stmts: [], verdict: { v: 'return' } });
    return out;
  }

  private buildDispatchChain(ep: ResolvedEndpoint, dir: 'ingress' | 'egress', name: string): NftChain {
    const rules: NftRule[] = [];
    for (const tier of ep[dir]) this.tierRules(tier, dir, rules);
    for (const prof of ep.profiles) {
      const p = this.model.profiles.get(prof);
      if (!p) continue;
      const chain = this.names.chain.profile(prof, dir);
      const pr = dir === 'ingress' ? p.ingress : p.egress;
      this.policyChain(chain, pr, `profile ${prof}`, dir);
      rules.push(...this.policyJump(chain, [], dir, true));
      rules.push({ matches: [], stmts: [{ s: 'mark', and: ALL_MARKS & ~MARK_PASS, or: 0 }] });
    }
    rules.push({ matches: [], stmts: [counter], verdict: { v: 'drop' }, label: `${dir} no policy or profile allowed` });
    return { name, rules };
  }

  private tierRules(tier: TierPolicies, dir: 'ingress' | 'egress', rules: NftRule[]): void {
    const { segs, hasPass } = this.tierPlan(tier, dir);
    // Without a Pass rule in the tier the PASS bit cannot be set here: no checks for it.
    segs.forEach((seg, i) => {
      const guard = hasPass && i > 0 ? [markClear(MARK_PASS)] : [];
      if (seg.k === 'policy') {
        rules.push(
          ...this.policyJump(this.registerPolicy(seg.pid, dir), guard, dir, seg.shape.hasAllow, `tier ${tier.tier}`),
        );
        return;
      }
      const maps = this.runMap(seg.pids, dir);
      // Buckets are disjoint: a packet finds at most one element across both maps.
      rules.push({
        matches: guard,
        stmts: [],
        verdict: { v: 'portVmap', map: maps.exact },
        label: `tier ${tier.tier} run of ${seg.pids.length}`,
      });
      if (seg.hasRange)
        rules.push({
          matches: guard,
          stmts: [],
          verdict: { v: 'portVmap', map: maps.range },
          label: `tier ${tier.tier} run of ${seg.pids.length}, port ranges`,
        });
      if (dir === 'egress') rules.push({ matches: [markSet(MARK_ACCEPT)], stmts: [], verdict: { v: 'return' } });
    });
    if (tier.defaultAction === 'Deny') {
      rules.push({
        matches: hasPass ? [markClear(MARK_PASS)] : [],
        stmts: [counter],
        verdict: { v: 'drop' },
        label: `tier ${tier.tier} default deny`,
      });
    }
    if (hasPass) rules.push({ matches: [], stmts: [{ s: 'mark', and: ALL_MARKS & ~MARK_PASS, or: 0 }] });
  }
}

/**
 * Injective key of one endpoint's (direction, tiers, profiles), far cheaper than JSON per endpoint:
 * separators are control characters no tier, action, policy id or profile name contains (names are
 * DNS labels / k8s names). The JSON form, which names the dispatch chain, is derived once per key.
 */
function quickListKey(dir: 'ingress' | 'egress', tiers: readonly TierPolicies[], profiles: readonly string[]): string {
  let k = dir;
  for (const t of tiers) {
    k += `\u0001${t.tier}\u0002${t.defaultAction}`;
    for (const p of t.policies) k += `\u0002${p}`;
  }
  k += '\u0003';
  for (const p of profiles) k += `\u0002${p}`;
  return k;
}

const markSet = (bit: number): Match => ({ m: 'mark', mask: bit, value: bit, neg: false });
const markClear = (bit: number): Match => ({ m: 'mark', mask: bit, value: 0, neg: false });

function actionOf(r: RuleIR, logPrefix: string, dir: 'ingress' | 'egress'): Pick<NftRule, 'stmts' | 'verdict'> {
  switch (r.action) {
    case 'Allow':
      // Ingress runs last in the forward hook: accept now. Egress must still let the peer's ingress run.
      if (dir === 'ingress') return { stmts: [counter], verdict: { v: 'accept' } };
      return { stmts: [counter, { s: 'mark', and: ALL_MARKS, or: MARK_ACCEPT }], verdict: { v: 'return' } };
    case 'Pass':
      return { stmts: [counter, { s: 'mark', and: ALL_MARKS, or: MARK_PASS }], verdict: { v: 'return' } };
    case 'Deny':
      return { stmts: [counter], verdict: { v: 'drop' } };
    case 'Log':
      return { stmts: [counter, { s: 'log', prefix: logPrefix }] };
  }
}

/** nft rejects overlapping interval elements without auto-merge: keep only outermost CIDRs. */
function dropContained(nets: readonly string[], fam: Fam): string[] {
  const bits = fam === 4 ? 32 : 128;
  const parsed = nets.map((t) => {
    const [a, l] = t.split('/') as [string, string | undefined];
    return { t, a, len: l === undefined ? bits : Number(l) };
  });
  const toBig = fam === 4 ? v4Big : v6Big;
  const items = parsed
    .map((p) => ({ ...p, v: toBig(p.a) }))
    .sort((x, y) => (x.v < y.v ? -1 : x.v > y.v ? 1 : x.len - y.len));
  const out: typeof items = [];
  for (const it of items) {
    const last = out[out.length - 1];
    if (last && it.v >> BigInt(bits - last.len) === last.v >> BigInt(bits - last.len)) continue;
    out.push(it);
  }
  return out.map((o) => o.t);
}

function v4Big(a: string): bigint {
  return a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}
function v6Big(a: string): bigint {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

export interface RenderOptions {
  /** Kept across renders (the agent's PolicyDriver owns one); a fresh one when absent. */
  cache?: NftRenderCache;
  /** A patch's partial model (patchNft): the cache keeps everything; a full render sweeps it. */
  partial?: boolean;
}

/** The whole table for `model`. */
export function renderNft(model: ResolvedModel, opts: RenderOptions = {}): NftState {
  const cache = opts.cache ?? new NftRenderCache();
  if (opts.partial) return render(model, cache);
  cache.beginFull();
  try {
    return render(model, cache);
  } finally {
    cache.endFull();
  }
}

function render(model: ResolvedModel, cache: NftRenderCache): NftState {
  const b = new Builder(model, cache);
  const fromWep = new Map<string, string>();
  const toWep = new Map<string, string>();
  const src4: string[] = [];
  const src6: string[] = [];
  for (const ep of model.endpoints) {
    if (!ep.interfaceName) continue;
    fromWep.set(ep.interfaceName, `goto ${b.dispatchChain(ep, 'egress')}`);
    toWep.set(ep.interfaceName, `goto ${b.dispatchChain(ep, 'ingress')}`);
    // Host addresses only: a concatenation set holds no prefixes (Tessera's endpoints are /32 and /128).
    for (const a of ep.v4) if (!a.includes('/')) src4.push(`"${ep.interfaceName}" . ${a}`);
    for (const a of ep.v6) if (!a.includes('/')) src6.push(`"${ep.interfaceName}" . ${a}`);
  }
  for (const [fam, elements] of [
    [4, src4],
    [6, src6],
  ] as const) {
    const name = setNames.source(fam);
    b.sets.set(name, {
      name,
      type: fam === 4 ? 'ifname . ipv4_addr' : 'ifname . ipv6_addr',
      interval: false,
      elements: elements.sort(),
    });
  }
  const clearMarks: NftRule = {
    matches: [],
    stmts: [{ s: 'mark', and: ALL_MARKS & ~(MARK_ACCEPT | MARK_PASS), or: 0 }],
  };
  const pattern = `${IFACE_PREFIX}*`;
  const fastPath: NftRule[] = [
    { matches: [{ m: 'ct', states: ['established', 'related'] }], stmts: [], verdict: { v: 'accept' } },
    { matches: [{ m: 'ct', states: ['invalid'] }], stmts: [counter], verdict: { v: 'drop' } },
  ];
  const chains: NftChain[] = [
    {
      name: 'forward',
      hook: { hook: 'forward', priority: 0 },
      rules: [
        // Traffic that touches no Tessera interface is not ours to filter.
        {
          matches: [
            { m: 'ifname', dir: 'iif', neg: true, name: pattern },
            { m: 'ifname', dir: 'oif', neg: true, name: pattern },
          ],
          stmts: [],
          verdict: { v: 'accept' },
        },
        ...fastPath,
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'from-wep' } },
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'to-wep' } },
      ],
    },
    {
      name: 'input',
      hook: { hook: 'input', priority: 0 },
      rules: [
        { matches: [{ m: 'ifname', dir: 'iif', neg: true, name: pattern }], stmts: [], verdict: { v: 'accept' } },
        ...fastPath,
        { matches: [{ m: 'nfproto', fam: 6 }, { m: 'nd' }], stmts: [], verdict: { v: 'accept' } },
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'from-wep' } },
      ],
    },
    {
      name: 'from-wep',
      rules: [
        clearMarks,
        // Anti-spoofing: a workload may only send from its own addresses (also drops unprogrammed ones).
        ...([4, 6] as const).map((fam): NftRule => ({
          matches: [
            { m: 'ifname', dir: 'iif', neg: false, name: pattern },
            { m: 'nfproto', fam },
            { m: 'ifaddrSet', fam, neg: true, set: setNames.source(fam) },
          ],
          stmts: [counter],
          verdict: { v: 'drop' },
          label: 'anti-spoof',
        })),
        { matches: [], stmts: [], verdict: { v: 'vmap', dir: 'iif', map: 'from_wep' } },
        {
          matches: [{ m: 'ifname', dir: 'iif', neg: false, name: pattern }],
          stmts: [counter],
          verdict: { v: 'drop' },
          label: 'fail closed: unprogrammed interface',
        },
      ],
    },
    {
      name: 'to-wep',
      rules: [
        clearMarks,
        { matches: [], stmts: [], verdict: { v: 'vmap', dir: 'oif', map: 'to_wep' } },
        {
          matches: [{ m: 'ifname', dir: 'oif', neg: false, name: pattern }],
          stmts: [counter],
          verdict: { v: 'drop' },
          label: 'fail closed: unprogrammed interface',
        },
      ],
    },
  ];
  if (model.host) renderHost(b, model, chains);
  for (const c of chains) b.chains.set(c.name, c);
  const maps = new Map<string, NftVmap>([
    ['from_wep', { name: 'from_wep', elements: fromWep }],
    ['to_wep', { name: 'to_wep', elements: toWep }],
    ...b.maps,
  ]);
  return { sets: b.sets, maps, chains: b.chains };
}
