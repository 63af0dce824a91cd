import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DatastoreMirror } from './mirror.js';
import { PolicyDriver } from './policy-driver.js';
import { ipamKeys, resourceKey } from '../datastore/index.js';
import { lookupKind } from '../api/index.js';
import { birdInputFromMirror } from '../bgp/index.js';
import { policyUpdateFromResource } from '../policy/index.js';
import { routeInputs } from './route-inputs.js';

const GNP = lookupKind('globalnetworkpolicy')!;
const POOL = lookupKind('ippool')!;

test('undecodable items are skipped and reported, never thrown; a later good write replaces them', () => {
  const bad: string[] = [];
  const m = new DatastoreMirror((key) => bad.push(key));
  const poolKey = resourceKey(POOL, 'p');
  assert.doesNotThrow(() => m.apply({ key: poolKey, value: '{not json' }));
  assert.doesNotThrow(() => m.apply({ key: ipamKeys.block('10.0.0.0/26'), value: '{"nocidr":1}' }));
  assert.doesNotThrow(() => m.apply({ key: resourceKey(POOL, 'q'), value: '"a string"' }));
  assert.deepEqual(bad.length, 3);
  assert.equal(m.of('IPPool').size, 0);
  assert.equal(m.blocks.size, 0);
  m.apply({
    key: poolKey,
    value: JSON.stringify({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'p' },
      spec: { cidr: '10.0.0.0/16' },
    }),
  });
  assert.equal(m.of('IPPool').size, 1);
});

test('a deletion reports what was deleted', () => {
  const m = new DatastoreMirror(() => undefined);
  const key = resourceKey(POOL, 'p');
  m.apply({
    key,
    value: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: {} }),
  });
  const change = m.apply({ key, value: undefined });
  assert.equal(change?.type, 'resource');
  assert.equal(change?.type === 'resource' ? change.previous?.metadata.name : undefined, 'p');
});

test('the policy driver skips a policy the engine rejects and reports it, without throwing', () => {
  const m = new DatastoreMirror(() => undefined);
  const driver = new PolicyDriver({ nodeName: 'n1', logger: pino({ level: 'silent' }) });
  const key = resourceKey(GNP, 'default.bad');
  const bad = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'default.bad' },
    spec: { selector: 'a ==', ingress: [{ action: 'Allow' }] },
  };
  const change = m.apply({ key, value: JSON.stringify(bad) });
  assert.ok(change);
  assert.doesNotThrow(() => driver.onChange(change, m));
  assert.equal(driver.problems().length, 1, 'the rejected policy is reported');
  assert.match(driver.problems()[0] ?? '', /default\.bad/);
  // A corrected version clears the problem.
  const good = { ...bad, spec: { selector: 'a == "b"', ingress: [{ action: 'Allow' }] } };
  driver.onChange(m.apply({ key, value: JSON.stringify(good) })!, m);
  assert.deepEqual(driver.problems(), []);
});

const WEP = lookupKind('workloadendpoint')!;
const NODE = lookupKind('node')!;

test('typed views: decoded once on update, carried before and after on each change, dropped on delete', () => {
  const bad: string[] = [];
  const m = new DatastoreMirror((key) => bad.push(key));
  const put = (info: typeof POOL, name: string, spec: unknown, ns?: string) =>
    m.apply({
      key: resourceKey(info, name, ns),
      value: JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: info.kind,
        metadata: { name, ...(ns ? { namespace: ns } : {}) },
        spec,
      }),
    });
  const c1 = put(POOL, 'p', { cidr: '10.0.0.0/16', vxlanMode: 'Always' });
  assert.equal(c1?.type === 'resource' && c1.view?.kind === 'IPPool' && c1.view.pool.vxlan, true);
  const c2 = put(POOL, 'p', { cidr: '10.0.0.0/16' });
  assert.equal(c2?.type === 'resource' && c2.previousView?.kind === 'IPPool' && c2.previousView.pool.vxlan, true);
  assert.equal(c2?.type === 'resource' && c2.view?.kind === 'IPPool' && c2.view.pool.vxlan, false);
  // No CIDR: kept as a resource (BGP reports it), but no pool view, and not a bad item.
  put(POOL, 'nocidr', { vxlanMode: 'Always' });
  assert.equal(m.of('IPPool').size, 2);
  assert.deepEqual(
    [...m.pools.values()].map((p) => p.name),
    ['p'],
  );
  assert.deepEqual(bad, []);
  put(NODE, 'n1', { bgp: { ipv4Address: '10.0.0.1/24' }, ipv4VXLANTunnelAddr: '' });
  assert.deepEqual(m.nodes.get(resourceKey(NODE, 'n1')), { name: 'n1', bgp: { ipv4Address: '10.0.0.1/24' } });
  put(WEP, 'w', { node: 'n1', interfaceName: 'cali1', ipNetworks: ['10.0.0.5/32'] }, 'ns');
  assert.equal(m.workloads.get(resourceKey(WEP, 'w', 'ns'))?.node, 'n1');
  // A bad write drops the view with the resource; a delete carries the last view.
  m.apply({ key: resourceKey(WEP, 'w', 'ns'), value: '{' });
  assert.equal(m.workloads.size, 0);
  put(WEP, 'w', { node: 'n1', interfaceName: 'cali1' }, 'ns');
  const del = m.apply({ key: resourceKey(WEP, 'w', 'ns'), value: undefined });
  assert.equal(del?.type === 'resource' && del.previousView?.kind === 'WorkloadEndpoint', true);
  assert.equal(del?.type === 'resource' && del.view, undefined);
  assert.equal(m.workloads.size, 0);
  assert.equal(m.pools.size, 1);
});

test('routing, policy and BGP read the same workload from the same view', () => {
  const m = new DatastoreMirror(() => undefined);
  const key = resourceKey(WEP, 'w', 'ns');
  const wep = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'w', namespace: 'ns' },
    spec: { node: 'n1', interfaceName: '', ipNetworks: ['10.0.0.5/32', 7], pod: '', profiles: 'x' },
  };
  m.apply({ key, value: JSON.stringify(wep) });
  const routes = routeInputs(m, 'n1', { ipipSupported: false, bgpRouting: true });
  assert.deepEqual(routes.workloads, [], 'no interface: no route');
  const update = policyUpdateFromResource(m.of('WorkloadEndpoint').get(key)!, false, m.workloads.get(key));
  assert.deepEqual(update?.value, {
    name: 'w',
    namespace: 'ns',
    node: 'n1',
    interfaceName: '',
    ipNetworks: ['10.0.0.5/32'],
    labels: {},
    ports: [],
  });
  assert.deepEqual(
    policyUpdateFromResource(m.of('WorkloadEndpoint').get(key)!),
    update,
    'without the view, the same decoder gives the same input',
  );
  assert.deepEqual(birdInputFromMirror(m, 'n1').workloads, [{ node: 'n1', ipNetworks: ['10.0.0.5/32'] }]);
});
