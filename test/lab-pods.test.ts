/**
 * A full lab with the real CNI plugin and agents (needs `make build`): pods across two subnets,
 * probes, the CLI contract (status JSON, probe exit codes), node stop/start, pod delete, teardown.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  LabDatastore,
  agentStatuses,
  countAllowed,
  labDown,
  labUp,
  loadLab,
  matrix,
  nodeStart,
  nodeStop,
  podCreate,
  podDelete,
  probePods,
  type LabStatus,
} from '../src/lab/index.js';
import { sleep } from '../src/lib/clock.js';
import { run } from '../src/lib/exec.js';
import { eventually, processesNaming } from './helpers/lab.js';
import { DEFAULT_INTERFACE_PREFIX, hostVethName } from '../src/cni/index.js';

const name = `tsr${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-labtest-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
const cli = (args: string[]) =>
  run([process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), ...args], {
    env,
    check: false,
    timeoutMs: 60_000,
  });

describe('lab with CNI and agents (root)', () => {
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test('up waits for every agent to be ready', async () => {
    const s = await labUp({ name, nodes: 3, subnets: 2 }, { env });
    assert.equal(s.phase, 'ready');
    const st = await agentStatuses(s);
    assert.deepEqual(st, { 'node-1': 'ready', 'node-2': 'ready', 'node-3': 'ready' });
  });

  test('pods: placement, datastore objects, duplicate and missing-node errors', async () => {
    const s = loadLab(name, env);
    const a = await podCreate(s, 'x/a', { node: 'node-1', labels: { app: 'a', role: 'web' }, serviceAccount: 'sa-a' });
    const b = await podCreate(s, 'x/b', { node: 'node-2' });
    const c = await podCreate(s, 'y/c');
    assert.equal(c.node, 'node-3', 'default placement takes the node with the fewest pods');
    for (const p of [a, b, c]) assert.match(p.ips[0]!, /^10\.244\./);
    await assert.rejects(podCreate(s, 'x/a'), (e: Error & { code?: string }) => e.code === 'already-exists');
    await assert.rejects(
      podCreate(s, 'x/z', { node: 'node-9' }),
      (e: Error & { code?: string }) => e.code === 'not-found',
    );
    assert.equal(existsSync('/var/run/netns/' + `${name}-pod-x-z`), false);

    const ds = new LabDatastore(s.etcd!.endpoints);
    try {
      const pod = await ds.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x' } });
      const spec = pod?.spec as {
        nodeName: string;
        serviceAccountName: string;
        containers: { ports: { name: string }[] }[];
      };
      assert.equal(spec.nodeName, 'node-1');
      assert.equal(spec.serviceAccountName, 'sa-a');
      assert.deepEqual(
        spec.containers[0]!.ports.map((p) => p.name),
        ['serve-80-tcp', 'serve-80-udp', 'serve-81-tcp', 'serve-81-udp'],
      );
      assert.deepEqual(pod?.metadata.labels, { app: 'a', role: 'web' });
      const ns = await ds.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'y' } });
      assert.equal(ns?.metadata.labels?.['kubernetes.io/metadata.name'], 'y');
    } finally {
      await ds.close();
    }
  });

  test('every pod reaches every other pod, within and across subnets, TCP and UDP', async () => {
    const s = loadLab(name, env);
    // The agents program routes asynchronously after the pods appear.
    const deadline = Date.now() + 30_000;
    let m = await matrix(s, { port: 80, timeoutMs: 1000 });
    while (countAllowed(m).allowed < 6 && Date.now() < deadline) {
      await sleep(500);
      m = await matrix(s, { port: 80, timeoutMs: 1000 });
    }
    assert.deepEqual(countAllowed(m), { allowed: 6, total: 6 }, JSON.stringify(m.allowed));
    // A UDP probe (one datagram and its echo) can be lost on a loaded machine: retry for a while.
    const udpDeadline = Date.now() + 15_000;
    let udp = await matrix(s, { port: 81, protocol: 'UDP', timeoutMs: 1000 });
    while (countAllowed(udp).allowed < 6 && Date.now() < udpDeadline) {
      await sleep(500);
      udp = await matrix(s, { port: 81, protocol: 'UDP', timeoutMs: 1000 });
    }
    assert.deepEqual(countAllowed(udp), { allowed: 6, total: 6 }, JSON.stringify(udp.allowed));
    const closed = await probePods(s, 'x/a', 'x/b', { port: 82, timeoutMs: 1000 });
    assert.equal(closed.connected, false);
  });

  test('CLI: status JSON contract and probe exit codes', async () => {
    const st = await cli(['lab', 'status', '--name', name, '-o', 'json']);
    assert.equal(st.code, 0, st.stderr);
    const j = JSON.parse(st.stdout) as LabStatus;
    assert.deepEqual(
      j.nodes.map((n) => n.name),
      ['node-1', 'node-2', 'node-3'],
    );
    for (const n of j.nodes) {
      assert.ok(existsSync(n.cniConfig), n.cniConfig);
      assert.ok(existsSync(join(n.cniPath, 'tessera-cni')));
      assert.ok(existsSync(join(n.cniPath, 'host-local')));
      const conf = JSON.parse(readFileSync(n.cniConfig, 'utf8')) as { type: string; nodename: string };
      assert.equal(conf.type, 'tessera-cni');
      assert.equal(conf.nodename, n.name);
    }
    assert.deepEqual(
      j.routers.map((r) => r.netns),
      [`${name}-router`],
    );
    assert.deepEqual(
      j.pods.map((p) => [p.namespace, p.name, p.node]),
      [
        ['x', 'a', 'node-1'],
        ['x', 'b', 'node-2'],
        ['y', 'c', 'node-3'],
      ],
    );
    const ok = await cli(['lab', 'probe', 'x/a', 'y/c', '--port', '80', '--name', name]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const no = await cli([
      'lab',
      'probe',
      'x/a',
      'y/c',
      '--port',
      '82',
      '--name',
      name,
      '-o',
      'json',
      '--timeout-ms',
      '500',
    ]);
    assert.equal(no.code, 1, no.stdout + no.stderr);
    assert.equal((JSON.parse(no.stdout) as { connected: boolean }).connected, false);
  });

  test('node stop and start the agent', async () => {
    await nodeStop(name, 'node-2', { env });
    assert.equal((await agentStatuses(loadLab(name, env)))['node-2'], 'stopped');
    await nodeStart(name, 'node-2', { env });
    assert.equal((await agentStatuses(loadLab(name, env)))['node-2'], 'ready');
  });

  test('pod delete removes netns, servers, Pod resource; a second delete is a no-op', async () => {
    const s = loadLab(name, env);
    assert.equal(await podDelete(s, 'x/b'), true);
    assert.equal(existsSync(`/var/run/netns/${name}-pod-x-b`), false);
    assert.equal(await podDelete(s, 'x/b'), false);
    const ds = new LabDatastore(s.etcd!.endpoints);
    try {
      // tessera-kube-controllers mirrors Pods from the API: the copy goes when its watch sees the delete.
      await eventually(30_000, async () => {
        assert.equal(
          await ds.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'x' } }),
          undefined,
        );
      });
    } finally {
      await ds.close();
    }
  });

  test('a pod whose host veth vanished outside Tessera is created again under its name', async () => {
    // As when a runtime deletes a pod's netns before (or without) its CNI DEL. The agent's
    // long-lived ip had cached the veth's name; the new veth of the same name must still be wired.
    const s = loadLab(name, env);
    const node1 = s.nodes.find((n) => n.name === 'node-1')!.netns;
    await podCreate(s, 'x/d', { node: 'node-1' });
    await run(['ip', '-n', node1, 'link', 'del', hostVethName(DEFAULT_INTERFACE_PREFIX, 'x.d')]);
    assert.equal(await podDelete(s, 'x/d'), true);
    for (let i = 0; i < 2; i++) {
      await podCreate(loadLab(name, env), 'x/d', { node: 'node-1' });
      const r = await probePods(loadLab(name, env), 'x/a', 'x/d', { port: 80, timeoutMs: 3000 });
      assert.equal(r.connected, true, `x/a reaches the re-created x/d: ${JSON.stringify(r)}`);
      assert.equal(await podDelete(loadLab(name, env), 'x/d'), true);
    }
  });

  test('down leaves no namespace, process or file', async () => {
    const dir = loadLab(name, env).dir;
    await labDown(name, { env });
    assert.deepEqual(
      readdirSync('/var/run/netns').filter((n) => n.startsWith(`${name}-`)),
      [],
    );
    assert.deepEqual(processesNaming(dir), []);
    assert.equal(existsSync(dir), false);
  });
});
