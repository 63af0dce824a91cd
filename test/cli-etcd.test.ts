/**
 * The real `tessera` CLI process (via tsx) against a real etcd from startEtcd: datastore selection
 * (flag, env, context), the all-or-nothing multi-document apply, and the narrated demo.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdHandle } from '../src/lab/etcd.js';
import { run } from '../src/lib/exec.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

describe('tessera CLI against etcd', () => {
  let etcd: EtcdHandle;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    etcd = await startEtcd({ name: 'tessera-cli-test' });
    dir = mkdtempSync(join(tmpdir(), 'tessera-cli-etcd-'));
    // An empty CLI config, so nothing on this machine leaks into the tests.
    env = { PATH: process.env['PATH'], HOME: dir, TESSERA_CONFIG: join(dir, 'config.json') };
  });
  after(async () => {
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tessera = (args: string[], extraEnv: NodeJS.ProcessEnv = {}, input?: string) =>
    run(['node', '--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { ...env, ...extraEnv },
      check: false,
      timeoutMs: 60_000,
      ...(input === undefined ? {} : { input }),
    });
  const ep = () => etcd.endpoints.join(',');

  test('apply the demo manifests, read them back as table and yaml', async () => {
    const r = await tessera(['--etcd-endpoints', ep(), 'apply', '-f', join(ROOT, 'examples', 'demo')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Successfully applied 6 resource(s)\n');
    const pools = await tessera(['--etcd-endpoints', ep(), 'get', 'ippools']);
    assert.equal(pools.code, 0, pools.stderr);
    assert.match(pools.stdout, /^NAME\s+CIDR\s+SELECTOR\ndemo-pool\s+10\.245\.0\.0\/16\s+all\(\)\n$/);
    const gnp = await tessera(['--etcd-endpoints', ep(), 'get', 'gnp', 'security.deny-metadata', '-o', 'yaml']);
    assert.equal(gnp.code, 0, gnp.stderr);
    assert.match(gnp.stdout, /kind: GlobalNetworkPolicy/);
    assert.match(gnp.stdout, /tier: security/);
    const knp = await tessera(['--etcd-endpoints', ep(), 'get', 'knp', '-n', 'shop', '-o', 'name']);
    assert.equal(knp.stdout, 'kubernetesnetworkpolicy/default-deny-ingress\n');
  });

  test('an invalid document in a batch writes nothing to etcd (exit 1, field paths, no stack)', async () => {
    const before = await tessera(['--etcd-endpoints', ep(), 'get', 'ippools', '-o', 'json']);
    const r = await tessera([
      '--etcd-endpoints',
      ep(),
      'apply',
      '-f',
      join(ROOT, 'examples', 'invalid', 'broken-batch.yaml'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec\.ingress\[0\]\.action/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const afterPools = await tessera(['--etcd-endpoints', ep(), 'get', 'ippools', '-o', 'json']);
    assert.equal(afterPools.stdout, before.stdout);
    assert.doesNotMatch(afterPools.stdout, /second-pool/);
  });

  test('endpoints from TESSERA_ETCD_ENDPOINTS and from the current context', async () => {
    const viaEnv = await tessera(['get', 'tier', 'security', '-o', 'name'], { TESSERA_ETCD_ENDPOINTS: ep() });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout, 'tier/security\n');
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        currentContext: 'other',
        contexts: { lab: { etcdEndpoints: etcd.endpoints }, other: { etcdEndpoints: ['http://127.0.0.1:1'] } },
      }),
    );
    const use = await tessera(['context', 'use', 'lab']);
    assert.equal(use.code, 0, use.stderr);
    const list = await tessera(['context', 'list']);
    assert.match(list.stdout, /^\*\s+lab\s/m);
    const viaCtx = await tessera(['label', 'ns', 'shop', 'env=test']);
    assert.equal(viaCtx.code, 0, viaCtx.stderr);
    assert.equal(viaCtx.stdout, 'namespace/shop labeled\n');
    const cfgFile = join(dir, 'calicoctl.yaml');
    writeFileSync(
      cfgFile,
      `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: ${ep()}\n`,
    );
    const viaFile = await tessera(['--config', cfgFile, 'get', 'ns', 'shop', '-o', 'json']);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(
      (JSON.parse(viaFile.stdout) as { metadata: { labels: Record<string, string> } }).metadata.labels['env'],
      'test',
    );
  });

  test('no datastore anywhere: exit 1 with how to configure one', async () => {
    const r = await tessera(['get', 'ippools'], { TESSERA_CONFIG: join(dir, 'absent.json') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no datastore configured/);
  });

  test('stdin, patch and delete through the binary', async () => {
    const pool =
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: stdin-pool\nspec:\n  cidr: 10.250.0.0/16\n';
    const c = await tessera(['--etcd-endpoints', ep(), 'create', '-f', '-'], {}, pool);
    assert.equal(c.code, 0, c.stderr);
    const again = await tessera(['--etcd-endpoints', ep(), 'create', '-f', '-'], {}, pool);
    assert.equal(again.code, 1);
    const p = await tessera([
      '--etcd-endpoints',
      ep(),
      'patch',
      'ippool',
      'stdin-pool',
      '-p',
      '{"spec":{"disabled":true}}',
    ]);
    assert.equal(p.code, 0, p.stderr);
    const g = await tessera(['--etcd-endpoints', ep(), 'get', 'ippool', 'stdin-pool', '-o', 'json']);
    assert.equal((JSON.parse(g.stdout) as { spec: { disabled: boolean } }).spec.disabled, true);
    // cidr and blockSize are fixed once the pool exists: patch and apply say so and write nothing.
    const widen = await tessera([
      '--etcd-endpoints',
      ep(),
      'patch',
      'ippool',
      'stdin-pool',
      '-p',
      '{"spec":{"cidr":"10.250.0.0/15"}}',
    ]);
    assert.equal(widen.code, 1, widen.stdout);
    assert.match(widen.stderr, /spec\.cidr: cannot change from "10\.250\.0\.0\/16" to "10\.250\.0\.0\/15"/);
    const reblock = await tessera(['--etcd-endpoints', ep(), 'apply', '-f', '-'], {}, `${pool}  blockSize: 28\n`);
    assert.equal(reblock.code, 1, reblock.stdout);
    assert.match(reblock.stderr, /spec\.blockSize: cannot change from 26 to 28/);
    const after = JSON.parse(
      (await tessera(['--etcd-endpoints', ep(), 'get', 'ippool', 'stdin-pool', '-o', 'json'])).stdout,
    ) as { spec: Record<string, unknown> };
    assert.deepEqual(
      [after.spec.cidr, after.spec.blockSize, after.spec.disabled],
      ['10.250.0.0/16', 26, true],
      'nothing was written',
    );
    const d = await tessera(['--etcd-endpoints', ep(), 'delete', 'ippool', 'stdin-pool']);
    assert.equal(d.code, 0, d.stderr);
    const gone = await tessera(['--etcd-endpoints', ep(), 'get', 'ippool', 'stdin-pool']);
    assert.equal(gone.code, 1);
  });

  test('version reports the client and that the cluster answered', async () => {
    const r = await tessera(['--etcd-endpoints', ep(), 'version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Client Version:\s+v0\.1\.0/);
    assert.doesNotMatch(r.stdout, /unavailable/);
  });

  test('tessera demo datastore runs its narrated steps and stops its etcd', async () => {
    const r = await tessera(['demo', 'datastore']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const step of ['Step 1', 'Step 2', 'Step 3', 'Step 4', 'Step 5', 'Step 7'])
      assert.ok(r.stdout.includes(`# ${step}`), step);
    assert.match(r.stdout, /Successfully applied 6 resource\(s\)/);
    assert.match(r.stdout, /nothing was written\n.*spec\.ingress\[0\]\.action/s);
    assert.match(r.stdout, /\(exit code 1\)/);
    assert.match(r.stdout, /\$ tessera patch ippool demo-pool -p '\{"spec":\{"natOutgoing":false\}\}'/);
    assert.match(r.stdout, /done\n$/);
  });
});
