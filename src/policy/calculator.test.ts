import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyCalculator } from './calculator.js';
import { convertK8sNetworkPolicy } from './k8s.js';
import { explainFlow, evaluateEndpoint, type Packet } from './evaluate.js';
import type { PolicyInput, PolicyUpdate, RuleSpec, WorkloadEndpointInput } from './types.js';

function wep(
  ns: string,
  name: string,
  ip: string,
  labels: Record<string, string> = {},
  extra: Partial<WorkloadEndpointInput> = {},
): WorkloadEndpointInput {
  return { name, namespace: ns, node: 'n1', interfaceName: `tsr${name}`, ipNetworks: [`${ip}/32`], labels, ...extra };
}

function setup(): PolicyCalculator {
  const c = new PolicyCalculator();
  c.apply({ kind: 'Namespace', key: 'x', value: { name: 'x', labels: { team: 'red' } } });
  c.apply({ kind: 'Namespace', key: 'y', value: { name: 'y', labels: { team: 'blue' } } });
  c.apply({ kind: 'WorkloadEndpoint', key: 'x/a', value: wep('x', 'a', '10.0.0.1', { app: 'web' }) });
  c.apply({ kind: 'WorkloadEndpoint', key: 'x/b', value: wep('x', 'b', '10.0.0.2', { app: 'db' }) });
  c.apply({ kind: 'WorkloadEndpoint', key: 'y/c', value: wep('y', 'c', '10.0.1.3', { app: 'web' }) });
  return c;
}

const gnp = (name: string, spec: PolicyInput['spec']): PolicyInput => ({ kind: 'GlobalNetworkPolicy', name, spec });
const tcp80 = (src: string, dst: string): Packet => ({ src, dst, protocol: 6, srcPort: 40000, dstPort: 80 });

function ingressOf(c: PolicyCalculator, id: string, p: Packet) {
  const m = c.resolve();
  const ep = m.endpoints.find((e) => e.id === id);
  assert.ok(ep, `endpoint ${id}`);
  return evaluateEndpoint(m, ep, 'ingress', p);
}

describe('label index', () => {
  test('a label change re-evaluates only that endpoint', () => {
    const c = setup();
    for (let i = 0; i < 20; i++) {
      c.apply({
        kind: 'Policy',
        key: `p${i}`,
        value: gnp(`p${i}`, { selector: `app == "svc${i}"`, ingress: [{ action: 'Allow' }] }),
      });
    }
    const before = c.index.evaluations;
    c.apply({ kind: 'WorkloadEndpoint', key: 'x/a', value: wep('x', 'a', '10.0.0.1', { app: 'svc3' }) });
    // Of the 20 selectors only `app == "svc3"` can hold it (label-index.ts: anchors).
    assert.equal(c.index.evaluations - before, 1);
    assert.deepEqual(
      c
        .resolve()
        .endpoints.find((e) => e.id === 'x/a')
        ?.ingress.map((t) => t.policies),
      [['p3']],
    );
  });

  test('a namespace label change moves its endpoints in and out of namespaceSelector sets', () => {
    const c = setup();
    c.apply({
      kind: 'Policy',
      key: 'p',
      value: gnp('p', {
        selector: 'app == "db"',
        ingress: [{ action: 'Allow', source: { namespaceSelector: 'team == "blue"' } }],
      }),
    });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.1.3', '10.0.0.2')).allowed, true);
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2')).allowed, false);
    c.apply({ kind: 'Namespace', key: 'y', value: { name: 'y', labels: { team: 'green' } } });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.1.3', '10.0.0.2')).allowed, false);
  });

  test('removing a policy releases its selectors; re-adding gives the same model (no hysteresis)', () => {
    const c = setup();
    const before = JSON.stringify(c.resolve(), mapReplacer);
    c.apply({
      kind: 'Policy',
      key: 'p',
      value: gnp('p', { selector: 'all()', ingress: [{ action: 'Deny', source: { selector: 'app == "web"' } }] }),
    });
    c.apply({ kind: 'Policy', key: 'p', value: null });
    assert.equal(JSON.stringify(c.resolve(), mapReplacer), before);
    assert.equal(c.index.hasSelector('app == "web"'), false);
  });
});

function mapReplacer(_k: string, v: unknown): unknown {
  return v instanceof Map ? [...v.entries()] : v;
}

describe('tiers and actions', () => {
  test('Deny in an earlier tier beats Allow in a later one; order within tier', () => {
    const c = setup();
    c.apply({ kind: 'Tier', key: 'sec', value: { name: 'sec', order: 10 } });
    c.apply({
      kind: 'Policy',
      key: 'allow',
      value: gnp('allow', { tier: 'default', order: 1, selector: 'all()', ingress: [{ action: 'Allow' }] }),
    });
    c.apply({
      kind: 'Policy',
      key: 'deny',
      value: gnp('deny', {
        tier: 'sec',
        order: 500,
        selector: 'app == "db"',
        ingress: [{ action: 'Deny', source: { selector: 'app == "web"' } }, { action: 'Pass' }],
      }),
    });
    const d = ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2'));
    assert.deepEqual([d.allowed, d.tier, d.policy, d.ruleIndex], [false, 'sec', 'deny', 0]);
    // From a non-web source the sec tier passes and the default tier allows.
    const ok = ingressOf(c, 'x/b', tcp80('10.0.0.2', '10.0.0.2'));
    assert.deepEqual([ok.allowed, ok.tier, ok.policy], [true, 'default', 'allow']);
  });

  test('a tier whose policies do not decide ends with its defaultAction', () => {
    const c = setup();
    c.apply({ kind: 'Tier', key: 't', value: { name: 't', order: 1 } });
    c.apply({
      kind: 'Policy',
      key: 'p',
      value: gnp('p', { tier: 't', selector: 'all()', ingress: [{ action: 'Allow', protocol: 'UDP' }] }),
    });
    assert.equal(ingressOf(c, 'x/a', tcp80('10.0.0.2', '10.0.0.1')).by, 'tier-default');
    c.apply({ kind: 'Tier', key: 't', value: { name: 't', order: 1, defaultAction: 'Pass' } });
    const d = ingressOf(c, 'x/a', tcp80('10.0.0.2', '10.0.0.1'));
    assert.deepEqual([d.allowed, d.by], [true, 'profile-rule']);
  });

  test('Log continues to the next rule; Pass skips the rest of the tier', () => {
    const c = setup();
    c.apply({
      kind: 'Policy',
      key: 'p1',
      value: gnp('p1', {
        order: 1,
        selector: 'all()',
        ingress: [{ action: 'Log' }, { action: 'Pass', source: { nets: ['10.0.0.2/32'] } }],
      }),
    });
    c.apply({
      kind: 'Policy',
      key: 'p2',
      value: gnp('p2', { order: 2, selector: 'all()', ingress: [{ action: 'Deny' }] }),
    });
    const passed = ingressOf(c, 'x/a', tcp80('10.0.0.2', '10.0.0.1'));
    assert.equal(passed.allowed, true); // passed the default tier → kns profile allows
    assert.match(passed.trace.join('\n'), /Log, continue/);
    assert.equal(ingressOf(c, 'x/a', tcp80('10.0.1.3', '10.0.0.1')).policy, 'p2');
  });
});

describe('match criteria', () => {
  const allowOnly = (c: PolicyCalculator, rule: RuleSpec) =>
    c.apply({ kind: 'Policy', key: 'p', value: gnp('p', { selector: 'app == "db"', ingress: [rule] }) });

  test('ICMP type and code', () => {
    const c = setup();
    allowOnly(c, { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } });
    const icmp = (type: number, code: number): Packet => ({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 1,
      icmpType: type,
      icmpCode: code,
    });
    assert.equal(ingressOf(c, 'x/b', icmp(8, 0)).allowed, true);
    assert.equal(ingressOf(c, 'x/b', icmp(8, 1)).allowed, false);
    assert.equal(ingressOf(c, 'x/b', icmp(0, 0)).allowed, false);
    allowOnly(c, { action: 'Allow', protocol: 'ICMP', notICMP: { type: 8 } });
    assert.equal(ingressOf(c, 'x/b', icmp(8, 0)).allowed, false);
    assert.equal(ingressOf(c, 'x/b', icmp(0, 0)).allowed, true);
  });

  test('notNets', () => {
    const c = setup();
    allowOnly(c, { action: 'Allow', source: { nets: ['10.0.0.0/16'], notNets: ['10.0.1.0/24'] } });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2')).allowed, true);
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.1.3', '10.0.0.2')).allowed, false);
  });

  test('GlobalNetworkSet as a source, via selector and namespaceSelector global()', () => {
    const c = setup();
    c.apply({
      kind: 'NetworkSet',
      key: 'ext',
      value: { name: 'ext', nets: ['203.0.113.0/24'], labels: { role: 'partner' } },
    });
    c.apply({
      kind: 'Policy',
      key: 'x/p',
      value: {
        kind: 'NetworkPolicy',
        name: 'p',
        namespace: 'x',
        spec: {
          selector: 'app == "db"',
          ingress: [{ action: 'Allow', source: { selector: 'role == "partner"', namespaceSelector: 'global()' } }],
        },
      },
    });
    assert.equal(ingressOf(c, 'x/b', tcp80('203.0.113.9', '10.0.0.2')).allowed, true);
    assert.equal(ingressOf(c, 'x/b', tcp80('198.51.100.1', '10.0.0.2')).allowed, false);
    // Without namespaceSelector a namespaced policy's selector stays in its namespace: no match.
    c.apply({
      kind: 'Policy',
      key: 'x/p',
      value: {
        kind: 'NetworkPolicy',
        name: 'p',
        namespace: 'x',
        spec: { selector: 'app == "db"', ingress: [{ action: 'Allow', source: { selector: 'role == "partner"' } }] },
      },
    });
    assert.equal(ingressOf(c, 'x/b', tcp80('203.0.113.9', '10.0.0.2')).allowed, false);
  });

  test('serviceAccounts by name and by selector', () => {
    const c = setup();
    c.apply({
      kind: 'ServiceAccount',
      key: 'x/robot',
      value: { name: 'robot', namespace: 'x', labels: { tier: 'gold' } },
    });
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/a',
      value: wep('x', 'a', '10.0.0.1', { app: 'web' }, { serviceAccountName: 'robot' }),
    });
    allowOnly(c, { action: 'Allow', source: { serviceAccounts: { names: ['robot'] } } });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2')).allowed, true);
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.1.3', '10.0.0.2')).allowed, false);
    allowOnly(c, { action: 'Allow', source: { serviceAccounts: { selector: 'tier == "gold"' } } });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2')).allowed, true);
    allowOnly(c, { action: 'Allow', source: { serviceAccounts: { selector: 'tier == "silver"' } } });
    assert.equal(ingressOf(c, 'x/b', tcp80('10.0.0.1', '10.0.0.2')).allowed, false);
  });

  test('named ports resolve per endpoint and follow port changes', () => {
    const c = setup();
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/b',
      value: wep('x', 'b', '10.0.0.2', { app: 'db' }, { ports: [{ name: 'sql', protocol: 'TCP', port: 5432 }] }),
    });
    allowOnly(c, { action: 'Allow', protocol: 'TCP', destination: { ports: ['sql'] } });
    const pkt = (port: number): Packet => ({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 6,
      srcPort: 1,
      dstPort: port,
    });
    assert.equal(ingressOf(c, 'x/b', pkt(5432)).allowed, true);
    assert.equal(ingressOf(c, 'x/b', pkt(80)).allowed, false);
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/b',
      value: wep('x', 'b', '10.0.0.2', { app: 'db' }, { ports: [{ name: 'sql', protocol: 'TCP', port: 3306 }] }),
    });
    assert.equal(ingressOf(c, 'x/b', pkt(5432)).allowed, false);
    assert.equal(ingressOf(c, 'x/b', pkt(3306)).allowed, true);
  });

  test('HostEndpoint-only options are rejected clearly', () => {
    const c = setup();
    assert.throws(
      () => c.apply({ kind: 'Policy', key: 'h', value: gnp('h', { selector: 'all()', preDNAT: true }) }),
      /preDNAT/,
    );
  });
});

describe('Kubernetes NetworkPolicy conversion', () => {
  test('name, tier, order, selectors, ipBlock except, endPort, policyTypes defaulting', () => {
    const p = convertK8sNetworkPolicy({
      name: 'np',
      namespace: 'x',
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [
          {
            from: [
              { podSelector: {}, namespaceSelector: { matchLabels: { team: 'blue' } } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
            ],
            ports: [{ port: 80, endPort: 90 }],
          },
        ],
        egress: [{}],
      },
    });
    assert.equal(p.name, 'knp.default.np');
    assert.deepEqual([p.spec.tier, p.spec.order, p.spec.types], ['default', 1000, ['Ingress', 'Egress']]);
    assert.equal(p.spec.selector, 'app == "db" && projectcalico.org/orchestrator == "k8s"');
    assert.equal(p.spec.ingress?.length, 2);
    assert.deepEqual(p.spec.ingress?.[0], {
      action: 'Allow',
      protocol: 'TCP',
      source: { selector: 'projectcalico.org/orchestrator == "k8s"', namespaceSelector: 'team == "blue"' },
      destination: { ports: ['80:90'] },
    });
    assert.deepEqual(p.spec.ingress?.[1]?.source, { nets: ['10.0.0.0/8'], notNets: ['10.1.0.0/16'] });
    assert.deepEqual(p.spec.egress, [{ action: 'Allow', destination: {} }]);
  });

  test('empty ingress list isolates; missing egress is not Egress type', () => {
    const c = setup();
    c.apply({
      kind: 'K8sNetworkPolicy',
      key: 'x/deny',
      value: { name: 'deny', namespace: 'x', spec: { podSelector: {}, ingress: [] } },
    });
    const m = c.resolve();
    const a = m.endpoints.find((e) => e.id === 'x/a');
    const cc = m.endpoints.find((e) => e.id === 'y/c');
    assert.ok(a && cc);
    assert.equal(explainFlow(m, cc, a, { protocol: 6, dstPort: 80 })?.allowed, false);
    assert.equal(explainFlow(m, a, cc, { protocol: 6, dstPort: 80 })?.allowed, true);
  });
});

describe('incremental resolve', () => {
  test('after every update, resolve() equals a fresh calculator fed the same updates', () => {
    // Seeded LCG: reproducible sequences of endpoint, namespace, tier and policy churn on two nodes.
    let seed = 20261127;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const history: PolicyUpdate[] = [];
    const inc = new PolicyCalculator({ nodeName: 'n1' });
    const apps = ['web', 'db', 'api'];
    for (let step = 0; step < 250; step++) {
      const r = rnd(10);
      let u: PolicyUpdate;
      if (r < 4) {
        const i = rnd(12);
        u = {
          kind: 'WorkloadEndpoint',
          key: `x/p${i}`,
          value: wep('x', `p${i}`, `10.0.0.${i + 1}`, { app: apps[rnd(3)] as string }, { node: rnd(2) ? 'n1' : 'n2' }),
        };
      } else if (r === 4) {
        u = { kind: 'WorkloadEndpoint', key: `x/p${rnd(12)}`, value: null };
      } else if (r === 5) {
        u = { kind: 'Namespace', key: 'x', value: { name: 'x', labels: { team: rnd(2) ? 'red' : 'blue' } } };
      } else if (r === 6) {
        u = {
          kind: 'Tier',
          key: 't1',
          value: { name: 't1', order: rnd(3) * 500_000, defaultAction: rnd(2) ? 'Deny' : 'Pass' },
        };
      } else if (r === 7) {
        u = { kind: 'Policy', key: `q${rnd(6)}`, value: null };
      } else {
        const q = rnd(6);
        u = {
          kind: 'Policy',
          key: `q${q}`,
          value: gnp(`q${q}`, {
            ...(rnd(2) ? { tier: 't1' } : {}),
            order: rnd(4),
            selector: rnd(3) ? `app == "${apps[rnd(3)]}"` : 'all()',
            ...(rnd(2) ? { namespaceSelector: `team == "red"` } : {}),
            ingress: [{ action: 'Allow', source: { selector: `app == "${apps[rnd(3)]}"` } }],
            ...(rnd(2) ? { egress: [{ action: 'Deny' }] } : {}),
          }),
        };
      }
      if (u.kind === 'Policy' && u.value?.spec.tier === 't1' && !history.some((h) => h.kind === 'Tier')) {
        history.push({ kind: 'Tier', key: 't1', value: { name: 't1', order: 100 } });
        inc.apply(history[history.length - 1] as PolicyUpdate);
      }
      history.push(u);
      inc.apply(u);
      if (rnd(3) === 0 && step !== 249) continue; // sometimes several updates per resolve
      const fresh = new PolicyCalculator({ nodeName: 'n1' });
      fresh.applyUpdates(history);
      assert.deepEqual(inc.resolve(), fresh.resolve(), `step ${step}`);
    }
  });
});

describe('deltas', () => {
  test('a remote pod event refreshes only the IP sets the last resolves handed out', () => {
    const c = new PolicyCalculator({ nodeName: 'n1' });
    const allow = (from: string) => ({
      action: 'Allow' as const,
      protocol: 'TCP' as const,
      source: { selector: from },
    });
    c.apply({
      kind: 'Policy',
      key: 'used',
      value: gnp('used', { selector: 'all()', ingress: [allow('app == "web"')] }),
    });
    c.apply({
      kind: 'Policy',
      key: 'unused',
      value: gnp('unused', { selector: 'app == "nowhere"', ingress: [allow('app == "db"')] }),
    });
    c.resolve();
    const remote = (name: string, ip: string, app: string) =>
      c.apply({ kind: 'WorkloadEndpoint', key: `x/${name}`, value: wep('x', name, ip, { app }, { node: 'n2' }) });
    remote('r1', '10.0.9.1', 'web');
    assert.deepEqual(
      [...c.resolveDelta()!.ipSets.keys()],
      [],
      'no local endpoint: no set is rendered, none is rebuilt',
    );
    c.apply({ kind: 'WorkloadEndpoint', key: 'x/l', value: wep('x', 'l', '10.0.0.1', { app: 'api' }) });
    const first = c.resolveDelta()!;
    assert.deepEqual([...first.model.ipSets.keys()], ['app == "web"'], 'the new local endpoint brings its rule set');
    remote('r2', '10.0.9.2', 'web');
    remote('r3', '10.0.9.3', 'db');
    const d = c.resolveDelta()!;
    // The applies-to selector all() and the unused policy's rule changed membership too: not rebuilt.
    assert.deepEqual([...d.ipSets.keys()], ['app == "web"']);
    assert.deepEqual(d.ipSets.get('app == "web"')!.v4, ['10.0.9.1', '10.0.9.2']);
  });

  test('a set left unused keeps collecting member changes and is right when used again', () => {
    const c = new PolicyCalculator({ nodeName: 'n1' });
    c.apply({
      kind: 'Policy',
      key: 'p',
      value: gnp('p', { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: 'app == "web"' } }] }),
    });
    const put = (name: string, ip: string, app: string, node = 'n2') =>
      c.apply({ kind: 'WorkloadEndpoint', key: `x/${name}`, value: wep('x', name, ip, { app }, { node }) });
    put('r0', '10.0.9.9', 'web');
    put('l', '10.0.0.1', 'api', 'n1');
    assert.deepEqual(c.resolve().ipSets.get('app == "web"')?.v4, ['10.0.9.9']);
    c.apply({ kind: 'WorkloadEndpoint', key: 'x/l', value: null });
    c.resolve();
    // No local endpoint: the set is not handed out while these arrive over several deltas.
    put('r1', '10.0.9.1', 'web');
    c.resolveDelta();
    put('r2', '10.0.9.2', 'web');
    put('r0', '10.0.9.9', 'db');
    c.resolveDelta();
    put('l2', '10.0.0.2', 'api', 'n1');
    assert.deepEqual(c.resolveDelta()!.model.ipSets.get('app == "web"')?.v4, ['10.0.9.1', '10.0.9.2']);
  });
});

test('cached apply selectors live as long as a policy uses them, with no size limit', () => {
  const c = new PolicyCalculator({ nodeName: 'n1' });
  const cache = () => (c as unknown as { applySelectors: Map<string, unknown> }).applySelectors;
  const put = (i: number, sel: string) =>
    c.apply({ kind: 'Policy', key: `p${i}`, value: gnp(`p${i}`, { selector: sel, ingress: [{ action: 'Allow' }] }) });
  for (let i = 0; i < 10; i++) put(i, `app == "svc${i % 3}"`);
  assert.equal(cache().size, 3, 'shared by the policies that repeat their inputs');
  put(0, 'app == "other"'); // p0 moves to a new selector; svc0 is still used by p3, p6, p9
  assert.equal(cache().size, 4);
  for (const i of [3, 6, 9]) c.apply({ kind: 'Policy', key: `p${i}`, value: null });
  assert.equal(cache().size, 3, 'svc0 went with its last user');
  for (let i = 0; i < 10; i++) c.apply({ kind: 'Policy', key: `p${i}`, value: null });
  assert.equal(cache().size, 0);
});
