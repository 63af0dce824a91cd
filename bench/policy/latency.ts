/**
 * bench-policy part 1, programming latency on a 3-node lab.
 *
 * Three target pods (one per node, `role=target`, a connrate server on SERVER_PORT) and three
 * prober pods (one per node). Each prober is ONE persistent process (prober.ts) that starts a fresh
 * connect to every target every PROBE_INTERVAL_MS with a PROBE_TIMEOUT_MS timeout, so all 9
 * (prober, target) streams run in parallel for the whole run. One NetworkPolicy selecting the
 * targets alternates between an ingress Deny and an ingress Allow of that port, so each change
 * flips what the probes see; ingress is enforced on the target's node, so the three targets cover
 * all three nodes.
 *
 * Latency of change k = max over the 9 streams of (start of the first probe after which every probe
 * in that change's window shows the new verdict) − (time just before the write). It is measured
 * from the ResourceStore write (`store.apply`, the call `tessera apply` makes after its own process
 * start-up), and overestimates by up to one probe interval. Baseline in the same run, under the
 * same probe load: an empty `nft -f` transaction in a node netns.
 *
 * "apply-from-command" (issue 18) measures what a user sees: from spawning the real
 * `tessera apply -f deny.yaml` (then `tessera delete -f deny.yaml`, alternating) until every stream
 * shows the new verdict, so it includes the CLI's start-up and its own datastore connect. Goal: p99
 * <= 250 ms over LATENCY_CLI_CHANGES (default 24) changes. BENCH_POLICY_PARTS=apply-from-command
 * runs only this measure (no store-write phase).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { podCreate, type PodState } from '../../src/lab/index.js';
import { run, start } from '../../src/lib/exec.js';
import { kindFor } from '../../src/api/index.js';
import { percentile } from '../lib/stats.js';
import { spread, type TargetCheck } from './checks.js';
import {
  HERE,
  SERVER_PORT,
  agentApplyTotals,
  describeApplyDelta,
  now,
  nftFloor,
  policyResource,
  sleep,
  startServer,
  type LabBench,
} from './lab-kit.js';
import type { Resource } from '../../src/api/index.js';

const CHANGES = Number(process.env['LATENCY_CHANGES'] ?? 50);
const CLI_CHANGES = Number(process.env['LATENCY_CLI_CHANGES'] ?? 24);
export const PROBE_INTERVAL_MS = 10;
export const PROBE_TIMEOUT_MS = 50;
const SETTLE_TIMEOUT_MS = 5000;
const PROBERS_START_TIMEOUT_MS = 60_000;
const NS = 'bench-lat';
const POLICY = 'bench-latency';

type Verdict = 'deny' | 'allow';
export interface Sample {
  start: number;
  ok: boolean;
}

function policy(v: Verdict): Resource {
  return policyResource({
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: POLICY, namespace: NS },
    spec: {
      selector: 'role == "target"',
      types: ['Ingress'],
      ingress: [{ action: v === 'deny' ? 'Deny' : 'Allow', protocol: 'TCP', destination: { ports: [SERVER_PORT] } }],
    },
  });
}

/** streams[prober][target]: every probe result, in arrival order. */
type Streams = Sample[][][];

/** One prober process in `from`'s netns probing every target; results land in into[target index]. */
export function startProber(b: LabBench, from: PodState, targets: PodState[], into: Sample[][]): ChildProcess {
  const job = {
    targets: targets.map((t) => ({ ip: t.ips[0]!, port: SERVER_PORT })),
    intervalMs: PROBE_INTERVAL_MS,
    timeoutMs: PROBE_TIMEOUT_MS,
  };
  const child = start([process.execPath, '--import', 'tsx', join(HERE, 'prober.ts'), JSON.stringify(job)], {
    netns: from.netns,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  b.children.push(child);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const [i, ok, t] = line.split(' ');
    into[Number(i)]?.push({ start: Number(t), ok: ok === '1' });
  });
  return child;
}

/** True when, among probes started at or after `since`, the latest 3 (by start) show `want`. */
function settled(stream: Sample[], since: number, want: boolean): boolean {
  const after = stream.filter((s) => s.start >= since).sort((a, b) => a.start - b.start);
  const tail = after.slice(-3);
  return tail.length === 3 && tail.every((s) => s.ok === want);
}

async function waitSettled(
  streams: Streams,
  since: number,
  want: boolean,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (streams.every((row) => row.every((s) => settled(s, since, want)))) return true;
    await sleep(5);
  }
  return false;
}

/** Start of the first probe after which the window [from, to) shows only `want`; -1 if never. */
function firstSteady(stream: Sample[], from: number, to: number, want: boolean): number {
  const win = stream.filter((s) => s.start >= from && s.start < to).sort((a, b) => a.start - b.start);
  let lastWrong = -Infinity;
  for (const s of win) if (s.ok !== want) lastWrong = s.start;
  const first = win.find((s) => s.start > lastWrong && s.ok === want);
  return first ? first.start : -1;
}

interface Change {
  at: number;
  want: boolean;
  writeMs: number;
}

/** Per change: ms from `at` to enforcement on every stream (Infinity if it never settled). */
function latencies(streams: Streams, changes: Change[], end: number): { all: number[]; perTarget: number[][] } {
  const perTarget: number[][] = streams[0]!.map(() => []);
  const all = changes.map((c, k) => {
    const to = changes[k + 1]?.at ?? end;
    let worst = 0;
    streams[0]!.forEach((_, j) => {
      let perNode = 0;
      for (const row of streams) {
        const t = firstSteady(row[j]!, c.at, to, c.want);
        perNode = Math.max(perNode, t < 0 ? Infinity : t - c.at);
      }
      perTarget[j]!.push(perNode);
      worst = Math.max(worst, perNode);
    });
    return worst;
  });
  return { all, perTarget };
}

/** Which measures to run: the store write (`latency`) and/or the real CLI (`apply-from-command`). */
export interface LatencyParts {
  store: boolean;
  cli: boolean;
}

export async function runLatency(
  b: LabBench,
  parts: LatencyParts = { store: true, cli: true },
): Promise<TargetCheck[]> {
  const nodes = b.lab.nodes.map((n) => n.name);
  const targets = await Promise.all(
    nodes.map((n, i) => podCreate(b.lab, `${NS}/t${i + 1}`, { node: n, labels: { role: 'target' } })),
  );
  const probers = await Promise.all(
    nodes.map((n, i) => podCreate(b.lab, `${NS}/c${i + 1}`, { node: n, labels: { role: 'prober' } })),
  );
  for (const t of targets) await startServer(b, t.netns);
  const streams: Streams = probers.map(() => targets.map(() => []));
  const children = probers.map((p, i) => startProber(b, p, targets, streams[i]!));
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-bench-lat-'));
  try {
    // The probers are Node processes under tsx: on a loaded machine they take seconds to start.
    if (!(await waitSettled(streams, now(), true, PROBERS_START_TIMEOUT_MS)))
      throw new Error(
        `probes did not all connect within ${PROBERS_START_TIMEOUT_MS / 1000} s, before any policy was applied`,
      );
    const floor = await nftFloor(b.lab.nodes[0]!.netns, 20);

    const scrape = () => Promise.all(b.lab.nodes.map((n) => agentApplyTotals(n.netns, n.healthPort)));
    const metricsBefore = await scrape();
    const changes: Change[] = [];
    let timeouts = 0;
    for (let k = 0; k < (parts.store ? CHANGES : 0); k++) {
      const want: Verdict = k % 2 === 0 ? 'deny' : 'allow';
      const at = now();
      await b.store.apply(policy(want));
      changes.push({ at, want: want === 'allow', writeMs: now() - at });
      if (!(await waitSettled(streams, at, want === 'allow'))) timeouts++;
      await sleep(20 + Math.random() * PROBE_INTERVAL_MS);
    }
    await sleep(PROBE_TIMEOUT_MS + 50);
    const storeEnd = now();
    const metricsAfter = await scrape();

    // The real CLI, from spawn: includes Node start-up and the CLI's own datastore connect. It
    // starts from "no policy" (everything allowed), then alternates apply of a Deny and its delete.
    const info = kindFor('projectcalico.org/v3', 'NetworkPolicy')!;
    const denyFile = join(tmp, 'deny.yaml');
    writeFileSync(denyFile, stringify(policy('deny')));
    const cliChanges: (Change & { verb: 'apply' | 'delete' })[] = [];
    const cliRun: number[] = [];
    const cli = join(HERE, '..', '..', 'bin', 'tessera');
    if (parts.cli && CLI_CHANGES > 0) {
      await b.store.delete(info, POLICY, NS).catch(() => undefined);
      if (!(await waitSettled(streams, now(), true))) timeouts++;
      await sleep(20 + Math.random() * PROBE_INTERVAL_MS);
    }
    for (let k = 0; k < (parts.cli ? CLI_CHANGES : 0); k++) {
      const verb = k % 2 === 0 ? 'apply' : 'delete';
      const at = now();
      await run([cli, verb, '-f', denyFile], { env: b.env });
      cliRun.push(now() - at);
      cliChanges.push({ at, want: verb === 'delete', writeMs: now() - at, verb });
      if (!(await waitSettled(streams, at, verb === 'delete'))) timeouts++;
      await sleep(20 + Math.random() * PROBE_INTERVAL_MS);
    }
    await sleep(PROBE_TIMEOUT_MS + 50);
    const end = now();
    for (const c of children) c.stdin?.end();

    const checks: TargetCheck[] = [];
    const store = latencies(streams, changes, storeEnd);
    const viaCli = latencies(streams, cliChanges, end);
    const probes = streams.flat().reduce((n, s) => n + s.length, 0);
    console.log(
      `${nodes.length} nodes, ${probes} probes (every ${PROBE_INTERVAL_MS} ms per prober→target stream, ${PROBE_TIMEOUT_MS} ms timeout, 9 streams); ${timeouts} change(s) never settled within ${SETTLE_TIMEOUT_MS} ms`,
    );
    console.log(`baseline, empty nft transaction (node netns, same load):  ${spread(floor, percentile)}`);
    if (changes.length > 0) {
      console.log(
        `ResourceStore write (get + txn) alone:                    ${spread(
          changes.map((c) => c.writeMs),
          percentile,
        )}`,
      );
      console.log(
        `write → enforced on all 3 nodes (${changes.length} changes):         ${spread(store.all, percentile)}`,
      );
      store.perTarget.forEach((xs, j) =>
        console.log(`  enforced on ${nodes[j]} (target t${j + 1}):                       ${spread(xs, percentile)}`),
      );
      const deny = store.all.filter((_, k) => !changes[k]!.want);
      const allow = store.all.filter((_, k) => changes[k]!.want);
      console.log(`  allow→deny ${spread(deny, percentile)}; deny→allow ${spread(allow, percentile)}`);
      b.lab.nodes.forEach((n, i) =>
        console.log(
          `  agent apply cycles on ${n.name} during these changes: ${describeApplyDelta(metricsBefore[i]!, metricsAfter[i]!)}`,
        ),
      );
      console.log(`  p50 / nft floor p50: ${(percentile(store.all, 50) / percentile(floor, 50)).toFixed(1)}x`);
      checks.push({
        label: 'programming latency p99 (store write → 3 nodes)',
        value: percentile(store.all, 99),
        target: 250,
        unit: 'ms',
        direction: 'at-most',
      });
    }
    if (cliChanges.length > 0) {
      const byVerb = (v: string) => viaCli.all.filter((_, k) => cliChanges[k]!.verb === v);
      console.log(`\`tessera apply|delete -f\` process, spawn → exit:          ${spread(cliRun, percentile)}`);
      console.log(
        `apply-from-command: spawn → enforced on all 3 nodes (${cliChanges.length} changes): ${spread(viaCli.all, percentile)}`,
      );
      console.log(
        `  apply -f (→ deny) ${spread(byVerb('apply'), percentile)}; delete -f (→ allow) ${spread(byVerb('delete'), percentile)}`,
      );
      viaCli.perTarget.forEach((xs, j) =>
        console.log(`  enforced on ${nodes[j]} (target t${j + 1}):                       ${spread(xs, percentile)}`),
      );
      const cliMs = percentile(cliRun, 50);
      console.log(
        `  of which the CLI process (p50 ${cliMs.toFixed(1)} ms) is ${((cliMs / percentile(viaCli.all, 50)) * 100).toFixed(0)}% of the p50`,
      );
      checks.push({
        label: 'apply-from-command p99 (tessera apply/delete -f → 3 nodes)',
        value: percentile(viaCli.all, 99),
        target: 250,
        unit: 'ms',
        direction: 'at-most',
      });
    }
    return checks;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    await b.store.delete(kindFor('projectcalico.org/v3', 'NetworkPolicy')!, POLICY, NS).catch(() => undefined);
  }
}
