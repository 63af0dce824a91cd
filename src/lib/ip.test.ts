import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkCidr,
  cidrContainsCidr,
  cidrOverlaps,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  tryParseIp,
  networkOf,
} from './ip.js';

test('parses and formats IPv4', () => {
  assert.equal(formatIp(4, parseIp('10.0.0.5').value), '10.0.0.5');
  assert.equal(tryParseIp('10.0.0.256'), undefined);
  assert.equal(tryParseIp('10.0.0'), undefined);
  assert.equal(tryParseIp('01.0.0.1'), undefined);
});

test('parses and formats IPv6 canonically (RFC 5952)', () => {
  assert.equal(formatIp(6, parseIp('2001:0db8:0000:0000:0000:0000:0000:0001').value), '2001:db8::1');
  assert.equal(formatIp(6, parseIp('::').value), '::');
  assert.equal(formatIp(6, parseIp('fe80::1:0:0:1').value), 'fe80::1:0:0:1');
  assert.equal(formatIp(6, parseIp('1:0:0:2:0:0:0:3').value), '1:0:0:2::3');
  assert.equal(formatIp(6, parseIp('::ffff:10.1.2.3').value), '::ffff:a01:203');
  assert.equal(tryParseIp('1::2::3'), undefined);
  assert.equal(tryParseIp('1:2:3:4:5:6:7:8:9'), undefined);
});

test('rejects host bits in strict CIDRs and names the fix', () => {
  const r = checkCidr('10.0.0.1/24');
  assert.match(r.error ?? '', /host bits set.*10\.0\.0\.0\/24/);
  assert.equal(formatCidr(parseCidr('10.0.0.1/24', { strict: false })), '10.0.0.1/24');
  assert.ok(checkCidr('10.0.0.0/33').error);
  assert.ok(checkCidr('10.0.0.0').error);
  assert.equal(formatCidr(parseCidr('10.0.0.7', { allowBareIp: true })), '10.0.0.7/32');
});

test('containment and overlap', () => {
  const a = parseCidr('10.0.0.0/16');
  const b = parseCidr('10.0.5.0/24');
  const c = parseCidr('10.1.0.0/16');
  assert.ok(cidrContainsCidr(a, b));
  assert.ok(!cidrContainsCidr(b, a));
  assert.ok(cidrOverlaps(a, b) && cidrOverlaps(b, a));
  assert.ok(!cidrOverlaps(a, c));
  assert.ok(!cidrOverlaps(a, parseCidr('fd00::/8')));
});

test('networkOf gives the canonical network', () => {
  assert.equal(formatCidr(networkOf(parseIp('10.244.1.7'), 4)), '0.0.0.0/4');
  assert.equal(formatCidr(networkOf(parseIp('192.168.3.4'), 4)), '192.0.0.0/4');
  assert.equal(formatCidr(networkOf(parseIp('2001:db8::5'), 4)), '2000::/4');
});

test('property: format/parse round trip for both families', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (v) => parseIp(formatIp(4, v)).value === v));
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => parseIp(formatIp(6, v)).value === v));
});
