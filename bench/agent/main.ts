/**
 * `make bench-agent`: what the node agent costs as the cluster grows. One real agent (a 1-node lab:
 * etcd, the agent, one local pod selected by a policy) watches a synthetic cluster written into the
 * datastore as the other nodes' agents and CNI plugins would write it: remote Nodes with a VXLAN
 * tunnel, an affine block each (claimed through IPAM) and PODS workload endpoints per node, a
 * fraction of them matched by the local pod's policy. The baseline is the same agent watching a
 * small cluster, measured in the same run; each ratio is what the bigger cluster costs per event.
 *   - remote pod churn: agent CPU per pod created elsewhere (IP allocation + WorkloadEndpoint, at a
 *     steady rate), and whether the routes and the policy's address set kept up;
 *   - idle: CPU with no changes (the periodic resync runs a full route cycle every 10 s), and the
 *     wall time of that cycle; the churn figure is CPU above this;
 *   - local pod create: `lab pod create` on the agent's node (CNI ADD through the agent, which
 *     answers once the pod's policy is programmed), one after another;
 *   - memory: the agent's resident set.
 * Env: BENCH_AGENT_NODES (1000), BENCH_AGENT_SMALL (10), BENCH_AGENT_PODS (30 per node),
 *      BENCH_AGENT_EVENTS (100), BENCH_AGENT_RATE (20 per second), BENCH_AGENT_LOCAL_PODS (7),
 *      BENCH_AGENT_KEEP=1 (leave the lab up to inspect).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Backend } from '../../src/datastore/index.js';
import { IpamClient } from '../../src/ipam/index.js';
import { labDown, loadLab, podCreate, podDelete, type LabState } from '../../src/lab/index.js';
import { describeError } from '../../src/lib/errors.js';
import { run } from '../../src/lib/exec.js';
import { sleep } from '../../src/lib/clock.js';
import { formatIp, networkOf, parseIp } from '../../src/lib/ip.js';
import { percentile } from '../lib/stats.js';
import { agentBenchLab, endpoint, remoteNode } from '../lib/synthetic.js';

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const NODES = num('BENCH_AGENT_NODES', 1000);
const SMALL = num('BENCH_AGENT_SMALL', 10);
const PODS = num('BENCH_AGENT_PODS', 30);
const EVENTS = num('BENCH_AGENT_EVENTS', 100);
const RATE = num('BENCH_AGENT_RATE', 20);
const LOCAL_PODS = num('BENCH_AGENT_LOCAL_PODS', 7);
/** Goals (not issue targets): how much more the 76x bigger cluster may cost per event and per full cycle. */
const CHURN_GOAL = 3;
const CYCLE_GOAL = 10;

interface Phase {
  nodes: number;
  endpoints: number;
  cpuPerEventMs: number;
  caughtUpMs: number;
  createP50Ms: number;
  resyncMs: number;
  idleCpuPct: number;
  rssMiB: number;
}

class Cluster {
  private readonly ipam: IpamClient;
  /** The agent runs for the whole bench: read its pid once, not on every CPU sample. */
  private readonly agentPid: number;
  nodes = 0;
  endpoints = 0;
  private churned = 0;
  private locals = 0;
  constructor(
    private readonly backend: Backend,
    private readonly lab: LabState,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.ipam = new IpamClient(backend);
    this.agentPid = lab.nodes[0]!.agent!.pid;
  }

  cpuMs(): number {
    const f = readFileSync(`/proc/${this.agentPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  }

  rssMiB(): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.agentPid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  }

  async metric(name: string): Promise<number> {
    const n = this.lab.nodes[0]!;
    const r = await run(['curl', '-s', `http://127.0.0.1:${n.healthPort}/metrics`], { netns: n.netns });
    const line = r.stdout.split('\n').find((l) => l.startsWith(name));
    return Number(line?.split(' ').pop() ?? NaN);
  }

  async remoteRoutes(): Promise<number> {
    const r = await run(['ip', '-n', this.lab.nodes[0]!.netns, 'route', 'show', 'proto', '80', 'dev', 'tessera.vxlan']);
    return r.stdout.split('\n').filter(Boolean).length;
  }

  /** Grows the cluster to `total` remote nodes, 50 writers at a time. */
  async grow(total: number): Promise<void> {
    const todo = Array.from({ length: total - this.nodes }, (_, k) => this.nodes + k);
    for (let i = 0; i < todo.length; i += 50) {
      await Promise.all(todo.slice(i, i + 50).map((n) => this.addNode(n)));
    }
    this.nodes = total;
  }

  private async addNode(i: number): Promise<void> {
    const name = `remote-${i}`;
    const node = remoteNode(i);
    await this.backend.put(node.key, node.value);
    // The first pod claims the node's block through IPAM; the others take addresses from the top of
    // that block directly (30,000 IPAM assignments would make the set-up take many minutes, and
    // the agent reads endpoints, not allocation records). Churned pods use IPAM from the bottom.
    const first = await this.pod(name, 'p0');
    const base = networkOf(parseIp(first), 26).value;
    await Promise.all(
      Array.from({ length: PODS - 1 }, (_, j) => this.endpoint(name, `p${j + 1}`, formatIp(4, base + 63n - BigInt(j)))),
    );
  }

  /** What a CNI ADD on a remote node writes: an address from its block, then its endpoint. */
  async pod(node: string, pod: string, app?: string): Promise<string> {
    const r = await this.ipam.autoAssign({
      num4: 1,
      num6: 0,
      handleId: `k8s-pod-network.${node}.${pod}`,
      attrs: { node, timestamp: new Date().toISOString() },
      hostname: node,
    });
    await this.endpoint(node, pod, r.ipv4[0]!.address, app);
    return r.ipv4[0]!.address;
  }

  private async endpoint(node: string, pod: string, ip: string, app?: string): Promise<void> {
    const wep = endpoint(node, pod, ip, this.endpoints++, app);
    await this.backend.put(wep.key, wep.value);
  }

  /** EVENTS remote pods at RATE per second, round-robin over the remote nodes. */
  async churn(idleCpuPerSec: number): Promise<{ cpuPerEventMs: number; caughtUpMs: number }> {
    const c0 = this.cpuMs();
    const t0 = Date.now();
    let last = '';
    for (let i = 0; i < EVENTS; i++) {
      // app=a1: matched by the local pod's policy, so every event also changes an nft set.
      last = await this.pod(`remote-${(i * 7) % this.nodes}`, `churn${this.churned++}`, 'a1');
      const wait = t0 + ((i + 1) * 1000) / RATE - Date.now();
      if (wait > 0) await sleep(wait);
    }
    // Caught up: the policy's address set on the node holds the last churned pod.
    const tEnd = Date.now();
    for (;;) {
      const r = await run(['nft', 'list', 'ruleset'], { netns: this.lab.nodes[0]!.netns });
      if (r.stdout.includes(last) || Date.now() - tEnd > 30_000) break;
      await sleep(50);
    }
    const caughtUpMs = Date.now() - tEnd;
    await sleep(1000);
    // What the agent spends anyway (its periodic resync) is not the events' cost.
    const busyMs = this.cpuMs() - c0 - (idleCpuPerSec * (Date.now() - t0)) / 1000;
    return { cpuPerEventMs: Math.max(0, busyMs) / EVENTS, caughtUpMs };
  }

  /** LOCAL_PODS pods created on the agent's node one after another (then deleted): ms each. */
  async localPods(): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < LOCAL_PODS; i++) {
      const ref = `bench/l${this.locals++}`;
      const t = performance.now();
      await podCreate(loadLab(this.lab.name, this.env), ref, { node: 'node-1', labels: { app: 'web' } });
      out.push(performance.now() - t);
      await podDelete(loadLab(this.lab.name, this.env), ref);
    }
    return out;
  }

  /** Over three resync periods without changes: the agent's CPU per second, and its mean full route cycle. */
  async idle(): Promise<{ cpuPerSec: number; resyncMs: number }> {
    await sleep(3000);
    const sum = 'tessera_agent_apply_seconds_sum{dataplane="routes"}';
    const count = 'tessera_agent_apply_seconds_count{dataplane="routes"}';
    const [s0, n0, c0, t0] = [await this.metric(sum), await this.metric(count), this.cpuMs(), Date.now()];
    await sleep(30_000);
    const [s1, n1, c1, t1] = [await this.metric(sum), await this.metric(count), this.cpuMs(), Date.now()];
    return { cpuPerSec: ((c1 - c0) * 1000) / (t1 - t0), resyncMs: n1 > n0 ? ((s1 - s0) / (n1 - n0)) * 1000 : NaN };
  }
}

async function measure(c: Cluster, nodes: number): Promise<Phase> {
  const t0 = Date.now();
  await c.grow(nodes);
  let routes = 0;
  for (let i = 0; i < 600 && routes < nodes; i++) {
    routes = await c.remoteRoutes();
    if (routes < nodes) await sleep(100);
  }
  console.log(
    `  ${nodes} remote nodes, ${c.endpoints} endpoints written in ${((Date.now() - t0) / 1000).toFixed(1)} s; agent routes to ${routes} remote blocks`,
  );
  const idle = await c.idle();
  const churn = await c.churn(idle.cpuPerSec);
  const create = await c.localPods();
  const p: Phase = {
    nodes,
    endpoints: c.endpoints,
    ...churn,
    createP50Ms: percentile(create, 50),
    resyncMs: idle.resyncMs,
    idleCpuPct: idle.cpuPerSec / 10,
    rssMiB: c.rssMiB(),
  };
  console.log(
    `  idle: ${p.idleCpuPct.toFixed(1)}% of a CPU (a full route cycle every 10 s: ${p.resyncMs.toFixed(0)} ms); RSS ${p.rssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `  churn: ${churn.cpuPerEventMs.toFixed(1)} ms agent CPU per remote pod above idle (${EVENTS} at ${RATE}/s), caught up ${churn.caughtUpMs} ms after the last`,
  );
  console.log(
    `  local pod create (lab pod create: netns, CNI ADD through the agent until its policy is programmed, servers): p50 ${p.createP50Ms.toFixed(0)} ms, all [${create.map((x) => x.toFixed(0)).join(', ')}]`,
  );
  return p;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const name = `bag${randomBytes(3).toString('hex')}`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-bench-agent-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  let backend: Backend | undefined;
  try {
    const made = await agentBenchLab(name, env, 'all()');
    backend = made.backend;
    const c = new Cluster(backend, loadLab(name, env), env);
    console.log(
      `agent on a 1-node VXLAN lab "${name}"; ${PODS} endpoints per remote node, 2 in 7 matched by the local pod's policy\n`,
    );
    console.log(`== baseline: ${SMALL} remote nodes`);
    const small = await measure(c, SMALL);
    console.log(`\n== ${NODES} remote nodes`);
    const big = await measure(c, NODES);
    const ratio = big.cpuPerEventMs / small.cpuPerEventMs;
    console.log('\nratios (big cluster / baseline, same run)');
    console.log(
      `  agent CPU per remote pod event   ${ratio.toFixed(2)}  (goal <= ${CHURN_GOAL}: ${ratio <= CHURN_GOAL ? 'PASS' : 'FAIL'}; cluster is ${(big.endpoints / small.endpoints).toFixed(0)}x bigger)`,
    );
    const cycle = big.resyncMs / small.resyncMs;
    console.log(
      `  full route cycle (resync)        ${cycle.toFixed(1)}  (goal <= ${CYCLE_GOAL}: ${cycle <= CYCLE_GOAL ? 'PASS' : 'FAIL'}; it re-reads every route, FDB and neighbour entry)`,
    );
    console.log(`  idle CPU                         ${(big.idleCpuPct / small.idleCpuPct).toFixed(1)}  (information)`);
    console.log(
      `  local pod create p50             ${(big.createP50Ms / small.createP50Ms).toFixed(2)}  (information)`,
    );
    console.log(`  agent RSS                        ${(big.rssMiB / small.rssMiB).toFixed(2)}  (information)`);
  } finally {
    await backend?.close().catch(() => undefined);
    if (process.env['BENCH_AGENT_KEEP'] === '1') {
      console.log(
        `\nkept lab "${name}" (TESSERA_CONFIG=${env.TESSERA_CONFIG}); remove it with: tessera lab down --name ${name}`,
      );
    } else {
      await labDown(name, { env }).catch((e: unknown) => console.error(`lab down ${name}: ${describeError(e)}`));
      rmSync(cfgDir, { recursive: true, force: true });
    }
  }
  console.log(`\nbench-agent took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(describeError(e));
  process.exit(1);
});
