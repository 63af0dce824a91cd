import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { BUILTIN_TIERS, isBuiltinTier, validateBatch, type Resource } from './index.js';

const pool = (name: string, cidr: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr },
});
const gnp = (name: string, tier?: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: tier === undefined ? {} : { tier },
});
const tier = (name: string): Resource => ({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name } });

describe('validateBatch', () => {
  test('updating a pool in place is not an overlap with its old self', () => {
    assert.deepEqual(validateBatch([pool('p', '10.0.0.0/16')], { existing: [pool('p', '10.0.0.0/16')] }), []);
    assert.deepEqual(validateBatch([pool('p', '10.0.0.0/8')], { existing: [pool('p', '10.0.0.0/16')] }), []);
  });

  test('disjoint pools and different families never overlap', () => {
    const rs = [pool('a', '10.0.0.0/16'), pool('b', '10.1.0.0/16'), pool('c', 'fd00::/48')];
    assert.deepEqual(validateBatch(rs, { existing: [pool('d', '10.2.0.0/16'), pool('e', 'fd01::/48')] }), []);
  });

  test('each overlapping pair is reported once, at the later document', () => {
    const out = validateBatch([pool('a', '10.0.0.0/8'), pool('b', '10.1.0.0/16'), pool('c', '10.2.0.0/16')], {
      existing: [],
    });
    assert.deepEqual(out.map((p) => p.path), ['[doc 2] IPPool "b": spec.cidr', '[doc 3] IPPool "c": spec.cidr']);
  });

  test('the same name in different namespaces or kinds is not a duplicate', () => {
    const np = (ns: string): Resource => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { name: 'x', namespace: ns },
      spec: {},
    });
    assert.deepEqual(validateBatch([np('a'), np('b'), gnp('x')], { existing: [] }), []);
    // A namespaced document without a namespace is in "default", so it differs from "a".
    assert.deepEqual(validateBatch([np('a'), { ...np('a'), metadata: { name: 'x' } }], { existing: [] }), []);
    const dup = validateBatch([np('a'), np('a')], { existing: [] });
    assert.deepEqual(dup.map((p) => p.path), ['[doc 2] NetworkPolicy "a/x": metadata.name']);
  });

  test('tiers: built in, in the batch, or existing', () => {
    assert.deepEqual(validateBatch([gnp('a'), gnp('default.b', 'default'), gnp('kube-admin.c', 'kube-admin')], { existing: [] }), []);
    assert.deepEqual(validateBatch([gnp('t.a', 't'), tier('t')], { existing: [] }), [], 'tier later in the same file');
    assert.deepEqual(validateBatch([gnp('t.a', 't')], { existing: [tier('t')] }), []);
    const out = validateBatch([gnp('t.a', 't')], { existing: [tier('u')] });
    assert.deepEqual(out.map((p) => p.path), ['[doc 1] GlobalNetworkPolicy "t.a": spec.tier']);
    assert.match(out[0]!.message, /tier "t" does not exist/);
  });
});

describe('built-in tiers', () => {
  test('orders and default actions as Calico creates them', () => {
    assert.deepEqual(
      BUILTIN_TIERS.map((t) => [t.metadata.name, t.spec?.order, t.spec?.defaultAction]),
      [
        ['kube-admin', 1000, 'Pass'],
        ['default', 1_000_000, 'Deny'],
        ['kube-baseline', 10_000_000, 'Pass'],
      ],
    );
    assert.ok(isBuiltinTier('default') && isBuiltinTier('kube-baseline'));
    assert.ok(!isBuiltinTier('security'));
  });
});
