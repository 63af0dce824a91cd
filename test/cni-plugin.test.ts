/**
 * tessera-cni driven as a runtime drives it (env + config on stdin, inside a node netns), pure
 * TypeScript path and C shim + CNI server path, against real etcd and real namespaces.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CniLab, ROOT, cniEnv, ensureShim, nodeEntry } from './cni-harness.js';
import { run } from '../src/lib/exec.js';
import { wepKey } from '../src/cni/store.js';

const POD_ARGS = { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1' };
const addrOf = (r: { json: Record<string, unknown> | undefined }): string =>
  (r.json?.['ips'] as { address: string }[])[0]!.address.split('/')[0]!;

async function ping(fromNs: string, ip: string): Promise<boolean> {
  return (await run(['ip', 'netns', 'exec', fromNs, 'ping', '-c1', '-W2', ip], { check: false })).code === 0;
}

describe('tessera-cni', () => {
  const lab = new CniLab();
  let host = '';
  const ts = nodeEntry('main');
  before(async () => {
    await lab.start();
    host = await lab.addNetns('host');
    await lab.putPod(
      'shop',
      'web-1',
      { app: 'web' },
      {
        serviceAccountName: 'front',
        containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
      },
    );
  });
  after(() => lab.cleanup());

  test('bad input gets the spec error JSON and changes nothing', async () => {
    const pod = await lab.addNetns('bad');
    const rev0 = await lab.backend.revision();
    const cases: [string, Record<string, string>, unknown, number][] = [
      ['missing CNI_NETNS', { ...cniEnv('ADD', 'b1', ''), CNI_NETNS: '' }, lab.conf('n1'), 4],
      ['bad JSON', cniEnv('ADD', 'b2', pod), '{"cniVersion": "1.0.0", "name": ', 6],
      ['unknown cniVersion', cniEnv('ADD', 'b3', pod), lab.conf('n1', { cniVersion: '7.0.0' }), 1],
      ['missing ipam', cniEnv('ADD', 'b4', pod), lab.conf('n1', { ipam: undefined }), 7],
      [
        'nonexistent pool',
        cniEnv('ADD', 'b5', pod),
        lab.conf('n1', { ipam: { type: 'tessera-ipam', ipv4_pools: ['nope'] } }),
        7,
      ],
      [
        'pod not in datastore',
        cniEnv('ADD', 'b6', pod, { CNI_ARGS: 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=ghost' }),
        lab.conf('n1'),
        11,
      ],
    ];
    for (const [what, env, conf, code] of cases) {
      const r = await lab.invoke(ts, host, env, conf);
      assert.notEqual(r.code, 0, what);
      assert.equal(r.json?.['code'], code, `${what}: ${r.stdout}`);
      assert.equal(typeof r.json?.['msg'], 'string', what);
      assert.ok('cniVersion' in (r.json ?? {}), what);
    }
    assert.equal(await lab.backend.revision(), rev0, 'datastore unchanged');
    const links = JSON.parse((await run(['ip', '-n', host, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
      'no interface created',
    );
    const podLinks = JSON.parse((await run(['ip', '-n', pod, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
    assert.deepEqual(
      podLinks.map((l) => l.ifname),
      ['lo'],
    );
  });

  test('a failure after the address was assigned unwinds everything', async () => {
    const pod = await lab.addNetns('clash');
    // An eth0 already in the pod netns makes the veth creation fail after IPAM ran in parallel.
    await run(['ip', '-n', pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'x0']);
    const r = await lab.invoke(ts, host, cniEnv('ADD', 'clash-1', pod), lab.conf('n1'));
    assert.notEqual(r.code, 0);
    assert.equal(typeof r.json?.['code'], 'number');
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.clash-1'), [], 'address released');
    assert.equal(await lab.backend.get(wepKey('default', 'n1-cni-clash--1-eth0')), undefined, 'no WEP');
    const links = JSON.parse((await run(['ip', '-n', host, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
    assert.deepEqual(
      links.filter((l) => l.ifname.startsWith('tsr')),
      [],
      'no host veth',
    );
    const clean = await lab.ipam.check({ liveHandles: new Set() });
    assert.deepEqual(clean.leaks, []);
  });

  test('VERSION lists the supported versions', async () => {
    const r = await lab.invoke(ts, host, { CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' });
    assert.equal(r.code, 0);
    assert.deepEqual(r.json?.['supportedVersions'], ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });

  test('k8s pod: ADD wires kernel + WEP, CHECK passes, pods ping, DEL is idempotent', async () => {
    const p1 = await lab.addNetns('p1');
    const p2 = await lab.addNetns('p2');
    const add1 = await lab.invoke(ts, host, cniEnv('ADD', 'cid-1', p1, POD_ARGS), lab.conf('n1'));
    assert.equal(add1.code, 0, add1.stdout + add1.stderr);
    const add2 = await lab.invoke(ts, host, cniEnv('ADD', 'cid-2', p2), lab.conf('n1', { cniVersion: '0.3.1' }));
    assert.equal(add2.code, 0, add2.stdout + add2.stderr);
    assert.equal((add2.json?.['ips'] as { version: string }[])[0]?.version, '4', '0.3.1 result format');
    const ip1 = addrOf(add1);
    const ip2 = addrOf(add2);
    assert.notEqual(ip1, ip2);

    const ifs = add1.json?.['interfaces'] as { name: string; mac: string }[];
    const hostIf = ifs[0]!.name;
    assert.match(hostIf, /^tsr[0-9a-f]{11}$/);
    const link = JSON.parse((await run(['ip', '-n', host, '-j', 'link', 'show', hostIf])).stdout)[0] as {
      address: string;
    };
    assert.equal(link.address, 'ee:ee:ee:ee:ee:ee');
    const sys = (k: string) =>
      run(['ip', 'netns', 'exec', host, 'cat', `/proc/sys/net/ipv4/${k}`]).then((r) => r.stdout.trim());
    assert.equal(await sys(`conf/${hostIf}/proxy_arp`), '1');
    assert.equal(await sys(`neigh/${hostIf}/proxy_delay`), '0');
    assert.equal(await sys(`conf/${hostIf}/forwarding`), '1');
    const hostRoutes = (await run(['ip', '-n', host, 'route', 'show', 'proto', '80'])).stdout;
    assert.match(hostRoutes, new RegExp(`${ip1.replace(/\./g, '\\.')} dev ${hostIf}`));
    const podAddr = (await run(['ip', '-n', p1, '-4', 'addr', 'show', 'eth0'])).stdout;
    assert.match(podAddr, new RegExp(`inet ${ip1.replace(/\./g, '\\.')}/32`));
    const podRoutes = (await run(['ip', '-n', p1, 'route'])).stdout;
    assert.match(podRoutes, /default via 169\.254\.1\.1 dev eth0/);

    const wepKv = await lab.backend.get(wepKey('shop', 'n1-k8s-web--1-eth0'));
    assert.ok(wepKv, 'WEP written');
    const wep = JSON.parse(wepKv.value) as {
      metadata: { labels: Record<string, string> };
      spec: Record<string, unknown>;
    };
    assert.equal(wep.spec['containerID'], 'cid-1');
    assert.deepEqual(wep.spec['ipNetworks'], [`${ip1}/32`]);
    assert.deepEqual(wep.spec['profiles'], ['kns.shop', 'ksa.shop.front']);
    assert.deepEqual(wep.spec['ports'], [{ name: 'http', protocol: 'TCP', port: 8080 }]);
    assert.equal(wep.metadata.labels['app'], 'web');
    assert.equal(wep.metadata.labels['projectcalico.org/serviceaccount'], 'front');

    assert.ok(await ping(p1, ip2), 'pod 1 reaches pod 2');
    assert.ok(await ping(p2, ip1), 'pod 2 reaches pod 1');

    const check = await lab.invoke(
      ts,
      host,
      cniEnv('CHECK', 'cid-1', p1, POD_ARGS),
      lab.conf('n1', { prevResult: add1.json }),
    );
    assert.equal(check.code, 0, check.stdout);
    // CHECK notices a broken pod: remove the default route and check again.
    await run(['ip', '-n', p1, 'route', 'del', 'default']);
    const bad = await lab.invoke(
      ts,
      host,
      cniEnv('CHECK', 'cid-1', p1, POD_ARGS),
      lab.conf('n1', { prevResult: add1.json }),
    );
    assert.notEqual(bad.code, 0);
    assert.match(String(bad.json?.['msg']), /default route/);

    // DEL by a stale container of the same pod must not delete the live WEP.
    const stale = await lab.invoke(ts, host, cniEnv('DEL', 'cid-old', p1, POD_ARGS), lab.conf('n1'));
    assert.equal(stale.code, 0);
    assert.ok(await lab.backend.get(wepKey('shop', 'n1-k8s-web--1-eth0')), 'WEP of the live container kept');
    assert.equal(
      (await run(['ip', '-n', host, 'link', 'show', hostIf], { check: false })).code,
      0,
      'veth of the live container kept',
    );
    assert.equal((await lab.ipam.ipsByHandle('tessera.cid-1')).length, 1, 'allocation of the live container kept');

    for (let i = 0; i < 2; i++) {
      const del = await lab.invoke(ts, host, cniEnv('DEL', 'cid-1', p1, POD_ARGS), lab.conf('n1'));
      assert.equal(del.code, 0, del.stdout);
    }
    assert.equal(await lab.backend.get(wepKey('shop', 'n1-k8s-web--1-eth0')), undefined, 'WEP deleted');
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.cid-1'), []);
    const after1 = (await run(['ip', '-n', host, 'link', 'show', hostIf], { check: false })).code;
    assert.notEqual(after1, 0, 'host veth gone');
    // DEL with the netns already gone is still success.
    await lab.delNetns(p2);
    const del2 = await lab.invoke(ts, host, cniEnv('DEL', 'cid-2', p2), lab.conf('n1'));
    assert.equal(del2.code, 0, del2.stdout);
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.cid-2'), []);
  });

  test('shim + CNI server: ADD, CHECK, GC and DEL of plain CNI workloads; MTU from mtu_file', async () => {
    const shim = await ensureShim();
    const server = await lab.startServer(host, 'n2');
    const mtuFile = `/run/${lab.prefix}mtu`;
    await run(['sh', '-c', `echo 1410 > ${mtuFile}`]);
    const conf = lab.conf('n2', { agent_socket: server.socket, mtu: 0, mtu_file: mtuFile });
    const pa = await lab.addNetns('sa');
    const pb = await lab.addNetns('sb');
    const a = await lab.invoke([shim], host, cniEnv('ADD', 'shim-a', pa), conf);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const b = await lab.invoke([shim], host, cniEnv('ADD', 'shim-b', pb), conf);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.ok(await ping(pa, addrOf(b)));
    const mtu = JSON.parse((await run(['ip', '-n', pa, '-j', 'link', 'show', 'eth0'])).stdout)[0].mtu as number;
    assert.equal(mtu, 1410);
    const wep = await lab.backend.get(wepKey('default', 'n2-cni-shim--a-eth0'));
    assert.ok(wep, 'plain CNI WEP keyed by container ID');
    assert.equal((JSON.parse(wep.value) as { spec: { orchestrator: string } }).spec.orchestrator, 'cni');
    const chk = await lab.invoke([shim], host, cniEnv('CHECK', 'shim-a', pa), { ...conf, prevResult: a.json });
    assert.equal(chk.code, 0, chk.stdout);
    // Errors come back through the shim as spec errors too.
    const err = await lab.invoke([shim], host, cniEnv('ADD', 'shim-x', pa), { ...conf, cniVersion: '5.0.0' });
    assert.equal(err.code, 1);
    assert.equal(err.json?.['code'], 1);
    // GC: only shim-a is still valid; shim-b's allocation goes.
    const gc = await lab.invoke(
      [shim],
      host,
      { CNI_COMMAND: 'GC' },
      { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'shim-a', ifname: 'eth0' }] },
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.equal((await lab.ipam.ipsByHandle('tessera.shim-a')).length, 1);
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.shim-b'), []);
    const st = await lab.invoke([shim], host, { CNI_COMMAND: 'STATUS' }, { ...conf, cniVersion: '1.1.0' });
    assert.equal(st.code, 0, st.stdout);
    for (const c of ['shim-a', 'shim-b']) {
      const d = await lab.invoke([shim], host, cniEnv('DEL', c, c === 'shim-a' ? pa : pb), conf);
      assert.equal(d.code, 0, d.stdout);
    }
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.shim-a'), []);
    await server.stop();
    await run(['rm', '-f', mtuFile]);
  });

  test('shim without an agent falls back to the TypeScript plugin', async () => {
    const shim = await ensureShim();
    const entry = nodeEntry('main');
    let js = entry[entry.length - 1]!;
    if (!js.endsWith('.js')) {
      // No fresh build: point the fallback at a loader that runs the TypeScript source via tsx.
      js = `/run/${lab.prefix}fallback.mjs`;
      const api = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/esm/api/index.mjs')).href;
      await writeFile(
        js,
        `const { register } = await import(${JSON.stringify(api)});\nregister();\nawait import(${JSON.stringify(pathToFileURL(join(ROOT, 'src/cni/main.ts')).href)});\n`,
      );
    }
    const conf = lab.conf('n3', { agent_socket: `/run/${lab.prefix}absent.sock` });
    const pf = await lab.addNetns('fb');
    const add = await lab.invoke([shim], host, { ...cniEnv('ADD', 'fb-1', pf), TESSERA_CNI_JS: js }, conf);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal((await lab.ipam.ipsByHandle('tessera.fb-1')).length, 1);
    const del = await lab.invoke([shim], host, { ...cniEnv('DEL', 'fb-1', pf), TESSERA_CNI_JS: js }, conf);
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual(await lab.ipam.ipsByHandle('tessera.fb-1'), []);
    if (js.startsWith('/run/')) await rm(js, { force: true });
  });
});
