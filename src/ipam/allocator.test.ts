import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from '../datastore/index.js';
import { ipamKeys } from '../datastore/index.js';
import { isTesseraError } from '../lib/errors.js';
import { cidrContainsIp, parseCidr, parseIp } from '../lib/ip.js';
import { IpamClient } from './client.js';
import { parseBlock } from './block.js';
import { FaultyBackend, putNode, putPool, putReservation, seededRandom } from './testing.js';
import type { AutoAssignArgs } from './types.js';

const TS = '2024-01-01T00:00:00.000Z';
const fastRetry = { backoffBaseMs: 0.2, backoffMaxMs: 4 };

function req(host: string, handle: string, over: Partial<AutoAssignArgs> = {}): AutoAssignArgs {
  return {
    num4: 1,
    num6: 0,
    handleId: handle,
    hostname: host,
    attrs: { node: host, namespace: 'default', pod: handle, timestamp: TS },
    ...over,
  };
}

async function setup(pools: [string, Parameters<typeof putPool>[2]][] = [['default-ipv4', { cidr: '10.244.0.0/16' }]]) {
  const backend = new MemoryBackend();
  for (const [name, spec] of pools) await putPool(backend, name, spec);
  return { backend, ipam: new IpamClient(backend, { retry: fastRetry }) };
}

async function blocks(backend: MemoryBackend) {
  return (await backend.list(ipamKeys.blocksPrefix)).items.map((kv) => parseBlock(kv.value, kv.key));
}

describe('IpamClient.autoAssign', () => {
  test('assigns from a newly claimed affine block, records handle and confirmed affinity', async () => {
    const { backend, ipam } = await setup();
    const r = await ipam.autoAssign(req('n1', 'net.c1'));
    assert.equal(r.ipv4.length, 1);
    const a = r.ipv4[0]!;
    assert.equal(a.prefixLength, 26);
    assert.equal(a.pool, 'default-ipv4');
    assert.ok(cidrContainsIp(parseCidr(a.blockCidr), parseIp(a.address)));
    const bs = await blocks(backend);
    assert.equal(bs.length, 1);
    assert.equal(bs[0]!.affinity, 'host:n1');
    const aff = await backend.get(ipamKeys.affinity('n1', a.blockCidr));
    assert.equal(JSON.parse(aff!.value).state, 'confirmed');
    const h = await backend.get(ipamKeys.handle('net.c1'));
    assert.deepEqual(JSON.parse(h!.value), { handleID: 'net.c1', block: { [a.blockCidr]: 1 } });
    const r2 = await ipam.autoAssign(req('n1', 'net.c2'));
    assert.equal(r2.ipv4[0]!.blockCidr, a.blockCidr, 'second assign reuses the affine block');
    assert.notEqual(r2.ipv4[0]!.address, a.address);
    const info = await ipam.lookupIp(a.address);
    assert.equal(info.state, 'allocated');
    assert.equal(info.handleId, 'net.c1');
    assert.equal(info.attrs?.['pod'], 'net.c1');
  });

  test('dual stack in one call', async () => {
    const { ipam } = await setup([
      ['v4', { cidr: '10.1.0.0/24' }],
      ['v6', { cidr: 'fd00:1::/64' }],
    ]);
    const r = await ipam.autoAssign(req('n1', 'net.d', { num4: 1, num6: 1 }));
    assert.equal(r.ipv4.length, 1);
    assert.equal(r.ipv6.length, 1);
    assert.equal(r.ipv6[0]!.prefixLength, 122);
    assert.equal(r.ipv6[0]!.family, 6);
    const byHandle = await ipam.ipsByHandle('net.d');
    assert.deepEqual(byHandle.map((x) => x.address).sort(), [r.ipv4[0]!.address, r.ipv6[0]!.address].sort());
  });

  test('300 concurrent assigns across 3 hosts with injected conflicts: unique, then all released', async () => {
    const mem = new MemoryBackend();
    await putPool(mem, 'p', { cidr: '10.50.0.0/20' });
    const faulty = new FaultyBackend(mem, { conflictRate: 0.2, random: seededRandom(7), interleave: true });
    // No per-host queue: correctness must come from CAS alone.
    const ipam = new IpamClient(faulty, {
      serializePerHost: false,
      retry: { ...fastRetry, maxAttempts: 400, random: seededRandom(3) },
    });
    const jobs = [];
    for (let i = 0; i < 300; i++) jobs.push(ipam.autoAssign(req(`n${i % 3}`, `net.c${i}`)));
    const results = await Promise.all(jobs);
    const addrs = results.map((r) => r.ipv4[0]!.address);
    assert.equal(new Set(addrs).size, 300, 'every address unique');
    assert.ok(faulty.injected > 0, 'conflicts were injected');
    const report = await ipam.check({ liveHandles: new Set(results.map((_, i) => `net.c${i}`)) });
    assert.equal(report.problems, 0, JSON.stringify(report).slice(0, 500));
    // Every block is affine to one of the three hosts.
    for (const b of await blocks(mem)) assert.match(b.affinity ?? '', /^host:n[012]$/);
    await Promise.all(results.map((_, i) => ipam.releaseByHandle(`net.c${i}`)));
    for (const b of await blocks(mem))
      assert.equal(b.unallocated.length, b.allocations.length, `block ${b.cidr} empty`);
    assert.equal((await mem.list(ipamKeys.handlesPrefix)).items.length, 0);
    assert.equal((await ipam.check({ liveHandles: new Set() })).problems, 0);
  });

  test('interrupted claim: pending affinity without a block is deleted, with a block is confirmed', async () => {
    const { backend, ipam } = await setup([['p', { cidr: '10.9.0.0/24' }]]);
    await backend.put(
      ipamKeys.affinity('n1', '10.9.0.192/26'),
      JSON.stringify({ host: 'n1', cidr: '10.9.0.192/26', state: 'pending' }),
    );
    // A claim that died after creating the block, before confirming.
    await backend.put(
      ipamKeys.affinity('n1', '10.9.0.64/26'),
      JSON.stringify({ host: 'n1', cidr: '10.9.0.64/26', state: 'pending' }),
    );
    const { newBlock } = await import('./block.js');
    await backend.create(
      ipamKeys.block('10.9.0.64/26'),
      JSON.stringify(newBlock(parseCidr('10.9.0.64/26'), 'host:n1')),
    );
    const before = await ipam.check();
    assert.equal(before.affinityProblems.length, 2);
    const r = await ipam.autoAssign(req('n1', 'net.x'));
    assert.equal(r.ipv4[0]!.blockCidr, '10.9.0.64/26', 'the repaired block is used');
    assert.equal(await backend.get(ipamKeys.affinity('n1', '10.9.0.192/26')), undefined);
    assert.equal(JSON.parse((await backend.get(ipamKeys.affinity('n1', '10.9.0.64/26')))!.value).state, 'confirmed');
    assert.equal((await ipam.check()).problems, 0);
  });

  test('maxBlocksPerHost then borrowing; strictAffinity forbids borrowing; exhaustion names the pool', async () => {
    const { backend, ipam } = await setup([['small', { cidr: '10.7.0.0/27', blockSize: 28 }]]);
    await ipam.setConfig({ maxBlocksPerHost: 1 });
    const other = await ipam.autoAssign(req('n2', 'net.o'));
    const mine = await ipam.autoAssign(req('n1', 'net.m', { num4: 16 }));
    assert.ok(
      mine.ipv4.every((a) => a.blockCidr !== other.ipv4[0]!.blockCidr),
      'n1 filled its own block',
    );
    const borrowed = await ipam.autoAssign(req('n1', 'net.b'));
    assert.equal(borrowed.ipv4[0]!.blockCidr, other.ipv4[0]!.blockCidr, 'borrowed from n2');
    await ipam.setConfig({ strictAffinity: true });
    await assert.rejects(ipam.autoAssign(req('n1', 'net.s')), (err: unknown) => {
      assert.ok(isTesseraError(err, 'exhausted'));
      // The host hit its own block limit (maxBlocksPerHost): say that, once, not "pool exhausted".
      assert.match(err.message, /it may claim no new block \(it holds 1, maxBlocksPerHost=1\)/);
      assert.match(err.message, /strictAffinity forbids borrowing the 14 free address\(es\) in other hosts' blocks/);
      assert.doesNotMatch(err.message, /exhausted/);
      assert.equal(err.message.split('maxBlocksPerHost').length, 2, err.message);
      return true;
    });
    assert.equal(await backend.get(ipamKeys.handle('net.s')), undefined, 'failed assign leaves no handle');
    assert.deepEqual(await ipam.getConfig(), { strictAffinity: true, maxBlocksPerHost: 1 });
  });

  test("strictAffinity exhaustion names the requested pool, not the host's full block in another, once", async () => {
    const { ipam } = await setup([
      ['big', { cidr: '10.1.0.0/28', blockSize: 28 }],
      ['tiny', { cidr: '10.2.0.0/30', blockSize: 30 }],
    ]);
    await ipam.autoAssign(req('n1', 'net.full', { num4: 16, ipv4Pools: ['big'] }));
    await ipam.autoAssign(req('n2', 'net.o', { ipv4Pools: ['tiny'] }));
    await ipam.setConfig({ strictAffinity: true });
    await assert.rejects(ipam.autoAssign(req('n1', 'net.s', { ipv4Pools: ['tiny'] })), (err: unknown) => {
      assert.ok(isTesseraError(err, 'exhausted'));
      assert.equal(
        err.message,
        'cannot assign 1 IPv4 address(es) for handle "net.s" on host "n1": pool "tiny" (10.2.0.0/30): ' +
          'the host has no block of its own in the pool, the pool has no unclaimed block left, and ' +
          "strictAffinity forbids borrowing the 3 free address(es) in other hosts' blocks",
      );
      return true;
    });
    // Both pools: the host's block in "big" is full, and the only borrowable addresses are n2's.
    await assert.rejects(ipam.autoAssign(req('n1', 'net.t')), (err: unknown) => {
      assert.ok(isTesseraError(err, 'exhausted'));
      assert.match(
        err.message,
        /pools "big" \(10\.1\.0\.0\/28\), "tiny" \(10\.2\.0\.0\/30\): the host's 1 block\(s\) in these pools are full/,
      );
      assert.equal(err.message.split('"tiny"').length, 2, err.message);
      return true;
    });
    await ipam.setConfig({ strictAffinity: false });
    assert.equal(
      (await ipam.autoAssign(req('n1', 'net.u', { ipv4Pools: ['tiny'] }))).ipv4.length,
      1,
      'borrows when allowed',
    );
  });

  test('pool exhaustion releases partial assignments and names the pool', async () => {
    const { backend, ipam } = await setup([['tiny', { cidr: '10.8.0.0/30', blockSize: 30 }]]);
    await ipam.autoAssign(req('n1', 'net.a', { num4: 3 }));
    await assert.rejects(ipam.autoAssign(req('n2', 'net.b', { num4: 2 })), (err: unknown) => {
      assert.ok(isTesseraError(err, 'exhausted'));
      assert.match(err.message, /"tiny" \(10\.8\.0\.0\/30\)/);
      return true;
    });
    assert.equal(await backend.get(ipamKeys.handle('net.b')), undefined);
    assert.equal((await ipam.usage())[0]!.inUse, 3);
  });

  test('IPReservation addresses are never handed out', async () => {
    const { backend, ipam } = await setup([['p', { cidr: '10.6.0.0/28', blockSize: 28 }]]);
    await putReservation(backend, 'r', ['10.6.0.0/30', '10.6.0.9']);
    const r = await ipam.autoAssign(req('n1', 'net.a', { num4: 11 }));
    const got = r.ipv4.map((a) => a.address);
    for (const bad of ['10.6.0.0', '10.6.0.1', '10.6.0.2', '10.6.0.3', '10.6.0.9']) assert.ok(!got.includes(bad), bad);
    await assert.rejects(ipam.autoAssign(req('n1', 'net.b')), { code: 'exhausted' });
    await assert.rejects(
      ipam.assignIp({ ip: '10.6.0.9', handleId: 'net.c', hostname: 'n1', attrs: { node: 'n1', timestamp: TS } }),
      { code: 'validation' },
    );
    assert.equal((await ipam.lookupIp('10.6.0.9')).state, 'reserved');
  });

  test('nodeSelector, disabled pools, allowedUses and unknown requested pools', async () => {
    const { backend, ipam } = await setup([
      ['zone-a', { cidr: '10.10.0.0/24', nodeSelector: "zone == 'a'" }],
      ['off', { cidr: '10.11.0.0/24', disabled: true }],
      ['tunnels', { cidr: '10.12.0.0/24', allowedUses: ['Tunnel'] }],
    ]);
    await putNode(backend, 'na', { zone: 'a' });
    await putNode(backend, 'nb', { zone: 'b' });
    const a = await ipam.autoAssign(req('na', 'net.a'));
    assert.equal(a.ipv4[0]!.pool, 'zone-a');
    await assert.rejects(ipam.autoAssign(req('nb', 'net.b')), { code: 'exhausted' });
    const t = await ipam.autoAssign(req('nb', 'tunnel.nb', { use: 'Tunnel' }));
    assert.equal(t.ipv4[0]!.pool, 'tunnels');
    await assert.rejects(ipam.autoAssign(req('na', 'net.c', { ipv4Pools: ['nope'] })), (err: unknown) => {
      assert.ok(isTesseraError(err, 'not-found'));
      assert.match(err.message, /"nope"/);
      return true;
    });
    await assert.rejects(ipam.autoAssign(req('na', 'net.c', { ipv4Pools: ['off'] })), { code: 'validation' });
    const byCidr = await ipam.autoAssign(req('na', 'net.d', { ipv4Pools: ['10.10.0.0/24'] }));
    assert.equal(byCidr.ipv4[0]!.pool, 'zone-a');
  });

  test('a failing IPv6 half of a dual-stack assign gives back the IPv4 address', async () => {
    const { backend, ipam } = await setup([['v4', { cidr: '10.1.0.0/24' }]]);
    await assert.rejects(ipam.autoAssign(req('n1', 'net.x', { num4: 1, num6: 1 })), { code: 'exhausted' });
    assert.equal(await backend.get(ipamKeys.handle('net.x')), undefined);
    assert.equal((await ipam.usage())[0]!.inUse, 0);
  });
});

describe('IpamClient release', () => {
  test('stale release with an old sequence number does not free the reused address', async () => {
    const { ipam } = await setup([['p', { cidr: '10.5.0.0/30', blockSize: 30 }]]);
    const first = (await ipam.autoAssign(req('n1', 'net.a', { num4: 4 }))).ipv4;
    const victim = first[0]!;
    const r1 = await ipam.releaseIps([{ address: victim.address, sequenceNumber: victim.sequenceNumber }]);
    assert.deepEqual(r1.released, [victim.address]);
    const again = (await ipam.autoAssign(req('n1', 'net.b'))).ipv4[0]!;
    assert.equal(again.address, victim.address, 'address reused');
    const stale = await ipam.releaseIps([{ address: victim.address, sequenceNumber: victim.sequenceNumber }]);
    assert.deepEqual(stale.stale, [victim.address]);
    assert.equal((await ipam.lookupIp(victim.address)).handleId, 'net.b');
  });

  test('releaseByHandle and releaseIps are idempotent', async () => {
    const { backend, ipam } = await setup();
    const r = await ipam.autoAssign(req('n1', 'net.a', { num4: 2 }));
    assert.equal((await ipam.releaseByHandle('net.a')).released.length, 2);
    assert.equal((await ipam.releaseByHandle('net.a')).released.length, 0);
    const again = await ipam.releaseIps([r.ipv4[0]!.address, '192.0.2.1']);
    assert.deepEqual(again.released, []);
    assert.deepEqual(again.notAllocated.sort(), [r.ipv4[0]!.address, '192.0.2.1'].sort());
    assert.equal(await backend.get(ipamKeys.handle('net.a')), undefined);
  });

  test('assignIp takes a specific address once; a borrowed empty block without affinity is deleted', async () => {
    const { backend, ipam } = await setup([['p', { cidr: '10.4.0.0/24' }]]);
    const a = await ipam.assignIp({
      ip: '10.4.0.77',
      handleId: 'net.s',
      hostname: 'n1',
      attrs: { node: 'n1', timestamp: TS },
    });
    assert.equal(a.blockCidr, '10.4.0.64/26');
    await assert.rejects(
      ipam.assignIp({ ip: '10.4.0.77', handleId: 'net.t', hostname: 'n1', attrs: { node: 'n1', timestamp: TS } }),
      { code: 'already-exists' },
    );
    await ipam.releaseHostAffinities('n1');
    const [b] = await blocks(backend);
    assert.equal(b!.affinity, null, 'non-empty block loses its affinity');
    await ipam.releaseIps(['10.4.0.77']);
    assert.equal((await blocks(backend)).length, 0, 'empty unaffine block deleted');
  });
});

describe('IpamClient.check / releaseFromReport', () => {
  test('finds leaks and orphans, releaseFromReport cleans them up', async () => {
    const { backend, ipam } = await setup();
    await ipam.autoAssign(req('n1', 'net.live'));
    const dead = await ipam.autoAssign(req('n1', 'net.dead'));
    // Orphan allocation: handle record lost.
    const orphan = await ipam.autoAssign(req('n1', 'net.orphan'));
    await backend.delete(ipamKeys.handle('net.orphan'));
    // Orphan handle: a record pointing at a block where it holds nothing.
    await backend.put(
      ipamKeys.handle('net.ghost'),
      JSON.stringify({ handleID: 'net.ghost', block: { [dead.ipv4[0]!.blockCidr]: 1 } }),
    );
    const report = await ipam.check({ liveHandles: new Set(['net.live', 'net.orphan']) });
    assert.deepEqual(
      report.leaks.map((l) => l.address),
      [dead.ipv4[0]!.address],
    );
    assert.deepEqual(
      report.orphanAllocations.map((l) => l.address),
      [orphan.ipv4[0]!.address],
    );
    assert.deepEqual(
      report.orphanHandles.map((h) => h.handleId),
      ['net.ghost'],
    );
    assert.equal(report.problems, 3);
    const roundTripped = JSON.parse(JSON.stringify(report));
    const rel = await ipam.releaseFromReport(roundTripped);
    assert.deepEqual(rel.released.sort(), [dead.ipv4[0]!.address, orphan.ipv4[0]!.address].sort());
    const after = await ipam.check({ liveHandles: new Set(['net.live']) });
    assert.equal(after.problems, 0, JSON.stringify(after));
    assert.equal((await ipam.lookupIp(dead.ipv4[0]!.address)).state, 'free');
  });

  test('releaseFromReport skips an address reused since the report', async () => {
    const { ipam } = await setup([['p', { cidr: '10.3.0.0/30', blockSize: 30 }]]);
    const a = await ipam.autoAssign(req('n1', 'net.old', { num4: 4 }));
    const report = await ipam.check({ liveHandles: new Set() });
    assert.equal(report.leaks.length, 4);
    await ipam.releaseByHandle('net.old');
    await ipam.autoAssign(req('n1', 'net.new', { num4: 4 }));
    const rel = await ipam.releaseFromReport(report);
    assert.deepEqual(rel.released, []);
    assert.equal(rel.stale.length, 4);
    assert.equal((await ipam.lookupIp(a.ipv4[0]!.address)).handleId, 'net.new');
  });
});
