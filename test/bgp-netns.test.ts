/**
 * Three BIRDs in three network namespaces on one bridge, configured by the renderer: the mesh comes
 * up, blocks are learned into each kernel as proto bird, agent-owned proto 80 routes are neither
 * touched nor advertised, reloads happen only on change, and a stopped BIRD's routes are withdrawn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Resource } from '../src/api/resource.js';
import type { KindInfo } from '../src/api/kind-info.js';
import { run } from '../src/lib/exec.js';
import { sleep } from '../src/lib/clock.js';
import {
  BirdWriter,
  createBgpDriver,
  renderBirdConfig,
  type BgpMirror,
  type BirdConfigInput,
  type StatusStore,
} from '../src/bgp/index.js';
import { node, pool } from '../src/bgp/testdata/scenarios.js';

const NODES = ['n1', 'n2', 'n3'] as const;
const ADDR: Record<string, string> = { n1: '10.123.0.1', n2: '10.123.0.2', n3: '10.123.0.3' };
const BLOCK: Record<string, string> = { n1: '10.244.0.0/26', n2: '10.244.0.64/26', n3: '10.244.0.128/26' };

interface KernelRoute {
  dst: string;
  gateway?: string;
  protocol?: string;
  nexthops?: { gateway: string }[];
}

async function routes(ns: string, proto: string): Promise<KernelRoute[]> {
  const r = await run(['ip', '-n', ns, '-j', 'route', 'show', 'proto', proto]);
  return JSON.parse(r.stdout || '[]') as KernelRoute[];
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

test('BIRD mesh in network namespaces', { timeout: 120_000 }, async (t) => {
  const prefix = `tsr-${randomBytes(3).toString('hex')}-`;
  const ns = (n: string) => `${prefix}${n}`;
  const fabric = ns('fab');
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bgp-netns-'));
  const created: string[] = [];
  const writers: BirdWriter[] = [];
  t.after(async () => {
    for (const w of writers) await w.stop().catch(() => undefined);
    for (const n of created.reverse()) await run(['ip', 'netns', 'del', n], { check: false });
    await rm(dir, { recursive: true, force: true });
  });

  await run(['ip', 'netns', 'add', fabric]);
  created.push(fabric);
  await run(['ip', '-n', fabric, 'link', 'add', 'br0', 'type', 'bridge']);
  await run(['ip', '-n', fabric, 'link', 'set', 'br0', 'up']);
  for (const n of NODES) {
    await run(['ip', 'netns', 'add', ns(n)]);
    created.push(ns(n));
    await run(['ip', 'link', 'add', 'eth0', 'netns', ns(n), 'type', 'veth', 'peer', 'name', n, 'netns', fabric]);
    await run(['ip', '-n', fabric, 'link', 'set', n, 'master', 'br0', 'up']);
    await run(['ip', '-n', ns(n), 'addr', 'add', `${ADDR[n]}/24`, 'dev', 'eth0']);
    await run(['ip', '-n', ns(n), 'link', 'set', 'eth0', 'up']);
    await run(['ip', '-n', ns(n), 'link', 'set', 'lo', 'up']);
  }
  // An agent-owned route (proto 80) inside the pool on n1: BIRD must neither remove nor advertise it.
  await run(['ip', '-n', ns('n1'), 'route', 'add', 'blackhole', '10.244.9.0/26', 'proto', '80']);

  const input = (nodeName: string): BirdConfigInput => ({
    nodeName,
    bgpConfigurations: [],
    nodes: NODES.map((n) => node(n, ADDR[n]!)),
    peers: [],
    filters: [],
    pools: [pool('default-ipv4', '10.244.0.0/16')],
    blocks: NODES.map((n) => ({ cidr: BLOCK[n]!, affinity: `host:${n}` })),
    workloads: [],
  });

  // n1 through the agent driver (mirror + CalicoNodeStatus), n2/n3 straight through the writer.
  const mirrorOf = (i: BirdConfigInput): BgpMirror => {
    const byKind = new Map<string, Map<string, Resource>>();
    const put = (rs: Resource[]) => {
      for (const r of rs) {
        const m = byKind.get(r.kind) ?? new Map<string, Resource>();
        m.set(r.metadata.name, r);
        byKind.set(r.kind, m);
      }
    };
    put([...i.nodes, ...i.pools]);
    return {
      of: (kind: string) => byKind.get(kind) ?? new Map(),
      blocks: new Map(i.blocks.map((b) => [b.cidr, b])),
    };
  };
  const saved = new Map<string, Resource>();
  const store: StatusStore = {
    get: async (_info: KindInfo, name: string) => saved.get(name),
    create: async (r) => (saved.set(r.metadata.name, r), r),
    update: async (r) => (saved.set(r.metadata.name, r), r),
  };
  const driver = createBgpDriver({
    nodeName: 'n1',
    stateDir: join(dir, 'n1'),
    logger: pino({ level: 'silent' }),
    store,
    statusIntervalMs: 200,
    netns: ns('n1'),
  });
  writers.push(driver.writer);
  t.after(() => driver.stop());

  const started = Date.now();
  await driver.apply(mirrorOf(input('n1')), true);
  for (const n of ['n2', 'n3']) {
    const w = new BirdWriter({ stateDir: join(dir, n), netns: ns(n) });
    writers.push(w);
    const r = await w.write(renderBirdConfig(input(n)).text);
    assert.deepEqual(r, { changed: true, reloaded: false, started: true });
  }

  const up = await waitFor('all sessions Established', 60_000, async () => {
    const all = await Promise.all([
      driver.peers(),
      ...writers.slice(1).map(async (w) => (await w.birdc('show', 'protocols')) ?? ''),
    ]);
    const n1 = all[0] as Awaited<ReturnType<typeof driver.peers>>;
    const others = all.slice(1) as string[];
    const ok =
      n1.length === 2 &&
      n1.every((p) => p.bgpState === 'Established') &&
      others.every((o) => (o.match(/Established/g) ?? []).length === 2);
    return ok ? true : undefined;
  });
  // The wait's bound (far below BIRD's 120 s default connect-retry time) is the check; the time is
  // printed, not asserted (noisy CI machines).
  console.log(`# sessions Established ${Date.now() - started} ms after start (${up.ms} ms of waiting)`);

  // Each node learns the other two blocks into its kernel with BIRD's protocol.
  await waitFor('routes learned into every kernel', 15_000, async () => {
    for (const n of NODES) {
      const learned = await routes(ns(n), 'bird');
      for (const o of NODES) {
        if (o === n) continue;
        const r = learned.find((x) => x.dst === BLOCK[o]);
        if (!r || r.gateway !== ADDR[o]) return undefined;
      }
      if (learned.some((x) => x.dst === BLOCK[n])) throw new Error(`${n} programmed its own block into its kernel`);
    }
    return true;
  });
  // The agent's proto 80 route is untouched on n1 and never advertised.
  assert.equal((await routes(ns('n1'), '80')).length, 1);
  for (const n of ['n2', 'n3'])
    assert.equal(
      (await routes(ns(n), 'bird')).some((r) => r.dst === '10.244.9.0/26'),
      false,
    );

  // Status: CalicoNodeStatus published with both mesh peers Established.
  const status = await waitFor('CalicoNodeStatus for n1', 15_000, async () => {
    const st = saved.get('n1')?.status as
      { bgp?: { numberEstablishedV4?: number; peersV4?: { peerIP: string; type: string }[] } } | undefined;
    return st?.bgp?.numberEstablishedV4 === 2 ? st : undefined;
  });
  assert.deepEqual(
    status.value.bgp?.peersV4?.map((p) => [p.peerIP, p.type]),
    [
      ['10.123.0.2', 'NodeMesh'],
      ['10.123.0.3', 'NodeMesh'],
    ],
  );

  // Reload only on change: same text → nothing; new block → exactly one reload; bad config → old one stays.
  const w2 = writers[1]!;
  assert.deepEqual(await w2.write(renderBirdConfig(input('n2')).text), {
    changed: false,
    reloaded: false,
    started: false,
  });
  const more = input('n2');
  more.blocks.push({ cidr: '10.244.1.0/26', affinity: 'host:n2' });
  assert.deepEqual(await w2.write(renderBirdConfig(more).text), { changed: true, reloaded: true, started: false });
  await waitFor('new block learned by n1', 15_000, async () =>
    (await routes(ns('n1'), 'bird')).some((r) => r.dst === '10.244.1.0/26') ? true : undefined,
  );
  await assert.rejects(w2.write('protocol nonsense {}\n'), /BIRD rejected the generated config/);
  assert.ok(await w2.isRunning());
  assert.match((await w2.birdc('show', 'protocols')) ?? '', /Mesh_10_123_0_1 +BGP .* Established/);

  // Stop n3's BIRD: its block disappears from n1 and n2 promptly (Cease, no graceful restart configured).
  await writers[2]!.stop();
  // Bounded far inside the 240 s hold time: withdrawn by the Cease, not by the hold timer.
  const gone = await waitFor("n3's routes withdrawn", 60_000, async () => {
    for (const n of ['n1', 'n2']) if ((await routes(ns(n), 'bird')).some((r) => r.dst === BLOCK.n3)) return undefined;
    return true;
  });
  console.log(`# n3's routes withdrawn ${gone.ms} ms after its BIRD stopped`);
});
