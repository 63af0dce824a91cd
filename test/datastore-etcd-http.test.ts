import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { runBackendContract } from '../src/datastore/contract.js';
import { EtcdHttpBackend } from '../src/datastore/index.js';
import { isTesseraError } from '../src/lib/errors.js';
import { useEtcd } from './helpers/etcd.js';

// The JSON-gateway backend the CLI uses must behave exactly as the gRPC one (same contract suite).
const env = useEtcd({ unixSocket: true });

runBackendContract('etcd-http', () => new EtcdHttpBackend({ endpoints: env.etcd.endpoints }));

test('etcd-http: clients connect over the unix socket listener', async () => {
  const b = new EtcdHttpBackend({ endpoints: env.etcd.unixEndpoints ?? [] });
  try {
    const kv = await b.put('/unix-http/probe', 'ok');
    assert.equal((await b.get('/unix-http/probe'))?.revision, kv.revision);
  } finally {
    await b.close();
  }
});

test('etcd-http: a refused endpoint says which URL and why; a later member answers', async () => {
  const b = new EtcdHttpBackend({ endpoints: ['http://127.0.0.1:1'] });
  try {
    await assert.rejects(b.get('/x'), (err: unknown) => {
      assert.ok(isTesseraError(err, 'unavailable'), String(err));
      assert.match(err.message, /cannot reach the datastore at http:\/\/127\.0\.0\.1:1: connection refused/);
      return true;
    });
  } finally {
    await b.close();
  }
  const both = new EtcdHttpBackend({ endpoints: ['http://127.0.0.1:1', ...env.etcd.endpoints] });
  try {
    await both.put('/failover-http/k', 'v');
    assert.equal((await both.get('/failover-http/k'))?.value, 'v');
  } finally {
    await both.close();
  }
});

test('etcd-http: an endpoint that accepts but never answers times out naming the wait', async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const b = new EtcdHttpBackend({ endpoints: [`http://127.0.0.1:${port}`], callTimeoutMs: 300 });
  try {
    await assert.rejects(b.list('/x/'), (err: unknown) => {
      assert.ok(isTesseraError(err, 'timeout'), String(err));
      assert.match(
        err.message,
        new RegExp(`cannot reach the datastore at http://127\\.0\\.0\\.1:${port}: no answer in 0\\.3 s`),
      );
      return true;
    });
  } finally {
    await b.close();
    silent.close();
  }
});
