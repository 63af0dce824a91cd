/**
 * A route-reflector topology of real BIRD daemons, one network namespace per node, configured by
 * Tessera's own renderer (src/bgp renderBirdConfig + BirdWriter, exactly what the agent's BGP
 * driver runs) from Calico-style resources: reflector Nodes labelled `route-reflector: "true"`
 * with `spec.bgp.routeReflectorClusterID`, one BGPPeer `nodeSelector: all()` + `peerSelector:
 * route-reflector == 'true'`, and the node-to-node mesh off in BGPConfiguration `default`.
 *
 * No agent, CNI or etcd per node: the node's affine blocks are given here (as IPAM would give
 * them to the agent's mirror), so hundreds of nodes fit on a 2-core machine. Shared by
 * test/bgp-route-reflectors.test.ts and bench/scale/bgp-rr.ts.
 *
 * Layout: a fabric netns with one bridge; node i gets `eth0` with 172.30.x.y/16 (a veth whose other
 * end is on the bridge). Cleanup: `stop()` kills every process in every netns it created, deletes
 * them and the state dir; it is safe after a partial `start()` and idempotent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '../../src/api/index.js';
import {
  BirdWriter,
  parseBirdProtocols,
  renderBirdConfig,
  type BirdConfig,
  type PeerStatus,
} from '../../src/bgp/index.js';
import { run } from '../../src/lib/exec.js';
import { addNetns, deleteNetns, ipBatch, killNetnsProcesses } from '../../src/lab/kernel.js';
import { forEachLimit } from '../../src/lab/fabric.js';

const API = 'projectcalico.org/v3';
export const RR_CLUSTER_ID = '224.0.0.1';
export const RR_POOL = '10.192.0.0/10';
/** The IPv6 pool (dual-stack fabrics): /122 blocks, Calico's IPv6 default. */
export const RR_POOL6 = 'fd10::/16';

/**
 * Where a cluster stands in Calico's mesh -> reflectors recipe. Each field is one resource change:
 * `reflectors` = reflector Nodes labelled `route-reflector: "true"` with routeReflectorClusterID,
 * `peer` = the BGPPeer peer-with-route-reflectors exists, `mesh` = nodeToNodeMeshEnabled.
 */
export interface RrRecipe {
  reflectors: boolean;
  peer: boolean;
  mesh: boolean;
}

/** The recipe's end state (what `start` builds unless told otherwise). */
export const RR_DONE: RrRecipe = { reflectors: true, peer: true, mesh: false };

export interface RrFabricOptions {
  /** Unique prefix for namespaces and the temp dir (a test run's own). */
  prefix: string;
  reflectors: number;
  clients: number;
  /** Parallel node set-ups (namespaces, BIRD starts). Default 8. */
  concurrency?: number;
  /** The recipe stage to start in; default RR_DONE (reflectors only, mesh off). */
  recipe?: RrRecipe;
  /** Dual stack: IPv6 fabric addresses (Node bgp.ipv6Address), an IPv6 pool and one /122 per node. */
  ipv6?: boolean;
}

export interface RrNode {
  name: string;
  netns: string;
  /** The node's fabric address (no prefix length). */
  address: string;
  /** Its IPv6 fabric address (dual-stack fabrics only). */
  address6?: string;
  reflector: boolean;
  blocks: string[];
  writer: BirdWriter;
}

/** The n-th /26 (0-based) of 10.<second>.0.0/16: distinct per index up to 1,024. */
export function blockCidr(second: number, n: number): string {
  return `10.${second}.${n >> 2}.${(n & 3) * 64}/26`;
}

/** The n-th /122 (0-based) of fd10:<second>::/64: distinct per index up to 1,024. */
export function blockCidr6(second: number, n: number): string {
  return `fd10:${second}::${n ? (n * 64).toString(16) : ''}/122`;
}

/** The first host address of a node's IPv4 or IPv6 block (tests put it on lo: this kernel has no dummy devices). */
export function blockAddress(n: Pick<RrNode, 'blocks'>, family: 4 | 6): string {
  const net = n.blocks.find((c) => c.includes(':') === (family === 6))!.split('/')[0]!;
  return family === 4
    ? net.replace(/\d+$/, (m) => String(Number(m) + 1))
    : net.replace(/::([0-9a-f]*)$/, (_m, h: string) => `::${(parseInt(h || '0', 16) + 1).toString(16)}`);
}

/** Every fabric address of the given nodes (both families on a dual-stack fabric). */
export function fabricAddresses(ns: readonly Pick<RrNode, 'address' | 'address6'>[]): string[] {
  return ns.flatMap((n) => (n.address6 ? [n.address, n.address6] : [n.address]));
}

/**
 * Calico's route-reflector recipe as resources, at stage `recipe` (default: done: labels + cluster
 * ID on reflectors, one BGPPeer, mesh off). A dual-stack fabric adds bgp.ipv6Address and a v6 pool.
 */
export function rrResources(
  nodes: readonly Pick<RrNode, 'name' | 'address' | 'address6' | 'reflector' | 'blocks'>[],
  recipe: RrRecipe = RR_DONE,
): {
  nodes: Resource[];
  peers: Resource[];
  bgpConfigurations: Resource[];
  pools: Resource[];
} {
  const rr = (n: { reflector: boolean }) => n.reflector && recipe.reflectors;
  return {
    nodes: nodes.map((n) => ({
      apiVersion: API,
      kind: 'Node',
      metadata: { name: n.name, ...(rr(n) ? { labels: { 'route-reflector': 'true' } } : {}) },
      spec: {
        bgp: {
          ipv4Address: `${n.address}/16`,
          ...(n.address6 ? { ipv6Address: `${n.address6}/64` } : {}),
          ...(rr(n) ? { routeReflectorClusterID: RR_CLUSTER_ID } : {}),
        },
      },
    })),
    peers: !recipe.peer
      ? []
      : [
          {
            apiVersion: API,
            kind: 'BGPPeer',
            metadata: { name: 'peer-with-route-reflectors' },
            spec: { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" },
          },
        ],
    bgpConfigurations: [
      {
        apiVersion: API,
        kind: 'BGPConfiguration',
        metadata: { name: 'default' },
        spec: { nodeToNodeMeshEnabled: recipe.mesh, asNumber: 64512 },
      },
    ],
    pools: [
      {
        apiVersion: API,
        kind: 'IPPool',
        metadata: { name: 'default-ipv4-ippool' },
        spec: { cidr: RR_POOL, ipipMode: 'Never', vxlanMode: 'Never', blockSize: 26, natOutgoing: true },
      },
      ...(nodes.some((n) => n.address6)
        ? [
            {
              apiVersion: API,
              kind: 'IPPool',
              metadata: { name: 'default-ipv6-ippool' },
              spec: { cidr: RR_POOL6, ipipMode: 'Never', vxlanMode: 'Never', blockSize: 122, natOutgoing: false },
            },
          ]
        : []),
    ],
  };
}

/** Node i's eth0 MAC (locally administered, unique per index). */
function macOf(i: number): string {
  const h = (v: number) => v.toString(16).padStart(2, '0');
  return `02:72:72:00:${h(i >> 8)}:${h(i & 255)}`;
}

export class RrFabric {
  readonly nodes: RrNode[] = [];
  readonly fabricNetns: string;
  readonly dir: string;
  /** The recipe stage the configs are rendered for; change it with `setRecipe`. */
  recipe: RrRecipe;
  private readonly created: string[] = [];
  private stopped = false;

  private constructor(private readonly options: RrFabricOptions) {
    const total = options.reflectors + options.clients;
    if (total > 1000) throw new Error(`RrFabric: ${total} nodes; at most 1,000 (blocks and addresses)`);
    this.fabricNetns = `${options.prefix}-fab`;
    this.recipe = { ...(options.recipe ?? RR_DONE) };
    this.dir = mkdtempSync(join(tmpdir(), `${options.prefix}-`));
    for (let i = 0; i < total; i++) {
      const reflector = i < options.reflectors;
      const name = reflector ? `rr-${i + 1}` : `client-${String(i - options.reflectors + 1).padStart(3, '0')}`;
      const host = i + 10;
      this.nodes.push({
        name,
        netns: `${options.prefix}-${i}`,
        address: `172.30.${host >> 8}.${host & 255}`,
        ...(options.ipv6 ? { address6: `fd30::${host.toString(16)}` } : {}),
        reflector,
        blocks: [blockCidr(200, i), ...(options.ipv6 ? [blockCidr6(200, i)] : [])],
        writer: new BirdWriter({
          stateDir: join(this.dir, name),
          netns: `${options.prefix}-${i}`,
          startTimeoutMs: 30_000,
        }),
      });
    }
  }

  /** Builds the namespaces and starts every node's BIRD with its rendered config; stops all on failure. */
  static async start(options: RrFabricOptions): Promise<RrFabric> {
    const f = new RrFabric(options);
    try {
      await f.build();
      await f.sync();
    } catch (e) {
      await f.stop();
      throw e;
    }
    return f;
  }

  get clients(): RrNode[] {
    return this.nodes.filter((n) => !n.reflector);
  }

  get reflectors(): RrNode[] {
    return this.nodes.filter((n) => n.reflector);
  }

  node(name: string): RrNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`RrFabric: no node "${name}"`);
    return n;
  }

  /** What the agent's BGP driver would render on `node` for the current resources. */
  render(node: RrNode): BirdConfig {
    const r = rrResources(this.nodes, this.recipe);
    return renderBirdConfig({
      nodeName: node.name,
      ...r,
      filters: [],
      blocks: this.nodes.flatMap((n) => n.blocks.map((cidr) => ({ cidr, affinity: `host:${n.name}` }))),
      workloads: [],
    });
  }

  /** Renders and writes every given node's config (the writer reloads BIRD only on changed text). */
  async sync(nodes: readonly RrNode[] = this.nodes): Promise<void> {
    await forEachLimit(nodes, this.options.concurrency ?? 8, async (n) => {
      const cfg = this.render(n);
      if (cfg.problems.length) throw new Error(`node ${n.name}: renderer problems: ${cfg.problems.join('; ')}`);
      await n.writer.write(cfg.text);
    });
  }

  /**
   * One step of the recipe (a resource change): every node re-renders and reloads, as each node's
   * agent does when its datastore watch delivers the change.
   */
  async setRecipe(change: Partial<RrRecipe>): Promise<void> {
    this.recipe = { ...this.recipe, ...change };
    await this.sync();
  }

  /** A new affine block on `node`, as the agent sees it after IPAM claims it: only that node's config changes. */
  async addBlock(node: RrNode, cidr: string): Promise<void> {
    node.blocks.push(cidr);
    await this.sync([node]);
  }

  /** The block released again (IPAM freed it): the node's BIRD withdraws it. */
  async removeBlock(node: RrNode, cidr: string): Promise<void> {
    node.blocks = node.blocks.filter((b) => b !== cidr);
    await this.sync([node]);
  }

  /** Routes BIRD programmed into `node`'s kernel (proto bird), as `ip -json` prints them. */
  async birdRoutes(node: RrNode, family: 4 | 6 = 4): Promise<{ dst: string; gateway?: string; dev?: string }[]> {
    const r = await run(['ip', '-json', `-${family}`, 'route', 'show', 'proto', 'bird'], {
      netns: node.netns,
      timeoutMs: 30_000,
    });
    return JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; dev?: string }[];
  }

  /**
   * Puts each node's first `family` block address on its lo, standing in for a pod (this kernel has
   * no dummy devices); returns the undo (a stopped fabric needs none: its namespaces are gone).
   */
  async addBlockAddresses(nodes: readonly RrNode[], family: 4 | 6): Promise<() => Promise<void>> {
    const cidr = (n: RrNode) => `${blockAddress(n, family)}/${family === 4 ? 32 : 128}`;
    for (const n of nodes)
      await run(['ip', 'address', 'add', cidr(n), 'dev', 'lo', ...(family === 6 ? ['nodad'] : [])], { netns: n.netns });
    return async () => {
      for (const n of nodes)
        await run(['ip', 'address', 'del', cidr(n), 'dev', 'lo'], { netns: n.netns, check: false });
    };
  }

  /** dst -> next hops of BIRD's routes in `node`'s kernel table. */
  async kernelRoutes(node: RrNode, family: 4 | 6 = 4): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const r of (await this.birdRoutes(node, family)) as {
      dst: string;
      gateway?: string;
      nexthops?: { gateway: string }[];
    }[])
      out.set(r.dst, (r.gateway ? [r.gateway] : (r.nexthops ?? []).map((h) => h.gateway)).sort());
    return out;
  }

  /** Asserts every client's kernel holds exactly every other node's blocks (each family the fabric has), via the owner. */
  async assertClientRoutes(): Promise<void> {
    const families = this.options.ipv6 ? ([4, 6] as const) : ([4] as const);
    await Promise.all(
      this.clients.map(async (c) => {
        for (const family of families) {
          const want = new Map<string, string[]>();
          for (const n of this.nodes)
            if (n !== c)
              for (const b of n.blocks.filter((x) => x.includes(':') === (family === 6)))
                want.set(b, [family === 4 ? n.address : n.address6!]);
          const got = await this.kernelRoutes(c, family);
          assert.deepEqual(
            [...got.entries()].sort(),
            [...want.entries()].sort(),
            `${c.name}: BIRD's IPv${family} kernel routes are not every other node's block via its owner`,
          );
        }
      }),
    );
  }

  /** BIRD's sessions on `node` (`birdc show protocols all`, parsed as `tessera node status` does). */
  async sessions(node: RrNode): Promise<PeerStatus[]> {
    const text = await node.writer.birdc('show', 'protocols', 'all');
    return text ? parseBirdProtocols(text) : [];
  }

  private async build(): Promise<void> {
    this.created.push(this.fabricNetns);
    await addNetns(this.fabricNetns);
    await ipBatch(this.fabricNetns, ['link add br0 type bridge stp_state 0 forward_delay 0', 'link set br0 up']);
    await forEachLimit(this.nodes, this.options.concurrency ?? 8, async (n) => {
      const i = this.nodes.indexOf(n);
      this.created.push(n.netns);
      await addNetns(n.netns);
      // Both ends placed at creation: nothing ever appears in the root netns.
      await run([
        'ip',
        'link',
        'add',
        'eth0',
        'netns',
        n.netns,
        'address',
        macOf(i),
        'type',
        'veth',
        'peer',
        'name',
        `n${i}`,
        'netns',
        this.fabricNetns,
      ]);
      await ipBatch(this.fabricNetns, [`link set n${i} master br0`, `link set n${i} up`]);
      // Reflector <-> client neighbours are pinned: with hundreds of ports on one bridge, ARP
      // broadcasts got lost (reflector neighbours INCOMPLETE, sessions stuck in Connect at 400
      // clients), which is the test fabric's limit, not BGP's. Client <-> client traffic still ARPs.
      const pinned = this.nodes.filter((x) => x !== n && (n.reflector || x.reflector));
      await ipBatch(n.netns, [
        `address add ${n.address}/16 dev eth0`,
        // nodad: usable at once (no duplicate address detection wait).
        ...(n.address6 ? [`address add ${n.address6}/64 dev eth0 nodad`] : []),
        'link set eth0 up',
        ...pinned.flatMap((x) =>
          [x.address, x.address6]
            .filter((a) => a !== undefined)
            .map((a) => `neigh replace ${a} lladdr ${macOf(this.nodes.indexOf(x))} dev eth0 nud permanent`),
        ),
      ]);
    });
  }

  /** Kills BIRD (and anything else) in every namespace this fabric made, deletes them and the dir. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await forEachLimit([...this.created].reverse(), this.options.concurrency ?? 8, async (ns) => {
      await killNetnsProcesses(ns);
      await deleteNetns(ns);
    }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
