import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from '../datastore/index.js';
import { IpamClient, putPool } from '../ipam/index.js';
import { CNI_ERR, renderCniError } from './errors.js';

test('a strictAffinity exhaustion reaches the runtime once, naming the pool and why', async () => {
  const backend = new MemoryBackend();
  await putPool(backend, 'tiny', { cidr: '10.2.0.0/30', blockSize: 30 });
  const ipam = new IpamClient(backend, {});
  const attrs = { timestamp: '2024-01-01T00:00:00.000Z' };
  await ipam.autoAssign({ num4: 1, num6: 0, handleId: 'net.o', hostname: 'n2', attrs: { ...attrs, node: 'n2' } });
  await ipam.setConfig({ strictAffinity: true });
  const err = await ipam
    .autoAssign({ num4: 1, num6: 0, handleId: 'net.s', hostname: 'n1', attrs: { ...attrs, node: 'n1' } })
    .then(
      () => assert.fail('assigned'),
      (e: unknown) => e,
    );
  const out = renderCniError(err, '1.0.0');
  assert.equal(out['code'], CNI_ERR.exhausted);
  assert.equal(out['details'], undefined, 'no cause chain repeating msg');
  const msg = String(out['msg']);
  assert.match(msg, /pool "tiny" \(10\.2\.0\.0\/30\): the host has no block of its own in the pool/);
  assert.match(msg, /strictAffinity forbids borrowing the 3 free address\(es\)/);
  assert.equal(msg.split('"tiny"').length, 2, msg);
});
