import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lineSplitter } from './lines.js';

test('lines split across chunks arrive whole', () => {
  const got: string[] = [];
  const feed = lineSplitter((l) => got.push(l));
  feed('Deleted 10.9.0.5 dev ts');
  feed('rA proto 80\n10.9.0.6 dev tsrB proto 80\nblack');
  assert.deepEqual(got, ['Deleted 10.9.0.5 dev tsrA proto 80', '10.9.0.6 dev tsrB proto 80']);
  feed('hole 10.9.2.0/26 proto 80\n\n');
  assert.deepEqual(got.slice(2), ['blackhole 10.9.2.0/26 proto 80', '']);
});

test('property: any chunking of a text gives its lines', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n') })), (chunks) => {
      const got: string[] = [];
      const feed = lineSplitter((l) => got.push(l));
      for (const c of chunks) feed(c);
      const lines = chunks.join('').split('\n');
      lines.pop(); // the unterminated rest is not a line yet
      assert.deepEqual(got, lines);
    }),
  );
});
