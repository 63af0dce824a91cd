import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Throttler } from './throttler.js';

test('collapses triggers during a run into exactly one more run', async () => {
  let runs = 0;
  let release: () => void = () => undefined;
  const t = new Throttler(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
  });
  const first = t.trigger();
  t.trigger();
  t.trigger();
  t.trigger();
  release();
  await first;
  await t.idle();
  assert.equal(runs, 2);
});

test('a failing run rejects its caller and does not wedge the throttler', async () => {
  let n = 0;
  const t = new Throttler(async () => {
    n++;
    if (n === 1) throw new Error('boom');
  });
  await assert.rejects(t.trigger(), /boom/);
  await t.trigger();
  assert.equal(n, 2);
});
