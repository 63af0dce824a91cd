import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRatio, max, passes, percentile, ratioOf } from './stats.js';

test('percentile by nearest rank', () => {
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([5, 1, 3, 2, 4], 100), 5);
  assert.equal(percentile([7], 0), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(max([1, 9, 3]), 9);
});

test('ratio checks pass at or above the target', () => {
  const c = { label: 'a / b', numerator: 9.5, denominator: 10, target: 0.95 };
  assert.equal(ratioOf(c), 0.95);
  assert.equal(passes(c), true);
  assert.equal(passes({ ...c, numerator: 9.4 }), false);
  assert.match(formatRatio(c), /a \/ b\s+0\.95\s+\(target >= 0\.95\)\s+PASS$/);
  assert.match(formatRatio({ ...c, denominator: 0 }), /n\/a.*FAIL$/);
});
