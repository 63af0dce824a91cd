/**
 * The command groups (ipam, policy, node, lab, demo) through runCli, as a user's argv reaches them:
 * the same `(args, deps)` verbs as the other commands, with the datastore from the program's deps
 * (opened once per run, closed after it), output through deps.io, and the exit codes the CLI
 * documents (0 ok, 1 failed, 2 usage). The verbs' own behaviour is tested in ipam-cli, policy-cli,
 * cli-everyday, lab-* and cli-etcd. ipam, policy and node in memory; lab against a lab root in a
 * temp dir (no lab is built: errors, and a VM lab's pass-through to a stand-in of its command
 * server); demo against a throwaway etcd. No root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend, ResourceStore, type Backend } from '../src/datastore/index.js';
import { IpamClient, putPool } from '../src/ipam/index.js';
import { captureIO, type CliIO } from '../src/cli/io.js';
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

/** A lab root and CLI config in a temp dir; runs `tessera ARGV` with a byte-exact capture. */
function labFixture(t: { after: (fn: () => void) => void }) {
  const root = mkdtempSync(join(tmpdir(), 's15a-cli-groups-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const env = { TESSERA_LAB_ROOT: join(root, 'labs'), TESSERA_CONFIG: join(root, 'config.json') };
  const run = async (argv: string[]) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const io: CliIO = {
      out: (b) => void out.push(Buffer.from(b)),
      err: (b) => void err.push(Buffer.from(b)),
      readStdin: async () => '',
    };
    const code = await runCli(argv, {
      io,
      openStore: () => assert.fail('lab verbs do not open the datastore'),
      openBackend: () => assert.fail('lab verbs do not open the datastore'),
      env,
    });
    return { code, out: Buffer.concat(out), err: Buffer.concat(err).toString('utf8') };
  };
  return { root, env, run };
}

test('lab verbs: errors through deps.io with the documented exit codes, the lab root from deps.env', async (t) => {
  const f = labFixture(t);
  const none = await f.run(['lab', 'matrix']);
  assert.equal(none.code, 2);
  assert.equal(none.out.length, 0);
  assert.equal(none.err, 'error: no lab: create one with `tessera lab up`\n');

  const missing = await f.run(['lab', 'status', '--name', 's15a-none']);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.err,
    `error: lab "s15a-none" does not exist (no "${join(f.env.TESSERA_LAB_ROOT, 's15a-none', 'state.json')}")\n`,
  );

  // commander's own usage errors are still exit 2, before any verb runs.
  const usage = await f.run(['lab', 'probe', 'x/a', 'x/b', '--name', 's15a-none']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /required option '--port <port>' not specified/);
});

test('lab verbs of a VM lab run inside its VM: argv as typed, output byte for byte, its exit code', async (t) => {
  const f = labFixture(t);
  const runs: string[][] = [];
  // A stand-in for the VM's command server (src/lab/vm/server.ts): frames of base64 output, then the exit.
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { argv } = JSON.parse(body) as { argv: string[] };
      runs.push(argv);
      res.writeHead(200);
      const frame = (fd: 1 | 2, b: Buffer) => res.write(`${JSON.stringify({ fd, data: b.toString('base64') })}\n`);
      // "é" split across two frames, and a byte that is not UTF-8.
      frame(1, Buffer.from([0x61, 0xc3]));
      frame(1, Buffer.from([0xa9, 0xff, 0x0a]));
      frame(2, Buffer.from('inside the VM\n'));
      res.end(`${JSON.stringify({ exit: argv[1] === 'down' ? 0 : 3 })}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const dir = join(f.env.TESSERA_LAB_ROOT, 's15a-vm');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(f.root, 'token'), 'secret\n');
  writeFileSync(
    join(dir, 'vm.json'),
    JSON.stringify({
      kind: 'vm',
      name: 's15a-vm',
      memoryMb: 2048,
      kernelDir: f.root,
      controlPort: (server.address() as AddressInfo).port,
      etcdPort: 1,
      console: join(f.root, 'console'),
      tokenFile: join(f.root, 'token'),
    }),
  );

  const m = await f.run(['lab', 'matrix', '--name', 's15a-vm', '--port', '81']);
  assert.equal(m.code, 3);
  assert.deepEqual(m.out, Buffer.from([0x61, 0xc3, 0xa9, 0xff, 0x0a]));
  assert.equal(m.err, 'inside the VM\n');
  assert.deepEqual(runs.at(-1), ['lab', 'matrix', '--name', 's15a-vm', '--port', '81']);

  const stop = await f.run(['lab', 'node', 'stop', 'node-1', '--name', 's15a-vm']);
  assert.equal(stop.code, 3);
  assert.deepEqual(runs.at(-1), ['lab', 'node', 'stop', 'node-1', '--name', 's15a-vm']);

  // down: the lab inside the VM, then the VM's files on the host; exit 0.
  const down = await f.run(['lab', 'down', '--name', 's15a-vm']);
  assert.equal(down.code, 0, down.err);
  assert.deepEqual(runs.at(-1), ['lab', 'down', '--name', 's15a-vm']);
  assert.equal(existsSync(dir), false);
});

test('demo datastore: every step through deps.io, exit 0', async () => {
  const io = captureIO();
  const code = await runCli(['demo', 'datastore'], {
    io,
    openStore: () => assert.fail('the demo opens its own etcd'),
    env: {},
  });
  assert.equal(code, 0, io.stdout() + io.stderr());
  assert.equal(io.stderr(), '');
  assert.match(io.stdout(), /# Step 1: start a throwaway single-member etcd/);
  assert.match(io.stdout(), /\$ tessera apply -f .*examples\/demo\n/);
  assert.match(io.stdout(), /\(exit code 1\)\n/);
  assert.match(io.stdout(), /# Step 7: stop etcd and remove its data dir\.\ndone\n$/);
});
