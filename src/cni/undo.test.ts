import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UndoStack } from './undo.js';

test('unwind runs steps newest first and continues past failures', async () => {
  const order: string[] = [];
  const u = new UndoStack();
  u.push('a', async () => order.push('a'));
  u.push('b', async () => {
    order.push('b');
    throw new Error('boom');
  });
  u.push('c', async () => order.push('c'));
  await u.unwind();
  assert.deepEqual(order, ['c', 'b', 'a']);
  assert.equal(u.failures.length, 1);
  assert.equal(u.failures[0]?.what, 'b');
  assert.equal(u.size, 0);
});
