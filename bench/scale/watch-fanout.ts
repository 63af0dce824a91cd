/**
 * etcd load under many agents' watches, directly and through `etcd grpc-proxy`: simulated agents
 * (each running the agent's Syncer: two watches) in a few processes over real gRPC connections, then
 * `updates` single-key writes under the watched resource prefix, each delivered to every agent.
 * Measures etcd's CPU time and RSS growth (the proxy's too, for information).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdBackend, ipamKeys, RESOURCE_ROOT } from '../../src/datastore/index.js';
import { startEtcd, startEtcdProxy } from '../../src/lab/etcd.js';
import { cpuMs, memMiB } from './proc.js';
import { endpoint } from '../lib/synthetic.js';

export interface FanoutOptions {
  agents: number;
  procs: number;
  /** gRPC connections per process. */
  conns: number;
  updates: number;
  viaProxy: boolean;
  /** Name prefix of the etcd (and proxy) data dirs. */
  name?: string;
  /**
   * Pause between probe writes while waiting for every agent to see one (default 1000 ms). Each
   * probe is delivered to every watch stream, so back-to-back probes (0) flood the watchers.
   */
  probeEveryMs?: number;
  say?: (line: string) => void;
}

export interface FanoutResult {
  streams: number;
  etcdCpuMs: number;
  etcdCpuMsPer1000: number;
  /** etcd RSS growth from before the watchers opened to after the updates. */
  etcdRssGrowthMiB: number;
  etcdRssMiB: number;
  proxyCpuMs?: number | undefined;
  deliverMs: number;
  /** Time until every agent was in sync (listed and watching), and then until all saw a probe. */
  syncMs: number;
  probeMs: number;
  probes: number;
  /** Watch errors the agents' Syncers recovered from (e.g. GOAWAY from the proxy). */
  recovered: number;
}

interface Worker {
  child: ChildProcess;
  last: {
    lastError: string;
    streams: number;
    inSync: number;
    probed: number;
    min: number;
    failures: number;
    lagMs: number;
  };
}

async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A put retried (1 s apart, for up to 2 minutes) when an overloaded etcd times it out: on a busy
 * 2-core machine, etcd fanning each put out to 10,000 streams missed its own request deadline.
 */
async function putRetrying(b: EtcdBackend, key: string, value: string): Promise<void> {
  for (const deadline = Date.now() + 120_000; ;) {
    try {
      await b.put(key, value);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const say = o.say ?? (() => undefined);
  const etcd = await startEtcd({ name: o.name ?? 'sc-fanout' });
  const proxy = o.viaProxy ? await startEtcdProxy({ endpoints: etcd.endpoints }) : undefined;
  const target = proxy ? proxy.endpoints : etcd.endpoints;
  const writer = new EtcdBackend({ endpoints: etcd.endpoints, callTimeoutMs: 120_000 });
  const workers: Worker[] = [];
  try {
    const rss0 = memMiB(etcd.pid);
    const script = fileURLToPath(new URL('./watch-worker.ts', import.meta.url));
    const per = Math.ceil(o.agents / o.procs);
    for (let p = 0; p < o.procs; p++) {
      const agents = Math.min(per, o.agents - p * per);
      const args = {
        endpoints: target,
        agents,
        conns: o.conns,
        prefixes: [RESOURCE_ROOT, ipamKeys.blocksPrefix],
        countPrefix: RESOURCE_ROOT,
      };
      const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const w: Worker = {
        child,
        last: { lastError: '', streams: 0, inSync: 0, probed: 0, min: 0, failures: 0, lagMs: 0 },
      };
      let buf = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (c: string) => {
        buf += c;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        if (lines.length > 0) w.last = JSON.parse(lines[lines.length - 1]!) as Worker['last'];
      });
      workers.push(w);
    }
    const streams = () => workers.reduce((s, w) => s + w.last.streams, 0);
    const sum = (f: (l: Worker['last']) => number) => workers.reduce((s, w) => s + f(w.last), 0);
    const lastError = () => workers.find((w) => w.last.lastError)?.last.lastError ?? '';
    const minAll = () => Math.min(...workers.map((w) => w.last.min));
    const progress = (what: string) =>
      say(
        `      ${what}: ${sum((l) => l.inSync)}/${o.agents} in sync, ${sum((l) => l.probed)} saw a probe, ${sum((l) => l.failures)} watch errors recovered, worst worker event-loop delay ${Math.max(...workers.map((w) => w.last.lagMs))} ms${lastError() ? ` (last error: ${lastError()})` : ''}`,
      );
    let lastProgress = Date.now();
    const tick = (what: string) => {
      if (Date.now() - lastProgress < 15_000) return;
      lastProgress = Date.now();
      progress(what);
    };
    const ts = Date.now();
    await until(
      () => (tick('syncing'), workers.every((w) => w.last.streams > 0) && sum((l) => l.inSync) >= o.agents),
      'every agent to be in sync',
      300_000,
    );
    const syncMs = Date.now() - ts;
    // Probe writes until every agent has seen one: then all watches are live. Workers do not
    // count probes, so the measured updates start from 0 everywhere. Paced: every probe is one
    // event per watch stream, and back-to-back probes kept the workers too busy to get there.
    const probe = endpoint('fanout', 'probe', '10.0.0.1', 0);
    const every = o.probeEveryMs ?? 1000;
    let nextProbe = 0;
    let probes = 0;
    const tp = Date.now();
    await until(
      () => {
        tick('probing');
        if (nextProbe !== Infinity && Date.now() >= nextProbe) {
          nextProbe = Infinity;
          probes++;
          // A failed probe is simply followed by the next one.
          void writer
            .put(probe.key, probe.value)
            .catch(() => undefined)
            .finally(() => (nextProbe = Date.now() + every));
        }
        return sum((l) => l.probed) >= o.agents;
      },
      'every agent to see a probe',
      300_000,
    );
    const probeMs = Date.now() - tp;
    progress(
      `in sync after ${(syncMs / 1000).toFixed(1)} s, probed after ${(probeMs / 1000).toFixed(1)} s more (${probes} probes)`,
    );
    say(
      `    ${streams() * 2} watch streams (${streams()} agents x 2) live ${proxy ? 'through grpc-proxy' : 'directly on etcd'}`,
    );
    const c0 = cpuMs(etcd.pid);
    const p0 = proxy ? cpuMs(proxy.pid) : 0;
    const t0 = Date.now();
    for (let i = 0; i < o.updates; i += 5) {
      await Promise.all(
        Array.from({ length: Math.min(5, o.updates - i) }, (_, k) => {
          const kv = endpoint(
            `fanout-${(i + k) % 50}`,
            `u${i + k}`,
            `10.1.${((i + k) >> 8) & 255}.${(i + k) & 255}`,
            i + k,
          );
          return putRetrying(writer, kv.key, kv.value);
        }),
      );
    }
    await until(() => (tick('delivering'), minAll() >= o.updates), `${o.updates} updates at every stream`, 600_000);
    const deliverMs = Date.now() - t0;
    const etcdCpu = cpuMs(etcd.pid) - c0;
    const rss = memMiB(etcd.pid);
    return {
      streams: streams(),
      etcdCpuMs: etcdCpu,
      etcdCpuMsPer1000: (etcdCpu * 1000) / o.updates,
      etcdRssGrowthMiB: rss - rss0,
      etcdRssMiB: rss,
      proxyCpuMs: proxy ? cpuMs(proxy.pid) - p0 : undefined,
      deliverMs,
      syncMs,
      probeMs,
      probes,
      recovered: sum((l) => l.failures),
    };
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => (w.child.exitCode === null ? new Promise((r) => w.child.once('exit', r)) : undefined)),
    );
    await writer.close();
    await proxy?.stop();
    await etcd.stop();
  }
}
