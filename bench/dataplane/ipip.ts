/**
 * `make bench-dataplane`'s IPIP part, run INSIDE the VM kernel (this host's kernel has no ipip
 * device; bench/dataplane/ipip-vm.ts boots the VM and runs this file there): a 2-node lab with
 * `--encapsulation ipip` (agent routing) against a hand-wired IPIP path built with plain `ip` in the
 * same kernel (bench/dataplane/handwire.ts), iperf3 single stream, interleaved rounds, the ratio
 * being the median over rounds of each round's cross-node / hand-wired. The VM's absolute
 * throughput (TCG emulation) means nothing; the ratio does. Goal: >= 0.9.
 * Env: BENCH_SECONDS (iperf3 -t), BENCH_ROUNDS (default 7).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kernelLacksIpip, labDown, labUp, loadLab, podCreate } from '../../src/lab/index.js';
import { run } from '../../src/lib/exec.js';
import { describeError } from '../../src/lib/errors.js';
import { formatRatio, max, passes, percentile, type RatioCheck } from '../lib/stats.js';
import { buildHandWired, teardownHandWired } from './handwire.js';
import { iperf, SECONDS, type IperfPath, type Run } from './iperf.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);

async function reachable(p: IperfPath, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const r = await run(['ping', '-c', '1', '-W', '2', p.toIp], { netns: p.fromNetns, check: false, timeoutMs: 5000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`${p.name}: ${p.toIp} unreachable from ${p.fromNetns}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

async function main(): Promise<number> {
  const why = await kernelLacksIpip();
  if (why !== undefined)
    throw new Error(`this kernel has no ipip device (${why}); run it with bench/dataplane/ipip-vm.ts`);
  const tag = randomBytes(2).toString('hex');
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-bench-ipip-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  const lab = `bdi${tag}`;
  const hw = `hwi${tag}`;
  const t0 = performance.now();
  try {
    await labUp({ name: lab, nodes: 2, subnets: 1, encapsulation: 'ipip' }, { env, setContext: false });
    const a = await podCreate(loadLab(lab, env), 'bench/a', { node: 'node-1' });
    const b = await podCreate(loadLab(lab, env), 'bench/b', { node: 'node-2' });
    const wired = await buildHandWired(hw, 'ipip');
    const paths: IperfPath[] = [
      { mode: 'ipip', name: 'handwired', fromNetns: wired.pod1, toNetns: wired.pod2, toIp: wired.pod2Ip },
      { mode: 'ipip', name: 'cross', fromNetns: a.netns, toNetns: b.netns, toIp: b.ips[0]! },
    ];
    for (const p of paths) await reachable(p, 120_000);
    const runs = new Map<string, Run[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of round % 2 ? [...paths].reverse() : paths)
        runs.set(p.name, [...(runs.get(p.name) ?? []), await iperf(p)]);
    }
    const gbps = (n: string) => (runs.get(n) ?? []).map((r) => r.gbps);
    const cross = gbps('cross');
    const wiredRuns = gbps('handwired');
    console.log(`IPIP in the VM kernel: iperf3 single stream, -t ${SECONDS}, ${ROUNDS} interleaved rounds (Gbit/s)`);
    console.log(
      `  cross-node (Tessera)  best ${max(cross).toFixed(3)}  runs ${cross.map((x) => x.toFixed(3)).join(' ')}`,
    );
    console.log(
      `  hand-wired IPIP       best ${max(wiredRuns).toFixed(3)}  runs ${wiredRuns.map((x) => x.toFixed(3)).join(' ')}`,
    );
    const check: RatioCheck = {
      label: 'IPIP cross-node / hand-wired IPIP (VM)',
      numerator: percentile(
        cross.map((x, i) => x / (wiredRuns[i] ?? Number.NaN)),
        50,
      ),
      denominator: 1,
      target: 0.9,
    };
    console.log(formatRatio(check));
    console.log(`bench-dataplane (IPIP, VM) took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return passes(check) ? 0 : 1;
  } finally {
    await labDown(lab, { env }).catch((e: unknown) => console.error(`lab down ${lab}: ${describeError(e)}`));
    await teardownHandWired(hw);
    rmSync(cfgDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench-dataplane (IPIP): ${describeError(e)}`);
    process.exit(2);
  },
);
