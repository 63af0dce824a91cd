/**
 * Route reflectors at scale, with real BIRD: 2 reflectors and 20 clients, dual stack, one network namespace
 * each, every BIRD configured by Tessera's renderer (the agent's BGP driver code) from Calico's
 * recipe (reflector label + routeReflectorClusterID, BGPPeer nodeSelector all() / peerSelector
 * route-reflector == 'true', node-to-node mesh off). Checks: clients peer only with the reflectors,
 * every session is Established, every client has every other node's block in its kernel table with
 * the owner as next hop (the reflectors do not change it), traffic flows between two clients'
 * block addresses, and a new block / a released block reaches / leaves every other client.
 * No timings: every wait is a generous bound.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../src/lib/exec.js';
import { blockCidr, RrFabric, type RrNode } from './helpers/bgp-rr-fabric.js';
import { eventually } from './helpers/lab.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const isRoot = process.getuid?.() === 0;
const CLIENTS = 20;

const v6 = (cidr: string) => cidr.includes(':');
/** Both of a node's fabric addresses (the fabric is dual stack). */
const addrs = (ns: readonly RrNode[]) => ns.flatMap((n) => [n.address, n.address6!]);

/** dst -> next hops, from BIRD's routes in the node's kernel table. */
async function kernelRoutes(f: RrFabric, n: RrNode, family: 4 | 6 = 4): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of (await f.birdRoutes(n, family)) as {
    dst: string;
    gateway?: string;
    nexthops?: { gateway: string }[];
  }[])
    out.set(r.dst, (r.gateway ? [r.gateway] : (r.nexthops ?? []).map((h) => h.gateway)).sort());
  return out;
}

/** Every client's kernel table holds exactly every other node's blocks (IPv4 and IPv6), via the owner's address. */
async function assertFullMesh(f: RrFabric): Promise<void> {
  await Promise.all(
    f.clients.map(async (c) => {
      for (const family of [4, 6] as const) {
        const want = new Map<string, string[]>();
        for (const n of f.nodes)
          if (n !== c)
            for (const b of n.blocks.filter((x) => v6(x) === (family === 6)))
              want.set(b, [family === 4 ? n.address : n.address6!]);
        const got = await kernelRoutes(f, c, family);
        assert.deepEqual(
          [...got.entries()].sort(),
          [...want.entries()].sort(),
          `${c.name}: BIRD's IPv${family} kernel routes are not every other node's block via its owner`,
        );
      }
    }),
  );
}

describe(
  'route reflectors: 2 reflectors, 20 clients, dual stack, mesh off (real BIRD from the agent renderer)',
  { skip: !isRoot && 'needs root' },
  () => {
    let f: RrFabric;

    before(async () => {
      f = await RrFabric.start({
        prefix: `t16r${randomBytes(2).toString('hex')}`,
        reflectors: 2,
        clients: CLIENTS,
        ipv6: true,
      });
    });
    after(async () => {
      await f?.stop();
    });

    test('the rendered configs: clients peer only with the reflectors, reflectors with every node', () => {
      const rrAddrs = addrs(f.reflectors).sort();
      for (const c of f.clients) {
        const cfg = f.render(c);
        assert.deepEqual(cfg.problems, []);
        assert.deepEqual(cfg.peers.map((p) => p.address).sort(), rrAddrs, `${c.name} peers`);
        assert.ok(cfg.peers.every((p) => !p.routeReflectorClient && p.type === 'node specific'));
        assert.doesNotMatch(cfg.text, /protocol bgp Mesh_/);
      }
      for (const r of f.reflectors) {
        const cfg = f.render(r);
        const others = f.nodes.filter((n) => n !== r);
        assert.deepEqual(cfg.peers.map((p) => p.address).sort(), addrs(others).sort(), `${r.name} peers`);
        for (const p of cfg.peers) {
          // The other reflector is in the same cluster: a normal iBGP peer, not a client.
          const isClient = !addrs(f.reflectors).includes(p.address);
          assert.equal(p.routeReflectorClient, isClient, `${r.name} -> ${p.address}`);
        }
        assert.match(cfg.text, /rr client;\n {2}rr cluster id 224\.0\.0\.1;/);
      }
    });

    test('every session is Established; a client has exactly the two reflector sessions', async () => {
      await eventually(
        120_000,
        async () => {
          for (const n of f.nodes) {
            const s = await f.sessions(n);
            const want = 2 * (n.reflector ? f.nodes.length - 1 : f.reflectors.length);
            assert.equal(s.length, want, `${n.name}: ${s.length} sessions`);
            const down = s.filter((x) => x.bgpState !== 'Established');
            assert.deepEqual(
              down.map((x) => `${x.peerAddress} ${x.info}`),
              [],
              `${n.name}: sessions not Established`,
            );
          }
        },
        500,
      );
      const c = f.clients[0]!;
      assert.deepEqual((await f.sessions(c)).map((s) => s.peerAddress).sort(), addrs(f.reflectors).sort());
    });

    test('full connectivity: every client has every other node block in its kernel, next hop = the owner', async () => {
      await eventually(120_000, () => assertFullMesh(f), 500);
    });

    test('traffic flows between two clients block addresses (routed by what the reflectors carried)', async (t) => {
      const [a, b] = [f.clients[0]!, f.clients[CLIENTS - 1]!];
      const addr = (n: RrNode) => n.blocks[0]!.replace(/\d+\/26$/, (m) => String(Number(m.split('/')[0]) + 1));
      // No dummy interfaces in this kernel: the pod-side address sits on lo.
      for (const n of [a, b]) await run(['ip', 'address', 'add', `${addr(n)}/32`, 'dev', 'lo'], { netns: n.netns });
      t.after(async () => {
        for (const n of [a, b])
          await run(['ip', 'address', 'del', `${addr(n)}/32`, 'dev', 'lo'], { netns: n.netns, check: false });
      });
      const r = await run(['ping', '-c', '3', '-i', '0.2', '-W', '5', '-I', addr(a), addr(b)], {
        netns: a.netns,
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, `ping ${addr(a)} -> ${addr(b)}: ${r.stdout}${r.stderr}`);
    });

    test('IPv6 through the reflectors: reflected with the originator as next hop, and a v6 ping', async (t) => {
      const [a, b] = [f.clients[1]!, f.clients[CLIENTS - 2]!];
      const block = b.blocks.find(v6)!;
      // BIRD's view on a: the route came from a reflector (originator + cluster list), next hop b itself.
      const shown = (await a.writer.birdc('show', 'route', 'for', block.split('/')[0]!, 'all')) ?? '';
      assert.match(shown, new RegExp(`BGP\\.next_hop: ${b.address6!.replace(/\./g, '\\.')}\\b`), shown);
      assert.match(shown, /BGP\.originator_id: /, shown);
      assert.match(shown, /BGP\.cluster_list: 224\.0\.0\.1/, shown);
      const addr = (n: RrNode) =>
        n.blocks
          .find(v6)!
          .replace(/::([0-9a-f]*)\/122$/, (_m, h: string) => `::${(parseInt(h || '0', 16) + 1).toString(16)}`);
      for (const n of [a, b])
        await run(['ip', 'address', 'add', `${addr(n)}/128`, 'dev', 'lo', 'nodad'], { netns: n.netns });
      t.after(async () => {
        for (const n of [a, b])
          await run(['ip', 'address', 'del', `${addr(n)}/128`, 'dev', 'lo'], { netns: n.netns, check: false });
      });
      const r = await run(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '5', '-I', addr(a), addr(b)], {
        netns: a.netns,
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, `ping ${addr(a)} -> ${addr(b)}: ${r.stdout}${r.stderr}`);
    });

    test('a new block on a client reaches every other client, and leaves when it is released', async () => {
      const origin = f.clients[5]!;
      const cidr = blockCidr(201, 0);
      await f.addBlock(origin, cidr);
      await eventually(120_000, () => assertFullMesh(f), 500);
      assert.deepEqual((await kernelRoutes(f, f.clients[0]!)).get(cidr), [origin.address]);
      await f.removeBlock(origin, cidr);
      await eventually(120_000, () => assertFullMesh(f), 500);
      assert.equal((await kernelRoutes(f, f.clients[0]!)).get(cidr), undefined);
    });

    test('tessera node status reads a client and a reflector BIRD', async () => {
      for (const n of [f.clients[0]!, f.reflectors[0]!]) {
        const r = await run([BIN, 'node', 'status', '--bird-socket', n.writer.paths.socket, '-o', 'json'], {
          check: false,
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 0, r.stderr);
        const st = JSON.parse(r.stdout) as { peers: { peerAddress: string; type: string; bgpState: string }[] };
        assert.equal(st.peers.length, 2 * (n.reflector ? f.nodes.length - 1 : 2), n.name);
        assert.ok(
          st.peers.every((p) => p.bgpState === 'Established' && p.type === 'node specific'),
          r.stdout,
        );
      }
    });
  },
);
