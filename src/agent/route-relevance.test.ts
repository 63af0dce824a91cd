import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lookupKind } from '../api/index.js';
import { calculateRoutes } from '../dataplane/routes/index.js';
import { ipamKeys, resourceKey } from '../datastore/index.js';
import { DatastoreMirror } from './mirror.js';
import { routeInputs } from './route-inputs.js';
import { RouteRelevance } from './route-relevance.js';

const NODE = lookupKind('Node')!;
const POOL = lookupKind('IPPool')!;
const WEP = lookupKind('WorkloadEndpoint')!;
const GNP = lookupKind('GlobalNetworkPolicy')!;
const LOCAL = 'n1';

const nodeValue = (name: string, ip: string, extra: { status?: unknown; labels?: Record<string, string> } = {}) =>
  JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name, labels: extra.labels ?? {} },
    spec: {
      bgp: { ipv4Address: `${ip}/24` },
      ipv4VXLANTunnelAddr: `10.99.0.${ip.split('.')[3]}`,
      vxlanTunnelMACAddr: '66:00:00:00:00:01',
    },
    ...(extra.status ? { status: extra.status } : {}),
  });
const poolValue = (spec: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'p' },
    spec: { cidr: '10.244.0.0/16', ...spec },
  });
const blockValue = (cidr: string, node: string | null, allocated = 0) =>
  JSON.stringify({
    cidr,
    affinity: node ? `host:${node}` : null,
    allocations: Array.from({ length: 64 }, (_, i) => (i < allocated ? i : null)),
  });
const wepValue = (name: string, node: string, ip: string, labels: Record<string, string> = {}) =>
  JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name, namespace: 'default', labels },
    spec: { node, interfaceName: `tsr${name}`, ipNetworks: [`${ip}/32`] },
  });

function cluster() {
  const m = new DatastoreMirror(() => undefined);
  const r = new RouteRelevance(LOCAL);
  const put = (key: string, value: string | undefined) => {
    const c = m.apply({ key, value });
    assert.ok(c, `mirror took ${key}`);
    return r.relevant(c, m);
  };
  put(resourceKey(POOL, 'p'), poolValue({ vxlanMode: 'Always' }));
  put(resourceKey(NODE, 'n1'), nodeValue('n1', '10.240.0.1'));
  put(resourceKey(NODE, 'n2'), nodeValue('n2', '10.240.0.2'));
  put(ipamKeys.block('10.244.1.0/26'), blockValue('10.244.1.0/26', 'n1'));
  put(ipamKeys.block('10.244.2.0/26'), blockValue('10.244.2.0/26', 'n2'));
  put(ipamKeys.block('10.244.3.0/26'), blockValue('10.244.3.0/26', null));
  return { m, r, put };
}

test('allocations in a block, label edits and status writes are not route changes', () => {
  const { put } = cluster();
  assert.equal(
    put(ipamKeys.block('10.244.2.0/26'), blockValue('10.244.2.0/26', 'n2', 5)),
    false,
    'allocation in a remote block',
  );
  assert.equal(
    put(ipamKeys.block('10.244.1.0/26'), blockValue('10.244.1.0/26', 'n1', 5)),
    false,
    'allocation in a local block',
  );
  assert.equal(
    put(resourceKey(NODE, 'n2'), nodeValue('n2', '10.240.0.2', { status: { conditions: [] }, labels: { a: 'b' } })),
    false,
  );
  assert.equal(
    put(resourceKey(NODE, 'n1'), nodeValue('n1', '10.240.0.1', { status: { conditions: [{ type: 'Ready' }] } })),
    false,
    'own status',
  );
  const w = resourceKey(WEP, 'a', 'default');
  assert.equal(put(w, wepValue('a', 'n2', '10.244.2.5')), false, "remote pod inside its node's block");
  assert.equal(put(w, wepValue('a', 'n2', '10.244.2.5', { app: 'x' })), false, 'label edit');
  assert.equal(put(w, undefined), false, 'remote pod deleted');
  assert.equal(
    put(
      resourceKey(GNP, 'default.p'),
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'default.p' },
        spec: {},
      }),
    ),
    false,
  );
});

test('owners, addresses, pools, local pods and borrowed addresses are route changes', () => {
  const { put } = cluster();
  assert.equal(put(ipamKeys.block('10.244.4.0/26'), blockValue('10.244.4.0/26', 'n2')), true, 'new block');
  assert.equal(put(ipamKeys.block('10.244.4.0/26'), blockValue('10.244.4.0/26', null)), true, 'affinity released');
  assert.equal(put(ipamKeys.block('10.244.4.0/26'), undefined), true, 'block deleted');
  assert.equal(put(resourceKey(NODE, 'n2'), nodeValue('n2', '10.240.0.22')), true, 'remote node moved');
  assert.equal(put(resourceKey(NODE, 'n3'), nodeValue('n3', '10.240.0.3')), true, 'node joined');
  assert.equal(put(resourceKey(POOL, 'p'), poolValue({ vxlanMode: 'CrossSubnet' })), true);
  assert.equal(put(resourceKey(WEP, 'l', 'default'), wepValue('l', 'n1', '10.244.1.7')), true, 'local pod');
  assert.equal(
    put(resourceKey(WEP, 'b', 'default'), wepValue('b', 'n2', '10.244.3.9')),
    true,
    'borrowed from an unaffine block',
  );
  assert.equal(
    put(resourceKey(WEP, 'c', 'default'), wepValue('c', 'n2', '10.244.1.9')),
    true,
    'borrowed from our block',
  );
  assert.equal(
    put(resourceKey(WEP, 'd', 'default'), wepValue('d', 'n2', 'not-an-ip')),
    true,
    'bad address: reported by the calculator',
  );
  assert.equal(put(resourceKey(WEP, 'b', 'default'), undefined), true, 'borrowed pod deleted');
});

test('a block that changes owner is seen by later workload checks', () => {
  const { put } = cluster();
  const w = resourceKey(WEP, 'a', 'default');
  assert.equal(put(w, wepValue('a', 'n2', '10.244.3.5')), true, 'borrowed while 10.244.3.0/26 is unaffine');
  assert.equal(put(ipamKeys.block('10.244.3.0/26'), blockValue('10.244.3.0/26', 'n2')), true);
  assert.equal(put(w, wepValue('a', 'n2', '10.244.3.6')), false, "now inside its own node's block");
});

test('property: whenever a change is called irrelevant, the calculated routes are unchanged; the routed workloads give the routes of all', () => {
  const nodes = ['n1', 'n2', 'n3'];
  const blocks = ['10.244.1.0/26', '10.244.2.0/26', '10.244.3.0/26', '10.244.1.0/25'];
  const ipIn = (b: string, i: number) => `${b.split('/')[0]!.split('.').slice(0, 3).join('.')}.${i}`;
  const change = fc.oneof(
    fc.record({
      t: fc.constant('block' as const),
      b: fc.constantFrom(...blocks),
      owner: fc.constantFrom(null, ...nodes),
      n: fc.nat(3),
      del: fc.boolean(),
    }),
    fc.record({
      t: fc.constant('node' as const),
      node: fc.constantFrom(...nodes),
      ip: fc.constantFrom('10.240.0.1', '10.240.0.2', '10.240.1.3'),
      label: fc.boolean(),
      del: fc.boolean(),
    }),
    fc.record({
      t: fc.constant('wep' as const),
      name: fc.constantFrom('a', 'b', 'c'),
      node: fc.constantFrom(...nodes),
      b: fc.constantFrom(...blocks),
      i: fc.nat(9),
      label: fc.boolean(),
      del: fc.boolean(),
    }),
    fc.record({ t: fc.constant('pool' as const), mode: fc.constantFrom('Always', 'CrossSubnet', 'Never') }),
  );
  fc.assert(
    fc.property(fc.array(change, { minLength: 1, maxLength: 40 }), (changes) => {
      const { m, r, put } = cluster();
      const opts = { ipipSupported: false, bgpRouting: false };
      const routes = () => JSON.stringify(calculateRoutes(routeInputs(m, LOCAL, opts)));
      // Interleaved reads, so the kept set is sometimes updated in place and sometimes rebuilt.
      const fromRouted = () => JSON.stringify(calculateRoutes(routeInputs(m, LOCAL, opts, r.routedWorkloads(m))));
      for (const c of changes) {
        const before = routes();
        let relevant: boolean;
        if (c.t === 'block') relevant = put(ipamKeys.block(c.b), c.del ? undefined : blockValue(c.b, c.owner, c.n));
        else if (c.t === 'node')
          relevant = put(
            resourceKey(NODE, c.node),
            c.del ? undefined : nodeValue(c.node, c.ip, c.label ? { labels: { x: 'y' } } : {}),
          );
        else if (c.t === 'wep')
          relevant = put(
            resourceKey(WEP, c.name, 'default'),
            c.del ? undefined : wepValue(c.name, c.node, ipIn(c.b, c.i), c.label ? { x: 'y' } : {}),
          );
        else relevant = put(resourceKey(POOL, 'p'), poolValue({ vxlanMode: c.mode }));
        if (!relevant) assert.equal(routes(), before, `irrelevant ${JSON.stringify(c)} changed the routes`);
        assert.equal(fromRouted(), routes(), `the routed workloads miss one after ${JSON.stringify(c)}`);
      }
    }),
    { numRuns: 300 },
  );
});
