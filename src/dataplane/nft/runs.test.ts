import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleIR } from '../../policy/index.js';
import { policyShape, portBuckets } from './runs.js';

const allow = (protocol: number | undefined, ports?: { lo: number; hi: number }[]): RuleIR => ({
  action: 'Allow',
  index: 0,
  ...(protocol === undefined ? {} : { protocol }),
  src: {},
  dst: ports ? { ports } : {},
});

describe('policyShape', () => {
  test('Allow rules on port protocols give (protocol, port) keys; no ports covers the whole range', () => {
    assert.deepEqual(
      policyShape([
        allow(6, [
          { lo: 80, hi: 80 },
          { lo: 81, hi: 90 },
        ]),
        allow(17),
      ]).keys,
      [
        { proto: 6, lo: 80, hi: 90 },
        { proto: 17, lo: 0, hi: 65535 },
      ],
    );
  });

  test('any Deny, Pass, Log, ICMP or protocol-less rule keeps the policy out of runs', () => {
    for (const r of [
      { ...allow(6), action: 'Deny' as const },
      { ...allow(6), action: 'Log' as const },
      { ...allow(6), action: 'Pass' as const },
      allow(1),
      allow(undefined),
    ]) {
      assert.equal(policyShape([allow(6), r]).keys, null, JSON.stringify(r));
    }
    assert.equal(policyShape([{ ...allow(6), action: 'Pass' }]).hasPass, true);
  });

  test('named ports cover every port (their numbers are per endpoint)', () => {
    const r: RuleIR = {
      ...allow(6, [{ lo: 80, hi: 80 }]),
      dst: { ports: [{ lo: 80, hi: 80 }], namedPorts: [{ setKey: 'k', selector: 's', name: 'http' }] },
    };
    assert.deepEqual(policyShape([r]).keys, [{ proto: 6, lo: 0, hi: 65535 }]);
  });
});

describe('portBuckets', () => {
  test('disjoint buckets, members in policy order, equal neighbours merged, gaps absent', () => {
    const b = portBuckets([
      [{ proto: 6, lo: 80, hi: 90 }],
      [
        { proto: 6, lo: 85, hi: 85 },
        { proto: 17, lo: 53, hi: 53 },
      ],
      [
        { proto: 6, lo: 86, hi: 100 },
        { proto: 6, lo: 200, hi: 200 },
      ],
    ]);
    assert.deepEqual(b, [
      { proto: 6, lo: 80, hi: 84, members: [0] },
      { proto: 6, lo: 85, hi: 85, members: [0, 1] },
      { proto: 6, lo: 86, hi: 90, members: [0, 2] },
      { proto: 6, lo: 91, hi: 100, members: [2] },
      { proto: 6, lo: 200, hi: 200, members: [2] },
      { proto: 17, lo: 53, hi: 53, members: [1] },
    ]);
  });

  test('every port of every key lands in exactly one bucket that lists its owner', () => {
    const keys = [
      [{ proto: 6, lo: 0, hi: 65535 }],
      [{ proto: 6, lo: 65535, hi: 65535 }],
      [
        { proto: 6, lo: 0, hi: 0 },
        { proto: 6, lo: 1, hi: 1 },
      ],
    ];
    const b = portBuckets(keys);
    for (const port of [0, 1, 2, 65534, 65535]) {
      const hits = b.filter((x) => x.proto === 6 && port >= x.lo && port <= x.hi);
      assert.equal(hits.length, 1, `port ${port}`);
      keys.forEach((ks, i) => {
        if (ks.some((k) => port >= k.lo && port <= k.hi))
          assert.ok(hits[0]!.members.includes(i), `port ${port} policy ${i}`);
      });
    }
  });
});
