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
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../src/lib/exec.js';
import { blockAddress, blockCidr, fabricAddresses, RrFabric, type RrNode } from './helpers/bgp-rr-fabric.js';
import { eventually } from './helpers/lab.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const isRoot = process.getuid?.() === 0;
const CLIENTS = 20;

const v6 = (cidr: string) => cidr.includes(':');
const addrs = fabricAddresses;
const assertFullMesh = (f: RrFabric) => f.assertClientRoutes();

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

    /** Three echoes between two clients' block addresses of `family`, routed by what the reflectors carried. */
    async function ping(t: TestContext, a: RrNode, b: RrNode, family: 4 | 6): Promise<void> {
      t.after(await f.addBlockAddresses([a, b], family));
      const [src, dst] = [blockAddress(a, family), blockAddress(b, family)];
      const r = await run(['ping', `-${family}`, '-c', '3', '-i', '0.2', '-W', '5', '-I', src, dst], {
        netns: a.netns,
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, `ping ${src} -> ${dst}: ${r.stdout}${r.stderr}`);
    }

    test('traffic flows between two clients block addresses (routed by what the reflectors carried)', async (t) => {
      await ping(t, f.clients[0]!, f.clients[CLIENTS - 1]!, 4);
    });

    test('IPv6 through the reflectors: reflected with the originator as next hop, and a v6 ping', async (t) => {
      const [a, b] = [f.clients[1]!, f.clients[CLIENTS - 2]!];
      const block = b.blocks.find(v6)!;
      // BIRD's view on a: the route came from a reflector (originator + cluster list), next hop b itself.
      const shown = (await a.writer.birdc('show', 'route', 'for', block.split('/')[0]!, 'all')) ?? '';
      assert.match(shown, new RegExp(`BGP\\.next_hop: ${b.address6!}\\b`), shown);
      assert.match(shown, /BGP\.originator_id: /, shown);
      assert.match(shown, /BGP\.cluster_list: 224\.0\.0\.1/, shown);
      await ping(t, a, b, 6);
    });

    test('a new block on a client reaches every other client, and leaves when it is released', async () => {
      const origin = f.clients[5]!;
      const cidr = blockCidr(201, 0);
      await f.addBlock(origin, cidr);
      await eventually(120_000, () => assertFullMesh(f), 500);
      assert.deepEqual((await f.kernelRoutes(f.clients[0]!)).get(cidr), [origin.address]);
      await f.removeBlock(origin, cidr);
      await eventually(120_000, () => assertFullMesh(f), 500);
      assert.equal((await f.kernelRoutes(f.clients[0]!)).get(cidr), undefined);
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
