/**
 * bench-policy part 4, the host path (issue 17), on the lab of parts 1 and 3:
 *   a. new-connection rate to a host port guarded by 1,000 host policies vs the same port on a node
 *      with no host endpoint. A pod on node-2 connects (connect + RST close, connrate.c) to
 *      `connrate serve` in the host netns of node-1 (HostEndpoint `*`, 1,000 GlobalNetworkPolicies
 *      selecting it: policy i allows TCP from the client to port 10000+i, the last one the server
 *      port) and of node-3 (no host endpoint), in interleaved rounds. Target: median per-round
 *      ratio >= 0.9. Phase 0 (before any host endpoint) calibrates the two nodes.
 *   b. throughput of a doNotTrack flow vs the same flow tracked: iperf3 from node-2's host netns to
 *      node-1's on a port allowed by a doNotTrack policy (no conntrack entry on node-1) and on one
 *      allowed by a normal policy, interleaved; the median ratio is reported (no target).
 * Env: HP_POLICIES (1000), HP_ROUNDS (7), HP_RUN_MS (500), HP_IPERF_SECONDS (2), HP_IPERF_ROUNDS (3).
 */
import type { Resource } from '../../src/api/index.js';
import { podCreate } from '../../src/lab/index.js';
import { run, start } from '../../src/lib/exec.js';
import { percentile } from '../lib/stats.js';
import type { TargetCheck } from './checks.js';
import { SERVER_PORT, connectRate, policyResource, sleep, startServer, type LabBench } from './lab-kit.js';

const POLICIES = Number(process.env['HP_POLICIES'] ?? 1000);
const ROUNDS = Number(process.env['HP_ROUNDS'] ?? 7);
const RUN_MS = Number(process.env['HP_RUN_MS'] ?? 500);
const IPERF_SECONDS = Number(process.env['HP_IPERF_SECONDS'] ?? 2);
const IPERF_ROUNDS = Number(process.env['HP_IPERF_ROUNDS'] ?? 3);
const UNTRACKED_PORT = 5301;
const TRACKED_PORT = 5302;
const median = (xs: readonly number[]): number => percentile(xs, 50);
const v4 = (ips: readonly string[]) => ips.find((a) => !a.includes(':'))!.split('/')[0]!;

function gnp(name: string, spec: Record<string, unknown>): Resource {
  return policyResource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
}

async function iperf(fromNetns: string, toNetns: string, ip: string, port: number): Promise<number> {
  const server = start(['iperf3', '-s', '-1', '-p', String(port)], { netns: toNetns, stdio: 'ignore' });
  try {
    for (let attempt = 0; ; attempt++) {
      const r = await run(['iperf3', '-c', ip, '-p', String(port), '-t', String(IPERF_SECONDS), '-J'], {
        netns: fromNetns,
        check: false,
        timeoutMs: (IPERF_SECONDS + 20) * 1000,
      });
      const j = JSON.parse(r.stdout || '{}') as {
        error?: string;
        end?: { sum_received?: { bits_per_second?: number } };
      };
      const bps = j.end?.sum_received?.bits_per_second;
      if (r.code === 0 && bps) return bps / 1e9;
      if (attempt < 20 && /refused/i.test(j.error ?? r.stderr)) {
        await sleep(100);
        continue;
      }
      throw new Error(`iperf3 ${fromNetns} -> ${ip}:${port} failed: ${j.error ?? r.stderr}`);
    }
  } finally {
    server.kill('SIGKILL');
  }
}

export async function runHostPath(b: LabBench): Promise<TargetCheck[]> {
  const [n1, n2, n3] = b.lab.nodes as [(typeof b.lab.nodes)[0], (typeof b.lab.nodes)[0], (typeof b.lab.nodes)[0]];
  const client = await podCreate(b.lab, 'bench-hp/hclient', { node: n2.name, labels: { role: 'hclient' } });
  const guarded = v4(n1.ips);
  const open = v4(n3.ips);
  for (const n of [n1, n3]) await startServer(b, n.netns);
  const measure = async () => {
    const rates = { guarded: [] as number[], open: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      rates.guarded.push((await connectRate(b, client.netns, guarded, RUN_MS)).rate);
      rates.open.push((await connectRate(b, client.netns, open, RUN_MS)).rate);
    }
    return rates;
  };
  const before = await measure();

  const heps: Resource[] = [
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: `${n1.name}-bench`, labels: { 'bench-host': 'yes' } },
      spec: { node: n1.name, interfaceName: '*' },
    },
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: `${n1.name}-bench-eth0`, labels: { 'bench-host': 'yes' } },
      spec: { node: n1.name, interfaceName: 'eth0' },
    },
  ];
  const policies = Array.from({ length: POLICIES }, (_, k) =>
    gnp(`hp-${String(k + 1).padStart(4, '0')}`, {
      order: k + 1,
      selector: 'bench-host == "yes"',
      types: ['Ingress'],
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { nets: [`${v4(client.ips)}/32`] },
          destination: { ports: [k + 1 === POLICIES ? SERVER_PORT : 10_000 + k + 1] },
        },
      ],
    }),
  );
  const extra = [
    gnp('hp-untracked', {
      order: 0,
      selector: 'bench-host == "yes"',
      doNotTrack: true,
      applyOnForward: true,
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [UNTRACKED_PORT] } }],
      egress: [{ action: 'Allow', protocol: 'TCP', source: { ports: [UNTRACKED_PORT] } }],
    }),
    gnp('hp-tracked', {
      order: 0,
      selector: 'bench-host == "yes"',
      types: ['Ingress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [TRACKED_PORT] } }],
    }),
  ];
  const all = [...heps.map(policyResource), ...policies, ...extra];
  const t0 = performance.now();
  for (let i = 0; i < all.length; i += 100)
    await b.store.applyBatch(all.slice(i, i + 100).map((resource) => ({ op: 'apply' as const, resource })));
  const deadline = Date.now() + 90_000;
  // Programmed once the last policy's port answers and a port no policy allows does not.
  for (;;) {
    const list = await run(['nft', 'list', 'table', 'inet', 'tessera'], { netns: n1.netns, check: false });
    if (
      (list.stdout.match(/raw-prerouting/g) ?? []).length > 0 &&
      (await connectRate(b, client.netns, guarded, 50)).rate > 0
    )
      break;
    if (Date.now() > deadline) throw new Error(`${n1.name} did not program its ${POLICIES} host policies within 90 s`);
    await sleep(200);
  }
  console.log(
    `${POLICIES} host policies + host endpoints written and programmed on ${n1.name} in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  await sleep(2000);
  const after = await measure();
  const r = (a: number[], c: number[]) => median(a.map((x, k) => x / c[k]!));
  const fmt = (xs: number[]) => `${median(xs).toFixed(0).padStart(6)}/s  [${xs.map((x) => x.toFixed(0)).join(' ')}]`;
  console.log(
    `pod on ${n2.name} → host port ${SERVER_PORT}: ${n1.name} (guarded) vs ${n3.name} (no host endpoint), ${ROUNDS} interleaved rounds × ${RUN_MS} ms`,
  );
  console.log(
    `  phase 0, no host endpoint:  guarded ${fmt(before.guarded)}   open ${fmt(before.open)}   ratio ${r(before.guarded, before.open).toFixed(2)}`,
  );
  console.log(
    `  phase 1, ${POLICIES} host policies: guarded ${fmt(after.guarded)}   open ${fmt(after.open)}   ratio ${r(after.guarded, after.open).toFixed(2)}`,
  );

  const tracked: number[] = [];
  const untracked: number[] = [];
  for (let i = 0; i < IPERF_ROUNDS; i++) {
    untracked.push(await iperf(n2.netns, n1.netns, guarded, UNTRACKED_PORT));
    tracked.push(await iperf(n2.netns, n1.netns, guarded, TRACKED_PORT));
  }
  const ct = await run(['conntrack', '-L'], { netns: n1.netns, check: false });
  const untrackedEntries = (ct.stdout.match(new RegExp(`dport=${UNTRACKED_PORT}\\b`, 'g')) ?? []).length;
  console.log(
    `iperf3 ${n2.name} → ${n1.name} host, ${IPERF_ROUNDS} interleaved rounds × ${IPERF_SECONDS} s: doNotTrack ${untracked.map((x) => x.toFixed(2)).join(' ')} Gbit/s, tracked ${tracked.map((x) => x.toFixed(2)).join(' ')} Gbit/s`,
  );
  console.log(
    `doNotTrack/tracked throughput: ratio ${r(untracked, tracked).toFixed(2)} (reported, no goal; conntrack entries for the doNotTrack port on ${n1.name}: ${untrackedEntries})`,
  );
  return [
    {
      label: `host port new-conn rate, ${POLICIES} host policies / no HEP`,
      value: r(after.guarded, after.open),
      target: 0.9,
      unit: '',
      direction: 'at-least',
    },
  ];
}
