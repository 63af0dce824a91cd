/**
 * The controller side of bench-controllers, in its own process so its peak RSS is the
 * controller's: KubeInformer's cache of the live pods (fed full Pod JSON, listed in pages as from
 * the API) and the IPAM GC over the etcd the parent loaded. Prints one JSON line.
 *   gc-child.ts ENDPOINT PODS LEAK_EVERY [ROUNDS]
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { EtcdBackend, ipamKeys, listInPages } from '../../src/datastore/index.js';
import {
  ControllerMetrics,
  FakeInformer,
  IpamGarbageCollector,
  KUBE_RESOURCES,
  KubeInformer,
  slimFor,
  type PageListFn,
} from '../../src/controllers/index.js';
import { systemClock } from '../../src/lib/clock.js';
import { run } from '../../src/lib/exec.js';

const [endpoint, podsArg, leakEveryArg, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg ?? 5);
const PODS = Number(podsArg);
const LEAK_EVERY = Number(leakEveryArg);
const backend = new EtcdBackend({ endpoints: [endpoint!], callTimeoutMs: 120_000 });
const live = Array.from({ length: PODS }, (_, i) => i).filter((i) => i % LEAK_EVERY !== 0); // the rest are gone: leaks

/** Pod i as the API sends it (a typical Deployment pod, ~2.5 KB of JSON). */
function podJson(i: number): string {
  const app = `app-${i % 50}`;
  // The address main.ts allocated to pod i (block i >> 6, ordinal i & 63).
  const b = i >> 6;
  const ip = `10.${64 + (b >> 10)}.${(b >> 2) & 255}.${(b & 3) * 64 + (i & 63)}`;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${i}`,
      generateName: `${app}-7d9f8c6b5-`,
      namespace: `ns-${i % 100}`,
      uid: `0b6f${String(i).padStart(8, '0')}-8e1c-4c57-9d3a-2f4e6a8b1c0d`,
      resourceVersion: String(i + 10),
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app, 'pod-template-hash': '7d9f8c6b5' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-7d9f8c6b5`, uid: 'rs-uid', controller: true },
      ],
    },
    spec: {
      nodeName: `node-${i % 1000}`,
      serviceAccountName: 'default',
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      containers: [
        {
          name: 'main',
          image: 'registry.example/app:1.0',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MODE', value: 'production' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        },
      ],
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }],
    },
    status: {
      phase: 'Running',
      hostIP: `192.168.${(i % 1000) >> 8}.${i % 256}`,
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:05Z' },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: '2026-01-01T00:00:05Z' },
      ],
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          image: 'registry.example/app:1.0',
          containerID: `containerd://${String(i).padStart(64, 'c')}`,
          state: { running: { startedAt: '2026-01-01T00:00:04Z' } },
        },
      ],
    },
  });
}

// The pods reach the cache as in the controller: pages of 500 parsed from the API's JSON, slimmed
// by KubeInformer (ListWatch underneath), the watch opened afterwards (idle here).
const list: PageListFn = async ({ limit, continue: cont }) => {
  const from = Number(cont ?? 0);
  const text = `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"${PODS + 10}"${
    from + limit < live.length ? `,"continue":"${from + limit}"` : ''
  }},"items":[${live
    .slice(from, from + limit)
    .map(podJson)
    .join(',')}]}`;
  return JSON.parse(text) as Awaited<ReturnType<PageListFn>>;
};
const pods = new KubeInformer({
  resource: KUBE_RESOURCES.pods,
  watch: { watch: async () => new AbortController() },
  list,
  slim: slimFor('pods'),
});
const nodes = new FakeInformer(KUBE_RESOURCES.nodes);
const heapMiB = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const heapBefore = heapMiB();
let t0 = performance.now();
await pods.start();
await pods.waitSynced();
const podSyncMs = performance.now() - t0;
const podCacheMiB = heapMiB() - heapBefore;
for (let n = 0; n < 1000; n++) nodes.set({ metadata: { name: `node-${n}` }, status: { addresses: [] } });
nodes.markSynced();
let graceOver = 0;
const clock = { nowMs: () => systemClock.nowMs() + graceOver, nowIso: () => new Date(clock.nowMs()).toISOString() };
const ctx = { backend, metrics: new ControllerMetrics(false), logger: pino({ level: 'silent' }), clock };
await backend.revision(); // connect first: a long-running controller's connection is warm
// The baseline, `etcdctl get --prefix` of the block keys the pass reads (all of them; the pass's
// only other reads are the Tessera Nodes, none here, and its pending-leaks key), printed to
// /dev/null. Timed here, alternating with the passes, so both see the same machine load.
const etcdctl = async () => {
  const t = performance.now();
  await run(
    [
      'sh',
      '-c',
      `ETCDCTL_API=3 etcdctl --endpoints=${endpoint} --command-timeout=120s get --prefix '${ipamKeys.blocksPrefix}' > /dev/null`,
    ],
    { timeoutMs: 300_000 },
  );
  return performance.now() - t;
};
// Full passes that find every leak (inside its grace period: nothing released), as a long-running
// controller runs them; the first one after the process starts also pays V8's compilation.
const detect = new IpamGarbageCollector(ctx, pods, nodes, { leakGracePeriodMs: 15 * 60_000, intervalMs: 3_600_000 });
t0 = performance.now();
const r1 = await detect.pass();
const firstPassMs = performance.now() - t0;
const passMs: number[] = [];
const etcdctlMs: number[] = [];
// Churn between passes, as in a live cluster: 1% of the blocks written since the previous pass
// (rewritten unchanged: a new revision, the same allocations, so the leak count stays).
const blockKeys: string[] = [];
for await (const page of listInPages(backend, ipamKeys.blocksPrefix, { keysOnly: true }))
  for (const kv of page) blockKeys.push(kv.key);
const churn = async (k: number) => {
  for (let i = k; i < blockKeys.length; i += 100) {
    const kv = await backend.get(blockKeys[i]!);
    if (kv) await backend.put(kv.key, kv.value);
  }
};
for (let k = 0; k < ROUNDS; k++) {
  await churn(k);
  etcdctlMs.push(await etcdctl());
  t0 = performance.now();
  const r = await detect.pass();
  passMs.push(performance.now() - t0);
  if (r.allocations !== r1.allocations || r.leaks !== r1.leaks) throw new Error(`pass ${k + 2} saw a different store`);
}
// The grace period over (the controller's clock moved 15 minutes on): the same collector's next
// pass releases every leak.
graceOver = 15 * 60_000 + 1;
t0 = performance.now();
const r2 = await detect.pass();
const releaseMs = performance.now() - t0;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
// A freshly started controller's first pass: its start() reads every block while the informers
// are still listing (the pod list above took podSyncMs), so once they have synced the pass
// re-reads only the blocks written meanwhile (1% here). After the peak RSS was read: this second
// collector's summaries are not the controller's.
const early = new IpamGarbageCollector(ctx, pods, nodes, { leakGracePeriodMs: 15 * 60_000, intervalMs: 3_600_000 });
t0 = performance.now();
await early.prefetch();
const prefetchMs = performance.now() - t0;
await churn(ROUNDS);
t0 = performance.now();
await early.pass();
const startedPassMs = performance.now() - t0;
// For the reader: the datastore's own list of the blocks, the first step of every pass.
t0 = performance.now();
await backend.list(ipamKeys.blocksPrefix);
const listMs = performance.now() - t0;
await backend.close();
console.log(
  JSON.stringify({
    firstPassMs,
    podSyncMs,
    prefetchMs,
    startedPassMs,
    passMs,
    etcdctlMs,
    listMs,
    releaseMs,
    allocations: r1.allocations,
    leaks: r1.leaks,
    released: r2.released,
    stale: r2.stale,
    maxRssMiB: Number(hwm?.[1] ?? 0) / 1024,
    podCacheMiB,
    podsCached: pods.list().length,
  }),
);
process.exit(0);
