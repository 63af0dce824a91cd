import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAddress, parseAddrJson, parseAutodetectMethod } from './autodetect.js';
import { isTesseraError } from '../lib/errors.js';

const ifaces = parseAddrJson(
  JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    { ifname: 'tsr0123', addr_info: [{ family: 'inet', local: '169.254.1.1', prefixlen: 32, scope: 'global' }] },
    { ifname: 'eth0', addr_info: [{ family: 'inet', local: '10.0.0.5', prefixlen: 24, scope: 'global' }] },
    { ifname: 'eth1', addr_info: [{ family: 'inet', local: '192.168.7.5', prefixlen: 16, scope: 'global' }] },
  ]),
);

test('first-found skips loopback and workload devices', () => {
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('first-found'), 4), '10.0.0.5/24');
});
test('interface=REGEX', () => {
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('interface=eth1'), 4), '192.168.7.5/16');
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('interface=wlan.*'), 4), undefined);
});
test('skip-interface', () => {
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('skip-interface=eth0'), 4), '192.168.7.5/16');
});
test('cidr=', () => {
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('cidr=192.168.0.0/16'), 4), '192.168.7.5/16');
});
test('can-reach picks the route source address', () => {
  assert.equal(chooseAddress(ifaces, parseAutodetectMethod('can-reach=8.8.8.8'), 4, '192.168.7.5'), '192.168.7.5/16');
});
test('bad methods are validation errors', () => {
  for (const m of ['bogus', 'cidr=10.0.0.0/40', 'can-reach=', 'interface=(']) {
    assert.throws(
      () => parseAutodetectMethod(m),
      (e) => isTesseraError(e, 'validation'),
    );
  }
});
