/**
 * What the lab parts of bench-policy share: the datastore handle policies are written with, the
 * compiled connect/close client+server (connrate.c, built into the lab dir so `lab down` also
 * sweeps anything still running it), and starting/stopping the in-pod servers.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { applyDefaults, validateResource, type Resource } from '../../src/api/index.js';
import { ResourceStore, openBackend, type Backend } from '../../src/datastore/index.js';
import { run, start } from '../../src/lib/exec.js';
import { TesseraError } from '../../src/lib/errors.js';
import type { LabState } from '../../src/lab/index.js';

export const SERVER_PORT = 9000;
export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

export interface LabBench {
  lab: LabState;
  env: NodeJS.ProcessEnv;
  backend: Backend;
  store: ResourceStore;
  /** Path of the compiled connrate binary. */
  connrate: string;
  children: ChildProcess[];
}

export async function openLabBench(lab: LabState, env: NodeJS.ProcessEnv): Promise<LabBench> {
  const connrate = join(lab.dir, 'bench-connrate');
  await run(['cc', '-O2', '-Wall', '-o', connrate, join(HERE, 'connrate.c')]);
  const backend = openBackend({ endpoints: lab.etcd?.endpoints ?? [] });
  return { lab, env, backend, store: new ResourceStore(backend), connrate, children: [] };
}

export async function closeLabBench(b: LabBench): Promise<void> {
  for (const c of b.children) if (c.exitCode === null) c.kill('SIGKILL');
  await b.backend.close();
}

/** Defaults applied as `tessera apply` does; a validation problem is a bug in the bench. */
export function policyResource(r: Resource): Resource {
  const problems = validateResource(r);
  if (problems.length > 0) {
    throw new TesseraError(
      'bug',
      `bench policy "${r.metadata.name}" is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  }
  return applyDefaults(r);
}

/** Starts `connrate serve` in a pod's netns and waits until it listens. */
export async function startServer(b: LabBench, netns: string): Promise<void> {
  const child = start([b.connrate, 'serve', String(SERVER_PORT)], { netns, stdio: ['ignore', 'pipe', 'pipe'] });
  b.children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new TesseraError('timeout', `connrate server in netns "${netns}" did not start within 5 s`)),
      5000,
    );
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new TesseraError('exec-failed', `connrate server in netns "${netns}" exited (${String(code)})`));
    });
  });
  child.removeAllListeners('exit');
}

/** Sequential connect/RST loop from `netns` to ip:SERVER_PORT for `ms`; connections per second. */
export async function connectRate(
  b: LabBench,
  netns: string,
  ip: string,
  ms: number,
): Promise<{ rate: number; failed: number }> {
  const r = await run([b.connrate, 'connect', ip, String(SERVER_PORT), String(ms)], { netns, timeoutMs: ms + 10_000 });
  const [ok, failed, elapsed] = r.stdout.trim().split(/\s+/).map(Number);
  if (ok === undefined || failed === undefined || elapsed === undefined || !(elapsed > 0)) {
    throw new TesseraError('bug', `connrate printed "${r.stdout.trim()}"`);
  }
  return { rate: (ok / elapsed) * 1000, failed };
}

/** One empty `nft -f` transaction (a table of our own in that netns): the kernel-write floor. */
export async function nftFloor(netns: string, rounds: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await run(['nft', '-f', '-'], { netns, input: 'add table inet tsrbench\n' });
    xs.push(performance.now() - t);
  }
  return xs;
}

export type ApplyTotals = Record<string, { sum: number; count: number }>;

/**
 * The agent's `tessera_agent_apply_seconds` histogram totals by dataplane ("routes" times the whole
 * apply cycle, "policy" the nft policy driver inside it), scraped from its health port in the node
 * netns: diagnoses where a change's latency goes.
 */
export async function agentApplyTotals(netns: string, port: number): Promise<ApplyTotals> {
  const r = await run(['socat', '-t', '2', '-', `TCP:127.0.0.1:${port}`], {
    netns,
    input: 'GET /metrics HTTP/1.0\r\n\r\n',
    check: false,
    timeoutMs: 5000,
  });
  const out: ApplyTotals = {};
  for (const m of r.stdout.matchAll(
    /^tessera_agent_apply_seconds_(sum|count)\{dataplane="([^"]+)"\} ([0-9.eE+-]+)$/gm,
  )) {
    const e = (out[m[2]!] ??= { sum: 0, count: 0 });
    e[m[1] as 'sum' | 'count'] = Number(m[3]);
  }
  return out;
}

/** `routes 12 cycles, mean 180.2 ms; policy 12, mean 24.1 ms` over the interval between two scrapes. */
export function describeApplyDelta(before: ApplyTotals, after: ApplyTotals): string {
  return Object.keys(after)
    .sort()
    .map((k) => {
      const n = after[k]!.count - (before[k]?.count ?? 0);
      const s = after[k]!.sum - (before[k]?.sum ?? 0);
      return `${k === 'routes' ? 'whole cycle' : k} ${n}× mean ${n > 0 ? ((s / n) * 1000).toFixed(1) : 'n/a'} ms`;
    })
    .join('; ');
}
