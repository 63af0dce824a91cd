/**
 * The behaviour every `Backend` must have, as a node:test suite. Run against MemoryBackend
 * (memory/memory-backend.test.ts) and real etcd (test/datastore-etcd.test.ts): if the two ever
 * disagree, code tested on memory would break on etcd.
 *
 * `makeBackend` returns a new client of ONE shared store per call (leases are tested by closing a
 * client). Every test works under its own random prefix, so tests share the store safely.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isTesseraError, TesseraError } from '../lib/errors.js';
import type { Backend, WatchEvent, WatchStream } from './backend.js';

export type BackendFactory = () => Backend | Promise<Backend>;

function keyOf(e: WatchEvent): string {
  return e.type === 'put' ? e.kv.key : e.key;
}

function revOf(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.revision : e.revision;
}

/** Reads `stream` until an event at `untilRevision` (or later) arrived; fails after `timeoutMs`. */
export async function collectEvents(
  stream: WatchStream,
  untilRevision: number,
  timeoutMs = 5000,
): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const it = stream[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`watch gave ${out.length} events, none at revision ${untilRevision} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error('watch stream returned instead of throwing');
      out.push(...r.value);
      if (out.length > 0 && revOf(out[out.length - 1]!) >= untilRevision) return out;
    }
  } finally {
    clearTimeout(timer);
    await it.return?.();
  }
}

async function expectCode(p: Promise<unknown>, code: TesseraError['code']): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTesseraError(err), `expected a TesseraError, got ${String(err)}`);
    assert.equal(err.code, code, `expected code "${code}", got "${err.code}": ${err.message}`);
    return true;
  });
}

async function firstError(stream: WatchStream, timeoutMs = 5000): Promise<unknown> {
  const it = stream[Symbol.asyncIterator]();
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  try {
    for (;;) {
      const r = await Promise.race([it.next(), timeout]);
      if (r === 'timeout') return new Error('watch did not fail in time');
      if (r.done) return new Error('watch returned instead of throwing');
    }
  } catch (err) {
    return err;
  }
}

export interface ContractOptions {
  /**
   * How long a leased key may outlive its writer's close (default 8 s). Behind `etcd grpc-proxy`
   * the proxy holds its own keep-alive for the lease and lets go of it only after the client's
   * stream is gone; on a loaded machine that once took longer than 8 s.
   */
  leaseGoneWithinMs?: number;
  /**
   * Check that a leased key goes when its writer closes (default true). Behind `etcd grpc-proxy`
   * it is not bounded: the proxy's own keep-alive once held a closed writer's lease for more than
   * 30 s on an idle machine, so that run leaves this case to the direct etcd run.
   */
  leaseExpiresOnClose?: boolean;
}

export function runBackendContract(name: string, makeBackend: BackendFactory, options: ContractOptions = {}): void {
  const leaseGoneWithinMs = options.leaseGoneWithinMs ?? 8000;
  describe(`Backend contract: ${name}`, () => {
    const skipped = (title: string, _fn: unknown, _timeoutMs?: number) =>
      test(title, { skip: 'not bounded on this backend (ContractOptions.leaseExpiresOnClose)' }, () => undefined);
    const withBackend = (title: string, fn: (b: Backend, p: string) => Promise<void>, timeoutMs = 20_000) =>
      test(title, { timeout: timeoutMs }, async () => {
        const b = await makeBackend();
        try {
          await fn(b, `/contract/${randomUUID()}/`);
        } finally {
          await b.close();
        }
      });

    withBackend('get / create / already-exists', async (b, p) => {
      assert.equal(await b.get(`${p}a`), undefined);
      const before = await b.revision();
      const kv = await b.create(`${p}a`, 'one');
      assert.equal(kv.key, `${p}a`);
      assert.equal(kv.value, 'one');
      assert.ok(kv.revision > before, 'a write advances the revision');
      assert.equal(kv.createRevision, kv.revision);
      assert.deepEqual(await b.get(`${p}a`), kv);
      await expectCode(b.create(`${p}a`, 'two'), 'already-exists');
      assert.equal((await b.get(`${p}a`))?.value, 'one');
    });

    withBackend('update is compare-and-swap on the key revision', async (b, p) => {
      const v1 = await b.create(`${p}k`, '1');
      const v2 = await b.update(`${p}k`, '2', v1.revision);
      assert.ok(v2.revision > v1.revision);
      assert.equal(v2.createRevision, v1.revision);
      await expectCode(b.update(`${p}k`, '3', v1.revision), 'conflict');
      assert.equal((await b.get(`${p}k`))?.value, '2');
      await expectCode(b.update(`${p}missing`, 'x', 5), 'not-found');
      assert.equal(await b.get(`${p}missing`), undefined);
    });

    withBackend('put creates and overwrites, keeping createRevision', async (b, p) => {
      const a = await b.put(`${p}k`, 'a');
      assert.equal(a.createRevision, a.revision);
      const c = await b.put(`${p}k`, 'c');
      assert.ok(c.revision > a.revision);
      assert.equal(c.createRevision, a.revision);
      assert.deepEqual(await b.get(`${p}k`), c);
    });

    withBackend('delete is idempotent and supports CAS', async (b, p) => {
      const kv = await b.create(`${p}d`, 'x');
      const gone = await b.delete(`${p}d`);
      assert.equal(gone?.value, 'x');
      assert.equal(gone?.revision, kv.revision);
      assert.equal(await b.get(`${p}d`), undefined);
      assert.equal(await b.delete(`${p}d`), undefined, 'deleting a missing key succeeds');
      const kv2 = await b.create(`${p}d`, 'y');
      await expectCode(b.delete(`${p}d`, kv2.revision - 1), 'conflict');
      assert.equal((await b.get(`${p}d`))?.value, 'y');
      assert.equal((await b.delete(`${p}d`, kv2.revision))?.value, 'y');
      assert.equal(await b.delete(`${p}d`, kv2.revision), undefined, 'CAS delete of a missing key succeeds');
    });

    withBackend('list is sorted, prefix-isolated and carries a consistent revision', async (b, p) => {
      await b.put(`${p}a/2`, 'a2');
      await b.put(`${p}a/1`, 'a1');
      await b.put(`${p}ab`, 'ab');
      await b.put(`${p}a/3`, 'a3');
      const res = await b.list(`${p}a/`);
      assert.deepEqual(
        res.items.map((i) => [i.key, i.value]),
        [
          [`${p}a/1`, 'a1'],
          [`${p}a/2`, 'a2'],
          [`${p}a/3`, 'a3'],
        ],
      );
      assert.ok(res.items.every((i) => i.revision <= res.revision));
      assert.ok(res.revision >= Math.max(...res.items.map((i) => i.revision)));
      assert.equal((await b.list(`${p}zzz/`)).items.length, 0);
      assert.equal((await b.list(p)).items.length, 4);
    });

    withBackend('txn writes all at one revision or nothing', async (b, p) => {
      const x = await b.create(`${p}x`, 'x0');
      const y = await b.create(`${p}y`, 'y0');
      const rev = await b.txn([
        { op: 'create', key: `${p}new`, value: 'n' },
        { op: 'update', key: `${p}x`, value: 'x1', expectedRevision: x.revision },
        { op: 'delete', key: `${p}y`, expectedRevision: y.revision },
        { op: 'put', key: `${p}z`, value: 'z' },
      ]);
      assert.ok(rev > y.revision);
      const after = await b.list(p);
      assert.deepEqual(
        after.items.map((i) => [i.key, i.value, i.revision]),
        [
          [`${p}new`, 'n', rev],
          [`${p}x`, 'x1', rev],
          [`${p}z`, 'z', rev],
        ],
      );
      // One stale compare fails the whole transaction.
      await expectCode(
        b.txn([
          { op: 'put', key: `${p}w`, value: 'w' },
          { op: 'update', key: `${p}x`, value: 'x2', expectedRevision: x.revision },
        ]),
        'conflict',
      );
      await expectCode(b.txn([{ op: 'create', key: `${p}z`, value: 'again' }]), 'conflict');
      assert.equal(await b.get(`${p}w`), undefined);
      assert.equal((await b.get(`${p}x`))?.value, 'x1');
      // Revision 0 compares "absent"; a delete compare on a missing key fails inside a txn.
      await b.txn([{ op: 'update', key: `${p}fresh`, value: 'f', expectedRevision: 0 }]);
      assert.equal((await b.get(`${p}fresh`))?.value, 'f');
      await expectCode(b.txn([{ op: 'delete', key: `${p}nothing`, expectedRevision: 3 }]), 'conflict');
      await expectCode(
        b.txn([
          { op: 'put', key: `${p}dup`, value: '1' },
          { op: 'put', key: `${p}dup`, value: '2' },
        ]),
        'validation',
      );
    });

    withBackend('watch delivers every change exactly once, in order', async (b, p) => {
      const from = (await b.revision()) + 1;
      const stream = b.watch(p, { fromRevision: from });
      const expected: { type: string; key: string; value?: string; revision: number }[] = [];
      for (let i = 0; i < 40; i++) {
        const key = `${p}k${i % 7}`;
        if (i % 5 === 4) {
          const prev = await b.delete(key);
          if (prev) expected.push({ type: 'delete', key, revision: await b.revision() });
        } else {
          const kv = await b.put(key, `v${i}`);
          expected.push({ type: 'put', key, value: kv.value, revision: kv.revision });
        }
      }
      const txnRev = await b.txn([
        { op: 'put', key: `${p}t1`, value: 'a' },
        { op: 'put', key: `${p}t2`, value: 'b' },
      ]);
      expected.push({ type: 'put', key: `${p}t1`, value: 'a', revision: txnRev });
      expected.push({ type: 'put', key: `${p}t2`, value: 'b', revision: txnRev });
      const got = await collectEvents(stream, txnRev);
      assert.deepEqual(
        got.map((e) =>
          e.type === 'put'
            ? { type: 'put', key: e.kv.key, value: e.kv.value, revision: e.kv.revision }
            : { type: 'delete', key: e.key, revision: e.revision },
        ),
        expected,
      );
    });

    withBackend('watch from a past revision replays history; prefixes are isolated', async (b, p) => {
      const r1 = await b.put(`${p}in/a`, '1');
      const r2 = await b.put(`${p}in/b`, '2');
      await b.put(`${p}out/c`, '3');
      await b.put(`${p}inx`, 'not under "in/"');
      const r3 = await b.put(`${p}in/a`, '4');
      const got = await collectEvents(b.watch(`${p}in/`, { fromRevision: r2.revision }), r3.revision);
      assert.deepEqual(
        got.map((e) => [e.type, keyOf(e), revOf(e)]),
        [
          ['put', `${p}in/b`, r2.revision],
          ['put', `${p}in/a`, r3.revision],
        ],
      );
      const last = got[1]!;
      assert.equal(last.type === 'put' ? last.prev?.value : undefined, '1');
      assert.ok(r1.revision < r2.revision);
    });

    withBackend('watching a compacted revision fails with compacted', async (b, p) => {
      const old = await b.put(`${p}a`, '1');
      await b.put(`${p}a`, '2');
      const cur = await b.put(`${p}a`, '3');
      await b.compact(cur.revision);
      const err = await firstError(b.watch(p, { fromRevision: old.revision }));
      assert.ok(isTesseraError(err, 'compacted'), `expected compacted, got ${String(err)}`);
      // History from the compaction revision on is still there.
      const next = await b.put(`${p}a`, '4');
      const got = await collectEvents(b.watch(p, { fromRevision: cur.revision }), next.revision);
      assert.deepEqual(got.map(revOf), [cur.revision, next.revision]);
      assert.equal((await b.get(`${p}a`))?.value, '4');
      await b.compact(cur.revision); // compacting again is a no-op
    });

    withBackend('an aborted watch ends with aborted', async (b, p) => {
      const ac = new AbortController();
      const stream = b.watch(p, { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      const err = await firstError(stream);
      assert.ok(isTesseraError(err, 'aborted'), `expected aborted, got ${String(err)}`);
    });

    (options.leaseExpiresOnClose === false ? skipped : withBackend)(
      'leased keys outlive nothing but their writer',
      async (reader, p) => {
        const writer = await makeBackend();
        const from = (await reader.revision()) + 1;
        const stream = reader.watch(p, { fromRevision: from });
        let leased;
        try {
          leased = await writer.put(`${p}status`, 'alive', { ttlSeconds: 1 });
          await writer.put(`${p}plain`, 'stays');
          // Kept alive while the writer lives, past its TTL.
          await new Promise((r) => setTimeout(r, 2500));
          assert.equal((await reader.get(`${p}status`))?.value, 'alive');
        } finally {
          await writer.close();
        }
        const deadline = Date.now() + leaseGoneWithinMs;
        while ((await reader.get(`${p}status`)) !== undefined) {
          assert.ok(
            Date.now() < deadline,
            `leased key still present ${leaseGoneWithinMs / 1000} s after its writer closed`,
          );
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal((await reader.get(`${p}plain`))?.value, 'stays');
        const events = await collectEvents(stream, await reader.revision());
        const del = events.find((e) => e.type === 'delete');
        assert.equal(del && keyOf(del), `${p}status`);
        assert.ok(del && revOf(del) > leased.revision);
      },
      30_000 + leaseGoneWithinMs,
    );
  });
}
