/**
 * One real agent (a 1-node VXLAN lab with one local pod and a policy on it matching 2 in 7 remote
 * pods) in a synthetic cluster (bench/lib/synthetic.ts):
 *   1. beside `small` remote nodes: idle CPU and CPU per remote pod event;
 *   2. the cluster grows to `nodes` x `pods` endpoints, `policies` policies, one block per node;
 *   3. the baseline: `etcdctl get --prefix` of the keys the agent reads;
 *   4. cold start: the agent is stopped, its VTEP (and with it every remote route, FDB and
 *      neighbour entry) and its nft table are deleted, and a new agent starts: time until it is
 *      ready (in sync, routes and policy programmed), and its peak RSS (VmHWM);
 *   5. idle CPU and CPU per remote pod event again, at full size.
 * A remote pod event is what a CNI ADD elsewhere writes: the block with one more allocation and
 * the WorkloadEndpoint, in one transaction.
 */
import { RESOURCE_ROOT, ipamKeys, type Backend } from '../../src/datastore/index.js';
import { labDown, loadLab, nodeStart, nodeStop } from '../../src/lab/index.js';
import { run } from '../../src/lib/exec.js';
import { sleep } from '../../src/lib/clock.js';
import { agentBenchLab, bulkBlock, endpoint, writeBulkCluster } from '../lib/synthetic.js';
import { cpuMs, memMiB } from './proc.js';

export interface ColdStartOptions {
  name: string;
  env: NodeJS.ProcessEnv;
  small: number;
  nodes: number;
  pods: number;
  policies: number;
  events: number;
  /** Remote pod events per second. */
  rate: number;
  /** Skip the CPU-per-event rounds (to profile the cold start alone); default true. */
  churn?: boolean;
  say: (line: string) => void;
}

export interface ChurnFigures {
  endpoints: number;
  idleCpuPct: number;
  cpuPerEventMs: number;
}

export interface ColdStartResult {
  small: ChurnFigures;
  big: ChurnFigures;
  etcdctlMs: number;
  coldStartMs: number;
  peakRssMiB: number;
  remoteRoutes: number;
}

class Agent {
  constructor(private readonly o: ColdStartOptions) {}
  get pid(): number {
    return loadLab(this.o.name, this.o.env).nodes[0]!.agent!.pid;
  }
  get netns(): string {
    return loadLab(this.o.name, this.o.env).nodes[0]!.netns;
  }
}

async function remoteRoutes(netns: string): Promise<number> {
  const r = await run(['ip', '-n', netns, 'route', 'show', 'proto', '80', 'dev', 'tessera.vxlan'], { check: false });
  return r.stdout.split('\n').filter(Boolean).length;
}

/** Addresses taken per remote node's block (bulk pods + churned ones). */
const allocated = new Map<number, number>();

/** Idle CPU over 20 s, then `events` remote pods at `rate`/s: agent CPU per event above idle. */
async function churn(
  o: ColdStartOptions,
  backend: Backend,
  agent: Agent,
  nodes: number,
  round: number,
  endpoints: number,
): Promise<ChurnFigures> {
  const pid = agent.pid;
  await sleep(3000);
  const i0 = cpuMs(pid);
  const it = Date.now();
  await sleep(20_000); // two periodic resyncs
  const idlePerSec = ((cpuMs(pid) - i0) * 1000) / (Date.now() - it);
  const c0 = cpuMs(pid);
  const t0 = Date.now();
  let last = '';
  for (let i = 0; i < o.events; i++) {
    const node = (i * 7 + round) % nodes;
    const used = (allocated.get(node) ?? o.pods) + 1; // the next ordinal above the bulk pods
    allocated.set(node, used);
    const b = bulkBlock(node, used);
    const ip = b.ips[b.ips.length - 1]!;
    const wep = endpoint(`remote-${node}`, `churn${round}-${i}`, ip, i, 'a1');
    await backend.txn([
      { op: 'put', ...b.kvs[0]! },
      { op: 'put', ...wep },
    ]);
    last = ip;
    const wait = t0 + ((i + 1) * 1000) / o.rate - Date.now();
    if (wait > 0) await sleep(wait);
  }
  // Caught up: the policy's address set holds the last pod (app=a1 is in the local pod's policy).
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const r = await run(['nft', 'list', 'table', 'inet', 'tessera'], { netns: agent.netns, check: false });
    if (r.stdout.includes(last)) break;
    await sleep(500);
  }
  await sleep(1000);
  const busy = cpuMs(pid) - c0 - (idlePerSec * (Date.now() - t0)) / 1000;
  return { endpoints, idleCpuPct: idlePerSec / 10, cpuPerEventMs: Math.max(0, busy) / o.events };
}

export async function runColdStart(o: ColdStartOptions): Promise<ColdStartResult> {
  const { name, env, say } = o;
  let backend: Backend | undefined;
  try {
    const made = await agentBenchLab(name, env, "app == 'web'");
    backend = made.backend;
    const lab = made.lab;
    const agent = new Agent(o);

    await writeBulkCluster(backend, { nodes: o.small, pods: o.pods, policies: 0 });
    for (let i = 0; i < 300 && (await remoteRoutes(agent.netns)) < o.small; i++) await sleep(100);
    const skip: ChurnFigures = { endpoints: 0, idleCpuPct: NaN, cpuPerEventMs: NaN };
    const small = o.churn === false ? skip : await churn(o, backend, agent, o.small, 0, o.small * o.pods);
    say(
      `    ${small.endpoints} endpoints: idle ${small.idleCpuPct.toFixed(1)}% CPU, ${small.cpuPerEventMs.toFixed(1)} ms agent CPU per remote pod event`,
    );

    const t = Date.now();
    await writeBulkCluster(backend, { nodes: o.nodes, pods: o.pods, policies: o.policies });
    const endpoints = o.nodes * o.pods;
    say(
      `    wrote ${o.nodes} nodes, ${endpoints} endpoints, ${o.nodes} blocks, ${o.policies} policies in ${((Date.now() - t) / 1000).toFixed(0)} s`,
    );
    // Let the running agent digest the growth before it is stopped.
    for (let i = 0; i < 1200 && (await remoteRoutes(agent.netns)) < o.nodes; i++) await sleep(500);

    const ep = lab.etcd!.endpoints.join(',');
    const e0 = Date.now();
    for (const prefix of [RESOURCE_ROOT, ipamKeys.blocksPrefix]) {
      await run(['sh', '-c', `etcdctl --command-timeout=600s --endpoints ${ep} get --prefix ${prefix} > /dev/null`]);
    }
    const etcdctlMs = Date.now() - e0;
    say(`    etcdctl get --prefix of the agent's keys: ${(etcdctlMs / 1000).toFixed(1)} s`);

    await nodeStop(name, 'node-1', { env });
    await run(['ip', '-n', agent.netns, 'link', 'del', 'tessera.vxlan'], { check: false });
    await run(['nft', 'delete', 'table', 'inet', 'tessera'], { netns: agent.netns, check: false });
    const s0 = Date.now();
    await nodeStart(name, 'node-1', { env, timeoutMs: 1_800_000 });
    const coldStartMs = Date.now() - s0;
    const peakRssMiB = memMiB(agent.pid, 'VmHWM');
    const routes = await remoteRoutes(agent.netns);
    say(
      `    cold start to ready: ${(coldStartMs / 1000).toFixed(1)} s, peak RSS ${peakRssMiB.toFixed(0)} MiB, ${routes} remote block routes`,
    );

    const big = o.churn === false ? skip : await churn(o, backend, agent, o.nodes, 1, endpoints + o.small * o.pods);
    say(
      `    ${big.endpoints} endpoints: idle ${big.idleCpuPct.toFixed(1)}% CPU, ${big.cpuPerEventMs.toFixed(1)} ms agent CPU per remote pod event`,
    );
    return { small, big, etcdctlMs, coldStartMs, peakRssMiB, remoteRoutes: routes };
  } finally {
    await backend?.close().catch(() => undefined);
    await labDown(name, { env }).catch((e: unknown) => say(`lab down ${name}: ${String(e)}`));
  }
}
