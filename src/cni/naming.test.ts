import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { handleId, hostVethName, podMac, wepName } from './naming.js';

test('host veth name is prefix + 11 hex of sha1(key), within IFNAMSIZ', () => {
  const hex = createHash('sha1').update('default.web-1').digest('hex').slice(0, 11);
  assert.equal(hostVethName('tsr', 'default.web-1'), `tsr${hex}`);
  assert.equal(hostVethName('tsr', 'default.web-1').length, 14);
  assert.notEqual(hostVethName('tsr', 'a.b'), hostVethName('tsr', 'a.c'));
});

test('pod MAC is stable, unicast and locally administered', () => {
  const m = podMac('abc');
  assert.equal(m, podMac('abc'));
  assert.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  const first = parseInt(m.slice(0, 2), 16);
  assert.equal(first & 1, 0);
  assert.equal(first & 2, 2);
});

test("WEP names follow Calico's dash escaping", () => {
  assert.equal(wepName('node-1', 'k8s', 'web-abc', 'eth0'), 'node--1-k8s-web--abc-eth0');
  assert.equal(wepName('n1', 'cni', 'c0ffee', 'eth0'), 'n1-cni-c0ffee-eth0');
  assert.equal(handleId('tessera', 'c1'), 'tessera.c1');
});
