/**
 * `lab up --etcd-proxy`: every node's agent and CNI plugin reach etcd through an `etcd grpc-proxy`
 * in their node netns. A node's proxy killed (SIGKILL) and restarted under its running agent: a
 * pod created elsewhere meanwhile still reaches that node (its agent resumed its watch), and lab
 * down leaves nothing behind.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, loadLab, podCreate, probePods } from '../src/lab/index.js';
import { startHostProxy } from '../src/lab/etcd-link.js';
import { HOST_ETCD_PROXY_PORT } from '../src/lab/plan.js';
import { run } from '../src/lib/exec.js';
import { lookupKind } from '../src/api/index.js';
import { EtcdBackend, resourceKey } from '../src/datastore/index.js';
import { eventually, processesNaming } from './helpers/lab.js';

const name = `scp${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'sc-labproxy-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };

describe('lab --etcd-proxy (root)', () => {
  let dir = '';
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test(
    'agents and CNI use a grpc-proxy per node; a proxy restart under an agent loses no update',
    { timeout: 240_000 },
    async () => {
      const s = await labUp({ name, nodes: 2, encapsulation: 'vxlan', etcdProxy: true }, { env, setContext: false });
      dir = s.dir;
      assert.deepEqual(s.etcd?.hostEndpoints, [`http://127.0.0.1:${HOST_ETCD_PROXY_PORT}`]);
      for (const n of s.nodes) {
        const rec = s.processes.find((p) => p.role === `etcd-proxy:${n.name}`);
        assert.ok(rec, `a proxy runs for ${n.name}`);
        const ss = await run(['ss', '-Htlnp', 'sport', '=', `:${HOST_ETCD_PROXY_PORT}`], { netns: n.netns });
        assert.match(ss.stdout, /etcd/, `the proxy listens in ${n.netns}`);
      }
      await podCreate(loadLab(name, env), 'x/a', { node: 'node-1' });
      await podCreate(loadLab(name, env), 'x/b', { node: 'node-2' });
      await eventually(30_000, async () =>
        assert.equal(
          (await probePods(loadLab(name, env), 'x/a', 'x/b', { port: 80, timeoutMs: 2000 })).connected,
          true,
        ),
      );

      // Pods are admitted only from app=c: node-1 must learn app=c pods' addresses to let them in.
      const ds = new EtcdBackend({ endpoints: s.etcd!.endpoints });
      try {
        const policy = {
          apiVersion: 'projectcalico.org/v3',
          kind: 'GlobalNetworkPolicy',
          metadata: { name: 'default.from-c' },
          spec: {
            selector: 'all()',
            types: ['Ingress'],
            ingress: [{ action: 'Allow', source: { selector: "app == 'c'" } }],
          },
        };
        await ds.put(resourceKey(lookupKind('GlobalNetworkPolicy')!, 'default.from-c'), JSON.stringify(policy));
      } finally {
        await ds.close();
      }
      await eventually(30_000, async () =>
        assert.equal(
          (await probePods(loadLab(name, env), 'x/b', 'x/a', { port: 80, timeoutMs: 1000 })).connected,
          false,
        ),
      );

      // node-1's proxy dies; an app=c pod appears on node-2 while node-1's agent cannot see etcd.
      const n1 = s.nodes[0]!;
      const proxy1 = loadLab(name, env).processes.find((p) => p.role === `etcd-proxy:${n1.name}`)!;
      process.kill(proxy1.pid, 'SIGKILL');
      const c = await podCreate(loadLab(name, env), 'x/c', { node: 'node-2', labels: { app: 'c' } });
      await new Promise((r) => setTimeout(r, 1000));
      // Restarted on the same port (its data dir names the lab dir: lab down sweeps it).
      startHostProxy(n1.netns, n1.name, s.etcd!.sockets, s.dir, join(s.dir, 'logs'));
      await eventually(60_000, async () => {
        const nft = await run(['nft', 'list', 'table', 'inet', 'tessera'], { netns: n1.netns });
        assert.ok(nft.stdout.includes(c.ips[0]!), `node-1 programmed ${c.ips[0]} (app=c) after the proxy came back`);
      });
      await eventually(30_000, async () =>
        assert.equal(
          (await probePods(loadLab(name, env), 'x/c', 'x/a', { port: 80, timeoutMs: 2000 })).connected,
          true,
        ),
      );
    },
  );

  test('lab down removes the proxies', async () => {
    await labDown(name, { env });
    assert.deepEqual(processesNaming(dir), []);
  });
});
