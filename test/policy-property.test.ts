/**
 * Property: for random endpoints, labels and Calico policies, the verdict of the rendered nftables
 * rules (run by the NftState interpreter) equals a reference evaluator written here from Calico's
 * documented semantics. The reference shares no code with src/policy or src/dataplane: selectors are
 * generated as label-equality lists it evaluates itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PolicyCalculator, type PolicyInput, type RuleSpec } from '../src/policy/index.js';
import { interpretHooks, interpretNft, renderNft } from '../src/dataplane/nft/index.js';

type Eq = [string, string][];
interface REp {
  ns: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
  svcPort?: number;
}
interface RRule {
  action: 'Allow' | 'Deny' | 'Pass' | 'Log';
  proto?: 'TCP' | 'UDP' | 'ICMP' | undefined;
  notProto?: 'TCP' | 'UDP' | undefined;
  icmpType?: number | undefined;
  peerSel?: Eq | undefined;
  peerNsSel?: Eq | undefined;
  nets?: string[] | undefined;
  notNets?: string[] | undefined;
  ports?: (number | string)[] | undefined;
}
interface RPolicy {
  name: string;
  ns?: string | undefined;
  tier: 't1' | 'default';
  order?: number | undefined;
  sel: Eq;
  types: ('Ingress' | 'Egress')[];
  ingress: RRule[];
  egress: RRule[];
}
interface World {
  nsLabels: Record<string, string>;
  eps: REp[];
  t1Default: 'Deny' | 'Pass';
  policies: RPolicy[];
  ext: string[];
}

const PROTO = { TCP: 6, UDP: 17, ICMP: 1 } as const;
const selText = (eq: Eq) => eq.map(([k, v]) => `${k} == "${v}"`).join(' && ');
const selMatch = (eq: Eq, labels: Record<string, string>) => eq.every(([k, v]) => labels[k] === v);
const ipNum = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const inCidr = (ip: string, cidr: string) => {
  const [net, len] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(len));
  return Math.floor(ipNum(ip) / size) === Math.floor(ipNum(net) / size);
};

// ---- reference evaluator -------------------------------------------------------------------------
interface Pkt {
  src: string;
  dst: string;
  proto: number;
  dport?: number;
  icmpType?: number;
}

function peerMatches(w: World, pol: RPolicy, r: RRule, ip: string): boolean {
  if (r.nets && !r.nets.some((c) => inCidr(ip, c))) return false;
  if (r.notNets && r.notNets.some((c) => inCidr(ip, c))) return false;
  if (r.peerSel || r.peerNsSel) {
    const hit = w.eps.some((e) => {
      if (e.ip !== ip) return false;
      if (r.peerSel && !selMatch(r.peerSel, e.labels)) return false;
      if (r.peerNsSel) return selMatch(r.peerNsSel, { team: w.nsLabels[e.ns] as string });
      return pol.ns === undefined || e.ns === pol.ns;
    });
    const extHit =
      pol.ns === undefined &&
      !r.peerNsSel &&
      r.peerSel !== undefined &&
      selMatch(r.peerSel, { app: 'ext' }) &&
      w.ext.some((c) => inCidr(ip, c));
    if (!hit && !extHit) return false;
  }
  return true;
}

function ruleHit(w: World, pol: RPolicy, r: RRule, p: Pkt, dir: 'ingress' | 'egress'): boolean {
  if (r.proto && PROTO[r.proto] !== p.proto) return false;
  if (r.notProto && PROTO[r.notProto] === p.proto) return false;
  if (r.icmpType !== undefined && p.icmpType !== r.icmpType) return false;
  const peerIp = dir === 'ingress' ? p.src : p.dst;
  if (!peerMatches(w, pol, r, peerIp)) return false;
  if (r.ports) {
    const ok = r.ports.some((port) => {
      if (typeof port === 'number') return p.dport === port;
      if (/^\d+:\d+$/.test(port)) {
        const [lo, hi] = port.split(':').map(Number) as [number, number];
        return p.dport !== undefined && p.dport >= lo && p.dport <= hi;
      }
      // Named port: on the destination endpoint, which (egress) must also satisfy the peer selector.
      return w.eps.some(
        (e) =>
          e.ip === p.dst &&
          e.svcPort === p.dport &&
          p.proto === 6 &&
          (dir === 'ingress' || peerMatches(w, pol, { ...r, nets: undefined, notNets: undefined }, e.ip)),
      );
    });
    if (!ok) return false;
  }
  return true;
}

function refSide(w: World, ep: REp, dir: 'ingress' | 'egress', p: Pkt): boolean {
  const applies = w.policies.filter(
    (pol) => selMatch(pol.sel, ep.labels) && (pol.ns === undefined || pol.ns === ep.ns),
  );
  return (refTiers(w, applies, dir, p, true) ?? 'allow') === 'allow'; // kns profile: allow
}

// ---- generators ----------------------------------------------------------------------------------
const arbEq = fc
  .subarray(
    [
      ['app', 'web'],
      ['app', 'db'],
      ['env', 'prod'],
    ] as [string, string][],
    { maxLength: 2 },
  )
  .filter((eq) => new Set(eq.map((e) => e[0])).size === eq.length);
const arbRule: fc.Arbitrary<RRule> = fc
  .record(
    {
      action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log'),
      proto: fc.constantFrom('TCP', 'UDP', 'ICMP'),
      notProto: fc.constantFrom('TCP', 'UDP'),
      peerSel: arbEq,
      peerNsSel: fc.constantFrom<Eq>([['team', 'a']], [['team', 'b']], []),
      nets: fc.constantFrom(['10.0.0.0/16'], ['10.0.1.0/24', '192.168.7.0/24'], ['10.0.0.0/31']),
      notNets: fc.constantFrom(['10.0.0.2/32'], ['10.0.1.0/24']),
      ports: fc.constantFrom<(number | string)[]>([80], ['79:80'], ['svc'], [81, 'svc']),
      icmpType: fc.constantFrom(0, 8),
    },
    { requiredKeys: ['action'] },
  )
  .map((r) => {
    const out = { ...r } as unknown as RRule;
    if (out.proto !== 'ICMP') delete out.icmpType;
    if (out.proto !== 'TCP' && out.proto !== 'UDP') delete out.ports;
    if (out.proto) delete out.notProto;
    if (out.icmpType !== undefined && out.proto !== 'ICMP') delete out.icmpType;
    return out;
  });

/** Mostly Allow rules on TCP/UDP: long runs of Allow-only policies, rendered as one (protocol . port) map. */
const arbRunRule: fc.Arbitrary<RRule> = fc
  .record(
    {
      action: fc.oneof(
        { arbitrary: fc.constant<RRule['action']>('Allow'), weight: 12 },
        fc.constantFrom<RRule['action']>('Deny', 'Pass', 'Log'),
      ),
      proto: fc.oneof(
        { arbitrary: fc.constantFrom<NonNullable<RRule['proto']>>('TCP', 'UDP'), weight: 8 },
        fc.constant<NonNullable<RRule['proto']>>('ICMP'),
      ),
      peerSel: arbEq,
      nets: fc.constantFrom<string[]>(['10.0.0.0/16'], ['10.0.1.0/24', '192.168.7.0/24']),
      ports: fc.constantFrom<(number | string)[]>([80], ['79:80'], ['svc'], [81, 'svc'], [79, 81], ['80:81']),
    },
    { requiredKeys: ['action', 'proto'] },
  )
  .map((r): RRule => {
    const out: RRule = { ...r };
    if (out.proto === 'ICMP') delete out.ports;
    return out;
  });

/** `dense`: most policies in one tier and selecting everything, so consecutive policies apply to one endpoint. */
const arbWorldWith = (
  rule: fc.Arbitrary<RRule>,
  maxPolicies: number,
  maxRules = 3,
  dense = false,
): fc.Arbitrary<World> =>
  fc.record({
    nsLabels: fc.record({ n0: fc.constantFrom('a', 'b'), n1: fc.constantFrom('a', 'b') }),
    eps: fc
      .array(
        fc.record({
          ns: fc.constantFrom('n0', 'n1'),
          app: fc.constantFrom('web', 'db', undefined),
          env: fc.constantFrom('prod', undefined),
          svc: fc.constantFrom(80, 81, undefined),
          net: fc.constantFrom(0, 1),
        }),
        { minLength: 2, maxLength: 5 },
      )
      .map((xs) =>
        xs.map((x, i): REp => {
          const labels: Record<string, string> = {};
          if (x.app) labels.app = x.app;
          if (x.env) labels.env = x.env;
          return {
            ns: x.ns,
            name: `e${i}`,
            ip: `10.0.${x.net}.${i + 1}`,
            labels,
            ...(x.svc ? { svcPort: x.svc } : {}),
          };
        }),
      ),
    t1Default: fc.constantFrom('Deny', 'Pass'),
    ext: fc.constantFrom(['192.168.7.0/24'], ['192.168.0.0/16']),
    policies: fc
      .array(
        fc.record({
          ns: fc.constantFrom('n0', 'n1', undefined),
          tier: dense
            ? fc.oneof(
                { arbitrary: fc.constant<RPolicy['tier']>('default'), weight: 4 },
                fc.constant<RPolicy['tier']>('t1'),
              )
            : fc.constantFrom<RPolicy['tier']>('t1', 'default'),
          order: fc.constantFrom(1, 2, undefined),
          sel: dense ? fc.oneof({ arbitrary: fc.constant<Eq>([]), weight: 3 }, arbEq) : arbEq,
          types: fc.constantFrom<('Ingress' | 'Egress')[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
          ingress: fc.array(rule, { maxLength: maxRules }),
          egress: fc.array(rule, { maxLength: maxRules }),
        }),
        { maxLength: maxPolicies },
      )
      .map((ps) => ps.map((p, i) => ({ ...p, name: `p${i}` }) as RPolicy)),
  });
const arbWorld = arbWorldWith(arbRule, 4);

function toRule(r: RRule): RuleSpec {
  const peer: Record<string, unknown> = {};
  if (r.peerSel) peer.selector = selText(r.peerSel) || 'all()';
  if (r.peerNsSel) peer.namespaceSelector = selText(r.peerNsSel) || 'all()';
  if (r.nets) peer.nets = r.nets;
  if (r.notNets) peer.notNets = r.notNets;
  return {
    action: r.action,
    ...(r.proto ? { protocol: r.proto } : {}),
    ...(r.notProto ? { notProtocol: r.notProto } : {}),
    ...(r.icmpType !== undefined ? { icmp: { type: r.icmpType } } : {}),
    source: {},
    destination: {},
    ...(r.ports ? { destination: { ports: r.ports } } : {}),
    [Symbol.for('peer')]: peer,
  } as RuleSpec;
}

/** An RRule as a RuleSpec of one direction: the peer on the far side, ports on the destination. */
const mk =
  (dir: 'ingress' | 'egress') =>
  (r: RRule): RuleSpec => {
    const base = toRule(r);
    const peer = (base as unknown as Record<symbol, Record<string, unknown>>)[Symbol.for('peer')] as Record<
      string,
      unknown
    >;
    const out: RuleSpec = {
      action: base.action,
      ...(base.protocol ? { protocol: base.protocol } : {}),
      ...(base.notProtocol ? { notProtocol: base.notProtocol } : {}),
      ...(base.icmp ? { icmp: base.icmp } : {}),
    };
    if (dir === 'ingress') return { ...out, source: peer, destination: r.ports ? { ports: r.ports } : {} };
    return { ...out, destination: { ...peer, ...(r.ports ? { ports: r.ports } : {}) } };
  };

function build(w: World): PolicyCalculator {
  const c = new PolicyCalculator({ nodeName: 'n' });
  for (const [ns, team] of Object.entries(w.nsLabels))
    c.apply({ kind: 'Namespace', key: ns, value: { name: ns, labels: { team } } });
  c.apply({ kind: 'Tier', key: 't1', value: { name: 't1', order: 10, defaultAction: w.t1Default } });
  c.apply({ kind: 'NetworkSet', key: 'ext', value: { name: 'ext', nets: w.ext, labels: { app: 'ext' } } });
  for (const e of w.eps) {
    c.apply({
      kind: 'WorkloadEndpoint',
      key: `${e.ns}/${e.name}`,
      value: {
        name: e.name,
        namespace: e.ns,
        node: 'n',
        interfaceName: `tsr${e.name}`,
        ipNetworks: [`${e.ip}/32`],
        labels: e.labels,
        ...(e.svcPort ? { ports: [{ name: 'svc', protocol: 'TCP', port: e.svcPort }] } : {}),
      },
    });
  }
  for (const p of w.policies) {
    const spec = {
      tier: p.tier,
      ...(p.order !== undefined ? { order: p.order } : {}),
      selector: selText(p.sel),
      types: p.types,
      ingress: p.ingress.map(mk('ingress')),
      egress: p.egress.map(mk('egress')),
    };
    const input: PolicyInput = p.ns
      ? { kind: 'NetworkPolicy', name: p.name, namespace: p.ns, spec }
      : { kind: 'GlobalNetworkPolicy', name: p.name, spec };
    c.apply({ kind: 'Policy', key: p.ns ? `${p.ns}/${p.name}` : p.name, value: input });
  }
  return c;
}

const arbPkt = fc.record({
  s: fc.nat(6),
  d: fc.nat(5),
  proto: fc.constantFrom(6, 17, 1),
  dport: fc.constantFrom(79, 80, 81),
  icmpType: fc.constantFrom(0, 8),
});

type APkt = typeof arbPkt extends fc.Arbitrary<infer T> ? T : never;
function checkWorld(w: World, pkts: readonly APkt[]): ReturnType<typeof renderNft> {
  const state = renderNft(build(w).resolve());
  for (const k of pkts) {
    const src = k.s < w.eps.length ? w.eps[k.s] : undefined;
    const dst = w.eps[k.d % w.eps.length] as REp;
    const srcIp = src ? src.ip : k.s % 2 ? '192.168.7.9' : '10.0.1.77';
    if (src === dst) continue;
    const p: Pkt = {
      src: srcIp,
      dst: dst.ip,
      proto: k.proto,
      ...(k.proto === 1 ? { icmpType: k.icmpType } : { dport: k.dport }),
    };
    const want = (src ? refSide(w, src, 'egress', p) : true) && refSide(w, dst, 'ingress', p);
    const got = interpretNft(state, {
      hook: 'forward',
      iif: src ? `tsr${src.name}` : 'eth0',
      oif: `tsr${dst.name}`,
      src: p.src,
      dst: p.dst,
      protocol: p.proto,
      ...(p.dport !== undefined ? { dstPort: p.dport, srcPort: 40000 } : {}),
      ...(p.icmpType !== undefined ? { icmpType: p.icmpType, icmpCode: 0 } : {}),
    });
    assert.equal(got.verdict === 'accept', want, `packet ${JSON.stringify(p)} path ${got.path.join(' > ')}`);
  }
  return state;
}

test('rendered nft verdicts equal the reference evaluator', () => {
  fc.assert(
    fc.property(arbWorld, fc.array(arbPkt, { minLength: 1, maxLength: 8 }), (w, pkts) => {
      checkWorld(w, pkts);
    }),
    { numRuns: 300, seed: 20261126 },
  );
});

test('runs of Allow-only policies (one port map lookup) keep first-match verdicts', () => {
  let withRuns = 0;
  fc.assert(
    fc.property(arbWorldWith(arbRunRule, 10, 2, true), fc.array(arbPkt, { minLength: 1, maxLength: 12 }), (w, pkts) => {
      const state = checkWorld(w, pkts);
      if ([...state.maps.values()].some((m) => m.key === 'l4proto . dport')) withRuns++;
    }),
    { numRuns: 300, seed: 20261127 },
  );
  // The generator must actually produce runs, or this test checks nothing new.
  assert.ok(withRuns >= 75, `only ${withRuns} of 300 worlds rendered a run`);
});

test('fail closed and anti-spoofing in the rendered table', () => {
  const w: World = {
    nsLabels: { n0: 'a', n1: 'b' },
    eps: [
      { ns: 'n0', name: 'e0', ip: '10.0.0.1', labels: {} },
      { ns: 'n0', name: 'e1', ip: '10.0.0.2', labels: {} },
    ],
    t1Default: 'Deny',
    policies: [],
    ext: ['192.168.7.0/24'],
  };
  const state = renderNft(build(w).resolve());
  const base = { hook: 'forward' as const, protocol: 6, dstPort: 80, srcPort: 1 };
  assert.equal(
    interpretNft(state, { ...base, iif: 'tsre0', oif: 'tsre1', src: '10.0.0.1', dst: '10.0.0.2' }).verdict,
    'accept',
  );
  assert.equal(
    interpretNft(state, { ...base, iif: 'tsre0', oif: 'tsre1', src: '10.0.0.9', dst: '10.0.0.2' }).verdict,
    'drop',
  );
  assert.equal(
    interpretNft(state, { ...base, iif: 'tsrnew', oif: 'tsre1', src: '10.0.0.5', dst: '10.0.0.2' }).verdict,
    'drop',
  );
  assert.equal(
    interpretNft(state, { ...base, iif: 'eth0', oif: 'tsrnew', src: '10.9.0.5', dst: '10.0.0.7' }).verdict,
    'drop',
  );
  assert.equal(
    interpretNft(state, { ...base, iif: 'eth0', oif: 'eth1', src: '10.9.0.5', dst: '10.0.0.7' }).verdict,
    'accept',
  );
});

// ---- host endpoints ------------------------------------------------------------------------------
// One host endpoint on the node (named `eth0` or `*`), GlobalNetworkPolicies with Calico's option
// combinations, and packets to and from the host and forwarded through it, run through every hook
// the kernel would run (raw, mangle, filter) with the mark carried between them.
type Opt = 'none' | 'aof' | 'pre' | 'dnt';
interface HPolicy extends RPolicy {
  opt: Opt;
}
interface HWorld extends World {
  hep: { iface: 'eth0' | '*'; labels: Record<string, string>; allowProfile: boolean };
  hpolicies: HPolicy[];
}
const HOST_IP = '10.0.9.1';
const FAILSAFE_IN = [
  [6, 22],
  [17, 68],
  [6, 179],
  [6, 2379],
  [6, 2380],
  [6, 5473],
  [6, 6443],
  [6, 6666],
  [6, 6667],
];
const FAILSAFE_OUT = [
  [17, 53],
  [17, 67],
  [6, 179],
  [6, 2379],
  [6, 2380],
  [6, 5473],
  [6, 6443],
  [6, 6666],
  [6, 6667],
];
const failsafe = (list: number[][], p: Pkt) => list.some(([proto, port]) => p.proto === proto && p.dport === port);

/** First decision of the tiers (`undefined`: none); `defaultDrop` ends a tier that applied with its default action. */
function refTiers(
  w: World,
  ps: readonly RPolicy[],
  dir: 'ingress' | 'egress',
  p: Pkt,
  defaultDrop: boolean,
): 'allow' | 'deny' | undefined {
  const type = dir === 'ingress' ? 'Ingress' : 'Egress';
  for (const tier of ['t1', 'default'] as const) {
    const tps = ps
      .filter((x) => x.tier === tier && x.types.includes(type))
      .sort(
        (a, b) => (a.order ?? Infinity) - (b.order ?? Infinity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      );
    if (!tps.length) continue;
    let pass = false;
    outer: for (const pol of tps) {
      for (const r of dir === 'ingress' ? pol.ingress : pol.egress) {
        if (!ruleHit(w, pol, r, p, dir)) continue;
        if (r.action === 'Log') continue;
        if (r.action === 'Pass') {
          pass = true;
          break outer;
        }
        return r.action === 'Allow' ? 'allow' : 'deny';
      }
    }
    if (pass) continue;
    if (defaultDrop && (tier === 't1' ? w.t1Default : 'Deny') === 'Deny') return 'deny';
  }
  return undefined;
}

function refHostNormal(w: HWorld, ps: readonly RPolicy[], dir: 'ingress' | 'egress', p: Pkt): boolean {
  const d = refTiers(w, ps, dir, p, true);
  if (d) return d === 'allow';
  return w.hep.allowProfile; // profiles: projectcalico-default-allow, else the final drop
}

const hepPolicies = (w: HWorld, opts: Opt[]) =>
  w.hpolicies.filter((x) => opts.includes(x.opt) && selMatch(x.sel, w.hep.labels));

/** Packet to the host through `iif`, or from it through `oif`. */
function refHost(w: HWorld, dir: 'ingress' | 'egress', iface: string, p: Pkt): boolean {
  if (w.hep.iface !== '*' && w.hep.iface !== iface) return true; // no host endpoint on that interface
  if (failsafe(dir === 'ingress' ? FAILSAFE_IN : FAILSAFE_OUT, p)) return true;
  if (w.hep.iface !== '*') {
    const d = refTiers(w, hepPolicies(w, ['dnt']), dir, p, false);
    if (d) return d === 'allow';
  }
  if (dir === 'ingress') {
    const d = refTiers(w, hepPolicies(w, ['pre']), dir, p, false);
    if (d) return d === 'allow';
  }
  return refHostNormal(w, hepPolicies(w, ['none', 'aof']), dir, p);
}

/** The host endpoint's part of a packet forwarded in through `iface` (ingress) or out of it (egress). */
function refHostForward(w: HWorld, dir: 'ingress' | 'egress', iface: string, p: Pkt): boolean {
  if (w.hep.iface !== '*' && w.hep.iface !== iface) return true;
  if (dir === 'ingress' && !failsafe(FAILSAFE_IN, p)) {
    // Failsafes only keep a packet out of untracked and preDNAT policy; forward policy still runs.
    if (w.hep.iface !== '*') {
      const d = refTiers(w, hepPolicies(w, ['dnt']), dir, p, false);
      if (d === 'deny') return false;
      if (d === 'allow') return true;
    }
    const d = refTiers(w, hepPolicies(w, ['pre']), dir, p, false);
    if (d === 'deny') return false;
    if (d === 'allow') return true;
  }
  const fwd = hepPolicies(w, ['aof']).filter((x) => x.types.includes(dir === 'ingress' ? 'Ingress' : 'Egress'));
  if (!fwd.length) return true; // no applyOnForward policy for this direction: allowed
  return refHostNormal(w, fwd, dir, p);
}

const arbHWorld: fc.Arbitrary<HWorld> = fc
  .record({
    base: arbWorldWith(arbRule, 0),
    hep: fc.record({
      iface: fc.constantFrom<'eth0' | '*'>('eth0', '*'),
      labels: arbEq.map((eq) => Object.fromEntries(eq)),
      allowProfile: fc.boolean(),
    }),
    hpolicies: fc.array(
      fc.record({
        tier: fc.constantFrom<RPolicy['tier']>('t1', 'default'),
        order: fc.constantFrom(1, 2, undefined),
        sel: fc.oneof({ arbitrary: fc.constant<Eq>([]), weight: 2 }, arbEq),
        types: fc.constantFrom<('Ingress' | 'Egress')[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
        ingress: fc.array(arbRule, { maxLength: 3 }),
        egress: fc.array(arbRule, { maxLength: 3 }),
        opt: fc.constantFrom<Opt>('none', 'aof', 'pre', 'dnt'),
      }),
      { maxLength: 5 },
    ),
  })
  .map(({ base, hep, hpolicies }) => ({
    ...base,
    hep,
    hpolicies: hpolicies.map((p, i): HPolicy =>
      p.opt === 'pre' ? { ...p, name: `h${i}`, types: ['Ingress'], egress: [] } : { ...p, name: `h${i}` },
    ),
  }));

function buildHost(w: HWorld): PolicyCalculator {
  const c = build(w);
  c.apply({
    kind: 'HostEndpoint',
    key: 'h',
    value: {
      name: 'h',
      node: 'n',
      interfaceName: w.hep.iface,
      labels: w.hep.labels,
      ...(w.hep.allowProfile ? { profiles: ['projectcalico-default-allow'] } : {}),
    },
  });
  for (const p of w.hpolicies) {
    const flags =
      p.opt === 'aof'
        ? { applyOnForward: true }
        : p.opt === 'pre'
          ? { preDNAT: true, applyOnForward: true }
          : p.opt === 'dnt'
            ? { doNotTrack: true, applyOnForward: true }
            : {};
    const spec = {
      tier: p.tier,
      ...(p.order !== undefined ? { order: p.order } : {}),
      selector: selText(p.sel),
      types: p.types,
      ingress: p.ingress.map(mk('ingress')),
      egress: p.egress.map(mk('egress')),
      ...flags,
    };
    c.apply({ kind: 'Policy', key: p.name, value: { kind: 'GlobalNetworkPolicy', name: p.name, spec } });
  }
  return c;
}

const arbHPkt = fc.record({
  path: fc.constantFrom('to-host', 'from-host', 'fwd-in', 'fwd-out'),
  iface: fc.constantFrom('eth0', 'eth1'),
  ext: fc.constantFrom('192.168.7.9', '10.0.1.77'),
  ep: fc.nat(4),
  proto: fc.constantFrom(6, 17, 1),
  dport: fc.constantFrom(22, 53, 79, 80, 81, 2379),
  icmpType: fc.constantFrom(0, 8),
});

test('host endpoints, failsafes, preDNAT, doNotTrack and applyOnForward: rendered verdicts equal the reference', () => {
  let hostDecided = 0;
  fc.assert(
    fc.property(arbHWorld, fc.array(arbHPkt, { minLength: 1, maxLength: 8 }), (w, pkts) => {
      const state = renderNft(buildHost(w).resolve());
      // Normal and applyOnForward GlobalNetworkPolicies select workloads too; preDNAT and doNotTrack never do.
      const wl: World = {
        ...w,
        policies: [...w.policies, ...w.hpolicies.filter((x) => x.opt === 'none' || x.opt === 'aof')],
      };
      for (const k of pkts) {
        const ep = w.eps[k.ep % w.eps.length] as REp;
        const l4 = k.proto === 1 ? { icmpType: k.icmpType } : { dport: k.dport };
        const nftL4 = k.proto === 1 ? { icmpType: k.icmpType, icmpCode: 0 } : { dstPort: k.dport, srcPort: 40000 };
        let want: boolean;
        let got: ReturnType<typeof interpretHooks>;
        if (k.path === 'to-host') {
          const p: Pkt = { src: k.ext, dst: HOST_IP, proto: k.proto, ...l4 };
          want = refHost(w, 'ingress', k.iface, p);
          got = interpretHooks(state, { iif: k.iface, src: p.src, dst: p.dst, protocol: p.proto, ...nftL4 }, [
            'raw-prerouting',
            'mangle-prerouting',
            'input',
          ]);
        } else if (k.path === 'from-host') {
          const p: Pkt = { src: HOST_IP, dst: k.ext, proto: k.proto, ...l4 };
          want = refHost(w, 'egress', k.iface, p);
          got = interpretHooks(state, { iif: '', oif: k.iface, src: p.src, dst: p.dst, protocol: p.proto, ...nftL4 }, [
            'raw-output',
            'output',
          ]);
        } else if (k.path === 'fwd-in') {
          const p: Pkt = { src: k.ext, dst: ep.ip, proto: k.proto, ...l4 };
          want = refHostForward(w, 'ingress', k.iface, p) && refSide(wl, ep, 'ingress', p);
          got = interpretHooks(
            state,
            { iif: k.iface, oif: `tsr${ep.name}`, src: p.src, dst: p.dst, protocol: p.proto, ...nftL4 },
            ['raw-prerouting', 'mangle-prerouting', 'forward'],
          );
        } else {
          const p: Pkt = { src: ep.ip, dst: k.ext, proto: k.proto, ...l4 };
          want = refSide(wl, ep, 'egress', p) && refHostForward(w, 'egress', k.iface, p);
          got = interpretHooks(
            state,
            { iif: `tsr${ep.name}`, oif: k.iface, src: p.src, dst: p.dst, protocol: p.proto, ...nftL4 },
            ['raw-prerouting', 'mangle-prerouting', 'forward'],
          );
        }
        if (!want) hostDecided++;
        assert.equal(
          got.verdict === 'accept',
          want,
          `${k.path} via ${k.iface} ${JSON.stringify(l4)} hep ${JSON.stringify(w.hep)} path ${got.path.join(' > ')}`,
        );
      }
    }),
    { numRuns: 300, seed: 20261207 },
  );
  assert.ok(hostDecided >= 100, `only ${hostDecided} packets were denied: the generator checks little`);
});
