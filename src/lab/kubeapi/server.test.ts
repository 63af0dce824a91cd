import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, Watch, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { MemoryBackend } from '../../datastore/index.js';
import { KubeApiServer } from './server.js';
import { renderKubeconfig } from './kubeconfig.js';
import { decodeOpenApiV2, encodeOpenApiV2, loadSwagger } from './openapi.js';

const backend = new MemoryBackend();
const server = new KubeApiServer({ backend, bookmarkIntervalMs: 100 });
let url = '';
const dir = mkdtempSync(join(tmpdir(), 'ka-kubeapi-'));
const kc = new KubeConfig();

before(async () => {
  url = (await server.listen({ port: 0 })).url!;
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, renderKubeconfig({ clusterName: 'ka', server: url }));
  kc.loadFromFile(file);
});
after(async () => {
  await server.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const pod = (name: string, labels: Record<string, string>, nodeName = 'node-1') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { nodeName, containers: [{ name: 'c', image: 'x' }] },
});

test('discovery and version say what is served, and that it is a stand-in', async () => {
  const v = await call('GET', '/version');
  assert.equal(v.body.major, '1');
  assert.match(v.body.note, /stand-in, lab only/);
  const core = await call('GET', '/api/v1');
  assert.ok(core.body.resources.some((r: any) => r.name === 'pods' && r.namespaced && r.verbs.includes('watch')));
  const groups = await call('GET', '/apis');
  assert.deepEqual(groups.body.groups.map((g: any) => g.name).sort(), ['coordination.k8s.io', 'networking.k8s.io']);
  const np = await call('GET', '/apis/networking.k8s.io/v1');
  assert.equal(np.body.resources[0].kind, 'NetworkPolicy');
});

test('Status errors carry the real API server codes and reasons', async () => {
  const missingNs = await call('POST', '/api/v1/namespaces/nope/pods', pod('a', {}));
  assert.deepEqual(
    [missingNs.status, missingNs.body.reason, missingNs.body.message],
    [404, 'NotFound', 'namespaces "nope" not found'],
  );
  assert.equal((await call('POST', '/api/v1/namespaces', { metadata: { name: 'shop' } })).status, 201);
  const created = await call('POST', '/api/v1/namespaces/shop/pods', pod('web', { app: 'web' }));
  assert.equal(created.status, 201);
  assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.equal(created.body.status.phase, 'Pending');
  const dup = await call('POST', '/api/v1/namespaces/shop/pods', pod('web', {}));
  assert.deepEqual([dup.status, dup.body.reason], [409, 'AlreadyExists']);
  const stale = await call('PUT', '/api/v1/namespaces/shop/pods/web', {
    ...created.body,
    metadata: { ...created.body.metadata, resourceVersion: '1' },
  });
  assert.deepEqual([stale.status, stale.body.reason], [409, 'Conflict']);
  const invalid = await call('POST', '/api/v1/namespaces/shop/pods', pod('Bad_Name', {}));
  assert.deepEqual(
    [invalid.status, invalid.body.reason, invalid.body.details.causes[0].field],
    [422, 'Invalid', 'metadata.name'],
  );
  assert.equal((await call('POST', '/api/v1/namespaces/shop/pods', '{not json')).status, 400);
  assert.equal((await call('PUT', '/api/v1/namespaces/shop/pods', {})).status, 405);
  assert.equal((await call('GET', '/api/v1/widgets')).status, 404);
  const gen = await call('POST', '/api/v1/namespaces/shop/pods', {
    ...pod('', {}),
    metadata: { generateName: 'web-' },
  });
  assert.match(gen.body.metadata.name, /^web-[a-z0-9]{5}$/);
  const sa = await call('GET', '/api/v1/namespaces/shop/serviceaccounts/default');
  assert.equal(sa.status, 200, 'a namespace gets its default ServiceAccount');
  const badPatch = await call('PATCH', '/api/v1/namespaces/shop/pods/web', { a: 1 }, 'application/apply-patch+yaml');
  assert.equal(badPatch.status, 415);
});

test('patch types, status subresource and namespace cascade', async () => {
  await call('POST', '/api/v1/namespaces', { metadata: { name: 'p' } });
  await call('POST', '/api/v1/namespaces/p/pods', pod('x', { app: 'x' }));
  const sm = await call(
    'PATCH',
    '/api/v1/namespaces/p/pods/x',
    { metadata: { labels: { tier: 'a' } } },
    'application/strategic-merge-patch+json',
  );
  assert.deepEqual(sm.body.metadata.labels, { app: 'x', tier: 'a' });
  const jp = await call(
    'PATCH',
    '/api/v1/namespaces/p/pods/x',
    [{ op: 'remove', path: '/metadata/labels/app' }],
    'application/json-patch+json',
  );
  assert.deepEqual(jp.body.metadata.labels, { tier: 'a' });
  const st = await call(
    'PATCH',
    '/api/v1/namespaces/p/pods/x/status',
    { status: { phase: 'Running', podIP: '10.0.0.1' }, metadata: { labels: { ignored: 'y' } } },
    'application/merge-patch+json',
  );
  assert.deepEqual([st.body.status.phase, st.body.metadata.labels.ignored], ['Running', undefined]);
  const mainPut = await call(
    'PATCH',
    '/api/v1/namespaces/p/pods/x',
    { status: { phase: 'Failed' } },
    'application/merge-patch+json',
  );
  assert.equal(mainPut.body.status.phase, 'Running', 'status only changes through pods/status');
  const del = await call('DELETE', '/api/v1/namespaces/p');
  assert.equal(del.status, 200);
  assert.equal((await call('GET', '/api/v1/namespaces/p/pods/x')).status, 404);
  assert.equal((await call('GET', '/api/v1/namespaces/p/serviceaccounts/default')).status, 404);
});

test('@kubernetes/client-node: list with selectors, limit/continue, watch resume, bookmarks, 410 Gone', async () => {
  await call('POST', '/api/v1/namespaces', { metadata: { name: 'cn' } });
  for (const [n, app, node] of [
    ['a', 'web', 'node-1'],
    ['b', 'db', 'node-2'],
    ['c', 'web', 'node-2'],
  ] as const) {
    await call('POST', '/api/v1/namespaces/cn/pods', pod(n, { app }, node));
  }
  const core = kc.makeApiClient(CoreV1Api);
  const sel = await core.listNamespacedPod({
    namespace: 'cn',
    labelSelector: 'app in (web)',
    fieldSelector: 'spec.nodeName=node-2',
  });
  assert.deepEqual(
    sel.items.map((p) => p.metadata?.name),
    ['c'],
  );
  const page1 = await core.listNamespacedPod({ namespace: 'cn', limit: 2 });
  assert.equal(page1.items.length, 2);
  assert.ok(page1.metadata?._continue);
  const page2 = await core.listNamespacedPod({ namespace: 'cn', limit: 2, _continue: page1.metadata!._continue! });
  assert.deepEqual(
    page2.items.map((p) => p.metadata?.name),
    ['c'],
  );
  const all = await core.listNamespacedPod({ namespace: 'cn' });
  const rv = all.metadata!.resourceVersion!;

  // Watch from the list's resourceVersion: only later changes, then a bookmark.
  const events: [string, string, string][] = [];
  const watch = new Watch(kc);
  let bookmarks = 0;
  const gotEvents = new Promise<void>((resolve) => {
    void watch
      .watch(
        '/api/v1/namespaces/cn/pods',
        { resourceVersion: rv, allowWatchBookmarks: true, labelSelector: 'app=web' },
        (type, obj) => {
          if (type === 'BOOKMARK') bookmarks++;
          else events.push([type, obj.metadata.name, obj.metadata.resourceVersion]);
          if (events.length >= 3 && bookmarks > 0) resolve();
        },
        () => undefined,
      )
      .then((ac) => after(() => ac.abort()));
  });
  await call(
    'PATCH',
    '/api/v1/namespaces/cn/pods/a',
    { metadata: { labels: { app: 'gone' } } },
    'application/merge-patch+json',
  );
  await call(
    'PATCH',
    '/api/v1/namespaces/cn/pods/b',
    { metadata: { labels: { app: 'web' } } },
    'application/merge-patch+json',
  );
  await call('DELETE', '/api/v1/namespaces/cn/pods/c');
  await gotEvents;
  assert.deepEqual(
    events.map(([t, n]) => `${t} ${n}`),
    ['DELETED a', 'ADDED b', 'DELETED c'],
  );
  assert.ok(events.every(([, , v]) => Number(v) > Number(rv)));

  // A revision compacted away: an ERROR event with a 410 Expired Status.
  const cur = await backend.revision();
  await call('POST', '/api/v1/namespaces/cn/pods', pod('d', { app: 'web' }));
  backend.compact(cur + 1);
  const status = await new Promise<any>((resolve) => {
    void watch.watch(
      '/api/v1/namespaces/cn/pods',
      { resourceVersion: rv },
      (type, obj) => {
        if (type === 'ERROR') resolve(obj);
      },
      () => undefined,
    );
  });
  assert.deepEqual([status.code, status.reason, status.kind], [410, 'Expired', 'Status']);

  // An informer started from that stale state relists and converges.
  const informer = makeInformer(kc, '/api/v1/namespaces/cn/pods', () => core.listNamespacedPod({ namespace: 'cn' }));
  const names = () =>
    informer
      .list()
      .map((p: V1Pod) => p.metadata?.name)
      .sort();
  await informer.start();
  after(() => informer.stop());
  assert.deepEqual(names(), ['a', 'b', 'd']);
  await call('POST', '/api/v1/namespaces/cn/pods', pod('e', { app: 'web' }));
  for (let i = 0; i < 200 && !names().includes('e'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(names(), ['a', 'b', 'd', 'e']);
});

test('OpenAPI v2 protobuf carries the npm package definitions with their GVK extensions', () => {
  const doc = loadSwagger();
  const decoded = decodeOpenApiV2(encodeOpenApiV2(doc)) as any;
  assert.equal(decoded.swagger, '2.0');
  const np = decoded.definitions.additionalProperties.find(
    (d: any) => d.name === 'io.k8s.api.networking.v1.NetworkPolicy',
  );
  const gvk = np.value.vendorExtension.find((e: any) => e.name === 'x-kubernetes-group-version-kind');
  assert.deepEqual(JSON.parse(gvk.value.yaml), [{ group: 'networking.k8s.io', kind: 'NetworkPolicy', version: 'v1' }]);
  assert.equal(decoded.definitions.additionalProperties.length, Object.keys(doc.definitions).length);
});
