/**
 * The failure paths around the agent and the lab (needs `make build`):
 *  - bad `lab up` / `lab pod create` input: non-zero exit, an error naming the bad value, nothing
 *    created;
 *  - a `lab up` that fails after everything (fabric, etcd, agents) exists: `lab down` still leaves
 *    no namespace, process, state dir or etcd data dir behind;
 *  - IPIP on this kernel (no ipip): the lab comes up, each agent reports a clear error in
 *    status.json and in its Node's status conditions, and keeps running (no crash loop).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LabDatastore, labDir, labDown, labUp, loadLab, podCreate, readPods, type LabState } from '../src/lab/index.js';
import { run } from '../src/lib/exec.js';
import { sleep } from '../src/lib/clock.js';
import { readCliConfig } from '../src/lib/context.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-agentfail-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
const cli = (args: string[]) => run([BIN, ...args], { env, check: false, timeoutMs: 120_000 });
const newName = () => `tsr${randomBytes(3).toString('hex')}`;
const made: string[] = [];

after(async () => {
  for (const n of made) await labDown(n, { env }).catch(() => undefined);
  rmSync(cfgDir, { recursive: true, force: true });
});

async function netnsOf(name: string): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${name}-`));
}

/** Processes whose argv names the lab dir, or that run inside one of the lab's namespaces. */
async function labProcesses(name: string, netns: string[]): Promise<number[]> {
  const dir = labDir(name, env);
  const pids = new Set<number>();
  for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (Number(e) !== process.pid && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) pids.add(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  for (const ns of netns) {
    const r = await run(['ip', 'netns', 'pids', ns], { check: false });
    for (const p of r.stdout.split(/\s+/).filter(Boolean)) pids.add(Number(p));
  }
  return [...pids];
}

describe('bad input', () => {
  for (const [flags, mention] of [
    [['--nodes', '0'], /--nodes.*"0"/],
    [['--encapsulation', 'bogus'], /encapsulation.*"bogus"/],
  ] as const) {
    test(`lab up ${flags.join(' ')}: clear error, exit non-zero, nothing created`, async () => {
      const name = newName();
      made.push(name);
      const r = await cli(['lab', 'up', '--name', name, ...flags]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, mention);
      assert.equal(existsSync(labDir(name, env)), false, 'no lab dir');
      assert.deepEqual(await netnsOf(name), []);
      assert.equal(readCliConfig(env).contexts[name], undefined, 'no CLI context');
    });
  }
});

describe('lab down after a failed lab up', () => {
  test('everything up made (fabric, etcd, agents) is removed', async () => {
    const name = newName();
    made.push(name);
    // Fails at the very end (agents started, then "not ready after 1 ms"): the worst case for down.
    await assert.rejects(
      labUp({ name, nodes: 2, subnets: 2 }, { env, agentTimeoutMs: 1 }),
      (e: Error & { code?: string }) => e.code === 'timeout',
    );
    const s = loadLab(name, env);
    assert.equal(s.phase, 'failed');
    const ns = await netnsOf(name);
    assert.ok(ns.length >= 4, `fabric, router and hosts exist: ${ns.join(' ')}`);
    const procs = await labProcesses(name, ns);
    assert.ok(procs.length >= 3, `etcd and agents run: ${procs.join(' ')}`);
    const etcdDirs = s.etcd?.paths ?? [];
    assert.ok(etcdDirs.length >= 2, JSON.stringify(s.etcd));

    const down = await cli(['lab', 'down', '--name', name]);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.deepEqual(await netnsOf(name), []);
    const alive = procs.filter(
      (p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z'),
    );
    assert.deepEqual(alive, [], 'no lab process survives');
    assert.deepEqual(await labProcesses(name, []), []);
    assert.equal(existsSync(labDir(name, env)), false, 'state dir removed');
    assert.deepEqual(
      etcdDirs.filter((d) => existsSync(d)),
      [],
      'etcd data dirs removed',
    );
    assert.equal(readCliConfig(env).contexts[name], undefined, 'CLI context removed');
  });
});

describe('IPIP on a kernel without ipip', () => {
  const name = newName();
  made.push(name);
  let s: LabState;
  let agentPids: number[];
  before(async () => {
    // `lab up` refuses ipip on this kernel (the CLI's path); the agents' own detection is what is tested here.
    s = await labUp({ name, nodes: 2, encapsulation: 'ipip' }, { env, agentTimeoutMs: 60_000, allowMissingIpip: true });
    agentPids = s.nodes.map((n) => n.agent!.pid);
    await podCreate(loadLab(name, env), 'x/a', { node: 'node-1' });
    await podCreate(loadLab(name, env), 'x/b', { node: 'node-2' });
  });

  test('each agent reports the missing ipip support in status.json and Node conditions, without crash-looping', async () => {
    const statusOf = (node: string) =>
      JSON.parse(readFileSync(join(s.dir, 'nodes', node, 'status.json'), 'utf8')) as {
        ipipSupported: boolean;
        problems: string[];
        live: boolean;
      };
    for (const node of ['node-1', 'node-2']) {
      const deadline = Date.now() + 15_000;
      while (!statusOf(node).problems.some((p) => /ipip/i.test(p)) && Date.now() < deadline) await sleep(200);
      const st = statusOf(node);
      assert.equal(st.ipipSupported, false);
      assert.equal(st.live, true);
      assert.ok(
        st.problems.some((p) => /IPIP/.test(p) && /kernel/.test(p)),
        `${node} problems: ${JSON.stringify(st.problems)}`,
      );
      // The agent publishes the Node conditions asynchronously after writing status.json: poll.
      let y = await cli(['get', 'node', node, '-o', 'yaml']);
      const published = (out: string) =>
        /type: DataplaneProblems\n\s+status: "True"/.test(out) && /no ipip support/.test(out.replace(/\s+/g, ' '));
      for (const until = Date.now() + 15_000; !(y.code === 0 && published(y.stdout)) && Date.now() < until;) {
        await sleep(250);
        y = await cli(['get', 'node', node, '-o', 'yaml']);
      }
      assert.equal(y.code, 0, y.stderr);
      assert.match(y.stdout, /type: DataplaneProblems\n\s+status: "True"/);
      assert.match(y.stdout.replace(/\s+/g, ' '), /no ipip support/);
    }
    // Same processes a few seconds later: a crash loop would have replaced (or lost) them.
    await sleep(3000);
    const now = loadLab(name, env).nodes.map((n) => n.agent!.pid);
    assert.deepEqual(now, agentPids);
    for (const p of now) assert.ok(existsSync(`/proc/${p}`), `agent ${p} still runs`);
    const log = readFileSync(join(s.dir, 'logs', 'agent-node-1.log'), 'utf8');
    assert.equal((log.match(/"msg":"starting"/g) ?? []).length, 1, 'the agent started once');
  });

  test('pod on a missing node and a duplicate pod: clear error, exit non-zero, nothing created', async () => {
    const before = readPods(s.dir).map((p) => `${p.namespace}/${p.name} ${p.ips.join(',')}`);
    const missing = await cli(['lab', 'pod', 'create', 'x/z', '--node', 'node-9', '--name', name]);
    assert.notEqual(missing.code, 0, missing.stdout);
    assert.match(missing.stderr, /node-9/);
    assert.equal(existsSync(`/var/run/netns/${name}-pod-x-z`), false);
    const dup = await cli(['lab', 'pod', 'create', 'x/a', '--node', 'node-2', '--name', name]);
    assert.notEqual(dup.code, 0, dup.stdout);
    assert.match(dup.stderr, /x\/a.*already exists|already exists.*x\/a/);
    assert.deepEqual(
      readPods(s.dir).map((p) => `${p.namespace}/${p.name} ${p.ips.join(',')}`),
      before,
    );
    const ds = new LabDatastore(s.etcd!.endpoints);
    try {
      assert.equal(await ds.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'z', namespace: 'x' } }), undefined);
      const a = await ds.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x' } });
      assert.equal((a?.spec as { nodeName?: string } | undefined)?.nodeName, 'node-1', 'the original pod is untouched');
    } finally {
      await ds.close();
    }
  });
});
