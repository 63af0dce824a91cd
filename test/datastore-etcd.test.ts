import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBackendContract } from '../src/datastore/contract.js';
import { EtcdBackend } from '../src/datastore/index.js';
import { isTesseraError } from '../src/lib/errors.js';
import { useEtcd } from './helpers/etcd.js';

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
    await assert.rejects(b.get('/x'), (err: unknown) => isTesseraError(err, 'unavailable') || isTesseraError(err, 'timeout'));
  } finally {
    await b.close();
  }
});
