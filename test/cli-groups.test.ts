/**
 * The ipam, policy and node command groups through runCli, as a user's argv reaches them: the same
 * `(args, deps)` verbs as the other commands, with the datastore from the program's deps (opened
 * once per run, closed after it), output through deps.io, and the exit codes the CLI documents
 * (0 ok, 1 failed, 2 usage). The verbs' own behaviour is tested in ipam-cli, policy-cli and
 * cli-everyday. In memory; no root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend, ResourceStore, type Backend } from '../src/datastore/index.js';
import { IpamClient, putPool } from '../src/ipam/index.js';
import { captureIO } from '../src/cli/io.js';
import { resourceCliStore } from '../src/cli/open-store.js';
import { runCli } from '../src/cli/program.js';

async function fixture() {
  const backend = new MemoryBackend();
  await putPool(backend, 'default-ipv4', { cidr: '10.244.0.0/24' });
  let opened = 0;
  let closed = 0;
  // Each run opens the backend through deps and closes it; the memory store outlives the runs.
  const perRun = (): Backend =>
    Object.assign(Object.create(backend) as Backend, {
      close: async () => {
        closed++;
      },
    });
  const run = async (argv: string[]) => {
    const io = captureIO();
    const code = await runCli(argv, {
      io,
      openStore: async () => resourceCliStore(new ResourceStore(backend)),
      openBackend: async () => {
        opened++;
        return perRun();
      },
      env: {},
    });
    return { code, out: io.stdout(), err: io.stderr() };
  };
  return { backend, run, counts: () => ({ opened, closed }) };
}

test('ipam verbs run on the deps datastore, print through deps.io, and close it', async (t) => {
  const f = await fixture();
  t.after(() => f.backend.close());
  const show = await f.run(['ipam', 'show']);
  assert.equal(show.code, 0, show.err);
  assert.match(show.out, /IP Pool\s+10\.244\.0\.0\/24\s+256\s+0 \(0%\)/);
  assert.deepEqual(f.counts(), { opened: 1, closed: 1 });

  const configure = await f.run(['ipam', 'configure', '--strictaffinity', 'true']);
  assert.equal(configure.code, 0, configure.err);
  assert.equal(configure.out, 'StrictAffinity: true\nMaxBlocksPerHost: 0\n');

  const clean = await f.run(['ipam', 'check']);
  assert.equal(clean.code, 0, clean.err);

  // An allocation no endpoint holds is a leak: check prints the report and exits 1.
  await new IpamClient(f.backend).autoAssign({
    num4: 1,
    num6: 0,
    handleId: 'net.gone',
    hostname: 'n1',
    attrs: { node: 'n1', timestamp: '2024-01-01T00:00:00.000Z' },
  });
  const leak = await f.run(['ipam', 'check']);
  assert.equal(leak.code, 1);
  assert.match(leak.out, /10\.244\.0\.\d+/);
  assert.equal(leak.err, 'error: ipam check found 1 problem(s)\n');

  const usage = await f.run(['ipam', 'release']);
  assert.equal(usage.code, 2);
  assert.equal(usage.err, 'error: ipam release: give exactly one of --ip ADDR or --from-report FILE\n');
  assert.deepEqual(f.counts(), { opened: 5, closed: 5 });
});

test('policy explain and node status: failures are one line and exit 1', async (t) => {
  const f = await fixture();
  t.after(() => f.backend.close());
  const explain = await f.run(['policy', 'explain', 'ns1/a', 'ns1/b', '--port', '80']);
  assert.equal(explain.code, 1);
  assert.equal(explain.out, '');
  assert.match(explain.err, /^error: cannot explain: no unique workload endpoint matches "ns1\/a"\n$/);

  const status = await f.run(['node', 'status', 'node-9']);
  assert.equal(status.code, 1);
  assert.match(status.err, /^error: no BGP status for node "node-9": its agent has not published a CalicoNodeStatus/);
  assert.deepEqual(f.counts(), { opened: 2, closed: 2 });

  // A usage error never opens the datastore.
  const missing = await f.run(['policy', 'explain', 'ns1/a']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /missing required argument 'to'/);
  assert.deepEqual(f.counts(), { opened: 2, closed: 2 });
});
