import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostSysctls, renderHostLink, renderHostRoutes, renderPodSetup } from './wiring-render.js';

const w = {
  hostIf: 'tsr0123',
  podIf: 'eth0',
  podMac: '02:11:22:33:44:55',
  netnsName: 'pod1',
  mtu: 1450,
  addresses: ['10.0.0.5', 'fd00::5'],
};

test('host batch: veth with peer in the pod netns, routes tagged protocol 80', () => {
  assert.equal(
    renderHostLink(w) + renderHostRoutes(w),
    'link add tsr0123 mtu 1450 address ee:ee:ee:ee:ee:ee type veth peer name eth0 mtu 1450 address 02:11:22:33:44:55 netns pod1\n' +
      'link set tsr0123 up\n' +
      'route replace 10.0.0.5/32 dev tsr0123 proto 80 scope link\n' +
      'route replace fd00::5/128 dev tsr0123 proto 80 scope link\n',
  );
});

test('pod batch: /32 + /128, gateway 169.254.1.1 with permanent neighbour, v6 via link-local', () => {
  assert.equal(
    renderPodSetup(w),
    'link set eth0 up\n' +
      'addr add 10.0.0.5/32 dev eth0\n' +
      'addr add fd00::5/128 dev eth0 nodad\n' +
      'neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent\n' +
      'route add 169.254.1.1/32 dev eth0 scope link\n' +
      'route add default via 169.254.1.1 dev eth0\n' +
      'route add ::/0 via fe80::ecee:eeff:feee:eeee dev eth0\n',
  );
});

test('host sysctls per family', () => {
  assert.deepEqual(
    hostSysctls('tsr1', { v4: true, v6: false }).map(([k]) => k),
    ['net/ipv4/conf/tsr1/proxy_arp', 'net/ipv4/neigh/tsr1/proxy_delay', 'net/ipv4/conf/tsr1/forwarding'],
  );
});
