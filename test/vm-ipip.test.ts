/**
 * IPIP in a real kernel (needs `make build`, root, qemu-system-x86): the seed default of Calico's
 * Docker EE install, a 3-node `--routing bgp --encapsulation ipip` lab, run by `tessera lab up
 * --kernel vm` inside one QEMU VM with Debian's stock kernel. Every step goes through the CLI as a
 * user would (the host's `tessera lab ...` runs inside the VM). Also: on this host kernel (no
 * ipip), `lab up --encapsulation ipip` fails clearly and leaves nothing behind.
 * Part of `make test`. Slow (TCG emulation, no KVM): see the README for the time it takes.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';
import { sleep } from '../src/lib/clock.js';
import { processesNaming } from './helpers/lab.js';

const name = `vm${randomBytes(3).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-vmtest-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
const bin = join(import.meta.dirname, '..', 'bin', 'tessera');
const labDirOf = (n: string) => join('/run/tessera/labs', n);
const cli = (args: string[], timeoutMs = 600_000) => run([bin, ...args], { env, check: false, timeoutMs });
/** A shell command inside the VM (in pod x/a's netns; `ip -n` and birdc reach the nodes). */
const vmSh = (cmd: string) => cli(['lab', 'exec', 'x/a', '--', 'sh', '-c', cmd]);

interface Matrix {
  pods: string[];
  allowed: Record<string, Record<string, boolean>>;
}

async function matrixConnected(protocol: 'TCP' | 'UDP'): Promise<{ connected: number; total: number; text: string }> {
  const r = await cli(['lab', 'matrix', '--protocol', protocol, '--timeout-ms', '5000', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Matrix;
  let connected = 0;
  let total = 0;
  for (const a of m.pods)
    for (const b of m.pods)
      if (a !== b) {
        total++;
        if (m.allowed[a]?.[b]) connected++;
      }
  return { connected, total, text: r.stdout };
}

/** Polls until every pair connects (routes follow a pool change within a few route cycles). */
async function waitFullMatrix(protocol: 'TCP' | 'UDP', deadlineMs = 240_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const m = await matrixConnected(protocol);
    if (m.connected === m.total && m.total === 6) return Date.now() - t0;
    if (Date.now() - t0 > deadlineMs) assert.fail(`${protocol} matrix not full after ${deadlineMs} ms: ${m.text}`);
    await sleep(2000);
  }
}

after(() => rmSync(cfgDir, { recursive: true, force: true }));

describe('host kernel without ipip (root)', () => {
  after(async () => {
    await cli(['lab', 'down', '--name', `${name}h`], 60_000).catch(() => undefined);
  });

  test('host kernel: lab up --encapsulation ipip fails, names --kernel vm, leaves nothing', async () => {
    const r = await cli(['lab', 'up', '--name', `${name}h`, '--encapsulation', 'ipip']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no ipip device/);
    assert.match(r.stderr, /--kernel vm/);
    assert.equal(existsSync(labDirOf(`${name}h`)), false);
    const ns = await run(['ip', 'netns', 'list'], { check: false });
    assert.doesNotMatch(ns.stdout, new RegExp(`${name}h`));
  });
});

describe('IPIP in a VM kernel (root, qemu)', { timeout: 3_000_000 }, () => {
  after(async () => {
    await cli(['lab', 'down', '--name', name], 120_000).catch(() => undefined);
  });

  test('lab up --kernel vm: 3 nodes, BGP full mesh, IPIP', async () => {
    const r = await cli(
      ['lab', 'up', '--kernel', 'vm', '--name', name, '--routing', 'bgp', '--encapsulation', 'ipip'],
      1_200_000,
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /is up in/);
    const st = await cli(['lab', 'status', '-o', 'json']);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout) as { options: { encapsulation: string }; nodes: { agent: string }[] };
    assert.equal(status.options.encapsulation, 'ipip');
    assert.deepEqual(
      status.nodes.map((n) => n.agent),
      ['ready', 'ready', 'ready'],
    );
  });

  test('pods on every node; full TCP and UDP matrix over IPIP', async () => {
    for (const [pod, node] of [
      ['x/a', 'node-1'],
      ['x/b', 'node-2'],
      ['x/c', 'node-3'],
    ] as const) {
      const r = await cli(['lab', 'pod', 'create', pod, '--node', node]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created on/);
    }
    await waitFullMatrix('TCP');
    await waitFullMatrix('UDP');
    const p = await cli(['lab', 'probe', 'x/a', 'x/c', '--port', '80', '--timeout-ms', '5000']);
    assert.equal(p.code, 0, p.stderr);
    const bad = await cli(['lab', 'probe', 'x/a', 'x/c', '--port', '9', '--timeout-ms', '3000']);
    assert.equal(bad.code, 1, 'nothing listens on port 9: the probe exits 1 as on a host lab');
  });

  test('BGP sessions Established; routes onlink via the IPIP device; tunnel device from IPAM', async () => {
    const birdc = await vmSh(`birdc -s /run/tessera/labs/${name}/nodes/node-1/bird/bird.ctl show protocols`);
    assert.equal(birdc.code, 0, birdc.stderr);
    assert.equal((birdc.stdout.match(/Established/g) ?? []).length, 2, birdc.stdout);
    const routes = await vmSh(`ip -n ${name}-node-1 route show proto 80`);
    assert.equal(routes.code, 0, routes.stderr);
    const tunnelRoutes = routes.stdout
      .split('\n')
      .filter((l) => /via 10\.240\.0\.1[12] dev tessera\.ipip .*onlink/.test(l));
    assert.equal(tunnelRoutes.length >= 2, true, routes.stdout);
    const link = await vmSh(`ip -n ${name}-node-1 -d addr show dev tessera.ipip`);
    assert.equal(link.code, 0, link.stderr);
    assert.match(link.stdout, /mtu 1480/);
    assert.match(link.stdout, /ipip any remote any local 10\.240\.0\.10/);
    assert.match(link.stdout, /inet 10\.244\.\d+\.\d+\/32/, 'the tunnel address comes from the pool');
    const nodes = await cli(['get', 'nodes', '-o', 'json']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /"ipv4IPIPTunnelAddr": "10\.244\./, "the host CLI reads the lab VM's etcd");
  });

  test('MTU: pods get host MTU - 20; the largest DF ping passes, one byte more does not', async () => {
    const mtu = await vmSh('cat /sys/class/net/eth0/mtu');
    assert.equal(mtu.stdout.trim(), '1480');
    const ipc = (await cli(['lab', 'status', '-o', 'json'])).stdout;
    const c = (JSON.parse(ipc) as { pods: { name: string; ips: string[] }[] }).pods.find((p) => p.name === 'c')!;
    const ok = await vmSh(`ping -M do -c 1 -W 5 -s 1452 ${c.ips[0]}`);
    assert.equal(ok.code, 0, `1452 + 28 = 1480 bytes must pass: ${ok.stdout}${ok.stderr}`);
    const tooBig = await vmSh(`ping -M do -c 1 -W 5 -s 1453 ${c.ips[0]}`);
    assert.notEqual(tooBig.code, 0, '1481 bytes with DF must not pass');
  });

  test('live encapsulation changes: IPIP -> none -> IPIP -> none -> VXLAN CrossSubnet -> VXLAN Always', async (t) => {
    const before = (await cli(['lab', 'status', '-o', 'json'])).stdout;
    const ips = (s: string) => (JSON.parse(s) as { pods: { ips: string[] }[] }).pods.map((p) => p.ips.join(','));
    const c = (JSON.parse(before) as { pods: { name: string; ips: string[] }[] }).pods.find((p) => p.name === 'c')!;
    // What node-1's routes to the other nodes' blocks go through in each mode (one subnet: VXLAN
    // CrossSubnet routes natively, like none).
    const steps: { label: string; spec: Record<string, string>; dev: RegExp | undefined }[] = [
      { label: 'IPIP Always -> none', spec: { ipipMode: 'Never', vxlanMode: 'Never' }, dev: undefined },
      { label: 'none -> IPIP Always', spec: { ipipMode: 'Always', vxlanMode: 'Never' }, dev: /dev tessera\.ipip/ },
      { label: 'IPIP Always -> none', spec: { ipipMode: 'Never', vxlanMode: 'Never' }, dev: undefined },
      { label: 'none -> VXLAN CrossSubnet', spec: { ipipMode: 'Never', vxlanMode: 'CrossSubnet' }, dev: undefined },
      {
        label: 'VXLAN CrossSubnet -> VXLAN Always',
        spec: { ipipMode: 'Never', vxlanMode: 'Always' },
        dev: /dev tessera\.vxlan/,
      },
    ];
    for (const step of steps) {
      // Disruption: a ping every 100 ms from x/a to x/c (node-1 -> node-3) across the change. It runs
      // as its own `lab exec` (the VM's command server runs requests side by side) and is stopped
      // with SIGINT by its process name, after which it prints its summary and exits.
      const ping = cli(['lab', 'exec', 'x/a', '--', 'ping', '-n', '-i', '0.1', '-w', '1800', c.ips[0]!], 2_400_000);
      await sleep(2000);
      const t0 = Date.now();
      const r = await cli(['patch', 'ippool', 'default-ipv4-ippool', '-p', JSON.stringify({ spec: step.spec })]);
      assert.equal(r.code, 0, r.stderr);
      for (let i = 0; ; i++) {
        const rt = await vmSh(`ip -n ${name}-node-1 route show proto 80; ip -n ${name}-node-1 route show proto bird`);
        const tunnelled = /dev tessera\.(ipip|vxlan)/.test(rt.stdout);
        // `ip route show proto bird` does not print "proto bird": native = via a node on eth0.
        const native = (rt.stdout.match(/via 10\.240\.0\.\d+ dev eth0/g) ?? []).length >= 2;
        const shaped = step.dev ? step.dev.test(rt.stdout) : !tunnelled && native;
        if (shaped) break;
        if (i > 90) assert.fail(`${step.label}: routes did not follow: ${rt.stdout}`);
        await sleep(2000);
      }
      const routed = Date.now() - t0;
      await waitFullMatrix('TCP');
      const full = Date.now() - t0;
      // `-x`: by name only. A pattern on the command line would also match (and kill) the shell
      // that runs pkill, as it did before.
      await vmSh('pkill -INT -x ping');
      const pinged = await ping;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(pinged.stdout);
      // The ping is a measurement, not a check.
      const lost = m
        ? `${Number(m[1]) - Number(m[2])} of ${m[1]}`
        : `no summary (exit ${pinged.code}: ${pinged.stderr.trim()})`;
      t.diagnostic(
        `${step.label}: routes followed in ${(routed / 1000).toFixed(1)} s, full TCP matrix after ${(full / 1000).toFixed(1)} s; ping x/a -> x/c every 100 ms lost: ${lost}`,
      );
    }
    assert.deepEqual(
      ips((await cli(['lab', 'status', '-o', 'json'])).stdout),
      ips(before),
      'pods keep their addresses',
    );
  });

  test('lab node stop|start and router add work inside the VM lab as on a host lab', async () => {
    const stop = await cli(['lab', 'node', 'stop', 'node-3']);
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    const agents = async () =>
      (JSON.parse((await cli(['lab', 'status', '-o', 'json'])).stdout) as { nodes: { agent: string }[] }).nodes.map(
        (n) => n.agent,
      );
    assert.equal((await agents())[2], 'stopped');
    const start = await cli(['lab', 'node', 'start', 'node-3']);
    assert.equal(start.code, 0, start.stdout + start.stderr);
    for (let i = 0; (await agents())[2] !== 'ready'; i++) {
      if (i > 120) assert.fail(`node-3's agent is not ready again: ${(await agents()).join(', ')}`);
      await sleep(2000);
    }
    await waitFullMatrix('TCP');

    const add = await cli(['lab', 'router', 'add', 'tor', '--as', '65000']);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const st = JSON.parse((await cli(['lab', 'status', '-o', 'json'])).stdout) as {
      routers: { name: string; netns: string; ips: string[] }[];
    };
    const tor = st.routers.find((r) => r.name === 'tor');
    assert.ok(tor, JSON.stringify(st.routers));
    const torIp = tor.ips.find((ip) => ip.includes('.'))!;
    const peer = join(cfgDir, 'tor-peer.yaml');
    writeFileSync(
      peer,
      `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: tor\nspec:\n  peerIP: ${torIp}\n  asNumber: 65000\n`,
    );
    const applied = await cli(['apply', '-f', peer]);
    assert.equal(applied.code, 0, applied.stderr);
    // Every node's block reaches the external router over BGP (3 nodes, at least one block each).
    for (let i = 0; ; i++) {
      const rt = await vmSh(`ip -n ${tor.netns} route show proto bird`);
      const blocks = new Set(rt.stdout.match(/^10\.244\.\d+\.\d+\/\d+/gm) ?? []);
      if (blocks.size >= 3) break;
      if (i > 120) assert.fail(`the router did not learn the blocks: ${rt.stdout}`);
      await sleep(2000);
    }
  });

  test('lab down leaves nothing behind (VM process, lab dir, context)', async () => {
    const r = await cli(['lab', 'down', '--name', name], 120_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(labDirOf(name)), false);
    assert.deepEqual(processesNaming(labDirOf(name)), []);
    const st = await cli(['lab', 'status', '--name', name]);
    assert.equal(st.code, 1);
  });
});
