/**
 * A lab at the size the issue asks to fit comfortably: 30 pods on 3 nodes (needs `make build`).
 * Created in parallel, every pod reaches every other (870 pairs, TCP and UDP), and what each pod
 * runs (its socat servers) stays small: proportional set size from /proc, not a timing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { countAllowed, labDown, labUp, loadLab, matrix, podCreate, type PodState } from '../src/lab/index.js';
import { run } from '../src/lib/exec.js';

const PODS = 30;
/** Per pod: four socat servers. Generous against ~1-2 MiB each, far below an interpreter per port. */
const MAX_POD_PSS_MIB = 12;

const name = `tssc${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-labscale-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };

/** Proportional set size (MiB) of every process in a network namespace. */
async function netnsPssMiB(netns: string): Promise<{ pids: number; mib: number }> {
  const pids = (await run(['ip', 'netns', 'pids', netns])).stdout.split(/\s+/).filter(Boolean);
  let kib = 0;
  for (const pid of pids) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    kib += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
  }
  return { pids: pids.length, mib: kib / 1024 };
}

describe(`lab with ${PODS} pods on 3 nodes`, { timeout: 600_000 }, () => {
  let pods: PodState[] = [];
  before(async () => {
    await labUp({ name, nodes: 3, subnets: 1 }, { env, setContext: false });
    pods = await Promise.all(
      Array.from({ length: PODS }, (_, i) =>
        podCreate(loadLab(name, env), `scale/p${i}`, { node: `node-${(i % 3) + 1}` }),
      ),
    );
  });
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test('parallel creates give every pod its own address', () => {
    assert.equal(pods.length, PODS);
    assert.equal(new Set(pods.map((p) => p.ips[0])).size, PODS, JSON.stringify(pods.map((p) => p.ips)));
  });

  test('every pod reaches every other pod, TCP and UDP', async () => {
    for (const protocol of ['TCP', 'UDP'] as const) {
      // A probe lost to a loaded machine (a dropped UDP echo) is retried with another full matrix;
      // a pair that is really unreachable fails every time.
      let missing: string[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const m = await matrix(loadLab(name, env), { port: 80, protocol, timeoutMs: 2000 });
        const { allowed, total } = countAllowed(m);
        assert.equal(total, PODS * (PODS - 1));
        missing = Object.entries(m.allowed).flatMap(([from, row]) =>
          Object.entries(row)
            .filter(([, ok]) => !ok)
            .map(([to]) => `${from}->${to}`),
        );
        if (allowed === total) break;
      }
      assert.deepEqual(missing, [], `${protocol}: ${missing.length} pairs failed: ${missing.slice(0, 20).join(', ')}`);
    }
  });

  test(`each pod's processes stay under ${MAX_POD_PSS_MIB} MiB (proportional set size)`, async () => {
    const sizes = await Promise.all(
      pods.map(async (p) => ({ pod: `${p.namespace}/${p.name}`, ...(await netnsPssMiB(p.netns)) })),
    );
    for (const s of sizes) {
      assert.equal(s.pids, 4, `${s.pod}: one server per default port`);
      assert.ok(s.mib < MAX_POD_PSS_MIB, `${s.pod}: ${s.mib.toFixed(1)} MiB`);
    }
    const total = sizes.reduce((a, s) => a + s.mib, 0);
    console.log(`# ${PODS} pods: ${total.toFixed(1)} MiB PSS in all, ${(total / PODS).toFixed(2)} MiB per pod`);
  });
});
