/**
 * One single-stream iperf3 run between two network namespaces, for the dataplane benchmarks
 * (bench/dataplane/main.ts on this host, bench/dataplane/ipip.ts in the VM kernel).
 * iperf3's client and server are pinned to different CPUs (when there are two), the same for every
 * path; each run also records the CPU time the whole machine spent per GB moved.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { run, start } from '../../src/lib/exec.js';

export const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const IPERF_PORT = 5201;

/** Client and server on different CPUs, the same for every path (nothing on a 1-CPU machine). */
export const PIN = availableParallelism() >= 2;
const pinned = (cpu: number, argv: string[]) => (PIN ? ['taskset', '-c', String(cpu), ...argv] : argv);

/** CPU time (ms) the machine has spent busy: user, nice, system, irq, softirq; steal and idle excluded. */
function cpuBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)) * 10; // USER_HZ = 100
}

export interface Run {
  gbps: number;
  /** Busy CPU ms (all CPUs) per GB received. */
  cpuMsPerGB: number;
}

export interface IperfPath {
  /** For error messages: `<mode>/<name>`. */
  mode: string;
  name: string;
  fromNetns: string;
  toNetns: string;
  toIp: string;
}

/** One single-stream iperf3 run. The server serves exactly one test (-1). */
export async function iperf(p: IperfPath): Promise<Run> {
  const server = start(pinned(1, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT)]), {
    netns: p.toNetns,
    stdio: 'ignore',
  });
  try {
    for (let attempt = 0; ; attempt++) {
      const busy0 = cpuBusyMs();
      const r = await run(pinned(0, ['iperf3', '-c', p.toIp, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-J']), {
        netns: p.fromNetns,
        check: false,
        timeoutMs: (SECONDS + 20) * 1000,
      });
      const busy = cpuBusyMs() - busy0;
      const j = JSON.parse(r.stdout || '{}') as {
        error?: string;
        end?: { sum_received?: { bits_per_second?: number; bytes?: number } };
      };
      const bps = j.end?.sum_received?.bits_per_second;
      const bytes = j.end?.sum_received?.bytes;
      if (r.code === 0 && bps && bytes) return { gbps: bps / 1e9, cpuMsPerGB: busy / (bytes / 1e9) };
      // The server may not listen yet right after spawn.
      if (attempt < 40 && /refused/i.test(j.error ?? r.stderr)) {
        await new Promise((res) => setTimeout(res, 100));
        continue;
      }
      throw new Error(`iperf3 ${p.mode}/${p.name} ${p.fromNetns} -> ${p.toIp} failed: ${j.error ?? r.stderr}`);
    }
  } finally {
    server.kill('SIGKILL');
  }
}
