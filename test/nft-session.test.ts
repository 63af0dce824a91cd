/**
 * NftSession against the kernel, in a private network namespace: the long-lived libnftables helper
 * (bin/tessera-nft, built by `make build`) and the `nft` command fallback behave the same; a rejected
 * script changes nothing; changes made by someone else are seen (no stale cache); a dead helper is
 * replaced on the next request.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';
import { binPath } from '../src/lib/paths.js';
import { NftSession } from '../src/dataplane/nft/index.js';

const ns = `tsr-${randomBytes(3).toString('hex')}-nses`;
await run(['ip', 'netns', 'add', ns]);
const sessions: NftSession[] = [];
after(async () => {
  for (const s of sessions) s.close();
  await run(['ip', 'netns', 'del', ns], { check: false });
});

const T = 'inet tsrtest';
const cli = async (script: string) => (await run(['nft', '-f', '-'], { netns: ns, input: script })).stdout;
const elements = async (session: NftSession): Promise<string[]> => {
  const j = JSON.parse(await session.exec(`list set ${T} s`, { json: true })) as {
    nftables: { set?: { elem?: string[] } }[];
  };
  return j.nftables.find((x) => x.set)?.set?.elem ?? [];
};

for (const kind of ['helper', 'nft command'] as const) {
  test(`${kind}: transactions, JSON listing, atomic rejection, external changes`, async () => {
    const session = new NftSession({
      netns: ns,
      ...(kind === 'nft command' ? { helperPath: '/nonexistent/tessera-nft' } : {}),
    });
    sessions.push(session);
    assert.equal(
      session.persistent,
      kind === 'helper',
      kind === 'helper' ? `${binPath('tessera-nft')} is built by make build` : 'no helper: nft command',
    );
    await session.exec(
      `add table ${T}\ndelete table ${T}\nadd table ${T}\nadd set ${T} s { type ipv4_addr; }\nadd element ${T} s { 10.0.0.1 }\n`,
    );
    assert.deepEqual(await elements(session), ['10.0.0.1']);
    assert.match(await session.exec(`list set ${T} s`), /elements = \{ 10\.0\.0\.1 \}/);

    // One script is one transaction: a bad line rejects all of it, with nft's message.
    await assert.rejects(
      session.exec(`add element ${T} s { 10.0.0.2 }\nadd element ${T} nosuchset { 10.0.0.3 }\n`),
      (e: Error) => {
        // nft names the missing set, or (helper: the kernel rejects the batch) reports ENOENT.
        assert.match(e.message, /nosuchset|No such file or directory/);
        return true;
      },
    );
    assert.deepEqual(await elements(session), ['10.0.0.1']);

    // Someone else edits the table: the session sees it (libnftables re-reads on a new generation).
    await cli(`add element ${T} s { 10.0.0.9 }\n`);
    assert.deepEqual((await elements(session)).sort(), ['10.0.0.1', '10.0.0.9']);
    await cli(`delete set ${T} s\n`);
    await assert.rejects(session.exec(`add element ${T} s { 10.0.0.4 }\n`), /exec-failed|No such file|s/);
    await session.exec(`add set ${T} s { type ipv4_addr; }\n`);

    // Many requests in flight resolve in order, each with its own answer.
    const n = 40;
    await Promise.all(Array.from({ length: n }, (_, i) => session.exec(`add element ${T} s { 10.0.1.${i} }\n`)));
    assert.equal((await elements(session)).length, n);
    await session.exec(`delete table ${T}\n`);
  });
}

test('a helper that dies fails its pending request and is replaced on the next one', async () => {
  const session = new NftSession({ netns: ns });
  sessions.push(session);
  assert.ok(session.persistent, 'bin/tessera-nft is built by make build');
  await session.exec(`add table ${T}\n`);
  const first = session.helperPid;
  assert.ok(first);
  const pending = session.exec(`list table ${T}`);
  session.close();
  await assert.rejects(pending, /nft helper was closed/);
  // The next request starts a new helper and works.
  assert.match(await session.exec(`list table ${T}`), /table inet tsrtest/);
  // A helper killed from outside: the request after the kill still succeeds (a fresh helper).
  const second = session.helperPid;
  assert.ok(second && second !== first);
  process.kill(second, 'SIGKILL');
  // The session learns of the death from the child's exit event, asynchronously: wait for it.
  for (const deadline = Date.now() + 10_000; session.helperPid !== undefined && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(session.helperPid, undefined);
  assert.match(await session.exec(`list table ${T}`), /table inet tsrtest/);
  assert.ok(session.helperPid && session.helperPid !== second);
  await session.exec(`delete table ${T}\n`);
});

test('a helper that dies before answering, again and again, gives way to the nft command', async () => {
  const session = new NftSession({ netns: ns, helperPath: '/bin/false' });
  sessions.push(session);
  assert.ok(session.persistent);
  let failures = 0;
  for (let i = 0; i < 5; i++) {
    try {
      await session.exec(`add table ${T}\n`);
      break;
    } catch (e) {
      assert.match((e as Error).message, /nft helper exited/);
      failures++;
    }
  }
  assert.equal(failures, 3, 'three deaths in a row, then the nft command');
  assert.equal(session.persistent, false);
  assert.match(session.fallbackReason ?? '', /\/bin\/false exited .* 3 times in a row/);
  assert.match(await session.exec(`list table ${T}`), /table inet tsrtest/);
  await session.exec(`delete table ${T}\n`);
});
