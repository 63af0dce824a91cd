/**
 * Persistent prober for the programming-latency bench, run inside one source pod's netns:
 *   node --import tsx bench/policy/prober.ts '<job json>'
 * Every `intervalMs` it starts one fresh TCP connect to each target and, once it resolves, prints
 * `<target index> <1|0> <start time, ms since the epoch>` (buffered, flushed every few ms).
 * A probe's start time is when its only SYN left (a dropped SYN is retransmitted after 1 s, long
 * after our timeout), so "connected" proves the kernel allowed it at that instant, and a timeout
 * proves it dropped it. Start times use timeOrigin + performance.now() so that they compare across
 * processes. Exits when stdin closes (the parent went away).
 */
import { connect } from 'node:net';

interface Job {
  targets: { ip: string; port: number }[];
  intervalMs: number;
  timeoutMs: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const now = (): number => performance.timeOrigin + performance.now();
let out: string[] = [];

function probe(index: number, ip: string, port: number): void {
  const started = now();
  const sock = connect({ host: ip, port });
  let done = false;
  const finish = (ok: boolean): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    // RST instead of FIN: no TIME_WAIT, so thousands of probes never exhaust ports.
    if (ok) sock.resetAndDestroy();
    else sock.destroy();
    out.push(`${index} ${ok ? 1 : 0} ${started.toFixed(2)}`);
  };
  sock.once('connect', () => finish(true));
  sock.once('error', () => finish(false));
  // A stalled event loop runs timers before I/O: defer the verdict by one poll phase so that a
  // connect that completed during the stall still counts as connected.
  const timer = setTimeout(() => setImmediate(() => finish(false)), job.timeoutMs);
}

setInterval(() => {
  job.targets.forEach((t, i) => probe(i, t.ip, t.port));
}, job.intervalMs);
setInterval(() => {
  if (out.length === 0) return;
  process.stdout.write(out.join('\n') + '\n');
  out = [];
}, 5);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
