import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../src/datastore/index.js';
import { ManualClock } from '../src/lib/clock.js';
import { IpamClient, putPool } from '../src/ipam/index.js';
import { ipamCheckVerb, ipamConfigureVerb, ipamReleaseVerb, ipamShowVerb } from '../src/cli/commands/ipam.js';

const TS = '2024-01-01T00:00:00.000Z';

async function fixture() {
  const backend = new MemoryBackend();
  await putPool(backend, 'default-ipv4', { cidr: '10.244.0.0/24' });
  const ipam = new IpamClient(backend);
  let text = '';
  const deps = { backend, out: (t: string) => void (text += t), clock: new ManualClock(0) };
  return { backend, ipam, deps, output: () => text, reset: () => void (text = '') };
}

test('ipam show prints pool usage, blocks with affinity, and who holds an address', async (t) => {
  const f = await fixture();
  t.after(() => f.backend.close());
  const r = await f.ipam.autoAssign({
    num4: 3,
    num6: 0,
    handleId: 'net.c1',
    hostname: 'n1',
    attrs: { node: 'n1', namespace: 'ns', pod: 'web', timestamp: TS },
  });
  await ipamShowVerb({}, f.deps);
  assert.match(f.output(), /GROUPING\s+CIDR\s+IPS TOTAL\s+IPS IN USE\s+IPS FREE/);
  assert.match(f.output(), /IP Pool\s+10\.244\.0\.0\/24\s+256\s+3 \(1%\)\s+253 \(99%\)/);
  assert.doesNotMatch(f.output(), /Block/);
  f.reset();
  await ipamShowVerb({ showBlocks: true }, f.deps);
  assert.match(
    f.output(),
    new RegExp(
      `Block\\s+${r.ipv4[0]!.blockCidr.replace(/[./]/g, '\\$&')}\\s+64\\s+3 \\(5%\\)\\s+61 \\(95%\\)\\s+host:n1`,
    ),
  );
  f.reset();
  await ipamShowVerb({ ip: r.ipv4[1]!.address }, f.deps);
  assert.match(f.output(), /is in use/);
  assert.match(f.output(), /handle:\s+net\.c1/);
  assert.match(f.output(), /pod ns\/web, node n1/);
  f.reset();
  await ipamShowVerb({ ip: '192.0.2.1' }, f.deps);
  assert.match(f.output(), /not in any IP pool/);
});

test('ipam check -o writes a report; release --from-report frees the leaks; check is then clean', async (t) => {
  const f = await fixture();
  t.after(() => f.backend.close());
  const dir = mkdtempSync(join(tmpdir(), 'tsr-ipam-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // No WorkloadEndpoint exists, so both allocations are leaks.
  await f.ipam.autoAssign({
    num4: 2,
    num6: 0,
    handleId: 'net.gone',
    hostname: 'n1',
    attrs: { node: 'n1', timestamp: TS },
  });
  const file = join(dir, 'report.json');
  const report = await ipamCheckVerb({ output: file }, f.deps);
  assert.equal(report.problems, 2);
  const onDisk = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(onDisk.leaks.length, 2);
  assert.equal(onDisk.checkedAt, new Date(0).toISOString());
  f.reset();
  await ipamReleaseVerb({ fromReport: file }, f.deps);
  assert.match(f.output(), /Released 2 address\(es\)/);
  const after = await ipamCheckVerb({}, f.deps);
  assert.equal(after.problems, 0);
  await assert.rejects(ipamReleaseVerb({}, f.deps), { code: 'usage' });
  await assert.rejects(ipamReleaseVerb({ fromReport: join(dir, 'missing.json') }, f.deps), { code: 'usage' });
});

test('ipam release --ip and configure', async (t) => {
  const f = await fixture();
  t.after(() => f.backend.close());
  const r = await f.ipam.autoAssign({
    num4: 1,
    num6: 0,
    handleId: 'net.x',
    hostname: 'n1',
    attrs: { node: 'n1', timestamp: TS },
  });
  await ipamReleaseVerb({ ip: [r.ipv4[0]!.address] }, f.deps);
  assert.match(f.output(), new RegExp(`Released ${r.ipv4[0]!.address.replace(/\./g, '\\.')}\n`));
  assert.equal((await f.ipam.lookupIp(r.ipv4[0]!.address)).state, 'free');
  f.reset();
  await ipamConfigureVerb({ strictAffinity: 'true', maxBlocksPerHost: '3' }, f.deps);
  assert.equal(f.output(), 'StrictAffinity: true\nMaxBlocksPerHost: 3\n');
  assert.deepEqual(await f.ipam.getConfig(), { strictAffinity: true, maxBlocksPerHost: 3 });
  await assert.rejects(ipamConfigureVerb({ strictAffinity: 'maybe' }, f.deps), { code: 'usage' });
  await assert.rejects(ipamConfigureVerb({ maxBlocksPerHost: '-1' }, f.deps), { code: 'usage' });
});
