import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextClusterInformation } from './cluster-info.js';

const inputs = { version: 'v0.1.0', newGuid: 'a'.repeat(32), types: ['tessera', 'bgp'] };

test('the first agent creates it: new GUID, its types, its version, datastoreReady', () => {
  assert.deepEqual(nextClusterInformation(undefined, inputs), {
    clusterGUID: 'a'.repeat(32),
    clusterType: 'tessera,bgp',
    calicoVersion: 'v0.1.0',
    datastoreReady: true,
    variant: 'Tessera',
  });
});

test('a later agent keeps the GUID and the operator datastoreReady=false, adds its types, stamps its version', () => {
  const cur = { clusterGUID: 'b'.repeat(32), clusterType: 'k8s,bgp', calicoVersion: 'v0.0.9', datastoreReady: false };
  assert.deepEqual(nextClusterInformation(cur, inputs), {
    clusterGUID: 'b'.repeat(32),
    clusterType: 'k8s,bgp,tessera',
    calicoVersion: 'v0.1.0',
    datastoreReady: false,
    variant: 'Tessera',
  });
});

test('nothing to write when it already says all of it', () => {
  const cur = nextClusterInformation(undefined, inputs)!;
  assert.equal(nextClusterInformation(cur, inputs), undefined);
  assert.equal(nextClusterInformation(cur, { ...inputs, types: ['bgp'] }), undefined);
});
