import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countAllowed, diffMatrices, emptyMatrix, formatMatrix } from './matrix.js';

function sample() {
  const m = emptyMatrix(['y/c', 'x/a', 'x/b'], 80, 'TCP');
  m.allowed['x/a'] = { 'x/b': true, 'y/c': false };
  m.allowed['x/b'] = { 'x/a': true, 'y/c': true };
  m.allowed['y/c'] = { 'x/a': true, 'x/b': true };
  return m;
}

test('pods are sorted and the diagonal is not counted', () => {
  const m = sample();
  assert.deepEqual(m.pods, ['x/a', 'x/b', 'y/c']);
  assert.deepEqual(countAllowed(m), { allowed: 5, total: 6 });
});

test('table: numbered columns, one row per source, a summary line', () => {
  assert.equal(
    formatMatrix(sample()),
    [
      'TCP/80: row = from, column = to (✓ connected, ✗ blocked)',
      '         1 2 3',
      '1  x/a   · ✓ ✗',
      '2  x/b   ✓ · ✓',
      '3  y/c   ✓ ✓ ·',
      '5/6 pairs connected',
    ].join('\n'),
  );
});

test('diff lists exactly the pairs that changed', () => {
  const before = sample();
  const after = sample();
  after.allowed['x/a']!['y/c'] = true;
  after.allowed['y/c']!['x/b'] = false;
  assert.deepEqual(diffMatrices(before, after), [
    { from: 'x/a', to: 'y/c', before: false, after: true },
    { from: 'y/c', to: 'x/b', before: true, after: false },
  ]);
  assert.deepEqual(diffMatrices(before, sample()), []);
});
