import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CidrLookup } from './cidr-lookup.js';
import { cidrContainsIp, familyBits, parseCidr, parseIp, type Cidr, type IpAddr, type IpFamily } from './ip.js';

test('finds the CIDR holding an address, per family, and nothing outside', () => {
  const l = new CidrLookup<string>([
    [parseCidr('10.244.1.0/26'), 'a'],
    [parseCidr('10.244.1.64/26'), 'b'],
    [parseCidr('10.245.0.0/24'), 'c'],
    [parseCidr('fd00::/122'), 'v6'],
  ]);
  assert.equal(l.find(parseIp('10.244.1.5')), 'a');
  assert.equal(l.find(parseIp('10.244.1.127')), 'b');
  assert.equal(l.find(parseIp('10.245.0.255')), 'c');
  assert.equal(l.find(parseIp('10.244.1.128')), undefined);
  assert.equal(l.find(parseIp('fd00::3f')), 'v6');
  assert.equal(l.find(parseIp('fd00::40')), undefined);
  // An IPv4 value never matches an IPv6 network of the same numeric value, nor the reverse.
  assert.equal(l.find(parseIp('::a00:0')), undefined);
  assert.equal(new CidrLookup<string>().find(parseIp('10.0.0.1')), undefined);
});

test('overlapping CIDRs: the earliest added wins, whatever the prefix lengths', () => {
  const l = new CidrLookup<string>();
  l.add(parseCidr('10.0.0.0/24'), 'wide-first');
  l.add(parseCidr('10.0.0.0/26'), 'narrow');
  l.add(parseCidr('10.0.0.0/24'), 'wide-again');
  assert.equal(l.find(parseIp('10.0.0.1')), 'wide-first');
  const m = new CidrLookup<string>([
    [parseCidr('10.0.0.0/26'), 'narrow-first'],
    [parseCidr('10.0.0.0/24'), 'wide'],
  ]);
  assert.equal(m.find(parseIp('10.0.0.1')), 'narrow-first');
  assert.equal(m.find(parseIp('10.0.0.200')), 'wide');
});

test('property: answers exactly what a scan in insertion order answers', () => {
  // Small address spaces (a few prefix lengths around one base) so overlaps and hits are common.
  const family = fc.constantFrom<IpFamily>(4, 6);
  const cidrOf = (f: IpFamily) =>
    fc
      .record({
        off: fc.integer({ min: 0, max: 255 }),
        prefix: fc.integer({ min: familyBits(f) - 8, max: familyBits(f) }),
      })
      .map(({ off, prefix }): Cidr => {
        const bits = familyBits(f);
        const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
        return { family: f, value: ((f === 4 ? 0x0a000000n : 0xfd00n << 112n) + BigInt(off)) & mask, prefix };
      });
  const ipOf = (f: IpFamily) =>
    fc
      .integer({ min: 0, max: 300 })
      .map((off): IpAddr => ({ family: f, value: (f === 4 ? 0x0a000000n : 0xfd00n << 112n) + BigInt(off) }));
  fc.assert(
    fc.property(
      fc.array(
        family.chain((f) => cidrOf(f)),
        { maxLength: 30 },
      ),
      fc.array(
        family.chain((f) => ipOf(f)),
        { minLength: 1, maxLength: 30 },
      ),
      (cidrs, ips) => {
        const l = new CidrLookup(cidrs.map((c, i) => [c, i] as const));
        for (const ip of ips) {
          const scan = cidrs.findIndex((c) => cidrContainsIp(c, ip));
          assert.equal(l.find(ip), scan === -1 ? undefined : scan);
        }
      },
    ),
  );
});
