/**
 * The agent's loop on the memory backend, with fake drivers and fake kernel programmers (no kernel
 * access: host facts, routes, NAT and /proc/sys are stand-ins; no route monitor): the in-sync
 * gate, one full apply per driver after in-sync, the retry schedule with its problem reported and
 * cleared, and one loop per driver (a slow driver does not hold up another).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { lookupKind, type Resource } from '../api/index.js';
import { MemoryBackend, ResourceStore } from '../datastore/index.js';
import type { ApplyStats, RouteState } from '../dataplane/routes/index.js';
import { Agent } from './agent.js';
import type { DataplaneDriver } from './driver.js';
import { RETRY, retryDelayMs } from './driver-loop.js';

const C = 'projectcalico.org/v3';

/** A MemoryBackend whose lists (the syncer's initial reads) wait until `release()`. */
class GatedBackend extends MemoryBackend {
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  release(): void {
    this.open();
  }
  override async list(prefix: string, signal?: AbortSignal) {
    await this.gate;
    return super.list(prefix, signal);
  }
}

class FakeDriver implements DataplaneDriver {
  /** `full` of every apply, in order. */
  readonly applies: boolean[] = [];
  changes = 0;
  /** The next N applies fail. */
  failNext = 0;
  /** While set, apply waits for it. */
  hold: Promise<void> | undefined;
  constructor(readonly name: string) {}
  onChange(): void {
    this.changes++;
  }
  async apply(_mirror: unknown, full: boolean): Promise<void> {
    this.applies.push(full);
    if (this.hold) await this.hold;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`${this.name} cannot program`);
    }
  }
  problems(): string[] {
    return [];
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond();) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function harness(drivers: DataplaneDriver[], o: { gated?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-agent-'));
  const sysctlRoot = join(dir, 'sys');
  mkdirSync(join(sysctlRoot, 'net/ipv4'), { recursive: true });
  writeFileSync(join(sysctlRoot, 'net/ipv4/ip_forward'), '0\n');
  mkdirSync(join(sysctlRoot, 'net/netfilter'), { recursive: true });
  writeFileSync(join(sysctlRoot, 'net/netfilter/nf_conntrack_tcp_be_liberal'), '0\n');
  const gated = new GatedBackend();
  if (!o.gated) gated.release();
  const backend = gated;
  const logs: { msg: string; dataplane?: string; retryInMs?: number; err?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const routeCalls: { state: RouteState; full: boolean }[] = [];
  const agent = new Agent({
    nodeName: 'n1',
    backend,
    stateDir: join(dir, 'state'),
    logger,
    ipv4Autodetection: { kind: 'first-found' },
    interfacePrefix: 'cali',
    routing: 'agent',
    resyncIntervalMs: 3_600_000,
    drivers,
    retry: { firstMs: 20, maxMs: 80 },
    kernel: {
      hostFacts: async () => ({ address: '192.168.1.10/24', address6: undefined, mtu: 1500, ipipSupported: false }),
      routes: {
        apply: async (state: RouteState, _v: unknown, opts: { full: boolean }): Promise<ApplyStats> => {
          routeCalls.push({ state, full: opts.full });
          return { routeChanges: 0, vtepChanges: 0, skippedRoutes: 0 };
        },
        close: () => undefined,
      },
      nat: { apply: async () => false, close: () => undefined },
      sysctlRoot,
    },
  });
  const store = new ResourceStore(backend);
  const put = (r: Resource) => store.create(r);
  return {
    agent,
    backend,
    logs,
    routeCalls,
    put,
    sysctl: () => readFileSync(join(sysctlRoot, 'net/ipv4/ip_forward'), 'utf8').trim(),
    cleanup: async () => {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const policy = (name: string): Resource => ({
  apiVersion: C,
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec: { selector: 'all()' },
});
const pool = (name: string, cidr: string): Resource => ({
  apiVersion: C,
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false },
});

test('retry schedule: 1 s doubling per consecutive failure, capped at 30 s', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 100].map((n) => retryDelayMs(n)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
  assert.deepEqual(RETRY, { firstMs: 1000, maxMs: 30_000 });
});

test('agent: no apply before in-sync; then every driver (routing, fakes, sysctls) applies once, in full', async (t) => {
  const a = new FakeDriver('a');
  const b = new FakeDriver('b');
  const h = harness([a, b], { gated: true });
  t.after(h.cleanup);
  await h.put(pool('p', '10.244.0.0/16'));
  const started = h.agent.start();
  // Registration and the datastore writes above happened; the syncer's lists are held back.
  await new Promise((r) => setTimeout(r, 100));
  h.agent.kick();
  assert.deepEqual([a.applies, b.applies, h.routeCalls.length], [[], [], 0], 'nothing applied before in-sync');
  assert.equal(h.sysctl(), '0');
  assert.equal(h.agent.isReady(), false);
  h.backend.release();
  await started;
  await until('every driver applied', () => h.agent.isReady());
  await h.agent.settle();
  // Later runs (the registrar's own Node writes are datastore changes too) are not full.
  const fulls = (applies: boolean[]) => [applies[0], applies.filter((f) => f).length];
  assert.deepEqual(fulls(a.applies), [true, 1]);
  assert.deepEqual(fulls(b.applies), [true, 1]);
  assert.deepEqual(fulls(h.routeCalls.map((c) => c.full)), [true, 1]);
  assert.ok(a.changes > 0, 'changes before in-sync reach onChange too');
  assert.equal(h.sysctl(), '1', 'the sysctl driver ran after in-sync');
  const st = h.agent.statusObject();
  assert.equal(st.lastApplyError, null);
  const failures = await h.agent.metrics.applyFailures.get();
  assert.deepEqual(failures.values.map((v) => v.labels.dataplane).sort(), ['a', 'b', 'routes', 'sysctl']);
});

test('agent: a failing driver is retried on the schedule, in full, its problem reported and then cleared', async (t) => {
  const bad = new FakeDriver('bad');
  const good = new FakeDriver('good');
  bad.failNext = 3;
  const h = harness([bad, good]);
  t.after(h.cleanup);
  await h.agent.start();
  await until('the first failure is reported', () => h.agent.statusObject().lastApplyError !== null);
  const st = h.agent.statusObject();
  assert.equal(st.lastApplyError, 'bad: bad cannot program');
  assert.ok(st.problems.includes('bad: bad cannot program'), JSON.stringify(st.problems));
  assert.equal(h.agent.isReady(), false, 'not ready until every driver has applied');
  await until('bad recovered', () => bad.applies.length >= 4 && h.agent.statusObject().lastApplyError === null);
  await h.agent.settle();
  // Runs in between (the Node's conditions are a datastore change) count as attempts too.
  assert.deepEqual(bad.applies.slice(0, 4), [true, true, true, true], 'every retry applies in full');
  const retries = h.logs.filter((l) => l.msg === 'apply failed; will retry');
  assert.deepEqual(
    retries.map((l) => [l.dataplane, l.retryInMs]),
    [
      ['bad', 20],
      ['bad', 40],
      ['bad', 80],
    ],
  );
  const st2 = h.agent.statusObject();
  assert.deepEqual(st2.problems, []);
  assert.equal(h.agent.isReady(), true);
  const failures = (await h.agent.metrics.applyFailures.get()).values.find((v) => v.labels.dataplane === 'bad');
  assert.equal(failures?.value, 3);
  // A later failure starts the schedule again from the first delay.
  const n = bad.applies.length;
  bad.failNext = 1;
  h.agent.kick();
  await until('second recovery', () => bad.applies.length >= n + 2 && h.agent.statusObject().lastApplyError === null);
  await h.agent.settle();
  assert.deepEqual(
    h.logs.filter((l) => l.msg === 'apply failed; will retry').map((l) => l.retryInMs),
    [20, 40, 80, 20],
  );
});

test('agent: one loop per driver: a slow driver does not hold up the others', async (t) => {
  const slow = new FakeDriver('slow');
  const fast = new FakeDriver('fast');
  let release!: () => void;
  slow.hold = new Promise<void>((r) => (release = r));
  const h = harness([slow, fast]);
  t.after(async () => {
    release();
    await h.cleanup();
  });
  await h.agent.start();
  await until('the first applies', () => slow.applies.length === 1 && fast.applies.length >= 1);
  await h.put(policy('default.p1'));
  const n = fast.applies.length;
  await until('fast applied the change', () => fast.applies.length > n);
  await h.put(pool('p', '10.244.0.0/16'));
  await until('routing applied the pool', () => h.routeCalls.some((c) => c.state.allPools.includes('10.244.0.0/16')));
  assert.equal(slow.applies.length, 1, 'slow is still in its first apply');
  assert.equal(h.agent.isReady(), false, 'slow has not programmed yet');
  release();
  await until('slow ran again with the changes', () => slow.applies.length >= 2);
  await h.agent.settle();
  assert.deepEqual(slow.applies.slice(0, 2), [true, false], 'the queued runs collapse into one');
  assert.equal(h.agent.isReady(), true);
});

test('agent: routing is a driver of the common shape: a policy-only change costs no route cycle', async (t) => {
  const h = harness([]);
  t.after(h.cleanup);
  await h.agent.start();
  await until('ready', () => h.agent.isReady());
  await h.agent.settle();
  const before = h.routeCalls.length;
  await h.put(policy('default.p1'));
  await until('the policy reached the mirror', () => h.agent.mirror.of('GlobalNetworkPolicy').size === 1);
  await h.agent.settle();
  assert.equal(h.routeCalls.length, before, 'no route cycle for a policy');
  await h.put(pool('p', '10.244.0.0/16'));
  await until('a route cycle for the pool', () => h.routeCalls.length > before);
  assert.equal(h.routeCalls.at(-1)?.full, false);
  const seconds = (await h.agent.metrics.applySeconds.get()).values.filter(
    (v) => v.labels.dataplane === 'routes' && v.metricName === 'tessera_agent_apply_seconds_count',
  );
  assert.ok((seconds[0]?.value ?? 0) >= 2, 'route applies are timed by the common loop');
  const node = await new ResourceStore(h.backend).get(lookupKind('Node')!, 'n1');
  assert.ok(node, 'the registrar registered the node');
});
