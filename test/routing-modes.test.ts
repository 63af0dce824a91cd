/**
 * Pod routing in each encapsulation mode, on a real 3-node lab driven through the built CLI (needs
 * `make build`): full pod-to-pod connectivity, and the kernel state the agents programmed is the
 * expected shape — native routes via the owning node, VXLAN routes `via <tunnel IP> onlink` over
 * `tessera.vxlan` with static FDB + neighbour entries, CrossSubnet choosing per remote subnet, and
 * every Tessera route marked with protocol 80.
 *
 * IPIP (`ipip`, `ipip-crosssubnet`) needs a kernel with the ipip device: on this host they are
 * skipped, and test/vm-kernel.test.ts runs this same file inside a VM kernel that has one
 * (TESSERA_ROUTING_MODES picks the modes to run there). There, besides the route shape: routes
 * `via <node> dev tessera.ipip onlink`, natOutgoing, policy on tunnelled traffic, and a VXLAN pool
 * next to the IPIP pool.
 */
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  labDown,
  labUp,
  loadLab,
  matrix,
  nodeStart,
  nodeStop,
  podCreate,
  podDelete,
  probePods,
} from '../src/lab/index.js';
import { run, start } from '../src/lib/exec.js';
import { sleep } from '../src/lib/clock.js';
import { IPIP_DEVICE, ROUTE_PROTOCOL, VXLAN_DEVICE } from '../src/lib/marks.js';
import { kernelLacksIpip } from '../src/lab/index.js';
import { labTimeoutMs } from '../src/lab/vm/timeouts.js';
import { NAT_TABLE } from '../src/dataplane/nat/index.js';
import { eventually, type IpRoute } from './helpers/lab.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const POOL_PREFIX = '10.244.';

interface StatusJson {
  nodes: { name: string; netns: string; ips: string[] }[];
  pods: { namespace: string; name: string; node: string; netns: string; ips: string[] }[];
}
interface NodeList {
  items: {
    metadata: { name: string };
    spec: { ipv4VXLANTunnelAddr?: string; vxlanTunnelMACAddr?: string; bgp?: { ipv4IPIPTunnelAddr?: string } };
  }[];
}
interface MatrixJson {
  pods: string[];
  allowed: Record<string, Record<string, boolean>>;
}

function labCli(env: NodeJS.ProcessEnv) {
  return async (args: string[], timeoutMs = 120_000) => run([BIN, ...args], { env, check: false, timeoutMs });
}

async function ipJson<T>(netns: string, args: string[], tool = 'ip'): Promise<T> {
  const r = await run([tool, '-j', '-n', netns, ...args]);
  return JSON.parse(r.stdout || '[]') as T;
}

const proto = String(ROUTE_PROTOCOL);

const subnetOf = (ip: string) => ip.split('.').slice(0, 3).join('.');

type Mode = 'none' | 'vxlan' | 'vxlan-crosssubnet' | 'ipip' | 'ipip-crosssubnet';

async function modeLab(encapsulation: Mode, subnets: number): Promise<void> {
  const ipip = encapsulation.startsWith('ipip');
  const name = `tsr${randomBytes(3).toString('hex')}`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-routing-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  const cli = labCli(env);
  let status: StatusJson;

  before(async () => {
    // The library is the CLI's implementation; it saves a Node start per step (the CLI contract
    // itself is covered by lab-pods.test.ts). matrix and get go through the built CLI below.
    await labUp({ name, nodes: 3, subnets, encapsulation }, { env });
    // Two pods on node-1 (same-node path) and one on each other node.
    const placements: [string, string][] = [
      ['x/a1', 'node-1'],
      ['x/a2', 'node-1'],
      ['x/b', 'node-2'],
      ['y/c', 'node-3'],
    ];
    for (const [ref, node] of placements) await podCreate(loadLab(name, env), ref, { node });
    const st = await cli(['lab', 'status', '--name', name, '-o', 'json']);
    assert.equal(st.code, 0, st.stderr);
    status = JSON.parse(st.stdout) as StatusJson;
  });
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  test('every pod reaches every other pod (TCP via `lab matrix -o json`, UDP)', async () => {
    for (const protocol of ['TCP', 'UDP']) {
      // Routes are programmed asynchronously; allow the agents a short while, then demand all true.
      let m: MatrixJson | undefined;
      let raw = '';
      for (let i = 0; i < 10; i++) {
        if (protocol === 'TCP') {
          const r = await cli(['lab', 'matrix', '--name', name, '--port', '80', '--protocol', protocol, '-o', 'json']);
          raw = r.stdout + r.stderr;
          m = JSON.parse(r.stdout) as MatrixJson;
        } else {
          m = await matrix(loadLab(name, env), { port: 80, protocol: 'UDP', timeoutMs: labTimeoutMs(1000) });
          raw = JSON.stringify(m);
        }
        if (Object.values(m.allowed).every((row) => Object.values(row).every(Boolean))) break;
        await sleep(500);
      }
      assert.equal(m!.pods.length, 4, raw);
      const pairs = Object.entries(m!.allowed).flatMap(([from, row]) =>
        Object.entries(row).map(([to, ok]) => ({ from, to, ok })),
      );
      assert.equal(pairs.length, 12, raw);
      assert.deepEqual(
        pairs.filter((p) => !p.ok),
        [],
        `${protocol}: ${raw}`,
      );
    }
  });

  test(`routes have the ${encapsulation} shape, all marked proto ${ROUTE_PROTOCOL}`, async () => {
    // Connectivity (previous test) does not mean every agent has finished: the blackholes, routes,
    // FDB and neighbour entries and the Node tunnel fields converge asynchronously.
    await eventually(15_000, checkRouteShape);
  });

  async function checkRouteShape(): Promise<void> {
    const nodes = status.nodes;
    const nodeIp = (n: string) => nodes.find((x) => x.name === n)!.ips.find((a) => !a.includes(':'))!;
    const routes = new Map<string, IpRoute[]>();
    for (const n of nodes) routes.set(n.name, await ipJson<IpRoute[]>(n.netns, ['route', 'show']));
    const ours = (n: string) => routes.get(n)!.filter((r) => r.protocol === proto);
    const blocks = new Map(
      nodes.map((n) => [
        n.name,
        ours(n.name)
          .filter((r) => r.type === 'blackhole')
          .map((r) => r.dst),
      ]),
    );
    const nodeList = JSON.parse((await cli(['get', 'nodes', '-o', 'json'])).stdout) as NodeList;
    const spec = (n: string) => nodeList.items.find((i) => i.metadata.name === n)!.spec;

    for (const n of nodes) {
      assert.ok(
        blocks.get(n.name)!.length >= 1,
        `${n.name} has a blackhole for its affine block: ${JSON.stringify(ours(n.name))}`,
      );
      // Only pool addresses are ever routed by Tessera.
      for (const r of ours(n.name))
        assert.ok(r.dst.startsWith(POOL_PREFIX), `${n.name}: unexpected Tessera route ${JSON.stringify(r)}`);
      // Local workloads: a /32 to the host-side veth.
      for (const p of status.pods.filter((x) => x.node === n.name)) {
        const r = ours(n.name).find((x) => x.dst === p.ips[0]);
        assert.ok(r, `${n.name}: no route to local pod ${p.namespace}/${p.name} ${p.ips[0]}`);
        assert.match(r.dev ?? '', /^tsr/);
      }
      const vxlanDev =
        (await run(['ip', '-n', n.netns, 'link', 'show', 'dev', VXLAN_DEVICE], { check: false })).code === 0;
      assert.equal(vxlanDev, encapsulation.startsWith('vxlan'), `${n.name}: ${VXLAN_DEVICE} present = ${vxlanDev}`);
      if (ipip) {
        // The tunnel device: `local <node address>`, MTU host - 20, the tunnel address from IPAM.
        const link = (await run(['ip', '-n', n.netns, '-d', 'addr', 'show', 'dev', IPIP_DEVICE])).stdout;
        assert.match(link, /mtu 1480/, `${n.name}: ${link}`);
        assert.match(link, new RegExp(`ipip any remote any local ${nodeIp(n.name).replace(/\./g, '\\.')}`), link);
        const tunnelAddr = spec(n.name).bgp?.ipv4IPIPTunnelAddr;
        assert.ok(tunnelAddr?.startsWith(POOL_PREFIX), `${n.name}: ipv4IPIPTunnelAddr from the pool: ${tunnelAddr}`);
        assert.match(link, new RegExp(`inet ${String(tunnelAddr).replace(/\./g, '\\.')}/32`), link);
      }
      const fdb = vxlanDev
        ? await ipJson<{ mac: string; dst?: string }[]>(n.netns, ['fdb', 'show', 'dev', VXLAN_DEVICE], 'bridge')
        : [];
      const neigh = vxlanDev
        ? await ipJson<{ dst: string; lladdr?: string }[]>(n.netns, ['neigh', 'show', 'dev', VXLAN_DEVICE])
        : [];

      for (const other of nodes.filter((o) => o.name !== n.name)) {
        const crossSubnet = subnetOf(nodeIp(other.name)) !== subnetOf(nodeIp(n.name));
        const encap = encapsulation === 'vxlan' || (encapsulation === 'vxlan-crosssubnet' && crossSubnet);
        const tunnelled = encapsulation === 'ipip' || (encapsulation === 'ipip-crosssubnet' && crossSubnet);
        for (const b of blocks.get(other.name)!) {
          const r = ours(n.name).find((x) => x.dst === b);
          assert.ok(r, `${n.name}: no route to ${other.name}'s block ${b}: ${JSON.stringify(ours(n.name))}`);
          if (encap) {
            const tunnel = spec(other.name).ipv4VXLANTunnelAddr;
            const mac = spec(other.name).vxlanTunnelMACAddr;
            assert.ok(
              tunnel && mac,
              `${other.name} has a tunnel address and VTEP MAC: ${JSON.stringify(spec(other.name))}`,
            );
            assert.deepEqual(
              [r.dev, r.gateway, r.flags?.includes('onlink')],
              [VXLAN_DEVICE, tunnel, true],
              `${n.name} -> ${b}: ${JSON.stringify(r)}`,
            );
            assert.ok(
              fdb.some((f) => f.mac === mac && f.dst === nodeIp(other.name)),
              `${n.name}: fdb ${mac} -> ${nodeIp(other.name)} missing: ${JSON.stringify(fdb)}`,
            );
            assert.ok(
              neigh.some((e) => e.dst === tunnel && e.lladdr === mac),
              `${n.name}: neigh ${tunnel} -> ${mac} missing: ${JSON.stringify(neigh)}`,
            );
          } else if (tunnelled) {
            // Calico's IPIP route: the remote node's own address as gateway, onlink, via the tunnel.
            assert.deepEqual(
              [r.dev, r.gateway, r.flags?.includes('onlink')],
              [IPIP_DEVICE, nodeIp(other.name), true],
              `${n.name} -> ${b}: ${JSON.stringify(r)}`,
            );
          } else {
            assert.deepEqual(
              [r.dev, r.gateway, r.flags?.includes('onlink') ?? false],
              ['eth0', nodeIp(other.name), false],
              `${n.name} -> ${b}: ${JSON.stringify(r)}`,
            );
          }
        }
      }
    }
  }

  test('the NAT table hooks only what is needed: notrack chains with a VTEP, no nat chain without natOutgoing', async () => {
    // The VTEP and the NAT table are written by the agent's apply cycles: wait until they agree.
    await eventually(15_000, async () => {
      for (const n of status.nodes) {
        const t = (await run(['nft', 'list', 'table', 'inet', NAT_TABLE], { netns: n.netns })).stdout;
        assert.doesNotMatch(t, /type nat hook/, `${n.name}: the lab's pools have no natOutgoing: ${t}`);
        const vxlanDev =
          (await run(['ip', '-n', n.netns, 'link', 'show', 'dev', VXLAN_DEVICE], { check: false })).code === 0;
        assert.equal(
          /udp dport 4789 notrack/.test(t),
          vxlanDev,
          `${n.name}: notrack chains iff a VTEP (${vxlanDev}): ${t}`,
        );
      }
    });
  });

  if (encapsulation === 'none') {
    test('kernel settings: forwarding and conntrack be_liberal are set, and put back by the periodic resync', async () => {
      const sysctl = async (netns: string, key: string) => (await run(['sysctl', '-n', key], { netns })).stdout.trim();
      const key = 'net.netfilter.nf_conntrack_tcp_be_liberal';
      for (const n of status.nodes) {
        assert.equal(await sysctl(n.netns, 'net.ipv4.ip_forward'), '1', n.name);
        assert.equal(await sysctl(n.netns, key), '1', n.name);
      }
      const n1 = status.nodes[0]!;
      await run(['sysctl', '-q', '-w', `${key}=0`], { netns: n1.netns });
      let v = '0';
      for (let i = 0; i < 60 && v !== '1'; i++) {
        await sleep(250);
        v = await sysctl(n1.netns, key);
      }
      assert.equal(v, '1', 'restored within the resync interval (10 s)');
    });
  }

  if (encapsulation === 'none' || encapsulation === 'ipip') {
    test('natOutgoing: traffic leaving the pools is masqueraded to the node address, and stops being when turned off', async () => {
      const [n1, n2] = [status.nodes.find((n) => n.name === 'node-1')!, status.nodes.find((n) => n.name === 'node-2')!];
      const pod = status.pods.find((p) => p.node === 'node-1')!;
      const n2ip = n2.ips.find((a) => !a.includes(':'))!;
      // Outside every pool: node-2's own address. The server answers with the address it saw.
      const server = start(['socat', 'TCP-LISTEN:18080,reuseaddr,fork', 'SYSTEM:echo $SOCAT_PEERADDR'], {
        netns: n2.netns,
        stdio: 'ignore',
      });
      try {
        const seen = async () => {
          const r = await run(['socat', '-T', '2', '-', `TCP:${n2ip}:18080,connect-timeout=1`], {
            netns: pod.netns,
            check: false,
            timeoutMs: 5000,
            input: '',
          });
          return r.stdout.trim();
        };
        const until = async (want: string) => {
          let got = '';
          for (let i = 0; i < 40 && got !== want; i++) {
            got = await seen();
            if (got !== want) await sleep(250);
          }
          return got;
        };
        assert.equal(
          await until(pod.ips[0]!),
          pod.ips[0],
          'natOutgoing off (the lab default): the pod address arrives',
        );
        const patch = async (on: boolean) => {
          const r = await cli([
            'patch',
            'ippool',
            'default-ipv4-ippool',
            '-p',
            JSON.stringify({ spec: { natOutgoing: on } }),
          ]);
          assert.equal(r.code, 0, r.stderr);
        };
        await patch(true);
        const n1ip = n1.ips.find((a) => !a.includes(':'))!;
        assert.equal(await until(n1ip), n1ip, 'natOutgoing on: masqueraded to node-1');
        const t = (await run(['nft', 'list', 'table', 'inet', NAT_TABLE], { netns: n1.netns })).stdout;
        assert.match(t, /type nat hook postrouting[^}]*masquerade/);
        // Pod-to-pod traffic stays unmasqueraded while natOutgoing is on.
        await eventually(10_000, async () => {
          const m = await matrix(loadLab(name, env), { port: 80, protocol: 'TCP', timeoutMs: labTimeoutMs(1000) });
          assert.ok(
            Object.values(m.allowed).every((row) => Object.values(row).every(Boolean)),
            JSON.stringify(m),
          );
        });
        await patch(false);
        assert.equal(await until(pod.ips[0]!), pod.ips[0], 'natOutgoing off again');
        assert.doesNotMatch(
          (await run(['nft', 'list', 'table', 'inet', NAT_TABLE], { netns: n1.netns })).stdout,
          /type nat hook/,
        );
      } finally {
        server.kill('SIGKILL');
      }
    });
  }

  if (encapsulation === 'ipip') {
    test('policy applies to traffic that crossed the IPIP tunnel', async () => {
      // y/c is on node-3; x/a1 (node-1) and x/b (node-2) both reach it through tessera.ipip.
      const file = join(cfgDir, 'ipip-policy.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: projectcalico.org/v3',
          'kind: GlobalNetworkPolicy',
          'metadata: {name: ipip-only-a1}',
          'spec:',
          "  selector: app == 'c'",
          '  types: [Ingress]',
          "  ingress: [{action: Allow, source: {selector: app == 'a1'}}]",
          '',
        ].join('\n'),
      );
      const probe = async (from: string) =>
        (await probePods(loadLab(name, env), from, 'y/c', { port: 80, timeoutMs: labTimeoutMs(1000) })).connected;
      const r = await cli(['apply', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
      try {
        await eventually(15_000, async () => {
          assert.equal(await probe('x/b'), false, 'x/b -> y/c is denied over the tunnel');
          assert.equal(await probe('x/a1'), true, 'x/a1 -> y/c is allowed over the tunnel');
        });
      } finally {
        const d = await cli(['delete', '-f', file]);
        assert.equal(d.code, 0, d.stderr);
      }
      await eventually(15_000, async () => assert.equal(await probe('x/b'), true, 'allowed again'));
    });

    test('a VXLAN pool next to the IPIP pool: each pool routes through its own tunnel', async () => {
      const file = join(cfgDir, 'vxlan-pool.yaml');
      writeFileSync(
        file,
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: vx}\nspec: {cidr: 10.245.0.0/24, blockSize: 26, vxlanMode: Always, ipipMode: Never}\n',
      );
      const ok = async (args: string[]) => {
        const r = await cli(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      };
      await ok(['apply', '-f', file]);
      await ok(['patch', 'ippool', 'default-ipv4-ippool', '-p', '{"spec":{"disabled":true}}']);
      try {
        const p1 = await podCreate(loadLab(name, env), 'vx/p1', { node: 'node-1' });
        const p2 = await podCreate(loadLab(name, env), 'vx/p2', { node: 'node-2' });
        assert.match(p1.ips[0]!, /^10\.245\.0\./);
        assert.match(p2.ips[0]!, /^10\.245\.0\./);
        const n1 = status.nodes.find((n) => n.name === 'node-1')!;
        await eventually(20_000, async () => {
          const routes = await ipJson<IpRoute[]>(n1.netns, ['route', 'show', 'proto', proto]);
          const vx = routes.filter(
            (r) => r.dst.startsWith('10.245.0.') && r.dev !== undefined && !r.dev.startsWith('tsr'),
          );
          const ip = routes.filter(
            (r) => r.dst.startsWith(POOL_PREFIX) && r.type !== 'blackhole' && r.dev === IPIP_DEVICE,
          );
          assert.ok(
            vx.length >= 1 && vx.every((r) => r.dev === VXLAN_DEVICE),
            `node-1: VXLAN pool via ${VXLAN_DEVICE}: ${JSON.stringify(vx)}`,
          );
          assert.ok(ip.length >= 2, `node-1: the IPIP pool still via ${IPIP_DEVICE}: ${JSON.stringify(routes)}`);
        });
        for (const [from, to] of [
          ['vx/p1', 'vx/p2'],
          ['vx/p2', 'x/b'],
          ['y/c', 'vx/p1'],
        ] as const) {
          await eventually(15_000, async () => {
            const r = await probePods(loadLab(name, env), from, to, { port: 80 });
            assert.ok(r.connected, `${from} -> ${to}: ${JSON.stringify(r)}`);
          });
        }
      } finally {
        await podDelete(loadLab(name, env), 'vx/p2').catch(() => undefined);
        await podDelete(loadLab(name, env), 'vx/p1').catch(() => undefined);
        await cli(['patch', 'ippool', 'default-ipv4-ippool', '-p', '{"spec":{"disabled":false}}']);
        await cli(['delete', 'ippool', 'vx']);
      }
    });
  }

  if (encapsulation === 'vxlan-crosssubnet') {
    test('a borrowed address (its block is affine to another node) gets a host route on every other node, removed with the pod', async () => {
      // One-block pool, default pool disabled: node-1's pod claims the only block, node-2's pod has
      // to borrow from it (strictAffinity is off by default, as in Calico).
      // The watching agents get a 10-minute resync, so only their reaction to the pod's
      // WorkloadEndpoint (not the periodic resync) can program the host routes checked below.
      const watchers = ['node-1', 'node-3'];
      const restart = async (resyncMs?: string) => {
        for (const n of watchers) {
          await nodeStop(name, n, { env });
          if (resyncMs) process.env.TESSERA_RESYNC_INTERVAL_MS = resyncMs;
          try {
            await nodeStart(name, n, { env });
          } finally {
            delete process.env.TESSERA_RESYNC_INTERVAL_MS;
          }
        }
      };
      const file = join(cfgDir, 'borrow-pool.yaml');
      writeFileSync(
        file,
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: borrow}\nspec: {cidr: 10.245.0.0/26, blockSize: 26, vxlanMode: CrossSubnet}\n',
      );
      const ok = async (args: string[]) => {
        const r = await cli(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      };
      await ok(['apply', '-f', file]);
      await ok(['patch', 'ippool', 'default-ipv4-ippool', '-p', '{"spec":{"disabled":true}}']);
      const nodeOf = (n: string) => status.nodes.find((x) => x.name === n)!;
      try {
        await restart('600000');
        const owner = await podCreate(loadLab(name, env), 'borrow/p1', { node: 'node-1' });
        const borrower = await podCreate(loadLab(name, env), 'borrow/p2', { node: 'node-2' });
        assert.match(owner.ips[0]!, /^10\.245\.0\./);
        assert.match(borrower.ips[0]!, /^10\.245\.0\./, "node-2 borrowed from node-1's block");
        const host = borrower.ips[0]!;
        const routeTo = async (node: string) =>
          (await ipJson<IpRoute[]>(nodeOf(node).netns, ['route', 'show', 'proto', proto])).find((r) => r.dst === host);
        await eventually(15_000, async () => {
          // node-1 (same subnet as node-3, other subnet than node-2) and node-3 both send it over VXLAN.
          for (const n of ['node-1', 'node-3']) {
            const r = await routeTo(n);
            assert.deepEqual(
              [r?.dev, r?.flags?.includes('onlink')],
              [VXLAN_DEVICE, true],
              `${n}: host route to borrowed ${host}: ${JSON.stringify(r)}`,
            );
          }
          assert.match((await routeTo('node-2'))?.dev ?? '', /^tsr/, 'node-2: local /32 to the veth');
        });
        for (const [from, to] of [
          ['borrow/p1', 'borrow/p2'],
          ['borrow/p2', 'borrow/p1'],
          ['y/c', 'borrow/p2'],
        ] as const) {
          await eventually(10_000, async () => {
            const r = await probePods(loadLab(name, env), from, to, { port: 80 });
            assert.ok(r.connected, `${from} -> ${to}: ${JSON.stringify(r)}`);
          });
        }
        assert.equal(await podDelete(loadLab(name, env), 'borrow/p2'), true);
        await eventually(15_000, async () => {
          for (const n of ['node-1', 'node-3'])
            assert.equal(await routeTo(n), undefined, `${n}: the host route went with the pod`);
        });
      } finally {
        await podDelete(loadLab(name, env), 'borrow/p2').catch(() => undefined);
        await podDelete(loadLab(name, env), 'borrow/p1').catch(() => undefined);
        await cli(['patch', 'ippool', 'default-ipv4-ippool', '-p', '{"spec":{"disabled":false}}']);
        await cli(['delete', 'ippool', 'borrow']);
        await restart();
      }
    });
  }
}

// IPIP needs the kernel's ipip device (this host has none; test/vm-kernel.test.ts runs these in a VM).
const noIpip = await kernelLacksIpip();
const wanted = process.env['TESSERA_ROUTING_MODES']?.split(',');
const modes: [Mode, number, string][] = [
  ['none', 1, '1 subnet'],
  ['vxlan', 1, '1 subnet'],
  ['vxlan-crosssubnet', 2, '2 subnets'],
  ['ipip', 1, '1 subnet'],
  ['ipip-crosssubnet', 2, '2 subnets'],
];
for (const [mode, subnets, what] of modes) {
  const skip =
    wanted && !wanted.includes(mode)
      ? `not in TESSERA_ROUTING_MODES`
      : mode.startsWith('ipip') && noIpip !== undefined
        ? `this kernel has no ipip device (${noIpip}); test/vm-kernel.test.ts runs it in a VM kernel`
        : false;
  describe(`routing mode ${mode} (${what}, 3 nodes)`, { skip }, () => modeLab(mode, subnets));
}
