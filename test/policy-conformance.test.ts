/**
 * Runs every case of ../shared/conformance/netpol-public.json (relative to the repo root) against the
 * pure policy model: all 81 client→server pairs per probe, evaluated by the resolved model that the nft
 * renderer consumes. The live-lab runner comes with the agent and the lab.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  loadSuite,
  stepsOf,
  substitute,
  type Suite as SuiteModel,
  type SuiteCase,
  type SuiteStep,
} from './helpers/netpol-suite.js';
import { explainFlow, PolicyCalculator, protocolNumber, type K8sNetworkPolicyInput } from '../src/policy/index.js';

type PolicyDoc = { metadata: { name: string; namespace: string }; spec: K8sNetworkPolicyInput['spec'] };
type Step = SuiteStep<PolicyDoc>;
type Case = SuiteCase<PolicyDoc>;
type Suite = SuiteModel<PolicyDoc>;

function podIp(i: number): string {
  // Spread over three "nodes" (10.244.<node>.x) so ipBlock prefixes differ between pods.
  return `10.244.${i % 3}.${10 + i}`;
}

function runCase(suite: Suite, c: Case, checked: { n: number }): string[] {
  const calc = new PolicyCalculator();
  const ips = new Map<string, string>();
  const podLabels = new Map<string, Record<string, string>>();
  const nsLabels = new Map<string, Record<string, string>>();
  suite.model.pods.forEach((p, i) => {
    const id = `${p.ns}/${p.name}`;
    ips.set(id, podIp(i));
    podLabels.set(id, { ...p.labels });
  });
  for (const [ns, v] of Object.entries(suite.model.namespaces)) {
    nsLabels.set(ns, { ...v.labels });
    calc.apply({ kind: 'Namespace', key: ns, value: { name: ns, labels: { ...v.labels } } });
  }
  const putPod = (id: string) => {
    const [ns, name] = id.split('/') as [string, string];
    calc.apply({
      kind: 'WorkloadEndpoint',
      key: id,
      value: {
        name,
        namespace: ns,
        node: 'n1',
        interfaceName: `tsr${name}${ns}`,
        ipNetworks: [`${ips.get(id)}/32`],
        labels: podLabels.get(id) ?? {},
        ports: suite.model.namedPorts,
      },
    });
  };
  for (const id of ips.keys()) putPod(id);
  const live = new Set<string>();
  const failures: string[] = [];
  const steps: Step[] = stepsOf(c);
  steps.forEach((step, si) => {
    if (step.deleteAllPolicies) {
      for (const k of live) calc.apply({ kind: 'K8sNetworkPolicy', key: k, value: null });
      live.clear();
    }
    for (const d of step.deletePolicies ?? []) {
      calc.apply({ kind: 'K8sNetworkPolicy', key: `${d.namespace}/${d.name}`, value: null });
      live.delete(`${d.namespace}/${d.name}`);
    }
    for (const pl of step.setup?.podLabels ?? []) {
      const l = podLabels.get(pl.pod) as Record<string, string>;
      Object.assign(l, pl.set ?? {});
      for (const r of pl.remove ?? []) delete l[r];
      putPod(pl.pod);
    }
    for (const nl of step.setup?.namespaceLabels ?? []) {
      const l = nsLabels.get(nl.namespace) as Record<string, string>;
      Object.assign(l, nl.set ?? {});
      for (const r of nl.remove ?? []) delete l[r];
      calc.apply({ kind: 'Namespace', key: nl.namespace, value: { name: nl.namespace, labels: { ...l } } });
    }
    for (const p of step.policies ?? []) {
      const spec = JSON.parse(substitute(JSON.stringify(p.spec), ips)) as K8sNetworkPolicyInput['spec'];
      calc.apply({
        kind: 'K8sNetworkPolicy',
        key: `${p.metadata.namespace}/${p.metadata.name}`,
        value: { name: p.metadata.name, namespace: p.metadata.namespace, spec },
      });
      live.add(`${p.metadata.namespace}/${p.metadata.name}`);
    }
    const model = calc.resolve();
    const byId = new Map(model.endpoints.map((e) => [e.id, e]));
    for (const probe of step.probes) {
      const order = suite.model.podOrder;
      order.forEach((from, r) => {
        order.forEach((to, col) => {
          if (from === to) return; // ignoreLoopback
          const want = probe.grid[r]?.[col] === '.';
          const ex = explainFlow(model, byId.get(from)!, byId.get(to)!, {
            protocol: protocolNumber(probe.protocol, 'probe'),
            dstPort: probe.port,
            srcPort: 40000,
          });
          checked.n++;
          if (ex?.allowed !== want) {
            failures.push(
              `${c.id} step ${si} ${probe.protocol}/${probe.port} ${from}->${to}: want ${want ? 'allow' : 'deny'}, got ${ex?.allowed}\n   egress: ${ex?.egress.trace.join(' | ')}\n   ingress: ${ex?.ingress.trace.join(' | ')}`,
            );
          }
        });
      });
    }
  });
  return failures;
}

test('netpol-public.json: every probe on the pure model', () => {
  const suite: Suite = loadSuite<PolicyDoc>();
  const checked = { n: 0 };
  const failures = suite.cases.flatMap((c) => runCase(suite, c, checked));
  assert.deepEqual(failures, []);
  const probes = suite.cases.reduce((n, c) => n + (c.steps ?? [c]).reduce((m, s) => m + (s.probes?.length ?? 0), 0), 0);
  assert.equal(checked.n, probes * 72);
});
