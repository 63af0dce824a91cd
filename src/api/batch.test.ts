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
    const natOn = { ...pool('p', '10.0.0.0/16'), spec: { cidr: '10.0.0.0/16', natOutgoing: true, blockSize: 26 } };
    assert.deepEqual(
      validateBatch([natOn], {
        existing: [{ ...pool('p', '10.0.0.0/16'), spec: { cidr: '10.0.0.0/16', blockSize: 26 } }],
      }),
      [],
    );
  });

  test("a pool's cidr and blockSize cannot change once it exists (Calico: set only at creation)", () => {
    const old: Resource = { ...pool('p', '10.0.0.0/16'), spec: { cidr: '10.0.0.0/16', blockSize: 24 } };
    const widened = validateBatch([{ ...old, spec: { cidr: '10.0.0.0/8', blockSize: 24 } }], { existing: [old] });
    assert.deepEqual(
      widened.map((p) => p.path),
      ['[doc 1] IPPool "p": spec.cidr'],
    );
    assert.match(widened[0]!.message, /cannot change from "10\.0\.0\.0\/16" to "10\.0\.0\.0\/8".*spec\.disabled: true/);
    const reblocked = validateBatch([{ ...old, spec: { cidr: '10.0.0.0/16', blockSize: 26 } }], { existing: [old] });
    assert.deepEqual(
      reblocked.map((p) => p.path),
      ['[doc 1] IPPool "p": spec.blockSize'],
    );
    assert.match(reblocked[0]!.message, /from 24 to 26.*blockSize: 24 to keep it/);
    // Another pool with a different CIDR is not "a change"; nor is a new pool.
    assert.deepEqual(
      validateBatch([{ ...pool('q', '10.1.0.0/16'), spec: { cidr: '10.1.0.0/16', blockSize: 26 } }], {
        existing: [old],
      }),
      [],
    );
  });

  test('disjoint pools and different families never overlap', () => {
    const rs = [pool('a', '10.0.0.0/16'), pool('b', '10.1.0.0/16'), pool('c', 'fd00::/48')];
    assert.deepEqual(validateBatch(rs, { existing: [pool('d', '10.2.0.0/16'), pool('e', 'fd01::/48')] }), []);
  });

  test('each overlapping pair is reported once, at the later document', () => {
    const out = validateBatch([pool('a', '10.0.0.0/8'), pool('b', '10.1.0.0/16'), pool('c', '10.2.0.0/16')], {
      existing: [],
    });
    assert.deepEqual(
      out.map((p) => p.path),
      ['[doc 2] IPPool "b": spec.cidr', '[doc 3] IPPool "c": spec.cidr'],
    );
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
    assert.deepEqual(
      dup.map((p) => p.path),
      ['[doc 2] NetworkPolicy "a/x": metadata.name'],
    );
  });

  test('tiers: built in, in the batch, or existing', () => {
    assert.deepEqual(
      validateBatch([gnp('a'), gnp('default.b', 'default'), gnp('kube-admin.c', 'kube-admin')], { existing: [] }),
      [],
    );
    assert.deepEqual(validateBatch([gnp('t.a', 't'), tier('t')], { existing: [] }), [], 'tier later in the same file');
    assert.deepEqual(validateBatch([gnp('t.a', 't')], { existing: [tier('t')] }), []);
    const out = validateBatch([gnp('t.a', 't')], { existing: [tier('u')] });
    assert.deepEqual(
      out.map((p) => p.path),
      ['[doc 1] GlobalNetworkPolicy "t.a": spec.tier'],
    );
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
