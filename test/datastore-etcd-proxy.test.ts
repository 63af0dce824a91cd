/**
 * The datastore through `etcd grpc-proxy` (etcd's own watch-coalescing proxy): the Backend contract
 * and the Syncer's guarantees must hold exactly as they do against etcd itself, including resume
 * from a revision, compaction (re-list, emit only the difference) and a proxy that crashes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runBackendContract } from '../src/datastore/contract.js';
import { EtcdBackend, Syncer, type SyncStatus, type SyncUpdate } from '../src/datastore/index.js';
import { startEtcd, startEtcdProxy, type EtcdHandle, type EtcdProxyHandle } from '../src/lab/etcd.js';
import { checkSyncerAcrossRestart } from './helpers/syncer-checks.js';

let etcd: EtcdHandle | undefined;
let proxy: EtcdProxyHandle | undefined;
const env = {
  get etcd(): EtcdHandle {
    if (!etcd) throw new Error('etcd is not started yet');
    return etcd;
  },
};
const proxied = (): string[] => {
  if (!proxy) throw new Error('the proxy is not started yet');
  return proxy.endpoints;
};

before(async () => {
  etcd = await startEtcd({ unixSocket: true });
  // Through the unix listener, as a lab node's proxy reaches etcd.
  proxy = await startEtcdProxy({ endpoints: env.etcd.unixEndpoints ?? env.etcd.endpoints });
});
after(async () => {
  await proxy?.stop();
  await etcd?.stop();
});

runBackendContract('etcd through grpc-proxy', () => new EtcdBackend({ endpoints: proxied() }), {
  leaseExpiresOnClose: false,
});

test(
  'grpc-proxy: a proxy killed (SIGKILL) and restarted under a syncer loses and duplicates nothing',
  { timeout: 60_000 },
  async () => {
    await checkSyncerAcrossRestart({
      writerEndpoints: env.etcd.endpoints,
      readerEndpoints: proxied(),
      prefix: '/proxy-restart/',
      restart: async () => {
        const before = proxy!.pid;
        await proxy!.kill();
        await new Promise((r) => setTimeout(r, 300)); // the syncer notices and backs off
        await proxy!.restart();
        assert.notEqual(proxy!.pid, before);
      },
    });
  },
);

test(
  'grpc-proxy: a syncer resumes from its revision, and after a compaction re-lists and emits only the difference',
  { timeout: 60_000 },
  async () => {
    const writer = new EtcdBackend({ endpoints: env.etcd.endpoints });
    const reader = new EtcdBackend({ endpoints: proxied() });
    const updates: SyncUpdate[] = [];
    const statuses: SyncStatus[] = [];
    const syncer = new Syncer({
      backend: reader,
      prefixes: ['/proxy-compact/'],
      onUpdates: (u) => void updates.push(...u),
      onStatus: (s) => void statuses.push(s),
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    });
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!cond()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await writer.put('/proxy-compact/same', 's');
      await writer.put('/proxy-compact/changed', 'c1');
      await writer.put('/proxy-compact/gone', 'g');
      syncer.start();
      await syncer.waitFor('in-sync');
      assert.equal(updates.length, 3);
      // Live through the proxy: one change arrives once.
      const live = await writer.put('/proxy-compact/live', 'l');
      await until(() => updates.length === 4, 'the live update');
      assert.equal(updates[3]!.revision, live.revision);
      // The proxy dies; meanwhile history the syncer has not seen is written and compacted away.
      await proxy!.kill();
      const changed = await writer.put('/proxy-compact/changed', 'c2');
      await writer.delete('/proxy-compact/gone');
      await writer.put('/proxy-compact/churn', 'x');
      await writer.delete('/proxy-compact/churn');
      const added = await writer.put('/proxy-compact/new', 'n');
      await writer.compact(await writer.revision());
      const listRevision = await writer.revision();
      await proxy!.restart();
      await until(() => statuses.length === 4, 'resync then in-sync');
      assert.deepEqual(statuses, ['wait', 'in-sync', 'resync', 'in-sync']);
      const diff = updates
        .slice(4)
        .map((u) => ({ key: u.key, value: u.value, revision: u.revision }))
        .sort((x, y) => x.key.localeCompare(y.key));
      // The delete carries the re-list's revision: at least the one read before the restart (a
      // write elsewhere in this etcd in between, such as a lease expiring, moves it on).
      const gone = diff.find((u) => u.key === '/proxy-compact/gone');
      assert.ok(gone && gone.revision >= listRevision, JSON.stringify(diff));
      assert.deepEqual(
        diff.map((u) => (u.key === '/proxy-compact/gone' ? { ...u, revision: listRevision } : u)),
        [
          { key: '/proxy-compact/changed', value: 'c2', revision: changed.revision },
          { key: '/proxy-compact/gone', value: undefined, revision: listRevision },
          { key: '/proxy-compact/new', value: 'n', revision: added.revision },
        ],
      );
      // And it keeps streaming afterwards.
      const after = await writer.put('/proxy-compact/after', 'a');
      await until(() => updates[updates.length - 1]?.revision === after.revision, 'an update after the resync');
    } finally {
      await syncer.stop();
      await writer.close();
      await reader.close();
    }
  },
);
