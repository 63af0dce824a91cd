/**
 * tessera-kube-controllers in a 3-node lab, driven through kubectl (needs root and `make build`):
 * a NetworkPolicy applied with kubectl is enforced across nodes, `kubectl label` of a pod and of a
 * namespace moves a pod in and out of its selection, a NetworkPolicy Tessera's validator rejects
 * is reported as a FailedValidation Event (and a valid one applied after it is enforced), `kubectl delete pod` ends with the address
 * released and the endpoint gone (by the lab's kubelet stand-in's CNI DEL, or else by the IPAM GC,
 * whose grace period the test shortens), `kubectl
 * delete node` cleans up the node's Tessera Node, affinities, tunnel address and endpoints, and
 * `tessera ipam check` is clean at the end.
 *
 * Leak GC, with allocations that have no pod behind them: a CNI ADD (through the lab's real path,
 * the shim and the agent) of a Pod then deleted from the API with no DEL, and a killed ADD: the real
 * plugin binary (no agent: the shim execs the TypeScript plugin) SIGKILLed after IPAM allocated and
 * before it finished. The ADD is held there, without racing, by a netns path that blocks: a FIFO,
 * which `ip link add ... netns` opens and waits on, after the assign that runs beside it. The plugin
 * runs in its own mount namespace with a private /run/netns, so the alias it makes for that path
 * (and any `ip netns list` opening it) stays out of the shared host. Both are listed by `tessera ipam
 * check` and still allocated inside the grace period (20 s, set through the
 * KubeControllersConfiguration), and released after it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
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
  podNetnsName,
  probePods,
  runCni,
  type LabState,
  type PodState,
} from '../src/lab/index.js';
import { openBackend, ipamKeys, resourceKey, type Backend } from '../src/datastore/index.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION, kindFor, wepName } from '../src/api/index.js';
import { readPendingLeaks } from '../src/controllers/index.js';
import { IpamClient } from '../src/ipam/index.js';
import { hostVethName } from '../src/cni/index.js';
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
    let killedAdd: ChildProcess | undefined;
    after(async () => {
      // The killed ADD's process group (its stuck `ip`), if the test stopped before it went.
      if (killedAdd?.pid) {
        try {
          process.kill(-killedAdd.pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
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
            node: { leakGracePeriod: '20s', syncLabels: 'Enabled' },
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

      // Leak GC: two allocations left with no pod behind them (see the header). Their grace period
      // runs while the policy checks below do; their release is checked at the end.
      const leaks = await makeLeaks(s, (p) => (killedAdd = p));
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

      // The leaks are released once their grace period is over (the ADD's endpoint with its address).
      await eventually(
        'leaked addresses released after the grace period',
        () => Promise.all(leaks.addresses.map((a) => ipam.lookupIp(a).then((r) => r.state))),
        (v) => v.every((x) => x === 'free'),
        90_000,
      );
      for (const h of leaks.handles) assert.deepEqual(await ipam.ipsByHandle(h), [], `handle ${h} empty`);
      assert.equal(
        await backend.get(leaks.nodelWep),
        undefined,
        "the DEL-less pod's WorkloadEndpoint deleted with its leak",
      );
      await run(['ip', 'netns', 'del', leaks.nodelNetns], { check: false });

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

    test('lab down leaves nothing behind, of the lab or of the killed ADD', async () => {
      await labDown(name, { env });
      const netns = (await run(['ip', 'netns', 'list'], { check: false, timeoutMs: 30_000 })).stdout;
      assert.deepEqual(
        netns.split('\n').filter((l) => l.startsWith(`${name}-`)),
        [],
        'no netns of the lab',
      );
      const procs = (await run(['ps', '-eo', 'args'], { check: false })).stdout;
      assert.deepEqual(
        procs.split('\n').filter((l) => l.includes(name)),
        [],
        'no process of the lab',
      );
      if (killedAdd?.pid)
        assert.throws(() => process.kill(-killedAdd!.pid!, 0), /ESRCH/, "the killed ADD's group is empty");
    });
  },
);

const POD_INFO = kindFor(K8S_CORE_API_VERSION, 'Pod')!;
const WEP_INFO = kindFor(CALICO_API_VERSION, 'WorkloadEndpoint')!;
const stripPrefix = (cidr: string) => cidr.slice(0, cidr.indexOf('/'));

/**
 * Makes the two leaks on node-1 and checks them inside the grace period:
 * - ext/nodel: Pod created with kubectl, CNI ADD through the lab's path (shim -> agent) into a
 *   netns of its own, then `kubectl delete pod` with no DEL (the lab kubelet only tears down the
 *   lab's own pods);
 * - ext/killed: Pod created with kubectl, CNI ADD by the plugin binary alone, held on a FIFO netns
 *   path once IPAM has allocated, SIGKILLed, then `kubectl delete pod`.
 */
async function makeLeaks(s: LabState, onSpawn: (p: ChildProcess) => void) {
  const node = s.nodes.find((n) => n.name === 'node-1')!;
  const backend = openBackend({ endpoints: s.etcd!.endpoints });
  const ipam = new IpamClient(backend);
  try {
    const file = join(cfgDir, 'leak-pods.yaml');
    writeFileSync(
      file,
      ['nodel', 'killed']
        .map(
          (n) =>
            `apiVersion: v1\nkind: Pod\nmetadata: {name: ${n}, namespace: ext}\nspec:\n  nodeName: node-1\n  containers: [{name: c, image: busybox}]\n`,
        )
        .join('---\n'),
    );
    await kubectl('apply', '-f', file);
    // The CNI ADD looks the pod up in the datastore: wait for the controller's mirror.
    await eventually(
      'leak pods mirrored',
      async () =>
        (await Promise.all(['nodel', 'killed'].map((n) => backend.get(resourceKey(POD_INFO, n, 'ext'))))).every(
          Boolean,
        ),
      (v) => v,
    );
    const conf = JSON.parse(readFileSync(node.cniConfig, 'utf8')) as { name: string; agent_socket?: string };

    // 1. A completed ADD through the lab's path, never DELeted.
    const nodel = {
      namespace: 'ext',
      name: 'nodel',
      containerId: randomBytes(16).toString('hex'),
      netns: podNetnsName(name, 'ext', 'nodel'), // lab down sweeps it if the test stops early
    } as PodState; // runCni reads only these fields
    await run(['ip', 'netns', 'add', nodel.netns]);
    const nodelAddress = stripPrefix((await runCni(s, node, 'ADD', nodel)).ips![0]!.address);
    const nodelWep = resourceKey(WEP_INFO, wepName('node-1', 'k8s', 'nodel', 'eth0'), 'ext');
    assert.ok(await backend.get(nodelWep), 'the completed ADD wrote its WorkloadEndpoint');

    // 2. A killed ADD: the plugin alone (no agent_socket: the shim execs the TypeScript plugin),
    // CNI_NETNS a FIFO. After the assign the ADD waits for its veth, whose `ip link add ... netns`
    // blocks opening the FIFO: the allocation is made, the ADD cannot finish, no race. It runs in
    // a private mount namespace with its own /run/netns, so its alias of the FIFO is invisible to
    // the host (an `ip netns list` there would open it and block too).
    const killedCid = randomBytes(16).toString('hex');
    const killedHandle = `${conf.name}.${killedCid}`;
    const fifo = join(cfgDir, 'killed-netns');
    await run(['mkfifo', fifo]);
    delete conf.agent_socket;
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        node.netns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs killed-add /run/netns && exec "$0"',
        join(s.cniPath, 'tessera-cni'),
      ],
      {
        detached: true, // its own process group: the stuck `ip` it leaves can be found and ended
        env: {
          PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: killedCid,
          CNI_NETNS: fifo,
          CNI_IFNAME: 'eth0',
          CNI_PATH: s.cniPath,
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ext;K8S_POD_NAME=killed;K8S_POD_INFRA_CONTAINER_ID=${killedCid}`,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    onSpawn(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin!.end(JSON.stringify(conf));
    const held = await eventually(
      'the ADD has allocated (and is held)',
      () => ipam.ipsByHandle(killedHandle),
      (v) => v.length > 0 || child.exitCode !== null,
    );
    assert.equal(child.exitCode, null, `the ADD was to be held, but it ended: ${output}`);
    const killedAddress = held[0]!.address;
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');
    // What it leaves: the allocation with its handle, no WorkloadEndpoint, no host veth (its
    // creation never got past the netns). Its `ip` child, orphaned and still blocked, goes with its
    // process group; the private /run/netns with the alias goes with the last process in it.
    process.kill(-child.pid!, 'SIGKILL');
    assert.deepEqual(
      (await ipam.ipsByHandle(killedHandle)).map((i) => i.address),
      [killedAddress],
      'the allocation outlives the ADD',
    );
    assert.equal(
      await backend.get(resourceKey(WEP_INFO, wepName('node-1', 'k8s', 'killed', 'eth0'), 'ext')),
      undefined,
      'no WorkloadEndpoint',
    );
    const links = await run(['ip', '-n', node.netns, '-o', 'link', 'show'], { check: false });
    assert.doesNotMatch(links.stdout, new RegExp(hostVethName('tsr', 'ext.killed')), 'no host veth');
    assert.doesNotMatch(
      (await run(['ip', 'netns', 'list'], { check: false, timeoutMs: 10_000 })).stdout,
      /tsr-cni-/,
      'no netns alias on the host',
    );

    // Both pods deleted from the API; nothing runs a DEL.
    await kubectl('delete', 'pod', '-n', 'ext', 'nodel', 'killed');
    const addresses = [nodelAddress, killedAddress];
    const pending = await eventually(
      'both leaks seen by the GC',
      () => readPendingLeaks(backend),
      (p) => addresses.every((a) => p.leaks.some((l) => l.address === a)),
    );
    // Not released before the grace period: each read below must end before the leaks' release
    // time (what it sees is then from inside the period); the 20 s period leaves ample room.
    const readBy = Math.min(
      ...addresses.map((a) => Date.parse(pending.leaks.find((l) => l.address === a)!.releaseAfter)),
    );
    const inside = (what: string) => assert.ok(Date.now() < readBy, `${what} read inside the grace period`);
    const check = await cli(['ipam', 'check']);
    inside('tessera ipam check');
    assert.match(check.stdout, /Leaks awaiting kube-controllers GC/);
    assert.match(check.stdout, new RegExp(`${killedAddress} handle=${killedHandle} pod=ext/killed`));
    assert.match(check.stdout, new RegExp(`${nodelAddress} handle=${conf.name}\\.${nodel.containerId} pod=ext/nodel`));
    for (const a of addresses) {
      const state = (await ipam.lookupIp(a)).state;
      inside(a);
      assert.equal(state, 'allocated', `${a} not released before the grace period`);
    }
    return {
      addresses,
      handles: [killedHandle, `${conf.name}.${nodel.containerId}`],
      nodelWep,
      nodelNetns: nodel.netns,
    };
  } finally {
    await backend.close().catch(() => undefined);
  }
}
