/**
 * kube-controllers' EventRecorder over client-node against the stand-in API: the first report
 * creates a Warning Event, a repeat bumps its count (JSON patch), and both are found the way
 * `kubectl get events --field-selector involvedObject.name=...` finds them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { MemoryBackend } from '../../datastore/index.js';
import { EventRecorder, kubeEventSink } from '../../controllers/index.js';
import { KubeApiServer } from './server.js';
import { renderKubeconfig } from './kubeconfig.js';

const backend = new MemoryBackend();
const server = new KubeApiServer({ backend });
const dir = mkdtempSync(join(tmpdir(), 'tessera-events-'));
after(async () => {
  await server.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a rejected object gets a Warning Event; a repeat bumps its count', async () => {
  const url = (await server.listen({ port: 0 })).url!;
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, renderKubeconfig({ clusterName: 'ev', server: url }));
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'shop' } } });
  let failures = 0;
  const rec = new EventRecorder(await kubeEventSink(kc), pino({ level: 'silent' }), 'test', () => failures++);
  const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'bad', namespace: 'shop', uid: 'u1' };
  const msg = 'spec.ingress[0].ports[0].port: must be 1-65535, got 99999';
  await rec.warning(np, 'FailedValidation', msg);
  await rec.warning(np, 'FailedValidation', msg);
  assert.equal(failures, 0);
  const list = await core.listNamespacedEvent({ namespace: 'shop', fieldSelector: 'involvedObject.name=bad' });
  assert.equal(list.items.length, 1);
  const ev = list.items[0]!;
  assert.equal(ev.reason, 'FailedValidation');
  assert.equal(ev.type, 'Warning');
  assert.equal(ev.message, msg);
  assert.equal(ev.count, 2);
  assert.equal(ev.involvedObject.kind, 'NetworkPolicy');
  assert.equal(ev.involvedObject.uid, 'u1');
  assert.equal(ev.source?.component, 'tessera-kube-controllers');
  // A write that fails (no such namespace) is counted, not thrown.
  await rec.warning({ ...np, namespace: 'nowhere' }, 'FailedValidation', msg);
  assert.equal(failures, 1);
});
