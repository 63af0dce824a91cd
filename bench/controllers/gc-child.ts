/**
 * The controller side of bench-controllers, in its own process so its peak RSS is the
 * controller's: an informer cache of the live pods (slim, as KubeInformer keeps them) and the IPAM
 * GC over the etcd the parent loaded. Prints one JSON line.
 *   gc-child.ts ENDPOINT PODS LEAK_EVERY
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { EtcdBackend } from '../../src/datastore/index.js';
import {
  ControllerMetrics,
  FakeInformer,
  IpamGarbageCollector,
  KUBE_RESOURCES,
  slimFor,
} from '../../src/controllers/index.js';
import { systemClock } from '../../src/lib/clock.js';

const [endpoint, podsArg, leakEveryArg] = process.argv.slice(2);
const PODS = Number(podsArg);
const LEAK_EVERY = Number(leakEveryArg);
const backend = new EtcdBackend({ endpoints: [endpoint!], callTimeoutMs: 120_000 });
const pods = new FakeInformer(KUBE_RESOURCES.pods);
const nodes = new FakeInformer(KUBE_RESOURCES.nodes);
const slim = slimFor('pods');
// The objects as the API would send them (then slimmed, as the informer does).
for (let i = 0; i < PODS; i++) {
  if (i % LEAK_EVERY === 0) continue; // this pod is gone: its allocation is a leak
  pods.set(
    slim({
      metadata: {
        name: `pod-${i}`,
        namespace: `ns-${i % 100}`,
        uid: `uid-${i}`,
        resourceVersion: String(i + 10),
        labels: { app: `app-${i % 50}`, 'pod-template-hash': 'abcdef1234' },
      },
      spec: {
        nodeName: `node-${i % 1000}`,
        serviceAccountName: 'default',
        containers: [
          {
            name: 'main',
            image: 'registry.example/app:1.0',
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          },
        ],
      },
      status: { phase: 'Running' },
    }),
  );
}
for (let n = 0; n < 1000; n++) nodes.set({ metadata: { name: `node-${n}` }, status: { addresses: [] } });
pods.markSynced();
nodes.markSynced();
const ctx = { backend, metrics: new ControllerMetrics(false), logger: pino({ level: 'silent' }), clock: systemClock };
await backend.revision(); // connect first: a long-running controller's connection is warm
// Pass 1: a full pass that finds every leak (inside its grace period: nothing released).
const detect = new IpamGarbageCollector(ctx, pods, nodes, { leakGracePeriodMs: 15 * 60_000, intervalMs: 3_600_000 });
let t0 = performance.now();
const r1 = await detect.pass();
const detectMs = performance.now() - t0;
// Pass 2: the grace period over: the same full pass, now releasing every leak.
const release = new IpamGarbageCollector(ctx, pods, nodes, { leakGracePeriodMs: 0, intervalMs: 3_600_000 });
t0 = performance.now();
const r2 = await release.pass();
const releaseMs = performance.now() - t0;
await backend.close();
const hwm = /VmHWM:\s+(\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));
console.log(
  JSON.stringify({
    detectMs,
    releaseMs,
    allocations: r1.allocations,
    leaks: r1.leaks,
    released: r2.released,
    stale: r2.stale,
    maxRssMiB: Number(hwm?.[1] ?? 0) / 1024,
  }),
);
process.exit(0);
