import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { CALICO_API_VERSION, kindFor, wepName } from '../api/index.js';
import {
  MemoryBackend,
  MemoryStore,
  encodeResource,
  ipamKeys,
  kindPrefix,
  resourceKey,
  type Backend,
} from '../datastore/index.js';
import { IpamClient, putNode, putPool } from '../ipam/index.js';
import { ManualClock } from '../lib/clock.js';
import type { ControllerContext } from './controller.js';
import { EventRecorder, type EventSink } from './events.js';
import { FakeInformer } from './fake-informer.js';
import { KubeInformer, slimFor, type SlimObject } from './informer.js';
import { IpamGarbageCollector, readPendingLeaks } from './ipam-gc.js';
import { KUBE_RESOURCES, type KubeResourceName } from './kube-api.js';
import { KCC_INFO } from './config.js';
import { KubeControllers } from './manager.js';
import { ControllerMetrics } from './metrics.js';
import { MirrorController } from './mirror.js';
import { NodeController, autoHepName } from './node.js';

const logger = pino({ level: 'silent' });
const WEP = kindFor(CALICO_API_VERSION, 'WorkloadEndpoint')!;
const NODE = kindFor(CALICO_API_VERSION, 'Node')!;
const HEP = kindFor(CALICO_API_VERSION, 'HostEndpoint')!;

function ctxFor(
  backend: Backend,
  clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z')),
): ControllerContext & { clock: ManualClock } {
  return { backend, metrics: new ControllerMetrics(false), logger, clock };
}

const pod = (
  ns: string,
  name: string,
  node: string,
  labels: Record<string, string>,
  extra: Partial<SlimObject['spec']> = {},
): SlimObject => ({
  metadata: { name, namespace: ns, labels },
  spec: {
    nodeName: node,
    serviceAccountName: 'sa1',
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
    ...extra,
  },
  status: {},
});

function informers(): Record<KubeResourceName, FakeInformer> {
  const out = {} as Record<KubeResourceName, FakeInformer>;
  for (const n of Object.keys(KUBE_RESOURCES) as KubeResourceName[]) out[n] = new FakeInformer(KUBE_RESOURCES[n]);
  return out;
}

async function metricValue(ctx: ControllerContext, name: string): Promise<number> {
  const m = (await ctx.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
}

async function putWep(
  backend: Backend,
  node: string,
  ns: string,
  podName: string,
  containerID: string,
  ip: string,
): Promise<string> {
  const key = resourceKey(WEP, wepName(node, 'k8s', podName, 'eth0'), ns);
  await backend.put(
    key,
    encodeResource({
      apiVersion: CALICO_API_VERSION,
      kind: 'WorkloadEndpoint',
      metadata: {
        name: wepName(node, 'k8s', podName, 'eth0'),
        namespace: ns,
        labels: { 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' },
      },
      spec: {
        orchestrator: 'k8s',
        node,
        pod: podName,
        workload: podName,
        endpoint: 'eth0',
        containerID,
        ipNetworks: [`${ip}/32`],
        profiles: [`kns.${ns}`],
        interfaceName: 'tsrx',
        mac: '',
      },
    }),
  );
  return key;
}

describe('mirror controllers', () => {
  it('mirror namespaces, service accounts and slim pods, carry pod labels onto the WEP, and converge after a restart with no extra write', async () => {
    const backend = new MemoryBackend();
    const inf = informers();
    const ctx = ctxFor(backend);
    inf.namespaces.set({ metadata: { name: 'shop', labels: { team: 'red' } } });
    inf.serviceaccounts.set({ metadata: { name: 'sa1', namespace: 'shop', labels: { role: 'web' } } });
    inf.pods.set(pod('shop', 'web', 'n1', { app: 'web' }));
    inf.pods.set(pod('shop', 'hostnet', 'n1', { app: 'x' }, { hostNetwork: true }));
    const wepKey = await putWep(backend, 'n1', 'shop', 'web', 'c1', '10.0.0.1');
    for (const i of Object.values(inf)) i.markSynced();
    const ac = new AbortController();
    const make = () => [
      new MirrorController('namespace', ctx, inf.namespaces, { reconcilerPeriodMs: 0 }),
      new MirrorController('serviceaccount', ctx, inf.serviceaccounts, { reconcilerPeriodMs: 0 }),
      new MirrorController('workloadendpoint', ctx, inf.pods, { reconcilerPeriodMs: 0 }),
    ];
    let cs = make();
    await Promise.all(cs.map((c) => c.start(ac.signal)));
    const ns = JSON.parse((await backend.get('/tessera/v1/res/core/namespaces/shop'))!.value);
    assert.deepEqual(ns.metadata.labels, { team: 'red' });
    const sa = JSON.parse((await backend.get('/tessera/v1/res/core/serviceaccounts/shop/sa1'))!.value);
    assert.deepEqual(sa.metadata.labels, { role: 'web' });
    const p = JSON.parse((await backend.get('/tessera/v1/res/core/pods/shop/web'))!.value);
    assert.deepEqual(p.spec, {
      containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
      nodeName: 'n1',
      serviceAccountName: 'sa1',
    });
    assert.equal(p.status, undefined, 'no status: a pod is mirrored slim');
    assert.equal(await backend.get('/tessera/v1/res/core/pods/shop/hostnet'), undefined);
    let wep = JSON.parse((await backend.get(wepKey))!.value);
    assert.equal(wep.metadata.labels.app, 'web');
    assert.equal(wep.metadata.labels['projectcalico.org/namespace'], 'shop');
    assert.equal(wep.spec.serviceAccountName, 'sa1');
    assert.deepEqual(wep.spec.profiles, ['kns.shop', 'ksa.shop.sa1']);

    inf.pods.set(pod('shop', 'web', 'n1', { app: 'web', tier: 'gold' }));
    await Promise.all(cs.map((c) => c.idle()));
    wep = JSON.parse((await backend.get(wepKey))!.value);
    assert.equal(wep.metadata.labels.tier, 'gold');

    // Kill (stop) and restart: nothing changed in Kubernetes -> no write at all.
    for (const c of cs) c.stop();
    const before = await backend.revision();
    cs = make();
    await Promise.all(cs.map((c) => c.start(ac.signal)));
    assert.equal(await backend.revision(), before, 'a restart with nothing changed writes nothing');
    // A deletion that happened while the controller was down is not lost.
    for (const c of cs) c.stop();
    inf.namespaces.remove('shop');
    cs = make();
    await Promise.all(cs.map((c) => c.start(ac.signal)));
    assert.equal(await backend.get('/tessera/v1/res/core/namespaces/shop'), undefined);
    assert.equal(await backend.revision(), before + 1, 'exactly one write: the delete');
    for (const c of cs) c.stop();
  });

  it('reports a NetworkPolicy the validator rejects and keeps mirroring the others', async () => {
    const backend = new MemoryBackend();
    const inf = informers();
    const calls: { verb: string; namespace: string; arg: unknown }[] = [];
    const sink: EventSink = {
      create: async (namespace, ev) => void calls.push({ verb: 'create', namespace, arg: ev }),
      patch: async (namespace, name, ops) => void calls.push({ verb: 'patch', namespace, arg: { name, ops } }),
    };
    const ctx = { ...ctxFor(backend), events: new EventRecorder(sink, logger, 'test') };
    inf.networkpolicies.set({
      metadata: { name: 'bad', namespace: 'shop', uid: 'u-bad', resourceVersion: '7' },
      spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 99999 }] }] },
    });
    inf.networkpolicies.set({
      metadata: { name: 'good', namespace: 'shop' },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }],
      },
    });
    inf.networkpolicies.markSynced();
    const c = new MirrorController('policy', ctx, inf.networkpolicies, { reconcilerPeriodMs: 0 });
    await c.start(new AbortController().signal);
    assert.ok(await backend.get('/tessera/v1/res/networking.k8s.io/kubernetesnetworkpolicies/shop/good'));
    assert.equal(await backend.get('/tessera/v1/res/networking.k8s.io/kubernetesnetworkpolicies/shop/bad'), undefined);
    assert.match(c.rejected.get('shop/bad') ?? '', /port/);
    assert.equal(await metricValue(ctx, 'tessera_kube_controllers_invalid_resources_total'), 1);
    // A Warning Event on the NetworkPolicy, with the validator's field path and value.
    assert.equal(calls.length, 1);
    const ev = calls[0]!.arg as Record<string, unknown> & { involvedObject: Record<string, string> };
    assert.equal(calls[0]!.namespace, 'shop');
    assert.deepEqual(ev.involvedObject, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      name: 'bad',
      namespace: 'shop',
      uid: 'u-bad',
      resourceVersion: '7',
    });
    assert.equal(ev.reason, 'FailedValidation');
    assert.equal(ev.type, 'Warning');
    assert.match(String(ev.message), /spec\.ingress\[0\]\.ports\[0\]\.port.*99999/);
    // The same problem again (a new resourceVersion, same message): not reported twice.
    inf.networkpolicies.set({
      metadata: { name: 'bad', namespace: 'shop', uid: 'u-bad', resourceVersion: '8', labels: { x: 'y' } },
      spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 99999 }] }] },
    });
    await c.idle();
    assert.equal(calls.length, 1);
    inf.networkpolicies.set({ metadata: { name: 'later', namespace: 'shop' }, spec: { podSelector: {} } });
    await c.idle();
    assert.ok(await backend.get('/tessera/v1/res/networking.k8s.io/kubernetesnetworkpolicies/shop/later'));
    c.stop();
  });
});

describe('IPAM garbage collection', () => {
  async function setup({ synced = true } = {}) {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const backend = new MemoryBackend({ clock });
    await putPool(backend, 'p', { cidr: '10.10.0.0/16', blockSize: 26 });
    await putNode(backend, 'n1', {});
    const ipam = new IpamClient(backend);
    const assign = async (podName: string, cid: string) =>
      (
        await ipam.autoAssign({
          num4: 1,
          num6: 0,
          handleId: `k8s-pod-network.${cid}`,
          attrs: { node: 'n1', namespace: 'shop', pod: podName, timestamp: clock.nowIso() },
          hostname: 'n1',
        })
      ).ipv4[0]!;
    const inf = informers();
    if (synced) {
      inf.pods.markSynced();
      inf.nodes.markSynced();
    }
    const ctx = ctxFor(backend, clock);
    const gc = new IpamGarbageCollector(ctx, inf.pods, inf.nodes, { leakGracePeriodMs: 60_000, intervalMs: 1000 });
    return { clock, backend, ipam, assign, inf, ctx, gc };
  }

  it('releases a leak only after the grace period, with its WEP, and reports it meanwhile', async () => {
    const { clock, backend, ipam, assign, inf, ctx, gc } = await setup();
    inf.pods.set(pod('shop', 'live', 'n1', {}));
    const live = await assign('live', 'c-live');
    const gone = await assign('gone', 'c-gone');
    const wepKey = await putWep(backend, 'n1', 'shop', 'gone', 'c-gone', gone.address);
    let r = await gc.pass();
    assert.equal(r.released, 0);
    const pending = await readPendingLeaks(backend);
    assert.deepEqual(
      pending.leaks.map((l) => l.address),
      [gone.address],
    );
    assert.equal(pending.gracePeriodSeconds, 60);
    clock.advance(59_000);
    r = await gc.pass();
    assert.equal(r.released, 0, 'not before the grace period');
    assert.equal((await ipam.lookupIp(gone.address)).state, 'allocated');
    clock.advance(1_000);
    r = await gc.pass();
    assert.equal(r.released, 1);
    assert.equal((await ipam.lookupIp(gone.address)).state, 'free');
    assert.equal((await ipam.lookupIp(live.address)).state, 'allocated');
    assert.equal(await backend.get(wepKey), undefined, "the leaked pod's WEP goes with its address");
    assert.equal((await readPendingLeaks(backend)).leaks.length, 0);
    assert.equal(await metricValue(ctx, 'tessera_kube_controllers_ipam_leaks_released_total'), 1);
    assert.equal(await metricValue(ctx, 'tessera_kube_controllers_ipam_leaks_found_total'), 1);
  });

  it('never frees an address released and re-used during the grace period', async () => {
    const { clock, ipam, assign, inf, gc } = await setup();
    const old = await assign('gone', 'c-old');
    await gc.pass(); // seen as a leak, grace clock running
    // Someone (a late CNI DEL) releases it, and a new pod gets the very same address.
    await ipam.releaseByHandle('k8s-pod-network.c-old');
    inf.pods.set(pod('shop', 'gone', 'n1', {}));
    await ipam.assignIp({
      ip: old.address,
      handleId: 'k8s-pod-network.c-new',
      attrs: { node: 'n1', namespace: 'shop', pod: 'gone', timestamp: clock.nowIso() },
      hostname: 'n1',
    });
    inf.pods.remove('gone', 'shop'); // ... and that pod is gone too, but only just
    clock.advance(120_000);
    const r = await gc.pass();
    assert.equal(r.released, 0, 'the re-used address is a new leak whose grace period starts now');
    const info = await ipam.lookupIp(old.address);
    assert.equal(info.state, 'allocated');
    assert.equal(info.handleId, 'k8s-pod-network.c-new');
  });

  it('a later pass re-reads only the blocks written since the last one, and judges every allocation', async () => {
    const { backend, assign, inf, gc } = await setup();
    inf.pods.set(pod('shop', 'a', 'n1', {}));
    await assign('a', 'c-a');
    assert.equal((await gc.pass()).leaks, 0);
    const gets: string[] = [];
    const get = backend.get.bind(backend);
    backend.get = (key, signal) => (gets.push(key), get(key, signal));
    assert.deepEqual(await gc.pass(), { allocations: 1, leaks: 0, released: 0, stale: 0 });
    assert.deepEqual(
      gets.filter((k) => k.startsWith(ipamKeys.blocksPrefix)),
      [],
      'an unchanged block is not read again',
    );
    inf.pods.remove('a', 'shop'); // the block is unchanged, the pod cache is not
    assert.equal((await gc.pass()).leaks, 1);
    assert.equal(gets.filter((k) => k.startsWith(ipamKeys.blocksPrefix)).length, 0);
    await assign('b', 'c-b'); // same block, a pod that does not exist
    gets.length = 0;
    const r = await gc.pass();
    assert.equal(r.allocations, 2);
    assert.equal(r.leaks, 2);
    assert.equal(gets.filter((k) => k.startsWith(ipamKeys.blocksPrefix)).length, 1, 'the written block, once');
  });

  it('start() reads the blocks while the informers list; the first pass re-reads only those written since', async () => {
    const { backend, ipam, assign, inf, clock, gc } = await setup({ synced: false });
    inf.pods.set(pod('shop', 'a', 'n1', {}));
    const a = await assign('a', 'c-a');
    const gone1 = await assign('gone1', 'c-gone1');
    // A second block, on another host.
    const gone2 = (
      await ipam.autoAssign({
        num4: 1,
        num6: 0,
        handleId: 'k8s-pod-network.c-gone2',
        attrs: { node: 'n1', namespace: 'shop', pod: 'gone2', timestamp: clock.nowIso() },
        hostname: 'n2',
      })
    ).ipv4[0]!;
    assert.notEqual(gone2.blockCidr, a.blockCidr);
    let blockList: Promise<unknown> | undefined;
    const list = backend.list.bind(backend);
    backend.list = (prefix, signal) => {
      const p = list(prefix, signal);
      if (prefix === ipamKeys.blocksPrefix) blockList ??= p;
      return p;
    };
    const gets: string[] = [];
    const get = backend.get.bind(backend);
    backend.get = (key, signal) => (gets.push(key), get(key, signal));
    const ac = new AbortController();
    const started = gc.start(ac.signal);
    assert.ok(blockList, 'the blocks are read before the informers have synced');
    await blockList;
    await new Promise((r) => setImmediate(r));
    const gone3 = await assign('gone3', 'c-gone3'); // the first block is written meanwhile
    assert.equal(gone3.blockCidr, a.blockCidr);
    assert.equal(gc.synced, false, 'nothing judged before the informers sync');
    gets.length = 0;
    inf.pods.markSynced();
    inf.nodes.markSynced();
    await started;
    gc.stop();
    assert.deepEqual(
      gets.filter((k) => k.startsWith(ipamKeys.blocksPrefix)),
      [ipamKeys.block(a.blockCidr)],
      'only the block written since the early read is read again',
    );
    assert.deepEqual(
      (await readPendingLeaks(backend)).leaks.map((l) => l.address).sort(),
      [gone1.address, gone2.address, gone3.address].sort(),
      'every allocation judged, in both blocks',
    );
  });

  it('a restarted collector keeps the grace clocks (pending set in the datastore)', async () => {
    const { clock, backend, ipam, assign, inf, ctx, gc } = await setup();
    const gone = await assign('gone', 'c-gone');
    await gc.pass();
    clock.advance(40_000);
    const gc2 = new IpamGarbageCollector(ctx, inf.pods, inf.nodes, { leakGracePeriodMs: 60_000, intervalMs: 1000 });
    assert.equal((await gc2.pass()).released, 0);
    clock.advance(20_000);
    assert.equal((await gc2.pass()).released, 1);
    assert.equal((await ipam.lookupIp(gone.address)).state, 'free');
    void backend;
  });
});

describe('node controller', () => {
  it('syncs labels, keeps the auto host endpoint in step, and cleans up a deleted node but keeps borrowed addresses', async () => {
    const backend = new MemoryBackend();
    await putPool(backend, 'p', { cidr: '10.20.0.0/16', blockSize: 26 });
    for (const n of ['n1', 'n2']) {
      await backend.put(
        resourceKey(NODE, n),
        encodeResource({
          apiVersion: CALICO_API_VERSION,
          kind: 'Node',
          metadata: { name: n, labels: { own: 'x' } },
          spec: { bgp: { ipv4Address: n === 'n1' ? '192.168.0.1/24' : '192.168.0.2/24' } },
        }),
      );
    }
    const ipam = new IpamClient(backend);
    const ts = new Date().toISOString();
    const n1pod = (
      await ipam.autoAssign({
        num4: 1,
        num6: 0,
        handleId: 'net.c1',
        attrs: { node: 'n1', namespace: 'a', pod: 'p1', timestamp: ts },
        hostname: 'n1',
      })
    ).ipv4[0]!;
    const tunnel = (
      await ipam.autoAssign({
        num4: 1,
        num6: 0,
        handleId: 'vxlan-tunnel-addr-n1',
        attrs: { node: 'n1', timestamp: ts },
        hostname: 'n1',
        use: 'Tunnel',
      })
    ).ipv4[0]!;
    // n2's pod borrowed an address from n1's block.
    const borrowed = await ipam.assignIp({
      ip: '10.20.0.' + (Number(n1pod.address.split('.')[3]) + 5),
      handleId: 'net.c2',
      attrs: { node: 'n2', namespace: 'a', pod: 'p2', timestamp: ts },
      hostname: 'n2',
    });
    const wep1 = await putWep(backend, 'n1', 'a', 'p1', 'c1', n1pod.address);
    const wep2 = await putWep(backend, 'n2', 'a', 'p2', 'c2', borrowed.address);
    const inf = informers();
    const k8sNode = (n: string, labels: Record<string, string>, ip: string): SlimObject => ({
      metadata: { name: n, labels },
      status: { addresses: [{ type: 'InternalIP', address: ip }] },
    });
    inf.nodes.set(k8sNode('n1', { zone: 'z1' }, '192.168.0.1'));
    inf.nodes.set(k8sNode('n2', { zone: 'z2' }, '192.168.0.2'));
    inf.nodes.markSynced();
    const ctx = ctxFor(backend);
    const c = new NodeController(ctx, inf.nodes, { syncLabels: true, autoHostEndpoints: true, reconcilerPeriodMs: 0 });
    const ac = new AbortController();
    await c.start(ac.signal);
    const n1 = JSON.parse((await backend.get(resourceKey(NODE, 'n1')))!.value);
    assert.deepEqual(n1.metadata.labels, { own: 'x', zone: 'z1' });
    assert.deepEqual(n1.spec.orchRefs, [{ nodeName: 'n1', orchestrator: 'k8s' }]);
    const hep = JSON.parse((await backend.get(resourceKey(HEP, autoHepName('n1'))))!.value);
    assert.deepEqual(hep.spec, {
      node: 'n1',
      interfaceName: '*',
      expectedIPs: ['192.168.0.1'],
      profiles: ['projectcalico-default-allow'],
    });
    assert.deepEqual(hep.metadata.labels, { own: 'x', zone: 'z1' });
    // A label removed in Kubernetes goes; the node's own label stays.
    inf.nodes.set(k8sNode('n1', { rack: 'r9' }, '192.168.0.1'));
    await c.idle();
    assert.deepEqual(JSON.parse((await backend.get(resourceKey(NODE, 'n1')))!.value).metadata.labels, {
      own: 'x',
      rack: 'r9',
    });
    assert.deepEqual(JSON.parse((await backend.get(resourceKey(HEP, autoHepName('n1'))))!.value).metadata.labels, {
      own: 'x',
      rack: 'r9',
    });

    inf.nodes.remove('n1');
    await c.idle();
    assert.equal(await backend.get(resourceKey(NODE, 'n1')), undefined);
    assert.equal(await backend.get(resourceKey(HEP, autoHepName('n1'))), undefined);
    assert.equal(await backend.get(wep1), undefined);
    assert.ok(await backend.get(wep2), "the other node's endpoint stays");
    assert.equal((await ipam.lookupIp(n1pod.address)).state, 'free');
    assert.equal((await ipam.lookupIp(tunnel.address)).state, 'free');
    assert.equal((await ipam.lookupIp(borrowed.address)).state, 'allocated', 'the borrowed address stays');
    assert.equal((await backend.list(ipamKeys.hostAffinitiesPrefix('n1'))).items.length, 0);
    const blocks = (await backend.list(ipamKeys.blocksPrefix)).items.map((kv) => JSON.parse(kv.value));
    assert.equal(blocks.length, 1, 'the block holding the borrowed address is kept');
    assert.equal(blocks[0].affinity, null);
    assert.ok(await backend.get(resourceKey(NODE, 'n2')));
    c.stop();
    ac.abort();
  });

  it('never removes a Tessera Node that never had a Kubernetes Node', async () => {
    const backend = new MemoryBackend();
    await putNode(backend, 'lonely', {});
    const inf = informers();
    inf.nodes.markSynced();
    const c = new NodeController(ctxFor(backend), inf.nodes, {
      syncLabels: true,
      autoHostEndpoints: false,
      reconcilerPeriodMs: 0,
    });
    const ac = new AbortController();
    await c.start(ac.signal);
    await c.idle();
    assert.ok(await backend.get(resourceKey(NODE, 'lonely')));
    c.stop();
    ac.abort();
  });
});

describe('informer (client-node ListWatch underneath)', () => {
  /** A fake API: list returns the objects at `rv`; watch hands its callbacks to the test. */
  function fakeApi() {
    const watches: {
      params: Record<string, unknown>;
      cb: (p: string, o: unknown) => void;
      done: (e: unknown) => void;
    }[] = [];
    let lists = 0;
    let rv = '10';
    let items: unknown[] = [
      {
        metadata: { name: 'a', namespace: 'x', resourceVersion: '5', labels: { v: '1' } },
        spec: { containers: [], nodeName: 'n' },
      },
    ];
    const informer = new KubeInformer({
      resource: KUBE_RESOURCES.pods,
      slim: slimFor('pods'),
      backoffBaseMs: 5,
      list: async () => {
        lists++;
        return { metadata: { resourceVersion: rv }, items };
      },
      watch: {
        watch: async (_path, params, cb, done) => {
          watches.push({ params, cb, done });
          return new AbortController();
        },
      },
    });
    return { informer, watches, listCount: () => lists, setList: (r: string, i: unknown[]) => ((rv = r), (items = i)) };
  }
  const until = async (f: () => boolean) => {
    for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(f());
  };

  it('lists, watches with bookmarks, keeps its resourceVersion across a broken stream, relists on 410', async () => {
    const api = fakeApi();
    const changes: string[] = [];
    api.informer.on('change', (o) => changes.push(`${o.metadata.name}:${o.metadata.labels?.v ?? '-'}`));
    await api.informer.start();
    await api.informer.waitSynced();
    await until(() => api.watches.length === 1);
    assert.equal(api.watches[0]!.params.resourceVersion, '10');
    assert.equal(api.watches[0]!.params.allowWatchBookmarks, true);
    api.watches[0]!.cb('MODIFIED', {
      metadata: { name: 'a', namespace: 'x', resourceVersion: '11', labels: { v: '2' } },
      spec: { containers: [] },
      status: { podIP: '10.0.0.9', conditions: [1, 2] },
    });
    api.watches[0]!.cb('BOOKMARK', { metadata: { resourceVersion: '15' } });
    assert.equal(api.informer.get('a', 'x')?.metadata.labels?.v, '2');
    assert.deepEqual(api.informer.get('a', 'x')?.status, { podIPs: [{ ip: '10.0.0.9' }] }, 'cached slim');
    // The stream breaks: restart after backoff from the bookmark's resourceVersion, no relist.
    api.watches[0]!.done(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await until(() => api.watches.length === 2);
    assert.equal(api.watches[1]!.params.resourceVersion, '15');
    assert.equal(api.listCount(), 1);
    // 410 Gone: relist, and a watch from the new list's resourceVersion; the vanished object is deleted.
    api.setList('40', [{ metadata: { name: 'b', namespace: 'x', resourceVersion: '39' }, spec: { containers: [] } }]);
    api.watches[1]!.cb('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    api.watches[1]!.done(null);
    await until(() => api.watches.length === 3);
    assert.equal(api.listCount(), 2);
    assert.equal(api.watches[2]!.params.resourceVersion, '40');
    assert.equal(api.informer.get('a', 'x'), undefined);
    assert.ok(api.informer.get('b', 'x'));
    assert.deepEqual(changes, ['a:1', 'a:2', 'a:2', 'b:-']);
    await api.informer.stop();
  });
});

describe('leader election', () => {
  it('two replicas: only the leader writes; the standby takes over when the leader dies', async () => {
    const store = new MemoryStore();
    const backends = [new MemoryBackend({ store }), new MemoryBackend({ store })];
    const inf = informers();
    inf.namespaces.set({ metadata: { name: 'ns1', labels: { a: '1' } } });
    for (const i of Object.values(inf)) i.markSynced();
    const replicas = backends.map(
      (backend, i) =>
        new KubeControllers({
          backend,
          informers: inf,
          logger,
          identity: `r${i}`,
          leaderTtlSeconds: 1,
          leaderRetryMs: 50,
          metrics: new ControllerMetrics(false),
        }),
    );
    for (const r of replicas) r.start();
    const until = async (f: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 400 && !(await f()); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(await f());
    };
    await until(() => replicas.some((r) => r.isLeader));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(replicas.filter((r) => r.isLeader).length, 1);
    const leader = replicas.findIndex((r) => r.isLeader);
    const standby = 1 - leader;
    await until(async () => (await backends[0]!.get('/tessera/v1/res/core/namespaces/ns1')) !== undefined);
    assert.equal(replicas[standby]!.controllers.length, 0, 'the standby runs no controller');
    assert.equal(await replicas[standby]!.metrics.writes.get().then((m) => m.values.length), 0);
    // The leader dies (its lease is no longer kept alive).
    await replicas[leader]!.stop();
    await backends[leader]!.close();
    inf.namespaces.set({ metadata: { name: 'ns2' } });
    await until(() => replicas[standby]!.isLeader);
    await until(async () => (await backends[standby]!.get('/tessera/v1/res/core/namespaces/ns2')) !== undefined);
    await replicas[standby]!.stop();
    await backends[standby]!.close();
    void kindPrefix;
  });
});

describe('configuration', () => {
  it('restarts the controllers when `default` changes, not when it is rewritten unchanged', async () => {
    const backend = new MemoryBackend();
    const inf = informers();
    for (const i of Object.values(inf)) i.markSynced();
    const kcs = new KubeControllers({
      backend,
      informers: inf,
      logger,
      identity: 'r0',
      leaderRetryMs: 50,
      metrics: new ControllerMetrics(false),
    });
    kcs.start();
    const until = async (f: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 400 && !(await f()); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(await f());
    };
    await until(() => kcs.controllers.length > 0);
    const first = kcs.controllers;
    const key = resourceKey(KCC_INFO, 'default');
    const kv = (await backend.get(key))!;
    // The same value written again (a watch event, no change): the controllers keep running.
    await backend.put(key, kv.value);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(kcs.controllers, first);
    // A real change: the namespace controller is turned off.
    const kcc = JSON.parse(kv.value) as { spec: { controllers: Record<string, unknown> } };
    delete kcc.spec.controllers.namespace;
    await backend.put(key, JSON.stringify(kcc));
    await until(() => kcs.controllers !== first);
    assert.ok(!kcs.controllers.some((c) => c.name === 'namespace'));
    await kcs.stop();
    await backend.close();
  });
});
