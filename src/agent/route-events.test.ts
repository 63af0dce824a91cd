import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeEventMatters } from './route-events.js';

test('deletions and foreign or gateway Tessera routes start a cycle; a workload host route does not', () => {
  const m = (l: string) => routeEventMatters(l, 'tsr');
  assert.equal(m('Deleted 10.9.0.5 dev tsrA proto 80 scope link '), true);
  assert.equal(m('Deleted 10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.1'), true);
  assert.equal(m('10.9.0.5 dev tsrA proto 80 scope link '), false, 'the CNI wired a pod');
  assert.equal(m('fd00::5 dev tsrA proto 80 metric 1024 pref medium'), false);
  assert.equal(m('10.9.1.0/26 via 10.9.0.5 dev tessera.vxlan proto 80 onlink '), true);
  assert.equal(m('blackhole 10.9.2.0/26 proto 80 '), true);
  assert.equal(
    m('10.9.0.0/26 dev tsrA proto 80 scope link '),
    true,
    'a block on a workload interface is not a host route',
  );
  assert.equal(m('10.9.0.6 dev eth0 proto 80 scope link '), true, 'proto 80 on another interface');
  assert.equal(m('10.9.0.7 dev tsrB proto static scope link '), false, 'not ours');
  assert.equal(m('local fe80::1 dev tsrA table local proto kernel metric 0 pref medium'), false);
  assert.equal(m('10.9.0.8 dev tsrC proto 800 scope link'), false, 'protocol 800 is not 80');
});
