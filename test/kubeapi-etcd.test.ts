/**
 * The stand-in Kubernetes API on a real etcd, driven by @kubernetes/client-node: list, watch resumed
 * from a resourceVersion after the stream breaks (no loss, no duplicate), bookmarks, 410 Expired for a
 * compacted revision, and 409 for a concurrent update (etcd CAS).
 */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { openBackend, type Backend } from '../src/datastore/index.js';
import { KubeApiServer, renderKubeconfig, startEtcd } from '../src/lab/index.js';

type Handle = Awaited<ReturnType<typeof startEtcd>>;

describe('stand-in Kubernetes API on etcd with @kubernetes/client-node', () => {
  let etcd: Handle;
  let backend: Backend;
  let server: KubeApiServer;
  const dir = mkdtempSync(join(tmpdir(), 'ka-kubeapi-etcd-'));
  const kc = new KubeConfig();
  let url = '';

  before(async () => {
    etcd = await startEtcd({ name: 'ka-kubeapi-etcd' });
    backend = openBackend({ endpoints: etcd.endpoints });
    server = new KubeApiServer({ backend, bookmarkIntervalMs: 200 });
    url = (await server.listen({ port: 0 })).url!;
    writeFileSync(join(dir, 'kubeconfig'), renderKubeconfig({ clusterName: 'ka', server: url }));
    kc.loadFromFile(join(dir, 'kubeconfig'));
  });
  after(async () => {
    await server?.close();
    await backend?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const pod = (name: string, v: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { v } },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x' }] },
  });

  /** Collects watch events until `want` non-bookmark events arrived (and a bookmark when asked). */
  function collect(params: Record<string, string | boolean>, want: number, needBookmark = false) {
    const events: { type: string; name: string; rv: string; object: any }[] = [];
    let bookmarkRv: string | undefined;
    let abort: AbortController | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch: got ${events.length}/${want} events`)), 30_000);
      void new Watch(kc)
        .watch(
          '/api/v1/namespaces/w/pods',
          params,
          (type, obj) => {
            if (type === 'BOOKMARK') bookmarkRv = obj.metadata.resourceVersion;
            else events.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion, object: obj });
            if (events.length >= want && (!needBookmark || bookmarkRv)) {
              clearTimeout(timer);
              resolve();
            }
          },
          () => undefined,
        )
        .then((ac) => (abort = ac), reject);
    });
    return { events, done, bookmark: () => bookmarkRv, stop: () => abort?.abort() };
  }

  test('watch resumes from a resourceVersion with no loss and no duplicate; bookmarks carry the last revision', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'w' } } });
    await core.createNamespacedPod({ namespace: 'w', body: pod('p0', '0') });
    const rv0 = (await core.listNamespacedPod({ namespace: 'w' })).metadata!.resourceVersion!;

    const first = collect({ resourceVersion: rv0, allowWatchBookmarks: true }, 2, true);
    await core.createNamespacedPod({ namespace: 'w', body: pod('p1', '1') });
    const patched = await fetch(`${url}/api/v1/namespaces/w/pods/p0`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { v: 'x' } } }),
    });
    assert.equal(patched.status, 200);
    await first.done;
    first.stop(); // the stream breaks
    assert.deepEqual(
      first.events.map((e) => `${e.type} ${e.name}`),
      ['ADDED p1', 'MODIFIED p0'],
    );
    assert.equal(first.bookmark(), first.events[1]!.rv, 'a bookmark carries the last delivered revision');
    const resumeFrom = first.bookmark()!;

    // Changes while nobody watches, then a resumed watch from the last revision seen.
    await core.deleteNamespacedPod({ namespace: 'w', name: 'p1' });
    await core.createNamespacedPod({ namespace: 'w', body: pod('p2', '2') });
    const second = collect({ resourceVersion: resumeFrom }, 2);
    await second.done;
    await new Promise((r) => setTimeout(r, 500)); // any duplicate would arrive now
    second.stop();
    assert.deepEqual(
      second.events.map((e) => `${e.type} ${e.name}`),
      ['DELETED p1', 'ADDED p2'],
    );
    assert.ok(Number(second.events[0]!.rv) > Number(resumeFrom));
  });

  test('a compacted resourceVersion ends the watch with a 410 Expired Status', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const old = (await core.listNamespacedPod({ namespace: 'w' })).metadata!.resourceVersion!;
    await core.createNamespacedPod({ namespace: 'w', body: pod('p3', '3') });
    await core.createNamespacedPod({ namespace: 'w', body: pod('p4', '4') });
    // History before the last write is gone: resuming after `old` needs revision old+1.
    await backend.compact(await backend.revision());
    const w = collect({ resourceVersion: old }, 1);
    await w.done;
    w.stop();
    assert.equal(w.events[0]!.type, 'ERROR');
    assert.deepEqual([w.events[0]!.object.code, w.events[0]!.object.reason], [410, 'Expired']);
    // A list is always served, and a watch from its resourceVersion works again.
    const fresh = (await core.listNamespacedPod({ namespace: 'w' })).metadata!.resourceVersion!;
    const again = collect({ resourceVersion: fresh }, 1);
    await core.deleteNamespacedPod({ namespace: 'w', name: 'p3' });
    await again.done;
    again.stop();
    assert.deepEqual(
      again.events.map((e) => `${e.type} ${e.name}`),
      ['DELETED p3'],
    );
  });

  test('two updates from the same resourceVersion: exactly one wins, the other is a 409 Conflict', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const cur = await core.readNamespacedPod({ namespace: 'w', name: 'p2' });
    const put = (v: string) =>
      fetch(`${url}/api/v1/namespaces/w/pods/p2`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...cur, metadata: { ...cur.metadata, labels: { v } } }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { reason?: string } }));
    const results = await Promise.all([put('a'), put('b')]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
    assert.equal(results.find((r) => r.status === 409)!.body.reason, 'Conflict');
  });
});
