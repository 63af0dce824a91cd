/**
 * BatchSession against real `ip`, in a private network namespace: each job gets exactly its own
 * output, a failed line fails only its job, names re-created behind the tool's back work again
 * after a failure or `renew()`, a dead or hung tool fails its jobs and is replaced, and an idle
 * session does not keep Node running.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchSession } from '../src/lib/batch-session.js';
import { run } from '../src/lib/exec.js';

const ns = `tsr-${randomBytes(3).toString('hex')}-bs`;
await run(['ip', 'netns', 'add', ns]);
const sessions: BatchSession[] = [];
const session = (argv = ['ip', '-json', '-force', '-batch', '-'], timeoutMs?: number) => {
  const s = new BatchSession(argv, { netns: ns, ...(timeoutMs ? { timeoutMs } : {}) });
  sessions.push(s);
  return s;
};
after(async () => {
  for (const s of sessions) s.close();
  await run(['ip', 'netns', 'del', ns], { check: false });
});
const ip = (...args: string[]) => run(['ip', ...args], { netns: ns });
const veth = async (name: string) => {
  await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`);
  await ip('link', 'set', name, 'up');
  await ip('link', 'set', `${name}p`, 'up');
};

test('jobs sent together get their own output, in order; a failed line fails only its job', async () => {
  await veth('bs0');
  const s = session();
  const [write, read, bad, after1] = await Promise.all([
    s.run(['addr add 10.71.0.1/32 dev bs0', 'route replace 10.71.1.0/24 dev bs0 proto 80']),
    s.run(['route show proto 80']),
    s.run(['route replace 10.71.2.0/24 dev nosuchdev', 'route replace 10.71.3.0/24 dev bs0 proto 80']),
    s.run(['route show proto 80']),
  ]);
  assert.deepEqual(write, { ok: true, output: '' });
  assert.equal(read.ok, true);
  assert.deepEqual(
    JSON.parse(read.output).map((r: { dst: string }) => r.dst),
    ['10.71.1.0/24'],
  );
  assert.equal(bad.ok, false);
  assert.match(bad.output, /nosuchdev/);
  assert.equal(after1.ok, true, 'the job after a failed one runs normally');
  assert.deepEqual(
    JSON.parse(after1.output).map((r: { dst: string }) => r.dst),
    ['10.71.1.0/24', '10.71.3.0/24'],
    '-force: the rest of the failed job ran',
  );
  await assert.rejects(s.must(['route replace 10.71.4.0/24 dev nosuchdev']), /failed: .*nosuchdev/);
  await assert.rejects(s.run(['link show\nlink show']), /newline/);
});

test('a dump of thousands of entries (one JSON line over many pipe chunks) arrives whole', async () => {
  await veth('bs9');
  const s = session();
  const lines = Array.from({ length: 5000 }, (_, i) => `route replace 10.90.${i >> 8}.${i & 255}/32 dev bs9 proto 80`);
  await s.must(lines);
  const out = await s.must(['route show proto 80 dev bs9']);
  assert.equal(out.split('\n').length, 1, 'one line');
  assert.ok(out.length > 200_000, `long: ${out.length} characters`);
  assert.equal(JSON.parse(out).length, 5000);
  assert.deepEqual(
    JSON.parse(await s.must(['route show proto 80 dev bs0'])).length,
    2,
    'the next job is framed as before',
  );
});

test('a name re-created behind the tool works after one failure, or at once after renew()', async () => {
  await veth('bs1');
  const s = session(['ip', '-force', '-batch', '-']);
  assert.equal((await s.run(['route replace 10.72.0.1/32 dev bs1'])).ok, true);
  const recreate = async () => {
    await ip('link', 'del', 'bs1');
    await veth('bs2'); // takes the next index, so bs1 cannot get its old one back
    await ip('link', 'del', 'bs2');
    await veth('bs1');
  };
  await recreate();
  const stale = await s.run(['route replace 10.72.0.1/32 dev bs1']);
  assert.equal(stale.ok, false, 'iproute2 still has the old index (if this passes, its cache changed)');
  assert.match(stale.output, /No such device|Cannot find device/);
  assert.equal((await s.run(['route replace 10.72.0.1/32 dev bs1'])).ok, true, 'a new tool after the failure');

  await recreate();
  s.renew();
  assert.equal((await s.run(['route replace 10.72.0.1/32 dev bs1'])).ok, true, 'renew(): a new tool before the job');
});

test('a job that creates a name its tool has used runs in a new tool', async () => {
  await veth('bs3');
  const s = session(['ip', '-force', '-batch', '-']);
  assert.equal((await s.run(['route replace 10.73.0.1/32 dev bs3'])).ok, true);
  await ip('link', 'del', 'bs3'); // gone outside the tool, as when a pod netns is deleted
  await veth('bs4');
  const r = await s.run([
    'link add bs3 type veth peer name bs3p',
    'link set bs3 up',
    'route replace 10.73.0.1/32 dev bs3',
  ]);
  assert.deepEqual(r, { ok: true, output: '' });
});

test('a killed tool fails its pending job; the next job starts a new one', async () => {
  const s = session(['sh', '-c', 'sleep 30', '-force', '-']); // never answers
  const pending = s.run(['anything']);
  await sleep(200);
  const pids = (await run(['ip', 'netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  for (const p of pids) process.kill(Number(p), 'SIGKILL');
  await assert.rejects(pending, /process exited/);
  const real = session();
  assert.equal((await real.run(['link show dev lo'])).ok, true);
});

test('a job unanswered past the timeout fails and its tool is killed', async () => {
  const s = session(['sh', '-c', 'sleep 30', '-force', '-'], 300);
  const t0 = Date.now();
  await assert.rejects(s.run(['anything']), /did not answer within 300 ms/);
  assert.ok(Date.now() - t0 < 5000);
});

test('closed sessions refuse jobs; a tool without -force or "-batch -" is refused', async () => {
  const s = session();
  s.close();
  await assert.rejects(s.run(['link show']), /session is closed/);
  assert.throws(() => new BatchSession(['ip', '-batch', '-']), /needs "-force"/);
});

test('an idle session does not keep Node running', async () => {
  const script = [
    `import { BatchSession } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'lib', 'batch-session.ts'))};`,
    `const s = new BatchSession(['ip', '-json', '-force', '-batch', '-']);`,
    `console.log((await s.run(['link show dev lo'])).ok);`,
  ].join('\n');
  const r = await run([process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
    timeoutMs: 20_000,
    check: false,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
});
