/**
 * Convergence hook for `make bench-bgp`: time from "pod created on a node that has no block yet"
 * to "reachable from every other node", over N runs, in a lab with `--routing bgp` and, in the
 * same run, `--routing agent` for the ratio. The lab component supplies `ConvergenceLab`.
 */
export interface ConvergenceLab {
  readonly routing: 'bgp' | 'agent';
  /** Creates one pod on a node with no affine block yet; returns its address. */
  createPodOnFreshNode(run: number): Promise<{ podIp: string; node: string }>;
  /** True once `podIp` answers from every other node (one probe round, no waiting). */
  reachableFromAll(podIp: string, node: string): Promise<boolean>;
  /** Removes what createPodOnFreshNode made (pod and, if possible, its block). */
  cleanup(run: number): Promise<void>;
}

export interface ConvergenceResult {
  routing: 'bgp' | 'agent';
  runs: number;
  p50Ms: number;
  p99Ms: number;
  samplesMs: number[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function measureConvergence(
  lab: ConvergenceLab,
  runs = 20,
  timeoutMs = 10_000,
  pollMs = 20,
): Promise<ConvergenceResult> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { podIp, node } = await lab.createPodOnFreshNode(i);
    for (;;) {
      if (await lab.reachableFromAll(podIp, node)) break;
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`pod ${podIp} on ${node} not reachable from every node after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    samples.push(performance.now() - t0);
    await lab.cleanup(i);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    routing: lab.routing,
    runs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    samplesMs: samples,
  };
}
