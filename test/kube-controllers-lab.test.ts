/**
 * tessera-kube-controllers in a 3-node lab, driven through kubectl (needs root and `make build`):
 * a NetworkPolicy applied with kubectl is enforced across nodes, `kubectl label` of a pod and of a
 * namespace moves a pod in and out of its selection, a NetworkPolicy Tessera's validator rejects
 * is reported as a FailedValidation Event (and a valid one applied after it is enforced), `kubectl delete pod` ends with the address
 * released and the endpoint gone (by the lab's kubelet stand-in's CNI DEL, or else by the IPAM GC,
 * whose grace period the test shortens), `kubectl
 * delete node` cleans up the node's Tessera Node, affinities, tunnel address and endpoints, and
 * `tessera ipam check` is clean at the end.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  LabDatastore,
  labDown,
  labUp,
  loadLab,
  nodeStop,
  podCreate,
  probePods,
  type LabState,
} from '../src/lab/index.js';
import { openBackend, ipamKeys, type Backend } from '../src/datastore/index.js';
import { IpamClient } from '../src/ipam/index.js';
import { sleep } from '../src/lib/clock.js';
import { run } from '../src/lib/exec.js';

const name = `tscb${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-kc-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
const root = join(import.meta.dirname, '..');
const cli = (args: string[]) => run([join(root, 'bin', 'tessera'), ...args], { env, check: false, timeoutMs: 60_000 });
let kubeconfig = '';
const kubectl = async (...args: string[]) => {
  const r = await run(['kubectl', ...args], {
    env: { ...env, KUBECONFIG: kubeconfig },
    check: false,
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** `kubectl apply -f` of a NetworkPolicy written to a file. */
const applyPolicy = async (name: string, ns: string, spec: string) => {
  const file = join(cfgDir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}`,
  );
  await kubectl('apply', '-f', file);
};

async function eventually<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await f();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(500);
    v = await f();
  }
  assert.ok(ok(v), `${what}: last value ${JSON.stringify(v)}`);
  return v;
}

const reach = (s: LabState, from: string, to: string) =>
  probePods(s, from, to, { port: 80, timeoutMs: 1000 }).then((r) => r.connected);

describe(
  'kube-controllers in the lab, through kubectl (root)',
  { skip: process.getuid?.() !== 0 ? 'needs root' : false },
  () => {
    let backend: Backend;
    after(async () => {
      await backend?.close().catch(() => undefined);
      await labDown(name, { env }).catch(() => undefined);
      rmSync(cfgDir, { recursive: true, force: true });
    });

    test('policy, labels, pod and node deletion, IPAM GC', async () => {
      const s = await labUp({ name, nodes: 3 }, { env });
      assert.ok(s.kube, 'the lab runs the Kubernetes API');
      kubeconfig = s.kube.kubeconfig;
      backend = openBackend({ endpoints: s.etcd!.endpoints });
      // A short leak grace period, through the KubeControllersConfiguration (the controllers restart on it).
      const ds = new LabDatastore(s.etcd!.endpoints);
      await ds.put({
        apiVersion: 'projectcalico.org/v3',
        kind: 'KubeControllersConfiguration',
        metadata: { name: 'default' },
        spec: {
          controllers: {
            node: { leakGracePeriod: '5s', syncLabels: 'Enabled' },
            policy: {},
            workloadEndpoint: {},
            serviceAccount: {},
            namespace: {},
          },
        },
      });
      await ds.close();

      // The controllers restart on the new configuration: wait until they mirror again.
      const nsFile = join(cfgDir, 'ns.yaml');
      writeFileSync(
        nsFile,
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ext}\n',
      );
      await kubectl('apply', '-f', nsFile);
      await eventually(
        'namespaces mirrored',
        async () => (await backend.get('/tessera/v1/res/core/namespaces/ext')) !== undefined,
        (v) => v,
      );
      // The CNI ADD needs the pod mirrored first (tryAgainLater otherwise); a kubelet retries it.
      const create = async (ref: string, node: string, app: string) => {
        for (let i = 0; ; i++) {
          try {
            return await podCreate(s, ref, { node, labels: { app } });
          } catch (err) {
            if (i >= 4 || !String((err as Error).message).includes('not in the datastore yet')) throw err;
            await sleep(300);
          }
        }
      };
      await create('shop/db', 'node-2', 'db');
      await create('shop/web', 'node-1', 'web');
      await create('ext/other', 'node-3', 'other');
      const gone = await create('ext/gone', 'node-1', 'gone');
      const onNode3 = await create('shop/n3', 'node-3', 'n3');
      const st = loadLab(name, env);
      await eventually(
        'open before any policy',
        async () => [await reach(st, 'shop/web', 'shop/db'), await reach(st, 'ext/other', 'shop/db')],
        (v) => v.every(Boolean),
      );

      await applyPolicy(
        'db-ingress',
        'shop',
        `  podSelector: {matchLabels: {app: db}}
  ingress:
    - from:
        - podSelector: {matchLabels: {role: client}}
        - namespaceSelector: {matchLabels: {trusted: "yes"}}
`,
      );
      await eventually(
        'policy enforced from node-1 and node-3',
        async () => [await reach(st, 'shop/web', 'shop/db'), await reach(st, 'ext/other', 'shop/db')],
        (v) => v.every((x) => !x),
      );

      // Bad input: a NetworkPolicy Kubernetes accepts but Tessera's validator rejects is reported as
      // a Warning Event on it (kubectl get events; kubectl's NetworkPolicy describer shows no events), and the controllers go on: a valid
      // policy applied afterwards is enforced.
      assert.equal(await reach(st, 'shop/web', 'ext/other'), true, 'ext/other open before its policy');
      await applyPolicy(
        'bad-port',
        'shop',
        `  podSelector: {matchLabels: {app: db}}
  ingress:
    - ports: [{protocol: TCP, port: 99999}]
`,
      );
      const events = await eventually(
        'FailedValidation Event on the NetworkPolicy',
        async () =>
          JSON.parse(
            await kubectl(
              'get',
              'events',
              '-n',
              'shop',
              '--field-selector',
              'involvedObject.name=bad-port',
              '-o',
              'json',
            ),
          ) as { items: { reason: string; message: string; type: string; involvedObject: Record<string, string> }[] },
        (v) => v.items.some((e) => e.reason === 'FailedValidation'),
      );
      const ev = events.items.find((e) => e.reason === 'FailedValidation')!;
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.involvedObject.kind, 'NetworkPolicy');
      assert.equal(ev.involvedObject.namespace, 'shop');
      assert.match(ev.message, /spec\.ingress\[0\]\.ports\[0\]\.port/);
      assert.match(ev.message, /99999/);
      assert.match(await kubectl('get', 'events', '-n', 'shop'), /FailedValidation/);
      await applyPolicy('other-deny', 'ext', '  podSelector: {matchLabels: {app: other}}\n  policyTypes: [Ingress]\n');
      await eventually(
        'a valid policy applied after the rejected one is enforced',
        () => reach(st, 'shop/web', 'ext/other'),
        (v) => !v,
      );

      await kubectl('label', 'pod', '-n', 'shop', 'web', 'role=client');
      await eventually(
        'labelled pod selected',
        () => reach(st, 'shop/web', 'shop/db'),
        (v) => v,
      );
      await kubectl('label', 'pod', '-n', 'shop', 'web', 'role-');
      await eventually(
        'unlabelled pod deselected',
        () => reach(st, 'shop/web', 'shop/db'),
        (v) => !v,
      );
      await kubectl('label', 'namespace', 'ext', 'trusted=yes');
      await eventually(
        'labelled namespace selected',
        () => reach(st, 'ext/other', 'shop/db'),
        (v) => v,
      );
      await kubectl('label', 'namespace', 'ext', 'trusted-');
      await eventually(
        'unlabelled namespace deselected',
        () => reach(st, 'ext/other', 'shop/db'),
        (v) => !v,
      );

      // kubectl delete pod: the lab's kubelet stand-in runs the CNI DEL; were it missing, the IPAM GC
      // would release the address after the (shortened) grace period, with the endpoint.
      const ipam = new IpamClient(backend);
      await kubectl('delete', 'pod', '-n', 'ext', 'gone');
      await eventually(
        "deleted pod's address released",
        async () => (await ipam.lookupIp(gone.ips[0]!)).state,
        (v) => v === 'free',
      );
      await eventually(
        "deleted pod's WEP gone",
        () => cli(['get', 'wep', '-n', 'ext', '-o', 'json']).then((r) => r.stdout),
        (v) => !v.includes('"gone"'),
      );

      // kubectl delete node: the machine is gone (its agent stopped first, as it would be).
      await nodeStop(name, 'node-3', { env });
      const tunnel = JSON.parse((await cli(['get', 'node', 'node-3', '-o', 'json'])).stdout).spec
        .ipv4VXLANTunnelAddr as string;
      assert.ok(tunnel);
      await kubectl('delete', 'node', 'node-3');
      await eventually(
        'Tessera Node gone',
        () => cli(['get', 'node', 'node-3']).then((r) => r.code),
        (c) => c !== 0,
      );
      assert.equal((await backend.list(ipamKeys.hostAffinitiesPrefix('node-3'))).items.length, 0, 'no affinity left');
      assert.equal((await ipam.lookupIp(tunnel)).state === 'allocated', false, 'tunnel address released');
      assert.notEqual((await ipam.lookupIp(onNode3.ips[0]!)).state, 'allocated', "its pods' addresses released");
      const weps = (await cli(['get', 'wep', '-A', '-o', 'json'])).stdout;
      assert.doesNotMatch(weps, /"node": "node-3"/);
      assert.match(weps, /"node": "node-1"/);

      // Everything left is accounted for. (ext/other's pod object still exists in the API, bound to
      // the deleted node, as in a cluster before pod GC: it is not a leak, and its address is gone.)
      const check = await eventually(
        'ipam check clean',
        () => cli(['ipam', 'check']),
        (r) => r.code === 0,
        30_000,
      );
      assert.match(check.stdout, /0 problem/);
    });
  },
);
