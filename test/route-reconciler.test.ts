/**
 * RoutingReconciler against the kernel, in a private network namespace: it programs routes of both
 * families, a VTEP with its FDB and neighbour entries, leaves everything alone once it matches,
 * repairs drift (deleted routes, a changed MTU, a lost FDB entry, a stray proto-80 route) without
 * touching routes it does not own, copes with devices re-created under the same name (iproute2's
 * name cache), and survives its persistent `ip`/`bridge` tools being killed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../src/lib/exec.js';
import { VXLAN_DEVICE } from '../src/lib/marks.js';
import { RoutingReconciler, type DesiredRoute, type RouteState } from '../src/dataplane/routes/index.js';
import type { VtepSpec } from '../src/dataplane/vxlan/index.js';

const ns = `tsr-${randomBytes(3).toString('hex')}-rt`;
await run(['ip', 'netns', 'add', ns]);
const reconciler = new RoutingReconciler({ netns: ns, interfacePrefix: 'tsr' });
after(async () => {
  reconciler.close();
  await killTools();
  await run(['ip', 'netns', 'del', ns], { check: false });
});

const ip = (...args: string[]) => run(['ip', ...args], { netns: ns });
async function killTools(): Promise<number> {
  const pids = (await run(['ip', 'netns', 'pids', ns], { check: false })).stdout.split(/\s+/).filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

await ip('link', 'set', 'lo', 'up');
await ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
await ip('link', 'add', 'tsrA', 'type', 'veth', 'peer', 'name', 'podA');
for (const dev of ['up0', 'up1', 'tsrA', 'podA']) await ip('link', 'set', dev, 'up');
await ip('addr', 'add', '10.77.0.1/24', 'dev', 'up0');
await ip('-6', 'addr', 'add', '2001:db8:77::1/64', 'dev', 'up0', 'nodad');

const routes: DesiredRoute[] = [
  { family: 4, dst: '10.66.1.0/26', type: 'blackhole' },
  { family: 4, dst: '10.66.1.5/32', type: 'unicast', dev: 'tsrA', scope: 'link' },
  { family: 4, dst: '10.66.2.0/26', type: 'unicast', via: '10.77.0.2', dev: 'up0' },
  { family: 4, dst: '10.66.3.0/26', type: 'unicast', via: '10.66.3.0', dev: VXLAN_DEVICE, onlink: true },
  { family: 6, dst: 'fd00:66:1::/122', type: 'blackhole' },
  { family: 6, dst: 'fd00:66:2::/122', type: 'unicast', via: '2001:db8:77::2', dev: 'up0' },
];
const state: RouteState = {
  routes,
  vxlanPeers: [{ node: 'n3', family: 4, nodeIp: '10.77.0.3', tunnelIp: '10.66.3.0', mac: '66:00:00:00:00:03' }],
  needVxlan: { v4: true, v6: false },
  needIpip: false,
  natPools: [],
  allPools: ['10.66.0.0/16'],
  problems: [],
};
const vtep: VtepSpec = {
  device: VXLAN_DEVICE,
  family: 4,
  vni: 4096,
  port: 4789,
  localIp: '10.77.0.1',
  tunnelIp: '10.66.1.0',
  mac: '66:00:00:00:00:01',
  mtu: 1450,
};

const kernelRoutes = async (family: 4 | 6) =>
  (
    JSON.parse((await ip('-j', `-${family}`, 'route', 'show', 'proto', '80')).stdout) as {
      dst: string;
      type?: string;
      gateway?: string;
      dev?: string;
    }[]
  )
    .map(
      (r) =>
        `${r.type === 'blackhole' ? 'blackhole ' : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.type === 'blackhole' ? '' : ` dev ${r.dev}`}`,
    )
    .sort();
const want4 = [
  'blackhole 10.66.1.0/26',
  '10.66.1.5 dev tsrA',
  '10.66.2.0/26 via 10.77.0.2 dev up0',
  `10.66.3.0/26 via 10.66.3.0 dev ${VXLAN_DEVICE}`,
].sort();
const want6 = ['blackhole fd00:66:1::/122', 'fd00:66:2::/122 via 2001:db8:77::2 dev up0'].sort();
const fdb = async () => (await run(['bridge', 'fdb', 'show', 'dev', VXLAN_DEVICE], { netns: ns })).stdout;
const neigh = async () => (await ip('neigh', 'show', 'dev', VXLAN_DEVICE)).stdout;

test('programs routes of both families, the VTEP and its peer, then leaves them alone', async () => {
  const first = await reconciler.apply(state, { v4: vtep });
  assert.ok(first.routeChanges >= routes.length, `routes written: ${JSON.stringify(first)}`);
  assert.ok(first.vtepChanges > 0);
  assert.deepEqual(await kernelRoutes(4), want4);
  assert.deepEqual(await kernelRoutes(6), want6);
  const link = JSON.parse((await ip('-d', '-j', 'link', 'show', 'dev', VXLAN_DEVICE)).stdout)[0];
  assert.equal(link.mtu, 1450);
  assert.equal(link.address, '66:00:00:00:00:01');
  assert.equal(link.linkinfo.info_data.id, 4096);
  assert.match((await ip('addr', 'show', 'dev', VXLAN_DEVICE)).stdout, /inet 10\.66\.1\.0\/32/);
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);
  assert.match(await neigh(), /10\.66\.3\.0 lladdr 66:00:00:00:00:03 PERMANENT/);

  assert.deepEqual(await reconciler.apply(state, { v4: vtep }), { routeChanges: 0, vtepChanges: 0, skippedRoutes: 0 });
});

test('repairs drift and removes stray proto-80 routes, keeping routes it does not own', async () => {
  await ip('route', 'del', '10.66.2.0/26');
  await ip('-6', 'route', 'del', 'blackhole', 'fd00:66:1::/122');
  await ip('link', 'set', VXLAN_DEVICE, 'mtu', '1400');
  await run(['bridge', 'fdb', 'del', '66:00:00:00:00:03', 'dev', VXLAN_DEVICE, 'dst', '10.77.0.3'], { netns: ns });
  await ip('route', 'add', '10.99.0.0/24', 'via', '10.77.0.2', 'proto', '80');
  await ip('route', 'add', '10.98.0.0/24', 'via', '10.77.0.2', 'proto', 'static');

  const fixed = await reconciler.apply(state, { v4: vtep });
  assert.ok(fixed.routeChanges >= 3 && fixed.vtepChanges >= 2, JSON.stringify(fixed));
  assert.deepEqual(await kernelRoutes(4), want4);
  assert.deepEqual(await kernelRoutes(6), want6);
  assert.equal(JSON.parse((await ip('-j', 'link', 'show', 'dev', VXLAN_DEVICE)).stdout)[0].mtu, 1450);
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);
  assert.match(
    (await ip('route', 'show', '10.98.0.0/24')).stdout,
    /via 10\.77\.0\.2/,
    'a route of another protocol is kept',
  );
});

test('a light cycle re-reads FDB and neighbours only when the peers changed; a full one always', async () => {
  await run(['bridge', 'fdb', 'del', '66:00:00:00:00:03', 'dev', VXLAN_DEVICE, 'dst', '10.77.0.3'], { netns: ns });
  assert.equal(
    (await reconciler.apply(state, { v4: vtep }, { full: false })).vtepChanges,
    0,
    'unchanged peers: not re-read',
  );
  assert.doesNotMatch(await fdb(), /66:00:00:00:00:03/);
  assert.equal((await reconciler.apply(state, { v4: vtep }, { full: true })).vtepChanges, 1, 'the resync repairs it');
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);

  const moved: RouteState = { ...state, vxlanPeers: [{ ...state.vxlanPeers[0]!, nodeIp: '10.77.0.4' }] };
  assert.ok(
    (await reconciler.apply(moved, { v4: vtep }, { full: false })).vtepChanges >= 1,
    'changed peers are programmed',
  );
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.4/);
  assert.ok((await reconciler.apply(state, { v4: vtep }, { full: false })).vtepChanges >= 1);
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);
});

test('a route over a missing device waits for a later cycle instead of failing the batch', async () => {
  const withGone: RouteState = {
    ...state,
    routes: [...routes, { family: 4, dst: '10.66.1.9/32', type: 'unicast', dev: 'tsrGone', scope: 'link' }],
  };
  const r = await reconciler.apply(withGone, { v4: vtep });
  assert.deepEqual(r, { routeChanges: 0, vtepChanges: 0, skippedRoutes: 1 });
});

test('a veth re-created behind its back (same name, new index) is still routed', async () => {
  // iproute2 caches names for the life of its process: without a fresh tool this write fails.
  await ip('link', 'del', 'tsrA');
  await ip('link', 'add', 'tsrB', 'type', 'veth', 'peer', 'name', 'podB'); // the old index is not reused
  await ip('link', 'add', 'tsrA', 'type', 'veth', 'peer', 'name', 'podA');
  for (const dev of ['tsrA', 'podA']) await ip('link', 'set', dev, 'up');
  const r = await reconciler.apply(state, { v4: vtep });
  assert.equal(r.routeChanges, 1, 'the /32 went with the old veth and is written again');
  assert.deepEqual(await kernelRoutes(4), want4);
});

test('a VTEP rebuilt for another VNI gets its address and peers again', async () => {
  const other = { ...vtep, vni: 4097 };
  const r = await reconciler.apply(state, { v4: other }, { full: false }); // a rebuilt VTEP has lost its peers: re-read even so
  assert.ok(r.vtepChanges >= 3, JSON.stringify(r));
  assert.equal(
    JSON.parse((await ip('-d', '-j', 'link', 'show', 'dev', VXLAN_DEVICE)).stdout)[0].linkinfo.info_data.id,
    4097,
  );
  assert.match((await ip('addr', 'show', 'dev', VXLAN_DEVICE)).stdout, /inet 10\.66\.1\.0\/32/);
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);
  assert.match(await neigh(), /10\.66\.3\.0 lladdr 66:00:00:00:00:03 PERMANENT/);
  assert.deepEqual(await kernelRoutes(4), want4, 'the route over the VTEP is back');
  assert.deepEqual(await reconciler.apply(state, { v4: other }), { routeChanges: 0, vtepChanges: 0, skippedRoutes: 0 });
  await reconciler.apply(state, { v4: vtep });
});

test("a VTEP deleted by hand is rebuilt with its peers, even by a light cycle (the route monitor's)", async () => {
  await ip('link', 'del', VXLAN_DEVICE);
  const r = await reconciler.apply(state, { v4: vtep }, { full: false });
  assert.ok(r.vtepChanges >= 3, JSON.stringify(r));
  assert.match(await fdb(), /66:00:00:00:00:03 dst 10\.77\.0\.3/);
  assert.match(await neigh(), /10\.66\.3\.0 lladdr 66:00:00:00:00:03 PERMANENT/);
  assert.deepEqual(await kernelRoutes(4), want4);
});

test('killed tools are restarted by the next cycle', async () => {
  assert.ok((await killTools()) >= 4, 'the ip (links), ip, ip -6 and bridge tools run in the namespace');
  await sleep(300); // let their exits be noticed
  await ip('route', 'del', '10.66.2.0/26');
  const r = await reconciler.apply(state, { v4: vtep });
  assert.equal(r.routeChanges, 1);
  assert.deepEqual(await kernelRoutes(4), want4);
});

test('a VTEP no longer needed is removed with its routes', async () => {
  const none: RouteState = {
    ...state,
    routes: routes.filter((r) => r.dev !== VXLAN_DEVICE),
    vxlanPeers: [],
    needVxlan: { v4: false, v6: false },
  };
  const r = await reconciler.apply(none, { v4: vtep });
  assert.equal(r.vtepChanges, 1);
  assert.equal((await run(['ip', 'link', 'show', 'dev', VXLAN_DEVICE], { netns: ns, check: false })).code, 1);
  assert.deepEqual(
    await kernelRoutes(4),
    want4.filter((l) => !l.includes(VXLAN_DEVICE)),
  );
});

test('after close, a cycle fails instead of starting tools', async () => {
  const closed = new RoutingReconciler({ netns: ns, interfacePrefix: 'tsr' });
  closed.close();
  await assert.rejects(closed.apply(state, { v4: vtep }), /session is closed/);
});
