/**
 * `tessera policy explain FROM TO --port P [--protocol X]`: which tier/policy/rule decides the egress
 * side (FROM sending) and the ingress side (TO receiving), computed by the same PolicyCalculator and
 * ResolvedModel the node agent renders into nftables. FROM/TO are `ns/pod`, `ns/wep-name` or a unique
 * WorkloadEndpoint name.
 */
import { lookupKind } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import { ResourceStore, type Backend } from '../../datastore/index.js';
import { TesseraError } from '../../lib/errors.js';
import {
  evaluateEndpoint,
  evaluateHost,
  evaluateHostForward,
  evaluateWorkloadToHost,
  explainFlow,
  hostConfigFromSpecs,
  PolicyCalculator,
  policyUpdateFromResource,
  POLICY_KINDS,
  protocolNumber,
  type Decision,
  type Explanation,
  type Packet,
  type ResolvedEndpoint,
  type ResolvedHostEndpoint,
} from '../../policy/index.js';
import type { VerbDeps } from '../io.js';

export interface PolicyExplainOptions {
  port?: number;
  protocol?: string;
  ipVersion?: 4 | 6;
  icmpType?: number;
  icmpCode?: number;
}

/** Builds the calculator over every policy-relevant resource (all endpoints local). */
export function calculatorFromResources(resources: readonly Resource[]): PolicyCalculator {
  const calc = new PolicyCalculator();
  // Profiles and namespaces before endpoints is not required for correctness, only cheaper.
  const rank = (k: string) =>
    ['Namespace', 'ServiceAccount', 'Profile', 'Tier'].includes(k) ? 0 : k === 'WorkloadEndpoint' ? 1 : 2;
  for (const r of [...resources].sort((a, b) => rank(a.kind) - rank(b.kind))) {
    const u = policyUpdateFromResource(r);
    if (u) calc.apply(u);
  }
  // The cluster-wide FelixConfiguration's failsafes and workload-to-host action (node-specific ones
  // are applied per node in explainBetween).
  // The CLI cannot list a node's interfaces: a host endpoint given by expectedIPs alone is taken to
  // police the interface holding them (what the agent finds on its node).
  const byIps = resources.filter(
    (r) => r.kind === 'HostEndpoint' && !(r.spec as { interfaceName?: string } | undefined)?.interfaceName,
  );
  calc.apply({
    kind: 'HostInterfaces',
    key: 'host',
    value: byIps.map((r) => ({
      name: `expectedIPs of ${r.metadata.name}`,
      addresses: (r.spec as { expectedIPs?: string[] }).expectedIPs ?? [],
    })),
  });
  const felix = resources.find((r) => r.kind === 'FelixConfiguration' && r.metadata.name === 'default');
  if (felix) calc.apply({ kind: 'HostConfig', key: 'host', value: hostConfigFromSpecs([felix.spec]) });
  return calc;
}

/** `node/NAME` (or `hep/NAME`): a host side of a flow. */
interface HostSide {
  kind: 'host';
  node: string;
  ref: string;
  hep: ResolvedHostEndpoint | undefined;
  v4?: string;
  v6?: string;
}
type Side = HostSide | { kind: 'wep'; ref: string; ep: ResolvedEndpoint };

const firstIp = (xs: readonly string[]) => xs.find((x) => !x.includes('/')) ?? xs[0]?.split('/')[0];

function hostSide(
  calc: PolicyCalculator,
  ref: string,
  nodes: readonly Resource[],
  model: ReturnType<PolicyCalculator['resolve']>,
): HostSide | undefined {
  const m = /^(node|hep)\/(.+)$/.exec(ref);
  if (!m) return undefined;
  const hepName = m[1] === 'hep' ? m[2] : calc.findHostEndpoint(m[2] as string);
  const hep = hepName ? model.hostEndpoints?.find((h) => h.name === hepName) : undefined;
  const nodeName = hep?.node ?? (m[2] as string);
  const nodeRes = nodes.find((n) => n.metadata.name === nodeName);
  if (!hep && !nodeRes) throw new TesseraError('not-found', `cannot explain: no node or host endpoint "${m[2]}"`);
  const spec = (nodeRes?.spec ?? {}) as { bgp?: { ipv4Address?: string; ipv6Address?: string } };
  const v4 = firstIp(hep?.v4 ?? []) ?? spec.bgp?.ipv4Address?.split('/')[0];
  const v6 = firstIp(hep?.v6 ?? []) ?? spec.bgp?.ipv6Address?.split('/')[0];
  return { kind: 'host', node: nodeName, ref, hep, ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
}

/**
 * A flow with a node on one side or both, or between workloads of a cluster with host endpoints: each step Felix's chains apply, in order (the source's
 * egress, host endpoints the packet is forwarded through, the destination's ingress).
 */
export function explainHostFlow(
  calc: PolicyCalculator,
  from: string,
  to: string,
  o: PolicyExplainOptions,
  nodes: readonly Resource[],
): Explanation | undefined {
  const model = calc.resolve();
  const side = (ref: string): Side | undefined => {
    const h = hostSide(calc, ref, nodes, model);
    if (h) return h;
    const id = calc.findEndpoint(ref);
    const ep = id ? model.endpoints.find((e) => e.id === id) : undefined;
    return ep ? { kind: 'wep', ref, ep } : undefined;
  };
  const a = side(from);
  const b = side(to);
  if (!a || !b) return undefined;
  const fam = o.ipVersion ?? 4;
  const ipOf = (x: Side) => (x.kind === 'wep' ? (fam === 4 ? x.ep.v4 : x.ep.v6)[0] : fam === 4 ? x.v4 : x.v6);
  const src = ipOf(a);
  const dst = ipOf(b);
  if (!src || !dst)
    throw new TesseraError('not-found', `cannot explain "${from}" -> "${to}": one of them has no IPv${fam} address`);
  const protocol = protocolNumber(o.protocol ?? 'TCP', '--protocol');
  const packet: Packet = {
    src,
    dst,
    protocol,
    ...(o.port !== undefined ? { dstPort: o.port, srcPort: 40000 } : {}),
    ...(o.icmpType !== undefined ? { icmpType: o.icmpType } : {}),
    ...(o.icmpCode !== undefined ? { icmpCode: o.icmpCode } : {}),
  };
  const nodeOf = (x: Side) => (x.kind === 'wep' ? x.ep.node : x.node);
  const hepOf = (node: string) => {
    const name = calc.findHostEndpoint(node);
    return name ? model.hostEndpoints?.find((h) => h.name === name) : undefined;
  };
  const hops: { what: string; decision: Decision }[] = [];
  let egress: Decision;
  let ingress: Decision;
  const sameNode = nodeOf(a) === nodeOf(b);
  if (sameNode && a.kind === 'wep' && b.kind === 'host') {
    egress = evaluateWorkloadToHost(model, a.ep, packet);
    ingress = {
      allowed: true,
      by: 'endpoint-to-host',
      trace: ['workload to its own host: host endpoint policy does not apply (defaultEndpointToHostAction decides)'],
    };
  } else if (sameNode && a.kind === 'host' && b.kind === 'wep') {
    egress = {
      allowed: true,
      by: 'host-to-own-workload',
      trace: ['host to its own workloads is not policed (Calico)'],
    };
    ingress = {
      allowed: true,
      by: 'host-to-own-workload',
      trace: ['host to its own workloads is not policed (Calico)'],
    };
  } else {
    egress =
      a.kind === 'wep' ? evaluateEndpoint(model, a.ep, 'egress', packet) : evaluateHost(model, a.hep, 'egress', packet);
    if (a.kind === 'wep' && !sameNode)
      hops.push({
        what: `forwarded out of ${a.ep.node}'s host endpoint`,
        decision: evaluateHostForward(model, hepOf(a.ep.node), 'egress', packet),
      });
    if (b.kind === 'wep' && !sameNode)
      hops.push({
        what: `forwarded in through ${b.ep.node}'s host endpoint`,
        decision: evaluateHostForward(model, hepOf(b.ep.node), 'ingress', packet),
      });
    ingress =
      b.kind === 'wep'
        ? evaluateEndpoint(model, b.ep, 'ingress', packet)
        : evaluateHost(model, b.hep, 'ingress', packet);
  }
  const label = (x: Side) => (x.kind === 'wep' ? x.ep.id : x.hep ? `${x.ref} (host endpoint ${x.hep.name})` : x.ref);
  return {
    from: label(a),
    to: label(b),
    packet,
    egress,
    ingress,
    ...(hops.length ? { hops } : {}),
    allowed: egress.allowed && ingress.allowed && hops.every((h) => h.decision.allowed),
  };
}

export async function loadPolicyResources(backend: Backend, signal?: AbortSignal): Promise<Resource[]> {
  const store = new ResourceStore(backend);
  const out: Resource[] = [];
  const kinds = [
    ...POLICY_KINDS.map((k) => lookupKind(k)),
    lookupKind('kubernetesnetworkpolicies'),
    lookupKind('Node'),
    lookupKind('FelixConfiguration'),
  ];
  for (const info of kinds) {
    if (!info) continue;
    out.push(...(await store.list(info, undefined, signal)));
  }
  return out;
}

export function explainBetween(calc: PolicyCalculator, from: string, to: string, o: PolicyExplainOptions): Explanation {
  const ids = [from, to].map((ref) => {
    const id = calc.findEndpoint(ref);
    if (!id) throw new TesseraError('not-found', `cannot explain: no unique workload endpoint matches "${ref}"`);
    return id;
  }) as [string, string];
  const model = calc.resolve(ids);
  const [a, b] = ids.map((id) => model.endpoints.find((e) => e.id === id)) as [
    NonNullable<(typeof model.endpoints)[number]>,
    NonNullable<(typeof model.endpoints)[number]>,
  ];
  const protocol = protocolNumber(o.protocol ?? 'TCP', '--protocol');
  const l4 = {
    protocol,
    ...(o.port !== undefined ? { dstPort: o.port, srcPort: 40000 } : {}),
    ...(o.icmpType !== undefined ? { icmpType: o.icmpType } : {}),
    ...(o.icmpCode !== undefined ? { icmpCode: o.icmpCode } : {}),
  };
  const ex = explainFlow(model, a, b, l4, o.ipVersion ?? 4);
  if (!ex)
    throw new TesseraError(
      'not-found',
      `cannot explain "${from}" -> "${to}": one of them has no IPv${o.ipVersion ?? 4} address`,
    );
  return ex;
}

function describeDecision(side: string, d: Decision): string {
  const verdict = d.allowed ? 'ALLOW' : 'DENY';
  let why: string;
  switch (d.by) {
    case 'policy-rule':
      why = `tier "${d.tier}", policy "${d.policy}", rule ${d.ruleIndex} (${d.action})`;
      break;
    case 'tier-default':
      why = `tier "${d.tier}" default action: policies applied but no rule matched`;
      break;
    case 'profile-rule':
      why = `profile "${d.profile}" rule ${d.ruleIndex} (${d.action}); no policy applied or every tier passed`;
      break;
    case 'no-profile-match':
      why = 'no policy or profile rule allowed it';
      break;
    case 'failsafe':
      why = 'a failsafe port (FelixConfiguration failsafeInboundHostPorts/failsafeOutboundHostPorts)';
      break;
    case 'no-host-endpoint':
      why = 'no host endpoint policy applies';
      break;
    case 'endpoint-to-host':
      why = 'defaultEndpointToHostAction';
      break;
    case 'host-to-own-workload':
      why = 'host to its own workload (never policed)';
      break;
  }
  return [`${side}: ${verdict} by ${why}`, ...d.trace.map((t) => `    ${t}`)].join('\n');
}

export function formatExplanation(ex: Explanation): string {
  const p = ex.packet;
  const l4 =
    p.dstPort !== undefined ? ` port ${p.dstPort}` : p.icmpType !== undefined ? ` icmp type ${p.icmpType}` : '';
  return [
    `${ex.from} (${p.src}) -> ${ex.to} (${p.dst}) protocol ${p.protocol}${l4}: ${ex.allowed ? 'ALLOWED' : 'DENIED'}`,
    describeDecision(`egress  (${ex.from})`, ex.egress),
    ...(ex.hops ?? []).map((h) => describeDecision(`forward (${h.what})`, h.decision)),
    describeDecision(`ingress (${ex.to})`, ex.ingress),
    '',
  ].join('\n');
}

export interface PolicyExplainArgs extends PolicyExplainOptions {
  from: string;
  to: string;
  /** `text` (default) or `json`. */
  output?: string | undefined;
}

/** `tessera policy explain FROM TO`: the CLI's verb (program.ts maps argv onto `args`). */
export async function policyExplainVerb(args: PolicyExplainArgs, deps: VerbDeps): Promise<number> {
  const { from, to, output, ...o } = args;
  const backend = await deps.backend();
  const resources = await loadPolicyResources(backend);
  const calc = calculatorFromResources(resources);
  const hostFlow =
    /^(node|hep)\//.test(from) || /^(node|hep)\//.test(to) || resources.some((r) => r.kind === 'HostEndpoint');
  const ex = hostFlow
    ? explainHostFlow(
        calc,
        from,
        to,
        o,
        resources.filter((r) => r.kind === 'Node'),
      )
    : explainBetween(calc, from, to, o);
  if (!ex) throw new TesseraError('not-found', `cannot explain "${from}" -> "${to}": no such endpoint`);
  deps.io.out(output === 'json' ? `${JSON.stringify(ex, null, 2)}\n` : formatExplanation(ex));
  return 0;
}
