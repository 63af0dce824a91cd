/**
 * IPAM join storm on real etcd: 60 nodes, each with its own etcd client, claim their first block
 * at the same moment from one pool. No block may end up with two owners, no address may be handed
 * out twice, and every node gets an address from its own block. (The 500-node run with timings is
 * in `make bench-scale`.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdBackend } from '../src/datastore/index.js';
import { IpamClient } from '../src/ipam/index.js';
import { startEtcd, type EtcdHandle } from '../src/lab/etcd.js';
import { runJoinStorm } from '../bench/scale/join-storm.js';

let etcd: EtcdHandle | undefined;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

test(
  'join storm: 60 nodes claim their first block at once: no double claims, everyone addressed',
  { timeout: 120_000 },
  async () => {
    const { results, audit } = await runJoinStorm({
      endpoints: etcd!.endpoints,
      nodes: 60,
      procs: 0,
      poolCidr: '10.64.0.0/20',
    });
    assert.deepEqual(audit.errors, []);
    assert.equal(audit.addressed, 60);
    assert.equal(audit.doubleClaims, 0);
    assert.equal(audit.borrowed, 0, 'with room in the pool, nobody borrows');
    assert.equal(new Set(results.map((r) => r.blockCidr)).size, 60, 'one block per node');
    const admin = new EtcdBackend({ endpoints: etcd!.endpoints });
    try {
      const report = await new IpamClient(admin).check({ liveHandles: new Set(results.map((r) => `storm.${r.host}`)) });
      assert.equal(report.problems, 0, JSON.stringify(report).slice(0, 800));
    } finally {
      await admin.close();
    }
  },
);
