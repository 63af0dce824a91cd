/**
 * bench-policy part 2, scale on one node: 250 local endpoints, 1,000 policies, 10,000 remote
 * endpoints. Measures, in one run: the first full program (ingest into the calculator + resolve +
 * render + nft apply in a private netns), then the incremental path for "add one pod" and "change
 * one label" (datastore event → kernel), against the nft transaction floor (an empty transaction)
 * measured in the same run. The calculator and reconciler run in this process, as in the agent, so
 * this process's RSS stands for the agent's; each change goes the agent's way (nextNftState: a patch
 * of the programmed state when possible, else a full render; nft through bin/tessera-nft).
 */
import { randomBytes } from 'node:crypto';
import { run } from '../../src/lib/exec.js';
import { NftReconciler, NftRenderCache, NftSession, nextNftState, renderNft } from '../../src/dataplane/nft/index.js';
import { PolicyCalculator, type PolicyUpdate } from '../../src/policy/index.js';
import { percentile } from '../lib/stats.js';
import { spread, type TargetCheck } from './checks.js';

const LOCAL = Number(process.env['LOCAL'] ?? 250);
const POLICIES = Number(process.env['POLICIES'] ?? 1000);
const REMOTE = Number(process.env['REMOTE'] ?? 10_000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 50);
/** Changes made (and not measured) before the measured ones; 0 by default: cold code paths count. */
const WARMUP = Number(process.env['WARMUP'] ?? 0);

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const wep = (i: number, node: string, app: string): PolicyUpdate => ({
  kind: 'WorkloadEndpoint',
  key: `ns${i % 20}/p${i}`,
  value: {
    name: `p${i}`,
    namespace: `ns${i % 20}`,
    node,
    interfaceName: `tsr${i.toString(16)}`,
    ipNetworks: [`${ip(i + 1)}/32`],
    labels: { app, shard: `s${i % 50}` },
  },
});

export async function runScale(): Promise<TargetCheck[]> {
  const ns = `tsr-${randomBytes(3).toString('hex')}-bench`;
  await run(['ip', 'netns', 'add', ns]);
  try {
    const rec = new NftReconciler({ netns: ns });
    const session = new NftSession({ netns: ns });
    const floor: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      await run(['nft', '-f', '-'], { netns: ns, input: 'add table inet tsrbench\n' });
      floor.push(performance.now() - t);
    }
    const helperFloor: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      await session.exec('add table inet tsrbench\n');
      helperFloor.push(performance.now() - t);
    }
    session.close();
    const calc = new PolicyCalculator({ nodeName: 'local' });
    const renderCache = new NftRenderCache(); // as the agent's PolicyDriver keeps one
    const t0 = performance.now();
    for (let n = 0; n < 20; n++)
      calc.apply({ kind: 'Namespace', key: `ns${n}`, value: { name: `ns${n}`, labels: { idx: `${n}` } } });
    for (let i = 0; i < LOCAL; i++) calc.apply(wep(i, 'local', `app${i % 100}`));
    for (let i = 0; i < REMOTE; i++) calc.apply(wep(LOCAL + i, `node${i % 50}`, `app${i % 100}`));
    for (let p = 0; p < POLICIES; p++) {
      calc.apply({
        kind: 'Policy',
        key: `ns${p % 20}/pol${p}`,
        value: {
          kind: 'NetworkPolicy',
          name: `pol${p}`,
          namespace: `ns${p % 20}`,
          spec: {
            selector: `app == "app${p % 100}"`,
            ingress: [
              {
                action: 'Allow',
                protocol: 'TCP',
                source: { selector: `shard == "s${p % 50}"`, namespaceSelector: 'all()' },
                destination: { ports: [80 + (p % 10)] },
              },
            ],
          },
        },
      });
    }
    const tLoad = performance.now();
    const state = renderNft(calc.resolve(), { cache: renderCache });
    const tRender = performance.now();
    await rec.apply(state);
    const tApply = performance.now();
    console.log(
      `setup: ${LOCAL} local endpoints, ${REMOTE} remote, ${POLICIES} policies; ${state.chains.size} chains, ${state.sets.size} sets, ${[...state.sets.values()].reduce((n, s) => n + s.elements.length, 0)} set elements`,
    );
    console.log(
      `first full program: ingest ${(tLoad - t0).toFixed(0)} ms + resolve+render ${(tRender - tLoad).toFixed(0)} ms + nft apply ${(tApply - tRender).toFixed(0)} ms = ${(tApply - t0).toFixed(0)} ms (without ingest: ${(tApply - tLoad).toFixed(0)} ms)`,
    );

    const addPod: number[] = [];
    const relabel: number[] = [];
    const split = { calc: [] as number[], nft: [] as number[] };
    const modes = { patch: 0, full: 0 };
    for (let r = -WARMUP; r < ROUNDS; r++) {
      const keep = r >= 0;
      let t = performance.now();
      calc.apply(wep(LOCAL + REMOTE + WARMUP + r, 'local', `app${(r + 100) % 100}`));
      // As the agent does (PolicyDriver): patch the programmed state when possible.
      let next = nextNftState(calc, rec.current, false, renderCache);
      modes[next.mode]++;
      const tc = performance.now();
      await rec.apply(next.state);
      if (keep) {
        addPod.push(performance.now() - t);
        split.calc.push(tc - t);
        split.nft.push(performance.now() - tc);
      }
      t = performance.now();
      const i = ((r + WARMUP) * 37) % REMOTE;
      calc.apply(wep(LOCAL + i, `node${i % 50}`, `app${(r + WARMUP + 1) % 100}`));
      next = nextNftState(calc, rec.current, false, renderCache);
      modes[next.mode]++;
      await rec.apply(next.state);
      if (keep) relabel.push(performance.now() - t);
    }
    const rss = process.memoryUsage().rss / 2 ** 20;
    console.log(
      `nft path: ${session.persistent ? 'bin/tessera-nft (long-lived libnftables helper)' : 'nft command per transaction (bin/tessera-nft not built)'}`,
    );
    console.log(`baseline, empty nft transaction (nft -f):  ${spread(floor, percentile)}`);
    console.log(`  same through the helper:                 ${spread(helperFloor, percentile)}`);
    console.log(
      `${ROUNDS} changes of each kind${WARMUP ? ` after ${WARMUP} unmeasured warm-up changes` : ''}: ${modes.patch} patched, ${modes.full} full renders`,
    );
    console.log(`add one local pod (event → kernel):        ${spread(addPod, percentile)}`);
    console.log(`  of which resolve+render (or patch):      ${spread(split.calc, percentile)}`);
    console.log(`  of which nft diff+apply:                 ${spread(split.nft, percentile)}`);
    console.log(`change one remote label (event → kernel):  ${spread(relabel, percentile)}`);
    console.log(
      `agent-equivalent RSS: ${rss.toFixed(0)} MiB (reported, no target); drift check: ${(await rec.drift()).length} differences`,
    );
    rec.close();
    return [
      {
        label: 'first full program (ingest+resolve+render+apply)',
        value: tApply - t0,
        target: 1000,
        unit: 'ms',
        direction: 'at-most',
      },
      {
        label: 'add one pod, p99 (event → kernel)',
        value: percentile(addPod, 99),
        target: 50,
        unit: 'ms',
        direction: 'at-most',
      },
      {
        label: 'change one label, p99 (event → kernel)',
        value: percentile(relabel, 99),
        target: 50,
        unit: 'ms',
        direction: 'at-most',
      },
    ];
  } finally {
    await run(['ip', 'netns', 'del', ns], { check: false });
  }
}
