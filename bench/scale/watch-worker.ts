/**
 * One process of simulated agents for the watch fan-out bench. argv[2] = JSON
 * { endpoints, agents, conns, prefixes, countPrefix }: `agents` agents spread over `conns` etcd
 * clients (real gRPC connections); each agent opens one watch per prefix, as the agent's Syncer
 * does. Every 250 ms it prints one JSON line: { streams, min, seenProbe } = the watch streams of
 * `countPrefix` and the fewest puts any of them has received (keys naming `probe` not counted).
 */
import { setMaxListeners } from 'node:events';
import { EtcdBackend } from '../../src/datastore/index.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { endpoints: string[]; agents: number; conns: number; prefixes: string[]; countPrefix: string };
const clients = Array.from({ length: o.conns }, () => new EtcdBackend({ endpoints: o.endpoints, callTimeoutMs: 120_000 }));
const ac = new AbortController();
setMaxListeners(0, ac.signal); // one listener per watch stream
const counts: number[] = [];
const probed: boolean[] = [];
let failures = 0;
for (let a = 0; a < o.agents; a++) {
  const client = clients[a % clients.length]!;
  for (const prefix of o.prefixes) {
    const slot = prefix === o.countPrefix ? (probed.push(false), counts.push(0) - 1) : -1;
    void (async () => {
      try {
        for await (const batch of client.watch(prefix, { signal: ac.signal })) {
          if (slot < 0) continue;
          // Probes (written until every stream is live) are not part of the measured updates.
          for (const ev of batch) {
            if (ev.type !== 'put') continue;
            if (ev.kv.key.includes('probe')) probed[slot] = true;
            else counts[slot]!++;
          }
        }
      } catch {
        if (!ac.signal.aborted) failures++;
      }
    })();
  }
}
const report = () => {
  let min = Infinity;
  for (const c of counts) if (c < min) min = c;
  process.stdout.write(`${JSON.stringify({ streams: counts.length, min: counts.length ? min : 0, failures, seenProbe: probed.every(Boolean) })}\n`);
};
const timer = setInterval(report, 250);
process.on('SIGTERM', () => {
  clearInterval(timer);
  ac.abort();
  void Promise.all(clients.map((c) => c.close())).finally(() => process.exit(0));
});
