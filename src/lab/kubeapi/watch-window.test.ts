import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeContinue, encodeContinue, expiredStatus, watchEventType, watchStart } from './watch-window.js';

test('watchStart: unset/0 lists first, a version resumes after it, garbage is invalid', () => {
  assert.deepEqual(watchStart(undefined), { mode: 'list-then-watch' });
  assert.deepEqual(watchStart('0'), { mode: 'list-then-watch' });
  assert.deepEqual(watchStart('41'), { mode: 'from-revision', fromRevision: 42 });
  const bad = watchStart('abc');
  assert.equal(bad.mode, 'invalid');
});

test('watchEventType: selector transitions become ADDED/DELETED for that watcher', () => {
  assert.equal(watchEventType('put', undefined, true), 'ADDED');
  assert.equal(watchEventType('put', undefined, false), undefined);
  assert.equal(watchEventType('put', true, true), 'MODIFIED');
  assert.equal(watchEventType('put', true, false), 'DELETED');
  assert.equal(watchEventType('put', false, true), 'ADDED');
  assert.equal(watchEventType('put', false, false), undefined);
  assert.equal(watchEventType('delete', true, false), 'DELETED');
  assert.equal(watchEventType('delete', false, false), undefined);
});

test('expired Status is a 410 with reason Expired; continue tokens round-trip', () => {
  const s = expiredStatus('7', 12);
  assert.equal(s['code'], 410);
  assert.equal(s['reason'], 'Expired');
  assert.match(String(s['message']), /too old resource version: 7/);
  assert.deepEqual(decodeContinue(encodeContinue('/registry-tessera/core/pods/a/b', 9)), {
    lastKey: '/registry-tessera/core/pods/a/b',
    revision: 9,
  });
  assert.equal(decodeContinue('not-a-token'), undefined);
});
