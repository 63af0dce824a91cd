/**
 * IPAM GC's reads on a real etcd: the paged range (pages read at the first page's revision, the
 * next page prefetched, keys-only), and GC passes whose later reads are keys-only plus the blocks
 * written since: a leak in an unchanged block, and one in a block written between passes, are
 * both found; a leak is released after its grace period and not before.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { EtcdBackend, listInPages, type KV } from '../src/datastore/index.js';
import { ControllerMetrics, FakeInformer, IpamGarbageCollector, KUBE_RESOURCES } from '../src/controllers/index.js';
import { IpamClient, putNode, putPool } from '../src/ipam/index.js';
import { ManualClock } from '../src/lib/clock.js';
import { startEtcd } from '../src/lab/index.js';

type Handle = Awaited<ReturnType<typeof startEtcd>>;

describe('IPAM GC on etcd', () => {
  let etcd: Handle;
  let backend: EtcdBackend;

  before(async () => {
    etcd = await startEtcd({ name: 'h14-kube-gc-etcd' });
    backend = new EtcdBackend({ endpoints: etcd.endpoints });
  });
  after(async () => {
    await backend?.close();
    await etcd?.stop();
  });

  it('listPages: every key once, in pages, at one revision; keys-only sends no values', async () => {
    for (let i = 0; i < 7; i++) await backend.put(`/h14/pages/k${i}`, `v${i}`);
    const pages: KV[][] = [];
    for await (const page of backend.listPages('/h14/pages/', { pageSize: 3 })) {
      pages.push(page);
      if (pages.length === 1) await backend.put('/h14/pages/k9', 'late'); // after the listing's revision
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    );
    assert.deepEqual(
      pages.flat().map((kv) => `${kv.key}=${kv.value}`),
      Array.from({ length: 7 }, (_, i) => `/h14/pages/k${i}=v${i}`),
    );
    const keys: KV[] = [];
    for await (const page of listInPages(backend, '/h14/pages/', { pageSize: 5, keysOnly: true })) keys.push(...page);
    assert.equal(keys.length, 8);
    assert.ok(keys.every((kv) => kv.value === '' && kv.revision > 0));
    // Stopping early leaves no unhandled rejection behind (the prefetched page is dropped).
    for await (const page of backend.listPages('/h14/pages/', { pageSize: 2 })) {
      assert.equal(page.length, 2);
      break;
    }
  });

  it('later passes judge every allocation; leaks released after the grace period only', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    await putPool(backend, 'h14', { cidr: '10.77.0.0/16', blockSize: 29 });
    await putNode(backend, 'n1', {});
    const ipam = new IpamClient(backend);
    const assign = async (pod: string) =>
      (
        await ipam.autoAssign({
          num4: 1,
          num6: 0,
          handleId: `k8s-pod-network.c-${pod}`,
          attrs: { node: 'n1', namespace: 'shop', pod, timestamp: clock.nowIso() },
          hostname: 'n1',
        })
      ).ipv4[0]!.address;
    const pods = new FakeInformer(KUBE_RESOURCES.pods);
    const nodes = new FakeInformer(KUBE_RESOURCES.nodes);
    const addr: Record<string, string> = {};
    for (let i = 0; i < 20; i++) {
      addr[`p${i}`] = await assign(`p${i}`); // 20 addresses in 3 blocks of 8
      pods.set({ metadata: { name: `p${i}`, namespace: 'shop' }, status: { podIPs: [{ ip: addr[`p${i}`] }] } });
    }
    pods.markSynced();
    nodes.markSynced();
    const ctx = { backend, metrics: new ControllerMetrics(false), logger: pino({ level: 'silent' }), clock };
    const gc = new IpamGarbageCollector(ctx, pods, nodes, { leakGracePeriodMs: 60_000, intervalMs: 3_600_000 });
    assert.deepEqual(await gc.pass(), { allocations: 20, leaks: 0, released: 0, stale: 0 });
    pods.remove('p1', 'shop'); // its block is not written
    addr['late'] = await assign('late'); // a block written since: an allocation with no pod
    assert.deepEqual(await gc.pass(), { allocations: 21, leaks: 2, released: 0, stale: 0 });
    clock.advance(59_000);
    assert.equal((await gc.pass()).released, 0, 'not before the grace period');
    clock.advance(1_000);
    const r = await gc.pass();
    assert.equal(r.released, 2);
    assert.equal((await ipam.lookupIp(addr['p1']!)).state, 'free');
    assert.equal((await ipam.lookupIp(addr['late']!)).state, 'free');
    assert.equal((await ipam.lookupIp(addr['p2']!)).state, 'allocated');
    assert.deepEqual(await gc.pass(), { allocations: 19, leaks: 0, released: 0, stale: 0 });
  });
});
