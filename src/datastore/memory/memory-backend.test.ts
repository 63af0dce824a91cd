import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.js';
import { isTesseraError } from '../../lib/errors.js';
import { collectEvents, runBackendContract } from '../contract.js';
import { MemoryBackend, MemoryStore } from './memory-backend.js';

const shared = new MemoryStore();
runBackendContract('memory', () => new MemoryBackend({ store: shared }));

test('memory: a fresh store starts at revision 1 and each write adds exactly 1', async () => {
  const b = new MemoryBackend();
  assert.equal(await b.revision(), 1);
  assert.equal((await b.put('/a', '1')).revision, 2);
  assert.equal(
    await b.txn([
      { op: 'put', key: '/b', value: '2' },
      { op: 'put', key: '/c', value: '3' },
    ]),
    3,
  );
  assert.equal(await b.txn([{ op: 'delete', key: '/nope' }]), 3, 'a txn that changes nothing keeps the revision');
});

test('memory: disconnectWatchers ends watches with unavailable and drops in-flight events', async () => {
  const b = new MemoryBackend();
  const stream = b.watch('/w/', { fromRevision: 1 });
  await b.put('/w/a', '1');
  b.disconnectWatchers();
  const it = stream[Symbol.asyncIterator]();
  await assert.rejects(it.next(), (err: unknown) => isTesseraError(err, 'unavailable'));
  // Resuming from the last delivered revision + 1 (none delivered: 1) replays the lost event.
  const again = await collectEvents(b.watch('/w/', { fromRevision: 1 }), 2);
  assert.deepEqual(
    again.map((e) => (e.type === 'put' ? e.kv.value : '')),
    ['1'],
  );
});

test('memory: leases expire on the injected clock once the writer is gone', async () => {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore({ clock });
  const writer = new MemoryBackend({ store });
  const reader = new MemoryBackend({ store });
  await writer.put('/s/node1', 'up', { ttlSeconds: 10 });
  clock.advance(60_000);
  assert.equal((await reader.get('/s/node1'))?.value, 'up', 'kept alive while the writer is open');
  await writer.close();
  clock.advance(9_000);
  assert.equal((await reader.get('/s/node1'))?.value, 'up');
  clock.advance(1_000);
  assert.equal(await reader.get('/s/node1'), undefined);
});

test('memory: a put without ttl detaches the key from its lease', async () => {
  const clock = new ManualClock(0);
  const store = new MemoryStore({ clock });
  const writer = new MemoryBackend({ store });
  await writer.put('/s/x', 'leased', { ttlSeconds: 1 });
  await writer.put('/s/x', 'plain');
  await writer.close();
  clock.advance(5_000);
  assert.equal((await new MemoryBackend({ store }).get('/s/x'))?.value, 'plain');
});

test('memory: a closed client refuses work with unavailable', async () => {
  const b = new MemoryBackend();
  await b.close();
  await assert.rejects(b.get('/x'), (err: unknown) => isTesseraError(err, 'unavailable'));
});
