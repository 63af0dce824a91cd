import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from '../datastore/index.js';
import { ipamKeys } from '../datastore/index.js';
import { IpamClient } from './client.js';
import { FaultyBackend, putPool, putReservation, seededRandom } from './testing.js';
import type { AutoAssignArgs } from './types.js';
import type { Backend, TxnOp } from '../datastore/index.js';

const TS = '2024-01-01T00:00:00.000Z';
const fastRetry = { backoffBaseMs: 0.2, backoffMaxMs: 4 };

function req(host: string, handle: string, over: Partial<AutoAssignArgs> = {}): AutoAssignArgs {
  return { num4: 1, num6: 0, handleId: handle, hostname: host, attrs: { node: host, timestamp: TS }, ...over };
}

/** Counts txns so tests can see batching. */
class CountingBackend extends FaultyBackend {
  txns = 0;
  constructor(inner: Backend, conflictRate = 0, seed = 1) {
    super(inner, { conflictRate, random: seededRandom(seed), interleave: true });
  }
  override async txn(ops: TxnOp[], signal?: AbortSignal): Promise<number> {
    this.txns++;
    return super.txn(ops, signal);
  }
}

async function setup(conflictRate = 0) {
  const mem = new MemoryBackend();
  await putPool(mem, 'p4', { cidr: '10.9.0.0/16' });
  const backend = new CountingBackend(mem, conflictRate);
  const ipam = new IpamClient(backend, { retry: fastRetry, hostCache: true });
  return { mem, backend, ipam };
}

describe('IpamClient hostCache fast path', () => {
  test('concurrent assigns are unique, share few txns, and every handle record matches its block', async (t) => {
    const { backend, ipam } = await setup();
    t.after(() => ipam.close());
    await ipam.autoAssign(req('n1', 'net.warm')); // claims the block (plain path)
    const before = backend.txns;
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => ipam.autoAssign(req('n1', `net.c${i}`))));
    const addrs = rs.map((r) => r.ipv4[0]!.address);
    assert.equal(new Set(addrs).size, 30);
    assert.ok(backend.txns - before <= 4, `30 concurrent assigns took ${backend.txns - before} txns`);
    const report = await ipam.check({ liveHandles: () => true });
    assert.equal(report.problems, 0, JSON.stringify(report));
    // Sequence numbers are distinct per assignment.
    assert.equal(new Set(rs.map((r) => r.ipv4[0]!.sequenceNumber)).size, 30);
  });

  test('a write by another client makes the cached block stale: CAS conflict, re-read, still unique', async (t) => {
    const { mem, ipam } = await setup();
    t.after(() => ipam.close());
    const other = new IpamClient(mem, { retry: fastRetry });
    const a = await ipam.autoAssign(req('n1', 'net.a'));
    const b = await other.autoAssign(req('n1', 'net.b')); // same host, same block, not via our cache
    const c = await ipam.autoAssign(req('n1', 'net.c'));
    const all = [a, b, c].map((r) => r.ipv4[0]!.address);
    assert.equal(new Set(all).size, 3, all.join(','));
    assert.equal((await ipam.check({ liveHandles: () => true })).problems, 0);
  });

  test('concurrent releases batch into one txn; addresses are free again; handles gone', async (t) => {
    const { backend, ipam } = await setup();
    t.after(() => ipam.close());
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => ipam.autoAssign(req('n1', `net.r${i}`))));
    const before = backend.txns;
    const out = await Promise.all(rs.map((_, i) => ipam.releaseByHandle(`net.r${i}`)));
    assert.ok(backend.txns - before <= 3, `10 releases took ${backend.txns - before} txns`);
    out.forEach((o, i) => assert.deepEqual(o.released, [rs[i]!.ipv4[0]!.address]));
    for (let i = 0; i < 10; i++) assert.equal(await backend.get(ipamKeys.handle(`net.r${i}`)), undefined);
    const usage = await ipam.usage();
    assert.equal(usage[0]!.inUse, 0);
    // Idempotent.
    assert.deepEqual((await ipam.releaseByHandle('net.r0')).released, []);
  });

  test('an existing handle is left to the plain path (no second create, no duplicate)', async (t) => {
    const { ipam } = await setup();
    t.after(() => ipam.close());
    const first = await ipam.autoAssign(req('n1', 'net.same'));
    const second = await ipam.autoAssign(req('n1', 'net.same'));
    assert.notEqual(first.ipv4[0]!.address, second.ipv4[0]!.address);
    const held = await ipam.ipsByHandle('net.same');
    assert.equal(held.length, 2);
    assert.equal((await ipam.check({ liveHandles: () => true })).problems, 0);
  });

  test('a reservation added later is honoured once the watch delivers it', async (t) => {
    const { mem, ipam } = await setup();
    t.after(() => ipam.close());
    const a = await ipam.autoAssign(req('n1', 'net.x0'));
    const block = a.ipv4[0]!.blockCidr;
    const base = a.ipv4[0]!.address.split('.').slice(0, 3).join('.');
    const last = Number(a.ipv4[0]!.address.split('.')[3]);
    // Reserve the rest of the block: nothing more may come from it.
    const rest = Array.from({ length: 63 }, (_, i) => `${base}.${last + 1 + i}`);
    await putReservation(mem, 'r', rest);
    await new Promise((r) => setTimeout(r, 20));
    const b = await ipam.autoAssign(req('n1', 'net.x1'));
    assert.notEqual(b.ipv4[0]!.blockCidr, block);
    assert.ok(!rest.includes(b.ipv4[0]!.address));
  });

  test('with injected conflicts, 60 concurrent assigns over several blocks stay unique and consistent', async (t) => {
    const { ipam } = await setup(0.3);
    t.after(() => ipam.close());
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => ipam.autoAssign(req('n1', `net.k${i}`))));
    const addrs = rs.map((r) => r.ipv4[0]!.address);
    assert.equal(new Set(addrs).size, 60);
    assert.equal((await ipam.check({ liveHandles: () => true })).problems, 0);
    await Promise.all(rs.map((_, i) => ipam.releaseByHandle(`net.k${i}`)));
    const usage = await ipam.usage();
    assert.equal(usage[0]!.inUse, 0);
    assert.equal((await ipam.check({ liveHandles: () => true })).problems, 0);
  });
});
