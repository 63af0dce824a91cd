/**
 * Host protection (pure): HostEndpoint policy, failsafes and the workload-to-host action, rendered
 * into `inet tessera` the way Felix lays out its iptables/nftables rules.
 *
 *   raw-prerouting (prerouting, -300) / raw-output (output, -300): doNotTrack policy of named host
 *       endpoints (Felix: `*` supports no untracked policy). Failsafes first (in both directions,
 *       so failsafe flows stay tracked); an Allow marks the packet PRE_ACCEPT, `notrack`s it and
 *       accepts; a Deny drops; no match continues, tracked.
 *   mangle-prerouting (prerouting, -150, before DNAT): preDNAT ingress policy; established flows and
 *       failsafes skip it; Allow marks PRE_ACCEPT; Deny drops; no match continues (no default drop).
 *   input: from `tsr*` → wl-to-host (workload egress policy, then defaultEndpointToHostAction).
 *       Otherwise: established accepted; PRE_ACCEPT accepted; host-endpoint ingress policy (failsafes,
 *       tiers, profiles, default deny) for the interface's host endpoint (or the `*` one).
 *   output: to `tsr*` returns unpoliced (Felix does not police host → local workload); otherwise
 *       host-endpoint egress policy, failsafes first.
 *   forward: applyOnForward policies only, ingress for the incoming host endpoint (skipped when
 *       preDNAT/untracked policy accepted) and egress for the outgoing one; a host endpoint with no
 *       applyOnForward policy for a direction lets forwarded traffic through in that direction.
 * The host's own traffic (input, output) and forwarded egress jump the same dispatch chains as a
 * workload with the same policy list (runs of Allow-only policies are one map lookup). Forwarded
 * ingress, preDNAT and untracked policy use host policy chains (hpi-/hpe-) that signal Allow with
 * the ACCEPT mark and `return`: later hooks and the workload's own policy still have to run. Loopback is never policed; VXLAN
 * underlay packets (UDP 4789) are allowed before host policy, as Felix allows them from its peers.
 */
import type {
  HostConfig,
  HostPolicyLists,
  ResolvedEndpoint,
  ResolvedHostEndpoint,
  ResolvedModel,
  RuleIR,
  TierPolicies,
} from '../../policy/index.js';
import {
  IFACE_PREFIX,
  MARK_ACCEPT,
  MARK_PASS,
  MARK_PRE_ACCEPT,
  type Match,
  type NftChain,
  type NftRule,
  type NftVmap,
  type Stmt,
} from './model.js';
import { shortHash } from './text.js';

const ALL = 0xffffffff;
const counter: Stmt = { s: 'counter' };
const markSet = (bit: number): Match => ({ m: 'mark', mask: bit, value: bit, neg: false });
const markClear = (bit: number): Match => ({ m: 'mark', mask: bit, value: 0, neg: false });
const clearPolicyMarks: NftRule = { matches: [], stmts: [{ s: 'mark', and: ALL & ~(MARK_ACCEPT | MARK_PASS), or: 0 }] };
const ct = (states: ('established' | 'related' | 'invalid')[]): Match => ({ m: 'ct', states });
const iif = (name: string, neg = false): Match => ({ m: 'ifname', dir: 'iif', neg, name });
const oif = (name: string, neg = false): Match => ({ m: 'ifname', dir: 'oif', neg, name });
const WL = `${IFACE_PREFIX}*`;
const VXLAN_PORT = 4789;

type Kind = 'in' | 'out' | 'fwd-in' | 'fwd-out' | 'pre' | 'raw-in' | 'raw-out';

export const hostChainNames = {
  endpoint: (hepId: string, kind: Kind) => `h${kind.replace('-', '')}-${shortHash(`hep ${kind} ${hepId}`)}`,
  policy: (id: string, dir: 'ingress' | 'egress') =>
    `${dir === 'ingress' ? 'hpi' : 'hpe'}-${shortHash(`policy ${id}`)}`,
  profile: (name: string, dir: 'ingress' | 'egress') =>
    `${dir === 'ingress' ? 'hqi' : 'hqe'}-${shortHash(`profile ${name}`)}`,
};

/** Failsafe matches: l4proto + port (+ the address side the net restricts). */
function failsafeRules(
  list: HostConfig['failsafeInbound'],
  portField: 'dport' | 'sport',
  netField: 'saddr' | 'daddr',
): NftRule[] {
  return list.map((f) => {
    const matches: Match[] = [];
    if (f.net) matches.push({ m: 'nfproto', fam: f.net.includes(':') ? 6 : 4 });
    matches.push(
      { m: 'l4proto', neg: false, proto: f.protocol },
      { m: 'port', field: portField, neg: false, ranges: [{ lo: f.port, hi: f.port }] },
    );
    if (f.net)
      matches.push({ m: 'addrList', fam: f.net.includes(':') ? 6 : 4, field: netField, neg: false, addrs: [f.net] });
    return {
      matches,
      stmts: [counter],
      verdict: { v: 'accept' },
      label: `failsafe ${f.protocol}:${f.port}${f.net ? ` ${f.net}` : ''}`,
    };
  });
}

/**
 * What host rendering needs of render.ts's Builder: its chain and map tables and its policy and
 * dispatch chains. An interface here (render.ts's Builder satisfies it) keeps host.ts from
 * importing render.ts, which imports host.ts.
 */
export interface Builder {
  readonly chains: Map<string, NftChain>;
  readonly maps: Map<string, NftVmap>;
  policyChain(name: string, rules: readonly RuleIR[], what: string, dir: 'ingress' | 'egress'): void;
  dispatchChain(ep: ResolvedEndpoint, dir: 'ingress' | 'egress'): string;
}

class HostBuilder {
  constructor(
    private readonly b: Builder,
    private readonly model: ResolvedModel,
  ) {}

  private policyChain(pid: string, dir: 'ingress' | 'egress'): string {
    const pol = this.model.policies.get(pid);
    const name = hostChainNames.policy(pid, dir);
    // 'egress' rendering: Allow sets ACCEPT and returns (the caller decides), in both directions.
    if (pol) this.b.policyChain(name, dir === 'ingress' ? pol.ingress : pol.egress, pid, 'egress');
    return name;
  }

  /** Tiers in order: each policy's chain, `return` on ACCEPT; Pass skips the tier's remaining policies. */
  tiers(tiers: readonly TierPolicies[], dir: 'ingress' | 'egress', defaultDrop: boolean, out: NftRule[]): void {
    for (const tier of tiers) {
      const hasPass = tier.policies.some((pid) => {
        const pol = this.model.policies.get(pid);
        return (dir === 'ingress' ? pol?.ingress : pol?.egress)?.some((r) => r.action === 'Pass');
      });
      tier.policies.forEach((pid, i) => {
        out.push({
          matches: hasPass && i > 0 ? [markClear(MARK_PASS)] : [],
          stmts: [],
          verdict: { v: 'jump', chain: this.policyChain(pid, dir) },
          label: `tier ${tier.tier}`,
        });
        out.push({ matches: [markSet(MARK_ACCEPT)], stmts: [], verdict: { v: 'return' } });
      });
      // preDNAT and untracked chains never end a tier with a drop: normal policy still follows.
      if (defaultDrop && tier.defaultAction === 'Deny') {
        out.push({
          matches: hasPass ? [markClear(MARK_PASS)] : [],
          stmts: [counter],
          verdict: { v: 'drop' },
          label: `tier ${tier.tier} default deny`,
        });
      }
      if (hasPass) out.push({ matches: [], stmts: [{ s: 'mark', and: ALL & ~MARK_PASS, or: 0 }] });
    }
  }

  profiles(ep: ResolvedHostEndpoint, dir: 'ingress' | 'egress', out: NftRule[]): void {
    for (const prof of ep.profiles) {
      const p = this.model.profiles.get(prof);
      if (!p) continue;
      const name = hostChainNames.profile(prof, dir);
      this.b.policyChain(name, dir === 'ingress' ? p.ingress : p.egress, `profile ${prof}`, 'egress');
      out.push({ matches: [], stmts: [], verdict: { v: 'jump', chain: name } });
      out.push({ matches: [markSet(MARK_ACCEPT)], stmts: [], verdict: { v: 'return' } });
      out.push({ matches: [], stmts: [{ s: 'mark', and: ALL & ~MARK_PASS, or: 0 }] });
    }
  }

  /** One endpoint chain; `failsafe` names the failsafe chain to jump first. */
  endpointChain(ep: ResolvedHostEndpoint, kind: Kind, failsafe: string | undefined): string {
    const name = hostChainNames.endpoint(ep.id, kind);
    const rules: NftRule[] = [];
    if (failsafe) rules.push({ matches: [], stmts: [], verdict: { v: 'jump', chain: failsafe } });
    rules.push(clearPolicyMarks);
    const dir = kind === 'out' || kind === 'fwd-out' || kind === 'raw-out' ? 'egress' : 'ingress';
    const lists: HostPolicyLists =
      kind === 'pre'
        ? ep.preDNAT
        : kind.startsWith('raw')
          ? ep.untracked
          : kind.startsWith('fwd')
            ? ep.forward
            : ep.normal;
    const tiers = lists[dir];
    if (kind === 'pre' || kind.startsWith('raw')) {
      this.tiers(tiers, dir, false, rules);
    } else if (kind.startsWith('fwd') && tiers.length === 0) {
      // No applyOnForward policy for this direction: forwarded traffic is allowed (Calico).
      rules.push({
        matches: [],
        stmts: [{ s: 'mark', and: ALL, or: MARK_ACCEPT }],
        verdict: { v: 'return' },
        label: `${ep.name} no applyOnForward policy`,
      });
    } else if (kind !== 'fwd-in') {
      // The host's own traffic and forwarded egress mean what a workload's policy means (ingress is
      // the last thing its hook runs, egress returns on ACCEPT): share the workload dispatch chains,
      // with their runs of Allow-only policies looked up in one (protocol . port) map.
      const asWorkload: ResolvedEndpoint = {
        id: ep.id,
        name: ep.name,
        namespace: '',
        pod: ep.name,
        node: ep.node,
        interfaceName: '',
        v4: [],
        v6: [],
        ingress: lists.ingress,
        egress: lists.egress,
        profiles: ep.profiles,
      };
      rules.push({ matches: [], stmts: [], verdict: { v: 'goto', chain: this.b.dispatchChain(asWorkload, dir) } });
    } else {
      // Forwarded in: the workload's ingress policy still follows, so Allow must return, not accept.
      this.tiers(tiers, dir, true, rules);
      this.profiles(ep, dir, rules);
      rules.push({
        matches: [],
        stmts: [counter],
        verdict: { v: 'drop' },
        label: `${ep.name} ${dir} no policy or profile allowed`,
      });
    }
    this.b.chains.set(name, { name, rules });
    return name;
  }

  /** `iifname/oifname vmap` dispatch to per-endpoint chains, then the `*` endpoint for other interfaces. */
  dispatch(
    name: string,
    side: 'iif' | 'oif',
    heps: readonly ResolvedHostEndpoint[],
    kind: Kind,
    failsafe: string | undefined,
    wildcard: boolean,
  ): NftChain {
    const elements = new Map<string, string>();
    let star: string | undefined;
    for (const ep of heps) {
      if (!ep.interfaceName) continue;
      if (ep.interfaceName === '*') {
        if (wildcard) star = this.endpointChain(ep, kind, failsafe);
        continue;
      }
      elements.set(ep.interfaceName, `goto ${this.endpointChain(ep, kind, failsafe)}`);
    }
    const mapName = `${name}-map`;
    this.b.maps.set(mapName, { name: mapName, elements });
    const ifm = side === 'iif' ? iif : oif;
    const rules: NftRule[] = [
      clearPolicyMarks,
      { matches: [ifm('lo')], stmts: [], verdict: { v: 'return' } },
      { matches: [ifm(WL)], stmts: [], verdict: { v: 'return' } },
      { matches: [], stmts: [], verdict: { v: 'vmap', dir: side, map: mapName } },
    ];
    if (star) rules.push({ matches: [], stmts: [], verdict: { v: 'goto', chain: star } });
    return { name, rules };
  }
}

/**
 * Adds host protection to the base chains (replacing `input` and `forward`) and registers its chains,
 * sets and maps on `b`. Called only for models resolved with a host config.
 */
export function renderHost(b: Builder, model: ResolvedModel, chains: NftChain[]): void {
  const host = model.host as HostConfig;
  const heps = (model.hostEndpoints ?? []).filter((h) => h.interfaceName !== undefined);
  const hb = new HostBuilder(b, model);
  const replace = (c: NftChain) => {
    const i = chains.findIndex((x) => x.name === c.name);
    if (i >= 0) chains[i] = c;
    else chains.push(c);
  };
  const oldInput = chains.find((c) => c.name === 'input') as NftChain;
  const toHostAction: NftRule =
    host.defaultEndpointToHostAction === 'Accept'
      ? { matches: [], stmts: [counter], verdict: { v: 'accept' }, label: 'defaultEndpointToHostAction Accept' }
      : host.defaultEndpointToHostAction === 'Return'
        ? { matches: [], stmts: [counter], verdict: { v: 'return' }, label: 'defaultEndpointToHostAction Return' }
        : { matches: [], stmts: [counter], verdict: { v: 'drop' }, label: 'defaultEndpointToHostAction Drop' };
  // Workload → host: the old input chain's workload part (ct fast path, ND, workload egress policy), then the action.
  chains.push({ name: 'wl-to-host', rules: [...oldInput.rules.slice(1), toHostAction] });
  const inputRules: NftRule[] = [{ matches: [iif(WL)], stmts: [], verdict: { v: 'goto', chain: 'wl-to-host' } }];
  if (!heps.length) {
    replace({ name: 'input', hook: { hook: 'input', priority: 0 }, rules: inputRules });
    return;
  }
  const vxlan: NftRule = {
    matches: [
      { m: 'l4proto', neg: false, proto: 17 },
      { m: 'port', field: 'dport', neg: false, ranges: [{ lo: VXLAN_PORT, hi: VXLAN_PORT }] },
    ],
    stmts: [],
    verdict: { v: 'accept' },
    label: 'VXLAN underlay',
  };
  const established: NftRule[] = [
    { matches: [ct(['established', 'related'])], stmts: [], verdict: { v: 'accept' } },
    { matches: [ct(['invalid'])], stmts: [counter], verdict: { v: 'drop' } },
  ];
  const preAccepted: NftRule = { matches: [markSet(MARK_PRE_ACCEPT)], stmts: [], verdict: { v: 'accept' } };
  const accepted: NftRule = {
    matches: [markSet(MARK_ACCEPT)],
    stmts: [],
    verdict: { v: 'accept' },
    label: 'host endpoint policy accepted',
  };

  b.chains.set('failsafe-in', { name: 'failsafe-in', rules: failsafeRules(host.failsafeInbound, 'dport', 'saddr') });
  b.chains.set('failsafe-out', { name: 'failsafe-out', rules: failsafeRules(host.failsafeOutbound, 'dport', 'daddr') });

  // filter input / output
  replace({
    name: 'input',
    hook: { hook: 'input', priority: 0 },
    rules: [
      ...inputRules,
      ...established,
      vxlan,
      preAccepted,
      { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-in' } },
      accepted,
    ],
  });
  b.chains.set('hep-in', hb.dispatch('hep-in', 'iif', heps, 'in', 'failsafe-in', true));
  replace({
    name: 'output',
    hook: { hook: 'output', priority: 0 },
    rules: [
      // Host → local workload is not policed (Felix); the workload's reply comes back through input.
      { matches: [oif(WL)], stmts: [], verdict: { v: 'return' } },
      ...established,
      vxlan,
      preAccepted,
      { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-out' } },
      accepted,
    ],
  });
  b.chains.set('hep-out', hb.dispatch('hep-out', 'oif', heps, 'out', 'failsafe-out', true));

  // filter forward: applyOnForward policies around the workload chains.
  const oldForward = chains.find((c) => c.name === 'forward') as NftChain;
  b.chains.set('hep-fwd-in', hb.dispatch('hep-fwd-in', 'iif', heps, 'fwd-in', undefined, true));
  b.chains.set('hep-fwd-out', hb.dispatch('hep-fwd-out', 'oif', heps, 'fwd-out', undefined, true));
  const jumpFwdOut: NftRule = { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-fwd-out' } };
  replace({
    name: 'forward',
    hook: { hook: 'forward', priority: 0 },
    rules: [
      ...established,
      { matches: [markClear(MARK_PRE_ACCEPT)], stmts: [], verdict: { v: 'jump', chain: 'hep-fwd-in' } },
      // Host endpoint to host endpoint (no workload side): egress of the outgoing one, then accept.
      { matches: [iif(WL, true), oif(WL, true)], stmts: [], verdict: { v: 'jump', chain: 'hep-fwd-out' } },
      { matches: [iif(WL, true), oif(WL, true)], stmts: [], verdict: { v: 'accept' } },
      ...oldForward.rules.slice(3), // jump from-wep, jump to-wep
      jumpFwdOut,
    ],
  });

  // mangle prerouting: preDNAT (ingress only), before any DNAT.
  if (heps.some((h) => h.preDNAT.ingress.length)) {
    b.chains.set('failsafe-pre', {
      name: 'failsafe-pre',
      rules: failsafeRules(host.failsafeInbound, 'dport', 'saddr'),
    });
    b.chains.set('hep-pre', hb.dispatch('hep-pre', 'iif', heps, 'pre', 'failsafe-pre', true));
    replace({
      name: 'mangle-prerouting',
      hook: { hook: 'prerouting', priority: -150 },
      rules: [
        { matches: [ct(['established', 'related'])], stmts: [], verdict: { v: 'accept' } },
        preAccepted,
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-pre' } },
        {
          matches: [markSet(MARK_ACCEPT)],
          stmts: [counter, { s: 'mark', and: ALL, or: MARK_PRE_ACCEPT }],
          verdict: { v: 'accept' },
          label: 'preDNAT policy accepted',
        },
      ],
    });
  }

  // raw prerouting / output: doNotTrack policy (named interfaces only).
  const named = heps.filter((h) => h.interfaceName !== '*');
  if (named.some((h) => h.untracked.ingress.length || h.untracked.egress.length)) {
    // Replies of failsafe flows must stay tracked too: each raw failsafe chain also matches the
    // other direction's failsafes by source port (as Felix's raw failsafe chains do).
    b.chains.set('failsafe-raw-in', {
      name: 'failsafe-raw-in',
      rules: [
        ...failsafeRules(host.failsafeInbound, 'dport', 'saddr'),
        ...failsafeRules(host.failsafeOutbound, 'sport', 'saddr'),
      ],
    });
    b.chains.set('failsafe-raw-out', {
      name: 'failsafe-raw-out',
      rules: [
        ...failsafeRules(host.failsafeOutbound, 'dport', 'daddr'),
        ...failsafeRules(host.failsafeInbound, 'sport', 'daddr'),
      ],
    });
    b.chains.set('hep-raw-in', hb.dispatch('hep-raw-in', 'iif', named, 'raw-in', 'failsafe-raw-in', false));
    b.chains.set('hep-raw-out', hb.dispatch('hep-raw-out', 'oif', named, 'raw-out', 'failsafe-raw-out', false));
    const untrack = (label: string): NftRule => ({
      matches: [markSet(MARK_ACCEPT)],
      stmts: [counter, { s: 'notrack' }, { s: 'mark', and: ALL, or: MARK_PRE_ACCEPT }],
      verdict: { v: 'accept' },
      label,
    });
    replace({
      name: 'raw-prerouting',
      hook: { hook: 'prerouting', priority: -300 },
      rules: [
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-raw-in' } },
        untrack('untracked policy accepted'),
      ],
    });
    replace({
      name: 'raw-output',
      hook: { hook: 'output', priority: -300 },
      rules: [
        { matches: [], stmts: [], verdict: { v: 'jump', chain: 'hep-raw-out' } },
        untrack('untracked policy accepted'),
      ],
    });
  }
}
