import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HostAddressSet } from './host-set.js';
import { parseCidr, type Cidr } from '../lib/ip.js';
import { netText } from './calculator.js';

const ADDRS = [
  '10.0.0.1/32',
  '10.0.0.2/32',
  '10.0.0.10/32',
  '9.255.255.255/32',
  '10.0.1.0/32',
  'fd00::1/128',
  'fd00::a/128',
  '::1/128',
];
const IDS = ['a', 'b', 'c', 'd', 'e'];

const build = (members: Map<string, Cidr[]>) => HostAddressSet.build('sel', [...members], netText);

test('property: updates member by member give what a rebuild from the final members gives', () => {
  const update = fc.record({
    id: fc.constantFrom(...IDS),
    addrs: fc.subarray(ADDRS, { maxLength: 3 }),
    take: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...IDS), fc.subarray(ADDRS, { maxLength: 2 })),
      fc.array(update, { maxLength: 30 }),
      (init, updates) => {
        const members = new Map(Object.entries(init).map(([id, a]) => [id, a.map((x) => parseCidr(x))]));
        const s = build(members)!;
        const first = s.def();
        const taken: { def: ReturnType<HostAddressSet['def']>; copy: string[][] }[] = [];
        for (const u of updates) {
          const nets = u.addrs.map((x) => parseCidr(x));
          assert.equal(s.update(u.id, nets), true);
          if (nets.length) members.set(u.id, nets);
          else members.delete(u.id);
          if (u.take) {
            const prev = taken.at(-1)?.def ?? first;
            const def = s.def();
            taken.push({ def, copy: [[...def.v4], [...def.v6]] });
            assert.deepEqual(def, build(members)!.def());
            // A changed array comes with exactly what changed since the previous one (the nft diff uses it).
            const changes = s.changes();
            for (const fam of ['v4', 'v6'] as const) {
              const d = changes[fam === 'v4' ? 4 : 6];
              if (def[fam] === prev[fam]) {
                assert.equal(d, undefined, `${fam}: unchanged, no changes`);
                continue;
              }
              assert.ok(d, `${fam}: changes given`);
              assert.equal(d.from, prev[fam], `${fam}: derived from the previous array`);
              assert.deepEqual(
                [[...d.added].sort(), [...d.removed].sort()],
                [
                  def[fam].filter((e) => !prev[fam].includes(e)).sort(),
                  prev[fam].filter((e) => !def[fam].includes(e)).sort(),
                ],
              );
            }
          }
        }
        assert.deepEqual(s.def(), build(members)!.def());
        // Handed-out arrays are shared with programmed state: later updates never change them.
        for (const t of taken) assert.deepEqual([t.def.v4, t.def.v6], t.copy);
      },
    ),
    { numRuns: 300 },
  );
});

test('sorted by address, shared addresses listed once and kept while any member has them', () => {
  const s = build(
    new Map([
      ['a', [parseCidr('10.0.0.10/32'), parseCidr('fd00::1/128')]],
      ['b', [parseCidr('10.0.0.2/32')]],
    ]),
  )!;
  assert.deepEqual(s.def(), { selector: 'sel', v4: ['10.0.0.2', '10.0.0.10'], v6: ['fd00::1'] });
  s.update('c', [parseCidr('10.0.0.2/32')]);
  s.update('b', []);
  assert.deepEqual(s.def().v4, ['10.0.0.2', '10.0.0.10'], 'still held by c');
  s.update('c', []);
  assert.deepEqual(s.def().v4, ['10.0.0.10']);
});

test('a prefix is not a host address: no incremental set, and an update that brings one says so', () => {
  assert.equal(build(new Map([['a', [parseCidr('10.0.0.0/24')]]])), undefined);
  const s = build(new Map([['a', [parseCidr('10.0.0.1/32')]]]))!;
  assert.equal(s.update('b', [parseCidr('192.168.0.0/16')]), false);
});
