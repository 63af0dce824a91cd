import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCidr, parseIp } from '../lib/ip.js';
import {
  adjustHandle,
  assignFromBlock,
  assignOrdinal,
  blockFree,
  blockInUse,
  blockInvariantProblems,
  blockIsEmpty,
  handleCounts,
  newBlock,
  nthBlock,
  ordinalOf,
  ordinalsOfHandle,
  releaseFromBlock,
  releaseHandleFromBlock,
  reservedOrdinals,
  blockCount,
  parseBlock,
} from './block.js';
import { formatCidr } from '../lib/ip.js';

const attrs = { node: 'n1', namespace: 'default', pod: 'p', timestamp: '2024-01-01T00:00:00.000Z' };

describe('block math', () => {
  test('new /26 block has 64 free ordinals and no attributes', () => {
    const b = newBlock(parseCidr('10.0.0.64/26'), 'host:n1');
    assert.equal(b.allocations.length, 64);
    assert.equal(blockFree(b), 64);
    assert.equal(b.cidr, '10.0.0.64/26');
    assert.deepEqual(blockInvariantProblems(b), []);
  });

  test('assigns in free-list order with increasing sequence numbers and shared attribute', () => {
    const b = newBlock(parseCidr('10.0.0.0/30'), null);
    const r = assignFromBlock(b, 3, 'net.c1', attrs);
    assert.deepEqual(
      r.assigned.map((a) => [a.address, a.sequenceNumber]),
      [
        ['10.0.0.0', 0],
        ['10.0.0.1', 1],
        ['10.0.0.2', 2],
      ],
    );
    assert.equal(r.block.attributes.length, 1);
    assert.equal(r.block.attributes[0]!.handle_id, 'net.c1');
    assert.equal(r.block.attributes[0]!.secondary!['pod'], 'p');
    assert.equal(blockFree(b), 4, 'input block is not mutated');
    const more = assignFromBlock(r.block, 5, 'net.c2', attrs);
    assert.equal(more.assigned.length, 1, 'only what is left');
    assert.equal(blockFree(more.block), 0);
  });

  test('reserved ordinals are never assigned', () => {
    const b = newBlock(parseCidr('10.0.0.0/28'), null);
    const reserved = reservedOrdinals(b, [
      parseCidr('10.0.0.0/30'),
      parseCidr('10.0.0.15/32'),
      parseCidr('10.1.0.0/16'),
    ]);
    assert.deepEqual(
      [...reserved].sort((x, y) => x - y),
      [0, 1, 2, 3, 15],
    );
    const r = assignFromBlock(b, 16, 'h', attrs, reserved);
    assert.equal(r.assigned.length, 11);
    assert.ok(r.assigned.every((a) => !reserved.has(a.ordinal)));
    assert.throws(() => assignOrdinal(b, 2, 'h', attrs, reserved), { code: 'validation' });
  });

  test('reservation covering the whole block from outside', () => {
    const b = newBlock(parseCidr('10.0.0.16/28'), null);
    assert.equal(reservedOrdinals(b, [parseCidr('10.0.0.0/24')]).size, 16);
  });

  test('stale release (old sequence number) does not free a reused address', () => {
    let b = newBlock(parseCidr('10.0.0.0/31'), null);
    const a1 = assignFromBlock(b, 1, 'h1', attrs);
    b = a1.block;
    const first = a1.assigned[0]!;
    // released once (correctly), then the same ordinal is reused by h2
    b = releaseFromBlock(b, [{ ordinal: first.ordinal, sequenceNumber: first.sequenceNumber }]).block;
    b = assignFromBlock(b, 1, 'hX', attrs).block; // takes ordinal 1 (free-list order)
    const a2 = assignFromBlock(b, 1, 'h2', attrs);
    b = a2.block;
    assert.equal(a2.assigned[0]!.ordinal, first.ordinal, 'ordinal reused');
    const stale = releaseFromBlock(b, [{ ordinal: first.ordinal, sequenceNumber: first.sequenceNumber }]);
    assert.deepEqual(stale.stale, [first.ordinal]);
    assert.equal(stale.released.length, 0);
    assert.equal(ordinalsOfHandle(stale.block, 'h2').length, 1);
    const byWrongHandle = releaseFromBlock(b, [{ ordinal: first.ordinal, handleId: 'h1' }]);
    assert.deepEqual(byWrongHandle.stale, [first.ordinal]);
  });

  test('release of a free ordinal is reported, not an error', () => {
    const b = newBlock(parseCidr('10.0.0.0/30'), null);
    const r = releaseFromBlock(b, [{ ordinal: 1 }]);
    assert.deepEqual(r.notAllocated, [1]);
  });

  test('releaseHandle frees exactly the handle and compacts attributes', () => {
    let b = newBlock(parseCidr('fd00::/122'), 'host:n1');
    b = assignFromBlock(b, 2, 'a', attrs).block;
    b = assignFromBlock(b, 3, 'b', attrs).block;
    b = assignFromBlock(b, 1, 'c', attrs).block;
    const r = releaseHandleFromBlock(b, 'b');
    assert.equal(r.released.length, 3);
    assert.deepEqual([...handleCounts(r.block)].sort(), [
      ['a', 2],
      ['c', 1],
    ]);
    assert.equal(r.block.attributes.length, 2);
    assert.deepEqual(blockInvariantProblems(r.block), []);
    assert.equal(ordinalsOfHandle(r.block, 'c').length, 1);
  });

  test('assignOrdinal refuses a taken address', () => {
    const b = assignOrdinal(newBlock(parseCidr('10.0.0.0/30'), null), 2, 'h', attrs).block;
    assert.throws(() => assignOrdinal(b, 2, 'h2', attrs), { code: 'already-exists' });
  });

  test('ordinalOf maps addresses and rejects outsiders', () => {
    const b = newBlock(parseCidr('10.0.1.0/26'), null);
    assert.equal(ordinalOf(b, parseIp('10.0.1.63')), 63);
    assert.equal(ordinalOf(b, parseIp('10.0.1.64')), undefined);
    assert.equal(ordinalOf(b, parseIp('fd00::1')), undefined);
  });

  test('block generation', () => {
    const pool = parseCidr('10.244.0.0/16');
    assert.equal(blockCount(pool, 26), 1024n);
    assert.equal(formatCidr(nthBlock(pool, 26, 5n)), '10.244.1.64/26');
  });

  test('handle counts', () => {
    let h = adjustHandle(undefined, 'x', '10.0.0.0/26', 2);
    assert.deepEqual(h, { handleID: 'x', block: { '10.0.0.0/26': 2 } });
    h = adjustHandle(h, 'x', 'fd00::/122', 1);
    h = adjustHandle(h, 'x', '10.0.0.0/26', -2);
    assert.deepEqual(h, { handleID: 'x', block: { 'fd00::/122': 1 } });
    assert.equal(adjustHandle(h, 'x', 'fd00::/122', -1), undefined);
  });

  test('parseBlock round-trips and rejects junk', () => {
    const b = assignFromBlock(newBlock(parseCidr('10.0.0.0/29'), 'host:a'), 2, 'h', attrs).block;
    assert.deepEqual(parseBlock(JSON.stringify(b), 'k'), b);
    assert.throws(() => parseBlock('{"cidr":1}', 'k'), { code: 'bug' });
  });
});

describe('block properties', () => {
  type Op =
    | { kind: 'assign'; n: number; h: number }
    | { kind: 'release'; pick: number; stale: boolean }
    | { kind: 'releaseHandle'; h: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('assign' as const),
      n: fc.integer({ min: 0, max: 5 }),
      h: fc.integer({ min: 0, max: 4 }),
    }),
    fc.record({ kind: fc.constant('release' as const), pick: fc.nat(), stale: fc.boolean() }),
    fc.record({ kind: fc.constant('releaseHandle' as const), h: fc.integer({ min: 0, max: 4 }) }),
  );

  test('random assign/release sequences keep invariants and never hand out an in-use address', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 80 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 3 }),
        (ops, res) => {
          let b = newBlock(parseCidr('10.9.0.0/28'), 'host:x');
          const reserved = new Set(res);
          // model: ordinal -> {handle, seq}
          const model = new Map<number, { h: string; seq: number }>();
          const history: { ordinal: number; seq: number }[] = [];
          for (const o of ops) {
            if (o.kind === 'assign') {
              const before = new Set(model.keys());
              const r = assignFromBlock(b, o.n, `h${o.h}`, attrs, reserved);
              const free = 16 - model.size - [...reserved].filter((x) => !model.has(x)).length;
              assert.equal(r.assigned.length, Math.min(o.n, free));
              for (const a of r.assigned) {
                assert.ok(!before.has(a.ordinal), 'duplicate assignment');
                assert.ok(!reserved.has(a.ordinal), 'reserved handed out');
                model.set(a.ordinal, { h: `h${o.h}`, seq: a.sequenceNumber });
                history.push({ ordinal: a.ordinal, seq: a.sequenceNumber });
              }
              b = r.block;
            } else if (o.kind === 'release') {
              if (history.length === 0) continue;
              const target = history[o.pick % history.length]!;
              const cur = model.get(target.ordinal);
              const r = releaseFromBlock(b, [{ ordinal: target.ordinal, sequenceNumber: target.seq }]);
              if (cur && cur.seq === target.seq) {
                assert.equal(r.released.length, 1);
                model.delete(target.ordinal);
              } else {
                assert.equal(r.released.length, 0, 'stale release freed an address');
              }
              b = r.block;
            } else {
              const r = releaseHandleFromBlock(b, `h${o.h}`);
              for (const [ord, v] of [...model]) if (v.h === `h${o.h}`) model.delete(ord);
              b = r.block;
            }
            assert.deepEqual(blockInvariantProblems(b), []);
            assert.equal(blockInUse(b), model.size);
            for (const [ord, v] of model) assert.deepEqual(ordinalsOfHandle(b, v.h).includes(ord), true);
          }
          if (model.size === 0) assert.ok(blockIsEmpty(b));
        },
      ),
      { numRuns: 300 },
    );
  });
});
