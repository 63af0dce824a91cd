import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateRoutes, RouteCalculator } from './calc.js';
import type { EncapMode, NodeInfo, RouteInputs } from './model.js';

function nodes(...list: NodeInfo[]) {
  return new Map(list.map((n) => [n.name, n]));
}
const n1: NodeInfo = {
  name: 'n1',
  ipv4Address: '10.0.0.1/24',
  vxlanTunnelAddr: '10.244.0.0',
  vxlanTunnelMac: '66:00:00:00:00:01',
};
const n2: NodeInfo = {
  name: 'n2',
  ipv4Address: '10.0.0.2/24',
  vxlanTunnelAddr: '10.244.1.0',
  vxlanTunnelMac: '66:00:00:00:00:02',
};
const n3: NodeInfo = {
  name: 'n3',
  ipv4Address: '10.0.1.3/24',
  vxlanTunnelAddr: '10.244.2.0',
  vxlanTunnelMac: '66:00:00:00:00:03',
};

function inputs(vxlanMode: EncapMode, extra: Partial<RouteInputs> = {}): RouteInputs {
  return {
    localNode: 'n1',
    nodes: nodes(n1, n2, n3),
    pools: [
      { name: 'default', cidr: '10.244.0.0/16', vxlanMode, ipipMode: 'Never', natOutgoing: true, disabled: false },
    ],
    blocks: [
      { cidr: '10.244.0.0/26', node: 'n1' },
      { cidr: '10.244.1.0/26', node: 'n2' },
      { cidr: '10.244.2.0/26', node: 'n3' },
    ],
    workloads: [
      { key: 'w1', node: 'n1', interfaceName: 'tsr1', ipNetworks: ['10.244.0.5/32'] },
      { key: 'w2', node: 'n2', interfaceName: 'tsr2', ipNetworks: ['10.244.1.5/32'] },
      // borrowed: lives on n3, address from n2's block
      { key: 'w3', node: 'n3', interfaceName: 'tsr3', ipNetworks: ['10.244.1.9/32'] },
    ],
    ipipSupported: false,
    bgpRouting: false,
    ...extra,
  };
}

test('local blackhole and workload routes; CrossSubnet encapsulates only across subnets', () => {
  const s = calculateRoutes(inputs('CrossSubnet'));
  const byDst = new Map(s.routes.map((r) => [r.dst, r]));
  assert.equal(byDst.get('10.244.0.0/26')?.type, 'blackhole');
  assert.deepEqual(byDst.get('10.244.0.5/32'), {
    family: 4,
    dst: '10.244.0.5/32',
    type: 'unicast',
    dev: 'tsr1',
    scope: 'link',
  });
  assert.deepEqual(byDst.get('10.244.1.0/26'), { family: 4, dst: '10.244.1.0/26', type: 'unicast', via: '10.0.0.2' });
  assert.deepEqual(byDst.get('10.244.2.0/26'), {
    family: 4,
    dst: '10.244.2.0/26',
    type: 'unicast',
    via: '10.244.2.0',
    dev: 'tessera.vxlan',
    onlink: true,
  });
  // the borrowed address on n3 gets a host route towards n3, over VXLAN (other subnet)
  assert.equal(byDst.get('10.244.1.9/32')?.via, '10.244.2.0');
  assert.deepEqual(
    s.vxlanPeers.map((p) => p.node),
    ['n3'],
  );
  assert.deepEqual(s.needVxlan, { v4: true, v6: false });
  assert.deepEqual(s.natPools, ['10.244.0.0/16']);
});

test('VXLAN Always encapsulates to every remote node', () => {
  const s = calculateRoutes(inputs('Always'));
  assert.deepEqual(
    s.vxlanPeers.map((p) => p.node),
    ['n2', 'n3'],
  );
  assert.equal(s.routes.find((r) => r.dst === '10.244.1.0/26')?.dev, 'tessera.vxlan');
});

test('no encapsulation: same-subnet routes natively, cross-subnet reported as a problem', () => {
  const s = calculateRoutes(inputs('Never'));
  assert.equal(s.routes.find((r) => r.dst === '10.244.1.0/26')?.via, '10.0.0.2');
  assert.equal(
    s.routes.find((r) => r.dst === '10.244.2.0/26'),
    undefined,
  );
  assert.ok(s.problems.some((p) => /another subnet/.test(p.message)));
  assert.equal(s.needVxlan.v4, false);
});

test('IPIP on a kernel without ipip is reported, not programmed', () => {
  const i = inputs('Never');
  const s = calculateRoutes({ ...i, pools: [{ ...i.pools[0]!, ipipMode: 'Always' }] });
  assert.equal(s.needIpip, true);
  assert.ok(s.problems.some((p) => /no ipip support/.test(p.message)));
  assert.equal(
    s.routes.find((r) => r.dst === '10.244.1.0/26'),
    undefined,
  );
  const ok = calculateRoutes({ ...i, pools: [{ ...i.pools[0]!, ipipMode: 'Always' }], ipipSupported: true });
  assert.equal(ok.routes.find((r) => r.dst === '10.244.1.0/26')?.dev, 'tessera.ipip');
});

test('output depends only on inputs: permuted inputs give the same state', () => {
  const a = inputs('CrossSubnet');
  const b = { ...a, blocks: [...a.blocks].reverse(), workloads: [...a.workloads].reverse() };
  assert.deepEqual(calculateRoutes(a), calculateRoutes(b));
});

test('a remote node without a tunnel address defers its VXLAN routes', () => {
  const i = inputs('Always');
  const s = calculateRoutes({ ...i, nodes: nodes(n1, { name: 'n2', ipv4Address: '10.0.0.2/24' }, n3) });
  assert.equal(
    s.routes.find((r) => r.dst === '10.244.1.0/26'),
    undefined,
  );
  assert.ok(s.problems.some((p) => /no VXLAN tunnel address/.test(p.message)));
});

test('BGP routing leaves native remote routes to BIRD but keeps encapsulated ones', () => {
  const s = calculateRoutes(inputs('CrossSubnet', { bgpRouting: true }));
  assert.equal(
    s.routes.find((r) => r.dst === '10.244.1.0/26'),
    undefined,
  );
  assert.equal(s.routes.find((r) => r.dst === '10.244.2.0/26')?.dev, 'tessera.vxlan');
});

test('a RouteCalculator keeps the addresses its last cycle used and gives what a fresh calculation gives', () => {
  const calc = new RouteCalculator();
  const all = inputs('CrossSubnet');
  assert.deepEqual(calc.calculate(all), calculateRoutes(all));
  assert.equal(calc.cachedAddresses, 3);
  // w3 is gone: its address is dropped at the end of the next cycle, and a new one is parsed.
  const next = {
    ...all,
    workloads: [...all.workloads.slice(0, 2), { key: 'w4', node: 'n2', interfaceName: 'x', ipNetworks: ['bad'] }],
  };
  assert.deepEqual(calc.calculate(next), calculateRoutes(next));
  assert.equal(calc.cachedAddresses, 3, 'w1, w2 and the invalid "bad"; w3 swept');
  assert.deepEqual(calc.calculate(all), calculateRoutes(all));
  assert.equal(calc.cachedAddresses, 3);
});
