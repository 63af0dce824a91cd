import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { lookupKind, type ClusterInformationSpec } from '../api/index.js';
import { MemoryBackend, ResourceStore } from '../datastore/index.js';
import { IpamClient } from '../ipam/index.js';
import { NodeRegistrar } from './node-registrar.js';

const log = pino({ level: 'silent' });
const info = lookupKind('ClusterInformation')!;

function registrars(names: string[]) {
  const backend = new MemoryBackend();
  const store = new ResourceStore(backend);
  const ipam = new IpamClient(backend, {});
  return { backend, store, regs: names.map((nodeName) => new NodeRegistrar({ nodeName, store, ipam, log })) };
}

async function clusterInfo(store: ResourceStore) {
  const r = await store.get(info, 'default');
  return { spec: r?.spec as ClusterInformationSpec | undefined, rev: r?.metadata.resourceVersion };
}

test('concurrent first agents create ClusterInformation "default" once: one GUID, every type, datastoreReady', async () => {
  const { store, regs } = registrars(['n1', 'n2', 'n3', 'n4', 'n5']);
  await Promise.all(regs.map((r, i) => r.stampClusterInformation(i % 2 ? ['tessera', 'bgp'] : ['tessera'], 'v1.2.3')));
  const { spec } = await clusterInfo(store);
  assert.match(spec?.clusterGUID ?? '', /^[0-9a-f]{32}$/);
  assert.equal(spec?.clusterType, 'tessera,bgp');
  assert.equal(spec?.calicoVersion, 'v1.2.3');
  assert.equal(spec?.datastoreReady, true);
});

test('an existing GUID and an operator datastoreReady=false are kept; only a changed version is written', async () => {
  const { store, regs } = registrars(['n1']);
  const reg = regs[0]!;
  await store.create({
    apiVersion: info.apiVersion,
    kind: 'ClusterInformation',
    metadata: { name: 'default' },
    spec: { clusterGUID: 'f'.repeat(32), clusterType: 'k8s,bgp', calicoVersion: 'v3.26.0', datastoreReady: false },
  });
  await reg.stampClusterInformation(['tessera', 'bgp'], 'v1.2.3');
  const first = await clusterInfo(store);
  assert.equal(first.spec?.clusterGUID, 'f'.repeat(32));
  assert.equal(first.spec?.clusterType, 'k8s,bgp,tessera');
  assert.equal(first.spec?.calicoVersion, 'v1.2.3');
  assert.equal(first.spec?.datastoreReady, false);
  // A restart of the same version changes nothing: no write, the revision stays.
  await reg.stampClusterInformation(['tessera', 'bgp'], 'v1.2.3');
  assert.equal((await clusterInfo(store)).rev, first.rev);
  // An upgrade stamps the new version and keeps the rest.
  await reg.stampClusterInformation(['tessera'], 'v1.3.0');
  const up = await clusterInfo(store);
  assert.notEqual(up.rev, first.rev);
  assert.deepEqual({ ...up.spec, calicoVersion: 'v1.2.3' }, first.spec);
});

test('without a version argument it stamps the package version', async () => {
  const { store, regs } = registrars(['n1']);
  await regs[0]!.stampClusterInformation(['tessera']);
  assert.match((await clusterInfo(store)).spec?.calicoVersion ?? '', /^v\d+\.\d+\.\d+/);
});
