/**
 * Reliability of tessera-cni against one real etcd:
 *  - 3 nodes × 100 concurrent ADDs (shim → per-node CNI server, IPAM host queue disabled so only
 *    compare-and-swap keeps addresses unique): unique addresses, all released by DEL, check clean;
 *  - 200 ADD processes SIGKILLed at random points: never a duplicate, leaks cleaned from the report.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CniLab, cniEnv, ensureShim, nodeEntry } from './cni-harness.js';
import { run, start } from '../src/lib/exec.js';

async function makeNetns(lab: CniLab, names: string[]): Promise<void> {
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
  lab.namespaces.push(...names);
}

describe('tessera-cni reliability', () => {
  const lab = new CniLab();
  before(() => lab.start([{ name: 'rel-pool', cidr: '10.55.0.0/16' }]));
  after(() => lab.cleanup());

  test('3 nodes x 100 concurrent ADDs: unique, released, ipam check clean', async () => {
    const shim = await ensureShim();
    const nodes = ['r1', 'r2', 'r3'];
    const hosts = await Promise.all(nodes.map((n) => lab.addNetns(n)));
    const servers = await Promise.all(nodes.map((n, i) => lab.startServer(hosts[i]!, n, { hostQueue: false })));
    const jobs = nodes.flatMap((n, i) =>
      Array.from({ length: 100 }, (_, k) => ({
        node: n,
        host: hosts[i]!,
        sock: servers[i]!.socket,
        id: `${n}-c${k}`,
        ns: `${lab.prefix}${n}p${k}`,
      })),
    );
    await makeNetns(
      lab,
      jobs.map((j) => j.ns),
    );
    const addOnce = async (j: (typeof jobs)[number]) => {
      // A runtime retries "try again later" (code 11); everything else must succeed first time.
      for (let attempt = 0; ; attempt++) {
        const r = await lab.invoke(
          [shim],
          j.host,
          cniEnv('ADD', j.id, j.ns),
          lab.conf(j.node, { agent_socket: j.sock }),
        );
        if (r.code === 0) return (r.json?.['ips'] as { address: string }[])[0]!.address.split('/')[0]!;
        if (r.json?.['code'] !== 11 || attempt >= 5) throw new Error(`ADD ${j.id}: ${r.stdout}${r.stderr}`);
      }
    };
    const ips = await Promise.all(jobs.map(addOnce));
    assert.equal(new Set(ips).size, 300, 'every address unique');
    const live = new Set(jobs.map((j) => `tessera.${j.id}`));
    const report = await lab.ipam.check({ liveHandles: live });
    assert.equal(report.problems, 0, JSON.stringify(report).slice(0, 2000));
    const dels = await Promise.all(
      jobs.map((j) =>
        lab.invoke([shim], j.host, cniEnv('DEL', j.id, j.ns), lab.conf(j.node, { agent_socket: j.sock })),
      ),
    );
    assert.deepEqual(
      dels.filter((d) => d.code !== 0).map((d) => d.stdout),
      [],
    );
    const afterDel = await lab.ipam.check({ liveHandles: new Set() });
    assert.equal(afterDel.problems, 0, JSON.stringify(afterDel).slice(0, 2000));
    for (const j of jobs.slice(0, 20)) assert.deepEqual(await lab.ipam.ipsByHandle(`tessera.${j.id}`), []);
    for (const s of servers) await s.stop();
  });

  test('200 ADDs killed at random points: no duplicate, leaks released from the report', async () => {
    const host = await lab.addNetns('k');
    const argv = nodeEntry('main');
    const RUNS = 200;
    const PARALLEL = 8;
    const completed = new Map<string, string>();
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    /** Runs one ADD process, SIGKILLed after `killAfterMs` (unless it finished); returns its duration. */
    const attempt = async (i: number, killAfterMs: number | undefined): Promise<number> => {
      const id = `kill-${i}`;
      const t0 = performance.now();
      const child = start(argv, {
        netns: host,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...cniEnv('ADD', id, `${lab.prefix}k${i}`) },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      child.stdin!.end(JSON.stringify(lab.conf('killnode')));
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      clearTimeout(timer);
      if (code === 0)
        completed.set(
          `tessera.${id}`,
          (JSON.parse(out) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!,
        );
      return performance.now() - t0;
    };
    const inBatches = async (from: number, to: number, killAfter: () => number | undefined): Promise<number[]> => {
      const durations: number[] = [];
      for (let base = from; base < to; base += PARALLEL) {
        const batch = Array.from({ length: Math.min(PARALLEL, to - base) }, (_, i) => base + i);
        const names = batch.map((i) => `${lab.prefix}k${i}`);
        await makeNetns(lab, names);
        durations.push(...(await Promise.all(batch.map((i) => attempt(i, killAfter())))));
        for (const n of names) await lab.delNetns(n);
      }
      return durations;
    };
    // Calibrate on this machine, at this parallelism: kill points then spread over a whole ADD.
    const calib = (await inBatches(0, PARALLEL, () => undefined)).sort((a, b) => a - b);
    const typicalMs = calib[Math.floor(calib.length / 2)]!;
    await inBatches(PARALLEL, PARALLEL + RUNS, () => Math.floor(rand() * typicalMs * 1.2));
    const addrs = [...completed.values()];
    assert.equal(new Set(addrs).size, addrs.length, 'completed ADDs got unique addresses');
    const report = await lab.ipam.check({ liveHandles: new Set(completed.keys()) });
    assert.deepEqual(report.duplicates, [], 'never a duplicate');
    await lab.ipam.releaseFromReport(report);
    const clean = await lab.ipam.check({ liveHandles: new Set(completed.keys()) });
    assert.equal(clean.problems, 0, JSON.stringify(clean).slice(0, 2000));
    // Every live workload still holds exactly the address it was given.
    for (const [h, a] of completed)
      assert.deepEqual(
        (await lab.ipam.ipsByHandle(h)).map((i) => i.address),
        [a],
      );
    // Some runs must really have been killed mid-way, and some must have completed.
    assert.ok(
      completed.size > PARALLEL && completed.size < PARALLEL + RUNS,
      `completed ${completed.size} of ${PARALLEL + RUNS}`,
    );
  });
});
