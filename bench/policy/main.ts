/**
 * `make bench-policy`: issue 5's Performance section, each part against a baseline measured in the
 * same run, ending with one PASS/FAIL line per target.
 *   1. programming latency on a 3-node lab      latency.ts   (baseline: empty nft transaction)
 *   2. scale on one node, in-process             scale.ts     (baseline: empty nft transaction)
 *   3. per-packet cost on the same lab           per-packet.ts (baseline: the rate with no policy)
 *   4. the host path on the same lab             host.ts      (baseline: the same port, no host endpoint)
 * Env: BENCH_POLICY_PARTS=scale,latency,per-packet,host (default all), plus each part's own knobs.
 * `latency` includes "apply-from-command" (the real `tessera apply -f`, issue 18);
 * BENCH_POLICY_PARTS=apply-from-command (`make bench-policy-cli`) runs only that measure.
 * The lab is always taken down, also on failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, loadLab } from '../../src/lab/index.js';
import { describeError } from '../../src/lib/errors.js';
import { checkPasses, formatCheck, type TargetCheck } from './checks.js';
import { runScale } from './scale.js';
import { runLatency } from './latency.js';
import { runPerPacket } from './per-packet.js';
import { runHostPath } from './host.js';
import { closeLabBench, openLabBench } from './lab-kit.js';

const PARTS = new Set(
  (process.env['BENCH_POLICY_PARTS'] ?? 'scale,latency,per-packet,host').split(',').map((s) => s.trim()),
);

async function main(): Promise<void> {
  const t0 = performance.now();
  const checks: TargetCheck[] = [];
  if (PARTS.has('scale')) {
    console.log('== 2. scale on one node (in-process calculator + nft reconciler, private netns)');
    checks.push(...(await runScale()));
  }
  const cliOnly = PARTS.has('apply-from-command') && !PARTS.has('latency');
  if (PARTS.has('latency') || cliOnly || PARTS.has('per-packet') || PARTS.has('host')) {
    const name = `${process.env['BENCH_POLICY_LAB_PREFIX'] ?? 'bpol'}${randomBytes(3).toString('hex')}`;
    const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-bench-policy-'));
    const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
    try {
      const tUp = performance.now();
      await labUp({ name, nodes: 3 }, { env });
      console.log(`\nlab "${name}": 3 nodes up in ${((performance.now() - tUp) / 1000).toFixed(1)} s`);
      const b = await openLabBench(loadLab(name, env), env);
      try {
        if (PARTS.has('latency') || cliOnly) {
          console.log('\n== 1. programming latency (3-node lab, persistent probers on every node)');
          checks.push(...(await runLatency(b, { store: !cliOnly, cli: true })));
        }
        if (PARTS.has('per-packet')) {
          console.log('\n== 3. per-packet cost (new-connection rate, one node of the lab)');
          checks.push(...(await runPerPacket(b)));
        }
        if (PARTS.has('host')) {
          console.log('\n== 4. host path (host endpoint policy and doNotTrack, on the same lab)');
          checks.push(...(await runHostPath(b)));
        }
      } finally {
        await closeLabBench(b);
      }
    } finally {
      await labDown(name, { env }).catch((e: unknown) => console.error(`lab down ${name}: ${describeError(e)}`));
      rmSync(cfgDir, { recursive: true, force: true });
    }
  }
  console.log('\n== targets');
  for (const c of checks) console.log(formatCheck(c));
  const failed = checks.filter((c) => !checkPasses(c)).length;
  console.log(
    `\nbench-policy took ${((performance.now() - t0) / 1000).toFixed(0)} s${failed > 0 ? ` (${failed} target(s) FAILED)` : ''}`,
  );
  // The benchmark contract: a failed goal fails the run.
  if (failed > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`bench-policy: ${describeError(e)}`);
  process.exit(1);
});
