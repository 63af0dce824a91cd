/**
 * Syncer checks shared by the direct-etcd and through-grpc-proxy test files: the same assertions
 * must hold whichever way the agent reaches etcd.
 */
import assert from 'node:assert/strict';
import { collectEvents } from '../../src/datastore/contract.js';
import { EtcdBackend, Syncer, type SyncUpdate } from '../../src/datastore/index.js';
import { isTesseraError } from '../../src/lib/errors.js';

export interface RestartCheckOptions {
  /** Where writes go (and where the truth is read back from). */
  writerEndpoints: string[];
  /** Where the syncer reads from (etcd itself or a proxy). */
  readerEndpoints: string[];
  prefix: string;
  /** Kill/restart whatever sits on the reader's path; runs between two write bursts. */
  restart(): Promise<void>;
  /** The writer's path is cut by the restart too (retry its writes). */
  writerCut?: boolean;
}

/**
 * A syncer sees every change exactly once and in revision order across a restart of what it reads
 * through: it resumes from its last emitted revision, and a reconnect is not a resync.
 */
export async function checkSyncerAcrossRestart(o: RestartCheckOptions): Promise<void> {
  const writer = new EtcdBackend({ endpoints: o.writerEndpoints, callTimeoutMs: 2000 });
  const reader = new EtcdBackend({ endpoints: o.readerEndpoints });
  const updates: SyncUpdate[] = [];
  const statuses: string[] = [];
  const errors: string[] = [];
  const p = o.prefix;
  const syncer = new Syncer({
    backend: reader,
    prefixes: [p],
    onUpdates: (u) => void updates.push(...u),
    onStatus: (s) => void statuses.push(s),
    onError: (e) => void errors.push(e.code),
    initialBackoffMs: 50,
    maxBackoffMs: 500,
  });
  try {
    await writer.put(`${p}before`, 'listed');
    syncer.start();
    await syncer.waitFor('in-sync');
    assert.deepEqual(
      updates.map((u) => u.key),
      [`${p}before`],
    );
    const from = (await writer.revision()) + 1;
    const write = async (i: number) => {
      for (;;) {
        try {
          if (i % 9 === 8) await writer.delete(`${p}k${i % 11}`);
          else await writer.put(`${p}k${i % 11}`, `v${i}`);
          return;
        } catch (err) {
          // A write cut off by the restart may or may not have landed; etcd's history is the
          // truth we compare against, so retrying is fine.
          if (!o.writerCut || (!isTesseraError(err, 'unavailable') && !isTesseraError(err, 'timeout'))) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    for (let i = 0; i < 60; i++) await write(i);
    await o.restart();
    for (let i = 60; i < 150; i++) await write(i);
    const last = await writer.revision();
    const deadline = Date.now() + 20_000;
    while ((updates[updates.length - 1]?.revision ?? 0) < last) {
      assert.ok(
        Date.now() < deadline,
        `syncer stuck at revision ${updates[updates.length - 1]?.revision}, want ${last}`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    const history = await collectEvents(writer.watch(p, { fromRevision: from }), last);
    const truth = history.map((e) =>
      e.type === 'put'
        ? { key: e.kv.key, value: e.kv.value as string | undefined, revision: e.kv.revision }
        : { key: e.key, value: undefined, revision: e.revision },
    );
    assert.ok(truth.length >= 130, `only ${truth.length} changes recorded`);
    assert.deepEqual(
      updates.slice(1).map((u) => ({ key: u.key, value: u.value, revision: u.revision })),
      truth,
    );
    assert.ok(errors.includes('unavailable'), `the watch really lost its connection (errors: ${errors.join(', ')})`);
    assert.deepEqual(statuses, ['wait', 'in-sync'], 'a reconnect is not a resync');
  } finally {
    await syncer.stop();
    await writer.close();
    await reader.close();
  }
}
