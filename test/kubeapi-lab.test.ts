/**
 * The lab's stand-in Kubernetes API driven by the real kubectl (Debian's 1.20 from
 * scripts/kubectl.sh, and /usr/bin/kubectl when it is another version, e.g. google-cloud-cli's
 * 1.32): apply a NetworkPolicy with validation, label a pod and a namespace, get pods -o wide,
 * delete a pod (the lab kubelet runs CNI DEL), delete a node. Needs root and `make build`.
 */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, podCreate, readPod, type LabState } from '../src/lab/index.js';
import { kubectlPath } from '../src/lab/kube.js';
import { run } from '../src/lib/exec.js';
import { sleep } from '../src/lib/clock.js';
import { ROOT, ipamKeys, openBackend } from '../src/datastore/index.js';
import { processesNaming } from './helpers/lab.js';

const name = `ka${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'ka-kubeapi-lab-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };

async function kubectlVersions(): Promise<{ label: string; bin: string }[]> {
  const out = [{ label: 'kubectl 1.20 (kubernetes-client)', bin: await kubectlPath(env) }];
  if (existsSync('/usr/bin/kubectl')) {
    const v = await run(['/usr/bin/kubectl', 'version', '--client', '-o', 'json'], { check: false });
    const minor = /"minor":\s*"(\d+)/.exec(v.stdout)?.[1];
    if (v.code === 0 && minor && minor !== '20')
      out.push({ label: `kubectl 1.${minor} (/usr/bin/kubectl)`, bin: '/usr/bin/kubectl' });
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('stand-in Kubernetes API with the real kubectl (root)', () => {
  let s: LabState;
  let kubectls: { label: string; bin: string }[] = [];
  const k = async (bin: string, args: string[]) => {
    const r = await run([bin, ...args], {
      env: { ...env, KUBECONFIG: s.kube!.kubeconfig },
      check: false,
      timeoutMs: 60_000,
    });
    return r;
  };
  const ok = async (bin: string, args: string[]) => {
    const r = await k(bin, args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const api = async (path: string) => {
    const res = await fetch(`${s.kube!.url}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    kubectls = await kubectlVersions();
    s = await labUp({ name, nodes: 2 }, { env });
    await podCreate(s, 'shop/web', { node: 'node-1', labels: { app: 'web' } });
    await podCreate(s, 'shop/db', { node: 'node-2', labels: { app: 'db' } });
    await podCreate(s, 'shop/cache', { node: 'node-2', labels: { app: 'cache' } });
  });
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test('lab up: kubeconfig in the status, a Kubernetes Node per lab node, pods Running with their IPs', async () => {
    const st = JSON.parse(
      (
        await run(
          [
            process.execPath,
            '--import',
            'tsx',
            join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'),
            'lab',
            'status',
            '--name',
            name,
            '-o',
            'json',
          ],
          { env },
        )
      ).stdout,
    );
    assert.equal(st.kubeconfig, s.kube!.kubeconfig);
    assert.match(readFileSync(st.kubeconfig, 'utf8'), /server: http:\/\/127\.0\.0\.1:\d+/);
    const nodes = await api('/api/v1/nodes');
    assert.deepEqual(
      nodes.body.items.map((n: any) => n.metadata.name),
      ['node-1', 'node-2'],
    );
    const web = await api('/api/v1/namespaces/shop/pods/web');
    assert.equal(web.body.status.phase, 'Running');
    assert.equal(web.body.status.podIP, readPod(s.dir, 'shop', 'web')!.ips[0]);
    assert.equal(web.body.spec.nodeName, 'node-1');
  });

  test('kubectl apply -f a NetworkPolicy (validated against the served OpenAPI), re-apply, invalid field rejected', async () => {
    for (const [i, { label, bin }] of kubectls.entries()) {
      const file = join(cfgDir, `np-${i}.yaml`);
      const np = (from: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-from-web
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: ${from}
`;
      writeFileSync(file, np('web'));
      assert.match(
        await ok(bin, ['apply', '-f', file]),
        /networkpolicy.networking.k8s.io\/db-from-web (created|configured|unchanged)/,
        label,
      );
      writeFileSync(file, np('front'));
      assert.match(await ok(bin, ['apply', '-f', file]), /db-from-web configured/, label);
      const stored = await api('/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/db-from-web');
      assert.deepEqual(
        stored.body.spec.ingress,
        [{ from: [{ podSelector: { matchLabels: { app: 'front' } } }] }],
        label,
      );
      assert.ok(stored.body.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], label);
      writeFileSync(file, np('web').replace('  podSelector:\n    matchLabels:\n      app: db', '  podSelectr: {}'));
      const bad = await k(bin, ['apply', '-f', file]);
      assert.notEqual(bad.code, 0, label);
      assert.match(bad.stderr, /unknown field "podSelectr"/, label);
      await ok(bin, ['-n', 'shop', 'delete', 'networkpolicy', 'db-from-web']);
    }
  });

  test('kubectl create namespace, label pod / namespace, and get pods -o wide', async () => {
    for (const [i, { label, bin }] of kubectls.entries()) {
      // kubectl 1.32 sends this one as protobuf.
      await ok(bin, ['create', 'namespace', `extra-${i}`]);
      assert.equal((await api(`/api/v1/namespaces/extra-${i}`)).status, 200, label);
      await ok(bin, ['-n', 'shop', 'label', 'pod', 'web', `tier=t${i}`, '--overwrite']);
      await ok(bin, ['label', 'namespace', 'shop', `team=t${i}`, '--overwrite']);
      assert.equal((await api('/api/v1/namespaces/shop/pods/web')).body.metadata.labels.tier, `t${i}`, label);
      const ns = (await api('/api/v1/namespaces/shop')).body.metadata.labels;
      assert.deepEqual(ns, { 'kubernetes.io/metadata.name': 'shop', team: `t${i}` }, label);
      const sel = await ok(bin, ['-n', 'shop', 'get', 'pods', '-l', `tier in (t${i}),app`, '-o', 'name']);
      assert.equal(sel.trim(), 'pod/web', label);
      const wide = (await ok(bin, ['-n', 'shop', 'get', 'pods', '-o', 'wide'])).trim().split('\n');
      assert.match(
        wide[0]!,
        /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/,
        label,
      );
      const webRow = wide.find((l) => l.startsWith('web '))!.split(/\s+/);
      assert.deepEqual(
        [webRow[1], webRow[2], webRow[5], webRow[6]],
        ['1/1', 'Running', readPod(s.dir, 'shop', 'web')!.ips[0], 'node-1'],
        label,
      );
    }
  });

  test('kubectl delete pod: the lab kubelet runs CNI DEL (address released, endpoint gone)', async () => {
    const toDelete = ['web', 'cache'];
    for (const [i, { label, bin }] of kubectls.entries()) {
      const pod = toDelete[i];
      if (!pod) break;
      const before = readPod(s.dir, 'shop', pod)!;
      const wepOf = (keys: string[]) =>
        keys.some((key) => key.includes('/workloadendpoints/') && key.includes(`-${pod}-`));
      const handleOf = (keys: string[]) =>
        keys.some((key) => key.startsWith(ipamKeys.handlesPrefix) && key.includes(before.containerId));
      const keysNow = async () => {
        const backend = openBackend({ endpoints: s.etcd!.endpoints });
        try {
          return (await backend.list(ROOT)).items.map((kv) => kv.key);
        } finally {
          await backend.close();
        }
      };
      const had = await keysNow();
      assert.ok(
        wepOf(had) && handleOf(had),
        `${label}: ${pod} has a WorkloadEndpoint and an IPAM handle before the delete`,
      );
      assert.match(await ok(bin, ['-n', 'shop', 'delete', 'pod', pod]), new RegExp(`pod "${pod}" deleted`), label);
      await until(`lab pod shop/${pod} torn down`, async () =>
        readPod(s.dir, 'shop', pod) === undefined ? true : undefined,
      );
      assert.equal(existsSync(`/var/run/netns/${before.netns}`), false, label);
      const left = await keysNow();
      assert.ok(!wepOf(left), `${label}: no WorkloadEndpoint of ${pod} left`);
      assert.ok(!handleOf(left), `${label}: the IPAM handle of ${pod} is released`);
    }
  });

  test('kubectl delete node', async () => {
    const { bin } = kubectls[kubectls.length - 1]!;
    assert.match(await ok(bin, ['delete', 'node', 'node-2']), /node "node-2" deleted/);
    assert.equal((await api('/api/v1/nodes/node-2')).status, 404);
    const nodes = await ok(kubectls[0]!.bin, ['get', 'nodes', '-o', 'wide']);
    assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/);
    assert.match(nodes, /node-1\s+Ready/);
    assert.doesNotMatch(nodes, /node-2/);
  });

  test('lab down stops the API and the kubelet', async () => {
    const dir = s.dir;
    await labDown(name, { env });
    assert.deepEqual(processesNaming(dir), []);
  });
});
