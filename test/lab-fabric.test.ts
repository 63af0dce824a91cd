/**
 * The lab fabric on its own (no CNI plugin, no agent): hosts in two subnets, hand-wired pods,
 * probes and the matrix, then `lab down` must leave nothing behind.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labStatusOf, labUp, loadLab } from '../src/lab/lab.js';
import { handWirePod } from '../src/lab/handwire.js';
import { matrix, probePods } from '../src/lab/connectivity.js';
import { run } from '../src/lib/exec.js';
import { readCliConfig } from '../src/lib/context.js';
import { countAllowed } from '../src/lab/matrix.js';
import { processesNaming } from './helpers/lab.js';

const name = `tsr${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-labtest-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };

function labNetns(): string[] {
  return readdirSync('/var/run/netns').filter((n) => n.startsWith(`${name}-`));
}

describe('lab fabric (root)', () => {
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test('up builds hosts in two subnets that reach each other and etcd', async () => {
    const lines: string[] = [];
    const s = await labUp({ name, nodes: 3, subnets: 2 }, { env, agents: false, onProgress: (l) => lines.push(l) });
    assert.equal(s.phase, 'ready');
    assert.ok(
      lines.some((l) => l.includes('is up')),
      lines.join('\n'),
    );
    assert.deepEqual(
      labNetns().sort(),
      [`${name}-fabric`, `${name}-node-1`, `${name}-node-2`, `${name}-node-3`, `${name}-router`].sort(),
    );
    // node-1 (subnet 0) -> node-2 (subnet 1) crosses the router.
    const ping = await run(['ping', '-c', '1', '-W', '2', '10.240.1.10'], { netns: `${name}-node-1`, check: false });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    // etcd is reachable from inside a host netns through the forwarder.
    const got = await run(
      [
        'etcdctl',
        '--endpoints',
        'http://127.0.0.1:2379',
        'get',
        '--prefix',
        '--keys-only',
        '/tessera/v1/res/projectcalico.org/ippools/',
      ],
      {
        netns: `${name}-node-2`,
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
    assert.match(got.stdout, /default-ipv4-ippool/);
    const cfg = readCliConfig(env);
    assert.equal(cfg.currentContext, name);
    assert.equal(cfg.contexts[name]?.lab, name);
    const pool = await run(
      [
        'etcdctl',
        '--endpoints',
        'http://127.0.0.1:2379',
        'get',
        '--print-value-only',
        '/tessera/v1/res/projectcalico.org/ippools/default-ipv4-ippool',
      ],
      {
        netns: `${name}-node-1`,
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
    assert.equal((JSON.parse(pool.stdout) as { spec: { vxlanMode: string } }).spec.vxlanMode, 'CrossSubnet');
  });

  test('a second up with the same name is refused', async () => {
    await assert.rejects(
      labUp({ name, nodes: 1 }, { env, agents: false }),
      (err: Error & { code?: string }) => err.code === 'already-exists',
    );
  });

  test('probe and matrix see hand-wired pods across nodes and subnets', async () => {
    const s = loadLab(name, env);
    await handWirePod(s, 'x/a', 'node-1', '10.244.1.1');
    await handWirePod(s, 'x/b', 'node-3', '10.244.3.1'); // same subnet as node-1
    await handWirePod(s, 'y/c', 'node-2', '10.244.2.1'); // other subnet, via the router
    const tcp = await probePods(s, 'x/a', 'y/c', { port: 80, protocol: 'TCP', timeoutMs: 2000 });
    assert.equal(tcp.connected, true, JSON.stringify(tcp));
    const closed = await probePods(s, 'x/a', 'y/c', { port: 82, protocol: 'TCP', timeoutMs: 2000 });
    assert.equal(closed.connected, false);
    assert.equal(closed.error, 'ECONNREFUSED');
    const udp = await probePods(s, 'y/c', 'x/b', { port: 81, protocol: 'UDP', timeoutMs: 2000 });
    assert.equal(udp.connected, true, JSON.stringify(udp));
    const udpClosed = await probePods(s, 'y/c', 'x/b', { port: 83, protocol: 'UDP', timeoutMs: 1000 });
    assert.equal(udpClosed.connected, false);
    const unreachable = await probePods(s, 'x/a', '10.244.9.9', { port: 80, timeoutMs: 300 });
    assert.equal(unreachable.connected, false);

    const m = await matrix(s, { port: 80, protocol: 'TCP', timeoutMs: 2000 });
    assert.deepEqual(m.pods, ['x/a', 'x/b', 'y/c']);
    assert.deepEqual(countAllowed(m), { allowed: 6, total: 6 });
    // Drop TCP/80 into y/c: its column turns false, the rest stays.
    await run(['nft', '-f', '-'], {
      netns: `${name}-pod-y-c`,
      input: 'table inet t {\n chain inp {\n  type filter hook input priority 0;\n  tcp dport 80 drop;\n }\n}\n',
    });
    const m2 = await matrix(s, { port: 80, protocol: 'TCP', timeoutMs: 500 });
    assert.equal(m2.allowed['x/a']!['y/c'], false);
    assert.equal(m2.allowed['x/b']!['y/c'], false);
    assert.equal(m2.allowed['y/c']!['x/a'], true);
    assert.deepEqual(countAllowed(m2), { allowed: 4, total: 6 });

    const st = await labStatusOf(name, { env });
    assert.deepEqual(
      st.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, p.ips]),
      [
        ['x/a', 'node-1', ['10.244.1.1']],
        ['x/b', 'node-3', ['10.244.3.1']],
        ['y/c', 'node-2', ['10.244.2.1']],
      ],
    );
    assert.equal(st.nodes[0]!.cniPath, s.cniPath);
    assert.ok(existsSync(st.nodes[0]!.cniConfig));
  });

  test('down removes every namespace, process, file and the context', async () => {
    const dir = loadLab(name, env).dir;
    assert.ok(processesNaming(dir).length > 0, 'the lab should have running processes');
    const r = await labDown(name, { env });
    assert.ok(r.netns.length >= 8, JSON.stringify(r));
    assert.deepEqual(labNetns(), []);
    assert.deepEqual(processesNaming(dir), []);
    assert.equal(existsSync(dir), false);
    assert.equal(readCliConfig(env).contexts[name], undefined);
    assert.equal(readCliConfig(env).currentContext, undefined);
    // Idempotent.
    const again = await labDown(name, { env });
    assert.equal(again.existed, false);
  });
});
