/**
 * bench-controllers, part 3: a pod label change made in the Kubernetes API until it is enforced on
 * the node, against the same label change written straight to Tessera's datastore (the mirrored
 * v1 Pod's labels, what the lab and `tessera label pod` wrote before kube-controllers), in one run.
 *
 * A 3-node lab with the stand-in API and tessera-kube-controllers (`lab up`). A NetworkPolicy
 * applied through the API denies all ingress to pods labelled `blocked=yes`. Two target pods on
 * node-2 (a connrate server each): `api` is flipped through the API (a merge PATCH of its labels,
 * as `kubectl label` sends), `direct` through the datastore (get + put of its mirrored Pod). The
 * flips alternate api, direct, api, ... so both paths see the same load. Probers on node-1 and
 * node-3 (bench/policy/prober.ts, one persistent process per prober pod) connect to both targets
 * every PROBE_INTERVAL_MS; a flip's latency is the worst, over the prober streams to that target,
 * of (start of the first probe after which every probe shows the new verdict) − (time just before
 * the write). Ingress is enforced on node-2, the targets' node.
 *
 * The controller does not undo the direct writes during the run: it writes the mirrored Pod only
 * on an API event for that pod (none for `direct`) or on its periodic reconcile (5 min default).
 */
import { kindFor, type Resource } from '../../src/api/index.js';
import { LabKubeClient, podCreate, type PodState } from '../../src/lab/index.js';
import { percentile } from '../lib/stats.js';
import { spread } from '../policy/checks.js';
import { PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, startProber, type Sample } from '../policy/latency.js';
import { now, sleep, startServer, type LabBench } from '../policy/lab-kit.js';

const FLIPS = Number(process.env['LABEL_FLIPS'] ?? 25);
const SETTLE_TIMEOUT_MS = 10_000;
const NS = 'bench-label';
const POD_INFO = kindFor('v1', 'Pod')!;

/** Probes started at or after `since`, by start time. */
const after = (s: Sample[], since: number) => s.filter((x) => x.start >= since).sort((a, b) => a.start - b.start);

/** The latest 3 probes since `since` all show `want`. */
function settled(s: Sample[], since: number, want: boolean): boolean {
  const tail = after(s, since).slice(-3);
  return tail.length === 3 && tail.every((x) => x.ok === want);
}

/** ms from `at` to the first probe after which [at, to) shows only `want` (Infinity if never). */
function enforcedAfter(s: Sample[], at: number, to: number, want: boolean): number {
  const win = after(s, at).filter((x) => x.start < to);
  let lastWrong = -Infinity;
  for (const x of win) if (x.ok !== want) lastWrong = x.start;
  const first = win.find((x) => x.start > lastWrong && x.ok === want);
  return first ? first.start - at : Infinity;
}

/** A pod created through the API; the CNI ADD is retried until the controller mirrored the pod. */
async function createPod(b: LabBench, ref: string, node: string, labels: Record<string, string>): Promise<PodState> {
  for (let i = 0; ; i++) {
    try {
      return await podCreate(b.lab, ref, { node, labels });
    } catch (err) {
      if (i >= 20 || !String((err as Error).message).includes('not in the datastore yet')) throw err;
      await sleep(300);
    }
  }
}

export interface LabelLatencyResult {
  apiP99: number;
  directP99: number;
}

export async function runLabelLatency(b: LabBench): Promise<LabelLatencyResult> {
  const kube = b.lab.kube;
  if (!kube) throw new Error('the lab runs no Kubernetes API (lab up without --no-kube-api is needed)');
  const api = new LabKubeClient(kube.url);
  await api.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, 'ns');
  await api.create(
    `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny-blocked', namespace: NS },
      spec: { podSelector: { matchLabels: { blocked: 'yes' } }, policyTypes: ['Ingress'] },
    },
    'create the NetworkPolicy',
  );
  const [n1, n2, n3] = b.lab.nodes.map((n) => n.name);
  const targets = [
    await createPod(b, `${NS}/api`, n2!, { role: 'target', blocked: 'no' }),
    await createPod(b, `${NS}/direct`, n2!, { role: 'target', blocked: 'no' }),
  ];
  const probers = [
    await createPod(b, `${NS}/c1`, n1!, { role: 'prober' }),
    await createPod(b, `${NS}/c3`, n3!, { role: 'prober' }),
  ];
  for (const t of targets) await startServer(b, t.netns);
  // streams[target][prober]
  const streams: Sample[][][] = targets.map(() => probers.map(() => []));
  const perProber: Sample[][][] = probers.map((_, p) => targets.map((_t, t) => streams[t]![p]!));
  const children = probers.map((p, i) => startProber(b, p, targets, perProber[i]!));
  const waitSettled = async (t: number, since: number, want: boolean): Promise<boolean> => {
    const deadline = now() + SETTLE_TIMEOUT_MS;
    while (now() < deadline) {
      if (streams[t]!.every((s) => settled(s, since, want))) return true;
      await sleep(5);
    }
    return false;
  };
  try {
    for (const t of [0, 1])
      if (!(await waitSettled(t, now(), true))) throw new Error('probes did not all connect before the first flip');
    const flips: { target: number; at: number; want: boolean; writeMs: number }[] = [];
    let timeouts = 0;
    for (let k = 0; k < 2 * FLIPS; k++) {
      const target = k % 2; // 0 = through the API, 1 = straight to the datastore
      const round = Math.floor(k / 2);
      const blocked = round % 2 === 0;
      const value = blocked ? 'yes' : 'no';
      const at = now();
      if (target === 0) {
        await api.mergePatch(
          `/api/v1/namespaces/${NS}/pods/api`,
          { metadata: { labels: { blocked: value } } },
          'label',
        );
      } else {
        const pod = (await b.store.get(POD_INFO, 'direct', NS)) as Resource;
        await b.store.apply({
          ...pod,
          metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, blocked: value } },
        });
      }
      flips.push({ target, at, want: !blocked, writeMs: now() - at });
      if (!(await waitSettled(target, at, !blocked))) timeouts++;
      await sleep(20 + Math.random() * PROBE_INTERVAL_MS);
    }
    await sleep(PROBE_TIMEOUT_MS + 50);
    const end = now();
    for (const c of children) c.stdin?.end();
    const lat = (target: number) => {
      const mine = flips.filter((f) => f.target === target);
      return mine.map((f, i) => {
        const to = mine[i + 1]?.at ?? end;
        return Math.max(...streams[target]!.map((s) => enforcedAfter(s, f.at, to, f.want)));
      });
    };
    const viaApi = lat(0);
    const viaStore = lat(1);
    const w = (t: number) => flips.filter((f) => f.target === t).map((f) => f.writeMs);
    console.log(
      `${FLIPS} flips of each pod's label (alternating), probes every ${PROBE_INTERVAL_MS} ms from node-1 and node-3, ${timeouts} flip(s) never settled within ${SETTLE_TIMEOUT_MS} ms`,
    );
    console.log(`  API merge PATCH alone:                       ${spread(w(0), percentile)}`);
    console.log(`  datastore get + put of the mirrored Pod:     ${spread(w(1), percentile)}`);
    console.log(`  API label → enforced on ${n2} (controllers): ${spread(viaApi, percentile)}`);
    console.log(`  datastore label → enforced on ${n2} (baseline): ${spread(viaStore, percentile)}`);
    const slowest = (lats: number[], t: number) =>
      lats
        .map((ms, i) => ({ ms, at: flips.filter((f) => f.target === t)[i]!.at, i }))
        .sort((a, c) => c.ms - a.ms)
        .slice(0, 3)
        .map((s) => `#${s.i + 1} ${s.ms.toFixed(0)} ms at ${new Date(s.at).toISOString().slice(11, 23)}`)
        .join(', ');
    console.log(`  slowest API flips: ${slowest(viaApi, 0)}`);
    console.log(`  slowest datastore flips: ${slowest(viaStore, 1)}`);
    return { apiP99: percentile(viaApi, 99), directP99: percentile(viaStore, 99) };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
