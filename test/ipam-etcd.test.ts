/**
 * IPAM against real etcd: 3 hosts × 100 concurrent autoAssigns, each host with its own etcd
 * client (as separate nodes would have). Every address unique, all released, check clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdBackend, ipamKeys } from '../src/datastore/index.js';
import { startEtcd, type EtcdHandle } from '../src/lab/etcd.js';
import { IpamClient, putPool, type AutoAssignResult } from '../src/ipam/index.js';

const TS = '2024-01-01T00:00:00.000Z';
const HOSTS = ['node-a', 'node-b', 'node-c'];

let etcd: EtcdHandle;
const clients: EtcdBackend[] = [];

before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  for (const c of clients) await c.close();
  await etcd?.stop();
});

function client(): EtcdBackend {
  const c = new EtcdBackend({ endpoints: etcd.endpoints });
  clients.push(c);
  return c;
}

async function runHosts(prefix: string, perHostCount: number, serializePerHost: boolean, dualStack: boolean) {
  const retry = serializePerHost ? {} : { maxAttempts: 400 };
  const perHost = HOSTS.map((host) => ({ host, ipam: new IpamClient(client(), { serializePerHost, retry }) }));
  const jobs: Promise<AutoAssignResult>[] = [];
  for (const { host, ipam } of perHost) {
    for (let i = 0; i < perHostCount; i++) {
      jobs.push(
        ipam.autoAssign({
          num4: 1,
          num6: dualStack ? 1 : 0,
          handleId: `${prefix}.${host}-${i}`,
          hostname: host,
          attrs: { node: host, namespace: 'default', pod: `p${i}`, timestamp: TS },
        }),
      );
    }
  }
  const results = await Promise.all(jobs);
  return { perHost, results };
}

describe('IPAM on real etcd', () => {
  test('3 hosts × 100 concurrent dual-stack assigns (per-host queue): unique, released, check clean', async () => {
    const admin = client();
    await putPool(admin, 'v4', { cidr: '10.200.0.0/16' });
    await putPool(admin, 'v6', { cidr: 'fd00:200::/48' });
    const { perHost, results } = await runHosts('q', 100, true, true);
    const v4 = results.map((r) => r.ipv4[0]!.address);
    const v6 = results.map((r) => r.ipv6[0]!.address);
    assert.equal(new Set(v4).size, 300);
    assert.equal(new Set(v6).size, 300);
    const ipam = new IpamClient(admin);
    const live = new Set(HOSTS.flatMap((h) => Array.from({ length: 100 }, (_, i) => `q.${h}-${i}`)));
    const report = await ipam.check({ liveHandles: live });
    assert.equal(report.problems, 0, JSON.stringify(report).slice(0, 800));
    // Each host's addresses come from its own blocks (no borrowing was needed).
    for (const [idx, r] of results.entries()) {
      const host = HOSTS[Math.floor(idx / 100)]!;
      const info = await ipam.lookupIp(r.ipv4[0]!.address);
      assert.equal(info.affinity, `host:${host}`);
    }
    await Promise.all(
      perHost.flatMap(({ host, ipam: c }) =>
        Array.from({ length: 100 }, (_, i) => c.releaseByHandle(`q.${host}-${i}`)),
      ),
    );
    const usage = await ipam.usage();
    assert.deepEqual(
      usage.map((u) => u.inUse),
      [0, 0],
    );
    assert.equal((await admin.list(ipamKeys.handlesPrefix)).items.length, 0);
    assert.equal((await ipam.check({ liveHandles: new Set() })).problems, 0);
  });

  // Without the in-process queues every caller races on the same block (like separate CNI
  // processes without a host lock): correctness must hold from CAS alone; liveness needs a bigger
  // retry budget, so this runs 3 × 20 rather than 3 × 100.
  test('3 hosts × 20 concurrent assigns with no in-process queues (CAS only): unique, released, check clean', async () => {
    const admin = client();
    await putPool(admin, 'v4b', { cidr: '10.201.0.0/16' });
    const { perHost, results } = await runHosts('n', 20, false, false);
    const v4 = results.map((r) => r.ipv4[0]!.address);
    assert.equal(new Set(v4).size, 60);
    const ipam = new IpamClient(admin);
    await Promise.all(
      perHost.flatMap(({ host, ipam: c }) => Array.from({ length: 20 }, (_, i) => c.releaseByHandle(`n.${host}-${i}`))),
    );
    assert.ok((await ipam.usage()).every((u) => u.inUse === 0));
    assert.equal((await ipam.check({ liveHandles: new Set() })).problems, 0);
  });
});
