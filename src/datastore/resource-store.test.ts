import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupKind } from '../api/index.js';
import type { Resource } from '../api/index.js';
import { ManualClock } from '../lib/clock.js';
import { isTesseraError } from '../lib/errors.js';
import { MemoryBackend } from './memory/memory-backend.js';
import { ResourceStore } from './resource-store.js';
import { resourceKey } from './keys.js';

const POOL = lookupKind('ippool')!;
const WEP = lookupKind('wep')!;

function setup() {
  const backend = new MemoryBackend();
  let n = 0;
  const clock = new ManualClock(Date.UTC(2024, 0, 2, 3, 4, 5));
  const store = new ResourceStore(backend, { clock, newUid: () => `uid-${++n}` });
  return { backend, store, clock };
}

const pool = (name: string, cidr: string, extra: Partial<Resource['metadata']> = {}): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name, ...extra },
  spec: { cidr },
});

const code = (c: string) => (err: unknown) => isTesseraError(err) && err.code === c;

test('create sets uid, creationTimestamp and resourceVersion; storage omits resourceVersion', async () => {
  const { backend, store } = setup();
  const created = await store.create(pool('p1', '10.0.0.0/16', { resourceVersion: '999', uid: 'caller' }));
  assert.equal(created.metadata.uid, 'uid-1');
  assert.equal(created.metadata.creationTimestamp, '2024-01-02T03:04:05.000Z');
  const kv = await backend.get(resourceKey(POOL, 'p1'));
  assert.equal(created.metadata.resourceVersion, String(kv!.revision));
  assert.equal((JSON.parse(kv!.value) as Resource).metadata.resourceVersion, undefined);
  assert.deepEqual(await store.get(POOL, 'p1'), created);
  await assert.rejects(store.create(pool('p1', '10.1.0.0/16')), code('already-exists'));
});

test('update is CAS on resourceVersion and keeps uid / creationTimestamp', async () => {
  const { store, clock } = setup();
  const v1 = await store.create(pool('p1', '10.0.0.0/16'));
  clock.advance(1000);
  const v2 = await store.update({ ...v1, spec: { cidr: '10.9.0.0/16' } });
  assert.ok(Number(v2.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
  assert.equal(v2.metadata.uid, v1.metadata.uid);
  await assert.rejects(store.update({ ...v1, spec: { cidr: '10.8.0.0/16' } }), code('conflict'));
  // Without resourceVersion: last writer wins, metadata carried over.
  const v3 = await store.update(pool('p1', '10.7.0.0/16'));
  assert.equal(v3.metadata.uid, v1.metadata.uid);
  assert.equal(v3.metadata.creationTimestamp, v1.metadata.creationTimestamp);
  await assert.rejects(store.update(pool('nope', '10.0.0.0/8')), code('not-found'));
  await assert.rejects(
    store.update({ ...v1, metadata: { ...v1.metadata, resourceVersion: 'abc' } }),
    code('validation'),
  );
});

test('apply creates then updates; delete is idempotent and CAS-able', async () => {
  const { store } = setup();
  const a = await store.apply(pool('p', '10.0.0.0/16'));
  const b = await store.apply(pool('p', '10.1.0.0/16'));
  assert.equal(b.metadata.uid, a.metadata.uid);
  assert.deepEqual(b.spec, { cidr: '10.1.0.0/16' });
  await assert.rejects(store.delete(POOL, 'p', undefined, a.metadata.resourceVersion), code('conflict'));
  const gone = await store.delete(POOL, 'p', undefined, b.metadata.resourceVersion);
  assert.deepEqual(gone?.spec, { cidr: '10.1.0.0/16' });
  assert.equal(await store.delete(POOL, 'p'), undefined);
  assert.equal(await store.get(POOL, 'p'), undefined);
});

test('namespaced kinds: default namespace, list per namespace and across', async () => {
  const { store } = setup();
  const wep = (ns: string | undefined, name: string): Resource => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name, ...(ns ? { namespace: ns } : {}) },
    spec: { node: 'n1' },
  });
  const d = await store.create(wep(undefined, 'w0'));
  assert.equal(d.metadata.namespace, 'default');
  await store.create(wep('prod', 'w1'));
  await store.create(wep('prod', 'w2'));
  assert.deepEqual(
    (await store.list(WEP, 'prod')).map((r) => r.metadata.name),
    ['w1', 'w2'],
  );
  assert.equal((await store.list(WEP)).length, 3);
  assert.equal((await store.get(WEP, 'w0', 'default'))?.metadata.uid, d.metadata.uid);
});

test('applyBatch is one transaction: all or nothing', async () => {
  const { backend, store } = setup();
  const existing = await store.create(pool('old', '10.0.0.0/16'));
  const before = await backend.revision();
  const res = await store.applyBatch([
    { op: 'apply', resource: pool('a', '10.1.0.0/16') },
    { op: 'apply', resource: pool('old', '10.2.0.0/16') },
    { op: 'create', resource: pool('b', '10.3.0.0/16') },
  ]);
  assert.equal(res.revision, before + 1, 'one revision for the whole batch');
  assert.deepEqual(
    res.results.map((r) => r?.metadata.resourceVersion),
    Array(3).fill(String(res.revision)),
  );
  assert.equal(res.results[1]?.metadata.uid, existing.metadata.uid);
  // A failing member (create of an existing name) writes nothing.
  await assert.rejects(
    store.applyBatch([
      { op: 'apply', resource: pool('c', '10.4.0.0/16') },
      { op: 'create', resource: pool('a', '10.5.0.0/16') },
      { op: 'delete', info: POOL, name: 'old' },
    ]),
    code('conflict'),
  );
  assert.equal(await store.get(POOL, 'c'), undefined);
  assert.ok(await store.get(POOL, 'old'));
  assert.equal(await backend.revision(), res.revision);
});

test('decode fills resourceVersion from the revision; unknown kinds are validation errors', async () => {
  const { store } = setup();
  const r = store.decode({ value: JSON.stringify(pool('x', '10.0.0.0/8')), revision: 42 });
  assert.equal(r.metadata.resourceVersion, '42');
  await assert.rejects(store.create({ apiVersion: 'v9', kind: 'Nope', metadata: { name: 'x' } }), code('validation'));
});
