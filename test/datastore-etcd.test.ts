import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupKind } from '../src/api/kinds.js';
import { runBackendContract } from '../src/datastore/contract.js';
import { EtcdBackend, ResourceStore } from '../src/datastore/index.js';
import { checkSyncerAcrossRestart } from './helpers/syncer-checks.js';
import { isTesseraError } from '../src/lib/errors.js';
import { useEtcd } from './helpers/etcd.js';
import { startEtcdCluster } from '../src/lab/etcd.js';

const env = useEtcd({ unixSocket: true });

runBackendContract('etcd', () => new EtcdBackend({ endpoints: env.etcd.endpoints }));

test('etcd: clients connect over the unix socket listener', async () => {
  const b = new EtcdBackend({ endpoints: env.etcd.unixEndpoints ?? [] });
  try {
    const kv = await b.put('/unix/probe', 'ok');
    assert.equal((await b.get('/unix/probe'))?.revision, kv.revision);
  } finally {
    await b.close();
  }
});

test('etcd: an unreachable endpoint is unavailable', async () => {
  const b = new EtcdBackend({ endpoints: ['http://127.0.0.1:1'], callTimeoutMs: 2000 });
  try {
    await assert.rejects(
      b.get('/x'),
      (err: unknown) => isTesseraError(err, 'unavailable') || isTesseraError(err, 'timeout'),
    );
  } finally {
    await b.close();
  }
});

test(
  'etcd: the syncer sees every change exactly once, in order, across an etcd restart',
  { timeout: 60_000 },
  async () => {
    await checkSyncerAcrossRestart({
      writerEndpoints: env.etcd.endpoints,
      readerEndpoints: env.etcd.endpoints,
      prefix: '/restart/',
      writerCut: true,
      restart: async () => {
        const pidBefore = env.etcd.pid;
        await env.etcd.restart();
        assert.notEqual(env.etcd.pid, pidBefore);
      },
    });
  },
);

test('etcd: ResourceStore.applyBatch writes 500 resources in one transaction', async () => {
  const backend = new EtcdBackend({ endpoints: env.etcd.endpoints });
  const store = new ResourceStore(backend);
  try {
    const ops = Array.from({ length: 500 }, (_, i) => ({
      op: 'apply' as const,
      resource: {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkSet',
        metadata: { name: `set-${i}` },
        spec: { nets: [`10.${i >> 8}.${i & 255}.0/24`] },
      },
    }));
    const res = await store.applyBatch(ops);
    const listed = await store.list(lookupKind('globalnetworkset')!);
    assert.equal(listed.length, 500);
    assert.ok(listed.every((r) => r.metadata.resourceVersion === String(res.revision)));
    // A second batch with one stale pinned version changes nothing.
    const stale = { ...listed[0]!, metadata: { ...listed[0]!.metadata, resourceVersion: '1' } };
    await assert.rejects(store.applyBatch([...ops.slice(1, 100), { op: 'update', resource: stale }]), (err: unknown) =>
      isTesseraError(err, 'conflict'),
    );
    assert.equal(await backend.revision(), res.revision);
  } finally {
    await backend.close();
  }
});

test('etcd: list pages through more than one gRPC message worth of data', { timeout: 60_000 }, async () => {
  const backend = new EtcdBackend({ endpoints: env.etcd.endpoints, pageSize: 300 });
  try {
    const big = 'x'.repeat(10_000);
    for (let b = 0; b < 10; b++) {
      await backend.txn(
        Array.from({ length: 100 }, (_, i) => ({ op: 'put' as const, key: `/big/${b}/${i}`, value: big })),
      );
    }
    const res = await backend.list('/big/');
    assert.equal(res.items.length, 1000); // 10 MB: over grpc's 4 MiB default, over 3 pages
    assert.ok(res.items.every((kv) => kv.value.length === 10_000));
    const keys = res.items.map((kv) => kv.key);
    assert.deepEqual(keys, [...keys].sort());
  } finally {
    await backend.close();
  }
});

test('etcd: a 3-member cluster serves one store through every endpoint', { timeout: 60_000 }, async () => {
  const cluster = await startEtcdCluster({ members: 3, name: `tsr-ds-${process.pid}` });
  const b = new EtcdBackend({ endpoints: cluster.endpoints });
  try {
    assert.equal(cluster.endpoints.length, 3);
    const kv = await b.put('/cluster/k', 'v');
    for (const ep of cluster.endpoints) {
      const one = new EtcdBackend({ endpoints: [ep] });
      try {
        assert.equal((await one.get('/cluster/k'))?.revision, kv.revision, `member ${ep} disagrees`);
      } finally {
        await one.close();
      }
    }
    // With one member dead, every call through the multi-endpoint client still succeeds.
    await cluster.members[0]!.kill();
    for (let i = 0; i < 10; i++) {
      const w = await b.put(`/cluster/after-kill-${i}`, 'v');
      assert.equal((await b.get(`/cluster/after-kill-${i}`))?.revision, w.revision, `call ${i} after a member died`);
    }
  } finally {
    await b.close();
    await cluster.stop();
  }
});
