/**
 * tessera-node's command line: bad flags and environment get one clear line and exit 2 before
 * anything is touched (needs `make build`). The agent's behaviour is covered by the lab tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from '../src/lib/exec.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera-node');
// An endpoint nothing listens on: a run that got past argument checks would retry forever.
const ETCD = ['--etcd-endpoints', 'http://127.0.0.1:9'];

async function agent(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TESSERA_')));
  return run([BIN, ...args], { env: { ...clean, ...env }, check: false, timeoutMs: 20_000 });
}

test('missing --node-name or --etcd-endpoints: exit 2 naming the flag and its variable', async () => {
  const a = await agent(ETCD);
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /--node-name \(or TESSERA_NODE_NAME\) is required/);
  const b = await agent(['--node-name', 'n1']);
  assert.equal(b.code, 2, b.stderr);
  assert.match(b.stderr, /--etcd-endpoints \(or TESSERA_ETCD_ENDPOINTS\) is required/);
});

test('resync interval: flag and TESSERA_RESYNC_INTERVAL_MS must be whole milliseconds >= 1000', async () => {
  for (const v of ['5', 'abc', '1500.5', '-1']) {
    const a = await agent(['--node-name', 'n1', ...ETCD, '--resync-interval-ms', v]);
    assert.equal(a.code, 2, `--resync-interval-ms ${v}: ${a.stderr}`);
    assert.match(a.stderr, /--resync-interval-ms.*expected whole milliseconds >= 1000/);
    const b = await agent(['--node-name', 'n1', ...ETCD], { TESSERA_RESYNC_INTERVAL_MS: v });
    assert.equal(b.code, 2, `TESSERA_RESYNC_INTERVAL_MS=${v}: ${b.stderr}`);
    assert.match(
      b.stderr,
      new RegExp(`TESSERA_RESYNC_INTERVAL_MS: expected whole milliseconds >= 1000, got "${v.replace('.', '\\.')}"`),
    );
  }
});

test('unknown routing mode: exit 2', async () => {
  const a = await agent(['--node-name', 'n1', ...ETCD, '--routing', 'ospf']);
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /expected "agent" or "bgp"/);
});
