/**
 * `make bench-bgp`: for a node with 500 BGP peers from a synthetic datastore (a 501-node mesh),
 *  - render time of bird.conf (pure, p50/p99 over BENCH_BGP_RENDERS runs, default 50);
 *  - `bird -p` check time;
 *  - BIRD cold start, and reload time for one changed block (BirdWriter.write: check + rename +
 *    one `birdc configure`), p50/p99 over BENCH_BGP_RELOADS runs (default 10), in a throwaway
 *    network namespace (the peers do not exist; sessions stay in Connect/Active);
 *  - the same for a 500-BGPPeer variant (global peerIP peers with filters) for comparison.
 * Convergence (lab-convergence.ts): pod created on a node with no block → reachable (ping) from a
 * pod on every other node, BENCH_BGP_RUNS runs (default 20), p50/p99, in a 4-node lab with
 * encapsulation none, once with `--routing bgp` and once with `--routing agent` (same topology,
 * same run), and the ratio bgp/agent. BENCH_BGP_CONVERGENCE=0 skips it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BirdWriter, renderBirdConfig, type BirdConfigInput } from '../../src/bgp/index.js';
import { run } from '../../src/lib/exec.js';
import { bgpFilter, node, peer, pool } from '../../src/bgp/testdata/scenarios.js';
import { percentile, type ConvergenceResult } from './convergence.js';
import { convergenceInLab } from './lab-convergence.js';

const PEERS = Number(process.env['BENCH_BGP_PEERS'] ?? 500);
const RENDERS = Number(process.env['BENCH_BGP_RENDERS'] ?? 50);
const RELOADS = Number(process.env['BENCH_BGP_RELOADS'] ?? 10);

const addr = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

function meshInput(extraBlocks: number): BirdConfigInput {
  const nodes = Array.from({ length: PEERS + 1 }, (_, i) => node(`n${i}`, addr(i + 1)));
  // One /26 per node inside 172.16.0.0/12, plus `extraBlocks` more for n0 (each reload adds one).
  const block = (i: number) => `172.${16 + (i >> 10)}.${(i >> 2) & 255}.${(i & 3) * 64}/26`;
  const blocks = nodes.map((_, i) => ({ cidr: block(i), affinity: `host:n${i}` }));
  for (let j = 0; j < extraBlocks; j++) blocks.push({ cidr: block(PEERS + 1 + j), affinity: 'host:n0' });
  return {
    nodeName: 'n0',
    bgpConfigurations: [],
    nodes,
    peers: [],
    filters: [],
    pools: [pool('p', '172.16.0.0/12')],
    blocks,
    workloads: [],
  };
}

function peerInput(extraBlocks: number): BirdConfigInput {
  const base = meshInput(extraBlocks);
  return {
    ...base,
    bgpConfigurations: [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'BGPConfiguration',
        metadata: { name: 'default' },
        spec: { nodeToNodeMeshEnabled: false },
      },
    ],
    nodes: base.nodes.slice(0, 1),
    peers: Array.from({ length: PEERS }, (_, i) =>
      peer(`p${i}`, { peerIP: addr(i + 2), asNumber: 65000 + (i % 100), filters: ['f'] }),
    ),
    filters: [
      bgpFilter('f', {
        exportV4: [{ cidr: '172.16.0.0/12', matchOperator: 'In', action: 'Accept' }],
        importV4: [{ cidr: '0.0.0.0/0', matchOperator: 'Equal', action: 'Reject' }],
      }),
    ],
  };
}

const fmt = (xs: number[]) =>
  `p50 ${percentile(
    [...xs].sort((a, b) => a - b),
    50,
  ).toFixed(2)} ms, p99 ${percentile(
    [...xs].sort((a, b) => a - b),
    99,
  ).toFixed(2)} ms`;

async function timeIt<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function variant(name: string, make: (extra: number) => BirdConfigInput, ns: string, dir: string): Promise<void> {
  const renders: number[] = [];
  let text = '';
  let peers = 0;
  for (let i = 0; i < RENDERS; i++) {
    const input = make(0);
    const [ms, out] = await timeIt(() => renderBirdConfig(input));
    renders.push(ms);
    text = out.text;
    peers = out.peers.length;
    if (out.problems.length) throw new Error(`${name}: unexpected problems: ${out.problems.slice(0, 3).join('; ')}`);
  }
  const writer = new BirdWriter({ stateDir: join(dir, name), netns: ns });
  const [checkMs] = await timeIt(() => writer.check(text));
  const [startMs] = await timeIt(() => writer.write(text));
  const reloads: number[] = [];
  for (let i = 1; i <= RELOADS; i++) {
    const t = renderBirdConfig(make(i)).text;
    const [ms, r] = await timeIt(() => writer.write(t));
    if (!r.reloaded) throw new Error(`${name}: expected a reload, got ${JSON.stringify(r)}`);
    reloads.push(ms);
  }
  const same = renderBirdConfig(make(RELOADS)).text;
  const [noopMs] = await timeIt(() => writer.write(same));
  await writer.stop();
  console.log(`${name}: ${peers} peers, config ${(text.length / 1024).toFixed(0)} KiB`);
  console.log(`  render            ${fmt(renders)}  (${RENDERS} runs)`);
  console.log(`  bird -p check     ${checkMs.toFixed(1)} ms`);
  console.log(`  BIRD cold start   ${startMs.toFixed(1)} ms (check + start + socket answers)`);
  console.log(`  reload (changed)  ${fmt(reloads)}  (${RELOADS} runs: check + birdc configure)`);
  console.log(`  write (unchanged) ${noopMs.toFixed(1)} ms (no reload)`);
}

async function main(): Promise<void> {
  const ns = `tsr-${randomBytes(3).toString('hex')}-bench`;
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bench-bgp-'));
  await run(['ip', 'netns', 'add', ns]);
  try {
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await variant('mesh', meshInput, ns, dir);
    await variant('bgppeers', peerInput, ns, dir);
  } finally {
    await run(['ip', 'netns', 'del', ns], { check: false });
    await rm(dir, { recursive: true, force: true });
  }
  if (process.env['BENCH_BGP_CONVERGENCE'] === '0') return;
  const runs = Number(process.env['BENCH_BGP_RUNS'] ?? 20);
  const results: ConvergenceResult[] = [];
  for (const routing of ['bgp', 'agent'] as const) {
    const r = await convergenceInLab(routing, runs);
    results.push(r);
    console.log(
      `convergence --routing ${routing.padEnd(5)} p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms  (${r.runs} runs; 4 nodes, encapsulation none)`,
    );
  }
  const [bgp, agent] = results as [ConvergenceResult, ConvergenceResult];
  console.log(
    `convergence ratio bgp/agent: p50 ${(bgp.p50Ms / agent.p50Ms).toFixed(2)}x, p99 ${(bgp.p99Ms / agent.p99Ms).toFixed(2)}x`,
  );
}

await main();
