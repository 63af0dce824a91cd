/** The status reporter: status.json and the `ready` marker follow the loop's state; conditions only while running. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentMetrics } from './health.js';
import { StatusReporter, type AgentStatus } from './status.js';

test('status reporter: status.json, ready marker, published conditions', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tessera-status-')), 'state');
  t.after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  let ready = false;
  const published: AgentStatus[] = [];
  const status = (): AgentStatus => ({
    node: 'n1',
    address: '192.168.1.10/24',
    live: true,
    ready,
    inSync: ready,
    ipipSupported: false,
    problems: [],
    lastApplyError: null,
  });
  const r = new StatusReporter({
    stateDir: dir,
    metrics: new AgentMetrics(),
    live: () => true,
    ready: () => ready,
    status,
    publish: async (s) => void published.push(s),
  });
  await r.prepare();
  await r.serve(); // no healthListen: nothing to start
  await r.write(true);
  assert.equal(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).ready, false);
  assert.equal(existsSync(join(dir, 'ready')), false);
  ready = true;
  await Promise.all([r.write(true), r.write(true)]); // queued; the second is unchanged and skipped
  assert.equal(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).ready, true);
  assert.equal(existsSync(join(dir, 'ready')), true);
  assert.deepEqual(
    published.map((s) => s.ready),
    [false, true],
  );
  await r.stop(); // not running: not ready, marker gone, no conditions published
  assert.equal(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).ready, false);
  assert.equal(existsSync(join(dir, 'ready')), false);
  assert.equal(published.length, 2);
});
