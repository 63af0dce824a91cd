/**
 * `make bench-dataplane`: what Tessera's dataplane costs, measured side by side in one run.
 *
 * For each of native (encapsulation none) and VXLAN (encapsulation vxlan) it brings up a 2-node
 * lab and a hand-wired baseline (bench/dataplane/handwire.ts), then runs iperf3 (single TCP
 * stream) over four paths:
 *   cross     pod -> pod on another node (through the agents' routes and nftables)
 *   same      pod -> pod on the same node
 *   host      node netns -> node netns over the same fabric (the bare-metal floor)
 *   handwired the cross-node hops built with plain `ip` (no Tessera, no nftables)
 * Runs are interleaved (every path once per round, the order reversed every other round, the two
 * paths of each ratio always back to back) and each ratio is the median over rounds of that
 * round's two runs, which ran close together: load from
 * elsewhere on this (noisy, 2-vCPU) machine moves both sides of a ratio alike and a burst lands in
 * one round only. The best run of each path is shown too. Then it prints the ratios against the
 * targets, and the time from `lab pod create` returning to the first successful TCP connect
 * from a pod on another node (target 0 ms).
 *
 * iperf3's client and server are pinned to different CPUs (when there are two), the same for every
 * path: left to the scheduler, the two sometimes share a CPU and that run is much slower, whichever
 * path it is. Each run also records the CPU time the whole machine spent per GB moved (from
 * /proc/stat, steal excluded): what a path costs, less sensitive than throughput to a noisy host.
 *
 * Env: BENCH_SECONDS (iperf3 -t, default 3), BENCH_ROUNDS (default 9), BENCH_PODS (latency pods
 * per mode, default 5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, loadLab, podCreate, readPods, type PodState } from '../../src/lab/index.js';
import { run } from '../../src/lib/exec.js';
import { describeError } from '../../src/lib/errors.js';
import { formatRatio, max, passes, percentile, type RatioCheck } from '../lib/stats.js';
import { buildHandWired, teardownHandWired, type HandWireMode } from './handwire.js';
import { PIN, SECONDS, iperf, type Run } from './iperf.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const LATENCY_PODS = Number(process.env['BENCH_PODS'] ?? 5);

/** The modes this host's kernel runs (IPIP runs in a VM kernel: bench/dataplane/ipip.ts). */
type HostMode = Exclude<HandWireMode, 'ipip'>;
type PathName = 'cross' | 'same' | 'host' | 'handwired';
interface Path {
  mode: HandWireMode;
  name: PathName;
  fromNetns: string;
  toNetns: string;
  toIp: string;
}

/**
 * One fresh TCP connect. A dropped SYN is only retransmitted after 1 s, so the latency probe uses
 * new short-lived connects instead: its resolution is this timeout plus a process spawn.
 */
async function tcpConnects(fromNetns: string, ip: string, port: number): Promise<boolean> {
  const r = await run(['socat', '-u', 'OPEN:/dev/null', `TCP:${ip}:${port},connect-timeout=0.15`], {
    netns: fromNetns,
    check: false,
    timeoutMs: 3000,
  });
  return r.code === 0;
}

/**
 * ms from `podCreate` returning to the start of the first successful connect from `from` (0 when
 * the very first attempt connects: the pod was reachable when create returned).
 */
async function createToReachable(
  lab: string,
  env: NodeJS.ProcessEnv,
  from: PodState,
  ref: string,
  node: string,
): Promise<number> {
  const pod = await podCreate(loadLab(lab, env), ref, {
    node,
    ports: [{ name: 'serve-80-tcp', protocol: 'TCP', port: 80 }],
  });
  const returned = performance.now();
  for (let attempt = 0; ; attempt++) {
    const t = performance.now();
    if (await tcpConnects(from.netns, pod.ips[0]!, 80)) return attempt === 0 ? 0 : t - returned;
    if (t - returned > 30_000)
      throw new Error(`pod ${ref} not reachable from ${from.namespace}/${from.name} after 30 s`);
  }
}

async function linkInfo(netns: string, dev: string): Promise<string> {
  const r = await run(['ip', '-n', netns, '-d', 'link', 'show', 'dev', dev], { check: false });
  const mtu = /mtu (\d+)/.exec(r.stdout)?.[1] ?? '?';
  const gso = /gso_max_size (\d+)/.exec(r.stdout)?.[1] ?? '?';
  const gro = /gro_max_size (\d+)/.exec(r.stdout)?.[1] ?? '?';
  return `mtu ${mtu} gso ${gso} gro ${gro}`;
}

async function main(): Promise<void> {
  const tag = randomBytes(2).toString('hex');
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-bench-dp-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  const labs: Record<HostMode, string> = { native: `bdn${tag}`, vxlan: `bdv${tag}` };
  const hw: Record<HostMode, string> = { native: `hwn${tag}`, vxlan: `hwv${tag}` };
  const t0 = performance.now();
  let failed = false;
  try {
    const paths: Path[] = [];
    const firstPod: Partial<Record<HostMode, PodState>> = {};
    for (const mode of ['native', 'vxlan'] as const) {
      const name = labs[mode];
      await labUp(
        { name, nodes: 2, subnets: 1, encapsulation: mode === 'native' ? 'none' : 'vxlan' },
        { env, setContext: false },
      );
      const s = loadLab(name, env);
      const a = await podCreate(s, 'bench/a', { node: 'node-1' });
      const b = await podCreate(loadLab(name, env), 'bench/b', { node: 'node-2' });
      const c = await podCreate(loadLab(name, env), 'bench/c', { node: 'node-1' });
      firstPod[mode] = a;
      const n1 = s.nodes[0]!;
      const n2 = s.nodes[1]!;
      const wired = await buildHandWired(hw[mode], mode);
      // Order: every ratio's two paths run back to back (hand-wired, cross, host), in both
      // directions of the interleaving, so slow drifts of this machine's speed hit both alike.
      paths.push(
        { mode, name: 'handwired', fromNetns: wired.pod1, toNetns: wired.pod2, toIp: wired.pod2Ip },
        { mode, name: 'cross', fromNetns: a.netns, toNetns: b.netns, toIp: b.ips[0]! },
        { mode, name: 'host', fromNetns: n1.netns, toNetns: n2.netns, toIp: n2.ips.find((x) => !x.includes(':'))! },
        { mode, name: 'same', fromNetns: a.netns, toNetns: c.netns, toIp: c.ips[0]! },
      );
      console.log(
        `${mode}: lab "${name}" pod eth0 ${await linkInfo(a.netns, 'eth0')}; hand-wired pod eth0 ${await linkInfo(wired.pod1, 'eth0')}`,
      );
    }

    // Wait until every path carries traffic (the agents program routes asynchronously).
    for (const p of paths) {
      const deadline = performance.now() + 20_000;
      while (!(await tcpConnectsOrIcmp(p))) {
        if (performance.now() > deadline)
          throw new Error(`${p.mode}/${p.name}: ${p.toIp} unreachable from ${p.fromNetns}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }

    const results = new Map<string, Run[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of round % 2 ? [...paths].reverse() : paths) {
        const k = `${p.mode}/${p.name}`;
        results.set(k, [...(results.get(k) ?? []), await iperf(p)]);
      }
    }
    const runsOf = (mode: HandWireMode, name: PathName) => (results.get(`${mode}/${name}`) ?? []).map((r) => r.gbps);
    const cpuOf = (mode: HandWireMode, name: PathName) =>
      (results.get(`${mode}/${name}`) ?? []).map((r) => r.cpuMsPerGB);
    const best = (mode: HandWireMode, name: PathName) => max(runsOf(mode, name));
    /** Median over rounds of the per-round ratio a[i]/b[i]. */
    const medianRatio = (a: number[], b: number[]) =>
      percentile(
        a.map((x, i) => x / (b[i] ?? NaN)),
        50,
      );
    const roundRatio = (mode: HandWireMode, a: PathName, b: PathName) => medianRatio(runsOf(mode, a), runsOf(mode, b));

    const latency: Record<HostMode, number[]> = { native: [], vxlan: [] };
    for (const mode of ['native', 'vxlan'] as const) {
      const existing = readPods(loadLab(labs[mode], env).dir).length;
      for (let i = 0; i < LATENCY_PODS; i++) {
        latency[mode].push(await createToReachable(labs[mode], env, firstPod[mode]!, `lat/p${existing + i}`, 'node-2'));
      }
    }

    console.log(
      `\niperf3 single stream, -t ${SECONDS}, ${ROUNDS} interleaved rounds${PIN ? ', client on CPU 0 and server on CPU 1' : ''} (Gbit/s; best run, then every run)`,
    );
    console.log(`${'path'.padEnd(12)} ${'native'.padStart(8)} ${'vxlan'.padStart(8)}   runs`);
    for (const name of ['cross', 'same', 'host', 'handwired'] as const) {
      const runs = (['native', 'vxlan'] as const).map(
        (m) =>
          `${m}: ${runsOf(m, name)
            .map((x) => x.toFixed(2))
            .join(' ')}`,
      );
      console.log(
        `${name.padEnd(12)} ${best('native', name).toFixed(2).padStart(8)} ${best('vxlan', name).toFixed(2).padStart(8)}   ${runs.join('; ')}`,
      );
    }
    console.log(`\nCPU cost, busy ms (all CPUs, steal excluded) per GB: median over rounds`);
    for (const name of ['cross', 'same', 'host', 'handwired'] as const) {
      const med = (['native', 'vxlan'] as const).map((m) => percentile(cpuOf(m, name), 50).toFixed(0).padStart(8));
      console.log(`${name.padEnd(12)} ${med.join(' ')}`);
    }
    const checks: RatioCheck[] = [
      {
        label: 'native cross-node / hand-wired',
        numerator: roundRatio('native', 'cross', 'handwired'),
        denominator: 1,
        target: 0.95,
      },
      {
        label: 'native cross-node / host-to-host',
        numerator: roundRatio('native', 'cross', 'host'),
        denominator: 1,
        target: 0.85,
      },
      {
        label: 'VXLAN cross-node / host-to-host',
        numerator: roundRatio('vxlan', 'cross', 'host'),
        denominator: 1,
        target: 0.75,
      },
    ];
    console.log('\nratios: median over rounds of the per-round ratio');
    for (const c of checks) console.log(formatRatio(c));
    const info = (label: string, v: number) => `${label.padEnd(40)} ${v.toFixed(2).padStart(5)}  (information)`;
    console.log(info('VXLAN cross-node / VXLAN hand-wired', roundRatio('vxlan', 'cross', 'handwired')));
    console.log(info('VXLAN hand-wired / host-to-host', roundRatio('vxlan', 'handwired', 'host')));
    const cpuRatio = (mode: HandWireMode, a: PathName, b: PathName) => medianRatio(cpuOf(mode, a), cpuOf(mode, b));
    console.log(info('CPU per GB: native cross / hand-wired', cpuRatio('native', 'cross', 'handwired')));
    console.log(info('CPU per GB: VXLAN cross / hand-wired', cpuRatio('vxlan', 'cross', 'handwired')));
    console.log(
      info('ratios of best runs: native cross / hand-wired', best('native', 'cross') / best('native', 'handwired')),
    );
    console.log(info('  native cross / host', best('native', 'cross') / best('native', 'host')));
    console.log(info('  VXLAN cross / host', best('vxlan', 'cross') / best('vxlan', 'host')));

    const all = [...latency.native, ...latency.vxlan];
    console.log(
      `\npod create -> first successful connect from another node (target 0 ms; resolution ~0.15 s connect timeout + spawn):`,
    );
    for (const m of ['native', 'vxlan'] as const) {
      console.log(
        `  ${m.padEnd(7)} n=${latency[m].length} p50 ${percentile(latency[m], 50).toFixed(0)} ms, max ${max(latency[m]).toFixed(0)} ms  [${latency[m].map((x) => x.toFixed(0)).join(', ')}]`,
      );
    }
    const latencyOk = max(all) === 0;
    console.log(
      `  all     p50 ${percentile(all, 50).toFixed(0)} ms, max ${max(all).toFixed(0)} ms  ${latencyOk ? 'PASS' : 'FAIL'}`,
    );
    failed = !checks.every(passes) || !latencyOk;
  } finally {
    for (const mode of ['native', 'vxlan'] as const) {
      await labDown(labs[mode], { env }).catch((e: unknown) =>
        console.error(`lab down ${labs[mode]}: ${describeError(e)}`),
      );
      await teardownHandWired(hw[mode]);
    }
    rmSync(cfgDir, { recursive: true, force: true });
  }
  console.log(
    `\nbench-dataplane took ${((performance.now() - t0) / 1000).toFixed(0)} s${failed ? ' (some targets FAILED)' : ''}`,
  );
}

/** Reachability before measuring: ping once (works for every path, no server needed). */
async function tcpConnectsOrIcmp(p: Path): Promise<boolean> {
  const r = await run(['ping', '-c', '1', '-W', '1', p.toIp], { netns: p.fromNetns, check: false, timeoutMs: 3000 });
  return r.code === 0;
}

main().catch((e: unknown) => {
  console.error(`bench-dataplane: ${describeError(e)}`);
  process.exit(1);
});
