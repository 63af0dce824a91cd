/**
 * `tessera policy explain FROM TO --port P [--protocol X]`: which tier/policy/rule decides the egress
 * side (FROM sending) and the ingress side (TO receiving), computed by the same PolicyCalculator and
 * ResolvedModel the node agent renders into nftables. FROM/TO are `ns/pod`, `ns/wep-name` or a unique
 * WorkloadEndpoint name.
 */
import type { Command } from 'commander';
import { lookupKind } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import { openBackend, ResourceStore, type Backend } from '../../datastore/index.js';
import { resolveDatastore } from '../../lib/context.js';
import { TesseraError } from '../../lib/errors.js';
import {
  explainFlow,
  PolicyCalculator,
  policyUpdateFromResource,
  POLICY_KINDS,
  protocolNumber,
  type Decision,
  type Explanation,
} from '../../policy/index.js';

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
  const rank = (k: string) => (['Namespace', 'ServiceAccount', 'Profile', 'Tier'].includes(k) ? 0 : k === 'WorkloadEndpoint' ? 1 : 2);
  for (const r of [...resources].sort((a, b) => rank(a.kind) - rank(b.kind))) {
    const u = policyUpdateFromResource(r);
    if (u) calc.apply(u);
  }
  return calc;
}

export async function loadPolicyResources(backend: Backend, signal?: AbortSignal): Promise<Resource[]> {
  const store = new ResourceStore(backend);
  const out: Resource[] = [];
  const kinds = [...POLICY_KINDS.map((k) => lookupKind(k)), lookupKind('kubernetesnetworkpolicies')];
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
  const [a, b] = ids.map((id) => model.endpoints.find((e) => e.id === id)) as [NonNullable<(typeof model.endpoints)[number]>, NonNullable<(typeof model.endpoints)[number]>];
  const protocol = protocolNumber(o.protocol ?? 'TCP', '--protocol');
  const l4 = {
    protocol,
    ...(o.port !== undefined ? { dstPort: o.port, srcPort: 40000 } : {}),
    ...(o.icmpType !== undefined ? { icmpType: o.icmpType } : {}),
    ...(o.icmpCode !== undefined ? { icmpCode: o.icmpCode } : {}),
  };
  const ex = explainFlow(model, a, b, l4, o.ipVersion ?? 4);
  if (!ex) throw new TesseraError('not-found', `cannot explain "${from}" -> "${to}": one of them has no IPv${o.ipVersion ?? 4} address`);
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
  }
  return [`${side}: ${verdict} by ${why}`, ...d.trace.map((t) => `    ${t}`)].join('\n');
}

export function formatExplanation(ex: Explanation): string {
  const p = ex.packet;
  const l4 = p.dstPort !== undefined ? ` port ${p.dstPort}` : p.icmpType !== undefined ? ` icmp type ${p.icmpType}` : '';
  return [
    `${ex.from} (${p.src}) -> ${ex.to} (${p.dst}) protocol ${p.protocol}${l4}: ${ex.allowed ? 'ALLOWED' : 'DENIED'}`,
    describeDecision(`egress  (${ex.from})`, ex.egress),
    describeDecision(`ingress (${ex.to})`, ex.ingress),
    '',
  ].join('\n');
}

interface GlobalOpts {
  etcdEndpoints?: string;
  config?: string;
  context?: string;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('network policy tools');
  policy
    .command('explain')
    .description('show which tier, policy and rule decide traffic from one workload to another (egress and ingress)')
    .argument('<from>', 'client: ns/pod, ns/workloadendpoint or a unique WorkloadEndpoint name')
    .argument('<to>', 'server: same forms as <from>')
    .option('--port <port>', 'destination port', (v) => Number(v))
    .option('--protocol <proto>', 'TCP, UDP, SCTP, ICMP, ICMPv6 or a number', 'TCP')
    .option('--ip-version <v>', '4 or 6', (v) => (v === '6' ? 6 : 4))
    .option('--icmp-type <t>', 'ICMP type', (v) => Number(v))
    .option('--icmp-code <c>', 'ICMP code', (v) => Number(v))
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (from: string, to: string, _o: unknown, cmd: Command) => {
      const o = cmd.opts<PolicyExplainOptions & { output: string }>();
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const ds = resolveDatastore({ etcdEndpoints: g.etcdEndpoints, config: g.config, context: g.context });
      const backend = openBackend({ ...ds, transport: 'http' });
      try {
        const calc = calculatorFromResources(await loadPolicyResources(backend));
        const ex = explainBetween(calc, from, to, o);
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(ex, null, 2)}\n` : formatExplanation(ex));
      } finally {
        await backend.close();
      }
    });
}
