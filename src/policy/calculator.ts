/**
 * PolicyCalculator: the pure calculation graph for policy. Holds the current inputs, keeps the label
 * index up to date incrementally, and resolves the model for the local endpoints on demand.
 */
import { andSelectors, parseSelector, printSelector, type Selector } from '../api/selector/index.js';
import { TesseraError, validationError } from '../lib/errors.js';
import { cidrNetwork, familyBits, formatCidr, parseCidr, cidrContainsCidr, type Cidr } from '../lib/ip.js';
import type {
  HostConfig,
  IpSetDef,
  IpSetUpdate,
  NamedPortMember,
  ResolvedHostEndpoint,
  NamedPortSetDef,
  ResolvedEndpoint,
  ResolvedModel,
  ResolvedDelta,
  ResolvedPolicy,
  ResolvedProfile,
  RuleIR,
  TierPolicies,
} from './ir.js';
import { convertK8sNetworkPolicy } from './k8s.js';
import {
  allowAllRule,
  compileRule,
  NAME_LABEL,
  NAMESPACE_LABEL,
  NS_PREFIX,
  namespaceSelectorFor,
  ORCHESTRATOR_LABEL,
  prefixSelector,
  protocolNumber,
  ruleSelectors,
  SA_PREFIX,
  SERVICE_ACCOUNT_LABEL,
} from './rules.js';
import { HostAddressSet } from './host-set.js';
import { DEFAULT_ALLOW_PROFILE, hostConfigOf, hostEndpointInterface } from './host.js';
import { LabelIndex } from './label-index.js';
import type {
  Direction,
  HostConfigInput,
  HostEndpointInput,
  HostInterfaceInput,
  Labels,
  NamedPort,
  NamespaceInput,
  NetworkSetInput,
  PolicyInput,
  PolicyUpdate,
  ProfileInput,
  ServiceAccountInput,
  TierInput,
  WorkloadEndpointInput,
} from './types.js';

export const DEFAULT_TIER: TierInput = { name: 'default', order: 1_000_000, defaultAction: 'Deny' };

interface CompiledPolicy {
  resolved: ResolvedPolicy;
  applyKey: string;
  /** Its entry in the calculator's applySelectors. */
  applyInputs: string;
  types: ReadonlySet<Direction>;
  /** preDNAT or doNotTrack: applies to host endpoints only. */
  hostOnly: boolean;
  /** Every selector key this policy holds a reference on. */
  refs: string[];
}

interface CompiledProfile {
  resolved: ResolvedProfile;
  refs: string[];
  labels: Labels;
}

/** Addressable member of the index: endpoint or network set. */
interface Member {
  kind: 'wep' | 'hep' | 'netset';
  nets: Cidr[];
  ports: readonly NamedPort[];
}

export interface PolicyCalculatorOptions {
  /** Endpoints on this node are "local" (resolved). Undefined: every workload endpoint is local. */
  nodeName?: string;
}

const itemId = { wep: (k: string) => `wep:${k}`, hep: (k: string) => `hep:${k}`, netset: (k: string) => `set:${k}` };
const parentId = (profile: string) => `prof:${profile}`;

function compareOrder(a: number | undefined, b: number | undefined): number {
  const x = a ?? Infinity;
  const y = b ?? Infinity;
  return x < y ? -1 : x > y ? 1 : 0;
}

export class PolicyCalculator {
  readonly index = new LabelIndex();
  private readonly nodeName: string | undefined;
  private readonly weps = new Map<string, WorkloadEndpointInput>();
  private readonly heps = new Map<string, HostEndpointInput>();
  private hostConfigInput: HostConfigInput | undefined;
  private hostConfig: HostConfig = hostConfigOf(undefined);
  private hostInterfaces: readonly HostInterfaceInput[] = [];
  private readonly members = new Map<string, Member>();
  private readonly explicitProfiles = new Map<string, ProfileInput>();
  private readonly namespaces = new Map<string, NamespaceInput>();
  private readonly serviceAccounts = new Map<string, ServiceAccountInput>();
  private readonly profiles = new Map<string, CompiledProfile>();
  private readonly tiers = new Map<string, TierInput>([[DEFAULT_TIER.name, DEFAULT_TIER]]);
  private readonly policies = new Map<string, CompiledPolicy>();
  private readonly ipSetCache = new Map<string, IpSetDef>();
  /**
   * A policy's canonical apply selector by its inputs (selector, namespace, namespace and service
   * account selectors), shared by the policies that repeat them; an entry goes with its last user.
   */
  private readonly applySelectors = new Map<string, { apply: Selector; applyKey: string; users: number }>();
  /** Host-address-only sets kept member by member, and the members changed since their last use. */
  private readonly hostSets = new Map<string, HostAddressSet>();
  private readonly hostSetChanges = new Map<string, Set<string>>();
  /** A patched host set's last def and how its arrays changed, for the next resolveDelta. */
  private readonly hostSetDeltas = new Map<string, { def: IpSetDef; changes: IpSetUpdate['changes'] }>();
  private readonly namedPortCache = new Map<string, NamedPortSetDef>();
  /** Policies in evaluation order; dropped whenever a policy or tier changes. */
  private ordered: CompiledPolicy[] | undefined;
  /** Sorted local endpoint ids; dropped whenever a local endpoint is added, moved or removed. */
  private localSorted: string[] | undefined;
  /** Item id → its tier/policy lists, valid for the policy order `tierCacheFor`. */
  private readonly tierCache = new Map<string, { ingress: TierPolicies[]; egress: TierPolicies[] }>();
  private tierCacheFor: CompiledPolicy[] | undefined;
  /** Delta tracking (resolveDelta): a change that needs a full resolve happened since the last one. */
  private structural = true;
  /** Local endpoint keys added or relabelled since the last full resolve or delta. */
  private readonly touchedLocal = new Set<string>();
  /** Selectors / named-port set keys whose members changed since the last full resolve or delta. */
  private readonly pendingSets = new Set<string>();
  private readonly pendingNamedPorts = new Set<string>();
  /**
   * Selectors whose IP sets a resolve has handed out since the last full one: the only sets a delta
   * must refresh. Policy selectors (applies-to) and rules of policies no local endpoint uses are
   * dirty on nearly every endpoint change in the cluster; rebuilding their sets anyway cost each
   * remote pod event ~35 ms at 30,000 endpoints (an `all()` set of every address).
   */
  private readonly emittedSets = new Set<string>();
  private readonly emittedNamedPorts = new Set<string>();
  /**
   * Memos over objects the calculator owns and never mutates (member CIDRs, compiled rules): resolve
   * runs per update, and re-deriving bigint address texts and rule selector lists each time
   * dominated it. An entry lives as long as its key and this calculator.
   */
  private readonly netTexts = new WeakMap<Cidr, string>();
  private readonly ruleSelectorMemo = new WeakMap<RuleIR, ReturnType<typeof ruleSelectors>>();
  private readonly memberNetText = (c: Cidr): string => {
    let t = this.netTexts.get(c);
    if (t === undefined) this.netTexts.set(c, (t = netText(c)));
    return t;
  };
  private ruleSelectorsOf(r: RuleIR): ReturnType<typeof ruleSelectors> {
    let v = this.ruleSelectorMemo.get(r);
    if (v === undefined) this.ruleSelectorMemo.set(r, (v = ruleSelectors(r)));
    return v;
  }

  constructor(options: PolicyCalculatorOptions = {}) {
    this.nodeName = options.nodeName;
    this.refreshProfile(DEFAULT_ALLOW_PROFILE);
  }

  /** Applies a batch of updates; order within the batch matters only for the same key. */
  applyUpdates(updates: readonly PolicyUpdate[]): void {
    for (const u of updates) this.apply(u);
  }

  apply(u: PolicyUpdate): void {
    // Anything but workload endpoints and network sets changes policy lists or chains: full resolve.
    if (u.kind !== 'WorkloadEndpoint' && u.kind !== 'NetworkSet') this.structural = true;
    switch (u.kind) {
      case 'WorkloadEndpoint':
        return u.value ? this.upsertWorkloadEndpoint(u.value) : this.removeWorkloadEndpoint(u.key);
      case 'HostEndpoint':
        if (!u.value) this.heps.delete(u.key);
        return u.value ? this.upsertHostEndpoint(u.value) : this.removeMember(itemId.hep(u.key));
      case 'HostConfig': {
        const config = hostConfigOf(u.value ?? undefined); // throws on bad input: the previous config stays
        this.hostConfigInput = u.value ?? undefined;
        this.hostConfig = config;
        return;
      }
      case 'HostInterfaces':
        this.hostInterfaces = u.value ?? [];
        return;
      case 'NetworkSet':
        return u.value ? this.upsertNetworkSet(u.value) : this.removeMember(itemId.netset(u.key));
      case 'Profile':
        if (u.value) this.explicitProfiles.set(u.value.name, u.value);
        else this.explicitProfiles.delete(u.key);
        return this.refreshProfile(u.value?.name ?? u.key);
      case 'Namespace':
        if (u.value) this.namespaces.set(u.value.name, u.value);
        else this.namespaces.delete(u.key);
        return this.refreshProfile(`kns.${u.value?.name ?? u.key}`);
      case 'ServiceAccount': {
        const key = u.value ? `${u.value.namespace}/${u.value.name}` : u.key;
        if (u.value) this.serviceAccounts.set(key, u.value);
        else this.serviceAccounts.delete(key);
        return this.refreshProfile(`ksa.${key.replace('/', '.')}`);
      }
      case 'Tier':
        this.ordered = undefined;
        if (u.value) this.tiers.set(u.value.name, u.value);
        else if (u.key !== DEFAULT_TIER.name) this.tiers.delete(u.key);
        return;
      case 'Policy':
        return u.value ? this.upsertPolicy(u.value) : this.removePolicy(u.key);
      case 'K8sNetworkPolicy': {
        if (u.value) return this.upsertPolicy(convertK8sNetworkPolicy(u.value));
        const [ns, name] = u.key.split('/');
        return this.removePolicy(`${ns}/knp.default.${name}`);
      }
    }
  }

  upsertWorkloadEndpoint(w: WorkloadEndpointInput): void {
    const key = `${w.namespace}/${w.name}`;
    const prevWep = this.weps.get(key);
    if (this.isLocal(w) || (prevWep && this.isLocal(prevWep))) this.localSorted = undefined;
    if (
      prevWep &&
      this.isLocal(prevWep) &&
      (!this.isLocal(w) ||
        prevWep.interfaceName !== w.interfaceName ||
        prevWep.ipNetworks.join() !== w.ipNetworks.join())
    ) {
      this.structural = true; // the old interface/addresses must leave the maps: full resolve
    } else if (this.isLocal(w)) this.touchedLocal.add(key);
    this.weps.set(key, w);
    // One literal, not a copy grown key by key: adding `projectcalico.org/...` keys one at a time sends
    // each object through slow shape transitions (~20x the cost at 10k endpoints).
    const labels: Record<string, string> = { [ORCHESTRATOR_LABEL]: 'k8s', ...w.labels, [NAMESPACE_LABEL]: w.namespace };
    if (w.serviceAccountName) labels[SERVICE_ACCOUNT_LABEL] = w.serviceAccountName;
    this.upsertMember(
      itemId.wep(key),
      { kind: 'wep', nets: parseNets(w.ipNetworks), ports: w.ports ?? [] },
      labels,
      profilesOf(w),
    );
  }

  removeWorkloadEndpoint(key: string): void {
    const prevWep = this.weps.get(key);
    if (prevWep && this.isLocal(prevWep)) {
      this.localSorted = undefined;
      this.structural = true;
    }
    this.weps.delete(key);
    this.removeMember(itemId.wep(key));
  }

  private isLocal(w: WorkloadEndpointInput): boolean {
    return this.nodeName === undefined || w.node === this.nodeName;
  }

  upsertHostEndpoint(h: HostEndpointInput): void {
    const nets = parseNets(h.expectedIPs ?? []);
    for (const p of h.ports ?? []) protocolNumber(p.protocol, 'spec.ports.protocol');
    this.heps.set(h.name, h);
    this.upsertMember(
      itemId.hep(h.name),
      { kind: 'hep', nets, ports: h.ports ?? [] },
      { ...h.labels },
      h.profiles ?? [],
    );
  }

  upsertNetworkSet(n: NetworkSetInput): void {
    const key = n.namespace ? `${n.namespace}/${n.name}` : n.name;
    const labels: Record<string, string> = { ...n.labels };
    const parents: string[] = [];
    if (n.namespace) {
      labels[NAMESPACE_LABEL] = n.namespace;
      parents.push(`kns.${n.namespace}`);
    }
    this.upsertMember(itemId.netset(key), { kind: 'netset', nets: parseNets(n.nets), ports: [] }, labels, parents);
  }

  upsertPolicy(p: PolicyInput): void {
    const s = p.spec;
    if (p.kind === 'NetworkPolicy' && (s.preDNAT || s.doNotTrack || s.applyOnForward)) {
      throw validationError(`cannot program policy "${p.name}"`, [
        { path: 'spec', message: 'preDNAT, doNotTrack and applyOnForward are GlobalNetworkPolicy fields' },
      ]);
    }
    if ((s.preDNAT || s.doNotTrack) && !s.applyOnForward) {
      throw validationError(`cannot program policy "${p.name}"`, [
        { path: 'spec.applyOnForward', message: 'must be true with preDNAT or doNotTrack' },
      ]);
    }
    if (s.preDNAT && (s.doNotTrack || s.egress?.length || s.types?.includes('Egress'))) {
      throw validationError(`cannot program policy "${p.name}"`, [
        { path: 'spec.preDNAT', message: 'a preDNAT policy has ingress rules only and no doNotTrack' },
      ]);
    }
    if (p.kind === 'NetworkPolicy' && !p.namespace) {
      throw validationError(`cannot program policy "${p.name}"`, [{ path: 'metadata.namespace', message: 'required' }]);
    }
    const ns = p.kind === 'NetworkPolicy' ? p.namespace : undefined;
    const id = ns ? `${ns}/${p.name}` : p.name;
    const applyInputs = JSON.stringify([
      s.selector ?? '',
      ns ?? null,
      s.namespaceSelector ?? null,
      s.serviceAccountSelector ?? null,
    ]);
    const applied = this.applySelectors.get(applyInputs) ?? {
      ...applySelector(s.selector ?? '', ns, s.namespaceSelector, s.serviceAccountSelector),
      users: 0,
    };
    const { apply, applyKey } = applied;
    const ingress = (s.ingress ?? []).map((r, i) => compileRule(r, i, ns, `spec.ingress[${i}]`));
    const egress = (s.egress ?? []).map((r, i) => compileRule(r, i, ns, `spec.egress[${i}]`));
    // Calico's defaulting: Ingress always, Egress when egress rules exist.
    const types = new Set<Direction>(
      s.types?.length
        ? s.types.map((t) => (t === 'Ingress' ? 'ingress' : 'egress'))
        : egress.length
          ? ['ingress', 'egress']
          : ['ingress'],
    );
    const resolved: ResolvedPolicy = {
      id,
      kind: p.kind,
      ...(ns ? { namespace: ns } : {}),
      name: p.name,
      tier: s.tier ?? 'default',
      ...(s.order !== undefined ? { order: s.order } : {}),
      ingress: types.has('ingress') ? ingress : [],
      egress: types.has('egress') ? egress : [],
      ...(s.preDNAT ? { preDNAT: true } : {}),
      ...(s.doNotTrack ? { doNotTrack: true } : {}),
      ...(s.applyOnForward ? { applyOnForward: true } : {}),
    };
    const refs = [applyKey];
    if (!this.index.refSelector(applyKey)) this.index.addSelector(applyKey, apply);
    this.addRuleRefs([...resolved.ingress, ...resolved.egress], refs);
    if (applied.users++ === 0) this.applySelectors.set(applyInputs, applied);
    this.removePolicy(id);
    this.policies.set(id, { resolved, applyKey, applyInputs, types, hostOnly: !!(s.preDNAT || s.doNotTrack), refs });
    this.ordered = undefined;
  }

  removePolicy(id: string): void {
    const prev = this.policies.get(id);
    if (!prev) return;
    this.policies.delete(id);
    this.ordered = undefined;
    for (const k of prev.refs) this.index.releaseSelector(k);
    const applied = this.applySelectors.get(prev.applyInputs);
    if (applied && --applied.users === 0) this.applySelectors.delete(prev.applyInputs);
  }

  /** Local endpoint ids (`namespace/name`), sorted. */
  localEndpoints(): string[] {
    this.localSorted ??= [...this.weps.values()]
      .filter((w) => this.nodeName === undefined || w.node === this.nodeName)
      .map((w) => `${w.namespace}/${w.name}`)
      .sort();
    return [...this.localSorted];
  }

  /** Finds a workload endpoint by `ns/pod`, `ns/wepName` or a unique WEP name. */
  findEndpoint(ref: string): string | undefined {
    if (this.weps.has(ref)) return ref;
    const [a, b] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
    const hits = [...this.weps.entries()].filter(
      ([, w]) => (a === undefined || w.namespace === a) && ((w.pod ?? w.name) === b || w.name === b),
    );
    return hits.length === 1 ? hits[0]?.[0] : undefined;
  }

  /**
   * The change since the last full resolve or delta, as a ResolvedDelta, or undefined when it needs
   * a full `resolve()` (which the caller then runs). Consumes the tracked changes either way.
   */
  resolveDelta(): ResolvedDelta | undefined {
    if (this.structural) return undefined;
    const ids = [...this.touchedLocal].filter((k) => this.weps.has(k));
    this.touchedLocal.clear();
    const model = this.resolve(ids);
    const ipSets = new Map<string, IpSetUpdate>();
    for (const sel of this.pendingSets) if (this.emittedSets.has(sel)) ipSets.set(sel, this.ipSetUpdate(sel));
    const namedPortSets = new Map<string, NamedPortSetDef>();
    for (const key of this.pendingNamedPorts) {
      if (!this.emittedNamedPorts.has(key)) continue;
      const cut = key.lastIndexOf('|');
      namedPortSets.set(key, this.namedPortSet(key, key.slice(0, cut), key.slice(cut + 1)));
    }
    this.pendingSets.clear();
    this.pendingNamedPorts.clear();
    return { model, ipSets, namedPortSets };
  }

  /** The model for the local endpoints (or for `endpointIds` when given). */
  resolve(endpointIds?: readonly string[]): ResolvedModel {
    if (!endpointIds) {
      this.structural = false;
      this.touchedLocal.clear();
      this.pendingSets.clear();
      this.pendingNamedPorts.clear();
      this.emittedSets.clear();
      this.emittedNamedPorts.clear();
    }
    this.refreshDirtySets();
    const ids = endpointIds ?? this.localEndpoints();
    const idSet = new Set(ids.map(itemId.wep));
    const tierOf = (name: string): TierInput => this.tiers.get(name) ?? { name };
    // Policies in evaluation order: tier order, tier name, policy order, policy name.
    const ordered = (this.ordered ??= [...this.policies.values()].sort((a, b) => {
      const ta = tierOf(a.resolved.tier);
      const tb = tierOf(b.resolved.tier);
      return (
        compareOrder(ta.order, tb.order) ||
        cmp(ta.name, tb.name) ||
        compareOrder(a.resolved.order, b.resolved.order) ||
        cmp(a.resolved.name, b.resolved.name) ||
        cmp(a.resolved.id, b.resolved.id)
      );
    }));
    // Per-endpoint policy lists are cached while the policy order stands; only endpoints whose
    // selector membership changed since the last resolve (or that are new) are recomputed.
    if (this.tierCacheFor !== ordered) {
      this.tierCache.clear();
      this.tierCacheFor = ordered;
    }
    const changed = this.index.takeChangedItems();
    for (const id of changed) if (!idSet.has(id)) this.tierCache.delete(id);
    const stale = new Set([...idSet].filter((id) => changed.has(id) || !this.tierCache.has(id)));
    const perEndpoint = this.tierCache;
    for (const id of stale) perEndpoint.set(id, { ingress: [], egress: [] });
    for (const p of stale.size ? ordered : []) {
      if (p.hostOnly) continue; // preDNAT and doNotTrack policies apply to host endpoints only
      const members = this.index.members(p.applyKey);
      const small = members.size < stale.size ? members : stale;
      for (const m of small) {
        if (!stale.has(m) || !members.has(m)) continue;
        const ep = perEndpoint.get(m) as { ingress: TierPolicies[]; egress: TierPolicies[] };
        for (const d of p.types) {
          const list = ep[d];
          const last = list[list.length - 1];
          if (last && last.tier === p.resolved.tier) (last.policies as string[]).push(p.resolved.id);
          else
            list.push({
              tier: p.resolved.tier,
              defaultAction: tierOf(p.resolved.tier).defaultAction ?? 'Deny',
              policies: [p.resolved.id],
            });
        }
      }
    }
    const usedIds = new Set<string>();
    for (const id of idSet) {
      const t = perEndpoint.get(id) as { ingress: TierPolicies[]; egress: TierPolicies[] };
      for (const tier of t.ingress) for (const pid of tier.policies) usedIds.add(pid);
      for (const tier of t.egress) for (const pid of tier.policies) usedIds.add(pid);
    }
    const usedPolicies = new Map<string, ResolvedPolicy>();
    for (const p of ordered) if (usedIds.has(p.resolved.id)) usedPolicies.set(p.resolved.id, p.resolved);
    const endpoints: ResolvedEndpoint[] = [];
    const usedProfiles = new Map<string, ResolvedProfile>();
    for (const id of [...ids].sort()) {
      const w = this.weps.get(id);
      if (!w) continue;
      const m = this.members.get(itemId.wep(id)) as Member;
      const tiers = perEndpoint.get(itemId.wep(id)) as { ingress: TierPolicies[]; egress: TierPolicies[] };
      const profiles = profilesOf(w).filter((p) => this.profiles.has(p));
      for (const p of profiles) usedProfiles.set(p, (this.profiles.get(p) as CompiledProfile).resolved);
      endpoints.push({
        id,
        name: w.name,
        namespace: w.namespace,
        pod: w.pod ?? w.name,
        node: w.node,
        interfaceName: w.interfaceName,
        v4: m.nets.filter((c) => c.family === 4).map(this.memberNetText),
        v6: m.nets.filter((c) => c.family === 6).map(this.memberNetText),
        ingress: tiers.ingress,
        egress: tiers.egress,
        profiles,
      });
    }
    const hostEndpoints = endpointIds ? undefined : this.resolveHostEndpoints(ordered, tierOf);
    for (const h of hostEndpoints ?? []) {
      for (const lists of [h.normal, h.preDNAT, h.untracked]) {
        for (const tier of [...lists.ingress, ...lists.egress]) for (const pid of tier.policies) usedIds.add(pid);
      }
      for (const p of h.profiles) usedProfiles.set(p, (this.profiles.get(p) as CompiledProfile).resolved);
    }
    if (hostEndpoints?.length)
      for (const p of ordered) if (usedIds.has(p.resolved.id)) usedPolicies.set(p.resolved.id, p.resolved);
    const ipSets = new Map<string, IpSetDef>();
    const namedPortSets = new Map<string, NamedPortSetDef>();
    for (const holder of [...usedPolicies.values(), ...usedProfiles.values()]) {
      for (const r of [...holder.ingress, ...holder.egress]) {
        const { selectors, namedPorts } = this.ruleSelectorsOf(r);
        for (const s of selectors) if (!ipSets.has(s)) ipSets.set(s, this.ipSet(s));
        for (const np of namedPorts)
          if (!namedPortSets.has(np.setKey))
            namedPortSets.set(np.setKey, this.namedPortSet(np.setKey, np.selector, np.name));
      }
    }
    for (const k of ipSets.keys()) this.emittedSets.add(k);
    for (const k of namedPortSets.keys()) this.emittedNamedPorts.add(k);
    return {
      endpoints,
      policies: usedPolicies,
      profiles: usedProfiles,
      ipSets,
      namedPortSets,
      ...(hostEndpoints?.length ? { hostEndpoints } : {}),
      ...(endpointIds ? {} : { host: this.hostConfig }),
    };
  }

  /** Whether a local HostEndpoint names no interface (its expectedIPs pick one): the caller must feed HostInterfaces. */
  needsHostInterfaces(): boolean {
    for (const h of this.heps.values())
      if (!h.interfaceName && (this.nodeName === undefined || h.node === this.nodeName)) return true;
    return false;
  }

  /** The FelixConfiguration-derived host settings in force (Calico's defaults when none). */
  get hostSettings(): HostConfig {
    return this.hostConfig;
  }

  /** The raw host config input (for tests and status). */
  get hostConfigSource(): HostConfigInput | undefined {
    return this.hostConfigInput;
  }

  /**
   * Local host endpoints with their policy lists, split as Felix splits them. A policy's selector
   * picks host endpoints exactly as it picks workloads (same label index); a HostEndpoint whose
   * expectedIPs match no local interface is listed without an interface (nothing to enforce).
   */
  private resolveHostEndpoints(
    ordered: readonly CompiledPolicy[],
    tierOf: (name: string) => TierInput,
  ): ResolvedHostEndpoint[] {
    const local = [...this.heps.values()]
      .filter((h) => this.nodeName === undefined || h.node === this.nodeName)
      .sort((a, b) => cmp(a.name, b.name));
    const out: ResolvedHostEndpoint[] = [];
    const claimed = new Set<string>();
    for (const h of local) {
      const item = itemId.hep(h.name);
      const lists = { normal: newLists(), forward: newLists(), preDNAT: newLists(), untracked: newLists() };
      for (const p of ordered) {
        if (!this.index.members(p.applyKey).has(item)) continue;
        const r = p.resolved;
        const targets = r.preDNAT
          ? [lists.preDNAT]
          : r.doNotTrack
            ? [lists.untracked]
            : r.applyOnForward
              ? [lists.normal, lists.forward]
              : [lists.normal];
        for (const t of targets) {
          for (const d of p.types) {
            if (r.preDNAT && d === 'egress') continue;
            const list = t[d];
            const last = list[list.length - 1];
            if (last && last.tier === r.tier) (last.policies as string[]).push(r.id);
            else list.push({ tier: r.tier, defaultAction: tierOf(r.tier).defaultAction ?? 'Deny', policies: [r.id] });
          }
        }
      }
      let iface = hostEndpointInterface(h, this.hostInterfaces);
      // One host endpoint per interface of a node, as in Felix: the first by name wins, the others police nothing.
      if (iface !== undefined && claimed.has(`${h.node}\u0000${iface}`)) iface = undefined;
      if (iface !== undefined) claimed.add(`${h.node}\u0000${iface}`);
      const m = this.members.get(item);
      out.push({
        id: item,
        name: h.name,
        node: h.node,
        ...(iface !== undefined ? { interfaceName: iface } : {}),
        v4: (m?.nets ?? []).filter((c) => c.family === 4).map(this.memberNetText),
        v6: (m?.nets ?? []).filter((c) => c.family === 6).map(this.memberNetText),
        ...lists,
        profiles: (h.profiles ?? []).filter((p) => this.profiles.has(p)),
      });
    }
    return out;
  }

  /** Finds a host endpoint by HostEndpoint name, or node name (an interface-specific one first, then `*`). */
  findHostEndpoint(ref: string): string | undefined {
    if (this.heps.has(ref)) return ref;
    const onNode = [...this.heps.values()].filter((h) => h.node === ref).sort((a, b) => cmp(a.name, b.name));
    // A host endpoint for a specific interface takes precedence over the `*` one (Felix).
    return (onNode.find((h) => h.interfaceName !== '*') ?? onNode[0])?.name;
  }

  /** The set with how its arrays changed, when the calculator patched it to this def. */
  private ipSetUpdate(selector: string): IpSetUpdate {
    const def = this.ipSet(selector);
    const d = this.hostSetDeltas.get(selector);
    this.hostSetDeltas.delete(selector);
    return { ...def, changes: d?.def === def ? d.changes : {} };
  }

  private ipSet(selector: string): IpSetDef {
    let s = this.ipSetCache.get(selector);
    if (!s) s = this.patchedHostSet(selector);
    if (!s) {
      const hs = HostAddressSet.build(
        selector,
        [...this.index.members(selector)].map((id) => [id, this.members.get(id)?.nets ?? []] as const),
        this.memberNetText,
      );
      if (hs) {
        this.hostSets.set(selector, hs);
        s = hs.def();
        this.ipSetCache.set(selector, s);
        return s;
      }
      const cidrs: Cidr[] = [];
      for (const id of this.index.members(selector)) cidrs.push(...(this.members.get(id)?.nets ?? []));
      const merged = mergeCidrs(cidrs);
      s = {
        selector,
        v4: merged.filter((c) => c.family === 4).map(this.memberNetText),
        v6: merged.filter((c) => c.family === 6).map(this.memberNetText),
      };
      this.ipSetCache.set(selector, s);
    }
    return s;
  }

  private namedPortSet(setKey: string, selector: string, name: string): NamedPortSetDef {
    let s = this.namedPortCache.get(setKey);
    if (!s) {
      const v4: NamedPortMember[] = [];
      const v6: NamedPortMember[] = [];
      for (const id of [...this.index.members(selector)].sort()) {
        const m = this.members.get(id);
        if (!m || m.kind === 'netset') continue;
        for (const p of m.ports) {
          if (p.name !== name) continue;
          const protocol = protocolNumber(p.protocol, 'ports.protocol');
          for (const c of m.nets) {
            if (c.prefix !== familyBits(c.family)) continue;
            (c.family === 4 ? v4 : v6).push({ ip: netText(c), protocol, port: p.port });
          }
        }
      }
      const key = (x: NamedPortMember) => `${x.ip} ${x.protocol} ${x.port}`;
      const dedup = (xs: NamedPortMember[]) =>
        [...new Map(xs.map((x) => [key(x), x])).values()].sort((a, b) => cmp(key(a), key(b)));
      s = { setKey, v4: dedup(v4), v6: dedup(v6) };
      this.namedPortCache.set(setKey, s);
    }
    return s;
  }

  /** A host-address set brought up to date by the members that changed, if it can be. */
  private patchedHostSet(selector: string): IpSetDef | undefined {
    const hs = this.hostSets.get(selector);
    if (!hs) return undefined;
    const ids = this.hostSetChanges.get(selector) ?? [];
    this.hostSetChanges.delete(selector);
    const members = this.index.members(selector);
    for (const id of ids) {
      if (!hs.update(id, members.has(id) ? (this.members.get(id)?.nets ?? []) : [])) {
        this.hostSets.delete(selector);
        this.hostSetDeltas.delete(selector);
        return undefined;
      }
    }
    const s = hs.def();
    this.ipSetCache.set(selector, s);
    this.hostSetDeltas.set(selector, { def: s, changes: hs.changes() });
    return s;
  }

  private refreshDirtySets(): void {
    const dirty = this.index.takeDirty();
    for (const [k, ids] of dirty) {
      this.ipSetCache.delete(k);
      this.pendingSets.add(k);
      // Known members changed: patch the set when it is next needed. Otherwise rebuild it then.
      if (ids && this.hostSets.has(k)) {
        const pending = this.hostSetChanges.get(k);
        if (pending) for (const id of ids) pending.add(id);
        else this.hostSetChanges.set(k, new Set(ids));
      } else {
        this.hostSets.delete(k);
        this.hostSetChanges.delete(k);
        this.hostSetDeltas.delete(k);
      }
    }
    for (const k of [...this.namedPortCache.keys()]) {
      if (!dirty.has(k.slice(0, k.lastIndexOf('|')))) continue;
      this.namedPortCache.delete(k);
      this.pendingNamedPorts.add(k);
    }
  }

  private upsertMember(id: string, m: Member, labels: Labels, profiles: readonly string[]): void {
    const prev = this.members.get(id);
    this.members.set(id, m);
    this.index.upsertItem(id, labels, profiles.map(parentId));
    if (
      prev &&
      (prev.nets.map(netText).join() !== m.nets.map(netText).join() ||
        JSON.stringify(prev.ports) !== JSON.stringify(m.ports))
    ) {
      this.index.touchItem(id);
    }
  }

  private removeMember(id: string): void {
    this.members.delete(id);
    this.index.removeItem(id);
  }

  private addRuleRefs(rules: readonly RuleIR[], refs: string[]): void {
    for (const r of rules) {
      for (const s of ruleSelectors(r).selectors) {
        if (!this.index.refSelector(s)) this.index.addSelector(s, parseSelector(s));
        refs.push(s);
      }
    }
  }

  /** Recomputes one profile from its explicit resource or the Namespace/ServiceAccount it mirrors. */
  private refreshProfile(name: string): void {
    const prev = this.profiles.get(name);
    if (prev) for (const k of prev.refs) this.index.releaseSelector(k);
    this.profiles.delete(name);
    const explicit = this.explicitProfiles.get(name);
    let compiled: CompiledProfile | undefined;
    if (explicit) {
      const refs: string[] = [];
      const ingress = (explicit.ingress ?? []).map((r, i) => compileRule(r, i, undefined, `spec.ingress[${i}]`));
      const egress = (explicit.egress ?? []).map((r, i) => compileRule(r, i, undefined, `spec.egress[${i}]`));
      this.addRuleRefs([...ingress, ...egress], refs);
      compiled = { resolved: { name, ingress, egress }, refs, labels: { ...explicit.labelsToApply } };
    } else if (name === DEFAULT_ALLOW_PROFILE) {
      compiled = { resolved: { name, ingress: [allowAllRule(0)], egress: [allowAllRule(0)] }, refs: [], labels: {} };
    } else if (name.startsWith('kns.') && this.namespaces.has(name.slice(4))) {
      const ns = this.namespaces.get(name.slice(4)) as NamespaceInput;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(ns.labels ?? {})) labels[NS_PREFIX + k] = v;
      labels[NS_PREFIX + NAME_LABEL] = ns.name;
      // Kubernetes namespaces allow everything until a policy selects the pod.
      compiled = { resolved: { name, ingress: [allowAllRule(0)], egress: [allowAllRule(0)] }, refs: [], labels };
    } else if (name.startsWith('ksa.')) {
      const sa = [...this.serviceAccounts.values()].find((s) => `ksa.${s.namespace}.${s.name}` === name);
      if (sa) {
        const labels: Record<string, string> = {};
        for (const [k, v] of Object.entries(sa.labels ?? {})) labels[SA_PREFIX + k] = v;
        labels[SA_PREFIX + NAME_LABEL] = sa.name;
        compiled = { resolved: { name, ingress: [], egress: [] }, refs: [], labels };
      }
    }
    if (compiled) this.profiles.set(name, compiled);
    this.index.setParent(parentId(name), compiled?.labels);
  }
}

/**
 * A policy's canonical apply selector (spec.selector ∧ namespace ∧ service accounts). The
 * calculator keeps each by its inputs while a policy uses it; a rule selector is parsed once, when
 * the label index first sees it (it holds the tree while any policy refers to it).
 */
function applySelector(
  selector: string,
  ns: string | undefined,
  nsSel: string | undefined,
  saSel: string | undefined,
): { apply: Selector; applyKey: string } {
  const parts: Selector[] = [parseSelector(selector)];
  if (ns) parts.push({ kind: 'eq', key: NAMESPACE_LABEL, value: ns });
  else if (nsSel?.trim()) parts.push(namespaceSelectorFor(parseSelector(nsSel)));
  if (saSel?.trim()) parts.push(prefixSelector(parseSelector(saSel), SA_PREFIX));
  const apply = andSelectors(...parts);
  return { apply, applyKey: printSelector(apply) };
}

function profilesOf(w: WorkloadEndpointInput): readonly string[] {
  if (w.profiles) return w.profiles;
  const out = [`kns.${w.namespace}`];
  if (w.serviceAccountName) out.push(`ksa.${w.namespace}.${w.serviceAccountName}`);
  return out;
}

function parseNets(nets: readonly string[]): Cidr[] {
  return nets.map((n) => {
    try {
      const c = parseCidr(n.includes('/') ? n : `${n}/${n.includes(':') ? 128 : 32}`);
      return cidrNetwork({ ...c, prefix: c.prefix });
    } catch (e) {
      throw new TesseraError('validation', `cannot use address ${JSON.stringify(n)}`, { cause: e });
    }
  });
}

/** Host prefixes print as bare addresses, as nft lists them in interval sets. */
export function netText(c: Cidr): string {
  const t = formatCidr(c);
  return c.prefix === familyBits(c.family) ? t.slice(0, t.lastIndexOf('/')) : t;
}

/** Sorted, with every CIDR contained in another dropped (CIDRs nest or are disjoint). */
export function mergeCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort(
    (a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : a.prefix - b.prefix),
  );
  const out: Cidr[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === c.family && cidrContainsCidr(last, c)) continue;
    out.push(c);
  }
  return out;
}

const newLists = (): { ingress: TierPolicies[]; egress: TierPolicies[] } => ({ ingress: [], egress: [] });
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
