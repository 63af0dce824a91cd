/** validateResource: accepted forms (so checks do not over-reject) and envelope handling. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { validateResource, type Resource } from './index.js';

const C = 'projectcalico.org/v3';
const paths = (r: unknown) => validateResource(r).map((p) => p.path);
const gnp = (spec: Record<string, unknown>): Resource => ({
  apiVersion: C,
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'p' },
  spec,
});

describe('rules accept what Calico accepts', () => {
  const ok = (rule: Record<string, unknown>) =>
    assert.deepEqual(validateResource(gnp({ ingress: [rule] })), [], JSON.stringify(rule));

  test('protocols by name (exact case) and number; ports with TCP, UDP and SCTP', () => {
    for (const protocol of ['TCP', 'UDP', 'SCTP', 6, 17, 132, '6']) {
      ok({ action: 'Allow', protocol, destination: { ports: [80, '1000:2000', 'http-alt'] } });
    }
    ok({ action: 'Deny', notProtocol: 'ICMPv6' });
    ok({ action: 'Log', protocol: 47 });
    ok({ action: 'Allow', protocol: 'UDPLite' });
  });

  test('ICMP type/code with the matching ipVersion; numeric ICMP protocols', () => {
    ok({ action: 'Allow', protocol: 'ICMP', ipVersion: 4, icmp: { type: 8, code: 0 } });
    ok({ action: 'Allow', protocol: 58, ipVersion: 6, notICMP: { type: 128 } });
  });

  test('nets: masked CIDRs of one family, agreeing with ipVersion; global() alone in namespaceSelector', () => {
    ok({
      action: 'Allow',
      ipVersion: 6,
      source: { nets: ['2001:db8::1/128', 'fd00::/64'] },
      destination: { notNets: ['fd00::/8'] },
    });
    ok({ action: 'Pass', source: { nets: ['10.0.0.0/8'] }, destination: { nets: ['192.168.0.0/16'] } });
    ok({ action: 'Allow', source: { namespaceSelector: 'global()', selector: "role == 'db'" } });
  });

  test('services where Calico allows them', () => {
    ok({
      action: 'Allow',
      source: { services: { name: 'kube-dns', namespace: 'kube-system' }, ports: [53] },
      protocol: 'UDP',
    });
    assert.deepEqual(
      validateResource(
        gnp({ egress: [{ action: 'Allow', destination: { services: { name: 'api', namespace: 'default' } } }] }),
      ),
      [],
    );
  });

  test('null is "unset" everywhere, as in Kubernetes decoding', () => {
    ok({ action: 'Allow', protocol: null, source: null, destination: { ports: null } });
  });

  test('HTTP matches only on ingress Allow rules', () => {
    ok({ action: 'Allow', http: { methods: ['GET'], paths: [{ exact: '/a' }, { prefix: '/b' }] } });
    const bad = gnp({ egress: [{ action: 'Deny', http: { paths: [{ exact: '/a', prefix: '/b' }] } }] });
    assert.deepEqual(paths(bad), ['spec.egress[0].http', 'spec.egress[0].http', 'spec.egress[0].http.paths[0]']);
  });
});

describe('envelope and strictness', () => {
  test('not an object, missing kind, missing apiVersion', () => {
    assert.deepEqual(paths('hello'), ['']);
    assert.deepEqual(paths({ apiVersion: C, metadata: { name: 'a' } }), ['kind']);
    assert.deepEqual(paths({ kind: 'IPPool', metadata: { name: 'a' } }), ['apiVersion']);
  });

  test('metadata required; status rejected where the kind has none', () => {
    assert.deepEqual(paths({ apiVersion: C, kind: 'Tier' }), ['metadata']);
    assert.deepEqual(paths({ apiVersion: C, kind: 'Tier', metadata: { name: 't' }, status: {} }), ['status']);
    assert.deepEqual(
      paths({ apiVersion: C, kind: 'Tier', metadata: { name: 'a.b' } }),
      ['metadata.name'],
      'tier names have no dots',
    );
  });

  test('FelixConfiguration: known settings of every type pass, unknown ones are rejected', () => {
    const felix = (spec: Record<string, unknown>, name = 'default') => ({
      apiVersion: C,
      kind: 'FelixConfiguration',
      metadata: { name },
      spec,
    });
    assert.deepEqual(
      paths(felix({ bpfEnabled: true, bpfLogLevel: 'Off', vxlanVNI: 4096, wireguardEnabled: false }, 'node.n1')),
      [],
    );
    assert.deepEqual(paths(felix({ bpfEnabeld: true })), ['spec.bpfEnabeld']);
    assert.deepEqual(paths(felix({}, 'other')), ['metadata.name']);
  });

  test('Pods carry fields Tessera does not model; ServiceAccounts have top-level fields', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n' },
      spec: { restartPolicy: 'Always', containers: [{ name: 'c', command: ['sh'], ports: [{ containerPort: 80 }] }] },
    };
    assert.deepEqual(paths(pod), []);
    const badPort = structuredClone(pod);
    (badPort.spec.containers[0]!.ports[0] as Record<string, unknown>).hostPrt = 1;
    assert.deepEqual(paths(badPort), ['spec.containers[0].ports[0].hostPrt']);
    assert.deepEqual(
      paths({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 's' }, secrets: [{ name: 'x' }], spec: {} }),
      ['spec'],
    );
  });

  test('label and annotation keys with dots and slashes are quoted in paths', () => {
    const r = {
      apiVersion: C,
      kind: 'GlobalNetworkSet',
      metadata: { name: 'g', labels: { 'example.com/x': '-bad-' } },
    };
    assert.deepEqual(paths(r), ['metadata.labels["example.com/x"]']);
  });

  test('a Profile holds at most 1024 rules per direction (its CRD MaxItems)', () => {
    const rules = (n: number) => Array.from({ length: n }, () => ({ action: 'Allow' }));
    const profile = (n: number) => ({
      apiVersion: C,
      kind: 'Profile',
      metadata: { name: 'p' },
      spec: { ingress: rules(n), egress: rules(1) },
    });
    assert.deepEqual(paths(profile(1024)), []);
    assert.deepEqual(paths(profile(1025)), ['spec.ingress']);
  });

  test('one problem per mistake: a wrong type is not also a semantic error', () => {
    const r = { apiVersion: C, kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: 10, ipipMode: true } };
    assert.deepEqual(paths(r), ['spec.cidr', 'spec.ipipMode']);
  });
});

describe('kind guards', () => {
  test('match apiVersion and kind, and narrow the type', async () => {
    const { isCalicoKind, isK8sKind } = await import('./index.js');
    const pool: Resource = { apiVersion: C, kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/16' } };
    assert.ok(isCalicoKind(pool, 'IPPool'));
    if (isCalicoKind(pool, 'IPPool')) assert.equal(pool.spec?.cidr, '10.0.0.0/16');
    assert.ok(!isCalicoKind(pool, 'Tier'));
    const knp: Resource = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n' } };
    assert.ok(isK8sKind(knp, 'NetworkPolicy'));
    assert.ok(!isCalicoKind(knp, 'NetworkPolicy'));
    assert.ok(!isK8sKind({ ...knp, apiVersion: 'v1' }, 'NetworkPolicy'));
  });
});
