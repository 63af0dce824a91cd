/**
 * `make bench-cni`: ADD / DEL latency of tessera-cni against the reference ptp + host-local plugins,
 * side by side in one run, against a real etcd, in network namespaces:
 *   (a) reference: /usr/lib/cni/ptp with host-local IPAM
 *   (b) tessera-cni: C shim → CNI server (the node agent's fast path)
 *   (c) tessera-cni pure TypeScript (no agent), for information
 * Sequential N ADD then N DEL, then rounds of 16 concurrent ADDs (and DELs), the variants taking
 * turns at every step. Prints p50/p99 and the tessera/reference ratios, and one goal line: the
 * shim+server ADD p50 <= 0.9x the reference's (issue 18); exits 1 when it fails.
 * BENCH_CNI_N sets N (default 100), BENCH_CNI_ROUNDS the concurrent rounds (default 4).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniLab, cniEnv, ensureShim, nodeEntry } from '../../test/cni-harness.js';
import { run } from '../../src/lib/exec.js';

const N = Number(process.env['BENCH_CNI_N'] ?? 100);
const N_TS = Math.min(N, 20);
const CONC = 16;
const ROUNDS = Number(process.env['BENCH_CNI_ROUNDS'] ?? 4);
/** BENCH_CNI_PURE_TS=0 skips the (slow, informational) pure TypeScript variant. */
const PURE_TS = process.env['BENCH_CNI_PURE_TS'] !== '0';

interface Variant {
  name: string;
  /** Short and unique among the variants: it names their namespaces and container ids. */
  tag: string;
  argv: string[];
  nodeNs: string;
  conf: Record<string, unknown>;
  n: number;
}

interface Stats {
  add: number[];
  del: number[];
  cAdd: number[];
  cDel: number[];
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

async function makeNetns(lab: CniLab, names: string[]): Promise<void> {
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
  lab.namespaces.push(...names);
}

async function delNetns(lab: CniLab, names: string[]): Promise<void> {
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns del ${n}\n`).join(''), check: false });
  for (const n of names) lab.namespaces.splice(lab.namespaces.indexOf(n), 1);
}

async function one(lab: CniLab, v: Variant, cmd: 'ADD' | 'DEL', id: string, ns: string): Promise<number> {
  const r = await lab.invoke(v.argv, v.nodeNs, cniEnv(cmd, id, ns), v.conf);
  if (r.code !== 0) throw new Error(`${v.name} ${cmd} ${id} failed: ${r.stdout}${r.stderr}`);
  return r.ms;
}

const tagOf = (v: Variant): string => v.tag;

/**
 * The variants take turns at every step (one ADD each, one DEL each, one concurrent round each),
 * so a load change on this shared machine hits them alike instead of skewing the ratios.
 */
async function benchAll(lab: CniLab, vs: Variant[]): Promise<Map<string, Stats>> {
  const out = new Map<string, Stats>(vs.map((v) => [v.name, { add: [], del: [], cAdd: [], cDel: [] }]));
  const st = (v: Variant): Stats => out.get(v.name)!;
  // Warm-up (first block claim, page cache) is not measured.
  for (const v of vs) {
    const tag = tagOf(v);
    const warm = [`${lab.prefix}${tag}w0`, `${lab.prefix}${tag}w1`];
    await makeNetns(lab, warm);
    for (const [i, ns] of warm.entries()) await one(lab, v, 'ADD', `${tag}-warm-${i}`, ns);
    for (const [i, ns] of warm.entries()) await one(lab, v, 'DEL', `${tag}-warm-${i}`, ns);
    await delNetns(lab, warm);
  }
  const seqNs = (v: Variant) => Array.from({ length: v.n }, (_, i) => `${lab.prefix}${tagOf(v)}s${i}`);
  for (const v of vs) await makeNetns(lab, seqNs(v));
  const maxN = Math.max(...vs.map((v) => v.n));
  for (let i = 0; i < maxN; i++) {
    for (const v of vs) if (i < v.n) st(v).add.push(await one(lab, v, 'ADD', `${tagOf(v)}-s-${i}`, seqNs(v)[i]!));
  }
  for (let i = 0; i < maxN; i++) {
    for (const v of vs) if (i < v.n) st(v).del.push(await one(lab, v, 'DEL', `${tagOf(v)}-s-${i}`, seqNs(v)[i]!));
  }
  for (const v of vs) await delNetns(lab, seqNs(v));

  for (let r = 0; r < ROUNDS; r++) {
    for (const v of vs) {
      const tag = tagOf(v);
      const conc = Array.from({ length: CONC }, (_, i) => `${lab.prefix}${tag}c${i}`);
      await makeNetns(lab, conc);
      st(v).cAdd.push(...(await Promise.all(conc.map((ns, i) => one(lab, v, 'ADD', `${tag}-c${r}-${i}`, ns)))));
      st(v).cDel.push(...(await Promise.all(conc.map((ns, i) => one(lab, v, 'DEL', `${tag}-c${r}-${i}`, ns)))));
      await delNetns(lab, conc);
    }
  }
  return out;
}

function line(name: string, s: Stats): string {
  const f = (x: number) => x.toFixed(1).padStart(7);
  return `${name.padEnd(26)} ${f(pct(s.add, 50))} ${f(pct(s.add, 99))}  ${f(pct(s.del, 50))} ${f(pct(s.del, 99))}  ${f(pct(s.cAdd, 50))} ${f(pct(s.cAdd, 99))}  ${f(pct(s.cDel, 50))} ${f(pct(s.cDel, 99))}`;
}

async function main(): Promise<void> {
  const lab = new CniLab();
  const dataDir = await mkdtemp(join(tmpdir(), 'tsr-bench-hostlocal-'));
  try {
    await lab.start();
    const shim = await ensureShim();
    const refNs = await lab.addNetns('ref');
    const tsrNs = await lab.addNetns('tsr');
    const tsNs = await lab.addNetns('ts');
    const server = await lab.startServer(tsrNs, 'bench-node');
    const variants: Variant[] = [
      {
        name: 'reference ptp+host-local',
        tag: 'ref',
        argv: ['/usr/lib/cni/ptp'],
        nodeNs: refNs,
        n: N,
        conf: {
          cniVersion: '1.0.0',
          name: 'refnet',
          type: 'ptp',
          mtu: 1500,
          ipam: { type: 'host-local', subnet: '10.88.0.0/16', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
        },
      },
      {
        name: 'tessera-cni shim+server',
        tag: 'shm',
        argv: [shim],
        nodeNs: tsrNs,
        n: N,
        conf: lab.conf('bench-node', { agent_socket: server.socket }),
      },
    ];
    if (PURE_TS)
      variants.push({
        name: 'tessera-cni pure TS',
        tag: 'pts',
        argv: nodeEntry('main'),
        nodeNs: tsNs,
        n: N_TS,
        conf: lab.conf('bench-ts'),
      });
    const results = await benchAll(lab, variants);
    console.log(
      `\nCNI ADD/DEL latency in ms (N=${N} sequential, pure TS N=${N_TS}; ${ROUNDS} rounds of ${CONC} concurrent)`,
    );
    console.log(
      `${''.padEnd(26)} ${'ADD p50'.padStart(7)} ${'p99'.padStart(7)}  ${'DEL p50'.padStart(7)} ${'p99'.padStart(7)}  ${'cADD p50'.padStart(7)} ${'p99'.padStart(7)}  ${'cDEL p50'.padStart(7)} ${'p99'.padStart(7)}`,
    );
    for (const [name, s] of results) console.log(line(name, s));
    const ref = results.get(variants[0]!.name)!;
    for (const v of variants.slice(1)) {
      const s = results.get(v.name)!;
      const r = (a: number[], b: number[]) => (pct(a, 50) / pct(b, 50)).toFixed(2);
      console.log(
        `ratio ${v.name} / reference (p50): ADD ${r(s.add, ref.add)}  DEL ${r(s.del, ref.del)}  16-concurrent ADD ${r(s.cAdd, ref.cAdd)}  16-concurrent DEL ${r(s.cDel, ref.cDel)}`,
      );
    }
    // The goal: what a node runs (the shim and the agent's CNI server), like for like (no policy wait).
    const fast = results.get(variants[1]!.name)!;
    const add = pct(fast.add, 50) / pct(ref.add, 50);
    const ok = add <= 0.9;
    console.log(
      `CNI ADD p50 ${variants[1]!.name} / ptp+host-local: ratio ${add.toFixed(2)} (goal <= 0.9) ${ok ? 'PASS' : 'FAIL'}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await lab.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
