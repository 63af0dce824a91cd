/**
 * BGP through route reflectors: convergence of a new block with 2 reflectors and N real BIRD
 * clients (test/helpers/bgp-rr-fabric.ts: one netns + BIRD per node, configs rendered by Tessera
 * from Calico's recipe, mesh off).
 *
 * One trial: a client gets a new affine block (its config re-rendered and written, BIRD reloaded,
 * exactly as the agent does); convergence is the time from just before that write until the last
 * other client has the route in its kernel table. Each client's kernel table is watched with
 * `ip -ts monitor route` (kernel-side timestamps, no polling), so the figure does not include
 * this process's own lag in reading the output.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { start } from '../../src/lib/exec.js';
import { sleep } from '../../src/lib/clock.js';
import { forEachLimit } from '../../src/lab/fabric.js';
import { blockCidr, RrFabric, type RrNode } from '../../test/helpers/bgp-rr-fabric.js';
import { percentile } from '../lib/stats.js';
import { memMiB } from './proc.js';

export interface RrResult {
  clients: number;
  setupMs: number;
  /** From BIRD start until every client had every other node's block. */
  initialMs: number;
  /** Per trial: new block written on one client → the last other client has it in its kernel. */
  convergeMs: number[];
  /** Per trial: the origin's render + `bird -p` + `birdc configure` (included in convergeMs). */
  writeMs: number[];
  reflectorRssMiB: number;
}

/** Parses `[2026-12-07T17:22:30.113670] 10.201.0.0/26 via ...` (local time, as `ip -ts` prints it). */
function parseMonitorLine(line: string): { at: number; dst: string } | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\] (\S+)/.exec(line);
  if (!m || m[2] === 'Deleted') return undefined;
  return { at: new Date(m[1]!).getTime(), dst: m[2]! };
}

class RouteWatch {
  readonly seen = new Map<string, number>();
  private readonly child: ChildProcess;
  private buf = '';

  constructor(readonly node: RrNode) {
    this.child = start(['ip', '-ts', '-4', 'monitor', 'route'], {
      netns: node.netns,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (s: string) => {
      this.buf += s;
      const lines = this.buf.split('\n');
      this.buf = lines.pop()!;
      for (const l of lines) {
        const e = parseMonitorLine(l);
        if (e && !this.seen.has(e.dst)) this.seen.set(e.dst, e.at);
      }
    });
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}

async function until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>, pollMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

export async function runRouteReflectors(o: {
  prefix: string;
  clients: number;
  trials: number;
  say: (l: string) => void;
}): Promise<RrResult> {
  const t0 = Date.now();
  const f = await RrFabric.start({ prefix: o.prefix, reflectors: 2, clients: o.clients });
  const watches: RouteWatch[] = [];
  try {
    const setupMs = Date.now() - t0;
    const others = f.nodes.length - 1;
    const missing = new Set(f.clients);
    await until(
      `every client to have ${others} routes`,
      600_000,
      async () => {
        await forEachLimit([...missing], 8, async (c) => {
          if ((await f.birdRoutes(c)).length >= others) missing.delete(c);
        });
        return missing.size === 0;
      },
      1000,
    );
    const initialMs = Date.now() - t0 - setupMs;
    o.say(
      `    ${o.clients} clients: namespaces + BIRDs up in ${(setupMs / 1000).toFixed(1)} s, full tables after ${(initialMs / 1000).toFixed(1)} s more`,
    );
    for (const c of f.clients) watches.push(new RouteWatch(c));
    await sleep(1000);
    const convergeMs: number[] = [];
    const writeMs: number[] = [];
    for (let k = 0; k < o.trials; k++) {
      const origin = f.clients[(k * 7) % f.clients.length]!;
      const cidr = blockCidr(201, k);
      const w = watches.filter((x) => x.node !== origin);
      const t = Date.now();
      await f.addBlock(origin, cidr);
      writeMs.push(Date.now() - t);
      await until(`${cidr} from ${origin.name} on every other client`, 120_000, () => w.every((x) => x.seen.has(cidr)));
      convergeMs.push(Math.max(0, Math.max(...w.map((x) => x.seen.get(cidr)!)) - t));
      await sleep(200);
    }
    const rrPid = Number(readFileSync(f.reflectors[0]!.writer.paths.pid, 'utf8').trim());
    return { clients: o.clients, setupMs, initialMs, convergeMs, writeMs, reflectorRssMiB: memMiB(rrPid) };
  } finally {
    for (const w of watches) w.stop();
    await f.stop();
  }
}

export function describeRr(r: RrResult): string {
  const c = r.convergeMs;
  const after = c.map((ms, i) => Math.max(0, ms - r.writeMs[i]!));
  return `${r.clients} clients: new block on every other client p50 ${percentile(c, 50)} ms, p99 ${percentile(c, 99)} ms over ${c.length} blocks; of which the origin's render + bird -p + reload p50 ${percentile(r.writeMs, 50)} ms, the rest (reflectors + clients) p99 ${percentile(after, 99)} ms; reflector BIRD RSS ${r.reflectorRssMiB.toFixed(1)} MiB`;
}
