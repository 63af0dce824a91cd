/**
 * Every documented example parses, validates clean (alone and as a batch), and defaults to its
 * golden JSON (testdata/examples/<file>.defaults.json). Regenerate goldens after a reviewed
 * change with UPDATE_GOLDEN=1; the spot checks below pin the documented defaults independently.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyDefaults, KINDS, parseManifests, validateBatch, validateResource, type Resource } from './index.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata', 'examples');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function load(file: string): Resource[] {
  return parseManifests(readFileSync(join(dir, file), 'utf8'), file);
}

describe('documented examples', () => {
  for (const file of files) {
    test(file, () => {
      const docs = load(file);
      assert.ok(docs.length > 0);
      for (const r of docs) {
        assert.deepEqual(validateResource(r), [], `${file}: ${r.kind} ${r.metadata.name} (as written)`);
      }
      const defaulted = docs.map((r) => applyDefaults(r));
      for (const r of defaulted) {
        assert.deepEqual(validateResource(r), [], `${file}: ${r.kind} ${r.metadata.name} (defaulted)`);
        assert.deepEqual(applyDefaults(r), r, 'applyDefaults is idempotent');
      }
      assert.deepEqual(validateBatch(defaulted, { existing: [] }), []);
      const golden = join(dir, file.replace(/\.yaml$/, '.defaults.json'));
      const actual = `${JSON.stringify(defaulted, null, 2)}\n`;
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, actual);
      assert.equal(actual, readFileSync(golden, 'utf8'));
    });
  }

  test('every kind has an example', () => {
    const seen = new Set(files.flatMap((f) => load(f).map((r) => `${r.apiVersion}/${r.kind}`)));
    for (const k of KINDS) assert.ok(seen.has(`${k.apiVersion}/${k.kind}`), `no example for ${k.apiVersion} ${k.kind}`);
  });
});

describe('documented defaults', () => {
  const spec = (file: string, i = 0) => applyDefaults(load(file)[i]!).spec as Record<string, unknown>;

  test('IPPool', () => {
    assert.deepEqual(spec('ippool-minimal.yaml', 0), {
      cidr: '192.168.0.0/16',
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: false,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    });
    const v6 = spec('ippool-minimal.yaml', 1);
    assert.equal(v6.blockSize, 122);
    assert.equal(v6.vxlanMode, 'Always', 'set values are kept');
  });

  test('BGPConfiguration: global defaults only on "default"', () => {
    const global = spec('bgpconfig.yaml', 0);
    assert.equal(global.asNumber, 63400, 'set values are kept');
    const node = spec('bgpconfig.yaml', 1);
    assert.deepEqual(node, { listenPort: 179, logSeverityScreen: 'Info' });
    const bare = applyDefaults<Resource>({
      apiVersion: 'projectcalico.org/v3',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
    });
    assert.deepEqual(bare.spec, { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512 });
  });

  test('policy types inference, tier and namespace', () => {
    const np = applyDefaults(load('networkpolicy.yaml')[1]!);
    assert.equal(np.metadata.namespace, 'default');
    assert.deepEqual((np.spec as Record<string, unknown>).types, ['Egress']);
    assert.equal((np.spec as Record<string, unknown>).tier, 'default');
    assert.deepEqual(spec('globalnetworkpolicy.yaml', 1).types, ['Ingress']);
    const none = applyDefaults({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'x' },
      spec: {},
    });
    assert.deepEqual((none.spec as Record<string, unknown>).types, ['Ingress']);
    const both = applyDefaults({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'x' },
      spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
    });
    assert.deepEqual((both.spec as Record<string, unknown>).types, ['Ingress', 'Egress']);
  });

  test('Kubernetes NetworkPolicy policyTypes and port protocol', () => {
    const s = spec('k8s-networkpolicy.yaml', 1);
    assert.deepEqual(s.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual((s.egress as { ports: unknown[] }[])[0]!.ports[0], {
      port: 32000,
      endPort: 32768,
      protocol: 'TCP',
    });
    const ingressOnly = applyDefaults({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'x', namespace: 'a' },
      spec: { podSelector: {} },
    });
    assert.deepEqual((ingressOnly.spec as Record<string, unknown>).policyTypes, ['Ingress']);
  });

  test('Namespace name label, Tier default action, Pod port protocol', () => {
    const ns = applyDefaults(load('namespace.yaml')[0]!);
    assert.deepEqual(ns.metadata.labels, { team: 'payments', 'kubernetes.io/metadata.name': 'production' });
    assert.deepEqual(spec('tier.yaml'), { order: 200, defaultAction: 'Deny' });
    const pod = spec('pod.yaml') as { containers: { ports: { protocol?: string }[] }[] };
    assert.equal(pod.containers[0]!.ports[0]!.protocol, 'TCP');
  });

  test('applyDefaults does not mutate its input', () => {
    const r = load('ippool-minimal.yaml')[0]!;
    const before = JSON.stringify(r);
    applyDefaults(r);
    assert.equal(JSON.stringify(r), before);
  });
});
