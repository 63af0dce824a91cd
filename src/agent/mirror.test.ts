import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DatastoreMirror } from './mirror.js';
import { PolicyDriver } from './policy-driver.js';
import { ipamKeys, resourceKey } from '../datastore/index.js';
import { lookupKind } from '../api/index.js';

const GNP = lookupKind('globalnetworkpolicy')!;
const POOL = lookupKind('ippool')!;

test('undecodable items are skipped and reported, never thrown; a later good write replaces them', () => {
  const bad: string[] = [];
  const m = new DatastoreMirror((key) => bad.push(key));
  const poolKey = resourceKey(POOL, 'p');
  assert.doesNotThrow(() => m.apply({ key: poolKey, value: '{not json' }));
  assert.doesNotThrow(() => m.apply({ key: ipamKeys.block('10.0.0.0/26'), value: '{"nocidr":1}' }));
  assert.doesNotThrow(() => m.apply({ key: resourceKey(POOL, 'q'), value: '"a string"' }));
  assert.deepEqual(bad.length, 3);
  assert.equal(m.of('IPPool').size, 0);
  assert.equal(m.blocks.size, 0);
  m.apply({
    key: poolKey,
    value: JSON.stringify({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'p' },
      spec: { cidr: '10.0.0.0/16' },
    }),
  });
  assert.equal(m.of('IPPool').size, 1);
});

test('a deletion reports what was deleted', () => {
  const m = new DatastoreMirror(() => undefined);
  const key = resourceKey(POOL, 'p');
  m.apply({
    key,
    value: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: {} }),
  });
  const change = m.apply({ key, value: undefined });
  assert.equal(change?.type, 'resource');
  assert.equal(change?.type === 'resource' ? change.previous?.metadata.name : undefined, 'p');
});

test('the policy driver skips a policy the engine rejects and reports it, without throwing', () => {
  const m = new DatastoreMirror(() => undefined);
  const driver = new PolicyDriver({ nodeName: 'n1', logger: pino({ level: 'silent' }) });
  const key = resourceKey(GNP, 'default.bad');
  const bad = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'default.bad' },
    spec: { selector: 'a ==', ingress: [{ action: 'Allow' }] },
  };
  const change = m.apply({ key, value: JSON.stringify(bad) });
  assert.ok(change);
  assert.doesNotThrow(() => driver.onChange(change, m));
  assert.equal(driver.problems().length, 1, 'the rejected policy is reported');
  assert.match(driver.problems()[0] ?? '', /default\.bad/);
  // A corrected version clears the problem.
  const good = { ...bad, spec: { selector: 'a == "b"', ingress: [{ action: 'Allow' }] } };
  driver.onChange(m.apply({ key, value: JSON.stringify(good) })!, m);
  assert.deepEqual(driver.problems(), []);
});
