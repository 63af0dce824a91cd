import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend, ResourceStore } from '../src/datastore/index.js';
import type { Resource } from '../src/api/resource.js';
import {
  calculatorFromResources,
  explainBetween,
  formatExplanation,
  loadPolicyResources,
} from '../src/cli/commands/policy.js';

const wep = (ns: string, pod: string, ip: string, labels: Record<string, string>): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `n1-k8s-${pod}-eth0`, namespace: ns, labels },
  spec: {
    node: 'n1',
    orchestrator: 'k8s',
    pod,
    endpoint: 'eth0',
    interfaceName: `tsr${pod}`,
    ipNetworks: [`${ip}/32`],
    profiles: [`kns.${ns}`],
  },
});

test('policy explain over datastore resources names tier, policy and rule on both sides', async () => {
  const backend = new MemoryBackend();
  const store = new ResourceStore(backend);
  const resources: Resource[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { team: 'red' } } },
    wep('x', 'a', '10.0.0.1', { app: 'web' }),
    wep('x', 'b', '10.0.0.2', { app: 'db' }),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'db', namespace: 'x' },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }],
      },
    },
  ];
  for (const r of resources) await store.create(r);
  const loaded = await loadPolicyResources(backend);
  assert.equal(loaded.length, resources.length);
  const calc = calculatorFromResources(loaded);

  const ok = explainBetween(calc, 'x/a', 'x/b', { port: 5432 });
  assert.equal(ok.allowed, true);
  assert.deepEqual([ok.ingress.by, ok.ingress.policy, ok.ingress.ruleIndex], ['policy-rule', 'x/knp.default.db', 0]);
  assert.equal(ok.egress.by, 'profile-rule');

  const no = explainBetween(calc, 'x/a', 'x/b', { port: 80 });
  assert.equal(no.allowed, false);
  assert.deepEqual([no.ingress.by, no.ingress.tier], ['tier-default', 'default']);
  const text = formatExplanation(no);
  assert.match(text, /ingress \(x\/n1-k8s-b-eth0\): DENY by tier "default" default action/);
  assert.match(text, /egress  \(x\/n1-k8s-a-eth0\): ALLOW by profile "kns.x"/);

  assert.throws(
    () => explainBetween(calc, 'x/zzz', 'x/b', { port: 80 }),
    /no unique workload endpoint matches "x\/zzz"/,
  );
  await backend.close();
});
