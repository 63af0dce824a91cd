/**
 * One process of simulated agents for the watch fan-out bench. argv[2] = JSON
 * { endpoints, agents, conns, prefixes, countPrefix }: `agents` agents spread over `conns` etcd
 * clients (real gRPC connections: each client is one HTTP/2 connection, and the agents' watch
 * streams are multiplexed over them); each agent runs the agent's own Syncer over `prefixes` (one
 * watch each; a watch cut by the server is resumed from its revision, as in a real agent). Every
 * 250 ms it prints one JSON line: { streams, inSync, probed, min, failures, lagMs } = the agents,
 * how many of them are in sync (listed and watching), how many have seen a probe, the fewest puts
 * under `countPrefix` any of them has received (keys naming `probe` not counted), and this
 * process's worst event-loop delay over the last second (how saturated it is).
 *
 * Why the Syncer rather than bare watches: grpc-proxy enforces grpc's default keepalive policy
 * (pings at most every 5 min) and answers our 10 s pings with GOAWAY; grpc-js then doubles its
 * interval, but the connections drop meanwhile, and bare watch streams would just end.
 */
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EtcdBackend, Syncer } from '../../src/datastore/index.js';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  endpoints: string[];
  agents: number;
  conns: number;
  prefixes: string[];
  countPrefix: string;
  batch?: number;
};
const clients = Array.from(
  { length: o.conns },
  () => new EtcdBackend({ endpoints: o.endpoints, callTimeoutMs: 120_000 }),
);
const ac = new AbortController();
setMaxListeners(0, ac.signal); // one listener per syncer
const counts: number[] = new Array<number>(o.agents).fill(0);
const probed: boolean[] = new Array<boolean>(o.agents).fill(false);
let probedCount = 0;
let inSync = 0;
let failures = 0;
const syncers: Syncer[] = [];
let lastError = '';
/** Starts agent `a`'s Syncer. */
function startAgent(a: number): void {
  const s = new Syncer({
    backend: clients[a % clients.length]!,
    prefixes: o.prefixes,
    signal: ac.signal,
    initialBackoffMs: 200,
    maxBackoffMs: 2000,
    onStatus: (st) => {
      if (st === 'in-sync') inSync++;
    },
    // A stream the server cut is resumed by the Syncer; counted for the report.
    onError: (e) => {
      if (e.code === 'aborted') return;
      failures++;
      lastError = e.message;
    },
    onUpdates: (updates) => {
      for (const u of updates) {
        if (u.value === undefined || !u.key.startsWith(o.countPrefix)) continue;
        if (u.key.includes('probe')) {
          if (!probed[a]) probedCount++;
          probed[a] = true;
        } else counts[a]!++;
      }
    },
  });
  s.start();
  syncers.push(s);
}
// Agents start in batches of `batch`, the next once the previous are in sync (or after 10 s): all
// at once, 10,000 lists and watches saturated this process and etcd for minutes (event-loop
// delays of 10 s, list deadlines missed and retried), which measures the herd, not the fan-out.
void (async () => {
  for (let a = 0; a < o.agents && !ac.signal.aborted;) {
    const end = Math.min(o.agents, a + (o.batch ?? 100));
    for (; a < end; a++) startAgent(a);
    const deadline = Date.now() + 10_000;
    while (inSync < a && Date.now() < deadline && !ac.signal.aborted) await new Promise((r) => setTimeout(r, 50));
  }
})();
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
let lagMs = 0;
const lagTimer = setInterval(() => {
  lagMs = lag.max / 1e6;
  lag.reset();
}, 1000);
const report = () => {
  let min = Infinity;
  for (const c of counts) if (c < min) min = c;
  process.stdout.write(
    `${JSON.stringify({ lastError, streams: counts.length, inSync, probed: probedCount, min: counts.length ? min : 0, failures, lagMs: Math.round(lagMs) })}\n`,
  );
};
const timer = setInterval(report, 250);
// The parent gone (it failed): stop quietly instead of dying on EPIPE.
process.stdout.on('error', () => process.exit(0));
process.on('SIGTERM', () => {
  clearInterval(timer);
  clearInterval(lagTimer);
  ac.abort();
  void Promise.all(syncers.map((s) => s.stop()))
    .then(() => Promise.all(clients.map((c) => c.close())))
    .finally(() => process.exit(0));
});
