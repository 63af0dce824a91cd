/**
 * The agent's own drivers on the memory backend with fake kernel programmers: routing (change rule,
 * tunnel addresses through the registrar, VTEPs, MTU file, drift count, IPIP problem), the node
 * registrar (registration keeps user labels; conditions), and the sysctl driver (a temp /proc/sys).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { lookupKind, type Resource } from '../api/index.js';
import { MemoryBackend, ResourceStore, resourceKey } from '../datastore/index.js';
import type { ApplyStats, RouteState } from '../dataplane/routes/index.js';
import type { NatInputs } from '../dataplane/nat/index.js';
import { IpamClient } from '../ipam/index.js';
import { AgentMetrics } from './health.js';
import { DatastoreMirror } from './mirror.js';
import type { HostFacts } from './host-facts.js';
import { NodeRegistrar } from './node-registrar.js';
import { RoutingDriver, type Vteps } from './routing-driver.js';
import { SysctlDriver } from './sysctl-driver.js';

const log = pino({ level: 'silent' });
const C = 'projectcalico.org/v3';

function harness(host: Partial<HostFacts> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-drivers-'));
  const backend = new MemoryBackend();
  const store = new ResourceStore(backend);
  const ipam = new IpamClient(backend);
  const mirror = new DatastoreMirror(() => undefined);
  const metrics = new AgentMetrics(['routes']);
  const registrar = new NodeRegistrar({ nodeName: 'n1', store, ipam, log });
  const calls: { state: RouteState; vteps: Vteps; full: boolean }[] = [];
  let routeChanges = 1;
  const routes = {
    apply: async (state: RouteState, vteps: Vteps, o: { full: boolean }): Promise<ApplyStats> => {
      calls.push({ state, vteps, full: o.full });
      return { routeChanges, vtepChanges: 0, skippedRoutes: 0 };
    },
    close: () => undefined,
  };
  const natCalls: NatInputs[] = [];
  const nat = { apply: async (n: NatInputs) => (natCalls.push(n), false), close: () => undefined };
  let kicks = 0;
  const facts: HostFacts = {
    address: '192.168.1.10/24',
    address6: undefined,
    mtu: 1500,
    ipipSupported: false,
    ...host,
  };
  const driver = new RoutingDriver({
    nodeName: 'n1',
    stateDir: dir,
    routing: 'agent',
    interfacePrefix: 'cali',
    log,
    metrics,
    registrar,
    routes,
    nat,
    host: () => facts,
    followRouteMonitor: false,
  });
  driver.start(() => kicks++);
  /** Writes a resource to the datastore and feeds it to the mirror, as the Syncer would. */
  const put = async (r: Resource) => {
    const info = lookupKind(r.kind)!;
    const cur = await store.get(info, r.metadata.name, r.metadata.namespace);
    const written = cur
      ? await store.update({ ...r, metadata: { ...cur.metadata, ...r.metadata } })
      : await store.create(r);
    return driver.onChange(
      mirror.apply({
        key: resourceKey(info, r.metadata.name, r.metadata.namespace),
        value: JSON.stringify(written ?? r),
      })!,
      mirror,
      true,
    );
  };
  /** Re-reads this node's Node into the mirror (after the registrar wrote it). */
  const syncNode = async () => {
    const info = lookupKind('Node')!;
    const n = await store.get(info, 'n1');
    driver.onChange(mirror.apply({ key: resourceKey(info, 'n1'), value: JSON.stringify(n) })!, mirror, true);
  };
  return {
    dir,
    store,
    mirror,
    metrics,
    registrar,
    driver,
    calls,
    natCalls,
    facts,
    put,
    syncNode,
    kicks: () => kicks,
    setRouteChanges: (n: number) => (routeChanges = n),
    cleanup: () => {
      ipam.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pool = (name: string, cidr: string, spec: Record<string, unknown> = {}): Resource => ({
  apiVersion: C,
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, ...spec },
});

test('routing driver: a VXLAN pool gets this node a tunnel address, a VTEP and a smaller workload MTU', async (t) => {
  const h = harness();
  t.after(h.cleanup);
  await h.registrar.register(h.facts);
  await h.syncNode();
  await h.put(pool('p', '10.244.0.0/16', { vxlanMode: 'Always' }));
  await h.driver.apply(h.mirror, true);
  await h.registrar.idle();
  await h.syncNode();
  const node = await h.store.get(lookupKind('Node')!, 'n1');
  const spec = node?.spec as Record<string, unknown>;
  assert.match(String(spec.ipv4VXLANTunnelAddr), /^10\.244\./, 'tunnel address from the VXLAN pool');
  assert.equal(spec.vxlanTunnelMACAddr, h.registrar.vtepMac(4));
  assert.ok(h.driver.pending(), 'its own Node changed: routing must run again');
  await h.driver.apply(h.mirror, false);
  const last = h.calls.at(-1)!;
  assert.equal(last.vteps.v4?.tunnelIp, spec.ipv4VXLANTunnelAddr);
  assert.equal(last.vteps.v4?.mtu, 1450);
  assert.equal(readFileSync(join(h.dir, 'mtu'), 'utf8'), '1450\n');
  assert.deepEqual(h.driver.problems(), []);
});

test('routing driver: only route-relevant changes make it pending; before in-sync nothing does', async (t) => {
  const h = harness();
  t.after(h.cleanup);
  await h.driver.apply(h.mirror, true);
  assert.equal(h.driver.pending(), false);
  await h.put({
    apiVersion: C,
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'default.p' },
    spec: { selector: 'all()' },
  });
  assert.equal(h.driver.pending(), false, 'a policy never costs a route cycle');
  await h.put(pool('p', '10.244.0.0/16'));
  assert.equal(h.driver.pending(), true, 'a pool does');
  await h.driver.apply(h.mirror, false);
  const info = lookupKind('IPPool')!;
  const change = h.mirror.apply({ key: resourceKey(info, 'q'), value: JSON.stringify(pool('q', '10.245.0.0/16')) })!;
  h.driver.onChange(change, h.mirror, false);
  assert.equal(h.driver.pending(), false, 'before in-sync the first full cycle covers it');
});

test('routing driver: the same fully programmed request needing kernel changes again counts as drift', async (t) => {
  const h = harness();
  t.after(h.cleanup);
  const drift = async () => (await h.metrics.driftRepairs.get()).values.reduce((a, v) => a + v.value, 0);
  await h.driver.apply(h.mirror, true);
  assert.equal(await drift(), 0, 'the first cycle is not drift');
  await h.driver.apply(h.mirror, true);
  assert.equal(await drift(), 1, 'the same request changed the kernel again');
  h.setRouteChanges(0);
  await h.driver.apply(h.mirror, true);
  assert.equal(await drift(), 1);
});

test('routing driver: an enabled IPIP pool on a kernel without ipip is reported; a disabled one is not', async (t) => {
  const h = harness({ ipipSupported: false });
  t.after(h.cleanup);
  await h.put(pool('p', '10.244.0.0/16', { ipipMode: 'Always', disabled: true }));
  await h.driver.apply(h.mirror, true);
  assert.deepEqual(h.driver.problems(), []);
  await h.put(pool('p', '10.244.0.0/16', { ipipMode: 'Always' }));
  await h.driver.apply(h.mirror, false);
  assert.match(h.driver.problems().join('\n'), /no ipip support/);
  assert.equal(h.calls.at(-1)?.vteps.ipip, undefined, 'no IPIP device without kernel support');
});

test('node registrar: registration keeps user labels and status; conditions are written once', async (t) => {
  const h = harness();
  t.after(h.cleanup);
  const info = lookupKind('Node')!;
  await h.store.create({ apiVersion: C, kind: 'Node', metadata: { name: 'n1', labels: { rack: 'r1' } }, spec: {} });
  await h.registrar.register(h.facts);
  let n = await h.store.get(info, 'n1');
  assert.equal(n?.metadata.labels?.rack, 'r1');
  assert.equal(n?.metadata.labels?.['kubernetes.io/hostname'], 'n1');
  assert.equal((n?.spec as { bgp: { ipv4Address: string } }).bgp.ipv4Address, '192.168.1.10/24');
  await h.registrar.publishConditions({ ready: false, problems: ['x: y'], lastApplyError: null });
  n = await h.store.get(info, 'n1');
  const rev = n?.metadata.resourceVersion;
  const conditions = (n?.status as { conditions: { type: string; status: string }[] }).conditions;
  assert.deepEqual(
    conditions.map((c) => [c.type, c.status]),
    [
      ['Ready', 'False'],
      ['DataplaneProblems', 'True'],
    ],
  );
  await h.registrar.publishConditions({ ready: false, problems: ['x: y'], lastApplyError: null });
  assert.equal(
    (await h.store.get(info, 'n1'))?.metadata.resourceVersion,
    rev,
    'unchanged conditions are not rewritten',
  );
  await h.registrar.register(h.facts);
  assert.ok((await h.store.get(info, 'n1'))?.status, 're-registration keeps the status');
});

test('sysctl driver: on full cycles only, sets what differs, reports what it cannot set', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-sysctl-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'net/ipv4'), { recursive: true });
  writeFileSync(join(root, 'net/ipv4/ip_forward'), '0\n');
  const d = new SysctlDriver({ log, ipv6: () => false, conntrackTcpBeLiberal: true, root });
  const mirror = new DatastoreMirror(() => undefined);
  await d.apply(mirror, false);
  assert.equal(readFileSync(join(root, 'net/ipv4/ip_forward'), 'utf8').trim(), '0', 'not a full cycle');
  await d.apply(mirror, true);
  assert.equal(readFileSync(join(root, 'net/ipv4/ip_forward'), 'utf8').trim(), '1');
  assert.equal(d.problems().length, 1, 'the conntrack setting is missing here');
  // The agent's loop prefixes every driver's problems with its name ("sysctl: ...").
  assert.match(d.problems()[0]!, /^cannot set net\.netfilter\.nf_conntrack_tcp_be_liberal=1/);
});
