import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { collectEvents } from './contract.js';
import { MemoryBackend } from './memory/memory-backend.js';
import { Syncer, type SyncStatus, type SyncUpdate } from './syncer.js';

function recorder() {
  const updates: SyncUpdate[] = [];
  const statuses: SyncStatus[] = [];
  return {
    updates,
    statuses,
    onUpdates: (u: SyncUpdate[]) => void updates.push(...u),
    onStatus: (s: SyncStatus) => void statuses.push(s),
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The changes the store recorded under `prefix` after `from`, as SyncUpdates. */
async function truth(b: MemoryBackend, prefix: string, from: number): Promise<SyncUpdate[]> {
  const rev = await b.revision();
  if (rev < from) return [];
  const evs = await collectEvents(b.watch(prefix, { fromRevision: from }), rev);
  return evs.map((e) =>
    e.type === 'put'
      ? { key: e.kv.key, value: e.kv.value, revision: e.kv.revision }
      : { key: e.key, value: undefined, revision: e.revision },
  );
}

const strip = (u: SyncUpdate[]) => u.map((x) => ({ key: x.key, value: x.value, revision: x.revision }));

test('syncer: lists, reports in-sync, then streams changes in order', async () => {
  const b = new MemoryBackend();
  await b.put('/a/1', 'one');
  await b.put('/b/1', 'b-one');
  await b.put('/c/ignored', 'x');
  const r = recorder();
  const s = new Syncer({ backend: b, prefixes: ['/a/', '/b/'], ...r });
  s.start();
  await s.waitFor('in-sync');
  assert.deepEqual(r.statuses, ['wait', 'in-sync']);
  assert.deepEqual(
    strip(r.updates)
      .map((u) => u.key)
      .sort(),
    ['/a/1', '/b/1'],
  );
  const start = await b.revision();
  await b.put('/a/2', 'two');
  await b.delete('/a/1');
  await b.put('/c/2', 'not watched');
  await b.put('/a/2', 'three');
  await until(() => r.updates.length === 5, '3 more updates');
  await s.stop();
  assert.deepEqual(strip(r.updates.slice(2)), await truth(b, '/a/', start + 1));
  assert.equal(r.updates[3]!.value, undefined, 'a delete carries value undefined');
});

test('syncer: resumes after a watch disconnect with no gaps and no duplicates', async () => {
  const b = new MemoryBackend();
  const r = recorder();
  const s = new Syncer({ backend: b, prefixes: ['/p/'], ...r, initialBackoffMs: 1, maxBackoffMs: 5 });
  s.start();
  await s.waitFor('in-sync');
  const from = (await b.revision()) + 1;
  for (let i = 0; i < 200; i++) {
    await b.put(`/p/k${i % 13}`, `v${i}`);
    if (i % 17 === 0) await b.delete(`/p/k${(i + 3) % 13}`);
    if (i % 23 === 0) b.disconnectWatchers();
  }
  const expected = await truth(b, '/p/', from);
  await until(() => r.updates.length >= expected.length, `${expected.length} updates`);
  await new Promise((res) => setTimeout(res, 20)); // a duplicate would arrive now
  await s.stop();
  assert.deepEqual(strip(r.updates), expected);
  assert.deepEqual(r.statuses, ['wait', 'in-sync'], 'a disconnect is not a resync');
});

test('syncer: after compaction re-lists and emits only the difference', async () => {
  const b = new MemoryBackend();
  await b.put('/p/same', 's');
  await b.put('/p/changed', 'c1');
  await b.put('/p/gone', 'g');
  const r = recorder();
  let release: () => void = () => undefined;
  const gate = () => new Promise<void>((res) => (release = res));
  let gated = false;
  let waiting = false;
  const s = new Syncer({
    backend: b,
    prefixes: ['/p/'],
    ...r,
    sleep: async () => {
      if (gated) {
        waiting = true;
        await gate();
      }
    },
  });
  s.start();
  await s.waitFor('in-sync');
  assert.equal(r.updates.length, 3);
  gated = true;
  b.disconnectWatchers();
  await until(() => waiting, 'the syncer to back off');
  const changed = await b.put('/p/changed', 'c2');
  await b.delete('/p/gone');
  const added = await b.put('/p/new', 'n');
  await b.compact(await b.revision());
  const listRevision = await b.revision();
  release();
  await until(() => r.statuses.length === 4, 'resync then in-sync');
  await s.stop();
  assert.deepEqual(r.statuses, ['wait', 'in-sync', 'resync', 'in-sync']);
  assert.deepEqual(
    strip(r.updates.slice(3)).sort((x, y) => x.key.localeCompare(y.key)),
    [
      { key: '/p/changed', value: 'c2', revision: changed.revision },
      { key: '/p/gone', value: undefined, revision: listRevision },
      { key: '/p/new', value: 'n', revision: added.revision },
    ],
  );
});

test('syncer: backs off exponentially up to the bound while the store is unavailable', async () => {
  const b = new MemoryBackend();
  let failures = 6;
  const flaky = new Proxy(b, {
    get(target, prop, recv) {
      if (prop === 'list') {
        return async (prefix: string) => {
          if (failures-- > 0) throw new TesseraError('unavailable', `cannot list "${prefix}": down`);
          return target.list(prefix);
        };
      }
      const v = Reflect.get(target, prop, recv) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const sleeps: number[] = [];
  const errors: string[] = [];
  const s = new Syncer({
    backend: flaky,
    prefixes: ['/p/'],
    onUpdates: () => undefined,
    onError: (e) => void errors.push(e.code),
    initialBackoffMs: 100,
    maxBackoffMs: 800,
    sleep: async (ms) => void sleeps.push(ms),
  });
  s.start();
  await s.waitFor('in-sync');
  await s.stop();
  assert.deepEqual(sleeps, [100, 200, 400, 800, 800, 800]);
  assert.deepEqual(errors, Array(6).fill('unavailable'));
});

test('syncer: stop() ends it and no callback runs afterwards; the signal also stops it', async () => {
  const b = new MemoryBackend();
  const r = recorder();
  const ac = new AbortController();
  const s = new Syncer({ backend: b, prefixes: ['/p/'], ...r, signal: ac.signal });
  s.start();
  await s.waitFor('in-sync');
  ac.abort();
  await s.stop();
  await b.put('/p/late', 'x');
  await new Promise((res) => setTimeout(res, 10));
  assert.equal(r.updates.length, 0);
});

test('syncer: overlapping prefixes are rejected', () => {
  assert.throws(
    () => new Syncer({ backend: new MemoryBackend(), prefixes: ['/a/', '/a/b/'], onUpdates: () => undefined }),
    (err: unknown) => isTesseraError(err, 'validation'),
  );
});

test('syncer: a paged first listing is emitted page by page; one failing half-way is retried without repeats', async () => {
  const b = new MemoryBackend();
  for (let i = 0; i < 5; i++) await b.put(`/p/${i}`, `v${i}`);
  let calls = 0;
  let pagesBeforeInSync = 0;
  // A backend that pages by 2 (read at one revision) and fails after the first page on its first try.
  const paged = Object.assign(Object.create(b) as MemoryBackend, {
    async *listPages(prefix: string, o: { onRevision?: (r: number) => void } = {}) {
      const res = await b.list(prefix);
      o.onRevision?.(res.revision);
      const first = calls++ === 0;
      for (let i = 0; i < res.items.length; i += 2) {
        if (first && i > 0) {
          await b.put('/p/1', 'changed'); // changes while the list is being retried
          await b.delete('/p/4');
          throw new TesseraError('unavailable', 'page failed');
        }
        yield res.items.slice(i, i + 2);
      }
    },
  });
  const r = recorder();
  const s = new Syncer({
    backend: paged,
    prefixes: ['/p/'],
    initialBackoffMs: 1,
    ...r,
    onUpdates: (u) => {
      if (s.status !== 'in-sync') pagesBeforeInSync++;
      r.onUpdates(u);
    },
  });
  s.start();
  await s.waitFor('in-sync');
  // First page (/p/0, /p/1), then the retry: a whole list diffed against it, not a replay.
  assert.deepEqual(
    strip(r.updates).map((u) => [u.key, u.value]),
    [
      ['/p/0', 'v0'],
      ['/p/1', 'v1'],
      ['/p/1', 'changed'],
      ['/p/2', 'v2'],
      ['/p/3', 'v3'],
    ],
  );
  assert.ok(pagesBeforeInSync >= 2);
  await b.put('/p/5', 'after');
  await until(() => r.updates.some((u) => u.key === '/p/5'), 'the watch after the list');
  await s.stop();
});
