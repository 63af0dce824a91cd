import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from './resource.js';
import { decodeNode, decodePool, decodeWorkloadEndpoint, encapMode, namedPorts, obj, str, strs } from './decode.js';

const res = (kind: string, spec: unknown, name = 'x'): Resource =>
  ({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name }, spec }) as Resource;

test('primitives: the one reading every consumer shares', () => {
  // "" is absent (route inputs and BGP said so already; policy used to keep "").
  assert.equal(str(''), undefined);
  assert.equal(str('a'), 'a');
  assert.equal(str(3), undefined);
  // An array is not an object (BGP said so; route inputs and policy used to accept one).
  assert.deepEqual(obj(['a']), {});
  assert.deepEqual(obj(null), {});
  assert.deepEqual(obj('s'), {});
  assert.deepEqual(obj({ a: 1 }), { a: 1 });
  assert.deepEqual(strs(['a', 1, null, 'b']), ['a', 'b']);
  assert.deepEqual(strs('a'), []);
  assert.equal(encapMode('Always'), 'Always');
  assert.equal(encapMode('CrossSubnet'), 'CrossSubnet');
  assert.equal(encapMode('always'), 'Never');
  assert.equal(encapMode(undefined), 'Never');
});

test('decodePool: defaults, projections, and no view without a CIDR', () => {
  assert.deepEqual(decodePool(res('IPPool', { cidr: '10.0.0.0/16' }, 'p')), {
    name: 'p',
    cidr: '10.0.0.0/16',
    family: 4,
    vxlanMode: 'Never',
    ipipMode: 'Never',
    vxlan: false,
    ipip: false,
    natOutgoing: false,
    disabled: false,
  });
  const v6 = decodePool(res('IPPool', { cidr: 'fd00::/64', vxlanMode: 'CrossSubnet', disabled: true }));
  assert.equal(v6?.family, 6);
  assert.equal(v6?.vxlan, true);
  assert.equal(v6?.disabled, true);
  const ipip = decodePool(res('IPPool', { cidr: '10.0.0.0/16', ipipMode: 'Always', natOutgoing: 'true' }));
  assert.equal(ipip?.ipip, true);
  assert.equal(ipip?.natOutgoing, false, 'only the boolean true is true');
  assert.equal(decodePool(res('IPPool', { vxlanMode: 'Always' })), undefined);
  assert.equal(decodePool(res('IPPool', { cidr: '' })), undefined);
  assert.equal(decodePool(res('IPPool', ['10.0.0.0/16'])), undefined);
  assert.equal(decodePool(res('IPPool', undefined)), undefined);
});

test('decodeNode: string fields only, "" and wrong types are absent, legacy addresses.ipv4', () => {
  const n = decodeNode(
    res(
      'Node',
      {
        bgp: { ipv4Address: '10.0.0.1/24', ipv6Address: '', ipv4IPIPTunnelAddr: 7 },
        ipv4VXLANTunnelAddr: '192.168.0.1',
        vxlanTunnelMACAddr: '',
        ipv6VXLANTunnelAddr: ['fd00::1'],
      },
      'n1',
    ),
  );
  assert.deepEqual(n, { name: 'n1', bgp: { ipv4Address: '10.0.0.1/24' }, ipv4VXLANTunnelAddr: '192.168.0.1' });
  assert.deepEqual(decodeNode(res('Node', { addresses: { ipv4: '10.0.0.2/24' } })).bgp, {
    ipv4Address: '10.0.0.2/24',
  });
  assert.deepEqual(
    decodeNode(res('Node', { bgp: { ipv4Address: '10.0.0.1/24' }, addresses: { ipv4: '10.0.0.2/24' } })).bgp,
    { ipv4Address: '10.0.0.1/24' },
    'bgp.ipv4Address wins',
  );
  assert.deepEqual(decodeNode(res('Node', { bgp: ['x'] })), { name: 'x', bgp: {} });
  assert.deepEqual(decodeNode(res('Node', 'junk')), { name: 'x', bgp: {} });
});

test('decodeWorkloadEndpoint: strings, lists, ports, and profiles absent vs empty', () => {
  const w = decodeWorkloadEndpoint(
    res('WorkloadEndpoint', {
      node: 'n1',
      interfaceName: '',
      orchestrator: 'k8s',
      pod: 'p',
      ipNetworks: ['10.0.0.1/32', 5],
      ports: [
        { name: 'http', port: 80 },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'sctp', port: 9, protocol: 132 },
        { name: 'bad', port: '80' },
        { port: 1 },
        'junk',
        ['x'],
        { name: 'weird', port: 2, protocol: { x: 1 } },
      ],
    }),
  );
  assert.deepEqual(w, {
    node: 'n1',
    orchestrator: 'k8s',
    pod: 'p',
    ipNetworks: ['10.0.0.1/32'],
    ports: [
      { name: 'http', protocol: 'TCP', port: 80 },
      { name: 'dns', protocol: 'UDP', port: 53 },
      { name: 'sctp', protocol: 132, port: 9 },
      { name: 'weird', protocol: 'TCP', port: 2 },
    ],
  });
  assert.equal('profiles' in w, false, 'no profiles array: absent');
  assert.deepEqual(decodeWorkloadEndpoint(res('WorkloadEndpoint', { profiles: [] })).profiles, []);
  assert.deepEqual(decodeWorkloadEndpoint(res('WorkloadEndpoint', { profiles: ['a', 1] })).profiles, ['a']);
  assert.deepEqual(decodeWorkloadEndpoint(res('WorkloadEndpoint', null)), { ipNetworks: [], ports: [] });
  assert.deepEqual(namedPorts({ name: 'a', port: 1 }), []);
});
