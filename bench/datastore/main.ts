/**
 * Datastore bench: how far is a fresh Syncer's initial sync from the floor (`etcdctl get --prefix`)
 * on a realistic large cluster (100k WorkloadEndpoints + 10k NetworkPolicies, ~1 KB each)?
 *
 *   node --import tsx bench/datastore/main.ts [--weps 100000] [--policies 10000] [--runs 3] [--page-size N]
 *
 * Both sides are measured in this one run against the same etcd, best of `runs`:
 *  (a) `etcdctl get --prefix <root>` to /dev/null, wall time including its process start;
 *  (b) a child process running a fresh Syncer to in-sync; it reports its own elapsed time
 *      (client creation -> in-sync, i.e. excluding Node/tsx start-up, reported separately) and
 *      its peak RSS.
 * Targets: syncer <= 3x etcdctl, peak RSS <= 500 MiB.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startEtcd } from '../../src/lab/etcd.js';
import { run } from '../../src/lib/exec.js';
import { EtcdBackend, RESOURCE_ROOT, encodeResource, resourceKey, type TxnOp } from '../../src/datastore/index.js';
import { lookupKind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/resource.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const WEPS = arg('weps', 100_000);
const POLICIES = arg('policies', 10_000);
const RUNS = arg('runs', 3);
const PAGE_SIZE = arg('page-size', 0);
const WEP = lookupKind('workloadendpoint')!;
const NP = lookupKind('networkpolicy')!;

const hex = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);

function wep(i: number): Resource {
  const ns = `ns-${i % 200}`;
  const node = `node-${hex(i % 500, 3)}`;
  const pod = `app-${i % 97}-deploy-${hex(i * 2654435761, 8)}-${hex(i, 5)}`;
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: `${node}-k8s-${pod}-eth0`,
      namespace: ns,
      uid: `${hex(i, 8)}-7c1e-4b4f-9a3d-${hex(i * 31, 12)}`,
      creationTimestamp: '2024-05-01T12:00:00Z',
      labels: {
        app: `app-${i % 97}`,
        'pod-template-hash': hex(i * 2654435761, 8),
        tier: ['frontend', 'backend', 'db'][i % 3]!,
        'projectcalico.org/namespace': ns,
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': 'default',
      },
    },
    spec: {
      orchestrator: 'k8s',
      node,
      pod,
      endpoint: 'eth0',
      containerID: `${hex(i * 7919, 16)}${hex(i * 104729, 16)}${hex(i, 16)}${hex(i * 13, 16)}`,
      serviceAccountName: 'default',
      ipNetworks: [`${ip}/32`],
      profiles: [`kns.${ns}`, `ksa.${ns}.default`],
      interfaceName: `tsr${hex(i * 40503, 11)}`,
      mac: `ee:ee:${hex(i >> 24, 2)}:${hex(i >> 16, 2)}:${hex(i >> 8, 2)}:${hex(i, 2)}`,
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9090, protocol: 'TCP' },
      ],
    },
  };
}

function policy(i: number): Resource {
  const ns = `ns-${i % 200}`;
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: {
      name: `allow-app-${i}`,
      namespace: ns,
      uid: `${hex(i, 8)}-1111-4222-8333-${hex(i * 17, 12)}`,
      creationTimestamp: '2024-05-01T12:00:00Z',
    },
    spec: {
      tier: 'default',
      order: 100 + (i % 50),
      selector: `app == 'app-${i % 97}' && tier == 'backend'`,
      types: ['Ingress', 'Egress'],
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: {
            selector: `app == 'app-${(i + 1) % 97}'`,
            namespaceSelector: `kubernetes.io/metadata.name == '${ns}'`,
          },
          destination: { ports: [8080, '9000:9100'] },
        },
        { action: 'Allow', protocol: 'UDP', source: { nets: [`10.${i % 256}.0.0/16`] }, destination: { ports: [53] } },
      ],
      egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: 'tier == "db"', ports: [5432] } }],
    },
  };
}

function keyOf(r: Resource): string {
  const info = r.kind === 'WorkloadEndpoint' ? WEP : NP;
  return resourceKey(info, r.metadata.name, r.metadata.namespace);
}

async function load(backend: EtcdBackend): Promise<{ keys: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  const total = WEPS + POLICIES;
  const batch = 500;
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      if (start >= total) return;
      next += batch;
      const ops: TxnOp[] = [];
      for (let i = start; i < Math.min(total, start + batch); i++) {
        const r = i < WEPS ? wep(i) : policy(i - WEPS);
        const value = encodeResource(r);
        bytes += value.length;
        ops.push({ op: 'put', key: keyOf(r), value });
      }
      await backend.txn(ops);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { keys: total, bytes, ms: performance.now() - t0 };
}

async function timeEtcdctl(endpoint: string): Promise<number> {
  const t0 = performance.now();
  await run([
    'sh',
    '-c',
    `ETCDCTL_API=3 etcdctl --endpoints=${endpoint} --command-timeout=120s get --prefix '${RESOURCE_ROOT}' > /dev/null`,
  ]);
  return performance.now() - t0;
}

interface ChildReport {
  elapsedMs: number;
  processMs: number;
  updates: number;
  maxRssMiB: number;
}

async function timeSyncer(endpoint: string): Promise<ChildReport & { wallMs: number }> {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'sync-child.ts');
  const t0 = performance.now();
  const res = await run(['node', '--import', 'tsx', child, endpoint, String(PAGE_SIZE), RESOURCE_ROOT], {
    timeoutMs: 300_000,
  });
  const wallMs = performance.now() - t0;
  return { ...(JSON.parse(res.stdout.trim().split('\n').pop()!) as ChildReport), wallMs };
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  const etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(8 * 1024 ** 3)] });
  const backend = new EtcdBackend({ endpoints: etcd.endpoints, callTimeoutMs: 60_000 });
  try {
    const loaded = await load(backend);
    console.log(
      `loaded ${loaded.keys} keys (${WEPS} WorkloadEndpoints + ${POLICIES} NetworkPolicies), ` +
        `${(loaded.bytes / 1024 / 1024).toFixed(1)} MiB, avg ${(loaded.bytes / loaded.keys).toFixed(0)} B/value, in ${fmt(loaded.ms)}`,
    );
    const ep = etcd.endpoints[0]!;
    const ctl: number[] = [];
    const syn: (ChildReport & { wallMs: number })[] = [];
    for (let i = 0; i < RUNS; i++) {
      ctl.push(await timeEtcdctl(ep));
      const s = await timeSyncer(ep);
      if (s.updates !== loaded.keys) throw new Error(`syncer saw ${s.updates} keys, expected ${loaded.keys}`);
      syn.push(s);
      console.log(
        `run ${i + 1}: etcdctl ${fmt(ctl[i]!)} | syncer ${fmt(s.elapsedMs)} to in-sync ` +
          `(process start -> in-sync ${fmt(s.processMs)}, child wall ${fmt(s.wallMs)}), peak RSS ${s.maxRssMiB.toFixed(0)} MiB`,
      );
    }
    const bestCtl = Math.min(...ctl);
    const bestSyn = Math.min(...syn.map((s) => s.elapsedMs));
    const bestProc = Math.min(...syn.map((s) => s.processMs));
    const rss = Math.max(...syn.map((s) => s.maxRssMiB));
    const ratio = bestSyn / bestCtl;
    const pf = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    console.log('');
    console.log(`etcdctl get --prefix (floor):  ${fmt(bestCtl)}  (best of ${RUNS})`);
    console.log(
      `fresh Syncer to in-sync:       ${fmt(bestSyn)}  (best of ${RUNS}; incl. Node+tsx start: ${fmt(bestProc)})`,
    );
    console.log(`ratio syncer/etcdctl:          ${ratio.toFixed(2)}x  (target <= 3x)  ${pf(ratio <= 3)}`);
    console.log(`  (incl. process start:        ${(bestProc / bestCtl).toFixed(2)}x)`);
    console.log(`syncer peak RSS:               ${rss.toFixed(0)} MiB  (target <= 500 MiB)  ${pf(rss <= 500)}`);
    if (ratio > 3 || rss > 500) process.exitCode = 1;
  } finally {
    await backend.close();
    await etcd.stop();
  }
}

await main();
